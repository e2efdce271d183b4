"""Adapters for the Python peer parsers: sippy and sipmessage (from PyPI).

See common.py for the adapter interface and bench/README.md for what modes (a)
and (b) read. Each adapter uses only the library's own API; where a library has
no typed parser for a header, mode (b) leaves that header raw (noted below).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from common import body_len, rport_value, section

# --------------------------------------------------------------------------
# sippy (sippy.SipRequest / sippy.SipResponse)
# --------------------------------------------------------------------------


class SippyAdapter:
    """sippy parses the start line, splits every header line (and
    comma-separated values of the header types it knows) and builds one
    header-body object per value inside the SipRequest/SipResponse constructor;
    each body parses itself on getBody() (getHFBody/getHFBodys). sippy's own
    transport decodes the datagram to ``str`` before parsing, so it is fed
    ``str`` (decoded outside the timed loop, like JsSIP's WebSocket text)."""

    name = "sippy"

    def __init__(self) -> None:
        from sippy.SipRequest import SipRequest
        from sippy.SipResponse import SipResponse

        self._req = SipRequest
        self._resp = SipResponse
        self.version = metadata.version("sippy")

    def _parse(self, text: str) -> Any:
        # The same dispatch as sippy.SipTransactionManager.handleIncoming().
        if text.startswith("SIP/2.0 "):
            return self._resp(text)
        return self._req(text)

    def prepare(self, raw: bytes) -> str:
        return raw.decode("utf-8")

    def mode_a(self, text: str) -> int:
        m = self._parse(text)
        s = m.scode if isinstance(m, self._resp) else len(m.ruri.host)
        via = m.getHFBody("via")
        s += len(via.getBranch() or "") + len(via.hostname)
        frm = m.getHFBody("from")
        s += len(frm.getUrl().host) + len(frm.getTag() or "")
        to = m.getHFBody("to")
        s += len(to.getUrl().host) + len(to.getTag() or "")
        s += len(str(m.getHFBody("call-id")))
        s += m.getHFBody("cseq").getCSeq()[0]
        for c in m.getHFBodys("contact"):
            s += len(c.getUrl().host)
        cl = m._SipMsg__content_length  # sippy keeps Content-Length apart
        if cl is not None:
            s += cl.getBody().number
        return s

    def mode_b(self, text: str) -> int:
        m = self._parse(text)
        s = 0
        for h in m.headers:  # one entry per value, every header sippy keeps
            h.getBody()  # parses (a no-op for headers sippy has no type for)
            s += 1
        for h in (m._SipMsg__content_length, m._SipMsg__content_type):
            if h is not None:
                h.getBody()
                s += 1
        return s

    # ---- canonical values -------------------------------------------------
    @staticmethod
    def _uri(u: Any, with_params: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scheme": u.scheme,
            "user": u.username,
            "host": u.host,
            "port": u.port,
        }
        if with_params:
            params: dict[str, Any] = {}
            if u.usertype is not None:
                params["user"] = u.usertype
            for n in ("transport", "ttl", "maddr", "method", "tag"):
                v = getattr(u, n)
                if v is not None:
                    params[n] = str(v)
            for p in u.other:
                k, _, v = p.partition("=")
                params[k] = v if _ else None
            if u.lr:
                params["lr"] = None
            out["params"] = params
        return out

    def _name_addr(self, hf: Any) -> dict[str, Any]:
        a = hf.getUri()  # SipAddress
        return {"display_name": a.name, "uri": self._uri(a.url, False), "tag": hf.getTag()}

    def _contact(self, hf: Any) -> dict[str, Any]:
        a = hf.getUri()
        return {"display_name": a.name, "uri": self._uri(a.url), "params": dict(a.params)}

    def values(self, raw: bytes) -> dict[str, Any]:
        text = self.prepare(raw)
        m = self._parse(text)
        v: dict[str, Any] = {}
        if text.startswith("SIP/2.0 "):
            v["kind"] = "response"
            v["status"], v["reason"] = m.scode, m.reason
        else:
            v["kind"] = "request"
            v["method"] = m.method
            v["ruri"] = section(lambda: self._uri(m.ruri))
        v["via_count"] = section(lambda: m.countHFs("via"))

        def via() -> dict[str, Any]:
            b = m.getHFBody("via")
            return {
                "transport": b.transport,
                "host": b.hostname,
                "port": b.port,
                "branch": b.getBranch(),
                "rport": rport_value("rport" in b.params, b.params.get("rport")),
                "received": b.params.get("received"),
            }

        v["via"] = section(via)
        v["from"] = section(lambda: self._name_addr(m.getHFBody("from")))
        v["to"] = section(lambda: self._name_addr(m.getHFBody("to")))
        v["call_id"] = section(lambda: str(m.getHFBody("call-id")))
        v["cseq"] = section(
            lambda: dict(zip(("seq", "method"), m.getHFBody("cseq").getCSeq(), strict=True))
        )
        v["contacts"] = section(lambda: [self._contact(c) for c in m.getHFBodys("contact")])
        v["content_length"] = section(
            lambda: (
                None
                if m._SipMsg__content_length is None
                else m._SipMsg__content_length.getBody().number
            )
        )
        v["route"] = section(lambda: [self._uri(r.getUrl()) for r in m.getHFBodys("route")])
        v["record_route"] = section(
            lambda: [self._uri(r.getUrl()) for r in m.getHFBodys("record-route")]
        )

        def www() -> list[dict[str, Any]]:
            out = []
            for c in m.getHFBodys("www-authenticate"):
                # sippy keeps no scheme: it assumes Digest and drops the word.
                out.append(
                    {
                        "scheme": None,
                        "realm": c.realm,
                        "nonce": c.nonce,
                        "opaque": c.opaque,
                        "algorithm": c.algorithm,
                        "qop": c.qop,
                    }
                )
            return out

        v["www_authenticate"] = section(www)
        # sippy only frames bodies of requests and of 101..399 responses.
        v["body_len"] = section(lambda: body_len(None if m.body is None else str(m.body)))
        return v


# --------------------------------------------------------------------------
# sipmessage (sipmessage.Message.parse)
# --------------------------------------------------------------------------


class SipmessageAdapter:
    """sipmessage.Message.parse(bytes) frames the message and stores raw header
    strings; its typed accessors (``m.via``, ``m.contact``, ``m.cseq``, ...)
    parse on every access. Mode (b) parses every header for which sipmessage
    has a typed parser, with that parser (the others, e.g. Allow, Min-SE,
    Session-Expires, Event, stay raw strings: sipmessage has no type for them)."""

    name = "sipmessage"

    def __init__(self) -> None:
        import email.utils

        import sipmessage as sm

        self._sm = sm
        self.version = metadata.version("sipmessage")
        Address, Via, CSeq = sm.Address, sm.Via, sm.CSeq
        MediaType, AuthChallenge, AuthCredentials = (
            sm.MediaType,
            sm.AuthChallenge,
            sm.AuthCredentials,
        )

        def token_list(value: str) -> list[str]:
            # what sipmessage.Message._get_token_list does with one value
            return [x.strip() for x in value.split(",")] if value.strip() else []

        # header name (lower-case) -> sipmessage's parser for one raw value,
        # the same parsers its Message properties use.
        self._typed: dict[str, Any] = {
            "via": Via.parse_many,
            "contact": Address.parse_many,
            "route": Address.parse_many,
            "record-route": Address.parse_many,
            "from": Address.parse,
            "to": Address.parse,
            "cseq": CSeq.parse,
            "content-length": int,
            "max-forwards": int,
            "expires": int,
            "min-expires": int,
            "content-type": MediaType.parse,
            "accept": MediaType.parse_many,
            "www-authenticate": AuthChallenge.parse,
            "proxy-authenticate": AuthChallenge.parse,
            "authorization": AuthCredentials.parse,
            "proxy-authorization": AuthCredentials.parse,
            "supported": token_list,
            "require": token_list,
            "proxy-require": token_list,
            "unsupported": token_list,
            "in-reply-to": token_list,
            "date": email.utils.parsedate_to_datetime,
        }

    def prepare(self, raw: bytes) -> bytes:
        return raw

    def mode_a(self, raw: bytes) -> int:
        sm = self._sm
        m = sm.Message.parse(raw)
        s = len(m.uri.host) if isinstance(m, sm.Request) else m.code
        # Top Via only: the first Via header line, parsed by sipmessage's Via.
        via = sm.Via.parse_many(m.headers["Via"])[0]
        s += len(via.parameters.get("branch") or "") + len(via.host)
        frm = m.from_address
        s += len(frm.uri.host) + len(frm.parameters.get("tag") or "")
        to = m.to_address
        s += len(to.uri.host) + len(to.parameters.get("tag") or "")
        s += len(m.call_id) + m.cseq.sequence
        for c in m.contact:
            s += len(c.uri.host)
        cl = m.content_length
        if cl is not None:
            s += cl
        return s

    def mode_b(self, raw: bytes) -> int:
        m = self._sm.Message.parse(raw)
        typed = self._typed
        s = 0
        for name in m.headers.keys():  # noqa: SIM118 - Headers is not iterable
            fn = typed.get(name.lower())
            if fn is None:
                continue  # no typed parser in sipmessage: stays raw
            for value in m.headers.getlist(name):
                fn(value)
                s += 1
        return s

    # ---- canonical values -------------------------------------------------
    @staticmethod
    def _uri(u: Any, with_params: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"scheme": u.scheme, "user": u.user, "host": u.host, "port": u.port}
        if with_params:
            out["params"] = dict(u.parameters)
        return out

    def _name_addr(self, a: Any) -> dict[str, Any]:
        return {
            "display_name": a.name,
            "uri": self._uri(a.uri, False),
            "tag": a.parameters.get("tag"),
        }

    def _contact(self, a: Any) -> dict[str, Any]:
        return {"display_name": a.name, "uri": self._uri(a.uri), "params": dict(a.parameters)}

    def values(self, raw: bytes) -> dict[str, Any]:
        sm = self._sm
        m = sm.Message.parse(raw)
        v: dict[str, Any] = {}
        if isinstance(m, sm.Request):
            v["kind"] = "request"
            v["method"] = m.method
            v["ruri"] = section(lambda: self._uri(m.uri))
        else:
            v["kind"] = "response"
            v["status"], v["reason"] = m.code, m.phrase
        v["via_count"] = section(lambda: len(m.via))

        def via() -> dict[str, Any]:
            b = m.via[0]
            p = b.parameters
            return {
                "transport": b.transport,
                "host": b.host,
                "port": b.port,
                "branch": p.get("branch"),
                "rport": rport_value("rport" in p, p.get("rport")),
                "received": p.get("received"),
            }

        v["via"] = section(via)
        v["from"] = section(lambda: self._name_addr(m.from_address))
        v["to"] = section(lambda: self._name_addr(m.to_address))
        v["call_id"] = section(lambda: m.call_id)
        v["cseq"] = section(lambda: {"seq": m.cseq.sequence, "method": m.cseq.method})
        v["contacts"] = section(lambda: [self._contact(c) for c in m.contact])
        v["content_length"] = section(lambda: m.content_length)
        v["route"] = section(lambda: [self._uri(a.uri) for a in m.route])
        v["record_route"] = section(lambda: [self._uri(a.uri) for a in m.record_route])

        def www() -> list[dict[str, Any]]:
            out = []
            for raw_value in m.headers.getlist("WWW-Authenticate"):
                c = sm.AuthChallenge.parse(raw_value)
                p = c.parameters
                out.append(
                    {
                        "scheme": c.scheme,
                        "realm": p.get("realm"),
                        "nonce": p.get("nonce"),
                        "opaque": p.get("opaque"),
                        "algorithm": p.get("algorithm"),
                        "qop": p.get("qop"),
                    }
                )
            return out

        v["www_authenticate"] = section(www)
        v["body_len"] = body_len(m.body)
        return v
