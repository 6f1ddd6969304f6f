#!/bin/sh
# The main job, end to end, against a throwaway local MariaDB:
#   a weak root password on localhost, 127.0.0.1 and ::1 -> a vault is
#   initialised -> vaultd starts -> root is registered -> rotated to a
#   password generated to the bank's baseline -> the mariadb client proves
#   the new password works on every host and the old one no longer does ->
#   the history and the audit trail are shown and verified.
# Installs what is missing and builds first.  Everything lives in a
# temporary directory and is stopped and removed at the end; no password
# is ever printed, passed in argv or put in the environment.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

sh scripts/deps.sh
echo "==> building"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
B=$top/build/release

W=$(mktemp -d /tmp/vaultd-demo.XXXXXX)
chmod 700 "$W"
VDPID=
cleanup() {
	if [ -n "$VDPID" ] && kill -0 "$VDPID" 2>/dev/null; then
		kill -TERM "$VDPID" 2>/dev/null || true
		wait "$VDPID" 2>/dev/null || true
	fi
	sh "$top/tests/integration/mariadb.sh" stop demo "$W/mdb.env" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

step() { printf '\n==> %s\n' "$*"; }
vaultctl() { "$B/vaultctl" --socket "$W/run/vaultd.sock" "$@"; }

# mariadb client login with a password from a 0600 option file (never argv).
login() { # login PWFILE HOST-ARGS... -> prints CURRENT_USER() or fails
	pwf=$1
	shift
	{
		printf '[client]\npassword="'
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$pwf" | tr -d '\n'
		printf '"\n'
	} >"$W/login.cnf"
	chmod 600 "$W/login.cnf"
	mariadb --defaults-file="$W/login.cnf" -uroot --connect-timeout=5 \
	    -N -B "$@" -e 'SELECT CURRENT_USER()' 2>/dev/null
}

step "starting a throwaway MariaDB server"
sh tests/integration/mariadb.sh start demo "$W/mdb.env" >/dev/null
. "$W/mdb.env"
echo "mariadbd pid $MDB_PID, socket $MDB_SOCKET, port $MDB_PORT"
HOSTS="localhost,127.0.0.1"
[ "${MDB_IPV6:-0}" = 1 ] && HOSTS="$HOSTS,::1"

step "the weak root password the bank wants gone (root@{$HOSTS})"
printf 'Cmb@2021\n' >"$W/old.pw"
chmod 600 "$W/old.pw"
{
	for h in $(echo "$HOSTS" | tr ',' ' '); do
		printf "SET PASSWORD FOR 'root'@'%s' = PASSWORD('Cmb@2021');\n" "$h"
	done
} | mariadb --no-defaults -uroot -S "$MDB_SOCKET"
echo "root@localhost logs in with it: $(login "$W/old.pw" -S "$MDB_SOCKET")"
printf 'Cmb@2021\n' | "$B/vaultctl" policy check || true

step "vaultctl init: a new encrypted vault and its key file"
"$B/vaultctl" init --data-dir "$W/vault" --key-file "$W/vault.key"

step "escrow keys for the bank (customer) and the vendor: private halves stay offline"
"$B/vaultctl" escrow keygen --out "$W/customer.key" --name customer
"$B/vaultctl" escrow keygen --out "$W/vendor.key" --name vendor

step "each party pins the vault's signing key: break-glass trusts no other signer"
fp=$("$B/vaultctl" escrow vault-key --data-dir "$W/vault" --key-file "$W/vault.key")
echo "vault signing key: $fp (handed to each party out of band)"
"$B/vaultctl" escrow pin --escrow-key "$W/customer.key" --vault-key "$fp"
"$B/vaultctl" escrow pin --escrow-key "$W/vendor.key" --vault-key "$fp"

step "vaultd: the daemon, on its own socket"
mkdir -p "$W/run"
cat >"$W/vaultd.conf" <<EOF
[vault]
data_dir = $W/vault
key_file = $W/vault.key
socket = $W/run/vaultd.sock

[access]
admin = root

[policy bank]
length = 24
deny_words = cmb, cmbchina, bank

[escrow]
mode = any
customer = $W/customer.key.pub $(cut -d' ' -f4 "$W/customer.key.pub")
vendor = $W/vendor.key.pub $(cut -d' ' -f4 "$W/vendor.key.pub")
EOF
"$B/vaultd" --config "$W/vaultd.conf" 2>"$W/vaultd.log" &
VDPID=$!
i=0
until [ -S "$W/run/vaultd.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$VDPID" 2>/dev/null; then
		cat "$W/vaultd.log" >&2
		echo "vaultd did not start" >&2
		exit 1
	fi
	sleep 0.1
done
echo "vaultd pid $VDPID"

step "vaultctl target add: register root (current password on stdin)"
vaultctl target add batch1 --unix-socket "$MDB_SOCKET" --user root \
    --account-hosts "$HOSTS" --policy bank --every 90d <"$W/old.pw"
vaultctl target show batch1

step "vaultctl rotate --wait: generate, store pending, apply to every host, verify, promote"
vaultctl rotate batch1 --wait

step "vaultctl get (audited): the new password goes to a 0600 file, not the screen"
vaultctl get batch1 >"$W/new.pw"
chmod 600 "$W/new.pw"
echo "new password: $(tr -d '\n' <"$W/new.pw" | wc -c) characters; policy check: $("$B/vaultctl" policy check --config "$W/vaultd.conf" --policy bank <"$W/new.pw")"

step "proof with the mariadb client"
ok=1
for h in $(echo "$HOSTS" | tr ',' ' '); do
	case $h in
	localhost) args="-S $MDB_SOCKET" ;;
	*) args="-h $h -P $MDB_PORT --protocol=TCP" ;;
	esac
	# shellcheck disable=SC2086
	if who=$(login "$W/new.pw" $args); then
		echo "root@$h: new password logs in as $who"
	else
		echo "root@$h: new password REFUSED" >&2
		ok=0
	fi
	# shellcheck disable=SC2086
	if login "$W/old.pw" $args >/dev/null; then
		echo "root@$h: old password STILL WORKS" >&2
		ok=0
	else
		echo "root@$h: old password refused"
	fi
done
[ $ok = 1 ] || { echo "demo failed" >&2; exit 1; }

step "vaultctl history: every rotation, newest first"
vaultctl history batch1

step "vaultctl status"
vaultctl status

step "vaultctl audit list: who did what (never a secret)"
vaultctl audit list --limit 10

step "vaultctl audit verify: the hash chain, offline and read-only"
"$B/vaultctl" audit verify --data-dir "$W/vault" --key-file "$W/vault.key"

step "break-glass: vaultd stopped, the vendor's key alone recovers the password offline"
kill -TERM "$VDPID"
wait "$VDPID" 2>/dev/null || true
VDPID=
"$B/vaultctl" breakglass --data-dir "$W/vault" --escrow-key "$W/vendor.key" \
    batch1 >"$W/bg.pw"
if cmp -s "$W/bg.pw" "$W/new.pw" && who=$(login "$W/bg.pw" -S "$MDB_SOCKET"); then
	echo "the escrowed password is the current one and logs in as $who"
else
	echo "break-glass did not recover the current password" >&2
	exit 1
fi

step "a password never reaches the daemon's log"
if grep -qF "$(tr -d '\n' <"$W/new.pw")" "$W/vaultd.log" ||
    grep -qF "Cmb@2021" "$W/vaultd.log"; then
	echo "a password was found in vaultd's log" >&2
	exit 1
fi
echo "checked $(wc -l <"$W/vaultd.log") log lines: no password in them"

step "done: stopping vaultd and MariaDB, removing $W"
