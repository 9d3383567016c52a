"""Typed model of a Jingle `<content>` for RTP sessions, and of the jingle-level `<group>`.

What it covers:

- XEP-0166 section 7.3 `<content creator name senders disposition>`;
- XEP-0167 `<description xmlns='urn:xmpp:jingle:apps:rtp:1' media ssrc>` with its `<payload-type>`s
  (id, name, clockrate, channels, ptime, maxptime, `<parameter>`), `<bandwidth>`, `<rtcp-mux/>` and SDES
  `<encryption>`/`<crypto>` (section 7);
- inside the description: XEP-0293 `<rtcp-fb>` and `<rtcp-fb-trr-int>` (also inside a payload-type),
  XEP-0294 `<rtp-hdrext>` and `<extmap-allow-mixed>`, XEP-0339 `<source>` and `<ssrc-group>`;
- XEP-0176 ICE-UDP `<transport ufrag pwd>` with `<candidate>`s, `<remote-candidate>` and XEP-0320
  `<fingerprint hash setup>`; Jitsi also puts an `<rtcp-mux/>` there (`IceUdpTransport.rtcp_mux`);
- XEP-0177 raw-UDP `<transport>` with its `<candidate>`s;
- XEP-0338 `<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics>` (a child of `<jingle>`).

Absent optional attributes stay None (not their schema default), so what a peer sent is written back as it
was. Elements and attributes this module does not know are kept, like `gateway.conference_info`
extensions: attributes in `other_attributes` (Clark notation when namespaced), elements in `extensions` as
self-contained fragments; `content_element` writes them back after the known ones. A content whose
description or transport is not one of the above keeps it as an extension, with `description` or
`transport` None (the SDP mapping then refuses it, see `xmpp.jingle_sdp`).

Input comes from untrusted peers. Anything the schemas forbid that matters here (a missing required
attribute, a number out of range, an unknown enumeration value, a duplicated single child) raises
`JingleContentError`, and only that, with the path of the faulty element and attribute; the session
layer answers it with `bad-request`.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from xmpp.namespaces import (
    JINGLE,
    JINGLE_DTLS,
    JINGLE_GROUPING,
    JINGLE_ICE_UDP,
    JINGLE_RAW_UDP,
    JINGLE_RTCP_FB,
    JINGLE_RTP,
    JINGLE_RTP_HDREXT,
    JINGLE_SSMA,
)

MAX_UINT32 = 2**32 - 1
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
HexPairs = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*$")]


class JingleContentError(ValueError):
    """A `<content>` or `<group>` from a peer is malformed. `path` locates the faulty element."""

    def __init__(self, reason: str, *, path: str) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}")


class Creator(StrEnum):
    """XEP-0166 section 7.3 `creator`."""

    INITIATOR = "initiator"
    RESPONDER = "responder"


class Senders(StrEnum):
    """XEP-0166 section 7.3 `senders` (also XEP-0294 `rtp-hdrext@senders`): who sends media."""

    BOTH = "both"
    INITIATOR = "initiator"
    RESPONDER = "responder"
    NONE = "none"


class CandidateType(StrEnum):
    """XEP-0176 section 5.3 candidate `type` (RFC 8445 candidate types)."""

    HOST = "host"
    PRFLX = "prflx"
    RELAY = "relay"
    SRFLX = "srflx"


class DtlsSetup(StrEnum):
    """XEP-0320 `fingerprint@setup` (RFC 4145 roles)."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"
    HOLDCONN = "holdconn"


class Extension(BaseModel):
    """An element this module does not know, kept as a self-contained fragment in canonical form."""

    model_config = ConfigDict(frozen=True)
    xml: str

    @field_validator("xml")
    @classmethod
    def _canonical(cls, xml: str) -> str:
        return _canonical(_fragment(xml))

    def element(self) -> etree._Element:
        return _fragment(self.xml)


class Node(BaseModel):
    """Base of every element model: immutable, keeping the attributes it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    other_attributes: Mapping[str, str] = Field(default_factory=dict)


class Extensible(Node):
    """An element that also keeps the child elements it does not know."""

    extensions: tuple[Extension, ...] = ()


class Parameter(Node):
    """`<parameter name value>` (XEP-0167 section 4 requires `value`; XEP-0293/0294/0339 do not)."""

    name: str
    value: str | None = None


class RtcpFeedback(Node):
    """XEP-0293 `<rtcp-fb type [subtype]>` with its `<parameter>`s."""

    type: NonEmpty
    subtype: str | None = None
    parameters: tuple[Parameter, ...] = ()


class PayloadType(Extensible):
    """XEP-0167 section 4 `<payload-type>`, with its XEP-0293 feedback."""

    id: int = Field(ge=0, le=127)
    name: str | None = None
    clockrate: int | None = Field(None, ge=0, le=MAX_UINT32)
    channels: int | None = Field(None, ge=0, le=255)
    ptime: int | None = Field(None, ge=0, le=MAX_UINT32)
    maxptime: int | None = Field(None, ge=0, le=MAX_UINT32)
    parameters: tuple[Parameter, ...] = ()
    rtcp_feedback: tuple[RtcpFeedback, ...] = ()
    trr_int: int | None = Field(None, ge=0, le=MAX_UINT32)


class HeaderExtension(Node):
    """XEP-0294 `<rtp-hdrext id uri [senders]>` with its `<parameter>`s."""

    id: int = Field(ge=1, le=65535)
    uri: NonEmpty
    senders: Senders | None = None
    parameters: tuple[Parameter, ...] = ()


class Source(Extensible):
    """XEP-0339 section 2.1 `<source ssrc>` with its `<parameter>`s (Jitsi adds `name`, `videoType`,
    `<ssrc-info>`: kept as unknown attributes and elements)."""

    ssrc: int = Field(ge=0, le=MAX_UINT32)
    parameters: tuple[Parameter, ...] = ()


class SsrcGroup(Extensible):
    """XEP-0339 section 2.2 `<ssrc-group semantics>` of `<source ssrc>`s (semantics beyond the schema's
    list, such as Jitsi's `SIM`, are accepted)."""

    semantics: NonEmpty
    ssrcs: tuple[int, ...] = ()


class Crypto(Node):
    """XEP-0167 section 7 `<crypto crypto-suite key-params [session-params] tag>` (RFC 4568 SDES)."""

    crypto_suite: NonEmpty
    key_params: NonEmpty
    session_params: str | None = None
    tag: NonEmpty


class Encryption(Extensible):
    """XEP-0167 section 7 `<encryption [required]>` of `<crypto>`s."""

    required: bool | None = None
    cryptos: tuple[Crypto, ...] = ()


class Bandwidth(Node):
    """XEP-0167 section 4 `<bandwidth type>value</bandwidth>` (an SDP `b=` line)."""

    type: NonEmpty
    value: str


class RtpDescription(Extensible):
    """XEP-0167 `<description xmlns='urn:xmpp:jingle:apps:rtp:1' media [ssrc]>`."""

    media: NonEmpty
    ssrc: int | None = Field(None, ge=0, le=MAX_UINT32)
    payload_types: tuple[PayloadType, ...] = ()
    rtcp_feedback: tuple[RtcpFeedback, ...] = ()  # for every payload type (SDP `a=rtcp-fb:*`)
    trr_int: int | None = Field(None, ge=0, le=MAX_UINT32)
    header_extensions: tuple[HeaderExtension, ...] = ()
    extmap_allow_mixed: bool = False
    sources: tuple[Source, ...] = ()
    ssrc_groups: tuple[SsrcGroup, ...] = ()
    bandwidths: tuple[Bandwidth, ...] = ()
    encryption: Encryption | None = None
    rtcp_mux: bool = False


class IceCandidate(Node):
    """XEP-0176 section 5.3 `<candidate>` (`tcptype` is Jitsi's, for RFC 6544 TCP candidates)."""

    component: int = Field(ge=0, le=255)
    foundation: NonEmpty
    generation: int | None = Field(None, ge=0, le=MAX_UINT32)
    id: NonEmpty
    ip: NonEmpty
    network: int | None = Field(None, ge=0, le=MAX_UINT32)
    port: int = Field(ge=0, le=65535)
    priority: int = Field(ge=0, le=MAX_UINT32)
    protocol: NonEmpty
    rel_addr: str | None = None
    rel_port: int | None = Field(None, ge=0, le=65535)
    type: CandidateType
    tcptype: str | None = None


class RemoteCandidate(Node):
    """XEP-0176 section 5.3 `<remote-candidate component ip port>` (the candidate ICE selected)."""

    component: int = Field(ge=0, le=255)
    ip: NonEmpty
    port: int = Field(ge=0, le=65535)


class Fingerprint(Node):
    """XEP-0320 `<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash setup>hex</fingerprint>`."""

    hash: NonEmpty
    setup: DtlsSetup | None = None
    value: HexPairs


class IceUdpTransport(Extensible):
    """XEP-0176 `<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag pwd>`."""

    ufrag: str | None = None
    pwd: str | None = None
    fingerprints: tuple[Fingerprint, ...] = ()
    candidates: tuple[IceCandidate, ...] = ()
    remote_candidate: RemoteCandidate | None = None
    rtcp_mux: bool = False  # Jitsi's `<rtcp-mux/>` inside the transport


class RawUdpCandidate(Node):
    """XEP-0177 section 4 `<candidate component generation id ip port [type]>`."""

    component: int = Field(ge=0, le=255)
    generation: int | None = Field(None, ge=0, le=MAX_UINT32)
    id: NonEmpty
    ip: NonEmpty
    port: int = Field(ge=0, le=65535)
    type: CandidateType | None = None


class RawUdpTransport(Extensible):
    """XEP-0177 `<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>`."""

    candidates: tuple[RawUdpCandidate, ...] = ()


Transport = IceUdpTransport | RawUdpTransport


class Content(Extensible):
    """XEP-0166 section 7.3 `<content>`: an RTP description and an ICE-UDP or raw-UDP transport, either
    possibly absent (e.g. a transport-info carries no description), or of another kind (kept in
    `extensions`)."""

    creator: Creator
    name: NonEmpty
    senders: Senders | None = None
    disposition: str | None = None
    description: RtpDescription | None = None
    transport: Transport | None = None


class Group(Extensible):
    """XEP-0338 `<group semantics>` of `<content name>`s, e.g. BUNDLE (RFC 9143)."""

    semantics: NonEmpty
    contents: tuple[NonEmpty, ...] = ()


# -- reading --------------------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
_INTEGER = re.compile(r"\s*\+?([0-9]{1,20})\s*")
_TRUE, _FALSE = frozenset(("true", "1")), frozenset(("false", "0"))


def _tag(namespace: str, local: str) -> str:
    return "{" + namespace + "}" + local


def _fragment(xml: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    try:
        if "<!DOCTYPE" in xml:
            raise ValueError("an extension cannot hold a DTD")
        return etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"extension is not a well-formed element: {exc.msg}") from None


def _canonical(el: etree._Element) -> str:
    el = copy.deepcopy(el)
    el.tail = None
    etree.cleanup_namespaces(el)
    return etree.tostring(el, encoding="unicode")


class _Reader:
    """One element being read: its attributes are taken one by one; those left are `other_attributes`."""

    def __init__(self, el: etree._Element, path: str) -> None:
        self.el = el
        self.path = path
        self._taken: set[str] = set()

    def error(self, reason: str, attribute: str | None = None) -> JingleContentError:
        return JingleContentError(reason, path=f"{self.path}@{attribute}" if attribute else self.path)

    def get(self, name: str) -> str | None:
        self._taken.add(name)
        return self.el.get(name)

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise self.error("missing required attribute", name)
        return value

    def integer(self, name: str, high: int, low: int = 0) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        match = _INTEGER.fullmatch(value)
        number = int(match.group(1)) if match else None
        if number is None or not low <= number <= high:
            raise self.error(f"{value[:40]!r} is not an integer from {low} to {high}", name)
        return number

    def need_integer(self, name: str, high: int, low: int = 0) -> int:
        value = self.integer(name, high, low)
        if value is None:
            raise self.error("missing required attribute", name)
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is None:
            return None
        if value.strip() in _TRUE:
            return True
        if value.strip() in _FALSE:
            return False
        raise self.error(f"{value[:40]!r} is not a boolean", name)

    def choice(self, name: str, enum: type[StrEnum]) -> Any:
        value = self.get(name)
        if value is None:
            return None
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise self.error(f"{value[:40]!r} is not one of {allowed}", name) from None

    def other_attributes(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.el.attrib.items() if k not in self._taken}

    def children(self) -> Iterator[tuple[str, etree._Element, str]]:
        """(Clark tag, element, path) of each child element, comments and processing instructions skipped."""
        seen: Counter[str] = Counter()
        for child in self.el:
            if not isinstance(child.tag, str):
                continue
            local = etree.QName(child).localname
            seen[local] += 1
            yield child.tag, child, f"{self.path}/{local}[{seen[local]}]"

    def build(self, cls: type[M], **values: Any) -> M:
        try:
            return cls(other_attributes=self.other_attributes(), **values)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            pattern = error["type"] == "string_pattern_mismatch"  # only the fingerprint has a pattern
            message = "not colon-separated hex pairs" if pattern else error["msg"]
            raise self.error(f"{message} ({where})") from None


def _extension(el: etree._Element) -> Extension:
    return Extension.model_construct(xml=_canonical(el))


def _once(current: object, reader: _Reader, what: str) -> None:
    if current is not None and current is not False:
        raise reader.error(f"more than one {what}")


def _parameter(el: etree._Element, path: str) -> Parameter:
    r = _Reader(el, path)
    return r.build(Parameter, name=r.need("name"), value=r.get("value"))


def _parameters_only(r: _Reader, namespace: str) -> tuple[list[Parameter], list[Extension]]:
    parameters, extensions = [], []
    for tag, child, path in r.children():
        if tag == _tag(namespace, "parameter"):
            parameters.append(_parameter(child, path))
        else:
            extensions.append(_extension(child))
    return parameters, extensions


def _rtcp_feedback(el: etree._Element, path: str) -> RtcpFeedback:
    r = _Reader(el, path)
    parameters, _ = _parameters_only(r, JINGLE_RTCP_FB)
    return r.build(RtcpFeedback, type=r.need("type"), subtype=r.get("subtype"), parameters=parameters)


def _trr_int(el: etree._Element, path: str) -> int:
    return _Reader(el, path).need_integer("value", MAX_UINT32)


def _payload_type(el: etree._Element, path: str) -> PayloadType:
    r = _Reader(el, path)
    values: dict[str, Any] = {
        "id": r.need_integer("id", 127),
        "name": r.get("name"),
        "clockrate": r.integer("clockrate", MAX_UINT32),
        "channels": r.integer("channels", 255),
        "ptime": r.integer("ptime", MAX_UINT32),
        "maxptime": r.integer("maxptime", MAX_UINT32),
    }
    parameters, feedback, extensions = [], [], []
    for tag, child, child_path in r.children():
        if tag == _tag(JINGLE_RTP, "parameter"):
            parameters.append(_parameter(child, child_path))
        elif tag == _tag(JINGLE_RTCP_FB, "rtcp-fb"):
            feedback.append(_rtcp_feedback(child, child_path))
        elif tag == _tag(JINGLE_RTCP_FB, "rtcp-fb-trr-int"):
            _once(values.get("trr_int"), r, "rtcp-fb-trr-int")
            values["trr_int"] = _trr_int(child, child_path)
        else:
            extensions.append(_extension(child))
    return r.build(
        PayloadType, **values, parameters=parameters, rtcp_feedback=feedback, extensions=extensions
    )


def _header_extension(el: etree._Element, path: str) -> HeaderExtension:
    r = _Reader(el, path)
    values = {
        "id": r.need_integer("id", 65535, low=1),
        "uri": r.need("uri"),
        "senders": r.choice("senders", Senders),
    }
    parameters, _ = _parameters_only(r, JINGLE_RTP_HDREXT)
    return r.build(HeaderExtension, **values, parameters=parameters)


def _source(el: etree._Element, path: str) -> Source:
    r = _Reader(el, path)
    ssrc = r.need_integer("ssrc", MAX_UINT32)
    parameters, extensions = _parameters_only(r, JINGLE_SSMA)
    return r.build(Source, ssrc=ssrc, parameters=parameters, extensions=extensions)


def _ssrc_group(el: etree._Element, path: str) -> SsrcGroup:
    r = _Reader(el, path)
    semantics = r.need("semantics")
    ssrcs, extensions = [], []
    for tag, child, child_path in r.children():
        if tag == _tag(JINGLE_SSMA, "source"):
            ssrcs.append(_Reader(child, child_path).need_integer("ssrc", MAX_UINT32))
        else:
            extensions.append(_extension(child))
    return r.build(SsrcGroup, semantics=semantics, ssrcs=ssrcs, extensions=extensions)


def _crypto(el: etree._Element, path: str) -> Crypto:
    r = _Reader(el, path)
    return r.build(
        Crypto,
        crypto_suite=r.need("crypto-suite"),
        key_params=r.need("key-params"),
        session_params=r.get("session-params"),
        tag=r.need("tag"),
    )


def _encryption(el: etree._Element, path: str) -> Encryption:
    r = _Reader(el, path)
    required = r.boolean("required")
    cryptos, extensions = [], []
    for tag, child, child_path in r.children():
        if tag == _tag(JINGLE_RTP, "crypto"):
            cryptos.append(_crypto(child, child_path))
        else:
            extensions.append(_extension(child))
    return r.build(Encryption, required=required, cryptos=cryptos, extensions=extensions)


def _bandwidth(el: etree._Element, path: str) -> Bandwidth:
    r = _Reader(el, path)
    return r.build(Bandwidth, type=r.need("type"), value=(el.text or "").strip())


def _description(el: etree._Element, path: str) -> RtpDescription:
    r = _Reader(el, path)
    values: dict[str, Any] = {"media": r.need("media"), "ssrc": r.integer("ssrc", MAX_UINT32)}
    lists: dict[str, list[Any]] = {
        key: []
        for key in (
            "payload_types", "rtcp_feedback", "header_extensions", "sources", "ssrc_groups", "bandwidths",
            "extensions",
        )
    }  # fmt: skip
    for tag, child, child_path in r.children():
        if tag == _tag(JINGLE_RTP, "payload-type"):
            lists["payload_types"].append(_payload_type(child, child_path))
        elif tag == _tag(JINGLE_RTCP_FB, "rtcp-fb"):
            lists["rtcp_feedback"].append(_rtcp_feedback(child, child_path))
        elif tag == _tag(JINGLE_RTCP_FB, "rtcp-fb-trr-int"):
            _once(values.get("trr_int"), r, "rtcp-fb-trr-int")
            values["trr_int"] = _trr_int(child, child_path)
        elif tag == _tag(JINGLE_RTP_HDREXT, "rtp-hdrext"):
            lists["header_extensions"].append(_header_extension(child, child_path))
        elif tag == _tag(JINGLE_RTP_HDREXT, "extmap-allow-mixed"):
            values["extmap_allow_mixed"] = True
        elif tag == _tag(JINGLE_SSMA, "source"):
            lists["sources"].append(_source(child, child_path))
        elif tag == _tag(JINGLE_SSMA, "ssrc-group"):
            lists["ssrc_groups"].append(_ssrc_group(child, child_path))
        elif tag == _tag(JINGLE_RTP, "bandwidth"):
            lists["bandwidths"].append(_bandwidth(child, child_path))
        elif tag == _tag(JINGLE_RTP, "encryption"):
            _once(values.get("encryption"), r, "encryption")
            values["encryption"] = _encryption(child, child_path)
        elif tag == _tag(JINGLE_RTP, "rtcp-mux"):
            values["rtcp_mux"] = True
        else:
            lists["extensions"].append(_extension(child))
    return r.build(RtpDescription, **values, **lists)


def _ice_candidate(el: etree._Element, path: str) -> IceCandidate:
    r = _Reader(el, path)
    return r.build(
        IceCandidate,
        component=r.need_integer("component", 255),
        foundation=r.need("foundation"),
        generation=r.integer("generation", MAX_UINT32),
        id=r.need("id"),
        ip=r.need("ip"),
        network=r.integer("network", MAX_UINT32),
        port=r.need_integer("port", 65535),
        priority=r.need_integer("priority", MAX_UINT32),
        protocol=r.need("protocol"),
        rel_addr=r.get("rel-addr"),
        rel_port=r.integer("rel-port", 65535),
        type=r.choice("type", CandidateType) or _missing(r, "type"),
        tcptype=r.get("tcptype"),
    )


def _missing(r: _Reader, name: str) -> Any:
    raise r.error("missing required attribute", name)


def _fingerprint(el: etree._Element, path: str) -> Fingerprint:
    r = _Reader(el, path)
    return r.build(
        Fingerprint, hash=r.need("hash"), setup=r.choice("setup", DtlsSetup), value=(el.text or "").strip()
    )


def _ice_transport(el: etree._Element, path: str) -> IceUdpTransport:
    r = _Reader(el, path)
    values: dict[str, Any] = {"ufrag": r.get("ufrag"), "pwd": r.get("pwd")}
    fingerprints, candidates, extensions = [], [], []
    for tag, child, child_path in r.children():
        if tag == _tag(JINGLE_ICE_UDP, "candidate"):
            candidates.append(_ice_candidate(child, child_path))
        elif tag == _tag(JINGLE_DTLS, "fingerprint"):
            fingerprints.append(_fingerprint(child, child_path))
        elif tag == _tag(JINGLE_ICE_UDP, "remote-candidate"):
            _once(values.get("remote_candidate"), r, "remote-candidate")
            c = _Reader(child, child_path)
            values["remote_candidate"] = c.build(
                RemoteCandidate,
                component=c.need_integer("component", 255),
                ip=c.need("ip"),
                port=c.need_integer("port", 65535),
            )
        elif tag == _tag(JINGLE_ICE_UDP, "rtcp-mux"):
            values["rtcp_mux"] = True
        else:
            extensions.append(_extension(child))
    return r.build(
        IceUdpTransport, **values, fingerprints=fingerprints, candidates=candidates, extensions=extensions
    )


def _raw_transport(el: etree._Element, path: str) -> RawUdpTransport:
    r = _Reader(el, path)
    candidates, extensions = [], []
    for tag, child, child_path in r.children():
        if tag == _tag(JINGLE_RAW_UDP, "candidate"):
            c = _Reader(child, child_path)
            candidates.append(
                c.build(
                    RawUdpCandidate,
                    component=c.need_integer("component", 255),
                    generation=c.integer("generation", MAX_UINT32),
                    id=c.need("id"),
                    ip=c.need("ip"),
                    port=c.need_integer("port", 65535),
                    type=c.choice("type", CandidateType),
                )
            )
        else:
            extensions.append(_extension(child))
    return r.build(RawUdpTransport, candidates=candidates, extensions=extensions)


def parse_content(el: etree._Element) -> Content:
    """Read a XEP-0166 `<content>` element. Raises `JingleContentError` if it is malformed."""
    if el.tag != _tag(JINGLE, "content"):
        raise JingleContentError(
            f"expected a {{{JINGLE}}}content element, got {str(el.tag)[:80]}", path="content"
        )
    name = el.get("name")
    r = _Reader(el, f"content[@name={name!r}]" if name is not None else "content")
    values: dict[str, Any] = {
        "creator": r.choice("creator", Creator) or _missing(r, "creator"),
        "name": r.need("name"),
        "senders": r.choice("senders", Senders),
        "disposition": r.get("disposition"),
    }
    extensions = []
    for tag, child, path in r.children():
        if tag == _tag(JINGLE_RTP, "description"):
            _once(values.get("description"), r, "RTP description")
            values["description"] = _description(child, path)
        elif tag in (_tag(JINGLE_ICE_UDP, "transport"), _tag(JINGLE_RAW_UDP, "transport")):
            _once(values.get("transport"), r, "transport")
            ice = tag == _tag(JINGLE_ICE_UDP, "transport")
            values["transport"] = _ice_transport(child, path) if ice else _raw_transport(child, path)
        else:
            extensions.append(_extension(child))
    return r.build(Content, **values, extensions=extensions)


def parse_group(el: etree._Element) -> Group:
    """Read a XEP-0338 `<group>` element. Raises `JingleContentError` if it is malformed."""
    if el.tag != _tag(JINGLE_GROUPING, "group"):
        raise JingleContentError(f"expected a {{{JINGLE_GROUPING}}}group element", path="group")
    r = _Reader(el, "group")
    semantics = r.need("semantics")
    names, extensions = [], []
    for tag, child, path in r.children():
        if tag == _tag(JINGLE_GROUPING, "content"):
            names.append(_Reader(child, path).need("name"))
        else:
            extensions.append(_extension(child))
    return r.build(Group, semantics=semantics, contents=names, extensions=extensions)


# -- writing --------------------------------------------------------------------------------------------------


_Attributes = tuple[tuple[str, object], ...]


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _child(
    parent: etree._Element | None,
    namespace: str,
    local: str,
    attributes: Iterable[tuple[str, object]] = (),
    node: Node | None = None,
) -> etree._Element:
    """A new element (the namespace declared as default when it differs from the parent's), with the
    given attributes (None ones left out), then the node's unknown attributes and extensions."""
    tag = _tag(namespace, local)
    if parent is not None and etree.QName(parent).namespace == namespace:
        el = etree.SubElement(parent, tag)
    else:
        nsmap: Any = {None: namespace}  # lxml-stubs do not allow the None (default namespace) key
        el = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
    for name, value in attributes:
        text = _text(value)
        if text is not None:
            el.set(name, text)
    if node is not None:
        for name, value in node.other_attributes.items():
            el.set(name, value)
    return el


def _extensions(el: etree._Element, node: Extensible) -> None:
    for extension in node.extensions:
        el.append(extension.element())


def _parameters(parent: etree._Element, namespace: str, parameters: Iterable[Parameter]) -> None:
    for p in parameters:
        _child(parent, namespace, "parameter", (("name", p.name), ("value", p.value)), p)


def _feedback(parent: etree._Element, feedback: Iterable[RtcpFeedback], trr_int: int | None) -> None:
    for fb in feedback:
        el = _child(parent, JINGLE_RTCP_FB, "rtcp-fb", (("type", fb.type), ("subtype", fb.subtype)), fb)
        _parameters(el, JINGLE_RTCP_FB, fb.parameters)
    if trr_int is not None:
        _child(parent, JINGLE_RTCP_FB, "rtcp-fb-trr-int", (("value", trr_int),))


def _description_element(parent: etree._Element, d: RtpDescription) -> None:
    el = _child(parent, JINGLE_RTP, "description", (("media", d.media), ("ssrc", d.ssrc)), d)
    for pt in d.payload_types:
        attributes: _Attributes = (
            ("id", pt.id), ("name", pt.name), ("clockrate", pt.clockrate), ("channels", pt.channels),
            ("ptime", pt.ptime), ("maxptime", pt.maxptime),
        )  # fmt: skip
        pt_el = _child(el, JINGLE_RTP, "payload-type", attributes, pt)
        _parameters(pt_el, JINGLE_RTP, pt.parameters)
        _feedback(pt_el, pt.rtcp_feedback, pt.trr_int)
        _extensions(pt_el, pt)
    _feedback(el, d.rtcp_feedback, d.trr_int)
    for h in d.header_extensions:
        h_el = _child(
            el, JINGLE_RTP_HDREXT, "rtp-hdrext", (("id", h.id), ("uri", h.uri), ("senders", h.senders)), h
        )
        _parameters(h_el, JINGLE_RTP_HDREXT, h.parameters)
    if d.extmap_allow_mixed:
        _child(el, JINGLE_RTP_HDREXT, "extmap-allow-mixed")
    for s in d.sources:
        s_el = _child(el, JINGLE_SSMA, "source", (("ssrc", s.ssrc),), s)
        _parameters(s_el, JINGLE_SSMA, s.parameters)
        _extensions(s_el, s)
    for g in d.ssrc_groups:
        g_el = _child(el, JINGLE_SSMA, "ssrc-group", (("semantics", g.semantics),), g)
        for ssrc in g.ssrcs:
            _child(g_el, JINGLE_SSMA, "source", (("ssrc", ssrc),))
        _extensions(g_el, g)
    for b in d.bandwidths:
        _child(el, JINGLE_RTP, "bandwidth", (("type", b.type),), b).text = b.value
    if d.encryption is not None:
        e = d.encryption
        e_el = _child(el, JINGLE_RTP, "encryption", (("required", e.required),), e)
        for c in e.cryptos:
            attributes = (
                ("crypto-suite", c.crypto_suite), ("key-params", c.key_params),
                ("session-params", c.session_params), ("tag", c.tag),
            )  # fmt: skip
            _child(e_el, JINGLE_RTP, "crypto", attributes, c)
        _extensions(e_el, e)
    if d.rtcp_mux:
        _child(el, JINGLE_RTP, "rtcp-mux")
    _extensions(el, d)


def _transport_element(parent: etree._Element, t: Transport) -> None:
    if isinstance(t, RawUdpTransport):
        el = _child(parent, JINGLE_RAW_UDP, "transport", (), t)
        for r in t.candidates:
            attributes: _Attributes = (
                ("component", r.component), ("generation", r.generation), ("id", r.id), ("ip", r.ip),
                ("port", r.port), ("type", r.type),
            )  # fmt: skip
            _child(el, JINGLE_RAW_UDP, "candidate", attributes, r)
        _extensions(el, t)
        return
    el = _child(parent, JINGLE_ICE_UDP, "transport", (("ufrag", t.ufrag), ("pwd", t.pwd)), t)
    if t.rtcp_mux:
        _child(el, JINGLE_ICE_UDP, "rtcp-mux")
    for f in t.fingerprints:
        _child(el, JINGLE_DTLS, "fingerprint", (("hash", f.hash), ("setup", f.setup)), f).text = f.value
    for c in t.candidates:
        attributes = (
            ("component", c.component), ("foundation", c.foundation), ("generation", c.generation),
            ("id", c.id), ("ip", c.ip), ("network", c.network), ("port", c.port), ("priority", c.priority),
            ("protocol", c.protocol), ("rel-addr", c.rel_addr), ("rel-port", c.rel_port), ("type", c.type),
            ("tcptype", c.tcptype),
        )  # fmt: skip
        _child(el, JINGLE_ICE_UDP, "candidate", attributes, c)
    if t.remote_candidate is not None:
        rc = t.remote_candidate
        attributes = (("component", rc.component), ("ip", rc.ip), ("port", rc.port))
        _child(el, JINGLE_ICE_UDP, "remote-candidate", attributes, rc)
    _extensions(el, t)


def content_element(content: Content) -> etree._Element:
    """The `<content xmlns='urn:xmpp:jingle:1'>` element of a content."""
    attributes: _Attributes = (
        ("creator", content.creator), ("name", content.name), ("senders", content.senders),
        ("disposition", content.disposition),
    )  # fmt: skip
    el = _child(None, JINGLE, "content", attributes, content)
    if content.description is not None:
        _description_element(el, content.description)
    if content.transport is not None:
        _transport_element(el, content.transport)
    _extensions(el, content)
    return el


def group_element(group: Group) -> etree._Element:
    """The `<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics>` element of a group."""
    el = _child(None, JINGLE_GROUPING, "group", (("semantics", group.semantics),), group)
    for name in group.contents:
        _child(el, JINGLE_GROUPING, "content", (("name", name),))
    _extensions(el, group)
    return el
