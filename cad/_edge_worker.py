"""Chamfers and fillets of traced parts in a child process.

OpenCASCADE's fillet builder (``BRepFilletAPI``) can crash the whole process on some traced
outlines (a segmentation fault inside ``Build``; the IEEE logo at 512 px with ``--chamfer 0.3``
did). A crash must cost one part its treated edges and a warning, never the run or the batch, so
the parts are treated here, one after the other, in a child interpreter; the parent restarts it
after the part it died on (:func:`treat_isolated`).

Protocol: the parent writes ``in<i>.brep`` for every part into a folder and runs
``python -m cad._edge_worker KIND SIZE Z_TOP FOLDER FIRST COUNT``; the child prints ``done <i>``
after each part and writes ``out<i>.brep`` for those it could treat.

Fault injection for the tests: with ``TRACECAD_FAULT_EDGE_PART=<i>`` in the environment the child
kills itself with SIGSEGV when it reaches part ``i``, as OpenCASCADE did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: A child that has not finished its parts after this many seconds is stopped (the part it was on fails).
CHILD_TIMEOUT_S = 300.0


def _write(shape, path: Path) -> None:
    from OCP.BRepTools import BRepTools

    if not BRepTools.Write_s(shape, str(path)):
        raise OSError(f"could not write {path}")


def _read(path: Path):
    from OCP.BRep import BRep_Builder
    from OCP.BRepTools import BRepTools
    from OCP.TopoDS import TopoDS_Shape

    shape = TopoDS_Shape()
    if not BRepTools.Read_s(shape, str(path), BRep_Builder()):
        raise OSError(f"could not read {path}")
    return shape


def treat_isolated(solids: list, z_top: float, size: float, kind: str) -> list:
    """``cad.products._edge_treat`` of every solid, in child processes: the treated solid or None."""
    import cad

    results: list = [None] * len(solids)
    if not solids:
        return results
    env = dict(os.environ)
    root = str(Path(cad.__file__).resolve().parent.parent)  # (the child imports this very package)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="tracecad-edges-") as tmp:
        folder = Path(tmp)
        for i, s in enumerate(solids):
            _write(s, folder / f"in{i}.brep")
        first = 0
        while first < len(solids):
            cmd = [sys.executable, "-m", "cad._edge_worker", kind, repr(size), repr(z_top), str(folder),
                   str(first), str(len(solids))]
            try:
                run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S)
                out, code = run.stdout, run.returncode
            except subprocess.TimeoutExpired as exc:
                out, code = exc.stdout or "", -1
                out = out.decode() if isinstance(out, bytes) else out
            done = [int(line.split()[1]) for line in out.splitlines() if line.startswith("done ")]
            for i in done:
                path = folder / f"out{i}.brep"
                if path.exists():
                    results[i] = _read(path)
            if code == 0:
                break
            first = (max(done) + 1 if done else first) + 1  # (the part it died on, or hung on, fails)
    return results


def main(argv: list[str]) -> int:
    from cad.products import _edge_treat

    kind, size, z_top, folder, first, count = argv
    folder_p = Path(folder)
    fault = os.environ.get("TRACECAD_FAULT_EDGE_PART")
    for i in range(int(first), int(count)):
        if fault == str(i):
            import signal

            os.kill(os.getpid(), signal.SIGSEGV)
        out = _edge_treat(_read(folder_p / f"in{i}.brep"), float(z_top), float(size), kind)
        if out is not None:
            _write(out, folder_p / f"out{i}.brep")
        print(f"done {i}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
