"""ClientFraming, the RFC 6455 client framing that takes over from websockets.

Bytes from the "server" are written by hand here (so that they can be wrong in
every way a server can be wrong); what ClientFraming writes back is masked and
is read with websockets' own frame parser in server mode. The last test feeds
random frame sequences, split at random points, both to ClientFraming and to
websockets' ``Protocol`` (client side, open) and requires the same messages,
the same frames written back, the same states and the same close codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.protocol import SEND_EOF, Protocol, Side, State
from websockets.streams import StreamReader

from websip.aio._framing import ClientFraming, Message

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
KNOWN_OPCODES = (CONT, TEXT, BINARY, CLOSE, PING, PONG)
UNKNOWN_OPCODES = (0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF)


# -- bytes from the server, written by hand ---------------------------------------


def server_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    width: int | None = None,
    length: int | None = None,
) -> bytes:
    """One frame as a server would send it (RFC 6455 5.2).

    ``width`` forces the length encoding (7, 16 or 64 bits, the shortest by
    default); ``length`` overrides the length written in the header.
    """
    n = len(payload) if length is None else length
    if width is None:
        width = 7 if n < 126 else 16 if n < 65536 else 64
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if width == 7:
        head = bytes((first, mask_bit | n))
    elif width == 16:
        head = bytes((first, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def text(data: bytes, *, fin: bool = True) -> bytes:
    return server_frame(TEXT, data, fin=fin)


def binary(data: bytes, *, fin: bool = True) -> bytes:
    return server_frame(BINARY, data, fin=fin)


def cont(data: bytes, *, fin: bool = True) -> bytes:
    return server_frame(CONT, data, fin=fin)


# -- what the client wrote ------------------------------------------------------------


def parse_sent(data: bytes) -> Frame:
    """One frame the client wrote: masked (RFC 6455 5.3) and nothing but the frame."""
    assert len(data) >= 2
    assert data[1] & 0x80, "a client frame must be masked"
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    try:
        next(parser)
    except StopIteration as stop:
        frame: Frame = stop.value
    else:  # pragma: no cover - read_exact raises at EOF rather than yielding
        raise AssertionError("incomplete frame")
    assert not reader.buffer, "bytes after the frame"
    return frame


def sent(framing: ClientFraming) -> list[Frame | None]:
    """The frames queued by ``framing``; None stands for SEND_EOF."""
    return [None if data == SEND_EOF else parse_sent(data) for data in framing.data_to_send()]


def assert_sent_close(framing: ClientFraming, code: int, payload: bytes | None = None) -> None:
    """Exactly one close frame was queued, with ``code`` (and ``payload`` if given)."""
    [frame] = sent(framing)
    assert frame is not None
    assert frame.opcode is Opcode.CLOSE
    assert frame.fin
    if payload is not None:
        assert frame.data == payload
    assert Close.parse(frame.data).code == code


def assert_failed(framing: ClientFraming, code: int) -> None:
    """The connection was failed with ``code`` (RFC 6455 7.1.7), and stays deaf."""
    assert framing.state is State.CLOSING
    assert framing.close_expected()
    assert framing.close_sent is not None
    assert framing.close_sent.code == code
    assert_sent_close(framing, code)
    # "An endpoint MUST NOT continue to attempt to process data ... after being
    # instructed to _Fail the WebSocket Connection_": no message, no pong.
    assert framing.receive_data(text(b"late") + server_frame(PING, b"p")) == []
    assert framing.data_to_send() == ()
    assert framing.state is State.CLOSING


def state(framing: ClientFraming) -> State:
    """The state, read through a call so that mypy does not keep an earlier narrowing."""
    return framing.state


def feed_bytewise(framing: ClientFraming, data: bytes) -> list[list[Message]]:
    return [framing.receive_data(data[i : i + 1]) for i in range(len(data))]


# -- 1. unfragmented messages -------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "opcode"), [(text, Opcode.TEXT), (binary, Opcode.BINARY)], ids=["text", "binary"]
)
def test_unfragmented_message(build: Callable[[bytes], bytes], opcode: Opcode) -> None:
    framing = ClientFraming()
    assert framing.receive_data(build(b"REGISTER sip:x SIP/2.0\r\n\r\n")) == [
        (opcode, b"REGISTER sip:x SIP/2.0\r\n\r\n")
    ]
    assert framing.state is State.OPEN
    assert not framing.close_expected()
    assert framing.data_to_send() == ()
    assert framing.close_rcvd is None and framing.close_sent is None


def test_several_frames_in_one_call() -> None:
    framing = ClientFraming()
    data = text(b"one") + binary(b"\x00\xff") + text(b"") + binary(b"") + text(b"x" * 300)
    assert framing.receive_data(data) == [
        (Opcode.TEXT, b"one"),
        (Opcode.BINARY, b"\x00\xff"),
        (Opcode.TEXT, b""),
        (Opcode.BINARY, b""),
        (Opcode.TEXT, b"x" * 300),
    ]
    assert framing.data_to_send() == ()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 300, 65535, 65536, 70000])
def test_lengths(size: int) -> None:
    """7-bit lengths up to 125, 16-bit from 126, 64-bit from 65536 (RFC 6455 5.2)."""
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data = binary(payload)
    assert len(data) == len(payload) + (2 if size < 126 else 4 if size < 65536 else 10)
    framing = ClientFraming()
    assert framing.receive_data(data) == [(Opcode.BINARY, payload)]


@pytest.mark.parametrize("width", [16, 64])
def test_longer_length_encoding_than_needed(width: int) -> None:
    """websockets accepts a length in more bytes than needed; so does ClientFraming."""
    framing = ClientFraming()
    assert framing.receive_data(server_frame(TEXT, b"hi", width=width)) == [(Opcode.TEXT, b"hi")]


@pytest.mark.parametrize("size", [0, 5, 125, 126, 1000])
def test_one_frame_byte_by_byte(size: int) -> None:
    payload = b"a" * size
    data = text(payload) + text(b"next")
    framing = ClientFraming()
    results = feed_bytewise(framing, data)
    end_of_first = len(data) - len(text(b"next"))
    # Nothing comes out until the last byte of each frame.
    assert all(r == [] for i, r in enumerate(results) if i not in (end_of_first - 1, len(data) - 1))
    assert results[end_of_first - 1] == [(Opcode.TEXT, payload)]
    assert results[-1] == [(Opcode.TEXT, b"next")]
    assert framing.state is State.OPEN
    assert framing.data_to_send() == ()


def test_empty_receive_data() -> None:
    framing = ClientFraming()
    assert framing.receive_data(b"") == []
    data = text(b"abc")
    assert framing.receive_data(data[:3]) == []
    assert framing.receive_data(b"") == []
    assert framing.receive_data(data[3:]) == [(Opcode.TEXT, b"abc")]


def test_frame_split_anywhere_with_the_next_frame() -> None:
    data = text(b"first" * 30) + binary(b"second") + text(b"third")
    expected = [(Opcode.TEXT, b"first" * 30), (Opcode.BINARY, b"second"), (Opcode.TEXT, b"third")]
    for cut in range(len(data) + 1):
        framing = ClientFraming()
        assert framing.receive_data(data[:cut]) + framing.receive_data(data[cut:]) == expected


# -- 2. fragmented messages -------------------------------------------------------


def test_fragmented_text_message() -> None:
    framing = ClientFraming()
    data = text(b"IN", fin=False) + cont(b"VI", fin=False) + cont(b"", fin=False) + cont(b"TE")
    assert framing.receive_data(data) == [(Opcode.TEXT, b"INVITE")]
    assert framing.data_to_send() == ()


def test_fragmented_binary_message_then_another_message() -> None:
    framing = ClientFraming()
    data = binary(b"\x00", fin=False) + cont(b"\x01") + text(b"after")
    assert framing.receive_data(data) == [(Opcode.BINARY, b"\x00\x01"), (Opcode.TEXT, b"after")]


def test_fragmented_message_with_an_interleaved_ping() -> None:
    """RFC 6455 5.4: control frames MAY be injected in the middle of a fragmented message."""
    framing = ClientFraming()
    assert framing.receive_data(text(b"ab", fin=False)) == []
    assert framing.receive_data(server_frame(PING, b"are you there")) == []
    [pong] = sent(framing)
    assert pong is not None
    assert (pong.opcode, pong.data, pong.fin) == (Opcode.PONG, b"are you there", True)
    assert framing.receive_data(cont(b"cd", fin=False) + server_frame(PONG, b"p")) == [
        (Opcode.PONG, b"p")
    ]
    assert framing.receive_data(cont(b"ef")) == [(Opcode.TEXT, b"abcdef")]
    assert framing.state is State.OPEN


def test_fragmented_message_byte_by_byte() -> None:
    framing = ClientFraming()
    data = text(b"x" * 130, fin=False) + server_frame(PING, b"1") + cont(b"y" * 3)
    results = feed_bytewise(framing, data)
    assert [m for r in results for m in r] == [(Opcode.TEXT, b"x" * 130 + b"yyy")]
    assert results[-1] == [(Opcode.TEXT, b"x" * 130 + b"yyy")]
    [pong] = sent(framing)
    assert pong is not None and pong.data == b"1"


# -- 3. ping and pong -------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"ping!", b"\xff" * 125])
def test_ping_is_answered_with_the_same_payload(payload: bytes) -> None:
    framing = ClientFraming()
    assert framing.receive_data(server_frame(PING, payload)) == []
    [pong] = sent(framing)
    assert pong is not None
    assert pong.opcode is Opcode.PONG
    assert pong.fin
    assert pong.data == payload
    assert framing.data_to_send() == ()
    assert framing.state is State.OPEN


def test_two_pings_two_pongs_in_order() -> None:
    framing = ClientFraming()
    framing.receive_data(server_frame(PING, b"1") + text(b"m") + server_frame(PING, b"2"))
    pongs = sent(framing)
    assert [(f.opcode, f.data) for f in pongs if f is not None] == [
        (Opcode.PONG, b"1"),
        (Opcode.PONG, b"2"),
    ]
    assert len(pongs) == 2


@pytest.mark.parametrize("payload", [b"", b"keepalive", b"z" * 125])
def test_pong_is_a_message(payload: bytes) -> None:
    framing = ClientFraming()
    assert framing.receive_data(server_frame(PONG, payload) + text(b"t")) == [
        (Opcode.PONG, payload),
        (Opcode.TEXT, b"t"),
    ]
    assert framing.data_to_send() == ()


def test_send_ping() -> None:
    framing = ClientFraming()
    framing.send_ping(b"hb")
    [ping] = sent(framing)
    assert ping is not None and (ping.opcode, ping.data) == (Opcode.PING, b"hb")
    framing.send_close(1000)
    framing.data_to_send()
    framing.send_ping()  # still allowed while the closing handshake runs
    [ping] = sent(framing)
    assert ping is not None and (ping.opcode, ping.data) == (Opcode.PING, b"")
    framing.receive_eof()
    framing.data_to_send()
    framing.send_ping(b"late")
    assert framing.data_to_send() == ()


# -- 4. the server closes ------------------------------------------------------------


def test_close_without_payload() -> None:
    """RFC 6455 7.1.5: no status code in the close frame is reported as 1005."""
    framing = ClientFraming()
    assert framing.receive_data(server_frame(CLOSE)) == []
    assert framing.close_rcvd == Close(CloseCode.NO_STATUS_RCVD, "")
    # The echo is empty too: 1005 must not be put on the wire (RFC 6455 7.4.1).
    assert_sent_close(framing, CloseCode.NO_STATUS_RCVD, payload=b"")
    assert framing.close_sent == framing.close_rcvd
    assert framing.state is State.CLOSING
    assert framing.close_expected()


def test_close_with_code_and_reason_then_eof() -> None:
    framing = ClientFraming()
    payload = close_payload(1001, "going away, é".encode())
    messages = framing.receive_data(
        text(b"before") + server_frame(CLOSE, payload) + text(b"after") + server_frame(PING)
    )
    assert messages == [(Opcode.TEXT, b"before")]
    assert framing.close_rcvd == Close(1001, "going away, é")
    # RFC 6455 5.5.1: answer with a close frame, echoing the code.
    assert_sent_close(framing, 1001, payload=payload)
    assert framing.close_sent == Close(1001, "going away, é")
    assert framing.state is State.CLOSING
    assert framing.close_expected()
    # RFC 6455 1.4: after a close frame, anything else is discarded.
    assert framing.receive_data(text(b"later") + server_frame(PING, b"?")) == []
    assert framing.receive_data(server_frame(CLOSE, close_payload(1000))) == []
    assert framing.data_to_send() == ()
    assert framing.close_rcvd == Close(1001, "going away, é")
    # RFC 6455 7.1.1: the server closes TCP first, then the client.
    framing.receive_eof()
    assert state(framing) is State.CLOSED
    assert framing.data_to_send() == (SEND_EOF,)
    assert not framing.close_expected()
    framing.receive_eof()
    assert framing.data_to_send() == ()
    assert framing.receive_data(text(b"x")) == []
    assert framing.close_sent == Close(1001, "going away, é")


def test_close_split_byte_by_byte() -> None:
    framing = ClientFraming()
    results = feed_bytewise(framing, server_frame(CLOSE, close_payload(1000, b"bye")))
    assert all(r == [] for r in results)
    assert framing.close_rcvd == Close(1000, "bye")
    assert_sent_close(framing, 1000)


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_codes_are_echoed(code: int) -> None:
    framing = ClientFraming()
    framing.receive_data(server_frame(CLOSE, close_payload(code, b"r")))
    assert framing.close_rcvd == Close(code, "r")
    assert_sent_close(framing, code, payload=close_payload(code, b"r"))


def test_close_answering_our_close_is_not_echoed() -> None:
    """RFC 6455 5.5.1: a close frame is answered only if none was sent."""
    framing = ClientFraming()
    framing.send_close(1000, "bye")
    framing.data_to_send()
    # Data still arrives until the server's close frame (RFC 6455 1.4).
    assert framing.receive_data(text(b"in flight")) == [(Opcode.TEXT, b"in flight")]
    assert framing.receive_data(server_frame(CLOSE, close_payload(1000, b"ok"))) == []
    assert framing.data_to_send() == ()
    assert framing.close_rcvd == Close(1000, "ok")
    assert framing.close_sent == Close(1000, "bye")
    assert framing.state is State.CLOSING
    assert framing.receive_data(text(b"after")) == []
    framing.receive_eof()
    assert state(framing) is State.CLOSED
    assert framing.data_to_send() == (SEND_EOF,)


# -- 5. protocol errors --------------------------------------------------------------

PROTOCOL_ERRORS: dict[str, bytes] = {
    "masked-text": server_frame(TEXT, b"hi", mask=b"\x01\x02\x03\x04"),
    "masked-empty-ping": server_frame(PING, mask=b"\x00\x00\x00\x00"),
    "rsv1": server_frame(TEXT, b"x", rsv=4),
    "rsv2": server_frame(BINARY, b"x", rsv=2),
    "rsv3": server_frame(PING, b"", rsv=1),
    "rsv-all-cont": text(b"a", fin=False) + server_frame(CONT, b"b", rsv=7),
    **{f"opcode-{op:x}": server_frame(op) for op in UNKNOWN_OPCODES},
    "opcode-3-payload": server_frame(3, b"abc"),
    "ping-126": server_frame(PING, b"p" * 126),
    "pong-126": server_frame(PONG, b"p" * 126),
    "close-126": server_frame(CLOSE, close_payload(1000, b"r" * 124)),
    "ping-not-fin": server_frame(PING, b"p", fin=False),
    "pong-not-fin": server_frame(PONG, b"p", fin=False),
    "close-not-fin": server_frame(CLOSE, close_payload(1000), fin=False),
    "cont-first": cont(b"orphan"),
    "cont-not-fin-first": cont(b"orphan", fin=False),
    "text-in-text": text(b"a", fin=False) + text(b"b"),
    "binary-in-text": text(b"a", fin=False) + binary(b"b", fin=False),
    "text-in-binary": binary(b"a", fin=False) + cont(b"b", fin=False) + text(b"c"),
    "close-1-byte": server_frame(CLOSE, b"\x03"),
    **{
        f"close-code-{code}": server_frame(CLOSE, close_payload(code, b"why"))
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)
    },
    "length-top-bit": server_frame(BINARY, width=64, length=(1 << 63) | 5),
    "length-top-bit-only": server_frame(TEXT, width=64, length=1 << 63),
}


@pytest.mark.parametrize("data", PROTOCOL_ERRORS.values(), ids=PROTOCOL_ERRORS.keys())
def test_protocol_error(data: bytes) -> None:
    framing = ClientFraming()
    assert framing.receive_data(data + text(b"never") + server_frame(PING, b"never")) == []
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)
    assert framing.close_rcvd is None
    framing.receive_eof()
    assert framing.state is State.CLOSED
    assert framing.data_to_send() == (SEND_EOF,)


@pytest.mark.parametrize("data", PROTOCOL_ERRORS.values(), ids=PROTOCOL_ERRORS.keys())
def test_protocol_error_byte_by_byte(data: bytes) -> None:
    framing = ClientFraming()
    results = feed_bytewise(framing, data + text(b"never"))
    assert all(r == [] for r in results)
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


def test_messages_before_a_protocol_error_are_delivered() -> None:
    framing = ClientFraming()
    messages = framing.receive_data(
        text(b"a") + server_frame(PONG, b"p") + server_frame(TEXT, b"x", rsv=4) + text(b"b")
    )
    assert messages == [(Opcode.TEXT, b"a"), (Opcode.PONG, b"p")]
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


def test_continuation_after_the_last_fragment() -> None:
    framing = ClientFraming()
    data = text(b"done", fin=False) + cont(b"!") + cont(b"again") + text(b"never")
    assert framing.receive_data(data) == [(Opcode.TEXT, b"done!")]
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


@pytest.mark.parametrize(
    "header",
    [
        server_frame(TEXT, b"abcdef", mask=b"abcd")[:2],
        server_frame(BINARY, width=64, length=(1 << 63) | 5),
    ],
    ids=["masked", "length-top-bit"],
)
def test_header_errors_fail_before_the_payload(header: bytes) -> None:
    """A bad header fails the connection at once: no payload is waited for."""
    framing = ClientFraming()
    assert framing.receive_data(header) == []
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


def test_close_in_the_middle_of_a_fragmented_message() -> None:
    """RFC 6455 5.4: a fragmented message must be finished before the close frame."""
    framing = ClientFraming()
    data = text(b"half", fin=False) + server_frame(CLOSE, close_payload(1000, b"bye"))
    assert framing.receive_data(data + cont(b" message")) == []
    # Like websockets: the close frame was read, but answered with 1002, not echoed.
    assert framing.close_rcvd == Close(1000, "bye")
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("reason", [b"\xff", b"caf\xc3", b"\xed\xa0\x80", b"ok\x80ok"])
def test_close_reason_not_utf8(reason: bytes) -> None:
    """RFC 6455 8.1: invalid UTF-8 in a close reason fails the connection with 1007."""
    framing = ClientFraming()
    assert framing.receive_data(server_frame(CLOSE, close_payload(1000, reason))) == []
    assert framing.close_rcvd is None
    assert_failed(framing, CloseCode.INVALID_DATA)


def test_unknown_opcode_fails_on_the_header() -> None:
    """RFC 6455 5.2: an unknown opcode MUST fail the connection, on the first two
    bytes (nothing of a frame that will be refused is buffered), as websockets does.
    """
    framing = ClientFraming()
    assert framing.receive_data(server_frame(3, b"12345")[:2]) == []
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


def test_unknown_opcode_over_the_limit_is_a_protocol_error() -> None:
    """RFC 6455 5.2 and 7.4.1: a frame with an unknown opcode is a protocol error
    (1002), whatever its length (not 1009 for a length over the limit).
    """
    data = server_frame(3, b"x" * 20)
    theirs = Protocol(Side.CLIENT, state=State.OPEN, max_size=10)
    theirs.receive_data(data)
    assert theirs.close_sent is not None and theirs.close_sent.code == CloseCode.PROTOCOL_ERROR
    framing = ClientFraming(max_size=10)
    framing.receive_data(data)
    assert_failed(framing, CloseCode.PROTOCOL_ERROR)


# -- 7. size limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "limits"),
    [
        (bytes((0x82, 101)), {"max_size": 100}),
        (bytes((0x81, 126)) + (1000).to_bytes(2, "big"), {"max_size": 999}),
        (bytes((0x82, 127)) + (2**40).to_bytes(8, "big"), {"max_size": 2**20}),
        (bytes((0x82, 11)), {"max_frame_size": 10}),
        (bytes((0x82, 11)), {"max_size": 100, "max_frame_size": 10}),
        (bytes((0x82, 11)), {"max_size": 10, "max_frame_size": 100}),
        (bytes((0x89, 11)), {"max_size": 10}),
    ],
    ids=[
        "7-bit",
        "16-bit",
        "64-bit",
        "frame",
        "frame-below-message",
        "message-below-frame",
        "ping",
    ],
)
def test_frame_over_the_limit_fails_on_its_header(header: bytes, limits: dict[str, int]) -> None:
    """RFC 6455 10.4: a frame too big is refused before its payload is buffered."""
    framing = ClientFraming(**limits)
    # The extended length is needed before the size is known.
    for i in range(1, len(header)):
        framing.receive_data(header[i - 1 : i])
        assert framing.state is State.OPEN and framing.data_to_send() == ()
    assert framing.receive_data(header[-1:]) == []
    assert_failed(framing, CloseCode.MESSAGE_TOO_BIG)


def test_exactly_at_the_limits() -> None:
    framing = ClientFraming(max_size=100, max_frame_size=40)
    data = text(b"a" * 40, fin=False) + cont(b"b" * 40, fin=False) + cont(b"c" * 20)
    assert framing.receive_data(data + binary(b"d" * 40)) == [
        (Opcode.TEXT, b"a" * 40 + b"b" * 40 + b"c" * 20),
        (Opcode.BINARY, b"d" * 40),
    ]
    framing = ClientFraming(max_size=300)
    assert framing.receive_data(binary(b"e" * 300)) == [(Opcode.BINARY, b"e" * 300)]
    assert framing.state is State.OPEN
    assert framing.data_to_send() == ()


def test_fragmented_message_over_max_size() -> None:
    framing = ClientFraming(max_size=10)
    assert framing.receive_data(text(b"123456", fin=False) + cont(b"78", fin=False)) == []
    # 8 received, 2 left: a 3-byte fragment fails on its header.
    assert framing.receive_data(cont(b"9ab")[:2]) == []
    assert_failed(framing, CloseCode.MESSAGE_TOO_BIG)


def test_limit_is_reset_after_a_fragmented_message() -> None:
    framing = ClientFraming(max_size=10)
    data = text(b"12345", fin=False) + cont(b"67890") + binary(b"x" * 10)
    assert framing.receive_data(data) == [(Opcode.TEXT, b"1234567890"), (Opcode.BINARY, b"x" * 10)]
    assert framing.state is State.OPEN


# -- 8. end of stream without a close frame -----------------------------------------------


@pytest.mark.parametrize(
    "before",
    [b"", text(b"complete"), text(b"partial")[:4], text(b"frag", fin=False)],
    ids=["nothing", "after-message", "mid-frame", "mid-message"],
)
def test_eof_without_close_frame(before: bytes) -> None:
    """RFC 6455 7.1.5: the connection closed abnormally (1006): no close frame is written."""
    framing = ClientFraming()
    framing.receive_data(before)
    framing.receive_eof()
    assert framing.state is State.CLOSED
    assert framing.close_sent is None
    assert framing.close_rcvd is None
    assert not framing.close_expected()
    assert framing.data_to_send() == (SEND_EOF,)
    framing.receive_eof()  # idempotent
    assert framing.data_to_send() == ()
    assert framing.state is State.CLOSED
    assert framing.receive_data(text(b"partial")[4:] + text(b"x")) == []


def test_eof_after_a_protocol_error() -> None:
    framing = ClientFraming()
    framing.receive_data(cont(b"orphan"))
    assert_sent_close(framing, CloseCode.PROTOCOL_ERROR)
    framing.receive_eof()
    assert framing.state is State.CLOSED
    assert framing.close_sent is not None and framing.close_sent.code == CloseCode.PROTOCOL_ERROR
    assert framing.data_to_send() == (SEND_EOF,)


# -- 9. sending -------------------------------------------------------------------------


def test_send_close() -> None:
    framing = ClientFraming()
    framing.send_close(1000, "bye")
    [frame] = sent(framing)
    assert frame is not None
    assert frame.opcode is Opcode.CLOSE and frame.fin
    assert Close.parse(frame.data) == Close(1000, "bye")
    assert framing.close_sent == Close(1000, "bye")
    assert framing.state is State.CLOSING
    assert framing.close_expected()
    # Only one close frame is ever sent.
    framing.send_close(1001, "again")
    framing.fail(CloseCode.PROTOCOL_ERROR, "and again")
    assert framing.data_to_send() == ()
    assert framing.close_sent == Close(1000, "bye")
    assert framing.state is State.CLOSING


def test_send_close_after_the_server_closed() -> None:
    framing = ClientFraming()
    framing.receive_data(server_frame(CLOSE, close_payload(1000)))
    framing.data_to_send()
    framing.send_close(1001)
    assert framing.data_to_send() == ()
    assert framing.close_sent == Close(1000, "")


def test_fail_with_1006_writes_no_frame() -> None:
    framing = ClientFraming()
    framing.fail(CloseCode.ABNORMAL_CLOSURE, "keepalive timeout")
    assert framing.data_to_send() == ()
    assert framing.close_sent is None
    assert framing.receive_data(text(b"ignored") + server_frame(PING)) == []
    assert framing.data_to_send() == ()
    framing.receive_eof()
    assert framing.state is State.CLOSED
    assert framing.data_to_send() == (SEND_EOF,)


def test_fail_with_another_code_writes_a_close_frame() -> None:
    """The transport fails a text message that is not UTF-8 this way (RFC 6455 8.1)."""
    framing = ClientFraming()
    assert framing.receive_data(text(b"a", fin=False)) == []
    framing.fail(CloseCode.INVALID_DATA, "invalid start byte at position 0")
    assert framing.close_sent == Close(CloseCode.INVALID_DATA, "invalid start byte at position 0")
    # The fragments received so far are dropped with the rest.
    assert_failed(framing, CloseCode.INVALID_DATA)


@pytest.mark.parametrize("is_text", [True, False], ids=["text", "binary"])
@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frame_message(size: int, is_text: bool) -> None:
    framing = ClientFraming()
    data = bytes(range(251)) * (size // 251) + bytes(range(size % 251))
    wire = framing.frame_message(data, is_text)
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(wire) == header + 4 + size
    assert wire[1] & 0x7F == (size if size < 126 else 126 if size < 65536 else 127)
    frame = parse_sent(wire)
    assert frame.opcode is (Opcode.TEXT if is_text else Opcode.BINARY)
    assert frame.fin
    assert not (frame.rsv1 or frame.rsv2 or frame.rsv3)
    assert frame.data == data
    if size >= 8:
        # Masked with a key from a strong source (RFC 6455 10.3): not sent as is.
        assert wire[header + 4 :] != data
    # Nothing is queued: the caller writes the message itself.
    assert framing.data_to_send() == ()


def test_masking_keys_differ() -> None:
    """RFC 6455 5.3: a fresh, unpredictable masking key for each frame."""
    framing = ClientFraming()
    keys = {framing.frame_message(b"same", True)[2:6] for _ in range(3)}
    assert len(keys) > 1


# -- 10. the same as websockets --------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    opcode: int
    fin: bool
    rsv: int
    payload: bytes
    mask: bytes | None
    width: int

    def to_bytes(self) -> bytes:
        return server_frame(
            self.opcode, self.payload, fin=self.fin, rsv=self.rsv, mask=self.mask, width=self.width
        )


CLOSE_CODES = (1000, 1001, 1002, 1009, 1011, 1014, 3000, 4999)
BAD_CLOSE_CODES = (0, 999, 1004, 1005, 1006, 1015, 2999, 5000)
# Sizes around the limits below, so that "exactly at the limit" comes up often.
SIZES = st.one_of(
    st.integers(0, 8), st.sampled_from((125, 126, 127, 200, 300)), st.integers(0, 300)
)


@st.composite
def limits(draw: st.DrawFn, specs: list[Spec], per_message: bool) -> int | None:
    """No limit, any limit, or one next to a message's size (``per_message``) or a frame's."""
    kind = draw(st.integers(0, 3))
    if kind < 2:
        return None
    sizes = []
    total = 0
    for spec in specs:
        if not per_message:
            sizes.append(len(spec.payload))
        elif spec.opcode in (TEXT, BINARY, CONT):
            total = total + len(spec.payload) if spec.opcode == CONT else len(spec.payload)
            sizes.append(total)
    if kind == 2 or not sizes:
        return draw(st.integers(0, 1000))
    return max(0, draw(st.sampled_from(sizes)) + draw(st.sampled_from((-1, 0, 1))))


@st.composite
def payloads(draw: st.DrawFn, max_size: int = 300) -> bytes:
    # websockets' Protocol does not check UTF-8 in text messages either (its
    # callers do, as websip's transport does): any bytes will do.
    size = min(draw(SIZES), max_size)
    return draw(st.binary(min_size=size, max_size=size))


@st.composite
def widths(draw: st.DrawFn, payload: bytes) -> int:
    """The length encoding: the shortest one, or a longer one (websockets takes both).

    Never a 64-bit length with the top bit set: ClientFraming refuses it (RFC 6455
    5.2) while websockets reads it as a length; test_protocol_error covers it.
    """
    shortest = 7 if len(payload) < 126 else 16
    return max(shortest, draw(st.sampled_from((7, 7, 7, 16, 64))))


@st.composite
def close_payloads(draw: st.DrawFn, valid: bool) -> bytes:
    kind = draw(st.integers(0, 1 if valid else 4))
    if kind == 0:
        return b""
    if kind == 1:
        reason = draw(st.text(max_size=40)).encode()
        return close_payload(draw(st.sampled_from(CLOSE_CODES)), reason)
    if kind == 2:
        return draw(st.binary(min_size=1, max_size=3))
    code = draw(st.sampled_from(CLOSE_CODES + BAD_CLOSE_CODES))
    if kind == 3:
        return close_payload(code, draw(st.binary(max_size=10)))
    return close_payload(code, draw(st.text(max_size=40)).encode())


@st.composite
def any_frames(draw: st.DrawFn) -> list[Spec]:
    """One frame of any kind, often invalid."""
    rsv = draw(st.integers(1, 7)) if draw(st.integers(0, 9)) == 0 else 0
    mask = draw(st.binary(min_size=4, max_size=4)) if draw(st.integers(0, 9)) == 0 else None
    if draw(st.integers(0, 9)) == 0:
        payload = draw(payloads(max_size=300))
        opcode = draw(st.sampled_from(UNKNOWN_OPCODES))
        return [Spec(opcode, True, rsv, payload, mask, draw(widths(payload)))]
    opcode = draw(st.sampled_from((CONT, TEXT, BINARY, PING, PONG, CLOSE)))
    fin = draw(st.integers(0, 3)) != 0
    if opcode == CLOSE:
        payload = draw(close_payloads(valid=False))
    else:
        payload = draw(payloads(max_size=130 if opcode in (PING, PONG) else 300))
    return [Spec(opcode, fin, rsv, payload, mask, draw(widths(payload)))]


@st.composite
def control_frames(draw: st.DrawFn) -> list[Spec]:
    """A valid ping, pong or close frame."""
    opcode = draw(st.sampled_from((PING, PONG, CLOSE)))
    payload = draw(close_payloads(valid=True) if opcode == CLOSE else payloads(max_size=125))
    return [Spec(opcode, True, 0, payload, None, draw(widths(payload)))]


@st.composite
def data_messages(draw: st.DrawFn) -> list[Spec]:
    """A valid message in one or more fragments, perhaps with pings or pongs between."""
    count = draw(st.integers(1, 4))
    specs: list[Spec] = []
    for i in range(count):
        if i and draw(st.integers(0, 3)) == 0:
            specs.extend(draw(control_frames()))
        opcode = draw(st.sampled_from((TEXT, BINARY))) if i == 0 else CONT
        payload = draw(payloads())
        specs.append(Spec(opcode, i == count - 1, 0, payload, None, draw(widths(payload))))
    return specs


@st.composite
def frame_sequences(draw: st.DrawFn) -> list[Spec]:
    """Mostly valid frames, so that what comes after is reached, and often a close."""
    groups = st.one_of(data_messages(), data_messages(), control_frames(), any_frames())
    specs = [spec for group in draw(st.lists(groups, max_size=5)) for spec in group]
    if draw(st.integers(0, 2)) == 0:
        specs.append(Spec(CLOSE, True, 0, draw(close_payloads(valid=True)), None, 7))
        specs.extend(spec for group in draw(st.lists(groups, max_size=2)) for spec in group)
    return specs


class Assembler:
    """websockets gives frames; put the messages together as ClientFraming does."""

    def __init__(self) -> None:
        self.parts: list[bytes] | None = None
        self.opcode = Opcode.TEXT

    def feed(self, events: Iterable[object]) -> list[Message]:
        complete: list[Message] = []
        for event in events:
            assert isinstance(event, Frame)
            data = bytes(event.data)
            if event.opcode is Opcode.TEXT or event.opcode is Opcode.BINARY:
                assert self.parts is None
                if event.fin:
                    complete.append((event.opcode, data))
                else:
                    self.parts, self.opcode = [data], event.opcode
            elif event.opcode is Opcode.CONT:
                assert self.parts is not None
                self.parts.append(data)
                if event.fin:
                    complete.append((self.opcode, b"".join(self.parts)))
                    self.parts = None
            elif event.opcode is Opcode.PONG:
                complete.append((Opcode.PONG, data))
        return complete


def outgoing(chunks: Sequence[bytes]) -> list[tuple[object, ...] | None]:
    """Frames written, compared on what matters: close frames by their code only."""
    result: list[tuple[object, ...] | None] = []
    for data in chunks:
        if data == SEND_EOF:
            result.append(None)
            continue
        frame = parse_sent(data)
        if frame.opcode is Opcode.CLOSE:
            # The reasons of failures are worded differently; the codes must agree.
            code = Close.parse(frame.data).code if frame.data else None
            result.append((frame.opcode, code))
        else:
            result.append((frame.opcode, frame.fin, bytes(frame.data)))
    return result


def codes(close: Close | None) -> int | None:
    return None if close is None else close.code


def assert_same(ours: ClientFraming, theirs: Protocol) -> None:
    assert ours.state is theirs.state
    assert codes(ours.close_rcvd) == codes(theirs.close_rcvd)
    assert codes(ours.close_sent) == codes(theirs.close_sent)
    if ours.close_rcvd is not None:
        assert ours.close_rcvd == theirs.close_rcvd
    if theirs.close_rcvd_then_sent:
        # An echoed close: the reason too is the server's.
        assert ours.close_sent == theirs.close_sent
    assert ours.close_expected() == theirs.close_expected()


ORACLE = settings(max_examples=200, deadline=None, database=None)


@ORACLE
@given(data=st.data())
def test_same_as_websockets(data: st.DataObject) -> None:
    specs = data.draw(frame_sequences(), label="frames")
    max_size = data.draw(limits(specs, per_message=True), label="max_size")
    max_frame_size = data.draw(limits(specs, per_message=False), label="max_frame_size")
    frames = [spec.to_bytes() for spec in specs]
    stream = b"".join(frames)
    if specs and specs[-1].opcode in KNOWN_OPCODES and data.draw(st.booleans(), label="truncate"):
        keep = data.draw(st.integers(1, len(frames[-1]) - 1), label="keep of the last frame")
        stream = stream[: len(stream) - len(frames[-1]) + keep]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts"))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    close_at = None
    if data.draw(st.integers(0, 3), label="client closes first") == 0:
        close_at = data.draw(st.integers(0, len(chunks) - 1), label="send_close before chunk")
    eof = data.draw(st.booleans(), label="eof")
    note(f"stream={stream.hex()}")

    ours = ClientFraming(max_size=max_size, max_frame_size=max_frame_size)
    theirs = Protocol(Side.CLIENT, state=State.OPEN, max_size=(max_size, max_frame_size))
    assembler = Assembler()
    for i, chunk in enumerate(chunks):
        if i == close_at and ours.state is State.OPEN:
            ours.send_close(1000, "bye")
            theirs.send_close(1000, "bye")
            assert outgoing(ours.data_to_send()) == outgoing(theirs.data_to_send())
        got = ours.receive_data(chunk)
        theirs.receive_data(chunk)
        assert got == assembler.feed(theirs.events_received())
        assert outgoing(ours.data_to_send()) == outgoing(theirs.data_to_send())
        assert_same(ours, theirs)
    if eof:
        ours.receive_eof()
        theirs.receive_eof()
        assert theirs.events_received() == []
        assert outgoing(ours.data_to_send()) == outgoing(theirs.data_to_send())
        assert_same(ours, theirs)
