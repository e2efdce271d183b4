"""Property-based round trips (STYLE.md habits 11 and 13): parse(str(x)) == x.

URIs, name-addrs and whole messages are generated with the characters that need
escaping or quoting, and must come back from their text form unchanged.

The example counts keep ``tests/sip`` fast; set ``WEBSIP_FUZZ_SCALE=50`` (say) for a
longer, deeper run.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from websip import URI, NameAddr, Request, Response, Via, parse_header, parse_message
from websip.sip import CSeq
from websip.sip.names import canonical_key

PROPERTY = settings(
    max_examples=int(100 * float(os.environ.get("WEBSIP_FUZZ_SCALE", "1"))),
    deadline=None,
    database=None,
    # differing_executors: conftest runs each test class once per parser implementation.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)

# Characters that test the escaping rules: unreserved, user-unreserved, param- and
# hnv-unreserved, reserved ones that must be escaped, "%", controls and UTF-8.
SPECIAL = "-_.!~*'()&=+$,;?/[]:@%<>\"# \t\\{}|^`\x00\x01\x7f"
URI_TEXT = st.text(
    alphabet=st.sampled_from("abcXYZ019" + SPECIAL + "éß€日😀"), min_size=1, max_size=12
)
TOKEN = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzAZ0189-.!%*_+`'~"), min_size=1, max_size=10
)

label = st.from_regex(r"[a-z][a-z0-9\-]{0,8}[a-z0-9]|[a-z]", fullmatch=True)
domains = st.lists(label, min_size=1, max_size=4).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.one_of(
    st.integers(0, 2**128 - 1).map(lambda n: f"[{ipaddress.IPv6Address(n).compressed}]"),
    ipv4.map(lambda v4: f"[::ffff:{v4}]"),
    st.just("[::1]"),
)
hosts = st.one_of(domains, ipv4, ipv6)
ports = st.one_of(st.none(), st.integers(0, 65535))
param_values = st.one_of(st.none(), st.just(""), URI_TEXT)


@st.composite
def sip_uris(draw: st.DrawFn) -> URI:
    user = draw(st.one_of(st.none(), URI_TEXT))
    password = draw(st.one_of(st.none(), st.just(""), URI_TEXT)) if user is not None else None
    return URI(
        draw(st.sampled_from(["sip", "sips", "SIP"])),
        user,
        draw(hosts),
        draw(ports),
        draw(st.dictionaries(URI_TEXT, param_values, max_size=4)),
        draw(
            st.dictionaries(
                URI_TEXT,
                st.lists(st.one_of(st.just(""), URI_TEXT), min_size=1, max_size=2),
                max_size=3,
            )
        ),
        password=password,
    )


@st.composite
def tel_uris(draw: st.DrawFn) -> URI:
    return URI(
        "tel",
        draw(st.one_of(st.from_regex(r"\+?[0-9][0-9\-.()]{0,14}", fullmatch=True), URI_TEXT)),
        params=draw(st.dictionaries(URI_TEXT, param_values, max_size=3)),
    )


uris = st.one_of(sip_uris(), tel_uris())


def same_uri(a: URI, b: URI) -> bool:
    """Field-by-field equality (URI.__eq__ is RFC 3261 19.1.4, which ignores some params)."""
    fields = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


# Display names: quotes, backslashes, commas, semicolons, angle brackets, UTF-8.
display_names = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
        max_size=15,
    ),
    st.text(alphabet=st.sampled_from('ab "\\,;<>:@é日'), max_size=10),
)
header_param_values = st.one_of(
    st.none(),
    st.just(""),
    TOKEN,
    st.text(alphabet=st.sampled_from('ab;,= <>"\\:[]@é'), max_size=10),
    st.sampled_from(
        ["<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>", "sip:a@b.c;gr=urn:uuid:1", "a,b;c"]
    ),
)


@st.composite
def name_addrs(draw: st.DrawFn) -> NameAddr:
    params = draw(st.dictionaries(TOKEN.map(str.lower), header_param_values, max_size=4))
    return NameAddr(draw(uris), draw(display_names), params)


class TestUriProperties:
    """RFC 3261 19.1.2 and 25.1: every URI survives its text form."""

    @PROPERTY
    @given(uris)
    def test_round_trip(self, uri: URI) -> None:
        text = str(uri)
        parsed = URI.parse(text)
        assert parsed == uri
        assert same_uri(parsed, uri)
        assert str(parsed) == text
        assert hash(parsed) == hash(uri)

    @PROPERTY
    @given(sip_uris())
    def test_to_aor_parses(self, uri: URI) -> None:
        aor = URI.parse(uri.to_aor(show_port=True))
        assert (aor.scheme, aor.user, aor.host, aor.port) == (
            uri.scheme,
            uri.user,
            uri.host,
            uri.port,
        )
        assert aor.params == {} and aor.headers == {}

    @PROPERTY
    @given(sip_uris())
    def test_copy(self, uri: URI) -> None:
        clone = uri.copy()
        assert same_uri(clone, uri)


class TestNameAddrProperties:
    """RFC 3261 25.1 name-addr: display names quoted and escaped, parameters quoted when needed."""

    @PROPERTY
    @given(name_addrs())
    def test_round_trip(self, na: NameAddr) -> None:
        text = str(na)
        parsed = NameAddr.parse(text)
        assert parsed == na
        assert same_uri(parsed.uri, na.uri)
        assert (parsed.display_name, parsed.params) == (na.display_name, na.params)
        assert str(parsed) == text

    @PROPERTY
    @given(st.lists(name_addrs(), min_size=1, max_size=4))
    def test_contact_list_round_trip(self, contacts: list[NameAddr]) -> None:
        value = ", ".join(map(str, contacts))
        parsed = parse_header("Contact", value)
        assert (parsed if isinstance(parsed, list) else [parsed]) == contacts


vias = st.builds(
    Via,
    st.sampled_from(["WS", "WSS", "UDP", "tcp", "TLS"]),
    hosts,
    ports,
    st.dictionaries(TOKEN.map(str.lower), header_param_values, max_size=4),
)


class TestViaProperties:
    """RFC 3261 20.42: Via values survive their text form."""

    @PROPERTY
    @given(vias)
    def test_round_trip(self, via: Via) -> None:
        parsed = Via.parse(str(via))
        assert parsed == via
        assert (parsed.host, parsed.port, parsed.params) == (via.host, via.port, via.params)


# Header values: anything but CR, LF and NUL (refused as injection), with the
# characters that matter to list splitting and quoting.
header_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(' \t,;"<>\\=:@'),
        st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
    ),
    max_size=30,
)
header_names = st.one_of(
    st.sampled_from(
        ["Via", "v", "Route", "Record-Route", "Contact", "m", "Subject", "Accept", "Allow",
         "Supported", "P-Asserted-Identity", "Warning", "Reason", "X-Custom", "User-Agent", "i"]
    ),
    TOKEN.filter(lambda name: canonical_key(name) not in ("from", "cseq")),
)  # fmt: skip
# In a message, NUL is refused as injection; elsewhere a quoted display name may hold it.
message_name_addrs = name_addrs().filter(lambda na: "\x00" not in str(na))


def typed_or_text(draw: st.DrawFn) -> Any:
    return draw(st.one_of(header_text, message_name_addrs, vias, uris.map(str)))


@st.composite
def messages(draw: st.DrawFn) -> Request | Response:
    headers = [(draw(header_names), typed_or_text(draw)) for _ in range(draw(st.integers(0, 8)))]
    headers += [
        ("From", draw(message_name_addrs)),
        ("CSeq", CSeq(draw(st.integers(0, 2**32 - 1)), draw(TOKEN))),
    ]
    body = draw(st.one_of(st.binary(max_size=200), st.text(max_size=50).map(str.encode)))
    if draw(st.booleans()):
        return Request(draw(TOKEN), draw(uris), headers, body)
    reason = draw(st.one_of(st.none(), st.text(alphabet=st.characters(
        blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=20)))  # fmt: skip
    return Response(draw(st.integers(100, 699)), reason, headers, body)


class TestMessageProperties:
    """RFC 3261 7: whole messages survive their wire form, as bytes and as text."""

    @PROPERTY
    @given(messages())
    def test_round_trip(self, m: Request | Response) -> None:
        wire = bytes(m)
        note(repr(wire))
        parsed = parse_message(wire)
        assert parsed == m
        assert parse_message(str(m)) == m
        assert parsed.defects == []
        assert bytes(parsed) == wire
        assert parsed.body == m.body

        def content(msg: Request | Response) -> list[tuple[str, str]]:
            return [h for h in msg.headers if h[0] != "Content-Length"]

        assert content(parsed) == content(m)
        assert parsed.parse_header("CSeq") == m.parse_header("CSeq")
        assert parsed.parse_header("From") == m.parse_header("From")

    @PROPERTY
    @given(messages(), st.binary(max_size=50))
    def test_bytes_after_content_length_are_ignored(
        self, m: Request | Response, extra: bytes
    ) -> None:
        assert parse_message(bytes(m) + extra) == m
