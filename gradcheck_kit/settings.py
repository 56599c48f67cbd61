"""`Settings`: every option of a diagnosis, written once.

Each option is one dataclass field carrying its default, its validation, its help text and, where the
command line offers it, its flag. `diagnose`'s docstring, the report's echo of the settings
(`Settings.to_dict`) and the CLI's flags are all derived from these fields.

May import `numeric` (the tolerance rule) and `errors`; nothing from `model`, `measure` or `checks`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .numeric.tolerance import Tolerance

__all__ = ["Option", "Settings", "option_fields"]


@dataclass(frozen=True)
class Option:
    """How one option is described and checked.

    ``help`` is one sentence (CLI help and the first line of the docstring entry); ``details`` adds to
    the docstring; ``flag`` is the CLI flag (``None``: not on the command line); ``expected`` says what
    a valid value is, for error messages; ``valid`` decides it.
    """

    help: str
    expected: str
    valid: Callable[[Any], bool]
    details: str = ""
    flag: str | None = None
    metavar: str | None = None
    kind: type = str
    in_report: bool = True


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_or_none(value: Any) -> bool:
    return value is None or (_number(value) and value > 0)


def _non_negative_or_none(value: Any) -> bool:
    return value is None or (_number(value) and value >= 0)


def _integer(minimum: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _flag(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy's bool too


def _codes(value: Any) -> bool:
    return value is None or isinstance(value, str) or (
        isinstance(value, Iterable) and all(isinstance(code, str) for code in value))


def _loss_spec(value: Any) -> bool:
    if value is None or isinstance(value, str) or callable(value):
        return True
    return isinstance(value, tuple | list) and len(value) == 2 and all(callable(f) for f in value)


def _option(default: Any, **meta: Any) -> Any:
    return field(default=default, metadata={"option": Option(**meta)})


@dataclass(frozen=True)
class Settings:
    """Options of `diagnose`; construction validates them and raises `InputError` naming the bad one."""

    lr: float | None = _option(
        None, help="the learning rate you train with; enables the training-dynamics checks",
        expected="a positive finite number", valid=_positive_or_none, flag="--lr", metavar="LR", kind=float)
    select: frozenset[str] | None = _option(
        None, help="finding codes to report only (a list, or a comma-separated string)",
        expected="finding codes, as a list or a comma-separated string", valid=_codes, flag="--select", metavar="CODES")
    skip: frozenset[str] | None = _option(
        None, help="finding codes to leave out (a list, or a comma-separated string)",
        expected="finding codes, as a list or a comma-separated string", valid=_codes, flag="--skip", metavar="CODES")
    exhaustive: bool = _option(
        False, help="check every entry of every tensor instead of a sample",
        expected="True or False", valid=_flag, flag="--exhaustive", kind=bool)
    max_entries: int = _option(
        12, help="entries sampled per tensor (the largest-|gradient| third, the rest at random)",
        expected="an integer >= 1", valid=_integer(1), flag="--max-entries", metavar="N", kind=int)
    probes: int = _option(
        2, help="random unit directions checked per tensor (each covers every entry)",
        expected="an integer >= 0", valid=_integer(0), flag="--probes", metavar="N", kind=int)
    rtol: float | None = _option(
        None, help="relative tolerance (default by working dtype: 1e-6 for float64)",
        details="Agreement iff ``|a - n| <= max(atol, noise floor) + rtol * max(|a|, |n|)``.",
        expected="a positive finite number", valid=_positive_or_none, flag="--rtol", metavar="RTOL", kind=float)
    atol: float | None = _option(
        None, help="absolute tolerance (default: the measured noise floor only)",
        expected="a number >= 0", valid=_non_negative_or_none, flag="--atol", metavar="ATOL", kind=float)
    eps: float | None = _option(
        None, help="base finite-difference step (default cbrt(machine eps), scaled per tensor by max(1, RMS))",
        expected="a positive finite number", valid=_positive_or_none, flag="--eps", metavar="EPS", kind=float)
    seed: int = _option(
        0, help="seed of the kit's own random choices (entries, directions); the global numpy state is untouched",
        expected="an integer >= 0", valid=_integer(0), flag="--seed", metavar="N", kind=int)
    n_jobs: int = _option(
        1, help="workers for an exhaustive check (joblib's n_jobs: -1 uses every CPU); the result is identical to "
        "the serial run",
        details="Workers are joblib's active backend (loky processes unless ``joblib.parallel_config`` says "
        "otherwise, e.g. ``backend='dask'``); each receives a pickled copy of the model and the batch. A check too "
        "short for workers to pay off runs in this process.",
        expected="a non-zero integer (-1: every CPU)", flag="--jobs", metavar="N", kind=int,
        valid=lambda v: isinstance(v, int) and not isinstance(v, bool) and v != 0)
    progress: bool | None = _option(
        None, help="show a progress bar for long checks (default: when stderr is a terminal, or in a Jupyter "
        "notebook)",
        details="On a terminal the bar is drawn on stderr; in a notebook it is one cell output redrawn in place and "
        "emptied when the check ends (no ipywidgets needed). Ctrl-C during the check returns a partial report "
        "with ``report.complete`` False; the model is "
        "restored either way.",
        expected="True, False or None", valid=lambda v: v is None or isinstance(v, bool), in_report=False)
    loss: Any = _option(
        None, help="the loss, where the model's code has none: a name ('mse', 'cross_entropy'), your function "
        "loss(outputs, targets), or (loss, loss_derivative) for a list of layers; for a torch nn.Module, e.g. "
        "nn.CrossEntropyLoss()",
        expected="a loss name, a function, or a pair (loss, loss_derivative)", valid=_loss_spec, in_report=False)

    def __post_init__(self) -> None:
        for f in option_fields():
            value = getattr(self, f.name)
            meta: Option = f.metadata["option"]
            if not meta.valid(value):
                raise InputError(f"{f.name}={value!r}; expected {meta.expected}", option=f.name)
            if meta.kind is float and value is not None:
                object.__setattr__(self, f.name, float(value))
            elif meta.kind is bool:
                object.__setattr__(self, f.name, bool(value))
        for name in ("select", "skip"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = [c.strip() for c in value.split(",") if c.strip()]
            object.__setattr__(self, name, None if value is None else frozenset(value))

    @property
    def tolerance(self) -> Tolerance:
        return Tolerance(rtol=self.rtol, atol=self.atol)

    def check_codes(self, known: Collection[str]) -> None:
        """Raise `InputError` if ``select``/``skip`` name a code that is not in ``known``."""
        for name in ("select", "skip"):
            unknown = sorted(set(getattr(self, name) or ()) - set(known))
            if not unknown:
                continue
            matches = {c: difflib.get_close_matches(c, sorted(known), n=1, cutoff=0.6) for c in unknown}
            code = next((c for c in unknown if matches[c]), unknown[0])  # a typo first: it has a suggestion
            close = matches[code]
            unknown = [code] + [c for c in unknown if c != code]
            hint = (f"did you mean {close[0]!r}?" if close
                    else "expected a finding code such as 'gradient-mismatch'.")
            others = f" ({len(unknown) - 1} more unknown: {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
            raise InputError(f"{name}={code!r} is not a finding code{others}; {hint} The codes are listed by "
                             f"'gradcheck-kit codes' (gradcheck_kit.codes in Python).", option=name)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe settings, as echoed in every report."""
        out: dict[str, object] = {}
        for f in option_fields():
            if f.metadata["option"].in_report:
                value = getattr(self, f.name)
                out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        out["tolerance_rule"] = self.tolerance.describe()
        return out


def option_fields() -> tuple[dataclasses.Field[Any], ...]:
    """The option fields of `Settings`, in declaration order."""
    return tuple(f for f in dataclasses.fields(Settings) if "option" in f.metadata)


def options_docstring(indent: str = "") -> str:
    """The numpydoc entries of every option, for `diagnose`'s docstring."""
    lines = []
    for f in option_fields():
        meta: Option = f.metadata["option"]
        text = meta.help[0].upper() + meta.help[1:] + "."
        lines.append(f"{indent}{f.name}")
        lines.append(f"{indent}    {text}" + (f" {meta.details}" if meta.details else ""))
    return "\n".join(lines)
