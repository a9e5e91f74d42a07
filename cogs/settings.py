"""/settings: each member's own defaults and wishes, and what they have left today.

One ephemeral panel shows everything: the defaults /video and /imagine use when an option is not given
(mode, resolution, loop), "DM me when a job is done", private results (where the server allows them),
a confirmation card before every job or only before costly ones, and the member's allowance on this server.
Its selects and toggle buttons save at once and redraw the panel with a line saying what changed; the same
changes can be made with the command's options.

The controls are DynamicItems whose custom id holds the setting and the value to set (``mjset:loop:on``),
never the current state: a click sets a value, so a double click or a panel left open for a day still
does what its label says, and the panel works after a restart. Settings are the member's, wherever they are.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Final, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import quota
from bot.settings import (
    UserSettings,
    load_guild_settings,
    load_user_settings,
    update_user_settings,
)
from cogs import gate, installs, settings_presets
from cogs.errors import answer, answer_error
from cogs.i18n import LocaleLike, interaction_locale, t
from cogs.presets import preset_choices

from .settings_panel import (
    Change,
    PanelView,
    Place,
    apply,
    describe_changes,
    panel_embed,
    setting_text,
    state_text,
)

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

SELECT_TEMPLATE: Final = r"mjset:(?P<key>mode|resolution)"
BUTTON_TEMPLATE: Final = r"mjset:(?P<key>loop|dm|private|confirm|show)(?::(?P<value>on|off))?"


def panel_view(settings: UserSettings, place: Place, locale: LocaleLike = None) -> PanelView:
    view = PanelView()
    view.add_item(
        SettingSelect(
            "mode",
            [
                discord.SelectOption(
                    label=setting_text(locale, "mode_fast"),
                    value="fast",
                    description=setting_text(locale, "mode_fast_help"),
                    default=settings.mode == "fast",
                ),
                discord.SelectOption(
                    label=setting_text(locale, "mode_turbo"),
                    value="turbo",
                    description=setting_text(locale, "mode_turbo_help"),
                    default=settings.mode == "turbo",
                ),
            ],
            placeholder=setting_text(locale, "mode_placeholder"),
            row=0,
        )
    )
    view.add_item(
        SettingSelect(
            "resolution",
            [
                discord.SelectOption(
                    label=setting_text(locale, "res_720p"), value="720p", default=settings.resolution == "720p"
                ),
                discord.SelectOption(
                    label=setting_text(locale, "res_480p"), value="480p", default=settings.resolution == "480p"
                ),
            ],
            placeholder=setting_text(locale, "resolution_placeholder"),
            row=1,
        )
    )
    allowed_here = place.guild is None or place.guild.limits.allow_private_results
    for key, label, value, disabled in (
        ("loop", "loop_button", settings.loop, False),
        ("dm", "dm_button", settings.dm_on_done, False),
        ("private", "private_button", settings.private_results, not allowed_here and not settings.private_results),
        ("confirm", "confirm_button", settings.confirm == "always", False),
    ):
        view.add_item(
            SettingButton(
                key,
                "off" if value else "on",
                label=setting_text(locale, label, state=state_text(value, locale)),
                style=discord.ButtonStyle.success if value else discord.ButtonStyle.secondary,
                disabled=disabled,
            )
        )
    view.add_item(SettingButton("show", None, label=setting_text(locale, "show_button"), emoji="🔄"))
    return view


async def place_of(bot: MJBot, interaction: discord.Interaction[MJBot]) -> Place:
    guild_id = installs.rules_guild(bot, interaction)  # a server without the bot counts as DMs
    if guild_id is None:
        return Place(None, None, as_dms=installs.counts_as_dms(bot, interaction))
    store = bot.services.store
    guild = await load_guild_settings(store, guild_id)
    left = await quota.allowance(store, guild, guild_id=guild_id, user_id=interaction.user.id, now=gate.clock())
    return Place(guild, left)


async def save(bot: MJBot, user_id: int, changes: list[Change]) -> UserSettings:
    """Apply ``changes`` to the member's saved settings in one transaction; the settings as saved."""
    saved = await update_user_settings(bot.services.store, user_id, lambda current: apply(current, changes))
    log.info("user %s changed their settings: %s", user_id, describe_changes(changes))
    return saved


async def show_panel(interaction: discord.Interaction[MJBot], changes: list[Change], *, edit: bool) -> None:
    """Save ``changes`` (if any) and answer with the panel: a new ephemeral message, or the clicked one redrawn."""
    bot = interaction.client
    if changes:
        settings = await save(bot, interaction.user.id, changes)
    else:
        settings = await load_user_settings(bot.services.store, interaction.user.id)
    place = await place_of(bot, interaction)
    locale = interaction_locale(interaction)
    saved = describe_changes(changes, locale) if changes else None
    embed = panel_embed(settings, place, saved=saved, locale=locale)
    view = panel_view(settings, place, locale)
    if edit:
        await interaction.response.edit_message(embed=embed, view=view)
    else:
        await interaction.response.send_message(
            embed=embed, view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


class SettingSelect(discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]], template=SELECT_TEMPLATE):
    """The mode or resolution select of the panel; picking a value saves it."""

    def __init__(
        self,
        key: Literal["mode", "resolution"],
        options: list[discord.SelectOption] | None = None,
        *,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        select: discord.ui.Select[discord.ui.View] = discord.ui.Select(
            custom_id=f"mjset:{key}", options=options or [], placeholder=placeholder, min_values=1, max_values=1
        )
        super().__init__(select, row=row)
        self.key: Literal["mode", "resolution"] = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SettingSelect:
        return cls("mode" if match["key"] == "mode" else "resolution")

    async def callback(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        try:
            gate.check_dms(interaction)
            values = _picked(interaction)
            choices = ("fast", "turbo") if self.key == "mode" else ("480p", "720p")
            if len(values) != 1 or values[0] not in choices:
                await answer(
                    interaction, t(interaction_locale(interaction), "settings.pick_one", choices=", ".join(choices))
                )
                return
            await show_panel(interaction, [(self.key, values[0])], edit=True)
        except Exception as error:
            await answer_error(interaction, error)


class SettingButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE):
    """A toggle of the panel (its custom id holds the value it sets), or Refresh."""

    FIELDS: Final = {"loop": "loop", "dm": "dm_on_done", "private": "private_results", "confirm": "confirm"}

    def __init__(
        self,
        key: str,
        value: str | None,
        *,
        label: str | None = None,
        emoji: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        disabled: bool = False,
    ) -> None:
        custom_id = f"mjset:{key}:{value}" if value else f"mjset:{key}"
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            custom_id=custom_id, label=label, emoji=emoji, style=style, disabled=disabled, row=2
        )
        super().__init__(button)
        self.key = key
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SettingButton:
        return cls(match["key"], match["value"])

    async def callback(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        try:
            gate.check_dms(interaction)
            field = self.FIELDS.get(self.key)
            on = self.value == "on"
            value = ("always" if on else "server") if field == "confirm" else on
            changes: list[Change] = [] if field is None or self.value is None else [(field, value)]
            await show_panel(interaction, changes, edit=True)
        except Exception as error:
            await answer_error(interaction, error)


def _picked(interaction: discord.Interaction[Any]) -> list[str]:
    data: Any = interaction.data or {}
    values = data.get("values") if isinstance(data, dict) else None
    return [str(value) for value in values] if isinstance(values, list) else []


class SettingsCog(commands.Cog):
    """The /settings command and its panel's controls."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        gate.offer_in_dms(self.bot, self.get_app_commands())
        self.bot.add_dynamic_items(SettingSelect, SettingButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SettingSelect, SettingButton)

    async def interaction_check(self, interaction: discord.Interaction[MJBot], /) -> bool:  # type: ignore[override]
        return gate.check_dms(interaction)

    @app_commands.command(
        name="settings", description="Your defaults, DMs when jobs finish, private results, and what you have left"
    )
    @app_commands.describe(
        mode="Default speed for /video and /imagine: fast or turbo",
        resolution="Default video resolution: 720p or 480p",
        loop="Make videos loop by default (ending on their start frame)",
        dm_when_done="Send me a copy of each finished job in my DMs",
        private_results="Show my jobs' messages only to me, where the server allows it",
        confirm_jobs="Ask me to confirm every job (always), or only the jobs this server finds costly (server)",
        presets="List the presets you saved with 💾 on results",
        delete_preset="Delete one of your presets",
    )
    async def settings(
        self,
        interaction: discord.Interaction[MJBot],
        mode: Literal["fast", "turbo"] | None = None,
        resolution: Literal["480p", "720p"] | None = None,
        loop: bool | None = None,
        dm_when_done: bool | None = None,
        private_results: bool | None = None,
        confirm_jobs: Literal["always", "server"] | None = None,
        presets: bool | None = None,
        delete_preset: str | None = None,
    ) -> None:
        given = {
            "mode": mode,
            "resolution": resolution,
            "loop": loop,
            "dm_on_done": dm_when_done,
            "private_results": private_results,
            "confirm": confirm_jobs,
        }
        changes = [(key, value) for key, value in given.items() if value is not None]
        deleted = None
        if delete_preset is not None:
            deleted = await settings_presets.delete_preset(self.bot, interaction.user.id, delete_preset)
        await show_panel(interaction, changes, edit=False)
        if presets or deleted is not None:
            await settings_presets.show_presets(interaction, deleted=deleted)

    @settings.autocomplete("delete_preset")
    async def _preset_choices(
        self, interaction: discord.Interaction[MJBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return await preset_choices(interaction, current)
