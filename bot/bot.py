"""The Discord bot: a ``commands.AutoShardedBot`` that owns the core services and has the cogs built by name."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import __version__
from bot.config import Config
from bot.metrics import Metrics, interaction_trace
from bot.runtime import Services
from bot.shards import GatewayWatch as GatewayWatch
from bot.shards import ShardWatch, milliseconds
from bot.startup import StartupError, wait_for_discord, wait_for_gateway

log = logging.getLogger(__name__)

#: The function that builds the cogs, each with the services it uses, and adds them to the bot; by name, so
#: ``bot`` never imports ``cogs``. It takes the bot and the names of the cogs to run (None: all of them).
WIRING = "cogs.wiring:wire"
#: The command tree, by name for the same reason: it turns every command error into an ephemeral answer.
TREE_CLASS = "cogs.errors:MJCommandTree"
#: The translator of command names, descriptions and choices (the language files live with the cogs).
TRANSLATOR_CLASS = "cogs.i18n:CatalogTranslator"


def load_tree_class(path: str = TREE_CLASS) -> type[app_commands.CommandTree[Any]]:
    """The ``module:Class`` command tree class (a CommandTree subclass)."""
    module_name, _, class_name = path.partition(":")
    tree_cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(tree_cls, type) and issubclass(tree_cls, app_commands.CommandTree)):
        raise TypeError(f"{path} is not a discord.py CommandTree subclass")
    return tree_cls


Wiring = Callable[["MJBot", Sequence[str] | None], Awaitable[object]]


def load_wiring(path: str = WIRING) -> Wiring:
    """The ``module:function`` that builds and adds the cogs."""
    module_name, _, function_name = path.partition(":")
    wire = getattr(importlib.import_module(module_name), function_name)
    if not callable(wire):
        raise TypeError(f"{path} is not a function")
    return cast(Wiring, wire)


def load_translator(path: str = TRANSLATOR_CLASS) -> app_commands.Translator:
    """A new ``module:Class`` translator (an app_commands.Translator subclass)."""
    module_name, _, class_name = path.partition(":")
    translator_cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(translator_cls, type) and issubclass(translator_cls, app_commands.Translator)):
        raise TypeError(f"{path} is not a discord.py Translator subclass")
    translator: app_commands.Translator = translator_cls()
    return translator


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Send discord.py's REST calls and gateway connection to another Discord-compatible server.

    Both are class attributes that discord.py reads when it builds a request or connects, so this
    must run before ``start``. The resume URL comes from the server's READY payload.
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url.rstrip("/") + "/")


def bot_intents() -> discord.Intents:
    """Guilds and reactions only: no message content, no members (nothing privileged)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    return intents


def freeze_startup_heap() -> None:
    """Collect once, then leave every object alive now out of all later collections.

    A full collection walks every tracked object; with discord.py, aiohttp and the services loaded that is
    tens of thousands of long-lived objects and a pause of 50 to 100 ms, long enough to push the
    acknowledgements of a burst of commands past their budget. Frozen, the start-up objects are no longer
    walked, so later full collections only look at what the bot created since.
    """
    gc.collect()
    gc.freeze()


class MJBot(commands.AutoShardedBot):
    """Builds the services in ``setup_hook`` and closes them in ``close``.

    Sharded as ``[discord] shard_count`` and ``shard_ids`` say: this process connects those shards only, and without
    them all the shards Discord recommends (one, for a bot in fewer than 2,500 servers).

    ``freeze_heap`` (what ``mjbot run`` uses) calls ``freeze_startup_heap`` once the services and the cogs are
    loaded; tests that start many bots in one process leave it off.
    """

    services: Services

    def __init__(
        self,
        config: Config,
        *,
        cogs: Sequence[str] | None = None,
        freeze_heap: bool = False,
        **options: Any,
    ) -> None:
        options.setdefault("tree_cls", load_tree_class())
        if config.discord.shard_count is not None:
            options.setdefault("shard_count", config.discord.shard_count)
        if config.discord.shard_ids is not None:
            options.setdefault("shard_ids", list(config.discord.shard_ids))
        # Made before the client, so that discord.py's session times each interaction's answer.
        metrics = Metrics(enabled=config.metrics.enabled)
        if metrics.enabled:
            options.setdefault("http_trace", interaction_trace(metrics))
        # The bot never joins voice: discord.py's warnings about its missing voice libraries would only alarm.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.config = config
        #: This process's metrics (``[metrics] enabled``); the services record into them and serve them.
        self.metrics = metrics
        #: The cogs to run, by the names ``WIRING`` knows (None: all of them).
        self._cog_names = None if cogs is None else tuple(cogs)
        self._freeze_heap = freeze_heap
        self._close_task: asyncio.Task[None] | None = None
        self._services: Services | None = None
        self.shard_watch = ShardWatch()
        if self.metrics.enabled:
            self.add_listener(self._count_interaction, "on_interaction")

    async def setup_hook(self) -> None:
        # Before any sync: the command payloads carry the translations.
        await self.tree.set_translator(load_translator())
        self._services = await Services.open(self.config, health=self._health, metrics=self.metrics)
        self.services = self._services
        await load_wiring()(self, self._cog_names)
        if self.config.discord.sync_commands:
            await self._sync_commands()
        if self._freeze_heap:
            freeze_startup_heap()

    async def _sync_commands(self) -> None:
        guild_ids = self.config.discord.guild_ids
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d global application commands", len(synced))
            return
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d application commands to guild %s", len(synced), guild_id)

    async def launch_shards(self) -> None:
        """Ask Discord how many shards to run when the config does not say, then connect them at the configured
        ``[discord] gateway_url`` (discord.py would take the address Discord's answer names), the one the start-up
        check has just reached."""
        count: int | None = getattr(self, "shard_count", None)  # discord.py types it as known (int) already
        if count is None and not self.is_closed():
            self.shard_count, _, _ = await self.http.get_bot_gateway()
            log.info("Discord recommends %d shard(s); connecting all of them", self.shard_count)
        await super().launch_shards()

    def own_shard_ids(self) -> list[int]:
        """The shards this process connects; none while the number of shards is not known yet."""
        if self.shard_ids is not None:
            return list(self.shard_ids)
        return list(range(self.shard_count or 0))

    async def _count_interaction(self, interaction: discord.Interaction[MJBot]) -> None:
        self.metrics.interaction(interaction.type.name)

    async def on_shard_ready(self, shard_id: int) -> None:
        self.shard_watch.connected(shard_id)  # its guilds have arrived, on the first connection or a new session

    async def on_shard_resumed(self, shard_id: int) -> None:
        self.shard_watch.connected(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self.shard_watch.disconnected(shard_id)

    async def _health(self) -> Mapping[str, Any]:
        shard_ids = self.own_shard_ids()
        connected = not self.is_closed() and self.is_ready() and self.shard_watch.is_connected(shard_ids)
        return {
            "discord_connected": connected,
            "problems": {"discord": self.shard_watch.problem(shard_ids)},
            "latency_ms": milliseconds(self.latency),
            "shard_count": self.shard_count,
            "shards": self.shard_watch.report(shard_ids, dict(self.latencies)),
            "guilds": len(self.guilds),
            "sandbox": self.config.sandbox,
        }

    async def close(self) -> None:
        """Close the Discord connection, then the services.

        There is one close, however many callers ask for it (a signal, ``async with``, ``run_bot``), and each
        of them waits until the services are closed too: the store and the emulator are never left half closed
        by a caller that returned early.
        """
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close_all(), name="mjbot-close")
        await asyncio.shield(self._close_task)

    async def _close_all(self) -> None:
        # discord.py waits a moment for the guilds after connecting before it dispatches ``ready`` (and, per shard,
        # ``shard_ready``); a close within that moment would leave the wait to dispatch on a closed client (an
        # AttributeError at exit).
        state = self._connection
        waits: list[asyncio.Task[None] | None] = [getattr(state, "_ready_task", None)]
        waits.extend(getattr(state, "_ready_tasks", {}).values())
        for ready in waits:
            if ready is not None:
                ready.cancel()
        try:
            # discord.py sets a client up (its loop; a sharded client's event queue) on ``async with`` or ``login``.
            # A bot stopped before that (a start-up check failed) has no connection to close, and the sharded
            # client's close would fail on the missing queue.
            if isinstance(getattr(self, "loop", None), asyncio.AbstractEventLoop):
                await super().close()
        finally:
            if self._services is not None:
                services, self._services = self._services, None
                await services.close()


async def run_bot(config: Config) -> None:
    """Run until the gateway closes or SIGINT/SIGTERM arrives, then close everything cleanly.

    A stop that is asked for cancels the bot's start wherever it is: the start-up checks, setup, a gateway
    connection or discord.py's wait between reconnects, which can last minutes. Leaving ``async with bot`` then
    closes the connection and the services (the engine cuts a tick stuck on the API short), so the process ends
    within seconds, as ``docker stop`` expects. Nothing is lost: a job is written before the API hears of it, and
    the next start settles what was under way. A requested stop is not a failure: ``run_bot`` returns normally.
    """
    point_discord_at(config.discord.api_base, config.discord.gateway_url)
    bot = MJBot(config, freeze_heap=True)
    loop = asyncio.get_running_loop()
    running = loop.create_task(_start(bot, config), name="mjbot-start")

    def stop(sig: signal.Signals) -> None:
        if not running.done() and not running.cancelling():
            log.info("%s received: stopping", sig.name)
            running.cancel()

    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop, sig)
            handled.append(sig)
    log.info("mjbot %s starting (sandbox=%s)", __version__, config.sandbox)
    try:
        await asyncio.wait({running})  # not ``await running``: its cancellation is a stop, not ours
        if not running.cancelled():
            running.result()  # a start-up error
    finally:
        if not running.done():  # run_bot itself was cancelled
            running.cancel()
            await asyncio.wait({running})
        # ``start`` returns as soon as the gateway is closed; the services close after that.
        await bot.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
        log.info("mjbot stopped")


async def _start(bot: MJBot, config: Config) -> None:
    """Check that Discord's API and gateway answer, then log in, set up and stay connected until closed."""
    await wait_for_discord(config.discord.api_base)
    await wait_for_gateway(config.discord.gateway_url)
    async with bot:
        try:
            await bot.start(config.discord.token or "")
        except discord.LoginFailure:
            raise StartupError(
                "Discord refused the bot token (401 Unauthorized): copy the token again from the developer "
                "portal (your application, Bot, Reset Token) into [discord] token or DISCORD_TOKEN",
                exit_code=2,
            ) from None
        except aiohttp.ClientConnectorError as error:
            raise StartupError(f"lost the connection to Discord while logging in: {error}; try again") from None
