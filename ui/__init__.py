"""Streamlit pieces of the page. The only package besides app.py that imports streamlit."""
