"""sip.offer_answer (RFC 3264 over gateway.sdp) and sip.focus (RFC 4579 isfocus in Contact)."""

from __future__ import annotations

import pytest
from sipmessage import URI

from gateway.sdp import Direction, parse_sdp
from sip.focus import ContactError, first_contact, focus_contact, parse_contact
from sip.offer_answer import AudioNegotiator
from tests.sip_wire import request

# what pjsua2 2.15 offers (trimmed), with a video stream besides
PJSUA_OFFER = """v=0
o=- 3913 3913 IN IP4 127.0.0.1
s=pjmedia
b=AS:84
t=0 0
a=X-nat:0
m=audio 41000 RTP/AVP 96 97 98 0 8 120 121
c=IN IP4 127.0.0.1
a=rtcp:41001 IN IP4 127.0.0.1
a=sendonly
a=rtpmap:96 speex/16000
a=rtpmap:97 speex/8000
a=rtpmap:98 speex/32000
a=rtpmap:120 telephone-event/16000
a=fmtp:120 0-16
a=rtpmap:121 telephone-event/8000
a=fmtp:121 0-16
m=video 0 RTP/AVP 96
"""


def negotiator() -> AudioNegotiator:
    return AudioNegotiator("127.0.0.1", 42000)


def test_answer_takes_shared_codecs_in_the_offer_order_with_the_offer_numbers() -> None:
    answer = negotiator().answer(parse_sdp(PJSUA_OFFER))
    assert answer is not None
    audio, video = answer.media
    assert (audio.port, audio.formats) == (42000, ("0", "8", "121"))
    assert [r.encoding for r in audio.rtpmaps] == ["PCMU", "PCMA", "telephone-event"]
    assert audio.fmtp("121") is not None and audio.fmtp("121").parameters == "0-16"  # type: ignore[union-attr]
    assert audio.direction is Direction.RECVONLY  # sendonly mirrored
    assert (video.port, video.formats) == (0, ("96",))  # refused: port 0, the offered formats
    assert answer.connection is not None and answer.connection.address == "127.0.0.1"


@pytest.mark.parametrize(
    "media_line",
    [
        "m=video 5000 RTP/AVP 96",  # no audio
        "m=audio 5000 RTP/AVP 96",  # no shared codec (96 has no rtpmap we know)
        "m=audio 5000 RTP/SAVP 0",  # another profile
        "m=audio 0 RTP/AVP 0",  # a removed stream
        "m=audio 5000 RTP/AVP 101",  # DTMF alone is no audio
    ],
)
def test_nothing_acceptable_gives_no_answer(media_line: str) -> None:
    offer = f"v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n{media_line}\n"
    if "101" in media_line:
        offer += "a=rtpmap:101 telephone-event/8000\n"
    assert negotiator().answer(parse_sdp(offer)) is None


def test_the_origin_version_moves_only_when_the_description_changes() -> None:
    n = negotiator()
    first = n.offer()
    assert n.offer() == first  # the same description: the same version (RFC 3264 section 8)
    n.port = 42002
    changed = n.offer()
    assert changed.origin.session_id == first.origin.session_id
    assert changed.origin.session_version == first.origin.session_version + 1


def test_answer_acceptable_checks_lines_types_and_formats() -> None:
    n = negotiator()
    offer = n.offer()
    good = parse_sdp("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 8\n")
    assert n.answer_acceptable(offer, good)
    foreign = parse_sdp("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 9\n")
    assert not n.answer_acceptable(offer, foreign)
    extra = parse_sdp(
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 8\nm=audio 0 RTP/AVP 0\n"
    )
    assert not n.answer_acceptable(offer, extra)
    refused = parse_sdp("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=audio 0 RTP/AVP 9\n")
    assert n.answer_acceptable(offer, refused)  # a refused stream may name anything


# -- isfocus ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "uri", "focus"),
    [
        ("<sip:conf@10.0.0.1:5060>;isfocus", "sip:conf@10.0.0.1:5060", True),
        ('"Bridge; A" <sip:conf@host;transport=tcp>;expires=60;isfocus', "sip:conf@host;transport=tcp", True),
        ("sip:conf@host;isfocus", "sip:conf@host", True),  # no <>: a header parameter (RFC 3261 s. 20)
        ("<sip:conf@host;isfocus>", "sip:conf@host;isfocus", False),  # a URI parameter is not the feature tag
        ('<sip:peer@host;ob>;+sip.instance="<urn:uuid:1;2>";ISFOCUS', "sip:peer@host;ob", True),
        ("<sip:peer@host>", "sip:peer@host", False),
    ],
)
def test_contact_isfocus_is_read_from_the_header_parameters(value: str, uri: str, focus: bool) -> None:
    info = parse_contact(value)
    assert str(info.uri) == uri
    assert info.is_focus is focus


def test_first_contact_of_a_message() -> None:
    message = request(
        """
        INVITE sip:room@gw SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1
        From: <sip:a@b>;tag=1
        To: <sip:room@gw>
        Call-ID: c
        CSeq: 1 INVITE
        Contact: <sip:conf@bridge>;isfocus, <sip:other@bridge>
        """
    )
    info = first_contact(message)
    assert info is not None and info.is_focus and str(info.uri) == "sip:conf@bridge"
    with pytest.raises(ContactError):
        parse_contact("<not a uri")


def test_our_contact_with_and_without_isfocus() -> None:
    uri = URI.parse("sip:room@127.0.0.1:5060;transport=tcp")
    assert str(focus_contact(uri, focus=True)) == "<sip:room@127.0.0.1:5060;transport=tcp>;isfocus"
    assert str(focus_contact(uri, focus=False)) == "<sip:room@127.0.0.1:5060;transport=tcp>"
