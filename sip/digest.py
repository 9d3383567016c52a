"""HTTP Digest authentication for requests we send (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

A bridge or proxy that challenges (`401` + `WWW-Authenticate`, `407` + `Proxy-Authenticate`) gets the same
request again with `Authorization`/`Proxy-Authorization`, computed from the credentials the caller supplied
(from configuration). Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess; `qop=auth` or none (`auth-int` is
not offered by SIP servers in practice and is refused here).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sipmessage import AuthCredentials, AuthParameters

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class DigestError(ValueError):
    """A challenge we cannot answer (unknown scheme, algorithm or qop)."""


@dataclass(frozen=True)
class Credentials:
    """A username and password, for one realm or (realm None) for any realm that challenges."""

    username: str
    password: str
    realm: str | None = None

    def matches(self, realm: str) -> bool:
        return self.realm is None or self.realm == realm


def _hash(algorithm: str, text: str) -> str:
    return _HASHES[algorithm](text.encode("utf-8")).hexdigest()


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """The scheme and parameters of a WWW-Authenticate/Proxy-Authenticate value.

    Quote-aware: sipmessage's `AuthChallenge.parse` splits at every comma, so the common
    `qop="auth,auth-int"` makes it raise.
    """
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    index = 0
    while index < len(rest):
        while index < len(rest) and rest[index] in " \t,":
            index += 1
        if index >= len(rest):
            break
        equals = rest.find("=", index)
        if equals < 0:
            raise DigestError(f"bad challenge parameter in {value!r}")
        name = rest[index:equals].strip().lower()
        index = equals + 1
        while index < len(rest) and rest[index] in " \t":
            index += 1
        if index < len(rest) and rest[index] == '"':
            index += 1
            chars: list[str] = []
            while index < len(rest) and rest[index] != '"':
                if rest[index] == "\\" and index + 1 < len(rest):
                    index += 1
                chars.append(rest[index])
                index += 1
            if index >= len(rest):
                raise DigestError(f"unterminated quoted string in {value!r}")
            index += 1
            params[name] = "".join(chars)
        else:
            end = rest.find(",", index)
            end = len(rest) if end < 0 else end
            params[name] = rest[index:end].strip()
            index = end
    return scheme, params


def digest_response(
    challenge: str,
    *,
    method: str,
    uri: str,
    credentials: Credentials,
    nonce_count: int = 1,
    cnonce: str | None = None,
) -> AuthCredentials:
    """The credentials answering `challenge` (a raw WWW-/Proxy-Authenticate value) for `method uri`.

    `uri` is the Request-URI as sent (the digest-uri). `nonce_count` counts requests made with the same
    nonce (RFC 2617 §3.2.2).
    """
    scheme, params = parse_challenge(challenge)
    if scheme.lower() != "digest":
        raise DigestError(f"unsupported authentication scheme {scheme!r}")
    realm = params.get("realm", "")
    nonce = params.get("nonce")
    if nonce is None:
        raise DigestError("challenge without nonce")
    algorithm_token = params.get("algorithm", "MD5")
    algorithm = algorithm_token.upper()
    session = algorithm.endswith("-SESS")
    base = algorithm.removesuffix("-SESS")
    if base not in _HASHES:
        raise DigestError(f"unsupported digest algorithm {algorithm_token!r}")
    qops = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise DigestError(f"unsupported qop {params['qop']!r} (only auth)")
    qop = "auth" if qops else None
    if cnonce is None:
        cnonce = secrets.token_hex(8)

    ha1 = _hash(base, f"{credentials.username}:{realm}:{credentials.password}")
    if session:
        ha1 = _hash(base, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(base, f"{method}:{uri}")
    nc = f"{nonce_count:08x}"
    if qop:
        response = _hash(base, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    else:
        response = _hash(base, f"{ha1}:{nonce}:{ha2}")

    fields: dict[str, str] = {
        "username": credentials.username,
        "realm": realm,
        "nonce": nonce,
        "uri": uri,
        "response": response,
        "algorithm": algorithm_token,
    }
    if "opaque" in params:
        fields["opaque"] = params["opaque"]
    if qop:
        fields |= {"qop": qop, "nc": nc, "cnonce": cnonce}
    return AuthCredentials(scheme="Digest", parameters=_Params(**fields))


class _Params(AuthParameters):
    """sipmessage quotes `qop` in credentials; RFC 2617 §3.2.2 writes it (and nc) unquoted."""

    def __str__(self) -> str:
        bits = []
        for key, value in self.items():
            if key in ("qop", "nc", "algorithm"):
                bits.append(f"{key}={value}")
            else:
                escaped = value.replace("\\", "\\\\").replace('"', '\\"')
                bits.append(f'{key}="{escaped}"')
        return ", ".join(bits)
