"""Tolerant readers of stored settings: a value of the wrong type or out of range is logged and replaced by its
default, never raised to the caller, so one bad value cannot lose the rest of a server's or member's settings."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

#: Logged under the settings module's name, where the values are read.
log = logging.getLogger("bot.settings")


class Invalid(Exception):
    """A stored value of the wrong type or out of range; the caller falls back to the default."""


T = TypeVar("T")
Reader = Callable[[Any], T]


def read(data: Mapping[str, Any], key: str, reader: Reader[T], default: T) -> T:
    if key not in data:
        return default
    try:
        return reader(data[key])
    except Invalid as exc:
        log.warning("setting %s has an unusable value %r (%s); using the default %r", key, data[key], exc, default)
        return default


def optional(reader: Reader[T]) -> Reader[T | None]:
    def read(value: Any) -> T | None:
        return None if value is None else reader(value)

    return read


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("not true or false")
    return value


def int_at_least(minimum: int) -> Reader[int]:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("not a whole number")
        if value < minimum:
            raise Invalid(f"below {minimum}")
        return value

    return read


def units(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("not a number")
    if not (value >= 0 and math.isfinite(value)):
        raise Invalid("not a finite number of units, zero or more")
    return float(value)


def snowflake(value: Any) -> int:
    # Discord ids are sometimes stored as strings (JSON numbers lose precision in some tools).
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid("not a Discord id")
    return value


def id_tuple(value: Any) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise Invalid("not a list of ids")
    ids: list[int] = []
    for item in value:
        ident = snowflake(item)
        if ident not in ids:
            ids.append(ident)
    return tuple(ids)


def choice(allowed: tuple[str, ...]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if value not in allowed:
            raise Invalid(f"not one of {', '.join(allowed)}")
        return value

    return read
