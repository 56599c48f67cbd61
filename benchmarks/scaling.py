"""Scaling: the default check with and without ``lr`` from 10³ to 10⁷ parameters, and one 10⁸ row.

For every size, in one run and alternated so both see the same machine:

* the time of ``diagnose`` without ``lr`` and with a stable ``lr`` (their ratio is the price of the
  training-dynamics checks);
* the kit's own time: everything outside the model's forward, loss and backward (timed inside the model
  itself, outermost call only), as a share of the check;
* the peak memory (tracemalloc, which sees numpy's buffers) against the network's parameters plus one
  batch's activations, without ``lr``, with a stable ``lr`` and with an unstable one (which adds the
  top-eigenvalue estimate);
* for float32: the same network in float32, its peak memory against its own (float32) bytes.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from typing import Any, ClassVar

import numpy as np
from networks import BATCH, MLP, batch, n_params

import gradcheck_kit as gk

#: About 10³ … 10⁷ parameters (tanh MLPs with softmax outputs, batch 64).
SCALING_SIZES = (
    (32, 24, 10),
    (64, 128, 10),
    (256, 320, 64, 10),
    (784, 1024, 256, 10),
    (2048, 4096, 512, 10),
)
#: About 10⁸ parameters: the scale row.
SCALE_SIZES = (8192, 12288, 10)
STABLE_LR = 0.1
UNSTABLE_LR = 50.0


class TimedMLP(MLP):
    """The benchmark MLP, timing its own forward, loss and backward (outermost call only)."""

    clock: ClassVar[dict[str, float]] = {"seconds": 0.0, "depth": 0}  # shared by the kit's private copies

    def _timed(self, method: Any, *args: Any) -> Any:
        clock = TimedMLP.clock
        clock["depth"] += 1
        start = time.perf_counter()
        try:
            return method(*args)
        finally:
            clock["depth"] -= 1
            if clock["depth"] == 0:
                clock["seconds"] += time.perf_counter() - start

    def forward(self, X: np.ndarray) -> np.ndarray:
        return self._timed(super().forward, X)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return self._timed(super().loss, X, y)

    def backward(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        return self._timed(super().backward, X, y)


def activation_bytes(sizes: tuple[int, ...], itemsize: int = 8) -> int:
    return BATCH * sum(sizes) * itemsize


def param_bytes(model: MLP) -> int:
    return sum(a.nbytes for a in model.params.values())


def timed_run(model: MLP, data: Any, **options: Any) -> tuple[float, float, gk.Report]:
    """Seconds of one ``diagnose``, the share of them outside the model, and the report."""
    TimedMLP.clock["seconds"] = 0.0
    start = time.perf_counter()
    report = gk.diagnose(model, data, progress=False, **options)
    total = time.perf_counter() - start
    return total, 1 - TimedMLP.clock["seconds"] / total, report


def peak_bytes(model: MLP, data: Any, **options: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        gk.diagnose(model, data, progress=False, **options)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def scaling_row(sizes: tuple[int, ...], rounds: int) -> dict[str, Any]:
    model, data = TimedMLP(sizes), batch(sizes)
    gk.diagnose(model, data, progress=False, lr=STABLE_LR)  # warm-up: imports, caches
    plain, with_lr, shares, shares_lr = [], [], [], []
    for _ in range(rounds):
        seconds, share, report = timed_run(model, data)
        plain.append(seconds)
        shares.append(share)
        seconds, share, report_lr = timed_run(model, data, lr=STABLE_LR)
        with_lr.append(seconds)
        shares_lr.append(share)
    base = param_bytes(model) + activation_bytes(sizes)
    memory = {
        "no_lr": peak_bytes(model, data),
        "stable_lr": peak_bytes(model, data, lr=STABLE_LR),
        "unstable_lr": peak_bytes(model, data, lr=UNSTABLE_LR),
    }
    row: dict[str, Any] = {
        "sizes": sizes,
        "params": n_params(sizes),
        "rounds": rounds,
        "seconds": plain,
        "seconds_lr": with_lr,
        "lr_ratio": statistics.median(b / a for a, b in zip(plain, with_lr)),
        "kit_share": statistics.median(shares),
        "kit_share_lr": statistics.median(shares_lr),
        "calls": sum(report.calls.values()),
        "calls_lr": sum(report_lr.calls.values()),
        "ok": report.ok and report_lr.ok,
        "param_bytes": param_bytes(model),
        "activation_bytes": activation_bytes(sizes),
        "peak_bytes": memory,
        "peak_ratio": {k: v / base for k, v in memory.items()},
    }
    row["float32"] = float32_row(sizes)
    return row


def float32_row(sizes: tuple[int, ...]) -> dict[str, Any]:
    """The same network in float32: peak memory against its own bytes, and whether the check is OK."""
    model, (X, y) = MLP(sizes, dtype=np.float32), batch(sizes)
    data = (X.astype(np.float32), y)
    report = gk.diagnose(model, data, progress=False)
    own = param_bytes(model) + activation_bytes(sizes, itemsize=4)
    peak = peak_bytes(model, data)
    return {"ok": report.ok, "param_bytes": param_bytes(model), "peak_bytes": peak, "peak_ratio": peak / own}


def scale_row(sizes: tuple[int, ...] = SCALE_SIZES) -> dict[str, Any]:
    """Default checks of a ~10⁸-parameter network: the first in the process (time, kit share, calls), then a
    second one (its memory comes from the system warm: on this machine a fresh 800 MB allocation costs up to
    ten times a copy), then peak memory (a third check, under tracemalloc)."""
    model, data = TimedMLP(sizes), batch(sizes)
    forward_start = time.perf_counter()
    model.loss(*data)
    forward = time.perf_counter() - forward_start
    gc.collect()
    seconds, share, report = timed_run(model, data)  # timed without tracemalloc, which slows allocations
    gc.collect()
    again, share_again, _ = timed_run(model, data)
    peak = peak_bytes(model, data)
    base = param_bytes(model) + activation_bytes(sizes)
    return {
        "sizes": sizes, "params": n_params(sizes), "seconds": seconds, "kit_share": share,
        "seconds_again": again, "kit_share_again": share_again,
        "forward_seconds": forward, "calls": sum(report.calls.values()), "ok": report.ok,
        "param_bytes": param_bytes(model), "peak_bytes": peak, "peak_ratio": peak / base,
    }
