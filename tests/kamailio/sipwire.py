"""Hand-written SIP text for the Kamailio smoke tests (no websip code on purpose).

A deliberately tiny toolkit: build a request or a reply as text, parse one
back into (first line, headers, body), compute an RFC 2617/7616 MD5 digest,
and a `WsPeer` that owns one WebSocket connection and plays a SIP UA by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

CRLF = "\r\n"


def token(n: int = 8) -> str:
    return secrets.token_hex(n)


@dataclass
class SipMessage:
    first_line: str
    headers: list[tuple[str, str]]
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.first_line.split(" ", 2)[1])

    @property
    def reason(self) -> str:
        return self.first_line.split(" ", 2)[2]

    @property
    def method(self) -> str:
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        return self.get("CSeq").split()[1]

    @property
    def ruri(self) -> str:
        return self.first_line.split(" ")[1]

    def get_all(self, name: str) -> list[str]:
        name = _COMPACT.get(name.lower(), name.lower())
        return [v for k, v in self.headers if _COMPACT.get(k.lower(), k.lower()) == name]

    def get(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def has(self, name: str) -> bool:
        return bool(self.get_all(name))


_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
}


def parse(text: str) -> SipMessage:
    head, _, body = text.partition(CRLF + CRLF)
    lines = head.split(CRLF)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded line
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return SipMessage(lines[0], headers, body)


def render(first_line: str, headers: list[tuple[str, str]], body: str = "") -> str:
    out = [first_line]
    out += [f"{k}: {v}" for k, v in headers if k.lower() != "content-length"]
    out.append(f"Content-Length: {len(body.encode())}")
    return CRLF.join(out) + CRLF + CRLF + body


def parse_auth_params(value: str) -> dict[str, str]:
    """Parse 'Digest realm="x", nonce="y", qop="auth"' into a dict."""
    scheme, _, rest = value.partition(" ")
    assert scheme.lower() == "digest", value
    params = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]+)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return params


def digest_authorization(
    challenge: str, method: str, uri: str, username: str, password: str, nc: int = 1
) -> str:
    """Credentials answering a WWW-/Proxy-Authenticate value (MD5, qop=auth if offered)."""
    p = parse_auth_params(challenge)
    algorithm = p.get("algorithm", "MD5")
    assert algorithm.upper() == "MD5", algorithm

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = md5(f"{username}:{p['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    parts = [
        f'username="{username}"',
        f'realm="{p["realm"]}"',
        f'nonce="{p["nonce"]}"',
        f'uri="{uri}"',
    ]
    qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = token(8)
        ncs = f"{nc:08x}"
        response = md5(f"{ha1}:{p['nonce']}:{ncs}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        response = md5(f"{ha1}:{p['nonce']}:{ha2}")
    parts.append(f'response="{response}"')
    parts.append(f"algorithm={algorithm}")
    if "opaque" in p:
        parts.append(f'opaque="{p["opaque"]}"')
    return "Digest " + ", ".join(parts)


@dataclass
class WsPeer:
    """One SIP-over-WebSocket client written by hand, for one user."""

    url: str
    user: str
    password: str
    domain: str
    ssl_context: ssl.SSLContext | None = None
    instance: str = field(default_factory=lambda: f"urn:uuid:{_uuid()}")
    ws: ClientConnection | None = None
    host: str = field(default_factory=lambda: f"{token(4)}.invalid")
    call_id_prefix: str = field(default_factory=lambda: token(6))
    cseq: int = 0
    from_tag: str = field(default_factory=lambda: token(4))
    reg_call_id: str = field(default_factory=lambda: token(10))
    last_register_ok: SipMessage | None = None

    async def connect(self) -> None:
        self.ws = await connect(
            self.url,
            subprotocols=[Subprotocol("sip")],
            ssl=self.ssl_context,
            open_timeout=5,
        )
        assert self.ws.subprotocol == "sip"

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def contact_uri(self) -> str:
        return f"sip:{self.user}@{self.host};transport=ws"

    def via(self, branch: str | None = None) -> str:
        return f"SIP/2.0/WS {self.host};branch=z9hG4bK{branch or token(8)}"

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def recv(self, timeout: float = 5.0) -> SipMessage:
        assert self.ws is not None
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(data, bytes):
            data = data.decode()
        return parse(data)

    async def recv_final(self, timeout: float = 5.0) -> SipMessage:
        """Next reply with a status >= 200 (provisional replies are skipped)."""
        while True:
            msg = await self.recv(timeout)
            if msg.is_request:
                raise AssertionError(f"expected a reply, got {msg.first_line}")
            if msg.status >= 200:
                return msg

    def request(
        self,
        method: str,
        ruri: str,
        *,
        to: str | None = None,
        call_id: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: str = "",
        content_type: str | None = None,
        contact: str | None = None,
        cseq: int | None = None,
        branch: str | None = None,
    ) -> str:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        headers = [
            ("Via", self.via(branch)),
            ("Max-Forwards", "70"),
            ("To", to or f"<{ruri}>"),
            ("From", f"<{self.aor}>;tag={self.from_tag}"),
            ("Call-ID", call_id or f"{self.call_id_prefix}-{token(6)}"),
            ("CSeq", f"{cseq} {method}"),
        ]
        if contact is not None:
            headers.append(("Contact", contact))
        headers += extra or []
        if content_type:
            headers.append(("Content-Type", content_type))
        return render(f"{method} {ruri} SIP/2.0", headers, body)

    def register_text(
        self,
        expires: int = 600,
        auth: str | None = None,
        supported: str = "path, gruu, outbound",
        contact_params: str | None = None,
        reg_id: int = 1,
    ) -> str:
        self.cseq += 1
        params = contact_params
        if params is None:
            params = f';reg-id={reg_id};+sip.instance="<{self.instance}>";expires={expires}'
        headers = [
            ("Via", self.via()),
            ("Max-Forwards", "70"),
            ("To", f"<{self.aor}>"),
            ("From", f"<{self.aor}>;tag={self.from_tag}"),
            ("Call-ID", self.reg_call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", f"<{self.contact_uri};ob>{params}"),
            ("Expires", str(expires)),
            ("Supported", supported),
        ]
        if auth:
            headers.append(("Authorization", auth))
        return render(f"REGISTER sip:{self.domain} SIP/2.0", headers)

    async def register(self, expires: int = 600, **kw: Any) -> SipMessage:
        """REGISTER, answer the 401 once; return the final reply."""
        await self.send(self.register_text(expires, **kw))
        reply = await self.recv_final()
        if reply.status == 401:
            auth = digest_authorization(
                reply.get("WWW-Authenticate"),
                "REGISTER",
                f"sip:{self.domain}",
                self.user,
                self.password,
            )
            await self.send(self.register_text(expires, auth=auth, **kw))
            reply = await self.recv_final()
        if reply.status == 200:
            self.last_register_ok = reply
        return reply

    async def send_authenticated(
        self, method: str, ruri: str, extra: list[tuple[str, str]] | None = None, **kw: Any
    ) -> SipMessage:
        """Send a request; on 407 resend it (CSeq+1, same Call-ID) with credentials.

        Returns the final reply.
        """
        call_id = kw.pop("call_id", None) or f"{self.call_id_prefix}-{token(6)}"
        await self.send(self.request(method, ruri, call_id=call_id, extra=extra, **kw))
        reply = await self.recv_final()
        if reply.status == 407:
            auth = digest_authorization(
                reply.get("Proxy-Authenticate"), method, ruri, self.user, self.password
            )
            extra2 = [*(extra or []), ("Proxy-Authorization", auth)]
            await self.send(self.request(method, ruri, call_id=call_id, extra=extra2, **kw))
            reply = await self.recv_final()
        return reply


def reply_to(
    request: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: str = "",
) -> str:
    """A reply echoing Via/From/To/Call-ID/CSeq (and Record-Route) of ``request``."""
    headers: list[tuple[str, str]] = [("Via", v) for v in request.get_all("Via")]
    headers += [("Record-Route", v) for v in request.get_all("Record-Route")]
    to = request.get("To")
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    headers += [
        ("From", request.get("From")),
        ("To", to),
        ("Call-ID", request.get("Call-ID")),
        ("CSeq", request.get("CSeq")),
    ]
    headers += extra or []
    return render(f"SIP/2.0 {status} {reason}", headers, body)


def _uuid() -> str:
    return str(uuid.uuid4())
