# SPDX-License-Identifier: MIT
"""pytest plugin: one TAP line per test, written to $SPATTEN_PYTEST_TAP,
so `make check`'s summary counts Python tests like the C ones.

Load with ``-p tap`` (this directory on PYTHONPATH)."""

import os

_lines = []


def _line(report, ok, note=""):
    name = report.nodeid.replace("#", "")
    _lines.append("%s %d - python: %s%s" % ("ok" if ok else "not ok",
                                            len(_lines) + 1, name, note))


def pytest_collectreport(report):
    """A module that fails to import is a failure, not zero tests."""
    if report.failed:
        _lines.append("not ok %d - python: collecting %s"
                      % (len(_lines) + 1, report.nodeid or "tests"))


def pytest_runtest_logreport(report):
    if hasattr(report, "wasxfail"):
        if report.when == "call" or report.skipped:
            _lines.append("not ok %d - python: %s # TODO %s"
                          % (len(_lines) + 1, report.nodeid,
                             report.wasxfail)
                          if report.skipped else
                          "ok %d - python: %s (xpass)"
                          % (len(_lines) + 1, report.nodeid))
        return
    if report.when == "setup":
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr,
                                                      tuple) else ""
            _line(report, True, " # SKIP %s" % reason)
        elif report.failed:
            _line(report, False, " (setup failed)")
    elif report.when == "call":
        if report.skipped:
            _line(report, True, " # SKIP")
        else:
            _line(report, report.passed)
    elif report.when == "teardown" and report.failed:
        _line(report, False, " (teardown failed)")


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("SPATTEN_PYTEST_TAP")
    if not path:
        return
    with open(path, "w") as f:
        for line in _lines:
            f.write(line + "\n")
        f.write("1..%d\n" % len(_lines))
