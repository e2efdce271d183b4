"""Echo voice bot: answer every call and play back what the caller says.

A line test for WebRTC gateways: the caller hears themself (with --delay-ms of
delay). Stops after --max-calls calls, --duration seconds or Ctrl-C.

    python examples/echo_bot.py --uri sip:echo@example.com \\
        --ws wss://sip.example.com --password secret --delay-ms 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

import websip
from websip.media import AiortcMediaHandler, EchoLink


async def run_bot(args: argparse.Namespace) -> int:
    done = asyncio.Event()
    calls = 0

    async with websip.UA(
        uri=args.uri,
        ws_servers=args.ws,
        password=args.password or os.environ.get("WEBSIP_PASSWORD"),
    ) as ua:

        def on_session(event: websip.NewRTCSessionEvent) -> None:
            if event.originator != "remote":
                return
            session = event.session
            echo = EchoLink(delay_ms=args.delay_ms)
            media = AiortcMediaHandler(echo.source, [echo.sink], ice_addresses=args.ice_address)
            print(f"call from {session.remote_identity.uri}: answering", flush=True)
            session.answer(media=media)
            session.on(
                "new_dtmf",
                lambda e: (
                    print(f"  DTMF {e.tone}", flush=True) if e.originator == "remote" else None
                ),
            )

            def ended(data: object) -> None:
                nonlocal calls
                calls += 1
                print(f"call ended: {getattr(data, 'cause', '')}", flush=True)
                if args.max_calls is not None and calls >= args.max_calls:
                    done.set()

            session.on("ended", ended)
            session.on("failed", ended)

        ua.on("new_rtc_session", on_session)
        print(f"echo bot ready at {ua.configuration.uri}", flush=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), args.duration)
    print(f"answered {calls} call(s)", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True, help="sip:echo@example.com")
    parser.add_argument("--ws", required=True, action="append", help="ws:// or wss:// URL")
    parser.add_argument("--password", help="or $WEBSIP_PASSWORD")
    parser.add_argument("--delay-ms", type=int, default=0, help="echo delay")
    parser.add_argument("--ice-address", action="append", help="e.g. 127.0.0.1 (repeatable)")
    parser.add_argument("--max-calls", type=int, help="stop after N calls")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_bot(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
