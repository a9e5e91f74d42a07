"""The audit log: submits, refusals, cancels and settings changes, posted in a server's audit channel.

``AuditLog.post`` is the one way in, for the cogs (the gate's refusals, /admin's changes) and for the
job events this cog follows itself (a job submitted, cancelled, or refused by the API). An audit post
never breaks what its caller was doing: a channel that is gone or closed to the bot costs one WARNING
(per server and channel) until a post gets through again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.costs import cost_of
from bot.jobs import JobEvent, JobEventType
from bot.jobs.incidents import Incident
from bot.settings import load_guild_settings
from bot.store.models import Job
from bot.text import shorten
from cogs.i18n import LocaleLike, Msg, Phrase, audit_locale, catalog, t
from cogs.ui import job_title
from cogs.ui.render import fit_escaped

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

NO_MENTIONS: Final = discord.AllowedMentions.none()
#: Error codes of a job the API refused outright (nothing ran), as opposed to a task that failed while running.
REFUSAL_CODES: Final = frozenset(
    {
        "bad_request",
        "forbidden",
        "insufficient_balance",
        "invalid_token",
        "not_submitted",
        "too_many_requests",
    }
)
PROMPT_CHARS: Final = 200
MESSAGE_CHARS: Final = 500
#: How long unloading waits for posts under way.
STOP_WAIT_S: Final = 5.0

COLOURS: Final[dict[str, discord.Colour]] = {
    "incident": discord.Colour.orange(),
    "incident_end": discord.Colour.green(),
    "submit": discord.Colour.blurple(),
    "cancel": discord.Colour.light_grey(),
    "refusal": discord.Colour.red(),
    "settings": discord.Colour.gold(),
}


def audit_embed(
    kind: str, *, actor_id: int | None, job_id: str | None, text: str, at: float, locale: LocaleLike = None
) -> discord.Embed:
    """One audit post: what happened, who did it (a mention, which never pings in an embed), the job, when."""
    title_key = f"audit.title.{kind}"
    embed = discord.Embed(
        title=t(locale, title_key) if catalog().has(title_key) else kind.capitalize(),
        description=shorten(text, 4096),
        colour=COLOURS.get(kind, discord.Colour.dark_grey()),
        timestamp=dt.datetime.fromtimestamp(at, tz=dt.UTC),
    )
    if actor_id is not None:
        embed.add_field(name=t(locale, "audit.field_member"), value=f"<@{actor_id}>", inline=True)
    if job_id is not None:
        embed.add_field(name=t(locale, "audit.field_job"), value=f"`{job_id}`", inline=True)
    embed.set_footer(text=kind)
    return embed


def _prompt(job: Job, locale: LocaleLike) -> str:
    return fit_escaped(job.prompt, PROMPT_CHARS) if job.prompt.strip() else t(locale, "audit.no_prompt")


class AuditLog(commands.Cog):
    """Posts audit entries in each server's audit channel (given to the cogs that post, when they are built)."""

    def __init__(self, bot: MJBot, *, clock: Callable[[], float] = time.time) -> None:
        self.bot = bot
        self._clock = clock
        #: (server, channel) whose failure was logged; cleared when a post there gets through.
        self._warned: set[tuple[int, int]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_health: Callable[[], None] | None = None
        self._pending: set[asyncio.Task[bool]] = set()

    async def cog_load(self) -> None:
        engine = self.bot.services.engine
        self._unsubscribe = engine.subscribe(self._on_job_event)
        self._unsubscribe_health = engine.api_health.subscribe(self._on_incident)

    async def cog_unload(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unsubscribe_health is not None:
            self._unsubscribe_health()
            self._unsubscribe_health = None
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=STOP_WAIT_S)

    def post_soon(
        self, guild_id: int | None, kind: str, *, actor_id: int | None, job_id: str | None = None, text: str | Phrase
    ) -> None:
        """``post`` without waiting for it: for a refusal, whose answer must not wait for the audit channel."""
        task = asyncio.get_running_loop().create_task(
            self.post(guild_id, kind, actor_id=actor_id, job_id=job_id, text=text), name=f"audit-{kind}"
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def post(
        self,
        guild_id: int | None,
        kind: str,
        *,
        actor_id: int | None,
        job_id: str | None = None,
        text: str | Phrase,
        channel_id: int | None = None,
    ) -> bool:
        """Post an entry in the server's audit channel (or in ``channel_id``, such as the channel it moved from).

        The entry is worded in the server's language (a ``Phrase`` text too).

        Returns False when the server has no audit channel or the post failed; never raises.
        """
        if guild_id is None:
            return False
        try:
            return await self._post(guild_id, kind, actor_id=actor_id, job_id=job_id, text=text, channel_id=channel_id)
        except Exception:
            log.exception("guild %s: could not post a %s entry (job %s) in the audit log", guild_id, kind, job_id)
            return False

    async def _post(
        self,
        guild_id: int,
        kind: str,
        *,
        actor_id: int | None,
        job_id: str | None,
        text: str | Phrase,
        channel_id: int | None,
    ) -> bool:
        if channel_id is None:
            channel_id = (await load_guild_settings(self.bot.services.store, guild_id)).audit_channel
        if channel_id is None:
            return False
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        locale = audit_locale(self.bot, guild_id)
        words = text.render(locale) if isinstance(text, Phrase) else text
        embed = audit_embed(kind, actor_id=actor_id, job_id=job_id, text=words, at=self._clock(), locale=locale)
        try:
            await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            self._warn(guild_id, channel_id, exc)
            return False
        self._warned.discard((guild_id, channel_id))
        return True

    def _warn(self, guild_id: int, channel_id: int, exc: discord.HTTPException) -> None:
        if (guild_id, channel_id) in self._warned:
            return
        self._warned.add((guild_id, channel_id))
        if isinstance(exc, discord.NotFound):
            problem = "no longer exists"
        elif isinstance(exc, discord.Forbidden):
            problem = "does not let the bot post (it needs View Channel, Send Messages and Embed Links)"
        else:
            problem = f"refused the post ({exc.status} {exc.text or ''})".rstrip()
        log.warning(
            "guild %s: the audit-log channel %s %s; audit posts are dropped until it works (/admin audit-channel)",
            guild_id,
            channel_id,
            problem,
        )

    # -- provider incidents -----------------------------------------------------------------------------

    def _on_incident(self, incident: Incident) -> None:
        """One post in every server of this process when an incident starts, and one when it ends."""
        kind = "incident_end" if incident.ended_at is not None else "incident"
        for guild in self.bot.guilds:
            self.post_soon(guild.id, kind, actor_id=None, text=incident_text(incident))

    # -- job events -------------------------------------------------------------------------------------

    async def _on_job_event(self, event: JobEvent) -> None:
        job = event.job
        if job.guild_id is None:
            return
        locale = audit_locale(self.bot, job.guild_id)
        if event.type is JobEventType.SUBMITTED:
            text = submit_text(job, cost_of(job.kind.value, job.params), locale=locale)
            await self.post(job.guild_id, "submit", actor_id=job.user_id, job_id=job.id, text=text)
        elif event.type is JobEventType.CANCELLED:
            text = cancel_text(job, locale=locale)
            await self.post(job.guild_id, "cancel", actor_id=job.user_id, job_id=job.id, text=text)
        elif event.type is JobEventType.FAILED and is_refusal(job):
            text = refusal_text(job, locale=locale)
            await self.post(job.guild_id, "refusal", actor_id=job.user_id, job_id=job.id, text=text)


def incident_text(incident: Incident) -> Phrase:
    """What an incident post says: new jobs paused (and why), or resumed after how long."""
    if incident.ended_at is not None:
        minutes = max(1, round((incident.ended_at - incident.started_at) / 60))
        return Msg("audit.incident_end", {"minutes": minutes})
    return Msg("audit.incident", {"reason": shorten(incident.reason, MESSAGE_CHARS)})


def is_refusal(job: Job) -> bool:
    """Did the API refuse the job outright (moderation, a bad request, no credit...), rather than fail it later?"""
    return job.error_code in REFUSAL_CODES


def submit_text(job: Job, units: float | None = None, *, locale: LocaleLike = None) -> str:
    text = t(locale, "audit.submit", title=job_title(job, locale), prompt=_prompt(job, locale))
    if units is None:
        return text
    return text + "\n" + t(locale, "audit.cost_one" if units == 1 else "audit.cost_other", units=f"{units:g}")


def cancel_text(job: Job, *, locale: LocaleLike = None) -> str:
    return t(locale, "audit.cancel", title=job_title(job, locale), reason=_api_text(job.error_message, locale))


def refusal_text(job: Job, *, locale: LocaleLike = None) -> str:
    message = _api_text(job.error_message, locale)
    return t(locale, "audit.refusal", title=job_title(job, locale), code=job.error_code, message=message)


def _api_text(text: str | None, locale: LocaleLike) -> str:
    """A stored error message or cancel reason, shown as written (it may quote a prompt or a member's name)."""
    return fit_escaped(text.strip(), MESSAGE_CHARS) if text and text.strip() else t(locale, "audit.no_reason")
