"""Build script: everything is in pyproject.toml except the compiled modules.

The two modules that every document passes through (turning a validated tree into the model, and the model
into XML) are compiled with mypyc when the package is installed: the same source, about 7% faster for the
whole parse + validate + model + serialise of a document (bench/README.md). Without a C compiler, or with
COIN_GATEWAY_PURE_PYTHON=1, they stay pure Python and behave the same (tests/test_compiled.py).
COIN_GATEWAY_REQUIRE_COMPILED=1 (CI and the container image) turns a failed compilation into a failed install
instead of a warning.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

COMPILED = ["gateway/document_builder.py", "gateway/document_writer.py"]


def compiled_modules() -> list[Extension]:
    """The mypyc extensions, or none (pure Python) when asked for or when mypyc cannot compile them."""
    if os.environ.get("COIN_GATEWAY_PURE_PYTHON") == "1":
        return []
    required = os.environ.get("COIN_GATEWAY_REQUIRE_COMPILED") == "1"
    try:
        # Imported here: from mypy, a build requirement, which a failed import must not turn into a failed build.
        from mypyc.build import mypycify  # noqa: PLC0415

        # group_name names the shared runtime library (coin_gateway__mypyc.*.so) instead of a hash.
        modules: list[Extension] = mypycify(COMPILED, opt_level="3", group_name="coin_gateway")
    except (Exception, SystemExit) as error:  # mypyc exits on a type error in the modules
        if required:
            raise
        print(
            f"warning: not compiling {', '.join(COMPILED)} ({error!r}); they stay pure Python",
            file=sys.stderr,
        )
        return []
    for module in modules:
        # Optional: a C compiler that is missing or fails leaves the pure-Python modules, unless required.
        module.optional = not required
    return modules


setup(ext_modules=compiled_modules())
