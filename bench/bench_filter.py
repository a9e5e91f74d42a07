"""Benchmark of the word filter: how long one ``match_filter`` call takes, at worst (the bot runs it in a worker
thread, so this is the time a member waits for the verdict, and the bound any loop would be held without the thread).

A server may have 200 rules; its regex rules share a compiled-size budget (``MAX_REGEX_PROGRAM``). Each rule set
below fills a server with the worst rules the filter accepts: patterns that make a regex engine work hardest
(exponentially many states, wide bounded repeats, long runs of ``\\w?``; the 102-character ``\\w?`` x 32 pattern
itself is over the budget and refused), the rest of the
200 as plain words built to overlap (long runs of one character, repeated pairs, CJK); and 200 long CJK words,
more than one RE2 set holds, as a server may have stored them before ``check_rules`` refused that (they are
matched in parts). Each is matched against prompts of ``MAX_FILTERED_CHARS`` characters (the longest reading
``clean_prompt`` lets through: 2,000 characters whose ligatures and symbols spell out longer) built to be the
worst for it: one repeated character, random pairs of the letters the
patterns use, random ASCII, random characters from all of Unicode, random CJK, and each of these with a word
in look-alike letters, which makes the filter read the prompt twice. Every prompt is new, so RE2's cache of
states does not help. The first call after the rules change also compiles them; it is timed apart.

Target: max < 10 ms for a call (the bot runs the filter in a worker thread, but a member's submit waits for
it). Also shows how long ``compile_rule`` takes to refuse patterns that used to freeze the bot.

Run: ``python bench/bench_filter.py [--prompts N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator_process import percentile, print_table

from bot import wordfilter
from bot.wordfilter import (
    MAX_FILTER_RULES,
    MAX_FILTERED_CHARS,
    MAX_REGEX_PROGRAM,
    FilterRule,
    compile_rule,
    match_filter,
)

TARGET_MS = 10.0
PROMPT_CHARS = MAX_FILTERED_CHARS
#: The 102-character pattern that held the bot for 15 s on a 68-character prompt with backtracking regexes.
W32 = r"\w?" * 32 + r"\w{32}"


def _fill(patterns: Callable[[int], str], words: Callable[[int], str]) -> list[FilterRule]:
    """Regex rules from ``patterns`` while the server's budget lasts, then plain words up to 200 rules."""
    rules: list[FilterRule] = []
    for index in range(MAX_FILTER_RULES):
        try:
            rule = compile_rule(patterns(index), regex=True)
            wordfilter.check_rules([*rules, rule])
        except ValueError:
            break
        rules.append(rule)
    rules += [compile_rule(words(index), regex=False) for index in range(MAX_FILTER_RULES - len(rules))]
    return rules


RULE_SETS: dict[str, Callable[[], list[FilterRule]]] = {
    "exponential states (a|b)*a(a|b){k}z": lambda: _fill(
        lambda i: rf"(a|b)*a(a|b){{{10 + i % 9}}}z{i}", lambda i: "ab" * (40 + i % 50) + f"c{i}"
    ),
    "\\w? repeats, (a|aa)*b, (x+x+)+y, (.*a){8}": lambda: _fill(
        lambda i: [r"\w?" * (20 - i) + rf"\w{{{20 - i}}}", r"(a|aa)*b", r"(x+x+)+y", r"(.*a){8}"][i % 4] + str(i),
        lambda i: "-" * (60 + i % 100) + f"x{i}",
    ),
    "wide windows .{0,k}z": lambda: _fill(lambda i: rf".{{0,{40 + i}}}z{i}", lambda i: "a" * (20 + i % 150) + "b"),
    "unicode exponential (甲|乙)*甲(甲|乙){k}": lambda: _fill(
        lambda i: rf"(甲|乙)*甲(甲|乙){{{6 + i % 6}}}丙{i}", lambda i: "甲乙" * (20 + i % 60) + f"丙{i}"
    ),
    "alternations of 12 words": lambda: _fill(
        lambda i: "(" + "|".join(f"w{i}x{j}" for j in range(12)) + ")s?", lambda i: f"word{i} phrase{i} here"
    ),
    "200 plain words, no regex": lambda: _fill(lambda i: "(", lambda i: "ab" * (10 + i % 90) + "ba"),
    "200 words of 200 ideographs, in parts": lambda: [
        FilterRule("".join(chr(0x4E00 + (i * 7919 + j * 104729) % 500) for j in range(200)))
        for i in range(MAX_FILTER_RULES)
    ],
}


def _prompts(rng: random.Random) -> dict[str, Callable[[], str]]:
    def pick(alphabet: str) -> Callable[[], str]:
        return lambda: "".join(rng.choice(alphabet) for _ in range(PROMPT_CHARS))

    def any_char() -> str:
        chars: list[str] = []
        while len(chars) < PROMPT_CHARS:
            char = chr(rng.randrange(0x20, 0x2FFFF))
            if char.isprintable():
                chars.append(char)
        return "".join(chars)

    kinds: dict[str, Callable[[], str]] = {
        "one character": lambda: rng.choice("ax-甲") * PROMPT_CHARS,
        "random pairs": lambda: pick(rng.choice(["ab", "xy", "甲乙", "-x"]))(),
        "random ascii": pick("abcdefghijklmnopqrstuvwxyz0123456789 _-.,"),
        "random unicode": any_char,
        "random cjk": pick("".join(chr(code) for code in range(0x4E00, 0x4E00 + 500))),
    }
    # The same with a look-alike word in front: a second reading of the prompt, with Latin letters.
    for name, make in list(kinds.items()):
        kinds[f"{name} + look-alike"] = lambda make=make: "g\u043ere " + make()[: PROMPT_CHARS - 5]
    return kinds


def run(prompts_per_kind: int) -> dict[str, object]:
    rng = random.Random(7)
    kinds = _prompts(rng)
    rows: list[dict[str, object]] = []
    all_calls: list[float] = []
    for name, build in RULE_SETS.items():
        rules = build()
        regexes = sum(rule.regex for rule in rules)
        wordfilter._matcher.cache_clear()
        began = time.perf_counter()
        match_filter("warm up", rules)
        first_ms = (time.perf_counter() - began) * 1000
        calls: list[float] = []
        for make in kinds.values():
            for _ in range(prompts_per_kind):
                prompt = make()
                began = time.perf_counter()
                match_filter(prompt, rules)
                calls.append((time.perf_counter() - began) * 1000)
        all_calls += calls
        rows.append(
            {
                "rules": name,
                "regex_rules": regexes,
                "first_call_ms": round(first_ms, 2),
                "p50_ms": round(percentile(calls, 0.5), 3),
                "p99_ms": round(percentile(calls, 0.99), 3),
                "max_ms": round(max(calls), 3),
            }
        )
    refusals = []
    for pattern in (W32, r"(a)\1", r"(?<=x)y", r"\w{0,1000}" * 5, "a{0,8}" * 7 + "b"):
        began = time.perf_counter()
        try:
            compile_rule(pattern, regex=True)
            verdict = "accepted"
        except ValueError as exc:
            verdict = f"refused: {getattr(exc, 'key', exc)}"
        refusals.append(
            {"pattern": pattern[:40], "ms": round((time.perf_counter() - began) * 1000, 3), "verdict": verdict}
        )
    return {
        "budget": MAX_REGEX_PROGRAM,
        "prompts": len(all_calls),
        "max_ms": round(max(all_calls), 3),
        "p99_ms": round(percentile(all_calls, 0.99), 3),
        "rule_sets": rows,
        "compile_rule": refusals,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--prompts", type=int, default=20, help="prompts of each kind per rule set (default 20)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.prompts)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    for row in report["rule_sets"]:  # type: ignore[attr-defined]
        print_table(
            f"{row['rules']} ({row['regex_rules']} regex rules, {MAX_FILTER_RULES - row['regex_rules']} words)",
            [
                ("first call (compiles)", f"{row['first_call_ms']:.2f} ms", ""),
                ("p50", f"{row['p50_ms']:.3f} ms", ""),
                ("p99", f"{row['p99_ms']:.3f} ms", f"< {TARGET_MS:.0f} ms"),
                ("max", f"{row['max_ms']:.3f} ms", f"< {TARGET_MS:.0f} ms"),
            ],
        )
    print_table(
        f"All {report['prompts']} calls",
        [
            ("p99", f"{report['p99_ms']:.3f} ms", f"< {TARGET_MS:.0f} ms"),
            ("max", f"{report['max_ms']:.3f} ms", f"< {TARGET_MS:.0f} ms"),
        ],
    )
    print_table(
        "compile_rule on patterns that used to freeze the bot",
        [(str(item["pattern"]), f"{item['ms']:.3f} ms", str(item["verdict"])) for item in report["compile_rule"]],  # type: ignore[attr-defined]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
