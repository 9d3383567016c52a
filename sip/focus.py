"""RFC 4579 section 5: the `isfocus` feature parameter of a Contact, written and read.

A focus marks the Contact of its INVITE requests and responses with `isfocus` (a header parameter, after
the `<...>`: RFC 3840 feature tags are Contact parameters, not URI parameters); that Contact URI is the
conference URI a participant subscribes to (`Event: conference`). A re-INVITE whose Contact gains or loses
`isfocus` turns the call into a conference or back.

Read from the raw header text, not through sipmessage's `Address.parse`, which refuses common Contact
values (a quoted `+sip.instance="<urn:...>"` parameter, RFC 5626): a peer's focus flag must not be lost
because a parameter beside it is unusual.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipmessage import URI, Address, Message, Parameters

from sip.messages import split_header_values, split_outside_quotes

ISFOCUS = "isfocus"


class ContactError(ValueError):
    """A Contact that names no usable URI."""


@dataclass(frozen=True, slots=True)
class ContactInfo:
    """The first Contact of a message: its URI and its header parameters (names lower-cased)."""

    uri: URI
    parameters: dict[str, str | None]

    @property
    def is_focus(self) -> bool:
        return ISFOCUS in self.parameters


def _split_params(text: str) -> dict[str, str | None]:
    """`;a;b=1;c="x;y"` -> {a: None, b: "1", c: '"x;y"'} (quotes respected)."""
    params: dict[str, str | None] = {}
    for item in split_outside_quotes(text, ";")[0]:
        name, equals, value = item.strip().partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip() if equals else None
    return params


def parse_contact(value: str) -> ContactInfo:
    """One Contact value: `"name" <uri>;params`, `<uri>;params`, or `uri;params` (RFC 3261 section 20:
    without angle brackets, every parameter after the URI is a header parameter)."""
    text = value.strip()
    if text.startswith('"'):
        end = 1
        while end < len(text) and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        text = text[end + 1 :].strip()
    start = text.find("<")
    if 0 <= start < (text.find(";") if ";" in text else len(text)):
        end = text.find(">", start)
        if end < 0:
            raise ContactError(f"unterminated <...> in Contact {value[:200]!r}")
        uri_text, params_text = text[start + 1 : end], text[end + 1 :]
    else:
        uri_text, _, params_text = text.partition(";")
        params_text = ";" + params_text if params_text else ""
    try:
        uri = URI.parse(uri_text.strip())
    except ValueError:
        raise ContactError(f"Contact URI {uri_text[:200]!r} does not parse") from None
    params = _split_params(params_text.strip().removeprefix(";")) if params_text.strip() else {}
    return ContactInfo(uri, params)


def first_contact(message: Message) -> ContactInfo | None:
    """The first Contact of a message, or None when it has none (`ContactError` when it does not parse)."""
    values = [item for value in message.headers.getlist("Contact") for item in split_header_values(value)]
    if not values or values[0].strip() == "*":
        return None
    return parse_contact(values[0])


def focus_contact(uri: URI, *, focus: bool) -> Address:
    """Our Contact: `<uri>;isfocus` where we stand for a focus, `<uri>` otherwise."""
    return Address(uri, parameters=Parameters(isfocus=None) if focus else Parameters())
