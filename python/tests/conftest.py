# SPDX-License-Identifier: MIT
"""Fixtures: the simulation device, C programs built from the headers."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import spatten

TOP = os.environ.get("SPATTEN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="session")
def dev():
    """The simulation backend, shared by the tests."""
    with spatten.open(backend="sim") as d:
        yield d


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def layout_json(tmp_path_factory):
    """What tests/c/layout.c prints: struct layouts and constants."""
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build tests/c/layout.c")
    exe = str(tmp_path_factory.mktemp("layout") / "layout")
    subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                    "-I" + os.path.join(TOP, "lib"),
                    "-I" + os.path.join(TOP, "include"),
                    os.path.join(TOP, "python", "tests", "c", "layout.c"),
                    "-o", exe], check=True)
    return json.loads(subprocess.run([exe], check=True, capture_output=True,
                                     text=True).stdout)
