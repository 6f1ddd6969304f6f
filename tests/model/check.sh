#!/bin/sh
# check.sh - model-checks model/rotation.pml with spin: each claim in its
# own exhaustive search, then each deliberately broken variant, which spin
# must reject (issue 13, "A model that is checked"; model/README.md).
#
# usage: check.sh [run-id ...]	(default: all runs below)
#
# Exit 1 when a claim fails, when a search is incomplete (depth limit,
# memory limit), or when spin accepts a broken variant.  Per run it prints
# the states stored, transitions, depth reached, time and errors.
#
# Environment: MODEL (model/rotation.pml), SPIN (spin), CC (cc), MEMLIM
# (MB per search, 2048), DEPTH (-m, 400000), KEEP (a directory to keep
# pan.c, the outputs and the trails in, instead of a temporary one).
#
# Search settings, the same for every run:
#   -DCOLLAPSE     exhaustive search, states stored compressed (no
#                  bitstate, no hash compaction: nothing is left out);
#   -DMEMLIM       the search stops, and this script fails, beyond it;
#   -DSAFETY       for the safety claims (a, b, d): no cycle detection;
#   -a -f          for the liveness claims c, f: acceptance cycles under
#                  weak fairness (-DNFAIR=3: up to 7 processes);
#   -m$DEPTH       the DFS stack; "max search depth too small" fails;
#   -w24           initial hash table (2^24 slots; pan grows it);
#   -O2            for the claims; -O0 for the broken variants.
# The state vector is under 100 bytes, so VECTORSZ stays at its default.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
model=${MODEL:-$root/model/rotation.pml}
SPIN=${SPIN:-spin}
CC=${CC:-cc}
MEMLIM=${MEMLIM:-2048}
DEPTH=${DEPTH:-400000}

if ! command -v "$SPIN" >/dev/null 2>&1; then
	echo "model: $SPIN not found (Debian package spin; scripts/deps.sh)" >&2
	exit 1
fi

# Environment budgets (model/README.md says why these): crashes of the
# engine, faults (a statement refused or its connection lost, a connect
# that fails), commits that fail (disk full), outsider changes (drift).
full="-DMAXCRASH=1 -DMAXFAULT=1 -DMAXDISK=1 -DMAXDRIFT=1"
crash2="-DMAXCRASH=2 -DMAXFAULT=1 -DMAXDISK=1 -DMAXDRIFT=0"
nodrift="-DMAXCRASH=1 -DMAXFAULT=1 -DMAXDISK=1 -DMAXDRIFT=0"
drift="-DMAXCRASH=1 -DMAXFAULT=0 -DMAXDISK=0 -DMAXDRIFT=1"
logins="-DMAXCRASH=1 -DMAXFAULT=1 -DMAXDISK=0 -DMAXDRIFT=1"
# Checkouts (issue 17): the vendor's requests beside the engine; a crash,
# no faults (they only delay the rotation: claim c covers resolution).
co="-DMAXCRASH=1 -DMAXFAULT=0 -DMAXDISK=0 -DMAXDRIFT=0"

# id | claim | kind (safety, liveness) | expect (hold, reject) | spin -D
runs="
a|a|safety|hold|-DCLAIM_A $full
a-crash2|a|safety|hold|-DCLAIM_A $crash2
b|b|safety|hold|-DCLAIM_B $crash2
c|c|liveness|hold|-DCLAIM_C $nodrift
c-drift|c|liveness|hold|-DCLAIM_C $drift
d|d|safety|hold|-DCLAIM_D $logins
broken-get-nowait|a|safety|reject|-DCLAIM_A -DBROKEN_GET_NOWAIT $full
broken-no-hash|a|safety|reject|-DCLAIM_A -DBROKEN_NO_HASH $full
broken-forget|b|safety|reject|-DCLAIM_B -DBROKEN_FORGET $nodrift
broken-reapply|c|liveness|reject|-DCLAIM_C -DBROKEN_REAPPLY $nodrift
broken-window|c|liveness|reject|-DCLAIM_C -DBROKEN_WINDOW $nodrift
broken-check|d|safety|reject|-DCLAIM_D -DBROKEN_CHECK $drift
broken-volatile|d|safety|reject|-DCLAIM_D -DBROKEN_VOLATILE $drift
e|e|safety|hold|-DCLAIM_E $co
f|f|liveness|hold|-DCLAIM_F $co
broken-nohold|e|safety|reject|-DCLAIM_E -DBROKEN_NOHOLD $co
broken-volatile-end|f|liveness|reject|-DCLAIM_F -DBROKEN_VOLATILE_END $co
"

if [ -n "${KEEP:-}" ]; then
	work=$KEEP
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT INT TERM
fi

failed=0
total_start=$(date +%s)

# field NAME FILE: the number before NAME in pan's output ("states, stored").
field() {
	sed -n "s/^ *\([0-9.e+]*\) $1.*/\1/p" "$2" | head -n 1
}

run() {
	id=$1 claim=$2 kind=$3 expect=$4 defs=$5
	dir=$work/$id
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$model" "$dir/rotation.pml"
	if [ "$kind" = safety ]; then
		ccflags="-DSAFETY"
		panflags=""
	else
		# Weak fairness over up to 7 processes (the vendor's too).
		ccflags="-DNFAIR=3"
		panflags="-a -f"
	fi
	# shellcheck disable=SC2086
	if ! (cd "$dir" && $SPIN $defs -a rotation.pml >spin.out 2>&1); then
		echo "model: $id: spin -a failed:" >&2
		cat "$dir/spin.out" >&2
		return 1
	fi
	# A broken variant's search stops at its first counterexample: its
	# pan is compiled without optimisation (a second instead of five).
	if [ "$expect" = hold ]; then opt=-O2; else opt=-O0; fi
	# shellcheck disable=SC2086
	if ! (cd "$dir" && $CC $opt -w -DCOLLAPSE -DMEMLIM=$MEMLIM $ccflags \
	    -o pan pan.c >cc.out 2>&1); then
		echo "model: $id: cc pan.c failed:" >&2
		cat "$dir/cc.out" >&2
		return 1
	fi
	start=$(date +%s)
	# shellcheck disable=SC2086
	(cd "$dir" && ./pan $panflags -m"$DEPTH" -w24 -N "$claim" >pan.out 2>&1)
	secs=$(( $(date +%s) - start ))
	out=$dir/pan.out
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -n 1)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | head -n 1)
	stored=$(field "states, stored" "$out")
	trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' "$out" | head -n 1)
	elapsed=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\).*/\1/p' "$out")
	printf '%-18s claim %s %-8s %-6s states stored %10s  transitions %10s  depth %6s  %5ss  errors: %s\n' \
	    "$id" "$claim" "$kind" "$expect" "${stored:-?}" "${trans:-?}" \
	    "${depth:-?}" "${elapsed:-$secs}" "${errors:-?}"
	if [ -z "$errors" ]; then
		echo "model: $id: no result from pan:" >&2
		tail -n 20 "$out" >&2
		return 1
	fi
	incomplete=""
	if grep -q "max search depth too small" "$out"; then
		incomplete="depth limit -m$DEPTH hit"
	elif grep -q -e "reached -DMEMLIM bound" -e "out of memory" \
	    -e "Search not completed" "$out"; then
		incomplete="memory limit ($MEMLIM MB) hit"
	fi
	if [ "$expect" = hold ]; then
		if [ "$errors" != 0 ]; then
			echo "model: $id: claim $claim FAILS; counterexample" \
			    "(with KEEP=dir): cd dir/$id &&" \
			    "$SPIN $defs -t -p -N $claim rotation.pml" >&2
			grep -e "violated" -e "acceptance cycle" -e "invalid end" \
			    "$out" >&2
			return 1
		fi
		if [ -n "$incomplete" ]; then
			echo "model: $id: search incomplete: $incomplete" >&2
			return 1
		fi
		return 0
	fi
	# A broken variant: spin must find a counterexample to this claim
	# (a never claim's violation or an acceptance cycle), not some
	# other assertion of the model.
	if [ "$errors" = 0 ]; then
		echo "model: $id: spin ACCEPTS the broken variant" \
		    "(claim $claim holds): the check cannot fail" >&2
		return 1
	fi
	if [ "$kind" = safety ]; then
		pat="assertion violated  *!( *!("	# the claim's [] p
	else
		pat="acceptance cycle"
	fi
	if ! grep -q "$pat" "$out"; then
		echo "model: $id: rejected, but not by claim $claim:" >&2
		grep -e "violated" -e "invalid end" "$out" >&2
		return 1
	fi
	return 0
}

want=${*:-}
echo "$runs" | while IFS='|' read -r id claim kind expect defs; do
	[ -n "$id" ] || continue
	if [ -n "$want" ]; then
		case " $want " in
		*" $id "*) ;;
		*) continue ;;
		esac
	fi
	run "$id" "$claim" "$kind" "$expect" "$defs" || echo "$id" >>"$work/failed"
done

if [ -s "$work/failed" ]; then
	failed=1
	echo "model: FAILED: $(tr '\n' ' ' <"$work/failed")"
fi
echo "model: total $(( $(date +%s) - total_start ))s"
exit $failed
