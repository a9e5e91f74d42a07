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

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import frames, media
from bot.options import InputError, check_image_url, clean_prompt, imagine_request, video_request
from bot.settings import Limits, UserSettings, load_user_settings
from bot.store import FrameSource, JobMeta, VideoOptions
from cogs import gate, installs, presets
from cogs.context import InteractionContext
from cogs.i18n import SOURCE_LOCALE, t

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog
    from cogs.confirm import Confirmations
    from cogs.delivery import Delivery

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


def input_error(key: str, /, **params: object) -> InputError:
    """An ``InputError`` worded by the language files (the member reads it in their language)."""
    return InputError(t(SOURCE_LOCALE, key, **params), key=key, params=params)


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
        which = "video.start_frame_twice" if attachment_option == "image" else "video.end_frame_twice"
        raise input_error(which, upload=attachment_option, link=url_option)
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
        raise input_error("video.end_twice")
    if ends:
        if not ends[0]:
            raise input_error("video.end_without_link")
        options["end_image_url"] = check_image_url(ends[0], option=END_OPTION)
    sizes = _BATCH.findall(prompt)
    if len(set(sizes)) > 1:
        raise input_error("video.batch_twice")
    if sizes:
        if sizes[0] not in {str(size) for size in BATCH_SIZES}:
            shown = discord.utils.escape_markdown(sizes[0][:20])
            raise input_error("video.batch_bad", value=shown) if shown else input_error("video.batch_missing")
        options["bs"] = int(sizes[0])
    return " ".join(_VIDEO_ONLY.sub(" ", prompt).split())


@dataclass(frozen=True, slots=True)
class VideoChoices:
    """Mode, resolution and loop: as given, or the member's defaults (``/settings``) for what was not given."""

    mode: Literal["fast", "turbo"]
    resolution: Literal["480p", "720p"]
    loop: bool
    loop_given: bool

    @classmethod
    def of(
        cls,
        defaults: UserSettings,
        *,
        mode: Literal["fast", "turbo"] | None,
        resolution: Literal["480p", "720p"] | None,
        loop: bool | None,
        limits: Limits | None = None,
    ) -> VideoChoices:
        """``limits`` are the rules of the place: a default they forbid (turbo, 720p) steps down to what they allow,
        so a member who chose nothing is not refused for their own defaults. A choice the member made is kept,
        and the gate refuses it with the reason."""
        default_mode, default_resolution = defaults.mode, defaults.resolution
        if limits is not None and not limits.allow_turbo:
            default_mode = "fast"
        if limits is not None and not limits.allow_720p:
            default_resolution = "480p"
        return cls(
            mode=mode or default_mode,
            resolution=resolution or default_resolution,
            loop=defaults.loop if loop is None else loop,
            loop_given=loop is not None,
        )

    def without_default_loop(self) -> VideoChoices:
        """An end frame wins over a loop that only came from the member's defaults."""
        if self.loop_given:
            return self
        return VideoChoices(self.mode, self.resolution, loop=False, loop_given=False)


class VideoCog(commands.Cog):
    """The /video command: a confirmation card for a costly job, the gate (whose refusals go to the audit log), then
    Delivery shows the job."""

    def __init__(self, bot: MJBot, *, delivery: Delivery, audit: AuditLog, confirmations: Confirmations) -> None:
        self.bot = bot
        self._delivery = delivery
        self._audit = audit
        self._confirmations = confirmations
        self._links: aiohttp.ClientSession | None = None

    async def cog_load(self) -> None:
        gate.offer_in_dms(self.bot, self.get_app_commands())
        # Members' links get a session of their own, whose resolver refuses the bot's own network, except the
        # services the bot itself reaches there (the sandbox emulator serves its sample frames on loopback).
        self._links = media.link_session(self.bot.services.member_links)

    async def cog_unload(self) -> None:
        if self._links is not None:
            await self._links.close()
            self._links = None

    async def _check_link(self, url: str, option: str) -> None:
        if self._links is None:
            raise RuntimeError("the /video cog is not loaded")
        await media.check_image_url(self._links, url, option=option, private=self.bot.services.member_links)

    async def interaction_check(self, interaction: discord.Interaction[MJBot], /) -> bool:  # type: ignore[override]
        return gate.check_dms(interaction)

    @app_commands.command(name="video", description="Animate an image into short video clips (or start from a prompt)")
    @app_commands.describe(
        prompt="What should happen, e.g. `waves crash on the rocks`; Midjourney parameters like --motion high work",
        image="Start frame: upload a picture (PNG, JPEG, WebP or GIF)",
        image_url="Start frame as a link (http/https) instead of an upload",
        end_image="Last frame: upload a picture the video should end on",
        end_image_url="Last frame as a link (http/https) instead of an upload",
        loop="End on the start frame, so the clip loops (not with an end frame); default: your /settings",
        mode="Speed: fast or turbo (quicker, costs more); default: your /settings",
        resolution="720p or 480p; default: your /settings",
        preset="Start from one of your presets (💾 on a result saves one); the options you give win over it",
    )
    async def video(
        self,
        interaction: discord.Interaction[MJBot],
        prompt: str | None = None,
        image: discord.Attachment | None = None,
        image_url: str | None = None,
        end_image: discord.Attachment | None = None,
        end_image_url: str | None = None,
        loop: bool | None = None,
        mode: Literal["fast", "turbo"] | None = None,
        resolution: Literal["480p", "720p"] | None = None,
        preset: str | None = None,
    ) -> None:
        start_frame = image is not None or bool(image_url)
        chosen = await presets.use_preset(interaction, preset, "video", prompt=prompt, start_frame=start_frame)
        wanted = chosen[1].prompt if chosen is not None else prompt
        if wanted is None:
            raise presets.missing_prompt()
        text = clean_prompt(wanted)
        start = pick_frame(image, image_url, attachment_option="image", url_option="image_url")
        end = pick_frame(end_image, end_image_url, attachment_option="end_image", url_option="end_image_url")
        defaults = await load_user_settings(self.bot.services.store, interaction.user.id)
        place = await gate.scope_settings(self.bot, installs.rules_guild(self.bot, interaction))
        preferred = presets.with_preset_defaults(defaults, chosen[1]) if chosen is not None else defaults
        choices = VideoChoices.of(preferred, mode=mode, resolution=resolution, loop=loop, limits=place.limits)
        if end is not None:
            choices = choices.without_default_loop()
        if choices.loop and end is not None:
            raise input_error("input.loop_and_end")
        if start is None and end is not None:
            raise input_error("video.end_without_start", option=end.option)
        context = InteractionContext(interaction)
        if start is None:
            await self._from_prompt(context, text, choices, defaults)
        else:
            await self._from_frame(context, text, start, end, choices, defaults)
        if chosen is not None:
            await presets.tell_ignored(interaction, *chosen, "video")

    @video.autocomplete("preset")
    async def _preset_choices(
        self, interaction: discord.Interaction[MJBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return await presets.preset_choices(interaction, current)

    async def _from_prompt(
        self,
        context: InteractionContext,
        text: str,
        choices: VideoChoices,
        defaults: UserSettings,
        *,
        confirmed: bool = False,
    ) -> None:
        """No start frame: a grid first, whose Animate buttons make the video with these options. ``confirmed``: the
        member confirmed the job on its card (``context`` is then the Confirm click's)."""
        interaction = context.interaction
        options: dict[str, Any] = {"mode": choices.mode, "resolution": choices.resolution, "loop": choices.loop}
        request = imagine_request(grid_prompt(text, options), mode=choices.mode)
        end_url = options.get("end_image_url")
        if end_url and not choices.loop_given and not _LOOP.search(text):
            options["loop"] = False  # an end frame wins over a loop that only came from the member's defaults
        if options["loop"] and end_url:
            raise input_error("video.loop_and_end_flags")
        meta = JobMeta(video_grid=True, video_options=VideoOptions.from_json(options))
        if not confirmed and await self._confirmations.ask_first(
            context,
            request,
            then=lambda again: self._from_prompt(again, text, choices, defaults, confirmed=True),
            kind="/video",
            user=defaults,
            meta=meta,
            video_options=meta.video_options,
        ):
            return
        async with gate.admitted(
            self.bot,
            interaction,
            request,
            audit=self._audit,
            kind="/video",
            user=defaults,
            video_options=meta.video_options,
        ) as admission:
            await context.defer_job(private=admission.private)
            if end_url:
                await self._check_link(end_url, END_OPTION)
            job_id = await gate.submit(
                self.bot,
                admission,
                request,
                user_id=interaction.user.id,
                guild_id=admission.guild_id,  # whose rules admitted it (None: the [dms] limits)
                channel_id=interaction.channel_id,
                meta=meta,
                locale=context.locale,
            )
        await self._show(context, job_id)

    async def _from_frame(
        self,
        context: InteractionContext,
        text: str,
        start: Frame,
        end: Frame | None,
        choices: VideoChoices,
        defaults: UserSettings,
        *,
        confirmed: bool = False,
    ) -> None:
        interaction = context.interaction
        options: dict[str, Any] = {"mode": choices.mode, "resolution": choices.resolution, "loop": choices.loop}
        request = video_request(
            text,
            start.url,
            end_image_url=end.url if end is not None else None,
            loop=choices.loop,
            mode=choices.mode,
            resolution=choices.resolution,
        )
        meta = frames.with_frames(JobMeta(video_options=VideoOptions.from_json(options)), _uploads(start, end))
        if not confirmed and await self._confirmations.ask_first(
            context,
            request,
            then=lambda again: self._from_frame(again, text, start, end, choices, defaults, confirmed=True),
            kind="/video",
            user=defaults,
            meta=meta,
        ):
            return
        async with gate.admitted(
            self.bot, interaction, request, audit=self._audit, kind="/video", user=defaults
        ) as admission:
            await context.defer_job(private=admission.private)
            for frame in (start, end):
                if frame is not None and frame.is_link:
                    await self._check_link(frame.url, frame.option)
            job_id = await gate.submit(
                self.bot,
                admission,
                request,
                user_id=interaction.user.id,
                guild_id=admission.guild_id,  # whose rules admitted it (None: the [dms] limits)
                channel_id=interaction.channel_id,
                meta=meta,
                locale=context.locale,
            )
        await self._show(context, job_id)

    async def _show(self, context: InteractionContext, job_id: str) -> None:
        interaction = context.interaction
        log.info("job %s: /video by user %s in guild %s", job_id, interaction.user.id, interaction.guild_id)
        await self._delivery.show_from_interaction(job_id, context)


def _uploads(start: Frame, end: Frame | None) -> dict[str, FrameSource]:
    """The sources of uploaded frames: they live on the interaction only, so the job's messages keep a copy."""
    return frames.uploaded(
        image_url=None if start.is_link else start.url,
        end_image_url=None if end is None or end.is_link else end.url,
    )
