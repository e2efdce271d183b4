"""Calls from the command line, every party a separate ``websip`` process.

Media is real WebRTC (aiortc) on 127.0.0.1 only (``--ice-address 127.0.0.1``).
"""

from __future__ import annotations

import subprocess
import wave
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import Served
from .helpers import json_lines, websip, websip_popen

LOOPBACK = ["--ice-address", "127.0.0.1"]


def launch_listener(*args: str) -> subprocess.Popen[str]:
    return websip_popen("answer", "--json", *LOOPBACK, *args)


def wait_ready(process: subprocess.Popen[str]) -> subprocess.Popen[str]:
    """Returns once ``websip answer`` is registered and waiting."""
    assert process.stdout is not None
    for line in process.stdout:
        if json_lines(line)[0]["event"] == "ready":
            return process
    _, err = process.communicate(timeout=5)
    raise AssertionError(f"the listener did not get ready: {err}")


def start_listener(*args: str) -> subprocess.Popen[str]:
    return wait_ready(launch_listener(*args))


def finish(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    try:
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    return json_lines(out)


def dominant_frequency(path: Path) -> tuple[float, float]:
    """(frequency of the strongest peak, seconds recorded) of a mono 16-bit WAV."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    tail = samples[-rate // 2 :].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    spectrum[0] = 0
    return float(np.argmax(spectrum) * rate / len(tail)), len(samples) / rate


def test_tone_to_an_echo_comes_back_recorded(served: Served, tmp_path: Path) -> None:
    bob = start_listener("--echo", "--max-calls", "1", "--duration", "20", *served.args("bob"))
    recording = tmp_path / "out.wav"
    call = websip(
        "call",
        "bob",
        "--tone",
        "440",
        "--record",
        str(recording),
        "--duration",
        "1.2",
        "--dtmf",
        "12#",
        *LOOPBACK,
        *served.args("alice"),
    )
    events = finish(bob)
    assert call.returncode == 0, call.stderr
    assert "call with sip:bob@websip.test: established" in call.stdout
    assert "call with sip:bob@websip.test: ended, Terminated (we)" in call.stdout
    frequency, seconds = dominant_frequency(recording)
    assert abs(frequency - 440) < 10 and seconds > 0.8
    tones = [e["tone"] for e in events if e["event"] == "call_new_dtmf"]
    assert "".join(tones) == "12#"
    names = [e["event"] for e in events]
    assert names.index("incoming_call") < names.index("call_confirmed") < names.index("call_ended")


def test_rejected_call(served: Served) -> None:
    bob = start_listener("--reject", "486", "--max-calls", "1", *served.args("bob"))
    call = websip("call", "bob", *LOOPBACK, *served.args("alice"))
    finish(bob)
    assert call.returncode == 5
    lines = call.stderr.strip().splitlines()
    assert lines == [
        "websip: the call to sip:bob@websip.test failed (486 Busy Here).",
        "hint: the peer is busy: try again later",
    ]


def test_call_to_nobody(served: Served) -> None:
    call = websip("call", "nobody", "--no-register", *LOOPBACK, *served.args("alice"))
    assert call.returncode == 5
    assert call.stderr.startswith("websip: the call to sip:nobody@websip.test failed (404")


def test_blind_transfer(served: Served) -> None:
    carol = launch_listener(
        "--tone", "660", "--max-calls", "1", "--duration", "20", *served.args("carol")
    )
    bob = launch_listener("--echo", "--follow-transfers", "--duration", "4", *served.args("bob"))
    wait_ready(carol)
    wait_ready(bob)
    call = websip(
        "call",
        "bob",
        "--transfer-to",
        "carol",
        "--duration",
        "0.3",
        *LOOPBACK,
        *served.args("alice"),
    )
    assert call.returncode == 0, call.stderr
    assert "transfer: 202 Accepted" in call.stdout and "transfer: 200 OK" in call.stdout
    carol_events = finish(carol)
    bob_events = finish(bob)
    transfer = [e for e in bob_events if e["event"] == "transfer"]
    assert transfer and transfer[0]["target"] == "sip:carol@websip.test" and transfer[0]["accepted"]
    incoming = [e for e in carol_events if e["event"] == "incoming_call"]
    assert incoming and incoming[0]["peer"] == "sip:bob@websip.test"


def test_demo(tmp_path: Path) -> None:
    svg = tmp_path / "demo.svg"
    result = websip("demo", "--ladder-file", str(svg), timeout=40)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "demo finished: all 6 checks passed" in out
    assert "ok    MESSAGE alice -> bob: 'Hello Bob! This is websip.' (200 OK)" in out
    assert "ok    alice hears bob: 660 Hz" in out and "ok    bob hears alice: 440 Hz" in out
    assert "ok    DTMF alice -> bob: sent 1234#, received 1234#" in out
    labels = [t.text for t in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert {"INVITE (SDP)", "ACK", "BYE", "MESSAGE"} <= set(labels)
    assert labels[:3] == ["alice", labels[1], "bob"] and labels[1].startswith("ws://127.0.0.1:")


@pytest.mark.kamailio
def test_call_through_kamailio(kamailio: Any, tmp_path: Path) -> None:
    def ua(user: str) -> list[str]:
        return [
            "--uri",
            kamailio.aor(user),
            "--ws",
            kamailio.ws_url,
            "--password",
            kamailio.password(user),
        ]

    bob = start_listener("--echo", "--max-calls", "1", "--duration", "20", *ua("bob"))
    recording = tmp_path / "k.wav"
    call = websip(
        "call",
        "bob",
        "--tone",
        "440",
        "--record",
        str(recording),
        "--duration",
        "1",
        *LOOPBACK,
        *ua("alice"),
    )
    finish(bob)
    assert call.returncode == 0, call.stderr
    frequency, _ = dominant_frequency(recording)
    assert abs(frequency - 440) < 10


def test_hangup_after_and_play_file(served: Served, tmp_path: Path) -> None:
    # A WAV of 660 Hz played into an echo: the hang-up comes from --hangup-after.
    source = tmp_path / "tone.wav"
    rate = 16000
    t = np.arange(rate * 3) / rate
    with wave.open(str(source), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.sin(2 * np.pi * 660 * t) * 8000).astype(np.int16).tobytes())
    bob = start_listener("--echo", "--max-calls", "1", "--duration", "20", *served.args("bob"))
    recording = tmp_path / "back.wav"
    call = websip(
        "call",
        "bob",
        "--play",
        str(source),
        "--record",
        str(recording),
        "--hangup-after",
        "1.5",
        *LOOPBACK,
        *served.args("alice"),
    )
    finish(bob)
    assert call.returncode == 0, call.stderr
    assert "ended, Terminated (we)" in call.stdout
    frequency, _ = dominant_frequency(recording)
    assert abs(frequency - 660) < 10


def test_media_options_are_checked(served: Served, tmp_path: Path) -> None:
    missing = websip("call", "bob", "--play", str(tmp_path / "none.wav"), *served.args("alice"))
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"websip: the audio file {tmp_path / 'none.wav'} does not")
    bad = websip("answer", "--reject", "200", *served.args("bob"))
    assert bad.returncode == 2 and "a rejection code is 300-699" in bad.stderr
