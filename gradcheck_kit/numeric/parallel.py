"""Exhaustive checks in worker processes, BLAS pinned to one thread each.

Workers are forked, so they inherit the model and the check closure without pickling; each perturbs
its own copy-on-write copy of the working arrays. Every entry's verdict depends only on that entry's own
evaluations, so the result is identical to the serial run.
"""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Callable

import numpy as np

from .comparison import EntryRunner, EntryTable
from .differences import Judgement

__all__ = ["blas_threads", "entry_runner", "pin_blas_threads"]

_CHECK: Callable[[int], Judgement] | None = None
_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "MKL_Set_Num_Threads", "mkl_set_num_threads")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "MKL_Get_Max_Threads")


def _blas_libraries() -> list[ctypes.CDLL]:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line.lower()}
    except OSError:
        return []
    libraries = []
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libraries


def pin_blas_threads(n: int) -> bool:
    """Set the BLAS thread count of the loaded library (OpenBLAS or MKL); False if none was found."""
    done = False
    for lib in _blas_libraries():
        for name in _SETTERS:
            if hasattr(lib, name):
                getattr(lib, name)(ctypes.c_int(n))
                done = True
                break
    return done


def blas_threads() -> int | None:
    """The BLAS thread count in this process, if a known library is loaded."""
    for lib in _blas_libraries():
        for name in _GETTERS:
            if hasattr(lib, name):
                getter = getattr(lib, name)
                getter.restype = ctypes.c_int
                return int(getter())
    return None


def _init() -> None:
    pin_blas_threads(1)


def _run(chunk: np.ndarray) -> EntryTable:
    if _CHECK is None:
        raise RuntimeError("gradcheck_kit worker started without a check")
    table = EntryTable.allocate(chunk.size)
    for position, index in enumerate(chunk):
        table.put(position, int(index), _CHECK(int(index)))
    return table


def entry_runner(n_jobs: int, on_eval: Callable[[int], None] | None = None) -> EntryRunner:
    """A runner for `compare_tensor` that spreads an exhaustive check's entries over ``n_jobs`` forked
    workers (serial when fork is unavailable)."""

    def run(indices: np.ndarray, check: Callable[[int], Judgement], put: Callable[[int, EntryTable], None]) -> None:
        global _CHECK  # noqa: PLW0603 -- forked workers inherit the check (replaced by joblib in issue 12)
        # small chunks: the parent's progress bar advances (and Ctrl-C is seen) at least every second or so
        size = max(16, min(256, indices.size // (n_jobs * 64)))
        chunks = [indices[i:i + size] for i in range(0, indices.size, size)]
        if n_jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods() or len(chunks) < 2:
            _CHECK = check
            try:
                start = 0
                for chunk in chunks:
                    put(start, _run(chunk))  # the check reports its own evaluations
                    start += chunk.size
                return
            finally:
                _CHECK = None
        _CHECK = check
        context = multiprocessing.get_context("fork")
        pool = context.Pool(processes=n_jobs, initializer=_init)
        try:
            start = 0
            for table in pool.imap(_run, chunks):
                put(start, table)
                start += table.flat.size
                if on_eval is not None:
                    on_eval(2 * table.flat.size)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
            _CHECK = None

    return run

