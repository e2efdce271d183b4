"""The REGISTER usage (websip.registration) driven through a real Core.

A hand-written registrar reads the REGISTERs the core writes (``data_to_send``)
and answers with ``Response.for_request`` bytes (``receive_data``); the clock is
a plain float moved by the test. The 200 OKs are shaped like Kamailio's (see
tests/kamailio/README.md, "200 OK to REGISTER").
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from websip import causes
from websip.auth import DigestCredentials
from websip.core import Core
from websip.events import Event, RequestFailed, ResponseReceived
from websip.exceptions import ParseError
from websip.registration import (
    Gruu,
    Registered,
    Registration,
    RegistrationEvent,
    RegistrationExpiring,
    RegistrationFailed,
    RegistrationState,
    Unregistered,
    refresh_delay,
)
from websip.sip import URI, NameAddr, Request, Response, parse_message

UUID = "737877a9-2a4e-444e-9dcc-ed9b80e4c178"
INSTANCE = f"urn:uuid:{UUID}"
OTHER_UUID = "0b9e2c1d-1111-4222-8333-944455556666"
CONTACT = "sip:k3l2m1@8dc656f6.invalid;transport=ws"
PUB_GRUU = f"sip:alice@websip.test;gr={INSTANCE}"
TEMP_GRUU = "sip:uloc-6b0521e1-25ac-1-dd7f25d6@websip.test;gr"
CHALLENGE = 'Digest realm="websip.test", nonce="awUjDWsFIeFhXrMOeXGwDWHyjLksz7DZ", qop="auth"'


def kamailio_contacts(expires: int = 287) -> str:
    """A Kamailio 200's Contact value: every binding of the AoR, ours second.

    The first is another device; the second has our instance but another reg-id
    (another flow of ours), so matching must look at reg-id too.
    """
    other_device = (
        "<sip:zz9@0f0f0f0f.invalid;alias=127.0.0.1~40000~5;transport=ws;ob>;expires=100"
        ';received="sip:127.0.0.1:40000;transport=ws"'
        f';+sip.instance="<urn:uuid:{OTHER_UUID}>";reg-id=1'
    )
    ours = (
        f"<{CONTACT}>;expires={expires}"
        ';received="sip:127.0.0.1:32770;transport=ws"'
        f';pub-gruu="{PUB_GRUU}";temp-gruu="{TEMP_GRUU}"'
        f';+sip.instance="<{INSTANCE}>";reg-id=1'
    )
    other_flow = (
        "<sip:k3l2m1@8dc656f6.invalid;transport=ws>;expires=50"
        f';+sip.instance="<{INSTANCE}>";reg-id=2'
    )
    return ", ".join([other_device, other_flow, ours])


class Registrar:
    """One Registration over one Core, a hand-driven registrar and a fake clock."""

    def __init__(
        self,
        *,
        credentials: DigestCredentials | None = None,
        aor: str = '"Alice Liddell" <sip:alice@websip.test>',
        **options: object,
    ) -> None:
        self.now = 1000.0
        self.core = Core(
            via_host="8dc656f6.invalid",
            credentials=credentials,
            random=random.Random(5).randbytes,
        )
        kwargs: dict[str, object] = {"instance_urn": INSTANCE}
        kwargs.update(options)
        self.reg = Registration(
            self.core,
            registrar=URI.parse("sip:websip.test"),
            aor=NameAddr.parse(aor),
            contact_uri=URI.parse(CONTACT),
            **kwargs,  # type: ignore[arg-type]
        )
        self.others: list[Event] = []

    def sent(self) -> list[Request]:
        """What the core wrote since the last call, parsed."""
        out = []
        for data in self.core.data_to_send():
            message = parse_message(data)
            assert isinstance(message, Request)
            out.append(message)
        return out

    def one(self) -> Request:
        sent = self.sent()
        assert len(sent) == 1
        return sent[0]

    def answer(
        self,
        request: Request,
        status: int,
        headers: Sequence[tuple[str, str]] = (),
    ) -> list[RegistrationEvent]:
        response = Response.for_request(request, status, to_tag="d6ece558.cfc5", headers=headers)
        self.core.receive_data(response.to_bytes(), self.now)
        return self.drain()

    def ok(
        self, request: Request, contacts: str | None = None, **headers: str
    ) -> list[RegistrationEvent]:
        """A Kamailio-shaped 200: our bindings, Supported and Require outbound."""
        lines = [("Contact", contacts if contacts is not None else kamailio_contacts())]
        lines += [("Supported", "outbound"), ("Require", "outbound")]
        lines += [(name.replace("_", "-"), value) for name, value in headers.items()]
        return self.answer(request, 200, lines)

    def drain(self) -> list[RegistrationEvent]:
        """Route the core's events as the UA does: ours to the usage, others kept."""
        out: list[RegistrationEvent] = []
        while (event := self.core.next_event()) is not None:
            if isinstance(event, ResponseReceived | RequestFailed) and self.reg.owns(
                event.transaction_id
            ):
                out += self.reg.handle_event(event, self.now)
            else:
                self.others.append(event)
        return out

    def advance(self, seconds: float) -> list[RegistrationEvent]:
        """Move the clock, firing the core's and the usage's deadlines in order."""
        end = self.now + seconds
        out: list[RegistrationEvent] = []
        while True:
            deadlines = [d for d in (self.core.get_timer(), self.reg.get_timer()) if d is not None]
            nxt = min(deadlines, default=None)
            if nxt is None or nxt > end:
                break
            self.now = max(self.now, nxt)
            self.core.handle_timer(self.now)
            out += self.drain()
            out += self.reg.handle_timer(self.now)
        self.now = end
        return out

    def registered(self, **headers: str) -> Request:
        """Register once (Kamailio 200, expires 287); returns the REGISTER."""
        self.reg.register(self.now)
        request = self.one()
        events = self.ok(request, **headers)
        assert [type(e) for e in events] == [Registered]
        return request


def contact_of(request: Request) -> NameAddr:
    contact = request.parse_header("Contact")
    assert isinstance(contact, NameAddr)
    return contact


# -- the REGISTER on the wire ----------------------------------------------------


class TestRequest:
    def test_first_register_bytes(self) -> None:
        h = Registrar()
        tid = h.reg.register(h.now)
        assert h.reg.owns(tid)
        assert h.reg.state is RegistrationState.REGISTERING
        data = h.core.data_to_send()
        assert len(data) == 1
        text = data[0].decode()
        assert text.startswith("REGISTER sip:websip.test SIP/2.0\r\n")
        # RFC 5626 4.1: the instance is a quoted "<URN>"; JsSIP's parameter order.
        assert (
            f"\r\nContact: <{CONTACT}>;+sip.ice;reg-id=1;"
            f'+sip.instance="<{INSTANCE}>";expires=600\r\n' in text
        )
        assert "\r\nExpires: 600\r\n" in text
        assert "\r\nSupported: path, gruu, outbound\r\n" in text
        request = parse_message(data[0])
        assert isinstance(request, Request)
        assert request.cseq.seq == 1 and request.cseq.method == "REGISTER"
        sender = request.parse_header("From")
        recipient = request.parse_header("To")
        assert sender.display_name == recipient.display_name == "Alice Liddell"
        assert str(sender.uri) == str(recipient.uri) == "sip:alice@websip.test"
        assert sender.tag and recipient.tag is None
        assert request.get_header("Max-Forwards") == "70"
        assert request.call_id == h.reg.call_id
        assert not request.has_header("Route")

    def test_same_call_id_growing_cseq_new_from_tag(self) -> None:
        """RFC 3261 10.2.4: one Call-ID, a higher CSeq each time."""
        h = Registrar()
        first = h.registered()
        h.reg.register(h.now)
        second = h.one()
        h.ok(second)
        h.reg.unregister(h.now)
        third = h.one()
        assert first.call_id == second.call_id == third.call_id
        assert [r.cseq.seq for r in (first, second, third)] == [1, 2, 3]
        assert first.from_tag != second.from_tag

    def test_route_extra_headers_and_contact_params(self) -> None:
        h = Registrar(
            route=["<sip:edge.websip.test;lr>"],
            extra_headers=["X-Device: phone 1"],
            extra_contact_params=["language=en", ";+sip.mobility"],
        )
        h.reg.register(h.now, extra_headers=["X-Once: 1"])
        request = h.one()
        assert request.get_headers("Route") == ["<sip:edge.websip.test;lr>"]
        assert request.get_header("X-Device") == "phone 1"
        assert request.get_header("X-Once") == "1"
        params = contact_of(request).params
        assert list(params) == [
            "+sip.ice", "reg-id", "+sip.instance", "expires", "language", "+sip.mobility"
        ]  # fmt: skip
        assert params["language"] == "en" and params["+sip.mobility"] is None
        # The per-call headers are for that REGISTER only.
        h.ok(request)
        h.reg.register(h.now)
        again = h.one()
        assert again.get_header("X-Device") == "phone 1"
        assert not again.has_header("X-Once")

    def test_without_instance_no_reg_id_no_instance(self) -> None:
        """RFC 5626 4.2: reg-id only with +sip.instance."""
        h = Registrar(instance_urn=None)
        h.reg.register(h.now)
        assert list(contact_of(h.one()).params) == ["+sip.ice", "expires"]

    def test_bare_uuid_becomes_a_urn(self) -> None:
        h = Registrar(instance_urn=f"<{UUID.upper()}>", reg_id=7)
        assert h.reg.instance_urn == INSTANCE
        h.reg.register(h.now)
        params = contact_of(h.one()).params
        assert params["+sip.instance"] == f"<{INSTANCE}>"
        assert params["reg-id"] == "7"

    def test_reg_id_none_keeps_the_instance(self) -> None:
        h = Registrar(reg_id=None)
        h.reg.register(h.now)
        assert list(contact_of(h.one()).params) == ["+sip.ice", "+sip.instance", "expires"]

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"expires": 0}, ValueError),
            ({"expires": -5}, ValueError),
            ({"expires": True}, ValueError),
            ({"expires": 60.5}, ValueError),
            ({"reg_id": 0}, ValueError),
            ({"reg_id": True}, ValueError),
            ({"reg_id": 2**31}, ValueError),
            ({"instance_urn": "not a urn"}, ValueError),
            ({"instance_urn": 'urn:uuid:"x"'}, ValueError),
            ({"instance_urn": 42}, TypeError),
            ({"extra_contact_params": ["expires=5"]}, ValueError),
            ({"extra_contact_params": ["reg-id=2"]}, ValueError),
            ({"extra_contact_params": ["a b"]}, ValueError),
            ({"extra_contact_params": "x=y"}, TypeError),
            ({"route": ["<sip:a.test;lr>\r\nX: y"]}, ParseError),
            ({"extra_headers": ["X-Bad: a\r\nB: c"]}, ValueError),
        ],
    )
    def test_bad_arguments(self, options: dict[str, Any], error: type[Exception]) -> None:
        with pytest.raises(error):
            Registrar(**options)

    def test_bad_extra_headers_per_call(self) -> None:
        h = Registrar()
        with pytest.raises(ValueError):
            h.reg.register(h.now, extra_headers=["no colon"])
        with pytest.raises(ValueError):
            h.reg.unregister(h.now, extra_headers=["X: a\nb"])
        assert h.sent() == []
        assert h.reg.state is RegistrationState.UNREGISTERED


# -- 2xx -----------------------------------------------------------------------


class TestSuccess:
    def test_kamailio_200_with_three_bindings(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        request = h.one()
        (event,) = h.ok(request)
        assert isinstance(event, Registered)
        # Our binding is the one with our instance and reg-id 1: 287, not 100 or 50.
        assert event.expires == 287 == h.reg.expires
        assert event.refreshed is False
        assert event.response.status_code == 200
        assert event.gruu == Gruu(pub_gruu=URI.parse(PUB_GRUU), temp_gruu=URI.parse(TEMP_GRUU))
        assert h.reg.gruu == event.gruu
        assert h.reg.outbound is True
        assert h.reg.is_registered
        assert h.reg.state is RegistrationState.REGISTERED
        assert not h.reg.owns("c1")
        assert h.others == []

    def test_binding_found_by_uri_when_no_instance(self) -> None:
        """RFC 3261 19.1.4 URI comparison: Kamailio's alias parameter is ignored."""
        h = Registrar(instance_urn=None)
        h.reg.register(h.now)
        contacts = (
            "<sip:zz9@0f0f0f0f.invalid;transport=ws>;expires=100, "
            "<sip:k3l2m1@8dc656f6.invalid;alias=127.0.0.1~32770~5;transport=ws>;expires=420"
            ';received="sip:127.0.0.1:32770;transport=ws"'
        )
        (event,) = h.ok(h.one(), contacts=contacts)
        assert isinstance(event, Registered)
        assert event.expires == 420
        assert event.gruu is None and h.reg.gruu is None

    def test_instance_match_ignores_reg_id_when_none_sent(self) -> None:
        h = Registrar(reg_id=None)
        h.reg.register(h.now)
        contacts = f'<sip:elsewhere.invalid>;expires=77;+sip.instance="<{INSTANCE.upper()}>"'
        (event,) = h.ok(h.one(), contacts=contacts)
        assert isinstance(event, Registered) and event.expires == 77

    def test_expires_header_when_our_contact_has_none(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        contacts = f'<{CONTACT}>;+sip.instance="<{INSTANCE}>";reg-id=1'
        (event,) = h.ok(h.one(), contacts=contacts, Expires="1800")
        assert isinstance(event, Registered) and event.expires == 1800

    def test_requested_when_our_contact_and_the_header_say_nothing(self) -> None:
        h = Registrar(expires=900)
        h.reg.register(h.now)
        contacts = f'<{CONTACT}>;pub-gruu="{PUB_GRUU}";+sip.instance="<{INSTANCE}>";reg-id=1'
        (event,) = h.ok(h.one(), contacts=contacts)
        assert isinstance(event, Registered) and event.expires == 900
        assert event.gruu == Gruu(pub_gruu=URI.parse(PUB_GRUU))

    def test_expires_header_when_not_listed(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        (event,) = h.ok(h.one(), contacts="<sip:zz9@elsewhere.invalid>;expires=100", Expires="90")
        assert isinstance(event, Registered) and event.expires == 90
        assert event.gruu is None

    def test_requested_expires_when_nothing_said(self) -> None:
        """JsSIP's fallback: a 2xx with no Contact and no Expires grants what we asked."""
        h = Registrar(expires=300)
        h.reg.register(h.now)
        (event,) = h.answer(h.one(), 200)
        assert isinstance(event, Registered) and event.expires == 300
        assert h.reg.outbound is False

    def test_malformed_parts_of_a_200_are_skipped(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        request = h.one()
        response = Response.for_request(request, 200, to_tag="t")
        response.add_header("Contact", "<sip:broken@>;expires=1")
        response.add_header("Contact", "*")
        response.add_header(
            "Contact",
            f'<{CONTACT}>;expires=120;pub-gruu="not a uri";temp-gruu=""'
            f';+sip.instance="<{INSTANCE}>";reg-id=1',
        )
        response.add_header("Expires", "soon")
        response.add_header("Require", "out bound,")
        h.core.receive_data(response.to_bytes(), h.now)
        (event,) = h.drain()
        assert isinstance(event, Registered)
        assert event.expires == 120
        assert event.gruu is None  # neither GRUU parsed
        assert h.reg.outbound is False

    def test_malformed_expires_header_falls_back_to_requested(self) -> None:
        h = Registrar(expires=450)
        h.reg.register(h.now)
        request = h.one()
        response = Response.for_request(request, 200, to_tag="t")
        response.add_header("Expires", "4294967296")  # above delta-seconds
        h.core.receive_data(response.to_bytes(), h.now)
        (event,) = h.drain()
        assert isinstance(event, Registered) and event.expires == 450

    def test_only_temp_gruu(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        contacts = f'<{CONTACT}>;expires=60;temp-gruu="{TEMP_GRUU}";+sip.instance="<{INSTANCE}>"'
        contacts += ";reg-id=1"
        (event,) = h.ok(h.one(), contacts=contacts)
        assert isinstance(event, Registered)
        assert event.gruu == Gruu(pub_gruu=None, temp_gruu=URI.parse(TEMP_GRUU))

    def test_zero_expires_in_a_200_is_no_binding(self) -> None:
        h = Registrar()
        h.registered()
        h.reg.register(h.now)
        events = h.ok(h.one(), contacts=kamailio_contacts(expires=0))
        assert [type(e) for e in events] == [RegistrationFailed, Unregistered]
        failed, gone = events
        assert isinstance(failed, RegistrationFailed) and isinstance(gone, Unregistered)
        assert failed.cause == gone.cause == causes.SIP_FAILURE_CODE
        assert failed.response is gone.response
        assert failed.response is not None and failed.response.status_code == 200
        assert not h.reg.is_registered and h.reg.gruu is None

    def test_provisional_responses_say_nothing(self) -> None:
        h = Registrar()
        tid = h.reg.register(h.now)
        request = h.one()
        assert h.answer(request, 100) == []
        assert h.answer(request, 183) == []
        assert h.reg.owns(tid) and h.reg.state is RegistrationState.REGISTERING
        assert [type(e) for e in h.ok(request)] == [Registered]

    def test_outbound_from_supported_only_with_reg_id(self) -> None:
        with_reg_id = Registrar()
        with_reg_id.reg.register(with_reg_id.now)
        with_reg_id.answer(with_reg_id.one(), 200, [("Supported", "path, outbound")])
        assert with_reg_id.reg.outbound is True
        without = Registrar(reg_id=None)
        without.reg.register(without.now)
        without.answer(without.one(), 200, [("Supported", "outbound")])
        assert without.reg.outbound is False
        required = Registrar(reg_id=None)
        required.reg.register(required.now)
        required.answer(required.one(), 200, [("Require", "outbound")])
        assert required.reg.outbound is True

    def test_events_of_other_transactions_are_not_ours(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        request = h.one()
        stray = ResponseReceived(
            response=Response.for_request(request, 200), request=request, transaction_id="c99"
        )
        assert not h.reg.owns("c99")
        assert h.reg.handle_event(stray, h.now) == []
        assert h.reg.state is RegistrationState.REGISTERING


# -- digest, 423 and failures --------------------------------------------------


class TestFailures:
    def test_401_is_answered_by_the_core_then_200(self) -> None:
        h = Registrar(credentials=DigestCredentials("alice", "alicepw"))
        tid = h.reg.register(h.now)
        first = h.one()
        assert h.answer(first, 401, [("WWW-Authenticate", CHALLENGE)]) == []
        second = h.one()
        assert second.cseq.seq == 2 and second.has_header("Authorization")
        assert h.reg.owns(tid)
        (event,) = h.ok(second)
        assert isinstance(event, Registered)
        # The next REGISTER continues after the CSeq the core used.
        h.reg.register(h.now)
        assert h.one().cseq.seq == 3

    def test_rejected_credentials(self) -> None:
        h = Registrar(credentials=DigestCredentials("alice", "wrong"))
        h.reg.register(h.now)
        first = h.one()
        assert h.answer(first, 401, [("WWW-Authenticate", CHALLENGE)]) == []
        second = h.one()
        (event,) = h.answer(second, 401, [("WWW-Authenticate", CHALLENGE)])
        assert isinstance(event, RegistrationFailed)
        assert event.cause == causes.AUTHENTICATION_ERROR
        assert event.response is not None and event.response.status_code == 401
        h.reg.register(h.now)
        assert h.one().cseq.seq == 3

    def test_423_retries_at_once_with_min_expires(self) -> None:
        """RFC 3261 10.2.8: the caller sees only the outcome of the retry."""
        h = Registrar(expires=60)
        first_tid = h.reg.register(h.now)
        first = h.one()
        assert h.answer(first, 423, [("Min-Expires", "3600")]) == []
        retry = h.one()
        assert retry.cseq.seq == 2
        assert contact_of(retry).expires == 3600
        assert retry.get_header("Expires") == "3600"
        assert h.reg.state is RegistrationState.REGISTERING
        assert not h.reg.owns(first_tid)
        (event,) = h.ok(retry, contacts=kamailio_contacts(expires=3600))
        assert isinstance(event, Registered) and event.expires == 3600
        # Later REGISTERs ask for the registrar's minimum.
        assert h.reg.requested_expires == 3600
        h.reg.register(h.now)
        assert contact_of(h.one()).expires == 3600

    def test_423_retry_keeps_the_per_call_headers(self) -> None:
        h = Registrar(expires=60)
        h.reg.register(h.now, extra_headers=["X-Once: yes"])
        h.answer(h.one(), 423, [("Min-Expires", "120")])
        assert h.one().get_header("X-Once") == "yes"

    @pytest.mark.parametrize("minimum", ["600", "30", "soon", None])
    def test_423_without_a_larger_min_expires_fails(self, minimum: str | None) -> None:
        h = Registrar(expires=600)
        h.reg.register(h.now)
        headers = [] if minimum is None else [("Min-Expires", minimum)]
        (event,) = h.answer(h.one(), 423, headers)
        assert isinstance(event, RegistrationFailed)
        assert event.cause == causes.SIP_FAILURE_CODE
        assert event.response is not None and event.response.status_code == 423
        assert h.sent() == []
        assert h.reg.state is RegistrationState.UNREGISTERED

    def test_423_loop_is_bounded(self) -> None:
        h = Registrar(expires=10)
        h.reg.register(h.now)
        for minimum in (20, 30, 40):
            assert h.answer(h.one(), 423, [("Min-Expires", str(minimum))]) == []
        (event,) = h.answer(h.one(), 423, [("Min-Expires", "50")])
        assert isinstance(event, RegistrationFailed)
        assert h.sent() == []

    def test_403(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        (event,) = h.answer(h.one(), 403)
        assert isinstance(event, RegistrationFailed)
        assert event.cause == causes.REJECTED
        assert event.response is not None and event.response.status_code == 403
        assert h.reg.state is RegistrationState.UNREGISTERED
        assert h.reg.get_timer() is None

    def test_failed_refresh_unregisters(self) -> None:
        """JsSIP: registrationFailed, then unregistered with the same cause."""
        h = Registrar()
        h.registered()
        h.reg.register(h.now)
        events = h.answer(h.one(), 503)
        assert [type(e) for e in events] == [RegistrationFailed, Unregistered]
        failed, gone = events
        assert isinstance(failed, RegistrationFailed) and isinstance(gone, Unregistered)
        assert failed.cause == gone.cause == causes.SIP_FAILURE_CODE
        assert gone.response is failed.response
        assert not h.reg.is_registered
        assert h.reg.gruu is None and h.reg.outbound is False
        assert h.reg.get_timer() is None

    def test_timeout_is_timer_f(self) -> None:
        """RFC 3261 17.1.2.2: no answer within 64*T1 = 32 s."""
        h = Registrar()
        h.reg.register(h.now)
        h.one()  # lost
        assert h.advance(31.9) == []
        (event,) = h.advance(0.2)
        assert event == RegistrationFailed(cause=causes.REQUEST_TIMEOUT, response=None)
        assert h.reg.state is RegistrationState.UNREGISTERED


# -- refresh and expiry --------------------------------------------------------


class TestRefresh:
    def test_refresh_point_and_expiry(self) -> None:
        h = Registrar()
        start = h.now
        h.registered()  # granted 287
        assert h.reg.get_timer() == start + 287 - 32
        assert h.advance(287 - 32 - 0.001) == []
        assert h.advance(0.001) == [RegistrationExpiring()]
        # Nobody refreshed: next comes the expiry itself.
        assert h.reg.get_timer() == start + 287
        assert h.reg.is_registered
        assert h.advance(31.999) == []
        assert h.advance(0.001) == [Unregistered(response=None, cause=causes.EXPIRES)]
        assert not h.reg.is_registered and h.reg.gruu is None
        assert h.reg.get_timer() is None
        assert h.reg.handle_timer(h.now + 1000) == []

    def test_refresh_is_a_register_while_registered(self) -> None:
        h = Registrar()
        h.registered()
        h.advance(255)
        h.reg.register(h.now)
        refresh = h.one()
        assert h.reg.state is RegistrationState.REGISTERING and h.reg.is_registered
        # The refresh point is gone; the expiry still stands until the 2xx.
        assert h.reg.get_timer() == 1000 + 287
        (event,) = h.ok(refresh, contacts=kamailio_contacts(expires=600))
        assert isinstance(event, Registered) and event.refreshed is True
        assert h.reg.get_timer() == h.now + 600 - 32

    def test_short_bindings_refresh_halfway(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        h.ok(h.one(), contacts=kamailio_contacts(expires=40))
        assert h.reg.get_timer() == h.now + 20

    def test_late_timer_call_reports_both(self) -> None:
        h = Registrar()
        h.registered()
        events = h.reg.handle_timer(h.now + 10_000)
        assert events == [RegistrationExpiring(), Unregistered(response=None, cause=causes.EXPIRES)]

    @pytest.mark.parametrize("expires", [1, 2, 10, 63, 64, 65, 600, 3600, 2**32 - 1])
    def test_refresh_delay_is_before_expiry(self, expires: int) -> None:
        delay = refresh_delay(expires)
        assert 0 < delay < expires
        assert delay >= expires / 2
        assert expires - delay == min(expires / 2, 32)

    def test_margin_follows_t1(self) -> None:
        from websip.transaction.timers import TimerValues

        h = Registrar()
        h.core.timers = TimerValues(t1=0.25, t2=4.0, t4=5.0)
        h.registered()
        assert h.reg.get_timer() == h.now + 287 - 16


# -- un-REGISTER ---------------------------------------------------------------


class TestUnregister:
    def test_unregister_bytes_and_outcome(self) -> None:
        h = Registrar()
        h.registered()
        tid = h.reg.unregister(h.now)
        assert h.reg.owns(tid)
        state_while_pending = h.reg.state
        assert state_while_pending is RegistrationState.UNREGISTERING
        assert not h.reg.is_registered  # as in JsSIP, from the moment we ask
        assert h.reg.get_timer() is None
        data = h.core.data_to_send()
        text = data[0].decode()
        assert (
            f"\r\nContact: <{CONTACT}>;+sip.ice;reg-id=1;"
            f'+sip.instance="<{INSTANCE}>";expires=0\r\n' in text
        )
        assert "\r\nExpires: 0\r\n" in text
        request = parse_message(data[0])
        assert isinstance(request, Request)
        # Kamailio: a 200 with no Contact when no binding remains.
        (event,) = h.answer(request, 200)
        assert isinstance(event, Unregistered)
        assert event.cause is None and event.response is not None
        assert event.response.status_code == 200
        assert h.reg.state is RegistrationState.UNREGISTERED
        assert h.reg.gruu is None

    def test_unregister_all(self) -> None:
        """RFC 3261 10.2.2: Contact "*" with Expires 0, allowed while unregistered."""
        h = Registrar(extra_contact_params=["x=1"])
        h.reg.unregister(h.now, all=True, extra_headers=["X-Why: reset"])
        data = h.core.data_to_send()
        text = data[0].decode()
        assert "\r\nContact: *\r\n" in text
        assert "\r\nExpires: 0\r\n" in text
        request = parse_message(data[0])
        assert isinstance(request, Request)
        assert request.get_header("X-Why") == "reset"
        assert request.get_headers("Contact") == ["*"]
        (event,) = h.answer(request, 200)
        assert isinstance(event, Unregistered) and event.cause is None
        assert event.response is not None and event.response.status_code == 200

    def test_unregister_refused_or_lost(self) -> None:
        h = Registrar()
        h.registered()
        h.reg.unregister(h.now)
        (event,) = h.answer(h.one(), 404)
        assert isinstance(event, Unregistered) and event.cause == causes.NOT_FOUND
        h.reg.unregister(h.now)
        h.one()
        (event,) = h.advance(40)
        assert event == Unregistered(response=None, cause=causes.REQUEST_TIMEOUT)
        assert h.reg.state is RegistrationState.UNREGISTERED

    def test_unregister_423_is_not_retried(self) -> None:
        h = Registrar()
        h.reg.unregister(h.now)
        (event,) = h.answer(h.one(), 423, [("Min-Expires", "3600")])
        assert isinstance(event, Unregistered) and event.cause == causes.SIP_FAILURE_CODE
        assert h.sent() == []


# -- one request at a time -----------------------------------------------------


class TestQueue:
    def test_register_joins_the_register_in_flight(self) -> None:
        h = Registrar()
        tid = h.reg.register(h.now)
        request = h.one()
        assert h.reg.register(h.now) == tid
        assert h.sent() == []
        assert [type(e) for e in h.ok(request)] == [Registered]
        assert h.sent() == []

    def test_unregister_waits_for_the_register_in_flight(self) -> None:
        h = Registrar()
        tid = h.reg.register(h.now)
        request = h.one()
        assert h.reg.unregister(h.now) == tid
        assert h.sent() == []  # never two REGISTERs of one Call-ID in flight
        events = h.ok(request)
        assert [type(e) for e in events] == [Registered]
        unregister = h.one()
        assert contact_of(unregister).expires == 0
        assert unregister.cseq.seq == request.cseq.seq + 1
        assert h.reg.state is RegistrationState.UNREGISTERING and not h.reg.is_registered
        assert [type(e) for e in h.answer(unregister, 200)] == [Unregistered]

    def test_queued_request_follows_a_failure_too(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        request = h.one()
        h.reg.unregister(h.now, all=True)
        assert [type(e) for e in h.answer(request, 403)] == [RegistrationFailed]
        unregister_all = h.one()
        assert unregister_all.get_headers("Contact") == ["*"]
        assert [type(e) for e in h.answer(unregister_all, 200)] == [Unregistered]
        h.reg.register(h.now)
        h.one()  # lost
        h.reg.unregister(h.now)
        (event,) = h.advance(32)
        assert isinstance(event, RegistrationFailed)
        assert contact_of(h.one()).expires == 0

    def test_register_waits_for_the_unregister_in_flight(self) -> None:
        h = Registrar()
        h.registered()
        tid = h.reg.unregister(h.now)
        unregister = h.one()
        assert h.reg.register(h.now) == tid
        assert h.sent() == []
        assert [type(e) for e in h.answer(unregister, 200)] == [Unregistered]
        register = h.one()
        assert contact_of(register).expires == 600
        assert [type(e) for e in h.ok(register)] == [Registered]

    def test_the_last_wish_wins(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        request = h.one()
        h.reg.unregister(h.now)
        h.reg.register(h.now)  # cancels the queued un-REGISTER
        h.ok(request)
        assert h.sent() == []
        h.reg.unregister(h.now)
        unregister = h.one()
        h.reg.register(h.now)
        h.reg.unregister(h.now)  # cancels the queued REGISTER: in flight already
        h.answer(unregister, 200)
        assert h.sent() == []

    def test_unregister_all_is_queued_behind_a_plain_one(self) -> None:
        h = Registrar()
        tid = h.reg.unregister(h.now)
        plain = h.one()
        assert h.reg.unregister(h.now) == tid  # covered by the one in flight
        assert h.reg.unregister(h.now, all=True) == tid
        h.answer(plain, 200)
        assert h.one().get_headers("Contact") == ["*"]

    def test_a_plain_unregister_joins_an_unregister_all(self) -> None:
        h = Registrar()
        tid = h.reg.unregister(h.now, all=True)
        h.one()
        assert h.reg.unregister(h.now) == tid
        assert h.sent() == []


# -- connection loss -----------------------------------------------------------


class TestConnectionLost:
    def test_registered(self) -> None:
        h = Registrar()
        h.registered()
        assert h.reg.connection_lost() == [
            Unregistered(response=None, cause=causes.CONNECTION_ERROR)
        ]
        assert not h.reg.is_registered and h.reg.get_timer() is None
        assert h.reg.connection_lost() == []

    def test_first_register_in_flight(self) -> None:
        h = Registrar()
        tid = h.reg.register(h.now)
        h.one()
        h.reg.unregister(h.now)  # queued: dropped with the connection
        assert h.reg.connection_lost() == [
            RegistrationFailed(cause=causes.CONNECTION_ERROR, response=None)
        ]
        assert not h.reg.owns(tid)
        # The core's own failure of that transaction comes later: nothing more.
        h.core.connection_lost(h.now)
        assert h.drain() == []
        assert [type(e) for e in h.others] == [RequestFailed]
        assert h.sent() == []

    def test_refresh_in_flight(self) -> None:
        h = Registrar()
        h.registered()
        h.reg.register(h.now)
        h.one()
        assert h.reg.connection_lost() == [
            RegistrationFailed(cause=causes.CONNECTION_ERROR, response=None),
            Unregistered(response=None, cause=causes.CONNECTION_ERROR),
        ]

    def test_unregister_in_flight(self) -> None:
        h = Registrar()
        h.registered()
        h.reg.unregister(h.now)
        h.one()
        assert h.reg.connection_lost() == [
            Unregistered(response=None, cause=causes.CONNECTION_ERROR)
        ]

    def test_core_failure_first(self) -> None:
        """The core's RequestFailed(CONNECTION_ERROR) first: the same outcome, once."""
        h = Registrar()
        h.registered()
        h.reg.register(h.now)
        h.one()
        h.core.connection_lost(h.now)
        events = h.drain()
        assert events == [
            RegistrationFailed(cause=causes.CONNECTION_ERROR, response=None),
            Unregistered(response=None, cause=causes.CONNECTION_ERROR),
        ]
        assert h.reg.connection_lost() == []


# -- Contact for other requests --------------------------------------------------


class TestContactForRequests:
    def test_before_registration(self) -> None:
        h = Registrar()
        assert str(h.reg.contact_for_requests()) == f"<{CONTACT}>"
        assert (
            str(h.reg.contact_for_requests(anonymous=True))
            == "<sip:anonymous@anonymous.invalid;transport=ws>"
        )

    def test_gruus_once_registered(self) -> None:
        """RFC 5627 4.4: the public GRUU; the temporary one for anonymity."""
        h = Registrar()
        h.registered()
        assert str(h.reg.contact_for_requests()) == f"<{PUB_GRUU}>"
        assert str(h.reg.contact_for_requests(anonymous=True)) == f"<{TEMP_GRUU}>"
        # A copy each time: the caller may change it.
        h.reg.contact_for_requests().uri.set_param("x", "1")
        assert str(h.reg.contact_for_requests()) == f"<{PUB_GRUU}>"
        h.reg.unregister(h.now)
        assert str(h.reg.contact_for_requests()) == f"<{CONTACT}>"

    def test_ob_while_outbound_is_in_use(self) -> None:
        """RFC 5626 4.3: ;ob on the Contact URI when there is no GRUU to use."""
        h = Registrar()
        h.reg.register(h.now)
        h.ok(h.one(), contacts=f'<{CONTACT}>;expires=300;+sip.instance="<{INSTANCE}>";reg-id=1')
        assert h.reg.outbound and h.reg.gruu is None
        assert str(h.reg.contact_for_requests()) == f"<{CONTACT};ob>"
        assert (
            str(h.reg.contact_for_requests(anonymous=True))
            == "<sip:anonymous@anonymous.invalid;transport=ws;ob>"
        )

    def test_anonymous_without_transport(self) -> None:
        h = Registrar()
        h.reg.contact_uri = URI.parse("sip:k3l2m1@8dc656f6.invalid")
        assert str(h.reg.contact_for_requests(anonymous=True)) == (
            "<sip:anonymous@anonymous.invalid>"
        )

    def test_pub_gruu_only_for_anonymous(self) -> None:
        h = Registrar()
        h.reg.register(h.now)
        contacts = f'<{CONTACT}>;expires=60;pub-gruu="{PUB_GRUU}";+sip.instance="<{INSTANCE}>"'
        h.ok(h.one(), contacts=contacts + ";reg-id=1")
        # No temporary GRUU: the public one would reveal the AoR.
        assert (
            str(h.reg.contact_for_requests(anonymous=True))
            == "<sip:anonymous@anonymous.invalid;transport=ws;ob>"
        )
