"""3MF (core spec, unit millimetre): named, coloured parts, in one of three layouts.

* ``"objects"`` (default): one object per part, its colour as a base material. Every 3MF reader
  understands it; slicers show one object per part.
* ``"prusa"``: one object holding every part's triangles (each part's vertices in one block), the
  colour of each triangle as a base material (``p1``), and PrusaSlicer's project files (see
  :mod:`cad.export.slicers`) that cut the object into named parts, each on its extruder.
* ``"bambu"``: one mesh object per part and one object assembling them as components (the layout
  whose parts Bambu Studio and OrcaSlicer assign to filaments), coloured through a materials-extension
  colour group (the colours those slicers read from other applications' files), with their project files.

:func:`read_3mf` reads any of them (and other writers' files) back as ``(name, mesh, colour)``
parts: an object's triangles split by their base material, components resolved with their
transforms, sub-model files (production extension) followed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from cad.export.slicers import Project, bambu_files, prusa_files
from cad.mesh import Mesh
from tracer.errors import ExportError

__all__ = ["write_3mf", "read_3mf", "Part", "LAYOUTS"]

LAYOUTS = ("objects", "prusa", "bambu")

_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
_NS_PROD = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"
_NS_MAT = "http://schemas.microsoft.com/3dmanufacturing/material/2015/02"
_CT = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
<Default Extension="config" ContentType="text/plain"/>
<Default Extension="xml" ContentType="application/xml"/>
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


def _header(out: io.StringIO, metadata: dict[str, str], extra_ns: str = "") -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<model unit="millimeter" xml:lang="en-US" xmlns="{_NS}"{extra_ns}>\n')
    for key, value in metadata.items():
        out.write(f'<metadata name="{_esc(key)}">{_esc(value)}</metadata>\n')
    out.write("<resources>\n")


def _materials(out: io.StringIO, parts: list[Part]) -> bool:
    if not any(p[2] for p in parts):
        return False
    out.write('<basematerials id="1">\n')
    for name, _, color in parts:
        out.write(f'<base name="{_esc(name)}" displaycolor="{(color or "#808080").upper()}FF"/>\n')
    out.write("</basematerials>\n")
    return True


def _mesh(out: io.StringIO, vertices: np.ndarray, faces: np.ndarray, p1: np.ndarray | None = None) -> None:
    out.write("<mesh>\n<vertices>\n")
    out.write(('<vertex x="%.9g" y="%.9g" z="%.9g"/>\n' * len(vertices)) % tuple(vertices.ravel()))
    out.write("</vertices>\n<triangles>\n")
    if p1 is None:
        out.write(('<triangle v1="%d" v2="%d" v3="%d"/>\n' * len(faces)) % tuple(faces.ravel()))
    else:
        rows = np.column_stack([faces, p1]).ravel()
        out.write(('<triangle v1="%d" v2="%d" v3="%d" p1="%d"/>\n' * len(faces)) % tuple(rows))
    out.write("</triangles>\n</mesh>\n")


def model_xml(parts: list[Part]) -> bytes:
    """The ``objects`` layout: one object per part."""
    out = io.StringIO()
    _header(out, {"Application": "tracecad"})
    colored = _materials(out, parts)
    for i, (name, mesh, _color) in enumerate(parts):
        mat = f' pid="1" pindex="{i}"' if colored else ""
        out.write(f'<object id="{i + 2}" name="{_esc(name)}" type="model"{mat}>\n')
        _mesh(out, mesh.vertices, mesh.faces)
        out.write("</object>\n")
    out.write("</resources>\n<build>\n")
    for i in range(len(parts)):
        out.write(f'<item objectid="{i + 2}"/>\n')
    out.write("</build>\n</model>\n")
    return out.getvalue().encode()


def _one_object_xml(parts: list[Part], name: str) -> tuple[bytes, list[tuple[int, int]]]:
    """The ``prusa`` layout's model: one object, each part a block of vertices and a run of triangles
    (``p1`` = its base material). Returns the XML and each part's (first, last) triangle index."""
    out = io.StringIO()
    _header(out, {"slic3rpe:Version3mf": "1", "Title": name, "Application": "tracecad"},
            ' xmlns:slic3rpe="http://schemas.slic3r.org/3mf/2017/06"')
    colored = _materials(out, parts)
    verts, faces, p1, ranges = [], [], [], []
    nv = nf = 0
    for k, (_, mesh, _) in enumerate(parts):
        verts.append(mesh.vertices)
        faces.append(mesh.faces + nv)
        p1.append(np.full(len(mesh.faces), k, np.int64))
        ranges.append((nf, nf + len(mesh.faces) - 1))
        nv += len(mesh.vertices)
        nf += len(mesh.faces)
    mat = ' pid="1" pindex="0"' if colored else ""
    out.write(f'<object id="2" name="{_esc(name)}" type="model"{mat}>\n')
    _mesh(out, np.concatenate(verts), np.concatenate(faces), np.concatenate(p1) if colored else None)
    out.write('</object>\n</resources>\n<build>\n<item objectid="2"/>\n</build>\n</model>\n')
    return out.getvalue().encode(), ranges


def _components_xml(parts: list[Part], name: str, extruders: tuple[int, ...], filaments: tuple[str, ...]) -> bytes:
    """The ``bambu`` layout's model: mesh objects 2..N+1, object N+2 assembling them as components. The
    colours are a materials-extension colour group listing the filaments in slot order, each part pointing
    at its extruder's entry: the colour data Bambu Studio and OrcaSlicer read from other applications' files
    (they number the distinct colours of the group 1, 2, ... as filaments, in the group's order)."""
    out = io.StringIO()
    _header(out, {"Application": "tracecad", "Title": name}, f' xmlns:m="{_NS_MAT}"')
    out.write('<m:colorgroup id="1">\n')
    for col in filaments:
        out.write(f'<m:color color="{col.upper()}FF"/>\n')
    out.write("</m:colorgroup>\n")
    for i, ((pname, mesh, _), extruder) in enumerate(zip(parts, extruders)):
        out.write(f'<object id="{i + 2}" name="{_esc(pname)}" type="model" pid="1" pindex="{extruder - 1}">\n')
        _mesh(out, mesh.vertices, mesh.faces)
        out.write("</object>\n")
    root = len(parts) + 2
    out.write(f'<object id="{root}" name="{_esc(name)}" type="model">\n<components>\n')
    for i in range(len(parts)):
        out.write(f'<component objectid="{i + 2}"/>\n')
    out.write(f'</components>\n</object>\n</resources>\n<build>\n<item objectid="{root}"/>\n</build>\n</model>\n')
    return out.getvalue().encode()


def write_3mf(parts: list[Part], path: str | Path, *, layout: str = "objects", project: Project | None = None) -> Path:
    """Write ``parts`` in ``layout`` (see the module docstring); ``project`` (the object's name, each part's
    extruder, the filament colours, colour changes) is required by the ``prusa`` and ``bambu`` layouts."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown 3MF layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    extra: dict[str, bytes] = {}
    if layout == "objects":
        model = model_xml(parts)
    elif project is None or len(project.extruders) != len(parts):
        raise ValueError(f"the {layout} layout needs a project with one extruder per part")
    elif layout == "prusa":
        model, ranges = _one_object_xml(parts, project.name)
        extra = prusa_files(project, [p[0] for p in parts], ranges)
    else:
        model = _components_xml(parts, project.name, project.extruders, project.filament_colors)
        extra = bambu_files(project, [p[0] for p in parts], [i + 2 for i in range(len(parts))], len(parts) + 2)
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("3D/3dmodel.model", model)
        for name, data in extra.items():
            z.writestr(name, data)
    return path


def read_3mf(path: str | Path) -> tuple[str, list[Part]]:
    """Read back ``(unit, parts)`` from a 3MF written by any tool: the build's objects, components
    resolved (with their transforms, also across the production extension's model files), an object's
    triangles split into one part per base material they carry."""
    try:
        with zipfile.ZipFile(path) as z:
            names = {n.lstrip("/"): n for n in z.namelist()}
            start = _start_part(z, names)
            if start is None:
                raise ExportError(f"{path}: 3MF has no model part")
            models = {n: ET.fromstring(z.read(names[n])) for n in names if n.lower().endswith(".model")}
    except (zipfile.BadZipFile, ET.ParseError, KeyError) as exc:
        raise ExportError(f"{path}: not a valid 3MF file ({exc})") from exc
    root = models[start]
    unit = root.get("unit", "millimeter")
    reader = _Reader(models, path)
    parts: list[Part] = []
    for item in root.iterfind("m:build/m:item", _NSMAP):
        file = (item.get(f"{{{_NS_PROD}}}path") or start).lstrip("/")
        parts += reader.parts(file, _required(item, "objectid", path), _transform(item.get("transform")), 0)
    if not root.findall("m:build/m:item", _NSMAP):  # no build: every object with a mesh
        for obj in root.iterfind("m:resources/m:object", _NSMAP):
            parts += reader.parts(start, _required(obj, "id", path), np.eye(4), 0)
    return unit, parts


_NSMAP = {"m": _NS}


def _start_part(z: zipfile.ZipFile, names: dict[str, str]) -> str | None:
    if "_rels/.rels" in names:
        try:
            rels = ET.fromstring(z.read(names["_rels/.rels"]))
        except ET.ParseError:
            rels = None
        for rel in (rels if rels is not None else []):
            if rel.get("Type", "").endswith("/3dmodel") and rel.get("Target", "").lstrip("/") in names:
                return rel.get("Target", "").lstrip("/")
    models = sorted(n for n in names if n.lower().endswith(".model"))
    return "3D/3dmodel.model" if "3D/3dmodel.model" in names else (models[0] if models else None)


def _transform(text: str | None) -> np.ndarray:
    m = np.eye(4)
    if text:
        v = [float(t) for t in text.split()]
        if len(v) == 12:
            m[:3, :3] = np.array(v[:9]).reshape(3, 3).T
            m[:3, 3] = v[9:]
    return m


class _Reader:
    def __init__(self, models: dict, path) -> None:
        self.models = models
        self.path = path
        self.colors: dict[tuple[str, str | None, str], tuple[str, str]] = {}
        for file, root in models.items():
            for bm in root.iterfind(".//m:basematerials", _NSMAP):
                for k, base in enumerate(bm.iterfind("m:base", _NSMAP)):
                    self.colors[(file, bm.get("id"), str(k))] = (base.get("name", ""), base.get("displaycolor", "")[:7])
            for cg in root.iterfind(f".//{{{_NS_MAT}}}colorgroup"):
                for k, col in enumerate(cg.iterfind(f"{{{_NS_MAT}}}color")):
                    self.colors[(file, cg.get("id"), str(k))] = ("", col.get("color", "")[:7])

    def parts(self, file: str, oid: str, matrix: np.ndarray, depth: int) -> list[Part]:
        if depth > 16 or file not in self.models:
            raise ExportError(f"{self.path}: not a valid 3MF file (component {oid} in {file} cannot be resolved)")
        obj = next((o for o in self.models[file].iterfind("m:resources/m:object", _NSMAP) if o.get("id") == oid), None)
        if obj is None:
            raise ExportError(f"{self.path}: not a valid 3MF file (no object {oid} in {file})")
        mesh = obj.find("m:mesh", _NSMAP)
        if mesh is None:
            out = []
            for comp in obj.iterfind("m:components/m:component", _NSMAP):
                sub = (comp.get(f"{{{_NS_PROD}}}path") or file).lstrip("/")
                out += self.parts(sub, _required(comp, "objectid", self.path),
                                  matrix @ _transform(comp.get("transform")), depth + 1)
            return out
        path = self.path
        v = np.array([[float(_required(e, "x", path)), float(_required(e, "y", path)), float(_required(e, "z", path))]
                      for e in mesh.iterfind("m:vertices/m:vertex", _NSMAP)], dtype=np.float64).reshape(-1, 3)
        tris = list(mesh.iterfind("m:triangles/m:triangle", _NSMAP))
        f = np.array([[int(_required(e, "v1", path)), int(_required(e, "v2", path)), int(_required(e, "v3", path))]
                      for e in tris], dtype=np.int64).reshape(-1, 3)
        if not np.allclose(matrix, np.eye(4)):
            v = v @ matrix[:3, :3].T + matrix[:3, 3]
        pid, pindex = obj.get("pid"), obj.get("pindex", "0")
        keys = [(t.get("pid", pid), t.get("p1", pindex)) for t in tris]
        name = obj.get("name", "")
        if pid is None and not any(k[0] for k in keys):
            return [Part(name, Mesh(v, f), None)]
        groups: dict[tuple, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        if len(groups) <= 1:
            return [Part(name, Mesh(v, f), self.colors.get((file, pid, pindex), ("", None))[1])]
        out = []
        for (gpid, gidx), rows in groups.items():
            sub = f[rows]
            used, inv = np.unique(sub, return_inverse=True)
            base_name, color = self.colors.get((file, gpid, gidx), (name, None))
            out.append(Part(base_name or name, Mesh(v[used], inv.reshape(-1, 3)), color))
        return out


def _required(element, name: str, path) -> str:
    """An XML attribute that the 3MF core spec requires (a vertex's x, a triangle's v1, ...)."""
    value = element.get(name)
    if value is None:
        raise ExportError(f"{path}: not a valid 3MF file (a <{element.tag.rpartition('}')[2]}> has no {name})")
    return value
