"""What runs in a worker: the check pickled once (`Payload`) and one chunk of entries judged (`judge_chunk`).

The payload is cloudpickle's pickle of the check (the model's private copy and the batch go with it),
without the caller's progress callback and without tables of results. A worker rebuilds the check from
it once per thread, for as long as the backend keeps the payload (dask keeps it, loky sends it with each
chunk), and never raises through joblib: the model's error, ``sys.exit`` or a Ctrl-C comes back as a
`Failure` for the caller to raise as the kit's own error. When the check cannot be pickled,
`unpicklable_part` finds the attribute to blame.
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .blas import blas_threads, pin_blas_threads
from .comparison import BlockCheck, EntryTable

__all__ = ["Chunk", "Failure", "Payload", "Pickler", "judge_chunk", "qualified", "unpicklable_part"]

# -- the payload: the check, pickled once ---------------------------------------------------------
_PROGRESS = "gradcheck_kit:progress"
_RESULTS = "gradcheck_kit:results"


class Pickler:
    """cloudpickle, except for two things a worker must not receive: the caller's progress callback (it
    holds a terminal; a worker counts its evaluations instead) and tables of results (the tensor's
    table is as large as the tensor and judging an entry never reads it)."""

    def __init__(self, progress: object) -> None:
        import cloudpickle

        class Filtered(cloudpickle.Pickler):  # type: ignore[misc]
            def persistent_id(self, obj: object) -> str | None:
                if progress is not None and obj is progress:
                    return _PROGRESS
                if type(obj) is EntryTable:
                    return _RESULTS
                return None

        self._pickler = Filtered

    def dumps(self, obj: object) -> bytes:
        buffer = io.BytesIO()
        self._pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        return buffer.getvalue()


class _Count:
    """Stands in for the progress callback in a worker: counts the evaluations of the current chunk."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, n: int) -> None:
        self.n += n


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, count: _Count) -> None:
        super().__init__(io.BytesIO(data))
        self._count = count

    def persistent_load(self, pid: Any) -> Any:
        if pid == _PROGRESS:
            return self._count
        if pid == _RESULTS:
            return EntryTable.allocate(0)
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


class Payload:
    """The pickled check and the process that made it. A holder rebuilds the check at most once per
    thread (each thread perturbs its own copy); the copies are never pickled. ``__sizeof__`` is the
    pickle's size, so dask scatters the payload to its workers once instead of sending it with each
    chunk."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.parent = os.getpid()
        self._copies = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data, "parent": self.parent}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._copies = threading.local()

    def __sizeof__(self) -> int:
        return object.__sizeof__(self) + len(self.data)

    def rebuild(self) -> tuple[BlockCheck, _Count]:
        built = getattr(self._copies, "check", None)
        if built is None:
            count = _Count()
            built = (_Unpickler(self.data, count).load(), count)
            self._copies.check = built
        return built


# -- one chunk, in a worker -----------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """Why a chunk ended early: ``kind`` is "exit", "interrupt", "rebuild" or "raised"."""

    kind: str
    summary: str
    remote: str
    error: BaseException | None = None
    code: str = ""  # sys.exit's argument, as repr


@dataclass(frozen=True)
class Chunk:
    """A judged chunk and the loss evaluations it took; or, with ``failure``, why it was not judged."""

    table: EntryTable
    evaluations: int = 0
    seconds: float = 0.0
    failure: Failure | None = None


def _failure(kind: str, exc: BaseException) -> Failure:
    remote = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    summary = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    error: BaseException | None = exc if kind == "raised" else None
    try:
        pickle.dumps(error)
    except Exception:  # an exception that cannot travel back: its text does
        error = None
    return Failure(kind, summary, remote, error, repr(exc.code) if isinstance(exc, SystemExit) else "")


def judge_chunk(payload: Payload, indices: np.ndarray) -> Chunk:
    """Judge ``indices`` with this thread's copy of the check. Never raises: a failure is returned."""
    elsewhere = os.getpid() != payload.parent  # a worker process, not a thread of the caller's process
    if elsewhere and threading.current_thread() is threading.main_thread():
        # Ctrl-C at a terminal reaches every process of its group: the caller handles it and stops the workers.
        # A forked worker inherits the caller's handlers: told to stop, it stops (no handler of the caller's).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        check, count = payload.rebuild()
    except BaseException as exc:
        return Chunk(EntryTable.allocate(0), failure=_failure("rebuild", exc))
    before = blas_threads() if elsewhere else None
    if before is not None and before != 1:
        pin_blas_threads(1)  # one thread per worker: n workers on n cores, not n × n threads
    count.n = 0
    began = time.perf_counter()
    table = EntryTable.allocate(indices.size)
    try:
        check(indices, table.insert)
    except SystemExit as exc:
        return Chunk(EntryTable.allocate(0), failure=_failure("exit", exc))
    except KeyboardInterrupt as exc:
        return Chunk(EntryTable.allocate(0), failure=_failure("interrupt", exc))
    except BaseException as exc:
        return Chunk(EntryTable.allocate(0), failure=_failure("raised", exc))
    finally:
        if before is not None and before != 1:
            pin_blas_threads(before)  # the pool outlives this check and may serve other joblib users
    return Chunk(table, count.n, time.perf_counter() - began)



# -- what cannot be pickled, named ----------------------------------------------------------------
def unpicklable_part(root: object, pickler: Pickler) -> tuple[str, object, object] | None:
    """(path, owner, value): the attribute (item, closure variable) that cannot be pickled, found by
    following the first failing branch from ``root``, and the nearest object of the user's that holds it
    (``None``: no such object). Objects of the standard library are not entered: a thread pool is named,
    not its queue. ``None`` if ``root`` itself pickles."""

    def fails(obj: object) -> bool:
        try:
            pickler.dumps(obj)
        except Exception:
            return True
        return False

    def parts(obj: object) -> Iterator[tuple[str, object]]:
        if isinstance(obj, dict):
            yield from ((f"[{k!r}]"[:40], v) for k, v in obj.items())
        elif isinstance(obj, list | tuple | set | frozenset):
            yield from ((f"[{i}]", v) for i, v in enumerate(obj))
        elif hasattr(obj, "__self__") and hasattr(obj, "__func__"):
            yield ("", obj.__self__)
        elif isinstance(obj, types.FunctionType):
            for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
                try:
                    yield (f".{name}", cell.cell_contents)
                except ValueError:  # an empty cell
                    continue
        elif _enterable(type(obj)):
            yield from ((f".{k}", v) for k, v in getattr(obj, "__dict__", {}).items())

    if not fails(root):
        return None
    owner: object = None
    path, current = "", root
    for _ in range(64):
        step = next(((n, v) for n, v in parts(current) if fails(v)), None)
        if step is None:
            break
        if _users(type(current)):
            owner, path = current, ""
        path, current = path + step[0], step[1]
    return path.lstrip("."), owner, current


def _enterable(kind: type) -> bool:
    top = kind.__module__.partition(".")[0]
    return top == "__main__" or top not in sys.stdlib_module_names  # builtins are in the standard library


def _users(kind: type) -> bool:
    """An object of the user's: not a builtin (container, function), nor the standard library's or the kit's."""
    return _enterable(kind) and kind.__module__.partition(".")[0] != "gradcheck_kit"


def qualified(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"


