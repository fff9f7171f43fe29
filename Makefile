# SPDX-License-Identifier: Apache-2.0
# tracebridge. `make` builds build/tracebridge; `make SANITIZER=address` builds an ASan+UBSan
# copy under build/asan; `make FUZZ=1` builds the libFuzzer targets with clang under build/libfuzzer.
# Quiet unless V=1. A change of compiler or flags rebuilds everything (see $(BUILD)/.flags).
SANITIZER ?=
FUZZ ?=
ifeq ($(FUZZ),1)
BUILD ?= build/libfuzzer
CC := clang
OPT := -O1
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LINK := -DTB_LIBFUZZER -fsanitize=fuzzer,address,undefined
else ifeq ($(SANITIZER),address)
BUILD ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
AR ?= ar
OPT ?= -O2
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wvla
CFLAGS_BASE := -std=c11 $(OPT) -g -D_GNU_SOURCE -I. -I$(BUILD)/gen $(SANFLAGS)
CFLAGS_ALL := $(CFLAGS_BASE) $(WARN) -MMD -MP $(EXTRA_CFLAGS)
LDLIBS := -luv -lcurl -lcjson -lprotobuf-c -lz -lhttp_parser -lm
LDFLAGS_ALL := $(SANFLAGS) $(EXTRA_LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

PROTO_DIR := extension/otlp/proto
PROTOS := $(shell find $(PROTO_DIR) -name '*.proto' 2>/dev/null | sort)
GEN_C := $(patsubst $(PROTO_DIR)/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_O := $(GEN_C:.c=.o)

LIB_SRC := $(filter-out extension/main.c,$(wildcard extension/*.c extension/*/*.c proxy/*.c \
	proxy/promote/*.c))
LIB_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB := $(BUILD)/libtracebridge.a
BIN := $(BUILD)/tracebridge
# Test-only twin of BIN whose id pool can start from TRACEBRIDGE_TEST_IDS_SEED (extension/spans/spans.h, ids):
# two copies given one seed share their first pool, as SnapStart-restored sandboxes do.
SEED_BIN := $(BUILD)/tracebridge-test-seeded

# tests/unit/<room>/test_<module>.c (tests/unit/ itself for extension/'s own modules) and
# tests/integ/test_*.c (programs that start the binary) -> $(BUILD)/tests/{unit,integ}/...
UNIT_SRC := $(shell find tests/unit tests/integ -name 'test_*.c' 2>/dev/null | sort)
UNIT_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC := $(wildcard tests/tools/*.c tests/bench/*.c)
TOOL_BIN := $(patsubst tests/%.c,$(BUILD)/%,$(TOOL_SRC))
# Fuzz targets: libFuzzer binaries under FUZZ=1, replay programs (tests/fuzz/fuzz_common.h's
# main over corpus files) in the other builds. Both link the whole library.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/%.c,$(BUILD)/%,$(FUZZ_SRC))

.PHONY: all fuzz-targets test unit e2e demo bench fuzz layer layers fmt fmt-check lint deps clean
ifeq ($(FUZZ),1)
all: fuzz-targets
else
all: $(BIN) $(SEED_BIN) $(UNIT_BIN) $(TOOL_BIN) $(FUZZ_BIN)
endif
fuzz-targets: $(FUZZ_BIN)

# Every object depends on the flags it was built with: a different CC, OPT or EXTRA_CFLAGS
# (the layer build passes its own) rebuilds them all, without a clean.
FLAGS_NOW := $(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) $(LDLIBS)
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' >$@
FORCE:

$(BUILD)/gen/.stamp: $(PROTOS) $(BUILD)/.flags
	@mkdir -p $(BUILD)/gen
	$(Q)protoc-c -I$(PROTO_DIR) --c_out=$(BUILD)/gen $(PROTOS)
	@touch $@

$(GEN_C): $(BUILD)/gen/.stamp

# Generated code is compiled without -Werror: its warnings are protoc-c's, not ours.
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(Q)$(CC) $(CFLAGS_BASE) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(BUILD)/.flags | $(BUILD)/gen/.stamp
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_O) $(GEN_O)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN): $(BUILD)/obj/extension/main.o $(LIB)
	$(Q)$(CC) $(LDFLAGS_ALL) $^ $(LDLIBS) -o $@

$(BUILD)/obj-seed/extension/spans/ids.o: extension/spans/ids.c | $(BUILD)/gen/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -DTB_IDS_TEST_SEED -c $< -o $@

# The seeded ids.o comes first, so the archive's ids.o is never pulled in.
$(SEED_BIN): $(BUILD)/obj/extension/main.o $(BUILD)/obj-seed/extension/spans/ids.o $(LIB)
	$(Q)$(CC) $(LDFLAGS_ALL) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB) | $(BUILD)/gen/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $< $(LIB) $(LDFLAGS_ALL) $(LDLIBS) -o $@

$(BUILD)/tools/%: tests/tools/%.c $(LIB) | $(BUILD)/gen/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $< $(LIB) $(LDFLAGS_ALL) $(LDLIBS) -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB) | $(BUILD)/gen/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $(FUZZ_LINK) $< $(LIB) $(LDFLAGS_ALL) $(LDLIBS) -o $@

$(BUILD)/bench/%: tests/bench/%.c $(LIB) | $(BUILD)/gen/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $< $(LIB) $(LDFLAGS_ALL) $(LDLIBS) -o $@

# Installs the Debian and npm packages the build and the tests need (only what is missing).
deps:
	$(Q)tests/deps.sh

# The README's test command: everything, also under ASan+UBSan, with one summary line. The
# builds use every CPU (TB_JOBS overrides).
JOBS := $(or $(TB_JOBS),$(shell nproc 2>/dev/null),2)
test: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) SANITIZER=address all
	$(Q)tests/run.sh

demo: deps all
	$(Q)tests/demo/run-demo.sh

bench: deps all
	$(Q)tests/bench/run-bench.sh

fuzz:
	$(Q)tests/fuzz/run-fuzz.sh $${FUZZ_SECONDS:-60}

layer:
	$(Q)layer/build-layer.sh

FMT_SRC = $(shell find extension proxy tests/unit tests/integ tests/lib tests/tools tests/fuzz tests/bench -name '*.[ch]' 2>/dev/null)
fmt:
	$(Q)clang-format -i $(FMT_SRC)
fmt-check:
	$(Q)clang-format --dry-run -Werror $(FMT_SRC)

# Include directions between the rooms (README, Layout): each room includes only rooms below it.
layers:
	$(Q)tests/tools/check-layers.sh

# Banned functions (curl's list): unbounded string building; every source file names its licence.
lint:
	$(Q)! grep -nE '\b(sprintf|strcat|strncpy|strtok|atoi|gets)\s*\(' $(LIB_SRC) extension/main.c
	$(Q)missing=$$(git ls-files '*.c' '*.h' '*.sh' '*.mjs' '*.cjs' '*.py' '*.go' '*.java' Makefile \
		':!tests/fuzz/corpus' | xargs grep -L 'SPDX-License-Identifier: Apache-2.0' 2>/dev/null); \
		[ -z "$$missing" ] || { echo "lint: no SPDX-License-Identifier line in:" $$missing; exit 1; }

clean:
	rm -rf build

# build/layer holds third-party source trees (curl ships docs named *.d): not dependency files.
-include $(shell find build \( -path build/layer/src -o -path 'build/layer/*/work' \) -prune \
	-o -name '*.d' -print 2>/dev/null)
