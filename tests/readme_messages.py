"""Prints the README's example messages: one finding of each kind, from a test model with that defect.

Run as ``python -m tests.readme_messages`` from the repository's root; `tests/test_readme.py` compares
the README's block with this printout, so the examples there are what the kit says today.
"""

from __future__ import annotations

import textwrap

import gradcheck_kit as gk
from tests import models

X, y = models.data(B=32)


class CachesHidden(models.MLP):
    """Keeps its first hidden layer's activations, as most hand-written networks do (``self.hidden``)."""

    def forward(self, X):
        acts, _ = self._forward(X)
        self.hidden = acts[1]
        return acts[-1]


class ReLUNet(CachesHidden):
    """A ReLU network whose first hidden layer mostly died: large negative biases."""

    def __init__(self):
        super().__init__(activation="relu")
        self.params["b1"][:6] = -50.0  # 6 of its 8 units


class SaturatedSigmoidNet(CachesHidden):
    """Sigmoid hidden units pushed into their tails by weights far too large for the inputs."""

    def __init__(self):
        super().__init__(activation="sigmoid")
        self.params["W1"] = self.params["W1"] * 40


EXAMPLES = [
    ("gradient-mismatch", models.ActivationDerivativeMissingInLayer2(), (X, y), {}),
    ("doubled-softmax-derivative", models.SoftmaxDerivativeAppliedTwice(), (X, y), {}),
    ("missing-batch-average", models.GradientSummedNotAveraged(), (X, y), {}),
    ("sign-flipped", models.GradientSignFlippedInOutputLayer(), (X, y), {}),
    ("transposed-gradient", models.WeightGradientTransposedInLayer2(), (X, y), {}),
    ("zero-gradient", models.BiasGradientNeverComputed(), (X, y), {}),
    ("exploding-learning-rate", models.MLP(), models.clusters(), {"lr": 50.0}),
    ("dead-units", ReLUNet(), (X, y), {}),
    ("saturated-units", SaturatedSigmoidNet(), (X, y), {}),
    ("unnormalized-input", models.MLP(), (X * 40 + 60, y), {}),
]


def main() -> None:
    for code, model, batch, options in EXAMPLES:
        finding = gk.diagnose(model, batch, seed=0, **options).finding(code)
        text = f"{code} ({finding.severity}, layer {finding.layer}): {finding.message} Fix: {finding.fix}" \
            if finding is not None else f"{code}: not found"
        print("\n".join(textwrap.wrap(text, width=100, subsequent_indent="  ")))


if __name__ == "__main__":
    main()
