#!/usr/bin/env python3
"""Side-by-side UA benchmark: websip vs JsSIP 3.13 (Node), against one real Kamailio.

    python bench/bench_ua.py               # N = 1, 100, 1000 (about 2 minutes)
    python bench/bench_ua.py --full        # also 10,000 registered UAs per side (memory)
    python bench/bench_ua.py --quick       # smoke test: N = 1, 10, 50 (about 15 s)
    python bench/bench_ua.py --json out.json

In one run it starts one Kamailio (tests/kamailio/server.py, a benchmark profile:
warnings-only log, room for every connection) and, for each N, runs the websip
side (bench/ua/websip_ua.py) and the JsSIP side (bench/ua/jssip_ua.mjs, with the
`ws` package as its WebSocket) one after the other, each in its own child
process holding N UAs, users user0001..userN. Each child measures:

* REGISTER: completed registrations per second with digest auth, every UA
  re-registering in a row, all UAs at once. JsSIP answers a 401 on every
  REGISTER; websip's row does the same (it forgets the digest state before
  each one), and a second row shows websip's default, which re-uses the
  challenge pre-emptively and sends one REGISTER instead of two.
* MESSAGE: completed round trips per second, UA i sending to UA i+1 (mod N)
  through Kamailio (407 challenge included) and waiting for each 200.
* memory: (RSS with N registered idle UAs - RSS before them) / N, after a
  garbage collection and a few idle seconds, in the process that holds the UAs.

The table shows medians over the repeats and the websip/JsSIP ratios; the
targets are websip's throughput >= JsSIP's and its memory per UA <= half.
See bench/README.md ("UA benchmark") for the details and fairness notes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
UA_DIR = BENCH / "ua"
JSSIP_SCRIPT = UA_DIR / "jssip_ua.mjs"
WEBSIP_SCRIPT = UA_DIR / "websip_ua.py"
sys.path.insert(0, str(REPO / "tests"))

JSSIP_SERIES = "3.13."
SIDES = ("websip", "jssip")
LABELS = {"websip": "websip", "jssip": "JsSIP (Node)"}
# REGISTER/MESSAGE operations per repeat and side, spread over the N UAs
OPS_PER_REPEAT = 2000
QUICK_OPS_PER_REPEAT = 100
CHILD_TIMEOUT_S = 900


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Node side: jssip + ws in bench/node_modules
# --------------------------------------------------------------------------


def _installed(package: str) -> str | None:
    try:
        data = json.loads((BENCH / "node_modules" / package / "package.json").read_text())
        return str(data["version"])
    except (OSError, ValueError, KeyError):
        return None


def _node_ready() -> bool:
    version = _installed("jssip")
    return bool(version and version.startswith(JSSIP_SERIES) and _installed("ws"))


def ensure_node_side(install: bool) -> str | None:
    """Returns None when jssip 3.13.x and ws are ready, else why they are not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if _node_ready():
        return None
    if not install:
        return f"jssip {JSSIP_SERIES}x or ws not in bench/node_modules (run without --no-install)"
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    log(f"installing jssip and ws: npm install --prefix {BENCH}")
    proc = subprocess.run(
        [npm, "install", "--prefix", str(BENCH), "--no-audit", "--no-fund"],
        cwd=BENCH,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not _node_ready():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return "npm install failed: " + " | ".join(tail)
    return None


# --------------------------------------------------------------------------
# limits and Kamailio
# --------------------------------------------------------------------------


def raise_open_files(needed: int) -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; the children and Kamailio inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        raise SystemExit(
            f"{needed} open files are needed (N UAs plus headroom) but the hard limit is "
            f"{hard}: raise it (ulimit -Hn, /etc/security/limits.conf) or use a smaller N"
        )
    return int(soft)


def start_kamailio(max_n: int, workdir: Path) -> Any:
    from kamailio.server import KamailioServer

    connections = max_n + 512
    server = KamailioServer(
        workdir,
        debug=1,  # warnings only: one log line per request would be measured too
        tcp_children=4,
        max_connections=connections,
        tcp_rd_buf_size=16384,
        # Each WebSocket takes about 83 KB of shm at this buffer size, and the
        # transactions of 1000 UAs at once need more than the default leaves
        # (Kamailio then answers "500 No error (2/SL)"); reserved, not touched.
        shm_mb=128 + connections * 200 // 1024,
        load_users=max_n + 2,  # user N+1 and N+2: the warm-up and N = 1 peers
        ws_keepalive_timeout=3600,
    )
    server.start()
    return server


# --------------------------------------------------------------------------
# children
# --------------------------------------------------------------------------


def run_child(side: str, plan: dict[str, Any]) -> dict[str, Any]:
    if side == "jssip":
        cmd = ["node", "--expose-gc", str(JSSIP_SCRIPT), json.dumps(plan)]
    else:
        cmd = [sys.executable, str(WEBSIP_SCRIPT), json.dumps(plan)]
    log(f"-- {LABELS[side]}, N = {plan['n']}")
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=None if plan.get("verbose") else subprocess.PIPE,
            text=True,
            cwd=BENCH,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"side": side, "error": f"no result within {CHILD_TIMEOUT_S} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr or "").strip().splitlines()[-8:]
        return {"side": side, "error": f"exit code {proc.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    if proc.stderr and not plan.get("verbose"):
        for line in proc.stderr.strip().splitlines()[-12:]:
            log("   " + line)
    return result


def rounds_for(n: int, ops: int) -> int:
    return max(2, math.ceil(ops / n))


def _rates(samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    good = [s for s in samples if s["elapsed"] > 0]
    if not good:
        return None
    rates = [s["ops"] / s["elapsed"] for s in good]
    ops = sum(s["ops"] for s in good)
    errors = sum(s["errors"] for s in good)
    sent: dict[str, int] = {}
    for s in good:
        for k, v in s.get("sent", {}).items():
            sent[k] = sent.get(k, 0) + v
    return {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "samples": rates,
        "errors": errors,
        "first_error": next((s["first_error"] for s in good if s["first_error"]), None),
        "requests_per_op": {k: v / ops for k, v in sent.items()} if ops else {},
    }


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": result.get("n")}
    if "error" in result:
        out["error"] = result["error"]
        return out
    n = result["n"]
    registered = result["registered"]
    out["registered"] = registered
    out["start_s"] = result["start_s"]
    out["start_errors"] = result["start_errors"]
    out["rss_before"] = result["rss_before"]
    out["rss_after"] = result["rss_after"]
    out["mem_per_ua"] = (result["rss_after"] - result["rss_before"]) / n if registered else None
    for key in ("register", "register_cached", "message"):
        if result.get(key):
            # the first repeat warms the code up (V8's JIT, CPython's caches): not counted
            out[key] = _rates(result[key][1:] or result[key])
    out["versions"] = {
        k: result[k] for k in ("version", "ws_version", "node", "python") if k in result
    }
    return out


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _get(summary: dict[str, Any] | None, key: str) -> float | None:
    if not summary or key not in summary or summary[key] is None:
        return None
    value = summary[key]
    return float(value["median"]) if isinstance(value, dict) else float(value)


def build_report(
    results: dict[int, dict[str, dict[str, Any]]],
    mem_n: int,
    args: argparse.Namespace,
    unavailable: dict[str, str],
    kamailio_info: dict[str, Any],
) -> dict[str, Any]:
    rows = []
    targets: dict[str, bool | None] = {}
    for n in sorted(results):
        sides = results[n]
        w, j = sides.get("websip"), sides.get("jssip")
        for key, label, cmp_key in (
            ("register", "REGISTER/s (401 every time)", "register"),
            ("register_cached", "REGISTER/s (websip default)", "register"),
            ("message", "MESSAGE round trips/s", "message"),
        ):
            wv, jv = _get(w, key), _get(j, cmp_key)
            if wv is None and jv is None:
                continue
            ratio = _ratio(wv, jv)
            rows.append(
                {
                    "n": n,
                    "what": label,
                    "key": key,
                    "websip": wv,
                    "jssip": jv,
                    "ratio": ratio,
                    "websip_requests_per_op": (w or {}).get(key, {}).get("requests_per_op")
                    if w and w.get(key)
                    else None,
                    "jssip_requests_per_op": (j or {}).get(cmp_key, {}).get("requests_per_op")
                    if j and j.get(cmp_key)
                    else None,
                }
            )
            if key in ("register", "message"):
                targets[f"{key} N={n}: websip >= JsSIP"] = None if ratio is None else ratio >= 1.0
        if n >= 100 or n == mem_n:
            wv, jv = _get(w, "mem_per_ua"), _get(j, "mem_per_ua")
            ratio = _ratio(wv, jv)
            rows.append(
                {"n": n, "what": "RSS per idle UA (KB)", "key": "mem_per_ua",
                 "websip": None if wv is None else wv / 1024,
                 "jssip": None if jv is None else jv / 1024, "ratio": ratio}
            )  # fmt: skip
            if n == mem_n:
                targets[f"memory N={n}: websip <= JsSIP / 2"] = (
                    None if ratio is None else ratio <= 0.5
                )
    return {
        "about": "bench/bench_ua.py: websip vs JsSIP UAs against one Kamailio",
        "command": " ".join(["python", "bench/bench_ua.py", *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "kamailio": kamailio_info,
        "mem_n": mem_n,
        "quick": bool(getattr(args, "quick", False)),
        "repeats": args.repeats,
        "unavailable": unavailable,
        "rows": rows,
        "targets": targets,
        "results": {str(n): sides for n, sides in sorted(results.items())},
    }


def _fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _per_op(d: dict[str, float] | None) -> str:
    if not d:
        return ""
    return " ".join(f"{v:.1f} {k}" for k, v in sorted(d.items()))


def print_report(report: dict[str, Any]) -> None:
    versions: dict[str, dict[str, str]] = {}
    for sides in report["results"].values():
        for side, s in sides.items():
            versions.setdefault(side, s.get("versions", {}))
    print()
    if "websip" in versions:
        v = versions["websip"]
        print(f"websip {v.get('version', '?')} on Python {v.get('python', '?')}")
    if "jssip" in versions:
        v = versions["jssip"]
        print(
            f"JsSIP {v.get('version', '?')} with ws {v.get('ws_version', '?')} "
            f"on Node {v.get('node', '?')}"
        )
    k = report["kamailio"]
    print(
        f"{report['machine']['cpus']} CPUs; Kamailio tcp_children={k.get('tcp_children')}; "
        f"median of {report['repeats']} repeats after 1 warm-up repeat"
    )
    print()
    head = f"{'N':>6}  {'measure':<29} {'websip':>10} {'JsSIP':>10} {'websip/JsSIP':>13}"
    print(head)
    print("-" * len(head))
    for row in report["rows"]:
        digits = 1 if row["key"] == "mem_per_ua" else 0
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        line = (
            f"{row['n']:>6}  {row['what']:<29} {_fmt(row['websip'], digits):>10} "
            f"{_fmt(row['jssip'], digits):>10} {ratio:>13}"
        )
        wire = [
            f"{LABELS[side].split()[0]} {_per_op(row.get(f'{side}_requests_per_op'))}"
            for side in SIDES
            if row.get(f"{side}_requests_per_op")
        ]
        if wire:
            line += "   sent/op: " + ", ".join(wire)
        print(line)
    print()
    for name, why in report["unavailable"].items():
        print(f"{LABELS.get(name, name)} unavailable: {why}")
    for n, sides in report["results"].items():
        for side, s in sides.items():
            if "error" in s:
                print(f"N={n} {LABELS[side]} failed: {s['error']}")
            for key in ("register", "register_cached", "message"):
                if s.get(key) and s[key]["errors"]:
                    print(
                        f"N={n} {LABELS[side]} {key}: {s[key]['errors']} failed operations "
                        f"(first: {s[key]['first_error']})"
                    )
            if s.get("start_errors"):
                print(f"N={n} {LABELS[side]}: {s['start_errors']} UAs did not register")
    if report.get("quick"):
        print(
            "--quick: a smoke run; with so few operations V8 has not optimised JsSIP "
            "and small-N memory is mostly start-up noise, so the ratios mean little"
        )
    print("targets:")
    for name, ok in report["targets"].items():
        print(f"  {name}: {'n/a' if ok is None else 'met' if ok else 'NOT met'}")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="N = 1, 10, 50 and few operations")
    ap.add_argument(
        "--full", action="store_true", help="memory with 10,000 registered UAs per side"
    )
    ap.add_argument("--json", metavar="PATH", help="also write the full results as JSON")
    ap.add_argument("--no-install", action="store_true", help="do not npm install jssip/ws")
    ap.add_argument("--sides", default=",".join(SIDES), help="websip,jssip or one of them")
    ap.add_argument("--n", help="comma-separated UA counts (default 1,100,1000)")
    ap.add_argument("--mem-n", type=int, help="UAs for the memory figure (default: largest N)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 3)")
    ap.add_argument(
        "--ops", type=int, default=None, help=f"operations per repeat (default {OPS_PER_REPEAT})"
    )
    ap.add_argument("--settle", type=float, default=None, help="idle seconds before RSS")
    ap.add_argument("--verbose", action="store_true", help="children's progress as it happens")
    ap.add_argument(
        "--check", action="store_true", help="exit 1 unless every target is met (both sides)"
    )
    args = ap.parse_args(argv)

    sides = [s.strip().lower() for s in args.sides.split(",") if s.strip()]
    if bad := [s for s in sides if s not in SIDES]:
        ap.error(f"unknown side(s): {', '.join(bad)}")
    if args.n:
        n_list = sorted({int(x) for x in args.n.split(",") if x.strip()})
    else:
        n_list = [1, 10, 50] if args.quick else [1, 100, 1000]
    if not n_list or min(n_list) < 1:
        ap.error("--n needs positive counts")
    mem_n = args.mem_n or (10_000 if args.full else max(n_list))
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    ops = args.ops or (QUICK_OPS_PER_REPEAT if args.quick else OPS_PER_REPEAT)
    settle = args.settle if args.settle is not None else (0.5 if args.quick else 2.0)
    max_n = max([*n_list, mem_n])
    raise_open_files(max_n + 1024)

    unavailable: dict[str, str] = {}
    if "jssip" in sides:
        why = ensure_node_side(install=not args.no_install)
        if why is not None:
            unavailable["jssip"] = why
            sides.remove("jssip")
    if "websip" in sides:
        probe = subprocess.run(
            [sys.executable, "-c", "import websip; websip.UA"],
            env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            unavailable["websip"] = probe.stderr.strip().splitlines()[-1]
            sides.remove("websip")
    if not sides:
        raise SystemExit("nothing to measure: " + "; ".join(unavailable.values()))

    results: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ua-") as tmp:
        kamailio = start_kamailio(max_n, Path(tmp))
        kamailio_info = {
            "tcp_children": kamailio.tcp_children,
            "max_connections": kamailio.max_connections,
            "shm_mb": kamailio.shm_mb,
        }
        try:
            runs = [(n, True) for n in n_list]
            if mem_n not in n_list:
                runs.append((mem_n, False))
            for index, (n, timed) in enumerate(runs):
                rounds = rounds_for(n, ops) if timed else 0
                plan = {
                    "url": kamailio.ws_url,
                    "domain": kamailio.domain,
                    "n": n,
                    "first_user": 1,
                    "warmup_user": max_n + 1,
                    "peer_user": max_n + 2,
                    "settle_s": settle,
                    "start_concurrency": 200,
                    "timeout_s": 32,
                    "repeats": args.repeats + 1,  # + 1 untimed warm-up repeat
                    "register_rounds": rounds,
                    "message_rounds": rounds,
                    "verbose": args.verbose,
                }
                # alternate which side goes first, so neither always meets a fresher Kamailio
                order = sides if index % 2 == 0 else list(reversed(sides))
                results[n] = {}
                for side in order:
                    kamailio.unregister_all()
                    time.sleep(0.5)
                    results[n][side] = summarize(run_child(side, plan))
        finally:
            kamailio.stop()
    report = build_report(results, mem_n, args, unavailable, kamailio_info)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    if args.check:
        return 0 if report["targets"] and all(report["targets"].values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
