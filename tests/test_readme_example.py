"""The README's Python example runs as written, pointed at the embedded server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import websip
from websip.media import AiortcMediaHandler, ToneSource
from websip.server import Server

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## In Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


async def test_the_readme_example_registers_messages_and_calls(tmp_path: Path) -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 20
    async with Server(users={"alice": "secret", "bob": "bobpw"}) as server:
        bob = websip.UA(
            uri="sip:bob@example.com",
            ws_servers=server.url,
            password="bobpw",
            media_factory=lambda: AiortcMediaHandler(
                ToneSource(880), ice_addresses=["127.0.0.1"]
            ),
        )
        messages: list[str] = []
        sessions: list[websip.RTCSession] = []
        bob.on("new_message", lambda e: messages.append(e.message.text))
        bob.on("new_rtc_session", lambda e: (sessions.append(e.session), e.session.answer()))
        await bob.start()
        # The example as written, with the server's URL, a short wait and the
        # recording in tmp_path; asyncio.run() becomes an await of main().
        code = code.replace("wss://sip.example.com", server.url)
        code = code.replace("asyncio.sleep(10)", "asyncio.sleep(0.5)")
        # Tests put media on loopback only (aioice skips it unless told).
        code = code.replace(
            '[WavRecorder("bob.wav")])',
            f'[WavRecorder({str(tmp_path / "bob.wav")!r})], ice_addresses=["127.0.0.1"])',
        )
        assert "ice_addresses" in code
        code = code.replace("asyncio.run(main())", "")
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)
        main = namespace["main"]
        assert callable(main)
        await asyncio.wait_for(main(), 30)
        await asyncio.sleep(0.2)
        assert messages == ["calling you now"]
        assert sessions and await sessions[0].ended(timeout=5) == websip.causes.BYE
        recording = tmp_path / "bob.wav"
        assert recording.exists() and recording.stat().st_size > 44 + 8000  # header + audio
        await bob.stop()
