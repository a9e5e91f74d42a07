# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""Job rows: creating, reading, listing and deleting jobs, and their metadata."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

from .database import Database, JobNotFoundError, StoreError
from .meta import JobMeta
from .models import Job, JobResult, JobStatus, NewJob
from .rows import (
    JOB_COLUMNS,
    Row,
    dump_ids,
    dump_list,
    dump_meta,
    dump_object,
    job_from_row,
    load_meta,
    load_object,
    new_job_id,
)

# Logged under the name of the module that defines ``Store``.
log = logging.getLogger("bot.store.db")

_ID_ATTEMPTS: Final = 5

# Must stay the same expression as the WHERE of the partial index jobs_unfinished, or SQLite will not use it.
UNFINISHED: Final = "status IN ('queued', 'submitting', 'running')"

_INSERT_JOB: Final = (
    "INSERT INTO jobs (id, kind, action, prompt, params, status, parent_id, guild_id, channel_id, user_id, "
    "created_at, updated_at, finished_at, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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


class JobRows(Database):
    """The jobs table, row by row: create, read, list and delete jobs, and keep the bot's metadata on each."""

    async def _job_or_raise(self, job_id: str) -> Job:
        job = await self.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job

    async def create_job(self, new: NewJob) -> Job:
        """Store a new job under a fresh id; created_at and updated_at come from the clock."""
        now = self._clock()
        params = dump_object(new.params)
        meta = dump_meta(new.meta)
        finished_at = now if new.status.finished else None
        for _ in range(_ID_ATTEMPTS):
            job_id = new_job_id()
            row = (job_id, new.kind.value, new.action, new.prompt, params, new.status.value, new.parent_id)
            try:
                await self._write(
                    _INSERT_JOB, (*row, new.guild_id, new.channel_id, new.user_id, now, now, finished_at, meta)
                )
            except sqlite3.IntegrityError as exc:
                reason = getattr(exc, "sqlite_errorname", "")
                if reason == "SQLITE_CONSTRAINT_PRIMARYKEY":
                    log.warning("job id %s was taken; drawing another", job_id)
                    continue
                if reason == "SQLITE_CONSTRAINT_FOREIGNKEY":
                    raise JobNotFoundError(f"parent job {new.parent_id!r} does not exist") from exc
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
        rows = await self._fetch(_SELECT_JOB, (job_id,))
        return job_from_row(rows[0]) if rows else None

    async def get_job_by_task(self, task_id: str) -> Job | None:
        """The job the API knows by this task id (callbacks and polls name tasks), or None."""
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE task_id = ?", (task_id,))
        return job_from_row(rows[0]) if rows else None

    async def jobs_by_ids(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs that exist among ``job_ids``, by id (unknown ids are left out)."""
        if not job_ids:
            return {}
        rows = await self._fetch(SELECT_JOBS_IN, (dump_ids(job_ids),))
        return {job.id: job for job in map(job_from_row, rows)}

    async def update_meta(self, job_id: str, change: Callable[[JobMeta], JobMeta]) -> Job:
        """Replace the job's meta by ``change(meta)``, read and written in one transaction; returns the job.

        Two callers changing different parts at once both keep their change: the second reads what the first
        wrote. The job's ``updated_at`` stays: the meta is the bot's own, not a change in the job's progress.
        """
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall("SELECT meta FROM jobs WHERE id = ?", (job_id,))
            found = list(rows)
            if not found:
                raise JobNotFoundError(f"no job with id {job_id!r}")
            meta = dump_meta(change(load_meta(found[0][0])))
            rows = await conn.execute_fetchall(
                f"UPDATE jobs SET meta = ? WHERE id = ? RETURNING {JOB_COLUMNS}", (meta, job_id)
            )
        return job_from_row(cast(list[Row], rows)[0])

    async def renew_result_links(self, job_id: str, result: JobResult) -> Job:
        """Put fresh result links (the API's expire) in place of a succeeded job's; the ids and sizes stay."""
        rows = await self._fetch(
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
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {UNFINISHED} ORDER BY created_at, rowid")
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
        return [job_from_row(row) for row in await self._fetch(sql, (*params, limit))]

    async def children(self, job_id: str) -> list[Job]:
        """The jobs made from this one (upscales, variations, extensions...), oldest first."""
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE parent_id = ? ORDER BY created_at, rowid"
        return [job_from_row(row) for row in await self._fetch(sql, (job_id,))]

    async def pending_chains(self, since: float, *, limit: int = 500) -> list[Job]:
        """Succeeded jobs whose meta asks for a video (``then_animate``) that no child carries out yet, oldest first.

        Only jobs finished at or after ``since``; a child carries the request out when its ``meta.chained_from``
        is the job's id.
        """
        return [job_from_row(row) for row in await self._fetch(_PENDING_CHAINS, (since, limit))]

    async def delete_job(self, job_id: str) -> bool:
        """Delete a job and its message links; its children stay, without a parent. False if there was none."""
        return await self._write("DELETE FROM jobs WHERE id = ?", (job_id,)) > 0
