"""Registration monitor: stay registered and log every change of state.

Prints one line per connection and registration event, with the time, until
Ctrl-C or --duration seconds. Exit code 0 when the UA was registered at the
end, 1 otherwise (a monitoring system can alert on it).

    python examples/registration_monitor.py --uri sip:alice@example.com \\
        --ws wss://sip.example.com --password secret --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time

import websip


def log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


async def monitor(args: argparse.Namespace) -> int:
    ua = websip.UA(
        uri=args.uri,
        ws_servers=args.ws,
        password=args.password or os.environ.get("WEBSIP_PASSWORD"),
        register_expires=args.expires,
    )
    ua.on("connecting", lambda e: log(f"connecting to {e.server} (attempt {e.attempts})"))
    ua.on("connected", lambda e: log(f"connected to {e.server}"))
    ua.on("disconnected", lambda e: log(f"disconnected from {e.server}: {e.reason}"))
    ua.on(
        "registered",
        lambda e: log(f"registered ({e.response.status_code} {e.response.reason_phrase})"),
    )
    ua.on("unregistered", lambda e: log(f"unregistered ({e.cause or 'by us'})"))
    ua.on("registration_failed", lambda e: log(f"registration failed: {e.cause}"))
    try:
        await ua.start(timeout=10)
    except (websip.TransportError, websip.RequestError) as exc:
        log(f"cannot register: {exc}")
        return 1
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), args.duration)
        registered = ua.is_registered()
        log("still registered" if registered else "NOT registered")
        return 0 if registered else 1
    finally:
        await ua.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True, help="sip:alice@example.com")
    parser.add_argument("--ws", required=True, action="append", help="ws:// or wss:// URL")
    parser.add_argument("--password", help="or $WEBSIP_PASSWORD")
    parser.add_argument("--expires", type=int, default=600, help="registration expiry (s)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(monitor(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
