"""The modules setup.py compiles with mypyc behave as their pure-Python source does, and are not stale."""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from lxml import etree

import gateway.document_builder
import gateway.document_writer
from gateway.conference_info import ConferenceInfo
from gateway.document_parser import default_parser
from tests.strategies import conference

ROOT = Path(__file__).resolve().parent.parent
COMPILED = (gateway.document_builder, gateway.document_writer)


def _source_module(module: ModuleType) -> ModuleType:
    """A second copy of `module`, loaded from its .py source (never the compiled one)."""
    path = ROOT / (module.__name__.replace(".", "/") + ".py")
    name = "pure_" + module.__name__.replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    sys.modules[name] = copy  # dataclasses look their module up
    spec.loader.exec_module(copy)
    return copy


PURE_BUILDER = _source_module(gateway.document_builder)
PURE_WRITER = _source_module(gateway.document_writer)


def test_the_compiled_modules_are_not_older_than_their_sources() -> None:
    for module in COMPILED:
        built = Path(module.__file__ or "")
        if built.suffix == ".py":
            continue  # not compiled (no C compiler, or COIN_GATEWAY_PURE_PYTHON=1)
        source = ROOT / (module.__name__.replace(".", "/") + ".py")
        assert built.stat().st_mtime >= source.stat().st_mtime, (
            f"{source.name} changed after it was compiled: run scripts/bootstrap to compile it again"
        )


def test_the_build_requirements_are_pinned_as_in_the_constraints() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M))
    normal = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    for requirement in requires:
        name, _, version = requirement.partition("==")
        assert version, f"{requirement}: build requirements are pinned exactly"
        assert normal.get(name.lower().replace("_", "-")) == version, (
            f"{requirement}: not so in constraints.txt"
        )


@settings(max_examples=200, deadline=None)
@given(conference())
def test_compiled_and_source_modules_give_the_same_models_and_bytes(doc: ConferenceInfo) -> None:
    data = gateway.document_writer.serialize(doc)
    assert PURE_WRITER.serialize(doc) == data
    root = default_parser().parse_element(data)
    built = gateway.document_builder.build(gateway.document_builder.CONFERENCE, root)
    assert PURE_BUILDER.build(PURE_BUILDER.CONFERENCE, root) == built == doc


@pytest.mark.parametrize("module", [PURE_BUILDER, gateway.document_builder], ids=["source", "installed"])
def test_comments_in_an_element_given_to_the_builder_are_skipped(module: ModuleType) -> None:
    el = etree.fromstring(
        b'<media xmlns="urn:ietf:params:xml:ns:conference-info" id="1"><!-- c --><type>audio</type></media>',
        etree.XMLParser(remove_comments=False),
    )
    assert module.MEDIA.builder(el).type == "audio"
    assert module.build(module.MEDIA, el).type == "audio"


def test_the_writers_state_is_per_thread() -> None:
    """The namespaces of the document being written belong to the thread writing it (compiled code keeps
    the declared attributes of a threading.local subclass in the object, shared: the writer must not use
    one)."""
    mine = object()
    gateway.document_writer._current.namespaces = mine
    seen: list[object] = []
    thread = threading.Thread(
        target=lambda: seen.append(getattr(gateway.document_writer._current, "namespaces", None))
    )
    thread.start()
    thread.join()
    assert seen == [None]
    assert gateway.document_writer._current.namespaces is mine
