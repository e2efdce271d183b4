"""The websip exception tree.

::

    WebsipError
    ├── ParseError (ValueError)           bytes or text that is not valid SIP syntax
    │   └── MessageTooLargeError          a size limit was crossed (answer 513)
    ├── ConfigurationError (ValueError)   a bad UA configuration parameter
    ├── LocalProtocolError                we were asked to do something SIP forbids
    ├── RemoteProtocolError               the peer broke the protocol
    └── RequestError                      a request we sent failed (cause + response)

Errors caused by the network carry ``status_code``: the SIP status a UAS answers
with when the offending message was a request (the idea of h11's
``error_status_hint``). Exception messages never contain secrets.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigurationError",
    "LocalProtocolError",
    "MessageTooLargeError",
    "ParseError",
    "RemoteProtocolError",
    "RequestError",
    "TransportError",
    "WebsipError",
]


class WebsipError(Exception):
    """Base class of every exception websip raises on purpose."""


class ParseError(WebsipError, ValueError):
    """Input that is not valid SIP syntax.

    Attributes:
        header: the header name the problem is in, or None (start line, framing).
        status_code: the status a UAS answers a request that failed this way.
    """

    status_code: int = 400

    def __init__(self, message: str, *, header: str | None = None, line: int | None = None):
        where = []
        if header is not None:
            where.append(f"header {header!r}")
        if line is not None:
            where.append(f"line {line}")
        text = f"{message} ({', '.join(where)})" if where else message
        super().__init__(text)
        self.header = header
        self.line = line
        self.reason = message


class MessageTooLargeError(ParseError):
    """The message, a line or the header count is beyond a configured limit."""

    status_code = 513


class ConfigurationError(WebsipError, ValueError):
    """A configuration parameter is missing or has a bad value.

    Attributes:
        parameter: the parameter's name, as in the configuration reference.
        value: the rejected value (``"<hidden>"`` for secrets).
    """

    def __init__(self, parameter: str, value: Any = None, reason: str | None = None):
        shown = "<hidden>" if parameter in {"password", "ha1"} else repr(value)
        text = f"invalid value {shown} for parameter {parameter!r}"
        if reason:
            text += f": {reason}"
        super().__init__(text)
        self.parameter = parameter
        self.value = "<hidden>" if parameter in {"password", "ha1"} else value


class LocalProtocolError(WebsipError):
    """The application asked for something the protocol state does not allow."""


class RemoteProtocolError(WebsipError):
    """The peer sent something that breaks the protocol.

    Attributes:
        status_code: the SIP status to answer with, when the input was a request.
    """

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code


class RequestError(WebsipError):
    """A request websip sent ended without success.

    Attributes:
        cause: one of the constants of :mod:`websip.causes`.
        response: the final response that caused the failure, if there was one.
    """

    def __init__(self, cause: str, response: Any = None, message: str | None = None):
        status = getattr(response, "status_code", None)
        text = message or (f"{cause} ({status})" if status else cause)
        super().__init__(text)
        self.cause = cause
        self.response = response


class TransportError(WebsipError, ConnectionError):
    """No WebSocket connection could be made (unreachable, refused, TLS).

    Attributes:
        hint: what a person should check, in one sentence.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
