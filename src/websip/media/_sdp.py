"""Just enough SDP (RFC 8866, formerly RFC 4566) to edit what aiortc emits.

aiortc builds and parses the WebRTC SDP itself; this module only does what it
does not: keep the o= line stable across re-offers (RFC 3264 §8), advertise
telephone-event (RFC 4733 §7), read directions and candidates, and build the
static SDP of the signaling-only handler. It works on lines and keeps every
line it does not understand untouched, so what aiortc wrote survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .base import MediaDirection, SdpError

# RFC 8866 §5: "<type>=<value>", type one lowercase letter. Anything else is
# not SDP. The line size limit keeps a hostile body from costing much.
_LINE = re.compile(r"[a-z]=[^\r\n]*")
MAX_SDP_SIZE = 64 * 1024

# RFC 3551 §6: static payload types a peer may use without an rtpmap.
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
}

_DIRECTIONS = frozenset(d.value for d in MediaDirection)


@dataclass(frozen=True)
class RtpMap:
    """One ``a=rtpmap`` (RFC 8866 §6.6): encoding name, clock rate, channels."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    @property
    def is_telephone_event(self) -> bool:
        return self.encoding.lower() == "telephone-event"


@dataclass(frozen=True)
class Candidate:
    """The address part of one ``a=candidate`` (RFC 8839 §5.1)."""

    address: str
    port: int
    type: str


@dataclass
class MediaSection:
    """An m= line and the lines up to the next one."""

    lines: list[str]

    @property
    def _m(self) -> list[str]:
        return self.lines[0][2:].split()

    @property
    def kind(self) -> str:
        return self._m[0]

    @property
    def port(self) -> int:
        return int(self._m[1].split("/")[0])

    @property
    def proto(self) -> str:
        return self._m[2]

    @property
    def formats(self) -> list[str]:
        return self._m[3:]

    def attributes(self, name: str) -> list[str]:
        """Values of every ``a=name:value`` (or "" for a flag ``a=name``)."""
        return _attributes(self.lines, name)

    def direction(self, session_default: MediaDirection | None = None) -> MediaDirection:
        # RFC 8866 §6.7: a media-level direction overrides the session-level
        # one; with neither, sendrecv is assumed.
        found = _direction(self.lines)
        return found or session_default or MediaDirection.SENDRECV

    def set_direction(self, direction: MediaDirection) -> None:
        kept = [line for line in self.lines[1:] if line[2:] not in _DIRECTIONS]
        self.lines[1:] = [f"a={direction.value}", *kept]

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type -> rtpmap, static types included when listed on the m= line."""
        result: dict[int, RtpMap] = {}
        for fmt in self.formats:
            if fmt.isdigit() and int(fmt) in STATIC_PAYLOAD_TYPES:
                name, rate, channels = STATIC_PAYLOAD_TYPES[int(fmt)]
                result[int(fmt)] = RtpMap(int(fmt), name, rate, channels)
        for value in self.attributes("rtpmap"):
            match = re.fullmatch(r"(\d+) +([^/ ]+)/(\d+)(?:/(\d+))?", value.strip())
            if match is None:
                continue
            pt = int(match.group(1))
            result[pt] = RtpMap(pt, match.group(2), int(match.group(3)), int(match.group(4) or 1))
        return result

    def telephone_events(self) -> dict[int, RtpMap]:
        """Telephone-event formats on the m= line (RFC 4733 §7.1.1)."""
        listed = set(self.formats)
        return {
            pt: rtpmap
            for pt, rtpmap in self.rtpmaps().items()
            if rtpmap.is_telephone_event and str(pt) in listed
        }

    def add_format(self, rtpmap: RtpMap, fmtp: str | None = None) -> None:
        """Append a payload format: to the m= line, plus its rtpmap/fmtp lines
        after the last codec line so that codec descriptions stay together."""
        m = self._m
        m.append(str(rtpmap.payload_type))
        self.lines[0] = "m=" + " ".join(m)
        encoding = f"{rtpmap.encoding}/{rtpmap.clock_rate}"
        if rtpmap.channels != 1:
            encoding += f"/{rtpmap.channels}"
        new = [f"a=rtpmap:{rtpmap.payload_type} {encoding}"]
        if fmtp is not None:
            new.append(f"a=fmtp:{rtpmap.payload_type} {fmtp}")
        last_codec_line = max(
            (
                i
                for i, line in enumerate(self.lines)
                if line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"))
            ),
            default=len(self.lines) - 1,
        )
        self.lines[last_codec_line + 1 : last_codec_line + 1] = new

    def candidates(self) -> list[Candidate]:
        result = []
        for value in self.attributes("candidate"):
            # foundation component transport priority address port "typ" type
            parts = value.split()
            if len(parts) >= 8 and parts[6] == "typ":
                result.append(Candidate(parts[4], int(parts[5]), parts[7]))
        return result

    def ssrcs(self) -> list[int]:
        return sorted({int(v.split()[0]) for v in self.attributes("ssrc") if v[:1].isdigit()})

    def connection_address(self) -> str | None:
        for line in self.lines:
            if line.startswith("c="):
                parts = line[2:].split()
                if len(parts) >= 3:
                    return parts[2].split("/")[0]
        return None


@dataclass
class SessionDescription:
    """A parsed SDP body: session-level lines and media sections."""

    session: list[str]
    media: list[MediaSection] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        """Parse SDP, accepting LF as well as CRLF line ends.

        Raises:
            SdpError: not SDP (no v=0, a line that is not ``x=...``, too large).
        """
        if isinstance(data, bytes):
            if len(data) > MAX_SDP_SIZE:
                raise SdpError(f"SDP body larger than {MAX_SDP_SIZE} bytes")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SdpError(f"SDP is not UTF-8: {exc}") from None
        else:
            text = data
        lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
        if not lines or lines[0] != "v=0":
            raise SdpError("SDP must start with v=0 (RFC 8866 §5.1)")
        for number, line in enumerate(lines, start=1):
            if not _LINE.fullmatch(line):
                raise SdpError(f"SDP line {number} is not <type>=<value>: {line[:40]!r}")
        sdp = cls(session=[])
        for line in lines:
            if line.startswith("m="):
                if len(line[2:].split()) < 4:
                    raise SdpError(f"malformed media line: {line[:60]!r}")
                try:
                    int(line[2:].split()[1].split("/")[0])
                except ValueError:
                    raise SdpError(f"bad port in media line: {line[:60]!r}") from None
                sdp.media.append(MediaSection([line]))
            elif sdp.media:
                sdp.media[-1].lines.append(line)
            else:
                sdp.session.append(line)
        return sdp

    def to_bytes(self) -> bytes:
        lines = list(self.session)
        for section in self.media:
            lines.extend(section.lines)
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    @property
    def session_direction(self) -> MediaDirection | None:
        return _direction(self.session)

    def audio(self) -> MediaSection | None:
        """The first audio section that is not rejected (port 0, RFC 3264 §6)."""
        for section in self.media:
            if section.kind == "audio" and section.port != 0:
                return section
        return None

    def audio_direction(self) -> MediaDirection | None:
        section = self.audio()
        if section is None:
            return None
        return section.direction(self.session_direction)

    def set_origin(self, session_id: int, version: int, address: str) -> None:
        """Rewrite o= (RFC 8866 §5.2) with a stable session id and our version:
        RFC 3264 §8 wants a re-offer's o= identical but for a higher version."""
        family = "IP6" if ":" in address else "IP4"
        origin = f"o=- {session_id} {version} IN {family} {address}"
        for i, line in enumerate(self.session):
            if line.startswith("o="):
                self.session[i] = origin
                return
        self.session.insert(1, origin)


def _attributes(lines: list[str], name: str) -> list[str]:
    prefix = f"a={name}"
    result = []
    for line in lines:
        if line == prefix:
            result.append("")
        elif line.startswith(prefix + ":"):
            result.append(line[len(prefix) + 1 :])
    return result


def _direction(lines: list[str]) -> MediaDirection | None:
    for line in lines:
        if line[2:] in _DIRECTIONS and line.startswith("a="):
            return MediaDirection(line[2:])
    return None
