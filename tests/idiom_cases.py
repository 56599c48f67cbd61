"""Every network in `tests/idioms` — as published, correct and with each seeded bug — and what a correct
report says about it. Shared by `test_idioms.py` and the README's idioms list.

Each case builds the model and its data the way its idiom does, and calls `diagnose` the way a user of
that code would: no glue beyond naming the loss where the code has none. ``expect`` is ``None`` for a
correct network (no error finding, across kit seeds) or ``(layer, codes)``: the first wrong layer and
the finding codes that must be among the errors. ``unseen`` explains a bug the kit cannot see by design:
the report must then be OK (what the code computes is a correct gradient of what the kit can check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from tests.idioms import accumulating as acc
from tests.idioms import (
    cached_forward,
    char_rnn,
    cnn_layers,
    dict_class,
    grokking,
    gru_gates,
    layer_network,
    layer_objects,
    lstm,
    ng_style,
    nielsen,
    nnfs_style,
    online_sgd,
    rnn_seq2one,
    torchlike,
)


@dataclass(frozen=True)
class Case:
    idiom: str
    name: str
    build: Callable[[], tuple[Any, Any, dict[str, Any]]]
    expect: tuple[str, tuple[str, ...]] | None = None
    unseen: str = ""
    #: Words the report's notes must contain (how the kit read the model, e.g. the loss it identified).
    note: str = ""
    seeds: int = 10

    @property
    def id(self) -> str:
        return f"{self.idiom}-{self.name}"


# -- Nielsen: lists of weights, column vectors, per-example backprop, update_mini_batch ----------------
def _nielsen(bug: str | None = None, cost: Any = nielsen.CrossEntropyCost, net2: bool = True, lr: float | None = None,
             zero: bool = False) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        if net2:
            net = nielsen.Network2([4, 5, 5, 3], cost=cost, seed=0, zero_biases=zero, bug=bug)
        else:
            net = nielsen.Network([4, 5, 5, 3], seed=0, zero_biases=zero, bug=bug)
        return net, nielsen.make_data(seed=1, n=10), ({"lr": lr} if lr else {})
    return build


# -- deeplearning.ai: functions, examples as columns ---------------------------------------------------
Builder = Callable[[], tuple[Any, Any, dict[str, Any]]]


def _ng(bug: str | None = None, kind: str = "binary", zero: bool = True) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        import gradcheck_kit as gk

        out = "softmax" if kind == "multiclass" else "sigmoid"
        k = {"binary": 1, "multilabel": 3, "multiclass": 3}[kind]
        params = ng_style.initialize_parameters_deep([6, 5, 5, k], zero_biases=zero)
        cost = ng_style.compute_cost_softmax if kind == "multiclass" else ng_style.compute_cost
        model = gk.wrap(params, forward=partial(ng_style.L_model_forward, output_activation=out), loss=cost,
                        backward=partial(ng_style.L_model_backward, output_activation=out, bug=bug))
        return model, ng_style.make_data(kind=kind), {}
    return build


def _ng_l2(bug: str | None = None) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        import gradcheck_kit as gk

        params = ng_style.initialize_parameters_deep([6, 5, 5, 1], zero_biases=False)
        model = gk.wrap(params, forward=ng_style.forward_propagation,
                        loss=partial(ng_style.compute_cost_with_regularization, lambd=0.7),
                        backward=partial(ng_style.backward_propagation_with_regularization, lambd=0.7, bug=bug))
        return model, ng_style.make_data(), {}
    return build


# -- nnfs: layer objects storing output / dinputs, L2 in the layer's backward -------------------------------
def _nnfs(bug: str | None = None, separate: bool = False, l2: float = 0.0, zero: bool = True
          ) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        layers = nnfs_style.build_layers(separate_softmax=separate, weight_regularizer_l2=l2,
                                         bias_regularizer_l2=l2, zero_biases=zero, bug=bug)
        return list(layers.values()), nnfs_style.make_data(), {}
    return build


# -- TheIndependentCode: a list of layers, backward(grad, lr), column vectors, loss functions ---------------
def _objects(bug: str | None = None, task: str = "tanh_mse") -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        network, loss, loss_prime = layer_objects.build_network(task=task, bug=bug)
        X, Y = layer_objects.make_data(task=task)
        return network, (X, Y), {"loss": (loss, loss_prime)}
    return build


def _sequential(bug: str | None = None, task: str = "softmax_cce", zero: bool = True
                ) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        model = layer_objects.build_sequential(task=task, bug=bug, zero_biases=zero)
        return model, layer_objects.make_batch(task=task), {}
    return build


# -- accumulating caches and gradients, params()/grads() lists ------------------------------------------------
def _accumulating(bug: str | None = None, zero: bool = True) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        return acc.Net(bug=bug, zero_biases=zero), acc.make_data(), {}
    return build


# -- CS231n: a conv net with loss(X, y=None), zero biases, blank images ------------------------------------------
def _cnn(bug: str | None = None, bn: bool = False) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        return cnn_layers.SmallConvNet(seed=0, use_batchnorm=bn, bug=bug), cnn_layers.make_data(seed=0), {}
    return build


# -- recurrent: min-char-rnn's lossFun(inputs, targets, hprev), an LSTM's forward_backward ----------------------
def _rnn(bug: str | None = None) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        rnn = char_rnn.CharRNN(seed=0, bug=bug)
        inputs, targets = char_rnn.make_data(seed=0)
        return rnn, (inputs, targets, np.zeros((rnn.hidden_size, 1))), {}
    return build


def _lstm(bug: str | None = None) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        net = lstm.LSTM(seed=0, bug=bug)
        inputs, targets = lstm.make_data(seed=0)
        h0 = np.zeros((net.n_h, 1))
        return net, (inputs, targets, h0, h0.copy()), {}
    return build


# -- one example at a time: a book's train(inputs_list, targets_list) with self.lr; a loop inside train ------
def _online(bug: str | None = None, looping: bool = False, lr: float | None = None, loss: str | None = None,
            zero: bool = True) -> Callable[[], tuple[Any, Any, dict[str, Any]]]:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        if looping:
            net: Any = online_sgd.LoopNet(3, 4, 2, bug=bug, zero_biases=zero)
        else:
            net = online_sgd.ColumnNet(3, 4, 2, 0.3, bug=bug)
        options: dict[str, Any] = {"lr": lr} if lr else {}
        if loss:
            options["loss"] = loss
        return net, online_sgd.make_data(), options
    return build


# -- torch-like modules in numpy: Parameter(.data, .grad), backward(grad), a criterion with backward() ---------
def _torch(variant: str = "correct", loss_name: str | None = None) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        model, criterion = torchlike.build_variant(variant)
        return model, torchlike.make_data(), {"loss": loss_name or criterion}
    return build


# -- a GRU with per-gate attributes: forward(inputs, targets, h_prev) -> (loss, cache), backward(cache) -----
def _gru(variant: str = "correct", whole_data: bool = False) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        net = gru_gates.VARIANTS[variant](3, 5, 2, seed=0)
        data = gru_gates.make_sequences()
        if whole_data:  # every sequence, each from a zero state (the kit gives h_prev zeros)
            return net, data, {}
        inputs, targets = data[0]
        return net, (inputs, targets, np.zeros((5, 1))), {}
    return build


# -- a Medium tutorial's Network: layers in a list, forward_propagation/backward_propagation, use(mse, mse_prime) ---
def _network(bug: str | None = None, activation: str = "tanh") -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        return layer_network.make_network(bug=bug, seed=0, activation=activation), layer_network.make_data(), {}
    return build


# -- a student's class: forward(X) caches on self, compute_loss(probs, y), backward(y) -> dict, train_step ---
def _cached_forward(cls: Any = cached_forward.StudentNet) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        return cls(), cached_forward.make_data(), {}
    return build


# -- a course class: params dict (activations written into it too), forward_pass(x), backward_pass(y, output) ---
def _dict_class(cls: Any = dict_class.DeepNeuralNetwork) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        net = cls(dict_class.SIZES, epochs=1, l_rate=0.5, seed=0)
        return net, dict_class.make_data(), {}
    return build


# -- Grokking Deep Learning: bare arrays and a train function, named in wrap ------------------------------------
def _grokking(bug: str | None = None) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        import gradcheck_kit as gk

        w01, w12 = grokking.init_weights(4, 4, seed=1)
        model = gk.wrap({"weights_0_1": w01, "weights_1_2": w12}, train=partial(grokking.train, bug=bug))
        return model, grokking.make_streetlights(), {}
    return build


# -- a many-to-one RNN: forward(inputs) -> (y, h), backprop(d_y, learn_rate) updating in place --------------
def _seq2one(bug: str | None = None) -> Builder:
    def build() -> tuple[Any, Any, dict[str, Any]]:
        return rnn_seq2one.RNN(7, 2, bug=bug), rnn_seq2one.make_data(), {"loss": "cross_entropy"}
    return build


KINKS_ONLY = "differs from the correct code only at inputs exactly 0, where no finite difference can judge it"
N_HIDDEN = "the L2 strength lmbda is an argument of update_mini_batch, which the kit can only pass as 0"
BCE_GRADIENT = ("without a loss named, o − t through a sigmoid is exactly the gradient of binary cross-entropy: the "
                "kit identifies that loss (and says so) instead of calling it a bug")
FLUSHED = "only wrong after a second forward without zero_grad(); the kit calls zero_grad() before every pass"

CASES: list[Case] = [
    # Nielsen
    Case("nielsen", "network-correct", _nielsen(net2=False)),
    Case("nielsen", "network-correct-zero-biases", _nielsen(net2=False, zero=True)),
    Case("nielsen", "network-missing-sigmoid-prime", _nielsen("missing_sigmoid_prime", net2=False),
         ("2", ("missing-output-derivative",))),
    Case("nielsen", "network2-correct-ce", _nielsen()),
    Case("nielsen", "network2-correct-quadratic", _nielsen(cost=nielsen.QuadraticCost)),
    Case("nielsen", "network2-correct-with-lr", _nielsen(lr=0.5)),
    Case("nielsen", "network2-sigmoid-prime-twice", _nielsen("sigmoid_prime_twice"),
         ("2", ("doubled-sigmoid-derivative",))),
    Case("nielsen", "network2-quadratic-cost-no-half", _nielsen(cost=nielsen.QuadraticCostNoHalf),
         ("2", ("squared-error-half",))),
    Case("nielsen", "network2-no-batch-average-in-the-step", _nielsen("no_batch_average", lr=0.5),
         ("", ("missing-batch-average",))),
    Case("nielsen", "network2-biases-not-averaged-in-the-step", _nielsen("biases_not_averaged", lr=0.5),
         ("", ("missing-batch-average",))),
    Case("nielsen", "network2-transposed-square-hidden", _nielsen("transposed_square_hidden"),
         ("1", ("transposed-gradient",))),
    Case("nielsen", "network2-l2-missing-in-the-step", _nielsen("l2_missing", lr=0.5), unseen=N_HIDDEN),
    # deeplearning.ai
    Case("ng", "binary-correct", _ng()),
    Case("ng", "binary-correct-random-biases", _ng(zero=False)),
    Case("ng", "multilabel-correct", _ng(kind="multilabel")),
    Case("ng", "softmax-correct", _ng(kind="multiclass")),
    Case("ng", "l2-correct", _ng_l2()),
    Case("ng", "sigmoid-derivative-twice", _ng("sigmoid_derivative_twice"), ("3", ("doubled-sigmoid-derivative",))),
    Case("ng", "multilabel-sigmoid-derivative-twice", _ng("sigmoid_derivative_twice", kind="multilabel"),
         ("3", ("doubled-sigmoid-derivative",))),
    Case("ng", "softmax-derivative-twice", _ng("softmax_derivative_twice", kind="multiclass"),
         ("3", ("doubled-softmax-derivative",))),
    Case("ng", "no-batch-average", _ng("no_batch_average"), ("3", ("missing-batch-average",))),
    Case("ng", "output-bias-not-averaged", _ng("db_output_not_averaged"), ("3", ("missing-batch-average",))),
    Case("ng", "relu-mask-on-dA", _ng("relu_mask_dA"), ("2", ("gradient-mismatch",))),
    Case("ng", "transposed-square-dW", _ng("transposed_square_dW"), ("2", ("transposed-gradient",))),
    Case("ng", "sign-flip-dW1", _ng("sign_flip_dW1"), ("1", ("sign-flipped",))),
    Case("ng", "relu-ge", _ng("relu_ge"), unseen=KINKS_ONLY),
    Case("ng", "l2-forgotten-in-dW2", _ng_l2("l2_forgotten_dW2"), ("2", ("weight-decay-mismatch",))),
    Case("ng", "l2-half-in-the-gradient", _ng_l2("l2_half_in_gradient"), ("3", ("weight-decay-mismatch",))),
    Case("ng", "transposed-dW2-then-l2", _ng_l2("transposed_dW2_then_l2"), ("2", ("transposed-gradient",))),
    # nnfs
    Case("nnfs", "combined-correct", _nnfs()),
    Case("nnfs", "combined-correct-random-biases", _nnfs(zero=False)),
    Case("nnfs", "separate-softmax-correct", _nnfs(separate=True)),
    Case("nnfs", "l2-in-the-layers-correct", _nnfs(l2=5e-3)),
    Case("nnfs", "softmax-derivative-twice", _nnfs("softmax_derivative_twice"),
         ("5:Activation_Softmax_Loss_CategoricalCrossentropy", ("doubled-softmax-derivative",))),
    Case("nnfs", "no-batch-average", _nnfs("no_batch_average"),
         ("5:Activation_Softmax_Loss_CategoricalCrossentropy", ("missing-batch-average",))),
    Case("nnfs", "relu-mask-on-dvalues", _nnfs("relu_mask_dvalues"), ("3:Activation_ReLU", ("backward-mismatch",))),
    Case("nnfs", "l2-missing-in-backward", _nnfs("l2_missing_in_backward", l2=5e-3),
         ("4:Layer_Dense", ("weight-decay-mismatch",))),
    Case("nnfs", "transposed-dweights", _nnfs("transposed_dweights"), ("2:Layer_Dense", ("transposed-gradient",))),
    Case("nnfs", "sign-flip-dbiases", _nnfs("sign_flip_dbiases"), ("0:Layer_Dense", ("sign-flipped",))),
    Case("nnfs", "dbiases-averaged-twice", _nnfs("dbiases_mean"), ("4:Layer_Dense", ("scaled-gradient",))),
    Case("nnfs", "separate-softmax-diagonal-only", _nnfs("softmax_diag_only", separate=True),
         ("5:Activation_Softmax", ("backward-mismatch",))),
    Case("nnfs", "separate-ce-no-batch-average", _nnfs("ce_no_batch_average", separate=True),
         ("6:Loss_CategoricalCrossentropy", ("missing-batch-average",))),
    Case("nnfs", "relu-ge", _nnfs("relu_ge"), unseen=KINKS_ONLY),
    # TheIndependentCode and a Keras-like Sequential
    Case("layer-objects", "tanh-mse-correct", _objects()),
    Case("layer-objects", "sigmoid-bce-correct", _objects(task="sigmoid_bce")),
    Case("layer-objects", "softmax-cce-correct", _objects(task="softmax_cce")),
    Case("layer-objects", "mse-prime-missing-its-2", _objects("mse_prime_half"), ("6:", ("squared-error-half",))),
    Case("layer-objects", "mse-cost-with-a-half", _objects("mse_half_cost"), ("6:", ("squared-error-half",))),
    Case("layer-objects", "bce-prime-simplified", _objects("bce_prime_simplified", task="sigmoid_bce"),
         ("6:", ("doubled-sigmoid-derivative",))),
    Case("layer-objects", "softmax-elementwise", _objects("softmax_elementwise", task="softmax_cce"),
         ("5:", ("backward-mismatch",))),
    Case("layer-objects", "transposed-square-weights", _objects("transposed_square_weights"),
         ("2:", ("transposed-gradient",))),
    Case("layer-objects", "bias-sign-flip", _objects("bias_sign_flip"), ("2:", ("sign-flipped",))),
    Case("sequential", "softmax-correct", _sequential()),
    Case("sequential", "sigmoid-bce-correct", _sequential(task="sigmoid_bce")),
    Case("sequential", "softmax-derivative-twice", _sequential("softmax_derivative_twice"),
         ("layers[4]", ("doubled-softmax-derivative",))),
    Case("sequential", "first-bias-not-averaged", _sequential("bias_not_averaged", zero=False),
         ("layers[0]", ("missing-batch-average",))),
    Case("sequential", "transposed-kernel", _sequential("transposed_kernel_grad"),
         ("layers[2]", ("transposed-gradient",))),
    Case("sequential", "relu-ge", _sequential("relu_ge"), unseen=KINKS_ONLY),
    # accumulating layers
    Case("accumulating", "correct", _accumulating()),
    Case("accumulating", "correct-random-biases", _accumulating(zero=False)),
    Case("accumulating", "softmax-derivative-twice", _accumulating("softmax_derivative_twice"),
         ("layers[4]", ("doubled-softmax-derivative",))),
    Case("accumulating", "no-batch-average", _accumulating("no_batch_average"),
         ("layers[4]", ("missing-batch-average",))),
    Case("accumulating", "last-bias-averaged-twice", _accumulating("bias_grad_mean"),
         ("layers[4]", ("scaled-gradient",))),
    Case("accumulating", "transposed-middle-W", _accumulating("transposed_grad_W"),
         ("layers[2]", ("transposed-gradient",))),
    Case("accumulating", "relu-ge", _accumulating("relu_ge"), unseen=KINKS_ONLY),
    Case("accumulating", "stale-cache", _accumulating("stale_cache"), unseen=FLUSHED),
    # CS231n conv net
    Case("cnn", "correct", _cnn()),
    Case("cnn", "correct-batchnorm", _cnn(bn=True)),
    Case("cnn", "max-pool-ties", _cnn("maxpool_ties", bn=True), ("1", ("gradient-mismatch",))),
    Case("cnn", "conv-dw-flipped", _cnn("conv_dw_flipped"), ("2", ("gradient-mismatch",))),
    Case("cnn", "batchnorm-no-mean", _cnn("bn_no_mean", bn=True), ("1", ("gradient-mismatch",))),
    Case("cnn", "softmax-loss-not-divided-by-N", _cnn("softmax_no_divN"), ("3", ("missing-batch-average",))),
    Case("cnn", "conv-dx-empty-with-pad-0", _cnn("conv_dx_shape"), ("1", ("zero-gradient",))),
    Case("cnn", "relu-ge", _cnn("relu_ge"), unseen=KINKS_ONLY),
    # one example at a time
    Case("online", "column-net-correct", _online(), note="half squared error"),
    Case("online", "column-net-correct-with-lr", _online(lr=0.3)),
    Case("online", "column-net-correct-loss-named", _online(loss="quadratic")),
    Case("online", "column-net-no-output-derivative", _online("no_output_derivative", loss="quadratic"),
         ("who", ("missing-output-derivative",))),
    Case("online", "column-net-hidden-derivative-of-outputs", _online("hidden_derivative_of_outputs"),
         ("wih", ("gradient-mismatch",))),
    Case("online", "column-net-no-output-derivative-unnamed", _online("no_output_derivative"), unseen=BCE_GRADIENT,
         note="binary cross-entropy"),
    Case("online", "loop-correct", _online(looping=True), note="loops over the examples"),
    Case("online", "loop-correct-random-biases-with-lr", _online(looping=True, zero=False, lr=0.5)),
    Case("online", "loop-no-output-derivative", _online("no_output_derivative", looping=True),
         ("2", ("missing-output-derivative",))),
    Case("online", "loop-hidden-derivative-of-outputs", _online("hidden_derivative_of_outputs", looping=True),
         ("1", ("gradient-mismatch",))),
    # a tutorial's Network of layer objects
    Case("layer-network", "correct", _network(), note="read through its layers"),
    Case("layer-network", "correct-sigmoid", _network(activation="sigmoid")),
    Case("layer-network", "mse-prime-without-its-mean", _network("mse_prime_no_mean"), ("6:mse",
         ("backward-mismatch",))),
    Case("layer-network", "derivative-of-the-output", _network("prime_of_output", activation="sigmoid"),
         ("5:", ("backward-mismatch",))),
    Case("layer-network", "transposed-middle-weights", _network("transposed_middle"), ("2:", ("transposed-gradient",))),
    Case("layer-network", "first-bias-sign", _network("bias_sign_first"), ("0:", ("sign-flipped",))),
    # a student's class whose backward(y) reads what forward(X) cached, with compute_loss(probs, y)
    Case("cached-forward", "correct", _cached_forward(),
         note="backward(y) after forward(X), loss compute_loss(forward(X), y)"),
    Case("cached-forward", "relu-derivative-missing", _cached_forward(cached_forward.ReluDerivativeMissing),
         ("1", ("gradient-mismatch",))),
    Case("cached-forward", "softmax-derivative-again", _cached_forward(cached_forward.SoftmaxDerivativeAgain),
         ("2", ("doubled-softmax-derivative",))),
    # a course class with a params dict and per-example passes
    Case("dict-class", "correct", _dict_class(), note="backward_pass(y, forward_pass(x))"),
    Case("dict-class", "softmax-derivative-again", _dict_class(dict_class.SoftmaxDerivativeAgain),
         ("3", ("doubled-softmax-derivative",))),
    Case("dict-class", "transposed-W2", _dict_class(dict_class.TransposedW2), ("2", ("transposed-gradient",))),
    Case("dict-class", "sigmoid-derivative-at-A1", _dict_class(dict_class.SigmoidPrimeAtA1), ("1",
         ("gradient-mismatch",))),
    # Grokking Deep Learning
    Case("grokking", "correct", _grokking(), note="train(...) returns"),
    Case("grokking", "no-batch-average", _grokking("no_batch_average"), ("2", ("missing-batch-average",))),
    Case("grokking", "relu-mask-always-true", _grokking("relu_mask"), ("1", ("gradient-mismatch",))),
    Case("grokking", "transposed-0-1", _grokking("transposed_0_1"), ("1", ("transposed-gradient",))),
    Case("grokking", "sign-1-2", _grokking("sign_1_2"), ("2", ("sign-flipped",))),
    # torch-like modules
    Case("torchlike", "correct", _torch(), note="CrossEntropyLoss"),
    Case("torchlike", "correct-loss-named", _torch(loss_name="cross_entropy")),
    Case("torchlike", "criterion-without-batch-mean", _torch("loss_no_batch_mean"), ("fc3",
         ("missing-batch-average",))),
    Case("torchlike", "transposed-hidden-weight", _torch("transposed_hidden_weight_grad"),
         ("fc2", ("transposed-gradient",))),
    Case("torchlike", "shared-relu", _torch("shared_relu"), ("fc1", ("gradient-mismatch",))),
    Case("torchlike", "output-bias-sign", _torch("neg_bias_grad"), ("fc3", ("sign-flipped",))),
    # recurrent
    Case("char-rnn", "correct", _rnn()),
    Case("char-rnn", "no-dhnext", _rnn("no_dhnext"), ("h", ("truncated-backprop-through-time",))),
    Case("char-rnn", "last-3-steps-only", _rnn("last_k_steps"), ("", ("truncated-backprop-through-time",))),
    Case("char-rnn", "dhnext-through-Whh-not-its-transpose", _rnn("dhnext_transposed"),
         ("", ("truncated-backprop-through-time",))),
    Case("char-rnn", "tanh-derivative-of-the-preactivation", _rnn("tanh_preact"), ("h", ("gradient-mismatch",))),
    Case("char-rnn", "dby-skips-a-step", _rnn("dby_skip_step"), ("y", ("gradient-mismatch",))),
    Case("gru", "correct", _gru()),
    Case("gru", "correct-every-sequence", _gru(whole_data=True), note="h_prev=zeros(5, 1)"),
    Case("gru", "no-bptt", _gru("no_bptt"), ("", ("truncated-backprop-through-time",))),
    Case("gru", "no-bptt-every-sequence", _gru("no_bptt", whole_data=True), ("", ("gradient-mismatch",))),
    Case("gru", "Uh-transposed", _gru("uh_transposed"), ("h", ("transposed-gradient",))),
    Case("gru", "update-gate-sign", _gru("update_gate_sign"), ("z", ("gradient-mismatch",))),
    Case("gru", "reset-gate-tanh-derivative", _gru("reset_gate_tanh_deriv"), ("r", ("gradient-mismatch",))),
    Case("rnn-seq2one", "correct", _seq2one(), note="backprop(∂loss/∂forward(x), lr)"),
    Case("rnn-seq2one", "bptt-one-step", _seq2one("bptt_one_step"), ("h", ("gradient-mismatch",))),
    Case("rnn-seq2one", "dWhh-sign", _seq2one("dWhh_sign"), ("h", ("sign-flipped",))),
    Case("lstm", "correct", _lstm()),
    Case("lstm", "forget-gate-sigmoid-derivative-dropped", _lstm("forget_no_sigmoid"), ("f", ("gradient-mismatch",))),
    Case("lstm", "output-gate-missing-tanh-c", _lstm("output_no_tanh_c"), ("o", ("gradient-mismatch",))),
    Case("lstm", "cell-gradient-not-carried", _lstm("no_dc_carry"), ("", ("truncated-backprop-through-time",))),
]
