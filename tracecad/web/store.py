"""Converted files under random ids in a private temporary folder, served by id and file name only.

Every conversion gets a folder named by a random id; :meth:`ResultStore.path` answers only for a
file name that the conversion reported as one of its outputs, so no request can reach any other
file (no path from a request is ever joined to a folder). Results older than the lifetime are
deleted, and the whole folder is deleted when the server stops.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
import zipfile
from pathlib import Path

__all__ = ["ResultStore", "ID_PATTERN"]

#: What an id looks like (``secrets.token_urlsafe(18)``).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{24}")


class ResultStore:
    """Folders of converted files, by random id, each with the list of names it may serve."""

    def __init__(self, ttl_s: float = 3600.0) -> None:
        self.ttl_s = ttl_s
        self.root = Path(tempfile.mkdtemp(prefix="tracecad-web-"))
        os.chmod(self.root, 0o700)
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, dict[str, Path]]] = {}

    def new(self) -> tuple[str, Path]:
        """A fresh id and its (new, empty) folder."""
        rid = secrets.token_urlsafe(18)
        folder = self.root / rid
        folder.mkdir(mode=0o700)
        with self._lock:
            self._entries[rid] = (time.monotonic(), {})
        return rid, folder

    def publish(self, rid: str, paths: list[str | os.PathLike[str]], zip_name: str | None = None) -> dict[str, str]:
        """Make ``paths`` (files inside ``rid``'s folder) downloadable; with ``zip_name``, also a zip of
        them all. Returns ``{path as given: file name}``."""
        folder = (self.root / rid).resolve()
        allowed: dict[str, Path] = {}
        names: dict[str, str] = {}
        for p in paths:
            real = Path(p).resolve()
            if real.parent != folder or not real.is_file():
                continue  # (never serve anything outside the result's own folder)
            allowed[real.name] = real
            names[str(p)] = real.name
        if zip_name and allowed:
            zpath = folder / zip_name
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, real in sorted(allowed.items()):
                    zf.write(real, arcname=name)
            allowed[zip_name] = zpath
        with self._lock:
            if rid in self._entries:
                t, _ = self._entries[rid]
                self._entries[rid] = (t, allowed)
        return names

    def path(self, rid: str, name: str) -> Path | None:
        """The file ``name`` of result ``rid``, or None: unknown id, unknown name, expired, or not a plain file."""
        if not ID_PATTERN.fullmatch(rid):
            return None
        with self._lock:
            entry = self._entries.get(rid)
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        p = entry[1].get(name)
        if p is None:
            return None
        try:
            st = os.lstat(p)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):  # (a symlink or anything else put there is not served)
            return None
        return p

    def discard(self, rid: str) -> None:
        """Delete result ``rid`` now."""
        with self._lock:
            self._entries.pop(rid, None)
        if ID_PATTERN.fullmatch(rid):
            shutil.rmtree(self.root / rid, ignore_errors=True)

    def expire(self) -> int:
        """Delete the results older than the lifetime; returns how many."""
        now = time.monotonic()
        with self._lock:
            old = [rid for rid, (t, _) in self._entries.items() if now - t > self.ttl_s]
        for rid in old:
            self.discard(rid)
        return len(old)

    def close(self) -> None:
        """Delete every result and the folder itself."""
        with self._lock:
            self._entries.clear()
        shutil.rmtree(self.root, ignore_errors=True)
