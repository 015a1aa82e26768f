"""argparse types shared by the option groups: each returns the value or raises argparse's usage error."""

from __future__ import annotations

import argparse
import math

__all__ = ["number", "positive", "nonneg", "xy", "colour_count"]


def number(text: str, *, zero_ok: bool) -> float:
    """A finite number above 0 (or from 0, with ``zero_ok``), else argparse's usage error."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not ((v >= 0 if zero_ok else v > 0) and math.isfinite(v)):
        want = "a number >= 0" if zero_ok else "a positive number"
        raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
    return v


def positive(text: str) -> float:
    return number(text, zero_ok=False)


def nonneg(text: str) -> float:
    return number(text, zero_ok=True)


def xy(text: str) -> tuple[float, float]:
    try:
        x, y = (float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y in mm, got {text!r}") from None
    return x, y


def colour_count(text: str):
    t = text.strip().lower()
    if t == "auto":
        return "auto"
    try:
        n = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of colours or 'auto', got {text!r}") from None
    if not 1 <= n <= 24:
        raise argparse.ArgumentTypeError(f"--colors must be from 1 to 24 or 'auto', got {text!r}")
    return n
