"""The XMPP side as it runs: the sans-IO `XmppConferenceService` on a live `ComponentLink`, with its timers.

This is the thin asyncio layer: it moves stanzas between the link and the service and runs three timers —
the coalescing window per room (a burst of changes becomes one Coin document per participant), a timeout per
IQ we send (an unanswered session-accept ends its session; an unanswered Coin IQ is forgotten: Dino never
answers them), and a periodic tick (stale XEP-0353 proposals; ours are also checked when due: calling a
bare JID fails after 30 s without an answer). Every protocol decision is the service's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from lxml import etree

from gateway.document_parser import ParseLimits
from xmpp.component_link import ComponentLink, LinkSettings
from xmpp.conference_service import XmppConferenceService
from xmpp.rooms import Call, ConferenceRoom, RoomDirectory
from xmpp.stanzas import kind

TICK_SECONDS = 10.0


class XmppComponent:
    """The gateway's XMPP component. `start()`, then rooms call `accept`/`reject`/`room_changed`."""

    def __init__(
        self,
        settings: LinkSettings,
        rooms: RoomDirectory,
        *,
        coalescing_window: float = 0.2,
        iq_timeout: float = 30.0,
        limits: ParseLimits | None = None,
        rate: float = 50.0,
        burst: float = 200.0,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.service = XmppConferenceService(
            settings.domain, rooms, clock=self._loop.time, limits=limits, rate=rate, burst=burst
        )
        self.link = ComponentLink(settings, self._received, on_online=self._online)
        self.coalescing_window = coalescing_window
        self.iq_timeout = iq_timeout
        self._due: dict[ConferenceRoom, asyncio.TimerHandle] = {}
        self._timeouts: dict[str, asyncio.TimerHandle] = {}
        self._tick: asyncio.TimerHandle | None = None
        self._proposal_timers: set[asyncio.TimerHandle] = set()
        self._receiving = False
        self._deferred: list[etree._Element] = []

    def start(self) -> None:
        self.link.start()
        self._tick = self._loop.call_later(TICK_SECONDS, self._on_tick)

    async def close(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
        for handle in self._timeouts.values():
            handle.cancel()
        self._timeouts.clear()
        if self._tick is not None:
            self._tick.cancel()
        for handle in self._proposal_timers:
            handle.cancel()
        self._proposal_timers.clear()
        await self.link.close()

    # -- what rooms tell the component ---------------------------------------------------------------------

    def accept(self, call: Call, contents: list[etree._Element], *, isfocus: bool = True) -> None:
        self._send(self.service.accept(call, contents, isfocus=isfocus))

    def focus_changed(self, call: Call, isfocus: bool) -> None:
        """The call became a conference or stopped being one (see `XmppConferenceService.focus_changed`)."""
        self._send(self.service.focus_changed(call, isfocus))

    def reject(self, call: Call, reason: str = "decline", text: str | None = None) -> None:
        self._send(self.service.reject(call, reason, text))

    def place_call(
        self, room: ConferenceRoom, local: str, peer: str, sid: str, contents: list[etree._Element]
    ) -> Call:
        """Call an XMPP mixer for `room` (see `XmppConferenceService.place_call`)."""
        call, stanzas = self.service.place_call(room, local, peer, sid, contents)
        self._send(stanzas)
        if "/" not in peer:  # an XEP-0353 proposal: its timeout is checked when due, not at the next tick
            self._proposal_timers.add(
                self._loop.call_later(self.service.outgoing.timeout + 0.01, self._proposal_due)
            )
        return call

    def _proposal_due(self) -> None:
        self._proposal_timers = {
            h for h in self._proposal_timers if not h.cancelled() and h.when() > self._loop.time()
        }
        self._send(self.service.tick())

    def transport_info(self, call: Call, contents: list[etree._Element]) -> None:
        """Trickle: `transport-info` with our candidates (see `XmppConferenceService.transport_info`)."""
        self._send(self.service.transport_info(call, contents))

    def session_info(self, call: Call, payload: etree._Element) -> None:
        """`session-info` (see `XmppConferenceService.session_info`)."""
        self._send(self.service.session_info(call, payload))

    def hang_up(self, call: Call, reason: str = "success") -> None:
        self._send(self.service.hang_up(call, reason))

    def room_changed(self, room: ConferenceRoom) -> None:
        """The room's state changed: its participants get one document when the coalescing window closes."""
        if room not in self._due:
            self._due[room] = self._loop.call_later(self.coalescing_window, self._deliver, room)

    def _deliver(self, room: ConferenceRoom) -> None:
        self._due.pop(room, None)
        self._send(self.service.room_changed(room))

    # -- link events --------------------------------------------------------------------------------------

    def _received(self, stanza: etree._Element) -> None:
        # A room may answer a call while the service is still handling the session-initiate: its answer goes
        # out after the service's own (the acknowledgement first, then session-accept).
        self._receiving = True
        try:
            answer = self.service.receive(stanza)
        finally:
            self._receiving = False
        deferred, self._deferred = self._deferred, []
        self._send([*answer, *deferred])

    def _online(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
        self._send(self.service.online())

    def _on_tick(self) -> None:
        self._send(self.service.tick())
        self._tick = self._loop.call_later(TICK_SECONDS, self._on_tick)

    def _timed_out(self, iq_id: str) -> None:
        self._timeouts.pop(iq_id, None)
        self._send(self.service.timed_out(iq_id))

    def _send(self, stanzas: Iterable[etree._Element]) -> None:
        if self._receiving:
            self._deferred.extend(stanzas)
            return
        for stanza in stanzas:
            iq_id = stanza.get("id")
            if iq_id and kind(stanza) == "iq" and stanza.get("type") == "set":
                self._timeouts[iq_id] = self._loop.call_later(self.iq_timeout, self._timed_out, iq_id)
            self.link.send(stanza)
