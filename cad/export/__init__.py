"""Writers, one module per format, and the staging that makes every write atomic.

A file is first written under a hidden temporary name beside its final
name, checked, and only then renamed (``os.replace``, atomic on POSIX).
:class:`Staging` does this for a group of files: either all of an input's
outputs appear, or none does.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tracer.errors import ExportError

__all__ = ["Staging", "FORMATS", "parse_formats"]

#: Known output formats, in the order they are written.
FORMATS = ("step", "stl", "3mf", "svg")


def parse_formats(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"step,stl"`` -> ``("step", "stl")``; unknown names raise ``ValueError``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        f = item.strip().lower().lstrip(".")
        if f == "stp":
            f = "step"
        if not f:
            continue
        if f not in FORMATS:
            raise ValueError(f"unknown format {item.strip()!r} (choose from {', '.join(FORMATS)})")
        if f not in out:
            out.append(f)
    if not out:
        raise ValueError("no output format given")
    return tuple(out)


class Staging:
    """Collects temporary files and renames them all at once on :meth:`commit`.

    Used as a context manager: leaving the block without ``commit`` (an
    exception, Ctrl-C) deletes every temporary file.
    """

    def __init__(self) -> None:
        self._items: list[tuple[Path, Path]] = []
        self.committed: list[Path] = []

    def path(self, final: str | os.PathLike[str]) -> Path:
        """A temporary path beside ``final``, to be renamed to ``final`` on commit."""
        final = Path(final)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        self._items.append((tmp, final))
        return tmp

    def commit(self) -> list[Path]:
        for tmp, final in self._items:
            if not tmp.exists():
                raise ExportError(f"{final}: the staged file vanished before it could be renamed")
        for tmp, final in self._items:
            os.replace(tmp, final)
            self.committed.append(final)
        self._items = []
        return self.committed

    def discard(self) -> None:
        for tmp, _ in self._items:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
        self._items = []

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
