"""hfdl's benchmark against `hf download` and curl (issue #5): ``uv run python -m bench``.

See docs/performance.md for the latest results and how to read them.
"""
