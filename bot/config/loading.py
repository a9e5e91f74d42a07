"""Typed settings from a TOML file plus the environment, with one clear message for a bad file.

Precedence, lowest first: built-in defaults, the TOML file, ``MJBOT_<SECTION>_<KEY>`` environment
variables (for example ``MJBOT_CALLBACK_LISTEN_HOST=0.0.0.0``), and the two secrets
``DISCORD_TOKEN`` and ``ACEDATA_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from .checks import _validate
from .model import _SECTIONS, DEFAULT_CONFIG_PATH, Config, ConfigError
from .reading import _apply_environment, _build_section, _check_shape, _env_name, _read_toml, _resolve_dms_alias


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
        config = _blank_store_url_is_none(
            Config(
                **{name: _build_section(name, cls, sections.get(name, {})) for name, cls in _SECTIONS.items()},
                source=source,
            )
        )
        _validate(config, require_discord=require_discord, require_acedata=require_acedata)
    except ConfigError as error:
        raise _naming_the_environment(error, from_env) from None
    return _with_absolute_paths(config, from_env={name for name in _PATH_KEYS if name in env})


def _blank_store_url_is_none(config: Config) -> Config:
    """An empty ``[store] url`` (``url = ""``, or ``MJBOT_STORE_URL=`` left blank) keeps SQLite, as if it were unset."""
    url = config.store.url
    if url is None or url.strip():
        return config
    return dataclasses.replace(config, store=dataclasses.replace(config.store, url=None))


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
