"""Tests of websip.dialog: RFC 3261 section 12 (and 13.2.2.4, RFC 6026)."""

from __future__ import annotations

import itertools

import pytest

from websip.dialog import (
    MAX_FORWARDS,
    TRANSITIONS,
    Dialog,
    DialogId,
    DialogInput,
    DialogRole,
    DialogState,
    dialog_id_for_incoming,
    dialog_id_for_response,
    is_in_dialog,
    transition,
)
from websip.exceptions import LocalProtocolError, RemoteProtocolError
from websip.sip import URI, CSeq, NameAddr, Request, Response, parse_message

CRLF = "\r\n"

ALICE_CONTACT = "<sip:alice@df7jal23ls0d.invalid;transport=ws;ob>"
BOB_CONTACT = "<sip:bob@192.0.2.4;transport=ws>"


def msg(*lines: str, body: str = "") -> Request | Response:
    """Parse a message written as lines (CRLF added, Content-Length computed)."""
    text = CRLF.join((*lines, f"Content-Length: {len(body.encode())}", "", body))
    return parse_message(text)


def req(*lines: str, body: str = "") -> Request:
    message = msg(*lines, body=body)
    assert isinstance(message, Request)
    return message


def resp(*lines: str, body: str = "") -> Response:
    message = msg(*lines, body=body)
    assert isinstance(message, Response)
    return message


def invite(
    *,
    ruri: str = "sip:bob@biloxi.example.com",
    contact: str | None = ALICE_CONTACT,
    method: str = "INVITE",
    cseq: int = 314159,
    from_tag: str | None = "1928301774",
    extra: tuple[str, ...] = (),
) -> Request:
    """Alice's dialog-creating request, as our UAC sent it."""
    lines = [
        f"{method} {ruri} SIP/2.0",
        "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7",
        "Max-Forwards: 70",
        "To: Bob <sip:bob@biloxi.example.com>",
        "From: Alice <sip:alice@atlanta.example.com>" + (f";tag={from_tag}" if from_tag else ""),
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
        f"CSeq: {cseq} {method}",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    lines.extend(extra)
    return req(*lines)


def answer(
    request: Request,
    status: int,
    *,
    to_tag: str | None = "a6c85cf",
    record_route: tuple[str, ...] = (
        "<sip:p2.biloxi.example.com;lr>",
        "<sip:p1.atlanta.example.com;lr;ftag=1928301774>",
    ),
    contact: str | None = BOB_CONTACT,
    cseq: str | None = None,
) -> Response:
    """The peer's response to one of our requests, as it arrives (Record-Route as
    proxies leave it: the proxy nearest the UAS first)."""
    to = request.get_header("To") or ""
    if to_tag is not None and ";tag=" not in to:
        to += f";tag={to_tag}"
    lines = [
        f"SIP/2.0 {status} Whatever",
        f"Via: {request.get_header('Via')}",
        *(f"Record-Route: {rr}" for rr in record_route),
        f"To: {to}",
        f"From: {request.get_header('From')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {cseq or request.get_header('CSeq')}",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    return resp(*lines)


def uac_dialog(status: int = 180, **kwargs: object) -> tuple[Request, Dialog]:
    request = invite()
    return request, Dialog.from_uac(request, answer(request, status, **kwargs))  # type: ignore[arg-type]


def incoming(
    method: str,
    cseq: int,
    *,
    dialog: Dialog,
    contact: str | None = None,
    extra: tuple[str, ...] = (),
) -> Request:
    """A request the peer sends within ``dialog`` (our tag in To, theirs in From)."""
    lines = [
        f"{method} sip:alice@df7jal23ls0d.invalid;transport=ws SIP/2.0",
        "Via: SIP/2.0/WSS 192.0.2.4;branch=z9hG4bK" + f"{method.lower()}{cseq}",
        "Max-Forwards: 69",
        f"To: <sip:x@example.com>;tag={dialog.id.local_tag}",
        f"From: <sip:y@example.com>;tag={dialog.id.remote_tag}",
        f"Call-ID: {dialog.id.call_id}",
        f"CSeq: {cseq} {method}",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    lines.extend(extra)
    return req(*lines)


# --------------------------------------------------------------------------------
# The state machine
# --------------------------------------------------------------------------------

EXPECTED_TABLE = {
    (DialogState.EARLY, DialogInput.RECV_1XX): DialogState.EARLY,
    (DialogState.EARLY, DialogInput.SEND_1XX): DialogState.EARLY,
    (DialogState.EARLY, DialogInput.RECV_2XX): DialogState.CONFIRMED,
    (DialogState.EARLY, DialogInput.SEND_2XX): DialogState.CONFIRMED,
    (DialogState.EARLY, DialogInput.RECV_FAILURE): DialogState.TERMINATED,
    (DialogState.EARLY, DialogInput.SEND_FAILURE): DialogState.TERMINATED,
    (DialogState.EARLY, DialogInput.RECV_BYE): DialogState.TERMINATED,
    (DialogState.EARLY, DialogInput.TERMINATE): DialogState.TERMINATED,
    (DialogState.CONFIRMED, DialogInput.RECV_2XX): DialogState.CONFIRMED,
    (DialogState.CONFIRMED, DialogInput.SEND_2XX): DialogState.CONFIRMED,
    (DialogState.CONFIRMED, DialogInput.RECV_BYE): DialogState.TERMINATED,
    (DialogState.CONFIRMED, DialogInput.TERMINATE): DialogState.TERMINATED,
}


class TestTransitions:
    """RFC 3261 12: early -> confirmed on 2xx, early -> terminated otherwise, BYE ends."""

    def test_table_is_exactly_the_rfc_figure(self) -> None:
        assert dict(TRANSITIONS) == EXPECTED_TABLE

    @pytest.mark.parametrize(("state", "event"), list(itertools.product(DialogState, DialogInput)))
    def test_every_pair(self, state: DialogState, event: DialogInput) -> None:
        expected = EXPECTED_TABLE.get((state, event))
        if expected is None:
            with pytest.raises(LocalProtocolError, match="cannot take input"):
                transition(state, event)
        else:
            assert transition(state, event) is expected

    def test_table_is_read_only(self) -> None:
        with pytest.raises(TypeError):
            TRANSITIONS[(DialogState.TERMINATED, DialogInput.TERMINATE)] = (  # type: ignore[index]
                DialogState.EARLY
            )

    def test_terminate(self) -> None:
        _, dialog = uac_dialog(180)
        dialog.terminate()
        assert dialog.state is DialogState.TERMINATED
        with pytest.raises(LocalProtocolError):
            dialog.terminate()

    def test_terminate_confirmed(self) -> None:
        _, dialog = uac_dialog(200)
        dialog.terminate()
        assert dialog.state is DialogState.TERMINATED


# --------------------------------------------------------------------------------
# Dialog IDs
# --------------------------------------------------------------------------------


class TestDialogId:
    """RFC 3261 12: the dialog ID differs at each UA; UAC and UAS views of messages."""

    def test_hashable_and_frozen(self) -> None:
        a = DialogId("c", "l", "r")
        assert a == DialogId("c", "l", "r")
        assert {a: 1}[DialogId("c", "l", "r")] == 1
        assert a != DialogId("c", "r", "l")
        with pytest.raises(AttributeError):
            a.call_id = "x"  # type: ignore[misc]

    def test_incoming_request_uas_view(self) -> None:
        _, dialog = uac_dialog(200)
        bye = incoming("BYE", 1, dialog=dialog)
        # The peer's request: our tag is in To, theirs in From.
        assert dialog_id_for_incoming(bye) == dialog.id
        assert is_in_dialog(bye)

    def test_request_without_to_tag_is_not_in_dialog(self) -> None:
        request = invite()
        assert not is_in_dialog(request)
        assert dialog_id_for_incoming(request).local_tag is None

    def test_response_uac_view(self) -> None:
        request = invite()
        response = answer(request, 180)
        assert dialog_id_for_response(response) == DialogId(
            "a84b4c76e66710@pc33.atlanta.example.com", "1928301774", "a6c85cf"
        )

    def test_peer_ids_mirror_each_other(self) -> None:
        """RFC 3261: "the local tag at one UA is identical to the remote tag at the peer UA"."""
        request = invite()
        uac = Dialog.from_uac(request, answer(request, 200))
        uas = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        assert uac.id.local_tag == uas.id.remote_tag
        assert uac.id.remote_tag == uas.id.local_tag
        assert uac.id.call_id == uas.id.call_id


# --------------------------------------------------------------------------------
# UAC: creation (RFC 3261 12.1.2)
# --------------------------------------------------------------------------------


class TestFromUac:
    def test_early_dialog_from_180(self) -> None:
        request, dialog = uac_dialog(180)
        assert dialog.role is DialogRole.UAC
        assert dialog.state is DialogState.EARLY
        assert dialog.id == DialogId(request.call_id, "1928301774", "a6c85cf")
        # "The route set MUST be set to the list of URIs in the Record-Route header
        # field from the response, taken in reverse order".
        assert [str(r) for r in dialog.route_set] == [
            "<sip:p1.atlanta.example.com;lr;ftag=1928301774>",
            "<sip:p2.biloxi.example.com;lr>",
        ]
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"
        assert dialog.local_seq == 314159
        assert dialog.remote_seq is None
        assert str(dialog.local_uri) == '"Alice" <sip:alice@atlanta.example.com>'
        assert str(dialog.remote_uri) == '"Bob" <sip:bob@biloxi.example.com>'
        assert dialog.local_uri.tag is None
        assert dialog.secure is False
        assert str(dialog.local_contact) == ALICE_CONTACT
        assert dialog.initial_cseq == CSeq(314159, "INVITE")
        assert "UAC" in repr(dialog) and "Early" in repr(dialog)

    def test_confirmed_dialog_from_200(self) -> None:
        _, dialog = uac_dialog(200)
        assert dialog.state is DialogState.CONFIRMED

    def test_subscribe_2xx_creates_confirmed_dialog(self) -> None:
        request = invite(method="SUBSCRIBE", extra=("Event: presence",))
        dialog = Dialog.from_uac(request, answer(request, 202))
        assert dialog.state is DialogState.CONFIRMED
        assert dialog.initial_cseq == CSeq(314159, "SUBSCRIBE")

    def test_refer_2xx_creates_dialog(self) -> None:
        request = invite(method="REFER", extra=("Refer-To: <sip:carol@example.com>",))
        assert Dialog.from_uac(request, answer(request, 202)).state is DialogState.CONFIRMED

    def test_2xx_without_to_tag_rfc2543(self) -> None:
        """RFC 3261 12.1.2: "A UAC MUST be prepared to receive a response without a tag in
        the To field"."""
        request = invite()
        dialog = Dialog.from_uac(request, answer(request, 200, to_tag=None))
        assert dialog.id.remote_tag is None
        bye = dialog.create_request("BYE")
        # "If the value of the remote or local tags is null, the tag parameter MUST
        # be omitted from the To or From header fields".
        assert bye.to_tag is None
        assert bye.get_header("To") == '"Bob" <sip:bob@biloxi.example.com>'

    def test_no_record_route_gives_empty_route_set(self) -> None:
        request = invite()
        dialog = Dialog.from_uac(request, answer(request, 200, record_route=()))
        assert dialog.route_set == []

    def test_no_contact_falls_back_to_request_uri(self) -> None:
        request = invite(ruri="sip:bob@biloxi.example.com;method=INVITE")
        dialog = Dialog.from_uac(request, answer(request, 180, contact=None))
        assert str(dialog.remote_target) == "sip:bob@biloxi.example.com"

    @pytest.mark.parametrize(
        "contact",
        [
            NameAddr(URI.parse("sip:me@h.invalid")),
            URI.parse("sip:me@h.invalid"),
            "<sip:me@h.invalid>",
        ],
    )
    def test_explicit_local_contact(self, contact: NameAddr | URI | str) -> None:
        request = invite()
        dialog = Dialog.from_uac(request, answer(request, 200), local_contact=contact)
        assert str(dialog.local_contact) == "<sip:me@h.invalid>"

    def test_invalid_local_contact(self) -> None:
        request = invite()
        with pytest.raises(LocalProtocolError, match="invalid local Contact"):
            Dialog.from_uac(request, answer(request, 200), local_contact="<nonsense")

    def test_request_without_contact_has_no_local_contact(self) -> None:
        request = invite(contact=None)
        dialog = Dialog.from_uac(request, answer(request, 200))
        assert dialog.local_contact is None
        reinvite = dialog.create_request("INVITE")
        assert not reinvite.has_header("Contact")

    def test_sips_request_uri_sets_secure(self) -> None:
        request = invite(ruri="sips:bob@biloxi.example.com", contact="<sips:alice@a.invalid>")
        dialog = Dialog.from_uac(request, answer(request, 200, contact="<sips:bob@192.0.2.4>"))
        assert dialog.secure is True

    def test_secure_dialog_refuses_sip_contact(self) -> None:
        request = invite(ruri="sips:bob@biloxi.example.com", contact="<sips:alice@a.invalid>")
        with pytest.raises(RemoteProtocolError, match="SIPS"):
            Dialog.from_uac(request, answer(request, 200))

    @pytest.mark.parametrize("status", [100, 300, 486, 603])
    def test_status_that_creates_no_dialog(self, status: int) -> None:
        request = invite()
        with pytest.raises(LocalProtocolError, match="does not create a dialog"):
            Dialog.from_uac(request, answer(request, status))

    def test_method_that_creates_no_dialog(self) -> None:
        request = invite(method="OPTIONS")
        with pytest.raises(LocalProtocolError, match="OPTIONS request does not create"):
            Dialog.from_uac(request, answer(request, 200))

    def test_provisional_to_subscribe_creates_no_dialog(self) -> None:
        request = invite(method="SUBSCRIBE")
        with pytest.raises(LocalProtocolError, match="provisional response to SUBSCRIBE"):
            Dialog.from_uac(request, answer(request, 180))

    def test_provisional_without_to_tag_creates_no_dialog(self) -> None:
        """RFC 3261 12.1: "101-199 responses with a To tag"."""
        request = invite()
        with pytest.raises(LocalProtocolError, match="without To tag"):
            Dialog.from_uac(request, answer(request, 180, to_tag=None))

    def test_response_to_another_request(self) -> None:
        request = invite()
        other = invite(cseq=1)
        with pytest.raises(LocalProtocolError, match="does not answer"):
            Dialog.from_uac(request, answer(other, 200))

    def test_request_without_from_tag(self) -> None:
        request = invite(from_tag=None)
        with pytest.raises(LocalProtocolError, match="no From tag"):
            Dialog.from_uac(request, answer(request, 200))

    @pytest.mark.parametrize(
        ("record_route", "contact", "match"),
        [
            (("<sip:p1.example.com;lr",), BOB_CONTACT, "Record-Route"),
            ((), "*", "Contact"),
            ((), "<sip:bob@[::1>", "Contact"),
        ],
    )
    def test_malformed_response(
        self, record_route: tuple[str, ...], contact: str, match: str
    ) -> None:
        request = invite()
        with pytest.raises(RemoteProtocolError, match=match):
            Dialog.from_uac(
                request, answer(request, 200, record_route=record_route, contact=contact)
            )


class TestForking:
    """RFC 3261 13.2.2.4: each To tag is "a distinct dialog, with a distinct dialog
    identifier"; early dialogs are independent."""

    def test_two_early_dialogs_from_one_invite(self) -> None:
        request = invite()
        r1 = answer(
            request,
            180,
            to_tag="bob-phone",
            contact="<sip:bob@192.0.2.4>",
            record_route=("<sip:p1.atlanta.example.com;lr>",),
        )
        r2 = answer(
            request,
            183,
            to_tag="bob-laptop",
            contact="<sip:bob@192.0.2.5>",
            record_route=("<sip:p3.biloxi.example.com;lr>", "<sip:p1.atlanta.example.com;lr>"),
        )
        table: dict[DialogId, Dialog] = {}
        for response in (r1, r2):
            key = dialog_id_for_response(response)
            assert key not in table
            table[key] = Dialog.from_uac(request, response)
        d1, d2 = table[dialog_id_for_response(r1)], table[dialog_id_for_response(r2)]
        assert d1.id != d2.id
        assert d1.id.call_id == d2.id.call_id and d1.id.local_tag == d2.id.local_tag
        assert str(d1.remote_target) == "sip:bob@192.0.2.4"
        assert str(d2.remote_target) == "sip:bob@192.0.2.5"
        assert len(d1.route_set) == 1 and len(d2.route_set) == 2

        # Requests in one early dialog do not touch the other's CSeq.
        update = d1.create_request("UPDATE")
        assert update.cseq.seq == 314160 and d2.local_seq == 314159
        assert update.to_tag == "bob-phone"

        # The 2xx of one fork confirms its dialog only; the other is ended by the
        # usage (13.2.2.4: 64*T1 after the first 2xx, or at once).
        ok = answer(request, 200, to_tag="bob-laptop", contact="<sip:bob@192.0.2.5>")
        assert table[dialog_id_for_response(ok)].update_from_response(ok)
        assert d2.state is DialogState.CONFIRMED
        assert d1.state.value == "Early"
        d1.terminate()
        assert d1.state is DialogState.TERMINATED and d2.state is DialogState.CONFIRMED

    def test_second_2xx_from_another_fork_makes_a_new_dialog(self) -> None:
        request = invite()
        first = Dialog.from_uac(request, answer(request, 200, to_tag="one"))
        second = Dialog.from_uac(request, answer(request, 200, to_tag="two"))
        assert first.id != second.id
        assert first.create_ack(314159).to_tag == "one"
        assert second.create_ack(314159).to_tag == "two"


# --------------------------------------------------------------------------------
# UAC: responses (RFC 3261 12.2.1.2, 13.2.2)
# --------------------------------------------------------------------------------


class TestUpdateFromResponse:
    def test_2xx_confirms_and_recomputes_route_set_and_target(self) -> None:
        """13.2.2.4: "the route set for the dialog MUST be recomputed based on the 2xx"."""
        request, dialog = uac_dialog(180, record_route=())
        assert dialog.route_set == []
        ok = answer(
            request,
            200,
            record_route=("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"),
            contact="<sip:bob@192.0.2.44;transport=ws>",
        )
        assert dialog.update_from_response(ok) is True
        assert dialog.state is DialogState.CONFIRMED
        assert [str(r.uri) for r in dialog.route_set] == [
            "sip:p1.example.com;lr",
            "sip:p2.example.com;lr",
        ]
        assert str(dialog.remote_target) == "sip:bob@192.0.2.44;transport=ws"
        # "Other pieces of state such as the highest sequence numbers ... are not
        # recomputed."
        assert dialog.local_seq == 314159

    def test_early_requests_keep_their_cseq_after_2xx(self) -> None:
        request, dialog = uac_dialog(183)
        dialog.create_request("UPDATE")
        dialog.update_from_response(answer(request, 200))
        assert dialog.local_seq == 314160

    def test_2xx_without_contact_keeps_target(self) -> None:
        request, dialog = uac_dialog(180)
        dialog.update_from_response(answer(request, 200, contact=None))
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"

    def test_2xx_retransmission_changes_nothing(self) -> None:
        """RFC 6026 7.2: 2xx retransmissions reach the TU (to re-send the ACK)."""
        request, dialog = uac_dialog(200)
        routes = [str(r) for r in dialog.route_set]
        again = answer(request, 200, record_route=("<sip:elsewhere.example.com;lr>",))
        assert dialog.update_from_response(again) is True
        assert dialog.state is DialogState.CONFIRMED
        assert [str(r) for r in dialog.route_set] == routes

    def test_more_provisionals_keep_early(self) -> None:
        request, dialog = uac_dialog(180)
        assert dialog.update_from_response(answer(request, 183)) is True
        assert dialog.state is DialogState.EARLY

    def test_100_is_ignored(self) -> None:
        request, dialog = uac_dialog(180)
        assert dialog.update_from_response(answer(request, 100)) is True
        assert dialog.state is DialogState.EARLY

    def test_failure_terminates_early_dialog(self) -> None:
        """RFC 3261 12.3 / 13.2.2.3."""
        request, dialog = uac_dialog(180)
        assert dialog.update_from_response(answer(request, 486)) is True
        assert dialog.state is DialogState.TERMINATED

    @pytest.mark.parametrize(("first", "late"), [(200, 180), (200, 487)])
    def test_late_responses_to_confirmed_dialog_are_discarded(self, first: int, late: int) -> None:
        request, dialog = uac_dialog(first)
        assert dialog.update_from_response(answer(request, late)) is False
        assert dialog.state is DialogState.CONFIRMED

    @pytest.mark.parametrize("late", [183, 487])
    def test_late_responses_to_terminated_dialog_are_discarded(self, late: int) -> None:
        request, dialog = uac_dialog(180)
        dialog.terminate()
        assert dialog.update_from_response(answer(request, late)) is False

    def test_2xx_to_terminated_dialog_is_a_local_error(self) -> None:
        """13.2.2.4: "Otherwise, a new dialog in the 'confirmed' state MUST be constructed"."""
        request, dialog = uac_dialog(180)
        dialog.terminate()
        with pytest.raises(LocalProtocolError, match="cannot take input"):
            dialog.update_from_response(answer(request, 200))

    def test_response_of_another_dialog(self) -> None:
        request, dialog = uac_dialog(180)
        with pytest.raises(LocalProtocolError, match="does not belong"):
            dialog.update_from_response(answer(request, 200, to_tag="other"))

    def test_malformed_2xx_changes_nothing(self) -> None:
        request, dialog = uac_dialog(180)
        with pytest.raises(RemoteProtocolError):
            dialog.update_from_response(answer(request, 200, record_route=("<sip:x",)))
        assert dialog.state is DialogState.EARLY
        assert len(dialog.route_set) == 2

    def test_2xx_to_reinvite_refreshes_target(self) -> None:
        """12.2.1.2: "When a UAC receives a 2xx response to a target refresh request,
        it MUST replace the dialog's remote target URI"."""
        _, dialog = uac_dialog(200)
        reinvite = dialog.create_request("INVITE")
        routes = list(dialog.route_set)
        ok = answer(
            reinvite,
            200,
            contact="<sip:bob@198.51.100.7>",
            record_route=("<sip:new.example.com;lr>",),
        )
        assert dialog.update_from_response(ok) is True
        assert str(dialog.remote_target) == "sip:bob@198.51.100.7"
        # "Target refresh requests only update the dialog's remote target URI, and
        # not the route set".
        assert dialog.route_set == routes

    def test_2xx_to_update_refreshes_target(self) -> None:
        _, dialog = uac_dialog(200)
        update = dialog.create_request("UPDATE")
        dialog.update_from_response(answer(update, 200, contact="<sip:bob@198.51.100.8>"))
        assert str(dialog.remote_target) == "sip:bob@198.51.100.8"

    @pytest.mark.parametrize(
        ("method", "status", "contact"),
        [
            ("INFO", 200, "<sip:bob@198.51.100.7>"),
            ("INVITE", 488, "<sip:bob@198.51.100.7>"),
            ("INVITE", 200, None),
            ("INVITE", 180, "<sip:bob@198.51.100.7>"),
        ],
    )
    def test_other_responses_keep_target(
        self, method: str, status: int, contact: str | None
    ) -> None:
        _, dialog = uac_dialog(200)
        request = dialog.create_request(method)
        assert dialog.update_from_response(answer(request, status, contact=contact)) is True
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"
        assert dialog.state is DialogState.CONFIRMED

    def test_2xx_to_reinvite_after_termination_keeps_target(self) -> None:
        _, dialog = uac_dialog(200)
        reinvite = dialog.create_request("INVITE")
        dialog.terminate()
        dialog.update_from_response(answer(reinvite, 200, contact="<sip:bob@198.51.100.7>"))
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"

    def test_secure_dialog_refuses_downgrade(self) -> None:
        request = invite(ruri="sips:bob@biloxi.example.com", contact="<sips:alice@a.invalid>")
        dialog = Dialog.from_uac(request, answer(request, 200, contact="<sips:bob@192.0.2.4>"))
        reinvite = dialog.create_request("INVITE")
        with pytest.raises(RemoteProtocolError, match="SIPS"):
            dialog.update_from_response(answer(reinvite, 200, contact="<sip:bob@192.0.2.4>"))
        assert dialog.remote_target.scheme == "sips"

    def test_uas_dialog_takes_responses_to_its_own_requests(self) -> None:
        dialog = Dialog.from_uas(invite(), "a6c85cf", BOB_CONTACT)
        dialog.create_response(invite(), 200)
        reinvite = dialog.create_request("INVITE")
        ok = answer(reinvite, 200, contact="<sip:alice@203.0.113.9>")
        assert dialog.update_from_response(ok) is True
        assert str(dialog.remote_target) == "sip:alice@203.0.113.9"


# --------------------------------------------------------------------------------
# UAC: building requests (RFC 3261 12.2.1.1, 13.2.2.4)
# --------------------------------------------------------------------------------


def routed_dialog(routes: list[str], target: str = "sip:user@remoteua") -> Dialog:
    return Dialog(
        id=DialogId("call-1", "local-1", "remote-1"),
        role=DialogRole.UAC,
        state=DialogState.CONFIRMED,
        local_uri=NameAddr.parse("<sip:alice@example.com>"),
        remote_uri=NameAddr.parse("<sip:bob@example.com>"),
        local_seq=10,
        remote_seq=None,
        remote_target=URI.parse(target),
        route_set=[NameAddr.parse(r) for r in routes],
        secure=False,
        local_contact=NameAddr.parse("<sip:alice@a.invalid;transport=ws>"),
        initial_cseq=CSeq(10, "INVITE"),
    )


class TestCreateRequest:
    def test_loose_routing(self) -> None:
        """RFC 3261: "the UAC MUST place the remote target URI into the Request-URI and MUST
        include a Route header field containing the route set values in order"."""
        _, dialog = uac_dialog(200)
        bye = dialog.create_request("BYE")
        assert bye.method == "BYE"
        assert bye.ruri_text == "sip:bob@192.0.2.4;transport=ws"
        assert bye.get_headers("Route") == [
            "<sip:p1.atlanta.example.com;lr;ftag=1928301774>",
            "<sip:p2.biloxi.example.com;lr>",
        ]
        assert bye.get_header("To") == '"Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf'
        assert bye.get_header("From") == '"Alice" <sip:alice@atlanta.example.com>;tag=1928301774'
        assert bye.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
        assert bye.cseq == CSeq(314160, "BYE")
        assert bye.parse_header("Max-Forwards") == MAX_FORWARDS == 70
        assert not bye.has_header("Via")  # the transaction layer's
        assert not bye.has_header("Contact")  # BYE is no target refresh
        # The wire form parses back to the same request.
        assert parse_message(bytes(bye)) == bye

    def test_strict_routing_rfc_example(self) -> None:
        """RFC 3261 12.2.1.1's own example: route set <sip:proxy1>,<sip:proxy2>,
        <sip:proxy3;lr>,<sip:proxy4>, remote target sip:user@remoteua."""
        dialog = routed_dialog(["<sip:proxy1>", "<sip:proxy2>", "<sip:proxy3;lr>", "<sip:proxy4>"])
        request = dialog.create_request("INFO")
        assert request.ruri_text == "sip:proxy1"
        assert request.get_headers("Route") == [
            "<sip:proxy2>",
            "<sip:proxy3;lr>",
            "<sip:proxy4>",
            "<sip:user@remoteua>",
        ]

    def test_strict_routing_strips_what_a_request_uri_cannot_hold(self) -> None:
        """RFC 3261: "stripping any parameters that are not allowed in a Request-URI" (19.1.1)."""
        dialog = routed_dialog(["<sip:proxy1;method=INVITE;maddr=192.0.2.1?Subject=x>"])
        request = dialog.create_request("INFO")
        assert request.ruri_text == "sip:proxy1;maddr=192.0.2.1"
        assert request.get_headers("Route") == ["<sip:user@remoteua>"]

    def test_empty_route_set(self) -> None:
        """RFC 3261: "If the route set is empty ... The UAC MUST NOT add a Route header field"."""
        dialog = routed_dialog([], target="sip:bob@192.0.2.4;transport=ws?Subject=x")
        request = dialog.create_request("MESSAGE", [("Content-Type", "text/plain")], "hi")
        assert request.ruri_text == "sip:bob@192.0.2.4;transport=ws"
        assert not request.has_header("Route")
        assert request.body == b"hi"
        assert request.get_header("Content-Type") == "text/plain"

    def test_route_set_not_shared_with_requests(self) -> None:
        dialog = routed_dialog(["<sip:p1;lr>"])
        request = dialog.create_request("INFO")
        request.set_header("Route", "<sip:evil;lr>")
        assert str(dialog.route_set[0]) == "<sip:p1;lr>"

    def test_cseq_increments_by_one(self) -> None:
        """RFC 3261: "strictly monotonically increasing and contiguous CSeq sequence numbers"."""
        _, dialog = uac_dialog(200)
        numbers = [dialog.create_request(m).cseq.seq for m in ("INFO", "INVITE", "BYE")]
        assert numbers == [314160, 314161, 314162]
        assert dialog.local_seq == 314162

    @pytest.mark.parametrize(
        ("method", "has_contact"),
        [
            ("INVITE", True),
            ("UPDATE", True),
            ("SUBSCRIBE", True),
            ("NOTIFY", True),
            ("INFO", False),
            ("BYE", False),
            ("MESSAGE", False),
            ("REFER", False),
            ("OPTIONS", False),
            ("PRACK", False),
        ],
    )
    def test_contact_in_target_refresh_requests(self, method: str, has_contact: bool) -> None:
        """RFC 3261 12.2.1.1: "A UAC SHOULD include a Contact header field in any target
        refresh requests"."""
        _, dialog = uac_dialog(200)
        request = dialog.create_request(method)
        assert request.has_header("Contact") is has_contact
        if has_contact:
            assert request.get_header("Contact") == ALICE_CONTACT

    def test_extra_headers_and_overrides(self) -> None:
        _, dialog = uac_dialog(200)
        request = dialog.create_request(
            "INVITE",
            [
                ("Contact", "<sip:alice@new.invalid>"),
                ("Max-Forwards", "10"),
                ("Supported", "timer"),
                ("Content-Type", "application/sdp"),
            ],
            b"v=0\r\n",
        )
        assert request.get_headers("Contact") == ["<sip:alice@new.invalid>"]
        assert request.get_headers("Max-Forwards") == ["10"]
        assert request.get_header("Supported") == "timer"
        assert request.body == b"v=0\r\n"

    @pytest.mark.parametrize("name", ["To", "from", "Call-ID", "i", "CSeq", "Route", "Via", "v"])
    def test_dialog_owned_headers_are_refused(self, name: str) -> None:
        _, dialog = uac_dialog(200)
        with pytest.raises(LocalProtocolError, match="come from the dialog state"):
            dialog.create_request("INFO", [(name, "x")])
        assert dialog.local_seq == 314159  # atomic: nothing consumed

    @pytest.mark.parametrize("method", ["ACK", "CANCEL"])
    def test_ack_and_cancel_are_not_built_here(self, method: str) -> None:
        _, dialog = uac_dialog(200)
        with pytest.raises(LocalProtocolError, match=method):
            dialog.create_request(method)

    def test_terminated_dialog_sends_nothing(self) -> None:
        _, dialog = uac_dialog(200)
        dialog.terminate()
        with pytest.raises(LocalProtocolError, match="terminated"):
            dialog.create_request("BYE")

    def test_early_dialog_can_send(self) -> None:
        """RFC 3261 15: "The caller's UA MAY send a BYE for either confirmed or early"."""
        _, dialog = uac_dialog(180)
        assert dialog.create_request("BYE").cseq.seq == 314160

    def test_cseq_space_exhausted(self) -> None:
        dialog = routed_dialog([])
        dialog.local_seq = 2**32 - 1
        with pytest.raises(LocalProtocolError, match="exhausted"):
            dialog.create_request("INFO")

    def test_secure_dialog_needs_sips_contact(self) -> None:
        dialog = routed_dialog([], target="sips:bob@example.com")
        dialog.secure = True
        with pytest.raises(LocalProtocolError, match="SIPS Contact"):
            dialog.create_request("INVITE")
        assert dialog.local_seq == 10
        dialog.local_contact = NameAddr.parse("<sips:alice@a.invalid>")
        assert dialog.create_request("INVITE").get_header("Contact") == "<sips:alice@a.invalid>"
        assert dialog.create_request("INFO").cseq.seq == 12

    def test_uas_dialog_first_request(self) -> None:
        """A UAS dialog's local sequence number is empty: the first request picks one
        (8.1.1.5); To/From are swapped relative to the INVITE."""
        request = invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        dialog.create_response(request, 200)
        bye = dialog.create_request("BYE")
        assert bye.cseq == CSeq(1, "BYE")
        assert bye.get_header("To") == '"Alice" <sip:alice@atlanta.example.com>;tag=1928301774'
        assert bye.get_header("From") == '"Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf'
        assert bye.ruri_text == "sip:alice@df7jal23ls0d.invalid;transport=ws;ob"
        assert dialog.create_request("INFO").cseq.seq == 2


class TestCreateAck:
    """RFC 3261 13.2.2.4: the ACK for a 2xx is the dialog's; "The sequence number of the
    CSeq header field MUST be the same as the INVITE being acknowledged"."""

    def test_ack_for_initial_invite(self) -> None:
        _, dialog = uac_dialog(200)
        ack = dialog.create_ack(314159)
        assert ack.method == "ACK"
        assert ack.cseq == CSeq(314159, "ACK")
        assert ack.ruri_text == "sip:bob@192.0.2.4;transport=ws"
        assert len(ack.get_headers("Route")) == 2
        assert ack.to_tag == "a6c85cf"
        assert not ack.has_header("Contact")
        assert dialog.local_seq == 314159  # unchanged

    def test_ack_for_reinvite_with_credentials_and_answer(self) -> None:
        _, dialog = uac_dialog(200)
        reinvite = dialog.create_request("INVITE")
        ack = dialog.create_ack(
            reinvite.cseq.seq,
            [("Authorization", 'Digest username="alice"'), ("Content-Type", "application/sdp")],
            "v=0\r\n",
        )
        assert ack.cseq == CSeq(314160, "ACK")
        assert ack.get_header("Authorization") == 'Digest username="alice"'
        assert ack.body == b"v=0\r\n"

    def test_ack_after_termination(self) -> None:
        """A 2xx that crossed our BYE is ACKed all the same."""
        _, dialog = uac_dialog(200)
        dialog.terminate()
        assert dialog.create_ack(314159).cseq.seq == 314159

    def test_no_ack_on_early_dialog(self) -> None:
        _, dialog = uac_dialog(180)
        with pytest.raises(LocalProtocolError, match="confirms"):
            dialog.create_ack(314159)

    @pytest.mark.parametrize("seq", [0, 314160])
    def test_ack_for_unknown_invite(self, seq: int) -> None:
        _, dialog = uac_dialog(200)
        with pytest.raises(LocalProtocolError, match="no INVITE"):
            dialog.create_ack(seq)

    def test_ack_before_any_request_of_ours(self) -> None:
        request = invite()
        dialog = Dialog.from_uas(request, "t", BOB_CONTACT)
        dialog.create_response(request, 200)
        with pytest.raises(LocalProtocolError, match="no INVITE"):
            dialog.create_ack(1)


# --------------------------------------------------------------------------------
# Requests received in the dialog (RFC 3261 12.2.2)
# --------------------------------------------------------------------------------


class TestReceiveRequest:
    def test_first_request_sets_remote_seq(self) -> None:
        """UAC dialog: "The remote sequence number MUST be empty"; the first request
        from the peer sets it."""
        _, dialog = uac_dialog(200)
        dialog.receive_request(incoming("INFO", 7, dialog=dialog))
        assert dialog.remote_seq == 7

    def test_gaps_are_fine(self) -> None:
        """RFC 3261: "It is possible for the CSeq sequence number to be higher than the remote
        sequence number by more than one. This is not an error condition"."""
        _, dialog = uac_dialog(200)
        dialog.receive_request(incoming("INFO", 7, dialog=dialog))
        dialog.receive_request(incoming("INFO", 12, dialog=dialog))
        assert dialog.remote_seq == 12

    @pytest.mark.parametrize("seq", [6, 7])
    def test_out_of_order_is_500(self, seq: int) -> None:
        """RFC 3261: "the request is out of order and MUST be rejected with a 500"."""
        _, dialog = uac_dialog(200)
        dialog.receive_request(incoming("INFO", 7, dialog=dialog))
        with pytest.raises(RemoteProtocolError, match="out of order") as info:
            dialog.receive_request(incoming("INFO", seq, dialog=dialog))
        assert info.value.status_code == 500
        assert dialog.remote_seq == 7

    def test_uas_dialog_compares_with_the_invite(self) -> None:
        request = invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        dialog.create_response(request, 200)
        with pytest.raises(RemoteProtocolError) as info:
            dialog.receive_request(incoming("BYE", 314158, dialog=dialog))
        assert info.value.status_code == 500
        dialog.receive_request(incoming("BYE", 314160, dialog=dialog))
        assert dialog.state is DialogState.TERMINATED

    @pytest.mark.parametrize("method", ["ACK", "CANCEL"])
    def test_ack_and_cancel_do_not_touch_cseq(self, method: str) -> None:
        """12.2.1.1: "excepting ACK and CANCEL of course, whose numbers equal the
        requests being acknowledged or cancelled"."""
        request = invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        dialog.create_response(request, 200)
        dialog.receive_request(incoming(method, 314159, dialog=dialog))
        dialog.receive_request(incoming(method, 1, dialog=dialog))
        assert dialog.remote_seq == 314159
        assert dialog.state is DialogState.CONFIRMED

    def test_ack_on_terminated_dialog_is_ignored(self) -> None:
        _, dialog = uac_dialog(200)
        dialog.terminate()
        dialog.receive_request(incoming("ACK", 1, dialog=dialog))

    @pytest.mark.parametrize("status", [180, 200])
    def test_bye_terminates(self, status: int) -> None:
        """RFC 3261 15.1.2; on an early dialog too (the caller MAY send one)."""
        request = invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        dialog.create_response(request, status)
        dialog.receive_request(incoming("BYE", 314160, dialog=dialog))
        assert dialog.state is DialogState.TERMINATED

    def test_request_on_terminated_dialog_is_481(self) -> None:
        _, dialog = uac_dialog(200)
        dialog.receive_request(incoming("BYE", 1, dialog=dialog))
        with pytest.raises(RemoteProtocolError) as info:
            dialog.receive_request(incoming("INFO", 2, dialog=dialog))
        assert info.value.status_code == 481

    def test_request_of_another_dialog(self) -> None:
        _, dialog = uac_dialog(200)
        other = routed_dialog([])
        with pytest.raises(LocalProtocolError, match="does not belong"):
            dialog.receive_request(incoming("INFO", 1, dialog=other))

    def test_target_refresh_waits_for_2xx(self) -> None:
        """12.2.2 atomicity: the Contact of a re-INVITE becomes the target when the
        re-INVITE is accepted (versatica/JsSIP#127)."""
        _, dialog = uac_dialog(200)
        reinvite = incoming("INVITE", 1, dialog=dialog, contact="<sip:bob@198.51.100.1>")
        dialog.receive_request(reinvite)
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"
        ringing = dialog.create_response(reinvite, 180)
        assert ringing.to_tag == dialog.id.local_tag
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"
        ok = dialog.create_response(reinvite, 200)
        assert str(dialog.remote_target) == "sip:bob@198.51.100.1"
        # The 2xx to a target refresh carries our Contact (the peer adopts it).
        assert ok.get_header("Contact") == ALICE_CONTACT
        assert not ok.has_header("Record-Route")

    def test_rejected_target_refresh_changes_no_target(self) -> None:
        _, dialog = uac_dialog(200)
        update = incoming("UPDATE", 1, dialog=dialog, contact="<sip:bob@198.51.100.1>")
        dialog.receive_request(update)
        response = dialog.create_response(update, 491)
        assert not response.has_header("Contact")
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"
        assert dialog.remote_seq == 1
        # Nothing left pending: a stray 2xx report later changes nothing either.
        dialog.update_from_sent_response(Response.for_request(update, 200))
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"

    def test_refresh_committed_by_a_response_built_elsewhere(self) -> None:
        _, dialog = uac_dialog(200)
        notify = incoming("NOTIFY", 3, dialog=dialog, contact="<sip:bob@198.51.100.2>")
        dialog.receive_request(notify)
        other = incoming("NOTIFY", 4, dialog=dialog, contact="<sip:bob@198.51.100.3>")
        # A response to an older request of the same method commits nothing.
        dialog.receive_request(other)
        dialog.update_from_sent_response(Response.for_request(notify, 200))
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"
        dialog.update_from_sent_response(Response.for_request(other, 200))
        assert str(dialog.remote_target) == "sip:bob@198.51.100.3"

    def test_refresh_not_committed_after_termination(self) -> None:
        _, dialog = uac_dialog(200)
        reinvite = incoming("INVITE", 1, dialog=dialog, contact="<sip:bob@198.51.100.1>")
        dialog.receive_request(reinvite)
        dialog.terminate()
        dialog.update_from_sent_response(Response.for_request(reinvite, 200))
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"

    def test_target_refresh_without_contact(self) -> None:
        _, dialog = uac_dialog(200)
        reinvite = incoming("INVITE", 1, dialog=dialog)
        dialog.receive_request(reinvite)
        dialog.create_response(reinvite, 200)
        assert str(dialog.remote_target) == "sip:bob@192.0.2.4;transport=ws"

    @pytest.mark.parametrize("contact", ["*", "<sip:bob@[::1>"])
    def test_bad_contact_is_400_and_atomic(self, contact: str) -> None:
        _, dialog = uac_dialog(200)
        with pytest.raises(RemoteProtocolError, match="Contact") as info:
            dialog.receive_request(incoming("INVITE", 5, dialog=dialog, contact=contact))
        assert info.value.status_code == 400
        assert dialog.remote_seq is None

    def test_secure_dialog_refuses_sip_contact(self) -> None:
        request = invite(ruri="sips:bob@biloxi.example.com", contact="<sips:alice@a.invalid>")
        dialog = Dialog.from_uac(request, answer(request, 200, contact="<sips:bob@192.0.2.4>"))
        with pytest.raises(RemoteProtocolError, match="SIPS") as info:
            dialog.receive_request(incoming("UPDATE", 1, dialog=dialog, contact=BOB_CONTACT))
        assert info.value.status_code == 400
        dialog.receive_request(incoming("UPDATE", 1, dialog=dialog, contact="<sips:b@h>"))
        assert dialog.remote_seq == 1


# --------------------------------------------------------------------------------
# UAS: creation and responses (RFC 3261 12.1.1)
# --------------------------------------------------------------------------------


def incoming_invite(
    *extra: str,
    ruri: str = "sip:bob@192.0.2.4;transport=ws",
    contact: str | None = ALICE_CONTACT,
    method: str = "INVITE",
) -> Request:
    """An INVITE as it reaches Bob after two record-routing proxies."""
    lines = [
        f"{method} {ruri} SIP/2.0",
        "Via: SIP/2.0/WSS p2.biloxi.example.com;branch=z9hG4bK2",
        "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7",
        "Max-Forwards: 68",
        "Record-Route: <sip:p2.biloxi.example.com;lr>",
        "Record-Route: <sip:p1.atlanta.example.com;lr;ftag=1928301774>",
        "To: Bob <sip:bob@biloxi.example.com>",
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
        f"CSeq: 314159 {method}",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    return req(*lines, *extra)


class TestFromUas:
    def test_dialog_state(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        assert dialog.role is DialogRole.UAS
        assert dialog.state is DialogState.EARLY
        assert dialog.id == DialogId(request.call_id, "a6c85cf", "1928301774")
        # "The route set MUST be set to the list of URIs in the Record-Route header
        # field from the request, taken in order and preserving all URI parameters."
        assert [str(r) for r in dialog.route_set] == [
            "<sip:p2.biloxi.example.com;lr>",
            "<sip:p1.atlanta.example.com;lr;ftag=1928301774>",
        ]
        assert str(dialog.remote_target) == "sip:alice@df7jal23ls0d.invalid;transport=ws;ob"
        assert dialog.remote_seq == 314159
        assert dialog.local_seq is None
        assert str(dialog.local_uri) == '"Bob" <sip:bob@biloxi.example.com>'
        assert str(dialog.remote_uri) == '"Alice" <sip:alice@atlanta.example.com>'
        assert dialog.secure is False
        assert str(dialog.local_contact) == BOB_CONTACT

    def test_uas_requests_route_in_order(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", URI.parse("sip:bob@192.0.2.4"))
        dialog.create_response(request, 200)
        bye = dialog.create_request("BYE")
        assert bye.get_headers("Route") == [
            "<sip:p2.biloxi.example.com;lr>",
            "<sip:p1.atlanta.example.com;lr;ftag=1928301774>",
        ]

    def test_no_from_tag_rfc2543(self) -> None:
        request = req(
            "INVITE sip:bob@192.0.2.4 SIP/2.0",
            "Via: SIP/2.0/WSS a.invalid",
            "To: <sip:bob@biloxi.example.com>",
            "From: <sip:alice@atlanta.example.com>",
            "Call-ID: c2543",
            "CSeq: 1 INVITE",
        )
        dialog = Dialog.from_uas(request, "t", BOB_CONTACT)
        assert dialog.id.remote_tag is None
        # No Contact either: requests go to the From address (RFC 2543).
        assert str(dialog.remote_target) == "sip:alice@atlanta.example.com"
        dialog.create_response(request, 200)
        assert dialog.create_request("BYE").from_tag == "t"

    @pytest.mark.parametrize(
        ("ruri", "rr_top", "contact", "local", "ok"),
        [
            ("sips:bob@h", None, "<sip:a@h>", "<sip:b@h>", False),
            ("sips:bob@h", None, "<sip:a@h>", "<sips:b@h>", True),
            ("sip:bob@h", "<sips:p@h;lr>", "<sip:a@h>", "<sip:b@h>", False),
            ("sip:bob@h", "<sip:p@h;lr>", "<sips:a@h>", "<sip:b@h>", True),
            ("sip:bob@h", None, "<sips:a@h>", "<sip:b@h>", False),
            ("sip:bob@h", None, None, "<sip:b@h>", True),
        ],
    )
    def test_sips_contact_rule(
        self, ruri: str, rr_top: str | None, contact: str | None, local: str, ok: bool
    ) -> None:
        """12.1.1: SIPS in the Request-URI, the top Record-Route, or (without
        Record-Route) the Contact requires a SIPS Contact in the response."""
        lines = [
            f"INVITE {ruri} SIP/2.0",
            "Via: SIP/2.0/WSS a.invalid;branch=z9hG4bKx",
            "To: <sip:bob@h>",
            "From: <sip:alice@h>;tag=f",
            "Call-ID: c",
            "CSeq: 1 INVITE",
        ]
        if rr_top:
            lines.append(f"Record-Route: {rr_top}")
        if contact:
            lines.append(f"Contact: {contact}")
        request = req(*lines)
        if ok:
            dialog = Dialog.from_uas(request, "t", local)
            assert dialog.secure is (ruri.startswith("sips"))
        else:
            with pytest.raises(LocalProtocolError, match="SIPS Contact"):
                Dialog.from_uas(request, "t", local)

    def test_refused_requests(self) -> None:
        with pytest.raises(LocalProtocolError, match="does not create"):
            Dialog.from_uas(incoming_invite(method="MESSAGE"), "t", BOB_CONTACT)
        with_tag = incoming_invite()
        with_tag.set_header("To", "<sip:bob@biloxi.example.com>;tag=x")
        with pytest.raises(LocalProtocolError, match="within a dialog"):
            Dialog.from_uas(with_tag, "t", BOB_CONTACT)
        with pytest.raises(LocalProtocolError, match="empty"):
            Dialog.from_uas(incoming_invite(), "", BOB_CONTACT)

    @pytest.mark.parametrize(("header", "value"), [("Record-Route", "<sip:p1"), ("Contact", "*")])
    def test_malformed_request_is_400(self, header: str, value: str) -> None:
        request = incoming_invite()
        request.set_header(header, value)
        with pytest.raises(RemoteProtocolError) as info:
            Dialog.from_uas(request, "t", BOB_CONTACT)
        assert info.value.status_code == 400

    def test_missing_from_is_400(self) -> None:
        request = incoming_invite()
        request.remove_header("From")
        with pytest.raises(RemoteProtocolError, match="missing From") as info:
            Dialog.from_uas(request, "t", BOB_CONTACT)
        assert info.value.status_code == 400


class TestCreateResponse:
    def test_provisional_then_2xx(self) -> None:
        """12.1.1: copy Record-Route in order, add Contact, tag in To."""
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        ringing = dialog.create_response(request, 180)
        assert ringing.status_code == 180
        assert ringing.to_tag == "a6c85cf"
        assert ringing.get_headers("Record-Route") == [
            "<sip:p2.biloxi.example.com;lr>",
            "<sip:p1.atlanta.example.com;lr;ftag=1928301774>",
        ]
        assert ringing.get_header("Contact") == BOB_CONTACT
        assert ringing.get_headers("Via") == request.get_headers("Via")
        assert dialog.state.value == "Early"
        ok = dialog.create_response(
            request, 200, headers=[("Content-Type", "application/sdp")], body="v=0\r\n"
        )
        assert dialog.state is DialogState.CONFIRMED
        assert ok.to_tag == "a6c85cf" and ok.body == b"v=0\r\n"
        # The UAS core re-sends its 2xx until the ACK (13.3.1.4).
        dialog.create_response(request, 200)
        assert dialog.state is DialogState.CONFIRMED
        # A provisional after the 2xx is a local mistake.
        with pytest.raises(LocalProtocolError, match="cannot take input"):
            dialog.create_response(request, 183)

    def test_failure_terminates(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        dialog.create_response(request, 183)
        busy = dialog.create_response(request, 486, "Busy Here")
        assert dialog.state is DialogState.TERMINATED
        assert busy.reason_phrase == "Busy Here"
        assert not busy.has_header("Contact") and not busy.has_header("Record-Route")

    def test_subscribe_answered_202(self) -> None:
        request = incoming_invite("Event: presence", method="SUBSCRIBE")
        dialog = Dialog.from_uas(request, "n1", BOB_CONTACT)
        response = dialog.create_response(request, 202, headers=[("Expires", "600")])
        assert dialog.state is DialogState.CONFIRMED
        assert response.get_header("Expires") == "600"

    def test_contact_override(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        response = dialog.create_response(request, 200, headers=[("Contact", "<sip:b@o>")])
        assert response.get_headers("Contact") == ["<sip:b@o>"]

    def test_without_local_contact(self) -> None:
        _, dialog = uac_dialog(200)
        dialog.local_contact = None
        reinvite = incoming("INVITE", 1, dialog=dialog)
        dialog.receive_request(reinvite)
        assert not dialog.create_response(reinvite, 200).has_header("Contact")

    def test_100_is_refused(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        with pytest.raises(LocalProtocolError, match="100 Trying"):
            dialog.create_response(request, 100)
        with pytest.raises(LocalProtocolError, match="100 Trying"):
            dialog.update_from_sent_response(Response.for_request(request, 100, to_tag="a6c85cf"))

    def test_requests_of_other_dialogs_are_refused(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        other_call = incoming_invite()
        other_call.set_header("Call-ID", "other")
        with pytest.raises(LocalProtocolError, match="does not belong"):
            dialog.create_response(other_call, 200)
        # A UAC dialog has no initial request to answer.
        _, uac = uac_dialog(200)
        with pytest.raises(LocalProtocolError, match="does not belong"):
            uac.create_response(incoming_invite(), 200)
        # An in-dialog request of another dialog.
        with pytest.raises(LocalProtocolError, match="does not belong"):
            dialog.create_response(incoming("INFO", 1, dialog=uac), 200)

    def test_sent_response_of_another_dialog(self) -> None:
        request = incoming_invite()
        dialog = Dialog.from_uas(request, "a6c85cf", BOB_CONTACT)
        with pytest.raises(LocalProtocolError, match="does not belong"):
            dialog.update_from_sent_response(Response.for_request(request, 200, to_tag="zz"))
