"""Fidelity benchmark: trace the corpus with the CLI and score it against the true vector shapes.

For each image kind (png512, png2048, jpeg35, photo) the script runs, in one process per kind::

    .venv/bin/tracecad convert <images of that kind> -o OUT/<kind> --formats stl --width 50 --json

then the evaluation corpus's ``score.py --outdir OUT/<kind> --width-mm 50 --kind <kind> --set mono``,
prints score.py's table, and a summary per kind (mean/min IoU, Hausdorff p95, watertight count,
median isolate seconds) against the fidelity targets.

Usage::

    nice -n 10 .venv/bin/python bench/fidelity.py [--corpus DIR] [--kind png512 ...] [--set mono] [--out DIR]
                                                   [--items a,b] [-- extra tracecad convert flags]

Exits 0 with a message when the evaluation corpus is absent (2 with ``--check``, which must measure).
``--check bench/fidelity_baseline.json`` exits 1 when a kind regresses against the locked versions'
figures (``make upgrade`` uses it); ``--write-baseline`` records them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
KINDS = ("png512", "png2048", "jpeg35", "photo")
#: targets: (mean IoU, worst IoU); every kind also needs all watertight and Hausdorff p95 <= 0.5 %.
TARGETS = {"png512": (0.995, 0.985), "png2048": (0.995, 0.985), "jpeg35": (0.993, 0.985), "photo": (0.993, 0.985)}
HAUSDORFF_P95_PCT = 0.5


def _tracecad() -> list[str]:
    exe = Path(sys.executable).parent / "tracecad"  # the virtualenv this script runs in
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "tracecad"]


def regressions(summary: dict, baseline: dict, *, mean_drop: float = 0.002, min_drop: float = 0.01) -> list[str]:
    """What ``summary`` loses against ``baseline`` (both per kind): a failure, a mesh that is not
    watertight, a mean IoU more than ``mean_drop`` or a worst IoU more than ``min_drop`` below the baseline."""
    out = []
    for kind, base in baseline.items():
        s = summary.get(kind)
        if s is None:
            out.append(f"{kind}: not measured")
            continue
        if s["failed"]:
            out.append(f"{kind}: {s['failed']} conversions failed")
        if s["watertight"] != s["n"] - s["failed"]:
            out.append(f"{kind}: {s['n'] - s['failed'] - s['watertight']} outputs are not watertight")
        if s["iou_mean"] < base["iou_mean"] - mean_drop:
            out.append(f"{kind}: mean IoU {s['iou_mean']:.4f} < {base['iou_mean']:.4f} - {mean_drop}")
        if s["iou_min"] < base["iou_min"] - min_drop:
            out.append(f"{kind}: worst IoU {s['iou_min']:.4f} < {base['iou_min']:.4f} - {min_drop}")
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", action="append", choices=KINDS, help="image kind (repeatable; default: all four)")
    ap.add_argument("--corpus", default=str(CORPUS), help="the corpus folder (default ../shared/corpus)")
    ap.add_argument("--set", default="mono", help="corpus set (default mono)")
    ap.add_argument("--items", default=None, help="comma list of item names (default: all of the set)")
    ap.add_argument("--out", default=None, help="output folder (default: a temporary folder)")
    ap.add_argument("--width", type=float, default=50.0, help="--width passed to tracecad and score.py (mm)")
    ap.add_argument("--quiet-table", action="store_true", help="print only the per-kind summary")
    ap.add_argument("--check", metavar="BASELINE", help="exit 1 when a kind regresses against this JSON summary "
                    "(bench/fidelity_baseline.json); exit 2 when the corpus is absent")
    ap.add_argument("--write-baseline", metavar="FILE", help="write the per-kind summary as a baseline")
    a = ap.parse_args(argv)
    corpus = Path(a.corpus)

    if not (corpus / "score.py").exists() or not (corpus / "manifest.json").exists():
        print(f"fidelity: {corpus} is absent; nothing to measure (skipped)")
        return 2 if a.check else 0
    try:
        import cairosvg  # noqa: F401
        import svgelements  # noqa: F401
    except ImportError:
        print("fidelity: score.py needs svgelements and cairosvg (the lock installs them); skipped")
        return 2 if a.check else 0

    manifest = json.loads((corpus / "manifest.json").read_text())
    wanted = set(a.items.split(",")) if a.items else None
    kinds = a.kind or list(KINDS)
    out_root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="tracecad-fidelity-"))
    print(f"fidelity: outputs in {out_root}; extra flags: {' '.join(extra) or '(none)'}")
    summary = {}
    for kind in kinds:
        images = [corpus / img["path"] for it in manifest["items"]
                  if it.get("set") == a.set and (wanted is None or it["name"] in wanted)
                  for img in it["images"] if img["kind"] == kind]
        outdir = out_root / kind
        outdir.mkdir(parents=True, exist_ok=True)
        cmd = [*_tracecad(), "convert", *map(str, images), "-o", str(outdir), "--formats", "stl",
               "--width", f"{a.width:g}", "--json", *extra]
        run = subprocess.run(cmd, capture_output=True, text=True)
        iso_s, errors = [], []
        try:
            for e in json.loads(run.stdout)["results"]:
                if e["status"] == "ok":
                    iso_s.append(e["seconds"].get("isolate", float("nan")))
                else:
                    errors.append(e["error"])
        except (json.JSONDecodeError, KeyError):
            print(run.stderr[-2000:])
            errors.append(f"tracecad exited {run.returncode} without a JSON report")
        for err in errors:
            print(f"  tracecad error: {err}")
        score_cmd = [sys.executable, str(corpus / "score.py"), "--outdir", str(outdir), "--width-mm", f"{a.width:g}",
                     "--kind", kind, "--set", a.set, "--json"]
        sc = subprocess.run(score_cmd, capture_output=True, text=True)
        rows = []
        for line in sc.stdout.splitlines():
            obj = json.loads(line)
            if "summary" not in obj:
                rows.append(obj)
        if wanted is not None:
            rows = [r for r in rows if r["item"] in wanted]
        if not a.quiet_table:
            for r in sorted(rows, key=lambda r: r.get("iou", -1)):
                if "error" in r:
                    print(f"FAIL {r['item']:<24} {kind:<8} {r['error']}")
                else:
                    print(f"{r['item']:<24} {kind:<8} iou {r['iou']:.4f}  hausdorff {r['hausdorff_pct']:.2f}%  "
                          f"area {r['area_ratio']:.4f}  width {r['width_out_mm']:.3f}  watertight {r['is_volume']}")
        ok = [r for r in rows if "iou" in r]
        ious = sorted(r["iou"] for r in ok)
        hs = sorted(r["hausdorff_pct"] for r in ok)
        s = {
            "n": len(rows), "failed": len(rows) - len(ok),
            "iou_mean": statistics.fmean(ious) if ious else 0.0, "iou_min": ious[0] if ious else 0.0,
            "worst": min(ok, key=lambda r: r["iou"])["item"] if ok else None,
            "hausdorff_p95": hs[min(len(hs) - 1, int(0.95 * len(hs)))] if hs else float("inf"),
            "watertight": sum(bool(r.get("is_volume")) for r in ok),
            "isolate_s_median": statistics.median(iso_s) if iso_s else float("nan"),
        }
        summary[kind] = s
    print()
    print(f"{'kind':<8} {'n':>3} {'mean IoU':>9} {'min IoU':>8} {'worst':<16} {'H p95 %':>8} {'watertight':>10} "
          f"{'isolate s':>9}  target")
    for kind, s in summary.items():
        mean_t, min_t = TARGETS[kind]
        met = (s["failed"] == 0 and s["watertight"] == s["n"] and s["iou_mean"] >= mean_t and s["iou_min"] >= min_t
               and s["hausdorff_p95"] <= HAUSDORFF_P95_PCT)
        print(f"{kind:<8} {s['n']:>3} {s['iou_mean']:>9.4f} {s['iou_min']:>8.4f} {str(s['worst']):<16} "
              f"{s['hausdorff_p95']:>8.2f} {s['watertight']:>4}/{s['n']:<5} {s['isolate_s_median']:>9.3f}  "
              f"{'met' if met else 'NOT met'} (mean>={mean_t}, min>={min_t}, H95<={HAUSDORFF_P95_PCT}%)")
    if os.environ.get("FIDELITY_JSON"):
        Path(os.environ["FIDELITY_JSON"]).write_text(json.dumps(summary, indent=2))
    if a.write_baseline:
        keep = ("n", "failed", "iou_mean", "iou_min", "worst", "hausdorff_p95", "watertight")
        Path(a.write_baseline).write_text(json.dumps({k: {f: s[f] for f in keep} for k, s in summary.items()},
                                                     indent=2) + "\n")
    if a.check:
        lost = regressions(summary, json.loads(Path(a.check).read_text()))
        for line in lost:
            print(f"fidelity: regression: {line}")
        print(f"fidelity: {'regressed' if lost else 'no regression'} against {a.check}")
        return 1 if lost else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
