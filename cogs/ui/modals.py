"""Modals: the manual extend (rewrite the motion prompt, pick the clip), as Midjourney's Remix does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import discord

from bot.options import CLIPS_PER_VIDEO, MAX_PROMPT_CHARS
from bot.store.models import Job
from bot.text import shorten
from cogs.common import FollowUp, FollowUpKind
from cogs.errors import answer, answer_error

if TYPE_CHECKING:
    from bot.bot import MJBot

#: How long an opened modal waits for its submission before it is forgotten.
MODAL_TIMEOUT_S: Final = 30 * 60.0


def extend_modal_id(job_id: str, user_id: int | None = None) -> str:
    """``mj:extm:<job>[:<user>]``; the member's id keeps two members' modals on one job apart."""
    return f"mj:{FollowUpKind.EXTEND_MANUAL.value}:{job_id}" + (f":{user_id}" if user_id is not None else "")


class ExtendModal(discord.ui.Modal):
    """The "Extend a clip" modal: the prompt (prefilled with the job's) and the clip to extend, 1 to 4."""

    def __init__(self, job: Job, *, user_id: int | None = None, timeout: float | None = MODAL_TIMEOUT_S) -> None:
        super().__init__(title="Extend a clip", timeout=timeout, custom_id=extend_modal_id(job.id, user_id))
        self.job_id = job.id
        self.prompt: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
            label="Prompt",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=job.prompt[:MAX_PROMPT_CHARS] or None,
            placeholder="What should happen next in the clip",
            max_length=MAX_PROMPT_CHARS,
            required=True,
        )
        self.clip: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
            label=f"Clip (1-{CLIPS_PER_VIDEO})",
            custom_id="clip",
            default="1",
            placeholder=f"1 to {CLIPS_PER_VIDEO}",
            min_length=1,
            max_length=3,
            required=True,
        )
        self.add_item(self.prompt)
        self.add_item(self.clip)

    async def on_submit(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        prompt = self.prompt.value.strip()
        clip = self.clip.value.strip()
        if clip not in {str(index) for index in range(1, CLIPS_PER_VIDEO + 1)}:
            shown = discord.utils.escape_markdown(discord.utils.escape_mentions(shorten(clip, 20))) or "nothing"
            await answer(
                interaction,
                f"There is no clip {shown}: pick a clip from 1 to {CLIPS_PER_VIDEO}, then press ✏️ Extend… again.",
            )
            return
        follow_up = FollowUp(FollowUpKind.EXTEND, self.job_id, arg=clip, prompt=prompt)
        await interaction.client.followups.run(interaction, follow_up)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await answer_error(interaction, error, job_id=self.job_id)
