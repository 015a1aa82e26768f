"""SVG of the traced footprint in millimetres, with its exact lines (``L``), circular arcs (``A``) and Béziers (``C``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["svg_text", "write_svg", "svg_area_mm2", "centerline_svg_text", "write_centerline_svg", "svg_open_paths"]


def _path_d(ring, x0: float, y1: float) -> str:
    c = ring.ctrl.copy()
    c[..., 0] -= x0
    c[..., 1] = y1 - c[..., 1]  # SVG's y points down
    parts = [f"M{c[0, 0, 0]:.6f},{c[0, 0, 1]:.6f}"]
    arcs = ring.arcs
    for i, (seg, line) in enumerate(zip(c, ring.is_line)):
        if arcs is not None and np.isfinite(arcs[i, 2]):
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
    coordinates): exact for lines, Béziers and circular arcs (svgpathtools flattens arcs very finely)."""
    kind = type(seg).__name__
    if kind == "Arc" and abs(seg.radius.real - seg.radius.imag) <= 1e-9 * abs(seg.radius) and seg.rotation == 0:
        r, c = seg.radius.real, seg.center
        t0 = np.radians(seg.theta)
        t1 = np.radians(seg.theta + seg.delta)
        return 0.5 * (r * r * (t1 - t0) + r * (c.real * (np.sin(t1) - np.sin(t0)) - c.imag * (np.cos(t1) - np.cos(t0))))
    if kind == "Arc":  # an ellipse: finely sampled
        t = np.linspace(0.0, 1.0, 4097)
        z = np.array([seg.point(x) for x in t])
        return 0.5 * float(np.sum(z[:-1].real * z[1:].imag - z[1:].real * z[:-1].imag))
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
