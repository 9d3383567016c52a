"""One room of the gateway: one upstream conference state, shown to the recipients of each protocol.

A room's state comes from one upstream: the conference event subscription to a SIP bridge, or the Coin
stream of a Jingle session with an XMPP mixer. Every document from it is merged into the room's canonical
state, and the same document, translated, is merged into the state shown to each protocol's recipients — so
each view is built from the change (cost follows the change, not the room) and keeps the merge history that
makes per-recipient diffs cheap. Each recipient's own versions are kept by its adapter (`RecipientView`).

What the recipients are shown:
- The root `entity` is the room's own address in their protocol (the room JID for XMPP participants, the
  room URI for SIP subscribers): the conference they called. The upstream's conference URI, when the
  upstream document names it in `conf-uris`, stays there, translated.
- Every address is in their protocol's form; the original address is kept (see `gateway.translate`).
- While the upstream is lost, `conference-state/active` is false; only a full document from the upstream
  brings the room back (RFC 4575 section 4.6: it replaces everything).
- An address that cannot be mapped is shown as the upstream wrote it (and logged): one odd participant must
  not hide the whole conference from everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from gateway.addresses import AddressError
from gateway.conference_info import ConferenceInfo, ConferenceState, State, Users
from gateway.errors import NeedsFullStateError, StaleDocumentError
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
    """One room's state. Feed it the upstream's documents (`upstream_document`) and its losses
    (`upstream_lost`); read what each protocol's recipients are shown with `state(protocol)`.

    `upstream` is the protocol of the upstream's documents (SIP for a room backed by a SIP bridge, XMPP for
    one backed by an XMPP mixer): scheme-less URIs in them are taken to be of that protocol.
    """

    name: str
    address: RoomAddress
    upstream: Protocol
    forms: AddressForms
    _canonical: ConferenceInfo | None = None
    _shown: dict[Protocol, ConferenceInfo] = field(default_factory=dict)
    _local_version: int = 0  # versions of the room's own changes (loss), above the upstream's

    @property
    def synchronised(self) -> bool:
        """Whether the room holds state from its upstream (it has had a full document since it was lost)."""
        return self._canonical is not None and self._local_version == 0

    def canonical(self) -> ConferenceInfo | None:
        """The merged upstream state, in the upstream's own address forms; None before the first document."""
        return self._canonical

    def state(self, protocol: Protocol) -> ConferenceInfo:
        """What `protocol`'s recipients are shown: an empty conference until the upstream has spoken."""
        shown = self._shown.get(protocol)
        if shown is None:
            shown = self._shown[protocol] = ConferenceInfo(
                entity=self.address.of(protocol), version=0, users=Users(users={})
            )
        return shown

    def upstream_document(self, document: ConferenceInfo) -> bool:
        """Merge a document from the upstream; True when the room's state changed (recipients are due an
        update). A stale document changes nothing. Raises NeedsFullStateError (the upstream must resend
        full state: refresh the subscription) or MergeError, leaving the room as it was.
        """
        if self._local_version and document.state is not State.FULL:
            raise NeedsFullStateError(
                "the room lost its upstream: only a full document resynchronises it",
                local_version=self._canonical.version if self._canonical else None,
                incoming_version=document.version,
            )
        try:
            canonical = merge(self._canonical, document)
        except StaleDocumentError:
            return False
        translated = {
            p: translate(document, self.forms, p, source=self.upstream, on_error=self._unmapped).model_copy(
                update={"entity": self.address.of(p)}
            )
            for p in Protocol
        }
        shown = {p: merge(self._shown.get(p) if document.state is not State.FULL else None, d)
                 for p, d in translated.items()}  # fmt: skip
        self._canonical, self._shown, self._local_version = canonical, shown, 0
        return True

    def _unmapped(self, uri: str, error: AddressError) -> None:
        log.warning("address shown unmapped", room=self.name, uri=uri[:200], error=str(error))

    def upstream_lost(self) -> bool:
        """The upstream is gone for now (bridge unreachable, subscription terminated, mixer gone): recipients
        are shown `active=false` until it is back with full state. True when that is a change."""
        if any(s.conference_state is not None and s.conference_state.active is False
               for s in self._shown.values()):  # fmt: skip
            return False
        self._local_version += 1
        for protocol in Protocol:
            current = self.state(protocol)
            version = (current.version or 0) + 1
            inactive = ConferenceState(
                active=False,
                user_count=current.conference_state.user_count if current.conference_state else None,
            )
            self._shown[protocol] = merge(
                current,
                ConferenceInfo(
                    entity=current.entity, state=State.PARTIAL, version=version, conference_state=inactive
                ),
            )
        return True
