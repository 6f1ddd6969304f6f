#!/bin/sh
# memcheck.sh [BUILD_DIR] - every unit test (ctest label "unit") of a
# non-sanitizer build (default build/release) under valgrind memcheck, as
# many at once as there are CPUs: any memory error or definite/indirect
# leak fails the run.  Suppressions (tests/valgrind/vaultd.supp) cover only
# known false positives, each with its reason.  Part of scripts/test.sh.
# (Internally: memcheck.sh --one LOGDIR NAME WORKDIR COMMAND... runs one.)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
supp="$root/tests/valgrind/vaultd.supp"

if [ "${1:-}" = --one ]; then
	logdir=$2 name=$3 wd=$4
	shift 4
	log="$logdir/$name.log"
	t0=$(date +%s)
	# --child-silent-after-fork: tests that fork check their children's
	# exit status, and a child's own errors still make it exit 99.
	if (cd "$wd" && valgrind --tool=memcheck --error-exitcode=99 \
	    --child-silent-after-fork=yes --leak-check=full \
	    --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect \
	    --suppressions="$supp" --log-file="$log" "$@" \
	    >"$log.out" 2>&1); then
		echo "memcheck: $name: ok, $(($(date +%s) - t0))s" \
		    "($(grep -o 'ERROR SUMMARY: [0-9]* errors' "$log" | head -n 1))"
		exit 0
	fi
	{
		echo "memcheck: $name: FAILED (log $log)"
		tail -n 60 "$log"
		tail -n 20 "$log.out"
	} >&2
	touch "$logdir/FAILED"
	exit 0
fi

build=${1:-build/release}
command -v valgrind >/dev/null ||
    { echo "memcheck: no valgrind (scripts/deps.sh)" >&2; exit 1; }
[ -f "$build/CTestTestfile.cmake" ] ||
    { echo "memcheck: no build in $build" >&2; exit 1; }
logdir=$(mktemp -d /tmp/vd-memcheck.XXXXXX)
# One line per test: LOGDIR NAME WORKDIR COMMAND... (no spaces in paths).
ctest --test-dir "$build" -L unit --show-only=json-v1 | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    wd = [p["value"] for p in t.get("properties", [])
          if p["name"] == "WORKING_DIRECTORY"]
    print(sys.argv[1], t["name"], wd[0] if wd else ".", *t["command"])
' "$logdir" >"$logdir/list"
n=$(wc -l <"$logdir/list")
[ "$n" -gt 0 ] || { echo "memcheck: no unit tests found" >&2; exit 1; }
xargs -P "$(nproc 2>/dev/null || echo 2)" -L 1 sh "$0" --one <"$logdir/list"
if [ -e "$logdir/FAILED" ]; then
	echo "memcheck: $n unit tests: FAILURES (logs in $logdir)" >&2
	exit 1
fi
rm -rf "$logdir"
echo "memcheck: $n unit tests, all clean"
