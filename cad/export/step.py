"""STEP AP214 in millimetres (OpenCASCADE's STEP translator), with read-back; coloured, named solids through XCAF."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tracer.errors import ExportError

__all__ = ["write_step", "read_step", "verify_step", "write_colored_step", "read_colored_step", "writer_settings",
           "quiet_occ_messages", "silent_occ_messages"]

_FACE = re.compile(rb"=\s*ADVANCED_FACE\s*\(")
_SOLID = re.compile(rb"=\s*MANIFOLD_SOLID_BREP\s*\(")
_ENTITY = re.compile(rb"^#(\d+)\s*=", re.M)
_REF = re.compile(rb"#(\d+)")
_STRING = re.compile(rb"'(?:[^']|'')*'")
_MM = re.compile(rb"LENGTH_UNIT\s*\(\s*\)[^;]*SI_UNIT\s*\(\s*\.MILLI\.\s*,\s*\.METRE\.\s*\)")


#: Writer settings (OCC ``Interface_Static``, process-wide), set by :func:`writer_settings` for each of
#: our writes (the plain writer and the XCAF writer below) and restored after it.
#: ``write.surfacecurve.mode = 0``: no p-curves (each edge's 2-D copy in every adjacent face's
#: parameter space). They are optional in AP214, derived data that readers recompute from the 3-D
#: edge and the surface (exact here: planes and linear extrusions); OCC documents the switch for
#: smaller files. Without them the 1080p logo's STEP has 19k entities instead of 43k (1.1 MB
#: instead of 2.5 MB) and is translated, written and verified in about half the time.
WRITE_SETTINGS = (("write.step.schema", "AP214IS"), ("write.step.unit", "MM"), ("write.surfacecurve.mode", 0))


@contextmanager
def writer_settings(product_name: str | None = None):
    """Set :data:`WRITE_SETTINGS` (and the product name) for one STEP write; restore the previous values after.

    Create the OCC writer before entering: creating it registers the settings with their defaults.
    """
    from OCP.Interface import Interface_Static

    settings = WRITE_SETTINGS + ((("write.step.product.name", product_name),) if product_name else ())
    saved = [(k, Interface_Static.IVal_s(k) if isinstance(v, int) else Interface_Static.CVal_s(k))
             for k, v in settings]

    def apply(values):
        for k, v in values:
            if isinstance(v, int):
                Interface_Static.SetIVal_s(k, v)
            elif v is not None:
                Interface_Static.SetCVal_s(k, v)
    try:
        apply(settings)
        yield
    finally:
        apply(saved)


def quiet_occ_messages() -> None:
    """OCC's default messenger prints only failures (not the translator's chatter) on stdout."""
    from OCP.Message import Message, Message_Gravity

    for printer in Message.DefaultMessenger_s().Printers():
        printer.SetTraceLevel(Message_Gravity.Message_Fail)


def write_step(shape, path: str | Path, *, name: str | None = None) -> Path:
    """Write one shape to ``path``; ``name`` is the product name a CAD program shows (default: the file's stem).

    Pass the final file's stem when ``path`` is a temporary staging file, or the part is named after it.
    """
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.STEPControl import STEPControl_AsIs, STEPControl_Writer

    path = Path(path)
    quiet_occ_messages()
    writer = STEPControl_Writer()
    with writer_settings(name or path.stem.lstrip(".")):
        if writer.Transfer(shape, STEPControl_AsIs) != IFSelect_RetDone:
            raise ExportError(f"{path.name}: OpenCASCADE could not translate the solid to STEP")
        if writer.Write(str(path)) != IFSelect_RetDone:
            raise ExportError(f"{path.name}: OpenCASCADE could not write the STEP file")
    return path


@contextmanager
def silent_occ_messages():
    """No OCC message at all on stdout inside (a broken file's parse errors are ours to report in one
    sentence, and would corrupt ``--json`` output); the default messenger's printers come back after."""
    from OCP.Message import Message

    messenger = Message.DefaultMessenger_s()
    printers = list(messenger.Printers())
    for printer in printers:
        messenger.RemovePrinter(printer)
    try:
        yield
    finally:
        for printer in printers:
            messenger.AddPrinter(printer)


def read_step(path: str | Path):
    """Read a STEP file into one OCC shape (a compound when it holds several roots)."""
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.STEPControl import STEPControl_Reader

    reader = STEPControl_Reader()
    with silent_occ_messages():
        if reader.ReadFile(str(path)) != IFSelect_RetDone:
            raise ExportError(f"{path}: not a readable STEP file")
        reader.TransferRoots()
    shape = reader.OneShape()
    if shape is None or shape.IsNull():
        raise ExportError(f"{path}: the STEP file holds no shape")
    return shape


def verify_step(path: str | Path, *, solids: int, faces: int) -> None:
    """Check a STEP file just written from a solid of ``solids`` solids and ``faces`` faces.

    The file must be complete (ISO-10303-21 header, DATA section, end marker),
    define every entity #1..#N exactly once with every ``#ref`` resolving,
    hold exactly that many MANIFOLD_SOLID_BREP and ADVANCED_FACE entities, and
    declare millimetres. This is a structural read of the whole file by a
    parser independent of the writer; it catches truncated, partial or
    mixed-up files. The shapes are not rebuilt from the file: the solid written
    was already checked (BRepCheck, volume = area x thickness), the translator
    maps its topology one to one (the counts confirm it), and rebuilding cost
    more than the rest of a STEP+STL+3MF run (bench/RESULTS.md). ``read_step``
    plus BRepCheck (``tracecad check``, the tests) does the full round trip.
    """
    path = Path(path)
    data = path.read_bytes()
    name = path.name
    start = data.find(b"\nDATA;")
    end = data.rfind(b"ENDSEC;")
    if (not data.startswith(b"ISO-10303-21;") or not data.rstrip().endswith(b"END-ISO-10303-21;")
            or start < 0 or end < start):
        raise ExportError(f"{name}: the STEP file is incomplete (no ISO-10303-21 header, DATA section or end marker)")
    body = _STRING.sub(b"''", data[start:end])  # names (from the file name) may hold '#' or ';'
    ids = np.array(_ENTITY.findall(body), dtype=np.int64)
    refs = np.array(_REF.findall(body), dtype=np.int64)
    n = len(ids)
    if n == 0 or not np.array_equal(np.sort(ids), np.arange(1, n + 1)):
        raise ExportError(f"{name}: the STEP file's entities are not numbered #1..#{n} once each (damaged file)")
    if len(refs) and (refs.min() < 1 or refs.max() > n):
        raise ExportError(f"{name}: the STEP file refers to entities it does not define (damaged file)")
    n_solids, n_faces = len(_SOLID.findall(body)), len(_FACE.findall(body))
    if n_solids != solids or n_faces != faces:
        raise ExportError(f"{name}: the STEP file holds {n_solids} solids and {n_faces} faces, "
                          f"expected {solids} and {faces}")
    if not _MM.search(body):
        raise ExportError(f"{name}: the STEP file does not declare millimetres")


# --------------------------------------------------------------------------- coloured, named solids (XCAF)

def _xcaf_doc():
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDocStd import TDocStd_Document
    from OCP.XCAFApp import XCAFApp_Application

    app = XCAFApp_Application.GetApplication_s()
    doc = TDocStd_Document(TCollection_ExtendedString("MDTV-XCAF"))
    app.InitDocument(doc)
    return doc


def write_colored_step(items: list[tuple[str, str, object]], path: str | Path) -> Path:
    """Write ``[(name, "#rrggbb", shape)]`` as one STEP AP214 file with named, coloured products (XCAF)."""
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.Quantity import Quantity_Color, Quantity_TOC_sRGB
    from OCP.STEPCAFControl import STEPCAFControl_Writer
    from OCP.STEPControl import STEPControl_AsIs
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDataStd import TDataStd_Name
    from OCP.XCAFDoc import XCAFDoc_ColorType, XCAFDoc_DocumentTool

    path = Path(path)
    quiet_occ_messages()
    doc = _xcaf_doc()
    st = XCAFDoc_DocumentTool.ShapeTool_s(doc.Main())
    ct = XCAFDoc_DocumentTool.ColorTool_s(doc.Main())
    for name, color, shape in items:
        lab = st.AddShape(shape, False)
        TDataStd_Name.Set_s(lab, TCollection_ExtendedString(name))
        r, g, b = (int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
        qc = Quantity_Color(r, g, b, Quantity_TOC_sRGB)
        ct.SetColor(lab, qc, XCAFDoc_ColorType.XCAFDoc_ColorGen)
        ct.SetColor(lab, qc, XCAFDoc_ColorType.XCAFDoc_ColorSurf)
    w = STEPCAFControl_Writer()
    w.SetColorMode(True)
    w.SetNameMode(True)
    with writer_settings():  # the same schema, unit and no p-curves as the one-body writer
        if not w.Transfer(doc, STEPControl_AsIs):
            raise ExportError(f"{path.name}: OpenCASCADE could not translate the coloured solids to STEP")
        if w.Write(str(path)) != IFSelect_RetDone:
            raise ExportError(f"{path.name}: OpenCASCADE could not write the STEP file")
    return path


def read_colored_step(path: str | Path) -> list[tuple[str | None, str | None, object]]:
    """Read a STEP file's top-level products as ``[(name, "#rrggbb" or None, shape)]`` (XCAF)."""
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.Quantity import Quantity_Color
    from OCP.STEPCAFControl import STEPCAFControl_Reader
    from OCP.TDataStd import TDataStd_Name
    from OCP.TDF import TDF_LabelSequence
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer
    from OCP.XCAFDoc import XCAFDoc_ColorTool, XCAFDoc_ColorType, XCAFDoc_DocumentTool, XCAFDoc_ShapeTool

    r = STEPCAFControl_Reader()
    r.SetColorMode(True)
    r.SetNameMode(True)
    if r.ReadFile(str(path)) != IFSelect_RetDone:
        raise ExportError(f"{path}: not a readable STEP file")
    doc = _xcaf_doc()
    if not r.Transfer(doc):
        raise ExportError(f"{path}: OpenCASCADE could not transfer the STEP file")
    st = XCAFDoc_DocumentTool.ShapeTool_s(doc.Main())
    ct = XCAFDoc_DocumentTool.ColorTool_s(doc.Main())
    seq = TDF_LabelSequence()
    st.GetFreeShapes(seq)
    out: list[tuple[str | None, str | None, object]] = []
    for i in range(1, seq.Length() + 1):
        lab = seq.Value(i)
        attr = TDataStd_Name()
        name: str | None = attr.Get().ToExtString() if lab.FindAttribute(TDataStd_Name.GetID_s(), attr) else None
        shape = XCAFDoc_ShapeTool.GetShape_s(lab)
        qc = Quantity_Color()
        gen, surf = XCAFDoc_ColorType.XCAFDoc_ColorGen, XCAFDoc_ColorType.XCAFDoc_ColorSurf
        color: str | None
        if XCAFDoc_ColorTool.GetColor_s(lab, gen, qc) or XCAFDoc_ColorTool.GetColor_s(lab, surf, qc):
            color = _hex(qc)
        else:  # the reader puts the colour on each solid of a compound: they must all agree
            found: set[str | None] = set()
            ex = TopExp_Explorer(shape, TopAbs_SOLID)
            while ex.More():
                q = Quantity_Color()
                found.add(_hex(q) if (ct.GetColor(ex.Current(), surf, q) or ct.GetColor(ex.Current(), gen, q)) else None)
                ex.Next()
            color = found.pop() if len(found) == 1 else None
        out.append((name, color, shape))
    return out


def _hex(qc) -> str:
    from OCP.Quantity import Quantity_TOC_sRGB

    r, g, b = (int(round(min(max(v, 0.0), 1.0) * 255)) for v in qc.Values(Quantity_TOC_sRGB))
    return f"#{r:02x}{g:02x}{b:02x}"
