"""DXF of the footprint in millimetres: closed outlines on named layers, for laser cutters, CNC and CAD.

A drawing is a list of :class:`Layer`, each holding closed contours: :class:`cad.regions.Ring`
(the traced Béziers and lines), and the plate primitives :class:`Circle`, :class:`Ellipse` and
:class:`Loop` (a closed polyline whose edges may be circular arcs, as DXF bulges).

Two ways of writing the curves (``curves``):

``"spline"`` (exact)
    A ring made of lines only is one closed LWPOLYLINE. A ring with curves is a chain of entities,
    one per segment and joined end to start at bit-identical points: a LINE for a straight segment, a
    SPLINE for a cubic (degree 3, its four Bézier control points, knots ``0,0,0,0,1,1,1,1``). A single
    span is the same curve in every reader, and laser, CNC and CAD programs join coincident ends into
    one contour (FreeCAD's importer does). One closed SPLINE per ring would need a triple knot at every
    joint: LibreCAD 2.2 wraps a SPLINE flagged closed into a periodic curve (drawn 0.1 % to 8 % of the
    size away from the outline, measured), and importers such as CadQuery's refuse inner knots of multiplicity above
    one. Plates are exact: CIRCLE, ELLIPSE, and a closed LWPOLYLINE with bulges for a rounded rectangle.
``"polyline"``
    Every contour is one closed LWPOLYLINE of straight edges, within ``tolerance_mm`` of the curve.

Ring segments are written by kind (:data:`SEGMENT_KINDS`) and read back by entity type (a reader
returns the entity's area term and chain ends). A new kind of segment, a circular arc, needs one of
each: a ring of lines and arcs is best one closed LWPOLYLINE with bulges (as the rounded plate is
written); an ARC in a chain of splines is always counter-clockwise in DXF, so on a clockwise hole its
ends are matched the other way round and its area term is negated.

:func:`check_dxf` reads a file back with ezdxf and checks it: ezdxf's audit finds no error, every
entity is on a known layer and of a kind written, every contour is closed (closed entities, and
chains whose every start point is another entity's end point), and each layer encloses the area of
its contours (exact curves: 1e-6 relative, integrating the read-back control points exactly;
polylines: the chord error along the outline).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from cad import geometry
from cad.regions import Ring, polygons_of
from tracer.errors import ExportError

__all__ = ["CURVES", "Layer", "Circle", "Ellipse", "Loop", "full_ellipse", "SEGMENT_KINDS", "write_dxf", "check_dxf", "read_back",
           "read_dxf_layers", "LayerReading", "rounded_rect_loop", "layer_name",
           "footprint_layers", "colour_layer", "polygon_loops", "plate_layers",
           "OUTLINE", "HOLES", "PLATE", "PLATE_HOLES"]

#: Values of ``--dxf-curves``.
CURVES = ("spline", "polyline")
#: The DXF version written: AutoCAD 2010, read by every current CAD, CAM and laser program; layers carry
#: true colours (R2004 and later).
DXF_VERSION = "R2010"
#: Relative area agreement of a read-back file with exact curves.
EXACT_RTOL = 1e-6
_INSUNITS_MM = 4
_ACI_WHITE = 7


@dataclass(frozen=True, slots=True)
class Circle:
    """A full circle (counter-clockwise), e.g. a keychain hole or a round plate."""

    cx: float
    cy: float
    r: float

    def area(self) -> float:
        return math.pi * self.r ** 2

    def perimeter(self) -> float:
        return 2 * math.pi * self.r

    def points(self, tolerance_mm: float) -> np.ndarray:
        return _arc_points(self.cx, self.cy, self.r, 0.0, 2 * math.pi, tolerance_mm)[:-1]


@dataclass(frozen=True, slots=True)
class Ellipse:
    """A full ellipse (counter-clockwise) with semi-axes ``a`` (along x turned by ``rotation`` radians) and ``b``."""

    cx: float
    cy: float
    a: float
    b: float
    rotation: float = 0.0

    def area(self) -> float:
        return math.pi * self.a * self.b

    def perimeter(self) -> float:
        h = ((self.a - self.b) / (self.a + self.b)) ** 2  # Ramanujan
        return math.pi * (self.a + self.b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))

    def points(self, tolerance_mm: float) -> np.ndarray:
        r = max(self.a, self.b)
        n = max(8, math.ceil(math.pi / math.acos(max(-1.0, 1 - tolerance_mm / r))))
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        x, y = self.a * np.cos(t), self.b * np.sin(t)
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.c_[self.cx + c * x - s * y, self.cy + s * x + c * y]


@dataclass(frozen=True, slots=True)
class Loop:
    """A closed polyline ``pts`` (m, 2); edge i (pts[i] -> pts[i+1]) is a circular arc when ``bulges[i]``
    is not 0 (DXF's bulge: tan of a quarter of the arc's angle, positive counter-clockwise)."""

    pts: tuple[tuple[float, float], ...]
    bulges: tuple[float, ...] = ()

    def _bulges(self) -> list[float]:
        return list(self.bulges) if self.bulges else [0.0] * len(self.pts)

    def area(self) -> float:
        return _loop_area(self.pts, self._bulges())

    def perimeter(self) -> float:
        total = 0.0
        for (p, q), b in zip(_edges(self.pts), self._bulges()):
            c = math.dist(p, q)
            theta = 4 * math.atan(b)
            total += c if b == 0 else abs(theta) * c / (2 * abs(math.sin(theta / 2)))
        return total

    def points(self, tolerance_mm: float) -> np.ndarray:
        out: list[np.ndarray] = []
        for (p, q), b in zip(_edges(self.pts), self._bulges()):
            if b == 0:
                out.append(np.array([p]))
                continue
            cx, cy, r, a0, sweep = _bulge_arc(p, q, b)
            out.append(_arc_points(cx, cy, r, a0, sweep, tolerance_mm)[:-1])
        return np.concatenate(out)


Contour = Ring | Circle | Ellipse | Loop


@dataclass(frozen=True, slots=True)
class Layer:
    """A named layer: its closed contours, its colour (``#rrggbb``, the layer's true colour) and its
    AutoCAD colour index (used by programs that ignore true colours)."""

    name: str
    contours: tuple[Contour, ...]
    color: str | None = None
    aci: int = _ACI_WHITE

    def area(self) -> float:
        """Signed area of the contours (rings by orientation; circles, ellipses and loops as drawn)."""
        return float(sum(c.area() for c in self.contours))

    def perimeter(self) -> float:
        return float(sum(_perimeter(c) for c in self.contours))


def layer_name(text: str) -> str:
    """``text`` made a valid DXF layer name (letters, digits, ``_-.$`` only)."""
    name = "".join(ch if ch.isalnum() or ch in "_-.$" else "_" for ch in text)
    return name or "0"


def rounded_rect_loop(x0: float, y0: float, x1: float, y1: float, r: float) -> Loop:
    """A counter-clockwise rectangle whose corners are quarter circles of radius ``r`` (exact: bulges)."""
    r = min(r, 0.5 * (x1 - x0), 0.5 * (y1 - y0))
    if r <= 1e-9:
        return Loop(((x0, y0), (x1, y0), (x1, y1), (x0, y1)))
    b = math.tan(math.pi / 8)  # a quarter turn, counter-clockwise
    pts = ((x0 + r, y0), (x1 - r, y0), (x1, y0 + r), (x1, y1 - r), (x1 - r, y1), (x0 + r, y1), (x0, y1 - r), (x0, y0 + r))
    return Loop(pts, (0.0, b, 0.0, b, 0.0, b, 0.0, b))


# --------------------------------------------------------------------------- drawings

#: Layer names and AutoCAD colour indices of a drawing's outlines.
OUTLINE, HOLES, PLATE, PLATE_HOLES = "OUTLINE", "HOLES", "PLATE", "PLATE_HOLES"
_ACI = {OUTLINE: _ACI_WHITE, HOLES: 1, PLATE: 5, PLATE_HOLES: 4}


def full_ellipse(ring: Ring) -> Ellipse | None:
    """The ring as one :class:`Ellipse` when it is one (elliptic arcs of one ellipse, once round), else None."""
    e = ring.ellipses
    if e is None or not ring.is_ellipse.all():
        return None
    scale = float(np.abs(e[0, :4]).max()) or 1.0
    if np.abs(e[:, :4] - e[0, :4]).max() > 1e-9 * scale or abs(np.abs(e[:, 5]).sum() - 2 * math.pi) > 1e-9:
        return None
    return Ellipse(float(e[0, 0]), float(e[0, 1]), float(e[0, 2]), float(e[0, 3]), float(e[0, 4]))


def _moved(ring: Ring, dx: float, dy: float) -> Contour:
    whole = full_ellipse(ring)
    if whole is not None:  # one ELLIPSE entity
        return Ellipse(whole.cx + dx, whole.cy + dy, whole.a, whole.b, whole.rotation)
    if ring.ellipses is not None or (ring.arcs is not None and not (ring.is_line | ring.is_arc).all()):
        ring = ring.beziers()  # arcs among cubics: all as SPLINEs (an arc only in a polyline of lines and arcs)
    if not (dx or dy):
        return ring
    arcs = None
    if ring.arcs is not None:
        arcs = ring.arcs.copy()
        arcs[:, :2] += np.array([dx, dy])
    return Ring(ring.ctrl + np.array([dx, dy]), ring.is_line, ring.exact, arcs)


def footprint_layers(regions, *, offset: tuple[float, float] = (0.0, 0.0)) -> list[Layer]:
    """The layers of a footprint (:class:`cad.regions.Regions`, moved by ``offset``): the outer outlines on
    ``OUTLINE``, the holes on ``HOLES`` (left out when there are none)."""
    dx, dy = offset
    shells = tuple(_moved(r.shell, dx, dy) for r in regions.regions)
    holes = tuple(_moved(h, dx, dy) for r in regions.regions for h in r.holes)
    layers = [Layer(OUTLINE, shells, aci=_ACI[OUTLINE])]
    if holes:
        layers.append(Layer(HOLES, holes, aci=_ACI[HOLES]))
    return layers


def colour_layer(color: str, regions, *, name: str | None = None) -> Layer:
    """One colour's outlines and holes on one layer, ``COLOR_rrggbb`` (or ``name``), whose true colour is ``color``."""
    rings = tuple(_moved(ring, 0.0, 0.0) for r in regions.regions for ring in r.rings)
    return Layer(layer_name(name or f"COLOR_{color.lstrip('#').lower()}"), rings, color=color)


def polygon_loops(geom, *, offset: tuple[float, float] = (0.0, 0.0)) -> tuple[tuple[Loop, ...], tuple[Loop, ...]]:
    """The outer rings (counter-clockwise) and holes (clockwise) of a shapely (Multi)Polygon as loops."""
    dx, dy = offset
    outer: list[Loop] = []
    inner: list[Loop] = []
    for poly in polygons_of(shapely.orient_polygons(geom, exterior_cw=False)):
        outer.append(Loop(tuple((x + dx, y + dy) for x, y in poly.exterior.coords[:-1])))
        inner += [Loop(tuple((x + dx, y + dy) for x, y in h.coords[:-1])) for h in poly.interiors]
    return tuple(outer), tuple(inner)


def plate_layers(outline: Sequence[Contour], holes: Sequence[Contour] = ()) -> list[Layer]:
    """A product's plate: its outline on ``PLATE``, its holes (a keychain hole) on ``PLATE_HOLES``."""
    layers = [Layer(PLATE, tuple(outline), aci=_ACI[PLATE])]
    if holes:
        layers.append(Layer(PLATE_HOLES, tuple(holes), aci=_ACI[PLATE_HOLES]))
    return layers


# --------------------------------------------------------------------------- writing

def _line(msp, seg: np.ndarray, attribs: dict) -> None:
    msp.add_line(tuple(seg[0]), tuple(seg[3]), dxfattribs=attribs)


def _cubic(msp, seg: np.ndarray, attribs: dict) -> None:
    msp.add_open_spline([tuple(p) for p in seg], degree=3, knots=(0, 0, 0, 0, 1, 1, 1, 1), dxfattribs=attribs)


#: How each kind of ring segment is written as one entity of a chain: ``write(modelspace, ctrl (4,2), attribs)``.
SEGMENT_KINDS: dict[str, Callable[..., None]] = {"line": _line, "cubic": _cubic}


#: Segment ends closer than this (mm) are one point: each segment starts exactly where the previous ends.
JOIN_MM = 1e-9


def _joined(ctrl: np.ndarray) -> np.ndarray:
    """``ctrl`` with each segment's start set to the previous segment's end where they differ by rounding only,
    so that a chain's entities meet at bit-identical points (a real gap is left for the check to find)."""
    out = ctrl.copy()
    prev_end = np.roll(ctrl[:, 3], 1, axis=0)
    near = np.hypot(*(ctrl[:, 0] - prev_end).T) <= JOIN_MM
    out[near, 0] = prev_end[near]
    return out


def _segment_kinds(ring: Ring) -> list[str]:
    return ["line" if line else "cubic" for line in ring.is_line]


def _write_contour(msp, contour: Contour, attribs: dict, curves: str, tolerance_mm: float) -> None:
    if curves == "polyline":
        pts = contour.flatten(tolerance_mm) if isinstance(contour, Ring) else contour.points(tolerance_mm)
        msp.add_lwpolyline([tuple(p) for p in pts], format="xy", close=True, dxfattribs=attribs)
    elif isinstance(contour, Ring) and (contour.ellipses is not None or (
            contour.arcs is not None and not (contour.is_line | contour.is_arc).all())):
        raise ValueError("a ring with elliptic arcs, or arcs among cubics, is laid out first (footprint_layers)")
    elif isinstance(contour, Ring) and contour.arcs is not None:  # lines and arcs: a polyline with bulges
        bulges = np.where(contour.is_arc, np.tan(np.nan_to_num(contour.arcs[:, 2]) / 4), 0.0)
        msp.add_lwpolyline([(float(x), float(y), float(b)) for (x, y), b in zip(contour.ctrl[:, 0], bulges)],
                           format="xyb", close=True, dxfattribs=attribs)
    elif isinstance(contour, Ring):
        kinds = _segment_kinds(contour)
        if all(k == "line" for k in kinds):  # a polygon: one closed entity
            msp.add_lwpolyline([tuple(p) for p in contour.ctrl[:, 0]], format="xy", close=True, dxfattribs=attribs)
        else:
            for seg, kind in zip(_joined(contour.ctrl), kinds):
                SEGMENT_KINDS[kind](msp, seg, attribs)
    elif isinstance(contour, Circle):
        msp.add_circle((contour.cx, contour.cy), contour.r, dxfattribs=attribs)
    elif isinstance(contour, Ellipse):
        c, s = math.cos(contour.rotation), math.sin(contour.rotation)
        if contour.a >= contour.b:
            major, ratio = (contour.a * c, contour.a * s, 0.0), contour.b / contour.a
        else:
            major, ratio = (-contour.b * s, contour.b * c, 0.0), contour.a / contour.b
        msp.add_ellipse((contour.cx, contour.cy), major_axis=major, ratio=ratio, dxfattribs=attribs)
    else:
        msp.add_lwpolyline([(x, y, b) for (x, y), b in zip(contour.pts, contour._bulges())], format="xyb",
                           close=True, dxfattribs=attribs)


def write_dxf(layers: Sequence[Layer], path: str | Path, *, curves: str = "spline", tolerance_mm: float = 0.01) -> Path:
    """Write ``layers`` to a DXF file in millimetres (``$INSUNITS`` 4, metric)."""
    import ezdxf  # (imported here: 0.3 s and more, paid only when a DXF is written)

    if curves not in CURVES:
        raise ValueError(f"curves must be one of {', '.join(CURVES)}, got {curves!r}")
    path = Path(path)
    doc = ezdxf.new(DXF_VERSION, units=_INSUNITS_MM)
    doc.header["$MEASUREMENT"] = 1  # metric
    msp = doc.modelspace()
    for layer in layers:
        lay = doc.layers.add(layer.name, color=layer.aci)
        if layer.color is not None:
            lay.rgb = _rgb(layer.color)
        attribs = {"layer": layer.name}
        for contour in layer.contours:
            _write_contour(msp, contour, attribs, curves, tolerance_mm)
    doc.saveas(path)
    return path


# --------------------------------------------------------------------------- reading back

@dataclass(slots=True)
class LayerReading:
    """What one layer of a read-back DXF holds: its enclosed signed area, its entity kinds, its chain ends."""

    area: float = 0.0
    entities: int = 0
    starts: Counter = field(default_factory=Counter)
    ends: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    cubics: list = field(default_factory=list)  # (4, 2) Bézier spans, integrated together at the end

    @property
    def open_ends(self) -> int:
        """Chain ends that meet no other entity's start (0: every chain closes)."""
        return sum((self.starts - self.ends).values()) + sum((self.ends - self.starts).values())


def read_dxf_layers(doc) -> tuple[dict[str, LayerReading], list[str]]:
    """Read an ezdxf document's modelspace: per layer, the enclosed signed area, entity kinds and chain ends.

    Returns ``(layers, problems)``; ``problems`` lists entities that are not closed contours or their parts.
    """
    out: dict[str, LayerReading] = {}
    problems: list[str] = []
    for e in doc.modelspace():
        kind = e.dxftype()
        rd = out.setdefault(e.dxf.layer, LayerReading())
        rd.entities += 1
        rd.kinds[kind] += 1
        reader = _READERS.get(kind)
        if reader is None:
            problems.append(f"a {kind} entity")
            continue
        problem = reader(e, rd)
        if problem:
            problems.append(problem)
    for rd in out.values():
        if rd.cubics:  # Green's theorem, span by span (exact for cubics: Gauss-Legendre of degree 5)
            rd.area += geometry.signed_area(np.array(rd.cubics))
            rd.cubics = []
    return out, problems


def _read_line(e, rd: LayerReading) -> str | None:
    p, q = (e.dxf.start.x, e.dxf.start.y), (e.dxf.end.x, e.dxf.end.y)
    rd.area += 0.5 * (p[0] * q[1] - q[0] * p[1])
    rd.starts[p] += 1
    rd.ends[q] += 1
    return None


def _read_spline(e, rd: LayerReading) -> str | None:
    """A polynomial spline: its Bézier spans (a single span as it is; others by exact knot insertion)."""
    if e.weights and any(w != 1 for w in e.weights):
        return "a rational SPLINE"
    cps = e.control_points
    knots = list(e.knots)
    if e.dxf.degree == 3 and len(cps) == 4 and len(knots) == 8 and len(set(knots[:4])) == len(set(knots[4:])) == 1:
        spans = [np.array([(p[0], p[1]) for p in cps])]  # a clamped single span: its control points are the Bézier's
    else:
        try:
            spans = [np.array([(p.x, p.y) for p in span]) for span in e.construction_tool().bezier_decomposition()]
        except Exception as exc:  # ezdxf raises plain errors for unclamped or malformed knots
            return f"a SPLINE whose knots cannot be split into Bézier spans ({exc})"
    for span in spans:
        if len(span) == 4:
            rd.cubics.append(span)
        elif len(span) == 2:
            rd.area += 0.5 * (span[0, 0] * span[1, 1] - span[1, 0] * span[0, 1])
        else:
            return f"a SPLINE of degree {len(span) - 1}"
    p, q = (cps[0][0], cps[0][1]), (cps[-1][0], cps[-1][1])
    if e.closed and p == q:
        return None
    rd.starts[p] += 1
    rd.ends[q] += 1
    return None


def _read_lwpolyline(e, rd: LayerReading) -> str | None:
    pts = [(x, y) for x, y, _ in e.get_points("xyb")]
    bulges = [b for _, _, b in e.get_points("xyb")]
    if not e.closed:
        return "an open LWPOLYLINE"
    rd.area += _loop_area(pts, bulges)
    return None


def _read_circle(e, rd: LayerReading) -> str | None:
    rd.area += math.pi * e.dxf.radius ** 2
    return None


def _read_ellipse(e, rd: LayerReading) -> str | None:
    sweep = (e.dxf.end_param - e.dxf.start_param) % (2 * math.pi)
    if sweep > 1e-12 and abs(sweep - 2 * math.pi) > 1e-12:
        return "an elliptical arc"
    a = math.hypot(e.dxf.major_axis.x, e.dxf.major_axis.y)
    rd.area += math.pi * a * a * e.dxf.ratio
    return None


_READERS: dict[str, Callable[..., str | None]] = {
    "LINE": _read_line, "SPLINE": _read_spline, "LWPOLYLINE": _read_lwpolyline, "CIRCLE": _read_circle,
    "ELLIPSE": _read_ellipse}


def read_back(path: str | Path, name: str):
    """Read a written DXF back with ezdxf: it must parse, pass ezdxf's audit and be in millimetres;
    raises :class:`ExportError` naming the file (``name``). Returns the document."""
    import ezdxf  # (imported here: 0.3 s and more, paid only when a DXF is written)

    try:
        doc = ezdxf.readfile(str(path))
    except (OSError, ezdxf.DXFError) as exc:
        raise ExportError(f"{name}: the DXF does not read back ({exc})") from exc
    auditor = doc.audit()
    if auditor.has_errors:
        raise ExportError(f"{name}: the DXF fails ezdxf's audit ({auditor.errors[0].message})")
    if doc.header.get("$INSUNITS") != _INSUNITS_MM:
        raise ExportError(f"{name}: the DXF is not in millimetres")
    return doc


def check_dxf(path: str | Path, layers: Sequence[Layer], *, curves: str = "spline", tolerance_mm: float = 0.01,
              name: str | None = None) -> dict[str, float]:
    """Read ``path`` back and check it holds ``layers``: audit, closed contours, each layer's area.

    Raises :class:`ExportError` naming the file (``name``, default the path) and the first fault found.
    Returns the read-back area of each layer.
    """
    name = name or str(path)
    doc = read_back(path, name)
    readings, problems = read_dxf_layers(doc)
    if problems:
        raise ExportError(f"{name}: the DXF holds {problems[0]}, which is not a closed outline")
    want = {layer.name: layer for layer in layers}
    extra = sorted(set(readings) - set(want))
    if extra:
        raise ExportError(f"{name}: the DXF has entities on an unexpected layer {extra[0]!r}")
    areas = {}
    for layer in layers:
        rd = readings.get(layer.name, LayerReading())
        if rd.open_ends:
            raise ExportError(f"{name}: layer {layer.name} has {rd.open_ends} open chain end(s); "
                              "its outlines are not closed")
        expected = layer.area()
        if curves == "polyline":
            slack = layer.perimeter() * tolerance_mm * 1.5 + 1e-9
        else:
            slack = EXACT_RTOL * max(abs(expected), sum(abs(c.area()) for c in layer.contours)) + 1e-12
        if abs(rd.area - expected) > slack:
            raise ExportError(f"{name}: layer {layer.name} reads back enclosing {rd.area:.6f} mm², "
                              f"expected {expected:.6f}")
        areas[layer.name] = float(rd.area)
    return areas


# --------------------------------------------------------------------------- geometry helpers

def _edges(pts: Sequence) -> Iterable[tuple]:
    return zip(pts, [*pts[1:], pts[0]])


def _loop_area(pts: Sequence, bulges: Sequence[float]) -> float:
    """Signed area of a closed polyline with bulges: the polygon plus each arc's circular segment."""
    total = 0.0
    for (p, q), b in zip(_edges(pts), bulges):
        total += 0.5 * (p[0] * q[1] - q[0] * p[1])
        if b:
            theta = 4 * math.atan(b)
            r = math.dist(p, q) / (2 * math.sin(abs(theta) / 2))
            total += 0.5 * r * r * (theta - math.sin(theta))
    return total


def _bulge_arc(p, q, b: float) -> tuple[float, float, float, float, float]:
    """The arc of a bulge from ``p`` to ``q``: centre, radius, start angle and signed sweep (radians)."""
    theta = 4 * math.atan(b)
    c = math.dist(p, q)
    r = c / (2 * math.sin(abs(theta) / 2))
    mx, my = 0.5 * (p[0] + q[0]), 0.5 * (p[1] + q[1])
    ux, uy = (q[0] - p[0]) / c, (q[1] - p[1]) / c
    d = r * math.cos(theta / 2) * math.copysign(1.0, theta)  # centre on the left of p->q for a ccw arc
    cx, cy = mx - uy * d, my + ux * d
    return cx, cy, r, math.atan2(p[1] - cy, p[0] - cx), theta


def _arc_points(cx: float, cy: float, r: float, a0: float, sweep: float, tolerance_mm: float) -> np.ndarray:
    """Points on an arc, its chords within ``tolerance_mm``; both ends included."""
    step = 2 * math.acos(max(-1.0, 1 - min(tolerance_mm, r) / r))
    n = max(2, math.ceil(abs(sweep) / step))
    t = a0 + sweep * np.linspace(0.0, 1.0, n + 1)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)]


def _perimeter(c: Contour) -> float:
    if isinstance(c, Ring):
        p = c.flatten(1e-3)
        return float(np.hypot(*(np.roll(p, -1, axis=0) - p).T).sum())
    return c.perimeter()


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
