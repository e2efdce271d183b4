"""websip: a SIP user agent over WebSocket (RFC 7118) with WebRTC media, for asyncio.

The public names are listed in ``__all__`` (checked by a test). The protocol core
is sans-I/O; the asyncio shell lives in :mod:`websip.aio`.
"""

from __future__ import annotations

from . import causes
from ._version import __version__
from .exceptions import (
    ConfigurationError,
    LocalProtocolError,
    MessageTooLargeError,
    ParseError,
    RemoteProtocolError,
    RequestError,
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

__all__ = [
    "URI",
    "CSeq",
    "Challenge",
    "ConfigurationError",
    "Credentials",
    "LocalProtocolError",
    "Message",
    "MessageTooLargeError",
    "NameAddr",
    "ParseError",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "Response",
    "Via",
    "WebsipError",
    "__version__",
    "causes",
    "normalize_target",
    "parse_header",
    "parse_message",
]
