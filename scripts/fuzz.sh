#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a
# bounded time: scripts/fuzz.sh [SECONDS-PER-TARGET] (default 60).  New
# inputs that found coverage go to build/fuzz-corpus/NAME (the committed
# seeds in tests/fuzz/corpus/NAME are read, never written); a crash leaves
# its input in build/fuzz-crash/ and fails the run.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
jobs=$(nproc 2>/dev/null || echo 2)

CC=clang cmake -S . -B build/fuzz -DVD_FUZZ=ON -DVD_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/fuzz-cmake.log 2>&1 ||
    { cat build/fuzz-cmake.log; exit 1; }
# Only the fuzz targets (and what they link): the test suites have their
# own builds.
targets=$(sed -n 's/^vd_fuzz_target(\([a-z_]*\).*/fuzz_\1/p' tests/fuzz/CMakeLists.txt)
# shellcheck disable=SC2086
cmake --build build/fuzz -j"$jobs" --target $targets >>build/fuzz-cmake.log 2>&1 ||
    { tail -60 build/fuzz-cmake.log; exit 1; }

mkdir -p build/fuzz-crash
status=0
for f in build/fuzz/tests/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=${f##*/fuzz_}
	mkdir -p "build/fuzz-corpus/$name"
	echo "==> fuzz_$name: ${secs}s"
	if ! "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="build/fuzz-crash/$name-" -print_final_stats=1 \
	    "build/fuzz-corpus/$name" "tests/fuzz/corpus/$name" \
	    >"build/fuzz-$name.log" 2>&1; then
		tail -40 "build/fuzz-$name.log"
		status=1
	fi
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' \
	    "build/fuzz-$name.log" | sed "s/^/    /"
done
exit $status
