"""One recipient's view of a conference: what it holds, and the next document to send it.

A recipient is a SIP subscription or a Jingle session. RFC 4575 versions are per recipient: 1 for the first
document sent, +1 for every document, refreshes included, 32-bit unsigned. The first document, and every
refresh, is full; the others are partial, made by `diff` from what the recipient holds to the room's
current state.

Coalescing is the caller's timer: however many changes the room went through since the last document,
`next_document` makes one document that covers them all.

Fanning one change out to many recipients, most of them hold the same state at the same version, so they
need the same document: pass one `SharedDocuments` to every `next_document` call of that fan-out and each
distinct document is made once (and, being one object, can be serialised once by the caller).
"""

from __future__ import annotations

from typing import NamedTuple

from gateway.conference_info import MAX_VERSION, ConferenceInfo
from gateway.diff import diff, full_document
from gateway.errors import VersionOverflowError


class _Made(NamedTuple):
    document: ConferenceInfo | None
    held: ConferenceInfo | None  # kept so that the ids in the key stay those of live objects
    current: ConferenceInfo


class SharedDocuments:
    """The documents of one fan-out, by (state held, state to reach, version, full): for one change only."""

    def __init__(self) -> None:
        self._made: dict[tuple[int, int, int, bool], _Made] = {}

    def make(
        self, held: ConferenceInfo | None, current: ConferenceInfo, version: int, full: bool
    ) -> ConferenceInfo | None:
        key = (id(held), id(current), version, full)
        made = self._made.get(key)
        if made is None or made.held is not held or made.current is not current:
            made = self._made[key] = _Made(_document(held, current, version, full), held, current)
        return made.document


def _document(
    held: ConferenceInfo | None, current: ConferenceInfo, version: int, full: bool
) -> ConferenceInfo | None:
    if full or held is None:
        return full_document(current, version)
    return diff(held, current, version=version)


class RecipientView:
    """The state a recipient holds and the last version it was sent."""

    def __init__(self) -> None:
        self.version = 0  # the last version sent; 0 before the first document
        self.held: ConferenceInfo | None = None  # the state the recipient holds after that document

    def next_document(
        self, current: ConferenceInfo, *, full: bool = False, shared: SharedDocuments | None = None
    ) -> ConferenceInfo | None:
        """The document that brings the recipient to `current`: full on start or when `full` (a refresh,
        a resync), otherwise partial; None when the recipient already holds `current`. With `shared`, a
        document another recipient of the same fan-out needed too is that same object.

        Raises VersionOverflowError when the 32-bit version is exhausted: the caller must end this
        subscription or session (the recipient then starts a new one at version 1).
        """
        if self.version >= MAX_VERSION:
            raise VersionOverflowError(f"version {self.version} cannot be incremented")
        version = self.version + 1
        full = full or self.held is None
        if shared is not None:
            document = shared.make(self.held, current, version, full)
        else:
            document = _document(self.held, current, version, full)
        if document is None:
            return None
        self.version = version
        self.held = current
        return document

    def needs_update(self, current: ConferenceInfo) -> bool:
        """Whether the recipient's copy may differ from `current` (cheap: identity only)."""
        return self.held is not current
