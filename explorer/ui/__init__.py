"""The Streamlit UI: one module per tab plus shared state and widgets. The only streamlit importer."""
