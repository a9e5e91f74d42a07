"""A loopback Discord-compatible server (REST + gateway) for testing the bot with the real discord.py."""

from .fixtures import discord_error_records
from .interactions import ACK_DEADLINE, TOKEN_LIFETIME, InteractionHandle
from .model import (
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    FakeApplication,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Overwrite,
    StoredAttachment,
)
from .permissions import ALL_PERMISSIONS, Permission, channel_permissions
from .recorder import RecordedRequest, UploadedFile
from .runner import running_bot
from .server import FakeDiscord

__all__ = [
    "ACK_DEADLINE",
    "ALL_PERMISSIONS",
    "DEFAULT_ATTACHMENT_SIZE_LIMIT",
    "TOKEN_LIFETIME",
    "FakeApplication",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InteractionHandle",
    "Overwrite",
    "Permission",
    "RecordedRequest",
    "StoredAttachment",
    "UploadedFile",
    "channel_permissions",
    "discord_error_records",
    "running_bot",
]
