"""Call recorder: answer calls and record each one to a WAV file.

Answers every call (sending silence, or a tone with --tone), writes what the
caller sends to DIR/call-N.wav, and prints the file and its length when the
call ends. Stops after --max-calls calls, --duration seconds or Ctrl-C.

    python examples/call_recorder.py --uri sip:voicemail@example.com \\
        --ws wss://sip.example.com --password secret --output-dir recordings
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path

import websip
from websip.media import AiortcMediaHandler, SilenceSource, ToneSource, WavRecorder


async def run(args: argparse.Namespace) -> int:
    folder = Path(args.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    done = asyncio.Event()
    count = 0

    async with websip.UA(
        uri=args.uri,
        ws_servers=args.ws,
        password=args.password or os.environ.get("WEBSIP_PASSWORD"),
    ) as ua:

        def on_session(event: websip.NewRTCSessionEvent) -> None:
            nonlocal count
            if event.originator != "remote":
                return
            count += 1
            session = event.session
            path = folder / f"call-{count}.wav"
            recorder = WavRecorder(path, sample_rate=16000)
            source = ToneSource(args.tone) if args.tone else SilenceSource()
            session.answer(
                media=AiortcMediaHandler(source, [recorder], ice_addresses=args.ice_address)
            )
            print(f"recording call from {session.remote_identity.uri} to {path}", flush=True)

            async def finished(data: object) -> None:
                await asyncio.sleep(0.5)  # the media handler closes the recorder as the call ends
                seconds = recorder.samples_written / recorder.sample_rate
                print(f"saved {path} ({seconds:.1f} s)", flush=True)
                if args.max_calls is not None and count >= args.max_calls:
                    done.set()

            session.on("ended", finished)
            session.on("failed", finished)

        ua.on("new_rtc_session", on_session)
        print(f"recorder ready at {ua.configuration.uri}", flush=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), args.duration)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True, help="sip:voicemail@example.com")
    parser.add_argument("--ws", required=True, action="append", help="ws:// or wss:// URL")
    parser.add_argument("--password", help="or $WEBSIP_PASSWORD")
    parser.add_argument("--output-dir", default="recordings", help="where the WAVs go")
    parser.add_argument("--tone", type=float, help="send a tone (Hz) instead of silence")
    parser.add_argument("--ice-address", action="append", help="e.g. 127.0.0.1 (repeatable)")
    parser.add_argument("--max-calls", type=int, help="stop after N calls")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
