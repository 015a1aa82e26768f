"""Regenerate the README pictures (developer tool; needs matplotlib, which tracecad itself does not).

    python docs/make_figures.py        # writes docs/pipeline.png
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

import tracecad  # noqa: E402
import tracer  # noqa: E402
from cad.geometry import flatten  # noqa: E402

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "sample_images"


def figure(name: str, ax_img, ax_trace, ax_3d) -> None:
    path = SAMPLES / name
    image = tracer.load_image(path)
    conv = tracecad.build(path, tracecad.ConvertOptions(width_mm=50, thickness_mm=4))
    ax_img.imshow(image.pixels)
    ax_img.set_title(f"input: {name}", fontsize=9)
    ax_img.axis("off")
    for reg in conv.regions.regions:
        for k, ring in enumerate(reg.rings):
            pts = flatten(ring.ctrl, ring.is_line, 0.01)
            pts = np.vstack([pts, pts[:1]])
            ax_trace.plot(pts[:, 0], pts[:, 1], lw=0.8, color="tab:red" if k else "black")
            ends = ring.ctrl[:, 0]
            ax_trace.plot(ends[:, 0], ends[:, 1], ".", ms=2, color="tab:blue")
    ax_trace.set_aspect("equal")
    ax_trace.set_title(f"Bézier outline, mm ({conv.regions.n_segments} segments)", fontsize=9)
    ax_trace.tick_params(labelsize=7)
    mesh = conv.mesh
    tri = mesh.triangles()
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    shade = 0.35 + 0.65 * np.clip(normals @ np.array([0.3, -0.5, 0.8]), 0, 1)
    coll = Poly3DCollection(tri, facecolors=plt.cm.Greys(1 - 0.6 * shade), edgecolor="none")
    ax_3d.add_collection3d(coll)
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    ax_3d.set_xlim(lo[0], hi[0])
    ax_3d.set_ylim(lo[1], hi[1])
    ax_3d.set_zlim(0, hi[2])
    ax_3d.set_box_aspect((hi[0] - lo[0], hi[1] - lo[1], 2 * hi[2]))  # Z drawn 2x
    ax_3d.view_init(elev=55, azim=-70)
    ax_3d.set_title("solid, 4 mm thick (Z drawn 2x)", fontsize=9)
    ax_3d.tick_params(labelsize=6)


def main() -> None:
    names = ["audi.512.png", "letters_B8A.png"]
    fig = plt.figure(figsize=(12, 3.6 * len(names)), dpi=90)
    for i, name in enumerate(names):
        figure(name, fig.add_subplot(len(names), 3, 3 * i + 1), fig.add_subplot(len(names), 3, 3 * i + 2),
               fig.add_subplot(len(names), 3, 3 * i + 3, projection="3d"))
    fig.tight_layout()
    fig.savefig(HERE / "pipeline.png")


if __name__ == "__main__":
    main()
