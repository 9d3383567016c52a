"""The configuration file: the example validates, every problem is reported at once, secrets from env."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_the_example_configuration_is_valid() -> None:
    config = load_config(EXAMPLE, environ={})
    assert config.xmpp.component == "sip.example.org" and config.sip.domain == "gw.example.org"
    assert [room.name for room in config.rooms] == ["weekly", "standup"]
    assert config.limits.parse_limits().max_bytes == 1 << 20
    addresses = config.address_map()
    assert addresses.to_xmpp("sip:alice@example.net") == "xmpp:alice\\40example.net@sip.example.org"


def test_secret_from_the_environment_wins() -> None:
    assert load_config(EXAMPLE, environ={"COIN_GATEWAY_XMPP_SECRET": "s3cret"}).xmpp.secret == "s3cret"


def test_every_problem_is_listed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[xmpp]\ncomponent = ""\nsecret = "x"\nport = 70000\n'
        '[sip]\ndomain = "gw.example.org"\nlisten = ["carrier-pigeon"]\n'
        '[[rooms]]\nname = "a"\n'
        '[[rooms]]\nname = "b"\nsip_focus = "sip:b@h"\nxmpp_focus = "m@h"\n'
        "[surprise]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(bad, environ={})
    problems = "\n".join(caught.value.problems)
    for where in ("xmpp.component", "xmpp.port", "sip.listen.0", "rooms.0", "rooms.1", "surprise"):
        assert where in problems, where
    assert len(caught.value.problems) >= 6


def test_unreadable_and_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[xmpp\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, environ={})


def test_duplicate_room_names(tmp_path: Path) -> None:
    path = tmp_path / "dup.toml"
    path.write_text(
        '[xmpp]\ncomponent = "c.example"\nsecret = "x"\n[sip]\ndomain = "g.example"\n'
        '[[rooms]]\nname = "a"\nsip_focus = "sip:a@h"\n[[rooms]]\nname = "a"\nsip_focus = "sip:b@h"\n'
    )
    with pytest.raises(ConfigError, match="unique"):
        load_config(path, environ={})


BASE = '[xmpp]\ncomponent = "c.example"\nsecret = "x"\n[sip]\ndomain = "g.example"\n'


def test_sip_credentials_policy_and_media(tmp_path: Path) -> None:
    path = tmp_path / "full.toml"
    path.write_text(
        BASE + 'min_expires = 30\nmax_expires = 600\nlisten = ["udp:127.0.0.1:5070", "tcp:[::1]:5071"]\n'
        '[[sip.credentials]]\nrealm = "bridge"\nusername = "gw"\npassword_env = "BRIDGE_PW"\n'
        '[policy]\nsubscribe = "domains"\ndomains = ["example.com"]\n'
        "[media]\nport_min = 50000\nport_max = 50100\n"
    )
    config = load_config(path, environ={"BRIDGE_PW": "pw"})
    assert config.sip.credentials[0].password == "pw"
    assert config.sip.listeners() == [("udp", "127.0.0.1", 5070), ("tcp", "::1", 5071)]
    assert config.policy.subscribe == "domains" and config.media.port_max == 50100
    with pytest.raises(ConfigError, match="BRIDGE_PW is not set"):
        load_config(path, environ={})


def test_inconsistent_sip_and_media_settings(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        BASE + 'min_expires = 600\nmax_expires = 60\nlisten = ["tls:127.0.0.1:5061"]\n'
        "[media]\nport_min = 6000\nport_max = 5000\n[policy]\nsubscribe = 'friends'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    problems = "\n".join(caught.value.problems)
    for text in (
        "min_expires is above max_expires",
        "port_min",
        "policy.subscribe",
    ):
        assert text in problems, text
    # cross-field checks of a section run once its fields are valid: a bad credential is reported first
    path.write_text(BASE + '[[sip.credentials]]\nrealm = "r"\nusername = "u"\n')
    with pytest.raises(ConfigError, match="exactly one of password"):
        load_config(path, environ={})


@pytest.mark.parametrize(("depth", "valid"), [(256, True), (257, False)])
def test_the_document_depth_limit_stays_within_libxml2s(tmp_path: Path, depth: int, valid: bool) -> None:
    path = tmp_path / "depth.toml"
    path.write_text(EXAMPLE.read_text().replace("max_document_depth = 64", f"max_document_depth = {depth}"))
    if valid:
        assert load_config(path, environ={}).limits.parse_limits().max_depth == depth
    else:
        with pytest.raises(ConfigError, match=r"limits\.max_document_depth"):
            load_config(path, environ={})
