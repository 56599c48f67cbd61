"""The tolerance rule, in one place.

An analytic value ``a`` agrees with a finite-difference estimate ``n`` when

    |a - n| <= max(atol, noise) + rtol * max(|a|, |n|)

``noise`` is the noise floor of the estimate itself, ``max(noise_factor * eps(dtype) * max|L|,
NOISE_SIGMAS * σ) / h`` for losses ``L`` evaluated at step ``h``, where σ is the loss's own noise as
measured (`noise.estimate_noise`); below it no difference is meaningful. ``rtol`` defaults by the
working dtype (JAX-style), raised to ``100 · ε^(2/3)`` when the loss is measured to carry only ``ε``
relative precision (a model that computes in float32 internally); ``atol`` defaults to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_RTOL", "NOISE_SIGMAS", "Tolerance"]

#: Measured loss noise σ (standard deviation) is multiplied by this for the noise floor.
NOISE_SIGMAS = 10.0

#: Default relative tolerance by working dtype. float64 central differences are good to ~1e-9 on
#: smooth losses; 1e-6 leaves room for curvature yet still sees a forgotten 1e-3 L2 term.
DEFAULT_RTOL: dict[str, float] = {"float64": 1e-6, "float32": 1e-3, "float16": 5e-2}


@dataclass(frozen=True)
class Tolerance:
    """Tolerance settings; ``None`` means "by dtype" (rtol) or "noise floor only" (atol)."""

    rtol: float | None = None
    atol: float | None = None
    noise_factor: float = 32.0

    def rtol_for(self, dtype: np.dtype, precision: float = 0.0) -> float:
        """Relative tolerance for a working dtype and a measured relative loss precision."""
        if self.rtol is not None:
            return self.rtol
        by_dtype = DEFAULT_RTOL.get(np.dtype(dtype).name, DEFAULT_RTOL["float64"])
        return max(by_dtype, 100 * precision ** (2 / 3)) if precision > 0 else by_dtype

    def noise(self, dtype: np.dtype, loss_scale: float, step: float, loss_noise: float = 0.0) -> float:
        """Noise floor of a central difference with losses of magnitude ``loss_scale`` and measured
        loss noise ``loss_noise`` (standard deviation)."""
        rounding = self.noise_factor * float(np.finfo(dtype).eps) * max(loss_scale, 1e-300)
        return max(rounding, NOISE_SIGMAS * loss_noise) / step

    def bound(self, analytic: float, numeric: float, *, rtol: float, noise: float) -> float:
        """Largest |analytic - numeric| that still counts as agreement."""
        return max(self.atol or 0.0, noise) + rtol * max(abs(analytic), abs(numeric))

    def noises(self, dtype: np.dtype, loss_scales: np.ndarray, steps: np.ndarray,
               loss_noise: float = 0.0) -> np.ndarray:
        """`noise` for many estimates at once: the same operations in the same order, so bitwise the same
        values wherever they are finite."""
        rounding = self.noise_factor * float(np.finfo(dtype).eps) * np.maximum(loss_scales, 1e-300)
        return np.maximum(rounding, NOISE_SIGMAS * loss_noise) / steps

    def bounds(self, analytic: np.ndarray, numeric: np.ndarray, *, rtol: float, noise: np.ndarray) -> np.ndarray:
        """`bound` for many values at once (bitwise the same wherever they are finite)."""
        return np.maximum(self.atol or 0.0, noise) + rtol * np.maximum(np.abs(analytic), np.abs(numeric))

    def describe(self) -> str:
        rtol = (
            "by dtype " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_RTOL.items())
            if self.rtol is None
            else f"{self.rtol:g}"
        )
        atol = "noise floor" if self.atol is None else f"max({self.atol:g}, noise floor)"
        return (
            f"|a - n| <= {atol} + rtol * max(|a|, |n|); rtol {rtol}; noise floor max({self.noise_factor:g} * eps * "
            "|L|, "
            f"{NOISE_SIGMAS:g} * measured loss noise) / h"
        )
