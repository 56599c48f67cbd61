"""Layer objects in the style of "Neural Networks from Scratch in Python".

Idiom
-----
Follows the book by Harrison Kinsley (Sentdex) and Daniel Kukiela, "Neural
Networks from Scratch in Python" (nnfs.io), as its chapter code is republished
in many public repositories (e.g. Sentdex/nnfs_book and readers' notebooks).
Written from scratch, keeping the book's class names and conventions:

* ``Layer_Dense(n_inputs, n_neurons, weight_regularizer_l2=0,
  bias_regularizer_l2=0)``: ``weights`` (n_inputs, n_neurons), ``biases``
  (1, n_neurons) starting at zero, drawn from the global ``np.random``
  (the book calls ``nnfs.init()``, which seeds it; ``build_layers(seed=)``
  does the same with ``np.random.seed``).  Weight scale is 0.1 here (the book
  uses 0.01) so that three stacked layers keep gradients far above round-off.
* Every object has ``forward(inputs)`` that stores ``self.output`` and
  ``backward(dvalues)`` that stores ``self.dinputs`` (and, for dense layers,
  ``self.dweights`` / ``self.dbiases``).  Nothing is returned.
* ``Loss.calculate(output, y)`` is the MEAN sample loss;
  ``Loss.regularization_loss(layer)`` is ``l2 * sum(w*w)``, whose gradient
  ``2 * l2 * w`` is added inside ``Layer_Dense.backward``.
* ``Activation_Softmax_Loss_CategoricalCrossentropy.backward`` gives
  ``(softmax - onehot) / samples``; the separate ``Activation_Softmax.backward``
  applies the per-sample Jacobian and ``Loss_CategoricalCrossentropy.backward``
  gives ``-y / y_hat / samples``.
* ``Optimizer_SGD(learning_rate=1.0, decay=0.)`` with ``pre_update_params``,
  ``update_params(layer)``, ``post_update_params``.

Data layout
-----------
ROWS ARE SAMPLES: ``X`` is (samples, features); ``y`` holds sparse integer
class labels (samples,) or one-hot rows.  ``make_data`` makes some rows all
zero (blank samples) and one feature column always zero.

Kinks
-----
With the default zero biases, the blank inputs put hidden pre-activations
EXACTLY at 0.  The correct code uses relu'(0) = 0 there, so a CENTRAL
difference disagrees with it on the hidden-layer biases (it averages the
slopes 0 and 1 on the two sides of the kink); a one-sided difference from
below agrees.  ``relu_ge`` differs
from the correct variant only at those exact zeros.  With random biases
(``zero_biases=False``) no pre-activation is at a kink.

Model-free training loop (as the book writes it before the ``Model`` class)
---------------------------------------------------------------------------
``build_layers(...)`` returns a dict of the book's variables: ``dense1``,
``activation1``, ``dense2``, ``activation2``, ``dense3`` and either
``loss_activation`` (combined softmax + CE) or ``activation3`` +
``loss_function`` (``separate_softmax=True``).  Architecture: inputs -> 8 ->
ReLU -> 8 -> ReLU -> n_classes; ``dense2`` is square (8 x 8).
``forward_pass(layers, X, y)`` returns ``(data_loss, regularization_loss)``;
the gradient the layers hold after ``backward_pass(layers, y)`` is that of
``data_loss + regularization_loss``.  ``train(X, y, layers, optimizer,
epochs)`` runs the whole loop.

Variants (``build_layers(bug=...)``; each bug lives in exactly one class)
-------------------------------------------------------------------------

| name | what is wrong | first affected | loss / output |
|---|---|---|---|
| ``None`` (correct) | -- | -- | softmax + CE, combined |
| ``None``, separate_softmax | -- | -- | softmax + CE, separate |
| correct with L2 | ``weight_regularizer_l2`` / ``bias_regularizer_l2`` > 0 | -- | CE + L2 |
| ``"softmax_derivative_twice"`` | combined backward multiplies ``(softmax - onehot)/samples`` by ``softmax * (1 - softmax)`` again | ``dense3.dweights/dbiases`` (then all layers) | combined |
| ``"no_batch_average"`` | combined backward never divides by ``samples`` | every dweights/dbiases (x samples) | combined |
| ``"relu_ge"`` | ``Activation_ReLU.backward`` zeroes only ``inputs < 0``; the kink ``inputs == 0`` passes the gradient. Identical unless some ReLU input is exactly 0 | ``dense2.dbiases``/``dense1`` ``.dbiases`` entries at exact zeros (blank rows, zero biases) | any |
| ``"relu_mask_dvalues"`` | ``Activation_ReLU.backward`` masks with ``dvalues <= 0`` instead of ``inputs <= 0`` | ``dense2`` (then ``dense1``) | any |
| ``"l2_missing_in_backward"`` | ``Layer_Dense.backward`` does not add ``2*l2*w`` / ``2*l2*b`` although the regularisation loss counts them | every regularised layer's dweights/dbiases | CE + L2 |
| ``"transposed_dweights"`` | ``dense2`` (8 x 8) stores ``dweights.T``; combined with L2 the ``2*l2*w`` term is added after the transpose | ``dense2.dweights`` only | any (+ L2) |
| ``"sign_flip_dbiases"`` | ``dense1.dbiases`` has the wrong sign | ``dense1.dbiases`` only | any |
| ``"dbiases_mean"`` | ``dense3.dbiases`` uses ``np.mean`` over samples instead of ``np.sum`` (averaged a second time) | ``dense3.dbiases`` only (/samples) | any |
| ``"softmax_diag_only"`` | separate ``Activation_Softmax.backward`` uses only the Jacobian diagonal ``s*(1-s)*dvalues`` | ``dense3`` (then all) | separate |
| ``"ce_no_batch_average"`` | separate ``Loss_CategoricalCrossentropy.backward`` lacks the ``/ samples`` | every dweights/dbiases (x samples) | separate |
"""

import numpy as np


BUGS = {
    "softmax_derivative_twice":
        "combined softmax+CE backward multiplied by softmax*(1-softmax); dense3 first",
    "no_batch_average": "combined softmax+CE backward not divided by samples",
    "relu_ge":
        "ReLU backward passes the gradient at inputs == 0 exactly; only visible "
        "at exact zeros (blank rows with zero biases)",
    "relu_mask_dvalues": "ReLU backward masks on dvalues <= 0 instead of inputs <= 0",
    "l2_missing_in_backward":
        "Layer_Dense.backward omits 2*l2*weights / 2*l2*biases",
    "transposed_dweights": "dense2 (square) stores the transpose of its dweights",
    "sign_flip_dbiases": "dense1.dbiases has the wrong sign",
    "dbiases_mean": "dense3.dbiases averaged over samples a second time",
    "softmax_diag_only":
        "separate Activation_Softmax.backward uses only the Jacobian diagonal",
    "ce_no_batch_average":
        "separate Loss_CategoricalCrossentropy.backward not divided by samples",
}

_COMBINED_ONLY = ("softmax_derivative_twice", "no_batch_average")
_SEPARATE_ONLY = ("softmax_diag_only", "ce_no_batch_average")


# ---------------------------------------------------------------------- layers

class Layer_Dense:

    def __init__(self, n_inputs, n_neurons,
                 weight_regularizer_l2=0, bias_regularizer_l2=0, bug=None):
        # small random weights, zero biases
        self.weights = 0.1 * np.random.randn(n_inputs, n_neurons)
        self.biases = np.zeros((1, n_neurons))
        self.weight_regularizer_l2 = weight_regularizer_l2
        self.bias_regularizer_l2 = bias_regularizer_l2
        # one of: None, "l2_missing_in_backward", "transposed_dweights",
        # "sign_flip_dbiases", "dbiases_mean"
        self.bug = bug

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        # parameter gradients
        if self.bug == "transposed_dweights":
            # BUG: transposed (only survives because the matrix is square)
            self.dweights = np.dot(self.inputs.T, dvalues).T
        else:
            self.dweights = np.dot(self.inputs.T, dvalues)
        if self.bug == "dbiases_mean":
            # BUG: the incoming gradient is already divided by samples
            self.dbiases = np.mean(dvalues, axis=0, keepdims=True)
        elif self.bug == "sign_flip_dbiases":
            # BUG: wrong sign
            self.dbiases = -np.sum(dvalues, axis=0, keepdims=True)
        else:
            self.dbiases = np.sum(dvalues, axis=0, keepdims=True)

        # L2 regularisation gradients
        if self.bug != "l2_missing_in_backward":
            if self.weight_regularizer_l2 > 0:
                self.dweights += 2 * self.weight_regularizer_l2 * self.weights
            if self.bias_regularizer_l2 > 0:
                self.dbiases += 2 * self.bias_regularizer_l2 * self.biases

        # gradient for the previous layer
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_ReLU:

    def __init__(self, bug=None):
        # one of: None, "relu_ge", "relu_mask_dvalues"
        self.bug = bug

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        if self.bug == "relu_ge":
            # BUG: inputs exactly 0 count as active
            self.dinputs[self.inputs < 0] = 0
        elif self.bug == "relu_mask_dvalues":
            # BUG: mask built from the wrong array
            self.dinputs[dvalues <= 0] = 0
        else:
            self.dinputs[self.inputs <= 0] = 0


class Activation_Softmax:

    def __init__(self, bug=None):
        # one of: None, "softmax_diag_only"
        self.bug = bug

    def forward(self, inputs):
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)

    def backward(self, dvalues):
        if self.bug == "softmax_diag_only":
            # BUG: treats softmax as elementwise, dropping the off-diagonal
            # -s_i*s_j terms of the Jacobian
            self.dinputs = dvalues * self.output * (1 - self.output)
            return
        self.dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in \
                enumerate(zip(self.output, dvalues)):
            single_output = single_output.reshape(-1, 1)
            # d s_i / d z_j = s_i (delta_ij - s_j)
            jacobian_matrix = np.diagflat(single_output) - \
                np.dot(single_output, single_output.T)
            self.dinputs[index] = np.dot(jacobian_matrix, single_dvalues)


# ---------------------------------------------------------------------- losses

class Loss:

    def regularization_loss(self, layer):
        regularization_loss = 0
        if layer.weight_regularizer_l2 > 0:
            regularization_loss += layer.weight_regularizer_l2 * \
                np.sum(layer.weights * layer.weights)
        if layer.bias_regularizer_l2 > 0:
            regularization_loss += layer.bias_regularizer_l2 * \
                np.sum(layer.biases * layer.biases)
        return regularization_loss

    def calculate(self, output, y):
        sample_losses = self.forward(output, y)
        data_loss = np.mean(sample_losses)
        return data_loss


class Loss_CategoricalCrossentropy(Loss):

    def __init__(self, bug=None):
        # one of: None, "ce_no_batch_average"
        self.bug = bug

    def forward(self, y_pred, y_true):
        samples = len(y_pred)
        # keep log() finite
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(samples), y_true]
        elif len(y_true.shape) == 2:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        negative_log_likelihoods = -np.log(correct_confidences)
        return negative_log_likelihoods

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        labels = len(dvalues[0])
        if len(y_true.shape) == 1:
            y_true = np.eye(labels)[y_true]
        self.dinputs = -y_true / dvalues
        if self.bug != "ce_no_batch_average":
            self.dinputs = self.dinputs / samples


class Activation_Softmax_Loss_CategoricalCrossentropy():

    def __init__(self, bug=None):
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()
        # one of: None, "softmax_derivative_twice", "no_batch_average"
        self.bug = bug

    def forward(self, inputs, y_true):
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        if self.bug == "softmax_derivative_twice":
            # BUG: the softmax derivative has already cancelled out above
            self.dinputs = self.dinputs * dvalues * (1 - dvalues)
        if self.bug != "no_batch_average":
            self.dinputs = self.dinputs / samples


# ------------------------------------------------------------------- optimizer

class Optimizer_SGD:

    def __init__(self, learning_rate=1., decay=0.):
        self.learning_rate = learning_rate
        self.current_learning_rate = learning_rate
        self.decay = decay
        self.iterations = 0

    def pre_update_params(self):
        if self.decay:
            self.current_learning_rate = self.learning_rate * \
                (1. / (1. + self.decay * self.iterations))

    def update_params(self, layer):
        layer.weights += -self.current_learning_rate * layer.dweights
        layer.biases += -self.current_learning_rate * layer.dbiases

    def post_update_params(self):
        self.iterations += 1


# ------------------------------------------------------ the book's script, as functions

def build_layers(n_inputs=4, n_hidden=8, n_classes=3,
                 weight_regularizer_l2=0, bias_regularizer_l2=0,
                 separate_softmax=False, zero_biases=True, seed=0, bug=None):
    """Create the objects the book's training script uses.

    ``seed`` seeds the global ``np.random`` (like ``nnfs.init()``);
    ``zero_biases=False`` overwrites the zero biases with N(0, 0.1^2) values.
    The L2 strengths apply to every dense layer.  ``bug`` picks one of
    ``BUGS`` and is handed to the one object that contains it.
    """
    if bug is not None and bug not in BUGS:
        raise ValueError("unknown bug %r" % (bug,))
    if separate_softmax and bug in _COMBINED_ONLY:
        raise ValueError("%r needs the combined softmax/loss object" % bug)
    if not separate_softmax and bug in _SEPARATE_ONLY:
        raise ValueError("%r needs separate_softmax=True" % bug)
    if seed is not None:
        np.random.seed(seed)

    relu_bug = bug if bug in ("relu_ge", "relu_mask_dvalues") else None
    # which dense layer carries which single-layer bug
    single_layer_bug = {"dense1": "sign_flip_dbiases",
                        "dense2": "transposed_dweights",
                        "dense3": "dbiases_mean"}

    def dense_bug(name):
        if bug == "l2_missing_in_backward":
            return bug  # class-level omission: every dense layer
        return bug if single_layer_bug[name] == bug else None

    reg = dict(weight_regularizer_l2=weight_regularizer_l2,
               bias_regularizer_l2=bias_regularizer_l2)
    layers = {
        "dense1": Layer_Dense(n_inputs, n_hidden, bug=dense_bug("dense1"), **reg),
        "activation1": Activation_ReLU(bug=relu_bug),
        "dense2": Layer_Dense(n_hidden, n_hidden, bug=dense_bug("dense2"), **reg),
        "activation2": Activation_ReLU(bug=relu_bug),
        "dense3": Layer_Dense(n_hidden, n_classes, bug=dense_bug("dense3"), **reg),
    }
    if not zero_biases:
        for name in ("dense1", "dense2", "dense3"):
            layer = layers[name]
            layer.biases = 0.1 * np.random.randn(*layer.biases.shape)
    if separate_softmax:
        layers["activation3"] = Activation_Softmax(
            bug=bug if bug == "softmax_diag_only" else None)
        layers["loss_function"] = Loss_CategoricalCrossentropy(
            bug=bug if bug == "ce_no_batch_average" else None)
    else:
        layers["loss_activation"] = Activation_Softmax_Loss_CategoricalCrossentropy(
            bug=bug if bug in _COMBINED_ONLY else None)
    return layers


def dense_layers(layers):
    """The trainable layers in forward order."""
    return [layers["dense1"], layers["dense2"], layers["dense3"]]


def forward_pass(layers, X, y):
    """Forward chain; returns ``(data_loss, regularization_loss)``."""
    layers["dense1"].forward(X)
    layers["activation1"].forward(layers["dense1"].output)
    layers["dense2"].forward(layers["activation1"].output)
    layers["activation2"].forward(layers["dense2"].output)
    layers["dense3"].forward(layers["activation2"].output)
    if "loss_activation" in layers:
        loss_object = layers["loss_activation"].loss
        data_loss = layers["loss_activation"].forward(layers["dense3"].output, y)
    else:
        layers["activation3"].forward(layers["dense3"].output)
        loss_object = layers["loss_function"]
        data_loss = loss_object.calculate(layers["activation3"].output, y)
    regularization_loss = \
        loss_object.regularization_loss(layers["dense1"]) + \
        loss_object.regularization_loss(layers["dense2"]) + \
        loss_object.regularization_loss(layers["dense3"])
    return data_loss, regularization_loss


def backward_pass(layers, y):
    """Backward chain, starting from the outputs stored by ``forward_pass``."""
    if "loss_activation" in layers:
        loss_activation = layers["loss_activation"]
        loss_activation.backward(loss_activation.output, y)
        dvalues = loss_activation.dinputs
    else:
        loss_function, activation3 = layers["loss_function"], layers["activation3"]
        loss_function.backward(activation3.output, y)
        activation3.backward(loss_function.dinputs)
        dvalues = activation3.dinputs
    layers["dense3"].backward(dvalues)
    layers["activation2"].backward(layers["dense3"].dinputs)
    layers["dense2"].backward(layers["activation2"].dinputs)
    layers["activation1"].backward(layers["dense2"].dinputs)
    layers["dense1"].backward(layers["activation1"].dinputs)


def train(X, y, layers, optimizer, epochs=100, print_every=0):
    """The book's loop: forward, loss, backward, optimizer; returns the list
    of total losses (data + regularisation) per epoch."""
    history = []
    for epoch in range(epochs):
        data_loss, regularization_loss = forward_pass(layers, X, y)
        loss = data_loss + regularization_loss
        history.append(loss)
        if print_every and not epoch % print_every:
            print(f"epoch: {epoch}, loss: {loss:.3f} (data_loss: {data_loss:.3f}, "
                  f"reg_loss: {regularization_loss:.3f}), "
                  f"lr: {optimizer.current_learning_rate}")
        backward_pass(layers, y)
        optimizer.pre_update_params()
        for layer in dense_layers(layers):
            optimizer.update_params(layer)
        optimizer.post_update_params()
    return history


# ---------------------------------------------------------------------- data

def make_data(seed=0, samples=12, n_inputs=4, n_classes=3, n_blank=2,
              dead_feature=True, one_hot=False):
    """Tiny classification set, ROWS ARE SAMPLES.

    ``X`` (samples, n_inputs) in roughly [-1, 1]; the first ``n_blank`` rows
    are all zero and, with ``dead_feature=True``, the last column is zero for
    every sample.  Labels cycle 0, 1, 2, ...; keep ``n_blank`` below
    ``n_classes``, otherwise the blank rows (uniform softmax) cover every class
    once and their bias-gradient contributions cancel exactly.  ``y`` is
    sparse integer labels (samples,) or one-hot (samples, n_classes) with
    ``one_hot=True``.  Uses its own RandomState.
    """
    rng = np.random.RandomState(seed)
    y = np.arange(samples) % n_classes
    centers = rng.randn(n_classes, n_inputs)
    X = 0.5 * centers[y] + 0.3 * rng.randn(samples, n_inputs)
    X[:n_blank] = 0.0
    if dead_feature:
        X[:, -1] = 0.0
    if one_hot:
        y = np.eye(n_classes)[y]
    return X, y
