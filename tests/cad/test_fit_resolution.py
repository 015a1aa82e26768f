"""The default fit tolerance follows the trace's grain: the same artwork rendered at 512 and at 2048 px gets
about as many segments and does not lose fidelity to the true shape."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw

import tracer
from cad.fit import DEFAULT_FIT_PX, default_fit_px, fit_grain
from cad.regions import to_regions
from shapes import iou_at_width


def _blob(n: int = 720) -> np.ndarray:
    """A smooth shape with convex and concave stretches (no lines, no circles), on a 512-unit canvas."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = 200 * (1 + 0.12 * np.cos(3 * t) + 0.05 * np.sin(5 * t))
    return np.column_stack([256 + r * np.cos(t), 256 + r * np.sin(t)])


def _render(path, size: int, ss: int) -> None:
    img = Image.new("L", (size * ss, size * ss), 255)
    ImageDraw.Draw(img).polygon([tuple(p) for p in _blob() * (size * ss / 512)], fill=0)
    img.resize((size, size), Image.BOX).save(path)


def test_the_grain_and_tolerance_grow_with_the_subject_only():
    assert fit_grain(300) == 1.0 and fit_grain(512) == 1.0
    assert fit_grain(2048) == pytest.approx(4.0)
    assert default_fit_px(1.0) == DEFAULT_FIT_PX
    # slower than the grain: at four times the size, 0.16 of a source pixel, not 0.4
    assert DEFAULT_FIT_PX < default_fit_px(4.0) < 2 * DEFAULT_FIT_PX


def test_a_finer_render_gets_about_as_many_segments_and_keeps_its_fidelity(tmp_path):
    truth = shapely.Polygon(_blob())
    got = {}
    for size, ss in ((512, 8), (2048, 4)):
        path = tmp_path / f"blob{size}.png"
        _render(path, size, ss)
        outlines = tracer.trace(tracer.isolate(tracer.load_image(path)))
        traced = to_regions(outlines, width_mm=50, fit_tolerance_mm=0)
        fitted = to_regions(outlines, width_mm=50)
        got[size] = (fitted.n_segments, iou_at_width(traced.geometry, truth), iou_at_width(fitted.geometry, truth))
    (n512, _, fit512), (n2048, off2048, fit2048) = got[512], got[2048]
    # a tolerance fixed in source pixels gives the 2048 px render about 2.4 times the segments of the 512 px one
    assert n2048 <= 1.75 * n512
    assert fit2048 >= off2048 - 5e-4  # no worse than the trace itself, by the corpus's margin
    assert fit2048 >= fit512 - 5e-4
