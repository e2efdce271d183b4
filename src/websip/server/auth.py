"""Digest authentication on the server side (RFC 3261 22, RFC 7616, RFC 8760).

The embedded server challenges and verifies; the arithmetic is
:func:`websip.auth.compute_response`, the same code the client uses, so a
mistake there shows in both directions instead of hiding.

Nonces carry their own birth time and a random salt and are signed with a
per-server secret (``HMAC(secret, issued_ms || salt)``), so the server needs
no table to know whether a nonce is its own and how old it is; it keeps only
the highest nonce-count seen per live nonce, to refuse a replayed
``(nonce, nc)``. A nonce older than ``nonce_ttl`` is answered with a new
challenge marked ``stale=true`` (RFC 7616 3.3), which a client answers
without asking the user again.

Decisions:

* qop is always ``auth`` (RFC 7616 3.3 lets the server choose; ``auth-int``
  would break when something rewrites the SDP, see :mod:`websip.auth`).
* Several algorithms are offered as several challenges, the preferred first
  (RFC 8760 2.4): SHA-256 then MD5 by default, so websip answers SHA-256 while
  JsSIP and most hardphones, which know only MD5, still get in.
* A failed verification earns a fresh challenge (as Kamailio answers), not a
  403: the client's digest layer treats a second challenge of the same realm as
  a rejection and fails with ``AUTHENTICATION_ERROR`` after one round.

Sans-I/O: time comes in as ``now``; randomness from the injected source.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from websip.auth import DigestAlgorithm, compute_response
from websip.exceptions import ParseError
from websip.sip import URI, Challenge, Credentials, Request

__all__ = ["AuthOutcome", "AuthResult", "DigestVerifier"]

# How long a nonce may be used (seconds); Kamailio's nonce_expire is 300 too.
DEFAULT_NONCE_TTL = 300.0
_MAC_BYTES = 12
_SALT_BYTES = 6


class AuthOutcome(enum.Enum):
    """What became of the credentials of a request."""

    OK = "ok"
    MISSING = "missing"  # no credentials for our realm: challenge
    STALE = "stale"  # right password, expired nonce: challenge with stale=true
    FAILED = "failed"  # wrong password, unknown user, forged or replayed nonce


@dataclass(frozen=True, slots=True)
class AuthResult:
    outcome: AuthOutcome
    username: str | None = None
    """The user the credentials name (also for FAILED, for the log)."""

    @property
    def ok(self) -> bool:
        return self.outcome is AuthOutcome.OK


class DigestVerifier:
    """Challenges and checks Digest credentials against a table of passwords.

    Args:
        users: user name -> password (kept in memory only, never logged).
        realm: the protection realm (the server's domain).
        algorithms: offered algorithms, preferred first (names of
            :class:`websip.auth.DigestAlgorithm`, no ``-sess`` variants).
        nonce_ttl: seconds a nonce stays valid.
        random: ``random(n) -> n bytes`` for the signing secret.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        realm: str,
        *,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        nonce_ttl: float = DEFAULT_NONCE_TTL,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        chosen: list[DigestAlgorithm] = []
        for name in algorithms:
            algorithm = DigestAlgorithm.from_token(name)
            if algorithm is None or algorithm.session:
                raise ValueError(f"unsupported digest algorithm {name!r}")
            chosen.append(algorithm)
        if not chosen:
            raise ValueError("at least one digest algorithm is needed")
        self.users = dict(users)
        self.realm = realm
        self.algorithms = tuple(chosen)
        self.nonce_ttl = nonce_ttl
        self._secret = random(32)
        self._random = random
        # nonce -> (issued at, highest nc seen): replay protection (RFC 7616 3.3).
        self._counts: dict[str, tuple[float, int]] = {}

    # -- challenges ---------------------------------------------------------------

    def new_nonce(self, now: float) -> str:
        # issue time + random salt (two challenges in one millisecond must not
        # share a nonce, or their clients would share one nonce-count) + MAC.
        issued = struct.pack(">Q", max(0, int(now * 1000))) + self._random(_SALT_BYTES)
        mac = hmac.new(self._secret, issued, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(issued + mac).decode("ascii").rstrip("=")

    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """One challenge per offered algorithm, preferred first (RFC 8760 2.4)."""
        nonce = self.new_nonce(now)
        out = []
        for algorithm in self.algorithms:
            params = {"realm": self.realm, "nonce": nonce, "qop": "auth"}
            params["algorithm"] = algorithm.value
            if stale:
                params["stale"] = "true"
            out.append(Challenge("Digest", params))
        return out

    def _nonce_issued(self, nonce: str) -> float | None:
        """The issue time of one of our nonces, None for a forged one."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != 8 + _SALT_BYTES + _MAC_BYTES:
            return None
        issued, mac = raw[: 8 + _SALT_BYTES], raw[8 + _SALT_BYTES :]
        expected = hmac.new(self._secret, issued, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            return None
        return float(struct.unpack(">Q", issued[:8])[0]) / 1000.0

    # -- verification -------------------------------------------------------------

    def verify(self, request: Request, now: float, *, proxy: bool = False) -> AuthResult:
        """Check the Authorization (or, with ``proxy``, Proxy-Authorization) of ``request``.

        Only credentials for our realm are looked at (RFC 3261 22.3: others
        belong to other proxies).
        """
        name = "Proxy-Authorization" if proxy else "Authorization"
        found: Credentials | None = None
        for index in range(len(request.get_headers(name))):
            try:
                credentials = request.parse_header(name, index)
            except ParseError:
                continue
            if not isinstance(credentials, Credentials):
                continue
            if (
                credentials.scheme.lower() == "digest"
                and credentials.params.get("realm") == self.realm
            ):
                found = credentials
                break
        if found is None:
            return AuthResult(AuthOutcome.MISSING)
        return self._check(found, request, now)

    def _check(self, credentials: Credentials, request: Request, now: float) -> AuthResult:
        params = credentials.params
        username = params.get("username")
        failed = AuthResult(AuthOutcome.FAILED, username)
        nonce = params.get("nonce")
        response = params.get("response")
        uri = params.get("uri")
        if not username or not nonce or not response or uri is None:
            return failed
        password = self.users.get(username)
        algorithm = DigestAlgorithm.from_token(params.get("algorithm", "MD5"))
        if password is None or algorithm not in self.algorithms:
            return failed
        if not _same_uri(uri, request):
            return failed  # RFC 7616 3.4.6: the digest-uri must be the Request-URI
        qop = params.get("qop")
        cnonce = params.get("cnonce")
        nc_text = params.get("nc")
        if qop != "auth" or not cnonce or nc_text is None:
            return failed  # we asked for qop=auth (RFC 7616 3.4: then these are required)
        try:
            nc = int(nc_text, 16)
            expected = compute_response(
                algorithm,
                username=username,
                realm=self.realm,
                nonce=nonce,
                method=request.method,
                uri=uri,
                password=password,
                qop=qop,
                nc=nc,
                cnonce=cnonce,
            )
        except ValueError:
            return failed
        if not hmac.compare_digest(expected, response.lower()):
            return failed
        issued = self._nonce_issued(nonce)
        if issued is None:
            return failed
        if now - issued > self.nonce_ttl:
            self._counts.pop(nonce, None)
            return AuthResult(AuthOutcome.STALE, username)
        _, last = self._counts.get(nonce, (issued, 0))
        if nc <= last:
            return failed  # a replay: this (nonce, nc) was used already
        self._counts[nonce] = (issued, nc)
        return AuthResult(AuthOutcome.OK, username)

    def purge(self, now: float) -> None:
        """Forget the counts of expired nonces (call now and then)."""
        for nonce, (issued, _) in list(self._counts.items()):
            if now - issued > self.nonce_ttl:
                del self._counts[nonce]


def _same_uri(digest_uri: str, request: Request) -> bool:
    if digest_uri == request.ruri_text:
        return True
    try:
        return URI.parse(digest_uri) == request.ruri
    except (ParseError, ValueError):
        return False
