"""``python -m hfdl.config``: print the configuration reference generated from the schema.

Regenerate the committed reference with
``uv run python -m hfdl.config > docs/configuration.md``.
"""

from hfdl.config.docs import render_reference_markdown

print(render_reference_markdown(), end="")
