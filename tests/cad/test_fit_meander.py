"""A clean render's trace still follows the staircase of the working raster: it is smoothed over two working
pixels before the fit, so a large render's straight sides and rounded corners come out as lines and arcs,
without losing fidelity to the drawn shape."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw

import tracer
from cad.regions import to_regions
from shapes import iou_at_width
from tracer.trace import CLEAN_MEANDER, edge_noise_px

SIZE = 2048


def _polygon(n: int, turn: float = 0.1) -> shapely.Polygon:
    t = turn + 2 * math.pi * np.arange(n) / n
    return shapely.Polygon(np.column_stack([256 + 200 * np.cos(t), 256 + 200 * np.sin(t)]))


#: name -> (the drawn shape on a 512-unit canvas, y down; its straight sides, its corner arcs)
SHAPES = {
    "hexagon": (_polygon(6), 6, 0),
    "octagon": (_polygon(8, 0.3), 8, 0),
    "rounded square": (shapely.box(116, 136, 396, 376).buffer(40, quad_segs=64), 4, 4),
}


def _render(shape: shapely.Polygon, path, ss: int = 4) -> None:
    img = Image.new("L", (SIZE * ss, SIZE * ss), 255)
    k = SIZE * ss / 512
    ImageDraw.Draw(img).polygon([(x * k, y * k) for x, y in shape.exterior.coords], fill=0)
    img.resize((SIZE, SIZE), Image.BOX).save(path)


def test_clean_meander_is_two_working_pixels():
    assert edge_noise_px({"noise_sigma": 0.0, "dead_zone": 0.01}, 0.5) == CLEAN_MEANDER * 0.5
    assert edge_noise_px({"dead_zone": 0.1}, 0.5) >= 0.75  # a compressed image keeps its own, larger, length


@pytest.mark.parametrize("name", list(SHAPES))
def test_large_render_fits_as_drawn(tmp_path, name):
    shape, sides, arcs = SHAPES[name]
    path = tmp_path / "shape.png"
    _render(shape, path)
    outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
    assert outlines.info["noise_px"] > 0 and outlines.info["noisy"] is False  # a staircase, not noise
    traced = to_regions(outlines, width_mm=50.0, fit_tolerance_mm=0)
    fitted = to_regions(outlines, width_mm=50.0)
    kinds = fitted.segment_kinds()
    assert kinds["lines"] == sides and kinds["beziers"] == 0, kinds
    # a quarter turn of 160 px radius traced on 2 sub-pixels a pixel: potrace's own curves stray from the
    # circle by about a tolerance, so a corner takes up to three arcs
    assert arcs <= kinds["arcs"] <= 3 * arcs, kinds
    assert iou_at_width(fitted.geometry, shape) >= iou_at_width(traced.geometry, shape) - 2e-4
