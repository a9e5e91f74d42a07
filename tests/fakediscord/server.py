"""FakeDiscord: a Discord-compatible REST API and gateway on 127.0.0.1 for running the real discord.py in tests."""

# ruff: noqa: ASYNC109 - the waiting helpers take a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

import logging
import mimetypes
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from .builders import InteractionBuilder, OptionValue
from .gateway import OP_RECONNECT, Gateway, guild_of
from .installs import Install, authorizing_owners, check_offered, context_of, owners_of_message
from .interactions import InteractionHandle
from .links import LinkSigner, attachment_of
from .model import (
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_IS_VOICE_MESSAGE,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    ChannelType,
    FakeApplication,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Overwrite,
    SnowflakeFactory,
    SnowflakeLike,
    StoredAttachment,
    as_id,
    iso_now,
    snowflake_time,
)
from .payloads import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    INTENT_DIRECT_MESSAGE_REACTIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    channel_payload,
    emoji_key,
    emoji_payload,
    member_payload,
    role_payload,
    user_payload,
)
from .permissions import BOT_ROLE, DEFAULT_EVERYONE, MODERATOR
from .recorder import RecordedRequest, Recorder, UploadedFile
from .validation import ApiError, check_message
from .waiting import Waiters

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Flags a bot may set on a message it sends (ephemeral only on interaction responses).
_SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2 | FLAG_IS_VOICE_MESSAGE
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


class FakeDiscord:
    """A Discord-compatible server: REST under ``/api/v10``, the gateway at ``/gateway``, files at ``/attachments``.

    Default state: the bot user and its application, and one guild "Test Server" with a "general" text
    channel, an owner, a moderator (role "Moderators" with MANAGE_MESSAGES) and two plain members,
    ``alice`` and ``bob``. Interactions are sent with ``slash``/``click``/``submit_modal``/``select`` and
    reactions with ``react``; each interaction returns an ``InteractionHandle`` recording the bot's answers.

    Options: ``compress`` sends zlib-stream binary frames when the client asks for them; ``enforce_3s_ack``
    refuses acknowledgements later than 3 s (404/10062); ``required_token`` rejects other bot tokens;
    ``clock`` replaces ``time.monotonic`` (``advance_clock`` moves it forward too); ``shards`` is the shard count
    ``GET /gateway/bot`` recommends (a sharded bot identifies each shard; see ``gateway`` for who hears what).

    Attachment links are signed and expire as Discord's CDN links do (see ``links``): ``advance_clock`` past a
    day, and the links handed out before stop working, while a fetched message carries freshly signed ones.
    """

    def __init__(
        self,
        *,
        compress: bool = False,
        enforce_3s_ack: bool = False,
        required_token: str | None = None,
        attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        clock: Callable[[], float] | None = None,
        bot_name: str = "mjbot",
        shards: int = 1,
    ) -> None:
        self.compress = compress
        self.shards = shards
        self.enforce_3s_ack = enforce_3s_ack
        self.required_token = required_token
        self.attachment_size_limit = attachment_size_limit
        self._clock = clock or time.monotonic
        self._clock_offset = 0.0
        #: Signs attachment links against ``wall_clock`` (Unix time plus what ``advance_clock`` added).
        self.links = LinkSigner(self.wall_clock)
        self.ids = SnowflakeFactory()
        self.recorder = Recorder()
        #: "METHOD /path" of every request no route matched; a test asserts it stays empty.
        self.unknown_routes: list[str] = []
        #: Requests the fake itself failed on (its bugs); the fake_discord fixture fails the test if any.
        self.server_errors: list[str] = []
        self.waiters = Waiters()
        self.gateway = Gateway(self)
        self.builder = InteractionBuilder(self)
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_channel_ids: dict[int, int] = {}
        self.messages_by_id: dict[int, FakeMessage] = {}
        self._channel_message_ids: dict[int, list[int]] = {}
        self.attachments: dict[int, StoredAttachment] = {}
        #: Registered application commands: None -> global, guild id -> that guild's.
        self.command_store: dict[int | None, list[dict[str, Any]]] = {}
        self.interactions: dict[int, InteractionHandle] = {}
        self.interactions_by_token: dict[str, InteractionHandle] = {}
        #: Modal custom_id -> the interaction whose response opened it (the latest one).
        self.opened_modals: dict[str, InteractionHandle] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._saved_discord: tuple[Any, Any] | None = None

        self.bot_user = self.add_user(bot_name, bot=True)
        self.owner = self.add_user("owner", global_name="Server Owner")
        self.application = FakeApplication(id=self.ids.next(), name=bot_name, owner=self.owner)
        self.moderator = self.add_user("moderator", global_name="Moderator")
        self.alice = self.add_user("alice", global_name="Alice")
        self.bob = self.add_user("bob", global_name="Bob")
        self.guild = self.add_guild("Test Server", owner=self.owner)
        self.general = self.guild.channel("general")
        self.moderators_role = self.add_role(self.guild, "Moderators", MODERATOR, hoist=True)
        self.add_member(self.guild, self.moderator, roles=[self.moderators_role])
        self.add_member(self.guild, self.alice)
        self.add_member(self.guild, self.bob)

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> Self:
        from .rest import build_app

        self._runner = web.AppRunner(build_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        self.patch_discord_py()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unpatch_discord_py()
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def patch_discord_py(self) -> None:
        """Point discord.py's REST base and gateway URL here; ``unpatch_discord_py`` restores what was there."""
        import discord
        import yarl

        if self._saved_discord is None:
            self._saved_discord = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url + "/")

    def unpatch_discord_py(self) -> None:
        import discord

        if self._saved_discord is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_discord
            self._saved_discord = None

    # -- clock and waiting --------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._clock_offset

    def wall_clock(self) -> float:
        """Unix time as the fake sees it: the expiry of attachment links reads it."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the fake clock forward (token lifetimes, the 3-second ack rule and attachment links read it)."""
        self._clock_offset += seconds
        self.notify()

    def expire_token(self, handle: InteractionHandle) -> None:
        """End one interaction token's life now: webhook calls get 401/50027, callbacks 404/10062."""
        handle.expire_token()
        self.notify()

    def notify(self) -> None:
        self.waiters.notify()

    async def wait_for(
        self, check: Callable[[], T | None], *, timeout: float = 5.0, what: str | Callable[[], str] = "a condition"
    ) -> T:
        """Wait until ``check()`` returns something truthy and return it.

        The timeout error lists the latest requests and unknown routes, which usually tells why.
        """

        def describe() -> str:
            text = what() if callable(what) else what
            unknown = f"\nunknown routes: {self.unknown_routes}" if self.unknown_routes else ""
            return f"{text}\nlatest requests:\n{self.recorder.summary()}{unknown}"

        return await self.waiters.wait(check, timeout, describe)

    # -- state builders -------------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        bot: bool = False,
        global_name: str | None = None,
        dms_open: bool = True,
        locale: str = "en-US",
    ) -> FakeUser:
        user = FakeUser(
            id=self.ids.next(), username=name, global_name=global_name, bot=bot, dms_open=dms_open, locale=locale
        )
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeUser,
        preferred_locale: str = "en-US",
        everyone_permissions: int = DEFAULT_EVERYONE,
        channels: Sequence[str] = ("general",),
        with_bot: bool = True,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A new guild; with ``shard=(id, count)``, one whose id puts it on that shard."""
        guild_id = self.ids.next() if shard is None else self.ids.next_on_shard(*shard)
        guild = FakeGuild(id=guild_id, name=name, owner_id=owner.id, preferred_locale=preferred_locale)
        self.guilds[guild.id] = guild
        everyone = FakeRole(id=guild.id, guild_id=guild.id, name="@everyone", permissions=everyone_permissions)
        guild.roles[guild.id] = everyone
        for channel_name in channels:
            self.add_channel(guild, channel_name)
        self.add_member(guild, owner)
        if with_bot:
            bot_role = self.add_role(
                guild, self.bot_user.username, BOT_ROLE, managed=True, tags={"bot_id": str(self.bot_user.id)}
            )
            self.add_member(guild, self.bot_user, roles=[bot_role])
        return guild

    def add_role(
        self,
        guild: FakeGuild,
        name: str,
        permissions: int = 0,
        *,
        hoist: bool = False,
        managed: bool = False,
        tags: dict[str, Any] | None = None,
    ) -> FakeRole:
        position = max((r.position for r in guild.roles.values()), default=0) + 1
        role = FakeRole(
            id=self.ids.next(),
            guild_id=guild.id,
            name=name,
            permissions=int(permissions),
            position=position,
            hoist=hoist,
            managed=managed,
            tags=tags,
        )
        guild.roles[role.id] = role
        return role

    def add_channel(
        self,
        guild: FakeGuild,
        name: str,
        *,
        channel_type: int = ChannelType.GUILD_TEXT,
        topic: str | None = None,
        overwrites: Iterable[Overwrite] = (),
    ) -> FakeChannel:
        channel = FakeChannel(
            id=self.ids.next(),
            type=int(channel_type),
            name=name,
            guild_id=guild.id,
            position=len(guild.channels),
            topic=topic,
            overwrites=list(overwrites),
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_member(
        self,
        guild: FakeGuild,
        user: FakeUser,
        roles: Iterable[FakeRole | SnowflakeLike | str] = (),
        *,
        nick: str | None = None,
    ) -> FakeMember:
        role_ids = [self._role_id(guild, r) for r in roles]
        member = FakeMember(user=user, guild_id=guild.id, roles=role_ids, nick=nick)
        guild.members[user.id] = member
        return member

    def _role_id(self, guild: FakeGuild, role: FakeRole | SnowflakeLike | str) -> int:
        if isinstance(role, str) and not role.isdigit():
            return guild.role(role).id
        role_id = as_id(role)
        if role_id not in guild.roles:
            raise KeyError(f"role {role_id} is not in guild {guild.name!r}")
        return role_id

    def set_overwrite(
        self, channel: FakeChannel, target: FakeRole | FakeUser | FakeMember, *, allow: int = 0, deny: int = 0
    ) -> Overwrite:
        """Replace the channel's overwrite for a role or member (``push_update(channel)`` tells a running bot)."""
        kind = 0 if isinstance(target, FakeRole) else 1
        channel.overwrites = [o for o in channel.overwrites if not (o.id == target.id and o.type == kind)]
        overwrite = Overwrite(id=target.id, type=kind, allow=int(allow), deny=int(deny))
        channel.overwrites.append(overwrite)
        return overwrite

    async def push_update(self, obj: FakeChannel | FakeRole | FakeMember) -> None:
        """Tell a connected bot about a change made with the builders (CHANNEL_UPDATE, GUILD_ROLE_UPDATE, ...)."""
        if isinstance(obj, FakeChannel):
            payload = channel_payload(obj, recipients=self._recipients(obj))
            await self.dispatch("CHANNEL_UPDATE", payload)
        elif isinstance(obj, FakeRole):
            await self.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(obj.guild_id), "role": role_payload(obj)})
        else:
            await self.dispatch("GUILD_MEMBER_UPDATE", {"guild_id": str(obj.guild_id), **member_payload(obj)})

    def dm_channel(self, user: FakeUser | SnowflakeLike) -> FakeChannel:
        """The bot's DM channel with a user, created on first use (as POST /users/@me/channels does)."""
        user_id = as_id(user)
        if user_id not in self.users:
            raise KeyError(f"unknown user {user_id}")
        channel_id = self._dm_channel_ids.get(user_id)
        if channel_id is None:
            channel = FakeChannel(id=self.ids.next(), type=ChannelType.DM, recipient_id=user_id)
            self.channels[channel.id] = channel
            self._dm_channel_ids[user_id] = channel.id
            return channel
        return self.channels[channel_id]

    def add_group_dm(self, *users: FakeUser, name: str | None = None) -> FakeChannel:
        """A group DM of ``users`` (never the bot's: only the user install of the app reaches it)."""
        if len(users) < 2:
            raise ValueError("a group DM has at least two members")
        channel = FakeChannel(
            id=self.ids.next(), type=ChannelType.GROUP_DM, name=name, recipient_ids=[user.id for user in users]
        )
        self.channels[channel.id] = channel
        return channel

    def bot_sees(self, channel: FakeChannel) -> bool:
        """Whether the bot is in the channel: its DMs, or a channel of a server it is a member of."""
        if channel.is_dm:
            return True
        if channel.is_group_dm or channel.guild_id is None:
            return False
        return self.bot_user.id in self.guilds[channel.guild_id].members

    def upload(self, filename: str, data: bytes, content_type: str | None = None) -> StoredAttachment:
        """A user's upload, for an attachment option: served at its ``url`` like a Discord CDN file."""
        return self._store_file(filename, data, content_type, ephemeral=True)

    def _store_file(
        self,
        filename: str,
        data: bytes,
        content_type: str | None,
        *,
        ephemeral: bool = False,
        description: str | None = None,
    ) -> StoredAttachment:
        attachment_id = self.ids.next()
        guessed = mimetypes.guess_type(filename)[0]
        if content_type in (None, "application/octet-stream"):
            content_type = guessed or content_type
        attachment = StoredAttachment(
            id=attachment_id,
            filename=filename,
            data=data,
            content_type=content_type,
            base_url=f"{self.base_url}/attachments/{attachment_id}/{filename}",
            description=description,
            ephemeral=ephemeral,
            signer=self._sign,
            expires_at=self.wall_clock() + self.links.lifetime_s if ephemeral else None,
        )
        self.attachments[attachment_id] = attachment
        return attachment

    def _sign(self, attachment: StoredAttachment) -> str:
        """A link to the file good for at least half a lifetime from now (an upload's never past its end).

        The same link is handed out until it is past half its life, so that a test may compare links.
        """
        now = self.wall_clock()
        if attachment.signed is None or attachment.signed[1] - now < self.links.lifetime_s / 2:
            url = self.links.sign(attachment.base_url, attachment.id, until=attachment.expires_at)
            attachment.signed = (url, now + self.links.lifetime_s)
        return attachment.signed[0]

    def attachment_for(self, url: str) -> StoredAttachment | None:
        """The file a link names, whatever its signature; None when the fake holds no such file (or it is gone)."""
        found = attachment_of(url)
        if found is None:
            return None
        attachment_id, filename, _ = found
        attachment = self.attachments.get(attachment_id)
        if attachment is None or attachment.filename != filename or self._gone(attachment):
            return None
        return attachment

    def _gone(self, attachment: StoredAttachment) -> bool:
        expired = attachment.expires_at is not None and self.wall_clock() >= attachment.expires_at
        return attachment.deleted or expired

    def guild_of(self, channel: FakeChannel) -> FakeGuild:
        if channel.guild_id is None:
            raise ValueError(f"channel {channel.id} is not in a guild")
        return self.guilds[channel.guild_id]

    def _recipients(self, channel: FakeChannel) -> list[FakeUser]:
        return [self.users[channel.recipient_id]] if channel.recipient_id else []

    def _channel(self, channel: FakeChannel | SnowflakeLike) -> FakeChannel:
        if isinstance(channel, FakeChannel):
            return channel
        channel_id = as_id(channel)
        try:
            return self.channels[channel_id]
        except KeyError:
            raise KeyError(f"unknown channel {channel_id}") from None

    def _user(self, user: FakeUser | FakeMember | SnowflakeLike | None, default: FakeUser) -> FakeUser:
        if user is None:
            return default
        if isinstance(user, FakeUser):
            return user
        if isinstance(user, FakeMember):
            return user.user
        return self.users[as_id(user)]

    # -- commands ---------------------------------------------------------------------------------------------

    def commands(self, guild: FakeGuild | SnowflakeLike | None = None) -> list[dict[str, Any]]:
        """The registered commands (global, or of one guild), as the bot uploaded them plus Discord's fields."""
        return list(self.command_store.get(None if guild is None else as_id(guild), []))

    def command(self, name: str, guild: FakeGuild | SnowflakeLike | None = None) -> dict[str, Any]:
        for command in self.commands(guild):
            if command["name"] == name:
                return command
        where = "globally" if guild is None else f"in guild {as_id(guild)}"
        raise KeyError(f"no command {name!r} registered {where}; have {[c['name'] for c in self.commands(guild)]}")

    def find_command(self, name: str, *, guild: FakeGuild | None, command_type: int = 1) -> dict[str, Any] | None:
        scopes: list[int | None] = [guild.id] if guild is not None else []
        for scope in [*scopes, None]:
            for command in self.command_store.get(scope, []):
                if command["name"] == name and int(command.get("type", 1)) == command_type:
                    return command
        return None

    # -- gateway controls -----------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: Any) -> int:
        """Send any gateway event to the bot; returns its sequence number."""
        return await self.gateway.dispatch(event, data)

    async def disconnect(self, code: int = 4000) -> None:
        """Drop the bot's websocket; with a resumable code (like 4000) discord.py reconnects and RESUMEs."""
        await self.gateway.disconnect(code)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9; if not resumable, discord.py identifies again, after its ``before_identify_hook``
        (5 s by default: override it in the test bot to skip the wait)."""
        await self.gateway.invalidate_session(resumable=resumable)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py closes the socket and resumes."""
        await self.gateway.send_op(OP_RECONNECT, None, expect_close=True)

    async def wait_until_connected(
        self, *, resumes: int | None = None, identifies: int | None = None, timeout: float = 5.0
    ) -> None:
        """Wait for a live gateway connection (and, if given, at least that many RESUMEs / IDENTIFYs)."""

        def connected() -> bool:
            session = self.gateway.current
            return (
                session is not None
                and session.connection is not None
                and session.connection.open
                and (resumes is None or len(self.gateway.resumes) >= resumes)
                and (identifies is None or len(self.gateway.identifies) >= identifies)
            )

        await self.wait_for(connected, timeout=timeout, what="the bot to be connected to the gateway")

    @property
    def identifies(self) -> list[dict[str, Any]]:
        """Every IDENTIFY payload received (token, intents, properties ...)."""
        return self.gateway.identifies

    def _wants(self, intent: int, guild_id: int | None) -> bool:
        """Whether the session that carries ``guild_id`` (None: DMs) is there and asked for ``intent``."""
        session = self.gateway.session_for(guild_id)
        return session is not None and not session.ended and bool(session.intents & intent)

    async def _dispatch_if_connected(self, event: str, data: Any, intent: int) -> None:
        if self._wants(intent, guild_of(event, data)):
            await self.gateway.dispatch(event, data)

    # -- interactions ---------------------------------------------------------------------------------------

    async def send_interaction(self, payload: dict[str, Any]) -> InteractionHandle:
        """Dispatch a ready-made INTERACTION_CREATE payload and return its handle."""
        handle = InteractionHandle(self, payload, created_at=self.now())
        self.interactions[handle.id] = handle
        self.interactions_by_token[handle.token] = handle
        await self.dispatch("INTERACTION_CREATE", payload)
        return handle

    def _where(
        self, user: FakeUser, guild: FakeGuild | None, channel: FakeChannel | SnowflakeLike | None, dm: bool
    ) -> FakeChannel:
        if dm:
            return self.dm_channel(user)
        if channel is not None:
            return self._channel(channel)
        guild = guild or self.guild
        text = guild.text_channels()
        if not text:
            raise ValueError(f"guild {guild.name!r} has no text channel to use")
        return text[0]

    async def slash(
        self,
        name: str,
        options: Mapping[str, OptionValue] | None = None,
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | SnowflakeLike | None = None,
        dm: bool = False,
        subcommand: str | None = None,
        attachments: Mapping[str, StoredAttachment | tuple[str, bytes] | tuple[str, bytes, str]] | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
        install: Install = "guild",
    ) -> InteractionHandle:
        """Run a slash command as a user (default ``alice``) in a channel (default the guild's first text channel).

        If the bot synced the command, option types, names, choices and required options are taken from the
        registered definition (typos raise ValueError); otherwise types are inferred from the Python values.
        ``subcommand`` is "sub" or "group sub". Attachment options take a ``StoredAttachment`` from ``upload``
        or a ``(filename, bytes[, content_type])`` tuple, in ``options`` or ``attachments``.

        ``install`` is the app's install the member runs it through: the server's (``"guild"``: only where the bot
        is), their own (``"user"``: also in servers without the bot and in group DMs, if the command is registered
        for it), or ``"both"``; see ``installs``.
        """
        who = self._user(user, self.alice)
        where = self._where(who, guild, channel, dm)
        command_guild = None if where.guild_id is None else self.guild_of(where)
        owners = authorizing_owners(self, install, who, where)
        definition = self.find_command(name, guild=command_guild)
        check_offered(name, definition, owners, context_of(where))
        merged: dict[str, OptionValue] = {**(options or {}), **(attachments or {})}
        data = self.builder.command_data(name, merged, guild=command_guild, subcommand=subcommand)
        payload = self.builder.envelope(
            APPLICATION_COMMAND,
            data,
            user=who,
            channel=where,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            owners=owners,
        )
        return await self.send_interaction(payload)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, OptionValue],
        *,
        focused: str,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | SnowflakeLike | None = None,
        subcommand: str | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """An autocomplete request while the user types ``focused``; the answer lands in ``handle.choices``."""
        who = self._user(user, self.alice)
        where = self._where(who, guild, channel, False)
        command_guild = None if where.guild_id is None else self.guild_of(where)
        data = self.builder.command_data(name, options, guild=command_guild, subcommand=subcommand, focused=focused)
        payload = self.builder.envelope(
            APPLICATION_COMMAND_AUTOCOMPLETE, data, user=who, channel=where, locale=locale, attachment_size_limit=None
        )
        return await self.send_interaction(payload)

    async def click(
        self,
        message: FakeMessage | SnowflakeLike,
        custom_id: str,
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
    ) -> InteractionHandle:
        """Press a button on a message the fake holds (the message is sent in its current state), answering to the
        installs of the interaction that made the message."""
        return await self._component(message, custom_id, None, user, locale, attachment_size_limit)

    async def select(
        self,
        message: FakeMessage | SnowflakeLike,
        custom_id: str,
        values: Sequence[str],
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """Pick ``values`` in a select menu on a message."""
        return await self._component(message, custom_id, values, user, locale, None)

    async def _component(
        self,
        message: FakeMessage | SnowflakeLike,
        custom_id: str,
        values: Sequence[str] | None,
        user: FakeUser | FakeMember | SnowflakeLike | None,
        locale: str,
        attachment_size_limit: int | None,
    ) -> InteractionHandle:
        target = self.message(message)
        who = self._user(user, self.alice)
        data = self.builder.component_data(target, custom_id, values)
        payload = self.builder.envelope(
            MESSAGE_COMPONENT,
            data,
            user=who,
            channel=self.channels[target.channel_id],
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            message=target,
            owners=owners_of_message(self, target, who),
        )
        return await self.send_interaction(payload)

    async def submit_modal(
        self,
        custom_id: str,
        fields: Mapping[str, str | Sequence[str]],
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
        message: FakeMessage | SnowflakeLike | None = None,
        channel: FakeChannel | SnowflakeLike | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """Submit a modal by custom_id with text input values by their custom_id.

        If the bot opened this modal, its layout is mirrored and the user, channel and message default to
        those of the interaction that opened it.
        """
        opener = self.opened_modals.get(custom_id)
        modal = opener.modal if opener is not None else None
        default_user = self.users[opener.user_id] if opener is not None else self.alice
        who = self._user(user, default_user)
        if message is None and opener is not None and opener.message_id is not None:
            message = opener.message_id
        target = self.message(message) if message is not None else None
        if channel is None:
            channel = target.channel_id if target is not None else (opener.channel_id if opener else None)
        where = self._where(who, None, channel, False)
        data = self.builder.modal_data(custom_id, fields, modal)
        owners = opener.payload.get("authorizing_integration_owners") if opener is not None else None
        payload = self.builder.envelope(
            MODAL_SUBMIT,
            data,
            user=who,
            channel=where,
            locale=locale,
            attachment_size_limit=None,
            message=target,
            owners=owners,
        )
        return await self.send_interaction(payload)

    # -- reactions and user messages ------------------------------------------------------------------------

    async def react(
        self,
        message_id: FakeMessage | SnowflakeLike,
        channel_id: FakeChannel | SnowflakeLike | None = None,
        emoji: str = "👍",
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
        burst: bool = False,
    ) -> dict[str, Any]:
        """A user adds a reaction: MESSAGE_REACTION_ADD (if the bot's intents ask for it). Returns the event."""
        return await self._reaction(message_id, channel_id, emoji, user, add=True, burst=burst)

    async def unreact(
        self,
        message_id: FakeMessage | SnowflakeLike,
        channel_id: FakeChannel | SnowflakeLike | None = None,
        emoji: str = "👍",
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
    ) -> dict[str, Any]:
        return await self._reaction(message_id, channel_id, emoji, user, add=False, burst=False)

    async def _reaction(
        self,
        message_ref: FakeMessage | SnowflakeLike,
        channel_ref: FakeChannel | SnowflakeLike | None,
        emoji: str,
        user: FakeUser | FakeMember | SnowflakeLike | None,
        *,
        add: bool,
        burst: bool,
    ) -> dict[str, Any]:
        self.gateway.live_session()  # fail early and clearly if no bot is running
        who = self._user(user, self.alice)
        message = self.messages_by_id.get(as_id(message_ref))
        channel = self._channel(channel_ref) if channel_ref is not None else None
        if channel is None:
            if message is None:
                raise KeyError(f"unknown message {as_id(message_ref)}; pass its channel")
            channel = self.channels[message.channel_id]
        if message is not None:
            self._set_reaction(message, emoji, who.id, add=add)
        event = self._reaction_event(channel, as_id(message_ref), emoji, who, add=add, burst=burst, message=message)
        intent = INTENT_DIRECT_MESSAGE_REACTIONS if channel.is_dm else INTENT_GUILD_MESSAGE_REACTIONS
        if not self.bot_sees(channel):
            self.notify()
            return event  # Discord tells the bot nothing of channels it is not in
        if not self._wants(intent, channel.guild_id):
            log.warning("the bot did not ask for reaction events (intents); %s was not sent", event)
        await self._dispatch_if_connected("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event, intent)
        self.notify()
        return event

    def _reaction_event(
        self,
        channel: FakeChannel,
        message_id: int,
        emoji: str,
        user: FakeUser,
        *,
        add: bool,
        burst: bool,
        message: FakeMessage | None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "user_id": str(user.id),
            "channel_id": str(channel.id),
            "message_id": str(message_id),
            "emoji": emoji_payload(emoji),
            "burst": burst,
            "type": 1 if burst else 0,
        }
        if channel.guild_id is not None:
            guild = self.guild_of(channel)
            event["guild_id"] = str(guild.id)
            if add and user.id in guild.members:
                event["member"] = member_payload(guild.members[user.id])
        if add:
            if message is not None:
                event["message_author_id"] = str(message.author_id)
            event["burst_colors"] = []
        return event

    def _set_reaction(self, message: FakeMessage, emoji: str, user_id: int, *, add: bool) -> bool:
        """Add or remove one user's reaction; returns False if nothing changed."""
        key = emoji_key(emoji)
        users = message.reaction_users.setdefault(key, [])
        message.reaction_emojis.setdefault(key, emoji_payload(emoji))
        if add == (user_id in users):
            return False
        if add:
            users.append(user_id)
        else:
            users.remove(user_id)
        self._render_reactions(message)
        return True

    def _render_reactions(self, message: FakeMessage) -> None:
        reactions = [
            {
                "emoji": message.reaction_emojis[key],
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "burst_colors": [],
                "me": self.bot_user.id in users,
                "me_burst": False,
            }
            for key, users in message.reaction_users.items()
            if users
        ]
        if reactions:
            message["reactions"] = reactions
        else:
            message.pop("reactions", None)

    async def user_message(
        self,
        channel: FakeChannel | SnowflakeLike,
        content: str,
        *,
        user: FakeUser | FakeMember | SnowflakeLike | None = None,
    ) -> FakeMessage:
        """A message posted by a user (MESSAGE_CREATE goes to the bot if its intents ask for messages)."""
        who = self._user(user, self.alice)
        return await self.create_message(self._channel(channel), {"content": content}, [], author=who)

    # -- messages -------------------------------------------------------------------------------------------

    def message(self, message_id: FakeMessage | SnowflakeLike) -> FakeMessage:
        message_key = as_id(message_id)
        try:
            return self.messages_by_id[message_key]
        except KeyError:
            raise KeyError(f"unknown message {message_key}") from None

    def messages(
        self, channel: FakeChannel | SnowflakeLike, *, include_ephemeral: bool = True, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """A channel's messages, oldest first."""
        channel_id = self._channel(channel).id
        found = (self.messages_by_id[i] for i in self._channel_message_ids.get(channel_id, []))
        return [m for m in found if (include_ephemeral or not m.ephemeral) and (include_deleted or not m.deleted)]

    def dm_messages(self, user: FakeUser | FakeMember | SnowflakeLike) -> list[FakeMessage]:
        """Messages in the bot's DM channel with this user (none if the bot never opened one)."""
        user_id = self._user(user, self.alice).id
        channel_id = self._dm_channel_ids.get(user_id)
        return [] if channel_id is None else self.messages(channel_id)

    async def wait_for_message(
        self,
        channel: FakeChannel | SnowflakeLike,
        predicate: Callable[[FakeMessage], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> FakeMessage:
        """The first message in a channel matching ``predicate`` (default: any), waiting for it if needed."""
        check = predicate or (lambda m: True)
        return await self.wait_for(
            lambda: next((m for m in self.messages(channel) if check(m)), None),
            timeout=timeout,
            what=lambda: f"a message in channel {self._channel(channel).id}; have {self.messages(channel)}",
        )

    async def wait_for_dm(
        self,
        user: FakeUser | FakeMember | SnowflakeLike,
        predicate: Callable[[FakeMessage], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> FakeMessage:
        check = predicate or (lambda m: True)
        return await self.wait_for(
            lambda: next((m for m in self.dm_messages(user) if check(m)), None),
            timeout=timeout,
            what=lambda: f"a DM to user {self._user(user, self.alice).id}; have {self.dm_messages(user)}",
        )

    async def wait_for_message_edit(
        self,
        message_id: FakeMessage | SnowflakeLike,
        predicate: Callable[[FakeMessage], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> FakeMessage:
        """Wait until the message has been edited and (if given) ``predicate`` holds for its current version."""
        message = self.message(message_id)
        check = predicate or (lambda m: True)
        return await self.wait_for(
            lambda: message if message.edited and check(message) else None,
            timeout=timeout,
            what=lambda: f"an edit of message {message.id}; now {message.wire()}",
        )

    async def wait_for_request(
        self,
        method: str | None,
        path: str,
        *,
        timeout: float = 5.0,
        since: int = 0,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> RecordedRequest:
        """The first recorded request (from index ``since``) by method and ``path`` regex (full match)."""
        return await self.wait_for(
            lambda: next(iter(self.recorder.matching(method, path, since=since, predicate=predicate)), None),
            timeout=timeout,
            what=f"a request {method or '*'} {path}",
        )

    def requests_matching(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        route: str | None = None,
        status: int | None = None,
        since: int = 0,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> list[RecordedRequest]:
        return self.recorder.matching(method, path, route=route, status=status, since=since, predicate=predicate)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.recorder.requests

    # -- message store (used by the REST handlers) ------------------------------------------------------

    async def create_message(
        self,
        channel: FakeChannel,
        body: dict[str, Any],
        uploads: Sequence[UploadedFile],
        *,
        author: FakeUser,
        interaction: InteractionHandle | None = None,
        flags: int = 0,
        size_limit: int | None = None,
    ) -> FakeMessage:
        check_message(body)
        message_id = self.ids.next()
        settable = _SETTABLE_FLAGS | (FLAG_EPHEMERAL if interaction is not None else 0)
        data: dict[str, Any] = {
            "id": str(message_id),
            "type": self._message_type(interaction),
            "channel_id": str(channel.id),
            "author": user_payload(author),
            "content": body.get("content") or "",
            "timestamp": snowflake_time(message_id).isoformat(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []),
            "pinned": False,
            "flags": (int(body.get("flags") or 0) & settable) | flags,
        }
        if body.get("nonce") is not None:
            data["nonce"] = body["nonce"]
        if body.get("poll") is not None:
            data["poll"] = body["poll"]
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            referenced = self.messages_by_id.get(int(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                tree = _error_tree(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                raise ApiError(400, 50035, "Invalid Form Body", tree)
            data["message_reference"] = {
                "type": 0,
                "message_id": str(reference["message_id"]),
                "channel_id": str(channel.id),
                **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
            }
            if referenced is not None:
                nested = referenced.wire()
                nested.pop("referenced_message", None)
                data["referenced_message"] = nested
            data["type"] = 19
        if interaction is not None:
            data["webhook_id"] = str(self.application.id)
            data["application_id"] = str(self.application.id)
            data["interaction_metadata"] = self._interaction_metadata(interaction)
        message = FakeMessage(data, guild_id=channel.guild_id, interaction_id=interaction.id if interaction else None)
        limit = size_limit or self._size_limit(channel)
        self._apply_attachments(message, body, uploads, size_limit=limit, editing=False)
        self._apply_mentions(message, body)
        empty = not (message.content or message.embeds or message.attachments or message.components or data.get("poll"))
        if empty and not data["flags"] & FLAG_LOADING:
            raise ApiError(400, 50006, "Cannot send an empty message")
        message.bodies.append(body)
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        self.messages_by_id[message.id] = message
        self._channel_message_ids.setdefault(channel.id, []).append(message.id)
        if not message.ephemeral:
            channel.last_message_id = message.id
            await self._message_event("MESSAGE_CREATE", channel, message)
        self.notify()
        return message

    async def edit_message(
        self,
        message: FakeMessage,
        body: dict[str, Any],
        uploads: Sequence[UploadedFile],
        *,
        size_limit: int | None = None,
        finish_loading: bool = True,
    ) -> FakeMessage:
        check_message({"flags": message.flags, **body})
        channel = self.channels[message.channel_id]
        message.history.append(message.wire())
        for key in ("content", "embeds", "components"):
            if key in body:
                value = body[key]
                message[key] = value if value is not None else ("" if key == "content" else [])
        if body.get("flags") is not None:
            keep = message.flags & ~FLAG_SUPPRESS_EMBEDS
            message["flags"] = keep | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        if finish_loading and message.loading:
            message["flags"] = message.flags & ~FLAG_LOADING
        limit = size_limit or self._size_limit(channel)
        self._apply_attachments(message, body, uploads, size_limit=limit, editing=True)
        self._apply_mentions(message, body)
        message["edited_timestamp"] = iso_now()
        message.bodies.append(body)
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if not message.ephemeral:
            await self._message_event("MESSAGE_UPDATE", channel, message)
        self.notify()
        return message

    async def delete_message(self, message: FakeMessage) -> None:
        message.deleted = True
        for attachment in message.files:
            attachment.deleted = True  # Discord deletes a message's files with it
        channel = self.channels[message.channel_id]
        if not message.ephemeral and self.bot_sees(channel):
            event: dict[str, Any] = {"id": str(message.id), "channel_id": str(channel.id)}
            if channel.guild_id:
                event["guild_id"] = str(channel.guild_id)
            await self._dispatch_if_connected("MESSAGE_DELETE", event, self._message_intent(channel))
        self.notify()

    def _message_intent(self, channel: FakeChannel) -> int:
        return INTENT_DIRECT_MESSAGES if channel.is_dm else INTENT_GUILD_MESSAGES

    async def _message_event(self, event: str, channel: FakeChannel, message: FakeMessage) -> None:
        if not self.bot_sees(channel) or not self._wants(self._message_intent(channel), channel.guild_id):
            return
        data = message.wire()
        if not self._can_read(channel, message):
            for key in ("content", "embeds", "attachments", "components"):
                data[key] = "" if key == "content" else []
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            data["guild_id"] = str(guild.id)
            author = guild.members.get(message.author_id)
            if author is not None and "webhook_id" not in data:
                data["member"] = member_payload(author, with_user=False)
        await self.gateway.dispatch(event, data)

    def _can_read(self, channel: FakeChannel, message: FakeMessage) -> bool:
        """Without the message content intent, bots see content only in DMs, their own messages and mentions."""
        if channel.is_dm or message.author_id == self.bot_user.id:
            return True
        if self._wants(INTENT_MESSAGE_CONTENT, channel.guild_id):
            return True
        return any(int(u["id"]) == self.bot_user.id for u in message.get("mentions") or [])

    def _message_type(self, interaction: InteractionHandle | None) -> int:
        if interaction is None or interaction.type != APPLICATION_COMMAND:
            return 0
        return 20 if int(interaction.data.get("type", 1)) == 1 else 23

    def _interaction_metadata(self, handle: InteractionHandle) -> dict[str, Any]:
        user = self.users[handle.user_id]
        metadata: dict[str, Any] = {
            "id": str(handle.id),
            "type": handle.type,
            "user": user_payload(user),
            "authorizing_integration_owners": handle.payload.get("authorizing_integration_owners", {}),
        }
        if handle.type == APPLICATION_COMMAND:
            metadata["name"] = handle.data.get("name")
            metadata["command_type"] = handle.data.get("type", 1)
        if handle.message_id is not None:
            metadata["interacted_message_id"] = str(handle.message_id)
        if handle.original_message_id is not None:
            metadata["original_response_message_id"] = str(handle.original_message_id)
        return metadata

    def _size_limit(self, channel: FakeChannel) -> int:
        if channel.guild_id is None:
            return self.attachment_size_limit
        return self.guilds[channel.guild_id].attachment_size_limit

    def _apply_attachments(
        self,
        message: FakeMessage,
        body: dict[str, Any],
        uploads: Sequence[UploadedFile],
        *,
        size_limit: int,
        editing: bool,
    ) -> None:
        for upload in uploads:
            if upload.size > size_limit:
                raise ApiError(413, 40005, "Request entity too large")
        by_index = {u.index: u for u in uploads if u.index is not None}
        ephemeral = message.ephemeral
        listed = body.get("attachments")
        if listed is not None:
            existing = {a.id: a for a in message.files}
            files: list[StoredAttachment] = []
            used: set[int] = set()
            for position, entry in enumerate(listed):
                attachment_id = int(entry["id"])
                if attachment_id in existing:
                    files.append(existing[attachment_id])
                elif attachment_id in by_index:
                    upload = by_index[attachment_id]
                    used.add(attachment_id)
                    files.append(
                        self._store_file(
                            entry.get("filename") or upload.filename,
                            upload.data,
                            upload.content_type,
                            ephemeral=ephemeral,
                            description=entry.get("description"),
                        )
                    )
                else:
                    tree = _error_tree(("attachments", position, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment")
                    raise ApiError(400, 50035, "Invalid Form Body", tree)
            for index, upload in sorted(by_index.items()):
                if index not in used:
                    stored = self._store_file(upload.filename, upload.data, upload.content_type, ephemeral=ephemeral)
                    files.append(stored)
            message.files = files
        elif uploads:
            new = [self._store_file(u.filename, u.data, u.content_type, ephemeral=ephemeral) for u in uploads]
            message.files = (message.files if editing else []) + new
        message["attachments"] = [a.payload() for a in message.files]

    def _apply_mentions(self, message: FakeMessage, body: dict[str, Any]) -> None:
        """Who the message pings, honouring ``allowed_mentions`` (absent means everything parses)."""
        allowed = body.get("allowed_mentions", message.allowed_mentions)
        content = message.content
        user_ids = [int(u) for u in _USER_MENTION.findall(content)]
        role_ids = [int(r) for r in _ROLE_MENTION.findall(content)]
        if allowed is not None:
            parse = set(allowed.get("parse") or [])
            listed_users = {int(u) for u in allowed.get("users") or []}
            listed_roles = {int(r) for r in allowed.get("roles") or []}
            user_ids = [u for u in user_ids if "users" in parse or u in listed_users]
            role_ids = [r for r in role_ids if "roles" in parse or r in listed_roles]
            everyone = "everyone" in parse
        else:
            everyone = True
        message["mentions"] = [user_payload(self.users[u]) for u in dict.fromkeys(user_ids) if u in self.users]
        message["mention_roles"] = [str(r) for r in dict.fromkeys(role_ids)]
        message["mention_everyone"] = everyone and ("@everyone" in content or "@here" in content)


def _error_tree(path: Sequence[str | int], code: str, message: str) -> dict[str, Any]:
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path):
        tree = {str(part): tree}
    return tree
