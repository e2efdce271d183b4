"""The SDP line editor (RFC 8866) and the RFC 3264 direction algebra."""

from __future__ import annotations

import pytest

from websip.media import MediaDirection, SdpError
from websip.media._sdp import RtpMap, SessionDescription

# What aiortc emits (trimmed), and what a SIP desk phone sends (LF endings,
# session-level direction, static payload types without rtpmap).
AIORTC = (
    b"v=0\r\n"
    b"o=- 3900000000 3900000000 IN IP4 0.0.0.0\r\n"
    b"s=-\r\n"
    b"t=0 0\r\n"
    b"a=group:BUNDLE 0\r\n"
    b"a=msid-semantic:WMS *\r\n"
    b"m=audio 40000 UDP/TLS/RTP/SAVPF 96 9 0 8\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"a=sendrecv\r\n"
    b"a=mid:0\r\n"
    b"a=rtcp:9 IN IP4 0.0.0.0\r\n"
    b"a=rtcp-mux\r\n"
    b"a=ssrc:1234 cname:abc\r\n"
    b"a=rtpmap:96 opus/48000/2\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"
    b"a=end-of-candidates\r\n"
    b"a=ice-ufrag:abcd\r\n"
    b"a=ice-pwd:0123456789012345678901\r\n"
    b"a=setup:actpass\r\n"
)

DESK_PHONE = (
    b"v=0\n"
    b"o=phone 1 1 IN IP4 192.0.2.10\n"
    b"s=call\n"
    b"c=IN IP4 192.0.2.10\n"
    b"t=0 0\n"
    b"a=sendonly\n"
    b"m=audio 5004 RTP/AVP 0 8 101\n"
    b"a=rtpmap:101 telephone-event/8000\n"
    b"a=fmtp:101 0-16\n"
    b"m=video 0 RTP/AVP 31\n"
)


class TestParse:
    def test_round_trip_keeps_every_line(self) -> None:
        assert SessionDescription.parse(AIORTC).to_bytes() == AIORTC

    def test_lf_input_is_written_with_crlf(self) -> None:
        out = SessionDescription.parse(DESK_PHONE).to_bytes()
        assert out == DESK_PHONE.replace(b"\n", b"\r\n")

    def test_sections(self) -> None:
        sdp = SessionDescription.parse(DESK_PHONE)
        assert [(m.kind, m.port, m.proto) for m in sdp.media] == [
            ("audio", 5004, "RTP/AVP"),
            ("video", 0, "RTP/AVP"),
        ]
        assert sdp.media[0].formats == ["0", "8", "101"]
        assert sdp.media[0].connection_address() is None

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"hello",
            b"v=1\r\n",
            b"v=0\r\nthis is not sdp\r\n",
            b"v=0\r\nm=audio\r\n",
            b"v=0\r\nm=audio x RTP/AVP 0\r\n",
            b"v=0\r\n\xff\xfe\r\n",
            b"v=0\r\n" + b"a=x\r\n" * 20000,
        ],
    )
    def test_garbage_is_an_sdp_error(self, body: bytes) -> None:
        with pytest.raises(SdpError) as info:
            SessionDescription.parse(body)
        assert info.value.status_code == 488
        assert isinstance(info.value, ValueError)


class TestAttributes:
    def test_rtpmaps_include_static_types(self) -> None:
        section = SessionDescription.parse(DESK_PHONE).media[0]
        assert section.rtpmaps() == {
            0: RtpMap(0, "PCMU", 8000),
            8: RtpMap(8, "PCMA", 8000),
            101: RtpMap(101, "telephone-event", 8000),
        }
        assert list(section.telephone_events()) == [101]

    def test_opus_channels(self) -> None:
        section = SessionDescription.parse(AIORTC).media[0]
        assert section.rtpmaps()[96] == RtpMap(96, "opus", 48000, 2)
        assert section.telephone_events() == {}

    def test_candidates_ssrcs_and_connection(self) -> None:
        section = SessionDescription.parse(AIORTC).media[0]
        [candidate] = section.candidates()
        assert (candidate.address, candidate.port, candidate.type) == ("127.0.0.1", 40000, "host")
        assert section.ssrcs() == [1234]
        assert section.connection_address() == "127.0.0.1"
        assert section.attributes("rtcp-mux") == [""]

    def test_add_format_keeps_codec_lines_together(self) -> None:
        sdp = SessionDescription.parse(AIORTC)
        section = sdp.media[0]
        section.add_format(RtpMap(126, "telephone-event", 8000), "0-15")
        assert section.formats[-1] == "126"
        lines = section.lines
        at = lines.index("a=rtpmap:126 telephone-event/8000")
        assert lines[at - 1] == "a=rtpmap:8 PCMA/8000"
        assert lines[at + 1] == "a=fmtp:126 0-15"
        assert section.telephone_events() == {126: RtpMap(126, "telephone-event", 8000)}
        # and it survives a round trip
        again = SessionDescription.parse(sdp.to_bytes()).media[0]
        assert again.telephone_events() == section.telephone_events()


class TestDirection:
    def test_media_level_wins_then_session_level_then_sendrecv(self) -> None:
        assert SessionDescription.parse(AIORTC).audio_direction() == MediaDirection.SENDRECV
        # RFC 8866 §6.7: the session-level attribute applies to every stream.
        assert SessionDescription.parse(DESK_PHONE).audio_direction() == MediaDirection.SENDONLY
        bare = SessionDescription.parse(b"v=0\r\nm=audio 1 RTP/AVP 0\r\n")
        assert bare.audio_direction() == MediaDirection.SENDRECV

    def test_set_direction_replaces_the_attribute(self) -> None:
        sdp = SessionDescription.parse(AIORTC)
        sdp.media[0].set_direction(MediaDirection.INACTIVE)
        text = sdp.to_bytes().decode()
        assert "a=inactive" in text and "a=sendrecv" not in text
        assert sdp.audio_direction() == MediaDirection.INACTIVE

    def test_rejected_audio_has_no_direction(self) -> None:
        sdp = SessionDescription.parse(b"v=0\r\nm=audio 0 RTP/AVP 0\r\n")
        assert sdp.audio() is None and sdp.audio_direction() is None

    def test_set_origin(self) -> None:
        sdp = SessionDescription.parse(AIORTC)
        sdp.set_origin(42, 7, "127.0.0.1")
        assert sdp.session[1] == "o=- 42 7 IN IP4 127.0.0.1"
        sdp.set_origin(42, 8, "::1")
        assert sdp.session[1] == "o=- 42 8 IN IP6 ::1"
        bare = SessionDescription.parse(b"v=0\r\ns=-\r\n")
        bare.set_origin(1, 2, "127.0.0.1")
        assert bare.session[1].startswith("o=- 1 2 ")


S, SO, RO, NA = (
    MediaDirection.SENDRECV,
    MediaDirection.SENDONLY,
    MediaDirection.RECVONLY,
    MediaDirection.INACTIVE,
)


class TestRfc3264Directions:
    def test_is_a_string(self) -> None:
        assert MediaDirection("sendonly") is SO
        assert SO == "sendonly" and f"a={SO}" == "a=sendonly"
        with pytest.raises(ValueError):
            MediaDirection("sideways")

    @pytest.mark.parametrize(
        ("direction", "sends", "receives", "reverse"),
        [(S, True, True, S), (SO, True, False, RO), (RO, False, True, SO), (NA, False, False, NA)],
    )
    def test_halves_and_reverse(
        self, direction: MediaDirection, sends: bool, receives: bool, reverse: MediaDirection
    ) -> None:
        assert (direction.sends, direction.receives) == (sends, receives)
        assert direction.reverse() is reverse
        assert MediaDirection.from_flags(sends=sends, receives=receives) is direction

    @pytest.mark.parametrize(
        ("wanted", "offered", "answer"),
        [
            # RFC 3264 §6.1, with sendrecv as our wish: mirror the offer.
            (S, S, S),
            (S, SO, RO),
            (S, RO, SO),
            (S, NA, NA),
            # We hold (sendonly) while the peer offers sendrecv / sendonly.
            (SO, S, SO),
            (SO, SO, NA),
            (RO, RO, NA),
            (NA, S, NA),
        ],
    )
    def test_answer_table(
        self, wanted: MediaDirection, offered: MediaDirection, answer: MediaDirection
    ) -> None:
        assert wanted.answer_to(offered) is answer
