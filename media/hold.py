"""Hold and mute mapped between the two signalling sides (RFC 3264 section 8.4 directions; XEP-0167
`senders` via content-modify and the `urn:xmpp:jingle:apps:rtp:info:1` `<hold/>`/`<active/>`/`<mute/>`
informational messages).

The gateway stands in for each peer towards the other one: when the SIP peer holds (its SDP says
sendonly: it plays music, listens to nothing), the Jingle client should be told that the far end now only
sends - senders = the gateway's own Jingle role - plus `<hold/>`; and the other way round. Pure mapping:
the bridge sends the re-INVITE or the Jingle actions; `description` already applies each side's own
direction to its leg.
"""

from __future__ import annotations

from gateway import sdp
from xmpp.jingle_content import Senders


def _roles(gateway_is_initiator: bool) -> tuple[Senders, Senders]:
    """(the gateway's role, the Jingle peer's role) in the Jingle session."""
    return (
        (Senders.INITIATOR, Senders.RESPONDER)
        if gateway_is_initiator
        else (Senders.RESPONDER, Senders.INITIATOR)
    )


def jingle_senders_for_sip(direction: sdp.Direction | None, *, gateway_is_initiator: bool) -> Senders:
    """The Jingle `senders` that mirror the SIP peer's direction (its own view, RFC 3264)."""
    gateway, peer = _roles(gateway_is_initiator)
    return {
        sdp.Direction.SENDRECV: Senders.BOTH,
        sdp.Direction.SENDONLY: gateway,  # the SIP peer only sends: through us, only we send to the client
        sdp.Direction.RECVONLY: peer,
        sdp.Direction.INACTIVE: Senders.NONE,
    }[direction or sdp.Direction.SENDRECV]


def sip_direction_for_jingle(senders: Senders | None, *, gateway_is_initiator: bool) -> sdp.Direction:
    """The SDP direction (the gateway's view, for its re-INVITE or answer) that mirrors Jingle `senders`."""
    _, peer = _roles(gateway_is_initiator)
    senders = senders or Senders.BOTH
    if senders == Senders.BOTH:
        return sdp.Direction.SENDRECV
    if senders == Senders.NONE:
        return sdp.Direction.INACTIVE
    # the Jingle peer only sends: towards the SIP side we only send too
    return sdp.Direction.SENDONLY if senders == peer else sdp.Direction.RECVONLY


def rtp_info_for_sip(direction: sdp.Direction | None) -> str:
    """XEP-0167 section 7 informational message for the Jingle peer: `hold` or `active`."""
    return "active" if direction in (None, sdp.Direction.SENDRECV) else "hold"


def sip_direction_for_rtp_info(info: str) -> sdp.Direction | None:
    """`<hold/>` from the Jingle peer: re-INVITE the SIP side sendonly (RFC 6337 section 5.3);
    `<active/>`: sendrecv; `<mute/>`/`<unmute/>` and anything else: no SDP change."""
    return {"hold": sdp.Direction.SENDONLY, "active": sdp.Direction.SENDRECV}.get(info)
