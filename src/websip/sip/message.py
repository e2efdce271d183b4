"""SIP messages: framing, lazy typed headers, serialization and builders.

Theory of operation
-------------------
``parse_message`` does the least work that makes a message usable: it frames
the bytes (start line, header block, body by Content-Length) and files every
header line under its name (``Message``'s header index). The rest is done when
a header is first read, and only for that header: its values are unfolded,
stripped and, for list headers (Via, Contact, Route, ...), cut into entries
(``get_header``, ``get_headers``), and parsed to typed values
(``Message.parse_header``, cached), whose parameters are validated at once but
cut into dicts only when read. A UA reads a handful of a message's headers; the
parser is fast because it does nothing for the others. (bench/bench_parser.py
measures it; bench/profile_parser.py helps to work on it.) Where the optional C
extension ``_speedups`` is built, it does the usual case of framing and of the
commonest typed values, with this code as the reference and fallback (_accel.py).

Errors are split in two. Input that cannot be framed at all (no start line, no
header block, a size limit crossed) raises :class:`websip.ParseError`. Input that
can be framed but is wrong in a way the UA can still answer (a Request-URI with
spaces, a Content-Length larger than the body, a header line without a colon)
yields a message whose ``defects`` list says what is wrong, so the core can
answer it with 400 instead of dropping it (RFC 3261 8.2, RFC 4475 3.1.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from websip.exceptions import MessageTooLargeError, ParseError

from .abnf import COMMON_METHODS, check_no_crlf, is_token
from .headers import KEY_PARSERS, CSeq, NameAddr, Via, split_list
from .names import ENTITY_LIST_KEYS, INDEX_KEYS, KNOWN_SPELLINGS, index_key, index_name
from .uri import URI

__all__ = [
    "MAX_HEADERS",
    "MAX_LINE_LENGTH",
    "MAX_MESSAGE_SIZE",
    "REASON_PHRASES",
    "Message",
    "Request",
    "Response",
    "parse_message",
]

# Limits: a WebSocket message carries one SIP message, and servers such as
# Kamailio cap those at 64 KiB by default. 256 KiB leaves room for large SDP and
# multipart bodies while bounding what one hostile message can make us allocate.
MAX_MESSAGE_SIZE = 256 * 1024
# Real messages have 10-40 headers; 256 stops header-flood attacks cheaply.
MAX_HEADERS = 256
# Long lines appear (RFC 4475 3.1.1.7 has ~1 KB ones); 16 KiB is far beyond any.
MAX_LINE_LENGTH = 16 * 1024

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated", 200: "OK", 202: "Accepted",
    204: "No Notification", 300: "Multiple Choices", 301: "Moved Permanently",
    302: "Moved Temporarily", 305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
    433: "Anonymity Disallowed", 436: "Bad Identity-Info", 437: "Unsupported Certificate",
    438: "Invalid Identity Header", 439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
    485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
    493: "Undecipherable", 494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 580: "Precondition Failure", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}  # fmt: skip

# Folding: line ends followed by whitespace. Bare LFs right before a fold belong to
# it, so that no "\n " is left to be unfolded again when the message is re-parsed.
_FOLD_RE = re.compile(r"(?:\r?\n)+[ \t]+")
_SIP_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+")
# Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
# lenient: a missing SP after the code (RFC 4475 3.1.1.13 keeps it; some stacks don't).
_STATUS_LINE_RE = re.compile(r"(SIP/[0-9]+\.[0-9]+) ([0-9]{3})(?: ([^\r\n]*))?")

HeaderInput = Mapping[str, Any] | Iterable[tuple[str, Any]] | None

# The C version of parse_message's usual case; set by websip.sip._accel when
# websip.sip._speedups is in use.
fast_frame: Callable[[bytes, int, int, int], Request | Response | None] | None = None


class Message:
    """Common part of :class:`Request` and :class:`Response`.

    Header values are kept as text, one value per entry of a list header.
    ``parse_header`` gives typed values.
    """

    __slots__ = ("_cache", "_headers", "_names", "_raw", "body", "defects", "version")

    # The header index. Keys are index keys (names.index_key: the canonical
    # spelling of a known header, else the lower-case name); ``_names`` holds the
    # spelling of the keys that are not their own spelling (unknown headers).
    # ``_headers`` holds values stripped, list headers cut into their entries.
    # ``parse_message`` leaves them raw in ``_raw`` instead (the text after the
    # colon, one per line, in order) and a key is normalised into ``_headers`` on
    # its first read (``_values``): a UA reads a few of a message's headers, and
    # stripping and splitting the others would be wasted. Anything that walks or
    # changes the whole index calls ``_materialize`` first, which leaves ``_raw``
    # None (as it is for built messages). A list filed in ``_headers`` is never
    # changed in place (a change files a new list): ``copy()`` shares them.
    _headers: dict[str, list[str]]
    _raw: dict[str, list[str]] | None
    _names: dict[str, str]
    _cache: dict[str | tuple[str, int], Any]
    body: bytes
    defects: list[str]
    version: str

    def _init_headers(self, headers: HeaderInput, body: bytes | str) -> None:
        self._headers = {}
        self._raw = None
        self._names = {}
        self._cache = {}
        self.defects = []
        self.version = "SIP/2.0"
        self.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if headers is not None:
            items = headers.items() if isinstance(headers, Mapping) else headers
            add = self.add_header
            for name, value in items:
                if isinstance(value, (list, tuple)):
                    for v in value:
                        add(name, v)
                else:
                    add(name, value)

    def _values(self, key: str) -> list[str] | None:
        """The values under an index key (normalised on first read), or None."""
        values = self._headers.get(key)
        if values is None and self._raw is not None:
            raw = self._raw.get(key)
            if raw is not None:
                # _normalize, with its usual case inlined
                value = raw[0]
                if (
                    len(raw) == 1
                    and "\n" not in value
                    and ("," not in value or key not in ENTITY_LIST_KEYS)
                ):
                    values = self._headers[key] = [value.strip(" \t")]
                else:
                    values = self._headers[key] = _normalize(key, raw)
        return values

    def _materialize(self) -> dict[str, list[str]]:
        """Normalise every key, in message order; returns ``_headers``."""
        raw = self._raw
        if raw is not None:
            done = self._headers
            self._headers = {
                key: done[key] if key in done else _normalize(key, values)
                for key, values in raw.items()
            }
            self._raw = None
        return self._headers

    # -- header access ---------------------------------------------------------
    # ``INDEX_KEYS.get(name) or index_key(name)``: the memo is read inline, as a
    # function call costs more than the lookup itself.

    def get_header(self, name: str) -> str | None:
        """The first value of a header as text, or None. Names: any case, compact ok."""
        values = self._values(INDEX_KEYS.get(name) or index_key(name))
        return values[0] if values else None

    def get_headers(self, name: str) -> list[str]:
        """Every value of a header, in order (list headers: one per entry)."""
        key = INDEX_KEYS.get(name) or index_key(name)
        values = self._headers.get(key)
        if values is None:  # _values(), inlined, with _normalize's usual case
            raw = self._raw
            if raw is None:
                return []
            values = raw.get(key)
            if values is None:
                return []
            value = values[0]
            if (
                len(values) == 1
                and "\n" not in value
                and ("," not in value or key not in ENTITY_LIST_KEYS)
            ):
                values = self._headers[key] = [value.strip(" \t")]
            else:
                values = self._headers[key] = _normalize(key, values)
        return values.copy()

    def has_header(self, name: str) -> bool:
        key = INDEX_KEYS.get(name) or index_key(name)
        return key in self._headers or (self._raw is not None and key in self._raw)

    def header_names(self) -> list[str]:
        """The names of the headers present, in canonical spelling, in order of first
        appearance (each name once, whatever the number of lines or entries)."""
        keys = self._raw if self._raw is not None else self._headers
        names = self._names
        return [names.get(key, key) for key in keys] if names else list(keys)

    def parse_header(self, name: str, index: int = 0) -> Any:
        """The typed value of the ``index``-th value of a header (None if absent).

        Parsed on first use and cached. Raises :class:`websip.ParseError` when the
        value is malformed.
        """
        key = INDEX_KEYS.get(name) or index_key(name)
        # Cached under the key itself for index 0 (no tuple to build), else (key, index).
        cache_key: str | tuple[str, int] = key if index == 0 else (key, index)
        values = self._headers.get(key)
        if values is not None:
            hit = self._cache.get(cache_key, _MISSING)
            if hit is not _MISSING:
                return hit
        else:
            # The first read of this header (nothing of it parsed or cached yet):
            # _values(), inlined, with _normalize's usual case.
            raw = self._raw
            if raw is None:
                return None
            values = raw.get(key)
            if values is None:
                return None
            value = values[0]
            if (
                len(values) == 1
                and "\n" not in value
                and ("," not in value or key not in ENTITY_LIST_KEYS)
            ):
                values = self._headers[key] = [value.strip(" \t")]
            else:
                values = self._headers[key] = _normalize(key, values)
        try:
            value = values[index]
        except IndexError:
            return None
        # headers.parse_entry, inlined: this is the path of every typed read.
        parser = KEY_PARSERS.get(key)
        if parser is None:
            parsed: Any = value
        else:
            try:
                parsed = parser(value)
            except ParseError:
                raise
            except (ValueError, IndexError) as exc:  # pragma: no cover - defensive boundary
                raise ParseError(str(exc), header=self._names.get(key, key)) from None
        self._cache[cache_key] = parsed
        return parsed

    def get_token_list(self, name: str) -> list[str]:
        """Every token of a token-list header (Allow, Supported, Require...) over all lines."""
        values = self._values(INDEX_KEYS.get(name) or index_key(name))
        if not values:
            return []  # the usual case (no Require, no Content-Encoding...)
        tokens: list[str] = []
        for i in range(len(values)):
            tokens.extend(self.parse_header(name, i))
        return tokens

    def set_header(self, name: str, value: Any) -> None:
        """Replace every value of a header by ``value`` (text or a typed value)."""
        self.remove_header(name)
        self.add_header(name, value)

    def add_header(self, name: str, value: Any, *, first: bool = False) -> None:
        """Add a value to a header, at the end or (``first=True``) before the others.

        ``value`` is text, a typed value, or a list of them (each added in order).

        Raises:
            websip.ParseError: the name is not a token, or the value holds CR/LF.
        """
        # index_name refuses a name that is not a token (ParseError), memoised;
        # a canonical spelling is its own key (names.KNOWN_SPELLINGS).
        if name in KNOWN_SPELLINGS:
            key = spelling = name
        else:
            key, spelling = index_name(name)
        if isinstance(value, (list, tuple)):
            # Several values (what parse_header gives for a list header): one each,
            # never the Python repr of the list.
            for item in reversed(value) if first else value:
                self.add_header(name, item, first=first)
            return
        # Stripped as parse_message strips values, so that parse(bytes(m)) == m.
        text = (value if type(value) is str else str(value)).strip(" \t")
        if "\r" in text or "\n" in text or "\x00" in text:
            check_no_crlf(text, f"header {spelling}")
        entries = split_list(text) if key in ENTITY_LIST_KEYS else [text]
        headers = self._headers if self._raw is None else self._materialize()
        values = headers.get(key)
        if values is None:
            headers[key] = entries
            if spelling != key:
                self._names[key] = spelling
        elif first:
            headers[key] = entries + values  # a new list: copies may share the old one
        else:
            headers[key] = values + entries
        if self._cache:
            self._forget(key)

    def remove_header(self, name: str) -> None:
        """Remove every value of a header (nothing happens if it is absent)."""
        key = index_key(name)
        self._materialize().pop(key, None)
        self._names.pop(key, None)
        self._forget(key)

    def pop_header(self, name: str, index: int = 0) -> str | None:
        """Remove and return one value of a header (e.g. the top Via)."""
        key = index_key(name)
        headers = self._materialize()
        values = headers.get(key)
        if not values:
            return None
        values = values.copy()  # a new list: copies may share the old one
        value = values.pop(index)
        if values:
            headers[key] = values
        else:
            del headers[key]
            self._names.pop(key, None)
        self._forget(key)
        return value

    def _forget(self, key: str) -> None:
        if self._cache:
            stale = [k for k in self._cache if k == key or (isinstance(k, tuple) and k[0] == key)]
            for cached in stale:
                del self._cache[cached]

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header as ``(name, value)`` in writing order (one pair per entry)."""
        names = self._names
        return [
            (names.get(key, key), v) for key, values in self._materialize().items() for v in values
        ]

    # -- the values every layer needs ------------------------------------------

    @property
    def call_id(self) -> str:
        values = self._headers.get("Call-ID") or self._values("Call-ID")
        return values[0] if values else ""

    # Every layer reads these, several times per message: the typed-value cache
    # is read first (a parse_header call and its key lookups cost more than the
    # hit itself). A header's cache entry goes whenever the header changes.

    @property
    def cseq(self) -> CSeq:
        """The CSeq. Raises ParseError if missing or malformed."""
        cseq = self._cache.get("CSeq")
        if cseq is None:
            cseq = self.parse_header("CSeq")
            if cseq is None:
                raise ParseError("missing CSeq", header="CSeq")
        return cseq  # type: ignore[no-any-return]

    @property
    def from_tag(self) -> str | None:
        value: NameAddr | None = self._cache.get("From") or self.parse_header("From")
        return value.tag if value is not None else None

    @property
    def to_tag(self) -> str | None:
        value: NameAddr | None = self._cache.get("To") or self.parse_header("To")
        return value.tag if value is not None else None

    @property
    def via(self) -> Via | None:
        """The top Via, parsed (None if there is none)."""
        via: Via | None = self._cache.get("Via") or self.parse_header("Via")
        return via

    @property
    def via_branch(self) -> str | None:
        via: Via | None = self._cache.get("Via") or self.parse_header("Via")
        return via.branch if via is not None else None

    @property
    def content_type(self) -> str | None:
        """The body's ``type/subtype`` in lower case, or None."""
        value = self.parse_header("Content-Type")
        return value.mime_type if value is not None else None

    # -- serialization ---------------------------------------------------------

    def _start_line(self) -> str:
        raise NotImplementedError  # pragma: no cover - defined by both subclasses

    def to_bytes(self) -> bytes:
        """The message as it goes on the wire; Content-Length is the body's length."""
        lines = [self._start_line()]
        names = self._names
        headers = self._headers if self._raw is None else self._materialize()
        for key, values in headers.items():
            if key == "Content-Length":
                continue
            name = names.get(key, key) if names else key
            if len(values) == 1:
                lines.append(f"{name}: {values[0]}")
            else:
                lines.extend([f"{name}: {v}" for v in values])
        body = self.body
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
        return head + body if body else head

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def __str__(self) -> str:
        # surrogateescape keeps binary bodies intact: parse_message(str(m)) == m.
        return self.to_bytes().decode("utf-8", "surrogateescape")

    def _same_headers(self, other: Message) -> bool:
        mine = {k: v for k, v in self._materialize().items() if k != "Content-Length"}
        theirs = {k: v for k, v in other._materialize().items() if k != "Content-Length"}
        return mine == theirs and self.body == other.body and self.version == other.version

    __hash__ = None  # type: ignore[assignment]


_MISSING = object()


def _check_ruri(uri: URI) -> None:
    # The user part, parameters and headers are escaped by str(URI); the host,
    # scheme and opaque part of a URI built in code are written as they are.
    check_no_crlf(f"{uri.scheme}{uri.host}{uri.opaque or ''}", "Request-URI")


class Request(Message):
    """A SIP request.

    Args:
        method: the method (``"INVITE"``); a token, case-sensitive (RFC 3261 7.1).
        ruri: the Request-URI (a :class:`URI` or its text).
        headers: ``{name: value}`` or ``[(name, value), ...]``; a list value adds
            several values. Values may be text or typed values (``str()`` is used).
        body: the body, bytes (or text, encoded as UTF-8).
    """

    __slots__ = ("_ruri", "_ruri_text", "method")

    def __init__(
        self,
        method: str,
        ruri: URI | str,
        headers: HeaderInput = None,
        body: bytes | str = b"",
    ) -> None:
        if method not in COMMON_METHODS and not is_token(method):
            raise ParseError(f"invalid method {method!r}")
        self.method = method
        if isinstance(ruri, str):
            ruri = URI.parse(ruri)
        _check_ruri(ruri)
        self._ruri: URI | None = ruri
        self._ruri_text = ""
        self._init_headers(headers, body)

    build = classmethod(lambda cls, *args, **kwargs: cls(*args, **kwargs))

    @property
    def ruri(self) -> URI:
        """The Request-URI, parsed on first use (ParseError if malformed)."""
        ruri = self._ruri
        if ruri is None:
            ruri = self._ruri = URI.parse(self._ruri_text)
        return ruri

    @ruri.setter
    def ruri(self, value: URI | str) -> None:
        if isinstance(value, str):
            value = URI.parse(value)
        _check_ruri(value)
        self._ruri = value

    @property
    def ruri_text(self) -> str:
        """The Request-URI as written (useful when it does not parse)."""
        return str(self._ruri) if self._ruri is not None else self._ruri_text

    def _start_line(self) -> str:
        return f"{self.method} {self.ruri_text} {self.version}"

    def copy(self) -> Request:
        """An independent copy (headers, body and Request-URI)."""
        clone = Request.__new__(Request)
        clone.method = self.method
        clone._ruri = self._ruri.copy() if self._ruri is not None else None
        clone._ruri_text = self._ruri_text
        # The lists are shared: neither message changes one in place.
        clone._headers = (self._headers if self._raw is None else self._materialize()).copy()
        clone._raw = None
        clone._names = dict(self._names)
        clone._cache = {}
        clone.body = self.body
        clone.defects = list(self.defects)
        clone.version = self.version
        return clone

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and self.ruri_text == other.ruri_text
            and self._same_headers(other)
        )

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.ruri_text} call-id={self.call_id!r}>"


class Response(Message):
    """A SIP response.

    Args:
        status_code: 100-699.
        reason_phrase: the reason phrase; the standard one when None.
        headers, body: as for :class:`Request`.
    """

    __slots__ = ("reason_phrase", "status_code")

    def __init__(
        self,
        status_code: int,
        reason_phrase: str | None = None,
        headers: HeaderInput = None,
        body: bytes | str = b"",
    ) -> None:
        if not 100 <= status_code <= 699:
            raise ParseError(f"invalid status code {status_code!r}")
        self.status_code = status_code
        if reason_phrase is None:
            reason_phrase = REASON_PHRASES.get(status_code, "Unknown")
        check_no_crlf(reason_phrase, "reason phrase")
        self.reason_phrase = reason_phrase
        self._init_headers(headers, body)

    @classmethod
    def for_request(
        cls,
        request: Request,
        status_code: int,
        reason_phrase: str | None = None,
        *,
        to_tag: str | None = None,
        headers: HeaderInput = None,
        body: bytes | str = b"",
    ) -> Response:
        """A response to ``request`` (RFC 3261 8.2.6.2).

        Via, From, Call-ID and CSeq are copied; To too, with ``to_tag`` added when
        it has none; a 100 copies Timestamp (8.2.6.1). ``headers`` are added after.
        """
        response = cls(status_code, reason_phrase, body=body)
        dst = response._headers
        for key in ("Via", "From", "To", "Call-ID", "CSeq"):
            values = request._values(key)
            if values:
                dst[key] = list(values)
        if status_code == 100:
            values = request._values("Timestamp")
            if values:
                dst["Timestamp"] = list(values)
        if to_tag is not None:
            if not is_token(to_tag):
                raise ParseError(f"invalid to-tag {to_tag!r}")
            try:
                has_tag = request.to_tag is not None
            except ParseError:
                has_tag = True  # a malformed To (answered 400) is echoed as it came
            if "To" in dst and not has_tag:
                dst["To"] = [f"{dst['To'][0]};tag={to_tag}"]
        if headers is not None:
            items = headers.items() if isinstance(headers, Mapping) else headers
            for name, value in items:
                if isinstance(value, list | tuple):
                    for v in value:
                        response.add_header(name, v)
                else:
                    response.add_header(name, value)
        return response

    @property
    def status_class(self) -> int:
        """1 for provisional, 2 for success, ... 6 for global failure."""
        return self.status_code // 100

    def _start_line(self) -> str:
        return f"{self.version} {self.status_code} {self.reason_phrase}"

    def copy(self) -> Response:
        clone = Response.__new__(Response)
        clone.status_code = self.status_code
        clone.reason_phrase = self.reason_phrase
        # The lists are shared: neither message changes one in place.
        clone._headers = (self._headers if self._raw is None else self._materialize()).copy()
        clone._raw = None
        clone._names = dict(self._names)
        clone._cache = {}
        clone.body = self.body
        clone.defects = list(self.defects)
        clone.version = self.version
        return clone

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status_code == other.status_code
            and self.reason_phrase == other.reason_phrase
            and self._same_headers(other)
        )

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.reason_phrase} call-id={self.call_id!r}>"


def parse_message(
    data: bytes | bytearray | memoryview | str,
    *,
    max_size: int = MAX_MESSAGE_SIZE,
    max_headers: int = MAX_HEADERS,
    max_line_length: int = MAX_LINE_LENGTH,
) -> Request | Response:
    """Parse one complete SIP message (as a WebSocket message carries it).

    Args:
        data: the message; text is encoded as UTF-8 (with surrogateescape).
        max_size, max_headers, max_line_length: limits; crossing one raises
            :class:`websip.MessageTooLargeError` (answer 513).

    Returns:
        A :class:`Request` or :class:`Response`. Check ``defects`` before acting on
        a request: a non-empty list means it must be answered 400.

    Raises:
        websip.ParseError: the input cannot be framed as a SIP message.
    """
    if type(data) is bytes:
        pass  # what a transport hands over: no conversion
    elif isinstance(data, str):
        try:
            data = data.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise ParseError(f"text holds a lone surrogate (character {exc.start})") from None
    elif not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > max_size:
        raise MessageTooLargeError(f"message of {len(data)} bytes exceeds {max_size}")
    if fast_frame is not None:
        # The C version of the fast path below (with the headers normalised at
        # once); None for anything else, which the code below handles.
        fast = fast_frame(data, max_size, max_headers, max_line_length)
        if fast is not None:
            return fast
    # RFC 3261 7.5: CRLFs before the start line are ignored (keep-alives).
    start = 0
    while data[start : start + 2] == b"\r\n":
        start += 2
    end = data.find(b"\r\n\r\n", start)
    sep_len = 4
    if end < 0:
        # lenient: bare-LF messages (hand-written tests, some tools).
        end = data.find(b"\n\n", start)
        sep_len = 2
        if end < 0:
            if data.endswith((b"\r\n", b"\n")):
                # lenient: the empty line after the last header is missing (a defect).
                end, sep_len = len(data), 0
            else:
                raise ParseError("no end of header block (CRLF CRLF)")
    not_utf8 = None
    try:
        head = data[start:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        # lenient: keep the bytes (surrogateescape) so that the UA can still answer
        # 400 with the Via/From/To/Call-ID it received; the message is defective.
        head = data[start:end].decode("utf-8", "surrogateescape")
        not_utf8 = f"header block is not UTF-8 (byte {start + exc.start})"

    # Fast path, for a CRLF message whose lines fit the limits and whose start
    # line is not folded: no scan for folding (RFC 3261 7.3.1) up front, which
    # costs as much as indexing the lines. A continuation line has no header name
    # of its own, so the fast indexing below fails on it and the header block is
    # then scanned (and re-read through the careful path if folded). A fold after
    # a bare LF inside a value is undone when the value is read (_normalize).
    names: dict[str, str] = {}
    raw: dict[str, list[str]] | None = None
    lines = head.split("\r\n") if sep_len == 4 else []
    if (
        lines
        and len(lines) - 1 <= max_headers
        and (len(head) <= max_line_length or max(map(len, lines)) <= max_line_length)
        and "\n" not in lines[0]
        and (len(lines) == 1 or lines[1][:1] not in (" ", "\t"))
    ):
        message = _parse_start_line(lines[0])
        defects = message.defects
        if not_utf8 is not None:
            defects.append(not_utf8)
        # The header index (see Message): values stay raw here, _normalize() strips
        # and splits them when read. File every line under its name as written,
        # then check with one C-level set operation that all names are canonical
        # spellings, i.e. already index keys. Otherwise re-key the names
        # (_rekey), or go line by line (_index_lines) when a line has no colon.
        raw = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raw = None
                break
            values = raw.get(name)
            if values is None:
                raw[name] = [value]
            else:
                values.append(value)
        if raw is None or not raw.keys() <= KNOWN_SPELLINGS:
            # ("\n " also finds "\r\n ": two scans of the header block, not four.)
            if "\n " in head or "\n\t" in head:
                raw = None  # folded: the careful path
            elif raw is None:
                raw = _index_lines(lines, names, defects)
            else:
                raw = _rekey(raw, names) or _index_lines(lines, names, defects)
    if raw is None:
        # The careful path: unfold, make bare LFs CRLF, check the limits, then
        # index line by line.
        if "\n " in head or "\n\t" in head:
            head = _FOLD_RE.sub(" ", head)  # RFC 3261 7.3.1: folding is LWS
        if sep_len == 2 or (sep_len == 0 and not data.endswith(b"\r\n")):
            head = head.replace("\r\n", "\n").replace("\n", "\r\n")
        lines = head.split("\r\n")
        if len(lines) - 1 > max_headers:
            raise MessageTooLargeError(f"more than {max_headers} header lines")
        if len(head) > max_line_length and max(map(len, lines)) > max_line_length:
            raise MessageTooLargeError(f"a line is longer than {max_line_length} characters")
        if sep_len == 0 and len(lines) > 1:
            lines.pop()  # the empty string after the last line's CRLF
        message = _parse_start_line(lines[0])
        defects = message.defects
        if not_utf8 is not None:
            defects.append(not_utf8)
        if sep_len == 0:
            defects.append("no empty line after the header block")
        raw = _index_lines(lines, names, defects)
        # Normalised at once, without _normalize's unfolding: the header block
        # is unfolded already, and a second pass could find new folds.
        message._headers = {key: _normalize(key, values, False) for key, values in raw.items()}
        message._raw = None
    else:
        message._headers = {}
        message._raw = raw
    message._names = names

    body_start = end + sep_len
    available = len(data) - body_start
    length_values = raw.get("Content-Length")
    if length_values is None:
        # Message-oriented transports (WebSocket, RFC 7118) may omit Content-Length:
        # the body is the rest of the message.
        message.body = data[body_start:]
    else:
        if message._raw is None:
            length_values = message._headers["Content-Length"]
        elif len(length_values) > 1 or "\n" in length_values[0]:
            length_values = _normalize("Content-Length", length_values)
        text = length_values[0].strip()
        if len(length_values) > 1 and any(v.strip() != text for v in length_values):
            defects.append("several different Content-Length values")
        # At most 10 digits (2**32-1): int() refuses strings of over 4300 digits.
        if not text.isdigit() or not text.isascii() or len(text) > 10:
            defects.append(f"invalid Content-Length {text[:20]!r}")
            message.body = data[body_start:]
        else:
            length = int(text)
            if (
                message._raw is not None
                and len(length_values) == 1
                and length <= 0xFFFFFFFF
                and length_values[0].strip(" \t") == text
            ):
                # The typed value parse_header("Content-Length") would give: framing
                # has parsed it, so it is filed (and the value normalised) now.
                message._headers["Content-Length"] = [text]
                message._cache["Content-Length"] = length
            if length > available:
                # RFC 4475 3.1.2.2: a Content-Length larger than the body is a 400.
                defects.append(f"Content-Length {length} is larger than the body ({available})")
                message.body = data[body_start:]
            else:
                # RFC 3261 18.3: bytes beyond Content-Length are not part of the message.
                message.body = data[body_start : body_start + length]
    return message


def _normalize(key: str, raw: list[str], unfold: bool = True) -> list[str]:
    """Raw values of a header (text after the colon) as a message keeps them:
    unfolded (a bare LF and whitespace: parse_message's fast path leaves them;
    ``unfold=False`` when the whole header block was unfolded already), stripped,
    list headers cut into entries."""
    if key in ENTITY_LIST_KEYS:
        values: list[str] = []
        for value in raw:
            if unfold and "\n" in value:
                value = _FOLD_RE.sub(" ", value)
            value = value.strip(" \t")
            if "," in value:
                values.extend(split_list(value))
            else:
                values.append(value)
        return values
    if len(raw) == 1:
        value = raw[0]
        if unfold and "\n" in value:
            value = _FOLD_RE.sub(" ", value)
        return [value.strip(" \t")]
    return [
        (_FOLD_RE.sub(" ", value) if unfold and "\n" in value else value).strip(" \t")
        for value in raw
    ]


def _rekey(raw: dict[str, list[str]], names: dict[str, str]) -> dict[str, list[str]] | None:
    """``raw`` (names as written) under index keys; None when a name is invalid or
    two names are the same header (``v`` and ``Via``: their lines interleave, so
    the lines must be taken in order)."""
    out: dict[str, list[str]] = {}
    for name, values in raw.items():
        try:
            key, spelling = index_name(name.rstrip(" \t"))
        except ParseError:
            return None
        if key in out:
            return None
        out[key] = values
        if spelling != key:
            names[key] = spelling
    return out


def _index_lines(
    lines: list[str], names: dict[str, str], defects: list[str]
) -> dict[str, list[str]]:
    """The raw index, line by line, reporting lines that are not headers."""
    names.clear()
    raw: dict[str, list[str]] = {}
    number = 1
    for line in lines[1:]:
        number += 1
        name, colon, value = line.partition(":")
        if not colon:
            defects.append(f"line {number}: header line without a colon")
            continue
        try:
            key, spelling = index_name(name.rstrip(" \t"))
        except ParseError:
            defects.append(f"line {number}: invalid header name {name!r}")
            continue
        values = raw.get(key)
        if values is None:
            raw[key] = [value]
            if spelling != key:
                names[key] = spelling
        else:
            values.append(value)
    return raw


def _parse_start_line(line: str) -> Request | Response:
    if line.startswith("SIP/"):
        # Fast path for "SIP/2.0 NNN reason" (what _STATUS_LINE_RE accepts, without
        # running it); anything else takes the regex.
        code = line[8:11]
        if (
            line[7:8] == " "
            and line[:7] == "SIP/2.0"
            and code.isdigit()
            and code.isascii()
            and len(code) == 3
            and line[11:12] in ("", " ")
            and "\r" not in line
            and "\n" not in line
        ):
            response = Response.__new__(Response)
            response.status_code = status = int(code)
            if not 100 <= status <= 699:
                raise ParseError(f"status code {status} out of range", line=1)
            response.reason_phrase = line[12:]
            response._cache = {}
            response.defects = []
            response.version = "SIP/2.0"
            return response
        m = _STATUS_LINE_RE.fullmatch(line)
        if m is None:
            raise ParseError(f"malformed Status-Line {line[:60]!r}", line=1)
        status = int(m.group(2))
        if not 100 <= status <= 699:
            raise ParseError(f"status code {status} out of range", line=1)
        response = Response.__new__(Response)
        response.status_code = status
        response.reason_phrase = m.group(3) or ""
        response._cache = {}
        response.defects = []
        response.version = m.group(1)
        return response
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF
    stripped = line.rstrip(" \t")
    method, sp, rest = stripped.partition(" ")
    ruri_text, sp2, version = rest.rpartition(" ")
    if not sp or not sp2 or (method not in COMMON_METHODS and not is_token(method)):
        raise ParseError(f"malformed Request-Line {line[:60]!r}", line=1)
    request = Request.__new__(Request)
    request.method = method
    request._ruri = None
    request._ruri_text = ruri_text
    request._cache = {}
    request.defects = defects = []
    request.version = version
    if version != "SIP/2.0" and _SIP_VERSION_RE.fullmatch(version) is None:
        raise ParseError(f"malformed Request-Line {line[:60]!r}", line=1)
    if len(stripped) != len(line):
        # RFC 4475 3.1.2.10: trailing whitespace after the version is a 400, not a drop.
        defects.append("whitespace after the SIP-Version")
    if " " in ruri_text or "\t" in ruri_text or not ruri_text:
        defects.append("Request-URI contains whitespace or is empty")
    return request
