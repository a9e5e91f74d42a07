"""What a click or a reaction on a job's message does: FollowUps, the one place both paths go through.

Each follow-up is checked (the job exists, the member may act on it, the action fits the job), made
into an API request, de-duplicated (a double click submits once) and submitted; the new job's message
is the interaction's response for a button and a reply in the channel for a reaction.

✏️ Extend… has one path too: its button calls ``run`` like every other button, and ``run`` makes the
checks an extension needs (the member may act, and ``bot.followups``' rules: the video is finished, it was
extended fewer than four times) before it opens the modal. The submitted modal comes back to ``run`` as an
EXTEND follow-up with the new prompt, where the same checks run again, since the job may have changed meanwhile. A modal
opened before a restart is taken by the ``on_interaction`` listener below (see cogs/ui/modals.py).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.followups import extendable, extends_of
from bot.store.models import Job, JobStatus
from cogs import acks, gate, installs
from cogs.actors import Actor, decide, display_name, role_ids_of
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.context import InteractionContext
from cogs.errors import answer, answer_error, describe
from cogs.frames import Frames
from cogs.i18n import (
    SOURCE_LOCALE,
    Msg,
    guild_locale,
    job_locale,
    member_locale,
    msg,
    remember,
    t,
)
from cogs.plans import Plan, planned, refused
from cogs.presets import save_by_reaction, save_modal, save_submission
from cogs.repeats import Repeats, follow_up_tag
from cogs.ui import dynamic_items
from cogs.ui.components import FOLLOW_UPS
from cogs.ui.modals import ExtendModal, extend_submission

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog
    from cogs.confirm import Confirmations
    from cogs.delivery import Delivery

log = logging.getLogger(__name__)

#: A member is told at most this often why a reaction of theirs did nothing (per job and reaction).
REACTION_NOTICE_INTERVAL_S: Final = 60.0

GONE: Final = msg("errors.job_gone")
#: Kinds that start a new job (and so are de-duplicated).
_SUBMITTING: Final = frozenset(
    {
        FollowUpKind.EXTEND,
        FollowUpKind.REROLL,
        FollowUpKind.IMAGE,
        FollowUpKind.ANIMATE,
        FollowUpKind.ANIMATE_QUADRANT,
    }
)


#: How a follow-up reads in the audit log, by kind (``actions.label.*``; "{arg}" is the button's argument).
LABELS: Final[Mapping[FollowUpKind, str]] = {
    FollowUpKind.EXTEND: "actions.label.extend",
    FollowUpKind.REROLL: "actions.label.reroll",
    FollowUpKind.IMAGE: "actions.label.image",
    FollowUpKind.ANIMATE: "actions.label.animate",
    FollowUpKind.ANIMATE_QUADRANT: "actions.label.animate_image",
}


def follow_up_label(follow_up: FollowUp, job: Job) -> Msg:
    """What a follow-up asked for, for the audit log: "Extend clip 2 on job `abc123`"."""
    key = LABELS.get(follow_up.kind)
    what: Msg | str = msg(key, arg=follow_up.arg or "") if key is not None else follow_up.kind.value
    return msg("actions.label.on_job", what=what, job=job.id)


class FollowUps(commands.Cog):
    """Runs buttons, modal submits and reactions on job messages.

    Uses Delivery (the new job's message), the audit log (the gate's refusals) and the confirmation cards (a
    costly button's job waits for its member's Confirm; reactions go straight on).
    """

    def __init__(self, bot: MJBot, *, delivery: Delivery, audit: AuditLog, confirmations: Confirmations) -> None:
        self.bot = bot
        self._delivery = delivery
        self._audit = audit
        self._confirmations = confirmations
        self._repeats = Repeats()
        self._notified: dict[tuple[int, str, str], float] = {}
        self._frames: Frames | None = None

    async def cog_load(self) -> None:
        self._frames = Frames(self.bot)
        # Buttons are matched by custom id alone, so every button ever posted works, before or after a restart.
        FOLLOW_UPS.bind(self.bot, self)
        self.bot.add_dynamic_items(*dynamic_items())

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*dynamic_items())
        FOLLOW_UPS.unbind(self.bot, self)
        if self._frames is not None:
            await self._frames.close()

    # -- buttons and modals ---------------------------------------------------------------------------

    async def run(self, interaction: discord.Interaction[MJBot], follow_up: FollowUp) -> None:
        """Run a button's (or the extend modal's) follow-up; every outcome answers the interaction."""
        context = InteractionContext(interaction)
        try:
            await self._run(context, follow_up)
        except Exception as error:  # the member gets an answer, the log the details
            await answer_error(context, error, job_id=follow_up.job_id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[MJBot]) -> None:
        """An extend modal submitted, whether this process opened it or one before a restart did.

        Every interaction also tells the member's locale, kept for the moments without one (reactions).
        """
        remember(interaction.user.id, interaction.locale)
        if interaction.type is discord.InteractionType.modal_submit and not await extend_submission(interaction, self):
            await save_submission(interaction)

    async def _run(self, context: InteractionContext, follow_up: FollowUp, *, confirmed: bool = False) -> None:
        """``confirmed``: the member confirmed the job on its card (``context`` is then the Confirm click's)."""
        # Deferred before any store read or lock wait (see cogs/acks.py); ✏️ Extend… answers with a modal instead.
        await acks.acknowledge(context, follow_up.kind)
        interaction = context.interaction
        services = self.bot.services
        job = await services.store.jobs.get_job(follow_up.job_id)
        if job is None:
            raise UserFacingError(GONE)
        place = installs.rules_guild(self.bot, interaction)  # a server without the bot counts as DMs
        actor = Actor(
            user_id=interaction.user.id,
            guild_id=place,
            channel_id=interaction.channel_id,
            can_manage_messages=place is not None and interaction.permissions.manage_messages,
            name=interaction.user.display_name,
            role_ids=role_ids_of(interaction.user),
            locale=context.locale,
            can_manage_server=place is not None and interaction.permissions.manage_guild,
        )
        decision = await decide(services.store, job, actor, follow_up)
        if not decision.allowed:
            raise UserFacingError(decision.message or msg("actions.cannot_act"))
        kind = follow_up.kind
        if kind is FollowUpKind.EXTEND_MANUAL:
            await self._check_extendable(job)  # spares typing a prompt that would be refused on submit
            await interaction.response.send_modal(ExtendModal(job, user_id=actor.user_id, locale=actor.locale))
            return
        if kind is FollowUpKind.CANCEL:
            await answer(context, await self._cancel(job, actor))
            return
        if kind is FollowUpKind.DM:
            await answer(context, await self._send_dm(job, interaction.user, actor.locale))
            return
        if kind is FollowUpKind.SAVE:  # the modal asks the preset's name; its submission saves it
            await interaction.response.send_modal(save_modal(job, user_id=actor.user_id, locale=actor.locale))
            return
        plan = await self._plan(job, follow_up)
        if not confirmed and await self._confirmations.ask_first(
            context,
            plan.request,
            then=lambda again: self._run(again, follow_up, confirmed=True),
            kind=follow_up_label(follow_up, job),
            who=actor,
            prompt=job.prompt,
            meta=plan.meta,
            video_options=plan.meta.then_animate,
            origin=job,
        ):
            return
        async with self._repeats.claim(services.store, job, follow_up, actor.user_id) as claim:
            if not claim.acquired:
                await answer(context, t(actor.locale, "actions.already_clicked"))
                return
            earlier = await self._repeats.recent_duplicate(services.store, job, follow_up, actor.user_id)
            if earlier is not None:
                await answer(context, await self._repeats.already_on_it(services.store, earlier, actor.locale))
                return
            async with gate.admitted(
                self.bot,
                actor,
                plan.request,
                audit=self._audit,
                kind=follow_up_label(follow_up, job),
                prompt=job.prompt,
                video_options=plan.meta.then_animate,
                origin=job,
            ) as admission:
                if admission.private:
                    await context.make_private()
                new_job_id = await self._submit(job, follow_up, plan, actor, admission)
            await self._delivery.show_from_interaction(new_job_id, context)

    # -- reactions ------------------------------------------------------------------------------------

    async def run_reaction(self, payload: discord.RawReactionActionEvent, follow_up: FollowUp) -> None:
        """Run a reaction's follow-up: the result is a reply in the channel, refusals go to the member's DMs."""
        job_id = follow_up.job_id
        try:
            await self._run_reaction(payload, follow_up)
        except Exception as error:
            where = f"guild {payload.guild_id}, user {payload.user_id}"
            context = f"in reaction {payload.emoji} (job {follow_up.job_id}, {where})"
            locale = self._reactor_locale(payload)
            text = describe(error, context=context, locale=locale)
            if self.bot.is_closed():
                return  # shutting down: there is no one left to tell
            try:
                await self._notify(payload.user_id, follow_up, text, locale)
            except Exception:
                log.exception("could not tell user %s about a failed reaction on job %s", payload.user_id, job_id)

    async def _run_reaction(self, payload: discord.RawReactionActionEvent, follow_up: FollowUp) -> None:
        services = self.bot.services
        job = await services.store.jobs.get_job(follow_up.job_id)
        if job is None:
            return
        actor = Actor(
            user_id=payload.user_id,
            guild_id=payload.guild_id,
            channel_id=payload.channel_id,
            can_manage_messages=self._reactor_can_manage(payload),
            name=display_name(payload.member or self.bot.get_user(payload.user_id)),
            role_ids=role_ids_of(payload.member),
            locale=self._reactor_locale(payload),
            can_manage_server=payload.member is not None and payload.member.guild_permissions.manage_guild,
        )
        decision = await decide(services.store, job, actor, follow_up)
        if not decision.allowed:
            refusal = decision.message or msg("actions.cannot_act")
            await self._notify(payload.user_id, follow_up, refusal.render(actor.locale), actor.locale)
            return
        kind = follow_up.kind
        if kind is FollowUpKind.CANCEL:
            await self._cancel(job, actor)
            return
        if kind is FollowUpKind.DM:
            user = payload.member or await self._user(payload.user_id)
            if user is not None:
                await self._send_dm(job, user, actor.locale)
            return
        if kind is FollowUpKind.SAVE:
            await self._tell(payload.user_id, await save_by_reaction(services.store, job, actor.user_id, actor.locale))
            return
        if kind not in _SUBMITTING:
            return
        plan = await self._plan(job, follow_up)
        async with self._repeats.claim(services.store, job, follow_up, actor.user_id, wait=False) as claim:
            recent = self._repeats.recent_duplicate
            if not claim.acquired or await recent(services.store, job, follow_up, actor.user_id) is not None:
                log.info("job %s: repeated %s reaction by user %s ignored", job.id, follow_up.kind, actor.user_id)
                return
            # A refusal raises GateRefusal, which reaches the member in their DMs (see run_reaction).
            async with gate.admitted(
                self.bot,
                actor,
                plan.request,
                audit=self._audit,
                kind=follow_up_label(follow_up, job),
                prompt=job.prompt,
                video_options=plan.meta.then_animate,
                origin=job,
            ) as admission:
                new_job_id = await self._submit(job, follow_up, plan, actor, admission)
        await self._delivery.show_in_channel(new_job_id, payload.channel_id, reply_to=payload.message_id)

    def _reactor_locale(self, payload: discord.RawReactionActionEvent) -> str:
        """A reaction tells no locale: the member's last interaction's, else the server's, else English."""
        return member_locale(payload.user_id) or guild_locale(self.bot, payload.guild_id) or SOURCE_LOCALE

    def _reactor_can_manage(self, payload: discord.RawReactionActionEvent) -> bool:
        if payload.guild_id is None or payload.member is None:
            return False
        guild = self.bot.get_guild(payload.guild_id)
        channel = guild.get_channel_or_thread(payload.channel_id) if guild is not None else None
        if channel is None:
            return payload.member.guild_permissions.manage_messages
        return channel.permissions_for(payload.member).manage_messages

    async def _user(self, user_id: int) -> discord.User | None:
        user = self.bot.get_user(user_id)
        if user is not None:
            return user
        try:
            return await self.bot.fetch_user(user_id)
        except discord.HTTPException:
            return None

    async def _notify(self, user_id: int, follow_up: FollowUp, text: str, locale: str) -> None:
        """Tell a member in their DMs why their reaction did nothing (best effort, never in the channel)."""
        now = time.monotonic()
        key = (user_id, follow_up.job_id, follow_up.kind.value)
        if now - self._notified.get(key, -REACTION_NOTICE_INTERVAL_S) < REACTION_NOTICE_INTERVAL_S:
            return
        self._notified = {k: t for k, t in self._notified.items() if now - t < REACTION_NOTICE_INTERVAL_S}
        self._notified[key] = now
        user = await self._user(user_id)
        if user is None:
            return
        try:
            notice = t(locale, "actions.reaction_notice", job=follow_up.job_id, text=text)
            await user.send(notice, allowed_mentions=_NO_PINGS)
        except discord.HTTPException as exc:
            log.info("could not DM user %s about job %s: %s", user_id, follow_up.job_id, exc.text or exc.status)

    async def _tell(self, user_id: int, text: str) -> None:
        """Tell a member in their DMs what their reaction did (best effort: their DMs may be closed)."""
        user = await self._user(user_id)
        if user is None:
            return
        try:
            await user.send(text, allowed_mentions=_NO_PINGS)
        except discord.HTTPException as exc:
            log.info("could not DM user %s: %s", user_id, exc.text or exc.status)

    # -- the actions ----------------------------------------------------------------------------------

    async def _cancel(self, job: Job, actor: Actor) -> str:
        """Cancel a running job, or delete a finished one's result; what to tell the member."""
        services = self.bot.services
        if not job.finished:
            # The reason is shown on the job's message, so it is worded in the job's language.
            name = actor.name or t(job_locale(self.bot, job), "actions.someone")
            reason = t(job_locale(self.bot, job), "actions.cancel_reason", name=name)
            await services.engine.cancel(job.id, reason=reason)
            log.info("job %s: cancelled by user %s in guild %s", job.id, actor.user_id, actor.guild_id)
            await self._delivery.refresh(job.id)
            return t(actor.locale, "actions.cancelled", job=job.id)
        await self._delivery.delete_result(job.id)
        log.info("job %s: result deleted by user %s in guild %s", job.id, actor.user_id, actor.guild_id)
        return t(actor.locale, "actions.deleted", job=job.id)

    async def _send_dm(self, job: Job, user: discord.abc.User, locale: str) -> str:
        if job.status is not JobStatus.SUCCEEDED:
            raise UserFacingError(msg("actions.no_result_yet"))
        if await self._delivery.send_dm(job.id, user):
            return t(locale, "actions.dm_sent")
        return t(locale, "actions.dms_closed")

    async def _plan(self, job: Job, follow_up: FollowUp) -> Plan:
        """The request a submitting follow-up makes (planned by ``bot.followups``); UserFacingError when it does
        not fit this job."""
        return await planned(self.bot.services.store, job, follow_up)

    async def _check_extendable(self, job: Job) -> None:
        """UserFacingError unless the video is finished and may be extended again (the core's rule)."""
        store = self.bot.services.store
        refusal = extendable(job, await extends_of(store.jobs, job))
        if refusal is not None:
            raise refused(refusal)

    async def _submit(self, job: Job, follow_up: FollowUp, plan: Plan, actor: Actor, admission: gate.GateResult) -> str:
        if self._frames is not None:
            plan = await self._frames.fresh(job, plan)  # a frame sent again must be fetchable now (links expire)
        meta = dataclasses.replace(plan.meta, follow_up=follow_up_tag(follow_up))
        new_job_id = await gate.submit(
            self.bot,
            admission,
            plan.request,
            user_id=actor.user_id,
            guild_id=admission.guild_id,  # the job's server, wherever the click was: its rules, its usage
            channel_id=actor.channel_id,
            parent_id=job.id,
            prompt=job.prompt,
            meta=meta,
            locale=actor.locale,
        )
        log.info(
            "job %s: %s from job %s by user %s in guild %s",
            new_job_id,
            follow_up_tag(follow_up),
            job.id,
            actor.user_id,
            actor.guild_id,
        )
        return new_job_id


_NO_PINGS: Final = discord.AllowedMentions.none()
