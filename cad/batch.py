"""Batch conversion: many inputs, parallel workers, progress, resume, reports, Dask.

:func:`plan` turns the CLI's input list into :class:`Job` values (output
folder mirrored from the input tree, per-input options from a manifest);
:func:`run` executes them in-process, in a pool of spawned worker processes,
or on a Dask distributed cluster, and returns a :class:`BatchResult`.
Every job runs :func:`run_job`, which never raises for a bad input: it
returns the same report entry as :func:`cad.pipeline.convert` or an error
entry. Files are written through :class:`cad.export.Staging`, so an
interrupted job leaves no partial output.

This module imports nothing heavy at module level; workers import the
pipeline when their first job arrives.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["Job", "BatchResult", "plan", "run", "run_job", "read_manifest", "ManifestRow", "write_report",
           "ManifestError"]

#: Report columns written to a CSV report, in order.
CSV_COLUMNS = ("input", "status", "error", "outputs", "width_mm", "height_mm", "thickness_mm", "bodies", "holes",
               "curve_segments", "warnings", "seconds")


class ManifestError(ValueError):
    """The manifest CSV cannot be used (a usage error: exit code 2)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One input to convert: where it comes from, where its outputs go, with which options."""

    index: int
    source: str
    name: str
    out_dir: str
    stem: str
    options: object  # cad.pipeline.ConvertOptions (not imported here: keep this module light)
    debug: bool = False

    def output_paths(self) -> dict[str, Path]:
        return {f: Path(self.out_dir) / f"{self.stem}.{f}" for f in self.options.formats}

    def outputs_exist(self) -> bool:
        return all(p.is_file() for p in self.output_paths().values())


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


# --------------------------------------------------------------------------- manifest

@dataclass(frozen=True, slots=True)
class ManifestRow:
    """Per-input overrides from a manifest CSV. ``None`` means: use the command line's value."""

    key: str
    width_mm: float | None = None
    height_mm: float | None = None
    thickness_mm: float | None = None
    preset: str | None = None
    line: int = 0


_MANIFEST_ALIASES = {"input": "input", "file": "input", "path": "input", "image": "input",
                     "width": "width_mm", "width_mm": "width_mm", "height": "height_mm", "height_mm": "height_mm",
                     "thickness": "thickness_mm", "thickness_mm": "thickness_mm", "preset": "preset"}


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Read a manifest CSV: a header with ``input`` and any of ``width``, ``height``, ``thickness``, ``preset``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestError(f"{path}: the manifest is empty") from None
    cols = []
    for h in header:
        k = h.strip().lower().replace(" ", "_")
        if k not in _MANIFEST_ALIASES:
            raise ManifestError(f"{path}: unknown manifest column {h.strip()!r} "
                                "(expected input, width, height, thickness, preset)")
        cols.append(_MANIFEST_ALIASES[k])
    if "input" not in cols:
        raise ManifestError(f"{path}: the manifest needs an 'input' column")
    if len(set(cols)) != len(cols):
        raise ManifestError(f"{path}: a manifest column appears twice")
    rows = []
    for lineno, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(cols):
            raise ManifestError(f"{path}, line {lineno}: {len(values)} values for {len(cols)} columns")
        rec = dict(zip(cols, (v.strip() for v in values)))
        if not rec.get("input"):
            raise ManifestError(f"{path}, line {lineno}: the input is empty")
        kw: dict = {}
        for name in ("width_mm", "height_mm", "thickness_mm"):
            raw = rec.get(name, "")
            if raw:
                try:
                    v = float(raw)
                except ValueError:
                    v = float("nan")
                if not (v > 0 and v < float("inf")):
                    raise ManifestError(f"{path}, line {lineno}: {name.split('_')[0]} must be a positive "
                                        f"number of mm, got {raw!r}")
                kw[name] = v
        if kw.get("width_mm") is not None and kw.get("height_mm") is not None:
            raise ManifestError(f"{path}, line {lineno}: give width or height, not both")
        if rec.get("preset"):
            kw["preset"] = rec["preset"]
        rows.append(ManifestRow(key=rec["input"], line=lineno, **kw))
    return rows


def _match_manifest(rows: list[ManifestRow], manifest_dir: Path, items: list[tuple[Path, Path | None]]):
    """``{input index: row}``. A key with a folder part names one file (relative to the manifest's
    folder, the current folder, or a folder given on the command line); a bare file name matches
    every input with that name. A later row wins."""
    by_abs: dict[str, list[int]] = {}
    by_rel: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    for i, (p, root) in enumerate(items):
        by_abs.setdefault(os.path.abspath(p), []).append(i)
        if root is not None:
            by_rel.setdefault(p.relative_to(root).as_posix(), []).append(i)
        by_name.setdefault(p.name, []).append(i)
    out: dict[int, ManifestRow] = {}
    unmatched = []
    for row in rows:
        key = row.key.replace("\\", "/")
        if "/" in key:
            hits = set(by_abs.get(os.path.abspath(manifest_dir / key), []))
            hits |= set(by_abs.get(os.path.abspath(key), []))
            hits |= set(by_rel.get(key.lstrip("./") if key.startswith("./") else key, []))
        else:
            hits = set(by_name.get(key, []))
        if not hits:
            unmatched.append(row)
        for i in hits:
            out[i] = row
    return out, unmatched


def _apply_row(options, row: ManifestRow):
    kw: dict = {}
    if row.width_mm is not None:
        kw.update(width_mm=row.width_mm, height_mm=None, px_mm=None)
    elif row.height_mm is not None:
        kw.update(width_mm=None, height_mm=row.height_mm, px_mm=None)
    if row.thickness_mm is not None:
        kw["thickness_mm"] = row.thickness_mm
    return replace(options, **kw) if kw else options


# --------------------------------------------------------------------------- planning

def _target(path: Path, root: Path | None) -> tuple[Path, str]:
    if root is None:
        return Path(), path.stem
    rel = path.relative_to(root)
    return rel.parent, rel.stem


def plan(items: list[tuple[Path, Path | None]], out_dir: str | os.PathLike[str], options, *,
         manifest: str | os.PathLike[str] | None = None, debug: bool = False,
         preset_options=None) -> tuple[list[Job], list[str]]:
    """``expand_inputs`` items -> jobs, and warnings (unmatched manifest rows, renamed collisions).

    ``preset_options(name)`` gives the options for a manifest row's preset (the CLI builds them as
    if ``--preset NAME`` had been given, so command-line flags still override the preset); without
    it (the products feature is absent) a manifest that names a preset is refused.

    Outputs go to ``out_dir / <folder below the root given> / <stem>.<format>``. When two inputs
    would still share an output name (equal stems given as separate files or under separate
    folders, or ``logo.png`` beside ``logo.jpg``), their paths below their common folder are
    mirrored instead, and an input whose suffix alone differs gets the suffix in its stem.
    """
    warnings: list[str] = []
    rows: dict[int, ManifestRow] = {}
    presets: dict[str, object] = {}
    if manifest is not None:
        mrows = read_manifest(manifest)
        rows, unmatched = _match_manifest(mrows, Path(manifest).parent, items)
        for r in mrows:
            if not r.preset or r.preset in presets:
                continue
            if preset_options is None:
                raise ManifestError(f"{manifest}, line {r.line}: the preset column needs the products feature "
                                    "(cad.products and its --preset flag), which this build does not have")
            try:
                presets[r.preset] = preset_options(r.preset)
            except (ValueError, KeyError) as exc:
                raise ManifestError(f"{manifest}, line {r.line}: {exc}") from None
        for r in unmatched:
            warnings.append(f"{manifest}, line {r.line}: {r.key!r} matches no input")
    targets = [_target(p, root) for p, root in items]

    def key(i: int) -> str:
        sub, stem = targets[i]
        return os.path.normcase((Path(out_dir) / sub / stem).as_posix())

    groups: dict[str, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(key(i), []).append(i)
    for idxs in groups.values():
        if len(idxs) < 2:
            continue
        paths = [Path(os.path.abspath(items[i][0])) for i in idxs]
        parents = {p.parent for p in paths}
        if len(parents) > 1:  # same stem in different folders: mirror below their common folder
            common = Path(os.path.commonpath([str(p) for p in parents]))
            for i, p in zip(idxs, paths):
                rel = p.relative_to(common)
                targets[i] = (rel.parent, rel.stem)
        counts: dict[str, int] = {}
        for i in idxs:
            counts[key(i)] = counts.get(key(i), 0) + 1
        for i, p in zip(idxs, paths):
            if counts[key(i)] > 1:  # logo.png beside logo.jpg
                sub, stem = targets[i]
                targets[i] = (sub, f"{stem}-{p.suffix.lstrip('.').lower()}")
        names = ", ".join(str(items[i][0]) for i in idxs)
        warnings.append(f"{names} would share an output name; they were given distinct ones")
    used: set[str] = set()
    for i in range(len(items)):  # last resort: a renamed target met another input's target
        sub, base = targets[i]
        n = 2
        while key(i) in used:
            targets[i] = (sub, f"{base}-{n}")
            n += 1
        used.add(key(i))
    jobs = []
    for i, ((p, _root), (sub, stem)) in enumerate(zip(items, targets)):
        row = rows.get(i)
        opts = options if row is None else _apply_row(presets[row.preset] if row.preset else options, row)
        jobs.append(Job(index=i, source=str(p), name=str(p), out_dir=str(Path(out_dir) / sub), stem=stem,
                        options=opts, debug=debug))
    return jobs, warnings


# --------------------------------------------------------------------------- the work

class _Stopped(SystemExit):
    """Raised in a worker by SIGTERM from the parent: unwinds (Staging deletes temp files), then exits."""


def run_job(job: Job) -> dict:
    """Convert one input; return its report entry. Bad input gives an error entry, never an exception."""
    from cad.pipeline import convert, error_entry

    try:
        return convert(job.source, job.out_dir, job.options, stem=job.stem, name=job.name)
    except _Stopped:
        os._exit(143)  # the Staging block above has already deleted this job's temporary files
    except Exception as exc:  # noqa: BLE001 - one sentence per failing input; the batch goes on
        entry = error_entry(job.name, exc)
        if job.debug:
            import traceback

            entry["_traceback"] = traceback.format_exc()
        return entry


def _on_sigterm(signum, frame):
    raise _Stopped(143)


def _worker_init() -> None:
    # Ctrl-C in a terminal reaches every process of the group: the parent alone decides what
    # happens (it sends SIGTERM to the workers, which unwind through their Staging blocks).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:  # one thread per worker: the workers are the parallelism (no oversubscription)
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    from cad.cli import keep_freed_memory

    keep_freed_memory()  # (a spawned worker is a process of its own)


def _skipped_entry(job: Job) -> dict:
    return {"input": job.name, "status": "skipped", "error": None,
            "outputs": {k: str(v) for k, v in job.output_paths().items()}}


def _not_run_entry(job: Job) -> dict:
    return {"input": job.name, "status": "not run", "error": "interrupted before it was converted", "outputs": {}}


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run(jobs: list[Job], *, n_jobs: int | None = None, executor: str = "local", scheduler: str | None = None,
        skip_existing: bool = False, progress=None) -> BatchResult:
    """Run ``jobs``; entries come back in input order. ``progress`` gets ``start``/``started``/``finished``.

    On Ctrl-C the workers are stopped, temporary files are removed, and the result (with
    ``interrupted=True`` and unfinished inputs as ``"not run"``) is attached to the re-raised
    :class:`KeyboardInterrupt` as ``.batch_result``.
    """
    t0 = time.perf_counter()
    n_jobs = default_jobs() if n_jobs is None else max(1, int(n_jobs))
    entries: dict[int, dict] = {}
    todo = []
    for job in jobs:
        if skip_existing and job.outputs_exist():
            entries[job.index] = _skipped_entry(job)
        else:
            todo.append(job)
    progress = progress or _NullProgress()
    progress.start(total=len(todo), skipped=len(jobs) - len(todo))

    def done(job: Job, entry: dict) -> None:
        entries[job.index] = entry
        progress.finished(job, entry)

    workers = max(1, min(n_jobs, len(todo))) if executor == "local" else n_jobs
    interrupted = False
    try:
        if executor == "dask":
            workers = _run_dask(todo, scheduler, progress, done)
        elif executor != "local":
            raise ValueError(f"unknown executor {executor!r} (choose local or dask)")
        elif workers <= 1:
            for job in todo:
                progress.started(job)
                done(job, run_job(job))
        else:
            _run_pool(todo, workers, progress, done)
    except KeyboardInterrupt as exc:
        interrupted = True
        stop = exc
    finally:
        progress.close()
    ordered = [entries.get(j.index) or _not_run_entry(j) for j in jobs]
    result = BatchResult(entries=ordered, seconds=time.perf_counter() - t0, jobs=workers, executor=executor,
                         interrupted=interrupted)
    if interrupted:
        stop.batch_result = result
        raise stop
    return result


def _input_bytes(job: Job) -> int:
    try:
        return os.stat(job.source).st_size
    except OSError:
        return 0


def _run_pool(todo: list[Job], workers: int, progress, done) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")  # never fork: OCP/VTK and threads do not survive it reliably
    # Largest inputs first (file size as the cost estimate): a big image started last would leave
    # the other workers idle at the end. The report keeps the input order (entries by job.index).
    queue = deque(sorted(todo, key=_input_bytes, reverse=True))
    crashes: dict[int, int] = {}
    out_dirs = {j.out_dir for j in todo}
    while queue:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)
        running: dict = {}
        broken = False
        try:
            while queue or running:
                while queue and len(running) < workers and not broken:
                    # An input that was in flight when a worker died runs alone, so that a second
                    # crash is pinned on the right input and no bystander is blamed.
                    if any(j.index in crashes for j in running.values()):
                        break
                    if queue[0].index in crashes and running:
                        break
                    job = queue.popleft()
                    running[pool.submit(run_job, job)] = job
                    progress.started(job)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job = running.pop(fut)
                    try:
                        entry = fut.result()
                    except BrokenProcessPool:
                        # A worker died (a crash in native code, or killed): retry each input that was
                        # in flight once, alone, in a fresh pool; a crash while it runs alone is its own.
                        broken = True
                        crashes[job.index] = crashes.get(job.index, 0) + 1
                        if crashes[job.index] >= 2:
                            from cad.pipeline import error_entry

                            done(job, error_entry(job.name, RuntimeError(
                                "the worker process died while converting it (a crash in a native library?)")))
                        else:
                            queue.appendleft(job)
                        continue
                    except Exception as exc:  # noqa: BLE001 - e.g. a pickling failure
                        from cad.pipeline import error_entry

                        entry = error_entry(job.name, exc)
                    done(job, entry)
                if broken and not running:
                    break
        except BaseException:
            _stop_pool(pool, out_dirs)
            raise
        pool.shutdown(wait=True)
        if broken:
            _sweep_parts(out_dirs, None)


def _stop_pool(pool, out_dirs: set[str]) -> None:
    """Stop every worker now; their Staging blocks delete their temp files; sweep what a kill left."""
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except (ProcessLookupError, OSError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 10.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(2.0)
    _sweep_parts(out_dirs, {p.pid for p in procs})


def _sweep_parts(out_dirs: set[str], pids: set[int] | None) -> None:
    """Delete staged ``.<name>.<pid>.<hex>[.old].part`` files left by dead workers (``pids=None``: any pid
    that is no longer running)."""
    for d in out_dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            if not (n.startswith(".") and n.endswith(".part")):
                continue
            core = n[:-len(".part")]
            if core.endswith(".old"):  # Staging's hard-link backup of a replaced file
                core = core[:-len(".old")]
            bits = core.rsplit(".", 2)
            if len(bits) != 3 or not bits[1].isdigit():
                continue
            pid = int(bits[1])
            if pids is not None and pid not in pids:
                continue
            if pids is None and _alive(pid):
                continue
            try:
                os.unlink(os.path.join(d, n))
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_dask(todo: list[Job], scheduler: str | None, progress, done) -> int:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--executor dask needs the dask extra: pip install 'tracecad[dask]'") from None
    if not scheduler:
        raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    from cad.pipeline import error_entry

    with Client(scheduler, timeout="20s", set_as_default=False) as client:
        n_workers = len(client.scheduler_info().get("workers", {}))
        futures = {}
        for job in todo:
            futures[client.submit(run_job, job, pure=False, key=f"tracecad-{job.index}-{os.getpid()}-{time.time_ns()}")] = job
        try:
            for fut in as_completed(list(futures), loop=client.loop):
                job = futures[fut]
                progress.started(job)
                try:
                    entry = fut.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker, a missing tracecad on it, ...
                    entry = error_entry(job.name, exc)
                done(job, entry)
        except BaseException:
            # Cancel what has not run. A task already running finishes on its worker: its files are
            # staged and renamed whole, so there is never a partial file either way.
            client.cancel(list(futures), force=True)
            raise
    return n_workers


# --------------------------------------------------------------------------- progress

class _NullProgress:
    def start(self, *, total: int, skipped: int) -> None:
        pass

    def started(self, job: Job) -> None:
        pass

    def finished(self, job: Job, entry: dict) -> None:
        pass

    def note(self, text: str) -> None:
        print(text, file=sys.stderr)

    def close(self) -> None:
        pass


class MessagesOnly(_NullProgress):
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
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
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


# --------------------------------------------------------------------------- reports

def write_report(path: str | os.PathLike[str], result: BatchResult, version: str) -> Path:
    """JSON (``{"tracecad", "summary", "results"}``), or CSV when ``path`` ends in ``.csv``. Atomic."""
    from cad.export import Staging

    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    with Staging() as stage:
        tmp = stage.path(path)
        if path.suffix.lower() == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(CSV_COLUMNS)
                for e in result.entries:
                    row = []
                    for col in CSV_COLUMNS:
                        v = e.get(col)
                        if col == "outputs":
                            v = ";".join(v.values()) if v else ""
                        elif col == "warnings":
                            v = "; ".join(v) if v else ""
                        elif col == "seconds":
                            v = v.get("total") if isinstance(v, dict) else v
                        row.append("" if v is None else v)
                    w.writerow(row)
        else:
            doc = {"tracecad": version, "summary": result.summary(), "results": result.entries}
            tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        stage.commit()
    return path


def print_summary(result: BatchResult, *, max_rows: int = 50, file=None) -> None:
    """The summary table (every input up to ``max_rows``, otherwise failures only) and a totals line."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file, width=max(100, Console(file=file).width))
    entries = result.entries
    shown = entries if len(entries) <= max_rows else [e for e in entries if e["status"] not in ("ok", "skipped")]
    if shown:
        table = Table(title="tracecad", show_lines=False)
        for col in ("input", "status", "size mm", "bodies", "holes", "segments", "faces", "seconds"):
            table.add_column(col, overflow="fold")
        for e in shown:
            if e["status"] == "ok":
                table.add_row(e["input"], "ok",
                              f"{e['width_mm']:.1f} x {e['height_mm']:.1f} x {e['thickness_mm']:g}",
                              str(e["bodies"]), str(e["holes"]), str(e["curve_segments"]),
                              str(e["step_faces"] if e["step_faces"] is not None else "-"),
                              f"{e['seconds']['total']:.2f}")
            elif e["status"] == "skipped":
                table.add_row(e["input"], "skipped", "outputs exist", "", "", "", "", "")
            else:
                table.add_row(e["input"], f"[red]{e['status']}[/red]", e["error"] or "", "", "", "", "", "")
        console.print(table)
    s = result.summary()
    rate = (s["converted"] + s["failed"]) / s["seconds"] if s["seconds"] > 0 else 0.0
    line = (f"converted {s['converted']}, failed {s['failed']}, skipped {s['skipped']}"
            + (f", not run {s['not_run']} (interrupted)" if s["not_run"] or result.interrupted else "")
            + f" of {s['inputs']} in {s['seconds']:.1f} s ({rate:.2f} files/s, "
            + f"{s['jobs']} {'worker' if s['jobs'] == 1 else 'workers'}, {s['executor']})")
    console.print(line, markup=False, highlight=False)


def exit_code(result: BatchResult) -> int:
    if result.interrupted:
        return 130
    return 1 if result.failed else 0
