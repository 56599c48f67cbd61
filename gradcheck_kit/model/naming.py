"""Parameter names → layer names, and the order layers are walked in."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["layer_of", "order_layers"]

_TRAILING_NUMBER = re.compile(r"^(?P<stem>.*?[A-Za-z_])(?P<num>\d+)$")


def layer_of(name: str) -> str:
    """Return the layer a parameter belongs to.

    ``"output.W"`` → ``"output"`` (the part before the last dot); ``"W2"``/``"b2"`` → ``"2"`` (a trailing
    number groups flat names); anything else is its own layer.
    """
    if "." in name:
        return name.rsplit(".", 1)[0]
    match = _TRAILING_NUMBER.match(name)
    if match:
        return match.group("num")
    return name


def order_layers(param_names: Iterable[str]) -> list[str]:
    """Layers from the input to the output.

    Numbered layers sort by number; otherwise layers keep the order their first parameter appears in,
    which for a ``params`` dict or ``__init__`` attributes is the order the author built them.
    """
    seen: dict[str, None] = {}
    for name in param_names:
        seen.setdefault(layer_of(name), None)
    layers = list(seen)
    if layers and all(layer.isdigit() for layer in layers):
        layers.sort(key=int)
    return layers
