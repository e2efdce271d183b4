"""Typed header values: parse and format, one class (or function) per grammar rule.

Each class has ``parse(text)`` (raising :class:`websip.ParseError`) and a
``__str__`` that writes it back, so that ``T.parse(str(v)) == v``.
:func:`parse_header` maps a header name (any case, compact forms included) to the
parser of its value. Headers websip does not know are returned as their text.

List headers (Via, Contact, Route, ...; see ``names.ENTITY_LIST_HEADERS``) hold
several entries separated by top-level commas; :func:`split_list` cuts them,
never inside a quoted string or angle brackets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Literal

from websip.exceptions import ParseError

from .abnf import (
    CALLID_RE,
    COMMON_METHODS,
    HOST,
    HOSTNAME_LABELS,
    IPV6_REFERENCE,
    QUOTED_CONTENT,
    QUOTED_STRING,
    TOKEN,
    TOKEN_CHARS,
    is_token,
    is_valid_host,
    quote,
    unquote,
)
from .names import (
    ENTITY_LIST_HEADERS,
    TOKEN_LIST_HEADERS,
    canonical_key,
    canonical_name,
    index_key,
)
from .params import (
    GENERIC_PARAMS_SPAN,
    NO_QUOTED,
    HeaderParams,
    parse_generic_params,
    scan_generic_params,
)
from .uri import SIP_URI, URI, sip_uri

__all__ = [
    "CSeq",
    "Challenge",
    "ContentDisposition",
    "Credentials",
    "Event",
    "MediaType",
    "MinSE",
    "NameAddr",
    "RAck",
    "Reason",
    "Replaces",
    "RetryAfter",
    "SessionExpires",
    "SubscriptionState",
    "Via",
    "Warning",
    "parse_header",
    "split_list",
]

_QUOTED_RE = re.compile(QUOTED_STRING)
_WS = " \t"


# One list entry: anything but a comma, where quoted strings and <...> are atoms.
# (The quoted string is an "unrolled loop", 4x faster than one alternation per
# character. Possessive quantifiers: a prefix match with nothing after the loop
# never backtracks, so they only save the engine's bookkeeping.)
_LIST_ENTRY_RE = re.compile(r'(?:[^",<]++|"[^"\\]*+(?:\\.[^"\\]*+)*+"?+|<[^>]*+>?+|[<"])*+')


def split_list(value: str) -> list[str]:
    """Cut a header value at the commas that separate list entries.

    Commas inside quoted strings or ``<...>`` belong to the entry. Entries are
    stripped of surrounding whitespace; empty entries are kept (they are errors
    the entry's parser reports).
    """
    if "," not in value:
        return [value]
    entries = []
    pos = 0
    n = len(value)
    match = _LIST_ENTRY_RE.match
    while True:
        m = match(value, pos)
        end = m.end() if m is not None else pos
        entries.append(value[pos:end].strip(_WS))
        if end >= n:
            return entries
        pos = end + 1  # skip the comma
        if pos == n:
            entries.append("")
            return entries


_INT_PARAM_RE = re.compile(r"[0-9]{1,10}")
# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (RFC 3261 25.1)
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _int_param(value: str | None) -> int | None:
    """A numeric parameter (delta-seconds, port, cause...) as an int; None if absent or bad.

    ASCII digits only (``str.isdigit`` also accepts "²", which ``int`` refuses) and at
    most 2**32-1 (RFC 3261 25.1 delta-seconds; RFC 4475 3.1.2.4 overflowing expires).
    """
    if value is None or _INT_PARAM_RE.fullmatch(value) is None:
        return None
    number = int(value)
    return number if number <= 0xFFFFFFFF else None


def _check_end(text: str, pos: int, header: str | None) -> None:
    if pos != len(text) and text[pos:].strip(_WS):
        raise ParseError(f"unexpected text {text[pos : pos + 20]!r}", header=header)


# --------------------------------------------------------------------------
# name-addr / addr-spec: From, To, Contact, Route, Record-Route, Refer-To, ...
# --------------------------------------------------------------------------

# display-name = *(token LWS) / quoted-string
# lenient: non-ASCII letters are accepted in unquoted display names (seen in the wild).
_DISPLAY_WORD = rf"(?:[{TOKEN_CHARS}]|[^\x00-\x7f])+"
_TOKEN_DISPLAY_RE = re.compile(rf"{_DISPLAY_WORD}(?:[ \t]+{_DISPLAY_WORD})*")


# The usual shape of a name-addr: [ quoted-string ] LAQUOT URI RAQUOT
_NAME_ADDR_FAST_RE = re.compile(r'[ \t]*(?:"((?:[^"\\\r\n]|\\[^\r\n])*)"[ \t]*)?<([^<>"\s]*)>')
# The usual shape with a SIP URI, its parameters and the end, in one C-level pass
# (no second regex for the URI, no Python loop for the parameters, which are
# only validated here and cut on first access): groups display name, the seven
# of uri.SIP_URI, the parameter text. Anything else takes the general path.
_SIP_NAME_ADDR_RE = re.compile(
    rf'[ \t]*+(?:"({QUOTED_CONTENT})"[ \t]*+)?<{SIP_URI}>({GENERIC_PARAMS_SPAN})[ \t]*+'
)


class NameAddr(HeaderParams):
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route...).

    Args:
        uri: the address (a :class:`URI` or its text).
        display_name: the display name, unquoted; written back quoted and escaped.
        params: header parameters (``tag``, ``expires``, ``+sip.instance``...).
    """

    __slots__ = ("display_name", "uri")

    def __init__(
        self,
        uri: URI | str,
        display_name: str | None = None,
        params: dict[str, str | None] | None = None,
    ) -> None:
        self.uri = URI.parse(uri) if isinstance(uri, str) else uri
        if display_name is not None and ("\r" in display_name or "\n" in display_name):
            raise ParseError("display name contains CR or LF")
        self.display_name = display_name
        if params:
            self.params = {k.lower(): v for k, v in params.items()}
            self._quoted = NO_QUOTED
        else:
            self._lazy_params("")  # no dict until one is read or set

    @classmethod
    def parse(cls, text: str, header: str | None = None) -> NameAddr:
        """Parse ``[display-name] <URI> *(;param)`` or ``addr-spec *(;param)``."""
        return name_addr_parser(header, text)

    @classmethod
    def _parse(cls, text: str, header: str | None) -> NameAddr:
        fast = _NAME_ADDR_FAST_RE.match(text)
        if fast is not None:
            # The common form: an optional quoted display name and <URI>.
            quoted, uri_text = fast.groups()
            na = cls.__new__(cls)
            try:
                na.uri = URI.parse(uri_text)
            except ParseError as exc:
                raise ParseError(exc.reason, header=header) from None
            na.display_name = (
                quoted if quoted is None or "\\" not in quoted else (unquote(f'"{quoted}"'))
            )
            na.params, na._quoted, pos = parse_generic_params(text, fast.end(), header)
            _check_end(text, pos, header)
            return na
        s = text.strip(_WS)
        display: str | None = None
        if s[:1] == '"':
            m = _QUOTED_RE.match(s)
            if m is None:
                raise ParseError("unterminated quoted display name", header=header)
            display = unquote(m.group())
            pos = m.end()
            while pos < len(s) and s[pos] in _WS:
                pos += 1
            if s[pos : pos + 1] != "<":
                raise ParseError("quoted display name not followed by <URI>", header=header)
        else:
            pos = s.find("<")
            if pos > 0 and s.find(";", 0, pos) >= 0:
                # The "<" is in a parameter of an addr-spec (a quoted
                # +sip.instance="<urn:...>"): a display name holds no ";".
                pos = -1
            if pos > 0:
                raw = s[:pos].strip(_WS)
                if raw:
                    if _TOKEN_DISPLAY_RE.fullmatch(raw) is None:
                        raise ParseError(f"invalid display name {raw!r}", header=header)
                    display = raw
        if pos >= 0 and s[pos : pos + 1] == "<":
            end = s.find(">", pos)
            if end < 0:
                raise ParseError("missing '>'", header=header)
            try:
                uri = URI.parse(s[pos + 1 : end])
            except ParseError as exc:
                raise ParseError(exc.reason, header=header) from None
            pos = end + 1
        else:
            # addr-spec: RFC 3261 20: a URI with ",", "?" or ";" must be in <...>,
            # so the URI ends at the first ";" and any "?" or "," is an error.
            end = s.find(";")
            if end < 0:
                end = len(s)
            spec = s[:end].rstrip(_WS)
            if "?" in spec or "," in spec or " " in spec:
                raise ParseError(f"addr-spec {spec!r} must be enclosed in <>", header=header)
            try:
                uri = URI.parse(spec)
            except ParseError as exc:
                raise ParseError(exc.reason, header=header) from None
            pos = end
        na = cls.__new__(cls)
        na.uri = uri
        na.display_name = display
        na.params, na._quoted, pos = parse_generic_params(s, pos, header)
        _check_end(s, pos, header)
        return na

    @property
    def tag(self) -> str | None:
        params = self._params
        if params is None:
            text = self._ptext
            # The usual parameters of a From or To: ";tag=TOKEN" alone. Validated
            # already, so a value without a quote, a space or a ";" is the token.
            if text[:5] == ";tag=":
                tag = text[5:]
                if ";" not in tag and '"' not in tag and " " not in tag and "\t" not in tag:
                    self._params = {"tag": tag}
                    return tag
            params = self.params
        return params.get("tag")

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter of a Contact, as an int (None if absent or bad)."""
        value = self.params.get("expires")
        return _int_param(value)

    @property
    def q(self) -> float | None:
        """The ``q`` parameter as a float in [0, 1]; None if absent or not a qvalue."""
        value = self.params.get("q")
        if value is None or _QVALUE_RE.fullmatch(value) is None:
            return None
        return float(value)

    def copy(self) -> NameAddr:
        na = NameAddr.__new__(NameAddr)
        na.uri = self.uri.copy()
        na.display_name = self.display_name
        na.params = dict(self.params)  # first: reading params sets _quoted
        na._quoted = self._quoted
        return na

    def __str__(self) -> str:
        text = f"<{self.uri}>"
        if self.display_name is not None:
            text = f"{quote(self.display_name)} {text}"
        return text + self._format_params() if self.params else text

    def __repr__(self) -> str:
        return f"NameAddr({str(self)!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (
            str(self.uri) == str(other.uri)
            and self.display_name == other.display_name
            and self.params == other.params
        )

    __hash__ = None  # type: ignore[assignment]


def _parse_name_addr(header: str | None, text: str) -> NameAddr:
    """NameAddr.parse; header first, so that the parsers of From, To, Route...
    are partial() objects rather than one more Python frame."""
    m = _SIP_NAME_ADDR_RE.fullmatch(text)
    if m is not None:
        display, scheme, user, password, host, port, uparams, uheaders, ptext = m.groups()
        try:
            uri = sip_uri(scheme, user, password, host, port, uparams, uheaders, "")
        except ParseError:
            return NameAddr._parse(text, header)  # raises, naming the URI
        na = NameAddr.__new__(NameAddr)
        na.uri = uri
        if display is not None and "\\" in display:
            display = unquote(f'"{display}"')
        na.display_name = display
        na._params = None
        na._ptext = ptext
        na._quoted = NO_QUOTED
        return na
    return NameAddr._parse(text, header)


WILDCARD: Literal["*"] = "*"


def _parse_contact(header: str | None, text: str) -> NameAddr | Literal["*"]:
    if "*" in text and text.strip(_WS) == "*":
        return WILDCARD
    return _parse_name_addr(header, text)


# The parsers in use: the pure-Python ones above, or the C versions of their
# usual case with these as fallbacks (websip.sip._accel switches them).
name_addr_parser: Callable[[str | None, str], NameAddr] = _parse_name_addr
contact_parser: Callable[[str | None, str], NameAddr | Literal["*"]] = _parse_contact


# --------------------------------------------------------------------------
# Via
# --------------------------------------------------------------------------

# via-parm = sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol = protocol-name SLASH protocol-version SLASH transport
# sent-by = host [ COLON port ]
_VIA_RE = re.compile(
    rf"[ \t]*({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]*/[ \t]*({TOKEN})"
    rf"[ \t]+({HOST})(?:[ \t]*:[ \t]*([0-9]{{1,5}}))?"
)

# The usual shape of a Via: the same, with hostname labels checked by the pattern
# and the parameters validated to the end, in one pass. Anything else takes _VIA_RE.
_VIA_FAST_RE = re.compile(
    rf"[ \t]*+({TOKEN}+)[ \t]*+/[ \t]*+({TOKEN}+)[ \t]*+/[ \t]*+({TOKEN}+)[ \t]++"
    rf"({IPV6_REFERENCE}|{HOSTNAME_LABELS})(?:[ \t]*+:[ \t]*+([0-9]{{1,5}}))?"
    rf"({GENERIC_PARAMS_SPAN})[ \t]*+"
)


class Via(HeaderParams):
    """One Via entry (RFC 3261 20.42), e.g. ``SIP/2.0/WSS a.invalid;branch=z9hG4bK..``."""

    __slots__ = ("host", "port", "protocol_name", "protocol_version", "transport")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        *,
        protocol_name: str = "SIP",
        protocol_version: str = "2.0",
    ) -> None:
        self.protocol_name = protocol_name
        self.protocol_version = protocol_version
        self.transport = transport.upper()
        host = host.lower()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        self.host = host
        self.port = port
        self.params = {k.lower(): v for k, v in params.items()} if params else {}
        self._quoted = NO_QUOTED

    @classmethod
    def parse(cls, text: str) -> Via:
        return via_parser(text)

    @classmethod
    def _parse(cls, text: str) -> Via:
        """The pure-Python parser (the reference for the C one)."""
        m = _VIA_FAST_RE.fullmatch(text)
        if m is not None:
            # The usual shape in one pass (see _VIA_FAST_RE); parameters cut lazily.
            name, version, transport, host, port, ptext = m.groups()
            # Only a host that does not end with a letter can still be invalid
            # (IPv4-looking, all-digit top label, IPv6): see is_valid_host.
            if not host[-1].isalpha() and not is_valid_host(host):
                raise ParseError(f"invalid sent-by host {host!r}", header="Via")
            via = cls.__new__(cls)
            via.protocol_name = "SIP" if name == "SIP" else name.upper()
            via.protocol_version = version
            via.transport = transport.upper()
            via.host = host.lower()
            if port is None:
                via.port = None
            else:
                via.port = int(port)
                if via.port > 65535:
                    raise ParseError("sent-by port out of range", header="Via")
            via._params = None
            via._ptext = ptext
            via._quoted = NO_QUOTED
            return via
        m = _VIA_RE.match(text)
        if m is None:
            raise ParseError(f"malformed Via {text[:40]!r}", header="Via")
        host = m.group(4)
        if not is_valid_host(host):
            raise ParseError(f"invalid sent-by host {host!r}", header="Via")
        port = m.group(5)
        via = cls.__new__(cls)
        via.protocol_name = m.group(1).upper()
        via.protocol_version = m.group(2)
        via.transport = m.group(3).upper()
        via.host = host.lower()
        via.port = int(port) if port is not None else None
        if via.port is not None and via.port > 65535:
            raise ParseError("sent-by port out of range", header="Via")
        via.params, via._quoted, pos = parse_generic_params(text, m.end(), "Via")
        _check_end(text, pos, "Via")
        return via

    @property
    def protocol(self) -> str:
        return f"{self.protocol_name}/{self.protocol_version}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The ``rport`` value; None when absent or valueless (see ``has_param``)."""
        value = self.params.get("rport")
        return _int_param(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return _int_param(value)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {self.host}{port}{self._format_params()}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return str(self) == str(other)

    __hash__ = None  # type: ignore[assignment]


via_parser: Callable[[str], Via] = Via._parse  # see name_addr_parser


# --------------------------------------------------------------------------
# Small structured values
# --------------------------------------------------------------------------

# CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
_CSEQ_RE = re.compile(rf"[ \t]*([0-9]{{1,10}})[ \t]+({TOKEN})[ \t]*")
_MAX_CSEQ = 2**32 - 1  # RFC 3261 8.1.1.5: "MUST be expressible as a 32-bit unsigned integer"


class CSeq:
    """CSeq: a sequence number and a method."""

    __slots__ = ("method", "seq")

    def __init__(self, seq: int, method: str) -> None:
        self.seq = seq
        self.method = method

    @classmethod
    def parse(cls, text: str) -> CSeq:
        # Fast path: "1 INVITE" with a known method (a token) needs no regex.
        number, _, method = text.partition(" ")
        if method in COMMON_METHODS and number.isdigit() and number.isascii() and len(number) <= 10:
            seq = int(number)
        else:
            m = _CSEQ_RE.fullmatch(text)
            if m is None:
                raise ParseError(f"malformed CSeq {text!r}", header="CSeq")
            seq = int(m.group(1))
            method = m.group(2)
        if seq > _MAX_CSEQ:
            raise ParseError("CSeq number larger than 2**32-1", header="CSeq")
        cseq = cls.__new__(cls)
        cseq.seq = seq
        cseq.method = method
        return cseq

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"

    def __repr__(self) -> str:
        return f"CSeq({self.seq}, {self.method!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, CSeq):
            return NotImplemented
        return self.seq == other.seq and self.method == other.method

    def __hash__(self) -> int:
        return hash((self.seq, self.method))


class _Valued(HeaderParams):
    """A header that is one leading value followed by generic parameters."""

    __slots__ = ()
    _HEADER: ClassVar[str] = ""
    _VALUE_RE: ClassVar[re.Pattern[str]] = re.compile(rf"[ \t]*({TOKEN})[ \t]*")

    def _value_text(self) -> str:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def _set_value(self, text: str) -> None:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    # _VALUE_RE, the parameters and the end in one pass (see __init_subclass__).
    _FAST_RE: ClassVar[re.Pattern[str]] = re.compile(
        rf"[ \t]*({TOKEN})[ \t]*({GENERIC_PARAMS_SPAN})[ \t]*+"
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # One group in _VALUE_RE (the value), then the parameter text.
        assert cls._VALUE_RE.groups == 1
        cls._FAST_RE = re.compile(rf"{cls._VALUE_RE.pattern}({GENERIC_PARAMS_SPAN})[ \t]*+")

    @classmethod
    def parse(cls, text: str) -> Any:
        fast = cls._FAST_RE.fullmatch(text)
        if fast is not None:
            value, ptext = fast.groups()
            obj = cls.__new__(cls)
            obj._set_value(value)
            obj._params = None
            obj._ptext = ptext
            obj._quoted = NO_QUOTED
            return obj
        m = cls._VALUE_RE.match(text)
        if m is None:
            raise ParseError(f"malformed value {text[:40]!r}", header=cls._HEADER)
        obj = cls.__new__(cls)
        obj._set_value(m.group(1))
        ptext, pos = scan_generic_params(text, m.end(), cls._HEADER)
        _check_end(text, pos, cls._HEADER)
        obj._lazy_params(ptext)
        return obj

    def __str__(self) -> str:
        return self._value_text() + self._format_params()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._value_text() == other._value_text() and self.params == other.params

    __hash__ = None  # type: ignore[assignment]


class _Delta(_Valued):
    __slots__ = ("delta",)
    _VALUE_RE = re.compile(r"[ \t]*([0-9]{1,10})[ \t]*")

    def __init__(self, delta: int, params: dict[str, str | None] | None = None) -> None:
        self.delta = delta
        self.params = dict(params) if params else {}
        self._quoted = NO_QUOTED

    def _set_value(self, text: str) -> None:
        self.delta = int(text)

    def _value_text(self) -> str:
        return str(self.delta)


class SessionExpires(_Delta):
    """Session-Expires (RFC 4028 4): an interval and the ``refresher`` (uac/uas)."""

    __slots__ = ()
    _HEADER = "Session-Expires"

    @property
    def refresher(self) -> str | None:
        value = self.params.get("refresher")
        return value.lower() if value else None


class MinSE(_Delta):
    """Min-SE (RFC 4028 5): the smallest session interval a party accepts."""

    __slots__ = ()
    _HEADER = "Min-SE"


class Event(_Valued):
    """Event (RFC 6665 8.2.1): an event package and its ``id``."""

    __slots__ = ("event",)
    _HEADER = "Event"
    # event-type = event-package *( "." event-template ): token characters.

    def __init__(self, event: str, params: dict[str, str | None] | None = None) -> None:
        self.event = event
        self.params = dict(params) if params else {}
        self._quoted = NO_QUOTED

    def _set_value(self, text: str) -> None:
        self.event = text

    def _value_text(self) -> str:
        return self.event

    @property
    def id(self) -> str | None:
        return self.params.get("id")


class SubscriptionState(_Valued):
    """Subscription-State (RFC 6665 8.2.3): active / pending / terminated + params."""

    __slots__ = ("state",)
    _HEADER = "Subscription-State"

    def __init__(self, state: str, params: dict[str, str | None] | None = None) -> None:
        self.state = state.lower()
        self.params = dict(params) if params else {}
        self._quoted = NO_QUOTED

    def _set_value(self, text: str) -> None:
        self.state = text.lower()

    def _value_text(self) -> str:
        return self.state

    @property
    def reason(self) -> str | None:
        return self.params.get("reason")

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        return _int_param(value)

    @property
    def retry_after(self) -> int | None:
        value = self.params.get("retry-after")
        return _int_param(value)


class ContentDisposition(_Valued):
    """Content-Disposition (RFC 3261 20.11): ``session``, ``render``... + ``handling``."""

    __slots__ = ("disposition",)
    _HEADER = "Content-Disposition"

    def __init__(self, disposition: str, params: dict[str, str | None] | None = None) -> None:
        self.disposition = disposition.lower()
        self.params = dict(params) if params else {}
        self._quoted = NO_QUOTED

    def _set_value(self, text: str) -> None:
        self.disposition = text.lower()

    def _value_text(self) -> str:
        return self.disposition


class MediaType(_Valued):
    """A media type with parameters (Content-Type, one Accept entry)."""

    __slots__ = ("subtype", "type")
    _HEADER = "Content-Type"
    # media-type = m-type SLASH m-subtype *(SEMI m-parameter); Accept allows "*/*".
    _VALUE_RE = re.compile(rf"[ \t]*((?:{TOKEN}|\*)[ \t]*/[ \t]*(?:{TOKEN}|\*))[ \t]*")

    def __init__(
        self, type: str, subtype: str, params: dict[str, str | None] | None = None
    ) -> None:
        self.type = type.lower()
        self.subtype = subtype.lower()
        self.params = dict(params) if params else {}
        self._quoted = NO_QUOTED

    def _set_value(self, text: str) -> None:
        main, _, sub = text.partition("/")
        self.type = main.strip(_WS).lower()
        self.subtype = sub.strip(_WS).lower()

    def _value_text(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def mime_type(self) -> str:
        """``type/subtype`` in lower case, e.g. ``application/sdp``."""
        return f"{self.type}/{self.subtype}"


class Replaces(_Valued):
    """Replaces (RFC 3891 6.1): a Call-ID with ``to-tag``, ``from-tag``, ``early-only``."""

    __slots__ = ("call_id",)
    _HEADER = "Replaces"
    _VALUE_RE = re.compile(r"[ \t]*([^;\s]+)[ \t]*")

    def __init__(
        self,
        call_id: str,
        to_tag: str | None = None,
        from_tag: str | None = None,
        early_only: bool = False,
    ) -> None:
        self.call_id = call_id
        self.params = {}
        self._quoted = NO_QUOTED
        if to_tag is not None:
            self.params["to-tag"] = to_tag
        if from_tag is not None:
            self.params["from-tag"] = from_tag
        if early_only:
            self.params["early-only"] = None

    @classmethod
    def parse(cls, text: str) -> Replaces:
        obj: Replaces = super().parse(text)
        if CALLID_RE.fullmatch(obj.call_id) is None:
            raise ParseError(f"invalid Call-ID {obj.call_id!r}", header="Replaces")
        if "to-tag" not in obj.params or "from-tag" not in obj.params:
            raise ParseError("to-tag and from-tag are mandatory", header="Replaces")
        return obj

    def _set_value(self, text: str) -> None:
        self.call_id = text

    def _value_text(self) -> str:
        return self.call_id

    @property
    def to_tag(self) -> str | None:
        return self.params.get("to-tag")

    @property
    def from_tag(self) -> str | None:
        return self.params.get("from-tag")

    @property
    def early_only(self) -> bool:
        return "early-only" in self.params


class Reason(_Valued):
    """Reason (RFC 3326): a protocol (``SIP``, ``Q.850``) with ``cause`` and ``text``."""

    __slots__ = ("protocol",)
    _HEADER = "Reason"

    def __init__(self, protocol: str, cause: int | None = None, text: str | None = None) -> None:
        self.protocol = protocol
        self.params = {}
        self._quoted = frozenset({"text"})
        if cause is not None:
            self.params["cause"] = str(cause)
        if text is not None:
            self.params["text"] = text

    def _set_value(self, text: str) -> None:
        self.protocol = text

    def _value_text(self) -> str:
        return self.protocol

    @property
    def cause(self) -> int | None:
        value = self.params.get("cause")
        return _int_param(value)

    @property
    def text(self) -> str | None:
        return self.params.get("text")


class RetryAfter(_Valued):
    """Retry-After (RFC 3261 20.33): seconds, an optional comment, ``duration``."""

    __slots__ = ("comment", "delta")
    _HEADER = "Retry-After"
    _VALUE_RE = re.compile(r"[ \t]*([0-9]{1,10}(?:[ \t]*\((?:[^()\\]|\\.)*\))?)[ \t]*")

    def __init__(self, delta: int, comment: str | None = None, duration: int | None = None):
        self.delta = delta
        self.comment = comment
        self.params = {} if duration is None else {"duration": str(duration)}
        self._quoted = NO_QUOTED

    def _set_value(self, text: str) -> None:
        number, _, comment = text.partition("(")
        self.delta = int(number.strip(_WS))
        self.comment = comment[:-1] if comment else None

    def _value_text(self) -> str:
        return f"{self.delta} ({self.comment})" if self.comment is not None else str(self.delta)

    @property
    def duration(self) -> int | None:
        value = self.params.get("duration")
        return _int_param(value)


# RAck = "RAck" HCOLON response-num LWS CSeq-num LWS Method (RFC 3262 7.2)
_RACK_RE = re.compile(rf"[ \t]*([0-9]{{1,10}})[ \t]+([0-9]{{1,10}})[ \t]+({TOKEN})[ \t]*")


class RAck:
    """RAck (RFC 3262 7.2): the RSeq and CSeq of the reliable provisional response."""

    __slots__ = ("cseq", "method", "rseq")

    def __init__(self, rseq: int, cseq: int, method: str) -> None:
        self.rseq = rseq
        self.cseq = cseq
        self.method = method

    @classmethod
    def parse(cls, text: str) -> RAck:
        m = _RACK_RE.fullmatch(text)
        if m is None:
            raise ParseError(f"malformed RAck {text!r}", header="RAck")
        return cls(int(m.group(1)), int(m.group(2)), m.group(3))

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"

    def __repr__(self) -> str:
        return f"RAck({self.rseq}, {self.cseq}, {self.method!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, RAck):
            return NotImplemented
        return (self.rseq, self.cseq, self.method) == (other.rseq, other.cseq, other.method)

    def __hash__(self) -> int:
        return hash((self.rseq, self.cseq, self.method))


# warning-value = warn-code SP warn-agent SP warn-text (RFC 3261 20.43)
_WARNING_RE = re.compile(
    rf"[ \t]*([0-9]{{3}})[ \t]+((?:{HOST}(?::[0-9]+)?)|{TOKEN})[ \t]+({QUOTED_STRING})[ \t]*"
)


class Warning:
    """One Warning entry: a 3-digit code, the agent, and the text (unquoted)."""

    __slots__ = ("agent", "code", "text")

    def __init__(self, code: int, agent: str, text: str) -> None:
        self.code = code
        self.agent = agent
        self.text = text

    @classmethod
    def parse(cls, text: str) -> Warning:
        m = _WARNING_RE.fullmatch(text)
        if m is None:
            raise ParseError(f"malformed Warning {text!r}", header="Warning")
        return cls(int(m.group(1)), m.group(2), unquote(m.group(3)))

    def __str__(self) -> str:
        return f"{self.code} {self.agent} {quote(self.text)}"

    def __repr__(self) -> str:
        return f"Warning({str(self)!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Warning):
            return NotImplemented
        return (self.code, self.agent, self.text) == (other.code, other.agent, other.text)

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------
# Authentication (RFC 3261 22, RFC 7616)
# --------------------------------------------------------------------------

# auth-param = auth-param-name EQUAL ( token / quoted-string ), separated by commas.
# (Possessive quantifiers: see abnf.HOSTNAME_LABELS.)
_AUTH_PARAM_RE = re.compile(
    rf"[ \t]*+({TOKEN}+)[ \t]*+=[ \t]*+({QUOTED_STRING}|{TOKEN}+)[ \t]*+(?:,|$)"
)
_AUTH_SCHEME_RE = re.compile(rf"[ \t]*({TOKEN})(?:[ \t]+|$)")
# RFC 7616 3.4 / RFC 3261 25.1: which Authorization parameters are quoted-strings.
_QUOTED_CREDENTIAL_PARAMS = frozenset(
    {"username", "realm", "nonce", "uri", "response", "cnonce", "opaque", "domain"}
)


# The whole run of auth-params, for the usual case where it is all of the rest:
# then one findall extracts them, instead of one match per parameter.
_AUTH_PARAMS_RE = re.compile(rf"(?:{_AUTH_PARAM_RE.pattern})++")


def _parse_auth(text: str, header: str) -> tuple[str, dict[str, str]]:
    m = _AUTH_SCHEME_RE.match(text)
    if m is None:
        raise ParseError("missing authentication scheme", header=header)
    scheme = m.group(1)
    pos = m.end()
    n = len(text)
    if _AUTH_PARAMS_RE.fullmatch(text, pos) is not None:
        return scheme, {
            name.lower(): unquote(value) if value[0] == '"' else value
            for name, value in _AUTH_PARAM_RE.findall(text, pos)
        }
    params: dict[str, str] = {}
    while pos < n:
        pm = _AUTH_PARAM_RE.match(text, pos)
        if pm is None:
            if text[pos:].strip(_WS + ","):
                raise ParseError(f"malformed auth-param at {text[pos : pos + 20]!r}", header=header)
            break
        name, value = pm.groups()
        params[name.lower()] = unquote(value) if value[0] == '"' else value
        pos = pm.end()
    return scheme, params


class Challenge:
    """A WWW-Authenticate or Proxy-Authenticate challenge.

    Attributes:
        scheme: the scheme as written (``Digest``); compare case-insensitively.
        params: auth-params with lower-case names and unquoted values.
    """

    __slots__ = ("params", "scheme")

    def __init__(self, scheme: str, params: dict[str, str] | None = None) -> None:
        self.scheme = scheme
        self.params = dict(params) if params else {}

    @classmethod
    def parse(cls, text: str, header: str = "WWW-Authenticate") -> Challenge:
        scheme, params = _parse_auth(text, header)
        return cls(scheme, params)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def nonce(self) -> str | None:
        return self.params.get("nonce")

    @property
    def opaque(self) -> str | None:
        return self.params.get("opaque")

    @property
    def algorithm(self) -> str:
        """The algorithm, upper-cased; MD5 when absent (RFC 7616 3.3)."""
        return self.params.get("algorithm", "MD5").upper()

    @property
    def qop(self) -> list[str]:
        """The offered qop values (``auth``, ``auth-int``), lower-cased."""
        value = self.params.get("qop")
        return [q.strip().lower() for q in value.split(",") if q.strip()] if value else []

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"

    def __str__(self) -> str:
        parts = []
        for name, value in self.params.items():
            if name in ("algorithm", "stale") and is_token(value):
                parts.append(f"{name}={value}")
            else:
                parts.append(f"{name}={quote(value)}")
        return f"{self.scheme} {', '.join(parts)}"

    def __repr__(self) -> str:
        return f"Challenge({self.scheme!r}, realm={self.realm!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Challenge):
            return NotImplemented
        return self.scheme.lower() == other.scheme.lower() and self.params == other.params

    __hash__ = None  # type: ignore[assignment]


class Credentials:
    """An Authorization or Proxy-Authorization value.

    ``repr()`` never shows ``response`` (it is derived from the password).
    """

    __slots__ = ("params", "scheme")

    def __init__(self, scheme: str, params: dict[str, str] | None = None) -> None:
        self.scheme = scheme
        self.params = dict(params) if params else {}

    @classmethod
    def parse(cls, text: str, header: str = "Authorization") -> Credentials:
        scheme, params = _parse_auth(text, header)
        return cls(scheme, params)

    def __str__(self) -> str:
        parts = []
        for name, value in self.params.items():
            if name in _QUOTED_CREDENTIAL_PARAMS or not is_token(value):
                parts.append(f"{name}={quote(value)}")
            else:
                parts.append(f"{name}={value}")
        return f"{self.scheme} {', '.join(parts)}"

    def __repr__(self) -> str:
        user, realm = self.params.get("username"), self.params.get("realm")
        return f"Credentials({self.scheme!r}, username={user!r}, realm={realm!r})"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self.scheme.lower() == other.scheme.lower() and self.params == other.params

    __hash__ = None  # type: ignore[assignment]


def _parse_authentication_info(text: str) -> dict[str, str]:
    # Authentication-Info = "Authentication-Info" HCOLON ainfo *(COMMA ainfo): no scheme.
    _, params = _parse_auth("x " + text, "Authentication-Info")
    return params


# --------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------

_DIGITS_RE = re.compile(r"[ \t]*([0-9]{1,10})[ \t]*")


def _int_parser(header: str, maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        # Fast path: the plain digits of a stripped value need no regex.
        if text.isdigit() and text.isascii() and len(text) <= 10:
            value = int(text)
        else:
            m = _DIGITS_RE.fullmatch(text)
            if m is None:
                raise ParseError(f"not a number: {text!r}", header=header)
            value = int(m.group(1))
        if value > maximum:
            raise ParseError(f"{value} is larger than {maximum}", header=header)
        return value

    parse.__name__ = f"parse_{header.lower().replace('-', '_')}"
    return parse


def _parse_call_id(text: str) -> str:
    value = text.strip(_WS)
    if CALLID_RE.fullmatch(value) is None:
        raise ParseError(f"invalid Call-ID {value!r}", header="Call-ID")
    return value


_TOKEN_LIST_RE = re.compile(rf"{TOKEN}(?:,{TOKEN})*")


def _token_list_parser(header: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        if _TOKEN_LIST_RE.fullmatch(text) is not None:
            return text.split(",")  # the usual "A,B,C": checked in one pass, no spaces
        if not text.strip(_WS):
            return []
        tokens = [t.strip(_WS) for t in text.split(",")]
        for token in tokens:
            if not is_token(token):
                raise ParseError(f"invalid token {token!r}", header=header)
        return tokens

    return parse


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# SIP-date = rfc1123-date: wkday "," SP date1 SP time SP "GMT" (RFC 3261 20.17)
_DATE_RE = re.compile(
    r"[ \t]*(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT[ \t]*"
)


def _parse_date(text: str) -> datetime:
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise ParseError(f"not an RFC 1123 GMT date: {text!r}", header="Date")
    day, mon, year, hh, mm, ss = m.group(2, 3, 4, 5, 6, 7)
    try:
        return datetime(
            int(year), _MONTHS.index(mon) + 1, int(day), int(hh), int(mm), int(ss), tzinfo=UTC
        )
    except ValueError as exc:
        raise ParseError(f"invalid date: {exc}", header="Date") from None


def format_date(value: datetime) -> str:
    """A datetime as a SIP-date (RFC 1123, GMT)."""
    value = value.astimezone(UTC)
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} "
        f"{value.year:04d} {value.hour:02d}:{value.minute:02d}:{value.second:02d} GMT"
    )


def _parse_accept(text: str) -> MediaType | list[MediaType]:
    # RFC 3261 20.1: "An empty Accept header field means that no formats are acceptable."
    if not text.strip(_WS):
        return []
    try:
        return MediaType.parse(text)  # type: ignore[no-any-return]
    except ParseError as exc:
        raise ParseError(exc.reason, header="Accept") from None


def _parse_text(text: str) -> str:
    return text.strip(_WS)


def _name_addr(header: str) -> Callable[[str], NameAddr]:
    # (a partial of a partial is flattened: one C-level call either way)
    return partial(name_addr_parser, header)


# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------


def _parsers(fast: Any = None) -> dict[str, Callable[[str], Any]]:
    """The parser of each header, by lookup key (names.canonical_key).

    With ``fast`` (websip.sip._speedups), the C versions of the usual cases of the
    headers every message has, each falling back to the Python parser.
    """
    parsers = _FIXED_PARSERS | {
        "via": via_parser,
        "contact": partial(contact_parser, "Contact"),
    }
    for key, name in _NAME_ADDR_HEADERS.items():
        parsers[key] = _name_addr(name)
    if fast is not None:
        parsers["cseq"] = partial(fast.cseq, CSeq.parse)
        parsers["call-id"] = partial(fast.call_id, _parse_call_id)
        for key in TOKEN_LIST_HEADERS:
            parsers[key] = partial(fast.tokens, parsers[key])
    return parsers


_NAME_ADDR_HEADERS = {
    "from": "From",
    "to": "To",
    "route": "Route",
    "record-route": "Record-Route",
    "path": "Path",
    "service-route": "Service-Route",
    "refer-to": "Refer-To",
    "referred-by": "Referred-By",
    "reply-to": "Reply-To",
    "p-asserted-identity": "P-Asserted-Identity",
    "p-preferred-identity": "P-Preferred-Identity",
}
_FIXED_PARSERS: dict[str, Callable[[str], Any]] = {
    "cseq": CSeq.parse,
    "call-id": _parse_call_id,
    # RFC 3261 20.22: Max-Forwards is 0-255.
    "max-forwards": _int_parser("Max-Forwards", 255),
    # RFC 3261 20.19/20.23/25.1: delta-seconds; values beyond 2**32-1 are refused.
    "expires": _int_parser("Expires", 2**32 - 1),
    "min-expires": _int_parser("Min-Expires", 2**32 - 1),
    "content-length": _int_parser("Content-Length", 2**32 - 1),
    # RFC 3262 7.1: response-num is 1 to 2**31-1.
    "rseq": _int_parser("RSeq", 2**31 - 1),
    "rack": RAck.parse,
    "content-type": MediaType.parse,
    "accept": _parse_accept,
    "content-disposition": ContentDisposition.parse,
    "www-authenticate": lambda text: Challenge.parse(text, "WWW-Authenticate"),
    "proxy-authenticate": lambda text: Challenge.parse(text, "Proxy-Authenticate"),
    "authorization": lambda text: Credentials.parse(text, "Authorization"),
    "proxy-authorization": lambda text: Credentials.parse(text, "Proxy-Authorization"),
    "authentication-info": _parse_authentication_info,
    "event": Event.parse,
    "subscription-state": SubscriptionState.parse,
    "session-expires": SessionExpires.parse,
    "min-se": MinSE.parse,
    "replaces": Replaces.parse,
    "reason": Reason.parse,
    "retry-after": RetryAfter.parse,
    "warning": Warning.parse,
    "date": _parse_date,
    "user-agent": _parse_text,
    "server": _parse_text,
    "subject": _parse_text,
    "organization": _parse_text,
    "timestamp": _parse_text,
    "priority": _parse_text,
}
for _name in TOKEN_LIST_HEADERS:
    _FIXED_PARSERS[_name] = _token_list_parser(canonical_name(_name))
_PARSERS = _parsers()


def parse_entry(key: str, value: str) -> Any:
    """The typed value of one entry of the header with lookup key ``key``.

    ``key`` is a lower-case long name (``names.canonical_key``); ``value`` holds one
    entry (list headers already split). Unknown headers give back their text.
    """
    parser = _PARSERS.get(key)
    if parser is None:
        return value
    try:
        return parser(value)
    except ParseError:
        raise
    except (ValueError, IndexError) as exc:  # pragma: no cover - defensive boundary
        raise ParseError(str(exc), header=canonical_name(key)) from None


# _PARSERS under the index keys of message.py (names.index_key): Message.parse_header's
# lookup (it inlines parse_entry).
KEY_PARSERS: dict[str, Callable[[str], Any]] = {
    index_key(_key): _parser for _key, _parser in _PARSERS.items()
}


def use_parsers(fast: Any) -> None:
    """Parse with the C accelerator ``fast`` (websip.sip._speedups), or with Python
    alone when it is None, from now on (websip.sip._accel switches).

    The dispatch tables are updated in place: message.py holds KEY_PARSERS.
    """
    global name_addr_parser, contact_parser, via_parser
    if fast is None:
        name_addr_parser, contact_parser, via_parser = _parse_name_addr, _parse_contact, Via._parse
    else:
        name_addr_parser = partial(fast.name_addr, _parse_name_addr)
        contact_parser = partial(fast.name_addr, _parse_contact)
        via_parser = partial(fast.via, Via._parse)
    parsers = _parsers(fast)
    _PARSERS.clear()
    _PARSERS.update(parsers)
    KEY_PARSERS.clear()
    KEY_PARSERS.update({index_key(key): parser for key, parser in parsers.items()})


def parse_header(name: str, value: str) -> Any:
    """The typed value of a header field.

    Args:
        name: the header name, any case, compact forms accepted (``"v"`` = Via).
        value: the field value (what follows the colon).

    Returns:
        The typed value (:class:`Via`, :class:`NameAddr`, :class:`CSeq`, ``int``,
        ``list[str]`` for token lists, ``"*"`` for a wildcard Contact, ``str`` for
        headers websip does not interpret). For a list header (Via, Contact,
        Route, ...) whose value holds several comma-separated entries, a list of
        typed values.

    Raises:
        websip.ParseError: the value does not follow the header's grammar.
    """
    key = canonical_key(name)
    if key in ENTITY_LIST_HEADERS:
        entries = split_list(value)
        if len(entries) > 1:
            return [parse_entry(key, entry) for entry in entries]
    return parse_entry(key, value)
