"""Faults: a kill or a crash during a write never leaves a half-written file under the final name.

The conversion runs in a child process whose writer is slowed down half way
through a file (a monkeypatched writer that writes half, reports, then
sleeps); the parent kills the child at that moment, for real, and inspects
the output folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

import shapes
from cad.checks import check_file
from tracecad.cli import main

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import cad.export.stl as stl

    marker = Path(sys.argv[1])
    real = stl.stl_bytes

    def slow_write(mesh, path):
        data = real(mesh)
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])       # half of the file is on disk ...
            fh.flush()
            os.fsync(fh.fileno())
            marker.write_text(str(path))            # ... tell the parent where, then stall
            time.sleep(60)
            fh.write(data[len(data) // 2:])
        return Path(path)

    stl.write_stl = slow_write
    import tracecad.modes.extrude  # noqa: E402  (imports write_stl from the patched module at call time)
    from tracecad.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _start(tmp_path: Path, out: Path, extra=()) -> tuple[subprocess.Popen, Path]:
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png)
    marker = tmp_path / "writing"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), "convert", str(png), "-o", str(out),
                             "--formats", "stl", "-q", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=shapes.default_sigint)
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the child ended before writing: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the child never reached the write")
        time.sleep(0.05)
    return proc, Path(marker.read_text())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_kill_during_write_leaves_nothing_under_the_final_name(tmp_path, sig):
    out = tmp_path / "o"
    proc, partial = _start(tmp_path, out)
    assert partial.parent == out and partial.name.startswith(".ring.stl.") and partial.name.endswith(".part")
    assert partial.stat().st_size > 0  # the half-written file really exists, under its temporary name
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)
    assert not (out / "ring.stl").exists()  # never under the final name
    names = sorted(p.name for p in out.iterdir())
    if sig == signal.SIGKILL:
        # Nothing can run in a SIGKILLed process: its hidden temporary may stay; the next write sweeps it.
        assert names in ([], [partial.name])
    else:
        assert names == [], names  # SIGTERM and Ctrl-C unwind and delete the temporary
        assert proc.returncode != 0


def test_next_run_after_a_kill_sweeps_the_stale_temporary(tmp_path, capsys):
    out = tmp_path / "o"
    proc, partial = _start(tmp_path, out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert partial.exists()  # left by the kill
    code = main(["convert", str(tmp_path / "ring.png"), "-o", str(out), "--formats", "stl", "-q"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["ring.stl"]
    assert check_file(out / "ring.stl")["ok"]


def test_kill_during_a_rewrite_keeps_the_previous_complete_file(tmp_path, capsys):
    out = tmp_path / "o"
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png)
    assert main(["convert", str(png), "-o", str(out), "--formats", "stl", "-q", "--thickness", "5"]) == 0
    before = (out / "ring.stl").read_bytes()
    proc, _ = _start(tmp_path, out, extra=("--thickness", "2"))
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert (out / "ring.stl").read_bytes() == before  # the complete previous file, byte for byte
    m = trimesh.load(out / "ring.stl", force="mesh")
    assert m.is_volume and m.bounds[1][2] == pytest.approx(5, abs=1e-6)


def test_crash_in_a_writer_leaves_nothing(tmp_path, monkeypatch, capsys):
    """An exception half way through the STEP write (after STL was staged): no file at all."""
    import cad.export.step as step

    def crash(shape, path):
        Path(path).write_bytes(b"ISO-10303-21;\nHEADER;")  # half a file
        raise MemoryError("simulated crash in the STEP writer")

    monkeypatch.setattr(step, "write_step", crash)
    png = tmp_path / "ring.png"
    shapes.save_png(shapes.ring(), png)
    code = main(["convert", str(png), "-o", str(tmp_path / "o"), "--formats", "stl,step,3mf", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "ring" in err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == []


# ---------------------------------------------------------------- tracecad check

@pytest.fixture
def good_files(tmp_path):
    png = tmp_path / "r.png"
    shapes.save_png(shapes.square_with_hole(), png)
    assert main(["convert", str(png), "-o", str(tmp_path), "--formats", "step,stl,3mf", "-q"]) == 0
    return {e: tmp_path / f"r.{e}" for e in ("step", "stl", "3mf")}


def _check(capsys, *files):
    code = main(["check", *map(str, files)])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_accepts_good_files(capsys, good_files):
    code, out, _ = _check(capsys, *good_files.values())
    assert code == 0 and out.count(": ok") == 3
    for f in good_files.values():
        rep = check_file(f)
        assert rep["ok"] and rep["solids"] == 1 and rep["volume_mm3"] > 0
    assert check_file(good_files["stl"])["genus"] == 1


def _stl_records(path):
    data = path.read_bytes()
    dtype = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    n = int(np.frombuffer(data, "<u4", 1, 80)[0])
    return data[:80], np.frombuffer(data, dtype, n, 84).copy()


def _write_stl(path, header, rec):
    path.write_bytes(header + np.uint32(len(rec)).tobytes() + rec.tobytes())


def test_check_rejects_an_open_mesh(capsys, good_files, tmp_path):
    header, rec = _stl_records(good_files["stl"])
    bad = tmp_path / "open.stl"
    _write_stl(bad, header, rec[1:])  # one triangle missing: a hole in the surface
    code, out, _ = _check(capsys, good_files["stl"], bad)
    assert code == 1 and "open.stl: NOT a valid closed solid: not watertight" in out


def test_check_rejects_a_flipped_triangle(capsys, good_files, tmp_path):
    header, rec = _stl_records(good_files["stl"])
    rec["v"][5] = rec["v"][5][::-1]
    bad = tmp_path / "flipped.stl"
    _write_stl(bad, header, rec)
    code, out, _ = _check(capsys, bad)
    assert code == 1 and "inconsistent winding" in out


def test_check_rejects_an_inside_out_mesh(capsys, good_files, tmp_path):
    header, rec = _stl_records(good_files["stl"])
    rec["v"] = rec["v"][:, ::-1]
    bad = tmp_path / "inside_out.stl"
    _write_stl(bad, header, rec)
    code, out, _ = _check(capsys, bad)
    assert code == 1 and "negative volume" in out


@pytest.mark.parametrize("shift", [0.5, 1.0, 1.5])
def test_check_rejects_bodies_that_pass_through_each_other(capsys, tmp_path, shift):
    """A closed unit cube and a 1 x 0.6 x 0.6 box ``shift`` apart (no shared vertices): overlapping is
    refused with the shared volume, touching along a face (as colour bodies do) or apart is fine."""
    a = trimesh.creation.box(extents=(1, 1, 1))
    b = trimesh.creation.box(extents=(1, 0.6, 0.6))
    b.apply_translation([shift, 0.0, 0.0])
    f = tmp_path / "two.stl"
    trimesh.util.concatenate([a, b]).export(f)
    rep = check_file(f)
    assert rep["solids"] == 2 and rep["watertight"] and rep["volume_mm3"] == pytest.approx(1.36)
    code, out, _ = _check(capsys, f)
    if shift < 1.0:
        assert not rep["ok"] and rep["overlap_mm3"] == pytest.approx(0.36 * (1.0 - shift), rel=1e-4)
        assert code == 1 and "pass through each other" in out
    else:
        assert rep["ok"] and rep["overlap_mm3"] == 0.0 and code == 0


@pytest.mark.parametrize("suffix", [".stl", ".3mf", ".step"])
def test_check_rejects_garbage_and_truncated_files(capsys, good_files, tmp_path, suffix):
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    data = good_files[suffix[1:]].read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    code, out, err = _check(capsys, garbage, cut, empty)
    assert code == 1 and "Traceback" not in out + err
    lines = out.splitlines()
    assert len(lines) == 3 and all("NOT a valid closed solid" in line for line in lines), out


def test_check_json_stays_clean_on_a_broken_step(capfd, good_files, tmp_path):
    """OpenCASCADE's parser prints its own complaints on the process's stdout; none may reach it
    (with --json, stdout is one JSON document), the verdict is ours."""
    broken = tmp_path / "broken.step"
    broken.write_text("ISO-10303-21;\nthis is not STEP;\n")
    code = main(["check", str(broken), str(good_files["step"]), "--json"])
    out, err = capfd.readouterr()
    doc = json.loads(out)
    res = doc["results"] if isinstance(doc, dict) else doc
    assert code == 1 and [r["ok"] for r in res] == [False, True]
    assert "StepFile" not in out + err and "Traceback" not in err


def test_check_rejects_a_step_without_a_closed_solid(capsys, tmp_path):
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace
    from OCP.gp import gp_Pln

    from cad.export.step import write_step

    face = BRepBuilderAPI_MakeFace(gp_Pln(), 0, 10, 0, 10).Face()  # a surface, not a solid
    f = tmp_path / "sheet.step"
    write_step(face, f)
    code, out, _ = _check(capsys, f)
    assert code == 1 and "no solid" in out


def test_check_missing_and_unknown_files(capsys, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("x")
    code, out, err = _check(capsys, tmp_path / "missing.stl", other, tmp_path)
    assert code == 1 and "Traceback" not in out + err
    assert "no such file" in out and "unknown file type" in out and "directory" in out
