"""
min_char_rnn.py -- Karpathy's min-char-rnn idiom (gist 8570143), wrapped in a
small class.

Vanilla RNN on characters: separate weight arrays Wxh, Whh, Why, bh, by
(column vectors, hidden state hs[t] of shape (hidden_size, 1), dict of
time steps xs/hs/ys/ps keyed by t with hs[-1] = hprev), lossFun(inputs,
targets, hprev) returning (loss, dWxh, dWhh, dWhy, dbh, dby, hs[last]) with
the loss SUMMED (not averaged) over the sequence, gradients clipped to
[-5, 5] in place, Adagrad updates with mWxh... memories, sample(h, seed_ix, n).
inputs / targets are lists of character indices (targets = inputs shifted by one).

BUG: in the backward pass dWhh accumulates np.dot(dhraw, hs[t].T) instead of np.dot(dhraw, hs[t-1].T) (off-by-one time index; shapes still match).
"""
import numpy as np


class CharRNN:
    def __init__(self, data, hidden_size=100, seq_length=25, learning_rate=1e-1):
        chars = sorted(list(set(data)))
        data_size, vocab_size = len(data), len(chars)
        self.data = data
        self.chars = chars
        self.data_size, self.vocab_size = data_size, vocab_size
        self.char_to_ix = {ch: i for i, ch in enumerate(chars)}
        self.ix_to_char = {i: ch for i, ch in enumerate(chars)}

        # hyperparameters
        self.hidden_size = hidden_size  # size of hidden layer of neurons
        self.seq_length = seq_length  # number of steps to unroll the RNN for
        self.learning_rate = learning_rate

        # model parameters
        self.Wxh = np.random.randn(hidden_size, vocab_size)*0.01  # input to hidden
        self.Whh = np.random.randn(hidden_size, hidden_size)*0.01  # hidden to hidden
        self.Why = np.random.randn(vocab_size, hidden_size)*0.01  # hidden to output
        self.bh = np.zeros((hidden_size, 1))  # hidden bias
        self.by = np.zeros((vocab_size, 1))  # output bias
        self._buggy = False

    def lossFun(self, inputs, targets, hprev):
        """
        inputs,targets are both list of integers.
        hprev is Hx1 array of initial hidden state
        returns the loss, gradients on model parameters, and last hidden state
        """
        Wxh, Whh, Why, bh, by = self.Wxh, self.Whh, self.Why, self.bh, self.by
        xs, hs, ys, ps = {}, {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0
        # forward pass
        for t in range(len(inputs)):
            xs[t] = np.zeros((self.vocab_size, 1))  # encode in 1-of-k representation
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t-1]) + bh)  # hidden state
            ys[t] = np.dot(Why, hs[t]) + by  # unnormalized log probabilities for next chars
            ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))  # probabilities for next chars
            loss += -np.log(ps[t][targets[t], 0])  # softmax (cross-entropy loss)
        # backward pass: compute gradients going backwards
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1  # backprop into y. see http://cs231n.github.io/neural-networks-case-study/#grad if confused here
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext  # backprop into h
            dhraw = (1 - hs[t] * hs[t]) * dh  # backprop through tanh nonlinearity
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            if self._buggy:
                dWhh += np.dot(dhraw, hs[t].T)
            else:
                dWhh += np.dot(dhraw, hs[t-1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
            np.clip(dparam, -5, 5, out=dparam)  # clip to mitigate exploding gradients
        return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs)-1]

    def sample(self, h, seed_ix, n):
        """
        sample a sequence of integers from the model
        h is memory state, seed_ix is seed letter for first time step
        """
        x = np.zeros((self.vocab_size, 1))
        x[seed_ix] = 1
        ixes = []
        for t in range(n):
            h = np.tanh(np.dot(self.Wxh, x) + np.dot(self.Whh, h) + self.bh)
            y = np.dot(self.Why, h) + self.by
            p = np.exp(y) / np.sum(np.exp(y))
            ix = np.random.choice(range(self.vocab_size), p=p.ravel())
            x = np.zeros((self.vocab_size, 1))
            x[ix] = 1
            ixes.append(ix)
        return ixes


DATA = "hello world, hello numpy. " * 8


def make(buggy=False):
    np.random.seed(0)
    rnn = CharRNN(DATA, hidden_size=24, seq_length=25, learning_rate=1e-1)
    rnn._buggy = buggy
    p = 0
    inputs = [rnn.char_to_ix[ch] for ch in DATA[p:p+rnn.seq_length]]
    targets = [rnn.char_to_ix[ch] for ch in DATA[p+1:p+rnn.seq_length+1]]
    return rnn, inputs, targets, rnn.learning_rate


if __name__ == "__main__":
    rnn, inputs, targets, learning_rate = make()
    # gradient check (bigger weights so the recurrent terms matter)
    for name in ("Wxh", "Whh", "Why", "bh", "by"):
        setattr(rnn, name, np.random.randn(*getattr(rnn, name).shape) * 0.3)
    hprev = np.random.randn(rnn.hidden_size, 1) * 0.5
    loss, dWxh, dWhh, dWhy, dbh, dby, _ = rnn.lossFun(inputs, targets, hprev)
    assert max(np.abs(d).max() for d in (dWxh, dWhh, dWhy, dbh, dby)) < 5  # clipping inactive
    delta, worst = 1e-5, 0.0
    for name, dparam in zip(("Wxh", "Whh", "Why", "bh", "by"), (dWxh, dWhh, dWhy, dbh, dby)):
        param = getattr(rnn, name)
        for _ in range(10):
            ri = int(np.random.randint(param.size))
            old_val = param.flat[ri]
            param.flat[ri] = old_val + delta
            cg0 = rnn.lossFun(inputs, targets, hprev)[0]
            param.flat[ri] = old_val - delta
            cg1 = rnn.lossFun(inputs, targets, hprev)[0]
            param.flat[ri] = old_val
            grad_analytic = dparam.flat[ri]
            grad_numerical = (cg0 - cg1) / (2 * delta)
            rel_error = abs(grad_analytic - grad_numerical) / max(1e-4, abs(grad_numerical + grad_analytic))
            worst = max(worst, rel_error)
    print("gradcheck: max relative error %.2e" % worst)
    assert worst < 1e-6

    # training loop with Adagrad, as in the gist
    rnn, _, _, learning_rate = make()
    n, p = 0, 0
    mWxh, mWhh, mWhy = np.zeros_like(rnn.Wxh), np.zeros_like(rnn.Whh), np.zeros_like(rnn.Why)
    mbh, mby = np.zeros_like(rnn.bh), np.zeros_like(rnn.by)  # memory variables for Adagrad
    smooth_loss = -np.log(1.0/rnn.vocab_size)*rnn.seq_length  # loss at iteration 0
    while n <= 400:
        if p+rnn.seq_length+1 >= len(rnn.data) or n == 0:
            hprev = np.zeros((rnn.hidden_size, 1))  # reset RNN memory
            p = 0  # go from start of data
        inputs = [rnn.char_to_ix[ch] for ch in rnn.data[p:p+rnn.seq_length]]
        targets = [rnn.char_to_ix[ch] for ch in rnn.data[p+1:p+rnn.seq_length+1]]
        loss, dWxh, dWhh, dWhy, dbh, dby, hprev = rnn.lossFun(inputs, targets, hprev)
        smooth_loss = smooth_loss * 0.999 + loss * 0.001 if n else loss
        if n % 50 == 0:
            print('iter %d, loss: %f' % (n, loss))
        for param, dparam, mem in zip([rnn.Wxh, rnn.Whh, rnn.Why, rnn.bh, rnn.by],
                                      [dWxh, dWhh, dWhy, dbh, dby],
                                      [mWxh, mWhh, mWhy, mbh, mby]):
            mem += dparam * dparam
            param += -learning_rate * dparam / np.sqrt(mem + 1e-8)  # adagrad update
        p += rnn.seq_length
        n += 1
    print('sample:', ''.join(rnn.ix_to_char[ix] for ix in rnn.sample(hprev, inputs[0], 30)))
