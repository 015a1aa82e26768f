"""SVG input (cad.vector): each feature on a small SVG made here, checked against a true shape or area."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from cad.export.svg import svg_text
from cad.vector.art import art_partition, art_regions
from cad.vector.svg import read_svg
from cad.vector.text import find_font
from tracer.errors import InvalidInputError, TooComplexError

PX_MM = 25.4 / 96


def svg(body: str, attrs: str = 'width="100" height="100" viewBox="0 0 100 100"') -> bytes:
    return f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" {attrs}>{body}</svg>'.encode()


def regions(body: str, attrs: str | None = None, **kw):
    data = svg(body) if attrs is None else svg(body, attrs)
    return art_regions(read_svg(data, name="t.svg"), **kw)


def iou(a, b) -> float:
    return shapely.intersection(a, b).area / shapely.union(a, b).area


def test_rect_is_four_lines_in_the_documents_own_millimetres():
    r = regions('<rect x="10" y="20" width="40" height="20"/>', 'width="80mm" height="40mm" viewBox="0 0 80 40"')
    assert r.n_segments == 4 and r.regions[0].shell.is_line.all()
    assert r.width_mm == pytest.approx(40) and r.height_mm == pytest.approx(20)
    assert r.area_mm2 == pytest.approx(800, rel=1e-12)
    assert r.bounds == pytest.approx((-20, -10, 20, 10))  # centred on the subject


@pytest.mark.parametrize("unit,mm", [("mm", 1.0), ("cm", 10.0), ("in", 25.4), ("pt", 25.4 / 72), ("px", PX_MM), ("", PX_MM)])
def test_units_follow_css_96_px_per_inch(unit, mm):
    r = regions('<rect width="10" height="10"/>', f'width="10{unit}" height="10{unit}" viewBox="0 0 10 10"')
    assert r.width_mm == pytest.approx(10 * mm, rel=1e-9)


def test_width_height_and_px_mm_size_the_subject_like_an_image():
    body = '<rect x="0" y="0" width="20" height="10"/>'
    assert regions(body, width_mm=50).width_mm == pytest.approx(50)
    assert regions(body, height_mm=7).height_mm == pytest.approx(7)
    assert regions(body, px_mm=0.5).width_mm == pytest.approx(10)


def test_circle_is_one_true_circle_and_round():
    r = regions('<circle cx="50" cy="50" r="20"/>', 'width="100mm" height="100mm" viewBox="0 0 100 100"')
    assert r.segment_kinds() == {"lines": 0, "arcs": 2, "ellipses": 0, "beziers": 0}  # (read as 4 cubics of arcs)
    assert r.area_mm2 == pytest.approx(math.pi * 400, rel=1e-12)
    assert iou(r.geometry, Point(0, 0).buffer(20, quad_segs=256)) > 0.9995


def test_arcs_within_1e4_of_the_size():
    # a half disc of radius 40 from an arc command, in a 100-unit document
    r = regions('<path d="M10,50 A40,40 0 0 1 90,50 Z"/>', 'width="100mm" height="100mm" viewBox="0 0 100 100"')
    half = Point(0, 0).buffer(40, quad_segs=1024).intersection(shapely.box(-50, 0, 50, 50))
    assert r.area_mm2 == pytest.approx(half.area, abs=1e-4 * 100 * 80)
    pts = r.regions[0].shell.flatten(1e-4)
    radial = np.hypot(pts[:, 0], pts[:, 1] + 20)  # centre of the arc is 20 mm below the centre of its box
    on_arc = pts[:, 1] > -20 + 1e-6
    assert np.abs(radial[on_arc] - 40).max() < 1e-4 * 100


def test_quadratics_are_the_same_curve_as_cubics():
    q = regions('<path d="M0,0 Q50,100 100,0 Z"/>')
    c = regions('<path d="M0,0 C33.333333333333336,66.66666666666667 66.66666666666667,66.66666666666667 100,0 Z"/>')
    assert q.area_mm2 == pytest.approx(c.area_mm2, rel=1e-12)
    assert q.area_mm2 == pytest.approx(2 / 3 * 100 * 50 * PX_MM**2, rel=1e-12)  # parabolic segment


def test_transforms_compose():
    r = regions('<g transform="translate(50 50) rotate(90)"><rect x="0" y="0" width="40" height="10" '
                'transform="scale(0.5 1)"/></g>', 'width="100mm" height="100mm" viewBox="0 0 100 100"')
    assert (r.width_mm, r.height_mm) == pytest.approx((10, 20))


def test_viewbox_with_preserve_aspect_ratio():
    meet = regions('<rect width="10" height="10"/>', 'width="40mm" height="20mm" viewBox="0 0 10 10"')
    none = regions('<rect width="10" height="10"/>',
                   'width="40mm" height="20mm" viewBox="0 0 10 10" preserveAspectRatio="none"')
    assert (meet.width_mm, meet.height_mm) == pytest.approx((20, 20))
    assert (none.width_mm, none.height_mm) == pytest.approx((40, 20))


def test_fill_rules():
    same = "M0,0 H100 V100 H0 Z M25,25 H75 V75 H25 Z"  # both squares clockwise
    evenodd = regions(f'<path fill-rule="evenodd" d="{same}"/>')
    nonzero = regions(f'<path d="{same}"/>')
    opposite = regions('<path d="M0,0 H100 V100 H0 Z M25,25 V75 H75 V25 Z"/>')
    assert evenodd.n_holes == 1 and evenodd.area_mm2 == pytest.approx(7500 * PX_MM**2)
    assert nonzero.n_holes == 0 and nonzero.area_mm2 == pytest.approx(10000 * PX_MM**2)
    assert opposite.n_holes == 1 and opposite.area_mm2 == pytest.approx(7500 * PX_MM**2)


def test_self_intersecting_bowtie_follows_the_rule():
    r = regions('<path d="M0,0 L100,100 L100,0 L0,100 Z"/>')
    # two triangles; where they touch, a gap of 0.02 mm keeps the solid manifold
    assert len(r.regions) == 2 and r.area_mm2 == pytest.approx(5000 * PX_MM**2, rel=1e-5)
    assert r.report["contacts"] == 1 and r.report["repaired"] == 0


def test_overlapping_shapes_union_keeps_curves():
    r = regions('<circle cx="40" cy="50" r="20"/><circle cx="60" cy="50" r="20"/>')
    assert len(r.regions) == 1 and not r.regions[0].shell.is_line.any()
    want = shapely.union(Point(40, 50).buffer(20, quad_segs=512), Point(60, 50).buffer(20, quad_segs=512))
    assert r.area_mm2 == pytest.approx(want.area * PX_MM**2, rel=5e-4)
    assert r.n_segments <= 8


@pytest.mark.parametrize("cap,extra", [("butt", 0.0), ("square", 2.0 * 2.0), ("round", math.pi)])
def test_stroke_caps(cap, extra):
    r = regions(f'<line x1="10" y1="50" x2="90" y2="50" stroke="black" stroke-width="2" stroke-linecap="{cap}"/>',
                'width="100mm" height="100mm" viewBox="0 0 100 100"')
    assert r.area_mm2 == pytest.approx(80 * 2 + extra, rel=1e-4)


@pytest.mark.parametrize("join,area", [("miter", 4 * 42 * 2 - 0), ("bevel", None), ("round", None)])
def test_stroke_joins(join, area):
    r = regions(f'<rect x="20" y="20" width="40" height="40" fill="none" stroke="black" stroke-width="2" '
                f'stroke-linejoin="{join}"/>', 'width="100mm" height="100mm" viewBox="0 0 100 100"')
    outer = {"miter": 42 * 42, "bevel": 42 * 42 - 4 * 0.5, "round": 42 * 42 - 4 * (1 - math.pi / 4)}[join]
    assert r.n_holes == 1
    assert r.area_mm2 == pytest.approx(outer - 38 * 38, rel=1e-4)


def test_use_of_defs_and_css_classes():
    body = ('<style>.hide{fill:none} #gone{display:none} rect.big{fill:#ff0000}</style>'
            '<defs><circle id="dot" r="5"/></defs>'
            '<use href="#dot" x="20" y="20"/><use xlink:href="#dot" x="80" y="20"/>'
            '<rect class="hide" x="0" y="60" width="10" height="10"/><rect id="gone" x="20" y="60" width="10" height="10"/>'
            '<rect class="big" x="40" y="60" width="10" height="10"/>')
    r = regions(body)
    assert len(r.regions) == 3
    assert r.area_mm2 == pytest.approx((2 * math.pi * 25 + 100) * PX_MM**2, rel=1e-3)


def test_hidden_and_transparent_shapes_paint_nothing():
    r = regions('<rect width="10" height="10"/><rect x="20" width="10" height="10" visibility="hidden"/>'
                '<rect x="40" width="10" height="10" opacity="0"/><g style="opacity:0"><rect x="60" width="9" height="9"/></g>'
                '<rect x="80" width="10" height="10" style="fill-opacity:0"/>')
    assert len(r.regions) == 1


def test_inline_style_beats_the_sheet_and_attributes():
    r = regions('<style>rect{fill:none}</style><rect width="10" height="10" fill="black" style="fill:black"/>'
                '<rect x="20" width="10" height="10" fill="black"/>')
    assert len(r.regions) == 1


def test_unknown_fonts_and_images_are_ignored_with_a_warning_naming_them():
    art = read_svg(svg('<rect width="10" height="10"/><text id="title" font-family="No Such Family">Hi</text>'
                       '<image href="x.png"/><path clip-path="url(#c)" d="M20,0 h10 v10 z"/>'))
    text = " ".join(art.warnings)
    assert '<text id="title"> ignored' in text and "<image>" in text and "clip-path" in text
    assert len(art.paints) == 2


def test_text_with_an_installed_font_becomes_outlines():
    try:
        find_font()
    except InvalidInputError:
        pytest.skip("DejaVu Sans Bold is not installed")
    r = regions('<text x="50" y="60" font-family="sans-serif" font-weight="bold" font-size="40" '
                'text-anchor="middle">oB</text>', 'width="100mm" height="100mm" viewBox="0 0 100 100"')
    assert len(r.regions) == 2 and r.n_holes == 3
    assert 20 < r.width_mm < 60 and 20 < r.height_mm < 40  # 40 mm type


def test_colours_partition_in_paint_order():
    art = read_svg(svg('<rect x="10" y="10" width="60" height="60" fill="#ff0000"/>'
                       '<circle cx="60" cy="60" r="25" fill="#0000ff"/>'))
    parts, union = art_partition(art)
    (c1, red), (c2, blue) = parts
    assert (c1, c2) == ("#ff0000", "#0000ff")
    assert red.area_mm2 + blue.area_mm2 == pytest.approx(union.area_mm2, rel=1e-9)
    assert red.geometry.intersection(blue.geometry).area < 1e-9 * union.area_mm2
    # the red body's cut follows the blue circle: the same exact curve pieces, reversed
    blue_pts = {tuple(np.round(p, 9)) for ring in blue.regions[0].rings for seg in ring.ctrl for p in seg}
    red_curved = [seg for ring in red.regions[0].rings for seg, l in zip(ring.ctrl, ring.is_line) if not l]
    assert red_curved and all(tuple(np.round(p, 9)) in blue_pts for seg in red_curved for p in seg)


def test_round_trip_of_tracecads_own_svg():
    first = regions('<path fill-rule="evenodd" d="M0,0 C30,-20 70,-20 100,0 L100,100 H0 Z M30,30 A20,20 0 1 0 70,30 Z"/>'
                    '<circle cx="150" cy="50" r="30"/>', 'width="200mm" height="100mm" viewBox="0 0 200 100"')
    back = art_regions(read_svg(svg_text(first).encode()))
    assert back.area_mm2 == pytest.approx(first.area_mm2, rel=1e-6)
    assert back.n_segments == first.n_segments and back.n_holes == first.n_holes
    assert back.bounds == pytest.approx(first.bounds, abs=1e-5)


# ------------------------------------------------------------------ bad and hostile input

@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><rect", "well-formed"),
    (b"<html><body/></html>", "not an SVG"),
    (svg('<rect width="10" height="10" fill="none"/>'), "paints no"),
    (svg('<path d="M0,0 L10"/>'), "too few"),
])
def test_bad_svg_is_one_sentence(data, match):
    with pytest.raises(InvalidInputError, match=match):
        art_regions(read_svg(data, name="bad.svg"))


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("M0,0 H10 V10 Z")
    data = (f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file://{secret}">]>'
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="&xxe;"/></svg>').encode()
    with pytest.raises(InvalidInputError, match="entities"):
        read_svg(data)


def test_entity_expansion_is_refused():
    lol = '<!ENTITY a "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    data = (f'<?xml version="1.0"?><!DOCTYPE svg [{lol}]><svg xmlns="http://www.w3.org/2000/svg">'
            '<text>&i;</text></svg>').encode()
    with pytest.raises(InvalidInputError, match="entities"):
        read_svg(data)


def test_external_references_are_not_followed():
    art = read_svg(svg('<rect width="10" height="10"/><use href="other.svg#shape"/>'
                       '<use href="http://example.invalid/x.svg#a"/>'))
    assert len(art.paints) == 1 and any("not followed" in w for w in art.warnings)


def test_segment_budget_refuses_huge_path_data():
    d = "M0,0 " + " ".join(f"L{i % 100},{(i * 7) % 100}" for i in range(5000)) + " Z"
    with pytest.raises(TooComplexError, match="more than 1000"):
        read_svg(svg(f'<path d="{d}"/>'), max_segments=1000)


def test_use_bombs_and_cycles_are_refused():
    layers = '<g id="l0"><rect width="1" height="1"/></g>' + "".join(
        f'<g id="l{i}">' + f'<use href="#l{i - 1}"/>' * 10 + "</g>" for i in range(1, 8))
    with pytest.raises(TooComplexError):
        read_svg(svg(f"<defs>{layers}</defs><use href='#l7'/>"))
    with pytest.raises(InvalidInputError, match="itself"):
        read_svg(svg('<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g>'))


def test_touching_artwork_is_separated_and_keeps_its_curves():
    # two discs meeting at one point: the solid would be non-manifold there
    r = regions('<circle cx="30" cy="50" r="20"/><circle cx="70" cy="50" r="20"/>',
                'width="100mm" height="100mm" viewBox="0 0 100 100"')
    assert r.report["contacts"] == 1 and r.report["repaired"] == 0 and len(r.regions) == 2
    polys = list(r.geometry.geoms)
    assert polys[0].distance(polys[1]) > 0
    assert all(p.distance(Point(0, 0)) > 0.0095 for p in polys)  # a 0.02 mm disk (a 16-gon) cut round the contact
    for reg in r.regions:  # the arcs away from the contact stay curves: a few segments, not a polyline
        assert (~reg.shell.is_line).sum() >= 3 and reg.shell.n_segments <= 12
    assert r.area_mm2 == pytest.approx(2 * math.pi * 400, rel=1e-3)
