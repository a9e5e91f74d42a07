"""One job as a line of a list (/jobs, /history, /admin jobs): title, id, status, age, prompt, a link to its message."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from bot.store.models import Job, JobStatus, MessageLink
from bot.text import progress_bar
from cogs.i18n import LocaleLike, t
from cogs.repeats import message_url
from cogs.ui.queueing import QueueSpot, queue_estimate, queue_position
from cogs.ui.render import fit_escaped, job_title, relative_time

PROMPT_CHARS: Final = 90


def status_words(status: JobStatus, locale: LocaleLike) -> str:
    """``⏳ queued``, ``✅ done``... (``jobs.status.*``)."""
    return t(locale, f"jobs.status.{status.value}")


def queued_words(spot: QueueSpot, locale: LocaleLike, *, now: float | None = None) -> str:
    """``⏳ queued · 2nd in line · estimated start in 3 minutes``: a queued job's place, as its message shows it."""
    parts = [
        status_words(JobStatus.QUEUED, locale),
        t(locale, "jobs.queued_position", position=queue_position(spot, locale)),
        queue_estimate(spot, time.time() if now is None else now, locale),
    ]
    return t(locale, "render.separator").join(part for part in parts if part)


def job_line(
    job: Job,
    links: Sequence[MessageLink],
    locale: LocaleLike = None,
    *,
    queue: QueueSpot | None = None,
    now: float | None = None,
) -> str:
    """One job in a list: title, id, status (progress; a queued job's place and estimated start when ``queue`` says
    them), age, prompt and a jump link to its message."""
    if queue is not None and job.status is JobStatus.QUEUED:
        status = queued_words(queue, locale, now=now)
    else:
        status = status_words(job.status, locale)
    if job.status is JobStatus.RUNNING:
        status += f" {progress_bar(job.progress, width=6)}"
    head = t(
        locale,
        "jobs.line_head",
        title=job_title(job, locale),
        job=job.id,
        status=status,
        when=relative_time(job.created_at),
    )
    prompt = fit_escaped(job.prompt, PROMPT_CHARS) if job.prompt.strip() else t(locale, "jobs.no_prompt")
    shown = [link for link in links if link.purpose != "dm"]
    jump = t(locale, "jobs.jump", url=message_url(shown[-1])) if shown else t(locale, "jobs.message_deleted")
    return f"{head}\n{prompt}{jump}"
