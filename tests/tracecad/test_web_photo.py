"""The web app's photo options: form fields -> the command line's flags, the photo in the options' frame
(after its EXIF orientation), and hostile values refused with one sentence and HTTP 400."""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 but still runs its test client on httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from tracecad.web.app import create_app  # noqa: E402
from tracecad.web.forms import MAX_REPEATS, FormError, options_from_form  # noqa: E402
from tracecad.web.settings import ServerSettings  # noqa: E402
from tracecad.web.source import PhotoRangeError, check_photo_range, oriented_size  # noqa: E402
from tracer.photo import PhotoParams, parse_corners, parse_crop  # noqa: E402

LIMIT = 10_000_000
RED, BLUE = (220, 40, 40), (40, 60, 210)


def form(*fields):
    return options_from_form(list(fields), max_pixels=LIMIT)


def rotated_jpeg() -> bytes:
    """A 200 x 120 JPEG, red left half and blue right half, whose EXIF orientation (6) turns it a quarter
    clockwise: shown (and traced) 120 wide and 200 high, red above, blue below."""
    raw = np.zeros((120, 200, 3), np.uint8)
    raw[:, :100] = RED
    raw[:, 100:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(raw).save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def shapes_png() -> bytes:
    img = np.full((120, 160, 3), 255, np.uint8)
    img[20:60, 20:60] = RED
    img[60:100, 90:140] = BLUE
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- the form -> the flags

def test_fields_map_to_the_photo_flags():
    o = form(("pick", "10,20"), ("pick", " 30.5 , 40 "), ("crop", "5%,0,90%,100%"), ("keep", "largest"))
    assert o.photo.pick == ((10.0, 20.0), (30.5, 40.0))  # repeated fields, in order: repeated --pick
    assert o.photo.crop == parse_crop("5%,0,90%,100%")
    assert o.isolate.keep == "largest"
    o = form(("perspective", "10,10,300,20,290,200,5,190"), ("aspect", "210:297"), ("keep", "3"))
    assert o.photo.perspective == parse_corners("10,10,300,20,290,200,5,190")
    assert abs(o.photo.aspect - 210 / 297) < 1e-12
    assert o.isolate.keep == 3
    assert form(("perspective", "AUTO")).photo.perspective == "auto"
    assert not form(("crop", ""), ("perspective", "")).photo.active  # an empty field is the default


@pytest.mark.parametrize("fields, needle", [
    ([("pick", "nan,5")], "--pick"),
    ([("pick", "inf,5")], "--pick"),
    ([("pick", "1e400,5")], "--pick"),          # a number too big for a float: infinite
    ([("pick", "-1,5")], "--pick"),
    ([("pick", "1,2,3")], "--pick"),
    ([("pick", "10;20")], "--pick"),
    ([("crop", "0,0,0,10")], "--crop"),
    ([("crop", "0,0,1e400,10")], "--crop"),
    ([("crop", "10%,10%,120%,50%")], "--crop"),
    ([("crop", "nan,0,10,10")], "--crop"),
    ([("perspective", "nan,1,2,3,4,5,6,7")], "--perspective"),
    ([("perspective", "1,2,3,4,5,6,7")], "--perspective"),
    ([("perspective", "0,0,10,0,0,10,3,3")], "--perspective"),  # not convex
    ([("perspective", "0,0,1,1,2,2,3,3")], "--perspective"),    # no area
    ([("perspective", "auto"), ("aspect", "0:1")], "--aspect"),
    ([("perspective", "auto"), ("aspect", "1:0")], "--aspect"),
    ([("perspective", "auto"), ("aspect", "1e400:1")], "--aspect"),
    ([("keep", "0")], "--keep"),
    ([("keep", "-3")], "--keep"),
    ([("keep", "1.5")], "--keep"),
    ([("keep", "most")], "--keep"),
    ([("crop", "0,0,5,5"), ("crop", "1,1,5,5")], "twice"),
    ([("pick", "1,1")] * (MAX_REPEATS + 1), f"more than {MAX_REPEATS} times"),
])
def test_hostile_values_are_one_sentence_and_400(fields, needle):
    with pytest.raises(FormError) as exc:
        form(*fields)
    assert exc.value.status == 400
    message = str(exc.value)
    assert needle in message and "\n" not in message and "Traceback" not in message


def test_contradictions_are_422():
    with pytest.raises(FormError) as exc:
        form(("aspect", "3:4"))  # an aspect without a perspective
    assert exc.value.status == 422 and "--aspect needs --perspective" in str(exc.value)
    with pytest.raises(FormError) as exc:
        form(("pick", "1,1"), ("color", "#ff0000"))
    assert exc.value.status == 422


# ----------------------------------------------------------------------------- the photo's frame and range

def test_oriented_size_follows_the_exif_orientation():
    assert oriented_size(rotated_jpeg()) == (120, 200)
    assert oriented_size(shapes_png()) == (160, 120)
    assert oriented_size(b"not a picture") is None


@pytest.mark.parametrize("photo, ok", [
    (PhotoParams(pick=((0.0, 0.0), (319.9, 239.9))), True),
    (PhotoParams(pick=((320.0, 10.0),)), False),
    (PhotoParams(pick=((10.0, 1e300),)), False),
    (PhotoParams(crop=parse_crop("0,0,100%,100%")), True),
    (PhotoParams(crop=parse_crop("0,0,1e300,5")), False),
    (PhotoParams(crop=parse_crop("320,0,5,5")), False),
    (PhotoParams(crop=parse_crop("10,10,50,50"), pick=((30.0, 30.0),)), True),
    (PhotoParams(crop=parse_crop("10,10,50,50"), pick=((100.0, 30.0),)), False),  # outside the crop
    (PhotoParams(perspective=parse_corners("-10,0,330,0,320,240,0,250")), True),
    (PhotoParams(perspective=parse_corners("0,0,1e9,0,1e9,1e9,0,1e9")), False),
])
def test_photo_values_outside_the_photo(photo, ok):
    if ok:
        check_photo_range(photo, (320, 240), "p.png")
    else:
        with pytest.raises(PhotoRangeError, match=r"^p\.png: .*320x240|crop box"):
            check_photo_range(photo, (320, 240), "p.png")


# ----------------------------------------------------------------------------- through the HTTP API

@pytest.fixture(scope="module")
def client():
    app = create_app(ServerSettings(workers=1, time_limit_s=60))
    with TestClient(app) as c:
        yield c


def post(client, path, fields=(), image=None, filename="shapes.png", mime="image/png"):
    files = [(k, (None, v)) for k, v in fields] + [("image", (filename, image or shapes_png(), mime))]
    return client.post(path, files=files)


def test_the_photo_to_click_on_is_in_the_options_frame(client):
    """The page's picture is the photo after its EXIF orientation, with its size; a point read off it is
    the point the trace uses (here below the photo's raw height, on the blue half)."""
    jpeg = rotated_jpeg()
    r = post(client, "/api/source", image=jpeg, filename="turned.jpg", mime="image/jpeg")
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["width"], s["height"]) == (120, 200)
    picture = Image.open(io.BytesIO(base64.b64decode(s["picture"].split(",", 1)[1])))
    assert picture.size == (120, 200)
    px = np.asarray(picture.convert("RGB"), np.int32)
    assert np.abs(px[50, 60] - RED).max() < 12 and np.abs(px[150, 60] - BLUE).max() < 12

    r = post(client, "/api/preview", [("pick", "60,150")], image=jpeg, filename="turned.jpg", mime="image/jpeg")
    assert r.status_code == 200, r.text
    photo = r.json()["photo"]
    assert photo["picks"] == [[60.0, 150.0]]
    colour = np.array([int(photo["pick_colors"][0][i:i + 2], 16) for i in (1, 3, 5)])
    assert np.abs(colour - BLUE).max() < 12
    assert abs(r.json()["height_mm"] / r.json()["width_mm"] - 100 / 120) < 0.03  # the blue half, 120 x 100


def test_a_vector_source_has_no_photo_to_click(client):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'
    r = post(client, "/api/source", image=svg, filename="a.svg", mime="image/svg+xml")
    assert r.status_code == 200 and r.json() == {"vector": True}


@pytest.mark.parametrize("path", ["/api/preview", "/api/convert"])
@pytest.mark.parametrize("fields, needle", [
    ([("pick", "160,10")], "outside the 160x120 photo"),
    ([("pick", "10,1e300")], "outside the 160x120 photo"),
    ([("crop", "0,0,1e300,5")], "reaches beyond the 160x120 photo"),
    ([("crop", "0,0,50,50"), ("pick", "100,80")], "outside the crop box"),
    ([("perspective", "0,0,1e9,0,1e9,1e9,0,1e9")], "far outside the 160x120 photo"),
    ([("perspective", "0,0,1e300,0,1e300,1e300,0,1e300")], "far outside any photo"),
    ([("perspective", "1e308,1e308,-1e308,1e308,-1e308,-1e308,1e308,-1e308")], "far outside any photo"),
    ([("pick", "nan,1")], "--pick"),
    ([("pick", "1,1")] * (MAX_REPEATS + 1), "more than"),
    ([("keep", "99999999999999999999999999x")], "--keep"),
])
def test_hostile_requests_are_400_and_the_server_goes_on(client, path, fields, needle):
    r = post(client, path, fields)
    assert r.status_code == 400, r.text
    message = r.json()["error"]
    assert needle in message and "\n" not in message and "Traceback" not in message
    r = post(client, "/api/preview", [("pick", "40,40")])
    assert r.status_code == 200, r.text
    assert r.json()["photo"]["pick_colors"] == ["#dc2828"]
