"""Writers, one module per format, and the staging that makes every write atomic.

A file is first written under a hidden temporary name beside its final
name, checked, and only then renamed (``os.replace``, atomic on POSIX).
:class:`Staging` does this for a group of files: either all of an input's
outputs appear, or none does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from tracer.errors import ExportError

__all__ = ["Staging", "FORMATS", "parse_formats", "prepare_out_dir", "write_checked", "fsync_file", "pid_alive"]

#: Known output formats, in the order they are written.
FORMATS = ("step", "stl", "3mf", "svg", "dxf")


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``out_dir`` if missing and make sure it can be written to; one-sentence ExportError otherwise."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out_dir}: cannot create the output directory ({exc.strerror})") from exc
    if not os.access(out_dir, os.W_OK):
        raise ExportError(f"{out_dir}: the output directory is not writable")
    return out_dir


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


def write_checked(files: Sequence[tuple[Path, Callable[[Path], None]]], *,
                  before_commit: Callable[[], None] | None = None) -> list[Path]:
    """Write a group of files all or nothing: the one staged "write, read back, check" loop of every mode.

    ``files`` holds ``(final path, write)`` pairs; ``write(tmp)`` writes the file at the temporary
    path ``tmp`` and checks it (reading it back), raising :class:`ExportError` when it is wrong. Each
    file is then flushed to disk; ``before_commit`` (optional) runs last, and only then are all the
    files renamed to their final names. Any failure deletes every temporary file and leaves the
    final names untouched; an ``OSError`` becomes one ``ExportError`` sentence naming the file.
    Returns the final paths, in order.
    """
    with Staging() as stage:
        for final, write in files:
            tmp = stage.path(final)
            try:
                write(tmp)
                fsync_file(tmp)
            except OSError as exc:
                raise ExportError(f"{final}: cannot write ({exc.strerror or exc})") from exc
        if before_commit is not None:
            before_commit()
        return stage.commit()


class Staging:
    """Collects temporary files and renames them all at once on :meth:`commit`.

    Used as a context manager: leaving the block without ``commit`` (an
    exception, Ctrl-C) deletes every temporary file.
    """

    def __init__(self) -> None:
        self._items: list[tuple[Path, Path]] = []
        self.committed: list[Path] = []

    def path(self, final: str | os.PathLike[str]) -> Path:
        """A temporary path beside ``final``, to be renamed to ``final`` on commit.

        Temporary files of ``final`` left by a process that was killed (its pid
        is gone) are deleted first, so a kill never leaves litter for long.
        """
        final = Path(final)
        _sweep_stale(final)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{_token()}.part")
        self._items.append((tmp, final))
        return tmp

    def commit(self) -> list[Path]:
        """Rename every staged file to its final name: all of them, or (on failure) none.

        A final name taken by a folder is refused before anything is renamed.
        An existing file is kept under a hard link until every rename has
        succeeded, so a failing rename restores the previous files.
        """
        for tmp, final in self._items:
            if not tmp.exists():
                raise ExportError(f"{final}: the staged file vanished before it could be renamed")
            if final.is_dir():
                raise ExportError(f"{final}: a folder already has this name, so the file cannot be written")
        done: list[tuple[Path, Path | None]] = []
        try:
            for tmp, final in self._items:
                backup = None
                if final.exists():
                    backup = final.with_name(f".{final.name}.{os.getpid()}.{_token()}.old.part")
                    try:
                        os.link(final, backup)
                    except OSError:
                        backup = None  # no hard links here: the old file cannot be restored, only replaced
                os.replace(tmp, final)
                done.append((final, backup))
        except OSError as exc:
            for final, backup in reversed(done):
                try:
                    if backup is not None:
                        os.replace(backup, final)
                    else:
                        final.unlink()
                except OSError:
                    pass
            raise ExportError(f"{final}: cannot be written ({exc.strerror or exc})") from exc
        for final, backup in done:
            if backup is not None:
                try:
                    backup.unlink()
                except OSError:
                    pass
            self.committed.append(final)
        for d in {final.parent for final, _ in done}:
            _fsync_dir(d)
        self._items = []
        return self.committed

    def discard(self) -> None:
        for tmp, _ in self._items:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
        self._items = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


def _token() -> str:
    """8 random hex digits for a temporary name (``os.urandom``: ``secrets`` costs 15 ms of imports, hmac and OpenSSL)."""
    return os.urandom(4).hex()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (best effort: some filesystems refuse to fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts: it cannot be signalled, but it runs)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True


def _sweep_stale(final: Path) -> None:
    """Delete ``.<name>.<pid>.<hex>[.old].part`` files of ``final`` whose process no longer runs."""
    prefix = f".{final.name}."
    try:
        names = os.listdir(final.parent)
    except OSError:
        return
    for n in names:
        if not (n.startswith(prefix) and n.endswith(".part")):
            continue
        rest = n[len(prefix):-len(".part")].split(".")
        if len(rest) not in (2, 3) or not rest[0].isdigit() or (len(rest) == 3 and rest[2] != "old"):
            continue
        if not pid_alive(int(rest[0])):
            try:
                (final.parent / n).unlink()
            except OSError:
                pass
