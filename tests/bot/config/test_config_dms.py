"""The ``[dms]`` section: limits of jobs in direct messages, and ``[discord] allow_dms``, its older name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config


def test_defaults_cap_what_dms_cost(tmp_path: Path) -> None:
    config = load_config(tmp_path / "missing.toml", environ={}, missing_ok=True)
    dms = config.dms
    assert (dms.enabled, dms.jobs_per_day, dms.running, dms.allow_turbo, dms.allow_720p) == (True, 5, 1, False, False)
    assert config.dms_enabled


@pytest.mark.parametrize(
    "text",
    [
        "[dms]\nenabled = false\n",
        "[discord]\nallow_dms = false\n",
        "[dms]\nenabled = false\n[discord]\nallow_dms = false\n",
    ],
)
def test_either_name_turns_dms_off(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, environ={})
    assert config.dms.enabled is False and config.discord.allow_dms is False and not config.dms_enabled


def test_the_environment_works_on_both_names(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    assert not load_config(path, environ={"MJBOT_DMS_ENABLED": "no"}).dms_enabled
    assert not load_config(path, environ={"MJBOT_DISCORD_ALLOW_DMS": "no"}).dms_enabled
    config = load_config(path, environ={"MJBOT_DMS_JOBS_PER_DAY": "20", "MJBOT_DMS_ALLOW_720P": "yes"})
    assert config.dms.jobs_per_day == 20 and config.dms.allow_720p


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[dms]\nenabled = true\n[discord]\nallow_dms = false\n",
            "[dms] enabled = true and [discord] allow_dms = false disagree; [discord] allow_dms is the older name",
        ),
        ("[dms]\njobs_per_day = 0\n", "[dms] jobs_per_day must be 1 or more"),
        ("[dms]\nrunning = 0\n", "[dms] running must be 1 or more"),
        ("[dms]\nrunning = '2'\n", "[dms] running must be a whole number"),
        ("[dms]\nallow_turbo = 'yes'\n", "[dms] allow_turbo must be true or false"),
        ("[dms]\njobs_a_day = 3\n", "unknown key [dms] jobs_a_day (did you mean 'jobs_per_day'?)"),
    ],
)
def test_bad_dms_settings_name_the_key_and_the_fix(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert expected in str(caught.value)
