"""One end of bench/bench_calls.py's calls: a websip UA in its own process.

    python bench/calls/peer.py caller|answerer '<json plan>'

A child process of bench_calls.py, pinned to one CPU (``plan["cpu"]``) before
anything else is imported, so that aiortc's threads (one decoder thread per
call, the encoder's executor) inherit the pin: Linux applies
``sched_setaffinity(0, ...)`` to the calling thread, and new threads copy it.

The UA registers, prints ``{"ready": ...}``, then executes commands, one JSON
object per line on stdin, and answers each with one JSON line on stdout:

``setup``    (caller) ``count`` calls in a row, ``media`` "none" or "aiortc":
             times from ``ua.call()`` to the offer, 180, 200, ``confirmed`` and,
             with media, ICE+DTLS connected; every call hung up before the next.
``load``     (caller) ``n`` simultaneous audio calls, kept up until ``hangup``.
``snap``     CPU time, the monotonic clock, and the 20 ms chunks each live
             call's sink has received, for the harness to take differences.
``hangup``   (caller) BYE every call of ``load`` and wait until they end.
``quit``     stop the UA and exit.

The answerer answers every call, with the media its INVITE asks for in the
``X-Bench-Media`` header: aiortc (880 Hz tone, a PcmSink) or signaling-only.
The caller sends 440 Hz. Progress and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import sys

PLAN = json.loads(sys.argv[2])
if PLAN.get("cpu") is not None:
    # Before any import that may start a thread.
    os.sched_setaffinity(0, {int(PLAN["cpu"])})

import asyncio  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # measure this working tree

import websip  # noqa: E402
from websip.media import (  # noqa: E402
    AiortcMediaHandler,
    PcmSink,
    SignalingOnlyMediaHandler,
    ToneSource,
)

LOOPBACK = ["127.0.0.1"]
MEDIA_HEADER = "X-Bench-Media"


def log(msg: str) -> None:
    print(f"[{sys.argv[1]}] {msg}", file=sys.stderr, flush=True)


def cpu_seconds() -> float:
    """User + system CPU time of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def make_media(kind: str, frequency: float) -> tuple[Any, PcmSink | None]:
    if kind == "aiortc":
        codecs = PLAN.get("codecs")
        # Callback-free and queue-free: the sink only counts (and converts) chunks.
        sink = PcmSink(sample_rate=16000, frame_ms=20, max_queued_chunks=0)
        handler = AiortcMediaHandler(
            ToneSource(frequency), [sink], ice_addresses=LOOPBACK, codecs=codecs
        )
        return handler, sink
    if kind == "none":
        return SignalingOnlyMediaHandler(), None
    raise ValueError(f"unknown media kind {kind!r}")


class LagMonitor:
    """The event loop's worst lateness between snapshots: a busy loop delays RTP."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, loop.time() - due)

    def take(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


class Peer:
    def __init__(self, role: str, plan: dict[str, Any]) -> None:
        self.role = role
        self.plan = plan
        self.ua = websip.UA(
            {
                "uri": plan["uri"],
                "ws_servers": plan["url"],
                "password": plan["password"],
                "register": True,
                "no_answer_timeout": 60,
            },
            media_factory=SignalingOnlyMediaHandler,
        )
        # key -> (session, sink): live calls with a sink (aiortc media)
        self.calls: dict[str, tuple[websip.RTCSession, PcmSink | None]] = {}
        self.answered = 0
        self.lag = LagMonitor()
        self.errors: list[str] = []

    # -- answerer ------------------------------------------------------------

    def on_new_session(self, event: Any) -> None:
        if event.originator != "remote":
            return
        session: websip.RTCSession = event.session
        kind = event.request.get_header(MEDIA_HEADER) or "none"
        try:
            media, sink = make_media(kind.strip(), 880.0)
        except ValueError as exc:
            session.terminate(488)
            self.errors.append(str(exc))
            return
        key = event.request.call_id
        self.calls[key] = (session, sink)
        session.on("ended", lambda _e: self.calls.pop(key, None))
        session.on("failed", lambda _e: self.calls.pop(key, None))
        self.answered += 1
        session.answer(media=media)

    # -- caller --------------------------------------------------------------

    async def one_call(self, kind: str, key: str | None, timeout: float) -> dict[str, Any]:
        """One call; hung up at once unless ``key`` keeps it in self.calls."""
        loop = asyncio.get_running_loop()
        media, sink = make_media(kind, 440.0)
        marks: dict[str, float] = {}

        def mark(name: str) -> Any:
            return lambda _e: marks.setdefault(name, loop.time())

        t0 = loop.time()
        session = self.ua.call(
            self.plan["target"], media=media, extra_headers=[f"{MEDIA_HEADER}: {kind}"]
        )
        session.on("sdp", mark("offer"))
        session.on("progress", mark("progress"))
        session.on("accepted", mark("accepted"))
        session.on("confirmed", mark("confirmed"))
        result: dict[str, Any] = {}
        try:
            await session.established(timeout=timeout)
            if kind == "aiortc":
                await media.wait_connected(timeout=timeout)
                marks["connected"] = loop.time()
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
            if not session.is_ended():
                session.terminate()
            await session.ended(timeout=timeout)
        result.update({name: (t - t0) * 1000 for name, t in marks.items()})
        if "error" in result:
            return result
        if key is not None:
            self.calls[key] = (session, sink)
            session.on("ended", lambda _e: self.calls.pop(key, None))
        else:
            session.terminate()
            await session.ended(timeout=timeout)
        return result

    async def setup(self, cmd: dict[str, Any]) -> dict[str, Any]:
        samples = []
        for i in range(cmd["warmup"] + cmd["count"]):
            gc.collect()
            res = await self.one_call(cmd["media"], None, cmd.get("timeout", 10))
            if i >= cmd["warmup"]:
                samples.append(res)
            # the other side's teardown out of the next measurement
            await asyncio.sleep(cmd.get("gap", 0.05))
        return {"samples": samples}

    async def load(self, cmd: dict[str, Any]) -> dict[str, Any]:
        n, concurrency = cmd["n"], cmd.get("concurrency", 5)
        first = cmd.get("first", 0)
        queue = list(range(first, first + n))
        results: list[dict[str, Any]] = []
        t0 = time.monotonic()

        async def worker() -> None:
            while queue:
                i = queue.pop(0)
                results.append(await self.one_call("aiortc", f"c{i}", cmd.get("timeout", 20)))

        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
        errors = [r["error"] for r in results if "error" in r]
        return {
            "placed": n,
            "established": n - len(errors),
            "errors": errors[:5],
            "error_count": len(errors),
            "took_s": time.monotonic() - t0,
            "live": len(self.calls),
        }

    async def hangup(self, cmd: dict[str, Any]) -> dict[str, Any]:
        sessions = [session for session, _ in self.calls.values()]
        for session in sessions:
            if not session.is_ended():
                session.terminate()
        causes = await asyncio.gather(
            *(s.ended(timeout=cmd.get("timeout", 10)) for s in sessions), return_exceptions=True
        )
        self.calls.clear()
        return {"ended": sum(isinstance(c, str) for c in causes), "of": len(sessions)}

    # -- both ------------------------------------------------------------------

    def snap(self) -> dict[str, Any]:
        return {
            "t": time.monotonic(),
            "cpu": cpu_seconds(),
            "frames": {k: s.chunks_received for k, (_, s) in self.calls.items() if s is not None},
            "live": len(self.calls),
            "answered": self.answered,
            "lag_ms": self.lag.take() * 1000,
            "rss": rss_bytes(),
            "threads": len(os.listdir("/proc/self/task")),
            "errors": self.errors[-5:],
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self.role == "answerer":
            self.ua.on("new_rtc_session", self.on_new_session)
        await self.ua.start(timeout=15)
        self.lag.start()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        emit(
            {
                "ready": True,
                "role": self.role,
                "version": websip.__version__,
                "python": sys.version.split()[0],
                "cpus": sorted(os.sched_getaffinity(0)),
            }
        )
        while line := await reader.readline():
            cmd = json.loads(line)
            name = cmd["cmd"]
            try:
                if name == "quit":
                    break
                if name == "snap":
                    out = self.snap()
                elif name == "setup":
                    out = await self.setup(cmd)
                elif name == "load":
                    out = await self.load(cmd)
                elif name == "hangup":
                    out = await self.hangup(cmd)
                else:
                    out = {"error": f"unknown command {name!r}"}
            except Exception as exc:
                traceback.print_exc()
                out = {"error": f"{type(exc).__name__}: {exc}"}
            emit(out)
        await self.ua.stop()


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def main() -> None:
    role = sys.argv[1]
    if role not in ("caller", "answerer"):
        raise SystemExit("usage: peer.py caller|answerer '<json plan>'")
    code = 0
    try:
        asyncio.run(Peer(role, PLAN).run())
    except Exception as exc:
        traceback.print_exc()
        emit({"error": f"{type(exc).__name__}: {exc}"})
        code = 1
    sys.stdout.flush()
    os._exit(code)  # no teardown to wait for: aiortc's threads are daemonic anyway


if __name__ == "__main__":
    main()
