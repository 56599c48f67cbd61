"""
minitorch_modules.py -- "re-implement PyTorch in numpy" idiom.

Module objects with forward()/backward() and __call__, layers cache their
inputs in forward and ACCUMULATE gradients into .dW/.db in backward (like
.grad in torch), so callers must zero_grad() between steps.  Sequential
container, CrossEntropyLoss module (forward(logits, target) / backward()),
SGD optimizer with zero_grad()/step().  Linear weights stored torch-style as
(out_features, in_features).  Rows = samples, integer targets.

BUG: Linear.zero_grad() resets self.dW but forgets self.db, so bias gradients keep accumulating across steps (the first backward after construction is still correct).
"""
import numpy as np


class Module:
    def __init__(self):
        self.training = True

    def __call__(self, *args):
        return self.forward(*args)

    def forward(self, *args):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def parameters(self):
        return []

    def zero_grad(self):
        pass

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


class Linear(Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        bound = 1.0 / np.sqrt(in_features)
        self.W = np.random.uniform(-bound, bound, (out_features, in_features))
        self.b = np.random.uniform(-bound, bound, out_features)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._buggy = False

    def forward(self, x):
        self.x = x                     # cache input for backward
        return x @ self.W.T + self.b

    def backward(self, grad_output):
        # accumulate, like autograd does
        self.dW += grad_output.T @ self.x
        self.db += grad_output.sum(axis=0)
        return grad_output @ self.W

    def parameters(self):
        return [(self.W, self.dW), (self.b, self.db)]

    def zero_grad(self):
        self.dW[...] = 0.0
        if not self._buggy:
            self.db[...] = 0.0


class Tanh(Module):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad_output):
        return grad_output * (1.0 - self.out ** 2)


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()


class CrossEntropyLoss(Module):
    """Softmax + negative log likelihood, mean over the batch."""

    def forward(self, logits, target):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.target = target
        return -log_probs[np.arange(len(target)), target].mean()

    def backward(self, grad_output=1.0):
        n = len(self.target)
        grad = self.probs.copy()
        grad[np.arange(n), self.target] -= 1.0
        return grad_output * grad / n


class SGD:
    def __init__(self, params, lr=0.1, momentum=0.0):
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self.velocity = [np.zeros_like(p) for p, _ in self.params]

    def step(self):
        for (p, g), v in zip(self.params, self.velocity):
            v *= self.momentum
            v += g
            p -= self.lr * v


class MLP(Sequential):
    def __init__(self, in_features, hidden, n_classes):
        super().__init__(Linear(in_features, hidden), Tanh(),
                         Linear(hidden, hidden), Tanh(),
                         Linear(hidden, n_classes))


def make_blobs(n=48, d=10, k=4, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 2.0
    y = rng.randint(0, k, size=n)
    X = centers[y] + rng.randn(n, d)
    return X, y


def make(buggy=False):
    np.random.seed(0)
    model = MLP(10, 16, 4)
    for layer in model.layers:
        if isinstance(layer, Linear):
            layer._buggy = buggy
    X, y = make_blobs()
    return model, X, y, 0.1


if __name__ == "__main__":
    model, X, y, lr = make()
    criterion = CrossEntropyLoss()
    # finite-difference check; do two zero_grad/forward/backward rounds so
    # that the accumulate/zero_grad protocol is exercised too
    for _ in range(2):
        model.zero_grad()
        loss = criterion(model(X), y)
        model.backward(criterion.backward())
    h, worst = 1e-5, 0.0
    for p, g in model.parameters():
        for _ in range(6):
            idx = tuple(np.random.randint(s) for s in p.shape)
            old = p[idx]
            p[idx] = old + h; lp = criterion(model(X), y)
            p[idx] = old - h; lm = criterion(model(X), y)
            p[idx] = old
            num = (lp - lm) / (2 * h)
            worst = max(worst, abs(num - g[idx]) / max(1e-4, abs(num) + abs(g[idx])))
    print("max rel error grads vs finite differences: %.2e" % worst)
    assert worst < 1e-6
    # training loop, PyTorch style
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(10):
        for i in range(0, len(X), 16):
            xb, yb = X[i:i + 16], y[i:i + 16]
            model.zero_grad()
            loss = criterion(model(xb), yb)
            model.backward(criterion.backward())
            optimizer.step()
        print("epoch %d loss %.4f" % (epoch, criterion(model(X), y)))
