"""The INVITE usage (RFC 3261 13-15) with its extensions, one object per call.

Sans-I/O: an :class:`InviteSession` drives a :class:`~websip.core.Core`
directly (``send_request``, ``send_response``, ``cancel``, ``send_ack``,
``add_dialog``/``remove_dialog``). The UA hands it the core's events that belong
to it (:meth:`InviteSession.owns_event`) and calls :meth:`~InviteSession.handle_timer`
at :meth:`~InviteSession.get_timer`. SDP is opaque bytes: the session only
knows who owes whom an answer (RFC 3264 offer/answer, as RFC 6337 spells it
out), never what the SDP says.

Theory of operation
-------------------
*What the application sees.* Every entry point queues typed
:class:`SessionEvent` values; :meth:`InviteSession.take_events` drains them
(``handle_event`` and ``handle_timer`` return them too). They map one to one
onto the public RTCSession events: :class:`Progress` -> ``progress``,
:class:`Accepted` -> ``accepted``, :class:`Confirmed` -> ``confirmed``,
:class:`Ended` -> ``ended``, :class:`Failed` -> ``failed``, :class:`RemoteSdp`
-> ``sdp``, :class:`ReinviteReceived` -> ``reinvite``, :class:`UpdateReceived`
-> ``update``, :class:`InfoReceived` -> ``new_info``, :class:`DtmfReceived` ->
``new_dtmf``, :class:`ReferReceived` / :class:`ReferResponded` /
:class:`ReferProgress` -> ``refer``. Causes are JsSIP's
(:mod:`websip.causes`).

*The call's state* is :class:`SessionState` (JsSIP's ``STATUS_*`` names) and
moves only through :data:`TRANSITIONS`, ``(state, input) -> state``. A local
input the table lacks (``answer()`` on an outgoing call, ``terminate()`` twice)
raises :class:`~websip.exceptions.LocalProtocolError`; a remote one (a late
1xx, a BYE after the end) is dropped and logged. The two other pieces of state
that JsSIP spread over booleans are machines of their own: who owes an SDP
answer (:class:`Negotiation`), and the session timer (interval + who refreshes).

*Outgoing* (UAC): :meth:`InviteSession.outgoing` sends the INVITE. A 1xx with a
To tag makes an early dialog per tag (forking, RFC 3261 13.2.2.4); a reliable
one (RFC 3262) is PRACKed in its dialog. The first 2xx confirms its dialog and
is ACKed (a retransmission of it, which the core passes up per RFC 6026, is
ACKed again); a 2xx from another fork is ACKed and BYEd at once. A 401/407 is
answered inside the core; 422 (RFC 4028) is retried with the larger interval.
``terminate()`` before a final response asks the core to CANCEL (it waits for a
provisional response first, RFC 3261 9.1) and reports ``Failed(CANCELED)`` at
once, as JsSIP does; a 2xx that crosses the CANCEL is ACKed and BYEd.

*Incoming* (UAS): :meth:`InviteSession.incoming` checks the INVITE and builds
the early dialog (the transaction layer has sent 100 Trying already). The UA
then calls :meth:`~InviteSession.ringing` (180, or 183 with early SDP; reliable
when the caller supports 100rel), :meth:`~InviteSession.answer` or
:meth:`~InviteSession.terminate`. The no-answer timer rejects with 408 (JsSIP's
choice, cause NO_ANSWER); an ``Expires`` on the INVITE gives 487 (EXPIRES). A
2xx waits for the PRACK of a reliable 1xx that carried SDP (RFC 3262 3). The
callee never sends BYE before the ACK (RFC 3261 15): a ``terminate()`` in
WAITING_FOR_ACK reports ``Ended`` now and sends the BYE when the ACK comes (or
the core gives up on it).

*Within the dialog*: re-INVITE and UPDATE both ways (the app answers or rejects
a received offer; glare gets 491, or 500 with Retry-After, RFC 3261 14.2 / RFC
3311 5.2, and our own 491 is retried after RFC 3261 14.1's random back-off),
INFO (``application/dtmf-relay`` becomes :class:`DtmfReceived`), REFER with its
implicit subscription (RFC 3515: NOTIFY with ``message/sipfrag``), session
timers (RFC 4028), BYE. An offer byte-identical to the last one received is a
session refresh (RFC 3264 8: an unchanged version means an unchanged SDP): it
is answered with our last SDP and reported as :class:`SessionRefreshed` only,
so the media layer is not asked to renegotiate every 45 seconds.

Left out on purpose: offers in reliable provisional responses (we never send
one, and an offer in a received one is not answered in the PRACK), and a 2xx
whose SDP differs from an earlier early-media answer (the first answer wins).
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from . import causes
from .core import Core
from .dialog import Dialog, DialogId, DialogState, dialog_id_for_incoming, dialog_id_for_response
from .events import (
    AckReceived,
    AckTimedOut,
    Event,
    RequestCancelled,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
)
from .exceptions import LocalProtocolError, ParseError, RemoteProtocolError
from .messaging import anonymous_uri
from .sip import URI, NameAddr, Replaces, Request, Response

__all__ = [
    "DEFAULT_MIN_SE",
    "DEFAULT_SESSION_EXPIRES",
    "TRANSITIONS",
    "Accepted",
    "Confirmed",
    "DtmfReceived",
    "Ended",
    "Failed",
    "InfoAnswered",
    "InfoReceived",
    "InviteSession",
    "Negotiation",
    "Progress",
    "ReferProgress",
    "ReferReceived",
    "ReferResponded",
    "ReinviteReceived",
    "RemoteSdp",
    "RenegotiationFailed",
    "RenegotiationSucceeded",
    "SessionEvent",
    "SessionInput",
    "SessionRefreshed",
    "SessionState",
    "UpdateReceived",
    "split_refer_to",
    "transition",
]

logger = logging.getLogger("websip.invite")

SDP: Final = "application/sdp"
DTMF_RELAY: Final = "application/dtmf-relay"
SIPFRAG: Final = "message/sipfrag"
# RFC 4028 4: "The recommended value for the Session-Expires is 1800 seconds";
# JsSIP sends 90 (its C.SESSION_EXPIRES), and 90 s is also the floor of 5
# ("Min-SE ... MUST NOT be less than 90 seconds").
DEFAULT_SESSION_EXPIRES: Final = 90
DEFAULT_MIN_SE: Final = 90
# JsSIP's DTMF bounds (RTCSession/DTMF.js): duration in milliseconds.
DTMF_MIN_DURATION: Final = 70
DTMF_MAX_DURATION: Final = 6000
DTMF_DEFAULT_DURATION: Final = 100
_DTMF_TONES: Final = frozenset("0123456789ABCD#*")
# Successive 422 answers followed before giving up (each must raise the interval).
_MAX_422_RETRIES: Final = 3
# RFC 3515 3.4.4 / RFC 6665: the implicit subscription's lifetime in our NOTIFYs.
_REFER_SUBSCRIPTION_EXPIRES: Final = 60

Originator = Literal["local", "remote", "system"]
SdpType = Literal["offer", "answer"]
HeaderList = Iterable[tuple[str, str]]


# -- the state machine -------------------------------------------------------------


class SessionState(enum.Enum):
    """The call's state (JsSIP's RTCSession ``STATUS_*``, RFC 3261 13)."""

    NULL = "Null"
    INVITE_SENT = "Invite sent"
    PROVISIONAL_RECEIVED = "1xx received"
    INVITE_RECEIVED = "Invite received"
    WAITING_FOR_ANSWER = "Waiting for answer"
    ANSWERED = "Answered"
    """Incoming: answer() was called, the 2xx waits for a PRACK (RFC 3262 3).
    Outgoing: a 2xx carried an offer, the ACK waits for our answer."""
    WAITING_FOR_ACK = "Waiting for ACK"
    CONFIRMED = "Confirmed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"


class SessionInput(enum.Enum):
    """What moves a :class:`SessionState`: ``SEND_*``/``RECV_*`` and local decisions."""

    SEND_INVITE = "INVITE sent"
    RECV_1XX = "1xx received"
    RECV_2XX = "2xx received"
    RECV_2XX_OFFER = "2xx with an offer received"
    SEND_ACK = "ACK sent (late answer)"
    RECV_FAILURE = "300-699 received"
    SEND_CANCEL = "CANCEL requested"
    RECV_INVITE = "INVITE received"
    ACCEPT_INVITE = "INVITE found acceptable"
    ANSWER = "answer given"
    SEND_2XX = "2xx sent"
    RECV_ACK = "ACK received"
    REJECT = "300-699 sent"
    RECV_CANCEL = "CANCEL received"
    RECV_BYE = "BYE received"
    SEND_BYE = "BYE sent"
    FAIL = "failure (transport, timeout, no ACK, expiry)"


_S, _In = SessionState, SessionInput

# RFC 3261 13 from both ends, in JsSIP's names:
#
#  UAC:  NULL --INVITE--> INVITE_SENT --1xx--> PROVISIONAL_RECEIVED
#          \                 |   \                  |        |
#           \           2xx  |    terminate()       | 2xx    | 300-699
#            \               v     v                v        v
#             \          CONFIRMED  CANCELED    CONFIRMED  TERMINATED
#  UAS:  NULL --INVITE--> INVITE_RECEIVED --ok--> WAITING_FOR_ANSWER --answer--> ANSWERED
#          --2xx sent--> WAITING_FOR_ACK --ACK--> CONFIRMED --BYE--> TERMINATED
#
# CANCELED and TERMINATED are the two ends; CANCELED still takes the final
# response of the cancelled INVITE (a 487, or a 2xx that crossed the CANCEL).
TRANSITIONS: Final[Mapping[tuple[SessionState, SessionInput], SessionState]] = MappingProxyType(
    {
        (_S.NULL, _In.SEND_INVITE): _S.INVITE_SENT,
        (_S.NULL, _In.RECV_INVITE): _S.INVITE_RECEIVED,
        # -- UAC, before the final response --------------------------------
        (_S.INVITE_SENT, _In.RECV_1XX): _S.PROVISIONAL_RECEIVED,
        (_S.INVITE_SENT, _In.RECV_2XX): _S.CONFIRMED,
        (_S.INVITE_SENT, _In.RECV_2XX_OFFER): _S.ANSWERED,
        (_S.INVITE_SENT, _In.RECV_FAILURE): _S.TERMINATED,
        (_S.INVITE_SENT, _In.SEND_CANCEL): _S.CANCELED,
        (_S.INVITE_SENT, _In.FAIL): _S.TERMINATED,
        (_S.PROVISIONAL_RECEIVED, _In.RECV_1XX): _S.PROVISIONAL_RECEIVED,
        (_S.PROVISIONAL_RECEIVED, _In.RECV_2XX): _S.CONFIRMED,
        (_S.PROVISIONAL_RECEIVED, _In.RECV_2XX_OFFER): _S.ANSWERED,
        (_S.PROVISIONAL_RECEIVED, _In.RECV_FAILURE): _S.TERMINATED,
        (_S.PROVISIONAL_RECEIVED, _In.SEND_CANCEL): _S.CANCELED,
        (_S.PROVISIONAL_RECEIVED, _In.FAIL): _S.TERMINATED,
        # RFC 3261 9.1: the INVITE may still end in a 2xx (ACK + BYE) or a 487.
        (_S.CANCELED, _In.RECV_1XX): _S.CANCELED,
        (_S.CANCELED, _In.RECV_2XX): _S.CANCELED,
        (_S.CANCELED, _In.RECV_FAILURE): _S.CANCELED,
        (_S.CANCELED, _In.FAIL): _S.CANCELED,
        # -- UAS, before the final response ------------------------------------
        (_S.INVITE_RECEIVED, _In.ACCEPT_INVITE): _S.WAITING_FOR_ANSWER,
        (_S.INVITE_RECEIVED, _In.REJECT): _S.TERMINATED,
        (_S.WAITING_FOR_ANSWER, _In.ANSWER): _S.ANSWERED,
        (_S.WAITING_FOR_ANSWER, _In.REJECT): _S.TERMINATED,
        (_S.WAITING_FOR_ANSWER, _In.RECV_CANCEL): _S.CANCELED,
        # RFC 3261 15: "The caller's UA MAY send a BYE for either confirmed or
        # early dialogs"; the INVITE then gets 487.
        (_S.WAITING_FOR_ANSWER, _In.RECV_BYE): _S.TERMINATED,
        (_S.WAITING_FOR_ANSWER, _In.FAIL): _S.TERMINATED,
        # ANSWERED is shared: the UAS holding its 2xx for a PRACK, the UAC
        # holding its ACK for the answer to the 2xx's offer.
        (_S.ANSWERED, _In.SEND_2XX): _S.WAITING_FOR_ACK,
        (_S.ANSWERED, _In.SEND_ACK): _S.CONFIRMED,
        (_S.ANSWERED, _In.REJECT): _S.TERMINATED,
        (_S.ANSWERED, _In.RECV_CANCEL): _S.CANCELED,
        (_S.ANSWERED, _In.RECV_BYE): _S.TERMINATED,
        (_S.ANSWERED, _In.SEND_BYE): _S.TERMINATED,
        (_S.ANSWERED, _In.RECV_2XX): _S.ANSWERED,
        (_S.ANSWERED, _In.FAIL): _S.TERMINATED,
        # -- established ------------------------------------------------------
        (_S.WAITING_FOR_ACK, _In.RECV_ACK): _S.CONFIRMED,
        (_S.WAITING_FOR_ACK, _In.RECV_BYE): _S.TERMINATED,
        (_S.WAITING_FOR_ACK, _In.SEND_BYE): _S.TERMINATED,
        (_S.WAITING_FOR_ACK, _In.FAIL): _S.TERMINATED,
        # RFC 6026 7.2: 2xx retransmissions reach the TU, which ACKs them again.
        (_S.CONFIRMED, _In.RECV_2XX): _S.CONFIRMED,
        (_S.CONFIRMED, _In.RECV_BYE): _S.TERMINATED,
        (_S.CONFIRMED, _In.SEND_BYE): _S.TERMINATED,
        (_S.CONFIRMED, _In.FAIL): _S.TERMINATED,
    }
)

_REMOTE_INPUTS: Final = frozenset(
    {
        _In.RECV_1XX,
        _In.RECV_2XX,
        _In.RECV_2XX_OFFER,
        _In.RECV_FAILURE,
        _In.RECV_ACK,
        _In.RECV_CANCEL,
        _In.RECV_BYE,
    }
)

_ENDED: Final = frozenset({SessionState.CANCELED, SessionState.TERMINATED})
_EARLY_UAS: Final = frozenset(
    {SessionState.WAITING_FOR_ANSWER, SessionState.ANSWERED, SessionState.INVITE_RECEIVED}
)
_ESTABLISHED: Final = frozenset({SessionState.WAITING_FOR_ACK, SessionState.CONFIRMED})


def transition(state: SessionState, event: SessionInput) -> SessionState:
    """The state :data:`TRANSITIONS` gives ``state`` on ``event``.

    Raises:
        LocalProtocolError: the table has no such transition.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LocalProtocolError(
            f"a call in state {state.value!r} cannot take {event.value!r}"
        ) from None


class Negotiation(enum.Enum):
    """Who owes an SDP answer (RFC 3264 4, RFC 6337 2)."""

    STABLE = "stable"
    LOCAL_OFFER = "local offer"  # we sent an offer, the answer is pending
    REMOTE_OFFER = "remote offer"  # we received an offer and have not answered


# -- events ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionEvent:
    """Base class of the INVITE usage's events."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Progress(SessionEvent):
    """A provisional response: received (outgoing call) or sent by :meth:`InviteSession.ringing`."""

    originator: Originator
    response: Response | None
    sdp: bytes | None = None
    """Early media SDP carried by the response, if any."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Accepted(SessionEvent):
    """The call was answered: the 2xx received (outgoing) or sent (incoming)."""

    originator: Originator
    response: Response


@dataclass(frozen=True, kw_only=True, slots=True)
class Confirmed(SessionEvent):
    """The ACK of the 2xx: sent by us (outgoing) or received (incoming)."""

    originator: Originator
    ack: Request | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Ended(SessionEvent):
    """An established call ended (BYE, timeouts, errors)."""

    originator: Originator
    cause: str
    message: Request | Response | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Failed(SessionEvent):
    """A call ended before it was established."""

    originator: Originator
    cause: str
    message: Request | Response | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoteSdp(SessionEvent):
    """SDP from the peer. Apply an ``answer`` at once; an ``offer`` is also carried
    by the event that asks for a decision (the INVITE: :attr:`InviteSession.remote_offer`;
    :class:`ReinviteReceived`, :class:`UpdateReceived`; a late-offer 2xx: answer
    with :meth:`InviteSession.acknowledge`)."""

    type: SdpType
    sdp: bytes
    message: Request | Response


@dataclass(frozen=True, kw_only=True, slots=True)
class ReinviteReceived(SessionEvent):
    """A re-INVITE that changes the session: call ``answer_reinvite`` or ``reject_reinvite``.

    With ``sdp`` None the peer asks for our offer (the 2xx carries it, the ACK the answer).
    """

    request: Request
    sdp: bytes | None


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateReceived(SessionEvent):
    """An UPDATE with an offer (RFC 3311): call ``answer_update`` or ``reject_update``."""

    request: Request
    sdp: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class RenegotiationSucceeded(SessionEvent):
    """Our re-INVITE or UPDATE got a 2xx (its answer came first as :class:`RemoteSdp`)."""

    method: str
    response: Response


@dataclass(frozen=True, kw_only=True, slots=True)
class RenegotiationFailed(SessionEvent):
    """Our re-INVITE or UPDATE failed; the session goes on with the previous SDP."""

    method: str
    cause: str
    response: Response | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionRefreshed(SessionEvent):
    """A session refresh (RFC 4028) went through, sent or received."""

    originator: Originator
    interval: int | None
    """The session interval now in force (None: no session timer)."""
    refresher: bool
    """Whether this UA is the refresher."""


@dataclass(frozen=True, kw_only=True, slots=True)
class InfoReceived(SessionEvent):
    """An INFO (RFC 6086), answered 200 already."""

    request: Request
    content_type: str
    body: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class DtmfReceived(SessionEvent):
    """An ``application/dtmf-relay`` INFO, answered 200 already."""

    request: Request
    tone: str
    duration: int
    """Milliseconds."""


@dataclass(frozen=True, kw_only=True, slots=True)
class InfoAnswered(SessionEvent):
    """The outcome of :meth:`InviteSession.send_info` (``cause`` None on 2xx)."""

    transaction_id: str
    response: Response | None
    cause: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferReceived(SessionEvent):
    """A REFER (RFC 3515): call ``accept_refer(refer_id)`` or ``reject_refer(refer_id)``.

    :func:`split_refer_to` turns ``refer_to`` into the target and its Replaces.
    """

    request: Request
    refer_id: int
    refer_to: NameAddr


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferResponded(SessionEvent):
    """The final response to our REFER (202: accepted; ``cause`` None then)."""

    refer_id: int
    response: Response | None
    cause: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferProgress(SessionEvent):
    """A NOTIFY of our REFER's subscription: the referred call's status (sipfrag)."""

    refer_id: int
    status_code: int
    reason_phrase: str
    final: bool
    request: Request


# -- helpers -----------------------------------------------------------------------


_SIPFRAG_RE = re.compile(r"SIP/2\.0[ \t]+([1-6][0-9][0-9])[ \t]*([^\r\n]*)")
_DTMF_SIGNAL_RE = re.compile(r"^Signal[ \t]*=[ \t]*([0-9A-D#*])", re.IGNORECASE | re.MULTILINE)
_DTMF_DURATION_RE = re.compile(r"^Duration[ \t]*=[ \t]*([0-9]{1,5})", re.IGNORECASE | re.MULTILINE)


def split_refer_to(refer_to: NameAddr) -> tuple[URI, str | None]:
    """The target of a Refer-To and the Replaces value its URI carries (RFC 3891 7).

    Returns:
        The URI without its headers, for the new INVITE, and the raw Replaces
        value to put in that INVITE's ``Replaces`` header (None for a blind transfer).
    """
    uri = refer_to.uri.copy()
    values = uri.get_header("Replaces")
    uri.clear_headers()
    return uri, (values[0] if values else None)


def _content_type(message: Request | Response) -> str | None:
    try:
        value = message.parse_header("Content-Type")
    except ParseError:
        return None
    return None if value is None else str(value.mime_type).lower()


def _sdp_of(message: Request | Response) -> bytes | None:
    if message.body and _content_type(message) == SDP:
        return bytes(message.body)
    return None


def _tokens(message: Request | Response, name: str) -> set[str]:
    try:
        return {token.lower() for token in message.get_token_list(name)}
    except ParseError:
        return set()


def _methods(message: Request | Response) -> set[str]:
    # Method names are case-sensitive tokens (RFC 3261 7.1); Allow lists them.
    try:
        return set(message.get_token_list("Allow"))
    except ParseError:
        return set()


def _reason_header(status_code: int, reason_phrase: str | None) -> tuple[str, str]:
    # RFC 3326: why the session ends, as JsSIP writes it on BYE.
    text = (reason_phrase or "").replace('"', "'")
    return ("Reason", f'SIP ;cause={status_code} ;text="{text}"')


@dataclass
class _Outgoing:
    """A client transaction of this session and what it is for."""

    kind: str  # invite, reinvite, update, bye, prack, info, refer, notify, stray_bye
    request: Request
    refresh: bool = False
    refer_id: int | None = None
    retries_422: int = 0


@dataclass
class _Reliable:
    """A reliable provisional response waiting for its PRACK (RFC 3262 3)."""

    response: Response
    rseq: int
    has_sdp: bool
    interval: float
    next_send: float | None
    give_up: float


@dataclass
class _PendingOffer:
    """A re-INVITE or UPDATE the application has to answer."""

    request: Request
    transaction_id: str
    had_offer: bool
    previous_remote: bytes | None


@dataclass
class _ReferIn:
    """A REFER received: its server transaction and the implicit subscription."""

    transaction_id: str
    request: Request
    answered: bool = False
    terminated: bool = False


@dataclass
class _Timers:
    deadlines: dict[str, float] = field(default_factory=dict)

    def set(self, name: str, when: float) -> None:
        self.deadlines[name] = when

    def clear(self, *names: str) -> None:
        for name in names:
            self.deadlines.pop(name, None)

    def due(self, now: float) -> list[str]:
        names = sorted(
            (n for n, d in self.deadlines.items() if d <= now), key=self.deadlines.__getitem__
        )
        for name in names:
            del self.deadlines[name]
        return names


# -- the session -------------------------------------------------------------------


class InviteSession:
    """One call (outgoing or incoming), sans-I/O.

    Create it with :meth:`outgoing` or :meth:`incoming`. Afterwards: route the
    core's events to it (:meth:`owns_event`, :meth:`handle_event`), fire its
    timer (:meth:`get_timer`, :meth:`handle_timer`), call the commands, and
    after every call drain :meth:`take_events` and flush the core.

    Attributes:
        state: the :class:`SessionState`.
        direction: ``"outgoing"`` or ``"incoming"``.
        local_identity / remote_identity: From/To of the INVITE (no tags).
        dialog: the dialog of the call (incoming: from the start, early;
            outgoing: once a 2xx confirms one).
        request: the initial INVITE (the last one sent, outgoing).
        negotiation: the offer/answer state.
        local_sdp / remote_sdp: the last SDP sent / received.
        remote_offer: the offer of an incoming INVITE (None: late offer).
        replaces: the parsed Replaces of an incoming INVITE (RFC 3891), if any.
        session_interval: the session timer interval in force, or None.
        refresher: whether this UA refreshes the session (RFC 4028).
    """

    def __init__(
        self,
        core: Core,
        *,
        direction: Literal["outgoing", "incoming"],
        contact: NameAddr,
        session_timers: bool,
        session_expires: int,
        min_se: int,
        refresh_method: str,
        use_100rel: bool,
    ) -> None:
        if refresh_method.upper() not in ("UPDATE", "INVITE"):
            raise LocalProtocolError(f"refresh_method must be UPDATE or INVITE: {refresh_method!r}")
        # RFC 4028 5 puts the floor of Min-SE at 90 s; smaller values are let
        # through only so that tests can watch a refresh happen (websip.UA
        # documents them as such).
        if min_se < 1 or session_expires < min_se:
            raise LocalProtocolError("Min-SE must be >= 1 s and Session-Expires >= Min-SE")
        self.core = core
        self.direction = direction
        self.contact = contact
        self.state = SessionState.NULL
        self.negotiation = Negotiation.STABLE
        self.dialog: Dialog | None = None
        self.request: Request | None = None
        self.local_identity: NameAddr | None = None
        self.remote_identity: NameAddr | None = None
        self.local_sdp: bytes | None = None
        self.remote_sdp: bytes | None = None
        self.remote_offer: bytes | None = None
        self.replaces: Replaces | None = None
        self.session_interval: int | None = None
        self.refresher = False
        self._st_enabled = session_timers
        self._st_expires = session_expires
        self._st_min_se = min_se
        self._refresh_method = refresh_method.upper()
        self._use_100rel = use_100rel
        self._events: list[SessionEvent] = []
        self._timers = _Timers()
        self._out: dict[str, _Outgoing] = {}
        self._acks: dict[str, Request] = {}  # 2xx-answered INVITE tid -> our ACK
        self._invite_tid: str | None = None
        self._invite_final = False  # the initial INVITE has its final response
        self._early: dict[DialogId, Dialog] = {}
        self._stray: dict[DialogId, Dialog] = {}
        self._rseq_seen: dict[DialogId, int] = {}
        self._peer_allow: set[str] | None = None
        self._peer_supported: set[str] = set()
        # UAS
        self._server_tid: str | None = None
        self._server_tids: set[str] = set()
        self._reliable: _Reliable | None = None
        self._queued_1xx: list[tuple[int, bytes | None]] = []
        self._next_rseq = 1
        self._held_2xx: tuple[bytes | None, list[tuple[str, str]]] | None = None
        self._early_answer: bytes | None = None
        self._bye_deferred: list[tuple[str, str]] | None = None
        self._no_answer_status = 408
        # re-INVITE / UPDATE
        self._pending_in: _PendingOffer | None = None
        self._reinvite_in_tids: dict[int, str] = {}  # CSeq -> tid of re-INVITEs we got
        self._late_offer_cseq: int | None = None  # re-INVITE whose 2xx carried our offer
        self._glare: tuple[str, bytes | None, list[tuple[str, str]]] | None = None
        # REFER
        self._refers_out: set[int] = set()
        self._refers_in: dict[int, _ReferIn] = {}

    # -- construction ----------------------------------------------------------------

    @classmethod
    def outgoing(
        cls,
        core: Core,
        *,
        local_identity: NameAddr,
        target: URI,
        contact: NameAddr,
        sdp: bytes | None,
        now: float,
        route: Sequence[str] = (),
        extra_headers: HeaderList = (),
        session_timers: bool = True,
        session_expires: int = DEFAULT_SESSION_EXPIRES,
        min_se: int = DEFAULT_MIN_SE,
        refresh_method: str = "UPDATE",
        use_100rel: bool = True,
        anonymous: bool = False,
    ) -> InviteSession:
        """Build and send the INVITE of a new call.

        Args:
            local_identity: our address-of-record, with the display name (From).
            target: the callee (Request-URI and To).
            contact: our Contact.
            sdp: the offer; None for a late offer (the 2xx brings the peer's
                offer and :meth:`acknowledge` sends the answer).
            route: preloaded Route values.
            extra_headers: ``(name, value)`` pairs added to the INVITE.
            session_timers / session_expires / min_se / refresh_method: RFC 4028.
            use_100rel: offer ``Supported: 100rel`` (RFC 3262).
            anonymous: From ``"Anonymous" <sip:anonymous@anonymous.invalid>``
                with ``Privacy: id`` and P-Preferred-Identity (RFC 3323/3325), as JsSIP.

        Returns:
            The session in INVITE_SENT. Next: flush the core.
        """
        self = cls(
            core,
            direction="outgoing",
            contact=contact,
            session_timers=session_timers,
            session_expires=session_expires,
            min_se=min_se,
            refresh_method=refresh_method,
            use_100rel=use_100rel,
        )
        extra = list(extra_headers)
        if anonymous:
            from_addr = NameAddr(anonymous_uri(), "Anonymous")
            extra.append(("P-Preferred-Identity", f"<{local_identity.uri}>"))
            extra.append(("Privacy", "id"))
        else:
            from_addr = local_identity.copy()
        from_addr.delete_param("tag")
        self.local_identity = from_addr.copy()
        self.remote_identity = NameAddr(target.copy())
        sent_from = from_addr.copy()
        sent_from.set_param("tag", core.new_tag())
        # RFC 3261 8.1.1.5: any initial CSeq below 2**31; JsSIP picks a random one.
        cseq = int(core.new_tag()[:4], 16) % 10000 + 1
        headers: list[tuple[str, str]] = [("Route", r) for r in route]
        headers += [
            ("To", str(self.remote_identity)),
            ("From", str(sent_from)),
            ("Call-ID", core.new_call_id()),
            ("CSeq", f"{cseq} INVITE"),
            ("Contact", str(contact)),
            ("Allow", self._allow()),
            ("Supported", self._supported()),
        ]
        if self._st_enabled:
            # RFC 4028 7.1: Session-Expires (no refresher: the UAS chooses) and Min-SE.
            headers.append(("Session-Expires", str(self._st_expires)))
            headers.append(("Min-SE", str(self._st_min_se)))
        headers += extra
        if sdp is not None:
            headers.append(("Content-Type", SDP))
            self.local_sdp = sdp
            self.negotiation = Negotiation.LOCAL_OFFER
        request = Request("INVITE", target.copy(), headers, sdp or b"")
        self._move(SessionInput.SEND_INVITE)
        self._send_invite(request, now)
        return self

    @classmethod
    def incoming(
        cls,
        core: Core,
        event: RequestReceived,
        *,
        contact: NameAddr,
        now: float,
        session_timers: bool = True,
        session_expires: int = DEFAULT_SESSION_EXPIRES,
        min_se: int = DEFAULT_MIN_SE,
        refresh_method: str = "UPDATE",
        use_100rel: bool = True,
        no_answer_timeout: float | None = 60.0,
        no_answer_status: int = 408,
    ) -> InviteSession:
        """Take a new INVITE (out of any dialog) and make its session.

        The INVITE is checked: a body that is not SDP gets 415, a malformed
        Replaces 400, a Session-Expires below our Min-SE 422 (RFC 4028 8.1), a
        Contact or Record-Route that makes no dialog 400. Such a session comes
        back already TERMINATED, with no event: do not announce it.

        Args:
            event: the core's RequestReceived for the INVITE.
            contact: our Contact for the dialog.
            no_answer_timeout: seconds before the call is rejected unanswered
                (None: never); ``no_answer_status`` is the response (JsSIP: 408;
                RFC 3398 would say 480).

        Returns:
            The session in WAITING_FOR_ANSWER (100 Trying went out already).
            Next: :meth:`ringing`, then :meth:`answer` or :meth:`terminate`.
            When :attr:`replaces` is set, the UA checks it against its
            sessions (:meth:`check_replaces`) and rejects with the status it gives.
        """
        self = cls(
            core,
            direction="incoming",
            contact=contact,
            session_timers=session_timers,
            session_expires=session_expires,
            min_se=min_se,
            refresh_method=refresh_method,
            use_100rel=use_100rel,
        )
        request = event.request
        self.request = request
        self._server_tid = event.transaction_id
        self._server_tids.add(event.transaction_id)
        self._no_answer_status = no_answer_status
        self._move(SessionInput.RECV_INVITE)
        from_ = request.parse_header("From")
        to = request.parse_header("To")
        self.remote_identity = from_.copy()
        self.remote_identity.delete_param("tag")
        self.local_identity = to.copy()
        self.local_identity.delete_param("tag")
        self._peer_allow = _methods(request) if request.has_header("Allow") else None
        self._peer_supported = _tokens(request, "Supported")
        if request.body and _content_type(request) != SDP:
            # JsSIP answers 415 to any body that is not SDP (RFC 3261 21.4.13).
            self._reject_initial(415, None, [("Accept", SDP)], now)
            return self
        if request.has_header("Replaces"):
            try:
                self.replaces = request.parse_header("Replaces")
            except ParseError:
                self._reject_initial(400, "Bad Replaces", [], now)
                return self
        st_reject = self._check_session_expires(request)
        if st_reject is not None:
            self._reject_initial(422, None, st_reject, now)
            return self
        try:
            dialog = Dialog.from_uas(request, core.new_tag(), contact)
        except (RemoteProtocolError, LocalProtocolError) as exc:
            logger.info("cannot make a dialog of the INVITE: %s", exc)
            self._reject_initial(
                400 if isinstance(exc, RemoteProtocolError) else 500, None, [], now
            )
            return self
        self.dialog = dialog
        core.add_dialog(dialog)
        sdp = _sdp_of(request)
        if sdp is not None:
            self.remote_offer = self.remote_sdp = sdp
            self.negotiation = Negotiation.REMOTE_OFFER
            self._emit(RemoteSdp(type="offer", sdp=sdp, message=request))
        if no_answer_timeout is not None:
            self._timers.set("no_answer", now + no_answer_timeout)
        try:
            expires = request.parse_header("Expires")
        except ParseError:
            expires = None
        if expires is not None:
            # RFC 3261 13.3.1: when the Expires interval passes unanswered, 487.
            self._timers.set("expires", now + int(expires))
        self._move(SessionInput.ACCEPT_INVITE)
        return self

    # -- what the UA needs ----------------------------------------------------------

    @property
    def is_ended(self) -> bool:
        return self.state in _ENDED

    @property
    def is_established(self) -> bool:
        return self.state in _ESTABLISHED or (
            self.state is SessionState.ANSWERED and self.direction == "outgoing"
        )

    @property
    def is_in_progress(self) -> bool:
        return not self.is_ended and not self.is_established

    @property
    def is_finished(self) -> bool:
        """Ended, and nothing left to do: the UA may forget the session.

        (Until then, a cancelled INVITE may still get a 2xx to ACK and BYE.)
        """
        return self.is_ended and not self._out and self._bye_deferred is None

    @property
    def call_id(self) -> str | None:
        return None if self.request is None else self.request.call_id

    def owns_event(self, event: Event) -> bool:
        """Whether a core event belongs to this session."""
        if isinstance(event, ResponseReceived | RequestFailed):
            tid = event.transaction_id
            return tid in self._out or tid in self._acks or tid == self._invite_tid
        if isinstance(event, RequestCancelled | AckTimedOut):
            return event.transaction_id in self._server_tids
        if isinstance(event, AckReceived):
            return self._in_my_dialogs(event.request)
        if isinstance(event, RequestReceived):
            return event.request.method in (
                "BYE",
                "INVITE",
                "UPDATE",
                "INFO",
                "REFER",
                "NOTIFY",
                "PRACK",
            ) and self._in_my_dialogs(event.request)
        return False

    def matches_replaces(self, replaces: Replaces) -> bool:
        """Whether a Replaces header names this session's dialog (RFC 3891 3:
        to-tag against our local tag, from-tag against the remote one)."""
        dialog = self.dialog
        return (
            dialog is not None
            and replaces.call_id == dialog.id.call_id
            and replaces.to_tag == dialog.id.local_tag
            and replaces.from_tag == dialog.id.remote_tag
        )

    def check_replaces(self, replaces: Replaces) -> int | None:
        """What an INVITE with this Replaces deserves here (RFC 3891 3).

        Returns:
            None when this session may be replaced; 481 when it does not match
            (or is an early dialog we initiated), 486 when early-only meets a
            confirmed dialog, 603 when the session has ended.
        """
        if not self.matches_replaces(replaces):
            return 481
        if self.is_ended:
            return 603
        if self.state in _ESTABLISHED:
            return 486 if replaces.early_only else None
        return None if self.direction == "incoming" else 481

    def take_events(self) -> list[SessionEvent]:
        """The events queued since the last call, in order."""
        events, self._events = self._events, []
        return events

    def get_timer(self) -> float | None:
        """The earliest deadline of the session (None: no timer)."""
        return min(self._timers.deadlines.values(), default=None)

    def handle_timer(self, now: float) -> list[SessionEvent]:
        """Fire what is due at ``now``; returns :meth:`take_events`."""
        for name in self._timers.due(now):
            getattr(self, f"_on_timer_{name}")(now)
        return self.take_events()

    def connection_lost(self, now: float) -> list[SessionEvent]:
        """The transport is gone: the call cannot be signalled any more (CONNECTION_ERROR)."""
        if not self.is_ended:
            self._fail_or_end("system", causes.CONNECTION_ERROR, None)
        self._out.clear()
        self._bye_deferred = None
        self._cleanup()
        return self.take_events()

    # -- dispatch ----------------------------------------------------------------------

    def handle_event(self, event: Event, now: float) -> list[SessionEvent]:
        """Take one core event :meth:`owns_event` said is ours; returns :meth:`take_events`."""
        if isinstance(event, ResponseReceived):
            self._on_response(event, now)
        elif isinstance(event, RequestFailed):
            self._on_request_failed(event, now)
        elif isinstance(event, RequestReceived):
            self._on_request(event, now)
        elif isinstance(event, AckReceived):
            self._on_ack(event.request, now)
        elif isinstance(event, RequestCancelled):
            self._on_cancelled(event)
        elif isinstance(event, AckTimedOut):
            self._on_ack_timeout(event, now)
        return self.take_events()

    # -- commands: UAS ---------------------------------------------------------------

    def ringing(
        self,
        now: float,
        sdp: bytes | None = None,
        *,
        reliable: bool | None = None,
        status_code: int | None = None,
    ) -> None:
        """Send a provisional response: 180, or 183 with early-media SDP.

        Args:
            sdp: our answer to the INVITE's offer, for early media.
            reliable: send it reliably (RFC 3262, ``Require: 100rel`` + RSeq).
                None: when the INVITE requires 100rel, or carries SDP to a
                caller that supports it.
            status_code: 101-199; 183 with SDP, 180 without, by default.

        Raises:
            LocalProtocolError: not waiting for an answer, a reliable response
                the caller does not support, or SDP with no offer to answer.
        """
        if self.state is not SessionState.WAITING_FOR_ANSWER:
            raise LocalProtocolError(f"ringing() in state {self.state.value!r}")
        assert self.request is not None
        peer_tags = self._peer_supported | _tokens(self.request, "Require")
        if reliable is None:
            reliable = self._use_100rel and (
                "100rel" in _tokens(self.request, "Require")
                or (sdp is not None and "100rel" in peer_tags)
            )
        if reliable and "100rel" not in peer_tags:
            raise LocalProtocolError("the caller does not support 100rel (RFC 3262)")
        if (
            sdp is not None
            and self.negotiation is not Negotiation.REMOTE_OFFER
            and sdp != self._early_answer
        ):
            raise LocalProtocolError("no offer to answer in a provisional response")
        status = status_code or (183 if sdp is not None else 180)
        if not 101 <= status <= 199:
            raise LocalProtocolError(f"a provisional status is 101-199, not {status}")
        if reliable and self._reliable is not None:
            # RFC 3262 3: no second reliable 1xx before the first is PRACKed.
            self._queued_1xx.append((status, sdp))
            return
        self._send_1xx(status, sdp, reliable, now)

    def answer(self, sdp: bytes | None, now: float, extra_headers: HeaderList = ()) -> None:
        """Accept the incoming call with a 2xx carrying ``sdp``.

        ``sdp`` is the answer to the INVITE's offer, or our offer when the
        INVITE had none (the ACK brings the answer). The 2xx waits for the
        PRACK of a reliable 1xx with SDP (RFC 3262 3); the state is ANSWERED
        meanwhile.

        Raises:
            LocalProtocolError: not an incoming call waiting for an answer, or
                no SDP where one is owed.
        """
        if self.direction != "incoming":
            raise LocalProtocolError("answer() is for incoming calls")
        if sdp is None and self.negotiation is Negotiation.REMOTE_OFFER:
            if self._early_answer is None:
                raise LocalProtocolError("the INVITE's offer needs an answer")
            sdp = self._early_answer
        if sdp is None and self.remote_offer is None:
            raise LocalProtocolError("an INVITE without offer needs our offer in the 2xx")
        self._move(SessionInput.ANSWER)
        self._timers.clear("no_answer", "expires")
        self._queued_1xx.clear()
        headers = list(extra_headers)
        if self._reliable is not None and self._reliable.has_sdp:
            self._held_2xx = (sdp, headers)
            return
        self._send_2xx(sdp, headers, now)

    def reject(
        self,
        now: float,
        status_code: int = 480,
        reason_phrase: str | None = None,
        extra_headers: HeaderList = (),
        *,
        cause: str = causes.REJECTED,
    ) -> None:
        """Refuse the incoming call with a 300-699 (JsSIP: cause REJECTED)."""
        if self.direction != "incoming":
            raise LocalProtocolError("reject() is for incoming calls")
        if not 300 <= status_code <= 699:
            raise LocalProtocolError(f"a rejection is 300-699, not {status_code}")
        self._move(SessionInput.REJECT)
        self._respond_initial(status_code, reason_phrase, list(extra_headers), now)
        self._emit(Failed(originator="local", cause=cause))
        self._cleanup()

    def acknowledge(self, sdp: bytes, now: float) -> None:
        """Send the ACK with our answer to the offer a 2xx carried (late offer)."""
        if self.direction != "outgoing":
            raise LocalProtocolError("acknowledge() is for outgoing calls")
        self._move(SessionInput.SEND_ACK)
        ack = self._send_ack_for(self._invite_tid, sdp, now)
        self.local_sdp = sdp
        self.negotiation = Negotiation.STABLE
        self._emit(Confirmed(originator="local", ack=ack))
        self._start_session_timer(now)

    def terminate(
        self,
        now: float,
        status_code: int | None = None,
        reason_phrase: str | None = None,
        extra_headers: HeaderList = (),
    ) -> None:
        """End the call in whatever state it is (JsSIP's ``terminate``).

        Before an answer, outgoing: CANCEL (the core sends it after a 1xx) and
        ``Failed(local, CANCELED)``. Before an answer, incoming: reject with
        ``status_code`` (480 by default) and ``Failed(local, REJECTED)``.
        Established: BYE (with a Reason header when ``status_code`` is given)
        and ``Ended(local, BYE)``; as callee before the ACK, the BYE waits for it.

        Raises:
            LocalProtocolError: the call has ended already.
        """
        state = self.state
        extra = list(extra_headers)
        if state in (SessionState.INVITE_SENT, SessionState.PROVISIONAL_RECEIVED):
            self._move(SessionInput.SEND_CANCEL)
            assert self._invite_tid is not None
            self.core.cancel(self._invite_tid, now)
            self._emit(Failed(originator="local", cause=causes.CANCELED))
            return
        if self.direction == "incoming" and state in _EARLY_UAS:
            self.reject(now, status_code or 480, reason_phrase, extra)
            return
        if state not in _ESTABLISHED and state is not SessionState.ANSWERED:
            raise LocalProtocolError(f"terminate() in state {state.value!r}")
        if status_code is not None:
            extra.append(_reason_header(status_code, reason_phrase))
        self._end_with_bye("local", causes.BYE, None, extra, now)

    # -- commands: within the dialog -------------------------------------------------

    def send_reinvite(self, sdp: bytes, now: float, extra_headers: HeaderList = ()) -> None:
        """Send a re-INVITE with a new offer (hold, renegotiation).

        Raises:
            LocalProtocolError: not established, an INVITE transaction or an
                offer already pending (RFC 3261 14.1).
        """
        self._check_can_offer("INVITE")
        self._send_offer("INVITE", sdp, list(extra_headers), now)

    def send_update(self, sdp: bytes | None, now: float, extra_headers: HeaderList = ()) -> None:
        """Send an UPDATE (RFC 3311), with an offer or (``sdp`` None) as a bare refresh."""
        self._check_can_offer("UPDATE" if sdp is not None else "")
        self._send_offer("UPDATE", sdp, list(extra_headers), now)

    def answer_reinvite(self, sdp: bytes, now: float, extra_headers: HeaderList = ()) -> None:
        """Answer the pending re-INVITE with 200 and ``sdp`` (our offer if it had none)."""
        self._answer_pending("INVITE", sdp, list(extra_headers), now)

    def reject_reinvite(
        self, now: float, status_code: int = 488, reason_phrase: str | None = None
    ) -> None:
        """Refuse the pending re-INVITE; the session goes on unchanged."""
        self._reject_pending("INVITE", status_code, reason_phrase, now)

    def answer_update(self, sdp: bytes, now: float, extra_headers: HeaderList = ()) -> None:
        """Answer the pending UPDATE's offer with 200 and ``sdp``."""
        self._answer_pending("UPDATE", sdp, list(extra_headers), now)

    def reject_update(
        self, now: float, status_code: int = 488, reason_phrase: str | None = None
    ) -> None:
        """Refuse the pending UPDATE's offer."""
        self._reject_pending("UPDATE", status_code, reason_phrase, now)

    def send_info(
        self, content_type: str, body: bytes | str, now: float, extra_headers: HeaderList = ()
    ) -> str:
        """Send an INFO (RFC 6086); the outcome comes as :class:`InfoAnswered`.

        Returns:
            The transaction id (the one :class:`InfoAnswered` carries).
        """
        dialog = self._usable_dialog("INFO")
        headers = [*extra_headers, ("Content-Type", content_type)]
        return self._send_in_dialog(dialog, "INFO", headers, body, now, "info")

    def send_dtmf_info(self, tone: str, now: float, duration: int = DTMF_DEFAULT_DURATION) -> str:
        """Send one DTMF tone as ``application/dtmf-relay`` INFO (JsSIP's format).

        The duration is clamped to 70-6000 ms as JsSIP does.
        """
        tone = tone.upper()
        if len(tone) != 1 or tone not in _DTMF_TONES:
            raise LocalProtocolError(f"invalid DTMF tone {tone!r}")
        duration = max(DTMF_MIN_DURATION, min(DTMF_MAX_DURATION, int(duration)))
        return self.send_info(DTMF_RELAY, f"Signal={tone}\r\nDuration={duration}\r\n", now)

    def refer(
        self,
        target: URI | NameAddr | str,
        now: float,
        *,
        replaces: InviteSession | None = None,
        extra_headers: HeaderList = (),
    ) -> int:
        """Transfer the peer to ``target`` (RFC 3515); attended with ``replaces``.

        For an attended transfer the Refer-To URI carries a Replaces header
        naming ``replaces``'s dialog as its peer will see it (RFC 3891 7):
        to-tag = that dialog's remote tag, from-tag = its local tag.

        Returns:
            The refer id (the REFER's CSeq, the ``id`` of its NOTIFYs' Event).
        """
        dialog = self._usable_dialog("REFER", established_only=True)
        if isinstance(target, NameAddr):
            refer_to = target.copy()
        else:
            refer_to = NameAddr(target.copy() if isinstance(target, URI) else URI.parse(target))
        if replaces is not None:
            other = replaces.dialog
            if other is None or replaces.is_ended:
                raise LocalProtocolError("the session to replace has no live dialog")
            value = Replaces(other.id.call_id, other.id.remote_tag, other.id.local_tag)
            refer_to.uri.set_header("Replaces", str(value))
        assert self.local_identity is not None
        headers = [
            *extra_headers,
            ("Refer-To", str(refer_to)),
            ("Referred-By", f"<{self.local_identity.uri}>"),
        ]
        refer_id = (dialog.local_seq or 0) + 1
        self._send_in_dialog(dialog, "REFER", headers, b"", now, "refer", refer_id=refer_id)
        self._refers_out.add(refer_id)
        return refer_id

    def accept_refer(self, refer_id: int, now: float) -> None:
        """Accept a REFER: 202, then the first NOTIFY ("SIP/2.0 100 Trying", RFC 3515 2.4.4)."""
        refer = self._refer_in(refer_id)
        self._reply(refer.request, refer.transaction_id, 202, now)
        refer.answered = True
        self.notify_refer_progress(refer_id, 100, "Trying", now)

    def reject_refer(self, refer_id: int, now: float, status_code: int = 603) -> None:
        """Refuse a REFER (JsSIP: 603 Declined)."""
        refer = self._refer_in(refer_id)
        self._reply(refer.request, refer.transaction_id, status_code, now)
        del self._refers_in[refer_id]

    def notify_refer_progress(
        self, refer_id: int, status_code: int, reason_phrase: str, now: float
    ) -> None:
        """Tell the referrer how the referred call goes (NOTIFY, message/sipfrag).

        A final status (>= 200) terminates the implicit subscription.
        """
        refer = self._refers_in.get(refer_id)
        if refer is None or not refer.answered or refer.terminated:
            raise LocalProtocolError(f"no accepted REFER {refer_id}")
        dialog = self._usable_dialog("NOTIFY", established_only=True)
        final = status_code >= 200
        state = (
            "terminated;reason=noresource"
            if final
            else f"active;expires={_REFER_SUBSCRIPTION_EXPIRES}"
        )
        headers = [
            ("Event", f"refer;id={refer_id}"),
            ("Subscription-State", state),
            ("Content-Type", f"{SIPFRAG};version=2.0"),
        ]
        body = f"SIP/2.0 {status_code} {reason_phrase}\r\n"
        self._send_in_dialog(dialog, "NOTIFY", headers, body, now, "notify")
        if final:
            refer.terminated = True
            del self._refers_in[refer_id]

    # -- internals: sending ------------------------------------------------------------

    def _allow(self) -> str:
        return ", ".join(sorted(self.core.allowed_methods))

    def _supported(self) -> str:
        tags = set(self.core.supported)
        if not self._st_enabled:
            tags.discard("timer")
        if not self._use_100rel:
            tags.discard("100rel")
        return ", ".join(sorted(tags))

    def _emit(self, event: SessionEvent) -> None:
        self._events.append(event)

    def _move(self, event: SessionInput) -> bool:
        """Apply an input; False for a remote input the state does not take (dropped)."""
        if (self.state, event) not in TRANSITIONS and event in _REMOTE_INPUTS:
            logger.info("dropped %s in state %s", event.value, self.state.value)
            return False
        self.state = transition(self.state, event)
        return True

    def _send_invite(self, request: Request, now: float) -> None:
        self.request = request
        tid = self.core.send_request(request, now)
        if self._invite_tid is not None:
            self._out.pop(self._invite_tid, None)
        self._invite_tid = tid
        self._out[tid] = _Outgoing("invite", request)

    def _send_in_dialog(
        self,
        dialog: Dialog,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes | str,
        now: float,
        kind: str,
        *,
        refresh: bool = False,
        refer_id: int | None = None,
        retries_422: int = 0,
    ) -> str:
        request = dialog.create_request(method, headers, body)
        tid = self.core.send_request(request, now)
        self._out[tid] = _Outgoing(kind, request, refresh, refer_id, retries_422)
        return tid

    def _usable_dialog(self, method: str, *, established_only: bool = False) -> Dialog:
        # JsSIP: INFO in CONFIRMED, WAITING_FOR_ACK and 1XX_RECEIVED (early dialog).
        if self.state in _ESTABLISHED and self.dialog is not None:
            return self.dialog
        if not established_only:
            if self.state is SessionState.PROVISIONAL_RECEIVED and self._early:
                return next(iter(self._early.values()))
            if self.state in _EARLY_UAS and self.dialog is not None:
                return self.dialog
        raise LocalProtocolError(f"cannot send {method} in state {self.state.value!r}")

    def _session_expires_headers(self, *, we_refresh: bool) -> list[tuple[str, str]]:
        if not self._st_enabled:
            return []
        interval = self.session_interval or self._st_expires
        # RFC 4028 7.4: in a refresh the refresher is named for this transaction;
        # we are its UAC, so "uac" when we keep refreshing.
        role = "uac" if we_refresh else "uas"
        return [
            ("Session-Expires", f"{interval};refresher={role}"),
            ("Min-SE", str(self._st_min_se)),
        ]

    def _check_can_offer(self, method: str) -> None:
        if self.state not in _ESTABLISHED or self.dialog is None:
            raise LocalProtocolError(f"cannot renegotiate in state {self.state.value!r}")
        if method and self.negotiation is not Negotiation.STABLE:
            raise LocalProtocolError(f"an offer is pending ({self.negotiation.value})")
        if method == "INVITE" and self._invite_in_progress():
            raise LocalProtocolError("an INVITE transaction is in progress (RFC 3261 14.1)")
        if method == "UPDATE" and self._pending_in is not None:
            raise LocalProtocolError("a received offer waits for its answer")

    def _invite_in_progress(self) -> bool:
        return (
            any(r.kind == "reinvite" for r in self._out.values())
            or (self._pending_in is not None and self._pending_in.request.method == "INVITE")
            or self.state is SessionState.WAITING_FOR_ACK
        )

    def _send_offer(
        self,
        method: str,
        sdp: bytes | None,
        headers: list[tuple[str, str]],
        now: float,
        *,
        refresh: bool = False,
        retries_422: int = 0,
    ) -> None:
        assert self.dialog is not None
        extra = [*headers, ("Allow", self._allow()), ("Supported", self._supported())]
        extra += self._session_expires_headers(
            we_refresh=self.refresher or not self.session_interval
        )
        if sdp is not None:
            extra.append(("Content-Type", SDP))
            if not refresh:
                self.negotiation = Negotiation.LOCAL_OFFER
        kind = "reinvite" if method == "INVITE" else "update"
        self._send_in_dialog(
            self.dialog,
            method,
            extra,
            sdp or b"",
            now,
            kind,
            refresh=refresh,
            retries_422=retries_422,
        )
        if sdp is not None and not refresh:
            self.local_sdp = sdp

    def _send_ack_for(self, tid: str | None, sdp: bytes | None, now: float) -> Request:
        """Build, send and remember the ACK of the 2xx answering INVITE ``tid``."""
        assert tid is not None and self.dialog is not None
        record = self._out.get(tid)
        invite = record.request if record is not None else self.request
        assert invite is not None
        ack = self._build_ack(self.dialog, invite, sdp)
        self.core.send_ack(ack, now)
        self._acks[tid] = ack
        self._out.pop(tid, None)
        return ack

    def _build_ack(self, dialog: Dialog, invite: Request, sdp: bytes | None) -> Request:
        # RFC 3261 13.2.2.4: "The ACK MUST contain the same credentials as the INVITE."
        headers = [
            (name, value)
            for name in ("Authorization", "Proxy-Authorization")
            for value in invite.get_headers(name)
        ]
        if sdp is not None:
            headers.append(("Content-Type", SDP))
        return dialog.create_ack(invite.cseq.seq, headers, sdp or b"")

    def _send_bye(self, dialog: Dialog, headers: list[tuple[str, str]], now: float) -> None:
        if dialog.state is DialogState.TERMINATED:
            return
        self._send_in_dialog(dialog, "BYE", headers, b"", now, "bye")

    def _end_with_bye(
        self,
        originator: Originator,
        cause: str,
        message: Request | Response | None,
        headers: list[tuple[str, str]],
        now: float,
        *,
        ack_timed_out: bool = False,
    ) -> None:
        """Send BYE (deferred to the ACK for a callee, RFC 3261 15) and report Ended."""
        if self.is_ended:
            return
        dialog = self.dialog
        outgoing_late = self.state is SessionState.ANSWERED and self.direction == "outgoing"
        waiting_ack = (
            self.state is SessionState.WAITING_FOR_ACK
            and self.direction == "incoming"
            and not ack_timed_out
        )
        self._move(SessionInput.SEND_BYE)
        if outgoing_late:
            # The 2xx still needs its ACK before the BYE (RFC 3261 13.2.2.4).
            self._send_ack_for(self._invite_tid, None, now)
        if dialog is not None:
            if waiting_ack:
                # RFC 3261 15: "the callee's UA MUST NOT send a BYE on a confirmed
                # dialog until it has received an ACK for its 2xx response or
                # until the server transaction times out".
                self._bye_deferred = headers
            else:
                self._send_bye(dialog, headers, now)
        self._emit(Ended(originator=originator, cause=cause, message=message))
        self._cleanup(keep_dialog=waiting_ack)

    def _fail_or_end(
        self, originator: Originator, cause: str, message: Request | Response | None
    ) -> None:
        established = self.is_established
        self._move(SessionInput.FAIL)
        if established:
            self._emit(Ended(originator=originator, cause=cause, message=message))
        else:
            self._emit(Failed(originator=originator, cause=cause, message=message))

    def _cleanup(self, *, keep_dialog: bool = False) -> None:
        """Drop dialogs and timers once the call is over."""
        self._timers.deadlines.clear()
        self._reliable = None
        self._queued_1xx.clear()
        self._held_2xx = None
        self._pending_in = None
        self._glare = None
        for early in list(self._early.values()):
            self.core.remove_dialog(early)
        self._early.clear()
        if self.dialog is not None and not keep_dialog:
            self.core.remove_dialog(self.dialog)
            if self.dialog.state is not DialogState.TERMINATED:
                self.dialog.terminate()

    def _in_my_dialogs(self, request: Request) -> bool:
        if not request.to_tag:
            return False
        did = dialog_id_for_incoming(request)
        return (self.dialog is not None and did == self.dialog.id) or did in self._early

    # -- internals: UAS responses -------------------------------------------------------

    def _reject_initial(
        self, status: int, reason: str | None, headers: list[tuple[str, str]], now: float
    ) -> None:
        assert self.request is not None and self._server_tid is not None
        response = Response.for_request(
            self.request, status, reason, to_tag=self.core.new_tag(), headers=headers
        )
        self.core.send_response(self._server_tid, response, now)
        self.state = SessionState.TERMINATED

    def _respond_initial(
        self,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]],
        now: float,
        body: bytes | None = None,
    ) -> Response:
        assert self.dialog is not None and self.request is not None
        assert self._server_tid is not None
        if self.dialog.state is DialogState.TERMINATED:
            # The caller's BYE ended the early dialog (RFC 3261 15.1.2): the
            # INVITE still gets its final response, with the dialog's To tag.
            response = Response.for_request(
                self.request, status, reason, to_tag=self.dialog.id.local_tag, headers=headers
            )
        else:
            response = self.dialog.create_response(
                self.request, status, reason, headers=headers, body=body or b""
            )
        self.core.send_response(self._server_tid, response, now)
        return response

    def _send_1xx(self, status: int, sdp: bytes | None, reliable: bool, now: float) -> None:
        headers: list[tuple[str, str]] = []
        rseq = 0
        if reliable:
            rseq = self._next_rseq
            self._next_rseq += 1
            headers += [("Require", "100rel"), ("RSeq", str(rseq))]
        if sdp is not None:
            headers.append(("Content-Type", SDP))
            self._early_answer = sdp
            self.local_sdp = sdp
            if reliable:
                # RFC 3262 5 / RFC 6337 2.2: an answer in a reliable 1xx is the answer.
                self.negotiation = Negotiation.STABLE
        headers += [("Allow", self._allow()), ("Supported", self._supported())]
        response = self._respond_initial(status, None, headers, now, sdp)
        if reliable:
            t1 = self.core.timers.t1
            unreliable = not self.core.layer.reliable
            self._reliable = _Reliable(
                response=response,
                rseq=rseq,
                has_sdp=sdp is not None,
                interval=t1,
                next_send=now + t1 if unreliable else None,
                give_up=now + 64 * t1,
            )
            self._arm_reliable()
        self._emit(Progress(originator="local", response=response, sdp=None))

    def _arm_reliable(self) -> None:
        self._timers.clear("prack_retransmit", "prack_timeout")
        if self._reliable is None:
            return
        if self._reliable.next_send is not None:
            self._timers.set("prack_retransmit", self._reliable.next_send)
        self._timers.set("prack_timeout", self._reliable.give_up)

    def _send_2xx(self, sdp: bytes | None, headers: list[tuple[str, str]], now: float) -> None:
        assert self.request is not None
        extra = [*headers, ("Allow", self._allow()), ("Supported", self._supported())]
        extra += self._uas_session_timer(self.request)
        if sdp is not None:
            extra.append(("Content-Type", SDP))
            self.local_sdp = sdp
            if self.negotiation is Negotiation.REMOTE_OFFER:
                self.negotiation = Negotiation.STABLE
            elif self.negotiation is Negotiation.STABLE and self.remote_offer is None:
                self.negotiation = Negotiation.LOCAL_OFFER  # late offer: the ACK answers
        response = self._respond_initial(200, None, extra, now, sdp)
        self._move(SessionInput.SEND_2XX)
        self._emit(Accepted(originator="local", response=response))
        self._start_session_timer(now)

    # -- internals: session timers (RFC 4028) ----------------------------------------

    def _check_session_expires(self, request: Request) -> list[tuple[str, str]] | None:
        """The Min-SE header of a 422 when ``request``'s interval is too small."""
        if not self._st_enabled:
            return None
        try:
            se = request.parse_header("Session-Expires")
        except ParseError:
            return None
        if se is not None and se.delta < self._st_min_se:
            # RFC 4028 8.1 / 9: "the UAS MUST reject it with a 422 ... [with] a
            # Min-SE header field containing its minimum".
            return [("Min-SE", str(self._st_min_se))]
        return None

    def _uas_session_timer(self, request: Request) -> list[tuple[str, str]]:
        """Decide interval and refresher for a request we accept (RFC 4028 9)."""
        if not self._st_enabled:
            return []
        try:
            se = request.parse_header("Session-Expires")
            peer_min = request.parse_header("Min-SE")
        except ParseError:
            se = peer_min = None
        peer_timer = "timer" in _tokens(request, "Supported")
        interval = se.delta if se is not None else self._st_expires
        if peer_min is not None:
            interval = max(interval, peer_min.delta)
        refresher = se.refresher if se is not None else None
        if refresher not in ("uac", "uas"):
            # RFC 4028 9: the UAS fills it in; "uas" when the UAC cannot refresh.
            refresher = "uac" if peer_timer else "uas"
        self.session_interval = interval
        self.refresher = refresher == "uas"
        headers = [("Session-Expires", f"{interval};refresher={refresher}")]
        if refresher == "uac":
            # RFC 4028 9: with refresher=uac the response MUST carry Require: timer.
            headers.append(("Require", "timer"))
        return headers

    def _uac_session_timer(self, response: Response) -> None:
        """Adopt what a 2xx to our INVITE/UPDATE says (RFC 4028 7.2)."""
        if not self._st_enabled:
            return
        try:
            se = response.parse_header("Session-Expires")
        except ParseError:
            se = None
        if se is None:
            # "If the 2xx response did not contain a Session-Expires header
            # field, there is no session expiration."
            self.session_interval = None
            self.refresher = False
            return
        self.session_interval = se.delta
        self.refresher = (se.refresher or "uac") == "uac"

    def _start_session_timer(self, now: float) -> None:
        self._timers.clear("refresh", "expiry")
        interval = self.session_interval
        if not self._st_enabled or interval is None:
            return
        if self.refresher:
            # RFC 4028 10: refresh "once half the session interval has elapsed".
            self._timers.set("refresh", now + interval / 2)
        else:
            # RFC 4028 10: the other side sends BYE "at the session expiration
            # minus the minimum of 32 seconds and one third of the interval".
            self._timers.set("expiry", now + interval - min(32, interval / 3))

    def _on_timer_refresh(self, now: float) -> None:
        if self.state is not SessionState.CONFIRMED:
            self._timers.set("refresh", now + 1.0)
            return
        peer_update = self._peer_allow is not None and "UPDATE" in self._peer_allow
        if self._refresh_method == "UPDATE" and peer_update and self._pending_in is None:
            self._send_offer("UPDATE", None, [], now, refresh=True)
        elif (
            not self._invite_in_progress()
            and self.negotiation is Negotiation.STABLE
            and self.local_sdp is not None
        ):
            # RFC 4028 7.4 / 9: a re-INVITE when UPDATE is not allowed; the SDP
            # is our last one unchanged (RFC 3264 8: same version, same SDP).
            self._send_offer("INVITE", self.local_sdp, [], now, refresh=True)
        else:
            self._timers.set("refresh", now + 1.0)

    def _on_timer_expiry(self, now: float) -> None:
        # JsSIP: terminate(status 408 "Session Timer Expired", cause REQUEST_TIMEOUT).
        headers = [_reason_header(408, "Session Timer Expired")]
        self._end_with_bye("system", causes.REQUEST_TIMEOUT, None, headers, now)

    # -- internals: other timers -------------------------------------------------------

    def _on_timer_no_answer(self, now: float) -> None:
        if self.state is SessionState.WAITING_FOR_ANSWER:
            self.reject(now, self._no_answer_status, cause=causes.NO_ANSWER)

    def _on_timer_expires(self, now: float) -> None:
        if self.state is SessionState.WAITING_FOR_ANSWER:
            self._move(SessionInput.REJECT)
            self._respond_initial(487, None, [], now)
            self._emit(Failed(originator="system", cause=causes.EXPIRES))
            self._cleanup()

    def _on_timer_prack_retransmit(self, now: float) -> None:
        reliable = self._reliable
        if reliable is None or self._server_tid is None:
            return
        # RFC 3262 3: retransmitted "with an interval that starts at T1 seconds
        # and doubles for each retransmission".
        self.core.send_response(self._server_tid, reliable.response, now)
        reliable.interval *= 2
        reliable.next_send = now + reliable.interval
        self._arm_reliable()

    def _on_timer_prack_timeout(self, now: float) -> None:
        # RFC 3262 3: after 64*T1 without PRACK "the UAS SHOULD reject the
        # original request with a 5xx response".
        if self.state in (SessionState.WAITING_FOR_ANSWER, SessionState.ANSWERED):
            self._move(SessionInput.REJECT)
            self._respond_initial(504, "PRACK Timeout", [], now)
            self._emit(Failed(originator="system", cause=causes.REQUEST_TIMEOUT))
            self._cleanup()

    def _on_timer_glare(self, now: float) -> None:
        glare = self._glare
        if glare is None or self.state is not SessionState.CONFIRMED:
            self._glare = None
            return
        method, sdp, headers = glare
        busy = self.negotiation is not Negotiation.STABLE or self._pending_in is not None
        if busy or (method == "INVITE" and self._invite_in_progress()):
            self._timers.set("glare", now + self._backoff())
            return
        self._glare = None
        self._send_offer(method, sdp, headers, now)

    def _backoff(self) -> float:
        # RFC 3261 14.1: 2.1-4 s for the Call-ID's owner, 0-2 s otherwise, in
        # units of 10 ms; drawn from the core's (injectable) random source.
        fraction = int(self.core.new_tag(), 16) / 2.0**64
        if self.direction == "outgoing":
            return round(2.1 + fraction * 1.9, 2)
        return round(fraction * 2.0, 2)

    # -- internals: responses ---------------------------------------------------------

    def _on_response(self, event: ResponseReceived, now: float) -> None:
        tid = event.transaction_id
        is_2xx = 200 <= event.response.status_code < 300
        # RFC 6026 7.2 / RFC 3261 13.2.2.4: a retransmitted 2xx earns the ACK
        # again; a 2xx from another fork gets its own ACK and a BYE.
        if tid == self._invite_tid and self._invite_final:
            if is_2xx:
                self._on_late_2xx(event, now)
            return
        ack = self._acks.get(tid)
        if ack is not None:
            if is_2xx:
                self.core.send_ack(ack, now)
            return
        record = self._out.get(tid)
        if record is None:
            return
        handler = getattr(self, f"_on_{record.kind}_response")
        handler(record, event, now)

    def _on_late_2xx(self, event: ResponseReceived, now: float) -> None:
        response = event.response
        if self.dialog is not None and response.to_tag == self.dialog.id.remote_tag:
            ack = self._acks.get(event.transaction_id)
            if ack is not None:
                self.core.send_ack(ack, now)
            return
        self._ack_and_bye_fork(event.request, response, now)

    def _ack_and_bye_fork(self, invite: Request, response: Response, now: float) -> None:
        """RFC 3261 13.2.2.4: a 2xx that makes a second dialog is ACKed, then BYEd."""
        did = dialog_id_for_response(response)
        dialog = self._stray.get(did)
        first = dialog is None
        if dialog is None:
            try:
                dialog = Dialog.from_uac(invite, response, self.contact)
            except (RemoteProtocolError, LocalProtocolError) as exc:
                logger.info("cannot ACK a forked 2xx: %s", exc)
                return
            self._stray[did] = dialog
        self.core.send_ack(self._build_ack(dialog, invite, None), now)
        if first:
            self._send_in_dialog(dialog, "BYE", [], b"", now, "stray_bye")

    def _on_invite_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        response = event.response
        request = event.request
        self.request = request
        record.request = request
        status = response.status_code
        if status < 200:
            self._on_invite_1xx(request, response, now)
        elif status < 300:
            self._on_invite_2xx(event, now)
        else:
            self._on_invite_failure(record, event, now)

    def _on_invite_1xx(self, request: Request, response: Response, now: float) -> None:
        if not self._move(SessionInput.RECV_1XX):
            return
        if response.status_code == 100 or self.state is SessionState.CANCELED:
            return
        dialog = None
        if response.to_tag:
            did = dialog_id_for_response(response)
            dialog = self._early.get(did)
            try:
                if dialog is None:
                    dialog = Dialog.from_uac(request, response, self.contact)
                    self._early[did] = dialog
                    self.core.add_dialog(dialog)
                else:
                    dialog.update_from_response(response)
            except RemoteProtocolError as exc:
                logger.info("dropped a provisional response: %s", exc)
                return
        if response.has_header("Allow"):
            self._peer_allow = _methods(response)
        if (
            "100rel" in _tokens(response, "Require")
            and dialog is not None
            and not self._prack(request, response, dialog, now)
        ):
            return  # RFC 3262 4: a retransmission, already PRACKed
        sdp = _sdp_of(response)
        if sdp is not None and self.negotiation is Negotiation.LOCAL_OFFER:
            self._take_answer(sdp, response)
        self._emit(Progress(originator="remote", response=response, sdp=sdp))

    def _prack(self, request: Request, response: Response, dialog: Dialog, now: float) -> bool:
        try:
            rseq = response.parse_header("RSeq")
        except ParseError:
            rseq = None
        if rseq is None:
            return True  # RFC 3262 7.1 wants RSeq; without one it is not reliable
        last = self._rseq_seen.get(dialog.id)
        if last is not None and rseq <= last:
            return False
        self._rseq_seen[dialog.id] = rseq
        # RFC 3262 7.2: RAck = RSeq, then the CSeq number and method of the INVITE.
        rack = f"{rseq} {request.cseq.seq} {request.cseq.method}"
        self._send_in_dialog(dialog, "PRACK", [("RAck", rack)], b"", now, "prack")
        return True

    def _take_answer(self, sdp: bytes, message: Request | Response) -> None:
        self.negotiation = Negotiation.STABLE
        self.remote_sdp = sdp
        self._emit(RemoteSdp(type="answer", sdp=sdp, message=message))

    def _on_invite_2xx(self, event: ResponseReceived, now: float) -> None:
        request, response = event.request, event.response
        tid = event.transaction_id
        if self.state is SessionState.CANCELED:
            # RFC 3261 15: a 2xx that crossed our CANCEL: ACK, then BYE.
            self._invite_final = True
            self._out.pop(tid, None)
            self._ack_and_bye_fork(request, response, now)
            self._cleanup()
            return
        did = dialog_id_for_response(response)
        dialog = self._early.pop(did, None)
        try:
            if dialog is None:
                dialog = Dialog.from_uac(request, response, self.contact)
            else:
                dialog.update_from_response(response)
        except RemoteProtocolError as exc:
            logger.info("dropped a 2xx: %s", exc)
            return
        for early in self._early.values():
            # The other forks' early dialogs end with the call's (13.2.2.4).
            self.core.remove_dialog(early)
        self._early.clear()
        self.dialog = dialog
        self.core.add_dialog(dialog)
        self._invite_final = True
        if response.has_header("Allow"):
            self._peer_allow = _methods(response)
        self._uac_session_timer(response)
        sdp = _sdp_of(response)
        if self.negotiation is Negotiation.STABLE and self.local_sdp is None and sdp is not None:
            # Late offer: the 2xx offers, our ACK will answer (acknowledge()).
            self._move(SessionInput.RECV_2XX_OFFER)
            self.remote_sdp = sdp
            self._emit(Accepted(originator="remote", response=response))
            self._emit(RemoteSdp(type="offer", sdp=sdp, message=response))
            return
        self._move(SessionInput.RECV_2XX)
        if sdp is not None and self.negotiation is Negotiation.LOCAL_OFFER:
            self._take_answer(sdp, response)
        self.negotiation = Negotiation.STABLE
        ack = self._send_ack_for(tid, None, now)
        self._emit(Accepted(originator="remote", response=response))
        self._emit(Confirmed(originator="local", ack=ack))
        self._start_session_timer(now)

    def _on_invite_failure(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        response = event.response
        if (
            response.status_code == 422
            and self.state is not SessionState.CANCELED
            and self._retry_422(record, event.request, response, now)
        ):
            return
        self._out.pop(event.transaction_id, None)
        self._invite_final = True
        if self._move(SessionInput.RECV_FAILURE) and self.state is SessionState.TERMINATED:
            self._emit(
                Failed(
                    originator="remote",
                    cause=causes.cause_for_status(response.status_code),
                    message=response,
                )
            )
        self._cleanup()

    def _retry_422(
        self, record: _Outgoing, request: Request, response: Response, now: float
    ) -> bool:
        """RFC 4028 7.4: retry with Session-Expires raised to the 422's Min-SE."""
        try:
            min_se = response.parse_header("Min-SE")
        except ParseError:
            min_se = None
        if not self._st_enabled or min_se is None or record.retries_422 >= _MAX_422_RETRIES:
            return False
        if min_se.delta <= self._st_min_se and min_se.delta <= self._st_expires:
            return False  # nothing to raise: it would loop
        self._st_min_se = max(self._st_min_se, min_se.delta)
        self._st_expires = max(self._st_expires, min_se.delta)
        retries = record.retries_422 + 1
        if record.kind == "invite":
            retry = request.copy()
            for name in ("Via", "Authorization", "Proxy-Authorization"):
                retry.remove_header(name)
            retry.set_header("CSeq", f"{request.cseq.seq + 1} INVITE")
            retry.set_header("Session-Expires", str(self._st_expires))
            retry.set_header("Min-SE", str(self._st_min_se))
            self._send_invite(retry, now)
            self._out[self._invite_tid or ""].retries_422 = retries
            return True
        self._out.pop(self._tid_of(record), None)
        if self.state is SessionState.CONFIRMED:
            self.session_interval = max(self.session_interval or 0, self._st_expires)
            sdp = _sdp_of(request)
            if record.kind == "reinvite" or sdp is not None:
                self.negotiation = Negotiation.STABLE
            method = request.method
            self._send_offer(method, sdp, [], now, refresh=record.refresh, retries_422=retries)
        return True

    def _tid_of(self, record: _Outgoing) -> str:
        return next(tid for tid, r in self._out.items() if r is record)

    def _on_reinvite_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        self._on_offer_response(record, event, now)

    def _on_update_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        self._on_offer_response(record, event, now)

    def _on_offer_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        response, request = event.response, event.request
        status = response.status_code
        method = request.method
        if status < 200:
            return
        offered = _sdp_of(request) is not None and not record.refresh
        if status < 300:
            assert self.dialog is not None
            try:
                self.dialog.update_from_response(response)
            except (RemoteProtocolError, LocalProtocolError) as exc:
                logger.info("2xx to %s not applied to the dialog: %s", method, exc)
            if method == "INVITE":
                # A terminated dialog still owes the ACK (RFC 3261 13.2.2.4).
                self._send_ack_for(event.transaction_id, None, now)
            else:
                self._out.pop(event.transaction_id, None)
            if self.is_ended:
                return
            if response.has_header("Allow"):
                self._peer_allow = _methods(response)
            sdp = _sdp_of(response)
            if offered and sdp is not None:
                self._take_answer(sdp, response)
            elif offered:
                self.negotiation = Negotiation.STABLE
            self._uac_session_timer(response)
            self._start_session_timer(now)
            if record.refresh:
                self._emit(
                    SessionRefreshed(
                        originator="local",
                        interval=self.session_interval,
                        refresher=self.refresher,
                    )
                )
            else:
                self._emit(RenegotiationSucceeded(method=method, response=response))
            return
        if status == 422 and self._retry_422(record, request, response, now):
            return
        self._out.pop(event.transaction_id, None)
        if offered:
            self.negotiation = Negotiation.STABLE
        if self.is_ended:
            return
        if status == 491 and not record.refresh:
            # RFC 3261 14.1: glare; try again after the back-off.
            self._glare = (method, _sdp_of(request), [])
            self._timers.set("glare", now + self._backoff())
            return
        if status in (408, 481):
            # RFC 3261 12.2.1.2: the dialog is gone; JsSIP ends with DIALOG_ERROR.
            self._end_with_bye("remote", causes.DIALOG_ERROR, response, [], now)
            return
        if record.refresh:
            return
        self._emit(
            RenegotiationFailed(
                method=method, cause=causes.cause_for_status(status), response=response
            )
        )

    def _on_bye_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        if event.response.status_code >= 200:
            self._out.pop(event.transaction_id, None)

    _on_stray_bye_response = _on_bye_response
    _on_prack_response = _on_bye_response
    _on_notify_response = _on_bye_response

    def _on_info_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        status = event.response.status_code
        if status < 200:
            return
        self._out.pop(event.transaction_id, None)
        cause = None if status < 300 else causes.cause_for_status(status)
        self._emit(
            InfoAnswered(transaction_id=event.transaction_id, response=event.response, cause=cause)
        )
        if status in (408, 481):
            self._end_with_bye("remote", causes.DIALOG_ERROR, event.response, [], now)

    def _on_refer_response(self, record: _Outgoing, event: ResponseReceived, now: float) -> None:
        status = event.response.status_code
        if status < 200:
            return
        self._out.pop(event.transaction_id, None)
        assert record.refer_id is not None
        if status >= 300:
            self._refers_out.discard(record.refer_id)
        cause = None if status < 300 else causes.cause_for_status(status)
        self._emit(ReferResponded(refer_id=record.refer_id, response=event.response, cause=cause))

    def _on_request_failed(self, event: RequestFailed, now: float) -> None:
        record = self._out.pop(event.transaction_id, None)
        if record is None:
            return
        kind = record.kind
        if kind == "invite":
            self._invite_final = True
            if self.state is not SessionState.CANCELED:
                originator: Originator = "remote" if event.response is not None else "system"
                self._fail_or_end(originator, event.cause, event.response)
            self._cleanup()
        elif kind in ("reinvite", "update") and not self.is_ended:
            if record.request.body and not record.refresh:
                self.negotiation = Negotiation.STABLE
            # RFC 3261 12.2.1.2: a timeout ends the dialog.
            if event.cause == causes.CONNECTION_ERROR:
                self._fail_or_end("system", event.cause, None)
                self._cleanup()
            else:
                self._end_with_bye("system", event.cause, None, [], now)
        elif kind == "info":
            self._emit(
                InfoAnswered(transaction_id=event.transaction_id, response=None, cause=event.cause)
            )
        elif kind == "refer":
            assert record.refer_id is not None
            self._refers_out.discard(record.refer_id)
            self._emit(ReferResponded(refer_id=record.refer_id, response=None, cause=event.cause))

    # -- internals: requests -----------------------------------------------------------

    def _reply(
        self,
        request: Request,
        tid: str,
        status: int,
        now: float,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | str = b"",
        reason: str | None = None,
    ) -> Response:
        did = dialog_id_for_incoming(request)
        dialog = self.dialog if self.dialog is not None and self.dialog.id == did else None
        dialog = dialog or self._early.get(did)
        if dialog is not None:
            response = dialog.create_response(request, status, reason, headers=headers, body=body)
        else:
            response = Response.for_request(request, status, reason, headers=headers, body=body)
        self.core.send_response(tid, response, now)
        return response

    def _on_request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        handler = getattr(self, f"_on_{request.method.lower()}")
        handler(request, event.transaction_id, now)

    def _on_bye(self, request: Request, tid: str, now: float) -> None:
        self._reply(request, tid, 200, now)
        did = dialog_id_for_incoming(request)
        if did in self._early:
            # A callee ending one fork's early dialog: the INVITE goes on.
            self.core.remove_dialog(self._early.pop(did))
            return
        if self._bye_deferred is not None:
            self._bye_deferred = None
            self._cleanup()
            return
        if self.state in _EARLY_UAS and self.request is not None:
            # RFC 3261 15.1.2: the INVITE of an early dialog ended by BYE gets 487.
            self._respond_initial(487, None, [], now)
        if self._move(SessionInput.RECV_BYE):
            self._emit(Ended(originator="remote", cause=causes.BYE, message=request))
            self._cleanup()

    def _on_prack(self, request: Request, tid: str, now: float) -> None:
        reliable = self._reliable
        try:
            rack = request.parse_header("RAck")
        except ParseError:
            self._reply(request, tid, 400, now, reason="Bad RAck")
            return
        invite = self.request
        assert invite is not None
        if (
            reliable is None
            or rack is None
            or (rack.rseq, rack.cseq, rack.method) != (reliable.rseq, invite.cseq.seq, "INVITE")
        ):
            # RFC 3262 3: "If the PRACK does not match any unacknowledged reliable
            # provisional response, the UAS MUST respond to the PRACK with a 481".
            self._reply(request, tid, 481, now)
            return
        self._reply(request, tid, 200, now)
        self._reliable = None
        self._arm_reliable()
        if self._held_2xx is not None and self.state is SessionState.ANSWERED:
            sdp, headers = self._held_2xx
            self._held_2xx = None
            self._send_2xx(sdp, headers, now)
        elif self._queued_1xx and self.state is SessionState.WAITING_FOR_ANSWER:
            status, sdp = self._queued_1xx.pop(0)
            self._send_1xx(status, sdp, True, now)

    def _incoming_offer_conflict(self, request: Request, tid: str, now: float) -> bool:
        """491 / 500 to an offer colliding with a pending one (RFC 3261 14.2, RFC 3311 5.2)."""
        if self.negotiation is Negotiation.LOCAL_OFFER or (
            request.method == "INVITE" and any(r.kind == "reinvite" for r in self._out.values())
        ):
            self._reply(request, tid, 491, now)
            return True
        if self.negotiation is Negotiation.REMOTE_OFFER or self._pending_in is not None:
            retry_after = int(int(self.core.new_tag(), 16) % 11)
            headers = [("Retry-After", str(retry_after))]
            self._reply(request, tid, 500, now, headers=headers)
            return True
        return False

    def _on_invite(self, request: Request, tid: str, now: float) -> None:
        if self.state is not SessionState.CONFIRMED:
            # RFC 3261 14.2: an INVITE while ours is unfinished: 500 + Retry-After.
            self._reply(request, tid, 500, now, headers=[("Retry-After", "1")])
            return
        sdp = _sdp_of(request)
        if request.body and sdp is None:
            self._reply(request, tid, 415, now, headers=[("Accept", SDP)])
            return
        if self._incoming_offer_conflict(request, tid, now):
            return
        too_small = self._check_session_expires(request)
        if too_small is not None:
            self._reply(request, tid, 422, now, headers=too_small)
            return
        if request.has_header("Allow"):
            self._peer_allow = _methods(request)
        self._server_tids.add(tid)
        self._reinvite_in_tids[request.cseq.seq] = tid
        if sdp is not None and sdp == self.remote_sdp and self.local_sdp is not None:
            self._answer_refresh(request, tid, self.local_sdp, now)
            return
        self._pending_in = _PendingOffer(
            request=request,
            transaction_id=tid,
            had_offer=sdp is not None,
            previous_remote=self.remote_sdp,
        )
        if sdp is not None:
            self.negotiation = Negotiation.REMOTE_OFFER
            self.remote_sdp = sdp
            self._emit(RemoteSdp(type="offer", sdp=sdp, message=request))
        self._emit(ReinviteReceived(request=request, sdp=sdp))

    def _on_update(self, request: Request, tid: str, now: float) -> None:
        if self.is_ended:
            self._reply(request, tid, 481, now)
            return
        sdp = _sdp_of(request)
        if request.body and sdp is None:
            self._reply(request, tid, 415, now, headers=[("Accept", SDP)])
            return
        if sdp is not None and self._incoming_offer_conflict(request, tid, now):
            return
        too_small = self._check_session_expires(request)
        if too_small is not None:
            self._reply(request, tid, 422, now, headers=too_small)
            return
        if request.has_header("Allow"):
            self._peer_allow = _methods(request)
        if sdp is None:
            self._answer_refresh(request, tid, None, now)
            return
        if sdp == self.remote_sdp and self.local_sdp is not None:
            self._answer_refresh(request, tid, self.local_sdp, now)
            return
        self._pending_in = _PendingOffer(
            request=request, transaction_id=tid, had_offer=True, previous_remote=self.remote_sdp
        )
        self.negotiation = Negotiation.REMOTE_OFFER
        self.remote_sdp = sdp
        self._emit(RemoteSdp(type="offer", sdp=sdp, message=request))
        self._emit(UpdateReceived(request=request, sdp=sdp))

    def _answer_refresh(self, request: Request, tid: str, sdp: bytes | None, now: float) -> None:
        """200 to a refresh (no offer, or the same offer again): nothing for the media."""
        headers = [("Allow", self._allow()), ("Supported", self._supported())]
        timers = self._uas_session_timer(request) if self.state in _ESTABLISHED else []
        headers += timers
        if sdp is not None:
            headers.append(("Content-Type", SDP))
        self._reply(request, tid, 200, now, headers=headers, body=sdp or b"")
        if self.state in _ESTABLISHED:
            self._start_session_timer(now)
            self._emit(
                SessionRefreshed(
                    originator="remote", interval=self.session_interval, refresher=self.refresher
                )
            )

    def _answer_pending(
        self, method: str, sdp: bytes, headers: list[tuple[str, str]], now: float
    ) -> None:
        pending = self._pending_in
        if pending is None or pending.request.method != method:
            raise LocalProtocolError(f"no {method} waits for an answer")
        self._pending_in = None
        request = pending.request
        extra = [*headers, ("Allow", self._allow()), ("Supported", self._supported())]
        extra += self._uas_session_timer(request)
        extra.append(("Content-Type", SDP))
        self._reply(request, pending.transaction_id, 200, now, headers=extra, body=sdp)
        self.local_sdp = sdp
        if pending.had_offer:
            self.negotiation = Negotiation.STABLE
        else:
            # An offerless re-INVITE: our offer is in the 2xx, the ACK answers.
            self.negotiation = Negotiation.LOCAL_OFFER
            self._late_offer_cseq = request.cseq.seq
        self._start_session_timer(now)

    def _reject_pending(
        self, method: str, status_code: int, reason_phrase: str | None, now: float
    ) -> None:
        pending = self._pending_in
        if pending is None or pending.request.method != method:
            raise LocalProtocolError(f"no {method} waits for an answer")
        if not 300 <= status_code <= 699:
            raise LocalProtocolError(f"a rejection is 300-699, not {status_code}")
        self._pending_in = None
        self._reply(pending.request, pending.transaction_id, status_code, now, reason=reason_phrase)
        if pending.had_offer:
            self.negotiation = Negotiation.STABLE
            # RFC 3261 14.2: a rejected re-INVITE leaves the session unchanged.
            self.remote_sdp = pending.previous_remote

    def _on_info(self, request: Request, tid: str, now: float) -> None:
        content_type = _content_type(request)
        if content_type is None:
            # JsSIP: an INFO without Content-Type is 415.
            self._reply(request, tid, 415, now)
            return
        self._reply(request, tid, 200, now)
        body = bytes(request.body)
        if content_type == DTMF_RELAY:
            text = body.decode("utf-8", "replace")
            signal = _DTMF_SIGNAL_RE.search(text)
            if signal is None:
                logger.info("INFO DTMF without a valid Signal, discarded")
                return
            duration_match = _DTMF_DURATION_RE.search(text)
            duration = int(duration_match.group(1)) if duration_match else DTMF_DEFAULT_DURATION
            self._emit(
                DtmfReceived(request=request, tone=signal.group(1).upper(), duration=duration)
            )
            return
        self._emit(InfoReceived(request=request, content_type=content_type, body=body))

    def _on_refer(self, request: Request, tid: str, now: float) -> None:
        if self.state not in _ESTABLISHED:
            self._reply(request, tid, 403, now)
            return
        if len(request.get_headers("Refer-To")) != 1:
            # RFC 3515 2.4.1: exactly one Refer-To.
            self._reply(request, tid, 400, now, reason="Bad Refer-To")
            return
        try:
            refer_to = request.parse_header("Refer-To")
        except ParseError:
            self._reply(request, tid, 400, now, reason="Bad Refer-To")
            return
        refer_id = request.cseq.seq
        self._refers_in[refer_id] = _ReferIn(transaction_id=tid, request=request)
        self._emit(ReferReceived(request=request, refer_id=refer_id, refer_to=refer_to))

    def _on_notify(self, request: Request, tid: str, now: float) -> None:
        try:
            event = request.parse_header("Event")
            state = request.parse_header("Subscription-State")
        except ParseError:
            self._reply(request, tid, 400, now)
            return
        if event is None or event.event.lower() != "refer":
            # RFC 6665 8.2.1: an event package we did not subscribe to.
            self._reply(request, tid, 489, now)
            return
        refer_id = int(event.id) if event.id and event.id.isdigit() else None
        if refer_id is None and len(self._refers_out) == 1:
            refer_id = next(iter(self._refers_out))  # RFC 3515 2.4.4: id optional for the first
        if refer_id not in self._refers_out:
            self._reply(request, tid, 481, now)
            return
        assert refer_id is not None
        match = _SIPFRAG_RE.match(bytes(request.body).decode("utf-8", "replace"))
        if match is None:
            self._reply(request, tid, 400, now, reason="Bad sipfrag")
            return
        self._reply(request, tid, 200, now)
        status = int(match.group(1))
        terminated = state is not None and state.state.lower() == "terminated"
        if terminated:
            self._refers_out.discard(refer_id)
        self._emit(
            ReferProgress(
                refer_id=refer_id,
                status_code=status,
                reason_phrase=match.group(2).strip(),
                final=status >= 200 or terminated,
                request=request,
            )
        )

    def _refer_in(self, refer_id: int) -> _ReferIn:
        refer = self._refers_in.get(refer_id)
        if refer is None or refer.answered:
            raise LocalProtocolError(f"no REFER {refer_id} waits for a decision")
        return refer

    def _on_ack(self, ack: Request, now: float) -> None:
        invite = self.request
        seq = ack.cseq.seq
        if self._bye_deferred is not None and self.dialog is not None:
            headers, self._bye_deferred = self._bye_deferred, None
            self._send_bye(self.dialog, headers, now)
            self._cleanup()
            return
        if invite is not None and seq == invite.cseq.seq and self.direction == "incoming":
            if not self._move(SessionInput.RECV_ACK):
                return
            if self.negotiation is Negotiation.LOCAL_OFFER:
                sdp = _sdp_of(ack)
                if sdp is None:
                    # JsSIP: a late-offer call whose ACK has no answer ends (MISSING_SDP).
                    self._emit(Confirmed(originator="remote", ack=ack))
                    self._end_with_bye("local", causes.MISSING_SDP, ack, [], now)
                    return
                self._take_answer(sdp, ack)
            self._emit(Confirmed(originator="remote", ack=ack))
            return
        if seq == self._late_offer_cseq:
            self._late_offer_cseq = None
            sdp = _sdp_of(ack)
            if sdp is not None:
                self._take_answer(sdp, ack)
            else:
                self.negotiation = Negotiation.STABLE

    def _on_cancelled(self, event: RequestCancelled) -> None:
        if event.transaction_id != self._server_tid:
            return
        if self._move(SessionInput.RECV_CANCEL):
            self._emit(Failed(originator="remote", cause=causes.CANCELED, message=event.cancel))
            self._cleanup()

    def _on_ack_timeout(self, event: AckTimedOut, now: float) -> None:
        if self._bye_deferred is not None and self.dialog is not None:
            # RFC 3261 15: "... or until the server transaction times out".
            headers, self._bye_deferred = self._bye_deferred, None
            self._send_bye(self.dialog, headers, now)
            self._cleanup()
            return
        if self.is_ended:
            return
        # JsSIP: no ACK for our 2xx ends the call with BYE, cause NO_ACK; the
        # callee may send that BYE now that the transaction has timed out.
        self._late_offer_cseq = None
        self._end_with_bye("remote", causes.NO_ACK, None, [], now, ack_timed_out=True)
