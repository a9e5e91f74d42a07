"""The settings' types: one frozen dataclass per section of the TOML file, and ``Config`` holding them all."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.redact import without_password

EMULATOR = "emulator"
DEFAULT_CONFIG_PATH = Path("config.toml")


class ConfigError(Exception):
    """A configuration problem: the message names the key and says how to fix it."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token: str | None = field(default=None, repr=False)
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    sync_commands: bool = False
    guild_ids: tuple[int, ...] = ()
    allow_dms: bool = True
    #: How many shards the bot is split into, over every process; None: as many as Discord recommends.
    shard_count: int | None = None
    #: The shards this process connects (each from 0 to ``shard_count`` - 1); None: all of them.
    shard_ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class DmsSettings:
    """Jobs started in direct messages: whether they are taken, and the limits the operator pays for."""

    enabled: bool = True
    jobs_per_day: int = 5
    running: int = 1
    allow_turbo: bool = False
    allow_720p: bool = False


@dataclass(frozen=True, slots=True)
class AceDataSettings:
    token: str | None = field(default=None, repr=False)
    base_url: str = "https://api.acedata.cloud"
    request_timeout_s: float = 30.0

    @property
    def use_emulator(self) -> bool:
        return self.base_url == EMULATOR

    @property
    def media_may_be_private(self) -> bool:
        """Whether result media may come from private addresses: only when the API itself is on this machine or
        its network (the emulator, or a base URL at localhost or a private IP). A public API's results must be
        public too, so a result link, or a redirect, into the bot's own network is never fetched."""
        if self.use_emulator:
            return True
        host = (urlsplit(self.base_url).hostname or "").lower()
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return not address.is_global


@dataclass(frozen=True, slots=True)
class JobsSettings:
    poll_interval_s: float = 5.0
    job_timeout_s: float = 900.0
    callback_poll_interval_s: float = 60.0
    #: How long a process's claim on a job lasts without being renewed; another process may take the job after.
    lease_s: float = 30.0


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    enabled: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    public_url: str | None = None
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the jobs are kept: the SQLite file at ``path``, unless ``url`` names a PostgreSQL database."""

    path: str = "data/mjbot.sqlite3"
    #: ``postgresql://user:password@host:port/db``; None keeps SQLite. Show it only as ``shown_url``.
    url: str | None = None

    @property
    def uses_postgres(self) -> bool:
        return self.url is not None

    @property
    def location(self) -> str:
        """What ``Store.open`` takes: the PostgreSQL URL when set, else the SQLite file's path."""
        return self.url if self.url is not None else self.path

    @property
    def shown_url(self) -> str | None:
        """``url`` fit for a log or a terminal: its password replaced by ``***``."""
        return None if self.url is None else without_password(self.url)

    def __repr__(self) -> str:
        return f"StoreSettings(path={self.path!r}, url={self.shown_url!r})"


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Knobs of the built-in emulator, used when ``[acedata] base_url = "emulator"``."""

    job_duration_s: float = 8.0
    video_duration_s: float = 20.0
    failure_rate: float = 0.0
    moderation_words: tuple[str, ...] = ("forbidden",)
    listen_port: int = 8787


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Prometheus metrics at ``GET /metrics`` on the bot's listener; off, that path answers 404 and nothing records."""

    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    acedata: AceDataSettings = field(default_factory=AceDataSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    callback: CallbackSettings = field(default_factory=CallbackSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dms: DmsSettings = field(default_factory=DmsSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    source: Path | None = None

    @property
    def sandbox(self) -> bool:
        """True when the bot talks to its built-in emulator: nothing is paid for."""
        return self.acedata.use_emulator

    @property
    def dms_enabled(self) -> bool:
        """Whether the bot takes commands in DMs (``[dms] enabled``, or its older name ``[discord] allow_dms``)."""
        return self.dms.enabled and self.discord.allow_dms


_SECTIONS: dict[str, type[Any]] = {
    "discord": DiscordSettings,
    "acedata": AceDataSettings,
    "jobs": JobsSettings,
    "callback": CallbackSettings,
    "store": StoreSettings,
    "emulator": EmulatorConfig,
    "logging": LoggingSettings,
    "dms": DmsSettings,
    "metrics": MetricsSettings,
}


_SECRET_ENV = {("discord", "token"): "DISCORD_TOKEN", ("acedata", "token"): "ACEDATA_TOKEN"}


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
