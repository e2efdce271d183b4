"""websip side of bench/bench_ua.py: N websip UAs in this one Python process.

    python bench/ua/websip_ua.py '<json plan>'

A child process of bench_ua.py, so that its RSS holds nothing but the UAs (the
harness's Kamailio handling and bookkeeping stay out of it). The phases are
those of bench/ua/jssip_ua.mjs, in the same order: warm-up (two UAs, one
MESSAGE, both stopped), baseline RSS, N UAs started and registered, RSS after
``settle_s`` idle seconds, timed register rounds, timed MESSAGE rounds. Progress
goes to stderr, the result is one JSON object on stdout.

Register rounds run twice per repeat: "fresh" forgets the cached digest state
before every REGISTER, so each one takes the 401 round as JsSIP's always does;
"cached" is websip's default, which answers the realm pre-emptively with the
credentials of the previous challenge (RFC 3261 22.3) and so sends one REGISTER
where JsSIP sends two.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # measure this working tree

import websip  # noqa: E402
from websip.aio.transport import WebSocketTransport  # noqa: E402

SENT: Counter[str] = Counter()
# WEBSIP_BENCH_PROFILE=DIR: cProfile each timed round into DIR/<phase>-<k>.prof
# (off by default: the profiler roughly doubles the CPU per operation).
PROFILE_DIR = os.environ.get("WEBSIP_BENCH_PROFILE")
_PROFILED: Counter[str] = Counter()
# Seconds spent in the cyclic GC (gc.callbacks), read around each timed round;
# "gen2"/"gen2_count": the part in full collections.
_GC = {"time": 0.0, "start": 0.0, "count": 0, "gen2": 0.0, "gen2_count": 0}


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _GC["start"] = time.perf_counter()
        return
    spent = time.perf_counter() - _GC["start"]
    _GC["time"] += spent
    _GC["count"] += 1
    if info["generation"] == 2:
        _GC["gen2"] += spent
        _GC["gen2_count"] += 1


gc.callbacks.append(_gc_timer)
_send = WebSocketTransport.send


def _counting_send(self: WebSocketTransport, data: bytes) -> bool:
    """Counts the SIP requests sent, by method (bench_ua.py reports requests per operation)."""
    first = data[: data.find(b" ")]
    if first != b"SIP/2.0":
        SENT[first.decode("ascii", "replace")] += 1
    return _send(self, data)


WebSocketTransport.send = _counting_send  # type: ignore[method-assign]


def log(msg: str) -> None:
    print(f"[websip] {msg}", file=sys.stderr, flush=True)


def rss() -> int:
    """VmRSS of this process in bytes (the figure Node's process.memoryUsage().rss gives)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_line(res: dict[str, Any]) -> str:
    """This process's CPU per operation, and the part of it in GC collections."""
    ops = max(res["ops"], 1)
    return (
        f"cpu {res['cpu_s'] * 1e6 / ops:.0f} us/op (sys {res['sys_s'] * 1e6 / ops:.0f}), "
        f"gc {res['gc_s'] * 1e6 / ops:.0f} us/op "
        f"({res['gc_collections']} collections; full: {res['gc_full_collections']}, "
        f"{res['gc_full_s'] * 1e3:.0f} ms)"
    )


def take_sent() -> dict[str, int]:
    out = dict(SENT)
    SENT.clear()
    return out


class Bench:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan

    def user(self, index: int) -> str:
        return f"user{index:04d}"

    def aor(self, index: int) -> str:
        return f"sip:{self.user(index)}@{self.plan['domain']}"

    def make_ua(self, index: int) -> websip.UA:
        ua = websip.UA(
            {
                "uri": self.aor(index),
                "ws_servers": self.plan["url"],
                "password": f"{self.user(index)}pw",
                "register": True,
                "register_expires": 600,
                "connection_recovery_min_interval": 2,
                "connection_recovery_max_interval": 30,
            }
        )
        # JsSIP needs a listener to accept MESSAGE; the same no-op one here.
        ua.on("new_message", lambda event: None)
        return ua

    async def start_ua(self, ua: websip.UA) -> None:
        await ua.start(timeout=self.plan["timeout_s"])

    async def send_message(self, ua: websip.UA, target: str, body: str) -> None:
        await ua.send_message(target, body, content_type="text/plain")

    async def limited(
        self, items: list[Any], concurrency: int, fn: Callable[[Any], Awaitable[None]]
    ) -> list[str]:
        errors: list[str] = []
        queue = list(reversed(items))

        async def worker() -> None:
            while queue:
                item = queue.pop()
                try:
                    await fn(item)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(items)))))
        return errors

    async def timed_rounds(
        self,
        uas: list[websip.UA],
        rounds: int,
        op: Callable[[websip.UA, int, int], Awaitable[None]],
        phase: str = "",
    ) -> dict[str, Any]:
        errors: list[str] = []

        async def one(ua: websip.UA, i: int) -> None:
            for r in range(rounds):
                try:
                    await op(ua, i, r)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        gc.collect()
        profiler = None
        if PROFILE_DIR:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        gc0 = dict(_GC)
        cpu0, sys0 = time.process_time(), os.times().system
        t0 = time.perf_counter()
        await asyncio.gather(*(one(ua, i) for i, ua in enumerate(uas)))
        elapsed = time.perf_counter() - t0
        cpu, sys_cpu = time.process_time() - cpu0, os.times().system - sys0
        if profiler is not None and PROFILE_DIR:
            profiler.disable()
            _PROFILED[phase] += 1
            profiler.dump_stats(os.path.join(PROFILE_DIR, f"{phase}-{_PROFILED[phase]}.prof"))
        return {
            "cpu_s": cpu,
            "sys_s": sys_cpu,
            "gc_s": _GC["time"] - gc0["time"],
            "gc_collections": _GC["count"] - gc0["count"],
            "gc_full_s": _GC["gen2"] - gc0["gen2"],
            "gc_full_collections": _GC["gen2_count"] - gc0["gen2_count"],
            "elapsed": elapsed,
            "ops": len(uas) * rounds - len(errors),
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "sent": take_sent(),
        }

    async def run(self) -> dict[str, Any]:
        plan = self.plan
        n = plan["n"]
        result: dict[str, Any] = {
            "side": "websip",
            "version": websip.__version__,
            "python": sys.version.split()[0],
            "n": n,
        }

        # 1. warm-up
        warm, warm_peer = self.make_ua(plan["warmup_user"]), self.make_ua(plan["peer_user"])
        await asyncio.gather(self.start_ua(warm), self.start_ua(warm_peer))
        await self.send_message(warm, self.aor(plan["peer_user"]), "warm-up")
        await asyncio.gather(warm.stop(), warm_peer.stop())
        del warm, warm_peer
        take_sent()

        # 2. baseline, start N UAs
        gc.collect()
        await asyncio.sleep(plan["settle_s"])
        gc.collect()
        rss0 = rss()
        slots: list[websip.UA | None] = [None] * n
        t0 = time.perf_counter()

        async def start(i: int) -> None:
            slots[i] = ua = self.make_ua(plan["first_user"] + i)
            await self.start_ua(ua)

        start_errors = await self.limited(list(range(n)), plan["start_concurrency"], start)
        uas = [ua for ua in slots if ua is not None]
        result["start_s"] = time.perf_counter() - t0
        result["start_errors"] = len(start_errors)
        if start_errors:
            result["first_error"] = start_errors[0]
            log(f"{len(start_errors)} UAs failed to register: {start_errors[0]}")
        result["start_sent"] = take_sent()
        log(f"{n - len(start_errors)}/{n} registered in {result['start_s']:.2f} s")

        # 3. idle memory
        gc.collect()
        await asyncio.sleep(plan["settle_s"])
        gc.collect()
        result["rss_before"] = rss0
        result["rss_after"] = rss()
        result["registered"] = n - len(start_errors)

        if not start_errors:
            # 4. register rounds: "fresh" (a 401 round each time) and "cached"
            result["register"] = []
            result["register_cached"] = []

            async def fresh(ua: websip.UA, i: int, r: int) -> None:
                auth = ua._core.auth
                if auth is not None:
                    auth.forget()
                await ua.register()

            async def cached(ua: websip.UA, i: int, r: int) -> None:
                await ua.register()

            for _ in range(plan["repeats"] if plan["register_rounds"] > 0 else 0):
                for key, op in (("register", fresh), ("register_cached", cached)):
                    res = await self.timed_rounds(uas, plan["register_rounds"], op, key)
                    result[key].append(res)
                    log(
                        f"{key}: {res['ops']} in {res['elapsed']:.3f} s "
                        f"({res['ops'] / res['elapsed']:.0f}/s) sent {res['sent']} {cpu_line(res)}"
                    )

            # 5. message rounds
            if n == 1:
                peer = self.make_ua(plan["peer_user"])
                await self.start_ua(peer)
                take_sent()
                targets = [self.aor(plan["peer_user"])]
            else:
                targets = [self.aor(plan["first_user"] + (i + 1) % n) for i in range(n)]

            async def message(ua: websip.UA, i: int, r: int) -> None:
                await self.send_message(ua, targets[i], f"bench {i} {r}")

            result["message"] = []
            for _ in range(plan["repeats"] if plan["message_rounds"] > 0 else 0):
                res = await self.timed_rounds(uas, plan["message_rounds"], message, "message")
                result["message"].append(res)
                log(
                    f"message: {res['ops']} in {res['elapsed']:.3f} s "
                    f"({res['ops'] / res['elapsed']:.0f}/s) sent {res['sent']} {cpu_line(res)}"
                )
        return result


async def amain(plan: dict[str, Any]) -> None:
    code = 0
    try:
        result = await Bench(plan).run()
    except Exception as exc:
        traceback.print_exc()
        result, code = {"side": "websip", "error": f"{type(exc).__name__}: {exc}"}, 1
    print(json.dumps(result), flush=True)
    # Closing the sockets is enough: Kamailio drops the bindings of a closed
    # WebSocket (usrloc handle_lost_tcp), and N graceful un-REGISTERs are not
    # part of any measurement. Exiting here skips asyncio's teardown of N UAs.
    os._exit(code)


def main() -> None:
    asyncio.run(amain(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
