"""Colour fidelity on flat-colour drawings without outlines: colours abut each other and the paper.

The corpus's colour emoji all have black outlines, which separate every colour from its
neighbours and from the page. Most emoji sets, stickers and illustrations have none. This
benchmark draws its own scenes from vector shapes (the truth is exact), with

* colours touching the paper directly, including a light grey (#e1e8ed) next to white paper;
* pairs of near-identical colours (Delta E 9-12) touching each other;
* small features (drops, hubs) and large ones;

and renders each of them as

* ``png512`` / ``png2048``: clean, anti-aliased (box filter of an 8x / 4x supersampled drawing);
* ``soft2048``: the 512 px render enlarged to 2048 px (bicubic), as large pictures on the web often are;
* ``jpeg``: the 512 px render as JPEG quality 35;
* ``photo``: 1024 px, printed on off-white paper, lit unevenly (a linear gradient of 15 % across
  the picture and a vignette), Gaussian blur (sigma 1.2 px), sensor noise, JPEG quality 90.

Each image is converted as ``tracecad convert IMAGE --colors auto --formats 3mf --width 50`` does
and the written 3MF is scored by :func:`color_fidelity.score_file` (per-colour IoU, union IoU,
overlap, watertightness; the part and the truth aligned on their bounding boxes, so a piece of
paper taken for a colour moves and rescales everything).

Usage::

    nice -n 10 .venv/bin/python bench/color_flat.py [--kind png512 ...] [--scenes a,b] [--keep DIR] [--json]

Needs no corpus. Targets (``meets_targets``): mean per-colour IoU >= 0.97, worst union IoU >= 0.99,
overlap < 0.5 %, every body watertight.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from PIL import Image, ImageDraw, ImageFilter
from shapely.geometry import Point, Polygon, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from color_fidelity import error_row, print_row, report, score_file  # noqa: E402

KINDS = ("png512", "png2048", "soft2048", "jpeg", "photo")
FRAME = 100.0  # every scene is drawn in a FRAME x FRAME square, y down
PAPER_RGB = (243, 239, 229)


def _ellipse(cx, cy, rx, ry, angle=0.0):
    e = shapely.affinity.scale(Point(0, 0).buffer(1.0, 64), rx, ry)
    return shapely.affinity.translate(shapely.affinity.rotate(e, angle, origin=(0, 0)), cx, cy)


def _rounded(x0, y0, x1, y1, r):
    return box(x0 + r, y0 + r, x1 - r, y1 - r).buffer(r, 32)


def scenes() -> dict[str, list[tuple[str, object]]]:
    """Each scene: (colour, shape) in painting order (later shapes cover earlier ones)."""
    out = {}
    # Avocado: two greens of Delta E ~10 (skin and rim), pale flesh, brown stone.
    out["avocado"] = [
        ("#3e721d", _ellipse(50, 52, 30, 42, -20)),
        ("#538b2d", _ellipse(50, 53, 25, 37, -20)),          # Delta E 10.5 from the skin
        ("#c6e5b3", _ellipse(51, 55, 19, 30, -20)),
        ("#a0522d", _ellipse(54, 62, 10, 11)),
    ]
    # Car: a red body with a darker red panel (Delta E 9), windows, tyres and a light grey bumper
    # (#e1e8ed, Delta E 9 from white) that touch the paper.
    body = _rounded(8, 40, 92, 70, 6).union(Polygon([(24, 42), (34, 22), (66, 22), (78, 42)]))
    out["car"] = [
        ("#dd2e44", body),
        ("#be1931", box(8, 58, 92, 70).intersection(body)),
        ("#bbddf5", Polygon([(29, 40), (37, 26), (48, 26), (48, 40)])),
        ("#bbddf5", Polygon([(52, 40), (52, 26), (64, 26), (73, 40)])),
        ("#e1e8ed", _rounded(4, 62, 20, 70, 2)),
        ("#e1e8ed", _rounded(80, 62, 96, 70, 2)),
        ("#292f33", Point(27, 72).buffer(10, 64)),
        ("#292f33", Point(73, 72).buffer(10, 64)),
        ("#99aab5", Point(27, 72).buffer(4, 64)),
        ("#99aab5", Point(73, 72).buffer(4, 64)),
    ]
    # Cloud: a light grey cloud on white paper, a sun partly behind it, blue drops.
    cloud = shapely.union_all([Point(30, 55).buffer(14, 64), Point(50, 45).buffer(18, 64),
                               Point(70, 55).buffer(13, 64), box(30, 50, 70, 69)])
    out["cloud"] = [
        ("#ffac33", Point(68, 32).buffer(16, 64)),
        ("#e1e8ed", cloud),
        ("#55acee", _ellipse(35, 80, 2.5, 4)),
        ("#55acee", _ellipse(50, 84, 2.5, 4)),
        ("#55acee", _ellipse(65, 80, 2.5, 4)),
    ]
    # Badge: a yellow disc, an orange star of Delta E 12 to a lighter orange ring, a grey ribbon.
    star = Polygon([(50 + (30 if i % 2 == 0 else 13) * np.sin(np.pi * i / 5),
                     48 - (30 if i % 2 == 0 else 13) * np.cos(np.pi * i / 5)) for i in range(10)])
    out["badge"] = [
        ("#e1e8ed", Polygon([(30, 60), (45, 60), (40, 95), (33, 88), (24, 92)])),
        ("#e1e8ed", Polygon([(55, 60), (70, 60), (76, 92), (67, 88), (60, 95)])),
        ("#ffac33", Point(50, 48).buffer(38, 96)),
        ("#f4900c", Point(50, 48).buffer(32, 96)),
        ("#ffcc4d", star),
    ]
    return out


def truth_layers(scene) -> dict[str, object]:
    """The visible area of each colour (painted shape minus everything painted over it)."""
    layers: dict[str, object] = {}
    for i, (color, shape) in enumerate(scene):
        above = shapely.union_all([s for _, s in scene[i + 1:]]) if i + 1 < len(scene) else Polygon()
        vis = shape.difference(above)
        layers[color] = shapely.union_all([layers[color], vis]) if color in layers else vis
    return {c: g for c, g in layers.items() if not g.is_empty}


def render(scene, px: int, ss: int) -> np.ndarray:
    """The scene at ``px`` x ``px`` (float RGB in [0, 1], white paper), box-filtered from an ``ss``x
    supersampled drawing, band by band."""
    colours = sorted({c for c, _ in scene})
    rgb_of = np.array([[1.0, 1.0, 1.0]] + [[int(c[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for c in colours])
    big = Image.new("L", (px * ss, px * ss), 0)
    draw = ImageDraw.Draw(big)
    k = px * ss / FRAME
    for color, shape in scene:
        for poly in getattr(shape, "geoms", [shape]):
            draw.polygon([(x * k, y * k) for x, y in poly.exterior.coords], fill=colours.index(color) + 1)
    lab = np.asarray(big)
    out = np.zeros((px, px, 3), np.float64)
    band = max(1, (1 << 22) // (px * ss * ss))
    for r0 in range(0, px, band):
        r1 = min(px, r0 + band)
        blk = lab[r0 * ss:r1 * ss].reshape(r1 - r0, ss, px, ss)
        for i, c in enumerate(rgb_of):
            cov = (blk == i).mean(axis=(1, 3))
            out[r0:r1] += cov[..., None] * c
    return out


def photo(rgb: np.ndarray, seed: int) -> Image.Image:
    """Printed on off-white paper and photographed: uneven light, blur, noise, JPEG later."""
    h, w = rgb.shape[:2]
    img = rgb * (np.array(PAPER_RGB) / 255.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / (w - 1) - 0.5, yy / (h - 1) - 0.5
    ang = 2 * np.pi * ((seed % 360) / 360.0)
    light = 1.0 - 0.15 * (0.5 + np.cos(ang) * u + np.sin(ang) * v) - 0.12 * (u * u + v * v)
    img = img * light[..., None] * 255.0
    pil = Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8), "RGB")
    arr = np.asarray(pil.filter(ImageFilter.GaussianBlur(radius=1.2)), np.float64)
    arr = arr + np.random.default_rng(seed).standard_normal(arr.shape) * (3.0 + 0.6 * np.sqrt(arr))
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "RGB")


def make_image(name: str, scene, kind: str, out_dir: Path) -> Path:
    seed = zlib.crc32(name.encode())
    if kind == "png2048":
        img = Image.fromarray(np.round(render(scene, 2048, 4) * 255).astype(np.uint8), "RGB")
        path = out_dir / f"{name}.2048.png"
        img.save(path)
        return path
    if kind == "photo":
        path = out_dir / f"{name}.photo.jpg"
        photo(render(scene, 1024, 4), seed).save(path, quality=90)
        return path
    img = Image.fromarray(np.round(render(scene, 512, 8) * 255).astype(np.uint8), "RGB")
    if kind == "soft2048":
        path = out_dir / f"{name}.soft2048.png"
        img.resize((2048, 2048), Image.Resampling.BICUBIC).save(path)
        return path
    if kind == "jpeg":
        path = out_dir / f"{name}.512.q35.jpg"
        img.save(path, quality=35)
    else:
        path = out_dir / f"{name}.512.png"
        img.save(path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", action="append", choices=KINDS, help="image kind (repeatable; default all)")
    ap.add_argument("--scenes", default=None, help="comma list of scene names (default all)")
    ap.add_argument("--width", type=float, default=50.0, help="part width in mm (default 50)")
    ap.add_argument("--keep", default=None, help="write the images (and 3MFs) into this folder")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args(argv)
    all_scenes = scenes()
    names = a.scenes.split(",") if a.scenes else list(all_scenes)
    kinds = a.kind or list(KINDS)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.keep) if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            for name in names:
                scene = all_scenes[name]
                layers = truth_layers(scene)
                src = make_image(name, scene, kind, work)
                try:
                    r = {"item": name, "kind": kind, **score_file(src, layers, a.width, work)}
                except Exception as exc:  # a failure is a result: it counts as IoU 0
                    r = error_row(name, kind, exc, layers)
                results.append(r)
                if not a.json:
                    print_row(r)
    report(results, kinds, as_json=a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
