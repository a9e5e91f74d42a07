"""A member's history on both databases: newest first, paged, and filtered by text, kind, status and age."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import JobKind, JobStatus, NewJob, Store, history
from bot.store.history import STATUS_GROUPS, HistoryQuery, glob_pattern, regex_pattern

START = 1_700_000_000.0
BOB = 42
ALICE = 7


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    """The store on each backend: an SQLite file, and a fresh PostgreSQL database."""
    where = str(tmp_path / "mjbot.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = await Store.open(where, clock=clock)
    yield opened
    await opened.close()


async def add(
    store: Store, clock: Clock, prompt: str, *, user: int = BOB, kind: JobKind = JobKind.IMAGINE, age_days: float = 0
) -> str:
    """A job of ``user`` made ``age_days`` before START, one second after the one before (so the order is known)."""
    clock.now += 1
    saved = clock.now
    clock.now = saved - age_days * 86_400
    job = await store.jobs.create_job(
        NewJob(kind=kind, action="generate", prompt=prompt, user_id=user, guild_id=1, status=JobStatus.QUEUED)
    )
    clock.now = saved
    return job.id


async def prompts(store: Store, **query: object) -> list[str]:
    page = await store.history.history(HistoryQuery(user_id=BOB, **query), limit=50)  # type: ignore[arg-type]
    return [job.prompt for job in page.jobs]


async def test_a_members_jobs_come_newest_first_in_pages_with_the_total(store: Store, clock: Clock) -> None:
    ids = [await add(store, clock, f"job {number}") for number in range(25)]
    await add(store, clock, "alice's", user=ALICE)
    query = HistoryQuery(user_id=BOB)

    pages = [await store.history.history(query, offset=offset, limit=10) for offset in (0, 10, 20, 30)]
    assert [len(page.jobs) for page in pages] == [10, 10, 5, 0]
    assert [page.has_more for page in pages] == [True, True, False, False]
    assert {(page.total, page.total_capped) for page in pages} == {(25, False)}
    assert [job.id for page in pages for job in page.jobs] == ids[::-1]
    assert all(job.user_id == BOB for page in pages for job in page.jobs)


async def test_counting_stops_a_while_past_the_page(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "COUNT_AHEAD", 12)
    for number in range(25):
        await add(store, clock, f"job {number}")
    query = HistoryQuery(user_id=BOB)

    first = await store.history.history(query, limit=10)
    assert (first.total, first.total_capped, first.has_more) == (12, True, True)  # "more than 12"
    second = await store.history.history(query, offset=10, limit=10)
    assert (second.total, second.total_capped) == (22, True)
    last = await store.history.history(query, offset=20, limit=10)
    assert (last.total, last.total_capped, last.has_more) == (25, False, False)


async def test_text_matches_anywhere_in_any_case_and_means_what_was_typed(store: Store, clock: Clock) -> None:
    for prompt in (
        "Café au lait at dawn",
        "a CAFÉ by night",
        "cafe without an accent",
        "50% off sale",
        "500 off sale",
        "snake_case words",
        "snakeXcase words",
        "what? a star*",
        "what! a starry sky",
        "brackets [x] here",
        "a back\\slash",
        "一只在雪中的红狐狸",
        "Straße in the rain",
    ):
        await add(store, clock, prompt)

    assert await prompts(store, text="café") == ["a CAFÉ by night", "Café au lait at dawn"]
    assert await prompts(store, text="CAFÉ AU") == ["Café au lait at dawn"]
    assert await prompts(store, text="50%") == ["50% off sale"]
    assert await prompts(store, text="e_c") == ["snake_case words"]
    assert await prompts(store, text="t? a star*") == ["what? a star*"]
    assert await prompts(store, text="[x]") == ["brackets [x] here"]
    assert await prompts(store, text="k\\s") == ["a back\\slash"]
    assert await prompts(store, text="红狐狸") == ["一只在雪中的红狐狸"]
    assert await prompts(store, text="STRASSE") == []  # ß has no one-letter capital: it matches itself only
    assert await prompts(store, text="straße") == ["Straße in the rain"]
    assert await prompts(store, text="no such words") == []


async def test_kind_status_and_age_narrow_the_list(store: Store, clock: Clock) -> None:
    old_video = await add(store, clock, "an old video", kind=JobKind.VIDEO, age_days=40)
    video = await add(store, clock, "a new video", kind=JobKind.VIDEO)
    grid = await add(store, clock, "a new grid")
    timed_out = await add(store, clock, "a grid that timed out")
    running = await add(store, clock, "a grid being sent")
    await store.jobs.finish_job(video, JobStatus.SUCCEEDED)
    await store.jobs.finish_job(old_video, JobStatus.FAILED)
    await store.jobs.finish_job(timed_out, JobStatus.TIMED_OUT)
    await store.jobs.set_status(running, JobStatus.SUBMITTING)

    assert await prompts(store, kind=JobKind.VIDEO) == ["a new video", "an old video"]
    assert await prompts(store, statuses=STATUS_GROUPS["failed"]) == ["a grid that timed out", "an old video"]
    assert await prompts(store, statuses=STATUS_GROUPS["running"]) == ["a grid being sent"]
    assert await prompts(store, statuses=STATUS_GROUPS["queued"]) == ["a new grid"]
    assert await prompts(store, since=START - 30 * 86_400, kind=JobKind.VIDEO) == ["a new video"]
    assert await prompts(store, text="GRID", statuses=STATUS_GROUPS["failed"]) == ["a grid that timed out"]
    assert grid


def test_patterns_leave_nothing_special() -> None:
    assert glob_pattern("a*?[]") == "*[aA][*][?][[][]]*"
    assert regex_pattern("a.(b)^$\\") == "[aA]\\.\\([bB]\\)\\^\\$\\\\"
