"""The Discord calls behind a job message: edit through the interaction token or the channel, post, delete.

Each call sends ``AllowedMentions.none()``: a prompt is user text, and no job message may ping anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

import discord
from discord.utils import MISSING

from bot.store.models import MessageLink
from cogs.ui.render import RenderedJob

from .media import ResultFiles
from .tokens import TokenBook

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

T = TypeVar("T")

NO_MENTIONS: Final = discord.AllowedMentions.none()

#: Discord error codes that decide a fallback.
UNKNOWN_MESSAGE: Final = 10008
UNKNOWN_WEBHOOK: Final = 10015
INVALID_WEBHOOK_TOKEN: Final = 50027
TOO_LARGE: Final = 40005
OLD_MESSAGE_EDITS: Final = 30046  # the cap on edits of messages older than an hour


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message state to send: the rendered job and the files that go with it.

    ``keep_files`` edits the text and buttons but leaves the files already on the message alone.
    """

    rendered: RenderedJob
    result: ResultFiles
    with_view: bool = True
    keep_files: bool = False

    @property
    def view(self) -> discord.ui.View | None:
        return self.rendered.view if self.with_view else None

    def attachments(self) -> list[discord.File]:
        return MISSING if self.keep_files else self.result.discord_files()


def token_gone(error: discord.HTTPException) -> bool:
    """The interaction token can no longer be used (expired, or the webhook is unknown)."""
    return error.status == 401 or error.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK)


def too_large(error: discord.HTTPException) -> bool:
    return error.status == 413 or error.code == TOO_LARGE


def cannot_edit(error: discord.HTTPException) -> bool:
    """The message cannot be edited this way at all: gone, hidden, or past the edit cap for old messages."""
    return error.status in (403, 404) or error.code == OLD_MESSAGE_EDITS


async def send_with_fallback(
    send: Callable[[Outgoing], Awaitable[T]], compose: Callable[[ResultFiles], Outgoing], result: ResultFiles
) -> tuple[T, ResultFiles]:
    """Send ``compose(result)``; if Discord refuses the files as too large, send it again with links instead.

    Returns what ``send`` returned and the result that went out.
    """
    try:
        return await send(compose(result)), result
    except discord.HTTPException as error:
        if not result.files or not too_large(error):
            raise
    linked = result.without_files()
    return await send(compose(linked)), linked


def webhook(bot: MJBot, link: MessageLink) -> discord.Webhook:
    """The interaction's webhook, bound to the bot's state so buttons on an edited message are dispatched."""
    if link.application_id is None or not link.interaction_token:
        raise ValueError(f"message {link.message_id} has no interaction token")
    return discord.Webhook.partial(link.application_id, link.interaction_token, client=bot)


def channel_message(bot: MJBot, link: MessageLink) -> discord.PartialMessage:
    if link.channel_id is None:
        raise ValueError(f"message {link.message_id} has no channel")
    channel = bot.get_partial_messageable(link.channel_id, guild_id=link.guild_id)
    return channel.get_partial_message(link.message_id)


async def edit_by_token(bot: MJBot, link: MessageLink, out: Outgoing) -> None:
    await webhook(bot, link).edit_message(
        link.message_id,
        content=out.rendered.content,
        embeds=out.rendered.embeds,
        attachments=out.attachments(),
        view=out.view,
        allowed_mentions=NO_MENTIONS,
    )


async def edit_in_channel(bot: MJBot, link: MessageLink, out: Outgoing) -> None:
    await channel_message(bot, link).edit(
        content=out.rendered.content,
        embeds=out.rendered.embeds,
        attachments=out.attachments(),
        view=out.view,
        allowed_mentions=NO_MENTIONS,
    )


async def post(
    destination: discord.abc.Messageable, out: Outgoing, *, reference: discord.MessageReference | None = None
) -> discord.Message:
    """A new message; a reply never pings the member it answers."""
    extra: dict[str, Any] = {}
    if out.view is not None:
        extra["view"] = out.view
    if reference is not None:
        extra["reference"] = reference
    return await destination.send(
        content=out.rendered.content,
        embeds=out.rendered.embeds,
        files=out.result.discord_files(),
        allowed_mentions=NO_MENTIONS,
        mention_author=False,
        **extra,
    )


async def follow_up(interaction: discord.Interaction[MJBot], out: Outgoing, *, ephemeral: bool) -> discord.Message:
    """A new message that answers an interaction (one whose original response was removed)."""
    extra: dict[str, Any] = {}
    if out.view is not None:
        extra["view"] = out.view
    return await interaction.followup.send(
        content=out.rendered.content or MISSING,
        embeds=out.rendered.embeds,
        files=out.result.discord_files(),
        ephemeral=ephemeral,
        allowed_mentions=NO_MENTIONS,
        wait=True,
        **extra,
    )


async def delete(bot: MJBot, link: MessageLink, tokens: TokenBook) -> bool:
    """Delete one message (by token while it lives, else in its channel); True when it is gone."""
    if tokens.usable(link):
        try:
            await webhook(bot, link).delete_message(link.message_id)
        except discord.HTTPException as error:
            if error.code == UNKNOWN_MESSAGE:
                return True
            if token_gone(error):
                tokens.died(link.message_id)
            log.info(
                "job %s (guild %s): deleting message %s by token failed (%s %s); trying its channel",
                link.job_id,
                link.guild_id,
                link.message_id,
                error.status,
                error.code,
            )
        else:
            return True
    if link.channel_id is None:
        return False
    try:
        await channel_message(bot, link).delete()
    except discord.NotFound:
        return True
    except discord.HTTPException as error:
        log.warning(
            "job %s (guild %s): cannot delete message %s (%s %s)",
            link.job_id,
            link.guild_id,
            link.message_id,
            error.status,
            error.code,
        )
        return False
    return True
