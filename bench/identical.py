"""Behaviour fingerprint: masks, outlines, output files and ``--json`` reports of a fixed set of runs.

A refactor that moves code must not change a single result. This script records, for every picture of a
set (the sample images and, where present, part of the evaluation corpus; see bench/README.md), the
isolated mask, the traced outline, and for a fixed list of option sets the files ``tracecad convert``
writes and the report it prints; then it compares two such records::

    .venv/bin/python bench/identical.py record before.json       # on the old tree
    .venv/bin/python bench/identical.py record after.json        # on the new tree
    .venv/bin/python bench/identical.py compare before.json after.json

Files are compared by content: STL and SVG bytes, each member of a 3MF, a STEP's data section (its header
carries a time stamp; OCC numbers product names and assembly occurrences on from what the process wrote
before), a coloured STEP by
what it reads back as (names, colours, solids, faces, volumes: OCC orders its style entities differently
from run to run), the reports without timings and paths. ``compare`` exits 1 when anything differs; ``record --masks-only`` records the tracer's results alone (quick).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
#: (name, extra flags, formats, pictures); ``all`` runs on every picture of the set, ``samples`` on the
#: sample images only (the products' Booleans and edge treatments take seconds a picture).
RUNS = [
    ("extrude", [], "step,stl,3mf,svg", "all"),
    ("keychain", ["--preset", "keychain"], "step,stl", "samples"),
    ("badge-chamfer", ["--preset", "badge", "--chamfer", "0.3"], "step,stl", "samples"),
    ("cutter", ["--preset", "cookie-cutter"], "stl", "samples"),
    ("stencil", ["--preset", "stencil"], "step", "samples"),
    ("relief", ["--mode", "relief"], "stl,3mf", "all"),
    ("lithophane", ["--mode", "lithophane"], "stl", "all"),
]
COLOUR_RUNS = [("colours", ["--colors", "auto"], "step,stl,3mf,svg", "all")]
VOLATILE = {"seconds", "path", "outputs", "input", "output", "elapsed_s", "peak_rss_mb", "rss_mb"}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def file_digest(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".3mf":
        with zipfile.ZipFile(path) as z:
            return _digest(b"".join(n.encode() + z.read(n) for n in sorted(z.namelist())))
    if path.suffix == ".step":
        text = data.decode("latin-1")
        if "STYLED_ITEM" in text:  # coloured (XCAF): OCC orders the style entities differently run to run
            from cad.solid import count_solids, face_count, shape_volume

            try:
                from cad.export.step import read_colored_step
            except ImportError:  # a tree that keeps the colour STEP reader beside the colour mode
                from cad.multicolor import read_colored_step

            bodies = [(n, c, count_solids(s), face_count(s), round(shape_volume(s), 6))
                      for n, c, s in read_colored_step(path)]
            return _digest(repr(bodies).encode())
        # OCC numbers product names ("logo 2") and assembly occurrences ('12') on from what the process wrote
        # before: batch order, not content; they are numbered afresh in the order they appear
        body = re.sub(r"PRODUCT\('([^']*?) \d+(\.\d+)*','([^']*?) \d+(\.\d+)*'", r"PRODUCT('\1','\3'",
                      text[text.index("DATA;"):])
        seen = itertools.count(1)
        body = re.sub(r"NEXT_ASSEMBLY_USAGE_OCCURRENCE\('\d+'",
                      lambda m: f"NEXT_ASSEMBLY_USAGE_OCCURRENCE('{next(seen)}'", body)
        return _digest(body.encode("latin-1"))
    return _digest(data)


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in sorted(obj.items()) if k not in VOLATILE}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 9)
    if isinstance(obj, str):
        return re.sub(r"/[^\s'\"]*/", "<dir>/", obj)
    return obj


def pictures(corpus: Path, n_corpus: int) -> tuple[list[Path], list[Path]]:
    mono = sorted(p for p in (ROOT / "sample_images").iterdir() if p.suffix in (".png", ".jpg"))
    colour = [ROOT / "sample_images" / "apple.photo.jpg"]
    if (corpus / "manifest.json").exists():
        manifest = json.loads((corpus / "manifest.json").read_text())
        items = [it for it in manifest["items"] if it.get("set") == "mono"][::max(1, 43 // max(1, n_corpus))][:n_corpus]
        for it in items:
            mono += [corpus / img["path"] for img in it["images"] if img["kind"] in ("png512", "jpeg35", "photo")]
        colour += [corpus / img["path"] for it in manifest["items"] if it.get("set") == "color"
                   for img in it["images"] if img["kind"] in ("png512", "jpeg35")]
    return mono, colour


def record(out: Path, n_corpus: int, corpus: Path = CORPUS, *, masks_only: bool = False,
           cli: list[str] | None = None) -> None:
    import numpy as np

    import tracer

    mono, colour = pictures(corpus, n_corpus)
    cli = cli or [str(Path(sys.executable).parent / "tracecad")]
    result: dict = {"masks": {}, "runs": {}}
    for pic in mono:
        image = tracer.load_image(pic)
        mask = tracer.isolate(image, params=tracer.IsolateParams(width_mm=50))
        outlines = tracer.trace(mask)
        ctrl = np.concatenate([np.round(c.ctrl, 6).ravel() for c in outlines.contours]) if outlines.contours else []
        result["masks"][pic.name] = {"mask": _digest(np.packbits(mask.pixels).tobytes() + repr(mask.scale).encode()),
                                     "outline": _digest(np.asarray(ctrl, np.float64).tobytes())}
    with tempfile.TemporaryDirectory() as tmp:
        for runs, pics in ((RUNS, mono), (COLOUR_RUNS, colour)) if not masks_only else ():
            for name, flags, formats, which in runs:
                chosen = [p for p in pics if p.parent == ROOT / "sample_images"] if which == "samples" else pics
                od = Path(tmp) / name
                proc = subprocess.run([*cli, "convert", *map(str, chosen), "-o", str(od), "--formats", formats,
                                       "--json", *flags], capture_output=True, text=True)
                report = json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr[-500:]}
                files = {str(p.relative_to(od)): file_digest(p) for p in sorted(od.rglob("*")) if p.is_file()}
                result["runs"][name] = {"exit": proc.returncode, "report": _clean(report), "files": files}
                print(f"identical: {name}: exit {proc.returncode}, {len(files)} files", flush=True)
                out.write_text(json.dumps(result, indent=1, sort_keys=True))  # (what is done so far)
    out.write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"identical: {len(result['masks'])} masks, {len(result['runs'])} runs -> {out}")


def compare(a_path: Path, b_path: Path) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    diffs = []

    def walk(x, y, where):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    diffs.append(f"{where}/{k}: only in {'after' if k in y else 'before'}")
                else:
                    walk(x[k], y[k], f"{where}/{k}")
        elif x != y:
            diffs.append(f"{where}: {str(x)[:120]} != {str(y)[:120]}")

    walk(a, b, "")
    for d in diffs[:60]:
        print(d)
    print(f"identical: {'no difference' if not diffs else f'{len(diffs)} differences'}")
    return 1 if diffs else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out", type=Path)
    r.add_argument("--corpus-items", type=int, default=8, help="mono corpus items to include when present")
    r.add_argument("--corpus", type=Path, default=CORPUS, help="the evaluation corpus (default ../shared/corpus)")
    r.add_argument("--masks-only", action="store_true", help="only the masks and outlines (the tracer's results)")
    r.add_argument("--cli", help="the command line to run (default: the tracecad next to this Python), "
                   "e.g. '.venv/bin/python -m cad' for a tree whose entry point was cad.cli")
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "record":
        record(a.out, a.corpus_items, a.corpus, masks_only=a.masks_only, cli=a.cli.split() if a.cli else None)
        return 0
    return compare(a.before, a.after)


if __name__ == "__main__":
    sys.exit(main())
