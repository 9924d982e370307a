"""Streamlit glue shared by the pages: settings, cached resources, the current user, typed session state."""
