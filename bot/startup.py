"""Start-up failures an operator can mend, each said in one line: ``StartupError`` and the checks that raise it.

``mjbot`` prints the line and exits 1 (2 for a problem in the configuration); a traceback is for bugs only.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp

log = logging.getLogger(__name__)

#: Waits between attempts to reach Discord before giving up: about 30 s in all with the attempts' own time-outs.
DISCORD_RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0)
#: How long one attempt to reach Discord may take.
DISCORD_ATTEMPT_TIMEOUT_S: Final = 5.0


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
    timeout = aiohttp.ClientTimeout(total=DISCORD_ATTEMPT_TIMEOUT_S)
    problem = ""
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt, delay in enumerate((*delays, None), start=1):
            try:
                async with session.get(url) as answer:
                    if answer.status < 500:
                        return
                    problem = f"it answered HTTP {answer.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                problem = _describe(error)
            if delay is None:
                break
            log.warning("cannot reach Discord at %s (%s); trying again in %g s (try %d)", url, problem, delay, attempt)
            await sleep(delay)
    raise StartupError(
        f"cannot reach Discord at {api_base} after {len(delays) + 1} attempts ({problem}); "
        "check this machine's network, DNS and firewall (and [discord] api_base, if you set it)"
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {DISCORD_ATTEMPT_TIMEOUT_S:g} s"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "the name does not resolve"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"connection failed: {error.os_error.strerror or error.os_error}"
    return str(error) or type(error).__name__
