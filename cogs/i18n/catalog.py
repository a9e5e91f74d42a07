"""The message catalogue: one TOML file per language in ``locales/``, named by its Discord locale code.

``en-US.toml`` is the source: every key the bot uses is there, and it is the fallback for any key another
language lacks. Tables nest, so ``[jobs] empty = "..."`` is the key ``jobs.empty``. Texts are ``str.format``
templates: ``{name}`` is a parameter (``{{`` and ``}}`` are literal braces). A language file that is missing
a key, or whose text does not format with the parameters given, never fails a reply: the English text is
used instead, and the problem is logged.
"""

from __future__ import annotations

import functools
import logging
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import discord

log = logging.getLogger(__name__)

#: The language every key exists in, and the one used when nothing better is known.
SOURCE_LOCALE: Final = "en-US"
#: Where the language files are: adding a language is adding ``<Discord locale code>.toml`` here.
LOCALES_DIR: Final = Path(__file__).with_name("locales")
#: Discord's locale codes (``zh-CN``, ``de``, ``pt-BR``...).
DISCORD_LOCALES: Final = frozenset(locale.value for locale in discord.Locale)

#: A locale as the bot meets it: a Discord ``Locale``, a code such as ``"zh-CN"``, or None for "unknown".
LocaleLike = str | discord.Locale | None


class Phrase:
    """Words to be put in a language later, in whichever language their reader needs (a reply and an audit post
    of the same refusal are read by different people). ``str()`` gives the English words."""

    __slots__ = ()

    def render(self, locale: LocaleLike = None) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render(SOURCE_LOCALE)


@dataclass(frozen=True, slots=True)
class Msg(Phrase):
    """The message ``key`` with its parameters, which may be phrases themselves."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, locale: LocaleLike = None) -> str:
        return catalog().text(locale, self.key, **self.params)


@dataclass(frozen=True, slots=True)
class Listing(Phrase):
    """Items in a sentence: "a", "a and b", "a, b and c" (``list.separator``, ``list.and``)."""

    items: tuple[str | Phrase, ...]

    def render(self, locale: LocaleLike = None) -> str:
        words = [item.render(locale) if isinstance(item, Phrase) else item for item in self.items]
        if len(words) <= 1:
            return "".join(words)
        separator = catalog().text(locale, "list.separator")
        return catalog().text(locale, "list.and", head=separator.join(words[:-1]), last=words[-1])


@dataclass(frozen=True, slots=True)
class Words(Phrase):
    """Text a function words for a language (a settings summary, a list of changes...)."""

    say: Callable[[LocaleLike], str]

    def render(self, locale: LocaleLike = None) -> str:
        return self.say(locale)


def msg(key: str, /, **params: object) -> Msg:
    """``Msg(key, params)``, written like a call of ``t``."""
    return Msg(key, params)


def plural_msg(key: str, count: int, /, **params: object) -> Msg:
    """``key_one`` for a count of 1, else ``key_other``, with ``count`` among the parameters."""
    return Msg(f"{key}_{'one' if count == 1 else 'other'}", {"count": count, **params})


def ordinal_msg(number: int) -> Msg:
    """1st, 2nd, 3rd, 11th... by English rules (``ordinal.one/two/few/other``); each language words its own."""
    teens = 10 <= number % 100 <= 20
    form = "other" if teens else {1: "one", 2: "two", 3: "few"}.get(number % 10, "other")
    return Msg(f"ordinal.{form}", {"n": number})


def locale_code(locale: LocaleLike) -> str | None:
    """The code of a locale (``"zh-CN"``), or None when none is known."""
    if isinstance(locale, discord.Locale):
        return locale.value
    if isinstance(locale, str) and locale.strip():
        return locale.strip()
    return None


def placeholders(template: str) -> frozenset[str]:
    """The parameter names a template uses: ``"{count} of {limit:g}"`` -> ``{"count", "limit"}``."""
    names: set[str] = set()
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None:
            names.add(name.split(".", 1)[0].split("[", 1)[0])
    return frozenset(names)


def read_locale_file(path: Path) -> dict[str, str]:
    """The texts of one language file, by dotted key. Raises ValueError for a file that is not valid."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    texts: dict[str, str] = {}
    _flatten(data, "", texts)
    return texts


def _flatten(table: Mapping[str, Any], prefix: str, into: dict[str, str]) -> None:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            _flatten(value, f"{key}.", into)
        elif isinstance(value, str):
            into[key] = value
        else:
            raise ValueError(f"{key} is {type(value).__name__}, not text")


class Catalog:
    """The texts of every language, and the rules for picking one: the locale itself, else another variant of
    the same language (``es-419`` reads ``es-ES``), else the source language."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]], *, source: str = SOURCE_LOCALE) -> None:
        if source not in texts:
            raise ValueError(f"the catalogue has no {source} texts, the source of every other language")
        self.source = source
        self._texts: dict[str, dict[str, str]] = {code: dict(entries) for code, entries in texts.items()}
        self._by_lower = {code.lower(): code for code in self._texts}
        self._codes = frozenset(self._texts)
        self._resolved: dict[str, str] = {}

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, *, source: str = SOURCE_LOCALE) -> Catalog:
        """Every ``*.toml`` in ``directory``. A broken file of another language is skipped with a warning;
        a broken or missing source file raises (nothing can be said without it)."""
        texts: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*.toml")):
            code = path.stem
            try:
                texts[code] = read_locale_file(path)
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
                if code == source:
                    raise
                log.warning("the language file %s is skipped: %s", path.name, exc)
                continue
            if code not in DISCORD_LOCALES:
                log.warning(
                    "the language file %s is not named by a Discord locale code (such as zh-CN or de): "
                    "only members whose locale is %s will read it, and commands are not translated into it",
                    path.name,
                    code,
                )
        return cls(texts, source=source)

    def has_locale(self, code: str) -> bool:
        """Whether there is a file for exactly this locale code."""
        return code in self._codes

    @property
    def locales(self) -> tuple[str, ...]:
        """The languages there are files for, the source first."""
        return (self.source, *sorted(code for code in self._texts if code != self.source))

    def keys_of(self, locale: str | None = None) -> frozenset[str]:
        """The keys one language file has (the source's by default)."""
        return frozenset(self._texts.get(locale or self.source, {}))

    def has(self, key: str) -> bool:
        """Whether ``key`` is a message (the source language has every one)."""
        return key in self._texts[self.source]

    def lookup(self, locale: str, key: str) -> str | None:
        """The text of ``key`` in exactly this language, unformatted; None when that file lacks it."""
        entries = self._texts.get(locale)
        return entries.get(key) if entries is not None else None

    def resolve(self, locale: LocaleLike) -> str:
        """The language to answer someone whose locale is ``locale`` in."""
        code = locale_code(locale)
        if code is None:
            return self.source
        found = self._resolved.get(code)
        if found is None:
            found = self._pick(code)
            self._resolved[code] = found
        return found

    def _pick(self, code: str) -> str:
        lowered = code.lower()
        exact = self._by_lower.get(lowered)
        if exact is not None:
            return exact
        language = lowered.split("-", 1)[0]
        source_language = self.source.lower().split("-", 1)[0]
        if language == source_language:
            return self.source
        for candidate in sorted(self._texts):
            if candidate.lower().split("-", 1)[0] == language:
                return candidate
        return self.source

    def text(self, locale: LocaleLike, key: str, /, **params: object) -> str:
        """``key`` in the best language for ``locale``, formatted with ``params``; English when that language
        lacks the key or its text does not format."""
        language = self.resolve(locale)
        if language != self.source:
            template = self._texts[language].get(key)
            if template is not None:
                try:
                    return self._format(template, language, params)
                except (KeyError, IndexError, ValueError, TypeError) as exc:
                    log.warning(
                        "the %s text of %r does not format (%r); using the %s text", language, key, exc, self.source
                    )
        template = self._texts[self.source].get(key)
        if template is None:
            log.error("there is no text for the message key %r", key)
            return key
        try:
            return self._format(template, self.source, params)
        except (KeyError, IndexError, ValueError, TypeError):
            log.exception("the %s text of %r does not format", self.source, key)
            return template

    def _format(self, template: str, language: str, params: Mapping[str, object]) -> str:
        if not params:
            return template.format()
        values = {
            name: value.render(language) if isinstance(value, Phrase) else value for name, value in params.items()
        }
        return template.format_map(values)


@functools.cache
def catalog() -> Catalog:
    """The bot's catalogue, read from ``LOCALES_DIR`` once."""
    return Catalog.load()


def t(locale: LocaleLike, key: str, /, **params: object) -> str:
    """The message ``key`` in the language of ``locale``, formatted with ``params``."""
    return catalog().text(locale, key, **params)


def tn(locale: LocaleLike, key: str, count: int, /, **params: object) -> str:
    """A message that depends on a count (``key_one`` / ``key_other``), with ``count`` among the parameters."""
    return plural_msg(key, count, **params).render(locale)


def ordinal(locale: LocaleLike, number: int) -> str:
    return ordinal_msg(number).render(locale)
