"""RTCSession: one call, the public face of the INVITE usage plus its media.

Theory of operation
-------------------
Signaling is the sans-I/O :class:`websip.invite.InviteSession`; SDP offers and
answers come from a :class:`websip.media.MediaHandler`. Media work is async
(ICE gathering, DTLS), signaling is not, so every step that needs SDP is a task
that first awaits the media handler and then tells the usage; the UA's pump
carries the usage's output to the wire. The usage's events become the public
events (JsSIP's names in snake_case) and settle the awaitable forms
(``await session.established()``, ``await session.ended()``).

Methods that need SDP (``answer``, ``hold``, ``unhold``, ``renegotiate``,
``send_dtmf``, ``send_info``) return an :class:`asyncio.Task`: a script awaits
it, an event handler may just call it (JsSIP style) and let it run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from websip import causes
from websip.aio.emitter import EventEmitter, Handler
from websip.events import Event
from websip.exceptions import LocalProtocolError, RequestError
from websip.invite import (
    Accepted,
    Confirmed,
    DtmfReceived,
    Ended,
    Failed,
    InfoAnswered,
    InfoReceived,
    InviteSession,
    Progress,
    ReferProgress,
    ReferReceived,
    ReferResponded,
    ReinviteReceived,
    RemoteSdp,
    RenegotiationFailed,
    RenegotiationSucceeded,
    SessionEvent,
    SessionRefreshed,
    UpdateReceived,
    split_refer_to,
)
from websip.messaging import check_extra_headers
from websip.sip import URI, NameAddr, Request, Response

if TYPE_CHECKING:
    from websip.aio.ua import UA

__all__ = [
    "SESSION_EVENTS",
    "RTCSession",
    "ReferEvent",
    "ReferSubscription",
    "RenegotiationEvent",
    "SessionEventData",
]

logger = logging.getLogger("websip.session")

SESSION_EVENTS = frozenset(
    {
        "progress",
        "accepted",
        "confirmed",
        "ended",
        "failed",
        "new_dtmf",
        "new_info",
        "hold",
        "unhold",
        "muted",
        "unmuted",
        "reinvite",
        "update",
        "refer",
        "replaces",
        "sdp",
        "peerconnection",
    }
)

Originator = Literal["local", "remote", "system"]
_REMOTE_HOLD = frozenset({"sendonly", "inactive"})
# JsSIP: a ',' in DTMF tones is a 2 s pause.
_DTMF_PAUSE = 2.0


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    """Fail ``future`` unless it is done, marking the error retrieved: nobody
    has to await a call's futures (asyncio would log it otherwise)."""
    if not future.done():
        future.set_exception(error)
        future.exception()


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionEventData:
    """The payload of RTCSession events; fields that do not apply are None.

    ``progress``/``accepted``: ``response`` (or ``request`` for ours); ``ended``/
    ``failed``: ``cause`` and ``message``; ``new_dtmf``: ``tone``, ``duration``
    (ms) and ``transport`` (``"INFO"`` or ``"RFC2833"``); ``new_info``:
    ``content_type`` and ``body``; ``sdp``: ``type`` and ``sdp``; ``muted``/
    ``unmuted``: nothing more; ``peerconnection``: ``peerconnection``.
    """

    originator: Originator
    request: Request | None = None
    response: Response | None = None
    message: Request | Response | None = None
    cause: str | None = None
    tone: str | None = None
    duration: int | None = None
    transport: str | None = None
    content_type: str | None = None
    body: bytes | None = None
    type: str | None = None
    sdp: bytes | None = None
    peerconnection: Any = None


@dataclass(eq=False, kw_only=True)
class RenegotiationEvent:
    """``reinvite`` / ``update``: an offer from the peer; a handler may refuse it
    with :meth:`reject` (synchronously), else it is answered from the media."""

    originator: Originator
    request: Request
    sdp: bytes | None
    rejected: tuple[int, str | None] | None = None

    def reject(self, status_code: int = 488, reason_phrase: str | None = None) -> None:
        if not 300 <= status_code <= 699:
            raise ValueError(f"reject() takes a status code in 300-699, not {status_code}")
        self.rejected = (status_code, reason_phrase)


@dataclass(eq=False, kw_only=True)
class ReferEvent:
    """``refer``.

    Received (``originator="remote"``): call :meth:`accept` (a new outgoing call
    to ``target``, whose progress is NOTIFYed to the referrer; it is returned)
    or :meth:`reject`. Left undecided by the handlers: rejected (603).
    Sent (``originator="local"``): ``status_code``/``reason_phrase`` of the
    REFER's response or of a NOTIFY about the new call (``final`` when over).
    """

    originator: Originator
    request: Request | None = None
    target: URI | None = None
    status_code: int | None = None
    reason_phrase: str = ""
    final: bool = False
    _session: RTCSession | None = None
    _refer_id: int | None = None
    decided: bool = False

    def accept(
        self, *, media: Any = None, extra_headers: Sequence[str] | None = None
    ) -> RTCSession:
        assert self._session is not None and self._refer_id is not None
        if self.decided:
            raise LocalProtocolError("this REFER has already been answered")
        self.decided = True
        return self._session._accept_refer(self, media, extra_headers)

    def reject(self, status_code: int = 603) -> None:
        assert self._session is not None and self._refer_id is not None
        if self.decided:
            raise LocalProtocolError("this REFER has already been answered")
        self.decided = True
        self._session._reject_refer(self._refer_id, status_code)


@dataclass(eq=False)
class ReferSubscription:
    """What :meth:`RTCSession.refer` returns: the progress of the transfer."""

    refer_id: int
    statuses: list[tuple[int, str]] = field(default_factory=list)
    _done: asyncio.Future[tuple[int, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def final(self, timeout: float | None = None) -> tuple[int, str]:
        """The referred call's final status ``(code, reason)`` as NOTIFYed; a
        refused REFER raises :class:`websip.RequestError`."""
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)

    def _settle(self, value: tuple[int, str] | BaseException) -> None:
        if self._done.done():
            return
        if isinstance(value, BaseException):
            _fail(self._done, value)
        else:
            self._done.set_result(value)


class RTCSession:
    """A call. Made by ``ua.call(...)`` (outgoing) or delivered by the UA's
    ``new_rtc_session`` event (incoming); never built directly.

    Attributes:
        direction: ``"outgoing"`` or ``"incoming"``.
        local_identity / remote_identity: the NameAddrs of the two ends.
        start_time / end_time: when the call was answered / ended (UTC).
        media: the media handler (``None`` for an incoming call until answered).
    """

    def __init__(
        self, ua: UA, direction: Literal["incoming", "outgoing"], media: Any = None
    ) -> None:
        loop = asyncio.get_running_loop()
        self._ua = ua
        self.direction: Literal["incoming", "outgoing"] = direction
        self.media = media
        self.usage: InviteSession | None = None
        self.local_identity: NameAddr | None = None
        self.remote_identity: NameAddr | None = None
        self.start_time: _dt.datetime | None = None
        self.end_time: _dt.datetime | None = None
        self.cause: str | None = None
        self._events = EventEmitter(SESSION_EVENTS)
        self._established: asyncio.Future[None] = loop.create_future()
        self._ended: asyncio.Future[str] = loop.create_future()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._local_hold = False
        self._remote_hold = False
        self._terminate_wanted = False
        self._answering = False
        self._early_answer: bytes | None = None
        self._answer_task: asyncio.Task[Any] | None = None
        self._renegotiation: asyncio.Future[Response] | None = None
        self._infos: dict[str, asyncio.Future[Response]] = {}
        self._refers_out: dict[int, ReferSubscription] = {}
        self._peerconnection_sent = False
        self._replaced_by: RTCSession | None = None
        self._wire_media()

    # -- state -------------------------------------------------------------

    def is_established(self) -> bool:
        return self.usage is not None and self.usage.is_established and not self.is_ended()

    def is_ended(self) -> bool:
        return self._ended.done()

    def is_in_progress(self) -> bool:
        return not self.is_established() and not self.is_ended()

    def is_on_hold(self) -> dict[str, bool]:
        """``{"local": we hold the peer, "remote": the peer holds us}``."""
        return {"local": self._local_hold, "remote": self._remote_hold}

    def is_muted(self) -> dict[str, bool]:
        return {"audio": bool(self.media is not None and self.media.is_muted)}

    @property
    def id(self) -> str | None:
        """The Call-ID plus our tag, JsSIP's session id (None before the INVITE)."""
        usage = self.usage
        if usage is None or usage.request is None:
            return None
        tag = usage.request.from_tag if self.direction == "outgoing" else None
        if usage.dialog is not None:
            tag = usage.dialog.id.local_tag
        return f"{usage.request.call_id}{tag or ''}"

    @property
    def connection(self) -> Any:
        """The aiortc RTCPeerConnection, when the media handler has one."""
        return getattr(self.media, "peer_connection", None)

    # -- events --------------------------------------------------------------

    def on(self, name: str, handler: Handler) -> Handler:
        return self._events.on(name, handler)

    def once(self, name: str, handler: Handler) -> Handler:
        return self._events.once(name, handler)

    def off(self, name: str, handler: Handler | None = None) -> None:
        self._events.off(name, handler)

    async def wait_for(self, name: str, timeout: float | None = None) -> Any:
        """The payload of the next ``name`` event."""
        return await self._events.wait_for(name, timeout)

    # -- awaitable forms -----------------------------------------------------

    async def established(self, timeout: float | None = None) -> None:
        """Wait until the call is confirmed.

        Raises:
            websip.RequestError: the call failed first (``cause``, ``response``).
        """
        await asyncio.wait_for(asyncio.shield(self._established), timeout)
        # The 2xx's answer is applied to the media in a task of its own: once
        # established() returns, the media is negotiated (DTMF can go at once).
        if self._answer_task is not None and not self._answer_task.done():
            await asyncio.wait_for(asyncio.shield(self._answer_task), timeout)

    async def ended(self, timeout: float | None = None) -> str:
        """Wait until the call is over (failed or ended); returns the cause."""
        return await asyncio.wait_for(asyncio.shield(self._ended), timeout)

    # -- commands ------------------------------------------------------------

    def answer(
        self, *, media: Any = None, extra_headers: Sequence[str] | None = None
    ) -> asyncio.Task[None]:
        """Answer an incoming call (a 2xx with our SDP answer).

        Raises:
            websip.LocalProtocolError: not an incoming call waiting for an answer.
        """
        usage = self.usage
        if self.direction != "incoming" or usage is None or self._answering:
            raise LocalProtocolError("answer() is for an incoming call not answered yet")
        if self.is_ended():
            raise LocalProtocolError("the call has ended")
        headers = check_extra_headers(extra_headers)
        self._answering = True
        if media is not None:
            self.media = media
        elif self.media is None:
            self.media = self._ua._make_media()
        self._wire_media()
        return self._spawn(self._answer(usage, headers))

    async def _answer(self, usage: InviteSession, headers: list[tuple[str, str]]) -> None:
        from websip.media import MediaError, SdpError

        try:
            if self._early_answer is not None:
                sdp = None  # the answer went in the reliable 183 already
            elif usage.remote_offer is not None:
                sdp = await self.media.create_answer(usage.remote_offer)
                self._check_remote_direction()
            else:
                sdp = await self.media.create_offer()
        except SdpError as exc:
            logger.info("cannot answer the offer: %s", exc)
            self._usage_call(lambda now: usage.reject(now, 488, cause=causes.INCOMPATIBLE_SDP))
            return
        except MediaError as exc:
            logger.warning("media failed: %s", exc)
            self._usage_call(lambda now: usage.reject(now, 500, cause=causes.WEBRTC_ERROR))
            return
        if sdp is not None:
            self._local_sdp(sdp)
        if self.is_ended() or usage.is_ended:
            return
        self._usage_call(lambda now: usage.answer(sdp, now, headers))

    def progress(self, status_code: int = 180, *, early_media: bool = False) -> asyncio.Task[None]:
        """Send a provisional response to an incoming call: 180 Ringing, or 183
        Session Progress with our SDP answer (early media). It is sent reliably
        (RFC 3262, PRACKed) when it carries SDP and the caller supports 100rel."""
        usage = self.usage
        if self.direction != "incoming" or usage is None or self._answering:
            raise LocalProtocolError("progress() is for an incoming call not answered yet")
        if not 101 <= status_code <= 199:
            raise ValueError(f"a provisional status code is 101-199, not {status_code}")
        if early_media and self.media is None:
            self.media = self._ua._make_media()
            self._wire_media()

        async def run() -> None:
            sdp = None
            if early_media and usage.remote_offer is not None:
                if self._early_answer is None:
                    self._early_answer = await self.media.create_answer(usage.remote_offer)
                    self._local_sdp(self._early_answer)
                sdp = self._early_answer
            if self.is_ended() or self._answering:
                return
            self._usage_call(lambda now: usage.ringing(now, sdp, status_code=status_code))

        return self._spawn(run())

    def terminate(
        self,
        status_code: int | None = None,
        reason_phrase: str | None = None,
        *,
        extra_headers: Sequence[str] | None = None,
    ) -> None:
        """End the call in any state: CANCEL before an answer (outgoing), a
        rejection (incoming; 480 by default, or ``status_code``), BYE after.

        Raises:
            websip.LocalProtocolError: the call has ended already.
        """
        if self.is_ended():
            raise LocalProtocolError("the call has ended already")
        headers = check_extra_headers(extra_headers)
        usage = self.usage
        if usage is None:
            # The INVITE is not out yet (the offer is being made): never send it.
            self._terminate_wanted = True
            self._finish("failed", SessionEventData(originator="local", cause=causes.CANCELED))
            return
        self._usage_call(lambda now: usage.terminate(now, status_code, reason_phrase, headers))

    def hold(self, *, use_update: bool = False) -> asyncio.Task[bool]:
        """Put the peer on hold (RFC 3264 8.4: sendonly, or inactive when the
        peer holds us). Returns False when already on hold."""
        return self._spawn(self._set_hold(True, use_update))

    def unhold(self, *, use_update: bool = False) -> asyncio.Task[bool]:
        """Resume the media (sendrecv, or recvonly when the peer holds us)."""
        return self._spawn(self._set_hold(False, use_update))

    async def _set_hold(self, hold: bool, use_update: bool) -> bool:
        if self._local_hold == hold:
            return False
        if hold:
            direction = "inactive" if self._remote_hold else "sendonly"
        else:
            direction = "recvonly" if self._remote_hold else "sendrecv"
        offer = await self.media.set_direction(direction)
        await self._renegotiate_with(offer, use_update)
        self._local_hold = hold
        self._emit("hold" if hold else "unhold", SessionEventData(originator="local"))
        return True

    def renegotiate(self, *, use_update: bool = False) -> asyncio.Task[bool]:
        """Send a new offer (re-INVITE, or UPDATE): e.g. after a network change."""

        async def run() -> bool:
            offer = await self.media.create_offer()
            await self._renegotiate_with(offer, use_update)
            return True

        return self._spawn(run())

    async def _renegotiate_with(self, offer: bytes, use_update: bool) -> None:
        usage = self._established_usage()
        loop = asyncio.get_running_loop()
        self._renegotiation = future = loop.create_future()
        self._local_sdp(offer)
        try:
            if use_update:
                self._usage_call(lambda now: usage.send_update(offer, now))
            else:
                self._usage_call(lambda now: usage.send_reinvite(offer, now))
        except LocalProtocolError:
            self._renegotiation = None
            await self.media.rollback()
            raise
        try:
            await future
        except RequestError:
            await self.media.rollback()
            raise

    def mute(self) -> None:
        """Send silence instead of the source (no renegotiation)."""
        if self.media is None or self.media.is_muted:
            return
        self.media.mute()
        self._emit("muted", SessionEventData(originator="local"))

    def unmute(self) -> None:
        if self.media is None or not self.media.is_muted:
            return
        self.media.unmute()
        self._emit("unmuted", SessionEventData(originator="local"))

    def send_dtmf(
        self,
        tones: str | int,
        *,
        duration: int = 100,
        inter_tone_gap: int = 500,
        transport: Literal["INFO", "RFC2833"] = "INFO",
    ) -> asyncio.Task[None]:
        """Send DTMF tones (``0-9 * # A-D``; ``,`` is a 2 s pause), as SIP INFO
        (``application/dtmf-relay``, JsSIP's default) or as RFC 4733 events.

        Raises:
            ValueError: a bad tone, duration or transport (at the call).
        """
        text = str(tones).upper()
        if not text or any(c not in "0123456789ABCD#*," for c in text):
            raise ValueError(f"invalid DTMF tones {tones!r}")
        if transport not in ("INFO", "RFC2833"):
            raise ValueError(f"transport must be 'INFO' or 'RFC2833', not {transport!r}")
        if not 40 <= duration <= 6000 or not 40 <= inter_tone_gap <= 10000:
            raise ValueError("duration must be 40-6000 ms and inter_tone_gap 40-10000 ms")
        usage = self._established_usage()
        if transport == "RFC2833":
            for tone in text.replace(",", ""):
                self._emit(
                    "new_dtmf",
                    SessionEventData(
                        originator="local", tone=tone, duration=duration, transport="RFC2833"
                    ),
                )
            return self._spawn(self.media.send_dtmf(text, duration, inter_tone_gap))

        async def run() -> None:
            for tone in text:
                if tone == ",":
                    await asyncio.sleep(_DTMF_PAUSE)
                    continue
                self._usage_call(lambda now, t=tone: usage.send_dtmf_info(t, now, duration))  # type: ignore[misc]
                self._emit(
                    "new_dtmf",
                    SessionEventData(
                        originator="local", tone=tone, duration=duration, transport="INFO"
                    ),
                )
                await asyncio.sleep((duration + inter_tone_gap) / 1000)

        return self._spawn(run())

    def send_info(
        self,
        content_type: str,
        body: str | bytes = b"",
        *,
        extra_headers: Sequence[str] | None = None,
    ) -> asyncio.Task[Response]:
        """Send an INFO (RFC 6086); the task gives the 2xx or raises RequestError."""
        if any(c in content_type for c in "\r\n"):
            raise ValueError(f"CR or LF in content_type {content_type!r}")
        headers = check_extra_headers(extra_headers)
        usage = self._established_usage()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        tid = self._usage_call(lambda now: usage.send_info(content_type, body, now, headers))
        self._infos[tid] = future
        self._emit(
            "new_info",
            SessionEventData(
                originator="local",
                content_type=content_type,
                body=body.encode() if isinstance(body, str) else body,
            ),
        )

        async def wait() -> Response:
            return await future

        return self._spawn(wait())

    def refer(self, target: URI | str, *, replaces: RTCSession | None = None) -> ReferSubscription:
        """Transfer the peer to ``target`` (RFC 3515); attended when ``replaces``
        names another established session (RFC 3891). Progress arrives as
        ``refer`` events (``originator="local"``) and in the returned object."""
        if isinstance(target, str):
            uri = self._ua.normalize_target(target)
            if uri is None:
                raise ValueError(f"invalid target {target!r}")
        elif isinstance(target, URI):
            uri = target
        else:
            raise TypeError(f"target must be a URI or a string, not {type(target).__name__}")
        other = None
        if replaces is not None:
            other = replaces.usage
            if other is None or replaces.is_ended():
                raise LocalProtocolError("the session to replace is not established")
        usage = self._established_usage()
        refer_id = self._usage_call(lambda now: usage.refer(uri, now, replaces=other))
        subscription = ReferSubscription(refer_id)
        self._refers_out[refer_id] = subscription
        return subscription

    # -- plumbing ------------------------------------------------------------

    def _wire_media(self) -> None:
        # RFC 4733 telephone-events the media handler receives become new_dtmf.
        if self.media is not None and getattr(self.media, "on_dtmf", False) is None:
            self.media.on_dtmf = self._on_media_dtmf

    def _on_media_dtmf(self, tone: str, duration_ms: int) -> None:
        self._emit(
            "new_dtmf",
            SessionEventData(
                originator="remote", tone=tone, duration=duration_ms, transport="RFC2833"
            ),
        )

    def _established_usage(self) -> InviteSession:
        usage = self.usage
        if usage is None or not usage.is_established or self.is_ended():
            raise LocalProtocolError("the call is not established")
        return usage

    def _usage_call(self, command: Callable[[float], Any]) -> Any:
        """Run a usage command at ``now``, then process its events and flush."""
        ua = self._ua
        result = command(ua._now())
        if self.usage is not None:
            self._process(self.usage.take_events())
        ua._pump()
        return result

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("session task ended with %r", task.exception())

    def _emit(self, name: str, payload: Any) -> list[asyncio.Task[Any]]:
        return self._events.emit(name, payload)

    def _local_sdp(self, sdp: bytes) -> None:
        self._emit("sdp", SessionEventData(originator="local", type="local", sdp=sdp))
        if not self._peerconnection_sent and self.connection is not None:
            self._peerconnection_sent = True
            self._emit(
                "peerconnection",
                SessionEventData(originator="local", peerconnection=self.connection),
            )

    def _check_remote_direction(self) -> None:
        direction = getattr(self.media, "remote_direction", None)
        held = direction is not None and str(direction) in _REMOTE_HOLD
        if held != self._remote_hold:
            self._remote_hold = held
            self._emit("hold" if held else "unhold", SessionEventData(originator="remote"))

    # -- UA hooks ------------------------------------------------------------

    def _owns_event(self, event: Event) -> bool:
        return self.usage is not None and self.usage.owns_event(event)

    def _handle_event(self, event: Event) -> None:
        assert self.usage is not None
        self._process(self.usage.handle_event(event, self._ua._now()))

    def _get_timer(self) -> float | None:
        return self.usage.get_timer() if self.usage is not None else None

    def _handle_timer(self, now: float) -> None:
        if self.usage is not None:
            deadline = self.usage.get_timer()
            if deadline is not None and deadline <= now:
                self._process(self.usage.handle_timer(now))

    def _connection_lost(self) -> None:
        if self.usage is not None:
            self._process(self.usage.connection_lost(self._ua._now()))
        elif not self.is_ended():
            self._finish(
                "failed", SessionEventData(originator="system", cause=causes.CONNECTION_ERROR)
            )

    def _finished(self) -> bool:
        """Ended, and the usage has nothing left to do: the UA may forget us."""
        return self.is_ended() and (self.usage is None or self.usage.is_finished)

    # -- usage events -> public events ---------------------------------------

    def _process(self, events: list[SessionEvent]) -> None:
        for event in events:
            try:
                self._on_usage_event(event)
            except Exception:
                logger.exception("error while handling %r", event)

    def _on_usage_event(self, event: SessionEvent) -> None:
        if isinstance(event, Progress):
            self._emit(
                "progress",
                SessionEventData(originator=event.originator, response=event.response),
            )
        elif isinstance(event, RemoteSdp):
            self._emit("sdp", SessionEventData(originator="remote", type=event.type, sdp=event.sdp))
            if event.type == "answer":
                self._answer_task = self._spawn(self._apply_answer(event.sdp))
            elif isinstance(event.message, Response):
                self._spawn(self._late_answer(event.sdp))
        elif isinstance(event, Accepted):
            self.start_time = _dt.datetime.now(_dt.UTC)
            self._emit(
                "accepted",
                SessionEventData(originator=event.originator, response=event.response),
            )
        elif isinstance(event, Confirmed):
            if self.start_time is None:
                self.start_time = _dt.datetime.now(_dt.UTC)
            if not self._established.done():
                self._established.set_result(None)
            self._emit(
                "confirmed", SessionEventData(originator=event.originator, request=event.ack)
            )
        elif isinstance(event, Ended | Failed):
            name: Literal["ended", "failed"] = "ended" if isinstance(event, Ended) else "failed"
            message = event.message
            self._finish(
                name,
                SessionEventData(
                    originator=event.originator,
                    cause=event.cause,
                    message=message,
                    response=message if isinstance(message, Response) else None,
                    request=message if isinstance(message, Request) else None,
                ),
            )
        elif isinstance(event, ReinviteReceived | UpdateReceived):
            self._on_offer(event)
        elif isinstance(event, RenegotiationSucceeded):
            future, self._renegotiation = self._renegotiation, None
            if future is not None and not future.done():
                future.set_result(event.response)
        elif isinstance(event, RenegotiationFailed):
            future, self._renegotiation = self._renegotiation, None
            if future is not None and not future.done():
                future.set_exception(RequestError(event.cause, event.response))
        elif isinstance(event, SessionRefreshed):
            logger.debug("session refreshed (interval %s)", event.interval)
        elif isinstance(event, DtmfReceived):
            self._emit(
                "new_dtmf",
                SessionEventData(
                    originator="remote",
                    request=event.request,
                    tone=event.tone,
                    duration=event.duration,
                    transport="INFO",
                ),
            )
        elif isinstance(event, InfoReceived):
            self._emit(
                "new_info",
                SessionEventData(
                    originator="remote",
                    request=event.request,
                    content_type=event.content_type,
                    body=event.body,
                ),
            )
        elif isinstance(event, InfoAnswered):
            info = self._infos.pop(event.transaction_id, None)
            if info is not None and not info.done():
                if event.cause is None and event.response is not None:
                    info.set_result(event.response)
                else:
                    info.set_exception(
                        RequestError(event.cause or causes.SIP_FAILURE_CODE, event.response)
                    )
        elif isinstance(event, ReferReceived):
            self._on_refer(event)
        elif isinstance(event, ReferResponded):
            self._on_refer_response(event)
        elif isinstance(event, ReferProgress):
            self._on_refer_progress(event)

    async def _apply_answer(self, sdp: bytes) -> None:
        from websip.media import MediaError

        try:
            await self.media.set_remote_answer(sdp)
        except MediaError as exc:
            logger.warning("the peer's answer cannot be used: %s", exc)
            if not self.is_ended():
                with contextlib.suppress(LocalProtocolError):
                    self.terminate(488, "Not Acceptable Here")
            return
        self._check_remote_direction()

    async def _late_answer(self, offer: bytes) -> None:
        usage = self.usage
        assert usage is not None
        answer = await self.media.create_answer(offer)
        self._local_sdp(answer)
        self._usage_call(lambda now: usage.acknowledge(answer, now))

    def _on_offer(self, event: ReinviteReceived | UpdateReceived) -> None:
        method = "reinvite" if isinstance(event, ReinviteReceived) else "update"
        decision = RenegotiationEvent(originator="remote", request=event.request, sdp=event.sdp)
        usage = self.usage
        assert usage is not None

        async def respond() -> None:
            from websip.media import MediaError, SdpError

            reject = usage.reject_reinvite if method == "reinvite" else usage.reject_update
            answer = usage.answer_reinvite if method == "reinvite" else usage.answer_update
            if decision.rejected is not None:
                code, phrase = decision.rejected
                self._usage_call(lambda now: reject(now, code, phrase))
                return
            try:
                if event.sdp is None:
                    sdp = await self.media.create_offer()
                else:
                    sdp = await self.media.create_answer(event.sdp)
            except SdpError:
                self._usage_call(lambda now: reject(now, 488, None))
                return
            except MediaError:
                # An offer of ours is pending: glare (RFC 3261 14.2).
                self._usage_call(lambda now: reject(now, 491, None))
                return
            self._local_sdp(sdp)
            self._usage_call(lambda now: answer(sdp, now))
            if event.sdp is not None:
                self._check_remote_direction()

        self._events.emit_then(method, decision, lambda: self._spawn(respond()))

    # -- transfer ------------------------------------------------------------

    def _on_refer(self, event: ReferReceived) -> None:
        target, _ = split_refer_to(event.refer_to)
        decision = ReferEvent(
            originator="remote",
            request=event.request,
            target=target,
            _session=self,
            _refer_id=event.refer_id,
        )

        def default() -> None:
            if not decision.decided:
                decision.reject(603)

        self._events.emit_then("refer", decision, default)

    def _accept_refer(
        self, decision: ReferEvent, media: Any, extra_headers: Sequence[str] | None
    ) -> RTCSession:
        usage = self.usage
        refer_id = decision._refer_id
        assert usage is not None and refer_id is not None and decision.request is not None
        refer_to = decision.request.parse_header("Refer-To")
        target, replaces = split_refer_to(refer_to)
        headers = list(extra_headers or [])
        if replaces is not None:
            headers.append(f"Replaces: {replaces}")
        self._usage_call(lambda now: usage.accept_refer(refer_id, now))
        new_session = self._ua.call(target, media=media, extra_headers=headers)

        def notify(status: int, reason: str) -> None:
            if self.usage is None or self.usage.is_ended:
                return
            with contextlib.suppress(LocalProtocolError):
                self._usage_call(
                    lambda now: usage.notify_refer_progress(refer_id, status, reason, now)
                )

        def on_progress(data: SessionEventData) -> None:
            response = data.response
            if response is not None and response.status_code > 100:
                notify(response.status_code, response.reason_phrase)

        def on_accepted(data: SessionEventData) -> None:
            response = data.response
            notify(200, response.reason_phrase if response is not None else "OK")

        def on_failed(data: SessionEventData) -> None:
            response = data.response
            if response is not None:
                notify(response.status_code, response.reason_phrase)
            else:
                notify(487 if data.cause == causes.CANCELED else 503, data.cause or "Failed")

        new_session.on("progress", on_progress)
        new_session.on("accepted", on_accepted)
        new_session.on("failed", on_failed)
        return new_session

    def _reject_refer(self, refer_id: int, status_code: int) -> None:
        usage = self.usage
        if usage is None or usage.is_ended:
            return
        self._usage_call(lambda now: usage.reject_refer(refer_id, now, status_code))

    def _on_refer_response(self, event: ReferResponded) -> None:
        subscription = self._refers_out.get(event.refer_id)
        response = event.response
        code = response.status_code if response is not None else 0
        reason = response.reason_phrase if response is not None else (event.cause or "")
        if event.cause is not None and subscription is not None:
            subscription._settle(RequestError(event.cause, response))
        self._emit(
            "refer",
            ReferEvent(
                originator="local",
                status_code=code,
                reason_phrase=reason,
                final=event.cause is not None,
            ),
        )

    def _on_refer_progress(self, event: ReferProgress) -> None:
        subscription = self._refers_out.get(event.refer_id)
        if subscription is not None:
            subscription.statuses.append((event.status_code, event.reason_phrase))
            if event.final:
                subscription._settle((event.status_code, event.reason_phrase))
        self._emit(
            "refer",
            ReferEvent(
                originator="local",
                request=event.request,
                status_code=event.status_code,
                reason_phrase=event.reason_phrase,
                final=event.final,
            ),
        )

    # -- the end -------------------------------------------------------------

    def _finish(self, name: Literal["ended", "failed"], payload: SessionEventData) -> None:
        if self._ended.done():
            return
        self.end_time = _dt.datetime.now(_dt.UTC)
        cause = payload.cause or causes.BYE
        self.cause = cause
        _fail(self._established, RequestError(cause, payload.response))
        self._ended.set_result(cause)
        if self._renegotiation is not None:
            _fail(self._renegotiation, RequestError(cause))
        for info in self._infos.values():
            _fail(info, RequestError(cause))
        for subscription in self._refers_out.values():
            subscription._settle(RequestError(cause))
        self._emit(name, payload)
        if self.media is not None:
            self._spawn(self._close_media())

    async def _close_media(self) -> None:
        with contextlib.suppress(Exception):
            await self.media.close()
