"""3MF (core spec, unit millimetre): one object per body or per colour, optional colours and names."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from cad.mesh import Mesh
from tracer.errors import ExportError

__all__ = ["write_3mf", "read_3mf", "Part"]

_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
_CT = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>"""


class Part(tuple):
    """``(name, mesh, color)``; color is ``"#RRGGBB"`` or None."""

    def __new__(cls, name: str, mesh: Mesh, color: str | None = None):
        return super().__new__(cls, (name, mesh, color))


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def model_xml(parts: list[Part]) -> bytes:
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<model unit="millimeter" xml:lang="en-US" xmlns="{_NS}">\n')
    out.write('<metadata name="Application">tracecad</metadata>\n<resources>\n')
    colored = [p for p in parts if p[2]]
    if colored:
        out.write('<basematerials id="1">\n')
        for name, _, color in parts:
            c = (color or "#808080").upper()
            out.write(f'<base name="{_esc(name)}" displaycolor="{c}FF"/>\n')
        out.write("</basematerials>\n")
    for i, (name, mesh, _color) in enumerate(parts):
        oid = i + 2
        mat = f' pid="1" pindex="{i}"' if colored else ""
        out.write(f'<object id="{oid}" name="{_esc(name)}" type="model"{mat}>\n<mesh>\n<vertices>\n')
        v = mesh.vertices
        out.write(('<vertex x="%.9g" y="%.9g" z="%.9g"/>\n' * len(v)) % tuple(v.ravel()))
        out.write("</vertices>\n<triangles>\n")
        f = mesh.faces
        out.write(('<triangle v1="%d" v2="%d" v3="%d"/>\n' * len(f)) % tuple(f.ravel()))
        out.write("</triangles>\n</mesh>\n</object>\n")
    out.write("</resources>\n<build>\n")
    for i in range(len(parts)):
        out.write(f'<item objectid="{i + 2}"/>\n')
    out.write("</build>\n</model>\n")
    return out.getvalue().encode()


def write_3mf(parts: list[Part], path: str | Path) -> Path:
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("3D/3dmodel.model", model_xml(parts))
    return path


def read_3mf(path: str | Path) -> tuple[str, list[Part]]:
    """Read back ``(unit, parts)`` from a 3MF written by any tool (core spec, no components)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.lower().endswith(".model")]
            if not names:
                raise ExportError(f"{path}: 3MF has no model part")
            root = ET.fromstring(z.read(names[0]))
    except (zipfile.BadZipFile, ET.ParseError, KeyError) as exc:
        raise ExportError(f"{path}: not a valid 3MF file ({exc})") from exc
    ns = {"m": _NS}
    unit = root.get("unit", "millimeter")
    colors: dict[tuple[str | None, str], str] = {}
    for bm in root.iterfind(".//m:basematerials", ns):
        for k, base in enumerate(bm.iterfind("m:base", ns)):
            colors[(bm.get("id"), str(k))] = base.get("displaycolor", "")[:7]
    parts = []
    for obj in root.iterfind(".//m:object", ns):
        mesh = obj.find("m:mesh", ns)
        if mesh is None:
            continue
        v = np.array([[float(_required(e, "x", path)), float(_required(e, "y", path)), float(_required(e, "z", path))]
                      for e in mesh.iterfind("m:vertices/m:vertex", ns)], dtype=np.float64).reshape(-1, 3)
        f = np.array([[int(_required(e, "v1", path)), int(_required(e, "v2", path)), int(_required(e, "v3", path))]
                      for e in mesh.iterfind("m:triangles/m:triangle", ns)], dtype=np.int64).reshape(-1, 3)
        color = colors.get((obj.get("pid"), obj.get("pindex", "")))
        parts.append(Part(obj.get("name", ""), Mesh(v, f), color))
    return unit, parts


def _required(element, name: str, path) -> str:
    """An XML attribute that the 3MF core spec requires (a vertex's x, a triangle's v1, ...)."""
    value = element.get(name)
    if value is None:
        raise ExportError(f"{path}: not a valid 3MF file (a <{element.tag.rpartition('}')[2]}> has no {name})")
    return value
