"""Bad, hostile and unusual inputs through the in-process CLI.

Every bad input must exit non-zero with ONE line on stderr that names the file
and the cause, print no traceback and leave no file at all in the output
folder (not even a hidden ``.part`` temporary). Every unusual-but-legal input
must convert, and the solid must have the shape that was drawn.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
from PIL import Image

import shapes
from tracecad.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def files_in(folder: Path) -> list[str]:
    """Every file below ``folder``, hidden ones included (empty when the folder does not exist)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def assert_clean_failure(code: int, err: str, out_dir: Path, name: str, *causes: str) -> str:
    """Non-zero exit, exactly one ``tracecad: error:`` line naming ``name`` and a cause, no traceback, no file."""
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("tracecad: error: "), line
    assert name in line, line
    assert "Traceback" not in err
    low = line.lower()
    assert any(c.lower() in low for c in causes), f"no cause among {causes} in: {line}"
    assert files_in(out_dir) == [], files_in(out_dir)
    return line


def png_bytes(arr: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", **save)
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, **save)
    return buf.getvalue()


def ring_grey() -> np.ndarray:
    return np.where(shapes.ring(120, 50, 25), 0, 255).astype(np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(w: int = 100_000, h: int = 100_000) -> bytes:
    """A valid-looking 8-bit grey PNG whose IHDR claims ``w`` x ``h`` pixels, with a few bytes of IDAT."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


# ---------------------------------------------------------------- refused inputs

def test_zero_byte_file(capsys, tmp_path):
    f = tmp_path / "empty.png"
    f.write_bytes(b"")
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "empty")


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_truncated_image(capsys, tmp_path, fmt):
    rng = np.random.default_rng(1)
    arr = np.where(shapes.ring(300, 120, 60), 0, 255).astype(np.uint8)
    arr = np.clip(arr.astype(int) + rng.integers(-20, 20, arr.shape), 0, 255).astype(np.uint8)  # poorly compressible
    data = png_bytes(arr) if fmt == "png" else jpeg_bytes(Image.fromarray(arr))
    f = tmp_path / f"cut.{'png' if fmt == 'png' else 'jpg'}"
    f.write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q", "--formats", "stl,3mf,svg")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "truncated", "corrupt")


def test_random_bytes_with_an_image_extension(capsys, tmp_path):
    f = tmp_path / "noise.jpg"
    f.write_bytes(np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "not a recognised image")


def test_text_file_named_png(capsys, tmp_path):
    f = tmp_path / "notes.png"
    f.write_text("hello, this is a text file\n" * 20)
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "not a recognised image")


def test_decompression_bomb_png_is_refused_before_any_pixel_is_decoded(capsys, tmp_path, monkeypatch):
    from PIL import ImageFile

    decoded = []
    real_load = ImageFile.ImageFile.load

    def spy_load(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    f = tmp_path / "bomb.png"
    f.write_bytes(bomb_png())
    assert f.stat().st_size < 200
    with Image.open(f) as im:  # the header really claims 100000 x 100000
        assert im.size == (100_000, 100_000)
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    line = assert_clean_failure(code, err, tmp_path / "o", str(f), "above the limit")
    assert "100000x100000" in line and "--max-pixels" in line
    assert decoded == []  # refused from the header alone: nothing was decompressed


def test_decompression_bomb_in_a_png_text_chunk(capsys, tmp_path):
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    text = b"Comment\x00\x00" + zlib.compress(b"A" * (64 * 1024 * 1024), 9)  # 64 MB of text in a few kB
    raw = b"".join(b"\x00" + bytes(16) for _ in range(16))
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"zTXt", text)
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    f = tmp_path / "textbomb.png"
    f.write_bytes(data)
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    # Either refused as a bomb, or (Pillow skips the chunk) found blank: never a crash.
    assert_clean_failure(code, err, tmp_path / "o", str(f), "too large", "no subject", "cannot be")


@pytest.mark.parametrize("size", [(1, 1), (3, 40)])
def test_tiny_image(capsys, tmp_path, size):
    f = tmp_path / "tiny.png"
    f.write_bytes(png_bytes(np.zeros(size[::-1], np.uint8)))
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "too small")


@pytest.mark.parametrize("level", [0, 128, 255])
def test_blank_image_names_the_cause_and_suggests_options(capsys, tmp_path, level):
    f = tmp_path / "blank.png"
    f.write_bytes(png_bytes(np.full((80, 80), level, np.uint8)))
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    line = assert_clean_failure(code, err, tmp_path / "o", str(f), "no subject")
    assert "--invert" in line and "--threshold" in line


def test_fully_transparent_image_is_blank(capsys, tmp_path):
    f = tmp_path / "clear.png"
    f.write_bytes(png_bytes(np.zeros((64, 64, 4), np.uint8)))
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "no subject")


def test_missing_path(capsys, tmp_path):
    f = tmp_path / "nowhere.png"
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "no such file")


def test_directory_given_where_a_file_is_expected(capsys, tmp_path):
    # A folder is an input folder for ``convert``; a folder NAMED like an image holding no image
    # is reported, and the loader refuses a directory with its own sentence.
    d = tmp_path / "looks_like.png"
    d.mkdir()
    code, _, err = run(capsys, "convert", d, "-o", tmp_path / "o", "-q")
    assert code != 0 and "Traceback" not in err and files_in(tmp_path / "o") == []
    import tracer
    from tracer.errors import ImageReadError

    with pytest.raises(ImageReadError, match="is a directory"):
        tracer.load_image(d)


def test_a_fifo_is_refused_without_blocking(capsys, tmp_path):
    # Root can read any file regardless of its mode bits, so the honest "unreadable" input for
    # root is one the OS cannot give an image from: a FIFO with no writer (opening it would hang).
    f = tmp_path / "pipe.png"
    os.mkfifo(f)
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "not a regular file")


def test_a_path_through_a_regular_file_is_refused(capsys, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    f = plain / "img.png"  # ENOTDIR, whoever runs it
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "no such file", "not a directory")


NOBODY = 65534


def _as_nobody(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the CLI as user ``nobody`` (real permission checks, which root bypasses)."""
    code = "import sys; from tracecad.cli import main; sys.exit(main(sys.argv[1:]))"

    def drop():
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(cwd), MPLCONFIGDIR=str(cwd))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, preexec_fn=drop,
                          capture_output=True, text=True, timeout=120)


def _world_dir(tmp_path_factory) -> Path:
    d = Path(tmp_path_factory.mktemp("world", numbered=True))
    # pytest's base temp folder is private (0700): make a world-traversable one under /tmp.
    w = Path("/tmp") / f"tracecad-i8-{os.getpid()}-{d.name}"
    w.mkdir(mode=0o777)
    os.chmod(w, 0o777)
    return w


def _needs_nobody():
    if os.geteuid() != 0:
        return
    try:
        probe = subprocess.run([sys.executable, "-c", "import tracecad.cli, numpy, PIL"], cwd="/",
                               env=dict(os.environ, PYTHONPATH=str(ROOT)),
                               preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)),
                               capture_output=True, timeout=60)
    except Exception as exc:  # pragma: no cover
        pytest.skip(f"running as root, which ignores permission bits, and a child cannot run as nobody "
                    f"({exc}); see the simulated test below")
    if probe.returncode != 0:
        pytest.skip("running as root, which ignores permission bits, and the Python interpreter is not "
                    "reachable by user nobody to drop privileges (see the simulated test below)")


@pytest.fixture
def world(tmp_path_factory):
    w = _world_dir(tmp_path_factory)
    yield w
    shutil.rmtree(w, ignore_errors=True)


def _convert_unprivileged(capsys, world, f, out):
    """``tracecad convert f -o out -q`` with real permission bits: as root, in a child running as ``nobody``."""
    if os.geteuid() == 0:
        _needs_nobody()
        r = _as_nobody(["convert", str(f), "-o", str(out), "-q"], world)
        return r.returncode, r.stderr
    code, _, err = run(capsys, "convert", f, "-o", out, "-q")
    return code, err


def test_unreadable_file(capsys, world):
    """A file without read permission. As root the check runs in a child that drops to ``nobody``."""
    f = world / "secret.png"
    f.write_bytes(png_bytes(ring_grey()))
    os.chmod(f, 0o000)
    out = world / "o"
    code, err = _convert_unprivileged(capsys, world, f, out)
    assert_clean_failure(code, err, out, str(f), "permission denied")


def test_read_only_output_dir(capsys, world):
    """A real read-only folder; as root, through a child running as ``nobody``."""
    f = world / "ring.png"
    f.write_bytes(png_bytes(ring_grey()))
    os.chmod(f, 0o644)
    out = world / "ro"
    out.mkdir()
    os.chmod(out, 0o555)
    code, err = _convert_unprivileged(capsys, world, f, out)
    assert_clean_failure(code, err, out, str(out), "not writable")


def test_unreadable_file_simulated_eacces(capsys, tmp_path, monkeypatch):
    """The same message path with the OS error injected (honest about being a simulation: it runs
    whoever runs the suite, root included, where the real test above may be skipped)."""
    import errno

    import tracer.load

    f = tmp_path / "secret.png"
    f.write_bytes(png_bytes(ring_grey()))
    real_open = open

    def deny(path, *a, **k):
        if str(path) == str(f):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(tracer.load, "open", deny, raising=False)
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q")
    assert_clean_failure(code, err, tmp_path / "o", str(f), "permission denied")


def test_write_refused_by_the_os_leaves_nothing(capsys, tmp_path, monkeypatch):
    """An OS error while writing the second of three files (EACCES injected): one sentence, no file, no .part."""
    import errno

    import cad.export.threemf as threemf

    def deny(parts, path):
        Path(path).write_bytes(b"PK partial")  # something was already written under the temporary name
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(threemf, "write_3mf", deny)
    f = tmp_path / "ring.png"
    f.write_bytes(png_bytes(ring_grey()))
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q", "--formats", "stl,3mf,svg")
    assert_clean_failure(code, err, tmp_path / "o", "ring", "permission denied")
    assert (tmp_path / "o").is_dir()


def test_output_dir_under_a_regular_file(capsys, tmp_path):
    """An output folder that cannot be created, for root too: a path below a regular file."""
    f = tmp_path / "ring.png"
    f.write_bytes(png_bytes(ring_grey()))
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    out = blocker / "sub"
    code, _, err = run(capsys, "convert", f, "-o", out, "-q")
    assert_clean_failure(code, err, tmp_path / "nothing", str(blocker), "cannot create the output directory")
    assert blocker.read_text() == "I am a file"


def test_output_name_taken_by_a_directory_writes_nothing(capsys, tmp_path):
    f = tmp_path / "ring.png"
    f.write_bytes(png_bytes(ring_grey()))
    out = tmp_path / "o"
    (out / "ring.stl").mkdir(parents=True)
    code, _, err = run(capsys, "convert", f, "-o", out, "-q", "--formats", "step,stl,3mf")
    assert code == 1 and "Traceback" not in err and "ring.stl" in err
    assert files_in(out) == []  # neither ring.step nor ring.3mf: all or nothing


def test_missing_output_dir_is_created(capsys, tmp_path):
    f = tmp_path / "ring.png"
    f.write_bytes(png_bytes(ring_grey()))
    out = tmp_path / "a" / "b" / "c"
    code, _, err = run(capsys, "convert", f, "-o", out, "-q", "--formats", "stl")
    assert code == 0, err
    assert files_in(out) == ["ring.stl"]
    assert trimesh.load(out / "ring.stl", force="mesh").is_volume


def test_existing_output_is_replaced_and_kept_when_a_later_run_fails(capsys, tmp_path):
    """The rule: an existing output file is replaced atomically by a checked one; a failing run
    leaves the previous file byte for byte (nothing is lost)."""
    out = tmp_path / "o"
    out.mkdir()
    f = tmp_path / "ring.png"
    (out / "ring.stl").write_bytes(b"old contents")
    f.write_bytes(png_bytes(ring_grey()))
    code, _, err = run(capsys, "convert", f, "-o", out, "-q", "--formats", "stl")
    assert code == 0, err
    good = (out / "ring.stl").read_bytes()
    assert good != b"old contents" and trimesh.load(out / "ring.stl", force="mesh").is_volume
    f.write_bytes(png_bytes(np.full((60, 60), 255, np.uint8)))  # now blank: the run fails
    code, _, err = run(capsys, "convert", f, "-o", out, "-q", "--formats", "stl")
    assert code == 1
    assert (out / "ring.stl").read_bytes() == good
    assert files_in(out) == ["ring.stl"]


def test_batch_goes_on_after_each_bad_input(capsys, tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes(ring_grey()))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png())
    code, out, err = run(capsys, "convert", empty, good, bomb, tmp_path / "missing.png", "-o", tmp_path / "o",
                         "--formats", "stl", "--json")
    assert code == 1 and "Traceback" not in err
    res = json.loads(out)["results"]
    assert [r["status"] for r in res] == ["error", "ok", "error", "error"]
    assert len([line for line in err.splitlines() if line.startswith("tracecad: error:")]) == 3
    assert files_in(tmp_path / "o") == ["good.stl"]


# ---------------------------------------------------------------- unusual inputs that must convert

def F_mask() -> np.ndarray:
    return np.pad(shapes.letter_f(8), 12)


def convert_one(capsys, path: Path, out: Path, *extra) -> tuple[dict, trimesh.Trimesh]:
    code, o, err = run(capsys, "convert", path, "-o", out, "--formats", "stl", "--json", "--width", "40", *extra)
    assert code == 0, err
    r = json.loads(o)["results"][0]
    m = trimesh.load(r["outputs"]["stl"], force="mesh")
    assert m.is_volume
    return r, m


def footprint(m: trimesh.Trimesh, n: int = 64) -> np.ndarray:
    """Rasterise the top face seen from +Z into an n x n boolean grid over the bbox, image-style (row 0 = +Y)."""
    top = m.triangles[m.triangles[:, :, 2].min(axis=1) > m.bounds[1][2] - 1e-6][:, :, :2]
    (x0, y0), (x1, y1) = m.bounds[0][:2], m.bounds[1][:2]
    grid = np.zeros((n, n), np.uint8)
    for t in top:
        px = np.round((t[:, 0] - x0) / (x1 - x0) * n * 16).astype(np.int32)
        py = np.round((y1 - t[:, 1]) / (y1 - y0) * n * 16).astype(np.int32)
        cv2.fillPoly(grid, [np.stack([px, py], 1)], 1, shift=4)
    return grid.astype(bool)


def reference_footprint(mask: np.ndarray, n: int = 64) -> np.ndarray:
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    crop = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.uint8)
    return cv2.resize(crop, (n, n), interpolation=cv2.INTER_NEAREST).astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def assert_shape_is(m: trimesh.Trimesh, mask: np.ndarray, min_iou: float = 0.85) -> None:
    got, want = footprint(m), reference_footprint(mask)
    assert iou(got, want) >= min_iou, iou(got, want)
    for k in (1, 2, 3):  # and not a rotation of it
        assert iou(got, np.rot90(want, k)) < iou(got, want) - 0.05


def test_16_bit_grey_png(capsys, tmp_path):
    mask = F_mask()
    arr = np.where(mask, 3000, 60000).astype(np.uint16)
    f = tmp_path / "grey16.png"
    Image.fromarray(arr).save(f)
    with Image.open(f) as im:
        assert im.mode.startswith("I")
    r, m = convert_one(capsys, f, tmp_path / "o")
    assert r["bodies"] == 1 and r["holes"] == 0
    assert_shape_is(m, mask)


def test_16_bit_rgb_png(capsys, tmp_path):
    mask = F_mask()
    arr = np.where(mask[..., None], np.array([2000, 4000, 50000]), 65535).astype(np.uint16)
    f = tmp_path / "rgb48.png"
    assert cv2.imwrite(str(f), arr)
    _, m = convert_one(capsys, f, tmp_path / "o")
    assert_shape_is(m, mask)


def test_cmyk_jpeg(capsys, tmp_path):
    mask = F_mask()
    rgb = np.where(mask[..., None], np.array([20, 30, 160], np.uint8), np.uint8(250))
    f = tmp_path / "cmyk.jpg"
    f.write_bytes(jpeg_bytes(Image.fromarray(rgb.astype(np.uint8)).convert("CMYK")))
    with Image.open(f) as im:
        assert im.mode == "CMYK"
    _, m = convert_one(capsys, f, tmp_path / "o")
    assert_shape_is(m, mask)


def test_palette_png_with_transparency(capsys, tmp_path):
    mask = F_mask()
    p = Image.fromarray(np.where(mask, 1, 0).astype(np.uint8), mode="L").convert("P")
    p.putpalette([255, 255, 255, 200, 30, 30] + [0] * (256 * 3 - 6))
    f = tmp_path / "pal.png"
    p.save(f, transparency=0)  # index 0 (the background) is transparent
    with Image.open(f) as im:
        assert im.mode == "P" and "transparency" in im.info
    _, m = convert_one(capsys, f, tmp_path / "o")
    assert_shape_is(m, mask)


def test_grey_plus_alpha(capsys, tmp_path):
    mask = F_mask()
    la = np.stack([np.full(mask.shape, 90, np.uint8), np.where(mask, 255, 0).astype(np.uint8)], axis=-1)
    f = tmp_path / "la.png"
    Image.fromarray(la, mode="LA").save(f)
    with Image.open(f) as im:
        assert im.mode == "LA"
    _, m = convert_one(capsys, f, tmp_path / "o")
    assert_shape_is(m, mask)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_jpeg_is_shown_upright(capsys, tmp_path, orientation):
    """The pixels are stored rotated and EXIF says how to turn them back: the solid must be the upright F."""
    mask = F_mask()
    upright = Image.fromarray(np.where(mask, 0, 255).astype(np.uint8))
    # EXIF 3: rotate 180 to display; 6: rotate 90 CW to display; 8: rotate 90 CCW to display.
    stored = {3: upright.rotate(180, expand=True), 6: upright.rotate(90, expand=True),
              8: upright.rotate(-90, expand=True)}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    f = tmp_path / f"exif{orientation}.jpg"
    f.write_bytes(jpeg_bytes(stored, exif=exif.tobytes()))
    from PIL import ImageOps

    with Image.open(f) as im:  # the test's own premise: Pillow's transpose restores the upright image
        assert ImageOps.exif_transpose(im).size == upright.size
    _, m = convert_one(capsys, f, tmp_path / "o")
    assert_shape_is(m, mask)


def test_animated_gif_uses_the_first_frame(capsys, tmp_path):
    mask = F_mask()
    first = Image.fromarray(np.where(mask, 0, 255).astype(np.uint8)).convert("P")
    second = Image.fromarray(np.where(shapes.ring(mask.shape[0], 40, 20)[:, :mask.shape[1]], 0, 255)
                             .astype(np.uint8)).convert("P")
    f = tmp_path / "anim.gif"
    first.save(f, save_all=True, append_images=[second, second], duration=100, loop=0)
    with Image.open(f) as im:
        assert getattr(im, "n_frames", 1) >= 2
    r, m = convert_one(capsys, f, tmp_path / "o")
    assert r["holes"] == 0
    assert_shape_is(m, mask)


def test_multipage_tiff_uses_the_first_page(capsys, tmp_path):
    mask = F_mask()
    first = Image.fromarray(np.where(mask, 0, 255).astype(np.uint8))
    second = Image.fromarray(np.where(shapes.ring(mask.shape[0], 40, 20)[:, :mask.shape[1]], 0, 255).astype(np.uint8))
    f = tmp_path / "pages.tif"
    first.save(f, save_all=True, append_images=[second])
    with Image.open(f) as im:
        assert im.n_frames == 2
    r, m = convert_one(capsys, f, tmp_path / "o")
    assert r["holes"] == 0
    assert_shape_is(m, mask)


@pytest.mark.parametrize("stem", ["my logo", "lögo ünïcode", "標誌 ロゴ", "a'b\"c;d$(e)"])
def test_file_names_with_spaces_and_non_ascii(capsys, tmp_path, stem):
    mask = F_mask()
    folder = tmp_path / f"in {stem}"
    folder.mkdir()
    f = folder / f"{stem}.png"
    f.write_bytes(png_bytes(np.where(mask, 0, 255).astype(np.uint8)))
    out = tmp_path / f"out {stem}"
    code, o, err = run(capsys, "convert", f, "-o", out, "--formats", "step,stl,3mf,svg", "--json")
    assert code == 0, err
    r = json.loads(o)["results"][0]
    assert files_in(out) == sorted(f"{stem}.{e}" for e in ("step", "stl", "3mf", "svg"))
    code, o, _ = run(capsys, "check", *(out / f"{stem}.{e}" for e in ("step", "stl", "3mf")))
    assert code == 0, o
    assert r["bodies"] == 1


def test_only_specks_smaller_than_min_area(capsys, tmp_path):
    img = np.full((200, 200), 255, np.uint8)
    for y in range(20, 200, 40):
        for x in range(20, 200, 40):
            img[y:y + 4, x:x + 4] = 0
    f = tmp_path / "specks.png"
    f.write_bytes(png_bytes(img))
    code, _, err = run(capsys, "convert", f, "-o", tmp_path / "o", "-q", "--min-area", "5")
    line = assert_clean_failure(code, err, tmp_path / "o", str(f), "smaller than --min-area")
    assert "5" in line
