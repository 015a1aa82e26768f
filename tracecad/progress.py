"""Progress of a batch on stderr: a live bar on a terminal, a line per input otherwise, and every
error and warning as one line (``tracecad: error: ...``)."""

from __future__ import annotations

import sys
import time

from tracecad.jobs import Job

__all__ = ["NullProgress", "MessagesOnly", "PlainProgress", "RichProgress", "make_progress"]


class NullProgress:
    """No progress and no messages but :meth:`note` (the interface every progress display has)."""

    def start(self, *, total: int, skipped: int) -> None:
        """``total`` inputs are about to run; ``skipped`` were skipped (outputs exist)."""

    def started(self, job: Job) -> None:
        pass

    def finished(self, job: Job, entry: dict) -> None:
        pass

    def note(self, text: str) -> None:
        print(text, file=sys.stderr)

    def close(self) -> None:
        pass


class MessagesOnly(NullProgress):
    """No progress; errors and warnings as one line each on stderr (``-q`` and single inputs)."""

    def __init__(self, *, debug: bool = False) -> None:
        self.debug = debug

    def finished(self, job: Job, entry: dict) -> None:
        tb = entry.pop("_traceback", None)
        if entry["status"] == "error":
            self.note(f"tracecad: error: {entry['error']}")
            if tb and self.debug:
                self.note(tb.rstrip())
        for w in entry.get("warnings", []):
            self.note(f"tracecad: warning: {job.name}: {w}")


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class PlainProgress(MessagesOnly):
    """One log line per finished input (stderr is not a terminal)."""

    def start(self, *, total: int, skipped: int) -> None:
        self.total, self.n, self.t0 = total, 0, time.perf_counter()
        if skipped:
            self.note(f"tracecad: skipping {skipped} input(s) whose outputs all exist")
        self.note(f"tracecad: converting {total} input(s)")

    def finished(self, job: Job, entry: dict) -> None:
        self.n += 1
        dt = time.perf_counter() - self.t0
        rate = self.n / dt if dt > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else None
        status = "ok" if entry["status"] == "ok" else "FAILED"
        self.note(f"tracecad: [{self.n}/{self.total}] {status} {job.name} ({rate:.2f} files/s, ETA {_fmt_eta(eta)})")
        super().finished(job, entry)


class RichProgress(MessagesOnly):
    """A live bar on stderr: count, rate, ETA and the current file."""

    def __init__(self, *, debug: bool = False, console=None) -> None:
        super().__init__(debug=debug)
        self._console = console

    def start(self, *, total: int, skipped: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task):
                s = task.finished_speed or task.speed
                return Text(f"{s:.2f} files/s" if s else "- files/s", style="progress.data.speed")

        self.console = self._console or Console(stderr=True)
        if skipped:
            self.console.print(f"tracecad: skipping {skipped} input(s) whose outputs all exist")
        self.bar = Progress(TextColumn("converting"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            TextColumn("{task.fields[current]}"), console=self.console, transient=False)
        self.task = self.bar.add_task("convert", total=total, current="")
        self.bar.start()

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def started(self, job: Job) -> None:
        self.bar.update(self.task, current=job.name, refresh=True)

    def finished(self, job: Job, entry: dict) -> None:
        self.bar.advance(self.task)
        super().finished(job, entry)

    def close(self) -> None:
        self.bar.update(self.task, current="")
        self.bar.stop()


def make_progress(*, quiet: bool, n_inputs: int, debug: bool = False, stream=None):
    """Rich bar on a terminal, plain lines otherwise; messages only with ``quiet`` or a single input."""
    stream = stream or sys.stderr
    if quiet or n_inputs <= 1:
        return MessagesOnly(debug=debug)
    if stream.isatty():
        return RichProgress(debug=debug)
    return PlainProgress(debug=debug)
