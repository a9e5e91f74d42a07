"""Configuration: defaults, environment, and one clear message (exit code 2) for every bad file."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import _SECTIONS, Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
GOOD = """
[discord]
token = "discord-token-123456"
guild_ids = [111, "222"]
[acedata]
token = "acedata-token-123456"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_gives_typed_settings_and_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={}, require_discord=True, require_acedata=True)
    assert config.discord.token == "discord-token-123456"
    assert config.discord.guild_ids == (111, 222)
    assert config.discord.api_base == "https://discord.com/api/v10"
    assert config.discord.gateway_url == "wss://gateway.discord.gg"
    assert config.acedata.base_url == "https://api.acedata.cloud"
    assert config.jobs.poll_interval_s == 5.0
    assert config.store.path == str(tmp_path / "data" / "mjbot.sqlite3")  # beside the config file
    assert config.callback.enabled is False
    assert not config.sandbox


def test_environment_supplies_secrets_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "[jobs]\npoll_interval_s = 5\n")
    env = {
        "DISCORD_TOKEN": "from-env-discord",
        "ACEDATA_TOKEN": "from-env-acedata",
        "MJBOT_JOBS_POLL_INTERVAL_S": "2.5",
        "MJBOT_CALLBACK_LISTEN_HOST": "0.0.0.0",
        "MJBOT_DISCORD_SYNC_COMMANDS": "yes",
        "MJBOT_DISCORD_GUILD_IDS": "1, 2,3",
        "MJBOT_EMULATOR_MODERATION_WORDS": "a, b",
    }
    config = load_config(path, environ=env, require_discord=True, require_acedata=True)
    assert config.discord.token == "from-env-discord"
    assert config.acedata.token == "from-env-acedata"
    assert config.jobs.poll_interval_s == 2.5
    assert config.callback.listen_host == "0.0.0.0"
    assert config.discord.sync_commands is True
    assert config.discord.guild_ids == (1, 2, 3)
    assert config.emulator.moderation_words == ("a", "b")


def test_emulator_base_url_needs_no_acedata_token(tmp_path: Path) -> None:
    path = write(tmp_path, '[acedata]\nbase_url = "emulator"\n')
    config = load_config(path, environ={}, require_acedata=True)
    assert config.sandbox


def test_missing_default_file_is_fine_for_one_off_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={}, missing_ok=True)
    assert config.store.path == str(tmp_path / "data" / "mjbot.sqlite3")  # no file: the current directory
    assert dataclasses.replace(config, store=Config().store) == Config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[discord\ntoken=1", "is not valid TOML"),
        ("[acedate]\ntoken = 'x'", "unknown section [acedate] (did you mean 'acedata'?)"),
        ("[acedata]\ntokn = 'x'", "unknown key [acedata] tokn (did you mean 'token'?)"),
        ("discord = 1", "discord must be a [discord] table"),
        ("[discord]\nsync_commands = 'yes'", "[discord] sync_commands must be true or false"),
        ("[callback]\nlisten_port = '80'", "[callback] listen_port must be a whole number"),
        ("[jobs]\npoll_interval_s = '5s'", "[jobs] poll_interval_s must be a number of seconds"),
        ("[jobs]\npoll_interval_s = true", "[jobs] poll_interval_s must be a number of seconds"),
        ("[discord]\nguild_ids = 123", "[discord] guild_ids must be a list of ids"),
        ("[discord]\nguild_ids = ['abc']", "[discord] guild_ids must be a list of ids"),
        ("[emulator]\nmoderation_words = [1]", "[emulator] moderation_words must be a list of strings"),
        ("[store]\npath = 5", "[store] path must be a string in quotes"),
        ("[store]\npath = ' '", "[store] path must name the SQLite file"),
        ("[discord]\napi_base = 'discord.com/api'", "[discord] api_base must be a http:// or https:// URL"),
        ("[discord]\ngateway_url = 'https://gateway'", "[discord] gateway_url must be a ws:// or wss:// URL"),
        (
            "[acedata]\nbase_url = 'ftp://x'",
            '[acedata] base_url must be a http:// or https:// URL or the word "emulator"',
        ),
        ("[jobs]\npoll_interval_s = 0", "[jobs] poll_interval_s must be more than 0 seconds"),
        ("[jobs]\njob_timeout_s = -1", "[jobs] job_timeout_s must be more than 0 seconds"),
        ("[jobs]\npoll_interval_s = 60\njob_timeout_s = 30", "[jobs] job_timeout_s must be at least"),
        ("[acedata]\nrequest_timeout_s = 0", "[acedata] request_timeout_s must be more than 0"),
        ("[emulator]\nfailure_rate = 2", "[emulator] failure_rate must be between 0 and 1"),
        ("[callback]\nlisten_port = 70000", "[callback] listen_port must be a port number"),
        ("[callback]\nenabled = true", "[callback] public_url is missing"),
        ("[callback]\nenabled = true\npublic_url = 'mjbot.example.org'", "[callback] public_url must be a http://"),
        (
            "[callback]\nenabled = true\npublic_url = 'https://mjbot.example.org'\nsecret = 'short'",
            "[callback] secret must be at least 16 random characters",
        ),
        ("[logging]\nlevel = 'LOUD'", "[logging] level must be one of DEBUG, INFO, WARNING, ERROR"),
        ("[logging]\nformat = 'xml'", '[logging] format must be "text" or "json"'),
    ],
)
def test_bad_file_names_the_key_and_the_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(caught.value)


def test_missing_tokens_say_where_to_put_them(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"\[discord\] token is missing.*DISCORD_TOKEN"):
        load_config(path, environ={}, require_discord=True)
    with pytest.raises(ConfigError, match=r'\[acedata\] token is missing.*ACEDATA_TOKEN.*base_url = "emulator"'):
        load_config(path, environ={}, require_acedata=True)
    # The example file's empty tokens count as missing, too.
    with pytest.raises(ConfigError, match=r"\[discord\] token is missing"):
        load_config(ROOT / "config.example.toml", environ={}, require_discord=True)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: copy config.example.toml"):
        load_config(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path, environ={})
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_config(binary, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MJBOT_DISCORD_SYNC_COMMANDS", "maybe", "MJBOT_DISCORD_SYNC_COMMANDS must be true or false"),
        ("MJBOT_JOBS_POLL_INTERVAL_S", "fast", "MJBOT_JOBS_POLL_INTERVAL_S must be a number"),
        ("MJBOT_DISCORD_GUILD_IDS", "1,x", "MJBOT_DISCORD_GUILD_IDS must be comma-separated ids"),
    ],
)
def test_bad_environment_values(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, ""), environ={variable: value})


def test_example_file_documents_every_key() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for section, cls in _SECTIONS.items():
        assert section in example, f"[{section}] is missing from config.example.toml"
        for field in dataclasses.fields(cls):
            assert f"{field.name} =" in text, f"[{section}] {field.name} is not documented"
    load_config(ROOT / "config.example.toml", environ={})


def test_cli_stops_with_one_message_and_exit_code_2(tmp_path: Path) -> None:
    bad = write(tmp_path, "[acedata]\ntokn = 'x'\n")
    for argv in (["--config", str(bad)], ["run", "--config", str(bad)], ["--config", str(tmp_path / "missing.toml")]):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mjbot: config error:"), result.stderr


def test_relative_store_path_is_read_beside_the_config_file_whatever_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "srv" / "bot"
    folder.mkdir(parents=True)
    config_file = folder / "config.toml"
    config_file.write_text('[store]\npath = "jobs/mjbot.sqlite3"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # as systemd or cron would start the bot: from another folder
    config = load_config(config_file, environ={})
    assert config.store.path == str(folder / "jobs" / "mjbot.sqlite3")
    absolute = tmp_path / "abs.sqlite3"
    config_file.write_text(f'[store]\npath = "{absolute}"\n', encoding="utf-8")
    assert load_config(config_file, environ={}).store.path == str(absolute)


def test_relative_store_path_from_the_environment_is_read_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = write(tmp_path, "")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    config = load_config(config_file, environ={"MJBOT_STORE_PATH": "x.sqlite3"})
    assert config.store.path == str(here / "x.sqlite3")


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [("MJBOT_JOBS_POLL_INTERVAL", "MJBOT_JOBS_POLL_INTERVAL_S"), ("MJBOT_ACEDATA_TOKN", "MJBOT_ACEDATA_TOKEN")],
)
def test_misspelt_environment_override_is_reported_not_ignored(tmp_path: Path, variable: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD), environ={variable: "3"})
    assert f"unknown environment variable {variable} (did you mean {suggestion!r}?)" in str(caught.value)


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD), environ={"MJBOT_CALLBACK_LISTEN_PORT": "70000"})
    assert str(caught.value) == (
        "[callback] listen_port must be a port number from 0 to 65535, got 70000 "
        "(set by the environment variable MJBOT_CALLBACK_LISTEN_PORT)"
    )


@pytest.mark.parametrize(
    ("in_file", "variable", "value"),
    [
        ("[dms]\nenabled = true\n", "MJBOT_DISCORD_ALLOW_DMS", "false"),
        ("[discord]\nallow_dms = false\n", "MJBOT_DMS_ENABLED", "true"),
        ("[dms]\nenabled = false\n", "MJBOT_DMS_ENABLED", "true"),
    ],
)
def test_the_environment_turns_dms_on_or_off_whichever_name_the_file_uses(
    tmp_path: Path, in_file: str, variable: str, value: str
) -> None:
    config = load_config(write(tmp_path, in_file), environ={variable: value})
    assert config.dms_enabled is (value == "true")


def test_two_environment_variables_for_dms_that_disagree_are_named(tmp_path: Path) -> None:
    env = {"MJBOT_DMS_ENABLED": "true", "MJBOT_DISCORD_ALLOW_DMS": "false"}
    with pytest.raises(ConfigError, match="variables MJBOT_DISCORD_ALLOW_DMS and MJBOT_DMS_ENABLED"):
        load_config(write(tmp_path, ""), environ=env)
