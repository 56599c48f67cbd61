"""
blog_train_only.py -- "How to build your own Neural Network from scratch in
Python" blog-post idiom (James Loy style, many copies on Medium / GitHub).

No bias vectors (a column of ones is appended to X instead), weights stored
as self.weights1 / self.weights2, sigmoid hidden and output layers, sum of
squares loss sum((y - output)**2), sigmoid_derivative written in terms of the
sigmoid OUTPUT (s * (1 - s)), "d_weights" computed from 2*(y - output) and
ADDED to the weights.  The only training entry point is train(X, y, lr),
which does feedforward + backprop + update in one go; there is no separate
gradient method.  One-hot targets, rows = samples.

BUG: backprop calls sigmoid_prime (the derivative written for pre-activations z) on the already-activated self.output / self.layer1, i.e. uses sigma'(sigma(z)) instead of sigma(z)*(1-sigma(z)).
"""
import numpy as np


def sigmoid(x):
    return 1.0 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    # x is already sigmoid(z)
    return x * (1.0 - x)


def sigmoid_prime(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


class NeuralNetwork:
    def __init__(self, n_input, n_hidden, n_output, buggy=False):
        self.weights1 = np.random.rand(n_input, n_hidden) - 0.5
        self.weights2 = np.random.rand(n_hidden, n_output) - 0.5
        self._buggy = buggy

    def feedforward(self, X):
        self.input = X
        self.layer1 = sigmoid(np.dot(self.input, self.weights1))
        self.output = sigmoid(np.dot(self.layer1, self.weights2))
        return self.output

    def train(self, X, y, lr):
        self.feedforward(X)
        # application of the chain rule to find derivative of the loss function
        # with respect to weights2 and weights1
        deriv = sigmoid_prime if self._buggy else sigmoid_derivative
        delta2 = 2 * (y - self.output) * deriv(self.output)
        d_weights2 = np.dot(self.layer1.T, delta2)
        delta1 = np.dot(delta2, self.weights2.T) * deriv(self.layer1)
        d_weights1 = np.dot(self.input.T, delta1)

        # update the weights with the derivative (slope) of the loss function
        self.weights1 += lr * d_weights1
        self.weights2 += lr * d_weights2
        return np.sum((y - self.output) ** 2)


def make_data(n=48, d=6, k=3, seed=3):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 1.5
    labels = np.arange(n) % k
    X = centers[labels] + 0.6 * rng.randn(n, d)
    X = np.hstack([X, np.ones((n, 1))])      # bias trick: column of ones
    y = np.eye(k)[labels]                     # one-hot
    return X, y


def make(buggy=False):
    np.random.seed(4)
    X, y = make_data()
    nn = NeuralNetwork(X.shape[1], 8, y.shape[1], buggy=buggy)
    return nn, X, y, 0.05


if __name__ == "__main__":
    import copy
    nn, X, y, lr = make()

    def sse(model):
        return np.sum((y - model.feedforward(X)) ** 2)

    # recover the gradient the train() step used: w_new = w_old - lr * grad
    probe = copy.deepcopy(nn)
    probe.train(X, y, 1.0)
    implied = {"weights1": nn.weights1 - probe.weights1,
               "weights2": nn.weights2 - probe.weights2}
    h, worst = 1e-5, 0.0
    for name, G in implied.items():
        W = getattr(nn, name)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + h; lp = sse(nn)
            W[idx] = old - h; lm = sse(nn)
            W[idx] = old
            num = (lp - lm) / (2 * h)
            worst = max(worst, abs(num - G[idx]) / max(1e-4, abs(num) + abs(G[idx])))
    print("max rel error of train() step vs finite-difference gradient of SSE: %.2e" % worst)
    assert worst < 1e-6
    for i in range(300):
        loss = nn.train(X, y, lr)
        if i % 30 == 0:
            print("iteration %3d  loss (sum of squares) %.4f" % (i, loss))
    print("final loss %.4f  accuracy %.2f" % (sse(nn), np.mean(nn.feedforward(X).argmax(1) == y.argmax(1))))
