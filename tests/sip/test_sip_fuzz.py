"""Fuzzing the parser (STYLE.md habit 13): any input parses or raises websip.ParseError.

Random bytes, mutated torture and realistic messages (byte flips, insertions,
deletions, duplications, truncation at every offset) go through ``parse_message``;
whatever parses has every accessor called on it. The only exception allowed
anywhere is :class:`websip.ParseError`.

The example counts keep ``tests/sip`` fast; set ``WEBSIP_FUZZ_SCALE=50`` (say) for a
longer, deeper run.
"""

# ruff: noqa: E501 - test vectors (SIP lines, RFC examples) stay one per line.

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from websip import (
    URI,
    NameAddr,
    ParseError,
    Request,
    Response,
    Via,
    normalize_target,
    parse_header,
    parse_message,
)
from websip.sip import Message
from websip.sip.names import COMPACT_FORMS, KNOWN_NAMES

FUZZ = settings(
    max_examples=int(300 * float(os.environ.get("WEBSIP_FUZZ_SCALE", "1"))),
    deadline=None,
    database=None,
    # differing_executors: conftest runs each test class once per parser implementation.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.differing_executors,
    ],
)

TORTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "torture" / "msgs"
TORTURE = {p.stem: p.read_bytes() for p in sorted(TORTURE_DIR.glob("*.sip"))}

REALISTIC = [
    (
        b"REGISTER sip:example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK4b6jm7;rport\r\n"
        b"Max-Forwards: 69\r\n"
        b'To: <sip:alice@example.com>\r\nFrom: "Alice" <sip:alice@example.com>;tag=4h3mp5\r\n'
        b"Call-ID: 9l2f0f7ck4vq6n1r1j9h\r\nCSeq: 2 REGISTER\r\n"
        b'Authorization: Digest algorithm=MD5, username="alice", realm="example.com", '
        b'nonce="Y2FmZWJhYmU=", uri="sip:example.com", response="6629fae49393a05397450978507c4ef1", '
        b'qop=auth, cnonce="0a4f113b", nc=00000001\r\n'
        b"Contact: <sip:k3b0@df7jal23ls0d.invalid;transport=ws>;+sip.ice;reg-id=1;"
        b'+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";expires=600\r\n'
        b"Expires: 600\r\nAllow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n"
        b"Supported: path,gruu,outbound\r\nUser-Agent: websip 0.1\r\nContent-Length: 0\r\n\r\n"
    ),
    (
        b"SIP/2.0 401 Unauthorized\r\n"
        b"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK4b6jm7;rport=55421;received=192.0.2.7\r\n"
        b"To: <sip:alice@example.com>;tag=37GkEhwl6\r\nFrom: <sip:alice@example.com>;tag=4h3mp5\r\n"
        b"Call-ID: 9l2f0f7ck4vq6n1r1j9h\r\nCSeq: 2 REGISTER\r\n"
        b'WWW-Authenticate: Digest realm="example.com", nonce="Y2FmZWJhYmU=", qop="auth,auth-int", '
        b"algorithm=SHA-256, stale=FALSE\r\nContent-Length: 0\r\n\r\n"
    ),
    (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKk3p9;rport\r\n"
        b"Route: <sip:proxy.example.com;transport=ws;lr>, <sip:[2001:db8::1]:5061;lr>\r\n"
        b"Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\n"
        b'From: "Alice \\"A\\"" <sip:alice@example.com>;tag=abc\r\nCall-ID: c1@x\r\nCSeq: 1 INVITE\r\n'
        b"Contact: <sip:k3b0@df7jal23ls0d.invalid;transport=ws;ob>\r\n"
        b"Session-Expires: 1800;refresher=uac\r\nMin-SE: 90\r\nRequire: timer\r\n"
        b"Supported: 100rel,replaces\r\nP-Asserted-Identity: <sip:alice@example.com>, <tel:+1234>\r\n"
        b"Referred-By: <sip:carol@example.com>\r\nReplaces: a@b;to-tag=1;from-tag=2\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: 31\r\n\r\n"
        b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"
    ),
    (
        b"NOTIFY sip:alice@df7jal23ls0d.invalid;transport=ws SIP/2.0\r\n"
        b"v: SIP/2.0/WSS proxy.example.com;branch=z9hG4bKn1\r\nf: <sip:bob@example.com>;tag=b\r\n"
        b"t: <sip:alice@example.com>;tag=a\r\ni: n1\r\nCSeq: 3 NOTIFY\r\no: refer;id=1\r\n"
        b"Subscription-State: terminated;reason=noresource\r\nc: message/sipfrag;version=2.0\r\n"
        b'RSeq: 5\r\nRAck: 5 1 INVITE\r\nReason: SIP;cause=200;text="Call completed elsewhere"\r\n'
        b"Retry-After: 30 (later);duration=60\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\n"
        b'Warning: 399 example.com "x"\r\nl: 14\r\n\r\nSIP/2.0 200 OK'
    ),
]
SEEDS = list(TORTURE.values()) + REALISTIC

KNOWN = [*KNOWN_NAMES, *COMPACT_FORMS]


def call(fn: Callable[[], Any]) -> Any:
    """Run one accessor: a value or ParseError; any other exception fails the test."""
    try:
        return fn()
    except ParseError:
        return None


def exercise(data: bytes | str) -> Message | None:
    """Parse ``data`` and call every accessor of what it gives."""
    try:
        m = parse_message(data)
    except ParseError:
        return None
    assert isinstance(m, Request | Response)
    assert isinstance(m.defects, list) and isinstance(m.body, bytes)
    for name, _ in m.headers:
        for i in range(len(m.get_headers(name))):
            call(lambda n=name, i=i: m.parse_header(n, i))  # type: ignore[misc]
        call(lambda n=name: m.parse_header(n, -1))  # type: ignore[misc]
    for name in KNOWN:
        call(lambda n=name: m.parse_header(n))  # type: ignore[misc]
        assert isinstance(m.get_headers(name), list)
    for name in ("Allow", "Supported", "Require", "Proxy-Require", "Unsupported", "Allow-Events"):
        call(lambda n=name: m.get_token_list(n))  # type: ignore[misc]
    assert isinstance(m.call_id, str)
    call(lambda: m.cseq)
    call(lambda: m.from_tag)
    call(lambda: m.to_tag)
    call(lambda: m.via_branch)
    call(lambda: m.via)
    call(lambda: m.content_type)
    if isinstance(m, Request):
        ruri = call(lambda: m.ruri)
        if ruri is not None:
            str(ruri)
            call(lambda: ruri.to_aor())
        assert isinstance(m.ruri_text, str)
        reply = Response.for_request(m, 400, to_tag="fuzz")
        assert parse_message(bytes(reply)) == reply
        m.copy()
    else:
        assert 100 <= m.status_code <= 699
        m.copy()
    wire = bytes(m)
    assert str(m) == wire.decode("utf-8", "surrogateescape")
    repr(m)
    again = parse_message(wire)
    assert again == m
    return m


class TestFuzzRandom:
    """Random input, bytes and text."""

    @FUZZ
    @given(st.binary(max_size=600))
    def test_random_bytes(self, data: bytes) -> None:
        exercise(data)

    @FUZZ
    @given(st.text(max_size=300))
    def test_random_text(self, data: str) -> None:
        exercise(data)

    @FUZZ
    @given(
        st.lists(
            st.sampled_from(
                [b"INVITE ", b"SIP/2.0", b" ", b"\r\n", b"\n", b"\r\n\r\n", b":", b";", b",", b"<", b">",
                 b'"', b"\\", b"%", b"%0", b"@", b"[", b"]", b"sip:", b"tel:", b"Via", b"v", b"Contact",
                 b"CSeq", b"Content-Length", b"l", b"From", b"To", b"1", b"99999999999999", b"-1",
                 b"\x00", b"\xff", b"\xc3\xa9", b"\t", b"z9hG4bK", b"tag=", b"branch=", b"*"]
            ),
            max_size=60,
        ).map(b"".join)
    )  # fmt: skip
    def test_random_sip_tokens(self, data: bytes) -> None:
        exercise(b"OPTIONS sip:a@b.c SIP/2.0\r\n" + data)
        exercise(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "special"]))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 20))]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 40))]
        else:
            data[pos:pos] = draw(
                st.sampled_from([b'"', b"\\", b"<", b">", b",", b";", b"%", b"\r\n", b"\r\n ", b" ",
                                 b"\x00", b"\xff", b":", b"[", b"]", b"=", b"@", b"9" * 30])
            )  # fmt: skip
    return bytes(data)


class TestFuzzMutated:
    """Torture and realistic messages with a few mutations each."""

    @FUZZ
    @given(mutated())
    def test_mutated_messages(self, data: bytes) -> None:
        exercise(data)

    @FUZZ
    @given(mutated())
    def test_mutated_messages_as_text(self, data: bytes) -> None:
        exercise(data.decode("utf-8", "replace"))


SLICED = ["3.1.1.1_wsinv", "3.1.1.2_intmeth", "3.1.1.11_mpart01", "4.9_ipv4-mapped-ipv6"]


class TestFuzzSliced:
    """Truncation at every offset (byte-sliced input), and every suffix."""

    @pytest.mark.parametrize(
        "data", [TORTURE[name] for name in SLICED] + REALISTIC[:2], ids=[*SLICED, "register", "401"]
    )
    def test_every_prefix_and_suffix(self, data: bytes) -> None:
        for i in range(len(data) + 1):
            exercise(data[:i])
            exercise(data[i:])

    def test_every_torture_message_sliced_in_two(self) -> None:
        for data in TORTURE.values():
            for i in range(0, len(data) + 1, 7):
                exercise(data[:i] + data[i + 1 :])


KNOWN_HEADERS = st.sampled_from(KNOWN)
VALUE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(' \t,;"<>\\=:@%[]*/()?&+0123456789'),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=60,
)


class TestFuzzTypedValues:
    """Every typed-value parser, URI.parse and normalize_target, on arbitrary text."""

    @FUZZ
    @given(KNOWN_HEADERS, VALUE_TEXT)
    def test_parse_header(self, name: str, value: str) -> None:
        try:
            typed = parse_header(name, value)
        except ParseError:
            return
        for item in typed if isinstance(typed, list) else [typed]:
            text = str(item)
            for getter in ("tag", "expires", "q", "branch", "rport", "ttl", "received", "maddr",
                           "realm", "qop", "stale", "algorithm", "cause", "duration", "refresher",
                           "retry_after", "reason", "to_tag", "from_tag", "early_only", "mime_type"):  # fmt: skip
                getattr(item, getter, None)
            if isinstance(item, NameAddr | Via | URI):
                assert type(item).parse(text) == item

    @FUZZ
    @given(VALUE_TEXT)
    def test_uri_and_name_addr(self, text: str) -> None:
        for parser in (URI.parse, NameAddr.parse, Via.parse):
            try:
                value = parser(text)
            except ParseError:
                continue
            assert type(value).parse(str(value)) == value
        target = normalize_target(text, "example.com")
        assert target is None or isinstance(target, URI)

    @FUZZ
    @given(st.from_regex(r"(sips?|tel|SIP):[^\s<>]{0,40}", fullmatch=True))
    def test_uri_like(self, text: str) -> None:
        try:
            uri = URI.parse(text)
        except ParseError:
            return
        assert URI.parse(str(uri)) == uri
        uri.to_aor()
        uri.copy()
