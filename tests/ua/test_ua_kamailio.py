"""websip.UA against a real Kamailio over real WebSockets on 127.0.0.1 (issue 4)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import websip
from websip import causes
from websip.aio.events import (
    ConnectedEvent,
    DisconnectedEvent,
    NewMessageEvent,
    NewOptionsEvent,
    RegisteredEvent,
    RegistrationFailedEvent,
)
from websip.sip import parse_message

pytestmark = pytest.mark.kamailio

UAFactory = Callable[..., websip.UA]


class Wire:
    """Every SIP message a UA sent and received (its on_trace)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.received: list[bytes] = []

    def __call__(self, direction: str, data: bytes) -> None:
        (self.sent if direction == "sent" else self.received).append(data)

    def sent_requests(self, method: str) -> list[websip.Request]:
        found = []
        for data in self.sent:
            message = parse_message(data)
            if isinstance(message, websip.Request) and message.method == method:
                found.append(message)
        return found


@pytest.fixture
async def make_ua(kamailio: Any) -> AsyncIterator[UAFactory]:
    made: list[websip.UA] = []

    def make(user: str, **params: Any) -> websip.UA:
        config: dict[str, Any] = {
            "uri": kamailio.aor(user),
            "ws_servers": kamailio.ws_url,
            "password": kamailio.password(user),
        }
        config.update(params)
        trace = config.pop("on_trace", None)
        ua = websip.UA(config, on_trace=trace)
        made.append(ua)
        return ua

    yield make
    for ua in made:
        await ua.stop()


async def test_register_and_unregister_with_digest(kamailio: Any, make_ua: UAFactory) -> None:
    wire = Wire()
    ua = make_ua("alice", on_trace=wire)
    registered: list[RegisteredEvent] = []
    ua.on("registered", registered.append)
    await ua.start()
    assert ua.is_connected() and ua.is_registered()
    assert len(registered) == 1 and registered[0].response.status_code == 200
    contacts = kamailio.contacts("alice")
    assert any(ua.configuration.instance_id in str(c) for c in contacts)
    registers = wire.sent_requests("REGISTER")
    assert len(registers) == 2  # the 401 round, then the authenticated one
    assert registers[1].has_header("Authorization")
    # RFC 7118 5: WS Via with a .invalid host; Contact with transport=ws.
    assert registers[0].get_header("Via").startswith("SIP/2.0/WS ")
    assert ".invalid" in registers[0].get_header("Via")
    assert ";transport=ws" in registers[0].get_header("Contact")
    # RFC 5627: the GRUU the registrar gave becomes our Contact.
    assert "gr=" in str(ua.contact.uri)

    response = await ua.unregister()
    assert response is not None and response.status_code == 200
    assert not ua.is_registered()
    assert not any(ua.configuration.instance_id in str(c) for c in kamailio.contacts("alice"))


async def test_wrong_password_fails_after_one_round(make_ua: UAFactory) -> None:
    wire = Wire()
    ua = make_ua("bob", password="not-the-password", on_trace=wire)
    failures: list[RegistrationFailedEvent] = []
    ua.on("registration_failed", failures.append)
    with pytest.raises(websip.RequestError) as info:
        await ua.start()
    assert info.value.cause == causes.AUTHENTICATION_ERROR
    assert [f.cause for f in failures] == [causes.AUTHENTICATION_ERROR]
    assert len(wire.sent_requests("REGISTER")) == 2
    assert not ua.is_connected()


async def test_message_and_options_between_two_uas(make_ua: UAFactory) -> None:
    alice = make_ua("alice")
    bob = make_ua("bob")
    await alice.start()
    await bob.start()
    received: list[NewMessageEvent] = []
    bob.on("new_message", received.append)
    response = await alice.send_message("bob", "héllo wörld ☎", content_type="text/plain")
    assert response.status_code == 200
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.01)
    assert len(received) == 1
    event = received[0]
    assert event.originator == "remote"
    assert event.message.body.decode() == "héllo wörld ☎"
    assert str(event.message.remote_identity.uri) == "sip:alice@websip.test"

    options = await alice.send_options("sip:bob@websip.test")
    assert options.status_code == 200
    assert "MESSAGE" in (options.get_header("Allow") or "")


async def test_incoming_message_rejected_by_the_application(make_ua: UAFactory) -> None:
    alice = make_ua("alice")
    bob = make_ua("bob")
    await alice.start()
    await bob.start()

    async def busy(event: NewMessageEvent) -> None:
        await asyncio.sleep(0.01)
        event.message.reject(486)

    bob.on("new_message", busy)
    bob.on("new_options", lambda event: event.options.reject(403))
    with pytest.raises(websip.RequestError) as info:
        await alice.send_message("bob", "are you there?")
    assert info.value.cause == causes.BUSY
    assert info.value.response.status_code == 486
    with pytest.raises(websip.RequestError) as info:
        await alice.send_options("bob")
    assert info.value.response.status_code == 403
    seen: list[NewOptionsEvent] = []
    bob.off("new_options")
    bob.on("new_options", seen.append)
    assert (await alice.send_options("bob")).status_code == 200
    assert len(seen) == 1


async def test_message_to_unregistered_user_fails(make_ua: UAFactory) -> None:
    alice = make_ua("alice")
    await alice.start()
    with pytest.raises(websip.RequestError) as info:
        await alice.send_message("dave", "anyone?")
    assert info.value.response is not None
    assert info.value.response.status_code in (404, 480)


async def test_bad_targets_and_header_injection_raise_at_the_call(make_ua: UAFactory) -> None:
    alice = make_ua("alice")
    await alice.start()
    with pytest.raises(ValueError):
        await alice.send_message("bob@", "x")
    with pytest.raises(TypeError):
        await alice.send_message(42, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CR, LF"):
        await alice.send_message("bob", "x", extra_headers=["X-A: 1\r\nX-Injected: 2"])
    with pytest.raises(ValueError):
        await alice.send_message("bob", "x", extra_headers=["no colon here"])


async def test_failover_to_the_second_server(kamailio: Any, make_ua: UAFactory) -> None:
    dead = "ws://127.0.0.1:9"  # discard port: nothing listens there
    ua = make_ua(
        "carol",
        ws_servers=[{"ws_uri": dead, "weight": 10}, {"ws_uri": kamailio.ws_url, "weight": 1}],
        connection_recovery_min_interval=0.1,
        connection_recovery_max_interval=0.2,
    )
    connected: list[ConnectedEvent] = []
    ua.on("connected", connected.append)
    await ua.start(timeout=10)
    assert [e.server for e in connected] == [kamailio.ws_url]
    assert ua.is_registered()


async def test_unreachable_server_raises_transport_error(make_ua: UAFactory) -> None:
    ua = make_ua("carol", ws_servers="ws://127.0.0.1:9")
    with pytest.raises(websip.TransportError) as info:
        await ua.start(timeout=10)
    assert info.value.hint
    assert not ua.is_connected()


async def test_restart_is_noticed_and_the_ua_reregisters(kamailio_factory: Any) -> None:
    server = kamailio_factory()
    ua = websip.UA(
        uri=server.aor("dave"),
        ws_servers=server.ws_url,
        password=server.password("dave"),
        keepalive_interval=0.5,
        keepalive_timeout=0.5,
        connection_recovery_min_interval=0.2,
        connection_recovery_max_interval=1,
    )
    disconnected: list[DisconnectedEvent] = []
    ua.on("disconnected", disconnected.append)
    try:
        await ua.start(timeout=10)
        server.kill()
        killed_at = time.monotonic()
        for _ in range(300):
            if disconnected:
                break
            await asyncio.sleep(0.01)
        # Noticed within the keep-alive deadline (a kill closes the TCP at once).
        assert disconnected and disconnected[0].error
        assert time.monotonic() - killed_at < 1.0 + 0.5
        assert not ua.is_registered()
        # A MESSAGE during the outage fails at once; it does not vanish.
        with pytest.raises(websip.RequestError) as info:
            await ua.send_message("alice", "during the outage")
        assert info.value.cause == causes.CONNECTION_ERROR
        server.start()
        restarted_at = time.monotonic()
        await ua.wait_for("registered", timeout=10)
        # Back within the backoff bound (max interval 1 s) plus the time to connect.
        assert time.monotonic() - restarted_at < 1.0 + 2.0
        assert ua.is_registered()
        assert server.contacts("dave")
    finally:
        await ua.stop()


async def test_wss_needs_a_trusted_certificate(kamailio: Any, make_ua: UAFactory) -> None:
    untrusted = make_ua("alice", ws_servers=kamailio.wss_url)
    with pytest.raises(websip.TransportError) as info:
        await untrusted.start(timeout=10)
    assert "certificate" in str(info.value).lower()

    trusted = make_ua(
        "alice",
        ws_servers=kamailio.wss_url,
        node_websocket_options={"requestOptions": {"ca": str(kamailio.cert_path)}},
    )
    wire = Wire()
    trusted._on_trace = wire
    await trusted.start(timeout=10)
    assert trusted.is_registered()
    assert wire.sent_requests("REGISTER")[0].get_header("Via").startswith("SIP/2.0/WSS ")


async def test_hacks_change_the_wire_bytes(kamailio: Any, make_ua: UAFactory) -> None:
    wire = Wire()
    ua = make_ua(
        "carol",
        ws_servers=kamailio.wss_url,
        node_websocket_options={"requestOptions": {"ca": str(kamailio.cert_path)}},
        hack_via_ws=True,
        hack_ip_in_contact=True,
        use_preloaded_route=True,
        on_trace=wire,
    )
    await ua.start(timeout=10)
    register = wire.sent_requests("REGISTER")[0]
    via = register.parse_header("Via")
    assert via.transport == "WS"  # hack_via_ws: WS although the server is wss
    assert via.host.startswith("192.0.2.")  # hack_ip_in_contact: TEST-NET-1
    contact = register.parse_header("Contact")
    assert contact.uri.host == via.host
    route = register.get_header("Route")
    assert route == f"<sip:127.0.0.1:{kamailio.wss_port};lr;transport=ws>"


async def test_hack_via_tcp(make_ua: UAFactory) -> None:
    wire = Wire()
    ua = make_ua("carol", hack_via_tcp=True, on_trace=wire)
    await ua.start(timeout=10)
    assert wire.sent_requests("REGISTER")[0].get_header("Via").startswith("SIP/2.0/TCP ")
    assert ua.is_registered()


async def test_register_false_connects_only(kamailio: Any, make_ua: UAFactory) -> None:
    wire = Wire()
    ua = make_ua("carol", register=False, on_trace=wire)
    await ua.start(timeout=10)
    assert ua.is_connected() and not ua.is_registered()
    assert wire.sent_requests("REGISTER") == []
    await ua.register()
    assert ua.is_registered()
    await ua.unregister(all=True)
    assert kamailio.contacts("carol") == []
    unregister = wire.sent_requests("REGISTER")[-1]
    assert unregister.get_header("Contact") == "*"
    assert unregister.get_header("Expires") == "0"


async def test_stop_unregisters_and_closes(kamailio: Any) -> None:
    async with websip.UA(
        uri=kamailio.aor("carol"), ws_servers=kamailio.ws_url, password=kamailio.password("carol")
    ) as ua:
        assert ua.is_registered()
    assert not ua.is_connected()
    assert kamailio.contacts("carol") == []


async def test_a_frozen_server_is_noticed_by_the_keepalive(kamailio_factory: Any) -> None:
    """SIGSTOP keeps the TCP connection open: only the keep-alive can tell."""
    import os
    import signal

    server = kamailio_factory()
    ua = websip.UA(
        uri=server.aor("carol"),
        ws_servers=server.ws_url,
        password=server.password("carol"),
        keepalive_interval=0.3,
        keepalive_timeout=0.3,
        connection_recovery_min_interval=0.1,
        connection_recovery_max_interval=0.5,
    )
    disconnected: list[DisconnectedEvent] = []
    ua.on("disconnected", disconnected.append)
    try:
        await ua.start(timeout=10)
        os.killpg(server.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            for _ in range(300):
                if disconnected:
                    break
                await asyncio.sleep(0.01)
            noticed_after = time.monotonic() - frozen_at
        finally:
            os.killpg(server.pid, signal.SIGCONT)
        assert disconnected and disconnected[0].error
        assert disconnected[0].cause == causes.CONNECTION_ERROR
        # interval + timeout = 0.6 s, plus scheduling slack on a busy machine
        assert noticed_after < 0.6 + 0.6
        await ua.wait_for("registered", timeout=10)
        assert ua.is_registered()
    finally:
        await ua.stop()


async def test_423_interval_too_brief_is_retried(kamailio_factory: Any) -> None:
    server = kamailio_factory(min_expires=120, min_expires_mode=1)
    wire = Wire()
    ua = websip.UA(
        uri=server.aor("alice"),
        ws_servers=server.ws_url,
        password=server.password("alice"),
        register_expires=60,
        on_trace=wire,
    )
    try:
        await ua.start(timeout=10)
        assert ua.is_registered()
        expires = [r.get_header("Expires") for r in wire.sent_requests("REGISTER")]
        assert expires[0] == "60" and expires[-1] == "120"
    finally:
        await ua.stop()


async def test_registration_expiring_leaves_the_refresh_to_the_listener(
    kamailio: Any, make_ua: UAFactory
) -> None:
    from websip.aio.events import RegistrationExpiringEvent

    wire = Wire()
    ua = make_ua("dave", register_expires=2, on_trace=wire)
    expiring: list[RegistrationExpiringEvent] = []
    ua.on("registration_expiring", expiring.append)
    await ua.start(timeout=10)
    before = len(wire.sent_requests("REGISTER"))
    await ua.wait_for("registration_expiring", timeout=5)
    assert len(expiring) == 1
    assert len(wire.sent_requests("REGISTER")) == before  # nothing sent by itself
    response = await ua.register()
    assert response.status_code == 200 and ua.is_registered()


async def test_registration_refreshes_by_itself_without_a_listener(make_ua: UAFactory) -> None:
    wire = Wire()
    ua = make_ua("dave", register_expires=2, on_trace=wire)
    registered: list[RegisteredEvent] = []
    ua.on("registered", registered.append)
    await ua.start(timeout=10)
    before = len(wire.sent_requests("REGISTER"))
    await asyncio.sleep(1.5)  # refresh at half of 2 s
    assert len(wire.sent_requests("REGISTER")) > before
    assert ua.is_registered()
    assert len(registered) == 1  # a refresh is not a new "registered"
