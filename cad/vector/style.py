"""What an SVG element's attributes mean: lengths and units, transforms, colours, and the cascade of
presentation attributes, a ``<style>`` sheet of simple selectors, and inline ``style``."""

from __future__ import annotations

import math
import re

import numpy as np

from tracer.errors import InvalidInputError

__all__ = ["UNIT_MM", "length", "parse_transform", "parse_color", "StyleSheet", "declarations", "INHERITED",
           "PROPERTIES"]

#: Millimetres per unit, with CSS's 96 px per inch.
UNIT_MM = {"px": 25.4 / 96, "": 25.4 / 96, "mm": 1.0, "cm": 10.0, "in": 25.4, "pt": 25.4 / 72, "pc": 25.4 / 6,
           "q": 0.25}
_LENGTH = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(px|mm|cm|in|pt|pc|q|em|ex|%)?\s*$", re.I)

#: Properties the shape reads; the first group is inherited by children, as CSS says.
INHERITED = ("fill", "fill-rule", "fill-opacity", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
             "stroke-miterlimit", "stroke-opacity", "stroke-dasharray", "visibility", "color", "font-family",
             "font-size", "font-weight", "font-style", "text-anchor")
PROPERTIES = (*INHERITED, "display", "opacity", "clip-path", "mask", "filter", "transform")


def length(text, *, relative_to: float = 0.0, default: float = 0.0) -> float:
    """An SVG length in user units (px): ``12``, ``3mm``, ``50%`` (of ``relative_to``), ``2em`` (16 px)."""
    if text is None:
        return default
    m = _LENGTH.match(str(text))
    if not m:
        raise InvalidInputError(f"{text!r} is not a length")
    v, unit = float(m.group(1)), (m.group(2) or "").lower()
    if unit == "%":
        return v / 100.0 * relative_to
    if unit in ("em", "ex"):
        return v * 16.0 * (0.5 if unit == "ex" else 1.0)
    return v * UNIT_MM[unit] / UNIT_MM["px"]


def _numbers(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)]


def parse_transform(text: str | None) -> np.ndarray:
    """An SVG ``transform`` list -> 3x3 matrix."""
    m = np.eye(3)
    if not text:
        return m
    for name, args in re.findall(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)", text):
        a = _numbers(args)
        t = np.eye(3)
        try:
            if name == "matrix":
                t[:2] = np.array(a[:6]).reshape(3, 2).T
            elif name == "translate":
                t[0, 2], t[1, 2] = a[0], (a[1] if len(a) > 1 else 0.0)
            elif name == "scale":
                t[0, 0], t[1, 1] = a[0], (a[1] if len(a) > 1 else a[0])
            elif name == "rotate":
                r = math.radians(a[0])
                rot = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
                if len(a) >= 3:
                    pre, post = np.eye(3), np.eye(3)
                    pre[:2, 2], post[:2, 2] = (a[1], a[2]), (-a[1], -a[2])
                    rot = pre @ rot @ post
                t = rot
            elif name == "skewX":
                t[0, 1] = math.tan(math.radians(a[0]))
            else:
                t[1, 0] = math.tan(math.radians(a[0]))
        except IndexError:
            raise InvalidInputError(f"transform {name}({args}) has too few numbers") from None
        m = m @ t
    if not np.all(np.isfinite(m)):
        raise InvalidInputError(f"transform {text!r} is not finite")
    return m


_NAMED = {"black": "#000000", "white": "#ffffff", "red": "#ff0000", "lime": "#00ff00", "blue": "#0000ff",
          "green": "#008000", "yellow": "#ffff00", "cyan": "#00ffff", "aqua": "#00ffff", "magenta": "#ff00ff",
          "fuchsia": "#ff00ff", "gray": "#808080", "grey": "#808080", "silver": "#c0c0c0", "maroon": "#800000",
          "olive": "#808000", "purple": "#800080", "teal": "#008080", "navy": "#000080", "orange": "#ffa500"}


def parse_color(text: str) -> str | None:
    """A paint value -> ``#rrggbb``; ``none``/``transparent`` -> None. Unknown names are black."""
    t = text.strip().lower()
    if t in ("none", "transparent", ""):
        return None
    if re.fullmatch(r"#[0-9a-f]{6}", t):
        return t
    if re.fullmatch(r"#[0-9a-f]{3}", t):
        return "#" + "".join(ch * 2 for ch in t[1:])
    if re.fullmatch(r"#[0-9a-f]{8}", t):
        return t[:7]
    m = re.fullmatch(r"rgba?\(([^)]*)\)", t)
    if m:
        parts = [p.strip() for p in re.split(r"[,\s/]+", m.group(1)) if p.strip()]
        vals = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
        return "#" + "".join(f"{int(round(min(max(v, 0), 255))):02x}" for v in vals)
    if t in _NAMED:
        return _NAMED[t]
    try:
        from PIL import ImageColor  # the CSS colour names

        r, g, b = ImageColor.getrgb(t)[:3]
        return f"#{r:02x}{g:02x}{b:02x}"
    except (ImportError, ValueError):
        return "#000000"


def declarations(text: str) -> dict[str, str]:
    """``"fill: red; stroke-width: 2"`` -> ``{"fill": "red", "stroke-width": "2"}`` (``!important`` dropped)."""
    out = {}
    for decl in text.split(";"):
        if ":" in decl:
            k, v = decl.split(":", 1)
            out[k.strip().lower()] = v.replace("!important", "").strip()
    return out


class StyleSheet:
    """The rules of ``<style>`` elements with simple selectors: ``tag``, ``.class``, ``#id``, ``tag.class``,
    ``*``, and comma lists of them. Other selectors and at-rules are skipped (``skipped`` counts them)."""

    def __init__(self) -> None:
        self.rules: list[tuple[tuple[int, int, int], int, str | None, tuple[str, ...], str | None, dict]] = []
        self.skipped = 0
        self._sorted: list | None = None

    def add(self, css: str) -> None:
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        css = re.sub(r"@[^{;]*;", "", css)
        pos = 0
        while True:
            open_ = css.find("{", pos)
            if open_ < 0:
                break
            sel = css[pos:open_].strip()
            if sel.startswith("@"):  # @media { ... { } }: skipped whole
                depth, j = 1, open_ + 1
                while j < len(css) and depth:
                    depth += {"{": 1, "}": -1}.get(css[j], 0)
                    j += 1
                pos = j
                self.skipped += 1
                continue
            close = css.find("}", open_)
            if close < 0:
                break
            decls = declarations(css[open_ + 1:close])
            pos = close + 1
            for one in sel.split(","):
                m = re.fullmatch(r"\s*(\*|[A-Za-z][\w-]*)?((?:\.[\w-]+)*)(#[\w-]+)?((?:\.[\w-]+)*)\s*", one)
                if not m or not (m.group(1) or m.group(2) or m.group(3) or m.group(4)):
                    self.skipped += 1
                    continue
                tag = None if m.group(1) in (None, "*") else m.group(1)
                classes = tuple(c for c in (m.group(2) + m.group(4)).split(".") if c)
                ident = m.group(3)[1:] if m.group(3) else None
                spec = (1 if ident else 0, len(classes), 1 if tag else 0)
                self.rules.append((spec, len(self.rules), tag, classes, ident, decls))

    def matching(self, tag: str, classes: set[str], ident: str | None) -> dict[str, str]:
        """The declarations of the rules that match, by specificity and then order."""
        out: dict[str, str] = {}
        if not self.rules:
            return out
        if self._sorted is None or len(self._sorted) != len(self.rules):
            self._sorted = sorted(self.rules, key=lambda r: (r[0], r[1]))
        for _, _, rtag, rclasses, rid, decls in self._sorted:
            if (rtag is None or rtag == tag) and all(c in classes for c in rclasses) and (rid is None or rid == ident):
                out.update(decls)
        return out
