# SPDX-License-Identifier: MIT
"""Fixtures of the package's tests.

``top``: the repository root (``$SPATTEN_TOP``, else python/tests/../..);
``dev``: the simulation backend, opened once; ``pyref``: the C reference
program (c/pyref.c) built against the library the package loads;
``layout_json``: what c/layout.c prints (struct layouts and constants of
libspatten.h, parsed); ``rng``: a numpy Generator seeded per test
(``$SPATTEN_TEST_SEED`` changes the base seed).

The package is imported from this directory's parent (python/), and the
library from ``$SPATTEN_LIBRARY``, else the build tree's
build/lib/libspatten.so.1.  Tests that need a C program are skipped, with
the reason, when there is no C compiler.
"""

import json
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import refbuild  # noqa: E402

TOP = refbuild.top_dir()
PY_DIR = os.path.dirname(HERE)      # the package these tests go with
if PY_DIR not in sys.path:
    sys.path.insert(0, PY_DIR)
if not os.environ.get("SPATTEN_LIBRARY"):
    _built = os.path.join(TOP, "build", "lib", "libspatten.so.1")
    if os.path.exists(_built):
        os.environ["SPATTEN_LIBRARY"] = _built

BASE_SEED = int(os.environ.get("SPATTEN_TEST_SEED", "20240611"))


@pytest.fixture(scope="session")
def top():
    return TOP


@pytest.fixture(scope="session")
def dev():
    import spatten
    d = spatten.open(backend="sim")
    yield d
    d.close()


def _out_dir(factory):
    return refbuild.default_out_dir(TOP) or str(factory.mktemp("c-progs"))


def _build(name, factory):
    if refbuild.compiler() is None:
        pytest.skip("no C compiler: gcc (or $CC) is not on PATH, so the C "
                    "reference programs cannot be built")
    try:
        return refbuild.build(name, TOP, _out_dir(factory))
    except refbuild.BuildError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def pyref(tmp_path_factory):
    """Path of the built c/pyref.c."""
    return _build("pyref", tmp_path_factory)


@pytest.fixture(scope="session")
def layout_json(tmp_path_factory):
    """c/layout.c's output, parsed: {"structs": ..., "constants": ...}."""
    exe = _build("layout", tmp_path_factory)
    out = subprocess.run([exe], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    return json.loads(out)


@pytest.fixture
def rng(request):
    """np.random.default_rng of a seed fixed per test (its node id)."""
    seed = BASE_SEED ^ zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)
