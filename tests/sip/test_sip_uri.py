"""URIs: SIP, SIPS, tel and opaque forms, escaping, comparison and target normalization."""

from __future__ import annotations

import pytest

import websip
from websip import URI, ParseError, normalize_target


class TestSipUriComponents:
    """RFC 3261 19.1.1: the components of SIP and SIPS URIs."""

    def test_every_component(self) -> None:
        uri = URI.parse(
            "sips:alice:secret@Atlanta.COM:5061;transport=tcp;lr?Subject=hi&Priority=urgent"
        )
        assert uri.scheme == "sips"
        assert uri.user == "alice"
        assert uri.password == "secret"
        assert uri.host == "atlanta.com"
        assert uri.port == 5061
        assert uri.params == {"transport": "tcp", "lr": None}
        assert uri.headers == {"Subject": ["hi"], "Priority": ["urgent"]}
        assert (
            str(uri)
            == "sips:alice:secret@atlanta.com:5061;transport=tcp;lr?Subject=hi&Priority=urgent"
        )

    def test_scheme_and_host_are_lower_cased_user_is_not(self) -> None:
        uri = URI.parse("SIP:Alice@EXAMPLE.com")
        assert (uri.scheme, uri.user, uri.host) == ("sip", "Alice", "example.com")
        assert str(uri) == "sip:Alice@example.com"

    def test_no_user(self) -> None:
        uri = URI.parse("sip:example.com")
        assert uri.user is None and uri.password is None
        assert uri.host == "example.com" and uri.port is None

    def test_host_and_port_without_user_is_not_user_and_password(self) -> None:
        uri = URI.parse("sip:example.com:5060")
        assert uri.user is None
        assert (uri.host, uri.port) == ("example.com", 5060)

    def test_empty_password(self) -> None:
        uri = URI.parse("sip:alice:@example.com")
        assert (uri.user, uri.password) == ("alice", "")
        assert str(uri) == "sip:alice:@example.com"

    @pytest.mark.parametrize(
        ("text", "host", "port"),
        [
            ("sip:alice@192.0.2.4", "192.0.2.4", None),
            ("sip:alice@192.0.2.4:5080", "192.0.2.4", 5080),
            ("sip:alice@[2001:db8::10]", "[2001:db8::10]", None),
            ("sip:alice@[2001:DB8::10]:5070", "[2001:db8::10]", 5070),
            ("sip:[::1]", "[::1]", None),
            ("sip:[::ffff:192.0.2.10]:19823", "[::ffff:192.0.2.10]", 19823),
            ("sip:alice@host-1.example.com.", "host-1.example.com.", None),
            ("sip:localhost:0", "localhost", 0),
            ("sip:a.invalid:65535", "a.invalid", 65535),
        ],
    )
    def test_host_forms(self, text: str, host: str, port: int | None) -> None:
        uri = URI.parse(text)
        assert (uri.host, uri.port) == (host, port)
        assert URI.parse(str(uri)) == uri

    def test_ipv6_host_given_without_brackets_gets_them(self) -> None:
        uri = URI(host="2001:DB8::1", port=5060)
        assert uri.host == "[2001:db8::1]"
        assert str(uri) == "sip:[2001:db8::1]:5060"

    def test_parameters(self) -> None:
        uri = URI.parse("sip:alice@example.com;Transport=WS;lr;maddr=239.255.255.1;ttl=15;x=")
        assert uri.params == {
            "transport": "WS",
            "lr": None,
            "maddr": "239.255.255.1",
            "ttl": "15",
            "x": "",
        }
        assert uri.get_param("TRANSPORT") == "WS"
        assert uri.get_param("lr") is None and uri.has_param("LR")
        assert uri.get_param("absent") is None and not uri.has_param("absent")
        assert str(uri) == "sip:alice@example.com;transport=WS;lr;maddr=239.255.255.1;ttl=15;x="

    def test_headers_keep_every_value(self) -> None:
        uri = URI.parse("sip:alice@example.com?route=%3Csip:a%3E&Route=%3Csip:b%3E&body=hello")
        assert uri.headers == {"Route": ["<sip:a>", "<sip:b>"], "body": ["hello"]}
        assert uri.get_header("ROUTE") == ["<sip:a>", "<sip:b>"]
        assert str(uri) == "sip:alice@example.com?Route=%3Csip:a%3E&Route=%3Csip:b%3E&body=hello"

    def test_user_with_user_unreserved_characters(self) -> None:
        # RFC 3261 25.1: user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
        uri = URI.parse("sip:+1;phone-context=x&y=z,$/?@example.com;user=phone")
        assert uri.user == "+1;phone-context=x&y=z,$/?"
        assert uri.params == {"user": "phone"}
        assert str(uri) == "sip:+1;phone-context=x&y=z,$/?@example.com;user=phone"

    def test_telephone_subscriber_user(self) -> None:
        uri = URI.parse("sip:+1-212-555-1212:1234@gateway.com;user=phone")
        assert (uri.user, uri.password) == ("+1-212-555-1212", "1234")
        assert uri.get_param("user") == "phone"

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "sip:",
            "sip:@example.com",
            "sip:alice@",
            "sip:alice@example.com:",
            "sip:alice@example.com:65536",
            "sip:alice@example.com:99999999999999999999",
            "sip:alice@exa mple.com",
            "sip:alice@example..com",
            "sip:alice@.example.com",
            "sip:alice@1.2.3.256",
            "sip:alice@[2001:db8::1",
            "sip:alice@2001:db8::1",
            "sip:alice@[2001:db8:::1]",
            "sip:alice@[1:2:3:4:5:6:7:8:9]",
            "sip:alice@[::1.2.3.999]",
            "sip:alice@[zz::1]",
            "sip:al ice@example.com",
            "sip:<alice>@example.com",
            "sip:alice@example.com;",
            "sip:alice@example.com;=x",
            "sip:alice@example.com;a;;b",
            "sip:alice@example.com?x",
            "sip:alice@example.com?=x",
            "sip:alice@example.com?a=b&",
            "sip:alice@example.com ",
            " sip:alice@example.com",
            "<sip:alice@example.com>",
            "sip:alice@example.com\r\n",
            "alice@example.com",
            "sips:",
            "tel:",
            "tel:+1?x=y",
            "1http:x",
            "http:",
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError):
            URI.parse(text)

    def test_port_longer_than_int_digit_limit(self) -> None:
        # int() refuses more than 4300 digits with a ValueError that is no ParseError.
        with pytest.raises(ParseError, match="port"):
            URI.parse("sip:alice@example.com:" + "1" * 5000)

    def test_parse_error_is_a_value_error_and_names_the_uri(self) -> None:
        with pytest.raises(ValueError, match="invalid host"):
            URI.parse("sip:alice@1.2.3.256")

    def test_invalid_port_in_constructor(self) -> None:
        with pytest.raises(ParseError):
            URI(host="example.com", port=70000)
        with pytest.raises(ParseError):
            URI(host="example.com", port=-1)


class TestHostGrammar:
    """RFC 3261 25.1: hostname / IPv4address / IPv6reference (the abnf helpers)."""

    @pytest.mark.parametrize(
        ("host", "valid"),
        [
            ("example.com", True), ("example.com.", True), ("a", True), ("192.0.2.1", True),
            ("[2001:db8::1]", True), ("[::ffff:192.0.2.1]", True), ("[1:2:3:4:5:6:7:8]", True),
            ("", False), ("a_b", False), ("a..b", False), ("1.2.3.256", False), ("1.2.3", False),
            ("[1:2:3:4::5:6:7:8]", False), ("[1:2:3:4:5:6:7]", False), ("[::1", False),
            ("[1::2::3]", False), ("[::1.2.3]", False), ("[::1.2.3.256]", False),
            ("[12345::1]", False),
        ],
    )  # fmt: skip
    def test_is_valid_host(self, host: str, valid: bool) -> None:
        assert websip.sip.abnf.is_valid_host(host) is valid


class TestEscaping:
    """RFC 3261 19.1.2: escaping in the user, password, parameters and headers."""

    def test_escapes_are_decoded(self) -> None:
        uri = URI.parse(
            "sip:%61lice%20smith:p%40ss@example.com;n%61me=v%61lue%25%34%31?Sub%6aect=a%20b"
        )
        assert uri.user == "alice smith"
        assert uri.password == "p@ss"
        assert uri.params == {"name": "value%41"}
        assert uri.headers == {"Subject": ["a b"]}

    def test_str_escapes_what_the_grammar_does_not_allow(self) -> None:
        uri = URI(user='a b@c:d%e"<>#', host="example.com")
        assert str(uri) == "sip:a%20b%40c%3Ad%25e%22%3C%3E%23@example.com"
        assert URI.parse(str(uri)).user == 'a b@c:d%e"<>#'

    def test_utf8_user_is_escaped_as_utf8(self) -> None:
        uri = URI(user="iñaki€", host="example.com")
        assert str(uri) == "sip:i%C3%B1aki%E2%82%AC@example.com"
        assert URI.parse(str(uri)) == uri

    def test_nul_in_user(self) -> None:
        # RFC 4475 3.1.1.4: %00 is a legal escape and decodes to NUL.
        uri = URI.parse("sip:null-%00-null@example.com")
        assert uri.user == "null-\x00-null"
        assert str(uri) == "sip:null-%00-null@example.com"

    def test_unnecessary_escapes_are_removed_on_output(self) -> None:
        uri = URI.parse("sip:%75se%72@example.com")
        assert uri.user == "user"
        assert str(uri) == "sip:user@example.com"

    def test_password_escaping(self) -> None:
        uri = URI(user="alice", password="a:b@c;d", host="example.com")
        assert str(uri) == "sip:alice:a%3Ab%40c%3Bd@example.com"
        assert URI.parse(str(uri)).password == "a:b@c;d"

    def test_parameter_and_header_escaping(self) -> None:
        uri = URI(host="example.com", params={"a b": "c;d=e"}, headers={"X": ["1&2=3 <4>"]})
        text = str(uri)
        assert text == "sip:example.com;a%20b=c%3Bd%3De?X=1%262%3D3%20%3C4%3E"
        assert URI.parse(text) == uri
        assert URI.parse(text).headers == {"X": ["1&2=3 <4>"]}

    def test_param_unreserved_characters_stay(self) -> None:
        # RFC 3261 25.1: param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
        uri = URI.parse("sip:example.com;maddr=[2001:db8::1];x=/a:b&c+d$")
        assert uri.params == {"maddr": "[2001:db8::1]", "x": "/a:b&c+d$"}
        assert str(uri) == "sip:example.com;maddr=[2001:db8::1];x=/a:b&c+d$"

    def test_escaped_header_holding_a_uri(self) -> None:
        # RFC 4475 3.1.2.11 / 3.3.14: escaped "<" and ">" in a URI header.
        uri = URI.parse("sip:user@example.com?Route=%3Csip:example.com%3E")
        assert uri.headers == {"Route": ["<sip:example.com>"]}
        assert str(uri) == "sip:user@example.com?Route=%3Csip:example.com%3E"

    def test_replaces_header_in_refer_to_uri(self) -> None:
        text = "sip:bob@example.com?Replaces=12345%40192.0.2.1%3Bto-tag%3D1%3Bfrom-tag%3D2"
        uri = URI.parse(text)
        assert uri.get_header("replaces") == ["12345@192.0.2.1;to-tag=1;from-tag=2"]
        replaces = websip.parse_header("Replaces", uri.headers["Replaces"][0])
        assert (replaces.call_id, replaces.to_tag, replaces.from_tag) == (
            "12345@192.0.2.1",
            "1",
            "2",
        )
        assert URI.parse(str(uri)) == uri

    @pytest.mark.parametrize(
        "text",
        [
            "sip:al%ice@example.com",
            "sip:alice%4@example.com",
            "sip:alice%@example.com",
            "sip:alice:p%zz@example.com",
            "sip:alice@example.com;a=%g1",
            "sip:alice@example.com;%=1",
            "sip:alice@example.com?a=%2",
            "tel:+1%2",
        ],
    )
    def test_bad_escapes_are_refused(self, text: str) -> None:
        with pytest.raises(ParseError, match="escape"):
            URI.parse(text)

    def test_invalid_utf8_escapes_do_not_fail(self) -> None:
        uri = URI.parse("sip:%FF%FE@example.com")
        assert uri.user == "\xff\xfe"  # kept as latin-1 characters
        assert URI.parse(str(uri)) == uri


class TestTelUri:
    """RFC 3966: tel URIs."""

    def test_global_number(self) -> None:
        uri = URI.parse("tel:+1-201-555-0123")
        assert (uri.scheme, uri.user, uri.host, uri.port) == ("tel", "+1-201-555-0123", "", None)
        assert uri.params == {}
        assert str(uri) == "tel:+1-201-555-0123"

    def test_local_number_with_parameters(self) -> None:
        uri = URI.parse("TEL:7042;phone-context=example.com;ext=22")
        assert uri.scheme == "tel"
        assert uri.user == "7042"
        assert uri.params == {"phone-context": "example.com", "ext": "22"}
        assert str(uri) == "tel:7042;phone-context=example.com;ext=22"

    def test_to_aor(self) -> None:
        assert URI.parse("tel:+1234;ext=5").to_aor() == "tel:+1234"

    def test_number_with_characters_that_need_escaping_round_trips(self) -> None:
        uri = URI(scheme="tel", user="+1;2?3 4")
        assert URI.parse(str(uri)) == uri
        assert URI.parse(str(uri)).user == "+1;2?3 4"

    def test_equality(self) -> None:
        assert URI.parse("tel:+1234") == URI.parse("tel:+1234")
        assert URI.parse("tel:+1234") != URI.parse("tel:+1235")
        assert URI.parse("tel:+1234") != URI.parse("sip:+1234@example.com")


class TestOtherSchemes:
    """RFC 3261 19.1 / 25.1 absoluteURI: other schemes are kept opaque (the core answers 416)."""

    @pytest.mark.parametrize(
        ("text", "scheme", "opaque"),
        [
            ("http://www.example.com", "http", "//www.example.com"),
            ("urn:service:sos", "urn", "service:sos"),
            ("mailto:alice@example.com", "mailto", "alice@example.com"),
            (
                "nobodyKnowsThisScheme:totallyopaquecontent",
                "nobodyknowsthisscheme",
                "totallyopaquecontent",
            ),
            ("soap.beep://192.0.2.103:3002", "soap.beep", "//192.0.2.103:3002"),
            ("isbn:2983792873", "isbn", "2983792873"),
        ],
    )
    def test_opaque(self, text: str, scheme: str, opaque: str) -> None:
        uri = URI.parse(text)
        assert (uri.scheme, uri.opaque) == (scheme, opaque)
        assert uri.user is None and uri.host == ""
        assert str(uri) == f"{scheme}:{opaque}"
        assert uri.to_aor() == f"{scheme}:{opaque}"
        assert URI.parse(str(uri)) == uri

    def test_opaque_equality(self) -> None:
        assert URI.parse("urn:a") == URI.parse("URN:a")
        assert URI.parse("urn:a") != URI.parse("urn:b")
        assert URI.parse("urn:a") != URI.parse("sip:a@example.com")


class TestUriMethods:
    """DESIGN.md section 2: the JsSIP-like methods of URI."""

    def test_param_methods(self) -> None:
        uri = URI.parse("sip:alice@example.com;transport=ws")
        uri.set_param("LR")
        uri.set_param("Expires", 30)
        assert uri.params == {"transport": "ws", "lr": None, "expires": "30"}
        assert str(uri) == "sip:alice@example.com;transport=ws;lr;expires=30"
        assert uri.delete_param("TRANSPORT") == "ws"
        assert uri.delete_param("absent") is None
        assert not uri.has_param("transport")
        uri.clear_params()
        assert uri.params == {} and str(uri) == "sip:alice@example.com"

    def test_header_methods(self) -> None:
        uri = URI.parse("sip:alice@example.com")
        uri.set_header("subject", "hi there")
        uri.set_header("Route", ["<sip:a>", "<sip:b>"])
        assert uri.has_header("SUBJECT")
        assert uri.get_header("Subject") == ["hi there"]
        assert uri.get_header("absent") is None
        assert (
            str(uri)
            == "sip:alice@example.com?Subject=hi%20there&Route=%3Csip:a%3E&Route=%3Csip:b%3E"
        )
        assert uri.delete_header("route") == ["<sip:a>", "<sip:b>"]
        assert uri.delete_header("route") is None
        uri.clear_headers()
        assert not uri.has_header("subject")
        assert str(uri) == "sip:alice@example.com"

    def test_to_aor(self) -> None:
        uri = URI.parse("sip:Alice@Example.com:5070;transport=tcp?Subject=x")
        assert uri.to_aor() == "sip:Alice@example.com"
        assert uri.to_aor(show_port=True) == "sip:Alice@example.com:5070"
        assert URI.parse("sips:example.com").to_aor() == "sips:example.com"
        assert URI(user="a b", host="example.com").to_aor() == "sip:a%20b@example.com"

    def test_copy_is_independent(self) -> None:
        uri = URI.parse("sip:alice@example.com;lr?Route=%3Csip:x%3E")
        clone = uri.copy()
        assert clone == uri and clone is not uri
        clone.set_param("transport", "ws")
        clone.headers["Route"].append("<sip:y>")
        clone.user = "bob"
        assert str(uri) == "sip:alice@example.com;lr?Route=%3Csip:x%3E"

    def test_constructor_defaults(self) -> None:
        uri = URI(host="example.com")
        assert (uri.scheme, uri.user, uri.port, uri.params, uri.headers) == (
            "sip",
            None,
            None,
            {},
            {},
        )
        assert repr(uri) == "URI('sip:example.com')"

    def test_constructor_normalizes_names(self) -> None:
        uri = URI("SIPS", "bob", "Biloxi.COM", 5061, {"Transport": "TLS"}, {"subject": ["x"]})
        assert str(uri) == "sips:bob@biloxi.com:5061;transport=TLS?Subject=x"

    def test_comparison_with_other_types(self) -> None:
        uri = URI.parse("sip:alice@example.com")
        assert uri != "sip:alice@example.com"
        assert (uri == 1) is False


# RFC 3261 19.1.4, the examples given there.
EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
]
NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    # "intransitive": both equal sip:carol@chicago.com, not each other.
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
]


class TestUriComparison:
    """RFC 3261 19.1.4: URI comparison."""

    @pytest.mark.parametrize(("a", "b"), EQUIVALENT)
    def test_equivalent(self, a: str, b: str) -> None:
        ua, ub = URI.parse(a), URI.parse(b)
        assert ua == ub and ub == ua
        assert hash(ua) == hash(ub)

    @pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
    def test_not_equivalent(self, a: str, b: str) -> None:
        ua, ub = URI.parse(a), URI.parse(b)
        assert ua != ub and ub != ua

    def test_sip_and_sips_never_match(self) -> None:
        assert URI.parse("sip:alice@example.com") != URI.parse("sips:alice@example.com")

    @pytest.mark.parametrize("param", ["user", "ttl", "method", "maddr", "transport"])
    def test_significant_parameters_must_be_in_both(self, param: str) -> None:
        assert URI.parse("sip:a@b.c") != URI.parse(f"sip:a@b.c;{param}=x")
        assert URI.parse(f"sip:a@b.c;{param}=X") == URI.parse(f"sip:a@b.c;{param}=x")

    def test_significant_parameter_values_must_match(self) -> None:
        assert URI.parse("sip:a@b.c;transport=tcp") != URI.parse("sip:a@b.c;transport=udp")
        assert URI.parse("sip:a@b.c;maddr=x.y") != URI.parse("sip:a@b.c;maddr=z.y")

    def test_valueless_and_valued_parameter_differ(self) -> None:
        assert URI.parse("sip:a@b.c;lr") != URI.parse("sip:a@b.c;lr=on")
        assert URI.parse("sip:a@b.c;lr") == URI.parse("sip:a@b.c;LR")

    def test_password_must_match(self) -> None:
        assert URI.parse("sip:a:x@b.c") != URI.parse("sip:a:y@b.c")
        assert URI.parse("sip:a:x@b.c") != URI.parse("sip:a@b.c")

    def test_header_values_must_match(self) -> None:
        assert URI.parse("sip:a@b.c?X=1") != URI.parse("sip:a@b.c?X=2")
        assert URI.parse("sip:a@b.c?x=1") == URI.parse("sip:a@b.c?X=1")

    def test_hashable_in_sets(self) -> None:
        uris = {URI.parse(a) for a, _ in EQUIVALENT} | {URI.parse(b) for _, b in EQUIVALENT}
        assert URI.parse("sip:alice@atlanta.com;transport=tcp") in uris


class TestNormalizeTarget:
    """DESIGN.md section 2: ``normalize_target`` as JsSIP's ``normalizeTarget`` (test vectors of
    JsSIP's test-normalizeTarget), except that ``sips:`` is kept."""

    @pytest.mark.parametrize(
        ("target", "expected"),
        [
            ("%61lice", "sip:alice@jssip.net"),
            ("ALICE", "sip:ALICE@jssip.net"),
            ("alice@DOMAIN.com", "sip:alice@domain.com"),
            ("iñaki", "sip:i%C3%B1aki@jssip.net"),
            ("€€€", "sip:%E2%82%AC%E2%82%AC%E2%82%AC@jssip.net"),
            ("iñaki@aliax.net", "sip:i%C3%B1aki@aliax.net"),
            ("SIP:iñaki@aliax.net:7070", "sip:i%C3%B1aki@aliax.net:7070"),
            ("ibc@gmail.com@aliax.net", "sip:ibc%40gmail.com@aliax.net"),
            ("alice-1:passwd", "sip:alice-1:passwd@jssip.net"),
            ("SIP:alice-2:passwd", "sip:alice-2:passwd@jssip.net"),
            ("alice-3:passwd@domain.COM", "sip:alice-3:passwd@domain.com"),
            ("SIP:alice-4:passwd@domain.COM", "sip:alice-4:passwd@domain.com"),
            ("sip:+1234@aliax.net", "sip:+1234@aliax.net"),
            ("+999", "sip:+999@jssip.net"),
            ("*999", "sip:*999@jssip.net"),
            ("#999/?:1234", "sip:%23999/?:1234@jssip.net"),
            ("tel:+12345678", "sip:+12345678@jssip.net"),
            ("tel:(+34)-944-43-89", "sip:+349444389@jssip.net"),
            ("+123.456.78-9", "sip:+123456789@jssip.net"),
            ("+ALICE-123.456.78-9", "sip:+ALICE-123.456.78-9@jssip.net"),
        ],
    )
    def test_jssip_vectors(self, target: str, expected: str) -> None:
        uri = normalize_target(target, "jssip.net")
        assert isinstance(uri, URI)
        assert str(uri) == expected

    def test_user_and_password_like_jssip(self) -> None:
        uri = normalize_target("alice-1:passwd", "jssip.net")
        assert uri is not None
        assert (uri.user, uri.password) == ("alice-1", "passwd")

    def test_sips_is_kept(self) -> None:
        assert (
            str(normalize_target("SIPs:iñaki@aliax.net:7070")) == "sips:i%C3%B1aki@aliax.net:7070"
        )
        assert str(normalize_target("sips:alice-2:passwd", "jssip.net")) == (
            "sips:alice-2:passwd@jssip.net"
        )

    @pytest.mark.parametrize(
        "target",
        [None, "", "ibc@iñaki.com", "ibc@aliax.net;;;;;", "sip:", "@", "@aliax.net", 5, b"x"],
    )
    def test_invalid_targets(self, target: object) -> None:
        assert normalize_target(target, "jssip.net") is None  # type: ignore[arg-type]

    def test_bare_user_needs_a_domain(self) -> None:
        assert normalize_target("alice") is None
        assert normalize_target("alice", None) is None
        assert str(normalize_target("alice@example.com")) == "sip:alice@example.com"

    def test_uri_is_returned_as_is(self) -> None:
        uri = URI.parse("sip:bob@example.com")
        assert normalize_target(uri, "jssip.net") is uri

    def test_bad_escape_gives_none(self) -> None:
        assert normalize_target("al%zzice", "jssip.net") is None
