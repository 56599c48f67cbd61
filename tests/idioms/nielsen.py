"""Sigmoid networks in the style of Michael Nielsen's book code.

Idiom
-----
Follows ``src/network.py`` and ``src/network2.py`` from the public repository
mnielsen/neural-networks-and-deep-learning (the code of the online book
"Neural Networks and Deep Learning").  Written from scratch here, keeping the
book's names and structure:

* ``sizes`` such as ``[4, 5, 5, 3]``; ``self.weights`` and ``self.biases`` are
  Python LISTS of arrays, ``weights[i]`` of shape ``(sizes[i+1], sizes[i])`` and
  ``biases[i]`` of shape ``(sizes[i+1], 1)``; the input layer has no bias.
* Global ``np.random`` for initialisation (``seed=`` only calls
  ``np.random.seed``), ``random.shuffle`` for the mini-batches.
* ``backprop(x, y)`` works on ONE example and returns ``(nabla_b, nabla_w)``:
  the gradient of that example's cost ``C_x`` (no averaging, no L2).
* ``update_mini_batch`` sums ``backprop`` over a mini-batch (a Python list of
  ``(x, y)`` tuples), divides by ``len(mini_batch)`` and takes a step.  In
  ``Network2`` the L2 term enters only here, as weight decay
  ``(1 - eta*lmbda/n) * w`` with ``n`` the size of the whole training set.
* Sigmoid on every layer, output included.

Data layout
-----------
Column vectors: ``x`` has shape ``(n_in, 1)``; training targets ``y`` are one-hot
``(n_out, 1)``.  Test/evaluation data carry an integer label instead, as in the
book's ``mnist_loader`` (``make_data(..., vectorize=False)``).

Which cost each gradient belongs to
-----------------------------------
* ``Network.backprop(x, y)``: gradient of ``0.5 * ||a - y||**2`` for that
  example.  ``Network.update_mini_batch(batch, eta)`` steps by
  ``-eta * grad(mean over the batch of that cost)``.  ``network.py`` has no
  cost method; ``Network.total_cost`` is therefore NOT provided.
* ``Network2.backprop(x, y)``: gradient of ``self.cost.fn(a, y)`` for that
  example.  ``Network2.update_mini_batch(batch, eta, lmbda, n)`` steps by
  ``-eta * grad(total_cost(batch, lmbda))`` when ``n == len(batch)``, where
  ``total_cost(data, lmbda) = mean_x cost.fn + 0.5*lmbda/len(data) * sum ||w||^2``.

Variants
--------
``Network(sizes, seed=None, zero_biases=False, bug=None)`` (network.py,
quadratic cost):

| name | what is wrong | first affected | cost / output |
|---|---|---|---|
| ``None`` (correct) | -- | -- | quadratic, sigmoid |
| ``"missing_sigmoid_prime"`` | output error is ``a - y`` without the factor ``sigmoid_prime(z_L)`` (the output derivative is missing where it is needed) | ``nabla_b[-1]``, ``nabla_w[-1]`` (then every earlier layer) | quadratic, sigmoid |

``Network2(sizes, cost=CrossEntropyCost, seed=None, zero_biases=False,
large_weights=False, bug=None)`` (network2.py):

| name / how to select | what is wrong | first affected | cost / output |
|---|---|---|---|
| correct, ``cost=CrossEntropyCost`` | -- | -- | cross-entropy, sigmoid |
| correct, ``cost=QuadraticCost`` | -- | -- | quadratic, sigmoid |
| correct with ``lmbda > 0`` | -- | -- | either + L2 |
| ``cost=CrossEntropyCostSigmoidPrimeTwice`` (or ``bug="sigmoid_prime_twice"``) | cross-entropy ``delta`` multiplied by ``sigmoid_prime(z)``: the sigmoid derivative applied again after it already cancelled | ``nabla_b[-1]``, ``nabla_w[-1]`` (then all layers) | cross-entropy, sigmoid |
| ``cost=QuadraticCostNoHalf`` (or ``bug="quadratic_cost_no_half"``) | ``fn`` is ``norm(a-y)**2`` without the 1/2 while ``delta`` is still ``(a-y)*sigmoid_prime(z)`` | the cost value; every gradient is half of the true gradient of that cost | quadratic, sigmoid |
| ``bug="no_batch_average"`` | ``update_mini_batch`` steps by ``eta*sum`` instead of ``eta/len(mini_batch)*sum``; the cost is a mean | every weight and bias (x batch size) | any |
| ``bug="biases_not_averaged"`` | only the bias step lacks ``/len(mini_batch)`` | every bias (x batch size); weights ok | any |
| ``bug="l2_missing"`` | weight decay factor left out of ``update_mini_batch`` although ``total_cost`` includes the L2 term | every weight when ``lmbda > 0`` | any + L2 |
| ``bug="transposed_square_hidden"`` | the hidden layer whose weight matrix is square gets the outer product in the wrong order, i.e. the transpose of its gradient (any other shape would crash, so only the square one survives).  With ``lmbda > 0`` the L2 decay is then applied on top of the transposed data term | ``nabla_w[-2]`` for sizes [4, 5, 5, 3] (only that tensor) | any |
"""

import random

import numpy as np


#### Activation helpers

def sigmoid(z):
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the logistic function, evaluated at z."""
    s = sigmoid(z)
    return s * (1 - s)


def vectorized_result(j, k=3):
    """A (k, 1) one-hot column with a 1.0 in row j."""
    e = np.zeros((k, 1))
    e[j] = 1.0
    return e


#### Cost classes (network2.py style)

class QuadraticCost(object):

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` against target ``y``: half the squared norm."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Error of the output layer, dC/dz_L."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost(object):

    @staticmethod
    def fn(a, y):
        """Cross-entropy of output ``a`` against target ``y``.

        ``nan_to_num`` turns the 0*log(0) = nan case into 0.
        """
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Error of the output layer; the sigmoid derivative cancels, so
        ``z`` is unused (kept for a uniform interface)."""
        return a - y


class CrossEntropyCostSigmoidPrimeTwice(CrossEntropyCost):
    """BUG: the output error multiplies ``a - y`` by ``sigmoid_prime(z)``.

    With cross-entropy the sigmoid derivative has already cancelled, so this
    applies it a second time.  ``fn`` is the correct cross-entropy.  The wrong
    tensors are the output layer's ``nabla_b[-1]`` / ``nabla_w[-1]`` first, and
    through ``delta`` every earlier layer.
    """

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class QuadraticCostNoHalf(QuadraticCost):
    """BUG: the cost is ``||a - y||^2`` without the 1/2, but ``delta`` is still
    ``(a - y) * sigmoid_prime(z)``, the derivative of the HALVED cost.

    Every gradient is therefore half of the true gradient of the reported
    cost (uniformly, all layers).  Only ``fn`` differs from ``QuadraticCost``.
    """

    @staticmethod
    def fn(a, y):
        return np.linalg.norm(a - y) ** 2


#### network.py: the chapter-1 network (quadratic cost, no L2)

NETWORK_BUGS = {
    "missing_sigmoid_prime":
        "output error is (a - y) without sigmoid_prime(z_L); wrong from "
        "nabla_b[-1]/nabla_w[-1] backwards",
}


class Network(object):

    def __init__(self, sizes, seed=None, zero_biases=False, bug=None):
        """``sizes`` lists the neurons per layer, e.g. ``[4, 5, 5, 3]``.

        Weights and biases are standard normal (the chapter-1 initialiser),
        drawn from the global ``np.random``; ``seed`` just seeds it.
        ``zero_biases=True`` starts every bias at 0.  ``bug`` picks one of
        ``NETWORK_BUGS``.
        """
        if bug is not None and bug not in NETWORK_BUGS:
            raise ValueError("unknown bug %r" % (bug,))
        if seed is not None:
            np.random.seed(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.bug = bug
        if zero_biases:
            self.biases = [np.zeros((y, 1)) for y in sizes[1:]]
        else:
            self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x)
                        for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Output of the network for the column input ``a``."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Mini-batch stochastic gradient descent.

        ``training_data`` is a list of ``(x, y)`` with one-hot ``y``; it is
        shuffled in place every epoch.  ``test_data`` (integer labels) is
        evaluated after each epoch if given.  Returns the per-epoch test
        accuracies (empty without test data).
        """
        n = len(training_data)
        scores = []
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size]
                            for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                scores.append(self.evaluate(test_data))
        return scores

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on the mean cost of ``mini_batch``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """Gradient of C_x = 0.5*||a - y||^2 for the single example (x, y),
        as layer-by-layer lists ``(nabla_b, nabla_w)``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # forward, keeping every weighted input z and activation
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # output error
        if self.bug == "missing_sigmoid_prime":
            # BUG: dC/da only; the sigmoid derivative of the output is dropped
            delta = self.cost_derivative(activations[-1], y)
        else:
            delta = self.cost_derivative(activations[-1], y) * \
                sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        # hidden layers; l counts back from the output (l = 2 is the last hidden)
        for l in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        """How many ``(x, label)`` pairs the network classifies correctly."""
        test_results = [(np.argmax(self.feedforward(x)), y)
                        for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        """dC_x/da for the quadratic cost."""
        return output_activations - y


#### network2.py: cost classes, better initialisation, L2 regularisation

NETWORK2_BUGS = {
    "sigmoid_prime_twice":
        "same as cost=CrossEntropyCostSigmoidPrimeTwice: sigmoid_prime applied "
        "again to the cross-entropy output error; wrong from nabla_b[-1]/nabla_w[-1]",
    "quadratic_cost_no_half":
        "same as cost=QuadraticCostNoHalf: cost lacks the 1/2 but delta does "
        "not; every gradient is half the true one",
    "no_batch_average":
        "update_mini_batch steps by eta*sum instead of eta/len(mini_batch)*sum; "
        "all weights and biases",
    "biases_not_averaged":
        "update_mini_batch divides the weight step by len(mini_batch) but not "
        "the bias step; all biases",
    "l2_missing":
        "update_mini_batch leaves out the weight decay although total_cost "
        "includes the L2 term; all weights when lmbda > 0",
    "transposed_square_hidden":
        "backprop returns the transpose of the gradient of the square hidden "
        "weight matrix (nabla_w[-2] for sizes [4, 5, 5, 3]); with lmbda > 0 the "
        "decay is applied on top of the transposed term",
}

_BUGGY_COSTS = {
    "sigmoid_prime_twice": CrossEntropyCostSigmoidPrimeTwice,
    "quadratic_cost_no_half": QuadraticCostNoHalf,
}


class Network2(object):

    def __init__(self, sizes, cost=CrossEntropyCost, seed=None,
                 zero_biases=False, large_weights=False, bug=None):
        """``sizes`` as in ``Network``; ``cost`` is a cost class with static
        ``fn(a, y)`` and ``delta(z, a, y)``.

        Weights use ``default_weight_initializer`` (N(0, 1/n_in)) unless
        ``large_weights=True``.  ``seed`` seeds the global ``np.random``;
        ``zero_biases=True`` sets all biases to 0 after initialisation.
        ``bug`` picks one of ``NETWORK2_BUGS``; the two cost bugs simply swap in
        the matching buggy cost class.
        """
        if bug is not None and bug not in NETWORK2_BUGS:
            raise ValueError("unknown bug %r" % (bug,))
        if bug in _BUGGY_COSTS:
            cost = _BUGGY_COSTS[bug]
        if seed is not None:
            np.random.seed(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.bug = bug
        if large_weights:
            self.large_weight_initializer()
        else:
            self.default_weight_initializer()
        if zero_biases:
            self.biases = [np.zeros(b.shape) for b in self.biases]
        self.cost = cost

    def default_weight_initializer(self):
        """Weights ~ N(0, 1/n_in) per neuron, biases ~ N(0, 1)."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases ~ N(0, 1), the chapter-1 scheme."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        """Output of the network for the column input ``a``."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            lmbda=0.0,
            evaluation_data=None,
            monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False,
            monitor_training_cost=False,
            monitor_training_accuracy=False):
        """Mini-batch SGD with L2 strength ``lmbda``.

        Returns four per-epoch lists: evaluation cost, evaluation accuracy,
        training cost, training accuracy (empty unless monitored).
        ``evaluation_data`` uses integer labels, ``training_data`` one-hot.
        """
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size]
                            for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta, lmbda, len(training_data))
            if monitor_training_cost:
                training_cost.append(self.total_cost(training_data, lmbda))
            if monitor_training_accuracy:
                training_accuracy.append(self.accuracy(training_data, convert=True))
            if monitor_evaluation_cost:
                evaluation_cost.append(
                    self.total_cost(evaluation_data, lmbda, convert=True))
            if monitor_evaluation_accuracy:
                evaluation_accuracy.append(self.accuracy(evaluation_data))
        return evaluation_cost, evaluation_accuracy, \
            training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on a mini-batch: average of the per-example gradients plus
        weight decay ``lmbda/n`` (``n`` = size of the whole training set)."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]

        if self.bug == "no_batch_average":
            # BUG: summed gradient used as if it were the mean
            w_step = b_step = eta
        elif self.bug == "biases_not_averaged":
            # BUG: only the weight step is divided by the batch size
            w_step, b_step = eta / len(mini_batch), eta
        else:
            w_step = b_step = eta / len(mini_batch)

        if self.bug == "l2_missing":
            # BUG: regularised cost, unregularised update
            decay = 1.0
        else:
            decay = 1 - eta * (lmbda / n)

        self.weights = [decay * w - w_step * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - b_step * nb
                       for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """Gradient of ``self.cost.fn`` for the single example (x, y), as
        lists ``(nabla_b, nabla_w)`` shaped like ``biases`` / ``weights``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            square = self.weights[-l].shape[0] == self.weights[-l].shape[1]
            if self.bug == "transposed_square_hidden" and square:
                # BUG: factors swapped -> (a_prev delta^T) = transpose of the
                # gradient; it only "works" because this matrix is square
                nabla_w[-l] = np.dot(activations[-l - 1], delta.transpose())
            else:
                nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def accuracy(self, data, convert=False):
        """Correct classifications in ``data``; ``convert=True`` when the
        labels are one-hot columns (training data)."""
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y))
                       for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus ``0.5*lmbda/len(data) * sum ||w||^2``.
        ``convert=True`` when the labels are integers (evaluation data)."""
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = vectorized_result(y, self.sizes[-1])
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(
            np.linalg.norm(w) ** 2 for w in self.weights)
        return cost


#### Tiny data set

def make_data(seed=0, n=12, n_in=4, n_out=3, n_blank=2, vectorize=True):
    """A small "pixel intensity" classification set in the book's layout.

    Returns a list of ``(x, y)`` with ``x`` of shape ``(n_in, 1)`` in [0, 1]
    and ``y`` a one-hot ``(n_out, 1)`` column (``vectorize=True``, training
    format) or an ``int`` label (``vectorize=False``, evaluation format).
    The first ``n_blank`` inputs are all zeros ("blank images").
    Uses its own ``RandomState``; the global ``np.random`` is untouched.
    """
    rng = np.random.RandomState(seed)
    prototypes = rng.rand(n_out, n_in)
    data = []
    for i in range(n):
        label = i % n_out
        if i < n_blank:
            x = np.zeros((n_in, 1))
        else:
            x = np.clip(prototypes[label] + 0.2 * rng.randn(n_in), 0.0, 1.0)
            x = x.reshape(n_in, 1)
        y = vectorized_result(label, n_out) if vectorize else label
        data.append((x, y))
    return data
