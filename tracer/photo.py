"""Photos of real things: crop, rectify a flat subject seen at an angle, and carry clicked points along.

:func:`prepare` is a plain function of an :class:`Image` and a :class:`PhotoParams`: it crops (after
the EXIF orientation that :func:`tracer.load_image` applied, before anything else), then rectifies
(:mod:`tracer.perspective`), and returns a :class:`Prepared` with the picture to isolate, the
``--pick`` points moved into it, and the report.

Coordinates
-----------
Every coordinate a user gives (the crop box, the four corners, the picked points) is in pixels of
the photo as loaded (after EXIF orientation, at its full resolution even when it was decoded
reduced), x right, y down, pixel ``(col, row)`` covering ``[col, col+1] x [row, row+1]``: they can
all be read off the same picture. Crop values may instead be percentages of its width and height.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from tracer import focal, perspective
from tracer.errors import InvalidInputError
from tracer.opencv import load_cv2
from tracer.types import Image

__all__ = ["PhotoParams", "Crop", "Prepared", "prepare", "even_out_sheet", "parse_crop", "parse_corners",
           "parse_point", "parse_aspect", "RECTIFY_MARGIN", "RECTIFY_OVERSAMPLE", "OVERSAMPLED_MAX_PX", "MAX_RECTIFIED_PX"]

#: The rectified picture is the inside of the quadrilateral less this fraction of its size on each side, so
#: that the sheet's edge and what lies beyond it (a few pixels off in the corners) are never traced.
RECTIFY_MARGIN = 0.01
#: A warning says so when the estimated aspect ratio is less certain than this (relative standard deviation).
ASPECT_WARN = 0.02
#: The rectified picture has this many pixels per pixel of the photo where the photo's are densest (the nearest
#: edge): a resampling at the source's own density blurs what lies between its samples (a hairline, a small
#: mark), and the isolation's filters, sized in the picture's pixels, would erase the rest.
RECTIFY_OVERSAMPLE = 2.0
#: ... less when that would exceed this many pixels (a large photo has the detail at its own density, and a larger
#: picture is slow to even out), but never less than one pixel per photo pixel ...
OVERSAMPLED_MAX_PX = 12_000_000
#: ... and, whatever the photo, at most this many pixels.
MAX_RECTIFIED_PX = 40_000_000

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"


@dataclass(frozen=True, slots=True)
class Crop:
    """``--crop X,Y,W,H``: each value in pixels, or a percentage of the photo's width (X, W) or height (Y, H)."""

    values: tuple[float, float, float, float]
    percent: tuple[bool, bool, bool, bool] = (False, False, False, False)

    def box(self, width: float, height: float) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` in the pixels of a ``width`` x ``height`` photo."""
        sizes = (width, height, width, height)
        x, y, w, h = (v * s / 100.0 if p else v for v, p, s in zip(self.values, self.percent, sizes))
        return x, y, x + w, y + h

    def __str__(self) -> str:
        return ",".join(f"{v:g}{'%' if p else ''}" for v, p in zip(self.values, self.percent))


def parse_crop(text: str) -> Crop:
    """``"X,Y,W,H"`` (pixels, or ``%`` of the photo's size per value) -> :class:`Crop`; one sentence when malformed."""
    parts = [t.strip() for t in str(text).split(",")]
    if len(parts) != 4 or not all(re.fullmatch(_NUM + r"%?", t) for t in parts):
        raise InvalidInputError(f"--crop wants X,Y,W,H in pixels or percent (e.g. 10,20,300,200 or 5%,5%,90%,90%), "
                                f"got {text!r}")
    vals = tuple(float(t.rstrip("%")) for t in parts)
    pct = tuple(t.endswith("%") for t in parts)
    if not all(math.isfinite(v) for v in vals) or vals[0] < 0 or vals[1] < 0 or vals[2] <= 0 or vals[3] <= 0:
        raise InvalidInputError(f"--crop wants X,Y >= 0 and W,H > 0, got {text!r}")
    if any(p and v > 100 for v, p in zip(vals, pct)):
        raise InvalidInputError(f"--crop percentages must be at most 100, got {text!r}")
    return Crop(vals, pct)  # type: ignore[arg-type]


def _numbers(text: str, n: int, what: str, example: str) -> tuple[float, ...]:
    parts = [t.strip() for t in str(text).split(",")]
    if len(parts) != n or not all(re.fullmatch(_NUM, t) for t in parts):
        raise InvalidInputError(f"{what} wants {example}, got {text!r}")
    vals = tuple(float(t) for t in parts)
    if not all(math.isfinite(v) for v in vals):
        raise InvalidInputError(f"{what} wants finite numbers, got {text!r}")
    return vals


#: No photo is this many pixels across (a corner beyond it would overflow the geometry's arithmetic).
MAX_COORDINATE_PX = 1e12


def parse_corners(text: str) -> tuple[tuple[float, float], ...] | str:
    """``"auto"`` or ``"X1,Y1,X2,Y2,X3,Y3,X4,Y4"`` (pixels, any order) -> "auto" or four points."""
    if str(text).strip().lower() == "auto":
        return "auto"
    v = _numbers(text, 8, "--perspective", "auto or the four corners X1,Y1,X2,Y2,X3,Y3,X4,Y4 in pixels")
    if max(abs(x) for x in v) > MAX_COORDINATE_PX:
        raise InvalidInputError(f"--perspective: the corners {text!r} lie far outside any photo")
    pts = tuple((v[i], v[i + 1]) for i in range(0, 8, 2))
    q = perspective.order_corners(pts)
    area = 0.5 * abs(float(np.cross(q[2] - q[0], q[3] - q[1])))
    if area < 16.0 or not _convex(q):
        raise InvalidInputError(f"--perspective: the four corners {text!r} do not make a convex quadrilateral")
    return pts


def _convex(q: np.ndarray) -> bool:
    s = [float(np.cross(q[(i + 1) % 4] - q[i], q[(i + 2) % 4] - q[(i + 1) % 4])) for i in range(4)]
    return all(x > 0 for x in s) or all(x < 0 for x in s)


def parse_point(text: str) -> tuple[float, float]:
    """``"X,Y"`` in pixels -> ``(x, y)``."""
    x, y = _numbers(text, 2, "--pick", "X,Y in pixels of the photo")
    if x < 0 or y < 0:
        raise InvalidInputError(f"--pick wants a point inside the photo, got {text!r}")
    return x, y


def parse_aspect(text: str) -> float:
    """``"W:H"`` (or one number, W/H) -> the aspect ratio width / height."""
    t = str(text).strip()
    m = re.fullmatch(rf"({_NUM})\s*[:/x]\s*({_NUM})", t)
    try:
        a = float(m.group(1)) / float(m.group(2)) if m else float(t)
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(f"--aspect wants W:H (e.g. 210:297) or a ratio, got {text!r}") from None
    if not (math.isfinite(a) and 0.01 <= a <= 100):
        raise InvalidInputError(f"--aspect wants a ratio from 1:100 to 100:1, got {text!r}")
    return a


@dataclass(frozen=True, slots=True)
class PhotoParams:
    """What to do to a photo before isolation (every coordinate in the photo's pixels, see the module docstring).

    crop : the box to keep, or None.
    perspective : None, "auto" (find the dominant quadrilateral), or its four corners ``((x, y), ...)``.
    aspect : the rectified width / height when known (``--aspect W:H``); None estimates it.
    pick : points whose colour region is the subject (:mod:`tracer.pick`).
    """

    crop: Crop | None = None
    perspective: str | tuple[tuple[float, float], ...] | None = None
    aspect: float | None = None
    pick: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.aspect is not None and self.perspective is None:
            raise InvalidInputError("--aspect needs --perspective (it is the rectified subject's width:height)")
        p = self.perspective
        if p is not None and p != "auto" and (not isinstance(p, tuple) or len(p) != 4):
            raise InvalidInputError(f"perspective must be 'auto' or four (x, y) corners, got {p!r}")

    @property
    def active(self) -> bool:
        return self.crop is not None or self.perspective is not None or bool(self.pick)


@dataclass(slots=True, eq=False)
class Prepared:
    """The picture to isolate, and how it came from the photo.

    image : the cropped and rectified picture (``photo`` itself when nothing was asked).
    photo : the photo as loaded.
    box : the crop ``(x0, y0, x1, y1)`` in the photo's decoded pixels.
    homography : 3 x 3, the cropped picture's pixels -> the rectified picture's (edge convention), or None.
    corners : the quadrilateral in the photo's decoded pixels, or None.
    picks : the picked points in ``image``'s pixels.
    report : the ``photo`` entry of the JSON report; warnings : sentences for the report.
    """

    image: Image
    photo: Image
    box: tuple[int, int, int, int]
    homography: np.ndarray | None = None
    corners: np.ndarray | None = None
    picks: tuple[tuple[float, float], ...] = ()
    report: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def to_photo(self, pts) -> np.ndarray:
        """Points in ``image``'s source pixels (what the tracer's outlines are in) -> the photo's decoded pixels."""
        p = np.asarray(pts, np.float64).reshape(-1, 2) / self.image.scale
        if self.homography is not None:
            p = _apply(np.linalg.inv(self.homography), p)
        return p + np.array(self.box[:2], np.float64)


def _apply(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    ph = np.c_[p, np.ones(len(p))] @ m.T
    return ph[:, :2] / ph[:, 2:3]


def prepare(image: Image, params: PhotoParams = PhotoParams()) -> Prepared:
    """Crop, then rectify, ``image``; move the picked points along. See :class:`PhotoParams`."""
    name = image.name
    s = image.scale
    h, w = image.shape
    report: dict = {}
    warnings: list[str] = []
    box = (0, 0, w, h)
    out = image
    if params.crop is not None:
        sw, sh = image.source_size
        fx0, fy0, fx1, fy1 = params.crop.box(sw, sh)
        if fx0 >= sw or fy0 >= sh or fx1 > sw + 0.5 or fy1 > sh + 0.5:
            raise InvalidInputError(f"{name}: the crop box {params.crop} reaches beyond the {sw}x{sh} photo")
        x0, y0 = int(round(fx0 / s)), int(round(fy0 / s))
        x1, y1 = min(w, int(round(fx1 / s))), min(h, int(round(fy1 / s)))
        if x1 - x0 < 4 or y1 - y0 < 4:
            raise InvalidInputError(f"{name}: the crop box {params.crop} keeps less than 4x4 pixels")
        box = (x0, y0, x1, y1)
        out = image.crop(x0, y0, x1, y1)
        report["crop"] = [round(x0 * s, 2), round(y0 * s, 2), round((x1 - x0) * s, 2), round((y1 - y0) * s, 2)]
    homography = corners = None
    if params.perspective is not None:
        out, homography, corners = _rectify(out, image, box, params, report, warnings)
    picks = []
    for x, y in params.pick:
        p = np.array([[x / s - box[0], y / s - box[1]]])
        if homography is not None:
            p = _apply(homography, p)
        px, py = float(p[0, 0]), float(p[0, 1])
        ow, oh = out.size
        if not (0 <= px < ow and 0 <= py < oh):
            where = "the rectified subject" if homography is not None else "the cropped photo" if params.crop else "the photo"
            raise InvalidInputError(f"{name}: the --pick point {x:g},{y:g} lies outside {where}")
        picks.append((px * out.scale, py * out.scale))
    if params.pick:
        report["picks"] = [[round(x, 2), round(y, 2)] for x, y in params.pick]
    return Prepared(out, image, box, homography, corners, tuple(picks), report, warnings)


def _rectify(img: Image, photo: Image, box, params: PhotoParams, report: dict, warnings: list):
    """Rectify the (cropped) picture ``img``: returns ``(image, homography, corners in the photo's decoded px)``."""
    cv2 = load_cv2()
    name = img.name
    s = photo.scale
    ph, pw = photo.shape
    entry: dict = {}
    if params.perspective == "auto":
        found = perspective.find_quad(img.rgb8())
        if found is None:
            raise InvalidInputError(
                f"{name}: --perspective auto found no quadrilateral (the edge of a sheet, sign or sticker) that "
                "stands out in the picture; give its four corners with --perspective X1,Y1,X2,Y2,X3,Y3,X4,Y4")
        q, info = found
        q = q + 0.5  # (pixel centres -> the edge convention)
        sigma = info["corner_sigma_px"]
        entry.update(mode="auto", fit_iou=info["fit_iou"], channel=info["channel"])
    else:
        assert isinstance(params.perspective, tuple)
        given = np.array(params.perspective, np.float64)
        sw, sh = photo.source_size
        if (given[:, 0] < -sw).any() or (given[:, 0] > 2 * sw).any() or (given[:, 1] < -sh).any() or (given[:, 1] > 2 * sh).any():
            raise InvalidInputError(f"{name}: a --perspective corner lies far outside the {sw}x{sh} photo "
                                    "(corners are in the photo's pixels)")
        q = perspective.order_corners(given / s - np.array(box[:2]))
        sigma = focal.CORNER_SIGMA_GIVEN_PX / s
        entry["mode"] = "points"
    principal = (pw / 2.0 - box[0], ph / 2.0 - box[1])  # the photo's centre, in the cropped picture
    if params.aspect is not None:
        est = focal.AspectEstimate(params.aspect, "given")
    else:
        est = focal.estimate_aspect(q, (pw, ph), exif_focal_35mm=photo.meta.get("focal_35mm"), principal=principal,
                                    corner_sigma_px=sigma)
        if est.note:
            warnings.append(est.note)
        if est.aspect_sigma is not None and est.aspect_sigma > ASPECT_WARN:
            warnings.append(f"the subject's aspect ratio is uncertain (about {100 * est.aspect_sigma:.0f} %): the "
                            "photo's perspective leaves the camera's focal length open; give --aspect W:H if you "
                            "know the real proportions")
    aspect = est.aspect
    rw, rh = perspective.rectified_size(q, aspect)
    k = max(1.0, min(RECTIFY_OVERSAMPLE, math.sqrt(OVERSAMPLED_MAX_PX / (rw * rh))))
    k = min(k, math.sqrt(MAX_RECTIFIED_PX / (rw * rh)))
    rw, rh = rw * k, rh * k
    mx, my = RECTIFY_MARGIN * rw, RECTIFY_MARGIN * rh
    ow, oh = int(round(rw - 2 * mx)), int(round(rh - 2 * my))
    if ow < 4 or oh < 4:
        raise InvalidInputError(f"{name}: the quadrilateral is too small to rectify ({ow}x{oh} pixels)")
    dst = np.array([[-mx, -my], [rw - mx, -my], [rw - mx, rh - my], [-mx, rh - my]])
    hom = cv2.getPerspectiveTransform(q.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
    # OpenCV addresses pixel centres; the frames here put pixel (c, r) on [c, c+1]: shift by half a pixel
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    # only the quadrilateral's box (and the cubic kernel's reach) is read: resampled in float, 8-bit steps
    # would be rounded twice more (here and when the sheet is evened out)
    ih, iw = img.shape
    bx0, by0 = (max(0, min(n - 1, int(math.floor(v)) - 4)) for v, n in zip(q.min(axis=0), (iw, ih)))
    bx1, by1 = (max(1, min(n, int(math.ceil(v)) + 4)) for v, n in zip(q.max(axis=0), (iw, ih)))
    bx1, by1 = max(bx1, bx0 + 1), max(by1, by0 + 1)
    m_cv = unshift @ hom @ shift @ np.array([[1, 0, bx0], [0, 1, by0], [0, 0, 1]], np.float64)
    data = img.data[by0:by1, bx0:bx1]
    if data.dtype == np.uint8:
        data = data.astype(np.float32) / np.float32(255.0)
    flags = cv2.INTER_CUBIC | cv2.WARP_FILL_OUTLIERS
    warped = cv2.warpPerspective(np.ascontiguousarray(data), m_cv, (ow, oh), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = None
    if img.alpha is not None:
        alpha = np.clip(cv2.warpPerspective(np.ascontiguousarray(img.alpha[by0:by1, bx0:bx1]), m_cv, (ow, oh),
                                            flags=flags, borderMode=cv2.BORDER_REPLICATE), 0, 1)
    if warped.dtype != np.uint8:
        warped = np.clip(warped, 0.0, 1.0)
    warped, evened = even_out_sheet(warped)
    out = Image._adopt(warped, alpha, name=name, scale=1.0, meta=photo.meta)
    corners_photo = q + np.array(box[:2], np.float64)
    entry["corners"] = [[round(float(x) * s, 2), round(float(y) * s, 2)] for x, y in corners_photo]
    entry.update(est.report())
    entry["size"] = [ow, oh]
    entry["evened"] = evened
    report["perspective"] = entry
    return out, hom, corners_photo


#: The sheet's paper level is measured over these distances (fractions of the rectified picture's long side),
#: the finest one that sees enough paper winning: a shadow edge stays sharp, a large ink area is bridged.
EVEN_SCALES = (0.006, 0.02, 0.06, 0.2)


def even_out_sheet(data: np.ndarray) -> tuple[np.ndarray, bool]:
    """A light sheet's picture with its paper level divided out: ``(pixels, whether it was done)``.

    A photographed sheet is lit unevenly and often crossed by a shadow edge, sharper than the smooth
    surface the isolation divides out. Here the paper pixels (the light class of Otsu's split, which
    holds both in and out of a shadow) give the paper level by normalised convolution at the finest
    of :data:`EVEN_SCALES` that has enough paper around, and every channel is divided by it. Done
    only when the sheet is light at its border (paper, not a coloured sign's panel)."""
    cv2 = load_cv2()
    rgb = data.astype(np.float32) / (255.0 if data.dtype == np.uint8 else 1.0)
    grey = rgb if rgb.ndim == 2 else rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    g8 = np.clip(grey * 255 + 0.5, 0, 255).astype(np.uint8)
    h, w = grey.shape
    b = max(2, min(h, w) // 40)

    def border_share(sel: np.ndarray) -> float:
        return float(np.concatenate([sel[:b].ravel(), sel[-b:].ravel(), sel[:, :b].ravel(), sel[:, -b:].ravel()]).mean())

    t, _ = cv2.threshold(g8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if border_share(g8 > t) < 0.8 and (g8 <= t).sum() > 64:
        # lit paper | shadowed paper and ink: split the darker class again (paper in the shadow from the ink)
        low = g8[g8 <= t].reshape(-1, 1)
        t, _ = cv2.threshold(low, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper_sel = g8 > t
    light = float(np.median(grey[paper_sel])) if paper_sel.any() else 0.0
    if (border_share(paper_sel) < 0.8 or light < 0.35 or not (~paper_sel).any()
            or float(np.median(grey[~paper_sel])) > 0.7 * light):
        return data, False
    paper = paper_sel.astype(np.float32)
    light = float(np.percentile(grey[paper_sel], 90))
    level = np.zeros_like(grey)
    done = np.zeros_like(grey, dtype=bool)
    for frac in EVEN_SCALES:
        sigma = max(1.0, frac * max(h, w))
        d = max(1, int(sigma / 4))  # (a wide blur runs on a reduced copy: the same result, far faster)
        if d > 1:
            size = (max(2, w // d), max(2, h // d))
            small_w = cv2.GaussianBlur(cv2.resize(paper, size, interpolation=cv2.INTER_AREA), (0, 0), sigma / d)
            small_v = cv2.GaussianBlur(cv2.resize(grey * paper, size, interpolation=cv2.INTER_AREA), (0, 0), sigma / d)
            wsum = cv2.resize(small_w, (w, h), interpolation=cv2.INTER_LINEAR)
            vsum = cv2.resize(small_v, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            wsum = cv2.GaussianBlur(paper, (0, 0), sigma)
            vsum = cv2.GaussianBlur(grey * paper, (0, 0), sigma)
        ok = (wsum > 0.3) & ~done
        level[ok] = vsum[ok] / wsum[ok]
        done |= ok
    if not done.all():
        level[~done] = light
    level = np.maximum(level, 0.05)[..., None] if rgb.ndim == 3 else np.maximum(level, 0.05)
    out = np.clip(rgb / level * light, 0.0, 1.0)
    if data.dtype == np.uint8:
        return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8), True
    return out.astype(np.float32), True
