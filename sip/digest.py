"""HTTP Digest authentication for requests we send (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

A bridge or proxy that challenges (`401` + `WWW-Authenticate`, `407` + `Proxy-Authenticate`) gets the same
request again with `Authorization`/`Proxy-Authorization`, computed from the credentials the caller supplied
(from configuration). Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess; `qop=auth` or none (`auth-int` is
not offered by SIP servers in practice and is refused here).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sipmessage import AuthCredentials, AuthParameters, Request, Response

log = structlog.get_logger(__name__)

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


def authorize(
    request: Request,
    response: Response,
    credentials: Sequence[Credentials],
    answered: set[tuple[str, str]],
) -> Request | None:
    """A copy of `request` that answers the challenges of `response` (a 401 or 407, RFC 3261 §22.2) with the
    credentials for their realms; None when it answers none. `answered` holds the (header, realm) pairs
    answered so far: credentials a realm refused are not sent again, unless its nonce was stale. Earlier
    credentials for a realm answered here are replaced, those for other realms kept. The caller gives the
    copy its CSeq and Via branch."""
    challenge_header, answer_header = (
        ("WWW-Authenticate", "Authorization") if response.code == 401 else
        ("Proxy-Authenticate", "Proxy-Authorization")
    )  # fmt: skip
    retry = Request(request.method, request.uri, request.body)
    for name in request.headers.keys():  # noqa: SIM118 (Headers has no __iter__)
        retry.headers.setlist(name, list(request.headers.getlist(name)))
    authorized = False
    for value in response.headers.getlist(challenge_header):
        try:
            _scheme, params = parse_challenge(value)
        except DigestError:
            log.info("sip.auth.bad_challenge", value=value)
            continue
        realm = params.get("realm", "")
        stale = params.get("stale", "").lower() == "true"
        if (answer_header, realm) in answered and not stale:
            continue  # our credentials for this realm were refused
        match = next((c for c in credentials if c.matches(realm)), None)
        if match is None:
            continue
        try:
            answer = digest_response(value, method=request.method, uri=str(request.uri), credentials=match)
        except DigestError as exc:
            log.info("sip.auth.unsupported", realm=realm, error=str(exc))
            continue
        _remove_realm(retry, answer_header, realm)
        retry.headers.add(answer_header, str(answer))
        answered.add((answer_header, realm))
        authorized = True
    return retry if authorized else None


def _remove_realm(request: Request, header: str, realm: str) -> None:
    """Drop earlier credentials for `realm` (a stale nonce is answered anew)."""
    kept = []
    for value in request.headers.getlist(header):
        with contextlib.suppress(ValueError):
            parsed = AuthCredentials.parse(value)
            if parsed.parameters is not None and parsed.parameters.get("realm") == realm:
                continue
        kept.append(value)
    if kept:
        request.headers.setlist(header, kept)
    else:
        request.headers.remove(header)
