"""SIP messages for tests, written as they travel: text in, sipmessage objects out (and back); and what the
SIP tests share around them: a clock the test moves, picking outputs of the sans-IO machines, and a
stand-in event policy for the user agent."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sipmessage import URI, Address, Message, Request, Response

from gateway.conference_info import ConferenceInfo
from sip.user_agent import IncomingRequest

T = TypeVar("T")


def wire(text: str, body: bytes | str = b"") -> Request | Response:
    """Parse a message written with plain newlines (indentation removed); `body` follows the blank line.
    Content-Length is added when the text has none."""
    head = textwrap.dedent(text).strip("\n")
    data = body.encode() if isinstance(body, str) else body
    if "content-length:" not in head.lower() and "\nl:" not in head.lower():
        head += f"\nContent-Length: {len(data)}"
    return Message.parse(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + data)


def request(text: str, body: bytes | str = b"") -> Request:
    message = wire(text, body)
    assert isinstance(message, Request)
    return message


def response(text: str, body: bytes | str = b"") -> Response:
    message = wire(text, body)
    assert isinstance(message, Response)
    return message


def reparse(message: Request | Response) -> Request | Response:
    """What the peer reads: the message serialised and parsed again."""
    return Message.parse(bytes(message))


class Clock:
    """The clock of a sans-IO machine: the test moves `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def of(outputs: Sequence[object], kind: type[T]) -> list[T]:
    """The outputs of that kind."""
    return [o for o in outputs if isinstance(o, kind)]


def one(outputs: Sequence[object], kind: type[T]) -> T:
    """The only output of that kind."""
    found = of(outputs, kind)
    assert len(found) == 1, outputs
    return found[0]


class ConferenceOnly:
    """A stand-in notifier policy for the user agent: 489 for other event packages, 423 below 60 s, else
    200."""

    async def handle_request(self, request: IncomingRequest) -> None:
        if request.message.headers.get("Event") != "conference":
            await request.respond(489, headers=[("Allow-Events", "conference")])
        elif int(request.message.headers.get("Expires", "3600")) < 60:
            await request.respond(423, headers=[("Min-Expires", "60")])
        else:
            await request.respond(200, headers=[("Expires", "600")])


@dataclass
class FixedRoom:
    """A room whose state is one fixed document and which admits every subscriber (`sip.rooms`)."""

    uri: str
    document: ConferenceInfo

    def state(self) -> ConferenceInfo:
        return self.document

    def admits(self, subscriber: Address, request: Request) -> bool:
        return True


@dataclass
class OneRoom:
    """A room directory of one room, at the user part `conf`."""

    room: FixedRoom

    def find(self, uri: URI) -> FixedRoom | None:
        return self.room if uri.user == "conf" else None
