"""Each merge rule of RFC 4575 section 4.6 (DESIGN.md section 3) on its own, then the example sequence."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from gateway.conference_info import (
    NAMESPACE,
    ConferenceInfo,
    EndpointStatus,
    MediaStatus,
    State,
)
from gateway.document_parser import parse
from gateway.errors import NeedsFullStateError, StaleDocumentError
from gateway.merge import merge

EXAMPLES = Path(str(resources.files("gateway").joinpath("examples")))


def doc(
    body: str, *, state: str = "full", version: int = 1, entity: str = "sip:conf@example.com"
) -> ConferenceInfo:
    return parse(
        f'<conference-info xmlns="{NAMESPACE}" entity="{entity}" state="{state}" version="{version}">'
        f"{body}</conference-info>"
    )


BASE = doc(
    "<conference-description><subject>Old</subject><free-text>keep?</free-text>"
    "<conf-uris><entry><uri>sip:conf@example.com</uri></entry></conf-uris></conference-description>"
    "<conference-state><user-count>2</user-count><active>true</active></conference-state>"
    '<users><user entity="sip:a@h"><display-text>A</display-text><roles><entry>chair</entry></roles>'
    '<endpoint entity="sip:a@pc"><display-text>A pc</display-text><status>connected</status>'
    '<media id="1"><type>audio</type><status>sendrecv</status></media>'
    '<media id="2"><type>video</type></media></endpoint></user>'
    '<user entity="sip:b@h"><display-text>B</display-text></user></users>'
)


def partial(body: str, version: int = 2) -> ConferenceInfo:
    return doc(body, state="partial", version=version)


# -- versions ------------------------------------------------------------------------------------------


def test_first_document_must_be_full() -> None:
    with pytest.raises(NeedsFullStateError, match="first document must be full"):
        merge(None, partial("", version=1))
    assert merge(None, BASE) == BASE


def test_stale_documents_are_discarded() -> None:
    with pytest.raises(StaleDocumentError) as caught:
        merge(BASE, partial("", version=1))
    assert (caught.value.local_version, caught.value.incoming_version) == (1, 1)
    state = merge(BASE, doc("", version=5))
    with pytest.raises(StaleDocumentError):
        merge(state, doc("", version=3))  # a reordered old full document


def test_full_document_is_accepted_across_a_gap_and_replaces_everything() -> None:
    result = merge(BASE, doc('<users><user entity="sip:z@h"/></users>', version=9))
    assert result.version == 9
    assert list(result.user_map()) == ["sip:z@h"]
    assert result.conference_description is None


def test_partial_with_a_version_gap_needs_full_state() -> None:
    with pytest.raises(NeedsFullStateError) as caught:
        merge(BASE, partial("", version=3))
    assert "gap" in str(caught.value)
    assert (caught.value.local_version, caught.value.incoming_version) == (1, 3)


def test_partial_for_another_conference_needs_full_state() -> None:
    with pytest.raises(NeedsFullStateError, match="local state is"):
        merge(BASE, doc("", state="partial", version=2, entity="sip:other@example.com"))


def test_version_of_result_is_the_incoming_one() -> None:
    assert merge(BASE, partial("")).version == 2


# -- keyed children ------------------------------------------------------------------------------------


def test_user_full_replaces_the_user() -> None:
    result = merge(BASE, partial('<users state="partial"><user entity="sip:a@h" state="full"/></users>'))
    a = result.user_map()["sip:a@h"]
    assert a.display_text is None and a.endpoints == {}
    assert list(result.user_map()) == ["sip:a@h", "sip:b@h"]  # replaced in place


def test_user_without_state_in_a_partial_parent_is_a_full_replacement() -> None:
    result = merge(
        BASE,
        partial(
            '<users state="partial"><user entity="sip:b@h"><display-text>B2</display-text></user></users>'
        ),
    )
    assert result.user_map()["sip:b@h"].display_text == "B2"


def test_user_full_adds_a_new_user_at_the_end() -> None:
    result = merge(BASE, partial('<users state="partial"><user entity="sip:c@h" state="full"/></users>'))
    assert list(result.user_map()) == ["sip:a@h", "sip:b@h", "sip:c@h"]


def test_user_partial_merges_recursively() -> None:
    result = merge(
        BASE,
        partial(
            '<users state="partial"><user entity="sip:a@h" state="partial">'
            '<endpoint entity="sip:a@pc" state="partial"><status>on-hold</status>'
            '<media id="1"><type>audio</type><status>inactive</status></media></endpoint></user></users>'
        ),
    )
    a = result.user_map()["sip:a@h"]
    assert a.display_text == "A" and a.roles is not None  # absent elements stay
    endpoint = a.endpoints["sip:a@pc"]
    assert endpoint.display_text == "A pc"
    assert endpoint.status is EndpointStatus.ON_HOLD  # present leaf replaced
    assert endpoint.media["1"].status is MediaStatus.INACTIVE  # media replaced by id
    assert endpoint.media["2"].type == "video"  # other media kept
    assert a.state is State.FULL and endpoint.state is State.FULL  # the local copy is normalised


def test_user_partial_for_an_unknown_user_needs_full_state() -> None:
    with pytest.raises(NeedsFullStateError, match="partial user 'sip:x@h'"):
        merge(BASE, partial('<users state="partial"><user entity="sip:x@h" state="partial"/></users>'))


def test_endpoint_partial_for_an_unknown_endpoint_needs_full_state() -> None:
    with pytest.raises(NeedsFullStateError, match="partial endpoint"):
        merge(
            BASE,
            partial(
                '<users state="partial"><user entity="sip:a@h" state="partial">'
                '<endpoint entity="sip:a@phone" state="partial"/></user></users>'
            ),
        )


def test_user_deleted_removes_it_and_deleting_an_unknown_user_is_harmless() -> None:
    result = merge(
        BASE,
        partial(
            '<users state="partial"><user entity="sip:a@h" state="deleted"/><user entity="sip:zz@h" state="deleted"/></users>'
        ),
    )
    assert list(result.user_map()) == ["sip:b@h"]


def test_endpoint_deleted_and_added() -> None:
    result = merge(
        BASE,
        partial(
            '<users state="partial"><user entity="sip:a@h" state="partial">'
            '<endpoint entity="sip:a@pc" state="deleted"/><endpoint entity="sip:a@phone"/></user></users>'
        ),
    )
    assert list(result.user_map()["sip:a@h"].endpoints) == ["sip:a@phone"]


def test_users_full_replaces_the_list_and_deleted_empties_it() -> None:
    result = merge(BASE, partial('<users state="full"><user entity="sip:c@h"/></users>'))
    assert list(result.user_map()) == ["sip:c@h"]
    assert merge(BASE, partial('<users state="deleted"/>')).users is None


def test_uri_list_partial_adds_by_uri_and_full_replaces() -> None:
    added = merge(
        BASE,
        partial(
            "<conference-description><subject>Old</subject>"
            '<conf-uris state="partial"><entry><uri>tel:+15551234</uri></entry></conf-uris></conference-description>'
        ),
    )
    assert added.conference_description is not None and added.conference_description.conf_uris is not None
    assert list(added.conference_description.conf_uris.entries) == ["sip:conf@example.com", "tel:+15551234"]
    replaced = merge(
        BASE,
        partial(
            "<conference-description><conf-uris><entry><uri>tel:+1</uri></entry></conf-uris></conference-description>"
        ),
    )
    assert (
        replaced.conference_description is not None and replaced.conference_description.conf_uris is not None
    )
    assert list(replaced.conference_description.conf_uris.entries) == ["tel:+1"]


def test_associated_aors_merge_by_uri() -> None:
    state = doc(
        '<users><user entity="sip:a@h"><associated-aors><entry><uri>mailto:a@h</uri></entry></associated-aors></user></users>'
    )
    result = merge(
        state,
        partial(
            '<users state="partial"><user entity="sip:a@h" state="partial"><associated-aors state="partial">'
            "<entry><uri>xmpp:a@h</uri></entry></associated-aors></user></users>"
        ),
    )
    aors = result.user_map()["sip:a@h"].associated_aors
    assert aors is not None and list(aors.entries) == ["mailto:a@h", "xmpp:a@h"]


def _available_media(state: ConferenceInfo) -> dict[str, str]:
    assert state.conference_description is not None
    media = state.conference_description.available_media
    return {} if media is None else {label: entry.type for label, entry in media.entries.items()}


def test_available_media_entries_are_keyed_by_label() -> None:
    state = doc(
        "<conference-description><subject>S</subject><available-media>"
        '<entry label="a"><type>audio</type></entry><entry label="v"><type>video</type></entry>'
        "</available-media></conference-description>"
    )
    assert _available_media(state) == {"a": "audio", "v": "video"}
    # An entry replaces the one with its label or is added; the others stay (entries have no state).
    result = merge(
        state,
        partial(
            "<conference-description><subject>T</subject><available-media>"
            '<entry label="a"><type>text</type></entry><entry label="x"><type>application</type></entry>'
            "</available-media></conference-description>"
        ),
    )
    assert _available_media(result) == {"a": "text", "v": "video", "x": "application"}
    assert result.conference_description is not None and result.conference_description.subject == "T"
    # A description without available-media replaces the local one whole, as other non-keyed elements do.
    assert _available_media(merge(state, partial("<conference-description/>"))) == {}


def test_sidebars_by_val_entries_are_keyed_by_entity_with_state() -> None:
    state = doc(
        '<sidebars-by-val><entry entity="sip:s1@h"><users><user entity="sip:a@h"/></users></entry>'
        '<entry entity="sip:s2@h"/></sidebars-by-val>'
    )
    result = merge(
        state,
        partial(
            '<sidebars-by-val state="partial"><entry entity="sip:s1@h" state="partial">'
            '<users state="partial"><user entity="sip:b@h"/></users></entry>'
            '<entry entity="sip:s2@h" state="deleted"/></sidebars-by-val>'
        ),
    )
    assert result.sidebars_by_val is not None
    assert list(result.sidebars_by_val.entries) == ["sip:s1@h"]
    assert list(result.sidebars_by_val.entries["sip:s1@h"].user_map()) == ["sip:a@h", "sip:b@h"]


# -- non-keyed elements --------------------------------------------------------------------------------


def test_non_keyed_element_replaces_when_present_and_stays_when_absent() -> None:
    result = merge(BASE, partial("<conference-state><user-count>3</user-count></conference-state>"))
    assert result.conference_state is not None
    assert result.conference_state.user_count == 3
    assert result.conference_state.active is None  # replaced as a whole
    assert result.conference_description == BASE.conference_description  # absent: unchanged
    described = merge(
        BASE, partial("<conference-description><subject>New</subject></conference-description>")
    )
    assert described.conference_description is not None
    assert described.conference_description.subject == "New"
    assert described.conference_description.free_text is None


def test_extensions_replace_when_present_and_foreign_attributes_update() -> None:
    state = doc('<users><user entity="sip:a@h" xmlns:x="urn:x" x:a="1" x:b="2"><x:e>1</x:e></user></users>')
    result = merge(
        state,
        partial(
            '<users state="partial"><user entity="sip:a@h" state="partial" xmlns:x="urn:x" x:b="3"><x:e>2</x:e></user></users>'
        ),
    )
    user = result.user_map()["sip:a@h"]
    assert user.other_attributes == {"{urn:x}a": "1", "{urn:x}b": "3"}
    assert [e.xml for e in user.extensions] == ['<x:e xmlns:x="urn:x">2</x:e>']


def test_root_deleted_empties_the_conference() -> None:
    result = merge(BASE, doc("", state="deleted", version=2))
    assert result.entity == BASE.entity and result.version == 2 and result.users is None
    # Like a full document, it leaves nothing to have missed: accepted after a version gap.
    assert merge(BASE, doc("", state="deleted", version=9)).version == 9


def test_root_deleted_for_another_conference_needs_full_state() -> None:
    with pytest.raises(NeedsFullStateError, match="deleted document for 'sip:other@h'"):
        merge(BASE, doc("", state="deleted", version=2, entity="sip:other@h"))


def test_merge_leaves_its_inputs_unchanged_and_shares_unchanged_users() -> None:
    before = BASE.model_dump()
    result = merge(BASE, partial('<users state="partial"><user entity="sip:c@h"/></users>'))
    assert BASE.model_dump() == before
    assert result.user_map()["sip:b@h"] is BASE.user_map()["sip:b@h"]


def test_failed_merge_leaves_local_state_unchanged() -> None:
    before = BASE.model_dump()
    with pytest.raises(NeedsFullStateError):
        merge(
            BASE,
            partial(
                '<users state="partial"><user entity="sip:c@h"/><user entity="sip:x@h" state="partial"/></users>'
            ),
        )
    assert BASE.model_dump() == before


def test_the_rfc4575_example_sequence() -> None:
    base = parse((EXAMPLES / "rfc4575-basic.xml").read_bytes())
    joined = merge(base, parse((EXAMPLES / "rfc4575-partial-join.xml").read_bytes()))
    left = merge(joined, parse((EXAMPLES / "rfc4575-partial-leave.xml").read_bytes()))
    assert list(left.user_map()) == ["sip:bob@example.com", "sip:carol@example.com"]
    bob = left.user_map()["sip:bob@example.com"]
    assert bob.endpoints["sip:bob@pc33.example.com"].status is EndpointStatus.CONNECTED
    assert bob.display_text == "Bob Hoskins"
    assert left.conference_state is not None and left.conference_state.user_count == 33
    assert left.version == 3
