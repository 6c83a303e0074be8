"""The Hub side of hfdl: API calls, the HF cache layout and verified, resumable transfers.

Import-light (no ``huggingface_hub``, no HTTP stack): ``cache`` (the HF cache layout),
``remote`` (what the Hub says a revision holds), ``hashing`` and ``writeback``. ``client``,
``transfer`` and ``body`` import the library and are loaded only when a command talks to the
Hub: ``transfer`` fetches one blob, ``body`` streams a response into its partial file.
"""
