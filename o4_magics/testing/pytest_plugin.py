"""The pytest plugin (registered as a ``pytest11`` entry point): the ``o4_emulator`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Emulator


@pytest.fixture
def o4_emulator() -> Iterator[Emulator]:
    """A fresh offline OpenRouter emulator on a free loopback port, stopped after the test."""
    with Emulator() as emulator:
        yield emulator
