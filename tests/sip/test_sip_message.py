"""Messages: framing, header lines, limits, serialization, builders and injection checks."""

# ruff: noqa: E501 - test vectors (SIP lines, RFC examples) stay one per line.

from __future__ import annotations

import pytest

import websip
from websip import (
    URI,
    CSeq,
    MessageTooLargeError,
    NameAddr,
    ParseError,
    Request,
    Response,
    Via,
    parse_message,
)
from websip.sip import MAX_HEADERS, MAX_LINE_LENGTH, MAX_MESSAGE_SIZE

INVITE = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds8;rport\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.207\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 2 INVITE\r\n"
    "Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws;ob>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "v=0\r\n"
)


def invite(**replace: str) -> bytes:
    text = INVITE
    for old, new in replace.items():
        text = text.replace(old.replace("_", "-"), new)
    return text.encode()


class TestFraming:
    """RFC 3261 7.5 and 18.3, RFC 7118 (one SIP message per WebSocket message)."""

    def test_request(self) -> None:
        m = parse_message(invite())
        assert isinstance(m, Request) and isinstance(m, websip.Message)
        assert m.method == "INVITE"
        assert m.ruri == URI.parse("sip:bob@biloxi.example.com")
        assert m.ruri_text == "sip:bob@biloxi.example.com"
        assert m.version == "SIP/2.0"
        assert m.call_id == "3848276298220188511@atlanta.example.com"
        assert m.cseq == CSeq(2, "INVITE")
        assert m.from_tag == "9fxced76sl"
        assert m.to_tag is None
        assert m.via_branch == "z9hG4bKnashds8"
        assert m.via == Via.parse("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds8;rport")
        assert m.content_type == "application/sdp"
        assert m.body == b"v=0\r\n"
        assert m.defects == []

    def test_response(self) -> None:
        m = parse_message(
            b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/WSS h.invalid;branch=z9hG4bK1\r\n"
            b"To: <sip:b@c.d>;tag=8321234356\r\nFrom: <sip:a@b.c>;tag=1\r\n"
            b"Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        assert isinstance(m, Response)
        assert (m.status_code, m.reason_phrase, m.status_class) == (180, "Ringing", 1)
        assert m.to_tag == "8321234356"
        assert m.body == b""

    @pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, str])
    def test_input_types(self, kind: type) -> None:
        data = invite()
        given = data.decode() if kind is str else kind(data)
        assert parse_message(given) == parse_message(data)

    def test_leading_crlfs_are_ignored(self) -> None:
        assert parse_message(b"\r\n\r\n\r\n" + invite()) == parse_message(invite())

    def test_content_length_counts_bytes_not_characters(self) -> None:
        body = "héllo wörld €\r\n".encode()
        assert len(body) != len(body.decode())
        m = parse_message(
            invite(**{"Content-Length: 5": f"Content-Length: {len(body)}"}).replace(
                b"v=0\r\n", body
            )
        )
        assert m.body == body
        assert m.defects == []

    def test_bytes_after_content_length_are_not_part_of_the_message(self) -> None:
        m = parse_message(invite() + b"garbage")
        assert m.body == b"v=0\r\n"
        assert m.defects == []

    def test_without_content_length_the_body_is_the_rest(self) -> None:
        m = parse_message(invite(**{"Content-Length: 5\r\n": ""}) + b"more")
        assert m.body == b"v=0\r\nmore"
        assert not m.has_header("Content-Length")
        assert m.defects == []

    def test_content_length_larger_than_the_body_is_a_defect(self) -> None:
        m = parse_message(invite(**{"Content-Length: 5": "Content-Length: 9999"}))
        assert m.body == b"v=0\r\n"
        assert len(m.defects) == 1 and "9999" in m.defects[0]

    @pytest.mark.parametrize(
        "value", ["-5", "five", "5 5", "", "٥", "1" * 5000, "99999999999999999999"]
    )
    def test_invalid_content_length_is_a_defect(self, value: str) -> None:
        m = parse_message(invite(**{"Content-Length: 5": f"Content-Length: {value}"}))
        assert m.defects and "Content-Length" in m.defects[0]
        assert m.body == b"v=0\r\n"

    def test_several_content_lengths(self) -> None:
        same = parse_message(invite(**{"Content-Length: 5": "Content-Length: 5\r\nl: 5"}))
        assert same.defects == [] and same.body == b"v=0\r\n"
        # RFC 4475 3.3.9: different values cannot be framed reliably.
        different = parse_message(invite(**{"Content-Length: 5": "Content-Length: 5\r\nl: 3"}))
        assert different.defects == ["several different Content-Length values"]

    def test_binary_body(self) -> None:
        body = bytes(range(256)) * 2
        data = invite(**{"Content-Length: 5": f"Content-Length: {len(body)}"}).replace(
            b"v=0\r\n", body
        )
        m = parse_message(data)
        assert m.body == body
        assert parse_message(bytes(m)) == m
        assert parse_message(str(m)) == m

    def test_body_containing_a_header_block_end(self) -> None:
        body = b"a\r\n\r\nb"
        m = parse_message(
            invite(**{"Content-Length: 5": "Content-Length: 6"}).replace(b"v=0\r\n", body)
        )
        assert m.body == body

    def test_bare_lf_messages_are_accepted(self) -> None:
        m = parse_message(invite().replace(b"\r\n", b"\n"))
        assert m.method == "INVITE"
        assert m.get_header("CSeq") == "2 INVITE"
        assert m.body == b"v=0\n"

    def test_missing_empty_line_after_headers_is_a_defect(self) -> None:
        # RFC 4475 3.1.2.15's message ends right after its last header line.
        m = parse_message(b"OPTIONS sip:a@b.c SIP/2.0\r\nCall-ID: x\r\nl: 0\r\n")
        assert m.get_header("Call-ID") == "x"
        assert m.body == b""
        assert m.defects == ["no empty line after the header block"]

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"\r\n",
            b"\r\n\r\n",
            b"INVITE",
            b"INVITE sip:a@b.c SIP/2.0",
            b"\x00\xff",
            b"  \r\n\r\n",
        ],
    )
    def test_unframeable(self, data: bytes) -> None:
        with pytest.raises(ParseError):
            parse_message(data)

    def test_text_with_lone_surrogates_is_a_parse_error(self) -> None:
        with pytest.raises(ParseError):
            parse_message("OPTIONS sip:a@b.c SIP/2.0\r\nSubject: \ud800\r\n\r\n")

    def test_header_block_that_is_not_utf8_is_a_defect(self) -> None:
        # The UA must still answer 400, so the message stays representable.
        data = invite(**{"To: Bob": "To: B\xf6b"}).replace("B\xf6b".encode(), b"B\xf6b")
        m = parse_message(data)
        assert m.defects and "UTF-8" in m.defects[0]
        assert m.call_id == "3848276298220188511@atlanta.example.com"
        reply = Response.for_request(m, 400)  # type: ignore[arg-type]
        assert b"To: B\xf6b <sip:bob@biloxi.example.com>" in bytes(reply)
        assert bytes(m) == data
        assert parse_message(str(m)) == m


class TestStartLine:
    """RFC 3261 7.1 Request-Line and 7.2 Status-Line."""

    def test_extension_method_and_version_kept(self) -> None:
        m = parse_message(b"FOO-bar.! sip:a@b.c SIP/7.0\r\n\r\n")
        assert isinstance(m, Request)
        assert (m.method, m.version) == ("FOO-bar.!", "SIP/7.0")

    @pytest.mark.parametrize(
        "line",
        [
            b"INVITE sip:a@b.c",
            b"INVITE sip:a@b.c HTTP/1.1",
            b"INV<ITE sip:a@b.c SIP/2.0",
            b" INVITE sip:a@b.c SIP/2.0",
            b"INVITE",
            b"SIP/2.0 099 Low",
            b"SIP/2.0 700 High",
            b"SIP/2.0 4294967301 better not break the receiver",
            b"SIP/2.0 20 OK",
            b"SIP/2.0 1",
            b"SIP/2.0 12",
            b"SIP/2.0 1234",
            b"SIP/2.0 abc OK",
            b"SIP/2.0",
            b"SIP/x 200 OK",
            b"SIP/3.0 700 Too High",
            b"SIP/3.0 099 Too Low",
        ],
    )
    def test_malformed(self, line: bytes) -> None:
        with pytest.raises(ParseError) as info:
            parse_message(line + b"\r\nCall-ID: x\r\n\r\n")
        assert info.value.line == 1

    def test_trailing_whitespace_after_version_is_a_defect(self) -> None:
        m = parse_message(b"OPTIONS sip:a@b.c SIP/2.0 \t \r\nCall-ID: x\r\n\r\n")
        assert isinstance(m, Request)
        assert m.defects == ["whitespace after the SIP-Version"]
        assert (m.version, m.ruri) == ("SIP/2.0", URI.parse("sip:a@b.c"))
        assert bytes(m).startswith(b"OPTIONS sip:a@b.c SIP/2.0\r\n")

    @pytest.mark.parametrize(
        "ruri", [b"sip:a@b.c; lr", b" sip:a@b.c ", b"<sip:a@b.c>", b"sip:a@b.c:99999"]
    )
    def test_bad_request_uri_is_representable(self, ruri: bytes) -> None:
        m = parse_message(b"INVITE " + ruri + b" SIP/2.0\r\nCall-ID: x\r\n\r\n")
        assert isinstance(m, Request)
        assert m.ruri_text == ruri.decode()
        with pytest.raises(ParseError):
            _ = m.ruri
        assert parse_message(bytes(m)) == m

    def test_ruri_setter(self) -> None:
        m = parse_message(invite())
        assert isinstance(m, Request)
        m.ruri = "sip:carol@chicago.example.com"
        assert bytes(m).startswith(b"INVITE sip:carol@chicago.example.com SIP/2.0\r\n")
        m.ruri = URI.parse("sips:dave@example.com")
        assert m.ruri_text == "sips:dave@example.com"

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ("SIP/2.0 200 OK", "OK"),
            ("SIP/2.0 100 ", ""),
            ("SIP/2.0 100", ""),
            ("SIP/2.0 486 Busy  Here ", "Busy  Here "),
            ("SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое", "= 2**3 * 5**2 но сто девяносто девять - простое"),
        ],
    )  # fmt: skip
    def test_reason_phrases(self, line: str, reason: str) -> None:
        m = parse_message(f"{line}\r\nCall-ID: x\r\n\r\n".encode())
        assert isinstance(m, Response)
        assert m.reason_phrase == reason
        assert parse_message(bytes(m)) == m


class TestHeaderLines:
    """RFC 3261 7.3: header names, compact forms, folding, lists and repeated lines."""

    def test_names_are_case_insensitive_and_compact_forms_work(self) -> None:
        m = parse_message(
            b"OPTIONS sip:a@b.c SIP/2.0\r\ni: abc\r\nCALL-id: def\r\nV: SIP/2.0/WS h.invalid\r\n"
            b"vIa: SIP/2.0/WS g.invalid\r\nf: <sip:a@b.c>;tag=1\r\nT: sip:b@c.d\r\nl: 0\r\n\r\n"
        )
        assert m.get_headers("Call-ID") == ["abc", "def"]
        assert m.get_headers("i") == m.get_headers("call-id") == m.get_headers("CALL-ID")
        assert [v.host for v in (m.parse_header("via", 0), m.parse_header("V", 1))] == [
            "h.invalid",
            "g.invalid",
        ]
        assert m.from_tag == "1"
        assert m.has_header("TO") and m.has_header("t")
        assert m.get_header("X-Absent") is None
        assert m.get_headers("X-Absent") == []
        assert not m.has_header("Contact")
        # written under the canonical long names
        text = bytes(m).decode()
        assert "Call-ID: abc\r\nCall-ID: def\r\n" in text
        assert "\r\nVia: SIP/2.0/WS h.invalid\r\nVia: SIP/2.0/WS g.invalid\r\n" in text
        assert "\r\nFrom: " in text and "\r\nTo: " in text

    def test_folding(self) -> None:
        m = parse_message(
            b"OPTIONS sip:a@b.c SIP/2.0\r\n"
            b"Subject: first\r\n  second\r\n\tthird\r\n"
            b"cseq: 0009\r\n  OPTIONS\r\n"
            b"Route:\r\n <sip:a@b.c;lr>,\r\n <sip:d@e.f;lr>\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        assert m.get_header("Subject") == "first second third"
        assert m.cseq == CSeq(9, "OPTIONS")
        assert m.get_headers("Route") == ["<sip:a@b.c;lr>", "<sip:d@e.f;lr>"]

    def test_whitespace_around_colon_and_value(self) -> None:
        m = parse_message(b"OPTIONS sip:a@b.c SIP/2.0\r\nCall-ID  \t:   x  \t\r\nSubject:\r\n\r\n")
        assert m.get_header("Call-ID") == "x"
        assert m.get_header("Subject") == ""

    def test_repeated_lines_and_lists_keep_their_order(self) -> None:
        m = parse_message(
            b"INVITE sip:a@b.c SIP/2.0\r\n"
            b"Route: <sip:r1.example.com;lr>, <sip:r2.example.com;lr>\r\n"
            b"Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n"
            b"Route: <sip:r3.example.com;lr>\r\n"
            b"Via: SIP/2.0/WS b.invalid;branch=z9hG4bK2, SIP/2.0/WS c.invalid;branch=z9hG4bK3\r\n"
            b"Route: <sip:r4.example.com;lr>,<sip:r5.example.com;lr>\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        assert [m.parse_header("Route", i).uri.host for i in range(5)] == [
            f"r{n}.example.com" for n in range(1, 6)
        ]
        assert [m.parse_header("Via", i).branch for i in range(3)] == [
            "z9hG4bK1",
            "z9hG4bK2",
            "z9hG4bK3",
        ]
        assert m.parse_header("Route", 5) is None
        assert m.parse_header("Route", -1).uri.host == "r5.example.com"
        assert m.parse_header("Route", -6) is None

    def test_list_values_split_only_at_top_level_commas(self) -> None:
        m = parse_message(
            b"REGISTER sip:b.c SIP/2.0\r\n"
            b'Contact: "Doe, J" <sip:a,b@b.c>;+sip.instance="<urn:uuid:1>";p="a,b", sip:c@d.e\r\n'
            b'From: "Doe, J" <sip:a@b.c>;tag=1\r\n'
            b"Subject: a, b, c\r\n"
            b"X-Unknown: a, b\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        assert m.get_headers("Contact") == [
            '"Doe, J" <sip:a,b@b.c>;+sip.instance="<urn:uuid:1>";p="a,b"',
            "sip:c@d.e",
        ]
        assert m.parse_header("Contact").get_param("p") == "a,b"
        assert m.get_headers("From") == ['"Doe, J" <sip:a@b.c>;tag=1']
        assert m.get_headers("Subject") == ["a, b, c"]
        assert m.get_headers("X-Unknown") == ["a, b"]

    def test_unknown_headers_are_kept_verbatim_and_round_trip(self) -> None:
        data = invite(
            **{"Max-Forwards: 70": 'Max-Forwards: 70\r\nX-weird_Name!: ;;,,;;,; "unbalanced'}
        )
        m = parse_message(data)
        assert m.get_header("x-WEIRD_name!") == ';;,,;;,; "unbalanced'
        assert m.parse_header("X-Weird_Name!") == ';;,,;;,; "unbalanced'
        assert b'\r\nX-weird_Name!: ;;,,;;,; "unbalanced\r\n' in bytes(m)
        assert parse_message(bytes(m)) == m

    def test_bad_header_lines_are_defects_not_failures(self) -> None:
        # RFC 3261 8.2 / 16.3: a request with a malformed header must get its 400.
        m = parse_message(
            invite(**{"Max-Forwards: 70": "Max-Forwards: 70\r\nno colon here\r\nBad Name: x"})
        )
        assert m.defects == [
            "line 5: header line without a colon",
            "line 6: invalid header name 'Bad Name'",
        ]
        assert m.call_id == "3848276298220188511@atlanta.example.com"
        assert m.cseq == CSeq(2, "INVITE")

    def test_bad_header_value_raises_only_when_parsed(self) -> None:
        m = parse_message(invite(**{"Max-Forwards: 70": "Max-Forwards: 700"}))
        assert m.defects == []
        with pytest.raises(ParseError) as info:
            m.parse_header("Max-Forwards")
        assert info.value.header == "Max-Forwards"
        assert m.cseq.seq == 2  # the rest is usable

    def test_missing_cseq(self) -> None:
        m = parse_message(b"OPTIONS sip:a@b.c SIP/2.0\r\nCall-ID: x\r\n\r\n")
        with pytest.raises(ParseError, match="CSeq"):
            _ = m.cseq
        assert (m.from_tag, m.to_tag, m.via_branch, m.via, m.content_type) == (
            None,
            None,
            None,
            None,
            None,
        )
        assert parse_message(b"OPTIONS sip:a@b.c SIP/2.0\r\n\r\n").call_id == ""

    def test_parse_header_is_cached_and_invalidated(self) -> None:
        m = parse_message(invite())
        first = m.parse_header("From")
        assert m.parse_header("f") is first
        m.set_header("From", "<sip:carol@example.com>;tag=2")
        assert m.from_tag == "2"
        m.add_header("Via", "SIP/2.0/WS new.invalid;branch=z9hG4bKnew", first=True)
        assert m.via_branch == "z9hG4bKnew"
        assert m.pop_header("Via") == "SIP/2.0/WS new.invalid;branch=z9hG4bKnew"
        assert m.via_branch == "z9hG4bKnashds8"
        m.remove_header("v")
        assert m.via_branch is None and not m.has_header("Via")
        m.remove_header("X-Absent")
        assert m.pop_header("Via") is None
        m.add_header("X-One", "1")
        assert m.pop_header("X-One") == "1" and not m.has_header("X-One")

    def test_list_values(self) -> None:
        m = parse_message(invite(**{"Max-Forwards: 70": "Route: <sip:a.b;lr>, <sip:c.d;lr>"}))
        routes = m.parse_header("Route", 0), m.parse_header("Route", 1)
        m.set_header("Record-Route", list(routes))
        assert m.get_headers("Record-Route") == ["<sip:a.b;lr>", "<sip:c.d;lr>"]
        m.add_header("Record-Route", ("<sip:x.y;lr>", "<sip:z.y;lr>"), first=True)
        assert m.get_headers("Record-Route") == [
            "<sip:x.y;lr>", "<sip:z.y;lr>", "<sip:a.b;lr>", "<sip:c.d;lr>"
        ]  # fmt: skip

    def test_get_token_list_joins_lines(self) -> None:
        m = parse_message(
            b"OPTIONS sip:a@b.c SIP/2.0\r\nSupported: path, gruu\r\nk: outbound\r\n"
            b"Allow: INVITE\r\nAllow: ACK, BYE\r\n\r\n"
        )
        assert m.get_token_list("Supported") == ["path", "gruu", "outbound"]
        assert m.get_token_list("allow") == ["INVITE", "ACK", "BYE"]
        assert m.get_token_list("Require") == []

    def test_header_names(self) -> None:
        m = parse_message(b"OPTIONS sip:a@b.c SIP/2.0\r\ni: x\r\nv: a, b\r\nx-y: 1\r\nV: c\r\n\r\n")
        assert m.header_names() == ["Call-ID", "Via", "x-y"]
        assert Request("OPTIONS", "sip:a@b.c").header_names() == []

    def test_headers_property(self) -> None:
        m = parse_message(
            b"OPTIONS sip:a@b.c SIP/2.0\r\ni: x\r\nv: SIP/2.0/WS a, SIP/2.0/WS b\r\n\r\n"
        )
        assert m.headers == [("Call-ID", "x"), ("Via", "SIP/2.0/WS a"), ("Via", "SIP/2.0/WS b")]


class TestLimits:
    """STYLE.md habit 10: size limits with a clear error (513 Message Too Large)."""

    def test_defaults(self) -> None:
        assert MAX_MESSAGE_SIZE >= 64 * 1024
        assert MAX_HEADERS >= 100
        assert MAX_LINE_LENGTH >= 1024

    def test_message_size(self) -> None:
        data = invite()
        assert parse_message(data, max_size=len(data)).method == "INVITE"  # type: ignore[union-attr]
        with pytest.raises(MessageTooLargeError) as info:
            parse_message(data, max_size=len(data) - 1)
        assert info.value.status_code == 513
        assert isinstance(info.value, ParseError)
        assert str(len(data)) in str(info.value)

    def test_default_message_size(self) -> None:
        with pytest.raises(MessageTooLargeError):
            parse_message(invite() + b"x" * MAX_MESSAGE_SIZE)

    def test_header_count(self) -> None:
        lines = "".join(f"X-H{i}: {i}\r\n" for i in range(20))
        data = f"OPTIONS sip:a@b.c SIP/2.0\r\n{lines}\r\n".encode()
        assert len(parse_message(data, max_headers=20).headers) == 20
        with pytest.raises(MessageTooLargeError, match="header") as info:
            parse_message(data, max_headers=19)
        assert info.value.status_code == 513

    def test_default_header_count(self) -> None:
        lines = "".join(f"X-H: {i}\r\n" for i in range(MAX_HEADERS + 1))
        with pytest.raises(MessageTooLargeError):
            parse_message(f"OPTIONS sip:a@b.c SIP/2.0\r\n{lines}\r\n".encode())

    def test_line_length(self) -> None:
        data = b"OPTIONS sip:a@b.c SIP/2.0\r\nSubject: " + b"x" * 100 + b"\r\n\r\n"
        assert parse_message(data, max_line_length=109).get_header("Subject") == "x" * 100
        with pytest.raises(MessageTooLargeError, match="line") as info:
            parse_message(data, max_line_length=108)
        assert info.value.status_code == 513

    def test_folded_line_counts_unfolded(self) -> None:
        data = b"OPTIONS sip:a@b.c SIP/2.0\r\nSubject: " + b"x\r\n x" * 50 + b"\r\n\r\n"
        with pytest.raises(MessageTooLargeError):
            parse_message(data, max_line_length=80)


class TestSerialization:
    """STYLE.md habit 11: parse(str(m)) == m and parse(bytes(m)) == m."""

    def test_wire_form(self) -> None:
        m = parse_message(
            b"OPTIONS sip:a@b.c SIP/2.0\r\ni:  x \r\nl: 99\r\nX-Custom:y\r\nv: SIP/2.0/WS h;branch=z9hG4bK1\r\n\r\n"
        )
        m.body = "é".encode()
        assert bytes(m) == (
            b"OPTIONS sip:a@b.c SIP/2.0\r\nCall-ID: x\r\nX-Custom: y\r\n"
            b"Via: SIP/2.0/WS h;branch=z9hG4bK1\r\nContent-Length: 2\r\n\r\n\xc3\xa9"
        )
        assert m.to_bytes() == bytes(m)
        assert str(m) == bytes(m).decode()

    def test_round_trip(self) -> None:
        m = parse_message(invite())
        assert parse_message(bytes(m)) == m
        assert parse_message(str(m)) == m
        assert bytes(parse_message(bytes(m))) == bytes(m)

    def test_equality(self) -> None:
        a = parse_message(invite())
        b = parse_message(invite(**{"Call-ID:": "i:", "Content-Length: 5": "l: 5"}))
        assert a == b  # header spelling and Content-Length are not content
        assert a != parse_message(invite(**{"CSeq: 2": "CSeq: 3"}))
        assert a != parse_message(invite(**{"v=0": "v=1"}))
        assert a != parse_message(invite(**{"INVITE sip:bob": "INVITE sip:carl"}))
        assert a != parse_message(invite(**{"SIP/2.0\r\nVia": "SIP/3.0\r\nVia"}))
        assert a != "not a message"
        r = Response(200)
        assert r != Response(200, "Fine") and r != Response(202) and r == Response(200, "OK")
        assert r != a

    def test_copy_is_independent(self) -> None:
        m = parse_message(invite())
        assert isinstance(m, Request)
        clone = m.copy()
        assert clone == m
        clone.add_header("Route", "<sip:x.example.com;lr>")
        clone.ruri.user = "carol"
        assert not m.has_header("Route")
        assert m.ruri.user == "bob"
        response = Response.for_request(m, 200, to_tag="t")
        rclone = response.copy()
        rclone.set_header("Contact", "<sip:b@c.d>")
        assert rclone != response and not response.has_header("Contact")

    def test_copy_of_unparsed_ruri(self) -> None:
        m = parse_message(b"OPTIONS <bad> SIP/2.0\r\n\r\n")
        assert isinstance(m, Request)
        assert m.copy().ruri_text == "<bad>"

    def test_repr(self) -> None:
        m = parse_message(invite())
        assert (
            repr(m)
            == "<Request INVITE sip:bob@biloxi.example.com call-id='3848276298220188511@atlanta.example.com'>"
        )
        assert repr(Response(486)) == "<Response 486 Busy Here call-id=''>"

    def test_not_hashable(self) -> None:
        with pytest.raises(TypeError):
            hash(parse_message(invite()))


class TestBuilders:
    """RFC 3261 8.1.1 (requests) and 8.2.6 (responses)."""

    def test_request(self) -> None:
        req = Request(
            "MESSAGE",
            "sip:bob@example.com",
            [
                (
                    "Via",
                    Via(
                        "WSS", "df7jal23ls0d.invalid", params={"branch": "z9hG4bK1", "rport": None}
                    ),
                ),
                ("Max-Forwards", 70),
                ("To", NameAddr("sip:bob@example.com")),
                ("From", NameAddr("sip:alice@example.com", "Alice", {"tag": "abc"})),
                ("Call-ID", "c1"),
                ("CSeq", CSeq(1, "MESSAGE")),
                ("Route", ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]),
                ("Content-Type", "text/plain;charset=utf-8"),
            ],
            body="héllo",
        )
        assert req.body == "héllo".encode()
        assert (
            bytes(req)
            == (
                "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK1;rport\r\n"
                "Max-Forwards: 70\r\n"
                "To: <sip:bob@example.com>\r\n"
                'From: "Alice" <sip:alice@example.com>;tag=abc\r\n'
                "Call-ID: c1\r\n"
                "CSeq: 1 MESSAGE\r\n"
                "Route: <sip:p1.example.com;lr>\r\n"
                "Route: <sip:p2.example.com;lr>\r\n"
                "Content-Type: text/plain;charset=utf-8\r\n"
                "Content-Length: 6\r\n"
                "\r\nhéllo"
            ).encode()
        )
        assert parse_message(bytes(req)) == req
        assert req.from_tag == "abc" and req.via_branch == "z9hG4bK1" and req.cseq.seq == 1

    def test_request_from_mapping_and_build_alias(self) -> None:
        req = Request.build("OPTIONS", URI.parse("sip:example.com"), {"Call-ID": "x", "k": "path"})
        assert isinstance(req, Request)
        assert req.headers == [("Call-ID", "x"), ("Supported", "path")]
        assert req.body == b""

    def test_header_values_are_stripped(self) -> None:
        req = Request(
            "OPTIONS",
            "sip:example.com",
            [("Subject", "  hi  "), ("Route", " <sip:a.b> , <sip:c.d> ")],
        )
        assert req.get_header("Subject") == "hi"
        assert req.get_headers("Route") == ["<sip:a.b>", "<sip:c.d>"]
        assert parse_message(bytes(req)) == req

    @pytest.mark.parametrize("method", ["", "IN VITE", "INVITE\r\n", "<x>"])
    def test_invalid_method(self, method: str) -> None:
        with pytest.raises(ParseError):
            Request(method, "sip:example.com")

    def test_invalid_ruri(self) -> None:
        with pytest.raises(ParseError):
            Request("INVITE", "not a uri")

    def test_response(self) -> None:
        assert Response(404).reason_phrase == "Not Found"
        assert Response(299).reason_phrase == "Unknown"
        assert Response(500, "Oops").reason_phrase == "Oops"
        assert bytes(Response(200)) == b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        for code in (99, 700, 0):
            with pytest.raises(ParseError):
                Response(code)

    def test_for_request_copies_the_dialog_headers(self) -> None:
        req = parse_message(invite(**{"Max-Forwards: 70": "Max-Forwards: 70\r\nTimestamp: 54"}))
        assert isinstance(req, Request)
        resp = Response.for_request(
            req, 180, to_tag="8321234356", headers=[("Contact", "<sip:b@c.d>")]
        )
        assert resp.get_headers("Via") == req.get_headers("Via")
        assert resp.get_header("From") == req.get_header("From")
        assert resp.get_header("Call-ID") == req.get_header("Call-ID")
        assert resp.cseq == req.cseq
        assert resp.to_tag == "8321234356"
        assert resp.parse_header("To").uri == req.parse_header("To").uri
        assert resp.get_header("Contact") == "<sip:b@c.d>"
        assert not resp.has_header("Max-Forwards")
        assert not resp.has_header("Timestamp")  # only a 100 echoes it (8.2.6.1)
        assert resp.body == b""
        assert bytes(resp).startswith(
            b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds8;rport\r\n"
            b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.207\r\n"
        )
        assert parse_message(bytes(resp)) == resp

    def test_for_request_100_copies_timestamp_and_adds_no_tag_when_not_asked(self) -> None:
        req = parse_message(invite(**{"Max-Forwards: 70": "Max-Forwards: 70\r\nTimestamp: 54"}))
        resp = Response.for_request(req, 100)  # type: ignore[arg-type]
        assert resp.get_header("Timestamp") == "54"
        assert resp.to_tag is None

    def test_for_request_keeps_an_existing_to_tag(self) -> None:
        req = parse_message(
            invite(**{"To: Bob <sip:bob@biloxi.example.com>": "To: <sip:b@c.d>;tag=old"})
        )
        resp = Response.for_request(req, 200, "Fine", to_tag="new", body=b"x")  # type: ignore[arg-type]
        assert resp.to_tag == "old"
        assert (resp.reason_phrase, resp.body) == ("Fine", b"x")

    def test_for_request_with_a_malformed_to(self) -> None:
        # RFC 4475 3.1.2.6: the UA answers 400 even though To does not parse.
        req = parse_message(
            invite(**{"To: Bob <sip:bob@biloxi.example.com>": 'To: "Mr. J. User <sip:j@b.c>'})
        )
        resp = Response.for_request(req, 400, to_tag="x")  # type: ignore[arg-type]
        assert resp.get_header("To") == '"Mr. J. User <sip:j@b.c>'
        assert resp.status_code == 400

    def test_for_request_refuses_a_bad_to_tag(self) -> None:
        req = parse_message(invite())
        with pytest.raises(ParseError):
            Response.for_request(req, 200, to_tag="x\r\nEvil: 1")  # type: ignore[arg-type]

    def test_for_request_of_a_bare_request(self) -> None:
        resp = Response.for_request(
            Request("OPTIONS", "sip:a@b.c"), 200, to_tag="t", headers={"X-Y": ["1", "2"]}
        )
        assert resp.headers == [("X-Y", "1"), ("X-Y", "2")]


class TestInjection:
    """DESIGN.md section 4: user-supplied values are checked for CR/LF injection."""

    @pytest.mark.parametrize("value", ["a\r\nVia: evil", "a\nb", "a\rb", "a\x00b"])
    def test_add_header_refuses_crlf_and_nul(self, value: str) -> None:
        m = Request("OPTIONS", "sip:a@b.c")
        with pytest.raises(ParseError, match="injection"):
            m.add_header("Subject", value)
        with pytest.raises(ParseError):
            m.set_header("Subject", value)
        assert not m.has_header("Subject")

    @pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "X\r\nY", "Ümlaut"])
    def test_add_header_refuses_bad_names(self, name: str) -> None:
        with pytest.raises(ParseError):
            Request("OPTIONS", "sip:a@b.c").add_header(name, "x")

    def test_reason_phrase(self) -> None:
        with pytest.raises(ParseError):
            Response(200, "OK\r\nVia: evil")

    def test_request_uri(self) -> None:
        with pytest.raises(ParseError):
            Request("OPTIONS", URI(host="a.b\r\nVia: evil"))
        req = Request("OPTIONS", "sip:a@b.c")
        with pytest.raises(ParseError):
            req.ruri = URI(scheme="http", opaque="x\r\ny")

    def test_uri_parts_are_escaped(self) -> None:
        uri = URI(user="a\r\nb", host="b.c", params={"x": "\r\n"}, headers={"h": ["\n"]})
        assert "\r" not in str(uri) and "\n" not in str(uri)
        req = Request("OPTIONS", uri)
        assert b"sip:a%0D%0Ab@b.c;x=%0D%0A?h=%0A" in bytes(req)

    def test_typed_values(self) -> None:
        na = NameAddr.parse("<sip:a@b.c>")
        with pytest.raises(ParseError):
            na.set_param("tag", "x\r\nVia: evil")
        with pytest.raises(ParseError):
            NameAddr("sip:a@b.c", "x\ny")
