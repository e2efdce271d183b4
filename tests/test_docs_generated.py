"""docs/api.md and docs/state-machines.md are what the code generates today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_call_state_appears_in_the_diagram() -> None:
    from websip.invite import SessionState

    text = (ROOT / "docs" / "state-machines.md").read_text(encoding="utf-8")
    for state in SessionState:
        if state is not SessionState.NULL:
            assert f" as {state.name}" in text, state
