"""Notes: facts about how a model was read or checked that the report states, each once."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Notes"]


class Notes:
    """An ordered set of notes. A note added twice (same ``key``, or same text) is kept once."""

    def __init__(self) -> None:
        self._items: dict[str, str] = {}

    def add(self, text: str, *, key: str | None = None, first: bool = False) -> None:
        key = key or text
        if key in self._items:
            return
        if first:
            self._items = {key: text, **self._items}
        else:
            self._items[key] = text

    def __iter__(self) -> Iterator[str]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, text: object) -> bool:
        return text in self._items.values()
