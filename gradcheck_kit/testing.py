"""Gradient checks inside a test suite: `assert_gradients_ok` and `parametrize_models`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report.data import Report

__all__ = ["assert_gradients_ok", "parametrize_models"]


def assert_gradients_ok(model: Any, batch: Any, **options: Any) -> Report:
    """Run `diagnose` and raise ``AssertionError`` unless the report is ok; return the report.

    The assertion message is the plain-text report (verdict, per-layer table, findings with their fixes),
    without colour codes, and pytest points the failure at the calling line (``__tracebackhide__``).
    ``options`` are `diagnose`'s keyword arguments (``lr=``, ``skip=``, ``exhaustive=``...).
    """
    __tracebackhide__ = True
    from .report.render import plain_text
    from .run import diagnose

    options.setdefault("progress", False)
    report = diagnose(model, batch, **options)
    if not report.ok:
        # the verdict once, first (pytest's one-line summary shows it), then the tables and findings
        raise AssertionError(f"{report.verdict}\n\n{plain_text(report, width=100, verdict=False)}")
    return report


def parametrize_models(models: Mapping[str, Any] | Iterable[Any], argname: str = "model") -> Any:
    """``pytest.mark.parametrize`` over models with readable test ids.

    ``models`` is a mapping ``id → model`` or an iterable of models (ids from their class names, numbered
    when a class repeats). Sharing one model object between tests is safe: the kit never changes it.
    """
    import pytest

    if isinstance(models, Mapping):
        return pytest.mark.parametrize(argname, list(models.values()), ids=[str(k) for k in models])
    items = list(models)
    names = [type(m).__name__ for m in items]
    ids = [f"{n}-{names[:i].count(n)}" if names.count(n) > 1 else n for i, n in enumerate(names)]
    return pytest.mark.parametrize(argname, items, ids=ids)
