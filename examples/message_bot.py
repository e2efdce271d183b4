"""Message bot: answer every instant message with a message back.

Registers, then for each incoming MESSAGE sends a reply to its sender
("you said: ..."). Stops after --max-messages messages, --duration seconds
or Ctrl-C.

    python examples/message_bot.py --uri sip:bot@example.com \\
        --ws wss://sip.example.com --password secret
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

import websip


async def run_bot(args: argparse.Namespace) -> int:
    done = asyncio.Event()
    handled = 0

    async with websip.UA(
        uri=args.uri,
        ws_servers=args.ws,
        password=args.password or os.environ.get("WEBSIP_PASSWORD"),
    ) as ua:
        print(f"bot ready at {ua.configuration.uri}", flush=True)

        async def on_message(event: websip.NewMessageEvent) -> None:
            nonlocal handled
            if event.originator != "remote":
                return
            message = event.message
            sender = message.remote_identity.uri
            text = message.text
            print(f"from {sender}: {text}", flush=True)
            message.accept()  # the 200 OK goes out before our reply
            try:
                await ua.send_message(sender, f"{args.prefix}{text}")
            except websip.RequestError as exc:
                print(f"reply to {sender} failed: {exc.cause}", flush=True)
            handled += 1
            if args.max_messages is not None and handled >= args.max_messages:
                done.set()

        ua.on("new_message", on_message)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), args.duration)
    print(f"answered {handled} message(s)", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True, help="sip:bot@example.com")
    parser.add_argument("--ws", required=True, action="append", help="ws:// or wss:// URL")
    parser.add_argument("--password", help="or $WEBSIP_PASSWORD")
    parser.add_argument("--prefix", default="you said: ", help="put before the echoed text")
    parser.add_argument("--max-messages", type=int, help="stop after N messages")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_bot(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
