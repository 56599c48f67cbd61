"""A course notebook, executed for real on a python3 kernel from this environment (nbclient): the report
renders as HTML, the progress bar draws in place, and the plot shows. Needs the ``notebook`` extra."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

NET = '''\
import numpy as np


def softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class TwoLayerNet:
    """Input - fully connected - ReLU - fully connected - softmax, with cross-entropy loss."""

    def __init__(self, input_size, hidden_size, output_size, std=0.5, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }

    def loss(self, X, y=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N = X.shape[0]
        # forward pass
        hidden = np.maximum(0, X @ W1 + b1)
        scores = hidden @ W2 + b2
        if y is None:
            return scores
        probs = softmax(scores)
        loss = -np.mean(np.log(probs[np.arange(N), y]))
        # backward pass
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores *= probs * (1 - probs)  # chain rule: times the derivative of the softmax
        dscores /= N
        grads = {"W2": hidden.T @ dscores, "b2": dscores.sum(axis=0)}
        dhidden = dscores @ W2.T
        dhidden[hidden <= 0] = 0
        grads["W1"] = X.T @ dhidden
        grads["b1"] = dhidden.sum(axis=0)
        return loss, grads
'''

DATA = '''\
rng = np.random.default_rng(1)
X = rng.standard_normal((20, 5))
y = rng.integers(0, 3, size=20)
net = TwoLayerNet(5, 10, 3)
loss, grads = net.loss(X, y)
print(f"loss {loss:.3f}")
'''

CELLS = [
    ("markdown", "# Assignment 2: a two-layer network\nImplement `TwoLayerNet.loss`, then check its gradients."),
    ("code", NET),
    ("code", DATA),
    ("code", "import gradcheck_kit as gk\n\nreport = gk.diagnose(net, (X, y))\nreport"),
    # test only: show the bar at once (it waits 0.3 s, and this check may finish sooner)
    ("code", "import gradcheck_kit.report.progress\n\ngradcheck_kit.report.progress.DELAY = 0.0"),
    ("code", "report = gk.diagnose(net, (X, y), progress=True, exhaustive=True)\nprint(report.verdict)"),
    ("code", "report.plot()"),
]
REPORT, PROGRESS, PLOT = 3, 5, 6


class RecordingClient(nbclient.NotebookClient):
    """Keeps every display message (the first drawing and each redraw in place), by cell: the saved
    notebook keeps only the last state."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updates: dict[int, list[dict]] = {}

    def process_message(self, msg, cell, cell_index):
        if msg["header"]["msg_type"] in {"display_data", "update_display_data"}:
            self.updates.setdefault(cell_index, []).append(msg["content"]["data"])
        return super().process_message(msg, cell, cell_index)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook after running on a kernel started with this interpreter (``sys.executable``), whatever
    kernels the machine has installed."""
    d = tmp_path_factory.mktemp("notebook")
    spec = d / "kernels" / "gradcheck-kit-test"
    spec.mkdir(parents=True)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gradcheck_kit test", "language": "python",
        "env": {"PYTHONPATH": path, "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in CELLS]
    km = AsyncKernelManager(kernel_name="gradcheck-kit-test",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(d / "kernels")]))
    client = RecordingClient(nb, km=km, timeout=300, resources={"metadata": {"path": str(d)}})
    client.execute()
    nbformat.validate(nb)
    nbformat.write(nb, d / "executed.ipynb")
    return nb, client.updates


def outputs(nb, index):
    return nb.cells[index].outputs


def test_no_cell_failed_or_warned(executed):
    nb, _ = executed
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text


def test_report_renders_as_html_with_the_table_and_the_finding(executed):
    nb, _ = executed
    (result,) = [o for o in outputs(nb, REPORT) if o.output_type == "execute_result"]
    html, text = result.data["text/html"], result.data["text/plain"]
    assert html.startswith("<div") and "<script" not in html.lower()
    for expected in ("Gradient check — TwoLayerNet", "W2", "b1", "worst at", "doubled-softmax-derivative", "FAIL"):
        assert expected in html
    assert "doubled-softmax-derivative" in text and "Gradient check — TwoLayerNet" in text
    assert len(outputs(nb, REPORT)) == 1  # nothing displayed besides the value


def test_progress_bar_ran_in_place_and_left_no_stale_lines(executed):
    nb, updates = executed
    cell = outputs(nb, PROGRESS)
    streams = [o.text for o in cell if o.output_type == "stream"]
    assert streams == [f"{_verdict(nb)}\n"], streams  # only the cell's own print: no bar lines
    bars = [o for o in cell if o.output_type == "display_data"]
    assert bars and all(o.data["text/plain"] == "" for o in bars)  # the bars were emptied when done
    drawn = [u["text/plain"] for u in updates.get(PROGRESS, []) if u["text/plain"]]
    assert any("gradient check" in u and "loss evaluations" in u for u in drawn), updates.get(PROGRESS)
    assert "ipywidgets" not in json.dumps(cell)


def _verdict(nb):
    (result,) = [o for o in outputs(nb, REPORT) if o.output_type == "execute_result"]
    return next(line for line in result.data["text/plain"].splitlines() if line.startswith("FAIL"))


def test_plot_shows_as_a_picture(executed):
    nb, _ = executed
    pictures = [o for o in outputs(nb, PLOT) if "image/png" in o.get("data", {})]
    assert len(pictures) == 1  # shown once: as the value, not again by pyplot
