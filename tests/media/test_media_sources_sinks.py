"""Sources and sinks on their own: formats, pacing, conversion, end of stream."""

from __future__ import annotations

import asyncio
import fractions
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from websip.media import (
    AudioSink,
    EchoLink,
    FileSource,
    PcmSink,
    PcmSource,
    SilenceSource,
    ToneSource,
    WavRecorder,
)
from websip.media._convert import Converter, frame_from_pcm, frame_to_bytes, pcm_to_bytes
from websip.media._gate import OutboundTrack

from .helpers import dominant_frequency


def samples_of(frame: AudioFrame) -> np.ndarray:
    return np.frombuffer(frame_to_bytes(frame), dtype=np.int16)


def tone(hz: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave_ = np.round(np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)
    return np.repeat(wave_, channels) if channels == 2 else wave_


def opus_like_frame(samples: np.ndarray, pts: int = 0) -> AudioFrame:
    """What aiortc's Opus decoder hands out: 48 kHz stereo s16, 20 ms."""
    return frame_from_pcm(np.repeat(samples, 2).tobytes(), sample_rate=48000, channels=2, pts=pts)


class TestGeneratedSources:
    async def test_tone(self) -> None:
        source = ToneSource(1000, sample_rate=16000, amplitude=0.5)
        frames = [await source.recv() for _ in range(10)]
        assert all(f.sample_rate == 16000 and f.samples == 320 for f in frames)
        assert all(f.format.name == "s16" and f.layout.name == "mono" for f in frames)
        assert [f.pts for f in frames] == [320 * i for i in range(10)]
        assert frames[1].time_base == fractions.Fraction(1, 16000)
        samples = np.concatenate([samples_of(f) for f in frames])
        assert dominant_frequency(samples, 16000) == pytest.approx(1000, abs=5)
        assert abs(int(samples.max()) - 16384) < 50  # amplitude 0.5 of full scale
        # phase-continuous: no discontinuity at frame boundaries
        assert np.max(np.abs(np.diff(samples.astype(int)))) < 7000
        source.stop()
        with pytest.raises(MediaStreamError):
            await source.recv()

    async def test_pacing_is_real_time(self) -> None:
        source = SilenceSource(ptime_ms=20)
        loop = asyncio.get_running_loop()
        await source.recv()
        started = loop.time()
        for _ in range(5):
            frame = await source.recv()
        assert loop.time() - started == pytest.approx(0.1, abs=0.03)
        assert not samples_of(frame).any()

    async def test_stereo(self) -> None:
        frame = await ToneSource(440, channels=2).recv()
        assert frame.layout.name == "stereo"
        pcm = samples_of(frame)
        assert np.array_equal(pcm[0::2], pcm[1::2])

    @pytest.mark.parametrize(
        ("hz", "rate", "channels"), [(440, 48000, 1), (880, 48000, 2), (523.25, 48000, 1)]
    )
    def test_frames_continue_one_sine(self, hz: float, rate: int, channels: int) -> None:
        # Whole-Hz tones slice a precomputed period, others compute each
        # frame; both are the same sine, sample for sample, across frames of
        # any length.
        source = ToneSource(hz, sample_rate=rate, channels=channels)
        per_frame = source.samples_per_frame
        lengths = [per_frame] * 40 + [3 * per_frame + 7, per_frame]
        pcm = np.frombuffer(b"".join(source._generate(n) for n in lengths), dtype=np.int16)
        n = np.arange(sum(lengths))
        expected = np.round(np.sin(2 * np.pi * hz * n / rate) * 0.25 * 32767).astype(np.int16)
        if channels == 2:
            expected = np.repeat(expected, 2)
        assert np.abs(pcm.astype(int) - expected.astype(int)).max() <= 1

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"frequency": 0},
            {"frequency": 30000},
            {"amplitude": 2.0},
            {"sample_rate": 1000},
            {"ptime_ms": 5},
            {"channels": 3},
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            ToneSource(**kwargs)  # type: ignore[arg-type]


class TestPcmSource:
    async def test_push_and_underrun(self) -> None:
        source = PcmSource(sample_rate=8000)
        source.write_nowait(np.arange(240, dtype=np.int16))  # 30 ms
        assert source.buffered_ms == pytest.approx(30)
        first = samples_of(await source.recv())
        second = samples_of(await source.recv())
        assert np.array_equal(first, np.arange(160))
        assert np.array_equal(second[:80], np.arange(160, 240)) and not second[80:].any()
        assert source.underruns == 1
        source.stop()

    async def test_clear_is_barge_in(self) -> None:
        source = PcmSource(sample_rate=8000)
        await source.write(b"\x01\x00" * 8000)
        source.clear()
        assert source.buffered_ms == 0
        assert not samples_of(await source.recv()).any()
        source.stop()

    async def test_write_waits_below_high_water(self) -> None:
        source = PcmSource(sample_rate=8000, high_water_ms=40)
        await source.write(bytes(640))  # 40 ms: at the mark, not above
        blocked = asyncio.ensure_future(source.write(bytes(320)))
        await asyncio.sleep(0.01)
        assert not blocked.done()
        await source.recv()
        await asyncio.wait_for(blocked, 1)
        source.stop()

    @pytest.mark.parametrize("kind", ["sync", "async"])
    async def test_iterable_input_and_drain(self, kind: str) -> None:
        chunks = [np.full(80, i, dtype=np.int16) for i in range(1, 5)]  # 4 x 10 ms

        async def agen() -> AsyncIterator[np.ndarray]:
            for chunk in chunks:
                await asyncio.sleep(0)
                yield chunk

        source = PcmSource(agen() if kind == "async" else iter(chunks), sample_rate=8000)
        frames = [samples_of(await source.recv()) for _ in range(3)]
        played = np.concatenate(frames)
        # In order, nothing lost; silence only before the reader got going.
        assert list(played[played != 0]) == list(np.concatenate(chunks))
        await asyncio.wait_for(source.drain(), 1)
        source.stop()

    async def test_callback_input(self) -> None:
        asked: list[int] = []

        def produce(samples: int) -> bytes:
            asked.append(samples)
            return b"\x07\x00" * (samples + 10)  # more than asked is kept

        source = PcmSource(callback=produce, sample_rate=16000)
        first = samples_of(await source.recv())
        assert asked == [320] and (first == 7).all()
        assert source.buffered_ms == pytest.approx(10 / 16)
        source.stop()

    async def test_stop_cancels_the_reader_of_an_endless_iterator(self) -> None:
        async def endless() -> AsyncIterator[bytes]:
            while True:
                yield bytes(320)

        source = PcmSource(endless(), sample_rate=8000, high_water_ms=20)
        await source.recv()
        feeder = source._feeder
        assert feeder is not None and not feeder.done()
        source.stop()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert feeder.done()

    def test_bad_input(self) -> None:
        with pytest.raises(ValueError):
            PcmSource([b""], callback=lambda n: None)
        with pytest.raises(TypeError):
            PcmSource(b"\x00\x00")  # type: ignore[arg-type]
        source = PcmSource(channels=2)
        with pytest.raises(ValueError):
            source.write_nowait(b"\x00\x00")  # half a stereo sample
        with pytest.raises(TypeError):
            source.write_nowait(np.zeros(4, dtype=np.float32))
        with pytest.raises(TypeError):
            pcm_to_bytes("text", 1)  # type: ignore[arg-type]


class TestFileSource:
    async def test_plays_a_wav_file_then_ends(self, tmp_path: Path) -> None:
        path = tmp_path / "prompt.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(tone(600, 0.2, 8000).tobytes())
        source = FileSource(path)
        samples = []
        with pytest.raises(MediaStreamError):
            while True:
                samples.append(samples_of(await source.recv()))
        pcm = np.concatenate(samples)
        # aiortc's player converts to 48 kHz stereo
        assert len(pcm) == pytest.approx(0.2 * 48000 * 2, rel=0.1)
        assert dominant_frequency(pcm[0::2], 48000) == pytest.approx(600, abs=10)
        await asyncio.wait_for(source.wait_finished(), 1)
        assert source.readyState == "ended"

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(OSError):
            FileSource(tmp_path / "nope.wav")

    async def test_stop_without_playing_releases_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "x.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(bytes(1600))
        source = FileSource(path)
        source.stop()
        assert source.readyState == "ended"


class TestConverter:
    def test_rate_and_layout_change_rebuilds(self) -> None:
        converter = Converter(sample_rate=16000, channels=1)
        out = []
        for i in range(10):
            out += converter.convert(opus_like_frame(tone(440, 0.02, 48000), pts=960 * i))
        # then a G.711-like stream: 8 kHz mono, pts restarting at 0
        for _ in range(10):
            pcm = tone(440, 0.02, 8000).tobytes()
            out += converter.convert(frame_from_pcm(pcm, sample_rate=8000, channels=1, pts=0))
        assert all(f.sample_rate == 16000 and f.layout.name == "mono" for f in out)
        total = sum(f.samples for f in out)
        assert total == pytest.approx(0.4 * 16000, rel=0.1)

    def test_a_frame_already_in_the_wanted_format_passes_through(self) -> None:
        converter = Converter(sample_rate=48000, channels=1, frame_size=960)
        pcm = tone(440, 0.02, 48000).tobytes()
        frames = [frame_from_pcm(pcm, sample_rate=48000, channels=1, pts=0) for _ in range(3)]
        out = [converter.convert(f) for f in frames]
        assert [o[0] for o in out] == frames  # the same objects, not resampled copies
        assert [f.pts for f in frames] == [0, 960, 1920]
        assert frame_to_bytes(out[2][0]) == pcm
        # another format goes through the resampler, then the wanted one passes again
        out8k = converter.convert(
            frame_from_pcm(tone(440, 0.02, 8000).tobytes(), sample_rate=8000, channels=1, pts=0)
        )
        assert all(f.sample_rate == 48000 and f.layout.name == "mono" for f in out8k)
        again = frame_from_pcm(pcm, sample_rate=48000, channels=1, pts=0)
        assert converter.convert(again) == [again]
        # frames of another size are re-framed to frame_size
        halves = [frame_from_pcm(pcm[:960], sample_rate=48000, channels=1, pts=0)] * 2
        reframed = [f for half in halves for f in converter.convert(half)]
        assert [f.samples for f in reframed] == [960]
        assert reframed[0] is not halves[0]


class TestPcmSink:
    async def test_chunks_at_the_requested_format(self) -> None:
        sink = PcmSink(sample_rate=8000, frame_ms=10)
        assert isinstance(sink, AudioSink)
        for i in range(10):  # 200 ms of 48 kHz stereo
            await sink.write(opus_like_frame(tone(300, 0.02, 48000), pts=960 * i))
        await sink.close()
        chunks = [chunk async for chunk in sink]
        assert all(len(chunk) == 160 for chunk in chunks)  # 10 ms of 8 kHz mono s16
        assert len(chunks) == pytest.approx(20, abs=2)
        assert sink.chunks_received == len(chunks)
        pcm = np.frombuffer(b"".join(chunks), dtype=np.int16)
        assert dominant_frequency(pcm, 8000) == pytest.approx(300, abs=15)

    async def test_callbacks_plain_and_async(self) -> None:
        seen: list[int] = []

        async def consume(chunk: bytes) -> None:
            await asyncio.sleep(0)
            seen.append(len(chunk))

        sink = PcmSink(sample_rate=16000, callback=consume, max_queued_chunks=0)
        await sink.write(opus_like_frame(tone(300, 0.02, 48000)))
        await sink.write(opus_like_frame(tone(300, 0.02, 48000), pts=960))
        assert seen and set(seen) == {640}
        await sink.close()
        assert await sink.read() is None  # no queue: iteration ends at once

    async def test_failing_callback_does_not_break_the_sink(self) -> None:
        def boom(chunk: bytes) -> None:
            raise RuntimeError("bot crashed")

        sink = PcmSink(callback=boom)
        await sink.write(opus_like_frame(tone(300, 0.02, 48000)))
        await sink.write(opus_like_frame(tone(300, 0.02, 48000), pts=960))
        assert sink.chunks_received >= 1

    async def test_slow_reader_loses_the_oldest_chunks(self) -> None:
        sink = PcmSink(sample_rate=48000, max_queued_chunks=3)
        for i in range(6):
            await sink.write(opus_like_frame(np.full(960, i, dtype=np.int16), pts=960 * i))
        assert sink.dropped_chunks == sink.chunks_received - 3
        await sink.close()
        assert len([chunk async for chunk in sink]) == 3

    async def test_reader_waits_for_data(self) -> None:
        sink = PcmSink(sample_rate=48000)
        reader = asyncio.ensure_future(sink.read())
        await asyncio.sleep(0.01)
        assert not reader.done()
        await sink.write(opus_like_frame(tone(300, 0.02, 48000)))
        chunk = await asyncio.wait_for(reader, 1)
        assert chunk is not None and len(chunk) == 1920
        await sink.close()
        await sink.write(opus_like_frame(tone(300, 0.02, 48000)))  # ignored once closed

    def test_bad_arguments(self) -> None:
        for kwargs in ({"sample_rate": 100}, {"channels": 0}, {"frame_ms": 1}):
            with pytest.raises(ValueError):
                PcmSink(**kwargs)  # type: ignore[arg-type]


class TestWavRecorder:
    async def test_records_a_valid_wav(self, tmp_path: Path) -> None:
        path = tmp_path / "call.wav"
        recorder = WavRecorder(path, sample_rate=16000)
        for i in range(25):  # 500 ms
            await recorder.write(opus_like_frame(tone(700, 0.02, 48000), pts=960 * i))
        await recorder.close()
        await recorder.close()  # idempotent
        with wave.open(str(path), "rb") as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
            frames = wav.readframes(wav.getnframes())
        assert wav.getnframes() == recorder.samples_written
        assert recorder.samples_written == pytest.approx(8000, rel=0.05)
        pcm = np.frombuffer(frames, dtype=np.int16)
        assert dominant_frequency(pcm, 16000) == pytest.approx(700, abs=10)

    async def test_empty_call_leaves_an_empty_valid_file(self, tmp_path: Path) -> None:
        path = tmp_path / "silent.wav"
        await WavRecorder(path).close()
        with wave.open(str(path), "rb") as wav:
            assert wav.getnframes() == 0


class TestEchoLink:
    async def test_sink_feeds_source(self) -> None:
        echo = EchoLink(delay_ms=20, sample_rate=48000)
        await echo.sink.write(opus_like_frame(np.full(960, 1234, dtype=np.int16)))
        delayed = samples_of(await echo.source.recv())
        echoed = samples_of(await echo.source.recv())
        assert not delayed.any()
        assert (echoed == 1234).all()
        echo.source.stop()

    def test_negative_delay(self) -> None:
        with pytest.raises(ValueError):
            EchoLink(delay_ms=-1)


class TestOutboundTrack:
    """The track between aiortc's sender and the user's source (mute, hold, swap)."""

    async def test_normalizes_mutes_and_holds(self) -> None:
        ended: list[object] = []
        source = PcmSource(sample_rate=8000)
        track = OutboundTrack(source, ended.append)
        source.write_nowait(np.full(8000, 500, dtype=np.int16))
        frame = await track.recv()
        assert (frame.sample_rate, frame.samples, frame.layout.name) == (48000, 960, "mono")
        assert samples_of(frame).max() > 400
        track.muted = True
        assert not samples_of(await track.recv()).any()
        track.muted = False
        # sending=False: frames are consumed and dropped, pts keep counting
        track.sending = False
        pending = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.1)
        assert not pending.done()
        track.sending = True
        resumed = await asyncio.wait_for(pending, 1)
        assert resumed.pts is not None and resumed.pts >= 960 * 5
        track.stop()
        assert source.readyState == "ended"
        assert ended == []

    async def test_source_end_falls_back_to_silence(self) -> None:
        ended: list[object] = []

        class Short(SilenceSource):
            def __init__(self) -> None:
                super().__init__()
                self.left = 2

            async def recv(self) -> AudioFrame:
                if not self.left:
                    raise MediaStreamError
                self.left -= 1
                return await super().recv()

        source = Short()
        track = OutboundTrack(source, ended.append)
        for _ in range(4):
            assert (await track.recv()).samples == 960
        assert ended == [source]
        old = track.set_source(ToneSource(440))
        assert old is source
        assert samples_of(await track.recv()).any()
        track.stop()
