"""Helpers for the media tests: two handlers joined by passing SDP in-process.

No SIP is involved: the offer of one handler is given to the other as it
would be in an INVITE, the answer comes back as in a 200 OK (the pair idea of
aiortc's tests/utils.py and h11's ConnectionPair). All media is on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from websip.media import AiortcMediaHandler, MediaHandler, PcmSink

LOOPBACK = ["127.0.0.1"]
SINK_RATE = 16000
CHUNK_MS = 20


async def negotiate(
    offerer: MediaHandler, answerer: MediaHandler, offer: bytes | None = None
) -> None:
    """One RFC 3264 exchange: offerer's offer (or ``offer``) -> answer -> applied."""
    if offer is None:
        offer = await offerer.create_offer()
    answer = await answerer.create_answer(offer)
    await offerer.set_remote_answer(answer)


@dataclass
class Party:
    handler: AiortcMediaHandler
    sink: PcmSink
    dtmf: list[tuple[str, int]] = field(default_factory=list)

    def tail(self, chunks: int) -> np.ndarray:
        """The last ``chunks`` chunks queued in the sink, as int16 samples."""
        queued = list(self.sink._queue)[-chunks:]
        return np.frombuffer(b"".join(queued), dtype=np.int16)

    async def received_during(self, seconds: float) -> int:
        before = self.sink.chunks_received
        await asyncio.sleep(seconds)
        return self.sink.chunks_received - before


def dominant_frequency(samples: np.ndarray, rate: int = SINK_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


def addresses_in(sdp: bytes) -> set[str]:
    """Every IPv4/IPv6 literal in an SDP body (c=, o=, candidates, a=rtcp)."""
    found = set()
    for token in re.split(r"[\s/]+", sdp.decode()):
        try:
            found.add(str(ipaddress.ip_address(token)))
        except ValueError:
            continue
    return found


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def udp_sockets() -> list[tuple[str, int]]:
    """Local (address, port) of every UDP socket this process has open.

    Read from /proc: the socket inodes among our file descriptors, looked up
    in the kernel's UDP tables. Linux only.
    """
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, size in (("/proc/self/net/udp", 4), ("/proc/self/net/udp6", 16)):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[9] not in inodes:
                    continue
                hex_address, hex_port = fields[1].split(":")
                # The kernel prints the address as 32-bit words in host order.
                raw = bytes.fromhex(hex_address)
                packed = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))
                found.append((str(ipaddress.ip_address(packed)), int(hex_port, 16)))
    return found
