"""The SIP syntax layer: URIs, typed header values and messages. No state, no I/O."""

from __future__ import annotations

from websip.exceptions import MessageTooLargeError, ParseError

# Last: the C accelerator's hooks go into the modules above (see _accel).
from . import _accel  # noqa: F401
from .headers import (
    WILDCARD,
    Challenge,
    ContentDisposition,
    Credentials,
    CSeq,
    Event,
    MediaType,
    MinSE,
    NameAddr,
    RAck,
    Reason,
    Replaces,
    RetryAfter,
    SessionExpires,
    SubscriptionState,
    Via,
    Warning,
    format_date,
    parse_header,
    split_list,
)
from .message import (
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    REASON_PHRASES,
    Message,
    Request,
    Response,
    parse_message,
)
from .uri import URI, normalize_target

__all__ = [
    "MAX_HEADERS",
    "MAX_LINE_LENGTH",
    "MAX_MESSAGE_SIZE",
    "REASON_PHRASES",
    "URI",
    "WILDCARD",
    "CSeq",
    "Challenge",
    "ContentDisposition",
    "Credentials",
    "Event",
    "MediaType",
    "Message",
    "MessageTooLargeError",
    "MinSE",
    "NameAddr",
    "ParseError",
    "RAck",
    "Reason",
    "Replaces",
    "Request",
    "Response",
    "RetryAfter",
    "SessionExpires",
    "SubscriptionState",
    "Via",
    "Warning",
    "format_date",
    "normalize_target",
    "parse_header",
    "parse_message",
    "split_list",
]
