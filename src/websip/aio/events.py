"""Payloads of the UA's events (``ua.on(name, handler)``): frozen dataclasses.

Names are the snake_case of JsSIP's (``newMessage`` -> ``new_message``); fields
follow JsSIP's event data (``originator``, ``request``, ``response``, ``cause``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from websip.sip import Request, Response

if TYPE_CHECKING:
    from .ua import IncomingRequest, OutgoingMessage

__all__ = [
    "UA_EVENTS",
    "ConnectedEvent",
    "ConnectingEvent",
    "DisconnectedEvent",
    "NewMessageEvent",
    "NewOptionsEvent",
    "NewRTCSessionEvent",
    "RegisteredEvent",
    "RegistrationExpiringEvent",
    "RegistrationFailedEvent",
    "SipEvent",
    "UnregisteredEvent",
]

Originator = Literal["local", "remote", "system"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectingEvent:
    server: str
    """The ``ws_uri`` being tried."""
    attempts: int
    """1 for the first attempt since the last successful connection."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectedEvent:
    server: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DisconnectedEvent:
    server: str
    error: bool
    """False for a close we asked for (``ua.stop()``), True otherwise."""
    cause: str | None
    """A :mod:`websip.causes` constant (CONNECTION_ERROR) when ``error``."""
    code: int | None = None
    """The WebSocket close code, when one was received (1006: no close frame)."""
    reason: str = ""
    """Why, in words (the close reason or the failure)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisteredEvent:
    response: Response


@dataclass(frozen=True, kw_only=True, slots=True)
class UnregisteredEvent:
    response: Response | None
    cause: str | None = None
    """None after our own un-REGISTER; CONNECTION_ERROR, ... otherwise."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RegistrationFailedEvent:
    cause: str
    response: Response | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RegistrationExpiringEvent:
    """The registration is about to expire; with a listener, the UA leaves the
    refresh to it (call ``ua.register()``), as JsSIP does."""


@dataclass(frozen=True, kw_only=True, slots=True)
class NewMessageEvent:
    originator: Originator
    message: IncomingRequest | OutgoingMessage
    request: Request


@dataclass(frozen=True, kw_only=True, slots=True)
class NewOptionsEvent:
    originator: Originator
    options: IncomingRequest
    request: Request


@dataclass(frozen=True, kw_only=True, slots=True)
class NewRTCSessionEvent:
    originator: Originator
    session: Any
    """The :class:`websip.RTCSession`."""
    request: Request


@dataclass(frozen=True, kw_only=True, slots=True)
class SipEvent:
    """An out-of-dialog NOTIFY (JsSIP's ``sipEvent``); answered 200 by the UA."""

    event: str
    request: Request


UA_EVENTS = frozenset(
    {
        "connecting",
        "connected",
        "disconnected",
        "registered",
        "unregistered",
        "registration_failed",
        "registration_expiring",
        "new_rtc_session",
        "new_message",
        "new_options",
        "sip_event",
    }
)
