# Thin wrapper around meson + ninja. See README.md.
#   make          build build/imsd and build/imsctl
#   make run      install what is missing, build, start imsd on config/ims.cfg
#   make test     install what is missing, build with ASan+UBSan, run every test
#   make lint     cppcheck and clang-tidy (.clang-tidy) over src/ (also part of make test)
#   make fuzz     build libFuzzer binaries with clang in build-fuzz/

BUILD      ?= build
TEST_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CONFIG     ?= config/ims.cfg
PYTHON     ?= /usr/bin/python3
PYTEST_ARGS ?=

.PHONY: all deps build run test lint unit integ fuzz clean

all: build

deps:
	@scripts/install-deps.sh

# Module meson.build files are found with fs.is_file() at configure time, so a
# new or changed one must re-run meson setup.
MESON_FILES := $(shell find . -name meson.build -not -path './build*' 2>/dev/null) meson_options.txt
SETUP = meson setup $(if $(wildcard $(1)/build.ninja),--reconfigure) $(1)

$(BUILD)/build.ninja: $(MESON_FILES)
	$(call SETUP,$(BUILD)) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/imsd $(CONFIG)

$(TEST_BUILD)/build.ninja: $(MESON_FILES)
	$(call SETUP,$(TEST_BUILD)) --buildtype=debug -Dwerror=true \
		-Db_sanitize=address,undefined -Db_lundef=false

test: deps $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)
	@$(MAKE) --no-print-directory lint unit integ

# Static analysis: must stay clean (CI runs it through `make test`). clang-tidy
# reads the compile commands of the test build (checks: .clang-tidy).
CLANG_TIDY_RUN ?= run-clang-tidy-14
lint: $(TEST_BUILD)/build.ninja
	pyflakes3 tests bench
	cppcheck --quiet --enable=warning,performance,portability --std=c11 \
		-D_GNU_SOURCE -Isrc --inline-suppr --error-exitcode=1 src/
	@echo "clang-tidy: src/ ($(CLANG_TIDY_RUN), checks in .clang-tidy)"
	@$(CLANG_TIDY_RUN) -p $(TEST_BUILD) -quiet '$(CURDIR)/src/' > $(TEST_BUILD)/clang-tidy.log 2>&1 \
		&& echo "clang-tidy: clean" \
		|| { grep -E 'warning:|error:' $(TEST_BUILD)/clang-tidy.log | sort -u; \
		     echo "clang-tidy: findings (full output: $(TEST_BUILD)/clang-tidy.log)"; exit 1; }

unit:
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ASAN_OPTIONS=detect_leaks=1 \
	meson test -C $(TEST_BUILD) --print-errorlogs -v --num-processes 2

integ:
	IMSD_BIN=$(CURDIR)/$(TEST_BUILD)/imsd IMSCTL_BIN=$(CURDIR)/$(TEST_BUILD)/imsctl \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTHON) -m pytest -p no:cacheprovider tests/integ $(PYTEST_ARGS); \
	rc=$$?; [ $$rc -eq 5 ] && { echo "pytest: no integration tests collected"; rc=0; }; exit $$rc

$(FUZZ_BUILD)/build.ninja: $(MESON_FILES)
	CC=clang $(call SETUP,$(FUZZ_BUILD)) --buildtype=debug -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
