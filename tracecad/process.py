"""What ``tracecad`` sets for its own process and its workers: BLAS on one thread, freed memory kept."""

from __future__ import annotations

import ctypes
import os

__all__ = ["process_setup", "single_threaded_blas", "keep_freed_memory", "MMAP_THRESHOLD_BYTES",
           "TRIM_THRESHOLD_BYTES"]

def single_threaded_blas() -> None:
    """Run NumPy's BLAS on one thread in this process and in the workers it spawns.

    tracecad's matrix products are small (a few thousand rows by 25 columns); a
    multi-threaded OpenBLAS gains nothing on them, and its idle threads spin:
    on a busy machine (or next to a second batch worker) that doubles the CPU
    time of isolation. A thread count the user set in the environment is kept
    (``tracer.isolate`` itself always runs its products on one thread, so that
    its masks do not depend on the count).
    """
    if any(v in os.environ for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read by NumPy in spawned workers when it loads
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency, but the limit is only an optimisation
        return
    threadpool_limits(1, user_api="blas")


#: glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit): freed blocks up to it stay in the heap ...
MMAP_THRESHOLD_BYTES = 32 << 20


#: ... and the heap is not trimmed back to the system below this much free space at its top.
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Have glibc reuse freed blocks for the next image instead of unmapping them and faulting them in again.

    Isolation allocates and frees raster-sized temporaries (a 2048 px logo's
    4096² working mask is 16 MB) for every image. By default glibc maps such
    blocks fresh or trims the heap after them, and the page faults cost more
    than the work: measured 30 -> 22 ms of isolation per 2048 px logo and 50 ->
    35 ms per 1024 px photo. Blocks above 32 MB (a 40 MP image's) are still
    mapped and returned, so the peak memory is unchanged; smaller freed blocks
    stay in the process for the next image. Thresholds set in the environment
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) are kept, and other
    C libraries are left alone. Returns whether the thresholds were set.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # (malloc.h)
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD_BYTES))


def process_setup() -> None:
    """What ``tracecad`` sets for its own process: BLAS on one thread, freed memory kept for the next image."""
    single_threaded_blas()
    keep_freed_memory()
