"""Layer objects that update themselves during backward, plus a Keras-like model.

Idiom 1: list of layers (TheIndependentCode)
--------------------------------------------
Follows the public repository TheIndependentCode/Neural-Network (the code of
the "Neural Network from scratch in Python" videos): ``Layer`` base class,
``Dense``, ``Activation`` with ``Tanh`` / ``Sigmoid`` subclasses, a ``Softmax``
layer, loss FUNCTIONS in pairs (``mse`` / ``mse_prime``, ...), and free
functions ``predict(network, input)`` and ``train(network, loss, loss_prime,
x_train, y_train, epochs, learning_rate)``.  Written from scratch with the
same names and conventions:

* the network is a plain Python LIST of layer objects;
* examples are single COLUMN vectors, looped one at a time: ``x_train`` is
  (n, n_in, 1), ``y_train`` is (n, n_out, 1);
* ``Dense(input_size, output_size)``: ``weights`` (out, in), ``bias`` (out, 1),
  both standard normal from the global ``np.random``;
* ``backward(output_gradient, learning_rate)`` UPDATES the layer's parameters
  in place (plain SGD) and returns the gradient with respect to its input,
  computed with the weights used in the forward pass;
* loss functions take ``(y_true, y_pred)``; ``mse`` is the MEAN over output
  units and ``mse_prime`` is its exact derivative.

So the gradient a layer applies is that of ``loss(y, predict(network, x))``
for ONE example: ``new_weights = old_weights - learning_rate * gradient``.
``build_network(task, seed, zero_biases, bug)`` returns ``(network, loss,
loss_prime)`` for the fixtures; the square matrix is the hidden ``Dense(4, 4)``.

Idiom 2: Keras-like ``Sequential``
----------------------------------
The "mini Keras" that many from-scratch repositories write (e.g. the
``NeuralNetwork.train_on_batch`` design of eriklindernoren/ML-From-Scratch,
with Keras' own method names): ``Sequential([SeqDense(6, input_dim=4),
SeqReLU(), ...])``, ``compile(optimizer=SGD(lr=0.1),
loss="categorical_crossentropy")``, ``train_on_batch(X, y)`` (returns the loss
BEFORE the update, then steps), ``predict(X)``, ``evaluate(X, y)``,
``get_weights()`` / ``set_weights()`` (copies, like Keras).  The learning rate
lives in the optimizer object.  ROWS ARE SAMPLES: ``X`` (N, features), ``y``
one-hot (N, k) or 0/1 (N, k).  ``SeqDense`` has ``kernel`` (in, units)
(Glorot-uniform) and ``bias`` (units,) (zeros).  Losses are means over the
batch (categorical CE sums over classes; mse/bce average over outputs too).
The loss derivative is passed back per sample; each ``SeqDense`` divides its
parameter gradients by the batch size.  For softmax + categorical CE the
model feeds ``y_pred - y`` straight to the layer before the softmax.

Kinks
-----
In ``Sequential`` (ReLU) with the default zero biases, the blank inputs put
hidden pre-activations EXACTLY at 0.  The correct code uses relu'(0) = 0
there, so a CENTRAL difference disagrees with it on the hidden-layer biases
(it averages the slopes 0 and 1 on the two sides of the kink); a one-sided
difference from below agrees.  Its ``relu_ge`` differs from the correct
variant only at those exact zeros.  With random biases
(``build_sequential(zero_biases=False)``) no pre-activation is at a kink.
The list-of-layers networks use tanh and have no kinks.

Variants
--------
List-of-layers network, ``build_network(task, bug=...)``:

| name | what is wrong | first affected | loss / output |
|---|---|---|---|
| ``None``, ``task="tanh_mse"`` | -- | -- | mse, tanh |
| ``None``, ``"sigmoid_bce"`` | -- | -- | BCE, sigmoid |
| ``None``, ``"softmax_cce"`` | -- | -- | CE, softmax |
| ``"mse_prime_half"`` | loss_prime is ``(y_pred - y)/n`` (derivative of HALF the squared error) while the cost ``mse`` has no 1/2 | every parameter (x 1/2) | mse, tanh |
| ``"mse_half_cost"`` | cost is ``0.5 * mean((y - y_pred)^2)`` while ``mse_prime`` keeps the factor 2 | every parameter (x 2 vs the cost) | mse, tanh |
| ``"bce_prime_simplified"`` | loss_prime is ``(y_pred - y)/n`` (already dL/dz) and the ``Sigmoid`` layer still multiplies by sigma' | output ``Dense`` (then all) | BCE, sigmoid |
| ``"softmax_elementwise"`` | ``Softmax`` layer backward uses ``o*(1-o)`` elementwise instead of the Jacobian | output ``Dense`` (then all) | CE, softmax |
| ``"transposed_square_weights"`` | hidden ``Dense(4, 4)`` uses ``input @ grad^T`` (the transpose) for its weight gradient | that layer's ``weights`` only | any |
| ``"bias_sign_flip"`` | hidden ``Dense(4, 4)`` moves its bias UP the gradient | that layer's ``bias`` only | any |
| ``"row_input_gradient"`` | first ``Dense`` returns its input gradient as a (1, in) ROW instead of an (in, 1) column; parameter updates are right | the returned dx only (shape (1, 3) instead of (3, 1)); ``train`` ignores it, so training is unaffected | any |

``Sequential``, ``build_sequential(task, bug=...)`` (layers: SeqDense(6) ReLU
SeqDense(6) ReLU SeqDense(k) Softmax/Sigmoid; the second kernel is 6 x 6):

| name | what is wrong | first affected | loss / output |
|---|---|---|---|
| ``None``, ``"softmax_cce"`` | -- | -- | CE, softmax |
| ``None``, ``"sigmoid_bce"`` | -- | -- | BCE, sigmoid |
| ``"softmax_derivative_twice"`` | model multiplies ``y_pred - y`` by ``y_pred*(1-y_pred)`` | last kernel/bias (then all) | CE, softmax |
| ``"bias_not_averaged"`` | first ``SeqDense`` sums its bias gradient over the batch without dividing by N | first layer's ``bias`` only (x N) | any |
| ``"transposed_kernel_grad"`` | second ``SeqDense`` (6 x 6) stores its kernel gradient transposed | that ``kernel`` only | any |
| ``"relu_ge"`` | ``SeqReLU`` backward passes the gradient where the input is exactly 0; identical unless some ReLU input is exactly 0 | bias entries at exact zeros (blank rows, zero biases) | any |
"""

import numpy as np


# =========================================================== idiom 1: layer list

class Layer:
    def __init__(self):
        self.input = None
        self.output = None

    def forward(self, input):
        # return the layer output for this input
        raise NotImplementedError

    def backward(self, output_gradient, learning_rate):
        # update parameters (if any) and return the input gradient
        raise NotImplementedError


class Dense(Layer):
    def __init__(self, input_size, output_size):
        self.weights = np.random.randn(output_size, input_size)
        self.bias = np.random.randn(output_size, 1)

    def forward(self, input):
        self.input = input
        return np.dot(self.weights, self.input) + self.bias

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(output_gradient, self.input.T)
        input_gradient = np.dot(self.weights.T, output_gradient)
        self.weights -= learning_rate * weights_gradient
        self.bias -= learning_rate * output_gradient
        return input_gradient


class DenseTransposedWeightsGradient(Dense):
    """BUG: the weight gradient is ``input @ output_gradient.T``, the transpose
    of the right one.  Only usable where the matrix is square (Dense(4, 4));
    only this layer's ``weights`` update is wrong, bias and dx are right."""

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(self.input, output_gradient.T)
        input_gradient = np.dot(self.weights.T, output_gradient)
        self.weights -= learning_rate * weights_gradient
        self.bias -= learning_rate * output_gradient
        return input_gradient


class DenseBiasSignFlip(Dense):
    """BUG: ``self.bias += ...``: this one layer's bias moves up the gradient.
    Weights and the returned input gradient are right."""

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(output_gradient, self.input.T)
        input_gradient = np.dot(self.weights.T, output_gradient)
        self.weights -= learning_rate * weights_gradient
        self.bias += learning_rate * output_gradient
        return input_gradient


class DenseRowInputGradient(Dense):
    """BUG: returns the input gradient as a (1, input_size) ROW
    (``output_gradient.T @ weights``) instead of an (input_size, 1) column.
    The values are right, the shape is not.  Used as the FIRST layer, where
    ``train`` throws the returned gradient away, so training is unaffected;
    anywhere else the next ``Activation`` would broadcast it to a matrix."""

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(output_gradient, self.input.T)
        input_gradient = np.dot(output_gradient.T, self.weights)
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


class Sigmoid(Activation):
    def __init__(self):
        def sigmoid(x):
            return 1 / (1 + np.exp(-x))

        def sigmoid_prime(x):
            s = sigmoid(x)
            return s * (1 - s)

        super().__init__(sigmoid, sigmoid_prime)


class Softmax(Layer):
    def forward(self, input):
        tmp = np.exp(input - np.max(input))
        self.output = tmp / np.sum(tmp)
        return self.output

    def backward(self, output_gradient, learning_rate):
        # Jacobian J[i, j] = o_i * (delta_ij - o_j); it is symmetric
        n = np.size(self.output)
        jacobian = (np.identity(n) - self.output.T) * self.output
        return np.dot(jacobian, output_gradient)


class SoftmaxElementwise(Softmax):
    """BUG: backward multiplies by ``o * (1 - o)`` elementwise, i.e. keeps only
    the diagonal of the softmax Jacobian.  The output ``Dense`` is the first
    layer with a wrong update; everything before it follows."""

    def backward(self, output_gradient, learning_rate):
        return output_gradient * self.output * (1 - self.output)


# --- loss functions (y_true, y_pred)

def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / np.size(y_true)


def binary_cross_entropy(y_true, y_pred):
    return np.mean(-y_true * np.log(y_pred) - (1 - y_true) * np.log(1 - y_pred))


def binary_cross_entropy_prime(y_true, y_pred):
    return ((1 - y_true) / (1 - y_pred) - y_true / y_pred) / np.size(y_true)


def categorical_cross_entropy(y_true, y_pred):
    return -np.sum(y_true * np.log(y_pred))


def categorical_cross_entropy_prime(y_true, y_pred):
    return -y_true / y_pred


def mse_prime_half(y_true, y_pred):
    """BUG: derivative of HALF the mean squared error (factor 2 dropped), used
    with ``mse``, which has no 1/2.  Every update is half the true step."""
    return (y_pred - y_true) / np.size(y_true)


def mse_half(y_true, y_pred):
    """BUG (the other direction): a cost WITH the 1/2, used with ``mse_prime``,
    which keeps the factor 2.  Every update is twice the gradient of this cost."""
    return 0.5 * np.mean(np.power(y_true - y_pred, 2))


def binary_cross_entropy_prime_simplified(y_true, y_pred):
    """BUG when followed by a ``Sigmoid`` layer: ``y_pred - y_true`` is already
    the derivative with respect to the sigmoid's INPUT, and the Sigmoid layer
    multiplies by sigma' again.  The output Dense is wrong first."""
    return (y_pred - y_true) / np.size(y_true)


# --- the two free functions of the idiom

def predict(network, input):
    output = input
    for layer in network:
        output = layer.forward(output)
    return output


def train(network, loss, loss_prime, x_train, y_train, epochs=1000,
          learning_rate=0.01, verbose=True):
    """Per-example SGD; returns the mean loss of every epoch."""
    history = []
    for e in range(epochs):
        error = 0
        for x, y in zip(x_train, y_train):
            output = predict(network, x)
            error += loss(y, output)
            grad = loss_prime(y, output)
            for layer in reversed(network):
                grad = layer.backward(grad, learning_rate)
        error /= len(x_train)
        history.append(error)
        if verbose:
            print(f"{e + 1}/{epochs}, error={error}")
    return history


NETWORK_BUGS = {
    "mse_prime_half": "loss_prime lacks the factor 2 of mse (task tanh_mse)",
    "mse_half_cost": "cost has 1/2, mse_prime keeps 2 (task tanh_mse)",
    "bce_prime_simplified":
        "loss_prime is y_pred - y yet the Sigmoid layer applies sigma' (task sigmoid_bce)",
    "softmax_elementwise":
        "Softmax backward uses o*(1-o) instead of the Jacobian (task softmax_cce)",
    "transposed_square_weights": "hidden Dense(4, 4) weight gradient transposed",
    "bias_sign_flip": "hidden Dense(4, 4) bias updated with the wrong sign",
    "row_input_gradient": "first Dense returns dx as a (1, 3) row instead of (3, 1)",
}

_TASK_OF_BUG = {"mse_prime_half": "tanh_mse", "mse_half_cost": "tanh_mse",
                "bce_prime_simplified": "sigmoid_bce",
                "softmax_elementwise": "softmax_cce"}


def build_network(task="tanh_mse", seed=0, zero_biases=False, bug=None):
    """Return ``(network, loss, loss_prime)``.

    ``task``: ``"tanh_mse"`` -> 3-4-4-2 tanh net with mse;
    ``"sigmoid_bce"`` -> 3-4-4-1 tanh net, sigmoid output, BCE;
    ``"softmax_cce"`` -> 3-4-4-3 tanh net, softmax output, categorical CE.
    ``seed`` seeds the global ``np.random``; ``zero_biases=True`` zeroes the
    (normally random) biases.  ``bug`` picks one of ``NETWORK_BUGS``.
    """
    if bug is not None and bug not in NETWORK_BUGS:
        raise ValueError("unknown bug %r" % (bug,))
    if bug in _TASK_OF_BUG and _TASK_OF_BUG[bug] != task:
        raise ValueError("%r belongs to task %r" % (bug, _TASK_OF_BUG[bug]))
    if seed is not None:
        np.random.seed(seed)
    n_out = {"tanh_mse": 2, "sigmoid_bce": 1, "softmax_cce": 3}[task]

    first = DenseRowInputGradient if bug == "row_input_gradient" else Dense
    middle = {"transposed_square_weights": DenseTransposedWeightsGradient,
              "bias_sign_flip": DenseBiasSignFlip}.get(bug, Dense)
    network = [first(3, 4), Tanh(), middle(4, 4), Tanh(), Dense(4, n_out)]
    if task == "tanh_mse":
        network.append(Tanh())
        loss, loss_prime = mse, mse_prime
        if bug == "mse_prime_half":
            loss_prime = mse_prime_half
        elif bug == "mse_half_cost":
            loss = mse_half
    elif task == "sigmoid_bce":
        network.append(Sigmoid())
        loss, loss_prime = binary_cross_entropy, binary_cross_entropy_prime
        if bug == "bce_prime_simplified":
            loss_prime = binary_cross_entropy_prime_simplified
    elif task == "softmax_cce":
        network.append(SoftmaxElementwise() if bug == "softmax_elementwise"
                       else Softmax())
        loss, loss_prime = categorical_cross_entropy, categorical_cross_entropy_prime
    else:
        raise ValueError(task)
    if zero_biases:
        for layer in network:
            if isinstance(layer, Dense):
                layer.bias[:] = 0.0
    return network, loss, loss_prime


def make_data(seed=0, n=6, task="tanh_mse", n_blank=1):
    """``(x_train, y_train)`` in the idiom's per-example column layout:
    ``x_train`` (n, 3, 1), ``y_train`` (n, k, 1) with k = 2 (targets in
    [-0.8, 0.8] for tanh), 1 (0/1 for sigmoid) or 3 (one-hot for softmax).
    The first ``n_blank`` inputs are all zero.  Own RandomState."""
    rng = np.random.RandomState(seed)
    x_train = rng.uniform(-1, 1, size=(n, 3, 1))
    x_train[:n_blank] = 0.0
    if task == "tanh_mse":
        y_train = 0.8 * np.tanh(rng.randn(n, 2, 1))
    elif task == "sigmoid_bce":
        y_train = (rng.rand(n, 1, 1) > 0.5).astype(float)
    elif task == "softmax_cce":
        labels = np.arange(n) % 3
        y_train = np.eye(3)[labels].reshape(n, 3, 1)
    else:
        raise ValueError(task)
    return x_train, y_train


# ====================================================== idiom 2: Keras-like model

class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def apply_gradients(self, grads_and_vars):
        for grad, var in grads_and_vars:
            var -= self.lr * grad


class SeqDense:
    def __init__(self, units, input_dim=None, bias_initializer="zeros", bug=None):
        self.units = units
        self.input_dim = input_dim
        self.bias_initializer = bias_initializer
        # one of: None, "bias_not_averaged", "transposed_kernel_grad"
        self.bug = bug
        self.kernel = None
        self.bias = None

    def build(self, input_dim):
        self.input_dim = input_dim
        limit = np.sqrt(6.0 / (input_dim + self.units))
        self.kernel = np.random.uniform(-limit, limit, (input_dim, self.units))
        if self.bias_initializer == "zeros":
            self.bias = np.zeros(self.units)
        else:
            self.bias = 0.1 * np.random.randn(self.units)

    def forward(self, X):
        self.input = X
        return X @ self.kernel + self.bias

    def backward(self, grad):
        batch_size = grad.shape[0]
        if self.bug == "transposed_kernel_grad":
            # BUG: transposed kernel gradient (the kernel is square)
            self.grad_kernel = (self.input.T @ grad).T / batch_size
        else:
            self.grad_kernel = self.input.T @ grad / batch_size
        if self.bug == "bias_not_averaged":
            # BUG: summed over the batch, never divided
            self.grad_bias = grad.sum(axis=0)
        else:
            self.grad_bias = grad.sum(axis=0) / batch_size
        return grad @ self.kernel.T

    @property
    def trainable_weights(self):
        return [self.kernel, self.bias]

    @property
    def gradients(self):
        return [self.grad_kernel, self.grad_bias]

    def get_weights(self):
        return [self.kernel.copy(), self.bias.copy()]

    def set_weights(self, weights):
        self.kernel[...] = weights[0]
        self.bias[...] = weights[1]


class _SeqActivation:
    trainable_weights = []
    gradients = []

    def get_weights(self):
        return []

    def set_weights(self, weights):
        pass


class SeqReLU(_SeqActivation):
    def __init__(self, bug=None):
        # one of: None, "relu_ge"
        self.bug = bug

    def forward(self, X):
        self.input = X
        return np.maximum(0, X)

    def backward(self, grad):
        if self.bug == "relu_ge":
            # BUG: an input of exactly 0 lets the gradient through
            return grad * (self.input >= 0)
        return grad * (self.input > 0)


class SeqTanh(_SeqActivation):
    def forward(self, X):
        self.out = np.tanh(X)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out ** 2)


class SeqSigmoid(_SeqActivation):
    def forward(self, X):
        self.out = 1 / (1 + np.exp(-X))
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class SeqSoftmax(_SeqActivation):
    def forward(self, X):
        e = np.exp(X - X.max(axis=1, keepdims=True))
        self.out = e / e.sum(axis=1, keepdims=True)
        return self.out

    def backward(self, grad):
        # row-wise Jacobian-vector product
        s = self.out
        return s * (grad - np.sum(grad * s, axis=1, keepdims=True))


_EPS = 1e-7


class Sequential:
    def __init__(self, layers, bug=None):
        """``layers`` in order; the first ``SeqDense`` needs ``input_dim``.
        Weights are drawn from the global ``np.random`` here.  ``bug``: None
        or ``"softmax_derivative_twice"``."""
        self.layers = list(layers)
        self.bug = bug
        self.optimizer = None
        self.loss = None
        dim = None
        for layer in self.layers:
            if isinstance(layer, SeqDense):
                layer.build(layer.input_dim if layer.input_dim is not None else dim)
                dim = layer.units

    def compile(self, optimizer, loss="categorical_crossentropy"):
        if loss not in ("categorical_crossentropy", "binary_crossentropy", "mse"):
            raise ValueError(loss)
        self.optimizer = optimizer
        self.loss = loss

    def _forward(self, X):
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def predict(self, X):
        return self._forward(X)

    def _loss_value(self, y, y_pred):
        if self.loss == "categorical_crossentropy":
            p = np.clip(y_pred, _EPS, 1 - _EPS)
            return float(np.mean(-np.sum(y * np.log(p), axis=1)))
        if self.loss == "binary_crossentropy":
            p = np.clip(y_pred, _EPS, 1 - _EPS)
            return float(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))
        return float(np.mean((y_pred - y) ** 2))

    def _loss_gradient(self, y, y_pred):
        """Per-sample derivative of the loss w.r.t. the network output
        (the batch average is taken inside each SeqDense)."""
        k = y.shape[1]
        if self.loss == "categorical_crossentropy":
            return -y / np.clip(y_pred, _EPS, 1 - _EPS)
        if self.loss == "binary_crossentropy":
            p = np.clip(y_pred, _EPS, 1 - _EPS)
            return ((1 - y) / (1 - p) - y / p) / k
        return 2 * (y_pred - y) / k

    def evaluate(self, X, y, verbose=0):
        return self._loss_value(y, self._forward(X))

    def train_on_batch(self, X, y):
        y_pred = self._forward(X)
        loss = self._loss_value(y, y_pred)
        layers = self.layers
        if self.loss == "categorical_crossentropy" and \
                isinstance(layers[-1], SeqSoftmax):
            # softmax and cross-entropy together: gradient w.r.t. the logits
            grad = y_pred - y
            if self.bug == "softmax_derivative_twice":
                # BUG: the softmax derivative already cancelled out above
                grad = grad * y_pred * (1 - y_pred)
            layers = layers[:-1]
        else:
            grad = self._loss_gradient(y, y_pred)
        for layer in reversed(layers):
            grad = layer.backward(grad)
        grads_and_vars = []
        for layer in layers:
            grads_and_vars.extend(zip(layer.gradients, layer.trainable_weights))
        self.optimizer.apply_gradients(grads_and_vars)
        return loss

    def get_weights(self):
        weights = []
        for layer in self.layers:
            weights.extend(layer.get_weights())
        return weights

    def set_weights(self, weights):
        i = 0
        for layer in self.layers:
            n = len(layer.get_weights())
            layer.set_weights(weights[i:i + n])
            i += n


SEQUENTIAL_BUGS = {
    "softmax_derivative_twice":
        "model multiplies y_pred - y by y_pred*(1-y_pred) (task softmax_cce)",
    "bias_not_averaged": "first SeqDense bias gradient not divided by N",
    "transposed_kernel_grad": "second SeqDense (6 x 6) kernel gradient transposed",
    "relu_ge": "SeqReLU passes the gradient at input == 0 (exact zeros only)",
}


def build_sequential(task="softmax_cce", seed=0, zero_biases=True, lr=0.1,
                     bug=None):
    """A compiled ``Sequential``: 4 -> 6 -> ReLU -> 6 -> ReLU -> 3 with softmax
    and categorical CE (``task="softmax_cce"``) or 3 sigmoid units and binary
    CE (``task="sigmoid_bce"``).  ``seed`` seeds the global ``np.random``.
    ``bug`` picks one of ``SEQUENTIAL_BUGS``."""
    if bug is not None and bug not in SEQUENTIAL_BUGS:
        raise ValueError("unknown bug %r" % (bug,))
    if bug == "softmax_derivative_twice" and task != "softmax_cce":
        raise ValueError("softmax_derivative_twice needs task='softmax_cce'")
    if seed is not None:
        np.random.seed(seed)
    bias_init = "zeros" if zero_biases else "random_normal"
    relu_bug = "relu_ge" if bug == "relu_ge" else None
    layers = [
        SeqDense(6, input_dim=4, bias_initializer=bias_init,
                 bug="bias_not_averaged" if bug == "bias_not_averaged" else None),
        SeqReLU(bug=relu_bug),
        SeqDense(6, bias_initializer=bias_init,
                 bug="transposed_kernel_grad" if bug == "transposed_kernel_grad" else None),
        SeqReLU(bug=relu_bug),
        SeqDense(3, bias_initializer=bias_init),
    ]
    if task == "softmax_cce":
        layers.append(SeqSoftmax())
        loss = "categorical_crossentropy"
    elif task == "sigmoid_bce":
        layers.append(SeqSigmoid())
        loss = "binary_crossentropy"
    else:
        raise ValueError(task)
    model = Sequential(layers,
                       bug=bug if bug == "softmax_derivative_twice" else None)
    model.compile(optimizer=SGD(lr=lr), loss=loss)
    return model


def make_batch(seed=0, n=10, task="softmax_cce", n_blank=2):
    """``(X, y)`` with ROWS AS SAMPLES: ``X`` (n, 4), first ``n_blank`` rows
    all zero and the last feature column always zero; ``y`` (n, 3) one-hot
    (softmax_cce) or independent 0/1 labels (sigmoid_bce).  Own RandomState."""
    rng = np.random.RandomState(seed)
    labels = np.arange(n) % 3
    X = 0.6 * rng.randn(3, 4)[labels] + 0.3 * rng.randn(n, 4)
    X[:n_blank] = 0.0
    X[:, -1] = 0.0
    if task == "softmax_cce":
        y = np.eye(3)[labels]
    elif task == "sigmoid_bce":
        y = (rng.rand(n, 3) > 0.5).astype(float)
    else:
        raise ValueError(task)
    return X, y
