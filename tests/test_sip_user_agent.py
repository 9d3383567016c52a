"""sip.user_agent over loopback sockets, with a raw peer that shows exactly what goes on the wire.

The gap fixes: (a) in-dialog requests go to the remote target along the route set
(test_in_dialog_request_*), (b) error responses carry a To-tag and (c) any status can be sent
(test_489_*, test_423_*). Each is also run against sipua's own code, marked xfail(strict): that is the
failure our layer corrects.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sipua
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sipmessage import URI, Request

from sip.dialogs import Dialog
from sip.digest import Credentials, digest_response
from sip.messages import LocalResponse, from_tag, to_tag
from sip.transactions import Timers
from sip.transport import TransportAddress
from sip.user_agent import IncomingRequest, UserAgent
from tests.peers.process import free_port_both
from tests.peers.raw_sip import RawUdpPeer, answer, sip_message
from tests.sip_wire import ConferenceOnly

FAST = Timers(t1=0.05, t2=0.2, t4=0.2, timer_d=0.5)
pytestmark = pytest.mark.timeout(30)


class Recorder:
    """A handler that answers with a fixed status (and headers), and records what it got."""

    def __init__(self, code: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.code = code
        self.headers = headers
        self.requests: asyncio.Queue[IncomingRequest] = asyncio.Queue()

    async def handle_request(self, request: IncomingRequest) -> None:
        await self.requests.put(request)
        if request.transaction is not None:
            await request.respond(self.code, headers=self.headers)


@pytest.fixture
async def ua() -> AsyncIterator[UserAgent]:
    port = free_port_both()
    agent = UserAgent(
        [TransportAddress("udp", "127.0.0.1", port), TransportAddress("tcp", "127.0.0.1", port)], timers=FAST
    )
    await agent.start()
    yield agent
    await agent.close()


@pytest.fixture
async def peer() -> AsyncIterator[RawUdpPeer]:
    raw = await RawUdpPeer.open()
    yield raw
    raw.close()


def subscribe_from(peer: RawUdpPeer, ua: UserAgent, event: str = "conference", expires: int = 600) -> bytes:
    return sip_message(
        f"""
        SUBSCRIBE sip:room@127.0.0.1:{ua.local_address().port} SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK-{event}-{expires};rport
        From: <sip:watcher@127.0.0.1:{peer.port}>;tag=w1
        To: <sip:room@127.0.0.1:{ua.local_address().port}>
        Call-ID: sub-{event}-{expires}
        CSeq: 1 SUBSCRIBE
        Contact: <sip:watcher@127.0.0.1:{peer.port}>
        Max-Forwards: 70
        Event: {event}
        Expires: {expires}
        """
    )


# -- gaps (b) and (c): any status, with a To-tag ----------------------------------------------------------


async def test_489_bad_event_with_a_to_tag(ua: UserAgent, peer: RawUdpPeer) -> None:
    ua.handler = ConferenceOnly()
    peer.send(subscribe_from(peer, ua, event="presence"), ua.local_address().port)
    response = await peer.receive_response()
    assert (response.code, response.phrase) == (489, "Bad Event")
    assert to_tag(response)
    assert response.headers["Allow-Events"] == "conference"
    assert response.via[0].parameters["rport"] == str(peer.port)


async def test_423_with_min_expires(ua: UserAgent, peer: RawUdpPeer) -> None:
    ua.handler = ConferenceOnly()
    peer.send(subscribe_from(peer, ua, expires=10), ua.local_address().port)
    response = await peer.receive_response()
    assert (response.code, response.phrase, response.min_expires) == (423, "Interval Too Brief", 60)
    assert to_tag(response)


async def test_2xx_to_subscribe_has_our_contact_and_the_same_tag_as_the_dialog(
    ua: UserAgent, peer: RawUdpPeer
) -> None:
    recorder = Recorder(200)
    ua.handler = recorder
    peer.send(subscribe_from(peer, ua), ua.local_address().port)
    response = await peer.receive_response()
    incoming = recorder.requests.get_nowait()
    assert to_tag(response) == incoming.tag
    assert response.contact[0].uri.port == ua.local_address().port
    assert response.headers["Server"] == "coin-gateway"


# -- server transactions ----------------------------------------------------------------------------------


async def test_a_retransmitted_request_gets_the_same_response_again(ua: UserAgent, peer: RawUdpPeer) -> None:
    """sipua's non-INVITE server transaction ignores retransmissions: a lost 200 is never sent again."""
    recorder = Recorder(200)
    ua.handler = recorder
    request = subscribe_from(peer, ua)
    peer.send(request, ua.local_address().port)
    first = await peer.receive_response()
    peer.send(request, ua.local_address().port)
    second = await peer.receive_response()
    assert to_tag(first) == to_tag(second)
    assert recorder.requests.qsize() == 1  # the handler saw it once


async def test_unanswered_or_failing_handler_gives_500_and_no_handler_501(
    ua: UserAgent, peer: RawUdpPeer
) -> None:
    class Silent:
        async def handle_request(self, request: IncomingRequest) -> None:
            return None

    class Broken:
        async def handle_request(self, request: IncomingRequest) -> None:
            raise RuntimeError("bug")

    ua.handler = Silent()
    peer.send(subscribe_from(peer, ua, expires=1), ua.local_address().port)
    assert (await peer.receive_response()).code == 500
    ua.handler = Broken()
    peer.send(subscribe_from(peer, ua, expires=2), ua.local_address().port)
    assert (await peer.receive_response()).code == 500
    ua.handler = None
    peer.send(subscribe_from(peer, ua, expires=3), ua.local_address().port)
    assert (await peer.receive_response()).code == 501


async def test_bad_datagrams_are_dropped_or_answered_400(ua: UserAgent, peer: RawUdpPeer) -> None:
    ua.handler = Recorder(200)
    peer.send(b"\xff\xfe garbage \r\n\r\n", ua.local_address().port)
    assert await peer.nothing()
    broken = subscribe_from(peer, ua).replace(b"CSeq: 1 SUBSCRIBE", b"CSeq: x SUBSCRIBE")
    peer.send(broken, ua.local_address().port)
    data, _ = await peer.receive_raw()  # its CSeq is as broken as the request's: no strict parse
    assert data.startswith(b"SIP/2.0 400 Bad Request - bad header: CSeq is not valid\r\n")
    assert b"To: <sip:room@127.0.0.1:" in data and b">;tag=" in data
    assert ua.transport.dropped == 2


async def test_call_id_routing_takes_precedence(ua: UserAgent, peer: RawUdpPeer) -> None:
    default, routed = Recorder(200), Recorder(202)
    ua.handler = default
    ua.route_call_id("sub-conference-600", routed)
    peer.send(subscribe_from(peer, ua), ua.local_address().port)
    assert (await peer.receive_response()).code == 202
    ua.unroute_call_id("sub-conference-600")
    assert default.requests.empty()


# -- client side ------------------------------------------------------------------------------------------


def new_subscribe(ua: UserAgent, peer: RawUdpPeer) -> Request:
    return ua.new_request(
        "SUBSCRIBE",
        f"sip:conf@127.0.0.1:{peer.port}",
        from_uri="<sip:gw@127.0.0.1>",
        to_uri=f"<sip:conf@127.0.0.1:{peer.port}>",
        headers=[("Event", "conference"), ("Expires", "600")],
    )


async def test_request_and_final_response_over_udp(ua: UserAgent, peer: RawUdpPeer) -> None:
    task = asyncio.create_task(ua.send(new_subscribe(ua, peer)))
    request = await peer.receive_request()
    via = request.via[0]
    assert (via.transport, via.host, via.port) == ("UDP", "127.0.0.1", ua.local_address().port)
    assert "rport" in via.parameters
    assert request.contact[0].uri.port == ua.local_address().port
    assert request.headers["User-Agent"] == "coin-gateway"
    peer.send(answer(request, 100, "Trying", to_tag=None), ua.local_address().port)
    peer.send(
        answer(request, 200, "OK", f"Contact: <sip:conf@127.0.0.1:{peer.port}>"), ua.local_address().port
    )
    response = await task
    assert response.code == 200


async def test_timeout_gives_408_after_retransmissions(ua: UserAgent, peer: RawUdpPeer) -> None:
    response = await ua.send(new_subscribe(ua, peer))
    assert response.code == 408
    assert isinstance(response, LocalResponse)
    copies = peer.queue.qsize()
    assert copies >= 4  # timer E retransmitted the request


async def test_unreachable_tcp_gives_503(ua: UserAgent) -> None:
    port = free_port_both()
    request = ua.new_request(
        "OPTIONS", f"sip:x@127.0.0.1:{port};transport=tcp", from_uri="<sip:gw@127.0.0.1>", to_uri="<sip:x@h>"
    )
    response = await ua.send(request)
    assert response.code == 503
    assert isinstance(response, LocalResponse)
    assert "cannot connect" in response.reason


async def test_digest_challenge_is_answered_with_the_callers_credentials(
    ua: UserAgent, peer: RawUdpPeer
) -> None:
    credentials = [Credentials("gw", "secret", realm="bridge")]
    task = asyncio.create_task(ua.send(new_subscribe(ua, peer), credentials=credentials))
    first = await peer.receive_request()
    challenge = 'Digest realm="bridge", nonce="abc123", qop="auth,auth-int", algorithm=MD5'
    peer.send(answer(first, 401, "Unauthorized", f"WWW-Authenticate: {challenge}"), ua.local_address().port)
    second = await next_request(peer, "SUBSCRIBE", first.call_id, first.cseq.sequence + 1)
    assert second.cseq.sequence == first.cseq.sequence + 1
    assert second.call_id == first.call_id
    assert from_tag(second) == from_tag(first)
    assert second.via[0].parameters["branch"] != first.via[0].parameters["branch"]
    authorization = second.headers["Authorization"]
    assert 'username="gw"' in authorization
    assert 'uri="' + str(first.uri) + '"' in authorization
    cnonce = authorization.split('cnonce="')[1].split('"')[0]
    expected = digest_response(
        challenge, method="SUBSCRIBE", uri=str(first.uri), credentials=credentials[0], cnonce=cnonce
    )
    assert expected.parameters is not None
    assert f'response="{expected.parameters["response"]}"' in authorization
    # wrong credentials: a second 401 for the same realm is final
    peer.send(answer(second, 401, "Unauthorized", f"WWW-Authenticate: {challenge}"), ua.local_address().port)
    assert (await task).code == 401


async def test_proxy_challenge_without_matching_credentials_is_final(ua: UserAgent, peer: RawUdpPeer) -> None:
    task = asyncio.create_task(
        ua.send(new_subscribe(ua, peer), credentials=[Credentials("u", "p", realm="x")])
    )
    first = await peer.receive_request()
    peer.send(
        answer(
            first, 407, "Proxy Authentication Required", 'Proxy-Authenticate: Digest realm="y", nonce="n"'
        ),
        ua.local_address().port,
    )
    assert (await task).code == 407


# -- gap (a): in-dialog requests to the remote target along the route set --------------------------------


async def establish(ua: UserAgent, peer: RawUdpPeer, *extra: str) -> tuple[Request, Dialog, object]:
    """Our SUBSCRIBE, the peer's 200 with `extra` headers; the dialog both ways (ours and sipua's)."""
    request = new_subscribe(ua, peer)
    task = asyncio.create_task(ua.send(request))
    received = await peer.receive_request()
    peer.send(answer(received, 200, "OK", *extra), ua.local_address().port)
    response = await task
    assert response.code == 200
    await asyncio.sleep(0.05)
    while not peer.queue.empty():  # copies of the SUBSCRIBE sent before the 200 was seen (T1 = 50 ms)
        peer.queue.get_nowait()
    dialog = Dialog.from_response(request, response)
    # sipua's dialog for the same exchange (its DialogLayer only needs a transaction layer to exist)
    sipua_dialog = sipua.Dialog(
        call_id=request.call_id,
        dialog_layer=sipua.DialogLayer(sipua.TransactionLayer(sipua.TransportLayer())),
        local_address=request.from_address,
        remote_address=dialog.remote_address,
        remote_uri=dialog.remote_target,
        route_set=list(reversed(response.record_route)),
    )
    return request, dialog, sipua_dialog


def ours_request(dialog: Dialog, _sipua_dialog: object) -> Request:
    return dialog.new_request("SUBSCRIBE")


def sipua_request(_dialog: Dialog, sipua_dialog: object) -> Request:
    return sipua_dialog.create_request("SUBSCRIBE")  # type: ignore[attr-defined, no-any-return]


SIPUA_GAP_A = pytest.mark.xfail(
    strict=True, reason="sipua gap: in-dialog Request-URI is the To URI, not the Contact"
)


@pytest.mark.parametrize(
    "build", [ours_request, pytest.param(sipua_request, marks=SIPUA_GAP_A)], ids=["ours", "sipua"]
)
async def test_in_dialog_request_targets_the_contact(ua: UserAgent, peer: RawUdpPeer, build: object) -> None:
    target = await RawUdpPeer.open()
    try:
        _, dialog, sipua_dialog = await establish(ua, peer, f"Contact: <sip:conf@127.0.0.1:{target.port}>")
        request = build(dialog, sipua_dialog)  # type: ignore[operator]
        assert request.uri == URI.parse(f"sip:conf@127.0.0.1:{target.port}")
        assert request.headers.get("Route") is None
        task = asyncio.create_task(ua.send(request))
        arrived = await target.receive_request()  # at the Contact's port, not the peer's
        assert arrived.method == "SUBSCRIBE"
        target.send(answer(arrived, 200, "OK"), ua.local_address().port)
        assert (await task).code == 200
        assert await peer.nothing(0.1)
    finally:
        target.close()


@pytest.mark.parametrize(
    "build", [ours_request, pytest.param(sipua_request, marks=SIPUA_GAP_A)], ids=["ours", "sipua"]
)
async def test_in_dialog_request_follows_the_loose_route_set(
    ua: UserAgent, peer: RawUdpPeer, build: object
) -> None:
    proxy = await RawUdpPeer.open()
    try:
        record_route = f"Record-Route: <sip:127.0.0.1:{proxy.port};lr;ftag=x%3Ay>, <sip:p2.invalid;lr>"
        contact = "Contact: <sip:conf@127.0.0.1:9;transport=udp>"
        _, dialog, sipua_dialog = await establish(ua, peer, record_route, contact)
        request = build(dialog, sipua_dialog)  # type: ignore[operator]
        assert request.uri == URI.parse("sip:conf@127.0.0.1:9;transport=udp")
        # the UAC reverses Record-Route; each entry exactly as the proxy wrote it
        assert request.headers.getlist("Route") == [
            "<sip:p2.invalid;lr>",
            f"<sip:127.0.0.1:{proxy.port};lr;ftag=x%3Ay>",
        ]
    finally:
        proxy.close()


async def test_send_in_dialog_goes_to_the_first_route(ua: UserAgent, peer: RawUdpPeer) -> None:
    proxy = await RawUdpPeer.open()
    try:
        _, dialog, _ = await establish(
            ua, peer, f"Record-Route: <sip:127.0.0.1:{proxy.port};lr>", "Contact: <sip:conf@127.0.0.1:9>"
        )
        task = asyncio.create_task(ua.send_in_dialog(dialog, "SUBSCRIBE", headers=[("Expires", "0")]))
        arrived = await proxy.receive_request()
        assert str(arrived.uri) == "sip:conf@127.0.0.1:9"
        assert arrived.headers["Route"] == f"<sip:127.0.0.1:{proxy.port};lr>"
        assert arrived.cseq.sequence == 2
        assert to_tag(arrived) == "peer1"
        proxy.send(answer(arrived, 200, "OK", "Contact: <sip:conf@127.0.0.1:10>"), ua.local_address().port)
        assert (await task).code == 200
        assert dialog.remote_target.port == 10  # a 2xx to a target refresh request moves the target
    finally:
        proxy.close()


async def test_strict_route_puts_the_route_in_the_request_uri(ua: UserAgent, peer: RawUdpPeer) -> None:
    _, dialog, _ = await establish(
        ua,
        peer,
        f"Record-Route: <sip:127.0.0.1:{peer.port};maddr=127.0.0.1>",
        "Contact: <sip:conf@127.0.0.1:9>",
    )
    request = dialog.new_request("NOTIFY")
    assert str(request.uri) == f"sip:127.0.0.1:{peer.port}"
    assert request.headers.getlist("Route") == ["<sip:conf@127.0.0.1:9>"]
    assert dialog.next_hop() == request.uri


async def test_uas_dialog_keeps_record_route_in_order_and_targets_the_contact(
    ua: UserAgent, peer: RawUdpPeer
) -> None:
    recorder = Recorder(200)
    ua.handler = recorder
    raw = subscribe_from(peer, ua).replace(
        b"Max-Forwards",
        f"Record-Route: <sip:127.0.0.1:{peer.port};lr>, <sip:far.invalid;lr>\r\nMax-Forwards".encode(),
    )
    peer.send(raw, ua.local_address().port)
    response = await peer.receive_response()
    assert response.headers.getlist("Record-Route") == [
        f"<sip:127.0.0.1:{peer.port};lr>, <sip:far.invalid;lr>"
    ]
    incoming = recorder.requests.get_nowait()
    dialog = Dialog.from_request(incoming.message, incoming.tag)
    task = asyncio.create_task(ua.send_in_dialog(dialog, "NOTIFY", headers=[("Event", "conference")]))
    notify = await peer.receive_request()  # the first route is the peer itself
    assert str(notify.uri) == f"sip:watcher@127.0.0.1:{peer.port}"
    assert notify.headers.getlist("Route") == [f"<sip:127.0.0.1:{peer.port};lr>", "<sip:far.invalid;lr>"]
    assert from_tag(notify) == incoming.tag and to_tag(notify) == "w1"
    peer.send(answer(notify, 200, "OK"), ua.local_address().port)
    assert (await task).code == 200


# -- UA to UA, TCP and TLS --------------------------------------------------------------------------------


class Notifier:
    """Answers SUBSCRIBE with 200 and sends a NOTIFY in the new dialog."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.notify_codes: list[int] = []

    async def handle_request(self, request: IncomingRequest) -> None:
        await request.respond(200, headers=[("Expires", "600")])
        dialog = Dialog.from_request(request.message, request.tag)
        response = await self.ua.send_in_dialog(
            dialog,
            "NOTIFY",
            headers=[("Event", "conference"), ("Subscription-State", "active;expires=600")],
            body=b"<conference-info/>",
            content_type="application/conference-info+xml",
        )
        self.notify_codes.append(response.code)


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_subscribe_and_notify_between_two_user_agents(ua: UserAgent, protocol: str) -> None:
    port = free_port_both()
    other = UserAgent(
        [TransportAddress("udp", "127.0.0.1", port), TransportAddress("tcp", "127.0.0.1", port)], timers=FAST
    )
    async with other:
        notifier = Notifier(other)
        other.handler = notifier
        subscriber = Recorder(200)
        request = ua.new_request(
            "SUBSCRIBE",
            f"sip:room@127.0.0.1:{port};transport={protocol}",
            from_uri="<sip:watcher@127.0.0.1>",
            to_uri=f"<sip:room@127.0.0.1:{port}>",
            headers=[("Event", "conference")],
        )
        ua.route_call_id(request.call_id, subscriber)
        response = await ua.send(request)
        assert response.code == 200
        notify = await asyncio.wait_for(subscriber.requests.get(), 5)
        assert notify.message.body == b"<conference-info/>"
        assert notify.source.address.protocol == protocol
        assert to_tag(notify.message) == from_tag(request)
        for _ in range(50):
            if notifier.notify_codes:
                break
            await asyncio.sleep(0.02)
        assert notifier.notify_codes == [200]


async def test_tcp_framing_and_responses_on_the_same_connection(ua: UserAgent) -> None:
    ua.handler = Recorder(200)
    reader, writer = await asyncio.open_connection("127.0.0.1", ua.local_address("tcp").port)
    try:

        def request(n: int) -> bytes:
            return sip_message(
                f"""
                OPTIONS sip:room@127.0.0.1 SIP/2.0
                Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-tcp-{n}
                From: <sip:a@127.0.0.1>;tag=t{n}
                To: <sip:room@127.0.0.1>
                Call-ID: tcp-{n}
                CSeq: {n} OPTIONS
                """
            )

        stream = b"\r\n\r\n" + request(1) + request(2) + request(3)
        for index in range(0, len(stream), 50):  # segmented and coalesced
            writer.write(stream[index : index + 50])
            await writer.drain()
        seen = set()
        for _ in range(3):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"SIP/2.0 200 OK")
            seen.add(next(line for line in head.split(b"\r\n") if line.startswith(b"Call-ID")))
        assert seen == {b"Call-ID: tcp-1", b"Call-ID: tcp-2", b"Call-ID: tcp-3"}
        writer.write(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n")  # unframable: closed
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


def tls_contexts(directory: Path, name: str = "127.0.0.1") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for `name` (its only subjectAltName: an IP address,
    or else a DNS name), and a client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt_name = x509.DNSName(name)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([alt_name]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    return server_context, ssl.create_default_context(cafile=str(cert_path))


def tls_client(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> UserAgent:
    return UserAgent(
        [TransportAddress("tls", "127.0.0.1", 0)],
        tls_server_context=server_context,
        tls_client_context=client_context,
        timers=FAST,
    )


async def test_tls_between_two_user_agents(tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    server = UserAgent(
        [TransportAddress("tls", "127.0.0.1", free_port_both())],
        tls_server_context=server_context,
        timers=FAST,
    )
    client = tls_client(server_context, client_context)
    async with server, client:
        recorder = Recorder(200)
        server.handler = recorder
        port = server.local_address("tls").port
        request = client.new_request(
            "OPTIONS",
            f"sip:room@127.0.0.1:{port};transport=tls",
            from_uri="<sip:c@127.0.0.1>",
            to_uri="<sip:r@h>",
        )
        response = await client.send(request)
        assert response.code == 200
        incoming = recorder.requests.get_nowait()
        assert incoming.source.address.protocol == "tls"
        assert incoming.message.via[0].transport == "TLS"
    # a client that does not trust the certificate cannot send
    untrusting_ua = UserAgent(
        [TransportAddress("tls", "127.0.0.1", 0)], tls_server_context=server_context, timers=FAST
    )
    async with untrusting_ua as untrusting:
        server2 = UserAgent(
            [TransportAddress("tls", "127.0.0.1", free_port_both())],
            tls_server_context=server_context,
            timers=FAST,
        )
        async with server2:
            port = server2.local_address("tls").port
            request = untrusting.new_request(
                "OPTIONS",
                f"sip:r@127.0.0.1:{port};transport=tls",
                from_uri="<sip:c@127.0.0.1>",
                to_uri="<sip:r@h>",
            )
            assert (await untrusting.send(request)).code == 503


async def test_only_the_configured_address_is_bound(ua: UserAgent) -> None:
    udp = ua.local_address("udp")
    tcp = ua.local_address("tcp")
    assert udp.host == tcp.host == "127.0.0.1"
    assert udp.port == tcp.port
    with pytest.raises(ValueError, match="one listener per transport"):
        UserAgent([TransportAddress("udp", "127.0.0.1", 1), TransportAddress("udp", "127.0.0.1", 2)])
    assert TransportAddress.parse("tcp:127.0.0.1:5060") == TransportAddress("tcp", "127.0.0.1", 5060)


# -- large requests, CANCEL, Max-Forwards -----------------------------------------------------------------


async def test_large_request_goes_over_tcp_and_falls_back_to_udp(ua: UserAgent, peer: RawUdpPeer) -> None:
    body = b"x" * 2000
    port = free_port_both()
    other = UserAgent(
        [TransportAddress("udp", "127.0.0.1", port), TransportAddress("tcp", "127.0.0.1", port)]
    )
    async with other:
        recorder = Recorder(200)
        other.handler = recorder
        request = ua.new_request(
            "MESSAGE", f"sip:x@127.0.0.1:{port}", from_uri="<sip:a@h>", to_uri="<sip:x@h>"
        )
        request.body = body
        assert (await ua.send(request)).code == 200
        incoming = recorder.requests.get_nowait()
        assert incoming.source.address.protocol == "tcp"
        assert incoming.message.body == body
    # the raw peer has no TCP listener: refused, so the same request goes over UDP
    request = ua.new_request(
        "MESSAGE", f"sip:x@127.0.0.1:{peer.port}", from_uri="<sip:a@h>", to_uri="<sip:x@h>"
    )
    request.body = body
    task = asyncio.create_task(ua.send(request))
    arrived = await peer.receive_request()
    assert arrived.via[0].transport == "UDP"
    assert arrived.body == body
    peer.send(answer(arrived, 200, "OK"), ua.local_address().port)
    assert (await task).code == 200


def invite_from(peer: RawUdpPeer, ua: UserAgent, max_forwards: int = 70) -> bytes:
    return sip_message(
        f"""
        INVITE sip:room@127.0.0.1:{ua.local_address().port} SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK-inv-{max_forwards};rport
        From: <sip:caller@127.0.0.1:{peer.port}>;tag=c1
        To: <sip:room@127.0.0.1:{ua.local_address().port}>
        Call-ID: invite-{max_forwards}
        CSeq: 7 INVITE
        Contact: <sip:caller@127.0.0.1:{peer.port}>
        Max-Forwards: {max_forwards}
        """
    )


async def test_cancel_of_an_unanswered_invite(ua: UserAgent, peer: RawUdpPeer) -> None:
    cancelled = asyncio.Event()

    class Ringing:
        async def handle_request(self, request: IncomingRequest) -> None:
            if request.method == "CANCEL":
                cancelled.set()
            elif request.method == "INVITE":
                await request.respond(180)
                await asyncio.wait_for(cancelled.wait(), 5)

    ua.handler = Ringing()
    invite = invite_from(peer, ua)
    peer.send(invite, ua.local_address().port)
    assert (await peer.receive_response()).code == 100
    ringing = await peer.receive_response()
    assert ringing.code == 180
    cancel = invite.replace(b"INVITE sip:", b"CANCEL sip:").replace(b"CSeq: 7 INVITE", b"CSeq: 7 CANCEL")
    peer.send(cancel, ua.local_address().port)
    responses = {
        (r.code, r.cseq.method) for r in [await peer.receive_response(), await peer.receive_response()]
    }
    assert responses == {(200, "CANCEL"), (487, "INVITE")}
    await asyncio.wait_for(cancelled.wait(), 5)
    unknown = cancel.replace(b"z9hG4bK-inv-70", b"z9hG4bK-other")
    peer.send(unknown, ua.local_address().port)
    response = await peer.receive_response()
    while response.cseq.method == "INVITE":  # the 487 again (timer G: no ACK from this peer)
        response = await peer.receive_response()
    assert (response.code, response.cseq.method) == (481, "CANCEL")


async def test_max_forwards_zero_gets_483(ua: UserAgent, peer: RawUdpPeer) -> None:
    ua.handler = Recorder(200)
    peer.send(invite_from(peer, ua, max_forwards=0), ua.local_address().port)
    codes = [(await peer.receive_response()).code, (await peer.receive_response()).code]
    assert codes == [100, 483]


async def test_we_cancel_an_invite(ua: UserAgent, peer: RawUdpPeer) -> None:
    invite = ua.new_request(
        "INVITE", f"sip:bridge@127.0.0.1:{peer.port}", from_uri="<sip:gw@h>", to_uri="<sip:b@h>"
    )
    task = asyncio.create_task(ua.send(invite))
    arrived = await peer.receive_request()
    peer.send(answer(arrived, 180, "Ringing"), ua.local_address().port)
    await asyncio.sleep(0.1)
    cancel_task = asyncio.create_task(ua.cancel(invite))
    cancel = await next_request(peer, "CANCEL")
    assert cancel.via[0].parameters["branch"] == arrived.via[0].parameters["branch"]
    assert (cancel.cseq.sequence, cancel.cseq.method) == (arrived.cseq.sequence, "CANCEL")
    peer.send(answer(cancel, 200, "OK"), ua.local_address().port)
    peer.send(answer(arrived, 487, "Request Terminated"), ua.local_address().port)
    assert (await cancel_task).code == 200
    assert (await task).code == 487
    ack = await next_request(peer, "ACK")
    assert ack.via[0].parameters["branch"] == arrived.via[0].parameters["branch"]


async def test_2xx_to_invite_is_retransmitted_until_the_ack(ua: UserAgent, peer: RawUdpPeer) -> None:
    ua.retransmit_2xx = True
    acks: asyncio.Queue[IncomingRequest] = asyncio.Queue()

    class Answering:
        async def handle_request(self, request: IncomingRequest) -> None:
            if request.method == "ACK":
                await acks.put(request)
            else:
                await request.respond(200)

    ua.handler = Answering()
    peer.send(invite_from(peer, ua), ua.local_address().port)
    assert (await peer.receive_response()).code == 100
    first = await peer.receive_response()
    again = await peer.receive_response()  # T1 later, the same 200 (the ACK did not come)
    assert (first.code, again.code) == (200, 200)
    assert to_tag(first) == to_tag(again)
    assert first.contact
    ack = sip_message(
        f"""
        ACK {first.contact[0].uri} SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK-ack
        From: <sip:caller@127.0.0.1:{peer.port}>;tag=c1
        To: {first.headers["To"]}
        Call-ID: invite-70
        CSeq: 7 ACK
        """
    )
    peer.send(ack, ua.local_address().port)
    assert (await asyncio.wait_for(acks.get(), 5)).method == "ACK"
    while not peer.queue.empty():  # retransmissions sent before the ACK arrived
        peer.queue.get_nowait()
    assert await peer.nothing(0.5)


async def test_connections_beyond_the_limit_are_closed() -> None:
    port = free_port_both()
    async with UserAgent([TransportAddress("tcp", "127.0.0.1", port)], max_connections=1) as agent:
        first = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)
        second = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await asyncio.wait_for(second[0].read(), 5) == b""  # closed by us
            assert len(agent.transport._connections) == 1
        finally:
            first[1].close()
            second[1].close()


async def test_an_invite_may_ring_longer_than_timer_b(ua: UserAgent, peer: RawUdpPeer) -> None:
    """Timer B runs in Calling only (RFC 3261 17.1.1.2): after a 180 the INVITE waits for its final response."""
    invite = ua.new_request(
        "INVITE", f"sip:phone@127.0.0.1:{peer.port}", from_uri="<sip:gw@h>", to_uri="<sip:p@h>"
    )
    task = asyncio.create_task(ua.send(invite))
    arrived = await peer.receive_request()
    peer.send(answer(arrived, 180, "Ringing"), ua.local_address().port)
    await asyncio.sleep(FAST.timeout + 0.5)
    assert not task.done()
    # Timer A stopped too: at most one copy that crossed the 180 (without the stop: ~6 in that time)
    assert peer.queue.qsize() <= 1
    peer.send(answer(arrived, 486, "Busy Here"), ua.local_address().port)
    assert (await task).code == 486
    assert (await next_request(peer, "ACK")).cseq.sequence == 1


async def test_port_zero_gives_udp_and_tcp_one_number() -> None:
    async with UserAgent(
        [TransportAddress("udp", "127.0.0.1", 0), TransportAddress("tcp", "127.0.0.1", 0)]
    ) as agent:
        assert agent.local_address("udp").port == agent.local_address("tcp").port != 0


async def test_tls_certificate_checked_against_the_host_name(tmp_path: Path) -> None:
    """A destination resolved from a host name carries it: the certificate (SAN DNS:bridge.test only) is
    checked against that name, not the IP address it resolved to."""
    server_context, client_context = tls_contexts(tmp_path, "bridge.test")
    server = UserAgent(
        [TransportAddress("tls", "127.0.0.1", 0)], tls_server_context=server_context, handler=Recorder(200)
    )
    client = tls_client(server_context, client_context)
    async with server, client:
        port = server.local_address("tls").port
        uri = f"sip:b@127.0.0.1:{port};transport=tls"
        # resolved from the IP address: the certificate does not name it
        response = await client.send(
            client.new_request("OPTIONS", uri, from_uri="<sip:c@h>", to_uri="<sip:b@h>")
        )
        assert isinstance(response, LocalResponse)
        assert "certificate verify failed" in response.reason
        # resolved from bridge.test (as resolve() does for a host name): checked against that name
        request = client.new_request("OPTIONS", uri, from_uri="<sip:c@h>", to_uri="<sip:b@h>")
        client._complete(request, "tls", contact=None)
        named = TransportAddress("tls", "127.0.0.1", port, name="bridge.test")
        assert named == TransportAddress("tls", "127.0.0.1", port)  # the name is not part of the address
        assert (await client.transactions.send_request(request, named)).code == 200


async def test_host_names_resolve_to_the_family_we_listen_on(
    ua: UserAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IPv4 user agent asks the resolver for IPv4 answers only (the resolver is faked: no DNS in tests)."""
    asked: list[int] = []

    async def getaddrinfo(
        host: str, port: int, *, family: int = 0, type: int = 0
    ) -> list[tuple[object, ...]]:
        asked.append(family)
        answers = [
            (socket.AF_INET6, type, 0, "", ("::1", port, 0, 0)),
            (socket.AF_INET, type, 0, "", ("127.0.0.1", port)),
        ]
        return [a for a in answers if family in (0, a[0])]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    destination = await ua.resolve(URI.parse("sip:x@bridge.test:5999;transport=tcp"))
    assert asked == [socket.AF_INET]
    assert (destination.protocol, destination.host, destination.port, destination.name) == (
        "tcp", "127.0.0.1", 5999, "bridge.test",
    )  # fmt: skip


async def test_idle_connections_are_closed() -> None:
    port = free_port_both()
    async with UserAgent([TransportAddress("tcp", "127.0.0.1", port)], idle_timeout=0.3) as agent:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by us after ~0.3-0.45 s
            assert not agent.transport._connections
        finally:
            writer.close()


async def next_request(
    peer: RawUdpPeer, method: str, call_id: str | None = None, cseq: int | None = None
) -> Request:
    """The next request of `method` (and Call-ID, CSeq): with T1 = 50 ms, retransmissions and the ACKs of
    earlier finals come and go in between."""
    while True:
        request = await peer.receive_request()
        if (
            request.method == method
            and call_id in (None, request.call_id)
            and cseq in (None, request.cseq.sequence)
        ):
            return request


async def test_cancel_and_ack_follow_a_challenged_invite(ua: UserAgent, peer: RawUdpPeer) -> None:
    """After a 407 the INVITE goes again (CSeq 2, new branch): a CANCEL matches that one, and the ACK of a
    2xx carries its Proxy-Authorization (RFC 3261 22.1)."""
    challenge = 'Proxy-Authenticate: Digest realm="bridge", nonce="n1", qop="auth"'
    credentials = [Credentials("gw", "pw")]

    def invite() -> Request:
        return ua.new_request(
            "INVITE", f"sip:conf@127.0.0.1:{peer.port}", from_uri="<sip:gw@h>", to_uri="<sip:c@h>"
        )

    first_invite = invite()
    task = asyncio.create_task(ua.send(first_invite, credentials=credentials))
    first = await next_request(peer, "INVITE", first_invite.call_id, 1)
    peer.send(answer(first, 407, "Proxy Authentication Required", challenge), ua.local_address().port)
    second = await next_request(peer, "INVITE", first_invite.call_id, 2)
    assert second.cseq.sequence == 2
    assert second.headers.get("Proxy-Authorization") is not None
    peer.send(answer(second, 180, "Ringing"), ua.local_address().port)
    await asyncio.sleep(0.05)
    cancel_task = asyncio.create_task(ua.cancel(first_invite))  # the request object the caller has
    cancel = await next_request(peer, "CANCEL", first_invite.call_id)
    assert (cancel.cseq.sequence, cancel.via[0].parameters["branch"]) == (
        2,
        second.via[0].parameters["branch"],
    )
    peer.send(answer(cancel, 200, "OK"), ua.local_address().port)
    peer.send(answer(second, 487, "Request Terminated"), ua.local_address().port)
    assert (await cancel_task).code == 200
    assert (await task).code == 487

    other = invite()
    task = asyncio.create_task(ua.send(other, credentials=credentials))
    first = await next_request(peer, "INVITE", other.call_id, 1)
    peer.send(answer(first, 407, "Proxy Authentication Required", challenge), ua.local_address().port)
    second = await next_request(peer, "INVITE", other.call_id, 2)
    peer.send(
        answer(second, 200, "OK", f"Contact: <sip:conf@127.0.0.1:{peer.port}>"), ua.local_address().port
    )
    response = await task
    assert response.code == 200
    dialog = Dialog.from_response(other, response)
    await ua.send_ack(dialog, response.cseq.sequence)
    ack = await next_request(peer, "ACK", other.call_id, 2)
    while ack.via[0].parameters["branch"] == second.via[0].parameters["branch"]:
        ack = await next_request(peer, "ACK", other.call_id, 2)  # not a 2xx ACK: an in-transaction one
    assert str(ack.uri) == f"sip:conf@127.0.0.1:{peer.port}"
    assert ack.headers["Proxy-Authorization"] == second.headers["Proxy-Authorization"]


async def test_response_goes_to_the_via_when_the_connection_is_gone(ua: UserAgent) -> None:
    """RFC 3261 18.2.2: the request's TCP connection closed before the answer: a new connection to the Via's
    sent-by (the peer's listening port) carries it."""
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    listen_port = listener.sockets[0].getsockname()[1]

    class Slow:
        async def handle_request(self, request: IncomingRequest) -> None:
            await asyncio.sleep(0.3)
            await request.respond(200)

    ua.handler = Slow()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", ua.local_address("tcp").port)
        writer.write(
            sip_message(
                f"""
                OPTIONS sip:room@127.0.0.1 SIP/2.0
                Via: SIP/2.0/TCP 127.0.0.1:{listen_port};branch=z9hG4bK-gone
                From: <sip:a@127.0.0.1>;tag=t1
                To: <sip:room@127.0.0.1>
                Call-ID: gone-1
                CSeq: 1 OPTIONS
                """
            )
        )
        await writer.drain()
        writer.close()
        head = await asyncio.wait_for(received.get(), 5)
        assert head.startswith(b"SIP/2.0 200 OK\r\n")
        assert b"Call-ID: gone-1" in head
    finally:
        listener.close()
        await listener.wait_closed()
