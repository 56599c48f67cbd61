"""Exhaustive checks spread over joblib workers (loky processes by default), BLAS pinned to one thread each.

Per tensor, an `entry_runner` judges the first entries here, which measures what one entry costs. It
stays here when workers cannot win: the rest is short, or joblib offers one worker (``n_jobs=1``, inside
a joblib worker or a daemonic ``multiprocessing.Pool`` worker). Otherwise it pickles the check once (see
`workers`) and hands joblib chunks of indices sized from that cost. While workers start (about a second
for loky's, the first time), this process judges the next entries, a start-up's worth, and the workers
the rest; once the workers, all together, prove slower than this process (a busy machine), no more
chunks are sent and this process judges what is left.

A failure in a worker comes back as a result and is raised here as the kit's own error; a worker that
dies is named as such (multiprocessing's pool cannot tell, so it gets a time limit). Every entry's
verdict depends only on its own evaluations, so the result is bitwise the serial one. Chunks are handed
over in order as they come, so Ctrl-C keeps every chunk already judged; joblib then stops the workers,
which ignore a terminal's Ctrl-C themselves. Nothing is kept at module level, so several threads may run
exhaustive checks at once.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from ..errors import GradcheckError, InputError, ModelCallError
from .comparison import BlockCheck, EntryRunner, EntryTable, shifted
from .workers import Chunk, Failure, Payload, Pickler, judge_chunk, qualified, unpicklable_part

__all__ = ["entry_runner"]

#: Seconds of entries judged in the calling process first, to measure what one entry costs.
_PROBE_SECONDS = 0.05
#: Starting worker processes (spawn, imports, rebuilding the model) when none are running yet.
_COLD_START_SECONDS = 1.0
#: Dispatching a tensor's chunks to running workers and collecting the last one.
_WARM_SECONDS = 0.05
#: Workers only when they are expected to take at most this fraction of the serial time.
_WORTH = 0.8
#: The workers, all together, lost to this process alone when they are this much slower per entry.
_SLOWER = 1.25
#: A chunk lasts about this long (shorter: more overhead; longer: a coarser progress bar and Ctrl-C).
_CHUNK_SECONDS = (0.1, 1.0)
#: Fixed cost of one chunk besides rebuilding the check (a round trip through the backend, pinning BLAS).
_CHUNK_OVERHEAD_SECONDS = 0.003
#: A backend that cannot tell a dead worker (multiprocessing) waits this long for a chunk before giving up,
#: or _SILENT_CHUNKS times a chunk's expected time if that is longer.
_SILENT_SECONDS = 60.0
_SILENT_CHUNKS = 50
#: Entries judged in the calling process between two hand-overs of the serial path, at most (the first
#: blocks are smaller, so the first entries measure what one costs even for a slow loss).
_SERIAL_BLOCK = 256


# -- the runner, in the calling process -----------------------------------------------------------
class _RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, chained as the cause of the error raised here."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n" + self.text


@dataclass(frozen=True)
class _Backend:
    """joblib's active backend as the runner needs it: how many workers run at once, whether it streams
    results as they come (all but multiprocessing), whether its workers are child processes of this one
    (loky, multiprocessing) and whether they must be started first (loky keeps its processes between
    calls; starting them takes about a second of imports)."""

    workers: int
    streams: bool = True
    children: bool = False
    starts_slowly: bool = False


def _active_backend(n_jobs: int) -> _Backend:
    """One worker inside a joblib worker or a daemonic process (a multiprocessing.Pool worker)."""
    from joblib import effective_n_jobs
    from joblib.parallel import BACKENDS, get_active_backend

    backend, _ = get_active_backend()
    if getattr(backend, "nesting_level", 0) > 0:
        return _Backend(1)  # inside a joblib worker: its nested calls are serial or threads, the cores are busy
    loky, forked = BACKENDS.get("loky"), BACKENDS.get("multiprocessing")
    children = isinstance(backend, tuple(b for b in (loky, forked) if b is not None))
    if children and multiprocessing.current_process().daemon:
        return _Backend(1)  # daemonic processes cannot have children
    workers = max(1, int(effective_n_jobs(n_jobs)))
    running = sum(type(p).__name__ == "LokyProcess" for p in multiprocessing.active_children())
    return _Backend(workers, bool(getattr(backend, "supports_return_generator", False)), children,
                    loky is not None and isinstance(backend, loky) and running < workers)


def _exit_codes(exc: BaseException) -> str:
    """" (exit code 3)" or " (signal SIGSEGV)" from loky's message about a terminated worker."""
    found = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    codes = sorted(set(re.findall(r"(EXIT|SIG[A-Z]+)\((-?\d+)\)", found.group(1)))) if found else []
    words = [f"exit code {n}" if kind == "EXIT" else f"signal {kind}" for kind, n in codes]
    return f" ({', '.join(words)})" if words else ""


class _Runner:
    """Runs the exhaustive checks of one diagnosis, tensor by tensor."""

    def __init__(self, n_jobs: int, on_eval: Callable[[int], None] | None) -> None:
        self.n_jobs = n_jobs
        self.on_eval = on_eval
        self.slow = False  # workers were slower than this process: the rest of the run stays here

    # the EntryRunner interface
    def __call__(self, indices: np.ndarray, check: BlockCheck, put: Callable[[int, EntryTable], None]) -> None:
        backend = _active_backend(self.n_jobs) if indices.size > 1 and not self.slow else _Backend(1)
        if backend.workers <= 1:
            self._serial(indices, 0, indices.size, check, put)
            return
        began = time.perf_counter()
        done = self._serial(indices, 0, indices.size, check, put, seconds=_PROBE_SECONDS)
        per_entry = (time.perf_counter() - began) / max(done, 1)
        # workers that start on first use do so while this process judges the entries they would wait for
        startup = _COLD_START_SECONDS if backend.starts_slowly else 0.0
        here = (indices.size - done) * per_entry
        if here <= startup or startup + (here - startup) / backend.workers + _WARM_SECONDS > _WORTH * here:
            self._serial(indices, done, indices.size, check, put)
            return
        self._parallel(indices, done, check, put, backend, per_entry, startup)

    def _serial(self, indices: np.ndarray, start: int, stop: int, check: BlockCheck,
                put: Callable[[int, EntryTable], None], seconds: float = math.inf) -> int:
        """Judge ``indices[start:stop]`` here, handing over every block (and the entries judged of the
        block in progress when interrupted); stops after ``seconds``, at the end of a block: blocks
        start at one entry and double, so a slow loss does not overshoot by more than the time taken.
        Returns the position reached."""
        began = time.perf_counter()
        position, size = start, 1 if seconds < math.inf else _SERIAL_BLOCK
        while position < stop and time.perf_counter() - began < seconds:
            block = indices[position:min(stop, position + size)]
            check(block, shifted(put, position))  # the check reports its own evaluations
            position += block.size
            size = min(2 * size, _SERIAL_BLOCK)
        return position

    def _payload(self, check: BlockCheck) -> tuple[Payload, float]:
        pickler = Pickler(self.on_eval)
        began = time.perf_counter()
        try:
            data = pickler.dumps(check)
        except Exception as exc:
            raise InputError(self._unpicklable(check, pickler, exc), option="n_jobs") from exc
        return Payload(data), time.perf_counter() - began

    def _unpicklable(self, check: BlockCheck, pickler: Pickler, exc: Exception) -> str:
        found = unpicklable_part(check, pickler)
        what = "the model or the batch"
        if found is not None:
            path, owner, value = found
            of = f" of a {qualified(type(owner))}" if owner is not None else ""
            what = f"`{path}`{of} (a {qualified(type(value))})" if path else f"a {qualified(type(value))}"
        return (f"n_jobs={self.n_jobs}: an exhaustive check in worker processes sends a copy of the model and the "
                f"batch to each worker, but {what} cannot be pickled ({type(exc).__name__}: {exc}). Create it where "
                f"it is used, or leave it out in __getstate__ and rebuild it in __setstate__; or use n_jobs=1.")

    def _parallel(self, indices: np.ndarray, start: int, check: BlockCheck,
                  put: Callable[[int, EntryTable], None], backend: _Backend, per_entry: float,
                  startup: float) -> None:
        """This process judges the entries up to ``head`` (the workers' start-up time's worth) while the
        workers start and judge the rest in chunks; chunks are handed over in order as they come. Once
        the workers, all together, prove clearly slower than this process alone (a busy machine), no
        more chunks are sent and this process judges what is left. Only chunks that ran while this
        process merely waited count: while it judges the head, the workers share the cores with it and
        with their own start-up, which says nothing of their speed afterwards."""
        payload, shipping = self._payload(check)
        head = min(indices.size, start + round(startup / max(per_entry, 1e-9)))
        tail = (indices.size - head) * per_entry
        # a chunk long enough that rebuilding the check in a worker (~ pickling it) is at most 5% of it,
        # short enough that every worker gets about four and the progress bar moves
        low = max(_CHUNK_SECONDS[0], 20 * (shipping + _CHUNK_OVERHEAD_SECONDS))
        seconds = min(max(tail / (4 * backend.workers), low), max(_CHUNK_SECONDS[1], low))
        size = max(1, round(seconds / max(per_entry, 1e-9)))
        tail_pieces = max(1, round((indices.size - head) / size))
        pieces = np.array_split(indices[head:], tail_pieces) if head < indices.size else []
        first_round = sum(piece.size for piece in pieces[:backend.workers])
        enough = threading.Event()  # set when the workers lost: no more pieces are sent
        position, judged, busy = head, 0, 0.0
        waiting_since = math.inf  # when this process finished the head and began to wait for chunks

        def meanwhile() -> None:
            nonlocal waiting_since
            self._serial(indices, start, head, check, put)
            waiting_since = time.perf_counter()

        def tasks() -> Iterator[Any]:
            from joblib import delayed

            for piece in pieces:
                if enough.is_set():
                    return
                yield delayed(judge_chunk)(payload, piece)

        def take(chunk: Chunk) -> None:
            nonlocal position, judged, busy
            if chunk.failure is not None:
                self._raise(chunk.failure)
            put(position, chunk.table)
            position += chunk.table.flat.size
            if self.on_eval is not None:
                self.on_eval(chunk.evaluations)
            if time.perf_counter() - chunk.seconds >= waiting_since:  # it ran while this process only waited
                judged, busy = judged + chunk.table.flat.size, busy + chunk.seconds
            # judged on a chunk per worker's worth: per entry, a worker takes clearly more than `workers`
            # times this process (all of them together are slower than this process alone)
            if judged >= first_round and busy >= _SLOWER * backend.workers * per_entry * judged:
                self.slow = True
                enough.set()

        waited = max(_SILENT_SECONDS, _SILENT_CHUNKS * seconds)
        try:
            _dispatch(self.n_jobs, backend, tasks(), take, timeout=waited,
                      meanwhile=meanwhile)
        except (GradcheckError, KeyboardInterrupt):
            raise
        except Exception as exc:  # joblib's or the backend's own failure: a worker died, a cluster went away
            raise self._broken(exc, waited, seconds) from None
        if position < indices.size:  # the pieces not sent
            self._serial(indices, position, indices.size, check, put)

    def _raise(self, failure: Failure) -> NoReturn:
        where = f"in a worker process (n_jobs={self.n_jobs})"
        if failure.kind == "interrupt":
            raise KeyboardInterrupt
        if failure.kind == "exit":
            raise ModelCallError(f"the model's code called sys.exit({failure.code}) {where} while the kit was "
                                 f"comparing gradients; a model must return or raise, not exit",
                                 ) from _RemoteTraceback(failure.remote)
        if failure.kind == "rebuild":
            raise InputError(
                f"n_jobs={self.n_jobs}: the model could not be rebuilt in a worker process ({failure.summary}). A "
                "worker must be able to import the modules the model's classes and functions come from (on a "
                "dask cluster: installed on every worker); or use n_jobs=1.", option="n_jobs",
            ) from _RemoteTraceback(failure.remote)
        # the model's own errors arrive as the kit's (the view names the call); anything else is the kit's
        # bug or the interpreter's (MemoryError) and is raised as it was, as it would be here
        if failure.error is not None:
            raise failure.error from _RemoteTraceback(failure.remote)
        raise RuntimeError(f"judging entries {where} raised {failure.summary}") from _RemoteTraceback(failure.remote)

    def _broken(self, exc: Exception, waited: float, chunk_seconds: float) -> GradcheckError:
        name = type(exc).__name__
        if isinstance(exc, TimeoutError | multiprocessing.TimeoutError):
            return ModelCallError(
                f"no chunk of entries came back from the workers within {waited:.0f} s (n_jobs={self.n_jobs}; one "
                f"should take about {chunk_seconds:.2g} s): a worker process probably died (os._exit, a crash), which "
                "joblib's multiprocessing backend cannot tell. Use the default backend (loky), which names a dead "
                "worker, or n_jobs=1.")
        if name in ("TerminatedWorkerError", "BrokenProcessPool", "KilledWorker") or "terminated" in str(exc):
            return ModelCallError(
                f"a worker process died{_exit_codes(exc)} while judging entries (n_jobs={self.n_jobs}): the model's "
                "code ended the process (os._exit), crashed the interpreter (a fault in compiled code) or ran out "
                "of memory. Run with n_jobs=1 to see the failure in this process.")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return ModelCallError(f"the worker processes failed (n_jobs={self.n_jobs}): {name}"
                              f"{': ' + first if first else ''}. Run with n_jobs=1 to check in this process.")


def _dispatch(n_jobs: int, backend: _Backend, tasks: Iterator[Any], take: Callable[[Chunk], None], *,
              timeout: float, meanwhile: Callable[[], object]) -> None:
    """Run ``tasks`` on joblib's active backend and hand each chunk to ``take`` in order, as they come;
    ``meanwhile`` runs in this process once the tasks are on their way.

    A backend that streams results (loky, threads, dask) gets the tasks in one call; one that cannot
    (multiprocessing) gets them in rounds on one pool, with a ``timeout``: its pool never notices a
    worker that died, and would wait for it forever.
    """
    from joblib import Parallel

    options: dict[str, Any] = {"n_jobs": n_jobs, "batch_size": 1, "max_nbytes": None}
    if backend.streams:
        outputs = None
        try:
            with _ctrl_c_held_from_new_workers(backend.children):
                outputs = Parallel(return_as="generator", pre_dispatch="2 * n_jobs", **options)(tasks)
            meanwhile()
            for chunk in outputs:
                take(chunk)
        except BaseException as exc:
            _abandon(outputs, exc)
            raise
        return
    meanwhile()
    with _ctrl_c_held_from_new_workers(backend.children):
        pool = Parallel(timeout=timeout, **options).__enter__()  # one pool for every round
    try:
        while batch := list(itertools.islice(tasks, 2 * backend.workers)):
            for chunk in pool(batch):
                take(chunk)
    finally:
        pool.__exit__(None, None, None)


@contextmanager
def _ctrl_c_held_from_new_workers(children: bool) -> Iterator[None]:
    """Block SIGINT in this thread while joblib starts its worker processes (``children``): a process
    inherits the blocked signal, so Ctrl-C at a terminal, sent to every process of the group, does not
    interrupt a worker still importing (a stray traceback); `judge_chunk` then ignores it for good. This
    thread sees a Ctrl-C that came meanwhile as soon as the workers are started."""
    if not children or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # before blocking: its first start unblocks SIGINT (CPython < 3.14)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _abandon(outputs: Any, exc: BaseException) -> None:
    """Stop joblib's generator as by an error inside it, so it cancels the chunks still queued and stops
    the workers (closing it instead would warn that results went unused)."""
    if outputs is None:
        return
    try:
        outputs.throw(exc)
    except BaseException:  # the same error, or the generator had already finished
        return


def entry_runner(n_jobs: int, on_eval: Callable[[int], None] | None = None) -> EntryRunner:
    """A runner for `compare_tensor` that spreads an exhaustive check's entries over joblib workers.

    ``n_jobs`` follows joblib (``-1``: every CPU); the workers are joblib's active backend, loky processes
    by default, so ``joblib.parallel_config(backend="dask")`` sends the work to a dask cluster.
    ``on_eval`` receives the number of loss evaluations as chunks come back. The result is identical to
    the serial run; see the module docstring for when the entries are judged in this process instead.
    """
    return _Runner(n_jobs, on_eval)
