"""docker-compose.yml (the gateway, Prosody, Kamailio) against config.example.toml.

No Docker engine runs here, so the compose file is checked by docker-compose itself (`config -q`, and its
resolved form parsed as YAML), and the Prosody and Kamailio configurations it mounts are checked by Prosody
and Kamailio (`prosodyctl check config`, `kamailio -c`). Nothing is skipped: scripts/bootstrap installs
docker-compose, Prosody and Kamailio, and a missing one fails these tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE = ROOT / "config.example.toml"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed (scripts/bootstrap installs it)"
    return path


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker-compose"), "-f", str(COMPOSE), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """`docker-compose config` (the file as docker-compose resolves it), parsed by a YAML parser: the one
    docker-compose runs with (Debian's docker-compose depends on python3-yaml; our venv has none)."""
    done = compose("config")
    assert done.returncode == 0, done.stderr
    interpreter = Path(tool("docker-compose")).read_text(errors="replace").splitlines()[0]
    assert interpreter.startswith("#!"), interpreter
    as_json = subprocess.run(
        [*interpreter[2:].split(), "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
        input=done.stdout, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(as_json.stdout)
    return result


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(EXAMPLE, environ={})


def mounted(service: dict[str, Any], target: str) -> Path:
    """The host file that `service` mounts at `target`."""
    for volume in service.get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target:
            return Path(source)
    raise AssertionError(f"nothing is mounted at {target}: {service.get('volumes')}")


def test_docker_compose_validates_the_file() -> None:
    done = compose("config", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_the_three_services_share_the_hosts_network(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"gateway", "prosody", "kamailio"}
    # the example config's 127.0.0.1 addresses are the host's loopback, for all three
    assert all(service["network_mode"] == "host" for service in services.values())
    assert not any("ports" in service for service in services.values())
    assert set(services["gateway"]["depends_on"]) == {"prosody", "kamailio"}
    gateway_build = services["gateway"]["build"]
    assert (Path(gateway_build["context"]) / gateway_build["dockerfile"]).is_file()
    for name in ("prosody", "kamailio"):
        assert (Path(services[name]["build"]["context"]) / "Dockerfile").is_file()


def test_the_gateway_runs_config_example_toml_unchanged(resolved: dict[str, Any]) -> None:
    gateway = resolved["services"]["gateway"]
    command = gateway["command"]
    target = command[command.index("--config") + 1]
    assert command[command.index("--config") - 1] == "run"
    assert mounted(gateway, target) == EXAMPLE


def prosody_config(resolved: dict[str, Any]) -> str:
    path = mounted(resolved["services"]["prosody"], "/etc/prosody/prosody.cfg.lua")
    return path.read_text()


def lua_list(config: str, name: str) -> list[str]:
    match = re.search(rf"^{name}\s*=\s*\{{([^}}]*)\}}", config, re.MULTILINE)
    assert match is not None, name
    return [item.strip().strip('"') for item in match.group(1).split(",") if item.strip()]


def lua_string(config: str, name: str) -> str:
    match = re.search(rf'^\s*{name}\s*=\s*"([^"]*)"', config, re.MULTILINE)
    assert match is not None, name
    return match.group(1)


def test_prosodys_component_is_the_one_the_gateway_connects_to(
    resolved: dict[str, Any], example: Config
) -> None:
    config = prosody_config(resolved)
    global_part, _, component_part = config.partition(f'Component "{example.xmpp.component}"')
    assert component_part, f"no Component {example.xmpp.component!r} in Prosody's configuration"
    assert lua_string(component_part, "component_secret") == example.xmpp.secret
    assert tomllib.loads(EXAMPLE.read_text())["xmpp"]["secret"] == example.xmpp.secret  # not from the env
    assert lua_list(global_part, "component_ports") == [str(example.xmpp.port)]
    assert lua_string(global_part, "component_interface") == example.xmpp.host


def test_prosody_hosts_the_domain_of_the_xmpp_rooms_mixer(resolved: dict[str, Any], example: Config) -> None:
    config = prosody_config(resolved)
    hosts = re.findall(r'^VirtualHost "([^"]+)"', config, re.MULTILINE)
    mixers = [room.xmpp_focus for room in example.rooms if room.xmpp_focus is not None]
    assert mixers
    for mixer in mixers:
        assert mixer.split("@", 1)[1].split("/", 1)[0] in hosts
    assert lua_list(config, "interfaces") == ["127.0.0.1"]  # loopback only, like the gateway


def test_prosody_accepts_its_configuration(resolved: dict[str, Any]) -> None:
    path = mounted(resolved["services"]["prosody"], "/etc/prosody/prosody.cfg.lua")
    done = subprocess.run(
        [tool("prosodyctl"), "--config", str(path), "check", "config"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def kamailio_config(resolved: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    path = mounted(resolved["services"]["kamailio"], "/etc/kamailio/kamailio.cfg")
    values = dict(re.findall(r'^#!substdef "!(\w+)!([^!]*)!g"$', path.read_text(), re.MULTILINE))
    return path, values


def test_kamailio_and_the_gateway_listen_on_different_sip_ports(
    resolved: dict[str, Any], example: Config
) -> None:
    _, values = kamailio_config(resolved)
    assert values["KAMAILIO_HOST"] == "127.0.0.1"
    listeners = example.sip.listeners()
    assert {(protocol, host) for protocol, host, _ in listeners} == {
        ("udp", "127.0.0.1"),
        ("tcp", "127.0.0.1"),
    }
    # one network for all three: the gateway's SIP port (5060) is its own, Kamailio has another
    assert int(values["KAMAILIO_PORT"]) not in {port for _, _, port in listeners}
    assert int(values["KAMAILIO_PORT"]) != example.xmpp.port


def test_kamailio_accepts_its_configuration(resolved: dict[str, Any]) -> None:
    path, _ = kamailio_config(resolved)
    for extra in ([], ["-A", "DEMO_FOCUS"]):  # as docker-compose runs it, and as scripts/run does
        done = subprocess.run(
            [tool("kamailio"), "-c", "-f", str(path), *extra],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
