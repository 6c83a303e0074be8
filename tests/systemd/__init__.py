"""systemd tier: a real private systemd user manager and journald (see tests/systemd_harness.py)."""
