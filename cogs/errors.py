"""One error policy for slash commands, buttons, modals and reactions.

A user's mistake (``InputError``, ``UserFacingError``) is shown as it is; a refusal by the API becomes
a message that says what happened and what to do; anything else is logged with a short reference the
member can quote, and they see only that reference. Every answer is ephemeral, whether or not the
interaction was already deferred.
"""

from __future__ import annotations

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
from bot.jobs.incidents import ProviderUnavailableError
from bot.options import InputError
from bot.store import JobNotFoundError
from cogs.common import UserFacingError
from cogs.context import InteractionContext
from cogs.i18n import LocaleLike, Msg, Phrase, catalog, t

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

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


def phrase_of(error: BaseException) -> Phrase | None:
    """An error's own message as a ``Phrase``, when it has one: ``error.msg`` (``UserFacingError`` and the bot's
    check failures carry one), or a message key of the core (``error.key`` and ``error.params``, as ``InputError``
    has). None when the error names no message the language files know."""
    phrase = getattr(error, "msg", None)
    if isinstance(phrase, Phrase):
        return phrase
    key, params = getattr(error, "key", None), getattr(error, "params", None)
    if not (isinstance(key, str) and catalog().has(key) and isinstance(params, dict)):
        return None
    # The core words its English message itself; a language file's text of it is only used while the two agree.
    found = Msg(key, params)
    if str(found) != str(error):
        log.warning("the English text of %r differs from the core's message; showing the core's", key)
        return None
    return found


def localised(error: BaseException, locale: LocaleLike) -> str | None:
    """An error's own message in the language of ``locale`` (see ``phrase_of``), or None."""
    phrase = phrase_of(error)
    return phrase.render(locale) if phrase is not None else None


def describe(error: BaseException, *, context: str = "", now: float | None = None, locale: LocaleLike = None) -> str:
    """The message a member sees for ``error``, in the language of ``locale``; unexpected errors are logged here
    with their reference."""
    error = unwrap(error)
    if isinstance(error, InputError | UserFacingError):
        return localised(error, locale) or str(error)
    if isinstance(error, JobNotFoundError):
        return t(locale, "errors.job_gone")
    if isinstance(error, InsufficientCreditError):
        log.warning("the API refused a job for lack of credit (%s): %s", context, error)
        return t(locale, "errors.no_credit")
    if isinstance(error, ForbiddenError):
        reason = error.message.strip().rstrip(".") or t(locale, "errors.no_reason")
        return t(locale, "errors.moderation", reason=reason)
    if isinstance(error, RateLimitError):
        wait_s = error.retry_after if error.retry_after and error.retry_after > 0 else DEFAULT_RETRY_S
        at = int((now if now is not None else time.time()) + wait_s + 0.999)
        return t(locale, "errors.rate_limited", at=at)
    if isinstance(error, ProviderUnavailableError):
        return t(locale, "errors.provider_incident")
    if isinstance(error, InvalidTokenError):
        log.error("the API rejected the bot's token (%s): %s; set a valid [acedata] token", context, error)
        return t(locale, "errors.bad_token")
    if isinstance(error, AceDataError):
        log.warning("the API failed a request (%s): %s", context, error)
        return t(locale, "errors.api_failed", code=error.code)
    if isinstance(error, app_commands.CommandOnCooldown):
        return t(locale, "errors.cooldown", seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.CheckFailure | app_commands.TransformerError):
        return localised(error, locale) or str(error) or t(locale, "errors.not_here")
    reference = new_reference()
    log.error("unexpected error (reference %s) %s", reference, context, exc_info=error)
    return t(locale, "errors.unexpected", reference=reference)


def context_of(interaction: discord.Interaction[Any], job_id: str | None = None) -> str:
    """Who, where and what, for a log line about an interaction."""
    command = interaction.command.qualified_name if interaction.command is not None else None
    custom_id = interaction.data.get("custom_id") if interaction.data else None
    what = f"/{command}" if command else (str(custom_id) if custom_id else interaction.type.name)
    return f"in {what} (job {job_id or 'none'}, guild {interaction.guild_id}, user {interaction.user.id})"


async def answer_error(
    where: discord.Interaction[Any] | InteractionContext, error: BaseException, *, job_id: str | None = None
) -> None:
    """Tell the member what went wrong, ephemerally and in their language, however far the interaction got."""
    context = _context(where)
    text = describe(error, context=context_of(context.interaction, job_id), locale=context.locale)
    await answer(context, text)


async def answer(where: discord.Interaction[Any] | InteractionContext, text: str) -> None:
    """Send ``text`` ephemerally: as the response, or as a follow-up once the interaction was answered.

    A public "thinking..." placeholder is deleted first: Discord would turn the first follow-up into an
    edit of it, and a refusal must not show up in the channel. An interaction given without its context is
    looked up (``InteractionContext.of``), so the error policy knows of a placeholder all the same.
    """
    context = _context(where)
    interaction = context.interaction
    none = discord.AllowedMentions.none()
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
            return
        await context.drop_placeholder()
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)
    except discord.HTTPException as exc:
        log.warning(
            "could not tell user %s in guild %s about a problem: %s (%s)",
            interaction.user.id,
            interaction.guild_id,
            exc.text or exc.status,
            text[:120],
        )


def _context(where: discord.Interaction[Any] | InteractionContext) -> InteractionContext:
    return where if isinstance(where, InteractionContext) else InteractionContext.of(where)


class MJCommandTree(app_commands.CommandTree["MJBot"]):
    """The bot's command tree: every command error becomes an ephemeral answer (see ``describe``)."""

    async def on_error(self, interaction: discord.Interaction[MJBot], error: app_commands.AppCommandError, /) -> None:
        await answer_error(interaction, error)
