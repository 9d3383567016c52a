"""The XEP-0114 component link to the XMPP server: connect, hand-shake, stanzas in and out, reconnect.

slixmpp's `ComponentXMPP` opens the stream and does the handshake; everything after that is ours:

- Received stanzas (`iq`, `message`, `presence`) never reach slixmpp's stanza objects or JID parser (its JID
  unescaping panics on a trailing backslash and would close the stream): each one is re-read as an lxml
  element by a hardened parser and handed to `on_stanza`. A stanza larger than `max_stanza_bytes` is not
  parsed; an IQ get/set of that size is answered `policy-violation` here.
- Stanzas to send are lxml elements, written straight to the transport. The transport's flow control is
  watched (`pause_writing`/`resume_writing`); while the server does not read, stanzas wait in a queue bounded
  in bytes. When that bound is reached the stream is dropped and opened again: the other side of the link
  (`on_online`) then gives every participant full state, so nothing is lost silently and memory stays
  bounded.
- slixmpp retries a connection only until it first succeeds; this link reconnects itself after every loss
  (server restart, dropped stream, refused handshake), with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from lxml import etree
from slixmpp import ComponentXMPP

from xmpp.namespaces import COMPONENT
from xmpp.stanzas import iq_error

log = structlog.get_logger(__name__)

STANZA_KINDS = frozenset("{" + COMPONENT + "}" + kind for kind in ("iq", "message", "presence"))
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Where the component connects and how hard it tries."""

    domain: str  # the component's JID, e.g. sip.example.org
    secret: str
    host: str = "127.0.0.1"
    port: int = 5347
    max_stanza_bytes: int = 1 << 20  # a stanza larger than this is refused unread
    max_queued_bytes: int = 8 << 20  # bytes waiting for a slow server before the stream is reset
    backoff_initial: float = 0.25  # seconds before the first reconnection attempt
    backoff_max: float = 30.0


class Backoff:
    """Exponential backoff with full jitter: 0..initial, 0..2*initial, ... capped at `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class _Stream(ComponentXMPP):
    """One connection attempt's stream. Stanzas go to the link; everything else stays with slixmpp."""

    def __init__(self, link: ComponentLink) -> None:
        settings = link.settings
        super().__init__(settings.domain, settings.secret, settings.host, settings.port)  # type: ignore[no-untyped-call]
        self._link = link
        self.paused = False

    def _spawn_event(self, xml: ET.Element) -> None:
        if xml.tag in STANZA_KINDS:
            self._link._received(xml)
        else:  # handshake, stream errors
            super()._spawn_event(xml)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._link._flush()


class ComponentLink:
    """The component's connection. `start()` keeps it up until `close()`; `send()` queues a stanza.

    `on_stanza(element)` gets each received stanza; `on_online()` runs after every successful handshake (the
    first one included) and `on_offline()` after every loss.
    """

    def __init__(
        self,
        settings: LinkSettings,
        on_stanza: Callable[[etree._Element], None],
        on_online: Callable[[], None] = lambda: None,
        on_offline: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.on_stanza = on_stanza
        self.on_online = on_online
        self.on_offline = on_offline
        self.online = False
        self.connections = 0  # successful handshakes so far
        self.dropped_offline = 0  # stanzas not sent because the link was down
        self._stream: _Stream | None = None
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self._online_event = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="component-link")

    async def wait_online(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._online_event.wait(), timeout)

    async def close(self) -> None:
        """Close the stream (sending what is queued first, briefly) and stop reconnecting."""
        self._closing = True
        stream = self._stream
        if stream is not None and stream.transport is not None:
            with contextlib.suppress(Exception):
                self._flush()
                await asyncio.wait_for(stream.disconnect(wait=1.0), 2.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._discard(stream)

    async def _run(self) -> None:
        while not self._closing:
            stream = self._stream = _Stream(self)
            ended = asyncio.get_running_loop().create_future()

            def finished(reason: Any, ended: asyncio.Future[str] = ended) -> None:
                if not ended.done():
                    ended.set_result(str(reason or "connection closed"))

            stream.add_event_handler("session_start", lambda _: self._went_online())
            stream.add_event_handler("connection_failed", finished)
            stream.add_event_handler("disconnected", finished)
            stream.add_event_handler(
                "stream_error", lambda error: finished(f"stream error {error['condition']}")
            )
            stream.connect()
            try:
                reason = await ended
            finally:
                self._discard(stream)
            was_online = self.online
            self._went_offline()
            if self._closing:
                return
            delay = self._backoff.next_delay()
            log.warning(
                "component link down" if was_online else "component link not established",
                reason=reason, retry_in=round(delay, 2), host=self.settings.host, port=self.settings.port,
            )  # fmt: skip
            await asyncio.sleep(delay)

    def _discard(self, stream: _Stream | None) -> None:
        """Release everything one stream holds: its connection attempt, its transport, slixmpp's send task."""
        if stream is None:
            return
        stream.cancel_connection_attempt()
        if stream.transport is not None:
            stream.transport.abort()
        task = getattr(stream, "_run_out_filters", None)
        if task is not None:
            task.cancel()
        for name in list(getattr(stream, "scheduled_events", {})):
            stream.cancel_schedule(name)
        if self._stream is stream:
            self._stream = None

    def _went_online(self) -> None:
        self.online = True
        self.connections += 1
        self._backoff.reset()
        self._online_event.set()
        log.info("component link up", domain=self.settings.domain, connections=self.connections)
        self._guard(self.on_online)

    def _went_offline(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        self._online_event.clear()
        if self.online:
            self.online = False
            self._guard(self.on_offline)

    # -- stanzas -----------------------------------------------------------------------------------------------

    def send(self, stanza: etree._Element) -> None:
        """Queue one stanza. While the link is down it is dropped: `on_online` resynchronises everyone."""
        stream = self._stream
        if not self.online or stream is None or stream.transport is None:
            self.dropped_offline += 1
            return
        data = etree.tostring(stanza)
        if self._queued_bytes + len(data) > self.settings.max_queued_bytes:
            log.error("server not reading: send queue full, resetting the stream", queued=self._queued_bytes)
            stream.abort()
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        if not stream.paused:
            self._flush()

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def _flush(self) -> None:
        stream = self._stream
        if stream is None or stream.transport is None:
            return
        while self._queue and not stream.paused:
            data = self._queue.popleft()
            self._queued_bytes -= len(data)
            stream.transport.write(data)

    def _received(self, xml: ET.Element) -> None:
        data = ET.tostring(xml)
        if len(data) > self.settings.max_stanza_bytes:
            self._refuse_oversized(xml, len(data))
            return
        try:
            element = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:  # the server checked well-formedness: a bug, but never fatal
            log.error("stanza the link cannot re-read", error=str(exc))
            return
        self._guard(lambda: self.on_stanza(element))

    def _refuse_oversized(self, xml: ET.Element, size: int) -> None:
        log.warning("stanza too large", sender=xml.get("from", ""), size=size)
        if xml.tag.endswith("}iq") and xml.get("type") in ("get", "set"):
            request = etree.Element(
                xml.tag, {k: v for k, v in xml.attrib.items() if k in ("from", "to", "id")}
            )
            self.send(iq_error(request, "policy-violation", "modify", text="stanza too large"))

    def _guard(self, callback: Callable[[], None]) -> None:
        """Run a callback of the other side; a bug there is logged, and never closes the stream."""
        try:
            callback()
        except Exception:
            log.exception("unhandled error in component callback")
