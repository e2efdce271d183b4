"""``websip serve``: run the embedded registrar/proxy in the foreground.

It prints where it listens, who may register, then one line per registration,
unregistration and routed request, and exits 0 on Ctrl-C (or SIGTERM).

Users: ``--user NAME:PASSWORD`` (repeatable) and ``--users-file FILE`` (lines
``name:password``; blank lines and ``#`` comments are skipped) enable digest
authentication with those accounts. With neither, the built-in demo accounts
``alice``/``alicepw``, ``bob``/``bobpw`` and ``carol``/``carolpw`` are used and
printed, so the README's quick start works without flags. ``--no-auth`` lets
anyone register under any name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import TextIO

from .app import Server
from .proxy import RequestAnswered, RequestRouted, ServerEvent
from .registrar import DEFAULT_EXPIRES, MIN_EXPIRES, BindingAdded, BindingRemoved

__all__ = ["DEFAULT_PORT", "DEMO_USERS", "add_arguments", "main", "run"]

DEFAULT_PORT = 5066
"""The port SIP-over-WebSocket servers commonly use (FreeSWITCH's ws port)."""
DEMO_USERS = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw"}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``websip serve``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on ({DEFAULT_PORT}; 0 picks a free one and prints it)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="an account allowed to register (repeatable)",
    )
    parser.add_argument(
        "--users-file", metavar="FILE", help="accounts, one 'name:password' per line"
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="no authentication: anyone may register"
    )
    parser.add_argument(
        "--auth-requests",
        action="store_true",
        help="also challenge INVITE, MESSAGE, ... outside dialogs (407)",
    )
    parser.add_argument(
        "--domain", default="websip.test", help="digest realm and GRUU domain (websip.test)"
    )
    parser.add_argument(
        "--min-expires",
        type=int,
        default=MIN_EXPIRES,
        help=f"shortest registration accepted, in seconds ({MIN_EXPIRES})",
    )
    parser.add_argument(
        "--default-expires",
        type=int,
        default=DEFAULT_EXPIRES,
        help=f"registration interval when none is asked ({DEFAULT_EXPIRES})",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also print challenges and answered requests"
    )


def _parse_account(text: str, where: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t@;<>\"'"):
        raise UsageError(f"{where}: expected NAME:PASSWORD, got {text!r}")
    return name, password


def load_users(args: argparse.Namespace) -> tuple[dict[str, str] | None, str]:
    """The accounts to check (None: no auth) and how to describe them."""
    users: dict[str, str] = {}
    for item in args.user:
        name, password = _parse_account(item, "--user")
        users[name] = password
    if args.users_file:
        try:
            with open(args.users_file, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read {args.users_file}: {exc.strerror}") from None
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, password = _parse_account(line, f"{args.users_file} line {number}")
            users[name] = password
    if args.no_auth:
        if users:
            raise UsageError("--no-auth cannot be combined with --user or --users-file")
        return None, "authentication: off (anyone may register under any name)"
    if not users:
        listing = ", ".join(f"{n}/{p}" for n, p in DEMO_USERS.items())
        return dict(DEMO_USERS), f"users: {listing} (built-in demo accounts)"
    return users, f"users: {', '.join(sorted(users))} (digest authentication)"


class _Printer:
    """Turns server events into one line each."""

    def __init__(self, out: TextIO, verbose: bool) -> None:
        self.out = out
        self.verbose = verbose

    def line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.out, flush=True)

    def __call__(self, event: ServerEvent) -> None:
        if isinstance(event, BindingAdded):
            verb = "refreshed" if event.refreshed else "registered"
            self.line(
                f"{verb} {event.user} at {event.contact} "
                f"for {event.expires} s (from {event.connection})"
            )
        elif isinstance(event, BindingRemoved):
            self.line(f"unregistered {event.user} at {event.contact} ({event.reason})")
        elif isinstance(event, RequestRouted):
            self.line(f"{event.method} {event.from_uri} -> {event.to_uri} (to {event.connection})")
        elif isinstance(event, RequestAnswered):
            routine = event.status in (401, 407) or (
                200 <= event.status < 300 and event.method in ("REGISTER", "OPTIONS")
            )
            if routine and not self.verbose:
                return
            self.line(
                f"{event.method} {event.from_uri} -> {event.to_uri}: {event.status} {event.reason}"
            )


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Serve until cancelled or SIGTERM; the exit status."""
    stream = out if out is not None else sys.stdout
    try:
        users, description = load_users(args)
        if args.min_expires <= 0 or args.default_expires < args.min_expires:
            raise UsageError("need 0 < --min-expires <= --default-expires")
    except UsageError as exc:
        print(f"websip serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    printer = _Printer(stream, args.verbose)
    server = Server(
        args.host,
        args.port,
        users,
        domain=args.domain,
        auth_requests=args.auth_requests,
        min_expires=args.min_expires,
        default_expires=args.default_expires,
        max_expires=max(3600, args.default_expires),
        on_event=printer,
    )
    try:
        await server.start()
    except OSError as exc:
        print(f"websip serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        print("hint: another server may be using that port; try --port 0", file=sys.stderr)
        return EXIT_FAILURE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C and SIGTERM end the wait: a clean stop, exit status 0.
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        printer.line(f"websip serve: listening on {server.url} (domain {args.domain})")
        printer.line(description)
        printer.line("press Ctrl-C to stop")
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await server.stop()
        printer.line("websip serve: stopped")
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    """The synchronous entry point of the ``serve`` sub-command (Ctrl-C exits 0)."""
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:  # where signal handlers cannot be installed
        return EXIT_OK
