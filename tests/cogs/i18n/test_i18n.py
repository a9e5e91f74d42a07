"""Languages: the language files, the translator of the command tree, and what a member reads in their locale."""

# ruff: noqa: RUF001 - the Chinese texts are written with Chinese (full-width) punctuation, as they should be

from __future__ import annotations

import ast
import dataclasses
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import pytest
from discord import app_commands
from fakediscord.payloads import channel_payload, guild_payload

import cogs
from bot import options, quota, wordfilter
from bot.options import InputError
from bot.settings import update_guild_settings
from cogs.admin.cog import AdminCog
from cogs.errors import describe, phrase_of
from cogs.i18n import (
    LOCALES_DIR,
    SOURCE_LOCALE,
    Catalog,
    CatalogTranslator,
    Listing,
    catalog,
    msg,
    ordinal,
    placeholders,
    t,
)
from cogs.i18n.catalog import DISCORD_LOCALES, read_locale_file
from cogs.imagine import ImagineCog
from cogs.jobs import JobsCog
from cogs.settings import SettingsCog
from cogs.video import VideoCog

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

COGS = (VideoCog, ImagineCog, JobsCog, SettingsCog, AdminCog)
ZH = "zh-CN"
#: Helpers of the cogs that put a table in front of the name they are given.
HELPER_TABLES = {"_text": "settings.", "words": "admin.words.", "_words": "admin.stats.", "_card": "confirm."}
WRONG_LINK_ZH = "`image_url` 必须是指向图片的 http:// 或 https:// 链接，收到的是 `ftp://example.com/a.png`。"


class AnyValue:
    """Formats as "x" whatever the format spec (``{millis:.0f}`` included)."""

    def __format__(self, spec: str) -> str:
        return "x"


def commands_of_cogs() -> Iterator[app_commands.Command[Any, ..., Any] | app_commands.Group]:
    """Every command and group the bot's cogs define, groups' children included."""
    pending: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = [
        command for cog in COGS for command in cog.__cog_app_commands__ if command.parent is None
    ]
    while pending:
        command = pending.pop(0)
        yield command
        if isinstance(command, app_commands.Group):
            pending.extend(command.commands)


def source_texts_of_commands() -> dict[str, str]:
    """The English texts of the command tree by their catalogue key, as the decorators give them."""
    texts: dict[str, str] = {}
    for command in commands_of_cogs():
        path = "cmd." + command.qualified_name.replace(" ", ".")
        texts[f"{path}.description"] = command.description
        if isinstance(command, app_commands.Group):
            continue
        for param in command.parameters:
            texts[f"{path}.param.{param.name}.description"] = param.description
            for choice in param.choices:
                texts[f"{path}.choice.{param.name}.{choice.value}"] = choice.name
    return texts


def english_of_command_key(key: str) -> str:
    """The English text of a command key, formatted with the extras its decorator passes (``daily_budget``)."""
    template = catalog().lookup(SOURCE_LOCALE, key) or ""
    return template.format(image="1", video="8") if "{" in template else template


# -- the files ----------------------------------------------------------------------------------------------


def test_every_language_file_parses_and_is_named_by_a_discord_locale() -> None:
    files = sorted(LOCALES_DIR.glob("*.toml"))
    assert {path.stem for path in files} >= {SOURCE_LOCALE, ZH}
    for path in files:
        texts = read_locale_file(path)
        assert path.stem in DISCORD_LOCALES, path.name
        assert texts and all(isinstance(text, str) and text.strip() for text in texts.values()), path.name
        for key, text in texts.items():  # every text formats with its own parameters
            text.format_map({name: AnyValue() for name in placeholders(text)})
            assert key == key.strip() and " " not in key, key


def test_zh_cn_has_every_english_key_with_the_same_placeholders() -> None:
    texts = catalog()
    english, chinese = texts.keys_of(SOURCE_LOCALE), texts.keys_of(ZH)
    assert sorted(english - chinese) == []
    assert sorted(chinese - english) == []  # a key only in zh-CN would be a typo nobody reads
    for key in english:
        source, translated = texts.lookup(SOURCE_LOCALE, key), texts.lookup(ZH, key)
        assert source is not None and translated is not None
        assert placeholders(source) == placeholders(translated), key
        if key.startswith("cmd."):
            assert 1 <= len(translated) <= 100, key  # Discord's limit for descriptions and choice names


def test_the_english_file_words_every_command_text_as_the_decorators_do() -> None:
    declared = source_texts_of_commands()
    in_file = {key for key in catalog().keys_of() if key.startswith("cmd.")}
    assert sorted(set(declared) - in_file) == []  # every text of the command tree has a key, so zh-CN has it too
    assert sorted(in_file - set(declared)) == []  # and no key is left over from a renamed option
    for key, text in declared.items():
        assert english_of_command_key(key) == text, key


def test_the_english_file_words_the_core_messages_as_the_core_does() -> None:
    for name, text in quota.MESSAGES.items():
        assert catalog().lookup(SOURCE_LOCALE, f"quota.{name}") == text
    for name, text in wordfilter.MESSAGES.items():
        assert catalog().lookup(SOURCE_LOCALE, f"filter_rule.{name}") == text
    raised: list[BaseException] = []
    for attempt in (
        lambda: options.clean_prompt("   "),
        lambda: options.clean_prompt("x" * 2001),
        lambda: options.check_image_url("ftp://example.com/a.png"),
        lambda: options.check_image_url("https://example.com/" + "a" * 2100),
        lambda: options.check_image_url("https://example.com/a b.png"),
        lambda: options.video_request("waves", "https://e.x/a.png", end_image_url="https://e.x/b.png", loop=True),
        lambda: options.extend_request("v1", 7, prompt=None),
        lambda: options.imagine_request("a fox", mode="slow"),
        lambda: options.video_mode("relax"),
        lambda: options.video_resolution("1080p"),
        lambda: wordfilter.compile_rule("(?=a)b", True),
        lambda: wordfilter.compile_rule("(x", True),
        lambda: wordfilter.compile_rule(r"(a)\1", True),
    ):
        with pytest.raises(ValueError) as caught:
            attempt()
        raised.append(caught.value)
    for error in raised:
        phrase = phrase_of(error)
        assert phrase is not None, error  # the error names its message ...
        assert str(phrase) == str(error)  # ... and the English file words it the same
        assert phrase.render(ZH) != str(error)  # and zh-CN has its own words for it


def test_every_message_key_in_the_code_exists() -> None:
    """Literal keys (and the fixed start of keys built with an f-string) in the cogs name texts of the files."""
    texts = catalog()
    tables = {key.split(".", 1)[0] for key in texts.keys_of()} - {"cmd"}
    found: set[str] = set()
    for path in Path(cogs.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if "." in text and " " not in text and text.split(".", 1)[0] in tables:
                    found.add(text)
            # Helpers that add their table themselves: _text(locale, "title") is settings.title, and so on.
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in HELPER_TABLES:
                name = node.args[1] if len(node.args) > 1 else None
                if isinstance(name, ast.JoinedStr):
                    name = name.values[0] if name.values else None
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found.add(HELPER_TABLES[node.func.id] + name.value)
    assert len(found) > 100
    keys = texts.keys_of()
    missing = [key for key in found if key not in keys and not any(k.startswith(key) for k in keys)]
    assert sorted(missing) == []


# -- picking a language -------------------------------------------------------------------------------------


def test_a_locale_reads_its_own_language_else_a_variant_of_it_else_english() -> None:
    texts = catalog()
    assert texts.resolve(ZH) == ZH and texts.resolve(discord.Locale.chinese) == ZH
    assert texts.resolve("zh-TW") == ZH  # the same language in another script beats English
    assert texts.resolve("en-GB") == SOURCE_LOCALE and texts.resolve("fr") == SOURCE_LOCALE
    assert texts.resolve(None) == SOURCE_LOCALE and texts.resolve("") == SOURCE_LOCALE
    assert t(ZH, "jobs.status.succeeded") == "✅ 已完成" and t("fr", "jobs.status.succeeded") == "✅ done"
    assert ordinal(SOURCE_LOCALE, 2) == "2nd" and ordinal(SOURCE_LOCALE, 13) == "13th" and ordinal(ZH, 3) == "第 3 位"
    items = Listing(("<#1>", "<#2>", "<#3>"))
    assert items.render(SOURCE_LOCALE) == "<#1>, <#2> and <#3>" and items.render(ZH) == "<#1>、<#2>和<#3>"
    nested = msg("gate.audit", what="/video", reason=msg("gate.blocked_no_reason"))
    assert str(nested) == "/video refused: A moderator blocked you from using the bot on this server. Ask them why."
    assert nested.render(ZH) == "/video 被拒绝：版主已禁止你在本服务器使用机器人。请向版主询问原因。"


def test_errors_are_described_in_the_members_language() -> None:
    error = InputError("`image_url` is bad")  # a message without a key is shown as it is, in any language
    assert describe(error, locale=ZH) == "`image_url` is bad"
    with pytest.raises(InputError) as wrong:
        options.check_image_url("ftp://example.com/a.png")
    assert describe(wrong.value, locale=ZH) == WRONG_LINK_ZH
    assert describe(wrong.value) == str(wrong.value)


def test_a_language_missing_a_key_or_wording_it_badly_falls_back_to_english(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(LOCALES_DIR / f"{SOURCE_LOCALE}.toml", tmp_path)
    (tmp_path / "de.toml").write_text(
        '[jobs]\nnone = "Du hast noch keine Aufträge."\nbad_id = "Keine Auftragsnummer: {nonsense}"\n', encoding="utf-8"
    )
    (tmp_path / "fr.toml").write_text("[jobs\nnone = 'broken'\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="cogs.i18n.catalog"):
        texts = Catalog.load(tmp_path)
        assert texts.locales == (SOURCE_LOCALE, "de")  # the broken file is skipped, with a warning
        assert texts.text("de", "jobs.none") == "Du hast noch keine Aufträge."
        assert texts.text("de", "jobs.footer") == "/show <job id> re-posts a job with working buttons"
        assert texts.text("de", "jobs.bad_id").startswith("That is not a job id")  # {nonsense} can't be filled
    assert "fr.toml is skipped" in caplog.text and "'jobs.bad_id' does not format" in caplog.text


# -- adding a language --------------------------------------------------------------------------------------


async def test_a_third_language_is_one_file_dropped_in_the_locales_folder(tmp_path: Path) -> None:
    for name in (f"{SOURCE_LOCALE}.toml", f"{ZH}.toml"):
        shutil.copy(LOCALES_DIR / name, tmp_path)
    (tmp_path / "de.toml").write_text(
        "[jobs]\n"
        'none = "Du hast noch keine Aufträge. Starte einen mit `/video` oder `/imagine`."\n'
        "[cmd.video]\n"
        'name = "video"\n'
        'description = "Ein Bild in kurze Videoclips verwandeln (oder mit einem Prompt beginnen)"\n'
        'choice.mode.turbo = "Turbo (schneller)"\n'
        "[cmd.jobs]\n"
        'name = "Aufträge"\n',  # not a valid command name (capital letter): left out, with a warning
        encoding="utf-8",
    )
    texts = Catalog.load(tmp_path)
    assert texts.locales == (SOURCE_LOCALE, "de", ZH)
    assert texts.text(discord.Locale.german, "jobs.none").startswith("Du hast noch keine Aufträge")
    assert texts.text("de", "jobs.footer") == t(SOURCE_LOCALE, "jobs.footer")  # what it lacks reads in English

    translator = CatalogTranslator(texts)
    await translator.load()
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(
        discord.Client(intents=discord.Intents.none())
    )
    video = next(command for command in commands_of_cogs() if command.name == "video")
    payload = await video.get_translated_payload(tree, translator)
    assert payload["description_localizations"]["de"].startswith("Ein Bild in kurze Videoclips")
    assert payload["name_localizations"] == {"de": "video"}
    mode = next(option for option in payload["options"] if option["name"] == "mode")
    turbo = next(choice for choice in mode["choices"] if choice["value"] == "turbo")
    assert turbo["name_localizations"] == {"de": "Turbo (schneller)", ZH: "极速"}
    jobs = next(command for command in commands_of_cogs() if command.name == "jobs")
    assert "de" not in (await jobs.get_translated_payload(tree, translator))["name_localizations"]


async def test_the_translator_gives_zh_cn_descriptions_and_choices_and_leaves_english_alone() -> None:
    translator = CatalogTranslator()
    await translator.load()
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(
        discord.Client(intents=discord.Intents.none())
    )
    payloads = {
        command.name: await command.get_translated_payload(tree, translator)
        for command in commands_of_cogs()
        if command.parent is None
    }
    video = payloads["video"]
    assert video["description_localizations"] == {ZH: t(ZH, "cmd.video.description")}
    assert video["name_localizations"] == {}  # names stay the English ones the messages quote
    for option in video["options"]:
        assert option["description_localizations"] == {ZH: t(ZH, f"cmd.video.param.{option['name']}.description")}
    imagine_mode = next(option for option in payloads["imagine"]["options"] if option["name"] == "mode")
    assert [choice["name_localizations"][ZH] for choice in imagine_mode["choices"]] == ["快速", "慢速", "极速"]
    admin = payloads["admin"]
    policy = next(option for option in admin["options"] if option["name"] == "policy")
    assert policy["description_localizations"] == {ZH: "谁可以使用任务的按钮和表情回应"}
    limits = next(option for option in admin["options"] if option["name"] == "limits")
    budget = next(option for option in limits["options"] if option["name"] == "daily_budget")
    assert budget["description_localizations"][ZH].startswith("服务器每个 UTC 日可花费的点数：图片 1，视频 8")


# -- against Discord ----------------------------------------------------------------------------------------


def localised(item: dict[str, Any], field: str = "description") -> str:
    return str((item.get(f"{field}_localizations") or {}).get(ZH))


def option(parent: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in parent.get("options") or [] if item["name"] == name)


async def test_the_synced_commands_carry_zh_cn(kit: Kit) -> None:
    video = kit.fake.command("video")
    assert localised(video) == "把图片变成短视频片段（也可以从提示词开始）"
    assert localised(option(video, "prompt")).startswith("画面中应发生什么")
    assert localised(option(video, "image_url")) == "起始帧的链接（http/https），代替上传"
    choices = {choice["value"]: localised(choice, "name") for choice in option(video, "mode")["choices"]}
    assert choices == {"fast": "快速", "turbo": "极速"}
    assert all(localised(item) != "None" for item in video["options"])  # every option is described in zh-CN

    admin = kit.fake.command("admin")
    assert localised(admin) == "机器人在本服务器的设置（版主）"
    word_filter = option(admin, "filter")
    assert localised(word_filter) == "提示词中被拒绝的词语和规则"
    add = option(word_filter, "add")
    assert localised(add) == "拒绝含有此词语、短语或规则的提示词"
    assert localised(option(add, "regex")) == "将规则视为正则表达式（默认：普通词语或短语）"
    policy = option(option(admin, "policy"), "policy")
    assert {choice["value"]: localised(choice, "name") for choice in policy["choices"]} == {
        "owner": "仅发起者（及拥有“管理消息”权限的成员）",
        "owner_and_mods": "发起者和版主",
        "everyone": "服务器中的所有人",
    }
    for command in kit.fake.commands():  # English stays the default, and no other language is sent
        assert set(command.get("description_localizations") or {}) <= {ZH}


async def test_a_refusal_reads_in_the_members_language(kit: Kit) -> None:
    fake = kit.fake
    link = await fake.slash("video", {"prompt": "waves", "image_url": "ftp://example.com/a.png"}, locale=ZH)
    assert await kit.reply_text(link) == WRONG_LINK_ZH
    batch = await fake.slash("video", {"prompt": "a fox --bs 3"}, locale=ZH)
    assert await kit.reply_text(batch) == "`--bs` 表示要生成几个片段：只能是 1、2 或 4，不能是 3。"
    english = await fake.slash("video", {"prompt": "a fox --bs 3"})
    assert await kit.reply_text(english) == "`--bs` is how many clips to make: 1, 2 or 4, not 3."
    jobs = await fake.slash("jobs", locale=ZH)
    assert await kit.reply_text(jobs) == "你还没有任何任务。用 `/video` 或 `/imagine` 开始一个吧。"
    assert kit.task_count() == 0


async def test_a_job_message_reads_in_its_owners_language(kit: Kit) -> None:
    fake = kit.fake
    handle = await fake.slash("imagine", {"prompt": "a lighthouse at dawn"}, user=fake.bob, locale=ZH)
    message = await kit.job_message(handle)
    job, message = await kit.wait_done(message)
    assert job.meta.locale == ZH
    [embed] = message.embeds
    assert embed["title"] == "🖼️ 生成图片"
    assert "✅ 完成，用时" in embed["description"]
    assert {field["name"] for field in embed["fields"]} == {"模式", "任务"}
    assert embed["footer"]["text"].startswith(f"任务 {job.id}")
    assert kit.labels(message)[-2:] == ["私信", "❌"] and "U1" in kit.labels(message)

    other = await fake.slash("imagine", {"prompt": "a lighthouse at dusk"}, user=fake.alice)
    english, message = await kit.wait_done(await kit.job_message(other))
    assert english.meta.locale == "en-US"
    [embed] = message.embeds
    assert embed["title"] == "🖼️ Imagine" and "✅ Done in" in embed["description"]
    assert kit.labels(message)[-2:] == ["DM", "❌"]


async def test_a_follow_up_and_the_audit_log_each_read_in_their_readers_language(kit: Kit) -> None:
    fake = kit.fake
    fake.guild.preferred_locale = ZH
    await fake.dispatch("GUILD_UPDATE", guild_payload(fake.guild))
    await kit.until(
        lambda: (guild := kit.bot.get_guild(fake.guild.id)) is not None and guild.preferred_locale.value == ZH,
        what="the server's new language",
    )
    audit = fake.add_channel(fake.guild, "audit-log")
    await fake.dispatch("CHANNEL_CREATE", channel_payload(audit))
    await kit.until(lambda: kit.bot.get_channel(audit.id) is not None, what="the audit channel")
    await update_guild_settings(kit.store, fake.guild.id, lambda s: dataclasses.replace(s, audit_channel=audit.id))

    grid, message = await kit.make_grid(user=fake.bob, prompt="a red fox")  # an en-US member
    assert message.embeds[0]["title"] == "🖼️ Imagine"
    posted = await fake.wait_for_message(audit, lambda m: bool(m.embeds) and f"`{grid.id}`" in str(m.embeds))
    [embed] = posted.embeds
    assert embed["title"] == "📨 任务已提交" and embed["description"] == "🖼️ 生成图片：a red fox\n花费：1 点"
    assert [field["name"] for field in embed["fields"]] == ["成员", "任务"]

    # The member clicks U1 from a zh-CN client: the new job is theirs, worded for them.
    click = await fake.click(message, kit.button(message, "img", "upscale1"), user=fake.bob, locale=ZH)
    assert await click.wait_for_response() == 5
    upscale = await kit.job_message(click)
    job, upscale = await kit.wait_done(upscale)
    assert job.meta.locale == ZH and upscale.embeds[0]["title"] == "🔍 放大 · 图片 1"
    cancel = await fake.click(upscale, kit.button(upscale, "x"), user=fake.alice, locale=ZH)
    assert (await kit.reply_text(cancel)).startswith(f"只有发起这个任务的 <@{fake.bob.id}>")
    assert not fake.message(upscale.id).deleted
