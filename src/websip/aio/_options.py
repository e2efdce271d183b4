"""The WebSocket client's options, and how the configuration becomes them.

:class:`~websip.config.WebSocketOptions` is plain data (the sans-I/O side may
not load ``ssl``); here it turns into what :class:`WebSocketTransport` passes to
``websockets``, following the table in ``docs/configuration.md``. The TLS
context is built once, when the options are made, so a missing CA file or a
wrong key passphrase is reported as a configuration error at ``start()``
rather than as a connection failure on every reconnection.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from websip.config import Configuration, WebSocketOptions
from websip.exceptions import ConfigurationError

__all__ = ["TransportOptions", "build_ssl_context", "transport_options_from_config"]

# The websockets client's own defaults, used when the configuration says nothing.
DEFAULT_OPEN_TIMEOUT = 10.0
DEFAULT_CLOSE_TIMEOUT = 10.0
DEFAULT_MAX_SIZE = 1024 * 1024

_PARAMETER = "node_websocket_options"


@dataclass(frozen=True, kw_only=True)
class TransportOptions:
    """Everything :class:`~websip.aio.transport.WebSocketTransport` is told.

    Made from the configuration by :func:`transport_options_from_config`, or
    directly (``UA(..., transport_options=...)``) to bypass it.
    """

    origin: str | None = None
    """The ``Origin`` header of the handshake; None sends none."""
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    """Extra handshake headers; pairs allow a name twice. A ``User-Agent``
    here wins over :attr:`user_agent`."""
    ssl: ssl.SSLContext | None = None
    """TLS context for ``wss://`` servers; None: Python's default context, which
    verifies the certificate and the host name. Unused for ``ws://``."""
    server_hostname: str | None = None
    """TLS server name (SNI and verification) instead of the URI host."""
    proxy: str | Literal[True] | None = None
    """Proxy URL; True: from the environment; None: connect directly."""
    local_address: str | None = None
    """Local IP address to connect from; None lets the system choose."""
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT
    """Seconds for TCP, TLS and the handshake together; None: no limit."""
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT
    """Seconds to wait for the closing handshake before aborting; None: no limit."""
    max_size: int | None = DEFAULT_MAX_SIZE
    """Largest incoming message, bytes; None: no limit."""
    max_frame_size: int | None = None
    """Largest incoming frame, bytes; None: only :attr:`max_size` applies."""
    keepalive_interval: float | None = 30.0
    """Seconds between WebSocket pings; None or 0 turns keep-alive off."""
    keepalive_timeout: float | None = 10.0
    """Seconds a pong may take before the connection counts as dead; None: no
    deadline (pings are then only traffic that keeps NAT bindings open)."""
    user_agent: str | None = None
    """The ``User-Agent`` of the handshake; None sends none."""


def transport_options_from_config(config: Configuration) -> TransportOptions:
    """The transport options a UA with ``config`` uses.

    Raises:
        ConfigurationError: a CA, certificate or key cannot be loaded (for
            ``node_websocket_options``; the passphrase is never shown).
    """
    ws = config.websocket_options
    needs_tls = any(server.secure for server in config.ws_servers)
    key = (ws, needs_tls, config.keepalive_interval, config.keepalive_timeout, config.user_agent)
    try:
        hash(key)
    except TypeError:  # an unhashable value somewhere in the options: no sharing
        return _make_options(*key)
    return _shared_options(*key)


def _make_options(
    ws: WebSocketOptions,
    needs_tls: bool,
    interval: float,
    keepalive_timeout: float,
    user_agent: str,
) -> TransportOptions:
    has_user_agent = any(name.lower() == "user-agent" for name, _ in ws.headers)
    if ws.max_message_size is not None:
        max_size: int | None = ws.max_message_size
    elif ws.max_frame_size is not None:
        max_size = ws.max_frame_size
    else:
        max_size = DEFAULT_MAX_SIZE
    return TransportOptions(
        origin=ws.origin,
        headers=ws.headers,
        ssl=build_ssl_context(ws) if needs_tls else None,
        server_hostname=ws.server_hostname,
        proxy=ws.proxy,
        local_address=ws.local_address,
        open_timeout=ws.open_timeout if ws.open_timeout is not None else DEFAULT_OPEN_TIMEOUT,
        close_timeout=ws.close_timeout if ws.close_timeout is not None else DEFAULT_CLOSE_TIMEOUT,
        max_size=max_size,
        max_frame_size=ws.max_frame_size,
        keepalive_interval=interval if interval > 0 else None,
        keepalive_timeout=keepalive_timeout,
        user_agent=None if has_user_agent else user_agent,
    )


# UAs configured alike share one TransportOptions, and with it one TLS
# context (a failure to load one is raised again, never cached).
_shared_options = lru_cache(maxsize=64)(_make_options)


def build_ssl_context(options: WebSocketOptions) -> ssl.SSLContext:
    """The TLS context for ``wss://``: verifying unless ``verify`` is False.

    ``ca`` replaces the system's trusted certificates (as Node's ``ca`` does);
    without it the system's are used. A given ``ssl_context`` is used as is.
    """
    if options.ssl_context is not None:
        return options.ssl_context
    try:
        if options.ca:
            # An empty client context (it verifies by default) + only the given CAs.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            for item in options.ca:
                _load_ca(context, item)
        else:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    except (OSError, ValueError) as exc:
        # ssl.SSLError is an OSError: a file that is not PEM, or PEM that is not a certificate.
        raise ConfigurationError(
            _PARAMETER, _shown_ca(options.ca), f"requestOptions.ca cannot be loaded: {exc}"
        ) from None
    if options.cert is not None:
        try:
            context.load_cert_chain(options.cert, options.key, password=options.passphrase)
        except (OSError, ValueError) as exc:
            # Never echo the passphrase; the error text of ssl does not contain it.
            raise ConfigurationError(
                _PARAMETER,
                options.cert,
                f"requestOptions.cert/key cannot be loaded (wrong file or passphrase?): {exc}",
            ) from None
    if not options.verify:
        # requestOptions.rejectUnauthorized = false: the explicit opt-out.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_ca(context: ssl.SSLContext, item: str) -> None:
    if "-----BEGIN" in item:
        context.load_verify_locations(cadata=item)
    elif os.path.isdir(item):
        context.load_verify_locations(capath=item)
    else:
        context.load_verify_locations(cafile=item)


def _shown_ca(ca: tuple[str, ...]) -> object:
    return tuple("<PEM>" if "-----BEGIN" in item else item for item in ca)
