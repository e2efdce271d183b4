"""The Server over real WebSockets on 127.0.0.1, with websip Cores as clients."""

from __future__ import annotations

import asyncio
import re

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from websip import causes
from websip.dialog import Dialog
from websip.events import (
    AckReceived,
    RequestCancelled,
    RequestFailed,
    RequestReceived,
)
from websip.server import (
    BindingAdded,
    BindingRemoved,
    RequestAnswered,
    RequestRouted,
    Server,
    ServerEvent,
)
from websip.sip import Challenge, NameAddr, Response

from .conftest import ClientFactory
from .helpers import DOMAIN, SDP, CoreClient, accept_call


async def registered(clients: ClientFactory, *users: str) -> list[CoreClient]:
    out = []
    for user in users:
        client = await clients(user)
        response = await client.register()
        assert response.status_code == 200, response
        out.append(client)
    return out


async def wait_until(predicate: object, timeout: float = 3.0) -> None:
    assert callable(predicate)
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


# -------------------------------------------------------------- handshake


async def test_url_port_and_a_client_without_sip_subprotocol_is_refused(server: Server) -> None:
    assert server.url == f"ws://127.0.0.1:{server.port}"
    assert server.port > 0
    for subprotocols in (None, [Subprotocol("foo")]):
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.url, subprotocols=subprotocols, open_timeout=5):
                pass
        assert info.value.response.status_code == 400
    async with connect(server.url, subprotocols=[Subprotocol("sip")], open_timeout=5) as ws:
        assert ws.subprotocol == "sip"
        await ws.send("\r\n\r\n")  # RFC 5626 keep-alive ping
        assert await asyncio.wait_for(ws.recv(), 5) == "\r\n"


async def test_plain_http_is_told_to_upgrade(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 426")
    finally:
        writer.close()
        await writer.wait_closed()


# --------------------------------------------------------------- REGISTER


async def test_register_with_digest_gruu_and_outbound(
    server: Server, clients: ClientFactory, server_events: list[ServerEvent]
) -> None:
    anonymous = await clients("alice", url=server.url, password="")
    anonymous.core.auth = None  # no credentials: see the challenge itself
    challenge = await anonymous.register()
    assert challenge.status_code == 401
    challenges = _challenges(challenge)
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert {(c.realm, tuple(c.qop)) for c in challenges} == {(DOMAIN, ("auth",))}
    assert challenge.to_tag is not None

    alice = await clients("alice")
    tid = await alice.send(alice.register_request(600))
    ok = await alice.final(tid)  # the core answered the challenge by itself
    assert ok.status_code == 200
    assert ok.cseq.seq == 2
    alice.reg_cseq = 2
    contact = ok.parse_header("Contact")
    assert contact.uri == alice.contact.uri
    assert contact.get_param("expires") == "600"
    assert contact.get_param("pub-gruu") == f"sip:alice@{DOMAIN};gr={alice.instance}"
    assert re.fullmatch(rf"sip:tgruu\.[0-9a-f]+@{DOMAIN};gr", contact.get_param("temp-gruu"))
    assert ok.get_header("Require") == "outbound"
    [binding] = server.bindings("alice")
    assert binding.instance == alice.instance
    added = [e for e in server_events if isinstance(e, BindingAdded)]
    assert [(e.user, e.expires, e.refreshed) for e in added] == [("alice", 600, False)]

    # refresh (credentials re-used, no new challenge), then unregister
    refreshed = await alice.register(300)
    assert refreshed.parse_header("Contact").get_param("expires") == "300"
    gone = await alice.register(0)
    assert gone.status_code == 200 and not gone.has_header("Contact")
    assert server.bindings("alice") == []
    removed = [e for e in server_events if isinstance(e, BindingRemoved)]
    assert [(e.user, e.reason) for e in removed] == [("alice", "unregistered")]


def _challenges(response: Response) -> list[Challenge]:
    return [
        response.parse_header("WWW-Authenticate", i)
        for i in range(len(response.get_headers("WWW-Authenticate")))
    ]


async def test_wrong_password_fails_after_one_round(clients: ClientFactory) -> None:
    mallory = await clients("bob", password="not-bobs")
    tid = await mallory.send(mallory.register_request())
    failed = await mallory.next_event(RequestFailed)
    assert failed.transaction_id == tid
    assert failed.cause == causes.AUTHENTICATION_ERROR
    assert failed.response is not None and failed.response.status_code == 401


async def test_interval_too_brief(clients: ClientFactory) -> None:
    alice = await clients("alice")
    response = await alice.register(5)
    assert response.status_code == 423
    assert response.parse_header("Min-Expires") == 10


async def test_disconnect_removes_the_binding(
    server: Server, clients: ClientFactory, server_events: list[ServerEvent]
) -> None:
    alice, bob = await registered(clients, "alice", "bob")
    assert len(server.bindings("bob")) == 1
    await bob.close()
    await wait_until(lambda: server.bindings("bob") == [])
    assert any(
        isinstance(e, BindingRemoved) and e.user == "bob" and e.reason == "connection closed"
        for e in server_events
    )
    tid = await alice.send(alice.build("MESSAGE", f"sip:bob@{DOMAIN}", body="hi"))
    assert (await alice.final(tid)).status_code == 480


# ---------------------------------------------------------------- routing


async def test_message_from_alice_to_bob(
    clients: ClientFactory, server_events: list[ServerEvent]
) -> None:
    alice, bob = await registered(clients, "alice", "bob")
    message = alice.build(
        "MESSAGE", f"sip:bob@{DOMAIN}", body="héllo", headers=[("Content-Type", "text/plain")]
    )
    tid = await alice.send(message)
    got = await bob.next_event(RequestReceived)
    request = got.request
    assert request.method == "MESSAGE"
    assert request.ruri == bob.contact.uri
    assert request.body == "héllo".encode()
    vias = request.get_headers("Via")
    assert len(vias) == 2 and vias[0].startswith("SIP/2.0/WS 127.0.0.1:")
    assert request.parse_header("Via", 1).received == "127.0.0.1"
    assert request.parse_header("Max-Forwards") == 69
    await bob.answer(got, 200)
    response = await alice.final(tid)
    assert response.status_code == 200
    assert len(response.get_headers("Via")) == 1
    routed = [e for e in server_events if isinstance(e, RequestRouted)]
    assert [(e.method, e.from_uri, e.to_uri) for e in routed] == [
        ("MESSAGE", f"sip:alice@{DOMAIN}", f"sip:bob@{DOMAIN}")
    ]


async def test_unknown_user_404_and_unregistered_user_480(clients: ClientFactory) -> None:
    [alice] = await registered(clients, "alice")
    for user, status in (("nobody", 404), ("carol", 480)):
        tid = await alice.send(alice.build("MESSAGE", f"sip:{user}@{DOMAIN}", body="x"))
        assert (await alice.final(tid)).status_code == status
    tid = await alice.send(alice.build("OPTIONS", f"sip:{DOMAIN}"))
    options = await alice.final(tid)
    assert options.status_code == 200 and "INVITE" in options.get_header("Allow")


async def test_gruus_reach_the_registered_instance(clients: ClientFactory) -> None:
    alice = await clients("alice")
    await alice.register()
    bob = await clients("bob")
    contact = (await bob.register()).parse_header("Contact")
    for gruu in (contact.get_param("pub-gruu"), contact.get_param("temp-gruu")):
        tid = await alice.send(alice.build("MESSAGE", gruu, body=gruu))
        got = await bob.next_event(RequestReceived)
        assert got.request.ruri == bob.contact.uri
        await bob.answer(got, 200)
        assert (await alice.final(tid)).status_code == 200


async def test_invite_dialog_through_the_proxy(server: Server, clients: ClientFactory) -> None:
    alice, bob = await registered(clients, "alice", "bob")
    tid, invite = await alice.invite(f"sip:bob@{DOMAIN}")
    incoming = await bob.next_event(RequestReceived)
    [rr] = incoming.request.get_headers("Record-Route")
    assert rr == f"<sip:127.0.0.1:{server.port};transport=ws;lr>"
    callee = await accept_call(bob, incoming)

    ringing = await alice.response(tid, 180)
    assert ringing.get_headers("Record-Route") == [rr]
    ok = await alice.final(tid)
    assert ok.status_code == 200 and ok.body == SDP.encode()
    caller = Dialog.from_uac(invite, ok, alice.contact)
    alice.core.add_dialog(caller)
    assert [str(r.uri) for r in caller.route_set] == [rr.strip("<>")]

    ack = caller.create_ack(invite.cseq.seq)
    alice.core.send_ack(ack, alice.now)
    await alice.flush()
    got_ack = await bob.next_event(AckReceived)
    assert got_ack.request.ruri == bob.contact.uri
    assert not got_ack.request.has_header("Route")

    # in-dialog requests both ways: re-INVITE-less INFO from alice, BYE from bob
    info = caller.create_request("INFO", [("Content-Type", "text/plain")], "ping")
    info_tid = await alice.send(info)
    got_info = await bob.next_event(RequestReceived)
    assert got_info.request.method == "INFO"
    await bob.answer(got_info, 200)
    assert (await alice.final(info_tid)).status_code == 200

    bye = callee.create_request("BYE")
    assert bye.get_header("Route") == rr
    bye_tid = await bob.send(bye)
    got_bye = await alice.next_event(RequestReceived)
    assert got_bye.request.method == "BYE"
    assert got_bye.request.ruri == alice.contact.uri
    assert len(got_bye.request.get_headers("Via")) == 2
    await alice.answer(got_bye, 200)
    assert (await bob.final(bye_tid)).status_code == 200


async def test_cancel_of_a_ringing_invite(clients: ClientFactory) -> None:
    alice, bob = await registered(clients, "alice", "bob")
    tid, _ = await alice.invite(f"sip:bob@{DOMAIN}")
    incoming = await bob.next_event(RequestReceived)
    dialog = Dialog.from_uas(incoming.request, bob.core.new_tag(), bob.contact)
    bob.core.send_response(
        incoming.transaction_id, dialog.create_response(incoming.request, 180), bob.now
    )
    await bob.flush()
    await alice.response(tid, 180)

    alice.core.cancel(tid, alice.now)
    await alice.flush()
    cancelled = await bob.next_event(RequestCancelled)
    assert cancelled.transaction_id == incoming.transaction_id
    # the CANCEL came with the INVITE's branch (RFC 3261 16.11), so bob's core matched it
    assert cancelled.cancel.via_branch == incoming.request.via_branch
    final = await alice.final(tid)
    assert final.status_code == 487


async def test_cancel_without_invite_is_481(clients: ClientFactory) -> None:
    [alice] = await registered(clients, "alice")
    cancel = alice.build("CANCEL", f"sip:bob@{DOMAIN}")
    tid = await alice.send(cancel)
    assert (await alice.final(tid)).status_code == 481


async def test_rejected_invite_is_acked_through_the_proxy(clients: ClientFactory) -> None:
    alice, bob = await registered(clients, "alice", "bob")
    tid, _ = await alice.invite(f"sip:bob@{DOMAIN}")
    incoming = await bob.next_event(RequestReceived)
    await bob.answer(incoming, 486)
    assert (await alice.final(tid)).status_code == 486
    # bob's server transaction got the ACK (else Timer G/H would resend the 486):
    # the ACK has the INVITE's branch and went where the INVITE went.
    await asyncio.sleep(0.1)
    txn = bob.core.layer
    assert len(txn) == 0


async def test_auth_requests_challenges_out_of_dialog_requests() -> None:
    events: list[ServerEvent] = []
    users = {"alice": "alicepw", "bob": "bobpw"}
    async with Server(users=users, auth_requests=True, on_event=events.append) as server:
        alice = await CoreClient(server.url, "alice", "alicepw").connect()
        bob = await CoreClient(server.url, "bob", "bobpw").connect()
        try:
            await alice.register()
            await bob.register()
            tid = await alice.send(alice.build("MESSAGE", f"sip:bob@{DOMAIN}", body="x"))
            got = await bob.next_event(RequestReceived)
            assert got.request.cseq.seq == 2  # the first one got a 407
            assert not got.request.has_header("Proxy-Authorization")  # consumed
            await bob.answer(got, 200)
            assert (await alice.final(tid)).status_code == 200
            answered = [(e.method, e.status) for e in events if isinstance(e, RequestAnswered)]
            assert ("MESSAGE", 407) in answered
        finally:
            await alice.close()
            await bob.close()


async def test_no_auth_server_accepts_anyone(server_events: list[ServerEvent]) -> None:
    async with Server(users=None, on_event=server_events.append) as server:
        zed = await CoreClient(server.url, "zed").connect()
        amy = await CoreClient(server.url, "amy").connect()
        try:
            assert (await zed.register()).status_code == 200
            tid = await amy.send(amy.build("MESSAGE", f"sip:zed@{DOMAIN}", body="x"))
            got = await zed.next_event(RequestReceived)
            await zed.answer(got, 202)
            assert (await amy.final(tid)).status_code == 202
            tid = await amy.send(amy.build("MESSAGE", f"sip:never@{DOMAIN}", body="x"))
            assert (await amy.final(tid)).status_code == 404
        finally:
            await zed.close()
            await amy.close()


async def test_reconnect_with_same_instance_replaces_the_binding(
    server: Server, clients: ClientFactory
) -> None:
    first = await clients("alice")
    await first.register()
    second = await clients("alice")
    second.instance = first.instance
    await second.register()
    [binding] = server.bindings("alice")
    assert binding.contact.uri == second.contact.uri
    await first.close()  # the old connection owns no binding any more
    await asyncio.sleep(0.1)
    assert len(server.bindings("alice")) == 1


async def test_two_servers_can_run_side_by_side() -> None:
    async with Server() as one, Server() as two:
        assert one.port != two.port
        c = await CoreClient(two.url, "x").connect()
        try:
            ok = await c.register()
            assert ok.status_code == 200
            assert isinstance(ok.parse_header("Contact"), NameAddr)
        finally:
            await c.close()


async def _incoming(client: CoreClient, method: str) -> RequestReceived:
    event = await client.next_event(RequestReceived)
    assert event.request.method == method, event.request
    return event


async def _answer_in_dialog(client: CoreClient, dialog: Dialog, event: RequestReceived) -> None:
    response = dialog.create_response(event.request, 200)
    client.core.send_response(event.transaction_id, response, client.now)
    await client.flush()


async def test_prack_update_reinvite_refer_notify_and_replaces(clients: ClientFactory) -> None:
    alice, bob, carol = await registered(clients, "alice", "bob", "carol")
    tid, invite = await alice.invite(f"sip:bob@{DOMAIN}")
    incoming = await _incoming(bob, "INVITE")
    callee = Dialog.from_uas(incoming.request, bob.core.new_tag(), bob.contact)
    bob.core.add_dialog(callee)

    # 183 with 100rel (RFC 3262), then PRACK and an early UPDATE (RFC 3311)
    progress = callee.create_response(
        incoming.request,
        183,
        headers=[("Require", "100rel"), ("RSeq", "1"), ("Content-Type", "application/sdp")],
        body=SDP,
    )
    bob.core.send_response(incoming.transaction_id, progress, bob.now)
    await bob.flush()
    early = await alice.response(tid, 183)
    caller = Dialog.from_uac(invite, early, alice.contact)
    alice.core.add_dialog(caller)
    for method, headers in (
        ("PRACK", [("RAck", f"1 {invite.cseq.seq} INVITE")]),
        ("UPDATE", [("Content-Type", "application/sdp")]),
    ):
        body = SDP if method == "UPDATE" else ""
        sent = await alice.send(caller.create_request(method, headers, body))
        got = await _incoming(bob, method)
        assert got.request.ruri == bob.contact.uri
        await _answer_in_dialog(bob, callee, got)
        assert (await alice.final(sent)).status_code == 200

    ok = callee.create_response(
        incoming.request, 200, headers=[("Content-Type", "application/sdp")], body=SDP
    )
    bob.core.send_response(incoming.transaction_id, ok, bob.now)
    await bob.flush()
    answered = await alice.final(tid)
    caller.update_from_response(answered)
    alice.core.send_ack(caller.create_ack(invite.cseq.seq), alice.now)
    await alice.flush()
    await bob.next_event(AckReceived)

    # a re-INVITE from the callee, through the Record-Route
    reinvite = callee.create_request("INVITE", [("Content-Type", "application/sdp")], SDP)
    re_tid = await bob.send(reinvite)
    got = await _incoming(alice, "INVITE")
    assert got.request.to_tag == caller.id.local_tag
    response = caller.create_response(
        got.request, 200, headers=[("Content-Type", "application/sdp")], body=SDP
    )
    alice.core.send_response(got.transaction_id, response, alice.now)
    await alice.flush()
    re_ok = await bob.final(re_tid)
    callee.update_from_response(re_ok)
    bob.core.send_ack(callee.create_ack(reinvite.cseq.seq), bob.now)
    await bob.flush()
    await alice.next_event(AckReceived)

    # REFER (RFC 3515) and the NOTIFY that reports on it
    refer = caller.create_request("REFER", [("Refer-To", f"<sip:carol@{DOMAIN}>")])
    refer_tid = await alice.send(refer)
    got = await _incoming(bob, "REFER")
    bob.core.send_response(got.transaction_id, callee.create_response(got.request, 202), bob.now)
    await bob.flush()
    assert (await alice.final(refer_tid)).status_code == 202
    notify = callee.create_request(
        "NOTIFY",
        [
            ("Event", "refer"),
            ("Subscription-State", "terminated;reason=noresource"),
            ("Content-Type", "message/sipfrag"),
        ],
        "SIP/2.0 200 OK\r\n",
    )
    notify_tid = await bob.send(notify)
    got = await _incoming(alice, "NOTIFY")
    await _answer_in_dialog(alice, caller, got)
    assert (await bob.final(notify_tid)).status_code == 200

    # carol replaces bob's leg (RFC 3891): an INVITE to alice's public GRUU
    replaces = f"{caller.id.call_id};to-tag={caller.id.local_tag};from-tag={caller.id.remote_tag}"
    gruu = f"sip:alice@{DOMAIN};gr={alice.instance}"
    carol_tid, _ = await carol.invite(gruu, headers=[("Replaces", replaces)])
    got = await _incoming(alice, "INVITE")
    assert got.request.ruri == alice.contact.uri
    assert got.request.get_header("Replaces") == replaces
    await alice.answer(got, 486)
    assert (await carol.final(carol_tid)).status_code == 486
