"""Synthetic photos of a printed sheet: a pinhole camera looking at a tilted sheet in a scene.

Used by the photo tests (with small shapes drawn here) and by ``bench/photo.py`` (with corpus logos).
Everything is drawn in code: the sheet with its artwork, a textured background, uneven light, a
shadow edge, sensor noise and JPEG. The truth is known exactly: the sheet's corners in the photo,
its aspect ratio, and the artwork in the sheet's own frame.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass
class Scene:
    jpeg: bytes
    corners: np.ndarray  # (4, 2) TL, TR, BR, BL of the sheet in the photo (pixel (c, r) covers [c, c+1])
    aspect: float  # the sheet's width / height
    focal_35mm: float
    tilt_deg: float


def rotation(axis_angle_deg: float, tilt_deg: float, roll_deg: float) -> np.ndarray:
    """Tilt by ``tilt_deg`` about an axis in the sheet's plane at ``axis_angle_deg``, then roll in the picture."""
    a = math.radians(axis_angle_deg)
    axis = np.array([math.cos(a), math.sin(a), 0.0])
    r_tilt, _ = cv2.Rodrigues(axis * math.radians(tilt_deg))
    r_roll, _ = cv2.Rodrigues(np.array([0.0, 0.0, math.radians(roll_deg)]))
    return r_roll @ r_tilt


def sheet_homography(sheet_wh, photo_wh, focal_35mm, rot, fill=0.6, shift=(0.0, 0.0)):
    """3x3 homography sheet pixels -> photo pixels (edge convention), the camera looking at the tilted sheet."""
    sw, sh = sheet_wh
    pw, ph = photo_wh
    f = focal_35mm / FULL_FRAME_DIAGONAL_MM * math.hypot(pw, ph)
    k = np.array([[f, 0, pw / 2], [0, f, ph / 2], [0, 0, 1.0]])
    # sheet in its plane, centred, 1 unit = 1 sheet pixel; distance chosen so the sheet fills ~fill of the photo
    z = f * max(sw / (fill * pw), sh / (fill * ph))
    t = np.array([shift[0] * pw / f * z, shift[1] * ph / f * z, z])
    centre = np.array([[1, 0, -sw / 2], [0, 1, -sh / 2], [0, 0, 1.0]])
    m = k @ np.c_[rot[:, 0], rot[:, 1], t]
    return m @ centre


def background(pw, ph, rng, kind="wood"):
    yy, xx = np.mgrid[:ph, :pw].astype(np.float32)
    if kind == "wood":
        a = rng.uniform(0, math.pi)
        u = xx * math.cos(a) + yy * math.sin(a)
        grain = np.sin(u / rng.uniform(6, 14) + 3 * np.sin(u / 90.0)) * 0.5 + 0.5
        base = np.array(rng.uniform([0.45, 0.28, 0.12], [0.6, 0.4, 0.22]), np.float32)
        img = base[None, None, :] * (0.75 + 0.25 * grain[..., None])
    elif kind == "paper":  # a tabletop as light as the sheet: its edge is all but invisible
        img = np.ones((ph, pw, 3), np.float32) * np.array([0.92, 0.91, 0.88], np.float32)
    else:  # grey concrete
        n = cv2.GaussianBlur(rng.normal(0, 1, (ph, pw)).astype(np.float32), (0, 0), 2.0)
        img = np.repeat((0.42 + 0.05 * n / (n.std() + 1e-6))[..., None], 3, axis=2)
    fine = rng.normal(0, 0.03, (ph, pw, 1)).astype(np.float32)
    return np.clip(img + fine, 0, 1)


def render(artwork: np.ndarray, *, sheet_wh, photo_wh=(1280, 960), focal_35mm=28.0, tilt_deg=25.0,
           axis_deg=20.0, roll_deg=0.0, seed=0, paper=(0.93, 0.92, 0.88), ink=(0.08, 0.08, 0.1), light=0.25,
           shadow=0.35, noise=0.012, quality=88, bg="wood", exif=True, fill=0.6, shift=(0.0, 0.0),
           ss=3) -> Scene:
    """A photo of ``artwork`` (a float coverage in [0, 1], the sheet's own pixels; 1 = ink) printed on a sheet.

    The sheet (``sheet_wh`` pixels, the artwork stretched onto it) is seen by a pinhole camera of
    35 mm-equivalent focal length ``focal_35mm``, tilted by ``tilt_deg`` about an in-plane axis at
    ``axis_deg``; rendered at ``ss`` times the resolution and reduced (anti-aliased edges)."""
    rng = np.random.default_rng(seed)
    pw, ph = photo_wh
    sw, sh = sheet_wh
    rot = rotation(axis_deg, tilt_deg, roll_deg)
    hom = sheet_homography((sw, sh), (pw, ph), focal_35mm, rot, fill=fill, shift=shift)
    cov = cv2.resize(artwork.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
    sheet = (1 - cov[..., None]) * np.array(paper, np.float32) + cov[..., None] * np.array(ink, np.float32)
    up = np.diag([ss, ss, 1.0])
    shift_c = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    m_big = shift_c @ up @ hom @ unshift
    big_w, big_h = pw * ss, ph * ss
    sheet_big = cv2.warpPerspective(sheet, m_big, (big_w, big_h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones((sh, sw), np.float32), m_big, (big_w, big_h), flags=cv2.INTER_NEAREST)
    bg_big = cv2.resize(background(pw, ph, rng, bg), (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    img = inside[..., None] * sheet_big + (1 - inside[..., None]) * bg_big
    img = cv2.resize(img, (pw, ph), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[:ph, :pw].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    grad = ((xx - pw / 2) * math.cos(a) + (yy - ph / 2) * math.sin(a)) / max(pw, ph)
    illum = 1.0 - light * (grad + 0.5)
    if shadow:
        b = rng.uniform(0, 2 * math.pi)
        d = (xx - pw * rng.uniform(0.3, 0.7)) * math.cos(b) + (yy - ph * rng.uniform(0.3, 0.7)) * math.sin(b)
        illum *= 1.0 - shadow / (1.0 + np.exp(np.clip(-d / 6.0, -50, 50)))
    img = img * illum[..., None]
    img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    u8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    im = Image.fromarray(u8)
    buf = io.BytesIO()
    kw = {}
    if exif:
        ex = Image.Exif()
        ex.get_ifd(0x8769)[0xA405] = int(round(focal_35mm))
        kw["exif"] = ex.tobytes()
    im.save(buf, format="JPEG", quality=quality, **kw)
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64)
    ch = np.c_[corners, np.ones(4)] @ hom.T
    return Scene(buf.getvalue(), ch[:, :2] / ch[:, 2:3], sw / sh, focal_35mm, tilt_deg)
