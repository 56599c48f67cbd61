"""Parameter names → layer names, and the order layers are walked in.

* ``"output.W"`` → ``"output"``, ``"layers[2].W"`` → ``"layers[2]"``: the part before the last dot;
* ``"weights[1]"``, ``"biases[1]"`` → ``"1"``: lists of parameters, one entry per layer, group by index;
* ``"W2"``, ``"b2"``, ``"weights_1_2"`` → ``"2"``: a trailing number groups flat names;
* recurrent names ``Wxh, Whh, bh, Why, by`` or ``Wf, bf, Wi, bi, ...`` → ``"h"``, ``"y"``, ``"f"``, ``"i"``: the
  letter a weight leads *to* — only when every name in the model is of that kind and every such group
  has a weight and a bias;
* one weight and one bias with no other parameter (``W`` and ``b``, ``weight`` and ``bias``: softmax
  regression, a single-layer perceptron) → ``"output"``: the one layer there is;
* anything else is its own layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["is_recurrent", "layer_map", "layer_of", "order_layers"]

_TRAILING_NUMBER = re.compile(r"^(?P<stem>.*?[A-Za-z_])(?P<num>\d+)$")
_LIST_ENTRY = re.compile(r"^(?P<stem>[A-Za-z_]\w*)\[(?P<num>\d+)\]$")
_RECURRENT = re.compile(r"^[WUVb](?P<rest>[a-z]{1,3})$")
_INDEX = re.compile(r"\[(\d+)\]")


def _plain(name: str) -> str | None:
    """The layer by the rules that need no other name (``None`` when none applies)."""
    if "." in name:
        return name.rsplit(".", 1)[0]
    entry = _LIST_ENTRY.match(name)
    if entry:
        return entry.group("num")
    match = _TRAILING_NUMBER.match(name)
    if match:
        return match.group("num")
    return None


_WEIGHT_NAMES = frozenset({"W", "w", "weight", "weights", "kernel", "theta"})
_BIAS_NAMES = frozenset({"b", "bias", "biases"})


def layer_map(names: Iterable[str]) -> dict[str, str]:
    """The layer of every parameter (see the module docstring)."""
    names = list(names)
    plain = {n: _plain(n) for n in names}
    rest = [n for n in names if plain[n] is None]
    if len(rest) == len(names) == 2 and set(rest) & _WEIGHT_NAMES and set(rest) & _BIAS_NAMES:
        return dict.fromkeys(names, "output")
    recurrent = _recurrent(rest)
    return {n: plain[n] or (n[-1] if recurrent else n) for n in names}


def _recurrent(rest: list[str]) -> bool:
    """Whether the names no other rule places are all recurrent ones, each group with a weight and a bias
    ("bias" alone is no recurrent layer "s")."""
    if not rest or not all(_RECURRENT.match(n) for n in rest):
        return False
    groups: dict[str, set[str]] = {}
    for n in rest:
        groups.setdefault(n[-1], set()).add("b" if n[0] == "b" else "W")
    return all(kinds == {"W", "b"} for kinds in groups.values())


def is_recurrent(names: Iterable[str]) -> bool:
    """Whether the names are grouped by the recurrent rule (``Wxh, Whh, bh``; ``Wf, bf``)."""
    return _recurrent([n for n in names if _plain(n) is None])


def layer_of(name: str) -> str:
    """The layer of one parameter name, judged on its own."""
    return layer_map([name])[name]


def _sort_key(layer: str) -> tuple[int, ...]:
    if layer.isdigit():
        return (int(layer),)
    return tuple(int(i) for i in _INDEX.findall(layer))


def order_layers(param_names: Iterable[str]) -> list[str]:
    """Layers from the input to the output.

    Numbered layers (``W2``; ``weights[2]``; ``layers[2].W``) sort by number; otherwise layers keep the
    order their first parameter appears in, which for a ``params`` dict or ``__init__`` attributes is the
    order the author built them.
    """
    seen: dict[str, None] = {}
    for layer in layer_map(param_names).values():
        seen.setdefault(layer, None)
    layers = list(seen)
    keys = [_sort_key(layer) for layer in layers]
    if layers and all(keys) and len({len(k) for k in keys}) == 1:
        layers = [layer for _, layer in sorted(zip(keys, layers), key=lambda pair: pair[0])]
    return layers
