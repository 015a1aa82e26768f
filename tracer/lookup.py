"""A float32 field stored as a table of 256 values and uint8 codes (a grey image's levels): :class:`Lookup`.

The clean path of :mod:`tracer.isolate` runs on it; :func:`dense`, :func:`value_range` and :func:`compress`
take either such a field or a plain array.
"""

from __future__ import annotations

import numpy as np

from tracer.opencv import load_cv2

__all__ = ["Lookup", "dense", "value_range", "compress", "is_monotone"]


class Lookup:
    """A float32 field stored as ``table[codes]``: uint8 codes (a grey image's levels) and a table of 256 entries.

    The clean path of :mod:`tracer.isolate` runs on it. An elementwise test
    (``field >= t``) is taken on the 256 entries and read back per pixel (a
    comparison of the codes when the test is a threshold on them), and
    arithmetic with a number changes the table only: each result equals the
    float field's, at a quarter of the memory traffic. Setting pixels to a value
    picks a code whose entry is exactly that value (:meth:`with_value`).
    """

    __slots__ = ("codes", "table", "_ext3")

    def __init__(self, codes: np.ndarray, table: np.ndarray):
        self.codes = codes
        self.table = np.asarray(table, dtype=np.float32)
        self._ext3: tuple[np.ndarray, np.ndarray] | None = None

    def extremes3(self) -> tuple[np.ndarray, np.ndarray]:
        """``(dilate, erode)`` of the codes over 3 x 3: each pixel's highest and lowest code around it.

        Taken once per :class:`Lookup` (its codes are never changed in place); for a
        monotone table they are the codes of the field's 3 x 3 maximum and minimum.
        """
        if self._ext3 is None:
            cv2 = load_cv2()
            k3 = np.ones((3, 3), np.uint8)
            self._ext3 = (cv2.dilate(self.codes, k3), cv2.erode(self.codes, k3))
        return self._ext3

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def size(self) -> int:
        return self.codes.size

    def dense(self) -> np.ndarray:
        """The float32 field."""
        return load_cv2().LUT(self.codes, self.table)

    def __getitem__(self, key) -> Lookup:
        """A part of the field (contiguous codes)."""
        return Lookup(np.ascontiguousarray(self.codes[key]), self.table)

    def test(self, entries: np.ndarray) -> np.ndarray:
        """``entries[codes]`` for a bool table of 256 entries (a test of each level), as a bool image."""
        t = np.asarray(entries, dtype=bool)
        m = int(np.count_nonzero(t))
        if m == 0 or m == 256:
            return np.full(self.codes.shape, m == 256, bool)
        a = int(np.argmax(t))
        if t[a:a + m].all():  # the levels a .. a + m - 1: comparisons of the codes
            if a == 0:
                return self.codes < np.uint8(m)
            above = self.codes >= np.uint8(a)
            return above if a + m == 256 else np.logical_and(above, self.codes < np.uint8(a + m), out=above)
        return load_cv2().LUT(self.codes, t.view(np.uint8)).view(bool)

    def take(self, index: np.ndarray) -> np.ndarray:
        """``field.ravel().take(index)``."""
        g = self.codes.ravel().take(index)
        if not g.size:
            return self.table[g]
        return load_cv2().LUT(g.reshape(-1, 1), self.table).reshape(g.shape)  # (as self.table[g], several times faster)

    def compress(self, where: np.ndarray) -> np.ndarray:
        """``np.compress(where, field.ravel())``."""
        return self.table[np.compress(where, self.codes.ravel())]

    def code_of(self, value: float) -> int | None:
        """A code whose entry is exactly ``np.float32(value)`` (the same bits), or None."""
        hit = np.flatnonzero(self.table.view(np.uint32) == np.float32(value).view(np.uint32))
        return int(hit[0]) if hit.size else None

    def with_value(self, where: np.ndarray, value: float) -> Lookup | np.ndarray:
        """A copy with the pixels ``where`` set to ``value`` (a float field when no entry is exactly it)."""
        code = self.code_of(value)
        if code is None:
            out = self.dense()
            out[where] = value
            return out
        codes = self.codes.copy()
        codes[where] = code
        return Lookup(codes, self.table)

    def value_range(self) -> tuple[float, float]:
        """``(min, max)`` of the values present."""
        cv2 = load_cv2()
        lo8, hi8 = cv2.minMaxLoc(self.codes)[:2] if self.size else (0, 0)
        if is_monotone(self.table):  # the extremes are those of the extreme codes
            ends = self.table[[int(lo8), int(hi8)]]
            return float(ends.min()), float(ends.max())
        present = cv2.calcHist([self.codes], [0], None, [256], [0, 256]).ravel() > 0
        return float(self.table[present].min()), float(self.table[present].max())

    def _map(self, fn) -> Lookup:
        return Lookup(self.codes, fn(self.table))

    def __rsub__(self, other):
        return self._map(lambda t: other - t)

    def __sub__(self, other):
        return self._map(lambda t: t - other)

    def __mul__(self, other):
        return self._map(lambda t: t * other)

    def __ge__(self, other):
        return self.test(self.table >= other)

    def __gt__(self, other):
        return self.test(self.table > other)

    def __le__(self, other):
        return self.test(self.table <= other)

    def __lt__(self, other):
        return self.test(self.table < other)


def is_monotone(table: np.ndarray) -> bool:
    """True when ``table`` never decreases or never increases."""
    d = np.diff(table)
    return bool((d >= 0).all()) or bool((d <= 0).all())


def dense(field: np.ndarray | Lookup) -> np.ndarray:
    """A float32 array of a field (a :class:`Lookup` or an array)."""
    return field.dense() if isinstance(field, Lookup) else np.asarray(field, dtype=np.float32)


def value_range(c: np.ndarray | Lookup) -> tuple[float, float]:
    """``(min, max)`` of a field's values (``(0, 0)`` for an empty array)."""
    if isinstance(c, Lookup):
        return c.value_range()
    return load_cv2().minMaxLoc(c)[:2] if c.size else (0.0, 0.0)


def compress(where: np.ndarray, c: np.ndarray | Lookup) -> np.ndarray:
    """``np.compress(where, c)`` of a flat array or a :class:`Lookup` field (its ravelled values)."""
    return c.compress(where) if isinstance(c, Lookup) else np.compress(where, c)
