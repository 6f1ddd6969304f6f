#!/bin/sh
# bench_shell.sh - what an engineer does without vaultd: the mariadb
# command-line client in a shell loop, per account SET PASSWORD (SQL on
# stdin) then a fresh login with the new password.  Passwords travel only
# in 0600 option files and on stdin, never in argv or the environment.
#
#   bench_shell.sh SOCKET COUNT [PREFIX]
#
# Creates COUNT accounts PREFIX000000..@localhost as root (empty password:
# the throwaway server of scripts/bench.sh), times the loop, drops them, and
# prints one line: "shell: COUNT accounts: S s, R rotations/s".
set -eu
SOCK=$1 COUNT=$2 PREFIX=${3:-vsh}
D=$(mktemp -d /tmp/vdbsh.XXXXXX)
trap 'rm -rf -- "$D"' EXIT
umask 077

genpw() {
	# 20 alphanumerics plus fixed classes; no quote, backslash or space.
	printf 'Qz7#%s' "$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20)"
}
cnf() {	# cnf FILE PASSWORD
	printf '[client]\npassword="%s"\n' "$2" >"$1"
}
root() {
	mariadb --no-defaults --socket="$SOCK" -uroot -N -B
}

i=0
: >"$D/setup.sql"
while [ $i -lt "$COUNT" ]; do
	u=$(printf '%s%06d' "$PREFIX" $i)
	pw=$(genpw)
	cnf "$D/$u.cnf" "$pw"
	# The new password is drawn here too: the timed loop holds only the
	# two client runs (the most favourable reading of the shell side).
	new=$(genpw)
	cnf "$D/$u.new" "$new"
	printf "SET PASSWORD = PASSWORD('%s');\n" "$new" >"$D/$u.sql"
	printf "DROP USER IF EXISTS '%s'@'localhost';\nCREATE USER '%s'@'localhost' IDENTIFIED BY '%s';\n" \
	    "$u" "$u" "$pw" >>"$D/setup.sql"
	i=$((i + 1))
done
root <"$D/setup.sql"
rm -f "$D/setup.sql"

t0=$(date +%s.%N)
i=0
fail=0
while [ $i -lt "$COUNT" ]; do
	u=$(printf '%s%06d' "$PREFIX" $i)
	mariadb --defaults-file="$D/$u.cnf" --socket="$SOCK" -u "$u" \
	    <"$D/$u.sql" || fail=$((fail + 1))
	if mariadb --defaults-file="$D/$u.new" --socket="$SOCK" -u "$u" -N -B \
	    -e 'SELECT 1' >/dev/null; then
		mv -f "$D/$u.new" "$D/$u.cnf"
	else
		fail=$((fail + 1))
	fi
	i=$((i + 1))
done
t1=$(date +%s.%N)

i=0
while [ $i -lt "$COUNT" ]; do
	printf "DROP USER IF EXISTS '%s%06d'@'localhost';\n" "$PREFIX" $i
	i=$((i + 1))
done | root
echo "$COUNT $t0 $t1 $fail" | awk '{ s = $3 - $2; printf "shell: %d accounts: %.3f s, %.1f rotations/s, %d failed\n", $1, s, $1 / s, $4 }'
