"""The registry of named checks, and the one place that decides which findings are suppressed.

A check is a function ``check_<subject>_<property>(ctx) -> Iterable[Finding]``. It never prints and
never raises for a finding. Registering declares the finding codes it can emit (stable public API) and
what it needs from the model (``lr``, ``predict``, ``train``), so checks are chosen by capability.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InputError
from ..findings import Finding, Severity

if TYPE_CHECKING:
    from .context import Context

__all__ = ["CHECKS", "Check", "CodeInfo", "CODES", "register", "resolve_codes", "suppressed"]

CheckFunc = Callable[["Context"], Iterable[Finding]]


@dataclass(frozen=True)
class CodeInfo:
    """A finding code: its default severity and a one-line description."""

    code: str
    severity: Severity
    summary: str


@dataclass(frozen=True)
class Check:
    """A registered check."""

    name: str
    codes: tuple[str, ...]
    requires: frozenset[str]
    func: CheckFunc

    def __call__(self, ctx: Context) -> Iterable[Finding]:
        return self.func(ctx)


CHECKS: dict[str, Check] = {}
CODES: dict[str, CodeInfo] = {}


def register(*codes: CodeInfo, requires: Collection[str] = ()) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``check_*`` as a named check emitting ``codes``."""

    def decorate(func: CheckFunc) -> CheckFunc:
        name = func.__name__
        if not name.startswith("check_"):
            raise ValueError(f"check function {name!r} must be named check_<subject>_<property>")
        if name in CHECKS:
            raise ValueError(f"check {name!r} is registered twice")
        for info in codes:
            if info.code in CODES and CODES[info.code] != info:
                raise ValueError(f"finding code {info.code!r} is declared twice with different meanings")
            CODES[info.code] = info  # several checks may emit one code (e.g. whole-model and layer-wise)
        CHECKS[name] = Check(name=name, codes=tuple(c.code for c in codes), requires=frozenset(requires), func=func)
        return func

    return decorate


def resolve_codes(option: str, codes: Iterable[str] | str | None) -> frozenset[str] | None:
    """Validate user-given codes for ``select``/``skip`` (a list, or a comma-separated string)."""
    if codes is None:
        return None
    if isinstance(codes, str):
        codes = [c.strip() for c in codes.split(",") if c.strip()]
    wanted = frozenset(codes)
    unknown = sorted(wanted - set(CODES))
    if unknown:
        raise InputError(f"{option}= got unknown finding code(s) {unknown}; expected any of {sorted(CODES)}")
    return wanted


def suppressed(code: str, *, select: frozenset[str] | None, skip: frozenset[str] | None) -> bool:
    """The single rule for silencing: a code is reported iff it is selected (or no selection) and not skipped."""
    if select is not None and code not in select:
        return True
    return skip is not None and code in skip
