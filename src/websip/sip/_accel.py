"""The optional C accelerator of the parser, and the switch between it and Python.

``websip.sip._speedups`` (built from ``_speedups.c`` when a C compiler is there
at install time) does the usual case of framing a message, of a SIP URI, a
name-addr, a Via and of cutting parameters, and hands everything else to the
pure-Python code, which stays the reference: both give the same values and the
same errors. Without the extension, or with ``WEBSIP_PURE_PYTHON=1`` in the
environment, websip runs on Python alone.

The hooks are module attributes (``message.fast_frame``, ``uri.fast_sip_uri``,
``params.read_params``, the parsers of ``headers``) so that :func:`enable` can
switch at any time; tests/sip runs the suite both ways.
"""

from __future__ import annotations

import os
from functools import partial
from types import ModuleType

from websip.exceptions import ParseError

from . import headers, message, params, uri
from .abnf import COMMON_METHODS
from .names import COMPACT_FORMS, ENTITY_LIST_KEYS, KNOWN_NAMES, index_name

__all__ = ["enable", "enabled", "speedups"]

speedups: ModuleType | None
try:
    from . import _speedups as speedups
except ImportError:  # not built: no C compiler at install time
    speedups = None

_configured = False


_FUNCTIONS = ("frame", "sip_uri", "name_addr", "via", "generic_params", "cseq", "call_id", "tokens")


def _configure(module: ModuleType) -> None:
    missing = [name for name in _FUNCTIONS if not hasattr(module, name)]
    if missing:
        raise ImportError(f"{module.__name__} is out of date (no {', '.join(missing)})")
    # The header names written most: known names as websip spells them and in
    # lower case, and the compact forms; others go through names.index_name.
    written = set(KNOWN_NAMES) | {name.lower() for name in KNOWN_NAMES}
    written |= set(COMPACT_FORMS) | {name.upper() for name in COMPACT_FORMS}
    names = []
    for name in sorted(written):
        key, spelling = index_name(name)
        names.append((name, key, spelling, key in ENTITY_LIST_KEYS))
    module.configure(
        {
            "URI": uri.URI,
            "NameAddr": headers.NameAddr,
            "Via": headers.Via,
            "CSeq": headers.CSeq,
            "COMMON_METHODS": COMMON_METHODS,
            "Request": message.Request,
            "Response": message.Response,
            "NO_QUOTED": params.NO_QUOTED,
            "index_name": index_name,
            "ENTITY_LIST_KEYS": ENTITY_LIST_KEYS,
            "ParseError": ParseError,
            "names": names,
        }
    )


def enable(on: bool = True) -> bool:
    """Use the C accelerator (``on``, if it is built) or the pure-Python parser.

    Returns whether the accelerator is in use now.
    """
    global _configured, speedups
    module = speedups if on else None
    if module is not None and not _configured:
        try:
            _configure(module)
        except Exception:
            # A stale build that does not fit these classes: Python alone
            # (tests/sip/test_sip_speedups.py::TestBuilt fails on this).
            speedups = module = None
        _configured = True
    if module is None:
        message.fast_frame = None
        uri.fast_sip_uri = None
        params.read_params = params.read_generic_params
        headers.use_parsers(None)
        return False
    message.fast_frame = module.frame
    uri.fast_sip_uri = module.sip_uri
    params.read_params = partial(module.generic_params, params.read_generic_params)
    headers.use_parsers(module)
    return True


def enabled() -> bool:
    """Whether the C accelerator is in use."""
    return message.fast_frame is not None


enable(not os.environ.get("WEBSIP_PURE_PYTHON"))
