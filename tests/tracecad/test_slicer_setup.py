"""Printer set-up of the colour mode: --max-colors, --extruders, --color-changes, --slicer, and the colour
STEP as FreeCAD reads it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from PIL import Image, ImageDraw

from cad import check_mesh
from cad.export.slicers import read_project
from cad.export.threemf import read_3mf
from cad.products import ProductOptions
from tracecad import ConvertOptions, convert
from tracecad.cli import main
from tracecad.modes.colours import build_multicolor, write_multicolor
from tracecad.modes.slicer import assign_extruders, parse_extruders
from tracer.errors import InvalidInputError

BLACK, RED, DARK_RED, BLUE = "#000000", "#ea5a47", "#b0301f", "#1d5fd0"


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    """Four flat squares on white paper; two of them reds about 20 Delta E apart."""
    im = Image.new("RGB", (240, 90), "white")
    d = ImageDraw.Draw(im)
    for i, col in enumerate((BLACK, RED, DARK_RED, BLUE)):
        d.rectangle([10 + 58 * i, 20 + 3 * i, 50 + 58 * i, 70], fill=col)  # different areas: a defined order
    p = tmp_path_factory.mktemp("img") / "four.png"
    im.save(p)
    return p


def test_max_colors_merges_the_closest_colours_by_ward_and_reports_them(four, tmp_path):
    full = build_multicolor(four, ConvertOptions(colors="auto", width_mm=60), stem="four")
    assert len(full.bodies) == 4
    conv = build_multicolor(four, ConvertOptions(colors="auto", width_mm=60, max_colors=3), stem="four")
    rep = conv.report()
    assert len(conv.bodies) == 3 and "#ffffff" not in [b.color for b in conv.bodies]  # never into the paper
    assert len(rep["merged_colors"]) == 1
    kept, gone = rep["merged_colors"][0]["color"], rep["merged_colors"][0]["merged"]
    reds = sorted(b.color for b in full.bodies if b.color not in (_near(full, BLACK), _near(full, BLUE)))
    assert sorted([kept, *gone]) == reds  # the two reds, printed in the larger one's colour
    assert any("merged" in w for w in conv.warnings)
    merged = next(b for b in conv.bodies if b.color == kept)
    assert merged.area_mm2 == pytest.approx(sum(b.area_mm2 for b in full.bodies if b.color in reds), rel=1e-3)
    assert sum(b.area_mm2 for b in conv.bodies) == pytest.approx(sum(b.area_mm2 for b in full.bodies), rel=1e-6)


def _near(conv, hexcol):
    """The body colour of ``conv`` nearest ``hexcol`` (the palette's mean colours differ by a few units)."""
    def d(c):
        return sum((int(c[i:i + 2], 16) - int(hexcol[i:i + 2], 16)) ** 2 for i in (1, 3, 5))
    return min((b.color for b in conv.bodies), key=d)


def test_extruders_by_area_or_by_map():
    cols, areas = ["#ffffff", "#000000", "#ea5a47", "#ffffff"], [10.0, 5.0, 7.0, 1.0]
    slot, fil = assign_extruders(cols, areas, ())
    assert slot == {"#ffffff": 1, "#ea5a47": 2, "#000000": 3} and fil == ["#ffffff", "#ea5a47", "#000000"]
    slot, fil = assign_extruders(cols, areas, parse_extruders("#000000=1,#eb5b48=4"))  # near enough
    assert slot == {"#000000": 1, "#ea5a47": 4, "#ffffff": 2}
    assert fil == ["#000000", "#ffffff", "#808080", "#ea5a47"]  # slot 3 unused
    with pytest.raises(InvalidInputError, match="no colour of the image is near #00ff00"):
        assign_extruders(cols, areas, parse_extruders("#00ff00=2"))
    for bad in ("#000000", "#00000=1", "#000000=0", "#000000=1,#000000=2", "black=1"):
        with pytest.raises(InvalidInputError):
            parse_extruders(bad)


def test_the_3mf_puts_each_colour_on_its_extruder_for_either_slicer(four, tmp_path):
    for slicer in ("prusa", "bambu"):
        opts = ConvertOptions(colors="auto", width_mm=60, formats=("3mf",), slicer=slicer,
                              extruders=f"{BLUE}=4", product=ProductOptions(plate="rect", margin_mm=2.0))
        e = convert(four, tmp_path / slicer, opts)
        assert e["status"] == "ok", e["error"]
        proj = read_project(e["outputs"]["3mf"])
        assert proj["slicer"] == slicer and proj["object"] == "four"
        assert proj["parts"] == [(c["name"], c["extruder"]) for c in e["colors"]]
        assert proj["filament_colors"] == e["filaments"] and len(e["filaments"]) == 5
        assert e["colors"][0]["base_plate"] and e["colors"][0]["extruder"] == 1  # the plate: largest area
        blue = next(c for c in e["colors"] if c["extruder"] == 4)
        assert e["filaments"][3] == blue["color"]
        _, parts = read_3mf(e["outputs"]["3mf"])
        assert [(n, c.lower()) for n, _, c in parts] == [(c["name"], c["color"]) for c in e["colors"]]


def test_color_changes_stack_the_colours_in_bands_on_the_layer_grid(four, tmp_path):
    opts = ConvertOptions(colors="auto", width_mm=60, formats=("3mf", "stl"), color_changes=True,
                          layer_heights=f"{BLACK}=0.5,{RED}=1.0,{DARK_RED}=1.5,{BLUE}=2.1",
                          product=ProductOptions(plate="rect", margin_mm=2.0, base_thickness_mm=1.1))
    conv = build_multicolor(four, opts, stem="four")
    changes = conv.report()["color_changes"]
    # the tops 1.1 (plate), 1.6, 2.1, 2.6, 3.2 mm on the 0.2 mm grid (halves round up): 1.2, 1.6, 2.2, 2.6, 3.2
    assert [c["z_mm"] for c in changes] == pytest.approx([1.2, 1.6, 2.2, 2.6])
    assert [c["layer"] for c in changes] == [7, 9, 12, 14]
    assert bodies_top(conv) == pytest.approx(3.2)
    assert changes[0]["text"] == f"at 1.20 mm change to {changes[0]['color']} (layer 7)"
    assert any("snapped" in w for w in conv.warnings)
    bodies = conv.bodies
    for a, b in zip(bodies, bodies[1:]):  # bands follow each other, nothing shares a height
        assert b.z0_mm == pytest.approx(a.z0_mm + a.height_mm)
        # each band stands on the one below (within the 0.01 mm tolerance of the fitted outlines)
        assert b.regions.geometry.difference(a.regions.geometry).area < 0.01 * b.regions.geometry.length
    assert conv.overlap_mm2() < 1e-9
    for b in bodies:
        rep = check_mesh(b.mesh)
        assert rep.is_volume and rep.volume_mm3 == pytest.approx(b.area_mm2 * b.height_mm, rel=2e-3)
    out = write_multicolor(conv, tmp_path, "four")
    proj = read_project(out["3mf"])
    assert proj["color_changes"] == [(pytest.approx(c["print_z_mm"]), c["color"]) for c in changes]
    assert [e for _, e in proj["parts"]] == [1] * len(bodies) and proj["filament_colors"] == ["#ffffff"]


def bodies_top(conv):
    return max(b.z0_mm + b.height_mm for b in conv.bodies)


def test_a_design_a_single_nozzle_cannot_print_is_refused_in_one_sentence(four, tmp_path):
    with pytest.raises(InvalidInputError, match="same height band") as exc:
        build_multicolor(four, ConvertOptions(colors="auto", width_mm=60, color_changes=True), stem="four")
    assert "\n" not in str(exc.value)
    with pytest.raises(InvalidInputError, match="thinner than one"):
        build_multicolor(four, ConvertOptions(colors=1, width_mm=60, color_changes=True, layer_height_mm=0.3,
                                              product=ProductOptions(plate="rect", base_thickness_mm=0.1)))


@pytest.mark.parametrize("args", [["--extruders", "#000000=1"], ["--max-colors", "3"], ["--color-changes"],
                                  ["--colors", "auto", "--extruders", "#00000=1"],
                                  ["--colors", "auto", "--color-changes", "--extruders", "#000000=1"],
                                  ["--colors", "auto", "--layer-height", "0"], ["--colors", "auto", "--slicer", "cura"]])
def test_slicer_flags_are_usage_errors_when_malformed_or_alone(four, tmp_path, args, capsys):
    try:
        code = main(["convert", str(four), "-o", str(tmp_path), *args])
    except SystemExit as exc:  # (argparse's own usage errors)
        code = exc.code
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_the_json_report_has_the_swap_table(four, tmp_path, capsys):
    code = main(["convert", str(four), "-o", str(tmp_path), "--colors", "1", "--formats", "3mf", "--plate", "rect",
                 "--base-thickness", "2", "--color-changes", "--json"])
    assert code == 0
    e = json.loads(capsys.readouterr().out)["results"][0]
    assert [c["text"] for c in e["color_changes"]] == [f"at 2.00 mm change to {e['colors'][1]['color']} (layer 11)"]
    assert e["layer_height_mm"] == 0.2


FREECAD = shutil.which("freecadcmd")
_FC_SCRIPT = """
import json, FreeCAD, Import
doc = FreeCAD.newDocument("t")
Import.insert({path!r}, doc.Name, merge=False, useLinkGroup=False)
out = [[o.Label, o.TypeId, o.Shape.Volume if o.TypeId == "Part::Feature" else 0.0] for o in doc.Objects]
open({out!r}, "w").write(json.dumps(out))
"""


@pytest.mark.skipif(FREECAD is None, reason="FreeCAD (freecadcmd) is not installed")
def test_freecad_reads_the_colour_step_as_named_bodies(four, tmp_path):
    """FreeCAD's importer names each body after its STEP product and keeps its solids. (Its command line
    keeps no colours: FreeCAD puts them on the GUI's view objects; read_colored_step checks those.)"""
    conv = build_multicolor(four, ConvertOptions(colors="auto", width_mm=60), stem="four")
    step = write_multicolor(conv, tmp_path, "four", formats=("step",))["step"]
    script = tmp_path / "fc.py"
    script.write_text(_FC_SCRIPT.format(path=str(step), out=str(tmp_path / "fc.json")))
    subprocess.run([FREECAD, "-c", f"exec(open({str(script)!r}).read())"], capture_output=True, timeout=300)
    objects = json.loads((tmp_path / "fc.json").read_text())
    for b in conv.bodies:
        mine = [v for label, t, v in objects if label.rstrip("0123456789") == b.name or label == b.name]
        assert mine, f"{b.name} not among {[o[0] for o in objects]}"
        assert sum(mine) == pytest.approx(b.solid.volume_mm3, rel=1e-6)


def test_bands_of_colours_that_share_boundaries_are_whole_solids(tmp_path):
    """Nested colours (a red ring around a black disc): the lower band is their union, one solid without
    the hairline gaps of two separately flattened boundaries, and the STEP and 3MF check as valid."""
    from cad.checks import check_file

    im = Image.new("RGB", (160, 160), "white")
    d = ImageDraw.Draw(im)
    d.ellipse([20, 20, 140, 140], fill=RED)
    d.ellipse([55, 50, 105, 110], fill=BLACK)
    src = tmp_path / "nested.png"
    im.save(src)
    e = convert(src, tmp_path, ConvertOptions(colors="auto", width_mm=40, formats=("3mf", "step"), color_changes=True,
                                              layer_heights=f"{RED}=1,{BLACK}=2"))
    assert e["status"] == "ok", e["error"]
    low, high = e["colors"]
    assert low["z_mm"] == [0.0, 1.0] and high["z_mm"] == [1.0, 2.0]
    assert low["bodies"] == 1 and low["holes"] == 0  # the ring and the disc as one
    assert low["area_mm2"] == pytest.approx(e["union_area_mm2"], rel=1e-4)
    assert all(check_file(e["outputs"][k])["ok"] for k in ("3mf", "step"))
    assert [c["text"] for c in e["color_changes"]] == [f"at 1.00 mm change to {high['color']} (layer 6)"]


@pytest.mark.skipif(shutil.which("prusa-slicer") is None, reason="PrusaSlicer (prusa-slicer) is not installed")
def test_prusaslicer_swaps_filament_where_the_report_says(four, tmp_path):
    e = convert(four, tmp_path, ConvertOptions(colors="auto", width_mm=60, formats=("3mf",), color_changes=True,
                                               layer_heights=f"{BLACK}=0.4,{RED}=0.8,{DARK_RED}=1.2,{BLUE}=1.6",
                                               product=ProductOptions(plate="rect", base_thickness_mm=1.0)))
    assert e["status"] == "ok", e["error"]
    gcode = tmp_path / "four.gcode"
    r = subprocess.run(["prusa-slicer", "--export-gcode", "--output", str(gcode), e["outputs"]["3mf"]],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    z, at = None, []
    for line in gcode.read_text().splitlines():
        if line.startswith(";Z:"):
            z = float(line[3:])
        elif line.strip() == "M600":
            at.append(z)
    assert at == [pytest.approx(c["print_z_mm"]) for c in e["color_changes"]] and len(at) == 4
