"""Brings up Prosody, Kamailio and the gateway on loopback with an example configuration (`scripts/run`).

Everything lives in `.run/` (rewritten on every start): Prosody's configuration and users, Kamailio's
configuration (deploy/kamailio/kamailio.cfg with this run's address, port and database) and the gateway's
configuration, with two rooms:

- `weekly`, backed by a SIP bridge: Kamailio stands in for it (`-A DEMO_FOCUS`: it answers INVITEs as the
  focus, and its presence_conference holds the conference state, published into it with sipp);
- `standup`, backed by an XMPP mixer: `mixer@localhost/desk`, a small slixmpp client run here that answers
  calls with isfocus and sends its participants as Coin.

The standard ports are used where free (5222 c2s, 5347 component, 5060 the gateway's SIP, 5070 Kamailio),
free ones otherwise. Every process listens on 127.0.0.1 only, runs in its own process group and is stopped
by its PID: on Ctrl-C or SIGTERM (exit 0), or after `--check`, which verifies once, end to end, that an XMPP
client can join `weekly` and see the bridge's state, and a SIP phone can join `standup` and see the mixer's
(exit 0 when it all worked, else 1).

The peers are started with the live tests' helpers (tests/peers), which are what those configurations are
proven with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from tests.live.xmpp_client import CI, CLIENT, LiveClient  # noqa: E402
from tests.peers.kamailio import SQL_DIR, sip_options_answered  # noqa: E402
from tests.peers.process import LOOPBACK, PeerProcess, free_port, free_port_both, tcp_accepts  # noqa: E402
from tests.peers.sipp import SCENARIOS, run_sipp  # noqa: E402

RUN = ROOT / ".run"
KAMAILIO_CFG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
DOMAIN = "localhost"  # the XMPP users' domain
COMPONENT = "sip.localhost"  # the gateway's component
SIP_DOMAIN = "gw.localhost"  # host part of the gateway's SIP URIs
USERS = ("alice", "bob", "mixer")
PASSWORD = "password"
MIXER = f"mixer@{DOMAIN}/desk"
MIXER_PARTICIPANTS = (f"alice@{DOMAIN}", f"bob@{DOMAIN}")  # who the mixer says is in standup
JINGLE = "urn:xmpp:jingle:1"
OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="voice">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="0" name="PCMU" clockrate="8000"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:raw-udp:1">'
    '<candidate component="1" generation="0" id="c1" ip="127.0.0.1" port="9"/></transport></content>'
)

# What the mixer answers the gateway's offer with: the gateway's Jingle leg offers ICE-UDP with DTLS-SRTP, so
# the answer is ICE too; it has no candidate, as this mixer has no media (the call lasts all the same).
MIXER_ANSWER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="NAME">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/>'
    '<payload-type id="0" name="PCMU" clockrate="8000"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="mixr" pwd="mixerpassword0123456789">'
    '<fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="active">'
    + ":".join(["AB"] * 32)
    + "</fingerprint></transport></content>"
)

PROSODY_CFG = """\
{run_as_root}pidfile = "{run}/prosody.pid"
data_path = "{run}/data"
log = {{ info = "*console" }}
interfaces = {{ "{host}" }}
local_interfaces = {{ "{host}" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {component} }}
component_interface = "{host}"
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping" }}
modules_disabled = {{ "s2s", "tls", "offline", "c2s_direct_tls", "http" }}
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
certificates = "{run}/certs"

VirtualHost "{domain}"

Component "{component_domain}"
    component_secret = "{secret}"
"""


def say(message: str) -> None:
    print(f"== {message}", flush=True)


def port_or_free(preferred: int, kind: str) -> int:
    """`preferred` when free on 127.0.0.1 for `kind` ("tcp", "udp" or "both"), else a free port."""
    kinds = {"tcp": [socket.SOCK_STREAM], "udp": [socket.SOCK_DGRAM]}.get(
        kind, [socket.SOCK_STREAM, socket.SOCK_DGRAM]
    )
    try:
        for sock_type in kinds:
            with socket.socket(socket.AF_INET, sock_type) as sock:
                if sock_type == socket.SOCK_STREAM:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((LOOPBACK, preferred))
    except OSError:
        return {"tcp": free_port, "udp": lambda: free_port(socket.SOCK_DGRAM)}.get(kind, free_port_both)()
    return preferred


@dataclass
class Ports:
    c2s: int
    component: int
    sip: int
    kamailio: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(
            c2s=port_or_free(5222, "tcp"),
            component=port_or_free(5347, "tcp"),
            sip=port_or_free(5060, "both"),
            kamailio=port_or_free(5070, "udp"),
        )


class Tryout:
    """The three processes (and the mixer), started in order and stopped in reverse."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.secret = secrets.token_hex(16)
        self.processes: list[PeerProcess] = []
        for name in ("prosody", "kamailio", "gateway", "sipp"):
            shutil.rmtree(RUN / name, ignore_errors=True)
            (RUN / name).mkdir(parents=True)

    def launch(
        self,
        name: str,
        argv: list[str],
        *,
        cwd: Path,
        ready: Callable[[], bool],
        timeout: float = 15.0,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start a process (remembered at once, so it is stopped whatever happens next), wait until ready."""
        process = PeerProcess(name, argv, cwd=cwd, env=env)
        self.processes.append(process)
        process.wait_until(ready, timeout)

    # -- start -------------------------------------------------------------------------------------------------

    def start_prosody(self) -> None:
        run = RUN / "prosody"
        (run / "data").mkdir()
        (run / "certs").mkdir()
        config = run / "prosody.cfg.lua"
        config.write_text(
            PROSODY_CFG.format(
                run_as_root="run_as_root = true\n" if os.geteuid() == 0 else "", run=run, host=LOOPBACK,
                c2s=self.ports.c2s, component=self.ports.component, domain=DOMAIN, component_domain=COMPONENT,
                secret=self.secret,
            )
        )  # fmt: skip
        for user in USERS:
            subprocess.run(
                ["prosodyctl", "--config", str(config), "register", user, DOMAIN, PASSWORD],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
        say(f"starting Prosody (log: {run / 'prosody.log'})")
        self.launch(
            "prosody", ["prosody", "-F", "--config", str(config)], cwd=run,
            ready=lambda: tcp_accepts(self.ports.c2s) and tcp_accepts(self.ports.component),
        )  # fmt: skip

    def start_kamailio(self) -> None:
        run = RUN / "kamailio"
        database = run / "kamailio.sqlite"
        values = {
            "KAMAILIO_HOST": LOOPBACK,
            "KAMAILIO_PORT": str(self.ports.kamailio),
            "KAMAILIO_DB": database,
        }
        config = KAMAILIO_CFG.read_text()
        for name, value in values.items():
            config, count = re.subn(
                rf'^#!substdef "!{name}!.*$', f'#!substdef "!{name}!{value}!g"', config, flags=re.MULTILINE
            )
            assert count == 1, f"{KAMAILIO_CFG}: no #!substdef for {name}"
        (run / "kamailio.cfg").write_text(config)
        sql = b"".join((SQL_DIR / n).read_bytes() for n in ("standard-create.sql", "presence-create.sql"))
        subprocess.run(["sqlite3", str(database)], input=sql, check=True, capture_output=True, timeout=30)
        say(f"starting Kamailio (log: {run / 'kamailio.log'})")
        self.launch(
            "kamailio",
            [
                "kamailio", "-DD", "-E", "-A", "DEMO_FOCUS", "-f", str(run / "kamailio.cfg"), "-Y", str(run),
                "-P", str(run / "kamailio.pid"), "-m", "64", "-M", "8",
            ],
            cwd=run, ready=lambda: sip_options_answered(self.ports.kamailio), timeout=20,
        )  # fmt: skip

    def publish_conference(self) -> None:
        """The bridge's conference state for `weekly`: a document PUBLISHed into Kamailio by sipp."""
        result = run_sipp(
            "conf_publish_uac.xml", self.ports.kamailio, RUN / "sipp", service="weekly", name="publish"
        )
        if not result.ok:
            raise RuntimeError(f"publishing the conference state failed:\n{result}")

    @property
    def gateway_config(self) -> Path:
        return RUN / "gateway" / "gateway.toml"

    def start_gateway(self) -> None:
        self.gateway_config.write_text(
            "# written by scripts/run: the gateway beside this run's Prosody and Kamailio\n"
            f'[xmpp]\ncomponent = "{COMPONENT}"\nsecret = "{self.secret}"\n'
            f'host = "{LOOPBACK}"\nport = {self.ports.component}\n\n'
            f'[sip]\ndomain = "{SIP_DOMAIN}"\n'
            f'listen = ["udp:{LOOPBACK}:{self.ports.sip}", "tcp:{LOOPBACK}:{self.ports.sip}"]\n\n'
            '[logging]\nformat = "console"\nlevel = "info"\n\n'
            "[media]                         # the stand-in bridge and mixer send no media: calls last an hour\n"
            'address = "127.0.0.1"\nsilence_timeout_s = 3600\n\n'
            "[[rooms]]                       # XMPP clients call it; the bridge's focus is Kamailio here\n"
            f'name = "weekly"\nsip_focus = "sip:weekly@{LOOPBACK}:{self.ports.kamailio}"\n\n'
            "[[rooms]]                       # SIP phones call it; the mixer is run by scripts/run\n"
            f'name = "standup"\nxmpp_focus = "{MIXER}"\n'
        )
        log = RUN / "gateway" / "coin-gateway.log"
        say(f"starting coin-gateway (log: {log})")
        self.launch(
            "coin-gateway",
            [sys.executable, "-m", "gatewayd.main", "run", "--config", str(self.gateway_config)],
            cwd=RUN / "gateway", env={"PYTHONPATH": str(ROOT)}, ready=lambda: b"component link up" in log.read_bytes(), timeout=30,
        )  # fmt: skip

    def start(self) -> None:
        self.start_prosody()
        self.start_kamailio()
        self.publish_conference()
        self.start_gateway()

    # -- stop --------------------------------------------------------------------------------------------------

    def exited(self) -> list[str]:
        return [process.name for process in self.processes if not process.alive()]

    def stop(self) -> None:
        for process in reversed(self.processes):
            say(f"stopping {process.name} (pid {process.pid})")
            process.stop(timeout=10)
        self.processes.clear()

    # -- what to tell -----------------------------------------------------------------------------------------

    def banner(self) -> str:
        p = self.ports
        lines = [
            "",
            "coin-gateway is running on loopback:",
            f"  Prosody        c2s 127.0.0.1:{p.c2s} (no TLS), users alice, bob @{DOMAIN} (password '{PASSWORD}')",
            f"                 component {COMPONENT} on 127.0.0.1:{p.component}",
            f"  Kamailio       udp:127.0.0.1:{p.kamailio}: the conference state of the bridge behind 'weekly',",
            "                 and its focus (answers INVITEs)",
            f"  coin-gateway   SIP udp/tcp 127.0.0.1:{p.sip}, rooms weekly and standup   ({self.gateway_config})",
            f"  mixer          {MIXER}: the XMPP mixer behind 'standup' ({', '.join(MIXER_PARTICIPANTS)} in it)",
            "",
            "Try it:",
            f"  XMPP -> SIP bridge: log in as alice@{DOMAIN} / {PASSWORD} with an XMPP client (server 127.0.0.1,",
            f"    port {p.c2s}, no TLS) and call weekly@{COMPONENT} (Jingle audio): the bridge's participants",
            "    arrive as Coin (XEP-0298).",
            "  SIP -> XMPP room: a SIP phone joins standup and subscribes to it (sipp writes every message to",
            "    ./phone_joins_room_uac_PID_messages.log: the NOTIFY carries the mixer's state in SIP form):",
            f"    sipp -sf {SCENARIOS / 'phone_joins_room_uac.xml'} -s standup -key expect alice -m 1 \\",
            f"         -i 127.0.0.1 -ci 127.0.0.1 -mi 127.0.0.1 -trace_msg 127.0.0.1:{p.sip}",
            "  The bridge's conference state, straight from Kamailio (a SUBSCRIBE and its NOTIFY):",
            f"    sipp -sf {SCENARIOS / 'conf_sub_uac.xml'} -s weekly -m 1 \\",
            f"         -i 127.0.0.1 -ci 127.0.0.1 -mi 127.0.0.1 -trace_msg 127.0.0.1:{p.kamailio}",
            f"  Logs: {RUN}/*/*.log",
            "",
            "Ctrl-C stops all of it.",
        ]
        return "\n".join(lines)


# -- the mixer behind standup ---------------------------------------------------------------------------------


async def run_mixer(client: LiveClient) -> None:
    """Answers each session-initiate with its conference state (Coin) and a session-accept with isfocus."""
    version = 0
    while True:
        iq = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=10**9)
        jingle = iq.find(f"{{{JINGLE}}}jingle")
        assert jingle is not None
        caller, sid = iq.get("from", ""), jingle.get("sid", "")
        client.send(f'<iq xmlns="{CLIENT}" type="result" id="{iq.get("id")}" to="{caller}"/>')
        if jingle.get("action") != "session-initiate":
            continue
        version += 1
        people = "".join(
            f'<user entity="xmpp:{user}" state="full"><display-text>{user.split("@")[0].title()}</display-text>'
            f'<endpoint entity="xmpp:{user}/laptop" state="full"><status>connected</status></endpoint></user>'
            for user in MIXER_PARTICIPANTS
        )
        client.send(
            f'<iq xmlns="{CLIENT}" type="set" id="coin-{sid}" to="{caller}"><conference-info xmlns="{CI}" '
            f'entity="xmpp:{MIXER.split("/", maxsplit=1)[0]}" state="full" version="1" sid="{sid}">'
            f"<users>{people}</users></conference-info></iq>"
        )
        content = jingle.find(f"{{{JINGLE}}}content")
        answer = MIXER_ANSWER.replace(
            "NAME", content.get("name", "audio") if content is not None else "audio"
        )
        client.send(
            f'<iq xmlns="{CLIENT}" type="set" id="accept-{sid}" to="{caller}"><jingle xmlns="{JINGLE}" '
            f'action="session-accept" sid="{sid}" responder="{client.boundjid.full}">'
            f"{answer}"
            '<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/></jingle></iq>'
        )


# -- the check ------------------------------------------------------------------------------------------------


async def check_xmpp_joins_weekly(ports: Ports) -> str:
    """alice calls weekly@component: accepted as a focus, then the bridge's state as Coin."""
    client = LiveClient(f"alice@{DOMAIN}/check", PASSWORD, auto_result=True)
    await client.login(ports.c2s)
    room = f"weekly@{COMPONENT}"
    try:
        client.send(
            f'<iq xmlns="{CLIENT}" type="set" id="call" to="{room}"><jingle xmlns="{JINGLE}" '
            f'action="session-initiate" initiator="{client.boundjid.full}" sid="check1">{OFFER}</jingle></iq>'
        )
        if (await client.iq_answer("call", 15)).get("type") != "result":
            raise RuntimeError("the call to weekly was refused")
        accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=15)
        jingle = accept.find(f"{{{JINGLE}}}jingle")
        if jingle is None or jingle.get("action") != "session-accept":
            raise RuntimeError(f"weekly did not accept the call: {etree.tostring(accept)!r}")
        client.send(f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{accept.get("from")}"/>')
        document = await client.coin(timeout=15)
        users = [user.get("entity", "") for user in document.iter(f"{{{CI}}}user")]
        if not users:
            raise RuntimeError("the Coin document names nobody")
        client.send(
            f'<iq xmlns="{CLIENT}" type="set" id="bye" to="{room}"><jingle xmlns="{JINGLE}" '
            'action="session-terminate" sid="check1"><reason><success/></reason></jingle></iq>'
        )
        await client.iq_answer("bye", 15)
        return f"alice joined weekly and got the bridge's state as Coin: {', '.join(users)}"
    finally:
        await client.logout()


def check_sip_joins_standup(ports: Ports) -> str:
    """A phone calls standup: 200 with isfocus, then its SUBSCRIBE gets the mixer's state (in sip form)."""
    result = run_sipp(
        "phone_joins_room_uac.xml", ports.sip, RUN / "sipp", service="standup", name="phone",
        keys={"expect": "entity=.sip:alice%40localhost@" + SIP_DOMAIN}, timeout=30,
    )  # fmt: skip
    if not result.ok:
        raise RuntimeError(f"the phone could not join standup:\n{result}")
    return (
        "a SIP phone (sipp) joined standup and got the mixer's state in a NOTIFY (sip:alice%40localhost@...)"
    )


def check_subscribe_answered(ports: Ports) -> str:
    """A SUBSCRIBE to a room by someone not in it: answered 403 (the default policy)."""
    result = run_sipp(
        "subscribe_only_uac.xml", ports.sip, RUN / "sipp", service="weekly", name="stranger", timeout=15
    )
    if not result.ok:
        raise RuntimeError(f"a SUBSCRIBE to weekly was not answered 403:\n{result}")
    return "a SUBSCRIBE to sip:weekly@ from a stranger was answered 403 (policy: participants)"


async def run_check(tryout: Tryout) -> bool:
    ok = True
    for name, check in (
        ("XMPP client -> SIP bridge", lambda: check_xmpp_joins_weekly(tryout.ports)),
        ("SIP phone -> XMPP room", lambda: asyncio.to_thread(check_sip_joins_standup, tryout.ports)),
        ("room subscription policy", lambda: asyncio.to_thread(check_subscribe_answered, tryout.ports)),
    ):
        try:
            say(f"check ok: {name}: {await check()}")
        except Exception as exc:
            ok = False
            say(f"check FAILED: {name}: {exc}")
    dead = tryout.exited()
    if dead:
        ok = False
        say(f"check FAILED: exited meanwhile: {', '.join(dead)}")
    return ok


# -- main -----------------------------------------------------------------------------------------------------


async def main_async(tryout: Tryout, check: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mixer = LiveClient(MIXER, PASSWORD)
    mixer_task: asyncio.Task[None] | None = None
    try:
        await mixer.login(tryout.ports.c2s)
        mixer_task = loop.create_task(run_mixer(mixer))
        if check:
            checking = loop.create_task(run_check(tryout))
            stopping = loop.create_task(stop.wait())
            await asyncio.wait({checking, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not checking.done():
                checking.cancel()
                say("check interrupted (Ctrl-C / SIGTERM)")
                return 1
            return 0 if checking.result() else 1
        if not stop.is_set():
            print(tryout.banner(), flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            dead = tryout.exited()
            if dead:
                say(f"exited: {', '.join(dead)} (see its log in {RUN}); stopping the rest")
                return 1
        print(flush=True)
        say("stopping (Ctrl-C / SIGTERM)")
        return 0
    finally:
        if mixer_task is not None:
            mixer_task.cancel()
        with contextlib.suppress(Exception):
            await mixer.logout()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="bring everything up, check it end to end once, stop (exit 0/1)"
    )
    args = parser.parse_args(argv)
    # SIGTERM before the event loop runs (while starting) stops everything too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tryout = Tryout(Ports.pick())
    try:
        tryout.start()
        return asyncio.run(main_async(tryout, args.check))
    except KeyboardInterrupt:
        say("interrupted while starting")
        return 0
    except Exception as exc:
        say(f"FAILED: {exc}")
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # stopping is not interrupted: nothing is left behind
            signal.signal(sig, signal.SIG_IGN)
        started = time.monotonic()
        tryout.stop()
        say(f"stopped everything ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
