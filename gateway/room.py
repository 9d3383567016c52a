"""One room of the gateway: one upstream conference state, shown to the recipients of each protocol.

A room's state comes from one upstream: the conference event subscription to a SIP bridge, or the Coin
stream of a Jingle session with an XMPP mixer. Each time the upstream's state changes, the change is
translated and merged into the state shown to each protocol's recipients — so each view is built from the
change (cost follows the change, not the room) and keeps the merge history that makes per-recipient diffs
cheap. Each recipient's own versions are kept by its adapter (`RecipientView`).

What the recipients are shown:
- The root `entity` is the room's own address in their protocol (the room JID for XMPP participants, the
  room URI for SIP subscribers): the conference they called. The upstream's conference URI, when the
  upstream document names it in `conf-uris`, stays there, translated.
- Every address is in their protocol's form; the original address is kept (see `gateway.translate`).
- While the upstream is lost, `conference-state/active` is false; its next state (a new subscription's full
  document) replaces everything.
- An address that cannot be mapped is shown as the upstream wrote it (and logged): one odd participant must
  not hide the whole conference from everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from gateway.addresses import AddressError
from gateway.conference_info import ConferenceInfo, ConferenceState, State, Users, replace
from gateway.diff import diff, full_document
from gateway.merge import merge
from gateway.translate import AddressForms, Protocol, translate

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RoomAddress:
    """A room's addresses: `xmpp:name@component` and `sip:name@sip-domain`."""

    xmpp: str
    sip: str

    def of(self, protocol: Protocol) -> str:
        return self.xmpp if protocol is Protocol.XMPP else self.sip


@dataclass(eq=False)
class Room:
    """One room's state. Feed it the upstream's merged state each time it changes (`upstream_state`) and
    its losses (`upstream_lost`); read what each protocol's recipients are shown with `state(protocol)`.

    The upstream's state is what its own receiver merged (`sip.subscriber` for a bridge's NOTIFYs, the Coin
    session for a mixer's IQs): its versions belong to that subscription or session, and a new one starts
    again at 1, so the room follows states, not version numbers. `upstream` is the protocol of the
    upstream's documents: scheme-less URIs in them are taken to be of that protocol.
    """

    name: str
    address: RoomAddress
    upstream: Protocol
    forms: AddressForms
    _canonical: ConferenceInfo | None = None
    _shown: dict[Protocol, ConferenceInfo] = field(default_factory=dict)
    _lost: bool = False

    @property
    def synchronised(self) -> bool:
        """Whether the room holds its upstream's current state (it has state, and has not lost it since)."""
        return self._canonical is not None and not self._lost

    def canonical(self) -> ConferenceInfo | None:
        """The upstream's state as last given, in the upstream's own address forms; None before that."""
        return self._canonical

    def state(self, protocol: Protocol) -> ConferenceInfo:
        """What `protocol`'s recipients are shown: an empty conference until the upstream has spoken."""
        shown = self._shown.get(protocol)
        if shown is None:
            shown = self._shown[protocol] = ConferenceInfo(
                entity=self.address.of(protocol), version=0, users=Users(users={})
            )
        return shown

    def upstream_state(self, state: ConferenceInfo) -> bool:
        """The upstream's state changed to `state` (merged, every `state` full); True when what recipients
        are shown changed. The change is found by `diff` (cheap when `state` was merged from the previous
        one), translated, and merged into each protocol's view; after a loss, or the first time, the views are
        built afresh from the whole state."""
        afresh = self._canonical is None or self._lost
        # Each view's version is its own, set below: the upstream's (which may be the last, 2^32-1) is not used.
        change = None if afresh else diff(self._canonical, state, version=1)
        if not afresh and change is None:
            return False
        shown: dict[Protocol, ConferenceInfo] = {}
        for protocol in Protocol:
            current = self.state(protocol)
            version = (current.version or 0) + 1
            document = full_document(state, version) if change is None else change
            translated = translate(
                document, self.forms, protocol, source=self.upstream, on_error=self._unmapped
            )
            translated = replace(translated, {"entity": self.address.of(protocol), "version": version})
            shown[protocol] = merge(None if afresh else current, translated)
        self._canonical, self._shown, self._lost = state, shown, False
        return True

    def _unmapped(self, uri: str, error: AddressError) -> None:
        log.warning("address shown unmapped", room=self.name, uri=uri[:200], error=str(error))

    def upstream_lost(self) -> bool:
        """The upstream is gone for now (bridge unreachable, subscription terminated, mixer gone): recipients
        are shown `active=false` until it is back. True when that is a change."""
        if self._lost:
            return False
        self._lost = True
        for protocol in Protocol:
            current = self.state(protocol)
            count = current.conference_state.user_count if current.conference_state else None
            self._shown[protocol] = merge(
                current,
                ConferenceInfo(
                    entity=current.entity,
                    state=State.PARTIAL,
                    version=(current.version or 0) + 1,
                    conference_state=ConferenceState(active=False, user_count=count),
                ),
            )
        return True
