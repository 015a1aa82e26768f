"""A pool of spawned worker processes with a time limit per task: a crash or a stop costs one task.

Each worker is a process of its own (``spawn``: no state shared with the server), answering tasks of
:func:`tracecad.web.work.run_task` over a pipe. At most ``size`` tasks run at once; the others wait
for a free worker. A task that outlives the time limit has its worker killed and replaced, and so has
a worker that died (an OpenCASCADE crash, the out-of-memory killer); the server goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

from tracecad.web.work import worker_main

__all__ = ["WorkerPool", "TaskTimeout", "WorkerDied"]


class TaskTimeout(RuntimeError):
    """A task ran longer than the time limit; its worker was stopped."""


class WorkerDied(RuntimeError):
    """The worker process ended while it ran a task."""


class _Worker:
    def __init__(self, ctx) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child,), daemon=True, name="tracecad-web-worker")
        self.process.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(0 if kill else 2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2.0)
        self.conn.close()


class WorkerPool:
    """``size`` spawned workers; :meth:`run` blocks until a worker is free and the task is done."""

    def __init__(self, size: int, time_limit_s: float) -> None:
        self.size = max(1, int(size))
        self.time_limit_s = float(time_limit_s)
        self._ctx = mp.get_context("spawn")
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.started = 0

    def start(self) -> None:
        """Start every worker now (they import tracecad while the server starts)."""
        with self._lock:
            while len(self._idle) + len(self._busy) < self.size:
                self._idle.append(self._new())

    def _new(self) -> _Worker:
        self.started += 1
        return _Worker(self._ctx)

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            w = self._idle.pop() if self._idle else self._new()
            self._busy.add(w)
            return w

    def _give_back(self, w: _Worker, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(w)
            if healthy and not self._closed:
                self._idle.append(w)
                return
        w.stop(kill=not healthy)

    def run(self, task: dict, time_limit_s: float | None = None) -> dict:
        """Run ``task`` in a worker; returns its answer, raises :class:`TaskTimeout` or :class:`WorkerDied`."""
        limit = self.time_limit_s if time_limit_s is None else time_limit_s
        with self._slots:
            w = self._take()
            healthy = False
            try:
                w.conn.send(task)
                deadline = time.monotonic() + limit
                while not w.conn.poll(0.2):
                    if not w.process.is_alive():
                        raise WorkerDied("the worker process died")
                    if time.monotonic() > deadline:
                        raise TaskTimeout(f"it took longer than the time limit of {limit:g} s")
                answer = w.conn.recv()
                healthy = True
                return answer
            except (EOFError, OSError, BrokenPipeError):
                raise WorkerDied("the worker process died") from None
            finally:
                self._give_back(w, healthy)

    def close(self) -> None:
        """Stop every worker (a running task's worker is killed)."""
        with self._lock:
            self._closed = True
            idle, busy = list(self._idle), list(self._busy)
            self._idle.clear()
        for w in idle:
            w.stop()
        for w in busy:
            w.stop(kill=True)
