#!/usr/bin/env bash
# make test-asan / make test-ubsan / make test-tsan: builds with a sanitizer in its own build dir and
# runs tests there.
#   asan:  build-asan, AddressSanitizer + LeakSanitizer; the CLI, the C++ tests and the Python module;
#          the whole test suite (ctest's C++ tests, then pytest with libasan preloaded).
#   ubsan: build-ubsan, UndefinedBehaviorSanitizer, every report fatal; the same targets and tests.
#   tsan:  build-tsan, ThreadSanitizer; tollgate_tests and tollgate_soak only (no Python: an
#          uninstrumented interpreter cannot host the TSan runtime); the tests that run threads
#          (TSAN_TESTS below, one tollgate_tests run each) and a soak of TSAN_SOAK_SECONDS (60; 0:
#          none) on 8 threads.
# Takes: asan | ubsan | tsan; TOLLGATE_TEST_SAMPLE (default 4: the corpus-wide oracle tests take every
# 4th case, see tests/cpp/test_support.hpp and python/tests/conftest.py); JOBS; TOLLGATE_DATA_DIR;
# CMAKE_FLAGS (extra cmake arguments, e.g. -DCMAKE_CXX_COMPILER_LAUNCHER=ccache); SAN_BUILD.
# Gives: the test output; exit status non-zero on a failure or a sanitizer report.
set -uo pipefail
cd "$(dirname "$0")/.."
kind=${1:?asan or ubsan}
case "$kind" in
  asan) flags="-fsanitize=address -fno-omit-frame-pointer -g"
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0} ;;
  ubsan) flags="-fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
         export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
  tsan) flags="-fsanitize=thread"  # RelWithDebInfo has -g
        export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1:halt_on_error=0} ;;
  *) echo "sanitize-tests: unknown kind '$kind' (asan, ubsan or tsan)" >&2; exit 2 ;;
esac
B=${SAN_BUILD:-build-$kind}
bash scripts/install-deps.sh
python=ON
[ "$kind" = tsan ] && python=OFF
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_BUILD_BENCH=OFF -DTOLLGATE_BUILD_PYTHON=$python \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
  ${CMAKE_FLAGS:-} >/dev/null || exit 2
export TOLLGATE_TEST_SAMPLE=${TOLLGATE_TEST_SAMPLE:-4}
status=0
if [ "$kind" = tsan ]; then
  cmake --build "$B" -j "${JOBS:-$(nproc)}" --target tollgate_tests tollgate_soak || exit 2
  echo "== $kind: build ${SECONDS} s"; SECONDS=0
  # The tests that run threads: the batch pool, the compiled-grammar cache (concurrent callers,
  # compile_async, cancellation), matchers sharing one grammar whose caches keep being cleared, the
  # lazy index, forks, the compile budget (parallel_for workers), the shared encoder and RetNet,
  # Earley generations (in [batch]: matchers of several generations in the pool; a generation freed
  # with its last matcher or fork).
  # Catch2 reads ',' as "or": names with a comma are given by a prefix and '*'.
  TSAN_TESTS=("[batch]" "[gcache]" "[threads]"
    "cfg masks: matchers on one grammar in several threads get the single-thread masks"
    "regex matcher: accept_bytes*" "length budget: accept*"
    "limits: compile time budget and cancellation*"
    "encoder is safe to share between threads" "One RetNet serves several threads at once"
    "generations: a generation is freed*")
  for spec in "${TSAN_TESTS[@]}"; do
    echo "== tsan: tollgate_tests \"$spec\""
    "$B/tollgate_tests" "$spec" || status=1
  done
  if [ "${TSAN_SOAK_SECONDS:-60}" -gt 0 ]; then  # 0: the tests alone
    echo "== tsan: tollgate_soak --threads 8 --seconds ${TSAN_SOAK_SECONDS:-60}"
    "$B/tollgate_soak" --threads 8 --seconds "${TSAN_SOAK_SECONDS:-60}" || status=1
  fi
  echo "== $kind: tests ${SECONDS} s, status $status"
  exit $status
fi
cmake --build "$B" -j "${JOBS:-$(nproc)}" --target tollgate tollgate_tests _core python_package || exit 2
echo "== $kind: build ${SECONDS} s"; SECONDS=0
# ctest's C++ tests (and the install test); the pytest files it lists are run below, under the
# sanitizer's runtime.
(cd "$B" && ctest --output-on-failure -j "${JOBS:-$(nproc)}" -E '^python/') || status=1
echo "== $kind: ctest ${SECONDS} s, status $status"; SECONDS=0
# The module is loaded into an uninstrumented Python: ASan's runtime must come first, and leaks
# are not checked there (the interpreter's own allocations would be reported). libstdc++ is
# preloaded too: the interpreter does not link it, and ASan's __cxa_throw interceptor, resolved at
# start, would otherwise find no real __cxa_throw and abort at the module's first C++ throw.
# The CLI tests run the sanitizer build's own tollgate.
export TOLLGATE_BINARY_DIR="$PWD/$B"
# test_install.py is left out: its pip route builds a module of its own with compilers that would
# inherit the sanitizer preload (a packaging test; it runs in `make test`).
if [ "$kind" = asan ]; then
  LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
    PYTHONPATH="$B/python" /usr/bin/python3 -m pytest -q python/tests --ignore=python/tests/test_install.py || status=1
else
  LD_PRELOAD="$(gcc -print-file-name=libubsan.so)" PYTHONPATH="$B/python" /usr/bin/python3 -m pytest -q python/tests \
    --ignore=python/tests/test_install.py || status=1
fi
echo "== $kind: pytest ${SECONDS} s, status $status"
exit $status
