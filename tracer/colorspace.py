"""Colour notation and colour space: ``'#RRGGBB'`` to and from RGB, and sRGB to CIE Lab."""

from __future__ import annotations

import numpy as np

from tracer.errors import InvalidInputError
from tracer.opencv import load_cv2

__all__ = ["parse_color", "hex_color", "to_lab"]


def parse_color(text: str) -> tuple[float, float, float]:
    """``'#RRGGBB'`` (or ``'RRGGBB'``, ``'#RGB'``) -> RGB in 0..1."""
    s = text.strip().lstrip("#")
    if len(s) == 3:
        s = "".join(ch * 2 for ch in s)
    if len(s) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in s):
        raise InvalidInputError(f"--color must be '#RRGGBB', got {text!r}")
    return tuple(int(s[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def hex_color(rgb: np.ndarray | tuple[float, float, float]) -> str:
    """RGB in 0..1 -> ``'#rrggbb'``."""
    c = np.clip(np.round(np.asarray(rgb, dtype=np.float64) * 255.0), 0, 255).astype(int)
    r, g, b = (int(v) for v in c)
    return f"#{r:02x}{g:02x}{b:02x}"


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (..., 3) -> CIE Lab (L 0..100), float32 (OpenCV converts each pixel alone: the values
    do not depend on the array's shape)."""
    cv2 = load_cv2()
    a = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3))
    return cv2.cvtColor(a, cv2.COLOR_RGB2Lab).reshape(np.shape(rgb))
