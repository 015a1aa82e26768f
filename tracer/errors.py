"""Exceptions and warnings raised by tracecad (``tracer`` and ``cad`` share them).

Every error tracecad raises on purpose derives from :class:`TracecadError`, so a
caller (or the CLI) can catch one root. Foreign errors (Pillow, OpenCV, OCCT)
are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "TracecadError",
    "InvalidInputError",
    "ImageReadError",
    "ImageTooLargeError",
    "EmptyMaskError",
    "TooComplexError",
    "TraceError",
    "GeometryError",
    "SolidError",
    "ExportError",
    "TracecadWarning",
]


class TracecadError(Exception):
    """Root of all errors raised by tracecad."""


class InvalidInputError(TracecadError, ValueError):
    """An argument or an input image is not usable."""


class ImageReadError(InvalidInputError):
    """An image file could not be read or decoded."""


class ImageTooLargeError(InvalidInputError):
    """An image exceeds the pixel limit (a decompression bomb, or simply too big)."""


class EmptyMaskError(InvalidInputError):
    """Isolation found no subject to trace."""


class TooComplexError(TracecadError):
    """The traced outline exceeds the complexity budget (curve segments)."""


class TraceError(TracecadError):
    """potrace failed."""


class GeometryError(TracecadError):
    """Cleaning the outlines produced empty or invalid regions."""


class SolidError(TracecadError):
    """OpenCASCADE could not build a valid solid."""


class ExportError(TracecadError):
    """A file could not be written, or failed its check after writing."""


class TracecadWarning(UserWarning):
    """Lossy but legal: dropped specks, repaired rings, fallbacks."""
