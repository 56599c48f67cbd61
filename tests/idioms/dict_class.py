"""Dict-of-parameters class in the "MNIST neural network from scratch with NumPy" style.

``DeepNeuralNetwork(sizes)`` keeps W1, W2, W3 (shape (out, in), no biases) in
``self.params`` and, during ``forward_pass`` on ONE example (a 1-D vector),
also stores the activations A0, Z1, A1, Z2, A2, Z3, A3 there.  Hidden layers
are sigmoid, the output is softmax.

The class has no loss function: the loss of one example is the cross-entropy
``-np.sum(y * np.log(output))`` and ``backward_pass(y, output)`` returns its
gradient w.r.t. W1..W3 in the dict ``change_w``.

Buggy subclasses are listed in ``VARIANTS``; use sizes [16, 8, 8, 4] so W2 is
square.
"""

import time

import numpy as np


class DeepNeuralNetwork():
    def __init__(self, sizes, epochs=10, l_rate=0.01, seed=None):
        self.sizes = sizes
        self.epochs = epochs
        self.l_rate = l_rate

        if seed is not None:
            np.random.seed(seed)
        # we save all parameters in the neural network in this dictionary
        self.params = self.initialization()

    def sigmoid(self, x, derivative=False):
        if derivative:
            return (np.exp(-x)) / ((np.exp(-x) + 1) ** 2)
        return 1 / (1 + np.exp(-x))

    def softmax(self, x, derivative=False):
        # numerically stable with large exponentials
        exps = np.exp(x - x.max())
        if derivative:
            return exps / np.sum(exps, axis=0) * (1 - exps / np.sum(exps, axis=0))
        return exps / np.sum(exps, axis=0)

    def initialization(self):
        # number of nodes in each layer
        input_layer = self.sizes[0]
        hidden_1 = self.sizes[1]
        hidden_2 = self.sizes[2]
        output_layer = self.sizes[3]

        params = {
            'W1': np.random.randn(hidden_1, input_layer) * np.sqrt(1. / hidden_1),
            'W2': np.random.randn(hidden_2, hidden_1) * np.sqrt(1. / hidden_2),
            'W3': np.random.randn(output_layer, hidden_2) * np.sqrt(1. / output_layer)
        }
        return params

    def forward_pass(self, x_train):
        params = self.params

        # input layer activations becomes sample
        params['A0'] = x_train

        # input layer to hidden layer 1
        params['Z1'] = np.dot(params["W1"], params['A0'])
        params['A1'] = self.sigmoid(params['Z1'])

        # hidden layer 1 to hidden layer 2
        params['Z2'] = np.dot(params["W2"], params['A1'])
        params['A2'] = self.sigmoid(params['Z2'])

        # hidden layer 2 to output layer
        params['Z3'] = np.dot(params["W3"], params['A2'])
        params['A3'] = self.softmax(params['Z3'])

        return params['A3']

    def backward_pass(self, y_train, output):
        """Gradient of -sum(y * log(output)) for one example w.r.t. W1, W2, W3."""
        params = self.params
        change_w = {}

        # softmax followed by cross-entropy: dL/dZ3 = output - y
        error = output - y_train
        change_w['W3'] = np.outer(error, params['A2'])

        # calculate W2 update
        error = np.dot(params['W3'].T, error) * self.sigmoid(params['Z2'], derivative=True)
        change_w['W2'] = np.outer(error, params['A1'])

        # calculate W1 update
        error = np.dot(params['W2'].T, error) * self.sigmoid(params['Z1'], derivative=True)
        change_w['W1'] = np.outer(error, params['A0'])

        return change_w

    def update_network_parameters(self, changes_to_w):
        # W_new = W_old - learning_rate * gradient
        for key, value in changes_to_w.items():
            self.params[key] -= self.l_rate * value

    def compute_accuracy(self, x_val, y_val):
        predictions = []

        for x, y in zip(x_val, y_val):
            output = self.forward_pass(x)
            pred = np.argmax(output)
            predictions.append(pred == np.argmax(y))

        return np.mean(predictions)

    def train(self, x_train, y_train, x_val, y_val):
        start_time = time.time()
        for iteration in range(self.epochs):
            for x, y in zip(x_train, y_train):
                output = self.forward_pass(x)
                changes_to_w = self.backward_pass(y, output)
                self.update_network_parameters(changes_to_w)

            accuracy = self.compute_accuracy(x_val, y_val)
            print('Epoch: {0}, Time Spent: {1:.2f}s, Accuracy: {2:.2f}%'.format(
                iteration + 1, time.time() - start_time, accuracy * 100
            ))


# ---------------------------------------------------------------------------
# bugs
# ---------------------------------------------------------------------------

class SoftmaxDerivativeAgain(DeepNeuralNetwork):
    """Bug: the softmax derivative is multiplied onto (output - y) again (W3 wrong first)."""

    def backward_pass(self, y_train, output):
        params = self.params
        change_w = {}

        error = (output - y_train) * self.softmax(params['Z3'], derivative=True)
        change_w['W3'] = np.outer(error, params['A2'])

        error = np.dot(params['W3'].T, error) * self.sigmoid(params['Z2'], derivative=True)
        change_w['W2'] = np.outer(error, params['A1'])

        error = np.dot(params['W2'].T, error) * self.sigmoid(params['Z1'], derivative=True)
        change_w['W1'] = np.outer(error, params['A0'])

        return change_w


class TransposedW2(DeepNeuralNetwork):
    """Bug: W2's gradient is transposed, np.outer(A1, error) (W2 wrong first; needs square W2)."""

    def backward_pass(self, y_train, output):
        params = self.params
        change_w = {}

        error = output - y_train
        change_w['W3'] = np.outer(error, params['A2'])

        error = np.dot(params['W3'].T, error) * self.sigmoid(params['Z2'], derivative=True)
        change_w['W2'] = np.outer(params['A1'], error)

        error = np.dot(params['W2'].T, error) * self.sigmoid(params['Z1'], derivative=True)
        change_w['W1'] = np.outer(error, params['A0'])

        return change_w


class SigmoidPrimeAtA1(DeepNeuralNetwork):
    """Bug: the first hidden layer's sigmoid derivative is evaluated at A1 instead of Z1 (W1 wrong first)."""

    def backward_pass(self, y_train, output):
        params = self.params
        change_w = {}

        error = output - y_train
        change_w['W3'] = np.outer(error, params['A2'])

        error = np.dot(params['W3'].T, error) * self.sigmoid(params['Z2'], derivative=True)
        change_w['W2'] = np.outer(error, params['A1'])

        error = np.dot(params['W2'].T, error) * self.sigmoid(params['A1'], derivative=True)
        change_w['W1'] = np.outer(error, params['A0'])

        return change_w


VARIANTS = {
    "correct": DeepNeuralNetwork,
    "softmax_derivative_again": SoftmaxDerivativeAgain,
    "transposed_w2": TransposedW2,
    "sigmoid_prime_at_a1": SigmoidPrimeAtA1,
}

SIZES = [16, 8, 8, 4]


def make_data(n=40, n_features=16, n_classes=4, seed=0):
    """x (n, n_features): pixels in [0.01, 1] or exactly 0; y (n, n_classes) one-hot."""
    rng = np.random.RandomState(seed)
    prototypes = rng.rand(n_classes, n_features)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    x = prototypes[labels] + 0.25 * rng.randn(n, n_features)
    x = np.clip(x, 0.0, 1.0) * 0.99 + 0.01          # the tutorial's (x / 255) * 0.99 + 0.01
    x[rng.rand(n, n_features) < 0.2] = 0.0           # some "background" pixels exactly 0
    y = np.zeros((n, n_classes))
    y[np.arange(n), labels] = 1.0
    return x, y


if __name__ == "__main__":
    x, y = make_data()
    x_train, y_train, x_val, y_val = x[:32], y[:32], x[32:], y[32:]

    def mean_loss(net):
        return np.mean([-np.sum(t * np.log(net.forward_pass(s))) for s, t in zip(x_train, y_train)])

    dnn = DeepNeuralNetwork(sizes=SIZES, epochs=60, l_rate=0.3, seed=0)
    before = mean_loss(dnn)
    dnn.train(x_train, y_train, x_val, y_val)
    after = mean_loss(dnn)
    print("mean cross-entropy before %.4f -> after %.4f" % (before, after))
    assert after < before
