"""The schema as an ordered list of SQL scripts; ``PRAGMA user_version`` counts how many have been applied.

A released script never changes: a new schema version is a new script appended to ``MIGRATIONS``.
Foreign keys stay ON while scripts run, so a future script that rebuilds a referenced table must
switch them off outside its transaction first (SQLite ignores that pragma inside a transaction).
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Final

import aiosqlite

# Written into the file header so that another application's SQLite file is refused, not "upgraded".
APPLICATION_ID: Final = 0x6D6A6274  # "mjbt"

# Version 1: jobs and the Discord messages that show them.
_V1: Final = f"""
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY NOT NULL,
    task_id         TEXT UNIQUE,
    kind            TEXT NOT NULL,
    action          TEXT NOT NULL,
    parent_id       TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    guild_id        INTEGER,
    channel_id      INTEGER,
    user_id         INTEGER,
    prompt          TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{{}}',
    status          TEXT NOT NULL,
    progress        INTEGER NOT NULL DEFAULT 0,
    video_id        TEXT,
    video_urls      TEXT,
    image_id        TEXT,
    image_url       TEXT,
    raw_image_url   TEXT,
    image_width     INTEGER,
    image_height    INTEGER,
    sub_image_urls  TEXT,
    actions         TEXT,
    error_code      TEXT,
    error_message   TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    submitted_at    REAL,
    finished_at     REAL
);
-- Partial index: stays small however many finished jobs pile up; resuming reads it in created_at order.
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status IN ('queued', 'submitting', 'running');
CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_parent ON jobs (parent_id);

CREATE TABLE message_links (
    message_id          INTEGER PRIMARY KEY,
    job_id              TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    channel_id          INTEGER,
    guild_id            INTEGER,
    purpose             TEXT NOT NULL DEFAULT 'job',
    interaction_token   TEXT,
    application_id      INTEGER,
    created_at          REAL NOT NULL
);
CREATE INDEX message_links_job ON message_links (job_id);

PRAGMA application_id = {APPLICATION_ID};
"""

# Version 2: per-guild and per-user settings, and the usage ledger behind quotas and /usage.
# The ledger keeps job_id as plain text (no foreign key) so that it outlives deleted jobs.
_V2: Final = """
CREATE TABLE guild_settings (
    guild_id    INTEGER PRIMARY KEY,
    settings    TEXT NOT NULL DEFAULT '{}',
    updated_at  REAL NOT NULL
);

CREATE TABLE user_settings (
    user_id     INTEGER PRIMARY KEY,
    settings    TEXT NOT NULL DEFAULT '{}',
    updated_at  REAL NOT NULL
);

CREATE TABLE usage_ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      TEXT,
    guild_id    INTEGER,
    user_id     INTEGER,
    kind        TEXT NOT NULL,
    action      TEXT NOT NULL,
    units       REAL NOT NULL DEFAULT 1.0,
    created_at  REAL NOT NULL
);
CREATE INDEX usage_ledger_guild_created ON usage_ledger (guild_id, created_at);
CREATE INDEX usage_ledger_user_created ON usage_ledger (user_id, created_at);
CREATE INDEX usage_ledger_created ON usage_ledger (created_at);
"""

# Version 3: bot-side metadata on jobs; on message links, the interaction's attachment size limit and the last
# job status rendered on the message. Links made before this version showed whatever their finished job ended
# with, so they count as delivered: nothing old is re-rendered after the upgrade.
_V3: Final = """
ALTER TABLE jobs ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
ALTER TABLE message_links ADD COLUMN attachment_limit INTEGER;
ALTER TABLE message_links ADD COLUMN delivered TEXT;
UPDATE message_links SET delivered = (
    SELECT status FROM jobs
    WHERE jobs.id = message_links.job_id AND status IN ('succeeded', 'failed', 'cancelled', 'timed_out')
);
-- Partial indexes: the links still to render, and the jobs that start a chain, stay few however many
-- finished jobs pile up.
CREATE INDEX message_links_undelivered ON message_links (job_id)
    WHERE delivered IS NULL OR delivered NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out');
CREATE INDEX jobs_then_animate ON jobs (finished_at) WHERE json_extract(meta, '$.then_animate') IS NOT NULL;
"""

# Version 4: quotas and the queue count a member's unfinished jobs in one server on every command, and /admin
# stats sums up a server's jobs over weeks. The first index answers the counts from a few entries however many
# finished jobs there are; the second carries every column the statistics read, so they never touch the table
# (it starts like jobs_guild_created, which it replaces).
_V4: Final = """
CREATE INDEX jobs_owner_unfinished ON jobs (user_id, guild_id, created_at)
    WHERE status IN ('queued', 'submitting', 'running');
CREATE INDEX jobs_guild_stats ON jobs (guild_id, created_at, user_id, status, finished_at);
DROP INDEX jobs_guild_created;
"""

# Version 5: job metadata in its typed, versioned form (JobMeta in bot/store/meta.py, "v": 2); empty metadata stays
# '{}'. The queue's notes (queued_for.limit, released_at) become "queue", the DM notes (dm_sent, dm_result) become
# "delivery", and the frames lose a version of their own (1 was the only one written; no other was ever read).
_V5: Final = """
UPDATE jobs SET meta = json_set(meta, '$.queue', json_patch('{}', json_object(
    'limit', json_extract(meta, '$.queued_for.limit'), 'released_at', json_extract(meta, '$.released_at'))))
WHERE meta != '{}' AND json_valid(meta)
    AND (json_type(meta, '$.queued_for') = 'object' OR json_type(meta, '$.released_at') IN ('integer', 'real'));
UPDATE jobs SET meta = json_set(meta, '$.delivery', json_patch('{}', json_object(
    'dm_sent', json(CASE WHEN json_type(meta, '$.dm_sent') = 'true' THEN 'true' END),
    'dm_result', json(CASE WHEN json_type(meta, '$.dm_result') = 'true' THEN 'true' END))))
WHERE meta != '{}' AND json_valid(meta) AND 'true' IN (json_type(meta, '$.dm_sent'), json_type(meta, '$.dm_result'));
UPDATE jobs SET meta = CASE WHEN json_extract(meta, '$.frames.v') = 1 THEN json_remove(meta, '$.frames.v')
    ELSE json_remove(meta, '$.frames') END
WHERE meta != '{}' AND json_valid(meta) AND json_type(meta, '$.frames') IS NOT NULL;
UPDATE jobs
SET meta = json_set(json_remove(meta, '$.queued_for', '$.released_at', '$.dm_sent', '$.dm_result'), '$.v', 2)
WHERE meta != '{}' AND json_valid(meta) AND json_type(meta) = 'object';
"""

# Version 6: several processes may share the store. Each unfinished job that was sent to the API is followed by
# one process at a time: the one named in lease_owner, for as long as lease_until (unix seconds) lies ahead and
# it keeps renewing; an expired lease is anyone's to take. Jobs of older versions have no lease: the first
# process to start takes them over.
_V6: Final = """
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until REAL;
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status IN ('submitting', 'running');
"""

# Version 7: an upscale that asked to be animated gets one video, however many processes catch up on it at once:
# the child that carries out the chain (meta.chained_from) is unique per upscale. Older stores could not have two,
# short of a bug; if one did, only its first keeps the mark.
_V7: Final = """
UPDATE jobs SET meta = json_remove(meta, '$.chained_from')
WHERE json_extract(meta, '$.chained_from') IS NOT NULL AND rowid NOT IN (
    SELECT MIN(rowid) FROM jobs WHERE json_extract(meta, '$.chained_from') IS NOT NULL
    GROUP BY json_extract(meta, '$.chained_from'));
CREATE UNIQUE INDEX jobs_chained_once ON jobs (json_extract(meta, '$.chained_from'))
    WHERE json_extract(meta, '$.chained_from') IS NOT NULL;
"""

# Version 8: a lease is renewed by its holder's heartbeat, one row per process (lease_owners), instead of a time
# on every job it holds: renewing costs one write however many jobs a process follows, and when a process stops
# renewing, all of its jobs are free at once. A job now names only its holder; leases of version 6 name holders
# with no heartbeat, so their jobs are free and the first process to start takes them over.
_V8: Final = """
CREATE TABLE lease_owners (
    owner   TEXT PRIMARY KEY NOT NULL,
    until   REAL NOT NULL
);
DROP INDEX jobs_leases;
ALTER TABLE jobs DROP COLUMN lease_until;
CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE status IN ('submitting', 'running');
"""

MIGRATIONS: Final[tuple[str, ...]] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
LATEST_VERSION: Final = len(MIGRATIONS)


def split_statements(script: str) -> list[str]:
    """Split a script into complete statements, so that each can run inside one explicit transaction."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration script: {pending.strip()[:60]!r}")
    return statements


async def read_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


async def read_application_id(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA application_id"))
    return int(rows[0][0])


async def upgrade_step(conn: aiosqlite.Connection, *, target: int = LATEST_VERSION) -> int | None:
    """Apply the next script in one transaction, if the file is below ``target``; return the new version.

    The version is read again after taking the write lock, so two processes opening the same file at
    once never apply a script twice. Returns None when there is nothing to do. ``conn`` must be in
    autocommit mode (``isolation_level=None``).
    """
    await conn.execute("BEGIN IMMEDIATE")
    try:
        version = await read_version(conn)
        if version >= target or version >= LATEST_VERSION:
            await conn.execute("COMMIT")
            return None
        for statement in split_statements(MIGRATIONS[version]):
            await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version = {version + 1:d}")
        await conn.execute("COMMIT")
    except BaseException:
        await rollback_quietly(conn)
        raise
    return version + 1


async def rollback_quietly(conn: aiosqlite.Connection) -> None:
    """Roll back after a failure; SQLite may already have rolled back on its own (and then says so)."""
    with contextlib.suppress(sqlite3.OperationalError):
        await conn.execute("ROLLBACK")
