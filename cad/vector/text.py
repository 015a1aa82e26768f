"""Text set in a font -> :class:`cad.vector.art.Art`: the glyph outlines, exact, in font units (y down).

Outlines come from fontTools: TrueType quadratics become the cubics that are the same curves, CFF
cubics stay as they are. Glyphs advance by their widths plus the pair kerning of the font's GPOS
``kern`` feature (format 1 and 2 pair adjustments) or, without one, its ``kern`` table. ``\\n``
starts a new line, one line height (ascent - descent + line gap, times ``line_spacing``) further
down; lines are aligned left, centred or right. Holes (B, 8, o, e) are holes by the nonzero rule
that fonts are drawn with.

:func:`find_font` takes a font file, or a family name that fontconfig (``fc-match``) knows; without
either, DejaVu Sans Bold.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np

from cad.vector.art import Art, Paint
from cad.vector.pathdata import SegmentBudget, line_ctrl, quad_to_cubic
from tracer.errors import InvalidInputError

__all__ = ["find_font", "text_art", "DEFAULT_FONT", "DEFAULT_FONT_FILES", "ALIGNS", "MAX_TEXT_CHARS"]

DEFAULT_FONT = "DejaVu Sans:bold"
#: Where Debian's fonts-dejavu-core puts the default font (tried before asking fontconfig).
DEFAULT_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)
ALIGNS = ("left", "center", "right")
MAX_TEXT_CHARS = 10_000
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc", ".woff", ".woff2")


def find_font(spec: str | None = None) -> Path:
    """A font file: ``spec`` itself when it is a file, else the file fontconfig matches to the family
    ``spec`` (``"Liberation Serif"``, ``"DejaVu Sans:bold"``), else the default font."""
    if spec is None:
        for f in DEFAULT_FONT_FILES:
            if Path(f).is_file():
                return Path(f)
        try:
            return _fc_match(DEFAULT_FONT)
        except InvalidInputError:
            raise InvalidInputError("the default font DejaVu Sans Bold is not installed (on Debian: apt-get install "
                                    "fonts-dejavu-core); give --font with a font file or an installed family") from None
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if p.suffix.lower() in _FONT_SUFFIXES or "/" in spec:
        raise InvalidInputError(f"the font file {spec} does not exist")
    return _fc_match(spec)


def _fc_match(spec: str) -> Path:
    exe = shutil.which("fc-match")
    if exe is None:
        raise InvalidInputError(f"cannot look up the font family {spec!r}: fontconfig's fc-match is not installed "
                                "(on Debian: apt-get install fontconfig); give --font a font file instead")
    try:
        run = subprocess.run([exe, "-f", "%{family}\n%{file}", spec], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInputError(f"cannot look up the font family {spec!r} with fc-match ({exc})") from None
    lines = run.stdout.splitlines()
    if run.returncode != 0 or len(lines) < 2 or not Path(lines[1]).is_file():
        raise InvalidInputError(f"no installed font matches {spec!r}; give --font a font file")
    want = spec.split(":")[0].strip().lower()
    families = [f.strip().lower() for f in lines[0].split(",")]
    if want and want not in families:
        raise InvalidInputError(f"no installed font family is called {spec.split(':')[0].strip()!r} (fontconfig "
                                f"offers {lines[0].split(',')[0]} instead); give --font a font file or another family")
    return Path(lines[1])


_PEN_CLASS: list = []


def _pen_class():
    """The pen that records a glyph's contours (made on first use: fontTools loads only when text is set)."""
    if _PEN_CLASS:
        return _PEN_CLASS[0]
    from fontTools.pens.basePen import BasePen

    class _Pen(BasePen):
        """Records a glyph's contours as subpaths of cubic segments (font units, y up)."""

        def __init__(self, glyphset, budget: SegmentBudget) -> None:
            super().__init__(glyphset)
            self.budget = budget
            self.rings: list[tuple[np.ndarray, np.ndarray]] = []
            self.segs: list[np.ndarray] = []
            self.lines: list[bool] = []
            self.start = (0.0, 0.0)

        def _add(self, ctrl: np.ndarray, line: bool) -> None:
            if not np.all(ctrl == ctrl[0]):
                self.budget.take(1)
                self.segs.append(ctrl)
                self.lines.append(line)

        def _moveTo(self, pt):
            self._flush()
            self.start = pt

        def _lineTo(self, pt):
            self._add(line_ctrl(self._getCurrentPoint(), pt), True)

        def _curveToOne(self, p1, p2, p3):
            self._add(np.array([self._getCurrentPoint(), p1, p2, p3], float), False)

        def _qCurveToOne(self, p1, p2):
            self._add(quad_to_cubic(self._getCurrentPoint(), p1, p2), False)

        def _closePath(self):
            self._flush()

        def _endPath(self):
            self._flush()

        def _flush(self) -> None:
            if self.segs:
                end, start = self.segs[-1][3], np.asarray(self.start, float)
                if not np.array_equal(end, start):
                    self._add(line_ctrl(end, start), True)
                self.rings.append((np.array(self.segs), np.array(self.lines, dtype=bool)))
            self.segs, self.lines = [], []

    _PEN_CLASS.append(_Pen)
    return _Pen


def _value_x(v) -> int:
    return int(getattr(v, "XAdvance", 0) or 0) if v is not None else 0


class _Kerning:
    """Pair kerning: the GPOS ``kern`` feature's pair adjustments, else the ``kern`` table."""

    def __init__(self, font) -> None:
        self.subtables: list = []
        self.table: dict = {}
        if "GPOS" in font and font["GPOS"].table.FeatureList is not None:
            gpos = font["GPOS"].table
            ids = sorted({i for fr in gpos.FeatureList.FeatureRecord if fr.FeatureTag == "kern"
                          for i in fr.Feature.LookupListIndex})
            for i in ids:
                lookup = gpos.LookupList.Lookup[i]
                for st in lookup.SubTable:
                    if lookup.LookupType == 9:
                        st = st.ExtSubTable
                    if getattr(st, "LookupType", 2) == 2 and hasattr(st, "Coverage"):
                        self.subtables.append(st)
        if not self.subtables and "kern" in font:
            for kt in getattr(font["kern"], "kernTables", []):
                self.table.update(getattr(kt, "kernTable", {}) or {})

    def __call__(self, left: str, right: str) -> int:
        if not self.subtables:
            return int(self.table.get((left, right), 0))
        for st in self.subtables:
            glyphs = st.Coverage.glyphs
            if left not in glyphs:
                continue
            if st.Format == 1:
                for rec in st.PairSet[glyphs.index(left)].PairValueRecord:
                    if rec.SecondGlyph == right:
                        return _value_x(rec.Value1)
            elif st.Format == 2:
                c1 = st.ClassDef1.classDefs.get(left, 0)
                c2 = st.ClassDef2.classDefs.get(right, 0)
                return _value_x(st.Class1Record[c1].Class2Record[c2].Value1)
        return 0


def text_art(text: str, *, font: str | None = None, line_spacing: float = 1.0, align: str = "left",
             size_mm: float | None = None, max_segments: int = 200_000) -> Art:
    """``text`` set in ``font`` (see :func:`find_font`) as artwork in font units, y down.

    ``size_mm``: the font size (one em) in mm, which sets ``Art.unit_mm``; without it the artwork has no
    size of its own (it is sized like an image). A character the font lacks is an
    :class:`tracer.InvalidInputError` naming it."""
    if align not in ALIGNS:
        raise InvalidInputError(f"align must be one of {', '.join(ALIGNS)}, got {align!r}")
    if not (np.isfinite(line_spacing) and line_spacing > 0):
        raise InvalidInputError(f"line spacing must be a positive number, got {line_spacing}")
    text = text.replace("\\n", "\n").replace("\r\n", "\n")
    if not text.strip():
        raise InvalidInputError("the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(f"the text has {len(text)} characters, more than {MAX_TEXT_CHARS}")
    from fontTools.ttLib import TTFont, TTLibError  # (lazy: start-up time of every conversion)

    path = find_font(font)
    try:
        tt = TTFont(io.BytesIO(path.read_bytes()), fontNumber=0, lazy=True)
    except (TTLibError, OSError, AssertionError) as exc:
        raise InvalidInputError(f"{path}: not a font that can be read ({exc})") from None
    try:
        return _set(tt, path, text, line_spacing=line_spacing, align=align, size_mm=size_mm, max_segments=max_segments)
    finally:
        tt.close()


def _set(tt, path: Path, text: str, *, line_spacing: float, align: str, size_mm: float | None,
         max_segments: int) -> Art:
    from fontTools.ttLib import TTLibError

    try:
        cmap = tt.getBestCmap() or {}
        glyphset = tt.getGlyphSet()
        upem = float(tt["head"].unitsPerEm)
        hhea = tt["hhea"]
        line_h = (hhea.ascent - hhea.descent + hhea.lineGap) * line_spacing
        hmtx = tt["hmtx"]
        kern = _Kerning(tt)
    except (TTLibError, OSError, KeyError, AssertionError) as exc:
        raise InvalidInputError(f"{path}: not a font that can be read ({exc})") from None
    family = path.name
    budget = SegmentBudget(max_segments, "the text")
    paints: list[Paint] = []
    for row, line in enumerate(text.split("\n")):
        names = []
        for ch in line:
            if ch == "\t":
                ch = " "
            code = ord(ch)
            if code not in cmap:
                label = unicodedata.name(ch, f"U+{code:04X}")
                raise InvalidInputError(f"the font {family} has no glyph for {ch!r} ({label}, U+{code:04X}); "
                                        "choose another --font")
            names.append(cmap[code])
        xs, x = [], 0.0
        for i, g in enumerate(names):
            xs.append(x)
            x += hmtx[g][0] + (kern(g, names[i + 1]) if i + 1 < len(names) else 0)
        shift = {"left": 0.0, "center": -x / 2, "right": -x}[align]
        y0 = row * line_h
        for g, gx in zip(names, xs):
            pen = _pen_class()(glyphset, budget)
            glyphset[g].draw(pen)
            pen._flush()
            rings = []
            for ctrl, lines in pen.rings:
                c = ctrl.copy()
                c[..., 0] += gx + shift
                c[..., 1] = y0 - c[..., 1]  # font y up -> art y down
                rings.append((c, lines))
            if rings:
                paints.append(Paint(rings=tuple(rings), rule="nonzero", color="#000000", source=f"glyph {g}"))
    if not paints:
        raise InvalidInputError("the text has no visible character")
    return Art(paints=paints, unit_mm=size_mm / upem if size_mm else None, warnings=[], name=repr(text))
