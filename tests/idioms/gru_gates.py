"""A GRU trained on sequences, numpy only, in the "GRU from scratch" tutorial style.

Every gate keeps its own weights as separate attributes (Wz, Uz, bz, Wr, Ur, br,
Wh, Uh, bh) and a linear read-out (Wy, by).  Column-vector convention: x_t is
(input_size, 1), h_t is (hidden_size, 1)::

    z_t  = sigmoid(Wz x_t + Uz h_{t-1} + bz)            update gate
    r_t  = sigmoid(Wr x_t + Ur h_{t-1} + br)            reset gate
    hh_t = tanh(Wh x_t + Uh (r_t * h_{t-1}) + bh)       candidate state
    h_t  = (1 - z_t) * h_{t-1} + z_t * hh_t
    y_t  = Wy h_t + by
    loss = 1/2 * sum_t ||y_t - target_t||^2

``forward`` returns (loss, cache); ``backward(cache)`` runs back-propagation
through time and returns a dict of gradients keyed 'dWz', 'dUz', ..., 'dby'.

Seeded bug variants are subclasses (see ``VARIANTS`` / ``CORRUPTS``); each
one-line docstring says what is wrong and where the error shows up first.
They all draw the same initial weights from the same seed.
"""

from __future__ import annotations

import numpy as np

PARAM_NAMES = ("Wz", "Uz", "bz", "Wr", "Ur", "br", "Wh", "Uh", "bh", "Wy", "by")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def dsigmoid(s):
    """Derivative of sigmoid written in terms of its output s."""
    return s * (1.0 - s)


def dtanh(t):
    """Derivative of tanh written in terms of its output t."""
    return 1.0 - t ** 2


class GRU:
    """Single-layer GRU with a linear read-out, trained with plain SGD + BPTT."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, seed: int = 0):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(hidden_size)

        def init(*shape):
            return rng.uniform(-k, k, size=shape)

        # update gate
        self.Wz = init(hidden_size, input_size)
        self.Uz = init(hidden_size, hidden_size)
        self.bz = init(hidden_size, 1)
        # reset gate
        self.Wr = init(hidden_size, input_size)
        self.Ur = init(hidden_size, hidden_size)
        self.br = init(hidden_size, 1)
        # candidate hidden state
        self.Wh = init(hidden_size, input_size)
        self.Uh = init(hidden_size, hidden_size)
        self.bh = init(hidden_size, 1)
        # read-out
        self.Wy = init(output_size, hidden_size)
        self.by = init(output_size, 1)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs, targets, h_prev):
        """Run the sequence; return (loss, cache) with loss = 1/2 sum_t ||y_t - target_t||^2."""
        xs, hs, zs, rs, hhs, ys = {}, {}, {}, {}, {}, {}
        hs[-1] = np.copy(h_prev)
        loss = 0.0
        for t, x in enumerate(inputs):
            xs[t] = x
            zs[t] = sigmoid(self.Wz @ x + self.Uz @ hs[t - 1] + self.bz)
            rs[t] = sigmoid(self.Wr @ x + self.Ur @ hs[t - 1] + self.br)
            hhs[t] = np.tanh(self.Wh @ x + self.Uh @ (rs[t] * hs[t - 1]) + self.bh)
            hs[t] = (1.0 - zs[t]) * hs[t - 1] + zs[t] * hhs[t]
            ys[t] = self.Wy @ hs[t] + self.by
            loss += 0.5 * float(np.sum((ys[t] - targets[t]) ** 2))
        cache = {
            "xs": xs, "hs": hs, "zs": zs, "rs": rs, "hhs": hhs, "ys": ys,
            "targets": list(targets), "h_last": hs[len(inputs) - 1] if len(inputs) else hs[-1],
        }
        return loss, cache

    # ---------------------------------------------------------- backward hooks
    # (the bug variants override exactly one of these)
    def _carry(self, dh_prev):
        """Gradient handed from step t to step t-1 (this is what makes it BPTT)."""
        return dh_prev

    def _update_gate_grad(self, dh, hh, h_prev):
        """dL/dz for h = (1 - z) * h_prev + z * hh."""
        return dh * (hh - h_prev)

    def _reset_gate_deriv(self, r):
        return dsigmoid(r)

    def _uh_grad(self, da_h, rh):
        return da_h @ rh.T

    # ----------------------------------------------------------------- backward
    def backward(self, cache):
        """Back-propagation through time; returns {'dWz': ..., ..., 'dby': ...}."""
        xs, hs, zs, rs, hhs, ys = (cache[k] for k in ("xs", "hs", "zs", "rs", "hhs", "ys"))
        targets = cache["targets"]
        grads = {"d" + name: np.zeros_like(getattr(self, name)) for name in PARAM_NAMES}
        dh_next = np.zeros((self.hidden_size, 1))

        for t in reversed(range(len(xs))):
            x, h_prev = xs[t], hs[t - 1]
            z, r, hh = zs[t], rs[t], hhs[t]

            # read-out
            dy = ys[t] - targets[t]
            grads["dWy"] += dy @ hs[t].T
            grads["dby"] += dy
            dh = self.Wy.T @ dy + dh_next

            # h = (1 - z) * h_prev + z * hh
            dhh = dh * z
            dz = self._update_gate_grad(dh, hh, h_prev)
            dh_prev = dh * (1.0 - z)

            # candidate: hh = tanh(Wh x + Uh (r * h_prev) + bh)
            da_h = dhh * dtanh(hh)
            rh = r * h_prev
            grads["dWh"] += da_h @ x.T
            grads["dUh"] += self._uh_grad(da_h, rh)
            grads["dbh"] += da_h
            drh = self.Uh.T @ da_h
            dr = drh * h_prev
            dh_prev += drh * r

            # update gate
            da_z = dz * dsigmoid(z)
            grads["dWz"] += da_z @ x.T
            grads["dUz"] += da_z @ h_prev.T
            grads["dbz"] += da_z
            dh_prev += self.Uz.T @ da_z

            # reset gate
            da_r = dr * self._reset_gate_deriv(r)
            grads["dWr"] += da_r @ x.T
            grads["dUr"] += da_r @ h_prev.T
            grads["dbr"] += da_r
            dh_prev += self.Ur.T @ da_r

            dh_next = self._carry(dh_prev)

        return grads

    # ------------------------------------------------------------------ update
    def update(self, grads, learning_rate):
        for name in PARAM_NAMES:
            param = getattr(self, name)
            param -= learning_rate * grads["d" + name]

    def train(self, data, epochs: int = 10, learning_rate: float = 0.05, verbose: bool = False, clip: float | None = 5.0):
        """SGD over a list of (inputs, targets) sequences; h_prev starts at zeros for each.

        Returns the list of per-epoch summed losses.
        """
        history = []
        for epoch in range(epochs):
            total = 0.0
            for inputs, targets in data:
                h_prev = np.zeros((self.hidden_size, 1))
                loss, cache = self.forward(inputs, targets, h_prev)
                grads = self.backward(cache)
                if clip is not None:
                    for g in grads.values():
                        np.clip(g, -clip, clip, out=g)
                self.update(grads, learning_rate)
                total += loss
            history.append(total)
            if verbose:
                print(f"epoch {epoch:3d}  loss {total:.4f}")
        return history

    def predict(self, inputs, h_prev=None):
        h = np.zeros((self.hidden_size, 1)) if h_prev is None else h_prev
        dummy = [np.zeros((self.output_size, 1))] * len(inputs)
        _, cache = self.forward(inputs, dummy, h)
        return [cache["ys"][t] for t in range(len(inputs))]


# --------------------------------------------------------------------------- #
# seeded bug variants
# --------------------------------------------------------------------------- #
class GRUNoBPTT(GRU):
    """BUG: dh_next reset to zero every step (no BPTT); corrupts all gate grads Wz..bh, Uz/Ur/Uh worst; Wy, by stay right."""

    def _carry(self, dh_prev):
        return np.zeros_like(dh_prev)


class GRUTransposedUh(GRU):
    """BUG: candidate recurrent grad accumulated as (r*h_prev) @ da_h.T, i.e. transposed; corrupts Uh only."""

    def _uh_grad(self, da_h, rh):
        return rh @ da_h.T


class GRUFlippedUpdateGate(GRU):
    """BUG: update-gate grad sign flipped, dz = dh*(h_prev - hh); corrupts Wz, Uz, bz first, then leaks via dh_prev into earlier steps."""

    def _update_gate_grad(self, dh, hh, h_prev):
        return dh * (h_prev - hh)


class GRUResetTanhDeriv(GRU):
    """BUG: reset-gate derivative uses tanh' (1 - r**2) instead of sigmoid' r*(1 - r); corrupts Wr, Ur, br first, then leaks via dh_prev."""

    def _reset_gate_deriv(self, r):
        return dtanh(r)


VARIANTS = {
    "correct": GRU,
    "no_bptt": GRUNoBPTT,
    "uh_transposed": GRUTransposedUh,
    "update_gate_sign": GRUFlippedUpdateGate,
    "reset_gate_tanh_deriv": GRUResetTanhDeriv,
}

# parameters whose gradient goes wrong first (empty for the correct model)
CORRUPTS = {
    "correct": (),
    "no_bptt": ("Wz", "Uz", "bz", "Wr", "Ur", "br", "Wh", "Uh", "bh"),
    "uh_transposed": ("Uh",),
    "update_gate_sign": ("Wz", "Uz", "bz"),
    "reset_gate_tanh_deriv": ("Wr", "Ur", "br"),
}


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
def make_sequences(n_seqs: int = 4, seq_len: int = 6, input_size: int = 3, output_size: int = 2, seed: int = 0, delay: int = 1):
    """Echo/delay task: target_t = first `output_size` input channels of x_{t-delay} (zeros before)."""
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(n_seqs):
        inputs = [rng.normal(size=(input_size, 1)) for _ in range(seq_len)]
        targets = []
        for t in range(seq_len):
            tgt = np.zeros((output_size, 1))
            if t - delay >= 0:
                m = min(input_size, output_size)
                tgt[:m] = inputs[t - delay][:m]
            targets.append(tgt)
        data.append((inputs, targets))
    return data


if __name__ == "__main__":
    data = make_sequences()
    gru = GRU(input_size=3, hidden_size=8, output_size=2, seed=0)
    history = gru.train(data, epochs=60, learning_rate=0.05)
    for epoch in range(0, len(history), 10):
        print(f"epoch {epoch:3d}  loss {history[epoch]:.4f}")
    print(f"epoch {len(history) - 1:3d}  loss {history[-1]:.4f}")
    print("variants:", list(VARIANTS))
