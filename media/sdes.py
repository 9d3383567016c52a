"""SDES-SRTP (RFC 4568 `a=crypto`, RTP/SAVP) for the SIP leg: keys exchanged in the SDP, SRTP by
libsrtp (pylibsrtp, which aiortc already brings). Suites: AES_CM_128_HMAC_SHA1_80 (preferred) and
AES_CM_128_HMAC_SHA1_32. Key lifetimes and MKIs are refused (a peer that needs them falls back to the
other offered crypto line, or the call is refused with 488).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass

import pylibsrtp

from gateway import sdp

SUITES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
KEY_AND_SALT = 30  # 128-bit key + 112-bit salt


class SdesError(ValueError):
    """No usable a=crypto line (SIP: 488)."""


def _inline_key(key_params: str) -> bytes | None:
    """The key||salt of `inline:<base64>`; None with a lifetime, an MKI, or a bad length."""
    if not key_params.startswith("inline:"):
        return None
    text = key_params[len("inline:") :]
    if "|" in text:
        return None
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return key if len(key) == KEY_AND_SALT else None


@dataclass
class SrtpContext:
    """Both directions of one SDES-keyed SRTP stream."""

    suite: str
    local_key: bytes
    remote_key: bytes

    def __post_init__(self) -> None:
        profile = SUITES[self.suite]
        self._tx = pylibsrtp.Session(
            pylibsrtp.Policy(self.local_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND, profile)
        )
        self._rx = pylibsrtp.Session(
            pylibsrtp.Policy(self.remote_key, pylibsrtp.Policy.SSRC_ANY_INBOUND, profile)
        )

    def protect(self, data: bytes) -> bytes:
        return self._tx.protect(data)

    def unprotect(self, data: bytes) -> bytes:
        """Raises pylibsrtp.Error for a forged or replayed packet."""
        return self._rx.unprotect(data)

    def unprotect_rtcp(self, data: bytes) -> bytes:
        return self._rx.unprotect_rtcp(data)


def new_key() -> bytes:
    return os.urandom(KEY_AND_SALT)


def crypto_line(tag: int, suite: str, key: bytes) -> sdp.Crypto:
    return sdp.Crypto(tag=tag, suite=suite, key_params="inline:" + base64.b64encode(key).decode())


def offer_cryptos(key: bytes) -> tuple[sdp.Crypto, ...]:
    """Our offer: one line per suite, the same key (RFC 4568 section 6.1 allows it; the answer picks one)."""
    return tuple(crypto_line(tag, suite, key) for tag, suite in enumerate(SUITES, start=1))


def answer_cryptos(offered: Sequence[sdp.Crypto]) -> tuple[sdp.Crypto, SrtpContext]:
    """RFC 4568 section 6.1: the first offered line we support, answered with the same tag and our key."""
    for line in offered:
        remote = _inline_key(line.key_params)
        if line.suite in SUITES and remote is not None and not line.session_params:
            local = new_key()
            return crypto_line(line.tag, line.suite, local), SrtpContext(line.suite, local, remote)
    raise SdesError("no supported a=crypto line (AES_CM_128_HMAC_SHA1_80/32, inline key, no lifetime/MKI)")


def apply_answer(offered: Sequence[sdp.Crypto], answered: Sequence[sdp.Crypto], key: bytes) -> SrtpContext:
    """The context for the answer to our `offer_cryptos(key)`."""
    for line in answered:
        ours = next((o for o in offered if o.tag == line.tag and o.suite == line.suite), None)
        remote = _inline_key(line.key_params)
        if ours is not None and remote is not None:
            return SrtpContext(line.suite, key, remote)
    raise SdesError("the answer's a=crypto matches none of ours")
