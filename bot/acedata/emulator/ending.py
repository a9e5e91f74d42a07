"""How an emulated task ends: on time by the clock, or at once when told, and who is told of it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .callbacks import CallbackSender
from .tasks import FINAL_STEP, PROGRESS_STEPS, Task, TaskStore

#: The emulator engine's logger, so these records keep their logger name.
log = logging.getLogger(f"{__package__}.engine")

IMAGE_FAILURE = ("failed", "The job failed to render, please retry")
VIDEO_FAILURE = ("failed", "The video failed to render, please retry")

#: A result or progress line of a task as a client is sent it.
Shown = Callable[[Task, Mapping[str, Any]], dict[str, Any]]


class TaskEnder:
    """Owns the end of tasks: each ends once, and its watchers (streams, held requests) and callback hear of it."""

    def __init__(
        self,
        store: TaskStore,
        callbacks: CallbackSender,
        *,
        clock: Callable[[], float],
        shown: Shown,
        changed: Callable[[], None],
    ) -> None:
        self._store = store
        self._callbacks = callbacks
        self._clock = clock
        self._shown = shown
        self._changed = changed

    def observe(self, task: Task) -> Task:
        """Bring a task up to date with the clock: end it if its time has come."""
        if task.finished_at is None and self._clock() >= task.due_at:
            self.end_as_planned(task)
        return task

    def on_step(self, task_id: str, step: int) -> None:
        """The scheduler's call: a progress step of a task came, or its end (``FINAL_STEP``)."""
        task = self._store.get(task_id)
        if task is None or task.finished_at is not None:
            return
        if step >= FINAL_STEP:
            self.observe(task)
            return
        snapshot = task.snapshot(100 * step // PROGRESS_STEPS)
        for queue in task.watchers:
            queue.put_nowait(snapshot)
        if task.callback_progress:
            self._callbacks.send(task, self._shown(task, {**snapshot, "trace_id": task.trace_id}))

    def end_as_planned(self, task: Task, *, deliver: bool = True) -> None:
        """End the task at its due time, as it was planned to end (succeeded, or failed with its planned error)."""
        error = task.planned_error or IMAGE_FAILURE
        self.complete(task, at=task.due_at, success=task.planned_error is None, error=error, deliver=deliver)

    def complete(self, task: Task, *, at: float, success: bool, error: tuple[str, str], deliver: bool = True) -> None:
        """End the task at ``at``; with ``deliver``, its watchers and its callback URL are sent the result."""
        task.finished_at = max(at, task.created_at)
        task.response = task.final_response(success, error)
        log.info("emulator: task %s %s", task.id, "succeeded" if success else "failed")
        self._changed()
        if not deliver:
            return
        final = {**task.response, "trace_id": task.trace_id}
        for queue in task.watchers:
            queue.put_nowait(final)
        if task.callback_url:
            try:
                self._callbacks.send(task, self._shown(task, final))
            except RuntimeError:  # no running event loop: nobody could receive it anyway
                log.warning("emulator: task %s ended outside the event loop; callback not sent", task.id)
