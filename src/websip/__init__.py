"""websip: a SIP user agent over WebSocket (RFC 7118) with WebRTC media, for asyncio.

The public names are listed in ``__all__`` (checked by a test). The protocol core
is sans-I/O; the asyncio shell lives in :mod:`websip.aio`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import causes
from ._version import __version__
from .exceptions import (
    ConfigurationError,
    LocalProtocolError,
    MessageTooLargeError,
    ParseError,
    RemoteProtocolError,
    RequestError,
    TransportError,
    WebsipError,
)
from .sip import (
    URI,
    Challenge,
    Credentials,
    CSeq,
    Message,
    NameAddr,
    Request,
    Response,
    Via,
    normalize_target,
    parse_header,
    parse_message,
)

if TYPE_CHECKING:
    from .aio.events import (
        ConnectedEvent,
        ConnectingEvent,
        DisconnectedEvent,
        NewMessageEvent,
        NewOptionsEvent,
        NewRTCSessionEvent,
        RegisteredEvent,
        RegistrationExpiringEvent,
        RegistrationFailedEvent,
        SipEvent,
        UnregisteredEvent,
    )
    from .aio.session import RTCSession
    from .aio.ua import UA, IncomingRequest, OutgoingMessage

# The asyncio shell is imported on first use, so that ``import websip.sip`` (or
# the core) never loads asyncio or websockets (DESIGN.md 1).
_LAZY = {
    "UA": "websip.aio.ua",
    "RTCSession": "websip.aio.session",
    "IncomingRequest": "websip.aio.ua",
    "OutgoingMessage": "websip.aio.ua",
    "ConnectedEvent": "websip.aio.events",
    "ConnectingEvent": "websip.aio.events",
    "DisconnectedEvent": "websip.aio.events",
    "NewMessageEvent": "websip.aio.events",
    "NewOptionsEvent": "websip.aio.events",
    "NewRTCSessionEvent": "websip.aio.events",
    "RegisteredEvent": "websip.aio.events",
    "RegistrationExpiringEvent": "websip.aio.events",
    "RegistrationFailedEvent": "websip.aio.events",
    "SipEvent": "websip.aio.events",
    "UnregisteredEvent": "websip.aio.events",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'websip' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "UA",
    "URI",
    "CSeq",
    "Challenge",
    "ConfigurationError",
    "ConnectedEvent",
    "ConnectingEvent",
    "Credentials",
    "DisconnectedEvent",
    "IncomingRequest",
    "LocalProtocolError",
    "Message",
    "MessageTooLargeError",
    "NameAddr",
    "NewMessageEvent",
    "NewOptionsEvent",
    "NewRTCSessionEvent",
    "OutgoingMessage",
    "ParseError",
    "RTCSession",
    "RegisteredEvent",
    "RegistrationExpiringEvent",
    "RegistrationFailedEvent",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "Response",
    "SipEvent",
    "TransportError",
    "UnregisteredEvent",
    "Via",
    "WebsipError",
    "__version__",
    "causes",
    "normalize_target",
    "parse_header",
    "parse_message",
]
