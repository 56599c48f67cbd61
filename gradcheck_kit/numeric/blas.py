"""BLAS thread counts: read and set in the loaded OpenBLAS or MKL, so that n workers use n cores, not n × n."""

from __future__ import annotations

import ctypes

__all__ = ["blas_threads", "pin_blas_threads"]

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

