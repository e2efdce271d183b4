"""The registrar's bindings, intervals and GRUUs (RFC 3261 10.3, RFC 5627), sans-I/O."""

from __future__ import annotations

import random

import pytest

from websip.server.registrar import BindingAdded, BindingRemoved, Registrar
from websip.sip import NameAddr, Request, Response

DOMAIN = "websip.test"
URN = "urn:uuid:00000000-0000-4000-8000-000000000001"


class Client:
    """REGISTERs of one Call-ID with a growing CSeq."""

    def __init__(self, host: str = "a.invalid", call_id: str = "reg-1") -> None:
        self.contact = f"<sip:alice@{host};transport=ws>"
        self.call_id = call_id
        self.cseq = 0

    def request(
        self,
        contacts: list[str] | None = None,
        *,
        expires: int | None = None,
        supported: str = "gruu, outbound",
        extra: list[tuple[str, str]] | None = None,
    ) -> Request:
        self.cseq += 1
        headers = [
            ("Via", "SIP/2.0/WS a.invalid;branch=z9hG4bK" + str(self.cseq)),
            ("From", "<sip:alice@websip.test>;tag=f"),
            ("To", "<sip:alice@websip.test>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Supported", supported),
        ]
        headers += [("Contact", c) for c in (contacts if contacts is not None else [self.contact])]
        if expires is not None:
            headers.append(("Expires", str(expires)))
        headers += extra or []
        return Request("REGISTER", f"sip:{DOMAIN}", headers)


def make(**kw: object) -> Registrar:
    return Registrar(DOMAIN, random=random.Random(3).randbytes, **kw)  # type: ignore[arg-type]


def register(
    registrar: Registrar, request: Request, now: float = 0.0, connection: str = "c1"
) -> tuple[Response, list[BindingAdded | BindingRemoved]]:
    return registrar.register(request, user="alice", connection=connection, now=now, to_tag="t")


def contacts(response: Response) -> list[NameAddr]:
    return [
        response.parse_header("Contact", i) for i in range(len(response.get_headers("Contact")))
    ]


def test_register_lists_bindings_with_remaining_expires() -> None:
    registrar = make()
    alice = Client()
    response, events = register(registrar, alice.request(expires=120), now=10.0)
    assert response.status_code == 200 and response.to_tag == "t"
    [contact] = contacts(response)
    assert str(contact.uri) == "sip:alice@a.invalid;transport=ws"
    assert contact.get_param("expires") == "120"
    assert events == [
        BindingAdded(
            user="alice",
            contact="sip:alice@a.invalid;transport=ws",
            connection="c1",
            expires=120,
            refreshed=False,
        )
    ]
    # a second device; the query (no Contact) lists both with what is left
    phone = Client("b.invalid", "reg-2")
    register(registrar, phone.request([phone.contact + ";expires=300"]), now=20.0)
    response, events = register(registrar, alice.request([]), now=50.0)
    assert events == []
    assert sorted(c.get_param("expires") or "" for c in contacts(response)) == ["270", "80"]
    # most recent binding first for routing
    assert [b.uri.host for b in registrar.lookup("alice", 50.0)] == ["b.invalid", "a.invalid"]


def test_default_and_maximum_expires() -> None:
    registrar = make(default_expires=60, max_expires=100)
    response, _ = register(registrar, Client().request())
    assert contacts(response)[0].get_param("expires") == "60"
    response, _ = register(registrar, Client("z.invalid", "r9").request(expires=5000))
    assert {c.get_param("expires") for c in contacts(response)} == {"60", "100"}


def test_interval_too_brief_changes_nothing() -> None:
    registrar = make(min_expires=30)
    response, events = register(registrar, Client().request(expires=10))
    assert response.status_code == 423
    assert response.parse_header("Min-Expires") == 30
    assert events == [] and registrar.lookup("alice", 0.0) == []


def test_unregister_one_and_all() -> None:
    registrar = make()
    alice, phone = Client(), Client("b.invalid", "reg-2")
    register(registrar, alice.request())
    register(registrar, phone.request())
    response, events = register(registrar, alice.request([alice.contact + ";expires=0"]))
    assert [(e.contact, getattr(e, "reason", None)) for e in events] == [
        ("sip:alice@a.invalid;transport=ws", "unregistered")
    ]
    assert [c.uri.host for c in contacts(response)] == ["b.invalid"]

    bad, _ = register(registrar, alice.request(["*"], expires=60))
    assert bad.status_code == 400  # RFC 3261 10.3 step 6: "*" needs Expires: 0
    mixed, _ = register(registrar, alice.request(["*", alice.contact], expires=0))
    assert mixed.status_code == 400
    response, events = register(registrar, alice.request(["*"], expires=0))
    assert response.status_code == 200 and not response.has_header("Contact")
    assert [type(e) for e in events] == [BindingRemoved]
    assert registrar.lookup("alice", 0.0) == []


def test_out_of_order_cseq_is_refused() -> None:
    registrar = make()
    alice = Client()
    register(registrar, alice.request())
    alice.cseq -= 1  # the same CSeq again: an old REGISTER
    response, _ = register(registrar, alice.request(expires=0))
    assert response.status_code == 500
    assert len(registrar.lookup("alice", 0.0)) == 1


def test_expiry_and_lost_connection() -> None:
    registrar = make()
    register(registrar, Client().request(expires=30), now=0.0)
    register(registrar, Client("b.invalid", "r2").request(expires=60), now=0.0, connection="c2")
    assert registrar.expire(29.0) == []
    [gone] = registrar.expire(30.0)
    assert (gone.contact, gone.reason) == ("sip:alice@a.invalid;transport=ws", "expired")
    [dropped] = registrar.drop_connection("c2")
    assert dropped.reason == "connection closed"
    assert registrar.bindings(31.0) == []
    assert "alice" in registrar.known_users


def test_gruus_for_an_instance_that_supports_them() -> None:
    registrar = make()
    alice = Client()
    contact = f'{alice.contact};+sip.instance="<{URN}>";reg-id=1'
    response, _ = register(registrar, alice.request([contact]))
    [c] = contacts(response)
    assert c.get_param("pub-gruu") == f"sip:alice@{DOMAIN};gr={URN}"
    temp = c.get_param("temp-gruu")
    assert temp is not None and temp.startswith("sip:tgruu.") and temp.endswith(f"@{DOMAIN};gr")
    assert response.get_header("Require") == "outbound"
    binding = registrar.by_instance("alice", URN.upper(), 0.0)
    assert binding is not None and binding.reg_id == "1"
    temp_user = temp[len("sip:") :].split("@")[0]
    assert registrar.by_temp_gruu(temp_user, 0.0) is binding

    # a refresh issues a new temp GRUU; the old one keeps working
    response, _ = register(registrar, alice.request([contact]))
    newer = contacts(response)[0].get_param("temp-gruu")
    assert newer != temp
    assert registrar.by_temp_gruu(temp_user, 0.0) is binding
    # without Supported: gruu, none are given
    response, _ = register(registrar, alice.request([contact], supported="path"))
    assert contacts(response)[0].get_param("pub-gruu") is None
    assert not response.has_header("Require")
    # gone with the binding
    registrar.drop_connection("c1")
    assert registrar.by_temp_gruu(temp_user, 0.0) is None


def test_same_instance_from_a_new_contact_replaces_the_binding() -> None:
    registrar = make()
    old = Client("old.invalid", "r1")
    new = Client("new.invalid", "r2")
    params = f';+sip.instance="<{URN}>";reg-id=1'
    register(registrar, old.request([old.contact + params]), connection="c1")
    _, events = register(registrar, new.request([new.contact + params]), connection="c2")
    assert [(type(e), e.connection) for e in events] == [(BindingAdded, "c2")]
    assert isinstance(events[0], BindingAdded) and events[0].refreshed
    [binding] = registrar.lookup("alice", 0.0)
    assert binding.uri.host == "new.invalid" and binding.connection == "c2"
    assert registrar.drop_connection("c1") == []


def test_unknown_required_extension_and_bad_contact() -> None:
    registrar = make()
    alice = Client()
    response, _ = register(registrar, alice.request(extra=[("Require", "foo, gruu")]))
    assert response.status_code == 420 and response.get_header("Unsupported") == "foo"
    response, _ = register(registrar, alice.request(["<sip:bad@>"]))
    assert response.status_code == 400


def test_intervals_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        Registrar(DOMAIN, min_expires=100, default_expires=50)
