"""The presets part of /settings: how many the member keeps on the panel, the list (``presets:True``) and
``delete_preset:`` (autocompleted from their own presets).

A preset is made by 💾 on a result (``cogs.presets``) and used by the ``preset`` option of /video and /imagine.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Final

import discord

from bot.presets import MAX_PRESETS, Preset, PresetError, without_preset
from bot.settings import UserSettings, load_user_settings, update_user_settings
from bot.text import shorten
from cogs.common import UserFacingError
from cogs.i18n import LocaleLike, interaction_locale, msg, t
from cogs.presets import SOURCE_EMOJI
from cogs.ui.render import EMBED_TOTAL_LIMIT, FIELD_VALUE_LIMIT, escape_user_text, fit_escaped

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: What the list's title and description may take of the embed; the presets share the rest.
_HEAD_ROOM: Final = 600


def presets_field(settings: UserSettings, locale: LocaleLike) -> tuple[str, str]:
    """The panel's line on presets: how many, and how to list or delete them (or how to make one)."""
    count = len(settings.presets)
    if not count:
        return t(locale, "settings.presets"), t(locale, "settings.presets_none")
    return t(locale, "settings.presets"), t(locale, "settings.presets_value", count=count, limit=MAX_PRESETS)


def summary(preset: Preset, locale: LocaleLike) -> str:
    """A preset's settings in one line: ``video · mode fast · 720p · loop · from job abc123``."""
    parts = [t(locale, f"settings.preset_from_{preset.source}")]
    if preset.mode:
        parts.append(t(locale, "render.repro.mode", mode=preset.mode))
    if preset.resolution:
        parts.append(preset.resolution)
    if preset.loop:
        parts.append(t(locale, "render.repro.loop"))
    if preset.job_id:
        parts.append(t(locale, "settings.preset_job", job=preset.job_id))
    return t(locale, "render.separator").join(parts)


def presets_embed(settings: UserSettings, locale: LocaleLike, *, deleted: Preset | None = None) -> discord.Embed:
    """The member's presets, one field each: the prompt (shortened to share the embed) and its settings."""
    presets = settings.presets
    lines = [t(locale, "settings.preset_deleted", name=escape_user_text(deleted.name))] if deleted else []
    lines.append(t(locale, "settings.presets_help") if presets else t(locale, "settings.presets_none"))
    embed = discord.Embed(
        title=t(locale, "settings.presets_title", count=len(presets), limit=MAX_PRESETS),
        description="\n".join(lines),
        colour=discord.Colour.blurple(),
    )
    names = [f"{SOURCE_EMOJI[preset.source]} {escape_user_text(preset.name)}" for preset in presets]
    share = (EMBED_TOTAL_LIMIT - _HEAD_ROOM - sum(map(len, names))) // max(1, len(presets))
    room = min(FIELD_VALUE_LIMIT, share)
    for name, preset in zip(names, presets, strict=True):
        line = summary(preset, locale)
        prompt_room = room - len(line) - 1
        prompt = fit_escaped(preset.full_prompt, prompt_room) if preset.full_prompt and prompt_room > 10 else ""
        value = "\n".join(part for part in (prompt, line) if part)
        embed.add_field(name=shorten(name, 256), value=shorten(value, room), inline=False)
    return embed


async def delete_preset(bot: MJBot, user_id: int, name: str) -> Preset:
    """Delete the member's preset ``name``; the preset deleted. UserFacingError when they have none of that name."""
    deleted: Preset | None = None

    def change(settings: UserSettings) -> UserSettings:
        nonlocal deleted
        presets, deleted = without_preset(settings.presets, name)
        return dataclasses.replace(settings, presets=presets)

    try:
        await update_user_settings(bot.services.store, user_id, change)
    except PresetError as error:
        raise UserFacingError(msg(error.key, **error.params)) from None
    if deleted is None:  # the change ran and found the preset, or raised
        raise RuntimeError("the preset to delete was not recorded")
    log.info("user %s deleted a preset", user_id)
    return deleted


async def show_presets(interaction: discord.Interaction[MJBot], *, deleted: Preset | None = None) -> None:
    """The list of the member's presets, in a message only they see (after the panel)."""
    settings = await load_user_settings(interaction.client.services.store, interaction.user.id)
    embed = presets_embed(settings, interaction_locale(interaction), deleted=deleted)
    none = discord.AllowedMentions.none()
    if interaction.response.is_done():
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=none)
    else:
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=none)
