"""``websip serve``: the real command in a subprocess, and its option handling."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import signal
import sys
from pathlib import Path

import pytest

import websip
from websip.events import RequestReceived
from websip.server import cli as server_cli

from .helpers import DOMAIN, CoreClient


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    server_cli.add_arguments(parser)
    return parser.parse_args(argv)


async def read_line(stream: asyncio.StreamReader, pattern: str, timeout: float = 10.0) -> str:
    """The next stdout line matching ``pattern`` (earlier lines are skipped)."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), timeout)
        if not raw:
            raise AssertionError(f"output ended before {pattern!r}")
        line = raw.decode()
        if re.search(pattern, line):
            return line


async def test_serve_subprocess_prints_url_registrations_and_routes() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(websip.__file__).parents[1])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "websip",
        "serve",
        "--port",
        "0",
        "--user",
        "alice:secret",
        "--user",
        "bob:hunter2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    alice = bob = None
    try:
        line = await read_line(process.stdout, r"listening on ")
        match = re.search(r"listening on (ws://127\.0\.0\.1:(\d+))", line)
        assert match and int(match.group(2)) > 0, line
        url = match.group(1)
        users = await read_line(process.stdout, r"users: ")
        assert "alice, bob" in users and "secret" not in users  # names only

        alice = await CoreClient(url, "alice", "secret").connect()
        assert (await alice.register()).status_code == 200
        registered = await read_line(process.stdout, r"registered alice")
        assert f"sip:alice@{alice.host};transport=ws" in registered
        assert "for 600 s" in registered

        bob = await CoreClient(url, "bob", "hunter2").connect()
        assert (await bob.register()).status_code == 200
        tid = await alice.send(alice.build("MESSAGE", f"sip:bob@{DOMAIN}", body="hi"))
        routed = await read_line(process.stdout, r"MESSAGE ")
        assert f"sip:alice@{DOMAIN} -> sip:bob@{DOMAIN}" in routed
        got = await bob.next_event(RequestReceived)
        await bob.answer(got, 200)
        assert (await alice.final(tid)).status_code == 200

        missing = await alice.send(alice.build("MESSAGE", f"sip:nobody@{DOMAIN}", body="x"))
        assert (await alice.final(missing)).status_code == 404
        assert "404 Not Found" in await read_line(process.stdout, r"nobody")

        await bob.close()
        bob = None
        assert "connection closed" in await read_line(process.stdout, r"unregistered bob")
    finally:
        for client in (alice, bob):
            if client is not None:
                await client.close()
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
        code = await asyncio.wait_for(process.wait(), 10)
    assert code == 0
    rest = await process.stdout.read()
    assert b"stopped" in rest


async def test_port_in_use_is_an_error_with_a_hint() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        err = io.StringIO()
        out = io.StringIO()
        real_stderr = sys.stderr
        sys.stderr = err
        try:
            code = await server_cli.run(parse("--port", str(port)), out)
        finally:
            sys.stderr = real_stderr
        assert code == 1
        assert f"cannot listen on 127.0.0.1:{port}" in err.getvalue()
        assert "--port 0" in err.getvalue()
    finally:
        blocker.close()
        await blocker.wait_closed()


def test_users_from_options_file_and_defaults(tmp_path: Path) -> None:
    users, text = server_cli.load_users(parse())
    assert users == server_cli.DEMO_USERS
    assert "alice/alicepw" in text

    path = tmp_path / "users.txt"
    path.write_text("# accounts\n\ncarol:pw:with:colons\n  dave:d  \n", encoding="utf-8")
    users, text = server_cli.load_users(parse("--users-file", str(path), "--user", "erin:e"))
    assert users == {"carol": "pw:with:colons", "dave": "d", "erin": "e"}
    assert "pw" not in text

    users, text = server_cli.load_users(parse("--no-auth"))
    assert users is None and "off" in text


@pytest.mark.parametrize(
    "argv",
    [
        ("--user", "nopassword"),
        ("--user", ":pw"),
        ("--user", "a b:pw"),
        ("--no-auth", "--user", "alice:pw"),
        ("--users-file", "/nonexistent/users.txt"),
        ("--min-expires", "0"),
    ],
)
async def test_bad_options_exit_2(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await server_cli.run(parse(*argv), io.StringIO()) == 2
    assert capsys.readouterr().err.startswith("websip serve: ")


def test_serve_is_a_websip_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from websip.cli import main

    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--port", "--user", "--users-file", "--no-auth", "--domain"):
        assert option in help_text
