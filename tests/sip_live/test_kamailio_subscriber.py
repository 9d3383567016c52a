"""The conference subscriber (sip.subscriber, sans-IO) driven over our user agent (sip.driver) against
Kamailio presence_conference: it receives the document sipp PUBLISHed, a new PUBLISH reaches it, and its
merged state equals what was published."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sipmessage import Address

from gateway.document_parser import parse
from sip.digest import Credentials
from sip.driver import Driver, EventHandler
from sip.subscriber import ConferenceSubscriber, ConferenceSubscribers, StateChanged, Stopped
from sip.user_agent import UserAgent
from tests.peers.kamailio import Kamailio
from tests.peers.sipp import SCENARIOS
from tests.sip_live.test_kamailio_conference import etag_of, publish

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


def published(scenario: str, kamailio: Kamailio, version: str) -> bytes:
    """The document a PUBLISH scenario sends, with sipp's keywords filled in."""
    text = (SCENARIOS / scenario).read_text()
    body = text.split('<?xml version="1.0" encoding="UTF-8"?>')[1].split("]]>")[0]
    for keyword, value in {
        "[service]": "conf", "[remote_ip]": "127.0.0.1", "[call_number]": version, "[version]": version,
    }.items():  # fmt: skip
        body = body.replace(keyword, value)
    return "\n".join(line.strip() for line in body.strip().splitlines()).encode()


async def next_report(reports: asyncio.Queue[object], kind: type) -> object:
    while True:
        report = await asyncio.wait_for(reports.get(), 15)
        if isinstance(report, kind):
            return report


async def test_subscriber_merges_what_kamailio_notifies(
    kamailio: Kamailio, ua: UserAgent, tmp_path: Path
) -> None:
    first = await publish(kamailio, tmp_path / "sipp", "conf_publish_uac.xml")
    reports: asyncio.Queue[object] = asyncio.Queue()
    subscribers = ConferenceSubscribers()
    driver = Driver(ua, subscribers, on_report=reports.put_nowait)
    ua.handler = EventHandler(subscribers=driver)
    subscriber = ConferenceSubscriber(
        Address.parse(f"<{kamailio.uri('conf')}>"),
        local=Address.parse("<sip:gateway@127.0.0.1>"),
        contact=ua.contact("udp"),
        clock=asyncio.get_running_loop().time,
    )
    try:
        driver.start(subscribers.add(subscriber))
        changed = await next_report(reports, StateChanged)
        assert isinstance(changed, StateChanged)
        expected = parse(published("conf_publish_uac.xml", kamailio, "1"))
        assert changed.state.users == expected.users
        assert changed.state.conference_description == expected.conference_description

        await publish(
            kamailio, tmp_path / "sipp", "conf_publish_update_uac.xml", etag=etag_of(first), version="2"
        )
        changed = await next_report(reports, StateChanged)
        assert isinstance(changed, StateChanged)
        expected = parse(published("conf_publish_update_uac.xml", kamailio, "2"))
        assert list(changed.state.users.users) == ["sip:alice@127.0.0.1", "sip:bob@127.0.0.1"]
        assert changed.state.users == expected.users
        assert changed.state.conference_description == expected.conference_description

        await driver.run(subscribers.remove(subscriber))
        stopped = await next_report(reports, Stopped)
        assert isinstance(stopped, Stopped)
        assert stopped.reason == "unsubscribed"
    finally:
        await driver.close()


async def test_subscriber_answers_kamailios_challenge(tmp_path: Path, ua: UserAgent) -> None:
    """The driver answers the 407 with the configured credentials; the subscriber takes the 2xx to the
    retried SUBSCRIBE (CSeq + 1) as its own, and its later unsubscribe uses a CSeq above it."""
    with Kamailio(tmp_path / "kamailio", password="s3cret") as kamailio:
        await publish(kamailio, tmp_path / "sipp", "conf_publish_uac.xml")
        reports: asyncio.Queue[object] = asyncio.Queue()
        subscribers = ConferenceSubscribers()
        driver = Driver(
            ua, subscribers, on_report=reports.put_nowait, credentials=[Credentials("gateway", "s3cret")]
        )
        ua.handler = EventHandler(subscribers=driver)
        subscriber = ConferenceSubscriber(
            Address.parse(f"<{kamailio.uri('conf')}>"),
            local=Address.parse("<sip:gateway@127.0.0.1>"),
            contact=ua.contact("udp"),
            clock=asyncio.get_running_loop().time,
        )
        try:
            driver.start(subscribers.add(subscriber))
            changed = await next_report(reports, StateChanged)
            assert isinstance(changed, StateChanged)
            assert list(changed.state.users.users) == ["sip:alice@127.0.0.1"]
            await driver.run(subscribers.remove(subscriber))
            stopped = await next_report(reports, Stopped)
            assert isinstance(stopped, Stopped)
            assert stopped.reason == "unsubscribed"
        finally:
            await driver.close()
