"""The Kamailio test server behaves as README.md says (hand-written SIP, no websip code)."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from .server import DOMAIN, KamailioServer, load_user
from .sipwire import (
    SipMessage,
    WsPeer,
    digest_authorization,
    parse_auth_params,
    render,
    reply_to,
    token,
)

pytestmark = pytest.mark.kamailio

SIP = [Subprotocol("sip")]
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
)


def uri_of(name_addr: str) -> str:
    return name_addr.split("<", 1)[1].split(">", 1)[0]


def contact_param(contact: str, name: str) -> str:
    m = re.search(rf';{re.escape(name)}="?([^";,]*(?:;gr[^"]*)?)"?', contact)
    assert m, f"no {name} in {contact}"
    return m.group(1)


PeerFactory = Callable[..., Awaitable[WsPeer]]
ServerFactory = Callable[..., KamailioServer]


@pytest.fixture
async def peers(kamailio: KamailioServer) -> AsyncIterator[PeerFactory]:
    """peers(user, secure=False) -> a connected (not registered) WsPeer."""
    made: list[WsPeer] = []

    async def make(user: str, secure: bool = False, **kw: Any) -> WsPeer:
        url = kamailio.wss_url if secure else kamailio.ws_url
        ctx = kamailio.ssl_context() if secure else None
        peer = WsPeer(url, user, kamailio.password(user), kamailio.domain, ctx, **kw)
        await peer.connect()
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()


# ------------------------------------------------------------------ handshake


async def test_websocket_without_sip_subprotocol_is_refused(kamailio: KamailioServer) -> None:
    for subprotocols in (None, [Subprotocol("foo")]):
        with pytest.raises(InvalidStatus) as info:
            async with connect(kamailio.ws_url, subprotocols=subprotocols, open_timeout=5):
                pass
        assert info.value.response.status_code == 400
    async with connect(kamailio.ws_url, subprotocols=SIP, open_timeout=5) as ws:
        assert ws.subprotocol == "sip"


async def test_crlf_keepalive_is_answered(kamailio: KamailioServer) -> None:
    async with connect(kamailio.ws_url, subprotocols=SIP, open_timeout=5) as ws:
        await ws.send("\r\n\r\n")
        assert await asyncio.wait_for(ws.recv(), 5) == "\r\n"


# ------------------------------------------------------------------- REGISTER


async def test_register_digest_gruu_outbound(kamailio: KamailioServer, peers: PeerFactory) -> None:
    alice = await peers("alice")
    await alice.send(alice.register_text())
    challenge = await alice.recv_final()
    assert challenge.status == 401
    assert ";tag=" in challenge.get("To")
    params = parse_auth_params(challenge.get("WWW-Authenticate"))
    assert params["realm"] == DOMAIN == kamailio.domain
    assert params["qop"] == "auth"
    assert params["nonce"]
    assert "algorithm" not in params and "opaque" not in params
    # the server's rport/received in our Via
    assert re.search(r";rport=\d+;received=127\.0\.0\.1", challenge.get("Via"))

    auth = digest_authorization(
        challenge.get("WWW-Authenticate"), "REGISTER", f"sip:{DOMAIN}", "alice", "alicepw"
    )
    await alice.send(alice.register_text(expires=600, auth=auth))
    ok = await alice.recv_final()
    assert ok.status == 200, ok.first_line
    contact = ok.get("Contact")
    assert uri_of(contact) == f"{alice.contact_uri};ob"
    assert ";expires=600;" in contact
    assert re.search(r';received="sip:127\.0\.0\.1:\d+;transport=ws"', contact)
    assert f';pub-gruu="sip:alice@{DOMAIN};gr={alice.instance}"' in contact
    temp = re.search(r';temp-gruu="(sip:[^"@]+@' + re.escape(DOMAIN) + r';gr)"', contact)
    assert temp, contact
    assert f';+sip.instance="<{alice.instance}>"' in contact
    assert contact.endswith(";reg-id=1")
    assert ok.get("Require") == "outbound"
    assert ok.get("Supported") == "outbound"
    assert not ok.has("Expires")

    [binding] = kamailio.contacts("alice")
    assert binding["Address"] == f"{alice.contact_uri};ob"
    assert binding["Instance"] == f"<{alice.instance}>"
    assert binding["Reg-Id"] == 1
    assert binding["Received"].startswith("sip:127.0.0.1:")

    # refresh and unregister on the same connection
    refreshed = await alice.register(expires=300)
    assert refreshed.status == 200 and ";expires=300;" in refreshed.get("Contact")
    gone = await alice.register(expires=0)
    assert gone.status == 200
    assert not gone.has("Contact")
    assert kamailio.contacts("alice") == []


async def test_register_without_outbound_or_gruu_support(peers: PeerFactory) -> None:
    carol = await peers("carol")
    ok = await carol.register(supported="")
    assert ok.status == 200
    contact = ok.get("Contact")
    assert "pub-gruu" not in contact and "temp-gruu" not in contact
    assert not ok.has("Require")
    assert ok.get("Supported") == "outbound"  # always advertised (outbound_mode=1)
    await carol.register(expires=0, supported="")


async def test_wrong_password_unknown_user_and_identity_mismatch(peers: PeerFactory) -> None:
    bob = await peers("bob")
    bob.password = "not-bobs-password"
    assert (await bob.register()).status == 401

    nobody = await peers("bob")
    nobody.user, nobody.password = "mallory", ""
    assert (await nobody.register()).status == 401

    # alice's credentials for bob's AoR: authenticated but not allowed
    alice = await peers("alice")
    await alice.send(alice.register_text())
    challenge = await alice.recv_final()
    alice.user = "bob"  # AoR sip:bob@..., credentials still alice's below
    auth = digest_authorization(
        challenge.get("WWW-Authenticate"), "REGISTER", f"sip:{DOMAIN}", "alice", "alicepw"
    )
    await alice.send(alice.register_text(auth=auth))
    assert (await alice.recv_final()).status == 403


async def test_load_users_have_computed_passwords(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    name, password = load_user(42)
    assert (name, password) == ("user0042", "user0042pw")
    user = await peers(name)
    assert (await user.register()).status == 200
    await user.register(expires=0)
    beyond = await peers("alice")
    beyond.user = beyond.password = f"user{kamailio.load_users + 1:04d}"
    beyond.password += "pw"
    assert (await beyond.register()).status == 401


async def test_lost_connection_drops_its_binding(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    dave = await peers("dave")
    assert (await dave.register()).status == 200
    assert len(kamailio.contacts("dave")) == 1
    await dave.close()
    for _ in range(50):
        if not kamailio.contacts("dave"):
            break
        await asyncio.sleep(0.05)
    assert kamailio.contacts("dave") == []


async def test_reregister_from_new_connection_replaces_binding(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    first = await peers("dave")
    assert (await first.register()).status == 200
    second = await peers("dave", instance=first.instance)
    assert (await second.register()).status == 200
    [binding] = kamailio.contacts("dave")
    assert binding["Address"] == f"{second.contact_uri};ob"
    await second.register(expires=0)


# -------------------------------------------------------------------- routing


async def test_message_between_registered_users(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    alice = await peers("alice")
    bob = await peers("bob")
    assert (await alice.register()).status == 200
    assert (await bob.register()).status == 200

    # without credentials: 407
    await alice.send(alice.request("MESSAGE", f"sip:bob@{DOMAIN}", body="hi"))
    challenge = await alice.recv_final()
    assert challenge.status == 407
    assert parse_auth_params(challenge.get("Proxy-Authenticate"))["realm"] == DOMAIN

    sending = asyncio.create_task(
        alice.send_authenticated(
            "MESSAGE", f"sip:bob@{DOMAIN}", body="hello bob", content_type="text/plain"
        )
    )
    got = await bob.recv()
    assert got.first_line == f"MESSAGE {bob.contact_uri};ob SIP/2.0"
    assert got.body == "hello bob"
    assert got.get("To") == f"<sip:bob@{DOMAIN}>"
    assert got.get("From").startswith(f"<sip:alice@{DOMAIN}>;tag=")
    vias = got.get_all("Via")
    assert len(vias) == 2
    assert re.match(r"SIP/2\.0/WS\s+127\.0\.0\.1:\d+;branch=z9hG4bK", vias[0])
    assert vias[1].startswith(f"SIP/2.0/WS {alice.host};")
    assert not got.has("Proxy-Authorization")  # consumed by the proxy
    assert not got.has("Record-Route")
    await bob.send(reply_to(got, 200, "OK", to_tag="b1"))
    answer = await sending
    assert answer.status == 200
    assert answer.get("To").endswith(";tag=b1")
    assert len(answer.get_all("Via")) == 1


async def test_not_registered_foreign_domain_and_server_options(peers: PeerFactory) -> None:
    alice = await peers("alice")
    assert (await alice.register()).status == 200
    for user in ("carol", "nobody"):
        reply = await alice.send_authenticated("MESSAGE", f"sip:{user}@{DOMAIN}", body="x")
        assert reply.status == 404
    reply = await alice.send_authenticated("MESSAGE", "sip:bob@example.com", body="x")
    assert reply.status == 403
    for ruri in (f"sip:{DOMAIN}", "sip:127.0.0.1"):
        await alice.send(alice.request("OPTIONS", ruri))
        assert (await alice.recv_final()).status == 200


async def test_gruus_route_to_the_registered_instance(peers: PeerFactory) -> None:
    alice = await peers("alice")
    bob = await peers("bob")
    await alice.register()
    ok = await bob.register()
    contact = ok.get("Contact")
    pub = re.search(r'pub-gruu="([^"]+)"', contact)
    temp = re.search(r'temp-gruu="([^"]+)"', contact)
    assert pub and temp
    for gruu in (pub.group(1), temp.group(1)):
        sending = asyncio.create_task(alice.send_authenticated("MESSAGE", gruu, body=gruu))
        got = await bob.recv()
        assert got.ruri == f"{bob.contact_uri};ob"
        assert got.body == gruu
        await bob.send(reply_to(got, 200, "OK", to_tag="g"))
        assert (await sending).status == 200


async def _invite(alice: WsPeer, bob: WsPeer, call_id: str) -> tuple[SipMessage, str]:
    """alice INVITEs bob (answering the 407); returns (INVITE as bob got it, branch)."""
    ruri = f"sip:bob@{DOMAIN}"
    contact = f"<{alice.contact_uri};ob>"
    first = alice.request(
        "INVITE", ruri, call_id=call_id, contact=contact, body=SDP, content_type="application/sdp"
    )
    await alice.send(first)
    challenge = await alice.recv_final()
    assert challenge.status == 407
    # ACK for the 407: same branch as the INVITE, absorbed by Kamailio
    branch = first.split(";branch=z9hG4bK", 1)[1].split("\r\n", 1)[0]
    await alice.send(
        alice.request(
            "ACK", ruri, call_id=call_id, cseq=alice.cseq, to=challenge.get("To"), branch=branch
        )
    )
    auth = digest_authorization(
        challenge.get("Proxy-Authenticate"), "INVITE", ruri, "alice", "alicepw"
    )
    branch = token(8)
    await alice.send(
        alice.request(
            "INVITE",
            ruri,
            call_id=call_id,
            contact=contact,
            body=SDP,
            content_type="application/sdp",
            extra=[("Proxy-Authorization", auth)],
            branch=branch,
        )
    )
    invite = await bob.recv()
    assert invite.method == "INVITE"
    trying = await alice.recv()
    assert trying.status == 100
    return invite, branch


async def test_invite_dialog_record_route_and_aliases(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    alice = await peers("alice")
    bob = await peers("bob")
    await alice.register()
    await bob.register()
    call_id = "dlg-" + token(6)
    invite, _ = await _invite(alice, bob, call_id)

    [rr] = invite.get_all("Record-Route")
    assert re.fullmatch(
        rf"<sip:127\.0\.0\.1:{kamailio.ws_port};transport=ws;lr;ftag=[0-9a-f]+>", rr
    ), rr
    alias = re.escape(";alias=127.0.0.1~") + r"\d+~5"
    assert re.fullmatch(
        rf"<sip:alice@{re.escape(alice.host)}{alias};transport=ws;ob>", invite.get("Contact")
    ), invite.get("Contact")

    bob_contact = [("Contact", f"<{bob.contact_uri}>")]
    await bob.send(reply_to(invite, 180, "Ringing", to_tag="bt", extra=bob_contact))
    ringing = await alice.recv()
    assert ringing.status == 180
    await bob.send(
        reply_to(invite, 200, "OK", to_tag="bt", extra=bob_contact).replace(
            "Content-Length: 0\r\n\r\n",
            f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}",
        )
    )
    ok = await alice.recv()
    assert ok.status == 200 and ok.body == SDP
    assert ok.get_all("Record-Route") == [rr]
    remote_target = uri_of(ok.get("Contact"))
    assert re.fullmatch(rf"sip:bob@{re.escape(bob.host)}{alias};transport=ws", remote_target)

    # ACK for the 2xx: R-URI = remote target (with alias), Route = record-route
    route = [("Route", v) for v in reversed(ok.get_all("Record-Route"))]
    cseq = int(ok.get("CSeq").split()[0])
    await alice.send(
        alice.request(
            "ACK", remote_target, call_id=call_id, cseq=cseq, to=ok.get("To"), extra=route
        )
    )
    ack = await bob.recv()
    assert ack.first_line == f"ACK {bob.contact_uri} SIP/2.0"  # alias stripped
    assert not ack.has("Route")

    # BYE from the callee towards alice's aliased Contact
    bye = render(
        f"BYE {uri_of(invite.get('Contact'))} SIP/2.0",
        [
            ("Via", bob.via()),
            ("Max-Forwards", "70"),
            ("From", f"<sip:bob@{DOMAIN}>;tag=bt"),
            ("To", invite.get("From")),
            ("Call-ID", call_id),
            ("CSeq", "1 BYE"),
            *[("Route", v) for v in invite.get_all("Record-Route")],
        ],
    )
    await bob.send(bye)
    got = await alice.recv()
    assert got.first_line == f"BYE {alice.contact_uri};ob SIP/2.0"
    assert len(got.get_all("Via")) == 2
    await alice.send(reply_to(got, 200, "OK"))
    assert (await bob.recv()).status == 200


async def test_cancel_of_a_ringing_invite(peers: PeerFactory) -> None:
    alice = await peers("alice")
    bob = await peers("bob")
    await alice.register()
    await bob.register()
    call_id = "cancel-" + token(6)
    invite, branch = await _invite(alice, bob, call_id)
    await bob.send(reply_to(invite, 180, "Ringing", to_tag="bt"))
    assert (await alice.recv()).status == 180

    cancel = alice.request(
        "CANCEL", f"sip:bob@{DOMAIN}", call_id=call_id, cseq=alice.cseq, branch=branch
    )
    await alice.send(cancel)
    got_cancel = await bob.recv()
    assert got_cancel.method == "CANCEL"
    await bob.send(reply_to(got_cancel, 200, "OK", to_tag="bt"))
    await bob.send(reply_to(invite, 487, "Request Terminated", to_tag="bt"))
    replies = {(await alice.recv()).status, (await alice.recv()).status}
    assert replies == {200, 487}
    # Kamailio ACKs the 487 itself, hop by hop
    ack = await bob.recv()
    assert ack.method == "ACK"
    assert ack.get("CSeq").split()[0] == invite.get("CSeq").split()[0]


async def test_plain_sip_refused_and_no_name_resolution(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", kamailio.ws_port)
    try:
        writer.write(
            render(
                f"OPTIONS sip:{DOMAIN} SIP/2.0",
                [
                    ("Via", "SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKraw"),
                    ("Max-Forwards", "70"),
                    ("To", f"<sip:{DOMAIN}>"),
                    ("From", f"<sip:alice@{DOMAIN}>;tag=1"),
                    ("Call-ID", token()),
                    ("CSeq", "1 OPTIONS"),
                ],
            ).encode()
        )
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert status_line == b"SIP/2.0 403 WebSocket Only\r\n"
    finally:
        writer.close()
        await writer.wait_closed()

    alice = await peers("alice")
    route = f"<sip:127.0.0.1:{kamailio.ws_port};transport=ws;lr>"
    await alice.send(
        alice.request(
            "BYE",
            "sip:bob@somewhere.invalid;transport=ws",
            to=f"<sip:bob@{DOMAIN}>;tag=x",
            extra=[("Route", route)],
        )
    )
    reply = await alice.recv_final()
    assert (reply.status, reply.reason) == (404, "Unknown In-Dialog Target")


# ------------------------------------------------------------------------ wss


async def test_wss_with_the_generated_certificate(
    kamailio: KamailioServer, peers: PeerFactory
) -> None:
    # untrusted by default
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(kamailio.wss_url, subprotocols=SIP, open_timeout=5):
            pass
    bob = await peers("bob", secure=True)
    alice = await peers("alice")
    assert (await bob.register()).status == 200
    await alice.register()
    received = kamailio.contacts("bob")[0]["Received"]
    assert received.endswith(";transport=ws")  # also for wss, see README
    sending = asyncio.create_task(
        alice.send_authenticated("MESSAGE", f"sip:bob@{DOMAIN}", body="s")
    )
    got = await bob.recv()
    assert re.match(rf"SIP/2\.0/WSS 127\.0\.0\.1:{kamailio.wss_port};", got.get("Via"))
    await bob.send(reply_to(got, 200, "OK", to_tag="s"))
    assert (await sending).status == 200


# ------------------------------------------------------- options and restarts


async def test_auth_can_be_switched_off(kamailio_factory: ServerFactory) -> None:
    server = kamailio_factory(auth_register=False, auth_requests=False)
    alice = WsPeer(server.ws_url, "alice", "", server.domain)
    bob = WsPeer(server.ws_url, "bob", "", server.domain)
    await alice.connect()
    await bob.connect()
    try:
        await alice.send(alice.register_text())
        assert (await alice.recv_final()).status == 200
        await bob.send(bob.register_text())
        assert (await bob.recv_final()).status == 200
        await alice.send(alice.request("MESSAGE", f"sip:bob@{DOMAIN}", body="free"))
        got = await bob.recv()
        assert got.body == "free"
        await bob.send(reply_to(got, 200, "OK", to_tag="f"))
        assert (await alice.recv_final()).status == 200
    finally:
        await alice.close()
        await bob.close()


async def test_restart_and_kill_keep_ports(kamailio_factory: ServerFactory) -> None:
    server = kamailio_factory()
    ws_port, wss_port = server.ws_port, server.wss_port
    alice = WsPeer(server.ws_url, "alice", "alicepw", server.domain)
    await alice.connect()
    assert (await alice.register()).status == 200

    for stop in (server.stop, server.kill):
        stop()
        assert not server.running
        with pytest.raises(ConnectionClosed):
            await alice.recv(timeout=5)
        server.start()
        assert (server.ws_port, server.wss_port) == (ws_port, wss_port)
        assert server.contacts("alice") == []  # registrations live in memory only
        alice = WsPeer(server.ws_url, "alice", "alicepw", server.domain)
        await alice.connect()
        assert (await alice.register()).status == 200

    server.restart()
    assert (server.ws_port, server.wss_port) == (ws_port, wss_port)
    async with connect(server.wss_url, subprotocols=SIP, ssl=server.ssl_context()) as ws:
        assert ws.subprotocol == "sip"
    await alice.close()


async def test_oversized_message_is_dropped_with_the_connection(
    kamailio_factory: ServerFactory,
) -> None:
    server = kamailio_factory(tcp_rd_buf_size=4096, auth_requests=False)
    alice = WsPeer(server.ws_url, "alice", "alicepw", server.domain)
    await alice.connect()
    try:
        await alice.send(alice.request("OPTIONS", f"sip:{DOMAIN}", body="x" * 3000))
        assert (await alice.recv_final()).status == 200
        await alice.send(alice.request("OPTIONS", f"sip:{DOMAIN}", body="x" * 5000))
        with pytest.raises(ConnectionClosed):
            await alice.recv(timeout=5)
    finally:
        await alice.close()


async def test_rpc_helpers(kamailio: KamailioServer, peers: PeerFactory) -> None:
    assert kamailio.rpc("core.version").startswith("kamailio 5.")
    carol = await peers("carol")
    assert (await carol.register()).status == 200
    assert len(kamailio.contacts("carol")) == 1
    kamailio.unregister_all()
    assert kamailio.contacts("carol") == []
    assert "REQ REGISTER sip:websip.test" in kamailio.log_text()
