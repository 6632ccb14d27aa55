#!/usr/bin/env bash
# make test-asan / make test-ubsan: builds the C++ tests, the CLI and the Python module with a
# sanitizer in their own build dir (build-asan: AddressSanitizer + LeakSanitizer; build-ubsan:
# UndefinedBehaviorSanitizer, every report fatal) and runs the whole test suite there.
# Takes: asan | ubsan; TOLLGATE_TEST_SAMPLE (default 4: the corpus-wide oracle tests take every
# 4th case, see tests/cpp/test_support.hpp and python/tests/conftest.py); JOBS; TOLLGATE_DATA_DIR.
# Gives: the test output; exit status non-zero on a failure or a sanitizer report.
set -uo pipefail
cd "$(dirname "$0")/.."
kind=${1:?asan or ubsan}
case "$kind" in
  asan) flags="-fsanitize=address -fno-omit-frame-pointer -g"
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0} ;;
  ubsan) flags="-fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
         export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
  *) echo "sanitize-tests: unknown kind '$kind' (asan or ubsan)" >&2; exit 2 ;;
esac
B=${SAN_BUILD:-build-$kind}
bash scripts/install-deps.sh
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
  ${CMAKE_FLAGS:-} >/dev/null || exit 2
cmake --build "$B" -j "${JOBS:-$(nproc)}" --target tollgate tollgate_tests _core python_package || exit 2
export TOLLGATE_TEST_SAMPLE=${TOLLGATE_TEST_SAMPLE:-4}
status=0
(cd "$B" && ctest --output-on-failure) || status=1
# The module is loaded into an uninstrumented Python: ASan's runtime must come first, and leaks
# are not checked there (the interpreter's own allocations would be reported).
if [ "$kind" = asan ]; then
  LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
    PYTHONPATH="$B/python" /usr/bin/python3 -m pytest -q python/tests || status=1
else
  LD_PRELOAD="$(gcc -print-file-name=libubsan.so)" PYTHONPATH="$B/python" /usr/bin/python3 -m pytest -q python/tests || status=1
fi
exit $status
