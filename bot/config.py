"""Typed settings from a TOML file plus the environment, with one clear message for a bad file.

Precedence, lowest first: built-in defaults, the TOML file, ``MJBOT_<SECTION>_<KEY>`` environment
variables (for example ``MJBOT_CALLBACK_LISTEN_HOST=0.0.0.0``), and the two secrets
``DISCORD_TOKEN`` and ``ACEDATA_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

EMULATOR = "emulator"
DEFAULT_CONFIG_PATH = Path("config.toml")


class ConfigError(Exception):
    """A configuration problem: the message names the key and says how to fix it."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token: str | None = None
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    sync_commands: bool = False
    guild_ids: tuple[int, ...] = ()
    allow_dms: bool = True


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
    token: str | None = None
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


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    enabled: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    public_url: str | None = None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class StoreSettings:
    path: str = "data/mjbot.sqlite3"


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
class Config:
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    acedata: AceDataSettings = field(default_factory=AceDataSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    callback: CallbackSettings = field(default_factory=CallbackSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dms: DmsSettings = field(default_factory=DmsSettings)
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
}
_SECRET_ENV = {("discord", "token"): "DISCORD_TOKEN", ("acedata", "token"): "ACEDATA_TOKEN"}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_discord: bool = False,
    require_acedata: bool = False,
    missing_ok: bool = False,
) -> Config:
    """Read, merge and validate the settings; raise ConfigError naming the key and the fix.

    ``missing_ok`` lets one-off CLI commands run on defaults when the default file is absent.
    """
    env = os.environ if environ is None else environ
    file_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    raw = _read_toml(file_path, missing_ok=missing_ok)
    source = file_path if raw is not None else None
    sections = _check_shape(raw or {}, file_path)
    from_env = _apply_environment(sections, env)
    try:
        _resolve_dms_alias(sections)
        config = Config(
            **{name: _build_section(name, cls, sections.get(name, {})) for name, cls in _SECTIONS.items()},
            source=source,
        )
        _validate(config, require_discord=require_discord, require_acedata=require_acedata)
    except ConfigError as error:
        raise _naming_the_environment(error, from_env) from None
    return _with_absolute_paths(config, from_env={name for name in _PATH_KEYS if name in env})


def _naming_the_environment(error: ConfigError, from_env: Mapping[str, str]) -> ConfigError:
    """``error``, saying which environment variable set the key it names (the file is not where to look then)."""
    text = str(error)
    named = [variable for key, variable in from_env.items() if key in text]
    if not named:
        return error
    which = f"variable {named[0]}" if len(named) == 1 else f"variables {' and '.join(sorted(named))}"
    return ConfigError(f"{text} (set by the environment {which})")


#: Settings that name a file or folder: relative ones are resolved against the config file's folder, so the bot
#: finds the same data whatever directory it was started from (systemd, cron, a shell elsewhere).
_PATH_FIELDS = (("store", "path"),)


def _env_name(section: str, key: str) -> str:
    return f"MJBOT_{section}_{key}".upper()


_PATH_KEYS = frozenset(_env_name(section, key) for section, key in _PATH_FIELDS)


def _with_absolute_paths(config: Config, *, from_env: set[str]) -> Config:
    """``config`` with every relative path made absolute: against the config file's folder when the path came from
    the file, against the current directory when it came from the environment or there is no file."""
    for section, key in _PATH_FIELDS:
        settings = getattr(config, section)
        path = Path(getattr(settings, key)).expanduser()
        if not path.is_absolute():
            base = (
                config.source.parent if config.source is not None and _env_name(section, key) not in from_env else None
            )
            path = (base / path if base is not None else path).absolute()
        config = dataclasses.replace(config, **{section: dataclasses.replace(settings, **{key: str(path)})})
    return config


def _resolve_dms_alias(sections: dict[str, dict[str, Any]]) -> None:
    """``[discord] allow_dms`` is the older name of ``[dms] enabled``: either sets both, and two values must agree."""
    discord, dms = sections.get("discord", {}), sections.get("dms", {})
    if "allow_dms" in discord and "enabled" in dms:
        if discord["allow_dms"] != dms["enabled"]:
            raise ConfigError(
                f"[dms] enabled = {_toml(dms['enabled'])} and [discord] allow_dms = {_toml(discord['allow_dms'])} "
                "disagree; [discord] allow_dms is the older name of [dms] enabled: remove it and keep [dms] enabled"
            )
    elif "allow_dms" in discord:
        sections.setdefault("dms", {})["enabled"] = discord["allow_dms"]
    elif "enabled" in dms:
        sections.setdefault("discord", {})["allow_dms"] = dms["enabled"]


def _toml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _read_toml(path: Path, *, missing_ok: bool) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigError(
            f"config file {path} does not exist: copy config.example.toml to {path} and fill in the tokens, "
            "or pass another file with --config PATH"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}; check the path and its permissions"
        ) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix the syntax there") from None


def _check_shape(raw: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{path}: unknown section [{name}]{_suggest(name, _SECTIONS)}; remove it or fix its name")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {name} must be a [{name}] table of keys, not a single value")
        known = {f.name for f in dataclasses.fields(_SECTIONS[name])}
        for key in value:
            if key not in known:
                raise ConfigError(
                    f"{path}: unknown key [{name}] {key}{_suggest(key, known)}; "
                    "remove it or fix its spelling (config.example.toml lists every key)"
                )
        sections[name] = dict(value)
    return sections


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _apply_environment(sections: dict[str, dict[str, Any]], env: Mapping[str, str]) -> dict[str, str]:
    """Put the ``MJBOT_`` variables' values over the file's; returns ``"[section] key"`` -> the variable that set it.

    The environment wins over the file, also across the two names of one setting (``[dms] enabled`` and its older
    name ``[discord] allow_dms``): a variable for either sets both.
    """
    known: set[str] = set()
    given: dict[str, str] = {}
    for name, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            variable = _env_name(name, f.name)
            known.add(variable)
            if variable in env:
                sections.setdefault(name, {})[f.name] = _from_env(variable, env[variable], f.type)
                given[f"[{name}] {f.name}"] = variable
    _env_sets_both_dms_names(sections, given)
    for variable in sorted(env):
        # A misspelt override would otherwise be ignored without a word, and the bot would run on another value.
        if variable.upper().startswith("MJBOT_") and variable not in known:
            raise ConfigError(
                f"unknown environment variable {variable}{_suggest(variable.upper(), known)}; "
                "remove it or fix its spelling (MJBOT_<SECTION>_<KEY>, with the keys config.example.toml lists)"
            )
    for (name, key), variable in _SECRET_ENV.items():
        if env.get(variable):
            sections.setdefault(name, {})[key] = env[variable]
    return given


def _env_sets_both_dms_names(sections: dict[str, dict[str, Any]], given: Mapping[str, str]) -> None:
    new, old = given.get("[dms] enabled"), given.get("[discord] allow_dms")
    if new is not None and old is not None:
        return  # both set by the environment: they must agree, as in the file
    if new is not None:
        sections.setdefault("discord", {})["allow_dms"] = sections["dms"]["enabled"]
    elif old is not None:
        sections.setdefault("dms", {})["enabled"] = sections["discord"]["allow_dms"]


def _from_env(variable: str, text: str, annotation: Any) -> Any:
    kind = str(annotation)
    if kind.startswith("bool"):
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"environment variable {variable} must be true or false, got {text!r}")
    if kind.startswith("tuple[int"):
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise ConfigError(f"environment variable {variable} must be comma-separated ids, got {text!r}") from None
    if kind.startswith("tuple[str"):
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind.startswith(("int", "float")):
        try:
            return float(text) if kind.startswith("float") else int(text)
        except ValueError:
            raise ConfigError(f"environment variable {variable} must be a number, got {text!r}") from None
    return text


def _build_section(name: str, cls: type[Any], values: Mapping[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            kwargs[f.name] = _coerce(name, f.name, values[f.name], str(f.type))
    return cls(**kwargs)


def _coerce(section: str, key: str, value: Any, kind: str) -> Any:
    where = f"[{section}] {key}"
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false (no quotes), got {value!r}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be a whole number (no quotes), got {value!r}")
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} must be a number of seconds (no quotes, e.g. 5 or 2.5), got {value!r}")
    if kind.startswith("tuple[int"):
        ids = _int_list(value)
        if ids is None:
            raise ConfigError(f"{where} must be a list of ids, e.g. [123456789012345678], got {value!r}")
        return tuple(ids)
    if kind.startswith("tuple[str"):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise ConfigError(f'{where} must be a list of strings, e.g. ["word"], got {value!r}')
    if not isinstance(value, str):
        raise ConfigError(f'{where} must be a string in quotes, e.g. {key} = "...", got {value!r}')
    return value


def _int_list(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool):
            return None
        if isinstance(item, int):
            ids.append(item)
        elif isinstance(item, str) and item.isdigit():
            ids.append(int(item))
        else:
            return None
    return ids


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
