#!/bin/sh
# test_breakglass.sh - escrow and offline break-glass end to end, with
# vaultctl, against the real MariaDB of the "main" fixture.
#
#   test_breakglass.sh VAULTCTL HELPER
#
# A real MariaDB user gets a password (SQL on the client's stdin); a vault
# escrows it to customer and vendor ("any"), and to 2-of-2 / 2-of-3 quorums;
# a newer "pending" version (a rotation that never reached the server) sits
# on top.  The data directory is copied, and break-glass runs on the copy
# with party keys only; the printed password logs in (option file, 0600).
# Refusals: unrelated key, too few keys ("need N more"), wrong passphrase,
# moved and byte-flipped envelopes, a wrong pinned vault key.  Also: bundles,
# share/combine, break-glass reports.  Passwords never reach argv.
set -u

[ $# -eq 2 ] || { echo "usage: $0 VAULTCTL HELPER" >&2; exit 2; }
VC=$1
H=$2
[ -n "${VD_TEST_MDB_ENV:-}" ] || { echo "VD_TEST_MDB_ENV not set" >&2; exit 1; }
# shellcheck source=/dev/null
. "$VD_TEST_MDB_ENV"

rnd=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
U="vdbg_$rnd"
T=$(mktemp -d /tmp/vdbg.XXXXXX) || exit 1
# fails, fail, brk, refused
# shellcheck source=bglib.sh
. "$(dirname "$0")/bglib.sh"

root_sql() {
	mariadb --no-defaults --socket="$MDB_SOCKET" -uroot -N -B
}

hold=
cleanup() {
	[ -n "$hold" ] && kill -KILL "$hold" 2>/dev/null
	printf "DROP USER IF EXISTS '%s'@'localhost', '%s'@'127.0.0.1';\n" \
	    "$U" "$U" | root_sql
	rm -rf -- "$T"
}
trap cleanup EXIT

sql_esc() {
	sed -e 's/\\/\\\\/g' -e "s/'/''/g"
}

cnf_esc() {
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# Logs in as $U with password $1 over the socket and TCP; prints users.
login() {
	e=$(printf '%s' "$1" | cnf_esc)
	(umask 077 && printf '[client]\nuser=%s\npassword="%s"\n' "$U" "$e" \
	    >"$T/login.cnf")
	mariadb --defaults-file="$T/login.cnf" --socket="$MDB_SOCKET" \
	    --protocol=socket -N -B -e 'SELECT CURRENT_USER()' 2>"$T/login.err" &&
	mariadb --defaults-file="$T/login.cnf" --host=127.0.0.1 \
	    --port="$MDB_PORT" --protocol=tcp -N -B -e 'SELECT CURRENT_USER()' \
	    2>>"$T/login.err"
}

PW="Bg#1;x${rnd}!Zq%\"'\\w"
PW2="Pend#2;${rnd}-Yk"
(umask 077 && printf '%s\n' "$PW" >"$T/pw")	# for grep -f: never argv

# ---- party keys -----------------------------------------------------------
"$VC" escrow keygen --out "$T/customer.key" >/dev/null || fail "keygen customer"
"$VC" escrow keygen --out "$T/vendor.key" --name vendor >/dev/null ||
    fail "keygen vendor"
printf 'aud passphrase 1\n' | "$VC" escrow keygen --out "$T/auditor.key" \
    --passphrase --kdf-cost interactive >/dev/null || fail "keygen auditor"
"$VC" escrow keygen --out "$T/third.key" >/dev/null || fail "keygen third"
[ "$(stat -c %a "$T/customer.key")" = 600 ] || fail "private key not 0600"
grep -q '^vaultd-escrow-v1 customer ' "$T/customer.key.pub" ||
    fail "customer.key.pub: $(cat "$T/customer.key.pub")"
grep -q ' argon2id ' "$T/auditor.key" || fail "auditor key not protected"
cp "$T/customer.key" "$T/customer.bak"
if "$VC" escrow keygen --out "$T/customer.key" >/dev/null 2>&1; then
	fail "keygen overwrote a key file"
fi
cmp -s "$T/customer.key" "$T/customer.bak" || fail "key file changed"

# ---- a real MariaDB user and an escrowed vault ----------------------------
p=$(printf '%s' "$PW" | sql_esc)
printf "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';\nCREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n" \
    "$U" "$p" "$U" "$p" | root_sql || fail "CREATE USER failed"

C="customer=$T/customer.key.pub"
V="vendor=$T/vendor.key.pub"
A="auditor=$T/auditor.key.pub"
D=$T/data
printf '%s\n' "$PW" | "$H" seal "$D" db1 1 current any "$C" "$V" ||
    fail "seal db1 v1"
printf '%s\n' "$PW2" | "$H" seal "$D" db1 2 pending any "$C" "$V" ||
    fail "seal db1 v2"
printf '%s\n' "$PW" | "$H" seal "$D" q22 1 current 2-of-2 "$C" "$V" ||
    fail "seal q22"
printf '%s\n' "$PW" | "$H" seal "$D" q23 1 current 2-of-3 "$C" "$V" "$A" ||
    fail "seal q23"
grep -qaF -f "$T/pw" "$D/data.mdb" && fail "password in clear in data.mdb"

# Each party pins the vault's signing key in its key file (issue 14): the
# fingerprint comes from the vault's administrator, out of band.
vfp=$("$VC" escrow vault-key --data-dir "$D" --key-file "$D.key") ||
    fail "escrow vault-key"
for k in customer vendor auditor third; do
	"$VC" escrow pin --escrow-key "$T/$k.key" --vault-key "$vfp" >/dev/null ||
	    fail "escrow pin $k"
done

# The vault is copied elsewhere, as after losing its host.
cp -a "$D" "$T/copy" || fail "copy"
K=$T/copy

# ---- mode any ----------------------------------------------------------------
# Break-glass opens a data directory read-only (DESIGN.md): with no vaultd
# on it, nothing is written there, not even the opening's report.
sum0=$(sha256sum "$K/data.mdb" | cut -d' ' -f1)
for who in customer vendor; do
	brk --data-dir "$K" --escrow-key "$T/$who.key" --version 1 db1 ||
	    fail "$who alone: $(cat "$T/err")"
	[ "$(cat "$T/out")" = "$PW" ] || fail "$who alone: wrong password"
	[ "$(wc -l <"$T/out")" -eq 1 ] || fail "$who: more than one line out"
	got=$(login "$(cat "$T/out")") ||
	    fail "$who: printed password does not log in: $(cat "$T/login.err")"
	[ "$got" = "$(printf '%s\n%s' "$U@localhost" "$U@127.0.0.1")" ] ||
	    fail "$who: logged in as '$got'"
done
grep -q 'nothing was written there' "$T/err" ||
    fail "no vaultd: not said that nothing was written: $(cat "$T/err")"
grep -q 'breakglass report --data-dir' "$T/err" || fail "no import hint"
[ "$(sha256sum "$K/data.mdb" | cut -d' ' -f1)" = "$sum0" ] ||
    fail "break-glass wrote into the data directory"

brk --data-dir "$K" --escrow-key "$T/third.key" db1
refused $? "unrelated key"
grep -q 'none of the given escrow keys' "$T/err" || fail "third: $(cat "$T/err")"

# Default: the newest escrowed version, pending, not in force.
brk --data-dir "$K" --escrow-key "$T/vendor.key" db1 || fail "default version"
[ "$(cat "$T/out")" = "$PW2" ] || fail "default version is not v2"
grep -q 'opening version 2' "$T/err" || fail "no version note: $(cat "$T/err")"
grep -q 'pending' "$T/err" || fail "no pending warning"
grep -q -- '--version 1' "$T/err" || fail "no hint to try version 1"
login "$PW2" >/dev/null && fail "the pending password logs in"

# Pinning the vault key.
fp=$(sed -n 's/.*signed by vault key \([0-9a-f]*\) .*/\1/p' "$T/err")
[ ${#fp} -eq 32 ] || fail "no vault key fingerprint: $(cat "$T/err")"
vk=$("$VC" escrow vault-key --data-dir "$D" --key-file "$D.key") ||
    fail "escrow vault-key"
[ "$vk" = "$fp" ] || fail "vault-key $vk differs from the envelopes' $fp"
brk --data-dir "$K" --escrow-key "$T/vendor.key" --version 1 --vault-key "$fp" db1 ||
    fail "pinned vault key refused"
brk --data-dir "$K" --escrow-key "$T/vendor.key" --vault-key \
    0123456789abcdef0123456789abcdef db1
refused $? "wrong pinned vault key"

# ---- quorums -----------------------------------------------------------------
for who in customer vendor; do
	brk --data-dir "$K" --escrow-key "$T/$who.key" q22
	refused $? "2-of-2 with $who alone"
	grep -q 'need 1 more key(s) (have 1 of 2)' "$T/err" ||
	    fail "2-of-2 $who: $(cat "$T/err")"
done
brk --data-dir "$K" --escrow-key "$T/customer.key" --escrow-key "$T/vendor.key" q22 ||
    fail "2-of-2 both: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW" ] || fail "2-of-2: wrong password"
login "$(cat "$T/out")" >/dev/null || fail "2-of-2 password does not log in"

brk --data-dir "$K" --escrow-key "$T/vendor.key" q23
refused $? "2-of-3 with one key"
grep -q 'need 1 more key(s) (have 1 of 2)' "$T/err" || fail "2-of-3: $(cat "$T/err")"
brk --data-dir "$K" --escrow-key "$T/customer.key" --escrow-key "$T/vendor.key" q23 ||
    fail "2-of-3 customer+vendor"
[ "$(cat "$T/out")" = "$PW" ] || fail "2-of-3 c+v: wrong password"
printf 'aud passphrase 1\n' | brk --data-dir "$K" --escrow-key "$T/auditor.key" \
    --escrow-key "$T/vendor.key" q23 || fail "2-of-3 auditor+vendor: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW" ] || fail "2-of-3 a+v: wrong password"
printf 'wrong passphrase\n' | brk --data-dir "$K" --escrow-key "$T/auditor.key" \
    --escrow-key "$T/vendor.key" q23
refused $? "wrong passphrase"
grep -q 'wrong passphrase' "$T/err" || fail "wrong passphrase: $(cat "$T/err")"

# ---- share / combine (vendor combines customer's and auditor's shares) ------
"$VC" breakglass share --data-dir "$K" --escrow-key "$T/customer.key" \
    --to "$T/vendor.key.pub" --out "$T/c.share" q23 2>"$T/err" ||
    fail "share customer: $(cat "$T/err")"
printf 'aud passphrase 1\n' | "$VC" breakglass share --data-dir "$K" \
    --escrow-key "$T/auditor.key" --to "$T/vendor.key.pub" \
    --out "$T/a.share" q23 2>"$T/err" || fail "share auditor: $(cat "$T/err")"
[ "$(stat -c %a "$T/c.share")" = 600 ] || fail "share file not 0600"
brk combine --escrow-key "$T/vendor.key" "$T/c.share"
refused $? "combine with one share"
grep -q 'need 1 more' "$T/err" || fail "combine one: $(cat "$T/err")"
brk combine --escrow-key "$T/vendor.key" "$T/c.share" "$T/a.share" ||
    fail "combine: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW" ] || fail "combine: wrong password"
brk combine --escrow-key "$T/customer.key" "$T/c.share" "$T/a.share"
refused $? "combine with a key the shares are not sealed to"

# ---- bundle and reports ------------------------------------------------------
"$VC" escrow export --data-dir "$D" --key-file "$D.key" --out "$T/bundle" \
    >/dev/null 2>"$T/err" ||
    fail "export: $(cat "$T/err")"
grep -qaF -f "$T/pw" "$T/bundle" && fail "password in clear in the bundle"
brk --bundle "$T/bundle" --escrow-key "$T/customer.key" --version 1 db1 ||
    fail "bundle: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW" ] || fail "bundle: wrong password"
grep '^{' "$T/err" >"$T/report"
[ "$(wc -l <"$T/report")" -eq 1 ] || fail "no one-line report: $(cat "$T/err")"
grep -q 'breakglass report --data-dir' "$T/err" || fail "no import hint"
grep -qaF -f "$T/pw" "$T/err" && fail "password on stderr"
n0=$("$H" reports "$D" | grep -c '^db1 1 ')
"$VC" breakglass report --data-dir "$D" --file "$T/report" >/dev/null ||
    fail "report import"
"$H" reports "$D" | grep -q '^db1 1 1$' || fail "report not imported ($n0)"
# The copy holds no report of its own openings (read-only).
"$H" reports "$K" | grep -q '^db1 ' &&
    fail "break-glass recorded into the copy: $("$H" reports "$K")"

# ---- moved and flipped envelopes -------------------------------------------
"$H" copy "$K" db1 1 q22 1 customer >/dev/null || fail "copy envelope"
brk --data-dir "$K" --escrow-key "$T/customer.key" --escrow-key "$T/vendor.key" q22
refused $? "envelope moved to another target"
grep -q 'moved' "$T/err" || fail "moved: $(cat "$T/err")"
"$H" copy "$K" db1 2 db1 1 vendor >/dev/null || fail "copy envelope"
brk --data-dir "$K" --escrow-key "$T/vendor.key" --version 1 db1
refused $? "envelope moved to another version"
len=$("$H" copy "$D" db1 1 db1 1 customer) || fail "envelope length"
for off in 0 9 40 100 200 $((len - 70)) $((len - 1)); do
	cp -a "$D" "$T/flip$off"
	"$H" flip "$T/flip$off" db1 1 customer "$off" >/dev/null || fail "flip"
	brk --data-dir "$T/flip$off" --escrow-key "$T/customer.key" --version 1 db1
	refused $? "byte $off flipped"
done

# ---- a writer killed mid-rotation ------------------------------------------
# Version 3 is written with its envelopes in a write transaction that never
# commits; the writer holds the lock (as vaultd mid-rotation would).
printf 'Never#3;%s\n' "$rnd" | "$H" hold "$D" db1 3 pending any "$C" "$V" \
    >"$T/hold.out" 2>&1 &
hold=$!
n=0
while ! grep -q ready "$T/hold.out" 2>/dev/null; do
	kill -0 $hold 2>/dev/null || break
	n=$((n + 1))
	[ $n -gt 600 ] && break
	sleep 0.1
done
grep -q ready "$T/hold.out" || fail "writer never ready: $(cat "$T/hold.out")"
# Beside the live writer: versions 2 and 1 only; recording cannot get the
# write lock, so the report is printed instead.
brk --data-dir "$D" --escrow-key "$T/customer.key" --version 1 db1 ||
    fail "beside a writer: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW" ] || fail "beside a writer: wrong password"
grep -q 'escrowed versions: 2, 1$' "$T/err" || fail "uncommitted v3 seen: $(cat "$T/err")"
grep -q '^{' "$T/err" || fail "no report printed when the lock was held"
kill -KILL $hold
wait $hold 2>/dev/null
cp -a "$D" "$T/crash" || fail "copy after the crash"
brk --data-dir "$T/crash" --escrow-key "$T/vendor.key" db1 ||
    fail "after the crash: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW2" ] || fail "after the crash: not version 2"
grep -q 'escrowed versions: 2, 1$' "$T/err" || fail "after the crash: $(cat "$T/err")"
brk --data-dir "$T/crash" --escrow-key "$T/vendor.key" --version 1 db1 ||
    fail "after the crash, v1"
login "$(cat "$T/out")" >/dev/null ||
    fail "after the crash: v1 does not log in: $(cat "$T/login.err")"
grep -q 'nothing was written there' "$T/err" ||
    fail "after the crash: $(cat "$T/err")"

if [ $fails -ne 0 ]; then
	echo "test_breakglass: $fails failure(s)" >&2
	exit 1
fi
echo "test_breakglass: ok"
