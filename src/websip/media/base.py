"""The contract between a SIP session and whatever carries its media.

The SIP layer treats SDP as opaque bytes (RFC 3261 §13: the body of INVITE,
2xx, ACK, UPDATE, PRACK). Everything that has to read or write SDP, or move
audio, sits behind :class:`MediaHandler`. A session drives it through the
RFC 3264 offer/answer model:

- UAC with an offer in the INVITE: ``create_offer()`` -> send INVITE ->
  ``set_remote_answer(answer)`` on the 2xx (or the reliable 18x).
- UAS, or a UAC that sent an offer-less INVITE: ``create_answer(offer)``.
- Hold/unhold (RFC 3264 §8.4) and other re-offers: ``set_direction(...)``
  returns the new offer; the re-INVITE's answer goes to ``set_remote_answer``.
  If the re-offer is rejected (488, 491 glare) call ``rollback()``: the
  session keeps its previous parameters (RFC 3264 §8).
- ``close()`` when the session ends, whatever the outcome.

This module imports neither aiortc nor av, so the SIP layer (and a
signaling-only install without the ``media`` extra) can depend on it.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from websip.exceptions import WebsipError

if TYPE_CHECKING:
    from av import AudioFrame

__all__ = [
    "AudioSink",
    "DtmfCallback",
    "MediaDirection",
    "MediaError",
    "MediaHandler",
    "SdpError",
]


class MediaError(WebsipError):
    """A media operation could not be done (not negotiated, closed, ...)."""


class SdpError(MediaError, ValueError):
    """An SDP body we cannot parse or cannot accept.

    Attributes:
        status_code: what a UAS answers an INVITE/UPDATE carrying such an
            offer with: 488 Not Acceptable Here (RFC 3261 §21.4.26).
    """

    status_code: int = 488


class MediaDirection(enum.StrEnum):
    """The RFC 3264 §5.1 direction attribute of a media stream.

    A ``StrEnum`` so that it compares equal to the SDP token
    (``MediaDirection.SENDONLY == "sendonly"``).
    """

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """True when this side may send media in this direction."""
        return self in (MediaDirection.SENDRECV, MediaDirection.SENDONLY)

    @property
    def receives(self) -> bool:
        """True when this side expects to receive media."""
        return self in (MediaDirection.SENDRECV, MediaDirection.RECVONLY)

    def reverse(self) -> MediaDirection:
        """The same stream as the other side sees it (sendonly <-> recvonly)."""
        return _REVERSE[self]

    def intersect(self, other: MediaDirection) -> MediaDirection:
        """What both constraints allow: sending only if both allow sending, etc."""
        return MediaDirection.from_flags(
            sends=self.sends and other.sends, receives=self.receives and other.receives
        )

    @classmethod
    def from_flags(cls, *, sends: bool, receives: bool) -> MediaDirection:
        """Build a direction from its two halves."""
        if sends and receives:
            return cls.SENDRECV
        if sends:
            return cls.SENDONLY
        if receives:
            return cls.RECVONLY
        return cls.INACTIVE

    def answer_to(self, offered: MediaDirection) -> MediaDirection:
        """The direction to answer ``offered`` with, ``self`` being our wish.

        RFC 3264 §6.1: sendonly is answered recvonly or inactive, recvonly with
        sendonly or inactive, inactive with inactive, sendrecv with anything.
        """
        return offered.reverse().intersect(self)


_REVERSE = {
    MediaDirection.SENDRECV: MediaDirection.SENDRECV,
    MediaDirection.SENDONLY: MediaDirection.RECVONLY,
    MediaDirection.RECVONLY: MediaDirection.SENDONLY,
    MediaDirection.INACTIVE: MediaDirection.INACTIVE,
}

#: Called with the tone (``"0"``..``"9"``, ``"*"``, ``"#"``, ``"A"``..``"D"``)
#: and its duration in milliseconds, once per RFC 4733 event. It may be a
#: plain function or a coroutine function; coroutines are scheduled, not awaited.
DtmfCallback = Callable[[str, int], Awaitable[None] | None]


@runtime_checkable
class AudioSink(Protocol):
    """Somewhere received audio goes: a recorder, a bot, an echo.

    A handler calls ``write`` with every decoded frame the remote party sends
    while the stream is receiving, and ``close`` once when the call's media ends.
    """

    async def write(self, frame: AudioFrame) -> None:
        """Consume one decoded frame (any rate/layout; the sink converts)."""
        ...

    async def close(self) -> None:
        """Flush and release resources; no ``write`` follows."""
        ...


@runtime_checkable
class MediaHandler(Protocol):
    """What a SIP session needs from its media, with SDP as opaque bytes.

    Implementations: :class:`~websip.media.AiortcMediaHandler` (WebRTC audio)
    and :class:`~websip.media.SignalingOnlyMediaHandler` (static SDP, no media).

    Attributes:
        on_dtmf: called for every RFC 4733 telephone-event received; see
            :data:`DtmfCallback`. None to ignore them.
    """

    on_dtmf: DtmfCallback | None

    @property
    def direction(self) -> MediaDirection:
        """The direction we want (what our next offer or answer will ask for)."""
        ...

    @property
    def remote_direction(self) -> MediaDirection | None:
        """The direction attribute of the last SDP the peer sent, or None.

        A session uses it to tell a remote hold (RFC 3264 §8.4: the peer offers
        sendonly or inactive) from a local one.
        """
        ...

    @property
    def is_muted(self) -> bool:
        """Whether the local audio is replaced by silence."""
        ...

    async def create_offer(self) -> bytes:
        """Build an offer with every ICE candidate in it (no trickle: SIP needs
        the complete description, RFC 8829 §5.2 without trickle ICE).

        Then: send it, and pass the answer to ``set_remote_answer`` (or call
        ``rollback`` if the offer was rejected).
        """
        ...

    async def create_answer(self, offer: bytes) -> bytes:
        """Apply the peer's offer and build the answer.

        Raises:
            SdpError: the offer cannot be parsed or accepted (answer 488).
        """
        ...

    async def set_remote_answer(self, answer: bytes) -> None:
        """Apply the peer's answer to our last offer.

        The same answer again (a 2xx repeating the SDP of a reliable 18x,
        RFC 3262) is ignored.

        Raises:
            MediaError: no offer of ours is waiting for an answer.
            SdpError: the answer cannot be parsed or does not fit the offer.
        """
        ...

    async def rollback(self) -> None:
        """Forget the offer we last created (it was rejected, e.g. 488 or 491);
        the previous negotiated state stays in force (RFC 3264 §8)."""
        ...

    async def set_direction(self, direction: MediaDirection | str) -> bytes:
        """Change the direction we want and return the offer that asks for it.

        Hold is ``sendonly`` (or ``inactive`` if the peer already holds us),
        unhold is ``sendrecv`` (RFC 3264 §8.4). Then: send the offer in a
        re-INVITE or UPDATE and pass the answer to ``set_remote_answer``.
        """
        ...

    def mute(self) -> None:
        """Send silence instead of the source; no renegotiation."""
        ...

    def unmute(self) -> None:
        """Send the source again."""
        ...

    async def send_dtmf(
        self, tones: str, duration_ms: int = 100, inter_tone_gap_ms: int = 500
    ) -> None:
        """Send tones as RFC 4733 telephone-events; returns when all are sent.

        ``tones`` is made of ``0-9 * # A-D`` and ``,`` (a 2 s pause, as JsSIP).

        Raises:
            ValueError: a bad tone or duration.
            MediaError: telephone-event was not negotiated, or we are not
                sending (hold); the session may fall back to SIP INFO.
        """
        ...

    async def close(self) -> None:
        """Stop sending, release sockets, tracks and sinks. Idempotent."""
        ...
