"""Small lxml helpers shared by the XMPP stanza modules."""

from __future__ import annotations

from typing import Any

from lxml import etree


def element(namespace: str, local: str) -> etree._Element:
    """`<local xmlns='namespace'/>`, with the namespace as the default (no prefix on the wire)."""
    nsmap: Any = {None: namespace}  # lxml-stubs do not allow the None (default namespace) key
    return etree.Element("{" + namespace + "}" + local, nsmap=nsmap)
