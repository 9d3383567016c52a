"""Parsing and serialising conference-info documents: examples, round trips, extensions, hostile input."""

from __future__ import annotations

import re
import resource
import time
import tracemalloc
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree
from pydantic import ValidationError

from gateway.conference_info import (
    NAMESPACE,
    ConferenceDescription,
    ConferenceInfo,
    EndpointStatus,
    Extension,
    MediaStatus,
    SidebarsByVal,
    State,
    User,
    Users,
)
from gateway.document_parser import ConferenceInfoParser, ParseLimits, parse
from gateway.document_writer import serialize
from gateway.errors import DocumentError
from tests.strategies import conference

EXAMPLES = Path(str(resources.files("gateway").joinpath("examples")))
SCHEMA = etree.XMLSchema(etree.parse(str(resources.files("gateway").joinpath("schemas/conference-info.xsd"))))


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def doc(body: str, *, attrs: str = 'entity="sip:conf@example.com" state="full" version="1"') -> bytes:
    return f'<conference-info xmlns="{NAMESPACE}" {attrs}>{body}</conference-info>'.encode()


def assert_schema_valid(data: bytes) -> None:
    assert SCHEMA.validate(etree.fromstring(data)), SCHEMA.error_log


# -- examples ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.xml")))
def test_every_example_parses_and_round_trips(name: str) -> None:
    model = parse(example(name))
    out = serialize(model)
    assert_schema_valid(out)
    assert parse(out) == model
    assert serialize(parse(out)) == out


def test_rfc4575_rich_example_model() -> None:
    info = parse(example("rfc4575-rich.xml"))
    assert info.entity == "sips:conf233@example.com"
    assert info.state is State.FULL and info.version == 1
    description = info.conference_description
    assert description is not None
    assert description.keywords == ("sales", "results", "monthly")
    assert description.maximum_user_count == 100
    assert description.conf_uris is not None
    assert list(description.conf_uris.entries) == ["sips:conf233@example.com", "tel:+18005551234"]
    assert description.available_media is not None
    assert description.available_media.entries["10235"].type == "video"
    assert info.conference_state is not None and info.conference_state.active is True
    assert info.conference_state.locked is False
    bob = info.user_map()["sip:bob@example.com"]
    assert bob.roles is not None and bob.roles.entries == ("participant",)
    assert bob.languages == ("en-US", "fr")
    endpoint = bob.endpoints["sip:bob@pc33.example.com"]
    assert endpoint.status is EndpointStatus.CONNECTED
    assert endpoint.joining_info is not None
    assert endpoint.joining_info.when == datetime(2005, 3, 4, 20, 0, tzinfo=UTC)
    assert endpoint.media["1"].status is MediaStatus.SENDRECV
    assert endpoint.call_info is not None and endpoint.call_info.sip is not None
    assert endpoint.call_info.sip.call_id == "hsjh8980vhsb78"
    alice = info.user_map()["sip:alice@example.com"]
    assert alice.cascaded_focus == "sip:alice-focus@example.com"
    assert list(alice.endpoints["sip:4kfk4j392jsu@example.com;grid=433kj4j3u"].media) == ["1", "2"]
    assert info.sidebars_by_val is not None
    sidebar = info.sidebars_by_val.entries["sips:conf233@example.com;grid=40"]
    assert set(sidebar.user_map()) == {"sip:bob@example.com", "sip:alice@example.com"}


def test_xep0298_example_with_a_schemeless_endpoint_entity() -> None:
    info = parse(example("xep0298-coin.xml"))
    juliet = info.user_map()["xmpp:juliet@capulet.lit"]
    assert list(juliet.endpoints) == ["juliet@capulet.lit/balcony"]
    romeo = info.user_map()["xmpp:romeo@montague.lit"]
    reason = romeo.endpoints["xmpp:romeo@montague.lit/orchard"].disconnection_info
    assert reason is not None and reason.reason == "poisoned"


def test_kamailio_style_document_root_entity_without_scheme_and_repeated_xmlns() -> None:
    data = (
        f'<?xml version="1.0"?>\n<conference-info xmlns="{NAMESPACE}" entity="conf-server@127.0.0.1:5060" '
        f'state="full" version="3">\n  <users xmlns="{NAMESPACE}">\n    <user xmlns="{NAMESPACE}" '
        f'entity="sip:a@example.com" state="full"/>\n  </users>\n</conference-info>'
    ).encode()
    info = parse(data)
    assert info.entity == "conf-server@127.0.0.1:5060"
    assert list(info.user_map()) == ["sip:a@example.com"]


def test_jitsi_sid_attribute_is_accepted_and_written_back() -> None:
    info = parse(
        doc("", attrs='entity="xmpp:focus@example.com" state="full" version="1" sid="a73sjjvkla37jfea"')
    )
    assert info.sid == "a73sjjvkla37jfea"
    assert b'sid="a73sjjvkla37jfea"' in serialize(info)


def test_from_element_accepts_a_coin_iq_child_and_leaves_it_alone() -> None:
    iq = etree.fromstring(
        f'<iq xmlns="jabber:component:accept" type="set"><conference-info xmlns="{NAMESPACE}" '
        f'entity="xmpp:m@example.com" state="full" version="2" sid="s1"/></iq>'.encode()
    )
    info = ConferenceInfoParser().from_element(iq[0])
    assert info.sid == "s1" and info.version == 2
    assert iq[0].get("sid") == "s1"


@pytest.mark.parametrize("sid", ["", ' sid="s1"'])
def test_errors_in_a_coin_iq_child_are_located_from_the_document_root(sid: str) -> None:
    iq = etree.fromstring(
        f'<iq xmlns="jabber:component:accept" type="set"><conference-info xmlns="{NAMESPACE}"{sid} '
        'entity="xmpp:m@example.com" state="full" version="2"><users><user entity="a"/><user entity="a"/>'
        "</users></conference-info></iq>".encode()
    )
    with pytest.raises(DocumentError) as caught:
        ConferenceInfoParser().from_element(iq[0])
    assert caught.value.path == "/conference-info/users/user[2]"


# -- serialisation -------------------------------------------------------------------------------------


def test_serialize_uses_the_default_namespace_and_writes_every_state() -> None:
    info = ConferenceInfo(
        entity="sip:conf@example.com",
        version=7,
        users=Users(users={"sip:a@example.com": User(entity="sip:a@example.com", display_text="A & <B>")}),
    )
    out = serialize(info)
    assert out.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<conference-info xmlns="' + NAMESPACE.encode()
    )
    assert b'<users state="full"><user entity="sip:a@example.com" state="full">' in out
    assert b"<display-text>A &amp; &lt;B&gt;</display-text>" in out
    assert_schema_valid(out)


def test_equal_models_serialise_to_equal_bytes() -> None:
    a = parse(example("rfc4575-rich.xml"))
    b = parse(serialize(a))
    assert a == b and a is not b
    assert serialize(a) == serialize(b)


def test_serialize_refuses_characters_xml_cannot_carry() -> None:
    info = ConferenceInfo(
        entity="sip:conf@example.com", users=Users(users=[User(entity="x", display_text="\x01")])
    )
    with pytest.raises(ValueError, match="XML cannot carry"):
        serialize(info)


@pytest.mark.parametrize("version", [2**32, 2**64, -1])
def test_serialize_refuses_a_version_outside_32_bits(version: int) -> None:
    # Models made without validation (model_copy, the builder's fast path) must not reach the wire invalid.
    info = ConferenceInfo(entity="sip:conf@example.com", version=1)
    with pytest.raises(ValueError, match=f"version {version}"):
        serialize(info.model_copy(update={"version": version}))
    sidebar = ConferenceInfo(
        entity="sip:conf@example.com",
        sidebars_by_val=SidebarsByVal(
            entries=[info.model_copy(update={"entity": "sip:sb@h", "version": version})]
        ),
    )
    with pytest.raises(ValueError, match=f"version {version}"):
        serialize(sidebar)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conference())
def test_serialise_parse_is_a_fixpoint(info: ConferenceInfo) -> None:
    out = serialize(info)
    assert_schema_valid(out)
    again = parse(out)
    assert again == info
    assert serialize(again) == out


# -- extensions ----------------------------------------------------------------------------------------


def test_foreign_elements_and_attributes_are_kept_in_order() -> None:
    data = doc(
        '<users><user entity="sip:a@example.com" xmlns:l="urn:linphone" l:ephemeral="yes">'
        '<display-text>A</display-text><endpoint entity="sip:a@h"><status>connected</status></endpoint>'
        '<l:mode>listener</l:mode><l:extra a="1"><l:inner/></l:extra></user>'
        '<ag:sylk xmlns:ag="urn:ag-projects:xml:ns:conference-info">kept</ag:sylk></users>'
        '<f:root-ext xmlns:f="urn:example:f">r</f:root-ext>',
        attrs='entity="sip:conf@example.com" state="full" version="1" xmlns:f="urn:example:f" f:flag="1"',
    )
    info = parse(data)
    user = info.user_map()["sip:a@example.com"]
    assert user.other_attributes == {"{urn:linphone}ephemeral": "yes"}
    assert [e.xml for e in user.extensions] == [
        '<l:mode xmlns:l="urn:linphone">listener</l:mode>',
        '<l:extra xmlns:l="urn:linphone" a="1"><l:inner/></l:extra>',
    ]
    assert info.users is not None
    assert [e.xml for e in info.users.extensions] == [
        '<ag:sylk xmlns:ag="urn:ag-projects:xml:ns:conference-info">kept</ag:sylk>'
    ]
    assert info.other_attributes == {"{urn:example:f}flag": "1"}
    out = serialize(info)
    assert_schema_valid(out)
    assert parse(out) == info
    tree = etree.fromstring(out)
    assert tree.get("{urn:example:f}flag") == "1"
    user_el = tree.find(f"{{{NAMESPACE}}}users/{{{NAMESPACE}}}user")
    assert user_el is not None
    assert [child.tag for child in user_el] == [
        f"{{{NAMESPACE}}}display-text",
        f"{{{NAMESPACE}}}endpoint",
        "{urn:linphone}mode",
        "{urn:linphone}extra",
    ]


def test_list_values_are_split_on_xml_whitespace_only() -> None:
    """xs:list items are separated by space, tab, CR and LF; a no-break space is part of an item."""
    info = parse(doc("<conference-description><keywords> a\u00a0b\tc\n </keywords></conference-description>"))
    assert info.conference_description is not None
    assert info.conference_description.keywords == ("a\u00a0b", "c")
    assert parse(serialize(info)) == info


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ConferenceDescription(keywords=("a b", "c")), "holds whitespace"),
        (lambda: ConferenceDescription(keywords=("",)), "is empty"),
        (lambda: User(entity="sip:a@h", languages=("not a lang!",)), "not a language tag"),
        (lambda: User(entity="sip:a@h", languages=("toolonglanguage",)), "not a language tag"),
    ],
)
def test_models_made_in_code_refuse_list_values_the_schema_refuses(make: Any, message: str) -> None:
    """What the writer writes must parse back: a list item with a space would come back as two."""
    with pytest.raises(ValidationError, match=message):
        make()
    assert User(entity="sip:a@h", languages="en  pt-BR").languages == ("en", "pt-BR")


def test_xml_lang_style_attributes_use_the_xml_prefix() -> None:
    info = parse(doc('<users><user entity="sip:a@h" xml:lang="fr"/></users>'))
    assert info.user_map()["sip:a@h"].other_attributes == {"{http://www.w3.org/XML/1998/namespace}lang": "fr"}
    assert b'xml:lang="fr"' in serialize(info)


# -- errors: what and where ----------------------------------------------------------------------------


def test_schema_error_names_the_element_path_and_line() -> None:
    data = doc(
        '\n<users>\n<user entity="a"/>\n<user entity="b"><endpoint><status>asleep</status></endpoint></user>\n</users>'
    )
    with pytest.raises(DocumentError) as caught:
        parse(data)
    error = caught.value
    assert error.path == "/conference-info/users/user[2]/endpoint/status"
    assert error.line == 4
    assert "asleep" in str(error) and "line 4" in str(error)


def test_duplicate_user_entity_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(DocumentError, match="duplicate user entity 'sip:a@h'"):
        parse(doc('<users><user entity="sip:a@h"/><user entity="sip:a@h"/></users>'))


@pytest.mark.parametrize(
    ("inner", "path", "line"),
    [
        (
            '<users>\n<user entity="a"/>\n<user entity="b"/>\n<user entity="a"/>\n</users>',
            "/conference-info/users/user[3]",
            4,
        ),
        (
            '<users>\n<user entity="a">\n<endpoint entity="e"/>\n<endpoint entity="e"/>\n</user>\n</users>',
            "/conference-info/users/user/endpoint[2]",
            4,
        ),
        (
            '<users><user entity="a">\n<endpoint entity="e">\n<media id="1"/>\n<media id="1"/></endpoint></user></users>',
            "/conference-info/users/user/endpoint/media[2]",
            4,
        ),
        (
            '<users>\n<user entity="a"><endpoint entity="e"><joining-info>\n'
            "<when>10000-01-01T00:00:00Z</when></joining-info></endpoint></user></users>",
            "/conference-info/users/user/endpoint/joining-info/when",
            3,
        ),
        (
            '<conference-description>\n<available-media>\n<entry label="x"><type>audio</type></entry>\n'
            '<entry label="x"><type>video</type></entry></available-media></conference-description>',
            "/conference-info/conference-description/available-media/entry[2]",
            4,
        ),
    ],
    ids=["user", "endpoint", "media", "year", "available-media"],
)
def test_values_the_model_cannot_hold_are_located_by_path_and_line(inner: str, path: str, line: int) -> None:
    """A duplicate key or a year beyond 9999 passes the schema; the error says which element holds it."""
    with pytest.raises(DocumentError) as caught:
        parse(doc(inner))
    assert (caught.value.path, caught.value.line) == (path, line)
    assert f"at {path}, line {line}" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "^not well-formed XML: Document is empty \\(line 1\\)$"),
        (b"<conference-info", "not well-formed"),
        (b"\xff\xfe<\x00c\x00", "not UTF-8"),
        (doc("").replace(b"conf@example", b"conf@ex\xc3\x28ample"), "not well-formed"),
        (b'<conference-info xmlns="urn:wrong" entity="x"/>', "root element"),
        (b'<conference-info entity="x"/>', "root element"),
        (doc("", attrs='entity="x" version="4294967296"'), "version"),
        (doc("", attrs='entity="x" version="-1"'), "version"),
        (doc("", attrs='entity="x" state="sleepy"'), "sleepy"),
        (doc("", attrs='state="full"'), "entity"),
        (
            doc(
                "<users><user><endpoint><joining-info><when>2005-13-45T00:00:00Z</when></joining-info></endpoint></user></users>"
            ),
            "when",
        ),
        (doc("<conference-state><user-count>many</user-count></conference-state>"), "user-count"),
        (doc("<unknown/>"), "unknown"),
    ],
)
def test_invalid_documents_raise_document_error(data: bytes, message: str) -> None:
    # Hostile or not, each is refused quickly and without a memory blow-up.
    assert re.search(message, str(_quick(lambda: parse(data))))


# -- hostile input -------------------------------------------------------------------------------------


def _peak_rss() -> int:
    """The process's peak resident size so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _quick(call: object) -> DocumentError:
    """Run `call`, expect DocumentError, and check it came quickly and without a memory blow-up: neither in
    Python objects (tracemalloc) nor in lxml's and libxml2's own memory (the growth of the peak RSS)."""
    rss_before = _peak_rss()
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(DocumentError) as caught:
            call()  # type: ignore[operator]
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Generous bounds: these catch an expansion or a hang, not a slow machine.
    assert elapsed < 10, elapsed
    assert peak < 64 * 2**20, peak
    assert _peak_rss() - rss_before < 128 * 2**20, _peak_rss() - rss_before
    return caught.value


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x">
<conference-description><subject>&lol9;</subject></conference-description>
</conference-info>"""


def test_billion_laughs_is_refused() -> None:
    error = _quick(lambda: parse(BILLION_LAUGHS))
    assert "DTD" in str(error) or "entit" in str(error)


def test_external_entity_pointing_at_a_local_file_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE c [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        f'<conference-info xmlns="{NAMESPACE}" entity="x"><conference-description>'
        "<subject>&xxe;</subject></conference-description></conference-info>"
    ).encode()
    error = _quick(lambda: parse(data))
    assert "TOP-SECRET" not in str(error)
    assert "DTD" in str(error)


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE conference-info SYSTEM "http://127.0.0.1:9/x.dtd"><conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x"/>',
        b'<!DOCTYPE conference-info [<!ELEMENT conference-info ANY>]><conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x"/>',
        b'<!DOCTYPE conference-info><conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x"/>',
    ],
)
def test_any_dtd_is_refused(data: bytes) -> None:
    assert "DTD" in str(_quick(lambda: parse(data)))


def test_ten_megabytes_is_refused_before_parsing() -> None:
    data = doc(
        "<conference-description><subject>" + "a" * (10 * 2**20) + "</subject></conference-description>"
    )
    assert "more than the limit" in str(_quick(lambda: parse(data)))


def test_depth_ten_thousand_is_refused() -> None:
    data = doc(
        '<users><user entity="a"><x:e xmlns:x="urn:x">'
        + "<x:e>" * 10_000
        + "</x:e>" * 10_000
        + "</x:e></user></users>"
    )
    error = _quick(lambda: parse(data, ParseLimits(max_bytes=2**20)))
    assert "nested deeper than the limit of 64" in str(error)  # ours, though libxml2 stopped it first


def test_configurable_depth_limit() -> None:
    nested = doc('<users><user entity="a"><x:e xmlns:x="urn:x"><x:e><x:e/></x:e></x:e></user></users>')
    assert parse(nested, ParseLimits(max_depth=6)).user_map()["a"].extensions
    with pytest.raises(DocumentError, match="deeper than the limit of 5"):
        parse(nested, ParseLimits(max_depth=5))


def test_the_deepest_limit_is_libxml2s_own() -> None:
    """At max_depth=256, a document 256 deep gets as far as the schema; 257 deep is refused in our words."""

    def nested(depth: int) -> bytes:  # the root and depth - 1 elements inside it
        return doc("<x:e xmlns:x='urn:x'>" + "<x:e>" * (depth - 2) + "</x:e>" * (depth - 2) + "</x:e>")

    limits = ParseLimits(max_depth=256)
    assert parse(nested(256), limits).extensions
    with pytest.raises(DocumentError, match="nested deeper than the limit of 256"):
        parse(nested(257), limits)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_depth": 257}, "max_depth must be at most 256"),  # libxml2 refuses 257 levels by itself
        ({"max_bytes": 0}, "max_bytes must be at least 1"),
        ({"max_elements": -1}, "max_elements must be at least 1"),
    ],
)
def test_limits_that_cannot_hold_are_refused(limits: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ParseLimits(**limits)


def test_configurable_element_count_limit() -> None:
    data = doc("<users>" + "".join(f'<user entity="u{i}"/>' for i in range(50)) + "</users>")
    assert len(parse(data).user_map()) == 50
    with pytest.raises(DocumentError, match="52 elements, more than the limit of 40"):
        parse(data, ParseLimits(max_elements=40))


def test_parse_error_message_never_echoes_megabytes() -> None:
    data = doc("<users><user entity='" + "x" * 500_000 + "'><bogus/></user></users>")
    assert len(str(_quick(lambda: parse(data)))) < 2_000


# -- names of other namespaces: what schema validation and the model hold grows with the namespace URI's
# length times the number of elements and attributes that use it, not with the document's size


def _foreign_elements(namespace: str, count: int) -> bytes:
    """One namespace declared once on the root, then used by `count` small elements."""
    return (
        f'<conference-info xmlns="{NAMESPACE}" xmlns:f="{namespace}" entity="sip:c@x.org"><users>'
        f'<user entity="a">{"<f:a/>" * count}</user></users></conference-info>'
    ).encode()


def _foreign_attributes(namespace: str, count: int) -> bytes:
    attributes = "".join(f' f:a{i}="1"' for i in range(count))
    return f'<conference-info xmlns="{NAMESPACE}" xmlns:f="{namespace}" entity="sip:c@x.org"{attributes}/>'.encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # 160 KB: 7 s and 840 MB in schema validation before the limit
        (_foreign_elements("urn:" + "x" * 40_000, 20_000), "namespace URI of 40004 characters"),
        (
            _foreign_elements("urn:" + "x" * 400_000, 20_000),
            "namespace URI of 400004 characters",
        ),  # 760 KB: 2 GB
        (_foreign_attributes("urn:" + "x" * 20_000, 10_000), "10001 attributes"),  # 240 MB
        (_foreign_attributes("urn:" + "x" * 20_000, 50), "namespace URI of 20004 characters"),
        # each namespace short enough, but 20,000 uses of one of 1,000 bytes: 20 MB of names
        (_foreign_elements("urn:" + "x" * 996, 20_000), "more than the limit of 4194304"),
        (_foreign_attributes("urn:f", 20_000), "20001 attributes, more than the limit of 64"),  # 2 s in lxml
        (  # the same without a namespace: the schema refuses those, but lxml would still have to read them
            f'<conference-info xmlns="{NAMESPACE}" entity="x"'.encode()
            + b"".join(b' a%d="1"' % i for i in range(20_000))
            + b"/>",
            "attribute",
        ),
    ],
    ids=[
        "long-ns-elements",
        "huge-ns-elements",
        "long-ns-attributes",
        "long-ns-few-attributes",
        "ns-bytes-budget",
        "attributes",
        "plain-attrs",
    ],
)
def test_names_of_other_namespaces_are_bounded_before_validation(data: bytes, message: str) -> None:
    assert message in str(_quick(lambda: parse(data)))
    # the same limits hold for an element the XMPP adapter already has
    root = ConferenceInfoParser().parse_element(data)
    assert message in str(_quick(lambda: ConferenceInfoParser().from_element(root)))


def test_limits_on_names_of_other_namespaces_are_configurable() -> None:
    data = _foreign_elements("urn:example:ext", 100)
    assert len(parse(data).user_map()["a"].extensions) == 100
    with pytest.raises(DocumentError, match="namespace URI of 15 characters"):
        parse(data, ParseLimits(max_namespace_length=14))
    with pytest.raises(DocumentError, match="more than the limit of 1000"):
        parse(data, ParseLimits(max_namespace_total=1000))
    with pytest.raises(DocumentError, match="3 attributes, more than the limit of 2"):
        parse(_foreign_attributes("urn:f", 2), ParseLimits(max_attributes=2))  # with entity


def test_many_small_extensions_within_the_limits_are_kept() -> None:
    data = _foreign_elements("urn:f", 99_000)  # 594 KB
    info = parse(data)
    assert len(info.user_map()["a"].extensions) == 99_000


def test_namespaces_of_extensions_and_foreign_attributes_are_declared_once_on_the_root() -> None:
    # 594 KB in; re-declared on each of the 99,000 elements it was 2.1 MB out, which our own limit refused.
    data = _foreign_elements("urn:f", 99_000)
    info = parse(data)
    out = serialize(info)
    assert len(out) < 1.1 * len(data) and out.count(b'"urn:f"') == 1
    assert parse(out) == info
    users = "".join(f'<user entity="u{i}" f:x="{i}"><f:e/></user>' for i in range(2_000))
    data = (
        f'<conference-info xmlns="{NAMESPACE}" xmlns:f="urn:example:a-longer-namespace" entity="sip:c@x.org"'
        f' f:x="root"><users>{users}</users></conference-info>'
    ).encode()
    info = parse(data)
    out = serialize(info)
    # on the root: once for the prefix of the attributes (ns0), once for that of the extensions (f)
    assert out.count(b"urn:example:a-longer-namespace") == 2
    assert parse(out) == info and serialize(parse(out)) == out


def test_a_prefix_bound_twice_keeps_its_local_declaration() -> None:
    # Two extensions use the prefix `p` for two namespaces; foreign attributes need prefixes of their own.
    info = ConferenceInfo(
        entity="sip:c@x.org",
        other_attributes={"{urn:attr}x": "1"},
        users=Users(
            users=[
                User(
                    entity="a",
                    extensions=(
                        Extension(xml='<p:e xmlns:p="urn:one"/>'),
                        Extension(xml=f'<p:long xmlns:p="urn:one">{"x" * 600}</p:long>'),
                    ),
                ),
                User(
                    entity="b",
                    other_attributes={"{urn:one}y": "2", "{urn:two}z": "3"},
                    extensions=(
                        Extension(xml='<p:e xmlns:p="urn:two"><p:f/></p:e>'),
                        Extension(xml='<ns0:e xmlns:ns0="urn:three"/>'),
                        Extension(xml='<e xmlns="urn:four"/>'),
                    ),
                ),
            ]
        ),
    )
    out = serialize(info)
    assert_schema_valid(out)
    assert parse(out) == info
    assert out.count(b'"urn:one"') == 1


def test_an_extension_is_the_same_whether_its_namespaces_were_declared_on_it_or_above() -> None:
    # The serialiser moves declarations to the root; parsed back, the extension must compare equal.
    on_it = doc('<users><user entity="a"><f:x xmlns:f="urn:f" xmlns="urn:g"><y/></f:x></user></users>')
    above = (
        f'<conference-info xmlns="{NAMESPACE}" xmlns:f="urn:f" entity="sip:conf@example.com" state="full"'
        ' version="1"><users><user entity="a"><f:x xmlns="urn:g"><y/></f:x></user></users></conference-info>'
    ).encode()
    assert parse(on_it) == parse(above)
    info = parse(on_it)
    assert parse(serialize(info)) == info
