import numpy as np
import pytest

import shapes
import tracer
from tracer.errors import EmptyMaskError, TooComplexError


def test_square_traces_to_four_corners_at_known_points():
    out = tracer.trace(tracer.Mask(shapes.square()))
    assert len(out.contours) == 1
    c = out.contours[0]
    assert not c.is_hole and c.parent == -1
    assert c.is_line.all() and c.n_segments == 4
    corners = {tuple(p) for p in c.ctrl[:, 0]}
    assert corners == {(8.0, 8.0), (24.0, 8.0), (24.0, 24.0), (8.0, 24.0)}
    # closed: each segment starts where the previous ends
    assert np.array_equal(np.roll(c.ctrl[:, 3], 1, axis=0), c.ctrl[:, 0])


def test_ring_gives_one_hole_nested_in_its_shell():
    out = tracer.trace(tracer.Mask(shapes.ring()))
    holes = [c for c in out.contours if c.is_hole]
    shells = [c for c in out.contours if not c.is_hole]
    assert len(holes) == 1 and len(shells) == 1
    assert holes[0].parent == out.contours.index(shells[0])
    assert not all(holes[0].is_line)  # a circle is traced with curves


def test_mask_scale_maps_back_to_source_pixels():
    m = np.kron(shapes.square(), np.ones((4, 4), bool))  # the same square, 4x finer
    out = tracer.trace(tracer.Mask(m, scale=0.25))
    corners = {tuple(p) for p in out.contours[0].ctrl[:, 0]}
    assert corners == {(8.0, 8.0), (24.0, 8.0), (24.0, 24.0), (8.0, 24.0)}


def test_empty_mask_is_a_typed_error():
    with pytest.raises(EmptyMaskError):
        tracer.trace(tracer.Mask(np.zeros((16, 16), bool)))


def test_segment_budget_raises_too_complex():
    rng = np.random.default_rng(1)
    m = rng.random((200, 200)) > 0.5
    with pytest.raises(TooComplexError, match="budget"):
        tracer.trace(tracer.Mask(m), params=tracer.TraceParams(max_segments=1000, turdsize=0))


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_the_budget_hint_offers_upsample_1_only_when_the_mask_is_upsampled(scale):
    rng = np.random.default_rng(1)
    m = rng.random((200, 200)) > 0.5
    with pytest.raises(TooComplexError) as exc:
        tracer.trace(tracer.Mask(m, scale=scale), params=tracer.TraceParams(max_segments=1000, turdsize=0))
    assert ("--upsample 1" in str(exc.value)) == (scale < 1) and "--max-segments" in str(exc.value)


def test_potrace_parameters_change_the_trace():
    m = shapes.ring()
    smooth = tracer.trace(tracer.Mask(m), params=tracer.TraceParams(alphamax=1.3))
    poly = tracer.trace(tracer.Mask(m), params=tracer.TraceParams(alphamax=0.0))
    assert all(not c.is_line.all() for c in smooth.contours)
    assert all(c.is_line.all() for c in poly.contours)
