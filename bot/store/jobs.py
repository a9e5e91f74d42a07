# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""Job rows: creating, reading, listing and deleting jobs, their metadata, and how each moves on to its one finish."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from .codec import (
    JOB_COLUMNS,
    dump_ids,
    dump_list,
    dump_meta,
    dump_object,
    dump_value,
    job_from_row,
    load_meta,
    load_object,
    new_job_id,
)
from .connection import Database
from .errors import AlreadyChainedError, ConstraintError, JobNotFoundError, StoreError
from .leases import HEARTBEAT
from .meta import JobMeta
from .models import FinishItem, Job, JobResult, JobStatus, Lease, NewJob, SavedProgress

log = logging.getLogger(__name__)

_ID_ATTEMPTS: Final = 5

# Must stay the same expression as the WHERE of the partial index jobs_unfinished, or SQLite will not use it.
UNFINISHED: Final = "status IN ('queued', 'submitting', 'running')"

_INSERT_JOB: Final = (
    "INSERT INTO jobs (id, kind, action, prompt, params, status, parent_id, guild_id, channel_id, user_id, "
    "created_at, updated_at, finished_at, meta, lease_owner) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_JOB: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
SELECT_JOBS_IN: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
# The first condition is the WHERE of the partial index jobs_then_animate.
_PENDING_CHAINS: Final = (
    f"SELECT {JOB_COLUMNS} FROM jobs WHERE json_extract(meta, '$.then_animate') IS NOT NULL "
    "AND finished_at >= ? AND status = 'succeeded' AND NOT EXISTS ("
    "SELECT 1 FROM jobs AS child WHERE child.parent_id = jobs.id "
    "AND json_extract(child.meta, '$.chained_from') = jobs.id) ORDER BY finished_at, rowid LIMIT ?"
)

_MARK_SUBMITTED: Final = (
    "UPDATE jobs SET task_id = ?2, submitted_at = ?1, updated_at = ?1, "
    f"status = CASE WHEN {UNFINISHED} THEN 'running' ELSE status END WHERE id = ?3 RETURNING {JOB_COLUMNS}"
)
_FINISH: Final = f"""
UPDATE jobs SET
    status = ?2,
    progress = CASE WHEN ?2 = 'succeeded' THEN 100 ELSE progress END,
    error_code = ?3,
    error_message = ?4,
    video_id = CASE WHEN ?6 THEN ?7 ELSE video_id END,
    video_urls = CASE WHEN ?6 THEN ?8 ELSE video_urls END,
    image_id = CASE WHEN ?6 THEN ?9 ELSE image_id END,
    image_url = CASE WHEN ?6 THEN ?10 ELSE image_url END,
    raw_image_url = CASE WHEN ?6 THEN ?11 ELSE raw_image_url END,
    image_width = CASE WHEN ?6 THEN ?12 ELSE image_width END,
    image_height = CASE WHEN ?6 THEN ?13 ELSE image_height END,
    sub_image_urls = CASE WHEN ?6 THEN ?14 ELSE sub_image_urls END,
    actions = CASE WHEN ?6 THEN ?15 ELSE actions END,
    finished_at = ?5,
    updated_at = ?5
WHERE id = ?1 AND {UNFINISHED}
"""
# One statement for a whole poll's progress, answering with what changed (and what a caller that keeps the
# rest of each job in memory may not know: metadata, and a parent that was deleted).
_SAVE_PROGRESS: Final = (
    "UPDATE jobs SET progress = p.value, updated_at = ?1 FROM json_each(?2) AS p "
    f"WHERE jobs.id = p.key AND jobs.progress < p.value AND jobs.{UNFINISHED} "
    "RETURNING jobs.id, jobs.parent_id, jobs.meta"
)
_SAVE_PROGRESS_PG: Final = (
    "UPDATE jobs SET progress = p.value::integer, updated_at = ?1 FROM json_each_text(?2::json) AS p "
    f"WHERE jobs.id = p.key AND jobs.progress < p.value::integer AND jobs.{UNFINISHED} "
    "RETURNING jobs.id, jobs.parent_id, jobs.meta"
)


class JobRepository:
    """The jobs table: create, read, list and delete jobs, keep the bot's metadata on each, and move them on."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _job_or_raise(self, job_id: str) -> Job:
        job = await self.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job

    async def create_job(self, new: NewJob, *, lease: Lease | None = None) -> Job:
        """Store a new job under a fresh id; created_at and updated_at come from the clock.

        ``lease``: the process that will send the job holds it from the start, so that no other process
        takes over (and sends again) a job that is being sent.
        """
        now = self._db.clock()
        held = lease.owner if lease is not None and not new.status.finished else None
        if held is not None and lease is not None:
            await self._db.write(HEARTBEAT, (lease.owner, now + lease.seconds))
        params = dump_object(new.params)
        meta = dump_meta(new.meta)
        finished_at = now if new.status.finished else None
        for _ in range(_ID_ATTEMPTS):
            job_id = new_job_id()
            row = (job_id, new.kind.value, new.action, new.prompt, params, new.status.value, new.parent_id)
            try:
                await self._db.write(
                    _INSERT_JOB, (*row, new.guild_id, new.channel_id, new.user_id, now, now, finished_at, meta, held)
                )
            except ConstraintError as exc:
                if exc.constraint == "primary key":
                    log.warning("job id %s was taken; drawing another", job_id)
                    continue
                if exc.constraint == "foreign key":
                    raise JobNotFoundError(f"parent job {new.parent_id!r} does not exist") from exc
                if exc.constraint == "unique" and new.meta.chained_from is not None:
                    raise AlreadyChainedError(f"job {new.meta.chained_from!r} has its chained job already") from exc
                raise StoreError(f"cannot store the job: {exc}") from exc
            return Job(
                id=job_id,
                kind=new.kind,
                action=new.action,
                prompt=new.prompt,
                params=load_object(params),
                status=new.status,
                progress=0,
                created_at=now,
                updated_at=now,
                parent_id=new.parent_id,
                guild_id=new.guild_id,
                channel_id=new.channel_id,
                user_id=new.user_id,
                finished_at=finished_at,
                meta=new.meta,
            )
        raise StoreError(f"no free job id after {_ID_ATTEMPTS} attempts")

    async def get_job(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        rows = await self._db.fetch(_SELECT_JOB, (job_id,))
        return job_from_row(rows[0]) if rows else None

    async def get_job_by_task(self, task_id: str) -> Job | None:
        """The job the API knows by this task id (callbacks and polls name tasks), or None."""
        rows = await self._db.fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE task_id = ?", (task_id,))
        return job_from_row(rows[0]) if rows else None

    async def jobs_by_ids(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs that exist among ``job_ids``, by id (unknown ids are left out)."""
        if not job_ids:
            return {}
        rows = await self._db.fetch(SELECT_JOBS_IN, (dump_ids(job_ids),))
        return {job.id: job for job in map(job_from_row, rows)}

    async def update_meta(self, job_id: str, change: Callable[[JobMeta], JobMeta]) -> Job:
        """Replace the job's meta by ``change(meta)``, read and written in one transaction; returns the job.

        Two callers changing different parts at once both keep their change: the second reads what the first
        wrote. The job's ``updated_at`` stays: the meta is the bot's own, not a change in the job's progress.
        """
        async with self._db.transaction() as tx:
            found = await tx.fetch(f"SELECT meta FROM jobs WHERE id = ?{self._db.row_lock}", (job_id,))
            if not found:
                raise JobNotFoundError(f"no job with id {job_id!r}")
            meta = dump_meta(change(load_meta(found[0][0])))
            rows = await tx.fetch(f"UPDATE jobs SET meta = ? WHERE id = ? RETURNING {JOB_COLUMNS}", (meta, job_id))
        return job_from_row(rows[0])

    async def renew_result_links(self, job_id: str, result: JobResult) -> Job:
        """Put fresh result links (the API's expire) in place of a succeeded job's; the ids and sizes stay."""
        rows = await self._db.fetch(
            "UPDATE jobs SET video_urls = coalesce(?, video_urls), image_url = coalesce(?, image_url), "
            "raw_image_url = coalesce(?, raw_image_url), sub_image_urls = coalesce(?, sub_image_urls) "
            f"WHERE id = ? AND status = 'succeeded' RETURNING {JOB_COLUMNS}",
            (
                dump_list(result.video_urls) if result.video_urls else None,
                result.image_url,
                result.raw_image_url,
                dump_list(result.sub_image_urls) if result.sub_image_urls else None,
                job_id,
            ),
        )
        return job_from_row(rows[0]) if rows else await self._job_or_raise(job_id)

    async def unfinished_jobs(self) -> list[Job]:
        """Queued, submitting and running jobs, oldest first: what to resume after a restart."""
        rows = await self._db.fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {UNFINISHED} ORDER BY created_at, rowid")
        return [job_from_row(row) for row in rows]

    async def recent_jobs(
        self,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        statuses: Sequence[JobStatus] | None = None,
        limit: int = 20,
    ) -> list[Job]:
        """The newest jobs, filtered by user, guild and status when given."""
        if limit <= 0 or (statuses is not None and not statuses):
            return []
        conditions: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            conditions.append("user_id = ?")
            params.append(user_id)
        if guild_id is not None:
            conditions.append("guild_id = ?")
            params.append(guild_id)
        if statuses is not None:
            conditions.append("status IN (SELECT value FROM json_each(?))")
            params.append(dump_ids(status.value for status in statuses))
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?"
        return [job_from_row(row) for row in await self._db.fetch(sql, (*params, limit))]

    async def children(self, job_id: str) -> list[Job]:
        """The jobs made from this one (upscales, variations, extensions...), oldest first."""
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE parent_id = ? ORDER BY created_at, rowid"
        return [job_from_row(row) for row in await self._db.fetch(sql, (job_id,))]

    async def pending_chains(self, since: float, *, limit: int = 500) -> list[Job]:
        """Succeeded jobs whose meta asks for a video (``then_animate``) that no child carries out yet, oldest first.

        Only jobs finished at or after ``since``; a child carries the request out when its ``meta.chained_from``
        is the job's id.
        """
        return [job_from_row(row) for row in await self._db.fetch(_PENDING_CHAINS, (since, limit))]

    async def delete_job(self, job_id: str) -> bool:
        """Delete a job and its message links; its children stay, without a parent. False if there was none."""
        return await self._db.write("DELETE FROM jobs WHERE id = ?", (job_id,)) > 0

    async def mark_submitted(self, job_id: str, task_id: str) -> Job:
        """Record the API's task id; an unfinished job becomes RUNNING (a finished one keeps its status)."""
        try:
            rows = await self._db.fetch(_MARK_SUBMITTED, (self._db.clock(), task_id, job_id))
        except ConstraintError as exc:
            raise StoreError(f"task id {task_id!r} already belongs to another job (not {job_id!r})") from exc
        if not rows:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job_from_row(rows[0])

    async def set_status(self, job_id: str, status: JobStatus) -> Job:
        """Move an unfinished job to another unfinished status; a finished job is returned unchanged."""
        if status.finished:
            raise ValueError(f"{status} is a finished status: use finish_job")
        rows = await self._db.fetch(
            f"UPDATE jobs SET status = ?, updated_at = ? WHERE id = ? AND {UNFINISHED} RETURNING {JOB_COLUMNS}",
            (status.value, self._db.clock(), job_id),
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
        now = self._db.clock()
        sql = _SAVE_PROGRESS_PG if self._db.dialect == "postgres" else _SAVE_PROGRESS
        rows = await self._db.fetch(sql, (now, dump_value(highest)))
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
        now = self._db.clock()
        async with self._db.transaction() as tx:
            # Locks the rows (in one order, so two processes finishing the same jobs cannot deadlock): another
            # process finishing one of them at the same time waits, and then finds it finished.
            rows = await tx.fetch(
                f"SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND {UNFINISHED} "
                f"ORDER BY id{self._db.row_lock}",
                (dump_ids(item.job_id for item in items),),
            )
            pending = {row[0] for row in rows}
            chosen: dict[str, FinishItem] = {}
            for item in items:
                if item.job_id in pending and item.job_id not in chosen:
                    chosen[item.job_id] = item
            if not chosen:
                return []
            await tx.executemany(_FINISH, [_finish_params(item, now) for item in chosen.values()])
            rows = await tx.fetch(SELECT_JOBS_IN, (dump_ids(chosen),))
        finished = {job.id: job for job in map(job_from_row, rows)}
        return [finished[job_id] for job_id in chosen]


_NO_RESULT: Final = JobResult()


def _finish_params(item: FinishItem, now: float) -> tuple[Any, ...]:
    # In the order of _FINISH's numbered placeholders.
    result = item.result or _NO_RESULT
    return (
        item.job_id,
        item.status.value,
        item.error_code,
        item.error_message,
        now,
        item.result is not None,
        result.video_id,
        dump_list(result.video_urls),
        result.image_id,
        result.image_url,
        result.raw_image_url,
        result.image_width,
        result.image_height,
        dump_list(result.sub_image_urls),
        dump_list(result.actions),
    )
