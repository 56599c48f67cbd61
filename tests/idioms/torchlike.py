"""A tiny "PyTorch clone in numpy, without autograd".

Written in the idiom of the many mytorch / numpy-nn-framework repositories:
every layer is a ``Module`` with a hand-written ``forward`` that caches what it
needs and a ``backward(grad)`` that receives dL/d(output), ACCUMULATES (+=)
dL/d(param) into ``param.grad`` and returns dL/d(input).  Criteria keep their
own cache so that ``criterion.backward()`` takes no arguments, and the training
loop is the usual ritual::

    optimizer.zero_grad()
    logits = model(X)
    loss = criterion(logits, y)
    model.backward(criterion.backward())
    optimizer.step()

The module also carries seeded bug variants (see ``VARIANTS`` / ``CORRUPTS``):
each one is a subclass whose one-line docstring says what is wrong and which
parameter gradients it corrupts first.  All variants build their weights from
the same seed, so a correct model and a buggy one start from identical weights.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np


# --------------------------------------------------------------------------- #
# core objects
# --------------------------------------------------------------------------- #
class Parameter:
    """A trainable array: ``.data`` holds the value, ``.grad`` the accumulated gradient."""

    def __init__(self, data):
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    def zero_grad(self):
        self.grad[...] = 0.0

    def __repr__(self):
        return f"Parameter(shape={self.data.shape})"


class Module:
    """Base class: subclasses implement ``forward(x)`` and ``backward(grad)``."""

    def __init__(self):
        self.training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def backward(self, grad):
        """Take dL/d(output), accumulate parameter grads (+=), return dL/d(input)."""
        raise NotImplementedError

    # -- parameter bookkeeping ------------------------------------------------
    def _children(self):
        """(name, value) pairs of attributes that are Parameters, Modules or lists of Modules."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Parameter, Module)):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "", _seen=None):
        seen = set() if _seen is None else _seen
        for name, value in self._children():
            if id(value) in seen:  # shared objects are reported once, like torch
                continue
            seen.add(id(value))
            if isinstance(value, Parameter):
                yield prefix + name, value
            else:
                yield from value.named_parameters(prefix + name + ".", seen)

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


# --------------------------------------------------------------------------- #
# layers
# --------------------------------------------------------------------------- #
class Linear(Module):
    """y = x @ W.T + b with W (out, in), b (out,), init U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, rng=None):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, size=(out_features, in_features)))
        self.bias = Parameter(rng.uniform(-bound, bound, size=(out_features,)))
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.weight.data.T + self.bias.data

    def backward(self, grad):
        self.weight.grad += grad.T @ self.x
        self.bias.grad += grad.sum(axis=0)
        return grad @ self.weight.data

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"


class ReLU(Module):
    """max(0, x); caches the boolean mask of the last forward call."""

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask

    def __repr__(self):
        return "ReLU()"


class Tanh(Module):
    """tanh(x); caches the output, derivative 1 - out**2."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1.0 - self.out ** 2)

    def __repr__(self):
        return "Tanh()"


class Sequential(Module):
    """Chain of modules; backward walks them in reverse. Parameters are named '0.weight', ..."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def _children(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def __getitem__(self, idx):
        return self.layers[idx]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


# --------------------------------------------------------------------------- #
# criteria
# --------------------------------------------------------------------------- #
class CrossEntropyLoss:
    """Mean softmax cross-entropy over the batch; integer class targets."""

    def __init__(self):
        self.probs = None
        self.target = None

    def __call__(self, logits, target):
        return self.forward(logits, target)

    def forward(self, logits, target):
        logits = np.asarray(logits, dtype=np.float64)
        target = np.asarray(target).astype(np.int64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.target = target
        n = logits.shape[0]
        # np.float64 is a float that also has .item()
        return np.float64(-log_probs[np.arange(n), target].mean())

    def _grad_unscaled(self):
        grad = self.probs.copy()
        grad[np.arange(grad.shape[0]), self.target] -= 1.0
        return grad

    def backward(self):
        """dL/dlogits = (softmax - onehot) / N."""
        return self._grad_unscaled() / self.probs.shape[0]


class MSELoss:
    """Mean over ALL entries of (pred - target)**2; integer class targets are one-hot encoded."""

    def __init__(self):
        self.diff = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def forward(self, pred, target):
        pred = np.asarray(pred, dtype=np.float64)
        target = np.asarray(target)
        if pred.ndim == 2 and target.ndim == 1 and np.issubdtype(target.dtype, np.integer):
            onehot = np.zeros_like(pred)
            onehot[np.arange(pred.shape[0]), target] = 1.0
            target = onehot
        self.diff = pred - target.astype(np.float64)
        return np.float64(np.mean(self.diff ** 2))

    def backward(self):
        return 2.0 * self.diff / self.diff.size


# --------------------------------------------------------------------------- #
# optimiser
# --------------------------------------------------------------------------- #
class SGD:
    """Plain stochastic gradient descent: p.data -= lr * p.grad."""

    def __init__(self, params, lr: float = 0.1):
        self.params = list(params)
        self.lr = lr

    def step(self):
        for p in self.params:
            p.data -= self.lr * p.grad

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()


# --------------------------------------------------------------------------- #
# models
# --------------------------------------------------------------------------- #
class MLP(Module):
    """Linear(in, hidden) -> ReLU -> Linear(hidden, hidden) -> ReLU -> Linear(hidden, out)."""

    def __init__(self, in_features: int, hidden: int, out_features: int, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.fc1 = self._make_fc1(in_features, hidden, rng)
        self.relu1 = ReLU()
        self.fc2 = self._make_fc2(hidden, hidden, rng)
        self.relu2 = ReLU()
        self.fc3 = self._make_fc3(hidden, out_features, rng)

    # hooks so that bug variants can swap one layer while drawing the same weights
    def _make_fc1(self, i, o, rng):
        return Linear(i, o, rng=rng)

    def _make_fc2(self, i, o, rng):
        return Linear(i, o, rng=rng)

    def _make_fc3(self, i, o, rng):
        return Linear(i, o, rng=rng)

    def forward(self, x):
        x = self.relu1(self.fc1(x))
        x = self.relu2(self.fc2(x))
        return self.fc3(x)

    def backward(self, grad):
        grad = self.fc3.backward(grad)
        grad = self.relu2.backward(grad)
        grad = self.fc2.backward(grad)
        grad = self.relu1.backward(grad)
        return self.fc1.backward(grad)


def make_sequential(sizes, activation: str = "relu", seed: int = 0) -> Sequential:
    """Sequential(Linear, act, Linear, act, ..., Linear) for layer sizes e.g. [8, 16, 16, 3].

    Uses the same seeded draw order as ``MLP``, so ``make_sequential([i, h, h, o])``
    starts from the same weights as ``MLP(i, h, o)``.
    """
    acts = {"relu": ReLU, "tanh": Tanh}
    if activation not in acts:
        raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
    rng = np.random.default_rng(seed)
    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(i, o, rng=rng))
        if k < len(sizes) - 2:
            layers.append(acts[activation]())
    return Sequential(*layers)


def train_step(model, criterion, optimizer, X, y):
    """One SGD step: zero_grad, forward, loss, backward, step. Returns the loss as a float."""
    optimizer.zero_grad()
    out = model(X)
    loss = criterion(out, y)
    model.backward(criterion.backward())
    optimizer.step()
    return float(loss)


# --------------------------------------------------------------------------- #
# seeded bug variants
# --------------------------------------------------------------------------- #
class CrossEntropyLossNoBatchMean(CrossEntropyLoss):
    """BUG: backward omits the 1/N although the loss is a mean, so every grad is N x too big (fc3.weight, fc3.bias first)."""

    def backward(self):
        return self._grad_unscaled()


class LinearTransposedWeightGrad(Linear):
    """BUG: weight grad computed as x.T @ grad instead of grad.T @ x (only shape-safe on a square layer)."""

    def backward(self, grad):
        self.weight.grad += self.x.T @ grad
        self.bias.grad += grad.sum(axis=0)
        return grad @ self.weight.data


class LinearNegBiasGrad(Linear):
    """BUG: bias grad accumulated with the wrong sign (-= instead of +=)."""

    def backward(self, grad):
        self.weight.grad += grad.T @ self.x
        self.bias.grad -= grad.sum(axis=0)
        return grad @ self.weight.data


class MLPTransposedHiddenGrad(MLP):
    """BUG: square hidden layer fc2 accumulates x.T @ grad (transposed); corrupts fc2.weight only."""

    def _make_fc2(self, i, o, rng):
        return LinearTransposedWeightGrad(i, o, rng=rng)


class MLPSharedReLU(MLP):
    """BUG: one ReLU object reused for both hidden layers, so layer-1 backward uses layer-2's mask; corrupts fc1.weight, fc1.bias."""

    def __init__(self, in_features: int, hidden: int, out_features: int, seed: int = 0):
        super().__init__(in_features, hidden, out_features, seed=seed)
        del self.relu1, self.relu2
        self.relu = ReLU()

    def forward(self, x):
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))  # overwrites self.relu.mask
        return self.fc3(x)

    def backward(self, grad):
        grad = self.fc3.backward(grad)
        grad = self.relu.backward(grad)
        grad = self.fc2.backward(grad)
        grad = self.relu.backward(grad)  # stale mask from the second layer
        return self.fc1.backward(grad)


class MLPNegBiasGrad(MLP):
    """BUG: output layer fc3 accumulates its bias grad with the wrong sign; corrupts fc3.bias only."""

    def _make_fc3(self, i, o, rng):
        return LinearNegBiasGrad(i, o, rng=rng)


# name -> (model class, criterion class); build both with build_variant(name)
Variant = namedtuple("Variant", ["model_cls", "criterion_cls"])

VARIANTS = {
    "correct": Variant(MLP, CrossEntropyLoss),
    "loss_no_batch_mean": Variant(MLP, CrossEntropyLossNoBatchMean),
    "transposed_hidden_weight_grad": Variant(MLPTransposedHiddenGrad, CrossEntropyLoss),
    "shared_relu": Variant(MLPSharedReLU, CrossEntropyLoss),
    "neg_bias_grad": Variant(MLPNegBiasGrad, CrossEntropyLoss),
}

# parameter names whose gradient goes wrong first (empty for the correct model)
CORRUPTS = {
    "correct": (),
    "loss_no_batch_mean": ("fc3.weight", "fc3.bias", "fc2.weight", "fc2.bias", "fc1.weight", "fc1.bias"),
    "transposed_hidden_weight_grad": ("fc2.weight",),
    "shared_relu": ("fc1.weight", "fc1.bias"),
    "neg_bias_grad": ("fc3.bias",),
}


def build_variant(name: str, in_features: int = 8, hidden: int = 16, out_features: int = 3, seed: int = 0):
    """Return (model, criterion) for a VARIANTS entry, weights drawn from ``seed``."""
    model_cls, criterion_cls = VARIANTS[name]
    return model_cls(in_features, hidden, out_features, seed=seed), criterion_cls()


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
def make_data(n: int = 24, n_features: int = 8, n_classes: int = 3, seed: int = 0):
    """Gaussian features (every 5th row all zero) labelled by a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    X[::5] = 0.0
    W_teacher = rng.normal(size=(n_features, n_classes))
    b_teacher = rng.normal(scale=0.5, size=(n_classes,))
    y = np.argmax(X @ W_teacher + b_teacher, axis=1).astype(np.int64)
    return X, y


if __name__ == "__main__":
    X, y = make_data()
    model = MLP(X.shape[1], 16, int(y.max()) + 1, seed=0)
    criterion = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.2)
    print("parameters:", [(n, p.shape) for n, p in model.named_parameters()])
    for step in range(31):
        loss = train_step(model, criterion, optimizer, X, y)
        if step % 5 == 0:
            print(f"step {step:3d}  loss {loss:.4f}")
    acc = (model(X).argmax(axis=1) == y).mean()
    print(f"train accuracy {acc:.2f}")
    print("variants:", list(VARIANTS))
