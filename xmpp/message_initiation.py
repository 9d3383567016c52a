"""XEP-0353 Jingle Message Initiation, sans-IO: the messages Conversations and Dino exchange before
`session-initiate`.

A caller sends `<propose id=...>` to a room's bare JID; we answer from the room's full JID with `<ringing/>`
and `<proceed/>` (or `<reject/>` with a reason), and then expect `session-initiate` with `sid` equal to the
proposal's id from the same caller. The caller may `<retract/>` a proposal before that, and either side
sends `<finish/>` when the session is over. Proposals we have not seen through are forgotten after
`PROPOSAL_LIFETIME` seconds (the adapter's timer calls `expire`).

Messages are type `chat` with a `<store xmlns='urn:xmpp:hints'/>` hint (XEP-0353 section 3).

The other way (`OutgoingProposals`): Jingle needs a full JID, so the gateway calls a bare JID by sending
`<propose id=sid>` to it (from our full JID for the caller); the first of its resources to answer
`<proceed/>` gets `session-initiate` with that id as sid; `<reject/>` fails the call (`decline`, or the
reason given), no answer within `OUTGOING_TIMEOUT` seconds fails it (`timeout`, and we `<retract/>`), and
a caller who gives up first retracts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from xmpp.jingle_session import reason_element
from xmpp.namespaces import HINTS, JINGLE, JINGLE_MESSAGE, JINGLE_RTP
from xmpp.xml import element

PROPOSAL_LIFETIME = 60.0
OUTGOING_TIMEOUT = 30.0


class Kind(StrEnum):
    PROPOSE = "propose"
    RINGING = "ringing"
    PROCEED = "proceed"
    ACCEPT = "accept"
    REJECT = "reject"
    RETRACT = "retract"
    FINISH = "finish"


@dataclass(frozen=True, slots=True)
class InitiationMessage:
    """A parsed XEP-0353 element from a message."""

    kind: Kind
    id: str
    media: tuple[str, ...] = ()  # for propose: the media of its RTP descriptions


@dataclass(frozen=True, slots=True)
class Proposal:
    caller: str  # full JID
    callee: str  # the JID the proposal was addressed to (a room's bare JID)
    id: str
    media: tuple[str, ...]
    received_at: float


def parse_message(children: list[etree._Element]) -> InitiationMessage | None:
    """The XEP-0353 element of a message, or None if it has none (or a malformed one)."""
    for child in children:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != JINGLE_MESSAGE:
            continue
        try:
            kind = Kind(etree.QName(child).localname)
        except ValueError:
            return None
        proposal_id = child.get("id")
        if not proposal_id or len(proposal_id) > 256:
            return None
        media = tuple(
            d.get("media", "")
            for d in child
            if isinstance(d.tag, str) and etree.QName(d).localname == "description"
        )
        return InitiationMessage(kind, proposal_id, media)
    return None


def message_children(
    kind: Kind, proposal_id: str, *, reason: str | None = None, media: tuple[str, ...] = ()
) -> list[etree._Element]:
    """The children of a message we send: the XEP-0353 element (a propose with one RTP description per
    `media`) and the store hint."""
    el = element(JINGLE_MESSAGE, kind.value)
    el.set("id", proposal_id)
    for medium in media:
        description = element(JINGLE_RTP, "description")
        description.set("media", medium)
        el.append(description)
    if reason is not None:
        el.append(reason_element(reason))
    return [el, element(HINTS, "store")]


def reason_of(message: etree._Element) -> str | None:
    """The Jingle reason condition inside a message's XEP-0353 element (`<reject><reason><busy/>...`)."""
    for child in message.iter("{" + JINGLE + "}reason"):
        for condition in child:
            if isinstance(condition.tag, str) and etree.QName(condition).localname != "text":
                return etree.QName(condition).localname
    return None


@dataclass(frozen=True, slots=True)
class OutgoingProposal:
    """A propose we sent to a bare JID, waiting for `<proceed/>` from one of its resources."""

    callee: str  # the bare JID called
    local: str  # our full JID for the caller
    id: str  # the proposal id, the Jingle sid to come
    sent_at: float


class OutgoingProposals:
    """Proposals we sent, by (callee's bare JID, id)."""

    def __init__(self, timeout: float = OUTGOING_TIMEOUT) -> None:
        self.timeout = timeout
        self._proposals: dict[tuple[str, str], OutgoingProposal] = {}

    def proposed(self, callee: str, local: str, proposal_id: str, now: float) -> OutgoingProposal:
        proposal = OutgoingProposal(callee, local, proposal_id, now)
        self._proposals[(callee, proposal_id)] = proposal
        return proposal

    def answered(self, callee: str, proposal_id: str) -> OutgoingProposal | None:
        """The proposal a proceed or reject from a resource of `callee` answers (removed), if any."""
        return self._proposals.pop((callee, proposal_id), None)

    def get(self, callee: str, proposal_id: str) -> OutgoingProposal | None:
        return self._proposals.get((callee, proposal_id))

    def expire(self, now: float) -> list[OutgoingProposal]:
        """Proposals unanswered for `timeout` seconds (removed)."""
        old = [p for p in self._proposals.values() if now - p.sent_at >= self.timeout]
        for proposal in old:
            del self._proposals[(proposal.callee, proposal.id)]
        return old

    def __len__(self) -> int:
        return len(self._proposals)


class MessageInitiation:
    """Proposals received, waiting for `session-initiate`."""

    def __init__(self) -> None:
        self._proposals: dict[tuple[str, str], Proposal] = {}

    def proposed(self, caller: str, callee: str, message: InitiationMessage, now: float) -> Proposal:
        proposal = Proposal(caller, callee, message.id, message.media, now)
        self._proposals[(caller, message.id)] = proposal
        return proposal

    def retracted(self, caller: str, proposal_id: str) -> Proposal | None:
        return self._proposals.pop((caller, proposal_id), None)

    def take(self, caller: str, sid: str) -> Proposal | None:
        """The proposal a `session-initiate` from `caller` with this sid fulfils (removed), if any."""
        return self._proposals.pop((caller, sid), None)

    def expire(self, now: float) -> list[Proposal]:
        """Forget proposals older than PROPOSAL_LIFETIME; returns them."""
        old = [p for p in self._proposals.values() if now - p.received_at > PROPOSAL_LIFETIME]
        for proposal in old:
            del self._proposals[(proposal.caller, proposal.id)]
        return old

    def __len__(self) -> int:
        return len(self._proposals)
