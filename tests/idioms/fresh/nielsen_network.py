"""
nielsen_network.py
~~~~~~~~~~~~~~~~~~

Nielsen "neural-networks-and-deep-learning" network.py idiom: column vectors,
lists of biases / weights, per-example backprop, sigmoid everywhere, quadratic
cost, update_mini_batch averaging with eta/len(mini_batch).

BUG: update_mini_batch drops the 1/len(mini_batch) factor (uses eta instead of eta/len(mini_batch)), so the step is the summed, not averaged, gradient.
"""

#### Libraries
# Standard library
import random

# Third-party libraries
import numpy as np


class Network(object):

    def __init__(self, sizes):
        """The list ``sizes`` contains the number of neurons in the
        respective layers of the network.  The biases and weights are
        initialized randomly, using a Gaussian distribution with mean 0
        and variance 1."""
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x)
                        for x, y in zip(sizes[:-1], sizes[1:])]
        self._buggy = False

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a)+b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            test_data=None):
        """Train the neural network using mini-batch stochastic
        gradient descent.  The ``training_data`` is a list of tuples
        ``(x, y)`` representing the training inputs and the desired
        outputs."""
        training_data = list(training_data)
        if test_data:
            test_data = list(test_data)
            n_test = len(test_data)
        n = len(training_data)
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [
                training_data[k:k+mini_batch_size]
                for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print("Epoch {0}: {1} / {2}".format(
                    j, self.evaluate(test_data), n_test))
            else:
                print("Epoch {0} complete".format(j))

    def update_mini_batch(self, mini_batch, eta):
        """Update the network's weights and biases by applying
        gradient descent using backpropagation to a single mini batch.
        The ``mini_batch`` is a list of tuples ``(x, y)``, and ``eta``
        is the learning rate."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb+dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw+dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        if self._buggy:
            # BUG: forgot to average over the mini batch
            self.weights = [w-eta*nw
                            for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b-eta*nb
                           for b, nb in zip(self.biases, nabla_b)]
        else:
            self.weights = [w-(eta/len(mini_batch))*nw
                            for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b-(eta/len(mini_batch))*nb
                           for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """Return a tuple ``(nabla_b, nabla_w)`` representing the
        gradient for the cost function C_x.  ``nabla_b`` and
        ``nabla_w`` are layer-by-layer lists of numpy arrays, similar
        to ``self.biases`` and ``self.weights``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # feedforward
        activation = x
        activations = [x]  # list to store all the activations, layer by layer
        zs = []  # list to store all the z vectors, layer by layer
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation)+b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * \
            sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        # Note that the variable l in the loop below is used a little
        # differently to the notation in Chapter 2 of the book.
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l+1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l-1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        """Return the number of test inputs for which the neural
        network outputs the correct result."""
        test_results = [(np.argmax(self.feedforward(x)), y)
                        for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        """Return the vector of partial derivatives \\partial C_x /
        \\partial a for the output activations."""
        return (output_activations-y)


#### Miscellaneous functions
def sigmoid(z):
    """The sigmoid function."""
    return 1.0/(1.0+np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z)*(1-sigmoid(z))


def vectorized_result(j, n=10):
    """Return an n-dimensional unit vector with a 1.0 in the jth
    position and zeroes elsewhere."""
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


def load_data(n_per_class=16, n_in=8, n_classes=3, seed=0):
    """Gaussian blobs, returned Nielsen-style: list of (n_in,1) column
    vectors and list of one-hot (n_classes,1) column vectors."""
    rng = np.random.RandomState(seed)
    centers = rng.randn(n_classes, n_in) * 1.5
    xs, ys = [], []
    for c in range(n_classes):
        for _ in range(n_per_class):
            xs.append((centers[c] + 0.5*rng.randn(n_in)).reshape(n_in, 1))
            ys.append(vectorized_result(c, n_classes))
    return xs, ys


def make(buggy=False):
    np.random.seed(1)
    net = Network([8, 12, 3])
    net._buggy = buggy
    X, y = load_data()
    eta = 3.0
    return net, X, y, eta


def _quadratic_cost(net, x, y):
    a = net.feedforward(x)
    return 0.5*np.linalg.norm(a-y)**2


if __name__ == "__main__":
    net, X, y, eta = make()
    # finite-difference check of backprop on a few examples
    h = 1e-5
    worst = 0.0
    for i in (0, 17, 40):
        x, t = X[i], y[i]
        nb, nw = net.backprop(x, t)
        for params, grads in ((net.weights, nw), (net.biases, nb)):
            for P, G in zip(params, grads):
                for _ in range(4):
                    idx = tuple(np.random.randint(s) for s in P.shape)
                    old = P[idx]
                    P[idx] = old + h; cp = _quadratic_cost(net, x, t)
                    P[idx] = old - h; cm = _quadratic_cost(net, x, t)
                    P[idx] = old
                    num = (cp - cm) / (2*h)
                    rel = abs(num - G[idx]) / max(1e-4, abs(num) + abs(G[idx]))  # floor: FD round-off ~1e-11
                    worst = max(worst, rel)
    print("max rel error backprop vs finite differences: %.2e" % worst)
    assert worst < 1e-6
    # check update_mini_batch takes a step of -eta * mean gradient
    batch = list(zip(X[:5], y[:5]))
    w0 = [w.copy() for w in net.weights]
    gs = [net.backprop(a, b)[1] for a, b in batch]
    net.update_mini_batch(batch, 0.1)
    for l, w in enumerate(net.weights):
        expected = w0[l] - 0.1*np.mean([g[l] for g in gs], axis=0)
        assert np.allclose(w, expected)
    # train
    data = list(zip(X, y))
    random.seed(0)
    for epoch in range(6):
        c = np.mean([_quadratic_cost(net, a, b) for a, b in data])
        print("epoch %d  quadratic cost %.5f  acc %d/%d" % (
            epoch, c, net.evaluate([(a, np.argmax(b)) for a, b in data]), len(data)))
        net.SGD(data, 1, 10, eta)
    print("final quadratic cost %.5f" % np.mean([_quadratic_cost(net, a, b) for a, b in data]))
