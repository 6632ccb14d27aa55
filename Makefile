# tollgate — the two set-up commands are `make demo` and `make test`.
# Both install any missing Debian packages first (scripts/install-deps.sh).
BUILD ?= build
JOBS ?= $(shell nproc)
PY := /usr/bin/python3
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory

.PHONY: all deps configure build test test-cpp test-python demo bench clean fuzz test-asan test-ubsan

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@$(MAKE) --no-print-directory test-cpp test-python

test-cpp:
	@cd $(BUILD) && ctest --output-on-failure

test-python:
	@PYTHONPATH=$(BUILD)/python $(PY) -m pytest -q python/tests

demo: build
	@./$(BUILD)/tollgate demo

bench: build
	@bash scripts/run-benchmarks.sh

clean:
	rm -rf $(BUILD)

# Robustness (docs/reliability.md): libFuzzer targets for FUZZ_SECONDS each (clang, build-fuzz),
# and the whole test suite under ASan+LSan (build-asan) or UBSan (build-ubsan).
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

test-asan:
	@bash scripts/sanitize-tests.sh asan

test-ubsan:
	@bash scripts/sanitize-tests.sh ubsan
