"""How numbers look to a person: shortest form that keeps 12 significant digits (44, 44.004, 1e-06)."""

from __future__ import annotations


def fmt(x: float) -> str:
    """Format a number for tables and messages; -0 prints as 0 and whole numbers without a point."""
    if x == 0:
        return "0"
    text = f"{x:.12g}"
    return text.replace("e+", "e")
