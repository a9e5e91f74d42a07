"""Where an interaction comes from, as Discord tells an app: its ``context`` and the installs that authorized it.

An app is installed to a server (guild install) or to a member's account (user install). Through the user install a
member runs its commands in the bot's DMs, in group DMs, and in servers the bot is not a member of. Discord says which
installs authorized an interaction in ``authorizing_integration_owners``: ``{"0": guild id}`` for the server's install
(``"0"`` in the bot's DMs), ``{"1": user id}`` for the member's own. A click on a button answers to the installs of
the interaction that made its message.

Discord offers a command through the user install only if it was registered with 1 among its ``integration_types``
and the context among its ``contexts``; ``check_offered`` refuses such an interaction otherwise, as a ValueError in
the test. A guild-install interaction is sent wherever a test asks, so that a test can show the bot's own checks
against a registration that has not caught up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from .model import FakeChannel, FakeMessage, FakeUser

if TYPE_CHECKING:
    from .server import FakeDiscord

#: The installation types (``integration_types`` and the keys of ``authorizing_integration_owners``).
GUILD_INSTALL: Final = 0
USER_INSTALL: Final = 1
#: Interaction contexts: a server's channel, the bot's DMs, a private channel (a group DM, a DM between users).
GUILD: Final = 0
BOT_DM: Final = 1
PRIVATE_CHANNEL: Final = 2

#: Which install a test runs a command through: the server's, the member's own, or both.
Install = Literal["guild", "user", "both"]
INSTALLS: Final = ("guild", "user", "both")


def context_of(channel: FakeChannel) -> int:
    """The interaction context of a channel."""
    if channel.is_dm:
        return BOT_DM
    if channel.is_group_dm:
        return PRIVATE_CHANNEL
    return GUILD


def authorizing_owners(fake: FakeDiscord, install: Install, user: FakeUser, channel: FakeChannel) -> dict[str, str]:
    """``authorizing_integration_owners`` of an interaction run through ``install`` in ``channel``.

    A guild install authorizes only where the bot is: its DMs, and the servers it is a member of.
    """
    if install not in INSTALLS:
        raise ValueError(f"install must be one of {INSTALLS}, not {install!r}")
    owners: dict[str, str] = {}
    if install in ("guild", "both"):
        if channel.is_group_dm:
            raise ValueError(f"group DM {channel.id} has no guild install; run the command with install='user'")
        if not channel.is_dm and not fake.bot_sees(channel):
            raise ValueError(
                f"the bot is not a member of the guild of channel {channel.id}, so no guild install authorizes a "
                "command there; run it with install='user'"
            )
        owners[str(GUILD_INSTALL)] = "0" if channel.is_dm else str(channel.guild_id)
    if install in ("user", "both"):
        owners[str(USER_INSTALL)] = str(user.id)
    return owners


def owners_of_message(fake: FakeDiscord, message: FakeMessage, user: FakeUser) -> dict[str, str]:
    """The installs a click on ``message`` answers to: those of the interaction that made it, else the server's."""
    metadata = message.get("interaction_metadata") or {}
    owners = metadata.get("authorizing_integration_owners")
    if owners:
        return dict(owners)
    return authorizing_owners(fake, "guild", user, fake.channels[message.channel_id])


def check_offered(name: str, definition: dict[str, Any] | None, owners: dict[str, str], context: int) -> None:
    """ValueError when Discord would not offer the registered command ``name`` through a user install there."""
    if definition is None or str(USER_INSTALL) not in owners:
        return
    installs = definition.get("integration_types") or [GUILD_INSTALL]
    contexts = definition.get("contexts")
    if USER_INSTALL not in installs or (contexts is not None and context not in contexts):
        raise ValueError(
            f"Discord does not offer /{name} through a user install in context {context}: it is registered for "
            f"installs {installs} and contexts {contexts}"
        )
