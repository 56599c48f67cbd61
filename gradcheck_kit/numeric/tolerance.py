"""The tolerance rule, in one place.

An analytic value ``a`` agrees with a finite-difference estimate ``n`` when

    |a - n| <= max(atol, noise) + rtol * max(|a|, |n|)

``noise`` is the rounding floor of the estimate itself: ``noise_factor * eps(dtype) * max|L| / h`` for
losses ``L`` evaluated at step ``h``; below it no difference is meaningful. ``rtol`` defaults by the
working dtype (JAX-style), ``atol`` to 0 (the noise floor alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_RTOL", "Tolerance"]

#: Default relative tolerance by working dtype. float64 central differences are good to ~1e-9 on
#: smooth losses; 1e-6 leaves room for curvature yet still sees a forgotten 1e-3 L2 term.
DEFAULT_RTOL: dict[str, float] = {"float64": 1e-6, "float32": 1e-3, "float16": 5e-2}


@dataclass(frozen=True)
class Tolerance:
    """Tolerance settings; ``None`` means "by dtype" (rtol) or "noise floor only" (atol)."""

    rtol: float | None = None
    atol: float | None = None
    noise_factor: float = 32.0

    def rtol_for(self, dtype: np.dtype) -> float:
        if self.rtol is not None:
            return self.rtol
        return DEFAULT_RTOL.get(np.dtype(dtype).name, DEFAULT_RTOL["float64"])

    def noise(self, dtype: np.dtype, loss_scale: float, step: float) -> float:
        """Rounding floor of a central difference with losses of magnitude ``loss_scale``."""
        return self.noise_factor * float(np.finfo(dtype).eps) * max(loss_scale, 1e-300) / step

    def bound(self, analytic: float, numeric: float, *, rtol: float, noise: float) -> float:
        """Largest |analytic - numeric| that still counts as agreement."""
        return max(self.atol or 0.0, noise) + rtol * max(abs(analytic), abs(numeric))

    def describe(self) -> str:
        rtol = "by dtype " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_RTOL.items()) if self.rtol is None else f"{self.rtol:g}"
        atol = "noise floor" if self.atol is None else f"max({self.atol:g}, noise floor)"
        return f"|a - n| <= {atol} + rtol * max(|a|, |n|); rtol {rtol}; noise floor {self.noise_factor:g} * eps * |L| / h"
