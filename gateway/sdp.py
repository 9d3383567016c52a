"""Typed model of an SDP session description (RFC 8866, which obsoletes RFC 4566), with its parser and
serialiser.

Both adapters use it: the SIP side for INVITE offers and answers (RFC 3264), the XMPP side for the
Jingle <-> SDP mapping (see `xmpp.jingle_sdp`). It does no I/O and knows nothing of either protocol.

The model is immutable (pydantic, frozen). The attributes the gateway maps have typed fields: rtpmap, fmtp
(RFC 8866 section 6), rtcp (RFC 3605), rtcp-mux (RFC 5761), rtcp-fb (RFC 4585), extmap and
extmap-allow-mixed (RFC 8285), mid and group (RFC 5888, RFC 9143), ICE (RFC 8839, end-of-candidates from
RFC 8840), fingerprint (RFC 8122), setup (RFC 4145), ssrc and ssrc-group (RFC 5576), crypto (RFC 4568),
ptime, maxptime and the direction attributes. Every other attribute (`a=msid-semantic`, `a=msid`,
`a=ice-lite`, `a=rtcp-rsize`, an attribute typed at the other level, ...) is kept in order in
`attributes` and emitted again as it came.

Parsing is strict about syntax and lenient about order: the `<type>=` lines of a section may come in any
order (RFC 8866 section 5 fixes one; the serialiser writes that one), lines end in LF or CRLF, blank lines
are skipped. Any other defect raises `SdpError` with the line number, and nothing else escapes
`parse_sdp`. Input over `MAX_SDP_SIZE` bytes is refused before it is read.

The serialiser writes CRLF line ends and a canonical order, so `serialize_sdp(parse_sdp(x))` is a fixed
point and `parse_sdp(serialize_sdp(m)) == m` for every model; the field validators refuse values that could
not come back unchanged (a CR or LF in a value, a space inside a token, an unknown attribute named like a
typed one), which also keeps values from untrusted peers from injecting lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

MAX_SDP_SIZE = 64 * 1024
MAX_UINT32 = 2**32 - 1

# A token: one or more characters, none of them a space or a control character (RFC 8866 `token`,
# `non-ws-string`, ICE `ice-char`... are all narrower; peers are not always that careful).
Word = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x20]+$")]
# Free text on one line (s=, i=, an unknown attribute's value).
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00\r\n]*$")]
# The rest of a line after the typed fields: one line, no space or tab at either end.
Rest = Annotated[str, StringConstraints(pattern=r"^(?:[^\x00\r\n \t](?:[^\x00\r\n]*[^\x00\r\n \t])?)?$")]
AttributeName = Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$")]
Port = Annotated[int, Field(ge=0, le=65535)]
PayloadTypeId = Annotated[int, Field(ge=0, le=127)]
Ssrc = Annotated[int, Field(ge=0, le=MAX_UINT32)]
# Origin ids, times and bandwidths: any decimal number of up to 32 digits (what the parser reads).
Number = Annotated[int, Field(ge=0, lt=10**32)]


class SdpError(ValueError):
    """An SDP body is malformed or over the size limit. `line` is the 1-based line number, when known."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class Direction(StrEnum):
    """RFC 8866 section 6.7: the media direction, from the point of view of the description's author."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"


class Setup(StrEnum):
    """RFC 4145 section 4 `a=setup` (the DTLS role for RFC 5763)."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"
    HOLDCONN = "holdconn"


class SdpModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Origin(SdpModel):
    """RFC 8866 section 5.2 `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`."""

    username: Word = "-"
    session_id: Number
    session_version: Number
    nettype: Word = "IN"
    addrtype: Word = "IP4"
    address: Word = "0.0.0.0"


class Connection(SdpModel):
    """RFC 8866 section 5.7 `c=<nettype> <addrtype> <connection-address>` (a multicast address keeps its
    `/ttl/count` suffix in `address`)."""

    nettype: Word = "IN"
    addrtype: Word = "IP4"
    address: Word


class Bandwidth(SdpModel):
    """RFC 8866 section 5.8 `b=<bwtype>:<bandwidth>`."""

    type: AttributeName
    value: Number


class Timing(SdpModel):
    """RFC 8866 sections 5.9-5.10: `t=<start> <stop>` and its `r=` lines (kept as text)."""

    start: Number = 0
    stop: Number = 0
    repeats: tuple[Rest, ...] = ()


class Attribute(SdpModel):
    """An attribute without a typed field: `a=<name>` (value None) or `a=<name>:<value>`."""

    name: AttributeName
    value: Text | None = None


class Group(SdpModel):
    """RFC 5888 section 5 `a=group:<semantics> *(SP <mid>)`, e.g. `a=group:BUNDLE 0 1` (RFC 9143)."""

    semantics: Word
    mids: tuple[Word, ...] = ()


class RtpMap(SdpModel):
    """RFC 8866 section 6.6 `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`."""

    payload_type: PayloadTypeId
    encoding: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x20/]+$")]
    clock_rate: int = Field(ge=0, le=MAX_UINT32)
    channels: int | None = Field(None, ge=0, le=255)


class Fmtp(SdpModel):
    """RFC 8866 section 6.15 `a=fmtp:<format> <format specific parameters>`, the parameters as written."""

    format: Word
    parameters: Rest = ""


class RtcpFb(SdpModel):
    """RFC 4585 section 4.2 `a=rtcp-fb:<payload type|*> <type> [<subtype>] [<parameters>]`.

    `trr-int` is written `type="trr-int"`, `subtype=<milliseconds>`.
    """

    format: Word  # "*" or a payload type
    type: Word
    subtype: Word | None = None
    parameters: tuple[Word, ...] = ()

    @model_validator(mode="after")
    def _parameters_need_subtype(self) -> RtcpFb:
        if self.parameters and self.subtype is None:
            raise ValueError("rtcp-fb parameters follow a subtype")
        return self


class Extmap(SdpModel):
    """RFC 8285 section 5 `a=extmap:<id>[/<direction>] <uri> [<extension attributes>]`."""

    id: int = Field(ge=1, le=65535)
    direction: Direction | None = None
    uri: Word
    attributes: Rest = ""


class Rtcp(SdpModel):
    """RFC 3605 `a=rtcp:<port> [<nettype> <addrtype> <address>]`."""

    port: Port
    connection: Connection | None = None


_CANDIDATE_TYPED = frozenset(("raddr", "rport", "tcptype", "generation", "network-id"))


class Candidate(SdpModel):
    """RFC 8839 section 5.1 `a=candidate:<foundation> <component> <transport> <priority> <address> <port>
    typ <type> [raddr <addr>] [rport <port>] *(<ext-name> <ext-value>)`.

    `tcptype` is RFC 6544's; `generation` and `network-id` are libwebrtc's extensions (XEP-0176 maps both);
    the other extension pairs stay in `extensions`, in order.
    """

    foundation: Word
    component: int = Field(ge=1, le=256)
    transport: Word
    priority: int = Field(ge=0, le=MAX_UINT32)
    address: Word
    port: Port
    type: Word
    rel_addr: Word | None = None
    rel_port: Port | None = None
    tcptype: Word | None = None
    generation: int | None = Field(None, ge=0, le=MAX_UINT32)
    network_id: int | None = Field(None, ge=0, le=MAX_UINT32)
    extensions: tuple[tuple[Word, Word], ...] = ()

    @model_validator(mode="after")
    def _extensions_untyped(self) -> Candidate:
        for name, _ in self.extensions:
            if name in _CANDIDATE_TYPED or name == "typ":
                raise ValueError(f"candidate extension {name!r} has a typed field")
        return self


class Fingerprint(SdpModel):
    """RFC 8122 section 5 `a=fingerprint:<hash function> <fingerprint>`."""

    hash: Word
    value: Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*$")]


class SsrcAttribute(SdpModel):
    """RFC 5576 section 4.1 `a=ssrc:<ssrc-id> <attribute>[:<value>]`, one per line."""

    ssrc: Ssrc
    attribute: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x20:]+$")]
    value: Rest | None = None


class SsrcGroup(SdpModel):
    """RFC 5576 section 4.2 `a=ssrc-group:<semantics> *(SP <ssrc-id>)`."""

    semantics: Word
    ssrcs: tuple[Ssrc, ...] = ()


class Crypto(SdpModel):
    """RFC 4568 section 9.1 `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]`."""

    tag: int = Field(ge=0, le=999_999_999)
    suite: Word
    key_params: Word
    session_params: Rest = ""


# ptime/maxptime: RFC 8866 allows a real number of milliseconds.
Milliseconds = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}(?:\.[0-9]{1,9})?$")]


class MediaDescription(SdpModel):
    """One media description: its `m=` line (RFC 8866 section 5.14) and the lines after it."""

    media: Word
    port: Port
    port_count: int | None = Field(None, ge=1, le=65535)
    proto: Word
    formats: tuple[Word, ...] = Field(min_length=1)
    information: Text | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    key: Rest | None = None
    mid: Word | None = None
    direction: Direction | None = None
    rtcp: Rtcp | None = None
    rtcp_mux: bool = False
    ice_ufrag: Word | None = None
    ice_pwd: Word | None = None
    ice_options: tuple[Word, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    setup: Setup | None = None
    extmaps: tuple[Extmap, ...] = ()
    extmap_allow_mixed: bool = False
    rtpmaps: tuple[RtpMap, ...] = ()
    fmtps: tuple[Fmtp, ...] = ()
    rtcp_fbs: tuple[RtcpFb, ...] = ()
    ptime: Milliseconds | None = None
    maxptime: Milliseconds | None = None
    crypto: tuple[Crypto, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    end_of_candidates: bool = False
    ssrc_groups: tuple[SsrcGroup, ...] = ()
    ssrcs: tuple[SsrcAttribute, ...] = ()
    attributes: tuple[Attribute, ...] = ()

    @model_validator(mode="after")
    def _attributes_untyped(self) -> MediaDescription:
        _check_untyped(self.attributes, _MEDIA_ATTRIBUTES)
        return self

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The rtpmap of a payload type, if the description has one."""
        return next((r for r in self.rtpmaps if r.payload_type == payload_type), None)

    def fmtp(self, format: str) -> Fmtp | None:
        """The fmtp of a format, if the description has one."""
        return next((f for f in self.fmtps if f.format == format), None)


class SessionDescription(SdpModel):
    """A whole SDP body (RFC 8866 section 5): the session-level lines and the media descriptions."""

    version: Literal[0] = 0
    origin: Origin
    name: Text = "-"
    information: Text | None = None
    uri: Text | None = None
    emails: tuple[Text, ...] = ()
    phones: tuple[Text, ...] = ()
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    timings: tuple[Timing, ...] = Field((Timing(),), min_length=1)
    time_zones: Rest | None = None
    key: Rest | None = None
    groups: tuple[Group, ...] = ()
    direction: Direction | None = None
    ice_ufrag: Word | None = None
    ice_pwd: Word | None = None
    ice_options: tuple[Word, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    setup: Setup | None = None
    extmaps: tuple[Extmap, ...] = ()
    extmap_allow_mixed: bool = False
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()

    @model_validator(mode="after")
    def _attributes_untyped(self) -> SessionDescription:
        _check_untyped(self.attributes, _SESSION_ATTRIBUTES)
        return self


def _check_untyped(attributes: Iterable[Attribute], typed: dict[str, Any]) -> None:
    for attribute in attributes:
        if attribute.name in typed:
            raise ValueError(f"a={attribute.name} has a typed field; it cannot be an untyped attribute")


# -- parsing ------------------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
_SPACE = re.compile(r"[ \t]+")
_DIGITS = re.compile(r"[0-9]{1,32}")
_LINE = re.compile(r"([a-z])=(.*)", re.DOTALL)
_DIRECTIONS = frozenset(d.value for d in Direction)
_SETUP_ROLES = frozenset(s.value for s in Setup)


def _words(value: str) -> list[str]:
    value = value.strip(" \t")
    return _SPACE.split(value) if value else []


def _split(value: str, count: int) -> list[str]:
    """The first `count` words of `value` and the rest of it (stripped, maybe empty)."""
    parts = _SPACE.split(value.strip(" \t"), maxsplit=count)
    return parts + [""] * (count + 1 - len(parts))


def _number(value: str, what: str) -> int:
    if not _DIGITS.fullmatch(value):
        raise SdpError(f"{what} is not a number: {value[:40]!r}")
    return int(value)


def _make(cls: type[M], what: str, **values: Any) -> M:
    """Build a model, turning a validation failure into an `SdpError` naming the offending field."""
    try:
        return cls(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        shown = repr(error.get("input"))[:60]
        if error["type"] == "string_pattern_mismatch":
            error["msg"] = "holds a character not allowed there (a space, a control character...)"
        raise SdpError(
            f"bad {what}: {field + ' ' if field else ''}{error['msg'].lower()} ({shown})"
        ) from None


class _Section:
    """The fields of one section (session or media) while its lines are read."""

    def __init__(self, level: str) -> None:
        self.level = level
        self.values: dict[str, Any] = {}

    def once(self, field: str, value: Any, line: str) -> None:
        if field in self.values:
            raise SdpError(f"more than one {line} line in the {self.level} description")
        self.values[field] = value

    def add(self, field: str, value: Any) -> None:
        self.values.setdefault(field, []).append(value)


def _flag(field: str, name: str) -> Callable[[_Section, str | None], None]:
    def parse(section: _Section, value: str | None) -> None:
        if value is not None and value.strip(" \t"):
            raise SdpError(f"a={name} takes no value")
        section.once(field, True, f"a={name}")

    return parse


def _value(value: str | None, name: str) -> str:
    if value is None:
        raise SdpError(f"a={name} needs a value")
    return value


def _single_word(value: str | None, name: str) -> str:
    words = _words(_value(value, name))
    if len(words) != 1:
        raise SdpError(f"a={name} takes one value")
    return words[0]


def _direction(direction: Direction) -> Callable[[_Section, str | None], None]:
    def parse(section: _Section, value: str | None) -> None:
        if value is not None and value.strip(" \t"):
            raise SdpError(f"a={direction} takes no value")
        section.once("direction", direction, "direction (a=sendrecv/sendonly/recvonly/inactive)")

    return parse


def _word_attribute(field: str, name: str) -> Callable[[_Section, str | None], None]:
    def parse(section: _Section, value: str | None) -> None:
        section.once(field, _single_word(value, name), f"a={name}")

    return parse


def _connection(value: str, what: str) -> Connection:
    words = _words(value)
    if len(words) != 3:
        raise SdpError(f"{what} must be '<nettype> <addrtype> <address>'")
    return _make(Connection, what, nettype=words[0], addrtype=words[1], address=words[2])


def _parse_group(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "group"))
    if not words:
        raise SdpError("a=group needs its semantics")
    section.add("groups", _make(Group, "a=group", semantics=words[0], mids=words[1:]))


def _parse_ice_options(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "ice-options"))
    if not words:
        raise SdpError("a=ice-options needs at least one option")
    section.once("ice_options", words, "a=ice-options")


def _parse_fingerprint(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "fingerprint"))
    if len(words) != 2:
        raise SdpError("a=fingerprint must be '<hash function> <fingerprint>'")
    section.add("fingerprints", _make(Fingerprint, "a=fingerprint", hash=words[0], value=words[1]))


def _parse_setup(section: _Section, value: str | None) -> None:
    role = _single_word(value, "setup")
    if role not in _SETUP_ROLES:
        raise SdpError(f"a=setup role {role[:20]!r} is not active, passive, actpass or holdconn")
    section.once("setup", Setup(role), "a=setup")


def _parse_extmap(section: _Section, value: str | None) -> None:
    ident, uri, rest = _split(_value(value, "extmap"), 2)
    if not uri:
        raise SdpError("a=extmap must be '<id>[/<direction>] <uri> [<attributes>]'")
    ident, slash, direction = ident.partition("/")
    if slash and direction not in _DIRECTIONS:
        raise SdpError(f"a=extmap direction {direction[:20]!r} is not a direction")
    section.add(
        "extmaps",
        _make(
            Extmap,
            "a=extmap",
            id=_number(ident, "a=extmap id"),
            direction=Direction(direction) if slash else None,
            uri=uri,
            attributes=rest,
        ),
    )


def _parse_rtpmap(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "rtpmap"))
    if len(words) != 2:
        raise SdpError("a=rtpmap must be '<payload type> <encoding>/<clock rate>[/<channels>]'")
    encoding = words[1].split("/")
    if len(encoding) not in (2, 3):
        raise SdpError("a=rtpmap must be '<payload type> <encoding>/<clock rate>[/<channels>]'")
    section.add(
        "rtpmaps",
        _make(
            RtpMap,
            "a=rtpmap",
            payload_type=_number(words[0], "a=rtpmap payload type"),
            encoding=encoding[0],
            clock_rate=_number(encoding[1], "a=rtpmap clock rate"),
            channels=_number(encoding[2], "a=rtpmap channels") if len(encoding) == 3 else None,
        ),
    )


def _parse_fmtp(section: _Section, value: str | None) -> None:
    fmt, rest = _split(_value(value, "fmtp"), 1)
    if not fmt:
        raise SdpError("a=fmtp must be '<format> <parameters>'")
    section.add("fmtps", _make(Fmtp, "a=fmtp", format=fmt, parameters=rest))


def _parse_rtcp_fb(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "rtcp-fb"))
    if len(words) < 2:
        raise SdpError("a=rtcp-fb must be '<payload type|*> <type> [<subtype>] [<parameters>]'")
    subtype = words[2] if len(words) > 2 else None
    fb = _make(RtcpFb, "a=rtcp-fb", format=words[0], type=words[1], subtype=subtype, parameters=words[3:])
    section.add("rtcp_fbs", fb)


def _parse_rtcp(section: _Section, value: str | None) -> None:
    port, rest = _split(_value(value, "rtcp"), 1)
    connection = _connection(rest, "a=rtcp address") if rest else None
    section.once(
        "rtcp", _make(Rtcp, "a=rtcp", port=_number(port, "a=rtcp port"), connection=connection), "a=rtcp"
    )


def _parse_candidate(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "candidate"))
    if len(words) < 8 or words[6] != "typ" or len(words) % 2:
        raise SdpError(
            "a=candidate must be '<foundation> <component> <transport> <priority> <address> <port> typ <type>"
            " *(<name> <value>)'"
        )
    typed: dict[str, Any] = {}
    extensions: list[tuple[str, str]] = []
    for name, ext in zip(words[8::2], words[9::2], strict=True):
        if name in typed:
            raise SdpError(f"a=candidate has {name} twice")
        if name in ("rport", "generation", "network-id"):
            typed[name] = _number(ext, f"a=candidate {name}")
        elif name in ("raddr", "tcptype"):
            typed[name] = ext
        else:
            extensions.append((name, ext))
    candidate = _make(
        Candidate,
        "a=candidate",
        foundation=words[0],
        component=_number(words[1], "a=candidate component"),
        transport=words[2],
        priority=_number(words[3], "a=candidate priority"),
        address=words[4],
        port=_number(words[5], "a=candidate port"),
        type=words[7],
        rel_addr=typed.get("raddr"),
        rel_port=typed.get("rport"),
        tcptype=typed.get("tcptype"),
        generation=typed.get("generation"),
        network_id=typed.get("network-id"),
        extensions=extensions,
    )
    section.add("candidates", candidate)


def _parse_ssrc(section: _Section, value: str | None) -> None:
    ssrc, rest = _split(_value(value, "ssrc"), 1)
    if not rest:
        raise SdpError("a=ssrc must be '<ssrc-id> <attribute>[:<value>]'")
    name, colon, attribute_value = rest.partition(":")
    ssrc_attribute = _make(
        SsrcAttribute,
        "a=ssrc",
        ssrc=_number(ssrc, "a=ssrc id"),
        attribute=name,
        value=attribute_value.strip(" \t") if colon else None,
    )
    section.add("ssrcs", ssrc_attribute)


def _parse_ssrc_group(section: _Section, value: str | None) -> None:
    words = _words(_value(value, "ssrc-group"))
    if not words:
        raise SdpError("a=ssrc-group needs its semantics")
    ssrcs = [_number(word, "a=ssrc-group ssrc") for word in words[1:]]
    section.add("ssrc_groups", _make(SsrcGroup, "a=ssrc-group", semantics=words[0], ssrcs=ssrcs))


def _parse_crypto(section: _Section, value: str | None) -> None:
    tag, suite, key_params, rest = _split(_value(value, "crypto"), 3)
    if not key_params:
        raise SdpError("a=crypto must be '<tag> <crypto-suite> <key-params> [<session-params>]'")
    crypto = _make(
        Crypto,
        "a=crypto",
        tag=_number(tag, "a=crypto tag"),
        suite=suite,
        key_params=key_params,
        session_params=rest,
    )
    section.add("crypto", crypto)


_MILLISECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")


def _milliseconds(field: str, name: str) -> Callable[[_Section, str | None], None]:
    def parse(section: _Section, value: str | None) -> None:
        ms = _single_word(value, name)
        if not _MILLISECONDS.fullmatch(ms):
            raise SdpError(f"a={name} is not a number of milliseconds: {ms[:20]!r}")
        section.once(field, ms, f"a={name}")

    return parse


_AttributeParser = Callable[[_Section, str | None], None]

# Attributes with a typed field at both levels (RFC 8839 ICE, RFC 8122/4145 DTLS, RFC 8285, direction).
_BOTH_LEVELS: dict[str, _AttributeParser] = {
    "ice-ufrag": _word_attribute("ice_ufrag", "ice-ufrag"),
    "ice-pwd": _word_attribute("ice_pwd", "ice-pwd"),
    "ice-options": _parse_ice_options,
    "fingerprint": _parse_fingerprint,
    "setup": _parse_setup,
    "extmap": _parse_extmap,
    "extmap-allow-mixed": _flag("extmap_allow_mixed", "extmap-allow-mixed"),
} | {direction.value: _direction(direction) for direction in Direction}

_SESSION_ATTRIBUTES: dict[str, _AttributeParser] = _BOTH_LEVELS | {"group": _parse_group}

_MEDIA_ATTRIBUTES: dict[str, _AttributeParser] = _BOTH_LEVELS | {
    "mid": _word_attribute("mid", "mid"),
    "rtpmap": _parse_rtpmap,
    "fmtp": _parse_fmtp,
    "rtcp-fb": _parse_rtcp_fb,
    "rtcp": _parse_rtcp,
    "rtcp-mux": _flag("rtcp_mux", "rtcp-mux"),
    "candidate": _parse_candidate,
    "end-of-candidates": _flag("end_of_candidates", "end-of-candidates"),
    "ssrc": _parse_ssrc,
    "ssrc-group": _parse_ssrc_group,
    "crypto": _parse_crypto,
    "ptime": _milliseconds("ptime", "ptime"),
    "maxptime": _milliseconds("maxptime", "maxptime"),
}

_ATTRIBUTE_NAME = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")


def _parse_attribute(section: _Section, value: str, parsers: dict[str, _AttributeParser]) -> None:
    name, colon, attribute_value = value.partition(":")
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise SdpError(f"bad attribute name {name[:40]!r}")
    parser = parsers.get(name)
    if parser is not None:
        parser(section, attribute_value if colon else None)
    else:
        section.add(
            "attributes", _make(Attribute, f"a={name}", name=name, value=attribute_value if colon else None)
        )


def _parse_bandwidth(section: _Section, value: str) -> None:
    kind, colon, amount = value.partition(":")
    if not colon:
        raise SdpError("b= must be '<bwtype>:<bandwidth>'")
    section.add(
        "bandwidths", _make(Bandwidth, "b=", type=kind, value=_number(amount.strip(" \t"), "b= bandwidth"))
    )


def _parse_media_line(value: str) -> _Section:
    words = _words(value)
    if len(words) < 4:
        raise SdpError("m= must be '<media> <port>[/<number of ports>] <proto> <format> ...'")
    port, slash, count = words[1].partition("/")
    section = _Section("media")
    section.values.update(
        media=words[0],
        port=_number(port, "m= port"),
        port_count=_number(count, "m= number of ports") if slash else None,
        proto=words[2],
        formats=words[3:],
    )
    if section.values["port"] > 65535:
        raise SdpError(f"m= port {section.values['port']} is out of range")
    return section


def _parse_origin(value: str) -> Origin:
    words = _words(value)
    if len(words) != 6:
        raise SdpError("o= must be '<username> <sess-id> <sess-version> <nettype> <addrtype> <address>'")
    return _make(
        Origin,
        "o=",
        username=words[0],
        session_id=_number(words[1], "o= sess-id"),
        session_version=_number(words[2], "o= sess-version"),
        nettype=words[3],
        addrtype=words[4],
        address=words[5],
    )


def _parse_timing(value: str) -> Timing:
    words = _words(value)
    if len(words) != 2:
        raise SdpError("t= must be '<start time> <stop time>'")
    return _make(
        Timing, "t=", start=_number(words[0], "t= start time"), stop=_number(words[1], "t= stop time")
    )


def _lines(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, type letter, value) of each non-blank line."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip(" \t"):
            continue
        if "\r" in line:
            raise SdpError("CR inside a line", line=number)
        match = _LINE.fullmatch(line)
        if match is None:
            raise SdpError(f"not an SDP line '<type>=<value>': {line[:40]!r}", line=number)
        yield number, match.group(1), match.group(2)


_LineParser = Callable[[_Section, str], None]


def _once(field: str, line: str, convert: Callable[[str], Any] = lambda value: value) -> _LineParser:
    def parse(section: _Section, value: str) -> None:
        section.once(field, convert(value), line)

    return parse


def _append(field: str, convert: Callable[[str], Any] = lambda value: value) -> _LineParser:
    def parse(section: _Section, value: str) -> None:
        section.add(field, convert(value))

    return parse


def _parse_repeat(section: _Section, value: str) -> None:
    timings = section.values.get("timings")
    if not timings:
        raise SdpError("r= must follow a t= line")
    last: Timing = timings[-1]
    timings[-1] = _make(
        Timing, "r=", start=last.start, stop=last.stop, repeats=(*last.repeats, value.strip(" \t"))
    )


def _strip(value: str) -> str:
    return value.strip(" \t")


# RFC 8866 section 5: the lines of the session part and of a media description (v= and m= are handled by
# parse_sdp itself).
_SESSION_LINES: dict[str, _LineParser] = {
    "o": _once("origin", "o=", _parse_origin),
    "s": _once("name", "s="),
    "i": _once("information", "i="),
    "u": _once("uri", "u="),
    "e": _append("emails"),
    "p": _append("phones"),
    "c": _once("connection", "c=", lambda value: _connection(value, "c=")),
    "b": _parse_bandwidth,
    "t": _append("timings", _parse_timing),
    "r": _parse_repeat,
    "z": _once("time_zones", "z=", _strip),
    "k": _once("key", "k=", _strip),
    "a": lambda section, value: _parse_attribute(section, value, _SESSION_ATTRIBUTES),
}
_MEDIA_LINES: dict[str, _LineParser] = {
    "i": _once("information", "i="),
    "c": _once("connection", "c=", lambda value: _connection(value, "c=")),
    "b": _parse_bandwidth,
    "k": _once("key", "k=", _strip),
    "a": lambda section, value: _parse_attribute(section, value, _MEDIA_ATTRIBUTES),
}


def _parse_line(section: _Section, kind: str, value: str) -> None:
    parsers = _SESSION_LINES if section.level == "session" else _MEDIA_LINES
    parser = parsers.get(kind)
    if parser is not None:
        parser(section, value)
    elif kind in _SESSION_LINES:
        raise SdpError(f"{kind}= is not allowed in a media description")
    else:
        raise SdpError(f"unknown line type {kind}=")


def parse_sdp(text: str) -> SessionDescription:
    """Parse an SDP body (RFC 8866 section 5). Raises `SdpError`, and only that, on any defect."""
    if len(text) > MAX_SDP_SIZE:
        raise SdpError(f"SDP body over {MAX_SDP_SIZE} bytes")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise SdpError("SDP body is not valid Unicode text") from None
    if size > MAX_SDP_SIZE:
        raise SdpError(f"SDP body of {size} bytes is over the {MAX_SDP_SIZE}-byte limit")
    if "\x00" in text:
        raise SdpError("NUL character in the SDP body", line=text.count("\n", 0, text.index("\x00")) + 1)

    lines = _lines(text)
    first = next(lines, None)
    if first is None:
        raise SdpError("empty SDP body")
    number, kind, value = first
    if kind != "v":
        raise SdpError("an SDP body starts with v=0", line=number)
    if value.strip(" \t") != "0":
        raise SdpError(f"unsupported SDP version {value[:20]!r}", line=number)
    session = _Section("session")
    media: list[tuple[int, _Section]] = []
    for number, kind, value in lines:
        try:
            if kind == "v":
                raise SdpError("more than one v= line")
            if kind == "m":
                media.append((number, _parse_media_line(value)))
            else:
                _parse_line(media[-1][1] if media else session, kind, value)
        except SdpError as exc:
            raise SdpError(exc.reason, line=number) from None
        except ValidationError as exc:  # an update of an already-built model
            raise SdpError(f"bad {kind}= line: {exc.errors()[0]['msg'].lower()}", line=number) from None
    values = session.values
    for required, line in (("origin", "o="), ("name", "s="), ("timings", "t=")):
        if required not in values:
            raise SdpError(f"missing {line} line")
    descriptions = []
    for line_number, section in media:
        try:
            descriptions.append(_make(MediaDescription, "media description", **section.values))
        except SdpError as exc:
            raise SdpError(exc.reason, line=line_number) from None
    return _make(SessionDescription, "session description", **values, media=descriptions)


# -- serialising --------------------------------------------------------------------------------------------


def _connection_text(connection: Connection) -> str:
    return f"{connection.nettype} {connection.addrtype} {connection.address}"


def _extmap_text(extmap: Extmap) -> str:
    ident = f"{extmap.id}/{extmap.direction}" if extmap.direction else str(extmap.id)
    return " ".join(part for part in (ident, extmap.uri, extmap.attributes) if part)


def _candidate_text(c: Candidate) -> str:
    words = [
        c.foundation,
        str(c.component),
        c.transport,
        str(c.priority),
        c.address,
        str(c.port),
        "typ",
        c.type,
    ]
    typed = (
        ("raddr", c.rel_addr),
        ("rport", c.rel_port),
        ("tcptype", c.tcptype),
        ("generation", c.generation),
        ("network-id", c.network_id),
    )
    for name, value in (*typed, *c.extensions):
        if value is not None:
            words += [name, str(value)]
    return " ".join(words)


def _common_attributes(section: SessionDescription | MediaDescription) -> Iterator[str]:
    if section.ice_ufrag is not None:
        yield f"a=ice-ufrag:{section.ice_ufrag}"
    if section.ice_pwd is not None:
        yield f"a=ice-pwd:{section.ice_pwd}"
    if section.ice_options:
        yield "a=ice-options:" + " ".join(section.ice_options)
    for fingerprint in section.fingerprints:
        yield f"a=fingerprint:{fingerprint.hash} {fingerprint.value}"
    if section.setup is not None:
        yield f"a=setup:{section.setup}"


def _media_lines(m: MediaDescription) -> Iterator[str]:
    port = f"{m.port}/{m.port_count}" if m.port_count is not None else str(m.port)
    yield f"m={m.media} {port} {m.proto} {' '.join(m.formats)}"
    if m.information is not None:
        yield f"i={m.information}"
    if m.connection is not None:
        yield f"c={_connection_text(m.connection)}"
    yield from (f"b={b.type}:{b.value}" for b in m.bandwidths)
    if m.key is not None:
        yield f"k={m.key}"
    if m.rtcp is not None:
        yield f"a=rtcp:{m.rtcp.port}" + (
            f" {_connection_text(m.rtcp.connection)}" if m.rtcp.connection else ""
        )
    yield from _common_attributes(m)
    if m.mid is not None:
        yield f"a=mid:{m.mid}"
    yield from (f"a=extmap:{_extmap_text(e)}" for e in m.extmaps)
    if m.extmap_allow_mixed:
        yield "a=extmap-allow-mixed"
    if m.direction is not None:
        yield f"a={m.direction}"
    if m.rtcp_mux:
        yield "a=rtcp-mux"
    for r in m.rtpmaps:
        yield f"a=rtpmap:{r.payload_type} {r.encoding}/{r.clock_rate}" + (
            f"/{r.channels}" if r.channels is not None else ""
        )
    for f in m.fmtps:
        yield f"a=fmtp:{f.format} {f.parameters}" if f.parameters else f"a=fmtp:{f.format}"
    for fb in m.rtcp_fbs:
        yield "a=rtcp-fb:" + " ".join(
            (fb.format, fb.type, *((fb.subtype,) if fb.subtype else ()), *fb.parameters)
        )
    if m.ptime is not None:
        yield f"a=ptime:{m.ptime}"
    if m.maxptime is not None:
        yield f"a=maxptime:{m.maxptime}"
    for c in m.crypto:
        yield f"a=crypto:{c.tag} {c.suite} {c.key_params}" + (
            f" {c.session_params}" if c.session_params else ""
        )
    yield from (f"a=candidate:{_candidate_text(c)}" for c in m.candidates)
    if m.end_of_candidates:
        yield "a=end-of-candidates"
    for g in m.ssrc_groups:
        yield f"a=ssrc-group:{' '.join((g.semantics, *map(str, g.ssrcs)))}"
    for s in m.ssrcs:
        yield f"a=ssrc:{s.ssrc} {s.attribute}" + (f":{s.value}" if s.value is not None else "")
    yield from _attribute_lines(m.attributes)


def _attribute_lines(attributes: Iterable[Attribute]) -> Iterator[str]:
    for a in attributes:
        yield f"a={a.name}" if a.value is None else f"a={a.name}:{a.value}"


def _session_lines(sd: SessionDescription) -> Iterator[str]:
    o = sd.origin
    yield "v=0"
    yield f"o={o.username} {o.session_id} {o.session_version} {o.nettype} {o.addrtype} {o.address}"
    yield f"s={sd.name}"
    if sd.information is not None:
        yield f"i={sd.information}"
    if sd.uri is not None:
        yield f"u={sd.uri}"
    yield from (f"e={e}" for e in sd.emails)
    yield from (f"p={p}" for p in sd.phones)
    if sd.connection is not None:
        yield f"c={_connection_text(sd.connection)}"
    yield from (f"b={b.type}:{b.value}" for b in sd.bandwidths)
    for t in sd.timings:
        yield f"t={t.start} {t.stop}"
        yield from (f"r={r}" for r in t.repeats)
    if sd.time_zones is not None:
        yield f"z={sd.time_zones}"
    if sd.key is not None:
        yield f"k={sd.key}"
    for g in sd.groups:
        yield "a=group:" + " ".join((g.semantics, *g.mids))
    yield from _common_attributes(sd)
    yield from (f"a=extmap:{_extmap_text(e)}" for e in sd.extmaps)
    if sd.extmap_allow_mixed:
        yield "a=extmap-allow-mixed"
    if sd.direction is not None:
        yield f"a={sd.direction}"
    yield from _attribute_lines(sd.attributes)
    for m in sd.media:
        yield from _media_lines(m)


def serialize_sdp(sd: SessionDescription) -> str:
    """The SDP body of a model: RFC 8866 line order, CRLF line ends (the last line too)."""
    return "".join(line + "\r\n" for line in _session_lines(sd))
