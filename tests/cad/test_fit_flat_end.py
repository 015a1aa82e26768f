"""Glyph strings at 512 px: the fit stays close to the trace everywhere. A stem's short flat end between two
corners that potrace rounded (no join of the trace turns sharply there) stays flat: it does not become a
cubic leaving along the stem's sides, which bulged 1.5 px past the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw

import tracer
from cad.regions import to_regions
from cad.vector.art import art_regions
from cad.vector.text import text_art

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
SS = 8


def _render(geom, path: Path, size: int = 512, margin: float = 0.06 * 512) -> None:
    """``geom`` (y up) black on white, ``size`` px on its long side inside ``margin``, by area coverage."""
    x0, y0, x1, y1 = geom.bounds
    s = (size - 2 * margin) / max(x1 - x0, y1 - y0)
    w, h = int(round((x1 - x0) * s + 2 * margin)), int(round((y1 - y0) * s + 2 * margin))
    img = Image.new("L", (w * SS, h * SS), 0)
    draw = ImageDraw.Draw(img)
    for poly in geom.geoms:
        for k, ring in enumerate([poly.exterior, *poly.interiors]):
            draw.polygon([((x - x0) * s * SS + margin * SS, (y1 - y) * s * SS + margin * SS) for x, y in ring.coords],
                         fill=0 if k else 255)
    cover = np.asarray(img, np.float64).reshape(h, SS, w, SS).mean(axis=(1, 3)) / 255.0
    Image.fromarray(np.round(255 * (1 - cover)).astype(np.uint8), "L").save(path)


@pytest.mark.skipif(not FONT.is_file(), reason="DejaVu Sans Mono is not installed")
def test_glyph_string_fit_moves_no_stretch_of_outline(tmp_path):
    path = tmp_path / "text.png"
    _render(art_regions(text_art("{[#@&%]}", font=str(FONT)), width_mm=50).geometry, path)
    outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
    traced = to_regions(outlines, px_mm=1.0, fit_tolerance_mm=0).geometry
    fitted = to_regions(outlines, px_mm=1.0).geometry
    parts = shapely.get_parts(shapely.symmetric_difference(traced, fitted))
    # each piece between fit and trace, over the length of outline it spans: how far the fit moved it there
    moved = shapely.area(parts) / np.maximum(0.5 * shapely.length(parts), 1.0)
    assert moved.max() <= 0.5
