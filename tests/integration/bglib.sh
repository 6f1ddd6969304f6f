# bglib.sh - shared by the offline break-glass attack tests
# (test_breakglass.sh, test_breakglass_trust.sh, test_bundle_index.sh), sourced after they set
# VC (vaultctl) and T (their scratch directory).

fails=0

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# Runs vaultctl breakglass with args; stdout to $T/out, stderr to $T/err.
brk() {
	"$VC" breakglass "$@" >"$T/out" 2>"$T/err"
}

# Expects the last command to have failed (exit 1) with nothing on stdout.
refused() {
	rc=$1
	shift
	[ "$rc" -eq 1 ] || fail "$*: exit $rc, expected 1 ($(cat "$T/err"))"
	[ ! -s "$T/out" ] || fail "$*: something was printed on stdout"
}
