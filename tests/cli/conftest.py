"""CLI tests: the real Kamailio fixtures (see tests/kamailio/README.md) and a runner
that starts ``python -m websip`` the way a user would."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from kamailio.fixtures import (  # noqa: F401  (fixtures and hook, found by name)
    kamailio,
    kamailio_factory,
    kamailio_session,
    pytest_runtest_makereport,
)

from .helpers import websip_popen


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.lines: list[str] = []

    def args(self, user: str, password: str | None = None) -> list[str]:
        return [
            "--uri",
            f"sip:{user}@websip.test",
            "--ws",
            self.url,
            "--password",
            password if password is not None else f"{user}pw",
        ]

    def stop(self) -> str:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=10)
        return "".join(self.lines) + out


@pytest.fixture
def served() -> Iterator[Served]:
    process = websip_popen("serve", "--port", "0")
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (ws://\S+)", first)
        assert match, first
        server = Served(process, match.group(1))
        server.lines.append(first)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
