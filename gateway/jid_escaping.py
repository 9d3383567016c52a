"""JID escaping (XEP-0106 1.1.1) and JID parsing and validation (RFC 7622), with no XMPP library.

slixmpp is not used on purpose: its `unescape_node('ab\\')` raises a BaseException that closes the
component stream (DESIGN.md section 6), and the core package does not import it at all.

Escaping (`escape_localpart`) follows the XEP's business rules exactly:
- the nine characters a localpart cannot hold (space " & ' / : < > @) become `\\20 \\22 \\26 \\27 \\2f \\3a
  \\3c \\3e \\40`;
- a backslash becomes `\\5c` only where it starts one of the ten escape sequences (`\\20` ... `\\40`,
  `\\5c`); any other backslash (`c:\\net`, `\\2plus`, `foob\\41r`) is kept as it is;
- the sequences are lower-case hex and case is significant: `\\2F` is not an escape;
- `\\20` must not be the first or last sequence of an escaped localpart, so a leading or trailing space
  raises AddressError.
`unescape_localpart` is total: it replaces exactly the ten sequences and keeps every other backslash; it
never raises. `unescape_localpart(escape_localpart(s)) == s` for every `s` that escaping accepts; the
reverse holds only for canonically escaped localparts (`foo\\5cbar` unescapes to `foo\\bar`, which escapes
to itself), which is why the address map checks `escape(unescape(x)) == x` before it trusts a localpart.

`parse_jid` splits a JID as RFC 7622 section 3.1 says (resource after the first `/`, localpart before the
first `@` ahead of it) and validates and normalises each part. PRECIS (RFC 8264/8265) is approximated with
the standard library only:
- localpart (IdentifierClass, UsernameCaseMapped): lower-cased with `str.lower` (Unicode toLowerCase), NFC;
  printable ASCII except the nine characters above; other characters only letters, digits and combining
  marks (Ll Lu Lo Lm Nd Mn Mc), no compatibility characters (fullwidth forms, ligatures), no default-
  ignorable code points, no old Hangul jamo, no RFC 5892 DISALLOWED exceptions, no mix of Arabic-Indic and
  extended Arabic-Indic digits; the Bidi Rule (RFC 5893) when it holds a right-to-left character;
- resourcepart (OpaqueString): NFC; any printable character including ASCII space, but no control,
  format (bidi controls, zero-width joiners), surrogate, private-use, unassigned or non-ASCII space
  character (OpaqueString would map those spaces to U+0020; refused so nothing changes silently);
- domainpart: lower-case, IDNA 2003 via the standard `idna` codec (the Unicode U-label form is returned,
  the A-label form is checked as LDH labels of at most 63 characters, 253 in all), one trailing dot
  stripped (RFC 7622 section 3.2), or an IPv4 address or a bracketed IPv6 address in canonical form;
- every part is non-empty and at most 1023 bytes of UTF-8.
Anything else raises AddressError, whose message names the part and the offending character.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = [
    "MAX_PART_BYTES",
    "AddressError",
    "Jid",
    "escape_localpart",
    "make_jid",
    "parse_jid",
    "prep_domain",
    "prep_localpart",
    "prep_resource",
    "show",
    "unescape_localpart",
]

MAX_PART_BYTES: Final = 1023


class AddressError(ValueError):
    """An address cannot be parsed, or cannot be mapped faithfully; the message says which part and why."""


# -- XEP-0106 ---------------------------------------------------------------------------------------------

_ESCAPES: Final = MappingProxyType(
    {
        " ": "\\20",
        '"': "\\22",
        "&": "\\26",
        "'": "\\27",
        "/": "\\2f",
        ":": "\\3a",
        "<": "\\3c",
        ">": "\\3e",
        "@": "\\40",
        "\\": "\\5c",
    }
)
_UNESCAPES: Final = MappingProxyType({code[1:]: char for char, code in _ESCAPES.items()})
_CODES: Final = "20|22|26|27|2f|3a|3c|3e|40|5c"
_SIMPLE_ESCAPES: Final = tuple((char, code) for char, code in _ESCAPES.items() if char != "\\")
_SIMPLE_UNESCAPES: Final = tuple((code, char) for char, code in _SIMPLE_ESCAPES)
_ESCAPE_RE: Final = re.compile(rf"""[ "&'/:<>@]|\\(?={_CODES})""")
_UNESCAPE_RE: Final = re.compile(rf"\\({_CODES})")


def escape_localpart(s: str) -> str:
    """XEP-0106 escaping of an unescaped localpart (`d'artagnan` -> `d\\27artagnan`).

    Raises AddressError for a leading or trailing space (`\\20` may not start or end a localpart).
    It does not case-map or validate the result: see `prep_localpart`.
    """
    if s[:1] == " " or s[-1:] == " ":
        raise AddressError(f"{show(s)}: a space cannot begin or end a JID localpart (XEP-0106: \\20)")
    if "\\" in s:
        return _ESCAPE_RE.sub(_escape_one, s)
    # No backslash: replacing the nine characters one after another is exact (a code holds none of them).
    for char, code in _SIMPLE_ESCAPES:
        if char in s:
            s = s.replace(char, code)
    return s


def _escape_one(match: re.Match[str]) -> str:
    return _ESCAPES[match.group()]


def unescape_localpart(s: str) -> str:
    """XEP-0106 unescaping: the ten sequences become their characters, every other backslash stays.

    Total: never raises, whatever `s` holds.
    """
    if "\\" not in s:
        return s
    if "\\5c" in s:  # an unescaped backslash could start a new sequence: one left-to-right pass
        return _UNESCAPE_RE.sub(_unescape_one, s)
    # Otherwise sequences cannot overlap and a replacement cannot form a new one: replace them in turn.
    for code, char in _SIMPLE_UNESCAPES:
        if code in s:
            s = s.replace(code, char)
    return s


def _unescape_one(match: re.Match[str]) -> str:
    return _UNESCAPES[match.group(1)]


# -- JIDs -------------------------------------------------------------------------------------------------


class Jid(NamedTuple):
    """A validated, normalised JID; `local` is in its escaped (wire) form."""

    local: str | None
    domain: str
    resource: str | None = None

    def __str__(self) -> str:
        text = self.domain if self.local is None else f"{self.local}@{self.domain}"
        return text if self.resource is None else f"{text}/{self.resource}"


def parse_jid(s: str) -> Jid:
    """Split, validate and normalise a JID (`juliet@capulet.lit/balcony`). Raises AddressError."""
    slash = s.find("/")
    head, resource = (s, None) if slash < 0 else (s[:slash], s[slash + 1 :])
    at = head.find("@")
    local, domain = (None, head) if at < 0 else (head[:at], head[at + 1 :])
    return make_jid(local, domain, resource)


def make_jid(local: str | None, domain: str, resource: str | None = None) -> Jid:
    """A Jid from its three parts, each validated and normalised (`None`: the part is absent)."""
    return Jid(
        None if local is None else prep_localpart(local),
        prep_domain(domain)[1],
        None if resource is None else prep_resource(resource),
    )


# Printable ASCII except space and " & ' / : < > @.
_LOCAL_ASCII_RE: Final = re.compile(r"[\x21\x23-\x25\x28-\x2e\x30-\x39\x3b\x3d\x3f\x41-\x7e]+")
_LOCAL_ASCII_BAD_RE: Final = re.compile(r"[^\x21\x23-\x25\x28-\x2e\x30-\x39\x3b\x3d\x3f\x41-\x7e]")
_RESOURCE_ASCII_RE: Final = re.compile(r"[\x20-\x7e]+")
_LETTERS_DIGITS: Final = frozenset(("Ll", "Lu", "Lo", "Lm", "Nd", "Mn", "Mc"))
_NOT_IN_RESOURCE: Final = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
# Default-ignorable code points outside the Cf/Cn categories, old Hangul jamo (RFC 8264 section 9.2, 9.13)
# and the RFC 5892 DISALLOWED exceptions, and the CONTEXTO punctuation (refused rather than checked).
_REFUSED_RANGES: Final = (
    (0x00B7, 0x00B7),
    (0x034F, 0x034F),
    (0x0375, 0x0375),
    (0x05F3, 0x05F4),
    (0x0640, 0x0640),
    (0x07FA, 0x07FA),
    (0x1100, 0x11FF),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x302E, 0x302F),
    (0x3031, 0x3035),
    (0x303B, 0x303B),
    (0x30FB, 0x30FB),
    (0x3164, 0x3164),
    (0xA960, 0xA97F),
    (0xD7B0, 0xD7FF),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
_CATEGORY_NAMES: Final = MappingProxyType(
    {
        "Cc": "(a control character)",
        "Cs": "(a surrogate)",
        "Co": "(a private-use character)",
        "Cn": "(an unassigned code point)",
    }
)
_RTL: Final = frozenset(("R", "AL"))
_RTL_ALLOWED: Final = frozenset(("R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"))
_RTL_END: Final = frozenset(("R", "AL", "EN", "AN"))


def show(s: str, limit: int = 60) -> str:
    """`s` quoted for a message, cut to `limit` characters: its repr (controls, bidi marks and other
    invisible characters escaped), with combining marks escaped too so nothing is hidden."""
    text = repr(s[:limit])
    if not text.isascii():
        text = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c)[0] == "M" else c for c in text)
    return text if len(s) <= limit else f"{text}... ({len(s)} characters)"


def _describe(c: str) -> str:
    """`U+0041 LATIN CAPITAL LETTER A`; unnamed code points by their category."""
    name = unicodedata.name(c, "")
    if not name:
        category = unicodedata.category(c)
        name = _CATEGORY_NAMES.get(category, f"(category {category})")
    return f"U+{ord(c):04X} {name}"


def _refused(cp: int) -> bool:
    return any(low <= cp <= high for low, high in _REFUSED_RANGES)


def _check_length(s: str, what: str) -> None:
    if len(s) > MAX_PART_BYTES // 4 and len(s.encode("utf-8")) > MAX_PART_BYTES:
        raise AddressError(f"{what} {show(s)} is longer than {MAX_PART_BYTES} bytes")


def prep_localpart(s: str, what: str = "localpart") -> str:
    """The normalised form of an (escaped) JID localpart; raises AddressError if it is not a valid one."""
    if not s:
        raise AddressError(f"empty {what}")
    if s.isascii():
        s = s.lower()
        if _LOCAL_ASCII_RE.fullmatch(s) is None:
            bad = _LOCAL_ASCII_BAD_RE.search(s)
            assert bad is not None
            raise AddressError(
                f"{what} {show(s)} holds {_describe(bad.group())}, not allowed in a JID localpart"
            )
    else:
        s = _prep_unicode_localpart(s, what)
    _check_length(s, what)
    return s


def _prep_unicode_localpart(s: str, what: str) -> str:
    for c in s:  # first refuse what normalisation could hide or choke on (surrogates, controls)
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Cn", "Co"):
            raise AddressError(f"{what} {show(s)} holds {_describe(c)}, not allowed in a JID localpart")
    s = unicodedata.normalize("NFC", s.lower())
    if unicodedata.normalize("NFC", s.lower()) != s:
        raise AddressError(f"{what} {show(s)} has no stable lower-case form")
    arabic_indic = extended_arabic_indic = False
    for c in s:
        cp = ord(c)
        if cp < 0x80:
            if _LOCAL_ASCII_RE.fullmatch(c) is None:
                raise AddressError(f"{what} {show(s)} holds {_describe(c)}, not allowed in a JID localpart")
            continue
        if unicodedata.category(c) not in _LETTERS_DIGITS or _refused(cp):
            raise AddressError(f"{what} {show(s)} holds {_describe(c)}, not allowed in a JID localpart")
        arabic_indic |= 0x0660 <= cp <= 0x0669
        extended_arabic_indic |= 0x06F0 <= cp <= 0x06F9
    if arabic_indic and extended_arabic_indic:
        raise AddressError(f"{what} {show(s)} mixes Arabic-Indic and extended Arabic-Indic digits")
    if not unicodedata.is_normalized("NFKC", s):
        raise AddressError(f"{what} {show(s)} holds compatibility characters (e.g. fullwidth forms)")
    _check_bidi_rule(s, what)
    return s


def _check_bidi_rule(s: str, what: str) -> None:
    """RFC 5893 section 2, for a string that holds a right-to-left character."""
    classes = [unicodedata.bidirectional(c) for c in s]
    if not any(d in ("R", "AL", "AN") for d in classes):
        return
    trimmed = classes
    while trimmed and trimmed[-1] == "NSM":
        trimmed = trimmed[:-1]
    if (
        classes[0] not in _RTL
        or not all(d in _RTL_ALLOWED for d in classes)
        or not trimmed
        or trimmed[-1] not in _RTL_END
        or ("EN" in classes and "AN" in classes)
    ):
        raise AddressError(f"{what} {show(s)} mixes text directions against the Bidi Rule (RFC 5893)")


def prep_resource(s: str, what: str = "resource") -> str:
    """The normalised form of a JID resourcepart; raises AddressError if it is not a valid one."""
    if not s:
        raise AddressError(f"empty {what}")
    if s.isascii():
        if _RESOURCE_ASCII_RE.fullmatch(s) is None:
            bad = next(c for c in s if not " " <= c <= "~")
            raise AddressError(f"{what} {show(s)} holds {_describe(bad)}, not allowed in a JID resource")
    else:
        for c in s:
            if not " " <= c <= "~" and (
                c < "\x80" or unicodedata.category(c) in _NOT_IN_RESOURCE or _refused(ord(c))
            ):
                raise AddressError(f"{what} {show(s)} holds {_describe(c)}, not allowed in a JID resource")
        s = unicodedata.normalize("NFC", s)
    _check_length(s, what)
    return s


# -- domains ----------------------------------------------------------------------------------------------

_HOSTNAME_CHARS_RE: Final = re.compile(r"[a-z0-9.\-]+")
_IPV6_RE: Final = re.compile(r"[0-9A-Fa-f:.]{2,45}")


def prep_domain(s: str, what: str = "domain") -> tuple[str, str]:
    """A domain or IP literal as `(ascii_form, unicode_form)`: lower-case A-labels and U-labels (the same
    string for an ASCII name or an IP address), one trailing dot stripped. Raises AddressError.

    IPv4 addresses are written dotted-quad without leading zeros, IPv6 ones in brackets, compressed.
    """
    if not s:
        raise AddressError(f"empty {what}")
    if s[0] == "[":
        return _prep_ipv6(s, what)
    if s.isascii():
        a = s.lower()
    else:
        try:
            a = s.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise AddressError(
                f"{what} {show(s)} is not a valid internationalised domain name: {exc}"
            ) from None
    if a[-1:] == ".":
        a = a[:-1]
    if not _is_hostname(a):
        raise AddressError(
            f"{what} {show(s)} is not a host name (letters, digits and hyphens in labels of 1 to 63, "
            "253 characters in all), an IPv4 address or a bracketed IPv6 address"
        )
    # A top label of digits only (which RFC 3261 toplabel excludes): an IPv4 address.
    if a[-1] <= "9" and a.rpartition(".")[2].isdigit():
        try:
            ipaddress.IPv4Address(a)  # strict dotted quad: no leading zeros, so `a` is its canonical form
        except ValueError:
            raise AddressError(
                f"{what} {show(s)} is neither a host name nor an IPv4 address (dotted quad, no leading zeros)"
            ) from None
        return a, a
    if "xn--" not in a:
        return a, a
    try:
        u = a.encode("ascii").decode("idna")
        # A-labels that came in as such must be what ToASCII makes of their U-labels; ToASCII's own output is.
        same = (not s.isascii() and "xn--" not in s.lower()) or u.encode("idna") == a.encode("ascii")
    except UnicodeError as exc:
        raise AddressError(f"{what} {show(s)} holds an invalid A-label: {exc}") from None
    if not same:
        raise AddressError(f"{what} {show(s)} holds an A-label that is not in its canonical form")
    return a, u


def _is_hostname(a: str) -> bool:
    """LDH labels of 1 to 63 characters, not starting or ending with a hyphen, 253 characters in all."""
    return (
        0 < len(a) <= 253
        and _HOSTNAME_CHARS_RE.fullmatch(a) is not None
        and a[0] not in ".-"
        and a[-1] not in ".-"
        and ".." not in a
        and ".-" not in a
        and "-." not in a
        and (len(a) <= 63 or max(map(len, a.split("."))) <= 63)
    )


def _prep_ipv6(s: str, what: str) -> tuple[str, str]:
    inner = s[1:-1] if s[-1] == "]" else ""
    if _IPV6_RE.fullmatch(inner) is None:
        raise AddressError(f"{what} {show(s)} is not a bracketed IPv6 address")
    try:
        literal = f"[{ipaddress.IPv6Address(inner).compressed}]"
    except ValueError:
        raise AddressError(f"{what} {show(s)} is not a valid IPv6 address") from None
    return literal, literal
