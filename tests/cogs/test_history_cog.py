"""/history: a member's own jobs, newest first, ten a page, filtered; page buttons for that member only, after a
restart too; a button the bot did not make is refused; in DMs when the operator allows them; in Chinese."""

# ruff: noqa: RUF001 - the Chinese texts are written with Chinese (full-width) punctuation, as they should be

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord

from bot.store import JobKind, JobStatus, NewJob
from cogs.history import HistoryState

if TYPE_CHECKING:
    from fakediscord import FakeMessage, InteractionHandle
    from member_kit import MemberFactory, MemberKit

pytest_plugins = ("discord_kit", "member_kit")

DAY_S = 86_400


def text_of(message: FakeMessage) -> str:
    embed = message.embeds[0]
    footer = str((embed.get("footer") or {}).get("text") or "")
    return "\n".join((str(embed.get("title") or ""), str(embed.get("description") or ""), footer))


async def page(handle: InteractionHandle) -> FakeMessage:
    return await handle.wait_for_message(lambda m: m.ephemeral and not m.loading and bool(m.embeds))


async def seed(
    member: MemberKit,
    user_id: int,
    prompt: str,
    *,
    kind: JobKind = JobKind.IMAGINE,
    status: JobStatus = JobStatus.SUCCEEDED,
    age_days: float = 0.0,
) -> str:
    """A finished job of ``user_id`` written straight to the store, made ``age_days`` ago."""
    store = member.store
    clock = store.clock
    made = time.time() - age_days * DAY_S
    store.clock = lambda: made
    try:
        new = NewJob(kind=kind, action="generate", prompt=prompt, user_id=user_id, guild_id=member.fake.guild.id)
        job = await store.jobs.create_job(new)
        await store.jobs.finish_job(job.id, status, error_message="no" if status is JobStatus.FAILED else None)
    finally:
        store.clock = clock
    return job.id


def next_id(message: FakeMessage) -> str:
    return message.custom_ids[1]


def previous_id(message: FakeMessage) -> str:
    return message.custom_ids[0]


async def test_pages_of_ten_newest_first_turned_by_buttons_that_survive_a_restart(member: MemberKit) -> None:
    fake = member.fake
    ids = []
    for number in range(25):
        ids.append(await seed(member, fake.bob.id, f"job number {number}", age_days=(25 - number) / 1000))
    await seed(member, fake.alice.id, "alice's own")

    handle = await fake.slash("history", user=fake.bob)
    assert await handle.wait_for_response() == 4 and handle.ephemeral
    first = await page(handle)
    said = text_of(first)
    assert [said.index(f"`{job}`") for job in ids[:-11:-1]] == sorted(said.index(f"`{job}`") for job in ids[-10:])
    assert all(f"`{job}`" not in said for job in ids[:15]) and "alice's own" not in said
    assert "Page 1 of 3 · 25 jobs" in said and "/show <job id>" in said
    assert [component.get("disabled", False) for component in map(first.component, first.custom_ids)] == [True, False]
    assert all(len(custom_id) <= 100 for custom_id in first.custom_ids)

    second = await fake.click(first, next_id(first), user=fake.bob)
    assert await second.wait_for_response() == 7  # the same message, edited
    said = text_of(first)
    assert "Page 2 of 3" in said and f"`{ids[14]}`" in said and f"`{ids[5]}`" in said and f"`{ids[15]}`" not in said

    await member.restart()  # the buttons hold the query: a new process turns the page
    third = await fake.click(first, next_id(first), user=fake.bob)
    assert await third.wait_for_response() == 7
    said = text_of(first)
    assert "Page 3 of 3" in said and all(f"`{job}`" in said for job in ids[:5]) and f"`{ids[5]}`" not in said
    assert [component.get("disabled", False) for component in map(first.component, first.custom_ids)] == [False, True]
    back = await fake.click(first, previous_id(first), user=fake.bob)
    assert await back.wait_for_response() == 7
    assert "Page 2 of 3" in text_of(first)


async def test_filters_by_text_kind_status_and_age_with_links_to_messages(member: MemberKit) -> None:
    fake = member.fake
    grid, message = await member.make_grid(user=fake.bob, prompt="a CAFÉ at night")
    await seed(member, fake.bob.id, "a café by day", kind=JobKind.VIDEO)
    await seed(member, fake.bob.id, "50% off, a café sale", status=JobStatus.FAILED)
    await seed(member, fake.bob.id, "500 off a cafe sale", status=JobStatus.TIMED_OUT)
    await seed(member, fake.bob.id, "an old café", age_days=40)
    await seed(member, fake.alice.id, "alice's café")

    said = text_of(await page(await fake.slash("history", {"text": "Café"}, user=fake.bob)))
    assert all(word in said for word in ("CAFÉ at night", "café by day", "café sale", "an old café"))
    assert "500 off" not in said and "alice" not in said  # "cafe" has no accent; alice's jobs are hers
    assert f"`{grid.id}`" in said
    assert f"https://discord.com/channels/{fake.guild.id}/{fake.general.id}/{message.id}" in said
    assert "“Café”" in said and "4 jobs" in said

    said = text_of(await page(await fake.slash("history", {"text": "50%"}, user=fake.bob)))
    assert "50% off" in said and "500 off" not in said  # % is what was typed, not a wildcard
    said = text_of(await page(await fake.slash("history", {"kind": "video"}, user=fake.bob)))
    assert "café by day" in said and "CAFÉ at night" not in said
    said = text_of(await page(await fake.slash("history", {"status": "failed"}, user=fake.bob)))
    assert "50% off" in said and "500 off" in said and "café by day" not in said  # timed out counts as failed
    said = text_of(await page(await fake.slash("history", {"text": "café", "days": 30}, user=fake.bob)))
    assert "an old café" not in said and "café by day" in said and "the last 30 days" in said
    said = text_of(await page(await fake.slash("history", {"text": "zeppelin"}, user=fake.bob)))
    assert "None of your jobs match" in said


async def test_another_members_click_and_a_forged_button_are_refused(member: MemberKit) -> None:
    fake = member.fake
    for number in range(12):
        await seed(member, fake.bob.id, f"job {number}")
    bobs = await page(await fake.slash("history", user=fake.bob))

    refused = await fake.click(bobs, next_id(bobs), user=fake.alice)
    assert "someone else's history" in await member.reply_text(refused)
    assert "Page 1 of 2" in text_of(bobs)  # unchanged

    # Buttons the bot never made, on a message of its own: a custom id is checked field by field on each click.
    alices = HistoryState(owner=fake.alice.id).custom_id(1)
    forged = (
        "mjh:2:zz:xx:999:",  # no kind or status by those codes, and 999 days
        HistoryState(owner=fake.bob.id).custom_id(2).replace("::", ":500:"),  # 500 days
        HistoryState(owner=fake.bob.id, text="fox").custom_id(1) + "  ",  # a text no command would keep
        "mjh:0:" + HistoryState(owner=fake.bob.id).custom_id(1)[6:],  # page 0
    )
    channel = member.bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)
    view = discord.ui.View(timeout=None)
    for custom_id in (*forged, alices):
        view.add_item(discord.ui.Button(label="?", custom_id=custom_id))
    sent = await channel.send("buttons the bot did not make", view=view)
    view.stop()
    for custom_id in forged:
        click = await fake.click(fake.message(sent.id), custom_id, user=fake.bob)
        assert "not one the bot made" in await member.reply_text(click), custom_id
    click = await fake.click(fake.message(sent.id), alices, user=fake.bob)
    assert "someone else's history" in await member.reply_text(click)


async def test_in_dms_when_the_operator_allows_them(member_factory: MemberFactory) -> None:
    async with member_factory() as member:
        fake = member.fake
        await seed(member, fake.bob.id, "a fox in the snow")
        said = text_of(await page(await fake.slash("history", user=fake.bob, dm=True)))
        assert "a fox in the snow" in said
    async with member_factory(section="dms", enabled=False) as member:
        handle = await member.fake.slash("history", user=member.fake.bob, dm=True)
        assert "doesn't take commands in direct messages" in await member.reply_text(handle)


async def test_in_chinese_and_a_search_text_too_long_for_the_buttons(member: MemberKit) -> None:
    fake = member.fake
    for number in range(11):
        await seed(member, fake.bob.id, f"一只狐狸 {number}")
    handle = await fake.slash("history", {"text": "狐狸", "status": "succeeded"}, user=fake.bob, locale="zh-CN")
    shown = await page(handle)
    said = text_of(shown)
    assert "你的任务历史" in said and "筛选：“狐狸” · ✅ 已完成" in said and "第 1 页，共 2 页 · 11 个任务" in said
    assert member.labels(shown) == ["◀ 上一页", "下一页 ▶"]

    emoji = "🦊" * 40  # 40 characters, but 80 of Discord's custom id units
    refused = await fake.slash("history", {"text": emoji}, user=fake.bob)
    assert "The search text is too long" in await member.reply_text(refused)
