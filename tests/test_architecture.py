"""The sans-I/O rule (DESIGN.md section 1): the protocol core does no I/O.

Everything outside websip.aio, websip.media, websip.server and websip.cli must not
import asyncio, websockets, aiortc, time or socket, directly or through another
module of the core. Checked two ways: statically (every import statement of every
core file) and dynamically (importing the core in a fresh interpreter loads none
of them).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import websip

PACKAGE = Path(websip.__file__).parent
SHELL = {"aio", "media", "server", "cli.py", "__main__.py"}
BANNED = {"asyncio", "websockets", "aiortc", "time", "socket"}
# The standard library's datetime loads ``time`` itself, so at run time only the
# modules that mean I/O are looked for; ``time`` is caught by the static check.
RUNTIME_BANNED = BANNED - {"time"}


def core_files() -> list[Path]:
    files = []
    for path in PACKAGE.rglob("*.py"):
        first = path.relative_to(PACKAGE).parts[0]
        if first not in SHELL:
            files.append(path)
    return files


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_files_exist() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in core_files()}
    assert "sip/message.py" in names
    assert "sip/uri.py" in names


def test_core_imports_no_io_module_statically() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_modules(path) & BANNED)
        for path in core_files()
        if imported_modules(path) & BANNED
    }
    assert offenders == {}


def test_core_imports_no_io_module_at_run_time() -> None:
    modules = sorted(
        "websip." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(
            ".__init__"
        )
        for p in core_files()
    )
    code = (
        "import sys, json\n"
        f"for name in {modules!r}:\n"
        "    __import__(name.rstrip('.'))\n"
        f"print(json.dumps(sorted(m for m in {sorted(RUNTIME_BANNED)!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_ruff_bans_the_same_modules() -> None:
    import tomllib

    config = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())
    banned = config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"]
    assert set(banned) == BANNED
