"""Direct messages: the commands and reactions work there unless the operator turns DMs off, finished jobs come to
the DMs of members who asked for that (once; closed DMs break nothing), and private results: ephemeral job
messages whose result goes to DMs once Discord no longer lets the bot edit them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from bot.store import JobStatus

if TYPE_CHECKING:
    from fakediscord import FakeMessage
    from member_kit import MemberFactory, MemberKit

pytest_plugins = ("discord_kit", "member_kit")

MEMBER_COMMANDS = ("video", "imagine", "settings")


def description(message: FakeMessage) -> str:
    return "\n".join(str(embed.get("description") or "") for embed in message.embeds)


# -- commands in DMs -------------------------------------------------------------------------------------------


async def test_the_commands_work_in_dms(member: MemberKit) -> None:
    fake = member.fake
    for name in MEMBER_COMMANDS:
        command = fake.command(name)
        assert command["contexts"] == [0, 1, 2] and command["integration_types"] == [0, 1]  # and user installs
    handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
    message = await member.job_message(handle)
    assert message.channel_id == fake.dm_channel(fake.bob).id
    job, message = await member.wait_done(message)
    assert job.guild_id is None and job.user_id == fake.bob.id


async def test_reactions_work_in_dms(member: MemberKit) -> None:
    fake = member.fake
    handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
    grid, message = await member.wait_done(await member.job_message(handle))
    dm = fake.dm_channel(fake.bob)
    await fake.react(message, dm, "🔄", user=fake.bob)
    reply = await fake.wait_for_message(
        dm, lambda m: m.id != message.id and bool(m.embeds) and "Reroll" in str(m.embeds)
    )
    reroll = await member.job_of(reply)
    assert reroll.parent_id == grid.id and reroll.guild_id is None


async def test_dms_can_be_turned_off(member_factory: MemberFactory) -> None:
    async with member_factory(allow_dms=False) as member:
        fake = member.fake
        for name in (*MEMBER_COMMANDS, "jobs"):
            assert fake.command(name)["contexts"] == [0], name  # not offered in DMs at all
        assert fake.command("admin")["contexts"] == [0]

        handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
        assert await handle.wait_for_response() == 4
        text = await member.reply_text(handle)
        assert "doesn't take commands in direct messages" in text and "operator" in text
        settings = await fake.slash("settings", {"loop": True}, user=fake.bob, dm=True)
        assert "direct messages" in await member.reply_text(settings)
        assert member.task_count() == 0

        await member.make_grid(user=fake.bob)  # servers are not affected


# -- DM me when a job is done ----------------------------------------------------------------------------------


async def test_a_finished_job_comes_to_the_dms_of_a_member_who_asked_once(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"dm_on_done": True})
    grid, _ = await member.make_grid(user=fake.bob)
    copy = await fake.wait_for_dm(fake.bob, lambda m: bool(m.embeds))
    assert [a["filename"] for a in copy.attachments] == ["grid.png"]
    assert "finished jobs here" in description(copy) and grid.id in str(copy.embeds)
    assert copy.custom_ids == []  # a copy, without the job's buttons

    await member.delivery.refresh(grid.id)
    await member.settle()
    assert len(fake.dm_messages(fake.bob)) == 1

    alice_job, _ = await member.make_grid(user=fake.alice)  # alice did not ask
    await member.settle()
    assert fake.dm_messages(fake.alice) == []
    assert alice_job.status is JobStatus.SUCCEEDED


async def test_a_failed_job_is_reported_but_a_job_in_dms_is_not_copied(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"dm_on_done": True})
    handle = await fake.slash("imagine", {"prompt": f"a {member.FORBIDDEN_WORD} thing"}, user=fake.bob)
    await member.reply_text(handle)  # the API refused it; the refusal is the answer
    made_in_dms = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
    await member.wait_done(await member.job_message(made_in_dms))
    await member.settle()
    dms = fake.dm_messages(fake.bob)
    assert len(dms) == 1  # the job made in DMs is there already, and nothing else was sent


async def test_closed_dms_are_logged_and_break_nothing(
    member_factory: MemberFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with member_factory() as member:
        fake = member.fake
        carol = fake.add_user("carol", dms_open=False)
        fake.add_member(fake.guild, carol)
        await member.store.settings.save_user_settings(carol.id, {"dm_on_done": True})
        handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob)
        await member.wait_done(await member.job_message(handle))
        carols = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=carol)
        job, _ = await member.wait_done(await member.job_message(carols))
        await member.settle()
    assert any("accepts no DMs" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and job.id in r.getMessage()]


# -- private results ---------------------------------------------------------------------------------------------


async def test_private_results_are_ephemeral_and_their_buttons_work(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"private_results": True})
    handle = await fake.slash("imagine", {"prompt": "a secret garden"}, user=fake.bob)
    assert await handle.wait_for_response() == 5
    assert handle.ephemeral
    grid, message = await member.wait_done(await handle.wait_for_original(lambda m: bool(m.embeds)))
    assert message.ephemeral and "U1" in member.labels(message)
    assert fake.messages(fake.general, include_ephemeral=False) == []
    [link] = await member.links(grid.id)
    assert link.purpose == "private"

    click = await fake.click(message, member.button(message, "img", "upscale1"), user=fake.bob)
    # The click said "thinking..." before it knew the result would be private: the job's message is a follow-up.
    upscale = await click.wait_for_message(lambda m: bool(m.embeds))
    assert upscale.ephemeral
    assert fake.messages(fake.general, include_ephemeral=False) == [], "the public placeholder was removed"
    job, _ = await member.wait_done(upscale)
    assert job.parent_id == grid.id


async def test_a_private_result_goes_to_dms_once_its_message_can_no_longer_be_edited(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"private_results": True})
    member.slow_jobs()
    start = fake.upload("start.png", member.PNG)
    handle = await fake.slash("video", {"prompt": "a kite", "image_url": start.url}, user=fake.bob)
    message = await handle.wait_for_original(lambda m: bool(m.embeds))
    job = await member.wait_job(message, JobStatus.RUNNING)
    await member.wait_rendered(message, lambda m: "the result then comes to your DMs" in description(m))

    fake.expire_token(handle)  # 15 minutes later: Discord refuses the token
    member.finish(job.task_id)
    copy = await fake.wait_for_dm(fake.bob, lambda m: bool(m.attachments))
    assert "could no longer be updated" in description(copy)
    assert [a["filename"] for a in copy.attachments] == ["clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4"]
    await member.settle()
    assert fake.messages(fake.general, include_ephemeral=False) == []  # never posted in public
    assert len(fake.dm_messages(fake.bob)) == 1
    assert "✅" not in description(message)  # the ephemeral message could not be touched


async def test_private_results_in_dms_need_no_ephemeral_message(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"private_results": True})
    handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
    message = await member.job_message(handle)
    assert not message.ephemeral
