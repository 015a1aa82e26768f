"""Printability: thin strokes and gaps measured in mm against the nozzle, located, and thickened."""

import numpy as np
import pytest
import shapely
from PIL import Image
from shapely.geometry import box

import shapes
from cad import printability
from cad.products import ProductOptions
from tracecad import ConvertOptions, build, convert


def dumbbell(stroke_mm=0.2, length_mm=6.0):
    """Two 4 mm blocks joined by a thin horizontal stroke of the given width."""
    half = length_mm / 2
    return shapely.union_all([box(-half - 4, -2, -half, 2), box(half, -2, half + 4, 2),
                              box(-half - 0.1, -stroke_mm / 2, half + 0.1, stroke_mm / 2)])


def test_a_02mm_stroke_is_reported_with_its_width_and_place():
    rep = printability.analyse(dumbbell(0.2), nozzle_mm=0.4)
    assert rep["narrowest_feature_mm"] == pytest.approx(0.2, abs=0.01)
    assert not rep["ok"] and rep["n_thin_features"] == 1
    spot = rep["thin_features"][0]
    assert abs(spot["x_mm"]) < 3.0 and abs(spot["y_mm"]) < 0.1  # on the stroke
    assert spot["bounds"][0] == pytest.approx(-3.0, abs=0.05) and spot["bounds"][2] == pytest.approx(3.0, abs=0.05)


def test_wide_shapes_and_right_angles_are_not_reported():
    rep = printability.analyse(box(0, 0, 10, 5), nozzle_mm=0.4)
    assert rep["ok"] and rep["n_thin_features"] == 0 and rep["n_thin_gaps"] == 0
    assert rep["narrowest_feature_mm"] == pytest.approx(5.0, rel=0.02)  # searched beyond the risk width
    assert rep["smallest_gap_mm"] is None


def test_a_narrow_gap_is_reported():
    g = shapely.union_all([box(0, 0, 5, 5), box(5.3, 0, 10, 5)])
    rep = printability.analyse(g, nozzle_mm=0.4)
    assert rep["smallest_gap_mm"] == pytest.approx(0.3, abs=0.01)
    assert rep["n_thin_gaps"] == 1 and rep["thin_gaps"][0]["x_mm"] == pytest.approx(5.15, abs=0.05)


def test_nozzle_sets_the_risk_width():
    g = dumbbell(0.6)
    assert printability.analyse(g, nozzle_mm=0.4)["n_thin_features"] == 1   # 0.6 < 2 x 0.4
    assert printability.analyse(g, nozzle_mm=0.25)["n_thin_features"] == 0  # 0.6 >= 2 x 0.25


def test_min_feature_thickens_the_stroke_to_at_least_that_width():
    g = dumbbell(0.2)
    new, n = printability.thicken(g, 0.8)
    assert n == 1
    stroke = new.intersection(box(-2.5, -3, 2.5, 3))  # the middle of the stroke, away from the blocks
    assert not stroke.buffer(-0.399).is_empty          # a 0.8 mm disc fits everywhere along it...
    assert stroke.buffer(-0.399).length > 4.0
    assert stroke.area / 5.0 == pytest.approx(0.8, abs=0.03)  # ...and it is not much wider than asked
    assert new.contains(g.buffer(-1e-9))                       # nothing was taken away
    assert printability.analyse(new, nozzle_mm=0.4)["n_thin_features"] == 0
    far = new.intersection(box(-100, -100, -3.5, 100)).symmetric_difference(g.intersection(box(-100, -100, -3.5, 100)))
    assert far.area < 0.05  # the wide blocks are untouched (apart from the stroke's root)


def thin_stroke_png(tmp_path, stroke_px=2):
    m = np.zeros((120, 240), bool)
    m[20:100, 10:90] = True
    m[20:100, 150:230] = True
    m[60 - stroke_px // 2:60 - stroke_px // 2 + stroke_px, 80:160] = True
    path = tmp_path / "thin.png"
    shapes.save_png(m, path)
    return path


def test_pipeline_reports_and_thickens_a_thin_stroke(tmp_path):
    png = thin_stroke_png(tmp_path)  # 240 px wide subject -> 0.1 mm/px at 22 mm: the stroke is 0.2 mm
    base = dict(width_mm=22.0)
    conv = build(png, ConvertOptions(**base, product=ProductOptions()))
    pr = conv.regions.report["printability"]
    assert pr["narrowest_feature_mm"] == pytest.approx(0.2, abs=0.03)
    assert any("narrower than 0.8 mm" in w for w in conv.warnings)
    fixed = build(png, ConvertOptions(**base, product=ProductOptions(min_feature_mm=0.8)))
    geom = fixed.regions.geometry
    mid = geom.intersection(box(-3, -5, 3, 5))
    assert not mid.buffer(-0.399).is_empty and mid.buffer(-0.399).length > 5.0
    assert fixed.regions.report["printability"]["n_thin_features"] == 0
    assert fixed.regions.report["printability"]["thickened_spots"] == 1
    assert 0.8 <= fixed.regions.report["printability"]["narrowest_feature_mm"] <= 0.9  # the stroke, now 0.8 wide
    assert fixed.regions.area_mm2 > conv.regions.area_mm2
    # the mesh of the thickened footprint is still a closed volume of area x thickness
    from cad.mesh import check_mesh

    rep = check_mesh(fixed.mesh)
    assert rep.is_volume and rep.bodies == 1
    assert rep.volume_mm3 == pytest.approx(fixed.regions.area_mm2 * 3.0, rel=1e-3)


def test_json_entry_has_thin_key_and_preview_marks_spots(tmp_path):
    png = thin_stroke_png(tmp_path)
    entry = convert(png, tmp_path / "out", ConvertOptions(width_mm=22.0, formats=("stl",),
                                                          product=ProductOptions(preview=True)))
    thin_keys = [k for k in entry if "thin" in k]
    assert thin_keys and entry["thin_features"][0]["kind"] == "feature"
    img = np.asarray(Image.open(entry["outputs"]["thin_png"]).convert("RGB")).astype(int)
    red = (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)
    assert red.sum() > 50


def test_cookie_cutter_judges_only_its_silhouette(tmp_path, capsys):
    """A narrow slot inside the artwork matters for a keychain, not for a cutter (which ignores holes)."""
    import json

    import numpy as np

    import shapes
    from tracecad.cli import main

    m = np.zeros((400, 400), bool)
    m[50:350, 50:350] = True
    m[100:300, 198:201] = False  # a 3 px slot: 0.5 mm at 50 mm wide
    png = tmp_path / "slot.png"
    shapes.save_png(m, png)
    found = {}
    for preset in ("keychain", "cookie-cutter"):
        assert main(["convert", str(png), "-o", str(tmp_path / preset), "--preset", preset,
                     "--formats", "stl", "--json", "-q"]) == 0
        found[preset] = json.loads(capsys.readouterr().out)["results"][0]["thin_features"]
    assert len(found["keychain"]) == 1 and found["keychain"][0]["width_mm"] < 0.8
    assert found["cookie-cutter"] == []
