"""Which values may be written into a systemd unit file: the one rule, shared.

Unit files are line-oriented: a value containing a newline would add a directive of its own
choosing, ``=`` splits a directive, and a trailing backslash continues onto the next line.
:mod:`hfdl.systemd.units` refuses such values while rendering (the last line of defence);
configuration validation (:mod:`hfdl.config.validation`) refuses them earlier, with the same
rule, when a path is set or a file is validated. This module imports nothing of hfdl, so the
configuration need not import the systemd layer.
"""

from __future__ import annotations

import unicodedata

# Characters that must never reach a unit file from a value: control characters (Cc, which
# includes \n, \r, \t, NUL and NEL), invisible format characters (Cf: bidi overrides,
# zero-width joiners), surrogates (Cs) and Unicode line/paragraph separators (Zl, Zp).
REFUSED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def unsafe_value_problem(value: object) -> str | None:
    """Say why a value may not appear in a unit file, or return ``None`` when it may.

    Args:
        value: any value; its ``str()`` is checked.

    Returns:
        ``None`` for a safe value, else what is wrong with it, quoting it: control characters
        (newline, carriage return, tab, NUL...), invisible Unicode format characters and
        line/paragraph separators, ``=``, and a trailing backslash (systemd's line
        continuation) are refused.
    """
    text = str(value)
    for character in text:
        if unicodedata.category(character) in REFUSED_CATEGORIES:
            return f"{text!r} contains the control character U+{ord(character):04X}"
    if "=" in text:
        return f"{text!r} contains '='"
    if text.endswith("\\"):
        return f"{text!r} ends with a backslash (it would continue onto the next line)"
    return None
