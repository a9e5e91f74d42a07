"""Builds and closes the core services (HTTP session, API client, store, engine, web listener).

The Discord bot and the CLI share this, so both run the same engine on the same store. In sandbox
mode (``[acedata] base_url = "emulator"``) the API emulator runs in-process on loopback and the
client talks to it over real HTTP, exactly as it would to Ace Data Cloud.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot import __version__
from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.addresses import ANYWHERE, NOWHERE, PrivateAccess, reaches_public_internet
from bot.config import Config
from bot.jobs import ChainRunner, JobEngine, QueueRunner
from bot.metrics import Metrics
from bot.scopes import SettingsFor, dm_settings, queued_refusal, settings_reader
from bot.startup import listen_error
from bot.store import Lease, Store
from bot.store.leases import new_owner_id
from bot.store.owner import StoreOwner
from bot.web import WebServer, callback_path_prefix, callback_url_for

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything below the Discord layer, opened together and closed in reverse order."""

    config: Config
    session: aiohttp.ClientSession
    client: AceDataClient
    store: Store
    engine: JobEngine
    chains: ChainRunner
    queue: QueueRunner
    emulator: Emulator | None = None
    web: WebServer | None = None
    owner: StoreOwner | None = None
    #: When the services were opened (Unix seconds): the bot's uptime.
    started_at: float = field(default_factory=time.time)
    #: This process's metrics (``[metrics] enabled``), served at ``GET /metrics`` on the listener.
    metrics: Metrics = field(default_factory=lambda: Metrics(enabled=False))

    @classmethod
    async def open(
        cls,
        config: Config,
        *,
        listen: bool = True,
        health: Callable[[], Awaitable[Mapping[str, Any]]] | None = None,
        command: str = "mjbot run",
        metrics: Metrics | None = None,
    ) -> Services:
        """Open the services; ``listen`` starts the callback/health listener (the bot does, the CLI does not).

        ``metrics`` are the process's (the bot makes them first, to time its interactions); by default new ones,
        on as ``[metrics] enabled`` says.

        The engine settles and finishes every unfinished job of the store, so the store is taken for this
        process first (``command`` names it to others): a second engine on the same file raises
        :class:`~bot.store.owner.StoreInUseError` before anything else starts.
        """
        emulator: Emulator | None = None
        session: aiohttp.ClientSession | None = None
        store: Store | None = None
        started: JobEngine | None = None
        owner = take_store(config, command)
        if metrics is None:
            metrics = Metrics(enabled=config.metrics.enabled)
        try:
            if not config.store.uses_postgres:
                Path(config.store.path).parent.mkdir(parents=True, exist_ok=True)
            token = config.acedata.token or ""
            base_url = config.acedata.base_url
            if config.sandbox:
                token = secrets.token_urlsafe(16)
                emulator = Emulator(_emulator_settings(config, token))
                base_url = await _start_emulator(emulator, config.emulator.listen_port)
                log.info("sandbox mode: the built-in API emulator answers at %s; nothing is charged", base_url)
            session = aiohttp.ClientSession(headers={"user-agent": f"mjbot/{__version__}"})
            client = AceDataClient(
                session,
                token=token,
                base_url=base_url,
                request_timeout_s=config.acedata.request_timeout_s,
                observe=metrics.api_request if metrics.enabled else None,
            )
            store = await Store.open(config.store.location)
            metrics.count_queued(store.queue.queued_count)
            callbacks = config.callback
            callback_url = (
                callback_url_for(callbacks.public_url, callbacks.secret)
                if listen and callbacks.enabled and callbacks.public_url and callbacks.secret
                else None
            )
            engine = JobEngine(
                client,
                store,
                poll_interval_s=config.jobs.poll_interval_s,
                job_timeout_s=config.jobs.job_timeout_s,
                callback_url=callback_url,
                callback_poll_interval_s=config.jobs.callback_poll_interval_s,
                lease=Lease(new_owner_id(), config.jobs.lease_s),
                shared=config.store.uses_postgres,
                metrics=metrics,
            )
            rules = settings_reader(store, dm_settings(config.dms))
            chains = ChainRunner(engine, store, settings_for=rules)
            refusal = queued_refusal(store, rules, dms_enabled=config.dms_enabled)
            queue = QueueRunner(engine, store, running_limit_reader(rules), refusal=refusal)
            services = cls(
                config, session, client, store, engine, chains, queue, emulator, owner=owner, metrics=metrics
            )
            if listen:
                services.web = WebServer(
                    engine,
                    host=callbacks.listen_host,
                    port=callbacks.listen_port,
                    callback_secret=callbacks.secret if callback_url else None,
                    callback_path_prefix=callback_path_prefix(callbacks.public_url or "") if callback_url else "",
                    health=health,
                    metrics=metrics,
                )
                try:
                    await services.web.start()
                except OSError as error:
                    keys = "[callback] listen_host and listen_port"
                    raise listen_error(
                        error, host=callbacks.listen_host, port=callbacks.listen_port, keys=keys
                    ) from None
            await engine.start()
            started = engine
            await chains.start()
            await queue.start()
            return services
        except BaseException:
            if started is not None:  # cancelled (a stop) while the chains or the queue caught up
                await started.stop()
            if store is not None:
                await store.close()
            if session is not None:
                await session.close()
            if emulator is not None:
                await emulator.stop()
            if owner is not None:
                owner.release()
            raise

    @property
    def member_links(self) -> PrivateAccess:
        """Where inside the bot's own network a member's link may lead: only to the sandbox emulator (its sample
        frames and media) and to a Discord the bot is configured to reach there (a loopback Discord, which serves
        the uploads). Sandbox or not, nowhere else: a member must not learn what answers inside."""
        own = [] if self.emulator is None else [self.emulator.url]
        api_base = self.config.discord.api_base
        if not reaches_public_internet(api_base):
            own.append(api_base)
        return PrivateAccess.to(*own)

    @property
    def result_links(self) -> PrivateAccess:
        """Where inside the bot's own network a result may be downloaded from: in the sandbox, the emulator's
        origin, where its media links point; with an API on the operator's own network, anywhere there (such an
        API, a standalone emulator or a proxy, may name its media host otherwise than its base URL); else nowhere."""
        if self.emulator is not None:  # its media links may name the configured port, held by another process
            return PrivateAccess.to(self.emulator.url, *filter(None, [self.emulator.settings.public_url]))
        return ANYWHERE if self.config.acedata.media_may_be_private else NOWHERE

    async def close(self) -> None:
        await self.queue.stop()
        await self.chains.stop()
        await self.engine.stop()
        if self.web is not None:
            await self.web.stop()
        await self.store.close()
        await self.session.close()
        if self.emulator is not None:
            await self.emulator.stop()
        if self.owner is not None:
            self.owner.release()


def running_limit_reader(settings_for: SettingsFor) -> Callable[[int | None, int], Awaitable[int | None]]:
    """The queue's view of the running-jobs limit per member of a server (or of direct messages: ``[dms] running``)."""

    async def limit_for(guild_id: int | None, user_id: int) -> int | None:
        return (await settings_for(guild_id)).limits.max_running_per_user

    return limit_for


async def _start_emulator(emulator: Emulator, port: int) -> str:
    """Listen on the configured port, so earlier media links stay valid; any free port if it is taken.

    On another port the media links still name the configured one: whoever holds it (``mjbot emulator`` reads this
    run's state file) serves them, also after this run ends, so every task is saved before its answer goes out.
    """
    try:
        return await emulator.start("127.0.0.1", port)
    except OSError as exc:
        if port == 0:
            raise
        log.warning(
            "sandbox: port %d is taken (%s); this run listens on another port, and its media links name port %d "
            "for the process there to serve",
            port,
            exc.strerror,
            port,
        )
        emulator.settings.public_url = f"http://127.0.0.1:{port}"
        emulator.settings.save_before_answer = True
        return await emulator.start("127.0.0.1", 0)


def take_store(config: Config, command: str) -> StoreOwner | None:
    """Take an SQLite store for this process (``command`` names it to others; raises StoreInUseError if another
    holds it). A PostgreSQL store is shared: its processes divide the jobs between them by leases."""
    if config.store.uses_postgres:
        return None
    return StoreOwner.acquire(config.store.path, command)


def emulator_state_path(config: Config) -> Path:
    """The sandbox emulator's tasks live beside the store, so a restart keeps them."""
    store = Path(config.store.path)
    return store.with_name(store.stem + ".emulator.json")


def _emulator_settings(config: Config, token: str) -> EmulatorSettings:
    knobs = config.emulator
    return EmulatorSettings(
        state_path=str(emulator_state_path(config)),
        tokens=frozenset({token}),
        job_duration_s=knobs.job_duration_s,
        video_duration_s=knobs.video_duration_s,
        failure_rate=knobs.failure_rate,
        moderation_words=knobs.moderation_words,
    )
