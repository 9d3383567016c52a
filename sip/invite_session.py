"""INVITE sessions (RFC 3261 sections 13-15, RFC 3264 offer/answer, RFC 4579 isfocus), sans-IO.

`InviteSessions` holds every call of the gateway, as UAS (a peer calls us) and as UAC (we call a peer).
Feed it the INVITE, ACK, CANCEL and BYE requests received (`request_received`), the responses to the
requests it asked to send (`response_received`: provisional and final; the transaction layer's made-up
408/503 count as final) and its timers (`timer_fired`); drive each call with the `InviteSession` methods
(`ring`, `accept`, `reject`, `cancel`, `hangup`, `reinvite`). Everything returns a list of outputs: what
to send (`SendRequest`, `SendResponse`, `SendAck`, `ResendResponse`), timers (`StartTimer`, `CancelTimer`)
and reports for the owner (`IncomingCall`, `Ringing`, `Established`, `CallFailed`, `Ended`,
`FocusChanged`, `MediaUpdated`, `ReinviteFailed`). No socket, no clock, no task.

States of a session and what moves them:

    UAS
      (INVITE, no To-tag)   Require names an extension we lack      -> 420, Unsupported           ENDED
                            offer unparsable / nothing acceptable   -> 488 (Warning says why)     ENDED
                            body not application/sdp                 -> 415, Accept: application/sdp ENDED
                            otherwise                                -> IncomingCall            INCOMING
                            (the transaction layer has sent 100 Trying)
      INCOMING   ring()                 -> 180 with our Contact                                   INCOMING
                 accept()               -> 200 with the answer (or our offer, when the INVITE had
                                           none), our Contact (`;isfocus` when local_focus);
                                           2xx retransmitted T1, 2T1 .. T2 until the ACK         ANSWERED
                 reject(code)           -> code                                                     ENDED
                 CANCEL                 -> 200 to the CANCEL, 487 to the INVITE, CallFailed 487     ENDED
                 BYE (early dialog)     -> 200 to the BYE, 487 to the INVITE                        ENDED
                 NO_ANSWER timer        -> 480                                                      ENDED
      ANSWERED   ACK                    -> Established (remote focus, conference URI)             CONFIRMED
                 ACK_WAIT (64*T1)       -> BYE (section 13.3.1.4)                                  ENDING
                 CANCEL                 -> 200 to the CANCEL only (too late)                      ANSWERED
                 the INVITE again       -> the same 2xx (it was lost; the server transaction ended
                                           with it, so the transaction layer cannot absorb it)    ANSWERED
    UAC
      call()                            -> INVITE with our offer and Contact                        CALLING
      CALLING    1xx                    -> Ringing (180/183 once)                                  PROCEEDING
                 2xx                    -> ACK; the answer checked; Established, or BYE when
                                           the answer is unacceptable (section 13.2.2.4)          CONFIRMED
                 401/407 with credentials for the realm (once per realm, again if stale)
                                        -> the INVITE again, CSeq+1, with Authorization           CALLING
                 3xx-6xx, 408/503 made up -> CallFailed(code)                                      ENDED
      cancel()   before any 1xx         -> CANCEL waits for the first 1xx (section 9.1)          CANCELLING
                 after a 1xx            -> CANCEL (same branch as the INVITE)                    CANCELLING
      CANCELLING 487 (or any non-2xx)   -> CallFailed(code)                                         ENDED
                 2xx (answered anyway)  -> ACK, BYE                                                 ENDING
    Both, confirmed
      CONFIRMED  BYE received           -> 200, Ended("bye")                                        ENDED
                 hangup()               -> BYE (after the ACK of our 2xx when it is not in yet)    ENDING
                 re-INVITE received:
                   our re-INVITE is pending                      -> 491 (section 14.2, glare)
                   our 2xx with an offer awaits its ACK          -> 491
                   CSeq lower than the last                      -> 500
                   offer unacceptable                            -> 488, the session as it was
                   otherwise -> 200 with the answer (or our offer), Contact with our focus flag,
                                MediaUpdated; FocusChanged when the peer's Contact gained or lost
                                isfocus (RFC 4579: the call becomes a conference, or stops being one)
                 reinvite(focus=...)    -> re-INVITE with a new offer and our Contact (isfocus
                                           added or removed); 2xx -> ACK, MediaUpdated
                                           (FocusChanged if the peer's Contact changed);
                                           491 -> again after 2.1-4 s if we made the Call-ID, else
                                           0-2 s (section 14.1); 481/408 -> BYE; other -> ReinviteFailed
      ENDING     BYE's final response or failure -> Ended                                           ENDED
    Unknown dialog: a BYE, re-INVITE or other in-dialog request -> 481; a CANCEL matching no INVITE
    -> 481; an ACK that matches nothing is dropped.

What the driver must do (`sip.invite_agent` does it over `sip.user_agent`): complete the top Via of each
request it sends *in place* (a CANCEL copies the INVITE's top Via as sent, RFC 3261 section 9.1); send ACKs
for 2xx without a transaction; resend a 2xx on the original request's source when told (`ResendResponse`:
the INVITE server transaction ends with the 2xx, section 17.2.1, so 2xx retransmission is ours).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sipmessage import URI, Address, CSeq, Parameters, Request, Response

from gateway.sdp import SdpError, SessionDescription, parse_sdp, serialize_sdp
from sip.actions import ArmedTimers, CancelTimer, SendRequest, SendResponse, StartTimer, Timer
from sip.dialogs import Dialog, DialogError
from sip.digest import Credentials, authorize
from sip.focus import ContactError, ContactInfo, first_contact, focus_contact
from sip.messages import create_response, from_tag, new_branch, new_call_id, new_tag, to_tag
from sip.offer_answer import SDP_TYPE, Negotiator
from sip.transactions import Timers

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
SUPPORTED: frozenset[str] = frozenset()  # no SIP extension (100rel, timer, ...) is implemented
NO_ANSWER_TIMEOUT = 180.0  # seconds an incoming call may ring before 480


class CallState(StrEnum):
    INCOMING = "incoming"  # UAS: INVITE received, no final response yet
    ANSWERED = "answered"  # UAS: 2xx sent, its ACK not in yet
    CALLING = "calling"  # UAC: INVITE sent, nothing back yet
    PROCEEDING = "proceeding"  # UAC: a provisional response came
    CANCELLING = "cancelling"  # UAC: CANCEL sent (or waiting for a 1xx to be sent)
    CONFIRMED = "confirmed"
    ENDING = "ending"  # BYE sent, its response not in yet
    ENDED = "ended"


class Role(StrEnum):
    UAS = "uas"
    UAC = "uac"


class TimerKind(StrEnum):
    RETRANSMIT_2XX = "retransmit-2xx"  # RFC 3261 section 13.3.1.4
    ACK_WAIT = "ack-wait"  # 64*T1 without the ACK for our 2xx
    GLARE = "glare"  # section 14.1: retry a re-INVITE refused 491
    NO_ANSWER = "no-answer"  # an incoming call nobody answers


# The timer outputs are those of every machine (`sip.actions`), under the names this module had.
SessionTimer = Timer  # `key` is the session's key
ArmTimer = StartTimer
DisarmTimer = CancelTimer


# -- outputs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendAck:
    """Send an ACK for a 2xx to INVITE (RFC 3261 section 13.2.2.4): no transaction, CSeq number of the
    INVITE, to the dialog's next hop. `body` is the answer when the 2xx carried our offer's counterpart."""

    dialog: Dialog
    cseq: int
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class ResendResponse:
    """Send this 2xx again, where the request it answers came from (its server transaction is over)."""

    response: Response


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A peer calls: answer with `session.ring()`, `accept()` or `reject()`. `remote_focus` says its
    Contact carries isfocus (its Contact URI is then the conference URI)."""

    session: InviteSession
    offer: SessionDescription | None
    remote_focus: bool


@dataclass(frozen=True, slots=True)
class Ringing:
    session: InviteSession
    code: int


@dataclass(frozen=True, slots=True)
class Established:
    """The call is up (2xx sent and ACKed, or 2xx received and ACKed). `remote_focus`: the peer's Contact
    carries isfocus (RFC 4579): subscribe to `remote_contact` as the conference URI."""

    session: InviteSession
    local_sdp: SessionDescription | None
    remote_sdp: SessionDescription | None
    remote_focus: bool
    remote_contact: URI


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The call never came up: a final error response (received or, as UAS, sent: 487 after CANCEL)."""

    session: InviteSession
    code: int
    phrase: str


@dataclass(frozen=True, slots=True)
class Ended:
    """A call that was answered is over: `reason` is bye (the peer hung up), hangup (we did), no-ack (our
    2xx was never ACKed), bad-answer (the peer's answer was missing or unacceptable: ACKed, then BYE, with
    no Established before), dialog-gone (481/408 to a re-INVITE), cancelled (answered after our CANCEL)."""

    session: InviteSession
    reason: str


@dataclass(frozen=True, slots=True)
class FocusChanged:
    """The peer's Contact gained (`remote_focus` True: the call became a conference, subscribe to
    `conference_uri`) or lost isfocus (it is a plain call again), in a re-INVITE or its 2xx."""

    session: InviteSession
    remote_focus: bool
    conference_uri: URI


@dataclass(frozen=True, slots=True)
class MediaUpdated:
    """A re-INVITE's offer/answer completed."""

    session: InviteSession
    local_sdp: SessionDescription
    remote_sdp: SessionDescription


@dataclass(frozen=True, slots=True)
class ReinviteFailed:
    """Our re-INVITE was refused; the session goes on as it was."""

    session: InviteSession
    code: int
    phrase: str


Report = (
    IncomingCall | Ringing | Established | CallFailed | Ended | FocusChanged | MediaUpdated | ReinviteFailed
)
Output = SendRequest | SendResponse | SendAck | ResendResponse | StartTimer | CancelTimer | Report


class InviteError(RuntimeError):
    """An operation the session's state does not allow (accept a call twice, re-INVITE before it is up)."""


@dataclass(slots=True)
class _OutgoingReinvite:
    request: Request
    offer: SessionDescription | None
    focus: bool


class InviteSession:
    """One call (one INVITE dialog usage). Created by `InviteSessions`; read `state`, `role`,
    `local_focus`, `remote_focus`, `remote_contact`, `dialog`, `local_sdp`, `remote_sdp`."""

    def __init__(
        self, owner: InviteSessions, role: Role, negotiator: Negotiator, *, local_focus: bool
    ) -> None:
        self._owner = owner
        self.role = role
        self.negotiator = negotiator
        self.local_focus = local_focus
        self.state = CallState.INCOMING if role is Role.UAS else CallState.CALLING
        self.key = ""
        self.dialog: Dialog | None = None
        self.remote_focus = False
        self.remote_contact: URI | None = None
        self.local_sdp: SessionDescription | None = None
        self.remote_sdp: SessionDescription | None = None
        self.local_contact_uri: URI | None = None
        self.call_id = ""
        self.local_tag = ""
        self.credentials: tuple[Credentials, ...] = ()
        self._timers = ArmedTimers(owner._serials)
        # UAS
        self._invite_in: Request | None = None  # the INVITE (or re-INVITE) we answer
        self._invite_key: tuple[str, str, str] | None = (
            None  # the initial INVITE's (Call-ID, From tag, branch)
        )
        self._pending_offer: SessionDescription | None = None  # an offer we must answer
        self._answer_2xx: Response | None = None  # our 2xx awaiting its ACK
        self._last_2xx: Response | None = None  # our last 2xx to an INVITE (for its retransmissions)
        self._offer_in_2xx = False  # that 2xx carries our offer: the answer comes in the ACK
        self._retransmit_interval = 0.0
        self._bye_after_ack = False
        self._reinvite_after_ack: bool | None = None
        # UAC
        self._invite_out: Request | None = None
        self._offer_out: SessionDescription | None = None
        self._early_sdp: SessionDescription | None = None
        self._provisional = False
        self._cancel_pending = False
        self._auth_realms: set[tuple[str, str]] = set()
        self._reinvite_out: _OutgoingReinvite | None = None
        self._glare_focus: bool | None = None
        self._bye: Request | None = None
        self._ended_reason = ""

    def __repr__(self) -> str:
        return f"<InviteSession {self.role} {self.state} {self.key}>"

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    @property
    def conference_uri(self) -> URI | None:
        """The peer's Contact URI when it is a focus (RFC 4579), else None."""
        return self.remote_contact if self.remote_focus else None

    # -- common helpers -------------------------------------------------------------------------------------

    @property
    def _timers_cfg(self) -> Timers:
        return self._owner.timers

    def _arm(self, kind: TimerKind, delay: float) -> list[Output]:
        return [*self._timers.arm(kind, self.key, delay)]

    def _disarm(self, *kinds: TimerKind) -> list[Output]:
        return [*self._timers.disarm(*kinds)]

    def _end(self, report: Report | None) -> list[Output]:
        self.state = CallState.ENDED
        out: list[Output] = [*self._timers.disarm_all()]
        self._owner._forget(self)
        if report is not None:
            out.append(report)
        return out

    def _contact(self, focus: bool | None = None) -> Address:
        assert self.local_contact_uri is not None
        return focus_contact(self.local_contact_uri, focus=self.local_focus if focus is None else focus)

    def _respond(
        self,
        request: Request,
        code: int,
        phrase: str | None = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
        sdp: SessionDescription | None = None,
        contact: bool = False,
    ) -> Response:
        extra = list(headers)
        if contact:
            extra += [("Contact", str(self._contact())), ("Allow", ALLOW)]
        body = serialize_sdp(sdp).encode() if sdp is not None else b""
        return create_response(
            request,
            code,
            phrase,
            tag=self.local_tag,
            headers=extra,
            body=body,
            content_type=SDP_TYPE if sdp is not None else None,
        )

    def _read_remote_contact(self, message: Request | Response) -> list[Output]:
        """Record the peer's Contact and its isfocus; FocusChanged when it changed on a confirmed call."""
        try:
            info: ContactInfo | None = first_contact(message)
        except ContactError:
            return []
        if info is None:
            return []
        changed = self.state is CallState.CONFIRMED and info.is_focus != self.remote_focus
        self.remote_focus = info.is_focus
        self.remote_contact = info.uri
        return [FocusChanged(self, info.is_focus, info.uri)] if changed else []

    def _established(self) -> list[Output]:
        self.state = CallState.CONFIRMED
        assert self.remote_contact is not None
        out: list[Output] = [
            Established(self, self.local_sdp, self.remote_sdp, self.remote_focus, self.remote_contact)
        ]
        return out

    def _send_bye(self) -> list[Output]:
        assert self.dialog is not None
        self.state = CallState.ENDING
        out = self._disarm(TimerKind.RETRANSMIT_2XX, TimerKind.ACK_WAIT, TimerKind.GLARE)
        bye = self.dialog.new_request("BYE")
        bye.headers.set("Content-Length", "0")
        self._bye = bye
        out.append(SendRequest(bye, self.dialog.next_hop()))
        return out

    # -- the owner's operations -----------------------------------------------------------------------------

    def ring(self) -> list[Output]:
        """UAS: 180 Ringing (with our Contact: the early dialog's remote target)."""
        if self.state is not CallState.INCOMING or self._invite_in is None:
            raise InviteError(f"cannot ring a call that is {self.state}")
        return [SendResponse(self._respond(self._invite_in, 180, contact=True))]

    def accept(self, *, focus: bool | None = None) -> list[Output]:
        """UAS: 200 with the answer to the INVITE's offer (or our offer when it had none)."""
        if self.state is not CallState.INCOMING or self._invite_in is None:
            raise InviteError(f"cannot accept a call that is {self.state}")
        if focus is not None:
            self.local_focus = focus
        out = self._disarm(TimerKind.NO_ANSWER)
        out += self._answer_invite(self._invite_in)
        self.state = CallState.ANSWERED
        return out

    def reject(self, code: int = 486, phrase: str | None = None) -> list[Output]:
        """UAS: a final error response to the INVITE (486 Busy Here, 603 Decline, ...)."""
        if not 300 <= code <= 699:
            raise ValueError(f"a rejection is 3xx-6xx, not {code}")
        if self.state is not CallState.INCOMING or self._invite_in is None:
            raise InviteError(f"cannot reject a call that is {self.state}")
        response = self._respond(self._invite_in, code, phrase)
        return [SendResponse(response), *self._end(CallFailed(self, code, response.phrase))]

    def cancel(self) -> list[Output]:
        """UAC: CANCEL the INVITE (sent once a provisional response came, RFC 3261 section 9.1)."""
        if self.state not in (CallState.CALLING, CallState.PROCEEDING):
            raise InviteError(f"cannot cancel a call that is {self.state}")
        self.state = CallState.CANCELLING
        if not self._provisional:
            self._cancel_pending = True
            return []
        return [self._cancel_request()]

    def hangup(self) -> list[Output]:
        """End the call whatever its state: BYE, CANCEL, or 480 to an unanswered incoming call."""
        if self.state is CallState.INCOMING:
            return self.reject(480)
        if self.state in (CallState.CALLING, CallState.PROCEEDING):
            return self.cancel()
        if self.state is CallState.ANSWERED:
            self._bye_after_ack = True
            return []
        if self.state is CallState.CONFIRMED:
            if self._answer_2xx is not None:  # a re-INVITE's 2xx awaits its ACK (section 15)
                self._bye_after_ack = True
                return []
            self._ended_reason = "hangup"
            return self._send_bye()
        return []

    def reinvite(self, *, focus: bool | None = None) -> list[Output]:
        """A re-INVITE with a new offer; `focus` adds (True) or removes (False) isfocus in our Contact."""
        if self.state is not CallState.CONFIRMED or self.dialog is None:
            raise InviteError(f"cannot re-INVITE a call that is {self.state}")
        wanted = self.local_focus if focus is None else focus
        if self._reinvite_out is not None or self._answer_2xx is not None or TimerKind.GLARE in self._timers:
            self._reinvite_after_ack = wanted  # sent when the exchange in progress is over
            return []
        return self._send_reinvite(wanted)

    def _send_reinvite(self, focus: bool) -> list[Output]:
        assert self.dialog is not None
        request = self.dialog.new_request("INVITE")
        offer = self.negotiator.offer()
        request.body = serialize_sdp(offer).encode()
        request.headers.set("Content-Type", SDP_TYPE)
        request.headers.set("Contact", str(self._contact(focus)))
        request.headers.set("Allow", ALLOW)
        self._reinvite_out = _OutgoingReinvite(request, offer, focus)
        return [SendRequest(request, self.dialog.next_hop())]

    def _cancel_request(self) -> SendRequest:
        """RFC 3261 section 9.1: Request-URI, Call-ID, From, To, CSeq number and the top Via of the
        INVITE (as the driver sent it), Route likewise."""
        invite = self._invite_out
        assert invite is not None
        cancel = Request("CANCEL", invite.uri)
        cancel.headers.set("Via", invite.headers.getlist("Via")[0])
        cancel.headers.set("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            cancel.headers.set(name, invite.headers[name])
        cancel.cseq = CSeq(invite.cseq.sequence, "CANCEL")
        routes = invite.headers.getlist("Route")
        if routes:
            cancel.headers.setlist("Route", list(routes))
        cancel.headers.set("Content-Length", "0")
        return SendRequest(cancel, _next_hop(invite))

    # -- UAS: what we answer --------------------------------------------------------------------------------

    def _answer_invite(self, invite: Request) -> list[Output]:
        """The 2xx to an INVITE or re-INVITE, with the answer or our offer, retransmitted until ACKed."""
        if self._pending_offer is not None:
            answer = self.negotiator.answer(self._pending_offer)
            assert answer is not None  # checked when the offer came
            self.remote_sdp, self.local_sdp = self._pending_offer, answer
            self._offer_in_2xx = False
            sdp = answer
        else:
            sdp = self.negotiator.offer()
            self._offer_out = sdp
            self._offer_in_2xx = True
        self._pending_offer = None
        response = self._respond(invite, 200, sdp=sdp, contact=True)
        self._answer_2xx = self._last_2xx = response
        self._retransmit_interval = self._timers_cfg.t1
        return [
            SendResponse(response),
            *self._arm(TimerKind.RETRANSMIT_2XX, self._retransmit_interval),
            *self._arm(TimerKind.ACK_WAIT, self._timers_cfg.timeout),
        ]

    def _check_offer(self, request: Request) -> tuple[SessionDescription | None, Response | None]:
        """The offer of an INVITE (None when it has none), or the error response refusing it: 420 for an
        extension it requires that we lack (RFC 3261 section 8.2.2.3), 415 for a body that is not SDP,
        488 for SDP we cannot answer."""
        required = {
            option.strip().lower()
            for value in request.headers.getlist("Require")
            for option in value.split(",")
            if option.strip()
        }
        if required - SUPPORTED:
            unsupported = ", ".join(sorted(required - SUPPORTED))
            return None, self._respond(request, 420, headers=[("Unsupported", unsupported)])
        if not request.body:
            return None, None
        content_type = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != SDP_TYPE:
            return None, self._respond(request, 415, headers=[("Accept", SDP_TYPE)])
        try:
            offer = parse_sdp(request.body.decode("utf-8"))
        except (SdpError, UnicodeDecodeError) as exc:
            return None, self._respond(request, 488, headers=[_warning(f"bad SDP: {exc}")])
        if self.negotiator.answer(offer) is None:
            return None, self._respond(request, 488, headers=[_warning("no acceptable media")])
        return offer, None

    def _incoming(self, invite: Request) -> list[Output]:
        self._invite_in = invite
        offer, refusal = self._check_offer(invite)
        if refusal is not None:
            return [SendResponse(refusal), *self._end(None)]
        self._pending_offer = offer
        try:
            self.dialog = Dialog.from_request(invite, self.local_tag)
        except DialogError as exc:
            return [SendResponse(self._respond(invite, 400, f"Bad Request ({exc})")), *self._end(None)]
        self._read_remote_contact(invite)
        out: list[Output] = [IncomingCall(self, offer, self.remote_focus)]
        out += self._arm(TimerKind.NO_ANSWER, self._owner.no_answer_timeout)
        return out

    def _ack_received(self, ack: Request) -> list[Output]:
        if self._answer_2xx is None or ack.cseq.sequence != self._answer_2xx.cseq.sequence:
            return []  # a retransmitted ACK, or one for something else
        self._answer_2xx = None
        out = self._disarm(TimerKind.RETRANSMIT_2XX, TimerKind.ACK_WAIT)
        first = self.state is CallState.ANSWERED
        if self._offer_in_2xx:
            self._offer_in_2xx = False
            offer = self._offer_out
            answer = _sdp_of(ack)
            if offer is None or answer is None or not self.negotiator.answer_acceptable(offer, answer):
                self._ended_reason = "bad-answer"
                if first:
                    self.state = CallState.CONFIRMED
                return [*out, *self._send_bye()]
            self.local_sdp, self.remote_sdp = offer, answer
            if not first:
                out.append(MediaUpdated(self, offer, answer))
        if first:
            out += self._established()
        if self._bye_after_ack:
            self._ended_reason = "hangup"
            return [*out, *self._send_bye()]
        if self._reinvite_after_ack is not None:
            focus, self._reinvite_after_ack = self._reinvite_after_ack, None
            out += self._send_reinvite(focus)
        return out

    def _retransmitted_invite(self, invite: Request) -> list[Output]:
        """An INVITE we answered 2xx came again (our 2xx was lost; the server transaction ended with it,
        RFC 3261 section 17.2.1, so the transaction layer could not absorb it): the same 2xx again."""
        if self._last_2xx is None or self._last_2xx.cseq.sequence != invite.cseq.sequence:
            return []  # still ringing: the transaction layer answers a retransmission itself
        return [SendResponse(self._last_2xx)]

    def _cancel_received(self, cancel: Request) -> list[Output]:
        ok = SendResponse(self._respond(cancel, 200))
        if self.state is not CallState.INCOMING or self._invite_in is None:
            return [ok]  # answered already: the CANCEL has no effect (section 9.2)
        terminated = self._respond(self._invite_in, 487)
        return [ok, SendResponse(terminated), *self._end(CallFailed(self, 487, terminated.phrase))]

    def _reinvite_received(self, invite: Request) -> list[Output]:
        assert self.dialog is not None
        if self._reinvite_out is not None or (self._answer_2xx is not None and self._offer_in_2xx):
            return [SendResponse(self._respond(invite, 491))]
        if self._answer_2xx is not None and self.state is CallState.ANSWERED:
            retry = ("Retry-After", str(int(self._owner.uniform() * 10)))  # section 14.2: 0-10 s
            return [SendResponse(self._respond(invite, 500, headers=[retry]))]
        if not self.dialog.accept_request(invite):
            return [SendResponse(self._respond(invite, 500, "Server Internal Error (CSeq out of order)"))]
        offer, refusal = self._check_offer(invite)
        if refusal is not None:
            return [SendResponse(refusal)]
        out = self._read_remote_contact(invite)
        self._pending_offer = offer
        self._invite_in = invite
        answer_out = self._answer_invite(invite)
        out = [*answer_out, *out]
        if offer is not None and self.local_sdp is not None:
            out.append(MediaUpdated(self, self.local_sdp, offer))
        return out

    def _bye_received(self, bye: Request) -> list[Output]:
        ok = SendResponse(self._respond(bye, 200))
        if self.state is CallState.INCOMING and self._invite_in is not None:  # BYE in an early dialog
            terminated = self._respond(self._invite_in, 487)
            return [ok, SendResponse(terminated), *self._end(CallFailed(self, 487, terminated.phrase))]
        return [ok, *self._end(Ended(self, "bye"))]

    # -- UAC: what we get back ------------------------------------------------------------------------------

    def _response(self, response: Response) -> list[Output]:
        method = response.cseq.method
        if method == "INVITE":
            if (
                self._reinvite_out is not None
                and response.cseq.sequence == self._reinvite_out.request.cseq.sequence
            ):
                return self._reinvite_response(response)
            if self._invite_out is not None and response.cseq.sequence == self._invite_out.cseq.sequence:
                return self._invite_response(response)
            return []
        if method == "BYE" and self._bye is not None and response.cseq.sequence == self._bye.cseq.sequence:
            if response.code < 200:
                return []
            retry = self._retry_with_credentials(self._bye, response)
            if retry is not None:
                self._bye = retry
                assert self.dialog is not None
                return [SendRequest(retry, self.dialog.next_hop())]
            return self._end(Ended(self, self._ended_reason or "hangup"))
        return []  # CANCEL's answer: the INVITE's final response tells

    def _invite_response(self, response: Response) -> list[Output]:
        code = response.code
        invite = self._invite_out
        assert invite is not None
        if self.state not in (CallState.CALLING, CallState.PROCEEDING, CallState.CANCELLING):
            return []  # e.g. a late 2xx after a failure: the user agent ACKs retransmissions
        if code < 200:
            out: list[Output] = []
            self._provisional = True
            if response.body:
                self._early_sdp = _sdp_of(response)
            if self._cancel_pending:
                self._cancel_pending = False
                out.append(self._cancel_request())
            elif code > 100 and self.state is CallState.CALLING:
                self.state = CallState.PROCEEDING
                out.append(Ringing(self, code))
            return out
        if code < 300:
            return self._invite_2xx(invite, response)
        if code in (401, 407) and self.state is not CallState.CANCELLING:
            retry = self._retry_with_credentials(invite, response)
            if retry is not None:
                self._invite_out = retry
                self._provisional = False
                return [SendRequest(retry, _next_hop(retry))]
        return self._end(CallFailed(self, code, response.phrase))

    def _invite_2xx(self, invite: Request, response: Response) -> list[Output]:
        try:
            self.dialog = Dialog.from_response(invite, response)
        except DialogError:
            # without a Contact and a To-tag there is no dialog to ACK or BYE
            return self._end(CallFailed(self, 502, "Bad Gateway (2xx without a dialog)"))
        self._read_remote_contact(response)
        out: list[Output] = [SendAck(self.dialog, invite.cseq.sequence)]
        if self.state is CallState.CANCELLING:
            self._ended_reason = "cancelled"
            self.state = CallState.CONFIRMED
            return [*out, *self._send_bye()]
        answer = _sdp_of(response) or self._early_sdp
        if (
            answer is None
            or self._offer_out is None
            or not self.negotiator.answer_acceptable(self._offer_out, answer)
        ):
            self._ended_reason = "bad-answer"
            self.state = CallState.CONFIRMED
            return [*out, *self._send_bye()]
        self.local_sdp, self.remote_sdp = self._offer_out, answer
        out += self._established()
        return out

    def _reinvite_response(self, response: Response) -> list[Output]:
        pending = self._reinvite_out
        assert pending is not None and self.dialog is not None
        code = response.code
        if code < 200 or self.state is not CallState.CONFIRMED:
            return []
        self._reinvite_out = None
        if code < 300:
            self.dialog.accept_response(response)
            out: list[Output] = [SendAck(self.dialog, pending.request.cseq.sequence)]
            self.local_focus = pending.focus
            out += self._read_remote_contact(response)
            answer = _sdp_of(response)
            if (
                answer is None
                or pending.offer is None
                or not self.negotiator.answer_acceptable(pending.offer, answer)
            ):
                self._ended_reason = "bad-answer"
                return [*out, *self._send_bye()]
            self.local_sdp, self.remote_sdp = pending.offer, answer
            out.append(MediaUpdated(self, pending.offer, answer))
            out += self._after_reinvite()
            return out
        if code == 491:
            self._glare_focus = pending.focus
            low, high = (2.1, 4.0) if self.role is Role.UAC else (0.0, 2.0)
            return self._arm(TimerKind.GLARE, low + (high - low) * self._owner.uniform())
        if code in (401, 407):
            retry = self._retry_with_credentials(pending.request, response)
            if retry is not None:
                self._reinvite_out = _OutgoingReinvite(retry, pending.offer, pending.focus)
                return [SendRequest(retry, self.dialog.next_hop())]
        if code in (481, 408):
            self._ended_reason = "dialog-gone"
            return self._send_bye()
        return [ReinviteFailed(self, code, response.phrase), *self._after_reinvite()]

    def _after_reinvite(self) -> list[Output]:
        if self._bye_after_ack:
            self._ended_reason = "hangup"
            return self._send_bye()
        if self._reinvite_after_ack is not None:
            focus, self._reinvite_after_ack = self._reinvite_after_ack, None
            return self._send_reinvite(focus)
        return []

    def _retry_with_credentials(self, request: Request, response: Response) -> Request | None:
        """The request again with Digest credentials (RFC 3261 section 22.2), CSeq+1 and a new branch; None
        when we have no credentials for the realm, or they were refused already."""
        retry = authorize(request, response, self.credentials, self._auth_realms)
        if retry is None:
            return None
        retry.headers.set("Via", f"SIP/2.0/UDP placeholder;branch={new_branch()}")
        sequence = request.cseq.sequence + 1
        if request is not self._invite_out and self.dialog is not None:  # in-dialog: the dialog's next CSeq
            sequence = self.dialog.local_cseq = max(self.dialog.local_cseq + 1, sequence)
        retry.cseq = CSeq(sequence, request.method)
        return retry

    # -- timers ---------------------------------------------------------------------------------------------

    def _timer(self, timer: Timer) -> list[Output]:
        if not self._timers.take(timer):
            return []
        if timer.kind is TimerKind.RETRANSMIT_2XX and self._answer_2xx is not None:
            self._retransmit_interval = min(self._retransmit_interval * 2, self._timers_cfg.t2)
            return [ResendResponse(self._answer_2xx), *self._arm(timer.kind, self._retransmit_interval)]
        if timer.kind is TimerKind.ACK_WAIT and self._answer_2xx is not None:
            self._answer_2xx = None
            self._ended_reason = "no-ack"
            out = self._disarm(TimerKind.RETRANSMIT_2XX)
            if self.state is CallState.ANSWERED:
                self.state = CallState.CONFIRMED
            return [*out, *self._send_bye()]
        if (
            timer.kind is TimerKind.GLARE
            and self._glare_focus is not None
            and self.state is CallState.CONFIRMED
        ):
            focus, self._glare_focus = self._glare_focus, None
            return self._send_reinvite(focus)
        if timer.kind is TimerKind.NO_ANSWER and self.state is CallState.INCOMING:
            return self.reject(480)
        return []


class InviteSessions:
    """Every INVITE session of one user agent.

    `contact` is our SIP URI (host, port, transport), or one per transport (`{"udp": ..., "tcp": ...}`: a
    call answered takes the one of the transport its INVITE came on, its top Via's; a call placed the one
    of the transport its next hop names, as `sip.transport.resolve` picks it). The Contact of a call we
    answer is the Request-URI's user at that address (the room's URI, which a focus's Contact names, RFC
    4579); of a call we place, the address itself. `negotiator` makes one `Negotiator` per session. `incoming_focus` is the focus flag
    of calls we answer until `accept(focus=...)` says otherwise (the gateway answers for rooms: True).
    """

    def __init__(
        self,
        *,
        contact: URI | Mapping[str, URI],
        negotiator: Callable[[], Negotiator],
        timers: Timers | None = None,
        incoming_focus: bool = True,
        no_answer_timeout: float = NO_ANSWER_TIMEOUT,
        uniform: Callable[[], float] = random.random,
        new_tag: Callable[[], str] = new_tag,
    ) -> None:
        self.contacts: dict[str, URI] = (
            {_transport_of(contact): contact}
            if isinstance(contact, URI)
            else {k.lower(): v for k, v in contact.items()}
        )
        if not self.contacts:
            raise ValueError("no Contact")
        self.negotiator = negotiator
        self.timers = timers or Timers()
        self.incoming_focus = incoming_focus
        self.no_answer_timeout = no_answer_timeout
        self.uniform = uniform
        self.new_tag = new_tag
        self._sessions: dict[tuple[str, str], InviteSession] = {}  # (Call-ID, our tag)
        self._by_key: dict[str, InviteSession] = {}
        self._by_invite: dict[
            tuple[str, str, str], InviteSession
        ] = {}  # by the initial INVITE (CANCEL, retransmissions)
        self._serials = itertools.count(1)

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[InviteSession]:
        return list(self._sessions.values())

    def _register(self, session: InviteSession) -> None:
        session.key = f"{session.call_id};{session.local_tag}"
        self._sessions[(session.call_id, session.local_tag)] = session
        self._by_key[session.key] = session

    def _forget(self, session: InviteSession) -> None:
        self._sessions.pop((session.call_id, session.local_tag), None)
        self._by_key.pop(session.key, None)
        if session._invite_key is not None:
            self._by_invite.pop(session._invite_key, None)

    def contact(self, protocol: str) -> URI:
        """Our Contact URI for a transport (the first one given when we have none for it)."""
        return self.contacts.get(protocol.lower()) or next(iter(self.contacts.values()))

    def _contact_for(self, invite: Request) -> URI:
        base = self.contact(invite.via[0].transport)
        return URI(base.scheme, base.host, invite.uri.user, None, base.port, base.parameters)

    # -- placing calls --------------------------------------------------------------------------------------

    def call(
        self,
        target: URI | str,
        *,
        local: Address | str,
        focus: bool = False,
        credentials: Sequence[Credentials] = (),
        route: Sequence[str] = (),
        to: Address | str | None = None,
    ) -> tuple[InviteSession, list[Output]]:
        """Place a call to `target` from `local` (our identity, From) with an offer; `focus` puts isfocus in
        our Contact; `route` is a preloaded route set (an outbound proxy, `<sip:proxy;lr>`)."""
        uri = URI.parse(target) if isinstance(target, str) else target
        from_address = Address.parse(local) if isinstance(local, str) else local
        to_address = Address.parse(to) if isinstance(to, str) else (to or Address(uri))
        session = InviteSession(self, Role.UAC, self.negotiator(), local_focus=focus)
        session.credentials = tuple(credentials)
        session.call_id = new_call_id()
        session.local_tag = self.new_tag()
        session.local_contact_uri = self.contact(_transport_of(_next_hop_of(uri, route)))
        invite = Request("INVITE", uri)
        invite.headers.set("Via", f"SIP/2.0/UDP placeholder;branch={new_branch()}")
        invite.headers.set("Max-Forwards", "70")
        invite.headers.set("From", f"{_without_tag(from_address)};tag={session.local_tag}")
        invite.headers.set("To", str(_without_tag(to_address)))
        invite.headers.set("Call-ID", session.call_id)
        invite.cseq = CSeq(1, "INVITE")
        if route:
            invite.headers.setlist("Route", list(route))
        invite.headers.set("Contact", str(session._contact()))
        invite.headers.set("Allow", ALLOW)
        offer = session.negotiator.offer()
        session._offer_out = offer
        invite.body = serialize_sdp(offer).encode()
        invite.headers.set("Content-Type", SDP_TYPE)
        session._invite_out = invite
        self._register(session)
        return session, [SendRequest(invite, _next_hop(invite))]

    # -- input ----------------------------------------------------------------------------------------------

    def request_received(self, request: Request) -> list[Output]:
        """An INVITE, ACK, CANCEL, BYE, or another request in one of our dialogs."""
        method = request.method
        ours = to_tag(request)
        if method == "CANCEL":
            return self._cancel(request)
        if ours is None:
            if method == "INVITE":
                return self._new_incoming(request)
            if method == "ACK":
                return []
            return [SendResponse(create_response(request, 481))]
        session = self._sessions.get((request.call_id, ours))
        if (
            session is None
            or session.ended
            or session.dialog is None
            or from_tag(request) != session.dialog.remote_tag
        ):
            if method == "ACK":
                return []
            return [SendResponse(create_response(request, 481))]
        if method == "ACK":
            return session._ack_received(request)
        if method == "BYE":
            if not session.dialog.accept_request(request):
                return [
                    SendResponse(session._respond(request, 500, "Server Internal Error (CSeq out of order)"))
                ]
            return session._bye_received(request)
        if method == "INVITE":
            last = session._last_2xx
            if last is not None and last.cseq.sequence == request.cseq.sequence:
                return session._retransmitted_invite(request)
            if session.state not in (CallState.CONFIRMED, CallState.ANSWERED):
                return [SendResponse(session._respond(request, 491))]
            return session._reinvite_received(request)
        if method == "OPTIONS":
            return [SendResponse(session._respond(request, 200, headers=[("Allow", ALLOW)]))]
        return [SendResponse(session._respond(request, 501, headers=[("Allow", ALLOW)]))]

    def _new_incoming(self, invite: Request) -> list[Output]:
        branch = invite.via[0].parameters.get("branch") or ""
        known = self._by_invite.get((invite.call_id, from_tag(invite) or "", branch))
        if known is not None:
            return known._retransmitted_invite(invite)
        session = InviteSession(self, Role.UAS, self.negotiator(), local_focus=self.incoming_focus)
        session.call_id = invite.call_id
        session.local_tag = self.new_tag()
        session.local_contact_uri = self._contact_for(invite)
        self._register(session)
        session._invite_key = (invite.call_id, from_tag(invite) or "", branch)
        self._by_invite[session._invite_key] = session
        return session._incoming(invite)

    def _cancel(self, cancel: Request) -> list[Output]:
        branch = cancel.via[0].parameters.get("branch") or ""
        session = self._by_invite.get((cancel.call_id, from_tag(cancel) or "", branch))
        if session is None or session.ended:
            return [SendResponse(create_response(cancel, 481))]
        return session._cancel_received(cancel)

    def response_received(self, response: Response) -> list[Output]:
        """A provisional or final response to a request a session asked to send."""
        session = self._sessions.get((response.call_id, from_tag(response) or ""))
        if session is None:
            return []
        return session._response(response)

    def timer_fired(self, timer: Timer) -> list[Output]:
        session = self._by_key.get(timer.key)
        if session is None:
            return []
        return session._timer(timer)


def _transport_of(uri: URI) -> str:
    """The transport a request to `uri` goes over (as `sip.transport.resolve` decides it)."""
    transport = uri.parameters.get("transport")
    if transport:
        return transport.lower()
    return "tls" if uri.scheme == "sips" else "udp"


def _next_hop_of(target: URI, route: Sequence[str]) -> URI:
    if route:
        first = Address.parse(route[0]).uri
        if "lr" in first.parameters:
            return first
    return target


def _next_hop(request: Request) -> URI:
    """RFC 3261 section 8.1.2: the first Route when it is a loose router, else the Request-URI."""
    routes = request.headers.getlist("Route")
    if routes:
        first = Address.parse(routes[0].split(",")[0]).uri
        if "lr" in first.parameters:
            return first
    return request.uri


def _sdp_of(message: Request | Response) -> SessionDescription | None:
    if not message.body:
        return None
    try:
        return parse_sdp(message.body.decode("utf-8"))
    except (SdpError, UnicodeDecodeError):
        return None


def _warning(text: str) -> tuple[str, str]:
    """RFC 3261 section 20.43: `399` (miscellaneous) with a quoted text."""
    cleaned = "".join(ch for ch in text if ch.isprintable() and ch not in '"\\')[:150]
    return ("Warning", f'399 coin-gateway "{cleaned}"')


def _without_tag(address: Address) -> Address:
    params = {k: v for k, v in address.parameters.items() if k != "tag"}
    return Address(address.uri, address.name, Parameters(**params))
