"""Skeleton of a binary mask and its pixel graph: endpoints, junctions and the branches between them.

:func:`thin` reduces every ink region to a one-pixel-wide, 8-connected skeleton with the same topology
(Guo & Hall's two-subiteration thinning, then the redundant corner pixels of staircases removed);
:func:`pixel_graph` walks it into nodes and branches. Both work on the boundary only, so their cost
follows the amount of ink, not the size of the raster.

Neighbour codes: the 8 neighbours of a pixel are bits 0..7 in the order N, NE, E, SE, S, SW, W, NW.
Coordinates are ``(row, col)`` of the raster given; :mod:`tracer.centerline` turns them into source pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["thin", "pixel_graph", "PixelGraph", "Branch", "NEIGHBOURS"]

#: (drow, dcol) of the neighbours, clockwise from north: bit i of a neighbour code is NEIGHBOURS[i].
NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _bits(code: int) -> list[int]:
    return [(code >> i) & 1 for i in range(8)]


def _guo_hall_tables() -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which neighbour codes make a pixel deletable in the first and in the second subiteration.

    Guo & Hall's conditions (1989, algorithm A2): one 8-connected run of neighbours (X_H = 1), two or
    three neighbour pairs filled (n1, n2), and a side condition that alternates between the
    subiterations. Unlike Zhang & Suen's rules, a two-pixel-wide diagonal line keeps its skeleton.
    """
    first = np.zeros(256, dtype=bool)
    second = np.zeros(256, dtype=bool)
    for code in range(256):
        p = _bits(code)
        # x1..x8 counter-clockwise from east: E, NE, N, NW, W, SW, S, SE (x9 = x1)
        x = [None, p[2], p[1], p[0], p[7], p[6], p[5], p[4], p[3], p[2]]
        xh = sum(1 for i in range(1, 5) if not x[2 * i - 1] and (x[2 * i] or x[2 * i + 1]))
        n1 = sum(1 for k in range(1, 5) if x[2 * k - 1] or x[2 * k])
        n2 = sum(1 for k in range(1, 5) if x[2 * k] or x[2 * k + 1])
        if xh != 1 or not 2 <= min(n1, n2) <= 3:
            continue
        first[code] = not ((x[2] or x[3] or not x[8]) and x[1])
        second[code] = not ((x[6] or x[7] or not x[4]) and x[5])
    return first, second


def _simple_tables() -> tuple[NDArray[np.bool_], NDArray[np.int8]]:
    """``redundant[code]``: a pixel with at least two neighbours whose removal keeps 8-connectivity
    (Yokoi's connectivity number is 1); ``count[code]``: its number of neighbours."""
    redundant = np.zeros(256, dtype=bool)
    count = np.zeros(256, dtype=np.int8)
    for code in range(256):
        p = _bits(code)
        q = [1 - v for v in p]
        count[code] = sum(p)
        # Yokoi's 8-connectivity number over the 4-neighbours N, E, S, W and the corners between them
        c8 = sum(q[k] - q[k] * q[(k + 1) % 8] * q[(k + 2) % 8] for k in (0, 2, 4, 6))
        redundant[code] = count[code] >= 2 and c8 == 1
    return redundant, count


GH_FIRST, GH_SECOND = _guo_hall_tables()
REDUNDANT, COUNT = _simple_tables()


def _codes(img: NDArray[np.uint8], flat: NDArray[np.intp], cols: int) -> NDArray[np.intp]:
    """Neighbour codes of the pixels at flat indices ``flat`` of the padded raster ``img`` (raveled)."""
    code = np.zeros(len(flat), dtype=np.intp)
    for bit, (dr, dc) in enumerate(NEIGHBOURS):
        code |= img[flat + dr * cols + dc].astype(np.intp) << bit
    return code


def _around(flat: NDArray[np.intp], cols: int) -> NDArray[np.intp]:
    """The flat indices of the 8 neighbours of every index in ``flat`` (with repeats)."""
    offs = np.array([dr * cols + dc for dr, dc in NEIGHBOURS], dtype=np.intp)
    return (flat[:, None] + offs[None, :]).ravel()


def thin(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The one-pixel-wide, 8-connected skeleton of ``mask`` (same shape, bool).

    Every ink component keeps its number of holes; an isolated pixel stays. Staircases are left
    without the corner pixels that made them 4-connected, so each skeleton pixel that is not an end
    or a junction has exactly two neighbours.
    """
    m = np.asarray(mask, dtype=bool)
    rows, cols = m.shape[0] + 2, m.shape[1] + 2
    img = np.zeros((rows, cols), dtype=np.uint8)
    img[1:-1, 1:-1] = m
    flat_img = img.ravel()
    # the boundary: ink with a paper 8-neighbour
    ink = np.flatnonzero(flat_img)
    cand = ink[_codes(flat_img, ink, cols) != 255]
    while len(cand):
        deleted_any = []
        for table in (GH_FIRST, GH_SECOND):
            cand = cand[flat_img[cand] == 1]
            gone = cand[table[_codes(flat_img, cand, cols)]]
            flat_img[gone] = 0
            deleted_any.append(gone)
        gone = np.concatenate(deleted_any)
        if not len(gone):
            break
        near = np.unique(_around(gone, cols))
        cand = near[flat_img[near] == 1]
    # corner pixels of staircases, removed one parity class at a time (pixels of one class are not
    # neighbours, so removing them together keeps the topology)
    for _ in range(4):
        changed = False
        for pr in (0, 1):
            for pc in (0, 1):
                on = np.flatnonzero(flat_img)
                r, c = np.divmod(on, cols)
                on = on[(r % 2 == pr) & (c % 2 == pc)]
                gone = on[REDUNDANT[_codes(flat_img, on, cols)]]
                flat_img[gone] = 0
                changed = changed or len(gone) > 0
        if not changed:
            break
    return img[1:-1, 1:-1].astype(bool)


@dataclass(slots=True)
class Branch:
    """A run of skeleton pixels ``(row, col)`` from node ``a`` to node ``b`` (both -1 for a loop without nodes)."""

    a: int
    b: int
    pixels: NDArray[np.intp]


@dataclass(slots=True)
class PixelGraph:
    """Nodes (``kind`` "end" or "junction", ``pos`` the mean (row, col) of their pixels) and branches."""

    pos: list[tuple[float, float]] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)


def pixel_graph(skel: NDArray[np.bool_]) -> PixelGraph:
    """Walk a skeleton from :func:`thin` into a graph.

    Pixels with one neighbour are ends, with three or more junction pixels; touching junction pixels
    form one junction node. Every other pixel lies on exactly one branch; a ring of pixels with no
    node becomes a loop branch (``a = b = -1``) whose first pixel is repeated at its end.
    """
    s = np.asarray(skel, dtype=bool)
    rows, cols = s.shape[0] + 2, s.shape[1] + 2
    img = np.zeros((rows, cols), dtype=np.uint8)
    img[1:-1, 1:-1] = s
    flat_img = img.ravel()
    on = np.flatnonzero(flat_img)
    count = COUNT[_codes(flat_img, on, cols)]
    node_of = np.full(rows * cols, -1, dtype=np.intp)
    graph = PixelGraph()
    offs = [dr * cols + dc for dr, dc in NEIGHBOURS]

    members: list[list[int]] = []

    def add_node(pixels: list[int], kind: str) -> int:
        members.append(pixels)
        r, c = np.divmod(np.array(pixels), cols)
        graph.pos.append((float(r.mean()) - 1.0, float(c.mean()) - 1.0))
        graph.kind.append(kind)
        node_of[pixels] = len(graph.kind) - 1
        return len(graph.kind) - 1

    for p in on[count == 0].tolist():  # a lone pixel: an end with no branch
        add_node([p], "end")
    junction = set(on[count >= 3].tolist())
    for p in sorted(junction):
        if node_of[p] >= 0:
            continue
        group, stack = [p], [p]
        node_of[p] = -2
        while stack:
            q = stack.pop()
            for o in offs:
                n = q + o
                if n in junction and node_of[n] == -1:
                    node_of[n] = -2
                    group.append(n)
                    stack.append(n)
        add_node(group, "junction")
    for p in on[count == 1].tolist():
        add_node([p], "end")

    visited = np.zeros(rows * cols, dtype=bool)

    def to_rc(path: list[int]) -> NDArray[np.intp]:
        r, c = np.divmod(np.array(path, dtype=np.intp), cols)
        return np.stack([r - 1, c - 1], axis=1)

    def walk(start_node: int, first: int, prev: int) -> None:
        path = [prev, first]
        cur, last = first, prev
        while node_of[cur] < 0:
            visited[cur] = True
            nxt = [cur + o for o in offs if flat_img[cur + o] and cur + o != last and not
                   (node_of[cur + o] < 0 and visited[cur + o])]
            if not nxt:
                return  # a dead end into pixels already walked (cannot happen on a thin skeleton)
            nodes = [n for n in nxt if node_of[n] >= 0 and n != path[0]] or [n for n in nxt if node_of[n] >= 0]
            last, cur = cur, (nodes[0] if nodes else nxt[0])
            path.append(cur)
        graph.branches.append(Branch(start_node, int(node_of[cur]), to_rc(path)))

    for node in range(len(graph.kind)):
        for p in members[node]:
            for o in offs:
                n = p + o
                if not flat_img[n] or node_of[n] == node:
                    continue
                if node_of[n] >= 0:  # two nodes side by side: a branch of two pixels, once
                    if node_of[n] > node:
                        graph.branches.append(Branch(node, int(node_of[n]), to_rc([p, n])))
                    continue
                if not visited[n]:
                    walk(node, n, p)
    # rings with no node
    for p in on.tolist():
        if visited[p] or node_of[p] >= 0:
            continue
        path, cur, last = [p], p, -1
        visited[p] = True
        while True:
            nxt = [cur + o for o in offs if flat_img[cur + o] and cur + o != last]
            new = [n for n in nxt if not visited[n]]
            if not new:
                break
            last, cur = cur, new[0]
            visited[cur] = True
            path.append(cur)
        path.append(p)
        graph.branches.append(Branch(-1, -1, to_rc(path)))
    return graph
