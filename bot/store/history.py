# Statements here are put together from constant fragments (fixed conditions); every value goes through a
# placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608
"""A member's own jobs, newest first, filtered by prompt text, kind, status and age: what ``/history`` pages through.

The text matches anywhere in the prompt, in any case, and what the member typed is matched as typed: no
character of it is a wildcard. Case is folded by the pattern itself (``a`` becomes ``[aA]``, ``é`` becomes
``[éÉ]``), not by the database, so the match is the same on SQLite (whose ``LIKE`` folds ASCII letters only)
and on PostgreSQL whatever its locale: a ``GLOB`` on SQLite, a regular expression on PostgreSQL.

Both read the ``jobs_user_created`` index (member, creation time), newest first, and stop after the page; the
filters are checked on the member's rows as they come. Measured on 100,000 jobs of one member (``bench/
bench_history.py``), a page with its count takes 1 to 7 ms with any filter that matches, and about 90 ms (on
SQLite and on PostgreSQL alike) for a text that matches nothing, when the whole history is read: no index is
needed beyond ``jobs_user_created``, since a prompt's substring is no key an index could hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .codec import JOB_COLUMNS, dump_ids, job_from_row
from .connection import Database
from .models import Job, JobKind, JobStatus

#: What a member asks for by status, and the statuses it means: a job that is being sent counts as running,
#: and one that timed out as failed.
STATUS_GROUPS: Final[Mapping[str, tuple[JobStatus, ...]]] = {
    "succeeded": (JobStatus.SUCCEEDED,),
    "failed": (JobStatus.FAILED, JobStatus.TIMED_OUT),
    "running": (JobStatus.SUBMITTING, JobStatus.RUNNING),
    "queued": (JobStatus.QUEUED,),
    "cancelled": (JobStatus.CANCELLED,),
}

#: How far past a page's start the matching jobs are counted: a count of every match would read the member's whole
#: history for a common word, where the page itself stops after a few dozen rows.
COUNT_AHEAD: Final = 1_000

_FROM: Final = "FROM jobs INDEXED BY jobs_user_created WHERE user_id = ?"
_GLOB_SPECIAL: Final = frozenset("*?[]")


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryQuery:
    """Which of a member's jobs to list: all of them, or those whose prompt holds ``text``, of one ``kind``, in one
    of ``statuses`` (empty: any), created at or after ``since`` (Unix seconds)."""

    user_id: int
    text: str = ""
    kind: JobKind | None = None
    statuses: tuple[JobStatus, ...] = ()
    since: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a member's history: its jobs (newest first), where it starts, whether more come after it, and
    how many jobs match in all; counting stops ``COUNT_AHEAD`` jobs past the page's start (``total_capped``)."""

    jobs: tuple[Job, ...]
    offset: int
    has_more: bool
    total: int
    total_capped: bool = False


def glob_pattern(text: str) -> str:
    """SQLite's ``GLOB`` pattern for ``text`` anywhere, in any case; ``*``, ``?``, ``[`` and ``]`` stand for
    themselves."""
    return f"*{''.join(_glob_char(char) for char in text)}*"


def regex_pattern(text: str) -> str:
    """PostgreSQL's regular expression for ``text`` anywhere, in any case; nothing in it is special."""
    return "".join(_regex_char(char) for char in text)


def _cases(char: str) -> str:
    """The character and its other case (each only when it is one character), without repeats."""
    forms = [char, char.lower(), char.upper()]
    return "".join(dict.fromkeys(form for form in forms if len(form) == 1))


def _glob_char(char: str) -> str:
    cases = _cases(char)
    if len(cases) > 1:
        return f"[{cases}]"  # letters only: nothing in a class of them is special
    return f"[{char}]" if char in _GLOB_SPECIAL else char


def _regex_char(char: str) -> str:
    cases = _cases(char)
    if len(cases) > 1:
        return f"[{cases}]"
    if char.isalnum() or char == " ":
        return char
    return f"\\{char}"  # in PostgreSQL's regular expressions a backslash before any other character makes it plain


class HistoryRepository:
    """A member's jobs as pages, for ``/history``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def history(self, query: HistoryQuery, *, offset: int = 0, limit: int = 10) -> HistoryPage:
        """The jobs of ``query`` from ``offset`` (newest first), at most ``limit`` of them, and how many match."""
        conditions = [_FROM]
        params: list[Any] = [query.user_id]
        if query.since is not None:
            conditions.append("created_at >= ?")
            params.append(query.since)
        if query.kind is not None:
            conditions.append("kind = ?")
            params.append(query.kind.value)
        if query.statuses:
            conditions.append("status IN (SELECT value FROM json_each(?))")
            params.append(dump_ids(status.value for status in query.statuses))
        if query.text:
            if self._db.dialect == "postgres":
                conditions.append("prompt ~ ?")
                params.append(regex_pattern(query.text))
            else:
                conditions.append("prompt GLOB ?")
                params.append(glob_pattern(query.text))
        matching = " AND ".join(conditions)
        offset, limit = max(0, offset), max(0, limit)
        listed = f"SELECT {JOB_COLUMNS} {matching} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        counted = f"SELECT COUNT(*) FROM (SELECT 1 {matching} LIMIT ?) AS matching"
        (rows,) = await self._db.snapshot([(listed, (*params, limit + 1, offset))])
        jobs = tuple(job_from_row(row) for row in rows[:limit])
        has_more = len(rows) > limit
        if not has_more and (rows or offset == 0):
            return HistoryPage(jobs, offset, has_more, offset + len(jobs))  # the last page: nothing more to count
        cap = offset + COUNT_AHEAD
        ((count,),) = (await self._db.snapshot([(counted, (*params, cap + 1))]))[0]
        total = int(count)
        return HistoryPage(jobs, offset, has_more, min(total, cap), total_capped=total > cap)
