"""SVG of the traced footprint in millimetres, with its exact lines (``L``), circular and elliptic arcs (``A``) and
Béziers (``C``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cad import ellipse

__all__ = ["svg_text", "write_svg", "svg_area_mm2", "centerline_svg_text", "write_centerline_svg", "svg_open_paths"]


def _path_d(ring, x0: float, y1: float) -> str:
    c = ring.ctrl.copy()
    c[..., 0] -= x0
    c[..., 1] = y1 - c[..., 1]  # SVG's y points down
    parts = [f"M{c[0, 0, 0]:.6f},{c[0, 0, 1]:.6f}"]
    arcs, ells = ring.arcs, ring.ellipses
    for i, (seg, line) in enumerate(zip(c, ring.is_line)):
        if ells is not None and np.isfinite(ells[i, 5]):
            parts += _ellipse_arcs(ring.ctrl[i], ells[i], x0, y1)
        elif arcs is not None and np.isfinite(arcs[i, 2]):
            # y is flipped, so a counter-clockwise arc (y up) has sweep-flag 0 on the page
            r = float(np.hypot(*(ring.ctrl[i, 0] - arcs[i, :2])))
            sweep = 0 if arcs[i, 2] > 0 else 1
            ends = [seg[3]]
            if abs(arcs[i, 2]) > 0.75 * np.pi:  # near a half turn the centre is ill-defined by the
                # radius and the ends (printed to 6 decimals): written as two arcs, through the middle
                h = 0.5 * float(arcs[i, 2])
                v = ring.ctrl[i, 0] - arcs[i, :2]
                mid = arcs[i, :2] + np.array([v[0] * np.cos(h) - v[1] * np.sin(h), v[0] * np.sin(h) + v[1] * np.cos(h)])
                ends = [np.array([mid[0] - x0, y1 - mid[1]]), seg[3]]
            for e in ends:
                parts.append(f"A{r:.6f},{r:.6f} 0 0 {sweep} {e[0]:.6f},{e[1]:.6f}")
        elif line:
            parts.append(f"L{seg[3, 0]:.6f},{seg[3, 1]:.6f}")
        else:
            parts.append("C" + " ".join(f"{p[0]:.6f},{p[1]:.6f}" for p in seg[1:]))
    parts.append("Z")
    return "".join(parts)


def _ellipse_arcs(seg: np.ndarray, ell: np.ndarray, x0: float, y1: float) -> list[str]:
    """An elliptic segment as ``A`` commands of at most a quarter turn each (the large-arc flag then never
    matters, and the ends printed to 6 decimals pin the ellipse well). On the page (y down) the axis turns
    the other way and a counter-clockwise arc has sweep-flag 0."""
    k = max(1, int(np.ceil(abs(float(ell[5])) / (np.pi / 2) - 1e-9)))
    ends = np.concatenate([ellipse.points(seg[0], ell, k)[1:], seg[3:4]])
    rot = -np.degrees(float(ell[4]))
    sweep = 0 if ell[5] > 0 else 1
    return [f"A{ell[2]:.6f},{ell[3]:.6f} {rot:.6f} 0 {sweep} {e[0] - x0:.6f},{y1 - e[1]:.6f}" for e in ends]


def svg_text(regions, *, fill: str = "#000000") -> str:
    """An SVG document whose user unit is 1 mm; the page is the footprint's bounding box."""
    x0, y0, x1, y1 = regions.bounds
    w, h = x1 - x0, y1 - y0
    paths = []
    for r in regions.regions:
        d = " ".join(_path_d(ring, x0, y1) for ring in r.rings)
        paths.append(f'  <path d="{d}"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.6f}mm" height="{h:.6f}mm" '
        f'viewBox="0 0 {w:.6f} {h:.6f}">\n'
        f'<g fill="{fill}" fill-rule="evenodd" stroke="none">\n' + "\n".join(paths) + "\n</g>\n</svg>\n")


def write_svg(regions, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(svg_text(regions), encoding="utf-8")
    return path


def svg_area_mm2(path: str | Path) -> float:
    """Re-read an SVG with svgpathtools and return the even-odd area of all its paths (mm²)."""
    from svgpathtools import svg2paths

    paths, _ = svg2paths(str(path))
    total = 0.0
    for p in paths:
        for sub in p.continuous_subpaths():
            if sub.isclosed():
                total += -sum(_segment_area(seg) for seg in sub)  # y-down page: shells have negative area
    return float(np.abs(total))


#: Gauss-Legendre nodes and weights on [0, 1]: exact for the cubic's area integrand (degree 5).
_GL_T = 0.5 + 0.5 * np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)])
_GL_W = np.array([5.0, 8.0, 5.0]) / 18.0


def _segment_area(seg) -> float:
    """The segment's part of a closed path's signed area, 1/2 of the integral of x dy - y dx (page
    coordinates): exact for lines, Béziers and circular and elliptic arcs."""
    kind = type(seg).__name__
    if kind == "Arc":  # c + R(rotation) (rx cos t, ry sin t): 1/2 (c x (z1 - z0) + rx ry (t1 - t0))
        c, d = seg.center, seg.end - seg.start
        dt = np.radians(seg.delta)
        return 0.5 * (c.real * d.imag - c.imag * d.real + seg.radius.real * seg.radius.imag * dt)
    if kind == "Line":  # (svgpathtools has no derivative for a line of zero length)
        return 0.5 * (seg.start.real * seg.end.imag - seg.end.real * seg.start.imag)
    z = np.array([seg.point(x) for x in _GL_T])
    dz = np.array([seg.derivative(x) for x in _GL_T])
    return 0.5 * float(np.sum(_GL_W * (z.real * dz.imag - z.imag * dz.real)))


def _open_path_d(ctrl: np.ndarray, closed: bool, x0: float, y1: float) -> str:
    c = np.array(ctrl, dtype=np.float64, copy=True)
    c[..., 0] -= x0
    c[..., 1] = y1 - c[..., 1]
    parts = [f"M{c[0, 0, 0]:.6f},{c[0, 0, 1]:.6f}"]
    for seg in c:
        parts.append("C" + " ".join(f"{p[0]:.6f},{p[1]:.6f}" for p in seg[1:]))
    if closed:
        parts.append("Z")
    return "".join(parts)


def centerline_svg_text(paths, bounds: tuple[float, float, float, float], *, stroke_mm: float,
                        cap: str = "round") -> str:
    """An SVG of centrelines as unfilled paths stroked ``stroke_mm`` wide (user unit 1 mm).

    ``paths`` are ``(ctrl, closed)`` with cubic Bézier control points (n, 4, 2) in mm, y up; the page
    is ``bounds`` (the strokes' footprint), so the file lines up with the outline SVG of the same part.
    """
    x0, y0, x1, y1 = bounds
    w, h = x1 - x0, y1 - y0
    svg_cap = {"round": "round", "butt": "butt", "square": "square"}[cap]
    body = "\n".join(f'  <path d="{_open_path_d(c, closed, x0, y1)}"/>' for c, closed in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.6f}mm" height="{h:.6f}mm" '
        f'viewBox="0 0 {w:.6f} {h:.6f}">\n'
        f'<g fill="none" stroke="#000000" stroke-width="{stroke_mm:.6f}" stroke-linecap="{svg_cap}" '
        'stroke-linejoin="round">\n' + body + "\n</g>\n</svg>\n")


def write_centerline_svg(paths, bounds, path: str | Path, *, stroke_mm: float, cap: str = "round") -> Path:
    path = Path(path)
    path.write_text(centerline_svg_text(paths, bounds, stroke_mm=stroke_mm, cap=cap), encoding="utf-8")
    return path


def svg_open_paths(path: str | Path) -> tuple[int, float]:
    """Re-read an SVG with svgpathtools: the number of paths and their total length (mm)."""
    from svgpathtools import svg2paths

    paths, _ = svg2paths(str(path))
    return len(paths), float(sum(p.length() for p in paths if len(p)))
