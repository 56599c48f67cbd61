"""Message pieces shared by the gradient checks: the numbers behind a tensor's verdict, in one format."""

from __future__ import annotations

import math

from ..numeric.comparison import TensorCheck
from .findings import format_number as fmt

__all__ = ["counts", "describe_tensor"]


def describe_tensor(t: TensorCheck) -> str:
    """The numbers behind a tensor's verdict, in the one format every message uses."""
    worst = t.worst
    parts = []
    failing = [p for p in t.probes if p.judgement.status == "fail"]
    if failing and (worst is None or worst.judgement.status != "fail"):  # only a direction shows the error
        probe = max(failing, key=lambda p: p.judgement.rel_error)
        j = probe.judgement
        parts.append(f"rel. error {fmt(j.rel_error)} along {probe.along or 'a random direction'}: analytic "
                     f"{fmt(j.analytic, 4)} vs numeric {fmt(j.numeric, 4)}")
    elif worst is not None:
        j = worst.judgement
        parts.append(f"max rel. error {fmt(j.rel_error)} at {worst.index}: analytic {fmt(j.analytic, 4)} vs numeric "
                     f"{fmt(j.numeric, 4)}")
    if math.isfinite(t.norm_ratio):
        parts.append(f"norm ratio {fmt(t.norm_ratio, 3)}, cosine {fmt(t.cosine, 3)}")
    parts.append(f"eps {fmt(t.step)}, rtol {fmt(t.rtol)}, noise floor {fmt(t.noise)}, {t.working_dtype}")
    if t.loss_noise > 0 and t.rtol > 1e-6:
        parts.append(f"loss noise {fmt(t.loss_noise)}: the loss carries less than float64 precision")
    return "; ".join(parts)


def counts(t: TensorCheck) -> str:
    """``"3 of 12 checked entries and 2 of 2 random directions"``."""
    text = f"{t.failed_entries} of {t.checked} checked entries"
    random = [p for p in t.probes if not p.along]
    if random:
        failed_probes = sum(p.judgement.status == "fail" for p in random)
        text += f" and {failed_probes} of {len(random)} random directions"
    failed_along = [p.along for p in t.probes if p.along and p.judgement.status == "fail"]
    if failed_along:
        text += f", and along {' and '.join(failed_along)} (a move that keeps the layer's kinks in place)"
    return text
