"""SIP messages: hardened parsing, responses to received requests, tags and branches.

Built on sipmessage's `Request`/`Response`. Two gaps of `sipua.create_response` are corrected here:

- it looks the reason phrase up in a table without `489 Bad Event` (and other RFC 6665/3903 codes), so
  those responses cannot be built at all (`KeyError`); `create_response` takes any code 100-699 and any
  phrase;
- it never adds a To-tag, while RFC 3261 §8.2.6.2 requires one on every response but `100 Trying` when the
  request had none (without it the UAC cannot match a `489` or `423` to anything).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import cast

from sipmessage import CSeq, Message, Request, Response, Via

# RFC 3261 §21 and the IANA "Response Codes" registry (the ones we may meet in this gateway).
STATUS_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    429: "Provide Referrer Identity",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}

_CLASS_PHRASES = {1: "Provisional", 2: "Success", 3: "Redirection", 4: "Client Error", 5: "Server Error"}

BRANCH_MAGIC_COOKIE = "z9hG4bK"


class MessageError(ValueError):
    """A message that cannot be accepted; `str()` says why."""


def phrase_for(code: int) -> str:
    """The reason phrase of a status code; a generic one for codes not in the registry."""
    if not 100 <= code <= 699:
        raise ValueError(f"not a SIP status code: {code}")
    return STATUS_PHRASES.get(code) or _CLASS_PHRASES.get(code // 100, "Global Failure")


def new_tag() -> str:
    """A From/To tag (RFC 3261 §19.3: at least 32 bits of randomness)."""
    return secrets.token_hex(8)


def new_branch() -> str:
    """A Via branch of RFC 3261 (§8.1.1.7: starts with the magic cookie, unique per transaction)."""
    return BRANCH_MAGIC_COOKIE + secrets.token_hex(10)


def new_call_id() -> str:
    return secrets.token_hex(16)


def header_tag(value: str) -> str | None:
    """The `tag` parameter of a raw From/To header value, without parsing the URI (quotes respected)."""
    in_quotes = False
    in_brackets = False
    params_start = -1
    for index, char in enumerate(value):
        if char == '"' and not in_brackets:
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif char == "<":
            in_brackets = True
        elif char == ">":
            in_brackets = False
        elif char == ";" and not in_brackets:
            params_start = index
            break
    if params_start < 0:
        return None
    for param in value[params_start + 1 :].split(";"):
        name, _, tag = param.partition("=")
        if name.strip().lower() == "tag" and tag.strip():
            return tag.strip()
    return None


def split_outside_quotes(value: str, separator: str, *, brackets: bool = False) -> tuple[list[str], bool]:
    """`value` cut at each `separator` that stands outside a quoted string (where a backslash escapes the
    next character) and, with `brackets`, outside `<...>`; and whether a quoted string was left open."""
    out: list[str] = []
    current: list[str] = []
    quoted = bracketed = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"' and not bracketed:
            quoted = not quoted
        elif brackets and not quoted and char == "<":
            bracketed = True
        elif brackets and not quoted and char == ">":
            bracketed = False
        elif char == separator and not quoted and not bracketed:
            out.append("".join(current))
            current = []
            continue
        current.append(char)
    out.append("".join(current))
    return out, quoted


def split_header_values(value: str) -> list[str]:
    """A comma-separated header value (Contact, Route, Record-Route) split into its entries; commas inside
    `<...>` or quotes are kept."""
    parts, _ = split_outside_quotes(value, ",", brackets=True)
    return [item for item in (part.strip() for part in parts) if item]


def top_via(message: Message) -> Via:
    """The parsed top Via. sipmessage parses a header on every access, so the result is kept on the message
    for as long as the header's text stays the same object."""
    raw = message.headers.getlist("Via")[0]
    cached = message.__dict__.get("_top_via")
    if cached is not None and cached[0] is raw:
        return cast(Via, cached[1])
    via = Via.parse_many(raw)[0]
    message.__dict__["_top_via"] = (raw, via)
    return via


def cseq_of(message: Message) -> CSeq:
    """The parsed CSeq, kept on the message like `top_via`."""
    raw = message.headers["CSeq"]
    cached = message.__dict__.get("_cseq")
    if cached is not None and cached[0] is raw:
        return cast(CSeq, cached[1])
    cseq = CSeq.parse(raw)
    message.__dict__["_cseq"] = (raw, cseq)
    return cseq


def via_count(message: Message) -> int:
    return sum(len(split_header_values(value)) for value in message.headers.getlist("Via"))


def to_tag(message: Message) -> str | None:
    return header_tag(message.headers["To"])


def from_tag(message: Message) -> str | None:
    return header_tag(message.headers["From"])


def create_response(
    request: Request,
    code: int,
    phrase: str | None = None,
    *,
    tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """A response to `request` (RFC 3261 §8.2.6): any code, any phrase, and a To-tag on everything but 100.

    Via, From, Call-ID and CSeq are copied as received (so a peer's own spelling survives); the To-tag is
    the request's when it had one, else `tag` (the dialog's local tag), else a new one.
    """
    response = Response(code, phrase if phrase is not None else phrase_for(code), body)
    response.headers.setlist("Via", list(request.headers.getlist("Via")))
    response.headers.set("From", request.headers["From"])
    to_value = request.headers["To"]
    if code != 100 and header_tag(to_value) is None:
        to_value = f"{to_value};tag={tag or new_tag()}"
    response.headers.set("To", to_value)
    response.headers.set("Call-ID", request.headers["Call-ID"])
    response.headers.set("CSeq", request.headers["CSeq"])
    for name, value in headers:
        response.headers.add(name, value)
    if content_type is not None:
        response.headers.set("Content-Type", content_type)
    return response


def set_body(message: Message, content_type: str, body: bytes) -> None:
    """Give a message a body, with its Content-Type and Content-Length."""
    message.body = body
    message.headers.set("Content-Type", content_type)
    message.headers.set("Content-Length", str(len(body)))


class LocalResponse(Response):
    """A final response made up locally for a request that got none: `408` when the transaction timed out,
    `503` on a transport error (RFC 3261 §8.1.3.1). `reason` says what happened."""

    def __init__(self, code: int, phrase: str, reason: str) -> None:
        super().__init__(code, phrase)
        self.reason = reason


def local_response(request: Request, code: int, reason: str) -> LocalResponse:
    """A `LocalResponse` to `request` (headers as `create_response` copies them, no To-tag)."""
    response = LocalResponse(code, phrase_for(code), reason)
    response.headers.setlist("Via", list(request.headers.getlist("Via")))
    for name in ("From", "To", "Call-ID", "CSeq"):
        response.headers.set(name, request.headers[name])
    return response


def _unfold(head: str) -> list[str]:
    """Header lines with continuation lines (RFC 3261 §7.3.1 folding) joined to the line they continue."""
    lines: list[str] = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def parse_message(data: bytes, *, stream: bool = False) -> Request | Response:
    """Parse one whole message; `MessageError` says what is wrong with a message that must be refused.

    Stricter than `sipmessage.Message.parse`: folded headers are unfolded, the body is cut to
    `Content-Length` (extra datagram bytes dropped, a short body refused), and the headers every
    transaction needs (Via with a branch, From, To, Call-ID, CSeq matching the method) must be present and
    parse. `stream` says the bytes came framed from a stream (TCP/TLS), where Content-Length is mandatory.
    """
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise MessageError("no empty line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageError(f"headers are not UTF-8: {exc}") from None
    lines = _unfold(text)
    if any(":" not in line for line in lines[1:]):
        raise MessageError("a header line has no colon")
    # RFC 3261 §7.3.1: whitespace may come before the colon (sipmessage would keep it in the name)
    lines[1:] = [
        f"{name.strip()}: {value.strip()}" for name, _, value in (line.partition(":") for line in lines[1:])
    ]
    try:
        message = Message.parse("\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + body)
    except (ValueError, KeyError) as exc:
        raise MessageError(f"unparsable message: {exc}") from None
    length_text = message.headers.get("Content-Length")
    if length_text is None:
        if stream:
            raise MessageError("no Content-Length on a stream transport")
    else:
        try:
            length = int(length_text)
        except ValueError:
            raise MessageError(f"bad Content-Length: {length_text!r}") from None
        if length < 0 or length > len(body):
            raise MessageError(f"Content-Length {length} but {len(body)} body bytes")
        message.body = body[:length]
    _check_mandatory_headers(message)
    return message


def _check_mandatory_headers(message: Request | Response) -> None:
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if message.headers.get(name) is None:
            raise MessageError(f"no {name} header")
    try:
        via = top_via(message)
        cseq = cseq_of(message)
        message.from_address  # noqa: B018 (parse check)
        message.to_address  # noqa: B018
    except ValueError as exc:
        raise MessageError(f"bad header: {exc}") from None
    if not via.parameters.get("branch"):
        raise MessageError("top Via has no branch")
    if isinstance(message, Request) and message.method not in (cseq.method, "ACK"):
        raise MessageError(f"CSeq method {cseq.method} differs from the request method {message.method}")
    if isinstance(message, Request) and message.method == "ACK" and cseq.method != "ACK":
        raise MessageError("CSeq method of an ACK must be ACK")


def raw_bad_request(data: bytes, reason: str) -> bytes | None:
    """A `400` for bytes that look like a request but do not parse, or None when it cannot be answered.

    Built from the raw header lines (Via, From, To, Call-ID, CSeq must all be there), since the message
    could not be parsed; never answers a response or an ACK (RFC 3261 §17.2.1: ACK gets no response).
    """
    head = data.partition(b"\r\n\r\n")[0].decode("utf-8", errors="replace")
    lines = _unfold(head)
    if not lines or not lines[0].endswith(" SIP/2.0") or lines[0].startswith("ACK "):
        return None
    wanted = {"via": "Via", "v": "Via", "from": "From", "f": "From", "to": "To", "t": "To"}
    wanted |= {"call-id": "Call-ID", "i": "Call-ID", "cseq": "CSeq"}
    found: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        canonical = wanted.get(name.strip().lower())
        if colon and canonical:
            found.setdefault(canonical, []).append(value.strip())
    if any(name not in found for name in ("Via", "From", "To", "Call-ID", "CSeq")):
        return None
    to_value = found["To"][0]
    if header_tag(to_value) is None:
        to_value += f";tag={new_tag()}"
    phrase = "Bad Request - " + "".join(ch for ch in reason if ch.isprintable())[:100]
    out = [f"SIP/2.0 400 {phrase}"]
    out += [f"Via: {via}" for via in found["Via"]]
    out += [f"From: {found['From'][0]}", f"To: {to_value}", f"Call-ID: {found['Call-ID'][0]}"]
    out += [f"CSeq: {found['CSeq'][0]}", "Content-Length: 0", "", ""]
    return "\r\n".join(out).encode("utf-8")
