"""A progress bar for long checks: rich, on stderr, only on a terminal, only once a check runs long."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["ProgressBar"]

#: A bar appears only after a check has run this long (short checks stay silent).
DELAY = 0.3


class ProgressBar:
    """Counts loss evaluations towards an expected total; shows a rich bar with an ETA once ``DELAY``
    seconds have passed, if enabled (by default: when stderr is a terminal)."""

    def __init__(self, total: int, *, enabled: bool | None = None, description: str = "gradient check") -> None:
        self.total = max(int(total), 1)
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.description = description
        self._started = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None
        self._pid = os.getpid()

    def advance(self, n: int = 1) -> None:
        if os.getpid() != self._pid:
            return  # a forked worker: the parent counts its work when the results arrive
        self.done += n
        if not self.enabled:
            return
        if self._bar is None:
            if time.perf_counter() - self._started < DELAY:
                return
            self._open()
        self._bar.update(self._task, completed=min(self.done, self.total))

    def _open(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss evaluations"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
