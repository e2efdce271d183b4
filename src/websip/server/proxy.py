"""The routing brain of the embedded server: a stateless proxy and registrar front.

Sans-I/O, in the style of :class:`websip.core.Core`: the shell reports
connections (:meth:`Proxy.connection_opened`, :meth:`Proxy.connection_closed`)
and feeds each WebSocket message to :meth:`Proxy.receive_data`; it then sends
:meth:`Proxy.data_to_send` (each item names its connection) and drains
:meth:`Proxy.next_event` (who registered, what was routed). Time comes in as
``now``; :meth:`Proxy.handle_timer` expires bindings.

How a request travels (the Kamailio script in ``tests/kamailio`` is the model):

1. Checks (RFC 3261 16.3): syntax, scheme (416), Max-Forwards (483),
   Proxy-Require (420). The top Via gets ``received`` and ``rport`` (RFC 3581),
   which is also how its responses find their way back to this connection.
2. In-dialog requests (a To tag) follow their Route: our own Route values are
   removed (16.4, loose routing) and the request goes to its Request-URI.
   Out-of-dialog requests drop every Route (there is no other proxy to reach),
   then: OPTIONS to the server itself gets 200; REGISTER goes to the
   :class:`~websip.server.registrar.Registrar` after digest authentication (401);
   other methods are challenged (407) only when ``auth_requests`` is set.
   INVITE, SUBSCRIBE and REFER get our Record-Route so the dialog's later
   requests come back through us.
3. Where a Request-URI goes: a GRUU (``;gr``) to the binding of its instance;
   a Contact this server has seen (in a REGISTER, a request or a response) to
   the connection it came from (the job of Kamailio's ``;alias``, done with a
   table instead of rewriting the Contact: WebSocket clients put unreachable
   ``*.invalid`` hosts in their Contacts); an address of record to its most
   recent binding (highest q first). Unknown user: 404; a known user without
   a binding: 480.

Stateless (RFC 3261 16.11): nothing is kept per transaction except where each
INVITE went, so that its CANCEL and the ACK of a non-2xx answer follow it. The
branch of our Via is a keyed hash of the incoming one, so a CANCEL gets the
INVITE's branch (16.11 requires it) and a retransmission the same branch. A
stateless proxy forwards to exactly one target: there is no forking, and an
address of record with several bindings reaches its most recent one.
Responses go to the connection named by the ``received``/``rport`` of the Via
below ours. Over WebSocket (reliable) nobody retransmits but a UAS's 2xx, which
passes through like any response.

Every domain is served as our own (AoRs are user names), so a UA's SIP URI need
not match the server's ``domain``; that name is the digest realm and the host
of the GRUUs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from websip.exceptions import ParseError
from websip.sip import URI, NameAddr, Request, Response, Via, parse_message

from .auth import AuthOutcome, DigestVerifier
from .registrar import (
    DEFAULT_EXPIRES,
    MAX_EXPIRES,
    MIN_EXPIRES,
    BindingAdded,
    BindingRemoved,
    Registrar,
)

__all__ = [
    "Outgoing",
    "Proxy",
    "RequestAnswered",
    "RequestRouted",
    "ServerEvent",
]

logger = logging.getLogger("websip.server")

PROXIED_METHODS = (
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE", "INFO", "UPDATE", "PRACK",
    "REFER", "NOTIFY", "SUBSCRIBE", "PUBLISH", "REGISTER",
)  # fmt: skip
_RECORD_ROUTED = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
# Where an INVITE went is kept this long (its CANCEL or non-2xx ACK comes sooner).
_INVITE_MEMORY = 300.0
_MAX_INVITES = 20_000
_MAX_CONTACTS = 100_000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A SIP message (or keep-alive) to write to one connection."""

    connection: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestRouted:
    """A request was forwarded."""

    method: str
    from_uri: str
    to_uri: str
    """The Request-URI as it arrived."""
    target: str
    """The Request-URI as forwarded."""
    source: str
    connection: str
    """The connection it was sent to."""


@dataclass(frozen=True, slots=True)
class RequestAnswered:
    """The server answered a request itself (a rejection, a challenge, a 200 to
    REGISTER or OPTIONS)."""

    method: str
    from_uri: str
    to_uri: str
    status: int
    reason: str
    source: str


ServerEvent = BindingAdded | BindingRemoved | RequestRouted | RequestAnswered


class _Reject(Exception):
    def __init__(self, status: int, reason: str | None = None) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


def _contact_key(uri: URI) -> tuple[str | None, str, int | None]:
    return (uri.user, uri.host.lower(), uri.port)


class Proxy:
    """The embedded registrar and stateless proxy (sans-I/O).

    Args:
        host: the address it listens on (its Via and Record-Route name it).
        port: the port it listens on.
        domain: digest realm and GRUU host.
        users: user -> password; None: no authentication at all.
        auth_requests: challenge out-of-dialog requests other than REGISTER
            (407) too, as the Kamailio test config does with AUTH_REQUESTS.
        gruu: issue GRUUs.
        min_expires, default_expires, max_expires: registration intervals.
        algorithms: digest algorithms offered, preferred first.
        random: ``random(n) -> n bytes`` (secrets, temp GRUUs).
        server_name: the Server header of our own responses.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        domain: str = "websip.test",
        users: Mapping[str, str] | None = None,
        auth_requests: bool = False,
        gruu: bool = True,
        min_expires: int = MIN_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        random: Callable[[int], bytes] = os.urandom,
        server_name: str = "websip-serve",
    ) -> None:
        self.host = host
        self.port = port
        self.via_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.domain = domain
        self.users = dict(users) if users is not None else None
        self.auth_requests = auth_requests
        self.server_name = server_name
        self.registrar = Registrar(
            domain,
            min_expires=min_expires,
            default_expires=default_expires,
            max_expires=max_expires,
            gruu=gruu,
            random=random,
        )
        self.verifier = (
            DigestVerifier(self.users, domain, algorithms=algorithms, random=random)
            if self.users is not None
            else None
        )
        self.record_route = f"<sip:{self.via_host}:{port};transport=ws;lr>"
        self._local_hosts = {h.lower() for h in (host, self.via_host, domain, "localhost")}
        self._local_hosts |= {"127.0.0.1", "[::1]", "::1"}
        self._secret = random(32)
        self._connections: dict[str, tuple[str, int]] = {}
        self._by_address: dict[tuple[str, int], str] = {}
        self._contacts: OrderedDict[tuple[str | None, str, int | None], str] = OrderedDict()
        self._invites: OrderedDict[tuple[str, str], tuple[str, URI, float]] = OrderedDict()
        self._out: list[Outgoing] = []
        self._events: deque[ServerEvent] = deque()
        self._clock = 0.0  # the last `now` seen, for the INVITE memory

    # -- the shell's surface ----------------------------------------------------------

    def data_to_send(self) -> list[Outgoing]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> ServerEvent | None:
        return self._events.popleft() if self._events else None

    def connection_opened(self, connection: str, address: tuple[str, int]) -> None:
        """A WebSocket client connected from ``address`` (ip, port)."""
        ip, port = address[0], int(address[1])
        self._connections[connection] = (ip, port)
        self._by_address[(ip.lower(), port)] = connection

    def connection_closed(self, connection: str, now: float) -> None:
        """The client is gone: its bindings and learnt contacts go with it."""
        address = self._connections.pop(connection, None)
        if address is not None:
            self._by_address.pop((address[0].lower(), address[1]), None)
        self._events.extend(self.registrar.drop_connection(connection))
        for key in [k for k, c in self._contacts.items() if c == connection]:
            del self._contacts[key]

    def handle_timer(self, now: float) -> None:
        """Expire bindings, nonces and the memory of old INVITEs (call about once a second)."""
        self._events.extend(self.registrar.expire(now))
        if self.verifier is not None:
            self.verifier.purge(now)
        while self._invites:
            key, (_, _, created) = next(iter(self._invites.items()))
            if now - created < _INVITE_MEMORY:
                break
            del self._invites[key]

    def receive_data(self, connection: str, data: bytes, now: float) -> None:
        """One WebSocket message from ``connection``."""
        self._clock = now
        if not data.strip(b"\r\n \t"):
            # RFC 5626 4.4.1: a CRLF CRLF ping earns a CRLF pong.
            if b"\r\n\r\n" in data:
                self._out.append(Outgoing(connection, b"\r\n"))
            return
        try:
            message = parse_message(data)
        except ParseError as exc:
            logger.info("dropped unparseable message from %s: %s", connection, exc)
            return
        try:
            if isinstance(message, Response):
                self._on_response(message, connection)
            else:
                self._on_request(message, connection, now)
        except ParseError as exc:
            # a header needed for routing is malformed
            if isinstance(message, Request) and message.method != "ACK":
                self._reply(message, connection, 400, f"Bad Request ({exc.reason})"[:120])
            else:
                logger.info("dropped malformed message from %s: %s", connection, exc)

    # -- requests ---------------------------------------------------------------------

    def _on_request(self, request: Request, source: str, now: float) -> None:
        via: Via | None = request.parse_header("Via")
        if via is None:
            logger.info("dropped a request without Via from %s", source)
            return
        # RFC 3261 18.2.1 and RFC 3581: where it really came from.
        address = self._connections.get(source)
        if address is not None:
            top = request.pop_header("Via")
            assert top is not None
            stamped = Via.parse(top)
            stamped.set_param("received", address[0])
            stamped.set_param("rport", address[1])
            request.add_header("Via", str(stamped), first=True)
        method = request.method
        if method == "ACK":
            self._on_ack(request, source, now)
            return
        try:
            self._check(request)
            if method == "CANCEL":
                self._on_cancel(request, source)
            elif request.to_tag is not None:
                self._strip_own_routes(request)
                connection, target = self._resolve(self._next_hop(request), now, in_dialog=True)
                self._learn_contact(request, source)
                self._forward(request, source, connection, target)
            else:
                self._out_of_dialog(request, source, now)
        except _Reject as reject:
            self._reply(request, source, reject.status, reject.reason)

    def _check(self, request: Request) -> None:
        """RFC 3261 16.3: what makes a proxy answer a request itself."""
        if request.defects:
            raise _Reject(400, "Bad Request")
        for name in ("From", "To", "Call-ID", "CSeq"):
            if not request.has_header(name):
                raise _Reject(400, f"Missing {name}")
        request.parse_header("From")
        request.parse_header("To")
        if request.cseq.method != request.method:
            raise _Reject(400, "CSeq Method Mismatch")
        if request.ruri.scheme not in ("sip", "sips"):
            raise _Reject(416, "Unsupported URI Scheme")
        max_forwards = request.parse_header("Max-Forwards")
        if max_forwards is not None and max_forwards <= 0:
            raise _Reject(483, "Too Many Hops")
        if request.has_header("Proxy-Require"):
            raise _Reject(420, "Bad Extension")

    def _out_of_dialog(self, request: Request, source: str, now: float) -> None:
        method = request.method
        # Nothing lies beyond this server: a preloaded Route can only name us.
        request.remove_header("Route")
        ruri = request.ruri
        if method == "REGISTER":
            self._register(request, source, now)
            return
        if ruri.user is None and method == "OPTIONS":
            headers = [
                ("Allow", ", ".join(PROXIED_METHODS)),
                ("Accept", "application/sdp, text/plain"),
                ("Supported", "outbound, gruu"),
            ]
            self._reply(request, source, 200, None, headers)
            return
        if self.verifier is not None and self.auth_requests:
            result = self.verifier.verify(request, now, proxy=True)
            if not result.ok:
                self._challenge(
                    request, source, now, proxy=True, stale=result.outcome is AuthOutcome.STALE
                )
                return
            from_user = request.parse_header("From").uri.user
            if result.username != from_user:
                raise _Reject(403, "Auth User Mismatch")
            request.remove_header("Proxy-Authorization")  # consumed (Kamailio does too)
        if ruri.user is None:
            raise _Reject(404, "No User In Request-URI")
        connection, target = self._resolve(ruri, now, in_dialog=False)
        if method in _RECORD_ROUTED:
            # RFC 3261 16.6 step 4: stay on the path of the dialog's requests.
            request.add_header("Record-Route", self.record_route, first=True)
        self._learn_contact(request, source)
        self._forward(request, source, connection, target)

    def _register(self, request: Request, source: str, now: float) -> None:
        to: NameAddr = request.parse_header("To")
        user = to.uri.user
        if self.verifier is not None:
            result = self.verifier.verify(request, now)
            if not result.ok:
                stale = result.outcome is AuthOutcome.STALE
                self._challenge(request, source, now, proxy=False, stale=stale)
                return
            if result.username != user:
                raise _Reject(403, "Auth User Mismatch")
        if not user:
            raise _Reject(404, "No User In To")
        response, events = self.registrar.register(
            request, user=user, connection=source, now=now, to_tag=self._local_tag(request)
        )
        if response.status_code == 200:
            for index in range(len(request.get_headers("Contact"))):
                contact = request.parse_header("Contact", index)
                if isinstance(contact, NameAddr):
                    self._remember_contact(contact.uri, source)
        self._send_local(request, source, response)
        self._events.extend(events)

    def _on_cancel(self, request: Request, source: str) -> None:
        entry = self._invites.get(self._invite_key(request))
        if entry is None:
            # RFC 3261 16.10: no matching INVITE here.
            raise _Reject(481, "Call/Transaction Does Not Exist")
        connection, target, _ = entry
        if request.to_tag is None:
            request.remove_header("Route")
        else:
            self._strip_own_routes(request)
        self._forward(request, source, connection, target.copy())

    def _on_ack(self, ack: Request, source: str, now: float) -> None:
        try:
            if ack.to_tag is not None and ack.to_tag == self._local_tag(ack):
                return  # the ACK of a response we generated: absorbed
            entry = self._invites.get(self._invite_key(ack))
            max_forwards = ack.parse_header("Max-Forwards")
            if max_forwards is not None and max_forwards <= 0:
                return
            if entry is not None:
                # the ACK of a non-2xx answer: same way as its INVITE, same branch
                connection, target, _ = entry
                if ack.to_tag is None:
                    ack.remove_header("Route")
                else:
                    self._strip_own_routes(ack)
                self._forward(ack, source, connection, target.copy())
                return
            if ack.to_tag is None:
                return
            self._strip_own_routes(ack)
            connection, target = self._resolve(self._next_hop(ack), now, in_dialog=True)
            self._forward(ack, source, connection, target)
        except (_Reject, ParseError) as exc:
            logger.info("dropped an ACK from %s: %s", source, exc)  # never answered

    # -- where requests go -------------------------------------------------------------

    def _is_own(self, uri: URI) -> bool:
        if uri.user is not None or uri.host.lower() not in self._local_hosts:
            return False
        return uri.port is None or uri.port == self.port

    def _strip_own_routes(self, request: Request) -> None:
        # RFC 3261 16.4: "If the first value in the Route header field indicates
        # this proxy, the proxy MUST remove that value from the request."
        while True:
            route = request.parse_header("Route")
            if route is None or not self._is_own(route.uri):
                return
            request.pop_header("Route")

    def _next_hop(self, request: Request) -> URI:
        route = request.parse_header("Route")
        if route is not None:
            return URI.parse(str(route.uri))
        return request.ruri.copy()

    def _resolve(self, uri: URI, now: float, *, in_dialog: bool) -> tuple[str, URI]:
        """The connection to send to and the Request-URI to send (or _Reject)."""
        registrar = self.registrar
        if uri.has_param("gr"):
            instance = uri.get_param("gr")
            binding = (
                registrar.by_instance(uri.user or "", instance, now)
                if instance
                else registrar.by_temp_gruu(uri.user or "", now)
            )
            if binding is not None:
                return binding.connection, _request_uri(binding.uri)
            if instance and self._known(uri.user):
                raise _Reject(480, "Temporarily Unavailable")
            raise _Reject(404, "Unknown GRUU")
        connection = self._contacts.get(_contact_key(uri))
        if connection is not None and connection in self._connections:
            return connection, uri
        if in_dialog and uri.host.lower() not in self._local_hosts:
            raise _Reject(404, "Unknown In-Dialog Target")
        if uri.user is None:
            raise _Reject(404, "No User In Request-URI")
        bindings = registrar.lookup(uri.user, now)
        if bindings:
            return bindings[0].connection, _request_uri(bindings[0].uri)
        if self._known(uri.user):
            raise _Reject(480, "Temporarily Unavailable")
        raise _Reject(404, "Not Found")

    def _known(self, user: str | None) -> bool:
        if user is None:
            return False
        if self.users is not None:
            return user in self.users
        return user in self.registrar.known_users

    def _learn_contact(self, message: Request | Response, source: str) -> None:
        try:
            contact = message.parse_header("Contact")
        except ParseError:
            return
        if isinstance(contact, NameAddr):
            self._remember_contact(contact.uri, source)

    def _remember_contact(self, uri: URI, source: str) -> None:
        # A GRUU or one of our names routes by the registrar, not by connection.
        if uri.has_param("gr") or uri.host.lower() in self._local_hosts:
            return
        key = _contact_key(uri)
        self._contacts.pop(key, None)
        self._contacts[key] = source
        while len(self._contacts) > _MAX_CONTACTS:
            self._contacts.popitem(last=False)

    def _forward(self, request: Request, source: str, connection: str, target: URI) -> None:
        if connection not in self._connections:
            raise _Reject(480, "Temporarily Unavailable")
        original = request.ruri_text
        max_forwards = request.parse_header("Max-Forwards")
        # RFC 3261 16.6 step 3 (70 when missing).
        request.set_header("Max-Forwards", str((70 if max_forwards is None else max_forwards) - 1))
        branch = self._branch(request)
        if request.method == "INVITE":
            self._invites.pop(self._invite_key(request), None)
            self._invites[self._invite_key(request)] = (connection, target.copy(), self._clock)
            while len(self._invites) > _MAX_INVITES:
                self._invites.popitem(last=False)
        request.ruri = target
        # RFC 3261 16.6 step 8 / RFC 7118 5: our Via, transport WS.
        request.add_header(
            "Via", f"SIP/2.0/WS {self.via_host}:{self.port};branch={branch}", first=True
        )
        self._out.append(Outgoing(connection, request.to_bytes()))
        self._events.append(
            RequestRouted(
                method=request.method,
                from_uri=_uri_of(request, "From"),
                to_uri=original,
                target=str(target),
                source=source,
                connection=connection,
            )
        )

    # -- responses ---------------------------------------------------------------------

    def _on_response(self, response: Response, source: str) -> None:
        vias = response.get_headers("Via")
        if len(vias) < 2:
            logger.info("dropped a response with %d Via from %s", len(vias), source)
            return
        top = Via.parse(vias[0])
        host, port = top.sent_by
        if host.lower() != self.via_host.lower() or port != self.port:
            logger.info("dropped a response not via us from %s", source)
            return
        response.pop_header("Via")
        via: Via = response.parse_header("Via")
        received = via.received or via.sent_by[0]
        rport = via.rport or via.sent_by[1] or 0
        connection = self._by_address.get((received.strip("[]").lower(), rport))
        if connection is None:
            logger.info("dropped a response for a closed connection %s:%s", received, rport)
            return
        if 100 < response.status_code < 300:
            self._learn_contact(response, source)
        self._out.append(Outgoing(connection, response.to_bytes()))

    # -- our own answers ---------------------------------------------------------------

    def _challenge(
        self, request: Request, source: str, now: float, *, proxy: bool, stale: bool
    ) -> None:
        assert self.verifier is not None
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        headers = [(name, str(c)) for c in self.verifier.challenges(now, stale=stale)]
        status = 407 if proxy else 401
        self._reply(request, source, status, None, headers)

    def _reply(
        self,
        request: Request,
        source: str,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        to_tag = None
        try:
            if request.to_tag is None:
                to_tag = self._local_tag(request)
        except ParseError:
            pass
        response = Response.for_request(request, status, reason, to_tag=to_tag, headers=headers)
        self._send_local(request, source, response)

    def _send_local(self, request: Request, source: str, response: Response) -> None:
        response.add_header("Server", self.server_name)
        self._out.append(Outgoing(source, response.to_bytes()))
        try:
            from_uri = _uri_of(request, "From")
        except ParseError:
            from_uri = "?"
        self._events.append(
            RequestAnswered(
                method=request.method,
                from_uri=from_uri,
                to_uri=request.ruri_text,
                status=response.status_code,
                reason=response.reason_phrase,
                source=source,
            )
        )

    # -- identifiers ---------------------------------------------------------------------

    def _mac(self, text: str) -> str:
        return hmac.new(
            self._secret, text.encode("utf-8", "surrogateescape"), hashlib.sha256
        ).hexdigest()

    def _transaction_text(self, request: Request) -> str:
        """What identifies the client transaction of ``request`` (its INVITE's for a CANCEL
        or non-2xx ACK): the branch and sent-by of the top Via (RFC 3261 17.2.3), or the
        RFC 2543 fields when the branch has no magic cookie."""
        via: Via = request.parse_header("Via")
        branch = via.branch or ""
        sent_by = f"{via.sent_by[0].lower()}:{via.sent_by[1]}"
        if branch.lower().startswith("z9hg4bk"):
            return f"{branch}|{sent_by}|{request.call_id}"
        return "|".join(
            (
                sent_by,
                request.call_id,
                request.from_tag or "",
                str(request.cseq.seq),
                str(request.ruri),
            )
        )

    def _branch(self, request: Request) -> str:
        # RFC 3261 16.11: a function of the incoming request's transaction, so a
        # CANCEL or ACK of it gets the same branch as the INVITE did.
        return "z9hG4bK" + self._mac("branch|" + self._transaction_text(request))[:24]

    def _local_tag(self, request: Request) -> str:
        # The same for an INVITE and the ACK of our answer to it, so that ACK
        # can be recognized and absorbed without keeping any state.
        return "ws" + self._mac("tag|" + self._transaction_text(request))[:14]

    def _invite_key(self, request: Request) -> tuple[str, str]:
        return (self._transaction_text(request), request.call_id)


def _request_uri(uri: URI) -> URI:
    copy = uri.copy()
    copy.clear_headers()  # RFC 3261 19.1.1: no headers in a Request-URI
    return copy


def _uri_of(message: Request | Response, name: str) -> str:
    value = message.parse_header(name)
    return str(value.uri) if isinstance(value, NameAddr) else "?"
