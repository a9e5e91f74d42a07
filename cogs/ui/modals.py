"""Modals: the manual extend (rewrite the motion prompt, pick the clip), as Midjourney's Remix does.

discord.py keeps an opened modal in memory only, so a modal opened before a restart would be dropped
when it is submitted after it. Its custom id (``mj:extm:<job>:<user>``) holds all a submission needs, so
every submission is taken one way, whether or not this process opened the modal: by ``extend_submission``,
from the ``on_interaction`` listener of ``FollowUps``. The live ``ExtendModal`` only shows the form, so a
submission never runs twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import discord

from bot.acedata.models import GRID_SIZE
from bot.options import MAX_PROMPT_CHARS
from bot.store.models import Job
from bot.text import shorten
from cogs.common import FollowUp, FollowUpKind
from cogs.errors import answer, answer_error
from cogs.i18n import LocaleLike, interaction_locale, t
from cogs.ui.components import FollowUpRunner

if TYPE_CHECKING:
    from bot.bot import MJBot

#: How long discord.py keeps an opened modal in memory (a submission after that is taken all the same).
MODAL_TIMEOUT_S: Final = 30 * 60.0
PROMPT_FIELD: Final = "prompt"
CLIP_FIELD: Final = "clip"


def extend_modal_id(job_id: str, user_id: int | None = None) -> str:
    """``mj:extm:<job>[:<user>]``; the member's id keeps two members' modals on one job apart."""
    return f"mj:{FollowUpKind.EXTEND_MANUAL.value}:{job_id}" + (f":{user_id}" if user_id is not None else "")


class ExtendModal(discord.ui.Modal):
    """The "Extend a clip" modal: the prompt (prefilled with the job's) and the clip to extend, 1 to 4."""

    def __init__(
        self,
        job: Job,
        *,
        user_id: int | None = None,
        timeout: float | None = MODAL_TIMEOUT_S,
        locale: LocaleLike = None,
    ) -> None:
        title = t(locale, "modal.extend_title")
        super().__init__(title=title, timeout=timeout, custom_id=extend_modal_id(job.id, user_id))
        self.job_id = job.id
        self.prompt: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
            label=t(locale, "modal.prompt_label"),
            custom_id=PROMPT_FIELD,
            style=discord.TextStyle.paragraph,
            default=job.prompt[:MAX_PROMPT_CHARS] or None,
            placeholder=t(locale, "modal.prompt_placeholder"),
            max_length=MAX_PROMPT_CHARS,
            required=True,
        )
        self.clip: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
            label=t(locale, "modal.clip_label", limit=GRID_SIZE),
            custom_id=CLIP_FIELD,
            default="1",
            placeholder=t(locale, "modal.clip_placeholder", limit=GRID_SIZE),
            min_length=1,
            max_length=3,
            required=True,
        )
        self.add_item(self.prompt)
        self.add_item(self.clip)


async def submit_extend(
    interaction: discord.Interaction[MJBot], runner: FollowUpRunner, job_id: str, *, prompt: str, clip: str
) -> None:
    """What a submitted extend modal does: check the clip, then the extend follow-up with the new prompt."""
    clip = clip.strip()
    if clip not in {str(index) for index in range(1, GRID_SIZE + 1)}:
        shown = discord.utils.escape_markdown(discord.utils.escape_mentions(shorten(clip, 20)))
        locale = interaction_locale(interaction)
        if shown:
            text = t(locale, "modal.no_such_clip", clip=shown, limit=GRID_SIZE)
        else:
            text = t(locale, "modal.no_such_clip_empty", limit=GRID_SIZE)
        await answer(interaction, text)
        return
    follow_up = FollowUp(FollowUpKind.EXTEND, job_id, arg=clip, prompt=prompt.strip())
    await runner.run(interaction, follow_up)


async def extend_submission(interaction: discord.Interaction[MJBot], runner: FollowUpRunner) -> bool:
    """Run an extend modal's submission with ``runner``: opened by this process or before a restart.

    Returns False, doing nothing, for any other interaction.
    """
    if interaction.type is not discord.InteractionType.modal_submit:
        return False
    data: Mapping[str, Any] = interaction.data or {}
    follow_up = FollowUp.parse(str(data.get("custom_id") or ""))
    if follow_up is None or follow_up.kind is not FollowUpKind.EXTEND_MANUAL:
        return False
    values = submitted_values(data.get("components") or ())
    try:
        await submit_extend(
            interaction, runner, follow_up.job_id, prompt=values.get(PROMPT_FIELD, ""), clip=values.get(CLIP_FIELD, "")
        )
    except Exception as error:
        await answer_error(interaction, error, job_id=follow_up.job_id)
    return True


def submitted_values(components: Iterable[Any]) -> dict[str, str]:
    """Text input values by custom id, from a submission's components (action rows or labels)."""
    values: dict[str, str] = {}
    pending = list(components)
    while pending:
        item = pending.pop()
        if not isinstance(item, Mapping):
            continue
        custom_id, value = item.get("custom_id"), item.get("value")
        if isinstance(custom_id, str) and isinstance(value, str):
            values[custom_id] = value
        children = item.get("components")
        if isinstance(children, list):
            pending.extend(children)
        child = item.get("component")
        if isinstance(child, Mapping):
            pending.append(child)
    return values
