# SPDX-License-Identifier: GPL-2.0
# Codec unit tests (kselftest_harness).  Each test is built twice: against
# the static library, and with ASan+UBSan with the library sources compiled
# into the binary, so the sanitizers see the codec itself.

UNIT_DIR := $(O)/selftests/unit
UNIT_TESTS := ici_codec ici_bad ici_content ici_api
UNIT_HELPERS := selftests/unit/ici_sample.c
UNIT_HDRS := $(wildcard selftests/unit/*.h)
UNIT_CFLAGS = $(TEST_CFLAGS) -Iselftests/unit
UNIT_LDLIBS = -lpthread $(LIB_LDLIBS)

UNIT_BINS := $(UNIT_TESTS:%=$(UNIT_DIR)/%)
UNIT_SAN_BINS := $(UNIT_TESTS:%=$(UNIT_DIR)/%-san)

$(UNIT_BINS): $(UNIT_DIR)/%: selftests/unit/%.c $(UNIT_HELPERS) $(UNIT_HDRS) \
		$(LIB_A) $(LIB_HDRS) $(KSFT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(UNIT_HELPERS) $(LIB_A) $(UNIT_LDLIBS)

$(UNIT_SAN_BINS): $(UNIT_DIR)/%-san: selftests/unit/%.c $(UNIT_HELPERS) \
		$(UNIT_HDRS) $(LIB_SRCS) $(LIB_HDRS) $(KSFT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $(SAN_FLAGS) -o $@ $< $(UNIT_HELPERS) \
		$(LIB_SRCS) $(UNIT_LDLIBS)

.PHONY: unit
unit: $(UNIT_BINS) $(UNIT_SAN_BINS)

CHECK_DEPS += $(UNIT_BINS) $(UNIT_SAN_BINS)
CHECK_TESTS += $(foreach t,$(UNIT_TESTS),$(UNIT_DIR)/$(t) $(UNIT_DIR)/$(t)-san)
# cppcheck over lib/ and tools/; every C file as clang-format (.clang-format)
# lays it out (make format)
CHECK_TESTS += selftests/unit/lint_cppcheck.sh selftests/unit/lint_format.sh
