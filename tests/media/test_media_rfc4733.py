"""RFC 4733 telephone-events and the RTP header helpers, without any network."""

from __future__ import annotations

import struct

import pytest

from websip.media._aiortc_glue import SequenceCompactor
from websip.media._rfc4733 import (
    DetectedTone,
    DtmfDetector,
    PlannedPacket,
    TelephoneEvent,
    decode_event,
    encode_event,
    event_to_tone,
    plan_event,
    tone_to_event,
    validate_timing,
    validate_tones,
)
from websip.media._rtp import build_packet, is_rtcp, parse_header, with_sequence_number


class TestPayload:
    """RFC 4733 §2.3."""

    def test_wire_format(self) -> None:
        event = TelephoneEvent(event=11, end=True, volume=10, duration=800)
        assert encode_event(event) == bytes([11, 0x80 | 10]) + struct.pack("!H", 800)
        assert decode_event(encode_event(event)) == event

    def test_short_payload(self) -> None:
        with pytest.raises(ValueError):
            decode_event(b"\x01\x02")

    @pytest.mark.parametrize(
        ("tone", "code"), [("0", 0), ("9", 9), ("*", 10), ("#", 11), ("A", 12), ("d", 15)]
    )
    def test_tones(self, tone: str, code: int) -> None:
        # RFC 4733 §3.2 table 3.
        assert tone_to_event(tone) == code
        assert event_to_tone(code) == tone.upper()

    def test_non_dtmf_events(self) -> None:
        assert event_to_tone(16) is None  # flash
        with pytest.raises(ValueError):
            tone_to_event("E")

    def test_validation(self) -> None:
        assert validate_tones("12ab*#,") == "12AB*#,"
        for bad in ("", "1 2", "E", "12x"):
            with pytest.raises(ValueError):
                validate_tones(bad)
        validate_timing(100, 500)
        for duration, gap in ((39, 500), (6001, 500), (100, 39)):
            with pytest.raises(ValueError):
                validate_timing(duration, gap)


class TestPlan:
    """RFC 4733 §2.5.1: how one event is sent."""

    def test_short_event_at_8khz(self) -> None:
        plan = plan_event(5, 100, 8000)
        events = [decode_event(p.payload) for p in plan]
        # updates every 20 ms, then the final packet three times
        assert [p.at for p in plan] == pytest.approx([0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12])
        assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
        assert [e.end for e in events] == [False] * 4 + [True] * 3
        assert [p.marker for p in plan] == [True] + [False] * 6
        assert {p.timestamp_offset for p in plan} == {0}
        assert {e.event for e in events} == {5}

    def test_opus_clock(self) -> None:
        plan = plan_event(1, 100, 48000)
        assert decode_event(plan[-1].payload).duration == 4800

    def test_long_event_is_segmented(self) -> None:
        # 2 s at 48 kHz is 96000 units, more than the 16-bit duration field.
        plan = plan_event(7, 2000, 48000)
        offsets = sorted({p.timestamp_offset for p in plan})
        assert offsets == [0, 0xFFFF]
        assert all(decode_event(p.payload).duration <= 0xFFFF for p in plan)
        assert [p.at for p in plan] == sorted(p.at for p in plan)
        assert sum(p.marker for p in plan) == 1
        final = decode_event(plan[-1].payload)
        assert final.end and final.duration == 96000 - 0xFFFF


def feed_plan(
    detector: DtmfDetector,
    plan: list[PlannedPacket],
    *,
    ssrc: int = 1,
    base: int = 1000,
    rate: int = 8000,
) -> list[DetectedTone]:
    found: list[DetectedTone] = []
    for packet in plan:
        found += detector.feed(
            ssrc=ssrc,
            timestamp=base + packet.timestamp_offset,
            marker=packet.marker,
            payload=packet.payload,
            clock_rate=rate,
        )
    return found


class TestDetector:
    def test_one_report_per_event(self) -> None:
        detector = DtmfDetector()
        found = feed_plan(detector, plan_event(tone_to_event("#"), 120, 8000))
        assert [(t.tone, t.duration_ms) for t in found] == [("#", 120)]
        assert detector.flush() == []

    def test_sequence_of_digits(self) -> None:
        detector = DtmfDetector()
        found = []
        for index, tone in enumerate("159#"):
            found += feed_plan(
                detector,
                plan_event(tone_to_event(tone), 100, 48000),
                base=index * 48000,
                rate=48000,
            )
        assert [t.tone for t in found] == list("159#")

    def test_lost_end_packets_are_reported_at_the_next_event(self) -> None:
        detector = DtmfDetector()
        first = [p for p in plan_event(1, 100, 8000) if not decode_event(p.payload).end]
        assert feed_plan(detector, first, base=0) == []
        found = feed_plan(detector, plan_event(2, 100, 8000), base=8000)
        assert [(t.tone, t.duration_ms) for t in found] == [("1", 80), ("2", 100)]

    def test_flush_reports_an_unfinished_event(self) -> None:
        detector = DtmfDetector()
        feed_plan(detector, plan_event(3, 100, 8000)[:2])
        assert [t.tone for t in detector.flush()] == ["3"]

    def test_late_retransmissions_are_ignored(self) -> None:
        detector = DtmfDetector()
        plan = plan_event(4, 100, 8000)
        assert len(feed_plan(detector, plan)) == 1
        assert feed_plan(detector, plan[-1:]) == []

    def test_segments_are_joined(self) -> None:
        detector = DtmfDetector()
        found = feed_plan(detector, plan_event(9, 2000, 48000), rate=48000)
        assert [(t.tone, t.duration_ms) for t in found] == [("9", 2000)]

    def test_streams_are_independent_and_junk_ignored(self) -> None:
        detector = DtmfDetector()
        assert (
            detector.feed(ssrc=1, timestamp=0, marker=True, payload=b"\x00", clock_rate=8000) == []
        )
        a = plan_event(1, 100, 8000)
        b = plan_event(2, 100, 8000)
        found = []
        for pa, pb in zip(a, b, strict=True):
            found += detector.feed(
                ssrc=1, timestamp=10, marker=pa.marker, payload=pa.payload, clock_rate=8000
            )
            found += detector.feed(
                ssrc=2, timestamp=10, marker=pb.marker, payload=pb.payload, clock_rate=8000
            )
        assert sorted(t.tone for t in found) == ["1", "2"]

    def test_flash_is_not_dtmf(self) -> None:
        detector = DtmfDetector()
        assert feed_plan(detector, plan_event(16, 100, 8000)) == []


class TestRtp:
    """RFC 3550 §5.1 fixed header."""

    def test_build_and_parse(self) -> None:
        packet = build_packet(
            payload_type=101,
            marker=True,
            sequence_number=65535,
            timestamp=2**32 - 1,
            ssrc=0xDEADBEEF,
            payload=b"abcd",
        )
        header = parse_header(packet)
        assert (header.payload_type, header.marker, header.sequence_number) == (101, True, 65535)
        assert (header.timestamp, header.ssrc) == (2**32 - 1, 0xDEADBEEF)
        assert packet[header.payload_offset : header.payload_end] == b"abcd"
        assert not is_rtcp(packet)

    def test_csrc_extension_and_padding(self) -> None:
        first = 0x80 | 0x20 | 0x10 | 2  # padding, extension, two CSRCs
        header = struct.pack("!BBHII", first, 0, 1, 2, 3) + b"\x00" * 8
        extension = struct.pack("!HH", 0xBEDE, 1) + b"\x11\x22\x33\x44"
        packet = header + extension + b"DATA" + b"\x00\x00\x03"
        parsed = parse_header(packet)
        assert packet[parsed.payload_offset : parsed.payload_end] == b"DATA"

    @pytest.mark.parametrize("data", [b"\x80\x00", b"\x00" * 12, b"\x90\x00" + b"\x00" * 10])
    def test_malformed(self, data: bytes) -> None:
        with pytest.raises(ValueError):
            parse_header(data)

    def test_rtcp_is_recognized(self) -> None:
        # RFC 5761 §4: sender report, PT 200.
        assert is_rtcp(bytes([0x80, 200]) + b"\x00" * 6)

    def test_sequence_rewrite(self) -> None:
        packet = build_packet(
            payload_type=0, marker=False, sequence_number=1, timestamp=5, ssrc=9, payload=b"x"
        )
        rewritten = with_sequence_number(packet, 0x1234)
        assert parse_header(rewritten).sequence_number == 0x1234
        assert rewritten[4:] == packet[4:]


class TestSequenceCompactor:
    def test_closes_gaps_left_by_removed_packets(self) -> None:
        compactor = SequenceCompactor()
        assert compactor.map(10) == 10
        compactor.remove(11)
        compactor.remove(12)
        assert compactor.map(13) == 11
        # a late packet from before the removed ones keeps its number
        assert compactor.map(9) == 9

    def test_wraparound(self) -> None:
        compactor = SequenceCompactor()
        compactor.remove(65535)
        assert compactor.map(0) == 65535
        assert compactor.map(1) == 0

    def test_window(self) -> None:
        compactor = SequenceCompactor()
        for seq in range(100):
            compactor.remove(seq)
        assert compactor.map(100) == 0
