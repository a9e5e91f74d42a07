# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""The queue and what runs: per-member queued jobs, their order, and the jobs taken on but unfinished."""

from __future__ import annotations

from typing import Any, Final

from .codec import JOB_COLUMNS, job_from_row
from .connection import Database
from .jobs import UNFINISHED
from .leases import HEARTBEAT
from .meta import META_VERSION
from .models import Job, Lease

# Each statement names the partial index it reads (whose WHERE it repeats word for word): the few
# unfinished jobs, not the many finished ones. Without INDEXED BY, SQLite may prefer jobs_guild_stats, which
# covers the columns but holds every job the server ever had.
_OWNER: Final = f"FROM jobs INDEXED BY jobs_owner_unfinished WHERE {UNFINISHED} AND user_id IS ? AND guild_id IS ?"
_RUNNING_COUNT: Final = f"SELECT COUNT(*) {_OWNER} AND status != 'queued'"
_NEXT_QUEUED: Final = f"SELECT {JOB_COLUMNS} {_OWNER} AND status = 'queued' ORDER BY created_at, rowid LIMIT 1"
_OWNER_JOBS: Final = f"SELECT {JOB_COLUMNS} {_OWNER} ORDER BY created_at, rowid LIMIT ?"
_QUEUED_OWNERS: Final = (
    f"SELECT user_id, guild_id, MIN(created_at) AS first, MIN(rowid) AS earliest FROM jobs INDEXED BY jobs_unfinished "
    f"WHERE {UNFINISHED} AND status = 'queued' GROUP BY user_id, guild_id ORDER BY first, earliest"
)
_QUEUED_GUILDS: Final = (
    "SELECT guild_id, MIN(created_at) AS first, MIN(rowid) AS earliest FROM jobs INDEXED BY jobs_owner_unfinished "
    f"WHERE {UNFINISHED} AND status = 'queued' AND user_id IS ? GROUP BY guild_id ORDER BY first, earliest"
)
_QUEUE_POSITION: Final = f"""
SELECT (SELECT COUNT(*) FROM jobs AS q INDEXED BY jobs_owner_unfinished
        WHERE q.{UNFINISHED} AND q.user_id IS j.user_id AND q.guild_id IS j.guild_id AND q.status = 'queued'
          AND (q.created_at < j.created_at OR (q.created_at = j.created_at AND q.rowid <= j.rowid)))
FROM jobs AS j WHERE j.id = ? AND j.status = 'queued'
"""
_UNFINISHED_JOBS: Final = f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_unfinished WHERE {UNFINISHED}"
_QUEUED_COUNT: Final = f"SELECT COUNT(*) FROM jobs INDEXED BY jobs_unfinished WHERE {UNFINISHED} AND status = 'queued'"
# Queued -> submitting, once: the row remembers when it was released, because the search for a task whose
# submit answer was lost looks around that moment (the job may have waited in the queue for hours).
# The JSON paths are those of JobMeta's stored form (bot/store/meta.py): QueueState.released_at.
_CLAIM_QUEUED: Final = (
    "UPDATE jobs SET status = 'submitting', updated_at = ?1, lease_owner = ?4, "
    "meta = json_set(meta, '$.v', ?3, '$.queue', "
    "json_set(coalesce(json_extract(meta, '$.queue'), '{}'), '$.released_at', ?1)) "
    f"WHERE id = ?2 AND status = 'queued' RETURNING {JOB_COLUMNS}"
)
_CLAIM_QUEUED_PG: Final = (
    "UPDATE jobs SET status = 'submitting', updated_at = ?1, lease_owner = ?4, "
    "meta = (meta::jsonb || jsonb_build_object("
    "'v', ?3::integer, 'queue', "
    "coalesce(meta::jsonb -> 'queue', '{}'::jsonb) || jsonb_build_object('released_at', ?1::float8)))::text "
    f"WHERE id = ?2 AND status = 'queued' RETURNING {JOB_COLUMNS}"
)


class QueueRepository:
    """Queued jobs and the ones submitting or running, by member and server."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def running_count(self, user_id: int | None, guild_id: int | None) -> int:
        """The member's jobs in this server (``None``: direct messages) that are submitting or running."""
        return int((await self._db.fetch(_RUNNING_COUNT, (user_id, guild_id)))[0][0])

    async def queued_count(self) -> int:
        """How many jobs wait in a queue, every member's and server's (read through the index of unfinished jobs)."""
        return int((await self._db.fetch(_QUEUED_COUNT))[0][0])

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
        return [job_from_row(row) for row in await self._db.fetch(sql, (*params, limit))]

    async def owner_jobs(self, user_id: int | None, guild_id: int | None, *, limit: int = 500) -> list[Job]:
        """The member's queued, submitting and running jobs in this server (``guild_id`` None: in direct messages),
        oldest first: their running jobs and their queue, in its order."""
        return [job_from_row(row) for row in await self._db.fetch(_OWNER_JOBS, (user_id, guild_id, limit))]

    async def next_queued(self, user_id: int | None, guild_id: int | None) -> Job | None:
        """The member's oldest queued job in this server (``guild_id`` None: in direct messages)."""
        rows = await self._db.fetch(_NEXT_QUEUED, (user_id, guild_id))
        return job_from_row(rows[0]) if rows else None

    async def queued_owners(self) -> list[tuple[int | None, int | None]]:
        """Every (user id, guild id) with queued jobs, the longest waiting first."""
        return [(user_id, guild_id) for user_id, guild_id, *_ in await self._db.fetch(_QUEUED_OWNERS)]

    async def queued_guilds(self, user_id: int | None) -> list[int | None]:
        """The servers (None: direct messages) where the member has queued jobs, the longest waiting first."""
        return [guild_id for guild_id, *_ in await self._db.fetch(_QUEUED_GUILDS, (user_id,))]

    async def queue_position(self, job_id: str) -> int | None:
        """Where a queued job stands among its owner's queued jobs in the same server (1: next); None if not queued."""
        rows = await self._db.fetch(_QUEUE_POSITION, (job_id,))
        return int(rows[0][0]) if rows else None

    async def claim_queued(self, job_id: str, *, lease: Lease | None = None) -> Job | None:
        """Move a queued job to SUBMITTING (noting ``meta.queue.released_at``); None if it is not queued (any more)."""
        sql = _CLAIM_QUEUED_PG if self._db.dialect == "postgres" else _CLAIM_QUEUED
        now = self._db.clock()
        owner = lease.owner if lease is not None else None
        if lease is not None:
            await self._db.write(HEARTBEAT, (lease.owner, now + lease.seconds))
        rows = await self._db.fetch(sql, (now, job_id, META_VERSION, owner))
        return job_from_row(rows[0]) if rows else None

    async def running_jobs(self, guild_id: int, *, limit: int = 500) -> list[Job]:
        """The server's queued, submitting and running jobs, oldest first."""
        sql = f"{_UNFINISHED_JOBS} AND guild_id = ? ORDER BY created_at, rowid LIMIT ?"
        return [job_from_row(row) for row in await self._db.fetch(sql, (guild_id, limit))]

    async def unsent_jobs(self, guild_id: int | None, user_id: int | None = None) -> list[Job]:
        """Queued and submitting jobs of a server (and member): taken on, but not in the usage ledger yet."""
        conditions = ["status != 'running'", "guild_id IS ?"]
        params: list[Any] = [guild_id]
        if user_id is not None:
            conditions.append("user_id = ?")
            params.append(user_id)
        sql = f"{_UNFINISHED_JOBS} AND {' AND '.join(conditions)} ORDER BY created_at, rowid"
        return [job_from_row(row) for row in await self._db.fetch(sql, params)]
