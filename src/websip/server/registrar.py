"""The location service of the embedded server: REGISTER (RFC 3261 10.3), GRUU
(RFC 5627) and the flow-aware parts of outbound (RFC 5626) that matter here.

Sans-I/O: :meth:`Registrar.register` turns a REGISTER into a response and a
list of :class:`BindingEvent`; expiry happens in :meth:`Registrar.expire` (the
shell calls it about once a second) and is also applied by every lookup, so a
binding never outlives its ``expires`` by more than the shell's tick.

Decisions (where the RFCs leave a choice):

* **One domain.** Addresses of record are keyed by user name only (Kamailio's
  ``use_domain=0``): ``sip:alice@127.0.0.1`` and ``sip:alice@websip.test`` are
  the same AoR. A development server has one domain; this spares users from
  matching the domain of their SIP URI to the server's name.
* **Which binding is "the same".** Two contacts are one binding when their URIs
  are equal (RFC 3261 19.1.4) or, when both carry ``+sip.instance``, when the
  instance (and ``reg-id``, if any) agree (RFC 5626 6): a UA that reconnects
  with a new random contact host replaces its old binding instead of leaving a
  dead one behind.
* **Intervals.** ``default_expires`` when the REGISTER names none,
  ``max_expires`` caps a longer one, and below ``min_expires`` the answer is
  423 with Min-Expires (RFC 3261 10.3 step 7). The minimum defaults to 10 s,
  far below the 60 s a public registrar would ask for, because tests register
  for a few seconds on purpose.
* **GRUU.** When the REGISTER says ``Supported: gruu`` and a contact has
  ``+sip.instance``, its 200 carries ``pub-gruu`` (``sip:user@domain;gr=URN``)
  and a new ``temp-gruu`` (``sip:tgruu.RANDOM@domain;gr``) on each refresh;
  every temp GRUU issued to a binding stays valid while the binding lives
  (RFC 5627 3.2).
* **Outbound.** A contact with ``reg-id`` and ``+sip.instance`` in a REGISTER
  that supports ``outbound`` gets ``Require: outbound`` in the 200 (RFC 5626
  6); every 200 says ``Supported: outbound, gruu``. Flows are what the server
  has anyway: each binding remembers the connection it came over.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from websip.exceptions import ParseError
from websip.sip import URI, NameAddr, Request, Response

__all__ = [
    "Binding",
    "BindingAdded",
    "BindingEvent",
    "BindingRemoved",
    "Registrar",
]

DEFAULT_EXPIRES = 600
MIN_EXPIRES = 10
MAX_EXPIRES = 3600
# temp GRUUs remembered per binding (oldest dropped first)
MAX_TEMP_GRUUS = 16
TEMP_GRUU_PREFIX = "tgruu."


@dataclass(eq=False)
class Binding:
    """One contact of an address of record."""

    user: str
    contact: NameAddr
    """The Contact as registered, without ``expires``."""
    connection: str
    """The connection (flow) it was registered over: requests for it go there."""
    expires_at: float
    call_id: str
    cseq: int
    registered_at: float
    instance: str | None = None
    """The ``+sip.instance`` URN without angle brackets."""
    reg_id: str | None = None
    temp_gruus: list[str] = field(default_factory=list)
    """User parts of the temp GRUUs issued for this binding, oldest first."""

    @property
    def uri(self) -> URI:
        return self.contact.uri

    def remaining(self, now: float) -> int:
        return max(0, math.ceil(self.expires_at - now - 1e-6))

    def matches(self, other: NameAddr) -> bool:
        instance = _instance_of(other)
        if self.instance is not None and instance is not None:
            reg_id = other.get_param("reg-id")
            return self.instance == instance and self.reg_id == reg_id
        return self.contact.uri == other.uri


@dataclass(frozen=True, slots=True)
class BindingEvent:
    user: str
    contact: str
    connection: str


@dataclass(frozen=True, slots=True)
class BindingAdded(BindingEvent):
    """A binding was created or refreshed (``refreshed``)."""

    expires: int
    refreshed: bool


@dataclass(frozen=True, slots=True)
class BindingRemoved(BindingEvent):
    """A binding is gone: ``reason`` is "unregistered", "expired" or "connection closed"."""

    reason: str


class RegisterError(Exception):
    """A REGISTER that must be refused: the status and headers to answer with."""

    def __init__(
        self, status: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None
    ):
        super().__init__(f"{status} {reason or ''}")
        self.status = status
        self.reason = reason
        self.headers = headers or []


class Registrar:
    """In-memory bindings of every address of record.

    Args:
        domain: the domain of the GRUUs it issues.
        min_expires, default_expires, max_expires: see the module docstring.
        gruu: issue GRUUs (RFC 5627) when asked.
        random: ``random(n) -> n bytes`` for temp GRUUs.
    """

    def __init__(
        self,
        domain: str,
        *,
        min_expires: int = MIN_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        gruu: bool = True,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not 0 < min_expires <= default_expires <= max_expires:
            raise ValueError("need 0 < min_expires <= default_expires <= max_expires")
        self.domain = domain
        self.min_expires = min_expires
        self.default_expires = default_expires
        self.max_expires = max_expires
        self.gruu = gruu
        self._random = random
        self._bindings: dict[str, list[Binding]] = {}
        self._temp_gruus: dict[str, Binding] = {}
        self.known_users: set[str] = set()
        """Users that registered at least once since the server started."""

    # -- queries ------------------------------------------------------------------

    def lookup(self, user: str, now: float) -> list[Binding]:
        """Live bindings of ``user``: highest q first, then the most recent first."""
        self.expire(now)
        bindings = list(self._bindings.get(user, ()))
        bindings.sort(key=lambda b: (-(b.contact.q or 1.0), -b.registered_at))
        return bindings

    def by_instance(self, user: str, instance: str, now: float) -> Binding | None:
        """The binding a public GRUU names (RFC 5627 5.1)."""
        for binding in self.lookup(user, now):
            if binding.instance is not None and binding.instance.lower() == instance.lower():
                return binding
        return None

    def by_temp_gruu(self, user_part: str, now: float) -> Binding | None:
        self.expire(now)
        return self._temp_gruus.get(user_part)

    def bindings(self, now: float) -> list[Binding]:
        self.expire(now)
        return [b for bs in self._bindings.values() for b in bs]

    def pub_gruu(self, binding: Binding) -> str | None:
        if binding.instance is None:
            return None
        return f"sip:{binding.user}@{self.domain};gr={binding.instance}"

    # -- changes ------------------------------------------------------------------

    def expire(self, now: float) -> list[BindingRemoved]:
        """Remove the bindings whose time is up."""
        gone = [b for bs in self._bindings.values() for b in bs if b.expires_at <= now]
        return [self._remove(b, "expired") for b in gone]

    def drop_connection(self, connection: str) -> list[BindingRemoved]:
        """The connection closed: its bindings go (Kamailio's handle_lost_tcp)."""
        gone = [b for bs in self._bindings.values() for b in bs if b.connection == connection]
        return [self._remove(b, "connection closed") for b in gone]

    def _remove(self, binding: Binding, reason: str) -> BindingRemoved:
        bindings = self._bindings.get(binding.user, [])
        if binding in bindings:
            bindings.remove(binding)
        if not bindings:
            self._bindings.pop(binding.user, None)
        for name in binding.temp_gruus:
            self._temp_gruus.pop(name, None)
        return BindingRemoved(
            user=binding.user,
            contact=str(binding.contact.uri),
            connection=binding.connection,
            reason=reason,
        )

    def register(
        self,
        request: Request,
        *,
        user: str,
        connection: str,
        now: float,
        to_tag: str,
    ) -> tuple[Response, list[BindingAdded | BindingRemoved]]:
        """Process a REGISTER for ``user`` (already authorized) from ``connection``.

        Returns the response and what changed. Nothing changes unless the
        answer is a 2xx (RFC 3261 10.3: "If it is rejected, all state changes
        MUST NOT be performed").
        """
        try:
            events = self._apply(request, user, connection, now)
        except RegisterError as exc:
            response = Response.for_request(
                request, exc.status, exc.reason, to_tag=to_tag, headers=exc.headers
            )
            return response, []
        self.known_users.add(user)
        return self._ok(request, user, now, to_tag), events

    def _apply(
        self, request: Request, user: str, connection: str, now: float
    ) -> list[BindingAdded | BindingRemoved]:
        # RFC 3261 10.3 step 2: extensions we do not know in Require -> 420.
        try:
            required = {t.lower() for t in request.get_token_list("Require")}
        except ParseError:
            raise RegisterError(400, "Bad Require") from None
        unknown = sorted(required - {"gruu", "outbound", "path"})
        if unknown:
            raise RegisterError(420, "Bad Extension", [("Unsupported", ", ".join(unknown))])
        try:
            header_expires = request.parse_header("Expires")
        except ParseError:
            raise RegisterError(400, "Bad Expires") from None
        contacts: list[NameAddr] = []
        star = False
        for index in range(len(request.get_headers("Contact"))):
            try:
                value = request.parse_header("Contact", index)
            except ParseError:
                raise RegisterError(400, "Bad Contact") from None
            if isinstance(value, NameAddr):
                contacts.append(value)
            else:
                star = True
        call_id = request.call_id
        cseq = request.cseq.seq
        if star:
            # RFC 3261 10.3 step 6: "*" only alone and only with Expires: 0.
            if contacts or header_expires != 0:
                raise RegisterError(400, "Invalid Contact *")
            everything = list(self._bindings.get(user, ()))
            for binding in everything:
                self._check_order(binding, call_id, cseq)
            return [self._remove(b, "unregistered") for b in everything]
        # First every check, then every change.
        wanted: list[tuple[NameAddr, int]] = []
        for contact in contacts:
            expires = contact.expires
            if expires is None:
                expires = header_expires if isinstance(header_expires, int) else None
            if expires is None:
                expires = self.default_expires
            if 0 < expires < self.min_expires:
                # RFC 3261 10.3 step 7: 423 Interval Too Brief with Min-Expires.
                raise RegisterError(
                    423, "Interval Too Brief", [("Min-Expires", str(self.min_expires))]
                )
            wanted.append((contact, min(expires, self.max_expires)))
            for binding in self._bindings.get(user, ()):
                if binding.matches(contact):
                    self._check_order(binding, call_id, cseq)
        events: list[BindingAdded | BindingRemoved] = []
        supports_gruu = self._supports(request, "gruu")
        for contact, expires in wanted:
            existing = next((b for b in self._bindings.get(user, ()) if b.matches(contact)), None)
            if expires == 0:
                if existing is not None:
                    events.append(self._remove(existing, "unregistered"))
                continue
            stored = contact.copy()
            stored.delete_param("expires")
            if existing is None:
                binding = Binding(
                    user=user,
                    contact=stored,
                    connection=connection,
                    expires_at=now + expires,
                    call_id=call_id,
                    cseq=cseq,
                    registered_at=now,
                    instance=_instance_of(contact),
                    reg_id=contact.get_param("reg-id"),
                )
                self._bindings.setdefault(user, []).append(binding)
            else:
                binding = existing
                binding.contact = stored
                binding.connection = connection
                binding.expires_at = now + expires
                binding.call_id = call_id
                binding.cseq = cseq
                binding.registered_at = now
            if self.gruu and supports_gruu and binding.instance is not None:
                self._issue_temp_gruu(binding)
            events.append(
                BindingAdded(
                    user=user,
                    contact=str(stored.uri),
                    connection=connection,
                    expires=expires,
                    refreshed=existing is not None,
                )
            )
        return events

    @staticmethod
    def _check_order(binding: Binding, call_id: str, cseq: int) -> None:
        # RFC 3261 10.3 step 7: the same Call-ID with a CSeq not above the stored
        # one is an old or replayed REGISTER: "the update MUST be aborted".
        if binding.call_id == call_id and cseq <= binding.cseq:
            raise RegisterError(500, "Out of Order CSeq")

    def _issue_temp_gruu(self, binding: Binding) -> None:
        name = TEMP_GRUU_PREFIX + self._random(10).hex()
        binding.temp_gruus.append(name)
        self._temp_gruus[name] = binding
        while len(binding.temp_gruus) > MAX_TEMP_GRUUS:
            self._temp_gruus.pop(binding.temp_gruus.pop(0), None)

    @staticmethod
    def _supports(request: Request, tag: str) -> bool:
        try:
            return tag in {t.lower() for t in request.get_token_list("Supported")}
        except ParseError:
            return False

    def _ok(self, request: Request, user: str, now: float, to_tag: str) -> Response:
        # RFC 3261 10.3 step 8: the 200 lists every current binding of the AoR.
        gruu = self.gruu and self._supports(request, "gruu")
        headers: list[tuple[str, str]] = []
        outbound = False
        for binding in self.lookup(user, now):
            contact = binding.contact.copy()
            contact.set_param("expires", binding.remaining(now))
            if gruu and binding.instance is not None:
                contact.set_param("pub-gruu", self.pub_gruu(binding))
                if binding.temp_gruus:
                    contact.set_param("temp-gruu", f"sip:{binding.temp_gruus[-1]}@{self.domain};gr")
            headers.append(("Contact", str(contact)))
            if (
                binding.call_id == request.call_id
                and binding.reg_id is not None
                and binding.instance is not None
            ):
                outbound = True
        if outbound and self._supports(request, "outbound"):
            headers.append(("Require", "outbound"))  # RFC 5626 6
        headers.append(("Supported", "outbound, gruu"))
        return Response.for_request(request, 200, to_tag=to_tag, headers=headers)


def _instance_of(contact: NameAddr) -> str | None:
    value = contact.get_param("+sip.instance")
    if not value:
        return None
    return value.strip().strip("<>").strip() or None
