"""SIP dialogs (RFC 3261 §12): the state that in-dialog requests are built from.

A `Dialog` is a plain record; it does no I/O. `UserAgent.send_in_dialog` sends what `create_request`
builds to the next hop it names.

Corrects sipua's `Dialog`, whose `create_request` puts the remote *address of record* (the To/From URI)
into the Request-URI and so sends every in-dialog request there, ignoring the remote target learnt from
Contact; and which creates dialogs only for INVITE (not for SUBSCRIBE/NOTIFY, RFC 6665 §4.1.2.4). Here the
Request-URI is the remote target and the request follows the route set, with loose and strict routing
(§12.2.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sipmessage import URI, Address, CSeq, Message, Parameters, Request, Response

from sip.messages import from_tag, new_branch, split_header_values, to_tag

# Methods whose requests (and 2xx) refresh the remote target (RFC 3261 §12.2, RFC 6665 §4.1.2.1/4.2.1).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})

# Parameters a Request-URI may not carry (RFC 3261 §19.1.1 table 1): stripped when strict routing.
_NOT_IN_REQUEST_URI = ("method", "ttl", "maddr", "lr")


class DialogError(ValueError):
    """A message that cannot create or continue a dialog (no Contact, no tag)."""


def _with_tag(address: Address, tag: str) -> Address:
    return replace(address, parameters=address.parameters.replace(tag=tag))


@dataclass(frozen=True)
class Route:
    """One entry of a route set: the text as received (a proxy must find its own Route exactly as it
    wrote it) and its URI."""

    text: str
    uri: URI

    @classmethod
    def parse(cls, text: str) -> Route:
        try:
            return cls(text, Address.parse(text).uri)
        except ValueError:
            raise DialogError(f"not a route: {text[:200]!r}") from None

    @property
    def loose(self) -> bool:
        return "lr" in self.uri.parameters


def record_route(message: Message) -> list[Route]:
    """Every Record-Route entry of a message, in the order received."""
    values = message.headers.getlist("Record-Route")
    return [Route.parse(item) for value in values for item in split_header_values(value)]


def contact_uri(message: Message) -> URI:
    """The URI of the first Contact (a dialog's remote target)."""
    values = [item for value in message.headers.getlist("Contact") for item in split_header_values(value)]
    if not values:
        raise DialogError("no Contact")
    try:
        return Address.parse(values[0]).uri
    except ValueError:
        raise DialogError(f"Contact is not an address: {values[0][:200]!r}") from None


@dataclass
class Dialog:
    """One dialog, from our side: `local_*` is us, `remote_*` the peer."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_address: Address  # our From in requests we send (tag included)
    remote_address: Address  # their To in requests we send (tag included)
    remote_target: URI  # the peer's Contact: the Request-URI of our in-dialog requests
    route_set: list[Route] = field(default_factory=list)
    local_cseq: int = 0  # the last CSeq number we used
    remote_cseq: int | None = None
    secure: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag)."""
        return (self.call_id, self.local_tag, self.remote_tag)

    # -- creation ------------------------------------------------------------------------------------

    @classmethod
    def from_response(cls, request: Request, response: Response) -> Dialog:
        """The UAC's dialog, from the request it sent and a 2xx/1xx with a To-tag (§12.1.2).

        Route set: the response's Record-Route, reversed.
        """
        remote_tag = to_tag(response)
        local_tag = from_tag(request)
        if not remote_tag or not local_tag:
            raise DialogError("a dialog needs tags on both sides")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_address=request.from_address,
            remote_address=_with_tag(request.to_address, remote_tag),
            remote_target=contact_uri(response),
            route_set=list(reversed(record_route(response))),
            local_cseq=request.cseq.sequence,
            secure=request.uri.scheme == "sips",
        )

    @classmethod
    def from_notify(cls, subscribe: Request, notify: Request) -> Dialog:
        """The subscriber's dialog created by a NOTIFY (RFC 6665 §4.1.2.4), e.g. one before the 2xx.

        The NOTIFY is a request we receive, so its Record-Route is taken in order, as a UAS does.
        """
        remote_tag = from_tag(notify)
        local_tag = from_tag(subscribe)
        if not remote_tag or not local_tag:
            raise DialogError("a dialog needs tags on both sides")
        return cls(
            call_id=subscribe.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_address=subscribe.from_address,
            remote_address=_with_tag(subscribe.to_address, remote_tag),
            remote_target=contact_uri(notify),
            route_set=record_route(notify),
            local_cseq=subscribe.cseq.sequence,
            remote_cseq=notify.cseq.sequence,
            secure=subscribe.uri.scheme == "sips",
        )

    @classmethod
    def from_request(cls, request: Request, local_tag: str, *, local_cseq: int = 0) -> Dialog:
        """The UAS's dialog, from a dialog-creating request and the To-tag of our answer (§12.1.1).

        Route set: the request's Record-Route, in order.
        """
        remote_tag = from_tag(request)
        if not remote_tag:
            raise DialogError("the request has no From tag")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_address=_with_tag(request.to_address, local_tag),
            remote_address=request.from_address,
            remote_target=contact_uri(request),
            route_set=record_route(request),
            local_cseq=local_cseq,
            remote_cseq=request.cseq.sequence,
            secure=request.uri.scheme == "sips",
        )

    # -- requests we send ------------------------------------------------------------------------------

    def next_hop(self) -> URI:
        """Where the next in-dialog request goes first (§8.1.2): the first route if loose, else the
        Request-URI."""
        if not self.route_set:
            return self.remote_target
        first = self.route_set[0]
        return first.uri if first.loose else _strict_request_uri(first)

    def new_request(self, method: str) -> Request:
        """An in-dialog request (§12.2.1.1) with the next CSeq (an ACK keeps the current one: the INVITE's).

        Loose routing (first route has `lr`, or no route set): Request-URI = remote target, Route = the
        route set. Strict routing: Request-URI = the first route (its forbidden parameters stripped),
        Route = the other routes + the remote target. Via carries a branch only (the user agent completes
        it); Contact is the user agent's.
        """
        routes = [route.text for route in self.route_set]
        if self.route_set and not self.route_set[0].loose:
            uri = _strict_request_uri(self.route_set[0])
            routes = [*routes[1:], f"<{self.remote_target}>"]
        else:
            uri = self.remote_target
        request = Request(method, uri)
        request.headers.set("Via", f"SIP/2.0/UDP placeholder;branch={new_branch()}")
        request.max_forwards = 70
        request.from_address = self.local_address
        request.to_address = self.remote_address
        request.call_id = self.call_id
        if method != "ACK":
            self.local_cseq += 1
        request.cseq = CSeq(self.local_cseq, method)
        if routes:
            request.headers.setlist("Route", routes)
        return request

    # -- requests we receive ---------------------------------------------------------------------------

    def matches(self, request: Request) -> bool:
        """Whether a received request belongs to this dialog (Call-ID, To-tag = ours, From-tag = theirs)."""
        return (
            request.call_id == self.call_id
            and to_tag(request) == self.local_tag
            and from_tag(request) == self.remote_tag
        )

    def accept_request(self, request: Request) -> bool:
        """Check and record a received in-dialog request (§12.2.2).

        Returns False when its CSeq is lower than the last one (answer `500`). A target refresh request
        with a Contact updates the remote target.
        """
        sequence = request.cseq.sequence
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and sequence < self.remote_cseq:
                return False
            self.remote_cseq = sequence
        if request.method in TARGET_REFRESH_METHODS and request.headers.get("Contact"):
            self.remote_target = contact_uri(request)
        return True

    def accept_response(self, response: Response) -> None:
        """A 2xx to a target refresh request we sent updates the remote target (§12.2.1.2)."""
        if (
            200 <= response.code < 300
            and response.cseq.method in TARGET_REFRESH_METHODS
            and response.headers.get("Contact")
        ):
            self.remote_target = contact_uri(response)


def _strict_request_uri(route: Route) -> URI:
    params = {k: v for k, v in route.uri.parameters.items() if k not in _NOT_IN_REQUEST_URI}
    return replace(route.uri, parameters=Parameters(**params))
