"""/admin through the loopback Discord server: moderators change the server's settings, everyone else is refused.

Discord would hide /admin from members without Manage Server, but the fake lets anyone send it, which is
exactly the case of a member who reached the command some other way: the bot must refuse them itself.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fakediscord import FakeChannel, FakeMessage, FakeRole, FakeUser, InteractionHandle, Permission
from fakediscord.payloads import channel_payload, role_payload

from bot.settings import load_guild_settings
from bot.store import JobStatus, NewJob, Store
from bot.store.models import JobKind

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

REFUSAL = "Only this server's moderators can use `/admin`"


# -- helpers --------------------------------------------------------------------------------------------------


async def new_role(kit: Kit, name: str, permissions: int = 0) -> FakeRole:
    """A role made while the bot runs (Discord tells the bot with GUILD_ROLE_CREATE)."""
    fake = kit.fake
    role = fake.add_role(fake.guild, name, permissions)
    await fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(fake.guild.id), "role": role_payload(role)})
    guild = kit.bot.get_guild(fake.guild.id)
    await kit.until(lambda: guild is not None and guild.get_role(role.id) is not None, what=f"role {name}")
    return role


async def new_channel(kit: Kit, name: str) -> FakeChannel:
    """A text channel made while the bot runs (CHANNEL_CREATE)."""
    fake = kit.fake
    channel = fake.add_channel(fake.guild, name)
    await fake.dispatch("CHANNEL_CREATE", channel_payload(channel))
    await kit.until(lambda: kit.bot.get_channel(channel.id) is not None, what=f"channel {name}")
    return channel


async def manager(kit: Kit) -> FakeUser:
    """A member whose role has Manage Server (and nothing else): a moderator by permission."""
    fake = kit.fake
    role = await new_role(kit, "Managers", int(Permission.MANAGE_GUILD))
    user = fake.add_user("manager", global_name="Manager")
    fake.add_member(fake.guild, user, roles=[role])
    return user


async def admin(kit: Kit, subcommand: str, options: dict[str, Any] | None = None, *, user: Any) -> InteractionHandle:
    return await kit.fake.slash("admin", options or {}, subcommand=subcommand, user=user)


async def reply(handle: InteractionHandle) -> FakeMessage:
    """The ephemeral answer (content and embeds)."""
    message = await handle.wait_for_message(lambda m: m.ephemeral and not m.loading)
    assert all(body["allowed_mentions"]["parse"] == [] for body in message.bodies if body), message.bodies
    return message


def text_of(message: FakeMessage) -> str:
    """Everything a member reads in a message: content, embed titles, descriptions and fields."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{field['name']}: {field['value']}" for field in embed.get("fields") or []]
    return "\n".join(parts)


async def answer(kit: Kit, subcommand: str, options: dict[str, Any] | None = None, *, user: Any) -> str:
    return text_of(await reply(await admin(kit, subcommand, options, user=user)))


async def set_audit_channel(kit: Kit) -> FakeChannel:
    channel = await new_channel(kit, "audit-log")
    said = await answer(kit, "audit-channel set", {"channel": channel}, user=kit.fake.owner)
    assert f"Audit-log channel: none → <#{channel.id}>" in said
    await audit_post(kit, channel, "Audit-log channel: none →")
    return channel


def audit_posts(kit: Kit, channel: FakeChannel) -> list[str]:
    return [text_of(m) + "\n" + str(m.embeds[0].get("footer", {}).get("text")) for m in kit.fake.messages(channel)]


async def audit_post(kit: Kit, channel: FakeChannel, *needles: str) -> str:
    """The first audit post in ``channel`` that contains every needle (waiting for it)."""
    message = await kit.fake.wait_for_message(channel, lambda m: all(n in text_of(m) for n in needles))
    assert message.embeds and message.bodies[0]["allowed_mentions"]["parse"] == []
    return text_of(message)


def leaves(command: dict[str, Any]) -> set[str]:
    """Every subcommand path of a registered command: "channels add", "jobs"..."""
    found: set[str] = set()
    for option in command.get("options") or []:
        if option["type"] == 1:
            found.add(option["name"])
        elif option["type"] == 2:
            found |= {f"{option['name']} {sub['name']}" for sub in option.get("options") or []}
    return found


# -- access -----------------------------------------------------------------------------------------------------


async def test_admin_is_registered_for_manage_server_in_servers_only(kit: Kit) -> None:
    command = kit.fake.command("admin")
    assert int(command["default_member_permissions"]) == int(Permission.MANAGE_GUILD)
    assert command.get("contexts") in ([0], None) and command.get("dm_permission") in (False, None)


async def test_admin_in_direct_messages_says_it_is_for_servers(kit: Kit) -> None:
    handle = await kit.fake.slash("admin", {}, subcommand="settings", dm=True, user=kit.fake.owner)
    assert "`/admin` works in a server, not in direct messages." in await kit.reply_text(handle)


def every_subcommand(kit: Kit, role: FakeRole) -> dict[str, dict[str, Any]]:
    fake = kit.fake
    return {
        "channels add": {"channel": fake.general},
        "channels remove": {"channel": fake.general},
        "channels list": {},
        "channels clear": {},
        "policy": {"policy": "everyone"},
        "moderator-roles add": {"role": role},
        "moderator-roles remove": {"role": role},
        "moderator-roles list": {},
        "filter add": {"pattern": "kraken"},
        "filter remove": {"pattern": "kraken"},
        "filter list": {},
        "users block": {"member": fake.bob, "reason": "spam"},
        "users unblock": {"member": fake.bob},
        "users list": {},
        "limits": {"running_per_user": "2"},
        "audit-channel set": {"channel": fake.general},
        "audit-channel clear": {},
        "gallery set": {"channel": fake.general},
        "gallery threshold": {"stars": 4},
        "gallery clear": {},
        "jobs": {},
        "stats": {"days": 3},
        "status": {},
        "settings": {},
    }


async def test_every_subcommand_is_refused_to_members_without_manage_server(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    role = await new_role(kit, "Helpers")
    before = await kit.store.settings.guild_settings(fake.guild.id)
    calls = every_subcommand(kit, role)
    assert set(calls) == leaves(fake.command("admin"))  # a new subcommand must be added here

    for user in (fake.alice, fake.moderator):  # a plain member; Manage Messages is not Manage Server
        for subcommand, options in calls.items():
            handle = await admin(kit, subcommand, options, user=user)
            assert await handle.wait_for_response() == 4 and handle.ephemeral, subcommand
            said = text_of(await reply(handle))
            assert REFUSAL in said, (subcommand, said)
            assert kit.public_messages(handle) == []
            await audit_post(kit, audit, f"Refused `/admin {subcommand}` to <@{user.id}>")

    assert await kit.store.settings.guild_settings(fake.guild.id) == before
    assert kit.task_count() == 0


async def test_every_subcommand_works_for_a_member_with_manage_server(kit: Kit) -> None:
    fake = kit.fake
    user = await manager(kit)
    role = await new_role(kit, "Helpers")
    for subcommand, options in every_subcommand(kit, role).items():
        said = await answer(kit, subcommand, options, user=user)
        assert REFUSAL not in said and "Something went wrong" not in said, (subcommand, said)
    settings = await load_guild_settings(kit.store, fake.guild.id)
    assert settings.button_policy == "everyone"
    assert settings.limits.max_running_per_user == 2
    assert settings.audit_channel is None and settings.blocked == {} and settings.word_filter == ()


async def test_a_configured_moderator_role_counts_and_can_be_taken_away(kit: Kit) -> None:
    fake = kit.fake
    helpers = await new_role(kit, "Helpers")
    member = fake.guild.member(fake.alice)
    member.roles.append(helpers.id)
    assert REFUSAL in await answer(kit, "settings", user=fake.alice)

    said = await answer(kit, "moderator-roles add", {"role": helpers}, user=fake.owner)
    assert f"Moderator roles: none → <@&{helpers.id}>" in said
    assert "⚙️ Server settings" in await answer(kit, "settings", user=fake.alice)
    assert "Blocked <@" in await answer(kit, "users block", {"member": fake.bob}, user=fake.alice)
    assert f"<@&{helpers.id}>" in await answer(kit, "moderator-roles list", user=fake.alice)
    assert REFUSAL in await answer(kit, "settings", user=fake.bob)  # without the role

    await answer(kit, "moderator-roles remove", {"role": helpers}, user=fake.alice)
    assert REFUSAL in await answer(kit, "settings", user=fake.alice)


# -- the settings -----------------------------------------------------------------------------------------------


async def test_channels_allow_list_add_list_remove_clear(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    art = await new_channel(kit, "art")
    assert "Allowed channels: everywhere" in await answer(kit, "channels list", user=fake.owner)

    said = await answer(kit, "channels add", {"channel": art}, user=fake.owner)
    assert f"Allowed channels: everywhere → <#{art.id}>" in said
    await audit_post(kit, audit, f"Allowed channels: everywhere → <#{art.id}>", f"<@{fake.owner.id}>")
    said = await answer(kit, "channels add", {"channel": fake.general}, user=fake.owner)
    assert f"<#{art.id}> → <#{art.id}>, <#{fake.general.id}>" in said
    assert "Nothing changed" in await answer(kit, "channels add", {"channel": art}, user=fake.owner)
    assert f"<#{art.id}>, <#{fake.general.id}>" in await answer(kit, "channels list", user=fake.owner)
    assert (await load_guild_settings(kit.store, fake.guild.id)).channels == (art.id, fake.general.id)

    # The gate enforces the list: elsewhere a command is refused, naming the allowed channels, and audit-logged.
    elsewhere = await new_channel(kit, "random")
    refused = await fake.slash("video", {"prompt": "a kite"}, user=fake.bob, channel=elsewhere)
    said = await kit.reply_text(refused)
    assert f"<#{art.id}> and <#{fake.general.id}>" in said and refused.ephemeral
    await audit_post(kit, audit, "/video refused", f"<@{fake.bob.id}>")
    assert kit.task_count() == 0

    said = await answer(kit, "channels remove", {"channel": art}, user=fake.owner)
    assert f"<#{art.id}>, <#{fake.general.id}> → <#{fake.general.id}>" in said
    said = await answer(kit, "channels clear", user=fake.owner)
    assert f"Allowed channels: <#{fake.general.id}> → everywhere" in said
    await audit_post(kit, audit, f"<#{fake.general.id}> → everywhere")
    assert (await load_guild_settings(kit.store, fake.guild.id)).channels == ()


async def test_policy_is_saved_and_posted(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    said = await answer(kit, "policy", {"policy": "owner_and_mods"}, user=fake.owner)
    assert "the job's owner (and members with Manage Messages) → the job's owner and moderators" in said
    await audit_post(kit, audit, "Who may use a job's buttons and reactions: the job's owner (and")
    assert (await load_guild_settings(kit.store, fake.guild.id)).button_policy == "owner_and_mods"


async def test_word_filter_add_list_remove_with_validation(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    said = await answer(kit, "filter add", {"pattern": "  Kraken "}, user=fake.owner)
    assert 'Word filter: added `"kraken"` (0 → 1 rules)' in said
    await audit_post(kit, audit, 'added `"kraken"`')
    said = await answer(kit, "filter add", {"pattern": r"sea\s*monster", "regex": True}, user=fake.owner)
    assert r"added `/sea\s*monster/` (1 → 2 rules)" in said
    assert "already in the word filter" in await answer(kit, "filter add", {"pattern": "kraken"}, user=fake.owner)

    refused = await answer(kit, "filter add", {"pattern": "(?=a)b", "regex": True}, user=fake.owner)
    assert "look-arounds" in refused
    refused = await answer(kit, "filter add", {"pattern": "([a-z]", "regex": True}, user=fake.owner)
    assert "is not a valid regular expression" in refused

    refused = await fake.slash("imagine", {"prompt": "a SEA   monster rises"}, user=fake.bob)
    assert r"matches /sea\\s\*monster/" in await kit.reply_text(refused)  # as the gate escapes it for markdown
    await audit_post(kit, audit, "/imagine refused", "word filter")
    assert kit.task_count() == 0

    listed = await answer(kit, "filter list", user=fake.owner)
    assert '`"kraken"`' in listed and r"`/sea\s*monster/`" in listed and "Word filter (2)" in listed

    choices = await kit.fake.autocomplete(
        "admin", {"pattern": "sea"}, focused="pattern", subcommand="filter remove", user=fake.owner
    )
    assert [c["value"] for c in await choices_of(kit, choices)] == [r"sea\s*monster"]
    hidden = await kit.fake.autocomplete(
        "admin", {"pattern": ""}, focused="pattern", subcommand="filter remove", user=fake.alice
    )
    assert await choices_of(kit, hidden) == []  # the list is for moderators only

    said = await answer(kit, "filter remove", {"pattern": "KRAKEN"}, user=fake.owner)
    assert 'removed `"kraken"` (2 → 1 rules)' in said
    assert "is not in the word filter" in await answer(kit, "filter remove", {"pattern": "nope"}, user=fake.owner)
    rules = (await load_guild_settings(kit.store, fake.guild.id)).word_filter
    assert [(rule.pattern, rule.regex) for rule in rules] == [(r"sea\s*monster", True)]
    said = await answer(kit, "filter remove", {"pattern": r"/sea\s*monster/"}, user=fake.owner)  # as listed
    assert "(1 → 0 rules)" in said
    assert "no words or patterns" in await answer(kit, "filter list", user=fake.owner)


async def choices_of(kit: Kit, handle: InteractionHandle) -> list[dict[str, Any]]:
    found: tuple[list[dict[str, Any]]] = await kit.fake.wait_for(
        lambda: (handle.choices,) if handle.choices is not None else None, what="autocomplete choices"
    )
    return found[0]


async def test_users_block_unblock_list(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    said = await answer(kit, "users block", {"member": fake.bob, "reason": "spamming *prompts*"}, user=fake.owner)
    assert f"Blocked <@{fake.bob.id}>. They will see: spamming \\*prompts\\*" in said
    await audit_post(kit, audit, f"Blocked <@{fake.bob.id}>: spamming")
    entry = (await load_guild_settings(kit.store, fake.guild.id)).blocked[fake.bob.id]
    assert entry.reason == "spamming *prompts*" and entry.by == fake.owner.id and entry.at > time.time() - 60

    refused = await fake.slash("imagine", {"prompt": "a cat"}, user=fake.bob)
    assert "Their reason: spamming *prompts*" in await kit.reply_text(refused)  # the blocked member sees why
    assert kit.task_count() == 0

    listed = await answer(kit, "users list", user=fake.owner)
    assert f"<@{fake.bob.id}>: spamming" in listed and f"by <@{fake.owner.id}>" in listed
    assert "can't block yourself" in await answer(kit, "users block", {"member": fake.owner}, user=fake.owner)

    said = await answer(kit, "users unblock", {"member": fake.bob}, user=fake.owner)
    assert f"Unblocked <@{fake.bob.id}>" in said
    await audit_post(kit, audit, f"Unblocked <@{fake.bob.id}> (was blocked: spamming")
    assert "is not blocked" in await answer(kit, "users unblock", {"member": fake.bob}, user=fake.owner)
    assert "nobody" in await answer(kit, "users list", user=fake.owner)

    said = await answer(kit, "users block", {"member": fake.alice}, user=fake.owner)
    assert "Without a reason, they are told to ask a moderator why" in said
    refused = await fake.slash("imagine", {"prompt": "a cat"}, user=fake.alice)
    assert "A moderator blocked you from using the bot on this server. Ask them why." in await kit.reply_text(refused)
    assert f"<@{fake.alice.id}>: no reason given" in await answer(kit, "users list", user=fake.owner)


async def test_limits_set_show_and_clear(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    shown = await answer(kit, "limits", user=fake.owner)
    assert "Running jobs per member: **no limit**" in shown and "Turbo mode: **allowed**" in shown

    options = {"running_per_user": "2", "jobs_per_user_per_day": "10", "daily_budget": "40.5", "allow_turbo": False}
    said = await answer(kit, "limits", options, user=fake.owner)
    assert "Running jobs per member: no limit → 2" in said and "Server budget per day: no limit → 40.5 units" in said
    assert "Turbo mode: allowed → not allowed" in said and "Jobs per member per day: **10**" in said
    await audit_post(kit, audit, "Limits:", "Jobs per member per day: no limit → 10")
    limits = (await load_guild_settings(kit.store, fake.guild.id)).limits
    assert (limits.max_running_per_user, limits.max_jobs_per_user_per_day, limits.daily_budget) == (2, 10, 40.5)
    assert not limits.allow_turbo and limits.allow_720p

    said = await answer(kit, "limits", {"running_per_user": "none", "daily_budget": "0"}, user=fake.owner)
    assert "Running jobs per member: 2 → no limit" in said and "40.5 units → no limit" in said
    for bad in ("-1", "two", "1.5"):
        said = await answer(kit, "limits", {"running_per_user": bad}, user=fake.owner)
        assert "takes a whole number of at least 1, or `none`" in said
    limits = (await load_guild_settings(kit.store, fake.guild.id)).limits
    assert (limits.max_running_per_user, limits.max_jobs_per_user_per_day, limits.daily_budget) == (None, 10, None)


async def test_audit_channel_needs_a_channel_the_bot_can_post_in(kit: Kit) -> None:
    fake = kit.fake
    closed = await new_channel(kit, "closed")
    bot_role = fake.guild.role(fake.bot_user.username)
    fake.set_overwrite(closed, bot_role, deny=int(Permission.SEND_MESSAGES | Permission.EMBED_LINKS))
    await fake.push_update(closed)
    await kit.until(
        lambda: not kit.bot.get_channel(closed.id).permissions_for(kit.bot.get_guild(fake.guild.id).me).send_messages,
        what="the overwrite",
    )
    said = await answer(kit, "audit-channel set", {"channel": closed}, user=fake.owner)
    assert f"I can't post in <#{closed.id}>: I need Send Messages, Embed Links there" in said
    assert (await load_guild_settings(kit.store, fake.guild.id)).audit_channel is None

    first = await set_audit_channel(kit)
    second = await new_channel(kit, "mod-log")
    said = await answer(kit, "audit-channel set", {"channel": second}, user=fake.owner)
    assert f"<#{first.id}> → <#{second.id}>" in said
    await audit_post(kit, second, f"Audit-log channel: <#{first.id}> → <#{second.id}>")
    await audit_post(kit, first, f"Audit-log channel: <#{first.id}> → <#{second.id}>")  # the old one hears too

    said = await answer(kit, "audit-channel clear", user=fake.owner)
    assert f"Audit-log channel: <#{second.id}> → none" in said
    await audit_post(kit, second, f"Audit-log channel: <#{second.id}> → none")
    assert (await load_guild_settings(kit.store, fake.guild.id)).audit_channel is None


async def test_settings_show_everything_and_survive_a_restart(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    helpers = await new_role(kit, "Helpers")
    await answer(kit, "channels add", {"channel": fake.general}, user=fake.owner)
    await answer(kit, "policy", {"policy": "everyone"}, user=fake.owner)
    await answer(kit, "moderator-roles add", {"role": helpers}, user=fake.owner)
    await answer(kit, "filter add", {"pattern": "kraken"}, user=fake.owner)
    await answer(kit, "users block", {"member": fake.bob, "reason": "rude"}, user=fake.owner)
    await answer(kit, "limits", {"running_per_user": "3", "daily_budget": "40", "allow_720p": False}, user=fake.owner)
    await kit.make_grid(user=fake.alice, prompt="a calm sea")
    saved = await load_guild_settings(kit.store, fake.guild.id)

    await kit.restart()
    assert await load_guild_settings(kit.store, fake.guild.id) == saved
    shown = await answer(kit, "settings", user=fake.owner)
    for needle in (
        f"Allowed channels: <#{fake.general.id}>",
        "Buttons and reactions: everyone in the server",
        f"Moderator roles: <@&{helpers.id}>",
        f"Audit-log channel: <#{audit.id}>",
        f"<@{fake.bob.id}>: rude",
        "Running jobs per member: **3**",
        "720p videos: **not allowed**",
        '`"kraken"`',
        "Used today: **1** of 40 units (resets <t:",
    ):
        assert needle in shown, (needle, shown)


# -- jobs and statistics ------------------------------------------------------------------------------------


async def test_jobs_lists_the_servers_jobs_and_moderators_cancel_any(kit: Kit) -> None:
    fake = kit.fake
    audit = await set_audit_channel(kit)
    assert "No jobs are queued or running" in await answer(kit, "jobs", user=fake.owner)
    kit.emulator.settings.job_duration_s = 30.0
    handle = await fake.slash("imagine", {"prompt": "a slow **tide**"}, user=fake.bob)
    message = await kit.job_message(handle)
    job = await kit.wait_job(message, JobStatus.RUNNING)

    listing = await reply(await admin(kit, "jobs", user=fake.owner))
    said = text_of(listing)
    assert f"<@{fake.bob.id}> · **" in said and f"`{job.id}`" in said and "▶️ running" in said
    assert r"a slow \*\*tide\*\*" in said
    assert f"https://discord.com/channels/{fake.guild.id}/{fake.general.id}/{message.id}" in said
    assert listing.custom_ids == [f"mjadmin:cancel:{job.id}"]

    refused = await fake.click(listing, f"mjadmin:cancel:{job.id}", user=fake.alice)
    assert REFUSAL in await kit.reply_text(refused)
    await audit_post(kit, audit, f"Refused the moderators' Cancel on job `{job.id}` to <@{fake.alice.id}>")
    assert (await kit.store.jobs.get_job(job.id)).status is JobStatus.RUNNING  # type: ignore[union-attr]

    click = await fake.click(listing, f"mjadmin:cancel:{job.id}", user=fake.owner)
    assert f"Cancelled job `{job.id}` of <@{fake.bob.id}>" in await kit.reply_text(click)
    cancelled = await kit.wait_job(job, JobStatus.CANCELLED)
    assert "Cancelled by a moderator (Server Owner)" in (cancelled.error_message or "")
    await audit_post(kit, audit, "Job cancelled", "Cancelled by a moderator (Server Owner)", f"`{job.id}`")
    again = await fake.click(listing, f"mjadmin:cancel:{job.id}", user=fake.owner)
    assert "has already ended (cancelled)" in await kit.reply_text(again)


async def test_jobs_shows_queued_jobs_and_its_buttons_work_after_a_restart(kit: Kit) -> None:
    fake = kit.fake
    await answer(kit, "limits", {"running_per_user": "1"}, user=fake.owner)
    kit.emulator.settings.job_duration_s = 30.0
    first = await kit.job_of(await kit.job_message(await fake.slash("imagine", {"prompt": "first"}, user=fake.bob)))
    await fake.slash("imagine", {"prompt": "second"}, user=fake.bob)
    [queued] = await kit.until(lambda: kit.store.queue.queued_jobs(guild_id=fake.guild.id), what="a queued job")

    listing = await reply(await admin(kit, "jobs", user=fake.owner))
    said = text_of(listing)
    assert "Queued and running jobs (2)" in said and "⏳ queued" in said
    assert said.index(f"`{first.id}`") < said.index(f"`{queued.id}`")  # oldest first
    assert listing.custom_ids == [f"mjadmin:cancel:{first.id}", f"mjadmin:cancel:{queued.id}"]

    await kit.restart()  # the list's buttons hold only the job id: they work in the new process
    click = await fake.click(listing, f"mjadmin:cancel:{queued.id}", user=fake.owner)
    assert f"Cancelled job `{queued.id}`" in await kit.reply_text(click)
    await kit.wait_job(queued, JobStatus.CANCELLED)
    assert (await kit.store.jobs.get_job(first.id)).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert [job.id for job in await kit.store.queue.running_jobs(fake.guild.id)] == [first.id]


async def seed_jobs(kit: Kit) -> None:
    """Jobs of two members over the last days, written through a second store whose clock the test sets."""
    guild = kit.fake.guild.id
    bob, alice = kit.fake.bob.id, kit.fake.alice.id
    now = time.time()
    day = 86_400.0
    rows = [
        # (user, created seconds ago, status, wait s, error code, error message)
        (bob, 60, JobStatus.SUCCEEDED, 10.0, None, None),
        (bob, day, JobStatus.SUCCEEDED, 30.0, None, None),
        (bob, day, JobStatus.SUCCEEDED, 20.0, None, None),
        (bob, 2 * day, JobStatus.FAILED, 5.0, "forbidden", "banned prompt"),
        (alice, 60, JobStatus.FAILED, 5.0, "forbidden", "banned prompt"),
        (alice, 120, JobStatus.TIMED_OUT, 20.0, "timeout", "too slow"),
        (alice, day, JobStatus.CANCELLED, 1.0, "cancelled", "by alice"),
        (alice, 9 * day, JobStatus.SUCCEEDED, 1.0, None, None),  # before a 3-day window
    ]
    clock = [now]
    async with await Store.open(kit.store.location, clock=lambda: clock[0]) as store:
        for user, ago, status, wait, code, message in rows:
            clock[0] = now - ago
            job = await store.jobs.create_job(
                NewJob(kind=JobKind.IMAGINE, action="generate", prompt="seeded", guild_id=guild, user_id=user)
            )
            clock[0] += wait
            await store.jobs.finish_job(job.id, status, error_code=code, error_message=message)


async def test_stats_embed_numbers_and_chart(kit: Kit) -> None:
    fake = kit.fake
    await seed_jobs(kit)
    handle = await admin(kit, "stats", {"days": 3}, user=fake.owner)
    assert await handle.wait_for_response() == 5 and handle.ephemeral
    message = await reply(handle)
    said = text_of(message)
    assert "The last 3 days (UTC)" in said
    assert "**7** jobs · ✅ 3 succeeded · ❌ 2 failed · ⌛ 1 timed out · 🚫 1 cancelled" in said
    assert "Success rate: **50%** · median wait: **0:20**" in said
    assert f"<@{fake.bob.id}>: **4** jobs · ✅ 3 · ❌ 1 · 🚫 0 · median wait 0:20" in said
    assert f"<@{fake.alice.id}>: **3** jobs · ✅ 0 · ❌ 2 · 🚫 1 · median wait n/a" in said
    assert "`forbidden` (2): banned prompt" in said and "`timeout` (1): too slow" in said
    [attachment] = message.attachments
    assert attachment["filename"] == "jobs-per-day.png"
    assert message.embeds[0]["image"]["url"] == "attachment://jobs-per-day.png"
    data = fake.attachments[int(attachment["id"])].data
    assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_stats_days_are_bounded(kit: Kit) -> None:
    [stats] = [o for o in kit.fake.command("admin")["options"] if o["name"] == "stats"]
    [days] = stats["options"]
    assert (days["name"], days["min_value"], days["max_value"], days.get("required", False)) == ("days", 1, 90, False)
