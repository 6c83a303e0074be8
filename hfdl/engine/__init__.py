"""The download engine behind ``hfdl run``: select, plan, download, retry, lock, events, notify.

Used by the use cases in :mod:`hfdl.services` (``run``, ``models verify --repair``, ``stop``),
never by the CLI directly. Empty on purpose: importing a module of the engine loads only that
module (``hfdl models list`` must not pay for the Hub client).
"""
