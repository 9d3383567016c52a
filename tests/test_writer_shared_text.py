"""The serialiser reuses the text of an associated-aors list it has written before (the translation shares
one per address): the output must be what writing it afresh gives, whatever namespaces the document binds."""

from __future__ import annotations

from gateway.conference_info import ConferenceInfo, Extension, UriEntry, Uris, User, Users
from gateway.document_writer import serialize


def _aors() -> Uris:
    return Uris(
        entries=[UriEntry(uri="sip:a@example.com", other_attributes={"{urn:b}mark": "1"})],
        other_attributes={"{urn:a}list": "x"},
    )


def _document(aors: Uris, *, before: User | None = None) -> ConferenceInfo:
    users = ([before] if before is not None else []) + [
        User(entity="xmpp:a@example.com", associated_aors=aors)
    ]
    return ConferenceInfo(entity="sip:conf@example.com", version=1, users=Users(users=users))


def test_a_shared_associated_aors_list_is_written_as_if_afresh() -> None:
    shared = _aors()
    others = [
        None,
        User(entity="sip:c@h", other_attributes={"{urn:c}x": "1"}),  # urn:c takes ns0 first
        User(entity="sip:d@h", other_attributes={"{urn:a}y": "1", "{urn:b}z": "2"}),  # the other order
        User(entity="sip:e@h", extensions=(Extension(xml='<ns0:e xmlns:ns0="urn:e"/>'),)),  # ns0 taken
    ]
    for _ in range(3):  # noted the first time round, kept the second, reused the third
        for before in others:
            assert serialize(_document(shared, before=before)) == serialize(_document(_aors(), before=before))
