# certhub: convenience targets over CMake. `make demo` and `make test` are
# all a new user needs; each installs missing Debian packages first (as root).

BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
FUZZ_SECONDS ?= 60
CMAKE ?= cmake
CTEST ?= ctest
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

# configure DIR [extra cmake args]; then build it. The build runs as a
# top-level make (its own -j), so its output is not full of "Entering
# directory" lines.
configure = $(CMAKE) -S . -B $(1) $(2) >/dev/null
compile = MAKEFLAGS= MAKELEVEL= $(CMAKE) --build $(1) -j$(JOBS) \
	  $(if $(2),--target $(2))

.PHONY: build demo test test-release test-asan check-o3 fuzz bench format clean

build:
	scripts/deps.sh build
	$(call configure,build,-DCMAKE_BUILD_TYPE=$(BUILD_TYPE))
	$(call compile,build)

demo: build
	scripts/deps.sh demo
	scripts/demo.sh

# Both trees always run, so one failure does not hide the other's.
test:
	scripts/deps.sh test
	@rc=0; \
	$(MAKE) --no-print-directory test-release || rc=1; \
	$(MAKE) --no-print-directory test-asan || rc=1; \
	$(MAKE) --no-print-directory check-o3 || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make test: FAILED" >&2; fi; \
	exit $$rc

test-release: build
	cd build && $(CTEST) $(CTEST_FLAGS)

test-asan:
	$(call configure,build-asan,-DCMAKE_BUILD_TYPE=Debug -DCERTHUB_SANITIZE=ON)
	$(call compile,build-asan)
	cd build-asan && $(CTEST) $(CTEST_FLAGS)

# GCC warns about more at -O3 (maybe-uninitialized, format-truncation,
# dangling-pointer) and users build Release: compile such a tree too, with
# -Werror as always; its tests are the release tree's.
check-o3:
	$(call configure,build-o3,-DCMAKE_BUILD_TYPE=Release)
	$(call compile,build-o3)

# libFuzzer over a scratch copy of each corpus, so saved inputs stay
# curated; crashes land in tests/fuzz/findings/.
FUZZ_TARGETS = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
fuzz:
	@[ -n "$(FUZZ_TARGETS)" ] || { echo "make fuzz: no tests/fuzz/fuzz_*.c" >&2; exit 1; }
	scripts/deps.sh fuzz
	$(call configure,build-fuzz,-DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTHUB_FUZZ=ON -DCERTHUB_SANITIZE=ON)
	$(call compile,build-fuzz,$(FUZZ_TARGETS))
	@mkdir -p tests/fuzz/findings
	@set -e; for t in $(FUZZ_TARGETS); do \
	  rm -rf build-fuzz/corpus/$$t; mkdir -p build-fuzz/corpus/$$t; \
	  if [ -d tests/fuzz/corpus/$$t ]; then \
	    cp -R tests/fuzz/corpus/$$t/. build-fuzz/corpus/$$t/; fi; \
	  echo "== $$t: $(FUZZ_SECONDS)s"; \
	  build-fuzz/tests/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/findings/$$t- build-fuzz/corpus/$$t; \
	done

bench: build
	scripts/deps.sh bench
	@if [ -x bench/run.sh ]; then bench/run.sh; \
	else echo "make bench: bench/run.sh is not there yet"; fi

format:
	scripts/deps.sh format
	find include lib src tests tools bench -name '*.[ch]' -print0 \
	  | xargs -0 clang-format -i

clean:
	rm -rf build build-asan build-o3 build-fuzz demo-out
