"""Tests of websip.sanity: RFC 3261 8.2 / 16.3 checks, RFC 4475 and RFC 5118 messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from websip import sanity
from websip.exceptions import LocalProtocolError, ParseError
from websip.sanity import (
    KNOWN_METHODS,
    MAX_MERGE_ENTRIES,
    MERGE_WINDOW,
    MergedRequestDetector,
    check_ack,
    check_proxy_request,
    check_request,
    check_response,
)
from websip.sip import Request, Response, parse_message

TORTURE = Path(__file__).parent / "data" / "torture" / "msgs"

CRLF = "\r\n"

# What a websip UA takes by default (JsSIP's Allow list).
UA_METHODS = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "UPDATE", "MESSAGE", "OPTIONS", "REFER", "INFO", "NOTIFY"}
)
REGISTRAR_METHODS = UA_METHODS | {"REGISTER"}
SUPPORTED = frozenset({"100rel", "timer", "outbound", "gruu", "path", "ice", "replaces"})
TYPES = frozenset({"application/sdp", "text/plain", "multipart/mixed", "message/sipfrag"})


def check(request: Request, **kwargs: object) -> Response | None:
    options: dict[str, object] = {
        "supported": SUPPORTED,
        "allowed_methods": UA_METHODS,
        "accepted_types": TYPES,
        "now": 0.0,
        "to_tag": "sanity1",
    }
    options.update(kwargs)
    return check_request(request, **options)  # type: ignore[arg-type]


BASE = {
    "Via": "SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKbase1",
    "Max-Forwards": "70",
    "To": "<sip:alice@atlanta.example.com>",
    "From": "Bob <sip:bob@biloxi.example.com>;tag=b0b",
    "Call-ID": "base-call-id@192.0.2.4",
}


def request(
    method: str = "OPTIONS",
    ruri: str = "sip:alice@df7jal23ls0d.invalid;transport=ws",
    *,
    cseq: str | None = None,
    drop: tuple[str, ...] = (),
    replace: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    body: str = "",
    version: str = "SIP/2.0",
) -> Request:
    """A well-formed request, with headers dropped, replaced or added as asked."""
    headers = dict(BASE)
    headers["CSeq"] = cseq or f"101 {method}"
    headers.update(replace or {})
    lines = [f"{method} {ruri} {version}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name not in drop]
    lines += list(extra)
    lines += [f"Content-Length: {len(body.encode())}", "", body]
    message = parse_message(CRLF.join(lines))
    assert isinstance(message, Request)
    return message


def response(
    status: int = 200,
    *,
    vias: tuple[str, ...] = ("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKr1",),
    drop: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    version: str = "SIP/2.0",
    tail: str = "Content-Length: 0\r\n\r\n",
) -> Response:
    headers = {
        "To": "<sip:bob@biloxi.example.com>;tag=b0b",
        "From": "<sip:alice@atlanta.example.com>;tag=a1",
        "Call-ID": "r-call",
        "CSeq": "1 INVITE",
    }
    lines = [f"{version} {status} OK"]
    lines += [f"Via: {via}" for via in vias]
    lines += [f"{name}: {value}" for name, value in headers.items() if name not in drop]
    lines += list(extra)
    message = parse_message(CRLF.join(lines) + CRLF + tail)
    assert isinstance(message, Response)
    return message


def torture(name: str) -> Request | Response:
    (path,) = TORTURE.glob(f"*_{name}.sip")
    return parse_message(path.read_bytes())


# ----------------------------------------------------------------------------------
# RFC 4475 / RFC 5118 torture messages
# ----------------------------------------------------------------------------------

# file name -> status a websip UA answers (None: the request goes on), with the UA's
# methods (no REGISTER). RFC 4475 section given for each verdict.
UA_EXPECTED: dict[str, int | None] = {
    # 3.1.1 valid messages: parsed and accepted...
    "3.1.1.1_wsinv.sip": None,
    "3.1.1.3_esc01.sip": None,
    "3.1.1.6_lwsdisp.sip": None,
    "3.1.1.7_longreq.sip": None,
    "3.1.1.9_semiuri.sip": None,
    "3.1.1.10_transports.sip": None,
    "3.1.1.11_mpart01.sip": None,
    # ...an unknown method is 501 for a UA (RFC 3261 21.5.2), REGISTER 405 (8.2.1).
    "3.1.1.2_intmeth.sip": 501,
    "3.1.1.5_esc02.sip": 501,  # "RE%47IST%45R" is not REGISTER
    "3.1.1.4_escnull.sip": 405,
    "3.1.1.8_dblreq.sip": 405,
    # 3.1.2 invalid messages: 400, but 505 for a version (3.1.2.16).
    "3.1.2.1_badinv01.sip": 400,
    "3.1.2.2_clerr.sip": 400,
    "3.1.2.3_ncl.sip": 400,
    "3.1.2.4_scalar02.sip": 400,  # "due to the CSeq error" (syntax before method)
    "3.1.2.6_quotbal.sip": 400,
    "3.1.2.7_ltgtruri.sip": 400,
    "3.1.2.8_lwsruri.sip": 400,
    "3.1.2.9_lwsstart.sip": 400,
    "3.1.2.10_trws.sip": 400,
    "3.1.2.11_escruri.sip": 400,
    "3.1.2.12_baddate.sip": None,  # "could ignore this value altogether"
    "3.1.2.13_regbadct.sip": 400,  # Contact URI with a header outside <> (syntax first)
    "3.1.2.14_badaspec.sip": 400,
    "3.1.2.15_baddn.sip": 400,
    "3.1.2.16_badvers.sip": 505,
    "3.1.2.17_mismatch01.sip": 400,
    "3.1.2.18_mismatch02.sip": 400,  # 400 before the 501 of NEWMETHOD
    # 3.2 transaction layer
    "3.2.1_badbranch.sip": 400,  # "could reject the request with a 400"
    # 3.3 application layer
    "3.3.1_insuf.sip": 400,
    "3.3.2_unkscm.sip": 416,
    "3.3.3_novelsc.sip": 416,
    "3.3.4_unksm2.sip": 405,
    "3.3.5_bext01.sip": 420,
    "3.3.6_invut.sip": 415,
    "3.3.7_regaut01.sip": 405,
    "3.3.8_multi01.sip": 400,
    "3.3.9_mcl01.sip": 400,
    "3.3.11_zeromf.sip": None,  # "An endpoint should process the request"
    "3.3.12_cparam01.sip": 405,
    "3.3.13_cparam02.sip": 405,
    "3.3.14_regescrt.sip": 405,
    "3.3.15_sdp01.sip": 406,
    # 3.4 backward compatibility: accepted
    "3.4.1_inv2543.sip": None,
    # RFC 5118 (IPv6)
    "4.1_ipv6-good.sip": 405,
    "4.2_ipv6-bad.sip": 400,  # Request-URI without brackets
    "4.3_port-ambiguous.sip": 405,
    "4.4_port-unambiguous.sip": 405,
    "4.5_via-received-param-no-delim.sip": None,
    "4.5_via-received-param-with-delim.sip": None,
    # The archive's LF -> CRLF conversion left a Content-Length that does not
    # match the body (see the data README): a framing defect, 400.
    "4.6_ipv6-in-sdp.sip": 400,
    "4.7_mult-ip-in-header.sip": None,
    "4.8_mult-ip-in-sdp.sip": None,
    "4.9_ipv4-mapped-ipv6.sip": None,
    # RFC 5954 fixed the ABNF: three colons are not an IPv6 reference.
    "4.10_ipv6-bug-abnf-3-colons.sip": 400,
    "4.10_ipv6-correct-abnf-2-colons.sip": None,
}

# The REGISTER messages, for an element that takes REGISTER (the embedded registrar).
REGISTRAR_EXPECTED: dict[str, int | None] = {
    "3.1.1.4_escnull.sip": None,
    "3.1.1.8_dblreq.sip": None,
    "3.1.2.4_scalar02.sip": 400,  # "respond with 400 Bad Request due to the CSeq error"
    "3.1.2.13_regbadct.sip": 400,  # Contact URI with a header outside <>
    "3.3.4_unksm2.sip": None,  # syntactically valid; the registrar judges the To
    "3.3.7_regaut01.sip": None,  # the authentication layer answers 401
    "3.3.12_cparam01.sip": None,
    "3.3.13_cparam02.sip": None,
    "3.3.14_regescrt.sip": None,
    "4.1_ipv6-good.sip": None,
    "4.3_port-ambiguous.sip": None,
    "4.4_port-unambiguous.sip": None,
}

# Responses: None (passed on) or a reason to drop them.
RESPONSES_DROPPED = {
    "3.1.1.12_unreason.sip": False,
    "3.1.1.13_noreason.sip": False,
    "3.1.2.5_scalarlg.sip": True,  # overlarge CSeq: the layers cannot match it
    "3.3.10_bcast.sip": True,  # two Vias (8.1.3.3)
}
# Cannot even be framed: parse_message raises, the core drops the bytes.
UNPARSABLE = {"3.1.2.19_bigcode.sip"}


class TestTorture:
    def test_every_file_has_an_expectation(self) -> None:
        names = {path.name for path in TORTURE.glob("*.sip")}
        assert len(names) == 61
        assert names == set(UA_EXPECTED) | set(RESPONSES_DROPPED) | UNPARSABLE
        assert set(REGISTRAR_EXPECTED) <= set(UA_EXPECTED)

    @pytest.mark.parametrize(("name", "status"), sorted(UA_EXPECTED.items()))
    def test_user_agent(self, name: str, status: int | None) -> None:
        message = parse_message((TORTURE / name).read_bytes())
        assert isinstance(message, Request)
        result = check(message)
        if status is None:
            assert result is None
        else:
            assert result is not None, name
            assert result.status_code == status, result.reason_phrase
            # RFC 3261 8.2.6.2: Via, From, Call-ID, CSeq copied; To gets our tag.
            assert result.get_headers("Via") == message.get_headers("Via")
            assert result.get_header("From") == message.get_header("From")
            try:
                tagless = message.has_header("To") and message.to_tag is None
            except ParseError:
                tagless = False  # a malformed To is echoed as it came
            if tagless:
                assert result.to_tag == "sanity1"

    @pytest.mark.parametrize(("name", "status"), sorted(REGISTRAR_EXPECTED.items()))
    def test_registrar(self, name: str, status: int | None) -> None:
        message = parse_message((TORTURE / name).read_bytes())
        assert isinstance(message, Request)
        result = check(message, allowed_methods=REGISTRAR_METHODS)
        assert (result.status_code if result else None) == status

    @pytest.mark.parametrize(("name", "dropped"), sorted(RESPONSES_DROPPED.items()))
    def test_responses(self, name: str, dropped: bool) -> None:
        message = parse_message((TORTURE / name).read_bytes())
        assert isinstance(message, Response)
        assert (check_response(message, via_host=None) is not None) is dropped

    @pytest.mark.parametrize("name", sorted(UNPARSABLE))
    def test_unparsable(self, name: str) -> None:
        with pytest.raises(ParseError):
            parse_message((TORTURE / name).read_bytes())

    def test_bext01_lists_the_require_tags_only(self) -> None:
        """RFC 4475 3.3.5: a UA lists the Require tags; Proxy-Require is for proxies."""
        result = check(torture("bext01"))  # type: ignore[arg-type]
        assert result is not None
        assert result.get_header("Unsupported") == (
            "nothingSupportsThis, nothingSupportsThisEither"
        )

    def test_invut_lists_accepted_types(self) -> None:
        result = check(torture("invut"), accepted_types=frozenset({"application/sdp"}))  # type: ignore[arg-type]
        assert result is not None
        assert result.status_code == 415
        assert result.get_header("Accept") == "application/sdp"

    def test_baddn_display_name_even_when_framed(self) -> None:
        """RFC 4475 3.1.2.15 (the archive file also lacks its final CRLF)."""
        data = (TORTURE / "3.1.2.15_baddn.sip").read_bytes() + b"\r\n"
        message = parse_message(data)
        assert isinstance(message, Request) and not message.defects
        result = check(message)
        assert result is not None and result.status_code == 400
        assert result.reason_phrase == (
            "Bad Request (malformed To: invalid display name 'Watson, Thomas')"
        )

    def test_zeromf_is_483_for_a_proxy_only_if_not_options(self) -> None:
        message = torture("zeromf")
        assert isinstance(message, Request)
        assert check_proxy_request(message) is None  # OPTIONS: answer it yourself
        invite = request("INVITE", replace={"Max-Forwards": "0"})
        result = check_proxy_request(invite)
        assert result is not None and result.status_code == 483


# ----------------------------------------------------------------------------------
# Syntax rules
# ----------------------------------------------------------------------------------


class TestSyntax:
    def test_good_request_passes(self) -> None:
        assert check(request()) is None

    def test_defects_are_400_naming_the_defect(self) -> None:
        text = bytes(request()).replace(b"Content-Length: 0", b"Content-Length: 99")
        message = parse_message(text)
        assert isinstance(message, Request)
        result = check(message)
        assert result is not None and result.status_code == 400
        assert result.reason_phrase == "Bad Request (Content-Length 99 is larger than the body (0))"
        assert result.to_tag == "sanity1"

    def test_version_505(self) -> None:
        result = check(request(version="SIP/3.0"))
        assert result is not None and result.status_code == 505
        assert "SIP/3.0" in result.reason_phrase

    @pytest.mark.parametrize("name", ["To", "From", "Call-ID", "CSeq", "Via"])
    def test_missing_mandatory_header(self, name: str) -> None:
        result = check(request(drop=(name,)))
        assert result is not None and result.status_code == 400
        assert result.reason_phrase == f"Bad Request (missing {name})"

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("To", "<sip:x@example.com"),
            ("From", '"unbalanced <sip:x@example.com>'),
            ("Call-ID", "has space"),
            ("CSeq", "x OPTIONS"),
            ("Via", "SIP/2.0/WSS"),
            ("Max-Forwards", "256"),
        ],
    )
    def test_malformed_mandatory_header(self, name: str, value: str) -> None:
        result = check(request(replace={name: value}))
        assert result is not None and result.status_code == 400
        assert f"malformed {name}" in result.reason_phrase

    @pytest.mark.parametrize("name", ["To", "From", "Call-ID", "CSeq", "Max-Forwards"])
    def test_repeated_single_header(self, name: str) -> None:
        """RFC 4475 3.3.8: several values in a single-value field."""
        value = {"CSeq": "101 OPTIONS", "Max-Forwards": "70"}.get(name, BASE.get(name, ""))
        result = check(request(extra=(f"{name}: {value}",)))
        assert result is not None and result.status_code == 400
        assert f"2 {name} header fields" in result.reason_phrase

    def test_several_vias_are_fine_and_lower_ones_are_not_parsed(self) -> None:
        assert check(request(extra=("Via: SIP/2.0/WSS proxy.example.com;;",))) is None

    def test_missing_max_forwards_is_accepted(self) -> None:
        """RFC 2543 requests have none (RFC 4475 3.4.1)."""
        assert check(request(drop=("Max-Forwards",))) is None

    def test_cseq_method_mismatch(self) -> None:
        result = check(request("INFO", cseq="101 BYE"))
        assert result is not None and result.status_code == 400
        assert "CSeq method BYE does not match INFO" in result.reason_phrase

    def test_bare_magic_cookie_branch(self) -> None:
        result = check(request(replace={"Via": "SIP/2.0/WSS h.example.com;branch=z9hG4bK"}))
        assert result is not None and result.status_code == 400

    def test_missing_branch_is_accepted(self) -> None:
        assert check(request(replace={"Via": "SIP/2.0/WSS h.example.com"})) is None

    def test_request_uri_with_headers(self) -> None:
        result = check(request(ruri="sip:alice@example.com?Subject=hi"))
        assert result is not None and result.status_code == 400
        assert "URI headers" in result.reason_phrase

    def test_malformed_request_uri(self) -> None:
        result = check(request(ruri="sip:alice@[::1"))
        assert result is not None and result.status_code == 400
        assert "malformed Request-URI" in result.reason_phrase

    @pytest.mark.parametrize(
        ("method", "contacts", "status"),
        [
            ("INVITE", ("<sip:b@h>", "<sip:c@h>"), 400),
            ("INVITE", ("<sip:b@h",), 400),
            ("INVITE", ("*",), 400),
            ("SUBSCRIBE", ("<tel:+15551234>",), 400),
            ("NOTIFY", ("<http://example.com/>",), 400),
            ("INVITE", (), None),
            ("INVITE", ("<sips:b@h>",), None),
            ("OPTIONS", ("<sip:b@h",), None),  # not used: not checked (8.2.2)
            ("REGISTER", ("*",), None),
            ("REGISTER", ("<sip:b@h>", "<sip:c@h>;expires=60"), None),
            ("REGISTER", ("<sip:b@h>", "sip:c@h?x=y"), 400),
        ],
    )
    def test_contact(self, method: str, contacts: tuple[str, ...], status: int | None) -> None:
        message = request(
            method,
            extra=tuple(f"Contact: {c}" for c in contacts),
            body="v=0\r\n" if method == "INVITE" else "",
            replace={"Content-Type": "application/sdp"} if method == "INVITE" else None,
        )
        result = check(
            message, allowed_methods=REGISTRAR_METHODS | {"SUBSCRIBE"}, accepted_types=None
        )
        assert (result.status_code if result else None) == status

    def test_reason_phrase_is_cleaned(self) -> None:
        assert sanity._clean("a\x00b\x7fc\td") == "a?b?c?d"
        long = sanity._clean("x" * 500)
        assert len(long) == 120 and long.endswith("...")

    def test_long_scheme_in_reason_phrase_is_cut(self) -> None:
        result = check(request(ruri="x" * 300 + ":opaque"))
        assert result is not None and result.status_code == 416
        assert len(result.reason_phrase) < 160

    def test_no_to_tag_given(self) -> None:
        result = check(request(drop=("Call-ID",)), to_tag=None)
        assert result is not None and result.to_tag is None

    def test_in_dialog_request_keeps_its_to_tag(self) -> None:
        message = request(
            replace={"To": "<sip:alice@atlanta.example.com>;tag=mine"}, drop=("Call-ID",)
        )
        result = check(message)
        assert result is not None and result.to_tag == "mine"


# ----------------------------------------------------------------------------------
# RFC 3261 8.2 rules
# ----------------------------------------------------------------------------------


class TestMethod:
    """RFC 3261 8.2.1."""

    def test_405_with_allow(self) -> None:
        result = check(request("SUBSCRIBE", extra=("Event: presence",)))
        assert result is not None and result.status_code == 405
        assert result.get_header("Allow") == (
            "ACK, BYE, CANCEL, INFO, INVITE, MESSAGE, NOTIFY, OPTIONS, REFER, UPDATE"
        )

    def test_501_for_unknown(self) -> None:
        result = check(request("FOO"))
        assert result is not None and result.status_code == 501
        assert not result.has_header("Allow")

    def test_methods_are_case_sensitive(self) -> None:
        result = check(request("invite"))
        assert result is not None and result.status_code == 501

    def test_extension_method_when_allowed(self) -> None:
        assert check(request("FOO"), allowed_methods=UA_METHODS | {"FOO"}) is None

    def test_known_methods_can_be_changed(self) -> None:
        result = check(request("FOO"), known_methods=KNOWN_METHODS | {"FOO"})
        assert result is not None and result.status_code == 405


class TestRequestUriScheme:
    """RFC 3261 8.2.2.1."""

    @pytest.mark.parametrize("ruri", ["sip:a@b", "sips:a@b", "tel:+15551234567"])
    def test_accepted(self, ruri: str) -> None:
        assert check(request(ruri=ruri)) is None

    def test_416(self) -> None:
        result = check(request(ruri="mailto:alice@example.com"))
        assert result is not None and result.status_code == 416
        assert result.reason_phrase == "Unsupported URI Scheme (scheme mailto)"

    def test_to_scheme_is_not_checked(self) -> None:
        """8.2.2.1 RECOMMENDS accepting any To URI (JsSIP answers 416 here)."""
        assert check(request(replace={"To": "<tel:+15551234567>"})) is None

    def test_custom_schemes(self) -> None:
        result = check(request(ruri="tel:+1555"), uri_schemes=frozenset({"sip", "sips"}))
        assert result is not None and result.status_code == 416


class TestMergedRequests:
    """RFC 3261 8.2.2.2."""

    def test_merged_copy_gets_482(self) -> None:
        merged = MergedRequestDetector()
        first = request("INVITE", extra=("Contact: <sip:b@h>",))
        copy = request(
            "INVITE",
            extra=("Contact: <sip:b@h>",),
            replace={"Via": "SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKother"},
        )
        assert check(first, merged=merged, now=1.0) is None
        result = check(copy, merged=merged, now=1.1)
        assert result is not None and result.status_code == 482
        assert result.to_tag == "sanity1"

    def test_retransmission_is_not_merged(self) -> None:
        merged = MergedRequestDetector()
        assert check(request(), merged=merged, now=1.0) is None
        assert check(request(), merged=merged, now=2.0) is None

    def test_without_detector_nothing_is_checked(self) -> None:
        assert check(request()) is None


class TestMergedRequestDetector:
    def via(self, value: str) -> dict[str, str]:
        return {"Via": value}

    def test_same_key_other_branch(self) -> None:
        detector = MergedRequestDetector()
        assert not detector.check(request(), 0.0)
        assert detector.check(
            request(replace=self.via("SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKb")), 0.5
        )
        assert len(detector) == 1

    def test_same_branch_other_sent_by(self) -> None:
        detector = MergedRequestDetector()
        assert not detector.check(request(), 0.0)
        assert detector.check(
            request(replace=self.via("SIP/2.0/WSS 192.0.2.5;branch=z9hG4bKbase1")), 0.1
        )
        assert detector.check(
            request(replace=self.via("SIP/2.0/WSS 192.0.2.4:5060;branch=z9hG4bKbase1")), 0.1
        )

    def test_other_cseq_or_method_is_another_request(self) -> None:
        detector = MergedRequestDetector()
        assert not detector.check(request(), 0.0)
        assert not detector.check(request(cseq="102 OPTIONS"), 0.0)
        other = request(
            "INFO", replace=self.via("SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKc"), cseq="101 INFO"
        )
        assert not detector.check(other, 0.0)
        assert len(detector) == 3

    def test_rfc2543_identity(self) -> None:
        """17.2.3: without a z9hG4bK branch, the Request-URI and top Via identify it."""
        detector = MergedRequestDetector()
        old = self.via("SIP/2.0/UDP 192.0.2.4")
        assert not detector.check(request(replace=old), 0.0)
        assert not detector.check(request(replace=old), 0.1)  # retransmission
        assert detector.check(request(replace=self.via("SIP/2.0/UDP 192.0.2.9")), 0.2)
        assert detector.check(request(replace=old, ruri="sip:other@example.com"), 0.2)

    def test_in_dialog_and_tagless_requests_are_skipped(self) -> None:
        detector = MergedRequestDetector()
        tagged = request(replace={"To": "<sip:alice@atlanta.example.com>;tag=x"})
        assert not detector.check(tagged, 0.0)
        assert not detector.check(tagged, 0.0)
        untagged = request(replace={"From": "<sip:bob@biloxi.example.com>"})
        assert not detector.check(untagged, 0.0)
        assert len(detector) == 0

    def test_expiry_with_a_fake_clock(self) -> None:
        detector = MergedRequestDetector()
        copy = request(replace=self.via("SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKcopy"))
        assert not detector.check(request(), 100.0)
        assert detector.check(copy, 100.0 + MERGE_WINDOW - 0.001)
        # Once the window has passed the first request is forgotten: the copy is
        # now the first of its kind (and remembered in its turn).
        assert not detector.check(copy, 100.0 + MERGE_WINDOW)
        assert len(detector) == 1
        assert detector.check(request(), 100.0 + MERGE_WINDOW + 1)

    def test_expire_keeps_younger_entries(self) -> None:
        detector = MergedRequestDetector(window=10.0)
        detector.check(request(cseq="1 OPTIONS"), 0.0)
        detector.check(request(cseq="2 OPTIONS"), 5.0)
        detector.expire(9.9)
        assert len(detector) == 2
        detector.expire(10.0)
        assert len(detector) == 1
        detector.expire(100.0)
        assert len(detector) == 0
        detector.expire(200.0)  # empty: nothing to do

    def test_bounded_memory(self) -> None:
        assert MAX_MERGE_ENTRIES == 4096
        detector = MergedRequestDetector(max_entries=2)
        for seq in (1, 2, 3):
            detector.check(request(cseq=f"{seq} OPTIONS"), 0.0)
        assert len(detector) == 2
        # The oldest was forgotten: its copy is not recognized any more...
        first_copy = request(
            cseq="1 OPTIONS", replace=self.via("SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKz")
        )
        assert not detector.check(first_copy, 0.0)
        # ...the younger ones still are.
        third_copy = request(
            cseq="3 OPTIONS", replace=self.via("SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKz")
        )
        assert detector.check(third_copy, 0.0)

    @pytest.mark.parametrize(("window", "entries"), [(0.0, 10), (1.0, 0), (-1.0, 10)])
    def test_invalid_parameters(self, window: float, entries: int) -> None:
        with pytest.raises(ValueError):
            MergedRequestDetector(window, entries)


class TestRequire:
    """RFC 3261 8.2.2.3."""

    def test_420_lists_unsupported_once(self) -> None:
        message = request(extra=("Require: 100rel, foo", "Require: bar, foo, TIMER"))
        result = check(message)
        assert result is not None and result.status_code == 420
        assert result.get_header("Unsupported") == "foo, bar"

    def test_supported_tags_case_insensitive(self) -> None:
        assert check(request(extra=("Require: 100REL, Timer",))) is None

    def test_cancel_ignores_require(self) -> None:
        """RFC 3261: "These header fields MUST be ignored if they are present in these requests"."""
        assert check(request("CANCEL", extra=("Require: foo",))) is None

    def test_malformed_require(self) -> None:
        result = check(request(extra=("Require: a b",)))
        assert result is not None and result.status_code == 400
        assert "malformed Require" in result.reason_phrase

    def test_nothing_supported(self) -> None:
        result = check(request(extra=("Require: 100rel",)), supported=frozenset())
        assert result is not None and result.get_header("Unsupported") == "100rel"


class TestContent:
    """RFC 3261 8.2.3, 21.4.11."""

    def message(self, *extra: str, body: str = "hello") -> Request:
        return request("MESSAGE", extra=extra, body=body)

    def test_no_body_no_check(self) -> None:
        assert check(self.message("Content-Type: foo/bar", body="")) is None

    def test_accepted(self) -> None:
        assert check(self.message("Content-Type: text/plain;charset=utf-8")) is None

    def test_413(self) -> None:
        result = check(self.message("Content-Type: text/plain"), max_body_size=4)
        assert result is not None and result.status_code == 413
        assert check(self.message("Content-Type: text/plain"), max_body_size=5) is None

    def test_unsupported_encoding(self) -> None:
        result = check(self.message("Content-Type: text/plain", "Content-Encoding: gzip"))
        assert result is not None and result.status_code == 415
        assert result.get_header("Accept-Encoding") == "identity"
        assert check(self.message("Content-Type: text/plain", "e: identity")) is None
        assert (
            check(
                self.message("Content-Type: text/plain", "Content-Encoding: gzip"),
                accepted_encodings=frozenset({"gzip", "identity"}),
            )
            is None
        )

    def test_malformed_encoding(self) -> None:
        result = check(self.message("Content-Type: text/plain", "Content-Encoding: a b"))
        assert result is not None and result.status_code == 400

    def test_unsupported_type(self) -> None:
        result = check(self.message("Content-Type: application/x-foo"))
        assert result is not None and result.status_code == 415
        assert result.get_headers("Accept") == [
            "application/sdp",
            "message/sipfrag",
            "multipart/mixed",
            "text/plain",
        ]

    def test_optional_body_is_not_refused(self) -> None:
        """RFC 3261 8.2.3: "and that body part is not optional (as indicated by the
        Content-Disposition header field)"."""
        optional = "Content-Disposition: render;handling=OPTIONAL"
        assert check(self.message("Content-Type: application/x-foo", optional)) is None
        required = "Content-Disposition: render;handling=required"
        assert check(self.message("Content-Type: application/x-foo", required)) is not None
        broken = "Content-Disposition: ;;"
        assert check(self.message("Content-Type: application/x-foo", broken)) is not None

    @pytest.mark.parametrize("accepted", ["*/*", "application/*"])
    def test_wildcards(self, accepted: str) -> None:
        message = self.message("Content-Type: application/x-foo")
        assert check(message, accepted_types=frozenset({accepted})) is None

    def test_types_left_to_usages(self) -> None:
        assert check(self.message("Content-Type: application/x-foo"), accepted_types=None) is None
        assert check(self.message(), accepted_types=None) is None

    def test_missing_content_type(self) -> None:
        result = check(self.message())
        assert result is not None and result.status_code == 400
        assert "without Content-Type" in result.reason_phrase

    def test_malformed_content_type(self) -> None:
        result = check(self.message("Content-Type: text"))
        assert result is not None and result.status_code == 400
        assert "malformed Content-Type" in result.reason_phrase


class TestAccept:
    """RFC 3261 20.1, 21.4.7; RFC 4475 3.3.15."""

    def invite(self, *accept: str) -> Request:
        return request("INVITE", extra=tuple(f"Accept: {a}" for a in accept))

    @pytest.mark.parametrize(
        "accept",
        [
            (),
            ("application/sdp",),
            ("text/plain, application/sdp;level=1",),
            ("*/*",),
            ("application/*",),
            ("text/plain", "application/sdp"),
            ("a b",),
        ],
    )
    def test_accepted(self, accept: tuple[str, ...]) -> None:
        assert check(self.invite(*accept)) is None

    @pytest.mark.parametrize("accept", [("text/plain",), ("",), ("text/*",)])
    def test_406(self, accept: tuple[str, ...]) -> None:
        result = check(self.invite(*accept))
        assert result is not None and result.status_code == 406

    def test_only_invite(self) -> None:
        assert check(request("OPTIONS", extra=("Accept: text/plain",))) is None


class TestOrder:
    """The RFC's order: syntax, 8.2.1, 8.2.2.1, 8.2.2.2, 8.2.2.3, 8.2.3, Accept."""

    def test_syntax_before_method(self) -> None:
        result = check(request("FOO", cseq="1 BAR"))
        assert result is not None and result.status_code == 400

    def test_method_before_scheme(self) -> None:
        result = check(request("PUBLISH", ruri="mailto:a@b"))
        assert result is not None and result.status_code == 405

    def test_scheme_before_merge(self) -> None:
        merged = MergedRequestDetector()
        result = check(request(ruri="mailto:a@b"), merged=merged)
        assert result is not None and result.status_code == 416
        assert len(merged) == 0

    def test_merge_before_require(self) -> None:
        merged = MergedRequestDetector()
        check(request(), merged=merged)
        copy = request(
            extra=("Require: foo",), replace={"Via": "SIP/2.0/WSS 192.0.2.4;branch=z9hG4bKcopy"}
        )
        result = check(copy, merged=merged)
        assert result is not None and result.status_code == 482

    def test_require_before_content(self) -> None:
        """8.2.3: "Assuming the UAS understands any extensions required by the client"."""
        message = request("MESSAGE", extra=("Require: foo", "Content-Type: x/y"), body="b")
        result = check(message)
        assert result is not None and result.status_code == 420

    def test_content_before_accept(self) -> None:
        message = request("INVITE", extra=("Accept: text/plain", "Content-Type: x/y"), body="b")
        result = check(message)
        assert result is not None and result.status_code == 415

    def test_ack_is_refused(self) -> None:
        with pytest.raises(LocalProtocolError, match="check_ack"):
            check(request("ACK"))
        with pytest.raises(LocalProtocolError, match="check_ack"):
            check_proxy_request(request("ACK"))


class TestAck:
    def test_good_ack(self) -> None:
        assert check_ack(request("ACK")) is None

    def test_bad_ack_is_dropped_with_a_reason(self) -> None:
        assert check_ack(request("ACK", drop=("Call-ID",))) == "Bad Request (missing Call-ID)"
        assert check_ack(request("ACK", cseq="101 INVITE")) == (
            "Bad Request (CSeq method INVITE does not match ACK)"
        )
        assert check_ack(request("ACK", version="SIP/1.0")) is not None


class TestProxy:
    """RFC 3261 16.3."""

    def test_good_request(self) -> None:
        assert check_proxy_request(request("INVITE")) is None

    def test_syntax_first(self) -> None:
        result = check_proxy_request(request(drop=("CSeq",)), to_tag="p")
        assert result is not None and result.status_code == 400 and result.to_tag == "p"

    def test_scheme(self) -> None:
        result = check_proxy_request(request(ruri="mailto:a@b"))
        assert result is not None and result.status_code == 416

    @pytest.mark.parametrize(("value", "status"), [("0", 483), ("1", None)])
    def test_max_forwards(self, value: str, status: int | None) -> None:
        result = check_proxy_request(request("INVITE", replace={"Max-Forwards": value}))
        assert (result.status_code if result else None) == status

    def test_missing_max_forwards_passes(self) -> None:
        """RFC 3261 16.3: "If the request does not contain a Max-Forwards header field, this
        check is passed"."""
        assert check_proxy_request(request("INVITE", drop=("Max-Forwards",))) is None

    def test_proxy_require(self) -> None:
        message = request(extra=("Proxy-Require: sec-agree, foo", "Require: bar"))
        result = check_proxy_request(message, supported=frozenset({"sec-agree"}))
        assert result is not None and result.status_code == 420
        assert result.get_header("Unsupported") == "foo"
        assert check_proxy_request(message, supported=frozenset({"SEC-AGREE", "foo"})) is None

    def test_malformed_proxy_require(self) -> None:
        result = check_proxy_request(request(extra=("Proxy-Require: a b",)))
        assert result is not None and result.status_code == 400

    def test_ua_ignores_proxy_require(self) -> None:
        assert check(request(extra=("Proxy-Require: foo",))) is None

    def test_ua_does_not_answer_483(self) -> None:
        """RFC 4475 3.3.11: "An endpoint should process the request"."""
        assert check(request("INVITE", replace={"Max-Forwards": "0"})) is None


# ----------------------------------------------------------------------------------
# Responses
# ----------------------------------------------------------------------------------


class TestResponses:
    HOST = "df7jal23ls0d.invalid"

    def test_good_response(self) -> None:
        assert check_response(response(), via_host=self.HOST) is None

    def test_defects(self) -> None:
        message = response(tail="Content-Length: 10\r\n\r\nabc")
        assert check_response(message, via_host=self.HOST) == (
            "Content-Length 10 is larger than the body (3)"
        )

    def test_version(self) -> None:
        message = response()
        message.version = "SIP/3.0"
        assert check_response(message, via_host=None) == "SIP/3.0 is not SIP/2.0"

    @pytest.mark.parametrize("name", ["To", "From", "Call-ID", "CSeq"])
    def test_missing_header(self, name: str) -> None:
        assert check_response(response(drop=(name,)), via_host=None) == f"missing {name}"

    def test_missing_via(self) -> None:
        assert check_response(response(vias=()), via_host=None) == "missing Via"

    def test_malformed_header(self) -> None:
        message = response(drop=("CSeq",), extra=("CSeq: one INVITE",))
        reason = check_response(message, via_host=None)
        assert reason is not None and reason.startswith("malformed CSeq")

    def test_repeated_header(self) -> None:
        message = response(extra=("Call-ID: again",))
        assert check_response(message, via_host=None) == "2 Call-ID header fields"

    def test_max_forwards_is_not_checked_in_responses(self) -> None:
        assert check_response(response(extra=("Max-Forwards: x",)), via_host=None) is None

    def test_several_vias(self) -> None:
        """RFC 3261 8.1.3.3, RFC 4475 3.3.10."""
        message = response(
            vias=(
                f"SIP/2.0/WSS {self.HOST};branch=z9hG4bKr1",
                "SIP/2.0/WSS 255.255.255.255;branch=z9hG4bKr2",
            )
        )
        assert check_response(message, via_host=self.HOST) == "2 Via values in a response"

    def test_sent_by_not_ours(self) -> None:
        """RFC 3261 18.1.2."""
        assert check_response(response(), via_host="other.invalid") == (
            "Via sent-by df7jal23ls0d.invalid is not ours"
        )

    def test_sent_by_host_is_case_insensitive(self) -> None:
        assert check_response(response(), via_host="DF7JAL23LS0D.invalid") is None

    def test_sent_by_port(self) -> None:
        message = response(vias=(f"SIP/2.0/WSS {self.HOST}:8443;branch=z9hG4bKr1",))
        assert check_response(message, via_host=self.HOST) is None
        assert check_response(message, via_host=self.HOST, via_port=8443) is None
        assert check_response(message, via_host=self.HOST, via_port=443) == (
            "Via sent-by df7jal23ls0d.invalid:8443 is not ours"
        )

    def test_sent_by_ipv6(self) -> None:
        message = response(vias=("SIP/2.0/WSS [2001:db8::9];branch=z9hG4bKr1",))
        assert check_response(message, via_host="2001:DB8::9") is None
        assert check_response(message, via_host="[2001:db8::9]") is None
