"""Character-level LSTM in numpy, in the common "vanilla LSTM from scratch" style.

Idiom
-----
Follows the from-scratch LSTM of Christina Kouridi's ``scratchML``
(``christinakouridi/scratchML``, ``VanillaLSTM/VanillaLSTM.py``) and the many
blog posts written like it:

* ``self.params`` dict with separate gate matrices ``Wf, Wi, Wc, Wo`` of
  shape ``(n_h, n_h + vocab_size)`` acting on the column concatenation
  ``z = [h_prev; x]``, biases ``bf, bi, bc, bo`` ``(n_h, 1)``, and an output
  layer ``Wy (vocab_size, n_h)``, ``by (vocab_size, 1)`` with a softmax at
  every time step;
* Xavier-style init ``randn * 1/sqrt(vocab_size + n_h)``; the forget-gate
  bias starts at ONE (as in the reference), all other biases at zero;
* gradients are kept in a dict with ``"d" + key`` names (``dWf``, ``dbf``,
  ..., ``dWy``, ``dby``);
* ``forward_step`` / ``backward_step`` for one time step, ``forward`` over a
  sequence (caches kept in ``self.cache``) and ``backward`` through time;
* the loss is the cross-entropy SUMMED over the time steps (not averaged);
* ``train_step`` = forward, backward, ``np.clip(grad, -5, 5)`` on the
  gradients (as the reference's ``clip_grads``), then a plain SGD update
  with the learning rate.  ``backward`` itself never clips.

Public interface::

    model = LSTM(vocab_size=8, n_h=10, lr=0.1, seed=0, bug=None)
    y_hat, h, c = model.forward(inputs, h_prev, c_prev)   # y_hat[t]: (V, 1) probabilities
    grads, loss = model.backward(targets)                  # uses the last forward's cache
    loss = model.loss(inputs, targets, h_prev, c_prev)     # forward only
    loss, grads, h, c = model.forward_backward(inputs, targets, h_prev, c_prev)
    loss, h, c = model.train_step(inputs, targets, h_prev, c_prev)
    ixes = model.sample(h_prev, c_prev, seed_ix, n)

``backward`` returns a fresh grads dict each call (it is also stored as
``model.grads``).  Seeding uses ``np.random.seed(seed)`` when ``seed`` is
given (the reference relies on the global generator).

Data layout
-----------
``inputs`` and ``targets`` are lists of integer character indices (length
``seq_len``); one-hot ``(vocab_size, 1)`` columns are built inside
``forward``.  ``h_prev``, ``c_prev`` are ``(n_h, 1)`` columns.
``make_data`` cuts a window from ``"hello world "`` (8 distinct characters).

Variants (``LSTM(..., bug=...)``)
--------------------------------

name              | what is wrong                                 | first parameter affected
----------------- | --------------------------------------------- | -----------------------------------
None              | correct                                       | -
forget_no_sigmoid | forget gate: ``da_f = df`` -- the sigmoid     | ``Wf``, ``bf``; then, through
                  | derivative ``f * (1 - f)`` is dropped         | ``dh_prev``, every gate parameter at
                  |                                               | earlier steps; ``Wy``, ``by`` right
output_no_tanh_c  | output gate: ``do = dh`` -- the factor        | ``Wo``, ``bo``; then every gate
                  | ``tanh(c)`` is missing                        | parameter at earlier steps
no_dc_carry       | the cell-state gradient ``dc_next`` from the  | ``Wf, Wi, Wc, Wo``, ``bf, bi, bc, bo``
                  | later step is not added to ``dc``             | (all steps but the last); ``Wy``,
                  |                                               | ``by`` right
"""
import numpy as np

CHARS = ['h', 'e', 'l', 'o', ' ', 'w', 'r', 'd']
TEXT = 'hello world '
char_to_idx = {ch: i for i, ch in enumerate(CHARS)}
idx_to_char = {i: ch for i, ch in enumerate(CHARS)}

VARIANTS = {
    None: 'correct',
    'forget_no_sigmoid': "forget gate's sigmoid derivative dropped (df used directly)",
    'output_no_tanh_c': 'output gate gradient missing the tanh(c) factor',
    'no_dc_carry': 'cell-state gradient not carried to the previous time step',
}


class LSTM:
    def __init__(self, vocab_size=8, n_h=10, lr=0.1, seed=None, bug=None):
        if bug not in VARIANTS:
            raise ValueError('unknown bug %r' % (bug,))
        self.vocab_size = vocab_size
        self.n_h = n_h
        self.lr = lr
        self.bug = bug

        if seed is not None:
            np.random.seed(seed)

        self.params = {}
        std = 1.0 / np.sqrt(vocab_size + n_h)  # Xavier

        # forget gate
        self.params["Wf"] = np.random.randn(n_h, n_h + vocab_size) * std
        self.params["bf"] = np.ones((n_h, 1))
        # input gate
        self.params["Wi"] = np.random.randn(n_h, n_h + vocab_size) * std
        self.params["bi"] = np.zeros((n_h, 1))
        # candidate cell
        self.params["Wc"] = np.random.randn(n_h, n_h + vocab_size) * std
        self.params["bc"] = np.zeros((n_h, 1))
        # output gate
        self.params["Wo"] = np.random.randn(n_h, n_h + vocab_size) * std
        self.params["bo"] = np.zeros((n_h, 1))
        # softmax output layer
        self.params["Wy"] = np.random.randn(vocab_size, n_h) * (1.0 / np.sqrt(vocab_size))
        self.params["by"] = np.zeros((vocab_size, 1))

        self.reset_grads()
        self.cache = None

    # -- helpers -----------------------------------------------------------

    def sigmoid(self, x):
        return 1 / (1 + np.exp(-x))

    def softmax(self, x):
        e_x = np.exp(x - np.max(x))
        return e_x / np.sum(e_x)

    def reset_grads(self):
        self.grads = {"d" + key: np.zeros_like(val) for key, val in self.params.items()}

    def clip_grads(self, limit=5):
        for key in self.grads:
            np.clip(self.grads[key], -limit, limit, out=self.grads[key])

    # -- one time step -------------------------------------------------------

    def forward_step(self, x, h_prev, c_prev):
        p = self.params
        z = np.vstack((h_prev, x))

        f = self.sigmoid(np.dot(p["Wf"], z) + p["bf"])
        i = self.sigmoid(np.dot(p["Wi"], z) + p["bi"])
        c_bar = np.tanh(np.dot(p["Wc"], z) + p["bc"])
        c = f * c_prev + i * c_bar
        o = self.sigmoid(np.dot(p["Wo"], z) + p["bo"])
        h = o * np.tanh(c)

        v = np.dot(p["Wy"], h) + p["by"]
        y_hat = self.softmax(v)
        return y_hat, v, h, o, c, c_bar, i, f, z

    def backward_step(self, y, y_hat, dh_next, dc_next, c_prev, z, f, i, c_bar, c, o, h):
        p, g = self.params, self.grads

        dv = np.copy(y_hat)
        dv[y] -= 1                      # softmax + cross-entropy
        g["dWy"] += np.dot(dv, h.T)
        g["dby"] += dv

        dh = np.dot(p["Wy"].T, dv) + dh_next

        if self.bug == "output_no_tanh_c":
            do = dh                     # BUG: tanh(c) factor missing
        else:
            do = dh * np.tanh(c)
        da_o = do * o * (1 - o)
        g["dWo"] += np.dot(da_o, z.T)
        g["dbo"] += da_o

        dc = dh * o * (1 - np.tanh(c) ** 2)
        if self.bug != "no_dc_carry":
            dc += dc_next               # (BUG no_dc_carry: this line is skipped)

        dc_bar = dc * i
        da_c = dc_bar * (1 - c_bar ** 2)
        g["dWc"] += np.dot(da_c, z.T)
        g["dbc"] += da_c

        di = dc * c_bar
        da_i = di * i * (1 - i)
        g["dWi"] += np.dot(da_i, z.T)
        g["dbi"] += da_i

        df = dc * c_prev
        if self.bug == "forget_no_sigmoid":
            da_f = df                   # BUG: sigmoid derivative f * (1 - f) dropped
        else:
            da_f = df * f * (1 - f)
        g["dWf"] += np.dot(da_f, z.T)
        g["dbf"] += da_f

        dz = (np.dot(p["Wf"].T, da_f)
              + np.dot(p["Wi"].T, da_i)
              + np.dot(p["Wc"].T, da_c)
              + np.dot(p["Wo"].T, da_o))
        dh_prev = dz[:self.n_h, :]
        dc_prev = f * dc
        return dh_prev, dc_prev

    # -- whole sequence --------------------------------------------------------

    def forward(self, inputs, h_prev, c_prev):
        """Runs the sequence; returns (y_hat, h_last, c_last), y_hat a dict t -> (V, 1)."""
        x, z = {}, {}
        f, i, c_bar, c, o = {}, {}, {}, {}, {}
        y_hat, v, h = {}, {}, {}
        h[-1] = np.copy(h_prev)
        c[-1] = np.copy(c_prev)

        for t in range(len(inputs)):
            x[t] = np.zeros((self.vocab_size, 1))
            x[t][inputs[t]] = 1
            y_hat[t], v[t], h[t], o[t], c[t], c_bar[t], i[t], f[t], z[t] = \
                self.forward_step(x[t], h[t - 1], c[t - 1])

        self.cache = (len(inputs), z, f, i, c_bar, c, o, y_hat, h)
        T = len(inputs)
        return y_hat, h[T - 1], c[T - 1]

    def backward(self, targets):
        """Backprop through time for the last ``forward``; returns (grads, loss)."""
        T, z, f, i, c_bar, c, o, y_hat, h = self.cache
        loss = 0
        for t in range(T):
            loss += -np.log(y_hat[t][targets[t], 0])

        self.reset_grads()
        dh_next = np.zeros_like(h[0])
        dc_next = np.zeros_like(c[0])
        for t in reversed(range(T)):
            dh_next, dc_next = self.backward_step(targets[t], y_hat[t], dh_next, dc_next,
                                                  c[t - 1], z[t], f[t], i[t],
                                                  c_bar[t], c[t], o[t], h[t])
        return self.grads, loss

    def loss(self, inputs, targets, h_prev, c_prev):
        y_hat, _, _ = self.forward(inputs, h_prev, c_prev)
        return sum(-np.log(y_hat[t][targets[t], 0]) for t in range(len(inputs)))

    def forward_backward(self, inputs, targets, h_prev, c_prev):
        _, h, c = self.forward(inputs, h_prev, c_prev)
        grads, loss = self.backward(targets)
        return loss, grads, h, c

    def update_params(self, lr=None):
        lr = self.lr if lr is None else lr
        for key in self.params:
            self.params[key] -= lr * self.grads["d" + key]

    def train_step(self, inputs, targets, h_prev, c_prev, lr=None):
        """forward, backward, clip to [-5, 5], SGD; returns (loss, h, c)."""
        loss, _, h, c = self.forward_backward(inputs, targets, h_prev, c_prev)
        self.clip_grads()
        self.update_params(lr)
        return loss, h, c

    def sample(self, h_prev, c_prev, seed_ix, n):
        x = np.zeros((self.vocab_size, 1))
        x[seed_ix] = 1
        h, c = h_prev, c_prev
        ixes = []
        for _ in range(n):
            y_hat, _, h, _, c, _, _, _, _ = self.forward_step(x, h, c)
            idx = np.random.choice(range(self.vocab_size), p=y_hat.ravel())
            x = np.zeros((self.vocab_size, 1))
            x[idx] = 1
            ixes.append(idx)
        return ixes


def make_data(seed=0, seq_len=8):
    """(inputs, targets): integer index lists of length ``seq_len`` cut from
    ``"hello world "`` repeated, at an offset chosen by ``seed``; targets are
    the inputs shifted by one character."""
    rng = np.random.RandomState(seed)
    p = rng.randint(len(TEXT))
    data = TEXT * (2 + (p + seq_len + 1) // len(TEXT))
    inputs = [char_to_idx[ch] for ch in data[p:p + seq_len]]
    targets = [char_to_idx[ch] for ch in data[p + 1:p + seq_len + 1]]
    return inputs, targets
