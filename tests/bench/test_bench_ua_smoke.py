"""bench/bench_ua.py runs end to end (websip side, real Kamailio) and reports right.

Only the websip side runs here: the JsSIP side needs `npm install` (network),
which the test suite does not do. The report logic is checked on made-up child
results for both sides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kamailio.fixtures import require_kamailio_or_fail

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import bench_ua  # noqa: E402


@pytest.mark.kamailio
def test_websip_side_runs_against_kamailio(tmp_path: Path) -> None:
    require_kamailio_or_fail()
    out = tmp_path / "ua.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_ua.py"), "--quick", "--sides", "websip",
         "--n", "1,5", "--ops", "20", "--repeats", "1", "--settle", "0", "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["unavailable"] == {}
    for n in ("1", "5"):
        w = report["results"][n]["websip"]
        assert "error" not in w, w
        assert w["registered"] == int(n) and w["start_errors"] == 0
        assert w["mem_per_ua"] is not None
        for key in ("register", "register_cached", "message"):
            assert w[key]["errors"] == 0, w[key]["first_error"]
            assert w[key]["median"] > 0
        # the "fresh" row takes the 401 round on every REGISTER, as JsSIP does;
        # websip's default answers the cached challenge pre-emptively
        assert w["register"]["requests_per_op"] == {"REGISTER": 2.0}
        assert w["register_cached"]["requests_per_op"] == {"REGISTER": 1.0}
        assert 1.0 <= w["message"]["requests_per_op"]["MESSAGE"] <= 2.0
    assert "REGISTER/s (401 every time)" in proc.stdout


def _side(n: int, register: float, message: float, rss_growth: int) -> dict[str, Any]:
    def samples(rate: float) -> list[dict[str, Any]]:
        # the first repeat is the untimed warm-up and must not count
        return [
            {"elapsed": 1.0, "ops": 1, "errors": 0, "first_error": None, "sent": {}},
            {"elapsed": 1.0, "ops": int(rate), "errors": 0, "first_error": None,
             "sent": {"REGISTER": 2 * int(rate)}},
        ]  # fmt: skip

    return bench_ua.summarize(
        {"n": n, "registered": n, "start_s": 0.1, "start_errors": 0,
         "rss_before": 1000, "rss_after": 1000 + rss_growth,
         "register": samples(register), "register_cached": samples(2 * register),
         "message": samples(message)}
    )  # fmt: skip


def test_report_ratios_and_targets() -> None:
    results = {
        100: {
            "websip": _side(100, register=300, message=100, rss_growth=100 * 1024 * 10),
            "jssip": _side(100, register=200, message=200, rss_growth=100 * 1024 * 30),
        }
    }
    args = bench_ua.argparse.Namespace(repeats=1)
    report = bench_ua.build_report(results, 100, args, {}, {})
    rows = {row["key"]: row for row in report["rows"]}
    assert rows["register"]["websip"] == 300 and rows["register"]["jssip"] == 200
    assert rows["register"]["ratio"] == pytest.approx(1.5)
    assert rows["register"]["websip_requests_per_op"] == {"REGISTER": 2.0}
    # websip's default row is compared with JsSIP's only behaviour
    assert rows["register_cached"]["ratio"] == pytest.approx(3.0)
    assert rows["message"]["ratio"] == pytest.approx(0.5)
    assert rows["mem_per_ua"]["websip"] == pytest.approx(10.0)
    assert rows["mem_per_ua"]["jssip"] == pytest.approx(30.0)
    assert report["targets"] == {
        "register N=100: websip >= JsSIP": True,
        "message N=100: websip >= JsSIP": False,
        "memory N=100: websip <= JsSIP / 2": True,
    }


def test_a_failed_side_is_reported_not_compared() -> None:
    results = {10: {"websip": bench_ua.summarize({"n": 10, "side": "websip", "error": "boom"}),
                    "jssip": _side(10, register=200, message=200, rss_growth=0)}}  # fmt: skip
    report = bench_ua.build_report(results, 10, bench_ua.argparse.Namespace(repeats=1), {}, {})
    assert report["results"]["10"]["websip"]["error"] == "boom"
    assert report["targets"]["register N=10: websip >= JsSIP"] is None
