"""The gate every job passes before the API hears of it: /video, /imagine, and each follow-up that submits.

Checks, in this order, and the first that fails answers: direct messages allowed (``[dms] enabled``), the bot
owner's block on the member (``mjbot users block``), the channel allow list of the server where the member
asks, then the rules of the job's scope: a block on the member, the word filter, turbo and 720p allowed, and
the quotas (``bot.quota``: a daily limit refuses, the running-jobs limit queues). A refusal is an ephemeral
answer the member can act on, and a post in the server's audit log.

The scope is the server a new job is charged to (``bot.scopes``): where a command is used, but for a follow-up
(a button, a reaction, the extend modal) the server of the job it continues, wherever the click happens; a
click on a DM copy of a server's job is that server's business. Jobs made in direct messages follow the
operator's ``[dms]`` limits.

``admitted`` runs the checks under the store's lock on the member (and on the server, when it has a daily budget
that its members share), held until the job is written to the store: two commands sent at once cannot both slip
under a limit, even when they reach two processes of the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import discord
from discord import app_commands

from bot import quota
from bot.acedata.models import ApiRequest
from bot.quota import Limit, QuotaDecision, Verdict
from bot.scopes import dm_settings, global_block
from bot.settings import (
    BlockEntry,
    GuildSettings,
    UserSettings,
    load_guild_settings,
    load_user_settings,
    match_filter,
)
from bot.store import JobMeta, QueueState, VideoOptions
from bot.store.models import Job
from cogs import installs
from cogs.common import UserFacingError
from cogs.i18n import Listing, Msg, msg, with_locale
from cogs.installs import command_contexts, command_installs
from cogs.limits import decision_message

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog

log = logging.getLogger(__name__)

#: Wall-clock time for the daily limits (UTC days); tests move it past midnight.
clock: Callable[[], float] = time.time

#: How long a command waits for the same member's previous submit (or, where a budget is shared, the server's)
#: before it goes ahead unlocked
#: (Discord wants an acknowledgement within 3 s, and a slow API must not cost the member an answer).
TURN_WAIT_S: Final = 1.5


class Submitter(Protocol):
    """Who asks for a job, and where (``cogs.actors.Actor`` is one)."""

    @property
    def user_id(self) -> int: ...

    @property
    def guild_id(self) -> int | None: ...

    @property
    def channel_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Where:
    """The member and the place of a submit, as the gate reads them."""

    user_id: int
    guild_id: int | None
    channel_id: int | None
    parent_id: int | None = None  # a thread's channel, which the allow list may name instead


class GateRefusal(UserFacingError):
    """A submit the gate refused; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided, with the settings it read (the caller needs them for the job's message).

    ``guild_id`` is the scope: the server the job is charged to and whose rules it follows (None: direct
    messages); ``here_guild_id`` the server where the member asked (None: in DMs).
    """

    refusal: Msg | None
    quota: QuotaDecision
    guild: GuildSettings
    user: UserSettings
    guild_id: int | None
    here_guild_id: int | None = None

    @property
    def allowed(self) -> bool:
        """The job may go ahead (now, or through the queue)."""
        return self.refusal is None

    @property
    def queued(self) -> bool:
        """The job goes into the member's queue instead of to the API."""
        return self.refusal is None and self.quota.queued

    @property
    def private(self) -> bool:
        """The member wants private results and this server allows them (in DMs every result is private anyway)."""
        return self.here_guild_id is not None and self.user.private_results and self.guild.limits.allow_private_results

    def raise_for_refusal(self) -> None:
        if self.refusal is not None:
            raise GateRefusal(self.refusal)


def where_of(bot: MJBot, who: discord.Interaction[MJBot] | Submitter) -> Where:
    """The member, server and channel of an interaction or a submitter (and a thread's parent channel).

    A server is named only when its rules apply: through a member's own install of the bot, a server without the
    bot counts as direct messages (``cogs.installs``).
    """
    if isinstance(who, discord.Interaction):
        channel: object = who.channel
        user_id, guild_id, channel_id = who.user.id, installs.rules_guild(bot, who), who.channel_id
    else:
        user_id, guild_id, channel_id = who.user_id, who.guild_id, who.channel_id
        channel = bot.get_channel(channel_id) if channel_id is not None else None
    parent = getattr(channel, "parent_id", None)
    return Where(user_id, guild_id, channel_id, parent if isinstance(parent, int) else None)


def channel_refusal(settings: GuildSettings, where: Where, bot: MJBot) -> Msg | None:
    """None when the allow list lets the member use the bot here; else a message naming the allowed channels."""
    if settings.channel_allowed(where.channel_id) or (
        where.parent_id is not None and settings.channel_allowed(where.parent_id)
    ):
        return None
    guild = bot.get_guild(where.guild_id) if where.guild_id is not None else None
    existing = [c for c in settings.channels if guild is None or guild.get_channel_or_thread(c) is not None]
    if not existing:
        return msg("gate.channel_unreachable")
    # Channel mentions never ping anyone; the bot sends every message with no allowed mentions anyway.
    return msg("gate.channel", channels=Listing(tuple(f"<#{channel_id}>" for channel_id in existing)))


async def check_submit(
    bot: MJBot,
    who: discord.Interaction[MJBot] | Submitter,
    request: ApiRequest,
    *,
    audit: AuditLog,
    kind: str | Msg,
    prompt: str | None = None,
    user: UserSettings | None = None,
    video_options: VideoOptions | None = None,
    origin: Job | None = None,
    settings: GuildSettings | None = None,
) -> GateResult:
    """May this member submit ``request`` here, now or through the queue? Refusals are posted in ``audit``.

    ``kind`` names what was asked for in the audit log ("/video", "U2 on job abc..."); ``prompt`` is more text
    the word filter reads (the prompt of the job a follow-up continues); ``user`` spares a read of the member's
    settings when the caller has them; ``video_options`` are the mode and resolution of a video the job leads
    to by itself (a /video grid's, an Animate upscale's), checked against turbo and 720p now rather than later;
    ``origin`` is the job a follow-up continues: its server's rules apply, wherever the member clicked; ``settings``
    spares a read of that scope's rules when the caller has them.
    """
    where = where_of(bot, who)
    scope = origin.guild_id if origin is not None else where.guild_id
    store = bot.services.store
    member = user if user is not None else await load_user_settings(store, where.user_id)
    if settings is None:
        settings = await scope_settings(bot, scope)
    decision = quota.ALLOWED
    refusal = await place_refusal(bot, where, scope, settings)
    if refusal is None:
        refusal = await _rule_refusal(settings, where, request, prompt) or _options_refusal(
            settings, video_options, scope
        )
    if refusal is None:
        decision = await quota.check(
            store, settings, guild_id=scope, user_id=where.user_id, request=request, now=clock()
        )
        refusal = decision_message(decision) if decision.refused else None
    if refusal is not None and isinstance(who, discord.Interaction) and installs.counts_as_dms(bot, who):
        refusal = msg("gate.as_dms", reason=refusal)  # "direct messages", said where the member is not in them
    result = GateResult(refusal, decision, settings, member, scope, where.guild_id)
    if refusal is not None:
        log.info("gate: %s by user %s in guild %s refused: %s", kind, where.user_id, scope, str(refusal)[:200])
        if scope is not None:  # posted in the audit log of the server whose rules refused (DMs have none)
            text = msg("gate.audit", what=kind, reason=refusal)
            await audit.post(scope, "refusal", actor_id=where.user_id, text=text)
    return result


async def scope_settings(bot: MJBot, guild_id: int | None) -> GuildSettings:
    """The rules of a scope: the server's settings, or the operator's ``[dms]`` limits (``guild_id`` None)."""
    if guild_id is None:
        return dm_settings(bot.config.dms)
    return await load_guild_settings(bot.services.store, guild_id)


async def place_refusal(bot: MJBot, where: Where, scope: int | None, settings: GuildSettings) -> Msg | None:
    """DMs turned off, the bot owner's block, or the channel allow list (and blocks) of the server where the member
    asks."""
    if where.guild_id is None and not bot.config.dms_enabled:
        return msg("gate.dms_off")
    block = await global_block(bot.services.store, where.user_id)
    if block is not None:
        return block_message(block, everywhere=True)
    if where.guild_id is None:
        return None  # a DM has no channel of any server
    if where.guild_id == scope:
        return channel_refusal(settings, where, bot)  # the scope's own blocks are among its rules
    # A job of another server (re-posted here by /show): this server's blocks and channels hold here as well.
    here = await load_guild_settings(bot.services.store, where.guild_id)
    block = here.block_of(where.user_id)
    return block_message(block) if block is not None else channel_refusal(here, where, bot)


def block_message(block: BlockEntry, *, everywhere: bool = False) -> Msg:
    """What a blocked member is told: who blocked them (a moderator, or the bot's operator everywhere) and why."""
    key = "gate.blocked_everywhere" if everywhere else "gate.blocked"
    reason = block.reason.strip()
    return msg(key, reason=reason) if reason else msg(f"{key}_no_reason")


async def _rule_refusal(settings: GuildSettings, where: Where, request: ApiRequest, prompt: str | None) -> Msg | None:
    """The first of the scope's rules (a block, the word filter) the submit breaks, as a message.

    The filter runs in a worker thread: RE2 lets go of the interpreter while it searches, so however slow a
    machine is, a server's rules never hold the event loop (and every other server's members) while they run.
    """
    block = settings.block_of(where.user_id)
    if block is not None:
        return block_message(block)
    if not settings.word_filter:
        return None
    for text in (request.prompt, prompt):
        if text:
            rule = await asyncio.to_thread(match_filter, text, settings.word_filter)
            if rule is not None:
                return msg("gate.filter", rule=discord.utils.escape_markdown(rule.describe()))
    return None


def _options_refusal(settings: GuildSettings, options: VideoOptions | None, scope: int | None) -> Msg | None:
    """Turbo or 720p that the server (or DMs) turned off, in the options of a video still to come."""
    if options is None:
        return None
    limits = settings.limits
    in_dms = scope is None
    if options.mode == "turbo" and not limits.allow_turbo:
        return decision_message(QuotaDecision(Verdict.REFUSE, Limit.TURBO, in_dms=in_dms))
    if options.resolution == "720p" and not limits.allow_720p:
        return decision_message(QuotaDecision(Verdict.REFUSE, Limit.RESOLUTION_720P, in_dms=in_dms))
    return None


# -- one submit at a time per member ------------------------------------------------------------------------


def turn_keys(user_id: int, scope: int | None, settings: GuildSettings) -> tuple[str, ...]:
    """The store's locks a submit holds from its quota check until its job is written: the member's, and the scope's
    when it has a daily budget, which all its members draw on (direct messages share one)."""
    if settings.limits.daily_budget is None:
        return (f"member:{user_id}",)
    return (f"member:{user_id}", f"guild:{scope}" if scope is not None else "dms")


@contextlib.asynccontextmanager
async def admitted(
    bot: MJBot,
    who: discord.Interaction[MJBot] | Submitter,
    request: ApiRequest,
    *,
    audit: AuditLog,
    kind: str | Msg,
    prompt: str | None = None,
    user: UserSettings | None = None,
    video_options: VideoOptions | None = None,
    origin: Job | None = None,
) -> AsyncIterator[GateResult]:
    """``check_submit`` under the store's locks (``turn_keys``), held until the body (which submits) is done.

    Raises GateRefusal (a UserFacingError, shown ephemerally) when the gate refuses.
    """
    where = where_of(bot, who)
    scope = origin.guild_id if origin is not None else where.guild_id
    settings = await scope_settings(bot, scope)
    keys = turn_keys(where.user_id, scope, settings)
    async with bot.services.store.locks.hold(*keys, wait_s=TURN_WAIT_S) as turn:
        if not turn.acquired:
            log.info("gate: user %s went ahead after waiting %.1f s on %s", where.user_id, TURN_WAIT_S, keys)
        result = await check_submit(
            bot,
            who,
            request,
            audit=audit,
            kind=kind,
            prompt=prompt,
            user=user,
            video_options=video_options,
            origin=origin,
            settings=settings,
        )
        result.raise_for_refusal()
        yield result


async def submit(
    bot: MJBot,
    admission: GateResult,
    request: ApiRequest,
    *,
    user_id: int,
    guild_id: int | None,
    channel_id: int | None,
    parent_id: str | None = None,
    prompt: str | None = None,
    meta: JobMeta | None = None,
    locale: str | None = None,
) -> str:
    """Send the job to the API, or put it in the member's queue when the gate said so; the new job's id.

    ``locale`` is the member's: the job's messages are worded in it (kept in the job's meta).
    """
    engine = bot.services.engine
    meta = with_locale(meta, locale)
    if not admission.queued:
        return await engine.submit(
            request,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            parent_id=parent_id,
            prompt=prompt,
            meta=meta,
        )
    waiting = dataclasses.replace(meta, queue=QueueState(limit=int(admission.quota.maximum or 0)))
    job_id = await engine.enqueue(
        request,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        parent_id=parent_id,
        prompt=prompt,
        meta=waiting,
    )
    log.info("job %s (guild %s): queued for user %s: %s", job_id, guild_id, user_id, admission.quota.message)
    return job_id


# -- where commands are offered -----------------------------------------------------------------------------


def offer_in_dms(bot: MJBot, commands: list[app_commands.Command[Any, ..., Any] | app_commands.Group]) -> None:
    """Set where ``commands`` are offered and through which installs, by ``[dms] enabled``, before they are synced.

    The tree's defaults say the same, so that every command of the bot that sets nothing itself (``/jobs``,
    ``/show``...) is offered alike; commands that set their own (``/admin``: servers, their install) keep them.
    """
    allow = bot.config.dms_enabled
    for command in commands:
        command.allowed_contexts = command_contexts(allow)
        command.allowed_installs = command_installs(allow)
    bot.tree.allowed_contexts = command_contexts(allow)
    bot.tree.allowed_installs = command_installs(allow)


class DirectMessagesOff(app_commands.CheckFailure):
    """A command used in DMs while the operator turned DMs off; the message says so."""

    def __init__(self) -> None:
        self.msg = msg("gate.dms_off")
        super().__init__(str(self.msg))


def check_dms(interaction: discord.Interaction[MJBot]) -> bool:
    """A cog's ``interaction_check``: refuse commands in DMs when ``[dms] enabled`` is off (and where a member's own
    install counts as DMs)."""
    bot = interaction.client
    if installs.rules_guild(bot, interaction) is None and not bot.config.dms_enabled:
        raise DirectMessagesOff()
    return True
