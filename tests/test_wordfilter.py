# ruff: noqa: RUF001, RUF003  (prompts in Russian, Greek and Chinese, which look-alike checks must leave alone)
"""The word filter: patterns that used to freeze the bot, look-alike letters, invisible characters.

Unit tests on ``bot.wordfilter`` and ``bot.options.clean_prompt``, then the same through the loopback Discord:
a moderator adds rules with ``/admin filter add`` and members send ``/video`` and ``/imagine``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pytest

from bot import wordfilter
from bot.options import InputError, clean_prompt, imagine_request
from bot.wordfilter import MAX_REGEX_PROGRAM, FilterRule, RuleError, check_rules, compile_rule, match_filter

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

#: 102 characters: with a backtracking engine one 68-character prompt held the bot for 15 s.
W32 = r"\w?" * 32 + r"\w{32}"
PROMPT_68 = "beautiful landscape with waterfall and sunflower fields in afternoon"
HOSTILE = [
    W32,
    r"\w?" * 60 + r"\w{60}",
    "a{0,8}" * 7 + "b",  # froze the bot for 10 s while it was being checked
    "(a|aa)*b",
    "(x+x+)+y",
    "(a+)+$",
    r"(\w+\s?){2,}z",
    r"\w{0,1000}",
    "(a|b)*a(a|b){18}z",
]


def _bounded(pattern: str) -> FilterRule | None:
    try:
        return compile_rule(pattern, regex=True)
    except ValueError:
        return None


def test_patterns_that_froze_the_bot_are_refused_or_match_in_milliseconds() -> None:
    began = time.perf_counter()
    accepted = [rule for rule in map(_bounded, HOSTILE) if rule is not None]
    assert time.perf_counter() - began < 1.0  # adding them is no longer a probe that holds the bot
    assert FilterRule("(a|aa)*b", regex=True) in accepted and FilterRule("(x+x+)+y", regex=True) in accepted
    prompts = [PROMPT_68, "a" * 2000, "x" * 2000, "ab" * 1000, "a " * 1000, "夜" * 2000]
    for rule in accepted:
        began = time.perf_counter()
        for prompt in prompts:
            match_filter(prompt, [rule])
        assert time.perf_counter() - began < 1.0, rule


def test_the_102_character_pattern_is_refused_as_too_large_in_a_clear_message() -> None:
    began = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        compile_rule(W32, regex=True)
    assert time.perf_counter() - began < 0.1
    assert caught.value.key == "filter_rule.too_complex"
    assert W32 in str(caught.value) and "too large once compiled" in str(caught.value)
    assert "narrower repeats" in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"(a)\1", "back-references"),
        ("(?P<w>x)(?P=w)", "back-references"),
        ("(?=x)y", "look-arounds"),
        ("(?<!x)y", "look-arounds"),
        (r"gore\Z", r"`\z` rather than `\Z`"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_quickly_saying_what_to_change(pattern: str, words: str) -> None:
    began = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        compile_rule(pattern, regex=True)
    assert time.perf_counter() - began < 0.1
    assert caught.value.key == "filter_rule.unsupported"
    assert f"`{pattern}` can't be used" in str(caught.value) and words in str(caught.value)


def test_a_servers_regex_rules_share_a_budget_plain_words_do_not() -> None:
    wide = compile_rule(r"\w{0,20}z", regex=True)
    rules = [wide]
    while True:
        try:
            check_rules([*rules, wide])
        except RuleError as exc:
            assert exc.key == "filter_rule.over_budget" and f"the limit is {MAX_REGEX_PROGRAM}" in str(exc)
            break
        rules.append(wide)
    check_rules([*rules, *(FilterRule(f"word{n}") for n in range(150))])


def test_stored_rules_over_the_budget_are_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    wide = [FilterRule(rf"\w{{0,30}}z{n}", regex=True) for n in range(5)]  # written by hand: over the budget
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        assert match_filter("xz0", wide) == wide[0]
        assert match_filter("xz4", wide) is None
    assert "over the server's budget" in caplog.text


@pytest.mark.parametrize(
    "prompt",
    [
        "a g\u043ere scene",  # Cyrillic o
        "\u0262\u1d0f\u0280\u1d07 at dawn",  # Latin small capitals
        "\uff27\uff2f\uff32\uff25 at dawn",  # fullwidth
        "\U0001d420\U0001d428\U0001d42b\U0001d41e at dawn",  # mathematical bold
        "g\u200bo\u200dr\u2060e",  # zero-width space, joiner, word joiner
        "go\u202ere at dawn",  # right-to-left override inside the word
        "g\u00adore",  # soft hyphen
        "G\u041eRE",  # Cyrillic capital o
        "\u0433\u043e\u0440\u0435",  # the Russian "gore" (grief): a real word, not a trick
    ],
)
def test_look_alike_letters_and_invisible_characters_do_not_hide_a_word(prompt: str) -> None:
    rules = [FilterRule("gore"), compile_rule("n[s5]fw", regex=True)]
    expected = None if prompt.startswith("\u0433") else rules[0]
    assert match_filter(prompt, rules) == expected


def test_look_alikes_in_regex_rules_and_whole_words_in_look_alikes() -> None:
    rules = [compile_rule("n[s5]fw", regex=True), FilterRule("sex"), FilterRule("hate")]
    assert match_filter("an n\u0455fw picture", rules) == rules[0]  # Cyrillic dze
    assert match_filter("a \u0455\u0435\u0445 scene", rules) == rules[1]  # every letter Cyrillic, in English
    assert match_filter("\u0397\u0391\u03a4\u0395 speech", rules) == rules[2]  # Greek capitals


@pytest.mark.parametrize(
    "prompt",
    [
        "Кот сидит на окне и смотрит на сор во дворе, тёплый вечерний свет",
        "сор на полу, старый хор поёт у окна",
        "一只猫坐在窗台上，看着院子里的落叶，温暖的夕阳",
        "Ο γάτος κάθεται στο παράθυρο το απόγευμα",
        "Straße, göre, façade, naïve",
    ],
)
def test_ordinary_prompts_in_other_scripts_are_not_refused(prompt: str) -> None:
    # Latin words whose letters all have Cyrillic or Greek look-alikes: "cop" looks like the Russian "сор".
    rules = [FilterRule("cop"), FilterRule("xop"), FilterRule("kot"), FilterRule("tot"), FilterRule("core")]
    assert match_filter(prompt, rules) is None


def test_rules_in_other_scripts_still_match_their_own_words() -> None:
    rules = [FilterRule(wordfilter.normalise("Сор")), FilterRule("暴力")]
    assert match_filter("Кот смотрит на сор во дворе", rules) == rules[0]
    assert match_filter("暴力", rules) == rules[1]


def test_clean_prompt_strips_invisible_and_control_characters() -> None:
    hidden = "\u202e\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff\x00\x07\x1b\u00ad"
    assert clean_prompt(f"a {hidden}lighthouse\u202e at\tdawn\n--ar 16:9") == "a lighthouse at dawn --ar 16:9"
    assert clean_prompt("a family \U0001f468\u200d\U0001f469\u200d\U0001f467 picnic") == (
        "a family \U0001f468\u200d\U0001f469\u200d\U0001f467 picnic"  # the joiner that draws one emoji stays
    )
    assert clean_prompt("Кот и 猫 at dawn") == "Кот и 猫 at dawn"
    with pytest.raises(InputError) as caught:
        clean_prompt("\u200b\u202e \u2066\n")
    assert caught.value.key == "input.prompt_empty"
    assert imagine_request("fox\u202egnirts").prompt == "foxgnirts"


# -- through Discord ---------------------------------------------------------------------------------------


async def _add_rule(kit: Kit, pattern: str, *, regex: bool) -> str:
    handle = await kit.fake.slash(
        "admin", {"pattern": pattern, "regex": regex}, subcommand="filter add", user=kit.fake.owner
    )
    return await kit.reply_text(handle)


async def _submit(kit: Kit, command: str, options: dict[str, Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    handle = await kit.fake.slash(command, options, user=kit.fake.bob)
    await handle.wait_for_response(timeout=5.0)
    return handle, time.perf_counter() - began


@pytest.mark.fake_discord(enforce_3s_ack=True)
async def test_a_hostile_pattern_added_through_admin_does_not_hold_up_video(kit: Kit) -> None:
    said = await _add_rule(kit, W32, regex=True)
    handle, waited = await _submit(kit, "video", {"prompt": PROMPT_68})
    assert handle.ack_type == 5 and waited < 1.0  # acknowledged at once
    assert "too large once compiled" in said  # because the pattern was refused, at once too

    accepted = r"\w?" * 16 + r"\w{16}"
    assert "Word filter: added" in await _add_rule(kit, accepted, regex=True)
    assert "Word filter: added" in await _add_rule(kit, "(a|b)*a(a|b){18}z", regex=True)
    handle, waited = await _submit(kit, "video", {"prompt": PROMPT_68})
    assert handle.ack_type == 5 and waited < 1.0  # the rules that were accepted let it through at once
    await kit.job_message(handle)
    assert kit.submits("imagine")[-1]["prompt"].startswith(PROMPT_68)

    handle, waited = await _submit(kit, "video", {"prompt": "a supercalifragilisticexpialidocious kite " * 40})
    assert waited < 1.0
    assert "\\w?" in await kit.reply_text(handle)  # refused at once, naming the rule: 16 word characters in a row
    assert len(kit.submits("imagine")) == 2


async def test_invisible_characters_never_reach_the_api_or_the_channel(kit: Kit) -> None:
    prompt = "a red\u202e fox\u200b in the\u2066 snow\x07"
    job, message = await kit.make_grid(prompt=prompt)
    assert kit.submits("imagine")[-1]["prompt"] == "a red fox in the snow"
    assert job.prompt == "a red fox in the snow"
    shown = message.content + "".join(str(embed) for embed in message.embeds)
    assert "a red fox in the snow" in shown
    assert not any(char in shown for char in "\u202e\u200b\u2066\x07")


async def test_a_look_alike_word_is_refused_through_discord(kit: Kit) -> None:
    assert "Word filter: added" in await _add_rule(kit, "kraken", regex=False)
    handle, _ = await _submit(kit, "imagine", {"prompt": "a kr\u0430k\u0435n rises"})  # Cyrillic a and e
    assert 'matches "kraken"' in await kit.reply_text(handle)
    assert kit.submits("imagine") == []
