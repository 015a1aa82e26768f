"""The web app's HTTP API (tracecad.web) through the framework's test client: conversions, previews,
every error status, traversal attempts, the upload and pixel limits, and workers that crash or hang."""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 but still runs its test client on httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from tracecad.web.app import STATIC_DIR, create_app  # noqa: E402
from tracecad.web.settings import ServerSettings  # noqa: E402
from tracecad.web.workers import TaskTimeout, WorkerDied, WorkerPool  # noqa: E402
from tracer import __version__  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUDI = ROOT / "sample_images" / "audi.512.png"
LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def client():
    app = create_app(ServerSettings(workers=1, max_upload_bytes=LIMIT, time_limit_s=60))
    with TestClient(app) as c:
        yield c


def post(client, path="/api/convert", data=None, image: bytes | None = None, filename="logo.png"):
    files = {"image": (filename, image if image is not None else AUDI.read_bytes(), "image/png")}
    return client.post(path, data=data or {}, files=files)


def png_bytes(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width=100_000, height=100_000) -> bytes:
    """A tiny PNG whose header claims 10 gigapixels (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100_000, 9))
            + chunk(b"IEND", b""))


def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"tracecad": __version__}


def test_convert_serves_every_format_and_a_zip(client):
    import trimesh

    r = post(client, data={"width": "80", "thickness": "2", "formats": "step,stl,3mf,svg"})
    assert r.status_code == 200, r.text
    entry = r.json()
    assert entry["status"] == "ok" and abs(entry["width_mm"] - 80) < 1e-6
    assert set(entry["outputs"]) == {"step", "stl", "3mf", "svg"}
    for fmt, url in entry["outputs"].items():
        assert url.startswith("/files/") and url.endswith("." + fmt)
        got = client.get(url)
        assert got.status_code == 200 and len(got.content) > 100
    mesh = trimesh.load(io.BytesIO(client.get(entry["outputs"]["stl"]).content), file_type="stl")
    assert mesh.is_watertight
    assert abs(mesh.extents[0] - 80) < 0.05
    z = zipfile.ZipFile(io.BytesIO(client.get(entry["zip"]).content))
    assert sorted(z.namelist()) == ["logo.3mf", "logo.step", "logo.stl", "logo.svg"]


def test_defaults_are_the_command_lines(client):
    entry = post(client).json()
    assert set(entry["outputs"]) == {"step", "stl"}
    assert abs(entry["width_mm"] - 50) < 1e-6 and entry["thickness_mm"] == 3


def test_preview_gives_the_overlay_and_the_size(client):
    r = post(client, "/api/preview", data={"width": "80"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["overlay"].startswith("data:image/png;base64,")
    assert abs(p["width_mm"] - 80) < 1e-3 and p["height_mm"] > 0
    assert p["overlay_size"][0] >= 1024


@pytest.mark.parametrize("data, status, words", [
    ({"width": "abc"}, 400, "width"),
    ({"width": "-3"}, 400, "positive"),
    ({"frobnicate": "1"}, 400, "unknown option"),
    ({"method": "magic"}, 400, "method"),
    ({"output": "/tmp/elsewhere"}, 400, "unknown option"),
    ({"debug-dir": "/tmp/elsewhere"}, 400, "unknown option"),
    ({"invert": "maybe"}, 400, "switch"),
    ({"mode": "relief", "formats": "svg"}, 422, "svg"),
    ({"width": "40", "height": "40"}, 400, "height"),
    ({"max-pixels": "999999999999"}, 422, "limit"),
])
def test_invalid_options_are_one_sentence(client, data, status, words):
    r = post(client, data=data)
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    assert words in msg and "\n" not in msg and "Traceback" not in msg


def test_not_an_image(client):
    r = post(client, image=b"this is not a picture at all", filename="notes.png")
    assert r.status_code == 415, r.text
    assert "notes.png" in r.json()["error"]


def test_no_image_field_and_empty_upload(client):
    assert client.post("/api/convert", data={"width": "3"}).status_code == 400
    assert post(client, image=b"").status_code == 400


def test_no_subject_found(client):
    r = post(client, image=png_bytes(np.full((64, 64), 255)), filename="blank.png")
    assert r.status_code == 422
    assert "no subject" in r.json()["error"]


def test_upload_over_the_limit(client):
    r = post(client, image=os.urandom(LIMIT + 200_000))
    assert r.status_code == 413
    assert "limit" in r.json()["error"]


def test_decompression_bomb_is_refused_from_its_header(client):
    t = time.perf_counter()
    r = post(client, image=bomb_png(), filename="bomb.png")
    assert r.status_code == 413, r.text
    assert "pixel" in r.json()["error"]
    assert time.perf_counter() - t < 10
    assert post(client, "/api/preview", image=bomb_png(), filename="bomb.png").status_code == 413


def test_server_survives_the_errors(client):
    for _ in range(2):
        post(client, image=b"junk")
        post(client, image=bomb_png())
    assert client.get("/api/health").status_code == 200
    assert post(client, data={"formats": "stl"}).status_code == 200


TRAVERSALS = [
    "/files/../../../../etc/passwd",
    "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/files/..%2f..%2f..%2fetc%2fpasswd",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fforms.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "//etc/passwd",
    "/files/%2fetc/passwd",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_attempts_reach_nothing(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404, 405), (url, r.status_code)
    assert b"root:" not in r.content and b"import" not in r.content


def test_traversal_inside_a_result(client):
    entry = post(client, data={"formats": "stl"}).json()
    rid = entry["id"]
    for name in ("..%2f..%2f..%2fetc%2fpasswd", "%2e%2e", "..", "%2fetc%2fpasswd", ".%2e%2f.%2e%2fapp.py",
                 "logo.stl%00.png", "logo.step"):
        r = client.get(f"/files/{rid}/{name}")
        assert r.status_code in (400, 404), name
        assert b"root:" not in r.content
    assert client.get(f"/files/{'A' * 24}/logo.stl").status_code == 404


def test_an_upload_name_cannot_choose_where_files_go(client):
    r = post(client, data={"formats": "stl"}, filename="../../../../tmp/evil.png")
    assert r.status_code == 200
    url = r.json()["outputs"]["stl"]
    assert url.count("/") == 3 and url.endswith("/evil.stl")
    assert not Path("/tmp/evil.stl").exists()


def test_symlinks_are_not_followed(client, tmp_path):
    entry = post(client, data={"formats": "stl"}).json()
    url = entry["outputs"]["stl"]
    rid, name = url.split("/")[2:]
    store_root = next(Path(p) for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("tracecad-web-*")
                      if (Path(p) / rid).is_dir())
    target = store_root / rid / name
    target.unlink()
    target.symlink_to("/etc/passwd")
    assert client.get(url).status_code == 404
    link = STATIC_DIR / f"link-{os.getpid()}.txt"
    link.symlink_to("/etc/passwd")
    try:
        r = client.get(f"/static/{link.name}")
        assert r.status_code == 404 and b"root:" not in r.content
    finally:
        link.unlink()


def test_page_and_static_files_are_served(client):
    r = client.get("/")
    assert r.status_code == 200 and "<title>tracecad</title>" in r.text
    assert "content-security-policy" in r.headers
    assert client.get("/static/vendor/three/build/three.module.js").status_code == 200


class _Crash:
    def __reduce__(self):
        return (os._exit, (3,))


class _Hang:
    def __reduce__(self):
        return (time.sleep, (30,))


def test_a_crashed_or_stuck_worker_costs_one_task():
    pool = WorkerPool(1, time_limit_s=60)
    try:
        with pytest.raises(WorkerDied):
            pool.run({"kind": "preview", "name": "x", "crash": _Crash()})
        with pytest.raises(TaskTimeout):
            pool.run({"kind": "preview", "name": "x", "hang": _Hang()}, time_limit_s=1.0)
        ok = pool.run({"kind": "preview", "name": "audi.png", "source": AUDI.read_bytes(),
                       "options": __import__("tracecad").ConvertOptions(width_mm=30)})
        assert abs(ok["ok"]["width_mm"] - 30) < 1e-3
        assert pool.started == 3
    finally:
        pool.close()


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="40mm" height="20mm" viewBox="0 0 40 20">'
       b'<rect width="20" height="20"/><circle cx="30" cy="10" r="8"/></svg>')


def test_svg_uploads_are_read_as_vectors(client):
    p = post(client, "/api/preview", image=SVG, filename="shapes.svg")
    assert p.status_code == 200, p.text
    assert p.json()["width_mm"] == pytest.approx(38) and p.json()["overlay"].startswith("data:image/png")
    r = post(client, data={"formats": "stl,svg"}, image=SVG, filename="shapes.svg")
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["source"] == "vector" and e["area_mm2"] == pytest.approx(400 + np.pi * 64, rel=1e-3)
    bad = post(client, image=b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>', filename="x.svg")
    assert bad.status_code >= 400 and "entities" in bad.json()["error"]
