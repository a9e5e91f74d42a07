"""Prometheus metrics of one bot process, kept in a registry of its own and served at ``GET /metrics``.

Each process exposes its own figures and Prometheus sums them; so every counter here counts what this process
did (the jobs it sent, the results it announced and showed, its API calls and interactions). A registry per
``Metrics`` rather than prometheus_client's global one lets several bots share one Python process (the tests)
without mixing their figures. The parts that record are handed their ``Metrics``: the engine, the API client
(as an observer), Delivery, the bot's interaction hooks. ``Metrics(enabled=False)`` records nothing, and every
recording method returns on its first line.

Recording is on hot paths (every API request, every finished job), so the label children of the known label
values (kinds, outcomes, endpoints) are made once here, and the others (HTTP statuses, servers, interaction
types) once each on first use: a record is a dictionary look-up and an increment.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.store.models import Job, JobKind

log = logging.getLogger(__name__)

#: What ``mjbot_jobs_*{kind}`` says: a new clip, an extension, a grid, an action on a grid's image.
KINDS = ("video", "extend", "imagine", "image_action")
#: How a job ended (``mjbot_jobs_finished_total{outcome}``): the final statuses of a job.
OUTCOMES = ("succeeded", "failed", "cancelled", "timed_out")
#: The API's path families (``mjbot_api_requests_total{endpoint}``).
ENDPOINTS = ("videos", "imagine", "tasks")
#: The ``status`` label of an API request that got no HTTP answer (no connection, a time-out, a broken one).
NO_ANSWER = "error"
#: The ``guild`` label of what direct messages cost.
DM_GUILD = "dm"

#: Submit -> finished: the API takes 30 s to 15 min (the default job time-out).
JOB_BUCKETS = (15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 420.0, 600.0, 900.0, 1200.0)
#: Finished -> shown in Discord: an edit takes tens of milliseconds, an upload of a clip seconds.
DELIVERY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Interaction created -> acknowledged: Discord drops it after 3 s.
ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
#: One HTTP call to the API: tens of milliseconds, up to the request time-out.
API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Discord's epoch (2015-01-01) in Unix seconds: a snowflake's top bits are milliseconds since then.
DISCORD_EPOCH_S = 1_420_070_400
#: The path of the request that answers an interaction (defer, message, modal, autocomplete): its id is in it.
_INTERACTION_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")


def kind_label(job: Job) -> str:
    """The ``kind`` label of a job: ``video``, ``extend``, ``imagine`` or ``image_action``."""
    if job.kind is JobKind.VIDEO:
        return "extend" if job.action == "extend" else "video"
    return "imagine" if job.action == "generate" else "image_action"


class Metrics:
    """The metrics of one process, and the methods that record them; ``render`` is the text Prometheus scrapes."""

    def __init__(self, *, enabled: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.enabled = enabled
        self._clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self._queued_source: Callable[[], Awaitable[int]] | None = None
        r = self.registry
        submitted = Counter("mjbot_jobs_submitted", "Jobs the API accepted, by kind", ["kind"], registry=r)
        finished = Counter(
            "mjbot_jobs_finished",
            "Jobs finished (and announced) here, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        duration = Histogram(
            "mjbot_job_duration_seconds",
            "From the API accepting a job to the bot learning it finished",
            ["kind"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self._running = Gauge("mjbot_jobs_running", "Running jobs this process follows", registry=r)
        self._queued = Gauge("mjbot_jobs_queued", "Jobs waiting in members' queues (the whole store)", registry=r)
        self._delivery = Histogram(
            "mjbot_delivery_latency_seconds",
            "From a job finishing to a job message showing its result in Discord",
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self._api_requests = Counter(
            "mjbot_api_requests", "HTTP calls to the API, by path family and status", ["endpoint", "status"], registry=r
        )
        api_seconds = Histogram(
            "mjbot_api_request_duration_seconds",
            "How long one HTTP call to the API took",
            ["endpoint"],
            buckets=API_BUCKETS,
            registry=r,
        )
        self._interactions = Counter(
            "mjbot_discord_interactions", "Discord interactions received, by type", ["type"], registry=r
        )
        self._ack = Histogram(
            "mjbot_discord_ack_seconds",
            "From an interaction's creation to Discord taking its first answer (a defer, a message, a modal)",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self._units = Counter(
            "mjbot_usage_units", "Units spent, by server (dm: direct messages)", ["guild"], registry=r
        )
        self._submitted = {kind: submitted.labels(kind) for kind in KINDS}
        self._finished = {(kind, outcome): finished.labels(kind, outcome) for kind in KINDS for outcome in OUTCOMES}
        self._duration = {kind: duration.labels(kind) for kind in KINDS}
        self._api_seconds = {endpoint: api_seconds.labels(endpoint) for endpoint in ENDPOINTS}
        self._api_counts: dict[tuple[str, int | None], Counter] = {}
        self._interaction_counts: dict[str, Counter] = {}
        self._units_by_guild: dict[int | None, Counter] = {}

    # -- jobs ------------------------------------------------------------------------------------------------

    def job_submitted(self, job: Job) -> None:
        """The API accepted ``job`` (its task id is saved)."""
        if self.enabled:
            self._submitted[kind_label(job)].inc()

    def job_finished(self, job: Job) -> None:
        """``job`` finished here (its final event is out); a job the API ran also times its run."""
        if not self.enabled:
            return
        kind = kind_label(job)
        self._finished[kind, job.status.value].inc()
        if job.submitted_at is not None and job.finished_at is not None:
            self._duration[kind].observe(max(0.0, job.finished_at - job.submitted_at))

    def follow_running(self, count: Callable[[], int]) -> None:
        """Read ``mjbot_jobs_running`` from ``count`` at each scrape (the engine's followed jobs)."""
        self._running.set_function(lambda: float(count()))

    def count_queued(self, source: Callable[[], Awaitable[int]]) -> None:
        """Read ``mjbot_jobs_queued`` from ``source`` (a store query) before each scrape."""
        self._queued_source = source

    def units_spent(self, guild_id: int | None, units: float) -> None:
        """A job was charged ``units`` to a server (``None``: direct messages)."""
        if not self.enabled:
            return
        child = self._units_by_guild.get(guild_id)
        if child is None:
            label = DM_GUILD if guild_id is None else str(guild_id)
            child = self._units_by_guild[guild_id] = self._units.labels(label)
        child.inc(units)

    # -- delivery and Discord ----------------------------------------------------------------------------------

    def delivered(self, job: Job) -> None:
        """A job message now shows ``job``'s final state."""
        if self.enabled and job.finished_at is not None:
            self._delivery.observe(max(0.0, self._clock() - job.finished_at))

    def interaction(self, kind: str) -> None:
        """An interaction of type ``kind`` (``application_command``, ``component``, ...) arrived."""
        if not self.enabled:
            return
        child = self._interaction_counts.get(kind)
        if child is None:
            child = self._interaction_counts[kind] = self._interactions.labels(kind)
        child.inc()

    def acknowledged(self, interaction_id: int) -> None:
        """Discord took the first answer to the interaction ``interaction_id`` (a snowflake: it tells its creation)."""
        if self.enabled:
            created = ((interaction_id >> 22) / 1000) + DISCORD_EPOCH_S
            self._ack.observe(max(0.0, self._clock() - created))

    # -- the API -----------------------------------------------------------------------------------------------

    def api_request(self, endpoint: str, status: int | None, seconds: float) -> None:
        """One HTTP call to the API's ``endpoint`` family answered ``status`` (``None``: no answer) in ``seconds``."""
        if not self.enabled:
            return
        key = (endpoint, status)
        child = self._api_counts.get(key)
        if child is None:
            label = NO_ANSWER if status is None else str(status)
            child = self._api_counts[key] = self._api_requests.labels(endpoint, label)
        child.inc()
        timer = self._api_seconds.get(endpoint)
        if timer is not None:
            timer.observe(seconds)

    # -- scraping ----------------------------------------------------------------------------------------------

    async def render(self) -> bytes:
        """The scrape: every metric in Prometheus's text format (the store's queue is counted now)."""
        source = self._queued_source
        if source is not None:
            try:
                self._queued.set(await source())
            except Exception:
                log.warning("metrics: counting the queued jobs failed; mjbot_jobs_queued keeps its last value")
        return generate_latest(self.registry)

    #: The Content-Type of ``render``'s text.
    content_type = CONTENT_TYPE_LATEST


def interaction_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """An aiohttp trace for discord.py's session that times each interaction's first answer.

    Every answer to an interaction (a defer, a message, a modal, autocomplete choices), wherever in the cogs it is
    made, is one request to ``/interactions/{id}/{token}/callback``; its id is a snowflake that says when the
    interaction was created, so one hook times them all. The token in the path is never kept.
    """
    trace = aiohttp.TraceConfig()

    async def on_request_end(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        found = _INTERACTION_CALLBACK.search(params.url.path)
        if found is not None and params.response.status < 300:
            metrics.acknowledged(int(found.group(1)))

    trace.on_request_end.append(on_request_end)
    return trace
