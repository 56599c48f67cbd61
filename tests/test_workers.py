"""Exhaustive checks with ``n_jobs``: each promise of the worker pool against a model written to break it.

The same verdicts as the serial run, bit for bit; a worker that exits, dies or raises becomes the kit's
own error, never a hang; a model that cannot travel to a worker is named; no workers inside a worker;
threads at once; any joblib backend (threads, multiprocessing, dask); Ctrl-C keeps what was judged.

Workers start once per session (about a second), which the runner weighs against the work: most tests
use `eager` so that a check of a second or so already goes to workers, and then prove that it did by the
calls left in this process (``report.calls`` counts only those). Every test that could hang runs under
`deadline`.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.numeric import parallel
from tests import models

ROOT = Path(__file__).resolve().parent.parent
SIZES = (6, 24, 3)


# -- the models, each written to break one promise --------------------------------------------------
class SlowLoss(models.MLP):
    """Correct; every loss takes a millisecond or more (a model worth checking in workers). ``home`` is the
    process that built it, so a defect can show only in workers."""

    def __init__(self, sizes=SIZES, seed=0):
        super().__init__(sizes, seed=seed)
        self.home = os.getpid()

    def in_worker(self):
        return os.getpid() != self.home

    def loss(self, X, y):
        time.sleep(0.001)
        return super().loss(X, y)


class SlowSoftmaxDerivativeAppliedTwice(SlowLoss):
    def output_delta(self, p, t):
        return (p - t) * p * (1 - p)


class ExitsInWorker(SlowLoss):
    """Calls sys.exit from a worker, as a script's error handling might."""

    def loss(self, X, y):
        if self.in_worker():
            sys.exit(3)
        return super().loss(X, y)


class HardExitsInWorker(SlowLoss):
    """Ends a worker with os._exit, as a crash in compiled code would."""

    def loss(self, X, y):
        if self.in_worker():
            os._exit(3)
        return super().loss(X, y)


class CrashesInWorker(SlowLoss):
    """A fault in compiled code (here: reading address 0) kills the worker with SIGSEGV."""

    def loss(self, X, y):
        if self.in_worker():
            import ctypes

            ctypes.string_at(0)
        return super().loss(X, y)


class RaisesInWorker(SlowLoss):
    def loss(self, X, y):
        if self.in_worker():
            raise FloatingPointError("overflow in the worker")
        return super().loss(X, y)


class InterruptedInWorker(SlowLoss):
    """A Ctrl-C that lands in a worker while it judges entries."""

    def loss(self, X, y):
        if self.in_worker():
            raise KeyboardInterrupt
        return super().loss(X, y)


class LossOnThreadPool(SlowLoss):
    """Not fork-safe: each example's loss term is computed on a thread pool."""

    def loss(self, X, y):
        time.sleep(0.001)
        with ThreadPoolExecutor(2) as pool:
            terms = list(pool.map(lambda i: -np.log(self.forward(X[i:i + 1])[0, y[i]]), range(len(y))))
        return float(np.mean(terms))


class HoldsThreadPool(LossOnThreadPool):
    """Keeps its thread pool as an attribute: it cannot be pickled, so it cannot travel to a worker."""

    def __init__(self, sizes=SIZES, seed=0):
        super().__init__(sizes, seed)
        self.pool = ThreadPoolExecutor(2)

    def loss(self, X, y):
        time.sleep(0.001)
        terms = list(self.pool.map(lambda i: -np.log(self.forward(X[i:i + 1])[0, y[i]]), range(len(y))))
        return float(np.mean(terms))


def class_workers_cannot_import():
    """A model whose class lives in a module only this process has (built at run time, as a notebook or a
    plugin loader might): a worker cannot rebuild it."""
    module = types.ModuleType("gradcheck_kit_test_only_here")
    exec(textwrap.dedent("""
        from tests.test_workers import SlowLoss

        class OnlyHere(SlowLoss):
            pass
    """), module.__dict__)
    sys.modules[module.__name__] = module
    return module.OnlyHere()


# -- helpers ------------------------------------------------------------------------------------------
@pytest.fixture
def eager(monkeypatch):
    """Workers from the first tensor worth them: their one-time start-up is not weighed."""
    monkeypatch.setattr(parallel, "_COLD_START_SECONDS", 0.0)


class Hung(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging (the repo has no pytest-timeout); main thread, POSIX only."""

    def expired(signum, frame):
        raise Hung(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def data():
    return models.data(B=16, D=SIZES[0], K=SIZES[-1])


def check(model, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # joblib's "setting n_jobs=1" and the like must not reach the user
        return gk.diagnose(model, data(), exhaustive=True, progress=False, **options)


def verdicts(report):
    """Every judged entry of every tensor, bit for bit, with the report's own summary."""
    tables = [(t.param, t.complete, t.table.flat.tobytes(), t.table.analytic.tobytes(), t.table.numeric.tobytes(),
               t.table.rel_error.tobytes(), t.table.bound.tobytes(), t.table.status.tobytes(),
               sorted(t.table.reasons.items())) for t in report.tensors]
    d = report.to_dict()
    return tables, d["params"], d["findings"]


def assert_same_as_serial(report, serial, *, in_workers=True):
    assert verdicts(report) == verdicts(serial)
    if in_workers:  # some evaluations ran elsewhere, so fewer were counted here
        assert report.calls["loss"] < serial.calls["loss"], (report.calls, serial.calls)
    else:
        assert report.calls == serial.calls


# -- the same verdicts --------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [SlowLoss, SlowSoftmaxDerivativeAppliedTwice], ids=["correct", "softmax-twice"])
def test_workers_give_bitwise_the_serial_verdicts(model, eager):
    serial = check(model())
    with deadline(60):
        report = check(model(), n_jobs=2)
    assert_same_as_serial(report, serial)
    assert report.ok == (model is SlowLoss)
    if model is SlowSoftmaxDerivativeAppliedTwice:
        assert "doubled-softmax-derivative" in report.codes()


def test_a_short_check_stays_in_this_process():
    serial = check(SlowLoss((6, 4, 3)))
    report = check(SlowLoss((6, 4, 3)), n_jobs=2)  # well under the workers' start-up
    assert_same_as_serial(report, serial, in_workers=False)


def test_n_jobs_follows_joblib(eager):
    serial = check(SlowLoss())
    with deadline(60):
        assert_same_as_serial(check(SlowLoss(), n_jobs=-1), serial)
    with pytest.raises(gk.InputError, match="n_jobs=0"):
        check(SlowLoss(), n_jobs=0)


# -- a worker that exits, dies or raises ----------------------------------------------------------------
def test_sys_exit_in_a_worker_is_a_model_call_error(eager):
    with deadline(60), pytest.raises(gk.ModelCallError, match=r"called sys\.exit\(3\) in a worker process") as info:
        check(ExitsInWorker(), n_jobs=2)
    assert "joblib" not in str(info.value) and "loky" not in str(info.value)


def test_os_exit_in_a_worker_is_a_model_call_error(eager):
    with deadline(60), pytest.raises(gk.ModelCallError, match=r"a worker process died \(exit code 3\)") as info:
        check(HardExitsInWorker(), n_jobs=2)
    assert info.value.__cause__ is None  # no loky traceback chained
    assert "os._exit" in str(info.value) and "n_jobs=1" in str(info.value)


def test_a_crash_in_a_worker_is_a_model_call_error(eager):
    with deadline(60), pytest.raises(gk.ModelCallError, match=r"a worker process died \(signal SIGSEGV\)"):
        check(CrashesInWorker(), n_jobs=2)


def test_an_error_in_a_worker_is_named_as_in_this_process(eager):
    with deadline(60), pytest.raises(gk.ModelCallError, match=r"RaisesInWorker\.loss\(\.\.\.\) raised "
                                                                r"FloatingPointError: overflow in the worker"):
        check(RaisesInWorker(), n_jobs=2)


def test_the_next_check_after_a_dead_worker_works(eager):
    with deadline(60), pytest.raises(gk.ModelCallError):
        check(HardExitsInWorker(), n_jobs=2)
    serial = check(SlowLoss())
    with deadline(60):
        assert_same_as_serial(check(SlowLoss(), n_jobs=2), serial)


# -- models that are not fork-safe, not picklable, not importable ------------------------------------
def test_a_loss_on_a_thread_pool_is_checked_in_workers(eager):
    serial = check(LossOnThreadPool())
    with deadline(60):
        report = check(LossOnThreadPool(), n_jobs=2)
    assert_same_as_serial(report, serial)


def test_a_thread_pool_the_model_keeps_is_named_not_pickled(eager):
    model = HoldsThreadPool()
    with deadline(60), pytest.raises(gk.InputError, match=r"`pool` of a tests\.test_workers\.HoldsThreadPool "
                                                          r"\(a concurrent\.futures\.thread\.ThreadPoolExecutor\) "
                                                          r"cannot be pickled") as info:
        check(model, n_jobs=2)
    assert info.value.option == "n_jobs"
    assert "__getstate__" in str(info.value) and "n_jobs=1" in str(info.value)
    model.pool.shutdown()


def test_a_class_workers_cannot_import_is_a_clear_error(eager):
    with deadline(60), pytest.raises(gk.InputError, match=r"could not be rebuilt in a worker process "
                                                          r"\(ModuleNotFoundError") as info:
        check(class_workers_cannot_import(), n_jobs=2)
    assert info.value.option == "n_jobs"


# -- no workers inside a worker ---------------------------------------------------------------------------
def _check_in_a_pool_worker(sizes):
    """Runs in a multiprocessing.Pool worker (daemonic: it may not have children)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = gk.diagnose(SlowLoss(sizes), models.data(B=16, D=sizes[0], K=sizes[-1]), exhaustive=True,
                             n_jobs=2, progress=False)
    return verdicts(report), report.calls, [str(w.message) for w in caught]


def test_inside_a_multiprocessing_pool_worker_it_runs_serially(eager):
    serial = check(SlowLoss())
    with deadline(60), multiprocessing.get_context("fork").Pool(1) as pool:  # fork: the worker sees `eager`
        got, calls, caught = pool.apply(_check_in_a_pool_worker, (SIZES,))
    assert caught == []
    assert got == verdicts(serial)
    assert calls == serial.calls


def test_inside_a_joblib_worker_it_runs_serially(eager):
    from joblib import Parallel, delayed

    serial = check(SlowLoss())
    with deadline(60):
        [(got, calls, caught)] = Parallel(n_jobs=2)(delayed(_check_in_a_pool_worker)(SIZES) for _ in range(1))
    assert caught == []
    assert got == verdicts(serial)
    assert calls == serial.calls


# -- threads at once, other backends ------------------------------------------------------------------
def test_two_threads_checking_at_once_match_serial(eager):
    serial = {cls: check(cls()) for cls in (SlowLoss, SlowSoftmaxDerivativeAppliedTwice)}
    reports, errors = {}, []

    def run(cls):
        try:
            reports[cls] = gk.diagnose(cls(), data(), exhaustive=True, n_jobs=2, progress=False)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(cls,)) for cls in serial]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a check hung"
    assert errors == []
    for cls, report in reports.items():
        assert_same_as_serial(report, serial[cls])


@pytest.mark.parametrize("backend", ["threading", "multiprocessing"])
def test_other_joblib_backends_give_the_serial_verdicts(backend, eager):
    from joblib import parallel_config

    serial = check(SlowSoftmaxDerivativeAppliedTwice())
    with deadline(60), parallel_config(backend=backend):
        report = check(SlowSoftmaxDerivativeAppliedTwice(), n_jobs=2)
    assert verdicts(report) == verdicts(serial)


def test_a_dead_worker_of_the_multiprocessing_backend_is_named_not_waited_for(eager, monkeypatch):
    from joblib import parallel_config

    monkeypatch.setattr(parallel, "_SILENT_SECONDS", 3.0)  # its pool cannot tell a dead worker: a time limit
    monkeypatch.setattr(parallel, "_SILENT_CHUNKS", 1)  # (not 50 chunks' time: on a busy machine that can exceed 60 s)
    waits = []  # the time limit each tensor's dispatch was given, for the message if this fails
    dispatch = parallel._dispatch
    monkeypatch.setattr(parallel, "_dispatch", lambda *a, **k: waits.append(k["timeout"]) or dispatch(*a, **k))
    # a generous deadline: on a loaded 2-core machine (the suite beside other work) this took over 60 s in 2
    # of about 10 full runs
    started = time.perf_counter()
    with deadline(180), parallel_config(backend="multiprocessing"), \
            pytest.raises(gk.ModelCallError, match="a worker process probably died"):
        try:
            check(HardExitsInWorker(), n_jobs=2)
        finally:
            print(f"dispatch time limits {waits} s; {time.perf_counter() - started:.1f} s in all")


def test_dask_local_cluster_gives_the_serial_verdicts(eager):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    serial = check(SlowSoftmaxDerivativeAppliedTwice())
    with deadline(90), distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                dashboard_address=None) as cluster, \
            distributed.Client(cluster), parallel_config(backend="dask"):
        report = check(SlowSoftmaxDerivativeAppliedTwice(), n_jobs=-1)
    assert_same_as_serial(report, serial)


# -- Ctrl-C ---------------------------------------------------------------------------------------------
def test_ctrl_c_in_a_worker_gives_a_partial_report(eager):
    model = InterruptedInWorker()
    with deadline(60):
        report = gk.diagnose(model, data(), exhaustive=True, n_jobs=2, progress=False)
    assert report.complete is False and report.interrupted == "comparing gradients"
    partial = report.tensors[-1]
    assert all(t.complete for t in report.tensors[:-1])
    # the entries judged before the workers were handed the rest are kept
    assert not partial.complete and 0 < partial.checked < partial.planned


CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from gradcheck_kit.numeric import parallel
parallel._COLD_START_SECONDS = 0.0
import gradcheck_kit as gk
from tests.test_workers import MarksItsWorkers, data
model = MarksItsWorkers({marker!r})
print("ready", flush=True)
report = gk.diagnose(model, data(), exhaustive=True, n_jobs=2, progress=False)
print(json.dumps({{"complete": report.complete, "interrupted": report.interrupted,
                  "tensors": [[t.param, t.checked, t.planned, t.complete] for t in report.tensors]}}), flush=True)
"""


class MarksItsWorkers(SlowLoss):
    """Creates ``marker`` the first time a worker evaluates it: the parallel check is then under way."""

    def __init__(self, marker, sizes=(6, 128, 3)):
        super().__init__(sizes)
        self.marker = marker

    def loss(self, X, y):
        if self.in_worker() and not os.path.exists(self.marker):
            Path(self.marker).touch()
        return super().loss(X, y)


def ctrl_c_at_a_terminal(tmp_path, *, after):
    """Run a parallel check in a new process group and send SIGINT to the whole group, as a terminal does,
    ``after`` seconds once a worker is at work; (report, stderr)."""
    marker = tmp_path / f"worker-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT), marker=str(marker))], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        while not marker.exists() and time.monotonic() - started < 30 and proc.poll() is None:
            time.sleep(0.01)
        assert marker.exists(), "no worker started"
        time.sleep(after)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    return json.loads(out), err


def assert_partial(report):
    assert report["complete"] is False and report["interrupted"] == "comparing gradients"
    *done, last = report["tensors"]
    assert all(complete for *_, complete in done)
    param, checked, planned, complete = last
    # complete: Ctrl-C came between two tensors; 0 checked: before the tensor's first entry was judged
    assert complete or 0 <= checked < planned


def test_ctrl_c_at_a_terminal_gives_a_partial_report_and_no_worker_traceback(tmp_path):
    report, err = ctrl_c_at_a_terminal(tmp_path, after=0.3)
    assert_partial(report)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


@pytest.mark.slow
def test_ctrl_c_at_any_moment_never_hangs(tmp_path):
    partial = 0
    for after in np.random.default_rng(0).uniform(0.0, 1.0, size=8):
        report, err = ctrl_c_at_a_terminal(tmp_path, after=float(after))
        if not report["complete"]:  # (once complete, Ctrl-C may meet loky's shutdown at exit: not this check's)
            assert_partial(report)
            assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
            partial += 1
    assert partial >= 4


def test_n_jobs_without_exhaustive_says_it_had_no_effect():
    report = gk.diagnose(SlowLoss((6, 4, 3)), data(), n_jobs=2, progress=False)
    assert any("n_jobs=2 has no effect without exhaustive=True" in note for note in report.notes)
    assert not any("n_jobs" in note for note in gk.diagnose(SlowLoss((6, 4, 3)), data(), progress=False).notes)
