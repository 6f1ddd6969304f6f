#!/bin/sh
# test_smoke.sh - the fixture's server works for what vaultd does: create a
# user, change its password, log in fresh with the new one, fail with the
# old one; over the Unix socket (user@localhost) and TCP (user@127.0.0.1).
#
# Passwords never reach argv: SQL goes to the mariadb client on stdin, and
# logins read the password from an option file of mode 0600.
set -u

[ -n "${VD_TEST_MDB_ENV:-}" ] || { echo "VD_TEST_MDB_ENV not set" >&2; exit 1; }
. "$VD_TEST_MDB_ENV"

U="vdsmoke_$$"
T=$(mktemp -d /tmp/vdsmoke.XXXXXX) || exit 1
fails=0

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# Runs SQL from stdin as root over the socket.
root_sql() {
	mariadb --no-defaults --socket="$MDB_SOCKET" -uroot -N -B
}

cleanup() {
	printf "DROP USER IF EXISTS '%s'@'localhost', '%s'@'127.0.0.1';\n" \
	    "$U" "$U" | root_sql
	rm -rf -- "$T"
}
trap cleanup EXIT

# Escapes stdin for a single-quoted SQL literal.
sql_esc() {
	sed -e 's/\\/\\\\/g' -e "s/'/''/g"
}

# Escapes stdin for a double-quoted option file value.
cnf_esc() {
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# Writes an option file $1 for user $U with the password in $2.
write_cnf() {
	e=$(printf '%s' "$2" | cnf_esc)
	(umask 077 && printf '[client]\nuser=%s\npassword="%s"\n' "$U" "$e" >"$1")
}

# Logs in with option file $1 over the socket ("sock") or TCP ("tcp");
# prints CURRENT_USER().
login() {
	if [ "$2" = sock ]; then
		mariadb --defaults-file="$1" --socket="$MDB_SOCKET" \
		    --protocol=socket -N -B -e 'SELECT CURRENT_USER()' 2>"$T/err"
	else
		mariadb --defaults-file="$1" --host=127.0.0.1 --port="$MDB_PORT" \
		    --protocol=tcp -N -B -e 'SELECT CURRENT_USER()' 2>"$T/err"
	fi
}

rnd=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
OLD="Old#1; '$rnd\" \\x"
NEW="New;2 #\"$rnd' \\\\y"

write_cnf "$T/old.cnf" "$OLD"
write_cnf "$T/new.cnf" "$NEW"
mode=$(stat -c %a "$T/old.cnf")
[ "$mode" = 600 ] || fail "option file mode is $mode, not 600"

o=$(printf '%s' "$OLD" | sql_esc)
n=$(printf '%s' "$NEW" | sql_esc)

# Create the accounts.
printf "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';\nCREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n" \
    "$U" "$o" "$U" "$o" | root_sql || fail "CREATE USER failed"

for via in sock tcp; do
	host=localhost
	[ $via = tcp ] && host=127.0.0.1
	got=$(login "$T/old.cnf" $via) || fail "$via: old password refused before the change: $(cat "$T/err")"
	[ "$got" = "$U@$host" ] || fail "$via: logged in as '$got', expected '$U@$host'"
done

# Change both.
printf "SET PASSWORD FOR '%s'@'localhost' = PASSWORD('%s');\nSET PASSWORD FOR '%s'@'127.0.0.1' = PASSWORD('%s');\n" \
    "$U" "$n" "$U" "$n" | root_sql || fail "SET PASSWORD failed"

for via in sock tcp; do
	host=localhost
	[ $via = tcp ] && host=127.0.0.1
	got=$(login "$T/new.cnf" $via) || fail "$via: new password refused: $(cat "$T/err")"
	[ "$got" = "$U@$host" ] || fail "$via: logged in as '$got', expected '$U@$host'"
	if login "$T/old.cnf" $via >/dev/null; then
		fail "$via: old password still works"
	elif ! grep -q 'ERROR 1045' "$T/err"; then
		fail "$via: old password failed, but not with 1045: $(cat "$T/err")"
	fi
done

if [ $fails -ne 0 ]; then
	echo "test_smoke: $fails failure(s)" >&2
	exit 1
fi
echo "test_smoke: ok (socket and TCP, server port $MDB_PORT)"
