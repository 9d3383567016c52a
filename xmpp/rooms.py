"""The interface between the XMPP adapter and the rooms it serves.

The bridge (a later issue) implements it; until then tests drive the adapter with an in-process room. The
adapter owns the Jingle sessions and each participant's Coin view; a room owns the conference state (in
XMPP address form) and decides how to answer a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from gateway.conference_info import ConferenceInfo


@dataclass(frozen=True, slots=True)
class Call:
    """A Jingle call from an XMPP participant to a room: answer it with `XmppConferenceService.accept` or
    `reject`. `offer` holds the `<content>` (and `<group>`) elements of the session-initiate."""

    participant: str  # the peer's full JID: the caller, or the mixer a placed call goes to
    room: str  # the room's bare JID
    sid: str
    offer: tuple[etree._Element, ...]
    placed: bool = False  # True for a call the room placed (to an XMPP mixer); we are the initiator


class ConferenceRoom(Protocol):
    """One room as the XMPP adapter sees it."""

    jid: str  # bare JID, e.g. weekly@sip.example.org

    def state(self) -> ConferenceInfo:
        """The conference state, in XMPP address form (what participants are shown)."""
        ...

    def call(self, call: Call) -> None:
        """A participant calls the room; the room answers later through the service (accept/reject)."""
        ...

    def hang_up(self, call: Call, reason: str) -> None:
        """A participant's session ended (their session-terminate, a failure, or our own terminate)."""
        ...

    def coin_received(self, call: Call, document: ConferenceInfo) -> None:
        """The peer of a live session sent conference state (it is a focus itself). May raise
        gateway.errors.MergeError, which the service answers with a stanza error."""
        ...

    def answered(self, call: Call, contents: tuple[etree._Element, ...], isfocus: bool | None) -> None:
        """A call the room placed (`XmppConferenceService.place_call`) was accepted: `contents` are the
        `<content>` (and `<group>`) elements of the session-accept, `isfocus` its Coin flag (None: absent).
        A placed call that fails or ends is reported through `hang_up`."""
        ...

    def focus_changed(self, call: Call, isfocus: bool) -> None:
        """The peer of a live session says (session-info) that the call became a conference or stopped
        being one."""
        ...

    def rtp_info(self, call: Call, info: str) -> None:
        """The peer of a session sent an XEP-0167 informational message (session-info): `hold`,
        `active`, `mute`, `unmute`, `ringing`. Already acknowledged."""
        ...

    def transport_info(self, call: Call, contents: tuple[etree._Element, ...]) -> None:
        """The peer of a session (pending or active) sent `transport-info` (XEP-0176 trickle: more
        candidates, its credentials): `contents` are its `<content>` elements. Already acknowledged."""
        ...


class RoomDirectory(Protocol):
    def find(self, jid: str) -> ConferenceRoom | None:
        """The room at a bare JID of the component, or None."""
        ...
