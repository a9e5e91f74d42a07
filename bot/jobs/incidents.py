"""The API's health as this process sees it, and provider incidents: when to stop taking new jobs.

Every submit and poll (and, during an incident, a probe) is one observation: whether the API answered,
and how long it took. Only outages count as failures: server errors, timeouts and lost connections. A
refusal of one job (a bad prompt, no credit, a rate limit) says nothing about the service.

An incident opens when the API has failed for ``open_after_s`` (two minutes) with no success in between
and at least ``min_failures`` failures, or when most calls of that window failed. While it is open,
new jobs are refused before any API call (nothing is charged), running jobs are still polled, and
the engine probes the API every ``probe_every_s`` with a lookup that costs nothing. The incident
closes after ``close_after`` successes in a row, and intake reopens by itself.
"""

from __future__ import annotations

import logging
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from bot.acedata.errors import (
    AceDataError,
    ConnectionFailedError,
    RequestTimeoutError,
    ServerError,
    UnexpectedResponseError,
)

#: The engine's logger (``bot.jobs.engine``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.engine")

Call = Literal["submit", "poll", "probe"]
#: The task id a probe asks for: no task has it, so the answer is an empty list and costs nothing.
PROBE_TASK_ID: Final = "mjbot-health-probe"
#: Observations kept: the last five minutes, at most this many.
_MAX_SAMPLES: Final = 5_000


class ProviderUnavailableError(AceDataError):
    """A new job was not sent: the API has been failing for minutes (an incident is open). Nothing was charged."""

    default_code = "provider_incident"


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the service is down (as opposed to a refusal of one request)."""
    return isinstance(error, ServerError | ConnectionFailedError | RequestTimeoutError | UnexpectedResponseError)


@dataclass(frozen=True, slots=True)
class Incident:
    """An outage of the API: when it was noticed, the last error, and when it ended (None while open)."""

    started_at: float
    reason: str
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class HealthView:
    """What ``/admin status`` and ``/healthz`` show of the API over the window."""

    window_s: float
    calls: int
    failures: int
    p50_latency_s: float | None
    p95_latency_s: float | None
    incident: Incident | None
    last_incident: Incident | None

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float
    call: Call
    ok: bool
    latency_s: float


IncidentListener = Callable[[Incident], None]


class ApiHealth:
    """A rolling record of the API's answers, and the incident it may be in."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        window_s: float = 300.0,
        open_after_s: float = 120.0,
        min_failures: int = 3,
        close_after: int = 2,
        probe_every_s: float = 30.0,
    ) -> None:
        self._clock = clock
        self.window_s = window_s
        self.open_after_s = open_after_s
        self.min_failures = min_failures
        self.close_after = close_after
        self.probe_every_s = probe_every_s
        self._samples: deque[_Sample] = deque(maxlen=_MAX_SAMPLES)
        self._failing_since: float | None = None  # the first failure after the last success
        self._last_error = ""
        self._successes_in_row = 0
        self._last_probe_at = float("-inf")
        self.incident: Incident | None = None
        self.last_incident: Incident | None = None
        self._listeners: list[IncidentListener] = []

    def subscribe(self, listener: IncidentListener) -> Callable[[], None]:
        """Call ``listener`` when an incident opens and when it closes (``ended_at`` set); returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def succeeded(self, call: Call, latency_s: float) -> None:
        """The API answered (any answer that is not an outage: a refusal of one request counts as an answer)."""
        now = self._clock()
        self._samples.append(_Sample(now, call, True, latency_s))
        self._failing_since = None
        self._successes_in_row += 1
        if self.incident is not None and self._successes_in_row >= self.close_after:
            ended = Incident(self.incident.started_at, self.incident.reason, ended_at=now)
            self.incident, self.last_incident = None, ended
            log.warning(
                "the API answers again after %.0f s of trouble; new jobs are taken again", now - ended.started_at
            )
            self._tell(ended)

    def failed(self, call: Call, latency_s: float, error: BaseException) -> None:
        """The API failed a call; only outages (``is_outage``) count, other errors are answers."""
        if not is_outage(error):
            self.succeeded(call, latency_s)
            return
        now = self._clock()
        self._samples.append(_Sample(now, call, False, latency_s))
        self._successes_in_row = 0
        self._last_error = str(error)
        if self._failing_since is None:
            self._failing_since = now
        if self.incident is None and self._should_open(now):
            self.incident = Incident(started_at=now, reason=self._last_error)
            log.warning(
                "the API has been failing for %.0f s (%s); new jobs are refused until it answers again",
                now - (self._failing_since or now),
                self._last_error,
            )
            self._tell(self.incident)

    def probe_due(self) -> bool:
        """Whether to probe the API now: during an incident, every ``probe_every_s``."""
        if self.incident is None:
            return False
        now = self._clock()
        if now - self._last_probe_at < self.probe_every_s:
            return False
        self._last_probe_at = now
        return True

    def view(self) -> HealthView:
        """The window's calls, failures and latencies, and the incident if one is open."""
        since = self._clock() - self.window_s
        recent = [sample for sample in self._samples if sample.at >= since]
        latencies = sorted(sample.latency_s for sample in recent if sample.ok)
        return HealthView(
            window_s=self.window_s,
            calls=len(recent),
            failures=sum(1 for sample in recent if not sample.ok),
            p50_latency_s=statistics.median(latencies) if latencies else None,
            p95_latency_s=_percentile(latencies, 0.95),
            incident=self.incident,
            last_incident=self.last_incident,
        )

    def _should_open(self, now: float) -> bool:
        since = now - self.open_after_s
        recent = [sample for sample in self._samples if sample.at >= since]
        failures = sum(1 for sample in recent if not sample.ok)
        if failures < self.min_failures:
            return False
        unbroken = self._failing_since is not None and now - self._failing_since >= self.open_after_s
        if unbroken:
            return True
        # "Most calls failed for two minutes": the calls were watched for the whole window (not one bad burst
        # after a quiet time), and both of its halves had failures.
        if self._samples[0].at > since or failures < 0.8 * len(recent):
            return False
        middle = now - self.open_after_s / 2
        return any(not sample.ok and sample.at < middle for sample in recent) and any(
            not sample.ok and sample.at >= middle for sample in recent
        )

    def _tell(self, incident: Incident) -> None:
        for listener in list(self._listeners):
            try:
                listener(incident)
            except Exception:
                log.exception("an incident listener failed")


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(fraction * (len(values) - 1))))
    return values[index]
