"""The web app's speed and memory: `tracecad serve` as a user starts it, driven over HTTP.

* live preview (isolate + trace + overlay) of a 512 px logo, after the first: server time per request;
* a warm conversion to STEP + STL + 3MF of the same logo;
* 20 uploads at once against 2 workers: all must succeed; wall time and the peak memory of the server
  and its worker processes together (RSS summed, sampled every 50 ms).

Run: .venv/bin/python bench/serve.py [--image FILE] [--repeat N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
        todo += _children(p)
    return total / 1024


def post(client: httpx.Client, url: str, image: bytes, data: dict) -> httpx.Response:
    return client.post(url, files={"image": ("logo.png", image, "image/png")}, data=data, timeout=600)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(ROOT / "sample_images" / "audi.512.png"))
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    image = Path(a.image).read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "tracecad", "serve", "--port", "0", "--workers", "2"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = re.search(r"(http://\S+/)", proc.stdout.readline()).group(1)
        with httpx.Client(base_url=url) as client:
            for _ in range(300):
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            # live preview
            post(client, "/api/preview", image, {"width": "50"})
            wall, inner = [], []
            for i in range(a.repeat):
                t = time.perf_counter()
                r = post(client, "/api/preview", image, {"width": str(50 + i)})
                wall.append(time.perf_counter() - t)
                inner.append(r.json()["seconds"])
            print(f"preview, 512 px logo: median {statistics.median(wall) * 1000:.0f} ms per request "
                  f"(worker {statistics.median(inner) * 1000:.0f} ms), min {min(wall) * 1000:.0f} ms, n={a.repeat}")
            # warm conversion
            fields = {"formats": "step,stl,3mf", "width": "50"}
            for _ in range(2):  # both workers warm (OpenCASCADE loaded)
                post(client, "/api/convert", image, fields)
            times = []
            for _ in range(max(3, a.repeat // 2)):
                t = time.perf_counter()
                r = post(client, "/api/convert", image, fields)
                assert r.status_code == 200, r.text
                times.append(time.perf_counter() - t)
            print(f"convert to STEP+STL+3MF, warm: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
                  f"n={len(times)}")
            # 20 at once
            peak = [tree_rss_mb(proc.pid)]
            idle = peak[0]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], tree_rss_mb(proc.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t = time.perf_counter()
            with ThreadPoolExecutor(20) as ex:
                codes = list(ex.map(lambda i: post(client, "/api/convert", image,
                                                   {"formats": "step,stl,3mf,svg", "width": str(40 + i)}).status_code,
                                    range(20)))
            total = time.perf_counter() - t
            stop.set()
            sampler.join()
            ok = sum(c == 200 for c in codes)
            print(f"20 concurrent uploads, 2 workers: {ok}/20 succeeded in {total:.1f} s; memory of the server "
                  f"and its workers: {idle:.0f} MB before, peak {peak[0]:.0f} MB")
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
