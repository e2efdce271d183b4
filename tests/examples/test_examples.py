"""Every script in examples/ runs, against the embedded server and a real Kamailio, and ends."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import websip

pytestmark = pytest.mark.kamailio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def example_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBSIP_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "error"
    return env


def ua_args(kamailio: Any, user: str) -> list[str]:
    return [
        "--uri",
        kamailio.aor(user),
        "--ws",
        kamailio.ws_url,
        "--password",
        kamailio.password(user),
    ]


def test_every_example_is_tested() -> None:
    tested = {
        "registration_monitor.py",
        "message_bot.py",
        "echo_bot.py",
        "tone_caller.py",
        "call_recorder.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_registration_monitor(kamailio: Any) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "registration_monitor.py"),
            *ua_args(kamailio, "alice"),
            "--duration",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        env=example_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.endswith("registered (200 OK)") for line in lines)
    assert lines[-3].endswith("still registered")


async def test_message_bot_replies(kamailio: Any) -> None:
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "message_bot.py"),
        *ua_args(kamailio, "bob"),
        "--max-messages",
        "1",
        "--duration",
        "20",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=example_env(),
    )
    try:
        assert bot.stdout is not None
        ready = await asyncio.wait_for(bot.stdout.readline(), 15)
        assert ready.decode().startswith("bot ready at sip:bob@websip.test")
        async with websip.UA(
            uri=kamailio.aor("alice"),
            ws_servers=kamailio.ws_url,
            password=kamailio.password("alice"),
        ) as alice:
            replies: asyncio.Queue[str] = asyncio.Queue()
            alice.on(
                "new_message",
                lambda e: replies.put_nowait(e.message.text) if e.originator == "remote" else None,
            )
            response = await alice.send_message("bob", "ping ✓")
            assert response.status_code == 200
            assert await asyncio.wait_for(replies.get(), 10) == "you said: ping ✓"
        out, err = await asyncio.wait_for(bot.communicate(), 15)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert bot.returncode == 0, err.decode()
    assert "from sip:alice@websip.test: ping ✓" in out.decode()
    assert "answered 1 message(s)" in out.decode()


LOOPBACK = ["--ice-address", "127.0.0.1"]


async def start_example(name: str, *args: str, ready: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / name),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=example_env(),
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 15)
    assert line.decode().startswith(ready), line
    return process


async def finish(process: asyncio.subprocess.Process) -> str:
    try:
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_tone_caller_and_echo_bot(kamailio: Any) -> None:
    bot = await start_example(
        "echo_bot.py",
        *ua_args(kamailio, "bob"),
        *LOOPBACK,
        "--max-calls",
        "1",
        "--duration",
        "30",
        ready="echo bot ready at sip:bob@websip.test",
    )
    caller = await start_example(
        "tone_caller.py",
        *ua_args(kamailio, "alice"),
        *LOOPBACK,
        "--target",
        "bob",
        "--frequency",
        "440",
        "--duration",
        "1.2",
        ready="ringing",
    )
    caller_out = await finish(caller)
    assert "established" in caller_out and "heard 440 Hz" in caller_out
    bot_out = await finish(bot)
    assert "call from sip:alice@websip.test: answering" in bot_out
    assert "answered 1 call(s)" in bot_out


async def test_call_recorder(kamailio: Any, tmp_path: Path) -> None:
    import wave

    import numpy as np

    recorder = await start_example(
        "call_recorder.py",
        *ua_args(kamailio, "carol"),
        *LOOPBACK,
        "--output-dir",
        str(tmp_path),
        "--max-calls",
        "1",
        "--duration",
        "30",
        ready="recorder ready at sip:carol@websip.test",
    )
    caller = await start_example(
        "tone_caller.py",
        *ua_args(kamailio, "dave"),
        *LOOPBACK,
        "--target",
        "carol",
        "--frequency",
        "500",
        "--duration",
        "1.2",
        ready="ringing",
    )
    assert "established" in await finish(caller)
    out = await finish(recorder)
    assert f"saved {tmp_path / 'call-1.wav'}" in out
    with wave.open(str(tmp_path / "call-1.wav")) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert len(samples) > rate // 2
    tail = samples[-rate // 2 :].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    spectrum[0] = 0
    assert abs(np.argmax(spectrum) * rate / len(tail) - 500) < 10
