"""
layer_update_in_backward.py -- "Neural Network from scratch in Python"
(The Independent Code / Omar Aflak) idiom.

A Layer base class with forward(input) and backward(output_gradient,
learning_rate): each Dense layer updates ITS OWN weights inside backward and
returns the input gradient, so there is no gradient storage and no optimizer.
Activation(activation, activation_prime) layers (Tanh), loss as plain
functions mse / mse_prime, the network is just a Python list of layers, and
module-level train(network, loss, loss_prime, x_train, y_train, epochs,
learning_rate) / predict(network, input) functions.  One sample at a time,
each sample a column vector: X has shape (n, n_features, 1), Y (n, n_classes, 1)
one-hot.  Dense weights are (output_size, input_size), bias (output_size, 1).

BUG: Dense.backward updates self.weights before computing input_gradient = np.dot(self.weights.T, output_gradient), so the gradient passed to earlier layers uses the already-updated weights.
"""
import numpy as np


class Layer:
    def __init__(self):
        self.input = None
        self.output = None

    def forward(self, input):
        # TODO: return output
        pass

    def backward(self, output_gradient, learning_rate):
        # TODO: update parameters and return input gradient
        pass


class Dense(Layer):
    def __init__(self, input_size, output_size):
        self.weights = np.random.randn(output_size, input_size)
        self.bias = np.random.randn(output_size, 1)
        self._buggy = False

    def forward(self, input):
        self.input = input
        return np.dot(self.weights, self.input) + self.bias

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(output_gradient, self.input.T)
        if self._buggy:
            self.weights -= learning_rate * weights_gradient
            self.bias -= learning_rate * output_gradient
            input_gradient = np.dot(self.weights.T, output_gradient)
            return input_gradient
        input_gradient = np.dot(self.weights.T, output_gradient)
        self.weights -= learning_rate * weights_gradient
        self.bias -= learning_rate * output_gradient
        return input_gradient


class Activation(Layer):
    def __init__(self, activation, activation_prime):
        self.activation = activation
        self.activation_prime = activation_prime

    def forward(self, input):
        self.input = input
        return self.activation(self.input)

    def backward(self, output_gradient, learning_rate):
        return np.multiply(output_gradient, self.activation_prime(self.input))


class Tanh(Activation):
    def __init__(self):
        def tanh(x):
            return np.tanh(x)

        def tanh_prime(x):
            return 1 - np.tanh(x) ** 2

        super().__init__(tanh, tanh_prime)


def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / np.size(y_true)


def predict(network, input):
    output = input
    for layer in network:
        output = layer.forward(output)
    return output


def train(network, loss, loss_prime, x_train, y_train, epochs=1000, learning_rate=0.01, verbose=True):
    for e in range(epochs):
        error = 0
        for x, y in zip(x_train, y_train):
            # forward
            output = predict(network, x)

            # error
            error += loss(y, output)

            # backward
            grad = loss_prime(y, output)
            for layer in reversed(network):
                grad = layer.backward(grad, learning_rate)

        error /= len(x_train)
        if verbose:
            print(f"{e + 1}/{epochs}, error={error}")


def load_data(n=45, n_features=4, n_classes=3, seed=21):
    rng = np.random.RandomState(seed)
    centers = rng.randn(n_classes, n_features) * 1.5
    labels = np.arange(n) % n_classes
    X = centers[labels] + 0.5 * rng.randn(n, n_features)
    X = np.reshape(X, (n, n_features, 1))
    Y = np.reshape(np.eye(n_classes)[labels], (n, n_classes, 1))
    return X, Y


def make(buggy=False):
    np.random.seed(42)
    network = [
        Dense(4, 8),
        Tanh(),
        Dense(8, 3),
        Tanh()
    ]
    for layer in network:
        if isinstance(layer, Dense):
            layer._buggy = buggy
    X, Y = load_data()
    return network, X, Y, 0.05


if __name__ == "__main__":
    import copy
    network, X, Y, learning_rate = make()
    # gradient implied by one backward pass (w_new = w_old - lr * grad) vs
    # finite differences of mse on that sample
    h, worst = 1e-5, 0.0
    for i in (0, 10, 31):
        x, y = X[i], Y[i]
        probe = copy.deepcopy(network)
        grad = mse_prime(y, predict(probe, x))
        for layer in reversed(probe):
            grad = layer.backward(grad, 1.0)
        for layer, moved in zip(network, probe):
            if not isinstance(layer, Dense):
                continue
            for name in ("weights", "bias"):
                P = getattr(layer, name)
                G = P - getattr(moved, name)
                for idx in np.ndindex(P.shape):
                    old = P[idx]
                    P[idx] = old + h; lp = mse(y, predict(network, x))
                    P[idx] = old - h; lm = mse(y, predict(network, x))
                    P[idx] = old
                    num = (lp - lm) / (2 * h)
                    worst = max(worst, abs(num - G[idx]) / max(1e-4, abs(num) + abs(G[idx])))
    print("max rel error of backward() updates vs finite differences: %.2e" % worst)
    assert worst < 1e-6
    train(network, mse, mse_prime, X, Y, epochs=10, learning_rate=learning_rate)
