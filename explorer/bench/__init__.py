"""Benchmarks, on top of everything: each prints ratios against a baseline measured in the same run.

    __main__.py  python -m explorer.bench [SECTION ...]; --help lists the sections
    library.py   trace(), scan_long(), gradient_flow(), the Trainer and CUDA against stock PyTorch
    page.py      the served page in Chromium against a bare Streamlit page; the long upload
    browser.py   a served app on a free port and Debian's Chromium through Playwright (also the tests')
    classroom.py a class opening one link at once (ui/protocol.py's sessions), against a bare page; 1 worker
                 against 2

Imports: anything below (explorer.core … explorer.training); never imported by them. Starts the
app as a server (explorer/ui), never imports streamlit itself.
"""
