"""Audio sinks: where a call's received audio goes.

A sink implements :class:`~websip.media.base.AudioSink` (``write(frame)``,
``close()``); a handler writes every decoded frame of the remote party to each
of its sinks while the stream is receiving, and closes them when the call's
media ends. Decoded frames come in the codec's format (Opus: 48 kHz stereo,
G.711: 8 kHz mono); the sinks here convert them to what their user asked for.

Gaps are not filled: while the peer sends nothing (hold, packet loss), sinks
get nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import wave
from collections import deque
from collections.abc import Awaitable, Callable

from av import AudioFrame

from ._convert import Converter, frame_to_bytes, layout_name
from .sources import PcmSource

__all__ = ["EchoLink", "PcmSink", "WavRecorder"]

logger = logging.getLogger(__name__)

PcmSinkCallback = Callable[[bytes], Awaitable[None] | None]


class PcmSink:
    """Received audio as fixed-size chunks of 16-bit PCM, for programs (bots, ASR).

    Read it either way (or both):

    - ``async for chunk in sink:`` yields ``bytes`` of ``frame_ms`` of
      interleaved native-endian s16 at ``sample_rate``; the loop ends when the
      call's media ends. ``numpy.frombuffer(chunk, numpy.int16)`` makes an array.
    - ``callback(chunk)``, a plain or async function, called for every chunk in
      order (an async one is awaited, so a slow callback slows this sink only).

    If the iterator is not read fast enough, the oldest chunks are dropped
    beyond ``max_queued_chunks`` (counted in ``dropped_chunks``) so that memory
    stays bounded during a long call.

    Args:
        sample_rate: the rate you want (8000 and 16000 suit speech engines).
        channels: 1 or 2.
        frame_ms: the chunk length (10, 20 and 30 ms suit voice activity detectors).
        callback: optional consumer of each chunk.
        max_queued_chunks: bound of the iterator's queue; 0 disables the queue
            (for callback-only use).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        channels: int = 1,
        frame_ms: int = 20,
        callback: PcmSinkCallback | None = None,
        max_queued_chunks: int = 500,
    ) -> None:
        layout_name(channels)
        if not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be in 8000..192000, got {sample_rate}")
        if not 5 <= frame_ms <= 1000:
            raise ValueError(f"frame_ms must be in 5..1000, got {frame_ms}")
        self.sample_rate = sample_rate
        self.channels = channels
        self.frame_ms = frame_ms
        self.chunk_bytes = sample_rate * frame_ms // 1000 * channels * 2
        self._callback = callback
        self._max_queued = max_queued_chunks
        self._converter = Converter(sample_rate=sample_rate, channels=channels)
        self._pending = bytearray()
        self._queue: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self._closed = False
        #: Chunks delivered (to the callback and/or the queue) so far.
        self.chunks_received = 0
        #: Chunks dropped because the iterator was not read in time.
        self.dropped_chunks = 0

    async def write(self, frame: AudioFrame) -> None:
        if self._closed:
            return
        for converted in self._converter.convert(frame):
            self._pending += frame_to_bytes(converted)
        while len(self._pending) >= self.chunk_bytes:
            chunk = bytes(self._pending[: self.chunk_bytes])
            del self._pending[: self.chunk_bytes]
            await self._deliver(chunk)

    async def _deliver(self, chunk: bytes) -> None:
        self.chunks_received += 1
        if self._max_queued:
            if len(self._queue) >= self._max_queued:
                self._queue.popleft()
                self.dropped_chunks += 1
            self._queue.append(chunk)
            self._readable.set()
        if self._callback is not None:
            try:
                result = self._callback(chunk)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("PcmSink callback failed")

    async def close(self) -> None:
        """End the iteration (after the chunks already queued). Idempotent."""
        self._closed = True
        self._readable.set()

    async def read(self) -> bytes | None:
        """The next chunk, waiting for it; None once closed and drained."""
        while not self._queue:
            if self._closed:
                return None
            self._readable.clear()
            await self._readable.wait()
        return self._queue.popleft()

    def __aiter__(self) -> PcmSink:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read()
        if chunk is None:
            raise StopAsyncIteration
        return chunk


class WavRecorder:
    """Records received audio to a WAV file (16-bit PCM).

    The file is complete (its header has the right sizes) once ``close()`` has
    run, which the handler does when the call's media ends.

    Args:
        path: the file to create (overwritten).
        sample_rate: 8000 is enough for G.711 calls, 48000 keeps Opus wideband.
        channels: 1 or 2.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, sample_rate: int = 48000, channels: int = 1
    ) -> None:
        layout_name(channels)
        self.path = os.fspath(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self._converter = Converter(sample_rate=sample_rate, channels=channels)
        self._wav: wave.Wave_write | None = None
        self._closed = False
        #: Sample frames written so far.
        self.samples_written = 0

    def _open(self) -> wave.Wave_write:
        if self._wav is None:
            # Open across many writes, closed in close(): no context manager.
            wav = wave.open(self.path, "wb")  # noqa: SIM115
            wav.setnchannels(self.channels)
            wav.setsampwidth(2)
            wav.setframerate(self.sample_rate)
            self._wav = wav
        return self._wav

    async def write(self, frame: AudioFrame) -> None:
        if self._closed:
            return
        wav = self._open()
        for converted in self._converter.convert(frame):
            data = frame_to_bytes(converted)
            # WAV is little-endian (RIFF); so is every platform aiortc runs on.
            wav.writeframesraw(data)
            self.samples_written += converted.samples

    async def close(self) -> None:
        """Finish the file; a call that received nothing still leaves a valid WAV."""
        if self._closed:
            return
        self._closed = True
        self._open().close()
        self._wav = None


class EchoLink:
    """Plays back what it receives: a sink wired to a source.

    ``AiortcMediaHandler(source=echo.source, sinks=[echo.sink])`` answers a
    call with its own audio, ``delay_ms`` later: a line test, or the
    ``websip`` CLI's echo mode.
    """

    def __init__(self, *, delay_ms: int = 0, sample_rate: int = 48000) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        self.source = PcmSource(sample_rate=sample_rate, high_water_ms=max(1000, 2 * delay_ms))
        if delay_ms:
            self.source.write_nowait(bytes(sample_rate * delay_ms // 1000 * 2))
        self.sink = PcmSink(
            sample_rate=sample_rate,
            callback=self._loop_back,
            max_queued_chunks=0,
        )

    def _loop_back(self, chunk: bytes) -> None:
        self.source.write_nowait(chunk)
