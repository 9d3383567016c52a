"""Jingle RTP contents <-> SDP, following the mapping table of docs/DESIGN.md section 7.

    Jingle                                         SDP
    content@name                                   a=mid
    content@senders                                a=sendrecv/sendonly/recvonly/inactive (see below)
    description@media, payload-type@id             m=<media> <port> <proto> <ids>
    payload-type name/clockrate/channels           a=rtpmap (XEP-0167 section 5)
    payload-type <parameter>s                      a=fmtp, `name=value;...`
    payload-type ptime/maxptime                    a=ptime/a=maxptime
    <rtcp-mux/>, <bandwidth type>                  a=rtcp-mux, b=<type>:<value>
    <rtcp-fb>, <rtcp-fb-trr-int> (XEP-0293)        a=rtcp-fb:<id|*> ... (trr-int as its own a=rtcp-fb)
    <rtp-hdrext>, <extmap-allow-mixed> (XEP-0294)  a=extmap, a=extmap-allow-mixed
    <source>, <ssrc-group> (XEP-0339)              a=ssrc, a=ssrc-group
    <encryption><crypto> (XEP-0167 section 7)      a=crypto
    ICE ufrag/pwd, <candidate> (XEP-0176)          a=ice-ufrag, a=ice-pwd, a=candidate
    raw-UDP <candidate> (XEP-0177)                 c=, the m= port, a=rtcp
    <fingerprint hash setup> (XEP-0320)            a=fingerprint, a=setup
    <group semantics> (XEP-0338)                   a=group

**Direction.** Jingle's `senders` names who sends; an SDP direction is relative to the description's
author (RFC 3264 section 5.1). `initiator_view=True` means the SDP is the Jingle *initiator's*
description (a session-initiate <-> an SDP offer from the initiator's side): both/initiator/responder/none
<-> sendrecv/sendonly/recvonly/inactive. `initiator_view=False` means the SDP is the *responder's*
description (a session-accept <-> an SDP answer): initiator <-> recvonly, responder <-> sendonly; both and
none do not change. XEP-0294 `rtp-hdrext@senders` flips the same way with `a=extmap:<id>/<direction>` (the
XEP's own example maps `/recvonly` to `initiator`, which contradicts the content rule; we keep one rule).
An absent `senders` is an absent direction attribute, and back.

**Proto.** Chosen from what the content carries (XEP-0167 section 4, RFC 5764, RFC 4585): a DTLS
fingerprint -> UDP/TLS/RTP/SAVPF; else SDES crypto -> RTP/SAVP (RTP/SAVPF with rtcp-fb); else RTP/AVP
(RTP/AVPF with rtcp-fb or trr-int). SDES crypto lines are written even under DTLS (a DTLS peer ignores
them, RFC 8829 section 5.8) so that nothing the peer sent is lost. SDP -> Jingle accepts RTP/AVP,
RTP/AVPF, RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP and UDP/TLS/RTP/SAVPF; anything else is
`UnsupportedContent`.

**Transport.** An SDP media description with ICE (a=ice-ufrag, a=ice-pwd, a=ice-options or a=candidate,
at media or session level) becomes an ICE-UDP transport; one without ICE a raw-UDP transport whose
component-1 candidate is c= and the m= port, and whose component-2 candidate is a=rtcp or, without it, the
next port (RFC 3605, as XEP-0293's example does; none with rtcp-mux or port 0). The other way round, an ICE
content's c= and m= port are its default candidate: component 1, relayed before server-reflexive before
peer-reflexive before host (RFC 8445 section 5.1.4), then by priority; port 9 and 0.0.0.0 when it has none
(RFC 8840). Candidate ids, which SDP does not carry, are made up from the m= line's index.

**Static payload types** without a=rtpmap take their name and clock rate from RFC 3551's table.

Not carried (nothing in SDP or in Jingle to hold them): Jingle `disposition`, description@ssrc,
remote-candidate, candidate ids, unknown elements and attributes, `encryption@required` (written as true
when the SDP proto is SAVP); SDP session-level b=, a=end-of-candidates, a=rtcp-rsize and the other untyped
attributes, candidate extensions other than generation/network-id/tcptype.

Failures raise `JingleSdpError` with the content or m= line at fault: `UnsupportedContent` for a non-RTP
application (Jingle: `unsupported-applications`; SIP: 488), `UnsupportedTransport` for a transport other
than ICE-UDP and raw-UDP (`unsupported-transports`).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from lxml import etree
from pydantic import BaseModel, ValidationError

from gateway import sdp
from xmpp.jingle_content import (
    Bandwidth,
    CandidateType,
    Content,
    Creator,
    Crypto,
    DtlsSetup,
    Encryption,
    Fingerprint,
    Group,
    HeaderExtension,
    IceCandidate,
    IceUdpTransport,
    Parameter,
    PayloadType,
    RawUdpCandidate,
    RawUdpTransport,
    RtcpFeedback,
    RtpDescription,
    Senders,
    Source,
    SsrcGroup,
)

RTP_PROFILES = frozenset(
    ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
)

# RFC 3551 section 6: the static payload types still in use (name, clock rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
    10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
    14: ("MPA", 90000, None), 15: ("G728", 8000, 1), 16: ("DVI4", 11025, 1), 17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1), 25: ("CelB", 90000, None), 26: ("JPEG", 90000, None), 28: ("nv", 90000, None),
    31: ("H261", 90000, None), 32: ("MPV", 90000, None), 33: ("MP2T", 90000, None), 34: ("H263", 90000, None),
}  # fmt: skip

_INITIATOR_VIEW: dict[Senders, sdp.Direction] = {
    Senders.BOTH: sdp.Direction.SENDRECV,
    Senders.INITIATOR: sdp.Direction.SENDONLY,
    Senders.RESPONDER: sdp.Direction.RECVONLY,
    Senders.NONE: sdp.Direction.INACTIVE,
}
_RESPONDER_VIEW: dict[Senders, sdp.Direction] = _INITIATOR_VIEW | {
    Senders.INITIATOR: sdp.Direction.RECVONLY,
    Senders.RESPONDER: sdp.Direction.SENDONLY,
}
# RFC 8445 section 5.1.4: the default candidate is the one most likely to work.
_CANDIDATE_TYPES = frozenset(t.value for t in CandidateType)
_DEFAULT_RANK = {
    CandidateType.RELAY: 0,
    CandidateType.SRFLX: 1,
    CandidateType.PRFLX: 2,
    CandidateType.HOST: 3,
}


class JingleSdpError(ValueError):
    """A content or an SDP media description cannot be converted; the message says which and why."""


class UnsupportedContent(JingleSdpError):
    """The application is not RTP (Jingle `unsupported-applications`, SIP 488)."""


class UnsupportedTransport(JingleSdpError):
    """The transport is neither ICE-UDP nor raw UDP (Jingle `unsupported-transports`, SIP 488)."""


def senders_to_direction(senders: Senders, *, initiator_view: bool = True) -> sdp.Direction:
    """XEP-0166 `senders` as the SDP direction of the initiator's (or the responder's) description."""
    return (_INITIATOR_VIEW if initiator_view else _RESPONDER_VIEW)[senders]


def direction_to_senders(direction: sdp.Direction, *, initiator_view: bool = True) -> Senders:
    """The SDP direction of the initiator's (or the responder's) description as XEP-0166 `senders`."""
    view = _INITIATOR_VIEW if initiator_view else _RESPONDER_VIEW
    return next(senders for senders, d in view.items() if d == direction)


M = TypeVar("M", bound=BaseModel)


def _make(cls: type[M], where: str, **values: Any) -> M:
    try:
        return cls(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        shown = repr(error.get("input"))[:60]
        if error["type"] == "string_pattern_mismatch":
            error["msg"] = "SDP does not allow a space or a control character there"
        raise JingleSdpError(
            f"{where}: {field} cannot be converted: {error['msg'].lower()} ({shown})"
        ) from None


# -- Jingle -> SDP ------------------------------------------------------------------------------------------------


def candidate_to_sdp(c: IceCandidate, where: str = "candidate") -> sdp.Candidate:
    """XEP-0176 section 5.3: a Jingle ICE candidate as an `a=candidate` value."""
    return _make(
        sdp.Candidate,
        where,
        foundation=c.foundation,
        component=c.component,
        transport=c.protocol,
        priority=c.priority,
        address=c.ip,
        port=c.port,
        type=c.type.value,
        rel_addr=c.rel_addr,
        rel_port=c.rel_port,
        tcptype=c.tcptype,
        generation=c.generation,
        network_id=c.network,
    )


def _parameter_words(parameters: Iterable[Parameter]) -> list[str]:
    return [p.name if p.value is None else f"{p.name}={p.value}" for p in parameters]


def _fmtp(pt: PayloadType) -> str:
    """XEP-0167 section 5: `<parameter>`s as fmtp `name=value;...`; a lone nameless parameter (how
    Conversations carries `a=fmtp:101 0-16`) is the whole value."""
    if len(pt.parameters) == 1 and not pt.parameters[0].name:
        return pt.parameters[0].value or ""
    return ";".join(_parameter_words(pt.parameters))


def _feedback_to_sdp(fmt: str, feedback: Iterable[RtcpFeedback], trr_int: int | None) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {"format": fmt, "type": fb.type, "subtype": fb.subtype, "parameters": _parameter_words(fb.parameters)}
        for fb in feedback
    ]
    if trr_int is not None:
        lines.append({"format": fmt, "type": "trr-int", "subtype": str(trr_int)})
    return lines


def _rtpmap(pt: PayloadType, where: str) -> sdp.RtpMap | None:
    if pt.name is None:
        return None
    clockrate = pt.clockrate
    if clockrate is None:
        static = STATIC_PAYLOAD_TYPES.get(pt.id)
        if static is None or static[0].lower() != pt.name.lower():
            raise JingleSdpError(f"{where}: payload-type {pt.id} ({pt.name}) has no clockrate")
        clockrate = static[1]
    return _make(
        sdp.RtpMap, f"{where} payload-type {pt.id}", payload_type=pt.id, encoding=pt.name,
        clock_rate=clockrate, channels=pt.channels,
    )  # fmt: skip


def _proto(d: RtpDescription, transport: object) -> str:
    dtls = isinstance(transport, IceUdpTransport) and bool(transport.fingerprints)
    sdes = d.encryption is not None and bool(d.encryption.cryptos)
    feedback = bool(d.rtcp_feedback) or d.trr_int is not None
    feedback = feedback or any(pt.rtcp_feedback or pt.trr_int is not None for pt in d.payload_types)
    if dtls:
        return "UDP/TLS/RTP/SAVPF"
    return ("RTP/SAVP" if sdes else "RTP/AVP") + ("F" if feedback else "")


def _connection(address: str, where: str) -> sdp.Connection:
    return _make(sdp.Connection, where, addrtype="IP6" if ":" in address else "IP4", address=address)


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _default_candidate(candidates: Iterable[IceCandidate], component: int) -> IceCandidate | None:
    usable = [c for c in candidates if c.component == component and _is_ip(c.ip)]
    return min(usable, key=lambda c: (_DEFAULT_RANK[c.type], -c.priority), default=None)


def _transport_fields(content: Content, rtcp_mux: bool, where: str) -> dict[str, Any]:
    """c=, the m= port, a=rtcp and the ICE/DTLS attributes of a content's transport."""
    t = content.transport
    values: dict[str, Any] = {}
    if isinstance(t, RawUdpTransport):
        rtp = next((c for c in t.candidates if c.component == 1), None)
        rtcp = next((c for c in t.candidates if c.component == 2), None)
        address, port = (rtp.ip, rtp.port) if rtp else ("0.0.0.0", 9)
        if rtcp is not None and not (rtcp.ip == address and rtcp.port == port + 1):
            connection = None if rtcp.ip == address else _connection(rtcp.ip, f"{where} RTCP address")
            values["rtcp"] = _make(
                sdp.Rtcp, f"{where} raw-UDP candidate", port=rtcp.port, connection=connection
            )
    elif isinstance(t, IceUdpTransport):
        default = _default_candidate(t.candidates, 1)
        address, port = (default.ip, default.port) if default else ("0.0.0.0", 9)
        default_rtcp = None if rtcp_mux else _default_candidate(t.candidates, 2)
        if default_rtcp is not None:
            connection = None if default_rtcp.ip == address else _connection(default_rtcp.ip, f"{where} RTCP")
            values["rtcp"] = sdp.Rtcp(port=default_rtcp.port, connection=connection)
        setups = {f.setup for f in t.fingerprints if f.setup is not None}
        if len(setups) > 1:
            raise JingleSdpError(f"{where}: fingerprints with different setup roles")
        values |= {
            "ice_ufrag": t.ufrag,
            "ice_pwd": t.pwd,
            "fingerprints": [
                _make(sdp.Fingerprint, f"{where} fingerprint", hash=f.hash, value=f.value)
                for f in t.fingerprints
            ],
            "setup": sdp.Setup(setups.pop().value) if setups else None,
            "candidates": [candidate_to_sdp(c, f"{where} candidate {c.id!r}") for c in t.candidates],
        }
    else:
        found = _foreign(content, "transport")
        raise UnsupportedTransport(
            f"{where}: {'a ' + found if found else 'no'} transport; ICE-UDP or raw UDP needed"
        )
    values["port"] = port
    values["connection"] = _connection(address, f"{where} address")
    return values


def _foreign(content: Content, local: str) -> str | None:
    """The namespace of an unknown `<local>` child of the content, if there is one."""
    for extension in content.extensions:
        qname = etree.QName(extension.element())
        if qname.localname == local:
            return f"{qname.namespace} {local}"
    return None


def _media_description(content: Content, *, initiator_view: bool) -> sdp.MediaDescription:
    where = f"content {content.name!r}"
    d = content.description
    if d is None:
        found = _foreign(content, "description")
        raise UnsupportedContent(f"{where}: {'a ' + found if found else 'no'} description; RTP needed")
    if not d.payload_types:  # e.g. Jitsi's media='application' description of an SCTP data channel
        raise UnsupportedContent(f"{where}: a {d.media} description without payload-types is not RTP")
    rtcp_mux = d.rtcp_mux or (isinstance(content.transport, IceUdpTransport) and content.transport.rtcp_mux)
    values = _transport_fields(content, rtcp_mux, where)
    feedback = _feedback_to_sdp("*", d.rtcp_feedback, d.trr_int)
    rtpmaps, fmtps = [], []
    for pt in d.payload_types:
        rtpmap = _rtpmap(pt, where)
        if rtpmap is not None:
            rtpmaps.append(rtpmap)
        if pt.parameters:
            fmtps.append({"format": str(pt.id), "parameters": _fmtp(pt)})
        feedback += _feedback_to_sdp(str(pt.id), pt.rtcp_feedback, pt.trr_int)
    ssrcs = []
    for source in d.sources:
        if not source.parameters:
            raise JingleSdpError(f"{where}: source {source.ssrc} has no parameter, which a=ssrc needs")
        ssrcs += [{"ssrc": source.ssrc, "attribute": p.name, "value": p.value} for p in source.parameters]
    cryptos = d.encryption.cryptos if d.encryption is not None else ()
    for crypto in cryptos:
        if not crypto.tag.strip().isascii() or not crypto.tag.strip().isdigit():
            raise JingleSdpError(f"{where}: crypto tag {crypto.tag[:20]!r} is not a number")
    for b in d.bandwidths:
        if not b.value.isascii() or not b.value.isdigit():
            raise JingleSdpError(
                f"{where}: bandwidth {b.value[:20]!r} is not a number of kilobits per second"
            )
    view = _INITIATOR_VIEW if initiator_view else _RESPONDER_VIEW
    return _make(
        sdp.MediaDescription,
        where,
        media=d.media,
        proto=_proto(d, content.transport),
        formats=[str(pt.id) for pt in d.payload_types],
        bandwidths=[{"type": b.type, "value": int(b.value)} for b in d.bandwidths],
        mid=content.name,
        direction=view[content.senders] if content.senders is not None else None,
        rtcp_mux=rtcp_mux,
        extmaps=[
            {
                "id": h.id,
                "direction": view[h.senders] if h.senders is not None else None,
                "uri": h.uri,
                "attributes": " ".join(_parameter_words(h.parameters)),
            }
            for h in d.header_extensions
        ],
        extmap_allow_mixed=d.extmap_allow_mixed,
        rtpmaps=rtpmaps,
        fmtps=fmtps,
        rtcp_fbs=feedback,
        ptime=next((str(pt.ptime) for pt in d.payload_types if pt.ptime is not None), None),
        maxptime=next((str(pt.maxptime) for pt in d.payload_types if pt.maxptime is not None), None),
        crypto=[
            {
                "tag": int(c.tag),
                "suite": c.crypto_suite,
                "key_params": c.key_params,
                "session_params": c.session_params or "",
            }
            for c in cryptos
        ],
        ssrc_groups=[{"semantics": g.semantics, "ssrcs": g.ssrcs} for g in d.ssrc_groups],
        ssrcs=ssrcs,
        **values,
    )


def contents_to_sdp(
    contents: Sequence[Content],
    group: Group | None = None,
    *,
    initiator_view: bool = True,
    session_id: int = 0,
    session_version: int = 0,
    origin_address: str = "0.0.0.0",
) -> sdp.SessionDescription:
    """The SDP of a set of Jingle contents (one m= line each, in order) and their XEP-0338 group.

    `initiator_view`: whether the SDP is the initiator's description (see the module docstring).
    `session_id`/`session_version` and `origin_address` fill the o= line (RFC 8866 section 5.2).
    """
    if not contents:
        raise JingleSdpError("no content to describe")
    names = [c.name for c in contents]
    if len(set(names)) != len(names):
        raise JingleSdpError("two contents have the same name")
    try:
        media = [_media_description(c, initiator_view=initiator_view) for c in contents]
    except ValidationError as exc:  # a value the SDP model refuses, met while building a nested part
        raise JingleSdpError(f"cannot be converted to SDP: {exc.errors()[0]['msg'].lower()}") from None
    groups = []
    if group is not None:
        unknown = [name for name in group.contents if name not in names]
        if unknown:
            raise JingleSdpError(f"group {group.semantics} names unknown contents {unknown}")
        groups.append(_make(sdp.Group, "group", semantics=group.semantics, mids=group.contents))
    origin = _make(
        sdp.Origin, "o= line", session_id=session_id, session_version=session_version,
        addrtype="IP6" if ":" in origin_address else "IP4", address=origin_address,
    )  # fmt: skip
    return sdp.SessionDescription(origin=origin, groups=groups, media=media)


# -- SDP -> Jingle ------------------------------------------------------------------------------------------------


def candidate_from_sdp(c: sdp.Candidate, *, id: str, where: str = "a=candidate") -> IceCandidate:
    """XEP-0176 section 5.3: an `a=candidate` value as a Jingle ICE candidate with the given id."""
    if c.type not in _CANDIDATE_TYPES:
        raise JingleSdpError(f"{where}: candidate type {c.type[:20]!r} is not host, srflx, prflx or relay")
    if c.component > 255:
        raise JingleSdpError(f"{where}: component {c.component} does not fit XEP-0176")
    return _make(
        IceCandidate,
        where,
        component=c.component,
        foundation=c.foundation,
        generation=c.generation,
        id=id,
        ip=c.address,
        network=c.network_id,
        port=c.port,
        priority=c.priority,
        protocol=c.transport.lower(),
        rel_addr=c.rel_addr,
        rel_port=c.rel_port,
        type=CandidateType(c.type),
        tcptype=c.tcptype,
    )


def _parameters_from_words(words: Iterable[str]) -> list[Parameter]:
    parameters = []
    for word in words:
        name, equals, value = word.partition("=")
        parameters.append(Parameter(name=name, value=value if equals else None))
    return parameters


def _parameters_from_fmtp(text: str) -> list[Parameter]:
    if "=" not in text:
        return [Parameter(name="", value=text)]
    return _parameters_from_words(piece.strip() for piece in text.split(";") if piece.strip())


def _milliseconds(value: str | None) -> int | None:
    return None if value is None else math.ceil(float(value))


def _payload_types(
    m: sdp.MediaDescription, where: str
) -> tuple[list[PayloadType], list[RtcpFeedback], int | None]:
    ids = []
    for fmt in m.formats:
        if not fmt.isascii() or not fmt.isdigit() or int(fmt) > 127:
            raise JingleSdpError(f"{where}: format {fmt[:20]!r} is not an RTP payload type")
        ids.append(int(fmt))
    formats = set(m.formats)
    for line, fmt in [("rtpmap", str(r.payload_type)) for r in m.rtpmaps] + [
        ("fmtp", f.format) for f in m.fmtps
    ]:
        if fmt not in formats:
            raise JingleSdpError(f"{where}: a={line} for payload type {fmt}, which the m= line does not list")
    feedback: dict[str, list[RtcpFeedback]] = {}
    trr_int: dict[str, int] = {}
    for fb in m.rtcp_fbs:
        if fb.format != "*" and fb.format not in formats:
            raise JingleSdpError(
                f"{where}: a=rtcp-fb for {fb.format[:20]!r}, which the m= line does not list"
            )
        if fb.type == "trr-int":
            if fb.subtype is None or not fb.subtype.isascii() or not fb.subtype.isdigit() or fb.parameters:
                raise JingleSdpError(f"{where}: a=rtcp-fb trr-int needs one number of milliseconds")
            trr_int[fb.format] = int(fb.subtype)
        else:
            parameters = _parameters_from_words(fb.parameters)
            rtcp_fb = _make(RtcpFeedback, where, type=fb.type, subtype=fb.subtype, parameters=parameters)
            feedback.setdefault(fb.format, []).append(rtcp_fb)
    ptime, maxptime = _milliseconds(m.ptime), _milliseconds(m.maxptime)
    payload_types = []
    for pt in ids:
        rtpmap = m.rtpmap(pt)
        fmtp = m.fmtp(str(pt))
        name, clockrate, channels = (
            (rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels)
            if rtpmap is not None
            else STATIC_PAYLOAD_TYPES.get(pt, (None, None, None))
        )
        payload_types.append(
            _make(
                PayloadType,
                f"{where} payload type {pt}",
                id=pt,
                name=name,
                clockrate=clockrate,
                channels=channels,
                ptime=ptime,
                maxptime=maxptime,
                parameters=_parameters_from_fmtp(fmtp.parameters)
                if fmtp is not None and fmtp.parameters
                else (),
                rtcp_feedback=feedback.get(str(pt), ()),
                trr_int=trr_int.get(str(pt)),
            )
        )
    return payload_types, feedback.get("*", []), trr_int.get("*")


def _sources(m: sdp.MediaDescription) -> list[Source]:
    """XEP-0339 section 2.1: the a=ssrc lines grouped by SSRC, in order of first appearance."""
    by_ssrc: dict[int, list[Parameter]] = {}
    for line in m.ssrcs:
        by_ssrc.setdefault(line.ssrc, []).append(Parameter(name=line.attribute, value=line.value))
    return [Source(ssrc=ssrc, parameters=parameters) for ssrc, parameters in by_ssrc.items()]


def _transport(
    sd: sdp.SessionDescription, m: sdp.MediaDescription, index: int, where: str
) -> IceUdpTransport | RawUdpTransport:
    ufrag = m.ice_ufrag or sd.ice_ufrag
    pwd = m.ice_pwd or sd.ice_pwd
    fingerprints = m.fingerprints or sd.fingerprints
    setup = m.setup or sd.setup
    if ufrag or pwd or m.candidates or m.ice_options or sd.ice_options:
        return IceUdpTransport(
            ufrag=ufrag,
            pwd=pwd,
            fingerprints=[
                Fingerprint(hash=f.hash, setup=DtlsSetup(setup.value) if setup else None, value=f.value)
                for f in fingerprints
            ],
            candidates=[
                candidate_from_sdp(c, id=f"c{index}-{i}", where=f"{where} a=candidate")
                for i, c in enumerate(m.candidates)
            ],
        )
    if fingerprints:
        raise UnsupportedTransport(
            f"{where}: DTLS without ICE has no Jingle transport (XEP-0320 needs ICE-UDP)"
        )
    connection = m.connection or sd.connection
    if connection is None:
        raise JingleSdpError(f"{where}: no c= line for the media address")
    if connection.nettype != "IN" or connection.addrtype not in ("IP4", "IP6"):
        raise UnsupportedTransport(
            f"{where}: c={connection.nettype} {connection.addrtype} is not an IP address"
        )
    address = connection.address.split("/")[0]
    candidates = [RawUdpCandidate(component=1, generation=0, id=f"raw{index}-1", ip=address, port=m.port)]
    if m.rtcp is not None and not m.rtcp_mux:
        rtcp_address = m.rtcp.connection.address.split("/")[0] if m.rtcp.connection else address
        candidates.append(
            RawUdpCandidate(component=2, generation=0, id=f"raw{index}-2", ip=rtcp_address, port=m.rtcp.port)
        )
    elif not m.rtcp_mux and 0 < m.port < 65535:
        candidates.append(
            RawUdpCandidate(component=2, generation=0, id=f"raw{index}-2", ip=address, port=m.port + 1)
        )
    return RawUdpTransport(candidates=candidates)


def _content(
    sd: sdp.SessionDescription, m: sdp.MediaDescription, index: int, *, creator: Creator, initiator_view: bool
) -> Content:
    where = f"m= line {index + 1} ({m.media})"
    if m.proto not in RTP_PROFILES:
        raise UnsupportedContent(f"{where}: {m.proto} is not an RTP profile over UDP")
    if m.proto.startswith("UDP/TLS/") and not (m.fingerprints or sd.fingerprints):
        raise JingleSdpError(f"{where}: {m.proto} without a=fingerprint")
    payload_types, feedback, trr_int = _payload_types(m, where)
    direction = m.direction or sd.direction
    view = _INITIATOR_VIEW if initiator_view else _RESPONDER_VIEW
    to_senders = {d: s for s, d in view.items()}
    encryption = None
    if m.crypto:
        cryptos = [
            Crypto(
                crypto_suite=c.suite,
                key_params=c.key_params,
                session_params=c.session_params or None,
                tag=str(c.tag),
            )
            for c in m.crypto
        ]
        encryption = Encryption(required=True if "SAVP" in m.proto else None, cryptos=cryptos)
    description = _make(
        RtpDescription,
        where,
        media=m.media,
        payload_types=payload_types,
        rtcp_feedback=feedback,
        trr_int=trr_int,
        header_extensions=[
            HeaderExtension(
                id=e.id,
                uri=e.uri,
                senders=to_senders[e.direction] if e.direction is not None else None,
                parameters=_parameters_from_words(e.attributes.split()),
            )
            for e in (*sd.extmaps, *m.extmaps)
        ],
        extmap_allow_mixed=m.extmap_allow_mixed or sd.extmap_allow_mixed,
        sources=_sources(m),
        ssrc_groups=[SsrcGroup(semantics=g.semantics, ssrcs=g.ssrcs) for g in m.ssrc_groups],
        bandwidths=[Bandwidth(type=b.type, value=str(b.value)) for b in m.bandwidths],
        encryption=encryption,
        rtcp_mux=m.rtcp_mux,
    )
    return _make(
        Content,
        where,
        creator=creator,
        name=m.mid if m.mid is not None else _default_name(sd, index),
        senders=to_senders[direction] if direction is not None else None,
        description=description,
        transport=_transport(sd, m, index, where),
    )


def _default_name(sd: sdp.SessionDescription, index: int) -> str:
    """A content name for an m= line without a=mid: its media ("audio"), or "audio-2" if another m= line
    has the same media."""
    media = sd.media[index].media
    same = [i for i, m in enumerate(sd.media) if m.media == media]
    return media if len(same) == 1 else f"{media}-{same.index(index) + 1}"


def sdp_to_contents(
    sd: sdp.SessionDescription, *, creator: Creator | str = Creator.INITIATOR, initiator_view: bool = True
) -> tuple[list[Content], Group | None]:
    """The Jingle contents (one per m= line, in order) and XEP-0338 group of an SDP.

    `creator` is every content's creator; `initiator_view`: whether the SDP is the initiator's description
    (see the module docstring). More than one a=group is refused (XEP-0338 maps one per session here).
    """
    creator = Creator(creator)
    if not sd.media:
        raise JingleSdpError("the SDP has no m= line")
    try:
        contents = [
            _content(sd, m, index, creator=creator, initiator_view=initiator_view)
            for index, m in enumerate(sd.media)
        ]
    except ValidationError as exc:  # a value the Jingle model refuses, met while building a nested part
        raise JingleSdpError(f"cannot be converted to Jingle: {exc.errors()[0]['msg'].lower()}") from None
    names = [c.name for c in contents]
    if len(set(names)) != len(names):
        raise JingleSdpError("two m= lines have the same a=mid")
    if len(sd.groups) > 1:
        raise JingleSdpError("more than one a=group line")
    group = None
    if sd.groups:
        g = sd.groups[0]
        unknown = [mid for mid in g.mids if mid not in names]
        if unknown:
            raise JingleSdpError(f"a=group:{g.semantics} names unknown mids {unknown}")
        group = Group(semantics=g.semantics, contents=g.mids)
    return contents, group
