"""Tone caller: call someone, play a tone, and say what came back.

Sends a sine tone for --duration seconds, then hangs up and prints the
dominant frequency of what the other side sent (an echo service sends the
same tone back). Exit code 0 when the call was established, 1 otherwise.

    python examples/tone_caller.py --uri sip:alice@example.com \\
        --ws wss://sip.example.com --password secret --target echo --frequency 440
"""

from __future__ import annotations

import argparse
import asyncio
import os

import numpy as np

import websip
from websip.media import AiortcMediaHandler, PcmSink, ToneSource

RATE = 16000


async def call(args: argparse.Namespace) -> int:
    heard = bytearray()
    ear = PcmSink(sample_rate=RATE, callback=heard.extend, max_queued_chunks=0)
    media = AiortcMediaHandler(ToneSource(args.frequency), [ear], ice_addresses=args.ice_address)
    async with websip.UA(
        uri=args.uri,
        ws_servers=args.ws,
        password=args.password or os.environ.get("WEBSIP_PASSWORD"),
    ) as ua:
        session = ua.call(args.target, media=media)
        session.on("progress", lambda e: print("ringing", flush=True))
        try:
            await session.established(timeout=30)
        except websip.RequestError as exc:
            print(f"call failed: {exc.cause}", flush=True)
            return 1
        print("established", flush=True)
        await media.wait_connected(10)
        await asyncio.sleep(args.duration)
        session.terminate()
        print(f"ended: {await session.ended(timeout=5)}", flush=True)
    samples = np.frombuffer(bytes(heard), dtype=np.int16)[-RATE:].astype(np.float64)
    if len(samples) < RATE // 10:
        print("heard nothing", flush=True)
        return 0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0
    print(f"heard {np.argmax(spectrum) * RATE / len(samples):.0f} Hz", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True, help="sip:alice@example.com")
    parser.add_argument("--ws", required=True, action="append", help="ws:// or wss:// URL")
    parser.add_argument("--password", help="or $WEBSIP_PASSWORD")
    parser.add_argument("--target", required=True, help="who to call")
    parser.add_argument("--frequency", type=float, default=440.0, help="Hz (440)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of tone (2)")
    parser.add_argument("--ice-address", action="append", help="e.g. 127.0.0.1 (repeatable)")
    return asyncio.run(call(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
