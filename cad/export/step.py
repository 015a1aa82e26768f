"""STEP AP214 in millimetres (OpenCASCADE's STEP translator), with read-back."""

from __future__ import annotations

import re
from pathlib import Path

from tracer.errors import ExportError

__all__ = ["write_step", "read_step", "verify_step"]

_FACE = re.compile(rb"=\s*ADVANCED_FACE\s*\(")
_SOLID = re.compile(rb"=\s*MANIFOLD_SOLID_BREP\s*\(")
_MM = re.compile(rb"LENGTH_UNIT\s*\(\s*\)[^;]*SI_UNIT\s*\(\s*\.MILLI\.\s*,\s*\.METRE\.\s*\)")


def write_step(shape, path: str | Path) -> Path:
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.Interface import Interface_Static
    from OCP.Message import Message, Message_Gravity
    from OCP.STEPControl import STEPControl_AsIs, STEPControl_Writer

    path = Path(path)
    for printer in Message.DefaultMessenger_s().Printers():
        printer.SetTraceLevel(Message_Gravity.Message_Fail)
    writer = STEPControl_Writer()
    Interface_Static.SetCVal_s("write.step.schema", "AP214IS")
    Interface_Static.SetCVal_s("write.step.unit", "MM")
    Interface_Static.SetCVal_s("write.step.product.name", path.stem.lstrip("."))
    if writer.Transfer(shape, STEPControl_AsIs) != IFSelect_RetDone:
        raise ExportError(f"{path.name}: OpenCASCADE could not translate the solid to STEP")
    if writer.Write(str(path)) != IFSelect_RetDone:
        raise ExportError(f"{path.name}: OpenCASCADE could not write the STEP file")
    return path


def read_step(path: str | Path):
    """Read a STEP file into one OCC shape (a compound when it holds several roots)."""
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.STEPControl import STEPControl_Reader

    reader = STEPControl_Reader()
    if reader.ReadFile(str(path)) != IFSelect_RetDone:
        raise ExportError(f"{path}: not a readable STEP file")
    reader.TransferRoots()
    shape = reader.OneShape()
    if shape is None or shape.IsNull():
        raise ExportError(f"{path}: the STEP file holds no shape")
    return shape


def verify_step(path: str | Path, *, solids: int, faces: int) -> None:
    """Check a STEP file just written from a solid of ``solids`` solids and ``faces`` faces.

    The file must be complete (ISO-10303-21 header and end marker), hold
    exactly that many MANIFOLD_SOLID_BREP and ADVANCED_FACE entities, declare
    millimetres, and parse with OpenCASCADE's STEP reader (every entity's
    syntax). The shapes are not rebuilt from the file: the solid written was
    already checked (BRepCheck, volume = area x thickness) and the translator
    maps its topology one to one, which the face and solid counts confirm.
    The text checks run first, so a damaged file never reaches the C++ parser.
    """
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.STEPControl import STEPControl_Reader

    path = Path(path)
    data = path.read_bytes()
    name = path.name
    if not data.startswith(b"ISO-10303-21;") or not data.rstrip().endswith(b"END-ISO-10303-21;"):
        raise ExportError(f"{name}: the STEP file is incomplete (no ISO-10303-21 header or end marker)")
    n_solids, n_faces = len(_SOLID.findall(data)), len(_FACE.findall(data))
    if n_solids != solids or n_faces != faces:
        raise ExportError(f"{name}: the STEP file holds {n_solids} solids and {n_faces} faces, "
                          f"expected {solids} and {faces}")
    if not _MM.search(data):
        raise ExportError(f"{name}: the STEP file does not declare millimetres")
    if STEPControl_Reader().ReadFile(str(path)) != IFSelect_RetDone:
        raise ExportError(f"{name}: OpenCASCADE cannot parse the STEP file it wrote")
