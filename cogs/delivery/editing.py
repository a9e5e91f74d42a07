"""Bringing a job message that already exists up to its job: by token, else by channel, else a reply in its place."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import discord

from bot.store.models import Job, MessageLink

from . import messages
from .compose import Compose, composer, extras_for, render
from .events import PRIVATE, RESPONSE_ONLY
from .media import NO_FILES, ResultCache, ResultFiles
from .messages import Outgoing, cannot_edit, send_with_fallback, token_gone
from .places import attachment_limit

if TYPE_CHECKING:
    from bot.bot import MJBot

    from .dms import DirectMessages
    from .owners import OwnerNames
    from .pacing import EditPacer
    from .tokens import TokenBook

#: The cog's logger (``cogs.delivery.cog``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.cog")

#: Bound of the memory of which files each final message carries (so a refresh uploads nothing again).
_SHOWN_MEMORY: Final = 2048

#: Post a job's message in a channel as a reply to a message; the new message's id, or None.
PostReply = Callable[[str, int, int], Awaitable[int | None]]


class ShownFiles:
    """Owns the memory of final messages: the names of the files on each and the result URLs."""

    def __init__(self) -> None:
        self._shown: OrderedDict[int, tuple[tuple[str, ...], tuple[str, ...]]] = OrderedDict()

    def get(self, message_id: int) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        return self._shown.get(message_id)

    def forget(self, message_id: int) -> None:
        self._shown.pop(message_id, None)

    def remember(self, message_id: int, job: Job, sent: ResultFiles) -> None:
        if not job.finished:
            self._shown.pop(message_id, None)
            return
        self._shown[message_id] = (sent.names, sent.links)
        self._shown.move_to_end(message_id)
        while len(self._shown) > _SHOWN_MEMORY:
            self._shown.popitem(last=False)


class MessageEditor:
    """Owns editing a linked message to show its job, and which messages could be neither edited nor replaced."""

    def __init__(
        self,
        bot: MJBot,
        *,
        pacer: EditPacer,
        tokens: TokenBook,
        owners: OwnerNames,
        results: ResultCache,
        dms: DirectMessages,
        post_reply: PostReply,
        links_changed: Callable[[str], None],
    ) -> None:
        self.bot = bot
        self._pacer = pacer
        self._tokens = tokens
        self._owners = owners
        self._results = results
        self._dms = dms
        self._post_reply = post_reply
        self._links_changed = links_changed
        self.shown = ShownFiles()
        #: Messages whose result could not be delivered in any way, and when that was found.
        self._failed: dict[int, float] = {}

    async def update(self, link: MessageLink, job: Job) -> bool:
        """Edit the message by token, else by channel; a final state that fits neither is posted as a reply.

        True when ``link``'s own message now shows ``job``.
        """
        compose, result = await self._outgoing(link, job)
        if self._tokens.usable(link):
            try:
                _, sent = await send_with_fallback(
                    lambda out: messages.edit_by_token(self.bot, link, out), compose, result
                )
            except discord.HTTPException as error:
                if token_gone(error):
                    self._tokens.died(link.message_id)
                    log.info(
                        "job %s (guild %s): interaction token no longer valid; using the channel", job.id, link.guild_id
                    )
                elif not cannot_edit(error):
                    raise
            else:
                self.shown.remember(link.message_id, job, sent)
                return True
        if link.purpose in (PRIVATE, RESPONSE_ONLY):
            return await self._dms.token_ended(link, job)
        if link.channel_id is not None:
            try:
                _, sent = await send_with_fallback(
                    lambda out: messages.edit_in_channel(self.bot, link, out), compose, result
                )
            except discord.HTTPException as error:
                if not cannot_edit(error):
                    raise
                log.info(
                    "job %s (guild %s): cannot edit message %s in its channel (%s %s)",
                    job.id,
                    link.guild_id,
                    link.message_id,
                    error.status,
                    error.code,
                )
            else:
                self.shown.remember(link.message_id, job, sent)
                return True
        if job.finished:
            await self._reply_instead(link, job)
        return False

    async def _reply_instead(self, link: MessageLink, job: Job) -> None:
        """Post the result as a reply to a message that can no longer be edited, and move the link to the reply."""
        new_id = None
        if link.channel_id is not None and link.purpose != "dm":
            new_id = await self._post_reply(job.id, link.channel_id, link.message_id)
        if new_id is None:
            self._failed[link.message_id] = self._tokens.clock()
            log.warning(
                "job %s (guild %s): the result could not be delivered: message %s can't be edited and nothing "
                "could be posted in channel %s",
                job.id,
                link.guild_id,
                link.message_id,
                link.channel_id,
            )
            return
        await self.bot.services.store.links.unlink_message(link.message_id)
        self._links_changed(job.id)
        log.info("job %s (guild %s): result posted as message %s instead", job.id, link.guild_id, new_id)

    async def _outgoing(self, link: MessageLink, job: Job) -> tuple[Compose, ResultFiles]:
        owner = await self._owners.of(job)
        with_view = link.purpose != "dm"
        extras = await extras_for(
            self.bot, job, private=link.purpose == PRIVATE, response_only=link.purpose == RESPONSE_ONLY
        )
        shown = self.shown.get(link.message_id)
        if job.finished and shown is not None and link.delivered == job.status:
            # The files are on the message already: change the text and buttons only, upload nothing.
            names, urls = shown
            kept = ResultFiles(links=urls)

            def keep(_: ResultFiles) -> Outgoing:
                rendered = render(self.bot, job, owner, names, () if names else urls, extras)
                return Outgoing(rendered, kept, with_view=with_view, keep_files=True)

            return keep, kept
        limit = attachment_limit(self.bot, link)
        result = await self._results.files_for(job, limit) if job.finished else NO_FILES
        return composer(self.bot, job, owner, with_view=with_view, extras=extras), result

    def failures(self, waiting: set[int]) -> dict[int, float]:
        """When each of the ``waiting`` messages was found undeliverable; the others are forgotten."""
        self._failed = {message_id: at for message_id, at in self._failed.items() if message_id in waiting}
        return self._failed

    def settled(self, message_id: int) -> None:
        """The message shows its finished job: it is no longer undeliverable."""
        self._failed.pop(message_id, None)

    def release(self, job: Job, *, besides: int | None = None) -> None:
        """Forget the job's downloaded files unless another of its messages is about to use them."""
        if job.finished and not self._pacer.busy_with(job.id, besides=besides):
            self._results.release(job.id)
