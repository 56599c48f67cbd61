"""Plain functions and bare arrays in the "Grokking Deep Learning" (iamtrask) style.

A two-layer ReLU network, streetlights -> walk_vs_stop, trained with
mini-batches.  For the batch ``batch_start:batch_end`` the loss is

    0.5 * np.sum((goal - layer_2) ** 2) / batch_size

and ``layer_2_delta = (goal - layer_2) / batch_size`` is minus its derivative
w.r.t. layer_2, so the in-place step ``weights += alpha * ...`` equals
``-alpha * gradient``.  Bugs are selected with ``train(..., bug=...)``; see
``VARIANTS``.
"""

import numpy as np


def relu(x):
    return (x > 0) * x          # returns x if x > 0, returns 0 otherwise


def relu2deriv(output):
    return output > 0           # returns 1 for input > 0, returns 0 otherwise


def init_weights(n_in, hidden, seed=0):
    """weights_0_1 (n_in, hidden) and weights_1_2 (hidden, 1), uniform in [-1, 1)."""
    rng = np.random.RandomState(seed)
    weights_0_1 = 2 * rng.random_sample((n_in, hidden)) - 1
    weights_1_2 = 2 * rng.random_sample((hidden, 1)) - 1
    return weights_0_1, weights_1_2


def make_streetlights(n_rows=12, n_lights=4, seed=0):
    """Binary streetlights (n_rows, n_lights), every 4th row all zeros; walk_vs_stop (n_rows, 1)."""
    rng = np.random.RandomState(seed)
    streetlights = (rng.random_sample((n_rows, n_lights)) > 0.5).astype(float)
    streetlights[::4] = 0.0
    # walk when light 1 is on but the last light is off (needs the hidden layer)
    walk_vs_stop = (streetlights[:, 1:2] * (1 - streetlights[:, -1:])).astype(float)
    return streetlights, walk_vs_stop


BUG_DOCS = {
    "no_batch_average": "layer_2_delta is not divided by batch_size (every gradient batch_size times too big; weights_1_2 first)",
    "relu_mask": "relu2deriv replaced by layer_1 >= 0, always true on a ReLU output (weights_0_1 wrong)",
    "transposed_0_1": "square weights_0_1 is moved by the transpose of its gradient (weights_0_1 wrong)",
    "sign_1_2": "weights_1_2 is updated with -= (up the gradient) (weights_1_2 wrong)",
}

VARIANTS = {"correct": "reference implementation: gradient of 0.5*sum((goal-pred)**2)/batch_size"}
VARIANTS.update(BUG_DOCS)


def train(streetlights, walk_vs_stop, weights_0_1, weights_1_2,
          alpha=0.2, iterations=60, batch_size=4, bug=None):
    """Mini-batch gradient descent; weights are updated in place.

    Returns one error per iteration: the sum over batches of
    0.5 * sum((goal - pred)**2) / batch_size, each measured before that
    batch's update.
    """
    if bug == "correct":
        bug = None
    if bug is not None and bug not in BUG_DOCS:
        raise ValueError("unknown bug %r; choose from %s" % (bug, sorted(VARIANTS)))

    errors = []
    for iteration in range(iterations):
        layer_2_error = 0.0
        for i in range(int(len(streetlights) / batch_size)):
            batch_start, batch_end = ((i * batch_size), ((i + 1) * batch_size))

            layer_0 = streetlights[batch_start:batch_end]
            layer_1 = relu(np.dot(layer_0, weights_0_1))
            layer_2 = np.dot(layer_1, weights_1_2)
            goal = walk_vs_stop[batch_start:batch_end]

            layer_2_error += 0.5 * np.sum((goal - layer_2) ** 2) / batch_size

            if bug == "no_batch_average":
                layer_2_delta = (goal - layer_2)
            else:
                layer_2_delta = (goal - layer_2) / batch_size

            if bug == "relu_mask":
                layer_1_delta = layer_2_delta.dot(weights_1_2.T) * (layer_1 >= 0)
            else:
                layer_1_delta = layer_2_delta.dot(weights_1_2.T) * relu2deriv(layer_1)

            if bug == "sign_1_2":
                weights_1_2 -= alpha * layer_1.T.dot(layer_2_delta)
            else:
                weights_1_2 += alpha * layer_1.T.dot(layer_2_delta)

            if bug == "transposed_0_1":
                weights_0_1 += alpha * layer_0.T.dot(layer_1_delta).T
            else:
                weights_0_1 += alpha * layer_0.T.dot(layer_1_delta)

        errors.append(layer_2_error)
    return errors


if __name__ == "__main__":
    streetlights, walk_vs_stop = make_streetlights()
    weights_0_1, weights_1_2 = init_weights(streetlights.shape[1], 4, seed=0)
    errors = train(streetlights, walk_vs_stop, weights_0_1, weights_1_2)
    for j in range(0, len(errors), 10):
        print("I:" + str(j) + " Error:" + str(errors[j])[0:8])
    print("first error %.6f -> last error %.6f" % (errors[0], errors[-1]))
    assert errors[-1] < errors[0]
