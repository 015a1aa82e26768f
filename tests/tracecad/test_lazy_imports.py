"""A run that writes only meshes never loads OpenCASCADE; asking for STEP does (checked in a fresh interpreter)."""

import json
import subprocess
import sys

import pytest

import shapes

CODE = """
import json, sys
import cad
from tracecad import ConvertOptions, convert
e = convert(sys.argv[1], sys.argv[2], ConvertOptions(formats=tuple(sys.argv[3].split(","))))
mods = sys.modules
print(json.dumps({"ocp": any(m == "OCP" or m.startswith("OCP.") for m in mods), "cadquery": "cadquery" in mods,
                  "outputs": sorted(e["outputs"]), "faces": e["step_faces"]}))
"""


@pytest.mark.parametrize("formats, ocp", [("stl", False), ("stl,3mf", False), ("step,stl", True), ("dxf", False)])
def test_only_step_loads_opencascade(tmp_path, formats, ocp):
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png)
    out = subprocess.run([sys.executable, "-c", CODE, str(png), str(tmp_path / "out"), formats],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    assert r["outputs"] == sorted(formats.split(","))
    assert r["ocp"] is ocp
    assert r["cadquery"] is False  # cadquery (and VTK) are never needed: OCP alone builds and writes the B-rep
    assert (r["faces"] is not None) is ocp


CLI_CODE = """
import json, sys
from tracecad.cli import main
rc = main(["convert", sys.argv[1], "-o", sys.argv[2], "--formats", "stl", "-q"])
mods = sys.modules
print(json.dumps({"rc": rc, "pil_plugins": sorted(m for m in mods if m.startswith("PIL.") and m.endswith("ImagePlugin")),
                  "secrets": "secrets" in mods, "ocp": any(m == "OCP" or m.startswith("OCP.") for m in mods)}))
"""


def test_cold_stl_cli_imports_only_what_it_uses(tmp_path):
    """Only the decoders tracecad accepts are imported (not Pillow's ~45 plugins), and no `secrets`/OpenSSL."""
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png)
    out = subprocess.run([sys.executable, "-c", CLI_CODE, str(png), str(tmp_path / "out")],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    assert r["rc"] == 0 and r["ocp"] is False and r["secrets"] is False
    accepted = {"PIL.BmpImagePlugin", "PIL.GifImagePlugin", "PIL.JpegImagePlugin", "PIL.PpmImagePlugin",
                "PIL.PngImagePlugin", "PIL.TiffImagePlugin", "PIL.WebPImagePlugin", "PIL.MpoImagePlugin"}
    assert "PIL.PngImagePlugin" in r["pil_plugins"]
    assert set(r["pil_plugins"]) <= accepted, set(r["pil_plugins"]) - accepted
