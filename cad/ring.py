"""A closed ring of lines, cubic Béziers, circular and elliptic arcs: the curve type of the footprint.

:class:`Ring` is re-exported by :mod:`cad.regions`, which holds the footprint's regions of rings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cad import ellipse, geometry
from cad.fit_pieces import arc_cubic
from tracer.errors import GeometryError

__all__ = ["Ring"]


@dataclass(frozen=True, slots=True, eq=False)
class Ring:
    """A closed ring in mm, y up: ``ctrl`` (n,4,2), ``is_line`` (n,). ``exact`` is False after repair.

    ``arcs`` (n,3), when not None, marks circular arcs: ``(centre x, centre y, signed sweep in
    radians)`` on the rows of arc segments, NaN on the others. An arc's ``ctrl`` row holds its end
    points and the usual cubic approximation (for code that only reads cubics); area, bounds,
    flattening and the B-rep use the exact arc.

    ``ellipses`` (n,6), when not None, marks elliptic arcs likewise: ``(centre x, centre y, rx, ry,
    rotation, signed sweep of the parameter)`` (see :mod:`cad.ellipse`), NaN on the other rows; a row
    is an arc or an elliptic arc, never both.
    """

    ctrl: np.ndarray
    is_line: np.ndarray
    exact: bool = True
    arcs: np.ndarray | None = None
    ellipses: np.ndarray | None = None
    _area: float | None = field(default=None, init=False, repr=False)  # cache of area() (the arrays are read-only)

    def __post_init__(self) -> None:
        for name in ("ctrl", "is_line", "arcs", "ellipses"):
            if getattr(self, name) is None:
                continue
            a = np.array(getattr(self, name), copy=True)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if self.arcs is not None and not np.isfinite(self.arcs[:, 2]).any():
            object.__setattr__(self, "arcs", None)
        if self.ellipses is not None and not np.isfinite(self.ellipses[:, 5]).any():
            object.__setattr__(self, "ellipses", None)

    @property
    def is_arc(self) -> np.ndarray:
        """(n,) bool: which segments are circular arcs."""
        if self.arcs is None:
            return np.zeros(len(self.ctrl), dtype=bool)
        return np.isfinite(self.arcs[:, 2])

    @property
    def is_ellipse(self) -> np.ndarray:
        """(n,) bool: which segments are elliptic arcs."""
        if self.ellipses is None:
            return np.zeros(len(self.ctrl), dtype=bool)
        return np.isfinite(self.ellipses[:, 5])

    def kinds(self) -> dict[str, int]:
        """Segment counts by kind: ``lines``, ``arcs``, ``ellipses``, ``beziers``."""
        arc, ell = self.is_arc, self.is_ellipse
        lines = int((self.is_line & ~arc & ~ell).sum())
        return {"lines": lines, "arcs": int(arc.sum()), "ellipses": int(ell.sum()),
                "beziers": int(len(self.ctrl) - lines - arc.sum() - ell.sum())}

    def bounds(self) -> tuple[float, float, float, float]:
        """Exact bounding box of the ring's curves."""
        return geometry.curve_bounds(self.ctrl, self.arcs, self.ellipses)

    def beziers(self) -> Ring:
        """The same ring with each arc and elliptic arc replaced by cubics of at most a quarter turn (for code
        without them)."""
        if self.arcs is None and self.ellipses is None:
            return self
        segs, lines = [], []
        arcs = self.arcs if self.arcs is not None else np.full((len(self.ctrl), 3), np.nan)
        ells = self.ellipses if self.ellipses is not None else np.full((len(self.ctrl), 6), np.nan)
        for c, line, arc, ell in zip(self.ctrl, self.is_line, arcs, ells):
            if np.isfinite(ell[5]):
                k = max(1, int(np.ceil(abs(ell[5]) / (np.pi / 2) - 1e-9)))
                segs += list(ellipse.cubics(c[0], c[3], ell, k))
                lines += [False] * k
                continue
            if not np.isfinite(arc[2]):
                segs.append(c)
                lines.append(bool(line))
                continue
            k = max(1, int(np.ceil(abs(arc[2]) / (np.pi / 2) - 1e-9)))
            pts = np.concatenate([geometry.arc_points(c[0], arc, k), c[3:4]])
            for a, b in zip(pts[:-1], pts[1:]):
                segs.append(arc_cubic(a, b, arc[:2], arc[2] / k))
                lines.append(False)
        out = np.array(segs)
        out[1:, 0] = out[:-1, 3]
        out[0, 0] = out[-1, 3]
        return Ring(out, np.array(lines, bool), self.exact)

    @property
    def n_segments(self) -> int:
        return len(self.ctrl)

    def area(self) -> float:
        """Exact signed area in mm² (positive: counter-clockwise)."""
        if self._area is None:
            object.__setattr__(self, "_area", geometry.signed_area(self.ctrl, self.arcs, self.ellipses))
        area = self._area
        assert area is not None
        return area

    def flatten(self, tolerance_mm: float) -> np.ndarray:
        return geometry.flatten(self.ctrl, self.is_line, tolerance_mm, self.arcs, self.ellipses)

    def oriented(self, ccw: bool) -> Ring:
        if (self.area() > 0) == ccw:
            return self
        c, l = geometry.reverse(self.ctrl, self.is_line)
        arcs = None
        if self.arcs is not None:
            arcs = self.arcs[::-1].copy()
            arcs[:, 2] = -arcs[:, 2]
        ells = None
        if self.ellipses is not None:
            ells = self.ellipses[::-1].copy()
            ells[:, 5] = -ells[:, 5]
        return Ring(c, l, self.exact, arcs, ells)

    def mapped(self, apply, M: np.ndarray) -> Ring:
        """The ring under the affine map ``apply`` (points (..., 2) -> points) whose linear part ``M`` (2, 2)
        is a similarity (a scale, rotation or reflection, so a circle stays a circle); a reflection
        reverses the arcs' turn."""
        M = np.asarray(M, np.float64)
        arcs = None
        if self.arcs is not None:
            arcs = self.arcs.copy()
            arcs[:, :2] = apply(arcs[:, :2])
            arcs[:, 2] *= 1.0 if np.linalg.det(M) > 0 else -1.0
        ells = None
        if self.ellipses is not None:
            ells = ellipse.transform(self.ellipses, M, apply(np.zeros((1, 2)))[0])
        return Ring(apply(self.ctrl), self.is_line, self.exact, arcs, ells)

    @classmethod
    def from_points(cls, pts: np.ndarray) -> Ring:
        """A polyline ring through ``pts`` (m, 2); a repeated closing point is ignored."""
        pts = np.asarray(pts, dtype=np.float64)
        if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
            pts = pts[:-1]
        p0, p1 = pts, np.roll(pts, -1, axis=0)
        keep = np.hypot(*(p1 - p0).T) > 0
        p0, p1 = p0[keep], p1[keep]
        if len(p0) < 3:
            raise GeometryError("a ring needs at least 3 distinct points")
        ctrl = np.stack([p0, p0 + (p1 - p0) / 3, p0 + 2 * (p1 - p0) / 3, p1], axis=1)
        return cls(ctrl, np.ones(len(p0), dtype=bool), exact=False)
