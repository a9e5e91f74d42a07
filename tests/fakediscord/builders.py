"""INTERACTION_CREATE payloads: slash commands (options, subcommands, resolved data), components, modals."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .installs import authorizing_owners, context_of
from .model import FakeChannel, FakeGuild, FakeMember, FakeMessage, FakeRole, FakeUser, StoredAttachment
from .payloads import (
    channel_payload,
    member_payload,
    option_type_name,
    role_payload,
    user_payload,
)
from .permissions import DM_PERMISSIONS, USER_APP_PERMISSIONS, base_permissions, channel_permissions

if TYPE_CHECKING:
    from .server import FakeDiscord

#: What a test may pass as an option value; tuples are uploaded as (filename, data[, content_type]).
OptionValue = (
    str
    | int
    | float
    | bool
    | FakeUser
    | FakeMember
    | FakeRole
    | FakeChannel
    | StoredAttachment
    | tuple[str, bytes]
    | tuple[str, bytes, str]
)

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11

#: Component types whose interactions carry ``values``.
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})


class InteractionBuilder:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- the common envelope ------------------------------------------------------------------------------

    def envelope(
        self,
        interaction_type: int,
        data: dict[str, Any],
        *,
        user: FakeUser,
        channel: FakeChannel,
        locale: str,
        attachment_size_limit: int | None,
        message: FakeMessage | None = None,
        owners: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The fields every interaction carries; ``owners`` are the installs that authorized it (default: the
        server's install, where the bot is)."""
        fake = self.fake
        payload: dict[str, Any] = {
            "id": str(fake.ids.next()),
            "application_id": str(fake.application.id),
            "type": interaction_type,
            "data": data,
            "token": "fake-interaction-" + secrets.token_urlsafe(24),
            "version": 1,
            "locale": locale,
            "channel_id": str(channel.id),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": attachment_size_limit or fake.attachment_size_limit,
            "context": context_of(channel),
            "authorizing_integration_owners": owners or authorizing_owners(fake, "guild", user, channel),
        }
        if channel.is_dm:
            recipient = fake.users[channel.recipient_id or user.id]
            payload["channel"] = channel_payload(channel, recipients=[recipient])
            payload["user"] = user_payload(user)
            payload["app_permissions"] = str(DM_PERMISSIONS)
        elif channel.is_group_dm:
            recipients = [fake.users[user_id] for user_id in channel.recipient_ids]
            payload["channel"] = channel_payload(channel, recipients=recipients)
            payload["user"] = user_payload(user)
            payload["app_permissions"] = str(USER_APP_PERMISSIONS)
        else:
            guild = fake.guild_of(channel)
            member = guild.member(user)
            bot_member = guild.members.get(fake.bot_user.id)
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": guild.preferred_locale, "features": guild.features}
            payload["guild_locale"] = guild.preferred_locale
            payload["channel"] = channel_payload(channel)
            payload["member"] = member_payload(member, permissions=channel_permissions(guild, member, channel))
            bot_permissions = USER_APP_PERMISSIONS  # a server without the bot: what the user install may do
            if bot_member is not None:
                bot_permissions = channel_permissions(guild, bot_member, channel)
            payload["app_permissions"] = str(bot_permissions)
        if message is not None:
            payload["message"] = message.wire()
        return payload

    # -- application commands -------------------------------------------------------------------------------

    def command_data(
        self,
        name: str,
        options: Mapping[str, OptionValue],
        *,
        guild: FakeGuild | None,
        subcommand: str | None,
        focused: str | None = None,
    ) -> dict[str, Any]:
        definition = self.fake.find_command(name, guild=guild, command_type=1)
        data: dict[str, Any] = {"name": name, "type": 1}
        if definition is not None:
            data["id"] = definition["id"]
            if definition.get("guild_id"):
                data["guild_id"] = definition["guild_id"]
        else:
            data["id"] = str(self.fake.ids.next())
            if guild is not None:
                data["guild_id"] = str(guild.id)
        resolved: dict[str, dict[str, Any]] = {}
        known = list((definition or {}).get("options") or [])
        path = subcommand.split() if subcommand else []
        container: list[dict[str, Any]] = []
        data["options"] = container
        for part in path:
            option_def = _find_option(known, part)
            if definition is not None and option_def is None:
                raise ValueError(f"/{name} has no subcommand or group {part!r}; it has {[o['name'] for o in known]}")
            kind = int(option_def["type"]) if option_def else (SUB_COMMAND if part == path[-1] else SUB_COMMAND_GROUP)
            nested: list[dict[str, Any]] = []
            container.append({"name": part, "type": kind, "options": nested})
            container = nested
            known = list((option_def or {}).get("options") or [])
        for option_name, value in options.items():
            option_def = _find_option(known, option_name)
            if definition is not None and option_def is None:
                raise ValueError(f"/{name} has no option {option_name!r}; it has {[o['name'] for o in known]}")
            option = self._option(option_name, value, option_def, guild=guild, resolved=resolved)
            if option_name == focused:
                option["focused"] = True
                option["value"] = str(value) if not isinstance(value, str) else value
            container.append(option)
        if definition is not None and focused is None:
            missing = [o["name"] for o in known if o.get("required") and o["name"] not in options]
            if missing:
                raise ValueError(f"/{name} needs the required options {missing}")
        if resolved:
            data["resolved"] = resolved
        return data

    def _option(
        self,
        name: str,
        value: OptionValue,
        definition: dict[str, Any] | None,
        *,
        guild: FakeGuild | None,
        resolved: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        fake = self.fake
        kind = int(definition["type"]) if definition else _infer_type(value)
        if isinstance(value, tuple):
            value = fake.upload(*value)
        option: dict[str, Any] = {"name": name, "type": kind}
        if kind in (USER, MENTIONABLE) and isinstance(value, FakeUser | FakeMember):
            user = value.user if isinstance(value, FakeMember) else value
            resolved.setdefault("users", {})[str(user.id)] = user_payload(user)
            if guild is not None and user.id in guild.members:
                member = guild.members[user.id]
                resolved.setdefault("members", {})[str(user.id)] = member_payload(
                    member, with_user=False, permissions=_guild_permissions(guild, member)
                )
            option["value"] = str(user.id)
        elif kind in (ROLE, MENTIONABLE) and isinstance(value, FakeRole):
            resolved.setdefault("roles", {})[str(value.id)] = role_payload(value)
            option["value"] = str(value.id)
        elif kind == CHANNEL and isinstance(value, FakeChannel):
            channel = {**channel_payload(value), "permissions": str(_bot_channel_permissions(fake, value))}
            resolved.setdefault("channels", {})[str(value.id)] = channel
            option["value"] = str(value.id)
        elif kind == ATTACHMENT and isinstance(value, StoredAttachment):
            resolved.setdefault("attachments", {})[str(value.id)] = value.payload()
            option["value"] = str(value.id)
        elif _fits(kind, value):
            option["value"] = value
        else:
            raise TypeError(f"option {name!r} is {option_type_name(kind)}; cannot send {value!r}")
        choices = (definition or {}).get("choices")
        if choices and option["value"] not in [c["value"] for c in choices]:
            raise ValueError(f"option {name!r} must be one of {[c['value'] for c in choices]}, not {value!r}")
        return option

    # -- components and modals ------------------------------------------------------------------------------

    def component_data(self, message: FakeMessage, custom_id: str, values: Sequence[str] | None) -> dict[str, Any]:
        component = message.component(custom_id)
        if component is None:
            raise ValueError(f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} on message {message.id} is disabled; users cannot use it")
        kind = int(component["type"])
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind}
        if kind in SELECT_TYPES:
            data["values"] = list(values or [])
        elif values is not None:
            raise ValueError(f"component {custom_id!r} is not a select menu")
        return data

    def modal_data(
        self, custom_id: str, fields: Mapping[str, str | Sequence[str]], modal: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Mirror the layout of the modal the bot opened (action rows or labels); plain rows if none is known."""
        if modal is None:
            rows = [{"type": 1, "components": [_submitted(4, key, value)]} for key, value in fields.items()]
            return {"custom_id": custom_id, "components": rows}
        remaining = dict(fields)
        components = [_mirror(c, remaining) for c in modal.get("components") or []]
        if remaining:
            raise ValueError(f"modal {custom_id!r} has no inputs {sorted(remaining)}")
        return {"custom_id": custom_id, "components": components}


def _find_option(options: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((o for o in options if o.get("name") == name), None)


def _fits(kind: int, value: object) -> bool:
    if isinstance(value, bool):
        return kind == BOOLEAN
    if isinstance(value, int):
        return kind in (INTEGER, NUMBER)
    if isinstance(value, float):
        return kind == NUMBER
    return isinstance(value, str) and kind == STRING


def _infer_type(value: object) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, FakeUser | FakeMember):
        return USER
    if isinstance(value, FakeRole):
        return ROLE
    if isinstance(value, FakeChannel):
        return CHANNEL
    if isinstance(value, StoredAttachment | tuple):
        return ATTACHMENT
    raise TypeError(f"cannot send {value!r} as an option value")


def _guild_permissions(guild: FakeGuild, member: FakeMember) -> int:
    return base_permissions(guild, member)


def _bot_channel_permissions(fake: FakeDiscord, channel: FakeChannel) -> int:
    if channel.is_dm:
        return DM_PERMISSIONS
    if not fake.bot_sees(channel):
        return USER_APP_PERMISSIONS
    guild = fake.guild_of(channel)
    return channel_permissions(guild, guild.member(fake.bot_user), channel)


def _submitted(kind: int, custom_id: str, value: str | Sequence[str]) -> dict[str, Any]:
    if kind == 4:
        if not isinstance(value, str):
            raise TypeError(f"text input {custom_id!r} takes a string")
        return {"type": 4, "custom_id": custom_id, "value": value}
    values = [value] if isinstance(value, str) else list(value)
    return {"type": kind, "custom_id": custom_id, "values": values}


def _mirror(component: dict[str, Any], remaining: dict[str, str | Sequence[str]]) -> dict[str, Any]:
    kind = int(component.get("type", 0))
    if kind == 1:
        return {"type": 1, "components": [_mirror(c, remaining) for c in component.get("components") or []]}
    if kind == 18:
        return {"type": 18, "component": _mirror(component["component"], remaining)}
    custom_id = component.get("custom_id")
    if custom_id is None:
        return {"type": kind}
    value = remaining.pop(custom_id, None)
    if value is None:
        if component.get("required", True) and kind == 4:
            raise ValueError(f"the modal's required input {custom_id!r} needs a value")
        value = "" if kind == 4 else []
    return _submitted(kind, custom_id, value)
