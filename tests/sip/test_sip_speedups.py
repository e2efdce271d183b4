"""The C accelerator (websip.sip._speedups) against the pure-Python parser.

The rest of tests/sip runs once with each implementation (see conftest.py); the
tests here compare them directly: on the torture corpus, the benchmark corpus
and on generated and mutated messages and values, both must give the same
message (headers, names, defects, body, start line), the same typed values and
the same errors. The extension's functions are also fed arbitrary input
directly: they may only return a value or hand over to their fallback.
"""

# ruff: noqa: E501 - test vectors stay one per line.

from __future__ import annotations

import importlib.machinery
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sip_fuzz import REALISTIC, SEEDS, TORTURE, VALUE_TEXT, mutated

from websip import URI, NameAddr, ParseError, Request, Via, parse_message
from websip.sip import Message, _accel, parse_header
from websip.sip.names import COMPACT_FORMS, KNOWN_NAMES
from websip.sip.params import HeaderParams

SPEEDUPS = _accel.speedups

CHECK = settings(
    max_examples=int(300 * float(os.environ.get("WEBSIP_FUZZ_SCALE", "1"))),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
BENCH_CORPUS = Path(__file__).resolve().parents[2] / "bench" / "corpus"
CORPUS = {p.name: p.read_bytes() for p in sorted(BENCH_CORPUS.glob("*.sip"))}
SIP_DIR = Path(_accel.__file__).parent


@contextmanager
def implementation(c: bool) -> Iterator[None]:
    before = _accel.enabled()
    _accel.enable(c)
    try:
        yield
    finally:
        _accel.enable(before)


def outcome(fn: Callable[[], Any]) -> Any:
    """A description of fn's value, or of the ParseError it raises."""
    try:
        return describe(fn())
    except ParseError as exc:
        return ("ParseError", str(exc), exc.header)


def describe(value: Any) -> Any:
    """Everything observable of a parsed value, as plain data."""
    if isinstance(value, URI):
        return (
            "URI", value.scheme, value.user, value.password, value.host, value.port,
            value.params, value.headers, value.opaque, str(value),
        )  # fmt: skip
    if isinstance(value, HeaderParams):
        fields = {
            name: describe(getattr(value, name))
            for cls in type(value).__mro__
            for name in getattr(cls, "__slots__", ())
            if not name.startswith("_")
        }
        return (type(value).__name__, fields, value.params, sorted(value._quoted), str(value))
    if isinstance(value, list):
        return [describe(v) for v in value]
    if isinstance(value, str | int | type(None)):
        return value
    return (type(value).__name__, repr(value), str(value))


def describe_message(data: bytes | str) -> Any:
    """Everything observable of parse_message(data), typed values included."""
    try:
        m = parse_message(data)
    except ParseError as exc:
        return ("ParseError", type(exc).__name__, str(exc))
    out: dict[str, Any] = {
        "type": type(m).__name__,
        "headers": m.headers,
        "names": m.header_names(),
        "defects": m.defects,
        "body": m.body,
        "version": m.version,
        "bytes": bytes(m),
    }
    if isinstance(m, Request):
        out["start"] = (m.method, m.ruri_text)
        out["ruri"] = outcome(lambda: m.ruri)
    else:
        out["start"] = (m.status_code, m.reason_phrase)
    typed = {}
    for name in m.header_names():
        for i in range(len(m.get_headers(name))):
            typed[name, i] = outcome(lambda n=name, i=i: m.parse_header(n, i))  # type: ignore[misc]
    out["typed"] = typed
    for prop in ("call_id", "cseq", "from_tag", "to_tag", "via_branch", "content_type"):
        out[prop] = outcome(lambda p=prop: getattr(m, p))  # type: ignore[misc]
    return out


def same_both_ways(fn: Callable[[], Any]) -> Any:
    with implementation(True):
        fast = fn()
    with implementation(False):
        reference = fn()
    assert fast == reference
    return fast


def same_message(data: bytes | str) -> Any:
    return same_both_ways(lambda: describe_message(data))


# --------------------------------------------------------------------------


class TestBuilt:
    def test_built(self) -> None:
        """The extension is there and in use wherever it was built (and in CI, where
        gcc and the Python headers are: a build that silently fell back to Python
        would hide a broken accelerator)."""
        built = [
            p
            for p in SIP_DIR.glob("_speedups*")
            if p.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        ]
        if os.environ.get("CI") and not os.environ.get("WEBSIP_PURE_PYTHON"):
            assert built, "CI: websip.sip._speedups was not built"
        if built:
            assert SPEEDUPS is not None, f"{built[0].name} does not import"
            with implementation(True):
                assert _accel.enabled()
        else:
            assert SPEEDUPS is None
            assert not _accel.enable(True)

    def test_switch(self) -> None:
        with implementation(False):
            assert not _accel.enabled()
            assert type(parse_message(REALISTIC[0])) is Request
        with implementation(True):
            assert _accel.enabled() is (SPEEDUPS is not None)
            assert type(parse_message(REALISTIC[0])) is Request


class TestSameResults:
    """(Where the extension is not built, this compares Python with itself; TestBuilt
    fails in CI then.)"""

    @pytest.mark.parametrize("name", sorted(TORTURE))
    def test_torture(self, name: str) -> None:
        same_message(TORTURE[name])
        same_message(TORTURE[name].decode("utf-8", "surrogateescape"))

    @pytest.mark.parametrize("name", sorted(CORPUS))
    def test_bench_corpus(self, name: str) -> None:
        """The benchmark's messages take the C path (framing and typed values)."""
        data = CORPUS[name]
        result = same_message(data)
        assert result["defects"] == []
        with implementation(True):
            m = parse_message(data)
            assert m._raw is None  # framed in C (Python leaves _raw for lazy normalising)
            assert type(m.parse_header("From")) is NameAddr

    def test_realistic_sliced(self) -> None:
        for data in REALISTIC:
            for i in range(0, len(data) + 1, 3):
                same_message(data[:i])
                same_message(data[:i] + data[i + 1 :])

    @CHECK
    @given(mutated())
    def test_mutated(self, data: bytes) -> None:
        same_message(data)

    @CHECK
    @given(st.sampled_from(SEEDS), st.data())
    def test_header_lines_shuffled(self, seed: bytes, data: st.DataObject) -> None:
        head, sep, body = seed.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        rest = data.draw(st.permutations(lines[1:]))
        same_message(b"\r\n".join([lines[0], *rest]) + sep + body)

    @CHECK
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        *KNOWN_NAMES,
                        *COMPACT_FORMS,
                        "via",
                        "CONTACT",
                        "X-Foo",
                        "x-foo",
                        "Via ",
                        "",
                        "a b",
                        "é",
                    ]
                ),
                st.text(alphabet=' \t,;"<>\\=:@%[]*/?&sip.ab1é\x00', max_size=30),
            ),
            max_size=8,
        ),
        st.sampled_from(
            [b"INVITE sip:a@b SIP/2.0", b"SIP/2.0 200 OK", b"SIP/2.0 180", b"ACK sip:x SIP/2.0 "]
        ),
        st.binary(max_size=8),
    )
    def test_generated_messages(
        self, headers: list[tuple[str, str]], start: bytes, body: bytes
    ) -> None:
        head = b"".join(f"\r\n{n}:{v}".encode() for n, v in headers)
        same_message(start + head + b"\r\n\r\n" + body)

    @CHECK
    @given(st.sampled_from([*KNOWN_NAMES, *COMPACT_FORMS]), VALUE_TEXT)
    def test_parse_header(self, name: str, value: str) -> None:
        same_both_ways(lambda: outcome(lambda: parse_header(name, value)))

    @CHECK
    @given(
        st.one_of(
            VALUE_TEXT,
            st.from_regex(
                r'[ \t]?("[a-z\\"é ]{0,6}" ?)?<(sips?|SIP|tel):([a-z%:;?&=@]{0,4}@)?([a-z0-9.\-]{1,12}|\[[0-9a-f:.]{1,10}\])(:[0-9]{0,7})?(;[a-z=\-%;]{0,6}){0,3}(\?[a-z=&]{0,5})?>((;[a-z+.\-]{1,5}(=([a-z0-9:\[\]]{1,5}|"[^"\r\n]{0,8}"))?)|[ \t]){0,4}[ \t]?',
                fullmatch=True,
            ),
        )
    )
    def test_name_addr_uri_via(self, text: str) -> None:
        for parser in (NameAddr.parse, URI.parse, Via.parse):
            same_both_ways(lambda p=parser: outcome(lambda: p(text)))  # type: ignore[misc]
        if text.strip().startswith("<"):
            inner = text.strip()[1:].partition(">")[0]
            same_both_ways(lambda: outcome(lambda: URI.parse(inner)))

    @CHECK
    @given(
        st.from_regex(
            r"[ \t]?(SIP|sip|[A-Z]{1,3})/[0-9.]{1,4}/[a-zA-Z]{1,4}[ \t]{1,2}([a-z0-9.\-]{1,12}|[0-9]{1,4}(\.[0-9]{1,4}){0,4}\.?|\[[0-9a-f:.]{1,8}\])([ \t]?:[ \t]?[0-9]{0,7})?((;[a-z\-]{1,6}(=([a-z0-9.\-]{1,6}|\"[^\"\r\n]{0,5}\"))?)|[ \t]){0,4}",
            fullmatch=True,
        )
    )
    def test_via(self, text: str) -> None:
        same_both_ways(lambda: outcome(lambda: Via.parse(text)))

    @CHECK
    @given(
        st.from_regex(
            r"(sips?|SIPS?):([a-z%;?&=+$,/]{0,5}(:[a-z%&=+$,]{0,4})?@)?([a-z0-9.\-]{1,10}|[0-9]{1,4}(\.[0-9]{1,4}){0,4})(:[0-9]{0,7})?(;[a-z0-9=%;\-\[\]:]{0,6}){0,3}(\?[a-z=&%]{0,6})?",
            fullmatch=True,
        )
    )
    def test_sip_uri(self, text: str) -> None:
        same_both_ways(lambda: outcome(lambda: URI.parse(text)))

    @CHECK
    @given(
        st.from_regex(
            r'((;[ \t]?[a-zA-Z+.\-]{1,5}([ \t]?=[ \t]?([a-z0-9:\[\]]{1,5}|"([^"\\\r\n]|\\[^\r\n]){0,8}"))?[ \t]?)|[ \t]){0,5}',
            fullmatch=True,
        )
    )
    def test_parameters(self, ptext: str) -> None:
        """Cutting validated parameter text (HeaderParams.params)."""
        na_text = f"<sip:a@b>{ptext}"

        def params() -> Any:
            try:
                na = NameAddr.parse(na_text)
            except ParseError:
                return None
            return (na.params, sorted(na._quoted), str(na))

        same_both_ways(params)

    @CHECK
    @given(
        st.sampled_from(
            ["CSeq", "Call-ID", "i", "Allow", "Supported", "k", "Require", "Allow-Events"]
        ),
        st.one_of(
            st.from_regex(
                r"[ \t]?[0-9]{0,12}[ \t]{0,2}(INVITE|ACK|BYE|FOO|invite|é|)[ \t]?", fullmatch=True
            ),
            st.from_regex(
                r"[ \t]?[a-zA-Z0-9.\-!%()<>:\\\"/?{}\[\]é]{0,8}(@[a-z0-9.\-@]{0,6})?[ \t]?",
                fullmatch=True,
            ),
            st.from_regex(
                r"[ \t]?[a-zA-Z0-9.\-!%é]{0,5}(,[ \t]?[a-zA-Z0-9.\-%]{0,5}){0,4}[ \t,]?",
                fullmatch=True,
            ),
            # the usual shapes, which the C code handles
            st.from_regex(r"[0-9]{1,11} (INVITE|ACK|BYE|REGISTER|FOO|)", fullmatch=True),
            st.from_regex(r"[a-zA-Z0-9.\-!%]{1,5}(,[a-zA-Z0-9.\-%]{1,5}){0,4}", fullmatch=True),
        ),
    )
    def test_cseq_call_id_token_lists(self, name: str, value: str) -> None:
        same_both_ways(lambda: outcome(lambda: parse_header(name, value)))
        message = f"OPTIONS sip:a@b SIP/2.0\r\n{name}: {value}\r\n\r\n".encode()
        same_message(message)


class NeverCrash:
    """The extension's entry points on arbitrary input: a value or the fallback."""

    def fallback(self, *args: Any) -> str:
        return "fallback"

    @CHECK
    @given(
        st.one_of(st.binary(max_size=400), mutated()),
        st.integers(0, 600),
        st.integers(0, 20),
        st.integers(0, 200),
    )
    def test_frame(self, data: bytes, size: int, headers: int, line: int) -> None:
        assert SPEEDUPS is not None
        with implementation(True):
            for limits in ((size, headers, line), (1 << 20, 256, 16384)):
                result = SPEEDUPS.frame(data, *limits)
                assert result is None or isinstance(result, Message)
                if result is not None:
                    assert result.defects == []

    @CHECK
    @given(st.one_of(VALUE_TEXT, st.text(max_size=80)))
    def test_values(self, text: str) -> None:
        assert SPEEDUPS is not None
        with implementation(True):
            for fn, args in (
                (SPEEDUPS.sip_uri, (text,)),
                (SPEEDUPS.name_addr, ("From", text)),
                (SPEEDUPS.via, (text,)),
                (SPEEDUPS.generic_params, (text,)),
                (SPEEDUPS.cseq, (text,)),
                (SPEEDUPS.call_id, (text,)),
                (SPEEDUPS.tokens, (text,)),
            ):
                result = fn(self.fallback, *args)
                assert result == "fallback" or result is not None
                assert fn(None, *args) is None or result != "fallback"

    def test_wrong_types(self) -> None:
        assert SPEEDUPS is not None
        assert SPEEDUPS.frame(bytearray(REALISTIC[0]), 1 << 20, 256, 16384) is None
        assert SPEEDUPS.sip_uri(self.fallback, b"sip:a@b") == "fallback"
        assert SPEEDUPS.via(None, 5) is None
        with pytest.raises(TypeError):
            SPEEDUPS.frame(REALISTIC[0], 1)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            SPEEDUPS.configure([])  # type: ignore[arg-type]


if SPEEDUPS is not None:  # collected where it is built; TestBuilt requires that in CI
    TestNeverCrash = NeverCrash
