"""Cost and wait before paying: a job that costs at least its place's threshold waits for its member's Confirm.

``ask_first`` is called by /video, /imagine and the follow-up buttons just before the gate admits a job. When the
job asks first (``bot.preview.asks_first``: the server's ``confirm_over``, or the member's ``/settings``), the gate's
checks run once without writing anything (a job that would be refused is refused now, not after a click), and the
member gets an ephemeral card (``cogs.ui.card``) instead of a job: nothing is sent to the API, no job is written and
no quota is used. Confirm runs the command's own path again from the start (``then``), with the click as its
interaction: the gate checks the quotas and the budget as they are at that moment, and admits the job as usual.

Cards live in this process's memory for ``ttl_s`` (5 minutes); then the sweeper marks them expired (buttons
disabled). A card's state changes before anything is awaited, so a double Confirm makes one job. Only the member
the card is for may press its buttons. After a restart the cards are gone, and a click on one says it expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import discord
from discord.ext import commands

from bot import preview
from bot.acedata.models import ApiRequest
from bot.settings import UserSettings, load_user_settings
from bot.store import JobMeta, VideoOptions
from bot.store.models import Job
from cogs import gate
from cogs.context import InteractionContext
from cogs.errors import answer, answer_error
from cogs.i18n import LocaleLike, Msg, interaction_locale, t
from cogs.ui.card import CARDS, ConfirmButton, card_embed, card_view, draft_job, ended_embed

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog

log = logging.getLogger(__name__)

#: Wall-clock time for the cards' expiry (Unix seconds: the card shows it as a Discord timestamp); tests move it.
clock: Callable[[], float] = time.time
#: How often the sweeper looks for cards that expired.
SWEEP_S: Final = 5.0
#: How long a settled card is remembered, so that a late click hears what happened (then it reads as expired).
REMEMBER_S: Final = 15 * 60.0

#: Runs the job's own path again once the member confirms, with the click's context.
Then = Callable[[InteractionContext], Awaitable[None]]
_NO_MENTIONS: Final = discord.AllowedMentions.none()


class CardState(enum.Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(slots=True, eq=False)
class Card:
    """One card shown and not yet forgotten: whose it is, until when, what Confirm runs, and how to edit it."""

    token: str
    user_id: int
    expires_at: float
    units: float
    then: Then
    embed: discord.Embed
    locale: str
    edit: Callable[..., Awaitable[Any]]
    state: CardState = CardState.PENDING


class Confirmations(commands.Cog):
    """Shows confirmation cards and answers their buttons (``cogs.ui.card.ConfirmButton``)."""

    def __init__(self, bot: MJBot, *, audit: AuditLog) -> None:
        self.bot = bot
        self._audit = audit
        #: How long a member has to confirm.
        self.ttl_s = preview.CONFIRM_TTL_S
        self._cards: dict[str, Card] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        CARDS.bind(self.bot, self)
        self.bot.add_dynamic_items(ConfirmButton)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="confirmation-cards")

    async def cog_unload(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        self.bot.remove_dynamic_items(ConfirmButton)
        CARDS.unbind(self.bot, self)

    # -- asking ---------------------------------------------------------------------------------------------

    async def ask_first(
        self,
        context: InteractionContext,
        request: ApiRequest,
        *,
        then: Then,
        kind: str | Msg,
        who: gate.Submitter | None = None,
        user: UserSettings | None = None,
        prompt: str | None = None,
        meta: JobMeta | None = None,
        video_options: VideoOptions | None = None,
        origin: Job | None = None,
    ) -> bool:
        """Show a card instead of admitting ``request`` when it asks first; True when a card was shown (the caller
        stops there), False when the job goes straight on. A job the gate would refuse raises GateRefusal now.

        The arguments are those the caller gives ``gate.admitted`` (``who`` defaults to the interaction); ``meta``
        is the new job's (its Animate-after-upscale video is counted); ``then`` is the caller's path, run again
        with the Confirm click's context.
        """
        interaction = context.interaction
        submitter: discord.Interaction[MJBot] | gate.Submitter = who if who is not None else interaction
        where = gate.where_of(self.bot, submitter)
        scope = origin.guild_id if origin is not None else where.guild_id
        store = self.bot.services.store
        settings = await gate.scope_settings(self.bot, scope)
        member = user if user is not None else await load_user_settings(store, where.user_id)
        then_video = meta.then_animate if meta is not None else None
        units = preview.units_of(request, then_video)
        if not preview.asks_first(units, settings.limits, member):
            return False
        checked = await gate.check_submit(
            self.bot,
            submitter,
            request,
            audit=self._audit,
            kind=kind,
            prompt=prompt,
            user=member,
            video_options=video_options,
            origin=origin,
            settings=settings,
        )
        checked.raise_for_refusal()
        figures = await preview.preview(
            store,
            settings,
            guild_id=scope,
            user_id=where.user_id,
            request=request,
            decision=checked.quota,
            now=gate.clock(),
            then_video=then_video,
        )
        token = secrets.token_hex(8)
        expires_at = clock() + self.ttl_s
        locale = context.locale
        embed = card_embed(
            draft_job(request, prompt=prompt, meta=meta, now=expires_at), figures, expires_at=expires_at, locale=locale
        )
        view = card_view(token, units, locale)
        edit: Callable[..., Awaitable[Any]]
        if not interaction.response.is_done():
            await interaction.response.send_message(
                embed=embed, view=view, ephemeral=True, allowed_mentions=_NO_MENTIONS
            )
            edit = interaction.edit_original_response
        else:  # a button's click, acknowledged with a public placeholder: the card goes to the member alone
            await context.drop_placeholder()
            sent = await interaction.followup.send(
                embed=embed, view=view, ephemeral=True, allowed_mentions=_NO_MENTIONS, wait=True
            )
            edit = sent.edit
        self._cards[token] = Card(token, where.user_id, expires_at, units, then, embed, locale, edit)
        log.info("confirmation card %s: %s for user %s in guild %s, %g units", token, kind, where.user_id, scope, units)
        return True

    # -- clicks ---------------------------------------------------------------------------------------------

    async def click(self, interaction: discord.Interaction[MJBot], token: str, confirm: bool) -> None:
        """Confirm or Cancel on a card: only its member's, only while it is pending, and Confirm only once."""
        locale = interaction_locale(interaction)
        card = self._cards.get(token)
        if card is not None and card.state is CardState.PENDING and clock() >= card.expires_at:
            card.state = CardState.EXPIRED
        if card is None or (card.state is CardState.EXPIRED and interaction.user.id == card.user_id):
            # Unknown here (a restart, or long ago) or expired: the card says so, whatever it showed.
            shown = interaction.message.embeds[0] if interaction.message and interaction.message.embeds else None
            await interaction.response.edit_message(
                embed=ended_embed(shown, _card(locale, "expired"), locale),
                view=card_view(token, card.units if card else None, locale, disabled=True),
            )
            return
        if interaction.user.id != card.user_id:
            await answer(interaction, _card(locale, "not_yours", owner=card.user_id))
            return
        if card.state is not CardState.PENDING:
            await answer(interaction, _card(locale, f"already_{card.state.value}"))
            return
        if not confirm:
            card.state = CardState.CANCELLED
            log.info("confirmation card %s: cancelled by user %s", token, card.user_id)
            await interaction.response.edit_message(
                embed=ended_embed(card.embed, _card(locale, "cancelled"), locale), view=None
            )
            return
        card.state = CardState.CONFIRMED  # before any await: a second Confirm finds the card settled
        log.info("confirmation card %s: confirmed by user %s", token, card.user_id)
        context = InteractionContext(interaction)
        outcome = "confirmed"
        try:
            await card.then(context)
        except Exception as error:
            outcome = "not_started"
            await answer_error(context, error)
        await self._edit(card, ended_embed(card.embed, _card(card.locale, outcome), card.locale), None)

    # -- expiry ---------------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Mark the cards whose time is up as expired (their buttons disabled) and forget old ones; how many
        expired."""
        now = clock()
        due = [card for card in self._cards.values() if card.state is CardState.PENDING and now >= card.expires_at]
        for card in due:
            card.state = CardState.EXPIRED
        for card in due:
            ended = ended_embed(card.embed, _card(card.locale, "expired"), card.locale)
            await self._edit(card, ended, card_view(card.token, card.units, card.locale, disabled=True))
        for token in [token for token, card in self._cards.items() if now >= card.expires_at + REMEMBER_S]:
            del self._cards[token]
        return len(due)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                await self.sweep()
            except Exception:
                log.exception("confirmation cards: the sweep failed")

    async def _edit(self, card: Card, embed: discord.Embed, view: discord.ui.View | None) -> None:
        """Edit a card through the interaction that showed it (best effort: its member may have dismissed it)."""
        try:
            await card.edit(embed=embed, view=view)
        except discord.HTTPException as exc:
            log.info("confirmation card %s: could not be edited: %s", card.token, exc.text or exc.status)


def _card(locale: LocaleLike, name: str, /, **params: object) -> str:
    return t(locale, f"confirm.{name}", **params)
