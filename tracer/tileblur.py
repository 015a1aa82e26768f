"""The Gaussian blur of a sparse map, to the same bits as OpenCV's blur of the whole field, computed on
aligned columns (:func:`blur_columns`) or on the tiles around the given pixels only (:func:`blur_near`)."""

from __future__ import annotations

import numpy as np

from tracer.opencv import load_cv2

__all__ = ["blur_near", "blur_taps", "blur_columns", "BLUR_ALIGN", "NEAR_TILE", "NEAR_TILES_A_ROW"]

#: Blurs run on columns from a multiple of this (a vector step of OpenCV's filters, unrolled, divides it) ...
BLUR_ALIGN = 64


def blur_columns(x0: int, x1: int, cols: int) -> tuple[int, int]:
    """Columns ``[a, b)`` around ``[x0, x1)`` of a ``cols`` wide field on which a blur gives the whole rows' values.

    ``a`` is a multiple of :data:`BLUR_ALIGN` and ``b - a`` too, or ``b`` is the field's
    edge: every column then falls in the same step of the row filter as in the whole row.
    """
    a = x0 // BLUR_ALIGN * BLUR_ALIGN
    return a, min(cols, a + -(-(x1 - a) // BLUR_ALIGN) * BLUR_ALIGN)


#: :func:`blur_near` blurs tiles of this many rows and columns (the tiles around the partial pixels) ...
NEAR_TILE = (32, 56)
#: ... laid out this many a row.
NEAR_TILES_A_ROW = 16


def blur_taps(sigma: float) -> int:
    """Taps of OpenCV's Gaussian kernel of ``sigma`` for float data (``round(8 sigma + 1) | 1``)."""
    return int(round(8 * sigma + 1)) | 1


def blur_near(shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray, maps: tuple[np.ndarray, ...],
              sigma: float) -> list[np.ndarray] | None:
    """For each of ``maps`` (values at the pixels ``(ys, xs)`` of a field of ``shape``, 0 elsewhere), its
    Gaussian blur (``sigma``, as ``cv2.GaussianBlur``) on the 3 x 3 window of each pixel, ``(N, 9)``;
    None when the shortcut does not apply (use the blur of the whole field).

    Only the tiles (:data:`NEAR_TILE`) that hold one of the pixels are blurred:
    each is copied with a margin of the kernel's reach plus one into a packed
    image, side by side, and blurred there (the tiles of a 2048 px logo's
    outline are about a third of its box). OpenCV's filters compute every pixel
    from its neighbours alone, the same wherever it lies in a row made of whole
    vector steps (a test holds them to it), so each value equals the whole
    field's when no pixel lies within that margin of the field's edge (no
    border rule reaches the windows) and the field's rows are whole vector
    steps (a multiple of :data:`BLUR_ALIGN`: no shorter last step); else None.
    """
    cv2 = load_cv2()
    h, w = shape
    r = blur_taps(sigma) // 2 + 1  # (the kernel's reach, and the window's)
    if (w % BLUR_ALIGN or not len(ys) or int(ys.min()) < r or int(ys.max()) >= h - r
            or int(xs.min()) < r or int(xs.max()) >= w - r):
        return None
    th, tw = NEAR_TILE
    sh, sw = th + 2 * r, tw + 2 * r  # a slot: the tile and its margin
    per_row = NEAR_TILES_A_ROW
    pw = per_row * sw  # (a multiple of BLUR_ALIGN: whole vector steps)
    if pw % BLUR_ALIGN:
        return None
    ntx = -(-w // tw)
    ty, tx = ys // th, xs // tw
    used = np.zeros((-(-h // th)) * ntx, bool)
    used[ty * ntx + tx] = True
    slot_of = np.cumsum(used) - 1
    n = int(slot_of[-1]) + 1
    rows = -(-n // per_row) * sh

    def packed(yy, xx, tyy, txx):  # flat index in the packed image of pixel (yy, xx) in the slot of tile (tyy, txx)
        s = slot_of[tyy * ntx + txx]
        return ((s // per_row) * sh + (yy - tyy * th + r)) * pw + (s % per_row) * sw + (xx - txx * tw + r)

    at_parts = [packed(ys, xs, ty, tx)]
    where_parts = [np.arange(len(ys))]
    oy, ox = ys - ty * th, xs - tx * tw  # (offsets in the tile)
    for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        # the pixels that lie in the margin of the neighbouring tile (dy, dx), when that tile is blurred
        near = np.ones(len(ys), bool)
        if dy:
            near &= (oy < r) if dy < 0 else (oy >= th - r)
        if dx:
            near &= (ox < r) if dx < 0 else (ox >= tw - r)
        i = np.flatnonzero(near)
        if not len(i):
            continue
        i = i[used[(ty[i] + dy) * ntx + tx[i] + dx]]
        if len(i):
            at_parts.append(packed(ys[i], xs[i], ty[i] + dy, tx[i] + dx))
            where_parts.append(i)
    at, where = np.concatenate(at_parts), np.concatenate(where_parts)
    win = at[:len(ys), None] + (np.arange(-1, 2)[:, None] * pw + np.arange(-1, 2)[None, :]).ravel()
    out = []
    img, blurred = np.zeros((rows, pw), np.float32), np.empty((rows, pw), np.float32)  # (reused for each map)
    for m in maps:
        img.ravel()[at] = m[where]
        cv2.GaussianBlur(img, (0, 0), sigma, dst=blurred)
        out.append(blurred.ravel().take(win))
    return out
