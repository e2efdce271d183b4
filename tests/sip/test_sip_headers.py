"""Typed header values: one class of tests per header family, named after its RFC section."""

# ruff: noqa: E501 - test vectors (SIP lines, RFC examples) stay one per line.

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import websip
from websip import URI, Challenge, Credentials, CSeq, NameAddr, ParseError, Via, parse_header
from websip.sip import (
    WILDCARD,
    ContentDisposition,
    Event,
    MediaType,
    MinSE,
    RAck,
    Reason,
    Replaces,
    RetryAfter,
    SessionExpires,
    SubscriptionState,
    Warning,
    format_date,
    split_list,
)


def render(value: Any) -> str:
    """The header text of a typed value (what a message writes for it)."""
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    if isinstance(value, datetime):
        return format_date(value)
    return str(value)


class TestNameAddr:
    """RFC 3261 20.10 and 25.1: name-addr and addr-spec with header parameters."""

    def test_quoted_display_name_with_escapes(self) -> None:
        # RFC 4475 3.1.1.1: "J Rosenberg \\\"" is the display name J Rosenberg \"
        na = NameAddr.parse('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8')
        assert na.display_name == 'J Rosenberg \\"'
        assert na.uri == URI.parse("sip:jdrosen@example.com")
        assert na.tag == "98asjd8"
        assert str(na) == '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8'
        assert NameAddr.parse(str(na)) == na

    def test_quoted_display_name_with_comma_and_utf8(self) -> None:
        na = NameAddr.parse('"Zoë, 日本" <sip:z@example.com>;tag=1')
        assert na.display_name == "Zoë, 日本"
        assert str(na) == '"Zoë, 日本" <sip:z@example.com>;tag=1'

    def test_quoted_pair_of_any_character(self) -> None:
        na = NameAddr.parse('"a\\b\\\\c" <sip:a@b.c>')
        assert na.display_name == "ab\\c"

    def test_empty_quoted_display_name(self) -> None:
        na = NameAddr.parse('""<sip:a@b.c>')
        assert na.display_name == ""
        assert str(na) == '"" <sip:a@b.c>'

    @pytest.mark.parametrize(
        ("text", "display"),
        [
            ("caller<sip:caller@example.com>", "caller"),
            ("A. Bell <sip:a.g.bell@example.com>", "A. Bell"),
            (
                "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>",
                "token1~` token2'+_ token3*%!.-",
            ),
            ("Zoë <sip:z@example.com>", "Zoë"),
        ],
    )
    def test_token_display_names(self, text: str, display: str) -> None:
        na = NameAddr.parse(text)
        assert na.display_name == display
        assert str(na).startswith(f'"{display}" <')  # written back quoted
        assert NameAddr.parse(str(na)) == na

    def test_name_addr_without_display_name(self) -> None:
        na = NameAddr.parse("<sip:+19725552222@gw1.example.net;unknownparam>")
        assert na.display_name is None
        assert na.uri.params == {"unknownparam": None}
        assert na.params == {}

    def test_addr_spec_parameters_are_header_parameters(self) -> None:
        # RFC 3261 20.10 / RFC 4475 3.3.12: without <>, ";..." belongs to the header.
        na = NameAddr.parse("sip:+19725552222@gw1.example.net;unknownparam;tag=5")
        assert na.uri.params == {}
        assert na.params == {"unknownparam": None, "tag": "5"}
        assert str(na) == "<sip:+19725552222@gw1.example.net>;unknownparam;tag=5"

    def test_addr_spec_with_quoted_parameter_holding_angle_brackets(self) -> None:
        na = NameAddr.parse('sip:alice@192.0.2.1;+sip.instance="<urn:uuid:f81d4fae-7dec>"')
        assert na.display_name is None
        assert na.uri == URI.parse("sip:alice@192.0.2.1")
        assert na.get_param("+sip.instance") == "<urn:uuid:f81d4fae-7dec>"

    def test_whitespace_around_everything(self) -> None:
        na = NameAddr.parse('\t "x" \t<sip:a@b.c>  ;  tag  =  1 ; lr \t')
        assert (na.display_name, na.tag, na.params) == ("x", "1", {"tag": "1", "lr": None})

    def test_quoted_parameters_containing_separators_keep_their_quotes(self) -> None:
        # RFC 5627 / RFC 5626 / RFC 3840: gruu and instance parameters are quoted strings.
        text = (
            "<sip:alice@192.0.2.1;transport=ws>;expires=3600;q=0.7;reg-id=1;+sip.ice"
            ';+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"'
            ';pub-gruu="sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"'
            ';temp-gruu="sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr"'
            ';+sip.message="a,b"'
        )
        na = NameAddr.parse(text)
        assert na.expires == 3600
        assert na.q == 0.7
        assert na.get_param("reg-id") == "1"
        assert na.has_param("+sip.ice") and na.get_param("+sip.ice") is None
        assert na.get_param("+sip.instance") == "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"
        assert na.get_param("pub-gruu") == (
            "sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
        )
        assert na.get_param("temp-gruu") == (
            "sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr"
        )
        assert na.get_param("+sip.message") == "a,b"
        assert str(na) == text
        assert NameAddr.parse(str(na)) == na

    def test_token_value_that_arrived_quoted_stays_quoted(self) -> None:
        na = NameAddr.parse('<sip:a@b.c>;+sip.feature="token"')
        assert na.get_param("+sip.feature") == "token"
        assert str(na) == '<sip:a@b.c>;+sip.feature="token"'
        na.set_param("+sip.feature", "other")
        assert str(na) == "<sip:a@b.c>;+sip.feature=other"

    def test_quoted_value_with_escaped_quote(self) -> None:
        na = NameAddr.parse('<sip:a@b.c> ;x="a\\"b"')
        assert na.get_param("x") == 'a"b'
        assert str(na) == '<sip:a@b.c>;x="a\\"b"'

    def test_ipv6_received_style_parameter_values(self) -> None:
        na = NameAddr.parse("<sip:a@b.c>;received=[2001:db8::1];x=2001:db8::2")
        assert na.params == {"received": "[2001:db8::1]", "x": "2001:db8::2"}
        assert str(na) == "<sip:a@b.c>;received=[2001:db8::1];x=2001:db8::2"

    @pytest.mark.parametrize(
        "text",
        [
            "",
            " ",
            "<>",
            '"Mr. J. User <sip:j.user@example.com>',  # RFC 4475 3.1.2.6 unbalanced quote
            '"Watson, Thomas" < sip:t.watson@example.org >',  # RFC 4475 3.1.2.14
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",  # RFC 4475 3.1.2.15
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # RFC 4475 3.1.2.13
            "sip:a@b.c,d",
            "sip:a b@c.d",
            '"a" sip:a@b.c',
            "<sip:a@b.c",
            "<sip:a@b.c>x",
            "<sip:a@b.c>;",
            "<sip:a@b.c>;;;;",
            "<sip:a@b.c>;tag=",
            "<sip:a@b.c>;tag=a b",
            "<sip:a@b.c>, <sip:d@e.f>",
            "<sip:a@[::1>",
            "a<b <sip:a@b.c>",
            '<sip:a@b.c>;x="unterminated',
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError):
            NameAddr.parse(text)

    def test_error_names_the_header(self) -> None:
        with pytest.raises(ParseError) as info:
            parse_header("From", "Bell, Alexander <sip:a.g.bell@example.com>;tag=43")
        assert info.value.header == "From"
        assert "display name" in str(info.value) and "From" in str(info.value)

    def test_constructor(self) -> None:
        na = NameAddr("sip:bob@biloxi.com", 'Bob "B"', {"Tag": "a6c85cf"})
        assert na.uri == URI.parse("sip:bob@biloxi.com")
        assert na.params == {"tag": "a6c85cf"}
        assert str(na) == '"Bob \\"B\\"" <sip:bob@biloxi.com>;tag=a6c85cf'
        assert NameAddr.parse(str(na)) == na
        assert repr(na) == f"NameAddr({str(na)!r})"
        assert NameAddr(URI.parse("sip:a@b.c")) == NameAddr.parse("<sip:a@b.c>")

    def test_constructor_refuses_crlf_in_display_name(self) -> None:
        with pytest.raises(ParseError):
            NameAddr("sip:a@b.c", "x\r\nVia: evil")

    def test_param_methods(self) -> None:
        na = NameAddr.parse("<sip:a@b.c>;tag=1")
        na.set_param("Expires", 60)
        na.set_param("lr")
        na.set_param("x", "needs quoting; here")
        assert str(na) == '<sip:a@b.c>;tag=1;expires=60;lr;x="needs quoting; here"'
        assert na.delete_param("TAG") == "1"
        assert na.tag is None
        na.clear_params()
        assert str(na) == "<sip:a@b.c>"

    @pytest.mark.parametrize(("name", "value"), [("a b", "1"), ("x", "a\r\nb"), ("x", "a\nb")])
    def test_set_param_refuses_bad_names_and_crlf(self, name: str, value: str) -> None:
        with pytest.raises(ParseError):
            NameAddr.parse("<sip:a@b.c>").set_param(name, value)

    def test_copy_is_independent(self) -> None:
        na = NameAddr.parse('"A" <sip:a@b.c;lr>;tag=1')
        clone = na.copy()
        assert clone == na
        clone.set_param("tag", "2")
        clone.uri.set_param("transport", "ws")
        assert str(na) == '"A" <sip:a@b.c;lr>;tag=1'

    def test_equality(self) -> None:
        assert NameAddr.parse("<sip:a@b.c>;tag=1") == NameAddr.parse("sip:a@b.c;TAG=1")
        assert NameAddr.parse("<sip:a@b.c>;tag=1") != NameAddr.parse("<sip:a@b.c>;tag=2")
        assert NameAddr.parse('"A" <sip:a@b.c>') != NameAddr.parse("<sip:a@b.c>")
        assert NameAddr.parse("<sip:a@b.c>") != "sip:a@b.c"

    @pytest.mark.parametrize(
        ("expires", "value"),
        [("0", 0), ("3600", 3600), ("4294967295", 4294967295), ("4294967296", None),
         ("280297596632815", None), ("-1", None), ('"²"', None), ('"١٢"', None), ("abc", None)],
    )  # fmt: skip
    def test_expires_property(self, expires: str, value: int | None) -> None:
        # RFC 3261 10.2.1.1 / RFC 4475 3.1.2.4: a bad or overflowing expires is "absent".
        assert NameAddr.parse(f"<sip:a@b.c>;expires={expires}").expires == value

    @pytest.mark.parametrize(
        ("q", "value"),
        [("0", 0.0), ("1", 1.0), ("0.5", 0.5), ("0.333", 0.333), ("1.000", 1.0),
         ("nan", None), ("inf", None), ("1.5", None), ("2", None), ("0.1234", None), ("x", None)],
    )  # fmt: skip
    def test_q_property(self, q: str, value: float | None) -> None:
        # RFC 3261 25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        assert NameAddr.parse(f"<sip:a@b.c>;q={q}").q == value

    def test_missing_properties(self) -> None:
        na = NameAddr.parse("<sip:a@b.c>")
        assert (na.tag, na.expires, na.q) == (None, None, None)


class TestContact:
    """RFC 3261 20.10: Contact, including the wildcard and lists."""

    def test_wildcard(self) -> None:
        assert parse_header("Contact", "*") == WILDCARD == "*"
        assert parse_header("m", " * ") == "*"

    def test_list_split_at_top_level_commas_only(self) -> None:
        value = (
            '"Doe, John" <sip:a@b.c;x=1>;+sip.instance="<urn:uuid:1>";q=0.5, '
            'sip:c@d.e;expires=60, <sip:f@g.h>;p="a,b;c"'
        )
        contacts = parse_header("Contact", value)
        assert [str(c.uri) for c in contacts] == ["sip:a@b.c;x=1", "sip:c@d.e", "sip:f@g.h"]
        assert contacts[0].display_name == "Doe, John"
        assert contacts[0].q == 0.5
        assert contacts[1].expires == 60
        assert contacts[2].get_param("p") == "a,b;c"
        assert parse_header("Contact", render(contacts)) == contacts

    def test_single_entry_is_not_a_list(self) -> None:
        assert isinstance(parse_header("Contact", "<sip:a@b.c>"), NameAddr)


class TestVia:
    """RFC 3261 20.42 and 25.1 (via-parm), RFC 3581 (rport), RFC 5118 4.5 (IPv6)."""

    def test_websocket_via_with_valueless_rport(self) -> None:
        via = Via.parse("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks;rport")
        assert (via.protocol, via.protocol_name, via.protocol_version) == ("SIP/2.0", "SIP", "2.0")
        assert via.transport == "WSS"
        assert (via.host, via.port, via.sent_by) == (
            "df7jal23ls0d.invalid",
            None,
            ("df7jal23ls0d.invalid", None),
        )
        assert via.branch == "z9hG4bK56sdasks"
        assert via.has_param("rport") and via.rport is None
        assert str(via) == "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks;rport"

    def test_rport_received_maddr_ttl(self) -> None:
        via = Via.parse(
            "SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207;rport=5066;maddr=224.2.0.1;ttl=16;branch=z9hG4bKx"
        )
        assert (via.host, via.port) == ("192.0.2.1", 5060)
        assert via.received == "192.0.2.207"
        assert via.rport == 5066
        assert via.maddr == "224.2.0.1"
        assert via.ttl == 16
        assert via.branch == "z9hG4bKx"

    @pytest.mark.parametrize(
        ("text", "host", "port", "received"),
        [
            ("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3", "[2001:db8::9:1]", None, "2001:db8::9:255"),
            ("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3", "[2001:db8::9:1]", None, "[2001:db8::9:255]"),
            ("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3", "[2001:db8::9:1]", 6050, None),
            ("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19", "[::ffff:192.0.2.10]", 19823, None),
            ("SIP/2.0/TCP [2001:DB8::9:255];branch=z9hG4bK451jj;received=192.0.2.200", "[2001:db8::9:255]", None, "192.0.2.200"),
        ],
    )  # fmt: skip
    def test_ipv6_sent_by_and_received(
        self, text: str, host: str, port: int | None, received: str | None
    ) -> None:
        via = Via.parse(text)
        assert (via.host, via.port, via.received) == (host, port, received)
        assert Via.parse(str(via)) == via

    @pytest.mark.parametrize("port", ["65536", "99999"])
    def test_port_out_of_range(self, port: str) -> None:
        with pytest.raises(ParseError, match="port"):
            Via.parse(f"SIP/2.0/UDP host.example.com:{port};branch=z9hG4bK1")

    def test_lws_everywhere(self) -> None:
        # RFC 4475 3.1.1.1: SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8
        via = Via.parse(
            "SIP  / 2.0  / tcp     spindle.example.com   ;   branch  =   z9hG4bK9ikj8  "
        )
        assert (via.transport, via.host, via.branch) == (
            "TCP",
            "spindle.example.com",
            "z9hG4bK9ikj8",
        )
        assert str(via) == "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8"

    def test_space_between_host_and_port(self) -> None:
        assert Via.parse("SIP/2.0/UDP host.example.com : 5070").port == 5070

    def test_unknown_transport_and_token_characters_in_branch(self) -> None:
        via = Via.parse("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bK-.!%66*_+`'~")
        assert via.transport == "UNKNOWN"
        assert via.branch == "z9hG4bK-.!%66*_+`'~"  # a token: never unescaped

    def test_constructor_and_param_methods(self) -> None:
        via = Via("ws", "2001:DB8::1", 8080, {"Branch": "z9hG4bK1"})
        assert via.host == "[2001:db8::1]"
        via.set_param("rport")
        assert str(via) == "SIP/2.0/WS [2001:db8::1]:8080;branch=z9hG4bK1;rport"
        via.set_param("rport", 5060)
        via.set_param("received", "192.0.2.1")
        assert via.rport == 5060
        assert Via.parse(str(via)) == via
        assert repr(via) == f"Via({str(via)!r})"
        assert via != str(via)

    @pytest.mark.parametrize("rport", ['"²"', '"١٢"', "x", '"99999999999999999999"'])
    def test_bad_numeric_params_read_as_none(self, rport: str) -> None:
        via = Via.parse(f"SIP/2.0/UDP h.example.com;rport={rport};ttl={rport}")
        assert via.rport is None and via.ttl is None

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "SIP/2.0 host",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP ",
            "SIP/2.0/UDP host:123456",
            "SIP/2.0/UDP host:65536",
            "SIP/2.0/UDP 192.0.2.15;;,;,,",  # RFC 4475 3.1.2.1
            "SIP/2.0/UDP host;branch=",
            "SIP/2.0/UDP host x",
            "SIP/2.0/UDP [2001:db8::1",
            "SIP/2.0/UDP [2001:db8:::1:2:3:4:5:6]",
            "SIP/2.0/UDP 1.2.3.999",
            "SIP/2.0/UDP host..com",
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError) as info:
            Via.parse(text)
        assert info.value.header == "Via"

    def test_several_vias_in_one_value(self) -> None:
        vias = parse_header(
            "v",
            "SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/TCP b.example.com;branch=z9hG4bK2",
        )
        assert [v.branch for v in vias] == ["z9hG4bK1", "z9hG4bK2"]


class TestCSeq:
    """RFC 3261 20.16: CSeq."""

    def test_parse_and_format(self) -> None:
        cseq = CSeq.parse("  0009 \t INVITE ")
        assert (cseq.seq, cseq.method) == (9, "INVITE")
        assert str(cseq) == "9 INVITE"
        assert repr(cseq) == "CSeq(9, 'INVITE')"
        assert cseq == CSeq(9, "INVITE") and hash(cseq) == hash(CSeq(9, "INVITE"))
        assert cseq != CSeq(9, "ACK") and cseq != CSeq(10, "INVITE") and cseq != "9 INVITE"

    def test_limits(self) -> None:
        assert CSeq.parse("4294967295 REGISTER").seq == 2**32 - 1
        assert CSeq.parse("0 INVITE").seq == 0
        with pytest.raises(ParseError, match="2\\*\\*32"):
            CSeq.parse("4294967296 REGISTER")

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "INVITE",
            "1",
            "-1 INVITE",
            "1INVITE",
            "1 INV ITE",
            "36893488147419103232 REGISTER",
            '1 IN"VITE',
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError) as info:
            CSeq.parse(text)
        assert info.value.header == "CSeq"

    def test_extension_method_token(self) -> None:
        cseq = parse_header("CSeq", "139122385 !interesting-Method0123456789_*+`.%indeed'~")
        assert cseq.method == "!interesting-Method0123456789_*+`.%indeed'~"


class TestScalars:
    """RFC 3261 20.8 Call-ID, 20.14 Content-Length, 20.19 Expires, 20.22 Max-Forwards,
    20.23 Min-Expires; RFC 3262 7.1 RSeq."""

    @pytest.mark.parametrize(
        ("name", "text", "value"),
        [
            ("Max-Forwards", "70", 70),
            ("Max-Forwards", " 0068 ", 68),
            ("Max-Forwards", "0", 0),
            ("Max-Forwards", "255", 255),
            ("Expires", "0", 0),
            ("Expires", "4294967295", 2**32 - 1),
            ("Min-Expires", "60", 60),
            ("Content-Length", "0", 0),
            ("l", "349", 349),
            ("RSeq", "988789", 988789),
            ("RSeq", "2147483647", 2**31 - 1),
        ],
    )
    def test_numbers(self, name: str, text: str, value: int) -> None:
        assert parse_header(name, text) == value
        assert parse_header(name, str(value)) == value

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("Max-Forwards", "256"),
            ("Max-Forwards", "300"),
            ("Max-Forwards", "-1"),
            ("Max-Forwards", ""),
            ("Max-Forwards", "7 0"),
            ("Expires", "4294967296"),
            ("Expires", "1" + "0" * 100),
            ("Expires", "1.5"),
            ("Min-Expires", "x"),
            ("Content-Length", "-999"),
            ("Content-Length", "1" * 5000),
            ("Content-Length", "٣"),
            ("RSeq", "2147483648"),
        ],
    )
    def test_invalid_numbers(self, name: str, text: str) -> None:
        with pytest.raises(ParseError) as info:
            parse_header(name, text)
        assert info.value.header == websip.sip.names.canonical_name(name)

    @pytest.mark.parametrize(
        "call_id",
        ["a84b4c76e66710@pc33.atlanta.com", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"],
    )  # fmt: skip
    def test_call_id(self, call_id: str) -> None:
        assert parse_header("Call-ID", f"  {call_id} ") == call_id
        assert parse_header("i", call_id) == call_id

    @pytest.mark.parametrize("call_id", ["", "a b", "a@b@c", "a;b", "@b", "a@"])
    def test_invalid_call_id(self, call_id: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Call-ID", call_id)


class TestTokenLists:
    """RFC 3261 20.5 Allow, 20.37 Supported, 20.32 Require, 20.29 Proxy-Require,
    20.40 Unsupported, 20.12 Content-Encoding; RFC 6665 7.2.2 Allow-Events."""

    @pytest.mark.parametrize(
        ("name", "text", "tokens"),
        [
            ("Allow", "INVITE, ACK,CANCEL ,\tOPTIONS, BYE", ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE"]),
            ("Supported", "", []),
            ("k", "path, gruu, outbound", ["path", "gruu", "outbound"]),
            ("Require", "100rel", ["100rel"]),
            ("Proxy-Require", "noProxiesSupportThis, norDoAnyProxiesSupportThis", ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]),
            ("Unsupported", "timer", ["timer"]),
            ("Allow-Events", "presence, dialog", ["presence", "dialog"]),
            ("u", "refer", ["refer"]),
            ("Content-Encoding", "gzip", ["gzip"]),
            ("e", "gzip, deflate", ["gzip", "deflate"]),
        ],
    )  # fmt: skip
    def test_lists(self, name: str, text: str, tokens: list[str]) -> None:
        assert parse_header(name, text) == tokens
        assert parse_header(name, render(tokens)) == tokens

    @pytest.mark.parametrize("text", ["a b", "a,,b", "a,", "<x>", '"a"'])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError) as info:
            parse_header("Supported", text)
        assert info.value.header == "Supported"


class TestMediaTypes:
    """RFC 3261 20.1 Accept, 20.11 Content-Disposition, 20.15 Content-Type."""

    def test_content_type(self) -> None:
        ct = parse_header("c", 'Multipart/Mixed ; boundary="7a9c;bec" ;charset=UTF-8')
        assert isinstance(ct, MediaType)
        assert (ct.type, ct.subtype, ct.mime_type) == ("multipart", "mixed", "multipart/mixed")
        assert ct.get_param("boundary") == "7a9c;bec"
        assert ct.get_param("CHARSET") == "UTF-8"
        assert str(ct) == 'multipart/mixed;boundary="7a9c;bec";charset=UTF-8'
        assert MediaType.parse(str(ct)) == ct
        assert ct == MediaType("multipart", "mixed", {"boundary": "7a9c;bec", "charset": "UTF-8"})
        assert repr(MediaType("application", "sdp")) == "MediaType('application/sdp')"

    def test_accept_list(self) -> None:
        # RFC 4475 3.1.1.9 (folded list)
        accept = parse_header("Accept", "application/sdp;level=1, */*;q=0.1,  application/*")
        assert [a.mime_type for a in accept] == ["application/sdp", "*/*", "application/*"]
        assert accept[1].get_param("q") == "0.1"

    def test_empty_accept_means_nothing_is_acceptable(self) -> None:
        # RFC 3261 20.1: "An empty Accept header field means that no formats are acceptable."
        assert parse_header("Accept", "") == []

    @pytest.mark.parametrize("text", ["", "application", "application/", "/sdp", "a/b c", "a/b;"])
    def test_invalid_content_type(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Content-Type", text)

    def test_invalid_accept_names_accept(self) -> None:
        with pytest.raises(ParseError) as info:
            parse_header("Accept", "application")
        assert info.value.header == "Accept"

    def test_content_disposition(self) -> None:
        cd = parse_header("Content-Disposition", "Session;handling=optional")
        assert isinstance(cd, ContentDisposition)
        assert cd.disposition == "session" and cd.get_param("handling") == "optional"
        assert str(cd) == "session;handling=optional"
        assert cd == ContentDisposition("session", {"handling": "optional"})


class TestAuthentication:
    """RFC 3261 20.7, 20.27, 20.28, 20.44 and 22.4; RFC 7616 3.4 quoting; RFC 2617 3.2.3."""

    CHALLENGE = (
        'Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=SHA-256'
    )

    @pytest.mark.parametrize("name", ["WWW-Authenticate", "Proxy-Authenticate"])
    def test_challenge(self, name: str) -> None:
        ch = parse_header(name, self.CHALLENGE)
        assert isinstance(ch, Challenge)
        assert ch.scheme == "Digest"
        assert ch.realm == "atlanta.com"
        assert ch.nonce == "f84f1cec41e6cbe5aea9c8e88d359"
        assert ch.opaque == ""
        assert ch.algorithm == "SHA-256"
        assert ch.qop == ["auth", "auth-int"]
        assert ch.stale is False
        assert ch.params["domain"] == "sip:ss1.carrier.com"
        assert Challenge.parse(str(ch)) == ch
        assert "atlanta.com" in repr(ch)

    def test_challenge_defaults_and_case(self) -> None:
        ch = Challenge.parse('digest REALM="r",nonce=abc,STALE=true')
        assert ch.algorithm == "MD5"  # RFC 7616 3.3: absent means MD5
        assert ch.qop == []
        assert ch.stale is True
        assert ch.opaque is None
        assert ch.params == {"realm": "r", "nonce": "abc", "stale": "true"}
        assert ch == Challenge("Digest", {"realm": "r", "nonce": "abc", "stale": "true"})
        assert ch != Credentials("Digest", {"realm": "r", "nonce": "abc", "stale": "true"})

    def test_scheme_only(self) -> None:
        assert Challenge.parse("Basic").params == {}
        assert Challenge("Digest").params == {} and Credentials("Digest").params == {}

    def test_trailing_comma_and_whitespace(self) -> None:
        assert Challenge.parse('Digest realm="r" , nonce=n, \t').params == {
            "realm": "r",
            "nonce": "n",
        }

    def test_challenge_with_escaped_quote(self) -> None:
        ch = Challenge.parse('Digest realm="a \\"b\\" c", nonce="n"')
        assert ch.realm == 'a "b" c'
        assert Challenge.parse(str(ch)) == ch

    @pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization"])
    def test_credentials(self, name: str) -> None:
        text = (
            'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
            'uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", '
            'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", '
            "algorithm=MD5"
        )
        cred = parse_header(name, text)
        assert isinstance(cred, Credentials)
        assert cred.params["username"] == "bob"
        assert cred.params["uri"] == "sip:bob@biloxi.com"
        assert cred.params["nc"] == "00000001"
        assert str(cred) == text  # RFC 7616: qop, nc and algorithm are not quoted
        assert Credentials.parse(str(cred)) == cred

    def test_credentials_quote_what_must_be_quoted(self) -> None:
        cred = Credentials("Digest", {"username": "a", "realm": "r", "nonce": "n", "uri": "sip:x",
                                      "response": "0" * 32, "qop": "auth", "nc": "00000001",
                                      "cnonce": "c", "algorithm": "SHA-256", "x": "a b"})  # fmt: skip
        assert str(cred) == (
            'Digest username="a", realm="r", nonce="n", uri="sip:x", response="' + "0" * 32 + '", '
            'qop=auth, nc=00000001, cnonce="c", algorithm=SHA-256, x="a b"'
        )

    def test_credentials_repr_hides_the_response(self) -> None:
        cred = Credentials("Digest", {"username": "bob", "realm": "r", "response": "secret-hash"})
        assert "secret-hash" not in repr(cred)
        assert "bob" in repr(cred)

    def test_unknown_scheme(self) -> None:
        # RFC 4475 3.3.7
        cred = parse_header("Authorization", "NoOneKnowsThisScheme opaque-data=here")
        assert cred.scheme == "NoOneKnowsThisScheme"
        assert cred.params == {"opaque-data": "here"}

    def test_authentication_info(self) -> None:
        info = parse_header(
            "Authentication-Info",
            'nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="abc", cnonce="x", nc=00000001',
        )
        assert info == {"nextnonce": "47364c23432d2e131a5fb210812c", "qop": "auth", "rspauth": "abc",
                        "cnonce": "x", "nc": "00000001"}  # fmt: skip

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "Digest realm",
            'Digest realm="x',
            "Digest realm=a b",
            "Digest realm=a,,nonce=b",
            "Digest =x",
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError) as info:
            parse_header("WWW-Authenticate", text)
        assert info.value.header == "WWW-Authenticate"


class TestEvents:
    """RFC 6665 8.2.1 Event and 8.2.3 Subscription-State."""

    def test_event(self) -> None:
        ev = parse_header("o", "presence.winfo ; id=1234")
        assert isinstance(ev, Event)
        assert (ev.event, ev.id) == ("presence.winfo", "1234")
        assert str(ev) == "presence.winfo;id=1234"
        assert ev == Event("presence.winfo", {"id": "1234"})
        assert Event.parse("refer").id is None

    @pytest.mark.parametrize(
        ("text", "state", "reason", "expires", "retry"),
        [
            ("active;expires=3600", "active", None, 3600, None),
            ("Pending", "pending", None, None, None),
            ("terminated;reason=timeout;retry-after=30", "terminated", "timeout", None, 30),
            ("terminated;reason=noresource;expires=x", "terminated", "noresource", None, None),
        ],
    )
    def test_subscription_state(
        self, text: str, state: str, reason: str | None, expires: int | None, retry: int | None
    ) -> None:
        ss = parse_header("Subscription-State", text)
        assert isinstance(ss, SubscriptionState)
        assert (ss.state, ss.reason, ss.expires, ss.retry_after) == (state, reason, expires, retry)
        assert SubscriptionState.parse(str(ss)) == ss

    def test_subscription_state_constructor(self) -> None:
        ss = SubscriptionState("Active", {"expires": "600"})
        assert (ss.state, ss.expires, str(ss)) == ("active", 600, "active;expires=600")
        assert SubscriptionState("pending").params == {}

    @pytest.mark.parametrize("text", ["", ";expires=1", "active expires", "a b"])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Subscription-State", text)
        with pytest.raises(ParseError):
            parse_header("Event", text)


class TestSessionTimers:
    """RFC 4028 4 Session-Expires and 5 Min-SE."""

    def test_session_expires(self) -> None:
        se = parse_header("x", "1800 ; refresher=UAC")
        assert isinstance(se, SessionExpires)
        assert (se.delta, se.refresher) == (1800, "uac")
        assert str(se) == "1800;refresher=UAC"
        assert se == SessionExpires(1800, {"refresher": "UAC"})
        assert SessionExpires.parse("90").refresher is None

    def test_min_se(self) -> None:
        mse = parse_header("Min-SE", "90")
        assert isinstance(mse, MinSE) and mse.delta == 90
        assert str(mse) == "90" and mse == MinSE(90)
        assert mse != SessionExpires(90)

    @pytest.mark.parametrize("text", ["", "-1", "abc", "1800;", "99999999999"])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Session-Expires", text)


class TestReliableProvisional:
    """RFC 3262 7.1 RSeq and 7.2 RAck."""

    def test_rack(self) -> None:
        rack = parse_header("RAck", " 776656  1 INVITE ")
        assert isinstance(rack, RAck)
        assert (rack.rseq, rack.cseq, rack.method) == (776656, 1, "INVITE")
        assert str(rack) == "776656 1 INVITE"
        assert repr(rack) == "RAck(776656, 1, 'INVITE')"
        assert rack == RAck(776656, 1, "INVITE") and hash(rack) == hash(RAck(776656, 1, "INVITE"))
        assert rack != RAck(776656, 2, "INVITE") and rack != "776656 1 INVITE"

    @pytest.mark.parametrize("text", ["", "1 INVITE", "1 2", "a 1 INVITE", "1 2 INVITE x"])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("RAck", text)


class TestRefer:
    """RFC 3515 Refer-To, RFC 3892 Referred-By, RFC 3891 Replaces."""

    def test_refer_to_with_embedded_replaces(self) -> None:
        refer_to = parse_header(
            "r",
            "<sip:bob@example.com?Replaces=12345%40192.0.2.1%3Bto-tag%3D1%3Bfrom-tag%3D2%3Bearly-only>",
        )
        assert isinstance(refer_to, NameAddr)
        (embedded,) = refer_to.uri.get_header("Replaces") or []
        replaces = parse_header("Replaces", embedded)
        assert (replaces.call_id, replaces.to_tag, replaces.from_tag, replaces.early_only) == (
            "12345@192.0.2.1", "1", "2", True)  # fmt: skip

    def test_referred_by(self) -> None:
        rb = parse_header(
            "b", '<sip:alice@example.com>;cid="20398823.2UWQFN309shb3@referrer.example"'
        )
        assert rb.uri.user == "alice"
        assert rb.get_param("cid") == "20398823.2UWQFN309shb3@referrer.example"

    def test_replaces(self) -> None:
        rep = parse_header("Replaces", "425928@bobster.example.org;to-tag=7743;from-tag=6472")
        assert isinstance(rep, Replaces)
        assert (rep.call_id, rep.to_tag, rep.from_tag, rep.early_only) == (
            "425928@bobster.example.org", "7743", "6472", False)  # fmt: skip
        built = Replaces("425928@bobster.example.org", to_tag="7743", from_tag="6472")
        assert built == rep and str(built) == "425928@bobster.example.org;to-tag=7743;from-tag=6472"
        assert str(Replaces("a@b")) == "a@b" and Replaces("a@b").to_tag is None
        early = Replaces("a@b", "1", "2", early_only=True)
        assert str(early) == "a@b;to-tag=1;from-tag=2;early-only"
        assert Replaces.parse(str(early)) == early

    @pytest.mark.parametrize(
        "text",
        [
            "a@b;to-tag=1",
            "a@b;from-tag=1",
            "a b;to-tag=1;from-tag=2",
            "",
            "a@b@c;to-tag=1;from-tag=2",
        ],
    )
    def test_invalid_replaces(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Replaces", text)


class TestReason:
    """RFC 3326: Reason."""

    def test_list(self) -> None:
        reasons = parse_header(
            "Reason",
            'SIP ;cause=200 ;text="Call completed elsewhere", Q.850;cause=16;text="Terminated"',
        )
        assert [(r.protocol, r.cause, r.text) for r in reasons] == [
            ("SIP", 200, "Call completed elsewhere"),
            ("Q.850", 16, "Terminated"),
        ]
        assert parse_header("Reason", render(reasons)) == reasons

    def test_constructor(self) -> None:
        reason = Reason("SIP", 480, 'Temporarily, "Unavailable"')
        assert str(reason) == 'SIP;cause=480;text="Temporarily, \\"Unavailable\\""'
        assert Reason.parse(str(reason)) == reason
        assert str(Reason("Q.850", 16, "x")) == 'Q.850;cause=16;text="x"'  # text is always quoted
        assert Reason.parse("SIP").cause is None and Reason.parse("SIP").text is None
        assert str(Reason("SIP")) == "SIP" and Reason("SIP") == Reason.parse("SIP")


class TestRetryAfter:
    """RFC 3261 20.33: Retry-After."""

    def test_comment_and_duration(self) -> None:
        ra = parse_header("Retry-After", "120 (I'm in a meeting) ;duration=3600")
        assert isinstance(ra, RetryAfter)
        assert (ra.delta, ra.comment, ra.duration) == (120, "I'm in a meeting", 3600)
        assert str(ra) == "120 (I'm in a meeting);duration=3600"
        assert RetryAfter.parse(str(ra)) == ra
        assert RetryAfter(120, "I'm in a meeting", 3600) == ra
        assert RetryAfter.parse("5").comment is None and RetryAfter.parse("5").duration is None

    @pytest.mark.parametrize("text", ["", "x", "949302838503028349304023988", "5 (unclosed", "-1"])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Retry-After", text)


class TestIdentityAndRoutes:
    """RFC 3325 P-Asserted-Identity; RFC 3261 20.30/20.34 Record-Route/Route; RFC 3327 Path;
    RFC 3608 Service-Route."""

    def test_p_asserted_identity(self) -> None:
        pai = parse_header(
            "P-Asserted-Identity", '"Cullen Jennings" <sip:fluffy@cisco.com>, tel:+14085264000'
        )
        assert [p.display_name for p in pai] == ["Cullen Jennings", None]
        assert pai[1].uri.scheme == "tel" and pai[1].uri.user == "+14085264000"

    @pytest.mark.parametrize("name", ["Route", "Record-Route", "Path", "Service-Route"])
    def test_route_lists(self, name: str) -> None:
        routes = parse_header(
            name, "<sip:P1.example.com;lr>,<sip:[2001:db8::1]:5060;lr;transport=ws>"
        )
        assert [r.uri.host for r in routes] == ["p1.example.com", "[2001:db8::1]"]
        assert all(r.uri.has_param("lr") for r in routes)
        assert parse_header(name, render(routes)) == routes
        single = parse_header(name, "<sip:p1.example.com;lr>")
        assert isinstance(single, NameAddr)


class TestTextHeaders:
    """RFC 3261 20.17 Date, 20.35 Server, 20.41 User-Agent, 20.43 Warning."""

    @pytest.mark.parametrize("name", ["User-Agent", "Server", "Subject", "Organization"])
    def test_text(self, name: str) -> None:
        assert parse_header(name, " websip/0.1 (Linux; x86) ") == "websip/0.1 (Linux; x86)"

    def test_date(self) -> None:
        date = parse_header("Date", "Sat, 13 Nov 2010 23:29:00 GMT")
        assert date == datetime(2010, 11, 13, 23, 29, 0, tzinfo=UTC)
        assert format_date(date) == "Sat, 13 Nov 2010 23:29:00 GMT"
        local = datetime(2010, 11, 14, 1, 29, 0, tzinfo=timezone(timedelta(hours=2)))
        assert format_date(local) == "Sat, 13 Nov 2010 23:29:00 GMT"

    @pytest.mark.parametrize(
        "text",
        [
            "Fri, 01 Jan 2010 16:00:00 EST",  # RFC 4475 3.1.2.12
            "Fri, 01 Jan 2010 16:00:00",
            "Mon, 31 Feb 2010 16:00:00 GMT",
            "Mon, 01 Jan 2010 25:00:00 GMT",
            "01 Jan 2010 16:00:00 GMT",
            "",
        ],
    )
    def test_invalid_date(self, text: str) -> None:
        with pytest.raises(ParseError) as info:
            parse_header("Date", text)
        assert info.value.header == "Date"

    def test_warning(self) -> None:
        warnings = parse_header(
            "Warning",
            "307 isi.edu \"Session parameter 'foo' not understood\", "
            '301 [2001:db8::1]:5060 "Incompatible, \\"network\\""',
        )
        assert [(w.code, w.agent, w.text) for w in warnings] == [
            (307, "isi.edu", "Session parameter 'foo' not understood"),
            (301, "[2001:db8::1]:5060", 'Incompatible, "network"'),
        ]
        assert parse_header("Warning", render(warnings)) == warnings
        assert Warning(399, "-", "x") == Warning.parse('399 - "x"')
        assert repr(Warning(399, "-", "x")) == "Warning('399 - \"x\"')"
        assert Warning(399, "-", "x") != "x"

    @pytest.mark.parametrize(
        "text", ['1812 overture "In Progress"', '30 a "x"', "399 a x", '399 "x"', ""]
    )
    def test_invalid_warning(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_header("Warning", text)


class TestUnknownHeaders:
    """RFC 3261 7.3 / 8.2.2: headers websip does not interpret are kept verbatim."""

    @pytest.mark.parametrize(
        ("name", "value"),
        [("X-Custom", "  a, b ;c  "), ("NewFangledHeader", "newfangled value continued"),
         ("UnknownHeaderWithUnusualValue", ";;,,;;,;"), ("C%6Fntact", "<sip:alias2@host2.example.com>")],
    )  # fmt: skip
    def test_verbatim(self, name: str, value: str) -> None:
        assert parse_header(name, value) == value


class TestCompactForms:
    """RFC 3261 7.3.3 and the extensions that define compact forms."""

    @pytest.mark.parametrize(
        ("compact", "long"),
        [("i", "Call-ID"), ("f", "From"), ("t", "To"), ("v", "Via"), ("m", "Contact"),
         ("l", "Content-Length"), ("k", "Supported"), ("c", "Content-Type"), ("e", "Content-Encoding"),
         ("s", "Subject"), ("o", "Event"), ("u", "Allow-Events"), ("r", "Refer-To"),
         ("b", "Referred-By"), ("x", "Session-Expires"), ("a", "Accept-Contact"),
         ("j", "Reject-Contact"), ("d", "Request-Disposition"), ("y", "Identity")],
    )  # fmt: skip
    def test_compact_names(self, compact: str, long: str) -> None:
        assert websip.sip.names.canonical_key(compact) == long.lower()
        assert websip.sip.names.canonical_key(compact.upper()) == long.lower()
        assert websip.sip.names.canonical_name(compact) == long

    @pytest.mark.parametrize(
        ("name", "value"),
        [("i", "abc@host"), ("f", "<sip:a@b.c>;tag=1"), ("t", "sip:a@b.c"),
         ("v", "SIP/2.0/WS h.invalid;branch=z9hG4bK1"), ("m", "*"), ("l", "0"), ("k", "path"),
         ("c", "application/sdp"), ("e", "gzip"), ("o", "presence"), ("u", "dialog"),
         ("r", "<sip:b@c.d>"), ("b", "<sip:a@b.c>"), ("x", "90;refresher=uas")],
    )  # fmt: skip
    def test_compact_form_parses_like_long_form(self, name: str, value: str) -> None:
        long = websip.sip.names.canonical_name(name)
        assert parse_header(name, value) == parse_header(long, value)
        assert parse_header(name.upper(), value) == parse_header(long.upper(), value)

    def test_one_letter_uri_header_names_are_not_compact_forms(self) -> None:
        assert URI.parse("sip:a@b.c?f=1").headers == {"f": ["1"]}


class TestSplitList:
    """RFC 3261 7.3.1: a list header splits at commas outside quotes and angle brackets."""

    @pytest.mark.parametrize(
        ("value", "entries"),
        [
            ("a", ["a"]),
            ("a, b ,c", ["a", "b", "c"]),
            ('"x, y" <sip:a@b>, <sip:c@d>', ['"x, y" <sip:a@b>', "<sip:c@d>"]),
            ("<sip:a@b;x=1,2>, <sip:c@d>", ["<sip:a@b;x=1,2>", "<sip:c@d>"]),
            ('"a\\", b" <sip:a@b>, c', ['"a\\", b" <sip:a@b>', "c"]),
            ('<sip:a@b>;p="1,2", <sip:c@d>;p="<,>"', ['<sip:a@b>;p="1,2"', '<sip:c@d>;p="<,>"']),
            ("a,,b,", ["a", "", "b", ""]),
            ("a>, b", ["a>", "b"]),
            ('"unbalanced, x', ['"unbalanced, x']),
        ],
    )
    def test_split(self, value: str, entries: list[str]) -> None:
        assert split_list(value) == entries

    def test_empty_entry_in_list_header_is_an_error(self) -> None:
        with pytest.raises(ParseError):
            parse_header("Route", "<sip:a@b.c>,,<sip:d@e.f>")


# Every typed header websip knows, with a value: parse(str(v)) == v.
ROUND_TRIP = [
    ("Via", "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks;rport"),
    ("Via", "SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];rport=7;maddr=x.y;ttl=1"),
    ("From", '"Alice \\"A\\"" <sip:alice@atlanta.com>;tag=1928301774'),
    ("To", "Bob <sip:bob@biloxi.com>"),
    ("Contact", "*"),
    ("Contact", '<sip:a@b.c;transport=ws>;expires=60;q=0.5;+sip.instance="<urn:uuid:1>";reg-id=1'),
    ("Contact", '<sip:a@b.c>;pub-gruu="sip:a@b.c;gr=urn:uuid:1";temp-gruu="sip:t@b.c;gr"'),
    ("Route", "<sip:p1.example.com;lr>"),
    ("Record-Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"),
    ("Path", "<sip:p3.example.com;lr>"),
    ("Service-Route", "<sip:p2.home.example.com;lr>"),
    ("CSeq", "4711 INVITE"),
    ("Call-ID", "a84b4c76e66710@pc33.atlanta.com"),
    ("Max-Forwards", "70"),
    ("Expires", "3600"),
    ("Min-Expires", "60"),
    ("Content-Type", "application/sdp"),
    ("Content-Type", 'multipart/mixed;boundary="a b"'),
    ("Content-Length", "42"),
    ("Content-Disposition", "session;handling=required"),
    ("Content-Encoding", "gzip"),
    ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
    ("Supported", "path, gruu, outbound"),
    ("Require", "100rel"),
    ("Proxy-Require", "sec-agree"),
    ("Unsupported", "foo"),
    ("Allow-Events", "presence, dialog"),
    ("Accept", "application/sdp, multipart/mixed;q=0.5"),
    ("WWW-Authenticate", 'Digest realm="r", nonce="n", qop="auth", algorithm=MD5, stale=TRUE'),
    ("Proxy-Authenticate", 'Digest realm="r", nonce="n", opaque="o"'),
    ("Authorization", 'Digest username="u", realm="r", nonce="n", uri="sip:r", response="x"'),
    ("Proxy-Authorization", 'Digest username="u", realm="r", qop=auth, nc=00000001, cnonce="c"'),
    ("Event", "dialog;id=7"),
    ("Subscription-State", "terminated;reason=rejected"),
    ("Session-Expires", "1800;refresher=uas"),
    ("Min-SE", "90"),
    ("RSeq", "1"),
    ("RAck", "1 2 INVITE"),
    ("Refer-To", "<sip:bob@example.com?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>"),
    ("Referred-By", '"A" <sip:a@example.com>'),
    ("Replaces", "a@b;to-tag=1;from-tag=2;early-only"),
    ("Reason", 'SIP;cause=487;text="Request Terminated"'),
    ("Retry-After", "30 (busy);duration=60"),
    ("P-Asserted-Identity", '"X" <sip:x@example.com>, <tel:+1234>'),
    ("User-Agent", "websip/0.1"),
    ("Server", "Kamailio (5.7)"),
    ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
    ("Warning", '399 example.com "x"'),
    ("X-Unknown", "anything at all"),
]


class TestTypedRoundTrip:
    """STYLE.md habit 11: every typed value writes back to text that parses to it."""

    @pytest.mark.parametrize(("name", "text"), ROUND_TRIP)
    def test_round_trip(self, name: str, text: str) -> None:
        value = parse_header(name, text)
        assert parse_header(name, render(value)) == value
        if hasattr(type(value), "parse") and not isinstance(value, str):
            assert type(value).parse(str(value)) == value
