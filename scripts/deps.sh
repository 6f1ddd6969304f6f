#!/bin/sh
# Install the Debian packages vaultd needs to build, test and run its demo;
# the last line is the Debian packaging and its test (tests/dist/test_package.sh).
# Idempotent: installs only what is missing. Run as root (or with sudo).
set -eu

PKGS="build-essential cmake pkgconf
libsodium-dev liblmdb-dev lmdb-utils libuv1-dev libmariadb-dev
libjansson-dev libinih-dev libpwquality-dev libzxcvbn-dev
mariadb-server mariadb-client mariadb-plugin-cracklib-password-check cracklib-runtime
clang libclang-rt-14-dev util-linux procps socat iproute2 python3
libsystemd-dev systemd scdoc bash-completion man-db groff-base
pass gnupg
nettle-dev valgrind spin
debhelper dpkg-dev fakeroot lintian mmdebstrap debian-archive-keyring"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

echo "deps: missing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps: not root and no sudo; install as root: apt-get install$missing" >&2
		exit 1
	fi
else
	SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
# Do not let package scripts start a system MariaDB: the tests and the demo
# start their own throwaway servers and never touch /var/lib/mysql.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	made_policy=1
fi
cleanup() {
	# An if, not "&&": the trap's status would become the script's.
	if [ "$made_policy" = 1 ]; then
		$SUDO rm -f "$policy"
	fi
}
trap cleanup EXIT

if ! $SUDO apt-get install -y --no-install-recommends $missing; then
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends $missing
fi
