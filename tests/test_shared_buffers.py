"""One baseline copy and one float32 scratch buffer shared by the noise estimate and every tensor's
comparison (instead of fresh tensor-sized arrays for each), and `same_bytes`, which decides whether a
shared baseline copy can stand for a tensor."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.model import copies
from gradcheck_kit.model.copies import same_bytes
from gradcheck_kit.numeric.comparison import TensorComparison
from gradcheck_kit.numeric.tolerance import Tolerance
from tests import models
from tests.models import clusters


def test_same_bytes_compares_bits_chunk_by_chunk(monkeypatch):
    monkeypatch.setattr(copies, "SAME_CHUNK", 7)
    a = np.random.default_rng(0).normal(size=(5, 9))
    b = a.copy()
    assert same_bytes(a, b)
    b[-1, -1] = np.nextafter(b[-1, -1], np.inf)  # one bit, in the last chunk
    assert not same_bytes(a, b)
    nan = np.array([np.nan, 0.0])
    assert same_bytes(nan, nan.copy())  # the same NaN is the same bits
    assert not same_bytes(np.array([0.0]), np.array([-0.0]))
    assert same_bytes(a[:, ::2], a[:, ::2].copy()) and not same_bytes(a, a.astype(np.float32))


def _comparison(work, analytic, **buffers):
    return TensorComparison(
        "w", "w", work, analytic, lambda: float(np.sum(work ** 3)) / 3, float(np.sum(work ** 3)) / 3,
        source_dtype=work.dtype, tolerance=Tolerance(), rng=np.random.default_rng(4), max_entries=10, probes=2,
        exhaustive=False, **buffers)


@pytest.mark.parametrize("wrong", [False, True])
def test_a_comparison_with_shared_buffers_judges_exactly_as_one_without(wrong):
    work = np.random.default_rng(1).normal(size=(30, 40))
    analytic = work ** 2
    if wrong:
        analytic[17, 3] += 1.0  # a wrong entry the random directions fail on, then bisect down to
    original = work.copy()
    alone = _comparison(work, analytic).run()
    saved, scratch = work.copy(), np.full(work.size + 5, np.nan, dtype=np.float32)
    shared = _comparison(work, analytic, saved=saved, scratch=scratch)
    assert shared.perturber.saved is saved  # the caller's copy, not another one
    result = shared.run()
    assert result.verdict == alone.verdict == ("fail" if wrong else "pass")
    assert [p.judgement for p in result.probes] == [p.judgement for p in alone.probes]
    np.testing.assert_array_equal(result.table.flat, alone.table.flat)
    assert result.localised == alone.localised == wrong
    assert work.tobytes() == original.tobytes() and saved.tobytes() == original.tobytes()
    assert shared.scratch is None  # dropped before the entries (a worker is not sent the caller's buffer)


def test_a_scratch_buffer_that_does_not_fit_is_not_used():
    work = np.ones((4, 4))
    for scratch in (np.zeros(15, np.float32), np.zeros(16, np.float64), np.zeros(32, np.float32)[::2]):
        assert _comparison(work, work ** 2, scratch=scratch).scratch is None


class WritesIntoItsWeights(models.MLP):
    """A correct network whose forward nudges a weight and puts it back, bitwise, within each call."""

    def loss(self, X, y):
        W = self.params["W1"]
        keep = W[0, 0]
        W[0, 0] = keep + 1.0
        W[0, 0] = keep
        return super().loss(X, y)


@pytest.mark.parametrize("model", [models.MLP(), WritesIntoItsWeights()], ids=["plain", "writes and restores"])
def test_the_shared_buffers_leave_correct_networks_ok_and_their_weights_bitwise(model):
    before = {k: v.copy() for k, v in model.params.items()}
    report = gk.diagnose(model, clusters(B=16), progress=False)
    assert report.ok, report
    for name, array in model.params.items():
        assert array.tobytes() == before[name].tobytes()


def test_a_tensor_that_no_longer_holds_its_baseline_gets_a_copy_of_its_own():
    from gradcheck_kit.measure.measurement import _Buffers

    params = {"W": np.arange(6.0).reshape(2, 3), "b": np.zeros(3)}
    buffers = _Buffers(params)
    assert buffers.scratch.dtype == np.float32 and buffers.scratch.size == 9
    assert [p.shape for p in buffers.parts().values()] == [(2, 3), (3,)]
    params["b"][1] = 5.0  # changed since the copy was taken
    assert buffers.take_baseline("b", params["b"]) is None
    saved = buffers.take_baseline("W", params["W"])
    assert saved is not None and saved is not params["W"] and saved.tobytes() == params["W"].tobytes()
    assert buffers.baseline == {}  # each handed over once, then released
