"""End-to-end tier: real hfdl processes, the local Hub server, real SQLite files, the CLI."""
