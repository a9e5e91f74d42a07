"""The edit pacing rules on their own: progress is paced per message, a finished job's render goes out at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.store.models import Job, JobKind, JobStatus
from cogs.delivery.pacing import EditPacer


def a_job(status: JobStatus = JobStatus.RUNNING, progress: int = 0, job_id: str = "job0001") -> Job:
    return Job(
        id=job_id,
        kind=JobKind.VIDEO,
        action="generate",
        prompt="p",
        params={},
        status=status,
        progress=progress,
        created_at=0.0,
        updated_at=0.0,
    )


class Renders:
    """A render function that records what it showed and when; ``hold`` makes renders of a message wait."""

    def __init__(self) -> None:
        self.done: list[tuple[int, str, int, float]] = []
        self.started: list[tuple[int, str, int]] = []
        self.held: dict[int, asyncio.Event] = {}

    def hold(self, message_id: int) -> asyncio.Event:
        release = self.held[message_id] = asyncio.Event()
        return release

    async def __call__(self, message_id: int, job: Job) -> bool:
        self.started.append((message_id, job.status.value, job.progress))
        release = self.held.get(message_id)
        if release is not None:
            await release.wait()
        self.done.append((message_id, job.status.value, job.progress, asyncio.get_running_loop().time()))
        return True

    def shown(self) -> list[tuple[int, str, int]]:
        return [(m, s, p) for m, s, p, _ in self.done]


async def until(check: Callable[[], object], what: str) -> None:
    try:
        async with asyncio.timeout(5):
            while True:
                if check():
                    return
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_progress_is_coalesced_per_message_and_the_final_render_skips_the_window() -> None:
    renders = Renders()
    pacer = EditPacer(renders, interval_s=2.0)
    loop = asyncio.get_running_loop()
    pacer.edited(1, a_job(progress=0))  # the first edit, outside the pacer: the window starts
    started = loop.time()
    for progress in (10, 20, 30):
        pacer.submit(1, a_job(progress=progress))  # wait for the window, each replacing the one before
    await asyncio.sleep(0.05)
    assert renders.done == [], "progress waits for the window"
    pacer.submit(1, a_job(JobStatus.SUCCEEDED, 100))
    pacer.submit(1, a_job(progress=40))  # a late snapshot cannot replace the final render
    pacer.submit(2, a_job(progress=50))  # another message: not held by the first one's window
    await pacer.idle()

    assert renders.shown() == [(1, "succeeded", 100), (2, "running", 50)]
    assert renders.done[0][3] - started < 1.0, "the final render did not wait for the 2-second window"

    pacer.submit(1, a_job(progress=60))  # a snapshot older than the result the message shows: never rendered
    pacer.submit(1, a_job(JobStatus.SUCCEEDED, 100))  # shows that already: skipped
    await pacer.idle()
    assert len(renders.done) == 2


async def test_a_refresh_of_a_shown_result_is_paced_and_idle_messages_are_forgotten() -> None:
    renders = Renders()
    pacer = EditPacer(renders, interval_s=0.2)
    pacer.submit(1, a_job(JobStatus.SUCCEEDED, 100))
    await pacer.idle()
    pacer.submit(1, a_job(JobStatus.SUCCEEDED, 100), force=True)  # a refresh renders anyway, a window later
    await pacer.idle()
    assert len(renders.done) == 2 and renders.done[1][3] - renders.done[0][3] >= 0.2

    await asyncio.sleep(0.25)
    assert len(pacer) == 0, "nothing is kept about a message once its window has closed"


async def test_a_final_waits_only_for_the_edit_under_way_and_stays_the_last() -> None:
    renders = Renders()
    pacer = EditPacer(renders, interval_s=5.0)
    release = renders.hold(1)
    pacer.submit(1, a_job(progress=10))
    await until(lambda: renders.started, "the progress edit to start")
    pacer.submit(1, a_job(JobStatus.FAILED, 10))  # the job failed while its progress was being sent
    pacer.submit(1, a_job(progress=20))  # and a snapshot from before the failure comes last
    await asyncio.sleep(0.05)
    assert renders.shown() == [], "the edit under way is not interrupted"

    loop = asyncio.get_running_loop()
    released = loop.time()
    release.set()
    await pacer.idle()
    assert renders.shown() == [(1, "running", 10), (1, "failed", 10)]
    assert renders.done[1][3] - released < 1.0, "the final went out right after the edit under way"


async def test_progress_edits_in_a_channel_hold_back_while_a_final_is_sent_there() -> None:
    renders = Renders()
    pacer = EditPacer(renders, interval_s=5.0)
    release = renders.hold(1)
    pacer.submit(1, a_job(JobStatus.SUCCEEDED, 100, job_id="done"), channel_id=7)
    await until(lambda: renders.started, "the final to start")
    pacer.submit(2, a_job(progress=30, job_id="same-channel"), channel_id=7)
    pacer.submit(3, a_job(progress=40, job_id="other-channel"), channel_id=8)
    pacer.submit(4, a_job(JobStatus.CANCELLED, 40, job_id="another-final"), channel_id=7)
    await until(lambda: len(renders.done) == 2, "the renders that do not wait")
    assert renders.shown() == [(3, "running", 40), (4, "cancelled", 40)], "finals never wait for each other"

    release.set()
    await pacer.idle()
    assert renders.shown()[2:] == [(1, "succeeded", 100), (2, "running", 30)]


async def test_a_progress_edit_waits_at_most_one_window_for_its_channels_finals() -> None:
    renders = Renders()
    pacer = EditPacer(renders, interval_s=0.2)
    release = renders.hold(1)
    pacer.submit(1, a_job(JobStatus.SUCCEEDED, 100, job_id="slow"), channel_id=7)
    await until(lambda: renders.started, "the final to start")
    pacer.submit(2, a_job(progress=30, job_id="waiting"), channel_id=7)
    await until(lambda: renders.done, "the progress edit")
    assert renders.shown() == [(2, "running", 30)]
    release.set()
    await pacer.idle()
