"""The gateway's configuration: a TOML file validated with pydantic, secrets also from the environment.

    [xmpp]
    component = "sip.example.org"   # the component's domain
    secret = "change-me"            # or COIN_GATEWAY_XMPP_SECRET
    host = "127.0.0.1"
    port = 5347

    [sip]
    domain = "gw.example.org"       # host part of the gateway's SIP URIs
    listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]

    [addresses]
    shared_domains = []             # domains whose users are the same people on SIP and XMPP

    [[rooms]]                       # XMPP clients call weekly@sip.example.org
    name = "weekly"
    sip_focus = "sip:weekly@bridge.example.com"

    [[rooms]]                       # SIP phones call sip:standup@gw.example.org
    name = "standup"
    xmpp_focus = "mixer@example.org/desk"

Every problem in a file is reported at once (`ConfigError.problems`), each with where it is.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.addresses import AddressError, AddressMap
from gateway.document_parser import ParseLimits

ENV_PREFIX = "COIN_GATEWAY_"


class ConfigError(ValueError):
    """The configuration is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class XmppSection(_Section):
    component: str = Field(min_length=1, description="the component's XMPP domain")
    secret: str = Field(min_length=1, description="the XEP-0114 shared secret")
    host: str = "127.0.0.1"
    port: int = Field(5347, ge=1, le=65535)
    reconnect_initial_ms: int = Field(
        250, ge=10, le=60_000, description="first reconnection delay (doubling)"
    )
    reconnect_max_s: int = Field(30, ge=1, le=3600, description="longest delay between reconnections")


class SipCredentials(_Section):
    """Digest credentials for a realm that challenges our requests (a bridge or a proxy)."""

    realm: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: str | None = Field(None, min_length=1)
    password_env: str | None = Field(None, min_length=1, description="environment variable with the password")

    @model_validator(mode="after")
    def _one_password(self) -> SipCredentials:
        if (self.password is None) == (self.password_env is None):
            raise ValueError("give exactly one of password and password_env")
        return self


class SipSection(_Section):
    domain: str = Field(min_length=1, description="host part of the gateway's SIP URIs")
    listen: list[Annotated[str, Field(pattern=r"^(udp|tcp|tls):[^\s]+:\d{1,5}$")]] = Field(
        default_factory=lambda: ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"], min_length=1
    )
    tls_certificate: Path | None = None  # PEM, for a tls: listener
    tls_key: Path | None = None
    min_expires: int = Field(60, ge=1, description="shortest subscription interval granted (423 below it)")
    max_expires: int = Field(3600, ge=1, description="longest subscription interval granted")
    subscribe_expires: int = Field(3600, ge=10, description="interval asked of the bridges we subscribe to")
    credentials: list[SipCredentials] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SipSection:
        if self.min_expires > self.max_expires:
            raise ValueError("min_expires is above max_expires")
        if any(listener.startswith("tls:") for listener in self.listen) and not (
            self.tls_certificate and self.tls_key
        ):
            raise ValueError("a tls: listener needs tls_certificate and tls_key")
        return self

    def listeners(self) -> list[tuple[str, str, int]]:
        """`(protocol, address, port)` of each listener (an IPv6 address may be written in brackets)."""
        result = []
        for listener in self.listen:
            protocol, rest = listener.split(":", 1)
            host, port = rest.rsplit(":", 1)
            result.append((protocol, host.strip("[]"), int(port)))
        return result


class PolicySection(_Section):
    """Who may subscribe to a room's conference state on SIP."""

    subscribe: Literal["participants", "domains", "anyone"] = "participants"
    domains: list[str] = Field(default_factory=list, description="with subscribe = 'domains'")


class MediaSection(_Section):
    address: str = "127.0.0.1"  # where media sockets bind
    port_min: int = Field(40000, ge=1024, le=65535)
    port_max: int = Field(40999, ge=1024, le=65535)
    silence_timeout_s: int = Field(30, ge=1, le=3600)
    trickle_ice: bool = False  # our ICE candidates in transport-info after the session-accept/initiate

    @model_validator(mode="after")
    def _range(self) -> MediaSection:
        if self.port_min > self.port_max:
            raise ValueError("port_min is above port_max")
        return self


class AddressesSection(_Section):
    shared_domains: list[str] = Field(default_factory=list)


class LimitsSection(_Section):
    max_document_bytes: int = Field(1 << 20, ge=1024)
    max_document_depth: int = Field(64, ge=8, le=256)  # libxml2 refuses deeper documents itself
    max_document_elements: int = Field(100_000, ge=100)
    coalescing_window_ms: int = Field(200, ge=0, le=10_000)

    def parse_limits(self) -> ParseLimits:
        return ParseLimits(self.max_document_bytes, self.max_document_depth, self.max_document_elements)


class LoggingSection(_Section):
    format: Literal["auto", "console", "json"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class Room(_Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    sip_focus: str | None = Field(None, pattern=r"^sips?:")
    xmpp_focus: str | None = None

    @model_validator(mode="after")
    def _one_focus(self) -> Room:
        if (self.sip_focus is None) == (self.xmpp_focus is None):
            raise ValueError("a room has exactly one of sip_focus and xmpp_focus")
        return self


class Config(_Section):
    xmpp: XmppSection
    sip: SipSection
    addresses: AddressesSection = Field(default_factory=AddressesSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    media: MediaSection = Field(default_factory=MediaSection)
    rooms: list[Room] = Field(default_factory=list)

    @field_validator("rooms")
    @classmethod
    def _unique_rooms(cls, rooms: list[Room]) -> list[Room]:
        names = [room.name for room in rooms]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"room names must be unique: {', '.join(duplicates)}")
        return rooms

    def address_map(self) -> AddressMap:
        return AddressMap(
            component_domain=self.xmpp.component,
            sip_domain=self.sip.domain,
            shared_domains=frozenset(self.addresses.shared_domains),
        )


def load_config(path: Path | str, environ: dict[str, str] | None = None) -> Config:
    """Read, validate and cross-check a configuration file. Raises ConfigError listing every problem."""
    environ = dict(os.environ) if environ is None else environ
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    secret = environ.get(ENV_PREFIX + "XMPP_SECRET")
    if secret:
        raw.setdefault("xmpp", {})["secret"] = secret
    problems = []
    sip = raw.get("sip")
    for n, entry in enumerate(sip.get("credentials", []) if isinstance(sip, dict) else []):
        name = entry.get("password_env") if isinstance(entry, dict) else None
        if isinstance(name, str) and name:
            if environ.get(name):
                entry["password"], entry["password_env"] = environ[name], None
                del entry["password_env"]
            else:
                problems.append(
                    f"{path}: sip.credentials.{n}.password_env: {name} is not set in the environment"
                )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems + [_problem(path, error) for error in exc.errors()]) from None
    if problems:
        raise ConfigError(problems)
    try:
        config.address_map()
    except AddressError as exc:
        raise ConfigError([f"{path}: addresses: {exc}"]) from None
    return config


def _problem(path: Path | str, error: object) -> str:
    assert isinstance(error, dict)
    where = ".".join(str(part) for part in error.get("loc", ())) or "(top level)"
    return f"{path}: {where}: {error.get('msg', 'invalid')}"
