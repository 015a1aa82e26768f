"""Every bundled sample converts to STEP, STL, 3MF and SVG; golden metrics (not bytes) hold."""

import json
from pathlib import Path

import pytest
import trimesh

import cad
import tracecad
from tracecad.cli import IMAGE_SUFFIXES

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"
GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "samples.json").read_text())
IMAGES = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def test_every_sample_has_a_golden_entry():
    assert sorted(GOLDEN) == sorted(p.name for p in IMAGES)


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.name)
def test_sample_converts_and_matches_golden(path, tmp_path):
    e = tracecad.convert(path, tmp_path, tracecad.ConvertOptions(formats=("step", "stl", "3mf", "svg")))
    g = GOLDEN[path.name]
    assert e["bodies"] == g["bodies"] and e["holes"] == g["holes"]
    assert e["width_mm"] == pytest.approx(50.0, abs=1e-9)
    assert e["height_mm"] == pytest.approx(g["height_mm"], rel=0.01)
    assert e["area_mm2"] == pytest.approx(g["area_mm2"], rel=0.01)
    assert e["volume_mm3"] == pytest.approx(e["area_mm2"] * 3.0, rel=1e-6)
    assert e["step_faces"] <= 1.2 * (e["curve_segments"] + 2 * e["bodies"])
    for fmt in ("stl", "3mf"):
        m = trimesh.load(e["outputs"][fmt], force="mesh")
        assert m.is_volume
        assert m.volume == pytest.approx(e["volume_mm3"], rel=5e-3)


def test_the_cad_names_of_the_application_still_work_with_a_future_warning(tmp_path):
    """``cad.convert`` and ``cad.ConvertOptions`` moved to ``tracecad``; for one release they still work."""
    path = SAMPLES / "star_transparent.png"
    with pytest.warns(FutureWarning, match="tracecad.ConvertOptions"):
        options_type = cad.ConvertOptions
    with pytest.warns(FutureWarning, match="tracecad.convert"):
        convert = cad.convert
    assert options_type is tracecad.ConvertOptions and convert is tracecad.convert
    entry = convert(path, tmp_path, options_type(formats=("stl",)))
    assert entry["status"] == "ok" and (tmp_path / "star_transparent.stl").is_file()
    with pytest.raises(AttributeError):
        cad.no_such_name  # noqa: B018
