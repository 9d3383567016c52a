"""The sip: <-> xmpp: address map (RFC 7247 section 5, XEP-0106): a bijection on what it accepts.

With component domain `sip.example.org`, SIP domain `gw.example.org` and shared domain `example.com`:

    xmpp:juliet@example.com/balcony           <-> sip:juliet@example.com;gr=balcony       (shared domain)
    xmpp:alice\\40example.net@sip.example.org  <-> sip:alice@example.net                   (SIP user)
    xmpp:romeo@montague.lit                   <-> sip:romeo%40montague.lit@gw.example.org (XMPP user)
    xmpp:+15551234@sip.example.org            <-> sip:+15551234@gw.example.org;user=phone (tel:+15551234 too)
    xmpp:conf@sip.example.org                 <-> sip:conf@gw.example.org                 (gateway user)
    xmpp:sip.example.org                      <-> sip:gw.example.org                      (the gateway)

`to_xmpp` and `to_sip` accept either protocol's form and return the normalised form asked for, and
`to_sip(to_xmpp(x)) == to_sip(x)`, `to_xmpp(to_sip(x)) == to_xmpp(x)` for every accepted `x`. Each rule
refuses the writings the reverse rule would not give back (`xmpp:juliet\\40example.com@sip.example.org`
when example.com is shared, `foo\\5cbar`, which unescapes like `foo\\bar`, a host inside a localpart in
U-label form), so no two addresses are merged. Everything refused raises `AddressError` (a ValueError)
naming the address, the part and the reason; no other exception escapes, whatever text comes in.

Decisions (RFC 3261 section 19.1, RFC 3966, RFC 5122, RFC 7622, XEP-0106):
- SIP normal form: scheme `sip:` (`sips:` is a transport-security requirement, not an identity); user part
  percent-decoded (UTF-8), lower-cased (JID localparts are case-insensitive, so SIP users differing only in
  case are one XMPP user; the document translator keeps the exact original in `associated-aors`) and NFC,
  written percent-encoded except unreserved and user-unreserved (`& = + $ , ; ? /`) characters, upper-case
  hex; host lower-cased, IDNA A-labels (stdlib `idna` codec, IDNA 2003), one trailing dot stripped, IP
  literals canonical; URI parameters other than `gr` and `user=phone`, and headers (`?...`), dropped.
- XMPP normal form: the JID as `gateway.jid_escaping.parse_jid` normalises it (localpart lower-case and NFC,
  domain in U-labels), written `xmpp:local@domain/resource` with the localpart in its escaped (wire) form,
  backslashes as they are, and only space, controls and `" # % < > ? [ ] ^ `` { | }` percent-encoded
  (non-ASCII is kept, as in an IRI). An `xmpp:` URI is split on its raw delimiters and then decoded part by
  part (RFC 5122); its query and fragment are dropped, an authority (`xmpp://...`) is refused. A scheme-less
  address (`juliet@capulet.lit/balcony`, as Jitsi and XEP-0298 write them) is a bare JID: `%` is literal.
- SIP -> XMPP: the normalised user part is XEP-0106-escaped; for a SIP user of another domain the escaped
  string is `user@host[:port]` (host in A-labels, so that part of the localpart is ASCII) under the
  component domain; `gr` becomes the resource. XMPP -> SIP for other domains: the bare JID, localpart still
  escaped (XMPP compares JIDs in that form) and domain in A-labels, is the user part under the SIP domain
  (`xmpp:d\\27artagnan@musketeers.lit` <-> `sip:d%5C27artagnan%40musketeers.lit@gw.example.org`); a
  domain-only JID has an empty localpart (`xmpp:montague.lit` <-> `sip:%40montague.lit@gw.example.org`).
  A user part without `@` under the SIP domain is one of the gateway's own users (`conf` above).
- Telephone numbers: a global number (`tel:+1-555-1234`, or `sip:...;user=phone` at any host and port: the
  number is the identity) loses its separators `- . ( )` and maps to `xmpp:+15551234@<component>`, and
  back to `sip:+15551234@<sip_domain>;user=phone`. Local numbers need a phone-context XMPP cannot carry, and
  `ext`/`isub` are part of the subscriber: refused. So is `sip:+15551234@<sip_domain>` without user=phone.
- Without a user part: `sip:example.com` <-> `xmpp:example.com` (shared), `sip:<sip_domain>` <->
  `xmpp:<component>`, `sip:example.net` <-> `xmpp:\\40example.net@<component>`.
- A port is part of a SIP URI's identity (RFC 3261 section 19.1.4): carried in the escaped localpart for
  other domains (`sip:conf@127.0.0.1:5060` <-> `xmpp:conf\\40127.0.0.1\\3a5060@<component>`), refused for
  shared domains and the SIP domain, whose XMPP form has no place for it. IP-literal hosts map like names.
- Refused outright: a password (`sip:a:pw@h`: no part of an identity, deprecated by RFC 3261), more than one
  raw `@`, invalid percent-encoding (the XEP's own `cr%zy` included), anything JID normalisation would
  change in a generated localpart (a combining mark after an escaped character).
- Display names are kept as written (`"Alice" <sip:...>` -> `"Alice" <xmpp:...>`), `<uri>` stays a
  name-addr; spaces and tabs around an address are not part of it. Display names may not hold controls,
  surrogates or bidi formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069).
- The configuration is normalised in `__post_init__` (component and shared domains in U-labels, the SIP
  domain in A-labels) and checked: valid domains or IP literals, neither gateway domain a shared domain.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, NamedTuple
from urllib.parse import quote

from gateway.jid_escaping import (
    AddressError,
    Jid,
    escape_localpart,
    make_jid,
    parse_jid,
    prep_domain,
    prep_localpart,
    prep_resource,
    show,
    unescape_localpart,
)

__all__ = ["AddressError", "AddressMap", "is_sip", "is_xmpp", "scheme_of"]

_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_SIP_SCHEMES: Final = frozenset(("sip", "sips", "tel"))

# name-addr (RFC 3261 section 25.1): [display-name] LAQUOT addr-spec RAQUOT, display-name a quoted-string or
# tokens (non-ASCII letters accepted in tokens, as peers write them).
_TOKEN: Final = r"[A-Za-z0-9\-.!%*_+`'~\x80-\U0010ffff]+"
_NAME_ADDR_RE: Final = re.compile(
    rf"""(?P<display>"(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*"|{_TOKEN}(?:[ \t]+{_TOKEN})*)?"""
    r"[ \t]*<(?P<uri>[^<>]*)>"
)
_DISPLAY_BAD_RE: Final = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

# SIP URIs (RFC 3261 section 25.1); raw non-ASCII is accepted in the user part (IRI style).
_USER_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%\x80-\U0010ffff]+")  # '%': see _percent_decode
_USER_BAD_RE: Final = re.compile(r"[^A-Za-z0-9\-_.!~*'()&=+$,;?/%\x80-\U0010ffff]")
_USER_SAFE: Final = "!~*'()&=+$,;?/"  # with the always-safe "-_.~" and alphanumerics
_PARAM_RE: Final = re.compile(r"([A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+)(?:=([A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+))?")
_PARAM_SAFE: Final = "!~*'()[]/:&+$"
_HEADERS_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/?:+$=&%]*")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")

# Telephone numbers (RFC 3966).
_GLOBAL_NUMBER_RE: Final = re.compile(r"\+[0-9().\-]*[0-9][0-9().\-]*")
_SEPARATORS_RE: Final = re.compile(r"[().\-]")
_CANONICAL_NUMBER_RE: Final = re.compile(r"\+[0-9]+")
_LOCAL_NUMBER_RE: Final = re.compile(r"[0-9A-Fa-f*#().\-]+")

# xmpp: URIs (RFC 5122): raw characters refused in input, characters percent-encoded in output.
_XMPP_RAW_BAD_RE: Final = re.compile(r'[\x00-\x20"<>\x7f]')
_XMPP_ENCODE_RE: Final = re.compile(r'[\x00-\x20"#%<>?\[\]^`{|}\x7f]')


class _Sip(NamedTuple):
    """A normalised SIP address: decoded user part, A-label host, and what the map keeps of the rest."""

    user: str | None
    host: str
    port: int | None
    phone: bool
    gr: str | None


@dataclass(frozen=True, slots=True)
class AddressMap:
    """The address map of one gateway; see the module docstring for the rules."""

    component_domain: str  # XMPP domain of the gateway component, e.g. "sip.example.org"
    sip_domain: str  # host part of the gateway's own SIP URIs, e.g. "gw.example.org"
    shared_domains: frozenset[str] = frozenset()
    _shared_a2u: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _shared_u2a: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        component_a, component = _config_domain(self.component_domain, "component_domain")
        sip_domain = _config_domain(self.sip_domain, "sip_domain")[0]
        if isinstance(self.shared_domains, str):
            raise AddressError("shared_domains must be a set of domain names, not one string")
        a2u = dict(_config_domain(d, "shared domain") for d in self.shared_domains)
        if component_a in a2u:
            raise AddressError(f"component_domain {component!r} cannot also be a shared domain")
        if sip_domain in a2u:
            raise AddressError(f"sip_domain {sip_domain!r} cannot also be a shared domain")
        object.__setattr__(self, "component_domain", component)
        object.__setattr__(self, "sip_domain", sip_domain)
        object.__setattr__(self, "shared_domains", frozenset(a2u.values()))
        object.__setattr__(self, "_shared_a2u", MappingProxyType(a2u))
        object.__setattr__(self, "_shared_u2a", MappingProxyType({u: a for a, u in a2u.items()}))

    def to_xmpp(self, uri: str) -> str:
        """The normalised `xmpp:` form of a sip:, sips:, tel: or xmpp: URI, a bare JID, or a name-addr of one.

        Raises AddressError if it cannot be mapped faithfully.
        """
        display, body = _split_name_addr(uri)
        jid = self._resolve(body)[0]
        return _with_display(display, _render_xmpp(jid))

    def to_sip(self, uri: str) -> str:
        """The normalised `sip:` form of an xmpp: URI, a bare JID, a sip:, sips: or tel: URI, or a
        name-addr of one. Raises AddressError if it cannot be mapped faithfully."""
        display, body = _split_name_addr(uri)
        sip = self._resolve(body)[1]
        return _with_display(display, _render_sip(sip))

    def forms(self, uri: str) -> tuple[str, str]:
        """Both normalised forms of one address, `(xmpp form, sip form)`, for the price of one mapping.
        Raises AddressError if it cannot be mapped faithfully."""
        display, body = _split_name_addr(uri)
        jid, sip = self._resolve(body)
        return _with_display(display, _render_xmpp(jid)), _with_display(display, _render_sip(sip))

    # -- both forms of one address ------------------------------------------------------------------------

    def _resolve(self, body: str) -> tuple[Jid, _Sip]:
        """Both normalised forms of one address. Each branch of `_sip_to_jid` and `_jid_to_sip` refuses
        what the other direction would not give back, so the pair is always one point of the bijection."""
        try:
            scheme = _scheme(body)
            if scheme is None:
                jid = parse_jid(body)
            elif scheme == "xmpp":
                jid = _parse_xmpp_uri(body)
            elif scheme in ("sip", "sips"):
                sip = self._parse_sip(body[len(scheme) + 1 :])
                return self._sip_to_jid(sip), sip
            elif scheme == "tel":
                sip = self._parse_tel(body[4:])
                return self._sip_to_jid(sip), sip
            else:
                raise AddressError(f"unsupported URI scheme {scheme!r} (sip:, sips:, tel: or xmpp:)")
            return jid, self._jid_to_sip(jid)
        except AddressError as exc:
            raise AddressError(f"{show(body)}: {exc}") from None

    def _sip_to_jid(self, sip: _Sip) -> Jid:
        if sip.phone:
            assert sip.user is not None
            return Jid(prep_localpart(sip.user, "telephone number"), self.component_domain, sip.gr)
        if sip.host == self.sip_domain:
            if sip.port is not None:
                raise AddressError(
                    f"a port on the gateway's own SIP domain ({self.sip_domain}) cannot be mapped"
                )
            if sip.user is None:
                return Jid(None, self.component_domain, sip.gr)
            if "@" in sip.user:
                return self._mapped_xmpp_user(sip.user, sip.gr)
            if _GLOBAL_NUMBER_RE.fullmatch(sip.user):
                raise AddressError(
                    f"user part {show(sip.user)} is a telephone number: write it with ;user=phone or as tel:"
                )
            return Jid(_escaped(sip.user), self.component_domain, sip.gr)  # one of the gateway's own users
        shared = self._shared_a2u.get(sip.host)
        if shared is not None:
            if sip.port is not None:
                raise AddressError(f"a port on shared domain {sip.host} cannot be carried to XMPP")
            return Jid(None if sip.user is None else _escaped(sip.user), shared, sip.gr)
        hostport = sip.host if sip.port is None else f"{sip.host}:{sip.port}"
        return Jid(_escaped(f"{sip.user or ''}@{hostport}"), self.component_domain, sip.gr)

    def _mapped_xmpp_user(self, user: str, gr: str | None) -> Jid:
        """The JID that a user part `local@domain` (A-labels) under the SIP domain names."""
        local, _, domain = user.partition("@")
        if "/" in domain:
            raise AddressError(f"user part {show(user)} must be a bare JID (a resource goes in ;gr=)")
        ascii_domain, unicode_domain = prep_domain(domain, "JID domain")
        jid = Jid(prep_localpart(local) if local else None, unicode_domain, gr)
        if (
            jid.local != (local or None)
            or ascii_domain != domain
            or unicode_domain == self.component_domain
            or ascii_domain in self._shared_a2u
        ):
            raise AddressError(f"not in canonical form: {_render_xmpp(jid)} is written {self._sip_hint(jid)}")
        return jid

    def _jid_to_sip(self, jid: Jid) -> _Sip:
        if jid.domain == self.component_domain:
            if jid.local is None:
                return _Sip(None, self.sip_domain, None, False, jid.resource)
            if _CANONICAL_NUMBER_RE.fullmatch(jid.local):
                return _Sip(jid.local, self.sip_domain, None, True, jid.resource)
            unescaped = _unescaped(jid.local)
            user, at, hostport = unescaped.rpartition("@")
            if not at:  # one of the gateway's own SIP users
                if _GLOBAL_NUMBER_RE.fullmatch(unescaped):
                    raise AddressError(f"a telephone number is written +<digits> only, not {show(unescaped)}")
                return _Sip(unescaped, self.sip_domain, None, False, jid.resource)
            host, port = _parse_hostport(hostport)
            sip = _Sip(user or None, host, port, False, jid.resource)
            canonical = host if port is None else f"{host}:{port}"
            if canonical != hostport or host == self.sip_domain or host in self._shared_a2u:
                raise AddressError(
                    f"not in canonical form: {_render_sip(sip)} is written {self._xmpp_hint(sip)}"
                )
            return sip
        shared = self._shared_u2a.get(jid.domain)
        if shared is not None:
            local = None if jid.local is None else _unescaped(jid.local)
            return _Sip(local, shared, None, False, jid.resource)
        domain = jid.domain if jid.domain.isascii() else prep_domain(jid.domain)[0]
        return _Sip(f"{jid.local or ''}@{domain}", self.sip_domain, None, False, jid.resource)

    def _sip_hint(self, jid: Jid) -> str:
        try:
            return _render_sip(self._jid_to_sip(jid))
        except AddressError as exc:
            return f"nowhere ({exc})"

    def _xmpp_hint(self, sip: _Sip) -> str:
        try:
            return _render_xmpp(self._sip_to_jid(sip))
        except AddressError as exc:
            return f"nowhere ({exc})"

    # -- SIP and tel: parsing ------------------------------------------------------------------------------

    def _parse_sip(self, rest: str) -> _Sip:
        """`rest`: a sip: or sips: URI after its scheme."""
        at = rest.find("@")
        if at >= 0 and rest.find("@", at + 1) >= 0:
            raise AddressError("more than one '@' (an '@' in the user part is written %40)")
        userinfo, hostpart = (None, rest) if at < 0 else (rest[:at], rest[at + 1 :])
        hostpart, question, headers = hostpart.partition("?")
        if question and (_HEADERS_RE.fullmatch(headers) is None or _BAD_PERCENT_RE.search(headers)):
            raise AddressError(f"malformed URI headers {show(headers)}")
        hostport, *params = hostpart.split(";")
        host, port = _parse_hostport(hostport)
        phone, gr = _sip_params(params)
        if phone:
            if userinfo is None:
                raise AddressError("user=phone without a telephone number")
            if ":" in userinfo or _USER_RE.fullmatch(userinfo) is None:
                raise AddressError(f"{show(userinfo)} is not a telephone number")
            number = _global_number(_percent_decode(userinfo, "telephone number"))
            return _Sip(number, self.sip_domain, None, True, gr)
        return _Sip(None if userinfo is None else _sip_user(userinfo), host, port, False, gr)

    def _parse_tel(self, rest: str) -> _Sip:
        """`rest`: a tel: URI after its scheme."""
        number, *params = rest.split(";")
        for param in params:
            name = _param(param)[0]
            if name == "phone-context":
                raise AddressError("a local number (phone-context) cannot be mapped: only global numbers")
            if name in ("ext", "isub"):
                raise AddressError(f"a tel: URI with ;{name}= cannot be mapped (XMPP has no place for it)")
        return _Sip(_global_number(number), self.sip_domain, None, True, None)


# -- helpers ------------------------------------------------------------------------------------------------


def scheme_of(uri: str) -> str | None:
    """The lower-case scheme of a URI or name-addr (`"sip"`, `"xmpp"`, ...), None if it has none."""
    try:
        body = _split_name_addr(uri)[1]
    except AddressError:  # a name-addr with a bad display name, say: its last <...> part
        body = uri[uri.rfind("<") + 1 :].rstrip(" \t>")
    return _scheme(body)


def is_sip(uri: str) -> bool:
    """Whether `uri` (or name-addr) is a sip:, sips: or tel: URI, by its scheme only (nothing validated)."""
    return scheme_of(uri) in _SIP_SCHEMES


def is_xmpp(uri: str) -> bool:
    """Whether `uri` (or name-addr) is an xmpp: URI or a scheme-less (bare) JID, by its scheme only."""
    scheme = scheme_of(uri)
    return scheme == "xmpp" or (scheme is None and bool(uri.strip(" \t")))


def _scheme(body: str) -> str | None:
    match = _SCHEME_RE.match(body)
    return None if match is None else match.group(1).lower()


def _config_domain(value: object, what: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise AddressError(f"{what} must be a string, not {type(value).__name__}")
    return prep_domain(value, what)


def _split_name_addr(uri: str) -> tuple[str | None, str]:
    """(display name as written, or "" for `<uri>`, or None when `uri` is no name-addr; the address)."""
    s = uri.strip(" \t")
    if not s.endswith(">"):
        if s.startswith(('"', "<")):
            raise AddressError(f"{show(uri)} is not a valid name-addr")
        return None, s
    match = _NAME_ADDR_RE.fullmatch(s)
    if match is None:
        if s.startswith(('"', "<")):
            raise AddressError(f"{show(uri)} is not a valid name-addr")
        return None, s  # a bare JID whose resource ends in '>'
    display = match.group("display") or ""
    bad = _DISPLAY_BAD_RE.search(display)
    if bad is not None:
        raise AddressError(
            f"display name {show(display)} holds U+{ord(bad.group()):04X}, which is not allowed"
        )
    return display, match.group("uri")


def _with_display(display: str | None, uri: str) -> str:
    if display is None:
        return uri
    return f"{display} <{uri}>" if display else f"<{uri}>"


def _percent_decode(s: str, what: str) -> str:
    if "%" not in s:
        return s
    if _BAD_PERCENT_RE.search(s) is not None:
        raise AddressError(f"{what} {show(s)} holds a '%' not followed by two hex digits")
    first, *rest = s.split("%")
    try:
        data = bytearray(first.encode("utf-8"))
        for chunk in rest:  # each starts with two hex digits (checked above)
            data.append(int(chunk[:2], 16))
            data += chunk[2:].encode("utf-8")
        return data.decode("utf-8")
    except UnicodeError:
        raise AddressError(f"{what} {show(s)} is not UTF-8 text once percent-decoded") from None


def _sip_user(userinfo: str) -> str:
    """The normalised user part: percent-decoded, lower-case, NFC."""
    if ":" in userinfo:
        raise AddressError("a password in the user part ('user:password@') is not supported")
    if not userinfo:
        raise AddressError("empty user part before '@'")
    if _USER_RE.fullmatch(userinfo) is None:
        bad = _USER_BAD_RE.search(userinfo)
        assert bad is not None
        raise AddressError(
            f"user part {show(userinfo)} holds {show(bad.group())}, which must be percent-encoded"
        )
    user = _percent_decode(userinfo, "user part").lower()
    return user if user.isascii() else unicodedata.normalize("NFC", user)


def _sip_params(params: list[str]) -> tuple[bool, str | None]:
    """(user=phone, the decoded `gr` value) of URI parameters; the others are checked and dropped."""
    phone = False
    gr: str | None = None
    seen_user = False
    for param in params:
        name, value = _param(param)
        if name == "gr":
            if gr is not None:
                raise AddressError("more than one gr parameter")
            if value is None:
                raise AddressError("a gr parameter without a value cannot be mapped to a resource")
            gr = prep_resource(_percent_decode(value, "gr parameter"), "gr parameter")
        elif name == "user":
            if seen_user:
                raise AddressError("more than one user parameter")
            seen_user = True
            phone = value is not None and value.lower() == "phone"
    return phone, gr


def _param(param: str) -> tuple[str, str | None]:
    """(lower-case name, value or None) of a `name[=value]` URI parameter, after checking its syntax."""
    match = _PARAM_RE.fullmatch(param)
    if match is None or ("%" in param and _BAD_PERCENT_RE.search(param) is not None):
        raise AddressError(f"malformed URI parameter {show(param)}")
    return match.group(1).lower(), match.group(2)


def _parse_hostport(hostport: str) -> tuple[str, int | None]:
    """(A-label host or IP literal, port) of `host[:port]`."""
    if hostport.startswith("["):
        end = hostport.find("]") + 1 or len(hostport)
        host, rest = hostport[:end], hostport[end:]
    else:
        host, colon, port_text = hostport.partition(":")
        rest = colon + port_text
    port = None
    if rest:
        if rest[0] != ":" or _PORT_RE.fullmatch(rest[1:]) is None or not 0 < int(rest[1:]) <= 65535:
            raise AddressError(f"{show(hostport)} has no valid port (1 to 65535) after the host")
        port = int(rest[1:])
    return prep_domain(host, "host")[0], port


def _global_number(number: str) -> str:
    """`+` and digits, visual separators removed; refuses local numbers and telephone-subscriber params."""
    if _GLOBAL_NUMBER_RE.fullmatch(number):
        return _SEPARATORS_RE.sub("", number)
    if "phone-context" in number.lower() or (number[:1] != "+" and _LOCAL_NUMBER_RE.fullmatch(number)):
        raise AddressError(
            f"{show(number)} is a local number: its phone-context cannot be carried, only global numbers "
            "(+ and digits) are mapped"
        )
    if number[:1] == "+" and ";" in number:
        raise AddressError(f"telephone-subscriber parameters in {show(number)} cannot be mapped")
    raise AddressError(f"{show(number)} is not a global telephone number (+ and digits, separators - . ( ))")


def _escaped(unescaped: str) -> str:
    """The JID localpart that XEP-0106 makes of `unescaped` (a normalised SIP user part), validated.

    Refused if JID normalisation would change it: a combining mark after an escaped character composes
    with the escape's last hex digit (`<` U+0301 -> `\\3c` U+0301 -> NFC `\\3ć`).
    """
    escaped = escape_localpart(unescaped)
    local = prep_localpart(escaped, "XMPP localpart")
    if local != escaped:
        raise AddressError(
            f"{show(unescaped)} cannot be escaped faithfully: its escaped form {show(escaped)} is not a "
            f"normalised localpart (it would become {show(local)})"
        )
    return local


def _unescaped(local: str) -> str:
    """The XEP-0106 unescaping of `local`, which must be canonically escaped (one localpart per user) and
    unescape to a normalised SIP user part (not so `\\3c` U+0338: `<` U+0338 is `≮` in NFC)."""
    unescaped = unescape_localpart(local)
    if escape_localpart(unescaped) != local:
        raise AddressError(
            f"localpart {show(local)} is not escaped canonically (XEP-0106): it unescapes to "
            f"{show(unescaped)}, which escapes to {show(escape_localpart(unescaped))}"
        )
    if not unescaped.isascii() and not unicodedata.is_normalized("NFC", unescaped):
        raise AddressError(f"localpart {show(local)} unescapes to {show(unescaped)}, which is not in NFC")
    return unescaped


def _parse_xmpp_uri(body: str) -> Jid:
    """The JID of an `xmpp:` URI (RFC 5122): split on the raw delimiters, then each part percent-decoded."""
    rest = body[5:]
    if rest.startswith("//"):
        raise AddressError("an xmpp: URI with an authority (xmpp://account/...) is not an address")
    end = len(rest)
    for delimiter in "?#":  # the query (?join, ?message) and fragment are dropped
        index = rest.find(delimiter)
        if 0 <= index < end:
            end = index
    rest = rest[:end]
    bad = _XMPP_RAW_BAD_RE.search(rest)
    if bad is not None:
        raise AddressError(f"{show(bad.group())} must be percent-encoded in an xmpp: URI")
    slash = rest.find("/")
    head, resource = (rest, None) if slash < 0 else (rest[:slash], rest[slash + 1 :])
    at = head.find("@")
    local, domain = (None, head) if at < 0 else (head[:at], head[at + 1 :])
    return make_jid(
        None if local is None else _percent_decode(local, "localpart"),
        _percent_decode(domain, "domain"),
        None if resource is None else _percent_decode(resource, "resource"),
    )


def _render_xmpp(jid: Jid) -> str:
    text = jid.domain if jid.local is None else f"{_uri_encode(jid.local)}@{jid.domain}"
    return "xmpp:" + (text if jid.resource is None else f"{text}/{_uri_encode(jid.resource)}")


def _uri_encode(s: str) -> str:
    return _XMPP_ENCODE_RE.sub(_percent_encode_one, s)


def _percent_encode_one(match: re.Match[str]) -> str:
    return f"%{ord(match.group()):02X}"


def _render_sip(sip: _Sip) -> str:
    text = sip.host if sip.user is None else f"{quote(sip.user, safe=_USER_SAFE)}@{sip.host}"
    if sip.port is not None:
        text += f":{sip.port}"
    if sip.phone:
        text += ";user=phone"
    if sip.gr is not None:
        text += ";gr=" + quote(sip.gr, safe=_PARAM_SAFE)
    return "sip:" + text
