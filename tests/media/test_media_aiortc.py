"""AiortcMediaHandler end to end: two handlers in one process, media on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import wave
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from websip.media import (
    AiortcMediaHandler,
    EchoLink,
    MediaDirection,
    MediaError,
    MediaHandler,
    PcmSink,
    PcmSource,
    SdpError,
    SignalingOnlyMediaHandler,
    ToneSource,
    WavRecorder,
)
from websip.media._sdp import SessionDescription

from .helpers import (
    CHUNK_MS,
    LOOPBACK,
    addresses_in,
    dominant_frequency,
    negotiate,
    rms,
    udp_sockets,
    wait_for,
)

# The tone tests use 2 s windows of 20 ms chunks.
WINDOW_S = 2.0
EXPECTED_CHUNKS = WINDOW_S * 1000 / CHUNK_MS


class TestOfferAnswer:
    async def test_is_a_media_handler(self) -> None:
        handler = AiortcMediaHandler()
        assert isinstance(handler, MediaHandler)
        await handler.close()

    async def test_sdp_has_loopback_candidates_only(self) -> None:
        caller = AiortcMediaHandler(ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            offer = await caller.create_offer()
            answer = await callee.create_answer(offer)
            for sdp in (offer, answer):
                section = SessionDescription.parse(sdp).audio()
                assert section is not None
                candidates = section.candidates()
                assert candidates, "non-trickle SDP must carry its candidates"
                assert {c.address for c in candidates} == {"127.0.0.1"}
                assert {c.type for c in candidates} == {"host"}
                assert "a=end-of-candidates" in sdp.decode()
                # 0.0.0.0 is aiortc's a=rtcp placeholder (rtcp-mux): no address.
                assert addresses_in(sdp) <= {"127.0.0.1", "0.0.0.0"}
        finally:
            await caller.close()
            await callee.close()

    async def test_sdp_negotiates_telephone_event_and_rtcp_mux(self) -> None:
        caller = AiortcMediaHandler(ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(ice_addresses=LOOPBACK, codecs=["PCMU"])
        try:
            offer = await caller.create_offer()
            section = SessionDescription.parse(offer).audio()
            assert section is not None
            assert section.proto == "UDP/TLS/RTP/SAVPF"
            rates = sorted(m.clock_rate for m in section.telephone_events().values())
            assert rates == [8000, 48000]  # 48000 because Opus is offered
            assert section.attributes("rtcp-mux") == [""]
            assert any(line.startswith("a=group:BUNDLE") for line in offer.decode().splitlines())

            answer = await callee.create_answer(offer)
            answered = SessionDescription.parse(answer).audio()
            assert answered is not None
            names = [answered.rtpmaps()[int(f)].encoding for f in answered.formats]
            assert names[0] == "PCMU"
            # RFC 3264 §6.1: same payload types as offered.
            assert set(answered.telephone_events()) <= set(section.telephone_events())
            assert 8000 in {m.clock_rate for m in answered.telephone_events().values()}
        finally:
            await caller.close()
            await callee.close()

    async def test_origin_is_stable_and_versions_count(self) -> None:
        caller = AiortcMediaHandler(ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            first = SessionDescription.parse(await caller.create_offer()).session
            await callee.create_answer(await caller.create_offer())  # refresh: same SDP
            second = SessionDescription.parse(await caller.create_offer()).session
            held = SessionDescription.parse(await caller.set_direction("sendonly")).session

            def origin(lines: list[str]) -> list[str]:
                return next(line for line in lines if line.startswith("o=")).split()

            assert origin(first)[1] == origin(second)[1] == origin(held)[1]
            assert origin(first)[2] == origin(second)[2]
            assert int(origin(held)[2]) == int(origin(first)[2]) + 1
        finally:
            await caller.close()
            await callee.close()

    async def test_unparseable_offer_is_an_sdp_error(self) -> None:
        handler = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            with pytest.raises(SdpError) as info:
                await handler.create_answer(b"hello")
            assert info.value.status_code == 488
        finally:
            await handler.close()

    async def test_plain_rtp_offer_is_an_sdp_error(self) -> None:
        # A SIP phone's RTP/AVP offer has no ICE or DTLS: not WebRTC.
        phone = SignalingOnlyMediaHandler()
        handler = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            with pytest.raises(SdpError):
                await handler.create_answer(await phone.create_offer())
        finally:
            await handler.close()

    async def test_repeated_answer_is_ignored(self) -> None:
        # A reliable 183 carried the answer; the 200 OK repeats it.
        caller = AiortcMediaHandler(ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            answer = await callee.create_answer(await caller.create_offer())
            await caller.set_remote_answer(answer)
            await caller.set_remote_answer(answer)
            with pytest.raises(MediaError):  # a different one is not an answer to anything
                await caller.set_remote_answer(answer.replace(b"a=sendrecv", b"a=recvonly"))
        finally:
            await caller.close()
            await callee.close()

    async def test_answer_without_offer_is_refused(self) -> None:
        handler = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            with pytest.raises(MediaError):
                await handler.set_remote_answer(b"v=0\r\n")
        finally:
            await handler.close()

    async def test_offer_while_our_offer_is_pending_is_glare(self) -> None:
        caller = AiortcMediaHandler(ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            await caller.create_offer()
            with pytest.raises(MediaError):
                await caller.create_answer(await callee.create_offer())
        finally:
            await caller.close()
            await callee.close()

    async def test_signaling_only_webrtc_peer_is_accepted(self) -> None:
        # A load generator's static WebRTC SDP must be accepted (the call
        # then has no media, which is the point).
        static = SignalingOnlyMediaHandler(webrtc=True)
        handler = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            await negotiate(static, handler)
            await negotiate(handler, static)
        finally:
            await handler.close()

    @pytest.mark.parametrize(
        "bad",
        [
            {"ice_addresses": ["localhost"]},
            {"ice_addresses": "127.0.0.1"},
            {"ice_addresses": []},
            {"codecs": ["speex"]},
            {"ice_gathering_timeout": 0},
            {"ice_servers": [{"username": "x"}]},
            {"ice_transport_policy": "none"},
            {"direction": "upwards"},
        ],
    )
    def test_bad_arguments(self, bad: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            AiortcMediaHandler(**bad)

    async def test_closed_handler_refuses_work(self) -> None:
        async with AiortcMediaHandler(ice_addresses=LOOPBACK) as handler:
            pass
        assert handler.is_closed and handler.connection_state == "closed"
        await handler.close()  # idempotent
        with pytest.raises(MediaError):
            await handler.create_offer()
        with pytest.raises(MediaError):
            await handler.send_dtmf("1")


class TestIceGathering:
    async def test_slow_stun_server_does_not_delay_the_offer(self) -> None:
        # A STUN "server" on loopback that never answers: aioice would wait
        # 5 s for it; the handler's deadline cuts that short.
        blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blackhole.bind(("127.0.0.1", 0))
        port = blackhole.getsockname()[1]
        handler = AiortcMediaHandler(
            ice_addresses=LOOPBACK,
            ice_servers=[f"stun:127.0.0.1:{port}"],
            ice_gathering_timeout=0.3,
        )
        try:
            started = time.monotonic()
            offer = await handler.create_offer()
            assert time.monotonic() - started < 1.5
            section = SessionDescription.parse(offer).audio()
            assert section is not None
            assert [c.address for c in section.candidates()] == ["127.0.0.1"]
        finally:
            await handler.close()
            blackhole.close()

    async def test_ipv6_loopback(self) -> None:
        sinks = [PcmSink(), PcmSink()]
        caller = AiortcMediaHandler(ToneSource(), [sinks[0]], ice_addresses=["::1"])
        callee = AiortcMediaHandler(ToneSource(), [sinks[1]], ice_addresses=["::1"])
        try:
            offer = await caller.create_offer()
            assert addresses_in(offer) <= {"::1", "0.0.0.0"} and "::1" in addresses_in(offer)
            await negotiate(caller, callee, offer)
            await wait_for(lambda: min(s.chunks_received for s in sinks) > 5)
        finally:
            await caller.close()
            await callee.close()

    async def test_relay_policy_offers_no_host_candidate(self) -> None:
        # RFC 8829 §4.1.1 "relay": no TURN server, so no candidate at all,
        # even with ice_addresses given.
        handler = AiortcMediaHandler(ice_transport_policy="relay", ice_addresses=LOOPBACK)
        before = set(udp_sockets())
        try:
            offer = await handler.create_offer()
            section = SessionDescription.parse(offer).audio()
            assert section is not None and section.candidates() == []
            assert set(udp_sockets()) == before
        finally:
            await handler.close()


class TestAudio:
    async def test_tones_flow_both_ways(self, make_pair: Any, tmp_path: Path) -> None:
        recording = tmp_path / "callee.wav"
        sockets_before = set(udp_sockets())  # of other tests, if any
        caller, callee = await make_pair(440.0, 880.0)
        recorder = WavRecorder(recording, sample_rate=8000)
        callee.handler.add_sink(recorder)

        # Loopback only, checked where it matters: every UDP socket this
        # process has is bound to 127.0.0.1 (so nothing can be sent to, or
        # from, another interface) and ICE paired loopback with loopback.
        sockets = set(udp_sockets()) - sockets_before
        assert sockets and {address for address, _ in sockets} == {"127.0.0.1"}
        for party in (caller, callee):
            pc = party.handler.peer_connection
            assert pc is not None
            ice = pc.getTransceivers()[0].receiver.transport.transport
            remote = {c.ip for c in ice.getRemoteCandidates()}
            local = {c.ip for c in ice.iceGatherer.getLocalCandidates()}
            assert remote == local == {"127.0.0.1"}

        counts = await asyncio.gather(
            caller.received_during(WINDOW_S), callee.received_during(WINDOW_S)
        )
        assert min(counts) >= 0.9 * EXPECTED_CHUNKS, counts
        # The caller hears the callee's 880 Hz, the callee the caller's 440 Hz.
        assert dominant_frequency(caller.tail(50)) == pytest.approx(880, abs=10)
        assert dominant_frequency(callee.tail(50)) == pytest.approx(440, abs=10)

        await callee.handler.close()
        with wave.open(str(recording), "rb") as wav:
            assert wav.getframerate() == 8000 and wav.getsampwidth() == 2
            assert wav.getnframes() >= 0.9 * WINDOW_S * 8000

    async def test_hold_and_unhold(self, make_pair: Any) -> None:
        caller, callee = await make_pair(440.0, 880.0)
        pc = callee.handler.peer_connection
        assert pc is not None
        callee_sender = pc.getSenders()[0]

        async def packets_sent() -> int:
            stats = await callee_sender.getStats()
            return int(next(s.packetsSent for s in stats.values() if s.type == "outbound-rtp"))

        # RFC 3264 §8.4: hold = sendonly; the held side answers recvonly.
        await negotiate(
            caller.handler, callee.handler, await caller.handler.set_direction("sendonly")
        )
        assert caller.handler.negotiated_direction == MediaDirection.SENDONLY
        assert callee.handler.negotiated_direction == MediaDirection.RECVONLY
        assert callee.handler.remote_direction == MediaDirection.SENDONLY
        await asyncio.sleep(0.2)  # frames already in flight
        before = await packets_sent()
        heard_by_caller, heard_by_callee = await asyncio.gather(
            caller.received_during(1.0), callee.received_during(1.0)
        )
        assert heard_by_caller == 0
        assert await packets_sent() == before  # the held side really stopped sending
        assert heard_by_callee >= 0.9 * 50  # music on hold still flows

        # Both sides on hold: inactive, nothing flows.
        await negotiate(
            caller.handler, callee.handler, await caller.handler.set_direction("inactive")
        )
        await asyncio.sleep(0.2)
        counts = await asyncio.gather(caller.received_during(0.6), callee.received_during(0.6))
        assert list(counts) == [0, 0]

        # Unhold restores audio both ways, and the right audio.
        await negotiate(
            caller.handler, callee.handler, await caller.handler.set_direction("sendrecv")
        )
        assert caller.handler.negotiated_direction == MediaDirection.SENDRECV
        await asyncio.sleep(0.3)
        counts = await asyncio.gather(caller.received_during(1.0), callee.received_during(1.0))
        assert min(counts) >= 0.9 * 50, counts
        assert dominant_frequency(caller.tail(25)) == pytest.approx(880, abs=15)
        assert dominant_frequency(callee.tail(25)) == pytest.approx(440, abs=15)

    async def test_hold_by_the_callee(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        await negotiate(
            callee.handler, caller.handler, await callee.handler.set_direction("sendonly")
        )
        assert caller.handler.remote_direction == MediaDirection.SENDONLY
        await asyncio.sleep(0.2)
        assert await callee.received_during(0.6) == 0

    async def test_rejected_reoffer_rolls_back(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        await caller.handler.set_direction("sendonly")
        await caller.handler.rollback()  # e.g. the re-INVITE got 491
        assert caller.handler.direction == MediaDirection.SENDRECV
        # The other side may now re-offer (no glare left behind).
        await negotiate(callee.handler, caller.handler)
        assert caller.handler.negotiated_direction == MediaDirection.SENDRECV
        assert await caller.received_during(0.5) >= 20

    async def test_mute_sends_silence_without_renegotiation(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        caller.handler.mute()
        assert caller.handler.is_muted
        await asyncio.sleep(0.3)
        assert await callee.received_during(0.5) >= 20  # RTP keeps flowing
        assert rms(callee.tail(20)) < 50
        caller.handler.unmute()
        await asyncio.sleep(0.3)
        assert rms(callee.tail(20)) > 1000
        assert dominant_frequency(callee.tail(20)) == pytest.approx(440, abs=20)

    async def test_source_can_be_swapped_mid_call(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        old = caller.handler.set_source(ToneSource(660, sample_rate=16000))
        old.stop()
        await asyncio.sleep(0.5)
        assert dominant_frequency(callee.tail(20)) == pytest.approx(660, abs=20)

    async def test_echo(self) -> None:
        echo = EchoLink(delay_ms=0)
        sink = PcmSink(sample_rate=16000)
        caller = AiortcMediaHandler(ToneSource(523.0), [sink], ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(echo.source, [echo.sink], ice_addresses=LOOPBACK)
        try:
            await negotiate(caller, callee)
            await wait_for(lambda: sink.chunks_received > 40)
            samples = np.frombuffer(b"".join(list(sink._queue)[-25:]), dtype=np.int16)
            assert dominant_frequency(samples) == pytest.approx(523, abs=15)
        finally:
            await caller.close()
            await callee.close()


class TestVoiceBot:
    async def test_bot_reads_pcm_and_answers_with_pcm(self) -> None:
        """The docs/media.md pattern: a bot that knows PCM, not WebRTC."""
        heard = PcmSink(sample_rate=16000)
        caller = AiortcMediaHandler(ToneSource(400.0), [heard], ice_addresses=LOOPBACK)
        ears = PcmSink(sample_rate=16000, frame_ms=20)
        mouth = PcmSource(sample_rate=16000)
        bot = AiortcMediaHandler(mouth, [ears], ice_addresses=LOOPBACK)

        async def run_bot() -> None:
            window: list[bytes] = []
            async for chunk in ears:  # 20 ms of 16 kHz mono s16
                window.append(chunk)
                if len(window) == 25:  # every 0.5 s: answer one octave up
                    samples = np.frombuffer(b"".join(window), dtype=np.int16)
                    hz = dominant_frequency(samples)
                    t = np.arange(8000) / 16000
                    await mouth.write((np.sin(2 * np.pi * 2 * hz * t) * 8000).astype(np.int16))
                    window.clear()

        task = asyncio.create_task(run_bot())
        try:
            await negotiate(caller, bot)
            await wait_for(lambda: heard.chunks_received > 75, timeout=5)
            samples = np.frombuffer(b"".join(list(heard._queue)[-20:]), dtype=np.int16)
            assert dominant_frequency(samples) == pytest.approx(800, abs=15)
        finally:
            await caller.close()
            await bot.close()
            await asyncio.wait_for(task, 1)  # the sink's iteration ended with the call


class TestDtmf:
    @pytest.mark.parametrize("codec", ["opus", "PCMU"])
    async def test_rfc4733_digits_arrive(self, make_pair: Any, codec: str) -> None:
        # opus: events at 48 kHz; PCMU: at 8 kHz (RFC 7874).
        caller, callee = await make_pair(codecs=[codec])
        await caller.handler.send_dtmf("159#", duration_ms=100, inter_tone_gap_ms=60)
        await wait_for(lambda: len(callee.dtmf) == 4, timeout=2)
        assert [tone for tone, _ in callee.dtmf] == ["1", "5", "9", "#"]
        assert all(ms == 100 for _, ms in callee.dtmf)
        assert caller.dtmf == []
        # Audio carries on after the events.
        assert await callee.received_during(0.3) >= 10

    async def test_async_callback_and_other_direction(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        seen: list[str] = []

        async def on_dtmf(tone: str, duration_ms: int) -> None:
            await asyncio.sleep(0)
            seen.append(tone)

        caller.handler.on_dtmf = on_dtmf
        await callee.handler.send_dtmf("*0", duration_ms=80, inter_tone_gap_ms=50)
        await wait_for(lambda: seen == ["*", "0"], timeout=2)

    async def test_refused_when_not_negotiated(self) -> None:
        caller = AiortcMediaHandler(ice_addresses=LOOPBACK)
        callee = AiortcMediaHandler(ice_addresses=LOOPBACK)
        try:
            offer = await caller.create_offer()
            # A peer that does not do RFC 4733: strip telephone-event.
            parsed = SessionDescription.parse(offer)
            section = parsed.audio()
            assert section is not None
            events = {str(pt) for pt in section.telephone_events()}
            section.lines[0] = " ".join(w for w in section.lines[0].split() if w not in events)
            section.lines[:] = [
                line
                for line in section.lines
                if not any(line.startswith((f"a=rtpmap:{pt} ", f"a=fmtp:{pt} ")) for pt in events)
            ]
            answer = await callee.create_answer(parsed.to_bytes())
            assert b"telephone-event" not in answer
            with pytest.raises(MediaError):
                await callee.send_dtmf("1")
        finally:
            await caller.close()
            await callee.close()

    async def test_refused_on_hold_and_bad_tones(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        await negotiate(
            caller.handler, callee.handler, await caller.handler.set_direction("inactive")
        )
        with pytest.raises(MediaError):
            await caller.handler.send_dtmf("1")
        with pytest.raises(ValueError):
            await caller.handler.send_dtmf("1x")
        with pytest.raises(ValueError):
            await caller.handler.send_dtmf("1", duration_ms=10)


def _resources() -> tuple[int, Counter[str], int]:
    fds = len(os.listdir("/proc/self/fd"))
    # The loop's default executor (aiortc encodes in it) keeps its workers;
    # those are not per-call resources.
    threads = Counter(t.name for t in threading.enumerate() if not t.name.startswith("asyncio_"))
    return fds, threads, len(udp_sockets())


class TestShutdown:
    async def test_no_leaks_over_20_calls(self) -> None:
        async def one_call() -> None:
            caller_sink, callee_sink = PcmSink(), PcmSink()
            caller = AiortcMediaHandler(ToneSource(440), [caller_sink], ice_addresses=LOOPBACK)
            callee = AiortcMediaHandler(ToneSource(880), [callee_sink], ice_addresses=LOOPBACK)
            await negotiate(caller, callee)
            await caller.wait_connected(5)
            await callee.wait_connected(5)
            await wait_for(
                lambda: callee_sink.chunks_received > 0 and caller_sink.chunks_received > 0
            )
            await caller.send_dtmf("1", duration_ms=40, inter_tone_gap_ms=40)
            await asyncio.gather(caller.close(), callee.close())
            # Closing ends the sinks' iteration.
            assert [chunk async for chunk in caller_sink]

        await one_call()  # warm-up: lazily created process-wide objects
        await asyncio.sleep(0.1)
        tasks_before = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        fds_before, threads_before, sockets_before = _resources()
        for _ in range(20):
            await one_call()
        await asyncio.sleep(0.2)
        tasks_after = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        fds_after, threads_after, sockets_after = _resources()
        assert tasks_after - tasks_before == set()
        assert fds_after <= fds_before
        assert sockets_after <= sockets_before
        assert threads_after == threads_before  # no decoder or player thread left

    async def test_close_before_any_negotiation_stops_the_source(self) -> None:
        source = ToneSource()
        handler = AiortcMediaHandler(source)
        await handler.close()
        assert source.readyState == "ended"

    async def test_close_mid_call_ends_everything(self, make_pair: Any) -> None:
        caller, callee = await make_pair()
        await caller.handler.close()
        assert caller.handler.connection_state == "closed"
        # The sink's iteration ends after what was already queued.
        drained = [chunk async for chunk in caller.sink]
        assert drained and await caller.sink.read() is None
        # Closing one side first does not disturb the other's close.
        await callee.handler.close()
        assert callee.handler.connection_state == "closed"
