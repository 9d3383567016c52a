"""Media for relayed calls: a Jingle leg (ICE-UDP + DTLS-SRTP, on aiortc), a SIP leg (RTP/AVP, symmetric
RTP), the relay between them (forwarding or opus <-> G.711 transcoding, RFC 4733 events carried across),
and the call that ends itself when a leg goes silent or fails.

One concept per module:

    rtp.py          RTP/RTCP bytes, RFC 4733 events, rewriting one outgoing stream (sans-IO)
    rtcp.py         RTCP sender/receiver reports (sans-IO)
    sdes.py         SDES-SRTP keys (RFC 4568) for the SIP leg
    codecs.py       codecs and the transcoder (PyAV)
    ports.py        UDP ports from a configured range on a configured address
    leg.py          what every leg offers the relay
    rtp_leg.py      the SIP side's leg: RTP/AVP over UDP, latching
    jingle_leg.py   the Jingle side's leg: ICE + DTLS-SRTP, transport-info both ways
    description.py  offer/answer for each leg: SDP media descriptions, Jingle contents (ICE or raw UDP)
    hold.py         hold mapped between SDP directions and Jingle senders / rtp:info
    relay.py        the two directions between legs (sans-IO apart from the legs' send)
    call.py         a call's legs, relay and watchdog; why it ended

How the bridge uses it for an XMPP client calling a room backed by a SIP focus:

    ports = PortRange("192.0.2.10", 20000, 40000)
    jingle = JingleLeg(ports, controlling=False)               # we answer the Jingle session
    jingle.on_local_candidate = send_transport_info            # trickle out (optional)
    accept = await jingle_answer(jingle, initiate_content)     # -> session-accept content
    sip = RtpLeg(ports); await sip.open()
    offer = sdp_session(sdp_offer(sip, [OPUS, PCMU, PCMA]), ports.address)   # -> INVITE body
    sdp_apply_answer(sip, parse_sdp(answer_body))               # <- 200 OK body
    await jingle.add_remote(transport_info_transport)          # <- each transport-info (trickle in)
    call = MediaCall(jingle, sip, silence_timeout=30, on_end=hang_up_both_sides)
    call.start()
    ...
    await call.close()                                         # on BYE / session-terminate
"""
