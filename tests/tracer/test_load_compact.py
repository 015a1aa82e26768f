"""The loader's compact storage (uint8 / single grey channel) gives the values the float32 RGB decoding gave.

``REFERENCE`` below is the decoding tracecad used before the storage became
compact (float32 RGB for every image, grey expanded to three channels). Every
pixel mode the loader accepts is decoded both ways and must agree bit for bit:
``pixels``, ``alpha`` and ``luminance()`` (which isolate thresholds).
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from tracer.errors import InvalidInputError
from tracer.load import load_image
from tracer.types import Image


def reference_arrays(im):
    """The former ``tracer.load._to_arrays``: RGB float32 [0,1] and alpha float32 (None when opaque)."""
    mode = im.mode
    alpha = None
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("1", "L"):
        g = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        rgb = np.repeat(g[..., None], 3, axis=2)
    elif mode == "LA":
        a = np.asarray(im, dtype=np.float32) / 255.0
        rgb = np.repeat(a[..., :1], 3, axis=2)
        alpha = a[..., 1]
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        g = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if mode == "F" and g.max() <= 1.0:
            top = 1.0
        else:
            top = 65535.0 if (mode.startswith("I;16") or g.max() > 255) else 255.0
        rgb = np.repeat((np.clip(g / top, 0, 1)).astype(np.float32)[..., None], 3, axis=2)
    elif mode == "RGBA":
        a = np.asarray(im, dtype=np.float32) / 255.0
        rgb, alpha = a[..., :3], a[..., 3]
    elif mode == "RGB":
        rgb = np.asarray(im, dtype=np.float32) / 255.0
    elif mode in ("RGBa", "La"):
        return reference_arrays(im.convert("RGBA"))
    elif mode == "CMYK":
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    else:
        return reference_arrays(im.convert("RGBA"))
    if alpha is not None and alpha.min() >= 1.0 - 1e-6:
        alpha = None
    return np.ascontiguousarray(rgb, dtype=np.float32), alpha


def reference_luminance(rgb):
    """The former ``Image.luminance`` on float32 RGB."""
    return (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]).astype(np.float32)


def reference_load(data: bytes):
    im = PILImage.open(io.BytesIO(data))
    im.load()
    im = ImageOps.exif_transpose(im)
    return reference_arrays(im)


def _rng():
    return np.random.default_rng(7)


def _pil(arr: np.ndarray, mode: str):
    """A Pillow image of ``mode`` holding ``arr`` (raw bytes: fromarray's mode argument is deprecated)."""
    h, w = arr.shape[:2]
    raw = {"I;16": "I;16", "I": "I", "F": "F"}.get(mode, mode)
    return PILImage.frombytes(mode, (w, h), np.ascontiguousarray(arr).tobytes(), "raw", raw)


def _encode(im, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _cases():
    r = _rng()
    h, w = 37, 53
    u8 = r.integers(0, 256, (h, w, 4), dtype=np.uint8)
    u8[..., 3][:5] = 255
    grey = u8[..., 0]
    every = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every grey level once
    cases = {
        "L png": _encode(_pil(grey, "L"), "PNG"),
        "L every level": _encode(_pil(every, "L"), "PNG"),
        "1 png": _encode(PILImage.fromarray(grey > 128).convert("1"), "PNG"),
        "LA png": _encode(_pil(u8[..., [0, 3]], "LA"), "PNG"),
        "RGB png": _encode(_pil(u8[..., :3], "RGB"), "PNG"),
        "RGB png, grey content": _encode(_pil(np.repeat(grey[..., None], 3, 2), "RGB"), "PNG"),
        "RGB every level, grey content": _encode(_pil(np.repeat(every[..., None], 3, 2), "RGB"), "PNG"),
        "RGBA png": _encode(_pil(u8, "RGBA"), "PNG"),
        "RGBA opaque": _encode(_pil(np.dstack([u8[..., :3], np.full((h, w), 255, np.uint8)]), "RGBA"), "PNG"),
        "RGBA grey content": _encode(_pil(np.dstack([np.repeat(grey[..., None], 3, 2), u8[..., 3]]), "RGBA"), "PNG"),
        "RGB jpeg": _encode(_pil(u8[..., :3], "RGB"), "JPEG", quality=90),
        "L jpeg": _encode(_pil(grey, "L"), "JPEG", quality=90),
        "CMYK jpeg": _encode(_pil(u8, "CMYK"), "JPEG", quality=90),
        "RGB bmp": _encode(_pil(u8[..., :3], "RGB"), "BMP"),
        "RGB webp": _encode(_pil(u8[..., :3], "RGB"), "WEBP", lossless=True),
        "RGB tiff": _encode(_pil(u8[..., :3], "RGB"), "TIFF"),
        "F tiff": _encode(_pil(r.random((h, w), dtype=np.float32), "F"), "TIFF"),
        "F tiff above 1": _encode(_pil((r.random((h, w)) * 300).astype(np.float32), "F"), "TIFF"),
        "I tiff": _encode(_pil(r.integers(0, 70000, (h, w)).astype("<i4"), "I"), "TIFF"),
        "I;16 png": _encode(_pil(r.integers(0, 65536, (h, w)).astype("<u2"), "I;16"), "PNG"),
        "I;16 every value": _encode(_pil(np.arange(65536, dtype="<u2").reshape(256, 256), "I;16"),
                                    "PNG"),
        "gif": _encode(_pil(u8[..., :3], "RGB").convert("P"), "GIF"),
    }
    pal = _pil(u8[..., :3], "RGB").convert("P", colors=8)
    pal.info["transparency"] = 0
    cases["P png with transparency"] = _encode(pal, "PNG", transparency=0)
    ppm = _pil(u8[..., :3], "RGB")
    cases["PPM"] = _encode(ppm, "PPM")
    rot = _pil(u8[..., :3], "RGB")
    exif = rot.getexif()
    exif[0x0112] = 6  # rotate 270 on display
    cases["RGB jpeg, EXIF orientation 6"] = _encode(rot, "JPEG", exif=exif.tobytes(), quality=95)
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_compact_load_equals_float32_rgb_decoding(case):
    data = CASES[case]
    ref_rgb, ref_alpha = reference_load(data)
    img = load_image(data, name=case)
    assert img.size == (ref_rgb.shape[1], ref_rgb.shape[0])
    lum = img.luminance()
    assert lum.dtype == np.float32 and lum.shape == ref_rgb.shape[:2]
    assert np.array_equal(lum, reference_luminance(ref_rgb)), "luminance differs"
    if ref_alpha is None:
        assert img.alpha is None
    else:
        assert img.alpha is not None and img.alpha.dtype == np.float32
        assert np.array_equal(img.alpha, ref_alpha)
    px = img.pixels  # materialised last: luminance above came from the compact storage
    assert px.dtype == np.float32 and px.shape == ref_rgb.shape and not px.flags.writeable
    assert np.array_equal(px, ref_rgb), "pixels differ"
    assert np.array_equal(img.luminance(), reference_luminance(ref_rgb)), "luminance after materialising differs"


def test_grey_images_are_stored_single_channel_uint8():
    g = _rng().integers(0, 256, (40, 60), dtype=np.uint8)
    for data in (_encode(_pil(g, "L"), "PNG"),
                 _encode(_pil(np.repeat(g[..., None], 3, 2), "RGB"), "PNG")):
        img = load_image(data)
        assert img.is_grey and img.nbytes == g.size  # 1 byte per pixel, not 12
        assert np.array_equal(img.pixels[..., 1], g / np.float32(255.0))
    colour = load_image(_encode(PILImage.fromarray(_rng().integers(0, 256, (40, 60, 3), dtype=np.uint8)), "PNG"))
    assert not colour.is_grey and colour.nbytes == 40 * 60 * 3


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("grey", [True, False])
def test_image_storages_agree(dtype, grey):
    r = _rng()
    u8 = r.integers(0, 256, (23, 31) if grey else (23, 31, 3), dtype=np.uint8)
    data = u8 if dtype == np.uint8 else (u8 / 255.0).astype(dtype)
    img = Image(data, name="x")
    rgb = u8.astype(np.float32) / 255.0  # float64 input is stored as float32: the same values (double rounding
    if grey:                              # of a quotient is exact from 53 to 24 bits)
        rgb = np.repeat(rgb[..., None], 3, 2)
    assert img.is_grey == grey
    assert np.array_equal(img.luminance(), reference_luminance(rgb))
    assert np.array_equal(img.pixels, rgb)
    assert img.size == (31, 23) and img.shape == (23, 31)


def test_image_is_immutable_and_copies_its_input():
    arr = np.zeros((8, 9, 3), np.float32)
    img = Image(arr, alpha=np.ones((8, 9)), name="z")
    arr[:] = 1.0  # the caller's array is copied
    assert img.pixels.max() == 0.0
    with pytest.raises(AttributeError):
        img.name = "other"
    with pytest.raises(ValueError):
        img.pixels[0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        img.alpha[0, 0] = 0.0
    back = pickle.loads(pickle.dumps(img))
    assert back.name == "z" and np.array_equal(back.pixels, img.pixels) and np.array_equal(back.alpha, img.alpha)
    assert img.source_size == (9, 8)


@pytest.mark.parametrize("shape", [(8,), (8, 9, 4), (8, 9, 1), (2, 8, 9, 3)])
def test_image_rejects_bad_shapes(shape):
    with pytest.raises(InvalidInputError):
        Image(np.zeros(shape, np.float32))
    with pytest.raises(InvalidInputError):
        Image(np.zeros((8, 9), np.uint8), alpha=np.ones((9, 8)))


def test_mask_adopt_is_the_same_mask_without_a_copy():
    from tracer.types import Mask

    px = _rng().random((30, 40)) > 0.5
    a, b = Mask(px.copy(), scale=0.5, info={"k": 1}), Mask._adopt(px, scale=0.5, info={"k": 1})
    assert b.pixels is px and not px.flags.writeable  # adopted, and now read-only
    assert np.array_equal(a.pixels, b.pixels) and a.scale == b.scale and a.source_size == b.source_size == (20, 15)
    assert a.info == b.info
    with pytest.raises(InvalidInputError):
        Mask._adopt(np.zeros((3, 3, 3), bool))
    with pytest.raises(InvalidInputError):
        Mask._adopt(np.zeros((3, 3), bool), scale=0)
    c = Mask._adopt(np.zeros((3, 4), np.uint8))  # other dtypes are converted (copied) as Mask() does
    assert c.pixels.dtype == bool and c.source_size == (4, 3)


@pytest.mark.parametrize("case", ["RGB png", "L png", "RGBA png", "I;16 png", "F tiff"])
def test_rgb8_equals_rounding_the_float_pixels(case):
    img = load_image(CASES[case])
    ref = np.clip(img.pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)  # what isolate's GrabCut path computes
    fresh = load_image(CASES[case])  # rgb8 before pixels was ever built
    out = fresh.rgb8()
    assert out.dtype == np.uint8 and out.shape == ref.shape and np.array_equal(out, ref)
