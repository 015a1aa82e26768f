"""SVG document -> :class:`cad.vector.art.Art`: the painted shapes, exact, in CSS px (y down).

Read with defusedxml: no DTD entities (so no entity expansion, "billion laughs"), no external
entities or references (XXE); ``use`` follows only references inside the document; the curve segments
and the elements visited (``use`` expansion included) have budgets. Elements: ``path``, ``rect``
(with ``rx``/``ry``), ``circle``, ``ellipse``, ``line``, ``polyline``, ``polygon``, ``g``, nested
``svg``, ``use`` of ``defs`` and ``symbol``. Styles: presentation attributes, a ``<style>`` sheet of
simple selectors, inline ``style``, inheritance. A fill paints its rule's area (``nonzero``,
``evenodd``); a stroke paints its outline (width, caps, joins, miter limit), computed as a polyline
within the flattening tolerance. ``display:none``, ``visibility:hidden`` and zero opacity paint
nothing. ``<text>`` whose font fontconfig finds becomes its glyph outlines (:mod:`cad.vector.text`);
other text, embedded images, clip paths, masks and filters are ignored with a warning naming the
element; dashes are drawn solid, with a warning.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET
import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import LinearRing, LineString, Point

from cad.vector.art import Art, Paint
from cad.vector.pathdata import (
    SegmentBudget,
    ellipse_path,
    line_ctrl,
    parse_path,
    poly_path,
    rect_path,
    transform_ctrl,
)
from cad.vector.style import (
    INHERITED,
    PROPERTIES,
    UNIT_MM,
    StyleSheet,
    declarations,
    length,
    parse_color,
    parse_transform,
)
from cad.vector.text import text_art
from tracer.errors import InvalidInputError, TooComplexError

__all__ = ["read_svg", "looks_like_svg", "MAX_SVG_BYTES", "MAX_ELEMENTS", "ARC_FRACTION", "STROKE_FRACTION"]

#: Larger files are refused before parsing.
MAX_SVG_BYTES = 64 * 1024 * 1024
#: Elements visited, counting each expansion of ``use``: more is refused (nested ``use`` can grow exponentially).
MAX_ELEMENTS = 50_000
#: Elliptical arcs become cubics within this fraction of the document's size (and of at most 90° each).
ARC_FRACTION = 1e-4
#: Stroke outlines are polylines within this fraction of the document's size.
STROKE_FRACTION = 1e-5
_MAX_USE_DEPTH = 32

#: CSS's generic font families -> the families fontconfig is asked for.
_GENERIC_FONTS = {"sans-serif": "DejaVu Sans", "serif": "DejaVu Serif", "monospace": "DejaVu Sans Mono",
                  "system-ui": "DejaVu Sans"}
_SHAPES = ("path", "rect", "circle", "ellipse", "line", "polyline", "polygon")
_CONTAINERS = ("svg", "g", "a", "switch")
_SILENT = ("defs", "symbol", "title", "desc", "metadata", "style", "script", "linearGradient", "radialGradient",
           "clipPath", "mask", "pattern", "marker", "filter", "namedview", "font", "font-face", "cursor", "view")
_IGNORED = {"image": "embedded images are not part of the shape", "foreignObject": "foreign content is not drawn",
            "video": "media is not drawn", "audio": "media is not drawn"}


def looks_like_svg(source) -> bool:
    """Whether ``source`` (a path or bytes) is an SVG document: an ``.svg``/``.svgz`` name, or bytes with an ``<svg``."""
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[:4096]).lstrip().lower()
        return head.startswith(b"<?xml") and b"<svg" in head or head.startswith(b"<svg")
    return Path(str(source)).suffix.lower() == ".svg"


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Reader:
    def __init__(self, root: ET.Element, name: str, max_segments: int) -> None:
        self.root = root
        self.name = name
        self.budget = SegmentBudget(max_segments, name)
        self.paints: list[Paint] = []
        self.warnings: list[str] = []
        self.visited = 0
        self.ids: dict[str, ET.Element] = {}
        self.sheet = StyleSheet()
        self.counts: dict[str, int] = {}
        self.labels: dict[int, str] = {}
        for el in root.iter():
            tag = _local(el.tag)
            self.counts[tag] = self.counts.get(tag, 0) + 1
            self.labels[id(el)] = f'<{tag} id="{el.get("id")}">' if el.get("id") else f"<{tag}> number {self.counts[tag]}"
            ident = el.get("id")
            if ident:
                self.ids.setdefault(ident, el)
            if tag == "style":
                self.sheet.add("".join(el.itertext()))
        if self.sheet.skipped:
            self._warn(f"{self.sheet.skipped} style rule(s) with selectors other than tag, .class and #id were ignored")
        self.size = 1.0
        self.arc_tol = 0.0

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def label(self, el: ET.Element) -> str:
        return self.labels.get(id(el), f"<{_local(el.tag)}>")

    # ------------------------------------------------------------------ the cascade
    def style(self, el: ET.Element, parent: dict) -> dict:
        own: dict[str, str] = {}
        for k in PROPERTIES:
            v = el.get(k)
            if v is not None:
                own[k] = v.strip()
        own.update(self.sheet.matching(_local(el.tag), set((el.get("class") or "").split()), el.get("id")))
        inline = el.get("style")
        if inline:
            own.update(declarations(inline))
        out = {k: v for k, v in parent.items() if k in INHERITED}
        for k, v in own.items():
            if v == "inherit":
                if k in parent:
                    out[k] = parent[k]
            else:
                out[k] = v
        out["_opacity"] = parent.get("_opacity", 1.0) * _fraction(own.get("opacity"), 1.0)
        return out

    # ------------------------------------------------------------------ the tree
    def viewport(self, el: ET.Element, w_default: float | None, h_default: float | None
                 ) -> tuple[np.ndarray, float, float]:
        """The map from an ``svg``'s (or a ``symbol``'s) viewBox to its viewport, and the viewport's size in px."""
        w = _length_or(el.get("width"), w_default, self.name)
        h = _length_or(el.get("height"), h_default, self.name)
        m = np.eye(3)
        vb = el.get("viewBox")
        if vb:
            nums = [float(v) for v in re.split(r"[\s,]+", vb.strip()) if v]
            if len(nums) != 4 or nums[2] <= 0 or nums[3] <= 0:
                raise InvalidInputError(f"{self.name}: the viewBox {vb!r} is not four numbers with a positive size")
            x, y, vw, vh = nums
            if w is None and h is None:
                w, h = vw, vh
            elif w is None:
                w = vw * float(h or 0.0) / vh
            elif h is None:
                h = vh * w / vw
            assert w is not None and h is not None
            par = (el.get("preserveAspectRatio") or "xMidYMid meet").split()
            sx, sy = w / vw, h / vh
            tx, ty = -x * sx, -y * sy
            if par[0] != "none":
                s = max(sx, sy) if len(par) > 1 and par[1] == "slice" else min(sx, sy)
                ax, ay = par[0][1:4].lower(), par[0][5:8].lower()
                fx = {"min": 0.0, "mid": 0.5, "max": 1.0}.get(ax, 0.5)
                fy = {"min": 0.0, "mid": 0.5, "max": 1.0}.get(ay, 0.5)
                sx = sy = s
                tx = -x * s + fx * (w - vw * s)
                ty = -y * s + fy * (h - vh * s)
            m = np.array([[sx, 0, tx], [0, sy, ty], [0, 0, 1.0]])
        if w is None or h is None:
            raise InvalidInputError(f"{self.name}: the SVG has neither a viewBox nor a width and height")
        return m, float(w), float(h)

    def walk(self, el: ET.Element, ctm: np.ndarray, parent_style: dict, uses: tuple[int, ...]) -> None:
        self.visited += 1
        if self.visited > MAX_ELEMENTS:
            raise TooComplexError(f"{self.name}: the drawing expands to more than {MAX_ELEMENTS} elements "
                                  "(nested <use>?)")
        tag = _local(el.tag)
        if tag in _SILENT or not tag or (isinstance(el.tag, str) and el.tag.startswith("{")
                                         and not el.tag.startswith("{http://www.w3.org/2000/svg}")):
            return
        st = self.style(el, parent_style)
        if st.get("display", "").strip() == "none" or st["_opacity"] <= 0:
            return
        if tag in _IGNORED:
            self._warn(f"{self.label(el)} ignored: {_IGNORED[tag]}")
            return
        for prop in ("clip-path", "mask", "filter"):
            if st.get(prop, "none") not in ("none", ""):
                self._warn(f"{self.label(el)}: its {prop} is ignored (the shape is taken unclipped and unfiltered)")
        ctm = ctm @ parse_transform(el.get("transform"))
        if tag == "svg" and el is not self.root:
            x, y = length(el.get("x"), default=0.0), length(el.get("y"), default=0.0)
            vp, _, _ = self.viewport(el, 100.0, 100.0)
            ctm = ctm @ _translate(x, y) @ vp
        if tag in _CONTAINERS:
            for child in el:
                self.walk(child, ctm, st, uses)
        elif tag == "use":
            self.use(el, ctm, st, uses)
        elif tag in _SHAPES:
            self.shape(el, tag, ctm, st)
        elif tag == "text":
            self.text(el, ctm, st)
        else:
            self._warn(f"{self.label(el)} ignored: not a shape tracecad reads")

    def use(self, el: ET.Element, ctm: np.ndarray, st: dict, uses: tuple[int, ...]) -> None:
        href = el.get("href") or el.get("{http://www.w3.org/1999/xlink}href") or ""
        if not href.startswith("#"):
            self._warn(f"{self.label(el)} ignored: references outside the document ({href!r}) are not followed")
            return
        target = self.ids.get(href[1:])
        if target is None:
            self._warn(f"{self.label(el)} ignored: nothing has the id {href[1:]!r}")
            return
        if id(target) in uses or len(uses) >= _MAX_USE_DEPTH:
            raise InvalidInputError(f"{self.name}: {self.label(el)} refers to itself through <use>")
        ctm = ctm @ _translate(length(el.get("x"), default=0.0), length(el.get("y"), default=0.0))
        uses = (*uses, id(target))
        if _local(target.tag) == "symbol":
            st = self.style(target, st)
            if target.get("viewBox"):
                vp, _, _ = self.viewport(target, _length_or(el.get("width"), 100.0, self.name) or 100.0,
                                         _length_or(el.get("height"), 100.0, self.name) or 100.0)
                ctm = ctm @ vp
            for child in target:
                self.walk(child, ctm, st, uses)
        else:
            self.walk(target, ctm, st, uses)

    # ------------------------------------------------------------------ shapes
    def subpaths(self, el: ET.Element, tag: str, ctm: np.ndarray) -> list:
        scale = math.sqrt(abs(np.linalg.det(ctm[:2, :2]))) or 1.0
        tol = self.arc_tol / scale
        g = el.get
        num = lambda k, rel=0.0: length(g(k), relative_to=rel, default=0.0)  # noqa: E731
        if tag == "path":
            return parse_path(g("d") or "", self.budget, tol)
        if tag == "rect":
            rx, ry = g("rx"), g("ry")
            rxv = num("rx") if rx not in (None, "auto") else None
            ryv = num("ry") if ry not in (None, "auto") else None
            rxv = rxv if rxv is not None else (ryv if ryv is not None else 0.0)
            ryv = ryv if ryv is not None else rxv
            return rect_path(num("x"), num("y"), num("width"), num("height"), rxv, ryv, self.budget, tol)
        if tag == "circle":
            r = num("r")
            return ellipse_path(num("cx"), num("cy"), r, r, self.budget, tol)
        if tag == "ellipse":
            return ellipse_path(num("cx"), num("cy"), num("rx"), num("ry"), self.budget, tol)
        if tag == "line":
            p0, p1 = (num("x1"), num("y1")), (num("x2"), num("y2"))
            if p0 == p1:
                return []
            self.budget.take(1)
            return [(np.array([line_ctrl(p0, p1)]), np.array([True]), False)]
        return poly_path(g("points") or "", tag == "polygon", self.budget)

    def shape(self, el: ET.Element, tag: str, ctm: np.ndarray, st: dict) -> None:
        try:
            subs = self.subpaths(el, tag, ctm)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{self.name}: {self.label(el)}: {exc}") from None
        if not subs or st.get("visibility", "visible") in ("hidden", "collapse"):
            return
        fill = self.paint_color(el, st.get("fill", "black"), st)
        if fill is not None and _fraction(st.get("fill-opacity"), 1.0) > 0:
            rings = []
            for c, l, closed in subs:
                if not closed and not np.array_equal(c[-1, 3], c[0, 0]):
                    c = np.concatenate([c, [line_ctrl(c[-1, 3], c[0, 0])]])
                    l = np.append(l, True)
                rings.append((transform_ctrl(c, ctm), l))
            rule = st.get("fill-rule", "nonzero").strip()
            self.paints.append(Paint(rings=tuple(rings), rule="evenodd" if rule == "evenodd" else "nonzero",
                                     color=fill, source=self.label(el)))
        stroke = self.paint_color(el, st.get("stroke", "none"), st)
        if stroke is not None and _fraction(st.get("stroke-opacity"), 1.0) > 0:
            try:
                width = length(st.get("stroke-width"), relative_to=self.size / math.sqrt(2), default=1.0)
            except InvalidInputError:
                width = 1.0
            if width > 0:
                if st.get("stroke-dasharray", "none").strip() not in ("none", ""):
                    self._warn(f"{self.label(el)}: its dashes are ignored (the stroke is drawn solid)")
                area = self.stroke_area(subs, width, st, ctm)
                if not area.is_empty:
                    self.paints.append(Paint(polygon=area, color=stroke, source=self.label(el)))

    def text(self, el: ET.Element, ctm: np.ndarray, st: dict) -> None:
        """A ``<text>`` whose font fontconfig finds becomes its glyph outlines (as ``tracecad text``); one
        line at ``x``, ``y`` with ``text-anchor``. Otherwise it is ignored with a warning naming it."""
        content = " ".join("".join(el.itertext()).split())
        if not content or st.get("visibility", "visible") in ("hidden", "collapse"):
            return
        if any(c.get(k) is not None for c in el.iter() if c is not el for k in ("x", "y", "dx", "dy", "rotate")):
            self._warn(f"{self.label(el)} ignored: positioned <tspan>s are not converted (convert the text to paths)")
            return
        family = (st.get("font-family") or "sans-serif").split(",")[0].strip().strip("'\"")
        family = _GENERIC_FONTS.get(family.lower(), family)
        weight = (st.get("font-weight") or "normal").strip()
        bold = weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 600)
        italic = (st.get("font-style") or "normal").strip() in ("italic", "oblique")
        spec = family + (":bold" if bold else "") + (":italic" if italic else "")
        try:
            size = length(st.get("font-size"), relative_to=16.0, default=16.0)
            art = text_art(content, font=spec, size_mm=1.0, max_segments=max(1, self.budget.limit - self.budget.used),
                           align={"middle": "center", "end": "right"}.get(st.get("text-anchor", "start").strip(), "left"))
        except InvalidInputError as exc:
            self._warn(f"{self.label(el)} ignored: {str(exc).split('; ')[0]}")
            return
        except TooComplexError:
            raise TooComplexError(f"{self.name}: the drawing has more than {self.budget.limit} curve segments "
                                  "(raise --max-segments to accept it)") from None
        scale = size * float(art.unit_mm or 1.0)  # font units -> user units
        x = length((el.get("x") or "0").split()[0] if el.get("x") else None, default=0.0)
        y = length((el.get("y") or "0").split()[0] if el.get("y") else None, default=0.0)
        m = ctm @ _translate(x, y) @ np.diag([scale, scale, 1.0])
        fill = self.paint_color(el, st.get("fill", "black"), st)
        if fill is None or _fraction(st.get("fill-opacity"), 1.0) <= 0:
            return
        self.budget.take(sum(len(c) for p in art.paints for c, _ in p.rings))
        for p in art.paints:
            self.paints.append(Paint(rings=tuple((transform_ctrl(c, m), l) for c, l in p.rings), rule="nonzero",
                                     color=fill, source=self.label(el)))
        if st.get("stroke", "none").strip() != "none":
            self._warn(f"{self.label(el)}: the stroke of text is ignored (its glyphs are filled)")

    def paint_color(self, el: ET.Element, value: str, st: dict) -> str | None:
        value = value.strip()
        if value == "currentColor":
            value = st.get("color", "black")
        if value.startswith("url("):
            ref = re.match(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)\s*(.*)", value)
            target = self.ids.get(ref.group(1)) if ref else None
            if target is None:
                fallback = ref.group(2).strip() if ref else ""
                return parse_color(fallback) if fallback else None
            stops = [s for s in target.iter() if _local(s.tag) == "stop"]
            color = "#808080"
            if stops:
                s0 = stops[0]
                color = parse_color(declarations(s0.get("style") or "").get("stop-color") or s0.get("stop-color")
                                    or "black") or "#808080"
            self._warn(f"{self.label(el)}: a {_local(target.tag)} paint counts as its first colour {color}")
            return color
        return parse_color(value)

    def stroke_area(self, subs: list, width: float, st: dict, ctm: np.ndarray):
        """The stroke's outline, buffered in the element's own units and then transformed (so a
        non-uniform transform stretches the stroke as SVG does)."""
        scale = math.sqrt(abs(np.linalg.det(ctm[:2, :2]))) or 1.0
        tol = STROKE_FRACTION * self.size / scale
        half = width / 2
        quad = int(min(64, max(4, math.ceil(math.pi / 4 / math.acos(max(1 - tol / half, -1.0)))))) if half > tol else 4
        cap = {"round": "round", "square": "square"}.get(st.get("stroke-linecap", "butt").strip(), "flat")
        join = {"round": "round", "bevel": "bevel"}.get(st.get("stroke-linejoin", "miter").strip(), "mitre")
        limit = _fraction(st.get("stroke-miterlimit"), 4.0)
        parts = []
        for c, l, closed in subs:
            pts = _flatten(c, l, tol)
            if closed and len(pts) >= 4:
                geom = LinearRing(pts[:-1] if np.array_equal(pts[0], pts[-1]) else pts)
            elif len(pts) >= 2:
                geom = LineString(pts)
            else:
                continue
            if cap == "flat" or closed:
                parts.append(geom.buffer(half, quad_segs=quad, cap_style="flat" if not closed else "round",
                                         join_style=join, mitre_limit=limit))
            else:
                parts.append(geom.buffer(half, quad_segs=quad, cap_style=cap, join_style=join, mitre_limit=limit))
        if not parts:
            return Point().buffer(0)
        area = shapely.union_all(parts)
        a, b, c_, d, e, f = ctm[0, 0], ctm[1, 0], ctm[0, 1], ctm[1, 1], ctm[0, 2], ctm[1, 2]
        return shapely.affinity.affine_transform(area, [a, c_, b, d, e, f])


def _flatten(ctrl: np.ndarray, is_line: np.ndarray, tol: float) -> np.ndarray:
    pts = [ctrl[0, 0]]
    for c, line in zip(ctrl, is_line):
        if line:
            pts.append(c[3])
            continue
        m = 6.0 * max(np.hypot(*(c[0] - 2 * c[1] + c[2])), np.hypot(*(c[1] - 2 * c[2] + c[3])))
        n = int(min(1024, max(1, math.ceil(math.sqrt(m / (8.0 * tol))))))
        t = np.linspace(0, 1, n + 1)[1:, None]
        pts.extend((1 - t) ** 3 * c[0] + 3 * (1 - t) ** 2 * t * c[1] + 3 * (1 - t) * t * t * c[2] + t**3 * c[3])
    return np.array(pts)


def _translate(x: float, y: float) -> np.ndarray:
    m = np.eye(3)
    m[0, 2], m[1, 2] = x, y
    return m


def _fraction(text, default: float) -> float:
    if text is None:
        return default
    t = str(text).strip()
    try:
        return float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        return default


def _length_or(text, default, name: str) -> float | None:
    """A viewport length in px; a percentage or nothing -> ``default``."""
    if text is None or str(text).strip().endswith("%") or not str(text).strip():
        return default
    try:
        v = length(text)
    except InvalidInputError:
        raise InvalidInputError(f"{name}: the size {text!r} is not a length") from None
    return v if v > 0 else default


def read_svg(source, *, name: str | None = None, max_segments: int = 200_000) -> Art:
    """Read an SVG (a path or its bytes) into an :class:`Art` in CSS px (``unit_mm`` = 25.4 / 96).

    Raises :class:`tracer.InvalidInputError` (unreadable, malformed or unsafe XML, not an SVG, nothing
    painted), :class:`tracer.InvalidInputError` (bad attribute values) or
    :class:`tracer.TooComplexError` (over the segment or element budget), each one sentence naming the input."""
    name = name or ("<bytes>" if isinstance(source, (bytes, bytearray)) else str(source))
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        try:
            if os.path.getsize(source) > MAX_SVG_BYTES:
                raise TooComplexError(f"{name}: the SVG file is larger than {MAX_SVG_BYTES // (1024 * 1024)} MB")
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    if len(data) > MAX_SVG_BYTES:
        raise TooComplexError(f"{name}: the SVG is larger than {MAX_SVG_BYTES // (1024 * 1024)} MB")
    if not data.strip():
        raise InvalidInputError(f"{name}: the SVG file is empty")
    try:
        root = DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden:
        raise InvalidInputError(f"{name}: the SVG declares XML entities, which are never expanded or fetched (a "
                                "defence against entity expansion and external entities); remove the DOCTYPE's entities") from None
    except (defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden, defusedxml.NotSupportedError):
        raise InvalidInputError(f"{name}: the SVG refers to external XML resources, which are not fetched") from None
    except ET.ParseError as exc:
        raise InvalidInputError(f"{name}: the SVG is not well-formed XML ({exc})") from None
    if _local(root.tag) != "svg":
        raise InvalidInputError(f"{name}: not an SVG document (its root element is <{_local(root.tag)}>)")
    reader = _Reader(root, name, max_segments)
    vp, w, h = reader.viewport(root, None, None)
    reader.size = max(w, h)
    reader.arc_tol = ARC_FRACTION * reader.size
    reader.walk(root, vp, {"_opacity": 1.0}, ())
    if not reader.paints:
        raise InvalidInputError(f"{name}: the SVG paints no filled or stroked shape")
    return Art(paints=reader.paints, unit_mm=UNIT_MM["px"], warnings=reader.warnings, name=name)
