"""State diagrams are generated from the tables (STYLE: docs cannot drift)."""

from __future__ import annotations

import enum

from websip.transaction import ict, ist, nict, nist, retransmit
from websip.transaction.diagram import diagrams, to_dot


class TestDiagrams:
    """One Graphviz edge per table entry, labelled like the RFC figures."""

    def test_every_entry_is_an_edge(self) -> None:
        sizes = [
            len(table)
            for table in (
                ict.TRANSITIONS,
                nict.TRANSITIONS,
                ist.TRANSITIONS,
                nist.TRANSITIONS,
                retransmit.TRANSITIONS,
            )
        ]
        rendered = list(diagrams().values())
        assert [dot.count(" -> ") for dot in rendered] == sizes
        for dot in rendered:
            assert dot.startswith("digraph transaction {\n")
            assert dot.endswith("}\n")

    def test_labels(self) -> None:
        dot = to_dot("ICT", ict.TRANSITIONS)
        assert '"Calling" -> "Calling" [label="Timer A / INVITE sent, Reset A"];' in dot
        assert '"Completed" -> "Terminated" [label="Timer D / -"];' in dot

    def test_quotes_are_escaped(self) -> None:
        class S(enum.Enum):
            A = 'say "hi"'

        class I(enum.Enum):  # noqa: E742
            X = "back\\slash"

        dot = to_dot('t"itle', {(S.A, I.X): (S.A, ())})
        assert 'label="t\\"itle"' in dot
        assert '"say \\"hi\\"" -> "say \\"hi\\"" [label="back\\\\slash / -"];' in dot
