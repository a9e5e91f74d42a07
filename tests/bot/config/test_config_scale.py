"""Configuration for several processes: a PostgreSQL store URL (never shown with its password), Discord shards,
and how long a claim on a job lasts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, StoreSettings, load_config, without_password

PASSWORD = "pw-Zq81-never-shown"
URL = f"postgresql://mjbot:{PASSWORD}@db.example.org:5432/mjbot"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- [store] url ---------------------------------------------------------------------------------------------


def test_without_a_url_the_store_stays_sqlite(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    assert config.store.url is None and not config.store.uses_postgres
    assert config.store.path == str(tmp_path / "data" / "mjbot.sqlite3")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgresql_url_in_the_file_selects_postgresql(tmp_path: Path, scheme: str) -> None:
    url = f"{scheme}://mjbot:{PASSWORD}@db.example.org:5432/mjbot"
    config = load_config(write(tmp_path, f'[store]\nurl = "{url}"\n'), environ={})
    assert config.store.url == url and config.store.uses_postgres
    assert config.store.shown_url == f"{scheme}://mjbot:***@db.example.org:5432/mjbot"


def test_the_environment_sets_the_url_and_wins_over_the_file(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), environ={"MJBOT_STORE_URL": URL}).store.url == URL
    in_file = write(tmp_path, '[store]\nurl = "postgresql://other@elsewhere/other"\n')
    assert load_config(in_file, environ={"MJBOT_STORE_URL": URL}).store.url == URL


@pytest.mark.parametrize(
    ("text", "environ"),
    [('[store]\nurl = ""\n', {}), ("", {"MJBOT_STORE_URL": ""}), ('[store]\nurl = "  "\n', {})],
)
def test_an_empty_url_keeps_sqlite(tmp_path: Path, text: str, environ: dict[str, str]) -> None:
    assert load_config(write(tmp_path, text), environ=environ).store.url is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://mjbot:{PASSWORD}@db/mjbot", "[store] url must be a postgresql:// (or postgres://) URL"),
        ("sqlite:///data/mjbot.sqlite3", "for SQLite, remove [store] url and set [store] path"),
        (PASSWORD, "got text without ://"),  # a password pasted alone is not echoed
        (f"postgresql://mjbot:{PASSWORD}@/mjbot", "[store] url names no host"),
        (f"postgresql://mjbot:{PASSWORD}@db:5432", "[store] url names no database"),
        (f"postgresql://mjbot:{PASSWORD}@db:5432/", "[store] url names no database"),
        (f"postgresql://mjbot:{PASSWORD}@db:port/mjbot", "[store] url has a bad port"),
        (f"postgresql://mjbot:{PASSWORD}@db:70000/mjbot", "[store] url has a bad port"),
        (f"postgresql://mjbot:{PASSWORD}@db:0/mjbot", "[store] url has port 0"),
        (f"postgresql://mjbot:{PASSWORD}@[::1/mjbot", "a bad IPv6 host"),
        # An unescaped # ends the address early: the error says how to write it, and still hides the password.
        ("postgresql://mjbot:pw#Zq81-never-shown@db/mjbot", "must be written %40, %2F, %3F, %23"),
    ],
)
def test_a_bad_url_is_refused_with_the_fix_and_never_with_the_password(tmp_path: Path, url: str, expected: str) -> None:
    for text, environ in ((f'[store]\nurl = "{url}"\n', {}), ("", {"MJBOT_STORE_URL": url})):
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path, text), environ=environ)
        message = str(caught.value)
        assert expected in message
        assert "Zq81" not in message, message
        if environ:
            assert message.endswith("(set by the environment variable MJBOT_STORE_URL)")


def test_a_bad_url_is_shown_with_the_password_masked(tmp_path: Path) -> None:
    bad = f"postgresql://mjbot:{PASSWORD}@db.example.org:5432"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f'[store]\nurl = "{bad}"\n'), environ={})
    assert "got 'postgresql://mjbot:***@db.example.org:5432'" in str(caught.value)


def test_the_config_never_shows_the_password_in_its_repr_or_a_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(write(tmp_path, ""), environ={"MJBOT_STORE_URL": URL, "DISCORD_TOKEN": "tok-Zq81"})
    assert config.store.url == URL  # the store gets the real one
    assert "mjbot:***@db.example.org:5432/mjbot" in repr(config)
    with caplog.at_level(logging.INFO):
        logging.getLogger("mjbot.test").info("settings: %s; store %r", config, config.store)
        logging.getLogger("mjbot.test").info("store at %s", config.store.shown_url)
    for text in (repr(config), str(config), repr(config.store), caplog.text):
        assert "Zq81" not in text, text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "postgresql://mjbot:***@db.example.org:5432/mjbot"),
        ("postgresql://mjbot@db/mjbot", "postgresql://mjbot@db/mjbot"),  # no password: nothing to hide
        ("postgres://mjbot:p@ss/word@db/mjbot", "postgres://mjbot:***@db/mjbot"),  # unescaped @ and /
        ("postgresql://db/mjbot?sslmode=require&password=secret", "postgresql://db/mjbot?sslmode=require&password=***"),
        ("postgresql://mjbot:p%40ss@db/mjbot", "postgresql://mjbot:***@db/mjbot"),
    ],
)
def test_without_password(url: str, shown: str) -> None:
    assert without_password(url) == shown
    assert StoreSettings(url=url).shown_url == shown


# -- [discord] shard_count and shard_ids ----------------------------------------------------------------------


def test_no_shard_settings_leave_the_sharding_to_discord(tmp_path: Path) -> None:
    discord = load_config(write(tmp_path, ""), environ={}).discord
    assert discord.shard_count is None and discord.shard_ids is None


@pytest.mark.parametrize(
    ("text", "environ", "count", "ids"),
    [
        ("[discord]\nshard_count = 4\n", {}, 4, None),
        ("[discord]\nshard_count = 2\nshard_ids = [1]\n", {}, 2, (1,)),
        ("[discord]\nshard_count = 4\nshard_ids = [3, 0]\n", {}, 4, (3, 0)),
        ("", {"MJBOT_DISCORD_SHARD_COUNT": "3", "MJBOT_DISCORD_SHARD_IDS": "0, 2"}, 3, (0, 2)),
    ],
)
def test_shard_settings(tmp_path: Path, text: str, environ: dict[str, str], count: int, ids: tuple[int, ...]) -> None:
    discord = load_config(write(tmp_path, text), environ=environ).discord
    assert (discord.shard_count, discord.shard_ids) == (count, ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("shard_ids = [0]", "[discord] shard_ids needs [discord] shard_count"),
        ("shard_count = 0", "[discord] shard_count must be 1 or more"),
        ("shard_count = -2", "[discord] shard_count must be 1 or more"),
        ("shard_count = '2'", "[discord] shard_count must be a whole number"),
        ("shard_count = 2.5", "[discord] shard_count must be a whole number"),
        ("shard_count = 2\nshard_ids = []", "[discord] shard_ids is empty: list the shards this process connects"),
        ("shard_count = 2\nshard_ids = [2]", "shard_ids has 2, but with shard_count = 2 the shards are 0 to 1"),
        ("shard_count = 2\nshard_ids = [-1]", "[discord] shard_ids has -1"),
        ("shard_count = 3\nshard_ids = [1, 2, 1]", "[discord] shard_ids lists shard 1 more than once"),
        ("shard_count = 2\nshard_ids = 1", "[discord] shard_ids must be a list of ids, e.g. [0, 1]"),
        ("shard_count = 2\nshard_ids = ['one']", "[discord] shard_ids must be a list of ids, e.g. [0, 1]"),
        ("shard_id = 1", "unknown key [discord] shard_id (did you mean 'shard_ids'?)"),
    ],
)
def test_bad_shard_settings_name_the_key_and_the_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[discord]\n{text}\n"), environ={})
    assert expected in str(caught.value)


def test_a_bad_shard_setting_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ""), environ={"MJBOT_DISCORD_SHARD_COUNT": "2", "MJBOT_DISCORD_SHARD_IDS": "5"})
    assert "[discord] shard_ids has 5" in str(caught.value)
    assert "MJBOT_DISCORD_SHARD_IDS" in str(caught.value)


# -- [jobs] lease_s -----------------------------------------------------------------------------------------------


def test_a_claim_lasts_30_seconds_unless_set(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), environ={}).jobs.lease_s == 30.0 == Config().jobs.lease_s
    assert load_config(write(tmp_path, "[jobs]\nlease_s = 12.5\n"), environ={}).jobs.lease_s == 12.5
    assert load_config(write(tmp_path, ""), environ={"MJBOT_JOBS_LEASE_S": "45"}).jobs.lease_s == 45.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lease_s = 0", "[jobs] lease_s must be more than 0 seconds"),
        ("lease_s = -5", "[jobs] lease_s must be more than 0 seconds"),
        ("lease_s = '30s'", "[jobs] lease_s must be a number of seconds"),
        ("lease_s = 9", "[jobs] lease_s must be at least 2 x [jobs] poll_interval_s = 10 seconds, got 9"),
        # A slow poll with the default lease: the message says what to set.
        ("poll_interval_s = 20", "got 30 (the default is 30)"),
        ("poll_interval_s = 20", "set lease_s = 40 or lower poll_interval_s"),
    ],
)
def test_a_lease_must_outlast_two_polls(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[jobs]\n{text}\n"), environ={})
    assert expected in str(caught.value)
