# SPDX-License-Identifier: GPL-2.0
# tcpcp top-level build.  `make` builds the library and tools, `make check`
# runs every test, `make demo` runs a live move in a namespace lab.

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man

VERSION := 0.1.0
SOVERSION := 1

# The one place the kernel source is pinned
KERNEL_PKG := linux-source-6.12
KERNEL_TARBALL := /usr/src/linux-source-6.12.tar.xz

CC ?= cc
O := build
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS_ALL := -D_GNU_SOURCE -Ikernel/include/uapi -Ilib
CFLAGS ?= -O2 -g
CFLAGS_ALL := -std=gnu11 $(WARN) $(CFLAGS)

DEPS_STAMP := $(O)/.deps-ok

.PHONY: all deps check demo install clean lint format
all: lib tools

$(O):
	mkdir -p $(O)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/build/deps.sh | $(O)
	tools/build/deps.sh
	touch $@

# kselftest_harness.h and kselftest.h come from the pinned kernel source
KSFT_DIR := $(O)/ksft
KSFT_HDRS := $(KSFT_DIR)/kselftest_harness.h $(KSFT_DIR)/kselftest.h
$(KSFT_HDRS): $(DEPS_STAMP)
	@mkdir -p $(KSFT_DIR)
	tar -xJf $(KERNEL_TARBALL) -C $(KSFT_DIR) --strip-components=4 --wildcards \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h'
	touch $(KSFT_HDRS)

# kselftest_harness.h is not -Wextra clean (unused ucontext, signed
# comparisons inside its ASSERT macros, setjmp in TEST_F wrappers)
TEST_CFLAGS := $(CPPFLAGS_ALL) -I$(KSFT_DIR) -std=gnu11 -Wall -Wextra -Werror -O1 -g -Wno-sign-compare -Wno-unused-parameter -Wno-clobbered
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Test programs in run order, and what they need built; the .mk files append
CHECK_TESTS :=
CHECK_DEPS :=

include lib/lib.mk
include tools/tools.mk
include selftests/selftests.mk
-include kernel/kernel.mk
-include Documentation/docs.mk

# Every test: unit, fuzz replay, lab, VM.  Ends with "N passed, N failed, N skipped".
check: deps all $(CHECK_DEPS)
	selftests/run.sh $(CHECK_TESTS)

demo: deps all
	selftests/lab/demo.sh

lint: deps
	tools/build/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^kernel/')

clean:
	rm -rf $(O)
