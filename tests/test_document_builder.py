"""The dedicated builders of the per-participant types give exactly what the table-driven `build` gives."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from lxml import etree

from gateway.conference_info import NAMESPACE, ConferenceInfo, replace
from gateway.document_builder import ENDPOINT, EXECUTION, MEDIA, USER, Spec, build
from gateway.document_parser import parse
from gateway.document_writer import serialize
from tests.strategies import conference

_Q = "{" + NAMESPACE + "}"
# The elements each dedicated builder is for, by the spec that describes them.
_DEDICATED: dict[str, Spec] = {
    "user": USER,
    "endpoint": ENDPOINT,
    "media": MEDIA,
    "referred": EXECUTION,
    "joining-info": EXECUTION,
    "disconnection-info": EXECUTION,
    "modified": EXECUTION,
}


def _state_of(model: Any) -> tuple[object, ...]:
    """Everything a model holds, pydantic's slots included."""
    return (
        type(model),
        model.__dict__,
        model.__pydantic_fields_set__,
        model.__pydantic_extra__,
        model.__pydantic_private__,
    )


def _check_every_dedicated_element(root: etree._Element) -> int:
    checked = 0
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.tag.startswith(_Q):
            continue
        spec = _DEDICATED.get(el.tag.removeprefix(_Q))
        if spec is None:
            continue
        assert not isinstance(spec.builder, partial)  # dedicated, not `build` with the spec
        assert _state_of(spec.builder(el)) == _state_of(build(spec, el))
        checked += 1
    return checked


@settings(max_examples=300, deadline=None)
@given(conference())
def test_dedicated_builders_agree_with_the_table(doc: ConferenceInfo) -> None:
    data = serialize(doc)
    _check_every_dedicated_element(etree.fromstring(data))
    assert parse(data) == doc


_ODD = f"""<conference-info xmlns="{NAMESPACE}" xmlns:f="urn:example:f" entity="sip:c@h" state="partial" version="2">
 <users state="partial">
  <user entity="sip:a@h"><!-- a comment --><display-text>A</display-text>
   <languages>en fr</languages><cascaded-focus>sip:f@h</cascaded-focus>
   <endpoint entity="sip:a@h;1" f:x="1"><!-- another --><display-text>phone</display-text>
    <referred f:y="2"><when>2026-01-01T00:00:00+02:00</when><reason>r</reason><by>sip:b@h</by></referred>
    <status>on-hold</status><joining-method>dialed-out</joining-method>
    <joining-info><when>2026-01-01T00:00:00.5Z</when></joining-info>
    <disconnection-method>booted</disconnection-method>
    <disconnection-info><reason>gone</reason></disconnection-info>
    <media id="1" f:z="3"><!-- c --><display-text>m</display-text><type>audio</type><label>l</label>
     <src-id>7</src-id><status>recvonly</status><f:m>x</f:m></media>
    <media id=""/>
    <call-info><sip><call-id>c</call-id><from-tag>f</from-tag><to-tag>t</to-tag></sip></call-info>
    <f:e>endpoint extension</f:e>
   </endpoint>
   <endpoint/>
   <f:u a="1"/>
  </user>
  <user state="deleted"/>
 </users>
</conference-info>"""


def test_dedicated_builders_agree_on_partial_states_comments_and_extensions() -> None:
    # A parser that keeps comments, as an element handed to `from_element` may hold them.
    root = etree.fromstring(_ODD.encode(), etree.XMLParser(remove_comments=False))
    assert _check_every_dedicated_element(root) == 9
    parse(_ODD)  # a valid document (the parser drops the comments)


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ('<endpoint entity="e"><media id="1"/><media id="1"/></endpoint>', "duplicate media id '1'"),
        ('<endpoint entity="e"/><endpoint entity="e"/>', "duplicate endpoint entity 'e'"),
    ],
)
def test_dedicated_builders_refuse_duplicate_keys_as_the_table_does(inner: str, message: str) -> None:
    el = etree.fromstring(f'<user xmlns="{NAMESPACE}" entity="u">{inner}</user>'.encode())
    with pytest.raises(ValueError, match=message):
        USER.builder(el)
    with pytest.raises(ValueError, match=message):
        build(USER, el)


def test_media_given_the_same_fields_share_a_fields_set_that_copies_do_not_change() -> None:
    el = etree.fromstring(
        f'<endpoint xmlns="{NAMESPACE}" entity="e"><media id="1"><type>audio</type></media>'
        '<media id="2"><type>video</type></media></endpoint>'.encode()
    )
    first, second = ENDPOINT.builder(el).media.values()
    assert first.model_fields_set is second.model_fields_set == {"id", "type"}
    copied = first.model_copy(update={"label": "x"})
    replaced = replace(first, {"label": "y"})
    assert copied.model_fields_set == replaced.model_fields_set == {"id", "type", "label"}
    assert first.model_fields_set == second.model_fields_set == {"id", "type"}
