"""The public names of DESIGN.md section 2 are exported, and nothing else leaks."""

from __future__ import annotations

import websip


def test_all_names_exist() -> None:
    for name in websip.__all__:
        assert hasattr(websip, name), name


def test_syntax_names_are_public() -> None:
    for name in ("URI", "NameAddr", "parse_header", "parse_message", "normalize_target"):
        assert name in websip.__all__


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(websip.ParseError, ValueError)
    assert issubclass(websip.ConfigurationError, ValueError)


def test_all_is_sorted_and_unique() -> None:
    assert len(set(websip.__all__)) == len(websip.__all__)
