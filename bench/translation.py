"""Benchmark of document translation (issue: address mapping). Run: python -m bench.translation

Translating a 100-user document from SIP to XMPP form, measured as the extra cost on top of the core
pipeline (parse + validate + model + serialise) in the same run. Goal: <= 30% extra.

Two figures: "warm" is the gateway's steady state, where the room's `AddressForms` already knows the
participants' addresses (every document after the first, for every recipient); "cold" maps every address
afresh, as for the first document of a room.
"""

from __future__ import annotations

from bench.common import compare, conference_document
from gateway.addresses import AddressMap
from gateway.document_parser import parse
from gateway.document_writer import serialize
from gateway.translate import AddressForms, Protocol, translate


def main() -> None:
    data = conference_document(100)
    addresses = AddressMap(component_domain="sip.example.org", sip_domain="gw.example.org")
    warm_forms = AddressForms(addresses)
    translate(parse(data), warm_forms, Protocol.XMPP)
    warm, core = compare(
        lambda: serialize(translate(parse(data), warm_forms, Protocol.XMPP)),
        lambda: serialize(parse(data)),
        number=20,
        rounds=15,
    )
    cold, core_again = compare(
        lambda: serialize(translate(parse(data), AddressForms(addresses), Protocol.XMPP)),
        lambda: serialize(parse(data)),
        number=20,
    )
    print(
        f"translation of a 100-user document to xmpp form, on top of the core pipeline ({core * 1e3:.2f} ms):"
    )
    print(f"  warm (addresses known, the steady state): {warm * 1e3:.2f} ms -> +{(warm / core - 1) * 100:.0f}%"
          " (goal <= 30%)")  # fmt: skip
    print(
        f"  cold (every address mapped afresh): {cold * 1e3:.2f} ms -> +{(cold / core_again - 1) * 100:.0f}%"
    )


if __name__ == "__main__":
    main()
