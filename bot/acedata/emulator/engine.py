"""The emulator's state and rules: creating tasks, ending them on time, telling waiters."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .callbacks import CallbackSender
from .design import TaskDesigner
from .ending import IMAGE_FAILURE, VIDEO_FAILURE, TaskEnder
from .faults import FaultBook
from .frames import FrameFetcher
from .persist import StateFile
from .scheduler import Scheduler
from .settings import EmulatorSettings, RecordedRequest
from .signing import MediaSigner
from .tasks import FINAL_STEP, PROGRESS_STEPS, ImageOutput, Task, TaskStore, VideoOutput, present
from .validation import BatchQuery, Submission

log = logging.getLogger(__name__)

#: Put in every waiter's queue when the server shuts down, so held requests and streams end.
CLOSING: dict[str, Any] = {}
_FAILURES = {"imagine": IMAGE_FAILURE, "videos": VIDEO_FAILURE}


class Engine:
    """Tasks, their schedule and their deliveries, independent of HTTP."""

    def __init__(self, settings: EmulatorSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock
        self.store = TaskStore()
        self.faults = FaultBook()
        self.requests: list[RecordedRequest] = []
        self.callbacks = CallbackSender(lambda: self.settings.callback_timeout_s)
        self._ender = TaskEnder(self.store, self.callbacks, clock=clock, shown=self.shown, changed=self._changed)
        self.scheduler = Scheduler(clock, self._ender.on_step)
        self.signer = MediaSigner(lambda: self.settings, clock)
        self.frames = FrameFetcher(lambda: self.settings)
        #: Where the tasks are kept across restarts, once ``open_state`` was called.
        self.state: StateFile | None = None
        #: The sandbox runs' state file as ``recall`` last read it (inode, modification time, size).
        self._replayed: tuple[int, int, int] | None = None
        self._design = TaskDesigner(settings.seed, self.store)

    # -- creating ------------------------------------------------------------------------------

    def create(
        self,
        submission: Submission,
        body: dict[str, Any],
        trace_id: str,
        media_base: str,
        *,
        failure: tuple[str, str] | None = None,
    ) -> Task:
        """Accept a valid submission: the task starts now and ends ``duration`` later (failed with ``failure``)."""
        settings = self.settings
        task_id = str(uuid.uuid4())
        fails = self._design.fails(settings.failure_rate)
        if submission.type == "imagine":
            output: ImageOutput | VideoOutput = self._design.image_output(submission, task_id)
            duration = settings.job_duration_s
        else:
            output = self._design.video_output(submission, task_id)
            duration = settings.video_duration_s
        task = Task(
            id=task_id,
            type=submission.type,
            action=submission.action,
            trace_id=trace_id,
            request=body,
            created_at=self.clock(),
            duration=max(0.0, duration),
            delivery=submission.delivery,
            media_base=media_base,
            output=output,
            planned_error=failure or (_FAILURES[submission.type] if fails else None),
            callback_url=submission.callback_url,
            callback_progress=submission.callback_progress,
        )
        self.store.add(task)
        self._changed()
        if task.delivery == "stream" or task.callback_progress:
            for step in range(PROGRESS_STEPS):
                self.scheduler.push(task.step_time(step), task.id, step)
        if task.delivery != "async":
            self.scheduler.push(task.due_at, task.id, FINAL_STEP)
        log.info("emulator: task %s accepted (%s %s, %s)", task.id, task.type, task.action, task.delivery)
        return task

    # -- reading -------------------------------------------------------------------------------

    def shown(self, task: Task, response: Mapping[str, Any]) -> dict[str, Any]:
        """A result or progress line of ``task`` as sent to a client: links signed now, sizes as the settings say."""
        return present(self.signer.sign_result(response, task.created_at), legacy=self.settings.legacy_fields)

    def record(self, task: Task) -> dict[str, Any]:
        """The task as ``/midjourney/tasks`` returns it, its media links signed now."""
        record = task.record(self.clock(), legacy=self.settings.legacy_fields)
        record["response"] = self.signer.sign_result(record["response"], task.created_at)
        return record

    def observe(self, task: Task) -> Task:
        """Bring a task up to date with the clock: end it if its time has come."""
        return self._ender.observe(task)

    def get(self, task_id: str) -> Task | None:
        task = self.store.get(task_id)
        return None if task is None else self.observe(task)

    def by_trace(self, trace_id: str) -> Task | None:
        task = self.store.by_trace(trace_id)
        return None if task is None else self.observe(task)

    def find_image(self, image_id: str) -> ImageOutput | None:
        """The image behind ``image_id``, if a task issued it (that is, succeeded)."""
        task = self.store.image_owner(image_id)
        if task is None or not self.observe(task).succeeded or not isinstance(task.output, ImageOutput):
            return None
        return task.output

    def find_video(self, video_id: str) -> VideoOutput | None:
        task = self.store.video_owner(video_id)
        if task is None or not self.observe(task).succeeded or not isinstance(task.output, VideoOutput):
            return None
        return task.output

    def batch(self, query: BatchQuery) -> tuple[list[Task], int]:
        """Tasks matching a ``retrieve_batch`` query: one page of them, and how many match in all."""
        matched: list[Task]
        if query.ids is None and query.trace_ids is None:
            matched = self.store.created_between(query.created_at_min, query.created_at_max)
            if query.type:
                matched = [task for task in matched if task.type == query.type]
        else:
            matched = []
            seen: set[str] = set()
            for task_id in query.ids or ():
                task = self.store.get(task_id)
                if task is not None and task.id not in seen:
                    seen.add(task.id)
                    matched.append(task)
            for trace_id in query.trace_ids or ():
                task = self.store.by_trace(trace_id)
                if task is not None and task.id not in seen:
                    seen.add(task.id)
                    matched.append(task)
        page = matched[query.offset : query.offset + query.limit]
        return [self.observe(task) for task in page], len(matched)

    # -- ending --------------------------------------------------------------------------------

    def finish(self, task_id: str, *, success: bool, error: tuple[str, str]) -> None:
        task = self.store.get(task_id)
        if task is None:
            raise KeyError(f"no emulated task {task_id!r}")
        if task.finished_at is None:
            self._ender.complete(task, at=self.clock(), success=success, error=error)

    def subscribe(self, task: Task) -> asyncio.Queue[dict[str, Any]]:
        """A queue that receives the task's progress snapshots and, last, its final result."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        task.watchers.append(queue)
        return queue

    def unsubscribe(self, task: Task, queue: asyncio.Queue[dict[str, Any]]) -> None:
        if queue in task.watchers:
            task.watchers.remove(queue)

    def wake_all_for_shutdown(self) -> None:
        for task in self.store:
            for queue in task.watchers:
                queue.put_nowait(CLOSING)

    async def close(self) -> None:
        self.scheduler.close()
        await self.callbacks.close()
        await self.frames.close()
        if self.state is not None:
            await self.state.close()

    # -- keeping tasks across restarts ---------------------------------------------------------

    async def open_state(self, path: Path) -> None:
        """Take back the tasks saved at ``path`` and, from now on, save every change there."""
        state = StateFile(path, lambda: self.store)
        tasks = await asyncio.to_thread(state.load)
        self.state = state
        ended = self.restore(tasks)
        log.info("emulator: %d tasks restored from %s (%d came due while it was down)", len(tasks), path, ended)

    async def recall(self, task_id: str) -> Task | None:
        """The task, also when it is one of the sandbox runs' (``settings.replay_path``) saved since the last look.

        The file is read again only when it changed, so a stream of requests for unknown ids costs a ``stat`` each,
        and a task saved a moment ago is found at once.
        """
        task = self.get(task_id)
        path = self.settings.replay_path
        if task is not None or not path:
            return task
        try:
            stat = os.stat(path)
        except OSError:
            return None
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if signature == self._replayed:
            return None  # read already as it is now: the task is not there
        self._replayed = signature
        saved = await asyncio.to_thread(StateFile(Path(path), list).load, set_aside=False)
        self.restore(saved_task for saved_task in saved if saved_task.finished_at is not None)
        return self.get(task_id)

    def restore(self, tasks: Iterable[Task]) -> int:
        """Add saved tasks; returns how many of them came due while no emulator ran.

        Those end now as planned, dated at their due time, without a callback: its receiver is
        gone as well, and a restarted client polls what it was waiting for. Tasks still running
        keep their schedule, callbacks included; a held request or a stream did not survive.
        """
        now = self.clock()
        ended = 0
        for task in tasks:
            if self.store.get(task.id) is not None:
                continue
            self.store.add(task)
            if task.finished_at is not None:
                continue
            if now >= task.due_at:
                self._ender.end_as_planned(task, deliver=False)
                ended += 1
            elif task.callback_url:
                if task.callback_progress:
                    for step in range(PROGRESS_STEPS):
                        if task.step_time(step) >= now:
                            self.scheduler.push(task.step_time(step), task.id, step)
                self.scheduler.push(task.due_at, task.id, FINAL_STEP)
        return ended

    def _changed(self) -> None:
        if self.state is not None:
            self.state.touch()
