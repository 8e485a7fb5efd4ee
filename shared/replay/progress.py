"""Progress of a replay: a rich bar on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class ReplayProgress(Protocol):
    def begin(self, label: str, total: int) -> None: ...
    def grow(self, more: int) -> None: ...
    def advance(self, done: int) -> None: ...
    def phase(self, text: str) -> None: ...
    def end(self) -> None: ...


class Silent:
    """For callers that report on their own (tests, the benchmark)."""

    def begin(self, label: str, total: int) -> None:
        pass

    def grow(self, more: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def phase(self, text: str) -> None:
        pass

    def end(self) -> None:
        pass


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:,.0f} events/s" if speed else "- events/s", style="progress.data.speed"
        )


class Bar:
    """The rich bar: events done of the events the topics held when each read began."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID | None = None
        self._label = ""

    def begin(self, label: str, total: int) -> None:
        self._label = label
        self._progress.start()
        self._task = self._progress.add_task(f"{label}: reading", total=total)

    def grow(self, more: int) -> None:
        if self._task is not None and more:
            total = self._progress.tasks[self._task].total or 0
            self._progress.update(self._task, total=total + more)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, done)

    def phase(self, text: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=f"{self._label}: {text}")

    def end(self) -> None:
        self._progress.stop()


class Lines:
    """Not a terminal (a log, CI): a plain line at most every `every_s` seconds."""

    def __init__(self, console: Console, every_s: float = 5.0) -> None:
        self._console = console
        self._every_s = every_s
        self._label = ""
        self._total = self._done = 0
        self._started = self._last = 0.0

    def begin(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        self._started = self._last = time.monotonic()
        self._console.print(f"{label}: {total:,} events to read")

    def grow(self, more: int) -> None:
        self._total += more

    def advance(self, done: int) -> None:
        self._done += done
        now = time.monotonic()
        if now - self._last >= self._every_s:
            self._last = now
            rate = self._done / max(now - self._started, 1e-9)
            self._console.print(
                f"{self._label}: {self._done:,}/{self._total:,} events, {rate:,.0f} events/s"
            )

    def phase(self, text: str) -> None:
        self._console.print(f"{self._label}: {text}")

    def end(self) -> None:
        pass


def for_console(console: Console) -> ReplayProgress:
    return Bar(console) if console.is_terminal else Lines(console)
