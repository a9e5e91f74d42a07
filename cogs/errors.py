"""One error policy for slash commands, buttons, modals and reactions.

A user's mistake (``InputError``, ``UserFacingError``) is shown as it is; a refusal by the API becomes
a message that says what happened and what to do; anything else is logged with a short reference the
member can quote, and they see only that reference. Every answer is ephemeral, whether or not the
interaction was already deferred.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands

from bot.acedata.errors import (
    AceDataError,
    ForbiddenError,
    InsufficientCreditError,
    InvalidTokenError,
    RateLimitError,
)
from bot.options import InputError
from bot.store import JobNotFoundError
from cogs.common import UserFacingError

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: ``interaction.extras`` key set while the original response is only the public "thinking..." placeholder.
PLACEHOLDER: Final = "mj_placeholder"
_REFERENCE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: When the API gives no Retry-After, suggest trying again after this many seconds.
DEFAULT_RETRY_S: Final = 60.0


def new_reference() -> str:
    """A short id to quote: six characters, no look-alikes (0/O, 1/I)."""
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def unwrap(error: BaseException) -> BaseException:
    """The exception a command or a transformer raised, out of discord.py's wrappers."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        inner = error.__cause__ if isinstance(error, app_commands.TransformerError) else error.original
        if inner is None or inner is error:
            break
        error = inner
    return error


def describe(error: BaseException, *, context: str = "", now: float | None = None) -> str:
    """The message a member sees for ``error``; unexpected errors are logged here with their reference."""
    error = unwrap(error)
    if isinstance(error, InputError | UserFacingError):
        return str(error)
    if isinstance(error, JobNotFoundError):
        return "That job is no longer in the bot's records."
    if isinstance(error, InsufficientCreditError):
        log.warning("the API refused a job for lack of credit (%s): %s", context, error)
        return (
            "The bot's Ace Data Cloud credit is used up, so it can't start new jobs right now. "
            "Please tell this server's admins so they can top it up."
        )
    if isinstance(error, ForbiddenError):
        reason = error.message.strip().rstrip(".") or "no reason given"
        return f"Your prompt was refused by Ace Data Cloud's moderation: {reason}. Change the prompt and try again."
    if isinstance(error, RateLimitError):
        wait_s = error.retry_after if error.retry_after and error.retry_after > 0 else DEFAULT_RETRY_S
        at = int((now if now is not None else time.time()) + wait_s + 0.999)
        return f"Ace Data Cloud is getting too many requests right now. Try again <t:{at}:R>."
    if isinstance(error, InvalidTokenError):
        log.error("the API rejected the bot's token (%s): %s; set a valid [acedata] token", context, error)
        return (
            "The bot can't use Ace Data Cloud right now: its API token was rejected. "
            "This needs the bot's operator; it has been logged for them."
        )
    if isinstance(error, AceDataError):
        log.warning("the API failed a request (%s): %s", context, error)
        return (
            f"Ace Data Cloud could not take this job right now ({error.code}). Try again in a minute; "
            "if it started after all, `/jobs` will list it."
        )
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure | app_commands.TransformerError):
        return str(error) or "You can't use this command here."
    reference = new_reference()
    log.error("unexpected error (reference %s) %s", reference, context, exc_info=error)
    return (
        f"Something went wrong (reference {reference}). Please try again; "
        "if it keeps happening, quote the reference to the bot's operator."
    )


def context_of(interaction: discord.Interaction[Any], job_id: str | None = None) -> str:
    """Who, where and what, for a log line about an interaction."""
    command = interaction.command.qualified_name if interaction.command is not None else None
    custom_id = interaction.data.get("custom_id") if interaction.data else None
    what = f"/{command}" if command else (str(custom_id) if custom_id else interaction.type.name)
    return f"in {what} (job {job_id or 'none'}, guild {interaction.guild_id}, user {interaction.user.id})"


async def answer_error(
    interaction: discord.Interaction[Any], error: BaseException, *, job_id: str | None = None
) -> None:
    """Tell the member what went wrong, ephemerally, however far the interaction got."""
    await answer(interaction, describe(error, context=context_of(interaction, job_id)))


async def answer(interaction: discord.Interaction[Any], text: str) -> None:
    """Send ``text`` ephemerally: as the response, or as a follow-up once the interaction was answered.

    A public "thinking..." placeholder is deleted first: Discord would turn the first follow-up into an
    edit of it, and a refusal must not show up in the channel.
    """
    none = discord.AllowedMentions.none()
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
            return
        if interaction.extras.pop(PLACEHOLDER, False):
            with contextlib.suppress(discord.NotFound):
                await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)
    except discord.HTTPException as exc:
        log.warning(
            "could not tell user %s in guild %s about a problem: %s (%s)",
            interaction.user.id,
            interaction.guild_id,
            exc.text or exc.status,
            text[:120],
        )


async def defer_public(interaction: discord.Interaction[Any]) -> None:
    """Acknowledge with a public "thinking..." message, to become the job's message."""
    await interaction.response.defer(thinking=True)
    interaction.extras[PLACEHOLDER] = True


def placeholder_used(interaction: discord.Interaction[Any]) -> None:
    """The placeholder is about to become a job's message: from now on, errors must not delete it."""
    interaction.extras.pop(PLACEHOLDER, None)


class MJCommandTree(app_commands.CommandTree["MJBot"]):
    """The bot's command tree: every command error becomes an ephemeral answer (see ``describe``)."""

    async def on_error(self, interaction: discord.Interaction[MJBot], error: app_commands.AppCommandError, /) -> None:
        await answer_error(interaction, error)
