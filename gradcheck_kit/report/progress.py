"""A progress bar for long checks: rich, only once a check runs long; on stderr on a terminal, or as one
cell output updated in place in a Jupyter notebook."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from types import TracebackType
from typing import Any

__all__ = ["ProgressBar", "in_notebook"]

#: A bar appears only after a phase has run this long (short checks stay silent).
DELAY = 0.3
#: In a notebook, the cell output is redrawn this often (seconds).
NOTEBOOK_REFRESH = 0.5


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell, Colab's included): stderr is no terminal there,
    but a bar can be drawn as a cell output."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has always imported it already
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too broken to ask: no notebook bar
        return False
    return shell is not None and any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__)


def _columns(unit: str) -> tuple[Any, ...]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn(unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())


class _CellBar:
    """The bar as one notebook cell output, redrawn in place through an IPython display handle.

    rich's own live display in Jupyter needs ipywidgets (and a frontend with the widget manager); without
    them it warns and shows nothing. A display handle needs neither, and never leaves a stream of stale
    lines: each redraw replaces the output, and closing empties it (transient, like the terminal bar).
    """

    def __init__(self, description: str, unit: str, total: int, completed: int) -> None:
        from IPython.display import display
        from rich.console import Console
        from rich.progress import Progress

        self._console = Console(file=io.StringIO(), record=True, width=100, color_system="truecolor",
                                force_terminal=True, force_jupyter=False, legacy_windows=False)
        self._progress = Progress(*_columns(unit), console=self._console, auto_refresh=False)
        self._task = self._progress.add_task(description, total=total, completed=completed)
        self._handle = display(self._bundle(), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="gradcheck_kit notebook progress", daemon=True)
        self._thread.start()

    def _bundle(self) -> dict[str, str]:
        from .html import FRAME

        self._console.print(self._progress.get_renderable())
        text = self._console.export_text(clear=False)
        return {"text/plain": text,
                "text/html": self._console.export_html(inline_styles=True, code_format=FRAME, clear=True)}

    def _refresh(self) -> None:
        while not self._stop.wait(NOTEBOOK_REFRESH):
            self._draw()

    def _draw(self) -> None:
        try:
            self._handle.update(self._bundle(), raw=True)
        except Exception:  # a kernel shutting down: the bar is a courtesy, never a reason to fail the check
            self._stop.set()

    def update(self, task: Any, *, completed: int) -> None:
        self._progress.update(self._task, completed=completed)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        with contextlib.suppress(Exception):  # as in _draw: a closing kernel must not fail the check
            self._handle.update({"text/plain": ""}, raw=True)


class ProgressBar:
    """Counts work towards an expected total; shows a rich bar with an ETA once ``DELAY`` seconds have
    passed — from a timer, so it also appears while one long step is still running — if enabled (by
    default: when stderr is a terminal, or in a Jupyter notebook)."""

    def __init__(self, total: int, *, enabled: bool | None = None, description: str = "gradient check",
                 unit: str = "loss evaluations") -> None:
        self.total = max(int(total), 1)
        self.done = 0
        self.notebook = in_notebook()
        self.enabled = (sys.stderr.isatty() or self.notebook) if enabled is None else enabled
        self.description = description
        self.unit = unit
        self._bar: Any = None
        self._task: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False
        self._timer: threading.Timer | None = None

    def advance(self, n: int = 1) -> None:
        if os.getpid() != self._pid:
            return  # a forked worker: the parent counts its work when the results arrive
        self.done += n
        if self._bar is not None:
            with self._lock:
                if self._bar is not None:
                    self._bar.update(self._task, completed=min(self.done, self.total))

    def _open(self) -> None:
        with self._lock:
            if self._closed or self._bar is not None:
                return
            if self.notebook:
                self._bar = _CellBar(self.description, self.unit, self.total, min(self.done, self.total))
                return
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(*_columns(self.unit), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, completed=min(self.done, self.total))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._bar is not None:
                self._bar.stop()
                self._bar = None

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self._timer = threading.Timer(DELAY, self._open)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
