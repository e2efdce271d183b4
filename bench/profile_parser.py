#!/usr/bin/env python3
"""Profile websip's parser on the benchmark corpus, for working on its speed.

    python bench/profile_parser.py               # timeit, min of N, modes (a) and (b)
    python bench/profile_parser.py --profile b   # cProfile of mode (b), top functions
    python bench/profile_parser.py --per-header  # cost of each header's parse, per value

It runs the same adapter as bench/bench_parser.py (bench/parser/websip_adapter.py)
on this checkout's ``src/``, in one process and without the peers, so variants
can be compared quickly. The benchmark's own figures remain the final word.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import timeit
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH / "parser"))

from websip_adapter import WebsipAdapter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=("a", "b"))
    ap.add_argument("--per-header", action="store_true")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--number", type=int, default=200)
    args = ap.parse_args()

    adapter = WebsipAdapter()
    raws = [p.read_bytes() for p in sorted((BENCH / "corpus").glob("*.sip"))]
    items = [adapter.prepare(r) for r in raws]
    mode_a, mode_b = adapter.mode_a, adapter.mode_b

    def run_a() -> None:
        for item in items:
            mode_a(item)

    def run_b() -> None:
        for item in items:
            mode_b(item)

    if args.profile:
        fn = run_a if args.profile == "a" else run_b
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.number * 5):
            fn()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return

    if args.per_header:
        from websip.sip import parse_message

        costs: dict[str, list[float]] = {}
        for raw, (_, names) in zip(raws, items, strict=True):
            for name in names:
                m = parse_message(raw)
                n = len(m.get_headers(name))
                values = m.get_headers(name)

                def one(name: str = name, n: int = n) -> None:
                    from websip.sip import parse_header

                    for v in values:
                        parse_header(name, v)

                t = min(timeit.repeat(one, number=args.number, repeat=args.repeats))
                costs.setdefault(name, []).append(t / args.number / max(n, 1) * 1e6)
        for name, ts in sorted(costs.items(), key=lambda kv: -sum(kv[1])):
            print(f"{name:22} {sum(ts) / len(ts):7.2f} us/value  x{len(ts)}")
        return

    n = len(items)
    for label, fn in (("parse only", lambda: [parse(r) for r in raws]), ("a", run_a), ("b", run_b)) if (
        parse := __import__("websip.sip", fromlist=["parse_message"]).parse_message
    ) else ():
        t = min(timeit.repeat(fn, number=args.number, repeat=args.repeats))
        print(f"mode {label:10}: {n * args.number / t:10,.0f} msg/s  ({t / args.number / n * 1e6:.2f} us/msg)")


if __name__ == "__main__":
    main()
