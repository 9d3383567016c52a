"""The gap fixes over real sockets, with sipp as the peer:
(a) in-dialog requests go to the remote target (Contact) along the route set (Record-Route),
(b) error responses carry a To-tag, (c) any status can be sent (489 Bad Event, 423 with Min-Expires);
and a whole subscription against sipp's notifier scenario."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sipmessage import URI, Request

from sip.dialogs import Dialog
from sip.user_agent import UserAgent
from tests.peers.sipp import SippProcess, run_sipp
from tests.sip_live.conftest import Inbox
from tests.sip_wire import ConferenceOnly

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


async def test_489_bad_event_with_to_tag(ua: UserAgent, tmp_path: Path) -> None:
    ua.handler = ConferenceOnly()
    result = await asyncio.to_thread(
        run_sipp, "subscribe_bad_event_uac.xml", ua.local_address().port, tmp_path
    )
    assert result.ok, str(result)
    assert "489 ok: To-tag=" in result.log


async def test_423_with_min_expires_and_to_tag(ua: UserAgent, tmp_path: Path) -> None:
    ua.handler = ConferenceOnly()
    result = await asyncio.to_thread(
        run_sipp, "subscribe_too_brief_uac.xml", ua.local_address().port, tmp_path
    )
    assert result.ok, str(result)
    assert "423 ok: Min-Expires=60 To-tag=" in result.log


def subscribe_to(ua: UserAgent, port: int) -> Request:
    return ua.new_request(
        "SUBSCRIBE",
        f"sip:focus@127.0.0.1:{port}",
        from_uri="<sip:gateway@127.0.0.1>",
        to_uri=f"<sip:focus@127.0.0.1:{port}>",
        headers=[("Event", "conference"), ("Accept", "application/conference-info+xml"), ("Expires", "600")],
    )


async def test_in_dialog_request_follows_record_route_to_the_contact(ua: UserAgent, tmp_path: Path) -> None:
    peer = await asyncio.to_thread(SippProcess, "subscribe_record_route_uas.xml", tmp_path)
    try:
        request = subscribe_to(ua, peer.port)
        response = await ua.send(request)
        assert response.code == 200
        dialog = Dialog.from_response(request, response)
        unsubscribe = await ua.send_in_dialog(
            dialog, "SUBSCRIBE", headers=[("Event", "conference"), ("Expires", "0")]
        )
        assert unsubscribe.code == 200
        result = await asyncio.to_thread(peer.wait)
    finally:
        peer.stop()
    assert result.ok, str(result)
    assert "in-dialog SUBSCRIBE ok" in result.log
    assert f"Route: <sip:127.0.0.1:{peer.port};lr;ftag=" in result.messages


async def test_in_dialog_request_goes_to_the_contact(ua: UserAgent, tmp_path: Path) -> None:
    target = await asyncio.to_thread(SippProcess, "subscribe_in_dialog_uas.xml", tmp_path)
    notifier = await asyncio.to_thread(
        SippProcess, "subscribe_contact_elsewhere_uas.xml", tmp_path, keys={"contact_port": str(target.port)}
    )
    try:
        request = subscribe_to(ua, notifier.port)
        response = await ua.send(request)
        assert response.code == 200
        dialog = Dialog.from_response(request, response)
        assert dialog.remote_target.port == target.port
        unsubscribe = await ua.send_in_dialog(
            dialog, "SUBSCRIBE", headers=[("Event", "conference"), ("Expires", "0")]
        )
        assert unsubscribe.code == 200
        target_result = await asyncio.to_thread(target.wait)
        notifier_result = await asyncio.to_thread(notifier.wait)
    finally:
        target.stop()
        notifier.stop()
    assert target_result.ok, str(target_result)
    assert "in-dialog SUBSCRIBE ok: at the Contact" in target_result.log
    assert notifier_result.ok, str(notifier_result)
    assert notifier_result.messages.count("SUBSCRIBE sip:") == 1  # only the initial one came here


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_subscription_against_sipp_notifier(ua: UserAgent, tmp_path: Path, protocol: str) -> None:
    """sipp's conf_sub_uas.xml: 200 + NOTIFY (full document), then our un-SUBSCRIBE in the dialog gets 200 +
    a terminated NOTIFY; over UDP, and over TCP (one connection, sipp -t t1)."""
    extra = ["-t", "t1"] if protocol == "tcp" else []
    peer = await asyncio.to_thread(SippProcess, "conf_sub_uas.xml", tmp_path, extra=extra)
    try:
        inbox = Inbox()
        request = subscribe_to(ua, peer.port)
        if protocol == "tcp":
            request.uri = URI.parse(f"sip:focus@127.0.0.1:{peer.port};transport=tcp")
        ua.route_call_id(request.call_id, inbox)
        response = await ua.send(request)
        assert response.code == 200
        dialog = Dialog.from_response(request, response)
        notify = await inbox.next()
        assert notify.source.address.protocol == protocol
        assert dialog.matches(notify.message)
        assert b'version="1"' in notify.message.body
        response = await ua.send_in_dialog(
            dialog, "SUBSCRIBE", headers=[("Event", "conference"), ("Expires", "0")]
        )
        assert response.code == 200
        final = await inbox.next()
        assert final.message.headers["Subscription-State"] == "terminated;reason=timeout"
        result = await asyncio.to_thread(peer.wait)
    finally:
        peer.stop()
    assert result.ok, str(result)


async def test_489_over_tcp(ua: UserAgent, tmp_path: Path) -> None:
    """The same over TCP (sipp -t t1): framing by Content-Length, the response on sipp's connection."""
    ua.handler = ConferenceOnly()
    result = await asyncio.to_thread(
        run_sipp, "subscribe_bad_event_uac.xml", ua.local_address("tcp").port, tmp_path, extra=["-t", "t1"]
    )
    assert result.ok, str(result)
    assert "489 ok: To-tag=" in result.log
    assert "TCP message received" in result.messages
