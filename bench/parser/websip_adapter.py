"""Adapter for websip's own parser (``websip.sip``), written against the API
contract in docs/dev/sip-api.md only. bench_parser.py puts the repository's
``src/`` first on ``sys.path``, so the working tree is what gets measured.
"""

from __future__ import annotations

from typing import Any

from common import body_len, rport_value, section


class WebsipAdapter:
    """Mode (a): ``m = parse_message(data)``, then the top Via (branch, host),
    From/To (``.uri``, ``.tag``), ``m.call_id``, ``m.cseq``, every Contact
    (``get_headers("Contact")`` for the count, ``parse_header("Contact", i)``)
    and ``parse_header("Content-Length")``. Mode (b): ``parse_header(name, i)``
    for every name of ``m.header_names()`` and every index."""

    name = "websip"

    def __init__(self) -> None:
        import websip
        from websip.sip import Request, _accel, parse_message

        self._parse = parse_message
        self._request = Request
        version = getattr(websip, "__version__", None) or _version()
        # "+C": the C accelerator websip.sip._speedups is in use (built in src/ by
        # ``pip install -e .``); WEBSIP_PURE_PYTHON=1 measures Python alone.
        self.version = f"{version}+C" if _accel.enabled() else version

    def prepare(self, raw: bytes) -> bytes:
        return raw

    def mode_a(self, item: bytes) -> int:
        m = self._parse(item)
        s = len(m.ruri.host) if isinstance(m, self._request) else m.status_code
        via = m.parse_header("Via")
        s += len(via.branch or "") + len(via.host)
        frm = m.parse_header("From")
        s += len(frm.uri.host) + len(frm.tag or "")
        to = m.parse_header("To")
        s += len(to.uri.host) + len(to.tag or "")
        s += len(m.call_id) + m.cseq.seq
        for i in range(len(m.get_headers("Contact"))):
            s += len(m.parse_header("Contact", i).uri.host)
        cl = m.parse_header("Content-Length")
        if cl is not None:
            s += cl
        return s

    def mode_b(self, item: bytes) -> int:
        m = self._parse(item)
        s = len(m.ruri.host) if isinstance(m, self._request) else m.status_code
        parse_header = m.parse_header
        # The message lists its own header names (canonical spelling, each once).
        for name in m.header_names():
            for i in range(len(m.get_headers(name))):
                parse_header(name, i)
                s += 1
        return s

    # ---- canonical values -------------------------------------------------
    @staticmethod
    def _uri(u: Any, with_params: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"scheme": u.scheme, "user": u.user, "host": u.host, "port": u.port}
        if with_params:
            out["params"] = dict(u.params)
        return out

    def _name_addr(self, na: Any) -> dict[str, Any]:
        return {"display_name": na.display_name, "uri": self._uri(na.uri, False), "tag": na.tag}

    def _contact(self, na: Any) -> dict[str, Any]:
        return {
            "display_name": na.display_name,
            "uri": self._uri(na.uri),
            "params": dict(na.params),
        }

    @staticmethod
    def _all(m: Any, name: str, conv: Any) -> list[Any]:
        return [
            section(lambda i=i: conv(m.parse_header(name, i)))
            for i in range(len(m.get_headers(name)))
        ]

    def values(self, raw: bytes) -> dict[str, Any]:
        m = self._parse(raw)
        v: dict[str, Any] = {}
        if isinstance(m, self._request):
            v["kind"] = "request"
            v["method"] = m.method
            v["ruri"] = section(lambda: self._uri(m.ruri))
        else:
            v["kind"] = "response"
            v["status"], v["reason"] = m.status_code, m.reason_phrase
        v["via_count"] = section(lambda: len(m.get_headers("Via")))

        def via() -> dict[str, Any]:
            b = m.parse_header("Via")
            return {
                "transport": b.transport,
                "host": b.host,
                "port": b.port,
                "branch": b.branch,
                "rport": rport_value(b.has_param("rport"), b.rport),
                "received": b.received,
            }

        v["via"] = section(via)
        v["from"] = section(lambda: self._name_addr(m.parse_header("From")))
        v["to"] = section(lambda: self._name_addr(m.parse_header("To")))
        v["call_id"] = section(lambda: m.call_id)
        v["cseq"] = section(lambda: {"seq": m.cseq.seq, "method": m.cseq.method})
        v["contacts"] = section(lambda: self._all(m, "Contact", self._contact))
        v["content_length"] = section(lambda: m.parse_header("Content-Length"))
        v["route"] = section(lambda: self._all(m, "Route", lambda na: self._uri(na.uri)))
        v["record_route"] = section(
            lambda: self._all(m, "Record-Route", lambda na: self._uri(na.uri))
        )
        v["www_authenticate"] = section(
            lambda: self._all(
                m,
                "WWW-Authenticate",
                lambda c: {
                    "scheme": c.scheme,
                    "realm": c.realm,
                    "nonce": c.nonce,
                    "opaque": c.opaque,
                    "algorithm": c.algorithm,
                    "qop": c.qop,
                },
            )
        )
        # Cross-checks the contract's shortcut properties against the typed headers.
        v["_shortcuts"] = section(
            lambda: {"from_tag": m.from_tag, "to_tag": m.to_tag, "via_branch": m.via_branch}
        )
        v["body_len"] = section(lambda: body_len(m.body))
        return v


def _version() -> str:
    try:
        from websip._version import __version__

        return str(__version__)
    except Exception:
        return "?"
