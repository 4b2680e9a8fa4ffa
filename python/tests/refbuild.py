# SPDX-License-Identifier: MIT
"""Build the tests' C programs (python/tests/c/*.c) against the repository's
headers and the library the package loads.

``build(name, top, out_dir)`` compiles ``c/<name>.c`` with the C compiler
(``$CC`` if it names one on PATH, else ``gcc``) into ``out_dir`` and
returns the program's path.  Programs that call the library link the
shared library named by ``$SPATTEN_LIBRARY`` (else the build tree's
``build/lib/libspatten.so.1``), with an rpath to its directory, so that the
program and the package run the same library.  A build is cached under a
name hashing the source, the headers, the flags and the library, and is
written atomically (pytest-xdist workers may build at once).
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
C_DIR = os.path.join(HERE, "c")

# The programs: their sources in c/, and whether they link libspatten
# (layout only reads headers).
PROGRAMS = {"pyref": (("pyref.c", "pyref_job.c", "pyref_session.c"), True),
            "layout": (("layout.c",), False)}

CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Wshadow",
          "-Wstrict-prototypes", "-Wformat=2", "-ffp-contract=off"]
HEADERS = ("lib/libspatten.h", "lib/spatten_types.h", "include/spatten_hw.h")


class BuildError(RuntimeError):
    pass


def top_dir():
    """The repository root: $SPATTEN_TOP, else python/tests/../.."""
    top = os.environ.get("SPATTEN_TOP")
    if top:
        return os.path.abspath(top)
    return os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))


def compiler():
    """The C compiler's path, or None when there is none."""
    cc = os.environ.get("CC")
    if cc:
        path = shutil.which(cc)
        if path:
            return path
    return shutil.which("gcc")


def library(top=None):
    """The shared library the package loads (absolute path)."""
    lib = os.environ.get("SPATTEN_LIBRARY")
    if lib:
        return os.path.abspath(lib)
    return os.path.join(top or top_dir(), "build", "lib", "libspatten.so.1")


def default_out_dir(top=None):
    """Where builds are cached when the caller names no directory:
    $SPATTEN_PY_OUT/tests-c (make python-check), else
    $SPATTEN_OUT/python-tests, else None."""
    if os.environ.get("SPATTEN_PY_OUT"):
        return os.path.join(os.environ["SPATTEN_PY_OUT"], "tests-c")
    if os.environ.get("SPATTEN_OUT"):
        out = os.environ["SPATTEN_OUT"]
        if not os.path.isabs(out):
            out = os.path.join(top or top_dir(), out)
        return os.path.join(out, "python-tests")
    return None


def _command(cc, srcs, exe, top, links):
    cmd = [cc] + CFLAGS + ["-I" + os.path.join(top, "lib"),
                           "-I" + os.path.join(top, "include"),
                           "-o", exe] + list(srcs)
    if links:
        lib = library(top)
        if not os.path.exists(lib):
            raise BuildError("libspatten not found at %s: build it (make "
                             "lib) or set SPATTEN_LIBRARY" % lib)
        d = os.path.dirname(lib)
        # DT_RPATH (not RUNPATH): LD_LIBRARY_PATH cannot swap the library
        cmd += ["-L" + d, "-l:" + os.path.basename(lib),
                "-Wl,-rpath," + d, "-Wl,--disable-new-dtags", "-lm"]
    return cmd


def _key(cc, cmd, srcs, top, links):
    h = hashlib.sha256()
    h.update(" ".join([cc] + cmd).encode())
    local = sorted(os.path.join(C_DIR, f) for f in os.listdir(C_DIR)
                   if f.endswith(".h"))
    paths = list(srcs) + local + [os.path.join(top, p) for p in HEADERS]
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    if links:
        st = os.stat(library(top))
        h.update(("%s %d %d" % (library(top), st.st_size,
                                st.st_mtime_ns)).encode())
    return h.hexdigest()[:16]


def build(name, top=None, out_dir=None):
    """Compile c/<name>.c into @out_dir (cached); return the program."""
    if name not in PROGRAMS:
        raise ValueError("unknown program %r" % name)
    top = top or top_dir()
    out_dir = out_dir or default_out_dir(top)
    if out_dir is None:
        raise ValueError("no output directory")
    cc = compiler()
    if cc is None:
        raise BuildError("no C compiler (gcc) on PATH")
    names, links = PROGRAMS[name]
    src = [os.path.join(C_DIR, f) for f in names]
    os.makedirs(out_dir, exist_ok=True)
    probe = _command(cc, src, "EXE", top, links)
    exe = os.path.join(out_dir, "%s-%s" % (name, _key(cc, probe, src, top,
                                                      links)))
    if os.path.exists(exe):
        return exe
    fd, tmp = tempfile.mkstemp(prefix=name + ".", dir=out_dir)
    os.close(fd)
    try:
        cmd = _command(cc, src, tmp, top, links)
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if p.returncode != 0:
            raise BuildError("%s failed (%d):\n%s" % (" ".join(cmd),
                                                      p.returncode, p.stdout))
        if p.stdout.strip():
            raise BuildError("%s is not warning-free:\n%s"
                             % (name, p.stdout))
        os.chmod(tmp, 0o755)
        os.replace(tmp, exe)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return exe
