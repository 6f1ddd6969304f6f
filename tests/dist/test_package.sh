#!/bin/sh
# test_package.sh SOURCE_DIR - the Debian packages, built, linted, installed,
# upgraded and purged (issue 15).  ctest label "package"; exit 77 = skipped
# (not root, or a tool scripts/deps.sh installs is missing).
#
#  1. Build: copies the checkout (git ls-files: tracked and untracked, not
#     ignored; no build trees) and runs `dpkg-buildpackage -us -uc -b` there,
#     as a packager would: the unit tests run inside the build.  lintian on
#     the result fails the test on any error or warning (each accepted one
#     is overridden in debian/*.lintian-overrides with its reason).
#  2. A second build of the same tree one version newer (a changelog entry
#     in the copy), with the nocheck profile: it must configure without
#     BUILD_TESTING and look up none of the test tools.
#  3. A fresh Debian root: `mmdebstrap --variant=minbase` with systemd and
#     the packages' run-time dependencies, cached as a tarball under
#     $VD_PKG_CACHE (default /var/cache/vaultd-test), named by the hash of
#     that list, so a run after the first needs no mirror.  The packages are
#     installed into it with dpkg in a chroot.
#
# Why a chroot and no systemd: systemd is not PID 1 here (nor in CI), so
# nothing can `systemctl start`.  The chroot gives what a real host's first
# install has (no vaultd user, no /etc/vaultd, no /var/lib/vaultd) without
# touching this machine's; the maintainer scripts run for real inside it
# (systemd-sysusers, systemd-tmpfiles, deb-systemd-helper), and their
# systemd actions, which they skip without a running systemd, are checked
# from the installed postinst instead: no enable on install, start only
# when enabled, restart on upgrade.  vaultd is run by hand as the unit would
# run it (ExecStartPre's --check-config, then the daemon as user vaultd with
# UMask 077), and the unit itself is checked with `systemd-analyze verify`.
#
# Then, against a throwaway MariaDB (tests/integration/mariadb.sh, on this
# machine's loopback, which the chroot shares): install version 1 (checks
# user, directories, modes, conffile, no vault, no enabled unit), the
# README.Debian commands (vaultctl init + chown), vaultd started, a target
# added and rotated to version 2, its password revealed; upgrade to version
# 2 of the packages while vaultd runs, restart it (SIGTERM, start the new
# binary: what the postinst's restart does under systemd), and compare:
# targets, versions, history (identical), audit entries (the old ones
# unchanged, `audit verify` intact), `get` the same password, which still
# logs in; a rotation after the upgrade works.  Last, purge: the programs
# and vaultd.conf go, the vault, the key file and the user stay (byte for
# byte), and a reinstall opens the same vault.
#
# Passwords never reach argv or the environment: they travel on stdin and
# in 0600 files.  Run time: 50-90 s with a cached root on two busy
# cores (two package builds ~40 s, lintian ~3 s, root, install, upgrade and
# purge ~10 s); the first run also makes the root (~30 s here, more on a
# slow mirror).  ctest TIMEOUT 1200.
set -u

[ $# -eq 1 ] || { echo "usage: test_package.sh SOURCE_DIR" >&2; exit 2; }
SRC=$(cd "$1" && pwd) || exit 1
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (chroot, dpkg in a fresh root)"
	exit 77
fi
for t in dpkg-buildpackage dh lintian mmdebstrap unshare chroot mariadb \
    python3; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "SKIP: $t missing (sh scripts/deps.sh installs it)"
		exit 77
	fi
done

# A private mount namespace: the chroot's /proc disappears with us.
if [ -z "${VD_PKG_UNSHARED:-}" ]; then
	VD_PKG_UNSHARED=1 exec unshare --mount --propagation private \
	    sh "$0" "$@"
fi

CACHE=${VD_PKG_CACHE:-/var/cache/vaultd-test}
# The root is of this machine's release: the packages are built here.
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$SUITE" ] || SUITE=bookworm
T=$(mktemp -d /tmp/vd-pkg.XXXXXX) || exit 1
R=$T/root
ENVF=$T/mdb.env
VDPID=
fails=0
start=$(date +%s)

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; fails=$((fails + 1)); exit 1; }
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

cleanup() {
	rc=$?
	if [ -n "$VDPID" ] && kill -0 "$VDPID" 2>/dev/null; then
		kill -TERM "$VDPID" 2>/dev/null
		sleep 1
		kill -KILL "$VDPID" 2>/dev/null
	fi
	[ -f "$ENVF" ] && sh "$SRC/tests/integration/mariadb.sh" stop pkg \
	    "$ENVF" >/dev/null 2>&1
	if [ -d "$R/proc" ] && mountpoint -q "$R/proc"; then
		umount -l "$R/proc"
	fi
	if [ "$fails" -ne 0 ] || [ "$rc" -ne 0 ]; then
		[ -f "$T/vaultd.log" ] && { echo "--- vaultd log" >&2;
		    tail -30 "$T/vaultd.log" >&2; }
		echo "test_package: $fails failure(s); kept $T" >&2
		# Keep the evidence, not the root.
		rm -rf --one-file-system "$R"
		exit 1
	fi
	rm -rf --one-file-system "$T"
	echo "test_package: ok ($(( $(date +%s) - start ))s)"
	exit 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Runs a command in the root with a clean environment.
inroot() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
	    chroot "$R" "$@"
}
vaultctl() { inroot /usr/bin/vaultctl "$@"; }

# ---------------------------------------------------------------- 1. build
step "build: dpkg-buildpackage -us -uc -b (unit tests included)"
B=$T/b1
mkdir -p "$B/src"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$SRC" && git ls-files -z -co --exclude-standard |
	    tar --null --ignore-failed-read -T - -cf -) |
	    tar -xf - -C "$B/src" ||
		die "copying the checkout"
else
	(cd "$SRC" && tar --exclude=./build --exclude='./obj-*' -cf - .) |
	    tar -xf - -C "$B/src" || die "copying the tree"
fi
cp -a "$B/src" "$T/src2"
if ! (cd "$B/src" && DEB_BUILD_OPTIONS="parallel=2" \
    dpkg-buildpackage -us -uc -b) >"$T/build1.log" 2>&1; then
	tail -40 "$T/build1.log" >&2
	die "dpkg-buildpackage failed (log $T/build1.log)"
fi
grep -q '100% tests passed' "$T/build1.log" ||
	fail "the package build ran no unit tests"
V1=$(cd "$B/src" && dpkg-parsechangelog -S Version)
for p in vaultd vaultctl; do
	[ -f "$B/${p}_${V1}_$(dpkg --print-architecture).deb" ] ||
		fail "no ${p}_$V1 .deb"
done

# Hardening from dpkg-buildflags (hardening=+all): PIE, full RELRO (relro +
# bindnow), stack protector, fortified calls; in both programs.
mkdir -p "$T/x"
for p in vaultd vaultctl; do
	dpkg-deb -x "$B/${p}_${V1}_$(dpkg --print-architecture).deb" "$T/x" ||
		fail "dpkg-deb -x $p"
done
for f in "$T/x/usr/sbin/vaultd" "$T/x/usr/bin/vaultctl"; do
	n=$(basename "$f")
	readelf -h "$f" | grep -q 'Type:.*DYN' || fail "$n is not PIE"
	readelf -lW "$f" | grep -q GNU_RELRO || fail "$n: no RELRO"
	readelf -d "$f" | grep -q 'BIND_NOW' || fail "$n: no BIND_NOW"
	nm -D "$f" | grep -q ' __stack_chk_fail' || fail "$n: no stack protector"
	nm -D "$f" | grep -q '_chk@' || fail "$n: no fortified calls"
done

step "lintian"
# --fail-on error,warning: warnings are fixed or overridden with a reason.
lintian --fail-on error,warning --show-overrides --display-info --pedantic \
    "$B"/vaultd_"$V1"_*.changes >"$T/lintian.out" 2>&1
lrc=$?
grep -v '^N:' "$T/lintian.out" | grep -v 'running with root privileges' |
    sed 's/^/  lintian: /'
[ "$lrc" -eq 0 ] || fail "lintian reports errors or warnings (rc $lrc)"
grep -q '^[EW]: ' "$T/lintian.out" && fail "lintian: E: or W: tags above"
# Every override carries a one-line reason (a comment right above it).
for f in "$B"/src/debian/*.lintian-overrides; do
	[ -f "$f" ] || continue
	awk -v f="$f" '!/^#/ && NF && prev !~ /^#/ {
		print "override without a reason in " f ": " $0; bad = 1 }
		{ prev = $0 } END { exit bad }' "$f" >&2 ||
		fail "lintian override without a reason"
done

# -------------------------------------------------- 2. the newer build
step "build: version +1 with the nocheck profile"
B2=$T/b2
mkdir -p "$B2"
mv "$T/src2" "$B2/src"
V2="$V1+pkgtest1"
{
	printf 'vaultd (%s) unstable; urgency=medium\n\n' "$V2"
	printf '  * Upgrade test build (tests/dist/test_package.sh).\n\n'
	printf ' -- vaultd test <root@localhost>  %s\n\n' "$(date -R)"
	cat "$B2/src/debian/changelog"
} >"$T/changelog" && mv "$T/changelog" "$B2/src/debian/changelog"
if ! (cd "$B2/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    DEB_BUILD_PROFILES=nocheck dpkg-buildpackage -us -uc -b) \
    >"$T/build2.log" 2>&1; then
	tail -40 "$T/build2.log" >&2
	die "nocheck dpkg-buildpackage failed (log $T/build2.log)"
fi
cache2=$(ls "$B2"/src/obj-*/CMakeCache.txt 2>/dev/null | head -n 1)
if [ -z "$cache2" ]; then
	fail "no CMakeCache.txt in the nocheck build"
else
	grep -qx 'BUILD_TESTING:BOOL=OFF' "$cache2" ||
		fail "nocheck build: BUILD_TESTING is not OFF"
	if grep -E '^(SYSTEMD_ANALYZE|GROFF|MDB_COPY|BASH):' "$cache2" >&2; then
		fail "nocheck build looked up test tools"
	fi
fi
if grep -q 'Test #' "$T/build2.log"; then
	fail "nocheck build ran tests"
fi

# ----------------------------------------------------- 3. a fresh root
arch=$(dpkg --print-architecture)
# Run-time dependencies of both packages (first alternative, no versions,
# not vaultctl itself), plus systemd for systemd-analyze.
deps=$(for d in "$B"/vaultd_"$V1"_"$arch".deb \
    "$B"/vaultctl_"$V1"_"$arch".deb; do
	dpkg-deb -f "$d" Depends; echo; done |
	tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' |
	grep -v -e '^$' -e '^vaultctl$' | { cat; echo systemd; } |
	LC_ALL=C sort -u | tr '\n' ',' | sed 's/,$//')
key=$(printf '%s %s %s' "$SUITE" "$arch" "$deps" | sha256sum | cut -c1-16)
base=$CACHE/$SUITE-$arch-minbase-$key.tar
if [ ! -s "$base" ]; then
	step "mmdebstrap $SUITE minbase + $deps (cached as $base)"
	mkdir -p "$CACHE"
	if ! mmdebstrap --mode=root --format=tar --variant=minbase \
	    --include="$deps" \
	    "$SUITE" "$base.tmp.$$" >"$T/mmdebstrap.log" 2>&1; then
		tail -20 "$T/mmdebstrap.log" >&2
		rm -rf "$base.tmp.$$"
		die "mmdebstrap failed"
	fi
	# One root per release and architecture: drop those of older
	# dependency lists (a run still extracting one keeps its open file).
	for old in "$CACHE/$SUITE-$arch-minbase-"*.tar; do
		[ -f "$old" ] && rm -f "$old"
	done
	mv "$base.tmp.$$" "$base"
fi
step "fresh root from $base"
mkdir -p "$R"
tar -xf "$base" -C "$R" || die "extracting $base"
mount -t proc proc "$R/proc" || die "mounting /proc in the root"
mkdir -p "$R/tmp/v1" "$R/tmp/v2"
cp "$B"/vaultd_"$V1"_"$arch".deb "$B"/vaultctl_"$V1"_"$arch".deb "$R/tmp/v1/"
cp "$B2"/vaultd_"$V2"_"$arch".deb "$B2"/vaultctl_"$V2"_"$arch".deb \
    "$R/tmp/v2/"
[ ! -e "$R/etc/vaultd" ] && ! grep -q '^vaultd:' "$R/etc/passwd" ||
	die "the fresh root already has vaultd"

# ------------------------------------------------------- 4. install v1
step "install $V1"
inroot dpkg -i /tmp/v1/vaultctl_"$V1"_"$arch".deb \
    /tmp/v1/vaultd_"$V1"_"$arch".deb >"$T/install1.log" 2>&1 ||
	{ cat "$T/install1.log" >&2; die "dpkg -i $V1"; }
grep -q 'README.Debian' "$T/install1.log" ||
	fail "the first install does not point to README.Debian"
for p in vaultd vaultctl; do
	[ "$(inroot dpkg-query -W -f='${Status} ${Version}' "$p")" = \
	    "install ok installed $V1" ] || fail "$p $V1 not installed"
done
inroot vaultctl --version | grep -q '^vaultctl ' || fail "vaultctl --version"
inroot vaultd --version | grep -q '^vaultd ' || fail "vaultd --version"

# The user and the directories, from sysusers.d and tmpfiles.d.
pw=$(grep '^vaultd:' "$R/etc/passwd" || true)
[ -n "$pw" ] || fail "no user vaultd"
[ "$(echo "$pw" | cut -d: -f6,7)" = "/var/lib/vaultd:/usr/sbin/nologin" ] ||
	fail "vaultd's home and shell: $pw"
uid=$(echo "$pw" | cut -d: -f3)
gid=$(grep '^vaultd:' "$R/etc/group" | cut -d: -f3)
[ -n "$gid" ] || fail "no group vaultd"
[ -n "$uid" ] && [ "$uid" -lt 1000 ] || fail "vaultd is not a system uid: $uid"
check_mode() {	# path mode user group
	got=$(inroot stat -c '%a %U %G' "$1" 2>/dev/null || echo missing)
	[ "$got" = "$2 $3 $4" ] || fail "$1: '$got', expected '$2 $3 $4'"
}
check_mode /etc/vaultd 750 root vaultd
check_mode /var/lib/vaultd 700 vaultd vaultd
check_mode /run/vaultd 750 vaultd vaultd
check_mode /etc/vaultd/vaultd.conf 644 root root
check_mode /usr/sbin/vaultd 755 root root
inroot dpkg-query -W -f='${Conffiles}\n' vaultd |
    grep -q '^ /etc/vaultd/vaultd.conf ' || fail "vaultd.conf is not a conffile"
cmp -s "$R/etc/vaultd/vaultd.conf" "$SRC/dist/vaultd.conf" ||
	fail "/etc/vaultd/vaultd.conf differs from dist/vaultd.conf"

# No vault, no key, nothing enabled or running.
[ -z "$(ls -A "$R/var/lib/vaultd")" ] || fail "install made files in the data dir"
[ ! -e "$R/etc/vaultd/root.key" ] || fail "install made a key file"
# (find, not test -e: the link is absolute, dangling seen from outside.)
if [ -n "$(find "$R/etc/systemd/system" -name vaultd.service)" ]; then
	fail "install enabled vaultd.service"
fi
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] || continue
	fail "a process runs in the root after install: $(cat "$p/comm")"
done
# Before `vaultctl init` the configuration is refused (the unit's
# ExecStartPre stops a start), naming the missing key file.
if inroot vaultd --check-config /etc/vaultd/vaultd.conf >"$T/cc0" 2>&1; then
	fail "check-config accepted a configuration without a vault"
fi
grep -q 'key_file' "$T/cc0" || fail "check-config before init: $(cat "$T/cc0")"
# Everything else in the shipped file is valid as it is.
sed '/^key_file *=/d' "$R/etc/vaultd/vaultd.conf" >"$R/tmp/nokey.conf"
inroot vaultd --check-config /tmp/nokey.conf >"$T/cc1" 2>&1 ||
	fail "the shipped vaultd.conf without key_file: $(cat "$T/cc1")"

# What the postinst does under systemd (skipped here, no systemd running):
# no enable unless it was enabled before; start on install (which
# deb-systemd-invoke skips for a disabled unit) and restart on upgrade.
pi=$R/var/lib/dpkg/info/vaultd.postinst
grep -q "deb-systemd-helper --quiet was-enabled 'vaultd.service'" "$pi" ||
	fail "postinst: enable not guarded by was-enabled (--no-enable lost?)"
grep -q '_dh_action=restart' "$pi" || fail "postinst: no restart on upgrade"
grep -q "deb-systemd-invoke \$_dh_action 'vaultd.service'" "$pi" ||
	fail "postinst: no deb-systemd-invoke of vaultd.service"
grep -q 'systemd-sysusers.* vaultd.conf' "$pi" || fail "postinst: no sysusers"
grep -q 'systemd-tmpfiles.*--create vaultd.conf' "$pi" ||
	fail "postinst: no tmpfiles"

# The installed unit.
unit=/lib/systemd/system/vaultd.service
[ -f "$R$unit" ] || unit=/usr/lib/systemd/system/vaultd.service
grep -qx 'ExecStart=/usr/sbin/vaultd --config /etc/vaultd/vaultd.conf' \
    "$R$unit" || fail "ExecStart does not name /usr/sbin/vaultd"
inroot systemd-analyze verify --man=no "$unit" >"$T/verify.out" 2>&1 ||
	fail "systemd-analyze verify failed"
[ -s "$T/verify.out" ] && fail "systemd-analyze verify: $(cat "$T/verify.out")"

# ---------------------------------------- 5. a vault, a target, rotation
step "MariaDB, vaultctl init (README.Debian), vaultd, a target"
sh "$SRC/tests/integration/mariadb.sh" start pkg "$ENVF" >"$T/mdb.log" 2>&1 ||
	{ cat "$T/mdb.log" >&2; die "mariadb.sh start"; }
. "$ENVF"
root_sql() { mariadb --no-defaults --socket="$MDB_SOCKET" -uroot -N -B; }
U="vdpkg_$$"
umask 077
od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$T/pw1"
printf "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n" "$U" \
    "$(cat "$T/pw1")" | root_sql || die "CREATE USER"
# Logs in as $U over TCP with the password in file $1.
login() {
	e=$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$1")
	printf '[client]\nuser=%s\npassword="%s"\n' "$U" "$e" >"$T/login.cnf"
	mariadb --defaults-file="$T/login.cnf" --host=127.0.0.1 \
	    --port="$MDB_PORT" --protocol=tcp -N -B -e 'SELECT 1' \
	    >/dev/null 2>&1
}
login "$T/pw1" || die "the test user cannot log in"

# README.Debian's first command, word for word.
cmd1=$(grep '^  vaultctl init ' "$B/src/debian/vaultd.README.Debian" |
    sed 's/^  //')
[ -n "$cmd1" ] || die "README.Debian has no vaultctl init command"
grep -qxF "$cmd1" "$SRC/README.md" ||
	fail "README.md's init command differs from README.Debian's"
grep -qx '  systemctl enable --now vaultd' "$B/src/debian/vaultd.README.Debian" ||
	fail "README.Debian does not say systemctl enable --now vaultd"
inroot sh -c "$cmd1" >"$T/init.log" 2>&1 ||
	{ cat "$T/init.log" >&2; die "README.Debian's init command"; }
check_mode /etc/vaultd/root.key 600 vaultd vaultd
check_mode /var/lib/vaultd 700 vaultd vaultd
check_mode /var/lib/vaultd/data.mdb 600 vaultd vaultd

# As the unit: ExecStartPre, then the daemon as vaultd, UMask=0077.
start_vaultd() {
	inroot chroot --userspec="$uid:$gid" / /usr/sbin/vaultd \
	    --check-config /etc/vaultd/vaultd.conf >"$T/cc" 2>&1 ||
		{ cat "$T/cc" >&2; die "ExecStartPre: check-config"; }
	rm -f "$R/run/vaultd/vaultd.sock"
	(umask 077 && exec env -i PATH=/usr/sbin:/usr/bin LC_ALL=C.UTF-8 \
	    chroot --userspec="$uid:$gid" "$R" /usr/sbin/vaultd \
	    --config /etc/vaultd/vaultd.conf) >>"$T/vaultd.log" 2>&1 &
	VDPID=$!
	i=0
	until [ -S "$R/run/vaultd/vaultd.sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$VDPID" 2>/dev/null; then
			die "vaultd did not start"
		fi
		sleep 0.1
	done
}
stop_vaultd() {
	kill -TERM "$VDPID"
	wait "$VDPID"
	src=$?
	VDPID=
	[ "$src" -eq 0 ] || fail "vaultd exited $src on SIGTERM"
}
start_vaultd
grep -q ': ok$' "$T/cc" || fail "check-config after init: $(cat "$T/cc")"
check_mode /run/vaultd/vaultd.sock 660 vaultd vaultd

vaultctl target add pkg1 --host 127.0.0.1 --port "$MDB_PORT" --user "$U" \
    --account-hosts 127.0.0.1 <"$T/pw1" >"$T/add.log" 2>&1 ||
	{ cat "$T/add.log" >&2; die "target add"; }
vaultctl rotate pkg1 --wait >"$T/rot.log" 2>&1 ||
	{ cat "$T/rot.log" >&2; die "rotate"; }
vaultctl get pkg1 >"$T/pw2" 2>"$T/get.err" || die "get: $(cat "$T/get.err")"
cmp -s "$T/pw1" "$T/pw2" && fail "rotation did not change the password"
login "$T/pw2" || fail "the rotated password does not log in"
login "$T/pw1" && fail "the old password still logs in"

# The vault's content, as JSON, and figures from it.
snapshot() {	# out-prefix
	vaultctl target list --json >"$1.targets" &&
	vaultctl target show pkg1 --json >"$1.show" &&
	vaultctl history pkg1 --limit 1000 --json >"$1.history" &&
	vaultctl audit list --limit 10000 --json >"$1.audit" ||
		fail "snapshot $1"
}
figures() {	# prefix -> "targets versions history audit"
	python3 - "$1" <<'EOF'
import json, sys
p = sys.argv[1]
def load(s):
    v = json.load(open(p + "." + s))
    if isinstance(v, dict):
        for k in ("targets", "versions", "history", "entries", "audit"):
            if isinstance(v.get(k), list):
                return v[k]
    return v
show = json.load(open(p + ".show"))
vers = show.get("versions") if isinstance(show, dict) else None
cur = show.get("version", show.get("current_version")) if isinstance(show, dict) else None
print(len(load("targets")), len(vers) if isinstance(vers, list) else cur,
      len(load("history")), len(load("audit")))
EOF
}
snapshot "$T/before"
fig1=$(figures "$T/before") || die "reading the vault's JSON"

inroot vaultctl audit verify --data-dir /var/lib/vaultd \
    --key-file /etc/vaultd/root.key >"$T/verify1" 2>&1 ||
	fail "audit verify before the upgrade: $(cat "$T/verify1")"
sha_key=$(sha256sum <"$R/etc/vaultd/root.key")

# ------------------------------------------------------ 6. upgrade to v2
step "upgrade to $V2 while vaultd runs"
old_exe=$(readlink "/proc/$VDPID/exe")
inroot dpkg -i /tmp/v2/vaultctl_"$V2"_"$arch".deb \
    /tmp/v2/vaultd_"$V2"_"$arch".deb >"$T/install2.log" 2>&1 ||
	{ cat "$T/install2.log" >&2; die "dpkg -i $V2"; }
grep -q 'README.Debian' "$T/install2.log" &&
	fail "the upgrade printed the first-install message"
for p in vaultd vaultctl; do
	[ "$(inroot dpkg-query -W -f='${Status} ${Version}' "$p")" = \
	    "install ok installed $V2" ] || fail "$p $V2 not installed"
done
kill -0 "$VDPID" 2>/dev/null || fail "vaultd died during the upgrade"
case $(readlink "/proc/$VDPID/exe") in
*deleted*) ;;
*) fail "dpkg did not replace the running $old_exe" ;;
esac
# The restart the postinst asks systemd for.
stop_vaultd
start_vaultd
case $(readlink "/proc/$VDPID/exe") in
*deleted*) fail "vaultd restarted from a deleted binary" ;;
esac
check_mode /etc/vaultd 750 root vaultd
check_mode /var/lib/vaultd 700 vaultd vaultd
check_mode /etc/vaultd/root.key 600 vaultd vaultd
[ "$(sha256sum <"$R/etc/vaultd/root.key")" = "$sha_key" ] ||
	fail "the upgrade changed the key file"

vaultctl get pkg1 >"$T/pw2b" 2>"$T/get.err" || fail "get after the upgrade"
cmp -s "$T/pw2" "$T/pw2b" || fail "get after the upgrade: another password"
snapshot "$T/after"
fig2=$(figures "$T/after") || die "reading the vault's JSON after"
cmp -s "$T/before.targets" "$T/after.targets" || fail "targets changed"
cmp -s "$T/before.show" "$T/after.show" || fail "versions changed"
cmp -s "$T/before.history" "$T/after.history" || fail "history changed"
python3 - "$T/before.audit" "$T/after.audit" <<'EOF' || fail "old audit entries changed"
import json, sys
def entries(f):
    v = json.load(open(f))
    if isinstance(v, dict):
        v = next(x for x in v.values() if isinstance(x, list))
    return [json.dumps(e, sort_keys=True) for e in v]
a, b = entries(sys.argv[1]), entries(sys.argv[2])
# Newest first: every entry before the upgrade is still there, unchanged,
# and the only new ones are the get after it (one or more entries).
sys.exit(0 if len(b) > len(a) and set(a) <= set(b) else 1)
EOF
inroot vaultctl audit verify --data-dir /var/lib/vaultd \
    --key-file /etc/vaultd/root.key >"$T/verify2" 2>&1 ||
	fail "audit verify after the upgrade: $(cat "$T/verify2")"
set -- $fig1
set -- "$@" $fig2
echo "  before: targets $1, versions $2, history $3, audit $4"
echo "  after:  targets $5, versions $6, history $7, audit $8"
[ "$1" = "$5" ] && [ "$2" = "$6" ] && [ "$3" = "$7" ] ||
	fail "targets/versions/history differ after the upgrade"
[ "$1" -ge 1 ] && [ "$2" -ge 2 ] || fail "expected 1 target, 2 versions"
# vaultd still does its job after the upgrade.
vaultctl rotate pkg1 --wait >"$T/rot2.log" 2>&1 ||
	fail "rotate after the upgrade: $(cat "$T/rot2.log")"
vaultctl get pkg1 >"$T/pw3" 2>/dev/null || fail "get after the rotation"
login "$T/pw3" || fail "the post-upgrade password does not log in"

# ------------------------------------------------------------ 7. purge
step "purge"
stop_vaultd
sha_data=$(sha256sum <"$R/var/lib/vaultd/data.mdb")
inroot dpkg --purge vaultd vaultctl >"$T/purge.log" 2>&1 ||
	{ cat "$T/purge.log" >&2; fail "dpkg --purge"; }
for f in /usr/sbin/vaultd /usr/bin/vaultctl /etc/vaultd/vaultd.conf \
    "$unit" /usr/lib/sysusers.d/vaultd.conf /run/vaultd; do
	[ ! -e "$R$f" ] || fail "purge left $f"
done
[ -f "$R/var/lib/vaultd/data.mdb" ] &&
    [ "$(sha256sum <"$R/var/lib/vaultd/data.mdb")" = "$sha_data" ] ||
	fail "purge touched the vault's data"
[ -f "$R/etc/vaultd/root.key" ] &&
    [ "$(sha256sum <"$R/etc/vaultd/root.key")" = "$sha_key" ] ||
	fail "purge touched the key file"
grep -q '^vaultd:' "$R/etc/passwd" || fail "purge removed the user vaultd"
# Installed again, the packages open the same vault.
inroot dpkg -i /tmp/v2/vaultctl_"$V2"_"$arch".deb \
    /tmp/v2/vaultd_"$V2"_"$arch".deb >"$T/install3.log" 2>&1 ||
	fail "reinstall after purge"
inroot vaultctl audit verify --data-dir /var/lib/vaultd \
    --key-file /etc/vaultd/root.key >"$T/verify3" 2>&1 ||
	fail "audit verify after purge and reinstall: $(cat "$T/verify3")"
exit 0
