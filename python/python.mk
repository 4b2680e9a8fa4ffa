# SPDX-License-Identifier: MIT
#
# The Python package (python/spatten: ctypes over libspatten, nothing to
# compile). Included from the top-level Makefile.
#
# Targets
#   python-check    the pytest suite on the host, simulation backend, against
#                   the library just built: one TAP line per test; then
#                   flake8 over python/
#   python-install  the package into $(PYTHONDIR), with spatten/_paths.py
#                   naming $(LIBDIR) (part of `make install`)
#   python-bench    the Python figures (call overhead over C, tokens per
#                   second of the example with and without pruning)
#
# Variables
#   PYTHON          interpreter with numpy, torch and pytest (default
#                   /usr/bin/python3: Debian's, whose python3-* packages
#                   setup-deps installs)
#   PYTHONDIR       where `make install` puts the package (default
#                   $(PREFIX)/lib/python3.X/dist-packages, on Debian's path)
#   PYTEST_ARGS     extra pytest arguments (-k ..., -x)

PYTHON ?= /usr/bin/python3
PYTHON_VERSION = $(shell $(PYTHON) -c \
	'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR ?= $(PREFIX)/lib/python$(PYTHON_VERSION)/dist-packages
PY_OUT := $(SPATTEN_OUT)/python
PY_ENV = SPATTEN_LIBRARY=$(abspath $(LIB_SO_REAL)) SPATTEN_BACKEND=sim \
	 SPATTEN_TOP=$(CURDIR) SPATTEN_PY_OUT=$(abspath $(PY_OUT)) \
	 PYTHONDONTWRITEBYTECODE=1

.PHONY: python-check python-install python-bench

python-check: lib
	@mkdir -p $(PY_OUT)
	@rm -f $(PY_OUT)/pytest.tap
	@cd python && $(PY_ENV) SPATTEN_PYTEST_TAP=$(abspath $(PY_OUT))/pytest.tap \
		PYTHONPATH=tests $(PYTHON) -m pytest -q -p tap \
		-p no:cacheprovider $(PYTEST_ARGS) tests \
		>$(abspath $(PY_OUT))/pytest.log 2>&1; rc=$$?; \
	if [ -s $(abspath $(PY_OUT))/pytest.tap ]; then \
		cat $(abspath $(PY_OUT))/pytest.tap; \
	else echo "not ok - pytest ran no test"; fi; \
	tail -n 1 $(abspath $(PY_OUT))/pytest.log | sed 's/^/# pytest: /'; \
	if [ $$rc != 0 ]; then \
		grep -E '^(FAILED|ERROR|E  )' $(abspath $(PY_OUT))/pytest.log | \
			head -n 40 | sed 's/^/# /'; \
	fi; \
	if $(PYTHON) -m flake8 --version >/dev/null 2>&1; then \
		if lint=$$($(PYTHON) -m flake8 --exclude build,*.egg-info .); \
		then echo "ok - python: flake8 (pycodestyle, pyflakes)"; \
		else echo "not ok - python: flake8 (pycodestyle, pyflakes)"; \
			printf '%s\n' "$$lint" | head -n 40 | sed 's/^/# /'; \
			rc=1; fi; \
	fi; exit $$rc

python-install:
	@if [ -z "$(PYTHON_VERSION)" ]; then \
		echo "python-install: no $(PYTHON): the Python package is not installed"; \
	else \
		install -d $(DESTDIR)$(PYTHONDIR)/spatten && \
		install -m 644 python/spatten/*.py $(DESTDIR)$(PYTHONDIR)/spatten/ && \
		printf '# Written by make install.\nLIBDIR = "%s"\n' "$(LIBDIR)" \
			>$(DESTDIR)$(PYTHONDIR)/spatten/_paths.py; \
	fi

python-bench: lib
	cd python && $(PY_ENV) $(PYTHON) bench/bench_python.py $(PY_BENCH_ARGS)
