"""Cost and wait before paying: a costly job shows its member a card (cost, what is left today, the estimated wait)
and nothing reaches the API until they confirm; Cancel, expiry, a restart and other members' clicks send nothing,
and a double Confirm sends one job."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from bot.settings import load_guild_settings, load_user_settings
from bot.store import JobStatus
from cogs import confirm
from cogs.confirm import Confirmations

if TYPE_CHECKING:
    from fakediscord import FakeMessage, FakeUser, InteractionHandle
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")

TITLE = "Start this job?"


def embed_text(message: FakeMessage) -> str:
    """Everything a member reads in a message's embeds: title, description, fields and footer."""
    parts: list[str] = []
    for embed in message.embeds:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{field.get('name')}: {field.get('value')}" for field in embed.get("fields") or []]
        parts.append(str((embed.get("footer") or {}).get("text") or ""))
    return "\n".join(parts)


def disabled(card: FakeMessage) -> bool:
    return bool(card.custom_ids) and all((card.component(c) or {}).get("disabled") for c in card.custom_ids)


def is_card(message: FakeMessage) -> bool:
    return message.ephemeral and any(embed.get("title") == TITLE for embed in message.embeds)


async def card_of(handle: InteractionHandle) -> FakeMessage:
    """The card an interaction answered with (ephemeral), checked to have left nothing in public."""
    card = await handle.wait_for_message(is_card)
    assert [m for m in handle.messages if not m.ephemeral and not m.loading] == []
    return card


def choice(card: FakeMessage, which: str) -> str:
    """The custom id of the card's Confirm (``go``) or Cancel (``no``) button."""
    return next(custom_id for custom_id in card.custom_ids if custom_id.endswith(f":{which}"))


def title(message: FakeMessage) -> str:
    return str(message.embeds[0].get("title") or "") if message.embeds else ""


async def video(member: MemberKit, user: FakeUser, prompt: str = "waves on rocks", **options: Any) -> InteractionHandle:
    start = member.fake.upload("start.png", member.PNG)
    return await member.fake.slash("video", {"prompt": prompt, "image_url": start.url, **options}, user=user)


async def job_count(member: MemberKit) -> int:
    return len(await member.store.jobs.recent_jobs(limit=1000))


async def confirmed_job(member: MemberKit, handle: InteractionHandle) -> FakeMessage:
    """The public job message a Confirm click turned into."""
    assert await handle.wait_for_response() == 5, handle.rejected_acks
    return await member.job_message(handle)


async def test_a_turbo_video_shows_its_cost_what_is_left_and_the_wait_and_sends_nothing(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_jobs_per_user_per_day": 5, "daily_budget": 100})
    await member.make_video(user=fake.bob)  # a plain video (8 units) goes straight through, and times the next

    card = await card_of(await video(member, fake.bob, mode="turbo"))
    text = embed_text(card)
    assert "🎬 Video" in text and "**waves on rocks**" in text
    assert "Mode: turbo" in text and "Resolution: 720p" in text
    assert "Cost: **16 units**" in text
    assert "Your jobs: 4 of 5 left, 3 after this one" in text
    assert "Server budget: 92 of 100 units left, 76 after this one" in text
    assert "About 1 s to the result" in text and "median of the last 1" in text
    assert "Expires: <t:" in text and "Nothing is sent and nothing is charged until you confirm." in text
    assert member.labels(card) == ["Confirm (16 units)", "Cancel"]
    await member.settle()
    assert member.task_count() == 1 and await job_count(member) == 1  # no API call, no job row, no quota used


async def test_confirm_sends_exactly_one_job_even_when_clicked_twice(member: MemberKit) -> None:
    fake = member.fake
    card = await card_of(await video(member, fake.bob, mode="turbo"))
    first, second = await asyncio.gather(
        fake.click(card, choice(card, "go"), user=fake.bob), fake.click(card, choice(card, "go"), user=fake.bob)
    )
    handles = [first, second]
    await asyncio.gather(*(handle.wait_for_response() for handle in handles))
    started = [handle for handle in handles if handle.ack_type == 5]
    assert len(started) == 1
    message = await member.job_message(started[0])
    job = await member.wait_job(message)
    assert job.params["mode"] == "turbo" and job.user_id == fake.bob.id
    other = next(handle for handle in handles if handle is not started[0])
    assert "You already confirmed this job: it was sent once." in await member.reply_text(other)
    await member.wait_rendered(card, lambda m: title(m) == "✅ Confirmed: the job is on its way" and not m.custom_ids)
    await member.settle()
    assert member.task_count() == 1 and await job_count(member) == 1


async def test_cancel_sends_nothing(member: MemberKit) -> None:
    fake = member.fake
    card = await card_of(await video(member, fake.bob, mode="turbo"))
    handle = await fake.click(card, choice(card, "no"), user=fake.bob)
    assert await handle.wait_for_response() == 7  # the card itself becomes the answer
    await member.wait_rendered(card, lambda m: title(m) == "🚫 Cancelled: nothing was sent" and not m.custom_ids)
    assert "Cost: **16 units**" in embed_text(card) and "Expires" not in embed_text(card)
    await member.settle()
    assert member.task_count() == 0 and await job_count(member) == 0


async def test_the_card_expires_after_five_minutes(member: MemberKit, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = member.fake
    cards = member.bot.get_cog("Confirmations")
    assert isinstance(cards, Confirmations)
    swept = await card_of(await video(member, fake.bob, mode="turbo"))
    clicked = await card_of(await video(member, fake.bob, mode="turbo", prompt="a kite"))
    assert await cards.sweep() == 0  # not yet
    now = confirm.clock()
    monkeypatch.setattr(confirm, "clock", lambda: now + 5 * 60 + 1)

    late = await fake.click(clicked, choice(clicked, "go"), user=fake.bob)  # before the sweep came by
    assert await late.wait_for_response() == 7
    await member.wait_rendered(clicked, lambda m: title(m).startswith("⌛ Expired: nothing was sent") and disabled(m))

    assert await cards.sweep() == 1  # the card nobody clicked
    await member.wait_rendered(swept, lambda m: title(m).startswith("⌛ Expired: nothing was sent") and disabled(m))
    assert "Cost: **16 units**" in embed_text(swept) and "Expires" not in embed_text(swept)
    await member.settle()
    assert member.task_count() == 0 and await job_count(member) == 0


async def test_a_click_after_a_restart_says_the_card_expired(member: MemberKit) -> None:
    fake = member.fake
    card = await card_of(await video(member, fake.bob, mode="turbo"))
    await member.restart()
    handle = await fake.click(card, choice(card, "go"), user=fake.bob)
    assert await handle.wait_for_response() == 7
    await member.wait_rendered(card, lambda m: title(m).startswith("⌛ Expired: nothing was sent"))
    assert "Cost: **16 units**" in embed_text(card)  # what the card showed stays readable
    assert disabled(card)
    await member.settle()
    assert member.task_count() == 0 and await job_count(member) == 0


async def test_another_members_click_is_refused(member: MemberKit) -> None:
    fake = member.fake
    card = await card_of(await video(member, fake.bob, mode="turbo"))
    for which in ("go", "no"):
        handle = await fake.click(card, choice(card, which), user=fake.alice)
        assert f"This card is for <@{fake.bob.id}> only." in await member.reply_text(handle)
    await member.settle()
    assert title(card) == TITLE and member.task_count() == 0

    await member.wait_job(await confirmed_job(member, await fake.click(card, choice(card, "go"), user=fake.bob)))
    assert member.task_count() == 1


async def test_a_fast_video_goes_straight_through_and_a_turbo_one_asks(member: MemberKit) -> None:
    fake = member.fake
    for resolution in ("480p", "720p"):  # 8 units either way: under the default 16
        handle = await video(member, fake.bob, mode="fast", resolution=resolution)
        await member.wait_done(await member.job_message(handle))
        assert not any(is_card(message) for message in handle.messages)
    assert member.task_count() == 2
    card = await card_of(await video(member, fake.bob, mode="turbo", resolution="480p"))
    assert "Cost: **16 units**" in embed_text(card)
    await member.settle()
    assert member.task_count() == 2


async def test_the_wait_counts_the_turns_in_the_members_queue(member: MemberKit) -> None:
    fake = member.fake
    await member.make_video(user=fake.bob)  # a video to time the next ones by
    await member.configure(limits={"max_running_per_user": 1})
    member.slow_jobs()
    running = await member.job_message(await video(member, fake.bob, prompt="a slow one"))
    await member.wait_job(running, JobStatus.RUNNING)

    card = await card_of(await video(member, fake.bob, mode="turbo"))
    text = embed_text(card)
    assert "It waits in your queue first (1st in line)." in text
    assert "About " in text and "median of the last 1" in text


async def test_a_member_who_wants_every_job_confirmed_gets_a_card_for_a_cheap_one(member: MemberKit) -> None:
    fake = member.fake
    panel = await fake.slash("settings", {"confirm_jobs": "always"}, user=fake.bob)
    assert "confirm every job" in embed_text(await panel.wait_for_message(lambda m: m.ephemeral and bool(m.embeds)))
    assert (await load_user_settings(member.store, fake.bob.id)).confirm == "always"

    card = await card_of(await fake.slash("imagine", {"prompt": "a lighthouse"}, user=fake.bob))
    assert "Cost: **1 unit**" in embed_text(card) and "🖼️ Imagine" in embed_text(card)
    await member.settle()
    assert member.task_count() == 0
    message = await confirmed_job(member, await fake.click(card, choice(card, "go"), user=fake.bob))
    await member.wait_done(message)

    alice = await fake.slash("imagine", {"prompt": "a lighthouse"}, user=fake.alice)  # her setting is the server's
    await member.wait_done(await member.job_message(alice))
    assert member.task_count() == 2


async def test_admin_limits_confirm_over_sets_the_threshold_for_moderators_only(member: MemberKit) -> None:
    fake = member.fake
    refused = await fake.slash("admin", {"confirm_over": "8"}, subcommand="limits", user=fake.alice)
    assert "Only this server's moderators can use `/admin`" in await member.reply_text(refused)
    assert (await load_guild_settings(member.store, fake.guild.id)).limits.confirm_over == 16

    changed = await fake.slash("admin", {"confirm_over": "8"}, subcommand="limits", user=fake.owner)
    assert "Members confirm jobs costing at least: 16 units → 8 units" in await member.reply_text(changed)
    card = await card_of(await video(member, fake.bob))  # a plain video now asks
    assert "Cost: **8 units**" in embed_text(card)

    bad = await fake.slash("admin", {"confirm_over": "lots"}, subcommand="limits", user=fake.owner)
    assert "`confirm_over` takes a number of units, 0 or more" in await member.reply_text(bad)
    off = await fake.slash("admin", {"confirm_over": "off"}, subcommand="limits", user=fake.owner)
    assert "8 units → never" in await member.reply_text(off)
    handle = await video(member, fake.bob, mode="turbo")  # a turbo video no longer asks
    await member.wait_done(await member.job_message(handle))
    assert member.task_count() == 1


async def test_confirm_checks_the_budget_again(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"daily_budget": 20})
    card = await card_of(await video(member, fake.bob, mode="turbo"))
    assert "Server budget: 20 of 20 units left, 4 after this one" in embed_text(card)
    await member.make_video(user=fake.alice)  # 8 units spent meanwhile: 16 no longer fit

    handle = await fake.click(card, choice(card, "go"), user=fake.bob)
    text = await member.reply_text(handle)
    assert "This server has used 8 of its 20 units for today, and this job costs 16" in text
    await member.wait_rendered(card, lambda m: title(m) == "❌ Not started: see why below")
    await member.settle()
    assert member.task_count() == 1 and await job_count(member) == 1


async def test_a_costly_follow_up_button_asks_first(member: MemberKit) -> None:
    fake = member.fake
    card = await card_of(await video(member, fake.bob, mode="turbo"))
    parent, message = await member.wait_done(
        await confirmed_job(member, await fake.click(card, choice(card, "go"), user=fake.bob))
    )

    click = await fake.click(message, member.button(message, "ext", "1"), user=fake.bob)
    extend_card = await card_of(click)
    assert "🎬 Extend · clip 1" in embed_text(extend_card) and "Cost: **16 units**" in embed_text(extend_card)
    await member.settle()
    assert member.task_count() == 1

    extended = await confirmed_job(member, await fake.click(extend_card, choice(extend_card, "go"), user=fake.bob))
    child = await member.wait_job(extended, JobStatus.SUCCEEDED)
    assert child.parent_id == parent.id and child.action == "extend"
    assert member.task_count() == 2
