"""Provider incidents: the engine stops taking new jobs while the API fails for minutes, and starts again by
itself when it answers; the rules of ``ApiHealth`` on their own, then through the engine and the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from engine_kit import TOKEN, EngineFactory, FakeClock

from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.errors import BadRequestError, ConnectionFailedError, ServerError
from bot.acedata.models import ImagineGenerate
from bot.jobs import JobEngine, QueueRunner
from bot.jobs.incidents import ApiHealth, Incident, ProviderUnavailableError
from bot.store import JobStatus, Store

DURATION = 60.0
IMAGINE = ImagineGenerate(prompt="a lighthouse at dusk")
OUTAGE = ServerError("upstream unavailable", status=502)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=DURATION, video_duration_s=DURATION), clock=clock
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


def told(health: ApiHealth) -> list[Incident]:
    heard: list[Incident] = []
    health.subscribe(heard.append)
    return heard


# -- the rules ---------------------------------------------------------------------------------------------


def test_two_minutes_of_failures_open_an_incident_and_two_answers_close_it(clock: FakeClock) -> None:
    health = ApiHealth(clock)
    heard = told(health)
    for _ in range(4):
        health.failed("submit", 0.1, OUTAGE)
        clock.advance(30)
    assert health.incident is None and heard == [], "90 s of trouble is not an incident yet"
    health.failed("poll", 0.1, ConnectionFailedError("refused"))
    assert health.incident is not None and "refused" in health.incident.reason
    assert [incident.ended_at for incident in heard] == [None]

    health.succeeded("probe", 0.05)
    assert health.incident is not None, "one answer is not a recovery"
    clock.advance(10)
    health.succeeded("probe", 0.05)
    assert health.incident is None and health.last_incident is not None
    assert [incident.ended_at for incident in heard] == [None, clock.now]


def test_a_success_between_failures_starts_the_count_again(clock: FakeClock) -> None:
    health = ApiHealth(clock)
    for _ in range(10):
        health.failed("submit", 0.1, OUTAGE)
        clock.advance(20)
        health.succeeded("poll", 0.1)
        clock.advance(20)
    assert health.incident is None, "half the calls failing is trouble, not an outage"


def test_most_calls_failing_over_the_window_is_an_incident_even_with_some_answers(clock: FakeClock) -> None:
    health = ApiHealth(clock)
    for step in range(25):
        if step % 10 == 5:
            health.succeeded("poll", 0.1)
        else:
            health.failed("poll", 0.1, OUTAGE)
        clock.advance(5)
    assert health.incident is not None


def test_refusals_of_single_jobs_are_answers_not_failures(clock: FakeClock) -> None:
    health = ApiHealth(clock)
    for _ in range(10):
        health.failed("submit", 0.1, BadRequestError("bad prompt", status=400))
        clock.advance(20)
    assert health.incident is None
    assert health.view().failures == 0 and health.view().calls == 10


def test_probes_come_every_thirty_seconds_during_an_incident_only(clock: FakeClock) -> None:
    health = ApiHealth(clock)
    assert not health.probe_due()
    for _ in range(5):
        health.failed("submit", 0.1, OUTAGE)
        clock.advance(40)
    assert health.incident is not None
    assert health.probe_due() and not health.probe_due()
    clock.advance(31)
    assert health.probe_due()


def test_the_view_reports_rate_and_latency_of_the_window(clock: FakeClock) -> None:
    health = ApiHealth(clock)
    for latency in (0.1, 0.2, 0.3, 0.4):
        health.succeeded("poll", latency)
    health.failed("submit", 2.0, OUTAGE)
    view = health.view()
    assert (view.calls, view.failures, view.error_rate) == (5, 1, 0.2)
    assert view.p50_latency_s == pytest.approx(0.25) and view.p95_latency_s == pytest.approx(0.4)
    clock.advance(301)
    assert health.view().calls == 0


# -- through the engine ------------------------------------------------------------------------------------


async def break_the_api(engine: JobEngine, emu: Emulator, clock: FakeClock) -> None:
    """Every call fails with a 503 for three minutes of the engine's polls."""
    emu.inject_fault(503, count=10_000)
    for _ in range(7):
        clock.advance(30)
        await engine.poll_once()


def api_calls(emu: Emulator) -> int:
    return len(emu.requests)


async def test_an_outage_refuses_new_jobs_without_calling_the_api_and_recovers_by_itself(
    make_engine: EngineFactory, store: Store, emu: Emulator, clock: FakeClock
) -> None:
    engine = make_engine(store)
    await engine.start()
    running = await engine.submit(IMAGINE)
    await break_the_api(engine, emu, clock)
    assert engine.api_health.incident is not None

    before = api_calls(emu)
    with pytest.raises(ProviderUnavailableError):
        await engine.submit(IMAGINE, user_id=5)
    assert api_calls(emu) == before, "a refused job costs no API call"
    assert [job.user_id for job in await store.jobs.recent_jobs(limit=5)] == [None], "and leaves no job behind"
    await engine.poll_once()
    assert api_calls(emu) > before, "running jobs are still polled"

    emu.clear_faults()
    clock.advance(30)
    await engine.poll_once()
    clock.advance(30)
    await engine.poll_once()
    assert engine.api_health.incident is None
    assert await engine.submit(IMAGINE)
    clock.advance(DURATION)
    await engine.poll_once()
    assert (await engine.get(running)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_with_nothing_running_the_engine_probes_for_free_and_reopens(
    make_engine: EngineFactory, store: Store, emu: Emulator, clock: FakeClock
) -> None:
    engine = make_engine(store)
    await engine.start()
    emu.inject_fault(503, count=10_000)
    while engine.api_health.incident is None:
        with pytest.raises(ServerError):
            await engine.submit(IMAGINE)
        clock.advance(40)
    before = len(emu.requests)
    await engine.poll_once()
    asked = [request.body.get("ids") for request in emu.requests[before:]]
    assert ["mjbot-health-probe"] in asked, "with no running job to poll, the engine probes"

    emu.clear_faults()
    for _ in range(2):
        clock.advance(31)
        await engine.poll_once()
    assert engine.api_health.incident is None


async def test_jobs_queued_during_an_incident_are_sent_when_it_ends(
    make_engine: EngineFactory, store: Store, emu: Emulator, clock: FakeClock
) -> None:
    engine = make_engine(store)
    await engine.start()

    async def one_at_a_time(_guild_id: int | None, _user_id: int) -> int | None:
        return 1

    queue = QueueRunner(engine, store, one_at_a_time)
    await queue.start()
    try:
        await engine.submit(IMAGINE, user_id=7, guild_id=1)
        waiting = await engine.enqueue(IMAGINE, user_id=7, guild_id=1)
        await break_the_api(engine, emu, clock)
        emu.clear_faults()
        clock.advance(DURATION)
        await engine.poll_once()  # the first job ends, but the API is still in an incident: the queue waits
        await queue.idle()
        assert (await store.jobs.get_job(waiting)).status is JobStatus.QUEUED  # type: ignore[union-attr]

        clock.advance(30)
        await engine.poll_once()  # the second answer in a row: the incident ends, and the queue moves
        assert engine.api_health.incident is None
        await queue.idle()
        assert (await store.jobs.get_job(waiting)).status is JobStatus.RUNNING  # type: ignore[union-attr]
    finally:
        await queue.stop()
