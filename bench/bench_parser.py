#!/usr/bin/env python3
"""Side-by-side SIP parser benchmark: websip vs JsSIP (Node) vs sippy vs sipmessage.

    python bench/bench_parser.py            # full run (about a minute and a half)
    python bench/bench_parser.py --quick    # smoke test: short repeats
    python bench/bench_parser.py --json out.json

In one run it installs the peer parsers if they are missing (JsSIP from npm
into bench/node_modules, sippy and sipmessage from PyPI into this Python), checks
every parser's values against bench/corpus/expected.json, then measures
messages/second for each parser in mode (a) and mode (b) (median of 5 repeats,
interleaved) and prints a table with the websip ratios and targets. See
bench/README.md for what each mode reads and the fairness notes.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CORPUS = BENCH / "corpus"
PARSER_DIR = BENCH / "parser"
JSSIP_SCRIPT = PARSER_DIR / "jssip_bench.js"

# The peers' versions this benchmark was written against (installed if absent).
PIP_PEERS = {"sippy": "sippy~=2.5.0", "sipmessage": "sipmessage~=0.7.1"}
JSSIP_SERIES = "3.13."

# untimed parsing per parser and mode before calibrating and measuring
WARMUP_S = 0.5
WARMUP_MESSAGES = 5000
TARGET_A_VS_JSSIP = 10.0
TARGET_B_VS_JSSIP = 5.0
TARGET_B_VS_PY = 2.0

PY_PEERS = ("sippy", "sipmessage")
ALL_PARSERS = ("websip", "jssip", "sippy", "sipmessage")
LABELS = {"websip": "websip", "jssip": "JsSIP (Node)", "sippy": "sippy", "sipmessage": "sipmessage"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# installing the peers
# --------------------------------------------------------------------------


def jssip_installed_version() -> str | None:
    pkg = BENCH / "node_modules" / "jssip" / "package.json"
    try:
        return str(json.loads(pkg.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_jssip(install: bool) -> str | None:
    """Returns None when JsSIP 3.13.x is ready, else why it is not."""
    if shutil.which("node") is None:
        return "node is not installed"
    version = jssip_installed_version()
    if version and version.startswith(JSSIP_SERIES):
        return None
    if not install:
        return f"jssip {JSSIP_SERIES}x not in bench/node_modules (run without --no-install)"
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    log(f"installing jssip {JSSIP_SERIES}x: npm install --prefix {BENCH}")
    proc = subprocess.run(
        [npm, "install", "--prefix", str(BENCH), "--no-audit", "--no-fund"],
        cwd=BENCH,
        capture_output=True,
        text=True,
    )
    version = jssip_installed_version()
    if proc.returncode != 0 or not version or not version.startswith(JSSIP_SERIES):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return "npm install failed: " + " | ".join(tail)
    return None


def ensure_pip_peers(install: bool) -> dict[str, str]:
    """Returns {module: why it is unavailable} for the peers that are not usable."""
    import importlib
    import importlib.util

    missing = [m for m in PIP_PEERS if importlib.util.find_spec(m) is None]
    problems: dict[str, str] = {}
    if missing and install:
        reqs = [PIP_PEERS[m] for m in missing]
        log(f"installing {' '.join(reqs)}: {sys.executable} -m pip install")
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", *reqs],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            for m in missing:
                problems[m] = "pip install failed: " + " | ".join(tail)
        importlib.invalidate_caches()
    for m in PIP_PEERS:
        if m not in problems and importlib.util.find_spec(m) is None:
            problems[m] = f"{m} is not installed" + ("" if install else " (--no-install)")
    return problems


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------

_CL_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", re.I | re.M)


def load_corpus() -> tuple[list[str], list[bytes], dict[str, Any]]:
    files = sorted(p.name for p in CORPUS.glob("*.sip"))
    raws = [(CORPUS / f).read_bytes() for f in files]
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))["messages"]
    problems = []
    for f, raw in zip(files, raws, strict=True):
        if re.search(rb"(?<!\r)\n|\r(?!\n)", raw):
            problems.append(f"{f}: line endings are not all CRLF")
        head, sep, body = raw.partition(b"\r\n\r\n")
        m = _CL_RE.search(head)
        if not sep or m is None:
            problems.append(f"{f}: no blank line or no Content-Length")
        elif int(m.group(1)) != len(body):
            problems.append(f"{f}: Content-Length {m.group(1)} but the body has {len(body)} bytes")
        if f not in expected:
            problems.append(f"{f}: missing from expected.json")
        elif expected[f].get("body_len") != len(body):
            problems.append(f"{f}: expected.json body_len is not {len(body)}")
    for f in expected:
        if f not in files:
            problems.append(f"expected.json names {f}, which is not in bench/corpus")
    if problems:
        raise SystemExit(
            "bench/corpus is inconsistent (python bench/corpus/normalize.py fixes line endings "
            "and Content-Length):\n  " + "\n  ".join(problems)
        )
    return files, raws, expected


# --------------------------------------------------------------------------
# checking values against expected.json
# --------------------------------------------------------------------------

_MISSING = object()


def _leaves(exp: Any) -> int:
    if isinstance(exp, dict):
        return sum(_leaves(v) for v in exp.values()) or 1
    if isinstance(exp, list):
        return 1 + sum(_leaves(v) for v in exp)  # the length counts as a value
    return 1


def _norm(key: str, in_params: bool, v: Any) -> Any:
    """Spelling differences that are not wrong values: an absent display name
    as "", a flag parameter's "no value" as "" or True, a qop list as one
    comma-separated string or a tuple."""
    if key == "display_name" and v == "":
        return None
    if in_params and (v == "" or v is True):
        return None
    if key == "qop":
        if isinstance(v, str):
            return [x.strip() for x in v.split(",") if x.strip()]
        if isinstance(v, tuple):
            return list(v)
    return v


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # True is not 1, "5060" is not 5060


def _show(v: Any) -> str:
    if v is _MISSING:
        return "(missing)"
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 90 else s[:87] + "..."


def compare(exp: Any, got: Any, path: str) -> list[dict]:
    """Every expected value that `got` does not reproduce, as {path, got, expected, count}."""
    if isinstance(got, dict) and "__error__" in got:
        return [
            {
                "path": path,
                "got": "error: " + str(got["__error__"]),
                "expected": _show(exp),
                "count": _leaves(exp),
            }
        ]
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return [
                {"path": path, "got": _show(got), "expected": _show(exp), "count": _leaves(exp)}
            ]
        params = path.rsplit(".", 1)[-1] == "params"
        got_keys = {(k.lower() if params and isinstance(k, str) else k): v for k, v in got.items()}
        out: list[dict] = []
        for k, ev in exp.items():
            gv = got_keys.get(k, _MISSING)
            if gv is not _MISSING:
                gv = _norm(k, params, gv)
            out += compare(ev, gv, f"{path}.{k}" if path else k)
        if params:
            for k in got_keys:
                if k not in exp:
                    out.append(
                        {
                            "path": f"{path}.{k}",
                            "got": _show(got_keys[k]),
                            "expected": "(no such parameter)",
                            "count": 1,
                        }
                    )
        return out
    if isinstance(exp, list):
        if not isinstance(got, list | tuple):
            return [
                {"path": path, "got": _show(got), "expected": _show(exp), "count": _leaves(exp)}
            ]
        out = []
        if len(got) != len(exp):
            out.append(
                {
                    "path": f"{path}.length",
                    "got": str(len(got)),
                    "expected": str(len(exp)),
                    "count": 1,
                }
            )
        for i, ev in enumerate(exp):
            out += compare(ev, got[i] if i < len(got) else _MISSING, f"{path}[{i}]")
        return out
    if got is _MISSING or not _same(got, exp):
        return [{"path": path, "got": _show(got), "expected": _show(exp), "count": 1}]
    return []


def check_values(values: dict[str, Any], expected: dict[str, Any]) -> tuple[int, int, list[dict]]:
    """(wrong, total, details) for one parser."""
    wrong, total, details = 0, 0, []
    for f, exp in expected.items():
        exp = {k: v for k, v in exp.items() if not k.startswith("_")}
        got = values.get(f, {"__error__": "no values"})
        if isinstance(got, dict) and "_shortcuts" in got:
            # websip's shortcut properties must agree with the typed headers.
            exp["_shortcuts"] = {
                "from_tag": exp["from"]["tag"],
                "to_tag": exp["to"]["tag"],
                "via_branch": exp["via"]["branch"],
            }
        total += _leaves(exp)
        for d in compare(exp, got, ""):
            d["message"] = f
            wrong += d["count"]
            details.append(d)
    return wrong, total, details


# --------------------------------------------------------------------------
# parsers
# --------------------------------------------------------------------------


class PyRunner:
    """An in-process Python adapter (see bench/parser/common.py)."""

    def __init__(self, adapter: Any, raws: list[bytes]) -> None:
        self.adapter = adapter
        self.version = adapter.version
        self.items = [adapter.prepare(r) for r in raws]
        self.raws = raws
        self.errors = {"a": 0, "b": 0}
        self.last_error: dict[str, str] = {}

    def time(self, mode: str, n: int) -> float:
        fn = self.adapter.mode_a if mode == "a" else self.adapter.mode_b
        items = self.items
        errors = 0
        last = None
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(n):
            for it in items:
                try:
                    fn(it)
                except Exception as exc:
                    errors += 1
                    last = exc
        elapsed = time.perf_counter() - t0
        if errors:
            self.errors[mode] = max(self.errors[mode], errors // n)
            self.last_error[mode] = f"{type(last).__name__}: {last}"
        return elapsed

    def values(self, files: list[str]) -> dict[str, Any]:
        out = {}
        for f, raw in zip(files, self.raws, strict=True):
            try:
                out[f] = self.adapter.values(raw)
            except Exception as exc:
                out[f] = {"__error__": f"{type(exc).__name__}: {exc}"}
        return out

    def close(self) -> None:
        pass


class NodeRunner:
    """JsSIP in a Node child process speaking JSON lines (bench/parser/jssip_bench.js)."""

    def __init__(self) -> None:
        env = dict(os.environ, NODE_PATH=str(BENCH / "node_modules"))
        self.proc = subprocess.Popen(
            ["node", str(JSSIP_SCRIPT), str(CORPUS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=PARSER_DIR,
            env=env,
        )
        info = self._call({"cmd": "info"})
        self.version = info["version"]
        self.node = info["node"]
        self.errors = {"a": 0, "b": 0}
        self.last_error: dict[str, str] = {}

    def _call(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"jssip_bench.js exited (code {self.proc.poll()})")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError("jssip_bench.js: " + out["error"])
        return out

    def time(self, mode: str, n: int) -> float:
        return float(self._call({"cmd": "time", "mode": mode, "n": n})["elapsed"])

    def values(self, files: list[str]) -> dict[str, Any]:
        return self._call({"cmd": "values"})["values"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def make_runners(
    wanted: list[str], raws: list[bytes], install: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    runners: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    sys.path.insert(0, str(PARSER_DIR))
    if "websip" in wanted:
        sys.path.insert(0, str(REPO / "src"))  # measure this working tree
        try:
            from websip_adapter import WebsipAdapter

            runners["websip"] = PyRunner(WebsipAdapter(), raws)
        except Exception as exc:
            unavailable["websip"] = f"{type(exc).__name__}: {exc}"
    if "jssip" in wanted:
        why = ensure_jssip(install)
        if why is None:
            try:
                runners["jssip"] = NodeRunner()
            except Exception as exc:
                unavailable["jssip"] = f"{type(exc).__name__}: {exc}"
        else:
            unavailable["jssip"] = why
    if any(p in wanted for p in PY_PEERS):
        problems = ensure_pip_peers(install)
        import peers

        for name, cls in (("sippy", peers.SippyAdapter), ("sipmessage", peers.SipmessageAdapter)):
            if name not in wanted:
                continue
            if name in problems:
                unavailable[name] = problems[name]
                continue
            try:
                runners[name] = PyRunner(cls(), raws)
            except Exception as exc:
                unavailable[name] = f"{type(exc).__name__}: {exc}"
    return runners, unavailable


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


def warm_up(timer: Callable[[int], float], n_msgs: int) -> None:
    """Untimed parsing until the code is warm: V8 needs a few thousand messages
    before JsSIP's parser is optimised (it starts ~8x slower), CPython's
    specialising interpreter far fewer. Same rule for every parser, --quick too."""
    chunk, done, spent = 1, 0, 0.0
    while done < WARMUP_MESSAGES or spent < WARMUP_S:
        t = timer(chunk)
        spent += t
        done += chunk * n_msgs
        if t < 0.05:
            chunk *= 2


def calibrate(timer: Callable[[int], float], min_time: float) -> int:
    """Passes over the corpus that make one repeat last at least min_time s."""
    n = 1
    while True:
        t = timer(n)
        if t >= min(0.2, min_time / 2) or n >= 1 << 24:
            break
        n *= 2 if t <= 0 else max(2, min(16, math.ceil(0.25 / t)))
    return max(1, math.ceil(n * min_time / t * 1.05)) if t > 0 else n


def measure(
    runners: dict[str, Any], n_msgs: int, repeats: int, min_time: float
) -> dict[str, dict[str, Any]]:
    jobs = [(p, mode) for p in runners for mode in ("a", "b")]
    passes: dict[tuple[str, str], int] = {}
    for p, mode in jobs:
        log(f"warming up and calibrating {LABELS[p]} mode ({mode})")
        runner = runners[p]
        timer = lambda k, r=runner, m=mode: r.time(m, k)  # noqa: E731
        warm_up(timer, n_msgs)
        n = calibrate(timer, min_time)
        passes[(p, mode)] = n
    samples: dict[tuple[str, str], list[float]] = {j: [] for j in jobs}
    for r in range(repeats):
        order = jobs[r % len(jobs) :] + jobs[: r % len(jobs)]  # interleaved, rotated
        log(f"repeat {r + 1}/{repeats}")
        for p, mode in order:
            n = passes[(p, mode)]
            elapsed = runners[p].time(mode, n)
            samples[(p, mode)].append(n * n_msgs / elapsed)
    out: dict[str, dict[str, Any]] = {}
    for (p, mode), s in samples.items():
        out.setdefault(p, {})[mode] = {
            "median": statistics.median(s),
            "samples": s,
            "passes_per_repeat": passes[(p, mode)],
            "messages_per_repeat": passes[(p, mode)] * n_msgs,
        }
    return out


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _fmt_rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _fmt_spread(m: dict[str, Any] | None) -> str:
    if not m or not m["samples"] or m["median"] <= 0:
        return "-"
    return f"±{(max(m['samples']) - min(m['samples'])) / 2 / m['median']:.0%}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def build_report(
    files: list[str],
    runners: dict[str, Any],
    unavailable: dict[str, str],
    checks: dict[str, tuple[int, int, list[dict]]],
    rates: dict[str, dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    def rate(p: str, mode: str) -> float | None:
        return rates.get(p, {}).get(mode, {}).get("median")

    py_b = {p: rate(p, "b") for p in PY_PEERS if rate(p, "b") is not None}
    fastest_py = max(py_b, key=lambda p: py_b[p]) if py_b else None
    ratios = {
        "a_vs_jssip": _ratio(rate("websip", "a"), rate("jssip", "a")),
        "b_vs_jssip": _ratio(rate("websip", "b"), rate("jssip", "b")),
        "b_vs_fastest_python": _ratio(
            rate("websip", "b"), py_b.get(fastest_py) if fastest_py else None
        ),
        "fastest_python_peer_b": fastest_py,
    }
    wrong_websip = checks["websip"][0] if "websip" in checks else None

    def met(v: float | None, target: float) -> bool | None:
        return None if v is None else v >= target

    targets = {
        "a_vs_jssip_10x": met(ratios["a_vs_jssip"], TARGET_A_VS_JSSIP),
        "b_vs_jssip_5x": met(ratios["b_vs_jssip"], TARGET_B_VS_JSSIP),
        "b_vs_fastest_python_2x": met(ratios["b_vs_fastest_python"], TARGET_B_VS_PY),
        "websip_zero_wrong": None if wrong_websip is None else wrong_websip == 0,
    }
    parsers = {}
    for p in ALL_PARSERS:
        if p in runners:
            r = runners[p]
            parsers[p] = {
                "version": r.version,
                "mode_a": rates.get(p, {}).get("a"),
                "mode_b": rates.get(p, {}).get("b"),
                "wrong_values": checks[p][0],
                "checked_values": checks[p][1],
                "wrong": checks[p][2],
                "errors_per_corpus_pass": r.errors,
                "last_timed_error": r.last_error,
            }
        elif p in unavailable:
            parsers[p] = {"unavailable": unavailable[p]}
    env = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "node": getattr(runners.get("jssip"), "node", None),
    }
    return {
        "corpus": files,
        "repeats": args.repeats,
        "min_time_per_repeat_s": args.min_time,
        "quick": args.quick,
        "environment": env,
        "parsers": parsers,
        "ratios": ratios,
        "targets": targets,
    }


def print_report(report: dict[str, Any]) -> None:
    P = report["parsers"]
    n = len(report["corpus"])
    print()
    print(
        f"SIP parser benchmark: {n} messages (bench/corpus), messages/s = median of "
        f"{report['repeats']} repeats of >= {report['min_time_per_repeat_s']:g} s each"
        + (" [--quick]" if report["quick"] else "")
    )
    env = report["environment"]
    print(
        f"Python {env['python']} ({env['implementation']}), Node {env['node'] or '-'}, "
        f"{env['machine']}, {env['cpus']} CPU(s)"
    )
    print()
    cols = ("mode a msg/s", "spread", "mode b msg/s", "spread", "wrong values")
    hdr = f"{'parser':<14}{'version':<10}{cols[0]:>14}{cols[1]:>8}{cols[2]:>14}{cols[3]:>8}"
    hdr += f"{cols[4]:>16}"
    print(hdr)
    print("-" * len(hdr))
    for p in ALL_PARSERS:
        if p not in P:
            continue
        d = P[p]
        if "unavailable" in d:
            dashes = f"{'-':<10}{'-':>14}{'-':>8}{'-':>14}{'-':>8}{'-':>16}"
            print(f"{LABELS[p]:<14}{dashes}   unavailable: {d['unavailable']}")
            continue
        cells = []
        for mode in ("mode_a", "mode_b"):
            m = d[mode]
            cells.append(_fmt_rate(m["median"] if m else None))
            cells.append(_fmt_spread(m))
        wrong = f"{d['wrong_values']} / {d['checked_values']}"
        print(
            f"{LABELS[p]:<14}{d['version']!s:<10}{cells[0]:>14}{cells[1]:>8}"
            f"{cells[2]:>14}{cells[3]:>8}{wrong:>16}"
        )
    print("(spread: half the min-max range of the repeats, relative to the median)")
    print()
    r, t = report["ratios"], report["targets"]

    def line(label: str, v: float | None, target: float, ok: bool | None) -> None:
        val = "-" if v is None else f"{v:.1f}x"
        verdict = "not measured" if ok is None else ("MET" if ok else "NOT MET")
        print(f"  {label:<44}{val:>9}   target >= {target:g}x: {verdict}")

    print("websip ratios")
    line("mode (a) websip / JsSIP", r["a_vs_jssip"], TARGET_A_VS_JSSIP, t["a_vs_jssip_10x"])
    line("mode (b) websip / JsSIP", r["b_vs_jssip"], TARGET_B_VS_JSSIP, t["b_vs_jssip_5x"])
    fp = r["fastest_python_peer_b"]
    line(
        f"mode (b) websip / fastest Python peer ({fp or '-'})",
        r["b_vs_fastest_python"],
        TARGET_B_VS_PY,
        t["b_vs_fastest_python_2x"],
    )
    zw = t["websip_zero_wrong"]
    print(
        f"  {'websip wrong values':<44}{'-' if zw is None else P['websip']['wrong_values']:>9}"
        f"   target 0: {'not measured' if zw is None else ('MET' if zw else 'NOT MET')}"
    )
    for p in ALL_PARSERS:
        d = P.get(p, {})
        for mode, cnt in (d.get("errors_per_corpus_pass") or {}).items():
            if cnt:
                print(
                    f"  note: {LABELS[p]} raised on {cnt} message(s) per pass in mode ({mode}): "
                    f"{d['last_timed_error'].get(mode)}"
                )
    print()
    print("Wrong values (parser: message  path: got ... expected ...)")
    for p in ALL_PARSERS:
        d = P.get(p)
        if not d or "unavailable" in d:
            continue
        print(f"  {LABELS[p]}: {d['wrong_values']} wrong of {d['checked_values']} checked")
        for w in d["wrong"]:
            cnt = f" [{w['count']} values]" if w["count"] > 1 else ""
            where = w["path"] or "(whole message)"
            print(f"    {w['message']}  {where}: got {w['got']}, expected {w['expected']}{cnt}")


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="short repeats (smoke test)")
    ap.add_argument("--json", metavar="PATH", help="also write the full results as JSON")
    ap.add_argument(
        "--repeats", type=int, default=5, help="repeats per parser and mode (median; default 5)"
    )
    ap.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="seconds of parsing per repeat (default 1.0, 0.05 with --quick)",
    )
    ap.add_argument(
        "--parsers",
        default=",".join(ALL_PARSERS),
        help=f"comma-separated subset of {','.join(ALL_PARSERS)}",
    )
    ap.add_argument(
        "--no-install", action="store_true", help="do not npm/pip install missing peers"
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless every websip target is met (websip must be available)",
    )
    args = ap.parse_args(argv)
    if args.min_time is None:
        args.min_time = 0.05 if args.quick else 1.0
    wanted = [p.strip().lower() for p in args.parsers.split(",") if p.strip()]
    bad = [p for p in wanted if p not in ALL_PARSERS]
    if bad:
        ap.error(f"unknown parser(s): {', '.join(bad)}")

    files, raws, expected = load_corpus()
    runners, unavailable = make_runners(wanted, raws, install=not args.no_install)
    try:
        checks = {}
        for p, runner in runners.items():
            log(f"checking {LABELS[p]} values against expected.json")
            checks[p] = check_values(runner.values(files), expected)
        rates = measure(runners, len(raws), args.repeats, args.min_time)
    finally:
        for runner in runners.values():
            runner.close()
    report = build_report(files, runners, unavailable, checks, rates, args)
    print_report(report)
    if args.json:
        Path(args.json).write_text(
            json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        log(f"wrote {args.json}")
    if args.check:
        return 0 if all(v is True for v in report["targets"].values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
