"""RTP fixed header (RFC 3550 §5.1): the few reads and writes DTMF needs.

aiortc has its own RTP classes, but its packets are built inside private
loops; the DTMF tap works on the bytes that cross the transport, so it needs
a parser and a builder of its own. Only plain (already decrypted, not yet
encrypted) RTP goes through here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
_FIXED = struct.Struct("!BBHII")


@dataclass(frozen=True)
class RtpHeader:
    payload_type: int
    marker: bool
    sequence_number: int
    timestamp: int
    ssrc: int
    payload_offset: int
    payload_end: int


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: with rtcp-mux, byte 1 in 192..223 means RTCP (PT 64-95 are
    therefore never used for RTP)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def parse_header(data: bytes) -> RtpHeader:
    """Parse the RTP header of ``data``.

    Raises:
        ValueError: not an RTP version 2 packet, or truncated.
    """
    if len(data) < _FIXED.size:
        raise ValueError("RTP packet shorter than 12 bytes")
    first, second, seq, timestamp, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise ValueError("not RTP version 2")
    offset = _FIXED.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension (RFC 3550 §5.3.1)
        if len(data) < offset + 4:
            raise ValueError("truncated RTP header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last octet counts the padding octets
        end -= data[-1]
    if offset > end:
        raise ValueError("truncated RTP packet")
    return RtpHeader(
        payload_type=second & 0x7F,
        marker=bool(second & 0x80),
        sequence_number=seq,
        timestamp=timestamp,
        ssrc=ssrc,
        payload_offset=offset,
        payload_end=end,
    )


def build_packet(
    *,
    payload_type: int,
    marker: bool,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
) -> bytes:
    """A minimal RTP packet: no CSRC, no extension, no padding."""
    return (
        _FIXED.pack(
            RTP_VERSION << 6,
            (0x80 if marker else 0) | (payload_type & 0x7F),
            sequence_number & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc & 0xFFFFFFFF,
        )
        + payload
    )


def with_sequence_number(data: bytes, sequence_number: int) -> bytes:
    """``data`` with bytes 2-3 replaced (the rest is untouched)."""
    return data[:2] + struct.pack("!H", sequence_number & 0xFFFF) + data[4:]
