"""Shared fixtures of the syntax-layer tests: the torture messages and a realistic INVITE."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

TORTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "torture" / "msgs"


def load_torture(name: str) -> bytes:
    """The bytes of one torture message, by file name without ``.sip``."""
    return (TORTURE_DIR / f"{name}.sip").read_bytes()


@pytest.fixture
def torture() -> Callable[[str], bytes]:
    return load_torture
