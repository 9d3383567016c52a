"""SIP messages for tests, written as they travel: text in, sipmessage objects out (and back)."""

from __future__ import annotations

import textwrap

from sipmessage import Message, Request, Response


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
