"""Checks of the settings as a whole: what must be there, what must be more than zero, what must be a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.redact import without_password

from .model import _LOG_LEVELS, Config, ConfigError, DiscordSettings, JobsSettings


def _validate(config: Config, *, require_discord: bool, require_acedata: bool) -> None:
    discord, acedata, jobs, callback = config.discord, config.acedata, config.jobs, config.callback
    if require_discord and not discord.token:
        raise ConfigError(
            "[discord] token is missing: set it in the config file or in the DISCORD_TOKEN environment variable "
            "(the bot token from the Discord developer portal)"
        )
    if require_acedata and not acedata.use_emulator and not acedata.token:
        raise ConfigError(
            "[acedata] token is missing: set it in the config file or in the ACEDATA_TOKEN environment variable, "
            'or set [acedata] base_url = "emulator" to try the bot in sandbox mode without a token'
        )
    _check_url("[discord] api_base", discord.api_base, ("http", "https"))
    _check_url("[discord] gateway_url", discord.gateway_url, ("ws", "wss"))
    if not acedata.use_emulator:
        _check_url("[acedata] base_url", acedata.base_url, ("http", "https"), extra=' or the word "emulator"')
    for key, value in (
        ("[acedata] request_timeout_s", acedata.request_timeout_s),
        ("[jobs] poll_interval_s", jobs.poll_interval_s),
        ("[jobs] job_timeout_s", jobs.job_timeout_s),
        ("[jobs] callback_poll_interval_s", jobs.callback_poll_interval_s),
        ("[emulator] job_duration_s", config.emulator.job_duration_s),
        ("[emulator] video_duration_s", config.emulator.video_duration_s),
    ):
        if value <= 0:
            raise ConfigError(f"{key} must be more than 0 seconds, got {value:g}")
    if jobs.job_timeout_s < jobs.poll_interval_s:
        raise ConfigError("[jobs] job_timeout_s must be at least [jobs] poll_interval_s; videos take minutes, use 900")
    _check_lease(jobs)
    _check_shards(discord)
    if not 0 <= config.emulator.failure_rate <= 1:
        raise ConfigError(f"[emulator] failure_rate must be between 0 and 1, got {config.emulator.failure_rate:g}")
    for key, port in (
        ("[callback] listen_port", callback.listen_port),
        ("[emulator] listen_port", config.emulator.listen_port),
    ):
        if not 0 <= port <= 65535:
            raise ConfigError(f"{key} must be a port number from 0 to 65535, got {port}")
    if callback.enabled:
        if not callback.public_url:
            raise ConfigError(
                "[callback] public_url is missing: callbacks need the https address where the API can reach "
                "this bot, or set [callback] enabled = false to poll instead"
            )
        _check_url("[callback] public_url", callback.public_url, ("http", "https"))
        if not callback.secret or len(callback.secret) < 16:
            raise ConfigError(
                "[callback] secret must be at least 16 random characters (it authenticates the API's callbacks); "
                'generate one with: python -c "import secrets; print(secrets.token_urlsafe(24))"'
            )
    if config.logging.level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"[logging] level must be one of {', '.join(_LOG_LEVELS)}, got {config.logging.level!r}")
    if config.logging.format not in ("text", "json"):
        raise ConfigError(f'[logging] format must be "text" or "json", got {config.logging.format!r}')
    dms = config.dms
    if dms.jobs_per_day < 1:
        raise ConfigError(
            f"[dms] jobs_per_day must be 1 or more (jobs per member per UTC day), got {dms.jobs_per_day}; "
            "to stop jobs in direct messages, set [dms] enabled = false"
        )
    if dms.running < 1:
        raise ConfigError(
            f"[dms] running must be 1 or more (jobs running at once per member; more wait in a queue), "
            f"got {dms.running}"
        )
    if not config.store.path.strip():
        raise ConfigError('[store] path must name the SQLite file, e.g. "data/mjbot.sqlite3"')
    if config.store.url is not None:
        _check_store_url(config.store.url)


def _check_url(key: str, value: str, schemes: tuple[str, ...], extra: str = "") -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(f"{key} must be a {wanted} URL{extra}, got {value!r}")


#: How many polls a lease must outlast: a process renews its claims once a poll, so one slow poll loses nothing.
LEASE_POLLS = 2


def _check_lease(jobs: JobsSettings) -> None:
    if jobs.lease_s <= 0:
        raise ConfigError(f"[jobs] lease_s must be more than 0 seconds, got {jobs.lease_s:g}; 30 suits most setups")
    shortest = LEASE_POLLS * jobs.poll_interval_s
    if jobs.lease_s < shortest:
        raise ConfigError(
            f"[jobs] lease_s must be at least {LEASE_POLLS} x [jobs] poll_interval_s = {shortest:g} seconds, "
            f"got {jobs.lease_s:g} (the default is 30): a process renews its claim on a job once a poll, and a "
            f"shorter lease would run out between two renewals and let another process take the job; "
            f"set lease_s = {max(shortest, 30.0):g} or lower poll_interval_s"
        )


def _check_shards(discord: DiscordSettings) -> None:
    count, ids = discord.shard_count, discord.shard_ids
    if count is not None and count < 1:
        raise ConfigError(
            f"[discord] shard_count must be 1 or more (the number of shards over every process), got {count}; "
            "remove it to let Discord say how many"
        )
    if ids is None:
        return
    if count is None:
        raise ConfigError(
            "[discord] shard_ids needs [discord] shard_count, the number of shards over every process: for example "
            "shard_count = 2, with shard_ids = [0] in one process and shard_ids = [1] in the other"
        )
    if not ids:
        raise ConfigError(
            "[discord] shard_ids is empty: list the shards this process connects, e.g. [0], "
            f"or remove the key to connect all {count} shards here"
        )
    for shard in ids:
        if not 0 <= shard < count:
            raise ConfigError(
                f"[discord] shard_ids has {shard}, but with shard_count = {count} the shards are 0 to {count - 1}; "
                "fix the id, or raise shard_count in every process"
            )
    twice = sorted({shard for shard in ids if ids.count(shard) > 1})
    if twice:
        raise ConfigError(
            f"[discord] shard_ids lists shard {', '.join(map(str, twice))} more than once; list each shard once"
        )


_STORE_URL_SCHEMES = ("postgresql", "postgres")
_STORE_URL_EXAMPLE = "postgresql://mjbot:PASSWORD@db.example.org:5432/mjbot"


def _check_store_url(url: str) -> None:
    """A PostgreSQL URL with a host and a database; every message shows it with its password masked."""
    shown = without_password(url)
    scheme, found, _ = url.partition("://")
    if not found or scheme.lower() not in _STORE_URL_SCHEMES:
        # Text without a scheme is not shown at all: it may be a password pasted on its own.
        got = f"got {shown!r}" if found else "got text without ://"
        hint = " (for SQLite, remove [store] url and set [store] path)" if scheme.lower().startswith("sqlite") else ""
        raise ConfigError(
            f"[store] url must be a postgresql:// (or postgres://) URL such as {_STORE_URL_EXAMPLE}, {got}"
            f"{hint}; leave it out to keep the jobs in SQLite at [store] path"
        )
    escape = "a password with @, /, ? or # in it must be written %40, %2F, %3F, %23"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as error:  # the error's own text may quote the password: it is not shown
        what = "a bad IPv6 host (write it in brackets, [::1])" if "IPv6" in str(error) else "a bad port"
        raise ConfigError(
            f"[store] url has {what}, got {shown!r}: write it as {_STORE_URL_EXAMPLE}, with a port from 1 to 65535 "
            f"(PostgreSQL's is 5432) or none ({escape})"
        ) from None
    if not host:
        raise ConfigError(
            f"[store] url names no host, got {shown!r}: write the database server after the @, "
            f"e.g. {_STORE_URL_EXAMPLE} ({escape})"
        )
    if port == 0:
        raise ConfigError(f"[store] url has port 0, got {shown!r}: PostgreSQL's port is 5432, or leave the port out")
    database = parts.path.removeprefix("/")
    if not database or "/" in database:
        raise ConfigError(
            f"[store] url names no database, got {shown!r}: write the database name after the host, "
            f"e.g. {_STORE_URL_EXAMPLE} ({escape})"
        )
