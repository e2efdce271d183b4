"""The torture messages of RFC 4475 and RFC 5118 (tests/data/torture/msgs).

Valid messages must parse with the right values. Invalid ones must be refused by
``parse_message`` (ParseError), or be representable but flagged: ``defects`` is not
empty, or the bad part raises ParseError when it is read, so that the core answers
400 (or 505, 416, ... as the RFC says) instead of dropping the request.
"""

# ruff: noqa: E501 - test vectors (SIP lines, RFC examples) stay one per line.

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from websip import URI, CSeq, NameAddr, ParseError, Request, Response, Via, parse_message
from websip.sip import WILDCARD, Message

TORTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "torture" / "msgs"
Loader = Callable[[str], bytes]

ALL_MESSAGES = sorted(p.stem for p in TORTURE_DIR.glob("*.sip"))

SDP_150 = (
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.%d\r\ns=-\r\nc=IN IP4 192.0.2.%d\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
)


def request(data: bytes) -> Request:
    m = parse_message(data)
    assert isinstance(m, Request)
    return m


def response(data: bytes) -> Response:
    m = parse_message(data)
    assert isinstance(m, Response)
    return m


def every_header_parses(m: Message) -> None:
    for name in dict.fromkeys(name for name, _ in m.headers):
        for i in range(len(m.get_headers(name))):
            m.parse_header(name, i)


class TestTortureFiles:
    """The project's copy of the RFC 4475 / RFC 5118 files."""

    def test_all_61_messages_are_present(self) -> None:
        assert len(ALL_MESSAGES) == 61
        assert (TORTURE_DIR.parent / "README.md").is_file()

    @pytest.mark.parametrize("name", ALL_MESSAGES)
    def test_parse_or_parse_error_and_round_trip(self, torture: Loader, name: str) -> None:
        try:
            m = parse_message(torture(name))
        except ParseError:
            assert name == "3.1.2.19_bigcode"
            return
        assert parse_message(bytes(m)) == m
        assert parse_message(str(m)) == m


class TestTortureValid:
    """RFC 4475 3.1.1: valid messages."""

    def test_3_1_1_1_wsinv(self, torture: Loader) -> None:
        """A short tortuous INVITE: LWS, folding, compact forms, escapes in quotes."""
        m = request(torture("3.1.1.1_wsinv"))
        assert m.defects == []
        assert m.ruri == URI.parse("sip:vivekg@chair-dnrc.example.com;unknownparam")
        assert m.ruri.has_param("unknownparam")
        to = m.parse_header("To")
        assert to.uri == URI.parse("sip:vivekg@chair-dnrc.example.com") and to.tag == "1918181833n"
        frm = m.parse_header("From")
        assert frm.display_name == 'J Rosenberg \\"'
        assert frm.uri == URI.parse("sip:jdrosen@example.com")
        assert m.from_tag == "98asjd8" and m.to_tag == "1918181833n"
        assert m.parse_header("Max-Forwards") == 68
        assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
        assert m.parse_header("Content-Length") == 150
        assert m.cseq == CSeq(9, "INVITE")
        vias = [m.parse_header("Via", i) for i in range(3)]
        assert [(v.transport, v.host, v.branch) for v in vias] == [
            ("UDP", "192.0.2.2", "390skdjuw"),
            ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),  # the folded v: line ...
            ("UDP", "192.168.255.111", "z9hG4bK30239"),  # ... holds two Vias
        ]
        assert m.via_branch == "390skdjuw"
        assert m.get_header("Subject") == "" and m.parse_header("s") == ""
        assert m.get_header("NewFangledHeader") == "newfangled value continued newfangled value"
        assert m.get_header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
        assert m.content_type == "application/sdp"
        route = m.parse_header("Route")
        assert route.uri.params == {"lr": None, "unknownwith": "value", "unknown-no-value": None}
        contact = m.parse_header("Contact")
        assert contact.display_name == 'Quoted string ""'
        assert contact.uri == URI.parse("sip:jdrosen@example.com")
        assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
        assert contact.q == 0.33
        assert m.body == SDP_150 % (3, 4)

    def test_3_1_1_2_intmeth(self, torture: Loader) -> None:
        """Wide range of valid characters."""
        m = request(torture("3.1.1.2_intmeth"))
        method = "!interesting-Method0123456789_*+`.%indeed'~"
        assert m.method == method and m.cseq == CSeq(139122385, method)
        assert m.ruri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        assert m.ruri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
        assert m.ruri.host == "example.com"
        assert m.via_branch == "z9hG4bK-.!%66*_+`'~"
        to = m.parse_header("To")
        assert to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
        assert to.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        frm = m.parse_header("From")
        assert frm.display_name == "token1~` token2'+_ token3*%!.-"
        assert frm.get_param("fromParam''~+*_!.-%") == "работающий"
        assert frm.tag == "_token~1'+`*%!-."
        assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        assert m.parse_header("Call-ID") == m.call_id
        assert m.parse_header("Max-Forwards") == 255
        assert m.get_header("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
        assert m.body == b""

    def test_3_1_1_3_esc01(self, torture: Loader) -> None:
        """Valid use of the % escaping mechanism."""
        m = request(torture("3.1.1.3_esc01"))
        assert m.ruri.user == "sips:user@example.com" and m.ruri.host == "example.net"
        assert m.parse_header("To").uri.user == "user"
        assert m.parse_header("To").uri == URI.parse("sip:user@example.com")
        assert m.parse_header("From").uri.user == "I have spaces"
        contact = m.parse_header("Contact")
        assert contact.uri.user == "caller"
        assert contact.uri.params == {"lr": None, "name": "value%41"}
        assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"
        assert m.content_type == "application/sdp"
        assert m.body == SDP_150 % (1, 1)

    def test_3_1_1_4_escnull(self, torture: Loader) -> None:
        """Escaped nulls in URIs."""
        m = request(torture("3.1.1.4_escnull"))
        assert m.parse_header("To").uri.user == "null-\x00-null"
        assert m.parse_header("From").uri.user == "null-\x00-null"
        assert [m.parse_header("Contact", i).uri.user for i in range(2)] == ["\x00", "\x00\x00"]
        assert str(m.parse_header("Contact", 1).uri) == "sip:%00%00@host5.example.com"

    def test_3_1_1_5_esc02(self, torture: Loader) -> None:
        """Use of % when it is not an escape."""
        m = request(torture("3.1.1.5_esc02"))
        assert m.method == "RE%47IST%45R"  # not REGISTER
        assert m.cseq.method == "RE%47IST%45R"
        assert m.parse_header("To").display_name == "%Z%45"
        assert m.parse_header("From").display_name == "%Z%45"
        assert m.via_branch == "z9hG4bK209%fzsnel234"
        assert [str(c.uri) for c in (m.parse_header("Contact", i) for i in range(2))] == [
            "sip:alias1@host1.example.com",
            "sip:alias3@host3.example.com",
        ]
        assert m.get_header("C%6Fntact") == "<sip:alias2@host2.example.com>"  # another header

    def test_3_1_1_6_lwsdisp(self, torture: Loader) -> None:
        """Message with no LWS between display name and <."""
        m = request(torture("3.1.1.6_lwsdisp"))
        frm = m.parse_header("From")
        assert (frm.display_name, frm.uri.user, frm.tag) == ("caller", "caller", "323")

    def test_3_1_1_7_longreq(self, torture: Loader) -> None:
        """Long values in header fields."""
        m = request(torture("3.1.1.7_longreq"))
        assert m.defects == []
        to = m.parse_header("To")
        assert to.display_name == ("I have a user name of " + "extreme" * 10 + " proportion")
        assert to.uri.port == 6000
        assert to.uri.get_param("unknownparam1") == "very" + "long" * 20 + "value"
        assert to.uri.get_param("longparam" + "name" * 25) == "shortvalue"
        assert to.uri.has_param("very" + "long" * 25 + "ParameterNameWithNoValue")
        frm = m.parse_header("f")
        assert frm.uri.user == "amazinglylongcallername" * 5
        assert (
            frm.tag
            == "12982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982424"
        )
        assert frm.has_param("unknownValuelessparamname" + "paramname" * 9)
        assert m.call_id == "longreq.one" + "really" * 20 + "longcallid"
        vias = [m.parse_header("Via", i) for i in range(len(m.get_headers("Via")))]
        assert len(vias) == 34
        assert [v.host for v in vias[:33]] == [f"sip{n}.example.com" for n in range(33, 0, -1)]
        assert vias[-1].received == "192.0.2.5"
        assert vias[-1].branch == "very" + "long" * 50 + "branchvalue"
        assert m.parse_header("Contact").uri.user == "amazinglylongcallername" * 5
        unknown = "Unknown-" + "Long" * 20 + "-Name"
        assert m.get_header(unknown) == (
            "unknown-"
            + "long" * 20
            + "-value; unknown-"
            + "long" * 20
            + "-parameter-name = unknown-"
            + "long" * 20
            + "-parameter-value"
        )
        assert len(m.body) == 150

    def test_3_1_1_8_dblreq(self, torture: Loader) -> None:
        """Extra trailing octets: only the first message (Content-Length 0) is taken."""
        m = request(torture("3.1.1.8_dblreq"))
        assert m.method == "REGISTER"
        assert m.body == b""
        assert m.cseq == CSeq(8, "REGISTER")
        assert m.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
        assert m.defects == []

    def test_3_1_1_9_semiuri(self, torture: Loader) -> None:
        """Semicolon-separated parameters in the user part of a URI."""
        m = request(torture("3.1.1.9_semiuri"))
        assert m.ruri.user == "user;par=u@example.net"
        assert m.ruri.host == "example.com"
        assert m.ruri.params == {}
        accept = [
            m.parse_header("Accept", i).mime_type for i in range(len(m.get_headers("Accept")))
        ]
        assert accept == [
            "application/sdp", "application/pkcs7-mime", "multipart/mixed",
            "multipart/signed", "message/sip", "message/sipfrag",
        ]  # fmt: skip

    def test_3_1_1_10_transports(self, torture: Loader) -> None:
        """Varied and unknown transport types."""
        m = request(torture("3.1.1.10_transports"))
        vias = [m.parse_header("Via", i) for i in range(5)]
        assert [v.transport for v in vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
        assert [v.host for v in vias] == [f"t{n}.example.com" for n in range(1, 6)]
        assert m.call_id == "transports.kijh4akdnaqjkwendsasfdj"
        assert m.parse_header("To").uri == URI.parse("sip:user@example.com")

    def test_3_1_1_11_mpart01(self, torture: Loader) -> None:
        """Multipart MIME message with a binary part."""
        m = request(torture("3.1.1.11_mpart01"))
        assert m.parse_header("Content-Length") == 553
        assert len(m.body) == 553
        assert m.body.startswith(b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n")
        assert m.body.endswith(b"--7a9cbec02ceef655--\r\n")
        ct = m.parse_header("Content-Type")
        assert ct.mime_type == "multipart/mixed" and ct.get_param("boundary") == "7a9cbec02ceef655"
        via = m.via
        assert via is not None and via.has_param("rport") and via.rport is None
        assert (via.host, via.port) == ("127.0.0.1", 5070)
        assert m.get_header(
            "Identity",
        ).startswith("r5mwreLuyDRYBi/0TiPwEsY3rEVsk")  # type: ignore[union-attr]
        assert m.get_header("Content-Transfer-Encoding") == "binary"
        assert m.parse_header("User-Agent") == "SIPimp.org/0.2.5 (curses)"
        assert m.parse_header("Date").year == 2005
        assert parse_message(bytes(m)).body == m.body

    def test_3_1_1_12_unreason(self, torture: Loader) -> None:
        """UTF-8 characters in the reason phrase."""
        m = response(torture("3.1.1.12_unreason"))
        assert m.status_code == 200
        assert m.reason_phrase == "= 2**3 * 5**2 но сто девяносто девять - простое"
        assert m.cseq == CSeq(35, "INVITE")
        assert len(m.body) == 154
        assert bytes(m).startswith("SIP/2.0 200 = 2**3 * 5**2 но сто".encode())

    def test_3_1_1_13_noreason(self, torture: Loader) -> None:
        """Empty reason phrase."""
        m = response(torture("3.1.1.13_noreason"))
        assert (m.status_code, m.reason_phrase) == (100, "")
        assert m.to_tag == "902jndnke3"
        assert bytes(m).startswith(b"SIP/2.0 100 \r\n")


class TestTortureInvalid:
    """RFC 4475 3.1.2: invalid messages."""

    def test_3_1_2_1_badinv01(self, torture: Loader) -> None:
        """Extraneous header field separators: malformed Via and Contact -> 400."""
        m = request(torture("3.1.2.1_badinv01"))
        with pytest.raises(ParseError) as info:
            _ = m.via_branch
        assert info.value.header == "Via"
        for i in range(len(m.get_headers("Via"))):
            with pytest.raises(ParseError):
                m.parse_header("Via", i)
        with pytest.raises(ParseError):
            m.parse_header("Contact")
        assert m.cseq == CSeq(8, "INVITE")  # the rest is there to build the 400

    def test_3_1_2_2_clerr(self, torture: Loader) -> None:
        """Content-Length larger than the message -> 400."""
        m = request(torture("3.1.2.2_clerr"))
        assert any("Content-Length 9999" in d for d in m.defects)

    def test_3_1_2_3_ncl(self, torture: Loader) -> None:
        """Negative Content-Length -> 400."""
        m = request(torture("3.1.2.3_ncl"))
        assert any("invalid Content-Length '-999'" in d for d in m.defects)
        with pytest.raises(ParseError):
            m.parse_header("Content-Length")

    def test_3_1_2_4_scalar02(self, torture: Loader) -> None:
        """Request scalar fields with overlarge values -> 400 (the CSeq)."""
        m = request(torture("3.1.2.4_scalar02"))
        with pytest.raises(ParseError) as info:
            _ = m.cseq
        assert info.value.header == "CSeq"
        with pytest.raises(ParseError, match="Max-Forwards"):
            m.parse_header("Max-Forwards")
        with pytest.raises(ParseError, match="Expires"):
            m.parse_header("Expires")
        contact = m.parse_header("Contact")
        assert contact.get_param("expires") == "280297596632815"
        assert contact.expires is None  # > 2**32-1: treated as absent (default 3600)

    def test_3_1_2_5_scalarlg(self, torture: Loader) -> None:
        """Response scalar fields with overlarge values -> discarded."""
        m = response(torture("3.1.2.5_scalarlg"))
        assert m.status_code == 503
        with pytest.raises(ParseError):
            _ = m.cseq
        with pytest.raises(ParseError):
            m.parse_header("Retry-After")
        with pytest.raises(ParseError):
            m.parse_header("Warning")  # 1812: more than 3 digits

    def test_3_1_2_6_quotbal(self, torture: Loader) -> None:
        """Unterminated quoted string in display name -> 400."""
        m = request(torture("3.1.2.6_quotbal"))
        with pytest.raises(ParseError, match="quoted") as info:
            _ = m.to_tag
        assert info.value.header == "To"
        assert Response.for_request(m, 400, to_tag="x").get_header("To") == m.get_header("To")

    def test_3_1_2_7_ltgtruri(self, torture: Loader) -> None:
        """<> enclosing the Request-URI -> 400."""
        m = request(torture("3.1.2.7_ltgtruri"))
        assert m.ruri_text == "<sip:user@example.com>"
        with pytest.raises(ParseError):
            _ = m.ruri

    def test_3_1_2_8_lwsruri(self, torture: Loader) -> None:
        """Malformed SIP Request-URI (embedded LWS) -> 400."""
        m = request(torture("3.1.2.8_lwsruri"))
        assert m.defects == ["Request-URI contains whitespace or is empty"]
        with pytest.raises(ParseError):
            _ = m.ruri

    def test_3_1_2_9_lwsstart(self, torture: Loader) -> None:
        """Multiple SP separating Request-Line elements -> 400 (or liberal acceptance)."""
        m = request(torture("3.1.2.9_lwsstart"))
        assert m.defects == ["Request-URI contains whitespace or is empty"]
        assert m.version == "SIP/2.0"
        with pytest.raises(ParseError):
            _ = m.ruri

    def test_3_1_2_10_trws(self, torture: Loader) -> None:
        """SP characters at the end of the Request-Line -> 400 (or liberal acceptance)."""
        m = request(torture("3.1.2.10_trws"))
        assert m.defects == ["whitespace after the SIP-Version"]
        assert m.version == "SIP/2.0"
        assert m.ruri == URI.parse("sip:remote-target@example.com")
        assert bytes(m).startswith(b"OPTIONS sip:remote-target@example.com SIP/2.0\r\n")

    def test_3_1_2_11_escruri(self, torture: Loader) -> None:
        """Escaped headers in a SIP Request-URI: parses, but the core must answer 400."""
        m = request(torture("3.1.2.11_escruri"))
        assert m.ruri.headers == {"Route": ["<sip:example.com>"]}
        assert m.ruri.has_header("Route")

    def test_3_1_2_12_baddate(self, torture: Loader) -> None:
        """Invalid time zone in Date header field."""
        m = request(torture("3.1.2.12_baddate"))
        with pytest.raises(ParseError, match="GMT") as info:
            m.parse_header("Date")
        assert info.value.header == "Date"

    def test_3_1_2_13_regbadct(self, torture: Loader) -> None:
        """Failure to enclose a name-addr URI with ? in <> -> 400."""
        m = request(torture("3.1.2.13_regbadct"))
        with pytest.raises(ParseError, match="<>") as info:
            m.parse_header("Contact")
        assert info.value.header == "Contact"

    def test_3_1_2_14_badaspec(self, torture: Loader) -> None:
        """Spaces within addr-spec -> 400."""
        m = request(torture("3.1.2.14_badaspec"))
        assert m.parse_header("From").display_name == "Bell, Alexander"
        with pytest.raises(ParseError) as info:
            m.parse_header("To")
        assert info.value.header == "To"

    def test_3_1_2_15_baddn(self, torture: Loader) -> None:
        """Non-token characters in an unquoted display name -> 400."""
        m = request(torture("3.1.2.15_baddn"))
        with pytest.raises(ParseError, match="display name"):
            m.parse_header("From")
        with pytest.raises(ParseError, match="display name"):
            m.parse_header("To")
        # The published message also lacks the empty line after its headers.
        assert m.defects == ["no empty line after the header block"]

    def test_3_1_2_16_badvers(self, torture: Loader) -> None:
        """Unknown protocol version: the core answers 505."""
        m = request(torture("3.1.2.16_badvers"))
        assert m.version == "SIP/7.0"
        assert m.defects == []
        assert m.via is not None and m.via.protocol == "SIP/7.0"
        assert bytes(m).startswith(b"OPTIONS sip:t.watson@example.org SIP/7.0\r\n")

    def test_3_1_2_17_mismatch01(self, torture: Loader) -> None:
        """Start line and CSeq method mismatch: values kept so the core answers 400."""
        m = request(torture("3.1.2.17_mismatch01"))
        assert (m.method, m.cseq.method) == ("OPTIONS", "INVITE")

    def test_3_1_2_18_mismatch02(self, torture: Loader) -> None:
        """Unknown method with CSeq method mismatch."""
        m = request(torture("3.1.2.18_mismatch02"))
        assert (m.method, m.cseq.method) == ("NEWMETHOD", "INVITE")
        assert len(m.body) == 138

    def test_3_1_2_19_bigcode(self, torture: Loader) -> None:
        """Overlarge response code: the response cannot be parsed (and is discarded)."""
        with pytest.raises(ParseError) as info:
            parse_message(torture("3.1.2.19_bigcode"))
        assert info.value.line == 1
        assert "Status-Line" in str(info.value)


class TestTortureTransaction:
    """RFC 4475 3.2: transaction layer semantics."""

    def test_3_2_1_badbranch(self, torture: Loader) -> None:
        """Missing transaction identifier: the branch is only the magic cookie."""
        m = request(torture("3.2.1_badbranch"))
        assert m.via_branch == "z9hG4bK"


class TestTortureApplication:
    """RFC 4475 3.3: application layer semantics (syntax is valid; values are kept)."""

    def test_3_3_1_insuf(self, torture: Loader) -> None:
        """Missing required header fields: the core answers 400."""
        m = request(torture("3.3.1_insuf"))
        for name in ("To", "From", "Call-ID", "Max-Forwards"):
            assert not m.has_header(name)
        assert (m.call_id, m.from_tag, m.to_tag) == ("", None, None)
        assert m.parse_header("Max-Forwards") is None
        assert m.cseq == CSeq(193942, "INVITE")

    def test_3_3_2_unkscm(self, torture: Loader) -> None:
        """Request-URI with an unknown scheme: the core answers 416."""
        m = request(torture("3.3.2_unkscm"))
        assert m.ruri.scheme == "nobodyknowsthisscheme"
        assert m.ruri.opaque == "totallyopaquecontent"

    def test_3_3_3_novelsc(self, torture: Loader) -> None:
        """Request-URI with a known but atypical scheme: 416."""
        m = request(torture("3.3.3_novelsc"))
        assert (m.ruri.scheme, m.ruri.opaque) == ("soap.beep", "//192.0.2.103:3002")

    def test_3_3_4_unksm2(self, torture: Loader) -> None:
        """Unknown URI schemes in header fields."""
        m = request(torture("3.3.4_unksm2"))
        assert m.parse_header("To").uri == URI.parse("isbn:2983792873")
        assert m.parse_header("From").uri.scheme == "http" and m.from_tag == "3234233"
        assert str(m.parse_header("Contact").uri) == "name:John_Smith"

    def test_3_3_5_bext01(self, torture: Loader) -> None:
        """Proxy-Require and Require: the core answers 420 with Unsupported."""
        m = request(torture("3.3.5_bext01"))
        assert m.parse_header("Require") == ["nothingSupportsThis", "nothingSupportsThisEither"]
        assert m.get_token_list("Proxy-Require") == [
            "noProxiesSupportThis",
            "norDoAnyProxiesSupportThis",
        ]

    def test_3_3_6_invut(self, torture: Loader) -> None:
        """Unknown Content-Type: the core answers 415."""
        m = request(torture("3.3.6_invut"))
        assert m.content_type == "application/unknownformat"
        assert m.body == b'<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n'

    def test_3_3_7_regaut01(self, torture: Loader) -> None:
        """Unknown authorization scheme."""
        m = request(torture("3.3.7_regaut01"))
        cred = m.parse_header("Authorization")
        assert cred.scheme == "NoOneKnowsThisScheme" and cred.params == {"opaque-data": "here"}

    def test_3_3_8_multi01(self, torture: Loader) -> None:
        """Multiple values in single-value required fields: kept in order so the core can 400."""
        m = request(torture("3.3.8_multi01"))
        assert m.get_headers("CSeq") == ["5 INVITE", "59 INVITE"]
        assert m.get_headers("Call-ID") == ["multi01.98asdh@192.0.2.1", "multi01.98asdh@192.0.2.2"]
        assert m.get_headers("To") == ["sip:user@example.com", "sip:other@example.net"]
        assert m.get_headers("From") == [
            "sip:caller@example.com;tag=3413415",
            "sip:caller@example.net;tag=2923420123",
        ]
        assert m.get_headers("Max-Forwards") == ["70", "5"]
        assert len(m.get_headers("Contact")) == 2

    def test_3_3_9_mcl01(self, torture: Loader) -> None:
        """Multiple Content-Length values: flagged."""
        m = request(torture("3.3.9_mcl01"))
        assert m.get_headers("Content-Length") == ["13", "5"]
        assert "several different Content-Length values" in m.defects

    def test_3_3_10_bcast(self, torture: Loader) -> None:
        """200 OK response with a broadcast Via sent-by."""
        m = response(torture("3.3.10_bcast"))
        assert m.parse_header("Via", 1).host == "255.255.255.255"

    def test_3_3_11_zeromf(self, torture: Loader) -> None:
        """Max-Forwards of zero: the core answers 483 (OPTIONS: may answer itself)."""
        assert request(torture("3.3.11_zeromf")).parse_header("Max-Forwards") == 0

    def test_3_3_12_cparam01(self, torture: Loader) -> None:
        """REGISTER with a contact header parameter."""
        contact = request(torture("3.3.12_cparam01")).parse_header("Contact")
        assert contact.uri == URI.parse("sip:+19725552222@gw1.example.net")
        assert contact.params == {"unknownparam": None}

    def test_3_3_13_cparam02(self, torture: Loader) -> None:
        """REGISTER with a URI parameter."""
        contact = request(torture("3.3.13_cparam02")).parse_header("Contact")
        assert contact.uri.params == {"unknownparam": None}
        assert contact.params == {}

    def test_3_3_14_regescrt(self, torture: Loader) -> None:
        """REGISTER with a URI header parameter (escaped Route) in Contact."""
        contact = request(torture("3.3.14_regescrt")).parse_header("m")
        assert contact.uri.headers == {"Route": ["<sip:sip.example.com>"]}

    def test_3_3_15_sdp01(self, torture: Loader) -> None:
        """Unacceptable Accept offering: the core answers 406 / 415."""
        m = request(torture("3.3.15_sdp01"))
        assert m.parse_header("Accept").mime_type == "text/nobodyknowsthis"
        assert m.content_type == "application/sdp"


class TestTortureBackwardCompatibility:
    """RFC 4475 3.4: backward compatibility."""

    def test_3_4_1_inv2543(self, torture: Loader) -> None:
        """INVITE with RFC 2543 syntax: no branch, no Max-Forwards, no Content-Length."""
        m = request(torture("3.4.1_inv2543"))
        assert m.via_branch is None
        assert m.parse_header("Max-Forwards") is None
        assert m.parse_header("Record-Route").uri.get_param("maddr") == "ss1.example.com"
        # Without <>, ";user=phone" is a header parameter under RFC 3261 (a URI one in 2543).
        to = m.parse_header("To")
        assert to.params == {"user": "phone"} and to.uri.params == {}
        assert m.parse_header("From").uri.get_param("user") == "phone"
        assert m.body.startswith(b"v=0\r\n") and m.body.endswith(b"m=audio 49217 RTP/AVP 0\r\n")


class TestIPv6Torture:
    """RFC 5118 4: parser torture tests for IPv6."""

    def test_4_1_ipv6_good(self, torture: Loader) -> None:
        m = request(torture("4.1_ipv6-good"))
        assert (m.ruri.host, m.ruri.port) == ("[2001:db8::10]", None)
        assert m.via is not None and m.via.host == "[2001:db8::9:1]"
        contact = m.parse_header("Contact")
        assert (contact.display_name, contact.uri.host) == ("Caller", "[2001:db8::1]")

    def test_4_2_ipv6_bad(self, torture: Loader) -> None:
        """An IPv6 address without brackets in the Request-URI -> 400."""
        m = request(torture("4.2_ipv6-bad"))
        with pytest.raises(ParseError):
            _ = m.ruri

    def test_4_3_port_ambiguous(self, torture: Loader) -> None:
        """[2001:db8::10:5070] is an address (no port)."""
        m = request(torture("4.3_port-ambiguous"))
        assert (m.ruri.host, m.ruri.port) == ("[2001:db8::10:5070]", None)

    def test_4_4_port_unambiguous(self, torture: Loader) -> None:
        m = request(torture("4.4_port-unambiguous"))
        assert (m.ruri.host, m.ruri.port) == ("[2001:db8::10]", 5070)

    def test_4_5_via_received_without_brackets(self, torture: Loader) -> None:
        via = request(torture("4.5_via-received-param-no-delim")).via
        assert via is not None
        assert (via.host, via.received, via.branch) == (
            "[2001:db8::9:1]",
            "2001:db8::9:255",
            "z9hG4bKas3",
        )

    def test_4_5_via_received_with_brackets(self, torture: Loader) -> None:
        m = request(torture("4.5_via-received-param-with-delim"))
        assert m.via is not None and m.via.received == "[2001:db8::9:255]"
        assert (m.method, m.to_tag) == ("BYE", "bd76ya")

    def test_4_6_ipv6_in_sdp(self, torture: Loader) -> None:
        """The published Content-Length (268) exceeds the body (tests/data/torture/README.md)."""
        m = request(torture("4.6_ipv6-in-sdp"))
        assert m.parse_header("To").uri.host == "[2001:db8::10]"
        assert m.parse_header("Contact").uri.host == "[2001:db8::20]"
        assert m.defects == ["Content-Length 268 is larger than the body (251)"]
        assert b"c=IN IP6 2001:db8::20\r\n" in m.body

    def test_4_7_mult_ip_in_header(self, torture: Loader) -> None:
        m = request(torture("4.7_mult-ip-in-header"))
        vias = [m.parse_header("Via", i) for i in range(3)]
        assert [(v.host, v.port) for v in vias] == [
            ("[2001:db8::9:1]", 6050),
            ("192.0.2.1", None),
            ("[2001:db8::9:255]", None),
        ]
        assert vias[2].received == "192.0.2.200"
        assert vias[2].transport == "TCP"

    def test_4_8_mult_ip_in_sdp(self, torture: Loader) -> None:
        """The published Content-Length (181) is shorter than the body: the body is cut there."""
        m = request(torture("4.8_mult-ip-in-sdp"))
        assert m.defects == []
        assert len(m.body) == 181
        assert m.parse_header("Contact").uri.host == "[2001:db8::9:1]"

    def test_4_9_ipv4_mapped_ipv6(self, torture: Loader) -> None:
        m = request(torture("4.9_ipv4-mapped-ipv6"))
        vias = [m.parse_header("Via", i) for i in range(2)]
        assert [(v.host, v.port) for v in vias] == [
            ("[::ffff:192.0.2.10]", 19823),
            ("[::ffff:192.0.2.2]", None),
        ]
        contact = m.parse_header("Contact")
        assert (contact.display_name, contact.uri.host) == ("T. desk phone", "[::ffff:192.0.2.2]")
        assert len(m.body) == 236

    def test_4_10_three_colons_rejected(self, torture: Loader) -> None:
        """The RFC 3261 ABNF bug: "2001:db8:::192.0.2.1" is not an IPv6 address."""
        m = request(torture("4.10_ipv6-bug-abnf-3-colons"))
        with pytest.raises(ParseError, match="host"):
            _ = m.ruri
        with pytest.raises(ParseError):
            m.parse_header("To")

    def test_4_10_two_colons_accepted(self, torture: Loader) -> None:
        m = request(torture("4.10_ipv6-correct-abnf-2-colons"))
        assert m.ruri.host == "[2001:db8::192.0.2.1]"
        assert m.parse_header("To").uri.host == "[2001:db8::192.0.2.1]"
        every_header_parses(m)


VALID_EVERY_HEADER = [
    "3.1.1.1_wsinv", "3.1.1.2_intmeth", "3.1.1.3_esc01", "3.1.1.4_escnull", "3.1.1.5_esc02",
    "3.1.1.6_lwsdisp", "3.1.1.7_longreq", "3.1.1.8_dblreq", "3.1.1.9_semiuri",
    "3.1.1.10_transports", "3.1.1.11_mpart01", "3.1.1.12_unreason", "3.1.1.13_noreason",
    "3.3.10_bcast", "3.3.11_zeromf", "3.3.12_cparam01", "3.3.13_cparam02", "3.3.14_regescrt",
    "4.1_ipv6-good", "4.3_port-ambiguous", "4.4_port-unambiguous",
    "4.5_via-received-param-no-delim", "4.5_via-received-param-with-delim", "4.7_mult-ip-in-header",
    "4.9_ipv4-mapped-ipv6",
]  # fmt: skip


@pytest.mark.parametrize("name", VALID_EVERY_HEADER)
def test_valid_messages_have_no_defects_and_every_header_parses(torture: Loader, name: str) -> None:
    """RFC 4475 3.1.1 / RFC 5118: nothing in a valid message is refused."""
    m = parse_message(torture(name))
    assert m.defects == []
    every_header_parses(m)
    if isinstance(m, Request):
        assert isinstance(m.ruri, URI)
    assert isinstance(m.cseq, CSeq)
    for i in range(len(m.get_headers("Via"))):
        assert isinstance(m.parse_header("Via", i), Via)
    for i in range(len(m.get_headers("Contact"))):
        assert (
            isinstance(m.parse_header("Contact", i), NameAddr | str)
            or m.parse_header("Contact", i) == WILDCARD
        )
