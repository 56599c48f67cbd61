"""A many-to-one RNN classifier in the style of "RNN from scratch" blog posts.

Idiom
-----
* ``RNN(input_size, output_size, hidden_size=...)`` holds ``Whh``, ``Wxh``, ``Why``, ``bh``, ``by``
  (column-vector convention: ``h`` is (hidden, 1)).
* ``forward(inputs)`` runs over a list of one-hot column vectors, caches ``last_inputs`` and
  ``last_hs`` and returns ``(y, h)``: the scores of the last step and the last hidden state.
* The training loop computes ``probs = softmax(y)``, ``d_L_d_y = probs; d_L_d_y[target] -= 1`` and calls
  ``backprop(d_y, learn_rate=2e-2)``, which back-propagates through time over the cached sequence and
  updates the weights in place. There is no loss method: the loss is the cross-entropy of ``softmax(y)``.
* Data: a list of ``(inputs, target)``, inputs a list of (vocab, 1) one-hot vectors, target an int.

Variants (``RNN(..., bug=...)``)
--------------------------------
``bptt_one_step``  back-propagation stops after the last step (``Whh``, ``Wxh``, ``bh`` wrong);
``dWhh_sign``      ``dWhh`` accumulated with the wrong sign (``Whh`` only).
"""

import numpy as np

VARIANTS = {None: "correct", "bptt_one_step": "BPTT over the last step only", "dWhh_sign": "dWhh sign flipped"}


class RNN:
    def __init__(self, input_size, output_size, hidden_size=8, seed=0, bug=None):
        rng = np.random.RandomState(seed)
        self.Whh = rng.randn(hidden_size, hidden_size) / np.sqrt(hidden_size)
        self.Wxh = rng.randn(hidden_size, input_size) / np.sqrt(input_size)
        self.Why = rng.randn(output_size, hidden_size) / np.sqrt(hidden_size)
        self.bh = np.zeros((hidden_size, 1))
        self.by = np.zeros((output_size, 1))
        self.bug = bug

    def forward(self, inputs):
        h = np.zeros((self.Whh.shape[0], 1))
        self.last_inputs = inputs
        self.last_hs = {0: h}
        for i, x in enumerate(inputs):
            h = np.tanh(self.Wxh @ x + self.Whh @ h + self.bh)
            self.last_hs[i + 1] = h
        y = self.Why @ h + self.by
        return y, h

    def backprop(self, d_y, learn_rate=2e-2):
        n = len(self.last_inputs)
        d_Why = d_y @ self.last_hs[n].T
        d_by = d_y
        d_Whh, d_Wxh, d_bh = np.zeros(self.Whh.shape), np.zeros(self.Wxh.shape), np.zeros(self.bh.shape)
        d_h = self.Why.T @ d_y
        for t in reversed(range(n)):
            temp = (1 - self.last_hs[t + 1] ** 2) * d_h
            d_bh += temp
            d_Whh += (-1 if self.bug == "dWhh_sign" else 1) * (temp @ self.last_hs[t].T)
            d_Wxh += temp @ self.last_inputs[t].T
            d_h = self.Whh.T @ temp
            if self.bug == "bptt_one_step":
                break
        for d in (d_Wxh, d_Whh, d_Why, d_bh, d_by):
            np.clip(d, -1, 1, out=d)
        self.Whh -= learn_rate * d_Whh
        self.Wxh -= learn_rate * d_Wxh
        self.Why -= learn_rate * d_Why
        self.bh -= learn_rate * d_bh
        self.by -= learn_rate * d_by


def softmax(xs):
    return np.exp(xs) / sum(np.exp(xs))


def make_data(n=6, length=5, vocab=7, seed=0):
    """Sequences of one-hot words (all of one length) with a label: whether word 0 appears."""
    rng = np.random.RandomState(seed)
    data = []
    for _ in range(n):
        words = rng.randint(0, vocab, length)
        inputs = [np.eye(vocab)[w].reshape(-1, 1) for w in words]
        data.append((inputs, int(0 in words)))
    return data


if __name__ == "__main__":
    data = make_data()
    rnn = RNN(7, 2)
    for epoch in range(200):
        total = 0.0
        for inputs, target in data:
            out, _ = rnn.forward(inputs)
            probs = softmax(out)
            total -= np.log(probs[target, 0])
            d_L_d_y = probs
            d_L_d_y[target] -= 1
            rnn.backprop(d_L_d_y)
        if epoch % 50 == 0:
            print(epoch, total / len(data))
