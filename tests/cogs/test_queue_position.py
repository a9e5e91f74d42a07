"""A queued job's place in its member's queue and its estimated start: on its message (moving up as the queue
moves), in /jobs, and in /admin jobs (the server's queue, oldest first)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.store import JobStatus

if TYPE_CHECKING:
    from fakediscord import FakeMessage
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")

#: How long the seeded imagine job took from submit to result: the median the estimates go by.
TYPICAL_S = 120
STAMP = re.compile(r"estimated start <t:(\d+):R>")


def description(message: FakeMessage) -> str:
    return "\n".join(str(embed.get("description") or "") for embed in message.embeds)


def estimate(text: str) -> int:
    found = STAMP.findall(text)
    assert len(found) == 1, text
    return int(found[0])


def near(value: int, expected: float) -> bool:
    return abs(value - expected) <= 3


async def seed_typical_duration(member: MemberKit) -> None:
    """Three imagine jobs that took TYPICAL_S seconds each from submit to result: the median stays TYPICAL_S when
    the test's own quick jobs finish."""
    for number in range(3):
        job, _ = await member.make_grid(user=member.fake.alice, prompt=f"seed {number}")
        assert job.finished_at is not None
        moved = (job.finished_at - TYPICAL_S, job.id)
        await member.store.database.write("UPDATE jobs SET submitted_at = ? WHERE id = ?", moved)


async def test_queued_jobs_show_their_place_and_estimated_start_and_move_up(member: MemberKit) -> None:
    fake = member.fake
    await seed_typical_duration(member)
    await member.configure(limits={"max_running_per_user": 1})
    member.slow_jobs()
    first_message = await member.job_message(await fake.slash("imagine", {"prompt": "one"}, user=fake.bob))
    first = await member.wait_job(first_message, JobStatus.RUNNING)
    started = first.submitted_at or first.updated_at
    messages = [
        await member.job_message(await fake.slash("imagine", {"prompt": prompt}, user=fake.bob))
        for prompt in ("two", "three", "four")
    ]
    places = ("next in line", "2nd in line", "3rd in line")
    for message, place in zip(messages, places, strict=True):
        await member.wait_rendered(
            message, lambda m, place=place: place in description(m) and "estimated" in description(m)
        )
    # The running job has about TYPICAL_S to go; each queued job then runs about as long.
    for turn, message in enumerate(messages, start=1):
        assert near(estimate(description(message)), started + turn * TYPICAL_S), description(message)

    listing = await fake.slash("jobs", user=fake.bob)
    shown = str((await listing.wait_for_message()).embeds[0]["description"])
    jobs = [await member.job_of(message) for message in messages]
    for job, place, message in zip(jobs, places, messages, strict=True):
        line = next(part for part in shown.split("\n\n") if f"`{job.id}`" in part)
        assert f"⏳ queued · {place}" in line, line
        assert estimate(line) == estimate(description(message))

    admin = await fake.slash("admin", {}, subcommand="jobs", user=fake.owner)
    said = str((await admin.wait_for_message(lambda m: m.ephemeral and not m.loading)).embeds[0]["description"])
    order = [said.index(f"`{job.id}`") for job in (first, *jobs)]
    assert order == sorted(order)  # the server's jobs oldest first: the running one, then the queue in its order
    for job, place in zip(jobs, places, strict=True):
        line = next(part for part in said.split("\n\n") if f"`{job.id}`" in part)
        assert f"<@{fake.bob.id}>" in line and place in line, line

    member.finish(first.task_id)  # the queue moves: "two" runs, the others move up
    second = await member.wait_job(messages[0], JobStatus.RUNNING)
    moved = second.submitted_at or second.updated_at
    await member.wait_rendered(messages[1], lambda m: "next in line" in description(m))
    await member.wait_rendered(messages[2], lambda m: "2nd in line" in description(m))
    assert near(estimate(description(messages[1])), moved + TYPICAL_S)
    assert near(estimate(description(messages[2])), moved + 2 * TYPICAL_S)
    assert "Queued" not in description(messages[0])


async def test_without_a_recent_job_of_its_kind_a_queued_job_shows_only_its_place(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_running_per_user": 1})
    member.slow_jobs()
    await member.wait_job(
        await member.job_message(await fake.slash("imagine", {"prompt": "one"}, user=fake.bob)), JobStatus.RUNNING
    )
    waiting = await member.job_message(await fake.slash("imagine", {"prompt": "two"}, user=fake.bob))
    await member.wait_rendered(waiting, lambda m: "next in line" in description(m))
    assert "estimated" not in description(waiting) and "any moment" not in description(waiting)
