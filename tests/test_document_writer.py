"""The writer's quick test for values that need no escaping never lets through one that does."""

from __future__ import annotations

from gateway.document_writer import _SPECIAL, _plain


def test_a_plain_value_never_holds_what_needs_escaping_or_refusing() -> None:
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates: not in a str from a parser
        c = chr(code)
        if _plain(c):
            assert _SPECIAL(c) is None, hex(code)
    assert not _plain("a&b") and not _plain("<") and not _plain('"') and not _plain("a\tb")
    assert _plain("sip:user1@example.com") and _plain("Zoë")
