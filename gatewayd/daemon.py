"""The daemon: the core's bridge (`gateway.bridge`) wired to the SIP and XMPP adapters on one event loop.

What comes from the adapters goes to the bridge as events; what the bridge asks for is done here
(`_do`) and nowhere else:

    XMPP (xmpp.component_service)          bridge                      SIP (sip.user_agent + machines)
    a call to a room JID  ---------------> xmpp_call --> PlaceSipCall -----> INVITE to the focus
    accepted <- AcceptXmppCall <---------- sip_leg_answered <--------------- 200 (isfocus Contact)
                                           Subscribe ---------------------> SUBSCRIBE (one per room)
    Coin IQs <- room_changed <------------ RoomChanged <-- upstream_state <- NOTIFY
    session-initiate to the mixer <------- PlaceXmppCall <-- sip_call <----- INVITE to a room URI
    the mixer's accept ------------------> xmpp_leg_accepted --> AnswerSipCall -> 200, Contact: room;isfocus
    the mixer's Coin --------------------> mixer_coin --> RoomChanged ----> NOTIFY to the room's subscribers

Ad-hoc rooms: a call to an address of the gateway that is no configured room but maps to a user of the
other protocol forms a room for that callee (`Bridge.xmpp_room_for`, `Bridge.sip_room_for`): the XMPP
directory finds it by the bare JID called, the SIP notifier by the user part of the room's Contact URI, for
as long as the bridge holds the room (until its last call ends: RoomEnded).

Room changes reach each side's recipients once per coalescing window. SIGTERM or SIGINT: every room ends
(`terminated;reason=noresource` to its subscribers), every call ends on both sides, then the process exits 0.

Media (`gatewayd.media_calls`): every call has a Jingle leg and an RTP leg of the gateway's own, relayed;
the INVITE carries our RTP leg's SDP, the session-accept/initiate our Jingle leg's contents. Preparing a
leg awaits sockets (and ICE gathering), so these steps run as tasks, each checking on the way that the call
is still there. Media that ends by itself (a silent leg, ICE/DTLS failure) ends both sides: Jingle
`media-error`/`connectivity-error`, a BYE with `Reason: SIP;cause=408`. Hold crosses both ways: a SIP
re-INVITE to sendonly becomes session-info `<hold/>`, a Jingle `<hold/>` a re-INVITE sendonly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field

import structlog
from lxml import etree
from sipmessage import URI, Address, Request

from gateway.bridge import (
    AcceptXmppCall,
    Action,
    AnswerSipCall,
    Bridge,
    BridgeError,
    EndSipCall,
    EndXmppCall,
    FocusKind,
    FocusXmppCall,
    HangUpSip,
    PlaceSipCall,
    PlaceXmppCall,
    RejectSipCall,
    RejectXmppCall,
    RoomChanged,
    RoomEnded,
    RoomSpec,
    Subscribe,
    SubscribePolicy,
    Unsubscribe,
)
from gateway.conference_info import ConferenceInfo, Users
from gateway.config import Config
from gateway.errors import MergeError
from gateway.translate import Protocol
from gatewayd.media_calls import MediaCalls, MediaGone, MediaNegotiator, MediaRefused, MediaSettings
from media.call import CallEnded
from sip.actions import SendRequest
from sip.digest import Credentials
from sip.driver import Driver, EventHandler, NotifyMachine, SubscribeMachine
from sip.invite_agent import InviteAgent
from sip.invite_session import (
    CallFailed,
    Ended,
    Established,
    FocusChanged,
    IncomingCall,
    InviteError,
    InviteSession,
    InviteSessions,
    MediaUpdated,
)
from sip.invite_session import Role as InviteRole
from sip.notifier import ConferenceNotifier, NotifierConfig
from sip.subscriber import (
    ConferenceSubscriber,
    ConferenceSubscribers,
    Interrupted,
    StateChanged,
    Stopped,
    SubscriberConfig,
)
from sip.transport import TransportAddress
from sip.user_agent import IncomingRequest, UserAgent
from xmpp.component_link import LinkSettings
from xmpp.component_service import XmppComponent
from xmpp.namespaces import JINGLE_RTP_INFO
from xmpp.rooms import Call
from xmpp.xml import element

log = structlog.get_logger(__name__)

SHUTDOWN_GRACE = 2.0  # seconds for the last NOTIFYs and session-terminates to go out
ADHOC_NAMED_MAX = 1_000  # ad-hoc room names the XMPP directory keeps before it forgets unused ones


# -- the rooms as each adapter sees them ---------------------------------------------------------------------


@dataclass(eq=False)
class SipRoom:
    """A room for the SIP notifier (`sip.rooms.ConferenceRoom`)."""

    daemon: Daemon
    name: str
    uri: str

    def state(self) -> ConferenceInfo:
        room = self.daemon.bridge.room(self.name)
        if room is None:  # an ad-hoc room that ended
            return ConferenceInfo(entity=self.uri, version=0, users=Users(users={}))
        return room.state(Protocol.SIP)

    def admits(self, subscriber: Address, request: Request) -> bool:
        admitted = self.daemon.bridge.admits(self.name, str(subscriber.uri))
        if not admitted:
            log.info("subscription refused by policy", room=self.name, subscriber=str(subscriber.uri))
        return admitted


@dataclass(eq=False)
class XmppRoom:
    """A room for the XMPP adapter (`xmpp.rooms.ConferenceRoom`)."""

    daemon: Daemon
    name: str
    jid: str

    def state(self) -> ConferenceInfo:
        room = self.daemon.bridge.room(self.name)
        if room is None:  # an ad-hoc room that ended, or not formed yet
            return ConferenceInfo(entity=f"xmpp:{self.jid}", version=0, users=Users(users={}))
        return room.state(Protocol.XMPP)

    def call(self, call: Call) -> None:
        self.daemon.xmpp_call(self, call)

    def hang_up(self, call: Call, reason: str) -> None:
        self.daemon.xmpp_hang_up(call, reason)

    def coin_received(self, call: Call, document: ConferenceInfo) -> None:
        self.daemon.mixer_coin(call, document)

    def answered(self, call: Call, contents: tuple[etree._Element, ...], isfocus: bool | None) -> None:
        self.daemon.xmpp_answered(call, contents, isfocus)

    def focus_changed(self, call: Call, isfocus: bool) -> None:
        self.daemon.xmpp_focus_changed(self, call, isfocus)

    def transport_info(self, call: Call, contents: tuple[etree._Element, ...]) -> None:
        self.daemon.xmpp_transport_info(call, contents)

    def rtp_info(self, call: Call, info: str) -> None:
        self.daemon.xmpp_rtp_info(call, info)


@dataclass
class _Directory:
    """Both adapters' room directories: the configured rooms and the ad-hoc rooms the bridge holds."""

    sip: dict[str, SipRoom] = field(default_factory=dict)  # by the user part of its URI (decoded)
    xmpp: dict[str, XmppRoom] = field(default_factory=dict)  # by bare JID (rooms at our component)
    sip_by_name: dict[str, SipRoom] = field(default_factory=dict)
    xmpp_by_name: dict[str, XmppRoom] = field(default_factory=dict)

    def add(self, sip: SipRoom | None, xmpp: XmppRoom, user: str | None = None) -> None:
        if sip is not None:
            self.sip[user if user is not None else sip.name] = sip
            self.sip_by_name[sip.name] = sip
        self.xmpp_by_name[xmpp.name] = xmpp

    def remove(self, name: str) -> None:
        """Forget an ad-hoc room."""
        sip = self.sip_by_name.pop(name, None)
        self.sip = {k: v for k, v in self.sip.items() if v is not sip} if sip is not None else self.sip
        xmpp = self.xmpp_by_name.pop(name, None)
        if xmpp is not None and self.xmpp.get(xmpp.jid) is xmpp:
            del self.xmpp[xmpp.jid]


class _SipRooms:
    def __init__(self, directory: _Directory) -> None:
        self._directory = directory

    def find(self, uri: URI) -> SipRoom | None:
        return self._directory.sip.get(uri.user or "")


class _XmppRooms:
    """The XMPP directory: a configured room, else the ad-hoc room of the SIP user the JID maps to (named
    on first sight; formed by the bridge when the call is placed)."""

    def __init__(self, directory: _Directory, daemon: Daemon) -> None:
        self._directory = directory
        self._daemon = daemon

    def find(self, jid: str) -> XmppRoom | None:
        room = self._directory.xmpp.get(jid)
        if room is not None:
            return room
        try:
            name = self._daemon.bridge.xmpp_room_for(jid)
        except BridgeError:
            return None
        room = self._directory.xmpp_by_name.get(name)
        if room is None:
            if len(self._directory.xmpp_by_name) > len(self._directory.sip_by_name) + ADHOC_NAMED_MAX:
                self._daemon.prune_all()  # names seen (proposals, refused calls) that never formed a room
            room = XmppRoom(self._daemon, name, jid)
            self._directory.xmpp[jid] = self._directory.xmpp_by_name[name] = room
        return room


class _Dispatcher:
    """The user agent's one request handler: the INVITE usage, else the event package."""

    def __init__(self, invites: InviteAgent, events: EventHandler) -> None:
        self.invites, self.events = invites, events

    async def handle_request(self, request: IncomingRequest) -> None:
        if self.invites.handles(request.message):
            await self.invites.handle_request(request)
        else:
            await self.events.handle_request(request)


# -- the daemon ---------------------------------------------------------------------------------------------


class Daemon:
    """One gateway process. `await serve()` runs it until SIGTERM/SIGINT (or `stop()`)."""

    def __init__(self, config: Config, *, trickle_ice: bool | None = None) -> None:
        """`trickle_ice` (default: the configuration's `media.trickle_ice`): our ICE candidates follow the
        session-accept/initiate in transport-info."""
        self.config = config
        self.trickle_ice = config.media.trickle_ice if trickle_ice is None else trickle_ice
        self.addresses = config.address_map()
        self.bridge = Bridge(
            [
                RoomSpec(r.name, FocusKind.SIP, r.sip_focus) if r.sip_focus is not None
                else RoomSpec(r.name, FocusKind.XMPP, r.xmpp_focus or "")
                for r in config.rooms
            ],
            self.addresses,
            policy=SubscribePolicy(config.policy.subscribe),
            allowed_domains=config.policy.domains,
        )  # fmt: skip
        self.window = config.limits.coalescing_window_ms / 1000
        self.credentials = [
            Credentials(c.username, c.password or "", c.realm) for c in config.sip.credentials
        ]
        self.directory = _Directory()
        for name in self.bridge.room_names():
            jid = f"{name}@{config.xmpp.component}"
            self.directory.add(
                SipRoom(self, name, f"sip:{name}@{config.sip.domain}"), XmppRoom(self, name, jid)
            )
            self.directory.xmpp[jid] = self.directory.xmpp_by_name[name]
        # legs: the bridge's id of a call <-> each side's handle
        self._sip_legs: dict[str, InviteSession] = {}
        self._sip_by_session: dict[str, str] = {}  # InviteSession.key -> leg
        self._bye_reasons: dict[str, str] = {}  # legs ended by their media: the BYE's Reason header
        self._tasks: set[asyncio.Task[None]] = set()
        self._xmpp_legs: dict[str, Call] = {}
        self._xmpp_by_call: dict[tuple[str, str], str] = {}  # (peer, sid) -> leg
        self._sip_due: dict[str, asyncio.TimerHandle] = {}
        self._stopped = asyncio.Event()
        self._started = False

    # -- life cycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        listen = [TransportAddress(protocol, host, port) for protocol, host, port in config.sip.listeners()]
        tls_context = None
        if config.sip.tls_certificate is not None and config.sip.tls_key is not None:
            tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_context.load_cert_chain(config.sip.tls_certificate, config.sip.tls_key)
        self.ua = UserAgent(listen, tls_server_context=tls_context)
        await self.ua.start()
        contacts = {address.protocol: self.ua.contact(address.protocol).uri for address in listen}
        self._negotiators: list[MediaNegotiator] = []
        media = config.media
        self.media = MediaCalls(
            MediaSettings(media.address, media.port_min, media.port_max, float(media.silence_timeout_s)),
            on_end=self._media_ended, send_transport_info=self._send_transport_info,
            trickle=self.trickle_ice,
        )  # fmt: skip
        self.sessions = InviteSessions(contact=contacts, negotiator=self._negotiator, incoming_focus=True)
        self.invites = InviteAgent(self.ua, self.sessions, on_report=self._invite_report)
        self.notifier = ConferenceNotifier(
            _SipRooms(self.directory),
            contact=self.ua.contact(listen[0].protocol).uri,
            clock=loop.time,
            config=NotifierConfig(
                min_expires=config.sip.min_expires,
                max_expires=config.sip.max_expires,
                default_expires=config.sip.max_expires,
            ),
        )
        self.notifier_driver: Driver[SubscribeMachine] = Driver(
            self.ua, self.notifier, on_report=self._notifier_report
        )
        self.subscribers = ConferenceSubscribers()
        self.subscriber_driver: Driver[NotifyMachine] = Driver(
            self.ua, self.subscribers, on_report=self._subscriber_report, credentials=self.credentials
        )
        self.ua.handler = _Dispatcher(
            self.invites, EventHandler(subscribers=self.subscriber_driver, notifier=self.notifier_driver)
        )
        settings = LinkSettings(
            config.xmpp.component, config.xmpp.secret, host=config.xmpp.host, port=config.xmpp.port,
            max_stanza_bytes=config.limits.max_document_bytes,
            backoff_initial=config.xmpp.reconnect_initial_ms / 1000, backoff_max=config.xmpp.reconnect_max_s,
        )  # fmt: skip
        self.component = XmppComponent(
            settings, _XmppRooms(self.directory, self), coalescing_window=self.window,
            limits=config.limits.parse_limits(),
        )  # fmt: skip
        self.component.start()
        self._started = True
        log.info(
            "gateway started", sip=[f"{a.protocol}:{a.host}:{a.port}" for a in listen],
            xmpp=f"{config.xmpp.host}:{config.xmpp.port}", component=config.xmpp.component,
            rooms=self.bridge.room_names(),
        )  # fmt: skip

    def stop(self) -> None:
        self._stopped.set()

    async def serve(self) -> None:
        """Start, run until SIGTERM/SIGINT or `stop()`, then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        try:
            await self.start()
            await self._stopped.wait()
            log.info("stopping: ending every room and call")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.close()

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        self._do(self.bridge.shutdown())
        for handle in self._sip_due.values():
            handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.media.close_all()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), SHUTDOWN_GRACE)
        await self.component.close()
        await self.invites.close()
        await self.subscriber_driver.close()
        await self.notifier_driver.close()
        await self.ua.close()
        log.info("gateway stopped")

    async def _drain(self) -> None:
        await self.notifier_driver.idle(SHUTDOWN_GRACE)
        await self.subscriber_driver.idle(SHUTDOWN_GRACE)
        while self.component.link.online and self.component.link.queued_bytes:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # the last stanzas written to the socket

    # -- XMPP side ---------------------------------------------------------------------------------------------

    def xmpp_call(self, room: XmppRoom, call: Call) -> None:
        leg = self.bridge.new_leg()
        log.info("xmpp call", room=room.name, leg=leg, participant=call.participant, sid=call.sid)
        if (
            self.bridge.kind_of(room.name) is not FocusKind.SIP
        ):  # (no media prepared for a call refused anyway)
            log.warning("xmpp call refused", room=room.name, leg=leg, error="joined from the other protocol")
            self.component.reject(call, "gone", f"room {room.name!r} is joined from the other protocol")
            return
        self._remember_xmpp(leg, call)  # a hang-up while the media is prepared finds it
        self._spawn(self._xmpp_call(room, leg, call))

    async def _xmpp_call(self, room: XmppRoom, leg: str, call: Call) -> None:
        try:
            offer = await self.media.xmpp_offered(leg, call.offer)
        except MediaGone:
            return
        except MediaRefused as exc:
            log.warning("xmpp call refused: offer", room=room.name, leg=leg, error=exc.text)
            self._forget_xmpp(leg)
            self.media.close(leg)
            self.component.reject(call, exc.reason, exc.text[:200])
            self._prune(room.name)
            return
        if self._xmpp_legs.get(leg) is not call:  # the caller hung up meanwhile
            self.media.close(leg)
            self._prune(room.name)
            return
        try:
            self._do(self.bridge.xmpp_call(room.name, leg, call.participant, offer))
        except BridgeError as exc:
            log.warning("xmpp call refused", room=room.name, leg=leg, error=str(exc))
            self._forget_xmpp(leg)
            self.media.close(leg)
            self.component.reject(call, "gone", str(exc)[:200])
            self._prune(room.name)

    def _prune(self, name: str) -> None:
        """Forget an ad-hoc room's directory entries when the bridge holds no such room (a refused call, the
        room's end) and no XMPP call names it (another caller's call may still be on its way)."""
        if self.bridge.spec(name) is not None or self.bridge.kind_of(name) is None:
            return
        room = self.directory.xmpp_by_name.get(name)
        if room is not None and any(p.room is room for p in self.component.service.participants.values()):
            return
        self.directory.remove(name)

    def prune_all(self) -> None:
        for name in list(self.directory.xmpp_by_name):
            self._prune(name)

    def xmpp_hang_up(self, call: Call, reason: str) -> None:
        leg = self._xmpp_by_call.get((call.participant, call.sid))
        if leg is None:
            return
        self._forget_xmpp(leg)
        self.media.close(leg)
        log.info("xmpp call ended", leg=leg, reason=reason)
        if (
            call.placed
            and leg in self._sip_legs
            and self._sip_legs[leg].state.value in ("incoming", "ringing")
        ):
            self._do(self.bridge.xmpp_leg_failed(leg, reason if reason != "success" else "general-error"))
        else:
            self._do(self.bridge.xmpp_call_ended(leg))

    def xmpp_answered(self, call: Call, contents: tuple[etree._Element, ...], isfocus: bool | None) -> None:
        leg = self._xmpp_by_call.get((call.participant, call.sid))
        if leg is None:
            return
        log.info("mixer answered", room=self.bridge.room_of(leg), leg=leg, isfocus=isfocus)
        self._spawn(self._mixer_answered(leg, call, contents, isfocus))

    async def _mixer_answered(
        self, leg: str, call: Call, contents: tuple[etree._Element, ...], isfocus: bool | None = None
    ) -> None:
        """Our Jingle leg takes the mixer's answer; our SIP answer (its codec first) goes to the bridge."""
        try:
            await self.media.mixer_answered(leg, contents)
            session = self._sip_legs.get(leg)
            if session is None or self._xmpp_legs.get(leg) is not call:
                raise MediaGone(leg)
            answer = self.media.sip_answer(leg, session.negotiator)
        except MediaGone:
            return
        except MediaRefused as exc:
            log.warning("mixer answer unusable", leg=leg, error=exc.text)
            self._forget_xmpp(leg)
            self.media.close(leg)
            self.component.hang_up(call, exc.reason)
            self._do(self.bridge.xmpp_leg_failed(leg, exc.reason))
            return
        self._do(self.bridge.xmpp_leg_accepted(leg, answer, isfocus))

    def xmpp_focus_changed(self, room: XmppRoom, call: Call, isfocus: bool) -> None:
        """The XMPP callee of an ad-hoc room became a conference (or stopped being one), in session-info:
        a re-INVITE puts isfocus in (or takes it out of) the phone's view of our Contact, the room's URI
        (RFC 4579). A configured room's mixer is a focus whatever it says."""
        leg = self._xmpp_by_call.get((call.participant, call.sid))
        session = self._sip_legs.get(leg) if leg is not None else None
        spec = self.bridge.spec(room.name)
        log.info("mixer focus changed", room=room.name, leg=leg, isfocus=isfocus)
        if session is None or spec is None or not spec.adhoc or session.local_focus == isfocus:
            return
        try:
            self.invites.run(session.reinvite(focus=isfocus))
        except InviteError as exc:  # not up yet, or ending
            log.info("focus change not told to sip", room=room.name, leg=leg, error=str(exc))

    def xmpp_transport_info(self, call: Call, contents: tuple[etree._Element, ...]) -> None:
        """Trickled candidates from a Jingle peer, for the call's Jingle leg."""
        leg = self._xmpp_by_call.get((call.participant, call.sid))
        if leg is not None:
            self.media.transport_info(leg, contents)

    def xmpp_rtp_info(self, call: Call, info: str) -> None:
        """The Jingle peer holds (`<hold/>`) or resumes (`<active/>`): a re-INVITE tells the SIP side
        (sendonly / sendrecv, RFC 6337 section 5.3); mute and the others change nothing on SIP."""
        leg = self._xmpp_by_call.get((call.participant, call.sid))
        session = self._sip_legs.get(leg) if leg is not None else None
        if leg is None or session is None or not self.media.jingle_hold(leg, info):
            return
        log.info("jingle hold", leg=leg, info=info)
        try:
            self.invites.run(session.reinvite())
        except InviteError as exc:  # not up yet, or ending
            log.info("jingle hold not told to sip", leg=leg, error=str(exc))

    def _send_transport_info(self, leg: str, contents: list[etree._Element]) -> None:
        call = self._xmpp_legs.get(leg)
        if call is not None:
            self.component.transport_info(call, contents)

    def _media_ended(self, leg: str, ended: CallEnded) -> None:
        """A leg went silent or its ICE/DTLS failed: both sides end, each told why."""
        log.warning("media ended the call", leg=leg, side=ended.leg, reason=ended.reason)
        self._bye_reasons[leg] = ended.sip_reason
        call = self._xmpp_legs.get(leg)
        self._forget_xmpp(leg)
        if call is not None:
            self.component.hang_up(call, ended.jingle_reason)
        self._do(self.bridge.xmpp_call_ended(leg))  # HangUpSip or EndSipCall, and the room's bookkeeping
        self._end_sip(leg)  # (a leg the bridge does not know yet)

    def mixer_coin(self, call: Call, document: ConferenceInfo) -> None:
        leg = self._xmpp_by_call.get((call.participant, call.sid))
        if leg is None:
            raise MergeError("no call for that session")
        self._do(self.bridge.mixer_coin(leg, document))

    def _remember_xmpp(self, leg: str, call: Call) -> None:
        self._xmpp_legs[leg] = call
        self._xmpp_by_call[(call.participant, call.sid)] = leg

    def _forget_xmpp(self, leg: str) -> None:
        call = self._xmpp_legs.pop(leg, None)
        if call is not None:
            self._xmpp_by_call.pop((call.participant, call.sid), None)

    # -- SIP side ----------------------------------------------------------------------------------------------

    def _negotiator(self) -> MediaNegotiator:
        """InviteSessions asks for one per session: the one prepared for a call we place, else a new one
        (a call we answer: its RTP leg comes once the XMPP side answered)."""
        return self._negotiators.pop() if self._negotiators else MediaNegotiator(self.config.media.address)

    def _invite_report(self, report: object) -> None:
        if isinstance(report, IncomingCall):
            self._sip_incoming(report)
            return
        session = getattr(report, "session", None)
        leg = self._sip_by_session.get(session.key) if isinstance(session, InviteSession) else None
        if leg is None or not isinstance(session, InviteSession):
            return
        room = self.bridge.room_of(leg)
        if isinstance(report, Established) and session.role is InviteRole.UAC:
            focus = str(report.remote_contact) if report.remote_focus else None
            log.info("sip leg answered", room=room, leg=leg, focus=focus)
            if report.remote_sdp is None:
                self._do([HangUpSip(leg), *self.bridge.sip_leg_failed(leg, 488)])
                return
            self._do(self.bridge.sip_leg_answered(leg, report.remote_sdp, focus))
        elif isinstance(report, CallFailed):
            log.info("sip leg failed", room=room, leg=leg, code=report.code, phrase=report.phrase)
            self._forget_sip(leg)
            self.media.close(leg)
            self._do(self.bridge.sip_leg_failed(leg, report.code))
        elif isinstance(report, Ended):
            log.info("sip leg ended", room=room, leg=leg, reason=report.reason)
            self._forget_sip(leg)
            self.media.close(leg)
            self._do(self.bridge.sip_leg_ended(leg))
        elif isinstance(report, FocusChanged) and session.role is InviteRole.UAC:
            conference = str(report.conference_uri) if report.remote_focus else None
            log.info("sip leg focus changed", room=room, leg=leg, focus=conference)
            self._do(self.bridge.sip_focus_changed(leg, conference))
        elif isinstance(report, MediaUpdated):
            info = self.media.renegotiated(leg)  # the SIP peer's hold, told to the Jingle peer
            call = self._xmpp_legs.get(leg)
            if info is not None and call is not None:
                log.info("sip hold", leg=leg, info=info)
                self.component.session_info(call, element(JINGLE_RTP_INFO, info))

    def _sip_incoming(self, report: IncomingCall) -> None:
        session = report.session
        dialog = session.dialog
        user = dialog.local_address.uri.user if dialog is not None else None
        caller = str(dialog.remote_address.uri) if dialog is not None else ""
        leg = self.bridge.new_leg()
        room: str | None = user
        log.info("sip call", room=room, leg=leg, caller=caller)
        if report.offer is None:
            self.invites.run(session.reject(488, "Not Acceptable Here (an offer is needed)"))
            return
        try:
            room = self.bridge.sip_room_for(user or "")
            actions = self.bridge.sip_call(room, leg, caller, report.offer)
        except BridgeError as exc:
            log.warning("sip call refused", room=room, leg=leg, error=str(exc))
            self.invites.run(session.reject(404, "Not Found"))
            return
        if room not in self.directory.sip_by_name:  # an ad-hoc room formed by this call
            address = self.bridge.address(room)
            assert address is not None and user is not None
            xmpp = XmppRoom(self, room, address.xmpp.removeprefix("xmpp:"))
            self.directory.add(SipRoom(self, room, address.sip), xmpp, user)
            log.info("ad-hoc room", room=room, leg=leg, callee=address.xmpp)
        self._sip_legs[leg] = session
        self._sip_by_session[session.key] = leg
        self.invites.run(session.ring())
        self._do(actions)

    def _forget_sip(self, leg: str) -> None:
        session = self._sip_legs.pop(leg, None)
        if session is not None:
            self._sip_by_session.pop(session.key, None)

    def _end_sip(self, leg: str) -> None:
        """End a SIP leg whatever its state (BYE, CANCEL or 480); a BYE or CANCEL of a leg whose media
        ended carries why (RFC 3326 Reason)."""
        session = self._sip_legs.get(leg)
        self._forget_sip(leg)
        reason = self._bye_reasons.pop(leg, None)
        if session is None or session.ended:
            return
        outputs = session.hangup()
        if reason is not None:
            for output in outputs:
                if isinstance(output, SendRequest) and output.request.method in ("BYE", "CANCEL"):
                    output.request.headers.set("Reason", reason)
        self.invites.run(outputs)

    def _subscriber_report(self, report: object) -> None:
        if isinstance(report, StateChanged):
            self._do(self.bridge.upstream_state(report.subscriber.key, report.state))
        elif isinstance(report, Interrupted):
            log.warning("room upstream interrupted", room=report.subscriber.key, reason=report.reason,
                        retry_in=report.retry_in)  # fmt: skip
            self._do(self.bridge.upstream_lost(report.subscriber.key))
        elif isinstance(report, Stopped):
            self.subscribers.forget(report.subscriber)
            if report.reason != "unsubscribed":
                log.warning("room upstream stopped", room=report.subscriber.key, reason=report.reason)
                self._do(self.bridge.upstream_stopped(report.subscriber.key))

    def _notifier_report(self, report: object) -> None:
        log.info("sip subscription", report=type(report).__name__, detail=str(getattr(report, "reason", "")))

    # -- the bridge's actions ---------------------------------------------------------------------------------

    def _do(self, actions: Iterable[Action]) -> None:
        for action in actions:
            try:
                self._do_one(action)
            except Exception:  # one failed action must not stop the others, nor the daemon
                log.exception("bridge action failed", action=type(action).__name__)

    def _do_one(self, action: Action) -> None:
        if isinstance(action, PlaceSipCall):
            self._negotiators.append(self.media.negotiator(action.leg))
            placed = self.invites.call(
                action.target, local=f"<{action.caller}>", credentials=self.credentials
            )
            self._sip_legs[action.leg] = placed
            self._sip_by_session[placed.key] = action.leg
        elif isinstance(action, AcceptXmppCall):
            call = self._xmpp_legs.get(action.leg)
            if call is not None:
                self._spawn(self._accept_xmpp(action.leg, call, action.focus))
        elif isinstance(action, FocusXmppCall):
            call = self._xmpp_legs.get(action.leg)
            if call is not None:
                self.component.focus_changed(call, action.focus)
        elif isinstance(action, RejectXmppCall):
            call = self._xmpp_legs.get(action.leg)
            self._forget_xmpp(action.leg)
            self.media.close(action.leg)
            if call is not None:
                self.component.reject(call, action.reason)
        elif isinstance(action, EndXmppCall):
            call = self._xmpp_legs.get(action.leg)
            self._forget_xmpp(action.leg)
            self.media.close(action.leg)
            if call is not None:
                self.component.hang_up(call, action.reason)
        elif isinstance(action, (HangUpSip, EndSipCall)):
            self.media.close(action.leg)
            self._end_sip(action.leg)  # BYE, CANCEL or 480, whatever its state
        elif isinstance(action, PlaceXmppCall):
            self._spawn(self._place_xmpp(action))
        elif isinstance(action, AnswerSipCall):
            session = self._sip_legs.get(action.leg)
            if session is not None and isinstance(session.negotiator, MediaNegotiator):
                # with the answer sip_answer prepared; isfocus when the callee is a focus
                self.invites.run(session.accept(focus=action.focus_contact is not None))
                self.media.started(action.leg)
        elif isinstance(action, RejectSipCall):
            session = self._sip_legs.get(action.leg)
            self._forget_sip(action.leg)
            self.media.close(action.leg)
            if session is not None and not session.ended:
                self.invites.run(session.reject(action.status, action.reason))
        elif isinstance(action, Subscribe):
            self._subscribe(action.room, action.conference)
        elif isinstance(action, Unsubscribe):
            subscriber = self.subscribers.get(action.room)
            if subscriber is not None:
                self.subscriber_driver.start(self.subscribers.remove(subscriber))
        elif isinstance(action, RoomChanged):
            xmpp_room = self.directory.xmpp_by_name.get(action.room)
            if xmpp_room is not None:
                self.component.room_changed(xmpp_room)
            if action.room in self.directory.sip_by_name and action.room not in self._sip_due:
                loop = asyncio.get_running_loop()
                self._sip_due[action.room] = loop.call_later(self.window, self._notify_room, action.room)
        elif isinstance(action, RoomEnded):
            sip_room = self.directory.sip_by_name.get(action.room)
            if sip_room is not None:
                self.notifier_driver.start(self.notifier.room_ended(sip_room))
            due = self._sip_due.pop(action.room, None)
            if due is not None:
                due.cancel()
            if self.bridge.spec(action.room) is None:  # an ad-hoc room: gone
                log.info("ad-hoc room ended", room=action.room)
                self._prune(action.room)

    async def _accept_xmpp(self, leg: str, call: Call, focus: bool = True) -> None:
        """The SIP focus answered: our Jingle leg's answer goes in the session-accept; the relay starts."""
        try:
            contents = await self.media.xmpp_answer(leg)
        except MediaGone:
            return
        except MediaRefused as exc:
            log.warning("xmpp call: no answer to its offer", leg=leg, error=exc.text)
            self._forget_xmpp(leg)
            self.media.close(leg)
            self.component.reject(call, exc.reason, exc.text[:200])
            self._do(self.bridge.xmpp_call_ended(leg))
            return
        if self._xmpp_legs.get(leg) is not call:
            return
        self.component.accept(call, contents, isfocus=focus)
        self.media.started(leg)

    async def _place_xmpp(self, action: PlaceXmppCall) -> None:
        """A SIP phone calls an XMPP room: our Jingle leg's offer goes to the mixer."""
        room = self.directory.xmpp_by_name.get(action.room)
        if room is None:  # an ad-hoc room formed by a call of ours
            room = XmppRoom(self, action.room, action.mixer.split("/", 1)[0])
            self.directory.xmpp_by_name[action.room] = room
        try:
            contents = await self.media.sip_offered(action.leg, action.offer)
        except MediaGone:
            return
        except MediaRefused as exc:
            log.warning("sip call: no offer for the mixer", room=action.room, leg=action.leg, error=exc.text)
            self.media.close(action.leg)
            self._do(self.bridge.xmpp_leg_failed(action.leg, exc.reason))
            return
        if action.leg not in self._sip_legs:  # the phone hung up meanwhile
            self.media.close(action.leg)
            return
        local = f"{action.caller}/{action.leg}"
        call = self.component.place_call(room, local, action.mixer, action.leg, contents)
        self._remember_xmpp(action.leg, call)
        self.media.described(action.leg)

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("daemon task failed", error=repr(task.exception()))

    def _subscribe(self, room: str, conference: str) -> None:
        existing = self.subscribers.get(room)
        if existing is not None:
            self.subscribers.forget(existing)
        protocol = "tcp" if ";transport=tcp" in conference.lower() else self.config.sip.listeners()[0][0]
        spec = self.bridge.spec(room)
        # an ad-hoc room has no URI of ours: the gateway itself subscribes
        local = (
            f"sip:{self.config.sip.domain}"
            if spec is not None and spec.adhoc
            else f"sip:{room}@{self.config.sip.domain}"
        )
        subscriber = ConferenceSubscriber(
            Address.parse(f"<{conference}>"),
            local=Address.parse(f"<{local}>"),
            contact=self.ua.contact(protocol),
            clock=asyncio.get_running_loop().time,
            config=SubscriberConfig(expires=self.config.sip.subscribe_expires),
            key=room,
        )
        log.info("subscribing", room=room, conference=conference)
        self.subscriber_driver.start(self.subscribers.add(subscriber))

    def _notify_room(self, room: str) -> None:
        self._sip_due.pop(room, None)
        sip_room = self.directory.sip_by_name.get(room)
        if sip_room is not None:
            self.notifier_driver.start(self.notifier.room_changed(sip_room))


def serve(config: Config) -> int:
    """Run the daemon until SIGTERM/SIGINT; the exit code."""
    asyncio.run(Daemon(config).serve())
    return 0
