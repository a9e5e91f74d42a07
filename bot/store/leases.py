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
# A job is free when nobody holds it, or its holder's heartbeat ran out (?1 is now).
_FREE: Final = (
    "(lease_owner IS NULL OR NOT EXISTS (SELECT 1 FROM lease_owners AS o "
    "WHERE o.owner = jobs.lease_owner AND o.until >= ?1))"
)
_TAKE_OVER: Final = (
    "UPDATE jobs SET lease_owner = ?2 WHERE id IN ("
    f"SELECT id FROM jobs WHERE {_HELD} AND {_FREE} ORDER BY created_at, id LIMIT ?3) "
    f"AND {_HELD} AND {_FREE} RETURNING {JOB_COLUMNS}"
)
# The rows are chosen once, in a CTE, and locked as they are chosen; a row another claim has locked is passed
# over rather than waited for (and then found taken).
_TAKE_OVER_PG: Final = (
    f"WITH free AS (SELECT id FROM jobs WHERE {_HELD} AND {_FREE} ORDER BY created_at, id LIMIT ?3 "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs SET lease_owner = ?2 FROM free WHERE jobs.id = free.id "
    f"RETURNING {', '.join('jobs.' + name.strip() for name in JOB_COLUMNS.split(','))}"
)
_TAKE_ALL: Final = f"UPDATE jobs SET lease_owner = ? WHERE {_HELD} RETURNING {JOB_COLUMNS}"
HEARTBEAT: Final = (
    "INSERT INTO lease_owners (owner, until) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET until = excluded.until"
)
#: Owners silent this long are forgotten (their jobs were free long before).
_FORGET_AFTER_S: Final = 86_400.0


def new_owner_id() -> str:
    """A name for this process's leases: the host, the process id and a random part (a pid can come again)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LeaseRepository:
    """Take, renew and give back the leases of unfinished jobs.

    A lease is two things: the job names its holder (``jobs.lease_owner``), and the holder keeps a heartbeat
    (``lease_owners.until``). Renewing is one write per process, however many jobs it holds; when a holder's
    heartbeat runs out, every one of its jobs is free at once.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def heartbeat(self, lease: Lease) -> None:
        """Say this owner is alive for another ``lease.seconds``."""
        await self._db.write(HEARTBEAT, (lease.owner, self._db.clock() + lease.seconds))

    async def take_over(self, lease: Lease, *, limit: int = 10_000, everything: bool = False) -> list[Job]:
        """Claim sent, unfinished jobs that nobody holds (or whose holder's heartbeat ran out), oldest first.

        ``everything``: claim every sent, unfinished job whoever holds it; only for a process that knows it is
        alone on the store (an SQLite file it holds exclusively), whose predecessor is gone.
        """
        await self.heartbeat(lease)
        if everything:
            rows = await self._db.fetch(_TAKE_ALL, (lease.owner,))
        else:
            sql = _TAKE_OVER_PG if self._db.dialect == "postgres" else _TAKE_OVER
            rows = await self._db.fetch(sql, (self._db.clock(), lease.owner, limit))
        jobs = [job_from_row(row) for row in rows]
        jobs.sort(key=lambda job: job.created_at)
        return jobs

    async def renew(self, lease: Lease) -> set[str]:
        """Renew this owner's heartbeat; returns the sent, unfinished jobs it holds.

        A job missing from the answer was finished (here or by another process), or its lease ran out and
        another process took it.
        """
        now = self._db.clock()
        await self._db.write(HEARTBEAT, (lease.owner, now + lease.seconds))
        await self._db.write("DELETE FROM lease_owners WHERE until < ?", (now - _FORGET_AFTER_S,))
        rows = await self._db.fetch(f"SELECT id FROM jobs WHERE lease_owner = ? AND {_HELD}", (lease.owner,))
        return {row[0] for row in rows}

    async def hold(self, job_id: str, lease: Lease) -> bool:
        """Take the lease of one job (one this process is about to send); False if the job is not unfinished."""
        await self.heartbeat(lease)
        changed = await self._db.write(
            "UPDATE jobs SET lease_owner = ? WHERE id = ? AND status IN ('queued', 'submitting', 'running')",
            (lease.owner, job_id),
        )
        return changed > 0

    async def take_if_free(self, job_id: str, lease: Lease) -> bool:
        """Take one sent, unfinished job's lease if nobody holds it (its holder's heartbeat ran out, or there was
        none); True if taken or already this owner's."""
        await self.heartbeat(lease)
        changed = await self._db.write(
            f"UPDATE jobs SET lease_owner = ?2 WHERE id = ?3 AND {_HELD} AND (lease_owner = ?2 OR {_FREE})",
            (self._db.clock(), lease.owner, job_id),
        )
        return changed > 0

    async def give_back(self, lease: Lease) -> int:
        """End this owner's leases at once (a clean stop), so that another process takes its jobs over on its
        next tick; returns how many jobs it held."""
        rows = await self._db.fetch(f"SELECT COUNT(*) FROM jobs WHERE lease_owner = ? AND {_HELD}", (lease.owner,))
        await self._db.write("DELETE FROM lease_owners WHERE owner = ?", (lease.owner,))
        return int(rows[0][0])

    async def holders(self, job_ids: list[str]) -> dict[str, tuple[str | None, float | None]]:
        """Who holds each of these jobs and until when their heartbeat lasts (unknown ids are left out)."""
        if not job_ids:
            return {}
        rows = await self._db.fetch(
            "SELECT j.id, j.lease_owner, o.until FROM jobs AS j LEFT JOIN lease_owners AS o ON o.owner = j.lease_owner "
            "WHERE j.id IN (SELECT value FROM json_each(?))",
            (dump_ids(job_ids),),
        )
        return {job_id: (owner, until) for job_id, owner, until in rows}
