"""Batch conversion (cad/batch.py through ``tracecad convert``): layout, failures, reports, resume,
manifest, parallel == sequential, progress, Dask, Ctrl-C."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

import shapes
from tracecad import batch, progress, report
from tracecad.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def disc(n=64, r=24):
    yy, xx = np.mgrid[:n, :n] + 0.5
    return np.hypot(xx - n / 2, yy - n / 2) <= r


def tree(root: Path, n_good: int, broken=()) -> dict[str, np.ndarray]:
    """``n_good`` small images spread over sub-folders (equal stems in different folders) + broken files."""
    masks = [shapes.square(), shapes.square_with_hole(), shapes.letter_f(4), disc(), shapes.ring(80, 30, 14)]
    made = {}
    for i in range(n_good):
        rel = Path(f"d{i % 3}") / (f"logo{i // 3}.png" if i % 2 else f"sub/logo{i // 3}.png")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shapes.save_png(masks[i % len(masks)], root / rel)
        made[rel.as_posix()] = masks[i % len(masks)]
    for rel, data in broken:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return made


def stl_ok(path: Path, entry: dict) -> None:
    m = trimesh.load(path, force="mesh")
    assert m.is_volume, path
    assert m.volume == pytest.approx(entry["area_mm2"] * entry["thickness_mm"], rel=2e-3)
    (x0, _, z0), (x1, _, z1) = m.bounds
    assert x1 - x0 == pytest.approx(entry["width_mm"], abs=0.02)
    assert z1 - z0 == pytest.approx(entry["thickness_mm"], abs=1e-6)


TRUNCATED_PNG = shapes.to_png(shapes.square_with_hole())[:60]


def test_folder_tree_is_mirrored_without_collisions(capsys, tmp_path):
    src = tmp_path / "in"
    made = tree(src, 6)
    code, out, err = run(capsys, "convert", src, "-o", tmp_path / "out", "--formats", "stl", "--json", "--jobs", "2")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"tracecad", "results"} and len(doc["results"]) == 6
    for e in doc["results"]:
        rel = Path(e["input"]).relative_to(src)
        want = tmp_path / "out" / rel.with_suffix(".stl")
        assert e["outputs"] == {"stl": str(want)}
        stl_ok(want, e)
        mask = made[rel.as_posix()]
        ys, xs = np.nonzero(mask)
        # each output is its own input's shape: the aspect ratio of the mask's bounding box survives
        assert e["height_mm"] / e["width_mm"] == pytest.approx((np.ptp(ys) + 1) / (np.ptp(xs) + 1), rel=0.03)
    outputs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert outputs == sorted(str(Path(k).with_suffix(".stl").as_posix()) for k in made)


def test_equal_stems_given_as_files_or_suffixes_get_distinct_outputs(capsys, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shapes.save_png(shapes.square(), tmp_path / "a" / "x.png")
    shapes.save_png(shapes.letter_f(4), tmp_path / "b" / "x.png")
    Image.fromarray(np.where(disc(), 0, 255).astype(np.uint8)).save(tmp_path / "b" / "x.jpg", quality=95)
    code, out, err = run(capsys, "convert", tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", tmp_path / "b" / "x.jpg",
                         "-o", tmp_path / "o", "--formats", "stl", "--json", "--jobs", "1")
    assert code == 0, err
    res = json.loads(out)["results"]
    paths = [Path(e["outputs"]["stl"]) for e in res]
    assert len(set(paths)) == 3
    assert [p.relative_to(tmp_path / "o").as_posix() for p in paths] == ["a/x.stl", "b/x-png.stl", "b/x-jpg.stl"]
    for p, e in zip(paths, res):
        stl_ok(p, e)
    assert "share an output name" in err


def test_broken_files_are_reported_in_json_and_csv_and_the_rest_converted(capsys, tmp_path):
    src = tmp_path / "in"
    tree(src, 6, broken=[("d1/broken.png", b"this is not an image"), ("d2/sub/cut.png", TRUNCATED_PNG)])
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "convert", src, "-o", out_dir, "--formats", "stl", "--jobs", "2", "-q",
                       "--report", tmp_path / "r.json")
    assert code == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    s = doc["summary"]
    assert (s["inputs"], s["converted"], s["failed"], s["skipped"], s["interrupted"]) == (8, 6, 2, 0, False)
    failed = {Path(e["input"]).name: e["error"] for e in doc["results"] if e["status"] == "error"}
    assert set(failed) == {"broken.png", "cut.png"}
    for name, reason in failed.items():
        assert reason.startswith(str(src)) and name in reason and len(reason) > len(str(src / name)) + 5
    for e in doc["results"]:
        if e["status"] == "ok":
            stl_ok(Path(e["outputs"]["stl"]), e)
    assert sum(1 for _ in out_dir.rglob("*.stl")) == 6
    assert not list(out_dir.rglob("*.part")) and not list(out_dir.rglob(".*"))
    # each failure is one sentence on stderr, no traceback
    assert err.count("tracecad: error:") == 2 and "Traceback" not in err

    # CSV report (resuming: the good ones are skipped, the broken ones fail again with the same reasons)
    code, _, _ = run(capsys, "convert", src, "-o", out_dir, "--formats", "stl", "--jobs", "2", "-q",
                     "--skip-existing", "--report", tmp_path / "r.csv")
    assert code == 1
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and list(rows[0]) == list(report.CSV_COLUMNS)
    assert {Path(r["input"]).name: r["error"] for r in rows if r["status"] == "error"} == failed
    assert sum(r["status"] == "skipped" for r in rows) == 6


def test_skip_existing_converts_only_missing_outputs_and_leaves_the_rest_untouched(capsys, tmp_path):
    src = tmp_path / "in"
    tree(src, 5)
    out_dir = tmp_path / "out"
    assert run(capsys, "convert", src, "-o", out_dir, "--formats", "stl,svg", "-q", "--jobs", "2")[0] == 0
    files = sorted(out_dir.rglob("*.*"))
    assert len(files) == 10
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in files}
    victims = [p for p in files if p.suffix == ".stl"][:2]
    victims.append(next(p for p in files if p.suffix == ".svg" and p.with_suffix(".stl") not in victims))
    for p in victims:
        p.unlink()
    time.sleep(0.01)
    code, out, err = run(capsys, "convert", src, "-o", out_dir, "--formats", "stl,svg", "--json", "--skip-existing")
    assert code == 0, err
    res = json.loads(out)["results"]
    redone = {str(p.with_suffix("")) for p in victims}
    for e in res:
        stem = str(Path(e["outputs"]["stl"]).with_suffix(""))
        assert e["status"] == ("ok" if stem in redone else "skipped")
    assert sum(e["status"] == "ok" for e in res) == 3
    for p, (mtime, ino) in before.items():
        assert p.exists()
        if str(p.with_suffix("")) not in redone:
            assert (p.stat().st_mtime_ns, p.stat().st_ino) == (mtime, ino), p
        else:
            assert p.stat().st_ino != ino or p.stat().st_mtime_ns != mtime


def test_manifest_sets_width_height_and_thickness_per_file(capsys, tmp_path):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    shapes.save_png(shapes.square_with_hole(), src / "a" / "logo.png")
    shapes.save_png(shapes.letter_f(4), src / "logo.png")
    shapes.save_png(disc(), src / "plain.png")
    shapes.save_png(shapes.square(), src / "tall.png")
    man = tmp_path / "m.csv"
    man.write_text("input,width,height,thickness\n"
                   "a/logo.png,80,,\n"          # folder-relative key: this file only
                   "in/logo.png,25,,5\n"         # relative to the manifest's folder
                   "tall.png,,12.5,\n"           # bare name
                   "missing.png,10,,\n")
    code, out, err = run(capsys, "convert", src, "-o", tmp_path / "o", "--formats", "stl", "--json",
                         "--width", "30", "--manifest", man, "--jobs", "2")
    assert code == 0, err
    res = {Path(e["input"]).relative_to(src).as_posix(): e for e in json.loads(out)["results"]}
    assert res["a/logo.png"]["width_mm"] == pytest.approx(80, abs=1e-9)
    assert res["logo.png"]["width_mm"] == pytest.approx(25, abs=1e-9) and res["logo.png"]["thickness_mm"] == 5
    assert res["plain.png"]["width_mm"] == pytest.approx(30, abs=1e-9) and res["plain.png"]["thickness_mm"] == 3
    assert res["tall.png"]["height_mm"] == pytest.approx(12.5, abs=1e-9)
    for e in res.values():
        stl_ok(Path(e["outputs"]["stl"]), e)
    assert "missing.png" in err and "matches no input" in err


def test_a_manifest_alone_lists_the_inputs(capsys, tmp_path):
    """Without INPUT the manifest's rows are the inputs, relative to its folder; a row's file that is
    missing fails alone (exit 1), and without either there is nothing to do (exit 2)."""
    src = tmp_path / "jobs"
    (src / "a").mkdir(parents=True)
    shapes.save_png(shapes.square_with_hole(), src / "a" / "logo.png")
    shapes.save_png(disc(), src / "plain.png")
    shapes.save_png(disc(), src / "not_listed.png")
    man = src / "m.csv"
    man.write_text("input,width,thickness\na/logo.png,40,\nplain.png,,2\nmissing.png,,\n")
    code, out, err = run(capsys, "convert", "--manifest", man, "-o", tmp_path / "o", "--formats", "stl", "--json")
    assert code == 1
    res = {Path(e["input"]).relative_to(src).as_posix(): e for e in json.loads(out)["results"]}
    assert set(res) == {"a/logo.png", "plain.png", "missing.png"}  # the rows, not the folder
    assert res["a/logo.png"]["width_mm"] == pytest.approx(40, abs=1e-9)
    assert res["plain.png"]["thickness_mm"] == 2 and res["plain.png"]["width_mm"] == pytest.approx(50, abs=1e-9)
    assert res["missing.png"]["status"] == "error" and "missing.png: no such file" in err
    for name in ("a/logo.png", "plain.png"):
        stl_ok(Path(res[name]["outputs"]["stl"]), res[name])
    code, _, err = run(capsys, "convert", "-o", tmp_path / "o2")
    assert code == 2 and "--manifest" in err and not (tmp_path / "o2").exists()


def test_manifest_errors_are_usage_errors(capsys, tmp_path):
    png = tmp_path / "x.png"
    shapes.save_png(shapes.square(), png)
    bad = tmp_path / "bad.csv"
    bad.write_text("input,colour\nx.png,red\n")
    code, _, err = run(capsys, "convert", png, "-o", tmp_path / "o", "--manifest", bad)
    assert code == 2 and "colour" in err
    bad.write_text("input,width\nx.png,-3\n")
    code, _, err = run(capsys, "convert", png, "-o", tmp_path / "o", "--manifest", bad)
    assert code == 2 and "line 2" in err
    bad.write_text("input,preset\nx.png,no-such-preset\n")
    code, _, err = run(capsys, "convert", png, "-o", tmp_path / "o", "--manifest", bad)
    assert code == 2 and "line 2" in err and ("products feature" in err or "unknown preset" in err)
    assert not (tmp_path / "o").exists()


def test_manifest_preset_column_acts_like_the_preset_flag(capsys, tmp_path):
    from tracecad.options import PRESETS

    for name in ("a", "b"):
        shapes.save_png(shapes.square_with_hole(), tmp_path / f"{name}.png")
    man = tmp_path / "m.csv"
    man.write_text("input,preset,width\na.png,keychain,40\n")
    code, out, err = run(capsys, "convert", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "o",
                         "--formats", "stl", "--json", "--manifest", man, "--jobs", "1")
    assert code == 0, err
    a, b = json.loads(out)["results"]
    assert a["thickness_mm"] == PRESETS["keychain"]["thickness_mm"] and b["thickness_mm"] == 3
    for e in (a, b):
        assert trimesh.load(e["outputs"]["stl"], force="mesh").is_volume


def _comparable(entry: dict, base: Path) -> dict:
    e = {k: v for k, v in entry.items() if k != "seconds"}
    e["outputs"] = {k: Path(v).relative_to(base).as_posix() for k, v in entry["outputs"].items()}
    return e


def test_two_workers_give_the_same_results_as_one(capsys, tmp_path):
    src = tmp_path / "in"
    tree(src, 5, broken=[("bad.png", b"")])
    docs = {}
    for n in (1, 2):
        code, out, err = run(capsys, "convert", src, "-o", tmp_path / f"o{n}", "--formats", "stl,svg", "--json",
                             "--jobs", n)
        assert code == 1, err
        docs[n] = [_comparable(e, tmp_path / f"o{n}") for e in json.loads(out)["results"]]
    assert docs[1] == docs[2]
    for p in (tmp_path / "o1").rglob("*.*"):
        assert p.read_bytes() == (tmp_path / "o2" / p.relative_to(tmp_path / "o1")).read_bytes(), p


def test_progress_is_plain_log_lines_when_stderr_is_not_a_terminal(capsys, tmp_path):
    src = tmp_path / "in"
    tree(src, 3)
    code, out, err = run(capsys, "convert", src, "-o", tmp_path / "o", "--formats", "stl", "--jobs", "1")
    assert code == 0
    lines = [l for l in err.splitlines() if l.startswith("tracecad: [")]
    assert [l.split("]")[0] for l in lines] == ["tracecad: [1/3", "tracecad: [2/3", "tracecad: [3/3"]
    assert all(" ok " in l and "files/s" in l and "ETA" in l for l in lines)
    assert "\x1b[" not in err  # no terminal control codes
    assert "converted 3, failed 0, skipped 0 of 3" in out

    class Tty:
        def isatty(self):
            return True

    assert isinstance(progress.make_progress(quiet=False, n_inputs=3, stream=Tty()), progress.RichProgress)
    assert type(progress.make_progress(quiet=True, n_inputs=3, stream=Tty())) is progress.MessagesOnly


def test_dask_executor_on_a_local_cluster_gives_the_same_report(capsys, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'tracecad[dask]')")
    src = tmp_path / "in"
    tree(src, 4, broken=[("d0/broken.png", b"GIF89a not really")])
    code, _, _ = run(capsys, "convert", src, "-o", tmp_path / "local", "--formats", "stl", "-q", "--jobs", "1",
                     "--report", tmp_path / "local.json")
    assert code == 1
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        code, _, err = run(capsys, "convert", src, "-o", tmp_path / "dask", "--formats", "stl", "-q",
                           "--executor", "dask", "--scheduler", cluster.scheduler_address,
                           "--report", tmp_path / "dask.json")
    assert code == 1, err
    local = json.loads((tmp_path / "local.json").read_text())
    remote = json.loads((tmp_path / "dask.json").read_text())
    assert remote["summary"]["executor"] == "dask" and remote["summary"]["jobs"] == 1
    assert [_comparable(e, tmp_path / "local") for e in local["results"]] == \
        [_comparable(e, tmp_path / "dask") for e in remote["results"]]
    for e in remote["results"]:
        if e["status"] == "ok":
            stl_ok(Path(e["outputs"]["stl"]), e)


def test_dask_needs_a_scheduler(capsys, tmp_path):
    png = tmp_path / "x.png"
    shapes.save_png(shapes.square(), png)
    code, _, err = run(capsys, "convert", png, "-o", tmp_path / "o", "--executor", "dask")
    assert code == 2 and "--scheduler" in err


@pytest.mark.parametrize("jobs,group", [(1, False), (2, False), (2, True)])
def test_ctrl_c_stops_cleanly_with_no_partial_file(tmp_path, jobs, group):
    """SIGINT to the main process alone, or (group=True) to the whole process group as a terminal's Ctrl-C does."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(60):
        shapes.save_png(shapes.ring(400, 180 - i, 60 + i % 7), src / f"r{i:02d}.png")
    out_dir = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "tracecad", "convert", str(src), "-o", str(out_dir),
                             "--formats", "stl,3mf,svg", "--jobs", str(jobs), "--report", str(tmp_path / "r.json")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=group, preexec_fn=shapes.default_sigint)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(out_dir.glob("*.stl"))) < 2:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    left = sorted(p.name for p in out_dir.iterdir())
    assert not [n for n in left if n.startswith(".") or n.endswith(".part")], left
    stems = {n.rsplit(".", 1)[0] for n in left}
    assert 2 <= len(stems) < 60
    for stem in stems:  # all or nothing per input, and every file that exists is whole
        assert sorted(n for n in left if n.rsplit(".", 1)[0] == stem) == [f"{stem}.3mf", f"{stem}.stl", f"{stem}.svg"]
        assert trimesh.load(out_dir / f"{stem}.stl", force="mesh").is_volume
    doc = json.loads((tmp_path / "r.json").read_text())  # the report is still written
    assert doc["summary"]["interrupted"] is True and len(doc["results"]) == 60
    ok = {Path(e["input"]).stem for e in doc["results"] if e["status"] == "ok"}
    assert ok <= stems and {e["status"] for e in doc["results"]} <= {"ok", "not run"}
    assert doc["summary"]["not_run"] == 60 - len(ok) > 0


class _CrashOnArrival:
    """Unpickling this in a worker kills the worker process at once, like a segfault in native code."""

    def __reduce__(self):
        return (os._exit, (3,))


def test_a_worker_crash_fails_only_its_own_input(tmp_path):
    from dataclasses import replace

    from tracecad import ConvertOptions

    src = tmp_path / "in"
    tree(src, 4)
    items = [(p, src) for p in sorted(src.rglob("*.png"))]
    jobs, _ = batch.plan(items, tmp_path / "o", ConvertOptions(formats="stl"))
    jobs[1] = replace(jobs[1], options=_CrashOnArrival())
    result = batch.run(jobs, n_jobs=2)
    assert [e["status"] for e in result.entries] == ["ok", "error", "ok", "ok"]
    assert "worker process died" in result.entries[1]["error"] and jobs[1].name in result.entries[1]["error"]
    for e in result.entries[::2]:
        stl_ok(Path(e["outputs"]["stl"]), e)
    assert not list((tmp_path / "o").rglob(".*"))


def test_terminal_progress_bar_shows_count_rate_eta_and_current_file(tmp_path):
    import io

    from rich.console import Console

    from tracecad import ConvertOptions

    src = tmp_path / "in"
    tree(src, 3, broken=[("zz.png", b"nope")])
    items = [(p, src) for p in sorted(src.rglob("*.png"))]
    jobs, _ = batch.plan(items, tmp_path / "o", ConvertOptions(formats="stl"))
    buf = io.StringIO()
    bar = progress.RichProgress(console=Console(file=buf, force_terminal=True, width=200))
    result = batch.run(jobs, n_jobs=1, progress=bar)
    text = buf.getvalue()
    assert result.count("ok") == 3 and result.failed == 1
    assert "4/4" in text and "files/s" in text and "ETA" in text and "logo0.png" in text
    assert "tracecad: error:" in text and "zz.png" in text
