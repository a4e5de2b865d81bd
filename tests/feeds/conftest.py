"""Fixtures shared by the refresh loop's tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def _signals_kept() -> Iterator[None]:
    """run_forever installs its own SIGTERM / SIGINT handlers: the suite gets its own back."""
    kept = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGTERM, kept[0])
    signal.signal(signal.SIGINT, kept[1])
