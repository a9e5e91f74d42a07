"""Checks of the settings as a whole: what must be there, what must be more than zero, what must be a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from .model import _LOG_LEVELS, Config, ConfigError


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


def _check_url(key: str, value: str, schemes: tuple[str, ...], extra: str = "") -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(f"{key} must be a {wanted} URL{extra}, got {value!r}")
