"""A progress bar for long checks: rich, on stderr, only on a terminal, only once a check runs long."""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType
from typing import Any

__all__ = ["ProgressBar"]

#: A bar appears only after a phase has run this long (short checks stay silent).
DELAY = 0.3


class ProgressBar:
    """Counts work towards an expected total; shows a rich bar with an ETA once ``DELAY`` seconds have
    passed — from a timer, so it also appears while one long step is still running — if enabled (by
    default: when stderr is a terminal)."""

    def __init__(self, total: int, *, enabled: bool | None = None, description: str = "gradient check",
                 unit: str = "loss evaluations") -> None:
        self.total = max(int(total), 1)
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
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
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn(self.unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
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
