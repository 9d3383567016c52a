"""XEP-0106 escaping and JID parsing (gateway.jid_escaping): the XEP's own examples, its business rules,
round-trip properties, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.jid_escaping import (
    AddressError,
    Jid,
    escape_localpart,
    parse_jid,
    prep_domain,
    prep_localpart,
    prep_resource,
    show,
    unescape_localpart,
)

# XEP-0106 1.1.1, section "Examples" / "Jabber Identifiers", table "JID Examples", verbatim:
# (#, User Input, Escaped JID, Client Display). The XML source writes the spaces of rows 1-3 and 11 as
# &#160; so that they render; they are U+0020, as the escaped column (\20) shows.
XEP_0106_JID_EXAMPLES = [
    (1, "space cadet@example.com", "space\\20cadet@example.com", "space cadet@example.com"),
    (
        2,
        'call me "ishmael"@example.com',
        "call\\20me\\20\\22ishmael\\22@example.com",
        'call me "ishmael"@example.com',
    ),
    (3, "at&t guy@example.com", "at\\26t\\20guy@example.com", "at&t guy@example.com"),
    (4, "d'artagnan@example.com", "d\\27artagnan@example.com", "d'artagnan@example.com"),
    (5, "/.fanboy@example.com", "\\2f.fanboy@example.com", "/.fanboy@example.com"),
    (6, "::foo::@example.com", "\\3a\\3afoo\\3a\\3a@example.com", "::foo::@example.com"),
    (7, "<foo>@example.com", "\\3cfoo\\3e@example.com", "<foo>@example.com"),
    (8, "user@host@example.com", "user\\40host@example.com", "user@host@example.com"),
    (9, "c:\\net@example.com", "c\\3a\\net@example.com", "c:\\net@example.com"),
    (10, "c:\\\\net@example.com", "c\\3a\\\\net@example.com", "c:\\\\net@example.com"),
    (11, "c:\\cool stuff@example.com", "c\\3a\\cool\\20stuff@example.com", "c:\\cool stuff@example.com"),
    (12, "c:\\5commas@example.com", "c\\3a\\5c5commas@example.com", "c:\\5commas@example.com"),
]


@pytest.mark.parametrize(("number", "user_input", "escaped_jid", "client_display"), XEP_0106_JID_EXAMPLES)
def test_xep_0106_jid_examples(number: int, user_input: str, escaped_jid: str, client_display: str) -> None:
    # The escaping applies to the localpart only: everything before the last '@' (row 8 has two).
    local, _, domain = user_input.rpartition("@")
    escaped = escape_localpart(local) + "@" + domain
    assert escaped == escaped_jid, f"row {number}"
    escaped_local, _, escaped_domain = escaped_jid.rpartition("@")
    assert unescape_localpart(escaped_local) + "@" + escaped_domain == client_display, f"row {number}"
    assert parse_jid(escaped_jid) == Jid(escaped_local.lower(), "example.com", None)


# The other examples of the XEP: (source address localpart, escaped localpart).
XEP_0106_OTHER_EXAMPLES = [
    # 4.3 Exceptions
    ("c:\\5commas", "c\\3a\\5c5commas"),
    # 4.2 Address Transformation Algorithm, and 5.4 IMPS
    ("\\3and\\2is\\5cool", "\\5c3and\\2is\\5c5cool"),
    # 5.2 Email, 5.3 SIP (URL-decoded), 5.4 IM and Presence
    ("here's_a_wild_&_/cr%zy/_address", "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address"),
    # 5.4 IMPS
    (
        'here\'s_a_wild_&_/cr%zy/_address_for:<wv>("IMPS")',
        "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address_for\\3a\\3cwv\\3e(\\22IMPS\\22)",
    ),
    # 5.6 LDAP (the UTF-8 representation, its escaped comma removed, as the XEP transforms it)
    (
        "CN=D'Artagnan Saint-Andr\\E9,O=Example & Company, Inc.,DC=example,DC=com",
        "CN=D\\27Artagnan\\20Saint-Andr\\E9,O=Example\\20\\26\\20Company,\\20Inc.,DC=example,DC=com",
    ),
    # 5.7 IRC
    ("somenick!user\"&'/:<>\\3address", "somenick!user\\22\\26\\27\\2f\\3a\\3c\\3e\\5c3address"),
]


@pytest.mark.parametrize(("source", "escaped"), XEP_0106_OTHER_EXAMPLES)
def test_xep_0106_other_examples(source: str, escaped: str) -> None:
    assert escape_localpart(source) == escaped
    assert unescape_localpart(escaped) == source


@pytest.mark.parametrize("unchanged", ["\\2plus\\2is\\4", "foo\\bar", "foob\\41r"])
def test_partial_and_invalid_sequences_are_not_modified(unchanged: str) -> None:
    """XEP-0106 4.3: partial sequences and sequences of other characters are left alone both ways."""
    assert escape_localpart(unchanged) == unchanged
    assert unescape_localpart(unchanged) == unchanged


def test_case_is_significant() -> None:
    assert unescape_localpart("a\\2Fb") == "a\\2Fb"
    assert escape_localpart("a\\2Fb") == "a\\2Fb"
    assert unescape_localpart("a\\2fb") == "a/b"
    assert escape_localpart("a\\2fb") == "a\\5c2fb"


@pytest.mark.parametrize("source", [" leading", "trailing ", " ", "  both  "])
def test_a_space_cannot_begin_or_end_an_escaped_localpart(source: str) -> None:
    with pytest.raises(AddressError, match="space cannot begin or end"):
        escape_localpart(source)


def test_a_space_inside_is_escaped_and_a_literal_backslash_20_is_not_a_space() -> None:
    assert escape_localpart("a b") == "a\\20b"
    assert escape_localpart("\\20x") == "\\5c20x"  # a literal \20 at the start is not an escaped space
    assert unescape_localpart("\\5c20x") == "\\20x"


@pytest.mark.parametrize(
    ("escaped", "unescaped"),
    [
        ("ab\\", "ab\\"),  # slixmpp 1.17 panics here
        ("\\", "\\"),
        ("\\5", "\\5"),
        ("\\5c", "\\"),
        ("\\5c5c", "\\5c"),
        ("\\5c40", "\\40"),
        ("\\\\40", "\\@"),
        ("\\40\\", "@\\"),
        ("\\x00", "\\x00"),
        ("", ""),
    ],
)
def test_unescape_is_total(escaped: str, unescaped: str) -> None:
    assert unescape_localpart(escaped) == unescaped


_CODES = ["20", "22", "26", "27", "2f", "3a", "3c", "3e", "40", "5c"]
_CHARS = [" ", '"', "&", "'", "/", ":", "<", ">", "@", "\\"]


def _reference_unescape(s: str) -> str:
    """A left-to-right scan, as XEP-0106 describes unescaping."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1 : i + 3] in _CODES:
            out.append(_CHARS[_CODES.index(s[i + 1 : i + 3])])
            i += 3
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _reference_escape(s: str) -> str:
    out = []
    for i, c in enumerate(s):
        if c == "\\":
            out.append("\\5c" if s[i + 1 : i + 3] in _CODES else "\\")
        elif c in _CHARS:
            out.append("\\" + _CODES[_CHARS.index(c)])
        else:
            out.append(c)
    return "".join(out)


# Text rich in backslashes, hex digits and the escaped characters.
escapish = st.lists(
    st.sampled_from(["\\", "2", "0", "5", "c", "3", "a", "4", "f", "e", "x", "@", " ", ":", "/", "é"])
    | st.sampled_from([f"\\{code}" for code in _CODES]),
    max_size=12,
).map("".join)


@settings(max_examples=300)
@given(st.one_of(escapish, st.text()))
def test_unescape_never_raises_and_matches_a_left_to_right_scan(s: str) -> None:
    assert unescape_localpart(s) == _reference_unescape(s)


@settings(max_examples=300)
@given(st.one_of(escapish, st.text()))
def test_escape_matches_the_rules_and_unescape_inverts_it(s: str) -> None:
    if s[:1] == " " or s[-1:] == " ":
        with pytest.raises(AddressError):
            escape_localpart(s)
        return
    escaped = escape_localpart(s)
    assert escaped == _reference_escape(s)
    assert not set(escaped) & set(" \"&'/:<>@")
    assert not escaped.startswith("\\20")
    assert not escaped.endswith("\\20")
    assert unescape_localpart(escaped) == s


@pytest.mark.parametrize(
    ("canonical", "other"),
    [("foo\\bar", "foo\\5cbar"), ("c\\3a\\net", "c\\3a\\5cnet"), ("ab\\", "ab\\5c"), ("\\41", "\\5c41")],
)
def test_one_canonical_escaping_per_unescaped_form(canonical: str, other: str) -> None:
    """Two localparts can unescape alike; only escaping's own output is canonical (the map refuses the other)."""
    assert unescape_localpart(canonical) == unescape_localpart(other)
    assert escape_localpart(unescape_localpart(canonical)) == canonical
    assert escape_localpart(unescape_localpart(other)) != other


# -- JIDs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "jid"),
    [
        ("juliet@capulet.lit/balcony", Jid("juliet", "capulet.lit", "balcony")),
        ("capulet.lit", Jid(None, "capulet.lit", None)),
        ("capulet.lit/balcony", Jid(None, "capulet.lit", "balcony")),
        ("Juliet@Capulet.LIT/Balcony", Jid("juliet", "capulet.lit", "Balcony")),  # resources keep case
        ("a@b.example/c@d/e f", Jid("a", "b.example", "c@d/e f")),  # resource after the first '/'
        ("d\\27artagnan@musketeers.lit", Jid("d\\27artagnan", "musketeers.lit", None)),
        ("romeo%montague.lit@gw.example", Jid("romeo%montague.lit", "gw.example", None)),
        ("example.com.", Jid(None, "example.com", None)),  # RFC 7622 3.2: trailing dot stripped
        ("x@xn--bcher-kva.de", Jid("x", "bücher.de", None)),
        ("x@BÜCHER.de", Jid("x", "bücher.de", None)),
        ("x@192.0.2.1", Jid("x", "192.0.2.1", None)),
        ("x@[2001:DB8:0::1]", Jid("x", "[2001:db8::1]", None)),
        ("ÑU@example.com", Jid("ñu", "example.com", None)),
        ("n\u0303u@example.com", Jid("ñu", "example.com", None)),  # NFC
        ("שלום@example.com", Jid("שלום", "example.com", None)),  # right-to-left, Bidi Rule satisfied
        # symbols and a space in a resource
        ("a@b/\u00e9t\u00e9 \u2603", Jid("a", "b", "\u00e9t\u00e9 \u2603")),
        ("a" * 1023 + "@example.com", Jid("a" * 1023, "example.com", None)),
    ],
)
def test_parse_jid(text: str, jid: Jid) -> None:
    assert parse_jid(text) == jid


def test_jid_str_is_the_wire_form() -> None:
    assert str(Jid("juliet", "capulet.lit", "balcony")) == "juliet@capulet.lit/balcony"
    assert str(Jid(None, "capulet.lit", None)) == "capulet.lit"
    assert str(parse_jid("d\\27artagnan@musketeers.lit")) == "d\\27artagnan@musketeers.lit"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty domain"),
        ("@example.com", "empty localpart"),
        ("juliet@", "empty domain"),
        ("juliet@capulet.lit/", "empty resource"),
        ("a@b@c.example", "not a host name"),
        ("a b@example.com", "U+0020"),
        ("a\x00b@example.com", "U+0000"),
        ("ab@example.com/x\x00", "U+0000"),
        ("ab@example.com/x\n", "U+000A"),
        ("a\u202eb@example.com", "U+202E"),
        ("ab@example.com/\u202egnp.exe", "U+202E"),
        ("ab@exa\u202emple.com", "not a valid internationalised domain name"),
        ("a\u200eb@example.com", "U+200E"),
        ("a\u200bb@example.com", "U+200B"),
        ("a\ud800b@example.com", "U+D800"),
        ("a@example.com/\ud800", "U+D800"),
        ("a@example.com/\u00a0", "U+00A0"),  # a non-ASCII space in a resource
        ("\uff41@example.com", "compatibility"),  # fullwidth a
        ("a\u20acb@example.com", "U+20AC"),  # a symbol in a localpart
        ("\u0640@example.com", "U+0640"),  # ARABIC TATWEEL, DISALLOWED
        ("a\u05d0@example.com", "Bidi Rule"),  # left-to-right then right-to-left
        ("\u0661\u06f1@example.com", "Arabic-Indic"),
        ("a" * 1024 + "@example.com", "longer than 1023 bytes"),
        ("\u00e9" * 512 + "@example.com", "longer than 1023 bytes"),
        ("a@example.com/" + "r" * 1024, "longer than 1023 bytes"),
        ("a@" + "d" * 64 + ".example", "not a host name"),
        ("a@-example.com", "not a host name"),
        ("a@example-.com", "not a host name"),
        ("a@ex_ample.com", "not a host name"),
        ("a@example..com", "not a host name"),
        ("a@example.com..", "not a host name"),
        ("a@01.2.3.4", "no leading zeros"),
        ("a@1.2.3", "neither a host name nor an IPv4 address"),
        ("a@example.123", "neither a host name nor an IPv4 address"),
        ("a@[::1", "not a bracketed IPv6 address"),
        ("a@[fe80::1%eth0]", "not a bracketed IPv6 address"),
        ("a@[1::2::3]", "not a valid IPv6 address"),
        ("a@xn--zz.example", "invalid A-label"),
    ],
)
def test_invalid_jids_raise_address_error(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_jid(text)


def test_prep_domain_gives_both_forms() -> None:
    assert prep_domain("Example.COM.") == ("example.com", "example.com")
    assert prep_domain("bücher.de") == ("xn--bcher-kva.de", "bücher.de")
    assert prep_domain("xn--bcher-kva.de") == ("xn--bcher-kva.de", "bücher.de")
    assert prep_domain("[::FFFF:192.0.2.1]") == ("[::ffff:c000:201]", "[::ffff:c000:201]")


def test_prep_parts_keep_what_they_should() -> None:
    assert prep_localpart("ÉLAN") == "élan"
    assert prep_resource("Balcony 2") == "Balcony 2"
    assert prep_resource("e\u0301") == "\u00e9"


def test_messages_show_hidden_characters() -> None:
    assert show("a\u202eb") == "'a\\u202eb'"
    assert show("<\u0338") == "'<\\u0338'"
    assert show("x" * 100).endswith("... (100 characters)")


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_parse_jid_gives_a_jid_or_address_error(text: str) -> None:
    try:
        jid = parse_jid(text)
    except AddressError:
        return
    assert parse_jid(str(jid)) == jid  # normalised JIDs are fixed points
