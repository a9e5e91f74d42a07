"""Whose language a text is in: a member's for what they read themselves, a server's for its audit log, and
a job owner's for the job's message (everyone in the channel sees it, so it follows the member who asked).

Discord tells a member's locale with each of their interactions only; the last one seen is remembered for
the moments without one (a reaction), and stored with each job (``meta.locale``) so that the job's
message keeps its owner's language after a restart.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any, Final

import discord

from bot.store import EMPTY_META, JobMeta
from bot.store.models import Job

from .catalog import SOURCE_LOCALE, locale_code

_REMEMBERED: Final = 4096
_seen: OrderedDict[int, str] = OrderedDict()


def remember(user_id: int, locale: discord.Locale | str | None) -> None:
    """Note the locale a member's client uses (from an interaction of theirs)."""
    code = locale_code(locale)
    if code is None:
        return
    _seen[user_id] = code
    _seen.move_to_end(user_id)
    while len(_seen) > _REMEMBERED:
        _seen.popitem(last=False)


def member_locale(user_id: int | None) -> str | None:
    """The locale of a member's last interaction, if one was seen since the bot started."""
    return _seen.get(user_id) if user_id is not None else None


def interaction_locale(interaction: discord.Interaction[Any]) -> str:
    """The locale of the member behind an interaction (and remember it)."""
    code = interaction.locale.value
    remember(interaction.user.id, code)
    return code


def guild_locale(client: discord.Client, guild_id: int | None) -> str | None:
    """A server's preferred locale (what Discord calls its primary language), if the bot knows the server."""
    guild = client.get_guild(guild_id) if guild_id is not None else None
    return guild.preferred_locale.value if guild is not None else None


def audit_locale(client: discord.Client, guild_id: int | None) -> str:
    """The language of a server's audit log: the server's own."""
    return guild_locale(client, guild_id) or SOURCE_LOCALE


def stored_locale(meta: JobMeta | None) -> str | None:
    """The owner's locale a job was stored with, if any."""
    return meta.locale if meta is not None else None


def job_locale(client: discord.Client, job: Job) -> str:
    """The language of a job's messages: its owner's, else the server's, else English."""
    return stored_locale(job.meta) or member_locale(job.user_id) or guild_locale(client, job.guild_id) or SOURCE_LOCALE


def with_locale(meta: JobMeta | None, locale: str | None) -> JobMeta:
    """A job's meta with its owner's locale added (when known)."""
    meta = meta if meta is not None else EMPTY_META
    return dataclasses.replace(meta, locale=locale) if locale else meta
