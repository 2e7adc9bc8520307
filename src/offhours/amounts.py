"""Money and hours as the JSON documents show them: rounded, so that a price of 1.05 reads
``1.05`` and not ``1.0499999999999998`` (the sum of float prices), and 40 h 50 min reads
``40.83``. Only the values change, never a document's shape or version.

Money keeps 4 decimals (a cent of a cent: hourly prices of small instances differ there), hours
2 (under a minute). A key whose name ends in ``hours`` holds hours; every other float is money
or a ratio, and gets 4 decimals.
"""

from __future__ import annotations

__all__ = ["HOURS_DECIMALS", "MONEY_DECIMALS", "hours", "money", "rounded"]

MONEY_DECIMALS = 4
HOURS_DECIMALS = 2


def money(value: float | None) -> float | None:
    return None if value is None else round(value, MONEY_DECIMALS)


def hours(value: float | None) -> float | None:
    return None if value is None else round(value, HOURS_DECIMALS)


def rounded(document: object, key: str = "") -> object:
    """``document`` (dicts, lists, scalars) with every float rounded by its key's name."""
    if isinstance(document, float):
        return round(document, HOURS_DECIMALS if key.endswith("hours") else MONEY_DECIMALS)
    if isinstance(document, dict):
        return {k: rounded(v, str(k)) for k, v in document.items()}
    if isinstance(document, list | tuple):
        return [rounded(v, key) for v in document]
    return document
