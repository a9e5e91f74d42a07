"""Builders for the JSON shapes Discord sends: users, members, roles, channels, guilds, emoji, interactions."""

from __future__ import annotations

import re
from typing import Any

from .model import (
    FakeApplication,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Overwrite,
)

#: Interaction types.
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

#: Interaction callback types.
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
MODAL = 9

#: Gateway intents the fake checks before sending an event.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15

_CUSTOM_EMOJI = re.compile(r"<?(?P<animated>a)?:?(?P<name>[A-Za-z0-9_~]+):(?P<id>\d+)>?")


def user_payload(user: FakeUser) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": user.avatar,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


def client_user_payload(user: FakeUser) -> dict[str, Any]:
    return {**user_payload(user), "verified": True, "mfa_enabled": False, "locale": user.locale, "email": None}


def member_payload(member: FakeMember, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "roles": [str(r) for r in member.roles],
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "joined_at": member.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": member.flags,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user_payload(member.user)
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def role_payload(role: FakeRole) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(role.id),
        "name": role.name,
        "description": None,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if role.tags is not None:
        payload["tags"] = role.tags
    return payload


def overwrite_payload(overwrite: Overwrite) -> dict[str, Any]:
    return {
        "id": str(overwrite.id),
        "type": overwrite.type,
        "allow": str(overwrite.allow),
        "deny": str(overwrite.deny),
    }


def channel_payload(channel: FakeChannel, *, recipients: list[FakeUser] | None = None) -> dict[str, Any]:
    """A channel object; DM and group DM channels carry ``recipients``, guild channels ``guild_id`` and overwrites."""
    last = str(channel.last_message_id) if channel.last_message_id else None
    if channel.is_dm:
        return {
            "id": str(channel.id),
            "type": channel.type,
            "last_message_id": last,
            "flags": 0,
            "recipients": [user_payload(u) for u in recipients or []],
        }
    if channel.is_group_dm:
        return {
            "id": str(channel.id),
            "type": channel.type,
            "name": channel.name,
            "icon": None,
            "owner_id": str(channel.recipient_ids[0]) if channel.recipient_ids else None,
            "last_message_id": last,
            "flags": 0,
            "recipients": [user_payload(u) for u in recipients or []],
        }
    payload: dict[str, Any] = {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "position": channel.position,
        "flags": 0,
        "parent_id": str(channel.parent_id) if channel.parent_id else None,
        "topic": channel.topic,
        "nsfw": channel.nsfw,
        "last_message_id": last,
        "rate_limit_per_user": 0,
        "permission_overwrites": [overwrite_payload(o) for o in channel.overwrites],
    }
    if channel.guild_id is not None:
        payload["guild_id"] = str(channel.guild_id)
    return payload


def guild_payload(guild: FakeGuild) -> dict[str, Any]:
    """The guild object of GET /guilds/{id} (no channels or members)."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role_payload(r) for r in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": list(guild.features),
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_members": 500000,
        "max_presences": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": guild.preferred_locale,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "incidents_data": None,
    }


def guild_create_payload(guild: FakeGuild) -> dict[str, Any]:
    """GUILD_CREATE: the guild plus channels, members (``member_count == len(members)``, so no chunking)."""
    channels = []
    for channel in sorted(guild.channels.values(), key=lambda c: c.position):
        payload = channel_payload(channel)
        payload.pop("guild_id", None)
        channels.append(payload)
    return {
        **guild_payload(guild),
        "joined_at": guild.joined_at,
        "large": False,
        "unavailable": False,
        "member_count": len(guild.members),
        "members": [member_payload(m) for m in guild.members.values()],
        "channels": channels,
        "threads": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def application_payload(app: FakeApplication) -> dict[str, Any]:
    return {
        "id": str(app.id),
        "name": app.name,
        "icon": None,
        "description": app.description,
        "summary": "",
        "type": None,
        "bot_public": app.bot_public,
        "bot_require_code_grant": app.bot_require_code_grant,
        "owner": user_payload(app.owner),
        "team": None,
        "verify_key": app.verify_key,
        "flags": app.flags,
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
        "rpc_origins": [],
    }


def emoji_key(emoji: str) -> str:
    """The canonical form used in routes and as a reaction key: the unicode emoji, or ``name:id``."""
    match = _CUSTOM_EMOJI.fullmatch(emoji)
    if match:
        return f"{match['name']}:{match['id']}"
    return emoji


def emoji_payload(emoji: str) -> dict[str, Any]:
    match = _CUSTOM_EMOJI.fullmatch(emoji)
    if match:
        return {"id": match["id"], "name": match["name"], "animated": bool(match["animated"])}
    return {"id": None, "name": emoji}


def option_type_name(option_type: int) -> str:
    return {
        1: "SUB_COMMAND",
        2: "SUB_COMMAND_GROUP",
        3: "STRING",
        4: "INTEGER",
        5: "BOOLEAN",
        6: "USER",
        7: "CHANNEL",
        8: "ROLE",
        9: "MENTIONABLE",
        10: "NUMBER",
        11: "ATTACHMENT",
    }.get(option_type, str(option_type))
