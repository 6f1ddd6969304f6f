#!/bin/sh
# The whole test suite: installs what is missing, builds a release build and
# an ASan+UBSan build (warnings are errors in both), and runs every test in
# each, runs the release build's unit tests under valgrind memcheck
# (scripts/memcheck.sh: errors and leaks fail), a 2-minute crash soak
# (scripts/soak.sh --strict: a get whose password does not log in, or a
# history row left running, fails it), then every libFuzzer target for a bounded time
# (VD_FUZZ_SECONDS, default 45: 12 targets, the whole run kept under 45
# minutes on 2 cores).  The release suite includes the Debian
# package test (tests/dist/test_package.sh: build, lintian, install, upgrade,
# purge in a cached mmdebstrap root).  The integration tests start and stop their own throwaway MariaDB
# servers; nothing outside the build trees, /tmp and the package test's
# cache of Debian roots (/var/cache/vaultd-test) is touched.
set -eu
cd "$(dirname "$0")/.."

sh scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
status=0

run_suite() {
	name=$1
	shift
	echo "==> $name: configure and build"
	cmake -S . -B "build/$name" -DVD_WERROR=ON "$@" >"build-$name.log" 2>&1 ||
	    { cat "build-$name.log"; return 1; }
	cmake --build "build/$name" -j"$jobs" >>"build-$name.log" 2>&1 ||
	    { tail -60 "build-$name.log"; return 1; }
	rm -f "build-$name.log"
	echo "==> $name: ctest"
	# $ctest_extra: more ctest options for this suite.
	ctest --test-dir "build/$name" --output-on-failure -j2 --timeout 1200 \
	    $ctest_extra
}

mkdir -p build
ctest_extra=
run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
echo "==> memcheck: the release build's unit tests under valgrind"
sh scripts/memcheck.sh build/release || status=1
# The Debian package test (label package) builds its own packages from the
# source tree, not from build/asan, and the spin model check (label model)
# does not use the build: once, in the release suite, is enough.
ctest_extra="-LE package|model"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
run_suite asan -DCMAKE_BUILD_TYPE=Debug -DVD_SANITIZE=ON || status=1

echo "==> soak: 2 minutes (scripts/soak.sh --strict; vaultd and mariadbd killed at random, the disk filled, gets checked by a login)"
sh scripts/soak.sh --strict 120 build/release || status=1

echo "==> fuzz: each libFuzzer target for ${VD_FUZZ_SECONDS:-45}s"
sh scripts/fuzz.sh "${VD_FUZZ_SECONDS:-45}" || status=1

if [ "$status" -eq 0 ]; then
	echo "==> all suites passed"
else
	echo "==> FAILED" >&2
fi
exit "$status"
