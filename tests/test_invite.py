"""The INVITE usage's state table (the two-party scenarios are in tests/invite/)."""

from __future__ import annotations

import itertools

import pytest

from websip.exceptions import LocalProtocolError
from websip.invite import (
    TRANSITIONS,
    SessionInput,
    SessionState,
    split_refer_to,
    transition,
)
from websip.sip import NameAddr

ENDS = {SessionState.CANCELED, SessionState.TERMINATED}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(SessionState, SessionInput)))
def test_every_pair_is_in_the_table_or_refused(state: SessionState, event: SessionInput) -> None:
    if (state, event) in TRANSITIONS:
        assert transition(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(LocalProtocolError):
            transition(state, event)


def test_terminated_is_final() -> None:
    assert not [key for key in TRANSITIONS if key[0] is SessionState.TERMINATED]


def test_canceled_only_absorbs_the_invites_outcome() -> None:
    assert {t for (s, _), t in TRANSITIONS.items() if s is SessionState.CANCELED} == {
        SessionState.CANCELED
    }


def test_every_state_is_reachable_from_null() -> None:
    seen = {SessionState.NULL}
    frontier = [SessionState.NULL]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(SessionState)


def test_every_live_state_can_end() -> None:
    for state in set(SessionState) - ENDS - {SessionState.NULL}:
        targets = {t for (s, _), t in TRANSITIONS.items() if s is state}
        assert targets & ENDS, state


def test_split_refer_to() -> None:
    blind = NameAddr.parse("<sip:carol@example.com;transport=ws>")
    assert [str(x) for x in split_refer_to(blind)] == ["sip:carol@example.com;transport=ws", "None"]
    attended = NameAddr.parse("<sip:carol@example.com?Replaces=c1%3Bto-tag%3Da%3Bfrom-tag%3Db>")
    uri, replaces = split_refer_to(attended)
    assert str(uri) == "sip:carol@example.com"
    assert replaces == "c1;to-tag=a;from-tag=b"
