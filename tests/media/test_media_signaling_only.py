"""SignalingOnlyMediaHandler: correct RFC 3264 offer/answer with no media at all."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from websip.media import (
    MediaDirection,
    MediaError,
    MediaHandler,
    SdpError,
    SignalingOnlyMediaHandler,
)
from websip.media._sdp import SessionDescription

from .helpers import negotiate


def origin(sdp: bytes) -> tuple[str, int]:
    line = next(x for x in sdp.decode().splitlines() if x.startswith("o="))
    fields = line.split()
    return fields[1], int(fields[2])


class TestOffer:
    async def test_offer_is_plain_rtp_audio(self) -> None:
        handler = SignalingOnlyMediaHandler()
        assert isinstance(handler, MediaHandler)
        offer = await handler.create_offer()
        assert offer.endswith(b"\r\n") and b"\n\n" not in offer
        sdp = SessionDescription.parse(offer)
        [audio] = sdp.media
        assert (audio.kind, audio.port, audio.proto) == ("audio", 9, "RTP/AVP")
        assert audio.formats == ["0", "8", "101"]
        assert audio.connection_address() == "127.0.0.1"
        assert [m.encoding for m in audio.rtpmaps().values()] == ["PCMU", "PCMA", "telephone-event"]
        assert audio.direction() == MediaDirection.SENDRECV
        assert sdp.session[:2] == ["v=0", sdp.session[1]] and sdp.session[1].startswith("o=- ")

    async def test_webrtc_flavour(self) -> None:
        handler = SignalingOnlyMediaHandler(webrtc=True, codecs=["opus", "PCMU"], address="::1")
        sdp = SessionDescription.parse(await handler.create_offer())
        [audio] = sdp.media
        assert audio.proto == "UDP/TLS/RTP/SAVPF"
        assert audio.rtpmaps()[111].channels == 2
        for name in ("ice-ufrag", "ice-pwd", "fingerprint", "setup", "mid", "rtcp-mux"):
            assert audio.attributes(name), name
        assert audio.attributes("setup") == ["actpass"]
        assert "a=group:BUNDLE 0" in sdp.session
        assert "c=IN IP6 ::1" in audio.lines

    async def test_hold_changes_direction_and_version_only(self) -> None:
        handler = SignalingOnlyMediaHandler()
        first = await handler.create_offer()
        refresh = await handler.create_offer()
        held = await handler.set_direction("sendonly")
        # RFC 3264 §8: same session id; the version moves only with a change.
        assert origin(first) == origin(refresh)
        assert origin(held) == (origin(first)[0], origin(first)[1] + 1)
        assert SessionDescription.parse(held).audio_direction() == MediaDirection.SENDONLY
        assert handler.direction == MediaDirection.SENDONLY

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"port": 0},
            {"address": ""},
            {"address": "a b"},
            {"codecs": []},
            {"codecs": "PCMU"},
            {"codecs": ["GSM"]},
            {"direction": "up"},
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            SignalingOnlyMediaHandler(**kwargs)  # type: ignore[arg-type]


class TestAnswer:
    async def test_between_two_signaling_only_handlers(self) -> None:
        caller, callee = SignalingOnlyMediaHandler(), SignalingOnlyMediaHandler(codecs=["PCMA"])
        offer = await caller.create_offer()
        answer = await callee.create_answer(offer)
        await caller.set_remote_answer(answer)
        await caller.set_remote_answer(answer)  # a 2xx repeating a reliable 18x
        [audio] = SessionDescription.parse(answer).media
        # RFC 3264 §6.1: a subset of the offered formats, same payload types.
        assert audio.formats == ["8", "101"]
        assert caller.remote_direction == MediaDirection.SENDRECV

    async def test_hold_unhold_directions(self) -> None:
        caller, callee = SignalingOnlyMediaHandler(), SignalingOnlyMediaHandler()
        await negotiate(caller, callee)
        answer = await callee.create_answer(await caller.set_direction("sendonly"))
        assert SessionDescription.parse(answer).audio_direction() == MediaDirection.RECVONLY
        assert callee.remote_direction == MediaDirection.SENDONLY
        answer = await callee.create_answer(await caller.set_direction("inactive"))
        assert SessionDescription.parse(answer).audio_direction() == MediaDirection.INACTIVE
        answer = await callee.create_answer(await caller.set_direction("sendrecv"))
        assert SessionDescription.parse(answer).audio_direction() == MediaDirection.SENDRECV

    async def test_answer_keeps_stream_positions_and_rejects_the_rest(self) -> None:
        offer = (
            b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=video 5000 RTP/AVP 31\r\n"
            b"m=audio 5002 RTP/AVP 18 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
            b"a=recvonly\r\n"
        )
        handler = SignalingOnlyMediaHandler()
        sdp = SessionDescription.parse(await handler.create_answer(offer))
        assert [(m.kind, m.port) for m in sdp.media] == [("video", 0), ("audio", 9)]
        audio = sdp.media[1]
        assert audio.formats == ["0", "96"]  # G.729 (18) dropped, telephone-event kept
        assert audio.direction() == MediaDirection.SENDONLY

    async def test_nothing_in_common(self) -> None:
        offer = b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 18\r\n"
        with pytest.raises(SdpError) as info:
            await SignalingOnlyMediaHandler().create_answer(offer)
        assert info.value.status_code == 488

    async def test_state_errors_and_rollback(self) -> None:
        caller, callee = SignalingOnlyMediaHandler(), SignalingOnlyMediaHandler()
        with pytest.raises(MediaError):
            await caller.set_remote_answer(await callee.create_offer())
        await caller.set_direction("sendonly")
        with pytest.raises(MediaError):  # glare
            await caller.create_answer(await callee.create_offer())
        await caller.rollback()
        assert caller.direction == MediaDirection.SENDRECV
        await callee.rollback()
        await negotiate(callee, caller)
        rejected = b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
        await caller.create_offer()
        with pytest.raises(SdpError):
            await caller.set_remote_answer(rejected)

    async def test_mute_dtmf_close(self) -> None:
        handler = SignalingOnlyMediaHandler()
        handler.mute()
        assert handler.is_muted
        handler.unmute()
        assert not handler.is_muted
        started = time.monotonic()
        await handler.send_dtmf("12", duration_ms=40, inter_tone_gap_ms=40)
        assert time.monotonic() - started >= 0.15  # takes as long as sending would
        with pytest.raises(ValueError):
            await handler.send_dtmf("X")
        await handler.close()
        with pytest.raises(MediaError):
            await handler.create_offer()


def test_media_package_loads_aiortc_only_on_demand() -> None:
    """A signaling-only install (no ``media`` extra) can import websip.media."""
    code = (
        "import sys, websip.media as m\n"
        "m.SignalingOnlyMediaHandler, m.MediaHandler, m.MediaDirection, m.SdpError\n"
        "assert not {'aiortc', 'av', 'aioice', 'numpy'} & set(sys.modules), sys.modules\n"
        "m.AiortcMediaHandler\n"
        "assert 'aiortc' in sys.modules\n"
        "assert sorted(m.__all__) == m.__all__ and all(hasattr(m, n) for n in m.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
