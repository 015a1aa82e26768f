"""Batch conversion: many inputs, parallel workers, progress, resume, reports, Dask.

:func:`plan` turns the CLI's input list into :class:`Job` values (output
folder mirrored from the input tree, per-input options from a manifest);
:func:`run` executes them in-process, in a pool of spawned worker processes,
or on a Dask distributed cluster, and returns a :class:`BatchResult`.
Every job runs :func:`run_job`, which never raises for a bad input: it
returns the same report entry as :func:`tracecad.pipeline.convert` or an error
entry. Files are written through :class:`cad.export.Staging`, so an
interrupted job leaves no partial output.

Progress displays are in :mod:`tracecad.progress`, reports in :mod:`tracecad.report`.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from cad.export import pid_alive
from tracecad.jobs import BatchResult, Job
from tracecad.options import ConvertOptions
from tracecad.pipeline import convert, error_entry
from tracecad.process import keep_freed_memory
from tracecad.progress import NullProgress

__all__ = ["Job", "BatchResult", "BatchInterrupted", "plan", "run", "run_job", "read_manifest", "ManifestRow", "ManifestError",
           "output_target", "default_jobs"]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a batch; ``batch_result`` holds what was done (the rest is "not run")."""

    def __init__(self, batch_result: BatchResult) -> None:
        super().__init__("interrupted")
        self.batch_result = batch_result


class ManifestError(ValueError):
    """The manifest CSV cannot be used (a usage error: exit code 2)."""


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


def _apply_row(options: ConvertOptions, row: ManifestRow) -> ConvertOptions:
    kw: dict = {}
    if row.width_mm is not None:
        kw.update(width_mm=row.width_mm, height_mm=None, px_mm=None)
    elif row.height_mm is not None:
        kw.update(width_mm=None, height_mm=row.height_mm, px_mm=None)
    if row.thickness_mm is not None:
        kw["thickness_mm"] = row.thickness_mm
    return replace(options, **kw) if kw else options


def output_target(path: Path, root: Path | None) -> tuple[Path, str]:
    """Output sub-folder and stem of an input: the input's folder structure below ``root`` is mirrored."""
    if root is None:
        return Path(), path.stem
    rel = path.relative_to(root)
    return rel.parent, rel.stem


def plan(items: list[tuple[Path, Path | None]], out_dir: str | os.PathLike[str], options: ConvertOptions, *,
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
    presets: dict[str, ConvertOptions] = {}
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
    targets = [output_target(p, root) for p, root in items]

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


class _Stopped(SystemExit):
    """Raised in a worker by SIGTERM from the parent: unwinds (Staging deletes temp files), then exits."""


def run_job(job: Job) -> dict:
    """Convert one input; return its report entry. Bad input gives an error entry, never an exception."""
    try:
        return convert(job.source, job.out_dir, job.options, stem=job.stem, name=job.name)
    except _Stopped:
        os._exit(143)  # the Staging block above has already deleted this job's temporary files
    except Exception as exc:  # noqa: BLE001 - one sentence per failing input; the batch goes on
        entry = error_entry(job.name, exc)
        if job.debug:
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
        import cv2  # (lazy: cv2 costs start-up time)

        cv2.setNumThreads(1)
    except ImportError:
        pass
    keep_freed_memory()  # (a spawned worker is a process of its own)


def _skipped_entry(job: Job, existing: list[Path]) -> dict:
    return {"input": job.name, "status": "skipped", "error": None,
            "outputs": {_output_key(p, job.stem): str(p) for p in existing}}


def _output_key(path: Path, stem: str) -> str:
    """A file's key in a report's ``outputs``: its format, or ``format:body`` for a per-colour file."""
    fmt = path.suffix.lstrip(".")
    return fmt if path.stem == stem else f"{fmt}:{path.stem}"


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
    :class:`BatchInterrupted` (a :class:`KeyboardInterrupt`) as ``.batch_result``.
    """
    t0 = time.perf_counter()
    n_jobs = default_jobs() if n_jobs is None else max(1, int(n_jobs))
    entries: dict[int, dict] = {}
    todo = []
    for job in jobs:
        existing = job.existing_outputs() if skip_existing else None
        if existing is not None:
            entries[job.index] = _skipped_entry(job, existing)
        else:
            todo.append(job)
    progress = progress or NullProgress()
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
        raise BatchInterrupted(result) from stop
    return result


def _input_bytes(job: Job) -> int:
    try:
        return os.stat(job.source).st_size
    except OSError:
        return 0


def _run_pool(todo: list[Job], workers: int, progress, done) -> None:
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
                            done(job, error_entry(job.name, RuntimeError(
                                "the worker process died while converting it (a crash in a native library?)")))
                        else:
                            queue.appendleft(job)
                        continue
                    except Exception as exc:  # noqa: BLE001 - e.g. a pickling failure
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
            if pids is None and pid_alive(pid):
                continue
            try:
                os.unlink(os.path.join(d, n))
            except OSError:
                pass


def _run_dask(todo: list[Job], scheduler: str | None, progress, done) -> int:
    try:
        from distributed import Client, as_completed  # (lazy: dask is optional and slow to import)
    except ImportError:
        raise RuntimeError("--executor dask needs the dask extra: pip install 'tracecad[dask]'") from None
    if not scheduler:
        raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")

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
