"""The CLI, run in-process: exit codes, messages, the geometry contract."""

import json

import numpy as np
import pytest
import trimesh

import shapes
from tracecad.cli import main


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert "tracecad" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["convert", "--help"])
    assert e.value.code == 0 and "examples:" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "convert")  # neither an INPUT nor a --manifest that lists them
    assert code == 2 and "INPUT" in err and "--manifest" in err
    with pytest.raises(SystemExit) as e:
        main(["convert", "x.png", "--width", "10", "--height", "5"])
    assert e.value.code == 2
    code, _, err = run(capsys, "convert", tmp_path / "a.png", "-o", tmp_path, "--formats", "obj")
    assert code == 2 and "unknown format" in err


def test_a_folder_or_pattern_without_images_is_named(capsys, tmp_path):
    empty = tmp_path / "photos"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    code, _, err = run(capsys, "convert", f"{empty}/", "-o", tmp_path / "out")
    assert code == 2 and err.strip() == f"tracecad: error: {empty}/: no images found in this folder"
    dotted = tmp_path / "logo.png"  # a folder whose name looks like an image
    dotted.mkdir()
    code, _, err = run(capsys, "convert", dotted, "-o", tmp_path / "out")
    assert code == 2 and err.strip() == f"tracecad: error: {dotted}/: no images found in this folder"
    code, _, err = run(capsys, "convert", tmp_path / "nothing*.png", "-o", tmp_path / "out")
    assert code == 2 and err.strip() == f"tracecad: error: {tmp_path}/nothing*.png: no files match this pattern"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_geometry_contract_centred_width_and_not_mirrored(capsys, tmp_path):
    png = tmp_path / "F.png"
    shapes.save_png(shapes.letter_f(), png, aa=True)
    code, out, err = run(capsys, "convert", png, "-o", tmp_path / "o", "--formats", "stl", "--width", "42", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["results"][0]["width_mm"] == pytest.approx(42, abs=1e-9)
    m = trimesh.load(tmp_path / "o" / "F.stl", force="mesh")
    assert m.is_volume
    (x0, y0, z0), (x1, y1, z1) = m.bounds
    assert x1 - x0 == pytest.approx(42, abs=0.02)
    assert (x0 + x1) / 2 == pytest.approx(0, abs=0.02) and (y0 + y1) / 2 == pytest.approx(0, abs=0.02)
    assert z0 == pytest.approx(0, abs=1e-6) and z1 == pytest.approx(3, abs=1e-6)
    # 'F' read from +Z: more material top-left than bottom-right
    v = m.triangles_center
    top = m.area_faces[(v[:, 1] > 0.6 * y1) & (v[:, 2] > 2.9)].sum()
    bottom = m.area_faces[(v[:, 1] < 0.6 * y0) & (v[:, 2] > 2.9)].sum()
    assert top > 2 * bottom
    right = m.area_faces[(v[:, 0] > 0.5 * x1) & (v[:, 2] > 2.9)].sum()
    left = m.area_faces[(v[:, 0] < 0.5 * x0) & (v[:, 2] > 2.9)].sum()
    assert left > right


def test_partial_failure_exits_1_with_one_sentence_and_no_output(capsys, tmp_path):
    good = tmp_path / "good.png"
    shapes.save_png(shapes.ring(), good)
    bad = tmp_path / "bad.png"
    bad.write_text("this is not an image")
    code, out, err = run(capsys, "convert", good, bad, "-o", tmp_path / "o", "--formats", "stl", "-q")
    assert code == 1
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "bad.png" in lines[0] and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["good.stl"]


def test_blank_image_suggests_invert_or_threshold(capsys, tmp_path):
    blank = tmp_path / "blank.png"
    shapes.save_png(np.zeros((64, 64), bool), blank)
    code, _, err = run(capsys, "convert", blank, "-o", tmp_path / "o", "-q")
    assert code == 1 and "blank.png" in err and "--invert" in err and "Traceback" not in err


def test_debug_shows_traceback(capsys, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    code, _, err = run(capsys, "convert", bad, "-o", tmp_path / "o", "--debug", "-q")
    assert code == 1 and "Traceback" in err


def test_light_on_dark_and_invert(capsys, tmp_path):
    png = tmp_path / "neg.png"
    shapes.save_png(shapes.square_with_hole(), png, dark_on_light=False)
    code, out, _ = run(capsys, "convert", png, "-o", tmp_path / "o", "--formats", "stl", "--json")
    r = json.loads(out)["results"][0]
    assert code == 0 and r["holes"] == 1 and r["bodies"] == 1
    code, out, _ = run(capsys, "convert", png, "-o", tmp_path / "o2", "--formats", "stl", "--json", "--invert")
    r2 = json.loads(out)["results"][0]
    assert code == 0 and r2["area_mm2"] != pytest.approx(r["area_mm2"], rel=0.01)


def test_check_command(capsys, tmp_path):
    png = tmp_path / "r.png"
    shapes.save_png(shapes.ring(), png)
    assert run(capsys, "convert", png, "-o", tmp_path, "--formats", "step,stl,3mf", "-q")[0] == 0
    code, out, _ = run(capsys, "check", tmp_path / "r.stl", tmp_path / "r.3mf", tmp_path / "r.step")
    assert code == 0 and out.count(": ok") == 3
    broken = tmp_path / "broken.stl"
    data = (tmp_path / "r.stl").read_bytes()
    n = int(np.frombuffer(data, "<u4", 1, 80)[0]) - 1
    broken.write_bytes(data[:80] + np.uint32(n).tobytes() + data[84:84 + 50 * n])
    code, out, _ = run(capsys, "check", broken)
    assert code == 1 and "not watertight" in out


def test_freed_memory_is_kept_for_the_next_image_unless_the_user_chose():
    """glibc takes the CLI's malloc thresholds (mallopt would refuse a value over its limits); MALLOC_* wins."""
    import os
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    probe = "from tracecad.process import keep_freed_memory; print(keep_freed_memory())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    run = [sys.executable, "-c", probe]
    assert subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout.strip() == "True"
    env["MALLOC_TRIM_THRESHOLD_"] = "131072"
    assert subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_blas_runs_on_one_thread_unless_the_user_chose():
    """The CLI limits NumPy's BLAS to one thread (and its spawned workers); a count set by the user is kept."""
    import os
    import subprocess
    import sys

    probe = ("import json, os; from tracecad.process import single_threaded_blas; single_threaded_blas(); "
             "from threadpoolctl import threadpool_info; "
             "print(json.dumps([[i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'], "
             "os.environ.get('OPENBLAS_NUM_THREADS')]))")

    def run_probe(env):
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    counts, var = run_probe(env)
    assert counts and set(counts) == {1} and var == "1"
    counts, var = run_probe({**env, "OPENBLAS_NUM_THREADS": "2"})
    assert var == "2"  # the user's choice is left alone
