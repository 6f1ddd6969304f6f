#!/bin/sh
# test_backup.sh BUILD_DIR
#
# The backup and restore procedure of docs/operations.md, for real: a vault
# made with `vaultctl init`, vaultd running on it, audit entries written
# (SIGHUP reloads are audited), a live `mdb_copy -c` backup, vaultd stopped,
# the data directory lost, the backup restored — refused by vaultd and
# audit verify as older than the freshness anchor until accepted with
# vaultctl audit restore — vaultd started again on it: same vault id, the
# entries up to the backup present, the hash chain intact.  The backup opens only with the key file kept apart.  No database
# server is needed.
set -eu

B=$1
W=$(mktemp -d /tmp/vd-backup.XXXXXX)
[ -d "$W" ] || exit 1
VDPID=
cleanup() {
	if [ -n "$VDPID" ] && kill -0 "$VDPID" 2>/dev/null; then
		kill -TERM "$VDPID"
		wait "$VDPID" || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$W/vaultd.log" ] && cat "$W/vaultd.log" >&2
	exit 1
}
umask 077
SOCK=$W/run/vaultd.sock
vc() { "$B/vaultctl" --socket "$SOCK" "$@"; }

start_vaultd() {
	"$B/vaultd" --config "$W/vaultd.conf" 2>>"$W/vaultd.log" &
	VDPID=$!
	i=0
	until vc status >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$VDPID" 2>/dev/null || fail "vaultd exited"
		[ $i -le 300 ] || fail "vaultd did not answer"
		sleep 0.1
	done
}
stop_vaultd() {
	kill -TERM "$VDPID"
	rc=0
	wait "$VDPID" || rc=$?
	VDPID=
	[ "$rc" -eq 0 ] || fail "vaultd exited $rc after SIGTERM"
}
# audit_count: the number of audit entries vaultd serves.
audit_count() {
	vc audit list --limit 100 --json | grep -c '"seq":' || true
}
# wait_audit N: until vaultd has N audit entries (a bounded wait, not a
# timing assertion: SIGHUP is handled asynchronously).
wait_audit() {
	i=0
	until [ "$(audit_count)" -eq "$1" ]; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "expected $1 audit entries, have $(audit_count)"
		sleep 0.1
	done
}
vault_id() {
	vc status --json | sed -n 's/^  "vault_id": "\([0-9a-f]*\)",$/\1/p'
}

mkdir "$W/run"
"$B/vaultctl" init --data-dir "$W/vault" --key-file "$W/root.key" >/dev/null
{
	echo "[vault]"
	echo "data_dir = $W/vault"
	echo "key_file = $W/root.key"
	echo "socket = $SOCK"
	echo "[access]"
	echo "admin = $(id -un)"
	echo "auditor = $(id -un)"
} >"$W/vaultd.conf"
start_vaultd
id1=$(vault_id)
[ -n "$id1" ] || fail "no vault_id in status"
kill -HUP "$VDPID"
wait_audit 1
kill -HUP "$VDPID"
wait_audit 2

# The backup, taken while vaultd runs: a consistent, compacted copy.
mkdir "$W/backup"
mdb_copy -c "$W/vault" "$W/backup" || fail "mdb_copy"
[ "$(stat -c %a "$W/backup/data.mdb")" = 600 ] || fail "backup not 0600"
[ ! -e "$W/backup/lock.mdb" ] || fail "mdb_copy copied a lock file"
# After the backup: one more entry, which a restore loses.
kill -HUP "$VDPID"
wait_audit 3
stop_vaultd

# The backup verifies offline with the key file, every page and record of
# the compacted copy too (--full), and not with another key.
out=$("$B/vaultctl" audit verify --full --data-dir "$W/backup" \
    --key-file "$W/root.key") || fail "audit verify --full on the backup: $out"
echo "$out" | grep -q 'intact: 2 entries' || fail "backup: $out"
echo "$out" | grep -q 'every page checks' || fail "backup --full: $out"
head -c 32 /dev/urandom >"$W/other.key"
if "$B/vaultctl" audit verify --data-dir "$W/backup" \
    --key-file "$W/other.key" >/dev/null 2>&1; then
	fail "the backup opened with another key"
fi

# Disaster, then the restore: the backup's data.mdb into an empty 0700 dir.
rm -rf "$W/vault"
mkdir -m 0700 "$W/vault"
cp "$W/backup/data.mdb" "$W/vault/data.mdb"
# The backup is older than the freshness anchor beside the data directory
# (issue 14): verify names the lost entry, vaultd refuses to start, and the
# restore is accepted explicitly, as an audit entry.
[ -f "$W/vault.anchor" ] || fail "no freshness anchor beside the vault"
if out=$("$B/vaultctl" audit verify --data-dir "$W/vault" \
    --key-file "$W/root.key" 2>&1); then
	fail "verify accepted the restored (older) copy: $out"
fi
echo "$out" | grep -q 'entries 3-3 are missing' || fail "verify: $out"
# --full: every page and record is sound, so it says the same, with the
# remedy (audit restore), not "damaged".
if out=$("$B/vaultctl" audit verify --full --data-dir "$W/vault" \
    --key-file "$W/root.key" 2>&1); then
	fail "verify --full accepted the restored (older) copy: $out"
fi
echo "$out" | grep -q 'entries 3-3 are missing' || fail "verify --full: $out"
echo "$out" | grep -q 'audit restore' || fail "verify --full: $out"
if echo "$out" | grep -q 'damaged'; then
	fail "verify --full called an older copy damaged: $out"
fi
rc=0
timeout 30 "$B/vaultd" --config "$W/vaultd.conf" 2>>"$W/vaultd.log" || rc=$?
[ $rc -eq 1 ] ||
    fail "vaultd on a data directory older than its anchor: exit $rc, not 1"

grep -q 'older than its freshness anchor' "$W/vaultd.log" ||
    fail "vaultd did not say why it refused"
"$B/vaultctl" audit restore --data-dir "$W/vault" --key-file "$W/root.key" \
    >/dev/null || fail "audit restore"
start_vaultd
id2=$(vault_id)
[ "$id2" = "$id1" ] || fail "restored vault id '$id2' != '$id1'"
[ "$(audit_count)" -eq 3 ] || fail "restored audit entries: $(audit_count)"
# The restored vault goes on: a new audited reload chains onto the old.
kill -HUP "$VDPID"
wait_audit 4
stop_vaultd
out=$("$B/vaultctl" audit verify --data-dir "$W/vault" \
    --key-file "$W/root.key") || fail "audit verify after the restore: $out"
echo "$out" | grep -q 'intact: 4 entries' || fail "restored: $out"
echo "test_backup: ok"
