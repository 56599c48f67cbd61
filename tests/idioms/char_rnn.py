"""Character-level vanilla RNN in the style of Karpathy's min-char-rnn.py.

Idiom
-----
Follows Andrej Karpathy's "Minimal character-level Vanilla RNN model"
(gist karpathy/d4dee566867f8291f086, ``min-char-rnn.py``, copied into many
public repositories such as ``carpedm20/nn-study`` ``rnn-py/char-rnn.py``),
with the module globals moved into a class the way many public adaptations
do:

* parameters ``Wxh (H, V)``, ``Whh (H, H)``, ``Why (V, H)``, ``bh (H, 1)``,
  ``by (V, 1)`` are attributes; weights ``randn * weight_scale``, biases zero;
* inputs are one-hot COLUMN vectors ``(V, 1)`` built inside ``lossFun``;
  states are dicts ``xs, hs, ys, ps`` keyed by time step with ``hs[-1] = hprev``;
* ``lossFun(inputs, targets, hprev)`` returns
  ``loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs)-1]``; the loss is the
  cross-entropy SUMMED over the time steps (not averaged);
* ``lossFun`` clips every gradient in place with
  ``np.clip(dparam, -clip, clip, out=dparam)`` as the original does, but
  with ``clip=25.0`` instead of the original 5: with the default sizes and
  ``weight_scale`` a freshly initialised model never gets near it on
  ``make_data`` data (largest |gradient entry| over model/data seeds 0-999,
  each with a zero, a ``tanh(randn)`` and a +-0.99 ``hprev``: 8.6, in
  ``dbh``), so for a fresh model the returned gradients are the exact,
  unclipped gradients.  Trained or larger models may hit the clip;
* ``sample(h, seed_ix, n)`` draws ``n`` indices with ``np.random.choice``;
* ``train_step`` runs ``lossFun`` and the Adagrad update of the original
  (``mem += dparam * dparam; param += -learning_rate * dparam / np.sqrt(mem + 1e-8)``).

``weight_scale`` defaults to 0.3 rather than the original 0.01 so that tanh
is used outside its linear range (with 0.01 a tanh-derivative bug changes
the gradients by about 1e-7 relative and is numerically invisible).  Seeding uses the global ``np.random.seed`` as the
original does.

Data layout
-----------
``inputs`` and ``targets`` are plain Python lists of integer character
indices of length ``seq_length``; ``targets[t] == inputs[t + 1]`` within the
text.  ``hprev`` is an ``(hidden_size, 1)`` column vector (zeros at the
start of the text).  ``make_data`` cuts a window from ``"hello world "``
(8 distinct characters, ``CHARS``).

Variants (``CharRNN(..., bug=...)``)
-----------------------------------

name          | what is wrong                                    | first parameter affected
------------- | ------------------------------------------------ | ---------------------------------
None          | correct                                          | -
no_dhnext     | truncated BPTT: ``dh = Why.T @ dy`` without      | ``Whh``, ``Wxh``, ``bh`` (all steps
              | ``+ dhnext`` -- the hidden-state gradient from   | but the last); ``Why``, ``by`` right
              | the future is never carried back                 |
last_k_steps  | only the last ``k = 3`` time steps are           | ``Why``, ``by`` (early steps missing),
              | back-propagated at all (loop over                | then ``Wxh``, ``Whh``, ``bh``
              | ``reversed(range(T - 3, T))``)                   |
tanh_preact   | tanh derivative taken at the pre-activation:     | ``bh``, ``Wxh``, ``Whh``
              | ``(1 - hraw * hraw) * dh`` instead of            |
              | ``(1 - hs[t] * hs[t]) * dh``                     |
dby_skip_step | ``dby`` never accumulates ``dy`` of time step 0  | ``by`` only
"""
import numpy as np

CHARS = ['h', 'e', 'l', 'o', ' ', 'w', 'r', 'd']
TEXT = 'hello world '
char_to_ix = {ch: i for i, ch in enumerate(CHARS)}
ix_to_char = {i: ch for i, ch in enumerate(CHARS)}

VARIANTS = {
    None: 'correct',
    'no_dhnext': 'hidden-state gradient from the future (dhnext) not carried',
    'dhnext_transposed': 'dhnext carried through Whh instead of Whh.T (a wrong, not a missing, term)',
    'last_k_steps': 'only the last 3 time steps are backpropagated',
    'tanh_preact': 'tanh derivative computed from the pre-activation instead of the activation',
    'dby_skip_step': 'dby misses time step 0',
}


class CharRNN(object):

    def __init__(self, vocab_size=8, hidden_size=12, learning_rate=1e-1,
                 weight_scale=0.3, clip=25.0, seed=None, bug=None):
        if bug not in VARIANTS:
            raise ValueError('unknown bug %r' % (bug,))
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.learning_rate = learning_rate
        self.clip = clip
        self.bug = bug
        self.k = 3  # steps kept by the 'last_k_steps' bug

        if seed is not None:
            np.random.seed(seed)
        # model parameters
        self.Wxh = np.random.randn(hidden_size, vocab_size) * weight_scale   # input to hidden
        self.Whh = np.random.randn(hidden_size, hidden_size) * weight_scale  # hidden to hidden
        self.Why = np.random.randn(vocab_size, hidden_size) * weight_scale   # hidden to output
        self.bh = np.zeros((hidden_size, 1))                                 # hidden bias
        self.by = np.zeros((vocab_size, 1))                                  # output bias

        # Adagrad memory
        self.mWxh, self.mWhh, self.mWhy = (np.zeros_like(self.Wxh), np.zeros_like(self.Whh),
                                           np.zeros_like(self.Why))
        self.mbh, self.mby = np.zeros_like(self.bh), np.zeros_like(self.by)

    def lossFun(self, inputs, targets, hprev):
        """
        inputs, targets: lists of integer indices; hprev: (H, 1) initial state.
        Returns the summed loss, the (clipped) gradients on the parameters and
        the last hidden state.
        """
        Wxh, Whh, Why, bh, by = self.Wxh, self.Whh, self.Why, self.bh, self.by
        xs, hraw, hs, ys, ps = {}, {}, {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0
        # forward pass
        for t in range(len(inputs)):
            xs[t] = np.zeros((self.vocab_size, 1))  # one-hot column
            xs[t][inputs[t]] = 1
            hraw[t] = np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh
            hs[t] = np.tanh(hraw[t])
            ys[t] = np.dot(Why, hs[t]) + by           # unnormalised log probabilities
            ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
            loss += -np.log(ps[t][targets[t], 0])     # softmax cross-entropy, summed

        # backward pass
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        T = len(inputs)
        steps = reversed(range(T))
        if self.bug == 'last_k_steps':
            steps = reversed(range(max(0, T - self.k), T))   # BUG: earlier steps dropped
        for t in steps:
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            if self.bug == 'dby_skip_step' and t == 0:
                pass                                         # BUG: step 0 never reaches dby
            else:
                dby += dy
            if self.bug == 'no_dhnext':
                dh = np.dot(Why.T, dy)                       # BUG: future gradient dropped
            else:
                dh = np.dot(Why.T, dy) + dhnext
            if self.bug == 'tanh_preact':
                dhraw = (1 - hraw[t] * hraw[t]) * dh         # BUG: derivative at pre-activation
            else:
                dhraw = (1 - hs[t] * hs[t]) * dh             # through tanh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh, dhraw) if self.bug == 'dhnext_transposed' else np.dot(Whh.T, dhraw)
        for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
            np.clip(dparam, -self.clip, self.clip, out=dparam)  # against exploding gradients
        return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]

    def sample(self, h, seed_ix, n):
        """Sample n integer indices, starting from state h and index seed_ix."""
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

    def train_step(self, inputs, targets, hprev):
        """One Adagrad update; returns (loss, hprev for the next chunk)."""
        loss, dWxh, dWhh, dWhy, dbh, dby, hprev = self.lossFun(inputs, targets, hprev)
        for param, dparam, mem in zip([self.Wxh, self.Whh, self.Why, self.bh, self.by],
                                      [dWxh, dWhh, dWhy, dbh, dby],
                                      [self.mWxh, self.mWhh, self.mWhy, self.mbh, self.mby]):
            mem += dparam * dparam
            param += -self.learning_rate * dparam / np.sqrt(mem + 1e-8)  # adagrad update
        return loss, hprev


def make_data(seed=0, seq_length=8):
    """A window of ``seq_length`` characters of ``"hello world "`` repeated,
    starting at an offset chosen by ``seed``.  Returns (inputs, targets),
    lists of integer indices into ``CHARS`` with targets shifted by one."""
    rng = np.random.RandomState(seed)
    p = rng.randint(len(TEXT))
    data = TEXT * (2 + (p + seq_length + 1) // len(TEXT))
    inputs = [char_to_ix[ch] for ch in data[p:p + seq_length]]
    targets = [char_to_ix[ch] for ch in data[p + 1:p + seq_length + 1]]
    return inputs, targets
