"""SVG path data and basic shapes -> exact subpaths of cubic Béziers and lines.

A *subpath* is ``(ctrl, is_line, closed)``: ``ctrl`` (n, 4, 2) in the element's own user units
(y down), ``is_line`` (n,), the same layout as :class:`cad.regions.Ring`. Lines stay lines, cubics
stay cubics, quadratics become the cubic that is the same curve, and elliptical arcs become cubics of
at most 90° each, split further until the radial error is below ``arc_tolerance``. Every segment
made is counted against a :class:`SegmentBudget`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from tracer.errors import InvalidInputError, TooComplexError

__all__ = ["Subpath", "SegmentBudget", "parse_path", "arc_to_cubics", "line_ctrl", "quad_to_cubic",
           "rect_path", "ellipse_path", "poly_path", "transform_ctrl"]

Subpath = tuple[np.ndarray, np.ndarray, bool]

#: Radial error of one 90° cubic arc (the tangent-length construction), as a fraction of the radius.
_QUARTER_ERROR = 2.7e-4


class SegmentBudget:
    """Counts the curve segments made; more than ``limit`` raises :class:`TooComplexError`."""

    def __init__(self, limit: int, name: str = "") -> None:
        self.limit = int(limit)
        self.used = 0
        self.name = name

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            prefix = f"{self.name}: " if self.name else ""
            raise TooComplexError(f"{prefix}the drawing has more than {self.limit} curve segments "
                                  "(raise --max-segments to accept it)")


def line_ctrl(p0, p1) -> np.ndarray:
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    return np.array([p0, p0 + (p1 - p0) / 3, p0 + 2 * (p1 - p0) / 3, p1])


def quad_to_cubic(p0, q, p1) -> np.ndarray:
    """The cubic that traces the same curve as the quadratic ``p0, q, p1`` (degree elevation, exact)."""
    p0, q, p1 = (np.asarray(v, float) for v in (p0, q, p1))
    return np.array([p0, p0 + 2.0 / 3.0 * (q - p0), p1 + 2.0 / 3.0 * (q - p1), p1])


def transform_ctrl(ctrl: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply the affine ``m`` (3x3, SVG's ``matrix(a b c d e f)`` as rows ``[a c e], [b d f]``): exact on Béziers."""
    return ctrl @ m[:2, :2].T + m[:2, 2]


def arc_to_cubics(p0, rx: float, ry: float, phi_deg: float, large: bool, sweep: bool, p1,
                  arc_tolerance: float) -> list[np.ndarray]:
    """An SVG elliptical arc (endpoint parameterisation, SVG 1.1 F.6.5) as cubics of at most 90° each.

    Out-of-range radii are scaled up as the specification says; a zero radius is a line."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    if np.allclose(p0, p1):
        return []
    rx, ry = abs(rx), abs(ry)
    if rx == 0 or ry == 0:
        return [line_ctrl(p0, p1)]
    phi = math.radians(phi_deg % 360.0)
    c, s = math.cos(phi), math.sin(phi)
    dx, dy = (p0 - p1) / 2
    x1p, y1p = c * dx + s * dy, -s * dx + c * dy
    lam = (x1p / rx) ** 2 + (y1p / ry) ** 2
    if lam > 1:
        rx, ry = rx * math.sqrt(lam), ry * math.sqrt(lam)
    num = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p
    den = rx * rx * y1p * y1p + ry * ry * x1p * x1p
    coef = math.sqrt(max(num, 0.0) / den) if den > 0 else 0.0
    if large == sweep:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    mid = (p0 + p1) / 2
    cx, cy = c * cxp - s * cyp + mid[0], s * cxp + c * cyp + mid[1]

    def angle(ux, uy, vx, vy):
        return math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)

    t1 = angle(1.0, 0.0, (x1p - cxp) / rx, (y1p - cyp) / ry)
    dt = angle((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry)
    if not sweep and dt > 0:
        dt -= 2 * math.pi
    elif sweep and dt < 0:
        dt += 2 * math.pi
    n = max(1, math.ceil(abs(dt) / (math.pi / 2) - 1e-9))
    r = max(rx, ry)
    if arc_tolerance > 0:  # error of a piece of angle a: about _QUARTER_ERROR * r * (a / 90°)^6
        while _QUARTER_ERROR * r * (abs(dt) / n / (math.pi / 2)) ** 6 > arc_tolerance and n < 64:
            n += 1
    out = []
    step = dt / n
    k = 4.0 / 3.0 * math.tan(step / 4)
    for i in range(n):
        a0, a1 = t1 + i * step, t1 + (i + 1) * step
        e0 = np.array([math.cos(a0), math.sin(a0)])
        e1 = np.array([math.cos(a1), math.sin(a1)])
        d0 = np.array([-math.sin(a0), math.cos(a0)])
        d1 = np.array([-math.sin(a1), math.cos(a1)])
        unit = np.array([e0, e0 + k * d0, e1 - k * d1, e1])  # on the unit circle
        pts = unit * [rx, ry]
        pts = pts @ np.array([[c, s], [-s, c]]) + [cx, cy]
        out.append(pts)
    out[0][0] = p0  # the end points exactly as written
    out[-1][3] = p1
    return out


_TOKEN = re.compile(r"([MmZzLlHhVvCcSsQqTtAa])|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|([\s,]+)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NARGS = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "a": 7, "z": 0}


def _tokens(d: str):
    """Commands and numbers of path data; arc flags may be written without separators ("a1 1 0 01 5 5")."""
    pos, n = 0, len(d)
    out: list = []
    while pos < n:
        m = _TOKEN.match(d, pos)
        if not m:
            raise InvalidInputError(f"bad path data near {d[pos:pos + 20]!r}")
        if m.group(1):
            out.append(m.group(1))
        elif m.group(2):
            out.append(m.group(2))
        pos = m.end()
    return out


def _arc_args(tokens: list, i: int) -> tuple[list[float], int]:
    """Seven arc arguments from ``tokens[i:]``; the two flags may be glued to what follows them."""
    args: list[float] = []
    while len(args) < 7:
        if i >= len(tokens) or tokens[i][0].isalpha():
            raise InvalidInputError("an arc command has too few numbers")
        tok = tokens[i]
        if len(args) in (3, 4) and len(tok) > 1 and tok[0] in "01" and tok[1] in "01.+-0123456789":
            args.append(float(tok[0]))
            tokens[i] = tok[1:]  # the rest of the token is the next argument
            continue
        args.append(float(tok))
        i += 1
    if args[3] not in (0.0, 1.0) or args[4] not in (0.0, 1.0):
        raise InvalidInputError("an arc flag must be 0 or 1")
    return args, i


def parse_path(d: str, budget: SegmentBudget, arc_tolerance: float = 0.0) -> list[Subpath]:
    """Path data -> subpaths (user units). Zero-length segments are dropped; an unclosed subpath is
    returned with ``closed=False`` (a fill closes it, a stroke does not)."""
    if len(_NUMBER.findall(d)) > 7 * (budget.limit - budget.used) + 7:  # every segment takes at most 7 numbers
        budget.take(budget.limit + 1)
    toks = _tokens(d)
    subs: list[Subpath] = []
    segs: list[np.ndarray] = []
    lines: list[bool] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    last_c2: np.ndarray | None = None
    last_q: np.ndarray | None = None
    cmd = ""
    i = 0

    def flush(closed: bool) -> None:
        nonlocal segs, lines
        if segs:
            subs.append((np.array(segs), np.array(lines, dtype=bool), closed))
        segs, lines = [], []

    def add(ctrl: np.ndarray, is_line: bool) -> None:
        if np.all(ctrl == ctrl[0]):
            return
        budget.take(1)
        segs.append(ctrl)
        lines.append(is_line)

    while i < len(toks):
        tok = toks[i]
        if tok[0].isalpha():
            cmd = tok
            i += 1
            if cmd in "Zz":
                if segs:
                    if not np.allclose(cur, start, rtol=0, atol=0):
                        add(line_ctrl(cur, start), True)
                    flush(True)
                cur = start.copy()
                last_c2 = last_q = None
                continue
        elif not cmd or cmd in "Zz":
            raise InvalidInputError(f"path data has a number {tok!r} without a command")
        low = cmd.lower()
        rel = cmd.islower()
        if low == "a":
            args, i = _arc_args(toks, i)
        else:
            k = _NARGS[low]
            if i + k > len(toks) or any(t[0].isalpha() for t in toks[i:i + k]):
                raise InvalidInputError(f"path command {cmd!r} has too few numbers")
            args = [float(t) for t in toks[i:i + k]]
            i += k
        base = cur if rel else np.zeros(2)
        if low == "m":
            flush(False)
            cur = base + args[:2]
            start = cur.copy()
            cmd = "l" if rel else "L"  # further pairs are line-tos
            last_c2 = last_q = None
            continue
        if low in "lhv":
            if low == "l":
                p = base + args[:2]
            elif low == "h":
                p = np.array([args[0] + (cur[0] if rel else 0.0), cur[1]])
            else:
                p = np.array([cur[0], args[0] + (cur[1] if rel else 0.0)])
            add(line_ctrl(cur, p), True)
            cur, last_c2, last_q = p, None, None
        elif low in "cs":
            if low == "c":
                c1, c2, p = base + args[0:2], base + args[2:4], base + args[4:6]
            else:
                c1 = 2 * cur - last_c2 if last_c2 is not None else cur.copy()
                c2, p = base + args[0:2], base + args[2:4]
            add(np.array([cur, c1, c2, p]), False)
            cur, last_c2, last_q = p, c2, None
        elif low in "qt":
            if low == "q":
                q, p = base + args[0:2], base + args[2:4]
            else:
                q = 2 * cur - last_q if last_q is not None else cur.copy()
                p = base + args[0:2]
            add(quad_to_cubic(cur, q, p), False)
            cur, last_q, last_c2 = p, q, None
        else:  # arc
            p = base + args[5:7]
            pieces = arc_to_cubics(cur, args[0], args[1], args[2], bool(args[3]), bool(args[4]), p, arc_tolerance)
            for piece in pieces:
                add(piece, len(pieces) == 1 and (args[0] == 0 or args[1] == 0))
            cur, last_c2, last_q = p, None, None
    flush(False)
    return subs


def _closed(ctrl_list: list[np.ndarray], lines: list[bool], budget: SegmentBudget) -> list[Subpath]:
    budget.take(len(ctrl_list))
    return [(np.array(ctrl_list), np.array(lines, dtype=bool), True)]


def rect_path(x: float, y: float, w: float, h: float, rx: float, ry: float, budget: SegmentBudget,
              arc_tolerance: float = 0.0) -> list[Subpath]:
    """A rectangle: four lines, or with rounded corners four lines and four quarter ellipses."""
    if w <= 0 or h <= 0:
        return []
    rx, ry = min(rx, w / 2), min(ry, h / 2)
    if rx <= 0 or ry <= 0:
        pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        return _closed([line_ctrl(pts[i], pts[(i + 1) % 4]) for i in range(4)], [True] * 4, budget)
    d = (f"M{x + rx},{y} H{x + w - rx} A{rx},{ry} 0 0 1 {x + w},{y + ry} V{y + h - ry} "
         f"A{rx},{ry} 0 0 1 {x + w - rx},{y + h} H{x + rx} A{rx},{ry} 0 0 1 {x},{y + h - ry} "
         f"V{y + ry} A{rx},{ry} 0 0 1 {x + rx},{y} Z")
    return parse_path(d, budget, arc_tolerance)


def ellipse_path(cx: float, cy: float, rx: float, ry: float, budget: SegmentBudget,
                 arc_tolerance: float = 0.0) -> list[Subpath]:
    """An ellipse as four quarter arcs (more where ``arc_tolerance`` asks for them)."""
    if rx <= 0 or ry <= 0:
        return []
    d = (f"M{cx + rx},{cy} A{rx},{ry} 0 0 1 {cx},{cy + ry} A{rx},{ry} 0 0 1 {cx - rx},{cy} "
         f"A{rx},{ry} 0 0 1 {cx},{cy - ry} A{rx},{ry} 0 0 1 {cx + rx},{cy} Z")
    return parse_path(d, budget, arc_tolerance)


def poly_path(points: str, closed: bool, budget: SegmentBudget) -> list[Subpath]:
    """``polygon`` (closed) and ``polyline`` (open) from their ``points`` attribute."""
    nums = [float(t) for t in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", points or "")]
    if len(nums) < 4:
        return []
    pts = np.array(nums[: len(nums) // 2 * 2]).reshape(-1, 2)
    d = "M" + " L".join(f"{float(p[0])!r},{float(p[1])!r}" for p in pts) + (" Z" if closed else "")
    return parse_path(d, budget)
