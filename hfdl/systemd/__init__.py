"""hfdl and systemd: unit names and rendering (:mod:`~hfdl.systemd.units`), installing the
unit files (:mod:`~hfdl.systemd.install`), every rendering of a schedule's time
(:mod:`~hfdl.systemd.calendar`), and talking to the service manager
(:mod:`~hfdl.systemd.manager`: ``Scope``, ``Systemctl``, timer states).

Nothing is imported here, so that importing one module of the package stays as cheap as
that module: ``hfdl schedule list`` must not pay for Jinja or D-Bus.
"""
