"""Session descriptions carried across the gateway (`sip.offer_answer.Negotiator` for a relayed call).

Until the media relay is wired into the daemon, a call's description is the far side's, translated: the
Jingle client's offer (as SDP) is what the INVITE to the bridge offers, and the bridge's answer (as Jingle
contents) is what the client is accepted with; the same the other way for SIP phones calling an XMPP mixer.
Media then flows between the two ends directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

from gateway.sdp import SessionDescription
from xmpp.jingle_content import Content, Group, content_element, group_element, parse_content, parse_group
from xmpp.jingle_sdp import contents_to_sdp, sdp_to_contents
from xmpp.namespaces import JINGLE, JINGLE_GROUPING


class RelayedDescription:
    """The Negotiator of one SIP session whose descriptions come from the other side.

    For a call we place, `offer()` is the given offer. For a call we answer, the offer is first only checked
    (it must have an audio stream: `answer()` returns it as the sign that it is acceptable), and `relay()`
    gives the real answer once the other side has answered; `accept()` on the session then sends it.
    """

    def __init__(self, offer: SessionDescription | None = None) -> None:
        self._offer = offer
        self._answer: SessionDescription | None = None

    def relay(self, answer: SessionDescription) -> None:
        self._answer = answer

    def offer(self) -> SessionDescription:
        if self._offer is None:
            raise ValueError("no offer to relay")
        return self._offer

    def answer(self, offer: SessionDescription) -> SessionDescription | None:
        if self._answer is not None:
            return self._answer
        return offer if any(m.media == "audio" for m in offer.media) else None

    def answer_acceptable(self, offer: SessionDescription, answer: SessionDescription) -> bool:
        return any(m.media == "audio" and m.port != 0 for m in answer.media)


def content_names(elements: Iterable[etree._Element]) -> list[str]:
    """The names of the `<content>` elements among a Jingle action's children, in order."""
    return [el.get("name", "") for el in elements if el.tag == f"{{{JINGLE}}}content"]


def without_mids(answer: SessionDescription, offer: SessionDescription) -> SessionDescription:
    """`answer` without `a=mid` where the offer had none (RFC 5888 section 9.1)."""
    if any(m.mid for m in offer.media):
        return answer
    return answer.model_copy(update={"media": tuple(m.model_copy(update={"mid": None}) for m in answer.media),
                                     "groups": ()})  # fmt: skip


def jingle_to_sdp(elements: Iterable[etree._Element], *, initiator_view: bool) -> SessionDescription:
    """The SDP of the `<content>` (and `<group>`) elements of a session-initiate or session-accept."""
    contents: list[Content] = []
    group: Group | None = None
    for el in elements:
        if el.tag == f"{{{JINGLE}}}content":
            contents.append(parse_content(el))
        elif el.tag == f"{{{JINGLE_GROUPING}}}group":
            group = parse_group(el)
    return contents_to_sdp(contents, group, initiator_view=initiator_view)


def sdp_to_jingle(
    description: SessionDescription, *, initiator_view: bool, names: Sequence[str] = ()
) -> list[etree._Element]:
    """The `<content>` (and `<group>`) elements for an SDP (ours to send in session-initiate/accept).

    `names`: the content names of the offer this SDP answers, in order. An answer's m= lines match the
    offer's by position (RFC 3264 section 6), and a session-accept must name the offer's contents (XEP-0166),
    whatever `a=mid` the SIP side wrote, if any."""
    contents, group = sdp_to_contents(description, initiator_view=initiator_view)
    if names:
        contents = [
            c.model_copy(update={"name": names[i]}) if i < len(names) else c for i, c in enumerate(contents)
        ]
        group = (
            None if group is None else group.model_copy(update={"contents": tuple(names[: len(contents)])})
        )
    elements = [content_element(c) for c in contents]
    if group is not None:
        elements.append(group_element(group))
    return elements
