"""STEP AP214 in millimetres (OpenCASCADE's STEP translator), with read-back."""

from __future__ import annotations

from pathlib import Path

from tracer.errors import ExportError

__all__ = ["write_step", "read_step"]


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
