"""Checks on every incoming message, and the replies they earn.

Theory of operation
-------------------

The core runs every parsed message through one entry point before any
transaction, dialog or usage sees it:

* a request other than ACK: :func:`check_request` (a user agent server,
  RFC 3261 8.2) or :func:`check_proxy_request` (the embedded proxy, 16.3). The
  result is the :class:`~websip.sip.Response` to send (statelessly, or through
  a new server transaction), or None when the request may go on;
* an ACK: :func:`check_ack`. An ACK is never answered (it completes an INVITE
  transaction, RFC 3261 17.2.1, or acknowledges a 2xx, 13.3.1.4), so a
  bad one is dropped and the result is the reason to log, or None;
* a response: :func:`check_response`, likewise a reason to log, or None.

Each rule is a small function named after the RFC section it applies, as
JsSIP's ``sanityCheck.js`` names its own (``rfc3261_8_2_2_1``, ...). A request
rule returns the Response to send, or None; its reason phrase names the problem
("Bad Request (missing Call-ID)"), so logs and peers see what went wrong.

The order is the RFC's. First the syntax a UAS needs to build any answer at
all, which RFC 3261 16.3 step 1 states for proxies ("well-formed enough to be
handled with a server transaction") and RFC 4475 expects of every element:
framing (18.3), version (7.1, 505), the mandatory header fields (8.1.1), the
CSeq method (8.1.1.5), the branch (8.1.1.7), the Request-URI (19.1.1), the
Contact of dialog requests (8.1.1.8). Then 8.2 in the order it prescribes
("starting with authentication, then inspecting the method, the header fields,
and so on"): method (8.2.1: 501/405), Request-URI scheme (8.2.2.1: 416), merged
requests (8.2.2.2: 482), Require (8.2.2.3: 420), content (8.2.3: 413/415), and
the Accept of an INVITE (20.1 / 21.4.7: 406). Authentication is the usages'.
(The order given in the design brief put content before Require; 8.2.3 opens
with "Assuming the UAS understands any extensions required by the client", so
Require comes first.)

Decisions worth knowing:

* Max-Forwards 0 is not an error for a UA. RFC 3261 16.3 step 3 is about
  forwarding ("the element MUST NOT forward the request"), and RFC 4475 3.3.11
  says "An endpoint should process the request as if the Max-Forwards field
  value were still positive." Only :func:`check_proxy_request` answers 483.
  A *missing* Max-Forwards is accepted (RFC 2543 UAs, RFC 4475 3.4.1); a
  malformed or repeated one is a 400 (16.3 step 1: it takes part in validation).
* A missing From tag, Via branch or Contact is accepted (RFC 2543 peers: RFC
  3261 12.1.1, 17.2.3; RFC 4475 3.4.1). A branch that is the bare magic cookie
  ``z9hG4bK`` is a 400 (RFC 4475 3.2.1 allows that answer; taking it would make
  every such request one transaction).
* The To URI is not checked (8.2.2.1 recommends accepting any scheme there);
  the Request-URI must be ``sip``, ``sips`` or ``tel`` (416) and carry no URI
  headers (19.1.1 table 1; RFC 4475 3.1.2.11: 400).
* A body larger than allowed earns 413 Request Entity Too Large (RFC 3261
  21.4.11). 513 Message Too Large is for the whole message; that limit is
  :func:`websip.parse_message`'s (``MessageTooLargeError``), which refuses to
  frame such a message.
* Merged requests (8.2.2.2) are found by :class:`MergedRequestDetector`, which
  remembers the From tag, Call-ID and CSeq of each request without To tag, with
  the identity of its transaction (17.2.3), for 32 s and at most 4096 entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Final

from websip.exceptions import LocalProtocolError, ParseError
from websip.sip import REASON_PHRASES, MediaType, NameAddr, Request, Response, Via

__all__ = [
    "DEFAULT_ACCEPTED_ENCODINGS",
    "KNOWN_METHODS",
    "MAGIC_COOKIE",
    "MAX_MERGE_ENTRIES",
    "MERGE_WINDOW",
    "SIP_URI_SCHEMES",
    "MergedRequestDetector",
    "check_ack",
    "check_proxy_request",
    "check_request",
    "check_response",
    "rfc3261_7_1",
    "rfc3261_7_1_response",
    "rfc3261_8_1_1",
    "rfc3261_8_1_1_5",
    "rfc3261_8_1_1_7",
    "rfc3261_8_1_1_8",
    "rfc3261_8_1_3_3",
    "rfc3261_8_1_3_headers",
    "rfc3261_8_2_1",
    "rfc3261_8_2_2_1",
    "rfc3261_8_2_2_2",
    "rfc3261_8_2_2_3",
    "rfc3261_8_2_3",
    "rfc3261_16_3_3",
    "rfc3261_16_3_5",
    "rfc3261_18_1_2",
    "rfc3261_18_3_request",
    "rfc3261_18_3_response",
    "rfc3261_19_1_1",
    "rfc3261_20_1",
]

# The methods websip knows (RFC 3261, 3262 PRACK, 3265/6665 SUBSCRIBE/NOTIFY,
# 3311 UPDATE, 3428 MESSAGE, 3515 REFER, 3903 PUBLISH, 6086 INFO). A method
# outside this set and outside the allowed set is answered 501 (RFC 3261
# 21.5.2), one inside it but not allowed 405 (8.2.1).
KNOWN_METHODS: Final = frozenset(
    {
        "ACK",
        "BYE",
        "CANCEL",
        "INFO",
        "INVITE",
        "MESSAGE",
        "NOTIFY",
        "OPTIONS",
        "PRACK",
        "PUBLISH",
        "REFER",
        "REGISTER",
        "SUBSCRIBE",
        "UPDATE",
    }
)
# Request-URI schemes a UA takes (RFC 3261 8.2.2.1; tel: RFC 3966).
SIP_URI_SCHEMES: Final = frozenset({"sip", "sips", "tel"})
# RFC 3261 8.1.1.7: every RFC 3261 branch starts with it.
MAGIC_COOKIE: Final = "z9hG4bK"
# RFC 3261 20.12: "identity" (no encoding) is always understood.
DEFAULT_ACCEPTED_ENCODINGS: Final = frozenset({"identity"})
# How long a request is remembered for merge detection: 64*T1 = 32 s (Timer
# B/F/H with T1 = 500 ms, RFC 3261 17), the life of a transaction that got no
# final answer, far beyond the milliseconds between forked copies.
MERGE_WINDOW: Final = 32.0
# Bounded memory: a peer flooding new requests cannot grow the table past this;
# the oldest entries go first.
MAX_MERGE_ENTRIES: Final = 4096

# Requests whose Contact the UAS uses as a remote target (RFC 3261 12.1.1,
# 12.2.2; RFC 3311, 3515, 6665).
_CONTACT_METHODS: Final = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY", "UPDATE"})
# What an INVITE's answers carry: SDP (RFC 3261 13.2.1: "The Session
# Description Protocol (SDP) ... MUST be supported by all user agents").
_INVITE_BODY_TYPE: Final = "application/sdp"
# Reason phrases quote the problem; keep them one readable line.
_MAX_DETAIL: Final = 120


def _clean(detail: str) -> str:
    """``detail`` fit for a reason phrase: no control characters, bounded length."""
    text = "".join(ch if ch >= " " and ch != "\x7f" else "?" for ch in detail)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _reply(
    request: Request,
    status_code: int,
    detail: str | None = None,
    *,
    to_tag: str | None,
    headers: Iterable[tuple[str, Any]] | None = None,
) -> Response:
    """The response to a request that failed a check (RFC 3261 8.2.6).

    ``to_tag`` is added when the request has none (8.2.6.2: "the UAS MUST add a
    tag to the To header field in the response"); the caller draws it from the
    injectable random source.
    """
    phrase = REASON_PHRASES.get(status_code, "Error")
    if detail:
        phrase = f"{phrase} ({_clean(detail)})"
    return Response.for_request(
        request, status_code, phrase, to_tag=to_tag, headers=list(headers or ())
    )


# -- syntax: what any answer needs (RFC 3261 16.3 step 1, 8.1.1, RFC 4475) -------


def rfc3261_18_3_request(request: Request, *, to_tag: str | None = None) -> Response | None:
    """400 when the message could be framed only with defects.

    RFC 3261 18.3 (Content-Length larger than the body; RFC 4475 3.1.2.2,
    3.1.2.3, 3.3.9), 7.1 and 25 (whitespace in the Request-Line: RFC 4475
    3.1.2.8-3.1.2.10), 7.3 (a header line that is not a header). The parser
    lists them in ``defects``.
    """
    if request.defects:
        return _reply(request, 400, request.defects[0], to_tag=to_tag)
    return None


def rfc3261_7_1(request: Request, *, to_tag: str | None = None) -> Response | None:
    """505 when the SIP-Version is not SIP/2.0 (RFC 3261 7.1, 21.5.6; RFC 4475 3.1.2.16)."""
    if request.version != "SIP/2.0":
        return _reply(request, 505, f"{request.version} is not SIP/2.0", to_tag=to_tag)
    return None


# RFC 3261 8.1.1: the header fields every request (and response) carries; see
# _header_problem.
_MANDATORY_HEADERS: Final = ("To", "From", "Call-ID", "CSeq", "Via")


def _header_problem(message: Request | Response, *, max_forwards: bool) -> str | None:
    """What is wrong with the header fields every message needs, or None.

    RFC 3261 8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum,
    contain the following header fields: To, From, CSeq, Call-ID, Max-Forwards,
    and Via". To, From, CSeq and Call-ID hold one value (RFC 4475 3.3.8);
    Max-Forwards may be missing (RFC 2543). Only the top Via is parsed: it is
    the only one a UA acts on, and 8.2.2 says "A UAS SHOULD ignore any
    malformed header fields that are not necessary for processing requests".
    """
    for name in _MANDATORY_HEADERS:
        count = len(message.get_headers(name))
        if count == 0:
            return f"missing {name}"
        if count > 1 and name != "Via":
            return f"{count} {name} header fields"
        try:
            message.parse_header(name)  # cached: the layers above read it again
        except ParseError as exc:
            return f"malformed {name}: {exc.reason}"
    if max_forwards:
        values = message.get_headers("Max-Forwards")
        if len(values) > 1:
            return f"{len(values)} Max-Forwards header fields"
        if values:
            try:
                message.parse_header("Max-Forwards")
            except ParseError as exc:
                return f"malformed Max-Forwards: {exc.reason}"
    return None


def rfc3261_8_1_1(request: Request, *, to_tag: str | None = None) -> Response | None:
    """400 when To, From, Call-ID, CSeq or Via is missing, repeated or malformed.

    Also a repeated or malformed Max-Forwards (see :func:`_header_problem`).
    RFC 4475 3.1.2.4, 3.1.2.6, 3.1.2.14, 3.1.2.15, 3.3.1, 3.3.8.
    """
    problem = _header_problem(request, max_forwards=True)
    if problem is not None:
        return _reply(request, 400, problem, to_tag=to_tag)
    return None


def rfc3261_8_1_1_5(request: Request, *, to_tag: str | None = None) -> Response | None:
    """400 when the CSeq method is not the request's.

    RFC 3261 8.1.1.5: "The method MUST match that of the request." RFC 4475
    3.1.2.17 and 3.1.2.18 (even for an unknown method: 400 before 501).
    Call after :func:`rfc3261_8_1_1`.
    """
    if request.cseq.method != request.method:
        return _reply(
            request,
            400,
            f"CSeq method {request.cseq.method} does not match {request.method}",
            to_tag=to_tag,
        )
    return None


def rfc3261_8_1_1_7(request: Request, *, to_tag: str | None = None) -> Response | None:
    """400 when the top Via branch is the bare magic cookie (RFC 4475 3.2.1).

    RFC 3261 8.1.1.7: the branch "MUST be unique across space and time" and
    starts with ``z9hG4bK``; one that is only the cookie identifies nothing. A
    missing branch is an RFC 2543 request and is accepted (17.2.3).
    Call after :func:`rfc3261_8_1_1`.
    """
    via: Via = request.parse_header("Via")
    if via.branch == MAGIC_COOKIE:
        return _reply(request, 400, "Via branch is only the magic cookie", to_tag=to_tag)
    return None


def rfc3261_19_1_1(request: Request, *, to_tag: str | None = None) -> Response | None:
    """400 when the Request-URI is malformed or carries URI headers.

    RFC 3261 19.1.1, table 1: headers are "not allowed" in a Request-URI; RFC
    4475 3.1.2.11 ("escruri") expects 400, and 3.1.2.7 (``<...>`` around the
    Request-URI) too.
    """
    try:
        ruri = request.ruri
    except ParseError as exc:
        return _reply(request, 400, f"malformed Request-URI: {exc.reason}", to_tag=to_tag)
    if ruri.headers:
        return _reply(request, 400, "Request-URI with URI headers", to_tag=to_tag)
    return None


def rfc3261_8_1_1_8(request: Request, *, to_tag: str | None = None) -> Response | None:
    """400 when the Contact of a dialog request is unusable.

    RFC 3261 8.1.1.8: "The Contact header field MUST be present and contain
    exactly one SIP or SIPS URI in any request that can result in the
    establishment of a dialog"; the same Contact refreshes the target of an
    existing dialog (12.2.2). Checked for INVITE, SUBSCRIBE, REFER, NOTIFY and
    UPDATE when present (an RFC 2543 INVITE has none: RFC 4475 3.4.1), and for
    REGISTER, whose Contacts a registrar reads (RFC 4475 3.1.2.13).
    """
    method = request.method
    if method != "REGISTER" and method not in _CONTACT_METHODS:
        return None  # (MESSAGE, OPTIONS, BYE...: the Contact is not used)
    values = request.get_headers("Contact")
    if method == "REGISTER":
        # RFC 3261 10.3 step 6 and 20.10: a REGISTER lists any number of
        # Contacts, or "*"; each must parse (RFC 4475 3.1.2.13: 400).
        for index in range(len(values)):
            try:
                request.parse_header("Contact", index)
            except ParseError as exc:
                return _reply(request, 400, f"malformed Contact: {exc.reason}", to_tag=to_tag)
        return None
    if not values:
        return None
    if len(values) > 1:
        return _reply(request, 400, f"{len(values)} Contact values", to_tag=to_tag)
    try:
        contact = request.parse_header("Contact")
    except ParseError as exc:
        return _reply(request, 400, f"malformed Contact: {exc.reason}", to_tag=to_tag)
    if not isinstance(contact, NameAddr) or contact.uri.scheme not in ("sip", "sips"):
        return _reply(request, 400, "Contact must be one SIP or SIPS URI", to_tag=to_tag)
    return None


def _syntax(request: Request, to_tag: str | None) -> Response | None:
    """The syntax rules, in order; each relies on those before it."""
    for rule in (
        rfc3261_18_3_request,
        rfc3261_7_1,
        rfc3261_8_1_1,
        rfc3261_8_1_1_5,
        rfc3261_8_1_1_7,
        rfc3261_19_1_1,
        rfc3261_8_1_1_8,
    ):
        response = rule(request, to_tag=to_tag)
        if response is not None:
            return response
    return None


# -- UAS rules (RFC 3261 8.2) -------------------------------------------------------


def rfc3261_8_2_1(
    request: Request,
    *,
    allowed_methods: frozenset[str],
    known_methods: frozenset[str] = KNOWN_METHODS,
    to_tag: str | None = None,
) -> Response | None:
    """405 for a known method we do not take, with Allow; 501 for an unknown one.

    RFC 3261 8.2.1: "If the UAS recognizes but does not support the method of a
    request, it MUST generate a 405 (Method Not Allowed) response ... The UAS
    MUST also add an Allow header field". 21.5.2: 501 "when the server does not
    recognize the request method". Methods are case-sensitive (7.1).
    """
    method = request.method
    if method in allowed_methods:
        return None
    if method in known_methods:
        return _reply(
            request,
            405,
            to_tag=to_tag,
            headers=[("Allow", ", ".join(sorted(allowed_methods)))],
        )
    return _reply(request, 501, to_tag=to_tag)


def rfc3261_8_2_2_1(
    request: Request,
    *,
    uri_schemes: frozenset[str] = SIP_URI_SCHEMES,
    to_tag: str | None = None,
) -> Response | None:
    """416 when the Request-URI scheme is not one we take.

    RFC 3261 8.2.2.1: "If the Request-URI uses a scheme not supported by the
    UAS, it SHOULD reject the request with a 416 (Unsupported URI Scheme)".
    RFC 4475 3.3.2 and 3.3.3. (JsSIP checks the To URI here instead; 8.2.2.1
    RECOMMENDS accepting any To scheme.) Call after :func:`rfc3261_19_1_1`.
    """
    scheme = request.ruri.scheme
    if scheme not in uri_schemes:
        return _reply(request, 416, f"scheme {scheme}", to_tag=to_tag)
    return None


class MergedRequestDetector:
    """Finds merged requests (RFC 3261 8.2.2.2) with bounded memory.

    "If the request has no tag in the To header field, the UAS core MUST check
    the request against ongoing transactions. If the From tag, Call-ID, and
    CSeq exactly match those associated with an ongoing transaction, but the
    request does not match that transaction (based on the matching rules in
    Section 17.2.3), the UAS core SHOULD generate a 482 (Loop Detected)".

    Each request without To tag is remembered under (Call-ID, From tag, CSeq
    number, CSeq method) with the identity of its transaction (17.2.3: the top
    Via branch and sent-by for RFC 3261 branches; the Request-URI and the whole
    top Via otherwise), for ``window`` seconds ("ongoing": a transaction lives
    at most 64*T1 without a final response) and ``max_entries`` entries at
    most, the oldest forgotten first. Time comes in as ``now``.

    Args:
        window: seconds a request is remembered.
        max_entries: the most requests remembered.
    """

    __slots__ = ("_entries", "max_entries", "window")

    def __init__(self, window: float = MERGE_WINDOW, max_entries: int = MAX_MERGE_ENTRIES):
        if window <= 0 or max_entries <= 0:
            raise ValueError("window and max_entries must be positive")
        self.window = window
        self.max_entries = max_entries
        # Insertion order is expiry order (constant window, monotonic now). An
        # OrderedDict: the oldest entry goes on nearly every check, and finding
        # a dict's first entry walks over the slots of the entries deleted
        # before it (thousands, at a steady 1,000 requests/s).
        self._entries: OrderedDict[tuple[str, str, int, str], tuple[tuple[str, ...], float]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def expire(self, now: float) -> None:
        """Forget the requests older than the window."""
        entries = self._entries
        while entries:
            key = next(iter(entries))
            if entries[key][1] > now:
                break
            del entries[key]

    def check(self, request: Request, now: float) -> bool:
        """Whether ``request`` is a merged copy of one seen on another transaction.

        Remembers the request when it is the first of its kind. Requests with a
        To tag, or without From tag (RFC 2543), are never merged.
        """
        from_tag = request.from_tag
        if request.to_tag is not None or from_tag is None:
            return False
        self.expire(now)
        cseq = request.cseq
        key = (request.call_id, from_tag, cseq.seq, cseq.method)
        identity = _transaction_identity(request)
        seen = self._entries.get(key)
        if seen is not None:
            # Same transaction: a retransmission, the transaction layer's to absorb.
            return seen[0] != identity
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (identity, now + self.window)
        return False


def _transaction_identity(request: Request) -> tuple[str, ...]:
    """What RFC 3261 17.2.3 matches a request to its server transaction on (but the method)."""
    via: Via = request.parse_header("Via")
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        # "the branch parameter in the request is equal to the one in the top Via
        # header field of the request that created the transaction, the sent-by
        # value in the top Via of the request is equal to the one in the request
        # that created the transaction".
        return (branch, via.host, str(via.port))
    # RFC 2543 matching: Request-URI, tags, Call-ID, CSeq and the top Via.
    return (request.ruri_text, request.get_headers("Via")[0])


def rfc3261_8_2_2_2(
    request: Request,
    *,
    merged: MergedRequestDetector | None,
    now: float,
    to_tag: str | None = None,
) -> Response | None:
    """482 Loop Detected for a merged request (RFC 3261 8.2.2.2).

    "The same request has arrived at the UAS more than once, following
    different paths, most likely due to forking. The UAS processes the first
    such request received and responds with a 482 (Loop Detected) to the rest
    of them." Nothing is checked when ``merged`` is None.
    """
    if merged is not None and merged.check(request, now):
        return _reply(request, 482, "merged request", to_tag=to_tag)
    return None


def rfc3261_8_2_2_3(
    request: Request, *, supported: frozenset[str], to_tag: str | None = None
) -> Response | None:
    """420 Bad Extension listing in Unsupported the Require tags we do not support.

    RFC 3261 8.2.2.3: "If a UAS does not understand an option-tag listed in a
    Require header field, it MUST respond by generating a response with status
    code 420 (Bad Extension). The UAS MUST add an Unsupported header field, and
    list in it those options it does not understand". Not for CANCEL: "Require
    and Proxy-Require MUST NOT be used in a SIP CANCEL request ... These header
    fields MUST be ignored" (ACK never gets here). Option tags are tokens,
    compared case-insensitively (7.3.1). Proxy-Require is for proxies (20.29;
    RFC 4475 3.3.5). A malformed Require is a 400.
    """
    if request.method == "CANCEL":
        return None
    try:
        tags = request.get_token_list("Require")
    except ParseError as exc:
        return _reply(request, 400, f"malformed Require: {exc.reason}", to_tag=to_tag)
    if not tags:
        return None
    known = {tag.lower() for tag in supported}
    unsupported: list[str] = []
    for tag in tags:
        if tag.lower() not in known and tag not in unsupported:
            unsupported.append(tag)
    if unsupported:
        return _reply(
            request, 420, to_tag=to_tag, headers=[("Unsupported", ", ".join(unsupported))]
        )
    return None


def _type_accepted(mime_type: str, accepted: frozenset[str]) -> bool:
    """Whether ``type/subtype`` is in ``accepted``, which may hold ``*/*`` and ``type/*``."""
    main = mime_type.partition("/")[0]
    return mime_type in accepted or f"{main}/*" in accepted or "*/*" in accepted


def rfc3261_8_2_3(
    request: Request,
    *,
    accepted_types: frozenset[str] | None = None,
    accepted_encodings: frozenset[str] = DEFAULT_ACCEPTED_ENCODINGS,
    max_body_size: int | None = None,
    to_tag: str | None = None,
) -> Response | None:
    """413 for a body beyond ``max_body_size``, 415 for an encoding or type we cannot read.

    RFC 3261 8.2.3: "If there are any bodies whose type (indicated by the
    Content-Type), language (...) or encoding (indicated by the Content-Encoding)
    are not understood, and that body part is not optional (as indicated by the
    Content-Disposition header field), the UAS MUST reject the request with a
    415 (Unsupported Media Type) response. The response MUST contain an Accept
    header field listing the types of all bodies it understands ... an
    Accept-Encoding header field listing the encodings understood". RFC 4475
    3.3.6. 21.4.11: 413 when the body "is larger than the server is willing or
    able to process". Languages are not checked.

    Args:
        accepted_types: ``type/subtype`` values (lower case; ``type/*`` and
            ``*/*`` allowed); None leaves the types to the usages (MESSAGE and
            INFO take application types). When set, a body without
            Content-Type is a 400 (20.15: it "MUST be present if the body is
            not empty").
        accepted_encodings: content codings understood (lower case).
        max_body_size: the largest body accepted, in bytes; None for no limit.
    """
    body = request.body
    if not body:
        return None
    if max_body_size is not None and len(body) > max_body_size:
        return _reply(request, 413, f"body of {len(body)} bytes", to_tag=to_tag)
    try:
        encodings = request.get_token_list("Content-Encoding")
    except ParseError as exc:
        return _reply(request, 400, f"malformed Content-Encoding: {exc.reason}", to_tag=to_tag)
    unknown = [coding for coding in encodings if coding.lower() not in accepted_encodings]
    if unknown:
        return _reply(
            request,
            415,
            f"content coding {unknown[0]}",
            to_tag=to_tag,
            headers=[("Accept-Encoding", ", ".join(sorted(accepted_encodings)))],
        )
    if accepted_types is None:
        return None
    try:
        content_type: MediaType | None = request.parse_header("Content-Type")
    except ParseError as exc:
        return _reply(request, 400, f"malformed Content-Type: {exc.reason}", to_tag=to_tag)
    if content_type is None:
        return _reply(request, 400, "body without Content-Type", to_tag=to_tag)
    if _type_accepted(content_type.mime_type, accepted_types) or _is_optional(request):
        return None
    return _reply(
        request,
        415,
        content_type.mime_type,
        to_tag=to_tag,
        headers=[("Accept", ", ".join(sorted(accepted_types)))],
    )


def _is_optional(request: Request) -> bool:
    """Content-Disposition ``handling=optional`` (RFC 3261 20.11; default "required")."""
    try:
        disposition = request.parse_header("Content-Disposition")
    except ParseError:
        return False  # unreadable: assume the default
    return disposition is not None and (disposition.get_param("handling") or "").lower() == (
        "optional"
    )


def rfc3261_20_1(request: Request, *, to_tag: str | None = None) -> Response | None:
    """406 Not Acceptable for an INVITE whose Accept excludes SDP.

    RFC 3261 20.1: "If no Accept header field is present, the server SHOULD
    assume a default value of application/sdp"; "An empty Accept header field
    means that no formats are acceptable." Every answer to an INVITE that
    succeeds carries SDP (13.2.1), so an INVITE that refuses it cannot be
    served: 21.4.7, RFC 4475 3.3.15 ("could respond with a 406 Not
    Acceptable"). An Accept that does not parse is ignored (8.2.2).
    """
    if request.method != "INVITE" or not request.has_header("Accept"):
        return None
    accepted: set[str] = set()
    values = request.get_headers("Accept")
    for index, value in enumerate(values):
        if not value.strip():
            continue  # "Accept:" with nothing: no format
        try:
            media: MediaType = request.parse_header("Accept", index)
        except ParseError:
            return None
        accepted.add(media.mime_type)
    if _type_accepted(_INVITE_BODY_TYPE, frozenset(accepted)):
        return None
    return _reply(request, 406, "Accept excludes application/sdp", to_tag=to_tag)


# -- proxy rules (RFC 3261 16.3) -----------------------------------------------------


def rfc3261_16_3_3(request: Request, *, to_tag: str | None = None) -> Response | None:
    """483 Too Many Hops for a request to forward with Max-Forwards 0, but OPTIONS.

    RFC 3261 16.3 step 3: "If the request contains a Max-Forwards header field
    with a field value of zero (0), the element MUST NOT forward the request. If
    the request was for OPTIONS, the element MAY act as the final recipient and
    respond per Section 11. Otherwise, the element MUST return a 483". For
    OPTIONS this returns None: the proxy answers it itself instead of
    forwarding. Call after :func:`rfc3261_8_1_1`.
    """
    if request.parse_header("Max-Forwards") == 0 and request.method != "OPTIONS":
        return _reply(request, 483, to_tag=to_tag)
    return None


def rfc3261_16_3_5(
    request: Request, *, supported: frozenset[str], to_tag: str | None = None
) -> Response | None:
    """420 listing the Proxy-Require tags a proxy does not support (RFC 3261 16.3 step 5).

    "If the request contains a Proxy-Require header field (Section 20.29) with
    one or more option-tags this element does not understand, the element MUST
    return a 420 (Bad Extension) response. The response MUST include an
    Unsupported (Section 20.40) header field listing those option-tags".
    """
    try:
        tags = request.get_token_list("Proxy-Require")
    except ParseError as exc:
        return _reply(request, 400, f"malformed Proxy-Require: {exc.reason}", to_tag=to_tag)
    known = {tag.lower() for tag in supported}
    unsupported: list[str] = []
    for tag in tags:
        if tag.lower() not in known and tag not in unsupported:
            unsupported.append(tag)
    if unsupported:
        return _reply(
            request, 420, to_tag=to_tag, headers=[("Unsupported", ", ".join(unsupported))]
        )
    return None


# -- entry points ----------------------------------------------------------------------


def check_request(
    request: Request,
    *,
    supported: frozenset[str],
    allowed_methods: frozenset[str],
    known_methods: frozenset[str] = KNOWN_METHODS,
    uri_schemes: frozenset[str] = SIP_URI_SCHEMES,
    accepted_types: frozenset[str] | None = None,
    accepted_encodings: frozenset[str] = DEFAULT_ACCEPTED_ENCODINGS,
    max_body_size: int | None = None,
    merged: MergedRequestDetector | None = None,
    now: float,
    to_tag: str | None = None,
) -> Response | None:
    """Run the checks of a user agent server on a request other than ACK (RFC 3261 8.2).

    Args:
        request: the parsed request; not an ACK (see :func:`check_ack`).
        supported: option tags we support (Require, 8.2.2.3).
        allowed_methods: methods we take (others: 405 with Allow, or 501).
        known_methods: methods we recognize (outside them and ``allowed_methods``:
            501).
        uri_schemes: Request-URI schemes we take (others: 416).
        accepted_types, accepted_encodings, max_body_size: see :func:`rfc3261_8_2_3`.
        merged: the UA's merged-request memory; None skips 8.2.2.2.
        now: the current time (monotonic seconds), for ``merged``.
        to_tag: the To tag for a response to a request without one (from the
            injectable random source).

    Returns:
        The response to send (hand it to the transport statelessly, or to a new
        server transaction), or None: go on with the request (transaction,
        dialog lookup and 481, usage).

    Raises:
        LocalProtocolError: ``request`` is an ACK.
    """
    _refuse_ack(request)
    response = _syntax(request, to_tag)
    if response is None:
        response = rfc3261_8_2_1(
            request, allowed_methods=allowed_methods, known_methods=known_methods, to_tag=to_tag
        )
    if response is None:
        response = rfc3261_8_2_2_1(request, uri_schemes=uri_schemes, to_tag=to_tag)
    if response is None:
        response = rfc3261_8_2_2_2(request, merged=merged, now=now, to_tag=to_tag)
    if response is None:
        response = rfc3261_8_2_2_3(request, supported=supported, to_tag=to_tag)
    if response is None:
        response = rfc3261_8_2_3(
            request,
            accepted_types=accepted_types,
            accepted_encodings=accepted_encodings,
            max_body_size=max_body_size,
            to_tag=to_tag,
        )
    if response is None:
        response = rfc3261_20_1(request, to_tag=to_tag)
    return response


def check_proxy_request(
    request: Request,
    *,
    supported: frozenset[str] = frozenset(),
    uri_schemes: frozenset[str] = SIP_URI_SCHEMES,
    to_tag: str | None = None,
) -> Response | None:
    """Run the validation of RFC 3261 16.3 on a request to forward (not an ACK).

    Reasonable syntax (step 1: the same rules as :func:`check_request`), URI
    scheme (step 2: 416), Max-Forwards (step 3: 483, but OPTIONS), Proxy-Require
    (step 5: 420). Loop detection (step 4) and Proxy-Authorization (step 6) are
    the proxy's. "a proxy is not required to detect merged requests and MUST
    NOT treat merged requests as an error condition".

    Returns:
        The response to send, or None: forward it (an OPTIONS with Max-Forwards
        0: answer it yourself).

    Raises:
        LocalProtocolError: ``request`` is an ACK.
    """
    _refuse_ack(request)
    response = _syntax(request, to_tag)
    if response is None:
        response = rfc3261_8_2_2_1(request, uri_schemes=uri_schemes, to_tag=to_tag)
    if response is None:
        response = rfc3261_16_3_3(request, to_tag=to_tag)
    if response is None:
        response = rfc3261_16_3_5(request, supported=supported, to_tag=to_tag)
    return response


def _refuse_ack(request: Request) -> None:
    if request.method == "ACK":
        raise LocalProtocolError("an ACK is never answered: use check_ack")


def check_ack(request: Request) -> str | None:
    """Check an ACK; a bad one is dropped, never answered (RFC 3261 17.2.1, 13.3.1.4).

    The syntax rules of :func:`check_request` apply (a different SIP version is
    a drop too).

    Returns:
        Why to drop the ACK (for the log), or None: pass it on.
    """
    response = _syntax(request, None)
    return response.reason_phrase if response is not None else None


# -- responses -----------------------------------------------------------------------


def rfc3261_18_3_response(response: Response) -> str | None:
    """Drop a response framed with defects.

    RFC 3261 18.3: a request whose body is shorter than its Content-Length earns
    a 400, a response in that state is discarded; the other defects (a header
    line that is not one, ...) leave nothing safe to act on either.
    """
    if response.defects:
        return response.defects[0]
    return None


def rfc3261_7_1_response(response: Response) -> str | None:
    """Drop a response whose SIP-Version is not SIP/2.0 (RFC 3261 7.1)."""
    if response.version != "SIP/2.0":
        return f"{response.version} is not SIP/2.0"
    return None


def rfc3261_8_1_3_headers(response: Response) -> str | None:
    """Drop a response whose To, From, Call-ID, CSeq or top Via is missing, repeated or
    malformed: the transaction and dialog layers match on them (RFC 3261 8.1.3,
    17.1.3, 12); RFC 4475 3.1.2.5."""
    return _header_problem(response, max_forwards=False)


def rfc3261_8_1_3_3(response: Response) -> str | None:
    """Drop a response with more than one Via (RFC 3261 8.1.3.3).

    "If more than one Via header field value is present in a response, the UAC
    SHOULD discard the message." RFC 4475 3.3.10.
    """
    count = len(response.get_headers("Via"))
    if count > 1:
        return f"{count} Via values in a response"
    return None


def rfc3261_18_1_2(response: Response, *, via_host: str | None, via_port: int | None) -> str | None:
    """Drop a response whose top Via sent-by is not ours (RFC 3261 18.1.2).

    "If the value of the 'sent-by' parameter in that header field value does
    not correspond to a value that the client transport is configured to
    insert into requests, the response MUST be silently discarded." Hosts
    compare case-insensitively; the port only when ``via_port`` is given.
    Nothing is checked when ``via_host`` is None. Call after
    :func:`rfc3261_8_1_3_headers`.
    """
    if via_host is None:
        return None
    via: Via = response.parse_header("Via")
    if via.host != _host_form(via_host) or (via_port is not None and via.port != via_port):
        port = f":{via.port}" if via.port is not None else ""
        return f"Via sent-by {via.host}{port} is not ours"
    return None


def _host_form(host: str) -> str:
    """``host`` as a parsed Via keeps it: lower case, IPv6 in brackets."""
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host


def check_response(
    response: Response, *, via_host: str | None, via_port: int | None = None
) -> str | None:
    """Check a received response; a bad one is dropped (it cannot be answered).

    Args:
        response: the parsed response.
        via_host: the sent-by host this UA puts in its Via (JsSIP uses a random
            ``.invalid`` name); None skips that check.
        via_port: the sent-by port, when this UA writes one.

    Returns:
        Why to drop the response (for the log), or None: pass it to the
        transaction layer.
    """
    for rule in (
        rfc3261_18_3_response,
        rfc3261_7_1_response,
        rfc3261_8_1_3_headers,
        rfc3261_8_1_3_3,
    ):
        reason = rule(response)
        if reason is not None:
            return reason
    return rfc3261_18_1_2(response, via_host=via_host, via_port=via_port)
