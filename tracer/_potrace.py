"""The only module that touches the potrace binding (potracecffi, over Debian's libpotrace).

The bitmap is packed with NumPy into potrace's word layout and handed over in
one copy; curves come back as arrays read straight from potrace's memory, so
no Python loop runs per pixel or per segment.
"""

from __future__ import annotations

import numpy as np

from tracer.errors import TraceError

TURNPOLICIES = {"black": 0, "white": 1, "left": 2, "right": 3, "minority": 4, "majority": 5, "random": 6}
CURVETO, CORNER = 1, 2


def _lib():
    from potracecffi._potracecffi import ffi, lib

    return ffi, lib


def version() -> str:
    ffi, lib = _lib()
    return ffi.string(lib.potrace_version()).decode()


def pack_bitmap(bits: np.ndarray) -> np.ndarray:
    """A bool bitmap ``(h, w)`` in potrace's layout: ``(h, dy)`` native unsigned words, the leftmost pixel
    of each word in its most significant bit, the bits past ``w`` zero."""
    ffi, _ = _lib()
    h, w = bits.shape
    packed = np.packbits(np.ascontiguousarray(bits, dtype=bool), axis=1, bitorder="big")
    word = ffi.sizeof("potrace_word")
    dy = (w + 8 * word - 1) // (8 * word)
    row = np.zeros((h, dy * word), dtype=np.uint8)
    row[:, : packed.shape[1]] = packed
    words = row.view(f">u{word}").astype(f"=u{word}")
    return np.ascontiguousarray(words)


def trace_bitmap(bits: np.ndarray, *, turdsize: int, turnpolicy: str, alphamax: float,
                 opttolerance: float, words: np.ndarray | None = None) -> list[tuple[int, int, int, np.ndarray, np.ndarray]]:
    """Trace a bool bitmap (row 0 = y 0). Returns ``[(sign, parent, depth, tags, c)]`` per path.

    ``sign`` is +1 (outer) or -1 (hole); ``parent`` the index of the enclosing
    path or -1; ``tags`` (n,) int32; ``c`` (n, 3, 2) float64 as in potracelib.
    ``words`` is ``pack_bitmap(bits)`` when the caller already has it.
    """
    ffi, lib = _lib()
    if turnpolicy not in TURNPOLICIES:
        raise ValueError(f"turnpolicy must be one of {sorted(TURNPOLICIES)}, got {turnpolicy!r}")
    h, w = bits.shape
    if words is None:
        words = pack_bitmap(bits)
    dy = words.shape[1]
    if words.shape[0] != h or 8 * words.itemsize != 8 * ffi.sizeof("potrace_word") or dy * 8 * words.itemsize < w:
        raise ValueError("words is not the packed bitmap of bits")

    params = lib.potrace_param_default()
    if params == ffi.NULL:
        raise TraceError("potrace could not allocate its parameters")
    state = ffi.NULL
    try:
        params.turdsize = int(turdsize)
        params.turnpolicy = TURNPOLICIES[turnpolicy]
        params.alphamax = float(alphamax)
        params.opticurve = 1 if opttolerance > 0 else 0
        params.opttolerance = float(max(opttolerance, 0.0))
        bm = ffi.new("potrace_bitmap_t *")
        bm.w, bm.h, bm.dy = w, h, dy
        bm.map = ffi.cast("potrace_word *", ffi.from_buffer(words))
        state = lib.potrace_trace(params, bm)
        if state == ffi.NULL:
            raise TraceError("potrace ran out of memory")
        if state.status != 0:
            raise TraceError("potrace did not complete the trace")
        return _read_paths(ffi, state.plist)
    finally:
        if state != ffi.NULL:
            lib.potrace_state_free(state)
        lib.potrace_param_free(params)


def _read_paths(ffi, plist) -> list:
    # Index every path, then walk the tree (childlist / sibling) for parents.
    index = {}
    paths: list = []
    p = plist
    while p != ffi.NULL:
        index[int(ffi.cast("uintptr_t", p))] = len(paths)
        paths.append(p)
        p = p.next
    parent = [-1] * len(paths)
    depth = [0] * len(paths)
    stack = []
    p = plist
    # top level: the siblings of the first path
    while p != ffi.NULL:
        stack.append((p, -1, 0))
        p = p.sibling
    while stack:
        node, par, d = stack.pop()
        i = index[int(ffi.cast("uintptr_t", node))]
        parent[i], depth[i] = par, d
        ch = node.childlist
        while ch != ffi.NULL:
            stack.append((ch, i, d + 1))
            ch = ch.sibling
    out = []
    for i, p in enumerate(paths):
        n = p.curve.n
        tags = np.frombuffer(ffi.buffer(p.curve.tag, n * ffi.sizeof("int")), dtype=np.intc).copy()
        c = np.frombuffer(ffi.buffer(p.curve.c, n * 3 * ffi.sizeof("potrace_dpoint_t")),
                          dtype=np.float64).reshape(n, 3, 2).copy()
        sign = 1 if p.sign in (43, b"+", "+") else -1
        out.append((sign, parent[i], depth[i], tags, c))
    return out
