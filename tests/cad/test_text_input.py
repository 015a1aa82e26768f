"""Text input (cad.vector.text): glyph outlines, holes, kerning, lines, fonts and missing characters."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from cad.vector.art import art_regions
from cad.vector.text import find_font, text_art
from tracer.errors import InvalidInputError

try:
    DEFAULT = find_font()
except InvalidInputError:  # (scripts/setup.sh installs it)
    DEFAULT = None
needs_default = pytest.mark.skipif(DEFAULT is None, reason="DejaVu Sans Bold is not installed")


def square_font(path: Path, *, cff: bool = False) -> Path:
    """A font made here: 'o' is a 600-unit square with a 200-unit square hole, 'i' a plain bar; 'oi' kerns -50."""
    fb = FontBuilder(1000, isTTF=not cff)
    fb.setupGlyphOrder([".notdef", "o", "i", "space"])
    fb.setupCharacterMap({ord("o"): "o", ord("i"): "i", ord(" "): "space"})

    def draw(pen, rings):
        for ring in rings:
            pen.moveTo(ring[0])
            for p in ring[1:]:
                pen.lineTo(p)
            pen.closePath()

    shapes = {".notdef": [], "space": [],
              "o": [[(0, 0), (0, 600), (600, 600), (600, 0)], [(200, 200), (400, 200), (400, 400), (200, 400)]],
              "i": [[(0, 0), (0, 600), (100, 600), (100, 0)]]}
    if cff:
        from fontTools.pens.t2CharStringPen import T2CharStringPen

        charstrings = {}
        for g, rings in shapes.items():
            pen = T2CharStringPen(700, None)
            draw(pen, rings)
            charstrings[g] = pen.getCharString()
        fb.setupCFF("Squares", {"FullName": "Squares"}, charstrings, {})
    else:
        glyphs = {}
        for g, rings in shapes.items():
            pen = TTGlyphPen(None)
            draw(pen, rings)
            glyphs[g] = pen.glyph()
        fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({g: (700, 0) for g in shapes})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Squares", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    fb.addOpenTypeFeatures("feature kern { pos o i -50; } kern;")
    fb.save(str(path))
    return path


@pytest.mark.parametrize("cff", [False, True])
def test_glyphs_are_exact_with_holes_and_gpos_kerning(tmp_path, cff):
    font = square_font(tmp_path / ("s.otf" if cff else "s.ttf"), cff=cff)
    r = art_regions(text_art("oi", font=str(font), size_mm=10.0))  # 1000 units = 10 mm
    assert len(r.regions) == 2 and r.n_holes == 1
    assert r.area_mm2 == pytest.approx(6 * 6 - 2 * 2 + 1 * 6, rel=1e-12)
    # 'o' advances 700 units, kerned by -50: the 'i' (100 wide) starts at 650, so the width is 750 units
    assert r.width_mm == pytest.approx(7.5, rel=1e-12)
    assert r.height_mm == pytest.approx(6.0, rel=1e-12)


def test_lines_and_alignment(tmp_path):
    font = str(square_font(tmp_path / "s.ttf"))
    left = art_regions(text_art("o\nii", font=font, size_mm=10.0))
    right = art_regions(text_art("o\nii", font=font, size_mm=10.0, align="right"))
    assert left.height_mm == pytest.approx(10 + 6)  # one line height (ascent - descent) + a glyph
    assert left.width_mm == pytest.approx(8.0)
    # right-aligned by advance widths: 'o' spans -700..-100, 'ii' -1400..-600 (units)
    assert right.width_mm == pytest.approx(13.0)
    assert art_regions(text_art("o\\nii", font=font, size_mm=10.0, line_spacing=2)).height_mm == pytest.approx(26)


def test_missing_character_and_font_are_one_sentence(tmp_path):
    font = str(square_font(tmp_path / "s.ttf"))
    with pytest.raises(InvalidInputError, match=r"no glyph for 'x' \(LATIN SMALL LETTER X, U\+0078\)"):
        text_art("ox", font=font)
    with pytest.raises(InvalidInputError, match="does not exist"):
        text_art("o", font=str(tmp_path / "missing.ttf"))
    (tmp_path / "junk.ttf").write_bytes(b"not a font at all")
    with pytest.raises(InvalidInputError, match="not a font"):
        text_art("o", font=str(tmp_path / "junk.ttf"))
    with pytest.raises(InvalidInputError, match="empty"):
        text_art("  ", font=font)


@needs_default
def test_default_font_holes_of_b8oe_are_holes():
    r = art_regions(text_art("B8oe"), width_mm=40)
    assert len(r.regions) == 4 and r.n_holes == 2 + 2 + 1 + 1
    assert r.report["repaired"] == 0
    assert r.width_mm == pytest.approx(40)


@needs_default
def test_family_names_go_through_fontconfig():
    pytest.importorskip("shutil").which("fc-match") or pytest.skip("fc-match is not installed")
    assert find_font("DejaVu Sans:bold") == DEFAULT or find_font("DejaVu Sans:bold").name.startswith("DejaVuSans")
    with pytest.raises(InvalidInputError, match="no installed font family"):
        find_font("No Such Family Anywhere")
