"""Discord's request limits, checked the way Discord reports them: 400 with code 50035 and a tree of errors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .model import FLAG_COMPONENTS_V2, walk_components

VALID_LOCALES = frozenset(
    {
        *("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl"),
        *("pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja"),
        *("zh-TW", "ko"),
    }
)

#: Where a field error sits, e.g. ("embeds", 0, "title").
Path = tuple[str | int, ...]

_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$", re.UNICODE)


class ApiError(Exception):
    """A Discord error response: HTTP status, JSON error code, message and (for 50035) the field errors."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors under paths like ("embeds", 0, "title") and nests them as Discord does."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Iterable[str | int], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def check_message(body: dict[str, Any], errors: FormErrors | None = None, prefix: Path = ()) -> None:
    """Content, embed and component limits of a message create or edit."""
    own = errors is None
    errors = errors or FormErrors()
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        errors.add((*prefix, "content"), "STRING_TYPE_CONVERT", "Could not interpret the value as string.")
    errors.max_length((*prefix, "content"), content, 2000)
    _check_embeds(body.get("embeds"), errors, prefix)
    components = body.get("components")
    if components is not None:
        if int(body.get("flags") or 0) & FLAG_COMPONENTS_V2:
            _check_custom_ids(components, errors, prefix)
        else:
            _check_action_rows(components, errors, prefix)
    if own:
        errors.raise_if_any()


def _check_embeds(embeds: Any, errors: FormErrors, prefix: Path) -> None:
    if not embeds:
        return
    if len(embeds) > 10:
        errors.add((*prefix, "embeds"), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for index, embed in enumerate(embeds):
        path: Path = (*prefix, "embeds", index)
        for key, limit in (("title", 256), ("description", 4096)):
            errors.max_length((*path, key), embed.get(key), limit)
            total += len(embed.get(key) or "")
        footer = embed.get("footer") or {}
        errors.max_length((*path, "footer", "text"), footer.get("text"), 2048)
        author = embed.get("author") or {}
        errors.max_length((*path, "author", "name"), author.get("name"), 256)
        total += len(footer.get("text") or "") + len(author.get("name") or "")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add((*path, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for field_index, field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = field.get(key)
                if not value:
                    errors.add((*path, "fields", field_index, key), "BASE_TYPE_REQUIRED", "This field is required")
                errors.max_length((*path, "fields", field_index, key), value, limit)
                total += len(value or "")
    if total > 6000:
        errors.add((*prefix, "embeds"), "EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _check_custom_ids(components: Any, errors: FormErrors, prefix: Path) -> None:
    seen: set[str] = set()
    for component in walk_components(components):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        errors.max_length((*prefix, "components", "custom_id"), custom_id, 100)
        if custom_id in seen:
            errors.add(
                (*prefix, "components"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        seen.add(custom_id)


def _check_action_rows(components: Any, errors: FormErrors, prefix: Path) -> None:
    if len(components) > 5:
        errors.add((*prefix, "components"), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for row_index, row in enumerate(components):
        path: Path = (*prefix, "components", row_index)
        if row.get("type") != 1:
            errors.add((*path, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).')
            continue
        children = row.get("components") or []
        if not children or len(children) > 5:
            errors.add((*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        for index, child in enumerate(children):
            child_path: Path = (*path, "components", index)
            if child.get("type") == 2:
                errors.max_length((*child_path, "label"), child.get("label"), 80)
                if child.get("style") == 5:
                    if not child.get("url"):
                        errors.add((*child_path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
                elif child.get("style") != 6 and not child.get("custom_id"):
                    errors.add((*child_path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
            errors.max_length((*child_path, "custom_id"), child.get("custom_id"), 100)
    _check_custom_ids(components, errors, prefix)


def check_modal(data: dict[str, Any]) -> None:
    errors = FormErrors()
    path: Path = ("data",)
    title = data.get("title")
    if not title:
        errors.add((*path, "title"), "BASE_TYPE_REQUIRED", "This field is required")
    errors.max_length((*path, "title"), title, 45)
    custom_id = data.get("custom_id")
    if not custom_id:
        errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
    errors.max_length((*path, "custom_id"), custom_id, 100)
    components = data.get("components") or []
    if not components or len(components) > 5:
        errors.add((*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for index, component in enumerate(components):
        errors.max_length((*path, "components", index, "label"), component.get("label"), 45)
        for child in walk_components([component]):
            if child.get("type") == 4:
                errors.max_length((*path, "components", index, "label"), child.get("label"), 45)
                errors.max_length((*path, "components", index, "custom_id"), child.get("custom_id"), 100)
    errors.raise_if_any()


def check_commands(commands: list[dict[str, Any]]) -> None:
    """Names, descriptions, option order and localisation keys, as Discord checks a command upload."""
    errors = FormErrors()
    if len([c for c in commands if c.get("type", 1) == 1]) > 100:
        errors.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    names: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        kind = int(command.get("type", 1))
        key = (str(command.get("name")), kind)
        if key in names:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {key[0]}",
            )
        names.add(key)
        check_command(command, errors, (index,))
    errors.raise_if_any()


def check_command(command: dict[str, Any], errors: FormErrors | None = None, path: Path = ()) -> None:
    own = errors is None
    errors = errors or FormErrors()
    kind = int(command.get("type", 1))
    _check_name(command.get("name"), errors, (*path, "name"), chat_input=kind == 1)
    _check_localizations(command.get("name_localizations"), errors, (*path, "name_localizations"), kind == 1, True)
    if kind == 1:
        _check_description(command.get("description"), errors, (*path, "description"))
        _check_localizations(
            command.get("description_localizations"), errors, (*path, "description_localizations"), False, False
        )
        _check_options(command.get("options") or [], errors, (*path, "options"))
    elif command.get("description"):
        errors.add(
            (*path, "description"),
            "APPLICATION_COMMAND_DESCRIPTION_INVALID",
            "Context menu commands cannot have a description",
        )
    _check_values(command.get("integration_types"), {0, 1}, errors, (*path, "integration_types"))
    _check_values(command.get("contexts"), {0, 1, 2}, errors, (*path, "contexts"))
    if own:
        errors.raise_if_any()


def _check_values(values: Any, allowed: set[int], errors: FormErrors, path: Path) -> None:
    """A list of install types or contexts (null: Discord's default)."""
    if values is None:
        return
    if not isinstance(values, list):
        errors.add(path, "BASE_TYPE_LIST", "Must be a list.")
        return
    for index, value in enumerate(values):
        if value not in allowed:
            errors.add((*path, index), "ENUM_TYPE_COERCE", f'Value "{value}" is not a valid enum value.')


def _check_name(name: Any, errors: FormErrors, path: Path, *, chat_input: bool) -> None:
    if not isinstance(name, str) or not name:
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if chat_input and (not _COMMAND_NAME.match(name) or name != name.lower()):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
    elif len(name) > 32:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")


def _check_description(description: Any, errors: FormErrors, path: Path) -> None:
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _check_localizations(values: Any, errors: FormErrors, path: Path, chat_input_name: bool, is_name: bool) -> None:
    if not values:
        return
    for locale, text in values.items():
        if locale not in VALID_LOCALES:
            errors.add((*path, locale), "ENUM_TYPE_COERCE", f'Value "{locale}" is not a valid enum value.')
        elif is_name:
            _check_name(text, errors, (*path, locale), chat_input=chat_input_name)
        else:
            _check_description(text, errors, (*path, locale))


def _check_options(options: list[dict[str, Any]], errors: FormErrors, path: Path) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    for index, option in enumerate(options):
        option_path: Path = (*path, index)
        _check_name(option.get("name"), errors, (*option_path, "name"), chat_input=True)
        _check_description(option.get("description"), errors, (*option_path, "description"))
        _check_localizations(option.get("name_localizations"), errors, (*option_path, "name_localizations"), True, True)
        _check_localizations(
            option.get("description_localizations"), errors, (*option_path, "description_localizations"), False, False
        )
        if option.get("type") in (1, 2):
            _check_options(option.get("options") or [], errors, (*option_path, "options"))
            continue
        if option.get("required"):
            if seen_optional:
                errors.add(
                    (*option_path, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            errors.add((*option_path, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for choice_index, choice in enumerate(choices):
            name = choice.get("name")
            if not isinstance(name, str) or not 1 <= len(name) <= 100:
                errors.add(
                    (*option_path, "choices", choice_index, "name"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            _check_localizations(
                choice.get("name_localizations"),
                errors,
                (*option_path, "choices", choice_index, "name_localizations"),
                False,
                False,
            )
