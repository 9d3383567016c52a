"""SIP dialogs (RFC 3261 §12): the state that in-dialog requests are built from.

A `Dialog` is a plain record; it does no I/O. `UserAgent.send_in_dialog` sends what `new_request` builds to
the next hop it names; the sans-IO machines (`sip.invite_session`, `sip.notifier`, `sip.subscriber`) return
it in a `SendRequest`.

Corrects sipua's `Dialog`, whose `create_request` puts the remote *address of record* (the To/From URI)
into the Request-URI and so sends every in-dialog request there, ignoring the remote target learnt from
Contact; which knows no strict routing; and which creates dialogs only for INVITE (not for SUBSCRIBE/NOTIFY,
RFC 6665 §4.1.2.4). Here `new_request` does it the §12.2.1.1 way, and `next_hop` says where the request
goes first:

    route set empty                    Request-URI = remote target; no Route; next hop = remote target
    first route has `lr` (loose)       Request-URI = remote target; Route = the route set in order;
                                       next hop = the first route's URI
    first route without `lr` (strict)  Request-URI = the first route's URI (params not allowed in a
                                       Request-URI stripped); Route = the rest, then the remote target;
                                       next hop = that Request-URI

The route set comes from Record-Route: in order when we are the UAS of the request that made the dialog
(§12.1.1), reversed when we are the UAC and read it from the 2xx (§12.1.2). Each entry is kept as the text
received, so a proxy finds its own Route exactly as it wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sipmessage import URI, Address, Message, Parameters, Request, Response

from sip.messages import from_tag, new_branch, split_header_values, to_tag

# Methods whose requests (and 2xx) refresh the remote target (RFC 3261 §12.2, RFC 6665 §4.1.2.1/4.2.1).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
MAX_FORWARDS = 70

# Parameters a Request-URI may not carry (RFC 3261 §19.1.1 table 1): stripped when strict routing.
_NOT_IN_REQUEST_URI = ("method", "ttl", "maddr", "lr")


class DialogError(ValueError):
    """A message that cannot create or continue a dialog (no Contact, no tag, an unparsable Record-Route)."""


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
    """The URI of the single Contact of a request or 2xx that makes or refreshes a dialog (the remote
    target; RFC 3261 §8.1.1.8, §12.1)."""
    values = [item for value in message.headers.getlist("Contact") for item in split_header_values(value)]
    if len(values) != 1:
        raise DialogError(f"expected one Contact, found {len(values)}")
    try:
        return Address.parse(values[0]).uri
    except ValueError:
        raise DialogError(f"Contact is not an address: {values[0][:200]!r}") from None


def _sequence(message: Message) -> int:
    try:
        return message.cseq.sequence
    except (KeyError, ValueError):
        raise DialogError("malformed CSeq") from None


@dataclass
class Dialog:
    """One dialog, from our side: `local_*` is us, `remote_*` the peer.

    A UAC's dialog exists before its answer (`as_uac`): `remote_tag` is None until a 2xx
    (`establish_from_response`) or a NOTIFY that overtook it (`establish_from_request`) makes it.
    """

    call_id: str
    local_tag: str
    remote_tag: str | None  # None until the dialog is established (a UAC before any answer)
    local_address: Address  # our From in requests we send (tag included)
    remote_address: Address  # their To in requests we send (tag included once known)
    remote_target: URI  # the peer's Contact: the Request-URI of our in-dialog requests
    route_set: list[Route] = field(default_factory=list)
    local_cseq: int = 0  # the last CSeq number we used
    remote_cseq: int | None = None  # the last CSeq number the peer used
    secure: bool = False
    local_contact: Address | None = None  # our Contact in requests we send (None: the user agent's)
    # The text of each address as last written: rendering an Address (sipmessage quotes every URI part)
    # costs more than the rest of a request; a notifier writes the same ones into every NOTIFY.
    _texts: dict[str, tuple[Address, str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag)."""
        return (self.call_id, self.local_tag, self.remote_tag or "")

    @property
    def established(self) -> bool:
        return self.remote_tag is not None

    # -- creation ------------------------------------------------------------------------------------

    @classmethod
    def as_uac(
        cls,
        *,
        local_address: Address,
        remote_address: Address,
        call_id: str,
        local_tag: str,
        local_contact: Address | None = None,
        preloaded_route: tuple[Route, ...] | list[Route] = (),
    ) -> Dialog:
        """The state for an initial request we are about to send (`new_request` builds it; §12.1.2 completes
        it from the answer). `local_address` and `remote_address` without tags."""
        return cls(
            call_id=call_id,
            local_tag=local_tag,
            remote_tag=None,
            local_address=_with_tag(local_address, local_tag),
            remote_address=remote_address,
            remote_target=remote_address.uri,
            route_set=list(preloaded_route),
            secure=remote_address.uri.scheme == "sips",
            local_contact=local_contact,
        )

    @classmethod
    def _sent(cls, request: Request) -> Dialog:
        """The state of the initial request we sent, before any answer."""
        local_tag = from_tag(request)
        if not local_tag:
            raise DialogError("the request has no From tag")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=None,
            local_address=request.from_address,
            remote_address=request.to_address,
            remote_target=request.uri,
            local_cseq=request.cseq.sequence,
            secure=request.uri.scheme == "sips",
        )

    @classmethod
    def from_response(cls, request: Request, response: Response) -> Dialog:
        """The UAC's dialog, from the request it sent and a 2xx/1xx with a To-tag (§12.1.2).

        Route set: the response's Record-Route, reversed.
        """
        dialog = cls._sent(request)
        dialog.establish_from_response(response)
        return dialog

    @classmethod
    def from_notify(cls, subscribe: Request, notify: Request) -> Dialog:
        """The subscriber's dialog created by a NOTIFY (RFC 6665 §4.1.2.4), e.g. one before the 2xx.

        The NOTIFY is a request we receive, so its Record-Route is taken in order, as a UAS does.
        """
        dialog = cls._sent(subscribe)
        dialog.establish_from_request(notify)
        return dialog

    @classmethod
    def from_request(
        cls, request: Request, local_tag: str, *, local_cseq: int = 0, local_contact: Address | None = None
    ) -> Dialog:
        """The UAS's dialog, from a dialog-creating request and the To-tag of our answer (§12.1.1).

        Route set: the request's Record-Route, in order. Raises DialogError when the request lacks what a
        dialog needs.
        """
        try:
            remote_tag = from_tag(request)
            local = request.to_address
            remote = request.from_address
        except (KeyError, ValueError) as exc:
            raise DialogError(f"malformed From or To: {exc}") from None
        if not remote_tag:
            raise DialogError("the request has no From tag")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_address=_with_tag(local, local_tag),
            remote_address=remote,
            remote_target=contact_uri(request),
            route_set=record_route(request),
            local_cseq=local_cseq,
            remote_cseq=_sequence(request),
            secure=request.uri.scheme == "sips",
            local_contact=local_contact,
        )

    def establish_from_response(self, response: Response) -> None:
        """A 2xx (or 1xx with a To-tag) to our initial request makes the dialog (§12.1.2): remote tag,
        remote target from its Contact, route set from its Record-Route reversed."""
        tag = to_tag(response)
        if not tag:
            raise DialogError("the response has no To tag")
        target = contact_uri(response)
        self.route_set = list(reversed(record_route(response)))
        self.remote_tag, self.remote_target = tag, target
        self.remote_address = _with_tag(self.remote_address, tag)

    def establish_from_request(self, request: Request) -> None:
        """A request from the peer makes the dialog before our request's 2xx (RFC 6665 §4.1.2.4: a NOTIFY
        may overtake the 2xx to SUBSCRIBE); we are its UAS, so the route set is in order."""
        tag = from_tag(request)
        if not tag:
            raise DialogError("the request has no From tag")
        sequence = _sequence(request)
        target = contact_uri(request)
        self.route_set = record_route(request)
        self.remote_tag, self.remote_target, self.remote_cseq = tag, target, sequence
        self.remote_address = _with_tag(self.remote_address, tag)

    # -- requests we send ------------------------------------------------------------------------------

    def next_hop(self) -> URI:
        """Where the next in-dialog request goes first (§8.1.2): the first route if loose, else the
        Request-URI."""
        if not self.route_set:
            return self.remote_target
        first = self.route_set[0]
        return first.uri if first.loose else _strict_request_uri(first)

    def new_request(self, method: str) -> Request:
        """An in-dialog request (§12.2.1.1; the initial request too, before the dialog exists) with the next
        CSeq (an ACK keeps the current one: the INVITE's).

        Via carries a branch only (the user agent completes it); Contact is `local_contact`, or else the
        user agent's.
        """
        routes = [route.text for route in self.route_set]
        if self.route_set and not self.route_set[0].loose:
            uri = _strict_request_uri(self.route_set[0])
            routes = [*routes[1:], f"<{self.remote_target}>"]
        else:
            uri = self.remote_target
        request = Request(method, uri)
        if method != "ACK":
            self.local_cseq += 1
        headers = request.headers  # a new request has no header yet: `add` appends
        headers.add("Via", f"SIP/2.0/UDP placeholder;branch={new_branch()}")
        headers.add("Max-Forwards", str(MAX_FORWARDS))
        headers.add("From", self._text("From", self.local_address))
        headers.add("To", self._text("To", self.remote_address))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{self.local_cseq} {method}")
        if routes:
            headers.setlist("Route", routes)
        if self.local_contact is not None:
            headers.add("Contact", self._text("Contact", self.local_contact))
        return request

    def _text(self, header: str, address: Address) -> str:
        """`str(address)`, remembered while the dialog keeps that same Address object."""
        known = self._texts.get(header)
        if known is None or known[0] is not address:
            known = self._texts[header] = (address, str(address))
        return known[1]

    # -- requests we receive ---------------------------------------------------------------------------

    def matches(self, request: Request) -> bool:
        """Whether a received request belongs to this dialog (Call-ID, To-tag = ours, From-tag = theirs)."""
        return (
            request.call_id == self.call_id
            and to_tag(request) == self.local_tag
            and from_tag(request) == self.remote_tag
        )

    def accept_cseq(self, request: Request) -> bool:
        """§12.2.2: record a received request's CSeq. False when it is not above the last one: the request
        is out of order (answer `500`); CSeq grows by one with every new request (§12.2.1.1), so an equal
        one is no new request either. ACK and CANCEL carry the CSeq of the request they go with."""
        sequence = request.cseq.sequence
        if request.method in ("ACK", "CANCEL"):
            return True
        if self.remote_cseq is not None and sequence <= self.remote_cseq:
            return False
        self.remote_cseq = sequence
        return True

    def refresh_target(self, message: Message) -> None:
        """A target refresh request (§12.2.2; SUBSCRIBE, NOTIFY: RFC 6665 §4.1.2.1, §4.1.3) or its 2xx with a
        Contact moves the remote target."""
        if message.headers.get("Contact"):
            self.remote_target = contact_uri(message)

    def accept_request(self, request: Request) -> bool:
        """Check and record a received in-dialog request (§12.2.2): `accept_cseq`, then a target refresh
        request moves the remote target."""
        if not self.accept_cseq(request):
            return False
        if request.method in TARGET_REFRESH_METHODS:
            self.refresh_target(request)
        return True

    def accept_response(self, response: Response) -> None:
        """A 2xx to a target refresh request we sent updates the remote target (§12.2.1.2)."""
        if 200 <= response.code < 300 and response.cseq.method in TARGET_REFRESH_METHODS:
            self.refresh_target(response)


def _strict_request_uri(route: Route) -> URI:
    params = {k: v for k, v in route.uri.parameters.items() if k not in _NOT_IN_REQUEST_URI}
    return replace(route.uri, parameters=Parameters(**params))
