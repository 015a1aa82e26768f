"""The default fit tolerance follows the wobble of a trace: a JPEG's ringing is not fitted piece by piece."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

import tracer
from cad.fit_pieces import wobble
from cad.regions import to_regions
from shapes import geometric_png


def _ring(radius: float, amp: float, waves: int, n: int = 400) -> np.ndarray:
    """A circle of ``radius`` whose radius wobbles by ``amp`` ``waves`` times around, as n straight cubics."""
    a = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = radius + amp * np.sin(waves * a)
    p = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    q = np.roll(p, -1, axis=0)
    return np.stack([p, p + (q - p) / 3, p + 2 * (q - p) / 3, q], axis=1)


def test_wobble_measures_noise_not_bending():
    clean = wobble(_ring(40.0, 0.0, 0), 1.0)
    noisy = wobble(_ring(40.0, 0.3, 80), 1.0)  # a wave about 3 px long
    assert clean < 0.01  # the bending of a 40 px circle is taken up by the local parabola
    assert noisy > 10 * clean and noisy < 0.3


def _trace(data: bytes, tmp_path, name: str):
    path = tmp_path / name
    path.write_bytes(data)
    return tracer.trace(tracer.isolate(tracer.load_image(path)))


@pytest.mark.parametrize(("name", "share"), [("circle", 0.5), ("rounded_rectangle", 1.0)])
def test_jpeg_traces_fit_with_fewer_pieces_and_the_same_area(tmp_path, name, share):
    buf = io.BytesIO()
    Image.open(io.BytesIO(geometric_png(name))).convert("L").save(buf, "JPEG", quality=35)
    outlines = _trace(buf.getvalue(), tmp_path, f"{name}.jpg")
    kw = {"width_mm": 50, "min_area_mm2": 0.02}  # the CLI's default: the specks of the compression go
    traced = to_regions(outlines, fit_tolerance_mm=0, **kw)
    fixed = to_regions(outlines, fit_tolerance_mm=0.1 * traced.px_mm, **kw)  # the default, not following
    auto = to_regions(outlines, fit_tolerance_mm=None, **kw)
    assert auto.n_segments <= share * fixed.n_segments
    assert auto.report["fit_tolerance_mm"] == pytest.approx(fixed.report["fit_tolerance_mm"])
    diff = auto.geometry.symmetric_difference(traced.geometry).area
    assert diff < 0.002 * traced.geometry.area


def test_clean_renders_keep_the_default_tolerance(tmp_path):
    outlines = _trace(geometric_png("plate"), tmp_path, "plate.png")
    px = to_regions(outlines, width_mm=50, fit_tolerance_mm=0).px_mm
    auto = to_regions(outlines, width_mm=50, fit_tolerance_mm=None)
    fixed = to_regions(outlines, width_mm=50, fit_tolerance_mm=0.1 * px)
    # smoothed over its working raster's staircase, not loosened: no more pieces, and on average within a
    # tenth of a pixel of the fit at the default tolerance
    assert auto.report["fit_tolerance_mm"] == pytest.approx(fixed.report["fit_tolerance_mm"])
    assert auto.n_segments <= fixed.n_segments
    gap = auto.geometry.symmetric_difference(fixed.geometry).area / fixed.geometry.boundary.length
    assert gap < 0.1 * px
