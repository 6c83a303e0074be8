"""hfdl and systemd: unit rendering (:mod:`~hfdl.systemd.units`), calendar expressions
(:mod:`~hfdl.systemd.calendar`), and talking to the service manager (``manager``, ``scope``).

Nothing is imported here, so that importing one module of the package stays as cheap as
that module: ``hfdl schedule list`` must not pay for Jinja or D-Bus.
"""
