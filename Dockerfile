# Gate Explorer in a container: the app on port 8501 (one worker; compose.yaml runs several behind nginx).
FROM python:3.11-slim
WORKDIR /app
COPY . /app
# torch first, from the CPU index, so pip does not pull several GB of CUDA wheels.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir ".[app]"
EXPOSE 8501
CMD ["gate-explorer", "--server.headless", "true", "--server.address", "0.0.0.0", "--server.port", "8501"]
