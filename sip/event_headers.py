"""The headers of SIP-specific event notification (RFC 6665 section 8.4 grammar), parsed and formatted.

    Event              = ( "Event" / "o" ) HCOLON event-type *( SEMI event-param )
    event-type         = event-package *( "." event-template )     (token-nodot each)
    event-param        = generic-param / ( "id" EQUAL token )
    Allow-Events       = ( "Allow-Events" / "u" ) HCOLON event-type *( COMMA event-type )
    Subscription-State = "Subscription-State" HCOLON substate-value *( SEMI subexp-params )
    substate-value     = "active" / "pending" / "terminated" / extension-substate
    subexp-params      = ("reason" EQUAL event-reason-value) / ("expires" EQUAL delta-seconds)
                         / ("retry-after" EQUAL delta-seconds) / generic-param
    Expires, Min-Expires = delta-seconds                        (RFC 3261 sections 20.19, 20.23)

Every malformed value raises `HeaderError`, which names the header; nothing is guessed. Event types and the
`id` parameter compare byte by byte (RFC 6665 section 8.2.1); parameter names case-insensitively.
A delta-seconds value above 2**32-1 is taken as 2**32-1 (RFC 3261 section 25.1 says nothing else fits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sipmessage import Message

from sip.messages import split_outside_quotes

MAX_DELTA_SECONDS = 2**32 - 1

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN_NODOT = r"[A-Za-z0-9\-!%*_+`'~]+"
_EVENT_TYPE = re.compile(rf"{_TOKEN_NODOT}(?:\.{_TOKEN_NODOT})*\Z")
_TOKEN_RE = re.compile(rf"{_TOKEN}\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
# generic-param value: token, host (IPv6 reference included) or quoted-string.
_GEN_VALUE = re.compile(rf'(?:{_TOKEN}|\[[0-9A-Fa-f:.]+\]|"(?:[^"\\]|\\.)*")\Z')


class HeaderError(ValueError):
    """A header required here is missing or its value does not follow its grammar."""

    def __init__(self, header: str, value: str | None, problem: str) -> None:
        self.header = header
        self.value = value
        self.problem = problem
        shown = "missing" if value is None else repr(value[:200])
        super().__init__(f"{header} header {shown}: {problem}")


Parameters = tuple[tuple[str, str | None], ...]


def _split_params(header: str, value: str) -> tuple[str, Parameters]:
    """`head;name=value;name` -> ("head", (("name", "value"), ("name", None))), respecting quoted strings.
    Names are lower-cased; quotes stay on quoted values (callers that need the text unquote it)."""
    parts, quoted = split_outside_quotes(value, ";")
    if quoted:
        raise HeaderError(header, value, "unterminated quoted string")
    head = parts[0].strip()
    params: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for part in parts[1:]:
        name, eq, raw = part.partition("=")
        name = name.strip().lower()
        if not _TOKEN_RE.match(name):
            raise HeaderError(header, value, f"bad parameter {part.strip()!r}")
        if name in seen:
            raise HeaderError(header, value, f"parameter {name!r} appears twice")
        seen.add(name)
        if eq:
            raw = raw.strip()
            if not _GEN_VALUE.match(raw):
                raise HeaderError(header, value, f"bad value for parameter {name!r}")
            params.append((name, raw))
        else:
            params.append((name, None))
    return head, tuple(params)


def _format_params(params: Parameters) -> str:
    return "".join(f";{name}" if val is None else f";{name}={val}" for name, val in params)


def parse_delta_seconds(header: str, value: str) -> int:
    """delta-seconds (RFC 3261 section 25.1), capped at 2**32-1."""
    text = value.strip()
    if not _DIGITS.match(text):
        raise HeaderError(header, value, "not a number of seconds")
    return min(int(text), MAX_DELTA_SECONDS)


def _param_seconds(header: str, value: str, name: str, raw: str | None) -> int:
    if raw is None:
        raise HeaderError(header, value, f"{name} needs a value")
    return parse_delta_seconds(header, raw)


@dataclass(frozen=True, slots=True)
class Event:
    """An `Event` header: the event type and its `id` (RFC 6665 sections 7.2.1, 8.2.1)."""

    package: str
    id: str | None = None
    parameters: Parameters = ()  # other generic parameters, kept in order

    @classmethod
    def parse(cls, value: str) -> Event:
        head, params = _split_params("Event", value)
        if not _EVENT_TYPE.match(head):
            raise HeaderError("Event", value, "not an event type")
        event_id: str | None = None
        others: list[tuple[str, str | None]] = []
        for name, raw in params:
            if name == "id":
                if raw is None or not _TOKEN_RE.match(raw):
                    raise HeaderError("Event", value, "the id parameter must be a token")
                event_id = raw
            else:
                others.append((name, raw))
        return cls(head, event_id, tuple(others))

    def same_subscription(self, other: Event) -> bool:
        """Whether two Event headers name the same subscription in one dialog (same type, same id)."""
        return self.package == other.package and self.id == other.id

    def __str__(self) -> str:
        event_id = f";id={self.id}" if self.id is not None else ""
        return f"{self.package}{event_id}{_format_params(self.parameters)}"


class Substate(StrEnum):
    """substate-value (RFC 6665 section 4.1.3); other tokens are extension substates."""

    ACTIVE = "active"
    PENDING = "pending"
    TERMINATED = "terminated"


class Reason(StrEnum):
    """event-reason-value (RFC 6665 section 4.1.3, RFC 6665 added `invariant`)."""

    DEACTIVATED = "deactivated"
    PROBATION = "probation"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    GIVEUP = "giveup"
    NORESOURCE = "noresource"
    INVARIANT = "invariant"


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A `Subscription-State` header. `state` is a `Substate` or an extension token (lower-case);
    `reason` likewise a `Reason` or an extension token."""

    state: str
    expires: int | None = None
    reason: str | None = None
    retry_after: int | None = None
    parameters: Parameters = ()  # other generic parameters

    @classmethod
    def parse(cls, value: str) -> SubscriptionState:
        header = "Subscription-State"
        head, params = _split_params(header, value)
        if not _TOKEN_RE.match(head):
            raise HeaderError(header, value, "no substate value")
        expires: int | None = None
        retry_after: int | None = None
        reason: str | None = None
        others: list[tuple[str, str | None]] = []
        for name, raw in params:
            if name == "expires":
                expires = _param_seconds(header, value, name, raw)
            elif name == "retry-after":
                retry_after = _param_seconds(header, value, name, raw)
            elif name == "reason":
                if raw is None or not _TOKEN_RE.match(raw):
                    raise HeaderError(header, value, "the reason must be a token")
                reason = raw.lower()
            else:
                others.append((name, raw))
        state = _known(Substate, head.lower()) or head.lower()
        return cls(state, expires, _known(Reason, reason), retry_after, tuple(others))

    def __str__(self) -> str:
        out = str(self.state)
        if self.reason is not None:
            out += f";reason={self.reason}"
        if self.expires is not None:
            out += f";expires={self.expires}"
        if self.retry_after is not None:
            out += f";retry-after={self.retry_after}"
        return out + _format_params(self.parameters)


def _known(enum: type[StrEnum], value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        return value


def parse_allow_events(value: str) -> tuple[str, ...]:
    """The event types of one `Allow-Events` header value (a comma-separated list)."""
    types = tuple(item.strip() for item in value.split(","))
    for item in types:
        if not _EVENT_TYPE.match(item):
            raise HeaderError("Allow-Events", value, f"{item!r} is not an event type")
    return types


def format_allow_events(packages: Iterable[str]) -> str:
    return ", ".join(packages)


# -- reading them from a message (sipmessage keeps header values as text) ---------------------------------


def _single(message: Message, name: str) -> str | None:
    values = message.headers.getlist(name)
    if len(values) > 1:
        raise HeaderError(name, ", ".join(values), "appears more than once")
    return values[0] if values else None


def event_of(message: Message) -> Event | None:
    """The message's `Event` header (`o` is its compact form), or None when it has none."""
    value = _single(message, "Event")
    return None if value is None else Event.parse(value)


def subscription_state_of(message: Message) -> SubscriptionState | None:
    value = _single(message, "Subscription-State")
    return None if value is None else SubscriptionState.parse(value)


def expires_of(message: Message) -> int | None:
    """The `Expires` header in seconds (RFC 3261 section 20.19), or None when absent."""
    value = _single(message, "Expires")
    return None if value is None else parse_delta_seconds("Expires", value)


def min_expires_of(message: Message) -> int | None:
    value = _single(message, "Min-Expires")
    return None if value is None else parse_delta_seconds("Min-Expires", value)


def retry_after_of(message: Message) -> int | None:
    """The seconds of a `Retry-After` header (RFC 3261 section 20.33; its comment and params ignored)."""
    value = _single(message, "Retry-After")
    if value is None:
        return None
    head = value.split("(", 1)[0].split(";", 1)[0]
    return parse_delta_seconds("Retry-After", head)


def allow_events_of(message: Message) -> tuple[str, ...]:
    """Every event type the message's `Allow-Events` headers list (empty when there are none)."""
    out: list[str] = []
    for value in message.headers.getlist("Allow-Events"):
        out.extend(parse_allow_events(value))
    return tuple(out)
