"""The embedded development registrar and proxy over WebSocket (``websip serve``).

A small SIP-over-WebSocket (RFC 7118) registrar and stateless proxy built on
websip's own syntax layer, for the README's quick start and for fast tests: no
Kamailio to install, everything in memory, on loopback by default.

```python
from websip.server import Server

async with Server(users={"alice": "alicepw", "bob": "bobpw"}) as server:
    ua = websip.UA({"uri": "sip:alice@websip.test", "ws_servers": server.url,
                    "password": "alicepw"})
```

Layers: :mod:`~websip.server.registrar` (bindings, GRUU),
:mod:`~websip.server.auth` (server-side digest) and :mod:`~websip.server.proxy`
(routing) are sans-I/O; :mod:`~websip.server.app` is the asyncio/websockets
shell and :mod:`~websip.server.cli` the ``websip serve`` command. It is a
development tool, not a production proxy: see ``docs/server.md`` for what it
does and does not do.
"""

from __future__ import annotations

from .app import Server
from .auth import AuthOutcome, AuthResult, DigestVerifier
from .proxy import Outgoing, Proxy, RequestAnswered, RequestRouted, ServerEvent
from .registrar import Binding, BindingAdded, BindingRemoved, Registrar

__all__ = [
    "AuthOutcome",
    "AuthResult",
    "Binding",
    "BindingAdded",
    "BindingRemoved",
    "DigestVerifier",
    "Outgoing",
    "Proxy",
    "Registrar",
    "RequestAnswered",
    "RequestRouted",
    "Server",
    "ServerEvent",
]
