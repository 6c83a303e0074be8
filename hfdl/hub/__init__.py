"""The Hub side of hfdl: API calls, the HF cache layout and verified, resumable transfers.

``hfdl.hub.cache`` is import-light (no ``huggingface_hub``); ``client`` and ``transfer`` import
the library and are loaded only by commands that talk to the Hub.
"""
