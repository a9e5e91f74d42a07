"""/history: a member's own jobs, newest first, ten a page, searched by prompt text, kind, status and age.

The answer is ephemeral. Its ◀ and ▶ buttons are DynamicItems whose custom id holds the whole query
(``mjh:{page}:{owner}:{kind}{status}:{days}:{text}``, the owner's id in base 36), so they turn pages after a
restart with nothing kept in memory. A custom id comes back from the client, so nothing in it is trusted:
every field is checked again on each click (a page number in range, a known kind and status, 1 to 365 days,
a search text as the command would have cleaned it), and only the member whose history it is may turn its
pages; anything else is refused with a message that says so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import discord

from bot.store.history import STATUS_GROUPS, HistoryPage, HistoryQuery
from bot.store.models import JobKind, MessageLink
from bot.text import shorten, strip_invisible
from cogs import gate
from cogs.common import UserFacingError
from cogs.errors import answer_error
from cogs.i18n import LocaleLike, interaction_locale, msg, t, tn
from cogs.joblist import job_line

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 10
#: The longest search text, in characters: the query must fit a custom id (100 characters) with room to spare.
TEXT_MAX: Final = 60
MAX_DAYS: Final = 365
MAX_PAGE: Final = 99_999
CUSTOM_ID_LIMIT: Final = 100
DESCRIPTION_CHARS: Final = 4096

_KIND_CODES: Final = {JobKind.VIDEO: "v", JobKind.IMAGINE: "i"}
_STATUS_CODES: Final = {"succeeded": "s", "failed": "f", "running": "r", "queued": "q", "cancelled": "c"}
#: What dispatches a click here: anything that starts like one of these buttons, so that a custom id that is
#: not one the bot made is answered (and refused) rather than left unanswered.
TEMPLATE: Final = re.compile(r"mjh:(?P<state>.*)", re.DOTALL)
_STATE: Final = re.compile(
    r"(?P<page>[1-9][0-9]{0,4}):(?P<owner>[0-9a-z]{1,13}):(?P<kind>[-vi])(?P<status>[-sfrqc]):"
    r"(?P<days>[1-9][0-9]{0,2})?:(?P<text>.*)",
    re.DOTALL,
)
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def clean_search(text: str | None) -> str:
    """A search text as it is matched: invisible characters out, white space collapsed (as prompts are stored)."""
    return " ".join(strip_invisible(text or "").split())


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
        if not number:
            return digits


def _utf16_length(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units): a character outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryState:
    """Everything a page of /history is: whose, which page (1 is the newest), and the filters."""

    owner: int
    page: int = 1
    text: str = ""
    kind: JobKind | None = None
    status: str | None = None  # a key of STATUS_GROUPS
    days: int | None = None

    def custom_id(self, page: int) -> str:
        """The custom id of a button that shows ``page`` of this query."""
        kind = _KIND_CODES[self.kind] if self.kind is not None else "-"
        status = _STATUS_CODES[self.status] if self.status is not None else "-"
        return f"mjh:{page}:{_base36(self.owner)}:{kind}{status}:{self.days or ''}:{self.text}"

    def query(self, now: float) -> HistoryQuery:
        return HistoryQuery(
            user_id=self.owner,
            text=self.text,
            kind=self.kind,
            statuses=STATUS_GROUPS[self.status] if self.status is not None else (),
            since=now - self.days * 86_400 if self.days is not None else None,
        )

    @classmethod
    def parse(cls, custom_id: str) -> HistoryState | None:
        """The state a custom id holds, or None when it is not one this bot makes (whatever it claims)."""
        if _utf16_length(custom_id) > CUSTOM_ID_LIMIT:
            return None
        found = TEMPLATE.fullmatch(custom_id)
        fields = _STATE.fullmatch(found["state"]) if found is not None else None
        if fields is None:
            return None
        owner = int(fields["owner"], 36)
        days = int(fields["days"]) if fields["days"] else None
        text = fields["text"]
        if not 0 < owner < 2**64 or (days is not None and days > MAX_DAYS):
            return None
        if len(text) > TEXT_MAX or clean_search(text) != text:
            return None
        kinds = {code: kind for kind, code in _KIND_CODES.items()}
        statuses = {code: status for status, code in _STATUS_CODES.items()}
        state = cls(
            owner=owner,
            page=int(fields["page"]),
            text=text,
            kind=kinds.get(fields["kind"]),
            status=statuses.get(fields["status"]),
            days=days,
        )
        return state if state.custom_id(state.page) == custom_id else None  # one spelling of each state only


def new_state(owner: int, text: str | None, kind: str | None, status: str | None, days: int | None) -> HistoryState:
    """The first page of a /history command's query; a search text too long for the buttons is refused."""
    cleaned = clean_search(text)
    if len(cleaned) > TEXT_MAX:
        raise UserFacingError(msg("history.text_too_long", limit=TEXT_MAX, length=len(cleaned)))
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise UserFacingError(msg("history.bad_days", limit=MAX_DAYS))
    state = HistoryState(
        owner=owner,
        text=cleaned,
        kind=JobKind(kind) if kind is not None else None,
        status=status if status in STATUS_GROUPS else None,
        days=days,
    )
    if _utf16_length(state.custom_id(MAX_PAGE)) > CUSTOM_ID_LIMIT:  # emoji count twice
        raise UserFacingError(msg("history.text_too_long", limit=TEXT_MAX, length=len(cleaned)))
    return state


# -- the message ------------------------------------------------------------------------------------------


def _filters(state: HistoryState, locale: LocaleLike) -> str:
    parts: list[str] = []
    if state.text:
        parts.append(t(locale, "history.filter_text", text=discord.utils.escape_markdown(state.text)))
    if state.kind is not None:
        parts.append(t(locale, f"history.kind.{state.kind.value}"))
    if state.status is not None:
        parts.append(t(locale, f"history.status.{state.status}"))
    if state.days is not None:
        parts.append(tn(locale, "history.filter_days", state.days))
    return t(locale, "history.filters", filters=t(locale, "render.separator").join(parts)) if parts else ""


def _footer(state: HistoryState, page: HistoryPage, locale: LocaleLike) -> str:
    if page.total_capped:
        where = t(locale, "history.page_of_many", page=state.page, total=page.total)
    else:
        pages = max(1, -(-page.total // PAGE_SIZE))
        where = tn(locale, "history.page_of", page.total, page=state.page, pages=pages)
    return t(locale, "render.separator").join((where, t(locale, "jobs.footer")))


def history_embed(
    state: HistoryState, page: HistoryPage, links: Mapping[str, list[MessageLink]], locale: LocaleLike = None
) -> discord.Embed:
    """The page: what it is filtered by, one line per job (title, id, status, age, prompt, a link to its message)."""
    head = _filters(state, locale)
    if page.jobs:
        lines = [job_line(job, links.get(job.id, []), locale) for job in page.jobs]
        body = "\n\n".join(lines)
    elif state.page > 1:
        body = t(locale, "history.page_empty")
    else:
        body = t(locale, "history.none_matching" if head else "jobs.none")
    embed = discord.Embed(
        title=t(locale, "history.title"),
        description=shorten("\n\n".join(part for part in (head, body) if part), DESCRIPTION_CHARS),
        colour=discord.Colour.blurple(),
    )
    if page.jobs or state.page > 1:
        embed.set_footer(text=_footer(state, page, locale))
    return embed


def history_view(state: HistoryState, page: HistoryPage, locale: LocaleLike = None) -> discord.ui.View | None:
    """◀ and ▶, each disabled where there is no page to go to; none at all for a single page."""
    has_previous, has_next = state.page > 1, page.has_more and state.page < MAX_PAGE
    if not (has_previous or has_next):
        return None
    view = discord.ui.View(timeout=None)
    # The two custom ids differ on every page (a message's must), the disabled button's included.
    previous, following = max(1, state.page - 1), min(state.page + 1, MAX_PAGE)
    view.add_item(HistoryButton(state, previous, t(locale, "history.previous"), disabled=not has_previous))
    view.add_item(HistoryButton(state, following, t(locale, "history.next"), disabled=not has_next))
    return view


async def show_history(interaction: discord.Interaction[MJBot], state: HistoryState, *, edit: bool) -> None:
    """Answer with the page of ``state``: a new ephemeral message, or the clicked one edited (``edit``)."""
    locale = interaction_locale(interaction)
    store = interaction.client.services.store
    page = await store.history.history(state.query(store.clock()), offset=(state.page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    links = {job.id: await store.links.messages_for_job(job.id) for job in page.jobs}
    embed = history_embed(state, page, links, locale)
    view = history_view(state, page, locale)
    none = discord.AllowedMentions.none()
    if edit:
        await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=none)
    else:
        view_or_missing = view if view is not None else discord.utils.MISSING
        await interaction.response.send_message(
            embed=embed, view=view_or_missing, ephemeral=True, allowed_mentions=none
        )


class HistoryButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=TEMPLATE):
    """◀ or ▶ on a /history page: shows another page of the same query, to the member whose history it is."""

    def __init__(
        self, state: HistoryState | None, page: int, label: str = "", *, disabled: bool = False, raw: str = ""
    ) -> None:
        custom_id = state.custom_id(page) if state is not None else raw
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            custom_id=custom_id, label=label or None, style=discord.ButtonStyle.secondary, disabled=disabled
        )
        super().__init__(button)
        self.state = replace(state, page=page) if state is not None else None

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HistoryButton:
        state = HistoryState.parse(match.string)
        return cls(state, state.page if state is not None else 0, raw=match.string)

    async def callback(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        try:
            gate.check_dms(interaction)
            if self.state is None:
                log.info("user %s clicked a /history button the bot did not make", interaction.user.id)
                raise UserFacingError(msg("history.not_a_button"))
            if interaction.user.id != self.state.owner:
                log.info("user %s was refused the /history of user %s", interaction.user.id, self.state.owner)
                raise UserFacingError(msg("history.not_yours"))
            await show_history(interaction, self.state, edit=True)
        except Exception as error:
            await answer_error(interaction, error)
