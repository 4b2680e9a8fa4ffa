# SPDX-License-Identifier: MIT
#
# The manual pages: spatten-run(1), spatten-replay(1), spatten-info(1),
# spatten-demo(1); libspatten(3) and a page per group of its functions,
# with a link page (.so) for every other function of a group; spatten(4).
# Written by hand in troff (man(7) macros). Included from the top-level
# Makefile (`include man/man.mk`); paths are relative to the repository
# top, where make runs. Standalone: make -f man/man.mk man-check.
#
# Targets
#   man-install  the pages into $(DESTDIR)$(MANDIR)/man1, man3, man4,
#                mode 644, uncompressed; the links stay .so files
#   man-check    man/check-man.sh: TAP, one line per page (groff -man -ww
#                and man --warnings clean, 80 columns, its sections, its
#                link), then every SPATTEN_API function of
#                lib/libspatten.h has a page with its exact prototype, and
#                every tool in $(SPATTEN_OUT)/bin a page naming each
#                option of its --help; fails on any warning or miss
#
# Variables
#   PREFIX, DESTDIR  as for `make install` (PREFIX default /usr/local)
#   MANDIR           default $(PREFIX)/share/man
#   SPATTEN_OUT      build directory whose bin/ holds the tools (default
#                    build)
#
# Needs groff (Debian: groff-base); man (man-db) is used when installed.

# Including this file must not change the including Makefile's default goal.
MAN_SAVED_GOAL := $(.DEFAULT_GOAL)

MAN_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
MAN_BIN_DIR = $(or $(SPATTEN_OUT),build)/bin

MAN1_PAGES := $(wildcard $(MAN_DIR)/man1/*.1)
MAN3_PAGES := $(wildcard $(MAN_DIR)/man3/*.3)
MAN4_PAGES := $(wildcard $(MAN_DIR)/man4/*.4)

.PHONY: man-install man-check

man-install:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man4
	install -m 644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN3_PAGES) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(MAN4_PAGES) $(DESTDIR)$(MANDIR)/man4/

man-check:
	@sh $(MAN_DIR)/check-man.sh $(MAN_BIN_DIR)

.DEFAULT_GOAL := $(MAN_SAVED_GOAL)
