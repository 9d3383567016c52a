"""One recipient's view of a conference: what it holds, and the next document to send it.

A recipient is a SIP subscription or a Jingle session. RFC 4575 versions are per recipient: 1 for the first
document sent, +1 for every document, refreshes included, 32-bit unsigned. The first document, and every
refresh, is full; the others are partial, made by `diff` from what the recipient holds to the room's
current state.

Coalescing is the caller's timer: however many changes the room went through since the last document,
`next_document` makes one document that covers them all.
"""

from __future__ import annotations

from gateway.conference_info import MAX_VERSION, ConferenceInfo
from gateway.diff import diff, full_document
from gateway.errors import VersionOverflowError


class RecipientView:
    """The state a recipient holds and the last version it was sent."""

    def __init__(self) -> None:
        self.version = 0  # the last version sent; 0 before the first document
        self.held: ConferenceInfo | None = None  # the state the recipient holds after that document

    def next_document(self, current: ConferenceInfo, *, full: bool = False) -> ConferenceInfo | None:
        """The document that brings the recipient to `current`: full on start or when `full` (a refresh,
        a resync), otherwise partial; None when the recipient already holds `current`.

        Raises VersionOverflowError when the 32-bit version is exhausted: the caller must end this
        subscription or session (the recipient then starts a new one at version 1).
        """
        if self.version >= MAX_VERSION:
            raise VersionOverflowError(f"version {self.version} cannot be incremented")
        version = self.version + 1
        if full or self.held is None:
            document: ConferenceInfo | None = full_document(current, version)
        else:
            document = diff(self.held, current, version=version)
            if document is None:
                return None
        self.version = version
        self.held = current
        return document

    def needs_update(self, current: ConferenceInfo) -> bool:
        """Whether the recipient's copy may differ from `current` (cheap: identity only)."""
        return self.held is not current
