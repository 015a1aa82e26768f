"""``--debug-dir``: write the isolation mask and an overlay of the traced outline on the input.

Files written into ``DIR`` for an input with stem ``NAME``:

* ``NAME.mask.png``: the binary mask potrace traced (working raster; white = subject);
* ``NAME.overlay.png``: the input image (greyed) with the traced outlines drawn on it,
  outer outlines in red and holes in blue, at least 1024 px wide so sub-pixel
  detail is visible;
* with ``--colors``, ``NAME.labels.png``: the colour partition, each working pixel in its
  palette colour and the background in dark grey (:func:`write_labels`);
* in ``--mode relief|lithophane``, ``NAME.heights.png``: the height field on its grid as a
  16-bit grey image, lowest black, highest white (:func:`write_heights`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tracer.opencv import load_cv2
from tracer.types import Image, Mask, Outlines

__all__ = ["write_debug", "overlay_picture", "write_labels", "write_heights", "outline_points", "write_or_warn"]

#: The overlay is drawn at least this wide (small images are enlarged).
OVERLAY_MIN_PX = 1024
_SAMPLES = 8  # points per Bézier segment


def outline_points(ctrl: np.ndarray) -> np.ndarray:
    """``(n, 4, 2)`` cubic control points -> ``(n * 8, 2)`` points along the closed outline."""
    t = (np.arange(_SAMPLES) / _SAMPLES)[:, None]
    b = np.stack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3], axis=1)  # (s, 4, 1)
    pts = np.einsum("sk,nkd->nsd", b[..., 0], ctrl)
    return pts.reshape(-1, 2)


def write_debug(out_dir: str | os.PathLike[str], stem: str, image: Image, mask: Mask,
                outlines: Outlines | None) -> dict[str, Path]:
    """Write ``stem.mask.png`` and ``stem.overlay.png`` into ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"mask": out / f"{stem}.mask.png", "overlay": out / f"{stem}.overlay.png"}
    _write_png(paths["mask"], (mask.pixels.astype(np.uint8) * 255))
    _write_png(paths["overlay"], overlay_picture(image, outlines))
    return paths


def overlay_picture(image: Image, outlines: Outlines | None) -> np.ndarray:
    """The overlay of ``NAME.overlay.png`` as an RGB ``uint8`` array: the input greyed, outer outlines in
    red and holes in blue, enlarged to at least :data:`OVERLAY_MIN_PX` wide."""
    cv2 = load_cv2()

    lum = image.luminance()  # (no float32 RGB copy of a big image)
    if image.alpha is not None:  # transparent areas on a checker-free light grey
        lum = lum * image.alpha + 0.85 * (1.0 - image.alpha)
    grey = 0.35 + 0.65 * lum
    h, w = grey.shape
    f = max(1, int(np.ceil(OVERLAY_MIN_PX / max(w, 1)))) if w < OVERLAY_MIN_PX else 1
    base = np.clip(grey * 255 + 0.5, 0, 255).astype(np.uint8)
    if f > 1:
        base = cv2.resize(base, (w * f, h * f), interpolation=cv2.INTER_NEAREST)
    canvas = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
    if outlines is not None:
        shift = 4  # sub-pixel drawing: coordinates in 1/16 px
        # outline coordinates are in source pixels; the loaded image may be reduced by image.scale
        k = f / image.scale * (1 << shift)
        for c in outlines.contours:
            pts = np.rint(outline_points(c.ctrl) * k).astype(np.int32).reshape(-1, 1, 2)
            colour = (255, 80, 0) if c.is_hole else (0, 0, 255)
            cv2.polylines(canvas, [pts], True, colour, 1, cv2.LINE_AA, shift)
    return np.ascontiguousarray(canvas[..., ::-1])


#: Background pixels of the labels picture (no palette colour is this dark grey by chance often).
LABELS_BACKGROUND = (48, 48, 48)


def write_labels(out_dir: str | os.PathLike[str], stem: str, labels: np.ndarray, palette_rgb: np.ndarray,
                 background: int) -> Path:
    """Write ``stem.labels.png``: ``labels`` (working raster of palette indices, ``background`` for
    none) in the palette's colours (``palette_rgb`` 0..1)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lut = np.zeros((len(palette_rgb) + 1, 3), np.uint8)
    lut[:-1] = np.clip(np.rint(np.asarray(palette_rgb, np.float64) * 255.0), 0, 255)
    lut[-1] = LABELS_BACKGROUND
    idx = np.where(labels == background, len(palette_rgb), labels).astype(np.intp)
    path = out / f"{stem}.labels.png"
    _write_png(path, lut[idx])
    return path


def write_heights(out_dir: str | os.PathLike[str], stem: str, z: np.ndarray) -> Path:
    """Write ``stem.heights.png``: the node heights ``z`` (mm, row 0 at the top of the part) as 16-bit grey."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lo, hi = float(np.min(z)), float(np.max(z))
    scaled = (np.asarray(z, np.float64) - lo) / (hi - lo) if hi > lo else np.zeros(np.shape(z))
    path = out / f"{stem}.heights.png"
    _write_png(path, np.rint(scaled * 65535.0).astype(np.uint16))
    return path


def write_or_warn(out_dir: str | os.PathLike[str], write: Callable[[], object]) -> str | None:
    """Run ``write()`` (it writes debug images into ``out_dir``): a failure costs a warning, not the
    conversion. Returns that warning's sentence, or None."""
    try:
        write()
    except OSError as exc:
        return f"could not write the debug images to {out_dir} ({exc})"
    return None



def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image as PILImage

    tmp = path.with_name(f".{path.name}.tmp")
    PILImage.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")
    os.replace(tmp, path)
