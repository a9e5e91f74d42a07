"""A loopback Discord-compatible server (REST + gateway) for testing the bot with the real discord.py.

Usage, with the ``fake_discord`` fixture (registered in tests/conftest.py)::

    async def test_video(fake_discord: FakeDiscord) -> None:
        bot = MyBot(..., guild_ready_timeout=0.05)
        async with running_bot(bot, fake_discord):
            handle = await fake_discord.slash("video", {"prompt": "a cat"}, user=fake_discord.bob)
            assert await handle.wait_for_response() == 5          # deferred, thinking
            message = await handle.wait_for_original(lambda m: bool(m.custom_ids))
            click = await fake_discord.click(message, message.custom_ids[0])
            await click.wait_for_message(lambda m: "Extending" in m.content)
        assert fake_discord.unknown_routes == []

``slash(..., install="user")`` runs a command through the app installed to the member's account: in a guild added
with ``add_guild(..., with_bot=False)`` (the bot hears nothing of it and cannot reach its channels) or a group DM from
``add_group_dm``, with ``context`` and ``authorizing_integration_owners`` as Discord sends them (see ``installs``).

A bot that sets its own URLs (``point_discord_at(fake.api_base, fake.gateway_url)``) works too: the
fixture restores discord.py's originals afterwards. ``@pytest.mark.fake_discord(compress=True,
enforce_3s_ack=True)`` passes options to the server; ``@pytest.mark.allow_discord_errors("10062")``
lets a test expect an error that discord.py logs.
"""

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
