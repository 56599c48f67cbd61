"""The kit's own exceptions: one root, each saying what was found and what was expected."""

from __future__ import annotations

__all__ = ["GradcheckError", "InputError", "MissingExtraError", "ModelCallError", "ModelInterfaceError"]


class GradcheckError(Exception):
    """Root of every exception raised by gradcheck_kit on purpose."""


class InputError(GradcheckError, ValueError):
    """The batch or an option is unusable (wrong shape, non-finite, labels out of range, ...).

    ``option`` names the `diagnose` option at fault, when one is (the CLI then names its flag).
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class ModelInterfaceError(GradcheckError, ValueError):
    """The model offers no usable interface, or returns values of the wrong keys, shapes or kinds."""


class ModelCallError(GradcheckError, RuntimeError):
    """The user's own code raised while the kit was calling it; the original is chained as ``__cause__``."""


class MissingExtraError(GradcheckError, ImportError):
    """A feature needs an optional dependency that is not installed; the message names the extra to
    install (``pip install 'gradcheck_kit[plot]'``)."""
