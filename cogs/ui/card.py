"""A job's confirmation card: what will be made, what it costs, what is left today and the estimated wait, with
Confirm and Cancel (the member's eyes only).

The buttons are DynamicItems whose custom id holds the card's token and the choice (``mjcard:{token}:go``). The
card itself lives in the memory of the process that showed it (``cogs.confirm``): a click the process does not
know (after a restart, or long after the card ended) is still matched here and answered, never left failing.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Final, Protocol

import discord

from bot.acedata.models import ApiRequest, Endpoint
from bot.preview import Preview
from bot.settings import GuildSettings
from bot.store import JobMeta
from bot.store.models import Job, JobKind, JobStatus
from cogs.errors import answer_error
from cogs.i18n import LocaleLike, ordinal, t
from cogs.limits import figure
from cogs.ui.handlers import Handlers
from cogs.ui.render import fit_escaped, job_title, parameter_fields, relative_time

if TYPE_CHECKING:
    from bot.bot import MJBot

CARD_TEMPLATE: Final = r"mjcard:(?P<token>[0-9a-f]{16}):(?P<choice>go|no)"
#: The most of a prompt a card shows.
PROMPT_CHARS: Final = 300


def _card(locale: LocaleLike, name: str, /, **params: object) -> str:
    return t(locale, f"confirm.{name}", **params)


def draft_job(request: ApiRequest, *, prompt: str | None, meta: JobMeta | None, now: float) -> Job:
    """The job ``request`` would make, unsaved: what the card shows, in the words of a job's message."""
    return Job(
        id="",
        kind=JobKind.VIDEO if request.endpoint is Endpoint.VIDEOS else JobKind.IMAGINE,
        action=request.action,
        prompt=request.prompt or prompt or "",
        params=request.to_body(),
        status=JobStatus.QUEUED,
        progress=0,
        created_at=now,
        updated_at=now,
        meta=meta or JobMeta(),
    )


def approx(seconds: float, locale: LocaleLike = None) -> str:
    """ "40 s", "3 min", "1 h 5 min": a duration as an estimate reads."""
    if seconds < 60:
        return _card(locale, "seconds", count=max(1, math.ceil(seconds)))
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _card(locale, "minutes", count=minutes)
    return _card(locale, "hours", hours=minutes // 60, minutes=minutes % 60)


def left_text(figures: Preview, locale: LocaleLike = None) -> str:
    """What the member has left today, before and after this job: their jobs, the server's budget."""
    allowance = figures.allowance
    lines: list[str] = []
    if allowance.jobs_limit is not None:
        left, after = allowance.jobs_left, figures.jobs_left_after
        lines.append(_card(locale, "left_jobs", left=left, limit=allowance.jobs_limit, after=after))
    if allowance.budget is not None:
        left_units, after_units = figure(allowance.units_left or 0.0), figure(figures.units_left_after or 0.0)
        lines.append(_card(locale, "left_units", left=left_units, limit=figure(allowance.budget), after=after_units))
    return "\n".join(lines) if lines else _card(locale, "no_limits")


def wait_text(figures: Preview, locale: LocaleLike = None) -> str:
    """The estimated time to the result, and what it rests on."""
    if figures.wait_s is None or figures.typical_s is None:
        return _card(locale, "wait_unknown")
    lines = [_card(locale, "wait_about", wait=approx(figures.wait_s, locale))]
    if figures.queued:
        lines.append(_card(locale, "wait_queued", position=ordinal(locale, figures.ahead + 1)))
    lines.append(_card(locale, "wait_basis", typical=approx(figures.typical_s, locale), count=figures.samples))
    return "\n".join(lines)


def confirm_setting(choice: str, guild: GuildSettings | None, locale: LocaleLike = None) -> str:
    """The member's confirmation setting, as ``/settings`` shows it: before every job, or from the place's threshold
    (``guild`` None: in DMs, where each place's own threshold applies)."""
    if choice == "always":
        return _card(locale, "setting_always")
    if guild is None:
        return _card(locale, "setting_server_dms")
    threshold = guild.limits.confirm_over
    if threshold is None:
        return _card(locale, "setting_server_never")
    return _card(locale, "setting_server", units=figure(threshold))


def card_embed(draft: Job, figures: Preview, *, expires_at: float, locale: LocaleLike = None) -> discord.Embed:
    """The card: the job's title and prompt, its parameters, cost, what is left today, the wait and the expiry."""
    prompt = draft.prompt.strip()
    shown = f"**{fit_escaped(prompt, PROMPT_CHARS)}**" if prompt else ""
    embed = discord.Embed(
        title=_card(locale, "title"),
        description="\n".join(part for part in (job_title(draft, locale), shown) if part),
        colour=discord.Colour.gold(),
    )
    for name, value in parameter_fields(draft, locale):
        embed.add_field(name=name, value=value, inline=True)
    cost = _card(locale, "unit" if figures.units == 1 else "units", units=figure(figures.units))
    embed.add_field(name=_card(locale, "cost"), value=cost, inline=False)
    embed.add_field(name=_card(locale, "left"), value=left_text(figures, locale), inline=False)
    embed.add_field(name=_card(locale, "wait"), value=wait_text(figures, locale), inline=False)
    embed.add_field(name=_card(locale, "expires"), value=relative_time(expires_at), inline=False)
    embed.set_footer(text=_card(locale, "footer"))
    return embed


def ended_embed(card: discord.Embed | None, outcome: str, locale: LocaleLike = None) -> discord.Embed:
    """The card once it is settled (confirmed, cancelled, expired): the same figures under ``outcome``, without the
    expiry. ``card`` None (a card this process never showed) gives the outcome alone."""
    embed = discord.Embed.from_dict(card.to_dict()) if card is not None else discord.Embed()
    embed.title = outcome
    embed.colour = discord.Colour.light_grey()
    expires = _card(locale, "expires")
    for index in reversed(range(len(embed.fields))):
        if embed.fields[index].name == expires:
            embed.remove_field(index)
    embed.set_footer(text=None)
    return embed


class CardHandler(Protocol):
    """Answers a click on a card's button (``cogs.confirm.Confirmations`` does)."""

    async def click(self, interaction: discord.Interaction[MJBot], token: str, confirm: bool, /) -> None: ...


#: The card handler of each bot, bound when it loads.
CARDS: Handlers[CardHandler] = Handlers("confirmation card handler")


class ConfirmButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CARD_TEMPLATE):
    """Confirm or Cancel on a card."""

    def __init__(
        self, token: str, confirm: bool, *, label: str | None = None, disabled: bool = False, row: int | None = None
    ) -> None:
        style = discord.ButtonStyle.success if confirm else discord.ButtonStyle.secondary
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            custom_id=f"mjcard:{token}:{'go' if confirm else 'no'}", label=label, style=style, disabled=disabled
        )
        super().__init__(button, row=row)
        self.token = token
        self.confirm = confirm

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ConfirmButton:
        return cls(match["token"], match["choice"] == "go")

    async def callback(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        try:
            await CARDS.of(interaction.client).click(interaction, self.token, self.confirm)
        except Exception as error:
            await answer_error(interaction, error)


class CardView(discord.ui.View):
    """The card's two buttons; clicks reach ``ConfirmButton`` through the registered dynamic items, so discord.py
    need not keep this view (and a click after a restart is matched all the same)."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False


def card_view(token: str, units: float | None, locale: LocaleLike = None, *, disabled: bool = False) -> CardView:
    """Confirm (naming the cost, when known) and Cancel; ``disabled`` once the card has expired."""
    view = CardView()
    if units is None:
        confirm = _card(locale, "confirm_plain")
    else:
        confirm = _card(locale, "confirm_one" if units == 1 else "confirm_button", units=figure(units))
    view.add_item(ConfirmButton(token, True, label=confirm, disabled=disabled))
    view.add_item(ConfirmButton(token, False, label=_card(locale, "cancel_button"), disabled=disabled))
    return view
