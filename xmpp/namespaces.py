"""XML namespaces of the XMPP extensions the gateway speaks, one constant each, named after the XEP text."""

from __future__ import annotations

JINGLE = "urn:xmpp:jingle:1"  # XEP-0166
JINGLE_ERRORS = "urn:xmpp:jingle:errors:1"  # XEP-0166 section 11
JINGLE_RTP = "urn:xmpp:jingle:apps:rtp:1"  # XEP-0167
JINGLE_RTP_AUDIO = "urn:xmpp:jingle:apps:rtp:audio"  # XEP-0167 section 11.3 (disco feature)
JINGLE_RTP_VIDEO = "urn:xmpp:jingle:apps:rtp:video"  # XEP-0167 section 11.3 (disco feature)
JINGLE_RTP_INFO = "urn:xmpp:jingle:apps:rtp:info:1"  # XEP-0167 section 7
JINGLE_RTP_ERRORS = "urn:xmpp:jingle:apps:rtp:errors:1"  # XEP-0167 section 6
JINGLE_ICE_UDP = "urn:xmpp:jingle:transports:ice-udp:1"  # XEP-0176
JINGLE_RAW_UDP = "urn:xmpp:jingle:transports:raw-udp:1"  # XEP-0177
JINGLE_DTLS = "urn:xmpp:jingle:apps:dtls:0"  # XEP-0320
JINGLE_GROUPING = "urn:xmpp:jingle:apps:grouping:0"  # XEP-0338
JINGLE_SSMA = "urn:xmpp:jingle:apps:rtp:ssma:0"  # XEP-0339 (source-specific media attributes)
JINGLE_RTCP_FB = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"  # XEP-0293
JINGLE_RTP_HDREXT = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"  # XEP-0294
JINGLE_MESSAGE = "urn:xmpp:jingle-message:0"  # XEP-0353
COIN = "urn:xmpp:coin:1"  # XEP-0298
COIN_LEGACY = "urn:xmpp:jingle:apps:coin:1"  # SylkServer's Coin namespace (accepted, never sent)
COIN_JITSI = "urn:xmpp:coin"  # Jitsi's disco feature for Coin
HINTS = "urn:xmpp:hints"  # XEP-0334
DISCO_INFO = "http://jabber.org/protocol/disco#info"  # XEP-0030
CAPS = "http://jabber.org/protocol/caps"  # XEP-0115
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"  # RFC 6120 section 8.3 (stanza error conditions)
COMPONENT = "jabber:component:accept"  # XEP-0114 (the component stream's default namespace)
