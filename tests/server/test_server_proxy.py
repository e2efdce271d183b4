"""Routing decisions of the stateless proxy, with SIP text in and out (sans-I/O).

Two or three fake connections feed hand-built requests to :class:`Proxy`; each
test reads what it would write, and to which connection.
"""

from __future__ import annotations

import random

import pytest

from websip.auth import compute_response
from websip.server.proxy import Proxy, RequestAnswered, RequestRouted, ServerEvent
from websip.server.registrar import BindingAdded, BindingRemoved
from websip.sip import Credentials, Request, Response, parse_message

PORT = 5066
DOMAIN = "websip.test"
ME = f"SIP/2.0/WS 127.0.0.1:{PORT}"
RR = f"<sip:127.0.0.1:{PORT};transport=ws;lr>"
URN = "urn:uuid:00000000-0000-4000-8000-00000000000b"


class Net:
    """A proxy and its connections A, B, C (127.0.0.1:1001..1003)."""

    def __init__(self, **kw: object) -> None:
        self.now = 100.0
        self.proxy = Proxy(
            host="127.0.0.1",
            port=PORT,
            domain=DOMAIN,
            random=random.Random(5).randbytes,
            **kw,  # type: ignore[arg-type]
        )
        for i, name in enumerate("ABC"):
            self.proxy.connection_opened(name, ("127.0.0.1", 1001 + i))
        self.counter = 0

    def send(
        self, connection: str, message: Request | Response | bytes
    ) -> list[tuple[str, Request | Response]]:
        data = message if isinstance(message, bytes) else message.to_bytes()
        self.proxy.receive_data(connection, data, self.now)
        return [(o.connection, parse_message(o.data)) for o in self.proxy.data_to_send()]

    def events(self) -> list[ServerEvent]:
        out = []
        while (event := self.proxy.next_event()) is not None:
            out.append(event)
        return out

    def request(
        self,
        method: str,
        ruri: str,
        *,
        user: str = "alice",
        host: str = "a.invalid",
        to: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        branch: str | None = None,
        call_id: str = "call-1",
        cseq: int = 1,
        contact: bool = False,
        body: str = "",
    ) -> Request:
        self.counter += 1
        fields = [
            ("Via", f"SIP/2.0/WS {host};branch={branch or f'z9hG4bK{self.counter}'}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{DOMAIN}>;tag={user[0]}tag"),
            ("To", to or f"<{ruri}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        if contact:
            fields.append(("Contact", f"<sip:{user}@{host};transport=ws>"))
        fields += headers or []
        return Request(method, ruri, fields, body)

    def register(
        self, connection: str, user: str, host: str, *, instance: str | None = None
    ) -> Response:
        contact = f"<sip:{user}@{host};transport=ws>"
        if instance:
            contact += f';+sip.instance="<{instance}>"'
        request = self.request(
            "REGISTER",
            f"sip:{DOMAIN}",
            user=user,
            host=host,
            to=f"<sip:{user}@{DOMAIN}>",
            call_id=f"reg-{user}-{host}",
            headers=[("Contact", contact), ("Supported", "gruu")],
        )
        [(where, response)] = self.send(connection, request)
        assert where == connection and isinstance(response, Response)
        return response


def reply(request: Request, status: int, *, to_tag: str | None = "bt", **kw: object) -> Response:
    return Response.for_request(request, status, to_tag=to_tag, **kw)  # type: ignore[arg-type]


@pytest.fixture
def net() -> Net:
    n = Net()
    assert n.register("A", "alice", "a.invalid").status_code == 200
    assert n.register("B", "bob", "b.invalid", instance=URN).status_code == 200
    n.events()
    return n


# ------------------------------------------------------------------ out of dialog


def test_request_to_an_aor_goes_to_its_binding(net: Net) -> None:
    message = net.request(
        "MESSAGE",
        f"sip:bob@{DOMAIN}",
        body="hi",
        headers=[("Route", f"<sip:127.0.0.1:{PORT};lr>"), ("Content-Type", "text/plain")],
    )
    [(where, forwarded)] = net.send("A", message)
    assert where == "B" and isinstance(forwarded, Request)
    assert str(forwarded.ruri) == "sip:bob@b.invalid;transport=ws"
    vias = forwarded.get_headers("Via")
    assert vias[0].startswith(f"{ME};branch=z9hG4bK") and len(vias) == 2
    client_via = forwarded.parse_header("Via", 1)
    assert (client_via.received, client_via.rport) == ("127.0.0.1", 1001)
    assert forwarded.parse_header("Max-Forwards") == 69
    assert not forwarded.has_header("Route") and not forwarded.has_header("Record-Route")
    assert forwarded.body == b"hi"
    [event] = net.events()
    assert event == RequestRouted(
        method="MESSAGE",
        from_uri=f"sip:alice@{DOMAIN}",
        to_uri=f"sip:bob@{DOMAIN}",
        target="sip:bob@b.invalid;transport=ws",
        source="A",
        connection="B",
    )

    # the response goes back by the Via below ours, without ours
    [(where, answered)] = net.send("B", reply(forwarded, 200))
    assert where == "A" and isinstance(answered, Response)
    assert answered.get_headers("Via") == [client_via.__str__()]
    assert answered.status_code == 200


def test_unknown_unregistered_and_userless_targets(net: Net) -> None:
    for ruri, status in (
        (f"sip:nobody@{DOMAIN}", 404),
        (f"sip:{DOMAIN}", 404),
    ):
        [(where, response)] = net.send("A", net.request("MESSAGE", ruri))
        assert (where, response.status_code) == ("A", status)
    net.proxy.connection_closed("B", net.now)  # bob was known: now 480
    [(_, response)] = net.send("A", net.request("MESSAGE", f"sip:bob@{DOMAIN}"))
    assert response.status_code == 480
    assert isinstance(response, Response) and response.get_header("Server") == "websip-serve"
    assert isinstance(net.events()[-1], RequestAnswered)


def test_users_table_decides_who_is_known() -> None:
    n = Net(users={"alice": "a", "carol": "c"})
    [(_, carol)] = n.send("A", n.request("MESSAGE", f"sip:carol@{DOMAIN}"))
    [(_, dave)] = n.send("A", n.request("MESSAGE", f"sip:dave@{DOMAIN}"))
    assert (carol.status_code, dave.status_code) == (480, 404)


def test_options_to_the_server_and_checks(net: Net) -> None:
    [(_, ok)] = net.send("A", net.request("OPTIONS", f"sip:{DOMAIN}"))
    assert ok.status_code == 200 and "REFER" in (ok.get_header("Allow") or "")
    tired = net.request("MESSAGE", f"sip:bob@{DOMAIN}")
    tired.set_header("Max-Forwards", "0")
    [(_, too_many)] = net.send("A", tired)
    assert too_many.status_code == 483
    [(_, tel)] = net.send("A", net.request("MESSAGE", "tel:+123"))
    assert tel.status_code == 416
    strange = net.request("MESSAGE", f"sip:bob@{DOMAIN}", headers=[("Proxy-Require", "foo")])
    [(_, unsupported)] = net.send("A", strange)
    assert unsupported.status_code == 420
    mismatch = net.request("MESSAGE", f"sip:bob@{DOMAIN}")
    mismatch.set_header("CSeq", "1 INFO")
    [(_, bad)] = net.send("A", mismatch)
    assert bad.status_code == 400
    assert net.send("A", b"this is not SIP\r\n\r\n") == []


def test_crlf_keepalive_gets_a_pong(net: Net) -> None:
    net.proxy.receive_data("A", b"\r\n\r\n", net.now)
    assert [(o.connection, o.data) for o in net.proxy.data_to_send()] == [("A", b"\r\n")]


def test_gruus_route_to_their_instance(net: Net) -> None:
    [(_, ok)] = net.send(
        "B",
        net.request(
            "REGISTER",
            f"sip:{DOMAIN}",
            user="bob",
            host="b.invalid",
            call_id="reg-bob-b.invalid",
            cseq=2,
            to=f"<sip:bob@{DOMAIN}>",
            headers=[
                ("Contact", f'<sip:bob@b.invalid;transport=ws>;+sip.instance="<{URN}>"'),
                ("Supported", "gruu"),
            ],
        ),
    )
    contact = ok.parse_header("Contact")
    for gruu in (contact.get_param("pub-gruu"), contact.get_param("temp-gruu")):
        [(where, forwarded)] = net.send("A", net.request("MESSAGE", gruu))
        assert where == "B" and str(forwarded.ruri) == "sip:bob@b.invalid;transport=ws"
    [(_, unknown)] = net.send("A", net.request("MESSAGE", f"sip:tgruu.00@{DOMAIN};gr"))
    assert unknown.status_code == 404
    net.proxy.connection_closed("B", net.now)
    [(_, gone)] = net.send("A", net.request("MESSAGE", contact.get_param("pub-gruu")))
    assert gone.status_code == 480


def test_registration_events_and_lost_connection() -> None:
    n = Net()
    n.register("A", "alice", "a.invalid")
    [added] = [e for e in n.events() if isinstance(e, BindingAdded)]
    assert (added.user, added.connection) == ("alice", "A")
    n.proxy.connection_closed("A", n.now)
    [removed] = n.events()
    assert isinstance(removed, BindingRemoved) and removed.reason == "connection closed"
    n.register("B", "bob", "b.invalid")
    n.events()
    n.now += 601
    n.proxy.handle_timer(n.now)
    [expired] = n.events()
    assert isinstance(expired, BindingRemoved) and expired.reason == "expired"


# ------------------------------------------------------------------ dialogs


def test_invite_dialog_is_record_routed_both_ways(net: Net) -> None:
    invite = net.request("INVITE", f"sip:bob@{DOMAIN}", contact=True)
    [(where, forwarded)] = net.send("A", invite)
    assert where == "B"
    assert forwarded.get_headers("Record-Route") == [RR]
    # bob answers with his own contact and the Record-Route
    ok = reply(
        forwarded,
        200,
        headers=[("Contact", "<sip:bob@b.invalid;transport=ws>"), ("Record-Route", RR)],
    )
    [(where, answered)] = net.send("B", ok)
    assert where == "A" and answered.get_headers("Record-Route") == [RR]

    # alice's ACK and BYE: Route = our RR, R-URI = bob's contact
    to = answered.get_header("To")
    for method, cseq in (("ACK", 1), ("BYE", 2)):
        request = net.request(
            method, "sip:bob@b.invalid;transport=ws", to=to, cseq=cseq, headers=[("Route", RR)]
        )
        [(where, got)] = net.send("A", request)
        assert where == "B" and got.method == method
        assert not got.has_header("Route")
        assert str(got.ruri) == "sip:bob@b.invalid;transport=ws"

    # bob's in-dialog request reaches alice's contact, learnt from the INVITE
    notify = net.request(
        "INFO",
        "sip:alice@a.invalid;transport=ws",
        user="bob",
        host="b.invalid",
        to="<sip:alice@websip.test>;tag=atag",
        headers=[("Route", RR)],
    )
    [(where, got)] = net.send("B", notify)
    assert where == "A" and got.method == "INFO"


def test_in_dialog_request_to_an_unknown_target_is_404(net: Net) -> None:
    bye = net.request(
        "BYE", "sip:x@elsewhere.invalid", to="<sip:x@y>;tag=1", headers=[("Route", RR)]
    )
    [(where, response)] = net.send("A", bye)
    assert (where, response.status_code, response.reason_phrase) == (
        "A",
        404,
        "Unknown In-Dialog Target",
    )


def test_cancel_follows_the_invite_with_the_same_branch(net: Net) -> None:
    invite = net.request("INVITE", f"sip:bob@{DOMAIN}", contact=True, branch="z9hG4bKinv")
    [(_, forwarded)] = net.send("A", invite)
    cancel = net.request("CANCEL", f"sip:bob@{DOMAIN}", branch="z9hG4bKinv")
    [(where, got)] = net.send("A", cancel)
    assert where == "B" and got.method == "CANCEL"
    assert got.via_branch == forwarded.via_branch  # RFC 3261 16.11
    assert got.ruri == forwarded.ruri
    # an unknown CANCEL
    [(_, lost)] = net.send("A", net.request("CANCEL", f"sip:bob@{DOMAIN}", branch="z9hG4bKzz"))
    assert lost.status_code == 481

    # the 487 goes back, and the ACK for it follows the INVITE with its branch
    [(where, _)] = net.send("B", reply(forwarded, 487))
    assert where == "A"
    ack = net.request(
        "ACK", f"sip:bob@{DOMAIN}", branch="z9hG4bKinv", to=f"<sip:bob@{DOMAIN}>;tag=bt"
    )
    [(where, got_ack)] = net.send("A", ack)
    assert where == "B" and got_ack.via_branch == forwarded.via_branch


def test_ack_of_our_own_answer_is_absorbed(net: Net) -> None:
    invite = net.request("INVITE", f"sip:nobody@{DOMAIN}", branch="z9hG4bKnb")
    [(_, not_found)] = net.send("A", invite)
    assert not_found.status_code == 404 and not_found.to_tag
    ack = net.request(
        "ACK", f"sip:nobody@{DOMAIN}", branch="z9hG4bKnb", to=not_found.get_header("To")
    )
    assert net.send("A", ack) == []
    # a stray ACK without a way anywhere is dropped, never answered
    assert net.send("A", net.request("ACK", "sip:x@nowhere.invalid", to="<sip:x@y>;tag=q")) == []


def test_responses_not_via_us_or_for_gone_connections_are_dropped(net: Net) -> None:
    stray = Response(
        200,
        headers=[
            ("Via", "SIP/2.0/WS 10.9.9.9:5060;branch=z9hG4bKx"),
            ("Via", "SIP/2.0/WS a.invalid;branch=z9hG4bKy;received=127.0.0.1;rport=1001"),
            ("From", "<sip:a@b>;tag=1"),
            ("To", "<sip:a@b>;tag=2"),
            ("Call-ID", "x"),
            ("CSeq", "1 MESSAGE"),
        ],
    )
    assert net.send("B", stray) == []
    [(_, forwarded)] = net.send("A", net.request("MESSAGE", f"sip:bob@{DOMAIN}"))
    net.proxy.connection_closed("A", net.now)
    assert net.send("B", reply(forwarded, 200)) == []


# ------------------------------------------------------------------ authentication


def digest(challenge_value: str, method: str, uri: str, user: str, password: str) -> str:
    from websip.sip import Challenge

    challenge = Challenge.parse(challenge_value)
    nonce = challenge.nonce or ""
    response = compute_response(
        challenge.algorithm,
        username=user,
        realm=DOMAIN,
        nonce=nonce,
        method=method,
        uri=uri,
        password=password,
        qop="auth",
        cnonce="c0",
        nc=1,
    )
    return str(
        Credentials(
            "Digest",
            {
                "username": user,
                "realm": DOMAIN,
                "nonce": nonce,
                "uri": uri,
                "response": response,
                "algorithm": challenge.algorithm,
                "qop": "auth",
                "nc": "00000001",
                "cnonce": "c0",
            },
        )
    )


def test_register_is_challenged_and_identity_checked() -> None:
    n = Net(users={"alice": "alicepw", "bob": "bobpw"}, auth_requests=True)
    request = n.request(
        "REGISTER",
        f"sip:{DOMAIN}",
        to=f"<sip:alice@{DOMAIN}>",
        headers=[("Contact", "<sip:alice@a.invalid>")],
    )
    [(_, challenge)] = n.send("A", request)
    assert challenge.status_code == 401
    value = challenge.get_header("WWW-Authenticate") or ""
    request.set_header(
        "Authorization", digest(value, "REGISTER", f"sip:{DOMAIN}", "alice", "alicepw")
    )
    request.set_header("CSeq", "2 REGISTER")
    [(_, ok)] = n.send("A", request)
    assert ok.status_code == 200

    # bob's credentials for alice's AoR: 403
    [(_, c2)] = n.send(
        "B", n.request("REGISTER", f"sip:{DOMAIN}", to=f"<sip:alice@{DOMAIN}>", call_id="r2")
    )
    wrong = n.request(
        "REGISTER",
        f"sip:{DOMAIN}",
        to=f"<sip:alice@{DOMAIN}>",
        call_id="r2",
        cseq=2,
        headers=[
            (
                "Authorization",
                digest(
                    c2.get_header("WWW-Authenticate") or "",
                    "REGISTER",
                    f"sip:{DOMAIN}",
                    "bob",
                    "bobpw",
                ),
            )
        ],
    )
    [(_, forbidden)] = n.send("B", wrong)
    assert forbidden.status_code == 403

    # auth_requests: a MESSAGE gets 407, then goes with the credentials consumed
    message = n.request("MESSAGE", f"sip:alice@{DOMAIN}", user="bob", host="b.invalid")
    [(_, proxy_challenge)] = n.send("B", message)
    assert proxy_challenge.status_code == 407
    value = proxy_challenge.get_header("Proxy-Authenticate") or ""
    message.set_header(
        "Proxy-Authorization", digest(value, "MESSAGE", f"sip:alice@{DOMAIN}", "bob", "bobpw")
    )
    message.set_header("CSeq", "2 MESSAGE")
    [(where, forwarded)] = n.send("B", message)
    assert where == "A" and not forwarded.has_header("Proxy-Authorization")
    # and the server itself answers OPTIONS without a challenge
    [(_, ok)] = n.send("B", n.request("OPTIONS", f"sip:{DOMAIN}", user="bob"))
    assert ok.status_code == 200
