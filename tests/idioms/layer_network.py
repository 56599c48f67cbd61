"""Layer-object network in the "Neural Network from scratch in Python" style.

Every layer is an object with ``forward_propagation(input)`` and
``backward_propagation(output_error, learning_rate)``.  The backward pass of a
fully connected layer both *returns* dE/dX (computed with the weights it had
during the forward pass) and *applies* the SGD step to its own parameters in
place.  Samples are row vectors: x has shape (n, 1, n_features) and y has shape
(n, 1, n_outputs).

The loss of one sample is ``mse(y_true, y_pred) = mean((y_true - y_pred)**2)``
(a mean over the outputs), so after one backward pass with learning rate ``lr``
the gradient of that loss is ``(old_param - new_param) / lr``.

Bugs are selected with ``make_network(bug=...)``; see ``VARIANTS``.
"""

import numpy as np


# ---------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------

class Layer:
    """Base class: remembers its input and output."""

    def __init__(self):
        self.input = None
        self.output = None

    # computes the output Y of a layer for a given input X
    def forward_propagation(self, input):
        raise NotImplementedError

    # computes dE/dX for a given dE/dY (and updates parameters if any)
    def backward_propagation(self, output_error, learning_rate):
        raise NotImplementedError


class FCLayer(Layer):
    """Fully connected layer: Y = X W + b with W (in, out) and b (1, out)."""

    def __init__(self, input_size, output_size, rng=None):
        super().__init__()
        rng = np.random if rng is None else rng
        self.weights = rng.rand(input_size, output_size) - 0.5
        self.bias = rng.rand(1, output_size) - 0.5

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = np.dot(self.input, self.weights) + self.bias
        return self.output

    def backward_propagation(self, output_error, learning_rate):
        input_error = np.dot(output_error, self.weights.T)
        weights_error = np.dot(self.input.T, output_error)
        # dBias = output_error

        self.weights -= learning_rate * weights_error
        self.bias -= learning_rate * output_error
        return input_error


class ActivationLayer(Layer):
    """Element-wise activation; has no parameters of its own."""

    def __init__(self, activation, activation_prime):
        super().__init__()
        self.activation = activation
        self.activation_prime = activation_prime

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = self.activation(self.input)
        return self.output

    # learning_rate is not used because there are no "learnable" parameters
    def backward_propagation(self, output_error, learning_rate):
        return self.activation_prime(self.input) * output_error


# ---------------------------------------------------------------------------
# activations and loss
# ---------------------------------------------------------------------------

def tanh(x):
    return np.tanh(x)


def tanh_prime(x):
    return 1 - np.tanh(x) ** 2


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_prime(x):
    s = sigmoid(x)
    return s * (1 - s)


def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_true.size


# ---------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------

class Network:
    def __init__(self):
        self.layers = []
        self.loss = None
        self.loss_prime = None

    # add layer to network
    def add(self, layer):
        self.layers.append(layer)

    # set loss to use
    def use(self, loss, loss_prime):
        self.loss = loss
        self.loss_prime = loss_prime

    # predict output for given input
    def predict(self, input_data):
        samples = len(input_data)
        result = []

        for i in range(samples):
            output = input_data[i]
            for layer in self.layers:
                output = layer.forward_propagation(output)
            result.append(output)

        return result

    # train the network, one sample at a time
    def fit(self, x_train, y_train, epochs, learning_rate):
        samples = len(x_train)

        for i in range(epochs):
            err = 0
            for j in range(samples):
                # forward propagation
                output = x_train[j]
                for layer in self.layers:
                    output = layer.forward_propagation(output)

                # compute loss (for display purpose only)
                err += self.loss(y_train[j], output)

                # backward propagation
                error = self.loss_prime(y_train[j], output)
                for layer in reversed(self.layers):
                    error = layer.backward_propagation(error, learning_rate)

            # calculate average error on all samples
            err /= samples
            print('epoch %d/%d   error=%f' % (i + 1, epochs, err))


# ---------------------------------------------------------------------------
# bugs
# ---------------------------------------------------------------------------

def mse_prime_no_mean(y_true, y_pred):
    """Bug: the loss derivative forgets the / y_true.size of the mean, so every gradient is n_outputs times too big (last FC layer first)."""
    return 2 * (y_pred - y_true)


class ActivationPrimeOfOutput(ActivationLayer):
    """Bug: activation_prime is evaluated at the layer's output instead of its input (last FC layer touched first; every FC gradient is off, with tanh clearest at the first FC layer since 1-tanh(tanh z)**2 differs only at O(z**4))."""

    def backward_propagation(self, output_error, learning_rate):
        return self.activation_prime(self.output) * output_error


class TransposedFCLayer(FCLayer):
    """Bug: weights_error is transposed before the update (square middle layer's weights wrong)."""

    def backward_propagation(self, output_error, learning_rate):
        input_error = np.dot(output_error, self.weights.T)
        weights_error = np.dot(self.input.T, output_error).T

        self.weights -= learning_rate * weights_error
        self.bias -= learning_rate * output_error
        return input_error


class BiasSignFCLayer(FCLayer):
    """Bug: the bias moves with += (up the gradient) (first layer's bias wrong)."""

    def backward_propagation(self, output_error, learning_rate):
        input_error = np.dot(output_error, self.weights.T)
        weights_error = np.dot(self.input.T, output_error)

        self.weights -= learning_rate * weights_error
        self.bias += learning_rate * output_error
        return input_error


VARIANTS = {
    "correct": "reference implementation: gradients of mse (mean over outputs)",
    "mse_prime_no_mean": mse_prime_no_mean.__doc__,
    "prime_of_output": ActivationPrimeOfOutput.__doc__,
    "transposed_middle": TransposedFCLayer.__doc__,
    "bias_sign_first": BiasSignFCLayer.__doc__,
}

_ACTIVATIONS = {
    "tanh": (tanh, tanh_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
}


def make_network(bug=None, seed=0, activation="tanh"):
    """FC(3,4)-act-FC(4,4)-act-FC(4,2)-act using mse / mse_prime.

    ``bug`` is None (or "correct") or one of the other keys of VARIANTS.
    Initialisation is the tutorial's rand - 0.5, from a RandomState(seed).
    """
    if bug == "correct":
        bug = None
    if bug is not None and bug not in VARIANTS:
        raise ValueError("unknown bug %r; choose from %s" % (bug, sorted(VARIANTS)))
    act, act_prime = _ACTIVATIONS[activation]
    rng = np.random.RandomState(seed)

    act_cls = ActivationPrimeOfOutput if bug == "prime_of_output" else ActivationLayer
    first_cls = BiasSignFCLayer if bug == "bias_sign_first" else FCLayer
    middle_cls = TransposedFCLayer if bug == "transposed_middle" else FCLayer

    net = Network()
    net.add(first_cls(3, 4, rng))
    net.add(act_cls(act, act_prime))
    net.add(middle_cls(4, 4, rng))
    net.add(act_cls(act, act_prime))
    net.add(FCLayer(4, 2, rng))
    net.add(act_cls(act, act_prime))
    if bug == "mse_prime_no_mean":
        net.use(mse, mse_prime_no_mean)
    else:
        net.use(mse, mse_prime)
    return net


def make_data(n=8, seed=0):
    """x (n, 1, 3) in [-1.5, 1.5) with x[0] all zeros; y (n, 1, 2) in (0, 1)."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(-1.5, 1.5, size=(n, 1, 3))
    x[0] = 0.0
    a = np.array([[1.5, -1.0], [-0.5, 2.0], [1.0, 1.0]])
    y = 1 / (1 + np.exp(-(np.tanh(x @ a) * 2.0 + np.array([0.3, -0.2]))))
    return x, y


if __name__ == "__main__":
    x_train, y_train = make_data()
    net = make_network()
    before = np.mean([mse(y, p) for y, p in zip(y_train, net.predict(x_train))])
    net.fit(x_train, y_train, epochs=200, learning_rate=0.1)
    after = np.mean([mse(y, p) for y, p in zip(y_train, net.predict(x_train))])
    print("mean mse before %.6f -> after %.6f" % (before, after))
    assert after < before
