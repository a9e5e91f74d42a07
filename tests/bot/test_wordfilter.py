# ruff: noqa: RUF001, RUF003  (prompts in Russian, Greek and Chinese, which look-alike checks must leave alone)
"""The word filter: patterns that used to freeze the bot, look-alike letters, invisible characters.

Unit tests on ``bot.wordfilter`` and ``bot.options.clean_prompt``, then the same through the loopback Discord:
a moderator adds rules with ``/admin filter add`` and members send ``/video`` and ``/imagine``.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from typing import TYPE_CHECKING, Any

import pytest

from bot import readings, wordfilter
from bot.options import InputError, clean_prompt, imagine_request
from bot.settings import GuildSettings, update_guild_settings
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


@pytest.mark.parametrize(
    "prompt",
    [
        "lots of go\u034fre",  # combining grapheme joiner
        "lots of go\ufe0fre",  # variation selector 16
        "lots of go\U000e0100re",  # variation selector 17
        "lots of go\u180bre",  # Mongolian free variation selector
        "lots of g\u0301ore",  # a combining acute accent
        "lots of g\u0323o\u0323r\u0323e\u0323",  # a dot below every letter
        "lots of G\u00d3RE",  # precomposed, in capitals
        "lots of g\u0585re",  # Armenian oh
        "lots of g\u13ebre",  # Cherokee wi
        "lots of g\uabbbre",  # its small letter
        "lots of g\u00f8re",  # o with a stroke
    ],
)
def test_accents_and_invisible_marks_neither_split_nor_disguise_a_word(prompt: str) -> None:
    assert match_filter(prompt, [FilterRule("gore")]) == FilterRule("gore")


def test_a_dotted_capital_i_reads_as_i() -> None:
    assert match_filter("a F\u0130ST raised", [compile_rule("fist", regex=False)]) == FilterRule("fist")


def test_case_folding_a_reading_brings_back_no_mark() -> None:
    read = [chr(code) for code in range(0x20000) if readings.unmarked(chr(code)) == chr(code)]
    assert [char for char in read if readings.unmarked(char.casefold()) != char.casefold()] == []


def test_a_rule_with_accents_matches_the_word_with_or_without_them_and_kana_keep_their_marks() -> None:
    cafe = compile_rule("Caf\u00e9", regex=False)
    assert cafe == FilterRule("cafe")
    for prompt in ("a cafe", "a caf\u00e9", "a cafe\u0301", "a CAF\u00c9"):
        assert match_filter(prompt, [cafe]) == cafe, prompt
    gaki = compile_rule("\u304c\u304d", regex=False)  # the voiced kana is another word than the plain one
    assert match_filter("\u304c\u304d", [gaki]) == gaki
    assert match_filter("\u304b\u304d", [gaki]) is None


def test_symbols_that_spell_out_long_cannot_push_a_word_out_of_view() -> None:
    prompt = "\ufdfa" * 120 + " nsfw"  # 125 characters that read as 2,165
    assert match_filter(prompt, [compile_rule("n[s5]fw", regex=True)]) is not None
    with pytest.raises(InputError) as caught:
        clean_prompt("\ufdfa" * 140)
    assert caught.value.key == "input.prompt_expands"
    assert "reads as 2,520 characters" in str(caught.value) and "the limit is 2,200" in str(caught.value)
    normal = ("a lighthouse at dawn, " * 90)[:1800] + "\u2026" * 100  # 1,900 characters that read as 2,100
    assert clean_prompt(normal) == normal


def test_rules_in_other_scripts_are_folded_like_the_prompt() -> None:
    rule = compile_rule("\u0441\u0443\u043a\u0430", regex=False)  # all four have Latin twins
    assert match_filter("\u0441\u0443\u043aa", [rule]) == rule  # a Latin a at the end
    assert match_filter("c\u0443k\u0430", [rule]) == rule  # Latin c and k
    assert match_filter("\u0441\u0443\u043a\u0430", [rule]) == rule
    # A Latin word is not refused by the Russian rule it resembles, nor a Russian word by a Latin one.
    assert match_filter("a cyka and a cop show", [rule, compile_rule("\u0441\u043e\u0440", regex=False)]) is None
    assert match_filter("\u0441\u043e\u0440 \u0438 \u043b\u0443\u043a", [FilterRule("cop")]) is None


def test_a_regex_naming_a_character_prompts_never_hold_is_refused_with_its_rewrite() -> None:
    with pytest.raises(RuleError) as caught:
        compile_rule("stra\u00dfe", regex=True)
    assert caught.value.key == "filter_rule.unreadable"
    assert "`\u00df` (U+00DF)" in str(caught.value) and "Write it as `strasse`" in str(caught.value)
    with pytest.raises(RuleError) as caught:
        compile_rule("caf\u00e9s?", regex=True)
    assert "Write it as `cafes?`" in str(caught.value)
    assert compile_rule("strasse", regex=True) == FilterRule("strasse", regex=True)
    assert compile_rule("\u0416\u0443\u043a", regex=True)  # a capital matches its small letter: no need
    assert match_filter("stra\u00dfe", [compile_rule("stras+e", regex=True)]) is not None


def _long_words(count: int, seed: int = 5) -> list[FilterRule]:
    """Plain words of 200 ideographs each: together more than one RE2 set holds."""
    rng = random.Random(seed)
    return [FilterRule("".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(200))) for _ in range(count)]


def test_words_that_outgrow_one_set_are_refused_when_added() -> None:
    check_rules(_long_words(100))
    began = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        check_rules(_long_words(160))
    assert time.perf_counter() - began < 1.0
    assert caught.value.key == "filter_rule.words_too_large"
    assert "160 plain words are too long to check together" in str(caught.value)


def test_stored_words_that_outgrow_one_set_are_still_all_matched(caplog: pytest.LogCaptureFixture) -> None:
    rules = (*_long_words(160, seed=6), FilterRule("gore"))
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        assert match_filter("a harmless cat", rules) is None
        assert match_filter("lots of gore", rules) == rules[-1]
        assert match_filter(f"look: {rules[150].pattern}!", rules) == rules[150]
        assert match_filter(f"{rules[3].pattern}", rules) == rules[3]
    assert caplog.text.count("too large for one set") == 1  # compiled and logged once, not at every prompt


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


def test_clean_prompt_drops_the_joiner_and_selectors_that_change_nothing() -> None:
    assert clean_prompt("lots of go\u034fre, go\ufe0fre, go\U000e0100re, go\u180bre") == (
        "lots of gore, gore, gore, gore"
    )
    kept = "\u2764\ufe0f 1\ufe0f\u20e3 \u845b\U000e0100 \u1820\u180b"  # emoji, keycap, ideograph, Mongolian
    assert clean_prompt(kept) == kept


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


async def test_an_invisible_mark_inside_a_word_is_refused_through_discord(kit: Kit) -> None:
    assert "Word filter: added" in await _add_rule(kit, "gore", regex=False)
    handle, _ = await _submit(kit, "imagine", {"prompt": "lots of go\u034fre everywhere"})
    assert 'matches "gore"' in await kit.reply_text(handle)
    assert kit.submits("imagine") == []


async def test_admin_refuses_a_word_that_would_outgrow_the_set_and_prompts_still_work(kit: Kit) -> None:
    stored = tuple(_long_words(135, seed=7))

    def change(settings: GuildSettings) -> GuildSettings:
        return dataclasses.replace(settings, word_filter=stored)

    await update_guild_settings(kit.store, kit.fake.guild.id, change)
    said = ""
    for rule in _long_words(30, seed=8):
        said = await _add_rule(kit, rule.pattern, regex=False)
        if "Word filter: added" not in said:
            break
    assert "plain words are too long to check together" in said and "/admin filter list" in said

    wordfilter._matcher.cache_clear()
    too_many = (*stored, *_long_words(30, seed=8), FilterRule("gore"))  # as an older version might have saved

    def older(settings: GuildSettings) -> GuildSettings:
        return dataclasses.replace(settings, word_filter=too_many)

    await update_guild_settings(kit.store, kit.fake.guild.id, older)
    handle, _ = await _submit(kit, "imagine", {"prompt": "lots of gore"})
    assert 'matches "gore"' in await kit.reply_text(handle)
    handle, _ = await _submit(kit, "imagine", {"prompt": "a harmless cat"})
    await kit.job_message(handle)
    assert kit.submits("imagine")[-1]["prompt"].startswith("a harmless cat")
