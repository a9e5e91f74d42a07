"""Quotas against real jobs: the engine submits to the emulator, the ledger and the jobs table are counted.

The shared clock starts a minute before a UTC midnight (see quota_kit), so every daily limit is
checked at its edge and again after the reset.
"""

from __future__ import annotations

from typing import Any

import pytest
import quota_kit
from engine_kit import FakeClock
from quota_kit import (
    ALICE,
    BOB,
    EXTEND,
    GUILD,
    IMAGE,
    MIDNIGHT,
    OTHER_GUILD,
    TURBO_VIDEO,
    VIDEO,
    EngineFactory,
    finish,
)

from bot import costs, quota
from bot.acedata.emulator import Emulator
from bot.acedata.errors import ForbiddenError
from bot.acedata.models import ApiRequest, ImagineAction, ImagineGenerate, VideoExtend
from bot.config import DmsSettings
from bot.jobs import JobEngine
from bot.quota import Limit, Verdict
from bot.scopes import dm_settings
from bot.settings import GuildSettings, Limits
from bot.store import Store

# The shared fixtures, by name, for pytest to find in this module.
clock, emu, client, db_path, store, make_engine, engine = (
    quota_kit.clock,
    quota_kit.emu,
    quota_kit.client,
    quota_kit.db_path,
    quota_kit.store,
    quota_kit.make_engine,
    quota_kit.engine,
)


def with_limits(**limits: Any) -> GuildSettings:
    return GuildSettings(limits=Limits(**limits))


async def decide(
    store: Store,
    settings: GuildSettings,
    clock: FakeClock,
    request: ApiRequest = IMAGE,
    *,
    user_id: int = ALICE,
    guild_id: int | None = GUILD,
) -> quota.QuotaDecision:
    return await quota.check(store, settings, guild_id=guild_id, user_id=user_id, request=request, now=clock())


# -- costs ------------------------------------------------------------------------------------------


def test_costs_image_one_video_eight_turbo_doubles() -> None:
    assert costs.cost(IMAGE) == 1
    assert costs.cost(ImagineAction("upscale2", "img-1")) == 1
    assert costs.cost(ImagineGenerate("x", mode="turbo")) == 2
    assert costs.cost(ImagineGenerate("x", mode="relax")) == 1
    assert costs.cost(VIDEO) == 8
    assert costs.cost(EXTEND) == 8
    assert costs.cost(TURBO_VIDEO) == 16
    assert costs.cost_of("video", TURBO_VIDEO.to_body()) == 16
    assert costs.cost_of("imagine", IMAGE.to_body()) == 1


async def test_the_usage_ledger_records_each_accepted_job_in_units(
    engine: JobEngine, store: Store, make_engine: EngineFactory
) -> None:
    await engine.submit(TURBO_VIDEO, user_id=ALICE, guild_id=GUILD)
    await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    with pytest.raises(ForbiddenError):
        await engine.submit(ImagineGenerate("a forbidden thing"), user_id=ALICE, guild_id=GUILD)
    assert [entry.units for entry in await store.usage.usage_since(0.0)] == [16.0, 1.0]  # the refused one costs nothing

    priced = make_engine(store, cost=lambda request: 0.5)
    await priced.submit(IMAGE, user_id=BOB, guild_id=GUILD)
    assert await store.usage.usage_total(0.0, user_id=BOB) == 0.5


# -- options --------------------------------------------------------------------------------------------


def test_turbo_and_720p_are_refused_by_name_when_the_server_turns_them_off() -> None:
    strict = with_limits(allow_turbo=False, allow_720p=False)
    turbo = quota.option_refusal(strict, ImagineGenerate("x", mode="turbo"))
    assert turbo is not None and turbo.refused and turbo.limit is Limit.TURBO
    assert turbo.message is not None and "Turbo mode is turned off" in turbo.message
    hd = quota.option_refusal(strict, VIDEO.__class__(prompt="x", image_url="https://e.x/a.png"))
    assert hd is not None and hd.limit is Limit.RESOLUTION_720P
    assert hd.message is not None and "720p" in hd.message and "480p" in hd.message
    # An extend without a resolution gets the API's default, 720p.
    assert quota.option_refusal(strict, EXTEND) == hd
    assert quota.option_refusal(strict, VideoExtend("v", 1, resolution="480p")) is None
    assert quota.option_refusal(strict, VIDEO) is None  # 480p, fast
    assert quota.option_refusal(strict, IMAGE) is None
    assert quota.option_refusal(GuildSettings(), TURBO_VIDEO) is None


async def test_check_refuses_a_turned_off_option_before_counting(store: Store, clock: FakeClock) -> None:
    decision = await decide(store, with_limits(allow_turbo=False), clock, TURBO_VIDEO)
    assert decision.verdict is Verdict.REFUSE and decision.limit is Limit.TURBO


# -- jobs per member per day -------------------------------------------------------------------------------


async def test_daily_jobs_limit_at_its_edge_and_after_midnight(
    engine: JobEngine, store: Store, clock: FakeClock
) -> None:
    settings = with_limits(max_jobs_per_user_per_day=3)
    await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)

    at_limit_minus_one = await decide(store, settings, clock)
    assert at_limit_minus_one.allowed  # 2 used: the 3rd fits
    await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)

    refused = await decide(store, settings, clock)
    assert refused.refused and refused.limit is Limit.DAILY_JOBS
    assert (refused.used, refused.maximum, refused.resets_at) == (3, 3, MIDNIGHT)
    assert refused.message == (
        "You have used 3 of your 3 jobs for today on this server. "
        f"The limit resets at 00:00 UTC (<t:{int(MIDNIGHT)}:R>)."
    )
    # Others are not affected: another member, the same member on another server, direct messages.
    assert (await decide(store, settings, clock, user_id=BOB)).allowed
    assert (await decide(store, settings, clock, guild_id=OTHER_GUILD)).allowed
    assert (await decide(store, settings, clock, guild_id=None)).allowed

    clock.now = MIDNIGHT - 0.001
    assert (await decide(store, settings, clock)).refused
    clock.now = MIDNIGHT
    after = await decide(store, settings, clock)
    assert after.allowed


async def test_a_job_refused_by_the_api_does_not_use_up_the_day(
    engine: JobEngine, store: Store, clock: FakeClock
) -> None:
    settings = with_limits(max_jobs_per_user_per_day=1)
    with pytest.raises(ForbiddenError):
        await engine.submit(ImagineGenerate("forbidden fruit"), user_id=ALICE, guild_id=GUILD)
    assert (await decide(store, settings, clock)).allowed


async def test_zero_jobs_a_day_refuses_everything(store: Store, clock: FakeClock) -> None:
    decision = await decide(store, with_limits(max_jobs_per_user_per_day=0), clock)
    assert decision.refused and (decision.used, decision.maximum) == (0, 0)


# -- the server's daily budget ------------------------------------------------------------------------------


async def test_daily_budget_counts_units_and_allows_exactly_reaching_it(
    engine: JobEngine, store: Store, clock: FakeClock
) -> None:
    settings = with_limits(daily_budget=17)
    await engine.submit(VIDEO, user_id=ALICE, guild_id=GUILD)  # 8
    await engine.submit(VIDEO, user_id=BOB, guild_id=GUILD)  # 8: the budget is the server's, not a member's

    exact = await decide(store, settings, clock, IMAGE, user_id=BOB)
    assert exact.allowed and exact.cost == 1  # 16 + 1 = 17: exactly the budget
    over = await decide(store, settings, clock, VIDEO, user_id=BOB)
    assert over.refused and over.limit is Limit.DAILY_BUDGET
    assert (over.used, over.maximum, over.cost, over.resets_at) == (16, 17, 8, MIDNIGHT)
    assert over.message is not None
    assert "used 16 of its 17 units for today, and this job costs 8" in over.message
    assert f"<t:{int(MIDNIGHT)}:R>" in over.message
    turbo = await decide(store, settings, clock, ImagineGenerate("x", mode="turbo"))
    assert turbo.refused and turbo.cost == 2

    assert (await decide(store, settings, clock, VIDEO, guild_id=OTHER_GUILD)).allowed
    clock.now = MIDNIGHT + 5
    assert (await decide(store, settings, clock, VIDEO)).allowed


async def test_fractional_budgets_read_as_plain_numbers(store: Store, clock: FakeClock) -> None:
    refused = await decide(store, with_limits(daily_budget=7.5), clock, VIDEO)
    assert refused.refused and refused.message is not None and "used 0 of its 7.5 units" in refused.message


# -- running jobs per member: the queue ---------------------------------------------------------------------


async def test_the_running_limit_queues_and_a_free_slot_allows_again(
    engine: JobEngine, store: Store, clock: FakeClock, emu: Emulator
) -> None:
    settings = with_limits(max_running_per_user=2)
    first = await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    assert (await decide(store, settings, clock)).allowed  # 1 running of 2
    await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)

    queued = await decide(store, settings, clock)
    assert queued.queued and queued.limit is Limit.RUNNING
    assert (queued.used, queued.maximum, queued.ahead) == (2, 2, 0)
    assert queued.message == (
        "You have 2 of your 2 jobs running, so this one waits in line (1st in your queue) "
        "and starts when one of them ends."
    )
    assert (await decide(store, settings, clock, user_id=BOB)).allowed
    assert (await decide(store, settings, clock, guild_id=OTHER_GUILD)).allowed

    await finish(engine, emu, store, first)
    assert (await decide(store, settings, clock)).allowed


async def test_a_member_with_jobs_in_line_queues_behind_them_even_with_a_free_slot(
    engine: JobEngine, store: Store, clock: FakeClock
) -> None:
    settings = with_limits(max_running_per_user=1)
    await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    decision = await decide(store, settings, clock)
    assert decision.queued and decision.used == 0 and decision.ahead == 2
    assert decision.message is not None and "(3rd in your queue)" in decision.message


async def test_queued_jobs_count_against_the_daily_limits(engine: JobEngine, store: Store, clock: FakeClock) -> None:
    settings = with_limits(max_running_per_user=1, max_jobs_per_user_per_day=2, daily_budget=20)
    await engine.submit(VIDEO, user_id=ALICE, guild_id=GUILD)
    await engine.enqueue(VIDEO, user_id=ALICE, guild_id=GUILD)
    jobs = await decide(store, settings, clock)
    assert jobs.refused and jobs.limit is Limit.DAILY_JOBS and jobs.used == 2
    budget = await decide(store, settings, clock, VIDEO, user_id=BOB)
    assert budget.refused and budget.limit is Limit.DAILY_BUDGET and budget.used == 16


async def test_no_limits_set_always_allow(engine: JobEngine, store: Store, clock: FakeClock) -> None:
    for _ in range(3):
        await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    assert (await decide(store, GuildSettings(), clock)).allowed
    assert (await decide(store, GuildSettings(), clock, TURBO_VIDEO, guild_id=None)).allowed


async def test_direct_messages_have_the_operators_limits_counted_apart(
    engine: JobEngine, store: Store, clock: FakeClock
) -> None:
    dms = dm_settings(DmsSettings(jobs_per_day=2, running=1))
    for _ in range(3):
        await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)  # server jobs count on the server only
    assert (await decide(store, dms, clock, guild_id=None)).allowed

    turbo = await decide(store, dms, clock, TURBO_VIDEO, guild_id=None)
    assert turbo.refused and turbo.limit is Limit.TURBO and turbo.in_dms
    assert turbo.message == (
        "Turbo mode is turned off in direct messages; use fast mode instead, or a server that allows turbo."
    )
    hd = await decide(store, dms, clock, EXTEND, guild_id=None)  # an extend defaults to 720p
    assert hd.refused and hd.limit is Limit.RESOLUTION_720P and "480p" in (hd.message or "")
    assert (await decide(store, dms, clock, VIDEO, guild_id=None)).allowed  # 480p

    await engine.submit(IMAGE, user_id=ALICE, guild_id=None)
    queued = await decide(store, dms, clock, guild_id=None)
    assert queued.queued and (queued.used, queued.maximum) == (1, 1)
    await engine.submit(IMAGE, user_id=ALICE, guild_id=None)
    refused = await decide(store, dms, clock, guild_id=None)
    assert refused.refused and refused.limit is Limit.DAILY_JOBS and (refused.used, refused.maximum) == (2, 2)
    assert refused.message == (
        "You can make 2 jobs a day in direct messages, and you have used 2. The limit resets at 00:00 UTC "
        f"(<t:{int(MIDNIGHT)}:R>); servers you share with the bot have limits of their own."
    )
    assert (await decide(store, dms, clock, user_id=BOB, guild_id=None)).allowed
    assert (await decide(store, with_limits(max_jobs_per_user_per_day=4), clock)).allowed  # the server: 3 of 4


# -- the allowance in footers and /settings -----------------------------------------------------------------


async def test_allowance_shows_what_is_left_today(engine: JobEngine, store: Store, clock: FakeClock) -> None:
    settings = with_limits(max_running_per_user=2, max_jobs_per_user_per_day=5, daily_budget=40)
    await engine.submit(VIDEO, user_id=ALICE, guild_id=GUILD)
    await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    await engine.submit(IMAGE, user_id=BOB, guild_id=GUILD)

    left = await quota.allowance(store, settings, guild_id=GUILD, user_id=ALICE, now=clock())
    assert (left.jobs_used, left.jobs_left, left.units_used, left.units_left) == (3, 2, 11, 29)
    assert (left.running, left.running_limit, left.queued, left.resets_at) == (2, 2, 1, MIDNIGHT)
    assert (
        left.footer()
        == "2 of 5 jobs left today · server: 29 of 40 units left today · 2 of 2 running · resets 00:00 UTC"
    )
    assert left.lines() == [
        "Jobs today: 3 of 5 used, 2 left.",
        "Server budget today: 11 of 40 units used, 29 left.",
        "Running now: 2 of 2; 1 queued.",
        f"Daily limits reset at 00:00 UTC (<t:{int(MIDNIGHT)}:R>).",
    ]

    clock.now = MIDNIGHT + 1
    fresh = await quota.allowance(store, settings, guild_id=GUILD, user_id=ALICE, now=clock())
    assert (fresh.jobs_used, fresh.units_used) == (1, 1)  # only the queued job, not sent yet, counts today
    assert fresh.resets_at == MIDNIGHT + 86_400


async def test_allowance_without_limits(engine: JobEngine, store: Store, clock: FakeClock) -> None:
    await engine.submit(IMAGE, user_id=ALICE, guild_id=None)
    unlimited = await quota.allowance(store, GuildSettings(), guild_id=GUILD, user_id=ALICE, now=clock())
    assert not unlimited.limited and unlimited.jobs_left is None and unlimited.units_left is None
    assert unlimited.footer() is None
    assert unlimited.lines() == ["This server sets no limits on your jobs."]
    direct = await quota.allowance(store, GuildSettings(), guild_id=None, user_id=ALICE, now=clock())
    assert not direct.limited and direct.running == 1
    dms = await quota.allowance(store, dm_settings(DmsSettings()), guild_id=None, user_id=ALICE, now=clock())
    assert (dms.jobs_used, dms.jobs_left, dms.running, dms.running_limit) == (1, 4, 1, 1)
    only_running = await quota.allowance(
        store, with_limits(max_running_per_user=3), guild_id=GUILD, user_id=ALICE, now=clock()
    )
    assert only_running.footer() == "0 of 3 running"


def test_day_boundaries_are_utc() -> None:
    assert quota.day_start(MIDNIGHT + 3600) == MIDNIGHT
    assert quota.next_reset(MIDNIGHT - 1) == MIDNIGHT
    assert quota.next_reset(MIDNIGHT) == MIDNIGHT + 86_400
