"""The gateway websocket: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME with replay, dispatch.

Sharded as Discord is: an IDENTIFY with ``shard: [id, count]`` opens a session of that shard, which hears only of
the guilds it owns (``(guild_id >> 22) % count == id``) and, on shard 0, of DMs. A session without ``shard`` is shard
0 of 1 and owns everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .payloads import client_user_payload, guild_create_payload, member_payload

if TYPE_CHECKING:
    from .model import FakeGuild
    from .server import FakeDiscord

log = logging.getLogger(__name__)

#: Large, so heartbeats stay out of the way of tests.
HEARTBEAT_INTERVAL_MS = 41250

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

#: Close codes after which Discord will not let the session resume.
_SESSION_ENDING_CODES = frozenset({1000, 1001, 4004, 4007, 4009, 4010, 4011, 4012, 4013, 4014})


class GatewayConnection:
    """One websocket; sends text frames, or one zlib stream of binary frames when compression is on."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool, query: dict[str, str]) -> None:
        self.ws = ws
        self.compress = compress
        self.query = query
        self.session: GatewaySession | None = None
        self.server_close_code: int | None = None
        #: Set when the fake asked the client to reconnect (op 7, resumable op 9): its close is not a goodbye.
        self.expect_close = False
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, frame: dict[str, Any]) -> bool:
        text = json.dumps(frame)
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                if self._compressor is not None:
                    data = self._compressor.compress(text.encode()) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
        return True


@dataclass(eq=False)
class GatewaySession:
    """A gateway session: survives a dropped connection until the client resumes it."""

    session_id: str
    identify: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    connection: GatewayConnection | None = None
    #: Ended by a clean close, an invalidation or a new IDENTIFY; it can no longer be resumed.
    ended: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def intents(self) -> int:
        return int(self.identify.get("intents") or 0)

    @property
    def token(self) -> str:
        return str(self.identify.get("token"))

    @property
    def shard(self) -> tuple[int, int]:
        """``(shard id, shard count)`` as the client identified; ``(0, 1)`` without sharding."""
        given = self.identify.get("shard") or [0, 1]
        return int(given[0]), int(given[1])

    def owns(self, guild_id: int | None) -> bool:
        """Whether this session's shard carries ``guild_id``'s events (None: a DM, which shard 0 carries)."""
        shard_id, count = self.shard
        return shard_id == 0 if guild_id is None else shard_of(guild_id, count) == shard_id

    def next_frame(self, event: str, data: Any) -> dict[str, Any]:
        self.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
        self.events.append(frame)
        return frame


def shard_of(guild_id: int, count: int) -> int:
    """The shard that carries a guild's events, as Discord assigns it."""
    return (guild_id >> 22) % count


def guild_of(event: str, data: Any) -> int | None:
    """The guild an event is about (None: a DM, or not about a guild)."""
    if not isinstance(data, dict):
        return None
    key = "id" if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else "guild_id"
    value = data.get(key)
    return int(value) if value is not None else None


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.connections: list[GatewayConnection] = []
        #: Query and compression of every websocket opened, in order.
        self.opened: list[dict[str, Any]] = []
        self.sessions: dict[str, GatewaySession] = {}
        #: The session identified last, whatever its shard.
        self.current: GatewaySession | None = None
        #: The latest session of each shard id, in the order they were identified.
        self.shards: dict[int, GatewaySession] = {}
        #: Every payload the client sent, in order (heartbeats included).
        self.received: list[dict[str, Any]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.heartbeats = 0

    # -- websocket handler -------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        compress = self.fake.compress and request.query.get("compress") == "zlib-stream"
        connection = GatewayConnection(ws, compress=compress, query=dict(request.query))
        self.connections.append(connection)
        self.opened.append({"query": dict(request.query), "compress": compress})
        try:
            await connection.send(
                {"op": OP_HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
            )
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                self.received.append(payload)
                await self._on_payload(connection, payload)
        finally:
            self._on_closed(connection)
        return ws

    def _on_closed(self, connection: GatewayConnection) -> None:
        with contextlib.suppress(ValueError):
            self.connections.remove(connection)
        session = connection.session
        if session is None or session.connection is not connection:
            return
        session.connection = None
        # A client that closes on its own is going away: discord.py's close() even sends 4000 while its
        # read loop runs, so the code alone cannot tell. Only drops the fake caused stay resumable.
        if connection.server_close_code is None and not connection.expect_close:
            session.ended = True
        self.fake.notify()

    async def _on_payload(self, connection: GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            await connection.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(connection, data or {})
        elif op == OP_RESUME:
            await self._resume(connection, data or {})
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._send_member_chunk(connection, data or {})
        self.fake.notify()

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if self.fake.required_token is not None and data.get("token") != self.fake.required_token:
            connection.server_close_code = 4004
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = GatewaySession(session_id=secrets.token_hex(16), identify=data)
        previous = self.shards.pop(session.shard[0], None)
        if previous is not None and previous.connection is None:
            previous.ended = True
        self.sessions[session.session_id] = session
        self.current = self.shards[session.shard[0]] = session
        connection.session = session
        session.connection = connection
        async with session.lock:
            await connection.send(session.next_frame("READY", self._ready_payload(session)))
            for guild in self._guilds_of(session):
                await connection.send(session.next_frame("GUILD_CREATE", guild_create_payload(guild)))

    def _guilds_of(self, session: GatewaySession) -> list[FakeGuild]:
        """The guilds the bot is in that ``session``'s shard carries."""
        return [g for g in self.fake.guilds.values() if self.fake.bot_user.id in g.members and session.owns(g.id)]

    def _ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "v": 10,
            "user": client_user_payload(self.fake.bot_user),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self._guilds_of(session)],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.fake.gateway_url,
            "application": {"id": str(self.fake.application.id), "flags": self.fake.application.flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fakediscord"],
        }
        if "shard" in session.identify:
            payload["shard"] = session.identify["shard"]
        return payload

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.ended or data.get("token") != session.token:
            await connection.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        async with session.lock:
            old = session.connection
            connection.session = session
            session.connection = connection
            if old is not None and old is not connection:
                old.session = None
                old.server_close_code = 4000
                await old.ws.close(code=4000)
            last = int(data.get("seq") or 0)
            for frame in list(session.events):
                if frame["s"] > last:
                    await connection.send(frame)
            await connection.send(session.next_frame("RESUMED", {"_trace": ["fakediscord"]}))
        self.current = session
        if self.shards.get(session.shard[0]) is not session:  # a resumed session is its shard's latest again
            self.shards.pop(session.shard[0], None)
            self.shards[session.shard[0]] = session

    async def _send_member_chunk(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        session = connection.session
        guild = self.fake.guilds.get(int(data.get("guild_id") or 0))
        if session is None or guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [m for m in guild.members.values() if not wanted or m.user.id in wanted]
        chunk = {
            "guild_id": str(guild.id),
            "members": [member_payload(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - {m.user.id for m in members}],
            "nonce": data.get("nonce"),
        }
        async with session.lock:
            await connection.send(session.next_frame("GUILD_MEMBERS_CHUNK", chunk))

    # -- controls used by FakeDiscord ----------------------------------------------------------------------

    def session_for(self, guild_id: int | None) -> GatewaySession | None:
        """The latest session of the shard that carries ``guild_id`` (None: DMs, on shard 0), if any."""
        owners = [session for session in self.shards.values() if session.owns(guild_id)]
        return owners[-1] if owners else None

    def live_session(self, guild_id: int | None = None, *, any_shard: bool = True) -> GatewaySession:
        """The session that carries ``guild_id``'s events; with ``any_shard`` and no guild, the one identified last."""
        session = self.current if any_shard and guild_id is None else self.session_for(guild_id)
        if session is None:
            if self.current is None:
                raise RuntimeError("no bot has identified with the fake gateway yet (is the bot running?)")
            where = "direct messages" if guild_id is None else f"guild {guild_id}"
            shards = sorted(s.shard for s in self.shards.values())
            raise RuntimeError(f"no connected shard carries {where} (the shards connected: {shards})")
        if session.ended:
            raise RuntimeError("the bot's gateway session has ended (did the bot stop or get invalidated?)")
        return session

    def connected_shards(self) -> list[tuple[int, int]]:
        """``(shard id, count)`` of every session with an open connection, sorted."""
        return sorted(
            s.shard for s in self.shards.values() if not s.ended and s.connection is not None and s.connection.open
        )

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH event to the shard that carries its guild (DMs: shard 0); it is queued for replay if the
        connection is down. Returns its sequence."""
        session = self.live_session(guild_of(event, data), any_shard=False)
        async with session.lock:
            frame = session.next_frame(event, data)
            if session.connection is not None:
                await session.connection.send(frame)
        return int(frame["s"])

    async def disconnect(self, code: int = 4000) -> None:
        """Close the bot's websocket from the server side; with a resumable code the client resumes."""
        session = self.live_session()
        connection = session.connection
        if connection is None:
            raise RuntimeError("the bot is not connected to the gateway right now")
        connection.server_close_code = code
        if code in _SESSION_ENDING_CODES:
            session.ended = True
        await connection.ws.close(code=code)

    async def send_op(self, op: int, data: Any, *, expect_close: bool = False) -> None:
        connection = self.live_session().connection
        if connection is None:
            raise RuntimeError("the bot is not connected to the gateway right now")
        connection.expect_close = connection.expect_close or expect_close
        await connection.send({"op": op, "d": data, "s": None, "t": None})

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        session = self.live_session()
        await self.send_op(OP_INVALID_SESSION, resumable, expect_close=resumable)
        if not resumable:
            session.ended = True

    async def close(self) -> None:
        for connection in list(self.connections):
            connection.server_close_code = 1001
            with contextlib.suppress(Exception):
                await connection.ws.close(code=1001, message=b"server shutting down")
