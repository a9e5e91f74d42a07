"""The /settings panel: its embed (each setting, the allowance here), its controls, and how a change is told."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.quota import Allowance
from bot.settings import (
    GuildSettings,
    UserSettings,
)
from cogs import settings_presets
from cogs.i18n import SOURCE_LOCALE, LocaleLike, catalog, t
from cogs.limits import allowance_lines
from cogs.ui.card import confirm_setting

if TYPE_CHECKING:
    pass


Change = tuple[str, Any]


def setting_text(locale: LocaleLike, name: str, /, **params: object) -> str:
    return t(locale, f"settings.{name}", **params)


def state_text(value: bool, locale: LocaleLike) -> str:
    return setting_text(locale, "on" if value else "off")


def mode_text(value: object, locale: LocaleLike) -> str:
    key = f"settings.mode_value_{value}"
    return t(locale, key) if catalog().has(key) else str(value)


@dataclass(frozen=True, slots=True)
class Place:
    """Where the panel is shown: a server's settings and the member's allowance there, or DMs (both None; ``as_dms``:
    a place that counts as DMs, reached through the member's own install of the bot)."""

    guild: GuildSettings | None
    allowance: Allowance | None
    as_dms: bool = False


def apply(settings: UserSettings, changes: list[Change]) -> UserSettings:
    """``settings`` with the changes (``("mode", "turbo")``, ``("loop", True)``...) made."""
    values: dict[str, Any] = {
        "mode": settings.mode,
        "resolution": settings.resolution,
        "loop": settings.loop,
        "dm_on_done": settings.dm_on_done,
        "private_results": settings.private_results,
        "confirm": settings.confirm,
    }
    values.update(changes)
    return UserSettings(**values, presets=settings.presets, extra=settings.extra)


def describe_changes(changes: list[Change], locale: LocaleLike = SOURCE_LOCALE) -> str:
    """What a change did, for the panel's confirmation line: "mode turbo, loop on"."""
    words = {
        "mode": "change_mode",
        "resolution": "change_resolution",
        "loop": "change_loop",
        "dm_on_done": "change_dm",
        "private_results": "change_private",
        "confirm": "change_confirm",
    }
    parts = []
    for key, value in changes:
        if isinstance(value, bool):
            shown = state_text(value, locale)
        elif key == "confirm":
            shown = setting_text(locale, f"confirm_{value}")
        else:
            shown = mode_text(value, locale) if key == "mode" else str(value)
        parts.append(setting_text(locale, words[key], value=shown))
    return setting_text(locale, "change_separator").join(parts)


def panel_embed(
    settings: UserSettings, place: Place, *, saved: str | None = None, locale: LocaleLike = None
) -> discord.Embed:
    """The panel: the member's settings, what applies here, and what they have left today."""
    lines = [setting_text(locale, "saved", changes=saved) if saved else setting_text(locale, "nothing")]
    guild = place.guild
    if guild is not None and settings.mode == "turbo" and not guild.limits.allow_turbo:
        lines.append(setting_text(locale, "turbo_off"))
    if guild is not None and settings.resolution == "720p" and not guild.limits.allow_720p:
        lines.append(setting_text(locale, "720p_off"))
    embed = discord.Embed(
        title=setting_text(locale, "title"), description="\n".join(lines), colour=discord.Colour.blurple()
    )
    defaults = setting_text(
        locale,
        "defaults_value",
        mode=mode_text(settings.mode, locale),
        resolution=settings.resolution,
        loop=state_text(settings.loop, locale),
    )
    embed.add_field(name=setting_text(locale, "defaults"), value=defaults, inline=False)
    dm = setting_text(locale, "dm_value", state=state_text(settings.dm_on_done, locale))
    embed.add_field(name=setting_text(locale, "dm"), value=dm, inline=False)
    if guild is None:
        private = "private_dms"
    elif guild.limits.allow_private_results:
        private = "private_value"
    else:
        private = "private_not_here"
    state = state_text(settings.private_results, locale)
    embed.add_field(
        name=setting_text(locale, "private"), value=setting_text(locale, private, state=state), inline=False
    )
    presets_name, presets_value = settings_presets.presets_field(settings, locale)
    embed.add_field(name=presets_name, value=presets_value, inline=False)
    embed.add_field(
        name=setting_text(locale, "confirm"), value=confirm_setting(settings.confirm, guild, locale), inline=False
    )
    if place.allowance is None:
        dms = setting_text(locale, "no_limits_app" if place.as_dms else "no_limits_dms")
        embed.add_field(name=setting_text(locale, "allowance_dms"), value=dms, inline=False)
    else:
        left = "\n".join(allowance_lines(place.allowance, locale))
        embed.add_field(name=setting_text(locale, "allowance"), value=left, inline=False)
    embed.set_footer(text=setting_text(locale, "footer"))
    return embed


class PanelView(discord.ui.View):
    """The panel's controls; clicks reach ``SettingSelect``/``SettingButton`` through the registered dynamic items,
    so discord.py need not keep this view (an ephemeral message's view would otherwise expire with its token)."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False
