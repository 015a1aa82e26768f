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


if __name__ == "__main__":
    letters()
    target()
    transparent()
