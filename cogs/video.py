"""/video: animate a start frame (an attachment or a link), or make a grid to animate from a prompt.

Every check that costs nothing runs before the interaction is acknowledged; the link check needs the
network, so it runs after the "thinking..." acknowledgement, and a failure there removes that message
and answers ephemerally. No credit is spent until every check has passed.

Without a start frame, the prompt first makes an image grid; the video-only parameters in it wait in
the grid's ``video_options`` for the Animate step: ``--motion`` and ``--loop``, ``--end <link>`` (the end
frame, checked as the ``end_image_url`` option is) and ``--bs 1|2|4`` (how many clips, put back into the
video's prompt).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import media
from bot.options import InputError, check_image_url, clean_prompt, imagine_request, video_request
from cogs.errors import defer_public, placeholder_used

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: Parameters only the video step understands; taken out of the prompt of the grid made first.
_VIDEO_ONLY = re.compile(r"(?:^|\s)--(?:motion|bs|end)\s+\S+|(?:^|\s)--(?:loop|video)(?=\s|$)", re.IGNORECASE)
_MOTION = re.compile(r"--motion\s+(low|high)\b", re.IGNORECASE)
_LOOP = re.compile(r"(?:^|\s)--loop(?=\s|$)", re.IGNORECASE)
#: ``--end <link>`` and ``--bs <n>``; the value is empty when the parameter has none.
_END = re.compile(r"(?:^|\s)--end(?=\s|$)(?:\s+(?!--)(\S+))?", re.IGNORECASE)
_BATCH = re.compile(r"(?:^|\s)--bs(?=\s|$)(?:\s+(?!--)(\S+))?", re.IGNORECASE)
#: The clip counts Midjourney makes per video (``--bs``); 4 when not given.
BATCH_SIZES: Final = (1, 2, 4)
END_OPTION: Final = "--end"
DEFAULT_MODE: Final = "fast"
DEFAULT_RESOLUTION: Final = "720p"


@dataclass(frozen=True, slots=True)
class Frame:
    """A start or end frame: where it is, and whether it still needs the network check (a link)."""

    url: str
    option: str
    is_link: bool


def pick_frame(
    attachment: discord.Attachment | None, url: str | None, *, attachment_option: str, url_option: str
) -> Frame | None:
    """One frame from an attachment or a link option, checked as far as possible without the network."""
    if attachment is not None and url:
        raise InputError(
            f"Give the {'start' if attachment_option == 'image' else 'end'} frame once: "
            f"either `{attachment_option}` (an upload) or `{url_option}` (a link), not both."
        )
    if attachment is not None:
        checked = media.check_attachment(
            attachment.url, attachment.content_type, attachment.size, option=attachment_option
        )
        return Frame(checked.url, attachment_option, is_link=False)
    if url:
        return Frame(check_image_url(url, option=url_option), url_option, is_link=True)
    return None


def grid_prompt(prompt: str, options: dict[str, Any]) -> str:
    """The prompt for the image grid, without the video-only parameters; ``--motion``, ``--loop``, ``--end`` (as
    ``end_image_url``) and ``--bs`` (as ``bs``) are moved into ``options``, for the video made from the grid later.

    Raises InputError for an ``--end`` that is not a link or a ``--bs`` that is not 1, 2 or 4.
    """
    motion = _MOTION.search(prompt)
    if motion:
        options["motion"] = motion[1].lower()
    if _LOOP.search(prompt):
        options["loop"] = True
    ends = _END.findall(prompt)
    if len(ends) > 1:
        raise InputError("Give `--end` once: the one picture the video should end on.")
    if ends:
        if not ends[0]:
            raise InputError("`--end` needs a link to the last frame, e.g. `--end https://example.com/last.png`.")
        options["end_image_url"] = check_image_url(ends[0], option=END_OPTION)
    sizes = _BATCH.findall(prompt)
    if len(set(sizes)) > 1:
        raise InputError("Give `--bs` once: how many clips to make, 1, 2 or 4.")
    if sizes:
        if sizes[0] not in {str(size) for size in BATCH_SIZES}:
            shown = discord.utils.escape_markdown(sizes[0][:20]) or "nothing"
            raise InputError(f"`--bs` is how many clips to make: 1, 2 or 4, not {shown}.")
        options["bs"] = int(sizes[0])
    return " ".join(_VIDEO_ONLY.sub(" ", prompt).split())


class VideoCog(commands.Cog):
    """The /video command."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @app_commands.command(name="video", description="Animate an image into short video clips (or start from a prompt)")
    @app_commands.describe(
        prompt="What should happen, e.g. `waves crash on the rocks`; Midjourney parameters like --motion high work",
        image="Start frame: upload a picture (PNG, JPEG, WebP or GIF)",
        image_url="Start frame as a link (http/https) instead of an upload",
        end_image="Last frame: upload a picture the video should end on",
        end_image_url="Last frame as a link (http/https) instead of an upload",
        loop="End on the start frame, so the clip loops (not with an end frame)",
        mode="Speed: fast (default) or turbo (quicker, costs more)",
        resolution="720p (default) or 480p",
    )
    async def video(
        self,
        interaction: discord.Interaction[MJBot],
        prompt: str,
        image: discord.Attachment | None = None,
        image_url: str | None = None,
        end_image: discord.Attachment | None = None,
        end_image_url: str | None = None,
        loop: bool = False,
        mode: Literal["fast", "turbo"] = DEFAULT_MODE,
        resolution: Literal["480p", "720p"] = DEFAULT_RESOLUTION,
    ) -> None:
        text = clean_prompt(prompt)
        start = pick_frame(image, image_url, attachment_option="image", url_option="image_url")
        end = pick_frame(end_image, end_image_url, attachment_option="end_image", url_option="end_image_url")
        if loop and end is not None:
            raise InputError(
                "`loop` and an end frame can't be combined: a loop ends on its start frame. Drop one of them."
            )
        if start is None and end is not None:
            raise InputError(
                f"`{end.option}` needs a start frame too: add `image` or `image_url`, "
                "or leave out the end frame to start from a prompt."
            )
        options: dict[str, Any] = {"mode": mode, "resolution": resolution, "loop": loop}
        if start is None:
            request = imagine_request(grid_prompt(text, options), mode=mode)
            end_url = options.get("end_image_url")
            if options["loop"] and end_url:
                raise InputError(
                    "`--loop` and `--end` can't be combined: a loop ends on its start frame. Drop one of them."
                )
            meta: dict[str, Any] = {"video_grid": True, "video_options": options}
            await defer_public(interaction)
            if end_url:
                await media.check_image_url(self.bot.services.session, end_url, option=END_OPTION)
            job_id = await self.bot.services.engine.submit(
                request,
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                meta=meta,
            )
        else:
            request_video = video_request(
                text,
                start.url,
                end_image_url=end.url if end is not None else None,
                loop=loop,
                mode=mode,
                resolution=resolution,
            )
            await defer_public(interaction)
            session = self.bot.services.session
            for frame in (start, end):
                if frame is not None and frame.is_link:
                    await media.check_image_url(session, frame.url, option=frame.option)
            job_id = await self.bot.services.engine.submit(
                request_video,
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                meta={"video_options": options},
            )
        log.info("job %s: /video by user %s in guild %s", job_id, interaction.user.id, interaction.guild_id)
        placeholder_used(interaction)
        await self.bot.delivery.show_from_interaction(job_id, interaction)


async def setup(bot: MJBot) -> None:
    await bot.add_cog(VideoCog(bot))
