"""The emulator's state and rules: creating tasks, ending them on time, telling waiters."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS

from .callbacks import CallbackSender
from .faults import FaultBook
from .frames import FrameFetcher
from .media import IMAGE_SIDE, RAW_SIDE, aspect_size, blend, palette
from .persist import StateFile
from .scheduler import Scheduler
from .settings import EmulatorSettings, RecordedRequest
from .signing import MediaSigner
from .tasks import FINAL_STEP, PROGRESS_STEPS, ImageOutput, Task, TaskStore, VideoOutput, present
from .validation import BatchQuery, Submission

log = logging.getLogger(__name__)

#: Put in every waiter's queue when the server shuts down, so held requests and streams end.
CLOSING: dict[str, Any] = {}
IMAGE_FAILURE = ("failed", "The job failed to render, please retry")
VIDEO_FAILURE = ("failed", "The video failed to render, please retry")
_FAILURES = {"imagine": IMAGE_FAILURE, "videos": VIDEO_FAILURE}
_FINAL_ACTIONS_AFTER_BIG_UPSCALE = tuple(a for a in UPSCALED_ACTIONS if a not in ("upscale_2x", "upscale_4x"))
#: How far each follow-up moves away from the picture it starts from (0 = same colours).
_DRIFT = {
    "reroll": 1.0,
    "variation_subtle": 0.15,
    "variation_strong": 0.45,
    "zoom_out_2x": 0.25,
    "zoom_out_1_5x": 0.2,
}


class Engine:
    """Tasks, their schedule and their deliveries, independent of HTTP."""

    def __init__(self, settings: EmulatorSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock
        self.store = TaskStore()
        self.faults = FaultBook()
        self.requests: list[RecordedRequest] = []
        self.scheduler = Scheduler(clock, self._on_step)
        self.callbacks = CallbackSender(lambda: self.settings.callback_timeout_s)
        self.signer = MediaSigner(lambda: self.settings, clock)
        self.frames = FrameFetcher(lambda: self.settings)
        #: Where the tasks are kept across restarts, once ``open_state`` was called.
        self.state: StateFile | None = None
        #: The sandbox runs' state file as ``recall`` last read it (inode, modification time, size).
        self._replayed: tuple[int, int, int] | None = None
        #: Seeded: decides failures and looks, so a run can be repeated. Ids never come from it, so a
        #: restarted sandbox cannot hand out an id that a bot's store already holds.
        self._rng = random.Random(settings.seed)  # noqa: S311 - not security
        self._ids = random.SystemRandom()

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
        fails = settings.failure_rate > 0 and self._rng.random() < settings.failure_rate
        if submission.type == "imagine":
            output: ImageOutput | VideoOutput = self._image_output(submission, task_id)
            duration = settings.job_duration_s
        else:
            output = self._video_output(submission, task_id)
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

    def _new_media_id(self) -> str:
        while True:
            media_id = str(self._ids.randrange(10**18, 10**19))
            if not self.store.has_media_id(media_id):
                return media_id

    def _image_output(self, submission: Submission, task_id: str) -> ImageOutput:
        action = submission.action
        parent = submission.parent_image
        fresh = palette(f"{submission.prompt}|{task_id}")
        if parent is None:
            width, height = aspect_size(submission.prompt, IMAGE_SIDE)
            colours = fresh
        else:
            width, height = _fit(parent.size, IMAGE_SIDE)
            if action.startswith("upscale") and action[-1].isdigit():
                colours = (parent.colours[int(action[-1]) - 1],)
            elif action in ("upscale_2x", "upscale_4x"):
                colours = parent.colours
                factor = 2 if action == "upscale_2x" else 4
                width, height = parent.size[0] * factor, parent.size[1] * factor
            elif action.startswith("variation") and action[-1].isdigit():
                anchor = parent.colours[int(action[-1]) - 1]
                colours = tuple(blend(anchor, colour, 0.3) for colour in fresh)
            else:
                drift = _DRIFT.get(action, 0.3)
                colours = tuple(blend(parent.colours[i % len(parent.colours)], fresh[i], drift) for i in range(4))
        grid = len(colours) == 4
        if grid:
            actions = GRID_ACTIONS
            scale = RAW_SIDE / IMAGE_SIDE
            raw_size = (round(width * scale), round(height * scale))
        else:
            actions = _FINAL_ACTIONS_AFTER_BIG_UPSCALE if action in ("upscale_2x", "upscale_4x") else UPSCALED_ACTIONS
            raw_size = (width, height)
        return ImageOutput(
            image_id=self._new_media_id(),
            grid=grid,
            actions=actions,
            colours=colours,
            size=(width, height),
            raw_size=raw_size,
            split_images=submission.split_images,
        )

    def _video_output(self, submission: Submission, task_id: str) -> VideoOutput:
        parent = submission.parent_video
        start = self._rng.randrange(4) if parent is None else parent.clips[submission.video_index] + 1
        clips = (start % 4, (start + 1) % 4, (start + 2) % 4, (start + 3) % 4)
        cover = palette(f"{submission.prompt}|{task_id}", 1)[0]
        if parent is not None:
            cover = blend(parent.cover, cover, 0.3)
        return VideoOutput(video_id=self._new_media_id(), clips=clips, cover=cover)

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
        if task.finished_at is None and self.clock() >= task.due_at:
            self._end_as_planned(task)
        return task

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
            self._complete(task, at=self.clock(), success=success, error=error)

    def subscribe(self, task: Task) -> asyncio.Queue[dict[str, Any]]:
        """A queue that receives the task's progress snapshots and, last, its final result."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        task.watchers.append(queue)
        return queue

    def unsubscribe(self, task: Task, queue: asyncio.Queue[dict[str, Any]]) -> None:
        if queue in task.watchers:
            task.watchers.remove(queue)

    def _on_step(self, task_id: str, step: int) -> None:
        task = self.store.get(task_id)
        if task is None or task.finished_at is not None:
            return
        if step >= FINAL_STEP:
            self.observe(task)
            return
        snapshot = task.snapshot(100 * step // PROGRESS_STEPS)
        for queue in task.watchers:
            queue.put_nowait(snapshot)
        if task.callback_progress:
            self.callbacks.send(task, self.shown(task, {**snapshot, "trace_id": task.trace_id}))

    def _end_as_planned(self, task: Task, *, deliver: bool = True) -> None:
        error = task.planned_error or IMAGE_FAILURE
        self._complete(task, at=task.due_at, success=task.planned_error is None, error=error, deliver=deliver)

    def _complete(self, task: Task, *, at: float, success: bool, error: tuple[str, str], deliver: bool = True) -> None:
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
                self.callbacks.send(task, self.shown(task, final))
            except RuntimeError:  # no running event loop: nobody could receive it anyway
                log.warning("emulator: task %s ended outside the event loop; callback not sent", task.id)

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
                self._end_as_planned(task, deliver=False)
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


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled so that its longest side is ``side``."""
    width, height = size
    longest = max(width, height, 1)
    return max(2, round(width * side / longest)), max(2, round(height * side / longest))
