"""The ``mjbot`` command line: run the bot or the emulator, or drive one-off jobs without Discord."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from bot import __version__, cli_followups, cli_jobs, cli_store, cli_users
from bot.acedata.models import GRID_SIZE
from bot.cli_output import STATUS_STYLES, Column, error, print_table
from bot.config import EMULATOR, Config, ConfigError, load_config
from bot.logs import setup_logging
from bot.startup import StartupError, listen_error
from bot.store import StoreError
from bot.text import duration, shorten

COMMANDS = (
    "run", "emulator", "video", "imagine", "extend", *cli_followups.COMMANDS, "wait", "jobs", "health", "users", "store"
)  # fmt: skip

#: ``mjbot jobs``: the plain columns line up as they always have, for scripts that cut them.
JOB_COLUMNS = (
    Column("JOB", 11),
    Column("KIND", 8),
    Column("ACTION", 11),
    Column("STATUS", 10, styles=STATUS_STYLES),
    Column("PROGRESS", 8, right=True),
    Column("AGE", 8, right=True, gap=2),
    Column("PROMPT", gap=2),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mjbot",
        description="Midjourney videos and images in Discord, through the Ace Data Cloud API.",
    )
    parser.add_argument("--version", action="version", version=f"mjbot {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="the TOML config file")
    parser.add_argument("--config", metavar="PATH", help="the TOML config file (default: config.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="run the Discord bot (the default command)")

    emu = sub.add_parser("emulator", parents=[common], help="run the Ace Data Cloud API emulator alone")
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    emu.add_argument(
        "--port",
        type=_port,
        help="port to listen on, 0 for any free one (default: the config's [emulator] listen_port)",
    )
    emu.add_argument(
        "--token", type=_token, default="emulator-token", help="the bearer token it accepts (default: %(default)s)"
    )
    emu.add_argument(
        "--job-duration",
        type=_seconds,
        metavar="S",
        help="seconds an image job takes (default: [emulator] job_duration_s)",
    )
    emu.add_argument(
        "--video-duration",
        type=_seconds,
        metavar="S",
        help="seconds a video job takes (default: [emulator] video_duration_s)",
    )
    emu.add_argument(
        "--failure-rate",
        type=_share,
        metavar="F",
        help="share of jobs that fail, 0 to 1 (default: [emulator] failure_rate)",
    )
    emu.add_argument("--moderate", action="append", metavar="WORD", help="refuse prompts with this word (repeatable)")

    job_options = argparse.ArgumentParser(add_help=False, parents=[common])
    job_options.add_argument(
        "--api", metavar="URL", help='the API to use: "emulator" for the built-in sandbox, or a base URL'
    )
    new_job = argparse.ArgumentParser(add_help=False, parents=[job_options])
    new_job.add_argument(
        "--new", action="store_true", help="send it even if a job with the same request is still unfinished"
    )

    video = sub.add_parser("video", parents=[new_job], help="animate an image into four video clips")
    video.add_argument("prompt", help="what should happen; Midjourney parameters such as --motion high pass through")
    video.add_argument("--image", required=True, metavar="URL", help="the start frame (http or https)")
    video.add_argument("--end-image", metavar="URL", help="an end frame (not with --loop)")
    video.add_argument("--loop", action="store_true", help="end on the start frame, for a seamless loop")
    video.add_argument("--mode", choices=("fast", "turbo"), default="fast", help="(default: %(default)s)")
    video.add_argument("--resolution", choices=("480p", "720p"), default="720p", help="(default: %(default)s)")

    imagine = sub.add_parser("imagine", parents=[new_job], help="make a 2x2 image grid from a prompt")
    imagine.add_argument("prompt", help="what to picture; Midjourney parameters such as --ar 16:9 pass through")
    imagine.add_argument("--mode", choices=("fast", "relax", "turbo"), default="fast", help="(default: %(default)s)")

    extend = sub.add_parser("extend", parents=[new_job], help="extend one clip of a finished video job")
    extend.add_argument("job", metavar="JOB", help="the job id that `mjbot jobs` shows")
    extend.add_argument("--index", type=int, required=True, metavar="N", help=f"which clip, 1 to {GRID_SIZE}")
    extend.add_argument("--prompt", help="a new prompt for the extension (default: the job's prompt)")
    cli_followups.add_parsers(sub, new_job)  # reroll, animate, upscale, vary, zoom, pan

    wait = sub.add_parser("wait", parents=[job_options], help="follow a job to its result (a finished one: at once)")
    wait.add_argument("job", metavar="JOB", help="the job id that `mjbot jobs` shows")

    jobs = sub.add_parser("jobs", parents=[common], help="list recent jobs in the store")
    jobs.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="how many jobs, newest first (default: %(default)s)"
    )

    sub.add_parser("health", parents=[common], help="ask a running bot's /healthz (exit 0 when healthy)")
    cli_users.add_parser(sub, common)
    cli_store.add_parser(sub)
    return parser


def _whole_number(low: int, high: int | None, meaning: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (no upper bound when None); ``meaning`` says what
    the range is, in the refusal."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"{number} is out of range: {meaning}")
        return number

    return parse


_port = _whole_number(0, 65535, "a port is a number from 0 to 65535")
_positive = _whole_number(1, None, "give 1 or more")


def _number(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return number


def _seconds(text: str) -> float:
    """An argparse type: a duration in seconds, more than 0 (as the config's durations)."""
    seconds = _number(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{seconds:g} is too short: give a number of seconds more than 0, such as 0.5")
    return seconds


def _share(text: str) -> float:
    """An argparse type: a share from 0 to 1."""
    share = _number(text)
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{share:g} is out of range: give a share from 0 to 1, such as 0.1 for 10%")
    return share


def _token(text: str) -> str:
    """An argparse type: a bearer token a client can send (not empty, no spaces)."""
    if not text or text != text.strip() or any(char.isspace() for char in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} can't be a bearer token: give one word with no spaces, such as emulator-token"
        )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not any(arg in COMMANDS for arg in args_list) and not {"-h", "--help", "--version"} & set(args_list):
        args_list.append("run")
    args = parser.parse_args(args_list)
    try:
        return asyncio.run(_dispatch(args))
    except ConfigError as exc:
        error(sys.stderr, f"config error: {exc}")
        return ConfigError.exit_code
    except StartupError as exc:
        error(sys.stderr, str(exc))
        return exc.exit_code
    except StoreError as exc:
        error(sys.stderr, str(exc))
        return 1
    except BrokenPipeError:
        # The reader went away (``mjbot jobs | head -1``): nothing more to say, and nobody to say it to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM (see _stop_on_sigterm)
        error(sys.stderr, _interrupted(args))
        return 128 + (signal.SIGTERM if getattr(args, "terminated", False) else signal.SIGINT)


def _interrupted(args: argparse.Namespace) -> str:
    """What an interrupted command leaves behind, and how to go on."""
    if args.command == "emulator":
        return "emulator stopped"
    if args.command == "store":
        return "interrupted; a copy is rolled back, so its target stays empty"
    job_id = getattr(args, "following", None)
    if job_id:
        return (
            f"interrupted; job {job_id} stays in the store unfinished and resumes on the next start; "
            f"follow it with: mjbot wait {job_id}{cli_jobs.again(args)}"
        )
    return "interrupted; unfinished jobs stay in the store and resume on the next start"


def _stop_on_sigterm(args: argparse.Namespace) -> None:
    """Stop on SIGTERM as on Ctrl-C: cancel the command, so that it closes its store and says what it leaves."""
    task = asyncio.current_task()
    if task is None:
        return

    def stop() -> None:
        args.terminated = True
        task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)


async def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "run"
    if command == "run":
        config = load_config(args.config, require_discord=True, require_acedata=True)
        _setup_logging(config)
        from bot.bot import run_bot  # imported here so the job commands never load discord.py
        from bot.runtime import take_store

        with take_store(config, "mjbot run") or contextlib.nullcontext():  # before Discord hears of us
            await run_bot(config)
        return 0
    _stop_on_sigterm(args)
    if command == "emulator":
        return await _run_emulator(args)
    if command == "users":
        return await cli_users.run(args)
    if command == "store":
        return await cli_store.run(args)
    if command == "health":
        config = load_config(args.config, missing_ok=args.config is None)
        return await asyncio.to_thread(_check_health, config, sys.stdout, sys.stderr)
    if command == "jobs":
        config = load_config(args.config, missing_ok=args.config is None)
        if not cli_jobs.store_exists(config, args, sys.stderr):
            return 1
        return await _list_jobs(config, args.limit, sys.stdout)
    if command == "wait":
        # The API is needed only to follow an unfinished job: a finished or unknown one is read from the store.
        config = _job_config(args, require_acedata=False)
        _setup_logging(config, quiet=True)
        return await cli_jobs.wait_command(args, config, sys.stdout, sys.stderr, api_config=lambda: _job_config(args))
    config = _job_config(args)
    _setup_logging(config, quiet=True)
    return await cli_jobs.run_job_command(args, config, sys.stdout, sys.stderr)


def _setup_logging(config: Config, *, quiet: bool = False) -> None:
    level = "WARNING" if quiet and config.logging.level.upper() in ("INFO", "DEBUG") else config.logging.level
    setup_logging(level, config.logging.format, secrets=(config.discord.token, config.acedata.token))


def _job_config(args: argparse.Namespace, *, require_acedata: bool = True) -> Config:
    """Job commands run on defaults when there is no config file, so ``--api emulator`` works out of the box."""
    environ = dict(os.environ)
    if args.api:
        environ["MJBOT_ACEDATA_BASE_URL"] = args.api
    return load_config(args.config, environ=environ, require_acedata=require_acedata, missing_ok=args.config is None)


async def _run_emulator(args: argparse.Namespace) -> int:
    from bot.acedata.emulator import Emulator, EmulatorSettings
    from bot.runtime import emulator_state_path

    config = load_config(args.config, missing_ok=args.config is None)
    setup_logging(config.logging.level, config.logging.format)
    knobs = config.emulator
    settings = EmulatorSettings(
        tokens=frozenset({args.token}),
        job_duration_s=args.job_duration if args.job_duration is not None else knobs.job_duration_s,
        video_duration_s=args.video_duration if args.video_duration is not None else knobs.video_duration_s,
        failure_rate=args.failure_rate if args.failure_rate is not None else knobs.failure_rate,
        moderation_words=tuple(args.moderate) if args.moderate else knobs.moderation_words,
        # The jobs that sandbox runs (``--api emulator``) made on this config's store: their printed links work here.
        replay_path=str(emulator_state_path(config)),
    )
    # The config's port by default: the links its sandbox runs printed point there.
    port = knobs.listen_port if args.port is None else args.port
    emulator = Emulator(settings)
    try:
        base = await emulator.start(args.host, port)
    except OSError as error:
        raise listen_error(error, host=args.host, port=port, keys="--host and --port") from None
    try:
        print(f"mjbot emulator on {base} (token: {args.token}); Ctrl-C stops it", flush=True)
        print(f"  API: POST {base}/midjourney/imagine, /videos, /tasks; sample frames: {base}/samples/NAME.png")
        print(f"  media of sandbox runs on {config.store.path} is served here too", flush=True)
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
    return 0


def _check_health(config: Config, out: TextIO, err: TextIO) -> int:
    """GET the listener's /healthz; used by the Docker HEALTHCHECK."""
    import urllib.error
    import urllib.request

    if config.callback.listen_port == 0:
        print(
            "mjbot: the health check needs a fixed port, but [callback] listen_port is 0 (any free port, which "
            "nobody else can know); set a port such as 8080 in the config",
            file=err,
        )
        return 2
    host = config.callback.listen_host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is reached through loopback
        host = "127.0.0.1"
    url = f"http://{host}:{config.callback.listen_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            print(response.read().decode("utf-8", "replace"), file=out)
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: HTTP {exc.code} {exc.read().decode('utf-8', 'replace')}", file=out)
    except OSError as exc:
        print(f"unhealthy: no answer from {url}: {exc}", file=out)
    return 1


async def _list_jobs(config: Config, limit: int, out: TextIO) -> int:
    from bot.store import Store

    store = await Store.open(config.store.location, read_only=True)  # a listing changes nothing, not even the schema
    try:
        jobs = await store.jobs.recent_jobs(limit=limit)
    finally:
        await store.close()
    if not jobs:
        print(
            f"No jobs yet in {config.store.shown_url or config.store.path}. "
            "Try: mjbot video 'waves crash' --image URL --api emulator",
            file=out,
        )
        return 0
    now = time.time()
    rows = [
        (
            job.id,
            job.kind.value,
            shorten(job.action, 11),
            job.status.value,
            f"{job.progress}%",
            duration(now - job.created_at),
            shorten(job.prompt, 50),
        )
        for job in jobs
    ]
    print_table(out, JOB_COLUMNS, rows)
    return 0


__all__ = ["EMULATOR", "build_parser", "main"]
