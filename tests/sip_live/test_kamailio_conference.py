"""Our user agent as a subscriber of a real RFC 4575 notifier: Kamailio presence_conference, fed by
PUBLISHes that sipp sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.document_parser import parse
from sip.dialogs import Dialog
from sip.digest import Credentials
from sip.user_agent import UserAgent
from tests.peers.kamailio import Kamailio
from tests.sip_live.conftest import Inbox, etag_of, publish  # tests/e2e import these from here too

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


def new_subscribe(ua: UserAgent, kamailio: Kamailio, expires: int = 600) -> object:
    return ua.new_request(
        "SUBSCRIBE",
        kamailio.uri("conf"),
        from_uri="<sip:gateway@127.0.0.1>",
        to_uri=f"<{kamailio.uri('conf')}>",
        headers=[
            ("Event", "conference"),
            ("Accept", "application/conference-info+xml"),
            ("Expires", str(expires)),
        ],
    )


async def test_subscribe_receives_published_document_and_its_update(
    kamailio: Kamailio, ua: UserAgent, tmp_path: Path
) -> None:
    first = await publish(kamailio, tmp_path / "sipp", "conf_publish_uac.xml")
    etag = etag_of(first)

    inbox = Inbox()
    request = new_subscribe(ua, kamailio)
    ua.route_call_id(request.call_id, inbox)  # type: ignore[attr-defined]
    response = await ua.send(request)  # type: ignore[arg-type]
    assert response.code == 200, bytes(response)
    assert int(response.headers["Expires"]) > 0
    dialog = Dialog.from_response(request, response)  # type: ignore[arg-type]

    notify = await inbox.next()
    assert notify.message.headers["Event"] == "conference"
    assert notify.message.headers["Subscription-State"].startswith("active")
    assert dialog.matches(notify.message)
    document = parse(notify.message.body)
    assert document.state == "full"
    assert list(document.users.users) == ["sip:alice@127.0.0.1"]
    assert document.conference_description is not None
    assert b"published by sipp" in notify.message.body

    # a second PUBLISH with SIP-If-Match (the first one's entity tag) reaches us as a new NOTIFY
    second = await publish(kamailio, tmp_path / "sipp", "conf_publish_update_uac.xml", etag=etag, version="2")
    assert etag_of(second)
    update = await inbox.next()
    assert dialog.matches(update.message)
    assert update.message.cseq.sequence > notify.message.cseq.sequence
    updated = parse(update.message.body)
    assert list(updated.users.users) == ["sip:alice@127.0.0.1", "sip:bob@127.0.0.1"]
    assert updated.version > document.version
    assert b"updated by sipp" in update.message.body

    # unsubscribe in the dialog: 200, then a terminated NOTIFY
    response = await ua.send_in_dialog(
        dialog, "SUBSCRIBE", headers=[("Event", "conference"), ("Expires", "0")]
    )
    assert response.code == 200
    final = await inbox.next()
    assert final.message.headers["Subscription-State"].startswith("terminated")
    ua.unroute_call_id(dialog.call_id)


async def test_interval_too_brief_from_kamailio(tmp_path: Path, ua: UserAgent) -> None:
    """A real notifier's 423: Kamailio with min_expires=60 refuses Expires: 10, naming its minimum."""
    with Kamailio(tmp_path / "kamailio", min_expires=60) as kamailio:
        response = await ua.send(new_subscribe(ua, kamailio, expires=10))  # type: ignore[arg-type]
        assert response.code == 423
        assert response.min_expires == 60


async def test_digest_challenge_from_kamailio(tmp_path: Path, ua: UserAgent) -> None:
    """A notifier that challenges (Kamailio's auth module: 407, qop=auth, MD5): the SUBSCRIBE goes again
    with the caller's credentials and is accepted; wrong credentials end at the second 407."""
    with Kamailio(tmp_path / "kamailio", password="s3cret") as kamailio:
        await publish(kamailio, tmp_path / "sipp", "conf_publish_uac.xml")
        inbox = Inbox()
        request = new_subscribe(ua, kamailio)
        ua.route_call_id(request.call_id, inbox)  # type: ignore[attr-defined]
        response = await ua.send(request, credentials=[Credentials("gateway", "s3cret", realm="127.0.0.1")])  # type: ignore[arg-type]
        assert response.code == 200, bytes(response)
        assert response.cseq.sequence == 2  # the first try was challenged
        notify = await inbox.next()
        assert b"published by sipp" in notify.message.body

        refused = await ua.send(new_subscribe(ua, kamailio), credentials=[Credentials("gateway", "wrong")])  # type: ignore[arg-type]
        assert refused.code == 407
        assert (
            await ua.send(new_subscribe(ua, kamailio))
        ).code == 407  # no credentials: the challenge is final
