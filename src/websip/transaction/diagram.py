"""State diagrams drawn from the transition tables, so the docs cannot drift.

Theory of operation
-------------------

Each machine module exports ``TRANSITIONS``: ``(state, input) -> (next state,
actions)``, with enum values written like the labels of the RFC figures
("1xx", "Timer A", "resp. to TU"). :func:`to_dot` turns one table into Graphviz
text, one edge per entry, labelled "input / actions" the way RFC 3261 labels
its figures ("the event over the action to take"). :func:`diagrams` renders
every table of this package; a docs build feeds each to ``dot -Tsvg``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TypeVar

from websip.transaction import ict, ist, nict, nist, retransmit

__all__ = ["diagrams", "to_dot"]

StateE = TypeVar("StateE", bound=enum.Enum)
InputE = TypeVar("InputE", bound=enum.Enum)
ActionE = TypeVar("ActionE", bound=enum.Enum)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(
    title: str, transitions: Mapping[tuple[StateE, InputE], tuple[StateE, Sequence[ActionE]]]
) -> str:
    """Graphviz ``digraph`` text for one transition table.

    Args:
        title: the graph's label.
        transitions: a machine's ``TRANSITIONS``.

    Returns:
        The ``digraph`` source; states are named by their enum values, edges
        are labelled ``input / action, action`` (``-`` when there is none).
    """
    lines = [
        "digraph transaction {",
        f"  label={_quote(title)};",
        "  rankdir=TB;",
        "  node [shape=box, style=rounded];",
    ]
    for (state, trigger), (next_state, actions) in transitions.items():
        done = ", ".join(str(action.value) for action in actions) or "-"
        label = f"{trigger.value} / {done}"
        lines.append(
            f"  {_quote(str(state.value))} -> {_quote(str(next_state.value))}"
            f" [label={_quote(label)}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def diagrams() -> dict[str, str]:
    """The Graphviz source of every machine of this package, by title."""
    return {
        "INVITE client transaction (RFC 3261 17.1.1, RFC 6026 7.2)": to_dot(
            "INVITE client transaction", ict.TRANSITIONS
        ),
        "non-INVITE client transaction (RFC 3261 17.1.2)": to_dot(
            "non-INVITE client transaction", nict.TRANSITIONS
        ),
        "INVITE server transaction (RFC 3261 17.2.1, RFC 6026 7.1)": to_dot(
            "INVITE server transaction", ist.TRANSITIONS
        ),
        "non-INVITE server transaction (RFC 3261 17.2.2)": to_dot(
            "non-INVITE server transaction", nist.TRANSITIONS
        ),
        "2xx retransmission (RFC 3261 13.3.1.4)": to_dot(
            "2xx retransmission", retransmit.TRANSITIONS
        ),
    }
