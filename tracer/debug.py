"""``--debug-dir``: write the isolation mask and an overlay of the traced outline on the input.

Files written into ``DIR`` for an input with stem ``NAME``:

* ``NAME.mask.png``: the binary mask potrace traced (working raster; white = subject);
* ``NAME.overlay.png``: the input image (greyed) with the traced outlines drawn on it,
  outer outlines in red and holes in blue, at least 1024 px wide so sub-pixel
  detail is visible; with ``--crop``, ``--perspective`` or ``--pick``, the whole photo with the
  crop box (yellow), the quadrilateral (green, its first corner ringed), the picked points
  (magenta crosses) and the outlines carried back into the photo;
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
from tracer.photo import Prepared
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
                outlines: Outlines | None, prepared: Prepared | None = None) -> dict[str, Path]:
    """Write ``stem.mask.png`` and ``stem.overlay.png`` into ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"mask": out / f"{stem}.mask.png", "overlay": out / f"{stem}.overlay.png"}
    _write_png(paths["mask"], (mask.pixels.astype(np.uint8) * 255))
    _write_png(paths["overlay"], overlay_picture(image, outlines, prepared))
    return paths


def overlay_picture(image: Image, outlines: Outlines | None, prepared: Prepared | None = None) -> np.ndarray:
    """The overlay of ``NAME.overlay.png`` as an RGB ``uint8`` array: the input greyed, outer outlines in
    red and holes in blue, enlarged to at least :data:`OVERLAY_MIN_PX` wide.

    With a ``prepared`` photo (:func:`tracer.photo.prepare`) the overlay shows the whole photo: the crop
    box in yellow, the quadrilateral in green with its first corner (top-left) ringed, the picked
    points as magenta crosses, and the outlines carried back into the photo."""
    cv2 = load_cv2()
    if prepared is not None and prepared.image is not prepared.photo:
        image = prepared.photo

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
            p = outline_points(c.ctrl)
            if prepared is not None and prepared.image is not prepared.photo:
                p = prepared.to_photo(p) * image.scale  # (the photo's decoded pixels -> its source pixels)
            pts = np.rint(p * k).astype(np.int32).reshape(-1, 1, 2)
            colour = (255, 80, 0) if c.is_hole else (0, 0, 255)
            cv2.polylines(canvas, [pts], True, colour, 1, cv2.LINE_AA, shift)
    if prepared is not None:
        _draw_photo_marks(canvas, prepared, f, image is prepared.photo)
    return np.ascontiguousarray(canvas[..., ::-1])


def _draw_photo_marks(canvas: np.ndarray, prepared: Prepared, f: int, on_photo: bool) -> None:
    """The crop box, the quadrilateral and the picked points (BGR canvas, ``f`` canvas pixels per decoded pixel)."""
    cv2 = load_cv2()
    shift = 4
    k = f * (1 << shift)
    thick = max(1, f // 2 + 1)
    if on_photo:
        x0, y0, x1, y1 = prepared.box
        if (x0, y0, x1, y1) != (0, 0, *prepared.photo.size):
            cv2.rectangle(canvas, (int(x0 * k), int(y0 * k)), (int(x1 * k), int(y1 * k)), (0, 220, 255), thick,
                          cv2.LINE_AA, shift)
        if prepared.corners is not None:
            q = np.rint(prepared.corners * k).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [q], True, (0, 200, 0), thick, cv2.LINE_AA, shift)
            cv2.circle(canvas, tuple(int(v) for v in q[0, 0]), 6 * f * (1 << shift), (0, 200, 0), thick, cv2.LINE_AA, shift)
        pts = [prepared.to_photo(np.array([p])) [0] for p in prepared.picks]
    else:
        pts = [np.array(p) / prepared.image.scale for p in prepared.picks]
    r = 6 * f * (1 << shift)
    for p in pts:
        c = (int(p[0] * k), int(p[1] * k))
        cv2.line(canvas, (c[0] - r, c[1]), (c[0] + r, c[1]), (255, 0, 255), thick, cv2.LINE_AA, shift)
        cv2.line(canvas, (c[0], c[1] - r), (c[0], c[1] + r), (255, 0, 255), thick, cv2.LINE_AA, shift)


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
