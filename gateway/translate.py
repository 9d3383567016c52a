"""Translate a whole conference-info document between the sip: and xmpp: address forms.

Every URI-bearing field is mapped with the `AddressMap`: the root and sidebar `entity`, user and endpoint
`entity`, `conf-uris`, `service-uris`, host-info `uris`, `associated-aors`, `cascaded-focus`, every `by`,
`sidebars-by-ref`. Only sip:, sips:, tel: and xmpp: URIs are mapped (an http: web page stays as it is), and
a URI already in the target protocol is only normalised. A URI without a scheme is taken to be an address
of the protocol the document came from (`source`): Kamailio writes SIP entities without `sip:`, Jitsi and
XEP-0298's example write bare JIDs. Every URI in the result has a scheme.

Nothing is lost on the way back:
- a user's original address is kept as an entry of its `associated-aors`, marked with the attribute
  `{urn:xmpp:coin-gateway:0}original="true"` (schema-valid: uri-type admits foreign attributes); translating
  back restores that exact address as the user's entity and removes the entry (an entry that was already
  one of the user's associated-aors is marked `original="aor"` instead, and kept on the way back);
- an endpoint's or conference's entity whose mapping loses something (a GRUU `grid` parameter, a port, the
  case of a SIP user part) is kept in the foreign attribute `{urn:xmpp:coin-gateway:0}original`, and
  restored from it.
Other fields come back in their normalised form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from gateway.addresses import AddressError, AddressMap
from gateway.conference_info import (
    ConferenceDescription,
    ConferenceInfo,
    Endpoint,
    Execution,
    HostInfo,
    Node,
    SidebarsByVal,
    UriEntry,
    Uris,
    User,
    build_trusted,
    replace,
)

GATEWAY_NAMESPACE = "urn:xmpp:coin-gateway:0"
ORIGINAL = "{" + GATEWAY_NAMESPACE + "}original"
_OWN_AOR = "aor"  # ORIGINAL's value on an associated-aors entry that is also the user's own address
_KEPT = frozenset(("true", _OWN_AOR))

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SIP_SCHEMES = frozenset(("sip", "sips", "tel"))
_XMPP_SCHEMES = frozenset(("xmpp",))


class Protocol(StrEnum):
    XMPP = "xmpp"
    SIP = "sip"

    @property
    def other(self) -> Protocol:
        return Protocol.SIP if self is Protocol.XMPP else Protocol.XMPP


ErrorHandler = Callable[[str, AddressError], None]


class AddressForms:
    """Both normalised forms (xmpp, sip) of each address seen, from one mapping each, with a bounded
    memory. A gateway keeps one per address map: the same participants' addresses are translated for
    every document and every recipient, so most look-ups are hits."""

    def __init__(self, addresses: AddressMap, max_entries: int = 65_536) -> None:
        self.addresses = addresses
        self.max_entries = max_entries
        self._known: dict[str, tuple[str, str] | AddressError] = {}
        # What the translator derives from these forms for the commonest nodes (a user without
        # associated-aors, an endpoint without foreign attributes), by direction and address: the parts
        # of the translated node that depend only on its address. Bounded, and cleared with `_known`.
        self.derived: dict[tuple[int, str, str, str], Any] = {}

    def forms(self, schemed: str) -> tuple[str, str]:
        """`(xmpp form, sip form)` of a schemed sip:/sips:/tel:/xmpp: URI; raises AddressError."""
        known = self._known.get(schemed)
        if known is None:
            try:
                known = self.addresses.forms(schemed)
            except AddressError as exc:
                known = exc
            if len(self._known) >= self.max_entries:
                self._known.clear()  # crude but bounded; refilled from the documents that follow
                self.derived.clear()
            self._known[schemed] = known
        if isinstance(known, AddressError):
            raise known
        return known

    def remember(self, key: tuple[int, str, str, str], value: Any) -> None:
        """Keep a derived result (see `derived`), within the same bound as the forms."""
        if len(self.derived) >= self.max_entries:
            self.derived.clear()
        self.derived[key] = value


def translate(
    document: ConferenceInfo,
    addresses: AddressMap | AddressForms,
    to: Protocol,
    *,
    source: Protocol | None = None,
    on_error: ErrorHandler | None = None,
) -> ConferenceInfo:
    """`document` with every address in `to`'s form.

    `source` (default: the other protocol) is the protocol of scheme-less URIs. A URI that cannot be
    mapped raises AddressError, unless `on_error` is given: it is then called with the URI and the error,
    and the URI is kept as it is. Pass an `AddressForms` to keep mappings from one call to the next.
    """
    forms = addresses if isinstance(addresses, AddressForms) else AddressForms(addresses)
    return _Translator(forms, to, source or to.other, on_error).conference(document)


class _Translator:
    def __init__(
        self, forms: AddressForms, to: Protocol, source: Protocol, on_error: ErrorHandler | None
    ) -> None:
        self.forms = forms
        self.target = 0 if to is Protocol.XMPP else 1  # index of the target form in `forms`
        self.source_scheme = "sip:" if source is Protocol.SIP else "xmpp:"
        self.target_scheme = "sip:" if to is Protocol.SIP else "xmpp:"
        self.target_schemes = _XMPP_SCHEMES if to is Protocol.XMPP else _SIP_SCHEMES
        self.on_error = on_error
        self.reported = 0  # errors passed to `on_error` so far (a result that reported one is not kept)

    # -- one URI ---------------------------------------------------------------------------------------

    def _schemed(self, value: str) -> str | None:
        """`value` with a scheme (the source protocol's when it has none); None for schemes not ours."""
        match = _SCHEME.match(value)
        if match is None:
            return self.source_scheme + value
        scheme = match.group(1).lower()
        return value if scheme in _SIP_SCHEMES or scheme in _XMPP_SCHEMES else None

    def _forms(self, value: str) -> tuple[str, str] | None:
        """Both forms of `value`; None when it is not ours to map or (with `on_error`) cannot be mapped."""
        schemed = self._schemed(value)
        if schemed is None:
            return None  # http:, mailto:, im:, ... are not ours to map
        try:
            return self.forms.forms(schemed)
        except AddressError as exc:
            if self.on_error is None:
                raise
            self.reported += 1
            self.on_error(value, exc)
            return None

    def uri(self, value: str) -> str:
        """The URI in the target protocol's form (other schemes unchanged)."""
        forms = self._forms(value)
        return value if forms is None else forms[self.target]

    def _is_target(self, value: str) -> bool:
        match = _SCHEME.match(value)
        return match is not None and match.group(1).lower() in self.target_schemes

    def entity(self, node: Node, value: str) -> tuple[str, dict[str, str]]:
        """Map an entity attribute; returns it and the node's foreign attributes, with the original
        recorded (or restored) so that translating back gives the same string."""
        attributes = dict(node.other_attributes)
        original = attributes.pop(ORIGINAL, None)
        if original is not None and self._same(original, value):
            return original, attributes
        forms = self._forms(value)
        if forms is None:
            return value, attributes
        mapped = forms[self.target]
        # Lossless when the source form the mapping stands for is exactly what was written.
        if mapped != value and forms[1 - self.target] != value:
            attributes[ORIGINAL] = value
        return mapped, attributes

    def _same(self, original: str, value: str) -> bool:
        """Whether `original`, kept when the document was translated away from the target protocol, is
        the address `value` now stands for (a scheme-less original is of the target protocol)."""
        match = _SCHEME.match(original)
        if match is not None and match.group(1).lower() not in self.target_schemes:
            return False
        try:
            kept = original if match is not None else self.target_scheme + original
            current = self._schemed(value)
            if current is None:
                return False
            return self.forms.forms(kept)[0] == self.forms.forms(current)[0]
        except AddressError:
            return False

    # -- the document ----------------------------------------------------------------------------------

    def conference(self, doc: ConferenceInfo) -> ConferenceInfo:
        entity, attributes = self.entity(doc, doc.entity)
        values: dict[str, Any] = {"entity": entity, "other_attributes": attributes}
        if doc.conference_description is not None:
            values["conference_description"] = self.description(doc.conference_description)
        if doc.host_info is not None:
            values["host_info"] = self.host_info(doc.host_info)
        if doc.users is not None:
            users: dict[str, User] = {}
            user_of = self.user
            for user in doc.users.users.values():
                translated = user_of(user)
                key = translated.__dict__["entity"] or ""
                if key in users:
                    self._put(users, key, translated, user.entity or "", original=user, what="users")
                else:
                    users[key] = translated
            values["users"] = replace(doc.users, {"users": users})
        if doc.sidebars_by_ref is not None:
            values["sidebars_by_ref"] = self.uris(doc.sidebars_by_ref, "sidebars-by-ref")
        if doc.sidebars_by_val is not None:
            values["sidebars_by_val"] = self.sidebars(doc.sidebars_by_val)
        return replace(doc, values)

    def _put(
        self,
        target: dict[str, Any],
        key: str,
        translated: Any,
        original_key: str,
        *,
        original: Any,
        what: str,
    ) -> None:
        """File a translated keyed child (user, endpoint, URI entry, sidebar) under its new key. Two that map
        to one address (say `sip:Bob@h` and `sip:bob@h`, as JID localparts ignore case, or `sips:a@h` and
        `sip:a@h`) are an error, never a silent overwrite; with `on_error` the second is reported and keeps
        its original key."""
        if key not in target:
            target[key] = translated
            return
        error = AddressError(f"two {what} map to {key!r}")
        if self.on_error is None:
            raise error
        self.on_error(original_key, error)
        target.setdefault(original_key, original)

    def description(self, d: ConferenceDescription) -> ConferenceDescription:
        conf, service = self.uris(d.conf_uris, "conf-uris"), self.uris(d.service_uris, "service-uris")
        return replace(d, {"conf_uris": conf, "service_uris": service})

    def host_info(self, h: HostInfo) -> HostInfo:
        return replace(h, {"uris": self.uris(h.uris, "host-info uris")})

    def uris(self, uris: Uris | None, name: str) -> Uris | None:
        if uris is None:
            return None
        entries: dict[str, UriEntry] = {}
        for entry in uris.entries.values():
            translated = self.uri_entry(entry)
            self._put(
                entries, translated.uri, translated, entry.uri, original=entry, what=f"entries of {name}"
            )
        return replace(uris, {"entries": entries})

    def uri_entry(self, entry: UriEntry) -> UriEntry:
        values: dict[str, Any] = {"uri": self.uri(entry.uri)}
        if entry.modified is not None:
            values["modified"] = self.execution(entry.modified)
        return replace(entry, values)

    def execution(self, e: Execution | None) -> Execution | None:
        if e is None or e.by is None:
            return e
        return replace(e, {"by": self.uri(e.by)})

    def user(self, user: User) -> User:
        fields = user.__dict__
        entity = fields["entity"]
        if entity and fields["associated_aors"] is None:
            # The common case (a bridge's users): the result's address fields depend on the entity alone.
            memo = (self.target, self.source_scheme, "user", entity)
            known = self.forms.derived.get(memo)
            if known is None:
                reported = self.reported
                known = self._plain_user(entity)
                if self.reported == reported:
                    self.forms.remember(memo, known)
            values: dict[str, Any] = {"entity": known[0], "associated_aors": known[1]}
            return self._user_rest(fields, user, values)
        values = {}
        aors = dict(user.associated_aors.entries) if user.associated_aors is not None else {}
        kept = {k: e for k, e in aors.items() if e.other_attributes.get(ORIGINAL) in _KEPT}
        exact: set[str] = set()  # keys of entries restored exactly (not to be mapped again)
        if user.entity:
            restored = next((k for k, e in kept.items() if self._same(e.uri, user.entity)), None)
            if restored is not None:
                entry = kept[restored]
                values["entity"] = entry.uri
                if entry.other_attributes[ORIGINAL] == _OWN_AOR:  # it was one of the user's aors too: keep it
                    attributes = {k: v for k, v in entry.other_attributes.items() if k != ORIGINAL}
                    aors[restored] = replace(entry, {"other_attributes": attributes})
                    exact.add(restored)
                else:
                    del aors[restored]
            else:
                values["entity"] = self.uri(user.entity)
                if values["entity"] != user.entity and not any(e.uri == user.entity for e in kept.values()):
                    own = aors.get(user.entity)
                    if own is None:
                        aors[user.entity] = build_trusted(
                            UriEntry, {"uri": user.entity, "other_attributes": {ORIGINAL: "true"}}
                        )
                    else:  # the user's address is also one of its aors: mark that entry, keep what it holds
                        marked = {**own.other_attributes, ORIGINAL: _OWN_AOR}
                        aors[user.entity] = replace(own, {"other_attributes": marked})
        translated_aors: dict[str, UriEntry] = {}
        for key, entry in aors.items():
            if key in exact or entry.other_attributes.get(ORIGINAL) in _KEPT:
                translated_aors[key] = entry  # an address in the other protocol, kept as it is
            else:
                mapped = self.uri_entry(entry)
                self._put(
                    translated_aors,
                    mapped.uri,
                    mapped,
                    key,
                    original=entry,
                    what="entries of associated-aors",
                )
        if translated_aors:
            if user.associated_aors is None:
                values["associated_aors"] = build_trusted(Uris, {"entries": translated_aors})
            else:
                values["associated_aors"] = replace(user.associated_aors, {"entries": translated_aors})
        else:
            values["associated_aors"] = None
        return self._user_rest(user.__dict__, user, values)

    def _plain_user(self, entity: str) -> tuple[str, Uris | None]:
        """The entity and associated-aors of a user that has no associated-aors: the mapped entity, and
        the original address kept in a marked entry when the mapping changed it."""
        mapped = self.uri(entity)
        if mapped == entity:
            return mapped, None
        entry = build_trusted(UriEntry, {"uri": entity, "other_attributes": {ORIGINAL: "true"}})
        return mapped, build_trusted(Uris, {"entries": {entity: entry}})

    def _user_rest(self, fields: dict[str, Any], user: User, values: dict[str, Any]) -> User:
        """`user` with `values` and its other addresses (cascaded-focus, endpoints) translated."""
        if fields["cascaded_focus"] is not None:
            values["cascaded_focus"] = self.uri(fields["cascaded_focus"])
        if fields["endpoints"]:
            endpoints: dict[str, Endpoint] = {}
            endpoint_of = self.endpoint
            for endpoint in fields["endpoints"].values():
                translated = endpoint_of(endpoint)
                key = translated.__dict__["entity"] or ""
                if key in endpoints:
                    original = endpoint.entity or ""
                    self._put(endpoints, key, translated, original, original=endpoint, what="endpoints")
                else:
                    endpoints[key] = translated
            values["endpoints"] = endpoints
        return replace(user, values)

    def endpoint(self, endpoint: Endpoint) -> Endpoint:
        fields = endpoint.__dict__
        values: dict[str, Any] = {}
        entity = fields["entity"]
        if entity:
            if fields["other_attributes"]:
                values["entity"], values["other_attributes"] = self.entity(endpoint, entity)
            else:
                # Without foreign attributes (no `original` to restore), the result depends on the entity alone.
                memo = (self.target, self.source_scheme, "endpoint", entity)
                known = self.forms.derived.get(memo)
                if known is None:
                    reported = self.reported
                    known = self.entity(endpoint, entity)
                    if self.reported == reported:
                        self.forms.remember(memo, known)
                values["entity"] = known[0]
                values["other_attributes"] = dict(known[1])
        for name in ("referred", "joining_info", "disconnection_info"):
            value = fields[name]
            if value is not None:
                values[name] = value if value.__dict__["by"] is None else self.execution(value)
        return replace(endpoint, values)

    def sidebars(self, sidebars: SidebarsByVal) -> SidebarsByVal:
        entries: dict[str, ConferenceInfo] = {}
        for entry in sidebars.entries.values():
            translated = self.conference(entry)
            self._put(entries, translated.entity, translated, entry.entity, original=entry, what="sidebars")
        return replace(sidebars, {"entries": entries})
