#!/bin/sh
# test_ocf.sh - the OCF resource agent dist/ocf/vaultd (issue 16) against a
# real vaultd on a key-file vault: ocf-tester (package resource-agents) must
# pass it, then the cases ocf-tester does not cover:
#   - a passphrase vault is refused by validate-all and start
#     (OCF_ERR_CONFIGURED, the reason names "vaultctl unseal"); with
#     allow_sealed=true it starts, monitor says 0 and logs SEALED
#   - monitor depth 10 (vaultctl status --check) on a healthy vault: 0
#   - vaultd SIGKILLed: monitor 7 (not running), start brings it back
#   - a vaultd started outside the cluster on the same data directory is
#     found by monitor (its lock file) and stopped by stop
#   - a second data-directory holder: start fails (1) with vaultd's lock
#     message as the exit reason, the first vaultd untouched
#   - a missing config: validate-all 5 (not installed); a bad one: 6
# Needs root (ocf-tester checks the agent as nobody).  No database.
#
# usage: test_ocf.sh AGENT VAULTD VAULTCTL
set -u
AGENT_SRC=$1 VAULTD=$2 VAULTCTL=$3
OCF_ROOT=/usr/lib/ocf
export OCF_ROOT

fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
expect() {	# expect RC WANT WHAT
	if [ "$1" = "$2" ]; then ok "$3 (rc $1)"; else bad "$3: rc $1, want $2"; fi
}

for t in ocf-tester xmllint; do
	command -v $t >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh)"; exit 1; }
done
[ -r $OCF_ROOT/lib/heartbeat/ocf-shellfuncs ] ||
    { echo "FAIL: resource-agents not installed"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root"; exit 1; }

W=$(mktemp -d /tmp/vdocf.XXXXXX)
chmod 755 "$W"
# A copy nobody can read (ocf-tester runs meta-data as nobody; the source
# tree may sit below a directory nobody cannot enter).
cp "$AGENT_SRC" "$W/vaultd-agent"
chmod 755 "$W/vaultd-agent"
AGENT=$W/vaultd-agent

cleanup() {
	for p in $(cat "$W"/*.pid 2>/dev/null); do
		if tr '\0' '\n' </proc/$p/cmdline 2>/dev/null | grep -q "^$W/"; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
	[ -n "${OUT_PID:-}" ] && kill -KILL "$OUT_PID" 2>/dev/null
	if [ "$fails" -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi
}
trap cleanup EXIT

# mkvault NAME [passphrase]: a vault in $W/NAME and its vaultd.conf
mkvault() {
	d=$W/$1
	mkdir -m 700 "$d"
	if [ "${2:-}" = passphrase ]; then
		printf 'Ocf-Test#pass-%s\n' "$$" |
		    "$VAULTCTL" init --data-dir "$d/data" --passphrase \
		    --kdf-cost interactive >/dev/null || exit 1
		keyline=
	else
		"$VAULTCTL" init --data-dir "$d/data" --key-file "$d/key" \
		    >/dev/null || exit 1
		keyline="key_file = $d/key"
	fi
	cat >"$d/vaultd.conf" <<EOF
[vault]
data_dir = $d/data
$keyline
socket = $d/run/vaultd.sock

[access]
admin = root
EOF
	chmod 600 "$d/vaultd.conf"
}

# ra NAME ACTION [VAR=VALUE...]: runs the agent as Pacemaker would, for the
# vault NAME; prints its output, returns its exit code.
ra() {
	n=$1 a=$2
	shift 2
	env OCF_ROOT=$OCF_ROOT OCF_RESOURCE_INSTANCE=vd-$n \
	    OCF_RESKEY_config=$W/$n/vaultd.conf OCF_RESKEY_vaultd=$VAULTD \
	    OCF_RESKEY_vaultctl=$VAULTCTL OCF_RESKEY_log=$W/$n/vaultd.log \
	    OCF_RESKEY_pidfile=$W/$n.pid OCF_RESKEY_CRM_meta_timeout=20000 \
	    "$@" "$AGENT" "$a" 2>&1
}

# --- ocf-tester on a key-file vault --------------------------------------
mkvault kf
t0=$(date +%s)
ocf-tester -v -n vd-kf -o config="$W/kf/vaultd.conf" -o vaultd="$VAULTD" \
    -o vaultctl="$VAULTCTL" -o log="$W/kf/vaultd.log" \
    -o pidfile="$W/kf.pid" "$AGENT" >"$W/ocf-tester.out" 2>&1
rc=$?
sed 's/^/  ocf-tester: /' "$W/ocf-tester.out" | grep -v '^  ocf-tester: *$' |
    grep -iE 'passed|failed|rc=|abort|\* ' || true
expect $rc 0 "ocf-tester passes the agent ($(($(date +%s) - t0))s)"
grep -q "passed all tests" "$W/ocf-tester.out" && ok "ocf-tester: passed all tests" ||
    { bad "ocf-tester did not pass"; cat "$W/ocf-tester.out"; }

# --- depth 10, SIGKILL, restart -------------------------------------------
ra kf start >/dev/null
expect $? 0 "start"
out=$(ra kf monitor OCF_CHECK_LEVEL=10 HA_debug=1)
expect $? 0 "monitor depth 10 on a healthy vault"
pid=$(cat "$W/kf.pid")
kill -KILL "$pid"
n=0; while [ -d /proc/$pid ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
ra kf monitor >/dev/null
expect $? 7 "monitor after SIGKILL: not running"
ra kf start >/dev/null
expect $? 0 "start after SIGKILL (the lock was the kernel's to drop)"
ra kf monitor >/dev/null
expect $? 0 "monitor after the restart"

# --- a second holder of the data directory --------------------------------
mkdir -m 700 "$W/kf2"
sed "s|$W/kf/run|$W/kf2/run|" "$W/kf/vaultd.conf" >"$W/kf2/vaultd.conf"
chmod 600 "$W/kf2/vaultd.conf"
out=$(ra kf2 start)
rc=$?
expect $rc 1 "start on a data directory another vaultd holds fails"
case "$out" in
*"in use by vaultd (pid $(cat "$W/kf.pid"))"*) ok "the reason is vaultd's lock message" ;;
*) bad "start's reason does not name the holder: $out" ;;
esac
ra kf monitor >/dev/null
expect $? 0 "the first vaultd is untouched"
ra kf stop >/dev/null
expect $? 0 "stop"

# --- a vaultd started outside the cluster ----------------------------------
setsid "$VAULTD" --config "$W/kf/vaultd.conf" </dev/null \
    >>"$W/kf/outside.log" 2>&1 &
OUT_PID=$!
n=0; while [ ! -S "$W/kf/run/vaultd.sock" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
sleep 0.3
ra kf monitor OCF_RESKEY_CRM_meta_interval=0 >/dev/null
expect $? 0 "a probe finds a vaultd started by hand (its lock file's pid)"
ra kf stop >/dev/null
expect $? 0 "stop stops it"
n=0; while [ -d /proc/$OUT_PID ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ -d /proc/$OUT_PID ] && bad "the hand-started vaultd still runs" ||
    ok "the hand-started vaultd is gone"
wait "$OUT_PID" 2>/dev/null
OUT_PID=

# --- a passphrase vault ---------------------------------------------------
mkvault pp passphrase
out=$(ra pp validate-all)
expect $? 6 "validate-all refuses a passphrase vault"
case "$out" in
*"vaultctl unseal"*) ok "its reason says who must unseal" ;;
*) bad "validate-all's reason: $out" ;;
esac
ra pp start >/dev/null
expect $? 6 "start refuses a passphrase vault"
ra pp monitor >/dev/null
expect $? 7 "... and left nothing running"
ra pp start OCF_RESKEY_allow_sealed=true >/dev/null
expect $? 0 "with allow_sealed=true it starts"
out=$(ra pp monitor OCF_RESKEY_allow_sealed=true)
expect $? 0 "monitor on the sealed vault (allow_sealed): running"
case "$out" in
*SEALED*"vaultctl unseal"*) ok "monitor says it is sealed and what to do" ;;
*) bad "monitor's warning: $out" ;;
esac
out=$(ra pp monitor)
expect $? 6 "monitor without allow_sealed: OCF_ERR_CONFIGURED"
ra pp stop >/dev/null
expect $? 0 "stop the sealed vault"

# --- configuration errors ---------------------------------------------------
ra kf validate-all OCF_RESKEY_config=$W/nope.conf >/dev/null
expect $? 5 "validate-all: a missing config is not installed"
printf '[vault]\nbogus = 1\n' >"$W/bad.conf"
ra kf validate-all OCF_RESKEY_config=$W/bad.conf >/dev/null
expect $? 6 "validate-all: a config vaultd refuses"
ra kf validate-all OCF_RESKEY_vaultd=$W/no-vaultd >/dev/null
expect $? 5 "validate-all: a missing binary"

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
