"""The colour 3MF in the slicers' layouts: the structure their loaders read, and (where PrusaSlicer is
installed) what PrusaSlicer itself loads and slices from it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from xml.etree import ElementTree as ET

import pytest
import trimesh

from cad import check_mesh
from cad.export.slicers import BAMBU_GCODES, BAMBU_MODEL, BAMBU_PROJECT, ColorChange, Project, read_project
from cad.export.threemf import Part, read_3mf, write_3mf
from cad.mesh import Mesh

NS = {"m": "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"}
PRUSA = shutil.which("prusa-slicer")
needs_prusa = pytest.mark.skipif(PRUSA is None, reason="PrusaSlicer (prusa-slicer) is not installed")


def _box(x0, y0, z0, x1, y1, z1) -> Mesh:
    b = trimesh.creation.box(bounds=[[x0, y0, z0], [x1, y1, z1]])
    return Mesh(b.vertices, b.faces)


def _sign() -> list[Part]:
    """A 20 x 20 x 2 mm white plate with a black and a red block (1 mm) standing on it."""
    return [Part("sign_base_ffffff", _box(-10, -10, 0, 10, 10, 2), "#ffffff"),
            Part("sign_1_000000", _box(-8, -5, 2, -1, 5, 3), "#000000"),
            Part("sign_2_ea5a47", _box(1, -5, 2, 8, 5, 3), "#ea5a47")]


MMU = Project("sign", (1, 2, 3), ("#ffffff", "#000000", "#ea5a47"))
SWAP = Project("sign", (1, 1), ("#ffffff",), layer_height_mm=0.2,
               color_changes=(ColorChange(z_mm=2.0, print_z_mm=2.2, layer=11, color="#000000"),))


@pytest.mark.parametrize("layout", ["objects", "prusa", "bambu"])
def test_every_layout_reads_back_as_the_named_coloured_parts(tmp_path, layout):
    parts = _sign()
    p = write_3mf(parts, tmp_path / "sign.3mf", layout=layout, project=None if layout == "objects" else MMU)
    unit, back = read_3mf(p)
    assert unit == "millimeter"
    assert [(n, c.lower()) for n, _, c in back] == [(n, c) for n, _, c in parts]
    for (_, m, _), (_, ref, _) in zip(back, parts):
        assert check_mesh(m).is_volume and m.volume() == pytest.approx(ref.volume(), rel=1e-9)


def test_prusa_layout_is_one_object_cut_into_volumes_by_triangle_range(tmp_path):
    parts = _sign()
    p = write_3mf(parts, tmp_path / "sign.3mf", layout="prusa", project=MMU)
    with zipfile.ZipFile(p) as z:
        model = ET.fromstring(z.read("3D/3dmodel.model"))
        cfg = ET.fromstring(z.read("Metadata/Slic3r_PE_model.config"))
        ini = z.read("Metadata/Slic3r_PE.config").decode()
    objects = model.findall("m:resources/m:object", NS)
    items = model.findall("m:build/m:item", NS)
    assert len(objects) == 1 and len(items) == 1 and items[0].get("objectid") == objects[0].get("id")
    assert cfg.find("object").get("id") == objects[0].get("id")  # the loader keys the volumes by the object id
    tris = objects[0].findall("m:mesh/m:triangles/m:triangle", NS)
    ranges = [(int(v.get("firstid")), int(v.get("lastid"))) for v in cfg.iter("volume")]
    assert ranges[0][0] == 0 and ranges[-1][1] == len(tris) - 1
    assert [b - a + 1 for a, b in ranges] == [len(m.faces) for _, m, _ in parts]
    # each volume's vertices are one contiguous block (PrusaSlicer slices min..max vertex index)
    for (a, b), (_, m, _) in zip(ranges, parts):
        ids = sorted({int(t.get(k)) for t in tris[a:b + 1] for k in ("v1", "v2", "v3")})
        assert ids == list(range(ids[0], ids[0] + len(m.vertices)))
    # "; key = value" lines after a first header line: the form PrusaSlicer's legacy reader accepts
    lines = [ln for ln in ini.splitlines()[1:] if ln]
    assert all(re.fullmatch(r"; [a-z_]{3,} = \S.*", ln) for ln in lines)
    proj = read_project(p)
    assert proj["parts"] == [(n, e) for (n, _, _), e in zip(parts, MMU.extruders)]
    assert proj["filament_colors"] == list(MMU.filament_colors) and proj["object"] == "sign"


def test_bambu_layout_has_the_structure_their_loader_reads(tmp_path):
    """Bambu Studio / OrcaSlicer (bbs_3mf.cpp): a part is a component object with a mesh, named and put on
    a filament by <part id=component objectid> of the <object id=root> in model_settings.config (read from
    any 3MF). From another application's file they take colours from <m:colorgroup> (matched by that literal
    tag), numbering its distinct colours 1, 2, ... as filaments; their project files they read only from
    files claiming to be theirs, which this one does not."""
    parts = _sign()
    p = write_3mf(parts, tmp_path / "sign.3mf", layout="bambu", project=MMU)
    with zipfile.ZipFile(p) as z:
        raw = z.read("3D/3dmodel.model").decode()
        model = ET.fromstring(raw)
        cfg = ET.fromstring(z.read(BAMBU_MODEL))
        settings = json.loads(z.read(BAMBU_PROJECT))
    meta = {m.get("name"): m.text for m in model.findall("m:metadata", NS)}
    assert not meta["Application"].startswith(("BambuStudio-", "OrcaSlicer-"))
    items = model.findall("m:build/m:item", NS)
    assert len(items) == 1
    objects = {o.get("id"): o for o in model.findall("m:resources/m:object", NS)}
    root = objects[items[0].get("objectid")]
    comps = [c.get("objectid") for c in root.findall("m:components/m:component", NS)]
    assert root.find("m:mesh", NS) is None and len(comps) == len(parts)
    assert all(objects[c].find("m:mesh", NS) is not None for c in comps)
    obj = cfg.findall("object")
    assert len(obj) == 1 and obj[0].get("id") == root.get("id")
    got = []
    for part in obj[0].findall("part"):
        assert part.get("subtype") == "normal_part"
        md = {m.get("key"): m.get("value") for m in part.findall("metadata")}
        got.append((part.get("id"), md["name"], int(md["extruder"])))
    assert got == [(c, n, e) for c, (n, _, _), e in zip(comps, parts, MMU.extruders)]
    # the colour group, as the loader's expat handlers see it (tag names with their "m:" prefix)
    group = re.findall(r'<m:colorgroup id="(\d+)">(.*?)</m:colorgroup>', raw, re.S)
    assert len(group) == 1
    colours = re.findall(r'<m:color color="(#[0-9A-F]{8})"/>', group[0][1])
    order = list(dict.fromkeys(colours))  # the loader's filament numbering: distinct colours in order
    for c, (_, _, e) in zip(comps, got):
        assert objects[c].get("pid") == group[0][0]
        assert order.index(colours[int(objects[c].get("pindex"))]) + 1 == e
    assert [c[:7].lower() for c in colours] == list(MMU.filament_colors)
    assert settings["filament_colour"] == list(MMU.filament_colors)
    plate = cfg.find("plate")
    assert {m.get("key"): m.get("value") for m in plate.iter("metadata")}["object_id"] == root.get("id")


def test_bambu_colour_changes_are_per_layer_gcode_of_plate_one(tmp_path):
    p = write_3mf(_sign()[:2], tmp_path / "s.3mf", layout="bambu", project=SWAP)
    with zipfile.ZipFile(p) as z:
        g = ET.fromstring(z.read(BAMBU_GCODES))
    assert g.tag == "custom_gcodes_per_layer"
    plate = g.find("plate")
    assert plate.find("plate_info").get("id") == "1" and plate.find("mode").get("value") == "SingleExtruder"
    layers = plate.findall("layer")
    assert [(float(c.get("top_z")), c.get("type"), c.get("color")) for c in layers] == [(2.2, "0", "#000000")]
    assert read_project(p)["color_changes"] == [(2.2, "#000000")]


def test_a_project_must_give_every_part_an_extruder(tmp_path):
    with pytest.raises(ValueError):
        write_3mf(_sign(), tmp_path / "x.3mf", layout="prusa", project=SWAP)
    with pytest.raises(ValueError):
        write_3mf(_sign(), tmp_path / "x.3mf", layout="cura")


def _prusa(*args, cwd) -> str:
    r = subprocess.run([PRUSA, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@needs_prusa
def test_prusaslicer_loads_one_object_with_a_volume_per_colour_on_its_extruder(tmp_path):
    p = write_3mf(_sign(), tmp_path / "sign.3mf", layout="prusa", project=MMU)
    info = _prusa("--info", p, cwd=tmp_path)
    assert info.count("number_of_facets") == 1  # one block: one object
    _prusa("--export-3mf", "--output", tmp_path / "back.3mf", p, cwd=tmp_path)  # PrusaSlicer's own re-export
    back = read_project(tmp_path / "back.3mf")
    assert back["parts"] == [(n, e) for (n, _, _), e in zip(_sign(), MMU.extruders)]  # (its CLI export has no config)


@needs_prusa
def test_prusaslicer_gcode_changes_to_every_extruder_used(tmp_path):
    p = write_3mf(_sign(), tmp_path / "sign.3mf", layout="prusa", project=MMU)
    _prusa("--export-gcode", "--output", tmp_path / "sign.gcode", p, cwd=tmp_path)
    gcode = (tmp_path / "sign.gcode").read_text()
    assert {int(t) for t in re.findall(r"^T(\d+)\s*$", gcode, re.M)} == {0, 1, 2}
    assert "; extruder_colour = #ffffff;#000000;#ea5a47" in gcode


@needs_prusa
def test_prusaslicer_single_extruder_gcode_has_exactly_the_listed_colour_changes(tmp_path):
    p = write_3mf(_sign()[:2], tmp_path / "swap.3mf", layout="prusa", project=SWAP)
    _prusa("--export-gcode", "--output", tmp_path / "swap.gcode", p, cwd=tmp_path)
    z, at = None, []
    for line in (tmp_path / "swap.gcode").read_text().splitlines():
        if line.startswith(";Z:"):
            z = float(line[3:])
        elif line.strip() == "M600":
            at.append(z)
    assert at == [pytest.approx(c.print_z_mm) for c in SWAP.color_changes]
