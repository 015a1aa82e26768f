"""OpenCV, imported when a function first needs it (``import cv2`` costs start-up time the CLI's
``--help`` and a mesh-only run need not pay)."""

from __future__ import annotations

from types import ModuleType

__all__ = ["load_cv2"]


def load_cv2() -> ModuleType:
    """The ``cv2`` module (imported on the first call; later calls find it in ``sys.modules``)."""
    import cv2

    return cv2
