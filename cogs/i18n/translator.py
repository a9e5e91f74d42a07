"""discord.py's translator over the catalogue: command and group names and descriptions, parameter names and
descriptions, and choice names, for every language there is a file for.

The English texts stay in the decorators; the translator finds a text's key from where it sits, so the
decorators need not name keys:

- ``cmd.video.description``, ``cmd.admin.filter.add.description`` (a command or group, by its full name);
- ``cmd.video.param.prompt.description``;
- ``cmd.video.choice.mode.fast`` (a choice, by its parameter and its value);
- ``cmd.video.name`` and ``cmd.video.param.prompt.name`` only where a language renames a command or option
  (the bundled languages keep the English names, which the bot's messages quote).

A ``locale_str`` may name its key itself (``locale_str("...", key="...")``); its other extras are parameters
of the text. A text Discord would refuse (a name that is not a valid command name, a description over 100
characters) is left out with a warning, so one bad line in a language file cannot stop the commands syncing.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final, TypeGuard

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Location

from .catalog import Catalog, catalog

log = logging.getLogger(__name__)

#: Discord's rule for command and option names: lowercase letters (any script), digits, ``-``, ``_``, ``'``.
_NAME = re.compile(r"^[-_'\w]{1,32}$")
DESCRIPTION_LIMIT: Final = 100
CHOICE_NAME_LIMIT: Final = 100
_NAMES: Final = frozenset({Location.command_name, Location.group_name, Location.parameter_name})


Named = app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu


def command_path(command: Named) -> str:
    """``admin.filter.add`` for ``/admin filter add``."""
    return command.qualified_name.replace(" ", ".")


class CatalogTranslator(app_commands.Translator):
    """Translates the command tree from the catalogue (``bot.tree.set_translator(CatalogTranslator())``)."""

    def __init__(self, texts: Catalog | None = None) -> None:
        self._texts = texts
        #: Choice -> its key prefix, noted while its parameter is translated (a choice does not know its parameter).
        self._choices: dict[int, str] = {}
        self._warned: set[tuple[str, str]] = set()

    @property
    def catalog(self) -> Catalog:
        if self._texts is None:
            self._texts = catalog()
        return self._texts

    async def load(self) -> None:
        _ = self.catalog  # read the files now rather than in the middle of a sync

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        texts = self.catalog
        code = locale.value
        if code == texts.source or not texts.has_locale(code):
            return None
        key = self.key_for(string, context)
        if key is None:
            return None
        template = texts.lookup(code, key)
        if template is None:
            return None
        params = {name: value for name, value in string.extras.items() if name != "key"}
        try:
            text = template.format_map(params) if params else template.format()
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            self._warn(code, key, f"does not format ({exc!r})")
            return None
        return self._checked(code, key, text, context.location)

    def key_for(self, string: app_commands.locale_str, context: app_commands.TranslationContextTypes) -> str | None:
        """The catalogue key of a text of the command tree, from where it sits."""
        explicit = string.extras.get("key")
        if isinstance(explicit, str):
            return explicit
        location, data = context.location, context.data
        if location in (Location.command_name, Location.group_name) and _is_command(data):
            return f"cmd.{command_path(data)}.name"
        if location in (Location.command_description, Location.group_description) and _is_command(data):
            return f"cmd.{command_path(data)}.description"
        if location in (Location.parameter_name, Location.parameter_description) and isinstance(
            data, app_commands.Parameter
        ):
            prefix = f"cmd.{command_path(data.command)}"
            for choice in data.choices:
                self._choices[id(choice)] = f"{prefix}.choice.{data.name}.{choice.value}"
            field = "name" if location is Location.parameter_name else "description"
            return f"{prefix}.param.{data.name}.{field}"
        if location is Location.choice_name and isinstance(data, app_commands.Choice):
            return self._choices.get(id(data))
        return None

    def _checked(self, code: str, key: str, text: str, location: Location) -> str | None:
        text = text.strip()
        if location in _NAMES:
            if not _NAME.match(text) or text != text.lower():
                self._warn(code, key, f"{text!r} is not a valid command name (lowercase, 1-32 letters, digits, - or _)")
                return None
            return text
        limit = CHOICE_NAME_LIMIT if location is Location.choice_name else DESCRIPTION_LIMIT
        if not 1 <= len(text) <= limit:
            self._warn(code, key, f"is {len(text)} characters long (Discord allows 1 to {limit})")
            return None
        return text

    def _warn(self, code: str, key: str, problem: str) -> None:
        if (code, key) not in self._warned:
            self._warned.add((code, key))
            log.warning("the %s text of %s %s; Discord shows the English text instead", code, key, problem)


def _is_command(data: object) -> TypeGuard[Named]:
    return isinstance(data, app_commands.Command | app_commands.Group | app_commands.ContextMenu)
