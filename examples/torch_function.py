"""A custom torch.autograd.Function whose hand-written backward has a stray factor of 2.

Needs the torch extra:  python -m pip install ".[torch]"  then  python examples/torch_function.py
"""

from __future__ import annotations

import torch

import gradcheck_kit as gk


class ScaledTanh(torch.autograd.Function):
    """y = a * tanh(x @ w)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, a: float) -> torch.Tensor:
        t = torch.tanh(x @ w)
        ctx.save_for_backward(x, w, t)
        ctx.a = a
        return a * t

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x, w, t = ctx.saved_tensors
        inner = grad * ctx.a * (1 - t**2)
        return inner @ w.T, 2 * x.T @ inner, None  # the bug: 2 * on the weight gradient


def main() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(16, 5), torch.randn(5, 4)
    print(gk.diagnose(ScaledTanh, (x, w, 0.5)).verdict)
    gk.diagnose(ScaledTanh, (x, w, 0.5)).print()


if __name__ == "__main__":
    main()
