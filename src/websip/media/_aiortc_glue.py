"""Every use of aiortc/aioice internals, in one place.

aiortc has no API for three things a SIP phone needs; each hook below is
per instance (no global monkey-patching, so other aiortc users in the process
and other handlers are unaffected) and names the private attribute it relies
on, so an aiortc upgrade breaks here, loudly, and nowhere else. The test
suite exercises every hook.

1. Local ICE addresses and gathering deadline. aioice gathers host
   candidates on every interface but loopback (``aioice.ice.get_host_addresses``
   skips 127.0.0.1) and waits up to 5 s for STUN/TURN answers. Its
   ``Connection.gather_candidates`` passes the addresses to the connection's
   own public ``get_component_candidates(component, addresses, timeout)``;
   shadowing that method on the one connection instance lets us choose the
   addresses and the timeout. The connection is reached through
   ``RTCIceGatherer._connection``.

2. RFC 4733 telephone-events. aiortc's ``RTCRtpSender`` keeps its RTP
   sequence number in a local variable of its send loop, and its receiver
   drops payload types it does not decode. :class:`RtpTap` shadows
   ``RTCDtlsTransport._send_rtp`` and ``_handle_rtp_data`` on the transport
   instance: outgoing audio packets get their sequence numbers from the tap,
   which can then slip event packets into the same SSRC's sequence (RFC 3550
   §5.1 wants one sequence per SSRC; SRTP's replay window needs it too), and
   incoming telephone-event packets are taken out before aiortc sees them.
   The holes they leave in the sequence are closed again: aiortc's audio
   jitter buffer waits for a missing sequence number until 16 packets have
   piled up, which would cut 300 ms of audio after every digit.

3. Rollback of a rejected offer (RFC 3264 §8): aiortc has no "rollback"
   description type, so :func:`rollback_local_offer` resets the pending
   local description and the signaling state.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCDtlsTransport, RTCIceGatherer, RTCPeerConnection

from ._rtp import RtpHeader, build_packet, is_rtcp, parse_header, with_sequence_number

logger = logging.getLogger(__name__)


def restrict_gathering(
    gatherer: RTCIceGatherer,
    *,
    addresses: list[str] | None,
    timeout: float,
    relay_only: bool = False,
) -> None:
    """Gather host candidates on ``addresses`` only (aioice's choice if None)
    and give STUN/TURN answers ``timeout`` seconds at most.

    Must run before the first ``setLocalDescription`` (gathering happens once).
    With ``relay_only`` (iceTransportPolicy "relay", RFC 8829 §4.1.1) aioice
    passes no host address at all, and that is kept.
    """
    connection: Any = gatherer._connection
    original: Callable[..., Awaitable[list[Any]]] = connection.get_component_candidates
    wanted, deadline = addresses, timeout

    # Same signature as aioice's method, which gather_candidates() calls as
    # get_component_candidates(component=..., addresses=...).
    async def get_component_candidates(
        component: int, addresses: list[str], timeout: float = 5
    ) -> list[Any]:
        chosen = addresses if wanted is None or relay_only else wanted
        return await original(component=component, addresses=chosen, timeout=deadline)

    setattr(connection, "get_component_candidates", get_component_candidates)  # noqa: B010


def rollback_local_offer(pc: RTCPeerConnection) -> None:
    """Return ``pc`` from have-local-offer to stable, keeping the current
    (last negotiated) descriptions: what an SDP "rollback" does in browsers."""
    if pc.signalingState != "have-local-offer":
        return
    pending = "_RTCPeerConnection__pendingLocalDescription"
    if not hasattr(pc, pending):  # setattr would silently create it
        raise RuntimeError("aiortc internals changed: no pending local description")
    setattr(pc, pending, None)
    set_state: Callable[[str], None] = getattr(pc, "_RTCPeerConnection__setSignalingState")  # noqa: B009
    set_state("stable")


def _precedes(a: int, b: int) -> bool:
    """RFC 1982 serial number order of 16-bit sequence numbers."""
    return a != b and (b - a) & 0xFFFF < 0x8000


class SequenceCompactor:
    """Renumbers received packets of one stream as if some had never been sent.

    Works with mild reordering: a packet is shifted down by the number of
    removed packets that precede it, among the last :attr:`WINDOW` removed
    (older ones precede everything still arriving).
    """

    WINDOW = 64

    def __init__(self) -> None:
        self._removed: deque[int] = deque()
        self._older = 0

    def remove(self, sequence_number: int) -> None:
        if len(self._removed) == self.WINDOW:
            self._removed.popleft()
            self._older += 1
        self._removed.append(sequence_number)

    def map(self, sequence_number: int) -> int:
        before = self._older + sum(1 for r in self._removed if _precedes(r, sequence_number))
        return (sequence_number - before) & 0xFFFF


class RtpTap:
    """Shares one RTP sequence between aiortc's audio and our telephone-events.

    Args:
        on_event_packet: called with the header and payload of every received
            packet whose payload type is in ``telephone_event_pts``.
    """

    def __init__(self, on_event_packet: Callable[[RtpHeader, bytes], None]) -> None:
        self._on_event_packet = on_event_packet
        self._transport: RTCDtlsTransport | None = None
        self._send_original: Callable[[bytes], Awaitable[None]] | None = None
        self._recv_original: Callable[[bytes, int], Awaitable[None]] | None = None
        # RFC 3550 §5.1: the initial sequence number is random; like aiortc we
        # stay in the lower half so that SRTP's rollover counter is not
        # needed early (RFC 3711 §3.3.1).
        self._sequence_number = secrets.randbelow(0x8000)
        #: SSRC of our audio (from our SDP's a=ssrc); None until known.
        self.local_ssrc: int | None = None
        #: Payload types that mean telephone-event on receipt.
        self.telephone_event_pts: frozenset[int] = frozenset()
        #: While True, outgoing audio packets are dropped: an event is being
        #: sent in their place (RFC 4733 §3.1: "instead of regular audio").
        self.suppress_audio = False
        #: (RTP timestamp, loop time, payload type) of the last audio packet sent.
        self.last_audio: tuple[int, float, int] | None = None
        self._compactors: dict[int, SequenceCompactor] = {}

    def attach(self, transport: RTCDtlsTransport) -> None:
        if transport is self._transport:
            return
        self.detach()
        self._transport = transport
        self._send_original = transport._send_rtp
        self._recv_original = transport._handle_rtp_data
        setattr(transport, "_send_rtp", self._send_rtp)  # noqa: B010
        setattr(transport, "_handle_rtp_data", self._handle_rtp_data)  # noqa: B010

    def detach(self) -> None:
        if self._transport is not None:
            # Removing the instance attributes uncovers the class's methods.
            vars(self._transport).pop("_send_rtp", None)
            vars(self._transport).pop("_handle_rtp_data", None)
        self._transport = None
        self._send_original = None
        self._recv_original = None

    def _next_sequence_number(self) -> int:
        number = self._sequence_number
        self._sequence_number = (number + 1) & 0xFFFF
        return number

    async def _send_rtp(self, data: bytes) -> None:
        send = self._send_original
        if send is None:
            raise ConnectionError("RTP tap detached")
        if not is_rtcp(data) and self.local_ssrc is not None:
            try:
                header = parse_header(data)
            except ValueError:
                header = None
            if header is not None and header.ssrc == self.local_ssrc:
                if self.suppress_audio:
                    return
                self.last_audio = (
                    header.timestamp,
                    asyncio.get_running_loop().time(),
                    header.payload_type,
                )
                # Numbering and sending with no await in between keeps the
                # wire order equal to the numbering order.
                data = with_sequence_number(data, self._next_sequence_number())
        await send(data)

    async def send_event_packet(
        self, *, payload_type: int, marker: bool, timestamp: int, payload: bytes
    ) -> None:
        """Send one telephone-event packet on our audio SSRC.

        Raises:
            ConnectionError: the transport is not (or no longer) connected.
        """
        send = self._send_original
        if send is None or self.local_ssrc is None:
            raise ConnectionError("no RTP transport yet")
        packet = build_packet(
            payload_type=payload_type,
            marker=marker,
            sequence_number=self._next_sequence_number(),
            timestamp=timestamp,
            ssrc=self.local_ssrc,
            payload=payload,
        )
        await send(packet)

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        receive = self._recv_original
        try:
            header = parse_header(data)
        except ValueError:
            header = None
        if header is None:
            pass
        elif header.payload_type in self.telephone_event_pts:
            self._compactors.setdefault(header.ssrc, SequenceCompactor()).remove(
                header.sequence_number
            )
            try:
                self._on_event_packet(header, data[header.payload_offset : header.payload_end])
            except Exception:
                logger.exception("telephone-event handling failed")
            return
        elif header.ssrc in self._compactors:
            compactor = self._compactors[header.ssrc]
            data = with_sequence_number(data, compactor.map(header.sequence_number))
        if receive is not None:
            await receive(data, arrival_time_ms)
