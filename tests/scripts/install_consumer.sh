#!/usr/bin/env bash
# The installed package as a serving project meets it: `cmake --install` of the build tree into a
# temporary prefix, then docs/examples built as an outside project (tests/install/CMakeLists.txt) with
# find_package(tollgate) → tollgate::tollgate, and the regex example run on the built-in RetNet's
# tokenizer; then the same project configured with add_subdirectory(<checkout>). Takes: BUILD_DIR SOURCE_DIR. Gives: exit 0 when all of that works; checks that only
# include/tollgate was installed as headers and that the engine alone does not pull in the model.
set -euo pipefail
build="$1"
src="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# Public headers only: include/tollgate/*.hpp, nothing of engine/, fsm/ or grammar/.
[ -f "$tmp/prefix/include/tollgate/tollgate.hpp" ] || { echo "no include/tollgate/tollgate.hpp installed"; exit 1; }
extra="$(cd "$tmp/prefix/include" && find . -type f ! -path './tollgate/*')"
[ -z "$extra" ] || { echo "headers outside include/tollgate installed: $extra"; exit 1; }

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The build's own compiler and linker flags (a sanitizer build's library needs its runtime in the consumer).
cxxflags="$(sed -n 's/^CMAKE_CXX_FLAGS:[A-Z]*=//p' "$build/CMakeCache.txt")"
ldflags="$(sed -n 's/^CMAKE_EXE_LINKER_FLAGS:[A-Z]*=//p' "$build/CMakeCache.txt")"
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
      -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
      -DCMAKE_PREFIX_PATH="$tmp/prefix" -DTOLLGATE_EXAMPLES_DIR="$src/docs/examples" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer" -j 2 >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }

# The engine target alone: its link line names the engine library and not the model's.
link="$(find "$tmp/consumer" -name link.txt -path '*regex_mask*' | head -1)"
grep -q "libtollgate\.a" "$link" || { echo "libtollgate.a not linked: $(cat "$link")"; exit 1; }
if grep -q "tollgate_retnet" "$link"; then echo "the engine pulled in the model: $(cat "$link")"; exit 1; fi

out="$("$tmp/consumer/regex_mask" "$src/models/retnet/tokenizer.json")"
echo "$out"
# The example prints the text it generated under \d{4}-\d{2}-\d{2}.
echo "$out" | grep -Eq '[0-9]{4}-[0-9]{2}-[0-9]{2}' || { echo "the example did not produce a date"; exit 1; }
# add_subdirectory from the checkout: configured (and generated) only — building it again would
# cost a full library build.
cmake -S "$src/tests/install" -B "$tmp/subdir" -DTOLLGATE_SOURCE="$src" -DTOLLGATE_EXAMPLES_DIR="$src/docs/examples" \
      >"$tmp/subdir.log" 2>&1 || { cat "$tmp/subdir.log"; exit 1; }
echo "install consumer: ok (find_package built and ran the examples; add_subdirectory configured)"
