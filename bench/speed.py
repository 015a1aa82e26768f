"""Speed and memory benchmark: tracecad side by side with potrace and the potrace + OpenSCAD route.

One run measures tracecad and its peers on the same inputs, interleaved, and
prints ratios (tracecad / peer; below 1 means tracecad is faster):

1. trace stage: ``tracer.trace`` (bitmap handed to potrace -> curves back in
   Python) vs the ``potrace`` CLI on the same bitmap written as a PBM file
   (``potrace -b svg``, same parameters). Target <= 1.5x.
2. image -> STL per image, batch in one process (a fresh interpreter running
   ``tracecad.convert`` in a loop) vs threshold (Otsu, in Python) -> PBM ->
   ``potrace -b svg`` -> ``openscad -o x.stl`` (``linear_extrude(3) resize([50,0])
   import(x.svg)``). Target <= 1.0x. The batch process also reports whether
   OCP was imported (a STL-only run must not).
3. a generated 1080p logo -> STEP + STL + 3MF inside a process (target <= 1.0 s),
   and cold CLI runs ``tracecad convert logo.png --formats stl`` (<= 1.5 s) and
   ``--formats step,stl`` (<= 2.5 s), plus the import profile of the cold run.
4. memory: peak RSS of a CLI child converting a generated 4K noisy photo
   (<= 1.5 GB), and the handling of 48 MP images (above the 40 MP limit).
5. output economy: STEP faces vs (curve segments + 2 x bodies) (<= 1.2x) and STL
   triangles against the chord tolerance (curved vs straight outlines).

Inputs: the evaluation corpus (mono set, see bench/README.md; ``--corpus DIR``,
default ../shared/corpus) at png512, png2048 and photo, plus the
generated images. Without the corpus, the corpus parts are skipped with a
message and the generated images still run. Exit code 0 unless a tool fails.

Usage::

    nice -n 10 .venv/bin/python bench/speed.py [--corpus ../shared/corpus] [--repeat 3]
                                               [--limit N] [--kinds png512,png2048,photo] [--out bench/out/speed]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = ("png512", "png2048", "photo")
TARGETS = {"trace": 1.5, "stl": 1.0, "inproc_s": 1.0, "cli_stl_s": 1.5, "cli_step_s": 2.5, "rss_gb": 1.5, "faces": 1.2}


# --------------------------------------------------------------------------- utilities

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def run(cmd, *, cwd=None, env=None, rss=False):
    """Run ``cmd``; return (wall seconds, peak RSS MB, returncode, stdout, stderr).

    The child's CPU seconds (user + system) are left in ``run.cpu`` (less sensitive to a busy machine).
    Peak RSS: a forked child inherits its parent's high-water mark (Linux keeps the larger one across
    exec), so with ``rss=True`` the command runs under GNU ``/usr/bin/time``, a small process whose own
    child's peak is the true one. Without it the RSS returned is an upper bound.
    """
    timefile = None
    if rss and Path("/usr/bin/time").exists():
        timefile = tempfile.NamedTemporaryFile(suffix=".time", delete=False)
        timefile.close()
        cmd = ["/usr/bin/time", "-f", "%M", "-o", timefile.name, *cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        run.cpu = ru.ru_utime + ru.ru_stime
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak = ru.ru_maxrss / 1024.0
        if timefile is not None:
            try:
                peak = int(Path(timefile.name).read_text().split()[-1]) / 1024.0
            except (ValueError, IndexError):
                pass
            os.unlink(timefile.name)
        return wall, peak, p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def tracecad_cmd() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "tracecad"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tracecad"]


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pv = subprocess.run(["potrace", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    ov = subprocess.run(["openscad", "--version"], capture_output=True, text=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform(),
            "potrace": pv, "openscad": (ov.stdout + ov.stderr).strip(), "commit": commit,
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def write_pbm(ink: np.ndarray, path: Path) -> None:
    """PBM P4: 1 = black = ink (potrace traces the black pixels)."""
    h, w = ink.shape
    path.write_bytes(b"P4\n%d %d\n" % (w, h) + np.packbits(np.ascontiguousarray(ink, dtype=bool), axis=1).tobytes())


def stl_triangles(path: Path) -> int:
    data = path.read_bytes()
    if len(data) >= 84 and 84 + 50 * int(np.frombuffer(data, "<u4", 1, 80)[0]) == len(data):
        return int(np.frombuffer(data, "<u4", 1, 80)[0])
    return data.count(b"facet normal")


# --------------------------------------------------------------------------- generated inputs

def _draw_logo(w: int, h: int, ss: int):
    """A logo-like subject (rings, a star, a plate with a hole and an island, a wordmark of bars), anti-aliased."""
    from PIL import Image, ImageDraw

    W, H = w * ss, h * ss
    im = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(im)
    u = H / 1080.0
    # four interlocking rings
    r, t = 150 * u, 26 * u
    for k in range(4):
        cx, cy = (330 + 230 * k) * u, 330 * u
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=0, width=int(t))
    # star
    cx, cy, ro, ri = 1560 * u, 330 * u, 190 * u, 80 * u
    pts = [(cx + (ro if i % 2 == 0 else ri) * math.sin(i * math.pi / 5), cy - (ro if i % 2 == 0 else ri) * math.cos(i * math.pi / 5))
           for i in range(10)]
    d.polygon(pts, fill=0)
    # plate with a round hole and an island in the hole
    d.rounded_rectangle([200 * u, 600 * u, 700 * u, 950 * u], radius=60 * u, fill=0)
    d.ellipse([330 * u, 650 * u, 570 * u, 890 * u], fill=255)
    d.ellipse([405 * u, 725 * u, 495 * u, 815 * u], fill=0)
    # wordmark: bars and arcs
    for k in range(6):
        x0 = (820 + 150 * k) * u
        if k % 2 == 0:
            d.rectangle([x0, 640 * u, x0 + 50 * u, 920 * u], fill=0)
        else:
            d.arc([x0 - 30 * u, 660 * u, x0 + 110 * u, 900 * u], 30, 330, fill=0, width=int(40 * u))
    return im.resize((w, h), Image.Resampling.BOX) if ss > 1 else im


def generate(gen: Path, *, big: bool = True) -> dict[str, Path]:
    from PIL import Image

    gen.mkdir(parents=True, exist_ok=True)
    out = {"logo1080": gen / "logo1080.png", "photo4k": gen / "photo4k.jpg", "squares": gen / "squares1080.png",
           "big_png": gen / "big48mp.png", "big_jpg": gen / "big48mp.jpg", "near_png": gen / "near40mp.png",
           "near_png_color": gen / "near40mp_color.png"}
    if not out["logo1080"].exists():
        _draw_logo(1920, 1080, 4).save(out["logo1080"])
    if not out["squares"].exists():  # straight outlines only: triangles must not grow with a finer tolerance
        from PIL import ImageDraw

        im = Image.new("L", (1920, 1080), 255)
        d = ImageDraw.Draw(im)
        for k in range(5):
            d.rectangle([150 + 340 * k, 300, 400 + 340 * k, 780], fill=0)
            d.rectangle([220 + 340 * k, 400, 330 + 340 * k, 500], fill=255)
        im.save(out["squares"])
    if not out["photo4k"].exists():
        import cv2

        rng = np.random.default_rng(7)
        ink = 1.0 - np.asarray(_draw_logo(3840, 2160, 2), dtype=np.float32) / 255.0  # 1 where ink
        ink = cv2.GaussianBlur(ink, (0, 0), 2.4)
        paper, inkc = np.array([236, 231, 220], np.float32), np.array([28, 30, 36], np.float32)
        rgb = paper * (1 - ink[..., None]) + inkc * ink[..., None]
        yy, xx = np.mgrid[0:2160, 0:3840].astype(np.float32)
        illum = 0.82 + 0.2 * (xx / 3840) + 0.06 * np.sin(yy / 2160 * math.pi)
        rgb = rgb * illum[..., None] + rng.normal(0, 7.0, rgb.shape).astype(np.float32)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(out["photo4k"], quality=90)
        del ink, rgb, yy, xx, illum
    if big and not out["big_png"].exists():
        im = Image.new("L", (8000, 6000), 255)
        from PIL import ImageDraw

        ImageDraw.Draw(im).ellipse([1000, 1000, 7000, 5000], fill=0)
        im.save(out["big_png"], compress_level=1)
        im.convert("RGB").save(out["big_jpg"], quality=85)
    if big and not out["near_png"].exists():  # just under the 40 MP limit: the largest image decoded in full
        from PIL import ImageDraw

        im = Image.new("RGB", (7700, 5180), (255, 255, 255))
        ImageDraw.Draw(im).ellipse([900, 700, 6800, 4500], fill=(0, 0, 0))
        im.save(out["near_png"], compress_level=1)
    if big and not out["near_png_color"].exists():  # the same in colour: the loader cannot keep it as one grey channel
        from PIL import ImageDraw

        im = Image.new("RGB", (7700, 5180), (240, 232, 214))
        ImageDraw.Draw(im).ellipse([900, 700, 6800, 4500], fill=(180, 30, 40))
        im.save(out["near_png_color"], compress_level=1)
    return out


def corpus_images(corpus: Path, kinds, limit: int) -> dict[str, list[Path]]:
    man = json.loads((corpus / "manifest.json").read_text())
    out: dict[str, list[Path]] = {k: [] for k in kinds}
    items = [it for it in man["items"] if it.get("set") == "mono"]
    if limit:
        items = items[:limit]
    for it in items:
        for im in it["images"]:
            if im["kind"] in out:
                out[im["kind"]].append(corpus / im["path"])
    return out


# --------------------------------------------------------------------------- child processes

def child_stl(args) -> int:
    """Batch in one process: tracecad.convert(..., formats=stl) on every image; JSON on stdout."""
    t0 = time.perf_counter()
    import cad  # noqa: F401
    from tracecad import ConvertOptions, convert
    from tracecad.process import process_setup

    process_setup()  # as `tracecad convert` does (BLAS on one thread, freed memory kept)
    t_import = time.perf_counter() - t0
    paths = [Path(p) for p in Path(args.child_list).read_text().splitlines() if p]
    opts = ConvertOptions(formats=("stl",))
    if args.child_upsample:  # --upsample N: the working raster the user chose instead of the 0.02 mm policy
        from dataclasses import replace

        opts = replace(opts, isolate=replace(opts.isolate, upsample=int(args.child_upsample)))
    res = []
    for i, p in enumerate(paths):
        t, c = time.perf_counter(), time.process_time()
        e = convert(p, args.child_out, opts, stem=f"{i:03d}_{p.stem}")
        res.append({"input": str(p), "s": time.perf_counter() - t, "cpu": time.process_time() - c, "triangles": e["triangles"],
                    "isolate_s": e["seconds"].get("isolate"), "trace_s": e["seconds"].get("trace")})
    mods = sys.modules
    print(json.dumps({"import_s": t_import, "total_s": time.perf_counter() - t0, "results": res,
                      "ocp_imported": any(m == "OCP" or m.startswith("OCP.") for m in mods),
                      "cadquery_imported": "cadquery" in mods, "vtk_imported": any(m.startswith("vtk") for m in mods)}))
    return 0


def child_inproc(args) -> int:
    """A 1080p logo -> STEP+STL+3MF inside one process: the first call (lazy imports) and warm calls."""
    t0 = time.perf_counter()
    from tracecad import ConvertOptions, convert

    t_import = time.perf_counter() - t0
    opts = ConvertOptions(formats=("step", "stl", "3mf"))
    runs = []
    for k in range(args.repeat + 1):
        t, c = time.perf_counter(), time.process_time()
        e = convert(args.child_list, args.child_out, opts, stem="logo1080")
        runs.append({"s": time.perf_counter() - t, "cpu": time.process_time() - c, "seconds": e["seconds"], "step_faces": e["step_faces"],
                     "curve_segments": e["curve_segments"], "bodies": e["bodies"], "triangles": e["triangles"]})
    print(json.dumps({"import_s": t_import, "runs": runs}))
    return 0


def child_economy(args) -> int:
    """STEP faces vs segments and bodies on each image; triangles vs tolerance on the generated shapes."""
    from tracecad import ConvertOptions, build

    paths = [Path(p) for p in Path(args.child_list).read_text().splitlines() if p]
    rows = []
    for p in paths:
        try:
            conv = build(p, ConvertOptions(formats=("step", "stl")))
            conv.solid
            conv.mesh
        except Exception as exc:  # one failing image is reported, not fatal to the whole bench
            rows.append({"input": str(p), "error": f"{type(exc).__name__}: {exc}"})
            continue
        r = conv.report()
        rows.append({"input": str(p), "faces": r["step_faces"], "segments": r["curve_segments"], "bodies": r["bodies"],
                     "triangles": r["triangles"]})
    sweep = {}
    for p in args.child_sweep.split(","):
        conv = build(p, ConvertOptions(formats=("stl",)))
        sweep[Path(p).stem] = {}
        for tol in (0.1, 0.03, 0.01, 0.003, 0.001):
            from cad.mesh import extrude_mesh

            sweep[Path(p).stem][str(tol)] = extrude_mesh(conv.regions, 3.0, tolerance_mm=tol).n_triangles
    print(json.dumps({"rows": rows, "sweep": sweep}))
    return 0


def run_child(mode: str, *extra: str) -> dict:
    wall, rss, rc, out, err = run([sys.executable, str(Path(__file__).resolve()), "--child", mode, *extra], rss=True)
    if rc != 0:
        raise SystemExit(f"bench child {mode} failed (exit {rc}):\n{err[-3000:]}")
    d = json.loads(out)
    d["wall_s"], d["rss_mb"] = wall, rss
    return d


# --------------------------------------------------------------------------- peers

def peer_threshold(img: Path, pbm: Path) -> float:
    """The classic first step: decode, Otsu threshold, write a PBM (timed, in this process)."""
    import cv2
    from PIL import Image

    t, c = time.perf_counter(), time.process_time()
    with Image.open(img) as im:
        g = np.asarray(im.convert("L"))
    _, b = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    write_pbm(b == 0, pbm)
    return time.perf_counter() - t, time.process_time() - c


def peer_stl(img: Path, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    stem = img.stem.replace(".", "_")
    pbm, svg, scad, stl = (work / f"{stem}{ext}" for ext in (".pbm", ".svg", ".scad", ".stl"))
    t_thr, c_thr = peer_threshold(img, pbm)
    t_pot, _, rc1, _, e1 = run(["potrace", "-b", "svg", "-o", str(svg), str(pbm)])
    c_pot = run.cpu
    scad.write_text(f'linear_extrude(height=3) resize([50, 0], auto=true) import("{svg.name}");\n')
    t_scad, _, rc2, _, e2 = run(["openscad", "-o", str(stl), str(scad)], cwd=work)
    c_scad = run.cpu
    if rc1 or rc2:
        raise SystemExit(f"peer route failed on {img}: {e1[-500:]} {e2[-500:]}")
    return {"threshold_s": t_thr, "potrace_s": t_pot, "openscad_s": t_scad,
            "s": t_thr + t_pot + t_scad, "cpu": c_thr + c_pot + c_scad, "triangles": stl_triangles(stl)}


# --------------------------------------------------------------------------- sections

def section_trace(images: dict[str, list[Path]], work: Path, repeat: int) -> dict:
    import tracer
    from tracer.types import TraceParams

    tp = TraceParams()
    assert (tp.turdsize, tp.alphamax, tp.opttolerance, tp.turnpolicy) == (2, 1.0, 0.2, "minority"), \
        "tracecad's trace defaults no longer equal potrace's; pass them to the CLI"
    work.mkdir(parents=True, exist_ok=True)
    tiny = work / "tiny.pbm"
    write_pbm(np.zeros((8, 8), bool), tiny)
    startup = median([run(["potrace", "-b", "svg", "-o", os.devnull, str(tiny)])[0] for _ in range(5)])
    out = {"potrace_startup_s": startup, "kinds": {}}
    for kind, paths in images.items():
        rows = []
        for img in paths:
            mask = tracer.isolate(tracer.load_image(img))
            pbm = work / f"{kind}_{img.stem.replace('.', '_')}.pbm"
            write_pbm(mask.pixels, pbm)
            ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
            for _ in range(repeat):
                t, c = time.perf_counter(), time.process_time()
                tracer.trace(mask)
                ours.append(time.perf_counter() - t)
                ours_cpu.append(time.process_time() - c)
                theirs.append(run(["potrace", "-b", "svg", "-o", str(pbm.with_suffix(".svg")), str(pbm)])[0])
                theirs_cpu.append(run.cpu)
            rows.append({"input": img.name, "mp": mask.pixels.size / 1e6, "tracecad_s": median(ours), "potrace_s": median(theirs),
                         "tracecad_cpu": median(ours_cpu), "potrace_cpu": median(theirs_cpu)})
            pbm.unlink()
        out["kinds"][kind] = rows
    return out


def section_stl(images: dict[str, list[Path]], work: Path, repeat: int, upsample: int | None = None) -> dict:
    out = {}
    work.mkdir(parents=True, exist_ok=True)
    for kind, paths in images.items():
        lst = work / f"{kind}.txt"
        lst.write_text("\n".join(str(p) for p in paths))
        ours: list[dict] = []
        peers: list[list[dict]] = []
        for rep in range(repeat):  # interleaved: tracecad's batch process, then the peer route, per repeat
            extra = ("--child-upsample", str(upsample)) if upsample else ()
            ours.append(run_child("stl", "--child-list", str(lst), "--child-out", str(work / "tracecad" / kind), *extra))
            peers.append([peer_stl(p, work / "peer" / kind) for p in paths])
        rows = []
        for i, p in enumerate(paths):
            rows.append({"input": p.name,
                         "tracecad_s": median([o["results"][i]["s"] for o in ours]),
                         "peer_s": median([pr[i]["s"] for pr in peers]),
                         "tracecad_cpu": median([o["results"][i]["cpu"] for o in ours]),
                         "peer_cpu": median([pr[i]["cpu"] for pr in peers]),
                         "threshold_s": median([pr[i]["threshold_s"] for pr in peers]),
                         "potrace_s": median([pr[i]["potrace_s"] for pr in peers]),
                         "openscad_s": median([pr[i]["openscad_s"] for pr in peers]),
                         "isolate_s": median([o["results"][i]["isolate_s"] for o in ours]),
                         "tracecad_triangles": ours[0]["results"][i]["triangles"], "peer_triangles": peers[0][i]["triangles"]})
        out[kind] = {"rows": rows, "import_s": median([o["import_s"] for o in ours]),
                     "batch_wall_s": median([o["wall_s"] for o in ours]),
                     "peer_total_s": median([sum(r["s"] for r in pr) for pr in peers]),
                     "ocp_imported": any(o["ocp_imported"] for o in ours),
                     "cadquery_imported": any(o["cadquery_imported"] for o in ours),
                     "rss_mb": max(o["rss_mb"] for o in ours)}
    return out


def import_profile(cmd: list[str]) -> list[tuple[str, float]]:
    """Cumulative import time (s) per top-level package of a cold run (``python -X importtime``)."""
    _, _, _, _, err = run([sys.executable, "-X", "importtime", *cmd])
    tops: dict[str, float] = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 1:  # top-level imports only
            name = m.group(3).split(".")[0]
            tops[name] = tops.get(name, 0.0) + int(m.group(1)) / 1e6
    return sorted(tops.items(), key=lambda kv: -kv[1])[:10]


def section_logo(gen: dict[str, Path], work: Path, repeat: int) -> dict:
    logo = gen["logo1080"]
    inproc = run_child("inproc", "--child-list", str(logo), "--child-out", str(work / "inproc"), "--repeat", str(repeat))
    cli = {}
    tc = tracecad_cmd()
    # An installed package has its bytecode compiled (pip does it); this environment may set
    # PYTHONDONTWRITEBYTECODE, which makes every cold run compile tracecad's ~50 modules again.
    # Both are measured: as the environment is, and with a bytecode cache outside the tree.
    env_pyc = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env_pyc["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    run([*tc, "convert", str(logo), "-o", str(work / "cli"), "--formats", "step,stl,3mf", "-q"], env=env_pyc)  # fill it
    for label, fmts in (("stl", "stl"), ("step,stl", "step,stl"), ("step,stl,3mf", "step,stl,3mf")):
        for key, env in ((label, None), (label + " (bytecode cached)", env_pyc)):
            walls, rsss, cpus = [], [], []
            for _ in range(repeat):
                wall, rss, rc, _, err = run([*tc, "convert", str(logo), "-o", str(work / "cli"), "--formats", fmts, "-q"],
                                            rss=True, env=env)
                if rc != 0:
                    raise SystemExit(f"tracecad CLI failed: {err[-2000:]}")
                walls.append(wall)
                rsss.append(rss)
                cpus.append(run.cpu)
            cli[key] = {"s": median(walls), "cpu": median(cpus), "rss_mb": max(rsss)}
    cli["env_dont_write_bytecode"] = os.environ.get("PYTHONDONTWRITEBYTECODE")
    base = median([run([sys.executable, "-c", "pass"])[0] for _ in range(3)])
    ocp_runs = [(run([sys.executable, "-c", "import OCP.STEPControl, OCP.BRepCheck, OCP.BRepPrimAPI"])[0], run.cpu) for _ in range(3)]
    ocp = median([w for w, _ in ocp_runs])
    ocp_cpu = median([c for _, c in ocp_runs])
    _, _, rc, js, _ = run([*tc, "convert", str(logo), "-o", str(work / "cli"), "--formats", "step,stl", "--json"])
    entry = json.loads(js)["results"][0]
    prof = import_profile(["-m", "tracecad", "convert", str(logo), "-o", str(work / "cli"), "--formats", "stl", "-q"])
    return {"inproc": inproc, "cli": cli, "python_startup_s": base, "ocp_import_s": ocp - base, "ocp_import_cpu": ocp_cpu,
            "json_keys": {k: entry.get(k) for k in ("step_faces", "triangles", "curve_segments", "bodies")},
            "import_profile_stl": prof}


def section_memory(gen: dict[str, Path], work: Path) -> dict:
    tc = tracecad_cmd()
    out = {}
    for label, img, fmts in (("photo4k stl", gen["photo4k"], "stl"), ("photo4k step,stl,3mf", gen["photo4k"], "step,stl,3mf"),
                             ("39.9 MP RGB PNG (under the limit)", gen["near_png"], "stl"),
                             ("39.9 MP RGB PNG, colour", gen["near_png_color"], "stl"),
                             ("48 MP PNG", gen["big_png"], "stl"), ("48 MP JPEG", gen["big_jpg"], "stl")):
        wall, rss, rc, js, err = run([*tc, "convert", str(img), "-o", str(work / "mem"), "--formats", fmts, "--json"], rss=True)
        cpu = run.cpu
        try:
            entry = json.loads(js)["results"][0]
        except (ValueError, KeyError, IndexError):
            entry = {}
        out[label] = {"s": wall, "cpu": cpu, "rss_mb": rss, "rc": rc, "error": entry.get("error"),
                      "warnings": entry.get("warnings"), "working_size": entry.get("working_size"),
                      "segments": entry.get("curve_segments"), "seconds": entry.get("seconds")}
    return out


def section_economy(images: list[Path], gen: dict[str, Path], work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    lst = work / "economy.txt"
    lst.write_text("\n".join(str(p) for p in [*images, gen["logo1080"]]))
    return run_child("economy", "--child-list", str(lst), "--child-sweep", f"{gen['logo1080']},{gen['squares']}")


def section_checks(gen: dict[str, Path], work: Path, repeat: int, corpus_logo: Path | None) -> dict:
    """What the STEP checks cost: a full OpenCASCADE read-back ("before") vs the structural read tracecad runs ("after"), same solid, same run."""
    from cad.export.step import read_step, verify_step, write_step
    from cad.solid import compound, count_solids, face_count, is_valid_shape, prism, region_face, shape_volume
    from tracecad import ConvertOptions, build

    work.mkdir(parents=True, exist_ok=True)
    out = {}
    for img in [p for p in (gen["logo1080"], corpus_logo) if p is not None]:
        regions = build(img, ConvertOptions()).regions
        t = {k: [] for k in ("build", "brepcheck_prisms", "brepcheck_faces", "brepcheck_compound", "volumes",
                             "write", "readback_transfer", "readback_brepcheck", "verify_step")}
        for _ in range(repeat):
            c = time.perf_counter()
            faces = [region_face(r) for r in regions.regions]
            prisms = [prism(f, z0_mm=0.0, height_mm=3.0) for f in faces]
            t["build"].append(time.perf_counter() - c)
            c = time.perf_counter()
            assert all(is_valid_shape(s) for s in prisms)
            t["brepcheck_prisms"].append(time.perf_counter() - c)
            c = time.perf_counter()
            assert all(is_valid_shape(f) for f in faces)
            t["brepcheck_faces"].append(time.perf_counter() - c)
            comp = compound(prisms)
            c = time.perf_counter()
            assert is_valid_shape(comp)
            t["brepcheck_compound"].append(time.perf_counter() - c)
            c = time.perf_counter()
            vol = sum(shape_volume(s) for s in prisms)
            t["volumes"].append(time.perf_counter() - c)
            step = work / "check.step"
            c = time.perf_counter()
            write_step(comp, step)
            t["write"].append(time.perf_counter() - c)
            c = time.perf_counter()
            back = read_step(step)
            assert count_solids(back) == len(prisms) and abs(shape_volume(back) - vol) <= 1e-6 * vol
            t["readback_transfer"].append(time.perf_counter() - c)
            c = time.perf_counter()
            assert is_valid_shape(back)
            t["readback_brepcheck"].append(time.perf_counter() - c)
            c = time.perf_counter()
            verify_step(step, solids=len(prisms), faces=face_count(comp))
            t["verify_step"].append(time.perf_counter() - c)
        med = {k: median(v) for k, v in t.items()}
        before = (med["build"] + med["brepcheck_prisms"] + med["volumes"] + med["brepcheck_compound"] + med["write"]
                  + med["readback_transfer"] + med["readback_brepcheck"])
        after = med["build"] + med["brepcheck_faces"] + med["volumes"] + med["write"] + med["verify_step"]
        out[img.name] = {"seconds": med, "before_s": before, "after_s": after, "faces": face_count(comp),
                         "step_bytes": step.stat().st_size}
    return out


# --------------------------------------------------------------------------- report

def ratio(a, b):
    return a / b if b else float("nan")


def verdict(value, target, lower_is_better=True):
    ok = value <= target if lower_is_better else value >= target
    return "meets" if ok else "MISSES"


def report(res: dict) -> str:
    L = []
    m = res["machine"]
    L.append(f"machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, {m['platform']}")
    L.append(f"peers: {m['potrace']}; {m['openscad'].splitlines()[0] if m['openscad'] else '?'}; tracecad commit {m['commit']}")
    L.append(f"load average at start {m['loadavg_start']}, at end {res.get('loadavg_end')} (shared machine); "
             f"repeat {res['repeat']}, medians")
    tr = res.get("trace")
    if tr:
        L.append("")
        L.append(f"## 1. trace stage: tracer.trace vs potrace CLI on the same bitmap (target <= {TARGETS['trace']}x)")
        L.append(f"potrace CLI start-up on an 8x8 PBM: {tr['potrace_startup_s'] * 1e3:.1f} ms (included in its times). "
                 "Ratios are tracecad / potrace, median of the per-image ratios; wall clock and CPU time.")
        L.append("| kind | images | bitmap MP | tracecad ms | potrace CLI ms | ratio wall | ratio CPU | ratio of summed wall | worst wall ratio |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for kind, rows in tr["kinds"].items():
            if not rows:
                continue
            rs = [ratio(r["tracecad_s"], r["potrace_s"]) for r in rows]
            rc = [ratio(r["tracecad_cpu"], r["potrace_cpu"]) for r in rows]
            worst = max(rows, key=lambda r: ratio(r["tracecad_s"], r["potrace_s"]))
            L.append(f"| {kind} | {len(rows)} | {median([r['mp'] for r in rows]):.1f} | {median([r['tracecad_s'] for r in rows]) * 1e3:.1f} | "
                     f"{median([r['potrace_s'] for r in rows]) * 1e3:.1f} | {median(rs):.2f} | {median(rc):.2f} | "
                     f"{ratio(sum(r['tracecad_s'] for r in rows), sum(r['potrace_s'] for r in rows)):.2f} | "
                     f"{max(rs):.2f} ({worst['input']}) |")
    st = res.get("stl")
    if st:
        L.append("")
        L.append(f"## 2. image -> STL per image, batch in one process vs threshold + potrace + openscad (target <= {TARGETS['stl']}x)")
        L.append("Seconds per image (medians); ratios are tracecad / peer, median of per-image ratios.")
        L.append("| kind | images | tracecad s | of which isolate | peer s (threshold + potrace + openscad) | ratio wall | ratio CPU | ratio of summed wall | batch wall incl. imports | triangles tracecad / peer | OCP imported |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for kind, d in st.items():
            rows = d["rows"]
            if not rows:
                continue
            rs = [ratio(r["tracecad_s"], r["peer_s"]) for r in rows]
            rc = [ratio(r["tracecad_cpu"], r["peer_cpu"]) for r in rows]
            L.append(f"| {kind} | {len(rows)} | {median([r['tracecad_s'] for r in rows]):.3f} | {median([r['isolate_s'] for r in rows]):.3f} | "
                     f"{median([r['peer_s'] for r in rows]):.3f} ({median([r['threshold_s'] for r in rows]):.3f} + "
                     f"{median([r['potrace_s'] for r in rows]):.3f} + {median([r['openscad_s'] for r in rows]):.3f}) | "
                     f"{median(rs):.2f} | {median(rc):.2f} | {ratio(sum(r['tracecad_s'] for r in rows), sum(r['peer_s'] for r in rows)):.2f} | "
                     f"{d['batch_wall_s']:.2f} s (imports {d['import_s']:.2f} s) | "
                     f"{median([r['tracecad_triangles'] for r in rows]):.0f} / {median([r['peer_triangles'] for r in rows]):.0f} | "
                     f"{'YES' if d['ocp_imported'] else 'no'} |")
        ex = [r for d in st.values() for r in d["rows"]]
        if ex:
            L.append(f"tracecad without isolate (load + trace + regions + mesh + checked write) / peer, median over all "
                     f"{len(ex)} images: {median([ratio(r['tracecad_s'] - r['isolate_s'], r['peer_s']) for r in ex]):.2f} (wall)")
    lg = res.get("logo")
    if lg:
        runs = lg["inproc"]["runs"]
        warm = runs[1:]
        L.append("")
        L.append("## 3. generated 1080p logo -> STEP + STL + 3MF")
        mid = sorted(warm, key=lambda r: r["s"])[len(warm) // 2]
        ws, wc = median([r["s"] for r in warm]), median([r["cpu"] for r in warm])
        L.append(f"in-process: first call {runs[0]['s']:.3f} s wall (includes lazy imports: OCP, manifold3d, cv2), "
                 f"warm median {ws:.3f} s wall / {wc:.3f} s CPU (target <= {TARGETS['inproc_s']} s: wall {verdict(ws, TARGETS['inproc_s'])}, "
                 f"CPU {verdict(wc, TARGETS['inproc_s'])}); `import tracecad.pipeline` {lg['inproc']['import_s']:.3f} s")
        L.append("stages of the median warm call (s wall; solid and mesh are built lazily inside export): "
                 + ", ".join(f"{k} {v:.3f}" for k, v in mid["seconds"].items()))
        L.append(f"faces {mid['step_faces']}, segments {mid['curve_segments']}, bodies {mid['bodies']}, triangles {mid['triangles']}")
        c = lg["cli"]
        L.append(f"(PYTHONDONTWRITEBYTECODE={c.get('env_dont_write_bytecode')!r} in this environment; "
                 "'bytecode cached' runs unset it and cache outside the tree, as an installed package would)")
        for label, tgt in (("stl", TARGETS["cli_stl_s"]), ("step,stl", TARGETS["cli_step_s"]), ("step,stl,3mf", TARGETS["cli_step_s"])):
            for key in (label, label + " (bytecode cached)"):
                if key not in c:
                    continue
                L.append(f"cold CLI `--formats {key}`: {c[key]['s']:.2f} s wall ({verdict(c[key]['s'], tgt)} <= {tgt}), "
                         f"{c[key]['cpu']:.2f} s CPU ({verdict(c[key]['cpu'], tgt)}), peak RSS {c[key]['rss_mb']:.0f} MB")
        L.append(f"python start-up {lg['python_startup_s']:.3f} s; importing OCP costs {lg['ocp_import_s']:.2f} s wall, "
                 f"{lg['ocp_import_cpu']:.2f} s CPU (paid only when STEP is asked for)")
        L.append("cold `--formats stl` import profile (cumulative s per top-level import): "
                 + ", ".join(f"{k} {v:.3f}" for k, v in lg["import_profile_stl"]))
        L.append(f"--json reports: {lg['json_keys']}")
    ck = res.get("checks")
    if ck:
        L.append("")
        L.append("## checks: STEP path with a full OCC read-back (before) and with the structural read tracecad uses (after); same solid, same run; s, medians")
        for name, d in ck.items():
            sec = d["seconds"]
            L.append(f"{name} ({d['faces']} faces, STEP {d['step_bytes'] / 1e6:.1f} MB): before {d['before_s']:.3f} s, after {d['after_s']:.3f} s "
                     f"({ratio(d['after_s'], d['before_s']):.2f}x) -- " + ", ".join(f"{k} {v:.3f}" for k, v in sec.items()))
    mem = res.get("memory")
    if mem:
        L.append("")
        L.append(f"## 4. memory (peak RSS of the CLI child; target <= {TARGETS['rss_gb']} GB)")
        L.append("| run | exit | wall s | CPU s | peak RSS MB | working size | note |")
        L.append("|---|---|---|---|---|---|---|")
        for k, d in mem.items():
            note = d["error"] or "; ".join(d["warnings"] or []) or ""
            L.append(f"| {k} | {d['rc']} | {d['s']:.2f} | {d['cpu']:.2f} | {d['rss_mb']:.0f} | {d['working_size']} | {note} |")
    ec = res.get("economy")
    if ec:
        failed = [r for r in ec["rows"] if r.get("error")]
        rows = [r for r in ec["rows"] if not r.get("error")]
        rs = [r["faces"] / (r["segments"] + 2 * r["bodies"]) for r in rows]
        L.append("")
        L.append(f"## 5. output economy (target faces <= {TARGETS['faces']} x (segments + 2 x bodies))")
        L.append(f"{len(rows)} images: faces / (segments + 2 x bodies): min {min(rs):.3f}, median {median(rs):.3f}, max {max(rs):.3f}")
        for r in failed:
            L.append(f"FAILED to build: {r['input']}: {r['error']}")
        for name, sw in ec["sweep"].items():
            tols = sorted(sw, key=float, reverse=True)
            tri = [sw[t] for t in tols]
            slope = math.log(tri[-1] / tri[0]) / math.log(float(tols[0]) / float(tols[-1]))
            L.append(f"triangles vs chord tolerance, {name}: " + ", ".join(f"{t} mm: {n}" for t, n in zip(tols, tri))
                     + f"; growth exponent {slope:.2f} (curves: ~0.5 = 1/sqrt(tolerance); straight: 0)")
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N mono items (default: all)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--sections", default="trace,stl,logo,checks,memory,economy")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "speed"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-list", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    ap.add_argument("--child-sweep", help=argparse.SUPPRESS)
    ap.add_argument("--child-upsample", help=argparse.SUPPRESS)
    ap.add_argument("--upsample", type=int, default=None,
                    help="stl section: run tracecad with --upsample N (default: its working-raster policy)")
    a = ap.parse_args(argv)
    if a.child:
        return {"stl": child_stl, "inproc": child_inproc, "economy": child_economy}[a.child](a)

    for tool in ("potrace", "openscad"):
        if shutil.which(tool) is None:
            print(f"speed.py: {tool} is not installed (make setup-bench installs it); cannot compare", file=sys.stderr)
            return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sections = set(a.sections.split(","))
    kinds = [k for k in a.kinds.split(",") if k]
    corpus = Path(a.corpus)
    res: dict = {"machine": machine(), "repeat": a.repeat, "command": " ".join([Path(sys.executable).name, *sys.argv])}
    gen = generate(out / "gen", big="memory" in sections)
    images: dict[str, list[Path]] = {}
    if (corpus / "manifest.json").exists():
        images = corpus_images(corpus, kinds, a.limit)
    else:
        print(f"speed.py: {corpus} not found; skipping the corpus parts (the generated images still run)")
    images_gen = {**images, "gen-photo4k": [gen["photo4k"]], "gen-logo1080": [gen["logo1080"]]}
    t0 = time.perf_counter()

    def save():  # after every section: a later failure does not lose what was measured
        (out / "speed.json").write_text(json.dumps(res, indent=1, default=str))

    if "trace" in sections:
        res["trace"] = section_trace(images_gen, out / "trace", a.repeat)
        save()
        print(f"[trace done {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    if "stl" in sections:
        res["stl"] = section_stl(images_gen, out / "stl", a.repeat, a.upsample)
        save()
        print(f"[stl done {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    if "logo" in sections:
        res["logo"] = section_logo(gen, out / "logo", a.repeat)
        save()
    if "checks" in sections:
        logo = [p for p in images.get("png512", []) if p.name == "audi.512.png"]
        res["checks"] = section_checks(gen, out / "checks", a.repeat, logo[0] if logo else None)
        save()
    if "memory" in sections:
        res["memory"] = section_memory(gen, out / "memory")
        save()
    if "economy" in sections:
        res["economy"] = section_economy(images.get("png512", []), gen, out / "economy")
        save()
    res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    res["seconds"] = time.perf_counter() - t0
    (out / "speed.json").write_text(json.dumps(res, indent=1, default=str))
    print(report(res))
    print(f"\nraw results: {out / 'speed.json'}; bench took {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
