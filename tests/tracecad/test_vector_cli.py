"""The vector doors end to end: ``tracecad convert x.svg`` and ``tracecad text``, through the real files."""

from __future__ import annotations

import json
import math

import pytest

from cad.export.stl import read_stl
from tracecad.cli import expand_inputs, main

TWO = ('<svg xmlns="http://www.w3.org/2000/svg" width="60mm" height="40mm" viewBox="0 0 60 40">'
       '<rect x="0" y="0" width="40" height="40" fill="#ff0000"/>'
       '<circle cx="40" cy="20" r="15" fill="#0000ff"/></svg>')


def run(capsys, *argv) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, (json.loads(out)["results"][0] if out.strip() else {})


def test_svg_to_step_stl_svg_and_back(tmp_path, capsys):
    src = tmp_path / "logo.svg"
    src.write_text(TWO)
    code, e = run(capsys, "convert", str(src), "-o", str(tmp_path / "out"), "--formats", "step,stl,svg,dxf",
                  "--thickness", "2")
    assert code == 0 and e["status"] == "ok" and e["source"] == "vector"
    assert e["width_mm"] == pytest.approx(55) and e["height_mm"] == pytest.approx(40)  # its own size
    assert e["curve_segments"] <= 10  # the square's lines and the circle's arcs, cut where they cross
    assert e["step_faces"] == e["curve_segments"] + 2 * e["bodies"]
    mesh = read_stl(tmp_path / "out" / "logo.stl")
    assert abs(mesh.volume()) == pytest.approx(e["volume_mm3"], rel=1e-3)
    # tracecad's own SVG fed back gives the same solid
    code, back = run(capsys, "convert", str(tmp_path / "out" / "logo.svg"), "-o", str(tmp_path / "back"),
                     "--formats", "stl", "--thickness", "2")
    assert code == 0 and back["volume_mm3"] == pytest.approx(e["volume_mm3"], rel=1e-6)
    assert back["curve_segments"] == e["curve_segments"]
    # and so does its DXF, read as a vector input: same curves, same solid, its own size in mm
    code, dxf = run(capsys, "convert", str(tmp_path / "out" / "logo.dxf"), "-o", str(tmp_path / "dxf"),
                    "--formats", "step,stl", "--thickness", "2")
    assert code == 0 and dxf["source"] == "vector"
    assert dxf["volume_mm3"] == pytest.approx(e["volume_mm3"], rel=1e-6)
    assert dxf["width_mm"] == pytest.approx(55) and dxf["curve_segments"] == e["curve_segments"]
    assert dxf["step_faces"] == dxf["curve_segments"] + 2 * dxf["bodies"]


def test_svg_colours_are_a_partition(tmp_path, capsys):
    src = tmp_path / "two.svg"
    src.write_text(TWO)
    code, e = run(capsys, "convert", str(src), "-o", str(tmp_path / "out"), "--colors", "auto", "--formats", "3mf,stl,dxf")
    assert code == 0, e
    assert [c["color"] for c in e["colors"]] == ["#ff0000", "#0000ff"]
    assert e["overlap_mm2"] < 1e-6
    # (the union's area is measured on its fine flattening, the colours' on their exact curves)
    assert sum(c["area_mm2"] for c in e["colors"]) == pytest.approx(e["union_area_mm2"], rel=1e-4)
    assert e["colors"][1]["area_mm2"] == pytest.approx(math.pi * 15**2, rel=1e-3)  # the circle is on top


def test_folders_hold_svgs_too(tmp_path):
    (tmp_path / "a.svg").write_text(TWO)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "b.dxf").write_text("0\nEOF\n")
    assert [p.name for p, _ in expand_inputs([str(tmp_path)])] == ["a.svg", "b.dxf"]


def test_bad_dxf_fails_with_one_sentence(tmp_path, capsys):
    bad = tmp_path / "broken.dxf"
    bad.write_text("this is not a drawing")
    code = main(["convert", str(bad), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "broken.dxf" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_svg_fails_with_one_sentence_and_no_files(tmp_path, capsys):
    src = tmp_path / "broken.svg"
    src.write_text("<svg xmlns='http://www.w3.org/2000/svg'><path d='M0,0 L")
    code, e = run(capsys, "convert", str(src), "-o", str(tmp_path / "out"))
    assert code == 1 and e["error"].startswith(str(src)) and "\n" not in e["error"]
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_photo_options_are_refused_on_a_vector_source(tmp_path, capsys):
    src = tmp_path / "logo.svg"
    src.write_text(TWO)
    for flags in (["--crop", "0,0,10,10"], ["--keep", "largest"]):
        code = main(["convert", str(src), "-o", str(tmp_path / "out"), *flags])
        err = capsys.readouterr().err
        assert code == 1 and "logo.svg" in err and "vector source" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_relief_mode_needs_a_picture(tmp_path, capsys):
    src = tmp_path / "a.svg"
    src.write_text(TWO)
    code, e = run(capsys, "convert", str(src), "-o", str(tmp_path / "out"), "--mode", "relief")
    assert code == 1 and "vector source" in e["error"]


def test_text_with_a_product(tmp_path, capsys):
    code, e = run(capsys, "text", "Al", "-o", str(tmp_path), "--preset", "keychain", "--formats", "stl")
    assert code == 0, e
    assert e["product"]["plate"] == "contour" and e["product"]["solids"] == 1
    assert (tmp_path / "Al.stl").exists()


def test_text_plain_sizes_and_errors(tmp_path, capsys):
    code, e = run(capsys, "text", r"Bob\nAl", "-o", str(tmp_path), "--size-mm", "10", "--formats", "stl")
    assert code == 0 and e["bodies"] == 5 and e["holes"] == 5  # B o b A l: B has two holes, o, b and A one
    code, e = run(capsys, "text", "Al", "-o", str(tmp_path), "--height", "7", "--formats", "stl", "--name", "x")
    assert code == 0 and e["height_mm"] == pytest.approx(7)
    code, e = run(capsys, "text", "\u65e5", "-o", str(tmp_path))
    assert code == 1 and "no glyph" in e["error"]
