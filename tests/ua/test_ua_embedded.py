"""websip.UA against the embedded server (websip serve): the UA's own paths, fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import websip
from websip import causes
from websip.aio.events import SipEvent, UnregisteredEvent
from websip.server import Server

UAFactory = Callable[..., websip.UA]
USERS = {"alice": "alicepw", "bob": "bobpw"}


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with Server(users=USERS, min_expires=1) as srv:
        yield srv


@pytest.fixture
async def make_ua(server: Server) -> AsyncIterator[UAFactory]:
    made: list[websip.UA] = []

    def make(user: str, **params: Any) -> websip.UA:
        config: dict[str, Any] = {
            "uri": f"sip:{user}@websip.test",
            "ws_servers": server.url,
            "password": USERS.get(user, "x"),
        }
        config.update(params)
        ua = websip.UA(config)
        made.append(ua)
        return ua

    yield make
    for ua in made:
        await ua.stop()


async def raw_request(ua: websip.UA, text: str) -> None:
    """Inject a request as if it came from the network (the server forwards by
    contact, so out-of-dialog NOTIFY and exotic methods are fed directly)."""
    ua._on_data(text.replace("\n", "\r\n").encode())
    await asyncio.sleep(0)


def sent_by(ua: websip.UA) -> list[bytes]:
    sent: list[bytes] = []
    ua._on_trace = lambda direction, data: sent.append(data) if direction == "sent" else None
    return sent


NOTIFY = """NOTIFY sip:alice@websip.test SIP/2.0
Via: SIP/2.0/WS peer.invalid;branch=z9hG4bK-notify-1
Max-Forwards: 70
From: <sip:bob@websip.test>;tag=f1
To: <sip:alice@websip.test>
Call-ID: notify-1
CSeq: 1 NOTIFY
Event: message-summary;id=1
Subscription-State: terminated
Content-Length: 0

"""

SUBSCRIBE = NOTIFY.replace("NOTIFY", "SUBSCRIBE").replace("notify-1", "subscribe-1")


async def test_out_of_dialog_notify_is_a_sip_event(make_ua: UAFactory) -> None:
    ua = make_ua("alice")
    await ua.start()
    events: list[SipEvent] = []
    ua.on("sip_event", events.append)
    sent = sent_by(ua)
    await raw_request(ua, NOTIFY)
    assert [e.event for e in events] == ["message-summary"]
    assert sent and sent[0].startswith(b"SIP/2.0 200 ")


async def test_an_unhandled_method_gets_405_with_allow(make_ua: UAFactory) -> None:
    ua = make_ua("alice")
    await ua.start()
    sent = sent_by(ua)
    await raw_request(ua, SUBSCRIBE)
    response = websip.parse_message(sent[0])
    assert isinstance(response, websip.Response)
    assert response.status_code == 405
    assert "INVITE" in (response.get_header("Allow") or "")


async def test_message_round_trip_and_local_new_message(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await alice.start()
    await bob.start()
    local: list[Any] = []
    alice.on("new_message", local.append)
    got = asyncio.get_running_loop().create_future()
    bob.on("new_message", lambda e: got.set_result(e.message.text))
    response = await alice.send_message("bob", b"bytes body", content_type="text/plain")
    assert response.status_code == 200
    assert await asyncio.wait_for(got, 2) == "bytes body"
    assert local[0].originator == "local"
    assert local[0].message.body == b"bytes body"
    with pytest.raises(TypeError):
        await alice.send_message("bob", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await alice.send_message("bob", "x", content_type="text/plain\r\nX: y")


async def test_requests_fail_at_once_when_not_connected(make_ua: UAFactory) -> None:
    ua = make_ua("alice")
    with pytest.raises(websip.RequestError) as info:
        await ua.send_message("bob", "hi")
    assert info.value.cause == causes.CONNECTION_ERROR
    with pytest.raises(websip.RequestError):
        await ua.register()


async def test_dropped_connection_unregisters_and_recovers(make_ua: UAFactory) -> None:
    ua = make_ua(
        "alice", connection_recovery_min_interval=0.05, connection_recovery_max_interval=0.1
    )
    await ua.start()
    lost: list[UnregisteredEvent] = []
    ua.on("unregistered", lost.append)
    assert ua._transport is not None
    ua._transport.drop()
    await ua.wait_for("registered", timeout=5)
    assert [e.cause for e in lost] == [causes.CONNECTION_ERROR]
    assert ua.is_registered()


async def test_start_twice_and_stop_twice_are_harmless(make_ua: UAFactory) -> None:
    ua = make_ua("alice")
    await ua.start()
    await ua.start()
    await ua.stop()
    await ua.stop()
    assert not ua.is_connected()


async def test_unknown_event_names_are_refused(make_ua: UAFactory) -> None:
    ua = make_ua("alice")
    with pytest.raises(ValueError):
        ua.on("registred", print)


async def test_configuration_is_read_only(make_ua: UAFactory) -> None:
    import dataclasses

    ua = make_ua("alice", display_name='Alice "The" Tester')
    with pytest.raises(dataclasses.FrozenInstanceError):
        ua.configuration.register = False  # type: ignore[misc]
    assert ua.configuration.display_name == 'Alice "The" Tester'
    assert ua.normalize_target("bob") == websip.URI.parse("sip:bob@websip.test")
    assert ua.normalize_target("bob@") is None
