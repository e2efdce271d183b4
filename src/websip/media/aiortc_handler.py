"""WebRTC audio for a SIP session, through aiortc.

One ``RTCPeerConnection`` with one audio transceiver: ICE (RFC 8445),
DTLS-SRTP (RFC 5763/5764), rtcp-mux (RFC 5761), BUNDLE (RFC 8843), Opus,
G.722, PCMU and PCMA, plus RFC 4733 telephone-events that aiortc itself does
not know (see ``_aiortc_glue``). SIP needs complete descriptions, so every
offer and answer is returned after ICE gathering has finished (no trickle),
bounded by ``ice_gathering_timeout``.

What this module adds to aiortc, and why:

- ``o=`` keeps one session id and counts versions (RFC 3264 §8); aiortc
  writes a new one every time, which some PBXes take for a new session.
- hold: aiortc keeps sending after a re-negotiation to recvonly/inactive;
  the handler stops the outgoing audio itself (RFC 3264 §5.1, §8.4).
- mute, source swapping and sinks, so that programs deal in PCM only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from av import AudioFrame

from . import _rfc4733
from ._aiortc_glue import RtpTap, restrict_gathering, rollback_local_offer
from ._gate import OutboundTrack
from ._rtp import RtpHeader
from ._sdp import MediaSection, RtpMap, SessionDescription
from .base import AudioSink, DtmfCallback, MediaDirection, MediaError, SdpError
from .sources import SilenceSource

__all__ = ["AiortcMediaHandler", "IceServer"]

logger = logging.getLogger(__name__)

#: What ``ice_servers`` accepts per server: a URL ("stun:host:3478"), a
#: JsSIP/W3C-style mapping ({"urls": ..., "username": ..., "credential": ...})
#: or an aiortc RTCIceServer.
IceServer = str | Mapping[str, Any] | RTCIceServer

# Payload types we offer for telephone-event when nothing was negotiated
# before: the ones browsers use, which keeps traces familiar.
_TELEPHONE_EVENT_PT = {8000: 126, 48000: 110}
# RFC 4733 §7.1.1 fmtp: the DTMF events we send and detect.
_TELEPHONE_EVENT_FMTP = "0-15"
# Codecs aiortc can send, by (lower-case name, clock rate).
_SENDABLE = {("opus", 48000), ("g722", 8000), ("pcmu", 8000), ("pcma", 8000)}


class AiortcMediaHandler:
    """WebRTC audio for one call: a :class:`~websip.media.MediaHandler`.

    Create one per call (a handler is not reusable after :meth:`close`). The
    constructor does no I/O; the peer connection, sockets and tasks come to
    life with the first offer or answer.

    Args:
        source: what to send (a ``MediaStreamTrack``; see ``websip.media.sources``).
            Default: silence.
        sinks: where received audio goes (``websip.media.sinks``).
        direction: the direction to offer or answer with at first.
        ice_servers: STUN/TURN servers. Default: none at all. (aiortc alone
            would use a public Google STUN server; a SIP phone must not
            contact third parties it was not configured with.)
        ice_addresses: the local IP addresses to gather host candidates on,
            e.g. ``["127.0.0.1"]`` for tests. Default: aioice's choice, every
            interface except loopback.
        ice_transport_policy: ``"relay"`` to use TURN candidates only.
        ice_gathering_timeout: seconds to wait for STUN/TURN candidates
            before the offer/answer goes out without them.
        codecs: codec names in order of preference (``"opus"``, ``"G722"``,
            ``"PCMU"``, ``"PCMA"``); default: all, Opus first.
        on_dtmf: see :attr:`on_dtmf`.
        on_source_ended: called with the source when it ends (end of file);
            silence is sent from then on.

    Raises:
        ValueError: a bad argument (unknown codec, bad address, ...).
    """

    def __init__(
        self,
        source: MediaStreamTrack | None = None,
        sinks: Iterable[AudioSink] = (),
        *,
        direction: MediaDirection | str = MediaDirection.SENDRECV,
        ice_servers: Sequence[IceServer] = (),
        ice_addresses: Sequence[str] | None = None,
        ice_transport_policy: Literal["all", "relay"] = "all",
        ice_gathering_timeout: float = 2.0,
        codecs: Sequence[str] | None = None,
        on_dtmf: DtmfCallback | None = None,
        on_source_ended: Callable[[MediaStreamTrack], None] | None = None,
    ) -> None:
        if source is not None and source.kind != "audio":
            raise ValueError(f"source must be an audio track, got kind {source.kind!r}")
        self._source: MediaStreamTrack = source if source is not None else SilenceSource()
        self._sinks: list[AudioSink] = list(sinks)
        self._direction = MediaDirection(direction)
        self._ice_servers = [_ice_server(server) for server in ice_servers]
        self._ice_addresses = _ice_addresses(ice_addresses)
        if ice_transport_policy not in ("all", "relay"):
            raise ValueError(
                f"ice_transport_policy must be 'all' or 'relay', got {ice_transport_policy!r}"
            )
        self._relay_only = ice_transport_policy == "relay"
        if not 0 < ice_gathering_timeout <= 60:
            raise ValueError(
                f"ice_gathering_timeout must be in (0, 60], got {ice_gathering_timeout}"
            )
        self._gathering_timeout = ice_gathering_timeout
        self._codec_preferences = _codec_preferences(codecs)
        self.on_dtmf: DtmfCallback | None = on_dtmf
        """Called with (tone, duration_ms) for each RFC 4733 event received."""
        self.on_connection_state: Callable[[str], None] | None = None
        """Called with aiortc's connection state ("connecting", "connected",
        "failed", "closed") when it changes; "failed" means media is lost."""
        self._on_source_ended = on_source_ended

        self._pc: RTCPeerConnection | None = None
        self._transceiver: RTCRtpTransceiver | None = None
        self._outbound: OutboundTrack | None = None
        self._muted = False
        self._receiving = False
        self._pump: asyncio.Task[None] | None = None
        self._tap = RtpTap(self._on_event_packet)
        self._detector = _rfc4733.DtmfDetector()
        self._dtmf_lock = asyncio.Lock()
        self._negotiation_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._state_changed = asyncio.Event()
        self._closed = False

        # RFC 3264 §5 / RFC 8866 §5.2: one session id, versions counting up.
        self._session_id = secrets.randbelow(2**62)
        self._version = secrets.randbelow(2**31)
        self._local_sdp: SessionDescription | None = None
        self._remote_sdp: SessionDescription | None = None
        self._last_remote_answer: bytes | None = None
        # What we wanted when the last offer/answer completed (for rollback).
        self._agreed_direction = self._direction

    # -- state --------------------------------------------------------------

    @property
    def direction(self) -> MediaDirection:
        return self._direction

    @property
    def remote_direction(self) -> MediaDirection | None:
        return self._remote_sdp.audio_direction() if self._remote_sdp else None

    @property
    def negotiated_direction(self) -> MediaDirection | None:
        """The direction in force after the last completed offer/answer."""
        if self._transceiver is None or self._transceiver.currentDirection is None:
            return None
        return MediaDirection(self._transceiver.currentDirection)

    @property
    def is_muted(self) -> bool:
        return self._muted

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def connection_state(self) -> str:
        """aiortc's connection state: new, connecting, connected, failed, closed."""
        if self._closed:
            return "closed"
        return self._pc.connectionState if self._pc is not None else "new"

    @property
    def peer_connection(self) -> RTCPeerConnection | None:
        """The aiortc peer connection (None before the first offer/answer).

        For statistics and inspection; changing it behind the handler's back
        is not supported.
        """
        return self._pc

    @property
    def source(self) -> MediaStreamTrack:
        return self._source

    @property
    def sinks(self) -> list[AudioSink]:
        return list(self._sinks)

    # -- offer/answer (RFC 3264) --------------------------------------------

    async def create_offer(self) -> bytes:
        """Offer our audio, after ICE gathering (see :meth:`MediaHandler.create_offer`).

        The first call creates the peer connection and binds the sockets.

        Raises:
            MediaError: closed, or aiortc could not build the offer.
        """
        async with self._negotiation_lock:
            pc = self._ensure_pc()
            if pc.signalingState not in ("stable", "have-local-offer"):
                raise MediaError(f"cannot offer in signaling state {pc.signalingState!r}")
            try:
                await pc.setLocalDescription(await pc.createOffer())
            except Exception as exc:
                raise MediaError(f"could not create an offer: {exc}") from exc
            return self._finish_local(pc, offer=True)

    async def create_answer(self, offer: bytes) -> bytes:
        """Apply a WebRTC offer and answer it (see :meth:`MediaHandler.create_answer`).

        Raises:
            SdpError: unparseable, no audio, not WebRTC (no ICE/DTLS), no
                common codec: answer 488.
            MediaError: closed, or our own offer is pending (glare: answer 491).
        """
        async with self._negotiation_lock:
            pc = self._ensure_pc()
            remote = SessionDescription.parse(offer)
            if remote.audio() is None:
                raise SdpError("the offer has no audio stream")
            if pc.signalingState == "have-local-offer":
                # RFC 3264 §4 glare; SIP answers 491 (RFC 3261 §14.2).
                raise MediaError("an offer arrived while ours is pending")
            await self._set_remote(pc, offer, "offer")
            self._remote_sdp = remote
            # Audio only: any other stream in the offer is answered inactive,
            # so that nothing we cannot use is sent to us.
            for transceiver in pc.getTransceivers():
                if transceiver is not self._transceiver:
                    transceiver.direction = MediaDirection.INACTIVE.value
            try:
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                raise SdpError(f"could not answer the offer: {exc}") from exc
            answer = self._finish_local(pc, offer=False)
            self._after_negotiation()
            return answer

    async def set_remote_answer(self, answer: bytes) -> None:
        """Apply the answer to our pending offer; media starts flowing in the
        background (:meth:`wait_connected`). See :meth:`MediaHandler.set_remote_answer`.
        """
        async with self._negotiation_lock:
            pc = self._pc
            if (
                pc is not None
                and pc.signalingState == "stable"
                and answer == self._last_remote_answer
            ):
                return  # a 2xx repeating the answer of a reliable 18x (RFC 3262)
            if pc is None or pc.signalingState != "have-local-offer":
                raise MediaError("no offer of ours is waiting for an answer")
            remote = SessionDescription.parse(answer)
            await self._set_remote(pc, answer, "answer")
            self._remote_sdp = remote
            self._last_remote_answer = answer
            self._after_negotiation()

    async def rollback(self) -> None:
        """Drop our pending offer; the wanted direction returns to the agreed one."""
        async with self._negotiation_lock:
            if self._pc is None or self._pc.signalingState != "have-local-offer":
                return
            rollback_local_offer(self._pc)
            # The offer's wish was not granted: back to the last agreed one.
            self._set_wanted_direction(self._agreed_direction)

    async def set_direction(self, direction: MediaDirection | str) -> bytes:
        """Ask for ``direction`` (hold: sendonly/inactive, unhold: sendrecv) and
        return the offer to send. Outgoing audio stops only once the answer
        agrees (RFC 3264 §8.4); call :meth:`rollback` if the offer is rejected.
        """
        wanted = MediaDirection(direction)
        previous = self._direction
        self._set_wanted_direction(wanted)
        try:
            return await self.create_offer()
        except BaseException:
            self._set_wanted_direction(previous)
            raise

    def _set_wanted_direction(self, direction: MediaDirection) -> None:
        self._direction = direction
        if self._transceiver is not None:
            self._transceiver.direction = direction.value

    async def _set_remote(self, pc: RTCPeerConnection, sdp: bytes, kind: str) -> None:
        try:
            text = sdp.decode("utf-8")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=text, type=kind))
        except Exception as exc:
            # aiortc raises ValueError, KeyError, OperationError ... on SDP it
            # cannot use (no ICE credentials, no common codec, plain RTP/AVP).
            raise SdpError(f"unacceptable SDP {kind}: {exc}") from exc

    def _ensure_pc(self) -> RTCPeerConnection:
        if self._closed:
            raise MediaError("the media handler is closed")
        if self._pc is not None:
            return self._pc
        # Always an explicit configuration: with iceServers=None aiortc adds
        # a public STUN server.
        pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=list(self._ice_servers),
                iceTransportPolicy=(
                    RTCIceTransportPolicy.RELAY if self._relay_only else RTCIceTransportPolicy.ALL
                ),
            )
        )
        outbound = OutboundTrack(self._source, self._source_ended)
        outbound.muted = self._muted
        transceiver = pc.addTransceiver(outbound, direction=self._direction.value)
        if self._codec_preferences:
            transceiver.setCodecPreferences(self._codec_preferences)
        restrict_gathering(
            transceiver.receiver.transport.transport.iceGatherer,
            addresses=self._ice_addresses,
            timeout=self._gathering_timeout,
            relay_only=self._relay_only,
        )
        pc.on("connectionstatechange", self._connection_state_changed)
        self._pc, self._transceiver, self._outbound = pc, transceiver, outbound
        return pc

    def _finish_local(self, pc: RTCPeerConnection, *, offer: bool) -> bytes:
        """Our SDP as it goes on the wire: aiortc's plus o= and telephone-event."""
        sdp = SessionDescription.parse(pc.localDescription.sdp)
        section = sdp.audio()
        if section is not None:
            if offer:
                self._offer_telephone_events(section)
            else:
                self._answer_telephone_events(section)
            ssrcs = section.ssrcs()
            self._tap.local_ssrc = ssrcs[0] if ssrcs else None
        address = (section.connection_address() if section else None) or "0.0.0.0"
        # RFC 3264 §8: the version goes up when the description changes
        # (a session refresh with the same description keeps it).
        previous = self._local_sdp
        sdp.set_origin(self._session_id, self._version, address)
        if previous is not None and previous.to_bytes() != sdp.to_bytes():
            self._version += 1
            sdp.set_origin(self._session_id, self._version, address)
        self._local_sdp = sdp
        self._update_telephone_event_pts()
        return sdp.to_bytes()

    def _offer_telephone_events(self, section: MediaSection) -> None:
        # RFC 4733 §7.1.1; a second format at 48 kHz lets events share Opus's
        # RTP clock (RFC 7874, as browsers do).
        rates = [8000]
        if any(m.encoding.lower() == "opus" for m in section.rtpmaps().values()):
            rates.append(48000)
        negotiated = self._remote_telephone_events()
        used = set(section.formats)
        for rate in rates:
            pt = next((p for p, m in negotiated.items() if m.clock_rate == rate), None)
            if pt is None:
                pt = _TELEPHONE_EVENT_PT[rate]
            if str(pt) in used:
                pt = next(p for p in range(127, 95, -1) if str(p) not in used)
            used.add(str(pt))
            section.add_format(RtpMap(pt, "telephone-event", rate), _TELEPHONE_EVENT_FMTP)

    def _answer_telephone_events(self, section: MediaSection) -> None:
        # RFC 3264 §6.1: answer with a subset of the offered formats, same
        # payload types; telephone-event at a rate one of our codecs uses.
        rates = {m.clock_rate for m in section.rtpmaps().values()} | {8000}
        used = set(section.formats)
        for pt, rtpmap in sorted(self._remote_telephone_events().items()):
            if rtpmap.clock_rate in rates and str(pt) not in used:
                section.add_format(rtpmap, _TELEPHONE_EVENT_FMTP)
                used.add(str(pt))

    def _remote_telephone_events(self) -> dict[int, RtpMap]:
        section = self._remote_sdp.audio() if self._remote_sdp else None
        return section.telephone_events() if section else {}

    def _local_telephone_events(self) -> dict[int, RtpMap]:
        section = self._local_sdp.audio() if self._local_sdp else None
        return section.telephone_events() if section else {}

    def _update_telephone_event_pts(self) -> None:
        # Accept events on our payload types and, leniently, on the peer's.
        self._tap.telephone_event_pts = frozenset(
            self._local_telephone_events() | self._remote_telephone_events()
        )

    def _after_negotiation(self) -> None:
        """Apply the negotiated direction and hook transports and tracks."""
        transceiver = self._transceiver
        assert transceiver is not None and self._outbound is not None
        current = self.negotiated_direction or MediaDirection.INACTIVE
        # RFC 3264 §5.1/§6.1: send only if the stream is sendrecv/sendonly
        # from our side; render received media only if it is recvonly/sendrecv.
        self._outbound.sending = current.sends
        self._receiving = current.receives
        self._agreed_direction = self._direction
        self._tap.attach(transceiver.sender.transport)
        self._update_telephone_event_pts()
        track = transceiver.receiver.track
        if track is not None and self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._pump_audio(track))

    # -- media --------------------------------------------------------------

    def mute(self) -> None:
        """Send silence in place of the source (no renegotiation)."""
        self._muted = True
        if self._outbound is not None:
            self._outbound.muted = True

    def unmute(self) -> None:
        """Send the source again."""
        self._muted = False
        if self._outbound is not None:
            self._outbound.muted = False

    def set_source(self, source: MediaStreamTrack) -> MediaStreamTrack:
        """Send ``source`` from now on, without renegotiation; return the
        previous source, which is not stopped (the caller owns it again)."""
        if source.kind != "audio":
            raise ValueError(f"source must be an audio track, got kind {source.kind!r}")
        if self._closed:
            raise MediaError("the media handler is closed")
        old, self._source = self._source, source
        if self._outbound is not None:
            self._outbound.set_source(source)
        return old

    def add_sink(self, sink: AudioSink) -> None:
        """Also deliver received audio to ``sink`` (closed with the handler)."""
        self._sinks.append(sink)

    def remove_sink(self, sink: AudioSink) -> None:
        """Stop delivering to ``sink``; the caller closes it."""
        self._sinks.remove(sink)

    async def _pump_audio(self, track: MediaStreamTrack) -> None:
        # aiortc queues decoded frames without bound; reading them all, even
        # to drop them, keeps memory flat.
        try:
            while True:
                frame = await track.recv()
                if not self._receiving or not isinstance(frame, AudioFrame):
                    continue
                for sink in list(self._sinks):
                    try:
                        await sink.write(frame)
                    except Exception:
                        logger.exception("audio sink %r failed", sink)
        except MediaStreamError:
            pass

    def _source_ended(self, source: MediaStreamTrack) -> None:
        if self._on_source_ended is not None:
            self._on_source_ended(source)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once ICE and DTLS are up and media can flow.

        Raises:
            MediaError: the connection failed or was closed.
            TimeoutError: not connected within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while self.connection_state != "connected":
                if self.connection_state in ("failed", "closed"):
                    raise MediaError(f"media connection {self.connection_state}")
                self._state_changed.clear()
                await self._state_changed.wait()

    def _connection_state_changed(self) -> None:
        self._state_changed.set()
        if self.on_connection_state is not None:
            try:
                self.on_connection_state(self.connection_state)
            except Exception:
                logger.exception("on_connection_state callback failed")

    # -- DTMF (RFC 4733) ----------------------------------------------------

    async def send_dtmf(
        self, tones: str, duration_ms: int = 100, inter_tone_gap_ms: int = 500
    ) -> None:
        """Send RFC 4733 events on our audio stream; see :meth:`MediaHandler.send_dtmf`.

        Concurrent calls are queued, not interleaved.
        """
        tones = _rfc4733.validate_tones(tones)
        _rfc4733.validate_timing(duration_ms, inter_tone_gap_ms)
        async with self._dtmf_lock:  # events must not overlap (RFC 4733 §2.5.1)
            for index, tone in enumerate(tones):
                if tone == ",":
                    await asyncio.sleep(_rfc4733.PAUSE_MS / 1000)
                    continue
                await self._send_event(_rfc4733.tone_to_event(tone), duration_ms)
                if index + 1 < len(tones) and tones[index + 1] != ",":
                    await asyncio.sleep(inter_tone_gap_ms / 1000)

    def _dtmf_parameters(self) -> tuple[int, int, int]:
        """(payload type, event clock rate, audio clock rate) to send events with."""
        if self._closed:
            raise MediaError("the media handler is closed")
        if self._outbound is None or self._remote_sdp is None:
            raise MediaError("no media negotiated yet")
        if not self._outbound.sending:
            raise MediaError("not sending media (on hold or recvonly)")
        section = self._remote_sdp.audio()
        events = section.telephone_events() if section else {}
        if section is None or not events:
            raise MediaError("the peer did not negotiate telephone-event (RFC 4733)")
        rtpmaps = section.rtpmaps()
        audio_rate: int | None = None
        if self._tap.last_audio is not None and self._tap.last_audio[2] in rtpmaps:
            audio_rate = rtpmaps[self._tap.last_audio[2]].clock_rate
        if audio_rate is None:
            audio_rate = next(
                (
                    m.clock_rate
                    for m in _in_order(section)
                    if (m.encoding.lower(), m.clock_rate) in _SENDABLE
                ),
                8000,
            )
        # RFC 4733 and RFC 7874: events use the audio's clock when the
        # peer allows it; else 8 kHz, the rate every peer accepts.
        by_rate = {m.clock_rate: pt for pt, m in sorted(events.items())}
        rate = (
            audio_rate
            if audio_rate in by_rate
            else (8000 if 8000 in by_rate else next(iter(by_rate)))
        )
        return by_rate[rate], rate, audio_rate

    async def _send_event(self, event: int, duration_ms: int) -> None:
        payload_type, event_rate, audio_rate = self._dtmf_parameters()
        loop = asyncio.get_running_loop()
        start = loop.time()
        # The event starts "now" on the audio's RTP clock: extrapolate from
        # the last audio packet (RFC 4733: one timestamp space per SSRC).
        last = self._tap.last_audio
        if last is not None:
            timestamp = last[0] + round((start - last[1]) * audio_rate)
        else:
            timestamp = secrets.randbits(32)
        plan = _rfc4733.plan_event(event, duration_ms, event_rate)
        interval = _rfc4733.DEFAULT_INTERVAL_MS / 1000
        self._tap.suppress_audio = True
        try:
            for packet in plan:
                delay = start + packet.at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await self._tap.send_event_packet(
                        payload_type=payload_type,
                        marker=packet.marker,
                        timestamp=(timestamp + packet.timestamp_offset) & 0xFFFFFFFF,
                        payload=packet.payload,
                    )
                except ConnectionError as exc:
                    raise MediaError(f"cannot send DTMF: {exc}") from exc
            # The last packet covers one interval; audio resumes after it.
            await asyncio.sleep(interval)
        finally:
            self._tap.suppress_audio = False

    def _on_event_packet(self, header: RtpHeader, payload: bytes) -> None:
        rtpmap = (self._local_telephone_events() | self._remote_telephone_events()).get(
            header.payload_type
        )
        clock_rate = rtpmap.clock_rate if rtpmap else 8000
        for detected in self._detector.feed(
            ssrc=header.ssrc,
            timestamp=header.timestamp,
            marker=header.marker,
            payload=payload,
            clock_rate=clock_rate,
        ):
            self._dispatch_dtmf(detected.tone, detected.duration_ms)

    def _dispatch_dtmf(self, tone: str, duration_ms: int) -> None:
        callback = self.on_dtmf
        if callback is None or self._closed:
            return
        try:
            result = callback(tone, duration_ms)
        except Exception:
            logger.exception("on_dtmf callback failed")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._background.add(task)
            task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("on_dtmf callback failed", exc_info=task.exception())

    # -- shutdown -----------------------------------------------------------

    async def close(self) -> None:
        """Close the peer connection (sockets, DTLS, tasks, decoder thread),
        stop the source and close every sink. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._pc is not None:
            # aioice starts its consent-freshness task when connectivity checks
            # succeed, and aiortc its RTCP tasks when DTLS does, even if the
            # connection was closed meanwhile: a close in the middle would leave
            # them running forever. Let ICE and DTLS finish first (they are quick
            # on a live path).
            for _ in range(_CHECKS_WAIT_STEPS):
                if (
                    self._pc.iceConnectionState != "checking"
                    and self._pc.connectionState != "connecting"
                ):
                    break
                await asyncio.sleep(_CHECKS_WAIT_STEP)
            # Stops the sender (and with it our track and the source), the
            # receiver, DTLS and ICE: every socket and task aiortc started.
            await self._pc.close()
        if self._outbound is not None:
            self._outbound.stop()  # a sender that never started did not stop it
        else:
            self._source.stop()
        self._tap.detach()
        for task in [t for t in (self._pump,) if t is not None] + list(self._background):
            task.cancel()
        for task in [t for t in (self._pump,) if t is not None] + list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._pump = None
        self._background.clear()
        for sink in self._sinks:
            try:
                await sink.close()
            except Exception:
                logger.exception("closing audio sink %r failed", sink)
        self._state_changed.set()

    async def __aenter__(self) -> AiortcMediaHandler:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


_CHECKS_WAIT_STEP = 0.01
_CHECKS_WAIT_STEPS = 300  # at most 3 s


def _in_order(section: MediaSection) -> list[RtpMap]:
    rtpmaps = section.rtpmaps()
    return [rtpmaps[int(f)] for f in section.formats if f.isdigit() and int(f) in rtpmaps]


def _ice_server(server: IceServer) -> RTCIceServer:
    if isinstance(server, RTCIceServer):
        return server
    if isinstance(server, str):
        return RTCIceServer(urls=server)
    if isinstance(server, Mapping):
        urls = server.get("urls", server.get("url"))
        if not urls:
            raise ValueError(f"ICE server without urls: {server!r}")
        return RTCIceServer(
            urls=urls if isinstance(urls, str) else list(urls),
            username=server.get("username"),
            credential=server.get("credential"),
        )
    raise ValueError(f"not an ICE server: {server!r}")


def _ice_addresses(addresses: Sequence[str] | None) -> list[str] | None:
    if addresses is None:
        return None
    if isinstance(addresses, str):
        raise ValueError("ice_addresses is a list of addresses, e.g. ['127.0.0.1']")
    result = []
    for address in addresses:
        try:
            result.append(str(ipaddress.ip_address(address)))
        except ValueError:
            raise ValueError(f"ice_addresses: {address!r} is not an IP address") from None
    if not result:
        raise ValueError("ice_addresses must not be empty (use None for all interfaces)")
    return result


def _codec_preferences(names: Sequence[str] | None) -> list[Any]:
    if names is None:
        return []
    if isinstance(names, str):
        raise ValueError("codecs is a list of names, e.g. ['opus', 'PCMU']")
    capabilities = RTCRtpSender.getCapabilities("audio").codecs
    result = []
    for name in names:
        found = [c for c in capabilities if c.mimeType.split("/")[1].lower() == name.lower()]
        if not found:
            known = sorted({c.mimeType.split("/")[1] for c in capabilities})
            raise ValueError(f"unknown codec {name!r}; known: {', '.join(known)}")
        result.extend(found)
    return result
