"""The README's quick start, word for word, in a fresh virtual environment.

The first ``sh`` block under "## Quick start" is run as it is written, with the
repository as the working directory and a new venv first on PATH: what a
newcomer does on a fresh machine. Packages come from the registry (pip's cache
makes reruns quick).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "no sh block in the README's quick start"
    return match.group(1).strip()


def test_the_quick_start_is_pip_install_then_demo() -> None:
    assert quick_start_commands() == "pip install . && websip demo"


def test_quick_start_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    # A copy of the tree as a fresh clone has it (no build leftovers, no .so).
    source = tmp_path / "websip"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        path = Path(name.decode())
        if not (ROOT / path).is_file():
            continue  # deleted in the work tree, not yet committed
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, source / path)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))
    }
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(env_dir)
    result = subprocess.run(
        ["sh", "-c", quick_start_commands()],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "all 6 checks passed" in output
    # It really ran from the new environment, not from ours.
    installed = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import websip; print(websip.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert str(env_dir) in installed
    assert sys.prefix not in installed
