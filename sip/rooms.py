"""The interface between the SIP notifier and the rooms it serves (the SIP twin of `xmpp.rooms`).

The bridge (a later issue) implements it; until then tests drive the notifier with an in-process room. The
notifier owns the subscriptions and each subscriber's versions; a room owns the conference state (in SIP
address form) and decides who may watch it.
"""

from __future__ import annotations

from typing import Protocol

from sipmessage import URI, Address, Request

from gateway.conference_info import ConferenceInfo


class ConferenceRoom(Protocol):
    """One room as the SIP notifier sees it."""

    uri: str  # the conference URI, e.g. sip:weekly@gw.example.org (what a focus's Contact names, RFC 4579)

    def state(self) -> ConferenceInfo:
        """The conference state, in SIP address form (what subscribers are shown)."""
        ...

    def admits(self, subscriber: Address, request: Request) -> bool:
        """Whether `subscriber` (the SUBSCRIBE's From, without tag) may watch the room; False is a 403."""
        ...


class RoomDirectory(Protocol):
    def find(self, uri: URI) -> ConferenceRoom | None:
        """The room a Request-URI names, or None (a 404). The directory decides how URIs compare."""
        ...
