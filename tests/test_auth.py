"""Digest authentication (websip.auth): RFC 2617, RFC 7616, RFC 8760 on RFC 3261 §22.

Expected digests come from three places, never from websip's own arithmetic:
the published examples (RFC 2617 §3.5, RFC 7616 §3.9.1, RFC 7616 §3.9.2 as
corrected by erratum 4897), the FIPS 180-4 SHA-512/256 example, and
:func:`expected_response` below, a straight transcription of RFC 7616 §3.4
onto :mod:`hashlib`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import websip.auth as auth
from websip import causes
from websip.auth import (
    MAX_REALMS_PER_REQUEST,
    MAX_ROUNDS,
    MAX_SCOPES_PER_REALM,
    MAX_STALE_RETRIES,
    DigestAlgorithm,
    DigestClient,
    DigestCredentials,
    compute_response,
)
from websip.exceptions import ConfigurationError, RequestError
from websip.sip import Challenge, Credentials, Request, Response

PASSWORD = "Tr0ub4dor&3-very-secret"
USER = "alice"
REALM = "example.com"
HA1 = hashlib.md5(f"{USER}:{REALM}:{PASSWORD}".encode()).hexdigest()
SECRETS = (PASSWORD, HA1)

# -- helpers ------------------------------------------------------------------------


class CountingRandom:
    """A pinned random source: call n returns n repeated (so cnonces differ)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        return bytes([self.calls]) * n


def cnonce_of(call: int) -> str:
    return base64.b64encode(bytes([call]) * auth.CNONCE_BYTES).decode()


def pinned(data: bytes) -> Callable[[int], bytes]:
    return lambda n: data


_HASHLIB = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def expected_response(
    algorithm: str,
    *,
    username: str,
    realm: str,
    password: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: str = "00000001",
    cnonce: str = "",
    body: bytes = b"",
) -> str:
    """RFC 7616 §3.4.1-3.4.3, written out independently with hashlib."""
    name = _HASHLIB[algorithm.upper().removesuffix("-SESS")]

    def h(data: bytes) -> str:
        return hashlib.new(name, data).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}".encode())
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode())
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + h(body)
    ha2 = h(a2.encode())
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}".encode())
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


def make_request(
    method: str = "REGISTER",
    ruri: str = "sip:example.com",
    *,
    to: str = "sip:alice@example.com",
    call_id: str = "call-1",
    body: bytes = b"",
    extra: list[tuple[str, str]] | None = None,
) -> Request:
    headers = [
        ("Via", "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK776asdhds"),
        ("Max-Forwards", "70"),
        ("From", "<sip:alice@example.com>;tag=1928301774"),
        ("To", f"<{to}>"),
        ("Call-ID", call_id),
        ("CSeq", f"1 {method}"),
    ]
    return Request(method, ruri, headers + (extra or []), body=body)


def challenge(
    request: Request, *values: str, status: int = 401, header: str | None = None
) -> Response:
    """A 401/407 carrying ``values`` as WWW-Authenticate (401) or Proxy-Authenticate (407)."""
    name = header or ("WWW-Authenticate" if status == 401 else "Proxy-Authenticate")
    return Response.for_request(request, status, headers=[(name, v) for v in values])


def digest(realm: str = REALM, nonce: str = "n1", **params: str) -> str:
    """A Digest challenge's text (values quoted as servers do)."""
    values = {"realm": realm, "nonce": nonce, **params}
    return str(Challenge("Digest", values))


def creds_of(request: Request, header: str = "Authorization", index: int = 0) -> dict[str, str]:
    value: Credentials | None = request.parse_header(header, index)
    assert value is not None, f"no {header} in {request!r}"
    assert value.scheme == "Digest"
    return value.params


def client(**kwargs: object) -> DigestClient:
    kwargs.setdefault("random_bytes", CountingRandom())
    return DigestClient(DigestCredentials(USER, PASSWORD), **kwargs)  # type: ignore[arg-type]


def ok(request: Request) -> Response:
    return Response.for_request(request, 200)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- the published examples ------------------------------------------------------------


class TestRFC2617Section35:
    """RFC 2617 §3.5: Mufasa, "Circle Of Life", MD5, qop=auth."""

    def test_response(self) -> None:
        assert (
            compute_response(
                "MD5",
                username="Mufasa",
                realm="testrealm@host.com",
                password="Circle Of Life",
                nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                method="GET",
                uri="/dir/index.html",
                qop="auth",
                nc=1,
                cnonce="0a4f113b",
            )
            == "6629fae49393a05397450978507c4ef1"
        )

    def test_same_with_ha1(self) -> None:
        ha1 = hashlib.md5(b"Mufasa:testrealm@host.com:Circle Of Life").hexdigest()
        assert (
            compute_response(
                DigestAlgorithm.MD5,
                username="Mufasa",
                realm="testrealm@host.com",
                ha1=ha1.upper(),
                nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                method="GET",
                uri="/dir/index.html",
                qop="auth",
                cnonce="0a4f113b",
            )
            == "6629fae49393a05397450978507c4ef1"
        )


RFC7616 = {
    "username": "Mufasa",
    "password": "Circle of Life",  # errata 4495: lower-case "of"
    "realm": "http-auth@example.org",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "method": "GET",
    "uri": "/dir/index.html",
}


class TestRFC7616Section391:
    """RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256."""

    @pytest.mark.parametrize(
        ("algorithm", "response"),
        [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ],
    )
    def test_response(self, algorithm: str, response: str) -> None:
        got = compute_response(
            algorithm,
            username=RFC7616["username"],
            password=RFC7616["password"],
            realm=RFC7616["realm"],
            nonce=RFC7616["nonce"],
            cnonce=RFC7616["cnonce"],
            method=RFC7616["method"],
            uri=RFC7616["uri"],
            qop="auth",
            nc=1,
        )
        assert got == response

    def test_cnonce_source_reproduces_the_example(self) -> None:
        # The injectable source pins the cnonce: the RFC's is 33 base64'd bytes.
        random = pinned(base64.b64decode(RFC7616["cnonce"]))
        c = DigestClient(DigestCredentials("Mufasa", "Circle of Life"), random_bytes=random)
        assert c._new_cnonce() == RFC7616["cnonce"]


class TestRFC7616Section392:
    """RFC 7616 §3.9.2 (SHA-512-256, userhash, UTF-8 username), as corrected.

    The printed response and userhash do not follow from the printed inputs;
    erratum 4897's do, and they are what real SHA-512/256 gives.
    """

    username = "J\u00e4s\u00f8n Doe"

    def test_userhash(self) -> None:
        assert (
            DigestAlgorithm.SHA_512_256.hash(f"{self.username}:api@example.org")
            == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        )

    def test_response(self) -> None:
        assert (
            compute_response(
                "SHA-512-256",
                username=self.username,
                realm="api@example.org",
                password="Secret, or not?",
                nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
                method="GET",
                uri="/doe.json",
                qop="auth",
                nc=1,
                cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
            )
            == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
        )

    def test_userhash_requested_by_a_challenge(self) -> None:
        c = DigestClient(
            DigestCredentials(self.username, "Secret, or not?"), random_bytes=CountingRandom()
        )
        flow = c.start(make_request())
        resend = flow.receive_response(
            challenge(
                make_request(),
                digest("api@example.org", algorithm="SHA-512-256", qop="auth", userhash="true"),
            )
        )
        assert resend is not None
        params = creds_of(resend)
        assert (
            params["username"] == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        )
        assert params["userhash"] == "true"
        assert params["response"] == expected_response(
            "SHA-512-256",
            username=self.username,
            realm="api@example.org",
            password="Secret, or not?",
            nonce="n1",
            method="REGISTER",
            uri="sip:example.com",
            qop="auth",
            cnonce=cnonce_of(1),
        )


# -- SHA-512/256 ----------------------------------------------------------------------------


class TestSha512_256:
    """FIPS 180-4 SHA-512/256: its own IV, not a truncated SHA-512."""

    FIPS_ABC = "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"

    def test_fips_example(self) -> None:
        assert auth._pure_sha512_256(b"abc").hex() == self.FIPS_ABC
        assert DigestAlgorithm.SHA_512_256.hash("abc") == self.FIPS_ABC

    def test_not_truncated_sha512(self) -> None:
        assert DigestAlgorithm.SHA_512_256.hash("abc") != hashlib.sha512(b"abc").hexdigest()[:64]

    @given(st.binary(max_size=300))
    @settings(max_examples=60)
    def test_pure_matches_openssl(self, data: bytes) -> None:
        assert auth._pure_sha512_256(data) == hashlib.new("sha512_256", data).digest()

    @pytest.mark.parametrize("size", [0, 1, 111, 112, 127, 128, 129, 239, 240, 256])
    def test_block_boundaries(self, size: int) -> None:
        data = bytes(range(256))[:size]
        assert auth._pure_sha512_256(data) == hashlib.new("sha512_256", data).digest()

    def test_derived_constants_are_sha512s(self) -> None:
        _, h0 = auth._sha512_constants()
        words = auth._sha512_words(b"abc", h0)
        assert b"".join(w.to_bytes(8, "big") for w in words) == hashlib.sha512(b"abc").digest()

    @given(st.integers(min_value=1, max_value=1 << 300))
    def test_integer_cube_root(self, n: int) -> None:
        r = auth._icbrt(n)
        assert r**3 <= n < (r + 1) ** 3

    def test_first_primes(self) -> None:
        primes = auth._first_primes(80)
        assert primes[:5] == [2, 3, 5, 7, 11]
        assert primes[-1] == 409
        assert all(all(p % d for d in range(2, math.isqrt(p) + 1)) for p in primes)

    def test_openssl_used_when_right(self) -> None:
        assert auth._sha512_256_implementation() is auth._openssl_sha512_256
        assert auth._openssl_sha512_256(b"abc").hex() == self.FIPS_ABC

    def test_fallback_without_openssl(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = hashlib.new

        def new(name: str, *args: object, **kwargs: object) -> object:
            if name == "sha512_256":
                raise ValueError("unsupported hash type")
            return real(name, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(hashlib, "new", new)
        assert auth._sha512_256_implementation() is auth._pure_sha512_256

    def test_fallback_when_openssl_truncates(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = hashlib.new

        def new(name: str, *args: object, **kwargs: object) -> object:
            if name == "sha512_256":
                return real("sha512", *args, **kwargs)  # type: ignore[arg-type]
            return real(name, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(hashlib, "new", new)
        assert auth._sha512_256_implementation() is auth._pure_sha512_256

    def test_digest_uses_the_selected_implementation(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(auth, "_sha512_256", auth._pure_sha512_256)
        assert DigestAlgorithm.SHA_512_256.hash("abc") == self.FIPS_ABC


# -- the arithmetic ---------------------------------------------------------------------------

ALGORITHMS = [a.value for a in DigestAlgorithm]


class TestComputeResponse:
    """RFC 7616 §3.4: every algorithm and qop against the independent transcription."""

    @pytest.mark.parametrize(
        ("algorithm", "qop"),
        [
            (a, q)
            for a in ALGORITHMS
            for q in ("auth", "auth-int", None)
            if q is not None or not a.endswith("-sess")  # -sess needs a cnonce, so a qop
        ],
    )
    def test_every_algorithm_and_qop(self, algorithm: str, qop: str | None) -> None:
        inputs = {
            "username": "bob",
            "realm": "biloxi.com",
            "password": "zanzibar",
            "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "method": "INVITE",
            "uri": "sip:bob@biloxi.com",
            "body": b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n",
        }
        cnonce = "0a4f113b" if qop else None
        got = compute_response(algorithm, qop=qop, nc=3, cnonce=cnonce, **inputs)  # type: ignore[arg-type]
        want = expected_response(algorithm, qop=qop, nc="00000003", cnonce=cnonce or "", **inputs)  # type: ignore[arg-type]
        assert got == want

    def test_auth_int_hashes_the_body(self) -> None:
        common = {
            "username": "u",
            "realm": "r",
            "password": "p",
            "nonce": "n",
            "method": "MESSAGE",
            "uri": "sip:u@r",
            "qop": "auth-int",
            "cnonce": "c",
        }
        assert compute_response("MD5", body=b"hello", **common) != compute_response(  # type: ignore[arg-type]
            "MD5",
            body=b"world",
            **common,  # type: ignore[arg-type]
        )

    def test_empty_body_is_hash_of_empty_string(self) -> None:
        # RFC 3261 §22.4 item 7: H("") for a message without a body.
        got = compute_response(
            "MD5",
            username="u",
            realm="r",
            password="p",
            nonce="n",
            method="BYE",
            uri="sip:u@r",
            qop="auth-int",
            cnonce="c",
        )
        empty = hashlib.md5(b"").hexdigest()
        assert empty == "d41d8cd98f00b204e9800998ecf8427e"
        ha1 = hashlib.md5(b"u:r:p").hexdigest()
        ha2 = hashlib.md5(f"BYE:sip:u@r:{empty}".encode()).hexdigest()
        assert got == hashlib.md5(f"{ha1}:n:00000001:c:auth-int:{ha2}".encode()).hexdigest()

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"algorithm": "SHA-1"}, "unsupported digest algorithm"),
            ({"qop": "auth-conf"}, "unsupported qop"),
            ({"qop": "auth", "cnonce": None}, "needs a cnonce"),
            ({"nc": 0}, "out of range"),
            ({"nc": 0x100000000}, "out of range"),
            ({"password": None}, "a password or an ha1"),
            ({"algorithm": "MD5-sess", "qop": None, "cnonce": None}, "needs a cnonce"),
        ],
    )
    def test_errors(self, kwargs: dict[str, object], message: str) -> None:
        args: dict[str, object] = {
            "algorithm": "MD5",
            "username": "u",
            "realm": "r",
            "password": PASSWORD,
            "nonce": "n",
            "method": "GET",
            "uri": "/",
            "qop": "auth",
            "cnonce": "c",
        }
        args.update(kwargs)
        algorithm = args.pop("algorithm")
        with pytest.raises(ValueError, match=message) as info:
            compute_response(algorithm, **args)  # type: ignore[arg-type]
        assert_no_secret(str(info.value))


class TestDigestAlgorithm:
    def test_tokens_are_case_insensitive(self) -> None:
        assert DigestAlgorithm.from_token("md5-SESS") is DigestAlgorithm.MD5_SESS
        assert DigestAlgorithm.from_token(" sha-512-256 ") is DigestAlgorithm.SHA_512_256
        assert DigestAlgorithm.from_token("SHA-512") is None
        assert DigestAlgorithm.from_token("AKAv1-MD5") is None

    def test_properties(self) -> None:
        assert DigestAlgorithm.SHA_256_SESS.session
        assert not DigestAlgorithm.SHA_256.session
        assert DigestAlgorithm.SHA_512_256_SESS.base is DigestAlgorithm.SHA_512_256
        assert DigestAlgorithm.MD5.base is DigestAlgorithm.MD5
        order = sorted(DigestAlgorithm, key=lambda a: a.strength)
        assert [a.base for a in order][::2] == [
            DigestAlgorithm.MD5,
            DigestAlgorithm.SHA_256,
            DigestAlgorithm.SHA_512_256,
        ]
        assert DigestAlgorithm.MD5_SESS.strength == DigestAlgorithm.MD5.strength

    def test_hash_of_bytes_and_text(self) -> None:
        assert DigestAlgorithm.SHA_256.hash(b"abc") == hashlib.sha256(b"abc").hexdigest()
        assert DigestAlgorithm.MD5.hash("\u00e4") == hashlib.md5("\u00e4".encode()).hexdigest()


# -- credentials ------------------------------------------------------------------------------


class TestDigestCredentials:
    def test_password_answers_any_realm(self) -> None:
        c = DigestCredentials(USER, PASSWORD)
        assert c.can_answer("anything", DigestAlgorithm.SHA_256)
        assert c.username == USER
        assert c.realm is None
        assert not c.strict_realm

    def test_ha1_only_in_its_realm(self) -> None:
        # JsSIP semantics: ha1 = MD5(user:realm:password), for the configured realm.
        c = DigestCredentials(USER, ha1=HA1, realm=REALM)
        assert c.can_answer(REALM, DigestAlgorithm.MD5)
        assert c.can_answer(REALM, DigestAlgorithm.MD5_SESS)
        assert not c.can_answer("other.realm", DigestAlgorithm.MD5)
        assert not c.can_answer(REALM, DigestAlgorithm.SHA_256)
        assert c._ha1_for(REALM, DigestAlgorithm.MD5) == HA1

    def test_ha1_per_hash(self) -> None:
        sha = hashlib.sha256(f"{USER}:{REALM}:{PASSWORD}".encode()).hexdigest()
        c = DigestCredentials(USER, ha1={"sha-256": sha.upper(), "MD5": HA1}, realm=REALM)
        assert c._ha1_for(REALM, DigestAlgorithm.SHA_256_SESS) == sha
        assert not c.can_answer(REALM, DigestAlgorithm.SHA_512_256)

    def test_ha1_of_64_digits_is_sha256(self) -> None:
        # The configuration accepts 32 or 64 hex digits for ha1.
        sha = hashlib.sha256(f"{USER}:{REALM}:{PASSWORD}".encode()).hexdigest()
        c = DigestClient(
            DigestCredentials(USER, ha1=sha, realm=REALM), random_bytes=CountingRandom()
        )
        assert not c.credentials.can_answer(REALM, DigestAlgorithm.MD5)
        assert not c.credentials.can_answer(REALM, DigestAlgorithm.SHA_512_256)
        values = [
            digest(nonce="x", algorithm="SHA-512-256", qop="auth"),
            digest(nonce="s", algorithm="SHA-256", qop="auth"),
            digest(nonce="m", qop="auth"),
        ]
        resend = c.start(make_request()).receive_response(challenge(make_request(), *values))
        assert resend is not None
        params = creds_of(resend)
        assert params["nonce"] == "s"
        assert params["response"] == expected_response(
            "SHA-256",
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="s",
            method="REGISTER",
            uri="sip:example.com",
            qop="auth",
            cnonce=cnonce_of(1),
        )
        assert sha not in bytes(resend).decode()

    def test_ha1_and_password(self) -> None:
        # ha1 where it applies, the password elsewhere.
        c = DigestCredentials(USER, PASSWORD, ha1="0" * 32, realm=REALM)
        assert c._ha1_for(REALM, DigestAlgorithm.MD5) == "0" * 32
        assert c._ha1_for(REALM, DigestAlgorithm.SHA_256) == (
            hashlib.sha256(f"{USER}:{REALM}:{PASSWORD}".encode()).hexdigest()
        )
        assert c.can_answer("elsewhere", DigestAlgorithm.MD5)

    def test_strict_realm(self) -> None:
        c = DigestCredentials(USER, PASSWORD, realm=REALM, strict_realm=True)
        assert c.can_answer(REALM, DigestAlgorithm.SHA_256)
        assert not c.can_answer("evil.example", DigestAlgorithm.MD5)
        assert c.strict_realm

    def test_any_text_is_a_password(self) -> None:
        # It never goes on the wire, so even a line break is fine.
        assert DigestCredentials(USER, "a\r\nb\x00").can_answer("r", DigestAlgorithm.MD5)

    def test_empty_password_is_allowed(self) -> None:
        # RFC 3261 §22.1: "anonymous" with a password of "".
        assert DigestCredentials("anonymous", "").can_answer("r", DigestAlgorithm.MD5)

    @pytest.mark.parametrize(
        ("args", "kwargs", "parameter"),
        [
            (("",), {"password": PASSWORD}, "authorization_user"),
            (("al\r\nice",), {"password": PASSWORD}, "authorization_user"),
            ((42,), {"password": PASSWORD}, "authorization_user"),
            ((USER,), {"password": PASSWORD, "realm": "a\nb"}, "realm"),
            ((USER,), {"password": PASSWORD, "realm": 7}, "realm"),
            ((USER,), {"password": b"bytes"}, "password"),
            ((USER,), {"password": "\ud800" + PASSWORD}, "password"),
            ((USER,), {}, "password"),
            ((USER,), {"ha1": HA1}, "realm"),
            ((USER,), {"ha1": HA1[:-1] + "z", "realm": REALM}, "ha1"),
            ((USER,), {"ha1": HA1 + "00", "realm": REALM}, "ha1"),
            ((USER,), {"ha1": "g" * 64, "realm": REALM}, "ha1"),
            ((USER,), {"ha1": 12345, "realm": REALM}, "ha1"),
            ((USER,), {"ha1": {"SHA-1": HA1}, "realm": REALM}, "ha1"),
            ((USER,), {"ha1": {"MD5-sess": HA1}, "realm": REALM}, "ha1"),
            ((USER,), {"ha1": {1: HA1}, "realm": REALM}, "ha1"),
            ((USER,), {"password": PASSWORD, "strict_realm": True}, "realm"),
        ],
    )
    def test_bad_values(
        self, args: tuple[object, ...], kwargs: dict[str, object], parameter: str
    ) -> None:
        with pytest.raises(ConfigurationError) as info:
            DigestCredentials(*args, **kwargs)  # type: ignore[arg-type]
        assert info.value.parameter == parameter
        assert_no_secret(str(info.value))
        assert_no_secret(repr(info.value.value))
        assert_no_secret(repr(info.value))

    def test_repr_hides_secrets(self) -> None:
        for c in (
            DigestCredentials(USER, PASSWORD),
            DigestCredentials(USER, ha1=HA1, realm=REALM),
            DigestCredentials(USER, PASSWORD, ha1=HA1, realm=REALM),
        ):
            for text in (repr(c), str(c), f"{c}", f"{c!r}"):
                assert_no_secret(text)
                assert USER in text
                assert "<hidden>" in text
        assert "ha1=<hidden>" in repr(DigestCredentials(USER, ha1=HA1, realm=REALM))

    def test_read_only(self) -> None:
        c = DigestCredentials(USER, PASSWORD)
        with pytest.raises(AttributeError):
            c.username = "mallory"  # type: ignore[misc]


# -- a REGISTER challenged by 401 -----------------------------------------------------------


class TestUserToUser:
    """RFC 3261 §22.2: 401, WWW-Authenticate, Authorization."""

    def test_register_answered(self) -> None:
        c = client()
        request = make_request()
        flow = c.start(request)
        assert flow.request == request  # nothing cached: sent as it is
        assert flow.request is not request
        resend = flow.receive_response(
            challenge(request, digest(qop="auth", opaque="5ccc069c403ebaf9f0171e9517f40e41"))
        )
        assert resend is not None
        assert flow.request is resend
        assert flow.rounds == 1
        assert not resend.has_header("Proxy-Authorization")
        assert not request.has_header("Authorization")  # the original is untouched
        params = creds_of(resend)
        assert params == {
            "username": USER,
            "realm": REALM,
            "nonce": "n1",
            "uri": "sip:example.com",
            "response": expected_response(
                "MD5",
                username=USER,
                realm=REALM,
                password=PASSWORD,
                nonce="n1",
                method="REGISTER",
                uri="sip:example.com",
                qop="auth",
                cnonce=cnonce_of(1),
            ),
            "algorithm": "MD5",
            "cnonce": cnonce_of(1),
            "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
            "qop": "auth",
            "nc": "00000001",
        }
        assert flow.receive_response(ok(resend)) is None

    def test_wire_form_quoting(self) -> None:
        # RFC 7616 §3.4 / RFC 3261 §25.1: which values are quoted.
        resend = (
            client()
            .start(make_request())
            .receive_response(challenge(make_request(), digest(qop="auth", opaque="xyz")))
        )
        assert resend is not None
        line = next(
            line
            for line in bytes(resend).decode().split("\r\n")
            if line.startswith("Authorization")
        )
        assert 'username="alice"' in line
        assert 'realm="example.com"' in line
        assert 'uri="sip:example.com"' in line
        assert "algorithm=MD5," in line
        assert "qop=auth," in line
        assert "nc=00000001" in line
        assert 'opaque="xyz"' in line

    def test_authorization_user_differs_from_uri_user(self) -> None:
        c = DigestClient(DigestCredentials("alice123", PASSWORD), random_bytes=CountingRandom())
        request = make_request("INVITE", "sip:bob@example.com", to="sip:bob@example.com")
        resend = c.start(request).receive_response(challenge(request, digest(qop="auth")))
        assert resend is not None
        params = creds_of(resend)
        assert params["username"] == "alice123"
        assert params["uri"] == "sip:bob@example.com"  # the Request-URI, not From
        assert params["response"] == expected_response(
            "MD5",
            username="alice123",
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="INVITE",
            uri="sip:bob@example.com",
            qop="auth",
            cnonce=cnonce_of(1),
        )

    def test_ha1_instead_of_password(self) -> None:
        c = DigestClient(
            DigestCredentials(USER, ha1=HA1, realm=REALM), random_bytes=CountingRandom()
        )
        resend = c.start(make_request()).receive_response(
            challenge(make_request(), digest(qop="auth"))
        )
        assert resend is not None
        assert creds_of(resend)["response"] == expected_response(
            "MD5",
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="REGISTER",
            uri="sip:example.com",
            qop="auth",
            cnonce=cnonce_of(1),
        )
        assert HA1 not in bytes(resend).decode()  # H(A1) is a password equivalent

    def test_ha1_for_another_realm_fails(self) -> None:
        c = DigestClient(DigestCredentials(USER, ha1=HA1, realm=REALM))
        with pytest.raises(RequestError) as info:
            c.start(make_request()).receive_response(
                challenge(make_request(), digest("other.realm"))
            )
        assert info.value.cause == causes.AUTHENTICATION_ERROR

    def test_no_qop_rfc2069_mode(self) -> None:
        resend = (
            client().start(make_request()).receive_response(challenge(make_request(), digest()))
        )
        assert resend is not None
        params = creds_of(resend)
        assert "cnonce" not in params
        assert "nc" not in params
        assert "qop" not in params
        assert "opaque" not in params
        assert params["response"] == expected_response(
            "MD5",
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="REGISTER",
            uri="sip:example.com",
            qop=None,
        )

    def test_algorithm_echoed_as_written(self) -> None:
        resend = (
            client()
            .start(make_request())
            .receive_response(challenge(make_request(), digest(algorithm="md5", qop="auth")))
        )
        assert resend is not None
        assert creds_of(resend)["algorithm"] == "md5"

    def test_non_2xx_final_ends_the_flow(self) -> None:
        flow = client().start(make_request())
        forbidden = Response.for_request(make_request(), 403)
        assert flow.receive_response(forbidden) is None


# -- an INVITE challenged by 407 ------------------------------------------------------------


class TestProxyToUser:
    """RFC 3261 §22.3: 407, Proxy-Authenticate, Proxy-Authorization."""

    def test_invite_answered(self) -> None:
        c = client()
        invite = make_request(
            "INVITE", "sip:bob@biloxi.com", to="sip:bob@biloxi.com", body=b"v=0\r\n"
        )
        flow = c.start(invite)
        resend = flow.receive_response(
            challenge(invite, digest("atlanta.com", qop="auth"), status=407)
        )
        assert resend is not None
        assert not resend.has_header("Authorization")
        params = creds_of(resend, "Proxy-Authorization")
        assert params["realm"] == "atlanta.com"
        assert params["uri"] == "sip:bob@biloxi.com"
        assert params["response"] == expected_response(
            "MD5",
            username=USER,
            realm="atlanta.com",
            password=PASSWORD,
            nonce="n1",
            method="INVITE",
            uri="sip:bob@biloxi.com",
            qop="auth",
            cnonce=cnonce_of(1),
        )
        assert resend.body == b"v=0\r\n"

    def test_in_dialog_requests_reuse_the_proxy_credentials(self) -> None:
        c = client()
        invite = make_request(
            "INVITE", "sip:bob@biloxi.com", to="sip:bob@biloxi.com", call_id="dlg"
        )
        c.start(invite).receive_response(
            challenge(invite, digest("atlanta.com", qop="auth"), status=407)
        )
        bye = make_request("BYE", "sip:bob@192.0.2.4", to="sip:bob@biloxi.com", call_id="dlg")
        sent = c.start(bye).request
        params = creds_of(sent, "Proxy-Authorization")
        assert params["nc"] == "00000002"
        assert params["cnonce"] == cnonce_of(1)
        assert params["response"] == expected_response(
            "MD5",
            username=USER,
            realm="atlanta.com",
            password=PASSWORD,
            nonce="n1",
            method="BYE",
            uri="sip:bob@192.0.2.4",
            qop="auth",
            nc="00000002",
            cnonce=cnonce_of(1),
        )

    def test_not_across_dialogs(self) -> None:
        # §22.3: "These credentials MUST NOT be cached across dialogs".
        c = client()
        invite = make_request(
            "INVITE", "sip:bob@biloxi.com", to="sip:bob@biloxi.com", call_id="dlg"
        )
        c.start(invite).receive_response(
            challenge(invite, digest("atlanta.com", qop="auth"), status=407)
        )
        other = make_request(
            "INVITE", "sip:carol@biloxi.com", to="sip:carol@biloxi.com", call_id="x"
        )
        assert not c.start(other).request.has_header("Proxy-Authorization")

    def test_shared_realm_goes_everywhere(self) -> None:
        # §22.3: unless it is the realm of the UA's own outbound proxy.
        c = client(shared_realms=["atlanta.com"])
        invite = make_request("INVITE", "sip:bob@biloxi.com", call_id="dlg")
        c.start(invite).receive_response(
            challenge(invite, digest("atlanta.com", qop="auth"), status=407)
        )
        other = make_request(
            "MESSAGE", "sip:carol@biloxi.com", to="sip:carol@biloxi.com", call_id="x"
        )
        assert creds_of(c.start(other).request, "Proxy-Authorization")["nc"] == "00000002"

    def test_several_proxies_several_realms(self) -> None:
        # A forking proxy aggregates the challenges of every branch (§22.3, §16.7).
        c = client()
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        response = challenge(
            invite,
            digest("atlanta.com", nonce="a", qop="auth"),
            digest("biloxi.com", nonce="b", qop="auth"),
            status=407,
        )
        response.add_header("WWW-Authenticate", digest("bob-phone", nonce="c", qop="auth"))
        resend = c.start(invite).receive_response(response)
        assert resend is not None
        proxies = [creds_of(resend, "Proxy-Authorization", i)["realm"] for i in range(2)]
        assert proxies == ["atlanta.com", "biloxi.com"]
        assert creds_of(resend, "Authorization")["realm"] == "bob-phone"

    def test_second_proxy_challenges_after_first_accepted(self) -> None:
        c = client()
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        flow = c.start(invite)
        first = flow.receive_response(
            challenge(invite, digest("atlanta.com", nonce="a", qop="auth"), status=407)
        )
        assert first is not None
        second = flow.receive_response(
            challenge(first, digest("biloxi.com", nonce="b", qop="auth"), status=407)
        )
        assert second is not None
        realms = {creds_of(second, "Proxy-Authorization", i)["realm"] for i in range(2)}
        assert realms == {"atlanta.com", "biloxi.com"}
        # The first proxy's credentials go again, with the next nonce-count.
        atlanta = next(
            creds_of(second, "Proxy-Authorization", i)
            for i in range(2)
            if creds_of(second, "Proxy-Authorization", i)["realm"] == "atlanta.com"
        )
        assert atlanta["nc"] == "00000002"
        assert flow.rounds == 2


# -- reuse ----------------------------------------------------------------------------------


class TestReuse:
    """Later requests in the same protection space go out pre-authorized."""

    def test_register_refresh_increments_nc(self) -> None:
        c = client()
        register = make_request()
        c.start(register).receive_response(challenge(register, digest(qop="auth")))
        for nc in (2, 3, 4):
            sent = c.start(make_request(call_id="call-1")).request
            params = creds_of(sent)
            assert params["nc"] == f"{nc:08x}"
            assert params["cnonce"] == cnonce_of(1)
            assert params["response"] == expected_response(
                "MD5",
                username=USER,
                realm=REALM,
                password=PASSWORD,
                nonce="n1",
                method="REGISTER",
                uri="sip:example.com",
                qop="auth",
                nc=f"{nc:08x}",
                cnonce=cnonce_of(1),
            )

    def test_other_destination_not_preauthorized(self) -> None:
        # §22.2 caches per To and realm: a callee never sees our registrar digest.
        c = client()
        c.start(make_request()).receive_response(challenge(make_request(), digest(qop="auth")))
        invite = make_request("INVITE", "sip:bob@example.com", to="sip:bob@example.com")
        assert not c.start(invite).request.has_header("Authorization")

    def test_preauthorized_then_challenged_is_answered(self) -> None:
        # Cached credentials are a guess: a challenge after them is not a failure.
        c = client()
        c.start(make_request()).receive_response(
            challenge(make_request(), digest(nonce="n1", qop="auth"))
        )
        flow = c.start(make_request())
        assert flow.request.has_header("Authorization")
        resend = flow.receive_response(challenge(flow.request, digest(nonce="n2", qop="auth")))
        assert resend is not None
        assert len(resend.get_headers("Authorization")) == 1  # replaced, not added
        assert creds_of(resend)["nonce"] == "n2"
        assert creds_of(resend)["nc"] == "00000001"
        assert creds_of(resend)["cnonce"] == cnonce_of(2)

    def test_same_nonce_keeps_counting(self) -> None:
        # A nonce seen again (another destination, same challenge) continues nc,
        # so a (nonce, cnonce, nc) triple is never sent twice.
        c = client()
        c.start(make_request()).receive_response(
            challenge(make_request(), digest(nonce="n1", qop="auth"))
        )
        other = make_request(to="sip:alice2@example.com")
        resend = c.start(other).receive_response(
            challenge(other, digest(nonce="n1", qop="auth-int"))
        )
        assert resend is not None
        params = creds_of(resend)
        assert params["nc"] == "00000002"
        assert params["cnonce"] == cnonce_of(1)
        assert params["qop"] == "auth-int"

    def test_forget(self) -> None:
        c = client()
        c.start(make_request()).receive_response(challenge(make_request(), digest(qop="auth")))
        invite = make_request("INVITE", "sip:bob@biloxi.com", call_id="call-1")
        c.start(invite).receive_response(
            challenge(invite, digest("atlanta.com", qop="auth"), status=407)
        )
        assert c.realms == [REALM, "atlanta.com"]
        c.forget("atlanta.com")
        assert c.realms == [REALM]
        c.forget()
        assert c.realms == []
        assert not c.start(make_request()).request.has_header("Authorization")

    def test_new_credentials_forget_everything(self) -> None:
        c = client()
        c.start(make_request()).receive_response(challenge(make_request(), digest(qop="auth")))
        c.credentials = DigestCredentials("bob", "other")
        assert c.credentials.username == "bob"
        assert c.realms == []

    def test_state_dropped_between_rounds(self) -> None:
        c = client()
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        flow = c.start(invite)
        first = flow.receive_response(
            challenge(invite, digest("atlanta.com", nonce="a", qop="auth"), status=407)
        )
        assert first is not None
        c.forget("atlanta.com")
        second = flow.receive_response(
            challenge(first, digest("biloxi.com", nonce="b", qop="auth"), status=407)
        )
        assert second is not None
        assert [creds_of(second, "Proxy-Authorization")["realm"]] == ["biloxi.com"]
        assert len(second.get_headers("Proxy-Authorization")) == 1

    def test_nc_wraps_with_a_fresh_cnonce(self) -> None:
        c = client()
        c.start(make_request()).receive_response(challenge(make_request(), digest(qop="auth")))
        c._states[(auth._Kind.WWW, REALM)].nc = 0xFFFFFFFF
        params = creds_of(c.start(make_request()).request)
        assert params["nc"] == "00000001"
        assert params["cnonce"] == cnonce_of(2)

    def test_sess_nc_wrap_recomputes_the_session_key(self) -> None:
        c = client()
        c.start(make_request()).receive_response(
            challenge(make_request(), digest(algorithm="MD5-sess", qop="auth"))
        )
        c._states[(auth._Kind.WWW, REALM)].nc = 0xFFFFFFFF
        params = creds_of(c.start(make_request()).request)
        assert params["response"] == expected_response(
            "MD5-sess",
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="REGISTER",
            uri="sip:example.com",
            qop="auth",
            cnonce=cnonce_of(2),
        )

    def test_scopes_are_bounded(self) -> None:
        c = client()
        for i in range(MAX_SCOPES_PER_REALM + 5):
            r = make_request(to=f"sip:u{i}@example.com")
            c.start(r).receive_response(challenge(r, digest(qop="auth")))
        state = c._states[(auth._Kind.WWW, REALM)]
        assert len(state.scopes) == MAX_SCOPES_PER_REALM
        assert not c.start(make_request(to="sip:u0@example.com")).request.has_header(
            "Authorization"
        )
        last = make_request(to=f"sip:u{MAX_SCOPES_PER_REALM + 4}@example.com")
        assert c.start(last).request.has_header("Authorization")

    def test_realms_are_bounded(self) -> None:
        c = client()
        for i in range(auth.MAX_CACHED_REALMS + 3):
            r = make_request(to=f"sip:u{i}@example.com")
            c.start(r).receive_response(challenge(r, digest(f"realm{i}")))
        assert len(c.realms) == auth.MAX_CACHED_REALMS
        assert c.realms[0] == "realm3"

    def test_request_without_to_or_call_id_gets_no_scope(self) -> None:
        bare = Request("OPTIONS", "sip:example.com", [("CSeq", "1 OPTIONS")])
        assert auth._scope(auth._Kind.WWW, bare) is None
        assert auth._scope(auth._Kind.PROXY, bare) is None
        broken = Request("OPTIONS", "sip:example.com", [("To", "<<<nonsense"), ("Call-ID", "x")])
        assert auth._scope(auth._Kind.WWW, broken) is None
        resend = client().start(broken).receive_response(challenge(broken, digest()))
        assert resend is not None  # answered all the same, just not cached for reuse


class TestCopiedRequests:
    """A request built from an earlier one may already carry credentials."""

    def test_old_credentials_for_the_realm_are_replaced(self) -> None:
        c = client()
        old = (
            'Digest username="alice", realm="example.com", nonce="old", '
            'uri="sip:example.com", response="x"'
        )
        keep = [
            'Digest username="alice", realm="elsewhere", nonce="o", uri="sip:x", response="y"',
            "Bearer abc",
            'Digest realm="x", garbage garbage',
        ]
        request = make_request(extra=[("Authorization", v) for v in [old, *keep]])
        resend = c.start(request).receive_response(challenge(request, digest(nonce="new")))
        assert resend is not None
        values = resend.get_headers("Authorization")
        assert values[:3] == keep
        assert len(values) == 4
        assert creds_of(resend, index=3)["nonce"] == "new"

    def test_nothing_to_drop(self) -> None:
        request = make_request(extra=[("Authorization", "Bearer abc")])
        resend = client().start(request).receive_response(challenge(request, digest()))
        assert resend is not None
        assert resend.get_headers("Authorization")[0] == "Bearer abc"


# -- algorithms, qop --------------------------------------------------------------------------


class TestAlgorithms:
    """RFC 7616 §3.4.2 / RFC 8760 §2.1: every algorithm through the client."""

    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    @pytest.mark.parametrize("qop", ["auth", "auth-int"])
    def test_answer(self, algorithm: str, qop: str) -> None:
        c = client()
        body = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
        invite = make_request("INVITE", "sip:bob@biloxi.com", body=body)
        resend = c.start(invite).receive_response(
            challenge(invite, digest("biloxi.com", algorithm=algorithm, qop=qop), status=407)
        )
        assert resend is not None
        params = creds_of(resend, "Proxy-Authorization")
        assert params["algorithm"] == algorithm
        assert params["qop"] == qop
        assert params["response"] == expected_response(
            algorithm,
            username=USER,
            realm="biloxi.com",
            password=PASSWORD,
            nonce="n1",
            method="INVITE",
            uri="sip:bob@biloxi.com",
            qop=qop,
            cnonce=cnonce_of(1),
            body=body,
        )

    @pytest.mark.parametrize("algorithm", ["MD5-sess", "SHA-256-sess", "SHA-512-256-sess"])
    def test_sess_reuse_keeps_the_session_key(self, algorithm: str) -> None:
        c = client()
        c.start(make_request()).receive_response(
            challenge(make_request(), digest(algorithm=algorithm, qop="auth"))
        )
        params = creds_of(c.start(make_request()).request)
        assert params["response"] == expected_response(
            algorithm,
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="REGISTER",
            uri="sip:example.com",
            qop="auth",
            nc="00000002",
            cnonce=cnonce_of(1),
        )


class TestQop:
    """Which qop: auth unless auth-int is the only one (see the module docstring)."""

    @pytest.mark.parametrize(
        ("offered", "prefer_auth_int", "chosen"),
        [
            ("auth", False, "auth"),
            ("auth-int", False, "auth-int"),
            ("auth,auth-int", False, "auth"),
            ("auth-int, auth", False, "auth"),
            ("auth,auth-int", True, "auth-int"),
            ("auth", True, "auth"),
            ("AUTH-INT", False, "auth-int"),
            ("auth-conf,auth", False, "auth"),
        ],
    )
    def test_choice(self, offered: str, prefer_auth_int: bool, chosen: str) -> None:
        c = client(prefer_auth_int=prefer_auth_int)
        resend = c.start(make_request()).receive_response(
            challenge(make_request(), digest(qop=offered))
        )
        assert resend is not None
        assert creds_of(resend)["qop"] == chosen

    def test_auth_int_hashes_the_real_body(self) -> None:
        c = client()
        body = "Hello, Bob! \u00e4\u00f8".encode()
        message = make_request("MESSAGE", "sip:bob@biloxi.com", body=body)
        resend = c.start(message).receive_response(challenge(message, digest(qop="auth-int")))
        assert resend is not None
        want = expected_response(
            "MD5",
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="MESSAGE",
            uri="sip:bob@biloxi.com",
            qop="auth-int",
            cnonce=cnonce_of(1),
            body=body,
        )
        assert creds_of(resend)["response"] == want
        # Pre-authorized requests hash their own body.
        second = make_request(
            "MESSAGE", "sip:bob@biloxi.com", to="sip:alice@example.com", body=b"again"
        )
        params = creds_of(c.start(second).request)
        assert params["response"] == expected_response(
            "MD5",
            username=USER,
            realm=REALM,
            password=PASSWORD,
            nonce="n1",
            method="MESSAGE",
            uri="sip:bob@biloxi.com",
            qop="auth-int",
            nc="00000002",
            cnonce=cnonce_of(1),
            body=b"again",
        )


# -- several challenges ---------------------------------------------------------------------


class TestSeveralChallenges:
    """RFC 8760 §2.3/2.4: one challenge per algorithm; websip takes the strongest."""

    @pytest.mark.parametrize(
        "order",
        [
            ("MD5", "SHA-256", "SHA-512-256"),
            ("SHA-512-256", "MD5", "SHA-256"),
            ("SHA-256", "SHA-512-256", "MD5"),
        ],
    )
    def test_strongest_whatever_the_order(self, order: tuple[str, ...]) -> None:
        values = [digest(nonce=f"nonce-{a}", algorithm=a, qop="auth") for a in order]
        resend = client().start(make_request()).receive_response(challenge(make_request(), *values))
        assert resend is not None
        assert len(resend.get_headers("Authorization")) == 1  # one answer per realm
        params = creds_of(resend)
        assert params["algorithm"] == "SHA-512-256"
        assert params["nonce"] == "nonce-SHA-512-256"

    def test_strongest_the_credentials_can_answer(self) -> None:
        # An MD5 ha1 cannot answer SHA-256.
        c = DigestClient(
            DigestCredentials(USER, ha1=HA1, realm=REALM), random_bytes=CountingRandom()
        )
        values = [digest(nonce="s", algorithm="SHA-256", qop="auth"), digest(nonce="m", qop="auth")]
        resend = c.start(make_request()).receive_response(challenge(make_request(), *values))
        assert resend is not None
        assert creds_of(resend)["nonce"] == "m"

    def test_ties_go_to_the_topmost(self) -> None:
        values = [
            digest(nonce="first", algorithm="SHA-256", qop="auth"),
            digest(nonce="second", algorithm="SHA-256-sess", qop="auth"),
        ]
        resend = client().start(make_request()).receive_response(challenge(make_request(), *values))
        assert resend is not None
        assert creds_of(resend)["nonce"] == "first"

    def test_unsupported_ones_are_skipped(self) -> None:
        values = [
            'Basic realm="example.com"',
            digest(nonce="aka", algorithm="AKAv1-MD5", qop="auth"),
            digest(nonce="conf", qop="auth-conf"),
            digest(nonce="sess", algorithm="SHA-256-sess"),  # -sess without qop
            digest(nonce="ok", qop="auth"),
        ]
        resend = client().start(make_request()).receive_response(challenge(make_request(), *values))
        assert resend is not None
        assert creds_of(resend)["nonce"] == "ok"

    def test_both_header_kinds_in_one_response(self) -> None:
        request = make_request("INVITE", "sip:bob@biloxi.com")
        response = challenge(request, digest("proxy.realm", qop="auth"), status=407)
        response.add_header("WWW-Authenticate", digest("uas.realm", qop="auth"))
        resend = client().start(request).receive_response(response)
        assert resend is not None
        assert creds_of(resend, "Proxy-Authorization")["realm"] == "proxy.realm"
        assert creds_of(resend, "Authorization")["realm"] == "uas.realm"

    def test_answerable_realm_answered_others_left(self) -> None:
        request = make_request("INVITE", "sip:bob@biloxi.com")
        response = challenge(
            request, digest("ok.realm", qop="auth"), 'Basic realm="basic.realm"', status=407
        )
        resend = client().start(request).receive_response(response)
        assert resend is not None
        assert len(resend.get_headers("Proxy-Authorization")) == 1


# -- stale nonces, failures, no loops -------------------------------------------------------


class TestStale:
    """RFC 7616 §3.3 stale=true: retry with the new nonce, not a failure."""

    def test_stale_retry(self) -> None:
        c = client()
        flow = c.start(make_request())
        first = flow.receive_response(challenge(make_request(), digest(nonce="n1", qop="auth")))
        assert first is not None
        second = flow.receive_response(
            challenge(first, digest(nonce="n2", qop="auth", stale="true"))
        )
        assert second is not None
        params = creds_of(second)
        assert params["nonce"] == "n2"
        assert params["nc"] == "00000001"
        assert params["cnonce"] == cnonce_of(2)
        assert flow.receive_response(ok(second)) is None

    def test_stale_uppercase(self) -> None:
        flow = client().start(make_request())
        first = flow.receive_response(challenge(make_request(), digest(nonce="n1")))
        assert first is not None
        assert flow.receive_response(challenge(first, digest(nonce="n2", stale="TRUE"))) is not None

    def test_stale_with_the_nonce_just_used_fails(self) -> None:
        flow = client().start(make_request())
        first = flow.receive_response(challenge(make_request(), digest(nonce="n1", qop="auth")))
        assert first is not None
        with pytest.raises(RequestError):
            flow.receive_response(challenge(first, digest(nonce="n1", qop="auth", stale="true")))

    def test_stale_retries_are_bounded(self) -> None:
        flow = client().start(make_request())
        request = flow.receive_response(challenge(make_request(), digest(nonce="n0")))
        for i in range(MAX_STALE_RETRIES):
            assert request is not None
            request = flow.receive_response(challenge(request, digest(nonce=f"s{i}", stale="true")))
        assert request is not None
        with pytest.raises(RequestError):
            flow.receive_response(challenge(request, digest(nonce="again", stale="true")))

    def test_stale_but_unanswerable_fails(self) -> None:
        flow = client().start(make_request())
        first = flow.receive_response(challenge(make_request(), digest(nonce="n1")))
        assert first is not None
        with pytest.raises(RequestError):
            flow.receive_response(
                challenge(first, digest(nonce="n2", stale="true", algorithm="SHA-1"))
            )


class TestNoLoops:
    """RFC 3261 §22.1: never re-attempt with credentials that were just rejected."""

    def test_rechallenge_after_answer_fails(self) -> None:
        c = client()
        flow = c.start(make_request())
        first = flow.receive_response(challenge(make_request(), digest(nonce="n1", qop="auth")))
        assert first is not None
        rejected = challenge(first, digest(nonce="n2", qop="auth"))
        with pytest.raises(RequestError) as info:
            flow.receive_response(rejected)
        assert info.value.cause == causes.AUTHENTICATION_ERROR
        assert info.value.response is rejected
        assert "example.com" in str(info.value)
        assert_no_secret(str(info.value))
        # The rejected credentials are not offered again.
        assert c.realms == []
        assert not c.start(make_request()).request.has_header("Authorization")

    def test_proxy_rechallenge_fails(self) -> None:
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        flow = client().start(invite)
        first = flow.receive_response(
            challenge(invite, digest("atlanta.com", qop="auth"), status=407)
        )
        assert first is not None
        with pytest.raises(RequestError):
            flow.receive_response(
                challenge(first, digest("atlanta.com", nonce="x", qop="auth"), status=407)
            )

    def test_rejected_realm_with_other_new_realms_still_fails(self) -> None:
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        flow = client().start(invite)
        first = flow.receive_response(challenge(invite, digest("a.realm"), status=407))
        assert first is not None
        with pytest.raises(RequestError, match=r"a\.realm"):
            flow.receive_response(
                challenge(first, digest("b.realm"), digest("a.realm", nonce="x"), status=407)
            )

    def test_new_realm_every_time_is_bounded(self) -> None:
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        flow = client().start(invite)
        request: Request | None = invite
        for i in range(MAX_ROUNDS):
            assert request is not None
            request = flow.receive_response(challenge(request, digest(f"realm{i}"), status=407))
        assert request is not None
        with pytest.raises(RequestError, match="still challenged"):
            flow.receive_response(challenge(request, digest("one-more"), status=407))

    def test_too_many_realms_at_once(self) -> None:
        invite = make_request("INVITE", "sip:bob@biloxi.com")
        values = [digest(f"realm{i}") for i in range(MAX_REALMS_PER_REQUEST + 1)]
        with pytest.raises(RequestError, match="realms"):
            client().start(invite).receive_response(challenge(invite, *values, status=407))


class TestUnsupported:
    """A challenge websip cannot answer ends in AUTHENTICATION_ERROR at once."""

    @pytest.mark.parametrize(
        "value",
        [
            'Basic realm="example.com"',
            digest(algorithm="AKAv1-MD5", qop="auth"),
            digest(algorithm="SHA-1"),
            digest(qop="auth-conf"),
            digest(algorithm="MD5-sess"),
            'Digest nonce="n1", qop="auth"',  # no realm
            'Digest realm="example.com", qop="auth"',  # no nonce
            'Digest realm="example.com", nonce="n1", garbage garbage',  # malformed
            'Digest realm="\ud800", nonce="n1"',  # not encodable
        ],
    )
    def test_fails(self, value: str) -> None:
        response = challenge(make_request(), value)
        with pytest.raises(RequestError) as info:
            client().start(make_request()).receive_response(response)
        assert info.value.cause == causes.AUTHENTICATION_ERROR
        assert info.value.response is response

    def test_no_challenge_header_at_all(self) -> None:
        with pytest.raises(RequestError, match="no Digest challenge"):
            client().start(make_request()).receive_response(
                Response.for_request(make_request(), 401)
            )

    def test_strict_realm_refuses_other_realms(self) -> None:
        c = DigestClient(DigestCredentials(USER, PASSWORD, realm=REALM, strict_realm=True))
        with pytest.raises(RequestError):
            c.start(make_request()).receive_response(
                challenge(make_request(), digest("evil.example"))
            )


# -- Authentication-Info --------------------------------------------------------------------


class TestNextNonce:
    """RFC 2617 §3.2.3 / RFC 3261 §20.6: Authentication-Info nextnonce."""

    def test_nextnonce_used_for_the_next_request(self) -> None:
        c = client()
        flow = c.start(make_request())
        resend = flow.receive_response(challenge(make_request(), digest(qop="auth")))
        assert resend is not None
        done = Response.for_request(
            resend, 200, headers=[("Authentication-Info", 'nextnonce="n9"')]
        )
        assert flow.receive_response(done) is None
        params = creds_of(c.start(make_request()).request)
        assert params["nonce"] == "n9"
        assert params["nc"] == "00000001"
        assert params["cnonce"] == cnonce_of(2)

    @pytest.mark.parametrize("info", ['nextnonce="n9', 'qop=auth, rspauth="abc"', 'nextnonce=""'])
    def test_ignored_when_unusable(self, info: str) -> None:
        c = client()
        flow = c.start(make_request())
        resend = flow.receive_response(challenge(make_request(), digest(qop="auth")))
        assert resend is not None
        assert (
            flow.receive_response(
                Response.for_request(resend, 200, headers=[("Authentication-Info", info)])
            )
            is None
        )
        assert creds_of(c.start(make_request()).request)["nonce"] == "n1"

    def test_ignored_without_exactly_one_www_realm(self) -> None:
        c = client()
        request = make_request()
        response = challenge(request, digest("r1"), digest("r2"))
        flow = c.start(request)
        resend = flow.receive_response(response)
        assert resend is not None
        flow.receive_response(
            Response.for_request(resend, 200, headers=[("Authentication-Info", 'nextnonce="x"')])
        )
        assert all(c._states[(auth._Kind.WWW, r)].nonce == "n1" for r in ("r1", "r2"))

    def test_no_header(self) -> None:
        c = client()
        flow = c.start(make_request())
        resend = flow.receive_response(challenge(make_request(), digest()))
        assert resend is not None
        assert flow.receive_response(ok(resend)) is None
        assert c._states[(auth._Kind.WWW, REALM)].nonce == "n1"


# -- the generator --------------------------------------------------------------------------


class TestAuthFlow:
    """Habit 14: the retry logic as a generator any driver can step (httpx style)."""

    def test_register_then_ok(self) -> None:
        gen = client().auth_flow(make_request())
        first = next(gen)
        assert not first.has_header("Authorization")
        second = gen.send(challenge(first, digest(qop="auth")))
        assert creds_of(second)["nonce"] == "n1"
        final = ok(second)
        with pytest.raises(StopIteration) as stop:
            gen.send(final)
        assert stop.value.value is final

    def test_failure_is_raised_out_of_send(self) -> None:
        gen = client().auth_flow(make_request())
        first = next(gen)
        second = gen.send(challenge(first, digest(nonce="a")))
        with pytest.raises(RequestError) as info:
            gen.send(challenge(second, digest(nonce="b")))
        assert info.value.cause == causes.AUTHENTICATION_ERROR

    def test_driver_loop(self) -> None:
        # What a core does: send, feed the final response, until done.
        server_nonces = iter(["n1"])

        def server(request: Request) -> Response:
            if not request.has_header("Proxy-Authorization"):
                return challenge(
                    request,
                    digest("atlanta.com", nonce=next(server_nonces), qop="auth"),
                    status=407,
                )
            return ok(request)

        gen = client().auth_flow(make_request("INVITE", "sip:bob@biloxi.com"))
        sent = []
        try:
            request = next(gen)
            while True:
                sent.append(request)
                request = gen.send(server(request))
        except StopIteration as stop:
            final = stop.value
        assert final.status_code == 200
        assert len(sent) == 2


# -- secrets --------------------------------------------------------------------------------


class TestSecretsNeverShown:
    """DESIGN.md §4: the password and ha1 never appear in logs, exceptions or reprs."""

    @pytest.mark.parametrize("credentials_kind", ["password", "ha1"])
    def test_everywhere(self, credentials_kind: str, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="websip.auth")
        if credentials_kind == "password":
            creds = DigestCredentials(USER, PASSWORD)
        else:
            creds = DigestCredentials(USER, ha1=HA1, realm=REALM)
        c = DigestClient(creds, random_bytes=CountingRandom())
        texts = [repr(creds), str(creds), repr(c), str(c)]
        flow = c.start(make_request())
        resend = flow.receive_response(challenge(make_request(), digest(qop="auth")))
        assert resend is not None
        texts += [repr(flow), str(flow), repr(resend), bytes(resend).decode()]
        texts += [repr(state) for state in c._states.values()]
        with pytest.raises(RequestError) as info:
            flow.receive_response(challenge(resend, digest(nonce="n2", qop="auth")))
        texts += [str(info.value), repr(info.value), repr(info.value.args)]
        texts += [record.getMessage() for record in caplog.records]
        assert caplog.records, "the debug log was exercised"
        for text in texts:
            assert_no_secret(text)
        assert any("rejected" in record.getMessage() for record in caplog.records)

    def test_unanswerable_is_logged_without_secrets(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="websip.auth")
        with pytest.raises(RequestError):
            client().start(make_request()).receive_response(
                challenge(make_request(), digest(algorithm="SHA-1"))
            )
        assert any("no answerable challenge" in r.getMessage() for r in caplog.records)
        for record in caplog.records:
            assert_no_secret(record.getMessage())


# -- property tests -------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
    max_size=20,
)
_ALGORITHM_TOKENS = st.sampled_from(
    [*ALGORITHMS, "md5", "sha-256-SESS", "SHA-512", "AKAv1-MD5", "", "MD5 "]
)
_QOP_VALUES = st.sampled_from(["auth", "auth-int", "auth,auth-int", "auth-conf", "", " , ", "AUTH"])


@st.composite
def challenge_params(draw: st.DrawFn) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, strategy in (
        ("realm", _TEXT),
        ("nonce", _TEXT),
        ("opaque", _TEXT),
        ("algorithm", _ALGORITHM_TOKENS),
        ("qop", _QOP_VALUES),
        ("stale", st.sampled_from(["true", "false", "TRUE", "x"])),
        ("userhash", st.sampled_from(["true", "false"])),
        ("domain", _TEXT),
    ):
        if draw(st.booleans()):
            params[name] = draw(strategy)
    return params


class TestProperties:
    """Hypothesis: any challenge yields a request or the documented error, nothing else."""

    @given(
        st.lists(challenge_params(), min_size=1, max_size=4),
        st.sampled_from([401, 407]),
        st.sampled_from(["Digest", "digest", "Basic", "Bearer"]),
    )
    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    def test_only_documented_outcomes(
        self, params: list[dict[str, str]], status: int, scheme: str
    ) -> None:
        request = make_request("INVITE", "sip:bob@biloxi.com", body=b"v=0\r\n")
        response = challenge(request, *(str(Challenge(scheme, p)) for p in params), status=status)
        c = client()
        flow = c.start(request)
        try:
            resend = flow.receive_response(response)
        except RequestError as error:
            assert error.cause == causes.AUTHENTICATION_ERROR
            return
        assert resend is not None
        header = "Authorization" if status == 401 else "Proxy-Authorization"
        sent = creds_of(resend, header)
        # Whatever was answered is right, checked independently.
        state = c._states[(auth._Kind.WWW if status == 401 else auth._Kind.PROXY, sent["realm"])]
        assert sent["response"] == expected_response(
            state.algorithm.value,
            username=sent["username"] if "userhash" not in sent else USER,
            realm=sent["realm"],
            password=PASSWORD,
            nonce=sent["nonce"],
            method="INVITE",
            uri="sip:bob@biloxi.com",
            qop=sent.get("qop"),
            nc=sent.get("nc", ""),
            cnonce=sent.get("cnonce", ""),
            body=b"v=0\r\n",
        )

    @given(st.lists(_TEXT.filter(lambda t: t.strip() != ""), min_size=1, max_size=3))
    @settings(max_examples=200)
    def test_any_header_text(self, values: list[str]) -> None:
        request = make_request()
        response = challenge(request, *values)
        try:
            resend = client().start(request).receive_response(response)
        except RequestError as error:
            assert error.cause == causes.AUTHENTICATION_ERROR
        else:
            assert resend is not None
            assert resend.has_header("Authorization")

    @given(st.lists(st.sampled_from(["challenge", "stale", "ok", "forbidden"]), max_size=12))
    @settings(max_examples=200)
    def test_always_terminates(self, script: list[str]) -> None:
        # Whatever a server does, a flow ends within MAX_ROUNDS answers.
        flow = client().start(make_request())
        request: Request | None = flow.request
        nonces = (f"n{i}" for i in range(100))
        for step in _cycle(script):
            assert request is not None
            if step == "ok":
                assert flow.receive_response(ok(request)) is None
                return
            if step == "forbidden":
                assert flow.receive_response(Response.for_request(request, 403)) is None
                return
            extra = {"stale": "true"} if step == "stale" else {}
            try:
                request = flow.receive_response(
                    challenge(request, digest(nonce=next(nonces), **extra))
                )
            except RequestError:
                return
            assert flow.rounds <= MAX_ROUNDS


def _cycle(script: list[str]) -> Iterator[str]:
    yield from script
    while True:
        yield "challenge"
