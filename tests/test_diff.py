"""diff: the smallest document that merge turns old into new; and the per-recipient view."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.conference_info import (
    MAX_VERSION,
    AvailableMedia,
    AvailableMedium,
    ConferenceDescription,
    ConferenceInfo,
    ConferenceState,
    Endpoint,
    EndpointStatus,
    Media,
    MediaStatus,
    Node,
    State,
    User,
    Users,
)
from gateway.diff import diff, full_document
from gateway.document_parser import parse
from gateway.document_writer import serialize
from gateway.errors import VersionOverflowError
from gateway.merge import merge
from gateway.recipient_view import RecipientView, SharedDocuments
from tests.strategies import conference, mutation, peer_document

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same_content(a: ConferenceInfo, b: ConferenceInfo) -> bool:
    return a.model_copy(update={"version": None}) == b.model_copy(update={"version": None})


def assert_diff_merges_back(a: ConferenceInfo, b: ConferenceInfo) -> None:
    """`diff(a, b)` is None only when they are equal, and otherwise `merge` turns `a` into `b` with it,
    as a model and after the wire."""
    d = diff(a, b)
    if d is None:
        assert same_content(a, b)
        return
    assert same_content(merge(a, d), b)
    assert same_content(merge(a, parse(serialize(d))), b)


@PROPERTY
@given(conference(), conference())
def test_merge_of_diff_gives_the_new_state(a: ConferenceInfo, b: ConferenceInfo) -> None:
    d = diff(a, b)
    if d is None:
        assert same_content(a, b)
        return
    assert d.version == (a.version or 0) + 1
    result = merge(a, d)
    assert same_content(result, b)
    assert result.version == d.version
    # and the document survives the wire
    assert same_content(merge(a, parse(serialize(d))), b)


def _states(node: object) -> list[object]:
    """Every `state` inside a model."""
    found = []
    if isinstance(node, Node):
        if "state" in type(node).model_fields:
            found.append(node.__dict__["state"])
        for value in node.__dict__.values():
            found += _states(value)
    elif isinstance(node, dict | tuple | list):
        for value in node.values() if isinstance(node, dict) else node:
            found += _states(value)
    return found


@PROPERTY
@given(peer_document(), peer_document())
def test_documents_with_nested_partial_states_become_states_that_diff_and_merge_back(
    x: ConferenceInfo, y: ConferenceInfo
) -> None:
    """A full document may mark users, endpoints and URI lists partial; `merge` makes every one full, and
    `diff` between such states merges back exactly, on the wire too."""
    a, b = merge(None, x), merge(None, y)
    assert set(_states(a)) <= {State.FULL} and set(_states(b)) <= {State.FULL}
    assert_diff_merges_back(a, b)


@PROPERTY
@given(st.data())
def test_merge_of_diff_of_a_mutation_gives_the_new_state(data: st.DataObject) -> None:
    a = data.draw(conference())
    b = data.draw(mutation(a))
    assert_diff_merges_back(a, b)


@PROPERTY
@given(conference(), conference(), conference())
def test_diff_across_several_merges_uses_the_lineage_and_stays_exact(
    a: ConferenceInfo, b: ConferenceInfo, c: ConferenceInfo
) -> None:
    b_state = merge(
        a, diff(a, b) or a.model_copy(update={"version": (a.version or 0) + 1, "state": State.PARTIAL})
    )
    c_doc = diff(b_state, c)
    c_state = merge(b_state, c_doc) if c_doc is not None else b_state
    d = diff(a, c_state)
    if d is None:
        assert same_content(a, c_state)
    else:
        assert same_content(merge(a, d), c_state)


@given(conference())
@settings(max_examples=50, deadline=None)
def test_diff_of_equal_states_is_nothing(a: ConferenceInfo) -> None:
    assert diff(a, a) is None
    assert diff(a, parse(serialize(a))) is None


def room(n: int) -> ConferenceInfo:
    users = {
        f"sip:user{i}@example.com": User(
            entity=f"sip:user{i}@example.com",
            display_text=f"User {i}",
            endpoints=[
                Endpoint(
                    entity=f"sip:user{i}@10.0.0.1",
                    status=EndpointStatus.CONNECTED,
                    media=[Media(id="1", type="audio", status=MediaStatus.SENDRECV)],
                )
            ],
        )
        for i in range(n)
    }
    return ConferenceInfo(
        entity="sip:conf@example.com",
        version=1,
        conference_state=ConferenceState(user_count=n),
        users=Users(users=users),
    )


def join(state: ConferenceInfo, i: int) -> ConferenceInfo:
    """A merged state with one more user, as the room makes it."""
    newcomer = room(i + 1).user_map()[f"sip:user{i}@example.com"]
    version = (state.version or 0) + 1
    incoming = ConferenceInfo(
        entity=state.entity,
        state=State.PARTIAL,
        version=version,
        conference_state=ConferenceState(user_count=len(state.user_map()) + 1),
        users=Users(state=State.PARTIAL, users=[newcomer]),
    )
    return merge(state, incoming)


def test_one_join_in_a_room_of_1000_is_a_small_partial() -> None:
    before = room(1000)
    after = join(before, 1000)
    d = diff(before, after)
    assert d is not None and d.state is State.PARTIAL
    assert d.users is not None and list(d.users.users) == ["sip:user1000@example.com"]
    assert len(serialize(d)) <= 1024
    assert same_content(merge(before, d), after)


def test_a_status_change_goes_down_to_endpoint_and_media_level() -> None:
    before = room(3)
    user = before.user_map()["sip:user1@example.com"]
    endpoint = user.endpoints["sip:user1@10.0.0.1"]
    changed = endpoint.model_copy(
        update={
            "status": EndpointStatus.ON_HOLD,
            "media": {"1": Media(id="1", type="audio", status=MediaStatus.INACTIVE)},
        }
    )
    after = before.model_copy(
        update={
            "users": Users(
                users={
                    **before.user_map(),
                    user.entity or "": user.model_copy(
                        update={"endpoints": {endpoint.entity or "": changed}}
                    ),
                }
            )
        }
    )
    d = diff(before, after)
    assert d is not None
    text = serialize(d).decode()
    assert '<user entity="sip:user1@example.com" state="partial">' in text
    assert '<endpoint entity="sip:user1@10.0.0.1" state="partial"><status>on-hold</status>' in text
    assert "<display-text>" not in text  # only what changed
    assert same_content(merge(before, d), after)


def test_a_removed_leaf_is_sent_whole_one_level_up() -> None:
    before = room(3)
    user = before.user_map()["sip:user2@example.com"]
    after = before.model_copy(
        update={
            "users": Users(
                users={**before.user_map(), user.entity or "": user.model_copy(update={"display_text": None})}
            )
        }
    )
    d = diff(before, after)
    assert d is not None and d.users is not None
    sent = d.users.users["sip:user2@example.com"]
    assert sent.state is State.FULL and sent.display_text is None
    assert same_content(merge(before, d), after)


def test_a_leave_is_a_deleted_user() -> None:
    before = room(5)
    after = merge(
        before,
        ConferenceInfo(
            entity=before.entity,
            state=State.PARTIAL,
            version=2,
            users=Users(
                state=State.PARTIAL, users=[User(entity="sip:user3@example.com", state=State.DELETED)]
            ),
        ),
    )
    d = diff(before, after)
    assert d is not None and d.users is not None
    assert d.users.users["sip:user3@example.com"].state is State.DELETED
    assert '<user entity="sip:user3@example.com" state="deleted"></user>' in serialize(d).decode()


def test_full_document_when_every_user_changed() -> None:
    before, after = room(3), room(3).model_copy(update={"users": Users(users=[User(entity="sip:x@h")])})
    d = diff(before, after)
    assert d is not None and d.state is State.FULL


def _leaving(before: ConferenceInfo, keep: int) -> ConferenceInfo:
    """The partial document in which every user of `before` but the first `keep` leaves."""
    return ConferenceInfo(
        entity=before.entity,
        state=State.PARTIAL,
        version=(before.version or 0) + 1,
        users=Users(
            state=State.PARTIAL,
            users=[User(entity=key, state=State.DELETED) for key in list(before.user_map())[keep:]],
        ),
    )


@pytest.mark.parametrize(("users", "keep"), [(100, 0), (100, 1), (10, 5), (10, 3), (4, 2), (3, 0)])
def test_the_smaller_of_partial_and_full_is_sent(users: int, keep: int) -> None:
    """Everyone leaving a large room is a small full document; half of them leaving, a small partial."""
    before = room(users)
    leaving = _leaving(before, keep)
    after = merge(before, leaving)
    d = diff(before, after)
    assert d is not None
    other = full_document(after, 2) if d.state is State.PARTIAL else leaving
    assert len(serialize(d)) <= len(serialize(other))
    assert same_content(merge(before, d), after)
    if keep == 0:
        assert d.state is State.FULL


def test_removing_an_available_media_entry_sends_a_full_document() -> None:
    def described(*labels: str) -> ConferenceInfo:
        entries = [AvailableMedium(label=label, type="audio") for label in labels]
        description = ConferenceDescription(available_media=AvailableMedia(entries=entries))
        return room(3).model_copy(update={"conference_description": description})

    added = diff(described("a"), described("a", "b"))
    assert added is not None and added.state is State.PARTIAL
    removed = diff(described("a", "b"), described("a"))
    assert removed is not None and removed.state is State.FULL
    for before, after in ((described("a"), described("a", "b")), (described("a", "b"), described("a"))):
        change = diff(before, after)
        assert change is not None
        assert same_content(merge(before, change), after)


def test_diff_from_nothing_is_full() -> None:
    d = diff(None, room(2))
    assert d is not None and d.state is State.FULL and d.version == 1


# -- the per-recipient view ----------------------------------------------------------------------------


def test_view_sends_full_first_then_partials_then_full_on_refresh() -> None:
    view = RecipientView()
    state = room(3)
    first = view.next_document(state)
    assert first is not None and first.state is State.FULL and first.version == 1
    assert view.next_document(state) is None  # nothing changed: nothing to send, version unchanged
    state = join(state, 3)
    second = view.next_document(state)
    assert second is not None and second.state is State.PARTIAL and second.version == 2
    refresh = view.next_document(state, full=True)
    assert refresh is not None and refresh.state is State.FULL and refresh.version == 3


def test_view_folds_many_changes_into_one_document() -> None:
    view = RecipientView()
    state = room(10)
    held = merge(None, view.next_document(state) or state)
    for i in range(10, 60):  # a burst of 50 joins within one coalescing window
        state = join(state, i)
    document = view.next_document(state)
    assert document is not None and document.version == 2
    assert document.users is not None and len(document.users.users) == 50
    assert same_content(merge(held, document), state)


def test_views_have_their_own_versions() -> None:
    early, late = RecipientView(), RecipientView()
    state = room(2)
    early.next_document(state)
    state = join(state, 2)
    early.next_document(state)
    joined = late.next_document(state)
    assert early.version == 2 and late.version == 1
    assert joined is not None and joined.state is State.FULL


def test_view_version_overflow_is_reported() -> None:
    view = RecipientView()
    view.version = 2**32 - 1
    with pytest.raises(VersionOverflowError):
        view.next_document(room(1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conference(), min_size=1, max_size=5))
def test_a_recipient_applying_every_document_holds_the_room_state(states: list[ConferenceInfo]) -> None:
    view = RecipientView()
    held: ConferenceInfo | None = None
    for state in states:
        document = view.next_document(state)
        if document is not None:
            held = merge(held, parse(serialize(document)))
        assert held is not None and same_content(held, state)


def test_diff_after_the_last_32_bit_version_raises_version_overflow() -> None:
    # OLD is at 2^32-1: neither a partial (a user changed) nor a full document (the root entity changed)
    # has a next version to carry.
    old = room(2).model_copy(update={"version": MAX_VERSION})
    partial_change = old.model_copy(
        update={"users": Users(users=[*old.user_map().values(), User(entity="sip:new@example.com")])}
    )
    whole_change = old.model_copy(update={"entity": "sip:other@example.com"})
    for new in (partial_change, whole_change):
        with pytest.raises(VersionOverflowError, match="4294967295"):
            diff(old, new)
    assert diff(old, partial_change, version=1) is not None  # a new subscription starts again at 1


@pytest.mark.parametrize("version", [2**32, -1])
def test_no_document_is_made_with_a_version_outside_32_bits(version: int) -> None:
    old = room(2)
    partial_change = old.model_copy(
        update={"users": Users(users=[*old.user_map().values(), User(entity="sip:new@example.com")])}
    )
    whole_change = old.model_copy(update={"entity": "sip:other@example.com"})
    error = VersionOverflowError if version > 0 else ValueError
    with pytest.raises(error, match=f"version {version}"):
        full_document(old, version)
    for new in (partial_change, whole_change):
        with pytest.raises(error, match=f"version {version}"):
            diff(old, new, version=version)


def test_views_of_one_fan_out_share_each_distinct_document() -> None:
    examples = Path(str(resources.files("gateway").joinpath("examples")))
    before = merge(None, parse((examples / "rfc4575-basic.xml").read_bytes()))
    after = merge(before, parse((examples / "rfc4575-partial-join.xml").read_bytes()))
    same = [RecipientView() for _ in range(3)]
    for view in same:
        view.next_document(before)
    behind = RecipientView()  # one more document sent earlier: another version
    behind.next_document(before)
    behind.next_document(before, full=True)
    shared = SharedDocuments()
    documents = [view.next_document(after, shared=shared) for view in same]
    assert documents[0] is documents[1] is documents[2] and documents[0] is not None
    alone = RecipientView()
    alone.next_document(before)
    assert documents[0] == alone.next_document(after)  # what each would have got on its own
    other = behind.next_document(after, shared=shared)
    assert other is not None and other is not documents[0] and other.version == 3
    assert [view.version for view in same] == [2, 2, 2] and all(view.held is after for view in same)
