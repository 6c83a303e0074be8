"""Logging: set-up of hfdl's loggers (``setup``), the journald protocol (``journald``), reading
the journal or the log file back for ``hfdl logs`` (``reader``) and time specs (``timespec``)."""
