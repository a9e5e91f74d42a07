"""The CLI's job commands: one-off jobs (``video``, ``imagine``, ``extend``) and ``wait``, without Discord.

A job command runs the engine, and the engine settles and finishes every unfinished job of its
store, so the command takes the store for its process first (:mod:`bot.store.owner`): while the bot
or another job command runs on the same store it refuses with one line. ``wait`` needs the engine
only when no other process runs one; otherwise it watches the store, read-only, while that process
finishes the job, and takes over if that process stops first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import cli_followups, media
from bot.acedata.errors import AceDataError, ConnectionFailedError
from bot.acedata.models import ApiRequest, Endpoint, VideoGenerate
from bot.addresses import ANYWHERE, NOWHERE
from bot.cli_output import ProgressPrinter, error
from bot.config import Config
from bot.jobs import JobEngine
from bot.jobs.reconcile import same_request
from bot.options import InputError, imagine_request, video_request
from bot.store import EMPTY_META, JobMeta, Store
from bot.store.models import Job, JobKind, JobStatus
from bot.store.owner import StoreOwner, holder_of
from bot.store.store import is_url
from bot.text import duration

if TYPE_CHECKING:
    from bot.runtime import Services

#: How often ``wait`` reads the job while another process runs it, and how often it tries to take over.
WATCH_INTERVAL_S = 0.5
TAKE_OVER_EVERY_S = 2.0


async def run_job_command(args: argparse.Namespace, config: Config, out: TextIO, err: TextIO) -> int:
    """``mjbot video|imagine|extend``: send one job and follow it to its result."""
    try:
        request, parent_id, meta = await build_request(args, config)
    except InputError as exc:
        error(err, flag_text(exc))
        return 2
    from bot.runtime import take_store

    command = f"mjbot {args.command}"
    with take_store(config, command) or contextlib.nullcontext():
        # The twin is looked for before the engine starts: starting it may finish that very job.
        twin = None if args.new else await stored_twin(config.store.location, request, meta)
        return await _send(args, config, (request, parent_id, meta), twin, out, err)


async def _send(
    args: argparse.Namespace,
    config: Config,
    planned: tuple[ApiRequest, str | None, JobMeta],
    twin: Job | None,
    out: TextIO,
    err: TextIO,
) -> int:
    from bot.runtime import Services

    request, parent_id, meta = planned
    services = await Services.open(config, listen=False, command=f"mjbot {args.command}")
    try:
        if config.sandbox:
            print("Sandbox mode: the built-in API emulator makes this job; nothing is charged.", file=out)
        if twin is not None:
            # One poll settles it if the API finished it meanwhile (the engine's own first tick may come later).
            await services.engine.poll_once()
            latest = await services.engine.get(twin.id) or twin
            if not latest.finished:
                error(err, twin_message(latest, again(args)))
                return 1
            print(f"Job {latest.id} had the same request and has finished; it is not sent again.", file=out)
            return await _result(services, latest, args, out)
        try:
            await check_frames(request, allow_private=config.acedata.media_may_be_private)
        except InputError as exc:
            error(err, flag_text(exc))
            return 2

        try:  # the job is named if the command is interrupted
            job_id = await services.engine.submit(
                request, parent_id=parent_id, meta=meta, recorded=lambda job_id: setattr(args, "following", job_id)
            )
        except AceDataError as exc:
            following = getattr(args, "following", None)
            job = await services.engine.get(following) if following else None
            print(submit_failure(job, exc, again(args)), file=err)
            return 1
        args.following = job_id
        print(f"Job {job_id} submitted.", file=out)
        job = await follow(services.engine, job_id, out)
        video_id = await cli_followups.wait_for_chained_video(services.store, job, out) if job is not None else None
        if video_id is not None:  # ``mjbot animate --index``: the upscale's chain made the video
            args.following = video_id
            job = await follow(services.engine, video_id, out)
        if job is None:
            error(err, f"job {job_id} vanished from the store")
            return 1
        return await _result(services, job, args, out)
    finally:
        await services.close()


async def _result(services: Services, job: Job, args: argparse.Namespace, out: TextIO) -> int:
    """The finished job's result; in the sandbox, saved first where another process may serve its links from."""
    if services.emulator is not None:
        await services.emulator.save()
    code = print_result(job, out, again(args))
    if services.emulator is not None and job.status is JobStatus.SUCCEEDED:
        print(sandbox_note(services.config, services.emulator.settings.public_url, args), file=out)
    return code


def sandbox_note(config: Config, elsewhere: str | None, args: argparse.Namespace) -> str:
    """Which process serves a sandbox run's links once it ends."""
    port = config.emulator.listen_port
    emulator = f"mjbot emulator{again(argparse.Namespace(config=args.config))}"
    if elsewhere:
        return (
            f"Port {port} was taken, so this run listened on another; its links name port {port}, and the "
            f"process there serves them if it is `{emulator}` (it reads this run's saved results)."
        )
    return f"These links work while a sandbox process listens on port {port}: the bot, a job command, or `{emulator}`."


async def wait_command(
    args: argparse.Namespace, config: Config, out: TextIO, err: TextIO, *, api_config: Callable[[], Config]
) -> int:
    """``mjbot wait JOB``: follow a job to its result; a finished job's result is printed at once.

    ``api_config`` is the config with the API checked: only needed when this process must follow the job itself.
    """

    path = config.store.location
    if not store_exists(config, args, err):
        return 1
    store = await Store.open(path, read_only=True)
    try:
        job = await store.jobs.get_job(args.job)
    finally:
        await store.close()
    if job is None:
        shown = config.store.shown_url or path
        error(err, f"there is no job {args.job!r} in {shown}; `mjbot jobs` lists the jobs")
        return 2
    if job.finished:
        return print_result(job, out, again(args))
    args.following = job.id
    if config.store.uses_postgres:
        # Shared store: this engine follows the job only if its lease runs out (its process stopped); until then
        # the store shows what the process that holds it learns.
        return await _follow_here(args, api_config, job, out, err)
    owner = StoreOwner.try_acquire(path, "mjbot wait")
    if owner is None:
        watched, owner = await watch(path, job.id, out)
        if watched is None:
            error(err, f"job {job.id} vanished from the store")
            return 1
        if owner is None:
            return print_result(watched, out, again(args))
    with owner:
        return await _follow_here(args, api_config, job, out, err)


async def _follow_here(
    args: argparse.Namespace, api_config: Callable[[], Config], job: Job, out: TextIO, err: TextIO
) -> int:
    from bot.runtime import Services

    services = await Services.open(api_config(), listen=False, command="mjbot wait")
    try:
        followed = await follow(services.engine, job.id, out)
        if followed is None:
            error(err, f"job {job.id} vanished from the store")
            return 1
        return await _result(services, followed, args, out)
    finally:
        await services.close()


def store_exists(config: Config, args: argparse.Namespace, err: TextIO) -> bool:
    """Whether the store is there to read; if not, says where it was looked for (a read never creates one)."""
    path = config.store.location
    if has_store(path):
        return True
    source = f"the [store] path of {args.config}" if args.config else "the [store] path of config.toml, or the default"
    error(
        err,
        f"there is no store at {path} ({source}); nothing has run there yet. If the bot keeps its store "
        "elsewhere, point at it with --config PATH (the bot's config, whose [store] path names it)",
    )
    return False


def has_store(path: str) -> bool:
    """Whether something is at the store's path (reading must not create a store; whatever is there, the store
    itself says what is wrong with it, a folder or a file that is no database). A PostgreSQL store is always
    there to ask."""
    return is_url(path) or Path(path).exists()


async def stored_twin(path: str, request: ApiRequest, meta: JobMeta) -> Job | None:
    """The unfinished twin of ``request`` in the store at ``path``, read without starting any engine."""
    if not has_store(path):
        return None
    store = await Store.open(path)
    try:
        return await unfinished_twin(store, request, meta)
    finally:
        await store.close()


async def build_request(args: argparse.Namespace, config: Config) -> tuple[ApiRequest, str | None, JobMeta]:
    """The typed request for a job command, its parent job (a follow-up's) and the new job's meta."""
    if args.command == "video":
        video = video_request(
            args.prompt,
            args.image,
            end_image_url=args.end_image,
            loop=args.loop,
            mode=args.mode,
            resolution=args.resolution,
            names=("--image", "--end-image", "--loop"),
        )
        return video, None, EMPTY_META
    if args.command == "imagine":
        return imagine_request(args.prompt, mode=args.mode), None, EMPTY_META
    return await cli_followups.plan_command(args, config)  # extend, reroll, animate...: the core's rules


async def unfinished_twin(store: Store, request: ApiRequest, meta: JobMeta) -> Job | None:
    """The oldest unfinished CLI job (no Discord member) with the same request and the same intent, if any: an
    upscale to animate (``mjbot animate``) is no twin of a plain upscale of the same image, nor the other way."""
    kind = JobKind.VIDEO if request.endpoint is Endpoint.VIDEOS else JobKind.IMAGINE
    body = request.to_body()
    twins = [
        job
        for job in await store.jobs.unfinished_jobs()
        if job.user_id is None
        and job.guild_id is None
        and job.kind is kind
        and same_request(job.params, body)
        and job.meta.then_animate == meta.then_animate
    ]
    return min(twins, key=lambda job: job.created_at, default=None)


async def check_frames(request: ApiRequest, *, allow_private: bool) -> None:
    """The checks Discord's /video makes of a link before any credit is spent: it answers, with an image, from
    the public internet (``allow_private``, for an API on this machine or its network: also from there, such as
    the sandbox emulator's samples). InputError names the flag.

    Unlike a member's link, which may reach only the services the bot runs, the operator's own links may lead
    anywhere in a private API's network: the operator can reach it anyway, and nobody else chooses them."""
    if not isinstance(request, VideoGenerate):
        return
    frames = [("--image", request.image_url), ("--end-image", request.end_image_url)]
    private = ANYWHERE if allow_private else NOWHERE
    async with media.link_session(private) as session:
        for flag, url in frames:
            if url:
                await media.check_image_url(session, url, option=flag, private=private)


def flag_text(error: InputError) -> str:
    """An input error as a terminal shows it: the flags it names are plain words, not Discord's `code` marks."""
    return str(error).replace("`", "")


def again(args: argparse.Namespace) -> str:
    """This run's ``--api`` and ``--config``, to add to the commands it suggests so that they work as printed."""
    flags = [(flag, getattr(args, name, None)) for flag, name in (("--api", "api"), ("--config", "config"))]
    return "".join(f" {flag} {shlex.quote(str(value))}" for flag, value in flags if value)


def twin_message(job: Job, flags: str = "") -> str:
    """Why a command is not sent again: the same request is still under way as ``job``."""
    if job.status is JobStatus.SUBMITTING:
        return (
            f"job {job.id} with the same request is still unsettled: the API has not confirmed whether it created "
            f"that task, so sending it again could pay twice; follow it with `mjbot wait {job.id}{flags}` "
            "(or add --new to send another anyway)"
        )
    state = f"{job.status.value}, {job.progress}%" if job.status is JobStatus.RUNNING else job.status.value
    return (
        f"job {job.id} with the same request is still unfinished ({state}); "
        f"follow it with `mjbot wait {job.id}{flags}` (or add --new to send another anyway)"
    )


def submit_failure(job: Job | None, error: AceDataError, flags: str = "") -> str:
    """What to tell about a submit that raised: refused, never sent, or unknown (the API may have the task)."""
    if job is not None and not job.finished:
        return (
            f"mjbot: the API did not confirm job {job.id} ({error}); it may have created the task, and charged for "
            f"it. It is not sent again while that is unknown; follow it with: mjbot wait {job.id}{flags}"
        )
    if isinstance(error, ConnectionFailedError) and not error.sent:
        return f"mjbot: could not reach the API ({error}); nothing was sent"
    return f"mjbot: the API refused the job: {error}"


async def follow(engine: JobEngine, job_id: str, out: TextIO) -> Job | None:
    """Show the job's progress while this process's engine runs it; the finished job (``None`` if deleted)."""
    progress = ProgressPrinter(out)
    while True:
        job = await engine.get(job_id)
        if job is None or job.finished:
            break
        progress.show(job)
        with contextlib.suppress(TimeoutError):
            await engine.wait(job_id, timeout=0.5)
    if job is not None and job.status is JobStatus.SUCCEEDED:
        progress.show(job)
    progress.done()
    return job


async def watch(path: str, job_id: str, out: TextIO) -> tuple[Job | None, StoreOwner | None]:
    """Read the job while another process runs the store: until it is finished, or that process stops.

    Returns the job as last read (``None`` if it was deleted), and the store's lock if this process took
    it over (the job is then unfinished, and the caller runs the engine itself).
    """
    holder = holder_of(path)
    who = holder.describe() if holder is not None else "another process"
    print(f"The store is in use by {who}; following job {job_id} read-only while it runs there.", file=out)
    progress = ProgressPrinter(out)
    store = await Store.open(path, read_only=True)
    try:
        next_try = time.monotonic() + TAKE_OVER_EVERY_S
        while True:
            job = await store.jobs.get_job(job_id)
            if job is None:
                progress.done()
                return None, None
            if job.status is JobStatus.SUCCEEDED:
                progress.show(job)
            if job.finished:
                progress.done()
                return job, None
            progress.show(job)
            if time.monotonic() >= next_try:
                owner = StoreOwner.try_acquire(path, "mjbot wait")
                if owner is not None:
                    progress.done()
                    print(f"That process has stopped; job {job_id} is followed here now.", file=out)
                    return job, owner
                next_try = time.monotonic() + TAKE_OVER_EVERY_S
            await asyncio.sleep(WATCH_INTERVAL_S)
    finally:
        await store.close()


def print_result(job: Job, out: TextIO, flags: str = "") -> int:
    """The finished job's result (links, next steps) or why it did not succeed; the exit code."""
    took = duration((job.finished_at or time.time()) - job.created_at)
    if job.status is not JobStatus.SUCCEEDED:
        reason = job.error_message or job.error_code or job.status.value
        print(f"Job {job.id} {job.status.value} after {took}: {reason}", file=out)
        return 1
    print(f"Job {job.id} done in {took}.", file=out)
    if job.kind is JobKind.VIDEO:
        for number, url in enumerate(job.video_urls, start=1):
            print(f"  clip {number}: {url}", file=out)
        if job.image_url:
            print(f"  cover:  {job.image_url}", file=out)
        for step in cli_followups.next_steps(job, flags):
            print(step, file=out)
        return 0
    print(f"  grid:  {job.image_url}", file=out)
    if job.raw_image_url and job.raw_image_url != job.image_url:
        print(f"  full:  {job.raw_image_url}", file=out)
    steps = cli_followups.next_steps(job, flags)
    if steps:
        print("Next:", *steps, sep="\n  ", file=out)
    return 0
