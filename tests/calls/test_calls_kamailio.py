"""Calls through a real Kamailio over WebSockets (issue 5): signaling and real audio.

Media is WebRTC through aiortc on 127.0.0.1 only (ICE restricted to loopback, no
STUN), or the signaling-only handler where audio is not the point.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

import websip
from websip import causes
from websip.aio.session import SessionEventData
from websip.media import AiortcMediaHandler, PcmSink, SignalingOnlyMediaHandler, ToneSource

pytestmark = pytest.mark.kamailio

UAFactory = Callable[..., websip.UA]
LOOPBACK = ["127.0.0.1"]


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def tail(sink: PcmSink, chunks: int) -> np.ndarray:
    queued = list(sink._queue)[-chunks:]
    return np.frombuffer(b"".join(queued), dtype=np.int16)


@pytest.fixture
async def make_ua(kamailio: Any) -> AsyncIterator[UAFactory]:
    made: list[websip.UA] = []

    def make(user: str, **params: Any) -> websip.UA:
        media_factory = params.pop("media_factory", SignalingOnlyMediaHandler)
        ua = websip.UA(
            {
                "uri": kamailio.aor(user),
                "ws_servers": kamailio.ws_url,
                "password": kamailio.password(user),
                **params,
            },
            media_factory=media_factory,
        )
        made.append(ua)
        return ua

    yield make
    for ua in made:
        await ua.stop()


async def started(*uas: websip.UA) -> None:
    await asyncio.gather(*(ua.start(timeout=10) for ua in uas))


def auto_answer(ua: websip.UA, sessions: list[websip.RTCSession], **answer: Any) -> None:
    def on_session(event: Any) -> None:
        if event.originator == "remote":
            sessions.append(event.session)
            event.session.answer(**answer)

    ua.on("new_rtc_session", on_session)


async def test_audio_both_ways_through_kamailio(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    alice_sink, bob_sink = PcmSink(sample_rate=16000), PcmSink(sample_rate=16000)
    bob_sessions: list[websip.RTCSession] = []
    auto_answer(
        bob,
        bob_sessions,
        media=AiortcMediaHandler(ToneSource(frequency=880), [bob_sink], ice_addresses=LOOPBACK),
    )
    call = alice.call(
        "bob",
        media=AiortcMediaHandler(ToneSource(frequency=440), [alice_sink], ice_addresses=LOOPBACK),
    )
    await call.established(timeout=15)
    assert call.is_established() and call.start_time is not None
    for _ in range(200):
        if alice_sink.chunks_received > 40 and bob_sink.chunks_received > 40:
            break
        await asyncio.sleep(0.05)
    assert abs(dominant_frequency(tail(bob_sink, 25), 16000) - 440) < 15
    assert abs(dominant_frequency(tail(alice_sink, 25), 16000) - 880) < 15
    # RFC 4733 DTMF in the RTP stream, reported as new_dtmf on the other side.
    received: list[SessionEventData] = []
    bob_sessions[0].on("new_dtmf", received.append)
    await call.send_dtmf("7#", duration=100, inter_tone_gap=100, transport="RFC2833")
    for _ in range(100):
        if len(received) == 2:
            break
        await asyncio.sleep(0.02)
    assert [(d.tone, d.transport, d.originator) for d in received] == [
        ("7", "RFC2833", "remote"),
        ("#", "RFC2833", "remote"),
    ]
    ended = asyncio.ensure_future(bob_sessions[0].wait_for("ended", timeout=5))
    call.terminate()
    remote = await ended
    assert remote.originator == "remote" and remote.cause == causes.BYE
    assert await call.ended() == causes.BYE
    assert call.is_ended() and call.end_time is not None


async def test_rejected_and_unanswered_calls_fail_with_jssip_causes(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob", no_answer_timeout=1)

    await started(alice, bob)
    bob.once("new_rtc_session", lambda e: e.session.terminate(486))
    busy = alice.call("bob")
    with pytest.raises(websip.RequestError) as info:
        await busy.established(timeout=10)
    assert info.value.cause == causes.BUSY
    failed = await busy.wait_for("failed", timeout=1) if not busy.is_ended() else None
    assert failed is None or failed.cause == causes.BUSY

    progress: list[SessionEventData] = []
    unanswered = alice.call("bob")
    unanswered.on("progress", progress.append)
    assert await unanswered.ended(timeout=10) in (causes.REQUEST_TIMEOUT, causes.UNAVAILABLE)
    assert [p.response.status_code for p in progress if p.response] == [180]

    nobody = alice.call("sip:dave@websip.test")
    assert await nobody.ended(timeout=10) in (causes.NOT_FOUND, causes.UNAVAILABLE)


async def test_cancel_before_answer(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    ringing = asyncio.get_running_loop().create_future()
    bob.on("new_rtc_session", lambda e: ringing.set_result(e.session))
    call = alice.call("bob")
    progress = asyncio.ensure_future(call.wait_for("progress", timeout=10))
    callee = await asyncio.wait_for(ringing, 10)
    await progress
    call.terminate()
    assert await call.ended(timeout=5) == causes.CANCELED
    assert await callee.ended(timeout=5) == causes.CANCELED


async def test_hold_unhold_reinvite_and_info_dtmf(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    bob_sessions: list[websip.RTCSession] = []
    auto_answer(bob, bob_sessions)
    call = alice.call("bob")
    await call.established(timeout=10)
    callee = bob_sessions[0]
    await callee.established(timeout=5)

    remote_hold = asyncio.ensure_future(callee.wait_for("hold", timeout=5))
    assert await call.hold()
    assert call.is_on_hold() == {"local": True, "remote": False}
    assert (await remote_hold).originator == "remote"
    assert callee.is_on_hold() == {"local": False, "remote": True}
    assert await call.unhold()
    assert call.is_on_hold()["local"] is False

    tones: list[str] = []
    callee.on("new_dtmf", lambda e: tones.append(e.tone))
    await call.send_dtmf("1#", duration=100, inter_tone_gap=50)
    for _ in range(50):
        if len(tones) == 2:
            break
        await asyncio.sleep(0.02)
    assert tones == ["1", "#"]

    infos: list[SessionEventData] = []
    callee.on("new_info", infos.append)
    response = await call.send_info("application/x-test", "ping")
    assert response.status_code == 200
    assert infos[0].body == b"ping" and infos[0].content_type == "application/x-test"

    # The callee refuses the next re-INVITE: the session goes on unchanged.
    callee.once("reinvite", lambda e: e.reject(488))
    with pytest.raises(websip.RequestError) as info:
        await call.hold()
    assert info.value.response.status_code == 488
    assert call.is_on_hold() == {"local": False, "remote": False}
    assert call.is_established()
    assert await call.renegotiate()  # an unchanged offer: a plain refresh
    callee.terminate()
    assert await call.ended(timeout=5) == causes.BYE


async def test_mute_is_local_only(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    bob_sessions: list[websip.RTCSession] = []
    auto_answer(bob, bob_sessions)
    call = alice.call("bob")
    await call.established(timeout=10)
    muted: list[SessionEventData] = []
    call.on("muted", muted.append)
    call.mute()
    assert call.is_muted() == {"audio": True} and len(muted) == 1
    call.unmute()
    assert call.is_muted() == {"audio": False}
    call.terminate()


async def test_blind_transfer(make_ua: UAFactory) -> None:
    alice, bob, carol = make_ua("alice"), make_ua("bob"), make_ua("carol")
    await started(alice, bob, carol)
    bob_sessions: list[websip.RTCSession] = []
    carol_sessions: list[websip.RTCSession] = []
    auto_answer(bob, bob_sessions)
    auto_answer(carol, carol_sessions)
    call = alice.call("bob")
    await call.established(timeout=10)
    callee = bob_sessions[0]
    new_calls: list[websip.RTCSession] = []
    callee.on("refer", lambda e: new_calls.append(e.accept()))
    subscription = call.refer("carol")
    assert await subscription.final(timeout=10) == (200, "OK")
    await new_calls[0].established(timeout=5)
    assert carol_sessions and carol_sessions[0].is_established()
    new_calls[0].terminate()
    call.terminate()


async def test_attended_transfer_replaces_the_call(make_ua: UAFactory) -> None:
    alice, bob, carol = make_ua("alice"), make_ua("bob"), make_ua("carol")
    await started(alice, bob, carol)
    bob_sessions: list[websip.RTCSession] = []
    carol_sessions: list[websip.RTCSession] = []
    auto_answer(bob, bob_sessions)
    auto_answer(carol, carol_sessions)
    to_bob = alice.call("bob")
    to_carol = alice.call("carol")
    await to_bob.established(timeout=10)
    await to_carol.established(timeout=10)
    transferred: list[websip.RTCSession] = []
    bob_sessions[0].on("refer", lambda e: transferred.append(e.accept()))
    subscription = to_bob.refer("carol", replaces=to_carol)
    assert (await subscription.final(timeout=10))[0] == 200
    await transferred[0].established(timeout=5)
    # carol's call with alice was replaced by the one with bob
    assert await carol_sessions[0].ended(timeout=5) == causes.BYE
    assert carol_sessions[1].is_established()
    transferred[0].terminate()
    to_bob.terminate()


async def test_connection_loss_ends_the_call(kamailio_factory: Any) -> None:
    server = kamailio_factory()
    uas = [
        websip.UA(
            uri=server.aor(user),
            ws_servers=server.ws_url,
            password=server.password(user),
            connection_recovery_min_interval=5,
            connection_recovery_max_interval=5,
        )
        for user in ("alice", "bob")
    ]
    for ua in uas:
        ua.media_factory = SignalingOnlyMediaHandler
    alice, bob = uas
    try:
        await started(alice, bob)
        bob.on("new_rtc_session", lambda e: e.session.answer())
        call = alice.call("bob")
        await call.established(timeout=10)
        server.kill()
        assert await call.ended(timeout=5) == causes.CONNECTION_ERROR
    finally:
        await alice.stop()
        await bob.stop()


async def test_early_media_in_a_reliable_183_is_pracked(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    sent: list[bytes] = []
    bob._on_trace = lambda direction, data: sent.append(data) if direction == "received" else None
    callee_ready = asyncio.get_running_loop().create_future()

    def on_session(event: Any) -> None:
        callee_ready.set_result(event.session)
        event.session.progress(183, early_media=True)

    bob.on("new_rtc_session", on_session)
    call = alice.call("bob")
    progress: list[SessionEventData] = []
    call.on("progress", progress.append)
    callee = await asyncio.wait_for(callee_ready, 10)
    for _ in range(100):
        if any(p.response and p.response.status_code == 183 for p in progress):
            break
        await asyncio.sleep(0.02)
    response_183 = next(
        p.response for p in progress if p.response and p.response.status_code == 183
    )
    assert response_183.get_header("Require") == "100rel"
    assert response_183.has_header("RSeq") and response_183.body
    for _ in range(100):
        if any(data.startswith(b"PRACK ") for data in sent):
            break
        await asyncio.sleep(0.02)
    assert any(data.startswith(b"PRACK ") for data in sent)
    await callee.answer()
    await call.established(timeout=5)
    call.terminate()
    assert await callee.ended(timeout=5) == causes.BYE


async def test_frames_hold_and_unhold_with_real_audio(make_ua: UAFactory) -> None:
    """At least 90% of the expected frames arrive both ways; hold stops the held
    side's audio (it becomes recvonly) and unhold brings it back."""
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    alice_sink, bob_sink = PcmSink(sample_rate=16000), PcmSink(sample_rate=16000)
    bob_sessions: list[websip.RTCSession] = []
    auto_answer(
        bob,
        bob_sessions,
        media=AiortcMediaHandler(ToneSource(frequency=880), [bob_sink], ice_addresses=LOOPBACK),
    )
    call = alice.call(
        "bob",
        media=AiortcMediaHandler(ToneSource(frequency=440), [alice_sink], ice_addresses=LOOPBACK),
    )
    await call.established(timeout=15)
    for _ in range(100):  # the first frames (ICE, DTLS) before counting
        if alice_sink.chunks_received and bob_sink.chunks_received:
            break
        await asyncio.sleep(0.02)

    async def frames_during(seconds: float) -> tuple[int, int]:
        a, b = alice_sink.chunks_received, bob_sink.chunks_received
        await asyncio.sleep(seconds)
        return alice_sink.chunks_received - a, bob_sink.chunks_received - b

    expected = 2.0 * 1000 / 20  # 20 ms chunks
    to_alice, to_bob = await frames_during(2.0)
    assert to_alice >= 0.9 * expected and to_bob >= 0.9 * expected

    assert await call.hold()
    await asyncio.sleep(0.3)  # frames in flight
    to_alice, to_bob = await frames_during(1.0)
    assert to_alice <= 2  # bob, held, is recvonly: nothing comes from him
    assert to_bob >= 0.9 * 50  # alice (sendonly) still sends

    assert await call.unhold()
    await asyncio.sleep(0.3)
    to_alice, to_bob = await frames_during(1.0)
    assert to_alice >= 0.9 * 50 and to_bob >= 0.9 * 50
    call.terminate()
    await call.ended(timeout=5)


async def test_dtmf_159_on_both_transports_and_info_both_ways(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    bob_sessions: list[websip.RTCSession] = []
    auto_answer(bob, bob_sessions, media=AiortcMediaHandler(ice_addresses=LOOPBACK))
    call = alice.call("bob", media=AiortcMediaHandler(ice_addresses=LOOPBACK))
    await call.established(timeout=15)
    callee = bob_sessions[0]
    await callee.established(timeout=5)
    for transport in ("INFO", "RFC2833"):
        got: list[str] = []
        callee.on("new_dtmf", lambda e, got=got: got.append(e.tone))
        await call.send_dtmf("159#", duration=100, inter_tone_gap=70, transport=transport)
        for _ in range(100):
            if len(got) == 4:
                break
            await asyncio.sleep(0.02)
        callee.off("new_dtmf")
        assert "".join(got) == "159#", transport
    infos: list[bytes | None] = []
    call.on("new_info", lambda e: infos.append(e.body) if e.originator == "remote" else None)
    assert (await callee.send_info("text/plain", "from bob")).status_code == 200
    assert infos == [b"from bob"]
    callee.terminate()
    assert await call.ended(timeout=5) == causes.BYE


async def test_hold_by_update_and_603(make_ua: UAFactory) -> None:
    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    updates: list[Any] = []
    bob_sessions: list[websip.RTCSession] = []
    auto_answer(bob, bob_sessions)
    call = alice.call("bob")
    await call.established(timeout=10)
    bob_sessions[0].on("update", updates.append)
    assert await call.hold(use_update=True)
    assert len(updates) == 1 and updates[0].request.method == "UPDATE"
    assert await call.unhold(use_update=True)
    call.terminate()

    bob.off("new_rtc_session")
    bob.once("new_rtc_session", lambda e: e.session.terminate(603))
    declined = alice.call("bob")
    assert await declined.ended(timeout=10) == causes.REJECTED


async def test_wrong_password_fails_the_call_with_authentication_error(
    make_ua: UAFactory,
) -> None:
    bob = make_ua("bob")
    mallory = make_ua("alice", password="wrong", register=False)
    await started(bob, mallory)
    call = mallory.call("bob")
    assert await call.ended(timeout=10) == causes.AUTHENTICATION_ERROR


async def test_a_hundred_calls_leave_nothing_behind(make_ua: UAFactory) -> None:
    import gc
    import os

    from aiortc import RTCPeerConnection

    alice, bob = make_ua("alice"), make_ua("bob")
    await started(alice, bob)
    bob.on(
        "new_rtc_session",
        lambda e: e.session.answer(media=AiortcMediaHandler(ice_addresses=LOOPBACK)),
    )

    def snapshot() -> tuple[int, int, int]:
        gc.collect()
        peers = sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects())
        return len(asyncio.all_tasks()), len(os.listdir("/proc/self/fd")), peers

    async def one_call() -> None:
        call = alice.call("bob", media=AiortcMediaHandler(ice_addresses=LOOPBACK))
        await call.established(timeout=10)
        call.terminate()
        await call.ended(timeout=5)

    await one_call()  # warm-up: imports, codecs
    await asyncio.sleep(0.5)
    before = snapshot()
    for _ in range(100):
        await one_call()
    for _ in range(50):
        await asyncio.sleep(0.1)
        after = snapshot()
        if after == before:
            break
    assert after[0] <= before[0], ("tasks left behind", list(asyncio.all_tasks())[:3])
    assert after[1] <= before[1], "file descriptors left behind"
    assert after[2] <= before[2], "peer connections left behind"
    assert alice._sessions == [] and bob._sessions == []


async def test_session_timer_refresh_with_a_short_interval(kamailio: Any) -> None:
    uas = [
        websip.UA(
            uri=kamailio.aor(user),
            ws_servers=kamailio.ws_url,
            password=kamailio.password(user),
            media_factory=SignalingOnlyMediaHandler,
            session_expires=2,
            min_se=2,
        )
        for user in ("alice", "bob")
    ]
    alice, bob = uas
    sent: list[bytes] = []
    alice._on_trace = lambda d, data: sent.append(data) if d == "sent" else None
    bob._on_trace = lambda d, data: sent.append(data) if d == "sent" else None
    try:
        await started(alice, bob)
        bob.on("new_rtc_session", lambda e: e.session.answer())
        call = alice.call("bob")
        await call.established(timeout=10)
        await asyncio.sleep(2.5)  # the refresher refreshes at half the interval
        refreshes = [m for m in sent if m.startswith((b"UPDATE ", b"INVITE sip:bob@websip.test;"))]
        assert refreshes, "no session refresh was sent"
        assert b"Session-Expires: 2" in refreshes[0]
        assert call.is_established()  # refreshed: nobody hung up
        call.terminate()
        assert await call.ended(timeout=5) == causes.BYE
    finally:
        await alice.stop()
        await bob.stop()
