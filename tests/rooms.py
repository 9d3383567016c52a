"""An in-process room for driving the XMPP adapter before the bridge exists (not a mock of any peer: it
holds a real conference state, merges real documents and answers calls the way the bridge will)."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from gateway.conference_info import ConferenceInfo, Endpoint, EndpointStatus, State, User, Users
from gateway.merge import merge
from xmpp.rooms import Call, ConferenceRoom

RTP = "urn:xmpp:jingle:apps:rtp:1"
ICE = "urn:xmpp:jingle:transports:ice-udp:1"


def answer_contents(offer: tuple[etree._Element, ...]) -> list[etree._Element]:
    """A minimal answer: each offered RTP content with its first payload type and an ICE transport."""
    answer = []
    for content in offer:
        if etree.QName(content).localname != "content":
            continue
        reply = etree.Element(
            "{urn:xmpp:jingle:1}content",
            creator=content.get("creator", "initiator"),
            name=content.get("name", ""),
        )
        description = content.find(f"{{{RTP}}}description")
        if description is not None:
            out = etree.SubElement(reply, f"{{{RTP}}}description", media=description.get("media", "audio"))
            first = description.find(f"{{{RTP}}}payload-type")
            if first is not None:
                out.append(etree.fromstring(etree.tostring(first)))
        etree.SubElement(reply, f"{{{ICE}}}transport", ufrag="gw01", pwd="gatewaypassword0123456")
        answer.append(reply)
    return answer


class InProcessRoom:
    """A room whose state the test changes; it accepts every call at once through `respond`."""

    def __init__(self, jid: str, respond: Callable[[str, Call], None]) -> None:
        self.jid = jid
        self.respond = respond  # ("accept"|"reject", call): the test wires it to the service
        self.current = ConferenceInfo(entity=f"xmpp:{jid}", version=1, users=Users(users={}))
        self.calls: list[Call] = []
        self.hung_up: list[tuple[Call, str]] = []
        self.received: list[ConferenceInfo] = []
        self.answers: list[tuple[Call, tuple[etree._Element, ...], bool | None]] = []
        self.focus_changes: list[tuple[Call, bool]] = []
        self.transports: list[tuple[Call, tuple[etree._Element, ...]]] = []
        self.rtp_infos: list[tuple[Call, str]] = []
        self.accepting = True

    def state(self) -> ConferenceInfo:
        return self.current

    def call(self, call: Call) -> None:
        self.calls.append(call)
        self.respond("accept" if self.accepting else "reject", call)

    def hang_up(self, call: Call, reason: str) -> None:
        self.hung_up.append((call, reason))

    def answered(self, call: Call, contents: tuple[etree._Element, ...], isfocus: bool | None) -> None:
        self.answers.append((call, contents, isfocus))

    def focus_changed(self, call: Call, isfocus: bool) -> None:
        self.focus_changes.append((call, isfocus))

    def rtp_info(self, call: Call, info: str) -> None:
        self.rtp_infos.append((call, info))

    def transport_info(self, call: Call, contents: tuple[etree._Element, ...]) -> None:
        self.transports.append((call, contents))

    def coin_received(self, call: Call, document: ConferenceInfo) -> None:
        self.received.append(document)
        self.current = merge(self.current if self.received[:-1] else None, document)

    def join(self, entity: str, name: str) -> None:
        """A participant joins (as the upstream focus would report it): a merged, partial change."""
        user = User(
            entity=entity,
            display_text=name,
            endpoints=[Endpoint(entity=entity + "/phone", status=EndpointStatus.CONNECTED)],
        )
        self.current = merge(
            self.current,
            ConferenceInfo(
                entity=self.current.entity,
                state=State.PARTIAL,
                version=(self.current.version or 0) + 1,
                users=Users(state=State.PARTIAL, users=[user]),
            ),
        )


class Rooms:
    """A RoomDirectory over a dict."""

    def __init__(self) -> None:
        self.rooms: dict[str, InProcessRoom] = {}

    def find(self, jid: str) -> ConferenceRoom | None:
        return self.rooms.get(jid)
