"""Audio sources: what a call sends.

A source is an aiortc ``MediaStreamTrack`` of kind ``"audio"``: aiortc's
sender calls ``recv()`` in a loop and sends whatever comes back, so the
source itself must set the pace. The sources here make one frame per
``ptime_ms`` in real time (:class:`PacedAudioSource`); any other audio track
(e.g. ``aiortc.contrib.media.MediaPlayer(...).audio``) works too, as long as
it paces itself the same way.

A handler converts every source to one format before encoding, so sources
may use any sample rate, mono or stereo, and may be swapped mid-call
(:meth:`AiortcMediaHandler.set_source`).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import os
from collections.abc import AsyncIterable, Callable, Iterable
from typing import IO

import numpy as np
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from ._convert import PcmInput, frame_from_pcm, layout_name, pcm_to_bytes

__all__ = [
    "FileSource",
    "PacedAudioSource",
    "PcmSource",
    "SilenceSource",
    "ToneSource",
]

logger = logging.getLogger(__name__)

#: If a reader falls this far behind real time (it was paused, the loop was
#: busy), the clock is reset instead of producing a burst to catch up.
_MAX_LAG_S = 0.2


class PacedAudioSource(MediaStreamTrack):
    """Base of generated sources: one frame of ``ptime_ms`` per ``ptime_ms``.

    Subclasses implement :meth:`_generate`. Frames are s16 packed, their pts
    counts samples since the start.

    Args:
        sample_rate: samples per second of the generated audio.
        channels: 1 (mono) or 2 (stereo, interleaved).
        ptime_ms: frame length; 20 ms is what RTP audio uses (RFC 7587 §4.3).
    """

    kind = "audio"

    def __init__(self, *, sample_rate: int, channels: int = 1, ptime_ms: int = 20) -> None:
        super().__init__()
        if not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be in 8000..192000, got {sample_rate}")
        if not 10 <= ptime_ms <= 120:
            raise ValueError(f"ptime_ms must be in 10..120, got {ptime_ms}")
        layout_name(channels)
        self.sample_rate = sample_rate
        self.channels = channels
        self.ptime_ms = ptime_ms
        self.samples_per_frame = sample_rate * ptime_ms // 1000
        self._start: float | None = None
        self._samples_out = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = asyncio.get_running_loop().time()
        if self._start is None:
            self._start = now
        else:
            due = self._start + self._samples_out / self.sample_rate
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > _MAX_LAG_S:
                self._start = now - self._samples_out / self.sample_rate
        if self.readyState != "live":
            raise MediaStreamError
        data = self._generate(self.samples_per_frame)
        frame = frame_from_pcm(
            data, sample_rate=self.sample_rate, channels=self.channels, pts=self._samples_out
        )
        self._samples_out += self.samples_per_frame
        return frame

    @abc.abstractmethod
    def _generate(self, samples: int) -> bytes:
        """Return exactly ``samples`` sample frames of interleaved s16 PCM."""


class SilenceSource(PacedAudioSource):
    """Digital silence: keeps RTP (and NAT bindings, RTCP) flowing with no sound."""

    def __init__(self, *, sample_rate: int = 48000, channels: int = 1, ptime_ms: int = 20):
        super().__init__(sample_rate=sample_rate, channels=channels, ptime_ms=ptime_ms)

    def _generate(self, samples: int) -> bytes:
        return bytes(2 * self.channels * samples)


class ToneSource(PacedAudioSource):
    """A continuous sine wave: test calls, ringback-like prompts, measurements.

    Args:
        frequency: in Hz, below half the sample rate.
        amplitude: peak level as a fraction of full scale (0 < amplitude <= 1).
    """

    def __init__(
        self,
        frequency: float = 440.0,
        *,
        amplitude: float = 0.25,
        sample_rate: int = 48000,
        channels: int = 1,
        ptime_ms: int = 20,
    ) -> None:
        super().__init__(sample_rate=sample_rate, channels=channels, ptime_ms=ptime_ms)
        if not 0 < frequency < sample_rate / 2:
            raise ValueError(f"frequency must be in (0, {sample_rate / 2}), got {frequency}")
        if not 0 < amplitude <= 1:
            raise ValueError(f"amplitude must be in (0, 1], got {amplitude}")
        self.frequency = frequency
        self.amplitude = amplitude
        self._phase = 0.0
        # A whole number of Hz repeats exactly every sample_rate / gcd samples
        # (600 for 440 Hz at 48 kHz): one period plus a frame, computed once,
        # makes every frame a slice. Computing sin() per frame was a visible
        # part of a call's CPU in bench/bench_calls.py.
        self._table: bytes | None = None
        self._period = 0
        self._index = 0
        if float(frequency).is_integer():
            self._period = sample_rate // math.gcd(sample_rate, int(frequency))
            self._table = self._wave(0.0, self._period + self.samples_per_frame)

    def _wave(self, phase: float, samples: int) -> bytes:
        step = 2 * math.pi * self.frequency / self.sample_rate
        wave = np.round(np.sin(phase + step * np.arange(samples)) * self.amplitude * 32767)
        out = wave.astype(np.int16)
        if self.channels == 2:
            out = np.repeat(out, 2)
        return bytes(out.tobytes())

    def _generate(self, samples: int) -> bytes:
        step = 2 * math.pi * self.frequency / self.sample_rate
        if self._table is not None:
            start = self._index
            self._index = (start + samples) % self._period
            if samples <= self.samples_per_frame:
                width = 2 * self.channels
                return self._table[start * width : (start + samples) * width]
            return self._wave(step * start, samples)
        data = self._wave(self._phase, samples)
        self._phase = float((self._phase + step * samples) % (2 * math.pi))
        return data


PcmCallback = Callable[[int], PcmInput | None]


class PcmSource(PacedAudioSource):
    """Audio a program produces as 16-bit PCM: a voice bot's TTS, a mixer, a pipe.

    Three ways to feed it, pick one:

    - push: ``await source.write(pcm)`` (waits while more than
      ``high_water_ms`` is queued) or ``source.write_nowait(pcm)``;
      ``source.clear()`` drops what is queued (barge-in);
    - an iterable or async iterable of chunks given to the constructor, read
      as fast as the queue allows;
    - ``callback(samples)`` called whenever the queue is short of a frame,
      returning up to (or more than) ``samples`` sample frames, or None.

    Chunks are bytes (interleaved native-endian s16) or numpy int16 arrays, of
    any length. When nothing is queued the source sends silence (counted in
    ``underruns``), so the stream never stalls.

    Args:
        pcm: the iterable or async iterable to read, if any.
        sample_rate: the rate of the PCM given (8000, 16000, 24000, 48000, ...).
        channels: 1 or 2 (interleaved).
        callback: the pull function, if any.
        high_water_ms: how much ``write`` lets queue up before it waits.
    """

    def __init__(
        self,
        pcm: AsyncIterable[PcmInput] | Iterable[PcmInput] | None = None,
        *,
        sample_rate: int = 16000,
        channels: int = 1,
        ptime_ms: int = 20,
        callback: PcmCallback | None = None,
        high_water_ms: int = 1000,
    ) -> None:
        super().__init__(sample_rate=sample_rate, channels=channels, ptime_ms=ptime_ms)
        if pcm is not None and callback is not None:
            raise ValueError("give PcmSource an iterable or a callback, not both")
        if isinstance(pcm, bytes | bytearray | str):
            raise TypeError("pcm is an iterable of chunks; use write_nowait() for one chunk")
        self._input = pcm
        self._callback = callback
        self._high_water = high_water_ms * sample_rate // 1000 * channels * 2
        self._buffer = bytearray()
        self._changed = asyncio.Event()
        self._feeder: asyncio.Task[None] | None = None
        self._input_done = pcm is None
        #: Frames sent as (partly) silence because nothing was queued.
        self.underruns = 0

    @property
    def buffered_ms(self) -> float:
        """Milliseconds of audio queued and not yet sent."""
        return len(self._buffer) / (2 * self.channels) * 1000 / self.sample_rate

    def write_nowait(self, pcm: PcmInput) -> None:
        """Queue ``pcm`` to be played after what is already queued."""
        self._buffer += pcm_to_bytes(pcm, self.channels)
        self._notify()

    async def write(self, pcm: PcmInput) -> None:
        """Queue ``pcm``, first waiting until less than ``high_water_ms`` is queued."""
        data = pcm_to_bytes(pcm, self.channels)
        while len(self._buffer) >= self._high_water and self.readyState == "live":
            await self._wait_change()
        self._buffer += data
        self._notify()

    def clear(self) -> None:
        """Drop everything queued (e.g. the caller started to speak)."""
        self._buffer.clear()
        self._notify()

    async def drain(self) -> None:
        """Return once all input has been read and sent (or the source stopped)."""
        self._start_feeder()
        while (self._buffer or not self._input_done) and self.readyState == "live":
            await self._wait_change()

    async def recv(self) -> AudioFrame:
        if self._feeder is None and self._input is not None:
            self._start_feeder()
            await asyncio.sleep(0)  # let the reader queue its first chunk
        return await super().recv()

    def stop(self) -> None:
        if self._feeder is not None:
            self._feeder.cancel()
        super().stop()
        self._notify()

    def _generate(self, samples: int) -> bytes:
        size = samples * self.channels * 2
        if len(self._buffer) < size and self._callback is not None:
            try:
                more = self._callback(samples)
                if more is not None:
                    self._buffer += pcm_to_bytes(more, self.channels)
            except Exception:
                logger.exception("PcmSource callback failed; sending silence")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        if len(data) < size:
            self.underruns += 1
            data += bytes(size - len(data))
        self._notify()
        return data

    def _start_feeder(self) -> None:
        if self._feeder is None and self._input is not None and self.readyState == "live":
            self._feeder = asyncio.get_running_loop().create_task(self._feed(self._input))

    async def _feed(self, pcm: AsyncIterable[PcmInput] | Iterable[PcmInput]) -> None:
        try:
            if isinstance(pcm, AsyncIterable):
                async for chunk in pcm:
                    await self.write(chunk)
            else:
                for chunk in pcm:
                    await self.write(chunk)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("PcmSource input failed; sending silence from now on")
        finally:
            self._input_done = True
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self) -> None:
        await self._changed.wait()


class FileSource(MediaStreamTrack):
    """The audio of a file or stream that FFmpeg reads (WAV, MP3, Ogg, ...).

    A thin wrapper around ``aiortc.contrib.media.MediaPlayer`` that plays the
    first audio stream in real time. At the end of the file (unless ``loop``)
    the track ends; a handler then sends silence and keeps the call up.

    Args:
        file: a path, URL, or binary file object.
        loop: restart at the end (the file must be seekable).
        format: force an FFmpeg input format.
        options: FFmpeg options.

    Raises:
        ValueError: the file has no audio stream.
        av.error.FFmpegError: it cannot be opened (e.g. FileNotFoundError).
    """

    kind = "audio"

    def __init__(
        self,
        file: str | os.PathLike[str] | IO[bytes],
        *,
        loop: bool = False,
        format: str | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        target: str | IO[bytes] = os.fspath(file) if isinstance(file, os.PathLike) else file
        self._player = MediaPlayer(target, format=format, options=options, loop=loop)
        track = self._player.audio
        if track is None:
            if self._player.video is not None:
                self._player.video.stop()
            raise ValueError(f"no audio stream in {file!r}")
        self._track: MediaStreamTrack = track
        self._finished = asyncio.Event()

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            frame = await self._track.recv()
        except MediaStreamError:
            self.stop()
            raise
        assert isinstance(frame, AudioFrame)
        return frame

    async def wait_finished(self) -> None:
        """Return once the file has played to its end (or the source stopped)."""
        await self._finished.wait()

    def stop(self) -> None:
        # Stopping the player's track stops its decoding thread and closes the
        # container (a file descriptor), even if playback never started.
        self._track.stop()
        self._finished.set()
        super().stop()
