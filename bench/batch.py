"""Batch benchmark: ``--jobs 1`` vs ``--jobs 2`` on a 30-image folder, in the same run, plus the
broken-files and ``--skip-existing`` scenarios.

Each scenario runs the real command line in a subprocess (process start, worker spawn and all)::

    tracecad convert FOLDER -o OUT --formats step,stl --jobs N -q --report R.json

* speed: the same folder with ``--jobs 1`` and ``--jobs 2``, ``--repeat`` times, alternating which
  goes first; prints every wall time, the ratio per round and the median ratio (about 1.8 on
  2 otherwise idle cores). The load average is printed beside each run: other processes share the CPU.
* broken: a tree of 20 images in sub-folders (equal stems in different folders) plus 2 broken
  files; expects exit 1, 20 converted, and the report naming both failures with their reasons.
* skip-existing: deletes 5 of those outputs and reruns with ``--skip-existing``; expects exactly
  those 5 converted again (and the 2 broken ones failing again) and every other output untouched
  (same mtime and inode).

Images: the first ``--n`` ``*.512.png`` of the evaluation corpus (see bench/README.md; ``--corpus DIR``,
default ../shared/corpus) when present, otherwise synthetic 512 px line art drawn here.

Usage::

    nice -n 10 .venv/bin/python bench/batch.py [--n 30] [--repeat 2] [--formats step,stl] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def _tracecad() -> list[str]:
    return [sys.executable, "-m", "tracecad"]


def synthetic(folder: Path, n: int, size: int = 512) -> None:
    """Line art with curves, holes and text, different per index (deterministic)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(6)
    for i in range(n):
        img = np.full((size, size), 255, np.uint8)
        for _ in range(3 + i % 4):
            c = tuple(int(v) for v in rng.integers(80, size - 80, 2))
            cv2.circle(img, c, int(rng.integers(25, 90)), 0, -1, cv2.LINE_AA)
            cv2.circle(img, c, int(rng.integers(8, 22)), 255, -1, cv2.LINE_AA)
        cv2.putText(img, f"TC{i:02d}", (40, size - 60), cv2.FONT_HERSHEY_SIMPLEX, 3.2, 0, 14, cv2.LINE_AA)
        pts = rng.integers(40, size - 40, (7, 2)).astype(np.int32)
        cv2.fillPoly(img, [cv2.convexHull(pts)], 0, cv2.LINE_AA)
        cv2.imwrite(str(folder / f"img{i:02d}.png"), img)


def make_folder(folder: Path, n: int, corpus: Path | None) -> str:
    folder.mkdir(parents=True)
    found = sorted((corpus / "images").glob("*.512.png")) if corpus and (corpus / "images").is_dir() else []
    if len(found) >= n:
        for p in found[:n]:
            shutil.copyfile(p, folder / p.name)
        return f"{n} corpus png512 images ({corpus / 'images'})"
    synthetic(folder, n)
    return f"{n} synthetic 512 px images (the evaluation corpus is absent)"


def convert(src: Path, out: Path, report: Path, *extra: str) -> tuple[int, float, dict, str]:
    code, dt, _cpu, doc, err = convert_cpu(src, out, report, *extra)
    return code, dt, doc, err


def convert_cpu(src: Path, out: Path, report: Path, *extra: str):
    """Run the CLI; wall seconds and CPU seconds (user+sys of the process and its workers)."""
    cmd = [*_tracecad(), "convert", str(src), "-o", str(out), "-q", "--report", str(report), *extra]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    doc = json.loads(report.read_text()) if report.exists() else {}
    return p.returncode, dt, cpu, doc, p.stderr


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.2f} {b:.2f} {c:.2f}"


def bench_speed(src: Path, work: Path, formats: str, repeat: int) -> float:
    print(f"\n== speed: --jobs 1 vs --jobs 2, formats {formats}, {repeat} round(s)")
    ratios, cpus = [], []
    for r in range(repeat):
        times, cpu = {}, {}
        for jobs in ((1, 2) if r % 2 == 0 else (2, 1)):
            out = work / f"speed{r}_j{jobs}"
            before = load()
            code, dt, c, doc, err = convert_cpu(src, out, work / f"speed{r}_j{jobs}.json", "--formats", formats,
                                                "--jobs", str(jobs))
            s = doc.get("summary", {})
            print(f"  round {r + 1} --jobs {jobs}: {dt:7.2f} s wall, {c:7.2f} s CPU = {c / dt:.2f} CPUs used, exit {code}, "
                  f"converted {s.get('converted')}, failed {s.get('failed')}  ({before} before, {load()} after)")
            times[jobs], cpu[jobs] = dt, c
        ratios.append(times[1] / times[2])
        cpus.append(cpu[2] / cpu[1])
        print(f"  round {r + 1}: speed-up --jobs 2 / --jobs 1 = {ratios[-1]:.2f}x wall; "
              f"CPU seconds --jobs 2 / --jobs 1 = {cpus[-1]:.2f}")
    med = statistics.median(ratios)
    print(f"  speed-up over {repeat} round(s): median {med:.2f}x, min {min(ratios):.2f}x, max {max(ratios):.2f}x "
          f"(about 1.8x expected on 2 otherwise idle cores; {os.cpu_count()} CPUs here)")
    print(f"  parallel overhead: --jobs 2 spends {statistics.median(cpus):.2f}x the CPU seconds of --jobs 1 (median); "
          f"on 2 otherwise idle cores the wall speed-up is bounded by 2 / that = {2 / statistics.median(cpus):.2f}x. "
          "A load average above 2 means other processes took CPU during the run: the wall ratio is then not "
          "the idle-machine figure.")
    if _autogroup():
        print("  note: the kernel's autogroup scheduler is on, so the processes started from this terminal share "
              "one CPU quota against other terminals' process groups: under load, --jobs 2 gets no more CPU than --jobs 1 ('CPUs used' above), "
              "and only an otherwise idle machine shows the real speed-up.")
    return med


def bench_broken_and_skip(work: Path, formats: str) -> bool:
    import cv2
    import numpy as np

    print("\n== broken files: 20 images in a folder tree + 2 broken files, --jobs 2")
    src = work / "tree"
    flat = work / "flat"
    flat.mkdir()
    synthetic(flat, 20, size=256)
    for i, p in enumerate(sorted(flat.glob("*.png"))):
        sub = src / ("a" if i % 2 else "b") / ("deep" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.move(p, sub / f"logo{i // 2:02d}.png")  # equal stems in a/ and b/
    (src / "a" / "notes.png").write_text("this is not an image\n")
    ok, data = cv2.imencode(".png", np.zeros((64, 64), np.uint8))
    (src / "b" / "cut.png").write_bytes(data.tobytes()[:70])
    out = work / "tree_out"
    code, dt, doc, err = convert(src, out, work / "broken.json", "--formats", formats, "--jobs", "2")
    s = doc["summary"]
    fails = [(e["input"], e["error"]) for e in doc["results"] if e["status"] == "error"]
    n_files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"  exit {code}, converted {s['converted']}, failed {s['failed']}, {n_files} output files, {dt:.2f} s")
    for name, reason in fails:
        print(f"    failed: {reason}")
    good = code == 1 and s["converted"] == 20 and s["failed"] == 2 and {Path(n).name for n, _ in fails} == {"notes.png", "cut.png"}
    print(f"  {'PASS' if good else 'FAIL'}: exit 1, all 20 converted, both failures named with a reason")

    print("\n== --skip-existing: delete 5 outputs, rerun")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    stat = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in files}
    victims = [p for p in files if p.suffix == ".stl"][::4][:5]
    for p in victims:
        p.unlink()
    time.sleep(0.01)
    code2, dt2, doc2, _ = convert(src, out, work / "skip.json", "--formats", formats, "--jobs", "2", "--skip-existing")
    s2 = doc2["summary"]
    redone = {str(Path(e["input"])) for e in doc2["results"] if e["status"] == "ok"}
    untouched = all(stat[p] == (p.stat().st_mtime_ns, p.stat().st_ino) for p in files
                    if p.with_suffix("") not in {v.with_suffix("") for v in victims})
    print(f"  exit {code2}, converted {s2['converted']}, skipped {s2['skipped']}, failed {s2['failed']} "
          f"in {dt2:.2f} s (full run {dt:.2f} s); other outputs untouched: {untouched}")
    good2 = s2["converted"] == 5 and len(redone) == 5 and s2["skipped"] == 15 and s2["failed"] == 2 and untouched \
        and all(v.exists() for v in victims)
    print(f"  {'PASS' if good2 else 'FAIL'}: only the 5 missing were converted, the rest left untouched")
    return good and good2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--formats", default="step,stl")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tracecad-bench-batch-"))
    try:
        what = make_folder(work / "in", a.n, a.corpus if a.corpus.is_dir() else None)
        print(f"tracecad batch benchmark: {what}; {os.cpu_count()} CPUs; {load()}")
        print("reproduce: nice -n 10 .venv/bin/python bench/batch.py " + " ".join(argv if argv is not None else sys.argv[1:]))
        bench_speed(work / "in", work, a.formats, a.repeat)
        ok = bench_broken_and_skip(work, "stl")
    finally:
        if a.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
