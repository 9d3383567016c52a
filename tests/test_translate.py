"""Translating whole documents between the sip: and xmpp: forms, and back."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.addresses import AddressError, AddressMap
from gateway.conference_info import (
    ConferenceDescription,
    ConferenceInfo,
    Endpoint,
    Execution,
    SidebarsByVal,
    UriEntry,
    Uris,
    User,
    Users,
)
from gateway.document_parser import parse
from gateway.document_writer import serialize
from gateway.translate import ORIGINAL, AddressForms, Protocol, translate
from tests.strategies import text

EXAMPLES = Path(str(resources.files("gateway").joinpath("examples")))
MAP = AddressMap(
    component_domain="sip.example.org", sip_domain="gw.example.org", shared_domains=frozenset({"example.com"})
)


def example(name: str) -> ConferenceInfo:
    return parse((EXAMPLES / name).read_bytes())


def test_every_uri_bearing_field_of_the_rich_example_is_mapped() -> None:
    doc = translate(example("rfc4575-rich.xml"), MAP, Protocol.XMPP)
    assert doc.entity == "xmpp:conf233@example.com"  # sips: on a shared domain
    description = doc.conference_description
    assert (
        description is not None and description.conf_uris is not None and description.service_uris is not None
    )
    assert list(description.conf_uris.entries) == [
        "xmpp:conf233@example.com",
        "xmpp:+18005551234@sip.example.org",
    ]
    assert list(description.service_uris.entries) == ["http://sharepoint/salesgroup/"]  # not ours to map
    assert doc.host_info is not None and doc.host_info.uris is not None
    assert list(doc.host_info.uris.entries) == ["xmpp:sales@example.com"]
    bob = doc.user_map()["xmpp:bob@example.com"]
    endpoint = bob.endpoints["xmpp:bob\\40pc33.example.com@sip.example.org"]
    assert (
        endpoint.referred is not None
        and endpoint.referred.by == "xmpp:pete\\40pc34.example.com@sip.example.org"
    )
    assert endpoint.joining_info is not None and endpoint.joining_info.by == "xmpp:mike@example.com"
    assert bob.associated_aors is not None
    assert "mailto:bob@example.com" in bob.associated_aors.entries
    alice = doc.user_map()["xmpp:alice@example.com"]
    assert alice.cascaded_focus == "xmpp:alice-focus@example.com"
    assert doc.sidebars_by_ref is not None and list(doc.sidebars_by_ref.entries) == [
        "xmpp:conf233@example.com"
    ]
    assert doc.sidebars_by_val is not None
    assert set(doc.sidebars_by_val.entries["xmpp:conf233@example.com"].user_map()) == {
        "xmpp:bob@example.com",
        "xmpp:alice@example.com",
    }
    parse(serialize(doc))  # and it is still a valid document


def test_user_address_in_the_other_protocol_is_kept_in_associated_aors() -> None:
    doc = ConferenceInfo(
        entity="sip:conf@bridge.example.net", users=Users(users=[User(entity="sip:alice@example.net")])
    )
    xmpp = translate(doc, MAP, Protocol.XMPP)
    alice = xmpp.user_map()["xmpp:alice\\40example.net@sip.example.org"]
    assert alice.associated_aors is not None
    entry = alice.associated_aors.entries["sip:alice@example.net"]
    assert entry.other_attributes == {ORIGINAL: "true"}
    assert translate(xmpp, MAP, Protocol.SIP) == doc


def test_lossy_endpoint_entities_are_restored_exactly() -> None:
    gruu = "sip:4kfk4j392jsu@example.com;grid=433kj4j3u"
    doc = ConferenceInfo(
        entity="conf-server@127.0.0.1:5060",  # Kamailio: no scheme
        users=Users(users=[User(entity="sip:Bob@example.net", endpoints=[Endpoint(entity=gruu)])]),
    )
    xmpp = translate(doc, MAP, Protocol.XMPP)
    assert xmpp.entity == "xmpp:conf-server\\40127.0.0.1\\3a5060@sip.example.org"
    assert xmpp.other_attributes[ORIGINAL] == "conf-server@127.0.0.1:5060"
    bob = xmpp.user_map()["xmpp:bob\\40example.net@sip.example.org"]
    assert bob.endpoints["xmpp:4kfk4j392jsu@example.com"].other_attributes[ORIGINAL] == gruu
    assert translate(xmpp, MAP, Protocol.SIP) == doc
    assert translate(parse(serialize(xmpp)), MAP, Protocol.SIP) == doc  # across the wire too


def test_schemeless_jids_from_xmpp_get_a_scheme() -> None:
    doc = translate(example("xep0298-coin.xml"), MAP, Protocol.XMPP, source=Protocol.XMPP)
    juliet = doc.user_map()["xmpp:juliet@capulet.lit"]
    assert list(juliet.endpoints) == ["xmpp:juliet@capulet.lit/balcony"]
    assert "xmpp:alice@example.com" in doc.user_map()  # the SIP user on the shared domain
    sip = translate(example("xep0298-coin.xml"), MAP, Protocol.SIP)
    assert "sip:juliet%40capulet.lit@gw.example.org" in sip.user_map()


def test_unmappable_addresses_raise_or_are_reported_and_kept() -> None:
    doc = ConferenceInfo(entity="sip:conf@h.example", users=Users(users=[User(entity="sip:a:pw@h.example")]))
    with pytest.raises(AddressError):
        translate(doc, MAP, Protocol.XMPP)
    reported: list[str] = []
    kept = translate(doc, MAP, Protocol.XMPP, on_error=lambda uri, _: reported.append(uri))
    assert reported == ["sip:a:pw@h.example"] and "sip:a:pw@h.example" in kept.user_map()


def test_two_users_that_map_to_one_address_are_an_error() -> None:
    doc = ConferenceInfo(
        entity="sip:conf@h.example",
        users=Users(users=[User(entity="sip:Bob@h.example"), User(entity="sip:bob@h.example")]),
    )
    with pytest.raises(AddressError, match="two users"):
        translate(doc, MAP, Protocol.XMPP)
    reported: list[str] = []
    kept = translate(doc, MAP, Protocol.XMPP, on_error=lambda uri, _: reported.append(uri))
    assert len(kept.user_map()) == 2 and reported == ["sip:bob@h.example"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (  # sips: is sip:, and JID localparts ignore case: three conf-uris, one address
            ConferenceInfo(
                entity="sips:conf233@example.net",
                conference_description=ConferenceDescription(
                    conf_uris=Uris(
                        entries=[
                            UriEntry(uri="sips:conf233@example.net", display_text="secure"),
                            UriEntry(uri="sip:conf233@example.net", display_text="plain"),
                            UriEntry(uri="sip:Conf233@example.net"),
                        ]
                    )
                ),
            ),
            r"two entries of conf-uris map to 'xmpp:conf233\\40example.net@sip.example.org'",
        ),
        (
            ConferenceInfo(
                entity="sip:conf@example.net",
                users=Users(
                    users=[
                        User(
                            entity="sip:Bob@example.net",
                            associated_aors=Uris(
                                entries=[
                                    UriEntry(uri="sip:bob@example.net"),
                                    UriEntry(uri="sips:bob@example.net"),
                                ]
                            ),
                        )
                    ]
                ),
            ),
            "two entries of associated-aors map to",
        ),
        (
            ConferenceInfo(
                entity="sip:c@x.org",
                sidebars_by_ref=Uris(entries=[UriEntry(uri="sip:S@x.org"), UriEntry(uri="sip:s@x.org")]),
            ),
            "two entries of sidebars-by-ref map to",
        ),
        (
            ConferenceInfo(
                entity="sip:c@x.org",
                sidebars_by_val=SidebarsByVal(
                    entries=[ConferenceInfo(entity="sip:S@x.org"), ConferenceInfo(entity="sip:s@x.org")]
                ),
            ),
            r"two sidebars map to 'xmpp:s\\40x.org@sip.example.org'",
        ),
    ],
)
def test_two_uri_entries_or_sidebars_that_map_to_one_address_are_an_error(
    doc: ConferenceInfo, message: str
) -> None:
    with pytest.raises(AddressError) as caught:
        translate(doc, MAP, Protocol.XMPP)
    assert message in str(caught.value)
    reported: list[str] = []
    kept = translate(doc, MAP, Protocol.XMPP, on_error=lambda uri, _: reported.append(uri))
    assert len(reported) >= 1
    assert parse(serialize(kept)) == kept  # nothing dropped, and still a valid document


def test_a_shared_address_forms_cache_gives_the_same_result() -> None:
    forms = AddressForms(MAP, max_entries=3)
    doc = example("rfc4575-rich.xml")
    assert translate(doc, forms, Protocol.XMPP) == translate(doc, MAP, Protocol.XMPP)
    assert translate(doc, forms, Protocol.XMPP) == translate(doc, MAP, Protocol.XMPP)


sip_user = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)
sip_host = st.sampled_from(
    ["example.net", "example.com", "bridge.example.org", "192.0.2.7", "gw.example.org"]
)
# User parts from a small pool in any case, with sip: or sips:, so that two entries of one list often map to
# one XMPP address (JID localparts ignore case; sips: is sip:).
mixed_case_user = st.tuples(st.sampled_from(["bob", "conf233", "s"]) | sip_user, st.randoms()).map(
    lambda drawn: "".join(c.upper() if drawn[1].random() < 0.5 else c for c in drawn[0])
)
list_uri = st.builds(
    lambda scheme, user, host: f"{scheme}:{user}@{host}",
    st.sampled_from(["sip", "sips"]),
    mixed_case_user,
    st.sampled_from(["example.net", "example.com", "x.org"]),
)
uri_list = st.lists(list_uri, min_size=1, max_size=3, unique=True).map(
    lambda uris: Uris(entries=[UriEntry(uri=u) for u in uris])
)


@st.composite
def sip_documents(draw: st.DrawFn) -> ConferenceInfo:
    users = []
    for user, host in draw(st.lists(st.tuples(sip_user, sip_host), max_size=6, unique=True)):
        if host == "gw.example.org":
            continue
        entity = f"sip:{user}@{host}"
        endpoints = [
            Endpoint(
                entity=f"{entity};grid={draw(sip_user)}",
                joining_info=Execution(by=draw(st.sampled_from([None, "sip:mike@example.com"]))),
            )
        ]
        aors = draw(st.none() | uri_list)
        if aors is not None and entity not in aors.entries and draw(st.booleans()):
            # the user's own address among its associated-aors, with something of its own
            aors = Uris(entries=[*aors.entries.values(), UriEntry(uri=entity, display_text="own")])
        users.append(User(entity=entity, display_text=draw(text), associated_aors=aors, endpoints=endpoints))
    sidebars = draw(st.lists(list_uri, max_size=3, unique=True))
    return ConferenceInfo(
        entity="sip:conf@bridge.example.org",
        version=1,
        conference_description=ConferenceDescription(conf_uris=draw(st.none() | uri_list)),
        users=Users(users=users),
        sidebars_by_ref=draw(st.none() | uri_list),
        sidebars_by_val=SidebarsByVal(entries=[ConferenceInfo(entity=e) for e in sidebars])
        if sidebars
        else None,
    )


def _normalised(uris: Uris | None, exact: str | None = None) -> Uris | None:
    """A URI list as it comes back from XMPP: each URI in its normal form (case of a SIP user part, sips:),
    but for the user's own address (`exact`), which comes back as it was."""
    if uris is None:
        return None
    back = [
        e if e.uri == exact else e.model_copy(update={"uri": MAP.to_sip(MAP.to_xmpp(e.uri))})
        for e in uris.entries.values()
    ]
    return uris.model_copy(update={"entries": {e.uri: e for e in back}})


def _collides(uris: Iterable[str]) -> bool:
    mapped = [MAP.to_xmpp(u) for u in uris]
    return len(set(mapped)) < len(mapped)


def _has_collision(doc: ConferenceInfo) -> bool:
    lists = [doc.sidebars_by_ref, doc.conference_description and doc.conference_description.conf_uris]
    uris = [list(u.entries) for u in lists if u is not None]
    uris += [  # the user's own address is kept as it is, not mapped
        [k for k in user.associated_aors.entries if k != user.entity]
        for user in doc.user_map().values()
        if user.associated_aors is not None
    ]
    uris.append(list(doc.sidebars_by_val.entries) if doc.sidebars_by_val else [])
    return any(_collides(u) for u in uris)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sip_documents())
def test_a_document_translated_to_xmpp_and_back_is_the_original(doc: ConferenceInfo) -> None:
    try:
        there = translate(doc, MAP, Protocol.XMPP)
    except AddressError as exc:
        # Entries of one list (or sidebars) that are one XMPP address: refused, never merged silently.
        assert "map to" in str(exc) and _has_collision(doc), exc
        return
    assert not _has_collision(doc)
    assert all(entity.startswith("xmpp:") for entity in there.user_map())
    back = translate(parse(serialize(there)), MAP, Protocol.SIP)
    # Entities come back exactly; other URIs in their normal form.
    description = doc.conference_description
    assert description is not None
    users = [
        u.model_copy(update={"associated_aors": _normalised(u.associated_aors, u.entity)})
        for u in doc.user_map().values()
    ]
    expected = doc.model_copy(
        update={
            "conference_description": description.model_copy(
                update={"conf_uris": _normalised(description.conf_uris)}
            ),
            "users": Users(users=users),
            "sidebars_by_ref": _normalised(doc.sidebars_by_ref),
        }
    )
    assert back == expected
