"""Finding out what became of a job whose submit answer never reached the store.

A job is written (status ``submitting``) before its submit is sent, so a crash, a timeout or a
5xx between the two leaves a row with no task id, and nobody knows whether the API created (and
charged for) a task. The rule, applied at start-up and on later poll ticks:

1. Search the tasks created from ``sent - SEARCH_SLACK_S`` to ``sent + job_timeout_s
   + SEARCH_SLACK_S``, where ``sent`` is when the job was created or, for a job that waited in the
   queue, released (every attempt for the job falls in that window) and compare each task's
   ``request`` with the job's params, ignoring the keys the client adds (``async``,
   ``callback_url``). A task that already belongs to another job is skipped; among several
   matches the earliest wins. Found: the job adopts that task id and is tracked; it is not sent
   again, so it is not paid twice.
2. Not found, and the last attempt is younger than the grace period: wait. The task search may lag
   behind a submit, and an attempt may still be on its way.
3. Not found, and the job was first sent more than ``job_timeout_s`` ago: fail it with a clear reason; a result
   could not arrive in time anyway.
4. Not found otherwise: the API never created the task, so nothing was paid; send it again on the
   same row.

A failed search decides nothing, so it never leads to a resend. A transient failure (5xx, 429, a
timeout, no connection) is tried again with a growing, jittered pause. A permanent one (400, 401,
403, 404: the API refuses the search itself, which asking again will not change) stops the searching
for that job in this process. Either way the job is failed once ``job_timeout_s`` has passed since it
was first sent, with a reason that says the API may have created (and charged for) the task.

Why a refused search waits for the time-out rather than failing the job at once: failing early would
throw away the only way to find a task that may have been paid for. A refused search is nearly always
a setting (the token, the base URL) that the operator mends with a restart, and a restart searches
again; the member's running slot is held no longer than a job that runs to its time-out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from bot.acedata.bodies import request_from_body
from bot.acedata.errors import (
    AceDataError,
    ConnectionFailedError,
    RequestTimeoutError,
    ServerError,
    UnexpectedResponseError,
)
from bot.acedata.models import ApiRequest, Endpoint, TaskRecord
from bot.acedata.retry import RetryPolicy
from bot.store.models import Job, JobKind

#: Keys the client adds to a body on the way out; they say how to answer, not what to make.
TRANSPORT_KEYS = frozenset({"async", "callback_url", "timeout"})
#: Tolerance for the clock difference between this host and the API.
SEARCH_SLACK_S = 120.0
#: Answers to a task search that repeating the same search will not change.
PERMANENT_SEARCH_STATUSES = frozenset({400, 401, 403, 404})
#: Pauses between failed task searches of one job: full jitter up to 10 s, doubling to 5 minutes.
SEARCH_BACKOFF = RetryPolicy(base_delay_s=10.0, max_delay_s=300.0)


class Verdict(enum.Enum):
    WAIT = "wait"
    EXPIRE = "expire"
    RESUBMIT = "resubmit"


def is_ambiguous(error: AceDataError) -> bool:
    """Whether a failed submit may still have created (and been charged for) a task.

    Only a refusal the API answered (400, 401, 403, 429) or a connection that never carried the
    request says for sure that no task exists; a 5xx, a timeout, a connection lost after sending or
    an unreadable answer may all come after the task was made.
    """
    if isinstance(error, ConnectionFailedError):
        return error.sent
    return isinstance(error, ServerError | RequestTimeoutError | UnexpectedResponseError)


def first_sent_at(job: Job) -> float:
    """When ``job`` could first have reached the API: its creation, or its release from the queue."""
    released = job.meta.queue.released_at if job.meta.queue is not None else None
    if released is not None and released > job.created_at:
        return released
    return job.created_at


def deadline(job: Job, *, job_timeout_s: float) -> float:
    """When an unconfirmed job is failed, whatever its task search says: ``job_timeout_s`` after its first send."""
    return first_sent_at(job) + job_timeout_s


def is_permanent(error: AceDataError) -> bool:
    """Whether a failed task search would fail the same way if repeated (the API refused the search itself)."""
    return error.status in PERMANENT_SEARCH_STATUSES


def search_window(job: Job, *, job_timeout_s: float, now: float) -> tuple[float, float]:
    """The creation-time window in which every task ever sent for ``job`` must lie."""
    sent = first_sent_at(job)
    start = sent - SEARCH_SLACK_S
    end = min(now, sent + job_timeout_s) + SEARCH_SLACK_S
    return start, end


def same_request(sent: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether a task's recorded request body is the job's request."""
    return _without_transport(sent) == _without_transport(params)


def candidates(job: Job, records: Iterable[TaskRecord]) -> list[TaskRecord]:
    """Tasks whose request is this job's, earliest first."""
    matches = [record for record in records if record.request and same_request(record.request, job.params)]
    matches.sort(key=lambda record: record.created_at if record.created_at is not None else float("inf"))
    return matches


def decide(job: Job, *, last_sent_at: float, now: float, grace_s: float, job_timeout_s: float) -> Verdict:
    """Rules 2-4 for a job whose search found nothing."""
    if now - last_sent_at < grace_s:
        return Verdict.WAIT
    if now - first_sent_at(job) >= job_timeout_s:
        return Verdict.EXPIRE
    return Verdict.RESUBMIT


def request_from_params(kind: JobKind, params: Mapping[str, Any]) -> ApiRequest | None:
    """Rebuild the typed request a job was made from; ``None`` if its params cannot be reproduced exactly."""
    endpoint = Endpoint.VIDEOS if kind is JobKind.VIDEO else Endpoint.IMAGINE
    return request_from_body(endpoint, _without_transport(params))


def _without_transport(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in TRANSPORT_KEYS}
