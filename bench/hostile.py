"""Hostile inputs: how fast and how lean tracecad refuses them, side by side with the budget lifted.

    .venv/bin/python bench/hostile.py            # prints a table; about a minute

Each case runs ``tracecad convert`` in a fresh process (wall time, peak RSS of
that process from wait4). The peer is the same command with the complexity
budget lifted (``--max-segments 100000000``), i.e. what would happen without
the guard; it is stopped at ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_cases(d: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    cases = {}
    for n, dens in ((2000, 0.5), (2000, 0.05), (500, 0.5), (50, 0.5)):
        p = d / f"salt_{n}_{int(dens * 100)}.png"
        Image.fromarray(np.where(rng.random((n, n)) < dens, 0, 255).astype(np.uint8)).save(p)
        cases[f"salt-and-pepper {n}x{n}, {dens:.0%} ink"] = p
    bomb = d / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0))
                     + _chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + _chunk(b"IEND", b""))
    cases["PNG header claiming 100000x100000"] = bomb
    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 1000">{}</svg>'
    lol = '<!ENTITY a "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    (d / "laughs.svg").write_text(f'<?xml version="1.0"?><!DOCTYPE svg [{lol}]>' + svg.format("<text>&j;</text>"))
    cases["SVG entity expansion (10^10 'lol's)"] = d / "laughs.svg"
    (d / "xxe.svg").write_text('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                               + svg.format("<text>&x;</text>"))
    cases["SVG external entity (XXE)"] = d / "xxe.svg"
    layers = '<g id="l0"><rect width="1" height="1"/></g>' + "".join(
        f'<g id="l{i}">' + f'<use href="#l{i - 1}"/>' * 10 + "</g>" for i in range(1, 12))
    (d / "usebomb.svg").write_text(svg.format(f"<defs>{layers}</defs><use href='#l11'/>"))
    cases["SVG nested <use>, 10^11 rectangles"] = d / "usebomb.svg"
    path = "M0,0 " + " ".join(f"L{i % 1000},{(i * 7) % 1000}" for i in range(300_000)) + " Z"
    (d / "huge.svg").write_text(svg.format(f'<path d="{path}"/>'))
    cases["SVG path of 300 000 self-crossing lines"] = d / "huge.svg"
    return cases


def run(path: Path, out: Path, extra: list[str], timeout: float) -> tuple[str, float, float, str]:
    cmd = [sys.executable, "-m", "tracecad", "convert", str(path), "-o", str(out), "--formats", "step,stl", "-q", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status, rss_kb = None, 0
    while status is None:
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, rss_kb = st, ru.ru_maxrss
            break
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            _, st, ru = os.wait4(proc.pid, 0)
            return "timeout", time.perf_counter() - t0, ru.ru_maxrss / 1024, ""
        time.sleep(0.02)
    secs = time.perf_counter() - t0
    err = proc.stderr.read().strip().splitlines()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    return ("ok" if code == 0 else f"exit {code}"), secs, rss_kb / 1024, (err[0] if err else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--only", default=None, help="run only the cases whose label contains this text (e.g. SVG)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rows = []
        for label, path in make_cases(d).items():
            if a.only and a.only not in label:
                continue
            guarded = run(path, d / "o1", [], a.timeout)
            lifted = run(path, d / "o2", ["--max-segments", "100000000"], a.timeout)
            rows.append((label, guarded, lifted))
            print(f"{label}\n  budget on : {guarded[0]:8s} {guarded[1]:7.2f} s {guarded[2]:7.0f} MB  {guarded[3][:160]}"
                  f"\n  budget off: {lifted[0]:8s} {lifted[1]:7.2f} s {lifted[2]:7.0f} MB"
                  f"\n  ratio off/on: time {lifted[1] / guarded[1]:.1f}x"
                  f"{'+' if lifted[0] == 'timeout' else ''}, memory {lifted[2] / guarded[2]:.1f}x", flush=True)


if __name__ == "__main__":
    main()
