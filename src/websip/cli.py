"""The ``websip`` command.

Sub-commands print results for people (or JSON lines for scripts, ``--json``);
errors are one sentence and a hint, never a traceback (``--debug`` shows it).
The UA sub-commands take every configuration parameter of
``docs/configuration.md`` as an option, or from a TOML file (``--config``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import importlib
import importlib.util
import json
import logging
import os
import signal
import socket
import ssl
import sys
import textwrap
import time
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Any

from . import __version__, causes
from .exceptions import (
    ConfigurationError,
    LocalProtocolError,
    ParseError,
    RequestError,
    TransportError,
    WebsipError,
)
from .ladder import Ladder
from .sip import URI, NameAddr, Request, Response, parse_message

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_PARSE_ERROR = 3  # ``websip parse``: the input is not a valid SIP message
EXIT_AUTH = 4
EXIT_FAILED = 5
EXIT_INTERRUPTED = 130

PASSWORD_ENV = "WEBSIP_PASSWORD"

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    unexpected internal error (a bug: please report it with --debug output)
  2    usage or configuration error (bad option, bad URI, unreadable file)
  3    connection failure (server unreachable, WebSocket refused, TLS failure);
       for `websip parse`: the input is not a valid SIP message
  4    authentication failure (wrong user name or password)
  5    the request or call failed (error response, timeout, rejected)
  130  interrupted (Ctrl-C)

The password comes from --password, the TOML file, the WEBSIP_PASSWORD
environment variable or, when none is given and standard input is a terminal,
a prompt (not echoed) when the server asks for credentials."""


class CliError(Exception):
    """A failure to report as one sentence plus a hint, with an exit code."""

    def __init__(self, code: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


# ---------------------------------------------------------------------------
# websip parse
# ---------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value)


def _cmd_parse(args: argparse.Namespace) -> int:
    if args.example:
        data = resources.files("websip").joinpath("data/example-invite.sip").read_bytes()
        source = "bundled example"
    elif args.file is None or args.file == "-":
        data = sys.stdin.buffer.read()
        source = "standard input"
    else:
        try:
            with open(args.file, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            print(f"websip: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        source = args.file
    try:
        message = parse_message(data)
    except ParseError as exc:
        print(f"websip: {source} is not a SIP message: {exc}", file=sys.stderr)
        print("hint: a SIP message needs a start line, headers and an empty line", file=sys.stderr)
        return EXIT_PARSE_ERROR
    if isinstance(message, Request):
        print(f"Request  {message.method} {message.ruri_text}")
    else:
        print(f"Response {message.status_code} {message.reason_phrase}")
    problems = list(message.defects)
    width = max((len(name) for name, _ in message.headers), default=0)
    counters: dict[str, int] = {}
    for name, raw in message.headers:
        index = counters.get(name.lower(), 0)
        counters[name.lower()] = index + 1
        try:
            typed = _describe(message.parse_header(name, index))
        except ParseError as exc:
            typed = f"!! {exc.reason}"
            problems.append(f"{name}: {exc.reason}")
        print(f"  {name:<{width}} : {raw}")
        if typed != repr(raw):
            print(f"  {'':<{width}}   -> {typed}")
    kind = f" ({message.content_type})" if message.body else ""
    print(f"Body     {len(message.body)} bytes{kind}")
    if problems:
        print("Problems:")
        for problem in problems:
            print(f"  - {problem}")
        return EXIT_PARSE_ERROR
    return EXIT_OK


# ---------------------------------------------------------------------------
# Configuration from options, a TOML file and the environment
# ---------------------------------------------------------------------------

# (option, parameter, kind, help); kind: "str", "int", "float", "true", "false", "list".
_UA_OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("--uri", "uri", "str", "SIP URI of the UA: sip:alice@example.com (alice@example.com works)"),
    (
        "--ws",
        "ws_servers",
        "list",
        "WebSocket server ws://HOST[:PORT][/PATH] or wss://...; "
        "repeat for fail-over (weights: use --config)",
    ),
    ("--password", "password", "str", f"SIP password (better: ${PASSWORD_ENV} or the prompt)"),
    ("--display-name", "display_name", "str", "display name, unquoted"),
    (
        "--authorization-user",
        "authorization_user",
        "str",
        "user name for digest (default: --uri's)",
    ),
    ("--register-expires", "register_expires", "int", "registration expiry in seconds (600)"),
    ("--no-register", "register", "false", "do not register on start"),
    ("--registrar-server", "registrar_server", "str", "registrar SIP URI without user"),
    ("--realm", "realm", "str", "digest realm the credentials are for"),
    ("--ha1", "ha1", "str", "digest HA1 = MD5(user:realm:password), instead of --password"),
    ("--instance-id", "instance_id", "str", "UUID of this UA instance (for GRUU/outbound)"),
    (
        "--no-answer-timeout",
        "no_answer_timeout",
        "int",
        "seconds before an unanswered incoming call is rejected (60)",
    ),
    ("--no-session-timers", "session_timers", "false", "disable RFC 4028 session timers"),
    (
        "--use-preloaded-route",
        "use_preloaded_route",
        "true",
        "put a Route to the WebSocket server in initial requests",
    ),
    ("--hack-via-tcp", "hack_via_tcp", "true", "write TCP as the Via transport"),
    ("--hack-via-ws", "hack_via_ws", "true", "write WS, not WSS, in Via over wss://"),
    (
        "--hack-ip-in-contact",
        "hack_ip_in_contact",
        "true",
        "a random IP address as Contact and Via host",
    ),
    (
        "--connection-recovery-min-interval",
        "connection_recovery_min_interval",
        "float",
        "minimum seconds between reconnection attempts (2)",
    ),
    (
        "--connection-recovery-max-interval",
        "connection_recovery_max_interval",
        "float",
        "maximum seconds between reconnection attempts (30)",
    ),
    ("--user-agent", "user_agent", "str", "User-Agent header value"),
    ("--keepalive-interval", "keepalive_interval", "float", "seconds between WebSocket pings (30)"),
    ("--keepalive-timeout", "keepalive_timeout", "float", "seconds to wait for a pong (10)"),
)

# Where a configuration parameter comes from on the command line (for hints).
_OPTION_OF = {param: option for option, param, _, _ in _UA_OPTIONS}
_OPTION_OF["node_websocket_options"] = "--ca/--insecure/--origin"
_OPTION_OF["websocket_options"] = "--ca/--insecure/--origin"

_PARAMETER_HINTS = {
    "uri": "give a SIP URI with a user, such as --uri sip:alice@example.com",
    "ws_servers": "give a WebSocket URL, such as --ws ws://127.0.0.1:8080 or --ws wss://host/ws",
    "registrar_server": "give a SIP URI without user, such as sip:registrar.example.com",
    "password": f"give it with --password, ${PASSWORD_ENV} or the prompt",
}


def _add_ua_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "user agent (every configuration parameter; see docs/configuration.md)"
    )
    group.add_argument(
        "--config",
        metavar="FILE.toml",
        help="read parameters from a TOML file "
        "(keys are the parameter names, e.g. uri, ws_servers; options here win)",
    )
    for option, param, kind, text in _UA_OPTIONS:
        dest = "p_" + param
        if kind == "list":
            group.add_argument(option, dest=dest, action="append", metavar="URL", help=text)
        elif kind == "true":
            group.add_argument(option, dest=dest, action="store_const", const=True, help=text)
        elif kind == "false":
            group.add_argument(option, dest=dest, action="store_const", const=False, help=text)
        else:
            converter: Callable[[str], Any] = {"str": str, "int": int, "float": float}[kind]
            metavar = {"str": "TEXT", "int": "N", "float": "SECONDS"}[kind]
            if param in {"uri", "registrar_server"}:
                metavar = "URI"
            group.add_argument(option, dest=dest, type=converter, metavar=metavar, help=text)
    group.add_argument("--ca", metavar="FILE", help="trust this CA certificate (PEM) for wss://")
    group.add_argument(
        "--insecure", action="store_true", help="do not verify the wss:// server's certificate"
    )
    group.add_argument("--origin", metavar="URL", help="Origin header of the WebSocket handshake")
    group.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up connecting/registering after this long (10)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--trace", action="store_true", help="print every SIP message")
    group.add_argument("--json", action="store_true", help="one JSON object per event line")
    group.add_argument(
        "--ladder", action="store_true", help="draw the message flow at the end (text)"
    )
    group.add_argument(
        "--ladder-file", metavar="FILE", help="write the message flow as .svg or .html"
    )
    group.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise CliError(
            EXIT_USAGE, f"cannot read {path}: {exc.strerror}.", "check --config"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CliError(
            EXIT_USAGE, f"{path} is not valid TOML: {exc}.", "see https://toml.io for the syntax"
        ) from exc
    return data


def build_configuration(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """The UA configuration: the TOML file, then options, then the environment."""
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    if getattr(args, "config", None):
        config.update(_read_toml(args.config))
    for _, param, _, _ in _UA_OPTIONS:
        value = getattr(args, "p_" + param, None)
        if value is not None:
            config[param] = value
    if config.get("password") is None and config.get("ha1") is None and env.get(PASSWORD_ENV):
        config["password"] = env[PASSWORD_ENV]
    ca, insecure, origin = getattr(args, "ca", None), getattr(args, "insecure", False), None
    origin = getattr(args, "origin", None)
    if ca or insecure or origin:
        key = "websocket_options" if "websocket_options" in config else "node_websocket_options"
        options = dict(config.get(key) or {})
        request = dict(options.get("requestOptions") or {})
        if ca:
            if not os.path.isfile(ca):
                raise CliError(EXIT_USAGE, f"the CA file {ca} does not exist.", "check --ca")
            request["ca"] = ca
        if insecure:
            request["rejectUnauthorized"] = False
        if request:
            options["requestOptions"] = request
        if origin:
            options["origin"] = origin
        config[key] = options
    return config


# ---------------------------------------------------------------------------
# Output: status lines, events, traces, ladders
# ---------------------------------------------------------------------------


class Reporter:
    """Everything the command prints, in one place.

    People get a line per event (and, on a terminal, a live status line per UA);
    ``--json`` gets one JSON object per line on stdout instead; errors always go
    to stderr as one sentence and a hint.
    """

    def __init__(
        self,
        *,
        json_lines: bool = False,
        trace: bool = False,
        ladder: bool = False,
        ladder_file: str | None = None,
    ) -> None:
        self.json_lines = json_lines
        self.trace_enabled = trace
        self.ladder_wanted = ladder
        self.ladder_file = ladder_file
        self.ladder: Ladder | None = Ladder() if (ladder or ladder_file) else None
        self.started = time.monotonic()
        self._statuses: dict[str, str] = {}
        self._live: Any = None
        self._console: Any = None
        self._width = 6
        self._console = _rich_console()
        if self._console is not None and self._console.is_terminal and not json_lines:
            from rich.live import Live

            self._live = Live(
                self._status_table(), console=self._console, auto_refresh=True, transient=True
            )
            self._live.start()

    # -- low level ------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _print(self, text: str, style: str | None = None) -> None:
        if self._console is not None:
            from rich.text import Text

            self._console.print(Text(text, style=style or ""))
        else:
            print(text, flush=True)

    def _emit_json(self, obj: dict[str, Any]) -> None:
        obj = {"time": round(self.elapsed(), 4), **obj}
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    def _status_table(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 1))
        for name, status in self._statuses.items():
            mark: Any
            if status.endswith("..."):
                mark = Spinner("dots", style="cyan")
            elif "fail" in status or "disconnected" in status:
                mark = Text("x", style="bold red")
            else:
                mark = Text("o", style="bold green")
            table.add_row(mark, Text(name, style="bold"), Text(status))
        return table

    # -- what commands call ------------------------------------------------------

    def status(self, ua: str, text: str) -> None:
        """The live status line of ``ua`` (terminals only)."""
        self._statuses[ua] = text
        if self._live is not None:
            self._live.update(self._status_table())

    def event(self, ua: str, name: str, text: str | None, **fields: Any) -> None:
        """An event: a JSON line with ``fields``, or ``text`` for people (None: quiet)."""
        if self.json_lines:
            self._emit_json({"ua": ua, "event": name, **fields})
        elif text is not None:
            self._width = max(self._width, len(ua))
            style = "red" if "fail" in name or name == "disconnected" else None
            self._print(f"{ua:<{self._width}}  {text}", style)

    def say(self, text: str, style: str | None = None) -> None:
        """A line for people only (not in --json mode)."""
        if not self.json_lines:
            self._print(text, style)

    def trace(self, ua: str, peer: str, direction: str, data: bytes) -> None:
        if self.ladder is not None:
            self.ladder.add_trace(
                self.elapsed(), ua, peer, "sent" if direction == "sent" else "received", data
            )
        if not self.trace_enabled:
            return
        text = data.decode("utf-8", "replace")
        if self.json_lines:
            self._emit_json(
                {"ua": ua, "event": "sip", "direction": direction, "peer": peer, "message": text}
            )
            return
        arrow = f"{ua} -> {peer}" if direction == "sent" else f"{ua} <- {peer}"
        self._print(
            f"----- {direction} {arrow}  +{self.elapsed():.3f}s  {len(data)} bytes", "dim cyan"
        )
        self._print(text.replace("\r\n", "\n").rstrip("\n") + "\n")

    def error(self, error: CliError) -> None:
        if self.json_lines:
            self._emit_json(
                {
                    "event": "error",
                    "exit_code": error.code,
                    "message": error.message,
                    "hint": error.hint,
                }
            )
        _print_error(error)

    def close(self) -> None:
        """Stop the live display; print and write the ladder."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self.ladder is None:
            return
        if self.ladder_wanted:
            diagram = self.ladder.render_text()
            if self.json_lines:
                sys.stderr.write(diagram)
            elif self._console is not None:
                from rich.text import Text

                self._console.print(Text(diagram))
            else:
                print(diagram, flush=True)
        if self.ladder_file:
            try:
                document = self.ladder.render_file(self.ladder_file)
                with open(self.ladder_file, "w", encoding="utf-8") as fh:
                    fh.write(document)
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                _print_error(
                    CliError(
                        EXIT_USAGE,
                        f"cannot write the ladder to {self.ladder_file}: {reason}.",
                        "check --ladder-file",
                    )
                )
            else:
                self.say(f"ladder diagram written to {self.ladder_file}", "dim")


def _rich_console() -> Any:
    """A rich Console, or None without the ``cli`` extra (then output is plain text)."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(highlight=False, soft_wrap=True)


def _print_error(error: CliError) -> None:
    message = error.message
    if not message.endswith((".", "?", "!")):
        message += "."
    print(f"websip: {message}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint}", file=sys.stderr)
    sys.stderr.flush()


def _json_value(value: Any) -> Any:
    """A JSON-friendly view of event payload fields (no secrets are in them)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Response):
        return {
            "status_code": value.status_code,
            "reason_phrase": value.reason_phrase,
            "call_id": value.call_id,
        }
    if isinstance(value, Request):
        return {"method": value.method, "ruri": value.ruri_text, "call_id": value.call_id}
    if isinstance(value, URI | NameAddr):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def _status_text(response: Response | None) -> str:
    if response is None:
        return "no response"
    return f"{response.status_code} {response.reason_phrase}".strip()


# ---------------------------------------------------------------------------
# Errors for people
# ---------------------------------------------------------------------------


def _causes_of(exc: BaseException) -> list[BaseException]:
    chain = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return chain


def explain_configuration_error(exc: ConfigurationError) -> CliError:
    param = exc.parameter
    option = _OPTION_OF.get(param, param)
    text = str(exc)
    if param in {"node_websocket_options", "websocket_options"}:
        if "requestOptions.ca" in text:
            return CliError(
                EXIT_USAGE,
                f"the CA certificates cannot be loaded from {_shown_value(exc.value)}",
                "--ca takes a PEM file of CA certificates",
            )
        option = "--origin" if "origin" in text else option
    if "mandatory parameter missing" in text:
        message = f"{option} is required (the {param} parameter)"
    elif "unknown parameter" in text:
        message = f"unknown configuration parameter {param!r}"
        option = "--config"
    else:
        reason = text.split(f"parameter {param!r}: ", 1)[-1]
        message = f"{option} {_shown_value(exc.value)} is not valid: {reason}"
    hint = _PARAMETER_HINTS.get(param, "see websip COMMAND --help and docs/configuration.md")
    if "unknown parameter" in text:
        hint = "the TOML keys are the parameter names of docs/configuration.md"
    return CliError(EXIT_USAGE, message, hint)


def _shown_value(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return repr(value)
    return repr(value) if value is not None else "(empty)"


def explain_transport_error(exc: BaseException, server: str) -> CliError:
    """One sentence for a failed WebSocket connection, from the cause chain."""
    chain = _causes_of(exc)
    for cause in chain:
        named = getattr(cause, "server", None)
        if isinstance(named, str) and named:
            server = named
            break
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or "verification failed"
            return CliError(
                EXIT_CONNECTION,
                f"the TLS certificate of {server} is not trusted ({detail})",
                "trust its CA with --ca FILE, or use --insecure for a test server",
            )
        if isinstance(cause, ssl.SSLError):
            return CliError(
                EXIT_CONNECTION,
                f"the TLS handshake with {server} failed ({cause.reason or cause})",
                "does the server speak TLS (wss://) on this port?",
            )
    for cause in chain:
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if isinstance(status, int):
            return CliError(
                EXIT_CONNECTION,
                f"{server} refused the WebSocket connection (HTTP {status})",
                "is it a SIP WebSocket server accepting the 'sip' subprotocol, "
                "and is the path in --ws right?",
            )
        if isinstance(cause, ConnectionRefusedError):
            return CliError(
                EXIT_CONNECTION,
                f"nothing accepts connections at {server} (connection refused)",
                "is the server running, and are the host and port in --ws right?",
            )
        if isinstance(cause, socket.gaierror):
            return CliError(
                EXIT_CONNECTION,
                f"the host name of {server} cannot be resolved",
                "check the host in --ws",
            )
        if isinstance(cause, TimeoutError):
            return CliError(
                EXIT_CONNECTION,
                f"{server} did not answer in time",
                "is the address right and the server up? (--timeout sets the wait)",
            )
    text = str(exc)
    if "subprotocol" in text:
        return CliError(
            EXIT_CONNECTION,
            f"{server} did not accept the 'sip' WebSocket subprotocol",
            "the URL may point at a WebSocket server that does not speak SIP",
        )
    hint = getattr(exc, "hint", "") or "is the server running and the address right?"
    return CliError(EXIT_CONNECTION, f"cannot connect to {server}: {text}", hint)


def explain_request_error(exc: RequestError, what: str, target: str = "") -> CliError:
    """One sentence for a failed request (``what``: "registration", "MESSAGE to bob")."""
    response = exc.response
    status = getattr(response, "status_code", None)
    shown = f" ({_status_text(response)})" if response is not None else ""
    cause = exc.cause
    if cause == causes.AUTHENTICATION_ERROR or (what == "registration" and status == 403):
        return CliError(
            EXIT_AUTH,
            f"the server refused the credentials for the {what}{shown}",
            f"check the password (--password, ${PASSWORD_ENV}), --authorization-user and --realm",
        )
    if cause == causes.CONNECTION_ERROR:
        return CliError(
            EXIT_CONNECTION,
            f"the connection to the server was lost before the {what} completed",
            "check the server; websip reconnects by itself in long-running commands",
        )
    if cause == causes.REQUEST_TIMEOUT and response is None:
        return CliError(
            EXIT_FAILED,
            f"no answer to the {what} (timed out)",
            "the server or the peer did not reply; is the target online?",
        )
    hints = {
        causes.NOT_FOUND: f"is {target or 'the target'} registered right now?",
        causes.UNAVAILABLE: f"{target or 'the target'} is not available right now",
        causes.BUSY: "the peer is busy",
        causes.REJECTED: "the server or the peer refused it (403/603)",
        causes.ADDRESS_INCOMPLETE: "complete the target address",
        causes.REDIRECTED: "the target moved (see the Contact of the response with --trace)",
    }
    return CliError(
        EXIT_FAILED,
        f"the {what} failed{shown or ': ' + cause}",
        hints.get(cause, "run again with --trace to see the response"),
    )


# ---------------------------------------------------------------------------
# A UA driven by a command
# ---------------------------------------------------------------------------


class Agent:
    """A :class:`websip.UA` with its events reported by a :class:`Reporter`."""

    def __init__(
        self,
        reporter: Reporter,
        config: dict[str, Any],
        name: str | None = None,
        *,
        media_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.reporter = reporter
        self.config = config
        self.media_factory = media_factory
        self.ua: Any = None
        self.name = name or "ua"
        self.server = "server"
        self.last_failed_server: str | None = None

    def _make_ua(self) -> Any:
        from .aio.ua import UA

        try:
            ua = UA(self.config, on_trace=self._on_trace, media_factory=self.media_factory)
        except ConfigurationError as exc:
            raise explain_configuration_error(exc) from exc
        user = ua.configuration.uri.user
        if self.name == "ua" and user:
            self.name = str(user)
        servers = ua.configuration.ws_servers
        if servers:
            self.server = servers[0].ws_uri
        for event in (
            "connecting",
            "connected",
            "disconnected",
            "registered",
            "unregistered",
            "registration_failed",
            "new_options",
            "sip_event",
        ):
            ua.on(event, self._handler(event))
        return ua

    def _handler(self, name: str) -> Callable[[Any], None]:
        def handle(payload: Any) -> None:
            self._report(name, payload)

        return handle

    def _on_trace(self, direction: str, data: bytes) -> None:
        self.reporter.trace(self.name, self.server, direction, data)

    def _report(self, name: str, payload: Any) -> None:
        fields = {
            f.name: _json_value(getattr(payload, f.name)) for f in dataclasses.fields(payload)
        }
        reporter = self.reporter
        text: str | None
        if name == "connecting":
            self.server = payload.server
            attempt = f" (attempt {payload.attempts})" if payload.attempts > 1 else ""
            text = f"connecting to {payload.server}{attempt}"
            reporter.status(self.name, f"connecting to {payload.server}...")
        elif name == "connected":
            self.server = payload.server
            text = f"connected to {payload.server}"
            wants = self.ua is not None and self.ua.configuration.register
            reporter.status(self.name, "registering..." if wants else f"connected to {self.server}")
        elif name == "disconnected":
            if payload.error:
                self.last_failed_server = payload.server
                text = f"disconnected from {payload.server}: {payload.reason}"
                reporter.status(self.name, "disconnected (failed)")
            else:
                text = None
        elif name == "registered":
            aor = self.ua.configuration.uri if self.ua is not None else ""
            text = f"registered as {aor} ({_status_text(payload.response)})"
            reporter.status(self.name, f"registered via {self.server}")
        elif name == "unregistered":
            text = "unregistered" + (f" ({payload.cause})" if payload.cause else "")
            reporter.status(self.name, "unregistered")
        elif name == "registration_failed":
            text = f"registration failed: {payload.cause}"
            if payload.response is not None:
                text += f" ({_status_text(payload.response)})"
            reporter.status(self.name, "registration failed")
        elif name == "new_options":
            text = f"OPTIONS from {_identity(payload.options.remote_identity)}"
        elif name == "sip_event":
            text = f"NOTIFY for event {payload.event!r}"
        else:
            text = name
        reporter.event(self.name, name, text, **fields)

    async def start(self, timeout: float | None) -> Any:
        """Start (connect, register); returns the UA. Failures become CliError."""
        self.ua = self._make_ua()
        try:
            await self.ua.start(timeout=timeout)
        except RequestError as exc:
            if self._may_prompt(exc):
                self.config = {**self.config, "password": self._prompt()}
                return await self.start(timeout)
            raise explain_request_error(exc, "registration") from exc
        except TransportError as exc:
            raise explain_transport_error(exc, self.last_failed_server or self.server) from exc
        except ConfigurationError as exc:  # e.g. a CA file that is not PEM
            raise explain_configuration_error(exc) from exc
        except TimeoutError as exc:
            raise CliError(
                EXIT_CONNECTION,
                f"no connection and registration at {self.server} within {timeout:g} s",
                "is the server up? (--timeout sets the wait)",
            ) from exc
        return self.ua

    def _may_prompt(self, exc: RequestError) -> bool:
        return (
            exc.cause == causes.AUTHENTICATION_ERROR
            and self.config.get("password") is None
            and self.config.get("ha1") is None
            and sys.stdin.isatty()
        )

    def _prompt(self) -> str:
        self.reporter.status(self.name, "waiting for the password...")
        uri = self.ua.configuration.uri if self.ua is not None else self.name
        return getpass.getpass(f"Password for {uri}: ")

    async def stop(self) -> None:
        if self.ua is not None:
            await self.ua.stop()


class Run:
    """State shared by a command's coroutine and the signal handlers."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.soft = False  # True while waiting in a long-running command
        self.task: asyncio.Task[int] | None = None

    def interrupt(self) -> None:
        if self.soft and not self.stop.is_set():
            self.stop.set()
        elif self.task is not None:
            self.task.cancel()

    async def wait(self, duration: float | None) -> None:
        """Until Ctrl-C/SIGTERM, or ``duration`` seconds (None: no limit)."""
        self.soft = True
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), duration)
        finally:
            self.soft = False


def _run_async(args: argparse.Namespace, body: Callable[[Run, Reporter], Awaitable[int]]) -> int:
    reporter = Reporter(
        json_lines=args.json,
        trace=args.trace,
        ladder=args.ladder,
        ladder_file=args.ladder_file,
    )
    run = Run()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        # No loop signal handlers on Windows or outside the main thread: there
        # Ctrl-C raises KeyboardInterrupt instead, handled around asyncio.run().
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, run.interrupt)
            loop.add_signal_handler(signal.SIGTERM, run.interrupt)
        run.task = asyncio.current_task()
        try:
            return await body(run, reporter)
        except CliError as exc:
            reporter.error(exc)
            return exc.code

    try:
        code = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = EXIT_INTERRUPTED
    finally:
        reporter.close()
    return code


async def _with_agent(
    args: argparse.Namespace,
    reporter: Reporter,
    use: Callable[[Agent], Awaitable[int]],
) -> int:
    agent = Agent(reporter, build_configuration(args))
    try:
        await agent.start(args.timeout)
        return await use(agent)
    finally:
        await agent.stop()


def _parse_target(ua: Any, target: str) -> URI | str:
    """``sip:example.com`` (no user) is a server, as a URI; anything else is left to
    the UA's JsSIP-style normalization (``bob`` -> ``sip:bob@our-domain``)."""
    if target.lower().startswith(("sip:", "sips:")) and "@" not in target:
        try:
            return URI.parse(target)
        except ParseError as exc:
            raise _target_error(target, exc) from exc
    return target


def _identity(name_addr: NameAddr) -> str:
    """How a person is shown: ``"Alice" <sip:alice@example.com>`` (no tag)."""
    uri = str(name_addr.uri)
    return f'"{name_addr.display_name}" <{uri}>' if name_addr.display_name else uri


def _target_error(target: str, exc: Exception) -> CliError:
    return CliError(
        EXIT_USAGE,
        f"{target!r} is not a valid SIP target ({exc})",
        "give a user (bob), user@domain or a SIP URI such as sip:bob@example.com",
    )


# ---------------------------------------------------------------------------
# websip register / message / options / answer
# ---------------------------------------------------------------------------


def _cmd_register(args: argparse.Namespace) -> int:
    async def body(run: Run, reporter: Reporter) -> int:
        async def use(agent: Agent) -> int:
            ua = agent.ua
            staying = args.stay or args.duration is not None
            if ua.configuration.register:
                what = "staying registered"
            else:
                what = f"connected to {agent.server} (not registering)"
            if staying:
                limit = f" for {args.duration:g} s" if args.duration is not None else ""
                what += f"{limit}; Ctrl-C to stop"
            if staying or not ua.configuration.register:
                reporter.event(agent.name, "ready", what, uri=str(ua.configuration.uri))
            if staying:
                await run.wait(args.duration)
            return EXIT_OK

        return await _with_agent(args, reporter, use)

    return _run_async(args, body)


def _read_text(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _cmd_message(args: argparse.Namespace) -> int:
    async def body(run: Run, reporter: Reporter) -> int:
        text = _read_text(args.text)

        async def use(agent: Agent) -> int:
            ua = agent.ua
            destination = _parse_target(ua, args.target)
            target = ua.normalize_target(destination)
            try:
                response = await ua.send_message(
                    destination,
                    text,
                    content_type=args.content_type,
                    extra_headers=args.header or None,
                )
            except (TypeError, ValueError) as exc:
                raise _target_error(args.target, exc) from exc
            except RequestError as exc:
                raise explain_request_error(
                    exc, f"MESSAGE to {target or args.target}", args.target
                ) from exc
            reporter.event(
                agent.name,
                "message_sent",
                f"MESSAGE to {target}: {_status_text(response)}",
                target=str(target),
                response=_json_value(response),
            )
            return EXIT_OK

        return await _with_agent(args, reporter, use)

    return _run_async(args, body)


def _cmd_options(args: argparse.Namespace) -> int:
    async def body(run: Run, reporter: Reporter) -> int:
        async def use(agent: Agent) -> int:
            ua = agent.ua
            destination = _parse_target(ua, args.target)
            target = ua.normalize_target(destination)
            try:
                response = await ua.send_options(destination, extra_headers=args.header or None)
            except (TypeError, ValueError) as exc:
                raise _target_error(args.target, exc) from exc
            except RequestError as exc:
                raise explain_request_error(
                    exc, f"OPTIONS to {target or args.target}", args.target
                ) from exc
            capabilities = {
                name: response.get_header(name)
                for name in ("Allow", "Accept", "Supported", "User-Agent", "Server")
                if response.has_header(name)
            }
            reporter.event(
                agent.name,
                "options_answered",
                f"OPTIONS to {target}: {_status_text(response)}",
                target=str(target),
                response=_json_value(response),
                capabilities=capabilities,
            )
            for name, value in capabilities.items():
                reporter.say(f"  {name}: {value}")
            return EXIT_OK

        return await _with_agent(args, reporter, use)

    return _run_async(args, body)


def _cmd_answer(args: argparse.Namespace) -> int:
    async def body(run: Run, reporter: Reporter) -> int:
        make_media: CallMedia | None = None
        if args.reject is None:
            try:
                make_media = CallMedia(args)
            except CliError:
                media_options = ("play", "tone", "silence", "echo", "record")
                if any(getattr(args, name, None) for name in media_options):
                    raise
                make_media = None  # messages only: calls are refused with 488

        async def use(agent: Agent) -> int:
            ua = agent.ua
            counts = {"messages": 0, "calls": 0}

            def enough() -> bool:
                return (
                    args.max_messages is not None and counts["messages"] >= args.max_messages
                ) or (args.max_calls is not None and counts["calls"] >= args.max_calls)

            def on_message(event: Any) -> None:
                if event.originator != "remote":
                    return
                message = event.message
                counts["messages"] += 1
                if args.reject_messages:
                    message.reject(args.reject_messages)
                    answer = f"rejected with {args.reject_messages}"
                else:
                    message.accept()
                    answer = "accepted"
                reporter.event(
                    agent.name,
                    "new_message",
                    f"message from {_identity(message.remote_identity)}: {message.text} ({answer})",
                    originator="remote",
                    remote_identity=_identity(message.remote_identity),
                    content_type=message.content_type,
                    body=message.text,
                    answer=args.reject_messages or 200,
                )
                if enough():
                    run.stop.set()

            def on_session(event: Any) -> None:
                if event.originator != "remote":
                    return
                session = event.session
                identity = session.remote_identity
                peer = _identity(identity) if identity is not None else "unknown"
                CallWatch(agent, session, peer)

                def done(_: Any) -> None:
                    counts["calls"] += 1
                    if enough():
                        run.stop.set()

                session.once("ended", done)
                session.once("failed", done)
                session.on("refer", lambda data: on_refer(session, peer, data))
                if args.reject is not None:
                    text, code = (
                        f"incoming call from {peer}: rejecting with {args.reject}",
                        args.reject,
                    )
                elif make_media is None:
                    text, code = (
                        f"incoming call from {peer}: refused (no media: aiortc missing)",
                        488,
                    )
                else:
                    text, code = f"incoming call from {peer}: answering", None
                reporter.event(agent.name, "incoming_call", text, peer=peer, reject=code)
                if code is None and make_media is not None:
                    session.answer(media=make_media())
                else:
                    session.terminate(status_code=code)

            def on_refer(session: Any, peer: str, data: Any) -> None:
                if data.originator != "remote":
                    return
                target = str(data.target)
                if args.follow_transfers and make_media is not None:
                    reporter.event(
                        agent.name,
                        "transfer",
                        f"{peer} transfers us to {target}: calling",
                        peer=peer,
                        target=target,
                        accepted=True,
                    )
                    CallWatch(agent, data.accept(media=make_media()), target)
                else:
                    reporter.event(
                        agent.name,
                        "transfer",
                        f"{peer} transfers us to {target}: refused (see --follow-transfers)",
                        peer=peer,
                        target=target,
                        accepted=False,
                    )
                    data.reject(603)

            ua.on("new_message", on_message)
            ua.on("new_rtc_session", on_session)
            reporter.event(
                agent.name,
                "ready",
                f"waiting for calls and messages at {ua.configuration.uri} (Ctrl-C to stop)",
                uri=str(ua.configuration.uri),
            )
            await run.wait(args.duration)
            return EXIT_OK

        return await _with_agent(args, reporter, use)

    return _run_async(args, body)


# ---------------------------------------------------------------------------
# Calls: media from options, websip call, call answering, websip demo
# ---------------------------------------------------------------------------


def _add_media_options(parser: argparse.ArgumentParser, *, answering: bool) -> None:
    group = parser.add_argument_group("media (WebRTC audio through aiortc: the media extra)")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--play", metavar="FILE", help="send this audio file (WAV, MP3, ...)")
    source.add_argument("--tone", type=float, metavar="HZ", help="send a sine tone")
    source.add_argument("--silence", action="store_true", help="send silence (the default)")
    if answering:
        source.add_argument("--echo", action="store_true", help="send back what is heard")
    group.add_argument(
        "--record",
        metavar="FILE.wav",
        help="record what is heard to a WAV file"
        + (" ('{n}' in the name numbers the calls)" if answering else ""),
    )
    group.add_argument(
        "--ice-address",
        action="append",
        metavar="ADDR",
        help="gather ICE candidates on this local address only (repeatable; e.g. 127.0.0.1)",
    )
    group.add_argument(
        "--ice-server",
        action="append",
        metavar="URL",
        help="a STUN server, stun:HOST:PORT (repeatable)",
    )
    group.add_argument(
        "--codec", action="append", metavar="NAME", help="only these codecs (opus, PCMU, PCMA)"
    )


def _media_module() -> Any:
    """websip.media with aiortc loaded, or a CliError saying how to get it."""
    try:
        media = importlib.import_module("websip.media")
        media.AiortcMediaHandler  # noqa: B018 - loads aiortc now, not mid-call
    except ImportError as exc:
        raise CliError(
            EXIT_USAGE,
            f"calls need aiortc, which cannot be loaded ({exc})",
            "install the media extra: pip install 'websip[media]'",
        ) from exc
    return media


class CallMedia:
    """Makes the media handler of each call from the command's media options."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.media = _media_module()
        self.calls = 0
        play = getattr(args, "play", None)
        if play is not None and not os.path.isfile(play):
            raise CliError(EXIT_USAGE, f"the audio file {play} does not exist", "check --play")

    def record_path(self) -> str | None:
        path: str | None = getattr(self.args, "record", None)
        if path is not None and "{n}" in path:
            path = path.replace("{n}", str(self.calls))
        return path

    def __call__(self) -> Any:
        media, args = self.media, self.args
        self.calls += 1
        sinks: list[Any] = []
        source: Any
        if getattr(args, "echo", False):
            echo = media.EchoLink()
            source = echo.source
            sinks.append(echo.sink)
        elif getattr(args, "play", None):
            source = media.FileSource(args.play)
        elif getattr(args, "tone", None):
            source = media.ToneSource(args.tone)
        else:
            source = media.SilenceSource()
        path = self.record_path()
        if path is not None:
            sinks.append(media.WavRecorder(path))
        return media.AiortcMediaHandler(
            source,
            sinks,
            ice_servers=list(args.ice_server or ()),
            ice_addresses=args.ice_address or None,
            codecs=args.codec or None,
        )


def _dominant_frequency(pcm: bytes, sample_rate: int) -> float | None:
    """The strongest frequency of 16-bit mono PCM (the last second of it), or None."""
    import numpy as np

    samples = np.frombuffer(pcm[len(pcm) % 2 :], dtype=np.int16)[-sample_rate:]
    if len(samples) < sample_rate // 10 or not np.any(samples):
        return None
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * sample_rate / len(samples))


class Ear:
    """A sink that keeps what a call heard, to tell its frequency."""

    RATE = 16000

    def __init__(self, media: Any) -> None:
        self.pcm = bytearray()
        self.sink = media.PcmSink(
            sample_rate=self.RATE, callback=self.pcm.extend, max_queued_chunks=0
        )

    def frequency(self) -> float | None:
        return _dominant_frequency(bytes(self.pcm), self.RATE)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.RATE


class CallWatch:
    """Reports one call's events (``call_*`` in --json) and tracks its state."""

    def __init__(self, agent: Agent, session: Any, peer: str) -> None:
        self.agent = agent
        self.session = session
        self.peer = peer
        self.established_at: float | None = None
        self.dtmf_received: list[str] = []
        for name in (
            "progress",
            "accepted",
            "confirmed",
            "ended",
            "failed",
            "new_dtmf",
            "hold",
            "unhold",
            "refer",
        ):
            session.on(name, self._handler(name))

    def _handler(self, name: str) -> Callable[[Any], None]:
        def handle(payload: Any) -> None:
            self._report(name, payload)

        return handle

    def _report(self, name: str, data: Any) -> None:
        agent, reporter = self.agent, self.agent.reporter
        response = getattr(data, "response", None)
        status = f" ({_status_text(response)})" if response is not None else ""
        fields: dict[str, Any] = {"peer": self.peer, "originator": data.originator}
        text: str | None
        if name == "progress":
            text = (
                f"call with {self.peer}: ringing{status}" if data.originator == "remote" else None
            )
            reporter.status(agent.name, f"calling {self.peer}: ringing...")
        elif name == "accepted":
            text = f"call with {self.peer}: answered{status}"
        elif name == "confirmed":
            self.established_at = reporter.elapsed()
            text = f"call with {self.peer}: established"
            reporter.status(agent.name, f"in a call with {self.peer}")
        elif name in ("ended", "failed"):
            fields["cause"] = data.cause
            who = {"local": "we", "remote": "the peer", "system": "websip"}.get(data.originator, "")
            verb = "ended" if name == "ended" else "failed"
            text = f"call with {self.peer}: {verb}, {data.cause}{status} ({who})"
            reporter.status(agent.name, f"call {verb} ({data.cause})")
        elif name == "new_dtmf":
            fields.update(tone=data.tone, duration=data.duration, transport=data.transport)
            if data.originator == "remote":
                self.dtmf_received.append(data.tone or "")
                text = f"DTMF from {self.peer}: {data.tone} ({data.transport})"
            else:
                text = f"DTMF to {self.peer}: {data.tone} ({data.transport})"
        elif name in ("hold", "unhold"):
            text = f"call with {self.peer}: {'on hold' if name == 'hold' else 'resumed'}"
            text += " (by the peer)" if data.originator == "remote" else ""
        else:  # refer
            if data.originator != "local" or data.status_code is None:
                return
            fields.update(status_code=data.status_code, final=data.final)
            text = f"transfer: {data.status_code} {data.reason_phrase}".rstrip()
        if response is not None:
            fields["response"] = _json_value(response)
        reporter.event(agent.name, f"call_{name}", text, **fields)


def explain_call_error(exc: RequestError, target: str) -> CliError:
    error = explain_request_error(exc, f"call to {target}", target)
    hints = {
        causes.BUSY: "the peer is busy: try again later",
        causes.NO_ANSWER: "nobody answered in time",
        causes.CANCELED: "the call was cancelled before it was answered",
        causes.INCOMPATIBLE_SDP: "the peer accepts no offered codec (see --codec) or not WebRTC",
        causes.WEBRTC_ERROR: "the media could not be set up; with a local server try "
        "--ice-address 127.0.0.1",
        causes.NOT_FOUND: f"is {target} registered right now?",
    }
    if error.code == EXIT_FAILED and exc.cause in hints:
        error.hint = hints[exc.cause]
    return error


async def _wait_any(*awaitables: Awaitable[Any]) -> None:
    """Until the first of ``awaitables`` is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _cmd_call(args: argparse.Namespace) -> int:
    async def body(run: Run, reporter: Reporter) -> int:
        make_media = CallMedia(args)

        async def use(agent: Agent) -> int:
            ua = agent.ua
            destination = _parse_target(ua, args.target)
            target = str(ua.normalize_target(destination) or args.target)
            try:
                session = ua.call(
                    destination, media=make_media(), extra_headers=args.header or None
                )
            except (TypeError, ValueError) as exc:
                raise _target_error(args.target, exc) from exc
            CallWatch(agent, session, target)
            reporter.status(agent.name, f"calling {target}...")
            loop = asyncio.get_running_loop()
            timer = None
            if args.hangup_after is not None:
                timer = loop.call_later(args.hangup_after, _hang_up, session)
            try:
                try:
                    await session.established()
                except RequestError as exc:
                    if exc.cause == causes.CANCELED and args.hangup_after is not None:
                        raise CliError(
                            EXIT_FAILED,
                            f"{target} did not answer within {args.hangup_after:g} s",
                            "--hangup-after hung up before an answer",
                        ) from exc
                    raise explain_call_error(exc, target) from exc
                await _media_ready(session)
                if args.dtmf:
                    try:
                        await session.send_dtmf(args.dtmf, transport=args.dtmf_transport)
                    except (ValueError, LocalProtocolError) as exc:
                        raise CliError(
                            EXIT_USAGE,
                            f"cannot send DTMF {args.dtmf!r}: {exc}",
                            "digits are 0-9, *, #, A-D and ',' (a pause)",
                        ) from exc
                    except WebsipError as exc:  # websip.media.MediaError
                        raise CliError(
                            EXIT_FAILED, f"sending DTMF failed: {exc}", "try --dtmf-transport INFO"
                        ) from exc
                if args.transfer_to:
                    subscription = session.refer(args.transfer_to)
                    try:
                        code, reason = await subscription.final(timeout=30)
                    except (RequestError, TimeoutError) as exc:
                        raise CliError(
                            EXIT_FAILED,
                            f"the transfer to {args.transfer_to} failed ({exc})",
                            "the peer may not support REFER",
                        ) from exc
                    if not 200 <= code < 300:
                        raise CliError(
                            EXIT_FAILED,
                            f"the transfer to {args.transfer_to} failed ({code} {reason})",
                            "see the peer's answer with --trace",
                        )
                if not session.is_ended():
                    run.soft = True
                    try:
                        await _wait_any(session.ended(), run.wait(args.duration))
                    finally:
                        run.soft = False
                if not session.is_ended():
                    session.terminate()
                    with contextlib.suppress(TimeoutError):
                        await session.ended(timeout=5)
            finally:
                if timer is not None:
                    timer.cancel()
            if make_media.record_path():
                reporter.say(f"recorded what {target} sent to {make_media.record_path()}", "dim")
            return EXIT_OK

        return await _with_agent(args, reporter, use)

    return _run_async(args, body)


async def _media_ready(session: Any, timeout: float = 10.0) -> None:
    """Wait for ICE and DTLS: SIP may confirm the call before media flows."""
    wait_connected = getattr(session.media, "wait_connected", None)
    if wait_connected is None:
        return
    try:
        await wait_connected(timeout)
    except TimeoutError as exc:
        raise CliError(
            EXIT_FAILED,
            f"the call was answered but its media did not connect within {timeout:g} s",
            "ICE found no path: with a local server try --ice-address 127.0.0.1, "
            "across NAT give a --ice-server",
        ) from exc
    except WebsipError as exc:  # websip.media.MediaError: ICE or DTLS failed
        raise CliError(
            EXIT_FAILED,
            f"the call's media failed to connect ({exc})",
            "with a local server try --ice-address 127.0.0.1",
        ) from exc


def _hang_up(session: Any) -> None:
    if not session.is_ended():
        session.terminate()


def _cmd_demo(args: argparse.Namespace) -> int:
    async def body(run: Run, reporter: Reporter) -> int:
        media = _media_module()
        server_app = importlib.import_module("websip.server.app")
        users = {"alice": "alicepw", "bob": "bobpw"}
        server = server_app.Server("127.0.0.1", args.port, users, domain="websip.test")
        try:
            await server.start()
        except OSError as exc:
            raise CliError(
                EXIT_CONNECTION,
                f"the demo server cannot listen on 127.0.0.1:{args.port} ({exc.strerror})",
                "another program uses that port: try --port 0",
            ) from exc
        url: str = server.url
        reporter.event("server", "listening", f"embedded server listening on {url}", url=url)
        checks: dict[str, bool] = {}

        def check(name: str, ok: bool, text: str) -> None:
            checks[name] = ok
            reporter.event(
                "demo",
                "check",
                ("ok    " if ok else "FAIL  ") + text,
                check=name,
                ok=ok,
                detail=text,
            )

        def agent(user: str) -> Agent:
            config = {"uri": f"sip:{user}@websip.test", "ws_servers": url, "password": users[user]}
            return Agent(reporter, config, user)

        alice, bob = agent("alice"), agent("bob")
        try:
            await alice.start(args.timeout)
            await bob.start(args.timeout)
            check(
                "register",
                alice.ua.is_registered() and bob.ua.is_registered(),
                "alice and bob registered (digest authentication)",
            )

            # An instant message from alice to bob.
            inbox: asyncio.Future[str] = asyncio.get_running_loop().create_future()

            def on_message(event: Any) -> None:
                if event.originator == "remote" and not inbox.done():
                    inbox.set_result(event.message.text)

            bob.ua.on("new_message", on_message)
            text = "Hello Bob! This is websip."
            response = await alice.ua.send_message("bob", text)
            received = await asyncio.wait_for(inbox, 5)
            check(
                "message",
                received == text and response.status_code == 200,
                f"MESSAGE alice -> bob: {received!r} ({_status_text(response)})",
            )

            # A call with a tone each way: alice sends 440 Hz, bob 660 Hz.
            alice_ear, bob_ear = Ear(media), Ear(media)
            bob_calls: list[Any] = []

            def on_session(event: Any) -> None:
                if event.originator != "remote":
                    return
                session = event.session
                bob_calls.append(CallWatch(bob, session, "alice"))
                session.answer(
                    media=media.AiortcMediaHandler(
                        media.ToneSource(660), [bob_ear.sink], ice_addresses=["127.0.0.1"]
                    )
                )

            bob.ua.on("new_rtc_session", on_session)
            session = alice.ua.call(
                "bob",
                media=media.AiortcMediaHandler(
                    media.ToneSource(440), [alice_ear.sink], ice_addresses=["127.0.0.1"]
                ),
            )
            CallWatch(alice, session, "bob")
            await session.established(timeout=10)
            await _media_ready(session)
            await asyncio.sleep(args.seconds)
            check_tone = _tone_check(check)
            check_tone("alice hears bob", alice_ear, 660)
            check_tone("bob hears alice", bob_ear, 440)

            # DTMF from alice to bob (RFC 4733 events in the audio stream).
            digits = "1234#"
            await session.send_dtmf(digits, transport="RFC2833", duration=100, inter_tone_gap=100)
            for _ in range(50):
                if bob_calls and "".join(bob_calls[0].dtmf_received) == digits:
                    break
                await asyncio.sleep(0.05)
            heard = "".join(bob_calls[0].dtmf_received) if bob_calls else ""
            check("dtmf", heard == digits, f"DTMF alice -> bob: sent {digits}, received {heard}")

            session.terminate()
            cause = await session.ended(timeout=5)
            bob_cause = await bob_calls[0].session.ended(timeout=5) if bob_calls else None
            check(
                "hangup", bob_cause == causes.BYE, f"alice hung up: alice {cause}, bob {bob_cause}"
            )
        except (RequestError, TimeoutError) as exc:
            check("demo", False, f"stopped early: {exc or type(exc).__name__}")
        finally:
            await alice.stop()
            await bob.stop()
            await server.stop()
        passed = sum(checks.values())
        if all(checks.values()):
            reporter.event("demo", "done", f"demo finished: all {passed} checks passed", ok=True)
            return EXIT_OK
        reporter.event(
            "demo",
            "done",
            f"demo finished: {len(checks) - passed} of {len(checks)} checks failed",
            ok=False,
        )
        return EXIT_FAILED

    return _run_async(args, body)


def _tone_check(check: Callable[[str, bool, str], None]) -> Callable[[str, Ear, float], None]:
    def check_tone(name: str, ear: Ear, expected: float) -> None:
        found = ear.frequency()
        ok = found is not None and abs(found - expected) < 15
        shown = f"{found:.0f} Hz" if found is not None else "nothing"
        check(name, ok, f"{name}: {shown} in {ear.seconds:.1f} s of audio (sent {expected:.0f} Hz)")

    return check_tone


# ---------------------------------------------------------------------------
# websip serve (the embedded server, websip.server.cli)
# ---------------------------------------------------------------------------


def _server_cli_available() -> bool:
    try:
        return importlib.util.find_spec("websip.server.cli") is not None
    except ModuleNotFoundError:
        return False


def _cmd_serve(args: argparse.Namespace) -> int:
    server_cli: Any = importlib.import_module("websip.server.cli")
    try:
        result: int = asyncio.run(server_cli.run(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return result


def _cmd_serve_missing(args: argparse.Namespace) -> int:
    _print_error(
        CliError(
            EXIT_USAGE,
            "this websip has no embedded server (websip.server.cli is missing)",
            "point --ws at Kamailio, Asterisk or FreeSWITCH instead",
        )
    )
    return EXIT_USAGE


# ---------------------------------------------------------------------------
# The parser and main()
# ---------------------------------------------------------------------------


def _ua_command(sub: Any, name: str, help_text: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=textwrap.fill(description, 79),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _finish_ua_command(parser: argparse.ArgumentParser) -> None:
    _add_ua_options(parser)
    _add_output_options(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="websip",
        description="SIP over WebSocket (RFC 7118) user agent and tools.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"websip {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_parse = sub.add_parser("parse", help="parse a SIP message and print its typed headers")
    p_parse.add_argument("file", nargs="?", help="file holding one SIP message ('-': stdin)")
    p_parse.add_argument("--example", action="store_true", help="parse the bundled example")
    p_parse.set_defaults(func=_cmd_parse)

    p_register = _ua_command(
        sub,
        "register",
        "register, print the result, unregister",
        "Connect, register and print the registrar's answer. With --stay (or "
        "--duration) stay registered, printing every event, until Ctrl-C.",
    )
    p_register.add_argument("--stay", action="store_true", help="stay registered until Ctrl-C")
    p_register.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stay registered this long"
    )
    _finish_ua_command(p_register)
    p_register.set_defaults(func=_cmd_register)

    p_message = _ua_command(
        sub,
        "message",
        "send a MESSAGE (RFC 3428)",
        "Send an instant message and print the answer (exit 0 for a 2xx).",
    )
    p_message.add_argument("target", help="bob, bob@example.com or sip:bob@example.com")
    p_message.add_argument("text", help="the message body ('-': standard input)")
    p_message.add_argument(
        "--content-type", default="text/plain", metavar="TYPE", help="body type (text/plain)"
    )
    p_message.add_argument(
        "--header", action="append", metavar="'NAME: VALUE'", help="an extra header (repeatable)"
    )
    _finish_ua_command(p_message)
    p_message.set_defaults(func=_cmd_message)

    p_options = _ua_command(
        sub,
        "options",
        "send an OPTIONS (a SIP ping) and print the capabilities",
        "Send OPTIONS to a user or a server (sip:example.com) and print the answer.",
    )
    p_options.add_argument("target", help="bob, sip:bob@example.com or sip:example.com")
    p_options.add_argument(
        "--header", action="append", metavar="'NAME: VALUE'", help="an extra header (repeatable)"
    )
    _finish_ua_command(p_options)
    p_options.set_defaults(func=_cmd_options)

    p_answer = _ua_command(
        sub,
        "answer",
        "register and answer incoming messages (a listener)",
        "Register and wait, printing every incoming MESSAGE (accepted with 200 "
        "unless --reject-messages), until Ctrl-C, --duration or --max-messages.",
    )
    p_answer.add_argument(
        "--max-messages", type=int, metavar="N", help="exit after N incoming messages"
    )
    p_answer.add_argument("--duration", type=float, metavar="SECONDS", help="exit after this long")
    p_answer.add_argument(
        "--reject-messages", type=int, metavar="CODE", help="answer messages with CODE (e.g. 486)"
    )
    p_answer.add_argument("--max-calls", type=int, metavar="N", help="exit after N calls ended")
    p_answer.add_argument(
        "--reject", type=_status_code, metavar="CODE", help="reject every call with CODE (486...)"
    )
    p_answer.add_argument(
        "--follow-transfers",
        action="store_true",
        help="accept a REFER from a caller and call the transfer target",
    )
    _add_media_options(p_answer, answering=True)
    _finish_ua_command(p_answer)
    p_answer.set_defaults(func=_cmd_answer)

    p_call = _ua_command(
        sub,
        "call",
        "place a call with WebRTC audio",
        "Call TARGET, send a tone, a file or silence, optionally record what is "
        "heard, send DTMF and transfer; hang up after --duration (after the answer) "
        "or --hangup-after (after dialling), or when the peer does. Exit 0 when the "
        "call was established.",
    )
    p_call.add_argument("target", help="bob, bob@example.com or sip:bob@example.com")
    p_call.add_argument(
        "--duration", type=float, metavar="SECONDS", help="hang up this long after the answer"
    )
    p_call.add_argument(
        "--hangup-after", type=float, metavar="SECONDS", help="hang up this long after dialling"
    )
    p_call.add_argument("--dtmf", metavar="DIGITS", help="send these DTMF digits once answered")
    p_call.add_argument(
        "--dtmf-transport",
        choices=("RFC2833", "INFO"),
        default="RFC2833",
        help="RFC 4733 events in the audio (RFC2833, default) or SIP INFO",
    )
    p_call.add_argument("--transfer-to", metavar="TARGET", help="then transfer the peer (REFER)")
    p_call.add_argument(
        "--header", action="append", metavar="'NAME: VALUE'", help="an extra INVITE header"
    )
    _add_media_options(p_call, answering=False)
    _finish_ua_command(p_call)
    p_call.set_defaults(func=_cmd_call)

    p_demo = sub.add_parser(
        "demo",
        help="a complete local demo: server, two UAs, MESSAGE, a call with audio, DTMF",
        description="Start the embedded server on 127.0.0.1, register alice and bob, "
        "send a MESSAGE, place a call with a tone each way (440 and 660 Hz) and check "
        "that each side hears the other's, send DTMF, hang up. Exit 0 when every "
        "check passed. Needs the media extra (aiortc).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_demo.add_argument(
        "--port", type=int, default=0, help="the server's port (0, default: a free one)"
    )
    p_demo.add_argument(
        "--seconds", type=float, default=1.5, help="how long the call carries audio (1.5)"
    )
    p_demo.add_argument(
        "--timeout", type=float, default=10.0, help="give up registering after this long"
    )
    _add_output_options(p_demo)
    p_demo.set_defaults(func=_cmd_demo)

    p_serve = sub.add_parser(
        "serve",
        help="run the embedded registrar/proxy (for tests and the quick start)",
        description="A small SIP-over-WebSocket registrar and proxy, for development.",
    )
    if _server_cli_available():
        server_cli: Any = importlib.import_module("websip.server.cli")
        server_cli.add_arguments(p_serve)
        p_serve.set_defaults(func=_cmd_serve)
    else:
        p_serve.set_defaults(func=_cmd_serve_missing)
    return parser


def _status_code(text: str) -> int:
    code = int(text)
    if not 300 <= code <= 699:
        raise argparse.ArgumentTypeError(f"a rejection code is 300-699, not {code}")
    return code


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.CRITICAL,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if debug:
        # The trace logger repeats every message; --trace prints them better.
        logging.getLogger("websip.trace").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    args.debug = debug
    _configure_logging(debug)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``websip parse ... | head``): nothing left to say.
        sys.stderr.close()
        return EXIT_OK
    except CliError as exc:
        _print_error(exc)
        return exc.code
    except Exception as exc:
        if debug:
            raise
        print(f"websip: unexpected error: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL
    return result
