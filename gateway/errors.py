"""The errors the conference-info core raises. Each says what is wrong, and where when it knows."""

from __future__ import annotations


class DocumentError(ValueError):
    """A conference-info document is not well-formed, not valid, or exceeds a limit.

    `path` is the element path (e.g. `/conference-info/users/user[2]`) and `line` the line in the input,
    when known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.reason = message
        self.path = path
        self.line = line
        where = ", ".join(
            part for part in (f"at {path}" if path else "", f"line {line}" if line else "") if part
        )
        super().__init__(f"{message} ({where})" if where else message)


class ElementValueError(ValueError):
    """A value the schema admits but the model cannot hold (a duplicate key, a year beyond 9999), found in
    `element` (an lxml element: the parser turns this into a DocumentError with its path and line)."""

    def __init__(self, message: str, element: object) -> None:
        self.element = element
        super().__init__(message)


class MergeError(ValueError):
    """Base of the errors `merge` raises; the local state is unchanged when one is raised."""


class StaleDocumentError(MergeError):
    """The incoming document's version is not newer than the local one: discard it."""

    def __init__(self, local_version: int | None, incoming_version: int | None) -> None:
        self.local_version = local_version
        self.incoming_version = incoming_version
        super().__init__(
            f"stale document: version {incoming_version} is not newer than the local version {local_version}"
        )


class NeedsFullStateError(MergeError):
    """Updates were lost or the states disagree: the receiver must ask for full state.

    On SIP this means refreshing the subscription; on XMPP, asking the mixer for a full document.
    """

    def __init__(self, reason: str, *, local_version: int | None, incoming_version: int | None) -> None:
        self.reason = reason
        self.local_version = local_version
        self.incoming_version = incoming_version
        super().__init__(
            f"needs full state: {reason} (local version {local_version}, incoming version {incoming_version})"
        )


class VersionOverflowError(ValueError):
    """A recipient's 32-bit version counter is exhausted: its subscription must be restarted."""
