# SPDX-License-Identifier: GPL-2.0
# ICI decoder fuzzing: a libFuzzer target (clang, ASan+UBSan), a plain replay
# driver for the same target (gcc, ASan+UBSan), and a seed corpus generator.
# `make check` replays the corpus with both and runs a bounded fuzz session.

FUZZ_DIR := $(O)/fuzz
FUZZ_CC := clang
FUZZ_SAN := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=all
FUZZ_CPPFLAGS = $(CPPFLAGS_ALL) -Iselftests/unit
FUZZ_CORPUS := $(O)/fuzz-corpus
FUZZ_SRCS := selftests/fuzz/fuzz_ici.c selftests/unit/ici_sample.c
FUZZ_HDRS := selftests/unit/ici_sample.h $(LIB_HDRS)

# Library objects: warnings shown but not fatal, so a clang-only warning in
# code gcc builds with -Werror does not stop the tests
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
$(FUZZ_LIB_OBJS): $(FUZZ_DIR)/obj/%.o: %.c $(LIB_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) -std=gnu11 -Wall -Wextra $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link -c -o $@ $<

FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
$(FUZZ_OBJS): $(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) -std=gnu11 -Wall -Wextra -Werror \
		$(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz_ici: $(FUZZ_OBJS) $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lpthread $(LIB_LDLIBS)

# The same target without libFuzzer, under gcc's sanitizers
$(FUZZ_DIR)/replay: selftests/fuzz/replay.c $(FUZZ_SRCS) $(FUZZ_HDRS) \
		$(LIB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Iselftests/unit $(SAN_FLAGS) -o $@ \
		selftests/fuzz/replay.c $(FUZZ_SRCS) $(LIB_SRCS) -lpthread \
		$(LIB_LDLIBS)

$(FUZZ_DIR)/gen_corpus: selftests/fuzz/gen_corpus.c \
		selftests/unit/ici_sample.c $(FUZZ_HDRS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Iselftests/unit -o $@ selftests/fuzz/gen_corpus.c \
		selftests/unit/ici_sample.c $(LIB_A) -lpthread $(LIB_LDLIBS)

$(FUZZ_CORPUS)/.stamp: $(FUZZ_DIR)/gen_corpus
	rm -rf $(FUZZ_CORPUS)
	mkdir -p $(FUZZ_CORPUS)
	$(FUZZ_DIR)/gen_corpus $(FUZZ_CORPUS)
	touch $@

.PHONY: fuzz
fuzz: $(FUZZ_DIR)/fuzz_ici $(FUZZ_DIR)/replay $(FUZZ_CORPUS)/.stamp

CHECK_DEPS += $(FUZZ_DIR)/fuzz_ici $(FUZZ_DIR)/replay $(FUZZ_CORPUS)/.stamp
CHECK_TESTS += selftests/fuzz/replay.sh selftests/fuzz/fuzz_run.sh
