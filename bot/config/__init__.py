"""Typed settings from a TOML file plus the environment, with one clear message for a bad file.

Precedence, lowest first: built-in defaults, the TOML file, ``MJBOT_<SECTION>_<KEY>`` environment
variables (for example ``MJBOT_CALLBACK_LISTEN_HOST=0.0.0.0``), and the two secrets
``DISCORD_TOKEN`` and ``ACEDATA_TOKEN``. ``model`` has the types, ``reading`` turns the file and the
environment into raw values, ``checks`` judges them together, and ``loading`` does it all in order.
"""

from bot.redact import without_password

from .loading import load_config
from .model import (
    _SECTIONS,
    DEFAULT_CONFIG_PATH,
    EMULATOR,
    AceDataSettings,
    CallbackSettings,
    Config,
    ConfigError,
    DiscordSettings,
    DmsSettings,
    EmulatorConfig,
    JobsSettings,
    LoggingSettings,
    MetricsSettings,
    StoreSettings,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EMULATOR",
    "_SECTIONS",
    "AceDataSettings",
    "CallbackSettings",
    "Config",
    "ConfigError",
    "DiscordSettings",
    "DmsSettings",
    "EmulatorConfig",
    "JobsSettings",
    "LoggingSettings",
    "MetricsSettings",
    "StoreSettings",
    "load_config",
    "without_password",
]
