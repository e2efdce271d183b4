"""The UA configuration: every parameter checked, normalized and frozen.

:func:`load_configuration` turns what the user wrote (a mapping and/or keyword
arguments, named as in ``spec/ua-configuration.txt``) into a :class:`Configuration`,
a frozen object the rest of websip reads. Nothing here does I/O: certificate paths
are kept as paths, random values (``instance_id``, ``via_host``) come from an
injectable :class:`random.Random`, and the ``websockets`` client is configured
later, in :mod:`websip.aio`, from the plain data of :class:`WebSocketOptions`.

How a value is read (JsSIP's ``Config.js`` rules, with the differences listed in
``docs/configuration.md``):

- an unknown parameter name is an error (with a "did you mean" hint);
- an empty value (``None``, ``""``, ``[]``, ``()``, ``{}``) means "use the default";
  a mandatory parameter that is missing or empty is an error;
- booleans must be ``bool``; whole numbers may be ``int``, an integral ``float``
  or a string of digits (JsSIP's ``isDecimal``); durations given in seconds may
  be any finite number or numeric string;
- every error is a :class:`websip.ConfigurationError` whose ``parameter`` is the
  name the user wrote and whose ``value`` is the rejected value (never a secret:
  ``password``, ``ha1``, a TLS passphrase or an ``Authorization`` header value
  shows as ``<hidden>``).
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import random as _random
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from websip._version import __version__
from websip.exceptions import ConfigurationError, ParseError
from websip.sip.abnf import is_valid_host
from websip.sip.headers import NameAddr
from websip.sip.uri import URI

if TYPE_CHECKING:
    # Only for annotations: ``import ssl`` loads ``socket``, which the sans-I/O
    # core must not do (tests/test_architecture.py). An SSLContext handed in by
    # the user is recognised through ``sys.modules`` instead (see _ssl_context).
    import ssl

__all__ = [
    "DEFAULTS",
    "MANDATORY",
    "PARAMETERS",
    "Configuration",
    "WebSocketOptions",
    "WsServer",
    "load_configuration",
]

# --------------------------------------------------------------------------
# Parameter names and defaults
# --------------------------------------------------------------------------

#: Parameters that must be given (spec: "Mandatory parameters").
MANDATORY: Final = ("uri", "ws_servers")

#: Every accepted parameter name, in the order of the reference: the spec's
#: parameters, then JsSIP's ``realm``/``ha1``, then websip's own additions.
PARAMETERS: Final = (
    # spec/ua-configuration.txt
    "uri",
    "ws_servers",
    "authorization_user",
    "connection_recovery_max_interval",
    "connection_recovery_min_interval",
    "display_name",
    "hack_ip_in_contact",
    "hack_via_tcp",
    "hack_via_ws",
    "instance_id",
    "no_answer_timeout",
    "session_timers",
    "node_websocket_options",
    "password",
    "register",
    "register_expires",
    "registrar_server",
    "use_preloaded_route",
    # JsSIP (3.x), named in DESIGN.md
    "realm",
    "ha1",
    # websip
    "websocket_options",
    "session_timers_refresh_method",
    "user_agent",
    "keepalive_interval",
    "keepalive_timeout",
)

#: The default of every optional parameter (None: "not set"; the derived
#: defaults of ``authorization_user``, ``instance_id`` and ``registrar_server``
#: are computed by :func:`load_configuration`).
DEFAULTS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "authorization_user": None,  # uri.user
        "connection_recovery_max_interval": 30.0,
        "connection_recovery_min_interval": 2.0,
        "display_name": None,
        "hack_ip_in_contact": False,
        "hack_via_tcp": False,
        "hack_via_ws": False,
        "instance_id": None,  # a random UUID (version 4)
        "no_answer_timeout": 60,
        "session_timers": True,
        "node_websocket_options": None,  # WebSocketOptions()
        "password": None,
        "register": True,
        "register_expires": 600,
        "registrar_server": None,  # uri without user, params and headers
        "use_preloaded_route": False,
        "realm": None,
        "ha1": None,
        "websocket_options": None,  # alias of node_websocket_options
        "session_timers_refresh_method": "UPDATE",
        "user_agent": f"websip/{__version__}",
        "keepalive_interval": 30.0,
        "keepalive_timeout": 10.0,
    }
)

# Names that JsSIP (other versions) or SIP.js users may bring along; each gets a
# precise explanation instead of a bare "unknown parameter".
_FOREIGN_PARAMETERS: Final = {
    "sockets": "JsSIP 3 takes socket objects; websip takes ws_servers (WebSocket URIs)",
    "contact_uri": "not supported: websip builds the Contact URI itself",
    "extra_headers": "not a UA parameter in websip",
    "authorization_jwt": "not supported by websip",
    "register_from_tag_trail": "not supported by websip",
    "session_timers_force_refresher": "not supported by websip",
    "via_host": "generated by websip (see Configuration.via_host); "
    "hack_ip_in_contact makes it an IP address",
    "ws_server_max_reconnection": "JsSIP 0.x parameter; use connection_recovery_min_interval "
    "and connection_recovery_max_interval",
    "ws_server_reconnection_timeout": "JsSIP 0.x parameter; use "
    "connection_recovery_min_interval and connection_recovery_max_interval",
}

# RFC 3261 20.19: delta-seconds is at most 2**32 - 1.
_MAX_DELTA_SECONDS: Final = 2**32 - 1

# Weights only order the servers; a bound keeps them plain ints.
_MAX_WEIGHT: Final = 2**31 - 1

_WS_DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}

# --------------------------------------------------------------------------
# Masking secrets
# --------------------------------------------------------------------------

_HIDDEN: Final = "<hidden>"


class _Masked(str):
    """A stand-in for a secret: equal to ``"<hidden>"``, shown without quotes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return _HIDDEN


_MASKED: Final = _Masked(_HIDDEN)

# Words that make a header or option name look like it carries a secret.
_SECRET_WORDS: Final = (
    "pass",
    "secret",
    "token",
    "auth",
    "cookie",
    "key",
    "ha1",
    "pfx",
    "credential",
)


def _looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _shown(name: str, value: Any) -> Any:
    """``value`` as it may appear in an error or a repr."""
    return _MASKED if _looks_secret(name) else value


# --------------------------------------------------------------------------
# Plain-data results
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WsServer:
    """One WebSocket server of ``ws_servers``, parsed.

    Build one with :meth:`from_uri`; it satisfies the ``WeightedServer``
    protocol of :mod:`websip.recovery`.
    """

    ws_uri: str
    """The URI exactly as given (``"wss://sip-ws.example.com:8443/sip?KEY=1234"``)."""
    weight: int = 0
    """Servers with a higher weight are tried first."""
    scheme: Literal["ws", "wss"]
    """``"ws"`` or ``"wss"`` (lower case)."""
    host: str
    """The host, lower-cased; an IPv6 address is in brackets."""
    port: int
    """The port; 80 for ``ws`` and 443 for ``wss`` when the URI has none."""
    path: str
    """The resource name: path and query (``"/sip?KEY=1234"``), ``"/"`` if empty."""
    sip_uri: str
    """The SIP URI of the server for a preloaded Route (``use_preloaded_route``):
    ``sip:HOST[:PORT];lr;transport=ws``, the port only when the WebSocket URI has one."""

    @classmethod
    def from_uri(cls, ws_uri: Any, weight: Any = 0, *, parameter: str = "ws_servers") -> WsServer:
        """Parse a ``ws://`` or ``wss://`` URI.

        Args:
            ws_uri: the WebSocket URI.
            weight: a whole number >= 0 (an int, integral float or digit string).
            parameter: the parameter named by errors.

        Raises:
            ConfigurationError: for ``parameter`` when ``ws_uri`` is not a valid
                WebSocket URI (other scheme, no host, bad port, user info or
                fragment) or ``weight`` is not a whole number >= 0.
        """
        weight = _integer(parameter, weight, minimum=0, maximum=_MAX_WEIGHT)
        if not isinstance(ws_uri, str):
            raise ConfigurationError(parameter, ws_uri, "a WebSocket URI must be a string")
        if _CONTROL_OR_SPACE_RE.search(ws_uri):
            raise ConfigurationError(parameter, ws_uri, "spaces or control characters in URI")
        try:
            parts = urlsplit(ws_uri)
            explicit_port = parts.port
        except ValueError as exc:
            raise ConfigurationError(parameter, ws_uri, str(exc)) from None
        scheme = parts.scheme.lower()
        if scheme != "ws" and scheme != "wss":
            raise ConfigurationError(parameter, ws_uri, "only ws:// and wss:// URIs are accepted")
        if "@" in parts.netloc:
            # A password here would end up in logs and reprs; handshake
            # credentials belong in node_websocket_options["headers"].
            raise ConfigurationError(parameter, ws_uri, "user info is not allowed in a ws_uri")
        if "#" in ws_uri:
            # RFC 6455 3: fragment identifiers are meaningless in WebSocket URIs.
            raise ConfigurationError(parameter, ws_uri, "a fragment (#...) is not allowed")
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if not host or not is_valid_host(host):
            raise ConfigurationError(parameter, ws_uri, "missing or invalid host")
        if explicit_port == 0:
            raise ConfigurationError(parameter, ws_uri, "port 0 is not a valid port")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        # spec: "Route: <sip:example.org:8443;lr;transport=ws>" (transport=ws
        # for wss too: RFC 7118 5.2 has no "wss" transport parameter).
        hostport = host if explicit_port is None else f"{host}:{explicit_port}"
        return cls(
            ws_uri=ws_uri,
            weight=weight,
            scheme="ws" if scheme == "ws" else "wss",
            host=host,
            port=_WS_DEFAULT_PORTS[scheme] if explicit_port is None else explicit_port,
            path=path,
            sip_uri=f"sip:{hostport};lr;transport=ws",
        )

    @property
    def secure(self) -> bool:
        """True for ``wss://``."""
        return self.scheme == "wss"

    @property
    def via_transport(self) -> str:
        """``"WSS"`` or ``"WS"`` (RFC 7118 5.1), before the ``hack_via_*`` parameters."""
        return self.scheme.upper()

    @property
    def route(self) -> str:
        """The preloaded Route header value: ``<sip:HOST[:PORT];lr;transport=ws>``."""
        return f"<{self.sip_uri}>"


@dataclass(frozen=True, kw_only=True)
class WebSocketOptions:
    """``node_websocket_options`` (alias ``websocket_options``) as plain data.

    Every field maps onto one argument of the ``websockets`` client (done by
    :mod:`websip.aio`); None means "the client's default". Node names in
    brackets are where each value comes from.
    """

    origin: str | None = None
    """The Origin header of the handshake (``origin``)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra handshake headers, in order (``headers``); a ``User-Agent`` here
    replaces ``user_agent`` in the handshake."""
    verify: bool = True
    """Verify the server certificate and name for ``wss://``
    (``requestOptions.rejectUnauthorized``)."""
    ca: tuple[str, ...] = ()
    """Trusted CA certificates, each a file path or PEM text (``ca``)."""
    cert: str | None = None
    """Client certificate file, PEM (``cert``)."""
    key: str | None = None
    """Private key file of ``cert``, PEM (``key``)."""
    passphrase: str | None = None
    """Password of ``key`` (``passphrase``); never shown."""
    server_hostname: str | None = None
    """TLS server name (SNI and verification) when not the URI host (``servername``)."""
    ssl_context: ssl.SSLContext | None = None
    """A ready :class:`ssl.SSLContext` (``requestOptions.ssl``, websip's own key);
    excludes ``verify``/``ca``/``cert``/``key``/``passphrase``."""
    proxy: str | Literal[True] | None = None
    """An HTTP(S) or SOCKS proxy URL, True to use the environment's proxy
    settings, None to connect directly (``requestOptions.proxy``)."""
    local_address: str | None = None
    """The local IP address to connect from (``requestOptions.localAddress``)."""
    open_timeout: float | None = None
    """Seconds allowed for TCP, TLS and the handshake (``requestOptions.timeout``, ms)."""
    close_timeout: float | None = None
    """Seconds to wait for the closing handshake (``clientConfig.closeTimeout``, ms)."""
    max_frame_size: int | None = None
    """Largest frame accepted, in bytes (``clientConfig.maxReceivedFrameSize``)."""
    max_message_size: int | None = None
    """Largest message accepted, in bytes (``clientConfig.maxReceivedMessageSize``)."""

    def __repr__(self) -> str:
        shown = []
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            if value == getattr(_DEFAULT_WEBSOCKET_OPTIONS, name):
                continue
            if name == "passphrase" or (name == "proxy" and "@" in str(value)):
                value = _MASKED
            elif name == "headers":
                value = tuple((n, _shown(n, v)) for n, v in value)
            shown.append(f"{name}={value!r}")
        return f"WebSocketOptions({', '.join(shown)})"


# The random source when none is given (one per process: a SystemRandom is 2.5 KB).
_SYSTEM_RANDOM: Final = _random.SystemRandom()
_DEFAULT_WEBSOCKET_OPTIONS: Final = WebSocketOptions()

_RefreshMethod = Literal["UPDATE", "INVITE"]


@dataclass(frozen=True, kw_only=True, repr=False)
class Configuration:
    """The checked, normalized, read-only configuration of a UA.

    Made by :func:`load_configuration`; ``UA.configuration`` is one. Assigning
    an attribute raises :class:`dataclasses.FrozenInstanceError`; the URI
    attributes return a fresh copy on each access, so the configuration cannot be
    changed through them either. ``repr()`` and :meth:`as_dict` hide secrets.
    """

    _uri: URI
    ws_servers: tuple[WsServer, ...]
    """The servers, in the order given (choose by weight: :mod:`websip.recovery`)."""
    authorization_user: str
    """The digest username; ``uri.user`` unless given."""
    connection_recovery_max_interval: float
    """Longest wait, in seconds, before a reconnection attempt."""
    connection_recovery_min_interval: float
    """Shortest wait, in seconds, before a reconnection attempt."""
    display_name: str | None
    """The display name, unquoted (written quoted and escaped, see :attr:`identity`)."""
    hack_ip_in_contact: bool
    hack_via_tcp: bool
    hack_via_ws: bool
    instance_id: str
    """The bare UUID (36 lower-case characters), given or generated."""
    no_answer_timeout: int
    """Seconds before an unanswered incoming call is rejected."""
    session_timers: bool
    session_timers_refresh_method: _RefreshMethod
    """``"UPDATE"`` or ``"INVITE"``: how this UA refreshes a session (RFC 4028)."""
    websocket_options: WebSocketOptions
    password: str | None
    realm: str | None
    ha1: str | None
    """A precomputed digest HA1 (lower-case hex), used when the challenge realm is
    :attr:`realm`."""
    register: bool
    register_expires: int
    _registrar_server: URI | None
    """None: the default, derived from ``_uri`` on access (a UA keeps one URI less)."""
    use_preloaded_route: bool
    user_agent: str
    """The User-Agent header value (SIP requests and the WebSocket handshake)."""
    keepalive_interval: float
    """Seconds between WebSocket pings; 0 disables them."""
    keepalive_timeout: float
    """Seconds to wait for a pong before the connection is considered lost."""
    via_host: str
    """The host of the Via sent-by and of the Contact URI: a random
    ``*.invalid`` name (RFC 7118 5), or a TEST-NET-1 address (RFC 5737)
    with ``hack_ip_in_contact``."""

    # -- derived views ----------------------------------------------------------

    @property
    def uri(self) -> URI:
        """The UA's SIP URI (a copy: changing it changes nothing here)."""
        return self._uri.copy()

    @property
    def registrar_server(self) -> URI:
        """The Request-URI of REGISTER (a copy)."""
        if self._registrar_server is not None:
            return self._registrar_server.copy()
        registrar = self._uri.copy()
        registrar.user = None
        registrar.clear_params()
        registrar.clear_headers()
        return registrar

    @property
    def node_websocket_options(self) -> WebSocketOptions:
        """The spec's name of :attr:`websocket_options`."""
        return self.websocket_options

    @property
    def identity(self) -> NameAddr:
        """The From address: ``"display name" <uri>`` (quoted and escaped by str())."""
        return NameAddr(self._uri.copy(), self.display_name)

    def _shared_identity(self) -> NameAddr:
        """:attr:`identity` around this configuration's own URI, not a copy.

        Private: it would let the URI be changed. For the UA's request makers,
        which copy it before any change; a UA then keeps one URI less.
        """
        return NameAddr(self._uri, self.display_name)

    @property
    def instance_urn(self) -> str:
        """``urn:uuid:<instance_id>``: the ``+sip.instance`` value (RFC 5626 4.1)."""
        return f"urn:uuid:{self.instance_id}"

    def via_transport(self, server: WsServer) -> str:
        """The Via transport to write when connected to ``server``.

        ``hack_via_tcp`` gives ``"TCP"``, else ``hack_via_ws`` gives ``"WS"``,
        else the server's own (``"WS"`` or ``"WSS"``), as JsSIP does.
        """
        if self.hack_via_tcp:
            return "TCP"
        if self.hack_via_ws:
            return "WS"
        return server.via_transport

    def as_dict(self) -> Mapping[str, Any]:
        """A read-only mapping of every parameter name to its normalized value.

        URIs are given as strings, ``password`` and ``ha1`` as ``"<hidden>"`` when
        set. ``websocket_options`` appears under ``node_websocket_options``, the
        spec's name.
        """
        values: dict[str, Any] = {}
        for name in PARAMETERS:
            if name == "websocket_options":
                continue
            if name == "node_websocket_options":
                values[name] = self.websocket_options
            elif name in ("uri", "registrar_server"):
                values[name] = str(getattr(self, name))
            elif name in ("password", "ha1"):
                values[name] = None if getattr(self, name) is None else _MASKED
            else:
                values[name] = getattr(self, name)
        return MappingProxyType(values)

    def __repr__(self) -> str:
        items = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"Configuration({items})"


# --------------------------------------------------------------------------
# Checks of single values
# --------------------------------------------------------------------------

# C0 controls and DEL: never valid in a header value (CR/LF would inject headers).
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_OR_SPACE_RE: Final = re.compile(r"[\x00-\x20\x7f]")
_INTEGER_TEXT_RE: Final = re.compile(r"\s*[+-]?[0-9]+\s*")
_NUMBER_TEXT_RE: Final = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*")
_SIP_SCHEME_RE: Final = re.compile(r"sips?:", re.IGNORECASE)
# uuid = hex8 "-" hex4 "-" hex4 "-" hex4 "-" hex12 (JsSIP's Grammar.pegjs)
_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# HA1 = H(username ":" realm ":" password): 32 hex digits for MD5, 64 for
# SHA-256 and SHA-512-256 (RFC 7616 3.4.2).
_HA1_RE: Final = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{64}")
# token (RFC 9110 5.6.2): the syntax of an HTTP header name.
_HTTP_TOKEN_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _is_empty(value: Any) -> bool:
    """JsSIP's ``Utils.isEmpty``: the values that mean "use the default"."""
    if value is None:
        return True
    return isinstance(value, str | list | tuple | Mapping) and len(value) == 0


def _check_boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(name, value, "must be True or False")
    return value


def _number(name: str, value: Any) -> float:
    """An int, a finite float or a numeric string, as a number."""
    if isinstance(value, bool):
        raise ConfigurationError(name, value, "must be a number, not a bool")
    number: float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str) and _NUMBER_TEXT_RE.fullmatch(value):
        number = float(value)
    else:
        raise ConfigurationError(name, value, "must be a number")
    try:
        finite = math.isfinite(number)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ConfigurationError(name, value, "must be a finite number")
    return number


def _integer(name: str, value: Any, *, minimum: int, maximum: int) -> int:
    """JsSIP's ``isDecimal`` rule: an int, an integral float or a string of digits."""
    if isinstance(value, str):
        if not _INTEGER_TEXT_RE.fullmatch(value):
            raise ConfigurationError(name, value, "must be a whole number")
        result = int(value)
    else:
        number = _number(name, value)
        if number != int(number):
            raise ConfigurationError(name, value, "must be a whole number")
        result = int(number)
    if result < minimum:
        raise ConfigurationError(name, value, f"must be at least {minimum}")
    if result > maximum:
        raise ConfigurationError(name, value, f"must be at most {maximum}")
    return result


def _seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    number = float(_number(name, value))
    if number < 0 or (number == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise ConfigurationError(name, value, f"must be {bound} seconds")
    return number


def _text(name: str, value: Any, *, numbers: bool = False) -> str:
    """A string without control characters (it goes into a header)."""
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        # JsSIP builds these by string concatenation: 1001 is "1001".
        value = str(value)
    if not isinstance(value, str):
        kind = "a string or an int" if numbers else "a string"
        raise ConfigurationError(name, value, f"must be {kind}")
    if _CONTROL_RE.search(value):
        raise ConfigurationError(name, value, "control characters (CR, LF, ...) are not allowed")
    return value


def _sip_uri(name: str, value: Any) -> URI:
    """A ``sip:``/``sips:`` URI; ``sip:`` is prepended when no scheme is given."""
    if isinstance(value, URI):
        uri = value.copy()
    elif isinstance(value, str):
        text = value if _SIP_SCHEME_RE.match(value) else "sip:" + value
        try:
            uri = URI.parse(text)
        except ParseError as exc:
            raise ConfigurationError(name, value, exc.reason) from None
    else:
        raise ConfigurationError(name, value, "must be a SIP URI (a string or a websip.URI)")
    if uri.scheme not in ("sip", "sips"):
        raise ConfigurationError(name, value, "must be a sip: or sips: URI")
    if not uri.host:
        raise ConfigurationError(name, value, "the URI has no host")
    if uri.password is not None:
        # It would be copied into From/To headers for everyone to read.
        raise ConfigurationError(name, value, "a password in the URI is not allowed")
    return uri


def _check_uri(name: str, value: Any) -> URI:
    uri = _sip_uri(name, value)
    if not uri.user:
        raise ConfigurationError(name, value, "the URI must have a user part")
    return uri


def _check_registrar_server(name: str, value: Any) -> URI:
    uri = _sip_uri(name, value)
    if uri.user is not None:
        raise ConfigurationError(name, value, "a registrar URI has no user part")
    return uri


def _check_ws_servers(name: str, value: Any) -> tuple[WsServer, ...]:
    # spec: a string, a list of strings or a list of {ws_uri, weight}; websip
    # also takes a single mapping, a tuple, and WsServer objects.
    items: list[Any] | tuple[Any, ...]
    if isinstance(value, str):
        return _servers_of_uri(name, value)
    if isinstance(value, Mapping | WsServer):
        items = [value]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ConfigurationError(
            name, value, "must be a WebSocket URI, or a list of URIs or of {ws_uri, weight}"
        )
    return tuple(_ws_server(name, item) for item in items)


@lru_cache(maxsize=64)
def _servers_of_uri(name: str, ws_uri: str) -> tuple[WsServer, ...]:
    """One parse per distinct URI: a process with 10,000 UAs of one server
    holds one WsServer (it is frozen), not 10,000."""
    return (WsServer.from_uri(ws_uri, parameter=name),)


def _ws_server(name: str, item: Any) -> WsServer:
    if isinstance(item, WsServer):
        return item
    if isinstance(item, str):
        return WsServer.from_uri(item, parameter=name)
    if not isinstance(item, Mapping):
        raise ConfigurationError(name, item, "each server is a URI string or {ws_uri, weight}")
    _check_keys(name, item, ("ws_uri", "weight"), "ws_servers entry")
    ws_uri = item.get("ws_uri")
    if _is_empty(ws_uri):
        raise ConfigurationError(name, item, "missing 'ws_uri'")
    weight = item.get("weight")
    return WsServer.from_uri(ws_uri, 0 if _is_empty(weight) else weight, parameter=name)


def _check_display_name(name: str, value: Any) -> str:
    text = _text(name, value, numbers=True)
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        # spec: "It must NOT be enclosed between double quotes"; websip always
        # writes it quoted and escaped (quotes inside the name are fine).
        raise ConfigurationError(
            name, value, "give the name without enclosing double quotes; websip adds them"
        )
    return text


def _check_instance_id(name: str, value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise ConfigurationError(name, value, "must be a UUID string")
    text = value
    for prefix in ("urn:uuid:", "uuid:"):
        if text[: len(prefix)].lower() == prefix:
            text = text[len(prefix) :]
            break
    if not _UUID_RE.fullmatch(text):
        raise ConfigurationError(name, value, "must be a UUID such as 'uuid:8f1fa16a-...'")
    return text.lower()


def _check_authorization_user(name: str, value: Any) -> str:
    return _text(name, value, numbers=True)


def _check_password(name: str, value: Any) -> str:
    # JsSIP: String(password); an int is what YAML makes of "password: 1234".
    return _text(name, value, numbers=True)


def _check_realm(name: str, value: Any) -> str:
    return _text(name, value)


def _check_ha1(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _HA1_RE.fullmatch(value):
        raise ConfigurationError(name, value, "must be 32 or 64 hexadecimal digits")
    return value.lower()


def _check_user_agent(name: str, value: Any) -> str:
    return _text(name, value)


def _check_refresh_method(name: str, value: Any) -> _RefreshMethod:
    method = value.upper() if isinstance(value, str) else None
    if method == "UPDATE":
        return "UPDATE"
    if method == "INVITE":
        return "INVITE"
    raise ConfigurationError(name, value, "must be 'UPDATE' or 'INVITE'")


def _check_recovery_interval(name: str, value: Any) -> float:
    return _seconds(name, value, allow_zero=False)


def _check_no_answer_timeout(name: str, value: Any) -> int:
    return _integer(name, value, minimum=1, maximum=_MAX_DELTA_SECONDS)


def _check_register_expires(name: str, value: Any) -> int:
    return _integer(name, value, minimum=1, maximum=_MAX_DELTA_SECONDS)


def _check_keepalive_interval(name: str, value: Any) -> float:
    return _seconds(name, value, allow_zero=True)


def _check_keepalive_timeout(name: str, value: Any) -> float:
    return _seconds(name, value, allow_zero=False)


# --------------------------------------------------------------------------
# node_websocket_options
# --------------------------------------------------------------------------

_NODE_KEYS: Final = ("origin", "headers", "requestOptions", "clientConfig")
_TLS_KEYS: Final = ("rejectUnauthorized", "ca", "cert", "key", "passphrase", "servername", "ssl")
_REQUEST_KEYS: Final = (*_TLS_KEYS, "proxy", "localAddress", "timeout")
_CLIENT_KEYS: Final = (
    "maxReceivedFrameSize",
    "maxReceivedMessageSize",
    "closeTimeout",
    "webSocketVersion",
    "tlsOptions",
)
_USE_KEEPALIVE = "websip sends WebSocket pings: use keepalive_interval and keepalive_timeout"
_NOT_IN_WEBSOCKETS = "not supported by websip's WebSocket client"
_KEY_HINTS: Final = {
    "agent": "there are no Node agents in Python; use requestOptions['proxy']",
    "headers": "handshake headers go in the top-level 'headers' key",
    "pfx": "PKCS#12 is not supported; give cert and key files, or an ssl.SSLContext as 'ssl'",
    "keepalive": _USE_KEEPALIVE,
    "keepaliveInterval": _USE_KEEPALIVE,
    "dropConnectionOnKeepaliveTimeout": _USE_KEEPALIVE,
    "keepaliveGracePeriod": _USE_KEEPALIVE,
    "fragmentOutgoingMessages": _NOT_IN_WEBSOCKETS,
    "fragmentationThreshold": _NOT_IN_WEBSOCKETS,
    "assembleFragments": _NOT_IN_WEBSOCKETS,
    "disableNagleAlgorithm": _NOT_IN_WEBSOCKETS,
}
# The handshake headers the WebSocket client writes itself (RFC 6455 4.1);
# Sec-WebSocket-Protocol is always "sip" (RFC 7118 4).
_RESERVED_HEADERS: Final = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "sec-websocket-accept",
    }
)
_PROXY_SCHEMES: Final = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def _check_keys(
    name: str, mapping: Mapping[Any, Any], allowed: tuple[str, ...], where: str
) -> None:
    """Refuse keys of ``mapping`` not in ``allowed``, with the best hint available."""
    for key in mapping:
        if key in allowed:
            continue
        key_text = str(key)
        hint = _KEY_HINTS.get(key_text)
        if hint is not None:
            # A Node option that has no Python counterpart (or lives elsewhere).
            reason = f"{key_text!r} in {where} is not supported: {hint}"
        else:
            close = difflib.get_close_matches(key_text, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "valid keys: " + ", ".join(allowed)
            reason = f"unknown key {key_text!r} in {where}; {hint}"
        raise ConfigurationError(name, _shown(key_text, mapping[key]), reason)


def _option_mapping(name: str, value: Any, where: str) -> Mapping[str, Any]:
    if _is_empty(value):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(name, value, f"{where} must be a mapping")
    return value


def _option_number(name: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(name, value, f"{where} must be a number")
    number = _number(name, value)
    if number < 0:
        raise ConfigurationError(name, value, f"{where} must not be negative")
    return float(number)


def _option_size(name: str, value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(name, value, f"{where} must be a positive int (bytes)")
    return value


def _option_text(name: str, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or _CONTROL_RE.search(value):
        raise ConfigurationError(name, _shown(where, value), f"{where} must be a non-empty string")
    return value


def _option_path(name: str, value: Any, where: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fsdecode(value)
    return _option_text(name, value, where)


def _ssl_context(name: str, value: Any, where: str) -> ssl.SSLContext:
    # Looked up, not imported: a context object implies ssl is loaded already.
    ssl_module = sys.modules.get("ssl")
    if ssl_module is None or not isinstance(value, ssl_module.SSLContext):
        raise ConfigurationError(name, value, f"{where} must be an ssl.SSLContext")
    context: ssl.SSLContext = value
    return context


def _origin(name: str, value: Any) -> str:
    origin = _option_text(name, value, "origin")
    if not origin.isascii():
        raise ConfigurationError(name, value, "origin must be ASCII (serialize IDNs with punycode)")
    return origin


def _headers(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    result: list[tuple[str, str]] = []
    for header, header_value in _option_mapping(name, value, "headers").items():
        if not isinstance(header, str) or not _HTTP_TOKEN_RE.fullmatch(header):
            raise ConfigurationError(name, header, "headers: invalid header name")
        lowered = header.lower()
        if lowered in _RESERVED_HEADERS:
            raise ConfigurationError(
                name, header, f"headers: {header} is set by the WebSocket handshake itself"
            )
        if lowered == "origin":
            raise ConfigurationError(name, header, "headers: give the Origin as 'origin'")
        values = header_value if isinstance(header_value, list | tuple) else [header_value]
        for item in values:
            if not isinstance(item, str) or _CONTROL_RE.search(item):
                raise ConfigurationError(
                    name,
                    _shown(header, item),
                    f"headers: the value of {header} must be a string without control characters",
                )
            result.append((header, item))
    return tuple(result)


def _ca(name: str, value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    result = []
    for item in items:
        if isinstance(item, bytes):
            # Node passes Buffers of PEM data; take them as PEM text.
            try:
                item = item.decode("ascii")
            except UnicodeDecodeError:
                raise ConfigurationError(name, item, f"{where} must be PEM text") from None
        if isinstance(item, str) and "-----BEGIN" in item:
            result.append(item)  # PEM text (load_verify_locations(cadata=...))
        else:
            result.append(_option_path(name, item, where))
    return tuple(result)


def _key_file(name: str, value: Any, where: str) -> str:
    path = _option_path(name, value, where)
    if "-----BEGIN" in path:
        # The ssl module loads certificates and keys from files only.
        raise ConfigurationError(name, _MASKED, f"{where} must be a file path, not PEM text")
    return path


def _proxy(name: str, value: Any) -> str | Literal[True] | None:
    if value is True:
        return True
    if value is False:
        return None
    text = _option_text(name, value, "requestOptions.proxy")
    # A proxy URL may carry credentials (user:password@): never show those.
    shown = _MASKED if "@" in text else text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ConfigurationError(name, shown, f"requestOptions.proxy: {exc}") from None
    if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname:
        raise ConfigurationError(
            name,
            shown,
            "requestOptions.proxy must be a URL with a scheme among " + ", ".join(_PROXY_SCHEMES),
        )
    return text


def _local_address(name: str, value: Any) -> str:
    text = _option_text(name, value, "requestOptions.localAddress")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ConfigurationError(
            name, value, "requestOptions.localAddress must be an IP address"
        ) from None


def _tls(name: str, options: Mapping[str, Any], where: str, out: dict[str, Any]) -> None:
    """Read the TLS keys of ``options`` (requestOptions or tlsOptions) into ``out``."""
    for key in _TLS_KEYS:
        value = options.get(key)
        if _is_empty(value):
            continue
        path = f"{where}.{key}"
        if key == "rejectUnauthorized":
            if not isinstance(value, bool):
                raise ConfigurationError(name, value, f"{path} must be True or False")
            out["verify"] = value
        elif key == "ca":
            out["ca"] = _ca(name, value, path)
        elif key == "cert" or key == "key":
            out[key] = _key_file(name, value, path)
        elif key == "passphrase":
            if not isinstance(value, str):
                raise ConfigurationError(name, _MASKED, f"{path} must be a string")
            out["passphrase"] = value
        elif key == "servername":
            out["server_hostname"] = _option_text(name, value, path)
        else:
            out["ssl_context"] = _ssl_context(name, value, path)


def _check_websocket_options(name: str, value: Any) -> WebSocketOptions:
    """Map Node's W3CWebSocket arguments onto :class:`WebSocketOptions`.

    ``W3CWebSocket(url, "sip", origin, headers, requestOptions, clientConfig)``:
    ``requestOptions`` are Node's http(s).request/tls.connect options and
    ``clientConfig`` the WebSocket-Node client settings, whose ``tlsOptions``
    override the TLS keys of ``requestOptions`` (as WebSocket-Node does).
    """
    if isinstance(value, WebSocketOptions):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            name, value, "must be a mapping with keys " + ", ".join(_NODE_KEYS)
        )
    _check_keys(name, value, _NODE_KEYS, name)
    out: dict[str, Any] = {}
    if not _is_empty(value.get("origin")):
        out["origin"] = _origin(name, value["origin"])
    out["headers"] = _headers(name, value.get("headers"))

    request = _option_mapping(name, value.get("requestOptions"), "requestOptions")
    _check_keys(name, request, _REQUEST_KEYS, "requestOptions")
    client = _option_mapping(name, value.get("clientConfig"), "clientConfig")
    _check_keys(name, client, _CLIENT_KEYS, "clientConfig")
    tls_options = _option_mapping(name, client.get("tlsOptions"), "clientConfig.tlsOptions")
    _check_keys(name, tls_options, _TLS_KEYS, "clientConfig.tlsOptions")

    _tls(name, request, "requestOptions", out)
    _tls(name, tls_options, "clientConfig.tlsOptions", out)
    if "ssl_context" in out:
        both = sorted(set(out) & {"verify", "ca", "cert", "key", "passphrase"})
        if both:
            raise ConfigurationError(
                name,
                out["ssl_context"],
                "an ssl.SSLContext excludes " + ", ".join(both) + ": configure the context",
            )
    if "key" in out and "cert" not in out:
        raise ConfigurationError(name, out["key"], "requestOptions.key needs cert")
    if "proxy" in request:
        out["proxy"] = _proxy(name, request["proxy"])
    if not _is_empty(request.get("localAddress")):
        out["local_address"] = _local_address(name, request["localAddress"])
    if request.get("timeout") is not None:
        milliseconds = _option_number(name, request["timeout"], "requestOptions.timeout")
        if milliseconds == 0:
            raise ConfigurationError(name, 0, "requestOptions.timeout must be more than 0 ms")
        out["open_timeout"] = milliseconds / 1000

    if client.get("maxReceivedFrameSize") is not None:
        out["max_frame_size"] = _option_size(
            name, client["maxReceivedFrameSize"], "clientConfig.maxReceivedFrameSize"
        )
    if client.get("maxReceivedMessageSize") is not None:
        out["max_message_size"] = _option_size(
            name, client["maxReceivedMessageSize"], "clientConfig.maxReceivedMessageSize"
        )
    if client.get("closeTimeout") is not None:
        out["close_timeout"] = (
            _option_number(name, client["closeTimeout"], "clientConfig.closeTimeout") / 1000
        )
    version = client.get("webSocketVersion")
    if version is not None and (isinstance(version, bool) or version != 13):
        # 8 was a draft; websockets speaks RFC 6455 (version 13) only.
        raise ConfigurationError(name, version, "clientConfig.webSocketVersion must be 13")
    return WebSocketOptions(**out)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

_CHECKS: Final[Mapping[str, Callable[[str, Any], Any]]] = {
    "uri": _check_uri,
    "ws_servers": _check_ws_servers,
    "authorization_user": _check_authorization_user,
    "connection_recovery_max_interval": _check_recovery_interval,
    "connection_recovery_min_interval": _check_recovery_interval,
    "display_name": _check_display_name,
    "hack_ip_in_contact": _check_boolean,
    "hack_via_tcp": _check_boolean,
    "hack_via_ws": _check_boolean,
    "instance_id": _check_instance_id,
    "no_answer_timeout": _check_no_answer_timeout,
    "session_timers": _check_boolean,
    "node_websocket_options": _check_websocket_options,
    "password": _check_password,
    "register": _check_boolean,
    "register_expires": _check_register_expires,
    "registrar_server": _check_registrar_server,
    "use_preloaded_route": _check_boolean,
    "realm": _check_realm,
    "ha1": _check_ha1,
    "websocket_options": _check_websocket_options,
    "session_timers_refresh_method": _check_refresh_method,
    "user_agent": _check_user_agent,
    "keepalive_interval": _check_keepalive_interval,
    "keepalive_timeout": _check_keepalive_timeout,
}

_TOKEN_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def _unknown_parameter(name: str, value: Any) -> ConfigurationError:
    reason = _FOREIGN_PARAMETERS.get(name)
    if reason is None:
        close = difflib.get_close_matches(name, PARAMETERS, n=1)
        reason = "unknown parameter" + (f"; did you mean {close[0]!r}?" if close else "")
        # A misspelt "password" must not print the password.
        if close and close[0] in ("password", "ha1"):
            value = _MASKED
    return ConfigurationError(name, _shown(name, value), reason)


def load_configuration(
    params: Mapping[str, Any] | None = None,
    /,
    *,
    rng: _random.Random | None = None,
    **kwargs: Any,
) -> Configuration:
    """Check and normalize UA configuration parameters.

    Args:
        params: the parameters, by their names in ``spec/ua-configuration.txt``.
        rng: the random source for the generated values (``instance_id`` when not
            given, ``via_host``); a :class:`random.SystemRandom` by default. Tests
            pass a seeded :class:`random.Random` to pin them.
        **kwargs: more parameters; they override those of ``params``.

    Returns:
        The frozen :class:`Configuration`; hand it to the UA.

    Raises:
        ConfigurationError: a parameter is unknown, missing or has a bad value.
        TypeError: ``params`` is not a mapping, or a name is not a string.
    """
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"configuration must be a mapping, not {type(params).__name__}")
    raw: dict[str, Any] = dict(params or {})
    raw.update(kwargs)
    for name, value in raw.items():
        if not isinstance(name, str):
            raise TypeError(f"configuration parameter names are strings, not {name!r}")
        if name not in _CHECKS:
            raise _unknown_parameter(name, value)
    given = {name: value for name, value in raw.items() if not _is_empty(value)}

    for name in MANDATORY:
        if name not in given:
            raise ConfigurationError(name, raw.get(name), "mandatory parameter missing")
    if "node_websocket_options" in given and "websocket_options" in given:
        raise ConfigurationError(
            "websocket_options",
            given["websocket_options"],
            "give node_websocket_options or its alias websocket_options, not both",
        )

    # Check in reference order, so the first bad parameter is reported first.
    values: dict[str, Any] = dict(DEFAULTS)
    for name, check in _CHECKS.items():
        if name in given:
            values[name] = check(name, given[name])

    # Sanity checks across parameters.
    if values["connection_recovery_max_interval"] < values["connection_recovery_min_interval"]:
        raise ConfigurationError(
            "connection_recovery_max_interval",
            raw.get("connection_recovery_max_interval", values["connection_recovery_max_interval"]),
            "must not be less than connection_recovery_min_interval "
            f"({values['connection_recovery_min_interval']:g})",
        )
    if values["ha1"] is not None and values["realm"] is None:
        # JsSIP uses ha1 only for a challenge of the same realm: without one it
        # would silently never be used.
        raise ConfigurationError("realm", raw.get("realm"), "realm is needed with ha1")

    # Derived values (JsSIP's "post configuration").
    uri: URI = values["uri"]
    if values["authorization_user"] is None:
        values["authorization_user"] = uri.user
    # None: the default (uri without user, params and headers), made on access.
    registrar = values["registrar_server"]
    generator = rng if rng is not None else _SYSTEM_RANDOM
    instance_id = values["instance_id"]
    if instance_id is None:
        instance_id = str(uuid.UUID(int=generator.getrandbits(128), version=4))
    if values["hack_ip_in_contact"]:
        # RFC 5737 TEST-NET-1, as JsSIP's getRandomTestNetIP.
        via_host = f"192.0.2.{generator.randint(1, 254)}"
    else:
        # RFC 7118 5: the UA has no reachable address; RFC 6761 reserves .invalid.
        via_host = "".join(generator.choice(_TOKEN_ALPHABET) for _ in range(12)) + ".invalid"
    options = values["node_websocket_options"] or values["websocket_options"]

    return Configuration(
        _uri=uri,
        ws_servers=values["ws_servers"],
        authorization_user=values["authorization_user"],
        connection_recovery_max_interval=float(values["connection_recovery_max_interval"]),
        connection_recovery_min_interval=float(values["connection_recovery_min_interval"]),
        display_name=values["display_name"],
        hack_ip_in_contact=values["hack_ip_in_contact"],
        hack_via_tcp=values["hack_via_tcp"],
        hack_via_ws=values["hack_via_ws"],
        instance_id=instance_id,
        no_answer_timeout=values["no_answer_timeout"],
        session_timers=values["session_timers"],
        session_timers_refresh_method=values["session_timers_refresh_method"],
        websocket_options=options or _DEFAULT_WEBSOCKET_OPTIONS,
        password=values["password"],
        realm=values["realm"],
        ha1=values["ha1"],
        register=values["register"],
        register_expires=values["register_expires"],
        _registrar_server=registrar,
        use_preloaded_route=values["use_preloaded_route"],
        user_agent=values["user_agent"],
        keepalive_interval=float(values["keepalive_interval"]),
        keepalive_timeout=float(values["keepalive_timeout"]),
        via_host=via_host,
    )
