"""SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), and other absolute URIs.

A URI is parsed once into its parts: ``user`` and parameter/header values are
kept *unescaped*, and ``str()`` escapes them again with exactly the characters
RFC 3261 25.1 allows unescaped in each part. Comparison follows RFC 3261 19.1.4.

Other schemes (``http:``, ``urn:``, ...) are kept opaque: they appear in
Request-URIs that must be answered 416 and in Contact/Call-Info values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from websip.exceptions import ParseError

from .abnf import (
    ESCAPE_ERROR,
    HNV_CHARS,
    HOSTNAME_LABELS,
    IPV6_REFERENCE,
    PARAM_CHARS,
    PASSWORD_CHARS,
    PORT,
    USER_CHARS,
    is_valid_host,
)
from .names import spelled

__all__ = ["URI"]

# SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
# userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
# Seven groups: scheme, user, password, host, port, params, headers. A fragment,
# so that headers.py can match a whole name-addr and its URI in one pass.
# (Possessive quantifiers: see abnf.HOSTNAME_LABELS. user, password, port,
# params and headers each stop at a character that their class does not hold.)
SIP_URI = (
    r"([sS][iI][pP][sS]?):"
    rf"(?:([{USER_CHARS}]++)(?::([{PASSWORD_CHARS}]*+))?@)?"
    rf"({IPV6_REFERENCE}|{HOSTNAME_LABELS})"
    rf"(?::({PORT}+))?"
    rf"((?:;[{PARAM_CHARS}=]*+)*+)"
    rf"(?:\?([{HNV_CHARS}=&]*+))?"
)
_SIP_URI_RE = re.compile(SIP_URI)
# telephone-uri = "tel:" telephone-subscriber (RFC 3966 3); lenient on the number.
_TEL_URI_RE = re.compile(
    rf"(?P<scheme>[tT][eE][lL]):(?P<user>[^;?\s]+)(?P<params>(?:;[{PARAM_CHARS}=]*)*)"
)
# absoluteURI = scheme ":" ( hier-part / opaque-part ) (RFC 3261 25.1)
_ABSOLUTE_URI_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*):(?P<opaque>[^\s<>\"]+)")

_HEX = "0123456789ABCDEF"


def _safe_set(chars: str) -> frozenset[str]:
    """The characters of a regex character-class body, minus '%' (always escaped)."""
    out: set[str] = set()
    i = 0
    while i < len(chars):
        c = chars[i]
        if c == "\\":
            c = chars[i + 1]
            i += 1
        elif c == "-" and 0 < i < len(chars) - 1 and chars[i - 1] != "\\":
            lo, hi = chars[i - 1], chars[i + 1]
            out.update(chr(x) for x in range(ord(lo), ord(hi) + 1))
            i += 2
            continue
        out.add(c)
        i += 1
    out.discard("%")
    return frozenset(out)


_USER_SAFE = _safe_set(USER_CHARS)
# In a tel URI, ";" starts the parameters and "?" is not allowed (RFC 3966 3).
_TEL_SAFE = _USER_SAFE - {";", "?"}
_PASSWORD_SAFE = _safe_set(PASSWORD_CHARS)
_PARAM_SAFE = _safe_set(PARAM_CHARS)
_HNV_SAFE = _safe_set(HNV_CHARS)


def escape(text: str, safe: frozenset[str]) -> str:
    """Percent-encode (as UTF-8) every character of ``text`` not in ``safe``."""
    for ch in text:
        if ch not in safe:
            break
    else:
        return text
    out = []
    for ch in text:
        if ch in safe:
            out.append(ch)
        else:
            for byte in ch.encode("utf-8", "surrogatepass"):
                out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def unescape(text: str, what: str = "URI") -> str:
    """Decode ``%XX`` escapes (as UTF-8, invalid sequences kept as latin-1)."""
    if "%" not in text:
        return text
    if ESCAPE_ERROR.search(text):
        raise ParseError(f"bad %-escape in {what} {text!r}")
    raw = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(ch.encode("utf-8", "surrogatepass"))
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _uri_params_need_work(text: str) -> bool:
    """True when URI parameter text (``;a=b;c``, as SIP_URI matched it) has an empty
    name (``;;``, ``;=x``, a trailing ``;``) or an escape: _parse_uri_params must
    then run at once, to raise or to unescape. Other text is kept and cut on
    first access to ``URI.params``."""
    return ";;" in text or ";=" in text or text[-1] == ";" or "%" in text


def _parse_uri_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    if not text:
        return params
    for part in text[1:].split(";"):
        name, eq, value = part.partition("=")
        if not name:
            raise ParseError(f"empty URI parameter in {text!r}")
        params[unescape(name).lower()] = unescape(value) if eq else None
    return params


def _parse_uri_headers(text: str | None) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    if not text:
        return headers
    for part in text.split("&"):
        name, eq, value = part.partition("=")
        if not name or not eq:
            raise ParseError(f"malformed URI header {part!r}")
        headers.setdefault(spelled(unescape(name)), []).append(unescape(value))
    return headers


def sip_uri(
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port_text: str | None,
    params: str,
    headers: str | None,
    text: str,
) -> URI:
    """The URI of the groups of a SIP_URI match over ``text``; checks what the
    pattern leaves open (host, escapes, port range, parameter names)."""
    if (host[0] == "[" or host[-1].isdigit()) and not is_valid_host(host):
        raise ParseError(f"invalid host {host!r} in URI {text!r}")
    uri = URI.__new__(URI)
    uri.scheme = "sip" if scheme == "sip" else scheme.lower()
    if user is not None and "%" in user:
        user = unescape(user, "user")
    uri.user = user
    if password is not None and "%" in password:
        password = unescape(password, "password")
    uri.password = password
    uri.host = host.lower()
    if port_text is None:
        uri.port = None
    else:
        # len() first: int() refuses strings of more than 4300 digits.
        port = int(port_text) if len(port_text) <= 5 else 65536
        if port > 65535:
            raise ParseError(f"port out of range in URI {text!r}")
        uri.port = port
    if not params:
        uri._params = None
        uri._ptext = ""
    elif _uri_params_need_work(params):
        uri._params = _parse_uri_params(params)
    else:
        uri._params = None
        uri._ptext = params
    uri._headers = _parse_uri_headers(headers) if headers else None
    uri.opaque = None
    return uri


_SCHEMES = {"sip": "sip", "sips": "sips", "tel": "tel"}
# Validated parameter text (sip_uri() keeps it lazily only without escapes)
# that str() writes back unchanged: lower-case names, at most one "=" each.
_PLAIN_PARAMS_RE = re.compile(r"(?:;[^;=A-Z]+(?:=[^;=]*)?)*")


def _writes_back(ptext: str) -> bool:
    """True when ``str()`` of the parameters read from ``ptext`` is ``ptext``."""
    if not ptext:
        return True
    if _PLAIN_PARAMS_RE.fullmatch(ptext) is None:
        return False
    if ptext.count(";") == 1:
        return True
    names = [part.partition("=")[0] for part in ptext[1:].split(";")]
    return len(set(names)) == len(names)  # a repeated name is written once


# The C version of the usual case of URI.parse (a SIP URI without escapes, IPv6
# or URI headers), called with a fallback of None: it gives None for the rest.
# Set by websip.sip._accel when websip.sip._speedups is in use.
fast_sip_uri: Callable[[None, str], URI | None] | None = None


class URI:
    """A SIP, SIPS or tel URI, or an opaque absolute URI.

    Args:
        scheme: ``"sip"``, ``"sips"``, ``"tel"`` or another scheme (lower-cased).
        user: the user part, unescaped (the number, for tel URIs).
        host: a domain name, IPv4 address or IPv6 address (brackets optional).
        port: the port, or None for the scheme's default.
        params: URI parameters; names are case-insensitive, a valueless one is None.
        headers: URI headers (``?name=value``); each name maps to a list of values.
        password: the password of ``user:password@``, discouraged by RFC 3261.
    """

    __slots__ = (
        "_headers", "_params", "_ptext", "host", "opaque", "password", "port", "scheme", "user"
    )  # fmt: skip

    # ``params`` is built on first access from ``_ptext`` (validated parameter
    # text, "" for none) when ``_params`` is None: see sip_uri(). ``headers``
    # is made on first access when ``_headers`` is None. Most URIs have
    # neither, and a process holding thousands of UAs keeps no empty dicts.
    _params: dict[str, str | None] | None
    _ptext: str
    _headers: dict[str, list[str]] | None

    def __init__(
        self,
        scheme: str = "sip",
        user: str | None = None,
        host: str = "",
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        headers: dict[str, list[str]] | None = None,
        *,
        password: str | None = None,
        opaque: str | None = None,
    ) -> None:
        scheme = scheme.lower()
        self.scheme = _SCHEMES.get(scheme, scheme)  # one shared "sip", not a copy per URI
        self.user = user
        self.password = password
        lowered = host.lower()
        if lowered != host:  # keep the caller's string when it is already lower case
            host = lowered
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        self.host = host
        if port is not None and not (isinstance(port, int) and 0 <= port <= 65535):
            raise ParseError(f"invalid port {port!r}")
        self.port = port
        if params:
            self._params = {k.lower(): v for k, v in params.items()}
        else:
            self._params = None
            self._ptext = ""
        self._headers = {spelled(k): list(v) for k, v in headers.items()} if headers else None
        self.opaque = opaque

    @property
    def params(self) -> dict[str, str | None]:
        """URI parameters; names lower-case, values unescaped, a valueless one None."""
        params = self._params
        if params is None:
            params = self._params = _parse_uri_params(self._ptext)
        return params

    @params.setter
    def params(self, value: dict[str, str | None]) -> None:
        self._params = value

    @property
    def headers(self) -> dict[str, list[str]]:
        """URI headers (``?name=value``): each name maps to a list of values."""
        headers = self._headers
        if headers is None:
            headers = self._headers = {}
        return headers

    @headers.setter
    def headers(self, value: dict[str, list[str]]) -> None:
        self._headers = value

    @classmethod
    def parse(cls, text: str) -> URI:
        """Parse a URI; raises :class:`websip.ParseError` if ``text`` is not one."""
        if fast_sip_uri is not None:
            uri: URI | None = fast_sip_uri(None, text)
            if uri is not None:
                return uri
        m = _SIP_URI_RE.fullmatch(text)
        if m is not None:
            scheme, user, password, host, port, params, headers = m.groups()
            return sip_uri(scheme, user, password, host, port, params, headers, text)
        m = _TEL_URI_RE.fullmatch(text)
        if m is not None:
            uri = cls.__new__(cls)
            uri.scheme = "tel"
            uri.user = unescape(m.group("user"), "telephone number")
            uri.password = None
            uri.host = ""
            uri.port = None
            uri.params = _parse_uri_params(m.group("params"))
            uri._headers = None
            uri.opaque = None
            return uri
        m = _ABSOLUTE_URI_RE.fullmatch(text)
        if m is not None and m.group("scheme").lower() not in ("sip", "sips", "tel"):
            return cls(m.group("scheme"), opaque=m.group("opaque"))
        raise ParseError(f"invalid URI {text!r}")

    # -- parameters -------------------------------------------------------

    def get_param(self, name: str) -> str | None:
        """The value of a URI parameter; None when absent or valueless."""
        return self.params.get(name.lower())

    def has_param(self, name: str) -> bool:
        return name.lower() in self.params

    def set_param(self, name: str, value: str | int | None = None) -> None:
        self.params[name.lower()] = None if value is None else str(value)

    def delete_param(self, name: str) -> str | None:
        return self.params.pop(name.lower(), None)

    def clear_params(self) -> None:
        self.params.clear()

    # -- headers ------------------------------------------------------------

    def get_header(self, name: str) -> list[str] | None:
        """The values of a URI header (``?Replaces=...``), or None when absent."""
        return self._headers.get(spelled(name)) if self._headers else None

    def has_header(self, name: str) -> bool:
        return bool(self._headers) and spelled(name) in self.headers

    def set_header(self, name: str, value: str | list[str]) -> None:
        self.headers[spelled(name)] = [value] if isinstance(value, str) else list(value)

    def delete_header(self, name: str) -> list[str] | None:
        return self._headers.pop(spelled(name), None) if self._headers else None

    def clear_headers(self) -> None:
        self._headers = None

    # -- forms ----------------------------------------------------------------

    def to_aor(self, show_port: bool = False) -> str:
        """The address-of-record form: ``scheme:user@host`` (and ``:port`` on request)."""
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        if self.scheme == "tel":
            return f"tel:{escape(self.user or '', _TEL_SAFE)}"
        text = f"{self.scheme}:"
        if self.user:
            text += escape(self.user, _USER_SAFE) + "@"
        text += self.host
        if show_port and self.port is not None:
            text += f":{self.port}"
        return text

    def copy(self) -> URI:
        uri = URI.__new__(URI)
        uri.scheme = self.scheme
        uri.user = self.user
        uri.password = self.password
        uri.host = self.host
        uri.port = self.port
        if self._params is None:
            uri._params = None
            uri._ptext = self._ptext  # validated text: cut on the copy's first access
        else:
            uri._params = dict(self._params)
        uri._headers = {k: list(v) for k, v in self._headers.items()} if self._headers else None
        uri.opaque = self.opaque
        return uri

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        parts = [self.scheme, ":"]
        if self.scheme == "tel":
            parts.append(escape(self.user or "", _TEL_SAFE))
        else:
            if self.user is not None:
                parts.append(escape(self.user, _USER_SAFE))
                if self.password is not None:
                    parts.append(":" + escape(self.password, _PASSWORD_SAFE))
                parts.append("@")
            parts.append(self.host)
            if self.port is not None:
                parts.append(f":{self.port}")
        if self._params is None and _writes_back(self._ptext):
            parts.append(self._ptext)  # what the loop below would write, without the dict
        else:
            for name, value in self.params.items():
                parts.append(";" + escape(name, _PARAM_SAFE))
                if value is not None:
                    parts.append("=" + escape(value, _PARAM_SAFE))
        if self._headers:
            parts.append("?")
            parts.append(
                "&".join(
                    f"{escape(name, _HNV_SAFE)}={escape(value, _HNV_SAFE)}"
                    for name, values in self._headers.items()
                    for value in values
                )
            )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"URI({str(self)!r})"

    # RFC 3261 19.1.4: parameters that must match when present in either URI.
    _SIGNIFICANT_PARAMS = ("user", "ttl", "method", "maddr", "transport")

    def __eq__(self, other: Any) -> bool:
        """URI equality by RFC 3261 19.1.4 (not textual equality)."""
        if not isinstance(other, URI):
            return NotImplemented
        if self.scheme != other.scheme:
            return False
        if self.opaque is not None or other.opaque is not None:
            return self.opaque == other.opaque
        if self.user != other.user or self.password != other.password:
            return False
        if self.scheme == "tel":
            return self.params == other.params
        if self.host != other.host or self.port != other.port:
            return False
        for name in self._SIGNIFICANT_PARAMS:
            mine, theirs = self.params.get(name), other.params.get(name)
            if (name in self.params) != (name in other.params):
                return False
            if mine is not None and theirs is not None and mine.lower() != theirs.lower():
                return False
        for name in self.params.keys() & other.params.keys():
            a, b = self.params[name], other.params[name]
            if (a or "").lower() != (b or "").lower():
                return False
        return {k.lower(): v for k, v in (self._headers or {}).items()} == {
            k.lower(): v for k, v in (other._headers or {}).items()
        }

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.host, self.port))


# JsSIP's escapeUser() leaves ":" unescaped: "user:password" targets keep a password.
_TARGET_USER_SAFE = _USER_SAFE | {":"}
_TEL_VISUAL_RE = re.compile(r"[-.()]*\+?[0-9\-.()]+")
_SCHEME_PREFIX_RE = re.compile(r"(sips?|tel):", re.IGNORECASE)


def normalize_target(target: URI | str | None, domain: str | None = None) -> URI | None:
    """Make a SIP URI of what a user typed, as JsSIP's ``normalizeTarget`` does.

    ``"bob"`` becomes ``sip:bob@DOMAIN``, ``"bob@example.com"`` and
    ``"sip:bob@example.com"`` are taken as they are, a telephone number loses its
    visual separators (``"+1 (555) 123"`` is not one, ``"+1-555-123"`` is), a
    ``tel:`` number becomes a SIP URI at ``domain``. As in JsSIP, a ``:`` in the
    user part is left unescaped, so ``"alice:secret"`` gives user ``alice`` and
    password ``secret``. Unlike JsSIP, ``sips:`` is kept. Returns None when no
    URI can be made (no domain for a bare user, bad syntax).
    """
    if isinstance(target, URI):
        return target
    if not isinstance(target, str) or not target:
        return None
    user, at, target_domain = target.rpartition("@")
    if not at:
        if not domain:
            return None
        user, target_domain = target, domain
    scheme = "sip"
    prefix = _SCHEME_PREFIX_RE.match(user)
    if prefix is not None:
        if prefix.group(1).lower() == "sips":
            scheme = "sips"
        user = user[prefix.end() :]
    if _TEL_VISUAL_RE.fullmatch(user):
        user = re.sub(r"[-.()]", "", user)
    try:
        user = unescape(user, "user")
    except ParseError:
        return None
    try:
        return URI.parse(f"{scheme}:{escape(user, _TARGET_USER_SAFE)}@{target_domain}")
    except ParseError:
        return None
