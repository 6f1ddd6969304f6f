#!/bin/sh
# mariadb.sh - a throwaway mariadbd for the integration tests.
#
#   mariadb.sh start NAME ENVFILE [OPTS]
#                                   start a server, write ENVFILE; OPTS, one
#                                   argument of space-separated mariadbd
#                                   options (e.g. "--log-bin=mysql-bin
#                                   --general-log=1"), go after the defaults
#                                   (so they win) and are kept for restart;
#                                   the word @DIR@ in them becomes the
#                                   server's temp dir
#   mariadb.sh stop NAME ENVFILE    stop it, remove its temp dir and ENVFILE
#   mariadb.sh crash NAME ENVFILE   kill it with SIGKILL, keeping its data
#   mariadb.sh restart NAME ENVFILE start it again on the same data dir,
#                                   socket and port (after crash or not)
#
# The server runs per /work/shared/MARIADB.md: --no-defaults (Debian's
# plugin packages add plugin-load-add lines under /etc/mysql), a fresh
# datadir and tmpdir in mktemp -d /tmp/vdmdb.XXXXXX (the socket path must
# stay under 108 bytes), a free loopback port picked here,
# --skip-name-resolve, a small buffer pool.  It listens on 127.0.0.1 and, when the host has IPv6
# on loopback, on ::1 too (MariaDB 10.11 takes a comma list in
# --bind-address).  root exists at localhost, 127.0.0.1, ::1 and the host
# name, all with an empty password.  Nothing here touches /var/lib/mysql or
# a system server.
#
# ENVFILE holds shell-sourceable KEY=VALUE lines:
#   MDB_NAME, MDB_DIR, MDB_SOCKET, MDB_PORT, MDB_PID,
#   MDB_IPV6 (1 when the server listens on ::1, else 0: also 0 when OPTS
#   hold --skip-networking or a --bind-address without ::1).
# The extra options of start (@DIR@ expanded) are kept in MDB_DIR/opts
# (not in ENVFILE: the shell tests source it).
#
# stop is idempotent: a missing ENVFILE is success.  start over a stale
# ENVFILE stops that server first.  On failure both print the server's
# error log tail and exit non-zero.
set -u

PROG=mariadb.sh
START_WAIT=60		# seconds to wait for the server to answer ping
STOP_WAIT=30		# seconds to wait after TERM before KILL
PORT_TRIES=8		# ports to try when one is taken

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	echo "usage: $PROG start|stop|crash|restart NAME ENVFILE [OPTS]" >&2
	exit 2
}

# Reads KEY from the env file $1 without sourcing it.
envget() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# True when pid $1 is a mariadbd whose command line names dir $2.
is_our_server() {
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
	tr '\0' '\n' <"/proc/$1/cmdline" | grep -qxF -- "--datadir=$2/data"
}

# Prints the tail of the server's logs in dir $1 to stderr.
log_tail() {
	for f in "$1/stderr.log" "$1/error.log"; do
		if [ -s "$f" ]; then
			echo "--- $f (tail) ---" >&2
			tail -n 25 "$f" >&2
		fi
	done
}

# Picks a random port in 20000..59999 that no TCP socket listens on.
pick_port() {
	i=0
	while [ $i -lt 50 ]; do
		p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + p % 40000))
		if ! ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null |
		    grep -q .; then
			echo "$p"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

# True when ::1 is configured (the kernel would let us bind it).
have_ipv6_lo() {
	[ -r /proc/net/if_inet6 ] &&
	    grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

# Stops the server described by env file $1 (if any) and cleans up.
do_stop() {
	envf=$1
	[ -f "$envf" ] || return 0
	dir=$(envget "$envf" MDB_DIR)
	pid=$(envget "$envf" MDB_PID)
	case "$dir" in
	/tmp/vdmdb.??????) ;;
	*) die "refusing to clean up '$dir' named in $envf" ;;
	esac
	if is_our_server "$pid" "$dir"; then
		kill -TERM "$pid" 2>/dev/null
		n=0
		while is_our_server "$pid" "$dir" && [ $n -lt $((STOP_WAIT * 10)) ]; do
			sleep 0.1
			n=$((n + 1))
		done
		if is_our_server "$pid" "$dir"; then
			echo "$PROG: server $pid ignored TERM for ${STOP_WAIT}s; killing" >&2
			log_tail "$dir"
			kill -KILL "$pid" 2>/dev/null
			n=0
			while is_our_server "$pid" "$dir" && [ $n -lt 100 ]; do
				sleep 0.1
				n=$((n + 1))
			done
			is_our_server "$pid" "$dir" && die "server $pid survived KILL"
		fi
	fi
	rm -rf -- "$dir"
	rm -f -- "$envf"
}

# Starts mariadbd on port $2 in dir $1; prints its pid.  Returns 1 when it
# exits during start-up (log left in place), 2 when it never answers ping.
try_start() {
	d=$1 port=$2 bind=$3
	: >"$d/error.log"
	# setsid and closed stdio: ctest must not wait for the server's pipes,
	# and the server must survive the test process that started it.
	setsid mariadbd --no-defaults $USEROPT --datadir="$d/data" \
	    --tmpdir="$d/tmp" \
	    --socket="$d/sock" --port="$port" --bind-address="$bind" \
	    --skip-name-resolve --innodb-log-file-size=8M \
	    --innodb-buffer-pool-size=64M --pid-file="$d/pid" \
	    --log-error="$d/error.log" --skip-log-bin $EXTRA_OPTS \
	    </dev/null >>"$d/stderr.log" 2>&1 &
	spid=$!
	n=0
	while [ $n -lt $((START_WAIT * 10)) ]; do
		if mariadb-admin --no-defaults --socket="$d/sock" -uroot \
		    --connect-timeout=1 ping >/dev/null 2>&1; then
			# The pid file names mariadbd even if setsid forked.
			spid=$(cat "$d/pid" 2>/dev/null) || spid=
			is_our_server "$spid" "$d" || return 1
			echo "$spid"
			return 0
		fi
		if ! kill -0 "$spid" 2>/dev/null; then
			spid=$(cat "$d/pid" 2>/dev/null) || spid=
			is_our_server "$spid" "$d" || return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL "$spid" 2>/dev/null
	return 2
}

do_start() {
	name=$1 envf=$2 opts=${3:-}
	if [ -f "$envf" ]; then
		echo "$PROG: stopping the stale server of $envf" >&2
		do_stop "$envf"
	fi
	command -v mariadbd >/dev/null || die "mariadbd not found (scripts/deps.sh)"
	USEROPT=
	[ "$(id -u)" -eq 0 ] && USEROPT=--user=root

	dir=$(mktemp -d /tmp/vdmdb.XXXXXX) || die "mktemp failed"
	EXTRA_OPTS=$(printf '%s' "$opts" | sed "s|@DIR@|$dir|g")
	printf '%s\n' "$EXTRA_OPTS" >"$dir/opts" || die "cannot write $dir/opts"
	# A private tmpdir: servers sharing /tmp collide on the names of
	# their internal temporary tables ("Error on delete of
	# '/tmp/#sql-temptable-…'"), seen with fixtures started in parallel.
	mkdir "$dir/tmp" || die "mkdir $dir/tmp failed"
	if ! mariadb-install-db --no-defaults $USEROPT --datadir="$dir/data" \
	    --tmpdir="$dir/tmp" --auth-root-authentication-method=normal \
	    --skip-test-db --innodb-log-file-size=8M \
	    >"$dir/install.log" 2>&1; then
		echo "$PROG: mariadb-install-db failed for '$name'" >&2
		tail -n 25 "$dir/install.log" >&2
		rm -rf -- "$dir"
		exit 1
	fi

	bind=127.0.0.1
	ipv6=0
	if have_ipv6_lo; then
		bind=127.0.0.1,::1
		ipv6=1
	fi
	t=0
	pid=
	while [ $t -lt $PORT_TRIES ]; do
		t=$((t + 1))
		port=$(pick_port) || break
		pid=$(try_start "$dir" "$port" "$bind")
		rc=$?
		[ $rc -eq 0 ] && break
		pid=
		[ $rc -eq 2 ] && break
		# A taken port (a race with another process): try another.
		# An unusable ::1: fall back to IPv4 alone.
		if cat "$dir/error.log" "$dir/stderr.log" 2>/dev/null |
		    grep -q 'Address already in use'; then
			continue
		fi
		if [ $ipv6 -eq 1 ] && cat "$dir/error.log" "$dir/stderr.log" \
		    2>/dev/null | grep -qi 'bind\|::1\|assign'; then
			echo "$PROG: ::1 unusable, IPv4 only" >&2
			bind=127.0.0.1
			ipv6=0
			continue
		fi
		break
	done
	if [ -z "$pid" ]; then
		echo "$PROG: mariadbd '$name' failed to start" >&2
		log_tail "$dir"
		rm -rf -- "$dir"
		exit 1
	fi

	# OPTS that narrow what the server listens on win over the defaults:
	# say so in MDB_IPV6 (the server is not on ::1).
	case " $EXTRA_OPTS " in
	*" --skip-networking "* | *" --skip-networking=1 "*) ipv6=0 ;;
	*" --bind-address="*)
		b=$(printf '%s\n' "$EXTRA_OPTS" | tr ' ' '\n' |
		    sed -n 's/^--bind-address=//p' | tail -n 1)
		case ",$b," in
		*,::1,* | *,::,* | *,\*,*) ;;
		*) ipv6=0 ;;
		esac ;;
	esac

	tmp="$envf.tmp.$$"
	umask 077
	{
		echo "MDB_NAME=$name"
		echo "MDB_DIR=$dir"
		echo "MDB_SOCKET=$dir/sock"
		echo "MDB_PORT=$port"
		echo "MDB_PID=$pid"
		echo "MDB_IPV6=$ipv6"
	} >"$tmp" && mv -f -- "$tmp" "$envf" || {
		rm -f -- "$tmp"
		kill -TERM "$pid"
		die "cannot write $envf"
	}
	echo "$PROG: '$name' up: pid $pid port $port socket $dir/sock ipv6 $ipv6"
}

# Kills the server of env file $1 with SIGKILL (a crash); keeps its data.
do_crash() {
	envf=$1
	[ -f "$envf" ] || die "no env file $envf"
	dir=$(envget "$envf" MDB_DIR)
	pid=$(envget "$envf" MDB_PID)
	is_our_server "$pid" "$dir" || return 0
	kill -KILL "$pid" 2>/dev/null
	n=0
	while is_our_server "$pid" "$dir" && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	is_our_server "$pid" "$dir" && die "server $pid survived KILL"
	return 0
}

# Starts the server of env file $1 again on its data dir, socket and port.
do_restart() {
	envf=$1
	[ -f "$envf" ] || die "no env file $envf"
	dir=$(envget "$envf" MDB_DIR)
	port=$(envget "$envf" MDB_PORT)
	ipv6=$(envget "$envf" MDB_IPV6)
	EXTRA_OPTS=$(cat "$dir/opts" 2>/dev/null) || EXTRA_OPTS=
	case "$dir" in
	/tmp/vdmdb.??????) ;;
	*) die "refusing to use '$dir' named in $envf" ;;
	esac
	do_crash "$envf"
	USEROPT=
	[ "$(id -u)" -eq 0 ] && USEROPT=--user=root
	bind=127.0.0.1
	[ "$ipv6" = 1 ] && bind=127.0.0.1,::1
	rm -f "$dir/sock" "$dir/sock.lock" "$dir/pid"
	pid=$(try_start "$dir" "$port" "$bind") || {
		log_tail "$dir"
		die "mariadbd '$2' failed to restart"
	}
	sed -i "s/^MDB_PID=.*/MDB_PID=$pid/" "$envf"
	echo "$PROG: '$2' restarted: pid $pid port $port"
}

[ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$1" = start ]; } || usage
EXTRA_OPTS=
case "$1" in
start) do_start "$2" "$3" "${4:-}" ;;
stop) do_stop "$3" && echo "$PROG: '$2' stopped" ;;
crash) do_crash "$3" && echo "$PROG: '$2' killed" ;;
restart) do_restart "$3" "$2" ;;
*) usage ;;
esac
