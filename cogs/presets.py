"""Presets on Discord: 💾 Save on a result (a modal asks the name), the 💾 reaction, and the ``preset`` option of
/video and /imagine (autocompleted from the member's own presets).

What a preset holds, how it is made from a job and what it gives a command are ``bot.presets``' rules; this module
asks and answers. The Save modal's custom id (``mj:save:<job>:<user>``) holds all its submission needs, so a modal
opened before a restart is saved all the same (``save_submission``, from the ``on_interaction`` listener of
``FollowUps``). Saving copies settings into the saver's own presets, and never a frame.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands

from bot.presets import (
    MAX_NAME_CHARS,
    MAX_PRESETS,
    Applied,
    Command,
    Ignored,
    Preset,
    PresetError,
    apply_preset,
    clean_name,
    default_name,
    find,
    preset_of,
    savable,
    unknown,
    with_preset,
)
from bot.settings import UserSettings, load_user_settings, update_user_settings
from bot.store import Store
from bot.store.models import Job
from bot.text import shorten
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.errors import answer, answer_error
from cogs.i18n import LocaleLike, interaction_locale, msg, t
from cogs.policy import may_save
from cogs.ui.modals import MODAL_TIMEOUT_S, submitted_values
from cogs.ui.render import escape_user_text

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

NAME_FIELD: Final = "name"
#: Discord shows at most 25 autocomplete choices, of at most 100 characters.
MAX_CHOICES: Final = 25
CHOICE_CHARS: Final = 100
SOURCE_EMOJI: Final[Mapping[Command, str]] = {"video": "🎬", "imagine": "🖼️"}


def save_modal_id(job_id: str, user_id: int) -> str:
    """``mj:save:<job>:<user>``: the member's id keeps two members' modals on one job apart."""
    return f"mj:{FollowUpKind.SAVE.value}:{job_id}:{user_id}"


def refused(error: PresetError) -> UserFacingError:
    """A preset's refusal as the member reads it, in their language."""
    return UserFacingError(msg(error.key, **error.params))


class SaveModal(discord.ui.Modal):
    """ "Save as a preset": its name, prefilled with the result's first words."""

    def __init__(self, job: Job, *, user_id: int, locale: LocaleLike = None) -> None:
        super().__init__(
            title=t(locale, "presets.modal_title"), timeout=MODAL_TIMEOUT_S, custom_id=save_modal_id(job.id, user_id)
        )
        self.name: discord.ui.TextInput[SaveModal] = discord.ui.TextInput(
            label=t(locale, "presets.modal_name", limit=MAX_NAME_CHARS),
            custom_id=NAME_FIELD,
            default=default_name(job),
            placeholder=t(locale, "presets.modal_placeholder"),
            min_length=1,
            max_length=MAX_NAME_CHARS,
            required=True,
        )
        self.add_item(self.name)


def save_modal(job: Job, *, user_id: int, locale: LocaleLike) -> SaveModal:
    """The modal 💾 Save opens; UserFacingError when the result has no settings to save."""
    if not savable(job):
        raise UserFacingError(msg("presets.not_savable", job=job.id))
    return SaveModal(job, user_id=user_id, locale=locale)


async def save_preset(store: Store, user_id: int, job: Job, name: str, locale: LocaleLike) -> str:
    """Save ``job``'s settings as ``user_id``'s preset ``name``; what to tell them. UserFacingError for a bad name,
    a result without settings, or a member at ``MAX_PRESETS``."""
    try:
        clean = clean_name(name)
    except PresetError as error:
        raise refused(error) from None
    preset = preset_of(job, clean) if savable(job) else None
    if preset is None:
        raise UserFacingError(msg("presets.not_savable", job=job.id))
    replaced = False

    def change(settings: UserSettings) -> UserSettings:
        nonlocal replaced
        presets, replaced = with_preset(settings.presets, preset)
        return _with_presets(settings, presets)

    try:
        await update_user_settings(store, user_id, change)
    except PresetError as error:
        raise refused(error) from None
    log.info("user %s saved the settings of job %s as a preset (replaced: %s)", user_id, job.id, replaced)
    key = "presets.replaced" if replaced else "presets.saved"
    return t(locale, key, name=escape_user_text(clean), job=job.id, command=preset.source)


def _with_presets(settings: UserSettings, presets: tuple[Preset, ...]) -> UserSettings:
    return dataclasses.replace(settings, presets=presets)


async def save_submission(interaction: discord.Interaction[MJBot]) -> bool:
    """Save the preset a submitted Save modal names (opened by this process or before a restart).

    Returns False, doing nothing, for any other interaction.
    """
    if interaction.type is not discord.InteractionType.modal_submit:
        return False
    data: Mapping[str, Any] = interaction.data or {}
    follow_up = FollowUp.parse(str(data.get("custom_id") or ""))
    if follow_up is None or follow_up.kind is not FollowUpKind.SAVE:
        return False
    try:
        store = interaction.client.services.store
        job = await store.jobs.get_job(follow_up.job_id)
        if job is None:
            raise UserFacingError(msg("errors.job_gone"))
        decision = may_save(job, user_id=interaction.user.id, guild_id=interaction.guild_id)
        if not decision.allowed:
            raise UserFacingError(decision.message or msg("actions.cannot_act"))
        name = submitted_values(data.get("components") or ()).get(NAME_FIELD, "")
        locale = interaction_locale(interaction)
        await answer(interaction, await save_preset(store, interaction.user.id, job, name, locale))
    except Exception as error:
        await answer_error(interaction, error, job_id=follow_up.job_id)
    return True


async def save_by_reaction(store: Store, job: Job, user_id: int, locale: LocaleLike) -> str:
    """💾 on a result: its settings saved under its first words (the button's modal asks the name instead)."""
    return await save_preset(store, user_id, job, default_name(job), locale)


# -- using a preset ---------------------------------------------------------------------------------------------


def choice_label(preset: Preset) -> str:
    """How a preset reads in the autocomplete list: ``🎬 kite · a kite rises --motion low``."""
    label = f"{SOURCE_EMOJI[preset.source]} {preset.name}"
    shown = preset.full_prompt
    return shorten(f"{label} · {shown}", CHOICE_CHARS) if shown else label


async def preset_choices(interaction: discord.Interaction[MJBot], current: str) -> list[app_commands.Choice[str]]:
    """The member's own presets whose name holds what they typed so far (at most 25)."""
    settings = await load_user_settings(interaction.client.services.store, interaction.user.id)
    wanted = " ".join(current.split()).casefold()
    return [
        app_commands.Choice(name=choice_label(preset), value=preset.name)
        for preset in settings.presets
        if wanted in preset.name.casefold()
    ][:MAX_CHOICES]


async def chosen_preset(store: Store, user_id: int, name: str) -> Preset:
    """The member's preset ``name``; UserFacingError naming it when they have none of that name."""
    found = find((await load_user_settings(store, user_id)).presets, name)
    if found is None:
        raise refused(unknown(name))
    return found


def with_preset_defaults(defaults: UserSettings, applied: Applied) -> UserSettings:
    """The member's defaults with the preset's video settings over them: an option given still wins over both."""
    mode = "turbo" if applied.mode == "turbo" else "fast" if applied.mode == "fast" else defaults.mode
    return dataclasses.replace(
        defaults,
        mode=mode,
        resolution=applied.resolution or defaults.resolution,
        loop=defaults.loop if applied.loop is None else applied.loop,
    )


def missing_prompt() -> UserFacingError:
    return UserFacingError(msg("presets.no_prompt"))


def ignored_note(preset: Preset, applied: Applied, command: Command, locale: LocaleLike) -> str | None:
    """What of ``preset`` the command did not use, in the member's words; None when it used everything."""
    if not applied.ignored:
        return None
    parts = t(locale, "presets.list_separator").join(_ignored(item, locale) for item in applied.ignored)
    return t(locale, "presets.ignored", name=escape_user_text(preset.name), command=command, parts=parts)


def _ignored(item: Ignored, locale: LocaleLike) -> str:
    if item.kind == "parameter":
        return f"`{item.value}`" if "`" not in item.value else escape_user_text(item.value)
    return t(locale, f"presets.ignored_{item.kind}", value=item.value)


async def use_preset(
    interaction: discord.Interaction[MJBot],
    name: str | None,
    command: Command,
    *,
    prompt: str | None,
    start_frame: bool = False,
) -> tuple[Preset, Applied] | None:
    """The member's preset ``name`` for ``command``, under the prompt they gave (see ``bot.presets.apply_preset``);
    None when they named none. UserFacingError when they have no preset of that name."""
    if name is None:
        return None
    preset = await chosen_preset(interaction.client.services.store, interaction.user.id, name)
    return preset, apply_preset(preset, command, prompt=prompt, start_frame=start_frame)


async def tell_ignored(
    interaction: discord.Interaction[MJBot], preset: Preset, applied: Applied, command: Command
) -> None:
    """Tell the member, after their job is shown, what of the preset the command did not use."""
    note = ignored_note(preset, applied, command, interaction_locale(interaction))
    if note is not None:
        await answer(interaction, note)


__all__ = [
    "MAX_PRESETS",
    "SaveModal",
    "choice_label",
    "chosen_preset",
    "ignored_note",
    "missing_prompt",
    "preset_choices",
    "save_by_reaction",
    "save_modal",
    "save_modal_id",
    "save_preset",
    "save_submission",
    "tell_ignored",
    "use_preset",
    "with_preset_defaults",
]
