"""Dialogs: RFC 3261 section 12, with RFC 3261 13.2.2.4 and RFC 6026 for 2xx and forking.

Theory of operation
-------------------

A :class:`Dialog` is the state two user agents share for the requests they send
each other after a dialog-creating request (RFC 3261 12): the dialog ID, the
local and remote sequence numbers, the local and remote URIs, the remote target,
the route set and the "secure" flag. It does no I/O and keeps no timers: it
builds requests and responses and takes the messages the core hands it.

How a dialog is born (RFC 3261 12.1):

* UAC side, :meth:`Dialog.from_uac`: from the request we sent and a 101-199
  response with a To tag (an *early* dialog, INVITE only) or a 2xx (a
  *confirmed* dialog). Each To tag is a distinct dialog: a forked INVITE gives
  one independent :class:`Dialog` per answering UAS (RFC 3261 13.2.2.4), and
  the core keys them by :class:`DialogId`.
* UAS side, :meth:`Dialog.from_uas`: from the request received and the To tag we
  chose, before the first 101-299 response goes out. The dialog starts "early";
  the response built with :meth:`Dialog.create_response` (or reported with
  :meth:`Dialog.update_from_sent_response`) moves it on.

How it moves, in :data:`TRANSITIONS` (``(state, input) -> next state``): 1xx,
2xx and 300-699 responses to the dialog-creating request, sent (``SEND_*``, UAS)
or received (``RECV_*``, UAC), a BYE received, and :meth:`Dialog.terminate` for
every ending the usage decides (a BYE transaction that ended, a 481 or 408 to a
mid-dialog request per RFC 3261 12.2.1.2, the 64*T1 end of the early dialogs
that no 2xx confirmed per 13.2.2.4, ...). A local input the table does not hold
raises :class:`~websip.exceptions.LocalProtocolError`. A *remote* input that
arrives late (a 1xx or a 300-699 to the initial INVITE after this dialog's 2xx)
is discarded and reported by :meth:`Dialog.update_from_response` returning
False: RFC 3261 13.2.2.3, "Subsequent final responses ... MUST be ignored".

What the dialog does with requests:

* :meth:`Dialog.create_request` builds a request within the dialog (RFC 3261
  12.2.1.1): Request-URI and Route from the remote target and route set (loose
  or strict routing), To/From/Call-ID from the dialog, the next local CSeq, a
  Contact for target refresh requests, Max-Forwards 70. No Via: the transaction
  layer adds it. :meth:`Dialog.create_ack` builds the ACK for a 2xx, which the
  dialog (not a transaction) owns (13.2.2.4). CANCEL is never built here: it
  copies the INVITE it cancels (RFC 3261 9.1).
* :meth:`Dialog.receive_request` applies RFC 3261 12.2.2 to a request received
  in the dialog: CSeq order (500 when out of order), the remote sequence number,
  BYE. A target refresh request's Contact becomes the remote target only when
  the request is accepted, i.e. when its 2xx is sent: 12.2.2 says requests are
  atomic ("If the request is rejected, none of the state changes are
  performed"), and JsSIP learned this the hard way (versatica/JsSIP#127).

Errors: a remote fault in a request raises
:class:`~websip.exceptions.RemoteProtocolError` carrying the status to answer
(400, 481, 500) and changes nothing; a remote fault in a response raises it too
(its ``status_code`` is then meaningless: the core drops the response). A local
misuse raises :class:`~websip.exceptions.LocalProtocolError`.

What is left out on purpose: RFC 6665's NOTIFY that creates a subscription
dialog before the 2xx to SUBSCRIBE, and the RFC 3262/6141 refresh of the
remote target by reliable provisional responses. Both belong to the usages that
need them and can be added as constructors/inputs without changing this table.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from websip.exceptions import LocalProtocolError, ParseError, RemoteProtocolError
from websip.sip import URI, CSeq, NameAddr, Request, Response
from websip.sip.names import canonical_key

__all__ = [
    "DIALOG_CREATING_METHODS",
    "MAX_FORWARDS",
    "TARGET_REFRESH_METHODS",
    "TRANSITIONS",
    "Dialog",
    "DialogId",
    "DialogInput",
    "DialogRole",
    "DialogState",
    "dialog_id_for_incoming",
    "dialog_id_for_response",
    "is_in_dialog",
    "transition",
]

# RFC 3261 8.1.1.6: "a UAC MUST insert a Max-Forwards header field into each
# request it originates with a value that SHOULD be 70".
MAX_FORWARDS: Final = 70
# RFC 3261 8.1.1.5: a CSeq number "MUST be expressible as a 32-bit unsigned integer".
MAX_CSEQ: Final = 2**32 - 1

# RFC 3261 12.1: only INVITE creates dialogs in the base spec; RFC 6665 adds
# SUBSCRIBE and RFC 3515 REFER (whose implicit subscription lives in a dialog).
# Only INVITE has early dialogs (101-199 with a To tag).
DIALOG_CREATING_METHODS: Final = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
# RFC 3261 12.2: re-INVITE is the target refresh request of INVITE dialogs;
# RFC 3311 adds UPDATE, and RFC 6665 makes SUBSCRIBE and NOTIFY the target
# refresh requests of subscription dialogs (JsSIP's Dialog.js treats the same four).
TARGET_REFRESH_METHODS: Final = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"})

# Header fields create_request/create_ack write from dialog state; a caller
# passing one of these would contradict RFC 3261 12.2.1.1 (Via is the
# transaction layer's, RFC 3261 8.1.1.7 / 17.1.1.3).
_DIALOG_OWNED_HEADERS: Final = frozenset({"to", "from", "call-id", "cseq", "route", "via"})

HeaderList = Iterable[tuple[str, Any]]


class DialogState(enum.Enum):
    """The states of a dialog (RFC 3261 12, "early" and "confirmed", and its end)."""

    EARLY = "Early"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class DialogRole(enum.Enum):
    """Which side of the dialog-creating transaction this UA was (RFC 3261 12.1)."""

    UAC = "UAC"
    UAS = "UAS"


class DialogInput(enum.Enum):
    """What can move a dialog.

    The ``*_1XX``, ``*_2XX`` and ``*_FAILURE`` inputs are responses to the
    dialog-creating request only; responses to requests sent within the dialog
    never move it (RFC 3261 12.2.1.2 leaves that decision to the usage, which
    calls :meth:`Dialog.terminate`).
    """

    RECV_1XX = "1xx received"  # 101-199 with To tag (UAC)
    SEND_1XX = "1xx sent"  # 101-199 (UAS)
    RECV_2XX = "2xx received"  # UAC
    SEND_2XX = "2xx sent"  # UAS
    RECV_FAILURE = "300-699 received"  # UAC
    SEND_FAILURE = "300-699 sent"  # UAS
    RECV_BYE = "BYE received"
    TERMINATE = "terminate"  # the usage ends the dialog (see the table)


_E, _C, _T = DialogState.EARLY, DialogState.CONFIRMED, DialogState.TERMINATED
_I = DialogInput

# RFC 3261 12 ("A dialog can also be in the 'early' state, which occurs when it
# is created with a provisional response, and then transition to the
# 'confirmed' state when a 2xx final response arrives. For other responses, or
# if no response arrives at all on that dialog, the early dialog terminates."):
#
#        1xx (more provisionals)
#          +-----+
#          |     v            2xx sent/received
#        +---------+ -----------------------------> +-----------+  2xx again
#   ---->|  Early  |                                | Confirmed |<---------+
#        +---------+                                +-----------+----------+
#            |   300-699, BYE received, terminate         |
#            |                                            | BYE received,
#            v                                            | terminate
#        +------------+ <---------------------------------+
#        | Terminated |
#        +------------+
TRANSITIONS: Final[Mapping[tuple[DialogState, DialogInput], DialogState]] = MappingProxyType(
    {
        # -- Early ------------------------------------------------------------
        # RFC 3261 13.2.2.1 / 13.3.1.1: any number of provisional responses on
        # the same early dialog ("Each of these MUST indicate the same dialog ID").
        (_E, _I.RECV_1XX): _E,
        (_E, _I.SEND_1XX): _E,
        # RFC 3261 13.2.2.4: "If the dialog identifier in the 2xx response matches
        # the dialog identifier of an existing dialog, the dialog MUST be
        # transitioned to the 'confirmed' state"; 13.3.1.4 on the UAS side.
        (_E, _I.RECV_2XX): _C,
        (_E, _I.SEND_2XX): _C,
        # RFC 3261 12.3: "if a request outside of a dialog generates a non-2xx
        # final response, any early dialogs created through provisional
        # responses to that request are terminated" (13.2.2.3 likewise).
        (_E, _I.RECV_FAILURE): _T,
        (_E, _I.SEND_FAILURE): _T,
        # RFC 3261 15: "The caller's UA MAY send a BYE for either confirmed or
        # early dialogs". (A callee MUST NOT; receiving one anyway is taken.)
        (_E, _I.RECV_BYE): _T,
        # RFC 3261 13.2.2.4: early dialogs not confirmed 64*T1 after the first
        # 2xx "are terminated"; also CANCEL outcomes, 199 (RFC 6228), ...
        (_E, _I.TERMINATE): _T,
        # -- Confirmed --------------------------------------------------------
        # RFC 6026 7.2: the INVITE client transaction in "Accepted" passes every
        # 2xx retransmission to the TU, which re-sends the ACK (13.2.2.4); the
        # UAS core retransmits its 2xx until the ACK arrives (13.3.1.4).
        (_C, _I.RECV_2XX): _C,
        (_C, _I.SEND_2XX): _C,
        # RFC 3261 12.3: "the BYE method terminates a session and the dialog
        # associated with it" (15.1.2 for the UAS receiving it).
        (_C, _I.RECV_BYE): _T,
        # RFC 3261 12.2.1.2 (481/408 to a mid-dialog request), 15.1.1 (our BYE
        # completed), usage-specific ends (RFC 6665 subscription terminated).
        (_C, _I.TERMINATE): _T,
    }
)

# Remote inputs that may legitimately arrive too late and are discarded, not
# raised: the network reorders, proxies fork (RFC 3261 13.2.2.3 "Subsequent
# final responses ... MUST be ignored"; a provisional that overtook nothing).
_DISCARDED_REMOTE: Final = frozenset(
    {
        (_C, _I.RECV_1XX),
        (_C, _I.RECV_FAILURE),
        (_T, _I.RECV_1XX),
        (_T, _I.RECV_FAILURE),
    }
)


def transition(state: DialogState, event: DialogInput) -> DialogState:
    """The state :data:`TRANSITIONS` gives ``state`` on ``event``.

    Raises:
        LocalProtocolError: the table has no such transition.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LocalProtocolError(
            f"dialog in state {state.value!r} cannot take input {event.value!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class DialogId:
    """A dialog identifier as one UA sees it (RFC 3261 12).

    Hashable: the core keys its dialog table with it. A tag is None when the
    peer is an RFC 2543 UA that sent none (RFC 3261 12.1.1 / 12.1.2: "the tag
    is considered to have a value of null").

    Attributes:
        call_id: the Call-ID, compared byte by byte (RFC 3261 20.8).
        local_tag: the tag this UA put in From (as UAC) or To (as UAS).
        remote_tag: the peer's tag.
    """

    call_id: str
    local_tag: str | None
    remote_tag: str | None


def dialog_id_for_incoming(request: Request) -> DialogId:
    """The dialog ID of a received request, UAS view (RFC 3261 12).

    Local tag = To tag, remote tag = From tag. Meaningful only when
    :func:`is_in_dialog` is true; look it up in the dialog table, and answer 481
    when it matches nothing (RFC 3261 12.2.2).
    """
    return DialogId(request.call_id, request.to_tag, request.from_tag)


def dialog_id_for_response(response: Response) -> DialogId:
    """The dialog ID of a received response, UAC view (RFC 3261 12).

    Local tag = From tag, remote tag = To tag. A response with a To tag that
    matches no dialog may create one (:meth:`Dialog.from_uac`, 13.2.2.1/13.2.2.4).
    """
    return DialogId(response.call_id, response.from_tag, response.to_tag)


def is_in_dialog(request: Request) -> bool:
    """Whether a request claims to be within a dialog: it has a To tag (RFC 3261 12.2.2).

    When it is and :func:`dialog_id_for_incoming` matches no dialog, the core
    answers 481 (Call/Transaction Does Not Exist).
    """
    return request.to_tag is not None


class Dialog:
    """One dialog (RFC 3261 12).

    Create it with :meth:`from_uac` or :meth:`from_uas`. Then build requests
    with :meth:`create_request` / :meth:`create_ack`, responses with
    :meth:`create_response`, and feed it what arrives: requests through
    :meth:`receive_request`, responses through :meth:`update_from_response`.

    Attributes:
        id: the dialog ID (this UA's view).
        role: UAC or UAS of the dialog-creating transaction.
        state: early, confirmed or terminated.
        local_uri / remote_uri: the From / To (UAC) or To / From (UAS) of the
            dialog-creating request, without tag (12.1.1, 12.1.2).
        local_seq: the last CSeq number sent; None until this UA sends a request
            (a UAS dialog, 12.1.1: "The local sequence number MUST be empty").
        remote_seq: the last CSeq number received; None until the peer sends a
            request (a UAC dialog, 12.1.2).
        remote_target: where requests go (the peer's Contact).
        route_set: the proxies to traverse, as Route values (12.1.1 / 12.1.2).
        secure: the "secure" flag: the dialog-creating Request-URI was SIPS.
        local_contact: this UA's Contact, put in target refresh requests and in
            dialog-establishing responses; None if unknown (then left out).
        initial_cseq: the CSeq of the dialog-creating request.
    """

    __slots__ = (
        "_pending_targets",
        "id",
        "initial_cseq",
        "local_contact",
        "local_seq",
        "local_uri",
        "remote_seq",
        "remote_target",
        "remote_uri",
        "role",
        "route_set",
        "secure",
        "state",
    )

    def __init__(
        self,
        *,
        id: DialogId,
        role: DialogRole,
        state: DialogState,
        local_uri: NameAddr,
        remote_uri: NameAddr,
        local_seq: int | None,
        remote_seq: int | None,
        remote_target: URI,
        route_set: list[NameAddr],
        secure: bool,
        local_contact: NameAddr | None,
        initial_cseq: CSeq,
    ) -> None:
        """Set every piece of state as given; prefer :meth:`from_uac` / :meth:`from_uas`."""
        self.id = id
        self.role = role
        self.state = state
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set
        self.secure = secure
        self.local_contact = local_contact
        self.initial_cseq = initial_cseq
        # Target refresh requests received and not answered yet: method ->
        # (CSeq number, the Contact URI to adopt when a 2xx is sent).
        self._pending_targets: dict[str, tuple[int, URI]] = {}

    # -- creation ----------------------------------------------------------------

    @classmethod
    def from_uac(
        cls,
        request: Request,
        response: Response,
        local_contact: NameAddr | URI | str | None = None,
    ) -> Dialog:
        """The dialog a response to our dialog-creating request establishes (RFC 3261 12.1.2).

        Args:
            request: the request we sent (INVITE, SUBSCRIBE or REFER).
            response: a 101-199 with a To tag (INVITE only: an early dialog) or a
                2xx (a confirmed dialog) to it. Call it once per To tag: with a
                forking proxy each tag is its own dialog (13.2.2.4).
            local_contact: our Contact for later target refresh requests; the
                request's Contact when None.

        Returns:
            The dialog, early for a 1xx and confirmed for a 2xx. Next: send the
            ACK of a 2xx to INVITE with :meth:`create_ack`.

        Raises:
            LocalProtocolError: the pair cannot create a dialog (method, status,
                no To tag on a 1xx, a response to another request).
            RemoteProtocolError: the response's Contact or Record-Route is
                malformed (drop the response).
        """
        if request.method not in DIALOG_CREATING_METHODS:
            raise LocalProtocolError(f"a {request.method} request does not create dialogs")
        status = response.status_code
        if not 101 <= status <= 299:
            raise LocalProtocolError(f"a {status} response does not create a dialog")
        if status < 200:
            # RFC 3261 12.1: "only 2xx and 101-199 responses with a To tag, where
            # the request was INVITE, will establish a dialog".
            if request.method != "INVITE":
                raise LocalProtocolError(
                    f"a provisional response to {request.method} creates no dialog"
                )
            if response.to_tag is None:
                raise LocalProtocolError("a provisional response without To tag creates no dialog")
        _check_response_matches(request, response)
        local_tag = request.from_tag
        if local_tag is None:
            raise LocalProtocolError("our dialog-creating request has no From tag")
        # RFC 3261 12.1.2: "The remote target MUST be set to the URI from the
        # Contact header field of the response." Without one (an RFC 2543 peer, or
        # a 1xx from a sloppy UAS), the Request-URI is the only address known to
        # reach that UAS; a 2xx with a Contact replaces it (13.2.2.4).
        contact_uri = _contact_uri(response)
        target = contact_uri if contact_uri is not None else _strip_for_ruri(request.ruri)
        # "The route set MUST be set to the list of URIs in the Record-Route
        # header field from the response, taken in reverse order".
        route_set = _record_route(response)
        route_set.reverse()
        own_contact: NameAddr | None
        if local_contact is not None:
            own_contact = _as_name_addr(local_contact)
        else:
            contact = request.parse_header("Contact")
            own_contact = contact.copy() if isinstance(contact, NameAddr) else None
        dialog = cls(
            # "The call identifier component of the dialog ID MUST be set to the
            # value of the Call-ID in the request. The local tag ... the tag in the
            # From field in the request, and the remote tag ... the tag in the To
            # field of the response" (null when absent: RFC 2543).
            id=DialogId(request.call_id, local_tag, response.to_tag),
            role=DialogRole.UAC,
            state=DialogState.EARLY if status < 200 else DialogState.CONFIRMED,
            # "The remote URI MUST be set to the URI in the To field, and the
            # local URI MUST be set to the URI in the From field."
            local_uri=_without_tag(request.parse_header("From")),
            remote_uri=_without_tag(request.parse_header("To")),
            # "The local sequence number MUST be set to the value of the sequence
            # number in the CSeq header field of the request. The remote sequence
            # number MUST be empty".
            local_seq=request.cseq.seq,
            remote_seq=None,
            remote_target=target,
            route_set=route_set,
            # "If the request was sent over TLS, and the Request-URI contained a
            # SIPS URI, the 'secure' flag is set to TRUE." A sips: Request-URI is
            # only ever sent over TLS (wss:) by the transport layer.
            secure=request.ruri.scheme == "sips",
            local_contact=own_contact,
            initial_cseq=request.cseq,
        )
        dialog._check_secure_target(contact_uri)
        return dialog

    @classmethod
    def from_uas(
        cls,
        request: Request,
        local_tag: str,
        local_contact: NameAddr | URI | str,
    ) -> Dialog:
        """The dialog we establish by answering ``request`` (RFC 3261 12.1.1).

        Call it before sending the first 101-299 response; build that response
        with :meth:`create_response`, which adds the To tag, Contact and
        Record-Route and moves the dialog on.

        Args:
            request: the received INVITE, SUBSCRIBE or REFER, without To tag.
            local_tag: the To tag we chose (from the injectable random source).
            local_contact: our Contact; a SIPS URI when 12.1.1 requires one.

        Returns:
            The dialog, in state early.

        Raises:
            LocalProtocolError: the request cannot create a dialog, the tag is
                empty, or the Contact must be SIPS and is not.
            RemoteProtocolError: the request's Contact or Record-Route is
                malformed (answer 400).
        """
        if request.method not in DIALOG_CREATING_METHODS:
            raise LocalProtocolError(f"a {request.method} request does not create dialogs")
        if request.to_tag is not None:
            raise LocalProtocolError("a request with a To tag is within a dialog already")
        if not local_tag:
            raise LocalProtocolError("the local tag must not be empty")
        contact = _as_name_addr(local_contact)
        route_set = _record_route(request)
        target = _contact_uri(request)
        remote_uri = _without_tag(request.parse_header("From"))
        # RFC 3261 12.1.1: "If the request that initiated the dialog contained a
        # SIPS URI in the Request-URI or in the top Record-Route header field
        # value, if there was any, or the Contact header field if there was no
        # Record-Route header field, the Contact header field in the response
        # MUST be a SIPS URI."
        if route_set:
            decisive = route_set[0].uri
        elif target is not None:
            decisive = target
        else:
            decisive = request.ruri
        if (request.ruri.scheme == "sips" or decisive.scheme == "sips") and (
            contact.uri.scheme != "sips"
        ):
            raise LocalProtocolError("RFC 3261 12.1.1 requires a SIPS Contact for this dialog")
        return cls(
            # "The local tag component of the dialog ID MUST be set to the tag in
            # the To field in the response ... and the remote tag component ... to
            # the tag from the From field in the request" (null if absent).
            id=DialogId(request.call_id, local_tag, request.from_tag),
            role=DialogRole.UAS,
            state=DialogState.EARLY,
            # "The remote URI MUST be set to the URI in the From field, and the
            # local URI MUST be set to the URI in the To field."
            local_uri=_without_tag(request.parse_header("To")),
            remote_uri=remote_uri,
            # "The remote sequence number MUST be set to the value of the sequence
            # number in the CSeq header field of the request. The local sequence
            # number MUST be empty."
            local_seq=None,
            remote_seq=request.cseq.seq,
            # "The remote target MUST be set to the URI from the Contact header
            # field of the request." RFC 2543 requests may lack one; their
            # replies and requests went to the From address, so that is used.
            remote_target=target if target is not None else _strip_for_ruri(remote_uri.uri),
            # "The route set MUST be set to the list of URIs in the Record-Route
            # header field from the request, taken in order".
            route_set=route_set,
            secure=request.ruri.scheme == "sips",
            local_contact=contact,
            initial_cseq=request.cseq,
        )

    # -- state -------------------------------------------------------------------

    def terminate(self) -> None:
        """End the dialog (the usage's decision; see :data:`TRANSITIONS`).

        Raises:
            LocalProtocolError: the dialog is terminated already.
        """
        self.state = transition(self.state, DialogInput.TERMINATE)

    def _is_initial(self, cseq: CSeq) -> bool:
        return cseq.seq == self.initial_cseq.seq and cseq.method == self.initial_cseq.method

    # -- requests we send (RFC 3261 12.2.1) ---------------------------------------

    def create_request(
        self, method: str, headers: HeaderList | None = None, body: bytes | str = b""
    ) -> Request:
        """Build a request within the dialog (RFC 3261 12.2.1.1).

        The Request-URI and Route follow the route set (loose routing when its
        first URI has ``lr``, strict routing otherwise), the CSeq number is the
        local sequence number plus one (1 when this UA has sent nothing yet),
        target refresh requests get our Contact. Hand the result to a client
        transaction, which adds the Via.

        Args:
            method: any method but ACK (use :meth:`create_ack`) and CANCEL (built
                from the INVITE it cancels, RFC 3261 9.1).
            headers: extra ``(name, value)`` pairs; a Contact or Max-Forwards here
                replaces ours; To, From, Call-ID, CSeq, Route and Via are refused.
            body: the body; give its Content-Type in ``headers``.

        Raises:
            LocalProtocolError: ACK/CANCEL, a terminated dialog, a refused
                header, the CSeq space exhausted, or a non-SIPS Contact in a
                secure dialog.
        """
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(
                f"{method} is not built by create_request: "
                + ("use create_ack" if method == "ACK" else "copy the INVITE (RFC 3261 9.1)")
            )
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError("the dialog is terminated")
        # RFC 3261 12.2.1.1: "if the local sequence number is not empty, the value
        # of the local sequence number MUST be incremented by one ... If the local
        # sequence number is empty, an initial value MUST be chosen using the
        # guidelines of Section 8.1.1.5" (any value below 2**31; 1 keeps the
        # whole 32-bit space ahead and the wire bytes deterministic).
        seq = 1 if self.local_seq is None else self.local_seq + 1
        if seq > MAX_CSEQ:
            raise LocalProtocolError("the dialog's CSeq space is exhausted")
        # "A UAC SHOULD include a Contact header field in any target refresh
        # requests within a dialog".
        request = self._build_request(
            method, CSeq(seq, method), headers, body, method in TARGET_REFRESH_METHODS
        )
        self.local_seq = seq  # only once the request is built: atomic
        return request

    def create_ack(
        self, invite_cseq_seq: int, headers: HeaderList | None = None, body: bytes | str = b""
    ) -> Request:
        """Build the ACK for a 2xx to an INVITE of this dialog (RFC 3261 13.2.2.4).

        "The header fields of the ACK are constructed in the same way as for any
        request sent within a dialog ... with the exception of the CSeq and the
        header fields related to authentication. The sequence number of the CSeq
        header field MUST be the same as the INVITE being acknowledged". The
        local sequence number does not move. Send the ACK straight to the
        transport (no transaction) and again for each 2xx retransmission.

        Args:
            invite_cseq_seq: the CSeq number of the INVITE (initial or re-INVITE).
            headers: extra header fields: the INVITE's credentials ("The ACK MUST
                contain the same credentials as the INVITE"), Content-Type, ...
            body: the answer, when the 2xx carried an offer.

        Raises:
            LocalProtocolError: the dialog is still early, or no INVITE of this
                dialog had that number.
        """
        if self.state is DialogState.EARLY:
            raise LocalProtocolError("a 2xx confirms the dialog before its ACK is sent")
        # A terminated dialog still owes the ACK of a 2xx that crossed the BYE:
        # "The UAC core MUST generate an ACK request for each 2xx" (13.2.2.4).
        if self.local_seq is None or not 1 <= invite_cseq_seq <= self.local_seq:
            raise LocalProtocolError(f"no INVITE with CSeq {invite_cseq_seq} in this dialog")
        return self._build_request("ACK", CSeq(invite_cseq_seq, "ACK"), headers, body, False)

    def _build_request(
        self,
        method: str,
        cseq: CSeq,
        headers: HeaderList | None,
        body: bytes | str,
        with_contact: bool,
    ) -> Request:
        extra = list(headers) if headers is not None else []
        given = {canonical_key(name) for name, _ in extra}
        refused = given & _DIALOG_OWNED_HEADERS
        if refused:
            raise LocalProtocolError(
                f"header(s) {', '.join(sorted(refused))} come from the dialog state"
            )
        ruri, routes = self._request_target()
        out: list[tuple[str, Any]] = [("Route", str(route)) for route in routes]
        if "max-forwards" not in given:
            out.append(("Max-Forwards", str(MAX_FORWARDS)))
        # RFC 3261 12.2.1.1: To = remote URI + remote tag, From = local URI + local
        # tag; "If the value of the remote or local tags is null, the tag
        # parameter MUST be omitted".
        out.append(("To", str(_with_tag(self.remote_uri, self.id.remote_tag))))
        out.append(("From", str(_with_tag(self.local_uri, self.id.local_tag))))
        # "The Call-ID of the request MUST be set to the Call-ID of the dialog."
        out.append(("Call-ID", self.id.call_id))
        out.append(("CSeq", str(cseq)))
        if with_contact and "contact" not in given and self.local_contact is not None:
            # "If the 'secure' flag is true, that URI MUST be a SIPS URI."
            if self.secure and self.local_contact.uri.scheme != "sips":
                raise LocalProtocolError("a secure dialog needs a SIPS Contact")
            out.append(("Contact", str(self.local_contact)))
        out.extend(extra)
        return Request(method, ruri, out, body)

    def _request_target(self) -> tuple[URI, list[NameAddr]]:
        """The Request-URI and Route values of RFC 3261 12.2.1.1."""
        routes = self.route_set
        # "If the route set is empty, the UAC MUST place the remote target URI
        # into the Request-URI. The UAC MUST NOT add a Route header field".
        # "If the route set is not empty, and the first URI in the route set
        # contains the lr parameter ..., the UAC MUST place the remote target URI
        # into the Request-URI and MUST include a Route header field containing
        # the route set values in order, including all parameters."
        if not routes or routes[0].uri.has_param("lr"):
            return _strip_for_ruri(self.remote_target), [r.copy() for r in routes]
        # "If the route set is not empty, and its first URI does not contain the
        # lr parameter, the UAC MUST place the first URI from the route set into
        # the Request-URI, stripping any parameters that are not allowed in a
        # Request-URI. The UAC MUST add a Route header field containing the
        # remainder of the route set values in order, including all parameters.
        # The UAC MUST then place the remote target URI into the Route header
        # field as the last value."
        rest = [r.copy() for r in routes[1:]]
        rest.append(NameAddr(self.remote_target.copy()))
        return _strip_for_ruri(routes[0].uri), rest

    # -- responses we receive (RFC 3261 12.2.1.2, 13.2.2) --------------------------

    def update_from_response(self, response: Response) -> bool:
        """Take a response received for a request this UA sent in the dialog.

        For a UAC, a response to the dialog-creating request moves the dialog
        (:data:`TRANSITIONS`); a 2xx to it while early recomputes the route set
        and the remote target (13.2.2.4, 12.2.1.2). A 2xx to a target refresh
        request sent within the dialog replaces the remote target with its
        Contact (12.2.1.2). Nothing else changes the dialog: on a 481 or 408 the
        usage calls :meth:`terminate` (12.2.1.2 "SHOULD terminate").

        Returns:
            True when taken, False when discarded as late (a 1xx or 300-699 to
            the dialog-creating request after this dialog's 2xx, or after it
            ended: 13.2.2.3).

        Raises:
            LocalProtocolError: the response is not of this dialog, or a 2xx to
                the dialog-creating request reached a terminated dialog (build a
                new one with :meth:`from_uac`, ACK it and BYE it: 13.2.2.4).
            RemoteProtocolError: a Contact or Record-Route that must be used is
                malformed (drop the response; nothing changed).
        """
        if dialog_id_for_response(response) != self.id:
            raise LocalProtocolError("the response does not belong to this dialog")
        cseq = response.cseq
        status = response.status_code
        if self.role is DialogRole.UAC and self._is_initial(cseq):
            if status < 101:
                # 100 Trying is hop-by-hop and never carries dialog state.
                return True
            event = (
                DialogInput.RECV_1XX
                if status < 200
                else DialogInput.RECV_2XX
                if status < 300
                else DialogInput.RECV_FAILURE
            )
            if (self.state, event) in _DISCARDED_REMOTE:
                return False
            new_state = transition(self.state, event)
            if event is DialogInput.RECV_2XX and self.state is DialogState.EARLY:
                # RFC 3261 13.2.2.4: "the route set for the dialog MUST be
                # recomputed based on the 2xx response using the procedures of
                # Section 12.2.1.2". 12.2.1.2 computes no route set; the
                # computation meant is 12.1.2's (Record-Route reversed), done
                # again "for backwards compatibility. RFC 2543 did not mandate
                # mirroring of the Record-Route header field in a 1xx, only
                # 2xx." "The only piece of state that is recomputed is the
                # route set"; the remote target follows the 2xx's Contact all
                # the same, as INVITE is a target refresh request (12.2.1.2).
                route_set = _record_route(response)
                route_set.reverse()
                target = _contact_uri(response)
                self._check_secure_target(target)
                self.route_set = route_set
                if target is not None:
                    self.remote_target = target
            self.state = new_state
            return True
        # RFC 3261 12.2.1.2: "When a UAC receives a 2xx response to a target
        # refresh request, it MUST replace the dialog's remote target URI with the
        # URI from the Contact header field in that response, if present."
        if (
            200 <= status <= 299
            and cseq.method in TARGET_REFRESH_METHODS
            and self.state is not DialogState.TERMINATED
        ):
            target = _contact_uri(response)
            if target is not None:
                self._check_secure_target(target)
                self.remote_target = target
        return True

    # -- requests we receive (RFC 3261 12.2.2) -------------------------------------

    def receive_request(self, request: Request) -> None:
        """Take a request received within the dialog (RFC 3261 12.2.2).

        Call it after the checks of :mod:`websip.sanity` (8.2) and once per
        server transaction (retransmissions are absorbed by the transaction
        layer). ACK and CANCEL do not take part in CSeq ordering (their numbers
        are those of the INVITE); they change nothing here. Any other request
        must carry a higher CSeq number than the last one, which it becomes. A
        BYE terminates the dialog. A target refresh request's Contact becomes
        the remote target when its 2xx is sent (:meth:`create_response`).

        Raises:
            LocalProtocolError: the request is not of this dialog.
            RemoteProtocolError: answer with its ``status_code``: 481 (the dialog
                is terminated), 500 (CSeq out of order), 400 (bad Contact). The
                dialog is unchanged.
        """
        if dialog_id_for_incoming(request) != self.id:
            raise LocalProtocolError("the request does not belong to this dialog")
        method = request.method
        if method in ("ACK", "CANCEL"):
            # RFC 3261 12.2.1.1: "excepting ACK and CANCEL of course, whose numbers
            # equal the requests being acknowledged or cancelled"; 12.2: "an ACK is
            # NOT a target refresh request". Matching the ACK to its 2xx is the
            # INVITE usage's business, CANCEL the transaction layer's (9.2).
            return
        if self.state is DialogState.TERMINATED:
            raise RemoteProtocolError("the dialog is terminated", 481)
        seq = request.cseq.seq
        # "If the remote sequence number was not empty, but the sequence number of
        # the request is lower than the remote sequence number, the request is out
        # of order and MUST be rejected with a 500 (Server Internal Error)". An
        # equal number is refused too: retransmissions never get here (the server
        # transaction absorbs them), so an equal number is a new request reusing
        # one, which 12.2.1.1 forbids ("strictly monotonically increasing"), and
        # taking it would let a replayed request redo its state change.
        if self.remote_seq is not None and seq <= self.remote_seq:
            raise RemoteProtocolError(
                f"CSeq {seq} is out of order (last was {self.remote_seq})", 500
            )
        target = None
        if method in TARGET_REFRESH_METHODS:
            # "When a UAS receives a target refresh request, it MUST replace the
            # dialog's remote target URI with the URI from the Contact header
            # field in that request, if present." Deferred to the 2xx (above).
            target = _contact_uri(request)
            self._check_secure_target(target)
        # Checks passed: commit (12.2.2, atomic).
        # "The UAS MUST then set the remote sequence number to the value of the
        # sequence number in the CSeq header field value in the request." Gaps
        # are fine ("It is possible for the CSeq sequence number to be higher than
        # the remote sequence number by more than one").
        self.remote_seq = seq
        if target is not None:
            self._pending_targets[method] = (seq, target)
        if method == "BYE":
            self.state = transition(self.state, DialogInput.RECV_BYE)

    # -- responses we send ---------------------------------------------------------

    def create_response(
        self,
        request: Request,
        status_code: int,
        reason_phrase: str | None = None,
        *,
        headers: HeaderList | None = None,
        body: bytes | str = b"",
    ) -> Response:
        """Build a response to a request of this dialog, and apply it to the dialog.

        For the dialog-creating request (UAS): the To tag is ours, and a 101-299
        response copies the Record-Route values in order and carries our Contact
        (RFC 3261 12.1.1). A 2xx to a target refresh request carries our Contact
        too (the peer adopts it, 12.2.1.2). The dialog moves as
        :meth:`update_from_sent_response` says. Hand the response to the server
        transaction (or, for a 2xx to INVITE, keep re-sending it until the ACK:
        13.3.1.4).

        Args:
            request: the request answered (the dialog-creating one, or one given
                to :meth:`receive_request`).
            status_code: 101-699.
            reason_phrase: the reason phrase; the standard one when None.
            headers: extra ``(name, value)`` pairs; a Contact here replaces ours.
            body: the body.

        Raises:
            LocalProtocolError: the request is not of this dialog, the status is
                100 (the transaction layer's), or the dialog cannot take it.
        """
        initial = request.to_tag is None
        if initial:
            if not (
                self.role is DialogRole.UAS
                and request.call_id == self.id.call_id
                and request.from_tag == self.id.remote_tag
                and self._is_initial(request.cseq)
            ):
                raise LocalProtocolError("the request does not belong to this dialog")
        elif dialog_id_for_incoming(request) != self.id:
            raise LocalProtocolError("the request does not belong to this dialog")
        if status_code < 101:
            raise LocalProtocolError("100 Trying carries no dialog state; send it stateless")
        extra = list(headers) if headers is not None else []
        given = {canonical_key(name) for name, _ in extra}
        out: list[tuple[str, Any]] = []
        establishing = initial and status_code < 300
        if establishing:
            # RFC 3261 12.1.1: "the UAS MUST copy all Record-Route header field
            # values from the request into the response ... and MUST maintain the
            # order of those values."
            out.extend(("Record-Route", value) for value in request.get_headers("Record-Route"))
        if (
            (
                establishing
                or (200 <= status_code < 300 and request.method in TARGET_REFRESH_METHODS)
            )
            and "contact" not in given
            and self.local_contact is not None
        ):
            # 12.1.1: "The UAS MUST add a Contact header field to the response."
            out.append(("Contact", str(self.local_contact)))
        out.extend(extra)
        response = Response.for_request(
            request, status_code, reason_phrase, to_tag=self.id.local_tag, headers=out, body=body
        )
        self.update_from_sent_response(response)
        return response

    def update_from_sent_response(self, response: Response) -> None:
        """Apply a response this UA sends within the dialog (use when not built by
        :meth:`create_response`).

        A response to the dialog-creating request (UAS) moves the dialog
        (:data:`TRANSITIONS`). A 2xx to a target refresh request received in the
        dialog commits its Contact as the remote target; a 300-699 drops it.

        Raises:
            LocalProtocolError: not of this dialog, a 100, or a response the
                dialog's state does not allow (a 1xx after the 2xx, ...).
        """
        # A response we send: local tag in To, remote tag in From (UAS view).
        if DialogId(response.call_id, response.to_tag, response.from_tag) != self.id:
            raise LocalProtocolError("the response does not belong to this dialog")
        status = response.status_code
        if status < 101:
            raise LocalProtocolError("100 Trying carries no dialog state")
        cseq = response.cseq
        if self.role is DialogRole.UAS and self._is_initial(cseq):
            event = (
                DialogInput.SEND_1XX
                if status < 200
                else DialogInput.SEND_2XX
                if status < 300
                else DialogInput.SEND_FAILURE
            )
            self.state = transition(self.state, event)
            return
        pending = self._pending_targets.get(cseq.method)
        if pending is None or pending[0] != cseq.seq or status < 200:
            return
        del self._pending_targets[cseq.method]
        if status < 300 and self.state is not DialogState.TERMINATED:
            self.remote_target = pending[1]

    # -- helpers -------------------------------------------------------------------

    def _check_secure_target(self, target: URI | None) -> None:
        # RFC 3261 12.2.1.1: in a secure dialog the Contact "MUST be a SIPS URI";
        # a peer downgrading the target would take the dialog off TLS.
        if self.secure and target is not None and target.scheme != "sips":
            raise RemoteProtocolError("a secure dialog's remote target must be a SIPS URI", 400)

    def __repr__(self) -> str:
        return (
            f"<Dialog {self.role.value} {self.state.value} call-id={self.id.call_id!r} "
            f"local={self.id.local_tag!r} remote={self.id.remote_tag!r}>"
        )


# -- module helpers ----------------------------------------------------------------


def _check_response_matches(request: Request, response: Response) -> None:
    # The core matched them through the transaction layer; a mismatch here is a
    # local bug, not something the peer can cause.
    if (
        response.call_id != request.call_id
        or response.from_tag != request.from_tag
        or response.cseq != request.cseq
    ):
        raise LocalProtocolError("the response does not answer this request")


def _without_tag(value: Any) -> NameAddr:
    # websip.sanity rejects such messages first (RFC 3261 8.1.1); stay typed anyway.
    if not isinstance(value, NameAddr):
        raise RemoteProtocolError("missing From or To", 400)
    copy = value.copy()
    copy.delete_param("tag")
    return copy


def _with_tag(value: NameAddr, tag: str | None) -> NameAddr:
    copy = value.copy()
    if tag is not None:
        copy.set_param("tag", tag)
    return copy


def _as_name_addr(value: NameAddr | URI | str) -> NameAddr:
    """Our Contact as a NameAddr (a copy)."""
    if isinstance(value, NameAddr):
        return value.copy()
    if isinstance(value, URI):
        return NameAddr(value.copy())
    try:
        return NameAddr.parse(value)
    except ParseError as exc:
        raise LocalProtocolError(f"invalid local Contact {value!r}: {exc}") from None


def _strip_for_ruri(uri: URI) -> URI:
    """A copy of ``uri`` fit for a Request-URI (RFC 3261 19.1.1, table 1).

    "method" and URI headers are "not allowed" in a Request-URI; 12.2.1.1 says
    to strip them ("stripping any parameters that are not allowed in a
    Request-URI").
    """
    copy = uri.copy()
    copy.delete_param("method")
    copy.clear_headers()
    return copy


def _contact_uri(message: Request | Response) -> URI | None:
    """The URI of the first Contact, None when there is none.

    Raises:
        RemoteProtocolError: the Contact is malformed or ``*`` (status 400: the
            answer for a request; for a response it only labels the drop).
    """
    try:
        contact = message.parse_header("Contact")
    except ParseError as exc:
        raise RemoteProtocolError(f"malformed Contact: {exc}", 400) from None
    if contact is None:
        return None
    if not isinstance(contact, NameAddr):
        raise RemoteProtocolError("Contact '*' is only for REGISTER", 400)
    return contact.uri.copy()


def _record_route(message: Request | Response) -> list[NameAddr]:
    """Every Record-Route value, in order (copies, all parameters kept).

    Raises:
        RemoteProtocolError: a value is malformed.
    """
    routes = []
    for index in range(len(message.get_headers("Record-Route"))):
        try:
            value = message.parse_header("Record-Route", index)
        except ParseError as exc:
            raise RemoteProtocolError(f"malformed Record-Route: {exc}", 400) from None
        routes.append(value.copy())
    return routes
