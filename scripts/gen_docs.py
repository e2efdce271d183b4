#!/usr/bin/env python3
"""Write the generated docs: the API reference and the state diagrams.

    python scripts/gen_docs.py          # rewrite docs/api.md and docs/state-machines.md
    python scripts/gen_docs.py --check  # exit 1 if either is out of date (the tests run this)

Both come from the code itself, so they cannot drift: the API reference from
the docstrings and signatures of the public names, the diagrams (Mermaid, which
GitHub and most Markdown viewers draw) from the machines' transition tables.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import websip  # noqa: E402
from websip import invite  # noqa: E402
from websip.aio import session as session_module  # noqa: E402
from websip.aio import ua as ua_module  # noqa: E402
from websip.media import AiortcMediaHandler, PcmSink, SignalingOnlyMediaHandler  # noqa: E402
from websip.media import sources as media_sources  # noqa: E402
from websip.transaction import ict, ist, nict, nist, retransmit  # noqa: E402

API = ROOT / "docs" / "api.md"
DIAGRAMS = ROOT / "docs" / "state-machines.md"


# -- API reference --------------------------------------------------------------


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _members(cls: type) -> Iterable[tuple[str, Any]]:
    for name, member in cls.__dict__.items():
        if name.startswith("_") and name not in ("__init__",):
            continue
        if isinstance(member, property) or callable(member):
            yield name, member


def _class_section(cls: type, heading: str = "###") -> list[str]:
    lines = [f"{heading} `{cls.__module__}.{cls.__qualname__}`", ""]
    init = cls.__dict__.get("__init__")
    signature = _signature(init).replace("(self, ", "(").replace("(self)", "()") if init else ""
    lines += [f"```python\n{cls.__name__}{signature}\n```", ""]
    if _doc(cls):
        lines += [_doc(cls), ""]
    for name, member in _members(cls):
        if name == "__init__":
            continue
        if isinstance(member, property):
            lines.append(f"- **`{name}`** (property): {_first_line(member)}")
        else:
            target = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            signature = _signature(target).replace("(self, ", "(").replace("(self)", "()")
            lines.append(f"- **`{name}{signature}`**: {_first_line(target)}")
    lines.append("")
    return lines


def _first_line(obj: Any) -> str:
    text = _doc(obj)
    return text.split("\n\n", 1)[0].replace("\n", " ") if text else ""


def api_reference() -> str:
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings by `python scripts/gen_docs.py`; do not edit.",
        "The concepts are in the [guide](guide.md).",
        "",
        "## The UA",
        "",
    ]
    lines += _class_section(ua_module.UA)
    lines += _class_section(ua_module.IncomingRequest)
    lines += ["## Calls", ""]
    lines += _class_section(session_module.RTCSession)
    for cls in (
        session_module.SessionEventData,
        session_module.RenegotiationEvent,
        session_module.ReferEvent,
        session_module.ReferSubscription,
    ):
        lines += _class_section(cls)
    lines += ["## UA events", ""]
    from websip.aio import events

    for name in sorted(events.__all__):
        obj = getattr(events, name)
        if isinstance(obj, type):
            fields = ", ".join(f"`{f}`" for f in getattr(obj, "__dataclass_fields__", {}))
            lines.append(f"- **`{name}`** ({fields}): {_first_line(obj)}")
    lines += ["", "## Media", ""]
    for cls in (AiortcMediaHandler, SignalingOnlyMediaHandler, PcmSink):
        lines += _class_section(cls)
    for name in sorted(media_sources.__all__):
        obj = getattr(media_sources, name)
        if isinstance(obj, type):
            lines += _class_section(obj)
    lines += ["## Syntax and errors", ""]
    for name in sorted(websip.__all__):
        obj = getattr(websip, name)
        module = getattr(obj, "__module__", None) or ""
        if name.startswith("_") or not module or module.startswith("websip.aio"):
            continue
        if isinstance(obj, type):
            lines += _class_section(obj)
        elif callable(obj):
            lines += [
                f"### `websip.{name}{_signature(obj)}`",
                "",
                _doc(obj),
                "",
            ]
    lines += ["## Causes (`websip.causes`)", ""]
    for name, value in sorted(vars(websip.causes).items()):
        if name.isupper() and isinstance(value, str):
            lines.append(f"- `{name}` = `{value!r}`")
    return "\n".join(lines).rstrip() + "\n"


# -- state diagrams -------------------------------------------------------------


def _label(value: Any) -> str:
    text = str(value.value if isinstance(value, enum.Enum) else value)
    return text.replace('"', "'").replace(":", " ")


def _node(state: enum.Enum) -> str:
    return state.name


def mermaid(title: str, table: Mapping[tuple[Any, Any], Any]) -> str:
    lines = [f"### {title}", "", "```mermaid", "stateDiagram-v2"]
    states: dict[str, str] = {}
    for (state, trigger), outcome in table.items():
        if isinstance(outcome, tuple):
            next_state, actions = outcome
            done = ", ".join(_label(a) for a in actions) or "-"
            label = f"{_label(trigger)} / {done}"
        else:
            next_state, label = outcome, _label(trigger)
        states[_node(state)] = _label(state)
        states[_node(next_state)] = _label(next_state)
        lines.append(f"    {_node(state)} --> {_node(next_state)}: {label}")
    for node, text in states.items():
        lines.append(f'    state "{text}" as {node}')
    lines += ["```", ""]
    return "\n".join(lines)


def state_machines() -> str:
    parts = [
        "# State machines",
        "",
        "Drawn from the transition tables of the code by `python scripts/gen_docs.py`",
        "(do not edit): every edge is one entry of a `TRANSITIONS` table, labelled",
        '"input / actions" as the RFC 3261 figures are.',
        "",
        "## Transactions (RFC 3261 17, RFC 6026)",
        "",
        mermaid("INVITE client transaction (RFC 3261 17.1.1, RFC 6026 7.2)", ict.TRANSITIONS),
        mermaid("non-INVITE client transaction (RFC 3261 17.1.2)", nict.TRANSITIONS),
        mermaid("INVITE server transaction (RFC 3261 17.2.1, RFC 6026 7.1)", ist.TRANSITIONS),
        mermaid("non-INVITE server transaction (RFC 3261 17.2.2)", nist.TRANSITIONS),
        mermaid("2xx retransmission (RFC 3261 13.3.1.4)", retransmit.TRANSITIONS),
        "## The INVITE session (`websip.invite`)",
        "",
        mermaid("Call state (JsSIP's RTCSession states)", invite.TRANSITIONS),
    ]
    return "\n".join(parts).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    stale = []
    for path, text in ((API, api_reference()), (DIAGRAMS, state_machines())):
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python scripts/gen_docs.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
