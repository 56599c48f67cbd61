"""Layer objects with an input stack and accumulated gradients ("mini-torch").

Idiom
-----
The hand-rolled, PyTorch-imitating numpy style of many public
"autograd-like" / "MyTorch" repositories: e.g. the ``Linear`` of
neddamj/mdgrad (``nn.py``: gradients added with ``+=`` until
``zero_grad()``) and the many homework-style ``Linear`` classes holding
``self.W``, ``self.b``, ``self.dW``/``self.grad_W`` and a ``params()`` list.
Written from scratch here, with these conventions taken from that style:

* every ``forward`` APPENDS what it needs for the backward pass to
  ``self.cache`` (a list), so one layer object can be applied several times
  (weight sharing / unrolling); ``backward`` POPS the most recent entry (LIFO);
* parameter gradients ACCUMULATE: ``backward`` does ``self.grad_W += ...``
  and ``self.grad_b += ...`` until ``zero_grad()`` resets them in place (and
  clears the caches) or ``step(lr)`` applies SGD and then does the same;
* ``Net.params()`` and ``Net.grads()`` return PARALLEL lists of the very
  arrays (not copies): ``[W1, b1, W2, b2, W3, b3]`` and
  ``[grad_W1, grad_b1, ...]``; ``zero_grad`` keeps the same array objects;
* the batch mean lives in ``SoftmaxCrossEntropy.backward`` (``/ N``); layers
  just sum over the batch.

Consequences a caller must respect: two ``backward()`` calls without
``zero_grad()`` give doubled gradients; ``backward()`` pops the newest entry
of every stack -- the layers' newest ``forward`` (with or without targets)
and the criterion's newest ``forward`` WITH targets -- so the last call
before ``backward()`` should be ``forward(x, targets)``; extra ``forward``
calls leave stale entries on the stacks until ``zero_grad()``/``step()``.

Kinks
-----
With the default zero biases, the blank inputs put hidden pre-activations
EXACTLY at 0.  The correct code uses relu'(0) = 0 there, so a CENTRAL
difference disagrees with it on the hidden-layer biases (it averages the
slopes 0 and 1 on the two sides of the kink); a one-sided difference from
below agrees.  ``relu_ge`` differs
from the correct variant only at those exact zeros.  With random biases
(``zero_biases=False``) no pre-activation is at a kink.

Data layout
-----------
ROWS ARE SAMPLES: ``x`` (N, in_features), integer class ``targets`` (N,).
``Linear.W`` is (in_features, out_features), ``Linear.b`` is (out_features,).
``make_data`` zeroes some rows (blank samples) and one feature column.

``Net(sizes=(5, 8, 8, 3))``: Linear-ReLU-Linear-ReLU-Linear and a
``SoftmaxCrossEntropy`` criterion; the middle ``Linear`` is square (8 x 8).
``Net.forward(x, targets=None)`` returns ``(logits, loss)`` (``loss`` is
``None`` without targets); ``Net.backward()`` backpropagates the last loss and
returns the gradient w.r.t. ``x``.  Gradients are those of the MEAN
cross-entropy over the batch.

Variants (``Net(bug=...)``; each bug is one line in one class)
--------------------------------------------------------------

| name | what is wrong | first affected | loss / output |
|---|---|---|---|
| ``None`` (correct) | -- | -- | softmax + CE |
| ``"softmax_derivative_twice"`` | criterion backward multiplies ``(p - onehot)/N`` by ``p * (1 - p)`` | last Linear's grad_W/grad_b (then all) | softmax + CE |
| ``"no_batch_average"`` | criterion backward never divides by N (loss is a mean) | every grad (x N) | softmax + CE |
| ``"bias_grad_mean"`` | last Linear uses ``grad_out.mean(0)`` for ``grad_b``: the batch mean is taken a second time | last Linear's ``grad_b`` only (/N) | softmax + CE |
| ``"transposed_grad_W"`` | middle Linear (8 x 8) accumulates the transpose of its weight gradient | middle ``grad_W`` only | softmax + CE |
| ``"relu_ge"`` | ReLU backward passes the gradient where the input is exactly 0; identical unless some ReLU input is exactly 0 | grad_b entries at exact zeros (blank rows with zero biases) | softmax + CE |
| ``"stale_cache"`` | Linear backward reads ``self.cache[0]`` (the OLDEST input) without popping, instead of popping the newest. Right after a single forward; wrong once ``forward`` has run more than once since the last flush (e.g. extra loss evaluations) | every grad_W, as soon as forward ran more than once since the last zero_grad()/step() | softmax + CE |
"""

import numpy as np


class Module:
    def params(self):
        return []

    def grads(self):
        return []

    def zero_grad(self):
        pass


class Linear(Module):
    def __init__(self, in_features, out_features, rng=None, zero_bias=True, bug=None):
        rng = np.random if rng is None else rng
        # He initialisation for the ReLU layers that follow
        self.W = rng.randn(in_features, out_features) * np.sqrt(2.0 / in_features)
        if zero_bias:
            self.b = np.zeros(out_features)
        else:
            self.b = 0.1 * rng.randn(out_features)
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)
        self.cache = []
        # one of: None, "bias_grad_mean", "transposed_grad_W", "stale_cache"
        self.bug = bug

    def forward(self, x):
        self.cache.append(x)
        return x @ self.W + self.b

    def backward(self, grad_out):
        if self.bug == "stale_cache":
            # BUG: oldest input, and it is never removed
            x = self.cache[0]
        else:
            x = self.cache.pop()
        if self.bug == "transposed_grad_W":
            # BUG: factors swapped; fits only because W is square
            self.grad_W += grad_out.T @ x
        else:
            self.grad_W += x.T @ grad_out
        if self.bug == "bias_grad_mean":
            # BUG: grad_out is already divided by N in the criterion
            self.grad_b += grad_out.mean(axis=0)
        else:
            self.grad_b += grad_out.sum(axis=0)
        return grad_out @ self.W.T

    def params(self):
        return [self.W, self.b]

    def grads(self):
        return [self.grad_W, self.grad_b]

    def zero_grad(self):
        self.grad_W.fill(0.0)
        self.grad_b.fill(0.0)
        self.cache.clear()


class ReLU(Module):
    def __init__(self, bug=None):
        self.cache = []
        # one of: None, "relu_ge"
        self.bug = bug

    def forward(self, x):
        self.cache.append(x)
        return np.maximum(x, 0)

    def backward(self, grad_out):
        x = self.cache.pop()
        if self.bug == "relu_ge":
            # BUG: x == 0 treated as active
            return grad_out * (x >= 0)
        return grad_out * (x > 0)

    def zero_grad(self):
        self.cache.clear()


class SoftmaxCrossEntropy(Module):
    def __init__(self, bug=None):
        self.cache = []
        # one of: None, "softmax_derivative_twice", "no_batch_average"
        self.bug = bug

    def forward(self, logits, targets):
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        n = logits.shape[0]
        log_likelihood = shifted[np.arange(n), targets] - np.log(exp.sum(axis=1))
        self.cache.append((probs, targets))
        return -log_likelihood.mean()

    def backward(self):
        probs, targets = self.cache.pop()
        n = probs.shape[0]
        grad = probs.copy()
        grad[np.arange(n), targets] -= 1.0
        if self.bug == "softmax_derivative_twice":
            # BUG: softmax derivative applied on top of p - onehot
            grad *= probs * (1.0 - probs)
        if self.bug != "no_batch_average":
            grad /= n
        return grad

    def zero_grad(self):
        self.cache.clear()


BUGS = {
    "softmax_derivative_twice": "criterion gradient multiplied by p*(1-p)",
    "no_batch_average": "criterion gradient not divided by N",
    "bias_grad_mean": "last Linear grad_b uses mean over the batch (double average)",
    "transposed_grad_W": "middle (square) Linear accumulates grad_W transposed",
    "relu_ge": "ReLU passes the gradient at exactly 0 (exact zeros only)",
    "stale_cache":
        "Linear.backward uses the oldest cached input; wrong once forward ran "
        "more than once since the last zero_grad()/step()",
}


class Net(Module):
    def __init__(self, sizes=(5, 8, 8, 3), seed=0, zero_biases=True, bug=None):
        """Linear/ReLU stack with a softmax cross-entropy criterion.

        ``seed`` feeds a private ``np.random.RandomState``; ``zero_biases``
        starts every bias at 0 (otherwise N(0, 0.1^2)).  ``bug`` picks one of
        ``BUGS`` and is handed to the object(s) that contain it.
        """
        if bug is not None and bug not in BUGS:
            raise ValueError("unknown bug %r" % (bug,))
        rng = np.random.RandomState(seed)
        n_linear = len(sizes) - 1
        self.layers = []
        for i in range(n_linear):
            square = sizes[i] == sizes[i + 1]
            if bug == "stale_cache":
                layer_bug = bug
            elif bug == "transposed_grad_W" and square and 0 < i < n_linear - 1:
                layer_bug = bug
            elif bug == "bias_grad_mean" and i == n_linear - 1:
                layer_bug = bug
            else:
                layer_bug = None
            self.layers.append(Linear(sizes[i], sizes[i + 1], rng=rng,
                                      zero_bias=zero_biases, bug=layer_bug))
            if i < n_linear - 1:
                self.layers.append(ReLU(bug=bug if bug == "relu_ge" else None))
        self.criterion = SoftmaxCrossEntropy(
            bug=bug if bug in ("softmax_derivative_twice", "no_batch_average") else None)

    def forward(self, x, targets=None):
        out = x
        for layer in self.layers:
            out = layer.forward(out)
        loss = None
        if targets is not None:
            loss = self.criterion.forward(out, targets)
        return out, loss

    def backward(self):
        grad = self.criterion.backward()
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def params(self):
        return [p for layer in self.layers for p in layer.params()]

    def grads(self):
        return [g for layer in self.layers for g in layer.grads()]

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()
        self.criterion.zero_grad()

    def step(self, lr=0.1):
        for p, g in zip(self.params(), self.grads()):
            p -= lr * g
        self.zero_grad()


def train(net, x, targets, lr=0.1, steps=50):
    """Full-batch loop: zero_grad, forward, backward, step; returns losses."""
    losses = []
    for _ in range(steps):
        net.zero_grad()
        _, loss = net.forward(x, targets)
        net.backward()
        net.step(lr)
        losses.append(loss)
    return losses


def make_data(seed=0, n=12, in_features=5, n_classes=3, n_blank=2,
              dead_feature=True):
    """``(x, targets)``: ``x`` (n, in_features) with the first ``n_blank``
    rows all zero and (``dead_feature``) the last column zero; integer
    ``targets`` (n,) cycling 0, 1, 2, ...  Keep ``n_blank`` below
    ``n_classes`` so the blank rows' contributions do not cancel.  Own
    RandomState."""
    rng = np.random.RandomState(seed)
    targets = np.arange(n) % n_classes
    x = 0.7 * rng.randn(n_classes, in_features)[targets] + 0.3 * rng.randn(n, in_features)
    x[:n_blank] = 0.0
    if dead_feature:
        x[:, -1] = 0.0
    return x, targets
