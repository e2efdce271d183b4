"""Out-of-dialog request building and extra-header checks (websip.messaging)."""

from __future__ import annotations

import pytest

from websip.messaging import OutOfDialogRequest, check_extra_headers, split_extra_header
from websip.sip import URI, NameAddr, parse_message


def identity() -> NameAddr:
    return NameAddr(URI.parse("sip:alice@example.com"), 'Alice "A" Smith')


def test_message_request_has_the_rfc_3261_8_1_1_headers() -> None:
    builder = OutOfDialogRequest(identity=identity(), route=["<sip:proxy.example.com;lr>"])
    request = builder.build(
        "MESSAGE",
        URI.parse("sip:bob@example.com?Subject=hi"),
        from_tag="abc",
        call_id="cid1",
        body="héllo",
        content_type="text/plain",
        extra_headers=[("X-Trace", "1")],
    )
    wire = parse_message(request.to_bytes())
    assert wire.method == "MESSAGE"
    assert str(wire.ruri) == "sip:bob@example.com"  # URI headers never reach the R-URI
    assert wire.get_header("From") == '"Alice \\"A\\" Smith" <sip:alice@example.com>;tag=abc'
    assert wire.get_header("To") == "<sip:bob@example.com?Subject=hi>"
    assert wire.get_header("Call-ID") == "cid1"
    assert wire.get_header("CSeq") == "1 MESSAGE"
    assert wire.get_header("Route") == "<sip:proxy.example.com;lr>"
    assert wire.get_header("Content-Type") == "text/plain"
    assert wire.get_header("X-Trace") == "1"
    assert wire.body == "héllo".encode()
    assert not wire.has_header("Contact")


def test_anonymous_from_and_contact() -> None:
    builder = OutOfDialogRequest(identity=identity())
    contact = NameAddr(URI.parse("sip:xyz@abc.invalid;transport=ws"))
    request = builder.build(
        "OPTIONS",
        URI.parse("sip:bob@example.com"),
        from_tag="t",
        call_id="c",
        cseq=7,
        contact=contact,
        anonymous=True,
    )
    sender = request.parse_header("From")
    assert sender.display_name == "Anonymous"
    assert str(sender.uri) == "sip:anonymous@anonymous.invalid"
    assert request.get_header("Contact") == "<sip:xyz@abc.invalid;transport=ws>"
    assert request.get_header("CSeq") == "7 OPTIONS"
    assert not request.has_header("Content-Type")


@pytest.mark.parametrize(
    "line",
    [
        "X-A: 1\r\nX-B: 2",
        "X-A: 1\nInjected: yes",
        "X-A: a\rb",
        "X-A: \0",
        "nocolon",
        ": empty",
        "Bad Name: x",
    ],
)
def test_bad_extra_headers_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        split_extra_header(line)


def test_extra_headers_split_and_typed() -> None:
    assert check_extra_headers(None) == []
    assert check_extra_headers(["X-A:1", "P-Asserted-Identity:  <sip:a@b>  "]) == [
        ("X-A", "1"),
        ("P-Asserted-Identity", "<sip:a@b>"),
    ]
    with pytest.raises(TypeError):
        check_extra_headers("X-A: 1")
    with pytest.raises(TypeError):
        split_extra_header(5)  # type: ignore[arg-type]
