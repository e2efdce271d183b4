"""Parameters (``;name=value``) shared by URIs and header values.

Names are case-insensitive (RFC 3261 7.3.1, 19.1.4) and stored lower-case. A
valueless parameter (``;lr``, ``;rport``) is stored with the value None. Header
parameter values are stored unquoted; the set of names whose value arrived
quoted is kept so that writing the value back keeps the quotes (RFC 3840 feature
tags distinguish quoted strings from tokens).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from websip.exceptions import ParseError

from .abnf import QUOTED_STRING, TOKEN, TOKEN_CHARS, is_token, quote, unquote

# generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string
# lenient: LWS is allowed around ";" and "=" as RFC 3261 25.1 SEMI/EQUAL define it.
_GEN_VALUE = rf"{QUOTED_STRING}|[{TOKEN_CHARS}:\[\]]+"
_GENERIC_PARAM_RE = re.compile(rf"[ \t]*;[ \t]*({TOKEN})(?:[ \t]*=[ \t]*({_GEN_VALUE}))?[ \t]*")
# Two C-level passes instead of a Python loop: the first finds where the run of
# parameters ends (validating it), the second extracts them (only from that run).
# (Possessive quantifiers, see abnf.HOSTNAME_LABELS: a token stops at "=", ";" or
# whitespace, and a parameter whose value does not match is one without a value.)
GENERIC_PARAMS_SPAN = rf"(?:[ \t]*+;[ \t]*+{TOKEN}+(?:[ \t]*+=[ \t]*+(?:{_GEN_VALUE}))?+[ \t]*+)*+"
_GENERIC_PARAMS_SPAN_RE = re.compile(GENERIC_PARAMS_SPAN)
_UNQUOTED_VALUE_RE = re.compile(rf"[{TOKEN_CHARS}:\[\]]+")


def scan_generic_params(text: str, pos: int, header: str | None) -> tuple[str, int]:
    """Validate ``*( SEMI generic-param )`` from ``text[pos:]`` without extracting it.

    Returns the text of the parameters (for :func:`read_generic_params`) and the
    position after the last one (the caller decides what may follow).
    """
    span = _GENERIC_PARAMS_SPAN_RE.match(text, pos)
    end = span.end() if span is not None else pos
    if end < len(text) and text[end] == ";":
        raise ParseError(f"malformed parameter at {text[end : end + 20]!r}", header=header)
    return text[pos:end], end


def read_generic_params(text: str) -> tuple[dict[str, str | None], frozenset[str]]:
    """The params, and the names whose values were quoted, of parameter text that
    :func:`scan_generic_params` (or a pattern built on GENERIC_PARAMS_SPAN) accepted."""
    params: dict[str, str | None] = {}
    if not text:
        return params, _EMPTY
    if '"' not in text and " " not in text and "\t" not in text:
        # The usual ";name=token;flag" form: validated already, so cutting at ";"
        # and "=" gives what the regex would, at a fraction of the cost.
        for part in text[1:].split(";"):
            name, eq, value = part.partition("=")
            params[name.lower()] = value if eq else None
        return params, _EMPTY
    quoted: set[str] | None = None
    for name, value in _GENERIC_PARAM_RE.findall(text):
        name = name.lower()
        if not value:
            params[name] = None
        elif value[0] == '"':
            params[name] = unquote(value)
            if quoted is None:
                quoted = set()
            quoted.add(name)
        else:
            params[name] = value
    return params, frozenset(quoted) if quoted else _EMPTY


def parse_generic_params(
    text: str, pos: int, header: str | None
) -> tuple[dict[str, str | None], frozenset[str], int]:
    """Parse ``*( SEMI generic-param )`` from ``text[pos:]``.

    Returns the params, the names whose values were quoted, and the position
    after the last parameter (the caller decides what may follow).
    """
    ptext, end = scan_generic_params(text, pos, header)
    params, quoted = read_generic_params(ptext)
    return params, quoted, end


_EMPTY: frozenset[str] = frozenset()
NO_QUOTED = _EMPTY  # "no value was quoted", shared (for parsers that set _quoted)

# What HeaderParams.params cuts parameter text with: read_generic_params, or its
# C version (websip.sip._accel switches it).
read_params: Callable[[str], tuple[dict[str, str | None], frozenset[str]]] = read_generic_params


def format_generic_params(params: dict[str, str | None], quoted: frozenset[str]) -> str:
    """``;name=value`` for each parameter, quoting where needed or where it was."""
    if not params:
        return ""
    out = []
    for name, value in params.items():
        if value is None:
            out.append(f";{name}")
        elif name in quoted or not _UNQUOTED_VALUE_RE.fullmatch(value):
            out.append(f";{name}={quote(value)}")
        else:
            out.append(f";{name}={value}")
    return "".join(out)


class HeaderParams:
    """Parameter access shared by typed header values (NameAddr, Via, ...).

    Parsers validate the parameters and keep their text (``_ptext``); the dict is
    built on first access to ``params`` (most parameters of a parsed message are
    never read). ``_quoted`` is only meaningful once ``params`` has been read.
    """

    __slots__ = ("_params", "_ptext", "_quoted")

    _params: dict[str, str | None] | None
    _ptext: str
    _quoted: frozenset[str]

    def _lazy_params(self, text: str) -> None:
        """Keep validated parameter text, to be read on first access to ``params``."""
        self._params = None
        self._ptext = text
        self._quoted = _EMPTY

    @property
    def params(self) -> dict[str, str | None]:
        params = self._params
        if params is None:
            params, self._quoted = read_params(self._ptext)
            self._params = params
        return params

    @params.setter
    def params(self, value: dict[str, str | None]) -> None:
        self._params = value

    def get_param(self, name: str) -> str | None:
        """The value of a parameter (unquoted); None when absent or valueless."""
        return self.params.get(name.lower())

    def has_param(self, name: str) -> bool:
        return name.lower() in self.params

    def set_param(self, name: str, value: str | int | None = None) -> None:
        """Set a parameter; None makes it valueless. Values are quoted on output if needed."""
        key = name.lower()
        if not is_token(key):
            raise ParseError(f"invalid parameter name {name!r}")
        text = None if value is None else str(value)
        if text is not None and ("\r" in text or "\n" in text):
            raise ParseError(f"parameter {name!r} contains CR or LF")
        self.params[key] = text  # (reading params first sets _quoted)
        if key in self._quoted:
            self._quoted = self._quoted - {key}

    def delete_param(self, name: str) -> str | None:
        """Remove a parameter; returns its value (None if absent or valueless)."""
        return self.params.pop(name.lower(), None)

    def clear_params(self) -> None:
        self._params = {}
        self._quoted = _EMPTY

    def _format_params(self) -> str:
        if self._params is None and not self._ptext:
            return ""
        params = self.params  # first: it sets _quoted
        return format_generic_params(params, self._quoted)
