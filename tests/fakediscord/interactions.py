"""A handle on one interaction the fake sent to the bot, recording how the bot answered it."""

# ruff: noqa: ASYNC109 - the waiting helpers take a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .model import FakeMessage
from .payloads import CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE
from .recorder import RecordedRequest

if TYPE_CHECKING:
    from .server import FakeDiscord

#: Interaction tokens stay valid for 15 minutes.
TOKEN_LIFETIME = 15 * 60.0
#: The initial response must arrive within 3 seconds.
ACK_DEADLINE = 3.0


class InteractionHandle:
    """What the bot did with one interaction: its acknowledgement, the @original message and follow-ups.

    ``ack_type`` is the callback type (4 message, 5 deferred/thinking, 6 deferred update, 7 update,
    8 autocomplete result, 9 modal) and ``ack_delay`` the fake-clock seconds it took. ``original`` is
    the current @original message (None before one exists or after it was deleted).
    """

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], *, created_at: float) -> None:
        self.fake = fake
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.created_at = created_at
        self.channel_id = int(payload["channel"]["id"])
        self.guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        author = payload["member"]["user"] if "member" in payload else payload["user"]
        self.user_id = int(author["id"])
        self.attachment_size_limit: int = payload["attachment_size_limit"]
        self.ack_type: int | None = None
        self.ack_data: dict[str, Any] | None = None
        self.ack_delay: float | None = None
        #: Callback attempts that were refused: (callback type, error code).
        self.rejected_acks: list[tuple[int, int]] = []
        #: The modal the bot opened (callback type 9), as sent.
        self.modal: dict[str, Any] | None = None
        #: Autocomplete choices the bot returned (callback type 8).
        self.choices: list[dict[str, Any]] | None = None
        self.original_message_id: int | None = None
        self.followup_ids: list[int] = []
        self.token_revoked = False
        self.request_mark = len(fake.recorder)

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} ack_type={self.ack_type} user={self.user_id}>"

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.payload.get("data") or {})

    @property
    def context(self) -> int:
        """Where it happened: 0 a server's channel, 1 the bot's DMs, 2 a private channel (a group DM)."""
        return int(self.payload["context"])

    @property
    def owners(self) -> dict[str, str]:
        """``authorizing_integration_owners``: the installs that authorized it ("0" the server's, "1" a user's)."""
        return dict(self.payload.get("authorizing_integration_owners") or {})

    @property
    def message_id(self) -> int | None:
        """The message a component or modal interaction came from."""
        message = self.payload.get("message")
        return int(message["id"]) if message else None

    @property
    def acknowledged(self) -> bool:
        return self.ack_type is not None

    @property
    def deferred(self) -> bool:
        return self.ack_type in (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE)

    @property
    def thinking(self) -> bool:
        return self.ack_type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE

    @property
    def ephemeral(self) -> bool:
        """True if the response message is ephemeral (flag 64 on the callback or on @original)."""
        original = self.fake.messages_by_id.get(self.original_message_id or 0)
        if original is not None:
            return original.ephemeral
        flags = int((self.ack_data or {}).get("flags") or 0)
        return bool(flags & 64) and self.ack_type in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE)

    @property
    def original(self) -> FakeMessage | None:
        message = self.fake.messages_by_id.get(self.original_message_id or 0)
        if message is None or message.deleted:
            return None
        return message

    @property
    def followups(self) -> list[FakeMessage]:
        return [self.fake.messages_by_id[i] for i in self.followup_ids]

    @property
    def messages(self) -> list[FakeMessage]:
        """@original (if any) then follow-ups, each once, deleted ones left out."""
        ids = ([self.original_message_id] if self.original_message_id else []) + self.followup_ids
        unique = list(dict.fromkeys(ids))
        return [m for m in (self.fake.messages_by_id[i] for i in unique) if not m.deleted]

    @property
    def expired(self) -> bool:
        """True once the 15-minute token lifetime has passed on the fake clock, or after ``expire_token``."""
        return self.token_revoked or self.fake.now() - self.created_at > TOKEN_LIFETIME

    def expire_token(self) -> None:
        """From now on, webhook calls with this token get 401/50027 and callbacks 404/10062."""
        self.token_revoked = True

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST call made with this interaction's token."""
        return self.fake.recorder.matching(since=self.request_mark, predicate=lambda r: self.token in r.path)

    async def wait_for_response(self, timeout: float = 5.0) -> int:
        """Wait for the acknowledgement and return its callback type."""
        return await self.fake.wait_for(
            lambda: self.ack_type,
            timeout=timeout,
            what=lambda: f"a response to interaction {self.id} (rejected attempts: {self.rejected_acks})",
        )

    async def wait_for_message(
        self, predicate: Callable[[FakeMessage], bool] | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """The first of @original and follow-ups matching ``predicate`` (default: any that is not a placeholder)."""
        check = predicate or (lambda m: not m.loading)

        def find() -> FakeMessage | None:
            return next((m for m in self.messages if check(m)), None)

        return await self.fake.wait_for(
            find, timeout=timeout, what=lambda: f"a message from interaction {self.id}; have {self.messages}"
        )

    async def wait_for_original(
        self, predicate: Callable[[FakeMessage], bool] | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        check = predicate or (lambda m: not m.loading)

        def find() -> FakeMessage | None:
            original = self.original
            return original if original is not None and check(original) else None

        return await self.fake.wait_for(
            find, timeout=timeout, what=lambda: f"@original of interaction {self.id}; now {self.original!r}"
        )

    async def wait_for_followup(
        self, predicate: Callable[[FakeMessage], bool] | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        check = predicate or (lambda m: True)

        def find() -> FakeMessage | None:
            return next((m for m in self.followups if not m.deleted and check(m)), None)

        return await self.fake.wait_for(
            find, timeout=timeout, what=lambda: f"a follow-up of interaction {self.id}; have {self.followups}"
        )

    async def wait_for_modal(self, timeout: float = 5.0) -> dict[str, Any]:
        return await self.fake.wait_for(
            lambda: self.modal, timeout=timeout, what=lambda: f"a modal from interaction {self.id}"
        )
