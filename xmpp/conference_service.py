"""The XMPP side of the gateway, sans-IO: what the component does with each stanza it receives.

`XmppConferenceService` takes stanzas as lxml elements and returns the stanzas to send; it calls the rooms
(`xmpp.rooms`) directly. The asyncio layer (`xmpp.component_service`) moves stanzas between it and the
component link, and runs the coalescing and expiry timers.

What it answers:
- Jingle IQs, through `JingleSessions` (XEP-0166); a call to a room JID goes to the room, which accepts
  (session-accept with Coin `isfocus`, then a full Coin document) or rejects it.
- XEP-0353 proposals to a room: `ringing` and `proceed` from the room's full JID (`room@domain/gw`).
- A call we place to a bare JID (`place_call`): XEP-0353 `propose` to it; its `proceed` (from a full JID)
  -> session-initiate there, sid = the proposal id; its `reject` or no answer in time -> the room hears
  `hang_up` (`decline` or the reason given; `timeout`, and we retract); our hang-up first -> `retract`.
- Coin IQs from a session's peer (a focus sending us state); from anyone else `forbidden`, with a sid we do
  not know `item-not-found`, with a bad document `bad-request`, with a version gap `unexpected-request`.
- disco#info for every JID of the component; presence probes and subscriptions with XEP-0115 caps.
- Results and errors for the IQs we sent (session-accept, Coin): an error on a session's IQ ends it.
- Anything else addressed to us: `service-unavailable` (IQ get/set), ignored otherwise.

Every sender is rate-limited (a token bucket per bare JID): past it, IQs get `resource-constraint`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog
from lxml import etree

from gateway.conference_info import ConferenceInfo
from gateway.document_parser import ConferenceInfoParser, ParseLimits
from gateway.errors import DocumentError, MergeError, NeedsFullStateError, VersionOverflowError
from gateway.recipient_view import RecipientView
from xmpp import coin, disco
from xmpp.jingle_session import (
    Ack,
    Action,
    Ended,
    Incoming,
    JingleRequest,
    JingleSession,
    JingleSessions,
    Outgoing,
    Output,
    Received,
    Refuse,
    SessionState,
    parse_request,
)
from xmpp.message_initiation import (
    Kind,
    MessageInitiation,
    OutgoingProposal,
    OutgoingProposals,
    message_children,
    parse_message,
    reason_of,
)
from xmpp.namespaces import COIN, COIN_LEGACY, DISCO_INFO, JINGLE, JINGLE_ERRORS, JINGLE_RTP_INFO
from xmpp.rooms import Call, ConferenceRoom, RoomDirectory
from xmpp.stanzas import attr, bare, error_condition, iq_error, iq_result, kind, make
from xmpp.xml import element

log = structlog.get_logger(__name__)

ROOM_RESOURCE = "gw"
MAX_STANZA_ELEMENTS = 4_000  # a Jingle offer has a few hundred at most


@dataclass
class RateLimit:
    """A token bucket: `rate` stanzas a second, bursts up to `burst`."""

    rate: float = 50.0
    burst: float = 200.0
    tokens: float = 200.0
    updated: float = 0.0

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(eq=False)
class Participant:
    """A live call: its Jingle session, the room, and what Coin state the participant holds."""

    call: Call
    session: JingleSession
    room: ConferenceRoom
    view: RecipientView = field(default_factory=RecipientView)
    accepted: bool = False  # our session-accept was acknowledged: Coin may flow
    focus: bool = True  # we said isfocus (a call to a room): Coin flows; False: a 1:1 call, no Coin


@dataclass(frozen=True, slots=True)
class _Proposed:
    """A call placed to a bare JID, waiting for XEP-0353 proceed."""

    call: Call
    room: ConferenceRoom
    contents: list[etree._Element]


@dataclass(frozen=True, slots=True)
class _Pending:
    """An IQ we sent and await an answer to."""

    session: JingleSession
    action: Action | None  # None: a Coin IQ


class XmppConferenceService:
    """The component's behaviour. Feed it stanzas (`receive`), room changes (`room_changed`), link events
    (`online`) and timer ticks (`tick`); send what it returns."""

    def __init__(
        self,
        domain: str,
        rooms: RoomDirectory,
        *,
        clock: Callable[[], float],
        limits: ParseLimits | None = None,
        rate: float = 50.0,
        burst: float = 200.0,
    ) -> None:
        self.domain = domain
        self.rooms = rooms
        self.clock = clock
        self.sessions = JingleSessions(info_payloads=[JINGLE_RTP_INFO, COIN, COIN_LEGACY])
        self.proposals = MessageInitiation()
        self.outgoing = OutgoingProposals()
        self._proposed: dict[tuple[str, str], _Proposed] = {}  # (callee's bare JID, sid)
        self._resolved: dict[
            tuple[str, str], str
        ] = {}  # (bare JID called, sid) -> the full JID that proceeded
        self.parser = ConferenceInfoParser(limits)
        self.participants: dict[JingleSession, Participant] = {}
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._rate, self._burst = rate, burst
        self._buckets: dict[str, RateLimit] = {}

    # -- input ---------------------------------------------------------------------------------------------

    def receive(self, stanza: etree._Element) -> list[etree._Element]:
        """The stanzas to send in answer to one received stanza."""
        what, type_ = kind(stanza), stanza.get("type", "")
        if what == "iq" and type_ in ("result", "error"):
            return self._answer_to_us(stanza)
        if not self._allowed(stanza):
            log.warning("rate limit", sender=attr(stanza, "from"), stanza=what)
            return [iq_error(stanza, "resource-constraint", "wait")] if what == "iq" else []
        if what == "iq" and _too_big(stanza):
            return [iq_error(stanza, "policy-violation", "modify", text="stanza too large")]
        if what == "iq":
            return self._iq(stanza)
        if what == "message":
            return self._message(stanza)
        if what == "presence":
            return self._presence(stanza)
        return []

    def _allowed(self, stanza: etree._Element) -> bool:
        sender = bare(attr(stanza, "from"))
        bucket = self._buckets.get(sender)
        now = self.clock()
        if bucket is None:
            if len(self._buckets) > 10_000:  # forget idle senders rather than grow without bound
                self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < 60}
            bucket = self._buckets[sender] = RateLimit(self._rate, self._burst, self._burst, now)
        return bucket.allow(now)

    def _iq(self, iq: etree._Element) -> list[etree._Element]:
        payload = [child for child in iq if isinstance(child.tag, str)]
        type_ = iq.get("type")
        if type_ not in ("get", "set") or not iq.get("id"):
            return [iq_error(iq, "bad-request", "modify", text="an IQ needs type get or set and an id")]
        if type_ == "get" and len(payload) == 1 and payload[0].tag == "{" + DISCO_INFO + "}query":
            return self._disco_info(iq, payload[0])
        if type_ == "set" and coin.is_coin_iq(payload):
            return self._coin(iq, payload)
        if type_ == "set" and len(payload) == 1 and payload[0].tag == "{" + JINGLE + "}jingle":
            return self._jingle(iq, payload[0])
        return [iq_error(iq, "service-unavailable")]

    # -- disco and presence ------------------------------------------------------------------------------------

    def _disco_info(self, iq: etree._Element, query: etree._Element) -> list[etree._Element]:
        node = query.get("node")
        if not disco.knows_node(node):
            return [iq_error(iq, "item-not-found")]
        return [iq_result(iq, [disco.info_query(node)])]

    def _presence(self, presence: etree._Element) -> list[etree._Element]:
        type_ = presence.get("type")
        to, sender = attr(presence, "to"), attr(presence, "from")
        if type_ == "subscribe":
            return [
                make("presence", to=bare(sender), sender=bare(to), type="subscribed"),
                self.presence(to, sender),
            ]
        if type_ in (None, "probe"):
            return [self.presence(to, sender)]
        return []

    def presence(self, sender: str, to: str) -> etree._Element:
        """Our available presence with XEP-0115 caps."""
        return make("presence", to=to, sender=sender, children=[disco.caps_element()])

    # -- Jingle ------------------------------------------------------------------------------------------------

    def _jingle(self, iq: etree._Element, jingle: etree._Element) -> list[etree._Element]:
        parsed = parse_request(attr(iq, "from"), attr(iq, "to"), iq.get("id", ""), jingle)
        if isinstance(parsed, Refuse):
            return [self._refusal(iq, parsed)]
        if parsed.action is Action.SESSION_INITIATE:
            room = self.rooms.find(bare(parsed.recipient))
            if room is None:
                return [iq_error(iq, "item-not-found", text="no such room")]
            self.proposals.take(parsed.sender, parsed.sid)
        return self._apply(iq, self.sessions.receive(parsed))

    def _apply(self, iq: etree._Element | None, outputs: Sequence[Output]) -> list[etree._Element]:
        """Turn the session layer's outputs into stanzas and room calls."""
        out: list[etree._Element] = []
        for output in outputs:
            if isinstance(output, Ack) and iq is not None:
                out.append(iq_result(iq))
            elif isinstance(output, Refuse) and iq is not None:
                out.append(self._refusal(iq, output))
            elif isinstance(output, Incoming):
                out.extend(self._incoming(output.session, output.request))
            elif isinstance(output, Received):
                out.extend(self._received(output.session, output.request))
            elif isinstance(output, Ended):
                self._ended(output.session, output.reason)
            elif isinstance(output, Outgoing):
                out.append(self._send_jingle(output))
        return out

    def _refusal(self, iq: etree._Element, refuse: Refuse) -> etree._Element:
        app = element(JINGLE_ERRORS, refuse.jingle_condition) if refuse.jingle_condition else None
        return iq_error(iq, refuse.condition, refuse.error_type, app, refuse.text)

    def _incoming(self, session: JingleSession, request: JingleRequest) -> list[etree._Element]:
        room = self.rooms.find(bare(request.recipient))
        if room is None:  # checked before; the directory changed in between
            return [self._send_jingle(self.sessions.terminate(session, "gone"))]
        offer = tuple(child for child in request.jingle if isinstance(child.tag, str))
        call = Call(request.sender, room.jid, request.sid, offer)
        self.participants[session] = Participant(call, session, room)
        log.info("call to room", room=room.jid, participant=call.participant, sid=call.sid)
        room.call(call)
        return []

    def _received(self, session: JingleSession, request: JingleRequest) -> list[etree._Element]:
        # What the room hears of: the mixer's session-accept of a call we placed, isfocus in session-info
        # (a call becomes a conference), transport-info (trickled candidates, for the media legs). Other
        # negotiation actions (content-add, ...) are acknowledged and otherwise ignored.
        participant = self.participants.get(session)
        if participant is None:
            return []
        isfocus = coin.find_isfocus(request.jingle)
        if request.action is Action.SESSION_ACCEPT and participant.call.placed:
            participant.accepted = True
            contents = tuple(child for child in request.jingle if isinstance(child.tag, str))
            participant.room.answered(participant.call, contents, isfocus)
        elif request.action is Action.SESSION_INFO and isfocus is not None:
            participant.room.focus_changed(participant.call, isfocus)
        elif request.action is Action.SESSION_INFO:
            for child in request.jingle:
                if isinstance(child.tag, str) and etree.QName(child).namespace == JINGLE_RTP_INFO:
                    participant.room.rtp_info(participant.call, etree.QName(child).localname)
        elif request.action is Action.TRANSPORT_INFO:
            contents = tuple(child for child in request.jingle if child.tag == "{" + JINGLE + "}content")
            if contents:
                participant.room.transport_info(participant.call, contents)
        return []

    def _ended(self, session: JingleSession, reason: str) -> None:
        participant = self.participants.pop(session, None)
        if participant is not None:
            self._resolved.pop((participant.call.participant, participant.call.sid), None)
            log.info("call ended", room=participant.room.jid, participant=participant.call.participant,
                     sid=session.sid, reason=reason)  # fmt: skip
            participant.room.hang_up(participant.call, reason)

    def _send_jingle(self, outgoing: Outgoing) -> etree._Element:
        iq_id = self._new_id()
        if outgoing.action is not Action.SESSION_TERMINATE:
            self._pending[iq_id] = _Pending(outgoing.session, outgoing.action)
        else:
            self._ended(outgoing.session, "terminated by the gateway")
        return make(
            "iq", to=outgoing.session.peer, sender=outgoing.session.local, type="set", id=iq_id,
            children=[outgoing.jingle],
        )  # fmt: skip

    def _new_id(self) -> str:
        return f"cg{next(self._ids)}"

    # -- what the rooms tell us --------------------------------------------------------------------------------

    def accept(
        self, call: Call, contents: list[etree._Element], *, isfocus: bool = True
    ) -> list[etree._Element]:
        """The room answers a call: session-accept with the given contents and `isfocus` (Coin follows);
        without it (`isfocus=False`: the callee is no conference) no Coin is sent until `focus_changed`."""
        participant = self._participant(call)
        if participant is None or participant.session.state is not SessionState.PENDING:
            return []
        participant.focus = isfocus
        extra = [coin.isfocus_element()] if isfocus else []
        return [self._send_jingle(self.sessions.accept(participant.session, [*contents, *extra]))]

    def focus_changed(self, call: Call, isfocus: bool) -> list[etree._Element]:
        """The call became a conference (or stopped being one): session-info with Coin `isfocus`
        (XEP-0298); becoming one, the participant gets full state once the session is accepted."""
        participant = self._participant(call)
        if participant is None or participant.session.state is SessionState.ENDED:
            return []
        if participant.focus == isfocus:
            return []
        participant.focus = isfocus
        info = self.sessions.send(participant.session, Action.SESSION_INFO, [coin.isfocus_element(isfocus)])
        out = [self._send_jingle(info)]
        if isfocus and participant.accepted:
            out += self._coin_to(participant, participant.room.state(), full=True)
        return out

    def place_call(
        self, room: ConferenceRoom, local: str, peer: str, sid: str, contents: list[etree._Element]
    ) -> tuple[Call, list[etree._Element]]:
        """Call `peer` (an XMPP mixer's full JID, or a bare JID) from `local` (a full JID of the component)
        for `room`: session-initiate with the given contents — to a bare JID after XEP-0353 (propose, and
        the proceed of one of its resources; the returned Call keeps the bare JID). The answer reaches the
        room through `answered`, a failure or the end through `hang_up`. Raises ValueError if that session
        exists."""
        if "/" not in peer:
            if (peer, sid) in self._proposed:
                raise ValueError(f"a proposal {sid!r} to {peer!r} exists")
            call = Call(peer, room.jid, sid, (), placed=True)
            self._proposed[(peer, sid)] = _Proposed(call, room, contents)
            self.outgoing.proposed(peer, local, sid, self.clock())
            media = tuple(
                d.get("media", "audio")
                for c in contents
                for d in c
                if isinstance(d.tag, str) and etree.QName(d).localname == "description"
            )
            log.info("proposing a call", room=room.jid, callee=peer, sid=sid)
            return call, [self._jmi(peer, local, Kind.PROPOSE, sid, media=media or ("audio",))]
        outgoing = self.sessions.initiate(local, peer, sid, contents)
        call = Call(peer, room.jid, sid, (), placed=True)
        self.participants[outgoing.session] = Participant(call, outgoing.session, room)
        log.info("call to mixer", room=room.jid, mixer=peer, sid=sid)
        return call, [self._send_jingle(outgoing)]

    def transport_info(self, call: Call, contents: list[etree._Element]) -> list[etree._Element]:
        """`transport-info` with the given `<content>` elements (XEP-0176 trickle: our candidates) on a live
        call, placed or received; nothing when the call is gone."""
        participant = self._participant(call)
        if participant is None or participant.session.state is SessionState.ENDED:
            return []
        return [self._send_jingle(self.sessions.send(participant.session, Action.TRANSPORT_INFO, contents))]

    def session_info(self, call: Call, payload: etree._Element) -> list[etree._Element]:
        """`session-info` with one payload (e.g. XEP-0167 `<hold/>`, `<active/>`) on a live call, placed or
        received; nothing when the call is gone."""
        participant = self._participant(call)
        if participant is None or participant.session.state is SessionState.ENDED:
            return []
        return [self._send_jingle(self.sessions.send(participant.session, Action.SESSION_INFO, [payload]))]

    def hang_up(self, call: Call, reason: str = "success") -> list[etree._Element]:
        """End any live call, placed or received: session-terminate (a proposal not yet answered: retract)."""
        return self.reject(call, reason)

    def reject(self, call: Call, reason: str = "decline", text: str | None = None) -> list[etree._Element]:
        """The room refuses a call (or ends it): session-terminate (a proposal not yet answered: retract)."""
        proposal = self.outgoing.answered(call.participant, call.sid)
        if proposal is not None:
            return self._proposal_over(proposal, "cancel", retract=True)
        participant = self._participant(call)
        if participant is None:
            return []
        return [self._send_jingle(self.sessions.terminate(participant.session, reason, text))]

    def room_changed(self, room: ConferenceRoom, *, full: bool = False) -> list[etree._Element]:
        """Coin IQs bringing every accepted participant of `room` to its current state (one document each:
        the caller coalesces bursts by calling this once per window)."""
        state = room.state()
        out: list[etree._Element] = []
        for participant in list(self.participants.values()):
            if (
                participant.room is room
                and participant.accepted
                and participant.focus
                and not participant.call.placed
            ):
                out.extend(self._coin_to(participant, state, full=full))
        return out

    def online(self) -> list[etree._Element]:
        """The component stream is (again) up: every accepted participant gets full state, next version."""
        out: list[etree._Element] = []
        for participant in list(self.participants.values()):
            if participant.accepted and participant.focus and not participant.call.placed:
                out.extend(self._coin_to(participant, participant.room.state(), full=True))
        return out

    def _coin_to(
        self, participant: Participant, state: ConferenceInfo, *, full: bool
    ) -> list[etree._Element]:
        try:
            document = participant.view.next_document(state, full=full)
        except VersionOverflowError:
            return self.reject(participant.call, "general-error", "conference version exhausted")
        if document is None:
            return []
        iq_id = self._new_id()
        self._pending[iq_id] = _Pending(participant.session, None)
        session = participant.session
        return [
            make("iq", to=session.peer, sender=session.local, type="set", id=iq_id,
                 children=coin.coin_iq_children(document, session.sid))
        ]  # fmt: skip

    def _participant(self, call: Call) -> Participant | None:
        peer = self._resolved.get((call.participant, call.sid), call.participant)
        session = self.sessions.get(peer, call.sid)
        return self.participants.get(session) if session is not None else None

    # -- answers to our IQs --------------------------------------------------------------------------------------

    def _answer_to_us(self, iq: etree._Element) -> list[etree._Element]:
        pending = self._pending.pop(iq.get("id", ""), None)
        if pending is None or pending.session.peer != attr(iq, "from"):
            return []  # not ours, or spoofed: never answer a result or an error
        session = pending.session
        if iq.get("type") == "result":
            if pending.action is not None:
                self.sessions.request_done(session, pending.action)
                participant = self.participants.get(session)
                if pending.action is Action.SESSION_ACCEPT and participant is not None:
                    participant.accepted = True
                    if not participant.focus:
                        return []
                    return self._coin_to(participant, participant.room.state(), full=True)
            return []  # a Coin IQ answered (Dino never answers: nothing depends on it)
        condition = error_condition(iq)
        if pending.action is None:
            log.info("coin iq refused", peer=session.peer, sid=session.sid, condition=condition)
            return []
        return self._apply(None, self.sessions.request_failed(session, pending.action, condition))

    def timed_out(self, iq_id: str) -> list[etree._Element]:
        """No answer came to one of our IQs in time (the asyncio layer's timer)."""
        pending = self._pending.pop(iq_id, None)
        if pending is None or pending.action is None:
            return []
        return self._apply(None, self.sessions.request_failed(pending.session, pending.action, "timeout"))

    def tick(self) -> list[etree._Element]:
        """Periodic housekeeping: forget stale XEP-0353 proposals; ours unanswered in time fail (retracted)."""
        now = self.clock()
        self.proposals.expire(now)
        out: list[etree._Element] = []
        for proposal in self.outgoing.expire(now):
            out.extend(self._proposal_over(proposal, "timeout", retract=True))
        return out

    def _proposal_over(
        self, proposal: OutgoingProposal, reason: str, *, retract: bool
    ) -> list[etree._Element]:
        """A call proposed to a bare JID ends before any session: retracted (unless the callee refused it);
        the room hears `hang_up` with the reason."""
        proposed = self._proposed.pop((proposal.callee, proposal.id), None)
        out = [self._jmi(proposal.callee, proposal.local, Kind.RETRACT, proposal.id)] if retract else []
        if proposed is not None:
            log.info("proposed call over", room=proposed.room.jid, callee=proposal.callee, sid=proposal.id,
                     reason=reason)  # fmt: skip
            proposed.room.hang_up(proposed.call, reason)
        return out

    def _answer_to_proposal(
        self, message: etree._Element, kind_: Kind, sender: str, proposal_id: str
    ) -> list[etree._Element] | None:
        """A callee's answer to a proposal of ours (None: not one)."""
        proposal = self.outgoing.get(bare(sender), proposal_id)
        if proposal is None or kind_ not in (Kind.PROCEED, Kind.REJECT, Kind.RINGING, Kind.ACCEPT):
            return None
        if kind_ in (Kind.RINGING, Kind.ACCEPT):  # ringing; accepted elsewhere (carbons): wait on
            return []
        self.outgoing.answered(proposal.callee, proposal.id)
        if kind_ is Kind.REJECT:
            return self._proposal_over(proposal, reason_of(message) or "decline", retract=False)
        if "/" not in sender:
            return self._proposal_over(proposal, "general-error", retract=True)
        proposed = self._proposed.pop((proposal.callee, proposal.id), None)
        if proposed is None:
            return []
        outgoing = self.sessions.initiate(proposal.local, sender, proposal.id, proposed.contents)
        self._resolved[(proposal.callee, proposal.id)] = sender
        self.participants[outgoing.session] = Participant(proposed.call, outgoing.session, proposed.room)
        log.info("call to callee", room=proposed.room.jid, callee=sender, sid=proposal.id)
        return [self._send_jingle(outgoing)]

    # -- Coin from a peer ---------------------------------------------------------------------------------------

    def _coin(self, iq: etree._Element, payload: list[etree._Element]) -> list[etree._Element]:
        sender = attr(iq, "from")
        sessions = [p for p in self.participants.values() if p.session.peer == sender]
        if not sessions:
            return [iq_error(iq, "forbidden", text="Coin is exchanged only within a Jingle session")]
        try:
            received = coin.parse_coin_iq(payload, self.parser)
        except DocumentError as exc:
            return [iq_error(iq, "bad-request", "modify", text=str(exc)[:500])]
        if received.sid is None:
            matching = sessions if len(sessions) == 1 else []
        else:
            matching = [p for p in sessions if p.session.sid == received.sid]
        if not matching:
            return [iq_error(iq, "item-not-found", text="no Jingle session with that sid")]
        participant = matching[0]
        try:
            participant.room.coin_received(participant.call, received.document)
        except NeedsFullStateError as exc:
            return [iq_error(iq, "unexpected-request", "modify", text=str(exc))]
        except MergeError as exc:
            return [iq_error(iq, "unexpected-request", "cancel", text=str(exc))]
        return [iq_result(iq)]

    # -- XEP-0353 -----------------------------------------------------------------------------------------------

    def _message(self, message: etree._Element) -> list[etree._Element]:
        initiation = parse_message([c for c in message if isinstance(c.tag, str)])
        if initiation is None or message.get("type") == "error":
            return []
        caller, callee = attr(message, "from"), attr(message, "to")
        answer = self._answer_to_proposal(message, initiation.kind, caller, initiation.id)
        if answer is not None:
            return answer
        room = self.rooms.find(bare(callee))
        if initiation.kind is Kind.PROPOSE:
            me = f"{bare(callee)}/{ROOM_RESOURCE}"
            if room is None:
                return [self._jmi(caller, me, Kind.REJECT, initiation.id, reason="gone")]
            self.proposals.proposed(caller, bare(callee), initiation, self.clock())
            return [
                self._jmi(caller, me, Kind.RINGING, initiation.id),
                self._jmi(caller, me, Kind.PROCEED, initiation.id),
            ]
        if initiation.kind is Kind.RETRACT:
            self.proposals.retracted(caller, initiation.id)
        elif initiation.kind is Kind.FINISH:
            session = self.sessions.get(caller, initiation.id)
            if session is not None:
                return self._apply(None, [self.sessions.terminate(session, "success")])
        return []

    def _jmi(
        self,
        to: str,
        sender: str,
        what: Kind,
        proposal_id: str,
        *,
        reason: str | None = None,
        media: tuple[str, ...] = (),
    ) -> etree._Element:
        return make(
            "message",
            to=to,
            sender=sender,
            type="chat",
            children=message_children(what, proposal_id, reason=reason, media=media),
        )


def _too_big(stanza: etree._Element) -> bool:
    count: object = stanza.xpath("count(.//*)")
    return isinstance(count, float) and count > MAX_STANZA_ELEMENTS
