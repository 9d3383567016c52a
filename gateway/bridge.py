"""The bridge between the two sides, sans-IO: which call leads to which, and where each room's state goes.

`Bridge` takes what the adapters report (a call arrived, a leg was answered or ended, the upstream's state
changed or was lost) and returns what the adapters must do (`Action`s). It owns the rooms (`gateway.room`)
and each room's calls; it never touches a socket, a clock or an adapter. The daemon wires it up.

Two kinds of room:

    SIP-focus room (`sip_focus`: a SIP conference bridge), joined by XMPP clients:
      XMPP call to the room         -> PlaceSipCall to the focus, on behalf of the caller (its SIP form)
      that leg answered             -> AcceptXmppCall (the bridge's answer); the room's first answered leg
                                       -> Subscribe to the conference URI (the focus's isfocus Contact,
                                       else the configured focus), once per room
      that leg refused or failed    -> RejectXmppCall
      the XMPP caller hangs up      -> HangUpSip; the last one out -> Unsubscribe
      the focus ends the leg (BYE)  -> EndXmppCall
    XMPP-focus room (`xmpp_focus`: an XMPP mixer), joined by SIP phones:
      SIP call to the room          -> PlaceXmppCall to the mixer, on behalf of the caller (its XMPP form)
      the mixer accepts             -> AnswerSipCall, with `Contact: <room URI>;isfocus` (RFC 4579)
      the mixer refuses or fails    -> RejectSipCall (an RFC 7247 status)
      Coin from a mixer session     -> merged per session; the room follows one session (the source),
                                       and another takes over when the source ends
      the phone hangs up (BYE)      -> EndXmppCall; the mixer ends the session -> EndSipCall

Every change of what a room shows -> RoomChanged (both adapters bring their recipients up to date; each
coalesces within its window). A lost upstream -> the room shows `active=false` (RoomChanged); the SIP
subscriber retries by itself. `shutdown()` -> RoomEnded for every room and the end of every call.

Ad-hoc rooms: beyond the configured rooms, a call to any address of the gateway that maps to the other
protocol works (`xmpp_room_for`, `sip_room_for` name the room; `xmpp_call`/`sip_call` create it). A call
to `alice\\40example.net@<component>` forms the SIP-focus room `~sip:alice@example.net` (one per callee,
shared by its XMPP callers); a call to `sip:romeo%40montague.lit@<sip domain>` the XMPP-focus room
`~xmpp:romeo@montague.lit`. A conference forms only when the far side turns out to be a focus: the SIP
callee's answer (or a later re-INVITE, `sip_focus_changed`) carries isfocus -> Subscribe (its loss ->
Unsubscribe); the XMPP callee's session-accept carries Coin isfocus -> the 200's Contact carries isfocus.
An ad-hoc room ends (RoomEnded, and Unsubscribe when subscribed) when its last call ends.

Who may subscribe to a room (`admits`): `participants` (default: a SIP address with a live call in the room),
`domains` (participants, and any address of the listed domains), or `anyone`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote

from gateway.addresses import AddressError, AddressMap
from gateway.conference_info import ConferenceInfo
from gateway.errors import MergeError, StaleDocumentError
from gateway.merge import merge
from gateway.room import Room, RoomAddress
from gateway.sdp import SessionDescription
from gateway.translate import AddressForms, Protocol


class FocusKind(StrEnum):
    SIP = "sip"  # the room is a SIP conference bridge's; XMPP clients join it
    XMPP = "xmpp"  # the room is an XMPP mixer's; SIP phones join it


class SubscribePolicy(StrEnum):
    PARTICIPANTS = "participants"
    DOMAINS = "domains"
    ANYONE = "anyone"


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """A configured room: its name and where its conference lives."""

    name: str
    kind: FocusKind
    focus: str  # a sip:/sips: URI (SIP focus) or a JID (XMPP mixer)
    adhoc: bool = False  # formed by a call to a mapped address, gone with its last call


ADHOC_PREFIX = "~"  # ad-hoc room names: "~" + the callee's address (configured names cannot start so)


# -- actions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceSipCall:
    leg: str  # the bridge's id of this call, shared with the XMPP call it serves
    room: str
    target: str  # the focus's URI
    caller: str  # the caller's address in SIP form (From)
    offer: SessionDescription


@dataclass(frozen=True, slots=True)
class HangUpSip:
    leg: str


@dataclass(frozen=True, slots=True)
class AnswerSipCall:
    leg: str
    answer: SessionDescription
    focus_contact: str | None  # the room's URI, to be sent as `Contact: <uri>;isfocus`; None: a plain call


@dataclass(frozen=True, slots=True)
class RejectSipCall:
    leg: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class EndSipCall:
    leg: str


@dataclass(frozen=True, slots=True)
class PlaceXmppCall:
    leg: str
    room: str
    mixer: str  # the mixer's JID
    caller: str  # the caller's address in XMPP form (bare JID, no scheme)
    offer: SessionDescription


@dataclass(frozen=True, slots=True)
class AcceptXmppCall:
    leg: str
    answer: SessionDescription
    focus: bool = True  # the session-accept says isfocus (Coin follows); False: a 1:1 call


@dataclass(frozen=True, slots=True)
class FocusXmppCall:
    """The SIP side of a call became a conference (True) or stopped being one: session-info isfocus."""

    leg: str
    focus: bool


@dataclass(frozen=True, slots=True)
class RejectXmppCall:
    leg: str
    reason: str  # a Jingle reason (XEP-0166 section 7.4)


@dataclass(frozen=True, slots=True)
class EndXmppCall:
    leg: str
    reason: str = "success"


@dataclass(frozen=True, slots=True)
class Subscribe:
    room: str
    conference: str  # the conference URI to subscribe to


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    room: str


@dataclass(frozen=True, slots=True)
class RoomChanged:
    room: str


@dataclass(frozen=True, slots=True)
class RoomEnded:
    room: str


Action = (
    PlaceSipCall | HangUpSip | AnswerSipCall | RejectSipCall | EndSipCall | PlaceXmppCall | AcceptXmppCall
    | FocusXmppCall | RejectXmppCall | EndXmppCall | Subscribe | Unsubscribe | RoomChanged | RoomEnded
)  # fmt: skip


class BridgeError(ValueError):
    """A request the bridge cannot serve (no such room, a caller that cannot be mapped)."""


# -- RFC 7247 section 7 (error mapping) -------------------------------------------------------------------------

_SIP_TO_JINGLE = {
    403: "security-error", 404: "gone", 408: "timeout", 410: "gone", 480: "connectivity-error",
    486: "busy", 487: "cancel", 488: "unsupported-applications", 600: "busy", 603: "decline",
    606: "unsupported-applications",
}  # fmt: skip
_JINGLE_TO_SIP = {
    "busy": (486, "Busy Here"), "decline": (603, "Decline"), "cancel": (487, "Request Terminated"),
    "gone": (410, "Gone"), "timeout": (408, "Request Timeout"),
    "unsupported-applications": (488, "Not Acceptable Here"),
    "unsupported-transports": (488, "Not Acceptable Here"), "incompatible-parameters": (488, "Not Acceptable Here"),
    "connectivity-error": (480, "Temporarily Unavailable"), "security-error": (403, "Forbidden"),
}  # fmt: skip


def jingle_reason_for(status: int) -> str:
    """The Jingle reason for a SIP final failure (RFC 7247 section 7)."""
    if status in _SIP_TO_JINGLE:
        return _SIP_TO_JINGLE[status]
    return "general-error" if status >= 500 else "failed-application"


def sip_status_for(reason: str) -> tuple[int, str]:
    """The SIP status for a Jingle reason (RFC 7247 section 7)."""
    return _JINGLE_TO_SIP.get(reason, (500, "Server Internal Error"))


# -- state -----------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Call:
    leg: str
    room: str
    caller: str  # the caller's own address, in its own protocol (schemed URI)
    sip_form: str
    answered: bool = False
    focus: str | None = None  # a SIP leg we placed: the conference URI while its peer says isfocus


@dataclass(eq=False)
class _RoomEntry:
    spec: RoomSpec
    room: Room
    calls: dict[str, _Call] = field(default_factory=dict)
    subscribed: bool = False
    mixer_states: dict[str, ConferenceInfo] = field(default_factory=dict)  # per XMPP-focus session
    source: str | None = None  # the session the room follows


class Bridge:
    """Every room of the gateway and every call through it. Each method returns the actions to take."""

    def __init__(
        self,
        rooms: Iterable[RoomSpec],
        addresses: AddressMap,
        *,
        policy: SubscribePolicy = SubscribePolicy.PARTICIPANTS,
        allowed_domains: Iterable[str] = (),
    ) -> None:
        self.addresses = addresses
        self.forms = AddressForms(addresses)
        self.policy = policy
        self.allowed_domains = frozenset(d.lower() for d in allowed_domains)
        self._rooms: dict[str, _RoomEntry] = {}
        self._calls: dict[str, _RoomEntry] = {}
        self._ids = itertools.count(1)
        for spec in rooms:
            address = RoomAddress(
                xmpp=f"xmpp:{spec.name}@{addresses.component_domain}",
                sip=f"sip:{spec.name}@{addresses.sip_domain}",
            )
            self._add_room(spec, address)

    def _add_room(self, spec: RoomSpec, address: RoomAddress) -> _RoomEntry:
        upstream = Protocol.SIP if spec.kind is FocusKind.SIP else Protocol.XMPP
        entry = self._rooms[spec.name] = _RoomEntry(spec, Room(spec.name, address, upstream, self.forms))
        return entry

    # -- look-ups -----------------------------------------------------------------------------------------

    def room(self, name: str) -> Room | None:
        entry = self._rooms.get(name)
        return entry.room if entry is not None else None

    def room_names(self) -> list[str]:
        return list(self._rooms)

    def spec(self, name: str) -> RoomSpec | None:
        entry = self._rooms.get(name)
        return entry.spec if entry is not None else None

    def calls(self, room: str) -> list[str]:
        entry = self._rooms.get(room)
        return list(entry.calls) if entry is not None else []

    def address(self, name: str) -> RoomAddress | None:
        entry = self._rooms.get(name)
        return entry.room.address if entry is not None else None

    def xmpp_room_for(self, jid: str) -> str:
        """The room a call to `jid` (a bare JID of the component) joins: a configured room's name, else the
        ad-hoc SIP-focus room of the SIP address it maps to (named, not created). Raises BridgeError when it
        maps to no SIP user (an XMPP user's or the gateway's own SIP form lives on our SIP domain)."""
        local, _, domain = jid.removeprefix("xmpp:").partition("@")
        if domain and domain.lower() == self.addresses.component_domain and local in self._configured():
            return local
        try:
            _xmpp_form, sip_form = self.forms.forms("xmpp:" + jid.removeprefix("xmpp:"))
        except AddressError as exc:
            raise BridgeError(f"{jid[:200]!r} cannot be mapped: {exc}") from None
        if _host(sip_form) == self.addresses.sip_domain.lower() or not sip_form.startswith("sip:"):
            raise BridgeError(f"{jid[:200]!r} is no SIP user ({sip_form[:200]})")
        return ADHOC_PREFIX + _without_gr(sip_form)

    def sip_room_for(self, user: str) -> str:
        """The room a call to `sip:<user>@<our SIP domain>` joins (`user` decoded, as a URI parser gives it):
        a configured room's name, else the ad-hoc XMPP-focus room of the XMPP address it maps to (named, not
        created). Raises BridgeError when it maps to no XMPP user."""
        if user in self._configured():
            return user
        uri = f"sip:{quote(user, safe=_USER_SAFE)}@{self.addresses.sip_domain}"
        try:
            xmpp_form, _sip_form = self.forms.forms(uri)
        except AddressError as exc:
            raise BridgeError(f"{uri[:200]!r} cannot be mapped: {exc}") from None
        if _host(xmpp_form) == self.addresses.component_domain.lower():
            raise BridgeError(f"{uri[:200]!r} is no XMPP user ({xmpp_form[:200]})")
        return ADHOC_PREFIX + xmpp_form

    def _configured(self) -> list[str]:
        return [name for name, entry in self._rooms.items() if not entry.spec.adhoc]

    def _adhoc(self, room: str, kind: FocusKind) -> _RoomEntry:
        """The ad-hoc room `room` (a name from xmpp_room_for / sip_room_for), created on its first call."""
        entry = self._rooms.get(room)
        if entry is not None or not room.startswith(ADHOC_PREFIX):
            return self._entry(room, kind)
        target = room.removeprefix(ADHOC_PREFIX)
        want = "sip:" if kind is FocusKind.SIP else "xmpp:"
        if not target.startswith(want):
            raise BridgeError(f"room {room!r} is joined from the other protocol")
        xmpp_form, sip_form = self._forms(target)
        focus = _without_gr(sip_form) if kind is FocusKind.SIP else xmpp_form.removeprefix("xmpp:")
        return self._add_room(RoomSpec(room, kind, focus, adhoc=True), RoomAddress(xmpp_form, sip_form))

    def kind_of(self, name: str) -> FocusKind | None:
        """The kind of a room, or of an ad-hoc room named by xmpp_room_for / sip_room_for but not yet formed."""
        entry = self._rooms.get(name)
        if entry is not None:
            return entry.spec.kind
        if name.startswith(ADHOC_PREFIX + "sip:"):
            return FocusKind.SIP
        if name.startswith(ADHOC_PREFIX + "xmpp:"):
            return FocusKind.XMPP
        return None

    def room_of(self, leg: str) -> str | None:
        """The room a call is in (for logs)."""
        entry = self._calls.get(leg)
        return entry.spec.name if entry is not None else None

    def new_leg(self) -> str:
        return f"leg{next(self._ids)}"

    def admits(self, room: str, subscriber: str) -> bool:
        """Whether `subscriber` (a sip:/sips: URI, the SUBSCRIBE's From) may watch `room`."""
        entry = self._rooms.get(room)
        if entry is None:
            return False
        if self.policy is SubscribePolicy.ANYONE:
            return True
        try:
            _xmpp, sip_form = self.forms.forms(subscriber)
        except AddressError:
            return False
        if any(call.sip_form == sip_form for call in entry.calls.values()):
            return True
        if self.policy is SubscribePolicy.DOMAINS:
            host = sip_form.rsplit("@", 1)[-1].split(";", 1)[0].split(":", 1)[0].lower()
            return host in self.allowed_domains
        return False

    # -- XMPP clients join SIP-focus rooms ------------------------------------------------------------------

    def xmpp_call(self, room: str, leg: str, caller: str, offer: SessionDescription) -> list[Action]:
        """An XMPP client (`caller`, a JID) calls `room`. Raises BridgeError when the room is not a SIP-focus
        room or the caller cannot be shown on SIP."""
        xmpp_form, sip_form = self._forms("xmpp:" + caller.removeprefix("xmpp:"))
        entry = self._adhoc(room, FocusKind.SIP)
        entry.calls[leg] = _Call(leg, room, xmpp_form, _without_gr(sip_form))
        self._calls[leg] = entry
        return [PlaceSipCall(leg, room, entry.spec.focus, sip_form, offer)]

    def sip_leg_answered(
        self, leg: str, answer: SessionDescription, focus_contact: str | None = None
    ) -> list[Action]:
        """The focus answered a leg we placed; `focus_contact` is its Contact URI when it carries isfocus.
        An ad-hoc room subscribes only to a focus: a 1:1 call is not a conference."""
        entry = self._calls.get(leg)
        if entry is None:
            return [HangUpSip(leg)]  # the caller left meanwhile
        call = entry.calls[leg]
        call.answered = True
        call.focus = focus_contact
        focus = focus_contact is not None or not entry.spec.adhoc
        actions: list[Action] = [AcceptXmppCall(leg, answer, focus)]
        if not entry.subscribed and focus:
            entry.subscribed = True
            actions.append(Subscribe(entry.spec.name, focus_contact or entry.spec.focus))
        return actions

    def sip_focus_changed(self, leg: str, conference: str | None) -> list[Action]:
        """A SIP leg we placed became a conference (its peer's Contact gained isfocus in a re-INVITE:
        `conference` is the conference URI) or stopped being one (None). A room not subscribed subscribes;
        an ad-hoc room none of whose calls is a conference any more unsubscribes (its state shown lost)."""
        entry = self._calls.get(leg)
        if entry is None or entry.spec.kind is not FocusKind.SIP:
            return []
        call = entry.calls[leg]
        actions: list[Action] = []
        if entry.spec.adhoc and call.answered and (call.focus is None) != (conference is None):
            actions.append(FocusXmppCall(leg, conference is not None))
        call.focus = conference
        if conference is not None and not entry.subscribed:
            entry.subscribed = True
            return [*actions, Subscribe(entry.spec.name, conference)]
        still = any(call.focus is not None for call in entry.calls.values())
        if conference is None and entry.spec.adhoc and entry.subscribed and not still:
            entry.subscribed = False
            return [*actions, Unsubscribe(entry.spec.name), *self.upstream_lost(entry.spec.name)]
        return actions

    def sip_leg_failed(self, leg: str, status: int) -> list[Action]:
        """A leg we placed was refused (3xx-6xx) or could not be placed (408, 503)."""
        entry = self._calls.get(leg)
        if entry is None:
            return []
        call = self._drop(leg)
        actions: list[Action] = []
        if call is not None:
            actions.append(RejectXmppCall(leg, jingle_reason_for(status)))
        return actions + self._maybe_unsubscribe(entry) + self._maybe_end(entry)

    def xmpp_call_ended(self, leg: str) -> list[Action]:
        """The XMPP caller hung up (session-terminate, or its session failed)."""
        entry = self._calls.get(leg)
        if entry is None:
            return []
        self._drop(leg)
        if entry.spec.kind is FocusKind.SIP:
            return [HangUpSip(leg), *self._maybe_unsubscribe(entry), *self._maybe_end(entry)]
        return [EndSipCall(leg), *self._mixer_session_gone(entry, leg), *self._maybe_end(entry)]

    def sip_leg_ended(self, leg: str) -> list[Action]:
        """The SIP side ended a call (the focus's BYE on a leg we placed, or a phone's BYE)."""
        entry = self._calls.get(leg)
        if entry is None:
            return []
        self._drop(leg)
        if entry.spec.kind is FocusKind.SIP:
            return [EndXmppCall(leg), *self._maybe_unsubscribe(entry), *self._maybe_end(entry)]
        return [EndXmppCall(leg), *self._mixer_session_gone(entry, leg), *self._maybe_end(entry)]

    def upstream_state(self, room: str, state: ConferenceInfo) -> list[Action]:
        """The room's SIP subscription merged new state."""
        entry = self._rooms.get(room)
        if entry is None or not entry.room.upstream_state(state):
            return []
        return [RoomChanged(room)]

    def upstream_lost(self, room: str) -> list[Action]:
        """The room's upstream is gone for now (subscription interrupted or stopped, mixer gone)."""
        entry = self._rooms.get(room)
        if entry is None or not entry.room.upstream_lost():
            return []
        return [RoomChanged(room)]

    def upstream_stopped(self, room: str) -> list[Action]:
        """The room's subscription ended for good (rejected, noresource, ...): shown as lost; a new call to
        the room subscribes again."""
        entry = self._rooms.get(room)
        if entry is None:
            return []
        entry.subscribed = False
        return self.upstream_lost(room)

    # -- SIP phones join XMPP-focus rooms -------------------------------------------------------------------

    def sip_call(self, room: str, leg: str, caller: str, offer: SessionDescription) -> list[Action]:
        """A SIP phone (`caller`, its From URI) calls `room`. Raises BridgeError when the room is not an
        XMPP-focus room or the caller cannot be shown on XMPP."""
        xmpp_form, sip_form = self._forms(caller)
        entry = self._adhoc(room, FocusKind.XMPP)
        entry.calls[leg] = _Call(leg, room, caller, _without_gr(sip_form))
        self._calls[leg] = entry
        return [PlaceXmppCall(leg, room, entry.spec.focus, xmpp_form.removeprefix("xmpp:"), offer)]

    def xmpp_leg_accepted(
        self, leg: str, answer: SessionDescription, isfocus: bool | None = None
    ) -> list[Action]:
        """The mixer accepted a session we placed; `isfocus`: its session-accept's Coin flag (None: absent).
        A configured room's mixer is a focus; an ad-hoc room's callee is one only when it says so."""
        entry = self._calls.get(leg)
        if entry is None:
            return [EndXmppCall(leg)]
        entry.calls[leg].answered = True
        if entry.source is None:
            entry.source = leg
        focus = not entry.spec.adhoc or bool(isfocus)
        return [AnswerSipCall(leg, answer, entry.room.address.sip if focus else None)]

    def xmpp_leg_failed(self, leg: str, reason: str) -> list[Action]:
        """The mixer refused a session we placed, or it could not be placed."""
        entry = self._calls.get(leg)
        if entry is None:
            return []
        self._drop(leg)
        status, phrase = sip_status_for(reason)
        return [
            RejectSipCall(leg, status, phrase),
            *self._mixer_session_gone(entry, leg),
            *self._maybe_end(entry),
        ]

    def mixer_coin(self, leg: str, document: ConferenceInfo) -> list[Action]:
        """Coin from the mixer on one of our sessions. Raises MergeError (NeedsFullStateError included) for
        the adapter to answer with a stanza error; a stale document is ignored."""
        entry = self._calls.get(leg)
        if entry is None or entry.spec.kind is not FocusKind.XMPP:
            raise MergeError("Coin on a call that is not a session with a mixer")
        held = entry.mixer_states.get(leg)
        try:
            state = merge(held, document)
        except StaleDocumentError:
            return []
        entry.mixer_states[leg] = state
        if entry.source is None:
            entry.source = leg
        if entry.source != leg:
            return []
        return self.upstream_state(entry.spec.name, state)

    def _mixer_session_gone(self, entry: _RoomEntry, leg: str) -> list[Action]:
        entry.mixer_states.pop(leg, None)
        if entry.source != leg:
            return []
        entry.source = next(iter(entry.mixer_states), None)
        if entry.source is not None:  # another session takes over
            return self.upstream_state(entry.spec.name, entry.mixer_states[entry.source])
        return self.upstream_lost(entry.spec.name)

    # -- the end ---------------------------------------------------------------------------------------------

    def shutdown(self) -> list[Action]:
        """The daemon stops: every room ends (its subscribers get terminated;reason=noresource), every call
        ends on both sides."""
        actions: list[Action] = []
        for name, entry in list(self._rooms.items()):
            actions.append(RoomEnded(name))
            for leg in list(entry.calls):
                actions += [EndXmppCall(leg, "gone"), EndSipCall(leg)]
                self._drop(leg)
            if entry.subscribed:
                entry.subscribed = False
                actions.append(Unsubscribe(name))
            if entry.spec.adhoc:
                del self._rooms[name]
        return actions

    # -- helpers ---------------------------------------------------------------------------------------------

    def _entry(self, room: str, kind: FocusKind) -> _RoomEntry:
        entry = self._rooms.get(room)
        if entry is None:
            raise BridgeError(f"no room {room!r}")
        if entry.spec.kind is not kind:
            raise BridgeError(f"room {room!r} is joined from the other protocol")
        return entry

    def _forms(self, address: str) -> tuple[str, str]:
        try:
            return self.forms.forms(address)
        except AddressError as exc:
            raise BridgeError(f"the caller {address[:200]!r} cannot be mapped: {exc}") from None

    def _drop(self, leg: str) -> _Call | None:
        entry = self._calls.pop(leg, None)
        return entry.calls.pop(leg, None) if entry is not None else None

    def _maybe_end(self, entry: _RoomEntry) -> list[Action]:
        """An ad-hoc room ends with its last call (its subscribers get terminated;reason=noresource)."""
        if entry.calls or not entry.spec.adhoc or self._rooms.get(entry.spec.name) is not entry:
            return []
        del self._rooms[entry.spec.name]
        actions: list[Action] = [RoomEnded(entry.spec.name)]
        if entry.subscribed:
            entry.subscribed = False
            actions.append(Unsubscribe(entry.spec.name))
        return actions

    def _maybe_unsubscribe(self, entry: _RoomEntry) -> list[Action]:
        if entry.calls or not entry.subscribed:
            return []
        entry.subscribed = False
        return [Unsubscribe(entry.spec.name)]


_USER_SAFE = "-_.!~*'()&=+$,;?/"  # RFC 3261 unreserved and user-unreserved: kept as they are in a user part


def _host(uri: str) -> str:
    """The host of a sip:/xmpp: URI or JID (no port, no parameters, no resource), lower-cased."""
    body = uri.split(":", 1)[1] if uri.startswith(("sip:", "sips:", "xmpp:")) else uri
    host = body.rsplit("@", 1)[-1]
    for cut in (";", "/", "?"):
        host = host.split(cut, 1)[0]
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _without_gr(sip_uri: str) -> str:
    """The address of record of a SIP URI (a GRUU's `gr` parameter dropped), for the subscribe policy."""
    return sip_uri.split(";", 1)[0]
