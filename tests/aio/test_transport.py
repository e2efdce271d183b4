"""The WebSocket client against real local websockets servers (127.0.0.1 only).

Every server here is a ``websockets`` server on a free port; "dead" servers
are ports nobody listens on. Recovery intervals are tens of milliseconds so the
whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import itertools
import random
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from websip.aio._framing import ClientFraming, Message
from websip.aio.transport import (
    ConnectionFailed,
    ConnectionLost,
    TransportOptions,
    WebSocketTransport,
    transport_options_from_config,
)
from websip.config import WsServer, load_configuration
from websip.exceptions import ConfigurationError

# -- helpers -------------------------------------------------------------------

Handler = Callable[[ServerConnection], Awaitable[None]]


@dataclass
class Recorder:
    """The transport's callbacks, in order, with loop times."""

    events: list[tuple[str, Any, Any, float]] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _add(self, kind: str, a: Any, b: Any = None) -> None:
        self.events.append((kind, a, b, asyncio.get_running_loop().time()))
        self.changed.set()

    def on_data(self, data: bytes) -> None:
        self.data.append(data)
        self._add("data", data)

    def on_connecting(self, url: str, attempts: int) -> None:
        self._add("connecting", url, attempts)

    def on_connected(self, url: str) -> None:
        self._add("connected", url)

    def on_disconnected(self, url: str, cause: BaseException | None) -> None:
        self._add("disconnected", url, cause)

    def of(self, kind: str) -> list[tuple[str, Any, Any, float]]:
        return [e for e in self.events if e[0] == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 3.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                self.changed.clear()
                await self.changed.wait()


def make_transport(
    servers: list[WsServer] | list[str],
    rec: Recorder,
    *,
    options: TransportOptions | None = None,
    min_interval: float = 0.05,
    max_interval: float = 0.2,
    rng: random.Random | None = None,
) -> WebSocketTransport:
    return WebSocketTransport(
        servers,
        on_data=rec.on_data,
        on_connecting=rec.on_connecting,
        on_connected=rec.on_connected,
        on_disconnected=rec.on_disconnected,
        options=options or TransportOptions(keepalive_interval=None),
        min_interval=min_interval,
        max_interval=max_interval,
        rng=rng or random.Random(1),
    )


@contextlib.asynccontextmanager
async def running(transport: WebSocketTransport) -> AsyncIterator[WebSocketTransport]:
    transport.start()
    try:
        yield transport
    finally:
        await transport.close()


async def idle(ws: ServerConnection) -> None:
    await ws.wait_closed()


@contextlib.asynccontextmanager
async def ws_server(
    handler: Handler = idle,
    *,
    port: int = 0,
    subprotocols: list[str] | None = None,
    **kwargs: Any,
) -> AsyncIterator[Server]:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=[
            Subprotocol(p) for p in (subprotocols if subprotocols is not None else ["sip"])
        ],
        close_timeout=0.2,
        ping_interval=None,
        **kwargs,
    ) as server:
        yield server


def url_of(server: Server, scheme: str = "ws") -> str:
    port = server.sockets[0].getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}/"


def dead_url() -> str:
    """A ws:// URL where nothing listens (connection refused)."""
    return f"ws://127.0.0.1:{free_port()}/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MaxRandom(random.Random):
    """Jitter always at its ceiling: back-off delays become predictable."""

    def uniform(self, a: float, b: float) -> float:
        return b


def config(**params: Any) -> Any:
    params.setdefault("uri", "sip:alice@websip.test")
    return load_configuration(params)


# -- connecting, framing -------------------------------------------------------


async def test_agrees_on_sip_and_sends_one_text_message_per_sip_message() -> None:
    received: list[str | bytes] = []
    subprotocols: list[str | None] = []

    async def handler(ws: ServerConnection) -> None:
        subprotocols.append(ws.subprotocol)
        await ws.send("OPTIONS sip:a SIP/2.0\r\n\r\n")
        await ws.send(b"MESSAGE sip:a SIP/2.0\r\n\r\n\xff")
        async for message in ws:
            received.append(message)

    rec = Recorder()
    async with ws_server(handler) as server, running(make_transport([url_of(server)], rec)) as t:
        await t.wait_connected(2)
        assert t.is_connected and t.server_url == url_of(server)
        assert t.send(b"REGISTER sip:x SIP/2.0\r\n\r\n")
        assert t.send("MESSAGE sip:x SIP/2.0\r\n\r\nh\u00e9".encode())
        assert t.send(b"MESSAGE sip:x SIP/2.0\r\n\r\n\xff\xfe")  # not UTF-8
        await rec.wait("data", 2)
        async with asyncio.timeout(2):
            while len(received) < 3:
                await asyncio.sleep(0.01)
    assert subprotocols == ["sip"]
    # One WebSocket message each; text frames for UTF-8, binary otherwise (RFC 7118 5.1).
    assert received == [
        "REGISTER sip:x SIP/2.0\r\n\r\n",
        "MESSAGE sip:x SIP/2.0\r\n\r\nh\u00e9",
        b"MESSAGE sip:x SIP/2.0\r\n\r\n\xff\xfe",
    ]
    assert rec.data == [b"OPTIONS sip:a SIP/2.0\r\n\r\n", b"MESSAGE sip:a SIP/2.0\r\n\r\n\xff"]
    assert [e[0] for e in rec.events[:2]] == ["connecting", "connected"]
    assert rec.of("connecting")[0][2] == 1


async def test_refuses_a_server_that_does_not_select_sip() -> None:
    close_codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()
        close_codes.append(ws.close_code)

    rec = Recorder()
    async with ws_server(handler, subprotocols=[]) as server:
        transport = make_transport([url_of(server)], rec)
        async with running(transport):
            with pytest.raises(ConnectionFailed) as info:
                await transport.wait_connected(2)
            assert not transport.is_connected
        assert "'sip'" in str(info.value)
        assert "plain WebSocket server" in info.value.hint
        assert info.value.server == url_of(server)
        assert rec.of("connected") == []
        assert isinstance(rec.of("disconnected")[0][2], ConnectionFailed)
    assert close_codes and close_codes[0] == 1002  # RFC 6455 7.4.1: protocol error


async def test_a_server_insisting_on_another_subprotocol_fails_with_a_hint() -> None:
    rec = Recorder()
    async with ws_server(subprotocols=["mqtt"]) as server:
        transport = make_transport([url_of(server)], rec)
        async with running(transport):
            with pytest.raises(ConnectionFailed) as info:
                await transport.wait_connected(2)
    assert "HTTP 400" in str(info.value)
    assert "subprotocol 'sip'" in info.value.hint


async def test_send_is_refused_without_a_connection() -> None:
    rec = Recorder()
    transport = make_transport([dead_url()], rec)
    assert transport.send(b"OPTIONS sip:a SIP/2.0\r\n\r\n") is False
    with pytest.raises(ConnectionFailed, match="not running"):
        await transport.wait_connected(1)


async def test_received_crlf_ping_is_answered_and_keepalives_are_not_data() -> None:
    received: list[str | bytes] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send("\r\n\r\n")  # RFC 5626 ping
        await ws.send("\r\n")  # a pong: must not reach the SIP layer
        await ws.send("OPTIONS sip:a SIP/2.0\r\n\r\n")
        async for message in ws:
            received.append(message)

    rec = Recorder()
    async with ws_server(handler) as server, running(make_transport([url_of(server)], rec)):
        await rec.wait("data")
        async with asyncio.timeout(2):
            while not received:
                await asyncio.sleep(0.01)
    assert received == ["\r\n"]
    assert rec.data == [b"OPTIONS sip:a SIP/2.0\r\n\r\n"]


async def test_a_failing_data_handler_does_not_stop_the_transport() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("first")
        await ws.send("second")
        await ws.wait_closed()

    rec = Recorder()
    seen: list[bytes] = []

    def on_data(data: bytes) -> None:
        seen.append(data)
        if data == b"first":
            raise RuntimeError("bug in the UA")

    async with ws_server(handler) as server:
        transport = make_transport([url_of(server)], rec)
        transport._on_data = on_data
        async with running(transport):
            async with asyncio.timeout(2):
                while len(seen) < 2:
                    await asyncio.sleep(0.01)
            assert transport.is_connected
    assert seen == [b"first", b"second"]


# -- server choice, failover, recovery ----------------------------------------


async def test_highest_weight_first() -> None:
    rec = Recorder()
    async with ws_server() as low, ws_server() as high:
        servers = [
            WsServer.from_uri(url_of(low), 1),
            WsServer.from_uri(url_of(high), 5),
        ]
        async with running(make_transport(servers, rec)) as transport:
            await transport.wait_connected(2)
            assert transport.server_url == url_of(high)


async def test_random_among_equal_weights() -> None:
    chosen: set[str] = set()
    async with ws_server() as a, ws_server() as b:
        urls = [url_of(a), url_of(b)]
        for seed in range(8):
            rec = Recorder()
            transport = make_transport(urls, rec, rng=random.Random(seed))
            async with running(transport):
                await transport.wait_connected(2)
                assert transport.server_url is not None
                chosen.add(transport.server_url)
    assert chosen == set(urls)


async def test_failover_to_the_next_server_without_waiting() -> None:
    rec = Recorder()
    dead = dead_url()
    async with ws_server() as alive:
        good = url_of(alive)
        servers = [WsServer.from_uri(dead, 10), WsServer.from_uri(good, 1)]
        transport = make_transport(servers, rec, min_interval=1.0, max_interval=2.0)
        async with running(transport):
            await transport.wait_connected(0.8)  # no back-off wait between the two
            assert transport.server_url == good
    kinds = [(e[0], e[1], e[2] if e[0] == "connecting" else None) for e in rec.events[:4]]
    assert kinds == [
        ("connecting", dead, 1),
        ("disconnected", dead, None),
        ("connecting", good, 2),
        ("connected", good, None),
    ]
    cause = rec.events[1][2]
    assert isinstance(cause, ConnectionFailed) and cause.code is None
    assert "cannot reach" in str(cause) and cause.hint


async def test_all_failed_is_reported_then_backoff_then_recovery() -> None:
    rec = Recorder()
    first, second = dead_url(), dead_url()
    transport = make_transport([first, second], rec, min_interval=0.05, max_interval=0.15)
    async with running(transport):
        with pytest.raises(ConnectionFailed) as info:
            await transport.wait_connected(2)
        # Both failures listed; both servers tried once, back to back.
        assert first in str(info.value) and second in str(info.value)
        assert info.value.hint
        assert {e[1] for e in rec.of("connecting")[:2]} == {first, second}
        # Still failing: wait_connected raises at once, the transport keeps trying.
        with pytest.raises(ConnectionFailed):
            await transport.wait_connected(0)
        await rec.wait("connecting", 8)
        starts = [e[3] for e in rec.of("connecting")]
        # Attempts come in rounds of two; between rounds a back-off wait.
        gaps = [starts[i + 1] - starts[i] for i in range(1, len(starts) - 1, 2)]
        assert all(0.045 <= gap <= 0.15 + 0.05 for gap in gaps), gaps
        # The first server comes up: the next round connects to it.
        port = int(first.rsplit(":", 1)[1].strip("/"))
        async with ws_server(port=port):
            await rec.wait("connected")
            await transport.wait_connected(0)
            assert transport.server_url == first
            # attempts counted since the start of recovery
            assert rec.of("connecting")[-1][2] == len(rec.of("connecting"))


async def test_backoff_grows_to_the_maximum_and_resets_after_a_connection() -> None:
    rec = Recorder()
    url = dead_url()
    port = int(url.rsplit(":", 1)[1].strip("/"))
    # Jitter at its ceiling: waits are 0.04 * 2**n, capped at 0.16.
    transport = make_transport([url], rec, min_interval=0.04, max_interval=0.16, rng=MaxRandom())
    async with running(transport):
        await rec.wait("connecting", 5)
        starts = [e[3] for e in rec.of("connecting")]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        for gap, expected in zip(gaps, [0.08, 0.16, 0.16, 0.16], strict=False):
            assert expected - 0.005 <= gap <= expected + 0.06, gaps
        async with ws_server(port=port):
            await rec.wait("connected")
            connected_count = len(rec.of("connected"))
            transport.drop()
            await rec.wait("connected", connected_count + 1)
            lost_at = rec.of("disconnected")[-1][3]
            again = rec.of("connecting")[-1][3]
            # Reset: the first wait after a connection is the shortest, 0.08 (not 0.16).
            assert 0.075 <= again - lost_at <= 0.13


async def test_drop_reports_a_lost_connection_and_recovers() -> None:
    rec = Recorder()
    async with ws_server() as server, running(make_transport([url_of(server)], rec)) as t:
        await t.wait_connected(2)
        t.drop()
        await rec.wait("disconnected")
        assert not t.is_connected
        assert t.send(b"OPTIONS sip:a SIP/2.0\r\n\r\n") is False
        cause = rec.of("disconnected")[0][2]
        assert isinstance(cause, ConnectionLost)
        assert (cause.code, cause.reason) == (1006, "dropped")
        await rec.wait("connected", 2)
        assert t.is_connected


async def test_server_close_code_and_reason_reach_the_callback() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await ws.close(4000, "going for lunch")
        await ws.wait_closed()

    rec = Recorder()
    async with ws_server(handler) as server, running(make_transport([url_of(server)], rec)):
        url = url_of(server)
        await rec.wait("connected", 2)
    cause = rec.of("disconnected")[0][2]
    assert isinstance(cause, ConnectionLost)
    assert (cause.code, cause.reason, cause.server) == (4000, "going for lunch", url)
    assert "4000" in str(cause)


# -- keep-alive ------------------------------------------------------------------


async def test_keepalive_notices_a_server_that_stops_answering() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            ws.transport.pause_reading()  # alive at TCP level, deaf to pings
        await ws.wait_closed()

    rec = Recorder()
    options = TransportOptions(keepalive_interval=0.1, keepalive_timeout=0.1)
    async with (
        ws_server(handler) as server,
        running(make_transport([url_of(server)], rec, options=options)),
    ):
        await rec.wait("disconnected")
        connected_at = rec.of("connected")[0][3]
        lost = rec.of("disconnected")[0]
        # Noticed within interval + timeout (plus scheduling slack), not later.
        assert 0.19 <= lost[3] - connected_at <= 0.2 + 0.1
        assert isinstance(lost[2], ConnectionLost)
        assert (lost[2].code, lost[2].reason) == (1006, "keepalive timeout")
        await rec.wait("connected", 2)


async def test_keepalive_keeps_a_healthy_connection() -> None:
    pings = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal pings
        original = ws.protocol.receive_data

        def counting(data: bytes | bytearray) -> None:
            nonlocal pings
            pings += data.count(b"\x89")  # FIN + ping opcode of a client ping frame
            original(data)

        ws.protocol.receive_data = counting  # type: ignore[method-assign]
        await ws.wait_closed()

    rec = Recorder()
    options = TransportOptions(keepalive_interval=0.03, keepalive_timeout=0.05)
    async with (
        ws_server(handler) as server,
        running(make_transport([url_of(server)], rec, options=options)) as t,
    ):
        await t.wait_connected(2)
        await asyncio.sleep(0.3)
        assert t.is_connected
        assert rec.of("disconnected") == []
    assert pings >= 4


async def test_keepalive_zero_or_none_sends_no_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(ws_servers="ws://127.0.0.1:1", keepalive_interval=0)
    assert transport_options_from_config(cfg).keepalive_interval is None
    pongs: list[float] = []
    original = ClientFraming.receive_data

    def spy(self: ClientFraming, data: bytes) -> list[Message]:
        if data.startswith(b"\x8a"):
            pongs.append(0)
        return original(self, data)

    monkeypatch.setattr(ClientFraming, "receive_data", spy)
    rec = Recorder()
    async with ws_server() as server:
        transport = make_transport([url_of(server)], rec)  # keepalive_interval=None
        async with running(transport):
            await transport.wait_connected(2)
            await asyncio.sleep(0.15)
    assert pongs == []


# -- closing ---------------------------------------------------------------------


async def test_close_flushes_queued_messages_then_closes_cleanly() -> None:
    received: list[str | bytes] = []
    close_codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            received.append(message)
        close_codes.append(ws.close_code)

    rec = Recorder()
    async with ws_server(handler) as server:
        transport = make_transport([url_of(server)], rec)
        transport.start()
        await transport.wait_connected(2)
        for n in range(3):
            assert transport.send(f"MESSAGE {n}".encode())
        await transport.close()
        assert not transport.is_connected
        assert transport.send(b"late") is False
        await asyncio.sleep(0.15)  # no reconnection after close()
    assert received == ["MESSAGE 0", "MESSAGE 1", "MESSAGE 2"]
    assert close_codes == [1000]
    assert [e[0] for e in rec.events] == ["connecting", "connected", "disconnected"]
    assert rec.events[-1][2] is None  # closed on purpose: no error


async def test_close_during_the_recovery_wait_stops_recovery() -> None:
    rec = Recorder()
    transport = make_transport([dead_url()], rec, min_interval=1.0, max_interval=2.0)
    transport.start()
    await rec.wait("disconnected")  # failed; now waiting about a second
    started = asyncio.get_running_loop().time()
    await transport.close()
    assert asyncio.get_running_loop().time() - started < 0.05
    await asyncio.sleep(0.1)
    assert len(rec.of("connecting")) == 1
    with pytest.raises(ConnectionFailed, match="not running"):
        await transport.wait_connected(0)


async def test_close_during_an_attempt_releases_waiters() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        rec = Recorder()
        options = TransportOptions(keepalive_interval=None, open_timeout=5)
        transport = make_transport([f"ws://127.0.0.1:{port}/"], rec, options=options)
        transport.start()
        waiter = asyncio.ensure_future(transport.wait_connected())
        await rec.wait("connecting")
        await asyncio.sleep(0.05)
        assert not waiter.done()
        started = asyncio.get_running_loop().time()
        await transport.close()
        assert asyncio.get_running_loop().time() - started < 0.05
        with pytest.raises(ConnectionFailed, match="closed"):
            await waiter
        assert [e[0] for e in rec.events] == ["connecting"]


async def test_close_is_bounded_by_close_timeout_when_the_server_is_deaf() -> None:
    async def handler(ws: ServerConnection) -> None:
        ws.transport.pause_reading()
        await ws.wait_closed()

    rec = Recorder()
    options = TransportOptions(keepalive_interval=None, close_timeout=0.1)
    async with ws_server(handler) as server:
        transport = make_transport([url_of(server)], rec, options=options)
        transport.start()
        await transport.wait_connected(2)
        started = asyncio.get_running_loop().time()
        await transport.close()
        assert asyncio.get_running_loop().time() - started < 0.1 + 0.15
    assert rec.of("disconnected")[-1][2] is None


async def test_open_timeout_bounds_a_silent_server() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts TCP, never answers the handshake
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        rec = Recorder()
        options = TransportOptions(keepalive_interval=None, open_timeout=0.1)
        transport = make_transport([f"ws://127.0.0.1:{port}/"], rec, options=options)
        started = asyncio.get_running_loop().time()
        async with running(transport):
            with pytest.raises(ConnectionFailed, match="timed out"):
                await transport.wait_connected(2)
        assert asyncio.get_running_loop().time() - started < 0.5


# -- handshake options ------------------------------------------------------------


async def test_origin_extra_headers_and_user_agent_reach_the_server() -> None:
    requests: list[Request] = []

    def capture(connection: ServerConnection, request: Request) -> Response | None:
        requests.append(request)
        return None

    cfg_with_ua = config(
        ws_servers="ws://127.0.0.1:1",
        user_agent="tester/1",
        node_websocket_options={
            "origin": "https://app.websip.test",
            "headers": {"X-Token": "abc", "X-Multi": ["1", "2"]},
        },
    )
    cfg_header_ua = config(
        ws_servers="ws://127.0.0.1:1",
        user_agent="tester/1",
        node_websocket_options={"headers": {"User-Agent": "from-headers/2"}},
    )
    async with ws_server(process_request=capture) as server:
        for cfg in (cfg_with_ua, cfg_header_ua):
            rec = Recorder()
            options = transport_options_from_config(cfg)
            async with running(make_transport([url_of(server)], rec, options=options)) as t:
                await t.wait_connected(2)
    first, second = (r.headers for r in requests)
    assert first["Origin"] == "https://app.websip.test"
    assert first["X-Token"] == "abc"
    assert first.get_all("X-Multi") == ["1", "2"]
    assert first.get_all("User-Agent") == ["tester/1"]
    assert first["Sec-WebSocket-Protocol"] == "sip"
    assert "Origin" not in second
    assert second.get_all("User-Agent") == ["from-headers/2"]


async def test_local_address_is_the_source_of_the_connection() -> None:
    peers: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        peers.append(ws.remote_address[0])
        await ws.wait_closed()

    cfg = config(
        ws_servers="ws://127.0.0.1:1",
        node_websocket_options={"requestOptions": {"localAddress": "127.0.0.2"}},
    )
    rec = Recorder()
    async with ws_server(handler) as server:
        options = transport_options_from_config(cfg)
        async with running(make_transport([url_of(server)], rec, options=options)) as t:
            await t.wait_connected(2)
    assert peers == ["127.0.0.2"]


async def test_proxy_is_explicit_not_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, nowhere)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    async with ws_server() as server:
        rec = Recorder()
        # proxy=None: direct, whatever the environment says.
        async with running(make_transport([url_of(server)], rec)) as t:
            await t.wait_connected(2)
        # An explicit proxy is used (and here it is unreachable).
        rec = Recorder()
        options = TransportOptions(keepalive_interval=None, proxy=nowhere)
        async with running(make_transport([url_of(server)], rec, options=options)) as t:
            with pytest.raises(ConnectionFailed):
                await t.wait_connected(2)
        assert rec.of("connected") == []


async def test_an_oversized_message_ends_the_connection_with_1009() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await ws.send("x" * 2000)
        await ws.wait_closed()

    cfg = config(
        ws_servers="ws://127.0.0.1:1",
        node_websocket_options={"clientConfig": {"maxReceivedMessageSize": 1000}},
    )
    rec = Recorder()
    async with ws_server(handler) as server:
        options = transport_options_from_config(cfg)
        async with running(make_transport([url_of(server)], rec, options=options)):
            await rec.wait("disconnected")
    cause = rec.of("disconnected")[0][2]
    assert isinstance(cause, ConnectionLost) and cause.code == 1009
    assert rec.data == []


# -- TLS ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    client_cert: Path
    client_key: Path  # encrypted with "s3cret"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A private CA and a server certificate for 127.0.0.1 and sip.websip.test."""
    tmp = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("websip test CA", ca_key, "websip test CA", ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    san: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("sip.websip.test"),
    ]
    cert = _issue("127.0.0.1", key, "websip test CA", ca_key, ca=False, san=san)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue("alice", client_key, "websip test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_pem = ca_cert.public_bytes(pem).decode()
    (tmp / "ca.pem").write_text(ca_pem)
    (tmp / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp / "client.pem").write_bytes(client_cert.public_bytes(pem))
    (tmp / "client.key").write_bytes(
        client_key.private_bytes(
            pem,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    return Pki(
        ca_pem,
        tmp / "ca.pem",
        tmp / "cert.pem",
        tmp / "key.pem",
        tmp / "client.pem",
        tmp / "client.key",
    )


def server_tls(pki: Pki, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=pki.ca_file)
    return context


async def connect_once(url: str, options: TransportOptions) -> None:
    """Connect with ``options``; ConnectionFailed when the first attempt fails."""
    rec = Recorder()
    async with running(make_transport([url], rec, options=options)) as transport:
        await transport.wait_connected(2)


async def test_wss_rejects_an_untrusted_certificate_by_default(pki: Pki) -> None:
    async with ws_server(ssl=server_tls(pki)) as server:
        url = url_of(server, "wss")
        # TransportOptions() and a configuration without TLS options both verify.
        cfg = config(ws_servers=url)
        for options in (
            TransportOptions(keepalive_interval=None),
            transport_options_from_config(cfg),
        ):
            with pytest.raises(ConnectionFailed) as info:
                await connect_once(url, options)
            assert "certificate" in str(info.value)
            assert "requestOptions.ca" in info.value.hint


async def test_wss_works_with_the_ca_given_or_an_explicit_context(pki: Pki) -> None:
    async with ws_server(ssl=server_tls(pki)) as server:
        url = url_of(server, "wss")
        context = ssl.create_default_context(cafile=pki.ca_file)
        for wso in (
            {"requestOptions": {"ca": pki.ca_pem}},  # PEM text
            {"requestOptions": {"ca": str(pki.ca_file)}},  # a file
            {"clientConfig": {"tlsOptions": {"ca": [str(pki.ca_file)]}}},
            {"requestOptions": {"ssl": context}},
            {"requestOptions": {"rejectUnauthorized": False}},  # the explicit opt-out
        ):
            options = transport_options_from_config(config(ws_servers=url, websocket_options=wso))
            await connect_once(url, options)
        await connect_once(url, TransportOptions(keepalive_interval=None, ssl=context))


async def test_wss_server_hostname_is_used_for_verification(pki: Pki) -> None:
    async with ws_server(ssl=server_tls(pki)) as server:
        url = url_of(server, "wss").replace("127.0.0.1", "localhost")  # not in the cert
        base = {"ca": pki.ca_pem}
        options = transport_options_from_config(
            config(ws_servers=url, websocket_options={"requestOptions": base})
        )
        with pytest.raises(ConnectionFailed, match=r"(?i)hostname mismatch"):
            await connect_once(url, options)
        options = transport_options_from_config(
            config(
                ws_servers=url,
                websocket_options={"requestOptions": {**base, "servername": "sip.websip.test"}},
            )
        )
        assert options.server_hostname == "sip.websip.test"
        await connect_once(url, options)


async def test_wss_client_certificate_with_passphrase(pki: Pki) -> None:
    async with ws_server(ssl=server_tls(pki, require_client_cert=True)) as server:
        url = url_of(server, "wss")
        request: dict[str, Any] = {"ca": pki.ca_pem}
        without = transport_options_from_config(
            config(ws_servers=url, websocket_options={"requestOptions": request})
        )
        with pytest.raises(ConnectionFailed):
            await connect_once(url, without)
        request.update(cert=str(pki.client_cert), key=str(pki.client_key), passphrase="s3cret")
        options = transport_options_from_config(
            config(ws_servers=url, websocket_options={"requestOptions": request})
        )
        await connect_once(url, options)


# -- the converter ---------------------------------------------------------------------


def test_converter_defaults() -> None:
    options = transport_options_from_config(config(ws_servers="ws://127.0.0.1:5066"))
    assert options == TransportOptions(
        origin=None,
        headers=(),
        ssl=None,  # no wss:// server: no TLS context is built
        server_hostname=None,
        proxy=None,
        local_address=None,
        open_timeout=10.0,
        close_timeout=10.0,
        max_size=1024 * 1024,
        max_frame_size=None,
        keepalive_interval=30.0,
        keepalive_timeout=10.0,
        user_agent=options.user_agent,
    )
    assert options.user_agent is not None and options.user_agent.startswith("websip/")


def test_converter_maps_every_option(pki: Pki) -> None:
    cfg = config(
        ws_servers=[{"ws_uri": "wss://127.0.0.1:8443", "weight": 1}, "ws://127.0.0.1:5066"],
        user_agent="ua/1",
        keepalive_interval=15,
        keepalive_timeout=2.5,
        node_websocket_options={
            "origin": "https://websip.test",
            "headers": {"X-A": "1"},
            "requestOptions": {
                "ca": [pki.ca_pem],
                "cert": str(pki.client_cert),
                "key": str(pki.client_key),
                "passphrase": "s3cret",
                "servername": "sip.websip.test",
                "proxy": "http://127.0.0.1:3128",
                "localAddress": "127.0.0.1",
                "timeout": 2500,
            },
            "clientConfig": {
                "maxReceivedFrameSize": 4096,
                "maxReceivedMessageSize": 65536,
                "closeTimeout": 1500,
            },
        },
    )
    options = transport_options_from_config(cfg)
    assert options.origin == "https://websip.test"
    assert options.headers == (("X-A", "1"),)
    assert options.server_hostname == "sip.websip.test"
    assert options.proxy == "http://127.0.0.1:3128"
    assert options.local_address == "127.0.0.1"
    assert (options.open_timeout, options.close_timeout) == (2.5, 1.5)
    assert (options.max_size, options.max_frame_size) == (65536, 4096)
    assert (options.keepalive_interval, options.keepalive_timeout) == (15.0, 2.5)
    assert options.user_agent == "ua/1"
    context = options.ssl
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    # Only the given CA is trusted (Node's ca replaces the system store).
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "websip test CA"),),)
    ]


def test_converter_tls_variants(pki: Pki) -> None:
    wss = "wss://127.0.0.1:8443"
    default = transport_options_from_config(config(ws_servers=wss)).ssl
    assert default is not None
    assert default.verify_mode is ssl.CERT_REQUIRED and default.check_hostname
    off = transport_options_from_config(
        config(ws_servers=wss, websocket_options={"requestOptions": {"rejectUnauthorized": False}})
    ).ssl
    assert off is not None
    assert off.verify_mode is ssl.CERT_NONE and not off.check_hostname
    mine = ssl.create_default_context()
    given = transport_options_from_config(
        config(ws_servers=wss, websocket_options={"requestOptions": {"ssl": mine}})
    )
    assert given.ssl is mine
    frame_only = transport_options_from_config(
        config(ws_servers=wss, websocket_options={"clientConfig": {"maxReceivedFrameSize": 512}})
    )
    assert (frame_only.max_size, frame_only.max_frame_size) == (512, 512)


def test_converter_reports_unloadable_tls_files_as_configuration_errors(
    pki: Pki, tmp_path: Path
) -> None:
    wss = "wss://127.0.0.1:8443"
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigurationError, match=r"requestOptions\.ca") as info:
        transport_options_from_config(
            config(ws_servers=wss, websocket_options={"requestOptions": {"ca": missing}})
        )
    assert info.value.parameter == "node_websocket_options"
    request = {"cert": str(pki.client_cert), "key": str(pki.client_key), "passphrase": "wrong1"}
    with pytest.raises(ConfigurationError, match="cert/key") as info:
        transport_options_from_config(
            config(ws_servers=wss, websocket_options={"requestOptions": request})
        )
    assert "wrong1" not in str(info.value)
