# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""How a job moves on: submitted to the API, a new status, progress, and finishing once."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from .database import JobNotFoundError, StoreError
from .jobs import SELECT_JOBS_IN, UNFINISHED, JobRows
from .models import Job, JobResult, JobStatus, SavedProgress
from .rows import JOB_COLUMNS, Row, dump_ids, dump_list, dump_value, job_from_row, load_meta

_MARK_SUBMITTED: Final = (
    "UPDATE jobs SET task_id = ?2, submitted_at = ?1, updated_at = ?1, "
    f"status = CASE WHEN {UNFINISHED} THEN 'running' ELSE status END WHERE id = ?3 RETURNING {JOB_COLUMNS}"
)
_FINISH: Final = f"""
UPDATE jobs SET
    status = :status,
    progress = CASE WHEN :status = 'succeeded' THEN 100 ELSE progress END,
    error_code = :error_code,
    error_message = :error_message,
    video_id = CASE WHEN :has_result THEN :video_id ELSE video_id END,
    video_urls = CASE WHEN :has_result THEN :video_urls ELSE video_urls END,
    image_id = CASE WHEN :has_result THEN :image_id ELSE image_id END,
    image_url = CASE WHEN :has_result THEN :image_url ELSE image_url END,
    raw_image_url = CASE WHEN :has_result THEN :raw_image_url ELSE raw_image_url END,
    image_width = CASE WHEN :has_result THEN :image_width ELSE image_width END,
    image_height = CASE WHEN :has_result THEN :image_height ELSE image_height END,
    sub_image_urls = CASE WHEN :has_result THEN :sub_image_urls ELSE sub_image_urls END,
    actions = CASE WHEN :has_result THEN :actions ELSE actions END,
    finished_at = :now,
    updated_at = :now
WHERE id = :id AND {UNFINISHED}
"""
# One statement for a whole poll's progress, answering with what changed (and what a caller that keeps the
# rest of each job in memory may not know: metadata, and a parent that was deleted).
_SAVE_PROGRESS: Final = (
    "UPDATE jobs SET progress = p.value, updated_at = ?1 FROM json_each(?2) AS p "
    f"WHERE jobs.id = p.key AND jobs.progress < p.value AND jobs.{UNFINISHED} "
    "RETURNING jobs.id, jobs.parent_id, jobs.meta"
)


@dataclass(frozen=True, slots=True)
class FinishItem:
    """One job to finish in ``Store.finish_many``: a finished status and what is known about the outcome."""

    job_id: str
    status: JobStatus
    result: JobResult | None = None
    error_code: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if not self.status.finished:
            raise ValueError(f"{self.status} is not a finished status")


class JobLifecycle(JobRows):
    """Status changes of a job, from its submission to the API to its one finish."""

    async def mark_submitted(self, job_id: str, task_id: str) -> Job:
        """Record the API's task id; an unfinished job becomes RUNNING (a finished one keeps its status)."""
        try:
            rows = await self._fetch(_MARK_SUBMITTED, (self._clock(), task_id, job_id))
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"task id {task_id!r} already belongs to another job (not {job_id!r})") from exc
        if not rows:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job_from_row(rows[0])

    async def set_status(self, job_id: str, status: JobStatus) -> Job:
        """Move an unfinished job to another unfinished status; a finished job is returned unchanged."""
        if status.finished:
            raise ValueError(f"{status} is a finished status: use finish_job")
        rows = await self._fetch(
            f"UPDATE jobs SET status = ?, updated_at = ? WHERE id = ? AND {UNFINISHED} RETURNING {JOB_COLUMNS}",
            (status.value, self._clock(), job_id),
        )
        return job_from_row(rows[0]) if rows else await self._job_or_raise(job_id)

    async def update_progress_many(self, updates: Sequence[tuple[str, int]]) -> list[SavedProgress]:
        """Raise the progress of unfinished jobs, in one statement; progress never goes backwards.

        Returns the jobs whose progress this call raised, in no particular order (unknown ids, finished
        jobs and figures that are not higher are left out).
        """
        if not updates:
            return []
        highest: dict[str, int] = {}
        for job_id, progress in updates:
            if progress > highest.get(job_id, -1):
                highest[job_id] = progress
        now = self._clock()
        rows = await self._fetch(_SAVE_PROGRESS, (now, dump_value(highest)))
        return [
            SavedProgress(job_id, highest[job_id], now, parent_id, load_meta(meta)) for job_id, parent_id, meta in rows
        ]

    async def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: JobResult | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> tuple[Job, bool]:
        """Finish a job once. Returns (job, changed); a job that was already finished is left as it was."""
        item = FinishItem(job_id, status, result, error_code, error_message)
        changed = await self.finish_many([item])
        if changed:
            return changed[0], True
        return await self._job_or_raise(job_id), False

    async def finish_many(self, items: Sequence[FinishItem]) -> list[Job]:
        """Finish many jobs in one transaction; returns, in order, only the jobs this call finished.

        Unknown ids and jobs that are already finished are skipped; if one id comes twice, the first wins.
        """
        if not items:
            return []
        now = self._clock()
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND {UNFINISHED}",
                (dump_ids(item.job_id for item in items),),
            )
            pending = {row[0] for row in rows}
            chosen: dict[str, FinishItem] = {}
            for item in items:
                if item.job_id in pending and item.job_id not in chosen:
                    chosen[item.job_id] = item
            if not chosen:
                return []
            await conn.executemany(_FINISH, [_finish_params(item, now) for item in chosen.values()])
            rows = await conn.execute_fetchall(SELECT_JOBS_IN, (dump_ids(chosen),))
        finished = {job.id: job for job in map(job_from_row, cast(list[Row], rows))}
        return [finished[job_id] for job_id in chosen]


_NO_RESULT: Final = JobResult()


def _finish_params(item: FinishItem, now: float) -> dict[str, Any]:
    result = item.result or _NO_RESULT
    return {
        "id": item.job_id,
        "status": item.status.value,
        "error_code": item.error_code,
        "error_message": item.error_message,
        "now": now,
        "has_result": item.result is not None,
        "video_id": result.video_id,
        "video_urls": dump_list(result.video_urls),
        "image_id": result.image_id,
        "image_url": result.image_url,
        "raw_image_url": result.raw_image_url,
        "image_width": result.image_width,
        "image_height": result.image_height,
        "sub_image_urls": dump_list(result.sub_image_urls),
        "actions": dump_list(result.actions),
    }
