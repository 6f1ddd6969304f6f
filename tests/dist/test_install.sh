#!/bin/sh
# test_install.sh CMAKE BUILD_DIR SYSTEMD_ANALYZE
#
# Installs the build into a temporary prefix and checks that every file
# lands where docs/operations.md ("Installed files") says, and nothing
# else; that the installed unit passes `systemd-analyze verify` with no
# output at all (verify exits 0 even on an unknown key, so the output is
# what is checked) and keeps a low `systemd-analyze security` exposure; and
# that the sysusers.d and tmpfiles.d snippets create the user and the
# directories with the documented owners and modes in a scratch root.
# Works offline: no running systemd is needed.
set -eu

CMAKE=$1
BUILD=$2
SA=$3
tmp=$(mktemp -d /tmp/vd-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

P=$tmp/prefix
"$CMAKE" --install "$BUILD" --prefix "$P" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }

# The documented layout, exactly.
expected="bin/vaultctl
lib/systemd/system/vaultd.service
lib/sysusers.d/vaultd.conf
lib/tmpfiles.d/vaultd.conf
sbin/vaultd
share/bash-completion/completions/vaultctl
share/doc/vaultd/operations.md
share/doc/vaultd/vaultd.conf.example
share/man/man1/vaultctl.1
share/man/man5/vaultd.conf.5
share/man/man8/vaultd.8"
actual=$(cd "$P" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
if [ "$actual" != "$expected" ]; then
	fail "installed files differ from the documented layout"
	printf 'expected:\n%s\nactual:\n%s\n' "$expected" "$actual" >&2
fi
for f in bin/vaultctl sbin/vaultd; do
	[ -x "$P/$f" ] || fail "$f is not executable"
done
"$P/sbin/vaultd" --version | grep -q '^vaultd ' || fail "vaultd --version"
"$P/bin/vaultctl" --version | grep -q '^vaultctl ' || fail "vaultctl --version"
cmp -s "$P/share/doc/vaultd/vaultd.conf.example" \
    "$(dirname "$0")/../../etc/vaultd.conf.example" ||
	fail "vaultd.conf.example differs from etc/"
head -c 200 "$P/share/man/man8/vaultd.8" | grep -q '^\.TH' ||
	fail "vaultd.8 is not a rendered man page"

# The unit names the installed daemon.
unit=$P/lib/systemd/system/vaultd.service
grep -qx "ExecStart=$P/sbin/vaultd --config /etc/vaultd/vaultd.conf" "$unit" ||
	fail "ExecStart does not name $P/sbin/vaultd"
grep -qx 'Type=notify' "$unit" || fail "Type=notify missing"
# vaultd exits 3 on a damaged vault (vaultd(8)): no restart loop on it, and
# any crash loop ends within 5 starts.
grep -qx 'RestartPreventExitStatus=3' "$unit" ||
	fail "RestartPreventExitStatus=3 missing"
grep -qx 'StartLimitBurst=5' "$unit" || fail "StartLimitBurst=5 missing"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "ExecReload"
grep -qx 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' "$unit" ||
	fail "RestrictAddressFamilies"
if grep -n '@[A-Z_]*@' "$unit" >&2; then
	fail "unsubstituted @VAR@ in the unit"
fi

# verify: rc 0 and not one line of output.
cd "$tmp"
if ! "$SA" verify --man=no "$unit" >"$tmp/verify.out" 2>&1; then
	fail "systemd-analyze verify failed"
fi
if [ -s "$tmp/verify.out" ]; then
	fail "systemd-analyze verify is not clean:"
	cat "$tmp/verify.out" >&2
fi
# The same check catches a broken unit (so the check above can fail).
sed 's/^LockPersonality=yes$/LockPersonalty=yes/' "$unit" >"$tmp/vaultd.service"
"$SA" verify --man=no "$tmp/vaultd.service" >"$tmp/bad.out" 2>&1 || true
grep -q "Unknown key 'LockPersonalty'" "$tmp/bad.out" ||
	fail "verify did not report a misspelt key: $(cat "$tmp/bad.out")"

# Sandboxing stays strong: exposure at most 2.0 of 10.
if ! "$SA" security --offline=true --threshold=20 "$unit" >"$tmp/sec.out" 2>&1; then
	fail "systemd-analyze security exposure above 2.0:"
	tail -3 "$tmp/sec.out" >&2
fi

# sysusers.d and tmpfiles.d, applied to a scratch root.
R=$tmp/root
mkdir -p "$R/etc"
systemd-sysusers --root="$R" "$P/lib/sysusers.d/vaultd.conf" \
    >"$tmp/sysusers.out" 2>&1 || fail "systemd-sysusers: $(cat "$tmp/sysusers.out")"
line=$(grep '^vaultd:' "$R/etc/passwd" || true)
[ -n "$line" ] || fail "sysusers made no vaultd user"
uid=$(echo "$line" | cut -d: -f3)
gid=$(grep '^vaultd:' "$R/etc/group" | cut -d: -f3)
[ -n "$gid" ] || fail "sysusers made no vaultd group"
[ "$(echo "$line" | cut -d: -f6,7)" = "/var/lib/vaultd:/usr/sbin/nologin" ] ||
	fail "vaultd's home/shell: $line"
systemd-tmpfiles --root="$R" --create "$P/lib/tmpfiles.d/vaultd.conf" \
    >"$tmp/tmpfiles.out" 2>&1 || fail "systemd-tmpfiles: $(cat "$tmp/tmpfiles.out")"
check_dir() {	# path mode uid gid
	got=$(stat -c '%a %u %g' "$R$1" 2>/dev/null || echo missing)
	[ "$got" = "$2 $3 $4" ] || fail "$1: '$got', expected '$2 $3 $4'"
}
check_dir /etc/vaultd 750 0 "$gid"
check_dir /var/lib/vaultd 700 "$uid" "$gid"
check_dir /run/vaultd 750 "$uid" "$gid"

if [ "$fails" -ne 0 ]; then
	echo "test_install: $fails failure(s)" >&2
	exit 1
fi
echo "test_install: ok ($P)"
