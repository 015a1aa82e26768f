"""A batch's unit of work and its outcome: :class:`Job` (one input, where its files go, with which
options) and :class:`BatchResult` (the report entries, in input order, and how the run went)."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from tracecad.modes.common import expected_outputs
from tracecad.options import ConvertOptions

__all__ = ["Job", "BatchResult"]


@dataclass(frozen=True, slots=True)
class Job:
    """One input to convert: where it comes from, where its outputs go, with which options."""

    index: int
    source: str
    name: str
    out_dir: str
    stem: str
    options: ConvertOptions
    debug: bool = False

    def expected_outputs(self) -> list[Path | str]:
        """The files this job leaves (paths, and glob patterns for the per-colour files)."""
        return expected_outputs(self.options, self.out_dir, self.stem)

    def existing_outputs(self) -> list[Path] | None:
        """The files of a finished earlier run of this job, or None when one is missing."""
        found: list[Path] = []
        for p in self.expected_outputs():
            if isinstance(p, Path):
                if not p.is_file():
                    return None
                found.append(p)
            else:  # one file per colour: at least one
                matches = sorted(Path(q) for q in glob.glob(p) if Path(q).is_file())
                if not matches:
                    return None
                found += matches
        return found


@dataclass(slots=True)
class BatchResult:
    """Report entries in input order, plus how the run went."""

    entries: list[dict]
    seconds: float
    jobs: int
    executor: str
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(e["status"] == status for e in self.entries)

    @property
    def failed(self) -> int:
        return self.count("error")

    def summary(self) -> dict:
        return {"inputs": len(self.entries), "converted": self.count("ok"), "failed": self.failed,
                "skipped": self.count("skipped"), "not_run": self.count("not run"),
                "interrupted": self.interrupted, "seconds": round(self.seconds, 3), "jobs": self.jobs,
                "executor": self.executor}
