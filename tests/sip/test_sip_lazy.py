"""The parser's fast paths and lazy steps give what the careful paths give.

parse_message indexes header lines under their names as written when all of
them are canonical, and strips, unfolds and splits a header's values only when
it is first read; typed values validate their parameters at once and cut them
into dicts when read. These tests pin that the fast and the careful paths agree,
and that errors still surface where they did.
"""

# ruff: noqa: E501 - SIP lines stay one per line.

from __future__ import annotations

import pytest

from websip import URI, NameAddr, ParseError, Via, parse_message
from websip.sip import parse_header

HEAD = (
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK1;rport\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2\r\n"
    'From: "Alice" <sip:alice@example.com>;tag=abc\r\n'
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: x1@example.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "X-Custom: one\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)


def test_header_names_canonical_in_order() -> None:
    m = parse_message(HEAD)
    assert m.header_names() == [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "X-Custom",
        "Content-Length",
    ]


def test_header_names_of_compact_and_odd_case_names() -> None:
    text = (
        HEAD.replace("Via:", "v:", 1)
        .replace("Call-ID:", "call-id :")
        .replace("X-Custom", "x-CUSTOM")
    )
    m = parse_message(text)
    assert m.header_names() == [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "x-CUSTOM",
        "Content-Length",
    ]
    assert m.get_headers("Via") == [
        "SIP/2.0/WSS a.invalid;branch=z9hG4bK1;rport",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2",
    ]
    assert m.get_header("X-CUSTOM") == "one"


def test_header_names_of_built_and_changed_messages() -> None:
    m = parse_message(HEAD)
    m.add_header("Route", "<sip:p.example.com;lr>")
    m.remove_header("X-Custom")
    assert m.header_names() == ["Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "Route"]


def test_compact_and_long_names_interleaved_keep_line_order() -> None:
    text = HEAD.replace(
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2\r\n",
        "v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2\r\nVia: SIP/2.0/TCP c.invalid;branch=z9hG4bK3\r\n",
    )
    m = parse_message(text)
    assert [v.split()[0] for v in m.get_headers("Via")] == [
        "SIP/2.0/WSS",
        "SIP/2.0/UDP",
        "SIP/2.0/TCP",
    ]


def test_values_are_stripped_and_split_when_read() -> None:
    text = HEAD.replace("To: <sip:bob@example.com>", "To:   <sip:bob@example.com> \t").replace(
        "X-Custom: one", "Route: <sip:a.example.com;lr>, <sip:b.example.com;lr>"
    )
    m = parse_message(text)
    assert m.get_header("To") == "<sip:bob@example.com>"
    assert m.get_headers("Route") == ["<sip:a.example.com;lr>", "<sip:b.example.com;lr>"]
    assert m.parse_header("Route", 1).uri.host == "b.example.com"
    assert ("To", "<sip:bob@example.com>") in m.headers


def test_fold_after_a_bare_lf_is_undone_when_read() -> None:
    m = parse_message(HEAD.replace("X-Custom: one", "X-Custom: one\n two"))
    assert m.get_header("X-Custom") == "one two"
    assert m.defects == []


def test_folded_lines_take_the_careful_path() -> None:
    m = parse_message(HEAD.replace("X-Custom: one", "X-Custom: one\r\n two"))
    assert m.get_header("X-Custom") == "one two"
    assert m.header_names()[-2:] == ["X-Custom", "Content-Length"]


def test_a_line_without_colon_is_a_defect_with_its_number() -> None:
    m = parse_message(HEAD.replace("X-Custom: one\r\n", "X-Custom one\r\n"))
    assert m.defects == ["line 8: header line without a colon"]
    assert m.header_names() == ["Via", "From", "To", "Call-ID", "CSeq", "Content-Length"]


def test_parse_header_is_cached_and_forgotten_on_change() -> None:
    m = parse_message(HEAD)
    assert m.parse_header("From") is m.parse_header("f")
    assert m.parse_header("Via", 1) is m.parse_header("Via", 1)
    assert m.parse_header("Via", 2) is None
    m.set_header("From", "<sip:carol@example.com>;tag=z")
    assert m.from_tag == "z"


def test_lazy_parameters_read_as_eager_ones() -> None:
    na = NameAddr.parse(
        '"A" <sip:a@b.example.com;transport=ws;lr>;tag=t1;+sip.instance="<urn:x>";EXPIRES=60'
    )
    assert na.tag == "t1"
    assert na.params == {"tag": "t1", "+sip.instance": "<urn:x>", "expires": "60"}
    assert na.uri.params == {"transport": "ws", "lr": None}
    assert (
        str(na)
        == '"A" <sip:a@b.example.com;transport=ws;lr>;tag=t1;+sip.instance="<urn:x>";expires=60'
    )
    only_tag = NameAddr.parse("<sip:a@b>;tag=xyz")
    assert only_tag.tag == "xyz" and only_tag.params == {"tag": "xyz"}
    via = Via.parse("SIP/2.0/WSS h.invalid ; branch = z9hG4bK1 ; rport")
    assert (via.branch, via.has_param("rport"), via.rport) == ("z9hG4bK1", True, None)


def test_set_param_on_a_lazy_value_keeps_the_others() -> None:
    na = NameAddr.parse('<sip:a@b>;x="q";tag=1')
    na.set_param("tag", "2")
    assert str(na) == '<sip:a@b>;x="q";tag=2'


@pytest.mark.parametrize(
    "text",
    [
        "<sip:a@b>;tag=1;",
        "<sip:a@b>;=x",
        '<sip:a@b>;x="unterminated',
        "<sip:a@999.1.1.1>",
        "<sip:a@b:70000>",
        "<sip:a@b;;lr>",
        "<sip:a%zz@b>",
    ],
)
def test_errors_surface_at_parse(text: str) -> None:
    with pytest.raises(ParseError):
        parse_header("From", text)


@pytest.mark.parametrize("text", ["sip:a@b;;lr", "sip:a@b;=x", "sip:a@b;x=%zz", "sip:a@b;lr;"])
def test_uri_parameter_errors_surface_at_parse(text: str) -> None:
    with pytest.raises(ParseError):
        URI.parse(text)


def test_uri_parameters_read_lazily_are_unescaped_and_lower_case() -> None:
    uri = URI.parse("sip:a@b;Transport=WS;lr;x=%41")
    assert uri.params == {"transport": "WS", "lr": None, "x": "A"}
    assert URI.parse("sip:a@b;maddr=h;lr").get_param("MADDR") == "h"


@pytest.mark.parametrize(
    "make",
    [
        lambda: URI.parse("sip:alice@example.com"),
        lambda: URI("sip", "alice", "example.com"),
        lambda: URI.parse("sip:alice@example.com").copy(),
    ],
    ids=["parsed", "built", "copied"],
)
def test_uri_without_params_or_headers_takes_them_when_written(make: object) -> None:
    uri = make()  # type: ignore[operator]
    assert not uri.has_header("Replaces")
    assert uri.get_header("Replaces") is None
    assert uri.delete_header("Replaces") is None
    assert str(uri) == "sip:alice@example.com"
    uri.params["transport"] = "ws"
    uri.headers["Subject"] = ["hi"]
    assert str(uri) == "sip:alice@example.com;transport=ws?Subject=hi"
    assert uri.has_header("subject")
    uri.clear_headers()
    assert str(uri) == "sip:alice@example.com;transport=ws"
    assert uri == URI.parse("sip:alice@example.com;transport=ws")


def test_copy_of_lazy_uri_params_is_independent() -> None:
    uri = URI.parse("sip:alice@example.com;transport=ws;lr")
    twin = uri.copy()
    twin.set_param("transport", "tcp")
    twin.set_header("Subject", "x")
    assert str(uri) == "sip:alice@example.com;transport=ws;lr"
    assert str(twin) == "sip:alice@example.com;transport=tcp;lr?Subject=x"
    assert uri.params == {"transport": "ws", "lr": None}


def test_name_addr_without_params_takes_them_when_written() -> None:
    na = NameAddr(URI.parse("sip:alice@example.com"), "Alice")
    assert str(na) == '"Alice" <sip:alice@example.com>'
    assert na.get_param("tag") is None
    na.set_param("tag", "abc")
    assert str(na) == '"Alice" <sip:alice@example.com>;tag=abc'


@pytest.mark.parametrize(
    "text",
    [
        "sip:a@example.com",
        "sip:a@example.com;transport=ws;lr",
        "sip:a@example.com;Transport=WS",
        "sip:a@example.com;x=1=2",
        "sip:a@example.com;lr;lr",
        "sip:a@example.com;a=1;b;a=2",
        "sip:a@example.com;gr=urn:uuid:0C1F-AB;ob",
        "sip:a@example.com;x=[::1]",
    ],
)
def test_uri_text_is_the_same_before_and_after_params_are_read(text: str) -> None:
    lazy = URI.parse(text)
    written = str(lazy)
    assert lazy.params is not None  # now read into a dict
    assert str(lazy) == written
    assert str(URI.parse(text).copy()) == written
