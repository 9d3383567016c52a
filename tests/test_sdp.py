"""The SDP model (gateway.sdp): real-world bodies, round trips, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.sdp import (
    MAX_SDP_SIZE,
    Attribute,
    Candidate,
    Connection,
    Crypto,
    Direction,
    Extmap,
    MediaDescription,
    Origin,
    RtcpFb,
    SdpError,
    SessionDescription,
    Setup,
    SsrcAttribute,
    parse_sdp,
    serialize_sdp,
)

# A desk phone's offer (Yealink/Linphone shape): plain RTP, static codecs, DTMF events.
SIP_PHONE_OFFER = """\
v=0
o=yealink 1710412345 1710412345 IN IP4 192.0.2.10
s=SIP Call
c=IN IP4 192.0.2.10
b=AS:84
t=0 0
m=audio 16384 RTP/AVP 0 8 9 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
"""

# A browser's offer (Chrome shape): BUNDLE, ICE, DTLS, opus, VP8 with RTX, feedback, header extensions, SSRCs.
WEBRTC_OFFER = """\
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS stream
m=audio 54400 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 203.0.113.7
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 10.0.0.5 rport 54400 generation 0 network-cost 999
a=candidate:1467250027 1 udp 2122260223 10.0.0.5 54400 typ host generation 0 network-id 1
a=candidate:1853887674 1 tcp 1518280447 10.0.0.5 9 typ host tcptype active generation 0
a=end-of-candidates
a=ice-ufrag:8hhY
a=ice-pwd:asd88fgpdd777uzjYhagZg1aa
a=ice-options:trickle
a=fingerprint:sha-256 02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=sendrecv
a=msid:stream audio-track
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:3735928559 cname:Yv/wvbCdsDW2Prgd
a=ssrc:3735928559 msid:stream audio-track
m=video 54400 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 203.0.113.7
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:8hhY
a=ice-pwd:asd88fgpdd777uzjYhagZg1aa
a=ice-options:trickle
a=fingerprint:sha-256 02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=sendonly
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtcp-fb:* trr-int 100
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=ssrc-group:FID 2301230316 386328120
a=ssrc:2301230316 cname:Yv/wvbCdsDW2Prgd
a=ssrc:386328120 cname:Yv/wvbCdsDW2Prgd
"""

# An SDES-SRTP offer (RFC 4568 section 6.1 shape).
SDES_OFFER = """\
v=0
o=sam 2890844526 2890842807 IN IP4 10.47.16.5
s=SRTP Discussion
i=A discussion about Secure RTP
u=http://www.example.com/seminars/srtp.pdf
e=marge@example.com (Marge Simpson)
p=+1 617 555-6011
c=IN IP4 168.2.17.12
t=2873397496 2873404696
r=7d 1h 0 25h
z=2882844526 -1h 2898848070 0
m=audio 49170 RTP/SAVP 0
i=the audio stream
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP
a=crypto:2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP
a=maxptime:40.5
m=video 51372/2 RTP/SAVP 31
a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32
a=recvonly
"""

BODIES = [SIP_PHONE_OFFER, WEBRTC_OFFER, SDES_OFFER]


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def test_sip_phone_offer_is_typed() -> None:
    sd = parse_sdp(SIP_PHONE_OFFER)
    assert sd.origin == Origin(
        username="yealink", session_id=1710412345, session_version=1710412345, address="192.0.2.10"
    )
    assert sd.name == "SIP Call"
    assert sd.connection == Connection(address="192.0.2.10")
    assert [(b.type, b.value) for b in sd.bandwidths] == [("AS", 84)]
    [audio] = sd.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        16384,
        "RTP/AVP",
        ("0", "8", "9", "101"),
    )
    assert [(r.payload_type, r.encoding, r.clock_rate, r.channels) for r in audio.rtpmaps] == [
        (0, "PCMU", 8000, None),
        (8, "PCMA", 8000, None),
        (9, "G722", 8000, None),
        (101, "telephone-event", 8000, None),
    ]
    fmtp = audio.fmtp("101")
    assert fmtp is not None
    assert fmtp.parameters == "0-15"
    assert audio.ptime == "20"
    assert audio.direction is Direction.SENDRECV
    assert audio.attributes == ()


def test_webrtc_offer_is_typed() -> None:
    sd = parse_sdp(WEBRTC_OFFER)
    assert [(g.semantics, g.mids) for g in sd.groups] == [("BUNDLE", ("0", "1"))]
    assert sd.extmap_allow_mixed
    assert sd.attributes == (Attribute(name="msid-semantic", value=" WMS stream"),)
    audio, video = sd.media
    assert (audio.mid, audio.proto, audio.rtcp_mux, audio.end_of_candidates) == (
        "0",
        "UDP/TLS/RTP/SAVPF",
        True,
        True,
    )
    assert audio.rtcp is not None
    assert (audio.rtcp.port, audio.rtcp.connection) == (9, Connection(address="0.0.0.0"))
    assert (audio.ice_ufrag, audio.ice_pwd, audio.ice_options) == (
        "8hhY",
        "asd88fgpdd777uzjYhagZg1aa",
        ("trickle",),
    )
    assert [f.hash for f in audio.fingerprints] == ["sha-256"]
    assert audio.setup is Setup.ACTPASS
    srflx, host, tcp = audio.candidates
    assert srflx == Candidate(
        foundation="842163049",
        component=1,
        transport="udp",
        priority=1677729535,
        address="203.0.113.7",
        port=54400,
        type="srflx",
        rel_addr="10.0.0.5",
        rel_port=54400,
        generation=0,
        extensions=(("network-cost", "999"),),
    )
    assert (host.network_id, host.generation) == (1, 0)
    assert (tcp.transport, tcp.tcptype) == ("tcp", "active")
    assert audio.extmaps[1] == Extmap(
        id=2, direction=Direction.RECVONLY, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    )
    opus = audio.rtpmaps[0]
    assert (opus.payload_type, opus.encoding, opus.clock_rate, opus.channels) == (111, "opus", 48000, 2)
    assert audio.rtcp_fbs == (RtcpFb(format="111", type="transport-cc"),)
    assert audio.ssrcs[1] == SsrcAttribute(ssrc=3735928559, attribute="msid", value="stream audio-track")
    assert audio.attributes == (Attribute(name="msid", value="stream audio-track"),)
    assert video.direction is Direction.SENDONLY
    assert video.rtcp_fbs[1] == RtcpFb(format="96", type="ccm", subtype="fir")
    assert video.rtcp_fbs[-1] == RtcpFb(format="*", type="trr-int", subtype="100")
    assert [(g.semantics, g.ssrcs) for g in video.ssrc_groups] == [("FID", (2301230316, 386328120))]
    assert video.attributes == (Attribute(name="rtcp-rsize"),)


def test_sdes_offer_is_typed() -> None:
    sd = parse_sdp(SDES_OFFER)
    assert (sd.information, sd.uri) == (
        "A discussion about Secure RTP",
        "http://www.example.com/seminars/srtp.pdf",
    )
    assert sd.emails == ("marge@example.com (Marge Simpson)",)
    assert sd.phones == ("+1 617 555-6011",)
    assert sd.timings[0].repeats == ("7d 1h 0 25h",)
    assert sd.time_zones == "2882844526 -1h 2898848070 0"
    audio, video = sd.media
    assert audio.information == "the audio stream"
    assert audio.crypto[0] == Crypto(
        tag=1,
        suite="AES_CM_128_HMAC_SHA1_80",
        key_params="inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32",
        session_params="KDR=1 UNENCRYPTED_SRTCP",
    )
    assert audio.crypto[1].session_params == "FEC_ORDER=FEC_SRTP"
    assert audio.maxptime == "40.5"
    assert (video.port, video.port_count, video.direction) == (51372, 2, Direction.RECVONLY)


@pytest.mark.parametrize("body", BODIES, ids=["sip-phone", "webrtc", "sdes"])
def test_round_trips(body: str) -> None:
    sd = parse_sdp(body)
    text = serialize_sdp(sd)
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert serialize_sdp(parse_sdp(text)) == text  # a fixed point
    assert parse_sdp(text) == sd
    assert parse_sdp(crlf(body)) == sd  # CRLF and LF read the same


@pytest.mark.parametrize("body", BODIES, ids=["sip-phone", "webrtc", "sdes"])
def test_serialising_keeps_every_line(body: str) -> None:
    """Lines may move (the serialiser has one order), but none is lost or changed."""
    assert sorted(serialize_sdp(parse_sdp(body)).split("\r\n")) == sorted(crlf(body).split("\r\n"))


def test_a_model_built_in_code_round_trips() -> None:
    sd = SessionDescription(
        origin=Origin(session_id=1, session_version=2),
        media=(
            MediaDescription(
                media="audio",
                port=9,
                proto="RTP/AVPF",
                formats=("96",),
                candidates=(
                    Candidate(
                        foundation="a",
                        component=1,
                        transport="UDP",
                        priority=1,
                        address="::1",
                        port=5,
                        type="relay",
                        extensions=(("ufrag", "x"),),
                    ),
                ),
                rtcp_fbs=(RtcpFb(format="96", type="ccm", subtype="tmmbr", parameters=("smaxpr=120",)),),
                attributes=(Attribute(name="x-custom", value="a: b"), Attribute(name="x-flag")),
            ),
        ),
    )
    assert parse_sdp(serialize_sdp(sd)) == sd
    assert "a=rtcp-fb:96 ccm tmmbr smaxpr=120\r\n" in serialize_sdp(sd)


def test_unknown_attributes_are_kept_in_order() -> None:
    body = SIP_PHONE_OFFER + "a=x-b:2\na=x-a\na=rtcp-mux\na=x-b:1\n"
    [audio] = parse_sdp(body).media
    assert audio.rtcp_mux
    assert audio.attributes == (
        Attribute(name="x-b", value="2"),
        Attribute(name="x-a"),
        Attribute(name="x-b", value="1"),
    )
    assert serialize_sdp(parse_sdp(body)).endswith("a=x-b:2\r\na=x-a\r\na=x-b:1\r\n")


def test_attributes_typed_at_one_level_are_kept_at_the_other() -> None:
    body = SIP_PHONE_OFFER.replace("t=0 0\n", "t=0 0\na=rtcp-mux\na=ice-lite\n") + "a=group:LS 1\n"
    sd = parse_sdp(body)
    assert sd.attributes == (Attribute(name="rtcp-mux"), Attribute(name="ice-lite"))
    assert sd.media[0].attributes == (Attribute(name="group", value="LS 1"),)
    assert parse_sdp(serialize_sdp(sd)) == sd


def test_session_level_ice_and_dtls() -> None:
    body = (
        "v=0\no=- 1 1 IN IP6 ::1\ns= \nt=0 0\na=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijkl\n"
        "a=fingerprint:sha-1 AB:CD\na=setup:passive\na=inactive\na=extmap:3/sendonly urn:x attr1 attr2\n"
        "m=audio 9 RTP/AVP 0\n"
    )
    sd = parse_sdp(body)
    assert (sd.name, sd.ice_ufrag, sd.setup, sd.direction) == (" ", "abcd", Setup.PASSIVE, Direction.INACTIVE)
    assert sd.extmaps == (Extmap(id=3, direction=Direction.SENDONLY, uri="urn:x", attributes="attr1 attr2"),)
    assert parse_sdp(serialize_sdp(sd)) == sd


HOSTILE = {
    "empty": ("", None),
    "garbage": ("\x01\x02hello world", 1),
    "missing v=": ("o=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n", 1),
    "version 1": ("v=1\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n", 1),
    "two v=": ("v=0\nv=0\n", 2),
    "missing o=": ("v=0\ns=-\nt=0 0\n", None),
    "missing s=": ("v=0\no=- 1 1 IN IP4 1.2.3.4\nt=0 0\n", None),
    "missing t=": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\n", None),
    "short o=": ("v=0\no=- 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n", 2),
    "unknown line type": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nx=1\n", 5),
    "upper-case type": ("v=0\nO=- 1 1 IN IP4 1.2.3.4\n", 2),
    "no =": ("v=0\nhello\n", 2),
    "short m=": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 1 RTP/AVP\n", 5),
    "non-numeric port": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio port RTP/AVP 0\n", 5),
    "port out of range": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 65536 RTP/AVP 0\n", 5),
    "unicode digits": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio ١٢ RTP/AVP 0\n", 5),
    "o= in media": (
        "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\no=- 1 1 IN IP4 1.2.3.4\n",
        6,
    ),
    "NUL": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\x00\nt=0 0\n", 3),
    "CR inside a line": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=a\rb\nt=0 0\n", 3),
    "two mids": (SIP_PHONE_OFFER + "a=mid:a\na=mid:b\n", 16),
    "bad rtpmap": (SIP_PHONE_OFFER + "a=rtpmap:96 opus\n", 15),
    "payload type over 127": (SIP_PHONE_OFFER + "a=rtpmap:200 opus/48000\n", 15),
    "bad candidate": (SIP_PHONE_OFFER + "a=candidate:1 1 udp 1 1.2.3.4 5 host\n", 15),
    "candidate odd extension": (SIP_PHONE_OFFER + "a=candidate:1 1 udp 1 1.2.3.4 5 typ host raddr\n", 15),
    "candidate rport text": (SIP_PHONE_OFFER + "a=candidate:1 1 udp 1 1.2.3.4 5 typ host rport x\n", 15),
    "bad fingerprint": (SIP_PHONE_OFFER + "a=fingerprint:sha-256 not-hex\n", 15),
    "bad setup": (SIP_PHONE_OFFER + "a=setup:sideways\n", 15),
    "bad direction value": (SIP_PHONE_OFFER + "a=inactive:yes\n", 15),
    "two directions": (SIP_PHONE_OFFER + "a=inactive\n", 15),
    "bad extmap direction": (SIP_PHONE_OFFER + "a=extmap:1/up urn:x\n", 15),
    "bad ssrc": (SIP_PHONE_OFFER + "a=ssrc:4294967296 cname:x\n", 15),
    "ssrc without attribute": (SIP_PHONE_OFFER + "a=ssrc:1\n", 15),
    "bad crypto": (SIP_PHONE_OFFER + "a=crypto:x AES inline:abc\n", 15),
    "bad ptime": (SIP_PHONE_OFFER + "a=ptime:fast\n", 15),
    "bad attribute name": (SIP_PHONE_OFFER + "a=:x\n", 15),
    "bad bandwidth": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nb=AS\nt=0 0\n", 4),
    "r= before t=": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nr=1d 1h 0\nt=0 0\n", 4),
    "bad c=": ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4\nt=0 0\n", 4),
    "lone surrogate": ("v=0\ns=\ud800\n", None),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_raises_sdp_error(name: str) -> None:
    body, line = HOSTILE[name]
    with pytest.raises(SdpError) as info:
        parse_sdp(body)
    assert info.value.line == line
    if line is not None:
        assert str(info.value).startswith(f"line {line}: ")


def test_size_limit() -> None:
    body = SIP_PHONE_OFFER + "a=x-pad:" + "x" * MAX_SDP_SIZE + "\n"
    with pytest.raises(SdpError, match="65536"):
        parse_sdp(body)
    with pytest.raises(SdpError, match="bytes"):  # counted in UTF-8 bytes, not characters
        parse_sdp(SIP_PHONE_OFFER + "a=x-pad:" + "é" * (MAX_SDP_SIZE // 2) + "\n")
    parse_sdp(SIP_PHONE_OFFER + "a=x-pad:" + "x" * (MAX_SDP_SIZE - len(SIP_PHONE_OFFER) - 20) + "\n")


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (Attribute, {"name": "x", "value": "1\r\nm=audio 1 RTP/AVP 0"}),
        (Attribute, {"name": "a b"}),
        (Connection, {"address": "1.2.3.4\r\na=x"}),
        (SsrcAttribute, {"ssrc": 1, "attribute": "cname", "value": " leading space"}),
        (RtcpFb, {"format": "96", "type": "ccm", "parameters": ("x",)}),  # parameters need a subtype
        (Candidate, {"foundation": "1", "component": 1, "transport": "udp", "priority": 1, "address": "a",
                     "port": 1, "type": "host", "extensions": (("generation", "0"),)}),
    ],
)  # fmt: skip
def test_models_refuse_values_that_would_not_come_back(cls: type, values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        cls(**values)


def test_untyped_attribute_cannot_shadow_a_typed_one() -> None:
    with pytest.raises(ValidationError):
        MediaDescription(
            media="audio", port=1, proto="RTP/AVP", formats=("0",), attributes=(Attribute(name="mid"),)
        )
    SessionDescription(origin=Origin(session_id=1, session_version=1), attributes=(Attribute(name="mid"),))


def check_parse(text: str) -> None:
    """Either SdpError, or a model that survives a round trip."""
    try:
        sd = parse_sdp(text)
    except SdpError:
        return
    out = serialize_sdp(sd)
    assert parse_sdp(out) == sd
    assert serialize_sdp(parse_sdp(out)) == out


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_a_model_or_sdp_error(text: str) -> None:
    check_parse(text)


_VALUE = st.text(alphabet=st.sampled_from("0123456789abAZ :/;=*.-\t\r\x00é"), max_size=14)
_LINE = st.one_of(
    st.tuples(st.sampled_from("vosiuepcbtrzkamx"), _VALUE).map(lambda t: f"{t[0]}={t[1]}"),
    st.tuples(
        st.sampled_from(
            [
                "rtpmap",
                "fmtp",
                "rtcp-fb",
                "extmap",
                "mid",
                "sendrecv",
                "inactive",
                "rtcp",
                "rtcp-mux",
                "ice-ufrag",
                "ice-pwd",
                "ice-options",
                "candidate",
                "end-of-candidates",
                "fingerprint",
                "setup",
                "ssrc",
                "ssrc-group",
                "crypto",
                "ptime",
                "maxptime",
                "group",
                "extmap-allow-mixed",
                "x-other",
            ]
        ),
        _VALUE,
    ).map(lambda t: f"a={t[0]}:{t[1]}"),
    st.sampled_from(
        [
            "m=audio 9 RTP/AVP 0 96",
            "a=candidate:1 1 udp 5 1.2.3.4 9 typ host raddr 1.1.1.1 rport 7 x y",
            "a=ssrc:5 msid:a b",
            "a=crypto:1 S inline:k a b",
            "a=extmap:4/sendonly urn:u a=b c",
            "a=rtcp:9 IN IP4 1.2.3.4",
            "a=fmtp:96 a=b; c",
            "a=rtcp-fb:* nack pli",
            "a=sendonly",
            "c=IN IP6 ::1",
        ]
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_sdp_shaped_text_gives_a_model_or_sdp_error(lines: list[str], newline: str) -> None:
    head = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"]
    check_parse(newline.join(head + lines) + newline)


# -- generated models: parse(serialize(m)) == m -----------------------------------------------------------------

_word = st.text(alphabet=st.sampled_from("aZ09:/.+-=*#\x7fé\u00a0"), min_size=1, max_size=6)
_rest = st.one_of(
    st.just(""), st.builds(lambda a, b, c: a + b + c, _word, st.sampled_from(["", " ", "  ", "\t"]), _word)
)
_text = st.text(alphabet=st.sampled_from("a :\t=\x0bé"), max_size=6)
_name = st.text(alphabet=st.sampled_from("abx-.9"), min_size=1, max_size=5)
_uint = st.integers(0, 2**32 - 1)
_direction = st.none() | st.sampled_from(Direction)
_connection = st.builds(Connection, nettype=_word, addrtype=_word, address=_word)
_candidate = st.builds(
    Candidate,
    foundation=_word,
    component=st.integers(1, 256),
    transport=_word,
    priority=_uint,
    address=_word,
    port=st.integers(0, 65535),
    type=_word,
    rel_addr=st.none() | _word,
    rel_port=st.none() | st.integers(0, 65535),
    tcptype=st.none() | _word,
    generation=st.none() | _uint,
    network_id=st.none() | _uint,
    extensions=st.lists(st.tuples(_word.filter(lambda w: w not in {"raddr", "rport", "tcptype", "generation",
                                                                    "network-id", "typ"}), _word), max_size=2),
)  # fmt: skip
_media = st.builds(
    MediaDescription,
    media=_word,
    port=st.integers(0, 65535),
    port_count=st.none() | st.integers(1, 65535),
    proto=_word,
    formats=st.lists(_word, min_size=1, max_size=3),
    information=st.none() | _text,
    connection=st.none() | _connection,
    mid=st.none() | _word,
    direction=_direction,
    rtcp_mux=st.booleans(),
    ice_options=st.lists(_word, max_size=2),
    setup=st.none() | st.sampled_from(Setup),
    extmaps=st.lists(st.builds(Extmap, id=st.integers(1, 65535), direction=_direction, uri=_word, attributes=_rest),
                     max_size=2),
    rtcp_fbs=st.lists(st.builds(lambda f, t, s, p: RtcpFb(format=f, type=t, subtype=s, parameters=p if s else ()),
                                _word, _word, st.none() | _word, st.lists(_word, max_size=2)), max_size=2),
    crypto=st.lists(st.builds(Crypto, tag=st.integers(0, 999_999_999), suite=_word, key_params=_word,
                              session_params=_rest), max_size=2),
    candidates=st.lists(_candidate, max_size=2),
    ssrcs=st.lists(st.builds(SsrcAttribute, ssrc=_uint, attribute=_word.filter(lambda w: ":" not in w),
                             value=st.none() | _rest), max_size=2),
    attributes=st.lists(st.builds(Attribute, name=_name, value=st.none() | _text), max_size=2),
)  # fmt: skip
_session = st.builds(
    SessionDescription,
    origin=st.builds(Origin, username=_word, session_id=st.integers(0, 10**31), session_version=_uint,
                     address=_word),
    name=_text,
    emails=st.lists(_text, max_size=1),
    connection=st.none() | _connection,
    direction=_direction,
    ice_ufrag=st.none() | _word,
    attributes=st.lists(st.builds(Attribute, name=_name, value=st.none() | _text), max_size=2),
    media=st.lists(_media, max_size=2),
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_session)
def test_generated_models_round_trip(sd: SessionDescription) -> None:
    assert parse_sdp(serialize_sdp(sd)) == sd
