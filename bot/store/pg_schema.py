"""The store's schema in PostgreSQL: the SQLite schema at its latest version (``migrations.py``), as one set of
statements that creates it in an empty database.

The tables, their columns (same names, same order), keys and indexes match SQLite's, so that one set of queries
serves both and a store can be copied between them. Discord ids are BIGINT; times are DOUBLE PRECISION (Unix
seconds, as in SQLite); JSON is kept as the TEXT the store writes.

``mjbot_meta`` marks the database as mjbot's (``application``) and records ``schema_version``, which equals
``migrations.LATEST_VERSION``: a new SQLite migration needs its counterpart here (a test compares the two).
Every statement is ``IF NOT EXISTS`` (or ``ON CONFLICT DO NOTHING``), so running them again changes nothing.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 8

#: The statuses of a job that is not finished, as the partial indexes name them.
_UNFINISHED: Final = "('queued', 'submitting', 'running')"
_FINISHED: Final = "('succeeded', 'failed', 'cancelled', 'timed_out')"

# One video per upscale that asked to be animated, however many processes catch up on it (version 7).
_CHAINED_ONCE: Final = (
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_chained_once ON jobs ((meta::jsonb ->> 'chained_from')) "
    "WHERE (meta::jsonb ->> 'chained_from') IS NOT NULL",
)

# Leases by heartbeat: one row per process, and the jobs it holds found by their holder (version 8).
_LEASE_OWNERS: Final = (
    "CREATE TABLE IF NOT EXISTS lease_owners (owner TEXT PRIMARY KEY NOT NULL, until DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jobs_lease_owner ON jobs (lease_owner) WHERE status IN ('submitting', 'running')",
)

#: What brings a database of an older version up to the next: ``UPGRADES[n]`` turns version n - 1 into n.
UPGRADES: Final[dict[int, tuple[str, ...]]] = {
    7: (
        "UPDATE jobs SET meta = (meta::jsonb - 'chained_from')::text WHERE (meta::jsonb ->> 'chained_from') IS NOT "
        "NULL AND seq NOT IN (SELECT MIN(seq) FROM jobs WHERE (meta::jsonb ->> 'chained_from') IS NOT NULL "
        "GROUP BY meta::jsonb ->> 'chained_from')",
        *_CHAINED_ONCE,
    ),
    8: (
        *_LEASE_OWNERS,
        "DROP INDEX IF EXISTS jobs_leases",
        "ALTER TABLE jobs DROP COLUMN IF EXISTS lease_until",
    ),
}

SCHEMA: Final[tuple[str, ...]] = (
    """
CREATE TABLE IF NOT EXISTS mjbot_meta (
    key     TEXT PRIMARY KEY,
    value   TEXT
)""",
    # The version here is SCHEMA_VERSION's (a test checks it).
    "INSERT INTO mjbot_meta (key, value) VALUES ('application', 'mjbot'), ('schema_version', '8') "
    "ON CONFLICT (key) DO NOTHING",
    """
CREATE TABLE IF NOT EXISTS jobs (
    id              TEXT PRIMARY KEY NOT NULL,
    task_id         TEXT UNIQUE,
    kind            TEXT NOT NULL,
    action          TEXT NOT NULL,
    parent_id       TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    guild_id        BIGINT,
    channel_id      BIGINT,
    user_id         BIGINT,
    prompt          TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
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
    created_at      DOUBLE PRECISION NOT NULL,
    updated_at      DOUBLE PRECISION NOT NULL,
    submitted_at    DOUBLE PRECISION,
    finished_at     DOUBLE PRECISION,
    meta            TEXT NOT NULL DEFAULT '{}',
    lease_owner     TEXT,
    -- SQLite's implicit rowid: the order jobs were written in, which breaks ties between equal times.
    seq             BIGINT GENERATED ALWAYS AS IDENTITY
)""",
    # Partial indexes: they stay small however many finished jobs pile up.
    f"CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (created_at) WHERE status IN {_UNFINISHED}",
    "CREATE INDEX IF NOT EXISTS jobs_user_created ON jobs (user_id, created_at)",
    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at)",
    "CREATE INDEX IF NOT EXISTS jobs_parent ON jobs (parent_id)",
    # SQLite's json_extract(meta, '$.then_animate') IS NOT NULL: ->> also gives NULL for a JSON null.
    "CREATE INDEX IF NOT EXISTS jobs_then_animate ON jobs (finished_at) "
    "WHERE (meta::jsonb ->> 'then_animate') IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS jobs_owner_unfinished ON jobs (user_id, guild_id, created_at) "
    f"WHERE status IN {_UNFINISHED}",
    "CREATE INDEX IF NOT EXISTS jobs_guild_stats ON jobs (guild_id, created_at, user_id, status, finished_at)",
    # Who holds which job, and their heartbeats (version 8).
    *_LEASE_OWNERS,
    *_CHAINED_ONCE,
    # attachment_limit is a size in bytes: BIGINT, where SQLite's INTEGER is 64 bits anyway.
    """
CREATE TABLE IF NOT EXISTS message_links (
    message_id          BIGINT PRIMARY KEY,
    job_id              TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    channel_id          BIGINT,
    guild_id            BIGINT,
    purpose             TEXT NOT NULL DEFAULT 'job',
    interaction_token   TEXT,
    application_id      BIGINT,
    created_at          DOUBLE PRECISION NOT NULL,
    attachment_limit    BIGINT,
    delivered           TEXT
)""",
    "CREATE INDEX IF NOT EXISTS message_links_job ON message_links (job_id)",
    "CREATE INDEX IF NOT EXISTS message_links_undelivered ON message_links (job_id) "
    f"WHERE delivered IS NULL OR delivered NOT IN {_FINISHED}",
    """
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id    BIGINT PRIMARY KEY,
    settings    TEXT NOT NULL DEFAULT '{}',
    updated_at  DOUBLE PRECISION NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS user_settings (
    user_id     BIGINT PRIMARY KEY,
    settings    TEXT NOT NULL DEFAULT '{}',
    updated_at  DOUBLE PRECISION NOT NULL
)""",
    # The ledger keeps job_id as plain text (no foreign key) so that it outlives deleted jobs. Ids are never reused,
    # as with SQLite's AUTOINCREMENT; BY DEFAULT lets a copied store keep its ids (the copy then moves the sequence).
    """
CREATE TABLE IF NOT EXISTS usage_ledger (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    job_id      TEXT,
    guild_id    BIGINT,
    user_id     BIGINT,
    kind        TEXT NOT NULL,
    action      TEXT NOT NULL,
    units       DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    created_at  DOUBLE PRECISION NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS usage_ledger_guild_created ON usage_ledger (guild_id, created_at)",
    "CREATE INDEX IF NOT EXISTS usage_ledger_user_created ON usage_ledger (user_id, created_at)",
    "CREATE INDEX IF NOT EXISTS usage_ledger_created ON usage_ledger (created_at)",
)
