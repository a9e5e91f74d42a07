"""The in-memory set of running jobs, and how a task's outcome becomes a store update.

What a poll tick needs is kept per job in one slotted object: the ids, the start time, the last
progress, and the job's fields as last announced. With those a PROGRESS event is the job with its
new figures, read back from the progress write itself, not from a second query for every row. That
costs about a kilobyte more per running job: the row the engine had in hand anyway.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

from bot.acedata.models import TaskResult, TaskStatus
from bot.store import FinishItem, SavedProgress
from bot.store.models import Job, JobResult, JobStatus

#: Used when the API reports a failure without saying why.
NO_REASON_MESSAGE = "Ace Data Cloud reported that the job failed but gave no reason."
NO_REASON_CODE = "generation_failed"
TIMEOUT_CODE = "job_timeout"


@dataclass(slots=True)
class Tracked:
    """A running job as the poll loop sees it."""

    job_id: str
    task_id: str
    since: float  # when the API accepted it (or, failing that, when it was created)
    progress: int
    fields: list[Any]  # the job as last announced: the arguments of Job(...), in order

    def progressed(self, saved: SavedProgress) -> Job:
        """The job as stored after the progress write ``saved`` (what ``dataclasses.replace`` would give)."""
        fields = self.fields
        fields[_PROGRESS] = saved.progress
        fields[_UPDATED_AT] = saved.updated_at
        fields[_PARENT_ID] = saved.parent_id
        fields[_META] = saved.meta
        return Job(*fields)


# Job's fields in the order its __init__ takes them, and the places of those a progress write changes.
_JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))
_job_fields = operator.attrgetter(*_JOB_FIELDS)
_PROGRESS, _UPDATED_AT, _PARENT_ID, _META = map(_JOB_FIELDS.index, ("progress", "updated_at", "parent_id", "meta"))


class TrackedJobs:
    """Running jobs by task id, with a reverse index by job id."""

    __slots__ = ("_by_job", "_by_task")

    def __init__(self) -> None:
        self._by_task: dict[str, Tracked] = {}
        self._by_job: dict[str, Tracked] = {}

    def __len__(self) -> int:
        return len(self._by_task)

    def add(self, job: Job) -> Tracked:
        if job.task_id is None:
            raise ValueError(f"job {job.id} has no task id to track")
        self.remove_job(job.id)
        entry = Tracked(job.id, job.task_id, job.submitted_at or job.created_at, job.progress, list(_job_fields(job)))
        self._by_task[job.task_id] = entry
        self._by_job[job.id] = entry
        return entry

    def by_task(self, task_id: str) -> Tracked | None:
        return self._by_task.get(task_id)

    def follows(self, task_id: str) -> bool:
        """Whether a job with this task is followed here."""
        return task_id in self._by_task

    def by_job(self, job_id: str) -> Tracked | None:
        return self._by_job.get(job_id)

    def remove_job(self, job_id: str) -> Tracked | None:
        entry = self._by_job.pop(job_id, None)
        if entry is not None:
            self._by_task.pop(entry.task_id, None)
        return entry

    def job_ids(self) -> list[str]:
        return list(self._by_job)

    def task_ids(self) -> list[str]:
        return list(self._by_task)

    def older_than(self, cutoff: float) -> list[Tracked]:
        """Jobs accepted before ``cutoff``."""
        return [entry for entry in self._by_task.values() if entry.since < cutoff]


def job_result(result: TaskResult) -> JobResult:
    """The fields of a finished task that the store keeps."""
    return JobResult(
        video_id=result.video_id,
        video_urls=result.video_urls,
        image_id=result.image_id,
        image_url=result.image_url,
        raw_image_url=result.raw_image_url,
        image_width=result.image_width,
        image_height=result.image_height,
        sub_image_urls=result.sub_image_urls,
        actions=result.actions,
    )


def finish_item(job_id: str, status: TaskStatus, result: TaskResult | None, state: str | None = None) -> FinishItem:
    """The store update for a task that ended with ``status`` (succeeded or failed)."""
    if status is TaskStatus.SUCCEEDED and result is not None:
        return FinishItem(job_id, JobStatus.SUCCEEDED, job_result(result), None, None)
    code = (result.error_code if result else None) or state or NO_REASON_CODE
    message = (result.error_message if result else None) or NO_REASON_MESSAGE
    return FinishItem(job_id, JobStatus.FAILED, None, code, message)


def timeout_message(job_timeout_s: float) -> str:
    return f"Ace Data Cloud did not finish the job within {duration_text(job_timeout_s)}; no result will arrive."


def duration_text(seconds: float) -> str:
    """``900`` -> ``15 minutes``; ``90`` -> ``1.5 minutes``; ``30`` -> ``30 seconds``."""
    if seconds >= 60:
        minutes = seconds / 60
        if minutes == 1:
            return "1 minute"
        return f"{minutes:.0f} minutes" if minutes.is_integer() else f"{minutes:.1f} minutes"
    return "1 second" if seconds == 1 else f"{seconds:g} seconds"
