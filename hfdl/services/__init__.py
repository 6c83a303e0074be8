"""Use cases: what hfdl does (run, plan, schedule...), between the CLI and store/hub/systemd."""
