"""The gate before every job: the channel allow list, blocked members, the word filter, turbo and 720p, and who
may use a job's buttons. Each refusal is checked for what the member sees (an ephemeral message that says why),
what it costs (no task in the emulator) and what moderators see (a post in the audit log)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.settings import BlockEntry, FilterRule, load_user_settings
from cogs import gate
from cogs.policy import may_act

if TYPE_CHECKING:
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")


# -- channels ---------------------------------------------------------------------------------------------------


async def test_commands_work_only_in_the_allowed_channels(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(channels=(member.places.art.id,))
    handle = await fake.slash("imagine", {"prompt": "a lighthouse"}, user=fake.bob)
    text = await member.refusal(handle)
    assert f"<#{member.places.art.id}>" in text and "only in" in text
    assert member.task_count() == 0
    await member.audited("/imagine", f"<#{member.places.art.id}>")

    ok = await fake.slash("imagine", {"prompt": "a lighthouse"}, user=fake.bob, channel=member.places.art)
    await member.wait_done(await member.job_message(ok))
    assert member.task_count() == 1


async def test_a_button_outside_the_allowed_channels_is_refused(member: MemberKit) -> None:
    fake = member.fake
    grid, message = await member.make_grid(user=fake.bob)
    await member.configure(channels=(member.places.art.id,))
    handle = await fake.click(message, member.button(message, "img", "upscale1"), user=fake.bob)
    assert f"<#{member.places.art.id}>" in await member.refusal(handle)
    assert member.task_count() == 1
    await member.audited("upscale1", grid.id)


# -- blocked members ------------------------------------------------------------------------------------------


async def test_a_blocked_member_is_told_the_moderators_reason(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(blocked={fake.bob.id: BlockEntry("posting gore", by=fake.moderator.id, at=1.0)})
    start = fake.upload("start.png", member.PNG)
    handle = await fake.slash("video", {"prompt": "a kite", "image_url": start.url}, user=fake.bob)
    text = await member.refusal(handle)
    assert "blocked" in text and "posting gore" in text
    assert member.task_count() == 0
    await member.audited("/video", "posting gore")

    other = await fake.slash("imagine", {"prompt": "a kite"}, user=fake.alice)
    await member.wait_done(await member.job_message(other))  # only bob is blocked


async def test_a_member_blocked_later_cannot_use_buttons_or_reactions(member: MemberKit) -> None:
    fake = member.fake
    _, message = await member.make_video(user=fake.bob)
    await member.configure(blocked={fake.bob.id: BlockEntry("")})
    handle = await fake.click(message, member.button(message, "ext", "1"), user=fake.bob)
    assert "blocked" in await member.refusal(handle)

    await fake.react(message, emoji="🔄", user=fake.bob)
    notice = await fake.wait_for_dm(fake.bob, lambda m: "blocked" in m.content)
    assert "Ask them why" in notice.content
    assert member.task_count() == 1


# -- the word filter --------------------------------------------------------------------------------------------


async def test_the_word_filter_names_what_matched(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(word_filter=(FilterRule("dragon"), FilterRule(r"blood\w*", regex=True)))
    handle = await fake.slash("imagine", {"prompt": "a red DRAGON over hills"}, user=fake.bob)
    assert '"dragon"' in await member.refusal(handle)
    handle = await fake.slash("imagine", {"prompt": "a bloody sunset"}, user=fake.bob)
    assert "/blood\\\\w\\*/" in await member.refusal(handle)  # the pattern, escaped for markdown
    assert member.task_count() == 0
    await member.audited("/imagine", "dragon")

    fine = await fake.slash("imagine", {"prompt": "dragonfly wings"}, user=fake.bob)  # whole words only
    await member.wait_done(await member.job_message(fine))


async def test_a_follow_up_of_a_prompt_the_filter_now_refuses_is_refused(member: MemberKit) -> None:
    fake = member.fake
    _, message = await member.make_grid(user=fake.bob, prompt="a castle in fog")
    await member.configure(word_filter=(FilterRule("castle"),))
    handle = await fake.click(message, member.button(message, "img", "variation2"), user=fake.bob)
    assert '"castle"' in await member.refusal(handle)
    assert member.task_count() == 1


# -- turbo and 720p ---------------------------------------------------------------------------------------------


async def test_turbo_and_720p_can_be_turned_off(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"allow_turbo": False, "allow_720p": False})
    start = fake.upload("start.png", member.PNG)
    turbo = await fake.slash(
        "video", {"prompt": "a kite", "image_url": start.url, "mode": "turbo", "resolution": "480p"}, user=fake.bob
    )
    assert "Turbo mode is turned off" in await member.refusal(turbo)
    hd = await fake.slash("video", {"prompt": "a kite", "image_url": start.url, "resolution": "720p"}, user=fake.bob)
    assert "720p video is turned off" in await member.refusal(hd)
    grid = await fake.slash("imagine", {"prompt": "a kite", "mode": "turbo"}, user=fake.bob)
    assert "Turbo mode is turned off" in await member.refusal(grid)
    assert member.task_count() == 0
    await member.audited("/video", "720p")

    ok = await fake.slash("video", {"prompt": "a kite", "image_url": start.url, "resolution": "480p"}, user=fake.bob)
    await member.wait_done(await member.job_message(ok))


async def test_defaults_the_server_forbids_step_down_instead_of_refusing(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"allow_turbo": False, "allow_720p": False})
    own = await fake.slash("settings", {"mode": "turbo", "resolution": "720p"}, user=fake.bob)  # bob's defaults
    assert await own.wait_for_response() == 4
    assert (await load_user_settings(member.store, fake.bob.id)).mode == "turbo"
    start = fake.upload("start.png", member.PNG)
    handle = await fake.slash("video", {"prompt": "a kite", "image_url": start.url}, user=fake.bob)
    video, _ = await member.wait_done(await member.job_message(handle))
    assert video.params.get("mode") == "fast" and video.params.get("resolution") == "480p"
    grid = await fake.slash("imagine", {"prompt": "a kite"}, user=fake.bob)
    image, _ = await member.wait_done(await member.job_message(grid))
    assert image.params.get("mode") == "fast"


async def test_an_extend_in_720p_is_refused_once_720p_is_off(member: MemberKit) -> None:
    fake = member.fake
    _, message = await member.make_video(user=fake.bob)  # 720p, while it was allowed
    await member.configure(limits={"allow_720p": False})
    handle = await fake.click(message, member.button(message, "ext", "2"), user=fake.bob)
    assert "720p video is turned off" in await member.refusal(handle)
    assert member.task_count() == 1


# -- order and DMs ------------------------------------------------------------------------------------------------


async def test_the_first_rule_broken_is_the_one_named(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(
        channels=(member.places.art.id,),
        blocked={fake.bob.id: BlockEntry("spam")},
        word_filter=(FilterRule("fox"),),
    )
    handle = await fake.slash("imagine", {"prompt": "a fox"}, user=fake.bob)
    assert "only in" in await member.refusal(handle)
    handle = await fake.slash("imagine", {"prompt": "a fox"}, user=fake.bob, channel=member.places.art)
    assert "spam" in await member.refusal(handle)
    handle = await fake.slash("imagine", {"prompt": "a fox"}, user=fake.alice, channel=member.places.art)
    assert '"fox"' in await member.refusal(handle)


async def test_server_rules_do_not_follow_a_member_into_dms(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(blocked={fake.bob.id: BlockEntry("spam")}, word_filter=(FilterRule("fox"),))
    handle = await fake.slash("imagine", {"prompt": "a fox"}, user=fake.bob, dm=True)
    job, _ = await member.wait_done(await member.job_message(handle))
    assert job.guild_id is None


# -- who may press a job's buttons -------------------------------------------------------------------------------


async def test_button_policy_owner_and_moderator_roles(member: MemberKit) -> None:
    fake = member.fake
    grid, message = await member.make_grid(user=fake.bob)
    upscale = member.button(message, "img", "upscale1")

    # "owner": alice's Helpers role counts for nothing until it is a moderator role.
    await member.configure(button_policy="owner_and_mods")
    handle = await fake.click(message, upscale, user=fake.alice)
    assert "this server's moderators" in await member.refusal(handle)

    await member.configure(moderator_roles=(member.places.helpers.id,))
    _, new_message = await member.follow(message, upscale, user=fake.alice)
    job = await member.wait_job(new_message)
    assert job.user_id == fake.alice.id and job.parent_id == grid.id

    await member.configure(button_policy="owner")
    handle = await fake.click(message, member.button(message, "img", "upscale2"), user=fake.alice)
    assert "Manage Messages" in await member.refusal(handle)


async def test_may_act_follows_each_policy(member: MemberKit) -> None:
    fake = member.fake
    grid, _ = await member.make_grid(user=fake.bob)
    guild = fake.guild.id

    async def decide(*, roles: tuple[int, ...] = (), manage: bool = False, where: int | None = guild) -> bool:
        decision = await may_act(
            member.store, grid, user_id=fake.alice.id, guild_id=where, can_manage_messages=manage, role_ids=roles
        )
        return decision.allowed

    assert not await decide(roles=(member.places.helpers.id,))
    assert await decide(manage=True)
    await member.configure(button_policy="owner_and_mods", moderator_roles=(member.places.helpers.id,))
    assert await decide(roles=(member.places.helpers.id,)) and not await decide()
    await member.configure(button_policy="everyone")
    assert await decide() and not await decide(where=None)


async def test_two_submits_at_once_take_turns(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_jobs_per_user_per_day": 1})
    first = await fake.slash("imagine", {"prompt": "one"}, user=fake.bob)
    second = await fake.slash("imagine", {"prompt": "two"}, user=fake.bob)
    answers = [await first.wait_for_response(), await second.wait_for_response()]
    assert sorted(answers) == [4, 5]  # one job, one ephemeral refusal
    assert member.task_count() == 1
    assert gate.TURN_WAIT_S < 3


async def test_the_video_a_grid_leads_to_is_checked_up_front(member: MemberKit) -> None:
    fake = member.fake
    _, grid = await member.make_grid(user=fake.bob, video=True)  # /video without a start frame: 720p later
    await member.configure(limits={"allow_720p": False})
    handle = await fake.slash("video", {"prompt": "a kite", "resolution": "720p"}, user=fake.bob)
    assert "720p video is turned off" in await member.refusal(handle)
    animate = await fake.click(grid, member.button(grid, "animq", "1"), user=fake.bob)
    assert "720p video is turned off" in await member.refusal(animate)  # not after the upscale, too late
    assert member.task_count() == 1

    ok = await fake.slash("video", {"prompt": "a kite", "resolution": "480p"}, user=fake.bob)
    await member.wait_done(await member.job_message(ok))
