"""The STEP check run before a file gets its final name: it accepts what OCC wrote and rejects damage."""

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
                   width_mm=30)
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
