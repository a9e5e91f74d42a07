# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""The job store: jobs, the Discord messages that show them, settings and the usage ledger."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from .database import JobNotFoundError, StoreError
from .models import Job, JobResult, JobStatus, MessageLink, NewJob, SavedProgress, UsageEntry
from .rows import (
    JOB_COLUMNS,
    LINK_COLUMNS,
    USAGE_COLUMNS,
    Row,
    dump_ids,
    dump_list,
    dump_object,
    dump_value,
    job_from_row,
    link_from_row,
    load_object,
    new_job_id,
    usage_from_row,
)
from .stats import StatsQueries

log = logging.getLogger(__name__)

_ID_ATTEMPTS: Final = 5

# Must stay the same expression as the WHERE of the partial index jobs_unfinished, or SQLite will not use it.
_UNFINISHED: Final = "status IN ('queued', 'submitting', 'running')"
_J_COLUMNS: Final = ", ".join(f"j.{name.strip()}" for name in JOB_COLUMNS.split(","))

_FINISHED: Final = "('succeeded', 'failed', 'cancelled', 'timed_out')"
_L_COLUMNS: Final = ", ".join(f"m.{name.strip()}" for name in LINK_COLUMNS.split(","))
_LINK_WIDTH: Final = len(LINK_COLUMNS.split(","))

_INSERT_JOB: Final = (
    "INSERT INTO jobs (id, kind, action, prompt, params, status, parent_id, guild_id, channel_id, user_id, "
    "created_at, updated_at, finished_at, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_JOB_FOR_MESSAGE: Final = (
    f"SELECT {_J_COLUMNS} FROM message_links AS m JOIN jobs AS j ON j.id = m.job_id WHERE m.message_id = ?"
)
_SELECT_JOB: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
_SELECT_JOBS_IN: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
_MARK_SUBMITTED: Final = (
    "UPDATE jobs SET task_id = ?2, submitted_at = ?1, updated_at = ?1, "
    f"status = CASE WHEN {_UNFINISHED} THEN 'running' ELSE status END WHERE id = ?3 RETURNING {JOB_COLUMNS}"
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
WHERE id = :id AND {_UNFINISHED}
"""
# Relinking a message to the same job keeps what it has shown; a new target has shown nothing yet.
_UPSERT_LINK: Final = (
    "INSERT INTO message_links (message_id, job_id, channel_id, guild_id, purpose, interaction_token, "
    "application_id, attachment_limit, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (message_id) DO UPDATE SET "
    "delivered = CASE WHEN job_id = excluded.job_id THEN delivered END, "
    "job_id = excluded.job_id, channel_id = excluded.channel_id, guild_id = excluded.guild_id, "
    "purpose = excluded.purpose, interaction_token = excluded.interaction_token, "
    "application_id = excluded.application_id, attachment_limit = excluded.attachment_limit, "
    f"created_at = excluded.created_at RETURNING {LINK_COLUMNS}"
)
# The first condition is the WHERE of the partial index message_links_undelivered, word for word, so that
# SQLite reads only that index (a finished status, once rendered, never changes).
_UNDELIVERED_LINKS: Final = (
    f"SELECT {_L_COLUMNS}, {_J_COLUMNS} FROM message_links AS m JOIN jobs AS j ON j.id = m.job_id "
    f"WHERE (m.delivered IS NULL OR m.delivered NOT IN {_FINISHED}) "
    f"AND j.status IN {_FINISHED} AND m.delivered IS NOT j.status "
    "ORDER BY j.finished_at, m.message_id LIMIT ?"
)
# The first condition is the WHERE of the partial index jobs_then_animate.
_PENDING_CHAINS: Final = (
    f"SELECT {JOB_COLUMNS} FROM jobs WHERE json_extract(meta, '$.then_animate') IS NOT NULL "
    "AND finished_at >= ? AND status = 'succeeded' AND NOT EXISTS ("
    "SELECT 1 FROM jobs AS child WHERE child.parent_id = jobs.id "
    "AND json_extract(child.meta, '$.chained_from') = jobs.id) ORDER BY finished_at, rowid LIMIT ?"
)
# One statement for a whole poll's progress, answering with what changed (and what a caller that keeps the
# rest of each job in memory may not know: metadata, and a parent that was deleted).
_SAVE_PROGRESS: Final = (
    "UPDATE jobs SET progress = p.value, updated_at = ?1 FROM json_each(?2) AS p "
    f"WHERE jobs.id = p.key AND jobs.progress < p.value AND jobs.{_UNFINISHED} "
    "RETURNING jobs.id, jobs.parent_id, jobs.meta"
)
_SETTINGS_TABLES: Final = {"guild": ("guild_settings", "guild_id"), "user": ("user_settings", "user_id")}

# The queue. Each statement names the partial index it reads (whose WHERE it repeats word for word): the few
# unfinished jobs, not the many finished ones. Without INDEXED BY, SQLite may prefer jobs_guild_stats, which
# covers the columns but holds every job the server ever had.
_OWNER: Final = f"FROM jobs INDEXED BY jobs_owner_unfinished WHERE {_UNFINISHED} AND user_id IS ? AND guild_id IS ?"
_RUNNING_COUNT: Final = f"SELECT COUNT(*) {_OWNER} AND status != 'queued'"
_NEXT_QUEUED: Final = f"SELECT {JOB_COLUMNS} {_OWNER} AND status = 'queued' ORDER BY created_at, rowid LIMIT 1"
_QUEUED_OWNERS: Final = (
    f"SELECT user_id, guild_id, MIN(created_at) AS first, MIN(rowid) AS earliest FROM jobs INDEXED BY jobs_unfinished "
    f"WHERE {_UNFINISHED} AND status = 'queued' GROUP BY user_id, guild_id ORDER BY first, earliest"
)
_QUEUED_GUILDS: Final = (
    "SELECT guild_id, MIN(created_at) AS first, MIN(rowid) AS earliest FROM jobs INDEXED BY jobs_owner_unfinished "
    f"WHERE {_UNFINISHED} AND status = 'queued' AND user_id IS ? GROUP BY guild_id ORDER BY first, earliest"
)
_QUEUE_POSITION: Final = f"""
SELECT (SELECT COUNT(*) FROM jobs AS q INDEXED BY jobs_owner_unfinished
        WHERE q.{_UNFINISHED} AND q.user_id IS j.user_id AND q.guild_id IS j.guild_id AND q.status = 'queued'
          AND (q.created_at < j.created_at OR (q.created_at = j.created_at AND q.rowid <= j.rowid)))
FROM jobs AS j WHERE j.id = ? AND j.status = 'queued'
"""
_UNFINISHED_JOBS: Final = f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_unfinished WHERE {_UNFINISHED}"
# Queued -> submitting, once: the row remembers when it was released, because the search for a task whose
# submit answer was lost looks around that moment (the job may have waited in the queue for hours).
_CLAIM_QUEUED: Final = (
    "UPDATE jobs SET status = 'submitting', updated_at = ?1, meta = json_set(meta, '$.released_at', ?1) "
    f"WHERE id = ?2 AND status = 'queued' RETURNING {JOB_COLUMNS}"
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


class Store(StatsQueries):
    """Jobs, the Discord messages that show them, settings and the usage ledger, in one SQLite file.

    Open with ``await Store.open(path)``; every method commits before it returns.
    """

    async def _job_or_raise(self, job_id: str) -> Job:
        job = await self.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job

    # -- jobs -------------------------------------------------------------------------------------

    async def create_job(self, new: NewJob) -> Job:
        """Store a new job under a fresh id; created_at and updated_at come from the clock."""
        now = self._clock()
        params = dump_object(new.params)
        meta = dump_object(new.meta)
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
                meta=load_object(meta),
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
        rows = await self._fetch(_SELECT_JOBS_IN, (dump_ids(job_ids),))
        return {job.id: job for job in map(job_from_row, rows)}

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
            f"UPDATE jobs SET status = ?, updated_at = ? WHERE id = ? AND {_UNFINISHED} RETURNING {JOB_COLUMNS}",
            (status.value, self._clock(), job_id),
        )
        return job_from_row(rows[0]) if rows else await self._job_or_raise(job_id)

    async def update_meta(self, job_id: str, patch: Mapping[str, Any]) -> Job:
        """Merge ``patch`` into the job's metadata, key by key at the top level; a None value removes its key.

        One statement, so two callers patching different keys at once both keep their change. The job's
        ``updated_at`` stays: metadata is the bot's own, not a change in the job's progress.
        """
        removed: list[str] = []
        assigned: list[Any] = []
        for key, value in patch.items():
            if not isinstance(key, str) or '"' in key:
                raise ValueError(f"metadata keys must be strings without double quotes, not {key!r}")
            if value is None:
                removed.append(f'$."{key}"')
            else:
                assigned += (f'$."{key}"', dump_value(value))
        merged = "json_remove(meta" + ", ?" * len(removed) + ")"
        if assigned:
            merged = f"json_set({merged}" + ", ?, json(?)" * (len(assigned) // 2) + ")"
        rows = await self._fetch(
            f"UPDATE jobs SET meta = {merged} WHERE id = ? RETURNING {JOB_COLUMNS}", (*removed, *assigned, job_id)
        )
        if not rows:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job_from_row(rows[0])

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
            SavedProgress(job_id, highest[job_id], now, parent_id, load_object(meta))
            for job_id, parent_id, meta in rows
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
                f"SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND {_UNFINISHED}",
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
            rows = await conn.execute_fetchall(_SELECT_JOBS_IN, (dump_ids(chosen),))
        finished = {job.id: job for job in map(job_from_row, cast(list[Row], rows))}
        return [finished[job_id] for job_id in chosen]

    async def unfinished_jobs(self) -> list[Job]:
        """Queued, submitting and running jobs, oldest first: what to resume after a restart."""
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {_UNFINISHED} ORDER BY created_at, rowid")
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
        """Succeeded jobs with a "then_animate" request in their meta that no child carries out yet, oldest first.

        Only jobs finished at or after ``since``; a child carries the request out when its ``meta.chained_from``
        is the job's id.
        """
        return [job_from_row(row) for row in await self._fetch(_PENDING_CHAINS, (since, limit))]

    async def delete_job(self, job_id: str) -> bool:
        """Delete a job and its message links; its children stay, without a parent. False if there was none."""
        return await self._write("DELETE FROM jobs WHERE id = ?", (job_id,)) > 0

    # -- the queue and what runs ----------------------------------------------------------------

    async def running_count(self, user_id: int | None, guild_id: int | None) -> int:
        """The member's jobs in this server (``None``: direct messages) that are submitting or running."""
        return int((await self._fetch(_RUNNING_COUNT, (user_id, guild_id)))[0][0])

    async def queued_jobs(
        self, user_id: int | None = None, guild_id: int | None = None, *, limit: int = 500
    ) -> list[Job]:
        """Queued jobs, oldest first, of a member and/or a server when given (``None`` here means any)."""
        conditions = ["status = 'queued'"]
        params: list[Any] = []
        if user_id is not None:
            conditions.append("user_id = ?")
            params.append(user_id)
        if guild_id is not None:
            conditions.append("guild_id = ?")
            params.append(guild_id)
        sql = f"{_UNFINISHED_JOBS} AND {' AND '.join(conditions)} ORDER BY created_at, rowid LIMIT ?"
        return [job_from_row(row) for row in await self._fetch(sql, (*params, limit))]

    async def next_queued(self, user_id: int | None, guild_id: int | None) -> Job | None:
        """The member's oldest queued job in this server (``guild_id`` None: in direct messages)."""
        rows = await self._fetch(_NEXT_QUEUED, (user_id, guild_id))
        return job_from_row(rows[0]) if rows else None

    async def queued_owners(self) -> list[tuple[int | None, int | None]]:
        """Every (user id, guild id) with queued jobs, the longest waiting first."""
        return [(user_id, guild_id) for user_id, guild_id, *_ in await self._fetch(_QUEUED_OWNERS)]

    async def queued_guilds(self, user_id: int | None) -> list[int | None]:
        """The servers (None: direct messages) where the member has queued jobs, the longest waiting first."""
        return [guild_id for guild_id, *_ in await self._fetch(_QUEUED_GUILDS, (user_id,))]

    async def queue_position(self, job_id: str) -> int | None:
        """Where a queued job stands among its owner's queued jobs in the same server (1: next); None if not queued."""
        rows = await self._fetch(_QUEUE_POSITION, (job_id,))
        return int(rows[0][0]) if rows else None

    async def claim_queued(self, job_id: str) -> Job | None:
        """Move a queued job to SUBMITTING (noting ``meta.released_at``); None if it is not queued (any more)."""
        rows = await self._fetch(_CLAIM_QUEUED, (self._clock(), job_id))
        return job_from_row(rows[0]) if rows else None

    async def running_jobs(self, guild_id: int, *, limit: int = 500) -> list[Job]:
        """The server's queued, submitting and running jobs, oldest first."""
        sql = f"{_UNFINISHED_JOBS} AND guild_id = ? ORDER BY created_at, rowid LIMIT ?"
        return [job_from_row(row) for row in await self._fetch(sql, (guild_id, limit))]

    async def unsent_jobs(self, guild_id: int | None, user_id: int | None = None) -> list[Job]:
        """Queued and submitting jobs of a server (and member): taken on, but not in the usage ledger yet."""
        conditions = ["status != 'running'", "guild_id IS ?"]
        params: list[Any] = [guild_id]
        if user_id is not None:
            conditions.append("user_id = ?")
            params.append(user_id)
        sql = f"{_UNFINISHED_JOBS} AND {' AND '.join(conditions)} ORDER BY created_at, rowid"
        return [job_from_row(row) for row in await self._fetch(sql, params)]

    # -- message links ----------------------------------------------------------------------------

    async def link_message(
        self,
        message_id: int,
        job_id: str,
        *,
        channel_id: int | None,
        guild_id: int | None,
        purpose: str = "job",
        interaction_token: str | None = None,
        application_id: int | None = None,
        attachment_limit: int | None = None,
    ) -> MessageLink:
        """Remember that a Discord message shows a job (replacing whatever that message was linked to).

        ``delivered`` is kept when the message is linked again to the same job, and cleared for another job.
        """
        params = (
            message_id,
            job_id,
            channel_id,
            guild_id,
            purpose,
            interaction_token,
            application_id,
            attachment_limit,
            self._clock(),
        )
        try:
            rows = await self._fetch(_UPSERT_LINK, params)
        except sqlite3.IntegrityError as exc:
            raise JobNotFoundError(f"cannot link message {message_id}: no job with id {job_id!r}") from exc
        return link_from_row(rows[0])

    async def job_for_message(self, message_id: int) -> Job | None:
        """The job a message shows: one lookup by primary keys, the path every button click takes."""
        params = (message_id,)
        rows = self._quick_fetch(_JOB_FOR_MESSAGE, params)
        if rows is None:
            rows = await self._fetch(_JOB_FOR_MESSAGE, params)
        return job_from_row(rows[0]) if rows else None

    async def link_for_message(self, message_id: int) -> MessageLink | None:
        """How a message is linked to its job (purpose, interaction token...), or None."""
        rows = await self._fetch(f"SELECT {LINK_COLUMNS} FROM message_links WHERE message_id = ?", (message_id,))
        return link_from_row(rows[0]) if rows else None

    async def messages_for_job(self, job_id: str) -> list[MessageLink]:
        """Every message that shows the job, oldest first."""
        sql = f"SELECT {LINK_COLUMNS} FROM message_links WHERE job_id = ? ORDER BY created_at, message_id"
        return [link_from_row(row) for row in await self._fetch(sql, (job_id,))]

    async def mark_delivered(self, message_id: int, status: str) -> None:
        """Note that the message now fully shows its job in ``status`` (an unknown message is ignored)."""
        await self._write("UPDATE message_links SET delivered = ? WHERE message_id = ?", (status, message_id))

    async def undelivered_links(self, limit: int = 500) -> list[tuple[MessageLink, Job]]:
        """Messages of finished jobs that do not show the job's final status yet, by when the job finished.

        What to render again at start-up: the process stopped between a job finishing and its messages
        being updated.
        """
        if limit <= 0:
            return []
        rows = await self._fetch(_UNDELIVERED_LINKS, (limit,))
        return [(link_from_row(row[:_LINK_WIDTH]), job_from_row(row[_LINK_WIDTH:])) for row in rows]

    async def unlink_message(self, message_id: int) -> None:
        """Forget a message (deleted on Discord, say); the job stays."""
        await self._write("DELETE FROM message_links WHERE message_id = ?", (message_id,))

    # -- settings ---------------------------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> dict[str, Any]:
        """The guild's settings object ({} when none were saved)."""
        return await self._settings("guild", guild_id)

    async def save_guild_settings(self, guild_id: int, settings: Mapping[str, Any]) -> None:
        """Replace the guild's settings object (callers merge)."""
        await self._save_settings("guild", guild_id, settings)

    async def user_settings(self, user_id: int) -> dict[str, Any]:
        """The user's settings object ({} when none were saved)."""
        return await self._settings("user", user_id)

    async def save_user_settings(self, user_id: int, settings: Mapping[str, Any]) -> None:
        """Replace the user's settings object (callers merge)."""
        await self._save_settings("user", user_id, settings)

    async def update_guild_settings(
        self, guild_id: int, change: Callable[[dict[str, Any]], Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Read, change and save the guild's settings in one transaction; returns what was saved.

        ``change`` gets the current object and returns the new one; it runs while the store is locked,
        so keep it short. If it raises, nothing is saved.
        """
        return await self._update_settings("guild", guild_id, change)

    async def update_user_settings(
        self, user_id: int, change: Callable[[dict[str, Any]], Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Like ``update_guild_settings``, for a user's settings."""
        return await self._update_settings("user", user_id, change)

    async def _update_settings(
        self, scope: str, key: int, change: Callable[[dict[str, Any]], Mapping[str, Any]]
    ) -> dict[str, Any]:
        table, column = _SETTINGS_TABLES[scope]
        async with self._transaction() as conn:
            rows = list(await conn.execute_fetchall(f"SELECT settings FROM {table} WHERE {column} = ?", (key,)))
            current = load_object(rows[0][0]) if rows else {}
            text = dump_object(change(current))
            await conn.execute(
                f"INSERT INTO {table} ({column}, settings, updated_at) VALUES (?, ?, ?) ON CONFLICT ({column}) "
                "DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
                (key, text, self._clock()),
            )
        return load_object(text)

    async def _settings(self, scope: str, key: int) -> dict[str, Any]:
        table, column = _SETTINGS_TABLES[scope]
        rows = await self._fetch(f"SELECT settings FROM {table} WHERE {column} = ?", (key,))
        return load_object(rows[0][0]) if rows else {}

    async def _save_settings(self, scope: str, key: int, settings: Mapping[str, Any]) -> None:
        table, column = _SETTINGS_TABLES[scope]
        sql = (
            f"INSERT INTO {table} ({column}, settings, updated_at) VALUES (?, ?, ?) "
            f"ON CONFLICT ({column}) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at"
        )
        await self._write(sql, (key, dump_object(settings), self._clock()))

    # -- usage ledger -----------------------------------------------------------------------------

    async def record_usage(
        self,
        *,
        job_id: str | None,
        guild_id: int | None,
        user_id: int | None,
        kind: str,
        action: str,
        units: float = 1.0,
    ) -> UsageEntry:
        """Append one line to the usage ledger, stamped with the clock."""
        rows = await self._fetch(
            "INSERT INTO usage_ledger (job_id, guild_id, user_id, kind, action, units, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {USAGE_COLUMNS}",
            (job_id, guild_id, user_id, kind, action, float(units), self._clock()),
        )
        return usage_from_row(rows[0])

    async def usage_since(
        self, since: float, *, guild_id: int | None = None, user_id: int | None = None
    ) -> list[UsageEntry]:
        """Ledger lines at or after ``since``, oldest first, for a guild and/or a user when given."""
        where, params = _usage_filter(since, guild_id, user_id)
        sql = f"SELECT {USAGE_COLUMNS} FROM usage_ledger WHERE {where} ORDER BY created_at, id"
        return [usage_from_row(row) for row in await self._fetch(sql, params)]

    async def usage_count(self, since: float, *, guild_id: int | None = None, user_id: int | None = None) -> int:
        """How many ledger lines (submitted jobs) at or after ``since``."""
        where, params = _usage_filter(since, guild_id, user_id)
        rows = await self._fetch(f"SELECT COUNT(*) FROM usage_ledger WHERE {where}", params)
        return int(rows[0][0])

    async def usage_total(self, since: float, *, guild_id: int | None = None, user_id: int | None = None) -> float:
        """The units used at or after ``since`` (0.0 when none)."""
        where, params = _usage_filter(since, guild_id, user_id)
        rows = await self._fetch(f"SELECT TOTAL(units) FROM usage_ledger WHERE {where}", params)
        return float(rows[0][0])


def _usage_filter(since: float, guild_id: int | None, user_id: int | None) -> tuple[str, list[Any]]:
    conditions = ["created_at >= ?"]
    params: list[Any] = [since]
    if guild_id is not None:
        conditions.append("guild_id = ?")
        params.append(guild_id)
    if user_id is not None:
        conditions.append("user_id = ?")
        params.append(user_id)
    return " AND ".join(conditions), params


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
