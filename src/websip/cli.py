"""The ``websip`` command.

Sub-commands print results for people; errors are one sentence and a hint,
never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Any

from . import __version__
from .exceptions import ParseError
from .sip import Request, parse_message

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PARSE_ERROR = 3


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="websip", description="SIP over WebSocket (RFC 7118) user agent and tools."
    )
    parser.add_argument("--version", action="version", version=f"websip {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_parse = sub.add_parser("parse", help="parse a SIP message and print its typed headers")
    p_parse.add_argument("file", nargs="?", help="file holding one SIP message ('-': stdin)")
    p_parse.add_argument("--example", action="store_true", help="parse the bundled example")
    p_parse.set_defaults(func=_cmd_parse)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``websip parse ... | head``): nothing left to say.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        print(f"websip: unexpected error: {exc} (run with --debug for details)", file=sys.stderr)
        return 1
    return result
