"""The registry of named checks, their order, and the one place that decides which findings are suppressed.

A check is a function ``check_<subject>_<property>(ctx) -> Iterable[Finding]``. It never prints and
never raises for a finding. Registering declares the finding codes it can emit (from `codes`), what it
needs (``requires``: ``"lr"`` from the settings, or a capability of the model view such as
``"predict"``, ``"train"``, ``"layered"``, ``"network"``), and the codes of other checks whose findings
it reads (``reads``): those checks then run first, and the reader asks ``ctx.found(code)`` instead of
re-running them. A check that reads the measurement's whole analytic gradient (``ctx.measurement.analytic``,
or the evidence built from it: ``ctx.directions``, ``ctx.delta_fits``, ``ctx.output_model``) says so with
``analytic=True``: the run releases that parameter-sized gradient once no such check is left to run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from .findings import CodeInfo, Finding

if TYPE_CHECKING:
    from .context import Context

__all__ = ["CHECKS", "CODES", "Check", "plan", "register", "suppressed"]

CheckFunc = Callable[["Context"], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    """A registered check."""

    name: str
    codes: tuple[str, ...]
    requires: frozenset[str]
    reads: frozenset[str]
    func: CheckFunc
    analytic: bool = False

    def __call__(self, ctx: Context) -> Iterable[Finding]:
        return self.func(ctx)


_CHECKS: dict[str, Check] = {}
_CODES: dict[str, CodeInfo] = {}
#: Registered checks by name, in registration order (read-only).
CHECKS: Mapping[str, Check] = MappingProxyType(_CHECKS)
#: Every finding code a registered check can emit (read-only).
CODES: Mapping[str, CodeInfo] = MappingProxyType(_CODES)


def register(*codes: CodeInfo, requires: Collection[str] = (), reads: Collection[CodeInfo] = (),
             analytic: bool = False) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``check_*`` as a named check emitting ``codes``."""

    def decorate(func: CheckFunc) -> CheckFunc:
        name = func.__name__
        if not name.startswith("check_"):
            raise ValueError(f"check function {name!r} must be named check_<subject>_<property>")
        if name in _CHECKS:
            raise ValueError(f"check {name!r} is registered twice")
        for info in codes:
            if info.code in _CODES and _CODES[info.code] != info:
                raise ValueError(f"finding code {info.code!r} is declared twice with different meanings")
            _CODES[info.code] = info
        _CHECKS[name] = Check(name=name, codes=tuple(c.code for c in codes), requires=frozenset(requires),
                              reads=frozenset(c.code for c in reads), func=func, analytic=analytic)
        return func

    return decorate


def suppressed(code: str, *, select: frozenset[str] | None, skip: frozenset[str] | None) -> bool:
    """The single rule for silencing: a code is reported iff it is selected (or no selection) and not skipped."""
    if select is not None and code not in select:
        return True
    return skip is not None and code in skip


def plan(*, wanted: Callable[[str], bool], able: Callable[[Check], bool]) -> list[Check]:
    """The checks to run, in order: every check that can run (``able``) and emits a wanted code, plus the
    checks whose codes those read; each after the checks it reads, otherwise in registration order."""
    chosen: dict[str, Check] = {}
    visiting: set[str] = set()

    def need(check: Check) -> None:
        if check.name in chosen or not able(check):
            return
        if check.name in visiting:
            raise ValueError(f"checks read each other's codes in a cycle through {check.name!r}")
        visiting.add(check.name)
        for code in sorted(check.reads):
            for provider in _CHECKS.values():
                if code in provider.codes and provider is not check:
                    need(provider)
        chosen[check.name] = check

    for check in _CHECKS.values():
        if any(wanted(code) for code in check.codes):
            need(check)
    return list(chosen.values())
