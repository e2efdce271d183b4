"""bench/bench_calls.py runs end to end against a real Kamailio and reports right.

A tiny configuration (3 timed calls per setup mode, one simultaneous audio
call for 2 s) proves the whole chain: the Kamailio it starts, the two pinned
peer processes, the setup marks, frame counting both ways and the CPU figures.
The statistics and the target logic are checked on made-up data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kamailio.fixtures import require_kamailio_or_fail

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import bench_calls  # noqa: E402


@pytest.mark.kamailio
def test_tiny_run_against_kamailio(tmp_path: Path) -> None:
    require_kamailio_or_fail()
    out = tmp_path / "calls.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_calls.py"), "--setup-calls", "3",
         "--warmup", "1", "--steps", "1", "--window", "2", "--settle", "0.5",
         "--json", str(out)],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())

    assert set(report["setup"]) == {"none", "aiortc"}
    for mode, setup in report["setup"].items():
        assert setup["calls"] == 3 and setup["failed"] == 0, setup["first_error"]
        assert len(setup["samples"]) == 3
        confirmed = setup["confirmed"]
        assert 0 < confirmed["p50"] <= confirmed["p99"] <= confirmed["max"] < 5000
        # the marks come in protocol order: offer made, 180, 200, ACK sent
        for sample in setup["samples"]:
            assert sample["offer"] <= sample["progress"] <= sample["accepted"]
            assert sample["accepted"] <= sample["confirmed"]
        assert ("connected" in setup) == (mode == "aiortc")

    [step] = report["steps"]
    assert step["n"] == 1 and step["load"]["established"] == 1
    assert step["answerer_live"] == 1 and step["answerer_left"] == 0
    assert step["hangup"] == {"ended": 1, "of": 1}
    for side in ("caller", "answerer"):
        window = step[side]
        assert window["calls_measured"] == 1
        assert window["wall_s"] >= 2.0
        # audio flowed both ways for the whole window (50 frames/s expected)
        assert window["frames"] > 0 and window["loss"] < 0.2, window
        assert 0 < window["cpu_per_call"] < 1.0
    assert report["max_calls"] == (1 if step["passed"] else 0)
    assert set(report["targets"]) == {
        "setup p99 with media < 150 ms",
        ">= 20 simultaneous calls per core",
    }
    assert report["targets"][">= 20 simultaneous calls per core"] is False
    assert report["versions"]["caller_cpus"] != report["versions"]["answerer_cpus"]
    assert "call setup (ms from call())" in proc.stdout


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert bench_calls.percentile(values, 50) == pytest.approx(50.5)
    assert bench_calls.percentile(values, 99) == pytest.approx(99.01)
    assert bench_calls.percentile([7.0], 99) == 7.0
    assert bench_calls.percentile([], 50) is None


def _snap(t: float, cpu: float, frames: dict[str, int]) -> dict[str, Any]:
    return {"t": t, "cpu": cpu, "frames": frames, "lag_ms": 3.0, "rss": 1, "threads": 9}


def test_window_counts_missing_calls_as_lost() -> None:
    before = _snap(100.0, 5.0, {"a": 10, "b": 10, "c": 10})
    # 10 s: 500 frames expected per call; "c" ended before the window closed
    after = _snap(110.0, 7.0, {"a": 510, "b": 505})
    window = bench_calls.side_window(before, after, n=3)
    assert window["expected"] == pytest.approx(1500)
    assert window["frames"] == 995
    assert window["loss"] == pytest.approx(1 - 995 / 1500)
    assert window["worst_call_loss"] == pytest.approx(0.01)
    assert window["cpu_share"] == pytest.approx(0.2)
    assert window["cpu_per_call"] == pytest.approx(0.2 / 3)


def test_report_targets_and_best_step() -> None:
    def step(n: int, passed: bool) -> dict[str, Any]:
        side = {"cpu_per_call": 0.04}
        return {"n": n, "passed": passed, "caller": side, "answerer": side}

    setup = {"aiortc": {"confirmed": {"p50": 20.0, "p99": 160.0}}}
    args = argparse.Namespace(quick=False, window=60.0, settle=3.0, codecs=None)
    report = bench_calls.build_report(
        setup, [step(10, True), step(30, False), step(20, True), step(25, False)], args, {}
    )
    assert report["max_calls"] == 20 and not report["all_steps_passed"]
    assert report["cpu_per_call"] == {"caller": 0.04, "answerer": 0.04}
    assert report["targets"] == {
        "setup p99 with media < 150 ms": False,
        ">= 20 simultaneous calls per core": True,
    }
