"""cad.solid.extrude on an outline finer than OpenCASCADE's tolerances: a needle narrower than 1e-8 mm."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon

from cad.regions import Region, Regions, Ring
from cad.solid import NEEDLE_MM, extrude, is_valid_shape


def test_a_sub_tolerance_needle_is_opened_away_and_the_solid_built():
    w = 1e-9  # the needle's width: shapely sees a valid polygon, OCC a self-intersecting wire
    pts = np.array([(0, 0), (10, 0), (10, 10), (5 + w, 10), (5 + w / 2, 10.05), (5, 10), (0, 10)], float)
    assert Polygon(pts).is_valid
    region = Region(Ring.from_points(pts).oriented(ccw=True))
    solid = extrude(Regions(regions=(region,), geometry=Polygon(pts), px_mm=1.0), thickness_mm=2.0)
    assert solid.report["polyline_fallbacks"] == 1 and solid.solids == 1 and is_valid_shape(solid.shape)
    assert solid.volume_mm3 == pytest.approx(200.0, abs=2 * 10 * NEEDLE_MM * 2)
