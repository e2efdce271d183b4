"""``websip`` against the embedded server (``websip serve``), both as processes."""

from __future__ import annotations

from pathlib import Path

from .conftest import Served
from .helpers import json_lines, websip, websip_popen


def test_register_and_wrong_password(served: Served) -> None:
    ok = websip("register", *served.args("alice"))
    assert ok.returncode == 0, ok.stderr
    assert "registered as sip:alice@websip.test (200 OK)" in ok.stdout
    wrong = websip("register", *served.args("alice", "nope"))
    assert wrong.returncode == 4
    assert wrong.stderr.startswith("websip: the server refused the credentials")
    log = served.stop()
    assert "registered alice at sip:" in log
    assert served.process.returncode == 0


def test_message_between_two_processes_with_a_ladder(served: Served, tmp_path: Path) -> None:
    listener = websip_popen(
        "answer", "--json", "--max-messages", "1", "--duration", "15", *served.args("bob")
    )
    try:
        assert listener.stdout is not None
        for line in listener.stdout:
            if json_lines(line)[0]["event"] == "ready":
                break
        page = tmp_path / "flow.html"
        sent = websip("message", "bob", "über", "--ladder-file", str(page), *served.args("alice"))
        assert sent.returncode == 0, sent.stderr
        out, err = listener.communicate(timeout=10)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate()
    assert listener.returncode == 0, err
    bodies = [e["body"] for e in json_lines(out) if e["event"] == "new_message"]
    assert bodies == ["über"]
    html = page.read_text(encoding="utf-8")
    assert "MESSAGE sip:bob@websip.test SIP/2.0" in html and "200 OK (MESSAGE)" in html
    log = served.stop()
    assert "MESSAGE sip:alice@websip.test -> sip:bob@websip.test" in log


def test_options_to_the_server(served: Served) -> None:
    result = websip("options", "sip:websip.test", "--no-register", *served.args("alice"))
    assert result.returncode == 0, result.stderr
    assert "OPTIONS to sip:websip.test: 200 OK" in result.stdout
    assert "  Allow: " in result.stdout and "MESSAGE" in result.stdout


def test_register_stay_ends_cleanly_on_sigterm(served: Served) -> None:
    process = websip_popen("register", "--stay", "--json", *served.args("carol"))
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if json_lines(line)[0]["event"] == "ready":  # waiting: SIGTERM is handled
                break
        process.terminate()
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "unregistered" in [e["event"] for e in json_lines(out)]
