"""The UA configuration parameters (spec/ua-configuration.txt, websip.config).

One test class per parameter: the default, the accepted forms and their
normalization, and every way to get it wrong (a ConfigurationError naming the
parameter and showing the value, except for secrets).
"""

from __future__ import annotations

import dataclasses
import pathlib
import random
import ssl
import subprocess
import sys
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

import websip
from websip import URI, ConfigurationError
from websip.config import (
    DEFAULTS,
    MANDATORY,
    PARAMETERS,
    Configuration,
    WebSocketOptions,
    WsServer,
    load_configuration,
)

BASE: dict[str, Any] = {"uri": "sip:alice@example.com", "ws_servers": "wss://ws.example.com"}
SPEC = pathlib.Path(__file__).parents[1] / "docs" / "configuration.md"
UUID_TEXT = "8f1fa16a-1165-4a96-8341-785b1ef24f12"


def load(**overrides: Any) -> Configuration:
    return load_configuration({**BASE, **overrides}, rng=random.Random(1234))


def error(**overrides: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        load(**overrides)
    return info.value


def assert_rejected(name: str, value: Any, reason: str = "") -> ConfigurationError:
    """``name=value`` is refused, and the error names the parameter and the value."""
    exc = error(**{name: value})
    assert exc.parameter == name
    assert exc.value == value
    assert repr(value) in str(exc)
    assert reason in str(exc)
    return exc


# --------------------------------------------------------------------------
# Loading: mapping, keywords, empties, unknown names
# --------------------------------------------------------------------------


class TestLoading:
    def test_the_spec_example(self) -> None:
        config = load_configuration(
            {
                "ws_servers": "ws://sip-ws.example.com",
                "uri": "sip:alice@example.com",
                "password": "superpassword",
            }
        )
        assert str(config.uri) == "sip:alice@example.com"
        assert config.ws_servers[0].ws_uri == "ws://sip-ws.example.com"
        assert config.password == "superpassword"

    def test_keyword_form(self) -> None:
        config = load_configuration(uri="bob@example.com", ws_servers="ws://h")
        assert config.uri.user == "bob"

    def test_keywords_override_the_mapping(self) -> None:
        config = load_configuration(BASE, register=False, uri="carol@example.org")
        assert config.register is False
        assert str(config.uri) == "sip:carol@example.org"

    def test_the_mapping_is_not_changed(self) -> None:
        params = dict(BASE)
        load_configuration(params, register=False)
        assert params == BASE

    def test_params_must_be_a_mapping(self) -> None:
        with pytest.raises(TypeError, match="mapping"):
            load_configuration([("uri", "a@b")])  # type: ignore[arg-type]

    def test_parameter_names_must_be_strings(self) -> None:
        with pytest.raises(TypeError, match="strings"):
            load_configuration({**BASE, 1: "x"})  # type: ignore[dict-item]

    @pytest.mark.parametrize("name", MANDATORY)
    @pytest.mark.parametrize("empty", ["missing", None, "", [], ()])
    def test_mandatory_parameters(self, name: str, empty: Any) -> None:
        params = dict(BASE)
        if empty == "missing":
            del params[name]
        else:
            params[name] = empty
        with pytest.raises(ConfigurationError, match="mandatory") as info:
            load_configuration(params)
        assert info.value.parameter == name

    @pytest.mark.parametrize("name", [n for n in PARAMETERS if n not in MANDATORY])
    @pytest.mark.parametrize("empty", [None, "", [], (), {}])
    def test_empty_values_fall_back_to_the_default(self, name: str, empty: Any) -> None:
        assert load(**{name: empty}) == load()

    def test_defaults(self) -> None:
        config = load()
        assert config.authorization_user == "alice"
        assert config.connection_recovery_max_interval == 30
        assert config.connection_recovery_min_interval == 2
        assert config.display_name is None
        assert config.hack_ip_in_contact is False
        assert config.hack_via_tcp is False
        assert config.hack_via_ws is False
        assert config.no_answer_timeout == 60
        assert config.session_timers is True
        assert config.session_timers_refresh_method == "UPDATE"
        assert config.websocket_options == WebSocketOptions()
        assert config.password is None
        assert config.realm is None
        assert config.ha1 is None
        assert config.register is True
        assert config.register_expires == 600
        assert str(config.registrar_server) == "sip:example.com"
        assert config.use_preloaded_route is False
        assert config.user_agent == f"websip/{websip.__version__}"
        assert config.keepalive_interval == 30
        assert config.keepalive_timeout == 10

    def test_defaults_table_matches(self) -> None:
        config = load()
        for name, default in DEFAULTS.items():
            if default is not None:
                assert getattr(config, name) == default, name

    def test_every_parameter_has_a_default_or_is_mandatory(self) -> None:
        assert set(DEFAULTS) | set(MANDATORY) == set(PARAMETERS)

    def test_unknown_parameter_with_a_hint(self) -> None:
        exc = error(registrar_sever="sip:x")
        assert exc.parameter == "registrar_sever"
        assert exc.value == "sip:x"
        assert "did you mean 'registrar_server'?" in str(exc)

    def test_unknown_parameter_without_a_hint(self) -> None:
        exc = error(zzz=1)
        assert exc.parameter == "zzz"
        assert str(exc).endswith("unknown parameter")

    def test_camel_case_names_get_a_hint(self) -> None:
        assert "'ws_servers'" in str(error(wsServers="ws://h"))

    def test_a_misspelt_password_is_not_shown(self) -> None:
        exc = error(pasword="s3cr3t")
        assert "s3cr3t" not in str(exc) and "s3cr3t" not in repr(exc)
        assert exc.value == "<hidden>"
        assert "did you mean 'password'?" in str(exc)

    def test_an_unknown_secret_looking_name_is_not_shown(self) -> None:
        exc = error(api_token="s3cr3t")
        assert "s3cr3t" not in str(exc)

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("sockets", "ws_servers"),
            ("contact_uri", "Contact"),
            ("via_host", "generated"),
            ("ws_server_max_reconnection", "connection_recovery"),
        ],
    )
    def test_other_jssip_parameters_are_explained(self, name: str, reason: str) -> None:
        exc = error(**{name: "x"})
        assert exc.parameter == name
        assert reason in str(exc)

    def test_errors_are_value_errors(self) -> None:
        assert isinstance(error(register="yes"), ValueError)


class TestReadOnly:
    def test_assignment_raises(self) -> None:
        config = load()
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.register = False  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.uri = URI.parse("sip:x@y")  # type: ignore[misc]

    def test_uris_are_copies(self) -> None:
        config = load()
        config.uri.user = "mallory"
        config.registrar_server.host = "evil.example"
        assert str(config.uri) == "sip:alice@example.com"
        assert str(config.registrar_server) == "sip:example.com"

    def test_as_dict_is_a_read_only_view(self) -> None:
        view = load(password="pw", realm="r", ha1="0" * 32).as_dict()
        assert isinstance(view, Mapping)
        with pytest.raises(TypeError):
            view["register"] = False  # type: ignore[index]
        assert view["password"] == "<hidden>"
        assert view["ha1"] == "<hidden>"
        assert view["realm"] == "r"
        assert view["uri"] == "sip:alice@example.com"
        assert view["registrar_server"] == "sip:example.com"
        assert view["node_websocket_options"] == WebSocketOptions()
        assert "websocket_options" not in view
        assert set(view) == set(PARAMETERS) - {"websocket_options"}

    def test_as_dict_without_secrets(self) -> None:
        view = load().as_dict()
        assert view["password"] is None and view["ha1"] is None

    def test_repr_hides_secrets(self) -> None:
        config = load(password="pw-123", realm="r", ha1="ab" * 16)
        text = repr(config)
        assert "pw-123" not in text and "ab" * 16 not in text
        assert "password=<hidden>" in text and "ha1=<hidden>" in text
        assert text.startswith("Configuration(uri='sip:alice@example.com'")

    def test_equality(self) -> None:
        assert load() == load()
        assert load() != load(register=False)


class TestGeneratedValues:
    def test_pinned_by_a_seeded_random_source(self) -> None:
        config = load()
        assert config.instance_id == "1de9ea66-70d3-4a1f-8735-df5ef7697fb9"
        assert config.via_host == "05256mf111mu.invalid"

    def test_instance_id_is_a_version_4_uuid(self) -> None:
        value = uuid.UUID(load_configuration(BASE).instance_id)
        assert value.version == 4

    def test_the_default_source_differs_each_time(self) -> None:
        first, second = load_configuration(BASE), load_configuration(BASE)
        assert first.instance_id != second.instance_id
        assert first.via_host.endswith(".invalid")


# --------------------------------------------------------------------------
# Mandatory parameters
# --------------------------------------------------------------------------


class TestUri:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("sip:alice@example.com", "sip:alice@example.com"),
            ("alice@example.com", "sip:alice@example.com"),
            ("SIP:alice@EXAMPLE.com", "sip:alice@example.com"),
            ("sips:alice@example.com", "sips:alice@example.com"),
            ("alice@example.com:5070;transport=ws", "sip:alice@example.com:5070;transport=ws"),
            (URI.parse("sip:alice@example.com"), "sip:alice@example.com"),
        ],
    )
    def test_accepted(self, value: Any, expected: str) -> None:
        assert str(load(uri=value).uri) == expected

    def test_a_given_uri_object_is_copied(self) -> None:
        original = URI.parse("sip:alice@example.com")
        config = load(uri=original)
        original.user = "bob"
        assert config.uri.user == "alice"

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("sip:example.com", "user part"),
            ("example.com", "user part"),
            ("sip:alice@exa mple.com", "invalid URI"),
            ("sip:alice:secret@example.com", "password"),
            ("tel:+15551234", "invalid URI"),
            (URI.parse("tel:+15551234"), "sip: or sips:"),
            (URI("sip", "alice"), "no host"),
            (42, "must be a SIP URI"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        exc = error(uri=value)
        assert exc.parameter == "uri"
        assert exc.value is value
        assert reason in str(exc)


class TestWsServers:
    def test_a_single_string(self) -> None:
        (server,) = load(ws_servers="ws://sip-ws.example.com").ws_servers
        assert server == WsServer(
            ws_uri="ws://sip-ws.example.com",
            weight=0,
            scheme="ws",
            host="sip-ws.example.com",
            port=80,
            path="/",
            sip_uri="sip:sip-ws.example.com;lr;transport=ws",
        )
        assert not server.secure
        assert server.via_transport == "WS"

    def test_default_ports(self) -> None:
        assert load(ws_servers="ws://h.example").ws_servers[0].port == 80
        assert load(ws_servers="wss://h.example").ws_servers[0].port == 443
        assert load(ws_servers="WSS://H.example:8443").ws_servers[0].port == 8443

    def test_explicit_port_path_and_query(self) -> None:
        (server,) = load(ws_servers="wss://sip-ws.example.com:8443/sip?KEY=1234").ws_servers
        assert server.ws_uri == "wss://sip-ws.example.com:8443/sip?KEY=1234"
        assert (server.scheme, server.port, server.path) == ("wss", 8443, "/sip?KEY=1234")
        assert server.secure
        assert server.via_transport == "WSS"

    def test_a_list_of_strings(self) -> None:
        servers = load(ws_servers=["ws://sip-ws-1.example.com", "ws://sip-ws-2.example.com"])
        assert [s.host for s in servers.ws_servers] == [
            "sip-ws-1.example.com",
            "sip-ws-2.example.com",
        ]
        assert all(s.weight == 0 for s in servers.ws_servers)

    def test_a_list_of_objects_with_weights(self) -> None:
        config = load(
            ws_servers=[
                {"ws_uri": "ws://sip-ws-1.example.com", "weight": 10},
                {"ws_uri": "ws://sip-ws-2.example.com", "weight": 1},
            ]
        )
        assert [s.weight for s in config.ws_servers] == [10, 1]

    def test_mixed_forms_tuples_and_single_objects(self) -> None:
        existing = WsServer.from_uri("ws://c.example", 3)
        config = load(
            ws_servers=(
                {"ws_uri": "ws://a.example"},
                "ws://b.example",
                existing,
                {"ws_uri": "ws://d.example", "weight": None},
            )
        )
        assert [s.weight for s in config.ws_servers] == [0, 0, 3, 0]
        assert config.ws_servers[2] is existing
        assert load(ws_servers={"ws_uri": "ws://a", "weight": "5"}).ws_servers[0].weight == 5
        assert load(ws_servers=existing).ws_servers == (existing,)

    def test_ipv6_host(self) -> None:
        (server,) = load(ws_servers="ws://[::1]:8080/ws").ws_servers
        assert server.host == "[::1]"
        assert server.sip_uri == "sip:[::1]:8080;lr;transport=ws"

    def test_weights_feed_the_server_selector(self) -> None:
        from websip.recovery import ServerSelector

        config = load(
            ws_servers=[{"ws_uri": "ws://a", "weight": 1}, {"ws_uri": "ws://b", "weight": 9}]
        )
        assert ServerSelector(config.ws_servers).choose().host == "b"

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("http://example.com", "only ws:// and wss://"),
            ("sip:alice@example.com", "only ws:// and wss://"),
            ("example.com", "only ws:// and wss://"),
            ("ws://", "host"),
            ("ws://exa_mple.com", "host"),
            ("ws:///path", "host"),
            ("ws://example.com:99999", "out of range"),
            ("ws://example.com:port", "Port"),
            ("ws://example.com:0", "port 0"),
            ("ws://[::1", "IPv6"),
            ("ws://user:pw@example.com", "user info"),
            ("ws://example.com/#top", "fragment"),
            ("ws://example.com/a b", "spaces"),
            ("ws://example.com/\r\nX: y", "control"),
            (42, "must be a WebSocket URI"),
            ([42], "each server"),
            ([{"uri": "ws://a"}], "unknown key 'uri'"),
            ([{"ws_uri": "ws://a", "wieght": 1}], "did you mean 'weight'?"),
            ([{"weight": 1}], "missing 'ws_uri'"),
            ([{"ws_uri": 7}], "must be a string"),
            ([{"ws_uri": "ws://a", "weight": -1}], "at least 0"),
            ([{"ws_uri": "ws://a", "weight": "x"}], "whole number"),
            ([{"ws_uri": "ws://a", "weight": 1.5}], "whole number"),
            ([{"ws_uri": "ws://a", "weight": True}], "not a bool"),
            ([{"ws_uri": "ws://a", "weight": 2**31}], "at most"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        exc = error(ws_servers=value)
        assert exc.parameter == "ws_servers"
        assert reason in str(exc)

    def test_the_bad_uri_is_shown(self) -> None:
        exc = error(ws_servers=["ws://ok.example", "http://bad.example"])
        assert exc.value == "http://bad.example"
        assert "'http://bad.example'" in str(exc)

    @pytest.mark.parametrize("weight", [-1, "high", 0.5])
    def test_from_uri_checks_the_weight(self, weight: Any) -> None:
        with pytest.raises(ConfigurationError):
            WsServer.from_uri("ws://h", weight)

    def test_from_uri_names_a_given_parameter(self) -> None:
        with pytest.raises(ConfigurationError) as info:
            WsServer.from_uri("tcp://x", parameter="target")
        assert info.value.parameter == "target"


# --------------------------------------------------------------------------
# Optional parameters, in the order of the reference
# --------------------------------------------------------------------------


class TestAuthorizationUser:
    def test_default_is_the_uri_user(self) -> None:
        assert load(uri="sip:bob@example.com").authorization_user == "bob"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("alice123", "alice123"), (1001, "1001"), ('a"b\\c', 'a"b\\c'), ("ü", "ü")],
    )
    def test_accepted(self, value: Any, expected: str) -> None:
        assert load(authorization_user=value).authorization_user == expected

    @pytest.mark.parametrize(
        ("value", "reason"),
        [("a\r\nb", "control"), ("a\x00", "control"), (True, "a string or an int"), (1.5, "")],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        assert_rejected("authorization_user", value, reason)


class TestConnectionRecovery:
    @pytest.mark.parametrize(
        ("value", "expected"), [(60, 60.0), (4.5, 4.5), ("45", 45.0), (" 7.25 ", 7.25)]
    )
    def test_max_accepted(self, value: Any, expected: float) -> None:
        config = load(connection_recovery_max_interval=value)
        assert config.connection_recovery_max_interval == expected
        assert isinstance(config.connection_recovery_max_interval, float)

    @pytest.mark.parametrize(("value", "expected"), [(4, 4.0), ("1", 1.0), (0.5, 0.5)])
    def test_min_accepted(self, value: Any, expected: float) -> None:
        assert load(connection_recovery_min_interval=value).connection_recovery_min_interval == (
            expected
        )

    @pytest.mark.parametrize(
        "name", ["connection_recovery_max_interval", "connection_recovery_min_interval"]
    )
    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (0, "more than zero"),
            (-3, "more than zero"),
            ("abc", "a number"),
            ("1e3", "a number"),
            (True, "not a bool"),
            (float("nan"), "finite"),
            (float("inf"), "finite"),
            (10**400, "finite"),
            ("9" * 400, "finite"),
            ([1], "a number"),
        ],
    )
    def test_rejected(self, name: str, value: Any, reason: str) -> None:
        exc = error(**{name: value})
        assert exc.parameter == name
        assert reason in str(exc)

    def test_max_must_not_be_below_min(self) -> None:
        exc = error(connection_recovery_max_interval=3, connection_recovery_min_interval=5)
        assert exc.parameter == "connection_recovery_max_interval"
        assert exc.value == 3
        assert "(5)" in str(exc)

    def test_min_above_the_default_max(self) -> None:
        exc = error(connection_recovery_min_interval=60)
        assert exc.parameter == "connection_recovery_max_interval"
        assert exc.value == 30

    def test_equal_is_fine(self) -> None:
        config = load(connection_recovery_max_interval=5, connection_recovery_min_interval=5)
        assert config.connection_recovery_max_interval == 5


class TestDisplayName:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("Alice ¶€ĸøĸø", "Alice ¶€ĸøĸø"),
            ('Alice "Al" Smith', 'Alice "Al" Smith'),
            ("0", "0"),
            (0, "0"),
            ('"', '"'),
        ],
    )
    def test_accepted(self, value: Any, expected: str) -> None:
        assert load(display_name=value).display_name == expected

    def test_always_written_quoted_and_escaped(self) -> None:
        config = load(display_name='Alice "Al" \\ Smith')
        assert str(config.identity) == '"Alice \\"Al\\" \\\\ Smith" <sip:alice@example.com>'
        assert str(load(display_name="Alice ¶€").identity) == '"Alice ¶€" <sip:alice@example.com>'

    def test_identity_without_display_name(self) -> None:
        assert str(load().identity) == "<sip:alice@example.com>"

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ('"Alice"', "without enclosing double quotes"),
            ('""', "without enclosing double quotes"),
            ("Alice\r\nX-Evil: 1", "control"),
            ("Alice\x7f", "control"),
            (["Alice"], "a string or an int"),
            (False, "a string or an int"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        assert_rejected("display_name", value, reason)


@pytest.mark.parametrize(
    "name", ["hack_ip_in_contact", "hack_via_tcp", "hack_via_ws", "session_timers", "register"]
)
class TestBooleans:
    def test_accepted(self, name: str) -> None:
        assert getattr(load(**{name: True}), name) is True
        assert getattr(load(**{name: False}), name) is False

    @pytest.mark.parametrize("value", [1, 0, "true", "false", 1.0])
    def test_rejected(self, name: str, value: Any) -> None:
        assert_rejected(name, value, "True or False")


class TestHacks:
    def test_ip_in_contact_uses_test_net(self) -> None:
        assert load(hack_ip_in_contact=True).via_host == "192.0.2.2"

    def test_random_invalid_host_by_default(self) -> None:
        assert load().via_host.endswith(".invalid")

    @pytest.mark.parametrize(
        ("tcp", "ws", "server", "expected"),
        [
            (False, False, "wss://h", "WSS"),
            (False, False, "ws://h", "WS"),
            (False, True, "wss://h", "WS"),
            (True, False, "wss://h", "TCP"),
            (True, True, "ws://h", "TCP"),
        ],
    )
    def test_via_transport(self, tcp: bool, ws: bool, server: str, expected: str) -> None:
        config = load(hack_via_tcp=tcp, hack_via_ws=ws, ws_servers=server)
        assert config.via_transport(config.ws_servers[0]) == expected


class TestInstanceId:
    @pytest.mark.parametrize(
        "value",
        [
            f"uuid:{UUID_TEXT}",
            UUID_TEXT,
            UUID_TEXT.upper(),
            f"UUID:{UUID_TEXT}",
            f"urn:uuid:{UUID_TEXT}",
            uuid.UUID(UUID_TEXT),
        ],
    )
    def test_accepted(self, value: Any) -> None:
        config = load(instance_id=value)
        assert config.instance_id == UUID_TEXT
        assert config.instance_urn == f"urn:uuid:{UUID_TEXT}"

    def test_given_instance_id_leaves_via_host_pinned(self) -> None:
        assert load(instance_id=UUID_TEXT).via_host.endswith(".invalid")

    @pytest.mark.parametrize(
        "value",
        [
            "uuid:",
            "8f1fa16a-1165-4a96-8341",
            "urn:8f1fa16a-1165-4a96-8341-785b1ef24f12",
            12,
            "x" * 36,
        ],
    )
    def test_rejected(self, value: Any) -> None:
        assert_rejected("instance_id", value, "UUID")


class TestNoAnswerTimeout:
    @pytest.mark.parametrize(("value", "expected"), [(120, 120), ("90", 90), (30.0, 30), (1, 1)])
    def test_accepted(self, value: Any, expected: int) -> None:
        config = load(no_answer_timeout=value)
        assert config.no_answer_timeout == expected
        assert type(config.no_answer_timeout) is int

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (0, "at least 1"),
            (-5, "at least 1"),
            (2.5, "whole"),
            ("2.5", "whole"),
            (True, "bool"),
            (2**32, "at most"),
            ("9" * 400, "at most"),
            (1e300, "at most"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        assert_rejected("no_answer_timeout", value, reason)


class TestSessionTimersRefreshMethod:
    @pytest.mark.parametrize(
        ("value", "expected"), [("UPDATE", "UPDATE"), ("invite", "INVITE"), ("Update", "UPDATE")]
    )
    def test_accepted(self, value: str, expected: str) -> None:
        assert load(session_timers_refresh_method=value).session_timers_refresh_method == expected

    @pytest.mark.parametrize("value", ["BYE", 1, True])
    def test_rejected(self, value: Any) -> None:
        assert_rejected("session_timers_refresh_method", value, "'UPDATE' or 'INVITE'")


class TestPassword:
    @pytest.mark.parametrize(("value", "expected"), [("1234", "1234"), (1234, "1234")])
    def test_accepted(self, value: Any, expected: str) -> None:
        assert load(password=value).password == expected

    @pytest.mark.parametrize("value", [b"secret", "sec\nret", 1.5])
    def test_rejected_without_showing_it(self, value: Any) -> None:
        exc = error(password=value)
        assert exc.parameter == "password"
        assert exc.value == "<hidden>"
        assert repr(value) not in str(exc) and repr(value) not in repr(exc)


class TestRegisterExpires:
    @pytest.mark.parametrize(
        ("value", "expected"), [(300, 300), ("3600", 3600), (60.0, 60), (2**32 - 1, 2**32 - 1)]
    )
    def test_accepted(self, value: Any, expected: int) -> None:
        assert load(register_expires=value).register_expires == expected

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (0, "at least 1"),
            (-1, "at least 1"),
            (2**32, "at most"),
            ("ten", "whole number"),
            (600.5, "whole number"),
            (False, "bool"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        assert_rejected("register_expires", value, reason)


class TestRegistrarServer:
    def test_default_is_the_uri_without_user_params_and_headers(self) -> None:
        config = load(uri="sip:alice@example.com:5080;transport=ws?X-Y=1")
        assert str(config.registrar_server) == "sip:example.com:5080"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("sip:registrar.mydomain.com", "sip:registrar.mydomain.com"),
            ("registrar.mydomain.com", "sip:registrar.mydomain.com"),
            ("sips:registrar.example.com:5061", "sips:registrar.example.com:5061"),
            (URI.parse("sip:reg.example.com;transport=ws"), "sip:reg.example.com;transport=ws"),
        ],
    )
    def test_accepted(self, value: Any, expected: str) -> None:
        assert str(load(registrar_server=value).registrar_server) == expected

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("sip:alice@registrar.example.com", "no user part"),
            ("alice@registrar.example.com", "no user part"),
            ("http://registrar.example.com", "invalid URI"),
            ("sip:reg istrar", "invalid URI"),
            (5060, "must be a SIP URI"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        assert_rejected("registrar_server", value, reason)


class TestUsePreloadedRoute:
    @pytest.mark.parametrize(
        ("ws_uri", "route"),
        [
            ("ws://example.org/sip-ws", "<sip:example.org;lr;transport=ws>"),
            ("wss://example.org:8443", "<sip:example.org:8443;lr;transport=ws>"),
            ("wss://EXAMPLE.org:443/x", "<sip:example.org:443;lr;transport=ws>"),
        ],
    )
    def test_route_of_each_server(self, ws_uri: str, route: str) -> None:
        config = load(ws_servers=ws_uri, use_preloaded_route=True)
        assert config.use_preloaded_route is True
        assert config.ws_servers[0].route == route

    def test_rejected(self) -> None:
        assert_rejected("use_preloaded_route", "yes", "True or False")


class TestRealmAndHa1:
    def test_accepted(self) -> None:
        config = load(realm="example.com", ha1="ABCDEF0123456789" * 2)
        assert config.realm == "example.com"
        assert config.ha1 == "abcdef0123456789" * 2

    def test_sha256_ha1(self) -> None:
        assert load(realm="r", ha1="a" * 64).ha1 == "a" * 64

    def test_ha1_and_password_together(self) -> None:
        config = load(realm="r", ha1="a" * 32, password="pw")
        assert (config.ha1, config.password) == ("a" * 32, "pw")

    def test_realm_alone(self) -> None:
        assert load(realm="r").realm == "r"

    @pytest.mark.parametrize("value", ["a" * 31, "g" * 32, 12345, "a" * 48])
    def test_bad_ha1_is_not_shown(self, value: Any) -> None:
        exc = error(realm="r", ha1=value)
        assert exc.parameter == "ha1"
        assert exc.value == "<hidden>"
        assert str(value) not in str(exc)

    def test_ha1_needs_realm(self) -> None:
        exc = error(ha1="a" * 32)
        assert exc.parameter == "realm"
        assert "a" * 32 not in str(exc)

    @pytest.mark.parametrize("value", ["re\nalm", 5])
    def test_bad_realm(self, value: Any) -> None:
        assert_rejected("realm", value)


class TestUserAgent:
    def test_accepted(self) -> None:
        assert load(user_agent="bot/1.0 (test)").user_agent == "bot/1.0 (test)"

    @pytest.mark.parametrize("value", ["x\r\nVia: evil", 7])
    def test_rejected(self, value: Any) -> None:
        assert_rejected("user_agent", value)


class TestKeepalive:
    def test_accepted(self) -> None:
        config = load(keepalive_interval=15, keepalive_timeout="2.5")
        assert (config.keepalive_interval, config.keepalive_timeout) == (15.0, 2.5)

    def test_zero_interval_disables_pings(self) -> None:
        assert load(keepalive_interval=0).keepalive_interval == 0

    @pytest.mark.parametrize(
        ("name", "value", "reason"),
        [
            ("keepalive_interval", -1, "zero or more"),
            ("keepalive_interval", False, "bool"),
            ("keepalive_timeout", 0, "more than zero"),
            ("keepalive_timeout", "soon", "a number"),
        ],
    )
    def test_rejected(self, name: str, value: Any, reason: str) -> None:
        assert_rejected(name, value, reason)


# --------------------------------------------------------------------------
# node_websocket_options / websocket_options
# --------------------------------------------------------------------------


def ws_options(value: Any, name: str = "node_websocket_options") -> WebSocketOptions:
    return load(**{name: value}).websocket_options


def ws_error(value: Any, name: str = "node_websocket_options") -> ConfigurationError:
    exc = error(**{name: value})
    assert exc.parameter == name
    return exc


@pytest.fixture
def context() -> ssl.SSLContext:
    return ssl.create_default_context()


class TestWebSocketOptions:
    def test_the_spec_example(self) -> None:
        options = ws_options({"origin": "http://myweb.com"})
        assert options == WebSocketOptions(origin="http://myweb.com")

    @pytest.mark.parametrize("name", ["node_websocket_options", "websocket_options"])
    def test_both_names(self, name: str) -> None:
        config = load(**{name: {"origin": "https://app.example"}})
        assert config.websocket_options.origin == "https://app.example"
        assert config.node_websocket_options is config.websocket_options

    def test_both_names_at_once(self) -> None:
        exc = error(node_websocket_options={"origin": "a"}, websocket_options={"origin": "b"})
        assert exc.parameter == "websocket_options"
        assert "not both" in str(exc)

    def test_one_empty_alias_is_ignored(self) -> None:
        options = load(node_websocket_options=None, websocket_options={"origin": "o"})
        assert options.websocket_options.origin == "o"

    def test_a_websocket_options_object(self) -> None:
        given = WebSocketOptions(origin="o", verify=False)
        assert ws_options(given, "websocket_options") is given

    def test_headers(self) -> None:
        options = ws_options(
            {"headers": {"X-Token": "t", "Cookie": ["a=1", "b=2"], "User-Agent": "mine"}}
        )
        assert options.headers == (
            ("X-Token", "t"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("User-Agent", "mine"),
        )

    def test_request_options_map_onto_python_names(self, tmp_path: pathlib.Path) -> None:
        options = ws_options(
            {
                "requestOptions": {
                    "rejectUnauthorized": False,
                    "ca": "/etc/ssl/ca.pem",
                    "cert": tmp_path / "client.pem",
                    "key": "/keys/client.key",
                    "passphrase": "hunter2",
                    "servername": "sip.example.com",
                    "proxy": "http://proxy.example:3128",
                    "localAddress": "127.0.0.1",
                    "timeout": 2500,
                }
            }
        )
        assert options == WebSocketOptions(
            verify=False,
            ca=("/etc/ssl/ca.pem",),
            cert=str(tmp_path / "client.pem"),
            key="/keys/client.key",
            passphrase="hunter2",
            server_hostname="sip.example.com",
            proxy="http://proxy.example:3128",
            local_address="127.0.0.1",
            open_timeout=2.5,
        )

    def test_ca_forms(self) -> None:
        pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        options = ws_options({"requestOptions": {"ca": [pem, pem.encode(), "/ca.pem"]}})
        assert options.ca == (pem, pem, "/ca.pem")

    def test_ssl_context(self, context: ssl.SSLContext) -> None:
        options = ws_options({"requestOptions": {"ssl": context, "servername": "x"}})
        assert options.ssl_context is context
        assert options.server_hostname == "x"

    def test_tls_options_override_request_options(self) -> None:
        options = ws_options(
            {
                "requestOptions": {"rejectUnauthorized": True, "ca": "/a.pem"},
                "clientConfig": {"tlsOptions": {"rejectUnauthorized": False}},
            }
        )
        assert options.verify is False
        assert options.ca == ("/a.pem",)

    @pytest.mark.parametrize(
        ("proxy", "expected"),
        [(True, True), (False, None), ("socks5h://127.0.0.1:1080", "socks5h://127.0.0.1:1080")],
    )
    def test_proxy(self, proxy: Any, expected: Any) -> None:
        assert ws_options({"requestOptions": {"proxy": proxy}}).proxy == expected

    def test_local_address_is_normalized(self) -> None:
        options = ws_options({"requestOptions": {"localAddress": "0:0::1"}})
        assert options.local_address == "::1"

    def test_client_config(self) -> None:
        options = ws_options(
            {
                "clientConfig": {
                    "maxReceivedFrameSize": 65536,
                    "maxReceivedMessageSize": 1 << 20,
                    "closeTimeout": 5000,
                    "webSocketVersion": 13,
                }
            }
        )
        assert options == WebSocketOptions(
            max_frame_size=65536, max_message_size=1 << 20, close_timeout=5.0
        )

    def test_empty_sub_options(self) -> None:
        options = ws_options(
            {
                "origin": "",
                "headers": {},
                "requestOptions": None,
                "clientConfig": {"tlsOptions": {}, "closeTimeout": None},
            }
        )
        assert options == WebSocketOptions()

    def test_empty_tls_values_are_skipped(self) -> None:
        assert ws_options({"requestOptions": {"ca": [], "cert": None}}) == WebSocketOptions()

    def test_repr_hides_secrets(self) -> None:
        options = ws_options(
            {
                "origin": "o",
                "headers": {"Authorization": "Bearer abc", "X-A": "1"},
                "requestOptions": {
                    "cert": "/c",
                    "key": "/k",
                    "passphrase": "hunter2",
                    "proxy": "http://u:pw@proxy:8080",
                },
            }
        )
        text = repr(options)
        assert "hunter2" not in text and "abc" not in text and "pw" not in text
        assert "('X-A', '1')" in text and "origin='o'" in text
        assert "passphrase=<hidden>" in text and "('Authorization', <hidden>)" in text
        assert repr(WebSocketOptions()) == "WebSocketOptions()"

    def test_repr_inside_the_configuration(self) -> None:
        config = load(
            websocket_options={"requestOptions": {"cert": "/c", "key": "/k", "passphrase": "p4ss"}}
        )
        assert "p4ss" not in repr(config)

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("origin", "must be a mapping with keys origin, headers"),
            ({"orgin": "x"}, "did you mean 'origin'?"),
            ({"zzz": 1}, "valid keys: origin, headers, requestOptions, clientConfig"),
            ({"origin": 5}, "origin must be a non-empty string"),
            ({"origin": "http://bücher.example"}, "ASCII"),
            ({"origin": "a\r\nb"}, "non-empty string"),
            ({"headers": ["X-A: 1"]}, "headers must be a mapping"),
            ({"headers": {"Bad Name": "1"}}, "invalid header name"),
            ({"headers": {"Host": "x"}}, "set by the WebSocket handshake"),
            ({"headers": {"sec-websocket-protocol": "x"}}, "set by the WebSocket handshake"),
            ({"headers": {"Origin": "x"}}, "give the Origin as 'origin'"),
            ({"headers": {"X-A": "1\r\nX-B: 2"}}, "without control characters"),
            ({"headers": {"X-A": 1}}, "without control characters"),
            ({"requestOptions": "x"}, "requestOptions must be a mapping"),
            ({"requestOptions": {"agent": object()}}, "proxy"),
            ({"requestOptions": {"headers": {}}}, "top-level 'headers'"),
            ({"requestOptions": {"pfx": b"x"}}, "PKCS#12"),
            ({"requestOptions": {"rejectUnauthorised": False}}, "'rejectUnauthorized'"),
            ({"requestOptions": {"rejectUnauthorized": 0}}, "True or False"),
            ({"requestOptions": {"ca": b"\xff"}}, "PEM text"),
            ({"requestOptions": {"ca": 5}}, "non-empty string"),
            ({"requestOptions": {"cert": "-----BEGIN CERTIFICATE-----"}}, "a file path"),
            ({"requestOptions": {"key": "/k"}}, "needs cert"),
            ({"requestOptions": {"servername": 1}}, "servername must be"),
            ({"requestOptions": {"ssl": True}}, "ssl.SSLContext"),
            ({"requestOptions": {"proxy": "ftp://p"}}, "scheme among"),
            ({"requestOptions": {"proxy": "http://"}}, "scheme among"),
            ({"requestOptions": {"proxy": "http://p:99999"}}, "out of range"),
            ({"requestOptions": {"proxy": 3128}}, "non-empty string"),
            ({"requestOptions": {"localAddress": "localhost"}}, "IP address"),
            ({"requestOptions": {"timeout": 0}}, "more than 0 ms"),
            ({"requestOptions": {"timeout": -1}}, "must not be negative"),
            ({"requestOptions": {"timeout": "10"}}, "must be a number"),
            ({"requestOptions": {"timeout": True}}, "must be a number"),
            ({"requestOptions": {"timeout": float("inf")}}, "finite"),
            ({"requestOptions": {"timeout": 10**400}}, "finite"),
            ({"clientConfig": {"keepalive": True}}, "keepalive_interval"),
            ({"clientConfig": {"assembleFragments": False}}, "not supported"),
            ({"clientConfig": {"maxReceivedFrameSize": 0}}, "positive int"),
            ({"clientConfig": {"maxReceivedMessageSize": 1.5}}, "positive int"),
            ({"clientConfig": {"maxReceivedMessageSize": True}}, "positive int"),
            ({"clientConfig": {"closeTimeout": "5"}}, "must be a number"),
            ({"clientConfig": {"webSocketVersion": 8}}, "must be 13"),
            ({"clientConfig": {"webSocketVersion": True}}, "must be 13"),
            ({"clientConfig": {"tlsOptions": {"ciphers": "x"}}}, "valid keys"),
            ({"clientConfig": {"tlsOptions": {"passphrase": 1}}}, "passphrase must be a string"),
        ],
    )
    def test_rejected(self, value: Any, reason: str) -> None:
        exc = ws_error(value)
        assert reason in str(exc)

    def test_the_alias_is_named_in_errors(self) -> None:
        ws_error({"origin": 5}, "websocket_options")

    @pytest.mark.parametrize("key", ["rejectUnauthorized", "ca", "cert", "passphrase"])
    def test_ssl_context_excludes_other_tls_keys(self, key: str, context: ssl.SSLContext) -> None:
        values = {"rejectUnauthorized": False, "ca": "/ca", "cert": "/c", "passphrase": "p"}
        exc = ws_error({"requestOptions": {"ssl": context, key: values[key]}})
        assert "excludes" in str(exc)

    def test_ssl_context_without_the_ssl_module(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delitem(sys.modules, "ssl")
        assert "ssl.SSLContext" in str(ws_error({"requestOptions": {"ssl": object()}}))

    @pytest.mark.parametrize(
        "value",
        [
            {"headers": {"Authorization": "Bearer s3cr3t\n"}},
            {"headers": {"X-Api-Token": ["s3cr3t\n"]}},
            {"headers": {"X-Api-Key": "s3cr3t\r"}},
            {"requestOptions": {"passphrase": b"s3cr3t"}},
            {"requestOptions": {"key": "-----BEGIN s3cr3t"}},
            {"requestOptions": {"proxy": "ftp://u:s3cr3t@p"}},
            {"requestOptions": {"proxy": "http://u:s3cr3t@p:99999"}},
            {"requestOptions": {"pfx": "s3cr3t"}},
        ],
    )
    def test_secrets_never_appear_in_errors(self, value: Any) -> None:
        exc = ws_error(value)
        assert "s3cr3t" not in str(exc) and "s3cr3t" not in repr(exc.value)


# --------------------------------------------------------------------------
# Documentation and architecture
# --------------------------------------------------------------------------


def test_every_parameter_is_documented() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for name in PARAMETERS:
        assert f"### `{name}`" in text, name


def test_config_imports_neither_ssl_nor_socket() -> None:
    code = "import sys, websip.config; print('ssl' in sys.modules, 'socket' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
