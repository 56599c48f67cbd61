"""Every finding code, in one table: its default severity and a one-line summary.

Codes are stable public API (``select=``/``skip=``, reports, JSON). A check declares which of these it
emits when it registers; several checks may emit one code (whole-model and layer-by-layer).
"""

from __future__ import annotations

from .findings import CodeInfo

__all__ = [
    "BACKWARD_MISMATCH",
    "DEAD",
    "DOUBLED_SIGMOID",
    "DOUBLED_SOFTMAX",
    "EXPLODING_LR",
    "GRADIENT_MISMATCH",
    "INCONCLUSIVE",
    "INITIAL_LOSS",
    "LABEL_COLLAPSE",
    "MAX_POOL_TIES",
    "MISSING_BATCH_AVERAGE",
    "MISSING_OUTPUT_DERIVATIVE",
    "MUTATES_INPUT",
    "MUTATES_PARAMS",
    "NONDETERMINISTIC",
    "NON_FINITE",
    "RETIRED",
    "SATURATED",
    "SCALED",
    "SIGN_FLIPPED",
    "SQUARED_ERROR_HALF",
    "STATEFUL_BACKWARD",
    "STEP_MISMATCH",
    "SUMMED_LOSS",
    "TRANSPOSED",
    "TRUNCATED_BPTT",
    "UNNORMALIZED",
    "WEIGHT_DECAY",
    "ZERO",
]

# gradients
GRADIENT_MISMATCH = CodeInfo("gradient-mismatch", "error", "analytic gradient disagrees with central differences")
NON_FINITE = CodeInfo("non-finite", "error", "the loss or the analytic gradient is NaN or infinite")
INCONCLUSIVE = CodeInfo("gradient-inconclusive", "warning", "no checked entry of a tensor could be judged")
NONDETERMINISTIC = CodeInfo("nondeterministic-forward", "error",
                            "the loss differs between two evaluations at the same parameters")
BACKWARD_MISMATCH = CodeInfo("backward-mismatch", "error",
                             "a layer's own backward disagrees with finite differences, checked in isolation")
# named causes
MAX_POOL_TIES = CodeInfo("max-pool-ties", "error",
                         "a pooling backward gives the gradient of a window to every tied maximum, not to one")
DOUBLED_SOFTMAX = CodeInfo("doubled-softmax-derivative", "error",
                           "the output delta is (o − t) multiplied by the softmax derivative again")
MISSING_BATCH_AVERAGE = CodeInfo("missing-batch-average", "error",
                                 "the loss is a batch mean but the gradient is a batch sum")
SUMMED_LOSS = CodeInfo("summed-loss", "warning",
                       "the loss is a sum over the batch, so the right learning rate depends on batch size")
SIGN_FLIPPED = CodeInfo("sign-flipped", "error", "the analytic gradient is minus the true gradient")
SCALED = CodeInfo("scaled-gradient", "error", "the analytic gradient is the true gradient times a constant")
TRANSPOSED = CodeInfo("transposed-gradient", "error", "the analytic gradient is the transpose of the true gradient")
ZERO = CodeInfo("zero-gradient", "error", "the analytic gradient is exactly zero where the true gradient is not")
WEIGHT_DECAY = CodeInfo("weight-decay-mismatch", "error",
                        "gradient and loss disagree by a weight-decay term c·W (in one but not the other)")
# side effects
MUTATES_INPUT = CodeInfo("mutates-input", "error", "the model writes into the X or y it is given")
MUTATES_PARAMS = CodeInfo("mutates-parameters", "error", "computing the loss or the forward pass changes the weights")
STATEFUL_BACKWARD = CodeInfo("stateful-backward", "error",
                             "backward(X, y) uses state from the previous forward call instead of the X it is given")
# training dynamics
EXPLODING_LR = CodeInfo("exploding-learning-rate", "error",
                        "full-batch steps at the given lr raise the loss while a smaller step lowers it")
LABEL_COLLAPSE = CodeInfo("label-collapse", "error",
                          "after each per-example step the network predicts the label it was just trained on")
# health of the model and data
DEAD = CodeInfo("dead-units", "warning", "ReLU units that output zero for every example of the batch")
SATURATED = CodeInfo("saturated-units", "warning", "sigmoid/tanh units stuck in their flat tails")
UNNORMALIZED = CodeInfo("unnormalized-input", "warning", "inputs on a large scale (e.g. raw 0–255 pixels)")
INITIAL_LOSS = CodeInfo(
    "initial-loss-off", "warning", "the loss is far above log K, what an untrained classifier gives"
)
DOUBLED_SIGMOID = CodeInfo("doubled-sigmoid-derivative", "error",
                           "the output delta is (o − t) multiplied by the sigmoid derivative o·(1 − o) again")
MISSING_OUTPUT_DERIVATIVE = CodeInfo("missing-output-derivative", "error",
                                     "the output delta lacks the output activation's derivative (squared error "
                                     "through a sigmoid or tanh)")
SQUARED_ERROR_HALF = CodeInfo("squared-error-half", "error",
                              "loss and gradient disagree about the ½ of squared error (the gradient is 2× or ½× the "
                              "loss's)")
STEP_MISMATCH = CodeInfo("training-step-mismatch", "error",
                         "the training step does not move the weights by −lr × the gradient")
TRUNCATED_BPTT = CodeInfo("truncated-backprop-through-time", "error",
                          "the gradient is right for short sequences only: the recurrent gradient is not carried "
                          "back through every time step")

#: Codes no check emits any more → what took their place. ``select=``/``skip=`` still accept them, so code
#: written for an earlier version keeps working.
RETIRED = {
    "lr-checks-skipped": "a note in report.notes (skip='lr-checks-skipped' still silences it)",
}
