"""Server-side digest: challenges, verification, staleness and replay (sans-I/O)."""

from __future__ import annotations

import random

import pytest

from websip.auth import compute_response
from websip.server.auth import AuthOutcome, DigestVerifier
from websip.sip import Credentials, Request

REALM = "websip.test"


def verifier(**kw: object) -> DigestVerifier:
    return DigestVerifier(
        {"alice": "alicepw"},
        REALM,
        random=random.Random(7).randbytes,
        **kw,  # type: ignore[arg-type]
    )


def register(credentials: Credentials | None = None, header: str = "Authorization") -> Request:
    headers = [
        ("Via", "SIP/2.0/WS a.invalid;branch=z9hG4bK1"),
        ("From", "<sip:alice@websip.test>;tag=1"),
        ("To", "<sip:alice@websip.test>"),
        ("Call-ID", "c1"),
        ("CSeq", "1 REGISTER"),
    ]
    if credentials is not None:
        headers.append((header, str(credentials)))
    return Request("REGISTER", "sip:websip.test", headers)


def answer(
    nonce: str,
    *,
    algorithm: str = "MD5",
    password: str = "alicepw",
    nc: int = 1,
    uri: str = "sip:websip.test",
    username: str = "alice",
    realm: str = REALM,
    method: str = "REGISTER",
) -> Credentials:
    response = compute_response(
        algorithm,
        username=username,
        realm=realm,
        nonce=nonce,
        method=method,
        uri=uri,
        password=password,
        qop="auth",
        nc=nc,
        cnonce="cn",
    )
    return Credentials(
        "Digest",
        {
            "username": username,
            "realm": realm,
            "nonce": nonce,
            "uri": uri,
            "response": response,
            "algorithm": algorithm,
            "qop": "auth",
            "nc": f"{nc:08x}",
            "cnonce": "cn",
        },
    )


def test_challenges_one_per_algorithm_preferred_first() -> None:
    challenges = verifier().challenges(10.0)
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert {c.nonce for c in challenges} == {challenges[0].nonce}
    assert all(c.realm == REALM and c.qop == ["auth"] and not c.stale for c in challenges)
    assert all(c.stale for c in verifier().challenges(10.0, stale=True))


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_right_password_is_accepted(algorithm: str) -> None:
    v = verifier()
    nonce = v.new_nonce(10.0)
    result = v.verify(register(answer(nonce, algorithm=algorithm)), 11.0)
    assert result.outcome is AuthOutcome.OK and result.username == "alice"


def test_proxy_authorization_is_read_for_proxy_checks() -> None:
    v = verifier()
    nonce = v.new_nonce(10.0)
    request = register(answer(nonce), header="Proxy-Authorization")
    assert v.verify(request, 10.0).outcome is AuthOutcome.MISSING
    assert v.verify(request, 10.0, proxy=True).ok


@pytest.mark.parametrize(
    "change",
    [
        {"password": "wrong"},
        {"username": "mallory"},
        {"uri": "sip:other.test"},
        {"method": "INVITE"},
    ],
)
def test_wrong_credentials_fail(change: dict[str, str]) -> None:
    v = verifier()
    nonce = v.new_nonce(10.0)
    assert v.verify(register(answer(nonce, **change)), 10.0).outcome is AuthOutcome.FAILED  # type: ignore[arg-type]


def test_missing_or_other_realm_is_missing() -> None:
    v = verifier()
    assert v.verify(register(), 1.0).outcome is AuthOutcome.MISSING
    other = answer(v.new_nonce(1.0), realm="elsewhere")
    assert v.verify(register(other), 1.0).outcome is AuthOutcome.MISSING


def test_forged_nonce_and_unoffered_algorithm_fail() -> None:
    v = verifier()
    assert v.verify(register(answer("Zm9yZ2Vk")), 1.0).outcome is AuthOutcome.FAILED
    other_secret = DigestVerifier({"alice": "alicepw"}, REALM).new_nonce(1.0)
    assert v.verify(register(answer(other_secret)), 1.0).outcome is AuthOutcome.FAILED
    md5_only = verifier(algorithms=["MD5"])
    nonce = md5_only.new_nonce(1.0)
    assert md5_only.verify(register(answer(nonce, algorithm="SHA-256")), 1.0).outcome is (
        AuthOutcome.FAILED
    )


def test_old_nonce_is_stale_and_replayed_count_fails() -> None:
    v = verifier(nonce_ttl=30.0)
    nonce = v.new_nonce(100.0)
    assert v.verify(register(answer(nonce, nc=1)), 101.0).ok
    assert v.verify(register(answer(nonce, nc=1)), 102.0).outcome is AuthOutcome.FAILED
    assert v.verify(register(answer(nonce, nc=2)), 103.0).ok
    assert v.verify(register(answer(nonce, nc=3)), 131.0).outcome is AuthOutcome.STALE
    stale = v.verify(register(answer(nonce, nc=4, password="bad")), 131.0)
    assert stale.outcome is AuthOutcome.FAILED  # stale only for a right password


def test_purge_forgets_expired_nonces() -> None:
    v = verifier(nonce_ttl=30.0)
    nonce = v.new_nonce(0.0)
    assert v.verify(register(answer(nonce)), 1.0).ok
    v.purge(10.0)
    assert v.verify(register(answer(nonce, nc=1)), 10.0).outcome is AuthOutcome.FAILED
    v.purge(40.0)
    assert v._counts == {}


def test_bad_algorithm_configuration() -> None:
    with pytest.raises(ValueError):
        DigestVerifier({}, REALM, algorithms=["MD5-sess"])
    with pytest.raises(ValueError):
        DigestVerifier({}, REALM, algorithms=[])


def test_nonces_of_one_instant_differ() -> None:
    # two clients challenged in the same millisecond must not share a nonce-count
    v = verifier()
    first, second = v.new_nonce(5.0), v.new_nonce(5.0)
    assert first != second
    assert v.verify(register(answer(first)), 5.0).ok
    assert v.verify(register(answer(second)), 5.0).ok
