# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""Leases: which process follows each unfinished job that was sent to the API.

A process names itself with an owner id and holds a job while ``lease_until`` lies ahead, renewing
its leases on every poll tick. A lease that ran out (its process died, or hung longer than the
lease) is anyone's to take: the first process whose claim reaches the row gets it. On PostgreSQL the
claim skips rows another process is claiming at that moment (``FOR UPDATE SKIP LOCKED``), so two
claims never wait on each other or take the same job; on SQLite a write holds the whole file.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Final

from .codec import JOB_COLUMNS, dump_ids, job_from_row
from .connection import Database
from .models import Job, Lease

# Jobs sent (or being sent) to the API; queued jobs wait for their owner's slot and need no lease.
_HELD: Final = "status IN ('submitting', 'running')"
_FREE: Final = "(lease_until IS NULL OR lease_until < ?1)"
_TAKE_OVER: Final = (
    "UPDATE jobs SET lease_owner = ?2, lease_until = ?3 WHERE id IN ("
    f"SELECT id FROM jobs WHERE {_HELD} AND {_FREE} ORDER BY created_at, id LIMIT ?4) "
    f"AND {_HELD} AND {_FREE} RETURNING {JOB_COLUMNS}"
)
# The rows are chosen once, in a CTE, and locked as they are chosen; a row another claim has locked is passed
# over rather than waited for (and then found taken).
_TAKE_OVER_PG: Final = (
    f"WITH free AS (SELECT id FROM jobs WHERE {_HELD} AND {_FREE} ORDER BY created_at, id LIMIT ?4 "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs SET lease_owner = ?2, lease_until = ?3 FROM free WHERE jobs.id = free.id "
    f"RETURNING {', '.join('jobs.' + name.strip() for name in JOB_COLUMNS.split(','))}"
)
_TAKE_ALL: Final = f"UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE {_HELD} RETURNING {JOB_COLUMNS}"


def new_owner_id() -> str:
    """A name for this process's leases: the host, the process id and a random part (a pid can come again)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LeaseRepository:
    """Take, renew and give back the leases of unfinished jobs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take_over(self, lease: Lease, *, limit: int = 10_000, everything: bool = False) -> list[Job]:
        """Claim sent, unfinished jobs whose lease ran out (or that never had one), oldest first.

        ``everything``: claim every sent, unfinished job whatever its lease says; only for a process that
        knows it is alone on the store (an SQLite file it holds exclusively), whose predecessor's leases are
        void because that process is gone.
        """
        now = self._db.clock()
        if everything:
            rows = await self._db.fetch(_TAKE_ALL, (lease.owner, now + lease.seconds))
        else:
            sql = _TAKE_OVER_PG if self._db.dialect == "postgres" else _TAKE_OVER
            rows = await self._db.fetch(sql, (now, lease.owner, now + lease.seconds, limit))
        jobs = [job_from_row(row) for row in rows]
        jobs.sort(key=lambda job: job.created_at)
        return jobs

    async def renew(self, lease: Lease) -> set[str]:
        """Push back the end of every lease this owner holds on a sent, unfinished job; returns those job ids.

        A job missing from the answer was finished (here or by another process), or its lease ran out and
        another process took it.
        """
        now = self._db.clock()
        rows = await self._db.fetch(
            f"UPDATE jobs SET lease_until = ?1 WHERE lease_owner = ?2 AND {_HELD} RETURNING id",
            (now + lease.seconds, lease.owner),
        )
        return {row[0] for row in rows}

    async def hold(self, job_id: str, lease: Lease) -> bool:
        """Take the lease of one job (one this process is about to send); False if the job is not unfinished."""
        now = self._db.clock()
        changed = await self._db.write(
            "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ? AND status IN ('queued', 'submitting', "
            "'running')",
            (lease.owner, now + lease.seconds, job_id),
        )
        return changed > 0

    async def take_if_free(self, job_id: str, lease: Lease) -> bool:
        """Take one sent, unfinished job's lease if nobody holds it (it ran out, or never was); True if taken or
        already this owner's."""
        now = self._db.clock()
        changed = await self._db.write(
            f"UPDATE jobs SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3 AND {_HELD} "
            "AND (lease_until IS NULL OR lease_until < ?4 OR lease_owner = ?1)",
            (lease.owner, now + lease.seconds, job_id, now),
        )
        return changed > 0

    async def give_back(self, lease: Lease) -> int:
        """End every lease this owner holds at once (a clean stop), so that another process takes the jobs over
        on its next tick; returns how many."""
        return await self._db.write(
            f"UPDATE jobs SET lease_until = 0 WHERE lease_owner = ? AND {_HELD}", (lease.owner,)
        )

    async def holders(self, job_ids: list[str]) -> dict[str, tuple[str | None, float | None]]:
        """Who holds each of these jobs and until when (unknown ids are left out)."""
        if not job_ids:
            return {}
        rows = await self._db.fetch(
            "SELECT id, lease_owner, lease_until FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
            (dump_ids(job_ids),),
        )
        return {job_id: (owner, until) for job_id, owner, until in rows}
