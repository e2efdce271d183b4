"""Shared fixtures of the syntax-layer tests: the torture messages and a realistic INVITE."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from websip.sip import _accel

TORTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "torture" / "msgs"


def load_torture(name: str) -> bytes:
    """The bytes of one torture message, by file name without ``.sip``."""
    return (TORTURE_DIR / f"{name}.sip").read_bytes()


@pytest.fixture
def torture() -> Callable[[str], bytes]:
    return load_torture


# --------------------------------------------------------------------------
# Both implementations: every test module here runs once on the C accelerator
# (websip.sip._speedups, where it is built) and once on pure Python, the
# reference. test_sip_speedups compares the two directly and switches itself.

IMPLEMENTATIONS = ["c", "python"] if _accel.speedups is not None else ["python"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "parser_impl" in metafunc.fixturenames and metafunc.module.__name__ != "test_sip_speedups":
        metafunc.parametrize("parser_impl", IMPLEMENTATIONS, indirect=True, scope="module")


@pytest.fixture(autouse=True, scope="module")
def parser_impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """The parser implementation a module's tests run on ("c" or "python")."""
    impl: str = getattr(request, "param", "c")
    before = _accel.enabled()
    _accel.enable(impl == "c")
    yield impl
    _accel.enable(before)
