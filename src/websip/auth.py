"""Digest access authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

Theory of operation
-------------------
Three layers, each usable on its own:

1. :func:`compute_response` is the arithmetic: the ``response`` value of
   RFC 7616 §3.4.1 for any of the six algorithms (MD5, SHA-256, SHA-512-256
   and their ``-sess`` variants), with ``qop=auth``, ``qop=auth-int`` (the hash
   of the real body) or no qop at all (RFC 2069 compatibility). Pure.

2. :class:`DigestClient` is one per UA. It holds the :class:`DigestCredentials`
   and, per protection space ``(header kind, realm)``, what was learnt from the
   last challenge: nonce, cnonce, nonce-count, algorithm, qop, opaque. That is
   what lets a later request go out already authorized (re-REGISTER refreshes,
   in-dialog requests after a 407 on the INVITE) with the nonce-count
   incremented instead of costing a round trip.

3. :class:`DigestFlow` is the authentication of *one* request across its
   resends. ``client.start(request)`` makes one; ``flow.request`` is what to
   send; each final response goes to ``flow.receive_response(response)``, which
   answers ``None`` (done: deliver the response), a new request to send (the
   challenge was answered), or raises :class:`websip.RequestError` with cause
   :data:`websip.causes.AUTHENTICATION_ERROR`. :meth:`DigestClient.auth_flow`
   wraps the same object as a generator in the manner of httpx's
   ``Auth.auth_flow``: it yields requests and is sent responses.

The module never touches a clock, a socket or the event loop; the only source
of randomness (the cnonce) is a callable given to :class:`DigestClient`.

What the caller still owns
--------------------------
A resent request is a new transaction: the caller gives every request it gets
from a flow the next CSeq (RFC 3261 §22.2: "it MUST increment the CSeq") and a
new Via branch, exactly as for any other resend. Nothing else may change: the
Request-URI, the method and (for ``auth-int``) the body are inside the digest.
ACK and CANCEL are never challenged (§22.1); the ACK of an INVITE copies the
Authorization and Proxy-Authorization values of ``flow.request``.

Decisions (each one is a place where the RFCs leave a choice)
-------------------------------------------------------------
* **Which challenge.** A response can carry several challenges for one realm,
  one per algorithm (RFC 8760 §2.3). §2.4 says the UAC SHOULD take the topmost
  one it supports "unless a local policy dictates otherwise". websip's policy
  is: the *strongest* it can answer (SHA-512-256 > SHA-256 > MD5; a ``-sess``
  variant ranks with its hash), ties going to the topmost. Challenges are not
  integrity protected, so honouring their order would let an on-path attacker
  downgrade us to MD5 just by moving a header (the risk RFC 8760 §3 names).
  One credential is sent per realm; a ``-sess`` challenge without qop is not
  answerable (the session key needs a cnonce, which RFC 2617 §3.2.2 forbids
  sending without qop), nor is an unknown algorithm or a qop list that offers
  neither ``auth`` nor ``auth-int``.
* **Which qop.** ``auth`` when offered, ``auth-int`` only when it is the only
  one (``prefer_auth_int=True`` reverses this; JsSIP prefers ``auth-int``).
  In a WebRTC deployment the SDP is routinely rewritten on its way (rtpengine
  or an SBC between the browser-side proxy and the PBX), and a server that
  checks ``auth-int`` over the rewritten body rejects a correct password; the
  WebSocket hop is already protected by TLS, so ``auth-int`` buys little.
* **Which header.** Challenges are read from both WWW-Authenticate and
  Proxy-Authenticate in a 401 *or* a 407, because a forking proxy merges the
  challenges of every branch into the one response it forwards (§22.3); each
  is answered in its own header (Authorization / Proxy-Authorization).
* **No loops.** A realm that is challenged again after this request answered
  it means the credentials were rejected: the flow fails (§22.1: "A UAC MUST
  NOT re-attempt requests with the credentials that have just been
  rejected"), and the cached state of that realm is dropped. The exception is
  ``stale=true`` with a nonce we did not just use, which is retried, at most
  :data:`MAX_STALE_RETRIES` times. Credentials sent *pre-emptively* (from the
  cache) are a guess, not an answer: a challenge after them is answered once
  more. :data:`MAX_ROUNDS` and :data:`MAX_REALMS_PER_REQUEST` bound anything
  else a hostile server could try.
* **Reuse.** As RFC 3261 recommends: credentials of a WWW-Authenticate realm
  are reused for later requests with the same To URI (§22.2), those of a
  Proxy-Authenticate realm for later requests with the same Call-ID (§22.3).
  Realms listed in ``shared_realms`` (the UA's own outbound proxy or
  registrar, §22.3's "configured with the realm of its local outbound proxy")
  are reused for every request. Anything wider would hand a digest of the
  password to parties that never asked for one (a callee sees the
  Authorization header of the INVITE it receives).
* **ha1.** As in JsSIP: ``ha1`` is MD5(username:realm:password), valid only for
  the configured ``realm``; 64 hex digits are taken as SHA-256's H(A1), and a
  mapping gives one H(A1) per hash (``{"MD5": ..., "SHA-512-256": ...}``).
  H(A1) is a password equivalent and is treated exactly like the password.
* **Secrets.** The password and H(A1) never appear in a ``repr``, ``str``,
  exception message or log line of this module.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import logging
import math
import secrets
import struct
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field

from websip import causes
from websip.exceptions import ConfigurationError, ParseError, RequestError
from websip.sip.headers import Challenge, Credentials
from websip.sip.message import Request, Response

__all__ = [
    "CNONCE_BYTES",
    "MAX_CACHED_REALMS",
    "MAX_REALMS_PER_REQUEST",
    "MAX_ROUNDS",
    "MAX_SCOPES_PER_REALM",
    "MAX_STALE_RETRIES",
    "DigestAlgorithm",
    "DigestClient",
    "DigestCredentials",
    "DigestFlow",
    "compute_response",
]

_log = logging.getLogger(__name__)

# -- limits ---------------------------------------------------------------------

# Resends of one request because of challenges. A REGISTER needs one, an INVITE
# through two authenticating proxies two, a stale nonce one more; five is ample
# and still stops a server that invents a new realm on every answer.
MAX_ROUNDS = 5
# Retries of one realm after ``stale=true``. One is what RFC 7616 §3.3 has in
# mind; a second tolerates a server with a very short nonce lifetime under load.
MAX_STALE_RETRIES = 2
# Distinct protection spaces answered in one request. Forking can aggregate the
# challenges of several proxies (§22.3), but eight is beyond any real topology;
# the bound keeps a hostile 407 from making us send hundreds of headers.
MAX_REALMS_PER_REQUEST = 8
# Protection spaces a client remembers (least recently learnt dropped first).
MAX_CACHED_REALMS = 32
# Destinations (To URIs, Call-IDs) per protection space that get pre-emptive
# credentials. Covers every live dialog of a busy UA; an evicted one costs only
# one more challenge.
MAX_SCOPES_PER_REALM = 256
# Random bytes in a cnonce: 192 bits, 32 characters of base64.
CNONCE_BYTES = 24

# Shared by every client without shared realms (an empty frozenset is not a singleton).
_NO_REALMS: frozenset[str] = frozenset()

_MAX_NC = 0xFFFFFFFF  # nc-value = 8LHEX (RFC 7616 §3.4)


# -- hashing ----------------------------------------------------------------------
#
# SHA-512/256 is the FIPS 180-4 §6.7 function: SHA-512 with its own initial hash
# value (§5.3.6), cut to 256 bits. It is *not* SHA-512 truncated, whose first
# 256 bits differ. OpenSSL provides it as "sha512_256"; where it does not (or
# gives a wrong answer), a pure-Python version is used, whose constants are
# derived from their definition instead of typed in.

_MASK64 = (1 << 64) - 1
# FIPS 180-4 example: SHA-512/256("abc").
_SHA512_256_ABC = "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"


def _first_primes(count: int) -> list[int]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


def _icbrt(n: int) -> int:
    """The integer cube root of ``n`` >= 1 (floor), by Newton's method from above."""
    x = 1 << -(-n.bit_length() // 3)  # 2**ceil(bits/3) > cbrt(n)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            return x
        x = y


@functools.cache
def _sha512_constants() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """SHA-512's round constants and initial hash value (FIPS 180-4 §4.2.3, §5.3.5).

    K: the first 64 bits of the fractional parts of the cube roots of the first
    80 primes; H(0): the same with the square roots of the first 8 primes.
    """
    primes = _first_primes(80)
    k = tuple(_icbrt(p << 192) & _MASK64 for p in primes)
    h = tuple(math.isqrt(p << 128) & _MASK64 for p in primes[:8])
    return k, h


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (64 - n))) & _MASK64


def _sha512_words(data: bytes, iv: tuple[int, ...]) -> tuple[int, ...]:
    """The SHA-512 computation (FIPS 180-4 §6.4) of ``data`` from ``iv``: 8 words."""
    k, _ = _sha512_constants()
    # §5.1.2 padding: a 1 bit, zeros, and the length in bits as 128 bits.
    padded = data + b"\x80" + b"\x00" * ((111 - len(data)) % 128)
    padded += (len(data) * 8).to_bytes(16, "big")
    h = list(iv)
    for offset in range(0, len(padded), 128):
        w = list(struct.unpack(">16Q", padded[offset : offset + 128]))
        for t in range(16, 80):
            s0 = _rotr(w[t - 15], 1) ^ _rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)
            s1 = _rotr(w[t - 2], 19) ^ _rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & _MASK64)
        a, b, c, d, e, f, g, hh = h
        for t in range(80):
            big_s1 = _rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)
            choose = (e & f) ^ (~e & g)
            t1 = (hh + big_s1 + choose + k[t] + w[t]) & _MASK64
            big_s0 = _rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)
            majority = (a & b) ^ (a & c) ^ (b & c)
            t2 = (big_s0 + majority) & _MASK64
            a, b, c, d, e, f, g, hh = (t1 + t2) & _MASK64, a, b, c, (d + t1) & _MASK64, e, f, g
        h = [(x + y) & _MASK64 for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True)]
    return tuple(h)


@functools.cache
def _sha512_256_iv() -> tuple[int, ...]:
    # FIPS 180-4 §5.3.6: SHA-512 of the name "SHA-512/256", computed from
    # SHA-512's initial hash value with every word XORed with a5a5...a5.
    _, h0 = _sha512_constants()
    return _sha512_words(b"SHA-512/256", tuple(x ^ 0xA5A5A5A5A5A5A5A5 for x in h0))


def _pure_sha512_256(data: bytes) -> bytes:
    """SHA-512/256 in Python, for an OpenSSL without it (slow, but digests are short)."""
    return struct.pack(">4Q", *_sha512_words(data, _sha512_256_iv())[:4])


def _openssl_sha512_256(data: bytes) -> bytes:
    return hashlib.new("sha512_256", data).digest()


def _sha512_256_implementation() -> Callable[[bytes], bytes]:
    """OpenSSL's SHA-512/256 when it exists and is the right function, else ours."""
    try:
        probe = hashlib.new("sha512_256", b"abc").hexdigest()
    except ValueError:  # this OpenSSL does not have it
        return _pure_sha512_256
    if probe != _SHA512_256_ABC:  # a build that truncates SHA-512 is not SHA-512/256
        return _pure_sha512_256
    return _openssl_sha512_256


_sha512_256 = _sha512_256_implementation()


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _utf8(text: str) -> bytes:
    # SIP text is UTF-8 (RFC 3261 §7.3.1, RFC 7616 §4 charset=UTF-8);
    # surrogateescape gives back the octets of a header that was not valid UTF-8.
    return text.encode("utf-8", "surrogateescape")


def _is_encodable(text: str) -> bool:
    """True when ``text`` has UTF-8 octets to hash."""
    try:
        _utf8(text)
    except UnicodeEncodeError:
        return False
    return True


def _is_clean(text: str) -> bool:
    """True when ``text`` can be hashed and written into a header."""
    return "\r" not in text and "\n" not in text and "\x00" not in text and _is_encodable(text)


class DigestAlgorithm(enum.Enum):
    """The digest algorithms websip answers (RFC 7616 §6.1 registry, RFC 8760 §2.1).

    The value is the canonical spelling of the ``algorithm`` parameter.
    """

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"
    SHA_512_256 = "SHA-512-256"
    SHA_512_256_SESS = "SHA-512-256-sess"

    # Members are singletons: identity hashing is Enum's equality, and cheaper
    # than Enum.__hash__ (a Python call) on every lookup of the hot path.
    __hash__ = object.__hash__

    @classmethod
    def from_token(cls, token: str) -> DigestAlgorithm | None:
        """The algorithm named by a challenge's ``algorithm`` (any case), or None."""
        return _ALGORITHMS_BY_TOKEN.get(token.strip().upper())

    @property
    def session(self) -> bool:
        """True for the ``-sess`` variants (H(A1) also covers nonce and cnonce)."""
        return self.value.endswith("-sess")

    @property
    def base(self) -> DigestAlgorithm:
        """The variant without ``-sess`` (the one an ``ha1`` is stored for)."""
        return _BASES[self]

    @property
    def strength(self) -> int:
        """Rank used to choose among challenges: higher is stronger."""
        return _STRENGTH[self.base]

    def hash(self, data: str | bytes) -> str:
        """H(data) of RFC 7616 §3.4: the lower-case hex digest (text as UTF-8)."""
        raw = _utf8(data) if isinstance(data, str) else data
        return _HASHERS[self](raw).hex()


_ALGORITHMS_BY_TOKEN = {a.value.upper(): a for a in DigestAlgorithm}
_BASES = {a: DigestAlgorithm(a.value.removesuffix("-sess")) for a in DigestAlgorithm}
_STRENGTH = {DigestAlgorithm.MD5: 0, DigestAlgorithm.SHA_256: 1, DigestAlgorithm.SHA_512_256: 2}
_HASH_FUNCTIONS: dict[DigestAlgorithm, Callable[[bytes], bytes]] = {
    DigestAlgorithm.MD5: _md5,
    DigestAlgorithm.SHA_256: _sha256,
    DigestAlgorithm.SHA_512_256: lambda data: _sha512_256(data),
}
# Every algorithm -> the hash function of its base (what hash() uses).
_HASHERS = {a: _HASH_FUNCTIONS[_BASES[a]] for a in DigestAlgorithm}
_HEX_LENGTH = {
    DigestAlgorithm.MD5: 32,
    DigestAlgorithm.SHA_256: 64,
    DigestAlgorithm.SHA_512_256: 64,
}
_QOPS = ("auth", "auth-int")


# -- the arithmetic ---------------------------------------------------------------


def _session_key(algorithm: DigestAlgorithm, ha1: str, nonce: str, cnonce: str | None) -> str:
    """H(A1) as used in the response: for ``-sess``, H(H(u:r:p):nonce:cnonce)."""
    if not algorithm.session:
        return ha1
    if cnonce is None:
        raise ValueError(f"{algorithm.value} needs a cnonce")
    return algorithm.hash(f"{ha1}:{nonce}:{cnonce}")


def _response(
    algorithm: DigestAlgorithm,
    session_ha1: str,
    *,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: int,
    cnonce: str | None,
    body: bytes,
) -> str:
    # RFC 7616 §3.4.3: A2 = method:uri, and for auth-int also :H(entity-body);
    # an empty body hashes as the empty string (RFC 3261 §22.4 item 7).
    if qop == "auth-int":
        ha2 = algorithm.hash(f"{method}:{uri}:{algorithm.hash(body)}")
    else:
        ha2 = algorithm.hash(f"{method}:{uri}")
    if qop is None:
        # RFC 2069 compatibility (RFC 2617 §3.2.2.1): no nc, no cnonce.
        return algorithm.hash(f"{session_ha1}:{nonce}:{ha2}")
    return algorithm.hash(f"{session_ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}")


def compute_response(
    algorithm: DigestAlgorithm | str,
    *,
    username: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    password: str | None = None,
    ha1: str | None = None,
    qop: str | None = None,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` parameter of a Digest credential (RFC 7616 §3.4.1).

    Args:
        algorithm: a :class:`DigestAlgorithm` or its name, any case.
        username, realm, nonce, method, uri: as they appear in the request and
            challenge (``uri`` is the Request-URI text, RFC 3261 §22.4).
        password: the password; or else ``ha1``.
        ha1: H(username:realm:password) for the algorithm's hash, in hex (for
            ``-sess`` still the plain one: the session key is derived here).
        qop: ``"auth"``, ``"auth-int"`` or None (RFC 2069 mode: no nc, cnonce).
        nc: the nonce-count, 1 to 0xFFFFFFFF (written as 8 hex digits).
        cnonce: the client nonce; required with a qop and with ``-sess``.
        body: the message body, hashed for ``auth-int``.

    Returns:
        The lower-case hex digest.

    Raises:
        ValueError: an unknown algorithm or qop, neither password nor ha1, a
            missing cnonce or an nc out of range. The message names the
            problem, never a secret.
    """
    if not isinstance(algorithm, DigestAlgorithm):
        found = DigestAlgorithm.from_token(algorithm)
        if found is None:
            raise ValueError(f"unsupported digest algorithm {algorithm!r}")
        algorithm = found
    if qop is not None and qop not in _QOPS:
        raise ValueError(f"unsupported qop {qop!r}")
    if qop is not None and cnonce is None:
        raise ValueError("a qop needs a cnonce")
    if not 1 <= nc <= _MAX_NC:
        raise ValueError(f"nonce-count {nc} out of range")
    if password is not None:
        base = algorithm.hash(f"{username}:{realm}:{password}")
    elif ha1 is not None:
        base = ha1.lower()
    else:
        raise ValueError("a password or an ha1 is needed")
    return _response(
        algorithm,
        _session_key(algorithm, base, nonce, cnonce),
        nonce=nonce,
        method=method,
        uri=uri,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
        body=body,
    )


# -- credentials ------------------------------------------------------------------


def _hidden(parameter: str, reason: str) -> ConfigurationError:
    return ConfigurationError(parameter, "<hidden>", reason)


class DigestCredentials:
    """Who we are: a username and a password or H(A1), optionally tied to a realm.

    Args:
        username: the user name of the credentials: the UA configuration's
            ``authorization_user``, or the user part of ``uri`` when that is
            not set (JsSIP semantics).
        password: the password (may be ``""``, as for "anonymous", §22.1).
        ha1: instead of (or besides) the password: H(username:realm:password)
            in hex. A string of 32 digits is MD5's (JsSIP's ``ha1``), one of 64
            SHA-256's (the configuration accepts both lengths); a mapping from
            algorithm name (``"MD5"``, ``"SHA-256"``, ``"SHA-512-256"``) to
            that hash's H(A1) says which is which. Valid only in ``realm``,
            which is then required.
        realm: the realm the ``ha1`` belongs to (JsSIP's ``realm``).
        strict_realm: answer no other realm than ``realm``, even with a
            password (by default a password answers any realm, as in JsSIP).

    Raises:
        websip.ConfigurationError: a missing or malformed value; it names the
            parameter (``authorization_user``, ``password``, ``ha1``,
            ``realm``) and never shows a secret.

    ``repr()`` and ``str()`` show the username and realm only.
    """

    __slots__ = ("_ha1", "_password", "_realm", "_strict_realm", "_username")

    _username: str
    _realm: str | None
    _strict_realm: bool
    _password: str | None
    _ha1: dict[DigestAlgorithm, str]

    def __init__(
        self,
        username: str,
        password: str | None = None,
        *,
        ha1: str | Mapping[str, str] | None = None,
        realm: str | None = None,
        strict_realm: bool = False,
    ) -> None:
        if not isinstance(username, str) or not username or not _is_clean(username):
            raise ConfigurationError("authorization_user", username, "not a usable user name")
        if realm is not None and (not isinstance(realm, str) or not _is_clean(realm)):
            raise ConfigurationError("realm", realm, "not a usable realm")
        # A password never goes on the wire: any text that has UTF-8 octets will do.
        if password is not None and (not isinstance(password, str) or not _is_encodable(password)):
            raise _hidden("password", "not a usable password")
        hashes: dict[DigestAlgorithm, str] = {}
        if ha1 is not None:
            if isinstance(ha1, Mapping):
                items = list(ha1.items())
            else:
                # 64 digits could be SHA-256 or SHA-512-256: the far more widely
                # deployed SHA-256 is assumed (a mapping says otherwise).
                items = [("SHA-256" if isinstance(ha1, str) and len(ha1) == 64 else "MD5", ha1)]
            for name, value in items:
                algorithm = DigestAlgorithm.from_token(name) if isinstance(name, str) else None
                if algorithm is None or algorithm.session:
                    raise _hidden("ha1", f"unknown hash {name!r} (use MD5, SHA-256, SHA-512-256)")
                if not (
                    isinstance(value, str)
                    and len(value) == _HEX_LENGTH[algorithm]
                    and all(c in "0123456789abcdefABCDEF" for c in value)
                ):
                    raise _hidden("ha1", f"not a {algorithm.value} digest in hex")
                hashes[algorithm] = value.lower()
            if realm is None:
                raise ConfigurationError("realm", None, "an ha1 is only valid with its realm")
        if password is None and not hashes:
            raise _hidden("password", "a password or an ha1 is needed")
        if strict_realm and realm is None:
            raise ConfigurationError("realm", None, "strict_realm needs a realm")
        self._username = username
        self._realm = realm
        self._strict_realm = strict_realm
        self._password = password
        self._ha1 = hashes

    # Read-only: a DigestClient's cached state is only valid for these values.

    @property
    def username(self) -> str:
        """The user name sent in credentials (``authorization_user``)."""
        return self._username

    @property
    def realm(self) -> str | None:
        """The configured realm (where ``ha1`` is valid), or None."""
        return self._realm

    @property
    def strict_realm(self) -> bool:
        """True when no realm but :attr:`realm` is answered."""
        return self._strict_realm

    def can_answer(self, realm: str, algorithm: DigestAlgorithm) -> bool:
        """True when these credentials can answer a challenge of ``realm`` and ``algorithm``."""
        # _ha1_for(realm, algorithm) is not None, without computing the hash.
        if realm == self._realm and algorithm.base in self._ha1:
            return True
        return self._password is not None and not (self._strict_realm and realm != self._realm)

    def _ha1_for(self, realm: str, algorithm: DigestAlgorithm) -> str | None:
        """H(username:realm:password) for the algorithm's hash, or None."""
        if realm == self.realm:
            stored = self._ha1.get(algorithm.base)
            if stored is not None:
                return stored
        if self._password is None or (self.strict_realm and realm != self.realm):
            return None
        return algorithm.base.hash(f"{self.username}:{realm}:{self._password}")

    def __repr__(self) -> str:
        secret = "password=<hidden>" if self._password is not None else "ha1=<hidden>"
        return f"DigestCredentials(username={self.username!r}, realm={self.realm!r}, {secret})"


# -- per-realm state --------------------------------------------------------------


class _Kind(enum.Enum):
    """Who challenged: a UAS/registrar (401) or a proxy (407)."""

    WWW = "WWW-Authenticate"
    PROXY = "Proxy-Authenticate"

    __hash__ = object.__hash__  # singletons (see DigestAlgorithm)

    @property
    def credentials_header(self) -> str:
        return "Authorization" if self is _Kind.WWW else "Proxy-Authorization"


_Key = tuple[_Kind, str]  # a protection space: (kind, realm)
# Iterating an Enum class goes through EnumType.__iter__ (a Python generator).
_KINDS = (_Kind.WWW, _Kind.PROXY)
# (kind, challenge header, credentials header): Enum member attributes are
# descriptor calls, and these are read on every challenge and every request.
_KIND_HEADERS = tuple((kind, kind.value, kind.credentials_header) for kind in _KINDS)
_CREDENTIALS_HEADER = {kind: credentials for kind, _, credentials in _KIND_HEADERS}


@dataclass(slots=True)
class _RealmState:
    """What a challenge taught us about one protection space."""

    kind: _Kind
    realm: str
    algorithm: DigestAlgorithm
    algorithm_token: str  # as the server wrote it, echoed back
    nonce: str
    opaque: str | None
    qop: str | None
    userhash: bool
    cnonce: str
    nc: int  # the last nonce-count sent
    session_ha1: str = field(repr=False)  # a password equivalent: never shown
    scopes: dict[str, None] = field(default_factory=dict)


def _scope(kind: _Kind, request: Request) -> str | None:
    """Which requests a protection space's credentials travel with (RFC 3261 §22.2/3)."""
    if kind is _Kind.PROXY:
        return f"call-id:{request.call_id}" if request.call_id else None
    try:
        to = request.parse_header("To")
    except ParseError:
        return None
    return f"to:{to.uri.to_aor()}" if to is not None else None


def _fail(response: Response, reason: str) -> RequestError:
    return RequestError(
        causes.AUTHENTICATION_ERROR,
        response,
        f"{causes.AUTHENTICATION_ERROR} ({response.status_code}): {reason}",
    )


def _offers(response: Response) -> dict[_Key, list[Challenge]]:
    """The Digest challenges of a response, grouped by protection space, in order."""
    offers: dict[_Key, list[Challenge]] = {}
    for kind, header, _ in _KIND_HEADERS:
        if not response.has_header(header):
            continue
        for index in range(len(response.get_headers(header))):
            try:
                challenge: Challenge = response.parse_header(header, index)
            except ParseError:
                continue  # one malformed challenge does not spoil the others
            realm, nonce, opaque = challenge.realm, challenge.nonce, challenge.opaque
            if (
                challenge.scheme.lower() != "digest"
                or realm is None
                or nonce is None  # both are required (RFC 7616 §3.3)
                or not all(_is_clean(v) for v in (realm, nonce, opaque or ""))
            ):
                continue
            offers.setdefault((kind, realm), []).append(challenge)
    return offers


class DigestFlow:
    """The authentication of one request, across the resends it takes.

    Made by :meth:`DigestClient.start`. Send :attr:`request`, then give every
    *final* response to :meth:`receive_response` and send what it returns,
    until it returns None.
    """

    __slots__ = ("_base", "_client", "_entries", "_request", "_rounds", "_sent", "_stale")

    def __init__(self, client: DigestClient, request: Request) -> None:
        self._setup(client, request.copy())

    @classmethod
    def _taking(cls, client: DigestClient, request: Request) -> DigestFlow:
        """A flow whose base is ``request`` itself, not a copy: for a caller that
        hands the request over and never changes it again (the core, which
        sends only what :attr:`request` gives). One copy less per request."""
        flow = cls.__new__(cls)
        flow._setup(client, request)
        return flow

    def _setup(self, client: DigestClient, base: Request) -> None:
        self._client = client
        self._base = base
        # protection space -> True when this flow answered a challenge for it,
        # False when it only sends cached (pre-emptive) credentials.
        self._entries: dict[_Key, bool] = dict.fromkeys(client._preemptive(base), False)
        self._sent: dict[_Key, str] = {}  # the nonce last sent per protection space
        self._stale: dict[_Key, int] = {}
        self._rounds = 0
        self._request = self._render()

    @property
    def request(self) -> Request:
        """The request to send now (give it a CSeq and Via branch first)."""
        return self._request

    @property
    def rounds(self) -> int:
        """How many challenges this flow has answered."""
        return self._rounds

    def receive_response(self, response: Response) -> Request | None:
        """Take the final response to :attr:`request`.

        Args:
            response: the final response (provisional ones are not given).

        Returns:
            None when there is nothing to answer (not a 401/407): the response
            is the outcome. Otherwise the request to send instead, with
            credentials for every challenge; it is also :attr:`request` from now
            on. Give it the next CSeq and a new Via branch, then send it and
            call this method again with its final response.

        Raises:
            websip.RequestError: cause ``AUTHENTICATION_ERROR`` with the
                response: credentials were rejected, no challenge could be
                answered, or a limit was reached.
        """
        if response.status_code not in (401, 407):
            if 200 <= response.status_code < 300:
                self._client._take_next_nonce(self._entries, response)
            return None
        if self._rounds >= MAX_ROUNDS:
            raise _fail(response, f"still challenged after {MAX_ROUNDS} answers")
        client = self._client
        answered = False
        for key, challenges in _offers(response).items():
            kind, realm = key
            choice = client._choose(realm, challenges)
            if self._entries.get(key):
                # We answered this realm in this flow and are challenged again.
                stale_ok = (
                    choice is not None
                    and choice[0].stale
                    and choice[0].nonce != self._sent.get(key)
                    and self._stale.get(key, 0) < MAX_STALE_RETRIES
                )
                if not stale_ok:
                    client._drop(key)
                    _log.debug("digest: credentials rejected in realm %r", realm)
                    raise _fail(response, f"credentials rejected in realm {realm!r}")
                self._stale[key] = self._stale.get(key, 0) + 1
            if choice is None:
                _log.debug("digest: no answerable challenge in realm %r", realm)
                continue
            challenge, algorithm, qop = choice
            client._learn(kind, challenge, algorithm, qop, _scope(kind, self._base))
            self._entries[key] = True
            answered = True
        if not answered:
            raise _fail(response, "no Digest challenge websip can answer")
        if len(self._entries) > MAX_REALMS_PER_REQUEST:
            raise _fail(response, f"more than {MAX_REALMS_PER_REQUEST} realms to answer")
        self._rounds += 1
        self._request = self._render()
        return self._request

    def _render(self) -> Request:
        request = self._base.copy()
        entries = self._entries
        if not entries:
            return request
        states = self._client._states
        for key in [k for k in entries if k not in states]:
            del entries[key]  # dropped meanwhile (forget, rejection elsewhere)
        for kind, _, header in _KIND_HEADERS:
            if request.has_header(header):
                realms = {realm for k, realm in entries if k is kind}
                if realms:
                    _drop_credentials(request, header, realms)
        client = self._client
        for key in entries:
            state = states[key]
            request.add_header(_CREDENTIALS_HEADER[key[0]], client._authorization(state, request))
            self._sent[key] = state.nonce
        return request

    def __repr__(self) -> str:
        realms = [realm for _, realm in self._entries]
        return f"<DigestFlow {self._base.method} rounds={self._rounds} realms={realms!r}>"


def _drop_credentials(request: Request, header: str, realms: set[str]) -> None:
    """Remove Digest credentials for ``realms`` the request already carries.

    A request built from an earlier one (a refresh copying the last REGISTER)
    would otherwise carry two credentials for one realm, the old one first.
    """
    values = request.get_headers(header)
    kept = []
    for index, value in enumerate(values):
        try:
            credentials: Credentials = request.parse_header(header, index)
        except ParseError:
            kept.append(value)
            continue
        if credentials.scheme.lower() != "digest" or credentials.params.get("realm") not in realms:
            kept.append(value)
    if len(kept) != len(values):
        request.remove_header(header)
        for value in kept:
            request.add_header(header, value)


class DigestClient:
    """Digest authentication for one UA: credentials plus what challenges taught.

    Args:
        credentials: who we are.
        random_bytes: the randomness for cnonces: ``random_bytes(n)`` returns
            ``n`` random bytes (default :func:`secrets.token_bytes`; tests pin it).
        prefer_auth_int: answer ``qop=auth-int`` whenever offered (default:
            ``auth`` unless it is the only choice; see the module docstring).
        shared_realms: realms whose credentials go with every request (the
            UA's own outbound proxy or registrar, RFC 3261 §22.3); by default
            credentials go only with requests to the same To URI (401) or of
            the same Call-ID (407).

    Next: :meth:`start` (or :meth:`auth_flow`) for each request the UA sends.
    """

    __slots__ = ("_credentials", "_prefer_auth_int", "_random_bytes", "_shared", "_states")

    def __init__(
        self,
        credentials: DigestCredentials,
        *,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        prefer_auth_int: bool = False,
        shared_realms: Iterable[str] = (),
    ) -> None:
        self._credentials = credentials
        self._random_bytes = random_bytes
        self._prefer_auth_int = prefer_auth_int
        self._shared = frozenset(shared_realms) or _NO_REALMS
        self._states: dict[_Key, _RealmState] = {}

    # -- public ------------------------------------------------------------------

    @property
    def credentials(self) -> DigestCredentials:
        """The credentials; setting new ones forgets everything learnt."""
        return self._credentials

    @credentials.setter
    def credentials(self, value: DigestCredentials) -> None:
        self._credentials = value
        self._states.clear()

    @property
    def realms(self) -> list[str]:
        """The realms with cached state, oldest first (a realm may appear twice: 401 and 407)."""
        return [realm for _, realm in self._states]

    def start(self, request: Request) -> DigestFlow:
        """Begin authenticating ``request``.

        The flow's :attr:`DigestFlow.request` is a copy of ``request`` with
        pre-emptive credentials for every cached protection space that covers
        it (nonce-count incremented); ``request`` itself is not changed.
        """
        return DigestFlow(self, request)

    def auth_flow(self, request: Request) -> Generator[Request, Response, Response]:
        """The flow of :meth:`start` as a generator, in the style of httpx.

        Yields the request to send; is sent each *final* response
        (``flow.send(response)``); returns (``StopIteration.value``) the
        response that ended it. A failure is raised out of ``send`` as
        :class:`websip.RequestError` (``AUTHENTICATION_ERROR``).
        """
        flow = self.start(request)
        response = yield flow.request
        while (retry := flow.receive_response(response)) is not None:
            response = yield retry
        return response

    def forget(self, realm: str | None = None) -> None:
        """Drop cached state: of ``realm`` (both kinds), or of every realm."""
        for key in [k for k in self._states if realm is None or k[1] == realm]:
            del self._states[key]

    def __repr__(self) -> str:
        return f"<DigestClient username={self._credentials.username!r} realms={self.realms!r}>"

    # -- used by DigestFlow ---------------------------------------------------------

    def _preemptive(self, request: Request) -> list[_Key]:
        keys = []
        for key, state in self._states.items():
            if key[1] in self._shared or _scope(key[0], request) in state.scopes:
                keys.append(key)
        return keys

    def _choose(
        self, realm: str, challenges: list[Challenge]
    ) -> tuple[Challenge, DigestAlgorithm, str | None] | None:
        """The strongest challenge of one realm we can answer, with its qop."""
        best: tuple[Challenge, DigestAlgorithm, str | None] | None = None
        for challenge in challenges:
            algorithm = DigestAlgorithm.from_token(challenge.params.get("algorithm", "MD5"))
            if algorithm is None or not self._credentials.can_answer(realm, algorithm):
                continue
            offered = challenge.qop
            if not offered:
                if algorithm.session:
                    continue  # -sess without qop: no cnonce may be sent (RFC 2617 §3.2.2)
                qop = None
            elif "auth" in offered and not (self._prefer_auth_int and "auth-int" in offered):
                qop = "auth"
            elif "auth-int" in offered:
                qop = "auth-int"
            else:
                continue  # only qop values we do not know
            if best is None or algorithm.strength > best[1].strength:
                best = (challenge, algorithm, qop)
        return best

    def _new_cnonce(self) -> str:
        return base64.b64encode(self._random_bytes(CNONCE_BYTES)).decode("ascii")

    def _learn(
        self,
        kind: _Kind,
        challenge: Challenge,
        algorithm: DigestAlgorithm,
        qop: str | None,
        scope: str | None,
    ) -> None:
        key = (kind, challenge.realm or "")
        realm, nonce = key[1], challenge.nonce or ""
        old = self._states.pop(key, None)
        if old is not None and old.nonce == nonce and old.algorithm is algorithm:
            # The same nonce again (a server may reuse it across challenges):
            # keep counting, so no (nonce, cnonce, nc) is ever sent twice.
            state = old
            state.qop = qop
        else:
            cnonce = self._new_cnonce()
            ha1 = self._credentials._ha1_for(realm, algorithm)
            assert ha1 is not None  # _choose only keeps what the credentials answer
            state = _RealmState(
                kind=kind,
                realm=realm,
                algorithm=algorithm,
                algorithm_token=challenge.params.get("algorithm", algorithm.value).strip(),
                nonce=nonce,
                opaque=None,
                qop=qop,
                userhash=False,
                cnonce=cnonce,
                nc=0,
                session_ha1=_session_key(algorithm, ha1, nonce, cnonce),
                scopes=old.scopes if old is not None else {},
            )
        state.opaque = challenge.opaque
        state.userhash = challenge.params.get("userhash", "").lower() == "true"
        if scope is not None:
            state.scopes.pop(scope, None)
            state.scopes[scope] = None
            while len(state.scopes) > MAX_SCOPES_PER_REALM:
                del state.scopes[next(iter(state.scopes))]
        self._states[key] = state  # re-inserted: most recently learnt last
        while len(self._states) > MAX_CACHED_REALMS:
            del self._states[next(iter(self._states))]
        _log.debug(
            "digest: answering %s realm %r with %s qop=%s",
            kind.value,
            realm,
            algorithm.value,
            qop,
        )

    def _drop(self, key: _Key) -> None:
        self._states.pop(key, None)

    def _renew(self, state: _RealmState, nonce: str) -> None:
        """Start a new nonce (or a new cnonce for the same one): nc back to 0."""
        ha1 = self._credentials._ha1_for(state.realm, state.algorithm)
        # Credentials are immutable and replacing them clears every state.
        assert ha1 is not None
        state.nonce = nonce
        state.cnonce = self._new_cnonce()
        state.nc = 0
        state.session_ha1 = _session_key(state.algorithm, ha1, nonce, state.cnonce)

    def _authorization(self, state: _RealmState, request: Request) -> Credentials:
        """The Authorization/Proxy-Authorization value for ``request`` (nc incremented)."""
        if state.nc >= _MAX_NC:
            # nc-value is 8 hex digits: a fresh cnonce restarts the count
            # without ever repeating a (nonce, cnonce, nc) triple.
            self._renew(state, state.nonce)
        state.nc += 1
        algorithm = state.algorithm
        uri = request.ruri_text
        response = _response(
            algorithm,
            state.session_ha1,
            nonce=state.nonce,
            method=request.method,
            uri=uri,
            qop=state.qop,
            nc=state.nc,
            cnonce=state.cnonce,
            body=request.body,
        )
        username = self._credentials.username
        if state.userhash:
            # RFC 7616 §3.4.4: the username hidden as H(username:realm).
            username = algorithm.hash(f"{username}:{state.realm}")
        params = {
            "username": username,
            "realm": state.realm,
            "nonce": state.nonce,
            "uri": uri,
            "response": response,
            "algorithm": state.algorithm_token,
        }
        if state.qop is not None:
            params["cnonce"] = state.cnonce
        if state.opaque is not None:
            params["opaque"] = state.opaque
        if state.qop is not None:
            params["qop"] = state.qop
            params["nc"] = f"{state.nc:08x}"
        if state.userhash:
            params["userhash"] = "true"
        return Credentials("Digest", params)

    def _take_next_nonce(self, entries: Mapping[_Key, bool], response: Response) -> None:
        """Authentication-Info ``nextnonce`` (RFC 2617 §3.2.3, RFC 3261 §20.6).

        It has no realm, so it is used only when the request answered exactly
        one WWW-Authenticate realm.
        """
        keys = [key for key in entries if key[0] is _Kind.WWW and key in self._states]
        if len(keys) != 1:
            return
        try:
            info: dict[str, str] | None = response.parse_header("Authentication-Info")
        except ParseError:
            return
        nextnonce = info.get("nextnonce") if info is not None else None
        if nextnonce and _is_clean(nextnonce):
            self._renew(self._states[keys[0]], nextnonce)
