"""A photographed print in colour, made even: the uneven light on its paper divided out
(:func:`flatten_paper`) and its sensor noise smoothed (:func:`smooth_noise`); :func:`even_photo` does both.

Light falls on the paper and the inks alike, so a photographed print is the printed colours times
a smooth illumination field. The field is seen on the paper only: a quadratic surface per sRGB
channel is fitted to the pixels that are paper, found robustly (first on the border band, then on
the whole picture, re-classifying against the surface), on a copy reduced to at most
``FIT_PX`` pixels a side, where sensor noise averages out. Dividing every pixel by the surface and
multiplying by the paper's colour (white for a near-neutral paper: a white balance) leaves the
paper one colour and every ink its own colour wherever it lies (a power-law sRGB curve turns a gain on linear light into a gain on the stored
values, so the division is the same in either).

Sensor noise (independent from pixel to pixel, a few levels of 255) scatters the pixels of one
colour over several Delta E, enough to join two similar colours or a light grey with the paper.
A Gaussian blur just wide enough to bring it down to about NOISE_TARGET takes it out; it widens
the anti-aliased edges a little, which the mixing model of :mod:`tracer.colors` explains as it
explains the camera's own blur (the boundary stays where each colour covers half a pixel).

A picture whose paper is already even and that has no sensor noise (digital art, a scan, a
compressed copy of either) is left as it is, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tracer.colorspace import to_lab
from tracer.denoise import decimate, noise_sigma
from tracer.opencv import load_cv2
from tracer.types import Image

__all__ = ["PaperFit", "fit_paper", "flatten_paper", "smooth_noise", "even_photo"]

#: The fit works on a copy at most this many pixels a side.
FIT_PX = 128
#: The paper's colour drifts by more than this (CIE Delta E, over the picture) before it is flattened.
FLATTEN_DRIFT_DE = 2.0
#: Paper pixels lie within this Delta E of the fitted surface (at least; more on a noisier paper).
PAPER_TOLERANCE_DE = 2.5
#: At least this fraction of the border band must be paper for a paper to be fitted at all.
MIN_BORDER_PAPER = 0.5
#: A paper of less chroma than this (CIE C*ab) is white paper under tinted light.
NEUTRAL_CHROMA = 15.0
#: Sensor noise (standard deviation of the luminance, 0..1) above which the picture is smoothed ...
NOISY = 2.0 / 255.0
#: ... down to about this; the blur's sigma is bounded by MAX_BLUR_PX.
NOISE_TARGET = 1.5 / 255.0
MAX_BLUR_PX = 2.5
#: Pictures smaller than this (px a side) are not measured for noise.
MIN_NOISE_PX = 16
#: Rows per band when dividing a large image (bounded memory).
BAND_PX = 1 << 21


@dataclass(frozen=True, slots=True, eq=False)
class PaperFit:
    """The paper's colour field: ``coef`` (terms, 3) of a degree-2 polynomial in the picture's
    normalised coordinates per sRGB channel, the colour ``ref`` (3,) the paper becomes, the drift
    (Delta E between the lightest and darkest paper) and the fraction of the reduced copy that is paper."""

    coef: np.ndarray
    ref: np.ndarray
    shape: tuple[int, int]
    drift_delta_e: float
    paper_fraction: float

    def surface_rows(self, r0: int, r1: int) -> np.ndarray:
        """The fitted paper colour on rows ``r0:r1`` of the full picture, (r1 - r0, cols, 3) float32."""
        h, w = self.shape
        x = ((np.arange(w, dtype=np.float64) + 0.5) / w - 0.5)[None, :]
        y = ((np.arange(r0, r1, dtype=np.float64) + 0.5) / h - 0.5)[:, None]
        out = np.zeros((r1 - r0, w, 3), np.float64)
        for t, (i, j) in enumerate(_TERMS):
            out += (x ** i * y ** j)[..., None] * self.coef[t]
        return out.astype(np.float32)


_TERMS = [(i, j) for i in range(3) for j in range(3 - i)]


def _design(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xs, ys = (xx + 0.5) / w - 0.5, (yy + 0.5) / h - 0.5
    return np.stack([(xs ** i * ys ** j).ravel() for i, j in _TERMS], axis=1)


def _reduced(image: Image) -> np.ndarray:
    """The picture reduced (area average) to at most FIT_PX a side, float32 RGB."""
    cv2 = load_cv2()
    h, w = image.shape
    d = max(1, int(math.ceil(max(h, w) / FIT_PX)))
    rgb = image.rgb8()
    if d > 1:
        rgb = cv2.resize(rgb, (max(2, w // d), max(2, h // d)), interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32) / 255.0


def fit_paper(image: Image) -> PaperFit | None:
    """Fit the paper's colour field, or None when no paper is seen (too little of the border is
    one smoothly lit colour)."""
    cv2 = load_cv2()
    small = _reduced(image)
    sh, sw = small.shape[:2]
    if min(sh, sw) < 8:
        return None
    A = _design(sh, sw)
    v = small.reshape(-1, 3).astype(np.float64)
    # Flat pixels only: edges mix the paper with an ink and would pull the surface towards it.
    lab = to_lab(small)
    span = np.zeros((sh, sw), np.float32)
    k3 = np.ones((3, 3), np.uint8)
    for c in range(3):
        ch = np.ascontiguousarray(lab[..., c])
        span = np.maximum(span, cv2.dilate(ch, k3) - cv2.erode(ch, k3))
    flat = (span < 3.0 * PAPER_TOLERANCE_DE).ravel()
    b = max(2, min(sh, sw) // 32)
    band = np.zeros((sh, sw), bool)
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    border = band.ravel()
    lab_flat = lab.reshape(-1, 3)
    # Start on the border band: the paper is most of it. Its median colour, then a plane and a
    # quadratic surface with ever tighter tolerances (the light may drift by 15 Delta E over it).
    paper = border & flat
    if paper.sum() < 4 * len(_TERMS):
        return None
    med = np.median(lab_flat[paper], axis=0)
    paper &= np.linalg.norm(lab_flat - med, axis=1) < 20.0
    coef = None
    for tol, terms in ((12.0, 3), (6.0, 6), (None, 6), (None, 6), (None, 6)):
        if paper.sum() < 4 * terms:
            return None
        Ap = A[paper][:, :terms] if terms == 6 else A[paper][:, [0, 1, 3]]  # (1, y, x) for the plane
        sol = np.linalg.lstsq(Ap, v[paper], rcond=None)[0]
        coef = np.zeros((6, 3))
        coef[[0, 1, 3] if terms == 3 else slice(None)] = sol
        surf = A @ coef
        ref = np.median(surf[paper], axis=0)
        flat_rgb = np.clip(v * ref / np.maximum(surf, 1e-3), 0, 1)
        res = np.linalg.norm(to_lab(flat_rgb.astype(np.float32)) - to_lab(ref[None].astype(np.float32)), axis=1)
        if tol is None:  # the whole picture: paper is what lies close to the surface, flat, and the tolerance
            # follows the paper's own spread (noise averaged over the reduced pixels)
            sigma = 1.4826 * float(np.median(res[paper]))
            tol = max(PAPER_TOLERANCE_DE, 3.0 * sigma)
            paper = (res < tol) & flat
        else:
            paper = (res < tol) & flat & border
    assert coef is not None
    if (paper & border).sum() < MIN_BORDER_PAPER * border.sum():
        return None
    surf = A @ coef
    s_lab = to_lab(np.clip(surf[paper], 0, 1).astype(np.float32))
    drift = float(np.linalg.norm(s_lab.max(axis=0) - s_lab.min(axis=0)))
    med = np.median(surf[paper], axis=0)
    # White balance: a near-neutral paper is white paper seen through the camera's white balance and
    # the light, and becomes white (the inks then get the colours they were printed in); a coloured
    # paper keeps its hue, at full brightness.
    ref = np.ones(3) if float(np.hypot(*np.median(s_lab[:, 1:], axis=0))) < NEUTRAL_CHROMA else med / med.max()
    return PaperFit(coef=coef, ref=ref, shape=image.shape, drift_delta_e=drift, paper_fraction=float(paper.mean()))


def flatten_paper(image: Image) -> tuple[Image, dict]:
    """The picture with the uneven light on its paper divided out, and what was done (``info``:
    ``illumination`` "flattened", "even" or "no paper", the drift in Delta E). An image with an
    alpha channel, no paper, or an even paper is returned as it is."""
    return even_photo(image, smooth=False)


def smooth_noise(image: Image) -> tuple[Image, dict]:
    """The picture with its sensor noise smoothed (a Gaussian blur of sigma ``noise / (2 sqrt(pi)
    NOISE_TARGET)`` px: the factor by which it divides independent noise), and ``info`` (the noise
    in levels of 255, the blur). A picture with less noise than NOISY is returned as it is."""
    return even_photo(image, flatten=False)


def even_photo(image: Image, *, flatten: bool = True, smooth: bool = True) -> tuple[Image, dict]:
    """:func:`flatten_paper`, then :func:`smooth_noise`, in one pass over bands of rows (the
    division is smoothed before it is rounded and clipped, so the noise of a paper lit to white
    keeps its mean). ``info`` holds what both did."""
    cv2 = load_cv2()
    info: dict = {}
    fit = None
    if flatten and image.alpha is None:
        fit = fit_paper(image)
        if fit is None:
            info["illumination"] = "no paper"
        else:
            info["paper_drift_delta_e"] = round(fit.drift_delta_e, 2)
            info["illumination"] = "flattened" if fit.drift_delta_e > FLATTEN_DRIFT_DE else "even"
            if fit.drift_delta_e <= FLATTEN_DRIFT_DE:
                fit = None
    blur = 0.0
    if smooth and min(image.shape) >= MIN_NOISE_PX:  # (a smaller picture has too few pixels to measure it)
        sigma_n = noise_sigma(decimate(image.luminance()))
        info["sensor_noise"] = round(sigma_n * 255.0, 2)
        if sigma_n > NOISY:
            blur = float(min(MAX_BLUR_PX, sigma_n / (2.0 * math.sqrt(math.pi) * NOISE_TARGET)))
            info["noise_blur_px"] = round(blur, 2)
    if image.alpha is not None or (fit is None and blur == 0.0):  # (a transparent picture is not a photo)
        return image, info
    h, w = image.shape
    out = np.empty((h, w, 3), np.uint8)
    margin = int(math.ceil(4 * blur)) + 1 if blur else 0
    step = max(1, BAND_PX // max(w, 1))
    ref = None if fit is None else fit.ref.astype(np.float32)
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        e0, e1 = max(0, r0 - margin), min(h, r1 + margin)
        rgb = image.rgb_rows(e0, e1)
        if fit is not None:
            rgb = rgb * (ref / np.maximum(fit.surface_rows(e0, e1), 1e-3))
        if blur:  # (the margin rows take what the reflection at a band's edge changes, except at the picture's own edges)
            rgb = cv2.GaussianBlur(np.ascontiguousarray(rgb, np.float32), (0, 0), blur, borderType=cv2.BORDER_REFLECT)
        out[r0:r1] = np.clip(rgb[r0 - e0:r1 - e0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image(out, None, name=image.name, source_size=image.source_size, scale=image.scale), info
