"""What the store hands out: frozen dataclasses named by intent. Rows never leave ``bot.store``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from bot.acedata.bodies import request_from_body
from bot.acedata.models import ApiRequest, Endpoint

from .meta import EMPTY_META, JobMeta


class JobKind(enum.StrEnum):
    VIDEO = "video"
    IMAGINE = "imagine"


class JobStatus(enum.StrEnum):
    """A job's life: queued -> submitting -> running -> succeeded | failed | cancelled | timed_out."""

    QUEUED = "queued"  # waiting for the owner's concurrency slot; nothing sent to the API yet
    SUBMITTING = "submitting"  # written, API call in flight: a crash here is reconciled at start-up
    RUNNING = "running"  # the API accepted it and gave a task id
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT})
UNFINISHED_STATUSES: tuple[JobStatus, ...] = (JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.RUNNING)
_ENDPOINTS: Final = {JobKind.VIDEO: Endpoint.VIDEOS, JobKind.IMAGINE: Endpoint.IMAGINE}


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a caller asks for; the store adds the id, status and timestamps."""

    kind: JobKind
    action: str  # generate, extend, upscale1, variation_subtle, reroll, ...
    prompt: str
    params: Mapping[str, Any] = field(default_factory=dict)  # the API request body, as sent
    parent_id: str | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    user_id: int | None = None
    status: JobStatus = JobStatus.SUBMITTING
    meta: JobMeta = EMPTY_META  # the bot's own notes (never sent to the API)


@dataclass(frozen=True, slots=True)
class Job:
    """One generation job and everything known about its result."""

    id: str
    kind: JobKind
    action: str
    prompt: str
    params: Mapping[str, Any]
    status: JobStatus
    progress: int
    created_at: float
    updated_at: float
    task_id: str | None = None
    parent_id: str | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    user_id: int | None = None
    submitted_at: float | None = None
    finished_at: float | None = None
    video_id: str | None = None
    video_urls: tuple[str, ...] = ()
    image_id: str | None = None
    image_url: str | None = None
    raw_image_url: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    sub_image_urls: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    meta: JobMeta = EMPTY_META

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def request(self) -> ApiRequest | None:
        """The typed request the job was made from (its stored body read back); None if the body is not one.

        Read on use rather than with the row: resuming reads thousands of rows and needs few requests.
        """
        return request_from_body(_ENDPOINTS[self.kind], self.params)


@dataclass(frozen=True, slots=True)
class JobResult:
    """The result fields the engine writes when a task finishes (or reports progress)."""

    video_id: str | None = None
    video_urls: tuple[str, ...] = ()
    image_id: str | None = None
    image_url: str | None = None
    raw_image_url: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    sub_image_urls: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()


class SavedProgress(NamedTuple):
    """A job whose progress ``Store.update_progress_many`` raised, with the columns others may change meanwhile.

    A named tuple, not a dataclass: a busy poll tick writes a thousand of these, and they only
    carry the write's outcome to the engine.
    """

    job_id: str
    progress: int
    updated_at: float
    parent_id: str | None
    meta: JobMeta


@dataclass(frozen=True, slots=True)
class MessageLink:
    """A Discord message that shows a job (the job's message, a DM copy, a /show repost...)."""

    message_id: int
    job_id: str
    channel_id: int | None
    guild_id: int | None
    purpose: str  # "job", "dm", "show", ...
    created_at: float
    interaction_token: str | None = None  # usable for 15 minutes to edit the original response
    application_id: int | None = None
    attachment_limit: int | None = None  # bytes a file on this message may have (the interaction's limit)
    delivered: str | None = None  # the last job status fully rendered on this message


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """One line of the usage ledger: a job that was submitted, and what it cost in units."""

    id: int
    job_id: str | None
    guild_id: int | None
    user_id: int | None
    kind: str
    action: str
    units: float
    created_at: float


@dataclass(frozen=True, slots=True)
class FinishItem:
    """One job to finish in ``JobRepository.finish_many``: a finished status and what is known about the outcome."""

    job_id: str
    status: JobStatus
    result: JobResult | None = None
    error_code: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if not self.status.finished:
            raise ValueError(f"{self.status} is not a finished status")


@dataclass(frozen=True, slots=True)
class Lease:
    """A process's claim on the jobs it follows: its owner id, and how long each renewal lasts (seconds)."""

    owner: str
    seconds: float
