"""A relayed call's media: two legs, the relay between them, and the watchdog that ends the call when a
leg hears nothing for `silence_timeout` seconds or fails (ICE, DTLS, consent). The owner (the bridge)
learns why through `on_end` once, then tells both signalling sides (a Jingle `session-terminate`, a SIP
BYE); `close()` releases every socket and task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from media.leg import MediaLeg
from media.relay import Relay


@dataclass(frozen=True)
class CallEnded:
    """Why media ended: `leg` is the leg's name ("jingle", "sip") or "" for a local hang-up; `reason` is
    "silence" (nothing received for the timeout), "ice-failed", "dtls-failed", "dtls-closed",
    "ice-restart-unsupported" or "closed". `jingle_reason` and `sip_reason` are what to tell each side
    (XEP-0166 section 7.4 condition; an RFC 3326 Reason header value)."""

    leg: str
    reason: str

    @property
    def jingle_reason(self) -> str:
        if self.reason == "closed":
            return "success"
        return "media-error" if self.reason == "silence" else "connectivity-error"

    @property
    def sip_reason(self) -> str:
        text = {"silence": "RTP timeout", "closed": "Call completed"}.get(self.reason, f"media {self.reason}")
        return f'SIP;cause={200 if self.reason == "closed" else 408};text="{text}"'


EndHandler = Callable[[CallEnded], None]


class MediaCall:
    """Owns `a` and `b` (already negotiated: codecs set). `start()` wires the relay and arms the watchdog;
        a leg that has received nothing since `start()` counts its silence from there. The watchdog also has
    each leg that can send RTCP (the Jingle leg, rtcp-mux) report every `rtcp_interval` seconds."""

    def __init__(
        self,
        a: MediaLeg,
        b: MediaLeg,
        *,
        silence_timeout: float = 30.0,
        rtcp_interval: float = 5.0,
        on_end: EndHandler | None = None,
        opus_complexity: int = 1,
    ) -> None:
        self.a, self.b = a, b
        self.silence_timeout = silence_timeout
        self.rtcp_interval = rtcp_interval
        self.on_end = on_end
        self._opus_complexity = opus_complexity
        self.relay = Relay(a, b, opus_complexity=opus_complexity)
        self.ended: CallEnded | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        now = time.monotonic()
        for leg in (self.a, self.b):
            leg.last_received = max(leg.last_received, now)
            leg.on_failure = self._leg_failed
        self.relay.start()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    def renegotiated(self) -> None:
        """A leg's codecs changed (a re-INVITE, a content-modify): rebuild the relay, forwarding or
        transcoding as the new codecs require. Our outgoing streams start afresh (new SSRCs)."""
        if self.ended is not None:
            return
        self.relay.stop()
        self.relay = Relay(self.a, self.b, opus_complexity=self._opus_complexity)
        self.relay.start()

    async def _watch(self) -> None:
        interval = min(1.0, self.silence_timeout / 4)
        while self.ended is None:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for leg in (self.a, self.b):
                if now - leg.last_received > self.silence_timeout:
                    self._end(CallEnded(leg.name, "silence"))
                    return
                leg.rtcp_due(now, self.rtcp_interval)

    def _leg_failed(self, leg: MediaLeg, reason: str) -> None:
        self._end(CallEnded(leg.name, reason))

    def _end(self, ended: CallEnded) -> None:
        if self.ended is not None:
            return
        self.ended = ended
        self.relay.stop()
        if self.on_end is not None:
            self.on_end(ended)
        self._closing = asyncio.get_running_loop().create_task(self.close())

    async def close(self) -> None:
        """Hang up locally (or finish ending): stop relaying, close both legs, end the watchdog."""
        if self.ended is None:
            self.ended = CallEnded("", "closed")
        self.relay.stop()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        await asyncio.gather(self.a.close(), self.b.close())

    async def wait_closed(self) -> None:
        """Returns once a call ended by the watchdog or a failure has released everything."""
        if self._closing is not None:
            await self._closing
