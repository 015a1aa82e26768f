"""A run that writes only meshes never loads OpenCASCADE; asking for STEP does (checked in a fresh interpreter)."""

import json
import subprocess
import sys

import pytest
import shapes

CODE = """
import json, sys
import cad
from cad.pipeline import ConvertOptions, convert
e = convert(sys.argv[1], sys.argv[2], ConvertOptions(formats=tuple(sys.argv[3].split(","))))
mods = sys.modules
print(json.dumps({"ocp": any(m == "OCP" or m.startswith("OCP.") for m in mods), "cadquery": "cadquery" in mods,
                  "threemf": "cad.export.threemf" in mods, "outputs": sorted(e["outputs"]), "faces": e["step_faces"]}))
"""


@pytest.mark.parametrize("formats, ocp", [("stl", False), ("stl,3mf", False), ("step,stl", True)])
def test_only_step_loads_opencascade(tmp_path, formats, ocp):
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png)
    out = subprocess.run([sys.executable, "-c", CODE, str(png), str(tmp_path / "out"), formats],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    assert r["outputs"] == sorted(formats.split(","))
    assert r["ocp"] is ocp
    assert r["cadquery"] is False  # cadquery (and VTK) are never needed: OCP alone builds and writes the B-rep
    assert r["threemf"] is ("3mf" in formats)
    assert (r["faces"] is not None) is ocp
