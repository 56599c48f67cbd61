"""pytest plugin (registered through the ``pytest11`` entry point): the ``gradcheck`` fixture.

Importing this module imports nothing heavy: numpy and the checks load when a test calls the fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck_kit")
    group.addoption("--gradcheck-exhaustive", action="store_true", default=False,
                    help="gradcheck fixture: check every entry of every tensor")


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``gradcheck(model, (X, y), **options)`` asserts the model's gradients are right and returns the
    report; on failure the assertion message is the plain-text findings table."""
    exhaustive = bool(request.config.getoption("--gradcheck-exhaustive"))

    def check(model: Any, batch: Any, **options: Any) -> Any:
        __tracebackhide__ = True
        from gradcheck_kit.testing import assert_gradients_ok

        if exhaustive:
            options.setdefault("exhaustive", True)
        return assert_gradients_ok(model, batch, **options)

    return check
