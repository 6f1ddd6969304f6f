#!/bin/sh
# test_policy_mariadb.sh - passwords generated to the default policy are
# accepted by MariaDB's validation plugins simple_password_check and
# cracklib_password_check: 200 accounts, each created with one generated
# password (CREATE USER) and changed to another (SET PASSWORD), then a
# fresh login with the second one.  The plugins are first shown to be
# active and to refuse weak passwords, so the test cannot pass vacuously.
#
# Uses its own fixture (pwcheck): it installs plugins server-wide.
# Passwords never reach argv: `vaultctl policy generate` writes them to a
# pipe, SQL goes to the mariadb client on stdin, logins read them from
# option files of mode 0600 in a 0700 temp dir, removed at exit.
set -u

N=200

[ -n "${VD_TEST_MDB_ENV:-}" ] || { echo "VD_TEST_MDB_ENV not set" >&2; exit 1; }
[ -n "${VD_BUILD_DIR:-}" ] || { echo "VD_BUILD_DIR not set" >&2; exit 1; }
. "$VD_TEST_MDB_ENV"
VAULTCTL="$VD_BUILD_DIR/vaultctl"
[ -x "$VAULTCTL" ] || { echo "no $VAULTCTL" >&2; exit 1; }

P="vdpol$$_"
T=$(mktemp -d /tmp/vdpol.XXXXXX) || exit 1
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
	i=0
	while [ $i -lt $N ]; do
		printf "DROP USER IF EXISTS '%s%d'@'localhost';\n" "$P" $i
		i=$((i + 1))
	done | root_sql
	rm -rf -- "$T"
}
trap cleanup EXIT

# 1. The plugins, installed and active.
printf "INSTALL SONAME 'simple_password_check';\nINSTALL SONAME 'cracklib_password_check';\n" |
    root_sql || { echo "FAIL: cannot install the plugins" >&2; exit 1; }
active=$(printf "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME IN ('simple_password_check', 'cracklib_password_check') AND PLUGIN_STATUS = 'ACTIVE';\n" | root_sql)
[ "$active" = 2 ] || fail "expected 2 active validation plugins, got '$active'"

# 2. Negative controls: each plugin refuses a weak password (ERROR 1819).
#    simple_password_check: no digit, no upper case, no special character.
#    cracklib_password_check: Password1! meets simple's rules but is a
#    dictionary word.
for weak in abcdefghijk 'Password1!'; do
	if printf "CREATE USER '%sweak'@'localhost' IDENTIFIED BY '%s';\n" \
	    "$P" "$weak" | root_sql 2>"$T/err"; then
		fail "a weak password was accepted: the plugins are not working"
		printf "DROP USER '%sweak'@'localhost';\n" "$P" | root_sql
	elif ! grep -q 'ERROR 1819' "$T/err"; then
		fail "weak password refused, but not with 1819: $(cat "$T/err")"
	fi
done

# 3. 2*N generated passwords: CREATE USER with one, SET PASSWORD to the
#    other; the second goes to an option file for the login check.
"$VAULTCTL" policy generate --count $((2 * N)) >"$T/gen.out" 2>"$T/gen.err" ||
    { echo "FAIL: vaultctl policy generate: $(cat "$T/gen.err")" >&2; exit 1; }
lines=$(wc -l <"$T/gen.out")
[ "$lines" -eq $((2 * N)) ] || fail "vaultctl generated $lines lines, not $((2 * N))"
distinct=$(sort -u "$T/gen.out" | wc -l)
[ "$distinct" -eq $((2 * N)) ] || fail "only $distinct distinct passwords"

# vaultctl policy check agrees, line by line, and exits 0.
okc=$("$VAULTCTL" policy check <"$T/gen.out" 2>"$T/err" | grep -cx ok)
[ "$okc" = $((2 * N)) ] || fail "policy check: $okc of $((2 * N)) ok: $(cat "$T/err")"
# ... and refuses the bank's known-bad list (exit 1), never echoing one.
printf 'Cmb@2021abc\nPassw0rd!\nQwer1234!x\naaaB1!xyzQ\nC.M.B#Pass99\ncmbchina#A1x\n' \
    >"$T/bad"
"$VAULTCTL" policy check <"$T/bad" >"$T/bad.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "policy check of known-bad passwords exited $rc, not 1"
[ "$(grep -c . "$T/bad.out")" = 6 ] || fail "policy check: not one line per candidate"
! grep -qx ok "$T/bad.out" || fail "policy check accepted a known-bad password"
while IFS= read -r c; do
	! grep -qF -- "$c" "$T/bad.out" || fail "policy check echoed a candidate"
done <"$T/bad"

i=0
while IFS= read -r a && IFS= read -r b; do
	# The default policy excludes quotes, backslash, '#', ';' and
	# whitespace: the literals need no escaping.  Prove it.
	case "$a$b" in
	*[\'\"\\\#\;\ ]*) echo "FAIL: a generated password holds an excluded character" >&2
		exit 1 ;;
	esac
	[ ${#a} -eq 20 ] && [ ${#b} -eq 20 ] || { echo "FAIL: length" >&2; exit 1; }
	printf "CREATE USER '%s%d'@'localhost' IDENTIFIED BY '%s';\n" "$P" $i "$a"
	printf "SET PASSWORD FOR '%s%d'@'localhost' = PASSWORD('%s');\n" "$P" $i "$b"
	(umask 077 && printf '[client]\nuser=%s%d\npassword="%s"\n' "$P" $i "$b" \
	    >"$T/$i.cnf")
	i=$((i + 1))
done <"$T/gen.out" >"$T/sql"
rc=$?
rm -f -- "$T/gen.out"
[ $rc -eq 0 ] || fail "building the SQL failed"
# One session; the client stops at the first refused statement.
refused=0
root_sql <"$T/sql" 2>"$T/err" || {
	refused=1
	fail "a generated password was refused: $(cat "$T/err")"
}
rm -f -- "$T/sql"

made=$(printf "SELECT COUNT(*) FROM mysql.user WHERE User LIKE '%s%%';\n" "$P" | root_sql)
[ "$made" = $N ] || fail "$made accounts exist, not $N"
if [ $refused -ne 0 ]; then
	echo "test_policy_mariadb: $fails failure(s); logins not tried" >&2
	exit 1
fi

# 4. A fresh login with each account's current (second) password.
i=0
ok=0
while [ $i -lt $N ]; do
	got=$(mariadb --defaults-file="$T/$i.cnf" --socket="$MDB_SOCKET" \
	    --protocol=socket -N -B -e 'SELECT CURRENT_USER()' 2>"$T/err")
	if [ "$got" = "$P$i@localhost" ]; then
		ok=$((ok + 1))
	elif [ $((i - ok)) -lt 3 ]; then
		fail "login $i: got '$got': $(cat "$T/err")"
	else
		fails=$((fails + 1))	# counted, not repeated
	fi
	rm -f -- "$T/$i.cnf"
	i=$((i + 1))
done

printf "UNINSTALL SONAME 'cracklib_password_check';\nUNINSTALL SONAME 'simple_password_check';\n" |
    root_sql || fail "cannot uninstall the plugins"

if [ $fails -ne 0 ]; then
	echo "test_policy_mariadb: $fails failure(s)" >&2
	exit 1
fi
echo "test_policy_mariadb: ok ($N accounts: CREATE USER and SET PASSWORD" \
    "accepted by simple_password_check + cracklib_password_check, $ok logins)"
