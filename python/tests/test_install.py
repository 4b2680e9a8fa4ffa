# SPDX-License-Identifier: MIT
"""The package installs offline: `pip install` of python/ with Debian's
setuptools (no network, no build isolation) into a virtual environment,
and `make install`, which puts the module next to the library it names."""

import os
import shutil
import subprocess
import sys

import pytest

TOP = os.environ.get("SPATTEN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SMOKE = ("import numpy as np, spatten; d = spatten.open(backend='sim'); "
         "q = np.ones((1, 8, 16), np.float32); "
         "o, s = spatten.attention(q, q, q, device=d); "
         "assert abs(float(o.max()) - 1) < 1e-3; print(spatten.__file__)")


def _env(**kw):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPATTEN_LIBRARY", "PYTHONPATH")}
    env.update(kw)
    return env


def test_pip_install_offline(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(TOP, "python"), src,
                    ignore=shutil.ignore_patterns("tests", "build",
                                                  "*.egg-info",
                                                  "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                    "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", py,
                        "install", "--no-build-isolation", "--no-index",
                        "--no-deps", "--quiet", str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    lib = os.environ["SPATTEN_LIBRARY"]
    r = subprocess.run([py, "-c", SMOKE], capture_output=True, text=True,
                       cwd=str(tmp_path), env=_env(SPATTEN_LIBRARY=lib))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(venv))
    # without the library the import says what to do
    r = subprocess.run([py, "-c", "import spatten"], capture_output=True,
                       text=True, cwd=str(tmp_path),
                       env=_env(SPATTEN_LIBRARY="/nonexistent/lib.so"))
    assert r.returncode != 0 and "SPATTEN_LIBRARY" in r.stderr


def test_make_install_installs_the_module(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("no make")
    prefix = tmp_path / "prefix"
    r = subprocess.run(["make", "-s", "-C", TOP, "install",
                        "PREFIX=%s" % prefix, "PYTHON=%s" % sys.executable],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    ver = "%d.%d" % sys.version_info[:2]
    site = prefix / "lib" / ("python%s" % ver) / "dist-packages"
    assert (site / "spatten" / "__init__.py").exists()
    assert (site / "spatten" / "torch.py").exists()
    paths = (site / "spatten" / "_paths.py").read_text()
    assert 'LIBDIR = "%s/lib"' % prefix in paths
    # the installed module finds the installed library by itself
    r = subprocess.run([sys.executable, "-c", SMOKE], capture_output=True,
                       text=True, cwd=str(tmp_path),
                       env=_env(PYTHONPATH=str(site)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(site))
