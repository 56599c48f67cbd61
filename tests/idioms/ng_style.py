"""Deep network as module-level functions, deeplearning.ai style.

Idiom
-----
Follows the Coursera deeplearning.ai (Andrew Ng) programming assignments
"Building your Deep Neural Network: Step by Step" / ``dnn_app_utils`` and the
"Regularization" assignment of course 2, as they are republished in many
public GitHub repositories.  Written from scratch, keeping the course names:
``initialize_parameters_deep``, ``linear_forward``,
``linear_activation_forward``, ``L_model_forward``, ``compute_cost``,
``linear_backward``, ``linear_activation_backward``, ``L_model_backward``,
``update_parameters``, ``L_layer_model``; and for L2:
``forward_propagation``, ``compute_cost_with_regularization``,
``backward_propagation_with_regularization``.

* ``parameters`` is a dict ``{"W1": (n1, n0), "b1": (n1, 1), ...}``.
* Every ``*_forward`` returns ``(output, cache)``; ``caches`` is a list of
  ``((A_prev, W, b), Z)`` per layer.
* ``grads`` is a dict with keys ``dA0 .. dA{L-1}``, ``dW1 .. dWL``,
  ``db1 .. dbL``; ``dA0`` belongs to ``X``.
* The 1/m batch average is applied ONLY in ``linear_backward`` (to dW and
  db); the cost is a mean over the m examples.  As in the course, the
  ``dA{l}`` (and ``dZ``) arrays are therefore per-example derivatives, i.e.
  ``m`` times the derivative of the mean cost: ``grads["dA0"] == m * dJ/dX``
  for the CORRECT model.  The same holds for ``dZ*``/``dA*`` in the L2 model.
* ``initialize_parameters_deep`` seeds the global ``np.random`` itself (the
  course hard-codes ``np.random.seed(3)``; here it is the ``seed=`` default).

Data layout
-----------
EXAMPLES ARE COLUMNS: ``X`` is ``(n_x, m)``, ``Y`` is ``(1, m)`` (binary),
``(k, m)`` 0/1 (multi-label, several sigmoid units) or ``(k, m)`` one-hot
(softmax).  ``make_data`` puts a few all-zero example columns ("blank
images") and one always-zero feature row ("dead pixel") in ``X``.

Gradients are those of:

* ``compute_cost(AL, Y)`` = ``-(1/m) * sum(Y log AL + (1-Y) log(1-AL))``
  (summed over all output units, so it also serves the multi-label case);
* ``compute_cost_softmax(AL, Y)`` = ``-(1/m) * sum(Y log AL)``;
* ``compute_cost_with_regularization(A3, Y, parameters, lambd)`` = the
  cross-entropy plus ``lambd/(2m) * sum ||Wl||_F^2``.

Kinks
-----
With the default zero biases, the blank example columns put hidden
pre-activations EXACTLY at 0.  The correct code uses relu'(0) = 0 there, so a CENTRAL
difference disagrees with it on the hidden-layer biases (it averages the
slopes 0 and 1 on the two sides of the kink); a one-sided difference from
below agrees.  ``relu_ge`` differs
from the correct variant only at those exact zeros.  With random biases
(``zero_biases=False``) no pre-activation is at a kink.

Architectures used by the fixtures: ``layer_dims = [6, 5, 5, 1]`` (relu, relu,
sigmoid), ``[6, 5, 5, 3]`` (multi-label sigmoid or softmax).  ``W2`` is square
(5 x 5).  The L2 model is the course's fixed 3-layer net with the same dims.

Variants (``bug=`` keyword of ``L_model_backward`` / ``L_layer_model``)
---------------------------------------------------------------------

| name | what is wrong | first affected | cost / output |
|---|---|---|---|
| ``None`` (correct) | -- | -- | BCE sigmoid (1 or k units) or CE softmax |
| ``"sigmoid_derivative_twice"`` | ``dAL`` set to ``AL - Y`` (already dJ/dZ) and then fed to ``sigmoid_backward``, which multiplies by sigma'(ZL) again | ``dWL``, ``dbL`` (then all) | BCE, sigmoid |
| ``"softmax_derivative_twice"`` | softmax output: ``dZL = (AL - Y) * AL * (1 - AL)``; the elementwise softmax derivative applied after it cancelled | ``dWL``, ``dbL`` (then all) | CE, softmax |
| ``"no_batch_average"`` | ``linear_backward`` drops the ``1/m`` for every dW and db while ``compute_cost`` is a mean | every dW, db (x m); dA unchanged | any |
| ``"db_output_not_averaged"`` | only the output layer's ``db`` lacks the ``1/m`` | ``dbL`` only (x m) | any |
| ``"relu_ge"`` | ``relu_backward`` zeroes only ``Z < 0``: passes the gradient at ``Z == 0`` exactly (derivative 1 at the kink). Identical to the correct model unless some Z is exactly 0 | hidden ``db`` entries whose Z is exactly 0 (blank columns with zero biases): ``db2``, ``db1`` | any |
| ``"relu_mask_dA"`` | ``relu_backward`` masks with ``dA <= 0`` instead of ``Z <= 0`` (wrong mask) | ``dW2``, ``db2`` (then layer 1) | any |
| ``"transposed_square_dW"`` | ``linear_backward`` returns ``(1/m) A_prev dZ^T`` (the transpose) for the square ``W2`` | ``dW2`` only | any |
| ``"sign_flip_dW1"`` | first layer's ``dW1`` has its sign flipped | ``dW1`` only | any |

L2 model, ``backward_propagation_with_regularization(X, Y, cache, lambd, bug=)``:

| name | what is wrong | first affected | cost / output |
|---|---|---|---|
| ``None`` (correct) | -- | -- | BCE + L2, sigmoid |
| ``"l2_forgotten_dW2"`` | ``dW2`` lacks the ``+ lambd/m * W2`` term | ``dW2`` only | BCE + L2 |
| ``"l2_half_in_gradient"`` | all three dW get ``lambd/(2m) * W`` (the 1/2 of the cost kept in the derivative) | dW1, dW2, dW3 | BCE + L2 |
| ``"transposed_dW2_then_l2"`` | ``dW2 = ((1/m) dZ2 A1^T)^T + lambd/m * W2``: data term transposed, correct L2 term added after the transpose | ``dW2`` only | BCE + L2 |
"""

import numpy as np


L_MODEL_BUGS = {
    "sigmoid_derivative_twice":
        "dAL replaced by AL - Y and still passed through sigmoid_backward; "
        "dWL/dbL first, then every layer",
    "softmax_derivative_twice":
        "softmax output: dZL = (AL - Y) * AL * (1 - AL); dWL/dbL first, then all",
    "no_batch_average":
        "linear_backward omits 1/m in every dW and db (cost is a mean)",
    "db_output_not_averaged":
        "only dbL omits the 1/m",
    "relu_ge":
        "relu_backward keeps the gradient where Z == 0 (mask Z < 0); differs "
        "only at exact zeros (hidden db with blank columns and zero biases)",
    "relu_mask_dA":
        "relu_backward masks on dA <= 0 instead of Z <= 0; dW2/db2 first",
    "transposed_square_dW":
        "dW of the square hidden matrix (W2) is returned transposed",
    "sign_flip_dW1":
        "dW1 has the wrong sign",
}

L2_BUGS = {
    "l2_forgotten_dW2": "dW2 lacks + lambd/m * W2",
    "l2_half_in_gradient": "every dW gets lambd/(2m) * W instead of lambd/m * W",
    "transposed_dW2_then_l2":
        "dW2 data term transposed, then the (correct) L2 term added",
}


# ---------------------------------------------------------------- activations

def sigmoid(Z):
    """Sigmoid; returns ``(A, cache)`` with ``cache = Z``."""
    A = 1 / (1 + np.exp(-Z))
    return A, Z


def relu(Z):
    """ReLU; returns ``(A, cache)`` with ``cache = Z``."""
    A = np.maximum(0, Z)
    return A, Z


def softmax(Z):
    """Column-wise softmax (each example is a column); ``(A, cache=Z)``."""
    e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    A = e / np.sum(e, axis=0, keepdims=True)
    return A, Z


def relu_backward(dA, cache, bug=None):
    """dZ for a ReLU unit given dA and the cached Z."""
    Z = cache
    dZ = np.array(dA, copy=True)
    if bug == "relu_ge":
        # BUG: the kink Z == 0 is treated as "active"
        dZ[Z < 0] = 0
    elif bug == "relu_mask_dA":
        # BUG: mask taken from the incoming gradient instead of from Z
        dZ[dA <= 0] = 0
    else:
        dZ[Z <= 0] = 0
    assert dZ.shape == Z.shape
    return dZ


def sigmoid_backward(dA, cache):
    """dZ for a sigmoid unit given dA and the cached Z."""
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    assert dZ.shape == Z.shape
    return dZ


# ------------------------------------------------------------- initialisation

def initialize_parameters_deep(layer_dims, seed=3, zero_biases=True):
    """``W{l}`` ~ N(0, 1/n_{l-1}) of shape (n_l, n_{l-1}); ``b{l}`` of shape
    (n_l, 1), zeros unless ``zero_biases=False`` (then N(0, 0.1^2)).
    Seeds the global ``np.random`` with ``seed`` first (``seed=None`` skips it).
    """
    if seed is not None:
        np.random.seed(seed)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                    / np.sqrt(layer_dims[l - 1]))
        if zero_biases:
            parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
        else:
            parameters["b" + str(l)] = 0.1 * np.random.randn(layer_dims[l], 1)
        assert parameters["W" + str(l)].shape == (layer_dims[l], layer_dims[l - 1])
        assert parameters["b" + str(l)].shape == (layer_dims[l], 1)
    return parameters


# -------------------------------------------------------------------- forward

def linear_forward(A, W, b):
    """Z = W A + b; cache ``(A, W, b)``."""
    Z = np.dot(W, A) + b
    assert Z.shape == (W.shape[0], A.shape[1])
    cache = (A, W, b)
    return Z, cache


def linear_activation_forward(A_prev, W, b, activation):
    """LINEAR -> ACTIVATION for one layer; cache ``(linear_cache, Z)``."""
    Z, linear_cache = linear_forward(A_prev, W, b)
    if activation == "sigmoid":
        A, activation_cache = sigmoid(Z)
    elif activation == "relu":
        A, activation_cache = relu(Z)
    elif activation == "softmax":
        A, activation_cache = softmax(Z)
    else:
        raise ValueError(activation)
    cache = (linear_cache, activation_cache)
    return A, cache


def L_model_forward(X, parameters, output_activation="sigmoid"):
    """[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID (or SOFTMAX).

    Returns ``(AL, caches)``; ``caches[l-1]`` belongs to layer l.
    """
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(
            A_prev, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(
        A, parameters["W" + str(L)], parameters["b" + str(L)], output_activation)
    caches.append(cache)
    return AL, caches


# ---------------------------------------------------------------------- costs

def compute_cost(AL, Y):
    """Binary cross-entropy, averaged over the m examples (columns) and summed
    over output units.  Written with ``np.sum`` rather than the course's
    ``np.dot`` form so that a (k, m) multi-label output still gives a scalar."""
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return float(np.squeeze(cost))


def compute_cost_softmax(AL, Y):
    """Categorical cross-entropy for one-hot ``Y`` (k, m), mean over m."""
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL)) / m
    return float(np.squeeze(cost))


# ------------------------------------------------------------------- backward

def linear_backward(dZ, cache, bug=None):
    """Given dZ of one layer, return ``(dA_prev, dW, db)``; 1/m applied here."""
    A_prev, W, b = cache
    m = A_prev.shape[1]
    if bug == "transposed_dW":
        # BUG: factors in the wrong order -> dW^T (only fits a square W)
        dW = 1. / m * np.dot(A_prev, dZ.T)
    elif bug == "no_batch_average":
        # BUG: summed over examples, never divided by m
        dW = np.dot(dZ, A_prev.T)
    elif bug == "sign_flip_dW":
        # BUG: sign error in this layer's weight gradient
        dW = -1. / m * np.dot(dZ, A_prev.T)
    else:
        dW = 1. / m * np.dot(dZ, A_prev.T)
    if bug in ("no_batch_average", "db_not_averaged"):
        # BUG: bias gradient summed, not averaged
        db = np.sum(dZ, axis=1, keepdims=True)
    else:
        db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    assert dA_prev.shape == A_prev.shape
    assert dW.shape == W.shape
    assert db.shape == b.shape
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation, bug=None, relu_bug=None):
    """Backward through ACTIVATION then LINEAR for one layer."""
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache, bug=relu_bug)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
    else:
        raise ValueError(activation)
    return linear_backward(dZ, linear_cache, bug=bug)


def _linear_bug_for_layer(bug, l, L, W):
    """Which per-layer ``linear_backward`` bug layer ``l`` (1-based) gets."""
    if bug == "no_batch_average":
        return "no_batch_average"
    if bug == "db_output_not_averaged" and l == L:
        return "db_not_averaged"
    if bug == "transposed_square_dW" and l < L and W.shape[0] == W.shape[1]:
        return "transposed_dW"
    if bug == "sign_flip_dW1" and l == 1:
        return "sign_flip_dW"
    return None


def L_model_backward(AL, Y, caches, output_activation="sigmoid", bug=None):
    """Backward pass for [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID/SOFTMAX.

    Returns ``grads`` with ``dA{l-1}``, ``dW{l}``, ``db{l}`` for l = 1..L.
    ``bug`` selects one of ``L_MODEL_BUGS``.
    """
    if bug is not None and bug not in L_MODEL_BUGS:
        raise ValueError("unknown bug %r" % (bug,))
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    relu_bug = bug if bug in ("relu_ge", "relu_mask_dA") else None

    # output layer
    current_cache = caches[L - 1]
    linear_cache, activation_cache = current_cache
    lin_bug = _linear_bug_for_layer(bug, L, L, linear_cache[1])
    if output_activation == "sigmoid":
        if bug == "sigmoid_derivative_twice":
            # BUG: AL - Y is already dJ/dZ per example, but it is handed to
            # sigmoid_backward as if it were dJ/dA
            dAL = AL - Y
        else:
            dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        dA_prev, dW, db = linear_activation_backward(
            dAL, current_cache, "sigmoid", bug=lin_bug)
    elif output_activation == "softmax":
        dZL = AL - Y
        if bug == "softmax_derivative_twice":
            # BUG: elementwise softmax derivative applied on top of AL - Y
            dZL = dZL * AL * (1 - AL)
        dA_prev, dW, db = linear_backward(dZL, linear_cache, bug=lin_bug)
    else:
        raise ValueError(output_activation)
    grads["dA" + str(L - 1)] = dA_prev
    grads["dW" + str(L)] = dW
    grads["db" + str(L)] = db

    # hidden layers, from L-1 down to 1
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        lin_bug = _linear_bug_for_layer(bug, l + 1, L, current_cache[0][1])
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(
            grads["dA" + str(l + 1)], current_cache, "relu",
            bug=lin_bug, relu_bug=relu_bug)
        grads["dA" + str(l)] = dA_prev_temp
        grads["dW" + str(l + 1)] = dW_temp
        grads["db" + str(l + 1)] = db_temp
    return grads


def update_parameters(parameters, grads, learning_rate):
    """Plain gradient descent on every W and b; returns ``parameters``."""
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - \
            learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - \
            learning_rate * grads["db" + str(l + 1)]
    return parameters


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, output_activation="sigmoid", bug=None,
                  seed=3, zero_biases=True):
    """Batch gradient descent on the L-layer model; returns
    ``(parameters, costs)`` with the cost recorded at every iteration."""
    costs = []
    parameters = initialize_parameters_deep(layers_dims, seed=seed,
                                            zero_biases=zero_biases)
    for i in range(num_iterations):
        AL, caches = L_model_forward(X, parameters, output_activation)
        if output_activation == "softmax":
            cost = compute_cost_softmax(AL, Y)
        else:
            cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches, output_activation, bug=bug)
        parameters = update_parameters(parameters, grads, learning_rate)
        costs.append(cost)
        if print_cost and i % 100 == 0:
            print("Cost after iteration %i: %f" % (i, cost))
    return parameters, costs


# ------------------------------------------------- L2-regularised 3-layer model

def forward_propagation(X, parameters):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID (fixed 3 layers).

    Returns ``(A3, cache)`` with the course's flat cache tuple
    ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``.
    """
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1, _ = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2, _ = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3, _ = sigmoid(Z3)
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return A3, cache


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy plus ``lambd/(2m) * (||W1||^2 + ||W2||^2 + ||W3||^2)``."""
    m = Y.shape[1]
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    cross_entropy_cost = compute_cost(A3, Y)
    L2_regularization_cost = (lambd / (2 * m)) * (
        np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3)))
    return cross_entropy_cost + L2_regularization_cost


def backward_propagation_with_regularization(X, Y, cache, lambd, bug=None):
    """Gradients of ``compute_cost_with_regularization`` for the 3-layer net.

    Returns the course's dict with ``dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1,
    dZ1, dW1, db1``.  ``bug`` selects one of ``L2_BUGS``.
    """
    if bug is not None and bug not in L2_BUGS:
        raise ValueError("unknown bug %r" % (bug,))
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    reg = lambd / (2 * m) if bug == "l2_half_in_gradient" else lambd / m

    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T) + reg * W3
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    if bug == "l2_forgotten_dW2":
        # BUG: regularisation term missing from this one layer
        dW2 = 1. / m * np.dot(dZ2, A1.T)
    elif bug == "transposed_dW2_then_l2":
        # BUG: data term transposed (W2 is square), L2 added afterwards
        dW2 = (1. / m * np.dot(dZ2, A1.T)).T + reg * W2
    else:
        dW2 = 1. / m * np.dot(dZ2, A1.T) + reg * W2
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T) + reg * W1
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2,
                 "dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1,
                 "dZ1": dZ1, "dW1": dW1, "db1": db1}
    return gradients


def model_with_regularization(X, Y, layers_dims=(6, 5, 5, 1), learning_rate=0.3,
                              num_iterations=100, lambd=0.7, bug=None, seed=3,
                              zero_biases=True):
    """Gradient descent on the regularised 3-layer model; returns
    ``(parameters, costs)``."""
    parameters = initialize_parameters_deep(list(layers_dims), seed=seed,
                                            zero_biases=zero_biases)
    costs = []
    for i in range(num_iterations):
        A3, cache = forward_propagation(X, parameters)
        costs.append(compute_cost_with_regularization(A3, Y, parameters, lambd))
        grads = backward_propagation_with_regularization(X, Y, cache, lambd, bug=bug)
        parameters = update_parameters(parameters, grads, learning_rate)
    return parameters, costs


# ---------------------------------------------------------------------- data

def make_data(seed=1, n_x=6, m=16, kind="binary", n_classes=3, n_blank=3,
              dead_feature=True):
    """Tiny data set with EXAMPLES AS COLUMNS.

    ``kind``: ``"binary"`` -> Y (1, m) of 0/1; ``"multilabel"`` -> Y
    (n_classes, m) of independent 0/1 labels; ``"multiclass"`` -> Y
    (n_classes, m) one-hot.  X (n_x, m) holds values in [0, 1]; its first
    ``n_blank`` columns are all zero (blank examples) and, with
    ``dead_feature=True``, its last row is zero for every example.
    Uses its own ``RandomState``; the global ``np.random`` is untouched.
    """
    rng = np.random.RandomState(seed)
    X = rng.rand(n_x, m)
    X[:, :n_blank] = 0.0
    if dead_feature:
        X[-1, :] = 0.0
    k = 1 if kind == "binary" else n_classes
    V = rng.randn(k, n_x)
    scores = np.dot(V, X - 0.5) + 0.3 * rng.randn(k, m)
    if kind in ("binary", "multilabel"):
        Y = (scores > 0).astype(float)
    elif kind == "multiclass":
        Y = np.zeros((k, m))
        Y[np.argmax(scores, axis=0), np.arange(m)] = 1.0
    else:
        raise ValueError(kind)
    return X, Y
