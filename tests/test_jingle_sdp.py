"""Jingle contents (xmpp.jingle_content) and their SDP mapping (xmpp.jingle_sdp), on what real clients send."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.sdp import Direction, parse_sdp, serialize_sdp
from xmpp.jingle_content import (
    CandidateType,
    Content,
    Creator,
    Crypto,
    DtlsSetup,
    Encryption,
    Fingerprint,
    Group,
    IceCandidate,
    IceUdpTransport,
    JingleContentError,
    Parameter,
    PayloadType,
    RawUdpTransport,
    RtcpFeedback,
    RtpDescription,
    Senders,
    content_element,
    group_element,
    parse_content,
    parse_group,
)
from xmpp.jingle_sdp import (
    JingleSdpError,
    UnsupportedContent,
    UnsupportedTransport,
    contents_to_sdp,
    direction_to_senders,
    sdp_to_contents,
    senders_to_direction,
)
from xmpp.namespaces import JINGLE, JINGLE_GROUPING

FINGERPRINT = (
    "02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2"
)
NS = (
    "xmlns='urn:xmpp:jingle:1' "
    "xmlns:rtp='urn:xmpp:jingle:apps:rtp:1' xmlns:ice='urn:xmpp:jingle:transports:ice-udp:1' "
    "xmlns:dtls='urn:xmpp:jingle:apps:dtls:0' xmlns:fb='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' "
    "xmlns:hdr='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' xmlns:ssma='urn:xmpp:jingle:apps:rtp:ssma:0' "
    "xmlns:grp='urn:xmpp:jingle:apps:grouping:0'"
)

# Conversations (libwebrtc underneath): an audio+video call, contents named by their SDP mid.
CONVERSATIONS = f"""
<jingle {NS} action='session-initiate' sid='conv1'>
  <content creator='initiator' name='0' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
      <payload-type id='111' name='opus' clockrate='48000' channels='2'>
        <parameter name='minptime' value='10'/>
        <parameter name='useinbandfec' value='1'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
      </payload-type>
      <payload-type id='63' name='red' clockrate='48000' channels='2'>
        <parameter name='' value='111/111'/>
      </payload-type>
      <payload-type id='9' name='G722' clockrate='8000'/>
      <payload-type id='0' name='PCMU' clockrate='8000'/>
      <payload-type id='8' name='PCMA' clockrate='8000'/>
      <payload-type id='13' name='CN' clockrate='8000'/>
      <payload-type id='110' name='telephone-event' clockrate='48000'/>
      <payload-type id='126' name='telephone-event' clockrate='8000'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1'
                  uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='2'
                  uri='http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='3'
                  uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2287128563'>
        <parameter name='cname' value='XmPlCxGp4xEDLp/3'/>
        <parameter name='msid' value='my-media-stream my-audio-track'/>
      </source>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='dBbE' pwd='GtvMaQvEUdPu7rAzMWUXrLHT'>
      <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>{FINGERPRINT}</fingerprint>
      <candidate component='1' foundation='3407393706' generation='0' id='7ba0ea6e-1' ip='192.0.2.3'
                 network='1' port='51678' priority='2122260223' protocol='udp' type='host'/>
      <candidate component='1' foundation='1542216584' generation='0' id='7ba0ea6e-2' ip='198.51.100.7'
                 network='1' port='51678' priority='1686052607' protocol='udp' rel-addr='192.0.2.3'
                 rel-port='51678' type='srflx'/>
    </transport>
  </content>
  <content creator='initiator' name='1' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>
      <payload-type id='96' name='VP8' clockrate='90000'>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='goog-remb'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='ccm' subtype='fir'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' subtype='pli'/>
      </payload-type>
      <payload-type id='97' name='rtx' clockrate='90000'>
        <parameter name='apt' value='96'/>
      </payload-type>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='14' uri='urn:ietf:params:rtp-hdrext:toffset'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1218425187'>
        <parameter name='cname' value='XmPlCxGp4xEDLp/3'/>
      </source>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='3306104497'>
        <parameter name='cname' value='XmPlCxGp4xEDLp/3'/>
      </source>
      <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'>
        <source ssrc='1218425187'/>
        <source ssrc='3306104497'/>
      </ssrc-group>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='dBbE' pwd='GtvMaQvEUdPu7rAzMWUXrLHT'>
      <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>{FINGERPRINT}</fingerprint>
    </transport>
  </content>
  <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>
    <content name='0'/>
    <content name='1'/>
  </group>
</jingle>
"""

# Dino: an audio call with DTLS-SRTP, SDES offered beside it, no senders attribute.
DINO = f"""
<jingle {NS} action='session-initiate' sid='dino1'>
  <content creator='initiator' name='audio'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
      <payload-type id='96' name='opus' clockrate='48000' channels='2'>
        <parameter name='useinbandfec' value='1'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
      </payload-type>
      <payload-type id='97' name='speex' clockrate='32000'/>
      <payload-type id='98' name='speex' clockrate='16000'/>
      <payload-type id='0' name='PCMU' clockrate='8000'/>
      <payload-type id='101' name='telephone-event' clockrate='8000'/>
      <encryption xmlns='urn:xmpp:jingle:apps:rtp:1' required='1'>
        <crypto crypto-suite='AES_CM_128_HMAC_SHA1_80' tag='1'
                key-params='inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32'/>
      </encryption>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1'
                  uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='sBo2' pwd='aSOwjHYd0dRAvPJxzESn0V'>
      <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>{FINGERPRINT}</fingerprint>
      <candidate component='1' foundation='1' generation='0' id='dino-1' ip='2001:db8::7' network='0'
                 port='40612' priority='2015363327' protocol='udp' type='host'/>
      <candidate component='1' foundation='2' generation='0' id='dino-2' ip='203.0.113.9' network='0'
                 port='3478' priority='16777215' protocol='udp' rel-addr='192.0.2.44' rel-port='40613'
                 type='relay'/>
    </transport>
  </content>
  <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>
    <content name='audio'/>
  </group>
</jingle>
"""

# Jitsi Meet (Jicofo's offer): audio, video, and a data channel; Jitsi extensions everywhere.
JITSI = f"""
<jingle {NS} action='session-initiate' sid='jitsi1'>
  <content creator='initiator' name='audio' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' maxptime='60'>
      <payload-type id='111' name='opus' clockrate='48000' channels='2'>
        <parameter name='minptime' value='10'/>
        <parameter name='useinbandfec' value='1'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
      </payload-type>
      <payload-type id='126' name='telephone-event' clockrate='8000'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1'
                  uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='5'
                  uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>
      <extmap-allow-mixed xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1160215287' name='jvb-a0'>
        <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='jvb'/>
        <parameter name='msid' value='mixedmslabel mixedlabelaudio0'/>
      </source>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='4l7a31gd1hkbqq' pwd='60qfs2qtofbtmjsd8v6q5tpv0a'>
      <rtcp-mux/>
      <web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://meet.example.org/colibri-ws/jvb1/x'/>
      <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'
                   required='false'>{FINGERPRINT}</fingerprint>
      <candidate component='1' foundation='1' generation='0' id='6d4d6c9c1' network='0' priority='2130706431'
                 protocol='udp' type='host' ip='198.51.100.20' port='10000'/>
      <candidate component='1' foundation='2' generation='0' id='6d4d6c9c2' network='0' priority='1694498815'
                 protocol='udp' type='srflx' ip='203.0.113.20' port='10000' rel-addr='198.51.100.20'
                 rel-port='10000'/>
    </transport>
  </content>
  <content creator='initiator' name='video' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>
      <payload-type id='100' name='VP8' clockrate='90000'>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='ccm' subtype='fir'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' subtype='pli'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='goog-remb'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
      </payload-type>
      <payload-type id='96' name='rtx' clockrate='90000'>
        <parameter name='apt' value='100'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='ccm' subtype='fir'/>
      </payload-type>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='3'
                  uri='http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='4129412327' name='jvb-v0' videoType='camera'>
        <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='jvb'/>
        <parameter name='msid' value='mixedmslabel mixedlabelvideo0'/>
      </source>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2261282413' name='jvb-v0'>
        <parameter name='msid' value='mixedmslabel mixedlabelvideo0'/>
      </source>
      <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'>
        <source ssrc='4129412327'/>
        <source ssrc='2261282413'/>
      </ssrc-group>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='4l7a31gd1hkbqq' pwd='60qfs2qtofbtmjsd8v6q5tpv0a'>
      <rtcp-mux/>
      <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'
                   required='false'>{FINGERPRINT}</fingerprint>
    </transport>
  </content>
  <content creator='initiator' name='data' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='application'/>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='4l7a31gd1hkbqq' pwd='60qfs2qtofbtmjsd8v6q5tpv0a'>
      <sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' number='5000' protocol='webrtc-datachannel'
               streams='1024'/>
    </transport>
  </content>
  <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>
    <content name='audio'/>
    <content name='video'/>
    <content name='data'/>
  </group>
</jingle>
"""

# A SIP desk phone's offer, the other side of the gateway.
SIP_PHONE = """\
v=0
o=yealink 1710412345 1710412345 IN IP4 192.0.2.10
s=SIP Call
c=IN IP4 192.0.2.10
t=0 0
m=audio 16384 RTP/AVP 0 8 9 101
b=AS:84
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
"""


def jingle(xml: str) -> tuple[list[Content], Group | None]:
    root = etree.fromstring(xml.encode())
    contents = [parse_content(el) for el in root.iterchildren("{" + JINGLE + "}content")]
    groups = [parse_group(el) for el in root.iterchildren("{" + JINGLE_GROUPING + "}group")]
    return contents, groups[0] if groups else None


def rtp_only(contents: list[Content], group: Group | None) -> tuple[list[Content], Group | None]:
    """Jitsi's data channel is not RTP: leave it out (the session layer rejects it on its own)."""
    kept = [c for c in contents if c.description is not None and c.description.payload_types]
    names = [c.name for c in kept]
    return kept, group.model_copy(
        update={"contents": tuple(n for n in group.contents if n in names)}
    ) if group else None


def strip_unmapped(value: Any) -> Any:
    """A dump without what SDP cannot carry (see the module docstring of xmpp.jingle_sdp)."""
    if isinstance(value, dict):
        dropped = {"other_attributes", "extensions", "disposition", "remote_candidate", "required"}
        return {k: strip_unmapped(v) for k, v in value.items() if k not in dropped}
    if isinstance(value, list | tuple):
        return [strip_unmapped(v) for v in value]
    return value


def mapped(contents: list[Content]) -> list[Any]:
    out = []
    for content in contents:
        dump = content.model_dump(mode="json")
        transport = dump["transport"]
        if transport is not None:
            if transport.pop("rtcp_mux", False):  # Jitsi's transport-level rtcp-mux
                dump["description"]["rtcp_mux"] = True
            for candidate in transport["candidates"]:
                del candidate["id"]  # SDP carries no candidate ids
        out.append(strip_unmapped(dump))
    return out


CLIENTS = {"conversations": CONVERSATIONS, "dino": DINO, "jitsi": JITSI}


# -- the content model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", list(CLIENTS))
def test_contents_parse_and_serialise_round_trip(client: str) -> None:
    contents, group = jingle(CLIENTS[client])
    for content in contents:
        el = content_element(content)
        assert parse_content(el) == content
        again = content_element(parse_content(etree.fromstring(etree.tostring(el))))
        assert etree.tostring(again) == etree.tostring(el)
    assert group is not None
    assert parse_group(group_element(group)) == group


def test_conversations_content_is_typed() -> None:
    (audio, video), group = jingle(CONVERSATIONS)
    assert (audio.creator, audio.name, audio.senders) == (Creator.INITIATOR, "0", Senders.BOTH)
    assert audio.description is not None
    opus, red = audio.description.payload_types[:2]
    assert (opus.id, opus.name, opus.clockrate, opus.channels) == (111, "opus", 48000, 2)
    assert opus.parameters == (
        Parameter(name="minptime", value="10"),
        Parameter(name="useinbandfec", value="1"),
    )
    assert [fb.type for fb in opus.rtcp_feedback] == ["transport-cc"]
    assert red.parameters == (Parameter(name="", value="111/111"),)
    assert [h.id for h in audio.description.header_extensions] == [1, 2, 3]
    assert audio.description.sources[0].parameters[1] == Parameter(
        name="msid", value="my-media-stream my-audio-track"
    )
    assert audio.description.rtcp_mux
    transport = audio.transport
    assert isinstance(transport, IceUdpTransport)
    assert (transport.ufrag, transport.pwd) == ("dBbE", "GtvMaQvEUdPu7rAzMWUXrLHT")
    assert transport.fingerprints[0].setup is DtlsSetup.ACTPASS
    assert transport.fingerprints[0].value == FINGERPRINT
    assert transport.candidates[1].type is CandidateType.SRFLX
    assert (transport.candidates[1].rel_addr, transport.candidates[1].rel_port) == ("192.0.2.3", 51678)
    assert video.description is not None
    assert [(g.semantics, g.ssrcs) for g in video.description.ssrc_groups] == [
        ("FID", (1218425187, 3306104497))
    ]
    assert group == Group(semantics="BUNDLE", contents=("0", "1"))


def test_jitsi_extensions_are_kept() -> None:
    (audio, video, data), group = jingle(JITSI)
    assert audio.description is not None
    assert audio.description.other_attributes == {"maxptime": "60"}
    assert audio.description.extmap_allow_mixed
    source = audio.description.sources[0]
    assert source.other_attributes == {"name": "jvb-a0"}
    assert [etree.QName(e.element()).localname for e in source.extensions] == ["ssrc-info"]
    assert isinstance(audio.transport, IceUdpTransport)
    assert audio.transport.rtcp_mux
    assert audio.transport.fingerprints[0].other_attributes == {"required": "false"}
    assert [etree.QName(e.element()).localname for e in audio.transport.extensions] == ["web-socket"]
    assert video.description is not None
    assert video.description.sources[0].other_attributes == {"name": "jvb-v0", "videoType": "camera"}
    assert data.description is not None
    assert data.description.payload_types == ()
    assert isinstance(data.transport, IceUdpTransport)
    assert [etree.QName(e.element()).namespace for e in data.transport.extensions] == [
        "urn:xmpp:jingle:transports:dtls-sctp:1"
    ]
    written = etree.tostring(content_element(audio)).decode()
    assert 'maxptime="60"' in written
    assert "wss://meet.example.org/colibri-ws/jvb1/x" in written
    assert group is not None
    assert group.contents == ("audio", "video", "data")


def test_foreign_description_and_transport_are_kept() -> None:
    content = parse_content(
        etree.fromstring(
            b"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='file' disposition='attachment'>"
            b"<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file><name>a.txt</name></file>"
            b"</description><transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='x'/></content>"
        )
    )
    assert (content.description, content.transport, content.disposition) == (None, None, "attachment")
    assert len(content.extensions) == 2
    assert parse_content(content_element(content)) == content


BAD_CONTENTS = {
    "no creator": ("<content xmlns='urn:xmpp:jingle:1' name='a'/>", "@creator"),
    "bad creator": ("<content xmlns='urn:xmpp:jingle:1' creator='mallory' name='a'/>", "@creator"),
    "no name": ("<content xmlns='urn:xmpp:jingle:1' creator='initiator'/>", "content@name"),
    "bad senders": (
        "<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='a' senders='all'/>",
        "@senders",
    ),
    "no media": ("<description xmlns='urn:xmpp:jingle:apps:rtp:1'/>", "description[1]@media"),
    "payload-type id text": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='pcmu'/></description>",
        "payload-type[1]@id",
    ),
    "payload-type id 200": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/>"
        "<payload-type id='200'/></description>",
        "payload-type[2]@id",
    ),
    "negative clockrate": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>"
        "<payload-type id='96' clockrate='-1'/></description>",
        "@clockrate",
    ),
    "parameter without name": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='96'>"
        "<parameter value='1'/></payload-type></description>",
        "parameter[1]@name",
    ),
    "two trr-int": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>"
        "<rtcp-fb-trr-int xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' value='1'/>"
        "<rtcp-fb-trr-int xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' value='2'/></description>",
        "description[1]",
    ),
    "rtcp-fb without type": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>"
        "<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0'/></description>",
        "rtcp-fb[1]@type",
    ),
    "hdrext id 0": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>"
        "<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='0' uri='urn:x'/></description>",
        "rtp-hdrext[1]@id",
    ),
    "ssrc too big": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>"
        "<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='4294967296'/></description>",
        "source[1]@ssrc",
    ),
    "bad encryption required": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><encryption required='yes'/>"
        "</description>",
        "encryption[1]@required",
    ),
    "crypto without key": (
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><encryption>"
        "<crypto crypto-suite='AES_CM_128_HMAC_SHA1_80' tag='1'/></encryption></description>",
        "crypto[1]@key-params",
    ),
    "candidate without ip": (
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1'"
        " id='c' port='1' priority='1' protocol='udp' type='host'/></transport>",
        "candidate[1]@ip",
    ),
    "candidate port 70000": (
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1'"
        " id='c' ip='1.2.3.4' port='70000' priority='1' protocol='udp' type='host'/></transport>",
        "candidate[1]@port",
    ),
    "candidate type": (
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1'"
        " id='c' ip='1.2.3.4' port='1' priority='1' protocol='udp' type='local'/></transport>",
        "candidate[1]@type",
    ),
    "fingerprint not hex": (
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>"
        "<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>zz</fingerprint>"
        "</transport>",
        "fingerprint[1]",
    ),
    "fingerprint setup": (
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>"
        "<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='both'>AB</fingerprint>"
        "</transport>",
        "fingerprint[1]@setup",
    ),
    "raw-udp candidate without id": (
        "<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>"
        "<candidate component='1' generation='0' ip='1.2.3.4' port='1'/></transport>",
        "candidate[1]@id",
    ),
    "two transports": (
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'/>"
        "<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/>",
        "content[@name='a']",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CONTENTS))
def test_bad_contents_raise_jingle_content_error(name: str) -> None:
    inner, where = BAD_CONTENTS[name]
    wrapped = f"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='a'>{inner}</content>"
    xml = inner if inner.startswith("<content") else wrapped
    with pytest.raises(JingleContentError) as info:
        parse_content(etree.fromstring(xml.encode()))
    assert where in str(info.value)


def test_only_a_content_element_is_a_content() -> None:
    with pytest.raises(JingleContentError, match="expected a"):
        parse_content(etree.fromstring(b"<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>"))


@pytest.mark.parametrize(
    "xml",
    [
        "<group xmlns='urn:xmpp:jingle:apps:grouping:0'><content name='a'/></group>",
        "<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content/></group>",
        "<group xmlns='urn:xmpp:jingle:1' semantics='BUNDLE'/>",
    ],
)
def test_bad_groups_raise_jingle_content_error(xml: str) -> None:
    with pytest.raises(JingleContentError):
        parse_group(etree.fromstring(xml.encode()))


_ATTRIBUTE_VALUE = st.text(alphabet=st.sampled_from("0123456789-+ abcdefxyz:./"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["component", "foundation", "generation", "id", "ip", "network", "port",
                                        "priority", "protocol", "rel-addr", "rel-port", "type", "tcptype"]),
                       _ATTRIBUTE_VALUE),
       st.sampled_from(["creator", "name", "senders", "disposition"]), _ATTRIBUTE_VALUE)  # fmt: skip
def test_arbitrary_attributes_give_a_content_or_jingle_content_error(
    candidate: dict[str, str], content_attribute: str, value: str
) -> None:
    root = etree.fromstring(
        b"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='a'>"
        b"<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate/></transport></content>"
    )
    root.set(content_attribute, value)
    for k, v in candidate.items():
        root[0][0].set(k, v)
    try:
        content = parse_content(root)
    except JingleContentError:
        return
    assert parse_content(content_element(content)) == content


# -- Jingle -> SDP ---------------------------------------------------------------------------------------------


def test_conversations_offer_as_sdp() -> None:
    contents, group = jingle(CONVERSATIONS)
    sd = contents_to_sdp(contents, group, session_id=42, session_version=1)
    text = serialize_sdp(sd)
    assert text.startswith("v=0\r\no=- 42 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n")
    lines = text.split("\r\n")
    for line in (
        "m=audio 51678 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 198.51.100.7",  # the srflx candidate is the default one (RFC 8445 section 5.1.4)
        "a=mid:0",
        "a=mid:1",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=ice-ufrag:dBbE",
        "a=ice-pwd:GtvMaQvEUdPu7rAzMWUXrLHT",
        f"a=fingerprint:sha-256 {FINGERPRINT}",
        "a=setup:actpass",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=candidate:3407393706 1 udp 2122260223 192.0.2.3 51678 typ host generation 0 network-id 1",
        "a=candidate:1542216584 1 udp 1686052607 198.51.100.7 51678 typ srflx raddr 192.0.2.3 rport 51678"
        " generation 0 network-id 1",
        "a=ssrc:2287128563 cname:XmPlCxGp4xEDLp/3",
        "a=ssrc:2287128563 msid:my-media-stream my-audio-track",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",  # no candidate (bundled): port 9, RFC 8840
        "c=IN IP4 0.0.0.0",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 nack pli",
        "a=fmtp:97 apt=96",
        "a=ssrc-group:FID 1218425187 3306104497",
    ):
        assert line in lines, line
    assert parse_sdp(text) == sd


def test_dino_offer_as_sdp() -> None:
    contents, group = jingle(DINO)
    [media] = contents_to_sdp(contents, group).media
    assert media.proto == "UDP/TLS/RTP/SAVPF"  # DTLS wins; the SDES line stays for a peer that wants it
    assert [c.tag for c in media.crypto] == [1]
    assert media.direction is None  # no senders attribute: no direction attribute (both by default)
    assert media.connection is not None
    assert (media.connection.address, media.port) == ("203.0.113.9", 3478)  # relay before host
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32" in (
        serialize_sdp(contents_to_sdp(contents, group))
    )


def test_jitsi_offer_as_sdp() -> None:
    contents, group = rtp_only(*jingle(JITSI))
    sd = contents_to_sdp(contents, group)
    text = serialize_sdp(sd)
    assert "a=group:BUNDLE audio video\r\n" in text
    audio, video = sd.media
    assert audio.rtcp_mux and video.rtcp_mux
    assert audio.extmap_allow_mixed
    assert [(s.ssrc, s.attribute, s.value) for s in video.ssrcs] == [
        (4129412327, "msid", "mixedmslabel mixedlabelvideo0"),
        (2261282413, "msid", "mixedmslabel mixedlabelvideo0"),
    ]
    assert "a=rtcp-fb:96 ccm fir\r\n" in text


def test_jitsi_data_channel_is_unsupported() -> None:
    contents, group = jingle(JITSI)
    with pytest.raises(UnsupportedContent, match="content 'data'"):
        contents_to_sdp(contents, group)


@pytest.mark.parametrize("client", list(CLIENTS))
def test_jingle_to_sdp_to_jingle_keeps_what_the_table_maps(client: str) -> None:
    contents, group = rtp_only(*jingle(CLIENTS[client]))
    text = serialize_sdp(contents_to_sdp(contents, group))
    back, back_group = sdp_to_contents(parse_sdp(text))
    assert mapped(back) == mapped(contents)
    assert back_group == group


def test_jingle_to_sdp_drops_only_the_unmapped() -> None:
    (audio, _), _ = jingle(CONVERSATIONS)
    [back], _ = sdp_to_contents(contents_to_sdp([audio]))
    assert isinstance(back.transport, IceUdpTransport) and isinstance(audio.transport, IceUdpTransport)
    assert [c.id for c in back.transport.candidates] == ["c0-0", "c0-1"]  # SDP carries no candidate ids
    assert back.transport.candidates[0] == audio.transport.candidates[0].model_copy(update={"id": "c0-0"})


# -- SDP -> Jingle ---------------------------------------------------------------------------------------------


def test_sip_phone_offer_as_jingle() -> None:
    [content], group = sdp_to_contents(parse_sdp(SIP_PHONE))
    assert group is None
    assert (content.creator, content.name, content.senders) == (Creator.INITIATOR, "audio", Senders.BOTH)
    assert isinstance(content.transport, RawUdpTransport)
    assert [(c.component, c.ip, c.port) for c in content.transport.candidates] == [
        (1, "192.0.2.10", 16384),
        (2, "192.0.2.10", 16385),  # implicit RTCP port (RFC 3605), as XEP-0293's example has it
    ]
    d = content.description
    assert d is not None
    assert [(pt.id, pt.name, pt.clockrate, pt.ptime) for pt in d.payload_types] == [
        (0, "PCMU", 8000, 20),
        (8, "PCMA", 8000, 20),
        (9, "G722", 8000, 20),
        (101, "telephone-event", 8000, 20),
    ]
    assert d.payload_types[3].parameters == (Parameter(name="", value="0-15"),)
    assert [(b.type, b.value) for b in d.bandwidths] == [("AS", "84")]
    xml = etree.tostring(content_element(content)).decode()
    assert "urn:xmpp:jingle:transports:raw-udp:1" in xml


def test_sdp_to_jingle_to_sdp_keeps_the_sip_phone_offer() -> None:
    sd = parse_sdp(SIP_PHONE)
    contents, group = sdp_to_contents(sd)
    again = contents_to_sdp(contents, group, session_id=1710412345, session_version=1710412345)
    [m], [m2] = sd.media, again.media
    assert m2.mid == "audio"  # a=mid is added: harmless for a phone, needed for BUNDLE
    assert m2.model_copy(update={"mid": None, "connection": None}) == m.model_copy(
        update={"connection": None}
    )
    assert m2.connection == sd.connection  # the session-level c= moves into the m= section


def test_sdp_to_jingle_to_sdp_keeps_a_webrtc_offer() -> None:
    contents, group = rtp_only(*jingle(CONVERSATIONS))
    sd = parse_sdp(serialize_sdp(contents_to_sdp(contents, group)))
    again = contents_to_sdp(*sdp_to_contents(sd))
    assert again == sd


def test_unmapped_sdp_pieces_are_the_documented_ones() -> None:
    """a=end-of-candidates, a=ice-options, a=rtcp-rsize and other untyped attributes have no Jingle form."""
    text = serialize_sdp(contents_to_sdp(*rtp_only(*jingle(JITSI))))
    extra = text.replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\na=rtcp-rsize\r\na=ice-options:trickle\r\n", 1)
    assert contents_to_sdp(*sdp_to_contents(parse_sdp(extra))) == parse_sdp(text)


# -- direction and proto ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("senders", "initiator", "responder"),
    [
        (Senders.BOTH, Direction.SENDRECV, Direction.SENDRECV),
        (Senders.INITIATOR, Direction.SENDONLY, Direction.RECVONLY),
        (Senders.RESPONDER, Direction.RECVONLY, Direction.SENDONLY),
        (Senders.NONE, Direction.INACTIVE, Direction.INACTIVE),
    ],
)
def test_senders_and_direction(senders: Senders, initiator: Direction, responder: Direction) -> None:
    assert senders_to_direction(senders) is initiator
    assert senders_to_direction(senders, initiator_view=False) is responder
    assert direction_to_senders(initiator) is senders
    assert direction_to_senders(responder, initiator_view=False) is senders


def test_an_answer_flips_direction_for_content_and_header_extensions() -> None:
    (audio, _), _ = jingle(CONVERSATIONS)
    assert audio.description is not None
    hdrext = audio.description.header_extensions[0].model_copy(update={"senders": Senders.INITIATOR})
    description = audio.description.model_copy(update={"header_extensions": (hdrext,)})
    accept = audio.model_copy(update={"senders": Senders.INITIATOR, "description": description})
    [offer_side] = contents_to_sdp([accept]).media
    [answer_side] = contents_to_sdp([accept], initiator_view=False).media
    assert (offer_side.direction, offer_side.extmaps[0].direction) == (Direction.SENDONLY, Direction.SENDONLY)
    assert (answer_side.direction, answer_side.extmaps[0].direction) == (
        Direction.RECVONLY,
        Direction.RECVONLY,
    )
    [back], _ = sdp_to_contents(contents_to_sdp([accept], initiator_view=False), initiator_view=False)
    assert back.senders is Senders.INITIATOR
    assert back.description is not None
    assert back.description.header_extensions[0].senders is Senders.INITIATOR


def plain_content(**description: Any) -> Content:
    values: dict[str, Any] = {
        "media": "audio",
        "payload_types": (PayloadType(id=0, name="PCMU", clockrate=8000),),
    }
    transport = description.pop("transport", IceUdpTransport(ufrag="abcd", pwd="0123456789abcdefghijkl"))
    return Content(
        creator=Creator.INITIATOR,
        name="a",
        description=RtpDescription(**values | description),
        transport=transport,
    )


def test_proto_follows_what_the_content_carries() -> None:
    sdes = Encryption(
        cryptos=(Crypto(crypto_suite="AES_CM_128_HMAC_SHA1_80", key_params="inline:x", tag="1"),)
    )
    nack = (RtcpFeedback(type="nack"),)
    dtls = IceUdpTransport(
        ufrag="abcd", pwd="0123456789abcdefghijkl", fingerprints=(Fingerprint(hash="sha-1", value="AB"),)
    )
    cases = [
        (plain_content(), "RTP/AVP"),
        (plain_content(rtcp_feedback=nack), "RTP/AVPF"),
        (plain_content(trr_int=0), "RTP/AVPF"),
        (plain_content(encryption=sdes), "RTP/SAVP"),
        (plain_content(encryption=sdes, rtcp_feedback=nack), "RTP/SAVPF"),
        (plain_content(transport=dtls), "UDP/TLS/RTP/SAVPF"),
        (plain_content(transport=RawUdpTransport()), "RTP/AVP"),
    ]
    for content, proto in cases:
        assert contents_to_sdp([content]).media[0].proto == proto
    [sdes_back], _ = sdp_to_contents(contents_to_sdp([plain_content(encryption=sdes)]))
    assert sdes_back.description is not None and sdes_back.description.encryption is not None
    assert sdes_back.description.encryption.required  # RTP/SAVP: SRTP is required


def test_raw_udp_rtcp_on_another_address() -> None:
    text = SIP_PHONE.replace("a=sendrecv\n", "a=sendrecv\na=rtcp:5000 IN IP4 192.0.2.99\n")
    [content], _ = sdp_to_contents(parse_sdp(text))
    assert isinstance(content.transport, RawUdpTransport)
    assert [(c.ip, c.port) for c in content.transport.candidates] == [
        ("192.0.2.10", 16384),
        ("192.0.2.99", 5000),
    ]
    assert "a=rtcp:5000 IN IP4 192.0.2.99\r\n" in serialize_sdp(contents_to_sdp([content]))


def test_trr_int_and_wildcard_feedback() -> None:
    text = SIP_PHONE.replace("RTP/AVP", "RTP/AVPF") + "a=rtcp-fb:* nack\na=rtcp-fb:0 trr-int 100\n"
    [content], _ = sdp_to_contents(parse_sdp(text))
    assert content.description is not None
    assert [fb.type for fb in content.description.rtcp_feedback] == ["nack"]
    assert content.description.payload_types[0].trr_int == 100
    out = serialize_sdp(contents_to_sdp([content]))
    assert "a=rtcp-fb:* nack\r\n" in out and "a=rtcp-fb:0 trr-int 100\r\n" in out


# -- what cannot be converted ----------------------------------------------------------------------------------


def test_non_rtp_application_is_unsupported() -> None:
    content = parse_content(
        etree.fromstring(
            b"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='file'>"
            b"<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'/>"
            b"<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'/></content>"
        )
    )
    with pytest.raises(UnsupportedContent, match="file-transfer"):
        contents_to_sdp([content])


def test_other_transports_are_unsupported() -> None:
    content = plain_content(transport=None)
    with pytest.raises(UnsupportedTransport, match="no transport"):
        contents_to_sdp([content])
    s5b = content.model_copy(
        update={"extensions": (parse_content(etree.fromstring(
            b"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='x'>"
            b"<transport xmlns='urn:xmpp:jingle:transports:s5b:1'/></content>")).extensions)}
    )  # fmt: skip
    with pytest.raises(UnsupportedTransport, match="s5b"):
        contents_to_sdp([s5b])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (plain_content(payload_types=(PayloadType(id=96, name="opus"),)), "no clockrate"),
        (plain_content().model_copy(update={"name": "my audio"}), "content 'my audio'"),
        (plain_content(bandwidths=({"type": "AS", "value": "lots"},)), "bandwidth"),
        (plain_content(sources=({"ssrc": 1},)), "source 1 has no parameter"),
        (
            plain_content(
                transport=IceUdpTransport(
                    candidates=(
                        IceCandidate(component=1, foundation="1", id="c", ip="1.2.3.4 5", port=1, priority=1,
                                     protocol="udp", type=CandidateType.HOST),
                    )
                )
            ),
            "candidate 'c'",
        ),
    ],
)  # fmt: skip
def test_contents_that_cannot_be_sdp(content: Content, message: str) -> None:
    with pytest.raises(JingleSdpError, match=message):
        contents_to_sdp([content])


def test_bad_groups_and_names() -> None:
    content = plain_content()
    with pytest.raises(JingleSdpError, match="same name"):
        contents_to_sdp([content, content])
    with pytest.raises(JingleSdpError, match="unknown contents"):
        contents_to_sdp([content], Group(semantics="BUNDLE", contents=("a", "b")))
    with pytest.raises(JingleSdpError, match="no content"):
        contents_to_sdp([])


SDP_HEAD = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n"


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (SDP_HEAD + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\nc=IN IP4 0.0.0.0\n", UnsupportedContent,
         "UDP/DTLS/SCTP"),
        (SDP_HEAD + "m=image 9 udptl t38\nc=IN IP4 0.0.0.0\n", UnsupportedContent, "udptl"),
        (SDP_HEAD + "m=audio 9 RTP/AVP pcmu\nc=IN IP4 0.0.0.0\n", JingleSdpError, "not an RTP payload type"),
        (SDP_HEAD + "m=audio 9 RTP/AVP 0\n", JingleSdpError, "no c= line"),
        (SDP_HEAD + "m=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\na=rtpmap:96 opus/48000\n", JingleSdpError,
         "does not list"),
        (SDP_HEAD + "m=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\na=rtcp-fb:8 nack\n", JingleSdpError, "does not list"),
        (SDP_HEAD + "m=audio 9 RTP/AVPF 0\nc=IN IP4 1.2.3.4\na=rtcp-fb:0 trr-int x\n", JingleSdpError, "trr-int"),
        (SDP_HEAD + "m=audio 9 UDP/TLS/RTP/SAVPF 0\nc=IN IP4 1.2.3.4\n", JingleSdpError, "without a=fingerprint"),
        (SDP_HEAD + "m=audio 9 UDP/TLS/RTP/SAVPF 0\nc=IN IP4 1.2.3.4\na=fingerprint:sha-1 AB\n",
         UnsupportedTransport, "DTLS without ICE"),
        (SDP_HEAD + "m=audio 9 RTP/AVP 0\na=ice-ufrag:abcd\na=candidate:1 1 udp 1 1.2.3.4 9 typ weird\n",
         JingleSdpError, "candidate type"),
        (SDP_HEAD + "a=group:BUNDLE a b\nm=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\na=mid:a\n", JingleSdpError,
         "unknown mids"),
        (SDP_HEAD + "a=group:BUNDLE a\na=group:LS a\nm=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\na=mid:a\n",
         JingleSdpError, "more than one a=group"),
        (SDP_HEAD + "m=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\na=mid:a\nm=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\n"
         "a=mid:a\n", JingleSdpError, "same a=mid"),
        (SDP_HEAD, JingleSdpError, "no m= line"),
    ],
)  # fmt: skip
def test_sdp_that_cannot_be_jingle(body: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        sdp_to_contents(parse_sdp(body))


def test_media_without_mid_get_distinct_names() -> None:
    body = SDP_HEAD + "c=IN IP4 1.2.3.4\nm=audio 9 RTP/AVP 0\nm=audio 11 RTP/AVP 0\nm=video 13 RTP/AVP 31\n"
    contents, _ = sdp_to_contents(parse_sdp(body), creator="responder")
    assert [(c.name, c.creator) for c in contents] == [
        ("audio-1", Creator.RESPONDER),
        ("audio-2", Creator.RESPONDER),
        ("video", Creator.RESPONDER),
    ]


def test_session_level_ice_and_dtls_apply_to_every_media() -> None:
    body = (
        SDP_HEAD
        + "a=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijkl\na=fingerprint:sha-1 AB:CD\na=setup:active\n"
        "a=recvonly\nm=audio 9 UDP/TLS/RTP/SAVPF 0\nc=IN IP4 0.0.0.0\n"
    )
    [content], _ = sdp_to_contents(parse_sdp(body))
    assert content.senders is Senders.RESPONDER
    assert isinstance(content.transport, IceUdpTransport)
    assert content.transport.ufrag == "abcd"
    assert content.transport.fingerprints[0].setup is DtlsSetup.ACTIVE
