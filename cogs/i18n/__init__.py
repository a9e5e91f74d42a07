"""The bot's languages: one file per language in ``locales/`` (named by its Discord locale code), the messages
put in words by ``t(locale, key, **params)``, and discord.py's translator for the command tree.

Adding a language is adding one file, e.g. ``locales/de.toml`` with the keys of ``locales/en-US.toml``
translated; any key it leaves out reads in English.
"""

from .catalog import (
    LOCALES_DIR,
    SOURCE_LOCALE,
    Catalog,
    Listing,
    LocaleLike,
    Msg,
    Phrase,
    Words,
    catalog,
    locale_code,
    msg,
    ordinal,
    ordinal_msg,
    placeholders,
    plural_msg,
    t,
    tn,
)
from .readers import (
    audit_locale,
    guild_locale,
    interaction_locale,
    job_locale,
    member_locale,
    remember,
    stored_locale,
    with_locale,
)
from .translator import CatalogTranslator

__all__ = [
    "LOCALES_DIR",
    "SOURCE_LOCALE",
    "Catalog",
    "CatalogTranslator",
    "Listing",
    "LocaleLike",
    "Msg",
    "Phrase",
    "Words",
    "audit_locale",
    "catalog",
    "guild_locale",
    "interaction_locale",
    "job_locale",
    "locale_code",
    "member_locale",
    "msg",
    "ordinal",
    "ordinal_msg",
    "placeholders",
    "plural_msg",
    "remember",
    "stored_locale",
    "t",
    "tn",
    "with_locale",
]
