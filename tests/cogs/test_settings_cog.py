"""/settings: the member's panel, every change saved at once (and kept across a restart), the defaults /video and
/imagine then use, private results where the server allows them, and the allowance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.settings import load_user_settings

if TYPE_CHECKING:
    from fakediscord import FakeMessage, FakeUser, InteractionHandle
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")


def panel_text(message: FakeMessage) -> str:
    parts: list[str] = []
    for embed in message.embeds:
        parts.append(str(embed.get("description") or ""))
        parts.extend(f"{field['name']}: {field['value']}" for field in embed.get("fields") or [])
    return "\n".join(parts)


async def open_panel(member: MemberKit, user: FakeUser, **options: object) -> tuple[InteractionHandle, FakeMessage]:
    handle = await member.fake.slash("settings", dict(options), user=user)  # type: ignore[arg-type]
    assert await handle.wait_for_response() == 4
    panel = await handle.wait_for_message(lambda m: m.ephemeral and bool(m.embeds))
    assert member.public_messages(handle) == []
    return handle, panel


async def test_the_panel_shows_the_settings_and_what_is_left(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"max_jobs_per_user_per_day": 5, "max_running_per_user": 2})
    await member.make_grid(user=fake.bob)
    _, panel = await open_panel(member, fake.bob)
    text = panel_text(panel)
    assert "Mode: **fast** · Resolution: **720p** · Loop: **off**" in text
    assert "DM me when a job is done: **off**" in text
    assert "Private results: **off**" in text
    assert "Jobs today: 1 of 5 used, 4 left." in text
    assert "Running now: 0 of 2; 0 queued." in text
    assert "<t:" in text  # when the daily limit resets
    assert panel.custom_ids == [
        "mjset:mode",
        "mjset:resolution",
        "mjset:loop:on",
        "mjset:dm:on",
        "mjset:private:on",
        "mjset:confirm:on",
        "mjset:show",
    ]


async def test_each_change_answers_is_saved_and_survives_a_restart(member: MemberKit) -> None:
    fake = member.fake
    _, stale = await open_panel(member, fake.bob)
    _, panel = await open_panel(member, fake.bob)

    picked = await fake.select(panel, "mjset:mode", ["turbo"], user=fake.bob)
    assert await picked.wait_for_response() == 7  # the panel itself is redrawn
    await member.wait_rendered(panel, lambda m: "Saved: mode turbo" in panel_text(m))
    picked = await fake.select(panel, "mjset:resolution", ["480p"], user=fake.bob)
    await member.wait_rendered(panel, lambda m: "Resolution: **480p**" in panel_text(m))
    clicked = await fake.click(panel, "mjset:loop:on", user=fake.bob)
    assert await clicked.wait_for_response() == 7
    await member.wait_rendered(panel, lambda m: "Loop: **on**" in panel_text(m) and "mjset:loop:off" in m.custom_ids)
    again = await fake.click(stale, "mjset:loop:on", user=fake.bob)  # an older panel's button sets, never flips
    assert await again.wait_for_response() == 7
    await member.wait_rendered(stale, lambda m: "Loop: **on**" in panel_text(m) and "Mode: **turbo**" in panel_text(m))

    await member.restart()
    saved = await load_user_settings(member.store, fake.bob.id)
    assert (saved.mode, saved.resolution, saved.loop) == ("turbo", "480p", True)
    _, reopened = await open_panel(member, fake.bob)
    assert "Mode: **turbo** · Resolution: **480p** · Loop: **on**" in panel_text(reopened)
    refreshed = await fake.click(panel, "mjset:show", user=fake.bob)  # the old panel works after the restart too
    assert await refreshed.wait_for_response() == 7

    await member.configure(limits={"confirm_over": None})  # a turbo video, without its card
    await member.make_video(user=fake.bob)
    body = member.submits("videos")[-1]
    assert (body["mode"], body["resolution"], body["loop"]) == ("turbo", "480p", True)
    await member.make_grid(user=fake.bob)
    assert member.submits("imagine")[-1]["mode"] == "turbo"


async def test_options_given_win_over_the_defaults(member: MemberKit) -> None:
    fake = member.fake
    await open_panel(member, fake.bob, mode="turbo", resolution="480p", loop=True)
    await member.make_video(user=fake.bob, mode="fast", resolution="720p", loop=False)
    body = member.submits("videos")[-1]
    assert (body["mode"], body["resolution"], body["loop"]) == ("fast", "720p", False)
    await member.make_grid(user=fake.bob, prompt="a grid")  # /imagine without a mode: the default
    assert member.submits("imagine")[-1]["mode"] == "turbo"
    alice = await fake.slash("imagine", {"prompt": "alice's"}, user=fake.alice)
    await member.wait_done(await member.job_message(alice))
    assert member.submits("imagine")[-1]["mode"] == "fast"  # defaults are each member's own


async def test_a_default_loop_gives_way_to_an_end_frame(member: MemberKit) -> None:
    fake = member.fake
    await open_panel(member, fake.bob, loop=True)
    end = fake.upload("end.png", member.PNG)
    await member.make_video(user=fake.bob, end_image_url=end.url)
    body = member.submits("videos")[-1]
    assert body["loop"] is False and body["end_image_url"] == end.url


async def test_the_command_options_change_settings_too(member: MemberKit) -> None:
    fake = member.fake
    _, panel = await open_panel(member, fake.bob, dm_when_done=True, private_results=True)
    text = panel_text(panel)
    assert "Saved: DM when done on, private results on." in text
    assert "DM me when a job is done: **on**" in text and "Private results: **on**" in text
    saved = await load_user_settings(member.store, fake.bob.id)
    assert saved.dm_on_done and saved.private_results


async def test_private_results_only_where_the_server_allows_them(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"allow_private_results": False, "allow_turbo": False})
    _, panel = await open_panel(member, fake.bob, mode="turbo")
    text = panel_text(panel)
    assert "doesn't allow private results" in text
    assert "Turbo is turned off on this server" in text
    button = panel.component("mjset:private:on") or {}
    assert button.get("disabled") is True

    await member.store.settings.save_user_settings(fake.bob.id, {"private_results": True})
    handle = await fake.slash("imagine", {"prompt": "public anyway"}, user=fake.bob)
    message = await member.job_message(handle)
    assert not message.ephemeral


async def test_settings_in_dms(member: MemberKit) -> None:
    fake = member.fake
    handle = await fake.slash("settings", {"loop": True}, user=fake.bob, dm=True)
    assert await handle.wait_for_response() == 4
    panel = await handle.wait_for_message(lambda m: bool(m.embeds))
    text = panel_text(panel)
    assert "Servers' limits don't apply in DMs." in text and "Loop: **on**" in text
    assert (await load_user_settings(member.store, fake.bob.id)).loop
