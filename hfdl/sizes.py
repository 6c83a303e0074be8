"""Parse and format byte sizes such as ``"1.6GB"`` or ``"512 MiB"``.

Units follow the SI/IEC convention, so a size means the same thing everywhere in hfdl:

* decimal (SI) units are powers of 1000: ``KB`` = 10**3, ``MB`` = 10**6, ``GB`` = 10**9,
  ``TB`` = 10**12, ``PB`` = 10**15 bytes. The Hub's web pages show sizes this way, so a
  ``size_estimate`` copied from a model page means what it says.
* binary (IEC) units are powers of 1024: ``KiB`` = 2**10, ``MiB`` = 2**20, ``GiB`` = 2**30,
  ``TiB`` = 2**40, ``PiB`` = 2**50 bytes.
* ``B`` (or no unit at all) is bytes.

Unit letters are case-insensitive (``1.6gb`` is ``1.6GB``); a space between number and unit
is allowed. :func:`format_size` always prints binary units (``"1.5 GiB"``), whose meaning is
unambiguous, the way ``du -h`` and ``df -h`` do.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

_UNIT_FACTORS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}

_SIZE_PATTERN = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[A-Za-z]*)\s*$")

_FORMAT_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")

EXAMPLE_SIZES = '"1.6GB", "440MB", "512MiB" or "12B"'


def parse_size(text: str) -> int:
    """Parse a human size string into a number of bytes.

    Args:
        text: a non-negative number followed by an optional unit, for example ``"1.6GB"``,
            ``"440MB"``, ``"1024KB"``, ``"2 GiB"``, ``"12B"`` or ``"12"``. Decimal units
            (KB, MB, GB, TB, PB) are powers of 1000, binary units (KiB ... PiB) powers
            of 1024; see the module docstring.

    Returns:
        The size in bytes, rounded to the nearest whole byte.

    Raises:
        ValueError: ``text`` is not a string, is negative, has an unknown unit, or gives a
            fraction of a byte with the unit ``B``. The message says which and shows
            valid examples.
    """
    if not isinstance(text, str):
        raise ValueError(f"size must be a string like {EXAMPLE_SIZES}, not {type(text).__name__}")
    match = _SIZE_PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"invalid size {text!r}: expected a number and a unit, like {EXAMPLE_SIZES}"
        )
    unit = match["unit"].lower()
    factor = _UNIT_FACTORS.get(unit)
    if factor is None:
        known = "B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB"
        raise ValueError(
            f"invalid size {text!r}: unknown unit {match['unit']!r} (use one of {known})"
        )
    number = Decimal(match["number"])
    if factor == 1 and number != number.to_integral_value():
        raise ValueError(f"invalid size {text!r}: a byte count must be a whole number")
    # Decimal keeps "1.6GB" exactly 1_600_000_000; binary floats would give 1599999999.99...
    return int((number * factor).to_integral_value(rounding=ROUND_HALF_UP))


def format_size(size_bytes: int) -> str:
    """Format a byte count for people, in binary units.

    Args:
        size_bytes: a non-negative number of bytes.

    Returns:
        ``"0 B"`` ... ``"1023 B"`` for small sizes, otherwise one decimal place and an IEC
        unit: ``"1.0 KiB"``, ``"1.5 GiB"``, ``"2.0 TiB"``.

    Raises:
        ValueError: ``size_bytes`` is negative.
    """
    if size_bytes < 0:
        raise ValueError(f"size must not be negative: {size_bytes}")
    if size_bytes < 1024:
        return f"{size_bytes} B"
    value = float(size_bytes)
    unit_index = -1
    # Step up while the value, rounded the way it will be printed, would show 1024.0 or more,
    # so that 1048575 bytes prints as "1.0 MiB" and never as "1024.0 KiB".
    while unit_index < len(_FORMAT_UNITS) - 1 and round(value, 1) >= 1024:
        value /= 1024
        unit_index += 1
    return f"{value:.1f} {_FORMAT_UNITS[unit_index]}"
