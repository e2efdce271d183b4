"""``websip`` run as a user runs it (a separate process) against a real Kamailio."""

from __future__ import annotations

import http.server
import os
import pty
import select
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from .helpers import free_port, json_lines, websip, websip_env, websip_popen

pytestmark = pytest.mark.kamailio


def ua_args(kamailio: Any, user: str, *, password: str | None = None) -> list[str]:
    args = ["--uri", kamailio.aor(user), "--ws", kamailio.ws_url]
    return [*args, "--password", password if password is not None else kamailio.password(user)]


def sentence_and_hint(stderr: str) -> tuple[str, str]:
    """The error output: exactly one sentence and one hint, no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith("websip: ") and lines[1].startswith("hint: "), stderr
    assert "Traceback" not in stderr
    return lines[0], lines[1]


def test_register_succeeds(kamailio: Any) -> None:
    result = websip("register", *ua_args(kamailio, "alice"))
    assert result.returncode == 0, result.stderr
    assert "registered as sip:alice@websip.test (200 OK)" in result.stdout
    assert "unregistered" in result.stdout
    assert result.stderr == ""


def test_wrong_password(kamailio: Any) -> None:
    result = websip("register", *ua_args(kamailio, "alice", password="wrong"))
    assert result.returncode == 4
    sentence, hint = sentence_and_hint(result.stderr)
    assert sentence == (
        "websip: the server refused the credentials for the registration (401 Unauthorized)."
    )
    assert "--password" in hint and "WEBSIP_PASSWORD" in hint


def test_unreachable_server() -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    result = websip("register", "--uri", "alice@websip.test", "--ws", url, "--password", "x")
    assert result.returncode == 3
    sentence, hint = sentence_and_hint(result.stderr)
    assert sentence == f"websip: nothing accepts connections at {url} (connection refused)."
    assert "is the server running" in hint


def test_bad_uri() -> None:
    result = websip("register", "--uri", "sip:not a uri", "--ws", "ws://127.0.0.1:9")
    assert result.returncode == 2
    sentence, hint = sentence_and_hint(result.stderr)
    assert sentence.startswith("websip: --uri 'sip:not a uri' is not valid")
    assert "sip:alice@example.com" in hint


def test_missing_ws_and_bad_ws() -> None:
    result = websip("message", "bob", "hi", "--uri", "alice@websip.test")
    assert result.returncode == 2
    sentence, _ = sentence_and_hint(result.stderr)
    assert sentence == "websip: --ws is required (the ws_servers parameter)."
    result = websip("register", "--uri", "alice@websip.test", "--ws", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "only ws:// and wss://" in sentence_and_hint(result.stderr)[0]


@pytest.fixture
def plain_websocket_server() -> Iterator[str]:
    """A WebSocket server that does not speak SIP (accepts no subprotocol)."""

    def handler(connection: ServerConnection) -> None:
        for _ in connection:
            pass

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        server.shutdown()
        thread.join(5)


def test_refused_subprotocol(plain_websocket_server: str) -> None:
    url = plain_websocket_server
    result = websip("register", "--uri", "alice@websip.test", "--ws", url, "--password", "x")
    assert result.returncode == 3
    sentence, _ = sentence_and_hint(result.stderr)
    assert sentence == f"websip: {url} did not accept the 'sip' WebSocket subprotocol."


def test_http_error_on_upgrade() -> None:
    # What Kamailio answers to a handshake without the 'sip' subprotocol (400).
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        url = f"ws://127.0.0.1:{httpd.server_address[1]}"
        try:
            result = websip("register", "--uri", "alice@websip.test", "--ws", url)
        finally:
            httpd.shutdown()
    assert result.returncode == 3
    sentence, hint = sentence_and_hint(result.stderr)
    assert sentence == f"websip: {url} refused the WebSocket connection (HTTP 400)."
    assert "'sip' subprotocol" in hint


def test_tls_needs_a_trusted_certificate(kamailio: Any) -> None:
    base = [
        "register",
        "--uri",
        kamailio.aor("alice"),
        "--ws",
        kamailio.wss_url,
        "--password",
        kamailio.password("alice"),
    ]
    result = websip(*base)
    assert result.returncode == 3
    sentence, hint = sentence_and_hint(result.stderr)
    assert sentence.startswith(f"websip: the TLS certificate of {kamailio.wss_url} is not trusted")
    assert "--ca FILE" in hint
    trusted = websip(*base, "--ca", str(kamailio.cert_path))
    assert trusted.returncode == 0, trusted.stderr
    insecure = websip(*base, "--insecure")
    assert insecure.returncode == 0, insecure.stderr


def test_unloadable_ca_file(kamailio: Any, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n", encoding="utf-8")
    result = websip(
        "register", "--uri", kamailio.aor("alice"), "--ws", kamailio.wss_url, "--ca", str(ca)
    )
    assert result.returncode == 2
    sentence, hint = sentence_and_hint(result.stderr)
    assert sentence == f"websip: the CA certificates cannot be loaded from '{ca}'."
    assert hint == "hint: --ca takes a PEM file of CA certificates"


def test_json_lines_parse(kamailio: Any) -> None:
    result = websip("register", "--json", *ua_args(kamailio, "bob"))
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    names = [e["event"] for e in events]
    assert names[:3] == ["connecting", "connected", "registered"]
    assert "unregistered" in names
    registered = events[2]
    assert registered["ua"] == "bob" and registered["response"]["status_code"] == 200
    assert all(isinstance(e["time"], float | int) for e in events)
    # Failures are JSON too, and still a sentence on stderr.
    failed = websip("register", "--json", *ua_args(kamailio, "bob", password="nope"))
    assert failed.returncode == 4
    error = json_lines(failed.stdout)[-1]
    assert error["event"] == "error" and error["exit_code"] == 4
    assert error["message"].startswith("the server refused the credentials")


def test_trace_shows_register_and_hides_the_password(kamailio: Any) -> None:
    result = websip("register", "--trace", *ua_args(kamailio, "carol"))
    assert result.returncode == 0, result.stderr
    assert "REGISTER sip:websip.test SIP/2.0" in result.stdout
    assert "SIP/2.0 401 Unauthorized" in result.stdout
    assert 'Authorization: Digest username="carol"' in result.stdout
    assert kamailio.password("carol") not in result.stdout


def test_ladder_text_svg_and_html(kamailio: Any, tmp_path: Path) -> None:
    svg = tmp_path / "flow.svg"
    result = websip("register", "--ladder", "--ladder-file", str(svg), *ua_args(kamailio, "dave"))
    assert result.returncode == 0, result.stderr
    assert "401 Unauthorized (REGISTER)" in result.stdout
    assert "|---" in result.stdout and "-->|" in result.stdout
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert labels.count("REGISTER") == 3 and "200 OK (REGISTER)" in labels
    page = tmp_path / "flow.html"
    result = websip("register", "--ladder-file", str(page), *ua_args(kamailio, "dave"))
    assert result.returncode == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    assert "REGISTER sip:websip.test SIP/2.0" in text


def test_config_file_and_environment_password(kamailio: Any, tmp_path: Path) -> None:
    toml = tmp_path / "alice.toml"
    toml.write_text(
        f'uri = "{kamailio.aor("alice")}"\n'
        f'ws_servers = [{{ws_uri = "{kamailio.ws_url}", weight = 1}}]\n'
        'password = "wrong"\n'
        'display_name = "Alice ¶€"\n',
        encoding="utf-8",
    )
    assert websip("register", "--config", str(toml)).returncode == 4
    fixed = websip("register", "--config", str(toml), "--password", kamailio.password("alice"))
    assert fixed.returncode == 0, fixed.stderr
    toml.write_text(f'uri = "{kamailio.aor("alice")}"\nws_servers = "{kamailio.ws_url}"\n')
    env = websip_env(WEBSIP_PASSWORD=kamailio.password("alice"))
    assert websip("register", "--config", str(toml), env=env).returncode == 0
    # No password anywhere and no terminal: the server's challenge cannot be answered.
    assert websip("register", "--config", str(toml)).returncode == 4


def test_password_prompt_on_a_terminal_is_not_echoed(kamailio: Any) -> None:
    password = kamailio.password("alice")
    argv = [
        sys.executable,
        "-m",
        "websip",
        "register",
        "--uri",
        kamailio.aor("alice"),
        "--ws",
        kamailio.ws_url,
    ]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal is its stdin/stdout/stderr
        try:
            os.execve(sys.executable, argv, websip_env(TERM="dumb"))
        finally:
            os._exit(127)
    output = b""
    deadline = time.monotonic() + 20
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break  # the child closed the terminal
        if not chunk:
            break
        output += chunk
        if not sent and b"Password for sip:alice@websip.test: " in output:
            os.write(fd, password.encode() + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = output.decode("utf-8", "replace")
    assert sent, text
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert password not in text  # getpass turned the echo off
    assert "registered as sip:alice@websip.test" in text


def test_message_between_two_processes(kamailio: Any) -> None:
    listener = websip_popen(
        "answer", "--json", "--max-messages", "1", "--duration", "20", *ua_args(kamailio, "bob")
    )
    try:
        assert listener.stdout is not None
        ready = None
        for line in listener.stdout:
            event = json_lines(line)[0]
            if event["event"] == "ready":
                ready = event
                break
        assert ready is not None and ready["uri"] == "sip:bob@websip.test"
        sent = websip("message", "bob", "héllo wörld ✓", *ua_args(kamailio, "alice"))
        assert sent.returncode == 0, sent.stderr
        assert "MESSAGE to sip:bob@websip.test: 200 OK" in sent.stdout
        out, err = listener.communicate(timeout=15)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate()
    assert listener.returncode == 0, err
    received = [e for e in json_lines(out) if e["event"] == "new_message"]
    assert len(received) == 1
    assert received[0]["body"] == "héllo wörld ✓"
    assert received[0]["remote_identity"] == "sip:alice@websip.test"
    assert received[0]["answer"] == 200


def test_message_failures(kamailio: Any) -> None:
    nobody = websip("message", "nobody", "hi", "--no-register", *ua_args(kamailio, "alice"))
    assert nobody.returncode == 5
    sentence, hint = sentence_and_hint(nobody.stderr)
    assert sentence == "websip: the MESSAGE to sip:nobody@websip.test failed (404 Not Found)."
    assert hint == "hint: is nobody registered right now?"
    bad = websip("message", "bad target@@", "hi", "--no-register", *ua_args(kamailio, "alice"))
    assert bad.returncode == 2
    assert sentence_and_hint(bad.stderr)[0].startswith("websip: 'bad target@@' is not a valid")


def test_options_to_the_server(kamailio: Any) -> None:
    result = websip("options", "sip:websip.test", "--no-register", *ua_args(kamailio, "alice"))
    assert result.returncode == 0, result.stderr
    assert "OPTIONS to sip:websip.test: 200 OK" in result.stdout
