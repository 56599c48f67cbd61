"""
sklearn_style_mlp.py -- from-scratch MLPClassifier written to mirror
scikit-learn's sklearn/neural_network/_multilayer_perceptron.py.

Estimator API (fit / predict / predict_proba, trailing-underscore fitted
attributes), weights in lists self.coefs_ (shape (fan_in, fan_out)) and
self.intercepts_, Glorot-uniform init, ReLU hidden layers, softmax output,
_forward_pass(activations) filling a preallocated activations list,
_backprop(X, y, activations, deltas, coef_grads, intercept_grads) returning
(loss, coef_grads, intercept_grads) where y is the one-hot (label-binarized)
target, L2 penalty alpha: loss += 0.5*alpha*sum(W**2)/n_samples and
grad += alpha*W/n_samples, and a separate SGDOptimizer(params, lr, momentum)
with update_params(grads).  fit(X, y) takes integer labels.

BUG: _backprop sets the output delta to y - activations[-1] instead of activations[-1] - y (sign error on the data-loss gradient; the L2 part keeps its correct sign).
"""
import numpy as np


def relu(X):
    np.maximum(X, 0, out=X)
    return X


def inplace_relu_derivative(Z, delta):
    delta[Z == 0] = 0


def softmax(X):
    tmp = X - X.max(axis=1)[:, np.newaxis]
    np.exp(tmp, out=X)
    X /= X.sum(axis=1)[:, np.newaxis]
    return X


def log_loss(y_true, y_prob):
    eps = np.finfo(y_prob.dtype).eps
    y_prob = np.clip(y_prob, eps, 1 - eps)
    return -np.sum(y_true * np.log(y_prob)) / y_prob.shape[0]


class SGDOptimizer:
    def __init__(self, params, learning_rate_init=0.1, momentum=0.9):
        self.params = [param for param in params]
        self.learning_rate = float(learning_rate_init)
        self.momentum = momentum
        self.velocities = [np.zeros_like(param) for param in params]

    def update_params(self, grads):
        updates = [self.momentum * velocity - self.learning_rate * grad
                   for velocity, grad in zip(self.velocities, grads)]
        self.velocities = updates
        for param, update in zip(self.params, updates):
            param += update


class MLPClassifier:
    def __init__(self, hidden_layer_sizes=(100,), alpha=0.0001, batch_size=200,
                 learning_rate_init=0.001, max_iter=200, momentum=0.9,
                 random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.momentum = momentum
        self.random_state = random_state
        self.verbose = verbose
        self._buggy = False

    def _initialize(self, layer_units):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = "softmax"
        self.loss_curve_ = []
        rng = np.random.RandomState(self.random_state)
        self.coefs_ = []
        self.intercepts_ = []
        for i in range(self.n_layers_ - 1):
            coef_init, intercept_init = self._init_coef(
                layer_units[i], layer_units[i + 1], rng)
            self.coefs_.append(coef_init)
            self.intercepts_.append(intercept_init)

    def _init_coef(self, fan_in, fan_out, rng):
        # Use the initialization method recommended by
        # Glorot et al.
        factor = 6.0
        init_bound = np.sqrt(factor / (fan_in + fan_out))
        coef_init = rng.uniform(-init_bound, init_bound, (fan_in, fan_out))
        intercept_init = rng.uniform(-init_bound, init_bound, fan_out)
        return coef_init, intercept_init

    def _forward_pass(self, activations):
        """Perform a forward pass on the network by computing the values
        of the neurons in the hidden layers and the output layer."""
        # Iterate over the hidden layers
        for i in range(self.n_layers_ - 1):
            activations[i + 1] = activations[i] @ self.coefs_[i]
            activations[i + 1] += self.intercepts_[i]

            # For the hidden layers
            if (i + 1) != (self.n_layers_ - 1):
                activations[i + 1] = relu(activations[i + 1])

        # For the last layer
        activations[i + 1] = softmax(activations[i + 1])

        return activations

    def _compute_loss_grad(self, layer, n_samples, activations, deltas,
                           coef_grads, intercept_grads):
        """Compute the gradient of loss with respect to coefs and intercept for
        specified layer."""
        coef_grads[layer] = activations[layer].T @ deltas[layer]
        coef_grads[layer] += self.alpha * self.coefs_[layer]
        coef_grads[layer] /= n_samples

        intercept_grads[layer] = np.mean(deltas[layer], 0)

    def _backprop(self, X, y, activations, deltas, coef_grads,
                  intercept_grads):
        """Compute the MLP loss function and its corresponding derivatives
        with respect to each parameter: weights and bias vectors.

        y : one-hot array of shape (n_samples, n_classes)
        Returns loss, coef_grads, intercept_grads
        """
        n_samples = X.shape[0]

        # Forward propagate
        activations = self._forward_pass(activations)

        # Get loss
        loss = log_loss(y, activations[-1])
        # Add L2 regularization term to loss
        values = 0
        for s in self.coefs_:
            s = s.ravel()
            values += np.dot(s, s)
        loss += (0.5 * self.alpha) * values / n_samples

        # Backward propagate
        last = self.n_layers_ - 2

        # The calculation of delta[last] here works with following
        # combinations of output activation and loss function:
        # sigmoid and binary cross entropy, softmax and categorical cross
        # entropy, and identity with squared loss
        if self._buggy:
            deltas[last] = y - activations[-1]
        else:
            deltas[last] = activations[-1] - y

        # Compute gradient for the last layer
        self._compute_loss_grad(
            last, n_samples, activations, deltas, coef_grads, intercept_grads)

        # Iterate over the hidden layers
        for i in range(self.n_layers_ - 2, 0, -1):
            deltas[i - 1] = deltas[i] @ self.coefs_[i].T
            inplace_relu_derivative(activations[i], deltas[i - 1])

            self._compute_loss_grad(
                i - 1, n_samples, activations, deltas, coef_grads,
                intercept_grads)

        return loss, coef_grads, intercept_grads

    def _allocate(self, X, layer_units):
        activations = [X] + [None] * (len(layer_units) - 1)
        deltas = [None] * (len(activations) - 1)
        coef_grads = [np.empty((n_fan_in_, n_fan_out_)) for n_fan_in_, n_fan_out_
                      in zip(layer_units[:-1], layer_units[1:])]
        intercept_grads = [np.empty(n_fan_out_) for n_fan_out_ in layer_units[1:]]
        return activations, deltas, coef_grads, intercept_grads

    def _label_binarize(self, y):
        return (y[:, None] == self.classes_[None, :]).astype(float)

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        Y = self._label_binarize(y)
        n_samples, n_features = X.shape
        layer_units = [n_features] + list(self.hidden_layer_sizes) + [Y.shape[1]]
        if not hasattr(self, "coefs_"):
            self._initialize(layer_units)
        self._optimizer = SGDOptimizer(self.coefs_ + self.intercepts_,
                                       self.learning_rate_init, self.momentum)
        batch_size = min(self.batch_size, n_samples)
        rng = np.random.RandomState(self.random_state)
        for it in range(self.max_iter):
            idx = rng.permutation(n_samples)
            accumulated_loss = 0.0
            for start in range(0, n_samples, batch_size):
                batch = idx[start:start + batch_size]
                activations, deltas, coef_grads, intercept_grads = \
                    self._allocate(X[batch], layer_units)
                batch_loss, coef_grads, intercept_grads = self._backprop(
                    X[batch], Y[batch], activations, deltas, coef_grads,
                    intercept_grads)
                accumulated_loss += batch_loss * len(batch)
                self._optimizer.update_params(coef_grads + intercept_grads)
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_ = accumulated_loss / n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        return self

    def predict_proba(self, X):
        layer_units = [X.shape[1]] + list(self.hidden_layer_sizes) + [self.n_outputs_]
        activations = [X] + [None] * (len(layer_units) - 1)
        return self._forward_pass(activations)[-1]

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_classification(n_samples=60, n_features=15, n_classes=3, random_state=0):
    rng = np.random.RandomState(random_state)
    centers = rng.randn(n_classes, n_features) * 1.5
    y = np.arange(n_samples) % n_classes
    X = centers[y] + rng.randn(n_samples, n_features)
    return X, y


def make(buggy=False):
    X, y = make_classification()
    clf = MLPClassifier(hidden_layer_sizes=(20, 12), alpha=0.1, batch_size=20,
                        learning_rate_init=0.02, max_iter=10, random_state=1,
                        verbose=True)
    clf._buggy = buggy
    # sklearn initialises lazily in fit(); do it here so the weights exist
    clf.classes_ = np.unique(y)
    clf._initialize([X.shape[1]] + list(clf.hidden_layer_sizes) + [len(clf.classes_)])
    return clf, X, y, clf.learning_rate_init


if __name__ == "__main__":
    clf, X, y, lr = make()
    Y = clf._label_binarize(y)
    layer_units = [X.shape[1]] + list(clf.hidden_layer_sizes) + [Y.shape[1]]

    def loss_only():
        bufs = clf._allocate(X, layer_units)
        return clf._backprop(X, Y, *bufs)[0]

    loss, coef_grads, intercept_grads = clf._backprop(X, Y, *clf._allocate(X, layer_units))
    h, worst = 1e-5, 0.0
    for params, grads in ((clf.coefs_, coef_grads), (clf.intercepts_, intercept_grads)):
        for P, G in zip(params, grads):
            for _ in range(8):
                idx = tuple(np.random.randint(s) for s in P.shape)
                old = P[idx]
                P[idx] = old + h; lp = loss_only()
                P[idx] = old - h; lm = loss_only()
                P[idx] = old
                num = (lp - lm) / (2 * h)
                worst = max(worst, abs(num - G[idx]) / max(1e-4, abs(num) + abs(G[idx])))
    print("max rel error coef/intercept grads vs finite differences: %.2e" % worst)
    assert worst < 1e-6
    print("initial loss %.6f" % loss)
    clf.fit(X, y)
    print("train accuracy %.2f" % np.mean(clf.predict(X) == y))
