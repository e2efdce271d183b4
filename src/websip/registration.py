"""The REGISTER usage (RFC 3261 10) with outbound (RFC 5626) and GRUU (RFC 5627).

Sans-I/O: a :class:`Registration` builds REGISTER requests and sends them through
a :class:`~websip.core.Core`; the UA gives it back the core's events for its
transactions (:meth:`Registration.owns`) and its deadlines, and gets
:class:`RegistrationEvent` values in return. It never touches a clock: every
entry point that needs the time takes ``now``.

Theory of operation
-------------------
One Call-ID for the life of the usage and a CSeq that only grows (RFC 3261
10.2.4: a registrar orders the REGISTERs of one Call-ID by CSeq, so a stale one
can never undo a newer one). The core answers 401/407 by itself and re-sends with
the next CSeq; the request carried by each :class:`~websip.events.ResponseReceived`
is the one actually sent, and the next REGISTER continues from the highest CSeq
seen.

One REGISTER transaction at a time. A :meth:`Registration.register` while a
REGISTER is in flight joins it (JsSIP ignores the call; here it returns the id of
the transaction in flight). Any other request made while one is in flight (an
un-REGISTER during a REGISTER, or the reverse) is queued and sent as soon as the
one in flight ends: two REGISTERs of one Call-ID in flight at once could cross
their 401 round trips, and a registrar that saw the older CSeq last would
resurrect a binding that was just removed. A later request of the other kind
replaces a queued one: the last wish wins.

Outcomes are JsSIP's: a 2xx gives :class:`Registered`; 423 Interval Too Brief is
retried at once with the registrar's Min-Expires and only the final outcome is
reported; any other failure gives :class:`RegistrationFailed`, followed by
:class:`Unregistered` when a binding was believed to exist (JsSIP emits both).
An un-REGISTER always ends in :class:`Unregistered` (with a cause when it failed).

Refresh: see :func:`refresh_delay`. At the refresh point :meth:`handle_timer`
gives :class:`RegistrationExpiring`; the UA (or its application) decides to
refresh by calling :meth:`Registration.register`. If nobody does, the binding
expires and :meth:`handle_timer` gives ``Unregistered(cause=causes.EXPIRES)``.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import causes
from .core import Core
from .events import RequestFailed, ResponseReceived
from .exceptions import ParseError
from .messaging import anonymous_uri, check_extra_headers
from .sip import URI, NameAddr, Request, Response

__all__ = [
    "REGISTER_SUPPORTED",
    "Gruu",
    "Registered",
    "Registration",
    "RegistrationEvent",
    "RegistrationExpiring",
    "RegistrationFailed",
    "RegistrationState",
    "Unregistered",
    "refresh_delay",
]

logger = logging.getLogger("websip.registration")

REGISTER_SUPPORTED = "path, gruu, outbound"
"""The Supported value of every REGISTER, as JsSIP sends it: Path (RFC 3327) so
that an edge proxy may record itself, ``gruu`` (RFC 5627 4.1) to be given GRUUs,
``outbound`` (RFC 5626 4.2) for flow-aware registration."""

# Successive 423 answers followed before giving up (each must raise the interval).
_MAX_INTERVAL_RETRIES = 3

# A UUID URN (RFC 4122) or any other URN: no quote, angle bracket or whitespace,
# since it is written as +sip.instance="<URN>" (RFC 5626 4.1).
_URN_RE = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[^\s\"<>\\]+", re.IGNORECASE)
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class RegistrationState(enum.Enum):
    """Where the usage stands; REGISTERING also covers a refresh of a live binding
    (:attr:`Registration.is_registered` stays True during it)."""

    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    UNREGISTERING = "unregistering"


class Gruu:
    """The GRUUs the registrar assigned to our binding (RFC 5627 4.2).

    Read-only. Kept as text and parsed on each access (each access returns a
    fresh :class:`~websip.sip.URI`): a registered UA holds its GRUUs for the
    life of the binding, and two parsed URIs cost it more memory than
    everything else in its registration.
    """

    __slots__ = ("_pub", "_temp")
    _pub: str | None
    _temp: str | None

    def __init__(
        self, *, pub_gruu: URI | str | None = None, temp_gruu: URI | str | None = None
    ) -> None:
        # Written back from a parsed URI, so that equal GRUUs compare equal.
        object.__setattr__(self, "_pub", _canonical(pub_gruu))
        object.__setattr__(self, "_temp", _canonical(temp_gruu))

    @property
    def pub_gruu(self) -> URI | None:
        """The public GRUU: stable, reveals the AoR."""
        return URI.parse(self._pub) if self._pub is not None else None

    @property
    def temp_gruu(self) -> URI | None:
        """The temporary GRUU: for requests that must not reveal the AoR."""
        return URI.parse(self._temp) if self._temp is not None else None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Gruu is read-only ({name})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Gruu):
            return NotImplemented
        return (self._pub, self._temp) == (other._pub, other._temp)

    def __hash__(self) -> int:
        return hash((self._pub, self._temp))

    def __repr__(self) -> str:
        return f"Gruu(pub_gruu={self._pub!r}, temp_gruu={self._temp!r})"


def _canonical(uri: URI | str | None) -> str | None:
    if uri is None:
        return None
    return str(URI.parse(uri) if isinstance(uri, str) else uri)


@dataclass(frozen=True, kw_only=True, slots=True)
class RegistrationEvent:
    """Base class of what :class:`Registration` reports."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Registered(RegistrationEvent):
    """A 2xx to our REGISTER: the binding exists for ``expires`` seconds."""

    response: Response
    expires: int
    """The interval the registrar granted (RFC 3261 10.2.4)."""
    gruu: Gruu | None = None
    refreshed: bool = False
    """True when the binding already existed (a refresh): JsSIP emits its
    ``registered`` event only when this is False."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Unregistered(RegistrationEvent):
    """The binding is gone: an un-REGISTER ended (cause None on a 2xx), or a
    failure, a lost connection or an expiry ended a live binding."""

    response: Response | None = None
    cause: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RegistrationFailed(RegistrationEvent):
    """A REGISTER ended without a binding (a :mod:`websip.causes` value)."""

    cause: str
    response: Response | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RegistrationExpiring(RegistrationEvent):
    """The refresh point has come: call :meth:`Registration.register` to refresh."""


def refresh_delay(expires: float, margin: float = 32.0) -> float:
    """Seconds after a 2xx at which to refresh a binding granted for ``expires``.

    ``expires - min(expires / 2, margin)``: the refresh goes ``margin`` seconds
    before expiry, where ``margin`` is Timer F (64*T1, 32 s by default), the
    longest a REGISTER transaction can last, so that even a refresh that meets a
    slow registrar or a 401 round trip ends before the binding does. Short
    bindings (under twice the margin) are refreshed halfway instead, so the
    refresh point is never at or after expiry, whatever ``expires`` is. Unlike
    JsSIP, no random jitter: the deadline is exact and testable, and UAs started
    together are already spread by their connection times.
    """
    return expires - min(expires / 2, margin)


@dataclass(kw_only=True)
class _Request:
    """A REGISTER (or un-REGISTER) in flight, or waiting for the one in flight."""

    unregister: bool
    all: bool = False
    extra: list[tuple[str, str]] = field(default_factory=list)
    transaction_id: str = ""
    interval_retries: int = 0


class Registration:
    """The REGISTER usage of one AoR at one registrar.

    Args:
        core: the core that sends the requests (its ``new_tag``/``new_call_id``
            give tags and the Call-ID; its Timer F sets the refresh margin).
        registrar: the Request-URI of every REGISTER (RFC 3261 10.2: the domain).
        aor: the address-of-record, written in From and To (display name kept).
        contact_uri: the URI to bind (JsSIP: ``sip:RANDOM@RANDOM.invalid;transport=ws``).
        expires: the interval to ask for (RFC 3261 10.2.1.1), raised by a 423.
        instance_urn: the ``+sip.instance`` (RFC 5626 4.1), a URN or a bare UUID;
            None: neither ``+sip.instance`` nor ``reg-id`` (no outbound, no GRUU).
        reg_id: the ``reg-id`` of the flow (RFC 5626 4.2), or None.
        extra_contact_params: ``"name=value"`` or ``"name"`` parameters added to
            the Contact of every REGISTER (JsSIP's ``extraContactParams``).
        route: preloaded Route header values (RFC 3261 8.1.2).
        extra_headers: ``"Name: value"`` lines added to every REGISTER.

    Raises:
        ValueError: a bad expires, URN, reg-id, Contact parameter, Route or header
            (:class:`websip.ParseError` is a ValueError).
    """

    # Slots: thousands of UAs share one process (see bench/README.md).
    __slots__ = (
        "_contact_extra",
        "_contact_flags",
        "_core",
        "_expires_at",
        "_pending",
        "_queued",
        "_refresh_at",
        "_registered",
        "_registrar",
        "aor",
        "call_id",
        "contact_uri",
        "cseq",
        "expires",
        "extra_headers",
        "gruu",
        "instance_urn",
        "outbound",
        "reg_id",
        "requested_expires",
        "route",
    )

    def __init__(
        self,
        core: Core,
        *,
        registrar: URI,
        aor: NameAddr,
        contact_uri: URI,
        expires: int = 600,
        instance_urn: str | None = None,
        reg_id: int | None = 1,
        extra_contact_params: Sequence[str] = (),
        route: Sequence[str] = (),
        extra_headers: Sequence[str] = (),
    ) -> None:
        if isinstance(expires, bool) or not isinstance(expires, int) or expires <= 0:
            raise ValueError(f"expires must be a positive number of seconds, not {expires!r}")
        if reg_id is not None and (
            isinstance(reg_id, bool) or not isinstance(reg_id, int) or not 1 <= reg_id <= 2**31 - 1
        ):
            raise ValueError(f"reg_id must be an integer from 1 to 2**31-1, not {reg_id!r}")
        self._core = core
        self.registrar = registrar  # kept as text (see the property)
        self.aor = aor
        self.contact_uri = contact_uri
        self.instance_urn = _normalize_urn(instance_urn)
        # RFC 5626 4.2: reg-id only goes with +sip.instance.
        self.reg_id = reg_id if self.instance_urn is not None else None
        self._contact_flags, self._contact_extra = self._build_contact_params(extra_contact_params)
        for value in route:
            NameAddr.parse(value, "Route")  # raises ParseError (CR/LF included)
        self.route: Sequence[str] = tuple(route)
        self.extra_headers: Sequence[tuple[str, str]] = tuple(check_extra_headers(extra_headers))
        self.call_id = core.new_call_id()  # RFC 3261 10.2.4: one Call-ID for all
        self.cseq = 0
        self.requested_expires = expires
        self.expires: int | None = None
        """The interval granted by the last 2xx (None before one)."""
        self.gruu: Gruu | None = None
        """The GRUUs of the live binding (None when unregistered or none given)."""
        self.outbound = False
        """The registrar uses outbound for our flow: its 2xx says ``Require:
        outbound``, or ``Supported: outbound`` to a REGISTER with reg-id."""
        self._registered = False
        self._pending: _Request | None = None
        self._queued: _Request | None = None
        self._refresh_at: float | None = None
        self._expires_at: float | None = None

    # -- state -------------------------------------------------------------------

    @property
    def state(self) -> RegistrationState:
        if self._pending is not None:
            if self._pending.unregister:
                return RegistrationState.UNREGISTERING
            return RegistrationState.REGISTERING
        return RegistrationState.REGISTERED if self._registered else RegistrationState.UNREGISTERED

    @property
    def registrar(self) -> URI:
        """The Request-URI of every REGISTER (a fresh URI on each access)."""
        return URI.parse(self._registrar)

    @registrar.setter
    def registrar(self, value: URI) -> None:
        # Text: a registered UA keeps it for its whole life, a parsed URI costs 350 bytes.
        self._registrar = str(value)

    @property
    def is_registered(self) -> bool:
        """A binding is believed to exist (True during its refresh)."""
        return self._registered

    def owns(self, transaction_id: str) -> bool:
        """Whether a core event with this transaction id belongs to this usage."""
        return self._pending is not None and self._pending.transaction_id == transaction_id

    # -- commands ----------------------------------------------------------------

    def register(self, now: float, extra_headers: Sequence[str] | None = None) -> str:
        """Send a REGISTER (first one or refresh); returns its transaction id.

        ``extra_headers`` are added to this REGISTER (and its 423 retry) besides
        the usage's own. While a REGISTER is in flight this joins it (its id is
        returned, ``extra_headers`` are ignored); while an un-REGISTER is in
        flight the REGISTER is queued behind it (that one's id is returned).
        """
        extra = check_extra_headers(extra_headers)
        pending = self._pending
        if pending is not None:
            if pending.unregister:
                self._queued = _Request(unregister=False, extra=extra)
            else:
                self._queued = None  # the REGISTER in flight does what was queued
            return pending.transaction_id
        return self._send(_Request(unregister=False, extra=extra), now)

    def unregister(
        self, now: float, *, all: bool = False, extra_headers: Sequence[str] | None = None
    ) -> str:
        """Remove our binding (``all``: every binding of the AoR, RFC 3261 10.2.2).

        Allowed in any state (``all=True`` clears bindings left by an earlier
        run). As in JsSIP, :attr:`is_registered` is False from the moment the
        un-REGISTER is sent; the outcome is :class:`Unregistered`. Queued behind
        a request in flight, except when an un-REGISTER that covers it is in
        flight already (its id is returned then).
        """
        extra = check_extra_headers(extra_headers)
        pending = self._pending
        if pending is not None:
            if pending.unregister and (pending.all or not all):
                self._queued = None
            else:
                self._queued = _Request(unregister=True, all=all, extra=extra)
            return pending.transaction_id
        return self._send(_Request(unregister=True, all=all, extra=extra), now)

    # -- input -------------------------------------------------------------------

    def handle_event(
        self, event: ResponseReceived | RequestFailed, now: float
    ) -> list[RegistrationEvent]:
        """Take a core event of one of our transactions; returns what it means."""
        pending = self._pending
        if pending is None or event.transaction_id != pending.transaction_id:
            return []
        # After a 401/407 inside the core, the request sent last has a higher CSeq.
        self.cseq = max(self.cseq, event.request.cseq.seq)
        if isinstance(event, RequestFailed):
            self._pending = None
            if pending.unregister:
                events = self._unregistered(event.response, event.cause)
            else:
                events = self._failed(event.cause, event.response)
            self._send_queued(now)
            return events
        response = event.response
        status = response.status_code
        if status < 200:
            return []  # provisional: nothing to report (JsSIP ignores them too)
        self._pending = None
        if pending.unregister:
            cause = None if status < 300 else causes.cause_for_status(status)
            events = self._unregistered(response, cause)
        elif status < 300:
            events = self._on_success(response, now)
        elif status == 423 and self._retry_interval(pending, response, now):
            return []
        else:
            events = self._failed(causes.cause_for_status(status), response)
        self._send_queued(now)
        return events

    def connection_lost(self) -> list[RegistrationEvent]:
        """The transport is gone: the binding is unusable (RFC 5626: the flow is).

        A REGISTER in flight fails and a live binding ends, both with
        CONNECTION_ERROR; an un-REGISTER in flight ends in :class:`Unregistered`.
        A queued request is dropped (the UA registers again once reconnected).
        Safe to call when the core's RequestFailed events came first.
        """
        pending, self._pending, self._queued = self._pending, None, None
        events: list[RegistrationEvent] = []
        if pending is not None and pending.unregister:
            events.append(Unregistered(response=None, cause=causes.CONNECTION_ERROR))
        elif pending is not None:
            events.append(RegistrationFailed(cause=causes.CONNECTION_ERROR, response=None))
        events += self._lose_binding(None, causes.CONNECTION_ERROR)
        return events

    # -- time --------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The next deadline: the refresh point, else the binding's expiry."""
        deadlines = [d for d in (self._refresh_at, self._expires_at) if d is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> list[RegistrationEvent]:
        """At the refresh point: :class:`RegistrationExpiring`; at expiry (no
        refresh came in time): ``Unregistered(cause=EXPIRES)``."""
        events: list[RegistrationEvent] = []
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            events.append(RegistrationExpiring())
        if self._expires_at is not None and now >= self._expires_at:
            events += self._lose_binding(None, causes.EXPIRES)
        return events

    # -- contact -----------------------------------------------------------------

    def contact_for_requests(self, anonymous: bool = False) -> NameAddr:
        """The Contact for our other requests (INVITE, SUBSCRIBE, ...), as JsSIP.

        The public GRUU once the registrar gave one (RFC 5627 4.4), the temporary
        GRUU for an anonymous request; else the contact URI (for an anonymous
        request ``sip:anonymous@anonymous.invalid``), with ``;ob`` while outbound
        is in use, so that in-dialog requests come back over this flow (RFC 5626
        4.3).
        """
        gruu = self.gruu
        if anonymous:
            temp = gruu.temp_gruu if gruu is not None else None
            if temp is not None:
                return NameAddr(temp)
            uri = anonymous_uri()
            transport = self.contact_uri.get_param("transport")
            if transport is not None:
                uri.set_param("transport", transport)
        elif gruu is not None and gruu._pub is not None:
            return NameAddr(URI.parse(gruu._pub))
        else:
            uri = self.contact_uri.copy()
        if self.outbound:
            uri.set_param("ob")
        return NameAddr(uri)

    # -- internals: output ---------------------------------------------------------

    def _build_contact_params(self, extra_contact_params: Sequence[str]) -> tuple[str, str]:
        """The Contact parameters before ``expires`` (ours) and after it (the
        caller's, where JsSIP writes them)."""
        if isinstance(extra_contact_params, str):
            raise TypeError("extra_contact_params is a list of 'name=value' strings")
        # RFC 5768: +sip.ice says we do ICE; RFC 5626 4.2: reg-id and
        # +sip.instance ask for outbound; RFC 5627 4.1: +sip.instance asks for GRUU.
        flags = ";+sip.ice"
        if self.reg_id is not None:
            flags += f";reg-id={self.reg_id}"
        if self.instance_urn is not None:
            flags += f';+sip.instance="<{self.instance_urn}>"'
        extra = ""
        for param in extra_contact_params:
            param = param.strip().lstrip(";")
            name = param.partition("=")[0].strip().lower()
            if name in ("expires", "reg-id", "+sip.instance", "+sip.ice"):
                raise ValueError(f"Contact parameter {name!r} is set by the registration")
            extra += f";{param}"
        # Parsed once here so that a bad parameter fails at construction.
        NameAddr.parse(f"<{self.contact_uri}>{flags};expires=1{extra}", "Contact")
        return flags, extra

    def _send(self, request: _Request, now: float) -> str:
        expires = 0 if request.unregister else self.requested_expires
        if request.all:
            contact = "*"  # RFC 3261 10.2.2: "*" with Expires 0, nothing else
        else:
            contact = (
                f"<{self.contact_uri}>{self._contact_flags};expires={expires}{self._contact_extra}"
            )
        sender = self.aor.copy()
        sender.set_param("tag", self._core.new_tag())
        recipient = self.aor.copy()
        recipient.delete_param("tag")
        self.cseq += 1
        headers: list[tuple[str, str]] = [("Route", value) for value in self.route]
        headers += [
            ("To", str(recipient)),
            ("From", str(sender)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", contact),
            ("Expires", str(expires)),  # RFC 3261 10.2.1.1, and JsSIP writes both
            ("Supported", REGISTER_SUPPORTED),
        ]
        headers += self.extra_headers
        headers += request.extra
        if request.unregister:
            # As in JsSIP, the binding counts as gone from the moment we ask.
            self._clear_binding()
        else:
            self._refresh_at = None  # this is the refresh
        request.transaction_id = self._core.send_request(
            Request("REGISTER", URI.parse(self._registrar), headers), now
        )
        self._pending = request
        return request.transaction_id

    def _send_queued(self, now: float) -> None:
        queued, self._queued = self._queued, None
        if queued is not None:
            self._send(queued, now)

    # -- internals: outcomes -------------------------------------------------------

    def _retry_interval(self, pending: _Request, response: Response, now: float) -> bool:
        """RFC 3261 10.2.8: 423 Interval Too Brief: retry with Min-Expires at once
        when it is above what we asked (else the registrar makes no sense)."""
        try:
            minimum = response.parse_header("Min-Expires")
        except ParseError:
            minimum = None
        if (
            minimum is None
            or minimum <= self.requested_expires
            or pending.interval_retries >= _MAX_INTERVAL_RETRIES
        ):
            logger.info("423 with unusable Min-Expires %r: registration failed", minimum)
            return False
        self.requested_expires = minimum
        retry = _Request(
            unregister=False, extra=pending.extra, interval_retries=pending.interval_retries + 1
        )
        self._send(retry, now)
        return True

    def _on_success(self, response: Response, now: float) -> list[RegistrationEvent]:
        binding = self._find_binding(response)
        # RFC 3261 10.2.4: the expires parameter of our Contact in the 2xx, else
        # the Expires header field, else (JsSIP's fallback) what we asked for.
        expires = binding.expires if binding is not None else None
        if expires is None:
            expires = _header_int(response, "Expires")
        if expires is None:
            if binding is None:
                logger.info("2xx to REGISTER lists no binding of ours")
            expires = self.requested_expires
        if expires == 0:
            # A 2xx that grants nothing: no binding, whatever the status says.
            return self._failed(causes.SIP_FAILURE_CODE, response)
        refreshed = self._registered
        self._registered = True
        self.expires = expires
        self._refresh_at = now + refresh_delay(expires, self._core.timers.timer_f())
        self._expires_at = now + expires
        self.gruu = _gruu_of(binding) if binding is not None else None
        self.outbound = self._outbound_in(response)
        return [Registered(response=response, expires=expires, gruu=self.gruu, refreshed=refreshed)]

    def _find_binding(self, response: Response) -> NameAddr | None:
        """Our Contact among all those of the 2xx (a registrar lists every binding
        of the AoR, RFC 3261 10.3 step 8): by +sip.instance and reg-id (RFC 5626
        6), else by URI (RFC 3261 19.1.4, so added ``alias`` parameters do not
        matter)."""
        contacts: list[NameAddr] = []
        for index in range(len(response.get_headers("Contact"))):
            try:
                contact = response.parse_header("Contact", index)
            except ParseError:
                continue
            if isinstance(contact, NameAddr):  # not "*"
                contacts.append(contact)
        if self.instance_urn is not None:
            for contact in contacts:
                instance = contact.get_param("+sip.instance")
                if instance is None or instance.strip("<>").lower() != self.instance_urn.lower():
                    continue
                if self.reg_id is None or contact.get_param("reg-id") == str(self.reg_id):
                    return contact
        for contact in contacts:
            if contact.uri == self.contact_uri:
                return contact
        return None

    def _outbound_in(self, response: Response) -> bool:
        # RFC 5626 6: the registrar puts "outbound" in Require when it applied
        # outbound procedures; Kamailio always says Supported: outbound, which
        # counts only when we asked (reg-id and +sip.instance present).
        if "outbound" in _tokens(response, "Require"):
            return True
        return self.reg_id is not None and "outbound" in _tokens(response, "Supported")

    def _failed(self, cause: str, response: Response | None) -> list[RegistrationEvent]:
        events: list[RegistrationEvent] = [RegistrationFailed(cause=cause, response=response)]
        return events + self._lose_binding(response, cause)

    def _unregistered(
        self, response: Response | None, cause: str | None
    ) -> list[RegistrationEvent]:
        self._clear_binding()
        return [Unregistered(response=response, cause=cause)]

    def _lose_binding(self, response: Response | None, cause: str) -> list[RegistrationEvent]:
        """A live binding ends by failure: Unregistered, as JsSIP reports it."""
        if not self._registered:
            return []
        self._clear_binding()
        return [Unregistered(response=response, cause=cause)]

    def _clear_binding(self) -> None:
        self._registered = False
        self.gruu = None
        self.outbound = False
        self._refresh_at = None
        self._expires_at = None


def _normalize_urn(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"instance_urn must be a string, not {value!r}")
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    if _UUID_RE.fullmatch(text):
        return f"urn:uuid:{text.lower()}"
    if _URN_RE.fullmatch(text) is None:
        raise ValueError(f"instance_urn must be a URN (urn:uuid:...) or a UUID, not {value!r}")
    return text


def _header_int(response: Response, name: str) -> int | None:
    try:
        value = response.parse_header(name)
    except ParseError:
        return None
    return value if isinstance(value, int) else None


def _tokens(response: Response, name: str) -> set[str]:
    try:
        return {token.lower() for token in response.get_token_list(name)}
    except ParseError:
        return set()


def _gruu_of(binding: NameAddr) -> Gruu | None:
    """RFC 5627 4.2: pub-gruu and temp-gruu are quoted URIs in our Contact."""
    pub = _uri_param(binding, "pub-gruu")
    temp = _uri_param(binding, "temp-gruu")
    if pub is None and temp is None:
        return None
    return Gruu(pub_gruu=pub, temp_gruu=temp)


def _uri_param(contact: NameAddr, name: str) -> URI | None:
    value = contact.get_param(name)
    if not value:
        return None
    try:
        return URI.parse(value.strip('"'))  # checked here; Gruu keeps the text
    except ParseError:
        logger.info("ignored malformed %s %r", name, value)
        return None
