"""`diagnose`: one run, owned in one place — adapt → measure → attribute → check → report.

The `Run` owns the run's state and its one boundary: a ``KeyboardInterrupt`` at any moment returns a
partial report that says during what it was interrupted and keeps everything already judged; the
user's model is restored whether the run finishes, raises or is interrupted. Stages never catch
interrupts themselves.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import numpy as np

from . import __version__
from .checks import CODES, Check, Context, Finding, plan, suppressed
from .checks.codes import RETIRED
from .checks.dynamics import LR_NOTE
from .errors import ModelCallError
from .measure import Attribution, Measurement, attribute, expected_evaluations, measure
from .model import Batch, ModelGuard, ModelView, adapt, guard_model
from .report.data import Report
from .report.progress import ProgressBar
from .settings import Settings, options_docstring

__all__ = ["diagnose"]


def _without_interrupts(action: Callable[[], None]) -> None:
    """Run ``action`` with Ctrl-C held back (main thread only), so restoring the model is never cut short."""
    if threading.current_thread() is not threading.main_thread():
        action()
        return
    held: list[object] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *args: held.append(args))
    except (ValueError, TypeError):  # no Python-level handler can be set here
        action()
        return
    try:
        action()
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


class _Terminated(BaseException):
    """SIGTERM arrived during a run: unwinds like Ctrl-C so the model is restored first."""


def _terminated(signum: int, frame: Any) -> None:
    raise _Terminated


def _catch_sigterm() -> Any:
    """On the main thread, turn SIGTERM into `_Terminated` for the run; the previous handler (to put back
    and re-deliver to), or None where no handler can be set."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGTERM, _terminated)
    except (ValueError, TypeError, OSError):
        return None


def _default_sigterm_in_child() -> None:
    """A process forked during a run (a worker of the multiprocessing backend, and the idle replacement
    joblib starts when it gives up on a dead one) must die when told to: `_terminated` raising inside it, in
    the middle of its pool's queue, left it hanging and the pool's ``terminate`` waiting for it forever."""
    if signal.getsignal(signal.SIGTERM) is _terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_sigterm_in_child)


class Run:
    """One diagnosis: its phases, its state, the interrupt boundary, restoration and timing."""

    def __init__(self, model: Any, settings: Settings) -> None:
        self.model = model
        self.settings = settings
        self.started = time.perf_counter()
        self.phase = "reading the model"
        self.guard: ModelGuard | None = None
        self.view: ModelView | None = None
        self.batch: Batch | None = None
        self.layers: tuple[str, ...] = ()
        self.measurement = Measurement()
        self.attribution: Attribution | None = None
        self.context: Context | None = None
        self.interrupted: str | None = None
        self._sigterm: Any = None
        #: numpy's floating-point settings as the caller left them: the model's code runs with them
        self.user_errstate: dict[str, Any] = dict(np.geterr())

    # -- the boundary ---------------------------------------------------------------------------
    def __enter__(self) -> Run:
        self._sigterm = _catch_sigterm()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        _without_interrupts(self._restore)
        terminated = kind is not None and issubclass(kind, _Terminated)
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            if terminated:  # the model is restored: now terminate as asked (the caller's handler, or exit)
                signal.raise_signal(signal.SIGTERM)
        if kind is not None and issubclass(kind, KeyboardInterrupt | _Terminated):
            detail = self.measurement.step if self.phase == "measuring" else ""
            self.interrupted = detail if detail and detail != "done" else self.phase
            return True  # a partial report follows
        return False

    def _restore(self) -> None:
        if self.view is not None:
            self.view.release()
        if self.guard is not None:  # numpy's global random state only if the model draws from it (or unknown)
            self.guard.restore(model_draws=self.view is None or self.view.draws_global_random)

    # -- the phases -----------------------------------------------------------------------------
    def adapt(self, batch: Any) -> None:
        self.guard = guard_model(self.model)
        self.view, self.batch = adapt(self.model, batch, loss=self.settings.loss, seed=self.settings.seed,
                                      saved=self.guard.copies())
        self.view.user_errstate = self.user_errstate
        self.layers = self.view.layer_order()
        if self.settings.n_jobs != 1 and not self.settings.exhaustive:
            self.view.notes.add(f"n_jobs={self.settings.n_jobs} has no effect without exhaustive=True: a sampled "
                                "check is too short to share among workers, so it ran in this process")

    def measure(self) -> None:
        view, batch = self.view, self.batch
        if view is None or batch is None:
            return
        self.phase = "measuring"
        with ProgressBar(expected_evaluations(view, self.settings), enabled=self.settings.progress) as bar:
            measure(view, batch, self.settings, self.layers, self.measurement, on_eval=bar.advance)

    def attribute(self) -> None:
        self.phase = "attributing the errors to layers"
        self.attribution = self._attribution()

    def check(self) -> None:
        if self.view is None or self.batch is None or self.attribution is None or not self.measurement.complete:
            return
        self.phase = "running the named checks"
        self.context = Context(view=self.view, batch=self.batch, settings=self.settings, measurement=self.measurement,
                               layers=self.layers, attribution=self.attribution)
        # every able check runs, skipped codes too: the report then says what skip=/select= hid
        checks = plan(wanted=lambda code: True, able=self._able)
        last_reader = max((i for i, check in enumerate(checks) if check.analytic), default=-1)
        with ProgressBar(len(checks), enabled=self.settings.progress, description="named checks", unit="checks") as bar:
            for i, check in enumerate(checks):
                if i > last_reader:  # no check left reads the analytic gradient: free its parameter-sized arrays
                    self.measurement.release_analytic()
                self.context.findings.extend(check(self.context))
                bar.advance(1)

    def report(self) -> Report:
        """The report of whatever was done (all of it, unless the run was interrupted)."""
        view, m = self.view, self.measurement
        made: list[Finding] = list(self.context.findings) if self.context else []
        findings = [f for f in made if self._wanted(f.code)]
        return Report(
            model=view.label if view else type(self.model).__name__,
            style=view.style if view else "not read",
            kind=view.capabilities.kind if view else "network",
            batch_size=self.batch.size if self.batch else 0,
            findings=findings,
            hidden=[f for f in made if not self._wanted(f.code)],
            tensors=m.tensors,
            attribution=self.attribution if self.attribution and self.complete else self._attribution(),
            base_loss=m.base_loss,
            settings=self.settings.to_dict(),
            notes=self._notes(),
            calls=dict(view.calls) if view else {},
            seconds=time.perf_counter() - self.started,
            version=__version__,
            total_tensors=len(view.names) if view else 0,
            isolated=m.isolated,
            interrupted=self.interrupted,
        )

    # -- helpers --------------------------------------------------------------------------------
    def _notes(self) -> list[str]:
        if self.view is None:
            return []
        notes = list(self.view.notes)
        # a note, not a finding: a correct model's report then has no findings at all
        if (self.context is not None and self.settings.lr is None and self.view.capabilities.provides("network")
                and self._wanted("lr-checks-skipped")):
            notes.append(LR_NOTE)
        return notes

    @property
    def complete(self) -> bool:
        return self.interrupted is None

    def _attribution(self) -> Attribution:
        if self.view is None:
            return Attribution()
        return attribute(self.measurement.tensors, self.measurement.isolated, self.layers,
                         chain=self.view.capabilities.chain)

    def _wanted(self, code: str) -> bool:
        return not suppressed(code, select=self.settings.select, skip=self.settings.skip)

    def _able(self, check: Check) -> bool:
        """Checks are chosen by what the model and the options provide, never by the model's name."""
        if self.view is None:
            return False
        caps = self.view.capabilities
        return all(self.settings.lr is not None if need == "lr" else caps.provides(need) for need in check.requires)


def diagnose(
    model: Any,
    batch: Any,
    *,
    lr: float | None = None,
    select: Iterable[str] | str | None = None,
    skip: Iterable[str] | str | None = None,
    exhaustive: bool = False,
    max_entries: int = 12,
    probes: int = 2,
    rtol: float | None = None,
    atol: float | None = None,
    eps: float | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool | None = None,
    loss: Any = None,
) -> Report:
    settings = Settings(lr=lr, select=select, skip=skip, exhaustive=exhaustive,  # type: ignore[arg-type]
                        max_entries=max_entries, probes=probes, rtol=rtol, atol=atol, eps=eps, seed=seed,
                        n_jobs=n_jobs, progress=progress, loss=loss)
    settings.check_codes(set(CODES) | set(RETIRED))
    run = Run(model, settings)
    try:
        # the kit's arithmetic meets inf and nan on purpose (and says so): np.seterr(all="raise") in the caller
        # applies to the model's own code (see ModelView._call), not to the kit's
        with run, np.errstate(all="ignore"):
            run.adapt(batch)
            run.measure()
            run.attribute()
            run.check()
    except SystemExit as exc:  # user code must not end the caller's process, nor pass for a success
        raise ModelCallError(f"the model's code called sys.exit({exc.code!r}) while the kit was {run.phase}; "
                             f"a model must return or raise, not exit") from exc
    return run.report()


diagnose.__doc__ = f"""Check a hand-written model's gradients layer by layer and name what is wrong.

Parameters
----------
model
    A forward/backward object, a CS231n-style model, a self-training object, a list of layers,
    ``layered(...)``, or ``wrap(...)`` around functions (see the README). Never modified: the kit works on a
    private copy, and every parameter array is restored bitwise even if the model's code raises.
batch
    ``(X, y)``: inputs of shape (B, ...) and labels of shape (B,) (class indices) or (B, K).
{options_docstring()}

Returns
-------
Report
    ``report.ok`` is True iff the run completed and there is no error finding.

Raises
------
InputError
    The batch or an option is unusable.
ModelInterfaceError
    The model fits no supported interface or returns values of the wrong shape or kind.
ModelCallError
    The model's own code raised; the original exception is chained.
"""
