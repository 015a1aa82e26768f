"""Where the fidelity error comes from: the traced outline against the truth in the image's own pixel frame.

``score.py`` (and ``bench/fidelity.py``) scale the truth to the bounding box of the part and centre
both on their boxes, as a user who asks for ``--width 50`` would. A tip that is a fraction of a
pixel short then moves and scales the whole outline, so thin scripts lose IoU that has nothing to do
with the rest of the shape. This script traces each corpus image in process (``tracer.isolate`` +
``tracer.trace``, the defaults of ``tracecad convert --width 50``) and reports, per image:

* ``frame IoU``: traced outline vs truth in the pixel frame of the image (no normalisation);
* ``box IoU``: the same outline after score.py's bounding-box normalisation (close to score.py's IoU,
  which measures the STL instead of the outline);
* ``dbox``: traced minus true bounding box (left, top, right, bottom) in source pixels;
* the number of curve segments.

Usage::

    .venv/bin/python bench/fidelity_frame.py [--kind png512] [--items a,b] [--worst 10]

Exits 0 with a message when the evaluation corpus (see bench/README.md) is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))


def _footprint(outlines):
    import shapely

    from cad.geometry import flatten

    geom = shapely.Polygon()
    for c in outlines.contours:  # potrace contours nest without crossing: even-odd is exact
        geom = geom.symmetric_difference(shapely.Polygon(flatten(c.ctrl, c.is_line, 0.01)).buffer(0))
    return geom


def _box_iou(ours, truth) -> float:
    import numpy as np
    import shapely.affinity as A

    b1, b2 = np.array(ours.bounds), np.array(truth.bounds)
    s = (b1[2] - b1[0]) / (b2[2] - b2[0])
    c1, c2 = (b1[:2] + b1[2:]) / 2, (b2[:2] + b2[2:]) / 2
    t = A.translate(A.scale(truth, s, s, origin=tuple(c2)), *(c1 - c2))
    return ours.intersection(t).area / ours.union(t).area


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="png512", choices=("png512", "png2048", "jpeg35", "photo"))
    ap.add_argument("--set", default="mono")
    ap.add_argument("--items", default=None, help="comma list of item names (default: all of the set)")
    ap.add_argument("--width", type=float, default=50.0)
    ap.add_argument("--worst", type=int, default=0, help="print only the N items with the lowest box IoU")
    a = ap.parse_args(argv)
    if not (CORPUS / "truth.py").exists():
        print(f"skipped: {CORPUS} is absent (this benchmark needs the evaluation corpus)")
        return 0
    sys.path.insert(0, str(CORPUS))
    import numpy as np
    import truth

    import tracer
    from tracer.types import IsolateParams

    items = [it for it in json.loads((CORPUS / "manifest.json").read_text())["items"] if it["set"] == a.set]
    if a.items:
        wanted = set(a.items.split(","))
        items = [it for it in items if it["name"] in wanted]
    rows = []
    for it in items:
        img = next(e for e in it["images"] if e["kind"] == a.kind)
        image = tracer.load_image(CORPUS / img["path"])
        out = tracer.trace(tracer.isolate(image, params=IsolateParams(width_mm=a.width)))
        ours = _footprint(out)
        true = truth.truth_polygons(str(CORPUS / it["truth_svg"]), image.size[0])
        frame = ours.intersection(true).area / ours.union(true).area
        dbox = np.array(ours.bounds) - np.array(true.bounds)
        rows.append((it["name"], frame, _box_iou(ours, true), dbox, out.n_segments))
    shown = sorted(rows, key=lambda r: r[2])[: a.worst] if a.worst else rows
    print(f"{'item':16s} {'frame IoU':>9s} {'box IoU':>8s}  dbox px (left top right bottom)  segments")
    for name, frame, box, dbox, nseg in shown:
        print(f"{name:16s} {frame:9.4f} {box:8.4f}  {' '.join(f'{v:+6.2f}' for v in dbox)}  {nseg:8d}")
    fr, bx = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    print(f"\n{a.kind}: {len(rows)} items, frame IoU mean {fr.mean():.4f} min {fr.min():.4f}; "
          f"box IoU mean {bx.mean():.4f} min {bx.min():.4f}; segments {sum(r[4] for r in rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
