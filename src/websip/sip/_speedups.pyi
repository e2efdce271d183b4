"""Type stub of the optional C accelerator (src/websip/sip/_speedups.c)."""

from collections.abc import Callable
from typing import Any, TypeVar

from .headers import NameAddr, Via
from .message import Request, Response
from .uri import URI

_T = TypeVar("_T")

def configure(spec: dict[str, Any], /) -> None: ...
def frame(
    data: bytes, max_size: int, max_headers: int, max_line_length: int, /
) -> Request | Response | None: ...
def sip_uri(fallback: Callable[[str], _T] | None, text: str, /) -> URI | _T | None: ...
def name_addr(
    fallback: Callable[[str | None, str], _T] | None, header: str | None, text: str, /
) -> NameAddr | _T | None: ...
def via(fallback: Callable[[str], _T] | None, text: str, /) -> Via | _T | None: ...
def generic_params(
    fallback: Callable[[str], _T] | None, text: str, /
) -> tuple[dict[str, str | None], frozenset[str]] | _T | None: ...
