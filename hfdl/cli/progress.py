"""Progress bars for an interactive terminal (rich), one bar per model being downloaded."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from hfdl.services.run_events import LogObserver, ModelOutcome, RunResult


class ProgressObserver(LogObserver):
    """Shows live bars on stderr; messages still go through logging, above the bars."""

    def __init__(self) -> None:
        super().__init__()
        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def run_started(self, session_id: int | None, models: list[str]) -> None:
        """Start the live display."""
        super().run_started(session_id, models)
        self._progress.start()

    def model_started(self, name: str, bytes_total: int, bytes_done: int, files: int) -> None:
        """Add a bar for the model."""
        with self._lock:
            self._tasks[name] = self._progress.add_task(
                name, total=bytes_total, completed=bytes_done
            )

    def model_progress(self, name: str, bytes_done: int, bytes_total: int) -> None:
        """Move the model's bar."""
        task = self._tasks.get(name)
        if task is not None:
            self._progress.update(task, completed=bytes_done, total=bytes_total)

    def model_finished(self, outcome: ModelOutcome) -> None:
        """Print the outcome above the bars and drop the model's bar."""
        with self._lock:
            task = self._tasks.pop(outcome.name, None)
        if task is not None:
            self._progress.remove_task(task)
        super().model_finished(outcome)

    def run_finished(self, result: RunResult) -> None:
        """Stop the live display and print the summary."""
        self._progress.stop()
        super().run_finished(result)
