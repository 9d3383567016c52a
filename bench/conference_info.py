"""Benchmarks of the conference-info core (issue: P1-P4). Run: python -m bench.conference_info

P1  parse + validate + model + serialise of a 100-user document, vs a bare lxml parse + serialise of the
    same bytes. Goal <= 5x.
P2  xmlschema's decode + encode of the same document, vs ours. Goal: ours >= 20x faster.
P3  one user joins: diff + serialise at N=1,000 participants vs N=10. Goal <= 1.5x.
P4  bytes of that partial document at N=1,000. Goal <= 1 KB.
"""

from __future__ import annotations

from importlib import resources
from xml.etree import ElementTree

import xmlschema
from lxml import etree

from bench.common import compare, conference_document
from gateway import document_builder, document_writer
from gateway.conference_info import ConferenceInfo, ConferenceState, State, Users
from gateway.diff import diff
from gateway.document_parser import parse
from gateway.document_writer import serialize
from gateway.merge import merge


def p1(indent: bool) -> float:
    data = conference_document(100, indent=indent)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    ours, bare = compare(
        lambda: serialize(parse(data)),
        lambda: etree.tostring(etree.fromstring(data, parser)),
        number=5,  # rounds of about 10 ms each, ours and lxml's alike (see `compare`)
        baseline_number=20,
        rounds=40,
    )
    label = "indented, as peers send it" if indent else "compact"
    print(f"P1 ({label}, {len(data)} bytes): ours {ours * 1e3:.2f} ms, lxml parse+serialise {bare * 1e3:.2f} ms"
          f" -> {ours / bare:.2f}x (goal <= 5x)")  # fmt: skip
    return ours / bare


def p2() -> float:
    data = conference_document(100)
    schema = xmlschema.XMLSchema(str(resources.files("gateway").joinpath("schemas/conference-info.xsd")))

    def theirs() -> bytes:
        decoded = schema.decode(data.decode())
        return ElementTree.tostring(schema.encode(decoded, path="conference-info"))  # type: ignore[arg-type]

    theirs()  # warm up, and check it works on this document
    # Rounds of about 150 ms each for both (see `compare`).
    ours, xs = compare(lambda: serialize(parse(data)), theirs, number=60, baseline_number=3, rounds=7)
    print(f"P2: xmlschema decode+encode {xs * 1e3:.1f} ms, ours {ours * 1e3:.2f} ms -> ours {xs / ours:.1f}x faster"
          " (goal >= 20x)")  # fmt: skip
    return xs / ours


def _room_and_join(n: int) -> tuple[ConferenceInfo, ConferenceInfo]:
    """A room of n users as the gateway holds it, and the state after one more user joined (by merge)."""
    room = parse(conference_document(n))
    newcomer = parse(conference_document(n + 1)).user_map()[f"sip:user{n}@example.com"]
    joined = merge(
        room,
        ConferenceInfo(
            entity=room.entity,
            state=State.PARTIAL,
            version=(room.version or 0) + 1,
            conference_state=ConferenceState(user_count=n + 1, active=True),
            users=Users(state=State.PARTIAL, users=[newcomer]),
        ),
    )
    return room, joined


def p3_p4() -> tuple[float, int]:
    small_before, small_after = _room_and_join(10)
    big_before, big_after = _room_and_join(1000)

    def one_join(before: ConferenceInfo, after: ConferenceInfo) -> bytes:
        change = diff(before, after)
        assert change is not None
        return serialize(change)

    big, small = compare(
        lambda: one_join(big_before, big_after), lambda: one_join(small_before, small_after), number=200
    )
    size = len(one_join(big_before, big_after))
    print(f"P3: one join, diff+serialise: N=1000 {big * 1e6:.1f} us, N=10 {small * 1e6:.1f} us -> {big / small:.2f}x"
          " (goal <= 1.5x)")  # fmt: skip
    print(f"P4: that partial document at N=1000: {size} bytes (goal <= 1024)")
    # For comparison: the same diff when the states are unrelated (no merge lineage), which costs O(N).
    unrelated_after = parse(serialize(big_after))
    cold, _ = compare(lambda: one_join(big_before, unrelated_after), lambda: None, number=3, rounds=3)
    print(f"    (diff of unrelated states at N=1000, a full comparison: {cold * 1e3:.1f} ms)")
    return big / small, size


def main() -> None:
    compiled = [
        m.__name__ for m in (document_builder, document_writer) if not (m.__file__ or "").endswith(".py")
    ]
    print(f"compiled by mypyc: {', '.join(compiled) or 'none (pure Python)'}")
    p1(indent=True)
    p1(indent=False)
    p2()
    p3_p4()


if __name__ == "__main__":
    main()
