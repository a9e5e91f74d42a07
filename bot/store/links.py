# Statements here are put together from constant fragments (column lists, fixed conditions); every value
# goes through a placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""Message links: which Discord messages show which job, and what each has shown."""

from __future__ import annotations

from typing import Final

from .codec import JOB_COLUMNS, LINK_COLUMNS, job_from_row, link_from_row
from .connection import Database
from .errors import ConstraintError, JobNotFoundError
from .models import Job, MessageLink

_J_COLUMNS: Final = ", ".join(f"j.{name.strip()}" for name in JOB_COLUMNS.split(","))

_FINISHED: Final = "('succeeded', 'failed', 'cancelled', 'timed_out')"
_L_COLUMNS: Final = ", ".join(f"m.{name.strip()}" for name in LINK_COLUMNS.split(","))
_LINK_WIDTH: Final = len(LINK_COLUMNS.split(","))

_JOB_FOR_MESSAGE: Final = (
    f"SELECT {_J_COLUMNS} FROM message_links AS m JOIN jobs AS j ON j.id = m.job_id WHERE m.message_id = ?"
)
# Relinking a message to the same job keeps what it has shown; a new target has shown nothing yet.
_UPSERT_LINK: Final = (
    "INSERT INTO message_links (message_id, job_id, channel_id, guild_id, purpose, interaction_token, "
    "application_id, attachment_limit, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (message_id) DO UPDATE SET "
    "delivered = CASE WHEN message_links.job_id = excluded.job_id THEN message_links.delivered END, "
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


class LinkRepository:
    """The Discord messages that show jobs (replies, follow-ups, DMs), one row per message."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
            self._db.clock(),
        )
        try:
            rows = await self._db.fetch(_UPSERT_LINK, params)
        except ConstraintError as exc:
            raise JobNotFoundError(f"cannot link message {message_id}: no job with id {job_id!r}") from exc
        return link_from_row(rows[0])

    async def job_for_message(self, message_id: int) -> Job | None:
        """The job a message shows: one lookup by primary keys, the path every button click takes."""
        params = (message_id,)
        rows = self._db.quick_fetch(_JOB_FOR_MESSAGE, params)
        if rows is None:
            rows = await self._db.fetch(_JOB_FOR_MESSAGE, params)
        return job_from_row(rows[0]) if rows else None

    async def link_for_message(self, message_id: int) -> MessageLink | None:
        """How a message is linked to its job (purpose, interaction token...), or None."""
        rows = await self._db.fetch(f"SELECT {LINK_COLUMNS} FROM message_links WHERE message_id = ?", (message_id,))
        return link_from_row(rows[0]) if rows else None

    async def messages_for_job(self, job_id: str) -> list[MessageLink]:
        """Every message that shows the job, oldest first."""
        sql = f"SELECT {LINK_COLUMNS} FROM message_links WHERE job_id = ? ORDER BY created_at, message_id"
        return [link_from_row(row) for row in await self._db.fetch(sql, (job_id,))]

    async def mark_delivered(self, message_id: int, status: str) -> None:
        """Note that the message now fully shows its job in ``status`` (an unknown message is ignored)."""
        await self._db.write("UPDATE message_links SET delivered = ? WHERE message_id = ?", (status, message_id))

    async def undelivered_links(self, limit: int = 500) -> list[tuple[MessageLink, Job]]:
        """Messages of finished jobs that do not show the job's final status yet, by when the job finished.

        What to render again at start-up: the process stopped between a job finishing and its messages
        being updated.
        """
        if limit <= 0:
            return []
        rows = await self._db.fetch(_UNDELIVERED_LINKS, (limit,))
        return [(link_from_row(row[:_LINK_WIDTH]), job_from_row(row[_LINK_WIDTH:])) for row in rows]

    async def unlink_message(self, message_id: int) -> None:
        """Forget a message (deleted on Discord, say); the job stays."""
        await self._db.write("DELETE FROM message_links WHERE message_id = ?", (message_id,))
