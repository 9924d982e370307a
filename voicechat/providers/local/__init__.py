"""Offline engines: speech-to-text and text-to-speech running on this machine, with models that come inside
PyPI packages (nothing is downloaded at run time)."""
