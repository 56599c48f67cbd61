"""
ng_planar_classifier.py -- Andrew Ng deeplearning.ai (Course 1, Week 3
"Planar data classification with one hidden layer") idiom.

Column-major data: X has shape (n_x, m), Y has shape (1, m) with 0/1 labels.
parameters dict {"W1", "b1", "W2", "b2"}, cache dict {"Z1", "A1", "Z2", "A2"},
grads dict {"dW1", "db1", "dW2", "db2"}.  tanh hidden layer, sigmoid output,
binary cross-entropy cost averaged over m.  The assignment's functions
(initialize_parameters / forward_propagation / compute_cost /
backward_propagation / update_parameters / nn_model / predict) wrapped in a
small class.

BUG: backward_propagation computes db1 = np.sum(dZ1, axis=1, keepdims=True) without the 1/m factor (every other gradient has it).
"""
import numpy as np


def sigmoid(x):
    """
    Compute the sigmoid of x

    Arguments:
    x -- A scalar or numpy array of any size.

    Return:
    s -- sigmoid(x)
    """
    s = 1 / (1 + np.exp(-x))
    return s


def layer_sizes(X, Y, n_h=4):
    """
    Returns:
    n_x -- the size of the input layer
    n_h -- the size of the hidden layer
    n_y -- the size of the output layer
    """
    n_x = X.shape[0]  # size of input layer
    n_y = Y.shape[0]  # size of output layer
    return (n_x, n_h, n_y)


class NNModel:

    def __init__(self, n_x, n_h, n_y, buggy=False):
        self.n_x, self.n_h, self.n_y = n_x, n_h, n_y
        self._buggy = buggy
        self.parameters = self.initialize_parameters(n_x, n_h, n_y)

    def initialize_parameters(self, n_x, n_h, n_y):
        """
        Returns:
        params -- python dictionary containing your parameters:
                        W1 -- weight matrix of shape (n_h, n_x)
                        b1 -- bias vector of shape (n_h, 1)
                        W2 -- weight matrix of shape (n_y, n_h)
                        b2 -- bias vector of shape (n_y, 1)
        """
        W1 = np.random.randn(n_h, n_x) * 0.01
        b1 = np.zeros((n_h, 1))
        W2 = np.random.randn(n_y, n_h) * 0.01
        b2 = np.zeros((n_y, 1))

        assert (W1.shape == (n_h, n_x))
        assert (b1.shape == (n_h, 1))
        assert (W2.shape == (n_y, n_h))
        assert (b2.shape == (n_y, 1))

        parameters = {"W1": W1,
                      "b1": b1,
                      "W2": W2,
                      "b2": b2}

        return parameters

    def forward_propagation(self, X):
        """
        Argument:
        X -- input data of size (n_x, m)

        Returns:
        A2 -- The sigmoid output of the second activation
        cache -- a dictionary containing "Z1", "A1", "Z2" and "A2"
        """
        parameters = self.parameters
        # Retrieve each parameter from the dictionary "parameters"
        W1 = parameters["W1"]
        b1 = parameters["b1"]
        W2 = parameters["W2"]
        b2 = parameters["b2"]

        # Implement Forward Propagation to calculate A2 (probabilities)
        Z1 = np.dot(W1, X) + b1
        A1 = np.tanh(Z1)
        Z2 = np.dot(W2, A1) + b2
        A2 = sigmoid(Z2)

        assert (A2.shape == (1, X.shape[1]))

        cache = {"Z1": Z1,
                 "A1": A1,
                 "Z2": Z2,
                 "A2": A2}

        return A2, cache

    def compute_cost(self, A2, Y):
        """
        Computes the cross-entropy cost given in equation (13)

        Arguments:
        A2 -- The sigmoid output of the second activation, of shape (1, number of examples)
        Y -- "true" labels vector of shape (1, number of examples)

        Returns:
        cost -- cross-entropy cost given equation (13)
        """
        m = Y.shape[1]  # number of examples

        # Compute the cross-entropy cost
        logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
        cost = - np.sum(logprobs) / m

        cost = float(np.squeeze(cost))  # makes sure cost is the dimension we expect.
        return cost

    def backward_propagation(self, cache, X, Y):
        """
        Implement the backward propagation using the instructions above.

        Arguments:
        cache -- a dictionary containing "Z1", "A1", "Z2" and "A2".
        X -- input data of shape (2, number of examples)
        Y -- "true" labels vector of shape (1, number of examples)

        Returns:
        grads -- python dictionary containing your gradients with respect to different parameters
        """
        m = X.shape[1]
        parameters = self.parameters

        # First, retrieve W1 and W2 from the dictionary "parameters".
        W1 = parameters["W1"]
        W2 = parameters["W2"]

        # Retrieve also A1 and A2 from dictionary "cache".
        A1 = cache["A1"]
        A2 = cache["A2"]

        # Backward propagation: calculate dW1, db1, dW2, db2.
        dZ2 = A2 - Y
        dW2 = (1 / m) * np.dot(dZ2, A1.T)
        db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
        dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))
        dW1 = (1 / m) * np.dot(dZ1, X.T)
        if self._buggy:
            db1 = np.sum(dZ1, axis=1, keepdims=True)
        else:
            db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)

        grads = {"dW1": dW1,
                 "db1": db1,
                 "dW2": dW2,
                 "db2": db2}

        return grads

    def update_parameters(self, grads, learning_rate=1.2):
        """
        Updates parameters using the gradient descent update rule given above
        """
        parameters = self.parameters
        W1 = parameters["W1"]
        b1 = parameters["b1"]
        W2 = parameters["W2"]
        b2 = parameters["b2"]

        dW1 = grads["dW1"]
        db1 = grads["db1"]
        dW2 = grads["dW2"]
        db2 = grads["db2"]

        W1 = W1 - learning_rate * dW1
        b1 = b1 - learning_rate * db1
        W2 = W2 - learning_rate * dW2
        b2 = b2 - learning_rate * db2

        self.parameters = {"W1": W1,
                           "b1": b1,
                           "W2": W2,
                           "b2": b2}
        return self.parameters

    def nn_model(self, X, Y, num_iterations=10000, learning_rate=1.2, print_cost=False):
        """
        Returns:
        parameters -- parameters learnt by the model. They can then be used to predict.
        """
        for i in range(0, num_iterations):
            A2, cache = self.forward_propagation(X)
            cost = self.compute_cost(A2, Y)
            grads = self.backward_propagation(cache, X, Y)
            self.update_parameters(grads, learning_rate)
            if print_cost and i % 100 == 0:
                print("Cost after iteration %i: %f" % (i, cost))
        return self.parameters

    def predict(self, X):
        A2, cache = self.forward_propagation(X)
        predictions = (A2 > 0.5)
        return predictions


def load_planar_dataset(m=60, seed=1):
    """Small XOR-like planar set: four Gaussian blobs, columns are examples."""
    rng = np.random.RandomState(seed)
    centers = np.array([[1.5, 1.5], [-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5]])
    labels = np.array([0, 0, 1, 1])
    k = np.arange(m) % 4
    X = (centers[k] + 0.5 * rng.randn(m, 2)).T   # (2, m)
    Y = labels[k].reshape(1, m)                  # (1, m)
    return X, Y


def make(buggy=False):
    np.random.seed(2)
    X, Y = load_planar_dataset()
    n_x, n_h, n_y = layer_sizes(X, Y, n_h=4)
    model = NNModel(n_x, n_h, n_y, buggy=buggy)
    return model, X, Y, 1.2


if __name__ == "__main__":
    model, X, Y, learning_rate = make()
    # gradient check (with larger random weights so gradients are not ~0)
    for k in ("W1", "b1", "W2", "b2"):
        model.parameters[k] = np.random.randn(*model.parameters[k].shape)
    A2, cache = model.forward_propagation(X)
    grads = model.backward_propagation(cache, X, Y)
    eps = 1e-5
    worst = 0.0
    for k in ("W1", "b1", "W2", "b2"):
        P, G = model.parameters[k], grads["d" + k]
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            Jp = model.compute_cost(model.forward_propagation(X)[0], Y)
            P[idx] = old - eps
            Jm = model.compute_cost(model.forward_propagation(X)[0], Y)
            P[idx] = old
            num = (Jp - Jm) / (2 * eps)
            worst = max(worst, abs(num - G[idx]) / max(1e-4, abs(num) + abs(G[idx])))
    print("gradient check: max relative difference = %.2e" % worst)
    assert worst < 1e-6
    model, X, Y, learning_rate = make()
    model.nn_model(X, Y, num_iterations=1000, learning_rate=learning_rate, print_cost=True)
    predictions = model.predict(X)
    print("Accuracy: %d%%" % float(np.squeeze((np.dot(Y, predictions.T) + np.dot(1 - Y, 1 - predictions.T)) / float(Y.size) * 100)))
