"""Shared pieces of the Python parser adapters used by bench/bench_parser.py.

An adapter wraps one parser library behind the same small interface:

``name``, ``version``
    shown in the report.
``prepare(raw) -> item``
    turn one corpus message (``bytes``, exactly as on the wire) into what the
    library is fed by its own transport (``bytes`` or ``str``) plus whatever the
    adapter needs; done once, outside the timed loops.
``mode_a(item) -> int``, ``mode_b(item) -> int``
    parse the message and read what the mode asks for (see bench/README.md).
    They return a number computed from what was read so nothing can be skipped.
``values(raw) -> dict``
    the canonical values that bench/corpus/expected.json describes, read through
    the library's own API; not timed. Whatever the library cannot produce is
    reported as ``{"__error__": "..."}`` in place of the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_HEADER_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)


def header_names(raw: bytes) -> list[str]:
    """Distinct header field names of a message, in order of first appearance,
    as written (compact forms kept). Used by adapters whose library has no way
    to list a message's headers; computed once per message, outside the timed
    loops."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    first_line_end = head.find(b"\r\n")
    seen: dict[str, str] = {}
    for m in _HEADER_NAME.finditer(head, first_line_end + 2):
        name = m.group(1).decode("ascii")
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def section(fn: Callable[[], Any]) -> Any:
    """Run one extraction step; a library exception becomes an error marker."""
    try:
        return fn()
    except Exception as exc:
        return {"__error__": f"{type(exc).__name__}: {exc}"}


def rport_value(present: bool, value: Any) -> Any:
    """Canonical Via rport: the port as an int, True for a bare ';rport',
    None when the parameter is absent."""
    if not present:
        return None
    if value is None or value == "" or value is True:
        return True
    return int(value)


def body_len(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    return len(body)
