"""The Jingle leg's signalling side without any network: nothing is gathered (no socket is bound, no
address of the machine enumerated), no check sent. Live ICE/DTLS is in test_live_media.py."""

from __future__ import annotations

import pytest

from media.jingle_leg import JingleLeg
from media.ports import PortRange
from xmpp.jingle_content import DtlsSetup, Fingerprint, IceUdpTransport

FINGERPRINT = ":".join(["AB"] * 32)


@pytest.mark.parametrize(
    ("remote", "ours"),
    [
        (None, DtlsSetup.ACTPASS),  # we offer
        (DtlsSetup.ACTPASS, DtlsSetup.ACTIVE),  # we answer an offer
        (DtlsSetup.ACTIVE, DtlsSetup.PASSIVE),
        (DtlsSetup.PASSIVE, DtlsSetup.ACTIVE),
    ],
)
async def test_dtls_setup_follows_xep_0320(remote: DtlsSetup | None, ours: DtlsSetup) -> None:
    leg = JingleLeg(PortRange("127.0.0.1", 43000, 43010), controlling=False)
    try:
        if remote is not None:
            fingerprint = Fingerprint(hash="sha-256", setup=remote, value=FINGERPRINT)
            await leg.add_remote(IceUdpTransport(fingerprints=(fingerprint,)))  # no credentials: no checks
        transport = leg.local_transport(with_candidates=False)
        assert [f.setup for f in transport.fingerprints] == [ours]
        assert transport.fingerprints[0].hash == "sha-256" and len(transport.fingerprints[0].value) == 95
        assert transport.ufrag and transport.pwd and len(transport.pwd) >= 22 and transport.rtcp_mux
    finally:
        await leg.close()
    assert leg.closed


async def test_an_ice_restart_fails_the_leg() -> None:
    leg = JingleLeg(PortRange("127.0.0.1", 43000, 43010), controlling=False)
    failures: list[str] = []
    leg.on_failure = lambda _, reason: failures.append(reason)
    try:
        await leg.add_remote(IceUdpTransport(ufrag="abcd", pwd="p" * 22))
        await leg.add_remote(IceUdpTransport(ufrag="efgh", pwd="q" * 22))
    finally:
        await leg.close()
    assert failures == ["ice-restart-unsupported"]
