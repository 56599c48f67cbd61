"""PyTorch: nn.Module with a loss, and custom autograd.Function backward passes (skipped without torch)."""

from __future__ import annotations

import pytest

import gradcheck_kit as gk
from tests.models import data

torch = pytest.importorskip("torch")
nn = torch.nn


class Net(nn.Module):
    def __init__(self, act=nn.Tanh):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(6, 8)
        self.act = act()
        self.output = nn.Linear(8, 3)

    def forward(self, x):
        return self.output(self.act(self.hidden(x)))


def test_correct_module_passes_and_names_layers():
    report = gk.diagnose(Net(), data(), loss=nn.CrossEntropyLoss())
    assert report.ok, report
    assert report.style == "torch nn.Module"
    assert [s.layer for s in report.layers] == ["output", "hidden"]
    assert {t.dtype for t in report.tensors} == {"float32"} and {t.working_dtype for t in report.tensors} == {"float64"}


def test_module_is_left_unchanged_and_rng_untouched():
    model = Net()
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    objects = {k: v for k, v in model.state_dict(keep_vars=True).items()}
    rng = torch.random.get_rng_state()
    gk.diagnose(model, data(), loss=nn.CrossEntropyLoss(), lr=0.1)
    for k, v in model.state_dict(keep_vars=True).items():
        assert v is objects[k] and torch.equal(v.detach(), before[k])
    assert torch.equal(torch.random.get_rng_state(), rng)


class DoubledSoftmaxLoss(torch.autograd.Function):
    """Cross-entropy on logits whose hand-written backward multiplies (p - t) by p(1 - p) again."""

    @staticmethod
    def forward(ctx, logits, target):
        p = torch.softmax(logits, dim=1)
        ctx.save_for_backward(p, target)
        return -torch.log(p[torch.arange(len(target)), target]).mean()

    @staticmethod
    def backward(ctx, grad):
        p, target = ctx.saved_tensors
        t = torch.nn.functional.one_hot(target, p.shape[1]).to(p.dtype)
        return grad * (p - t) * p * (1 - p) / len(target), None


def test_module_with_custom_loss_backward_names_the_doubled_softmax():
    report = gk.diagnose(Net(), data(), loss=DoubledSoftmaxLoss.apply)
    assert ("doubled-softmax-derivative", "output") in [(f.code, f.layer) for f in report.findings]


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return (x @ w) ** 3

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        inner = 3 * (x @ w) ** 2 * g
        return inner @ w.T, x.T @ inner


class CubeWrongW(Cube):
    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        inner = 3 * (x @ w) ** 2 * g
        return inner @ w.T, x.T @ inner * 2  # stray factor 2 on dw


def test_custom_function_right_and_wrong():
    x, w = torch.randn(5, 4, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert gk.diagnose(Cube, (x, w)).ok
    report = gk.diagnose(CubeWrongW, (x, w))
    assert ("scaled-gradient", "w") in [(f.code, f.layer) for f in report.findings]
    assert {t.param: t.verdict for t in report.tensors} == {"x": "pass", "w": "fail"}
    fix = report.finding("gradient-mismatch").fix
    assert "the input 'w'" in fix and "weight and bias" not in fix  # a function's input, not a layer's weights


def test_torch_errors_are_clear():
    with pytest.raises(gk.InputError, match="needs loss="):
        gk.diagnose(Net(), data())
    with pytest.raises(gk.InputError, match="tuple of its inputs"):
        gk.diagnose(Cube, torch.randn(3, 3))
    from tests import models

    with pytest.raises(gk.InputError, match=r"MLP has its own loss, loss\(X, y\); loss= is for models whose"):
        gk.diagnose(models.MLP(), data(), loss=lambda o, y: 0.0)


def test_float32_inputs_of_a_function_are_checked_in_float64():
    x, w = torch.randn(5, 4), torch.randn(4, 3)
    report = gk.diagnose(Cube, (x, w))
    assert report.ok
    assert {t.dtype for t in report.tensors} == {"float32"}


# -- torch objects the kit cannot check end in its own errors (issue 12) ------------------------------------
def test_a_loss_that_is_not_reduced_is_a_clear_error():
    torch = pytest.importorskip("torch")
    X, y = data()
    with pytest.raises(gk.ModelInterfaceError, match="reduction='none' must be reduced"):
        gk.diagnose(torch.nn.Linear(6, 3), (torch.tensor(X), torch.tensor(y)),
                    loss=torch.nn.CrossEntropyLoss(reduction="none"), progress=False)


def test_a_module_on_the_meta_device_is_a_clear_error():
    torch = pytest.importorskip("torch")
    X, y = data()
    with pytest.raises(gk.ModelInterfaceError, match="meta device"):
        gk.diagnose(torch.nn.Linear(6, 3, device="meta"), (torch.tensor(X), torch.tensor(y)),
                    loss=torch.nn.CrossEntropyLoss(), progress=False)


def test_bfloat16_modules_and_inputs_are_checked():
    torch = pytest.importorskip("torch")
    X, y = data()
    module = torch.nn.Linear(6, 3).to(torch.bfloat16)
    report = gk.diagnose(module, (torch.tensor(X, dtype=torch.bfloat16), torch.tensor(y)),
                         loss=torch.nn.CrossEntropyLoss(), progress=False)
    assert report.ok, report
    assert any("bfloat16" in n for n in report.notes)
