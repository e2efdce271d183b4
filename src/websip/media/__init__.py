"""Media for websip calls: the only package that imports aiortc, av and aioice.

- :class:`MediaHandler`: the protocol a SIP session drives (SDP as bytes).
- :class:`AiortcMediaHandler`: WebRTC audio (ICE, DTLS-SRTP, Opus/G.711,
  RFC 4733 DTMF) fed by sources and feeding sinks.
- :class:`SignalingOnlyMediaHandler`: correct SDP, no media (tests, load).
- Sources: :class:`ToneSource`, :class:`SilenceSource`, :class:`PcmSource`,
  :class:`FileSource`; sinks: :class:`PcmSink`, :class:`WavRecorder`;
  :class:`EchoLink` joins a sink to a source.

The protocol, the signaling-only handler and the errors need neither aiortc
nor numpy; the other names are imported on first use (PEP 562), so
``import websip.media`` works without the ``media`` extra installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import AudioSink, DtmfCallback, MediaDirection, MediaError, MediaHandler, SdpError
from .signaling_only import SignalingOnlyMediaHandler

if TYPE_CHECKING:
    from .aiortc_handler import AiortcMediaHandler, IceServer
    from .sinks import EchoLink, PcmSink, WavRecorder
    from .sources import FileSource, PacedAudioSource, PcmSource, SilenceSource, ToneSource

__all__ = [
    "AiortcMediaHandler",
    "AudioSink",
    "DtmfCallback",
    "EchoLink",
    "FileSource",
    "IceServer",
    "MediaDirection",
    "MediaError",
    "MediaHandler",
    "PacedAudioSource",
    "PcmSink",
    "PcmSource",
    "SdpError",
    "SignalingOnlyMediaHandler",
    "SilenceSource",
    "ToneSource",
    "WavRecorder",
]

_LAZY = {
    "AiortcMediaHandler": "aiortc_handler",
    "IceServer": "aiortc_handler",
    "EchoLink": "sinks",
    "PcmSink": "sinks",
    "WavRecorder": "sinks",
    "FileSource": "sources",
    "PacedAudioSource": "sources",
    "PcmSource": "sources",
    "SilenceSource": "sources",
    "ToneSource": "sources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
