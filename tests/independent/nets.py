"""Independent plain-numpy classifier networks used as gradient-checker fixtures.

Conventions used throughout:
  * X has shape (B, D), y holds integer labels of shape (B,) in [0, K).
  * A dense layer computes  z = a @ W + b  with W of shape (fan_in, fan_out).
  * The loss is softmax cross-entropy, averaged over the batch.
  * Every model seeds its own np.random.default_rng(seed); global numpy RNG state is never used.

Styles:
  A  MLPA (+ five seeded-bug subclasses)  -- params dict, forward / loss / backward
  B  TwoLayerNetB (+ one bug)             -- CS231n style loss(X, y=None)
  C  SelfTrainingC (+ one bug)            -- plain attributes, forward + train(X, y, lr)
  D  init_params / loss_fn / grads_fn / predict_fn  -- plain functions
"""
import numpy as np
import itertools


# ----------------------------------------------------------------------------- helpers
def _sigmoid(z):
    # numerically stable logistic function
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _mean_cross_entropy(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(y)), y]))


def _onehot(y, K, dtype):
    T = np.zeros((len(y), K), dtype=dtype)
    T[np.arange(len(y)), y] = 1
    return T


# activation name -> (f(z), f'(z) expressed via z and a = f(z))
_ACTIVATIONS = {
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
}


# ============================================================================= Style A
class MLPA:
    """Fully connected softmax classifier of any depth.

    sizes = (D, H1, ..., K); params are "W1","b1",...,"WL","bL" with L = len(sizes) - 1.
    The chosen activation is applied after every layer except the last.
    """

    def __init__(self, sizes=(8, 16, 16, 4), activation="tanh", dtype=np.float64, seed=0):
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2:
            raise ValueError("sizes needs at least (D, K)")
        if activation not in _ACTIVATIONS:
            raise ValueError("activation must be one of %s" % sorted(_ACTIVATIONS))
        self.sizes = sizes
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self._f, self._fprime = _ACTIVATIONS[activation]
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
            self.params["W%d" % i] = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(self.dtype)
            self.params["b%d" % i] = (0.1 * rng.standard_normal(fan_out)).astype(self.dtype)

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    def _forward_cache(self, X):
        """Returns (acts, zs): acts[i] is the input of layer i+1, zs[i] its pre-activation."""
        a = np.asarray(X, dtype=self.dtype)
        acts, zs = [a], []
        L = self.n_layers
        for i in range(1, L + 1):
            z = a @ self.params["W%d" % i] + self.params["b%d" % i]
            zs.append(z)
            if i < L:
                a = self._f(z)
                acts.append(a)
        return acts, zs

    def forward(self, X):
        _, zs = self._forward_cache(X)
        return _softmax(zs[-1])

    def loss(self, X, y):
        _, zs = self._forward_cache(X)
        return _mean_cross_entropy(zs[-1], np.asarray(y))

    # --- hooks that the seeded-bug subclasses override (correct versions here) ---
    def _output_delta(self, p, T):
        return p - T

    def _grad_scale(self, B):
        return 1.0 / B

    def _hidden_delta(self, hidden_index, upstream, z, a):
        """Delta at pre-activation of hidden layer `hidden_index` (1-based)."""
        return upstream * self._fprime(z, a)

    def _finalize_grads(self, grads):
        return grads

    def backward(self, X, y):
        y = np.asarray(y)
        acts, zs = self._forward_cache(X)
        B = acts[0].shape[0]
        L = self.n_layers
        p = _softmax(zs[-1])
        T = _onehot(y, p.shape[1], p.dtype)
        delta = self._output_delta(p, T) * self._grad_scale(B)
        grads = {}
        for i in range(L, 0, -1):
            a_in = acts[i - 1]
            grads["W%d" % i] = a_in.T @ delta
            grads["b%d" % i] = delta.sum(axis=0)
            if i > 1:
                upstream = delta @ self.params["W%d" % i].T
                delta = self._hidden_delta(i - 1, upstream, zs[i - 2], a_in)
        grads = self._finalize_grads(grads)
        return {k: grads[k] for k in self.params}


class MLPA_SignFlippedOutputW(MLPA):
    """BUG: gradient of the last weight matrix W{L} is negated. Wrong: "W{L}" only
    (e.g. "W3" for sizes (8,16,16,4)); all biases and other weights are correct."""

    def _finalize_grads(self, grads):
        key = "W%d" % self.n_layers
        grads[key] = -grads[key]
        return grads


class MLPA_MissingActivationDerivative(MLPA):
    """BUG: for the hidden layer closest to the output (hidden layer L-1), the backward pass
    uses delta = upstream instead of upstream * f'(z_{L-1}).

    Wrong params: "W{L-1}" and "b{L-1}" directly, and -- because that wrong delta is
    propagated further down -- every earlier layer as well: W1..W{L-1}, b1..b{L-1}.
    Only the output layer "W{L}", "b{L}" stays correct.
    e.g. sizes (8,16,16,4): W1,b1,W2,b2 wrong; W3,b3 correct.
         sizes (D,H,K):     W1,b1 wrong;       W2,b2 correct.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.n_layers < 2:
            raise ValueError("needs at least one hidden layer")

    def _hidden_delta(self, hidden_index, upstream, z, a):
        if hidden_index == self.n_layers - 1:
            return upstream
        return super()._hidden_delta(hidden_index, upstream, z, a)


class MLPA_TransposedW2(MLPA):
    """BUG: dW2 is returned transposed (W2 must be square). Wrong: "W2" only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.n_layers < 2 or self.sizes[1] != self.sizes[2]:
            raise ValueError("W2 must be square, e.g. sizes=(8,16,16,4)")

    def _finalize_grads(self, grads):
        grads["W2"] = grads["W2"].T.copy()
        return grads


class MLPA_DoubledSoftmax(MLPA):
    """BUG: output delta = (p - onehot) * p * (1 - p) (softmax derivative applied twice),
    batch-averaged as usual. Wrong: every param (all W* and b*)."""

    def _output_delta(self, p, T):
        return (p - T) * p * (1.0 - p)


class MLPA_SummedNotAveraged(MLPA):
    """BUG: loss is the batch mean, gradients are the batch sum (B times too large).
    Wrong: every param (all W* and b*) whenever B > 1."""

    def _grad_scale(self, B):
        return 1.0


# ============================================================================= Style B
class TwoLayerNetB:
    """CS231n-style two-layer net: affine - ReLU - affine - softmax.

    loss = mean softmax CE + 0.5 * reg * (sum(W1**2) + sum(W2**2)).
    """

    _reg_grad_keys = ("W1", "W2")  # weights whose grads get the + reg * W term

    def __init__(self, D, H, K, reg=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.params = {
            "W1": rng.standard_normal((D, H)) / np.sqrt(D),
            "b1": 0.1 * rng.standard_normal(H),
            "W2": rng.standard_normal((H, K)) / np.sqrt(H),
            "b2": 0.1 * rng.standard_normal(K),
        }

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        X = np.asarray(X, dtype=np.float64)
        hidden_pre = X @ W1 + b1
        hidden = np.maximum(hidden_pre, 0)
        scores = hidden @ W2 + b2
        if y is None:
            return scores
        y = np.asarray(y)
        B = X.shape[0]
        loss = _mean_cross_entropy(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        dscores = (_softmax(scores) - _onehot(y, scores.shape[1], scores.dtype)) / B
        grads = {"W2": hidden.T @ dscores, "b2": dscores.sum(axis=0)}
        dhidden = dscores @ W2.T
        dhidden[hidden_pre <= 0] = 0
        grads["W1"] = X.T @ dhidden
        grads["b1"] = dhidden.sum(axis=0)
        for k in self._reg_grad_keys:
            grads[k] = grads[k] + self.reg * self.params[k]
        return float(loss), grads


class TwoLayerNetB_ForgotRegGradient(TwoLayerNetB):
    """BUG: the reg * W1 term is missing from grads["W1"]. Wrong: "W1" only."""

    _reg_grad_keys = ("W2",)


# ============================================================================= Style C
class SelfTrainingC:
    """A net that trains itself: input -> sigmoid hidden -> softmax output.

    Weights live in self.W1, self.b1, self.W2, self.b2. train() does one SGD step (in place)
    on the batch-mean cross-entropy.
    """

    def __init__(self, D, H, K, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((D, H)) / np.sqrt(D)
        self.b1 = 0.1 * rng.standard_normal(H)
        self.W2 = rng.standard_normal((H, K)) / np.sqrt(H)
        self.b2 = 0.1 * rng.standard_normal(K)

    def forward(self, X):
        X = np.asarray(X, dtype=np.float64)
        self.hidden = _sigmoid(X @ self.W1 + self.b1)
        self.output = _softmax(self.hidden @ self.W2 + self.b2)
        return self.output

    def _output_delta(self, p, t):
        return p - t

    def train(self, X, y, lr):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        p = self.forward(X)
        t = _onehot(y, p.shape[1], p.dtype)
        B = X.shape[0]
        delta_out = self._output_delta(p, t) / B
        dW2 = self.hidden.T @ delta_out
        db2 = delta_out.sum(axis=0)
        delta_hidden = (delta_out @ self.W2.T) * self.hidden * (1.0 - self.hidden)
        dW1 = X.T @ delta_hidden
        db1 = delta_hidden.sum(axis=0)
        self.W1 -= lr * dW1
        self.b1 -= lr * db1
        self.W2 -= lr * dW2
        self.b2 -= lr * db2


class SelfTrainingC_DoubledSoftmax(SelfTrainingC):
    """BUG: train uses output delta (p - t) * p * (1 - p). Wrong: W1, b1, W2, b2 (all)."""

    def _output_delta(self, p, t):
        return (p - t) * p * (1.0 - p)


# ============================================================================= Style D
def init_params(sizes, seed=0):
    """tanh MLP params for sizes (D, H1, ..., K): {"W1","b1",...,"WL","bL"}."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params["W%d" % i] = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        params["b%d" % i] = 0.1 * rng.standard_normal(fan_out)
    return params


def _n_layers(params):
    return sum(1 for k in params if k.startswith("W"))


def _forward_fn(params, X):
    a = np.asarray(X, dtype=np.float64)
    acts = [a]
    L = _n_layers(params)
    for i in range(1, L + 1):
        z = a @ params["W%d" % i] + params["b%d" % i]
        if i < L:
            a = np.tanh(z)
            acts.append(a)
    return acts, z


def predict_fn(params, X):
    return _softmax(_forward_fn(params, X)[1])


def loss_fn(params, X, y):
    return _mean_cross_entropy(_forward_fn(params, X)[1], np.asarray(y))


def grads_fn(params, X, y):
    y = np.asarray(y)
    acts, logits = _forward_fn(params, X)
    B = logits.shape[0]
    delta = (_softmax(logits) - _onehot(y, logits.shape[1], logits.dtype)) / B
    grads = {}
    for i in range(_n_layers(params), 0, -1):
        grads["W%d" % i] = acts[i - 1].T @ delta
        grads["b%d" % i] = delta.sum(axis=0)
        if i > 1:
            delta = (delta @ params["W%d" % i].T) * (1.0 - acts[i - 1] ** 2)
    return {k: grads[k] for k in params}
