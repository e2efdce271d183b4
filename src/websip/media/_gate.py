"""The track aiortc's sender reads: the user's source behind mute and hold.

aiortc sends whatever its track returns for as long as the sender runs; it
does not stop sending when a re-negotiation makes the stream recvonly or
inactive, has no mute, and its encoder's resampler breaks if the input format
changes. This track sits between the sender and the source and fixes all
three:

- ``sending = False``: frames are read and dropped, so no RTP goes out
  (RFC 3264 §5.1: recvonly/inactive streams carry no media from us), while
  the source keeps real time and RTP timestamps keep reflecting the clock
  when sending resumes (RFC 3550 §5.1).
- ``muted = True``: silence of the same length goes out instead.
- every source is converted to 48 kHz mono s16 in 20 ms frames, restamped
  with one running pts, so sources can be swapped mid-call.

When the source ends (end of file), silence follows, so the call stays up.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections import deque
from collections.abc import Callable

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from ._convert import Converter, silent_frame
from .sources import SilenceSource

logger = logging.getLogger(__name__)

SAMPLE_RATE = 48000
FRAME_SAMPLES = SAMPLE_RATE * 20 // 1000


class OutboundTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        source: MediaStreamTrack,
        on_source_ended: Callable[[MediaStreamTrack], None] | None = None,
    ) -> None:
        super().__init__()
        self._source = source
        self._fallback: SilenceSource | None = None
        self._on_source_ended = on_source_ended
        self._converter = Converter(sample_rate=SAMPLE_RATE, channels=1, frame_size=FRAME_SAMPLES)
        self._ready: deque[AudioFrame] = deque()
        self._pts = 0
        self.sending = True
        self.muted = False

    @property
    def source(self) -> MediaStreamTrack:
        return self._source

    def set_source(self, source: MediaStreamTrack) -> MediaStreamTrack:
        """Read from ``source`` from the next frame on; return the old one."""
        old, self._source = self._source, source
        if self._fallback is not None:
            self._fallback.stop()
            self._fallback = None
        self._ready.clear()
        return old

    async def recv(self) -> AudioFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            frame = await self._next_frame()
            frame.pts = self._pts
            frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
            self._pts += frame.samples
            if not self.sending:
                # A source that does not pace itself would spin here forever.
                await asyncio.sleep(0)
                continue
            if self.muted:
                return silent_frame(
                    samples=frame.samples, sample_rate=SAMPLE_RATE, channels=1, pts=frame.pts
                )
            return frame

    async def _next_frame(self) -> AudioFrame:
        while not self._ready:
            source: MediaStreamTrack = self._fallback or self._source
            try:
                frame = await source.recv()
            except MediaStreamError:
                if source is self._fallback or self.readyState != "live":
                    raise
                if source is self._source:  # not one swapped out meanwhile
                    self._source_ended(source)
                continue
            if source is not (self._fallback or self._source):
                continue  # swapped out while we waited for it
            if not isinstance(frame, AudioFrame):
                logger.warning("source %r returned %r, not audio; sending silence", source, frame)
                self._source_ended(source)
                continue
            self._ready.extend(self._converter.convert(frame))
        return self._ready.popleft()

    def _source_ended(self, source: MediaStreamTrack) -> None:
        self._fallback = SilenceSource(sample_rate=SAMPLE_RATE)
        if self._on_source_ended is not None:
            try:
                self._on_source_ended(source)
            except Exception:
                logger.exception("on_source_ended callback failed")

    def stop(self) -> None:
        super().stop()
        self._source.stop()
        if self._fallback is not None:
            self._fallback.stop()
