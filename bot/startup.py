"""Start-up failures an operator can mend, each said in one line: ``StartupError`` and the checks that raise it.

``mjbot`` prints the line and exits 1 (2 for a problem in the configuration); a traceback is for bugs only.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp
import yarl

log = logging.getLogger(__name__)

#: Waits between attempts to reach Discord before giving up: four attempts over about 7 s.
DISCORD_RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0)
#: How long one attempt to reach Discord may take: with the waits, a Discord that never answers is told in 19 s.
DISCORD_ATTEMPT_TIMEOUT_S: Final = 3.0
#: The gateway's first frame, which it sends as soon as the websocket is open.
GATEWAY_HELLO_OP: Final = 10


class StartupError(Exception):
    """The bot cannot start, for a reason the operator can mend; the message says what to do."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def listen_error(error: OSError, *, host: str, port: int, keys: str) -> StartupError:
    """A listener that could not open its port, said with the config keys that choose it."""
    if error.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} on {host} is already in use by another program ({keys}): stop that program "
            "or choose another port"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return StartupError(
            f"no permission to listen on port {port} on {host} ({keys}): ports below 1024 need root; use 1024 or more"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return StartupError(f"cannot listen on {host}:{port} ({keys}): this machine has no such address", exit_code=2)
    return StartupError(f"cannot listen on {host}:{port} ({keys}): {error.strerror or error}")


async def wait_for_discord(
    api_base: str,
    *,
    delays: tuple[float, ...] = DISCORD_RETRY_DELAYS_S,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Make sure Discord's API answers at all, retrying with backoff; ``StartupError`` when it never does.

    Asks ``GET /gateway``, which needs no token, so a wrong token is told apart later by Discord's own 401.
    """
    url = f"{api_base.rstrip('/')}/gateway"

    async def attempt(session: aiohttp.ClientSession) -> str | None:
        async with session.get(url) as answer:
            return f"it answered HTTP {answer.status}" if answer.status >= 500 else None

    problem = await _retry(attempt, what=f"Discord at {url}", delays=delays, sleep=sleep)
    if problem is not None:
        raise StartupError(
            f"cannot reach Discord at {api_base} after {len(delays) + 1} attempts ({problem}); "
            "check this machine's network, DNS and firewall (and [discord] api_base, if you set it)"
        )


async def wait_for_gateway(
    gateway_url: str,
    *,
    delays: tuple[float, ...] = DISCORD_RETRY_DELAYS_S,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Make sure Discord's gateway opens a websocket and says hello, retrying with backoff; else ``StartupError``.

    The REST API can work while the websocket cannot (a proxy or firewall that lets only HTTPS through, a wrong
    ``gateway_url``), and discord.py would then retry its first connection with long waits and tracebacks.
    Nothing is sent on the websocket, so the check costs no session start.
    """
    url = yarl.URL(gateway_url).update_query(v="10", encoding="json")

    async def attempt(session: aiohttp.ClientSession) -> str | None:
        async with session.ws_connect(url, autoping=False) as websocket:
            message = await websocket.receive()
            if message.type is aiohttp.WSMsgType.TEXT and _op_of(message.data) == GATEWAY_HELLO_OP:
                return None
            return "it opened a websocket but did not say hello"

    problem = await _retry(attempt, what=f"Discord's gateway at {gateway_url}", delays=delays, sleep=sleep)
    if problem is not None:
        raise StartupError(
            f"cannot reach Discord's gateway at {gateway_url} after {len(delays) + 1} attempts ({problem}); "
            "check that this machine's network, proxy and firewall let websockets through "
            "(and [discord] gateway_url, if you set it)"
        )


async def _retry(
    attempt: Callable[[aiohttp.ClientSession], Awaitable[str | None]],
    *,
    what: str,
    delays: tuple[float, ...],
    sleep: Callable[[float], Awaitable[object]],
) -> str | None:
    """Run ``attempt`` until it finds no problem, waiting ``delays`` between tries; the last problem, if any."""
    problem: str | None = None
    async with aiohttp.ClientSession() as session:
        for number, delay in enumerate((*delays, None), start=1):
            try:
                async with asyncio.timeout(DISCORD_ATTEMPT_TIMEOUT_S):
                    problem = await attempt(session)
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                problem = _describe(error)
            if problem is None or delay is None:
                break
            log.warning("cannot reach %s (%s); trying again in %g s (try %d)", what, problem, delay, number)
            await sleep(delay)
    return problem


def _op_of(text: str) -> object:
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    return payload.get("op") if isinstance(payload, dict) else None


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {DISCORD_ATTEMPT_TIMEOUT_S:g} s"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "the name does not resolve"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"connection failed: {error.os_error.strerror or error.os_error}"
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"it answered HTTP {error.status} instead of opening a websocket"
    return str(error) or type(error).__name__
