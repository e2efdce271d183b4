"""RFC 4733 telephone-events for DTMF: payload, send schedule, detection.

Pure: no sockets, no clock. The aiortc glue turns a schedule into packets at
the right times, and feeds received payloads to :class:`DtmfDetector`.

Payload (RFC 4733 §2.3)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     event     |E|R| volume    |          duration             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

# RFC 4733 §3.2 table 3: DTMF named events.
_EVENT_CODES = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
}
_TONES = {code: tone for tone, code in _EVENT_CODES.items()}

#: A "," in a tone string is a pause of this length (JsSIP's convention).
PAUSE_MS = 2000
#: Bounds on tone duration and gap, from JsSIP (RTCSession/DTMF.js): shorter
#: tones are not reliably detected by gateways, longer ones block the call.
MIN_DURATION_MS = 40
MAX_DURATION_MS = 6000
MIN_GAP_MS = 40
#: RFC 4733 §2.5.1.2: updates at the packetization interval of the audio.
DEFAULT_INTERVAL_MS = 20
#: RFC 4733 §2.3.4: volume is -dBm0 (0..63); 10 is the usual choice.
DEFAULT_VOLUME = 10
_MAX_DURATION_FIELD = 0xFFFF  # RFC 4733 §2.5.1.3: longer events are segmented
_FINAL_REPEATS = 3  # RFC 4733 §2.5.1.4


def tone_to_event(tone: str) -> int:
    """The event code of a DTMF tone (case-insensitive)."""
    try:
        return _EVENT_CODES[tone.upper()]
    except KeyError:
        raise ValueError(f"not a DTMF tone: {tone!r}") from None


def event_to_tone(event: int) -> str | None:
    """The DTMF tone of an event code, None for other events (flash, ...)."""
    return _TONES.get(event)


def validate_tones(tones: str) -> str:
    """Normalize a tone string (upper case) or raise ValueError naming the culprit."""
    if not isinstance(tones, str) or not tones:
        raise ValueError(f"tones must be a non-empty string, got {tones!r}")
    for tone in tones:
        if tone != "," and tone.upper() not in _EVENT_CODES:
            raise ValueError(f"invalid DTMF tone {tone!r} in {tones!r}")
    return tones.upper()


def validate_timing(duration_ms: int, inter_tone_gap_ms: int) -> None:
    if not MIN_DURATION_MS <= duration_ms <= MAX_DURATION_MS:
        raise ValueError(
            f"duration_ms must be in {MIN_DURATION_MS}..{MAX_DURATION_MS}, got {duration_ms}"
        )
    if inter_tone_gap_ms < MIN_GAP_MS:
        raise ValueError(f"inter_tone_gap_ms must be >= {MIN_GAP_MS}, got {inter_tone_gap_ms}")


@dataclass(frozen=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int  # in RTP timestamp units


def encode_event(event: TelephoneEvent) -> bytes:
    return struct.pack(
        "!BBH", event.event, (0x80 if event.end else 0) | (event.volume & 0x3F), event.duration
    )


def decode_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise ValueError("telephone-event payload shorter than 4 bytes")
    code, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(
        event=code, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration
    )


@dataclass(frozen=True)
class PlannedPacket:
    """One packet of an event: when to send it and what it carries."""

    at: float  # seconds after the event starts
    timestamp_offset: int  # added to the event's start RTP timestamp
    marker: bool
    payload: bytes


def plan_event(
    event: int,
    duration_ms: int,
    clock_rate: int,
    interval_ms: int = DEFAULT_INTERVAL_MS,
    volume: int = DEFAULT_VOLUME,
) -> list[PlannedPacket]:
    """The packets that signal one event of ``duration_ms``.

    RFC 4733 §2.5.1.2: one packet per interval, all with the event's start
    timestamp and a growing duration, the first with the marker bit;
    §2.5.1.4: the final packet (E bit) three times; §2.5.1.3: past 0xFFFF
    timestamp units a new segment starts at start + 0xFFFF, without marker.
    """
    total = max(1, round(duration_ms * clock_rate / 1000))
    step = max(1, round(interval_ms * clock_rate / 1000))
    packets: list[PlannedPacket] = []
    segment = 0  # start of the current segment, in ticks after the event start

    def add(at_ticks: int, covered: int, end: bool) -> None:
        nonlocal segment
        while covered - segment > _MAX_DURATION_FIELD:
            # Close the full segment, then continue in a new one.
            packets.append(
                PlannedPacket(
                    at=(segment + _MAX_DURATION_FIELD - step) / clock_rate,
                    timestamp_offset=segment,
                    marker=not packets,
                    payload=encode_event(TelephoneEvent(event, False, volume, _MAX_DURATION_FIELD)),
                )
            )
            segment += _MAX_DURATION_FIELD
        packets.append(
            PlannedPacket(
                at=at_ticks / clock_rate,
                timestamp_offset=segment,
                marker=not packets,
                payload=encode_event(TelephoneEvent(event, end, volume, covered - segment)),
            )
        )

    # An update at t = (k - 1) * step covers the event up to k * step, like an
    # audio packet covering its packetization interval.
    k = 1
    while k * step < total:
        add((k - 1) * step, k * step, end=False)
        k += 1
    for repeat in range(_FINAL_REPEATS):
        add((k - 1 + repeat) * step, total, end=True)
    return packets


@dataclass(frozen=True)
class DetectedTone:
    tone: str
    duration_ms: int


@dataclass
class _Ongoing:
    timestamp: int
    event: int
    duration: int
    carried: int  # duration of earlier segments of the same event
    clock_rate: int


class DtmfDetector:
    """Turns received telephone-event packets into one report per event.

    Updates and the three final packets share one timestamp (RFC 4733 §2.5.1),
    so an event is reported once: on its first E packet, or when a packet with
    another timestamp shows the end packets were lost. Timestamps of reported
    events are remembered so that late retransmissions are ignored.
    """

    def __init__(self) -> None:
        self._ongoing: dict[int, _Ongoing] = {}
        self._done: dict[int, deque[int]] = {}

    def feed(
        self, *, ssrc: int, timestamp: int, marker: bool, payload: bytes, clock_rate: int
    ) -> list[DetectedTone]:
        try:
            event = decode_event(payload)
        except ValueError:
            return []
        done = self._done.setdefault(ssrc, deque(maxlen=16))
        if timestamp in done:
            return []
        result: list[DetectedTone] = []
        carried = 0
        current = self._ongoing.get(ssrc)
        if current is not None and current.timestamp != timestamp:
            continues = (
                not marker
                and current.event == event.event
                and timestamp == (current.timestamp + current.duration) & 0xFFFFFFFF
            )
            if continues:  # RFC 4733 §2.5.1.3 next segment of a long event
                carried = current.carried + current.duration
                done.append(current.timestamp)
            else:
                result += self._report(ssrc, current)
            del self._ongoing[ssrc]
            current = None
        if current is None:
            current = _Ongoing(timestamp, event.event, event.duration, carried, clock_rate)
            self._ongoing[ssrc] = current
        current.duration = max(current.duration, event.duration)
        if event.end:
            del self._ongoing[ssrc]
            result += self._report(ssrc, current)
        return result

    def flush(self) -> list[DetectedTone]:
        """Report events whose end packets never came (call at the end)."""
        result: list[DetectedTone] = []
        for ssrc, current in list(self._ongoing.items()):
            result += self._report(ssrc, current)
        self._ongoing.clear()
        return result

    def _report(self, ssrc: int, event: _Ongoing) -> list[DetectedTone]:
        self._done.setdefault(ssrc, deque(maxlen=16)).append(event.timestamp)
        tone = event_to_tone(event.event)
        if tone is None:
            return []
        duration_ms = round((event.carried + event.duration) * 1000 / event.clock_rate)
        return [DetectedTone(tone, duration_ms)]
