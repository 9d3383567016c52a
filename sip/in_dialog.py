"""The state of one dialog (RFC 3261 section 12) as the subscription usage needs it, and the messages built
from it: in-dialog requests and responses to received requests.

sipua puts the remote party's To URI in the Request-URI of in-dialog requests instead of the remote target
(its Contact), and knows no strict routing; `DialogRecord.new_request` does it the RFC 3261 section 12.2.1.1
way, and `next_hop` says where the request goes first:

    route set empty                    Request-URI = remote target; no Route; next hop = remote target
    first route has `lr` (loose)       Request-URI = remote target; Route = the route set in order;
                                       next hop = the first route's URI
    first route without `lr` (strict)  Request-URI = the first route's URI (params not allowed in a
                                       Request-URI stripped); Route = the rest, then the remote target;
                                       next hop = that Request-URI

The route set comes from Record-Route: in order when we are the UAS of the request that made the dialog
(section 12.1.1), reversed when we are the UAC and read it from the 2xx (section 12.1.2). Each entry is kept
as the text received, so a proxy finds its own Route exactly as it wrote it.

`respond` builds a response (section 8.2.6): Via, From, Call-ID and CSeq copied as received, and a To-tag
on every final response (sipua sends error responses without one, which the UAC cannot match).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sipmessage import URI, Address, CSeq, Message, Parameters, Request, Response

MAX_FORWARDS = 70
_NOT_IN_REQUEST_URI = ("method",)  # RFC 3261 section 19.1.1 table 1

STATUS_PHRASES = {  # RFC 3261 section 21, RFC 6665 section 8.3.2
    100: "Trying",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    489: "Bad Event",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    603: "Decline",
}


class DialogError(ValueError):
    """A message cannot make or continue a dialog (no Contact, an unparsable Record-Route, ...)."""


def random_token() -> str:
    """A tag or Call-ID (RFC 3261 section 19.3: at least 32 random bits)."""
    return secrets.token_hex(8)


def split_header_values(value: str) -> list[str]:
    """A comma-separated header value split into its entries, commas inside `<...>` or quotes kept."""
    out: list[str] = []
    current: list[str] = []
    quoted = bracketed = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"' and not bracketed:
            quoted = not quoted
        elif not quoted and ch == "<":
            bracketed = True
        elif not quoted and ch == ">":
            bracketed = False
        elif ch == "," and not quoted and not bracketed:
            out.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    out.append("".join(current).strip())
    return [item for item in out if item]


def tag_of(message: Message, header: str) -> str | None:
    """The `tag` parameter of the From or To header, as received."""
    try:
        address = Address.parse(message.headers[header])
    except (KeyError, ValueError):
        return None
    tag = address.parameters.get("tag")
    return tag or None


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a route set: the text as received and its URI."""

    text: str
    uri: URI

    @classmethod
    def parse(cls, text: str) -> Route:
        try:
            address = Address.parse(text)
        except ValueError:
            raise DialogError(f"not a route: {text[:200]!r}") from None
        return cls(text, address.uri)

    def is_loose(self) -> bool:
        return "lr" in self.uri.parameters


def record_route_of(message: Message) -> tuple[Route, ...]:
    """Every Record-Route entry of a message, in the order received."""
    return tuple(
        Route.parse(item)
        for value in message.headers.getlist("Record-Route")
        for item in split_header_values(value)
    )


def contact_uri(message: Message) -> URI:
    """The URI of the single Contact of a request or 2xx that makes or refreshes a dialog."""
    values = [item for value in message.headers.getlist("Contact") for item in split_header_values(value)]
    if len(values) != 1:
        raise DialogError(f"expected one Contact, found {len(values)}")
    try:
        return Address.parse(values[0]).uri
    except ValueError:
        raise DialogError(f"Contact is not an address: {values[0][:200]!r}") from None


def _without_tag(address: Address) -> Address:
    params = {k: v for k, v in address.parameters.items() if k != "tag"}
    return dataclasses.replace(address, parameters=Parameters(**params))


@dataclass(eq=False)
class DialogRecord:
    """Call-ID, tags, CSeqs, remote target and route set of one dialog (RFC 3261 section 12.1)."""

    call_id: str
    local_address: Address  # our From (UAC) or To (UAS) value, without tag
    local_tag: str
    remote_address: Address  # without tag
    remote_tag: str | None  # None until the dialog is established (a UAC before any answer)
    remote_target: URI
    local_contact: Address
    route_set: tuple[Route, ...] = ()
    local_cseq: int = 0  # the last CSeq we used
    remote_cseq: int | None = None  # the last CSeq the peer used

    @classmethod
    def as_uas(cls, request: Request, local_tag: str, local_contact: Address) -> DialogRecord:
        """The dialog a request (a SUBSCRIBE, or a NOTIFY that arrives before its 2xx) creates, we being its
        UAS (section 12.1.1). Raises DialogError when it lacks what a dialog needs."""
        try:
            remote = request.from_address
            local = request.to_address
            cseq = request.cseq.sequence
        except (KeyError, ValueError) as exc:
            raise DialogError(f"malformed From, To or CSeq: {exc}") from None
        remote_tag = remote.parameters.get("tag")
        if not remote_tag:
            raise DialogError("the request has no From tag")
        return cls(
            call_id=request.call_id,
            local_address=_without_tag(local),
            local_tag=local_tag,
            remote_address=_without_tag(remote),
            remote_tag=remote_tag,
            remote_target=contact_uri(request),
            local_contact=local_contact,
            route_set=record_route_of(request),
            remote_cseq=cseq,
        )

    @classmethod
    def as_uac(
        cls,
        *,
        local_address: Address,
        remote_address: Address,
        local_contact: Address,
        preloaded_route: tuple[Route, ...] = (),
        call_id: str | None = None,
        local_tag: str | None = None,
    ) -> DialogRecord:
        """The state for an initial request we send (section 12.1.2 completes it from the answer)."""
        return cls(
            call_id=call_id or random_token(),
            local_address=local_address,
            local_tag=local_tag or random_token(),
            remote_address=remote_address,
            remote_tag=None,
            remote_target=remote_address.uri,
            local_contact=local_contact,
            route_set=preloaded_route,
        )

    @property
    def established(self) -> bool:
        return self.remote_tag is not None

    def establish_from_response(self, response: Response) -> None:
        """A 2xx to our initial request makes the dialog (section 12.1.2): remote tag, remote target from its
        Contact, route set from its Record-Route reversed."""
        tag = tag_of(response, "To")
        if tag is None:
            raise DialogError("the 2xx has no To tag")
        target = contact_uri(response)
        self.route_set = tuple(reversed(record_route_of(response)))
        self.remote_tag, self.remote_target = tag, target

    def establish_from_request(self, request: Request) -> None:
        """A request from the peer makes the dialog before our request's 2xx (RFC 6665 section 4.1.2.4: a
        NOTIFY may overtake the 2xx to SUBSCRIBE); we are its UAS, so the route set is in order."""
        tag = tag_of(request, "From")
        if tag is None:
            raise DialogError("the request has no From tag")
        try:
            cseq = request.cseq.sequence
        except (KeyError, ValueError):
            raise DialogError("malformed CSeq") from None
        target = contact_uri(request)
        routes = record_route_of(request)
        self.route_set, self.remote_tag, self.remote_target, self.remote_cseq = routes, tag, target, cseq

    def accept_remote_cseq(self, request: Request) -> bool:
        """Section 12.2.2: a request whose CSeq is not above the last one is out of order (answer 500)."""
        sequence = request.cseq.sequence
        if self.remote_cseq is not None and sequence <= self.remote_cseq:
            return False
        self.remote_cseq = sequence
        return True

    def refresh_target(self, message: Message) -> None:
        """A target refresh request (SUBSCRIBE, NOTIFY: RFC 6665 section 4.1.2.1, 4.1.3) or its 2xx may
        change the remote target."""
        if message.headers.getlist("Contact"):
            self.remote_target = contact_uri(message)

    def next_hop(self) -> URI:
        """Where the next in-dialog request goes first (RFC 3261 section 8.1.2)."""
        if not self.route_set:
            return self.remote_target
        return (
            self.route_set[0].uri if self.route_set[0].is_loose() else _strict_request_uri(self.route_set[0])
        )

    def new_request(self, method: str) -> Request:
        """An in-dialog request (section 12.2.1.1; the initial request too, before the dialog exists), with
        the next local CSeq. Via is left to the transaction layer."""
        self.local_cseq += 1
        routes: list[str] = [route.text for route in self.route_set]
        if self.route_set and not self.route_set[0].is_loose():
            request_uri = _strict_request_uri(self.route_set[0])
            routes = [*routes[1:], f"<{self.remote_target}>"]
        else:
            request_uri = self.remote_target
        request = Request(method, request_uri)
        if routes:
            request.headers.setlist("Route", routes)
        request.headers.set("Max-Forwards", str(MAX_FORWARDS))
        request.headers.set("From", f"{self.local_address};tag={self.local_tag}")
        to_value = str(self.remote_address)
        if self.remote_tag is not None:
            to_value += f";tag={self.remote_tag}"
        request.headers.set("To", to_value)
        request.headers.set("Call-ID", self.call_id)
        request.headers.set("CSeq", str(CSeq(self.local_cseq, method)))
        request.headers.set("Contact", str(self.local_contact))
        request.headers.set("Content-Length", "0")
        return request


def _strict_request_uri(route: Route) -> URI:
    params = {k: v for k, v in route.uri.parameters.items() if k not in _NOT_IN_REQUEST_URI}
    return dataclasses.replace(route.uri, parameters=Parameters(**params))


def respond(
    request: Request,
    code: int,
    *,
    to_tag: str | None,
    phrase: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> Response:
    """A response to `request` (RFC 3261 section 8.2.6). Via, From, To, Call-ID and CSeq are copied as
    received; a final response gets `to_tag` (or a fresh one) when the request's To has no tag."""
    response = Response(code, phrase or STATUS_PHRASES.get(code, "Unknown"))
    response.headers.setlist("Via", list(request.headers.getlist("Via")))
    response.headers.set("From", request.headers["From"])
    to_value = request.headers["To"]
    if code >= 200 and tag_of(request, "To") is None:
        to_value += f";tag={to_tag or random_token()}"
    response.headers.set("To", to_value)
    response.headers.set("Call-ID", request.headers["Call-ID"])
    response.headers.set("CSeq", request.headers["CSeq"])
    for name, value in headers:
        response.headers.add(name, value)
    response.headers.set("Content-Length", "0")
    return response


def set_body(message: Message, content_type: str, body: bytes) -> None:
    message.body = body
    message.headers.set("Content-Type", content_type)
    message.headers.set("Content-Length", str(len(body)))
