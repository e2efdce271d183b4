"""Out-of-dialog requests: MESSAGE (RFC 3428), OPTIONS (RFC 3261 11) and friends.

Sans-I/O helpers shared by the UA's non-dialog usages. Building a request outside a
dialog is the same for every method (RFC 3261 8.1.1): a Request-URI, To (the
target, no tag), From (our identity, a fresh tag), a fresh Call-ID, CSeq, the
preloaded Route and, for methods that need one, a Contact. What the methods differ
in is the body, which the caller gives.

User-supplied header lines pass through :func:`check_extra_headers` first: a CR or
LF inside a value would let a caller (or whoever feeds it) smuggle headers or a
second message onto the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .sip import URI, NameAddr, Request
from .sip.abnf import is_token

__all__ = ["OutOfDialogRequest", "anonymous_uri", "check_extra_headers", "split_extra_header"]


def anonymous_uri() -> URI:
    """``sip:anonymous@anonymous.invalid``: who we are when hiding (RFC 3323 4.1.1.3)."""
    return URI(scheme="sip", user="anonymous", host="anonymous.invalid")


def split_extra_header(line: str) -> tuple[str, str]:
    """``"X-Foo: bar"`` -> ``("X-Foo", "bar")``.

    Raises:
        ValueError: no ``name: value`` shape, a name that is not a token, or a CR,
            LF or NUL anywhere (header injection).
    """
    if not isinstance(line, str):
        raise TypeError(f"an extra header must be a string 'Name: value', not {line!r}")
    if any(c in line for c in "\r\n\0"):
        raise ValueError(f"CR, LF or NUL in extra header {line!r}")
    name, colon, value = line.partition(":")
    name = name.strip()
    if not colon or not is_token(name):
        raise ValueError(f"an extra header must look like 'Name: value', not {line!r}")
    return name, value.strip()


def check_extra_headers(lines: Iterable[str] | None) -> list[tuple[str, str]]:
    """Split and check JsSIP-style ``extraHeaders`` (a list of ``"Name: value"``)."""
    if lines is None:
        return []
    if isinstance(lines, str):
        raise TypeError("extra_headers is a list of 'Name: value' strings, not one string")
    return [split_extra_header(line) for line in lines]


@dataclass(kw_only=True)
class OutOfDialogRequest:
    """What every out-of-dialog request of one UA shares (RFC 3261 8.1.1).

    Attributes:
        identity: From (our address-of-record, with the display name).
        route: preloaded Route values, in order (``use_preloaded_route``).
        contact: the Contact to add to methods that need one (None: none).
    """

    identity: NameAddr
    route: Sequence[str] = ()

    def build(
        self,
        method: str,
        target: URI,
        *,
        from_tag: str,
        call_id: str,
        cseq: int = 1,
        contact: NameAddr | None = None,
        body: bytes | str = b"",
        content_type: str | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        anonymous: bool = False,
    ) -> Request:
        """A new request to ``target``.

        ``anonymous`` writes the RFC 3323 anonymous From
        (``"Anonymous" <sip:anonymous@anonymous.invalid>``), as JsSIP does.
        """
        sender = NameAddr(anonymous_uri(), "Anonymous") if anonymous else self.identity.copy()
        sender.set_param("tag", from_tag)
        headers: list[tuple[str, str]] = [(name, value) for name, value in self._routes()]
        headers += [
            ("To", str(NameAddr(target.copy()))),
            ("From", str(sender)),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        if contact is not None:
            headers.append(("Contact", str(contact)))
        headers.extend(extra_headers)
        if body and content_type is not None:
            headers.append(("Content-Type", content_type))
        ruri = target.copy()
        ruri.clear_headers()  # RFC 3261 19.1.5: URI headers go into the request
        return Request(method, ruri, headers, body)

    def _routes(self) -> list[tuple[str, str]]:
        return [("Route", value) for value in self.route]
