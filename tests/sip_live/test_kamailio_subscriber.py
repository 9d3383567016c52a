"""The conference subscriber (sip.subscriber, sans-IO) driven over our user agent (sip.driver) against
Kamailio presence_conference: it receives the document sipp PUBLISHed, a new PUBLISH reaches it, and its
merged state equals what was published."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.document_parser import parse
from sip.digest import Credentials
from sip.subscriber import StateChanged, Stopped
from sip.user_agent import UserAgent
from tests.peers.kamailio import Kamailio
from tests.sip_live.conftest import SubscriberRun, etag_of, publish, published

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


async def test_subscriber_merges_what_kamailio_notifies(
    kamailio: Kamailio, ua: UserAgent, tmp_path: Path
) -> None:
    first = await publish(kamailio, tmp_path / "sipp", "conf_publish_uac.xml")
    run = SubscriberRun(ua, kamailio.uri("conf"))
    try:
        run.start()
        changed = await run.next_report(StateChanged)
        assert isinstance(changed, StateChanged)
        expected = parse(published("conf_publish_uac.xml", kamailio, "1"))
        assert changed.state.users == expected.users
        assert changed.state.conference_description == expected.conference_description

        await publish(
            kamailio, tmp_path / "sipp", "conf_publish_update_uac.xml", etag=etag_of(first), version="2"
        )
        changed = await run.next_report(StateChanged)
        assert isinstance(changed, StateChanged)
        expected = parse(published("conf_publish_update_uac.xml", kamailio, "2"))
        assert list(changed.state.users.users) == ["sip:alice@127.0.0.1", "sip:bob@127.0.0.1"]
        assert changed.state.users == expected.users
        assert changed.state.conference_description == expected.conference_description

        await run.stop()
        stopped = await run.next_report(Stopped)
        assert isinstance(stopped, Stopped)
        assert stopped.reason == "unsubscribed"
    finally:
        await run.driver.close()


async def test_subscriber_answers_kamailios_challenge(tmp_path: Path, ua: UserAgent) -> None:
    """The driver answers the 407 with the configured credentials; the subscriber takes the 2xx to the
    retried SUBSCRIBE (CSeq + 1) as its own, and its later unsubscribe uses a CSeq above it."""
    with Kamailio(tmp_path / "kamailio", password="s3cret") as kamailio:
        await publish(kamailio, tmp_path / "sipp", "conf_publish_uac.xml")
        run = SubscriberRun(ua, kamailio.uri("conf"), credentials=[Credentials("gateway", "s3cret")])
        try:
            run.start()
            changed = await run.next_report(StateChanged)
            assert isinstance(changed, StateChanged)
            assert list(changed.state.users.users) == ["sip:alice@127.0.0.1"]
            await run.stop()
            stopped = await run.next_report(Stopped)
            assert isinstance(stopped, Stopped)
            assert stopped.reason == "unsubscribed"
        finally:
            await run.driver.close()
