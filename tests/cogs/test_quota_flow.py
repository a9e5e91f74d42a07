"""Quotas as a member meets them: a job over the running limit waits in line and starts by itself, daily limits
refuse (saying which limit and when it resets) and reset at 00:00 UTC, the server's budget, and what is left
shown in each result's footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.quota import next_reset
from bot.scopes import block_everywhere
from bot.settings import BlockEntry
from bot.store import JobStatus
from cogs import gate

if TYPE_CHECKING:
    from fakediscord import FakeMessage
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")

DAY_S = 86_400


def description(message: FakeMessage) -> str:
    return "\n".join(str(embed.get("description") or "") for embed in message.embeds)


def footer(message: FakeMessage) -> str:
    return "\n".join(str((embed.get("footer") or {}).get("text") or "") for embed in message.embeds)


async def test_over_the_running_limit_a_job_waits_in_line_and_starts_by_itself(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_running_per_user": 1})
    member.slow_jobs()
    first = await member.job_message(await fake.slash("imagine", {"prompt": "one"}, user=fake.bob))
    running = await member.wait_job(first, JobStatus.RUNNING)

    second_handle = await fake.slash("imagine", {"prompt": "two"}, user=fake.bob)
    assert await second_handle.wait_for_response() == 5  # taken on, not refused
    second = await member.job_message(second_handle)
    third = await member.job_message(await fake.slash("imagine", {"prompt": "three"}, user=fake.bob))
    await member.wait_rendered(
        second, lambda m: "Queued — next in line; starts when your running job" in description(m)
    )
    await member.wait_rendered(third, lambda m: "Queued — 2nd in line" in description(m))
    assert member.labels(second) == ["Cancel"]
    assert member.task_count() == 1
    assert (await member.job_of(second)).status is JobStatus.QUEUED

    member.finish(running.task_id)  # the running job ends: the next one in line is sent
    released = await member.wait_job(second, JobStatus.RUNNING)
    await member.wait_rendered(second, lambda m: "started" in description(m) and "Queued" not in description(m))
    await member.wait_rendered(third, lambda m: "Queued — next in line" in description(m))
    assert member.task_count() == 2

    member.finish(released.task_id)
    await member.wait_done(second)
    last = await member.wait_job(third, JobStatus.RUNNING)
    member.finish(last.task_id)
    await member.wait_done(third)
    assert [body["prompt"] for body in member.submits("imagine")] == ["one", "two", "three"]


async def test_the_queue_message_names_the_limit_it_waits_for(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_running_per_user": 2})
    member.slow_jobs()
    for prompt in ("one", "two"):
        await member.wait_job(
            await member.job_message(await fake.slash("imagine", {"prompt": prompt})), JobStatus.RUNNING
        )
    waiting = await member.job_message(await fake.slash("imagine", {"prompt": "three"}))
    await member.wait_rendered(waiting, lambda m: "starts when one of your 2 running jobs finishes" in description(m))
    other = await member.job_message(await fake.slash("imagine", {"prompt": "bob's"}, user=fake.bob))
    await member.wait_job(other, JobStatus.RUNNING)  # the limit is per member


async def test_a_queued_job_can_be_cancelled_before_it_costs_anything(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_running_per_user": 1})
    member.slow_jobs()
    first = await member.job_message(await fake.slash("imagine", {"prompt": "one"}, user=fake.bob))
    running = await member.wait_job(first, JobStatus.RUNNING)
    queued = await member.job_message(await fake.slash("imagine", {"prompt": "two"}, user=fake.bob))
    await member.wait_rendered(queued, lambda m: "Queued" in description(m))

    cancel = await fake.click(queued, member.button(queued, "x"), user=fake.bob)
    assert "Cancelled job" in await member.reply_text(cancel)
    await member.wait_job(queued, JobStatus.CANCELLED)
    await member.wait_rendered(queued, lambda m: "🚫 Cancelled" in description(m))

    member.finish(running.task_id)
    await member.wait_done(first)
    await member.settle()
    assert member.task_count() == 1  # the cancelled job never reached the API


async def test_the_daily_job_limit_refuses_until_midnight_utc(
    member: MemberKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = member.fake
    await member.configure(limits={"max_jobs_per_user_per_day": 2})
    await member.make_grid(user=fake.bob, prompt="one")
    await member.make_grid(user=fake.bob, prompt="two")
    handle = await fake.slash("imagine", {"prompt": "three"}, user=fake.bob)
    text = await member.refusal(handle)
    assert "You have used 2 of your 2 jobs for today" in text
    assert f"resets at 00:00 UTC (<t:{int(next_reset(gate.clock()))}:R>)" in text
    assert member.task_count() == 2
    await member.audited("/imagine", "2 of your 2 jobs")

    alice = await fake.slash("imagine", {"prompt": "alice's"}, user=fake.alice)
    await member.wait_done(await member.job_message(alice))  # a limit per member

    now = gate.clock()
    monkeypatch.setattr(gate, "clock", lambda: now + DAY_S)  # past the next 00:00 UTC
    tomorrow = await fake.slash("imagine", {"prompt": "three again"}, user=fake.bob)
    await member.wait_done(await member.job_message(tomorrow))
    assert member.task_count() == 4


async def test_yesterdays_jobs_do_not_count_today(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_jobs_per_user_per_day": 1})
    store = member.store
    today = store.clock
    store.clock = lambda: today() - DAY_S  # ledger entries written "yesterday"
    try:
        for _ in range(3):
            await store.usage.record_usage(
                job_id=None, guild_id=fake.guild.id, user_id=fake.bob.id, kind="imagine", action="generate"
            )
    finally:
        store.clock = today
    handle = await fake.slash("imagine", {"prompt": "today"}, user=fake.bob)
    await member.wait_done(await member.job_message(handle))
    again = await fake.slash("imagine", {"prompt": "again"}, user=fake.bob)
    assert "1 of your 1 jobs" in await member.refusal(again)


async def test_the_servers_daily_budget(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"daily_budget": 10})
    await member.make_video(user=fake.bob)  # a video: 8 units
    start = fake.upload("start.png", member.PNG)
    handle = await fake.slash("video", {"prompt": "more", "image_url": start.url}, user=fake.alice)
    text = await member.refusal(handle)
    assert "This server has used 8 of its 10 units for today, and this job costs 8" in text
    assert "<t:" in text
    assert member.task_count() == 1

    _, grid = await member.make_grid(user=fake.alice)  # an image: 1 unit still fits
    assert "server: 1 of 10 units left today" in footer(grid)


async def test_what_is_left_shows_in_the_results_footer(member: MemberKit) -> None:
    fake = member.fake
    _, before = await member.make_grid(user=fake.bob)
    assert "left today" not in footer(before)  # no limits, no allowance line

    await member.configure(limits={"max_jobs_per_user_per_day": 10, "max_running_per_user": 3})
    job, message = await member.make_grid(user=fake.bob)
    text = footer(message)
    assert "8 of 10 jobs left today" in text and "resets 00:00 UTC" in text  # the first grid counts too
    assert text.startswith(f"Job {job.id}")

    _, upscale = await member.follow(message, member.button(message, "img", "upscale1"), user=fake.bob)
    await member.wait_done(upscale)
    assert "7 of 10 jobs left today" in footer(upscale)


async def test_the_video_an_animate_click_starts_counts_against_the_daily_limit(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_jobs_per_user_per_day": 2})
    _, grid_message = await member.wait_done(
        await member.job_message(await fake.slash("video", {"prompt": "a paper boat"}, user=fake.bob))
    )
    # The upscale is the second job of the day and is allowed; the video after it would be the third.
    _, chain_message = await member.follow(grid_message, member.button(grid_message, "animq", "2"), user=fake.bob)
    await member.wait_rendered(chain_message, lambda m: "used 2 of your 2 jobs for today" in description(m))
    job = await member.job_of(chain_message)
    assert job.kind.value == "video" and job.status is JobStatus.FAILED and job.error_code == "limit_reached"
    assert member.submits("videos") == []


@pytest.mark.parametrize("who", ["moderator", "operator"])
async def test_a_queued_job_is_not_sent_once_its_owner_is_blocked(member: MemberKit, who: str) -> None:
    fake = member.fake
    await member.configure(limits={"max_running_per_user": 1})
    member.slow_jobs()
    first = await member.job_message(await fake.slash("imagine", {"prompt": "one"}, user=fake.bob))
    running = await member.wait_job(first, JobStatus.RUNNING)
    second = await member.job_message(await fake.slash("imagine", {"prompt": "two"}, user=fake.bob))
    await member.wait_job(second, JobStatus.QUEUED)
    if who == "moderator":
        await member.configure(blocked={fake.bob.id: BlockEntry("spam", by=fake.moderator.id, at=1.0)})
    else:
        await block_everywhere(member.store, fake.bob.id, "spam", at=1.0)

    member.finish(running.task_id)  # bob's slot frees up: his queued job's turn has come
    await member.wait_job(first, JobStatus.SUCCEEDED)
    refused = await member.wait_job(second, JobStatus.FAILED)
    assert member.task_count() == 1, "the queued job of a blocked member reached the API"
    assert refused.error_code == "blocked" and "blocked its owner from using the bot (spam)" in (
        refused.error_message or ""
    )
