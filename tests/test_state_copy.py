"""`model.copies.StateCopy`: the reader's pristine state, put back after each trial call in place."""

from __future__ import annotations

import numpy as np

from gradcheck_kit.model.copies import StateCopy, private_copy


class Net:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.W = rng.normal(size=(4, 3))
        self.b = np.zeros(3)
        self.layers = [{"W": self.W, "name": "dense"}]
        self.labels = np.array(["a", "b"], dtype=object)
        self.cache = None
        self.steps = 0


def _trial(net):
    """What trial calls do: write into weights, rebind one, cache, count, drop an attribute."""
    net.W *= 3
    net.b = net.b + 1
    net.cache = np.ones(7)
    net.steps += 1
    net.labels[0] = "changed"
    del net.layers


def test_put_back_restores_the_state_and_reuses_the_weight_arrays():
    net, _ = private_copy(Net())
    W, b0, expected = net.W, net.b, {k: v.copy() for k, v in (("W", net.W), ("b", net.b))}
    state = StateCopy(vars(net))
    for _ in range(3):
        _trial(net)
        state.put_back(vars(net))
        assert net.W is W and net.b is b0  # the same arrays, their values written back in place ...
        np.testing.assert_array_equal(net.W, expected["W"])
        np.testing.assert_array_equal(net.b, expected["b"])
        assert net.layers[0]["W"] is net.W  # ... still the one array the layer list holds
        assert net.cache is None and net.steps == 0 and list(net.labels) == ["a", "b"]


def test_an_array_the_trial_made_read_only_is_copied_anew():
    net, _ = private_copy(Net())
    state = StateCopy(vars(net))
    net.b[:] = 5
    net.b.flags.writeable = False
    state.put_back(vars(net))
    assert net.b.flags.writeable and not net.b.any()


def test_views_of_one_buffer_stay_views_of_one_buffer():
    class Flat:
        def __init__(self):
            self.flat = np.arange(10.0)
            self.W, self.b = self.flat[:6].reshape(2, 3), self.flat[6:]

    net, _ = private_copy(Flat())
    state = StateCopy(vars(net))
    net.flat[:] = -1
    net.W = np.zeros((2, 3))
    state.put_back(vars(net))
    np.testing.assert_array_equal(net.flat, np.arange(10.0))
    net.flat[0] = 42  # moving the buffer moves the view, as in the model it was copied from
    assert net.W[0, 0] == 42 and np.shares_memory(net.b, net.flat)
