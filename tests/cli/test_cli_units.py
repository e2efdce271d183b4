"""The CLI's pure parts, in process: configuration assembly, error sentences, ladders."""

from __future__ import annotations

import json
import ssl
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from websip import causes
from websip.cli import (
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_FAILED,
    EXIT_USAGE,
    CliError,
    Reporter,
    build_configuration,
    build_parser,
    explain_configuration_error,
    explain_request_error,
    explain_transport_error,
    main,
)
from websip.config import PARAMETERS, load_configuration
from websip.exceptions import ConfigurationError, RequestError, TransportError
from websip.ladder import Ladder, LadderRecord, message_label
from websip.sip import Request, Response

SPEC_PARAMETERS = [
    "uri",
    "ws_servers",
    "authorization_user",
    "connection_recovery_max_interval",
    "connection_recovery_min_interval",
    "display_name",
    "hack_ip_in_contact",
    "hack_via_tcp",
    "hack_via_ws",
    "instance_id",
    "no_answer_timeout",
    "session_timers",
    "password",
    "register",
    "register_expires",
    "registrar_server",
    "use_preloaded_route",
    "realm",
    "ha1",
]


def parse(*argv: str) -> object:
    return build_parser().parse_args(["register", *argv])


def config_of(*argv: str, environ: dict[str, str] | None = None) -> dict[str, object]:
    args = parse(*argv)
    return build_configuration(args, environ or {})  # type: ignore[arg-type]


def test_every_option_maps_to_its_parameter() -> None:
    config = config_of(
        "--uri=alice@websip.test",
        "--ws=ws://127.0.0.1:1",
        "--ws=ws://127.0.0.1:2",
        "--password=pw",
        "--display-name=Alice ¶€",
        "--authorization-user=alice123",
        "--register-expires=300",
        "--no-register",
        "--registrar-server=sip:registrar.websip.test",
        "--realm=websip.test",
        "--ha1=0123456789abcdef0123456789abcdef",
        "--instance-id=8f1fa16a-1165-4a96-8341-785b1ef24f12",
        "--no-answer-timeout=120",
        "--no-session-timers",
        "--use-preloaded-route",
        "--hack-via-tcp",
        "--hack-via-ws",
        "--hack-ip-in-contact",
        "--connection-recovery-min-interval=4",
        "--connection-recovery-max-interval=60",
    )
    assert set(SPEC_PARAMETERS) <= set(config)
    assert config["ws_servers"] == ["ws://127.0.0.1:1", "ws://127.0.0.1:2"]
    assert config["register"] is False and config["session_timers"] is False
    assert config["hack_via_tcp"] is True and config["register_expires"] == 300
    assert config["connection_recovery_min_interval"] == 4.0
    # And the result is a valid configuration, parameter for parameter.
    loaded = load_configuration(config)
    assert loaded.display_name == "Alice ¶€"
    assert loaded.no_answer_timeout == 120
    assert str(loaded.registrar_server) == "sip:registrar.websip.test"


def test_unset_options_leave_the_defaults_alone() -> None:
    config = config_of("--uri=alice@websip.test", "--ws=ws://127.0.0.1:1")
    assert config == {"uri": "alice@websip.test", "ws_servers": ["ws://127.0.0.1:1"]}
    assert set(config) <= set(PARAMETERS)


def test_toml_file_then_command_line_then_environment(tmp_path: Path) -> None:
    toml = tmp_path / "ua.toml"
    toml.write_text(
        'uri = "sip:alice@websip.test"\n'
        'ws_servers = [{ws_uri = "ws://127.0.0.1:1", weight = 10}]\n'
        'password = "from-file"\n'
        "register_expires = 120\n",
        encoding="utf-8",
    )
    config = config_of(f"--config={toml}", "--register-expires=60")
    assert config["password"] == "from-file"
    assert config["register_expires"] == 60  # the command line wins
    assert config["ws_servers"] == [{"ws_uri": "ws://127.0.0.1:1", "weight": 10}]
    # The environment only fills a missing password.
    env = {"WEBSIP_PASSWORD": "from-env"}
    assert config_of(f"--config={toml}", environ=env)["password"] == "from-file"
    toml.write_text('uri = "sip:alice@websip.test"\n', encoding="utf-8")
    assert config_of(f"--config={toml}", environ=env)["password"] == "from-env"
    assert config_of(f"--config={toml}", "--password=cli", environ=env)["password"] == "cli"


def test_bad_toml_is_a_usage_error(tmp_path: Path) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text("uri = \n", encoding="utf-8")
    with pytest.raises(CliError) as info:
        config_of(f"--config={toml}")
    assert info.value.code == EXIT_USAGE and "not valid TOML" in info.value.message
    with pytest.raises(CliError) as info:
        config_of(f"--config={tmp_path / 'missing.toml'}")
    assert info.value.code == EXIT_USAGE and "cannot read" in info.value.message


def test_tls_options_become_node_websocket_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here", encoding="utf-8")
    config = config_of(f"--ca={ca}", "--insecure", "--origin=https://app.websip.test")
    assert config["node_websocket_options"] == {
        "requestOptions": {"ca": str(ca), "rejectUnauthorized": False},
        "origin": "https://app.websip.test",
    }
    with pytest.raises(CliError) as info:
        config_of(f"--ca={tmp_path / 'none.pem'}")
    assert info.value.code == EXIT_USAGE


def test_configuration_errors_name_the_option() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_configuration({"uri": "sip:not a uri", "ws_servers": "ws://x"})
    error = explain_configuration_error(info.value)
    assert error.code == EXIT_USAGE
    assert error.message.startswith("--uri 'sip:not a uri' is not valid")
    assert "sip:alice@example.com" in error.hint
    with pytest.raises(ConfigurationError) as info:
        load_configuration({"uri": "sip:a@b"})
    assert explain_configuration_error(info.value).message.startswith("--ws is required")
    with pytest.raises(ConfigurationError) as info:
        load_configuration({"uri": "sip:a@b", "ws_servers": "ws://x", "ha1": "secretzz"})
    message = explain_configuration_error(info.value).message
    assert message.startswith("--ha1 '<hidden>' is not valid")  # secrets stay hidden
    assert "secretzz" not in message


def _failure(cause: BaseException) -> TransportError:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise TransportError("cannot connect", "a hint") from exc
    except TransportError as exc:
        return exc


def test_transport_errors_become_one_sentence() -> None:
    url = "ws://127.0.0.1:9"
    refused = explain_transport_error(_failure(ConnectionRefusedError(111, "refused")), url)
    assert refused.code == EXIT_CONNECTION
    assert refused.message == f"nothing accepts connections at {url} (connection refused)"
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate"
    tls = explain_transport_error(_failure(verify), "wss://h")
    assert "not trusted (self-signed certificate)" in tls.message and "--ca" in tls.hint
    timeout = explain_transport_error(_failure(TimeoutError()), url)
    assert "did not answer in time" in timeout.message
    other = explain_transport_error(
        TransportError("server did not accept the 'sip' WebSocket subprotocol", "h"), url
    )
    assert other.message == f"{url} did not accept the 'sip' WebSocket subprotocol"


def test_request_errors_become_one_sentence() -> None:
    request = Request.build(
        "REGISTER",
        "sip:websip.test",
        headers=[
            ("Via", "SIP/2.0/WS x.invalid;branch=z9hG4bK1"),
            ("From", "<sip:alice@websip.test>;tag=1"),
            ("To", "<sip:alice@websip.test>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 REGISTER"),
        ],
    )
    auth = explain_request_error(
        RequestError(causes.AUTHENTICATION_ERROR, Response.for_request(request, 401)),
        "registration",
    )
    assert auth.code == EXIT_AUTH and "refused the credentials" in auth.message
    assert "(401 Unauthorized)" in auth.message and "--password" in auth.hint
    missing = explain_request_error(
        RequestError(causes.NOT_FOUND, Response.for_request(request, 404)), "MESSAGE to bob", "bob"
    )
    assert missing.code == EXIT_FAILED
    assert missing.message == "the MESSAGE to bob failed (404 Not Found)"
    assert "is bob registered" in missing.hint
    lost = explain_request_error(RequestError(causes.CONNECTION_ERROR), "MESSAGE to bob")
    assert lost.code == EXIT_CONNECTION


def test_version_and_parse_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("websip ")
    assert main(["parse", "--example"]) == 0
    assert "Request  INVITE" in capsys.readouterr().out


def test_every_command_has_help() -> None:
    parser = build_parser()
    for command in ("register", "message", "options", "call", "answer", "demo", "serve", "parse"):
        with pytest.raises(SystemExit) as info:
            parser.parse_args([command, "--help"])
        assert info.value.code == 0


def test_no_command_prints_help_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "exit codes:" in out and "authentication failure" in out


# -- ladder ------------------------------------------------------------------------


def _register() -> Request:
    return Request.build(
        "REGISTER",
        "sip:websip.test",
        headers=[
            ("Via", "SIP/2.0/WS x.invalid;branch=z9hG4bK1"),
            ("From", '"A <&>" <sip:alice@websip.test>;tag=1'),
            ("To", "<sip:alice@websip.test>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 REGISTER"),
        ],
    )


def _flow() -> Ladder:
    request = _register()
    ladder = Ladder(["alice", "server"])
    ladder.add_trace(100.0, "alice", "server", "sent", request.to_bytes())
    ladder.add_trace(
        100.25,
        "alice",
        "server",
        "received",
        Response.for_request(request, 401, to_tag="t").to_bytes(),
    )
    ladder.add_trace(100.5, "bob", "server", "received", b"\x00garbage")
    return ladder


def test_labels() -> None:
    request = _register()
    assert message_label(request) == "REGISTER"
    assert message_label(Response.for_request(request, 200)) == "200 OK (REGISTER)"


def test_text_ladder_draws_arrows_between_columns() -> None:
    lines = _flow().render_text().splitlines()
    header = lines[0]
    assert header.split() == ["alice", "server", "bob"]
    alice, server, bob = (header.index(n) + len(n) // 2 for n in ("alice", "server", "bob"))
    assert "REGISTER" in lines[1]
    assert lines[2].startswith("  +0.000")
    assert lines[2][alice] == "|" and lines[2][server - 1] == ">" and lines[2][server] == "|"
    assert "401 Unauthorized (REGISTER)" in lines[3]
    assert lines[4].startswith("  +0.250") and lines[4][alice + 1] == "<"
    assert "(not SIP, 8 bytes)" in lines[5]
    assert lines[6][server + 1] == "-" and lines[6][bob - 1] == ">"  # server -> bob


def test_svg_and_html_are_well_formed_and_escaped(tmp_path: Path) -> None:
    ladder = _flow()
    svg = ET.fromstring(ladder.render_svg())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "REGISTER" in texts and "401 Unauthorized (REGISTER)" in texts
    titles = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert any('"A <&>" <sip:alice@websip.test>' in t for t in titles)
    page = ladder.render_html()
    assert page.startswith("<!DOCTYPE html>") and "&quot;A &lt;&amp;&gt;&quot;" in page
    assert ladder.render_file("x.SVG") == ladder.render_svg()
    with pytest.raises(ValueError):
        ladder.render_file("x.png")


def test_empty_ladder() -> None:
    assert Ladder().render_text() == ""
    ET.fromstring(Ladder().render_svg())
    record = LadderRecord(0.0, "a", "a", None, b"x")
    ladder = Ladder()
    ladder.add(record)
    assert "(self)" in ladder.render_text()
    ET.fromstring(ladder.render_svg())


def test_plain_output_without_rich(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without the `cli` extra the same lines are printed plainly.
    monkeypatch.setitem(sys.modules, "rich.console", None)
    reporter = Reporter(ladder=True)
    reporter.event("alice", "registered", "registered as sip:alice@websip.test (200 OK)")
    reporter.status("alice", "registering...")  # no live display: nothing printed
    reporter.trace("alice", "server", "sent", _register().to_bytes())
    reporter.close()
    out = capsys.readouterr().out
    assert out.startswith("alice   registered as sip:alice@websip.test (200 OK)\n")
    assert "|-" in out and "REGISTER" in out


def test_json_mode_prints_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = Reporter(json_lines=True, trace=True, ladder=True)
    reporter.event("bob", "connected", "connected to x", server="ws://x")
    reporter.say("for people only")
    reporter.trace("bob", "ws://x", "received", _register().to_bytes())
    reporter.error(CliError(EXIT_FAILED, "the MESSAGE to bob failed", "a hint"))
    reporter.close()
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert [e["event"] for e in events] == ["connected", "sip", "error"]
    assert events[1]["direction"] == "received" and events[1]["peer"] == "ws://x"
    assert events[2] == {**events[2], "exit_code": 5, "hint": "a hint"}
    # Errors still read as a sentence on stderr; the ladder goes there too.
    assert "websip: the MESSAGE to bob failed.\nhint: a hint\n" in captured.err
    assert "REGISTER" in captured.err
