"""voicechat: a self-hosted ChatGPT you can talk to (the plain-Python library under the Streamlit app)."""
