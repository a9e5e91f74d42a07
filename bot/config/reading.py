"""From a TOML file and the environment to each section's raw values: shape checks, overrides, type coercion."""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .model import _SECRET_ENV, _SECTIONS, ConfigError


def _env_name(section: str, key: str) -> str:
    return f"MJBOT_{section}_{key}".upper()


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


#: What a list of whole numbers looks like for a key, when it is not a list of Discord ids.
_LIST_EXAMPLES = {("discord", "shard_ids"): "[0, 1]"}


def _coerce(section: str, key: str, value: Any, kind: str) -> Any:
    where = f"[{section}] {key}"
    kind = kind.removesuffix(" | None")  # TOML has no null: a key that is there has a value of the type
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
            example = _LIST_EXAMPLES.get((section, key), "[123456789012345678]")
            raise ConfigError(f"{where} must be a list of ids, e.g. {example}, got {value!r}")
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
