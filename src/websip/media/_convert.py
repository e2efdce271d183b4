"""Conversions between av.AudioFrame and 16-bit PCM.

Decoders hand out whatever their codec produces (Opus: 48 kHz stereo, G.711:
8 kHz mono) and sources may use any rate; users of sinks and sources want one
fixed format. PyAV's resampler is set up by its first frame and refuses a
different input afterwards, so :class:`Converter` rebuilds it when the input
changes (a codec change on re-INVITE, a new source).
"""

from __future__ import annotations

import fractions
from typing import Any

import numpy as np
import numpy.typing as npt
from av import AudioFrame
from av.audio.resampler import AudioResampler

PcmInput = bytes | bytearray | memoryview | npt.NDArray[Any]

_LAYOUTS = {1: "mono", 2: "stereo"}


def layout_name(channels: int) -> str:
    try:
        return _LAYOUTS[channels]
    except KeyError:
        raise ValueError(f"channels must be 1 or 2, got {channels}") from None


def pcm_to_bytes(pcm: PcmInput, channels: int) -> bytes:
    """Interleaved 16-bit native-endian PCM as bytes, from bytes or an int16 array.

    Raises:
        TypeError: an array that is not int16.
        ValueError: a byte count that is not a whole number of sample frames.
    """
    if isinstance(pcm, np.ndarray):
        if pcm.dtype != np.int16:
            raise TypeError(f"PCM arrays must be int16, got {pcm.dtype}")
        data = np.ascontiguousarray(pcm).tobytes()
    elif isinstance(pcm, bytes | bytearray | memoryview):
        data = bytes(pcm)
    else:
        raise TypeError(f"PCM must be bytes or a numpy int16 array, got {type(pcm).__name__}")
    if len(data) % (2 * channels):
        raise ValueError(
            f"{len(data)} bytes is not a whole number of {channels}-channel 16-bit samples"
        )
    return data


def frame_from_pcm(data: bytes, *, sample_rate: int, channels: int, pts: int) -> AudioFrame:
    """An s16 packed frame holding ``data``; pts counts samples at ``sample_rate``."""
    array = np.frombuffer(data, dtype=np.int16).reshape(1, -1)
    frame = AudioFrame.from_ndarray(array, format="s16", layout=layout_name(channels))
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, sample_rate)
    return frame


def silent_frame(*, samples: int, sample_rate: int, channels: int, pts: int) -> AudioFrame:
    return frame_from_pcm(
        bytes(2 * channels * samples), sample_rate=sample_rate, channels=channels, pts=pts
    )


def frame_to_bytes(frame: AudioFrame) -> bytes:
    """The PCM of an s16 packed frame, without the plane's alignment padding."""
    channels = len(frame.layout.channels)
    return bytes(frame.planes[0])[: frame.samples * channels * 2]


class Converter:
    """Converts frames of any format to s16 packed at one rate and layout."""

    def __init__(self, *, sample_rate: int, channels: int, frame_size: int | None = None):
        self.sample_rate = sample_rate
        self.channels = channels
        self._layout = layout_name(channels)
        self._frame_size = frame_size
        self._resampler: AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None
        self._next_pts = 0

    def convert(self, frame: AudioFrame) -> list[AudioFrame]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key != self._input:
            # A new input format: whatever the old resampler buffered (a few
            # ms) is dropped rather than mixed with the new stream.
            self._resampler = None
            self._input = key
            self._next_pts = 0
        # The resampler derives output pts from input pts and wants them to
        # grow steadily; sources restart at 0 or have none, so count samples.
        frame.pts = self._next_pts
        frame.time_base = fractions.Fraction(1, frame.sample_rate)
        self._next_pts += frame.samples
        if (
            self._resampler is None
            and key == ("s16", self._layout, self.sample_rate)
            and (self._frame_size is None or frame.samples == self._frame_size)
        ):
            # Already what is wanted (a 48 kHz mono source on its way to the
            # encoder): the resampler would only copy it, at a cost per frame
            # that bench/bench_calls.py shows in the CPU per call.
            return [frame]
        if self._resampler is None:
            self._resampler = AudioResampler(
                format="s16",
                layout=self._layout,
                rate=self.sample_rate,
                frame_size=self._frame_size,
            )
        return list(self._resampler.resample(frame))
