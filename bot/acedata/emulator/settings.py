"""Knobs of the API emulator and what it records about the calls it received."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EmulatorSettings:
    """How the emulator behaves; every field may be changed while it runs."""

    #: Accepted bearer tokens; ``None`` accepts any non-empty token.
    tokens: frozenset[str] | None = frozenset({"emulator-token"})
    #: How long an imagine task (generate or follow-up) takes, in seconds.
    job_duration_s: float = 6.0
    #: How long a video task (generate or extend) takes, in seconds.
    video_duration_s: float = 10.0
    #: Share of accepted tasks that end with ``success: false``.
    failure_rate: float = 0.0
    #: Seed of the random source behind failures and ids, for reproducible runs.
    seed: int | None = None
    #: A prompt containing one of these words (case-insensitive, whole word) is refused with 403.
    moderation_words: tuple[str, ...] = ()
    #: Answer like the documentation's inconsistent examples: sizes as strings, ``duration``
    #: instead of ``elapsed`` in task records, and no top-level ``success`` in error envelopes.
    legacy_fields: bool = False
    #: Grow every served MP4 by a trailing ``free`` box of this many bytes (upload-limit tests).
    clip_padding_bytes: int = 0
    #: Base of the media URLs in results; by default the URL the emulator listens on.
    public_url: str | None = None
    #: Write the state file (``state_path``) before answering an API call that changed a task, for when another
    #: process, which reads that file, serves the media links (``public_url`` names it).
    save_before_answer: bool = False
    #: Time limit of one callback POST.
    callback_timeout_s: float = 10.0
    #: How long a media link in a result stays good; every answer signs its links afresh. 0: links never expire.
    media_link_ttl_s: float = 24 * 3600.0
    #: Signs media links. Not a secret: it only makes an altered or expired link fail as the real CDN's do,
    #: and it stays the same across restarts so that links keep working until they expire.
    media_link_key: str = "mjbot-emulator-media"
    #: Fetch a video's start and end frames when it is submitted, and fail the task when one cannot be
    #: fetched, as the real API does (off by default: tests of the emulator alone use links that go nowhere).
    fetch_images: bool = False
    #: Time limit of fetching one frame.
    fetch_timeout_s: float = 10.0
    #: A JSON file that keeps the tasks across restarts (read at the first ``start()``); ``None``: memory only.
    #: Results carry the URL the emulator had when they were made, so a restarted one should listen on the same port.
    state_path: str | None = None
    #: The state file of sandbox runs, served read-only: their result links keep working while this emulator runs
    #: (``mjbot emulator``). Finished tasks only; the file is read again when an unknown task is asked for.
    replay_path: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One API call as the emulator received it."""

    method: str
    path: str
    #: The parsed JSON body, or ``None`` when it was missing or malformed.
    body: Any
    #: ``time.monotonic()`` when the request arrived.
    at: float
