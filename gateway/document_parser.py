"""Parse untrusted conference-info bytes into the typed model.

The parser is hardened: no DTD (any DOCTYPE is refused), no entity expansion, no network, no file access,
and limits on bytes, nesting depth and element count. A document that passes is validated against the
RFC 4575 schema (our corrected copy in `schemas/`), then turned into `ConferenceInfo`.

Forms that real peers send are accepted: entity URIs without a scheme (Kamailio, the XEP-0298 example) and
Jitsi's `sid` attribute on the root, which is kept in `ConferenceInfo.sid`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

from lxml import etree

from gateway.conference_info import NAMESPACE, ConferenceInfo
from gateway.document_builder import CONFERENCE as _CONFERENCE
from gateway.document_builder import build as _build
from gateway.errors import DocumentError, ElementValueError

_Q = "{" + NAMESPACE + "}"
_LINE_AND_COLUMN = re.compile(r", line \d+, column \d+$")
_QLEN = len(_Q)
_ROOT = _Q + "conference-info"
_NAMESPACE_BYTES = NAMESPACE.encode()
_LIBXML2_MAX_DEPTH = 256  # libxml2 refuses a document nested 257 deep ("Excessive depth in document: 256")


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds on what the parser accepts from a peer."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_elements: int = 100_000
    # Names of other namespaces (extensions): what schema validation and the model hold grows with a namespace
    # URI's length times the elements and attributes that use it, not with the document's size (a 40,000-
    # character URI declared once and used by 20,000 `<f:a/>` is 160 KB that took 840 MB to validate).
    max_attributes: int = 64  # on one element, namespace declarations aside
    max_namespace_length: int = 1024  # characters of one namespace URI in use (real ones are under 100)
    max_namespace_total: int = 4 << 20  # the sum over every element and attribute of another namespace

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 1:
                raise ValueError(f"ParseLimits.{name} must be at least 1")
        if self.max_depth > _LIBXML2_MAX_DEPTH:
            # libxml2 refuses deeper documents itself, unless huge_tree lifts all of its safety limits.
            raise ValueError(f"ParseLimits.max_depth must be at most {_LIBXML2_MAX_DEPTH}")


@cache
def _schema() -> etree.XMLSchema:
    """The RFC 4575 schema, loaded once (it is immutable)."""
    source = resources.files("gateway").joinpath("schemas/conference-info.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(source, _xml_parser()))


class _RefuseAll(etree.Resolver):
    """Refuses to load any external resource (DTD, entity, XInclude): a second lock behind the DOCTYPE
    check."""

    def resolve(self, system_url: str, public_id: str, context: object) -> Any:  # type: ignore[override]  # lxml-stubs lacks `context`
        raise DocumentError(f"external resource {system_url!r} refused")


def _xml_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(_RefuseAll())
    return parser


class ConferenceInfoParser:
    """Parses conference-info documents within `limits`. Not thread-safe (lxml parsers are not)."""

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self.limits = limits or ParseLimits()
        self._parser = _xml_parser()
        self._schema = _schema()
        self._count = etree.XPath("count(//*)")
        self._foreign_elements = etree.XPath(
            "count(descendant-or-self::*) - count(descendant-or-self::c:*)", namespaces={"c": NAMESPACE}
        )
        self._namespaced_attributes = etree.XPath("boolean(descendant-or-self::*/@*[namespace-uri()])")
        self._too_deep = etree.XPath("boolean(" + "/*" * (self.limits.max_depth + 1) + ")")

    def parse(self, data: bytes | str) -> ConferenceInfo:
        """Parse, check limits, validate against the schema, and build the model."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        root = self.parse_element(data)
        # Every element takes at least 4 bytes (`<a/>`): a short document cannot exceed the count limit.
        # Names of another namespace need a declaration, or the `xml:` prefix (which our own namespace URI,
        # `urn:ietf:params:xml:ns:conference-info`, also holds: only an `xml:` outside it counts).
        return self._from_element(
            root,
            count=len(data) > 4 * self.limits.max_elements,
            names=data.count(b"xmlns") > 1 or data.count(b"xml:") > data.count(_NAMESPACE_BYTES),
        )

    def parse_element(self, data: bytes | str) -> etree._Element:
        """Parse and check limits only; the XMPP adapter uses `from_element` on elements it already has."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > self.limits.max_bytes:
            raise DocumentError(
                f"document is {len(data)} bytes, more than the limit of {self.limits.max_bytes}"
            )
        if b"\x00" in data[:4] or data[:2] in (b"\xfe\xff", b"\xff\xfe") or data[:4] == b"Lo\xa7\x94":
            raise DocumentError("document is not UTF-8 (UTF-16, UTF-32 and EBCDIC are refused)", line=1)
        if b"<!DOCTYPE" in data:
            # Refused before libxml2 sees it: no DTD, internal or external, is ever loaded or read.
            raise DocumentError("a DTD (DOCTYPE) is not allowed in a conference-info document")
        try:
            root = etree.fromstring(data, self._parser)
        except etree.XMLSyntaxError as exc:
            if exc.msg.startswith("Excessive depth in document"):
                raise DocumentError(
                    f"document is nested deeper than the limit of {self.limits.max_depth}",
                    line=exc.lineno or None,
                ) from None
            # libxml2's message ends with the line and column; the line is given on its own.
            message = _LINE_AND_COLUMN.sub("", exc.msg)
            column = f" at column {exc.offset}" if exc.offset else ""
            raise DocumentError(f"not well-formed XML: {message}{column}", line=exc.lineno or None) from None
        docinfo: Any = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise DocumentError("a DTD (DOCTYPE) is not allowed in a conference-info document", line=1)
        return root

    def from_element(self, root: etree._Element) -> ConferenceInfo:
        """Validate an lxml element (a parsed document or a Coin IQ's child) and build the model."""
        names = self._foreign_elements(root) or self._namespaced_attributes(root)
        return self._from_element(root, count=True, names=bool(names))

    def _from_element(self, root: etree._Element, *, count: bool, names: bool) -> ConferenceInfo:
        if root.tag != _ROOT:
            raise DocumentError(
                f"root element is {root.tag!r}, expected {{{NAMESPACE}}}conference-info",
                path="/",
                line=_line(root),
            )
        elements = int(cast(float, self._count(root))) if count else 0
        if elements > self.limits.max_elements:
            raise DocumentError(
                f"document has {elements} elements, more than the limit of {self.limits.max_elements}"
            )
        if self._too_deep(root):
            raise DocumentError(f"document is nested deeper than the limit of {self.limits.max_depth}")
        if names:
            self._check_names(root)
        sid = root.attrib.get("sid")
        if sid is not None:
            # Jitsi's session id: not in the schema, so validate without it (on a copy if it is not ours).
            if root.getparent() is not None:
                root = copy.deepcopy(root)
            del root.attrib["sid"]
        if not self._schema.validate(root):
            raise _schema_error(root, self._schema.error_log)
        try:
            doc: ConferenceInfo = _build(_CONFERENCE, root, None if sid is None else {"sid": sid})
        except ElementValueError as exc:
            # Only values the schema admits but Python cannot hold reach here (a year beyond 9999,
            # a duplicate key), located at the element that holds them.
            el = cast(etree._Element, exc.element)
            raise DocumentError(f"invalid value: {exc}", path=_element_path(el), line=_line(el)) from None
        return doc

    def _check_names(self, root: etree._Element) -> None:
        """Attributes per element, and the length of the namespace URIs that elements and attributes of
        other namespaces use, one by one and in total: before schema validation, which would blow up."""
        limits = self.limits
        total = 0
        for el in root.iter():
            tag = el.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction (from an element that is not our parser's)
            if tag[0] == "{" and not tag.startswith(_Q):
                total += self._namespace_length(tag, el)
            attrib = el.attrib
            attributes = len(attrib)  # counted by lxml, before any name is made
            if attributes:
                if attributes > limits.max_attributes:
                    raise DocumentError(
                        f"an element has {attributes} attributes, more than the limit of {limits.max_attributes}",
                        path=_element_path(el),
                        line=_line(el),
                    )
                for name in attrib:
                    if name[0] == "{":
                        total += self._namespace_length(str(name), el)
            if total > limits.max_namespace_total:
                raise DocumentError(
                    f"elements and attributes of other namespaces use {total} characters of namespace URIs,"
                    f" more than the limit of {limits.max_namespace_total}",
                    path=_element_path(el),
                    line=_line(el),
                )

    def _namespace_length(self, name: str, el: etree._Element) -> int:
        length = name.index("}") - 1
        if length > self.limits.max_namespace_length:
            raise DocumentError(
                f"a namespace URI of {length} characters, more than the limit of {self.limits.max_namespace_length}",
                path=_element_path(el),
                line=_line(el),
            )
        return length


def _schema_error(root: etree._Element, log: Any) -> DocumentError:
    entry = log[0]
    path = entry.path
    try:
        found: Any = root.getroottree().xpath(path) if path else []
    except etree.XPathError:
        found = []
    if found and isinstance(found[0], etree._Element):
        path = _element_path(found[0])
    message = entry.message.replace("{" + NAMESPACE + "}", "")
    return DocumentError(
        f"not a valid conference-info document: {message}", path=path, line=entry.line or None
    )


def _line(el: etree._Element) -> int | None:
    line: Any = el.sourceline
    return line if isinstance(line, int) else None


def _element_path(el: etree._Element) -> str:
    """`/conference-info/users/user[2]` style path of an element, local names only, from the document's root
    (not from the Coin IQ that carries it)."""
    parts = []
    node: etree._Element | None = el
    while node is not None:
        tag = node.tag
        name = etree.QName(tag).localname
        parent = node.getparent()
        if parent is not None and tag != _ROOT:
            # Siblings of the same name, matched by lxml (not by making each one's name: a long namespace
            # URI times many siblings would be gigabytes).
            before = sum(1 for _ in node.itersiblings(tag, preceding=True))
            if before or next(node.itersiblings(tag), None) is not None:
                name += f"[{before + 1}]"
        parts.append(name)
        node = None if tag == _ROOT else parent
    return "/" + "/".join(reversed(parts))


@cache
def default_parser(limits: ParseLimits = ParseLimits()) -> ConferenceInfoParser:
    """A parser with the given limits, made once per set of limits."""
    return ConferenceInfoParser(limits)


def parse(data: bytes | str, limits: ParseLimits = ParseLimits()) -> ConferenceInfo:
    """Parse a conference-info document with the default (or given) limits."""
    return default_parser(limits).parse(data)
