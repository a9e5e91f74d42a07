"""Rows to dataclasses and back: the one place that knows the column order of each SELECT."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .meta import EMPTY_META, JobMeta
from .models import Job, JobKind, JobStatus, MessageLink, UsageEntry

Row = tuple[Any, ...]

JOB_ID_LENGTH: Final = 10
_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"

JOB_COLUMNS: Final = (
    "id, kind, action, prompt, params, status, progress, created_at, updated_at, task_id, parent_id, guild_id, "
    "channel_id, user_id, submitted_at, finished_at, video_id, video_urls, image_id, image_url, raw_image_url, "
    "image_width, image_height, sub_image_urls, actions, error_code, error_message, meta"
)
LINK_COLUMNS: Final = (
    "message_id, job_id, channel_id, guild_id, purpose, created_at, interaction_token, application_id, "
    "attachment_limit, delivered"
)
USAGE_COLUMNS: Final = "id, job_id, guild_id, user_id, kind, action, units, created_at"

# Plain dict lookups: noticeably cheaper than calling the enum per row when thousands of jobs are resumed.
_KINDS: Final = {kind.value: kind for kind in JobKind}
_STATUSES: Final = {status.value: status for status in JobStatus}

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_decode = json.JSONDecoder().decode


def new_job_id() -> str:
    """A short, URL-safe random id: 10 characters of [a-z0-9], about 52 bits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(JOB_ID_LENGTH))


def dump_object(value: Mapping[str, Any]) -> str:
    return _encode(dict(value))


def dump_value(value: Any) -> str:
    """Any JSON value as text (``TypeError`` or ``ValueError`` for what JSON cannot hold)."""
    return _encode(value)


def load_object(text: str | None) -> dict[str, Any]:
    if not text or text == "{}":
        return {}
    value = _decode(text)
    return value if isinstance(value, dict) else {}


def dump_meta(meta: JobMeta) -> str:
    """A job's meta in its stored form (``{}`` when there is nothing)."""
    return _encode(meta.to_json()) if meta else "{}"


@functools.lru_cache(maxsize=4096)
def load_meta(text: str | None) -> JobMeta:
    """A job's meta from its stored form. Cached by text: a JobMeta never changes, and a poll reads the same
    meta of a thousand running jobs on every tick."""
    if not text or text == "{}":
        return EMPTY_META
    value = _decode(text)
    return JobMeta.from_json(value) if isinstance(value, dict) else EMPTY_META


def dump_list(values: Iterable[str]) -> str | None:
    """A JSON array, or NULL for an empty one (most jobs have no sub-images, and NULL costs nothing to read)."""
    items = list(values)
    return _encode(items) if items else None


def load_tuple(text: str | None) -> tuple[str, ...]:
    return tuple(_decode(text)) if text else ()


def dump_ids(ids: Iterable[str]) -> str:
    """Ids as one JSON array parameter, read back in SQL with ``json_each`` (no limit on how many)."""
    return _encode(list(ids))


def job_from_row(row: Row) -> Job:
    """A row of ``SELECT {JOB_COLUMNS}`` as a Job."""
    (
        job_id,
        kind,
        action,
        prompt,
        params,
        status,
        progress,
        created_at,
        updated_at,
        task_id,
        parent_id,
        guild_id,
        channel_id,
        user_id,
        submitted_at,
        finished_at,
        video_id,
        video_urls,
        image_id,
        image_url,
        raw_image_url,
        image_width,
        image_height,
        sub_image_urls,
        actions,
        error_code,
        error_message,
        meta,
    ) = row
    return Job(
        id=job_id,
        kind=_KINDS[kind],
        action=action,
        prompt=prompt,
        params=load_object(params),
        status=_STATUSES[status],
        progress=progress,
        created_at=created_at,
        updated_at=updated_at,
        task_id=task_id,
        parent_id=parent_id,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        submitted_at=submitted_at,
        finished_at=finished_at,
        video_id=video_id,
        video_urls=load_tuple(video_urls),
        image_id=image_id,
        image_url=image_url,
        raw_image_url=raw_image_url,
        image_width=image_width,
        image_height=image_height,
        sub_image_urls=load_tuple(sub_image_urls),
        actions=load_tuple(actions),
        error_code=error_code,
        error_message=error_message,
        meta=load_meta(meta),
    )


def link_from_row(row: Row) -> MessageLink:
    """A row of ``SELECT {LINK_COLUMNS}`` as a MessageLink."""
    (
        message_id,
        job_id,
        channel_id,
        guild_id,
        purpose,
        created_at,
        interaction_token,
        application_id,
        attachment_limit,
        delivered,
    ) = row
    return MessageLink(
        message_id=message_id,
        job_id=job_id,
        channel_id=channel_id,
        guild_id=guild_id,
        purpose=purpose,
        created_at=created_at,
        interaction_token=interaction_token,
        application_id=application_id,
        attachment_limit=attachment_limit,
        delivered=delivered,
    )


def usage_from_row(row: Row) -> UsageEntry:
    """A row of ``SELECT {USAGE_COLUMNS}`` as a UsageEntry."""
    entry_id, job_id, guild_id, user_id, kind, action, units, created_at = row
    return UsageEntry(
        id=entry_id,
        job_id=job_id,
        guild_id=guild_id,
        user_id=user_id,
        kind=kind,
        action=action,
        units=float(units),
        created_at=created_at,
    )
