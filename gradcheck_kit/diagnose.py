"""`diagnose`: adapt the model, measure its gradients, run the registered checks, return a `Report`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from . import __version__
from .adapters import FunctionalModel, ModelGuard, adapt
from .adapters.slots import ItemSlot
from .adapters.torch import adapt_torch, function_inputs_batch, is_torch_function, is_torch_module, torch_guard
from .batch import as_batch
from .checks import CHECKS, CODES, suppressed
from .errors import InputError
from .checks.context import Context
from .findings import Finding
from .measurement import expected_evaluations, measure
from .naming import order_layers
from .progress import ProgressBar
from .report import LayerSummary, Report
from .settings import Settings

__all__ = ["diagnose"]


def _layer_summaries(ctx: Context) -> list[LayerSummary]:
    origins = set(ctx.origin_layers())
    inherited = {layer for o in origins for layer in ctx.inherited_from(o)}
    out = []
    for layer in reversed(ctx.layers):
        tensors = ctx.tensors_of(layer)
        if not tensors:
            continue
        verdicts = {t.verdict for t in tensors}
        verdict = "fail" if "fail" in verdicts else ("pass" if "pass" in verdicts else "inconclusive")
        role = "origin" if layer in origins else ("inherited" if layer in inherited else "")
        if role == "origin" and ctx.isolated_culprit(layer) is not None:
            role = "inherited"  # its own backward is right; a parameter-free layer nearer the loss is not
        out.append(LayerSummary(layer, tuple(t.param for t in tensors), verdict, role))
    return out


def _capable(requires: frozenset[str], view: Any, settings: Settings) -> bool:
    """Checks are chosen by what the model and options provide, never by the model's name."""
    if "lr" in requires and (settings.lr is None or not view.is_network):
        return False
    if "predict" in requires and not view.can_predict:
        return False
    return not ("train" in requires and not view.can_train)


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
    progress: bool | None = None,
    loss: Any = None,
    n_jobs: int = 1,
) -> Report:
    """Check a hand-written model's gradients layer by layer and name what is wrong.

    Parameters
    ----------
    model
        A forward/backward object, a CS231n-style model, a self-training object, or ``wrap(...)``
        around functions (see the README). Never modified: the kit works on a private copy, and every
        parameter array is restored bitwise even if the model's code raises.
    batch
        ``(X, y)``: inputs of shape (B, ...) and labels of shape (B,) (class indices) or (B, K).
    lr
        The learning rate you train with; enables the training-dynamics checks.
    select, skip
        Finding codes to report only / to leave out (list or comma-separated string).
    exhaustive
        Check every entry of every tensor instead of a sample.
    max_entries
        Entries sampled per tensor (the largest-|gradient| third, the rest at random).
    probes
        Random unit directions checked per tensor (each covers every entry).
    rtol, atol
        Tolerance: agreement iff ``|a - n| <= max(atol, noise floor) + rtol * max(|a|, |n|)``;
        ``rtol`` defaults by working dtype (1e-6 for float64).
    eps
        Base finite-difference step (default cbrt(machine eps), scaled per tensor by max(1, RMS)).
    seed
        Seed of the kit's own random choices (entries, directions); the global numpy state is untouched.
    n_jobs
        Worker processes for ``exhaustive=True`` (forked, BLAS pinned to one thread each); the result is
        identical to the serial run.
    loss
        For a torch ``nn.Module``: the loss function ``loss(outputs, y)`` (e.g. ``nn.CrossEntropyLoss()``).
    progress
        Show a progress bar on stderr for checks that run longer than a moment (default: only when
        stderr is a terminal). Ctrl-C during the check returns a partial report with
        ``report.complete`` False; the model is restored either way.

    Returns
    -------
    Report
        ``report.ok`` is True iff there is no error finding.

    Raises
    ------
    InputError
        The batch or an option is unusable.
    ModelInterfaceError
        The model fits no supported interface or returns values of the wrong shape or kind.
    ModelCallError
        The model's own code raised; the original exception is chained.
    """
    started = time.perf_counter()
    settings = Settings.build(lr=lr, select=select, skip=skip, exhaustive=exhaustive, max_entries=max_entries,
                              probes=probes, rtol=rtol, atol=atol, eps=eps, seed=seed, n_jobs=n_jobs)
    extra, hooks = [], []
    if isinstance(model, FunctionalModel) and hasattr(model.params, "__setitem__"):
        extra = [ItemSlot(name=k, mapping=model.params, key=k) for k in model.params]  # type: ignore[arg-type]
    torch_model = is_torch_module(model) or is_torch_function(model)
    if torch_model:
        hooks.append(torch_guard(model))
        if is_torch_module(model) and loss is None:
            raise InputError("a torch nn.Module needs loss=: the loss function loss(outputs, y), e.g. nn.CrossEntropyLoss()")
    elif loss is not None:
        raise InputError("loss= is for torch nn.Module models; a numpy model brings its own loss(X, y)")
    data = function_inputs_batch(batch) if is_torch_function(model) else as_batch(batch)
    with ModelGuard(model, extra=extra, hooks=hooks):
        view = adapt_torch(model, batch, data, loss=loss, seed=seed) if torch_model else adapt(model, data)
        try:
            layers = tuple(order_layers(view.names))
            with ProgressBar(expected_evaluations(view, settings), enabled=progress) as bar:
                measurement = measure(view, data, settings, layers, on_eval=bar.advance)
            ctx = Context(view=view, batch=data, settings=settings, measurement=measurement, layers=layers)
            findings: list[Finding] = []
            complete = measurement.complete
            runnable = [check for check in CHECKS.values() if complete
                        and not all(suppressed(code, select=settings.select, skip=settings.skip) for code in check.codes)
                        and _capable(check.requires, view, settings)]
            try:
                with ProgressBar(len(runnable), enabled=progress, description="named checks", unit="checks") as bar:
                    for check in runnable:
                        for finding in check(ctx):
                            if not suppressed(finding.code, select=settings.select, skip=settings.skip):
                                findings.append(finding)
                        bar.advance(1)
            except KeyboardInterrupt:
                complete = False  # a partial report, marked incomplete; the guard restores the model
            summaries = _layer_summaries(ctx)
        finally:
            view.release()
    return Report(
        model=view.label,
        style=view.style,
        batch_size=data.size,
        findings=findings,
        tensors=measurement.tensors,
        layers=summaries,
        base_loss=measurement.base_loss,
        settings=settings.to_dict(),
        notes=view.notes,
        calls=dict(view.calls),
        complete=complete,
        seconds=time.perf_counter() - started,
        version=__version__,
        total_tensors=len(view.names),
        isolated=measurement.isolated,
    )


_ = CODES  # re-exported for the CLI and docs
