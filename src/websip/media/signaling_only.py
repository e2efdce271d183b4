"""A media handler that negotiates but never sends or receives a packet.

For signaling tests and load generation: thousands of calls cost no sockets,
no threads and no codecs. The SDP is still correct offer/answer (RFC 3264):
codecs are intersected, directions follow hold and unhold (§6.1, §8.4),
the o= version counts (§8), rejected streams get port 0 (§6).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

from . import _rfc4733
from ._sdp import MediaSection, SessionDescription
from .base import DtmfCallback, MediaDirection, MediaError, SdpError

__all__ = ["SignalingOnlyMediaHandler"]

# name -> (payload type we offer, clock rate, channels); RFC 3551 §6 static
# types, RFC 7587 §7 for Opus.
_CODECS: dict[str, tuple[int, int, int]] = {
    "pcmu": (0, 8000, 1),
    "pcma": (8, 8000, 1),
    "g722": (9, 8000, 1),
    "opus": (111, 48000, 2),
}
_TELEPHONE_EVENT_PT = 101  # the classic choice of SIP phones
_WEBRTC_PROTO = "UDP/TLS/RTP/SAVPF"


class SignalingOnlyMediaHandler:
    """Static SDP for a :class:`~websip.media.MediaHandler`-driven session.

    Args:
        address: the address put in c= and o= (no socket is opened on it).
        port: the port put in m= (nothing listens; 9 is "discard").
        codecs: offered codec names, from ``PCMU``, ``PCMA``, ``G722``, ``opus``.
        webrtc: offer ``UDP/TLS/RTP/SAVPF`` with (dummy) ICE and DTLS
            attributes, which a WebRTC peer requires, instead of ``RTP/AVP``.
            Answers always use the offer's profile.
        direction: the direction to offer or answer with at first.
        telephone_event: offer RFC 4733 telephone-event/8000.
        on_dtmf: kept for the protocol; never called, as nothing is received.
    """

    def __init__(
        self,
        *,
        address: str = "127.0.0.1",
        port: int = 9,
        codecs: Sequence[str] = ("PCMU", "PCMA"),
        webrtc: bool = False,
        direction: MediaDirection | str = MediaDirection.SENDRECV,
        telephone_event: bool = True,
        on_dtmf: DtmfCallback | None = None,
    ) -> None:
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be in 1..65535, got {port}")
        if not address or any(c.isspace() for c in address):
            raise ValueError(f"bad address {address!r}")
        if isinstance(codecs, str) or not codecs:
            raise ValueError("codecs is a non-empty list of names, e.g. ['PCMU']")
        for name in codecs:
            if name.lower() not in _CODECS:
                raise ValueError(f"unknown codec {name!r}; known: PCMU, PCMA, G722, opus")
        self.address = address
        self.port = port
        self._codecs = [name.lower() for name in codecs]
        self._webrtc = webrtc
        self._direction = MediaDirection(direction)
        self._agreed_direction = self._direction
        self._telephone_event = telephone_event
        self.on_dtmf: DtmfCallback | None = on_dtmf
        self._muted = False
        self._closed = False
        self._offer_pending = False
        self._remote_sdp: SessionDescription | None = None
        self._last_remote_answer: bytes | None = None
        self._last_body: bytes | None = None
        self._session_id = secrets.randbelow(2**62)
        self._version = secrets.randbelow(2**31)
        # Dummy but well-formed ICE (RFC 8839 §5.4) and DTLS (RFC 8122 §5)
        # credentials: enough for a WebRTC peer to accept the description.
        self._ice_ufrag = secrets.token_hex(4)
        self._ice_pwd = secrets.token_hex(12)
        self._fingerprint = ":".join(f"{b:02X}" for b in secrets.token_bytes(32))

    @property
    def direction(self) -> MediaDirection:
        return self._direction

    @property
    def remote_direction(self) -> MediaDirection | None:
        return self._remote_sdp.audio_direction() if self._remote_sdp else None

    @property
    def is_muted(self) -> bool:
        return self._muted

    async def create_offer(self) -> bytes:
        """The static offer, with the wanted direction and the next o= version."""
        self._check_open()
        self._offer_pending = True
        section = self._media_lines(
            proto=_WEBRTC_PROTO if self._webrtc else "RTP/AVP",
            formats=[(_CODECS[name][0], name) for name in self._codecs],
            telephone_event=_TELEPHONE_EVENT_PT if self._telephone_event else None,
            direction=self._direction,
            setup="actpass",
            mid="0",
        )
        return self._document([section], bundle=self._webrtc)

    async def create_answer(self, offer: bytes) -> bytes:
        """Answer the first audio stream we share a codec with; reject the rest.

        Raises:
            SdpError: unparseable, or no acceptable audio stream (answer 488).
            MediaError: closed, or our own offer is pending (glare).
        """
        self._check_open()
        if self._offer_pending:
            raise MediaError("an offer arrived while ours is pending")
        remote = SessionDescription.parse(offer)
        sections = []
        accepted = False
        mids = []
        for offered in remote.media:
            answer = None
            if offered.kind == "audio" and offered.port != 0 and not accepted:
                answer = self._answer_audio(offered, remote.session_direction)
            if answer is None:
                # RFC 3264 §6: a rejected stream keeps its place, port 0.
                sections.append(f"m={offered.kind} 0 {offered.proto} {offered.formats[0]}")
            else:
                accepted = True
                sections.append(answer)
                mids += offered.attributes("mid")
        if not accepted:
            raise SdpError("no acceptable audio stream in the offer")
        self._remote_sdp = remote
        self._agreed_direction = self._direction
        bundle = any(line.startswith("a=group:BUNDLE") for line in remote.session)
        return self._document(sections, bundle=bundle and bool(mids), bundle_mids=mids)

    def _answer_audio(
        self, offered: MediaSection, session_direction: MediaDirection | None
    ) -> str | None:
        rtpmaps = offered.rtpmaps()
        ours = {(name, rate) for name, (_, rate, _) in _CODECS.items() if name in self._codecs}
        common: list[tuple[int, str]] = []
        for fmt in offered.formats:
            rtpmap = rtpmaps.get(int(fmt)) if fmt.isdigit() else None
            if rtpmap and (rtpmap.encoding.lower(), rtpmap.clock_rate) in ours:
                common.append((rtpmap.payload_type, rtpmap.encoding.lower()))
        if not common:
            return None
        events = [pt for pt, m in offered.telephone_events().items() if m.clock_rate == 8000]
        mid = offered.attributes("mid")
        return self._media_lines(
            proto=offered.proto,
            formats=common,
            telephone_event=events[0] if events and self._telephone_event else None,
            direction=self._direction.answer_to(offered.direction(session_direction)),
            setup="active",
            mid=mid[0] if mid else None,
        )

    async def set_remote_answer(self, answer: bytes) -> None:
        """Record the peer's answer (its direction); nothing else happens."""
        self._check_open()
        if not self._offer_pending and answer == self._last_remote_answer:
            return  # a 2xx repeating the answer of a reliable 18x (RFC 3262)
        if not self._offer_pending:
            raise MediaError("no offer of ours is waiting for an answer")
        remote = SessionDescription.parse(answer)
        if remote.audio() is None:
            raise SdpError("the answer rejected the audio stream")
        self._remote_sdp = remote
        self._last_remote_answer = answer
        self._offer_pending = False
        self._agreed_direction = self._direction

    async def rollback(self) -> None:
        if self._offer_pending:
            self._offer_pending = False
            self._direction = self._agreed_direction

    async def set_direction(self, direction: MediaDirection | str) -> bytes:
        """Ask for ``direction`` and return the offer that says so."""
        self._direction = MediaDirection(direction)
        return await self.create_offer()

    def mute(self) -> None:
        self._muted = True

    def unmute(self) -> None:
        self._muted = False

    async def send_dtmf(
        self, tones: str, duration_ms: int = 100, inter_tone_gap_ms: int = 500
    ) -> None:
        """Validate, then take as long as sending would: nothing is sent."""
        tones = _rfc4733.validate_tones(tones)
        _rfc4733.validate_timing(duration_ms, inter_tone_gap_ms)
        self._check_open()
        total = sum(
            _rfc4733.PAUSE_MS if tone == "," else duration_ms + inter_tone_gap_ms for tone in tones
        )
        await asyncio.sleep(total / 1000)

    async def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError("the media handler is closed")

    def _media_lines(
        self,
        *,
        proto: str,
        formats: list[tuple[int, str]],
        telephone_event: int | None,
        direction: MediaDirection,
        setup: str,
        mid: str | None,
    ) -> str:
        pts = [pt for pt, _ in formats] + ([telephone_event] if telephone_event is not None else [])
        lines = [f"m=audio {self.port} {proto} {' '.join(map(str, pts))}"]
        lines.append(f"c=IN {self._family} {self.address}")
        for pt, name in formats:
            _, rate, channels = _CODECS[name]
            encoding = {"pcmu": "PCMU", "pcma": "PCMA", "g722": "G722", "opus": "opus"}[name]
            suffix = f"/{channels}" if channels != 1 else ""
            lines.append(f"a=rtpmap:{pt} {encoding}/{rate}{suffix}")
        if telephone_event is not None:
            lines.append(f"a=rtpmap:{telephone_event} telephone-event/8000")
            lines.append(f"a=fmtp:{telephone_event} 0-15")
        lines.append("a=ptime:20")
        lines.append(f"a={direction.value}")
        if "SAVPF" in proto or "TLS" in proto:
            if mid is not None:
                lines.append(f"a=mid:{mid}")
            lines += [
                "a=rtcp-mux",
                f"a=ice-ufrag:{self._ice_ufrag}",
                f"a=ice-pwd:{self._ice_pwd}",
                f"a=fingerprint:sha-256 {self._fingerprint}",
                f"a=setup:{setup}",
            ]
        return "\r\n".join(lines)

    @property
    def _family(self) -> str:
        return "IP6" if ":" in self.address else "IP4"

    def _document(
        self, sections: list[str], *, bundle: bool, bundle_mids: Sequence[str] = ("0",)
    ) -> bytes:
        def render(version: int) -> bytes:
            head = [
                "v=0",
                f"o=- {self._session_id} {version} IN {self._family} {self.address}",
                "s=-",
                "t=0 0",
            ]
            if bundle:
                head.append("a=group:BUNDLE " + " ".join(bundle_mids))
            return ("\r\n".join(head + sections) + "\r\n").encode()

        # RFC 3264 §8: the version goes up only when the description changes.
        body = render(self._version)
        if self._last_body is not None and body != self._last_body:
            self._version += 1
            body = render(self._version)
        self._last_body = body
        return body
