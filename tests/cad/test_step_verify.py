"""The STEP check run before a file gets its final name: it accepts what OCC wrote and rejects damage."""

from pathlib import Path

import pytest

import shapes
import tracer
from cad.export.step import verify_step, write_step
from cad.regions import to_regions
from cad.solid import extrude

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    r = to_regions(tracer.trace(tracer.Mask(shapes.ring(n=200, r_out=90, r_in=70) | shapes.ring(n=200, r_out=40, r_in=20))),
                   width_mm=30, fit_tolerance_mm=0)  # potrace's Béziers: B-spline walls
    s = extrude(r, thickness_mm=2)
    p = write_step(s.shape, tmp_path_factory.mktemp("step") / "a.step")
    return p, s


def test_accepts_the_file_it_wrote(written):
    p, s = written
    assert s.solids == 2
    verify_step(p, solids=s.solids, faces=s.faces)


def test_a_file_name_with_hash_and_semicolon_is_fine(tmp_path, written):
    _, s = written
    p = write_step(s.shape, tmp_path / "logo #999999; v2.step")
    verify_step(p, solids=s.solids, faces=s.faces)


@pytest.mark.parametrize("damage", ["truncate", "drop_end", "inch", "face_count", "solid_count", "lost_entity",
                                    "dangling_ref"])
def test_rejects_a_damaged_or_different_file(written, tmp_path, damage):
    p, s = written
    data = p.read_bytes()
    solids, faces = s.solids, s.faces
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "drop_end":
        data = data.replace(b"END-ISO-10303-21;", b"")
    elif damage == "inch":
        data = data.replace(b"SI_UNIT(.MILLI.,.METRE.)", b"SI_UNIT($,.METRE.)")
    elif damage == "face_count":
        faces += 1
    elif damage == "solid_count":
        solids -= 1
    elif damage == "lost_entity":  # one whole entity line missing, the file otherwise intact
        lines = data.split(b"\n")
        k = next(i for i, ln in enumerate(lines) if ln.startswith(b"#20 ="))
        data = b"\n".join(lines[:k] + lines[k + 1:])
    elif damage == "dangling_ref":
        data = data.replace(b"#20,", b"#999999,", 1)
    q = tmp_path / "b.step"
    q.write_bytes(data)
    with pytest.raises(tracer.ExportError):
        verify_step(q, solids=solids, faces=faces)


def test_written_without_pcurves_reads_back_as_the_same_valid_curved_solids(written):
    """write.surfacecurve.mode 0: no PCURVE entities; OCC rebuilds the same valid solids, volume and faces."""
    from cad.export.step import read_step
    from cad.solid import count_solids, face_count, is_valid_shape, shape_volume

    p, s = written
    text = p.read_bytes()
    assert b"PCURVE" not in text and b"B_SPLINE_CURVE" in text  # the Bézier walls are there, their 2-D copies not
    back = read_step(p)
    assert is_valid_shape(back) and count_solids(back) == s.solids and face_count(back) == s.faces
    assert shape_volume(back) == pytest.approx(s.volume_mm3, rel=1e-9)


def test_write_step_restores_the_process_wide_writer_settings(written, tmp_path):
    """Interface_Static is global: another STEP writer in the process (multi-colour XCAF) keeps its settings."""
    from OCP.Interface import Interface_Static
    from OCP.STEPControl import STEPControl_Writer

    _, s = written
    STEPControl_Writer()
    Interface_Static.SetIVal_s("write.surfacecurve.mode", 1)
    Interface_Static.SetCVal_s("write.step.product.name", "someone else's")
    write_step(s.shape, tmp_path / "b.step")
    assert Interface_Static.IVal_s("write.surfacecurve.mode") == 1
    assert Interface_Static.CVal_s("write.step.product.name") == "someone else's"


def test_the_part_is_named_after_the_final_file_not_the_staging_file(tmp_path):
    """The STEP writes to a temporary file that is renamed on success; CAD programs show the PRODUCT name."""
    import re

    from tracecad import ConvertOptions, convert

    src = tmp_path / "badge.png"
    shapes.save_png(shapes.square_with_hole(), src)
    out = convert(src, tmp_path / "out", ConvertOptions(width_mm=20, formats=("step",)))
    text = Path(out["outputs"]["step"]).read_bytes()
    names = re.findall(rb"PRODUCT\s*\(\s*'([^']*)'", text)
    assert names and {re.sub(rb" \d+$", b"", n) for n in names} == {b"badge"}  # OCC numbers products: 'badge 1'
