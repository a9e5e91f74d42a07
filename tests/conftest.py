"""Shared fixtures: the loopback API emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.acedata.emulator import Emulator, EmulatorSettings

#: The only token the emulator fixture accepts; distinctive so a leak into logs is easy to spot.
EMULATOR_TOKEN = "emu-secret-token-5b1f9c"


@pytest.fixture
def emulator_token() -> str:
    return EMULATOR_TOKEN


@pytest.fixture
async def emulator(emulator_token: str) -> AsyncIterator[Emulator]:
    """A running emulator with fast jobs and one moderated word, ``forbidden``."""
    emu = Emulator(
        EmulatorSettings(
            tokens=frozenset({emulator_token}),
            job_duration_s=0.2,
            video_duration_s=0.2,
            moderation_words=("forbidden",),
            legacy_fields=False,
            failure_rate=0.0,
        )
    )
    await emu.start()
    yield emu
    await emu.stop()


#: The loopback Discord server: the ``fake_discord`` fixture and the guard that fails a test in which discord.py
#: logged an ERROR (see tests/fakediscord/fixtures.py); and the engine fixtures (client, store, make_engine, engine)
#: that a test module gets by defining its own ``emu`` and ``clock`` (see tests/engine_kit.py); and PostgreSQL, the
#: ``postgres_url`` fixture that marks its tests ``postgres`` (see tests/pg_kit.py).
pytest_plugins = ("fakediscord.fixtures", "engine_kit", "pg_kit")
