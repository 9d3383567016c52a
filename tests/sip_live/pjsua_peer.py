"""An independent SIP call peer on pjsua2 (pjsua2-python, test-only), driven by JSON lines.

Run it inside a network namespace of its own (pjsua2 probes the network at start), with loopback up:

    unshare -n sh -c 'ip link set lo up && python -m tests.sip_live.pjsua_peer --port 5070'

(`tests.sip_live.invite_scenario` starts it that way, or as its own child inside the namespace it already
runs in). One `Endpoint` per process; `threadCnt=0` and `libHandleEvents` polled from this one thread; the
null sound device; SIP (UDP and TCP on one port) and RTP bound to 127.0.0.1 only.

Commands on standard input, one JSON object a line:

    {"cmd": "call", "uri": "sip:room@127.0.0.1:5060"}    place a call
    {"cmd": "answer_mode", "mode": "answer" | "ring"}      incoming calls: 180 then 200, or 180 only
    {"cmd": "hangup"}                                       BYE, or CANCEL when not answered yet
    {"cmd": "reinvite"}                                     re-INVITE on the confirmed call
    {"cmd": "quit"}

Events on standard output, one JSON object a line: `ready`, `incoming` (with the INVITE's Contact), `rx`
(every message received for a call: its first line, Contact and CSeq as on the wire), `state` (every call
state change: the state name, the remote Contact URI pjsua2 recorded, the last status code), `error`.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped]

_STATES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class Peer:
    def __init__(self) -> None:
        self.calls: list[PeerCall] = []
        self.answer_mode = "answer"


class PeerCall(pj.Call):  # type: ignore[misc]
    def __init__(self, peer: Peer, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.peer = peer
        self.last_state = "NULL"
        self.last_rx: tuple[str, str] | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.last_state = _STATES.get(info.state, str(info.state))
        emit(
            "state",
            state=self.last_state,
            remote_contact=info.remoteContact,
            local_contact=info.localContact,
            status=info.lastStatusCode,
            reason=info.lastReason,
            role="uac" if info.role == pj.PJSIP_ROLE_UAC else "uas",
        )

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        """Every SIP message received for the call, with its Contact as written on the wire (pjsua2's
        `CallInfo.remoteContact` keeps the URI only, without header parameters such as `isfocus`)."""
        state = prm.e.body.tsxState
        if state.type != pj.PJSIP_EVENT_RX_MSG:
            return
        text = state.src.rdata.wholeMsg
        first = text.split("\r\n", 1)[0]
        if (first, text) == self.last_rx:
            return
        self.last_rx = (first, text)
        emit("rx", first_line=first, contact=header(text, "contact", "m"), cseq=header(text, "cseq"))


def header(text: str, *names: str) -> str:
    """The first value of a header in a message's text ("" when absent)."""
    for line in text.split("\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            return value.strip()
    return ""


class PeerAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = PeerCall(self.peer, self, prm.callId)
        self.peer.calls.append(call)
        emit("incoming", contact=header(prm.rdata.wholeMsg, "contact", "m"))
        op = pj.CallOpParam()
        op.statusCode = 180
        call.answer(op)
        if self.peer.answer_mode == "answer":
            op = pj.CallOpParam()
            op.statusCode = 200
            call.answer(op)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rtp-port", type=int, default=40000)
    parser.add_argument("--user", default="peer")
    parser.add_argument("--contact-params", default="", help="e.g. ';isfocus' (RFC 4579)")
    args = parser.parse_args()

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = False
    config.uaConfig.userAgent = "pjsua2-test-peer"
    config.logConfig.level = 5
    config.logConfig.consoleLevel = 0
    config.logConfig.filename = os.environ.get("PJSUA_LOG", "")
    config.medConfig.threadCnt = 0
    config.medConfig.hasIoqueue = True
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.port = args.port
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_TCP, transport)  # the same port, as SIP expects
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()

    peer = Peer()
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:{args.user}@127.0.0.1:{args.port}"
    account_config.sipConfig.contactParams = args.contact_params
    account_config.mediaConfig.transportConfig.port = args.rtp_port
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    account = PeerAccount(peer)
    account.create(account_config)
    emit("ready", port=args.port)

    buffer = ""
    running = True
    while running:
        endpoint.libHandleEvents(20)
        readable, _, _ = select.select([sys.stdin], [], [], 0)
        if not readable:
            continue
        chunk = os.read(sys.stdin.fileno(), 65536).decode()
        if not chunk:
            break
        buffer += chunk
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            if not line.strip():
                continue
            command = json.loads(line)
            try:
                running = handle(command, peer, account, endpoint)
                emit("done", cmd=command.get("cmd"))
            except pj.Error as exc:
                emit("error", cmd=command.get("cmd"), info=exc.info())
    if any(call.isActive() for call in peer.calls):
        endpoint.hangupAllCalls()
    for _ in range(20):
        endpoint.libHandleEvents(10)
    peer.calls.clear()
    account.shutdown()
    del account
    endpoint.libDestroy()
    emit("bye")


def handle(command: dict[str, Any], peer: Peer, account: PeerAccount, endpoint: pj.Endpoint) -> bool:
    name = command["cmd"]
    if name == "call":
        call = PeerCall(peer, account)
        peer.calls.append(call)
        call.makeCall(command["uri"], pj.CallOpParam(True))
    elif name == "answer_mode":
        peer.answer_mode = command["mode"]
    elif name == "hangup":
        for call in peer.calls:
            if call.isActive():
                call.hangup(pj.CallOpParam())
    elif name == "reinvite":
        for call in peer.calls:
            if call.isActive():
                op = pj.CallOpParam(True)
                op.opt.flag = pj.PJSUA_CALL_UNHOLD
                call.reinvite(op)
    elif name == "quit":
        return False
    else:
        emit("error", cmd=name, info="unknown command")
    return True


if __name__ == "__main__":
    main()
