#!/usr/bin/env python3
"""Call benchmark: websip calls through one real Kamailio, with aiortc audio on loopback.

    python bench/bench_calls.py                # 100 setups per mode, 60 s windows (~8 min)
    python bench/bench_calls.py --quick        # smoke run (about 40 s)
    python bench/bench_calls.py --json out.json --check

In one run it starts one Kamailio (tests/kamailio/server.py, warnings-only log)
and two child processes (bench/calls/peer.py), each holding one registered UA
and pinned to its own CPU: the caller (user0001, CPU 0) and the answerer
(user0002, CPU 1, answers everything). Kamailio is not pinned and shares the
two CPUs; it carries only signaling, the media goes peer to peer over UDP on
127.0.0.1. Then:

1. call setup: ``count`` calls in a row, each hung up once confirmed, for
   signaling-only (SignalingOnlyMediaHandler on both ends) and for aiortc
   (ICE on 127.0.0.1 only, no STUN, DTLS-SRTP, Opus): p50/p99 of ``call()``
   to ``confirmed`` on the caller, after a few untimed warm-up calls;
2. simultaneous calls: for N in the steps, N two-way audio calls (440 Hz from
   the caller, 880 Hz from the answerer, 20 ms frames), a settle time, then a
   window during which every sink's 20 ms chunks are counted against the 50 per
   second and call expected, in both directions; the step passes when every
   call was established and both directions lost under 1 %. The CPU per call is
   the process's CPU time (getrusage, all threads) / wall time / N, per side.
   The steps go up until one fails; the largest passing N is the result.

Each process's CPU carries one end of each of the N calls, so the
"calls per core" figure is N. Targets: setup p99 < 150 ms with media, and at
least 20 simultaneous calls per core. See bench/README.md ("Call benchmark").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEER = BENCH / "calls" / "peer.py"
sys.path.insert(0, str(REPO / "tests"))

FRAMES_PER_S = 50  # 20 ms frames
SETUP_P99_TARGET_MS = 150.0
CALLS_PER_CORE_TARGET = 20
LOSS_LIMIT = 0.01
FULL_STEPS = (10, 20, 30, 40, 50, 60, 70, 80, 100, 120)
QUICK_STEPS = (10, 20)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_setup(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p99/max of each mark (ms since ``call()``), over the calls that worked."""
    good = [s for s in samples if "error" not in s]
    out: dict[str, Any] = {
        "calls": len(samples),
        "failed": len(samples) - len(good),
        "first_error": next((s["error"] for s in samples if "error" in s), None),
    }
    for mark in ("offer", "progress", "accepted", "confirmed", "connected"):
        values = [s[mark] for s in good if mark in s]
        if values:
            out[mark] = {
                "p50": percentile(values, 50),
                "p99": percentile(values, 99),
                "max": max(values),
                "n": len(values),
            }
    return out


def side_window(before: dict[str, Any], after: dict[str, Any], n: int) -> dict[str, Any]:
    """Frames received and CPU used by one process between two snapshots."""
    wall = after["t"] - before["t"]
    keys = set(before["frames"]) & set(after["frames"])
    per_call = [after["frames"][k] - before["frames"][k] for k in keys]
    expected_per_call = FRAMES_PER_S * wall
    received = sum(per_call)
    expected = expected_per_call * n
    cpu = after["cpu"] - before["cpu"]
    return {
        "wall_s": wall,
        "calls_measured": len(keys),
        "frames": received,
        "expected": expected,
        # calls that ended or were missing count as fully lost
        "loss": 1 - received / expected if expected else None,
        "worst_call_loss": (1 - min(per_call) / expected_per_call) if per_call else None,
        "cpu_s": cpu,
        "cpu_share": cpu / wall,  # of one core
        "cpu_per_call": cpu / wall / n if n else None,
        "lag_ms": after["lag_ms"],
        "rss": after["rss"],
        "threads": after["threads"],
    }


# --------------------------------------------------------------------------
# children and Kamailio
# --------------------------------------------------------------------------


class Child:
    """A peer.py process, spoken to in JSON lines."""

    def __init__(self, role: str, plan: dict[str, Any], stderr: IO[bytes] | None) -> None:
        self.role = role
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), role, json.dumps(plan)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=BENCH,
        )
        self._buffer = b""

    def send(self, cmd: str, **args: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        self.proc.stdin.flush()

    def read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.role}: no answer within {timeout} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"{self.role} exited (code {self.proc.wait()})")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        if "error" in result and len(result) == 1:
            raise RuntimeError(f"{self.role}: {result['error']}")
        return result

    def request(self, cmd: str, timeout: float = 60, **args: Any) -> dict[str, Any]:
        self.send(cmd, **args)
        return self.read(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def start_kamailio(workdir: Path) -> Any:
    from kamailio.server import KamailioServer

    server = KamailioServer(
        workdir,
        debug=1,  # warnings only: one log line per request would be measured too
        tcp_children=2,
        max_connections=256,
        load_users=4,
    )
    server.start()
    return server


def group_cpu_seconds(pgid: int) -> float:
    """CPU time of every process in a process group (Kamailio and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp ... utime(12th) stime(13th)
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


# --------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------


def run_setup(caller: Child, media: str, count: int, warmup: int) -> dict[str, Any]:
    log(f"-- setup time, {media}: {warmup} warm-up + {count} calls")
    res = caller.request("setup", media=media, count=count, warmup=warmup, timeout=30 + count * 2)
    summary = summarize_setup(res["samples"])
    summary["samples"] = res["samples"]
    c = summary.get("confirmed")
    if c:
        log(f"   confirmed p50 {c['p50']:.1f} ms, p99 {c['p99']:.1f} ms, max {c['max']:.1f} ms")
    return summary


def wait_answerer(answerer: Child, live: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snap = answerer.request("snap")
        if snap["live"] == live or time.monotonic() > deadline:
            return snap
        time.sleep(0.1)


def run_step(
    caller: Child,
    answerer: Child,
    kamailio_pgid: int,
    n: int,
    first: int,
    window: float,
    settle: float,
) -> dict[str, Any]:
    log(f"-- {n} simultaneous calls: {window:g} s window after {settle:g} s settle")
    load = caller.request("load", n=n, first=first, concurrency=5, timeout=60 + n)
    step: dict[str, Any] = {"n": n, "load": load}
    answer_snap = wait_answerer(answerer, n, timeout=10)
    step["answerer_live"] = answer_snap["live"]
    if load["established"] == n and answer_snap["live"] == n:
        time.sleep(settle)
        caller.request("snap")
        answerer.request("snap")  # resets the loop-lag monitors
        k0 = group_cpu_seconds(kamailio_pgid)
        c0, a0 = caller.request("snap"), answerer.request("snap")
        time.sleep(window)
        c1, a1 = caller.request("snap"), answerer.request("snap")
        k1 = group_cpu_seconds(kamailio_pgid)
        step["caller"] = side_window(c0, c1, n)
        step["answerer"] = side_window(a0, a1, n)
        step["kamailio_cpu_share"] = (k1 - k0) / step["caller"]["wall_s"]
    step["hangup"] = caller.request("hangup", timeout=30 + n)
    left = wait_answerer(answerer, 0, timeout=15)["live"]
    step["answerer_left"] = left
    losses = [step[s]["loss"] for s in ("caller", "answerer") if s in step]
    step["passed"] = bool(
        load["established"] == n
        and len(losses) == 2
        and all(loss is not None and loss < LOSS_LIMIT for loss in losses)
    )
    if "caller" in step:
        c, a = step["caller"], step["answerer"]
        log(
            f"   loss caller {c['loss']:.2%} answerer {a['loss']:.2%}; "
            f"CPU caller {c['cpu_share']:.0%} answerer {a['cpu_share']:.0%} "
            f"Kamailio {step['kamailio_cpu_share']:.0%}; lag {c['lag_ms']:.0f}/"
            f"{a['lag_ms']:.0f} ms -> {'pass' if step['passed'] else 'FAIL'}"
        )
    else:
        log(f"   {load['established']}/{n} established ({load['errors'][:1]}) -> FAIL")
    if left:
        log(f"   {left} calls still up on the answerer after the hang-up")
    time.sleep(0.5)
    return step


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def build_report(
    setup: dict[str, dict[str, Any]],
    steps: list[dict[str, Any]],
    args: argparse.Namespace,
    versions: dict[str, Any],
) -> dict[str, Any]:
    passed = [s for s in steps if s["passed"]]
    best = max(passed, key=lambda s: s["n"]) if passed else None
    max_n = best["n"] if best else 0
    media_p99 = setup.get("aiortc", {}).get("confirmed", {}).get("p99")
    targets: dict[str, bool | None] = {}
    if "aiortc" in setup:
        targets[f"setup p99 with media < {SETUP_P99_TARGET_MS:g} ms"] = (
            None if media_p99 is None else media_p99 < SETUP_P99_TARGET_MS
        )
    if steps:
        targets[f">= {CALLS_PER_CORE_TARGET} simultaneous calls per core"] = (
            max_n >= CALLS_PER_CORE_TARGET
        )
    return {
        "about": "bench/bench_calls.py: websip call setup and simultaneous audio calls",
        "command": " ".join(["python", "bench/bench_calls.py", *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "versions": versions,
        "quick": bool(args.quick),
        "window_s": args.window,
        "codecs": args.codecs or "default (Opus first)",
        "settle_s": args.settle,
        "loss_limit": LOSS_LIMIT,
        "setup": setup,
        "steps": steps,
        "max_calls": max_n,
        "calls_per_core": max_n,
        "all_steps_passed": bool(steps) and len(passed) == len(steps),
        "cpu_per_call": (
            {side: best[side]["cpu_per_call"] for side in ("caller", "answerer")} if best else None
        ),
        "targets": targets,
    }


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def print_report(report: dict[str, Any]) -> None:
    v = report["versions"]
    print()
    print(
        f"websip {v.get('websip', '?')} on Python {report['machine']['python']}, "
        f"aiortc {v.get('aiortc', '?')}; {report['machine']['cpus']} CPUs: caller on CPU "
        f"{v.get('caller_cpus', '?')}, answerer on CPU {v.get('answerer_cpus', '?')}, "
        f"Kamailio unpinned; codecs: {report['codecs']}"
    )
    if report["setup"]:
        print()
        head = (
            f"{'call setup (ms from call())':<28} {'calls':>5} {'offer':>7} {'180':>7} "
            f"{'200':>7} {'confirmed p50':>14} {'p99':>7} {'max':>7} {'media up p50':>13}"
        )
        print(head)
        print("-" * len(head))
        for mode, s in report["setup"].items():

            def p50(mark: str, s: dict[str, Any] = s) -> str:
                return _ms(s.get(mark, {}).get("p50"))

            c = s.get("confirmed", {})
            label = "signaling only" if mode == "none" else "aiortc media (loopback)"
            print(
                f"{label:<28} {s['calls'] - s['failed']:>5} {p50('offer'):>7} "
                f"{p50('progress'):>7} {p50('accepted'):>7} {_ms(c.get('p50')):>14} "
                f"{_ms(c.get('p99')):>7} {_ms(c.get('max')):>7} {p50('connected'):>13}"
            )
            if s["failed"]:
                print(f"   {s['failed']} failed calls, first: {s['first_error']}")
    if report["steps"]:
        print()
        head = (
            f"{'N calls':>7} {'loss caller':>12} {'loss answ.':>11} {'worst call':>11} "
            f"{'CPU caller':>11} {'CPU answ.':>10} {'CPU/call':>9} {'Kamailio':>9} "
            f"{'lag ms':>7}  result"
        )
        print(head)
        print("-" * len(head))
        for st in report["steps"]:
            if "caller" not in st:
                print(
                    f"{st['n']:>7} {st['load']['established']}/{st['n']} established: "
                    f"{(st['load']['errors'] or ['?'])[0]}  FAIL"
                )
                continue
            c, a = st["caller"], st["answerer"]
            worst = max(c["worst_call_loss"] or 0, a["worst_call_loss"] or 0)
            per_call = max(c["cpu_per_call"], a["cpu_per_call"])
            print(
                f"{st['n']:>7} {c['loss']:>12.2%} {a['loss']:>11.2%} {worst:>11.1%} "
                f"{c['cpu_share']:>11.0%} {a['cpu_share']:>10.0%} {per_call:>9.1%} "
                f"{st['kamailio_cpu_share']:>9.0%} {max(c['lag_ms'], a['lag_ms']):>7.0f}  "
                f"{'pass' if st['passed'] else 'FAIL'}"
            )
        print(
            f"window {report['window_s']:g} s after {report['settle_s']:g} s settle; loss = "
            f"1 - 20 ms chunks received / (50/s x N x window); pass: every call up and "
            f"loss < {report['loss_limit']:.0%} both ways; CPU/call = CPU time / wall / N "
            "(the larger side, in % of one core)"
        )
        more = "" if not report["all_steps_passed"] else " (every step passed: the limit is higher)"
        print(
            f"max simultaneous calls: {report['max_calls']}, i.e. {report['calls_per_core']} "
            f"calls per core (each core carries one end of every call){more}"
        )
    print()
    print("targets:")
    for name, ok in report["targets"].items():
        print(f"  {name}: {'n/a' if ok is None else 'met' if ok else 'NOT met'}")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def parse_steps(text: str) -> list[int]:
    steps = sorted({int(x) for x in text.split(",") if x.strip()})
    if not steps or steps[0] < 1:
        raise argparse.ArgumentTypeError("steps are positive call counts")
    return steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="20 setups, steps 10,20, 10 s windows")
    ap.add_argument("--json", metavar="PATH", help="also write the full results as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 unless every target is met")
    ap.add_argument("--setup-calls", type=int, help="timed calls per setup mode (default 100)")
    ap.add_argument("--warmup", type=int, help="untimed calls before them (default 3)")
    ap.add_argument("--modes", default="none,aiortc", help="setup modes: none,aiortc")
    ap.add_argument("--steps", type=parse_steps, help="simultaneous call counts to try")
    ap.add_argument("--window", type=float, help="seconds measured per step (default 60)")
    ap.add_argument("--settle", type=float, help="seconds before the window (default 3)")
    ap.add_argument(
        "--all-steps", action="store_true", help="do not stop at the first failing step"
    )
    ap.add_argument(
        "--resolution",
        type=int,
        help="bisect after the first failing step until the bounds are this close "
        "(default 2; --quick: no bisection)",
    )
    ap.add_argument("--codecs", help="codecs of both ends, e.g. PCMU (default: Opus first)")
    ap.add_argument("--cpus", default="0,1", help="caller CPU,answerer CPU (default 0,1)")
    ap.add_argument("--verbose", action="store_true", help="children's stderr as it happens")
    args = ap.parse_args(argv)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if bad := [m for m in modes if m not in ("none", "aiortc")]:
        ap.error(f"unknown mode(s): {', '.join(bad)}")
    if args.setup_calls is None:
        args.setup_calls = 20 if args.quick else 100
    if args.warmup is None:
        args.warmup = 3
    if args.steps is None:
        args.steps = list(QUICK_STEPS if args.quick else FULL_STEPS)
    if args.window is None:
        args.window = 10.0 if args.quick else 60.0
    if args.resolution is None:
        args.resolution = 1_000_000 if args.quick else 2
    if args.settle is None:
        args.settle = 2.0 if args.quick else 3.0
    cpus = [int(x) for x in args.cpus.split(",")]
    available = sorted(os.sched_getaffinity(0))
    if len(cpus) != 2 or any(c not in available for c in cpus):
        ap.error(f"--cpus needs two of the CPUs this process may use: {available}")

    import aiortc

    versions: dict[str, Any] = {"aiortc": aiortc.__version__}
    setup: dict[str, dict[str, Any]] = {}
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp:
        kamailio = start_kamailio(Path(tmp))
        children: list[Child] = []
        logs = {role: Path(tmp, f"{role}.log") for role in ("caller", "answerer")}
        try:
            plans = {}
            for index, role in enumerate(("caller", "answerer")):
                user = f"user{index + 1:04d}"
                plans[role] = {
                    "uri": kamailio.aor(user),
                    "password": kamailio.password(user),
                    "url": kamailio.ws_url,
                    "target": kamailio.aor("user0002"),
                    "cpu": cpus[index],
                    "codecs": args.codecs.split(",") if args.codecs else None,
                }
            answerer = Child(
                "answerer", plans["answerer"], None if args.verbose else logs["answerer"].open("wb")
            )
            children.append(answerer)
            caller = Child(
                "caller", plans["caller"], None if args.verbose else logs["caller"].open("wb")
            )
            children.append(caller)
            for child in children:
                hello = child.read(timeout=30)
                versions["websip"] = hello["version"]
                versions[f"{child.role}_cpus"] = ",".join(map(str, hello["cpus"]))
            for mode in modes:
                setup[mode] = run_setup(caller, mode, args.setup_calls, args.warmup)
            first = 0

            def step_at(n: int) -> bool:
                nonlocal first
                step = run_step(caller, answerer, kamailio.pid, n, first, args.window, args.settle)
                first += n
                steps.append(step)
                return bool(step["passed"])

            low, high = 0, None
            for n in args.steps:
                if step_at(n):
                    low = n
                else:
                    high = high or n
                    if not args.all_steps:
                        break
            # bisect between the last passing step and the first failing one
            while high is not None and high - low > args.resolution:
                mid = (low + high) // 2
                if step_at(mid):
                    low = mid
                else:
                    high = mid
        except Exception:
            for role, path in logs.items():
                if path.exists():
                    tail = path.read_text(errors="replace").strip().splitlines()[-15:]
                    if tail:
                        log(f"--- {role} stderr (tail)\n" + "\n".join(tail))
            raise
        finally:
            for child in reversed(children):
                child.close()
            kamailio.stop()
    report = build_report(setup, steps, args, versions)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    if args.check:
        return 0 if report["targets"] and all(report["targets"].values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
