"""Small convolutional network written in the Stanford CS231n assignment idiom.

Idiom
-----
Layer functions follow the CS231n assignment 2 ``layers.py`` / ``cnn.py``
conventions (as found in many public student repositories of the course,
e.g. ``Clarence-G/learngit`` ``cs231n/assignment2`` and ``Asher-1/AI``
``ThreeLayerConvNet``):

* every forward is ``f_forward(x, ...) -> (out, cache)`` and every backward
  is ``f_backward(dout, cache) -> dx`` or ``(dx, dw, db)``;
* ``conv_param = {'stride': 1, 'pad': 1}``,
  ``pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}``,
  ``bn_param = {'mode': 'train', 'eps': 1e-5, 'momentum': 0.9,
  'running_mean': ..., 'running_var': ...}``;
* ``softmax_loss(x, y) -> (loss, dx)`` with the loss averaged over the batch;
* the model keeps its weights in ``self.params`` (``W1, b1, ...`` and
  ``gamma1, beta1`` when batchnorm is on) and ``loss(X, y=None)`` returns the
  class scores when ``y`` is None and ``(loss, grads)`` otherwise, ``grads``
  having the same keys as ``self.params``.

Data layout
-----------
Images are ``(N, C, H, W)`` float64 arrays, labels are ``(N,)`` integer
class indices.  ``make_data`` draws 8x8 one-channel "digits" (5x3 stroke
glyphs of 0, 1, 4 and 7, intensity 0.5/0.75/1.0) whose border rows and
columns, and every row/column around the glyph, are exactly zero.  Because the conv biases start at exactly zero, every conv
output whose 3x3 receptive field is blank is exactly 0.0 (a ReLU kink), and
2x2 pooling windows over blank areas, or over two positions with the same
stroke neighbourhood, hold exact ties.

Network (``SmallConvNet``)
--------------------------
``conv(W1, b1; pad 1) - [spatial batchnorm(gamma1, beta1)] - relu -
2x2 max pool - conv(W2, b2; pad 0) - relu - affine(W3, b3) - softmax``

With the default ``input_dim=(1, 8, 8)``, ``num_filters=(2, 3)``,
``filter_size=3``, ``num_classes=4``: ``W1 (2, 1, 3, 3)``, ``b1 (2,)``,
``W2 (3, 2, 3, 3)``, ``b2 (3,)``, ``W3 (12, 4)``, ``b3 (4,)`` and, with
``use_batchnorm=True``, ``gamma1 (2,)``, ``beta1 (2,)``.  The second conv
has ``pad=0`` so its ``dx`` really is propagated back into the first block.

Variants (``SmallConvNet(bug=...)``; layer level: ``layer_functions(bug)``)
--------------------------------------------------------------------------

name            | what is wrong                                  | first parameter / layer affected
--------------- | ---------------------------------------------- | ---------------------------------------
None            | correct                                        | -
maxpool_ties    | ``max_pool_backward_naive`` gives the whole    | pool layer -> ``W1`` (and ``gamma1``,
                | upstream gradient to EVERY element equal to    | ``beta1`` with batchnorm).  Wrong only
                | the window max (``mask = window ==             | where a window holds a tie at a positive
                | window.max()``) instead of to one argmax       | value (zero ties are then blocked by the
                |                                                | ReLU); in this net such ties sit between
                |                                                | positions with identical stroke
                |                                                | neighbourhoods, so they stay tied under
                |                                                | any weight change (not a kink).  Seen in
                |                                                | 9 of seeds 0-9 without batchnorm (not
                |                                                | seed 3) and 10 of 10 with batchnorm
relu_ge         | ``relu_backward`` uses ``x >= 0``: passes the  | relu after conv1 -> ``b1`` only.  Exact
                | gradient where the input is exactly 0          | zeros come from blank patches (output =
                |                                                | b1 = 0), so every affected element sits
                |                                                | ON a ReLU kink of ``b1``; away from kinks
                |                                                | this variant equals the correct one.
                |                                                | With batchnorm there are no exact zeros
                |                                                | and the bug is invisible
conv_dw_flipped | ``conv_backward_naive`` accumulates ``dw``     | ``W2`` (conv2), then ``W1`` (conv1);
                | from the 180-degree flipped input window       | ``dx`` and ``db`` stay right
                | (convolution instead of the cross-correlation  |
                | used in the forward pass)                      |
bn_no_mean      | ``batchnorm_backward`` drops the               | batchnorm ``dx`` -> ``W1``, ``b1`` (the
                | ``- sum(dx_hat)`` (mean of dxhat) term;        | true ``db1`` is exactly 0 with BN);
                | needs ``use_batchnorm=True``                   | ``gamma1``, ``beta1`` stay right
softmax_no_divN | ``softmax_loss`` returns ``dx`` not divided by | ``W3``, ``b3`` and every gradient below
                | ``N`` (the loss is still the batch mean)       | them, all N times too large (N >= 2)
conv_dx_shape   | ``conv_backward_naive`` un-pads with           | conv2 (pad 0) returns ``dx`` of shape
                | ``dx_pad[:, :, pad:-pad, pad:-pad]``: an EMPTY | ``(N, F1, 0, 0)``; ``max_pool_backward_naive``
                | array when ``pad == 0`` (fine for pad > 0)     | then loops over an empty dout, so ``W1``,
                |                                                | ``b1`` (``gamma1``, ``beta1``) silently get
                |                                                | all-zero gradients.  Layer level: ``dx``
                |                                                | shape != ``x`` shape

Kinks in the correct model: without batchnorm every element of ``b1`` is on
a ReLU kink at initialisation (moving b1 up switches on all blank-patch
units at once); the correct gradient there is the left one-sided derivative.
With batchnorm no ReLU input is exactly 0.

The seeded bugs are separate functions (``max_pool_backward_all_ties``,
``relu_backward_ge``, ``conv_backward_flipped_dw``, ``conv_backward_crop_bug``,
``batchnorm_backward_no_mean`` / ``spatial_batchnorm_backward_no_mean``,
``softmax_loss_no_divN``); the correct functions are never modified.
``layer_functions(bug)`` returns all layer functions under their CS231n
names with the buggy one swapped in, ``VARIANTS`` maps each bug name to a
one-line description, ``sgd_step(model, X, y, learning_rate)`` does one
vanilla SGD update, ``make_data(seed, num_images=4, num_classes=4, size=8)``
returns ``(X, y)``.
"""
from types import SimpleNamespace

import numpy as np


# ---------------------------------------------------------------------------
# Layers (correct)
# ---------------------------------------------------------------------------

def affine_forward(x, w, b):
    """Fully connected layer. x: (N, d_1, ..., d_k), w: (D, M), b: (M,)."""
    N = x.shape[0]
    out = x.reshape(N, -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Returns dx (shape of x), dw (D, M), db (M,)."""
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """Naive cross-correlation.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,),
    conv_param: {'stride': s, 'pad': p}.  out: (N, F, H', W') with
    H' = 1 + (H + 2p - HH) // s.
    """
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top:top + HH, left:left + WW]        # (N, C, HH, WW)
            out[:, :, i, j] = np.sum(window[:, None] * w, axis=(2, 3, 4)) + b
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top:top + HH, left:left + WW]        # (N, C, HH, WW)
            d = dout[:, :, i, j][:, :, None, None, None]            # (N, F, 1, 1, 1)
            dw += np.sum(d * window[:, None], axis=0)
            dx_pad[:, :, top:top + HH, left:left + WW] += np.sum(d * w, axis=1)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """x: (N, C, H, W); pool_param: pool_height, pool_width, stride."""
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride

    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            out[:, :, i, j] = np.max(x[:, :, top:top + ph, left:left + pw], axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Routes each upstream value to the (first) argmax of its window."""
    x, pool_param = cache
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H_out, W_out = dout.shape

    dx = np.zeros_like(x)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing='ij')
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x[:, :, top:top + ph, left:left + pw].reshape(N, C, -1)
            r, s = np.unravel_index(np.argmax(window, axis=2), (ph, pw))   # first max only
            dx[n_idx, c_idx, top + r, left + s] += dout[:, :, i, j]
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation of x: (N, D) with per-feature gamma, beta: (D,).

    bn_param: 'mode' ('train' or 'test'), optional 'eps', 'momentum',
    'running_mean', 'running_var' (updated in place in train mode).
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        sample_mean = np.mean(x, axis=0)
        sample_var = np.var(x, axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        cache = (x_hat, gamma, sample_var, eps)
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == 'test':
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
        cache = None
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Train-mode backward. Returns dx (N, D), dgamma (D,), dbeta (D,)."""
    x_hat, gamma, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    inv_std = 1.0 / np.sqrt(var + eps)
    dx = (inv_std / N) * (N * dx_hat
                          - np.sum(dx_hat, axis=0)
                          - x_hat * np.sum(dx_hat * x_hat, axis=0))
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batchnorm over (N, H, W) for each of the C channels of x: (N, C, H, W)."""
    N, C, H, W = x.shape
    x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_flat, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
    out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_flat, dgamma, dbeta = batchnorm_backward(dout_flat, cache)
    dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta


def softmax_loss(x, y):
    """x: (N, C) scores, y: (N,) labels. Returns mean loss and dx (N, C)."""
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


# ---------------------------------------------------------------------------
# Seeded bugs (each a copy of the correct backward with one mistake)
# ---------------------------------------------------------------------------

def max_pool_backward_all_ties(dout, cache):
    """BUG maxpool_ties: every element equal to the window max gets the
    whole upstream gradient, so a window with k tied maxima passes k times
    the gradient."""
    x, pool_param = cache
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H_out, W_out = dout.shape

    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x[:, :, top:top + ph, left:left + pw]
            mask = (window == np.max(window, axis=(2, 3), keepdims=True))
            dx[:, :, top:top + ph, left:left + pw] += mask * dout[:, :, i, j][:, :, None, None]
    return dx


def relu_backward_ge(dout, cache):
    """BUG relu_ge: gradient passes where x == 0 as well."""
    x = cache
    dx = dout * (x >= 0)
    return dx


def conv_backward_flipped_dw(dout, cache):
    """BUG conv_dw_flipped: dw accumulates the 180-degree rotated input
    window (convolution instead of the cross-correlation used forward)."""
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top:top + HH, left:left + WW]        # (N, C, HH, WW)
            d = dout[:, :, i, j][:, :, None, None, None]
            dw += np.sum(d * window[:, None, :, ::-1, ::-1], axis=0)
            dx_pad[:, :, top:top + HH, left:left + WW] += np.sum(d * w, axis=1)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def conv_backward_crop_bug(dout, cache):
    """BUG conv_dx_shape: un-padding with ``pad:-pad`` gives an empty dx of
    shape (N, C, 0, 0) when pad == 0 (correct for pad > 0)."""
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top:top + HH, left:left + WW]
            d = dout[:, :, i, j][:, :, None, None, None]
            dw += np.sum(d * window[:, None], axis=0)
            dx_pad[:, :, top:top + HH, left:left + WW] += np.sum(d * w, axis=1)
    dx = dx_pad[:, :, pad:-pad, pad:-pad]
    return dx, dw, db


def batchnorm_backward_no_mean(dout, cache):
    """BUG bn_no_mean: the ``- sum(dx_hat)`` (mean of dxhat) term is missing."""
    x_hat, gamma, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    inv_std = 1.0 / np.sqrt(var + eps)
    dx = (inv_std / N) * (N * dx_hat - x_hat * np.sum(dx_hat * x_hat, axis=0))
    return dx, dgamma, dbeta


def spatial_batchnorm_backward_no_mean(dout, cache):
    """BUG bn_no_mean, spatial wrapper around batchnorm_backward_no_mean."""
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_flat, dgamma, dbeta = batchnorm_backward_no_mean(dout_flat, cache)
    dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta


def softmax_loss_no_divN(x, y):
    """BUG softmax_no_divN: loss is the batch mean but dx is not divided by N."""
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx


VARIANTS = {
    None: 'correct',
    'maxpool_ties': 'max-pool backward gives the full gradient to every tied maximum',
    'relu_ge': 'relu backward mask is x >= 0 (passes gradient at exact zeros)',
    'conv_dw_flipped': 'conv backward dw uses the 180-degree flipped input window',
    'bn_no_mean': 'batchnorm backward misses the mean-of-dxhat term (needs use_batchnorm=True)',
    'softmax_no_divN': 'softmax_loss dx is not divided by N',
    'conv_dx_shape': 'conv backward returns an empty dx when pad == 0 (dx_pad[:, :, pad:-pad, pad:-pad])',
}

_REPLACEMENTS = {
    'maxpool_ties': {'max_pool_backward_naive': max_pool_backward_all_ties},
    'relu_ge': {'relu_backward': relu_backward_ge},
    'conv_dw_flipped': {'conv_backward_naive': conv_backward_flipped_dw},
    'bn_no_mean': {'batchnorm_backward': batchnorm_backward_no_mean,
                   'spatial_batchnorm_backward': spatial_batchnorm_backward_no_mean},
    'softmax_no_divN': {'softmax_loss': softmax_loss_no_divN},
    'conv_dx_shape': {'conv_backward_naive': conv_backward_crop_bug},
}


def layer_functions(bug=None):
    """The CS231n layer functions as a namespace, with the one named by
    ``bug`` (a key of ``VARIANTS``) swapped for its seeded-bug version."""
    if bug not in VARIANTS:
        raise ValueError('unknown bug %r; choose from %s' % (bug, sorted(k for k in VARIANTS if k)))
    fns = {
        'affine_forward': affine_forward,
        'affine_backward': affine_backward,
        'relu_forward': relu_forward,
        'relu_backward': relu_backward,
        'conv_forward_naive': conv_forward_naive,
        'conv_backward_naive': conv_backward_naive,
        'max_pool_forward_naive': max_pool_forward_naive,
        'max_pool_backward_naive': max_pool_backward_naive,
        'batchnorm_forward': batchnorm_forward,
        'batchnorm_backward': batchnorm_backward,
        'spatial_batchnorm_forward': spatial_batchnorm_forward,
        'spatial_batchnorm_backward': spatial_batchnorm_backward,
        'softmax_loss': softmax_loss,
    }
    fns.update(_REPLACEMENTS.get(bug, {}))
    return SimpleNamespace(**fns)


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------

class SmallConvNet(object):
    """
    conv - [spatial batchnorm] - relu - 2x2 max pool - conv (pad 0) - relu
    - affine - softmax, on minibatches of shape (N, C, H, W).

    Weights are ``weight_scale * randn`` from the global numpy generator
    (seeded with ``np.random.seed(seed)`` when ``seed`` is given), biases
    start at zero, gamma at one and beta at zero.  ``bug`` selects a seeded
    bug (see ``VARIANTS`` and the module docstring).
    """

    def __init__(self, input_dim=(1, 8, 8), num_filters=(2, 3), filter_size=3,
                 num_classes=4, weight_scale=0.3, reg=0.0, use_batchnorm=False,
                 dtype=np.float64, seed=None, bug=None):
        if bug == 'bn_no_mean' and not use_batchnorm:
            raise ValueError("bug='bn_no_mean' needs use_batchnorm=True")
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        self.use_batchnorm = use_batchnorm
        self.filter_size = filter_size
        self.bug = bug
        self.layers = layer_functions(bug)

        if seed is not None:
            np.random.seed(seed)

        C, H, W = input_dim
        F1, F2 = num_filters
        self.params['W1'] = weight_scale * np.random.randn(F1, C, filter_size, filter_size)
        self.params['b1'] = np.zeros(F1)
        if use_batchnorm:
            self.params['gamma1'] = np.ones(F1)
            self.params['beta1'] = np.zeros(F1)
        self.params['W2'] = weight_scale * np.random.randn(F2, F1, filter_size, filter_size)
        self.params['b2'] = np.zeros(F2)
        H2 = H // 2 - filter_size + 1
        W2 = W // 2 - filter_size + 1
        self.params['W3'] = weight_scale * np.random.randn(F2 * H2 * W2, num_classes)
        self.params['b3'] = np.zeros(num_classes)

        self.bn_params = [{'mode': 'train'}] if use_batchnorm else []

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores (N, num_classes) if y is None, else (loss, grads)."""
        L = self.layers
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        W3, b3 = self.params['W3'], self.params['b3']

        conv_param1 = {'stride': 1, 'pad': (self.filter_size - 1) // 2}
        conv_param2 = {'stride': 1, 'pad': 0}
        pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

        mode = 'test' if y is None else 'train'
        for bn_param in self.bn_params:
            bn_param['mode'] = mode

        a1, conv1_cache = L.conv_forward_naive(X, W1, b1, conv_param1)
        if self.use_batchnorm:
            a1, bn1_cache = L.spatial_batchnorm_forward(
                a1, self.params['gamma1'], self.params['beta1'], self.bn_params[0])
        r1, relu1_cache = L.relu_forward(a1)
        p1, pool1_cache = L.max_pool_forward_naive(r1, pool_param)
        a2, conv2_cache = L.conv_forward_naive(p1, W2, b2, conv_param2)
        r2, relu2_cache = L.relu_forward(a2)
        scores, fc_cache = L.affine_forward(r2, W3, b3)

        if y is None:
            return scores

        grads = {}
        loss, dscores = L.softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))

        dr2, grads['W3'], grads['b3'] = L.affine_backward(dscores, fc_cache)
        da2 = L.relu_backward(dr2, relu2_cache)
        dp1, grads['W2'], grads['b2'] = L.conv_backward_naive(da2, conv2_cache)
        dr1 = L.max_pool_backward_naive(dp1, pool1_cache)
        da1 = L.relu_backward(dr1, relu1_cache)
        if self.use_batchnorm:
            da1, grads['gamma1'], grads['beta1'] = L.spatial_batchnorm_backward(da1, bn1_cache)
        _, grads['W1'], grads['b1'] = L.conv_backward_naive(da1, conv1_cache)

        grads['W1'] += self.reg * W1
        grads['W2'] += self.reg * W2
        grads['W3'] += self.reg * W3
        return loss, grads


def sgd_step(model, X, y, learning_rate=0.1):
    """One vanilla SGD step on ``model.params``; returns the loss before it."""
    loss, grads = model.loss(X, y)
    for k in model.params:
        model.params[k] -= learning_rate * grads[k]
    return loss


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

_GLYPHS = {
    0: ['111',
        '101',
        '101',
        '101',
        '111'],
    1: ['010',
        '110',
        '010',
        '010',
        '010'],
    4: ['101',
        '101',
        '111',
        '001',
        '001'],
    7: ['111',
        '001',
        '010',
        '010',
        '010'],
}
_DIGITS = (0, 1, 4, 7)


def make_data(seed=0, num_images=4, num_classes=4, size=8):
    """Digit-like images X (N, 1, size, size) and labels y (N,).

    Each image holds one 5x3 stroke glyph (digit 0, 1, 4 or 7; label =
    position in that list) at intensity 0.5, 0.75 or 1.0, placed so that the
    outer border is always blank; every other pixel is exactly 0.0.
    """
    assert 1 <= num_classes <= len(_DIGITS) and size >= 7
    rng = np.random.RandomState(seed)
    X = np.zeros((num_images, 1, size, size))
    y = np.arange(num_images) % num_classes
    rng.shuffle(y)
    for n in range(num_images):
        glyph = np.array([[float(ch) for ch in row] for row in _GLYPHS[_DIGITS[y[n]]]])
        top = rng.randint(1, size - 1 - 5 + 1)
        left = rng.randint(1, size - 1 - 3 + 1)
        X[n, 0, top:top + 5, left:left + 3] = glyph * rng.choice([0.5, 0.75, 1.0])
    return X, y.astype(np.int64)
