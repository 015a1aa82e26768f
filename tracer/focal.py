"""The aspect ratio of a rectangle photographed at an angle, and the focal length it needs.

Model
-----
A rectangle seen by a pinhole camera ``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]`` maps through the
homography ``H = K [a r1, b r2, t]`` (``r1``, ``r2`` orthonormal, ``a x b`` the rectangle's size), so
``a / b = |K^-1 h1| / |K^-1 h2|`` once ``f`` is known (:func:`aspect_for_focal`). The principal point
``c`` is taken at the centre of the photo as taken; the caller passes it (a crop moves it).

The focal length
----------------
The two vanishing points ``v1``, ``v2`` of the quadrilateral's opposite sides are the images of two
orthogonal directions, so the rays ``K^-1 v1`` and ``K^-1 v2`` are at right angles (calibration from
a plane, with square pixels and a known principal point: one equation for the one unknown ``f``)::

    g(f) = cos(angle of K^-1 v1, K^-1 v2) = 0.

How well that pins ``f`` depends on the view: when a pair of sides is nearly parallel in the
picture (a tilt about an axis parallel to an edge of the picture), its vanishing point is near
infinity, ``g`` hardly depends on ``f``, and the right angles say next to nothing about it, while the
aspect may still depend on ``f`` strongly. So ``f`` is estimated, not solved for: on a grid of focal
lengths, the likelihood of ``g(f) = 0`` under the corners' uncertainty (``sigma_g(f)``, the corners'
standard error carried through ``g`` by its derivatives) times a prior on ``log f``. The prior is
the EXIF focal length (35 mm equivalent) when the photo has one, narrow, else a typical camera's
(:data:`DEFAULT_FOCAL_35MM`, wide). The posterior gives the focal length (its mean in ``log f``) and
the aspect's uncertainty (its spread under the posterior, with the corners' own effect on it at
that focal length), and says how much of the estimate came
from the quadrilateral (the share of the prior's variance it removed). Relaxing the principal point
would add two unknowns to the one equation, so it stays at the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tracer.opencv import load_cv2

__all__ = ["aspect_for_focal", "aspect_curve", "estimate_aspect", "AspectEstimate", "focal_posterior",
           "DEFAULT_FOCAL_35MM", "DEFAULT_FOCAL_LOG_SD", "EXIF_FOCAL_LOG_SD", "FULL_FRAME_DIAGONAL_MM",
           "FOCAL_35MM_RANGE", "CORNER_SIGMA_GIVEN_PX"]

#: The diagonal of a 36 x 24 mm frame: a 35 mm-equivalent focal length f35 is ``f35 / 43.27`` image diagonals.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
#: The prior without EXIF: a phone's main camera (23-28 mm equivalent) ...
DEFAULT_FOCAL_35MM = 27.0
#: ... with this standard deviation of ``log f`` (one sigma 18-40 mm, two: an ultra-wide to a 2x tele).
DEFAULT_FOCAL_LOG_SD = 0.4
#: The prior with EXIF: its 35 mm-equivalent value (a whole number of mm) within this standard deviation of ``log f``.
EXIF_FOCAL_LOG_SD = 0.05
#: The focal lengths considered (35 mm equivalent): a fisheye to a long telephoto.
FOCAL_35MM_RANGE = (10.0, 300.0)
#: The standard error of four corners given by hand (a click is good to about a pixel).
CORNER_SIGMA_GIVEN_PX = 1.0
#: The quadrilateral contradicts the EXIF focal length when they differ by more than this many standard
#: deviations (both uncertainties together): the subject is no rectangle (a rhombus sign) or a corner is off.
EXIF_CONFLICT_Z = 4.0
#: The share of the prior's variance the quadrilateral must remove for the estimate to count as its own.
QUAD_SHARE = 0.5
_GRID = 1201


def _unit_square_homography(corners: np.ndarray) -> np.ndarray:
    cv2 = load_cv2()
    src = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    return cv2.getPerspectiveTransform(src, np.asarray(corners, np.float32)).astype(np.float64)


def aspect_curve(corners: np.ndarray, principal, f) -> np.ndarray:
    """Width / height of the rectangle whose picture is ``corners`` (TL, TR, BR, BL), for each focal length in ``f``."""
    h = _unit_square_homography(corners)
    cx, cy = principal
    f = np.asarray(f, np.float64)
    n = []
    for j in (0, 1):
        x, y, w = h[0, j] - cx * h[2, j], h[1, j] - cy * h[2, j], h[2, j]
        n.append(np.sqrt((x * x + y * y) / (f * f) + w * w))
    return n[0] / n[1]


def aspect_for_focal(corners: np.ndarray, principal, f: float) -> float:
    """Width / height of the rectangle whose picture is ``corners`` through a camera of focal length ``f`` (pixels)."""
    return float(aspect_curve(corners, principal, f))


def _vanishing(quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit homogeneous vanishing points ``(n, 3)`` of top/bottom and left/right for quads ``(n, 4, 2)``."""
    p = np.concatenate([quads, np.ones(quads.shape[:2] + (1,))], axis=2)
    tl, tr, br, bl = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    v1 = np.cross(np.cross(tl, tr), np.cross(bl, br))
    v2 = np.cross(np.cross(tl, bl), np.cross(tr, br))
    return v1 / np.linalg.norm(v1, axis=1, keepdims=True), v2 / np.linalg.norm(v2, axis=1, keepdims=True)


def _cosine(v1: np.ndarray, v2: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``g(f)``: the cosine of the angle between the rays of ``v1`` and ``v2`` (rows) for each ``f`` (columns)."""
    ff = (f * f)[None, :]
    num = (v1[:, :1] * v2[:, :1] + v1[:, 1:2] * v2[:, 1:2]) + ff * (v1[:, 2:] * v2[:, 2:])
    n1 = np.sqrt(v1[:, :1] ** 2 + v1[:, 1:2] ** 2 + ff * v1[:, 2:] ** 2)
    n2 = np.sqrt(v2[:, :1] ** 2 + v2[:, 1:2] ** 2 + ff * v2[:, 2:] ** 2)
    return num / (n1 * n2)


def focal_posterior(corners: np.ndarray, principal, f: np.ndarray, sigma_px: float) -> np.ndarray:
    """The log-likelihood of each focal length in ``f`` (pixels) given the quadrilateral's right angles, its corners
    known to ``sigma_px`` (independent, per coordinate): ``-(g / sigma_g)^2 / 2``.

    ``g / |grad g|`` is the corners' distance from the quadrilaterals that are pictures of a rectangle at
    focal length ``f``, so ``g / sigma_g`` is that distance in standard errors; its density has the same
    normalisation for every ``f`` (no ``log sigma_g`` term, which would favour the focal lengths where ``g``
    is least sensitive, and decide a view that says nothing)."""
    q = np.asarray(corners, np.float64) - np.asarray(principal, np.float64)
    step = 1e-2
    quads = np.repeat(q[None], 9, axis=0)
    for k in range(8):
        quads[k + 1, k // 2, k % 2] += step
    v1, v2 = _vanishing(quads)
    g = _cosine(v1, v2, f)
    jac = (g[1:] - g[:1]) / step
    sigma_g = sigma_px * np.sqrt((jac * jac).sum(axis=0)) + 1e-12
    return -0.5 * (g[0] / sigma_g) ** 2


@dataclass(frozen=True, slots=True)
class AspectEstimate:
    """The rectified aspect ratio (width / height) and where it came from.

    source : "given" (``--aspect``), "quadrilateral" (mostly the corners' right angles), "exif" (mostly the
        EXIF focal length), "default" (mostly a typical camera's) or "affine" (the sides are parallel in the
        picture: no perspective to undo, the focal length does not matter).
    aspect_sigma : the aspect's relative standard deviation under the focal length's and the corners' uncertainty.
    focal_px, focal_35mm : the focal length used; focal_log_sd : its standard deviation in ``log f``.
    quad_share : how much of the prior's variance the quadrilateral removed (0: none, 1: all).
    quad_focal_35mm, exif_focal_35mm : the quadrilateral's own estimate (when it has one) and EXIF's.
    """

    aspect: float
    source: str
    aspect_sigma: float | None = None
    focal_px: float | None = None
    focal_35mm: float | None = None
    focal_log_sd: float | None = None
    quad_share: float | None = None
    quad_focal_35mm: float | None = None
    exif_focal_35mm: float | None = None
    note: str | None = None

    def report(self) -> dict:
        out: dict = {"aspect": round(self.aspect, 5), "aspect_source": self.source}
        if self.aspect_sigma is not None:
            out["aspect_uncertainty_pct"] = round(100.0 * self.aspect_sigma, 3)
        for k in ("focal_px", "focal_35mm", "focal_log_sd", "quad_share", "quad_focal_35mm", "exif_focal_35mm"):
            v = getattr(self, k)
            if v is not None:
                out[k] = round(v, 3 if k in ("focal_log_sd", "quad_share") else 2)
        return out


def _moments(logp: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float, float]:
    p = np.exp(logp - logp.max())
    p /= p.sum()
    mean = float(p @ x)
    return p, mean, float(math.sqrt(max(p @ (x - mean) ** 2, 0.0)))


def estimate_aspect(corners: np.ndarray, photo_size: tuple[int, int], *, exif_focal_35mm: float | None = None,
                    principal=None, corner_sigma_px: float = CORNER_SIGMA_GIVEN_PX) -> AspectEstimate:
    """The aspect ratio of the rectangle pictured by ``corners`` (TL, TR, BR, BL) in a photo of ``photo_size``
    (w, h) pixels, the corners known to ``corner_sigma_px``. See the module docstring."""
    if not (math.isfinite(corner_sigma_px) and corner_sigma_px >= 0):
        raise ValueError(f"corner_sigma_px must be finite and >= 0, got {corner_sigma_px!r}")
    w, h = photo_size
    diag = math.hypot(w, h)
    c = (w / 2.0, h / 2.0) if principal is None else principal
    to35 = FULL_FRAME_DIAGONAL_MM / diag
    q = np.asarray(corners, np.float64)
    lo, hi = aspect_curve(q, c, np.array([diag * 0.2, diag * 20.0]))
    if abs(lo / hi - 1.0) < 1e-4:  # parallel sides: an affine view, any focal length gives the same aspect
        return AspectEstimate(aspect_for_focal(q, c, diag), "affine", aspect_sigma=abs(lo / hi - 1.0),
                              exif_focal_35mm=exif_focal_35mm)
    logf = np.linspace(math.log(FOCAL_35MM_RANGE[0] / to35), math.log(FOCAL_35MM_RANGE[1] / to35), _GRID)
    loglik = focal_posterior(q, c, np.exp(logf), max(corner_sigma_px, 1e-3))
    _, quad_mean, quad_sd = _moments(loglik, logf)  # (the quadrilateral alone: a flat prior in log f)
    quad35 = math.exp(quad_mean) * to35 if quad_sd < 0.5 * DEFAULT_FOCAL_LOG_SD else None
    if exif_focal_35mm:
        mu, sd, prior_name = math.log(exif_focal_35mm / to35), EXIF_FOCAL_LOG_SD, "exif"
    else:
        mu, sd, prior_name = math.log(DEFAULT_FOCAL_35MM / to35), DEFAULT_FOCAL_LOG_SD, "default"
    logprior = -0.5 * ((logf - mu) / sd) ** 2
    note = None
    if exif_focal_35mm and abs(quad_mean - mu) > EXIF_CONFLICT_Z * math.hypot(quad_sd, sd):
        note = (f"the corners' right angles give a focal length of {math.exp(quad_mean) * to35:.0f} mm (35 mm "
                f"equivalent) but the EXIF data says {exif_focal_35mm:.0f} mm; the EXIF value was used (is the "
                "subject a rectangle?)")
        loglik = np.zeros_like(logf)
    p, mean, post_sd = _moments(loglik + logprior, logf)
    share = max(0.0, min(1.0, 1.0 - (post_sd / sd) ** 2))
    f = math.exp(mean)
    aspect = aspect_for_focal(q, c, f)
    keep = p > 1e-6 * p.max()
    curve = aspect_curve(q, c, np.exp(logf[keep]))
    pk = p[keep] / p[keep].sum()
    spread = float(pk @ (curve - aspect) ** 2) / aspect ** 2  # (from the focal length's uncertainty)
    grad = np.zeros(8)  # (and from the corners' own, at this focal length)
    for k in range(8):
        d = q.copy()
        d[k // 2, k % 2] += 1e-2
        grad[k] = (aspect_for_focal(d, c, f) - aspect) / 1e-2
    sigma = math.sqrt(spread + (corner_sigma_px * float(np.linalg.norm(grad)) / aspect) ** 2)
    source = "quadrilateral" if share >= QUAD_SHARE and note is None else prior_name
    return AspectEstimate(aspect, source, aspect_sigma=sigma, focal_px=f, focal_35mm=f * to35, focal_log_sd=post_sd,
                          quad_share=share, quad_focal_35mm=quad35, exif_focal_35mm=exif_focal_35mm, note=note)
