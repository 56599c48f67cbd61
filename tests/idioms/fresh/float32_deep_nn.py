"""
float32_deep_nn.py -- "MNIST neural network from scratch in numpy" blog idiom
(the DeepNeuralNetwork class with sizes=[784, 128, 64, 10]), vectorised over
mini-batches and kept in float32 like MNIST pixel arrays.

One self.params dict holds BOTH the weights ('W1','b1',...) and the cached
forward quantities ('A0','Z1','A1',...).  forward_pass(x) fills the cache
and returns the softmax output; backward_pass(y, output) returns a
change_w dict {'W1','b1',...}; update_network_parameters(change_w) applies
W -= l_rate * dW; train(x_train, y_train, x_val, y_val) loops epochs over
mini-batches.  Sigmoid hidden layers written with a derivative=True flag,
softmax output, mean categorical cross-entropy, one-hot float32 targets,
rows = samples, every array float32 (dtype kept in self.dtype).  Layers are
unrolled by hand (W1, W2, W3), hidden sizes 16 and 16 so W2 is square.

BUG: backward_pass propagates the layer-2 error with error @ params['W2'] instead of error @ params['W2'].T (W2 is 16x16, so the missing transpose goes unnoticed shape-wise).
"""
import time

import numpy as np


class DeepNeuralNetwork():
    def __init__(self, sizes, epochs=10, l_rate=0.5, batch_size=16, dtype=np.float32, buggy=False):
        self.sizes = sizes
        self.epochs = epochs
        self.l_rate = l_rate
        self.batch_size = batch_size
        self.dtype = dtype
        self._buggy = buggy

        # we save all parameters in the neural network in this dictionary
        self.params = self.initialization()

    def sigmoid(self, x, derivative=False):
        if derivative:
            return (np.exp(-x))/((np.exp(-x)+1)**2)
        return 1/(1 + np.exp(-x))

    def softmax(self, x):
        # Numerically stable with large exponentials
        exps = np.exp(x - x.max(axis=1, keepdims=True))
        return exps / np.sum(exps, axis=1, keepdims=True)

    def initialization(self):
        # number of nodes in each layer
        input_layer = self.sizes[0]
        hidden_1 = self.sizes[1]
        hidden_2 = self.sizes[2]
        output_layer = self.sizes[3]

        params = {
            'W1': (np.random.randn(input_layer, hidden_1) * np.sqrt(1. / hidden_1)).astype(self.dtype),
            'b1': np.zeros((1, hidden_1), dtype=self.dtype),
            'W2': (np.random.randn(hidden_1, hidden_2) * np.sqrt(1. / hidden_2)).astype(self.dtype),
            'b2': np.zeros((1, hidden_2), dtype=self.dtype),
            'W3': (np.random.randn(hidden_2, output_layer) * np.sqrt(1. / output_layer)).astype(self.dtype),
            'b3': np.zeros((1, output_layer), dtype=self.dtype),
        }

        return params

    def forward_pass(self, x_train):
        params = self.params

        # input layer activations becomes sample
        params['A0'] = x_train

        # input layer to hidden layer 1
        params['Z1'] = np.dot(params['A0'], params['W1']) + params['b1']
        params['A1'] = self.sigmoid(params['Z1'])

        # hidden layer 1 to hidden layer 2
        params['Z2'] = np.dot(params['A1'], params['W2']) + params['b2']
        params['A2'] = self.sigmoid(params['Z2'])

        # hidden layer 2 to output layer
        params['Z3'] = np.dot(params['A2'], params['W3']) + params['b3']
        params['A3'] = self.softmax(params['Z3'])

        return params['A3']

    def compute_loss(self, y, output):
        return -np.mean(np.sum(y * np.log(output + self.dtype(1e-12)), axis=1))

    def backward_pass(self, y_train, output):
        '''
            This is the backpropagation algorithm, for calculating the updates
            of the neural network's parameters.
        '''
        params = self.params
        change_w = {}
        m = y_train.shape[0]

        # Calculate W3 update (softmax + cross-entropy => output - y)
        error = (output - y_train) / self.dtype(m)
        change_w['W3'] = np.dot(params['A2'].T, error)
        change_w['b3'] = np.sum(error, axis=0, keepdims=True)

        # Calculate W2 update
        error = np.dot(error, params['W3'].T) * self.sigmoid(params['Z2'], derivative=True)
        change_w['W2'] = np.dot(params['A1'].T, error)
        change_w['b2'] = np.sum(error, axis=0, keepdims=True)

        # Calculate W1 update
        if self._buggy:
            error = np.dot(error, params['W2']) * self.sigmoid(params['Z1'], derivative=True)
        else:
            error = np.dot(error, params['W2'].T) * self.sigmoid(params['Z1'], derivative=True)
        change_w['W1'] = np.dot(params['A0'].T, error)
        change_w['b1'] = np.sum(error, axis=0, keepdims=True)

        return change_w

    def update_network_parameters(self, changes_to_w):
        '''
            Update network parameters according to update rule from
            Stochastic Gradient Descent.

            θ = θ - η * ∇J(x, y),
                theta θ:            a network parameter (e.g. a weight w)
                eta η:              the learning rate
                gradient ∇J(x, y):  the gradient of the objective function,
                                    i.e. the change for a specific theta θ
        '''
        for key, value in changes_to_w.items():
            self.params[key] -= self.dtype(self.l_rate) * value

    def compute_accuracy(self, x_val, y_val):
        '''
            This function does a forward pass of x, then checks if the indices
            of the maximum value in the output equals the indices in the label
            y. Then it sums over each prediction and calculates the accuracy.
        '''
        output = self.forward_pass(x_val)
        return np.mean(np.argmax(output, axis=1) == np.argmax(y_val, axis=1))

    def train(self, x_train, y_train, x_val, y_val):
        start_time = time.time()
        n = x_train.shape[0]
        for iteration in range(self.epochs):
            for k in range(0, n, self.batch_size):
                x, y = x_train[k:k + self.batch_size], y_train[k:k + self.batch_size]
                output = self.forward_pass(x)
                changes_to_w = self.backward_pass(y, output)
                self.update_network_parameters(changes_to_w)

            accuracy = self.compute_accuracy(x_val, y_val)
            loss = self.compute_loss(y_val, self.forward_pass(x_val))
            print('Epoch: {0}, Time Spent: {1:.2f}s, Loss: {2:.4f}, Accuracy: {3:.2f}%'.format(
                iteration+1, time.time() - start_time, loss, accuracy * 100
            ))


def load_data(n=64, d=20, k=4, seed=7, dtype=np.float32):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 1.5
    labels = rng.randint(0, k, size=n)
    x = (centers[labels] + rng.randn(n, d)).astype(dtype)
    y = np.eye(k, dtype=dtype)[labels]
    return x, y


def make(buggy=False):
    np.random.seed(5)
    dnn = DeepNeuralNetwork(sizes=[20, 16, 16, 4], epochs=10, l_rate=0.5, batch_size=16, buggy=buggy)
    x, y = load_data()
    return dnn, x, y, 0.5


def _check(dnn, x, y, h, floor=1e-4, names=('W1', 'b1', 'W2', 'b2', 'W3', 'b3'), per=6):
    changes = dnn.backward_pass(y, dnn.forward_pass(x))
    worst = 0.0
    rng = np.random.RandomState(0)
    for k in names:
        P, G = dnn.params[k], changes[k]
        for _ in range(per):
            idx = tuple(rng.randint(s) for s in P.shape)
            old = P[idx]
            P[idx] = old + h; lp = float(dnn.compute_loss(y, dnn.forward_pass(x)))
            P[idx] = old - h; lm = float(dnn.compute_loss(y, dnn.forward_pass(x)))
            P[idx] = old
            num = (lp - lm) / (2 * h)
            worst = max(worst, abs(num - float(G[idx])) / max(floor, abs(num) + abs(float(G[idx]))))
    return worst


if __name__ == '__main__':
    # strict check: the same code run in float64
    np.random.seed(5)
    dnn64 = DeepNeuralNetwork(sizes=[20, 16, 16, 4], dtype=np.float64)
    for k in ('b1', 'b2', 'b3'):
        dnn64.params[k] += 0.3 * np.random.randn(*dnn64.params[k].shape)
    x64, y64 = load_data(dtype=np.float64)
    err64 = _check(dnn64, x64, y64, 1e-5)
    print('float64 copy: max rel error vs finite differences %.2e' % err64)
    assert err64 < 1e-6
    # coarse check of the float32 model itself
    dnn, x, y, lr = make()
    assert dnn.params['W1'].dtype == np.float32 and dnn.forward_pass(x).dtype == np.float32
    err32 = _check(dnn, x, y, 1e-2, floor=1e-2)
    print('float32 model: max rel error vs finite differences (h=1e-2) %.2e' % err32)
    assert err32 < 1e-2
    print('initial loss %.4f' % dnn.compute_loss(y, dnn.forward_pass(x)))
    dnn.train(x, y, x, y)
