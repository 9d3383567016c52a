"""The sip: <-> xmpp: address map (gateway.addresses): a table per rule, the bijection as hypothesis
properties, and hostile input (which must give AddressError, never another exception)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.addresses import AddressError, AddressMap, is_sip, is_xmpp, scheme_of

MAP = AddressMap(
    component_domain="sip.example.org", sip_domain="gw.example.org", shared_domains=frozenset({"example.com"})
)

# -- canonical pairs: each side is the normalised form and the image of the other ------------------------

SHARED = [
    ("sip:juliet@example.com;gr=balcony", "xmpp:juliet@example.com/balcony"),
    ("sip:juliet@example.com", "xmpp:juliet@example.com"),
    ("sip:example.com", "xmpp:example.com"),
    ("sip:example.com;gr=x", "xmpp:example.com/x"),
    ("sip:d'artagnan@example.com", "xmpp:d\\27artagnan@example.com"),
    ("sip:ab%5C@example.com", "xmpp:ab\\@example.com"),  # a trailing backslash is kept, not escaped
    (
        "sip:juliet@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "xmpp:juliet@example.com/urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    ),
    ("sip:juliet@example.com;gr=my%20phone", "xmpp:juliet@example.com/my%20phone"),
    ("sip:juliet@example.com;gr=a/b%40c", "xmpp:juliet@example.com/a/b@c"),
    # XEP-0106 section 5.3, with its invalid "%zy" written "%25zy" (see test_xep_0106_sip_example)
    (
        "sip:here's_a_wild_&_/cr%25zy/_address@example.com",
        "xmpp:here\\27s_a_wild_\\26_\\2fcr%25zy\\2f_address@example.com",
    ),
]

SIP_ELSEWHERE = [
    ("sip:alice@example.net", "xmpp:alice\\40example.net@sip.example.org"),
    ("sip:alice@example.net;gr=urn:uuid:1", "xmpp:alice\\40example.net@sip.example.org/urn:uuid:1"),
    ("sip:example.net", "xmpp:\\40example.net@sip.example.org"),
    ("sip:conf@127.0.0.1:5060", "xmpp:conf\\40127.0.0.1\\3a5060@sip.example.org"),
    ("sip:alice@[2001:db8::1]", "xmpp:alice\\40%5B2001\\3adb8\\3a\\3a1%5D@sip.example.org"),
    ("sip:bob@xn--bcher-kva.de", "xmpp:bob\\40xn--bcher-kva.de@sip.example.org"),
    ("sip:j%C3%BCrgen@example.net", "xmpp:jürgen\\40example.net@sip.example.org"),
    ("sip:romeo%40montague.lit@example.net", "xmpp:romeo\\40montague.lit\\40example.net@sip.example.org"),
    ("sip:a%20b@example.net", "xmpp:a\\20b\\40example.net@sip.example.org"),
    ("sip:alice%20@example.net", "xmpp:alice\\20\\40example.net@sip.example.org"),  # \20 not last here
    ("sip:c%3A%5C5commas@example.net", "xmpp:c\\3a\\5c5commas\\40example.net@sip.example.org"),
    ("sip:%5C@example.net", "xmpp:\\\\40example.net@sip.example.org"),
    ("sip:100%25@example.net", "xmpp:100%25\\40example.net@sip.example.org"),
    ("sip:alice;x=1@example.net", "xmpp:alice;x=1\\40example.net@sip.example.org"),
    ("sip:x@sip.example.org", "xmpp:x\\40sip.example.org@sip.example.org"),
]

XMPP_ELSEWHERE = [
    ("sip:romeo%40montague.lit@gw.example.org", "xmpp:romeo@montague.lit"),
    ("sip:romeo%40montague.lit@gw.example.org;gr=orchard", "xmpp:romeo@montague.lit/orchard"),
    ("sip:%40montague.lit@gw.example.org", "xmpp:montague.lit"),
    ("sip:d%5C27artagnan%40musketeers.lit@gw.example.org", "xmpp:d\\27artagnan@musketeers.lit"),
    ("sip:foo%5C5cbar%40montague.lit@gw.example.org", "xmpp:foo\\5cbar@montague.lit"),  # carried as it is
    ("sip:romeo%40xn--bcher-kva.de@gw.example.org", "xmpp:romeo@bücher.de"),
    ("sip:romeo%40192.0.2.1@gw.example.org", "xmpp:romeo@192.0.2.1"),
    ("sip:romeo%40%5B2001%3Adb8%3A%3A1%5D@gw.example.org", "xmpp:romeo@[2001:db8::1]"),
    ("sip:j%C3%BCrgen%40example.org@gw.example.org", "xmpp:jürgen@example.org"),
    ("sip:romeo%40montague.lit@gw.example.org;gr=a%20b/c%40d", "xmpp:romeo@montague.lit/a%20b/c@d"),
    ("sip:romeo%25montague.lit%40gw.example@gw.example.org", "xmpp:romeo%25montague.lit@gw.example"),
]

NUMBERS = [
    ("sip:+15551234@gw.example.org;user=phone", "xmpp:+15551234@sip.example.org"),
    ("sip:+15551234@gw.example.org;user=phone;gr=desk", "xmpp:+15551234@sip.example.org/desk"),
]

GATEWAY = [
    ("sip:gw.example.org", "xmpp:sip.example.org"),
    ("sip:gw.example.org;gr=x", "xmpp:sip.example.org/x"),
    ("sip:conf@gw.example.org", "xmpp:conf@sip.example.org"),
    ("sip:conf%20room@gw.example.org", "xmpp:conf\\20room@sip.example.org"),
    ("sip:+1-555@gw.example.org;user=phone", "xmpp:+1555@sip.example.org"),
]

CANONICAL_PAIRS = SHARED + SIP_ELSEWHERE + XMPP_ELSEWHERE + GATEWAY[:4] + NUMBERS


@pytest.mark.parametrize(("sip", "xmpp"), CANONICAL_PAIRS)
def test_canonical_pairs_map_to_each_other(sip: str, xmpp: str) -> None:
    assert MAP.to_xmpp(sip) == xmpp
    assert MAP.to_sip(xmpp) == sip
    assert MAP.to_sip(sip) == sip
    assert MAP.to_xmpp(xmpp) == xmpp


def test_a_number_with_separators_is_normalised() -> None:
    assert MAP.to_xmpp(GATEWAY[4][0]) == GATEWAY[4][1]


def test_issue_examples() -> None:
    assert MAP.to_sip("xmpp:juliet@example.com/balcony") == "sip:juliet@example.com;gr=balcony"
    assert MAP.to_xmpp("sip:alice@example.net") == "xmpp:alice\\40example.net@sip.example.org"
    assert MAP.to_sip("xmpp:romeo@montague.lit") == "sip:romeo%40montague.lit@gw.example.org"
    assert (
        MAP.to_xmpp('"Alice" <sip:alice@example.net>')
        == '"Alice" <xmpp:alice\\40example.net@sip.example.org>'
    )
    assert (
        MAP.to_sip('"Alice" <xmpp:alice\\40example.net@sip.example.org>') == '"Alice" <sip:alice@example.net>'
    )


def test_xep_0106_sip_example() -> None:
    """XEP-0106 5.3 with example.com shared. The XEP's URI holds `%zy`, which is not valid percent-encoding
    (RFC 3986): it is refused rather than guessed; written `%25zy` it maps to the XEP's JID."""
    with pytest.raises(AddressError, match="two hex digits"):
        MAP.to_xmpp("sip:here%27s_a_wild_%26_%2Fcr%zy%2F_address@example.com")
    jid = MAP.to_xmpp("sip:here%27s_a_wild_%26_%2Fcr%25zy%2F_address@example.com")
    assert jid == "xmpp:here\\27s_a_wild_\\26_\\2fcr%25zy\\2f_address@example.com"
    # The XEP's transformed JID, as a bare JID (a literal '%'):
    assert MAP.to_xmpp("here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address@example.com") == jid


def test_rfc_5122_examples() -> None:
    """RFC 5122 section 2.8's nasty node and repulsive resource: decoded part by part, re-encoded alike."""
    node = "xmpp:nasty!%23$%25()*+,-.;=%3F%5B%5C%5D%5E_%60%7B%7C%7D~node@example.com"
    assert MAP.to_xmpp(node) == "xmpp:nasty!%23$%25()*+,-.;=%3F%5B\\%5D%5E_%60%7B%7C%7D~node@example.com"
    assert MAP.to_sip(node) == "sip:nasty!%23$%25()*+,-.;=?%5B%5C%5D%5E_%60%7B%7C%7D~node@example.com"
    resource = (
        "xmpp:node@example.com/"
        "repulsive%20!%23%22$%25&'()*+,-.%2F:;%3C=%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~resource"
    )
    normal = MAP.to_xmpp(resource)
    assert normal == (
        "xmpp:node@example.com/"
        "repulsive%20!%23%22$%25&'()*+,-./:;%3C=%3E%3F@%5B\\%5D%5E_%60%7B%7C%7D~resource"
    )
    assert MAP.to_xmpp(MAP.to_sip(resource)) == normal


# -- normalisation: (input, xmpp form, sip form) ---------------------------------------------------------

ALICE_XMPP = "xmpp:alice\\40example.net@sip.example.org"
NORMALISED = [
    # sips: is the same identity as sip:
    ("sips:alice@example.net", ALICE_XMPP, "sip:alice@example.net"),
    (
        "sips:+15551234@gw.example.org;user=phone;transport=tls",
        "xmpp:+15551234@sip.example.org",
        "sip:+15551234@gw.example.org;user=phone",
    ),
    # case: scheme, host and (JID localparts being case-insensitive) the user part
    ("SIP:Alice@EXAMPLE.NET", ALICE_XMPP, "sip:alice@example.net"),
    (
        "sip:J%C3%9CRGEN@example.net",
        "xmpp:jürgen\\40example.net@sip.example.org",
        "sip:j%C3%BCrgen@example.net",
    ),
    (
        "sip:juliet@Example.COM;gr=Balcony",
        "xmpp:juliet@example.com/Balcony",
        "sip:juliet@example.com;gr=Balcony",
    ),
    (
        "xmpp:Juliet@Example.COM/Balcony",
        "xmpp:juliet@example.com/Balcony",
        "sip:juliet@example.com;gr=Balcony",
    ),
    ("xmpp:ALICE\\40EXAMPLE.NET@SIP.EXAMPLE.ORG", ALICE_XMPP, "sip:alice@example.net"),
    # parameters (except gr and user=phone) and headers are dropped; parameter names are case-insensitive
    (
        "sip:alice@example.net;transport=tcp;lr;maddr=10.0.0.1?subject=hi&priority=urgent",
        ALICE_XMPP,
        "sip:alice@example.net",
    ),
    (
        "sip:juliet@example.com;GR=balcony;ob",
        "xmpp:juliet@example.com/balcony",
        "sip:juliet@example.com;gr=balcony",
    ),
    # percent-encoding
    ("sip:%61lice@example.net", ALICE_XMPP, "sip:alice@example.net"),
    ("sip:a%2fb@example.net", "xmpp:a\\2fb\\40example.net@sip.example.org", "sip:a/b@example.net"),
    (
        "sip:j%c3%bcrgen@example.net",
        "xmpp:jürgen\\40example.net@sip.example.org",
        "sip:j%C3%BCrgen@example.net",
    ),
    ("sip:jürgen@example.net", "xmpp:jürgen\\40example.net@sip.example.org", "sip:j%C3%BCrgen@example.net"),
    ("sip:juliet@example.com;gr=e%CC%81", "xmpp:juliet@example.com/é", "sip:juliet@example.com;gr=%C3%A9"),
    ("xmpp:%6Auliet@example.com", "xmpp:juliet@example.com", "sip:juliet@example.com"),
    (
        "xmpp:d%5C27artagnan@musketeers.lit",
        "xmpp:d\\27artagnan@musketeers.lit",
        "sip:d%5C27artagnan%40musketeers.lit@gw.example.org",
    ),
    (
        "xmpp:juliet@example.com/my%20phone",
        "xmpp:juliet@example.com/my%20phone",
        "sip:juliet@example.com;gr=my%20phone",
    ),
    # IDNA: A-labels in SIP (and inside localparts), U-labels in XMPP domains
    ("sip:bob@BÜCHER.de", "xmpp:bob\\40xn--bcher-kva.de@sip.example.org", "sip:bob@xn--bcher-kva.de"),
    ("sip:bob@bücher.de", "xmpp:bob\\40xn--bcher-kva.de@sip.example.org", "sip:bob@xn--bcher-kva.de"),
    ("xmpp:romeo@xn--bcher-kva.de", "xmpp:romeo@bücher.de", "sip:romeo%40xn--bcher-kva.de@gw.example.org"),
    ("xmpp:romeo@b%C3%BCcher.de", "xmpp:romeo@bücher.de", "sip:romeo%40xn--bcher-kva.de@gw.example.org"),
    # trailing dots, IP literals, ports
    ("sip:alice@example.net.", ALICE_XMPP, "sip:alice@example.net"),
    ("romeo@montague.lit.", "xmpp:romeo@montague.lit", "sip:romeo%40montague.lit@gw.example.org"),
    (
        "sip:alice@[2001:DB8:0:0::1]",
        "xmpp:alice\\40%5B2001\\3adb8\\3a\\3a1%5D@sip.example.org",
        "sip:alice@[2001:db8::1]",
    ),
    (
        "sip:alice@example.net:05060",
        "xmpp:alice\\40example.net\\3a5060@sip.example.org",
        "sip:alice@example.net:5060",
    ),
    # telephone numbers: separators removed, any host, back to the gateway's SIP domain
    (
        "tel:+1-555-123-4567",
        "xmpp:+15551234567@sip.example.org",
        "sip:+15551234567@gw.example.org;user=phone",
    ),
    (
        "TEL:+1(555)123.4567;tgrp=x",
        "xmpp:+15551234567@sip.example.org",
        "sip:+15551234567@gw.example.org;user=phone",
    ),
    (
        "sip:+1-555-1234@carrier.example.net:5070;user=phone",
        "xmpp:+15551234@sip.example.org",
        "sip:+15551234@gw.example.org;user=phone",
    ),
    (
        "sip:+1%2D555%2D1234@carrier.example.net;USER=PHONE",
        "xmpp:+15551234@sip.example.org",
        "sip:+15551234@gw.example.org;user=phone",
    ),
    # xmpp: URIs: query and fragment dropped; bare JIDs (a literal '%')
    (
        "xmpp:juliet@example.com/balcony?message;subject=hi#x",
        "xmpp:juliet@example.com/balcony",
        "sip:juliet@example.com;gr=balcony",
    ),
    ("juliet@example.com/balcony", "xmpp:juliet@example.com/balcony", "sip:juliet@example.com;gr=balcony"),
    ("juliet@example.com/<x>", "xmpp:juliet@example.com/%3Cx%3E", "sip:juliet@example.com;gr=%3Cx%3E"),
    (
        "romeo%montague.lit@gw.example",
        "xmpp:romeo%25montague.lit@gw.example",
        "sip:romeo%25montague.lit%40gw.example@gw.example.org",
    ),
    # display names are kept as written; <uri> stays a name-addr
    (
        '"Alice" <sip:Alice@example.net;transport=tcp>',
        f'"Alice" <{ALICE_XMPP}>',
        '"Alice" <sip:alice@example.net>',
    ),
    (
        "Alice  Smith <sip:alice@example.net>",
        f"Alice  Smith <{ALICE_XMPP}>",
        "Alice  Smith <sip:alice@example.net>",
    ),
    ("<sip:alice@example.net>", f"<{ALICE_XMPP}>", "<sip:alice@example.net>"),
    ('  "Alice"<sip:alice@example.net>  ', f'"Alice" <{ALICE_XMPP}>', '"Alice" <sip:alice@example.net>'),
    ('"" <sip:alice@example.net>', f'"" <{ALICE_XMPP}>', '"" <sip:alice@example.net>'),
    (
        '"Juliet \\"J\\" <C>" <xmpp:juliet@example.com/balcony>',
        '"Juliet \\"J\\" <C>" <xmpp:juliet@example.com/balcony>',
        '"Juliet \\"J\\" <C>" <sip:juliet@example.com;gr=balcony>',
    ),
    ('"Ñandú" <juliet@example.com>', '"Ñandú" <xmpp:juliet@example.com>', '"Ñandú" <sip:juliet@example.com>'),
]


@pytest.mark.parametrize(("given_uri", "xmpp", "sip"), NORMALISED)
def test_normalisation(given_uri: str, xmpp: str, sip: str) -> None:
    assert MAP.to_xmpp(given_uri) == xmpp
    assert MAP.to_sip(given_uri) == sip
    assert MAP.to_sip(xmpp) == sip
    assert MAP.to_xmpp(sip) == xmpp


# -- refused: (input, what the message says) -------------------------------------------------------------

REFUSED = [
    # empty parts
    ("", "empty domain"),
    ("sip:", "empty host"),
    ("sip:@example.net", "empty user part"),
    ("sip:alice@", "empty host"),
    ("xmpp:@example.com", "empty localpart"),
    ("xmpp:juliet@example.com/", "empty resource"),
    ("<>", "empty domain"),
    ("@", "empty localpart"),
    ("sip:alice@example.net;gr", "without a value"),
    ("sip:alice@example.net;gr=", "malformed URI parameter"),
    ("sip:alice@example.net;;lr", "malformed URI parameter"),
    # '@' in odd places
    ("sip:a@@example.net", "more than one '@'"),
    ("sip:a@b@example.net", "more than one '@'"),
    ("a@b@example.com", "not a host name"),
    ("xmpp:a%40b@example.com", "U\\+0040"),
    ("xmpp:a%2Fb@example.com", "U\\+002F"),
    ("sip:romeo%40@gw.example.org", "empty JID domain"),
    ("sip:romeo%40montague.lit%2Fbalcony@gw.example.org", "bare JID"),
    ("sip:romeo%40a%40b@gw.example.org", "not a host name"),
    ("juliet@example.com@", "not a host name"),
    # passwords, ports, hosts
    ("sip:alice:secret@example.net", "password"),
    ("sip:alice:@example.net", "password"),
    ("sip:alice@example.com:5060", "port on shared domain"),
    ("sip:conf@gw.example.org:5060", "port on the gateway's own SIP domain"),
    ("sip:alice@example.net:0", "valid port"),
    ("sip:alice@example.net:65536", "valid port"),
    ("sip:alice@example.net:99999999999", "valid port"),
    ("sip:alice@example.net:", "valid port"),
    ("sip:alice@example.net:abc", "valid port"),
    ("sip:alice@exa mple.net", "not a host name"),
    ("sip:alice@example.net\x00", "not a host name"),
    ("sip:alice@[::1", "bracketed IPv6"),
    ("sip:alice@999.1.1.1", "IPv4"),
    # control characters, NUL, %00, bidi marks
    ("sip:%00@example.net", "U\\+0000"),
    ("sip:a%00b@example.net", "U\\+0000"),
    ("sip:a\x00b@example.net", "must be percent-encoded"),
    ("sip:a%1Fb@example.net", "U\\+001F"),
    ("sip:a%7Fb@example.net", "U\\+007F"),
    ("sip:a%E2%80%AEb@example.net", "U\\+202E"),
    ("sip:a\u202eb@example.net", "U\\+202E"),
    ("sip:a%E2%80%8Fb@example.com", "U\\+200F"),
    ("sip:juliet@example.com;gr=x%E2%80%AE", "U\\+202E"),
    ("sip:juliet@example.com;gr=x%00", "U\\+0000"),
    ("xmpp:a\u202eb@example.com", "U\\+202E"),
    ("xmpp:juliet@example.com/%E2%80%AEfdp.exe", "U\\+202E"),
    ('"\u202eecilA" <sip:alice@example.net>', "display name"),
    ('"Al\x00ice" <sip:alice@example.net>', "name-addr"),
    ("xmpp:juliet@example.com/my phone", "percent-encoded"),
    ("xmpp:juliet@example.com/a\x01", "percent-encoded"),
    # percent-encoding
    ("sip:a%zzb@example.net", "two hex digits"),
    ("sip:a%4@example.net", "two hex digits"),
    ("sip:a%C3@example.net", "not UTF-8"),
    ("sip:a%ED%A0%80@example.net", "not UTF-8"),  # an encoded surrogate
    ("xmpp:a%FF@example.com", "not UTF-8"),
    ("sip:ab\\@example.net", "must be percent-encoded"),
    ("sip:ab\\@example.net\x01", "not a host name"),
    # 3 KB user parts
    ("sip:" + "a" * 3000 + "@example.net", "longer than 1023 bytes"),
    ("sip:" + "%61" * 3000 + "@example.com", "longer than 1023 bytes"),
    ("xmpp:" + "a" * 3000 + "@example.com", "longer than 1023 bytes"),
    ("sip:juliet@example.com;gr=" + "r" * 3000, "longer than 1023 bytes"),
    # XEP-0106: \20 first or last, non-canonical escapes, escapes that normalisation would change
    ("sip:%20alice@example.net", "space cannot begin or end"),
    ("sip:alice%20@example.com", "space cannot begin or end"),
    ("xmpp:\\20foo@example.com", "space cannot begin or end"),
    ("xmpp:foo\\20@sip.example.org", "space cannot begin or end"),
    ("xmpp:foo\\5cbar@example.com", "not escaped canonically"),
    ("xmpp:foo\\5cbar@sip.example.org", "not escaped canonically"),
    ("xmpp:\\5c41@example.com", "not escaped canonically"),
    ("sip:%3C%CC%81@example.com", "cannot be escaped faithfully"),
    ("xmpp:\\3c\u0338@example.com", "not in NFC"),
    # one address, one form: the other writings are refused
    ("xmpp:juliet\\40example.com@sip.example.org", "not in canonical form.*sip:juliet@example.com"),
    ("xmpp:conf\\40gw.example.org@sip.example.org", "not in canonical form.*xmpp:conf@sip.example.org"),
    ("xmpp:alice\\40bücher.de@sip.example.org", "not in canonical form.*xn--bcher-kva.de"),
    ("xmpp:alice\\40example.net.@sip.example.org", "not in canonical form"),
    ("xmpp:alice\\40example.net\\3a05060@sip.example.org", "not in canonical form"),
    ("sip:juliet%40example.com@gw.example.org", "not in canonical form.*sip:juliet@example.com"),
    ("sip:romeo%40sip.example.org@gw.example.org", "not in canonical form.*sip:romeo@gw.example.org"),
    ("sip:romeo%40b%C3%BCcher.de@gw.example.org", "not in canonical form"),
    ("sip:romeo%40montague.lit.@gw.example.org", "not in canonical form"),
    # telephone numbers
    ("sip:+15551234@gw.example.org", "telephone number"),
    ("xmpp:+1-555@sip.example.org", "telephone number"),
    ("sip:alice@example.net;user=phone", "not a global telephone number"),
    ("sip:5551234@example.net;user=phone", "local number"),
    ("sip:5551234;phone-context=+1@example.net;user=phone", "local number"),
    ("sip:+1555;ext=12@example.net;user=phone", "telephone-subscriber parameters"),
    ("sip:example.net;user=phone", "without a telephone number"),
    ("sip:+1555@example.net;user=phone;user=ip", "more than one user parameter"),
    ("tel:5551234;phone-context=example.com", "local number"),
    ("tel:+15551234;ext=12", "ext"),
    ("tel:+15551234;isub=12", "isub"),
    ("tel:+", "not a global telephone number"),
    ("tel:+1-abc", "not a global telephone number"),
    ("tel:", "not a global telephone number"),
    # schemes and URI shapes
    ("mailto:alice@example.net", "unsupported URI scheme 'mailto'"),
    ("im:alice@example.net", "unsupported URI scheme"),
    ("xmpp://guest@example.com/juliet@example.com", "authority"),
    ("sip:alice@example.net;x=a b", "malformed URI parameter"),
    ("sip:alice@example.net?x=a b", "malformed URI headers"),
    ("sip:alice@example.net;gr=a;gr=b", "more than one gr"),
    ("<sip:alice@example.net", "name-addr"),
    ('"Alice <sip:alice@example.net>', "name-addr"),
    ('"Alice" <sip:alice@example.net> ;tag=1', "name-addr"),
    ("<sip:alice@example.net><sip:bob@example.net>", "name-addr"),
    ("sip:alice@example.net>", "not a host name"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_refused_addresses_raise_address_error(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        MAP.to_xmpp(text)
    with pytest.raises(AddressError, match=message):
        MAP.to_sip(text)


def test_an_address_error_is_a_value_error_naming_the_address() -> None:
    with pytest.raises(ValueError, match=r"^'sip:a%00b@example.net': .*U\+0000"):
        MAP.to_xmpp("sip:a%00b@example.net")


# -- configuration ---------------------------------------------------------------------------------------


def test_configuration_is_normalised() -> None:
    m = AddressMap("SIP.Example.ORG.", "GW.example.org", frozenset({"Example.COM", "xn--bcher-kva.de"}))
    assert m.component_domain == "sip.example.org"
    assert m.sip_domain == "gw.example.org"
    assert m.shared_domains == frozenset({"example.com", "bücher.de"})
    assert m == AddressMap("sip.example.org", "gw.example.org", frozenset({"example.com", "bücher.de"}))
    assert hash(m) == hash(
        AddressMap("sip.example.org", "gw.example.org", frozenset({"example.com", "bücher.de"}))
    )
    idn = AddressMap("bücher.de", "bücher.de")
    assert (idn.component_domain, idn.sip_domain) == ("bücher.de", "xn--bcher-kva.de")
    assert m.to_sip("xmpp:juliet@bücher.de/x") == "sip:juliet@xn--bcher-kva.de;gr=x"


@pytest.mark.parametrize(
    ("component", "sip", "shared", "message"),
    [
        ("", "gw.example.org", frozenset(), "empty component_domain"),
        ("sip.example.org", "", frozenset(), "empty sip_domain"),
        (
            "sip example.org",
            "gw.example.org",
            frozenset(),
            "component_domain 'sip example.org' is not a host",
        ),
        ("sip.example.org", "gw.example.org/x", frozenset(), "sip_domain"),
        ("sip.example.org", "gw.example.org", frozenset({"SIP.example.org"}), "component_domain .* shared"),
        ("sip.example.org", "gw.example.org", frozenset({"gw.example.org."}), "sip_domain .* shared"),
        ("xn--bcher-kva.de", "gw.example.org", frozenset({"bücher.de"}), "component_domain .* shared"),
        ("sip.example.org", "gw.example.org", frozenset({""}), "empty shared domain"),
        ("sip.example.org", "gw.example.org", frozenset({"a_b.example"}), "shared domain"),
        ("sip.example.org", "gw.example.org", "example.com", "not one string"),
        (None, "gw.example.org", frozenset(), "must be a string"),
    ],
)
def test_invalid_configuration_raises_address_error(
    component: object, sip: object, shared: object, message: str
) -> None:
    with pytest.raises(AddressError, match=message):
        AddressMap(component, sip, shared)  # type: ignore[arg-type]


def test_the_component_and_sip_domains_may_be_equal() -> None:
    m = AddressMap("gw.example.org", "gw.example.org")
    assert m.to_xmpp("sip:alice@example.net") == "xmpp:alice\\40example.net@gw.example.org"
    assert m.to_sip("xmpp:romeo@montague.lit") == "sip:romeo%40montague.lit@gw.example.org"
    assert m.to_sip("xmpp:gw.example.org") == "sip:gw.example.org"


# -- scheme helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "scheme", "sip", "xmpp"),
    [
        ("sip:alice@example.net", "sip", True, False),
        ("SIPS:alice@example.net", "sips", True, False),
        ("tel:+15551234", "tel", True, False),
        ('"Alice" <sip:alice@example.net>', "sip", True, False),
        ("xmpp:juliet@capulet.lit", "xmpp", False, True),
        ("juliet@capulet.lit/balcony", None, False, True),
        ("<juliet@capulet.lit>", None, False, True),
        ("http://example.com/", "http", False, False),
        ('"\u202e" <sip:a@b>', "sip", True, False),  # the helpers only look at the scheme
        ("", None, False, False),
    ],
)
def test_scheme_helpers(uri: str, scheme: str | None, sip: bool, xmpp: bool) -> None:
    assert scheme_of(uri) == scheme
    assert is_sip(uri) is sip
    assert is_xmpp(uri) is xmpp


# -- properties -----------------------------------------------------------------------------------------

USER_SAFE = "!~*'()&=+$,;?/"
GR_SAFE = "!~*'()[]/:&+$"

# Characters a localpart or SIP user part may hold once escaped, the escaped ones included (no leading or
# trailing space, no uppercase: normalisation would change those).
clean_user_chars = st.sampled_from(
    list("abcxyz0189!#$%()*+,-.;=?[]^_`{|}~") + list(" \"&'/:<>@") + ["é", "ü", "ß", "ñ", "ø", "ж", "語"]
)
clean_users = (
    st.lists(clean_user_chars, min_size=1, max_size=20)
    .map("".join)
    .filter(lambda u: u[0] != " " and u[-1] != " ")
)
# Resources and GRUUs: printable, spaces and symbols included (not the few code points PRECIS refuses:
# CONTEXTO punctuation, DISALLOWED exceptions, old Hangul jamo and fillers).
_REFUSED_IN_RESOURCES = "\u00b7\u0375\u05f3\u05f4\u0640\u07fa\u30fb\u3164\uffa0\u302e\u302f\u303b" + "".join(
    chr(c)
    for c in [*range(0x1100, 0x1200), *range(0x3031, 0x3036), *range(0xA960, 0xA980), *range(0xD7B0, 0xD800)]
)
clean_resources = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N", "P", "S"), exclude_characters=_REFUSED_IN_RESOURCES
    )
    | st.just(" "),
    min_size=1,
    max_size=20,
)
# Hostile material: controls, bidi marks, combining marks, backslash sequences, percent sequences, '@'.
_HOSTILE_WORDS = (
    'a B 1 + @ % %40 %00 %5C %20 %C3%A9 %zz : ; = ? / \\ \\20 \\40 \\5c \\3a \\2F < > " [ ] '
    "é İ ß ﬁ Ａ xn-- . - gr= user=phone sip: xmpp: tel: example.com sip.example.org gw.example.org "
    "example.net 5060"
)
hostile_pieces = st.sampled_from(_HOSTILE_WORDS.split()) | st.sampled_from(
    [" ", "\x00", "\x7f", "\u202e", "\u200f", "\u0301", "\u0338", "\ud800"]
)
hostile = st.lists(hostile_pieces, max_size=12).map("".join)
prefixes = st.sampled_from(["", "sip:", "sips:", "tel:", "xmpp:", "<sip:", '"x" <xmpp:', "SIP:"])


def _assert_bijective(text: str) -> None:
    """Either AddressError, or both forms are fixed points of the map and images of each other."""
    try:
        xmpp = MAP.to_xmpp(text)
    except AddressError:
        with pytest.raises(AddressError):
            MAP.to_sip(text)
        return
    sip = MAP.to_sip(text)
    assert MAP.to_sip(xmpp) == sip
    assert MAP.to_xmpp(sip) == xmpp
    assert MAP.to_xmpp(xmpp) == xmpp
    assert MAP.to_sip(sip) == sip


@settings(max_examples=300)
@given(clean_users)
def test_localparts_of_a_shared_domain_round_trip(user: str) -> None:
    sip = f"sip:{quote(user, safe=USER_SAFE)}@example.com"
    xmpp = MAP.to_xmpp(sip)
    assert MAP.to_sip(xmpp) == sip
    assert MAP.to_xmpp(MAP.to_sip(xmpp)) == xmpp
    local = xmpp[len("xmpp:") : -len("@example.com")]
    assert not set(local) & set(" \"&'/:<>@")


@settings(max_examples=300)
@given(
    clean_users,
    st.sampled_from(["example.net", "192.0.2.1", "[2001:db8::1]", "xn--bcher-kva.de"]),
    st.sampled_from(["", ":5060"]),
)
def test_sip_users_of_other_domains_round_trip(user: str, host: str, port: str) -> None:
    sip = f"sip:{quote(user, safe=USER_SAFE)}@{host}{port}"
    xmpp = MAP.to_xmpp(sip)
    assert xmpp.endswith("@sip.example.org")
    assert MAP.to_sip(xmpp) == sip
    assert MAP.to_xmpp(MAP.to_sip(xmpp)) == xmpp


@settings(max_examples=300)
@given(
    clean_users.filter(lambda u: "@" not in u and not set(u) & set(" \"&'/:<>")),
    st.sampled_from(["montague.lit", "bücher.de", "192.0.2.1"]),
)
def test_xmpp_users_of_other_domains_round_trip(local: str, domain: str) -> None:
    jid = f"{local}@{domain}"
    sip = MAP.to_sip(jid)
    assert sip.endswith("@gw.example.org")
    xmpp = MAP.to_xmpp(sip)
    assert MAP.to_sip(xmpp) == sip
    assert MAP.to_xmpp(jid) == xmpp


@settings(max_examples=300)
@given(clean_resources, st.sampled_from(["juliet@example.com", "romeo@montague.lit", "sip.example.org"]))
def test_resources_and_gruus_round_trip(resource: str, bare: str) -> None:
    xmpp = MAP.to_xmpp(f"xmpp:{bare}/{quote(resource, safe='')}")
    sip = MAP.to_sip(xmpp)
    assert sip.endswith(";gr=" + quote(unicodedata.normalize("NFC", resource), safe=GR_SAFE))
    assert MAP.to_xmpp(sip) == xmpp
    gruu = f"sip:juliet@example.com;gr={quote(resource, safe='')}"
    assert MAP.to_sip(MAP.to_xmpp(gruu)) == MAP.to_sip(gruu)


@settings(max_examples=300)
@given(prefixes, hostile)
def test_hostile_addresses_map_bijectively_or_raise_address_error(prefix: str, text: str) -> None:
    _assert_bijective(prefix + text)


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_arbitrary_text_maps_bijectively_or_raises_address_error(text: str) -> None:
    _assert_bijective(text)


@settings(max_examples=300)
@given(prefixes, st.text(max_size=40))
def test_arbitrary_text_after_a_scheme_maps_bijectively_or_raises_address_error(
    prefix: str, text: str
) -> None:
    _assert_bijective(prefix + text)
