"""Event, Subscription-State, Expires, Min-Expires, Allow-Events: RFC 6665 section 8.4 and RFC 3261."""

from __future__ import annotations

import contextlib
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sip.event_headers import (
    MAX_DELTA_SECONDS,
    Event,
    HeaderError,
    Reason,
    SubscriptionState,
    Substate,
    allow_events_of,
    event_of,
    expires_of,
    format_allow_events,
    min_expires_of,
    parse_allow_events,
    parse_delta_seconds,
    retry_after_of,
    subscription_state_of,
)
from tests.sip_wire import request, response

NOTIFY = textwrap.dedent(
    """\
    NOTIFY sip:gw@192.0.2.1:5060 SIP/2.0
    Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK776
    From: <sip:conf@example.net>;tag=n1
    To: <sip:gw@example.org>;tag=s1
    Call-ID: c1
    CSeq: 2 NOTIFY
    """
)


def test_event_package_and_id() -> None:
    event = Event.parse("conference;id=abc")
    assert (event.package, event.id, event.parameters) == ("conference", "abc", ())
    assert str(event) == "conference;id=abc"


def test_event_with_template_other_params_and_spaces() -> None:
    event = Event.parse("  presence.winfo ; ID = 7 ;foo=bar; baz ")
    assert event.package == "presence.winfo"
    assert event.id == "7"
    assert event.parameters == (("foo", "bar"), ("baz", None))
    assert str(event) == "presence.winfo;id=7;foo=bar;baz"


def test_event_compact_form_and_absence() -> None:
    assert event_of(request(NOTIFY + "o: conference\n")) == Event("conference")
    assert event_of(request(NOTIFY)) is None


def test_same_subscription_compares_type_and_id_exactly() -> None:
    assert Event("conference", "a").same_subscription(Event.parse("conference;id=a"))
    assert not Event("conference", "a").same_subscription(Event("conference", "A"))
    assert not Event("conference").same_subscription(Event("conference", "a"))
    assert not Event("conference").same_subscription(Event("presence"))


@pytest.mark.parametrize(
    "value",
    ["", ";id=1", "conf erence", "conference;", "conference;id", "conference;id=a b", "conference;id=1;id=2",
     "conference..x", ".conference", "conference;=1", 'conference;x="open', "conférence"],
)  # fmt: skip
def test_malformed_event_is_refused(value: str) -> None:
    with pytest.raises(HeaderError) as info:
        Event.parse(value)
    assert info.value.header == "Event"
    assert "Event header" in str(info.value)


def test_two_event_headers_are_refused() -> None:
    with pytest.raises(HeaderError):
        event_of(request(NOTIFY + "Event: conference\nEvent: presence\n"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("active;expires=600", SubscriptionState(Substate.ACTIVE, expires=600)),
        ("pending", SubscriptionState(Substate.PENDING)),
        ("Terminated;Reason=Timeout", SubscriptionState(Substate.TERMINATED, reason=Reason.TIMEOUT)),
        (
            "terminated;reason=probation;retry-after=30",
            SubscriptionState(Substate.TERMINATED, reason=Reason.PROBATION, retry_after=30),
        ),
        ("terminated;reason=invariant", SubscriptionState(Substate.TERMINATED, reason=Reason.INVARIANT)),
        ("terminated;reason=moved", SubscriptionState(Substate.TERMINATED, reason="moved")),
        ('waiting;x="a;b"', SubscriptionState("waiting", parameters=(("x", '"a;b"'),))),
        ("active;expires=99999999999", SubscriptionState(Substate.ACTIVE, expires=MAX_DELTA_SECONDS)),
    ],
)
def test_subscription_state(value: str, expected: SubscriptionState) -> None:
    assert SubscriptionState.parse(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", ";reason=timeout", "active;expires=", "active;expires=-1", "active;expires=1.5", "active;expires",
     "terminated;reason", "terminated;retry-after=soon", "terminated;reason=a b", "active;expires=1;expires=2"],
)  # fmt: skip
def test_malformed_subscription_state_is_refused(value: str) -> None:
    with pytest.raises(HeaderError) as info:
        SubscriptionState.parse(value)
    assert info.value.header == "Subscription-State"


def test_subscription_state_formats_what_it_parses() -> None:
    state = SubscriptionState(Substate.TERMINATED, expires=None, reason=Reason.PROBATION, retry_after=5)
    assert str(state) == "terminated;reason=probation;retry-after=5"
    assert str(SubscriptionState(Substate.ACTIVE, expires=60)) == "active;expires=60"
    assert subscription_state_of(
        request(NOTIFY + "Subscription-State: active;expires=60\n")
    ) == state.__class__(Substate.ACTIVE, expires=60)


substates = st.sampled_from([*Substate, "extension"])
reasons = st.none() | st.sampled_from([*Reason, "other-reason"])
seconds = st.none() | st.integers(0, MAX_DELTA_SECONDS)


@given(substates, seconds, reasons, seconds)
def test_subscription_state_round_trips(
    state: str, expires: int | None, reason: str | None, retry: int | None
) -> None:
    value = SubscriptionState(state, expires=expires, reason=reason, retry_after=retry)
    assert SubscriptionState.parse(str(value)) == value


@given(
    st.from_regex(r"[a-z][a-z0-9\-]{0,8}(\.[a-z0-9]{1,5})?", fullmatch=True),
    st.none() | st.from_regex(r"[A-Za-z0-9.\-]{1,10}", fullmatch=True),
)
def test_event_round_trips(package: str, event_id: str | None) -> None:
    event = Event(package, event_id)
    assert Event.parse(str(event)) == event


def test_expires_and_min_expires() -> None:
    message = response(
        """\
        SIP/2.0 423 Interval Too Brief
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
        From: <sip:gw@example.org>;tag=a
        To: <sip:conf@example.net>;tag=b
        Call-ID: c
        CSeq: 1 SUBSCRIBE
        Min-Expires: 120
        Expires:  600
        Retry-After: 30 (maintenance);duration=60
        """
    )
    assert min_expires_of(message) == 120
    assert expires_of(message) == 600
    assert retry_after_of(message) == 30
    assert expires_of(request(NOTIFY)) is None
    assert min_expires_of(request(NOTIFY)) is None
    assert retry_after_of(request(NOTIFY)) is None


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.0", "3600 s", "Thu, 01 Dec 1994 16:00:00 GMT"])
def test_malformed_expires_is_refused(value: str) -> None:
    with pytest.raises(HeaderError) as info:
        expires_of(request(NOTIFY + f"Expires: {value}\n"))
    assert info.value.header == "Expires"


def test_delta_seconds_is_capped() -> None:
    assert parse_delta_seconds("Expires", "4294967296") == MAX_DELTA_SECONDS
    assert parse_delta_seconds("Expires", " 0 ") == 0


def test_allow_events() -> None:
    message = request(NOTIFY + "Allow-Events: conference, presence.winfo\nu: dialog\n")
    assert allow_events_of(message) == ("conference", "presence.winfo", "dialog")
    assert allow_events_of(request(NOTIFY)) == ()
    assert format_allow_events(["conference", "dialog"]) == "conference, dialog"
    with pytest.raises(HeaderError):
        parse_allow_events("conference,,dialog")
    with pytest.raises(HeaderError):
        parse_allow_events("conference;id=1")


# -- whatever a peer sends, the only error is HeaderError -------------------------------------------------------

header_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.from_regex(r'[a-z]{1,8}(;[a-z\-]{1,8}(=("[^"]{0,4}"?|[a-z0-9.]{0,5}))?){0,3}', fullmatch=True)


@given(header_text)
def test_parsers_raise_only_header_errors(value: str) -> None:
    for parser in (Event.parse, SubscriptionState.parse, parse_allow_events, parse_seconds):
        with contextlib.suppress(HeaderError):
            parser(value)


def parse_seconds(value: str) -> int:
    return parse_delta_seconds("Expires", value)
