"""Property tests (hypothesis): random masks of rectangles, ellipses and rings, strict checks on.

Each mask gives either a valid solid whose bodies - holes equals the mask's
Euler number (counted independently with OpenCV), whose STL and 3MF are
watertight volumes and whose STEP is one valid solid per body, or a typed
TracecadError that leaves no file behind.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import trimesh
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cad.checks
from cad.budget import BREP_SEGMENTS_FRACTION, brep_cost, check_brep_budget
from cad.checks import check_file
from tracecad import ConvertOptions, build, write_outputs
from tracer import _potrace, budget
from tracer.errors import TooComplexError, TracecadError

CELL = 72  # each shape lives in its own cell; cells are separated by a margin
MARGIN = 8


@pytest.fixture(autouse=True)
def strict_checks(monkeypatch):
    monkeypatch.setattr(cad.checks, "STRICT", True)


def euler_number(mask: np.ndarray) -> tuple[int, int]:
    """(foreground components, enclosed background components) with the dual 8/4 connectivities."""
    padded = np.pad(mask, 1).astype(np.uint8)
    n_fg = cv2.connectedComponents(padded, connectivity=8)[0] - 1
    n_bg = cv2.connectedComponents(1 - padded, connectivity=4)[0] - 1  # the outside is one of them
    return n_fg, n_bg - 1


shape_kind = st.sampled_from(["rect", "ellipse", "ring", "ring+dot", "empty"])


@st.composite
def masks(draw):
    rows, cols = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    mask = np.zeros((rows * CELL + 2 * MARGIN, cols * CELL + 2 * MARGIN), np.uint8)
    drawn = 0
    for r in range(rows):
        for c in range(cols):
            kind = draw(shape_kind)
            y0, x0 = MARGIN + r * CELL + MARGIN, MARGIN + c * CELL + MARGIN
            span = CELL - 2 * MARGIN
            cy, cx = y0 + span // 2, x0 + span // 2
            if kind == "rect":
                h, w = draw(st.integers(6, span)), draw(st.integers(6, span))
                mask[cy - h // 2:cy - h // 2 + h, cx - w // 2:cx - w // 2 + w] = 1
            elif kind in ("ellipse", "ring", "ring+dot"):
                a, b = draw(st.integers(16 if kind != "ellipse" else 4, span // 2)), draw(st.integers(16 if kind != "ellipse" else 4, span // 2))
                angle = draw(st.integers(0, 179))
                cv2.ellipse(mask, (cx, cy), (a, b), angle, 0, 360, 1, -1)
                if kind != "ellipse":
                    t = draw(st.integers(4, min(a, b) - 8))
                    cv2.ellipse(mask, (cx, cy), (a - t, b - t), angle, 0, 360, 0, -1)
                    if kind == "ring+dot" and min(a, b) - t > 10:
                        rad = draw(st.integers(2, min(a, b) - t - 6))
                        cv2.circle(mask, (cx, cy), rad, 1, -1)
            drawn += kind != "empty"
    return mask.astype(bool)


def png(mask: np.ndarray, aa: bool) -> bytes:
    img = np.where(mask, 0, 255).astype(np.uint8)
    if aa:  # antialiased edges, as a real export would have; the threshold at 50 % keeps the topology
        img = cv2.GaussianBlur(img, (0, 0), 0.6)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(mask=masks(), aa=st.booleans(), thickness=st.sampled_from([0.8, 3.0]))
def test_random_masks_give_a_valid_solid_or_a_typed_error(tmp_path_factory, mask, aa, thickness):
    out = tmp_path_factory.mktemp("prop")
    n_fg, n_holes = euler_number(mask)
    options = ConvertOptions(width_mm=15, thickness_mm=thickness, min_area_mm2=0.0,
                             formats=("step", "stl", "3mf"))
    try:
        conv = build(png(mask, aa), options, name="prop.png")
        written = write_outputs(conv, out, "prop")
    except TracecadError:
        assert list(out.iterdir()) == []  # a typed error, and nothing was written
        if n_fg == 0:
            return
        raise  # every generated mask with a subject is well formed: an error here is a bug
    assert n_fg > 0
    regs = conv.regions
    assert len(regs.regions) - regs.n_holes == n_fg - n_holes
    assert len(regs.regions) == n_fg and regs.n_holes == n_holes
    expected = regs.area_mm2 * thickness
    for fmt in ("stl", "3mf"):
        rep = check_file(written[fmt])
        assert rep["ok"], rep
        assert rep["solids"] == n_fg and rep["genus"] == n_holes
        assert rep["volume_mm3"] == pytest.approx(expected, rel=0.02)
    m = trimesh.load(written["stl"], force="mesh")
    assert m.is_watertight and m.is_winding_consistent and m.is_volume
    assert m.euler_number == 2 * (n_fg - n_holes)  # sum over bodies of 2 - 2 genus
    rep = check_file(written["step"])
    assert rep["ok"] and rep["solids"] == n_fg, rep
    assert rep["volume_mm3"] == pytest.approx(expected, rel=1e-6)
    assert sorted(p.name for p in out.iterdir()) == ["prop.3mf", "prop.step", "prop.stl"]


@st.composite
def noise_masks(draw):
    h, w = draw(st.integers(8, 60)), draw(st.integers(8, 60))
    density = draw(st.floats(0.02, 0.98))
    seed = draw(st.integers(0, 2**31 - 1))
    return np.random.default_rng(seed).random((h, w)) < density


@settings(max_examples=40, deadline=None)
@given(bits=noise_masks(), turdsize=st.integers(0, 6), turnpolicy=st.sampled_from(["minority", "black", "white"]))
def test_segment_lower_bound_never_exceeds_what_potrace_returns(bits, turdsize, turnpolicy):
    """The pre-trace refusal is honest: the bound it uses is never above potrace's real count."""
    paths = _potrace.trace_bitmap(bits, turdsize=turdsize, turnpolicy=turnpolicy, alphamax=1.0, opttolerance=0.2)
    actual = sum(int(np.count_nonzero(t == _potrace.CORNER)) + len(t) for _, _, _, t, _ in paths)
    assert budget.min_segments(bits, turdsize) <= actual
    assert all(len(t) >= budget.MIN_SEGMENTS_PER_PATH for _, _, _, t, _ in paths)
    assert budget.boundary_edges(bits) == budget.boundary_edges(bits.T)
    assert budget.boundary_edges(bits, _potrace.pack_bitmap(bits)) == budget.boundary_edges(bits)  # packed count


@pytest.mark.parametrize("w", [1, 2, 63, 64, 65, 127, 128, 129, 200])
@pytest.mark.parametrize("h", [1, 2, 7])
def test_boundary_edges_on_packed_words_equal_the_pixel_count(w, h):
    rng = np.random.default_rng(w * 10 + h)
    for bits in (rng.random((h, w)) < 0.5, np.ones((h, w), bool), np.zeros((h, w), bool)):
        assert budget.boundary_edges(bits, _potrace.pack_bitmap(bits)) == budget.boundary_edges(bits)


def test_salt_and_pepper_fails_clearly_before_potrace(tmp_path, monkeypatch):
    """2000 x 2000 salt and pepper: refused by the budget, before potrace is ever called."""
    called = []
    monkeypatch.setattr(_potrace, "trace_bitmap", lambda *a, **k: called.append(1))
    rng = np.random.default_rng(0)
    img = np.where(rng.random((2000, 2000)) < 0.5, 0, 255).astype(np.uint8)
    f = tmp_path / "salt.png"
    cv2.imwrite(str(f), img)
    with pytest.raises(TooComplexError, match="--max-segments") as e:
        build(str(f), ConvertOptions(formats=("stl",)), name=str(f))
    assert called == []
    assert "budget" in str(e.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 400), min_size=1, max_size=4), min_size=1, max_size=5),
       st.integers(100, 100_000))
def test_brep_budget_refuses_exactly_above_its_quadratic_cost(regions, max_segments):
    """The B-rep cost is the sum over regions of (segments of the region)²; refused above (fraction x max)²."""
    cost = brep_cost(regions)
    assert cost == sum(sum(r) ** 2 for r in regions)
    side = BREP_SEGMENTS_FRACTION * max_segments
    if cost > side * side:
        with pytest.raises(TooComplexError, match="--max-segments"):
            check_brep_budget(regions, max_segments=max_segments)
    else:
        assert check_brep_budget(regions, max_segments=max_segments) == cost
