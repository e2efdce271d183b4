#!/usr/bin/env python3
"""Profile websip's parser on the benchmark corpus, for working on its speed.

    python bench/profile_parser.py               # msg/s, min of N: parse only, modes (a), (b)
    python bench/profile_parser.py --profile b   # cProfile of mode (b), top functions
    python bench/profile_parser.py --per-header  # cost of each header's first typed read

It runs the adapter of bench/bench_parser.py (bench/parser/websip_adapter.py) on
this checkout's ``src/``, in one process and without the peers, so that variants
can be compared quickly. GC stays on, as in the benchmark. On a shared machine
compare variants in one run (min of N); the benchmark's figures are the final word.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH / "parser"))

from websip_adapter import WebsipAdapter  # noqa: E402

from websip.sip import parse_message  # noqa: E402

GC_ON = "import gc; gc.enable()"


def best(fn: Callable[[], object], number: int, repeats: int) -> float:
    return min(timeit.repeat(fn, setup=GC_ON, number=number, repeat=repeats))


def per_header(raws: list[bytes], number: int, repeats: int) -> None:
    """Time of parse_message + the first parse_header of each value, minus parse_message."""
    costs: dict[str, list[float]] = {}
    for raw in raws:
        base = best(lambda raw=raw: parse_message(raw), number, repeats)  # type: ignore[misc]
        for name in parse_message(raw).header_names():

            def one(raw: bytes = raw, name: str = name) -> None:
                m = parse_message(raw)
                for i in range(len(m.get_headers(name))):
                    m.parse_header(name, i)

            count = len(parse_message(raw).get_headers(name))
            t = (best(one, number, repeats) - base) / number / count * 1e6
            costs.setdefault(name, []).append(t)
    for name, ts in sorted(costs.items(), key=lambda kv: -sum(kv[1])):
        print(f"{name:22} {sum(ts) / len(ts):7.2f} us/value  x{len(ts)}")


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

    def run_parse() -> None:
        for raw in raws:
            parse_message(raw)

    def run_a() -> None:
        for item in items:
            mode_a(item)

    def run_b() -> None:
        for item in items:
            mode_b(item)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.number * 5):
            (run_a if args.profile == "a" else run_b)()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    elif args.per_header:
        per_header(raws, args.number, args.repeats)
    else:
        n = len(raws) * args.number
        for label, fn in (("parse only", run_parse), ("mode (a)", run_a), ("mode (b)", run_b)):
            t = best(fn, args.number, args.repeats)
            print(f"{label:10}: {n / t:10,.0f} msg/s  ({t / n * 1e6:.2f} us/msg)")


if __name__ == "__main__":
    main()
