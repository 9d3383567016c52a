"""Build script: everything is in pyproject.toml except the compiled modules.

The two modules that every document passes through (turning a validated tree into the model, and the model
into XML) are compiled with mypyc when the package is installed: the same source, about 15% faster for the
whole parse + validate + model + serialise of a document (bench/README.md). Without a C compiler, or with
COIN_GATEWAY_PURE_PYTHON=1, they stay pure Python and behave the same (tests/test_compiled.py).
"""

from __future__ import annotations

import os

from mypyc.build import mypycify  # from mypy, a build requirement in pyproject.toml
from setuptools import Extension, setup

COMPILED = ["gateway/document_builder.py", "gateway/document_writer.py"]


def compiled_modules() -> list[Extension]:
    if os.environ.get("COIN_GATEWAY_PURE_PYTHON") == "1":
        return []
    modules: list[Extension] = mypycify(COMPILED, opt_level="3")
    for module in modules:
        module.optional = True  # a failed compilation (no C compiler) leaves the pure-Python modules
    return modules


setup(ext_modules=compiled_modules())
