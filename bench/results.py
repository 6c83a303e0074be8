"""What a scenario produced: rows (one per contender), checks against the issue's targets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Check:
    """One target of the issue, and what this run measured."""

    name: str
    target: str
    measured: str
    met: bool | None  # None: not measurable in this run (e.g. a command that does not exist)
    why: str = ""


@dataclass
class Scenario:
    """One scenario's table and checks."""

    id: str
    title: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Contenders whose throughput is compared (first against each other); default: all rated.
    compare: list[str] = field(default_factory=list)

    def row(self, contender: str, summary: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """Add the row of a contender (its summary plus extra fields) and return it."""
        row = {"contender": contender, **summary, **extra}
        self.rows.append(row)
        return row

    def check(self, name: str, target: str, measured: str, met: bool | None, why: str = "") -> None:
        """Record whether a target was met."""
        self.checks.append(Check(name, target, measured, met, why))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "id": self.id,
            "title": self.title,
            "rows": self.rows,
            "checks": [asdict(check) for check in self.checks],
            "notes": self.notes,
        }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or zero."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def fmt_ratio(value: float | None) -> str:
    """``1.23x`` or ``n/a``."""
    return "n/a" if value is None else f"{value:.2f}x"
