"""The fake's in-memory state: users, guilds, roles, channels, members, messages and uploaded files."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

#: Message flags the fake gives meaning to.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_VOICE_MESSAGE = 1 << 13
FLAG_COMPONENTS_V2 = 1 << 15


class HasId(Protocol):
    @property
    def id(self) -> int: ...


SnowflakeLike = int | str | HasId


def as_id(value: SnowflakeLike) -> int:
    """An int id from an int, a numeric string, or anything with an ``id`` (fake or discord.py objects)."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a snowflake")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    return int(value.id)


class SnowflakeFactory:
    """Time-based, strictly increasing snowflakes, so ``created_at`` and id-derived timestamps look right."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last

    def next_on_shard(self, shard_id: int, count: int) -> int:
        """The next snowflake whose guild would be on shard ``shard_id`` of ``count`` (a millisecond or so later)."""
        stamp = self.next() >> 22
        stamp += (shard_id - stamp) % count
        self._last = max(stamp << 22, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=dt.UTC)


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5


@dataclass(eq=False)
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None
    locale: str = "en-US"
    #: False makes the bot's DMs to this user fail with 403/50007, as when a user blocks server DMs.
    dms_open: bool = True

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    tags: dict[str, Any] | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass
class Overwrite:
    """A channel permission overwrite; ``type`` 0 targets a role, 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass(eq=False)
class FakeChannel:
    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    parent_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    #: The other user of a DM channel.
    recipient_id: int | None = None
    last_message_id: int | None = None
    #: The members of a group DM (never the bot: bots cannot join group DMs).
    recipient_ids: list[int] = field(default_factory=list)

    @property
    def is_dm(self) -> bool:
        return self.type == ChannelType.DM

    @property
    def is_group_dm(self) -> bool:
        return self.type == ChannelType.GROUP_DM

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)
    flags: int = 0

    @property
    def id(self) -> int:
        return self.user.id


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    #: Largest file the bot may upload with a normal channel message.
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT
    joined_at: str = field(default_factory=iso_now)

    @property
    def everyone_role(self) -> FakeRole:
        return self.roles[self.id]

    def role(self, name: str) -> FakeRole:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"no role named {name!r} in guild {self.name!r}")

    def channel(self, name: str) -> FakeChannel:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no channel named {name!r} in guild {self.name!r}")

    def member(self, user: SnowflakeLike) -> FakeMember:
        user_id = as_id(user)
        try:
            return self.members[user_id]
        except KeyError:
            raise KeyError(f"user {user_id} is not a member of guild {self.name!r}") from None

    def text_channels(self) -> list[FakeChannel]:
        return sorted((c for c in self.channels.values() if c.type == ChannelType.GUILD_TEXT), key=lambda c: c.position)


@dataclass(eq=False)
class FakeApplication:
    id: int
    name: str
    owner: FakeUser
    description: str = ""
    verify_key: str = "0" * 64
    flags: int = 0
    bot_public: bool = True
    bot_require_code_grant: bool = False


@dataclass(eq=False)
class StoredAttachment:
    """A file held by the fake: bot uploads, or a user's upload for an attachment option."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    #: The link without its signature; ``url`` signs it afresh on every read.
    base_url: str
    description: str | None = None
    ephemeral: bool = False
    #: Signs ``base_url`` (the fake's link signer; unsigned by default).
    signer: Callable[[StoredAttachment], str] | None = None
    #: Gone from the CDN: its message was deleted.
    deleted: bool = False
    #: When an upload (an ephemeral attachment, which lives on its interaction only) is gone: no link outlives it.
    expires_at: float | None = None
    #: The link handed out lately and until when it is good (kept while it has half its life left).
    signed: tuple[str, float] | None = None
    #: A slow CDN for this file: a fetch is answered only once the event is set.
    hold: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """A link to the file, signed now (as in every payload Discord sends)."""
        return self.base_url if self.signer is None else self.signer(self)

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type is not None:
            payload["content_type"] = self.content_type
        if self.description is not None:
            payload["description"] = self.description
        if self.ephemeral:
            payload["ephemeral"] = True
        return payload


def walk_components(components: Any) -> Iterator[dict[str, Any]]:
    """Every component in a tree of action rows, sections, containers and labels, depth first."""
    if not isinstance(components, list):
        return
    for component in components:
        if not isinstance(component, dict):
            continue
        yield component
        yield from walk_components(component.get("components"))
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from walk_components([child])


class FakeMessage(dict[str, Any]):
    """A message exactly as Discord would send it (the dict itself), plus what the fake knows around it.

    Properties give typed access (ids as ints, as discord.py exposes them); ``bodies`` keeps every JSON
    body the bot sent for this message, so tests can assert on ``allowed_mentions`` and friends.
    """

    def __init__(self, data: Mapping[str, Any], *, guild_id: int | None, interaction_id: int | None = None) -> None:
        super().__init__(data)
        self.guild_id = guild_id
        self.interaction_id = interaction_id
        #: The files behind ``attachments`` (bytes included).
        self.files: list[StoredAttachment] = []
        #: ``allowed_mentions`` of the latest create/edit that carried one, as sent.
        self.allowed_mentions: dict[str, Any] | None = None
        #: Every JSON body sent to create or edit this message, oldest first.
        self.bodies: list[dict[str, Any]] = []
        #: Earlier versions of the message, oldest first.
        self.history: list[dict[str, Any]] = []
        self.deleted = False
        #: Emoji key ("👍" or "name:id") -> ids of the users who reacted, in order.
        self.reaction_users: dict[str, list[int]] = {}
        self.reaction_emojis: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<FakeMessage id={self.get('id')} channel={self.get('channel_id')} content={self.content!r}>"

    @property
    def id(self) -> int:
        return int(self["id"])

    @property
    def channel_id(self) -> int:
        return int(self["channel_id"])

    @property
    def author_id(self) -> int:
        return int(self["author"]["id"])

    @property
    def content(self) -> str:
        return str(self.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.get("components") or [])

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """As Discord sends them now: links signed afresh."""
        if self.files:
            return [attachment.payload() for attachment in self.files]
        return list(self.get("attachments") or [])

    @property
    def flags(self) -> int:
        return int(self.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is the "Bot is thinking..." placeholder of a deferred interaction."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def edited(self) -> bool:
        return self.get("edited_timestamp") is not None

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.get("components")) if "custom_id" in c]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        for component in walk_components(self.get("components")):
            if component.get("custom_id") == custom_id:
                return component
        return None

    @property
    def reactions(self) -> dict[str, int]:
        """Emoji key -> count."""
        return {key: len(users) for key, users in self.reaction_users.items() if users}

    def wire(self) -> dict[str, Any]:
        """A plain deep-enough copy, safe to send while the message keeps changing; attachment links signed now."""
        data = {key: _copy_json(value) for key, value in self.items()}
        if self.files and "attachments" in data:
            data["attachments"] = self.attachments
        return data


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value
