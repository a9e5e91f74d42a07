"""The loopback Discord server, proven with the real, unmodified discord.py.

A small bot defined here has a slash command that defers and then edits its response with an embed,
DynamicItem buttons and a file; a button that edits its message, one that opens a modal; a reaction
listener; a DM; an attachment option; a command that answers late. Each test drives it through the fake.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from fakediscord import TOKEN_LIFETIME, FakeDiscord, Permission, discord_error_records, running_bot

pytest_plugins = ("pytester",)

JOB_ID = 42
CLIP_BYTES = b"\x00\x00\x00\x18ftypmp42 not really a video"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

FRENCH = {
    "video": "vidéo",
    "Make a short video": "Créer une courte vidéo",
    "prompt": "invite",
    "What to show": "Ce qu'il faut montrer",
}


class FrenchTranslator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        return FRENCH.get(string.message) if locale is discord.Locale.french else None


class PickButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"pick:(?P<job>\d+):(?P<index>\d)"):
    def __init__(self, job: int, index: int) -> None:
        super().__init__(discord.ui.Button(label=f"Clip {index}", custom_id=f"pick:{job}:{index}"))
        self.job = job
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PickButton:
        return cls(int(match["job"]), int(match["index"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=f"picked clip {self.index} of job {self.job}")


class RenameModal(discord.ui.Modal, title="Rename the job"):
    name: discord.ui.TextInput[RenameModal] = discord.ui.TextInput(label="New name", custom_id="name")

    def __init__(self, job: int) -> None:
        super().__init__(custom_id=f"rename:{job}")
        self.job = job

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"renamed job {self.job} to {self.name.value}", ephemeral=True)


class RenameButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rename:(?P<job>\d+)"):
    def __init__(self, job: int) -> None:
        super().__init__(discord.ui.Button(label="Rename", custom_id=f"rename:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RenameButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RenameModal(self.job))


class StyleSelect(discord.ui.Select[discord.ui.View]):
    def __init__(self) -> None:
        super().__init__(custom_id="style", options=[discord.SelectOption(label=s) for s in ("raw", "cinematic")])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"style: {', '.join(self.values)}")


class SampleBot(commands.Bot):
    """A bot shaped like the real one: slash commands, DynamicItem buttons, a modal, a reaction listener."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        self.guild_id = guild_id
        self.release = asyncio.Event()
        self.seen: list[dict[str, Any]] = []
        self.read_messages: list[str] = []
        self.add_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(PickButton, RenameButton)
        await self.tree.set_translator(FrenchTranslator())
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5-second pause before a second IDENTIFY (after an invalidated session)."""

    async def on_message(self, message: discord.Message) -> None:
        self.read_messages.append(message.content)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if self.user is None or payload.user_id == self.user.id:
            return
        channel = self.get_channel(payload.channel_id)
        assert isinstance(channel, discord.TextChannel)
        member = payload.member.display_name if payload.member else "?"
        await channel.send(f"{payload.emoji} from {member} on {payload.message_id}")

    def add_commands(self) -> None:
        bot = self

        @self.tree.command(
            name=app_commands.locale_str("video"), description=app_commands.locale_str("Make a short video")
        )
        @app_commands.describe(prompt=app_commands.locale_str("What to show"))
        @app_commands.rename(prompt=app_commands.locale_str("prompt"))
        async def video(interaction: discord.Interaction, prompt: str, count: int = 1) -> None:
            await interaction.response.defer(thinking=True)
            view = discord.ui.View(timeout=None)
            view.add_item(PickButton(JOB_ID, 1))
            view.add_item(RenameButton(JOB_ID))
            embed = discord.Embed(title="Your video", description=f"{prompt} x{count}")
            clip = discord.File(io.BytesIO(CLIP_BYTES), filename="clip.mp4")
            await interaction.edit_original_response(embed=embed, view=view, attachments=[clip])

        @video.autocomplete("prompt")
        async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [
                app_commands.Choice(name=f"{current} at {when}", value=f"{current} at {when}")
                for when in ("dawn", "dusk")
            ]

        jobs = app_commands.Group(name="jobs", description="Your jobs")

        @jobs.command(name="list", description="Lists your jobs")
        async def list_jobs(interaction: discord.Interaction, limit: int = 5) -> None:
            where = "DM" if isinstance(interaction.channel, discord.DMChannel) else "guild"
            await interaction.response.send_message(f"{limit} jobs of {interaction.user.name} in {where}")

        self.tree.add_command(jobs)

        @self.tree.command(name="steps", description="Thinks, then answers in two follow-ups")
        async def steps(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("first")
            await interaction.followup.send("second")

        @self.tree.command(name="style", description="Offers a select menu")
        async def style(interaction: discord.Interaction) -> None:
            view = discord.ui.View()
            view.add_item(StyleSelect())
            await interaction.response.send_message("pick a style", view=view)

        @self.tree.command(name="announce", description="Posts in the channel")
        async def announce(interaction: discord.Interaction) -> None:
            assert isinstance(interaction.channel, discord.TextChannel)
            try:
                await interaction.channel.send("announcement")
            except discord.Forbidden as error:
                await interaction.response.send_message(f"cannot post here ({error.code})", ephemeral=True)
            else:
                await interaction.response.send_message("posted", ephemeral=True)

        @self.tree.command(name="ping", description="Answers privately, without pinging")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                f"pong {interaction.user.mention}",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions(users=False),
            )

        @self.tree.command(name="dm", description="Sends you a DM")
        async def dm(interaction: discord.Interaction) -> None:
            try:
                await interaction.user.send("hello in private")
            except discord.Forbidden as error:
                await interaction.response.send_message(f"cannot DM you ({error.code})", ephemeral=True)
            else:
                await interaction.response.send_message("sent you a DM", ephemeral=True)

        @self.tree.command(name="upload", description="Reads an attachment and sends it back reversed")
        async def upload(interaction: discord.Interaction, image: discord.Attachment) -> None:
            data = await image.read()
            digest = hashlib.sha256(data).hexdigest()
            reversed_file = discord.File(io.BytesIO(data[::-1]), filename="reversed.bin")
            try:
                await interaction.response.send_message(f"{image.filename} {len(data)} {digest}", file=reversed_file)
            except discord.HTTPException as error:
                if error.status != 413:
                    raise
                await interaction.response.send_message(f"too large for this channel ({error.code})")

        @self.tree.command(name="late", description="Answers after a long while")
        async def late(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await bot.release.wait()
            try:
                await interaction.followup.send("finally done")
            except discord.HTTPException as error:
                if error.code != 50027:
                    raise
                assert isinstance(interaction.channel, discord.TextChannel)
                await interaction.channel.send(f"{interaction.user.mention} finally done (fallback)")

        @self.tree.command(name="slowack", description="Acknowledges too late")
        async def slowack(interaction: discord.Interaction) -> None:
            await bot.release.wait()
            await interaction.response.defer()

        @self.tree.command(name="inspect", description="Shows permissions")
        async def inspect(interaction: discord.Interaction, member: discord.Member) -> None:
            assert isinstance(interaction.user, discord.Member)
            bot.seen.append(
                {
                    "permissions": interaction.permissions,
                    "app_permissions": interaction.app_permissions,
                    "target": member.guild_permissions,
                    "target_name": member.display_name,
                    "locale": interaction.locale,
                    "filesize_limit": interaction.filesize_limit,
                }
            )
            await interaction.response.send_message("noted", ephemeral=True)


@pytest.fixture
async def fake(fake_discord: FakeDiscord) -> AsyncIterator[FakeDiscord]:
    yield fake_discord
    assert fake_discord.unknown_routes == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[SampleBot]:
    async with running_bot(SampleBot(fake.guild.id), fake) as running:
        yield running


async def test_login_identifies_with_token_and_intents_and_syncs_localised_commands(
    fake: FakeDiscord, bot: SampleBot
) -> None:
    assert fake.identifies[0]["token"] == "fake-token"
    assert fake.identifies[0]["intents"] == discord.Intents.default().value
    assert fake.requests[0].headers["Authorization"] == "Bot fake-token"
    assert bot.application_id == fake.application.id
    assert [g.id for g in bot.guilds] == [fake.guild.id]
    guild = bot.get_guild(fake.guild.id)
    assert guild is not None and guild.get_channel(fake.general.id) is not None

    sync = fake.requests_matching("PUT", rf"/applications/{fake.application.id}/guilds/{fake.guild.id}/commands")
    assert len(sync) == 1 and sync[0].status == 200
    assert fake.commands() == []
    video = fake.command("video", fake.guild)
    assert video["name_localizations"] == {"fr": "vidéo"}
    assert video["description_localizations"] == {"fr": "Créer une courte vidéo"}
    prompt = video["options"][0]
    assert prompt["name"] == "prompt" and prompt["required"] is True
    assert prompt["name_localizations"] == {"fr": "invite"}
    assert prompt["description_localizations"] == {"fr": "Ce qu'il faut montrer"}
    assert {"id", "application_id", "version", "type", "guild_id"} <= video.keys()
    assert video["application_id"] == str(fake.application.id) and video["type"] == 1


async def test_slash_defers_then_edits_with_embed_buttons_and_file_then_button_and_modal(
    fake: FakeDiscord, bot: SampleBot
) -> None:
    handle = await fake.slash("video", {"prompt": "a cat", "count": 2})
    assert await handle.wait_for_response() == 5
    assert handle.thinking and handle.ack_delay is not None and handle.ack_delay < 3
    message = await handle.wait_for_original(lambda m: bool(m.embeds))
    assert message.embeds[0]["title"] == "Your video" and message.embeds[0]["description"] == "a cat x2"
    assert message.custom_ids == [f"pick:{JOB_ID}:1", f"rename:{JOB_ID}"]
    assert [a["filename"] for a in message.attachments] == ["clip.mp4"]
    assert message.files[0].data == CLIP_BYTES and message.files[0].content_type == "video/mp4"
    edit = fake.requests_matching("PATCH", rf"/webhooks/{fake.application.id}/[^/]+/messages/@original")[0]
    assert edit.multipart and edit.files[0].filename == "clip.mp4"
    assert fake.message(message.id) is message and message in fake.messages(fake.general)

    click = await fake.click(message, f"pick:{JOB_ID}:1", user=fake.bob)
    assert await click.wait_for_response() == 7
    edited = await fake.wait_for_message_edit(message.id, lambda m: m.content.startswith("picked"))
    assert edited.content == f"picked clip 1 of job {JOB_ID}" and edited.custom_ids  # buttons kept

    opener = await fake.click(message, f"rename:{JOB_ID}")
    modal = await opener.wait_for_modal()
    assert modal["custom_id"] == f"rename:{JOB_ID}" and modal["title"] == "Rename the job"
    submitted = await fake.submit_modal(f"rename:{JOB_ID}", {"name": "Sunset"})
    assert submitted.payload["message"]["id"] == str(message.id)
    reply = await submitted.wait_for_message()
    assert reply.content == f"renamed job {JOB_ID} to Sunset"
    assert submitted.ack_type == 4 and submitted.ephemeral and reply.ephemeral


async def test_buttons_are_persistent_across_a_restart(fake: FakeDiscord) -> None:
    async with running_bot(SampleBot(fake.guild.id), fake):
        handle = await fake.slash("video", {"prompt": "a dog"})
        message = await handle.wait_for_original(lambda m: bool(m.custom_ids))
    with pytest.raises(RuntimeError, match="session has ended"):
        await fake.click(message, f"pick:{JOB_ID}:1")

    async with running_bot(SampleBot(fake.guild.id), fake):
        assert len(fake.identifies) == 2
        click = await fake.click(message, f"pick:{JOB_ID}:1")
        assert await click.wait_for_response() == 7
        assert fake.message(message.id).content == f"picked clip 1 of job {JOB_ID}"


async def test_reaction_reaches_the_raw_listener(fake: FakeDiscord, bot: SampleBot) -> None:
    said = await fake.user_message(fake.general, "look at this", user=fake.alice)
    event = await fake.react(said.id, fake.general.id, "🎉", user=fake.bob)
    assert event["type"] == 0 and event["guild_id"] == str(fake.guild.id) and event["member"]["flags"] == 0
    answer = await fake.wait_for_message(fake.general, lambda m: m.content.startswith("🎉"))
    assert answer.content == f"🎉 from Bob on {said.id}"
    assert said.reactions == {"🎉": 1}


async def test_dm_channel_is_created_and_the_dm_is_found_by_recipient(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("dm", user=fake.bob)
    dm = await fake.wait_for_dm(fake.bob)
    assert dm.content == "hello in private"
    opened = fake.requests_matching("POST", "/users/@me/channels")
    assert opened[0].json == {"recipient_id": fake.bob.id} or opened[0].json == {"recipient_id": str(fake.bob.id)}
    assert opened[0].response["type"] == 1 and fake.dm_messages(fake.alice) == []
    assert (await handle.wait_for_message()).content == "sent you a DM"


async def test_attachment_option_is_downloaded_and_a_file_is_uploaded_multipart(
    fake: FakeDiscord, bot: SampleBot
) -> None:
    upload = fake.upload("cat.png", PNG_BYTES)
    handle = await fake.slash("upload", {"image": upload})
    resolved = handle.payload["data"]["resolved"]["attachments"][str(upload.id)]
    assert resolved["content_type"] == "image/png" and resolved["size"] == len(PNG_BYTES)
    reply = await handle.wait_for_message()
    assert reply.content == f"cat.png {len(PNG_BYTES)} {hashlib.sha256(PNG_BYTES).hexdigest()}"
    callback = fake.requests_matching("POST", r"/interactions/\d+/[^/]+/callback")[0]
    assert callback.multipart and callback.json["type"] == 4 and callback.files[0].field == "files[0]"
    assert reply.files[0].data == PNG_BYTES[::-1]

    channel = bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)
    fetched = await channel.fetch_message(reply.id)
    assert await fetched.attachments[0].read() == PNG_BYTES[::-1]


async def test_followup_after_the_token_expired_gets_401_and_the_bot_falls_back(
    fake: FakeDiscord, bot: SampleBot
) -> None:
    handle = await fake.slash("late")
    assert await handle.wait_for_response() == 5
    fake.advance_clock(TOKEN_LIFETIME + 1)
    assert handle.expired
    bot.release.set()
    fallback = await fake.wait_for_message(fake.general, lambda m: "fallback" in m.content)
    assert fallback.content == f"{fake.alice.mention} finally done (fallback)"
    refused = fake.requests_matching("POST", rf"/webhooks/{fake.application.id}/[^/]+", status=401)
    assert refused[0].response == {"message": "Invalid Webhook Token", "code": 50027}
    assert handle.followups == []


async def test_expire_token_also_refuses_edits_of_the_original(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("ping")
    await handle.wait_for_response()
    fake.expire_token(handle)
    url = f"{fake.api_base}/webhooks/{fake.application.id}/{handle.token}/messages/@original"
    async with aiohttp.ClientSession() as session, session.patch(url, json={"content": "x"}) as response:
        assert response.status == 401 and response.content_type == "application/json"
        assert (await response.json())["code"] == 50027


async def test_a_second_acknowledgement_is_refused_with_40060(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("ping")
    assert await handle.wait_for_response() == 4
    url = f"{fake.api_base}/interactions/{handle.id}/{handle.token}/callback?with_response=1"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 4, "data": {"content": "2"}}) as r:
        assert r.status == 400 and r.headers["Content-Type"] == "application/json"
        assert (await r.json())["code"] == 40060
    assert handle.rejected_acks == [(4, 40060)] and handle.ack_type == 4


async def test_ephemeral_flag_and_allowed_mentions_are_recorded(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("ping", user=fake.moderator)
    message = await handle.wait_for_message()
    assert handle.ephemeral and message.ephemeral and message.flags & 64
    assert message.content == f"pong {fake.moderator.mention}"
    assert message.allowed_mentions is not None and "users" not in message.allowed_mentions["parse"]
    assert message["mentions"] == []
    assert handle.requests[0].json["data"]["flags"] == 64
    assert message not in fake.messages(fake.general, include_ephemeral=False)


async def test_resume_after_disconnect_then_interactions_still_work(fake: FakeDiscord, bot: SampleBot) -> None:
    session_id = fake.gateway.current.session_id if fake.gateway.current else None
    await fake.disconnect(4000)
    queued = await fake.slash("ping")  # sent while the socket is down: replayed on RESUME
    await fake.wait_until_connected(resumes=1)
    assert fake.gateway.resumes[0]["session_id"] == session_id
    assert len(fake.identifies) == 1
    assert await queued.wait_for_response() == 4
    after = await fake.slash("ping")
    assert await after.wait_for_response() == 4


@pytest.mark.fake_discord(compress=True)
async def test_zlib_stream_frames(fake: FakeDiscord, bot: SampleBot) -> None:
    assert fake.gateway.opened[0] == {
        "query": {"v": "10", "encoding": "json", "compress": "zlib-stream"},
        "compress": True,
    }
    handle = await fake.slash("ping")
    assert await handle.wait_for_response() == 4


async def test_member_permissions_follow_roles_owner_and_overwrites(fake: FakeDiscord, bot: SampleBot) -> None:
    for user in (fake.alice, fake.moderator, fake.owner):
        handle = await fake.slash("inspect", {"member": fake.moderator}, user=user, locale="fr")
        await handle.wait_for_response()
    alice, moderator, owner = bot.seen
    assert not alice["permissions"].manage_messages and alice["permissions"].send_messages
    assert moderator["permissions"].manage_messages and not moderator["permissions"].administrator
    assert owner["permissions"].administrator
    assert alice["target"].manage_messages and alice["target_name"] == "Moderator"
    assert alice["app_permissions"].send_messages and alice["app_permissions"].attach_files
    assert alice["locale"] is discord.Locale.french and alice["filesize_limit"] == 10 * 1024 * 1024

    fake.set_overwrite(fake.general, fake.guild.everyone_role, deny=Permission.SEND_MESSAGES)
    handle = await fake.slash("inspect", {"member": fake.bob}, attachment_size_limit=25 * 1024 * 1024)
    await handle.wait_for_response()
    assert not bot.seen[-1]["permissions"].send_messages and bot.seen[-1]["filesize_limit"] == 25 * 1024 * 1024


async def test_bad_option_names_fail_in_the_test_not_in_the_bot(fake: FakeDiscord, bot: SampleBot) -> None:
    with pytest.raises(ValueError, match="no option 'promt'"):
        await fake.slash("video", {"promt": "typo"})
    with pytest.raises(ValueError, match="required options"):
        await fake.slash("video", {"count": 1})


@pytest.mark.fake_discord(enforce_3s_ack=True)
@pytest.mark.allow_discord_errors("10062")
async def test_late_acknowledgement_is_refused_when_the_3s_rule_is_on(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("slowack")
    fake.advance_clock(3.5)
    bot.release.set()
    assert await fake.wait_for(lambda: handle.rejected_acks, what="a refused ack") == [(5, 10062)]
    assert handle.ack_type is None


async def test_subcommand_in_a_dm_and_in_the_guild(fake: FakeDiscord, bot: SampleBot) -> None:
    in_dm = await fake.slash("jobs", {"limit": 3}, subcommand="list", dm=True, user=fake.bob)
    assert "user" in in_dm.payload and "member" not in in_dm.payload and in_dm.payload["context"] == 1
    assert (await in_dm.wait_for_message()).content == "3 jobs of bob in DM"
    assert fake.dm_messages(fake.bob)[0].content == "3 jobs of bob in DM"
    in_guild = await fake.slash("jobs", subcommand="list")
    assert in_guild.payload["data"]["options"] == [{"name": "list", "type": 1, "options": []}]
    assert (await in_guild.wait_for_message()).content == "5 jobs of alice in guild"


async def test_autocomplete_choices_are_recorded(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.autocomplete("video", {"prompt": "cat"}, focused="prompt")
    assert await handle.wait_for_response() == 8
    assert handle.choices == [
        {"name": "cat at dawn", "value": "cat at dawn"},
        {"name": "cat at dusk", "value": "cat at dusk"},
    ]


async def test_first_followup_after_thinking_replaces_the_placeholder(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("steps")
    second = await handle.wait_for_message(lambda m: m.content == "second")
    original = handle.original
    assert original is not None and original.content == "first" and not original.loading
    assert [m.content for m in handle.followups] == ["first", "second"]
    assert handle.followups[0] is original and second.id != original.id


async def test_select_menu_values_reach_the_callback(fake: FakeDiscord, bot: SampleBot) -> None:
    handle = await fake.slash("style")
    menu = await handle.wait_for_message()
    choice = await fake.select(menu, "style", ["cinematic"], user=fake.bob)
    reply = await choice.wait_for_message()
    assert reply.content == "style: cinematic" and choice.payload["data"]["component_type"] == 3


async def test_refusals_the_bot_must_handle(fake: FakeDiscord, bot: SampleBot) -> None:
    bot_role = fake.guild.role(fake.bot_user.username)
    fake.set_overwrite(fake.general, bot_role, deny=Permission.SEND_MESSAGES)
    denied = await fake.slash("announce")
    assert (await denied.wait_for_message()).content == "cannot post here (50013)"
    assert fake.requests_matching("POST", rf"/channels/{fake.general.id}/messages", status=403)

    shy = fake.add_user("shy", dms_open=False)
    fake.add_member(fake.guild, shy)
    closed = await fake.slash("dm", user=shy)
    assert (await closed.wait_for_message()).content == "cannot DM you (50007)"

    upload = fake.upload("cat.png", PNG_BYTES)
    small = await fake.slash("upload", {"image": upload}, attachment_size_limit=100)
    assert (await small.wait_for_message()).content == "too large for this channel (40005)"
    assert [r.status for r in small.requests] == [413, 200]


async def test_message_content_needs_the_intent_unless_the_bot_is_mentioned(fake: FakeDiscord, bot: SampleBot) -> None:
    await fake.user_message(fake.general, "secret plans", user=fake.bob)
    await fake.user_message(fake.general, f"{fake.bot_user.mention} hello", user=fake.bob)
    await fake.wait_for(lambda: len(bot.read_messages) == 2, what="two on_message calls")
    assert bot.read_messages == ["", f"{fake.bot_user.mention} hello"]


async def test_invalidated_session_identifies_again_and_reconnect_resumes(fake: FakeDiscord, bot: SampleBot) -> None:
    await fake.invalidate_session()
    await fake.wait_until_connected(identifies=2)
    await fake.request_reconnect()
    await fake.wait_until_connected(resumes=1)
    handle = await fake.slash("ping")
    assert await handle.wait_for_response() == 4


def test_error_guard_finds_discord_errors_only() -> None:
    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "message", None, None)

    records = [
        record("discord.app_commands.tree", logging.ERROR),
        record("discord", logging.CRITICAL),
        record("discord.client", logging.WARNING),
        record("discordant", logging.ERROR),
        record("bot.jobs", logging.ERROR),
    ]
    assert [r.name for r in discord_error_records(records)] == ["discord.app_commands.tree", "discord"]


@pytest.mark.allow_discord_errors("kaboom")  # the inner run logs through this process's loggers too
def test_error_guard_fails_a_test_whose_command_raised(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            import discord
            import pytest
            from discord.ext import commands

            from fakediscord import running_bot


            def make_bot():
                bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05)

                @bot.tree.command(name="boom", description="Raises")
                async def boom(interaction):
                    await interaction.response.defer()
                    raise RuntimeError("kaboom")

                return bot


            async def run_boom(fake, caplog):
                async with running_bot(make_bot(), fake):
                    handle = await fake.slash("boom")
                    await handle.wait_for_response()
                    await fake.wait_for(lambda: any("boom" in r.getMessage() for r in caplog.records))


            async def test_raises(fake_discord, caplog):
                await run_boom(fake_discord, caplog)


            @pytest.mark.allow_discord_errors("kaboom")
            async def test_allowed(fake_discord, caplog):
                await run_boom(fake_discord, caplog)
            """
        )
    )
    result = pytester.runpytest_inprocess(
        "-p",
        "fakediscord.fixtures",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*discord.py logged errors*", "*Ignoring exception in command 'boom'*", "*kaboom*"])
