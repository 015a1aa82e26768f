"""Regenerate the hand-made sample images (deterministic; needs numpy, opencv and pillow).

    python sample_images/make_handmade.py
"""

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def letters() -> None:
    """Black 'B8A' on white: letters with one and two holes (anti-aliased)."""
    img = np.full((300, 620), 255, np.uint8)
    cv2.putText(img, "B8A", (20, 250), cv2.FONT_HERSHEY_DUPLEX, 8.0, 0, 28, cv2.LINE_AA)
    Image.fromarray(img).save(HERE / "letters_B8A.png")


def target() -> None:
    """Nested islands: a disc inside a ring inside a ring (islands inside holes)."""
    img = np.full((400, 400), 255, np.uint8)
    for r, ink in ((180, 0), (140, 255), (100, 0), (60, 255), (30, 0)):
        cv2.circle(img, (200, 200), r, ink, -1, cv2.LINE_AA)
    Image.fromarray(img).save(HERE / "target_nested.png")


def transparent() -> None:
    """An RGBA star whose shape lives only in the alpha channel (RGB is the same everywhere)."""
    n, size = 5, 400
    ang = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) - np.pi / 2
    rad = np.where(np.arange(2 * n) % 2 == 0, 180, 75)
    pts = np.stack([200 + rad * np.cos(ang), 200 + rad * np.sin(ang)], axis=1)
    alpha = np.zeros((size, size), np.uint8)
    cv2.fillPoly(alpha, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    cv2.circle(alpha, (200, 205), 35, 0, -1, cv2.LINE_AA)  # a hole
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = (30, 90, 200)
    rgba[..., 3] = alpha
    Image.fromarray(rgba, "RGBA").save(HERE / "star_transparent.png")


def doodle() -> None:
    """A pen doodle on grey paper (a house, a door, a spiral sun and a wavy line): line art of
    uneven width, with corners, T junctions, a crossing, a loop and free ends (``--mode stroke``)."""
    rng = np.random.default_rng(7)
    scale = 4  # drawn 4x larger, then area-reduced: anti-aliased edges
    img = np.full((360 * scale, 480 * scale), 255, np.uint8)

    def pen(points, width):
        pts = np.asarray(points, float)
        dense = np.concatenate([np.linspace(a, b, 12, endpoint=False) for a, b in zip(pts[:-1], pts[1:])] + [pts[-1:]])
        dense = dense + rng.normal(0, 0.6, dense.shape)  # a hand's wobble
        for (x0, y0), (x1, y1) in zip(dense[:-1], dense[1:]):
            w = width * (0.85 + 0.3 * rng.random())  # the pen's pressure
            cv2.line(img, (int(x0 * scale), int(y0 * scale)), (int(x1 * scale), int(y1 * scale)), 0,
                     max(1, int(round(w * scale))), cv2.LINE_AA)

    pen([(60, 320), (60, 170), (170, 80), (280, 170), (280, 320), (60, 320)], 5)  # walls and roof
    pen([(60, 170), (280, 170)], 5)  # the eaves: two T junctions
    pen([(140, 320), (140, 240), (200, 240), (200, 320)], 4)  # door
    pen([(110, 120), (110, 60), (140, 60), (140, 96)], 4)  # chimney, its foot on the roof
    t = np.linspace(0, 4 * np.pi, 120)
    pen(np.stack([390 + (6 + 40 * t / (4 * np.pi)) * np.cos(t), 90 + (6 + 40 * t / (4 * np.pi)) * np.sin(t)], 1), 4)
    pen([(320 + x, 300 + 14 * np.sin(x / 14)) for x in range(0, 140, 4)], 4)  # a wavy line
    pen([(330, 200), (450, 260)], 4)  # two crossing lines
    pen([(330, 260), (450, 200)], 4)
    small = cv2.resize(img, (480, 360), interpolation=cv2.INTER_AREA).astype(np.float32)
    paper = np.linspace(236, 214, 480)[None, :]  # light falling off across the sheet
    out = 40 + (paper - 40) * small / 255.0 + rng.normal(0, 2.0, small.shape)
    Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).save(HERE / "doodle.png")


if __name__ == "__main__":
    letters()
    target()
    transparent()
    doodle()
