"""``python -m hfdl`` runs the CLI."""

from hfdl.cli import main

main()
