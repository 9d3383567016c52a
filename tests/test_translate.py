"""Translating whole documents between the sip: and xmpp: forms, and back."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.addresses import AddressError, AddressMap
from gateway.conference_info import ConferenceInfo, Endpoint, Execution, User, Users
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


def test_a_shared_address_forms_cache_gives_the_same_result() -> None:
    forms = AddressForms(MAP, max_entries=3)
    doc = example("rfc4575-rich.xml")
    assert translate(doc, forms, Protocol.XMPP) == translate(doc, MAP, Protocol.XMPP)
    assert translate(doc, forms, Protocol.XMPP) == translate(doc, MAP, Protocol.XMPP)


sip_user = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)
sip_host = st.sampled_from(
    ["example.net", "example.com", "bridge.example.org", "192.0.2.7", "gw.example.org"]
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
        users.append(User(entity=entity, display_text=draw(text), endpoints=endpoints))
    return ConferenceInfo(entity="sip:conf@bridge.example.org", version=1, users=Users(users=users))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sip_documents())
def test_a_document_translated_to_xmpp_and_back_is_the_original(doc: ConferenceInfo) -> None:
    there = translate(doc, MAP, Protocol.XMPP)
    assert all(entity.startswith("xmpp:") for entity in there.user_map())
    back = translate(parse(serialize(there)), MAP, Protocol.SIP)
    assert back == doc
