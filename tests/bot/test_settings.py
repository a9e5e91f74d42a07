"""Server and member settings: the typed model over the stored JSON, and the word filter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import (
    MAX_PATTERN_CHARS,
    BlockEntry,
    FilterRule,
    GuildSettings,
    Limits,
    UserSettings,
    compile_rule,
    load_guild_settings,
    load_user_settings,
    match_filter,
    save_guild_settings,
    save_user_settings,
    update_guild_settings,
    update_user_settings,
)
from bot.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "settings.sqlite3")
    yield opened
    await opened.close()


FULL = GuildSettings(
    channels=(111, 222),
    button_policy="owner_and_mods",
    moderator_roles=(333,),
    word_filter=(FilterRule("gore"), FilterRule(r"blood\s*bath", regex=True)),
    blocked={444: BlockEntry("spamming the channel", by=555, at=1_700_000_000.5)},
    limits=Limits(
        max_running_per_user=2,
        max_jobs_per_user_per_day=10,
        daily_budget=120.5,
        allow_turbo=False,
        allow_720p=False,
        allow_private_results=False,
    ),
    audit_channel=666,
)


# -- settings round trips ---------------------------------------------------------------------------


async def test_guild_settings_survive_a_save_and_a_reopen(store: Store, tmp_path: Path) -> None:
    assert await load_guild_settings(store, 1) == GuildSettings()  # nothing saved: the defaults
    await save_guild_settings(store, 1, FULL)
    await store.close()

    reopened = await Store.open(tmp_path / "settings.sqlite3")
    try:
        loaded = await load_guild_settings(reopened, 1)
        assert loaded == FULL
        assert loaded.block_of(444) == BlockEntry("spamming the channel", by=555, at=1_700_000_000.5)
        assert loaded.block_of(1) is None
        assert await load_guild_settings(reopened, 2) == GuildSettings()
    finally:
        await reopened.close()


async def test_user_settings_round_trip_and_defaults(store: Store) -> None:
    assert await load_user_settings(store, 9) == UserSettings(
        mode="fast", resolution="720p", loop=False, dm_on_done=False, private_results=False
    )
    chosen = UserSettings(mode="turbo", resolution="480p", loop=True, dm_on_done=True, private_results=True)
    await save_user_settings(store, 9, chosen)
    assert await load_user_settings(store, 9) == chosen
    assert await store.settings.user_settings(9) == {
        "mode": "turbo",
        "resolution": "480p",
        "loop": True,
        "dm_on_done": True,
        "private_results": True,
        "confirm": "server",
    }


def test_the_stored_json_is_plain_and_ids_are_keys() -> None:
    data = FULL.to_dict()
    assert data["blocked"] == {"444": {"reason": "spamming the channel", "by": 555, "at": 1_700_000_000.5}}
    assert data["word_filter"] == [{"pattern": "gore", "regex": False}, {"pattern": r"blood\s*bath", "regex": True}]
    assert data["limits"]["daily_budget"] == 120.5
    assert GuildSettings.from_dict(data) == FULL


def test_unknown_keys_are_kept_when_saving_again() -> None:
    stored = {"button_policy": "everyone", "mode": "relax", "future_feature": {"on": True}}
    settings = GuildSettings.from_dict(stored)
    assert settings.button_policy == "everyone"
    changed = settings.with_limits(max_running_per_user=3).to_dict()
    assert changed["future_feature"] == {"on": True} and changed["mode"] == "relax"
    assert changed["limits"]["max_running_per_user"] == 3
    assert UserSettings.from_dict({"theme": "dark"}).to_dict()["theme"] == "dark"


def test_wrong_types_fall_back_to_defaults_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    stored: dict[str, Any] = {
        "channels": "general",
        "button_policy": "anyone",
        "moderator_roles": [1, "2", "x"],
        "word_filter": ["plain", {"pattern": "re+", "regex": True}, {"pattern": 5}, 7],
        "blocked": {"12": "rude", "nope": {"reason": "x"}, "13": {"reason": 5, "by": "me"}},
        "limits": {"max_running_per_user": 0, "max_jobs_per_user_per_day": True, "daily_budget": "lots"},
        "audit_channel": "123",
    }
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        settings = GuildSettings.from_dict(stored)
    assert settings.channels == ()
    assert settings.button_policy == "owner"
    assert settings.moderator_roles == ()  # one unusable id spoils the list: better none than a wrong one
    assert settings.word_filter == (FilterRule("plain"), FilterRule("re+", regex=True))  # bad entries dropped
    assert settings.blocked == {12: BlockEntry("rude"), 13: BlockEntry("")}
    assert settings.limits == Limits()
    assert settings.audit_channel == 123  # an id stored as text still reads
    warned = caplog.text
    for key in ("channels", "button_policy", "max_running_per_user", "daily_budget", "max_jobs_per_user_per_day"):
        assert key in warned
    assert GuildSettings.from_dict({"limits": [1, 2]}).limits == Limits()
    user = UserSettings.from_dict({"mode": "relax", "resolution": 720, "loop": "yes", "dm_on_done": True})
    assert user == UserSettings(dm_on_done=True)


def test_limits_refuse_values_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Limits(max_running_per_user=0)
    with pytest.raises(ValueError, match="cannot be negative"):
        Limits(max_jobs_per_user_per_day=-1)
    with pytest.raises(ValueError, match="finite"):
        Limits(daily_budget=float("inf"))
    assert Limits(max_jobs_per_user_per_day=0, daily_budget=0).daily_budget == 0


def test_channel_allow_list() -> None:
    assert GuildSettings().channel_allowed(5)
    assert FULL.channel_allowed(111) and not FULL.channel_allowed(5) and not FULL.channel_allowed(None)


async def test_two_moderators_changing_settings_at_once_both_keep_their_change(store: Store) -> None:
    async def block(user_id: int) -> None:
        await update_guild_settings(
            store,
            7,
            lambda current: GuildSettings(
                **{**_fields(current), "blocked": {**current.blocked, user_id: BlockEntry(f"user {user_id}")}}
            ),
        )

    await asyncio.gather(*(block(user_id) for user_id in range(1, 21)))
    assert sorted((await load_guild_settings(store, 7)).blocked) == list(range(1, 21))


async def test_a_change_that_raises_saves_nothing(store: Store) -> None:
    await save_guild_settings(store, 7, FULL)
    with pytest.raises(ValueError, match="at least 1"):
        await update_guild_settings(store, 7, lambda current: current.with_limits(max_running_per_user=0))
    assert await load_guild_settings(store, 7) == FULL
    saved = await update_user_settings(store, 8, lambda current: UserSettings(mode="turbo", extra=current.extra))
    assert saved.mode == "turbo" and (await load_user_settings(store, 8)).mode == "turbo"


def _fields(settings: GuildSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


# -- the word filter ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "blocked"),
    [
        ("a GORE scene", True),
        ("gore", True),
        ("gore, at dawn", True),
        ("\uff47\uff4f\uff52\uff45 at dawn", True),  # fullwidth letters read as plain ones
        ("go\u200bre at dawn", True),  # a zero-width space does not hide the word
        ("Gorey details", False),  # whole words only
        ("al gore", True),
        ("a gorge at dawn", False),
        ("margorem", False),
    ],
)
def test_plain_words_match_whole_words_of_the_normalised_prompt(prompt: str, blocked: bool) -> None:
    rule = compile_rule("Gore", regex=False)
    assert rule == FilterRule("gore")
    assert (match_filter(prompt, [rule]) == rule) is blocked


def test_phrases_match_across_extra_spaces_and_the_first_rule_broken_is_named() -> None:
    phrase = compile_rule("  sea   Monster ", regex=False)
    assert phrase.pattern == "sea monster"
    rules = [FilterRule("kraken"), phrase, FilterRule("monster")]
    assert match_filter("a SEA \t  monster rises", rules) == phrase
    assert match_filter("a sea-monster rises", rules) == FilterRule("monster")
    assert match_filter("a calm sea", rules) is None
    assert match_filter("anything", []) is None
    assert phrase.describe() == '"sea monster"' and FilterRule("a+", regex=True).describe() == "/a+/"


def test_regex_rules_match_case_insensitively() -> None:
    rule = compile_rule(r"blood\s*bath", regex=True)
    assert match_filter("A BloodBath at noon", [rule]) == rule
    assert match_filter("blood   bath", [rule]) == rule
    assert match_filter("a bath of blood", [rule]) is None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a" * (MAX_PATTERN_CHARS + 1), f"the limit is {MAX_PATTERN_CHARS}"),
        ("([a-z]", "not a valid regular expression"),
        (r"(a)\1", "no back-references"),
        ("(?P<w>a)(?P=w)", "no back-references"),
        ("(?=x)y", "look-arounds"),
        (r"\w{0,1000}", "too large once compiled"),
    ],
)
def test_unusable_regex_rules_are_refused_with_a_reason(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        compile_rule(pattern, regex=True)
    assert message in str(caught.value)
    assert pattern.strip() in str(caught.value) or not pattern.strip() or len(pattern) > MAX_PATTERN_CHARS


@pytest.mark.parametrize(
    "pattern",
    [r"blood\s*bath", "(cat|dog)s?", "(ab){3}", r"\bnsfw\b", "[(+*]+x", r"a\(b+\)", "x{2,5}y", "(?i)gore", "n[s5]fw"],
)
def test_reasonable_regex_rules_are_accepted(pattern: str) -> None:
    assert compile_rule(pattern, regex=True) == FilterRule(pattern, regex=True)


def test_a_stored_rule_the_filter_cannot_run_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    unusable = FilterRule(r"(a)\1", regex=True)  # written into the settings by hand, never through compile_rule
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        assert match_filter("aa!", [unusable, FilterRule("!", regex=True)]) == FilterRule("!", regex=True)
    assert "is skipped" in caplog.text


def test_accepted_patterns_stay_fast_on_the_longest_prompts() -> None:
    rules = [compile_rule(pattern, regex=True) for pattern in (r"blood\s*bath", r"\bgore\w*", "n[s5]fw", "b{2,5}q")]
    began = time.perf_counter()
    for char in "ab 1":
        assert match_filter(char * 2000, rules) is None
    assert time.perf_counter() - began < 0.5
