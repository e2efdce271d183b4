"""RFC 6455 framing for an open client connection, in a few slots.

websockets' :class:`~websockets.client.ClientProtocol` does the opening
handshake; once it has agreed on ``sip``, a :class:`ClientFraming` takes the
bytes that follow. It does for an open connection what websockets' ``Protocol``
does (the same checks, close codes and closing handshake), without its parser
generators, stream reader, event and write lists: about 1 KB less per idle
connection, which is a tenth of what an idle registered UA costs, and fewer
objects for every message.

Sans-I/O: bytes in (:meth:`ClientFraming.receive_data`, :meth:`receive_eof`),
messages out, and bytes to write (:meth:`frame_message` for a data message,
:meth:`data_to_send` for control frames and the end of the stream).
"""

from __future__ import annotations

import os
from typing import Final

from websockets.exceptions import ProtocolError
from websockets.frames import Close, CloseCode, Opcode
from websockets.protocol import SEND_EOF, State

try:  # websockets' C helper when it was built, its Python one otherwise
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - depends on how websockets was installed
    from websockets.utils import apply_mask

__all__ = ["ClientFraming", "Message", "ProtocolFailure"]

OPEN: Final = State.OPEN
CLOSING: Final = State.CLOSING
CLOSED: Final = State.CLOSED

_TEXT: Final = 0x1
_BINARY: Final = 0x2
_CONT: Final = 0x0
_CLOSE: Final = 0x8
_PING: Final = 0x9
_PONG: Final = 0xA
_DATA_OPCODES: Final = frozenset({_CONT, _TEXT, _BINARY})
_CONTROL_OPCODES: Final = frozenset({_CLOSE, _PING, _PONG})

# A received message: (Opcode.TEXT or Opcode.BINARY, payload), or
# (Opcode.PONG, payload) for a pong.
Message = tuple[Opcode, bytes]


class ProtocolFailure(Exception):
    """Why the connection is failed (RFC 6455 7.1.7): a close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ClientFraming:
    """The client side of an open WebSocket connection (RFC 6455 5, 7).

    Args:
        max_size: the largest message accepted (RFC 6455 10.4); a larger one
            fails the connection with 1009. None: no limit.
        max_frame_size: the largest single frame accepted; None: no limit.

    Attributes:
        state: ``State.OPEN``, ``CLOSING`` once a close frame was sent, then
            ``CLOSED`` at the end of the stream.
        close_rcvd: the server's close frame (code and reason), if any.
        close_sent: ours, if any.
    """

    __slots__ = (
        "_buffer",
        "_discarding",
        "_max_frame_size",
        "_max_size",
        "_out",
        "_parts",
        "_parts_opcode",
        "_parts_size",
        "close_rcvd",
        "close_sent",
        "state",
    )

    def __init__(self, *, max_size: int | None = None, max_frame_size: int | None = None) -> None:
        self.state = OPEN
        self.close_rcvd: Close | None = None
        self.close_sent: Close | None = None
        self._max_size = max_size
        self._max_frame_size = max_frame_size
        # Bytes of an incomplete frame (b"" between frames: no buffer is kept).
        self._buffer = b""
        # The fragments of a message in progress (None between messages).
        self._parts: list[bytes] | None = None
        self._parts_opcode = Opcode.TEXT
        self._parts_size = 0
        # Control frames and the end of the stream waiting to be written.
        self._out: list[bytes] | None = None
        # After a close frame or a failure nothing more is read (RFC 6455 1.4, 7.1.7).
        self._discarding = False

    # -- receiving --------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Message]:
        """The complete messages (and pongs) in ``data``, in order.

        A protocol violation fails the connection (a close frame is queued,
        see :meth:`data_to_send`) and ends the list.
        """
        if self._discarding or self.state is CLOSED:
            return []
        buffer = self._buffer + data if self._buffer else data
        messages: list[Message] = []
        pos = 0
        end = len(buffer)
        try:
            while end - pos >= 2 and not self._discarding:
                used = self._frame(buffer, pos, end, messages)
                if used == 0:
                    break
                pos += used
        except ProtocolFailure as exc:
            self.fail(exc.code, exc.reason)
            return messages
        except UnicodeDecodeError as exc:  # a close reason that is not UTF-8
            self.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            return messages
        self._buffer = buffer[pos:] if pos < end and not self._discarding else b""
        return messages

    def receive_eof(self) -> None:
        """The server closed TCP. Idempotent."""
        if self.state is CLOSED:
            return
        if not self._discarding:
            # RFC 6455 7.1.5: no close frame: the connection closed abnormally (1006).
            self.fail(CloseCode.ABNORMAL_CLOSURE, "unexpected end of stream")
        # RFC 6455 7.1.1: the server closes TCP first; the client follows.
        self._write(SEND_EOF)
        self.state = CLOSED

    def _frame(self, buf: bytes, pos: int, end: int, messages: list[Message]) -> int:
        """Read one frame at ``pos``; returns the bytes used, 0 when incomplete."""
        first = buf[pos]
        second = buf[pos + 1]
        opcode = first & 0x0F
        if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
            # RFC 6455 5.2: an unknown opcode fails the connection at once.
            raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, f"invalid opcode: {opcode}")
        if second & 0x80:
            # RFC 6455 5.1: a client closes on a masked frame from the server.
            raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "incorrect masking")
        length = second & 0x7F
        head = 2
        if length == 126:
            if end - pos < 4:
                return 0
            length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
            head = 4
        elif length == 127:
            if end - pos < 10:
                return 0
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            head = 10
            if length >> 63:
                # RFC 6455 5.2: the most significant bit MUST be 0.
                raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "invalid payload length")
        limit = self._limit()
        if limit is not None and length > limit:
            # RFC 6455 10.4: refused before its payload is buffered.
            raise ProtocolFailure(
                CloseCode.MESSAGE_TOO_BIG,
                f"frame with {length} bytes exceeds limit of {limit}",
            )
        if end - pos < head + length:
            return 0
        if first & 0x70:
            # RFC 6455 5.2: no extension was negotiated, so the RSV bits are 0.
            raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "reserved bits must be 0")
        fin = first & 0x80
        payload = buf[pos + head : pos + head + length]
        if opcode in _DATA_OPCODES:
            self._data_frame(opcode, bool(fin), payload, messages)
        else:  # a control frame (the opcode was checked above)
            # RFC 6455 5.5: control frames are short and never fragmented.
            if length > 125:
                raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "control frame too long")
            if not fin:
                raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "fragmented control frame")
            self._control_frame(opcode, payload, messages)
        return head + length

    def _limit(self) -> int | None:
        """The most a next data frame may carry (message and frame limits)."""
        limit = self._max_size
        if limit is not None and self._parts is not None:
            limit -= self._parts_size
        frame_limit = self._max_frame_size
        if frame_limit is not None and (limit is None or frame_limit < limit):
            limit = frame_limit
        return limit

    def _data_frame(self, opcode: int, fin: bool, payload: bytes, messages: list[Message]) -> None:
        parts = self._parts
        if opcode == _CONT:
            if parts is None:
                raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            parts.append(payload)
            self._parts_size += len(payload)
            if fin:
                messages.append((self._parts_opcode, b"".join(parts)))
                self._parts = None
                self._parts_size = 0
            return
        if parts is not None:
            raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "expected a continuation frame")
        kind = Opcode.TEXT if opcode == _TEXT else Opcode.BINARY
        if fin:
            messages.append((kind, payload))
        else:
            self._parts = [payload]
            self._parts_opcode = kind
            self._parts_size = len(payload)

    def _control_frame(self, opcode: int, payload: bytes, messages: list[Message]) -> None:
        if opcode == _PING:
            # RFC 6455 5.5.2: answer with a pong carrying the same data.
            self._write(self._frame_bytes(_PONG, payload))
        elif opcode == _PONG:
            messages.append((Opcode.PONG, payload))
        else:
            # Close.parse checks the code (RFC 6455 7.4) and decodes the reason.
            try:
                self.close_rcvd = Close.parse(payload)
            except ProtocolError as exc:
                raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, str(exc)) from None
            if self._parts is not None:
                raise ProtocolFailure(CloseCode.PROTOCOL_ERROR, "incomplete fragmented message")
            if self.state is OPEN:
                # RFC 6455 5.5.1: answer a close frame with one (echoing its code).
                self._write(self._frame_bytes(_CLOSE, payload))
                self.close_sent = self.close_rcvd
                self.state = CLOSING
            # RFC 6455 1.4: after a close frame, further data is discarded.
            self._discarding = True

    # -- sending ----------------------------------------------------------------

    def frame_message(self, data: bytes, text: bool) -> bytes:
        """The bytes of one unfragmented text or binary message, masked (RFC 6455 5.3)."""
        return self._frame_bytes(_TEXT if text else _BINARY, data)

    def send_ping(self, data: bytes = b"") -> None:
        if self.state is OPEN or self.state is CLOSING:
            self._write(self._frame_bytes(_PING, data))

    def send_close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 7.1.2); only while open."""
        if self.state is not OPEN:
            return
        close = Close(code, reason)
        self._write(self._frame_bytes(_CLOSE, close.serialize()))
        self.close_sent = close
        self.state = CLOSING

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (RFC 6455 7.1.7): a close frame unless 1006, then read nothing."""
        if self.state is OPEN and code != CloseCode.ABNORMAL_CLOSURE:
            close = Close(code, reason)
            self._write(self._frame_bytes(_CLOSE, close.serialize()))
            self.close_sent = close
            self.state = CLOSING
        self._discarding = True
        self._parts = None
        self._buffer = b""

    def close_expected(self) -> bool:
        """True once a close frame was sent: the server should now close TCP."""
        return self.state is CLOSING

    def data_to_send(self) -> tuple[bytes, ...]:
        """Control frames to write; ``SEND_EOF`` (``b""``) for the end of the stream."""
        out = self._out
        if out is None:
            return ()  # the usual case, after every received message: nothing made
        self._out = None
        return tuple(out)

    def _write(self, data: bytes) -> None:
        if self._out is None:
            self._out = [data]
        else:
            self._out.append(data)

    @staticmethod
    def _frame_bytes(opcode: int, payload: bytes) -> bytes:
        length = len(payload)
        if length < 126:
            head = bytes((0x80 | opcode, 0x80 | length))
        elif length < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        mask = os.urandom(4)
        return head + mask + apply_mask(payload, mask)
