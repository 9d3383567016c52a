"""A real XMPP client for the live tests: slixmpp logged in to Prosody over c2s (no TLS, loopback).

After login every stanza it receives is kept, as an lxml element, in `inbox` (slixmpp's own handlers do not
see them), and the test sends raw XML with `send`. It answers nothing by itself unless `auto_result` is set
(Coin IQs then get an empty result, as Conversations does; Dino answers nothing).
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from lxml import etree
from slixmpp import ClientXMPP

CLIENT = "jabber:client"
CI = "urn:ietf:params:xml:ns:conference-info"


class LiveClient(ClientXMPP):  # type: ignore[misc]
    def __init__(self, jid: str, password: str, *, auto_result: bool = True) -> None:
        super().__init__(jid, password, plugin_config={"feature_mechanisms": {"unencrypted_scram": True}})
        self.enable_direct_tls = False
        self.auto_result = auto_result
        self.inbox: asyncio.Queue[etree._Element] = asyncio.Queue()
        self.started = asyncio.Event()
        self.add_event_handler("session_start", lambda _: self.started.set())

    async def login(self, port: int, timeout: float = 10.0) -> None:
        self.connect(host="127.0.0.1", port=port)
        await asyncio.wait_for(self.started.wait(), timeout)

    async def logout(self) -> None:
        if self.transport is not None:
            await asyncio.wait_for(self.disconnect(wait=1.0), 3.0)
        self.cancel_connection_attempt()
        task = getattr(self, "_run_out_filters", None)
        if task is not None:
            task.cancel()

    def _spawn_event(self, xml: ET.Element) -> None:
        if not self.started.is_set() or not xml.tag.startswith("{" + CLIENT + "}"):
            super()._spawn_event(xml)
            return
        element = etree.fromstring(ET.tostring(xml))
        if (
            self.auto_result
            and element.tag == f"{{{CLIENT}}}iq"
            and element.get("type") == "set"
            and element.find(f"{{{CI}}}conference-info") is not None
        ):
            self.send(
                f'<iq xmlns="{CLIENT}" type="result" id="{element.get("id")}" to="{element.get("from")}"/>'
            )
        self.inbox.put_nowait(element)

    def send(self, data: Any, use_filters: bool = True) -> None:
        if isinstance(data, str):
            self.send_raw(data)
        else:
            super().send(data, use_filters)

    async def next(self, match: Callable[[etree._Element], bool], timeout: float = 10.0) -> etree._Element:
        """The next received stanza that `match` accepts (others received meanwhile are dropped)."""

        async def wait() -> etree._Element:
            while True:
                stanza = await self.inbox.get()
                if match(stanza):
                    return stanza

        return await asyncio.wait_for(wait(), timeout)

    async def iq_answer(self, iq_id: str, timeout: float = 10.0) -> etree._Element:
        return await self.next(
            lambda s: s.get("id") == iq_id and s.get("type") in ("result", "error"), timeout
        )

    async def coin(self, timeout: float = 10.0) -> etree._Element:
        """The next Coin IQ's conference-info document."""
        iq = await self.next(lambda s: s.find(f"{{{CI}}}conference-info") is not None, timeout)
        document = iq.find(f"{{{CI}}}conference-info")
        assert document is not None
        return document
