"""XEP-0166 Jingle sessions, sans-IO.

`JingleSessions` holds every session of the component. Feed it parsed Jingle IQ-sets (`JingleRequest`, from
`parse_request`) and it returns what to do: acknowledge or refuse the IQ (`Ack`, `Refuse`) and what
happened (`Incoming`, `Received`, `Ended`). Ask it to act (`initiate`, `accept`, `info`, `terminate`) and it
returns the IQ to send (`Outgoing`); tell it when such an IQ failed (`request_failed`). It never touches a
socket or a clock: the adapter does the I/O and the timeouts.

The rules (XEP-0166 section 6 state machine and section 8 errors):

    state     peer is    the peer may send
    PENDING   initiator  every content-/transport-/description-/security-/session-info action, session-terminate
    PENDING   responder  the same, and session-accept (-> ACTIVE)
    ACTIVE    either     every content-/transport-/description-/security-/session-info action, session-terminate
    (any)     either     session-terminate -> ENDED (the session is forgotten)

    session-initiate for a new sid             -> ack, Incoming (we are the responder)
    session-initiate for a live sid            -> out-of-order, unless it is a simultaneous initiation:
                                                  tie-break per section 7.2.16 (lower sid, then lower JID, wins)
    any action for an unknown or ended session -> item-not-found + unknown-session
    an action the table does not allow         -> unexpected-request + out-of-order
    the same action we are awaiting a reply to -> conflict + tie-break if we are the initiator (7.2.16),
                                                  except transport-info and session-info (they add to the
                                                  session, nothing to tie-break: trickle goes both ways)
    session-info with a payload we do not know -> feature-not-implemented + unsupported-info
    malformed (no sid, no or unknown action)   -> bad-request (from `parse_request`)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

from xmpp.namespaces import JINGLE
from xmpp.xml import element

_JINGLE_TAG = "{" + JINGLE + "}jingle"


class Action(StrEnum):
    CONTENT_ACCEPT = "content-accept"
    CONTENT_ADD = "content-add"
    CONTENT_MODIFY = "content-modify"
    CONTENT_REJECT = "content-reject"
    CONTENT_REMOVE = "content-remove"
    DESCRIPTION_INFO = "description-info"
    SECURITY_INFO = "security-info"
    SESSION_ACCEPT = "session-accept"
    SESSION_INFO = "session-info"
    SESSION_INITIATE = "session-initiate"
    SESSION_TERMINATE = "session-terminate"
    TRANSPORT_ACCEPT = "transport-accept"
    TRANSPORT_INFO = "transport-info"
    TRANSPORT_REJECT = "transport-reject"
    TRANSPORT_REPLACE = "transport-replace"


class SessionState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    ENDED = "ended"


class Role(StrEnum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


_NEGOTIATION = frozenset(Action) - {Action.SESSION_INITIATE, Action.SESSION_ACCEPT, Action.SESSION_TERMINATE}
# (our state, the peer's role) -> what the peer may send.
PEER_MAY_SEND: dict[tuple[SessionState, Role], frozenset[Action]] = {
    (SessionState.PENDING, Role.INITIATOR): _NEGOTIATION | {Action.SESSION_TERMINATE},
    (SessionState.PENDING, Role.RESPONDER): _NEGOTIATION | {Action.SESSION_ACCEPT, Action.SESSION_TERMINATE},
    (SessionState.ACTIVE, Role.INITIATOR): _NEGOTIATION | {Action.SESSION_TERMINATE},
    (SessionState.ACTIVE, Role.RESPONDER): _NEGOTIATION | {Action.SESSION_TERMINATE},
}
_ADDITIVE = frozenset({Action.TRANSPORT_INFO, Action.SESSION_INFO})  # never in a tie-break
TERMINATE_REASONS = frozenset(
    ("alternative-session", "busy", "cancel", "connectivity-error", "decline", "expired",
     "failed-application", "failed-transport", "general-error", "gone", "incompatible-parameters",
     "media-error", "security-error", "success", "timeout", "unsupported-applications",
     "unsupported-transports")
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class JingleRequest:
    """A Jingle IQ-set received from `sender` (a full JID) addressed to `recipient`."""

    sender: str
    recipient: str
    iq_id: str
    action: Action
    sid: str
    jingle: etree._Element


@dataclass(eq=False)
class JingleSession:
    """One session. `local` is our JID in it, `peer` the other party's full JID."""

    sid: str
    local: str
    peer: str
    role: Role  # our role
    state: SessionState = SessionState.PENDING
    awaiting: set[Action] = field(default_factory=set)  # our requests without a reply yet

    @property
    def peer_role(self) -> Role:
        return Role.RESPONDER if self.role is Role.INITIATOR else Role.INITIATOR


# -- what the state machine returns --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """Send an empty IQ result."""

    to: str
    iq_id: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """Send an IQ error: `condition` from RFC 6120 section 8.3.3, plus a Jingle-specific condition."""

    to: str
    iq_id: str
    condition: str
    jingle_condition: str | None = None
    error_type: str = "cancel"
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Send this IQ-set (a `<jingle>` element) to the peer and report an error reply to `request_failed`."""

    session: JingleSession
    action: Action
    jingle: etree._Element


@dataclass(frozen=True, slots=True)
class Incoming:
    """A peer initiated a session with us: answer with `accept` or `terminate`."""

    session: JingleSession
    request: JingleRequest


@dataclass(frozen=True, slots=True)
class Received:
    """A peer sent an action on a live session (already acknowledged)."""

    session: JingleSession
    request: JingleRequest


@dataclass(frozen=True, slots=True)
class Ended:
    """A session ended: by the peer's session-terminate, a failed request, or a lost tie-break."""

    session: JingleSession
    reason: str
    text: str | None = None


Output = Ack | Refuse | Outgoing | Incoming | Received | Ended


# -- parsing -------------------------------------------------------------------------------------------


def parse_request(sender: str, recipient: str, iq_id: str, jingle: etree._Element) -> JingleRequest | Refuse:
    """Check the `<jingle>` element of an IQ-set; malformed ones get `bad-request`."""
    if jingle.tag != _JINGLE_TAG:
        return Refuse(sender, iq_id, "bad-request", text="not a urn:xmpp:jingle:1 element")
    sid = jingle.get("sid")
    if not sid:
        return Refuse(sender, iq_id, "bad-request", text="the jingle element has no sid")
    if len(sid) > 256:
        return Refuse(sender, iq_id, "bad-request", text="the sid is longer than 256 characters")
    try:
        action = Action(jingle.get("action", ""))
    except ValueError:
        return Refuse(sender, iq_id, "bad-request", text="unknown or missing jingle action")
    return JingleRequest(sender, recipient, iq_id, action, sid, jingle)


def jingle_element(
    action: Action,
    sid: str,
    children: Iterable[etree._Element] = (),
    *,
    initiator: str | None = None,
    responder: str | None = None,
) -> etree._Element:
    """`<jingle xmlns='urn:xmpp:jingle:1' action sid [initiator] [responder]>children</jingle>`."""
    el = element(JINGLE, "jingle")
    el.set("action", action.value)
    if initiator is not None:
        el.set("initiator", initiator)
    if responder is not None:
        el.set("responder", responder)
    el.set("sid", sid)
    for child in children:
        el.append(child)
    return el


def reason_element(condition: str, text: str | None = None) -> etree._Element:
    """`<reason><condition/><text/></reason>` (XEP-0166 section 7.4)."""
    if condition not in TERMINATE_REASONS:
        raise ValueError(f"{condition!r} is not a Jingle reason")
    reason = element(JINGLE, "reason")
    etree.SubElement(reason, "{" + JINGLE + "}" + condition)
    if text:
        etree.SubElement(reason, "{" + JINGLE + "}text").text = text
    return reason


def parse_reason(jingle: etree._Element) -> tuple[str, str | None]:
    """The reason condition and text of a `<jingle>` element (`success` when it gives none)."""
    reason = jingle.find("{" + JINGLE + "}reason")
    if reason is None:
        return "success", None
    condition, text = "general-error", None
    for child in reason:
        local = etree.QName(child).localname
        if local == "text":
            text = child.text
        elif local in TERMINATE_REASONS:
            condition = local
    return condition, text


# -- the state machine ---------------------------------------------------------------------------------


class JingleSessions:
    """Every Jingle session of one component, keyed by the peer's full JID and the sid.

    `info_payloads` are the namespaces of session-info payloads the application understands (RTP info,
    Coin); session-info with another payload is refused with unsupported-info.
    """

    def __init__(self, info_payloads: Iterable[str] = ()) -> None:
        self.info_payloads = frozenset(info_payloads)
        self._sessions: dict[tuple[str, str], JingleSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, peer: str, sid: str) -> JingleSession | None:
        return self._sessions.get((peer, sid))

    def sessions(self) -> list[JingleSession]:
        return list(self._sessions.values())

    def receive(self, request: JingleRequest) -> list[Output]:
        """What to do about a Jingle IQ-set from a peer."""
        session = self._sessions.get((request.sender, request.sid))
        if request.action is Action.SESSION_INITIATE:
            return self._initiated_by_peer(request, session)
        if session is None or session.state is SessionState.ENDED:
            return [_refuse(request, "item-not-found", "unknown-session")]
        if request.action not in PEER_MAY_SEND[(session.state, session.peer_role)]:
            return [_refuse(request, "unexpected-request", "out-of-order")]
        if (
            request.action in session.awaiting
            and session.role is Role.INITIATOR
            and request.action not in _ADDITIVE
        ):
            return [_refuse(request, "conflict", "tie-break")]
        if request.action is Action.SESSION_INFO and not self._understood(request.jingle):
            return [_refuse(request, "feature-not-implemented", "unsupported-info", error_type="modify")]
        ack = Ack(request.sender, request.iq_id)
        if request.action is Action.SESSION_TERMINATE:
            reason, text = parse_reason(request.jingle)
            self._forget(session)
            return [ack, Ended(session, reason, text)]
        if request.action is Action.SESSION_ACCEPT:
            session.state = SessionState.ACTIVE
        return [ack, Received(session, request)]

    def _initiated_by_peer(self, request: JingleRequest, existing: JingleSession | None) -> list[Output]:
        outputs: list[Output] = []
        if existing is not None:
            if existing.role is Role.RESPONDER or existing.state is not SessionState.PENDING:
                return [_refuse(request, "unexpected-request", "out-of-order")]
            # Both sides initiated with the same sid: the lower JID's action wins.
            if existing.local < request.sender:
                return [_refuse(request, "conflict", "tie-break")]
            self._forget(existing)
            outputs.append(Ended(existing, "alternative-session", "lost a tie-break"))
        else:
            ours = self._pending_initiation_to(request.sender, request.recipient)
            if ours is not None:
                # Simultaneous initiations with different sids: the lower sid wins (i;octet).
                if ours.sid.encode() < request.sid.encode():
                    return [_refuse(request, "conflict", "tie-break")]
                self._forget(ours)
                outputs.append(Ended(ours, "alternative-session", "lost a tie-break"))
        session = JingleSession(request.sid, request.recipient, request.sender, Role.RESPONDER)
        self._sessions[(session.peer, session.sid)] = session
        return [Ack(request.sender, request.iq_id), *outputs, Incoming(session, request)]

    def _pending_initiation_to(self, peer: str, local: str) -> JingleSession | None:
        for session in self._sessions.values():
            if (
                session.peer == peer
                and session.local == local
                and session.role is Role.INITIATOR
                and session.state is SessionState.PENDING
                and Action.SESSION_INITIATE in session.awaiting
            ):
                return session
        return None

    def _understood(self, jingle: etree._Element) -> bool:
        payloads = [child for child in jingle if isinstance(child.tag, str)]
        return all(etree.QName(child).namespace in self.info_payloads for child in payloads)

    def _forget(self, session: JingleSession) -> None:
        session.state = SessionState.ENDED
        session.awaiting.clear()
        self._sessions.pop((session.peer, session.sid), None)

    # -- our actions -------------------------------------------------------------------------------------

    def initiate(self, local: str, peer: str, sid: str, children: Iterable[etree._Element]) -> Outgoing:
        """Start a session as the initiator."""
        if (peer, sid) in self._sessions:
            raise ValueError(f"session {sid!r} with {peer} exists")
        session = JingleSession(sid, local, peer, Role.INITIATOR)
        self._sessions[(peer, sid)] = session
        return self._send(session, Action.SESSION_INITIATE, children, initiator=local)

    def accept(self, session: JingleSession, children: Iterable[etree._Element]) -> Outgoing:
        """Accept a session a peer initiated (PENDING -> ACTIVE)."""
        if session.role is not Role.RESPONDER or session.state is not SessionState.PENDING:
            raise ValueError(f"session {session.sid!r} cannot be accepted in state {session.state}")
        session.state = SessionState.ACTIVE
        return self._send(session, Action.SESSION_ACCEPT, children, responder=session.local)

    def send(self, session: JingleSession, action: Action, children: Iterable[etree._Element]) -> Outgoing:
        """Any other action on a live session (session-info, transport-info, content-*)."""
        if session.state is SessionState.ENDED or action in (
            Action.SESSION_INITIATE,
            Action.SESSION_ACCEPT,
            Action.SESSION_TERMINATE,
        ):
            raise ValueError(f"cannot send {action} on session {session.sid!r} ({session.state})")
        return self._send(session, action, children)

    def terminate(self, session: JingleSession, reason: str = "success", text: str | None = None) -> Outgoing:
        """End a session (it is forgotten at once; the peer's reply does not matter)."""
        outgoing = self._send(session, Action.SESSION_TERMINATE, [reason_element(reason, text)])
        self._forget(session)
        return outgoing

    def request_done(self, session: JingleSession, action: Action) -> None:
        """Our request got its result."""
        session.awaiting.discard(action)

    def request_failed(self, session: JingleSession, action: Action, condition: str) -> list[Output]:
        """Our request got an error (or no answer): a failed initiate or accept, or an unknown-session
        answer, ends the session; other failures leave it as it is."""
        session.awaiting.discard(action)
        if session.state is SessionState.ENDED:
            return []
        if action in (Action.SESSION_INITIATE, Action.SESSION_ACCEPT) or condition == "item-not-found":
            self._forget(session)
            return [
                Ended(session, "connectivity-error" if condition == "timeout" else "general-error", condition)
            ]
        return []

    def _send(
        self,
        session: JingleSession,
        action: Action,
        children: Iterable[etree._Element],
        *,
        initiator: str | None = None,
        responder: str | None = None,
    ) -> Outgoing:
        session.awaiting.add(action)
        element = jingle_element(action, session.sid, children, initiator=initiator, responder=responder)
        return Outgoing(session, action, element)


def _refuse(
    request: JingleRequest, condition: str, jingle_condition: str, *, error_type: str = "cancel"
) -> Refuse:
    return Refuse(request.sender, request.iq_id, condition, jingle_condition, error_type)
