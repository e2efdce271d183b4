"""Test clients for the embedded server: a websip Core on a real WebSocket.

``CoreClient`` is a tiny UA: one :class:`websip.core.Core` (so digest answers,
transactions and CANCEL are websip's own), one WebSocket with the ``sip``
subprotocol, and a queue of the core's events. It is deliberately not the
``websip.UA``: the server is tested on its own, with nothing above the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from websip.auth import DigestCredentials
from websip.core import DEFAULT_ACCEPT, Core
from websip.dialog import Dialog
from websip.events import (
    Event,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
)
from websip.sip import NameAddr, Request, Response

DOMAIN = "websip.test"
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
)

E = TypeVar("E", bound=Event)


class CoreClient:
    """One user on one WebSocket, driven through a websip Core."""

    def __init__(self, url: str, user: str, password: str | None = None) -> None:
        self.url = url
        self.user = user
        self.host = f"{secrets.token_hex(4)}.invalid"
        credentials = DigestCredentials(user, password) if password is not None else None
        self.core = Core(
            via_host=self.host,
            via_transport="WS",
            credentials=credentials,
            accept=DEFAULT_ACCEPT | {"message/sipfrag"},
        )
        self.instance = f"urn:uuid:{secrets.token_hex(4)}-0000-4000-8000-{secrets.token_hex(6)}"
        self.contact = NameAddr(f"sip:{user}@{self.host};transport=ws")
        self.aor = f"sip:{user}@{DOMAIN}"
        self.tag = self.core.new_tag()
        self.reg_call_id = self.core.new_call_id()
        self.reg_cseq = 0
        self.ws: ClientConnection | None = None
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()

    # -- plumbing ----------------------------------------------------------------

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def connect(self) -> CoreClient:
        self.ws = await connect(self.url, subprotocols=[Subprotocol("sip")], open_timeout=5)
        assert self.ws.subprotocol == "sip"
        self._tasks.append(asyncio.create_task(self._read()))
        self._tasks.append(asyncio.create_task(self._timers()))
        return self

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.ws is not None:
            await self.ws.close()

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                data = message.encode() if isinstance(message, str) else message
                self.core.receive_data(data, self.now)
                await self.flush()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            deadline = self.core.get_timer()
            if deadline is not None and deadline <= self.now:
                self.core.handle_timer(self.now)
                await self.flush()

    async def flush(self) -> None:
        assert self.ws is not None
        for data in self.core.data_to_send():
            await self.ws.send(data.decode())
        while (event := self.core.next_event()) is not None:
            self.events.put_nowait(event)

    async def next_event(self, kind: type[E], timeout: float = 5.0) -> E:
        """The next event of that type (others before it are dropped)."""
        while True:
            event = await asyncio.wait_for(self.events.get(), timeout)
            if isinstance(event, kind):
                return event

    async def send(self, request: Request) -> str:
        tid = self.core.send_request(request, self.now)
        await self.flush()
        return tid

    async def final(self, tid: str, timeout: float = 5.0) -> Response:
        """The final response of our request ``tid`` (provisional ones skipped)."""
        while True:
            event = await asyncio.wait_for(self.events.get(), timeout)
            if isinstance(event, RequestFailed) and event.transaction_id == tid:
                raise AssertionError(f"request failed: {event.cause}")
            if (
                isinstance(event, ResponseReceived)
                and event.transaction_id == tid
                and event.response.status_code >= 200
            ):
                return event.response

    async def response(self, tid: str, status: int, timeout: float = 5.0) -> Response:
        """The response with that status to ``tid`` (others skipped)."""
        while True:
            event = await asyncio.wait_for(self.events.get(), timeout)
            if (
                isinstance(event, ResponseReceived)
                and event.transaction_id == tid
                and event.response.status_code == status
            ):
                return event.response

    async def answer(self, event: RequestReceived, status: int, **kw: Any) -> Response:
        to_tag = None if event.request.to_tag else self.core.new_tag()
        response = Response.for_request(event.request, status, to_tag=to_tag, **kw)
        self.core.send_response(event.transaction_id, response, self.now)
        await self.flush()
        return response

    # -- requests ----------------------------------------------------------------

    def build(
        self,
        method: str,
        ruri: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: str = "",
        contact: bool = False,
        call_id: str | None = None,
        cseq: int = 1,
    ) -> Request:
        fields = [
            ("From", f"<{self.aor}>;tag={self.core.new_tag()}"),
            ("To", f"<{ruri}>"),
            ("Call-ID", call_id or self.core.new_call_id()),
            ("CSeq", f"{cseq} {method}"),
        ]
        if contact:
            fields.append(("Contact", str(self.contact)))
        fields += headers or []
        if body and not any(name.lower() == "content-type" for name, _ in fields):
            fields.append(("Content-Type", "text/plain"))
        return Request(method, ruri, fields, body)

    def register_request(
        self, expires: int = 600, *, gruu: bool = True, instance: bool = True
    ) -> Request:
        self.reg_cseq += 1
        contact = str(self.contact)
        if instance:
            contact += f';+sip.instance="<{self.instance}>";reg-id=1'
        return Request(
            "REGISTER",
            f"sip:{DOMAIN}",
            [
                ("From", f"<{self.aor}>;tag={self.tag}"),
                ("To", f"<{self.aor}>"),
                ("Call-ID", self.reg_call_id),
                ("CSeq", f"{self.reg_cseq} REGISTER"),
                ("Contact", f"{contact};expires={expires}"),
                ("Expires", str(expires)),
                ("Supported", "path, gruu, outbound" if gruu else "path"),
            ],
        )

    async def register(self, expires: int = 600, **kw: Any) -> Response:
        tid = await self.send(self.register_request(expires, **kw))
        response = await self.final(tid)
        # the core re-sent with the next CSeq after a challenge: continue from it
        self.reg_cseq = max(self.reg_cseq, response.cseq.seq)
        return response

    async def invite(
        self, target: str, headers: list[tuple[str, str]] | None = None, **kw: Any
    ) -> tuple[str, Request]:
        request = self.build(
            "INVITE",
            target,
            contact=True,
            headers=[
                ("Content-Type", "application/sdp"),
                ("Supported", "100rel"),
                *(headers or []),
            ],
            body=SDP,
            **kw,
        )
        tid = await self.send(request)
        return tid, request


async def accept_call(callee: CoreClient, event: RequestReceived) -> Dialog:
    """Answer an INVITE with 180 then 200 (SDP) as a UAS dialog."""
    dialog = Dialog.from_uas(event.request, callee.core.new_tag(), callee.contact)
    callee.core.add_dialog(dialog)
    ringing = dialog.create_response(event.request, 180)
    callee.core.send_response(event.transaction_id, ringing, callee.now)
    ok = dialog.create_response(
        event.request, 200, headers=[("Content-Type", "application/sdp")], body=SDP
    )
    callee.core.send_response(event.transaction_id, ok, callee.now)
    await callee.flush()
    return dialog
