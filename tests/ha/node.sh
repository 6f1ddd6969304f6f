#!/bin/sh
# node.sh NAME WORK - one cluster node of test_cluster.py, run as
#   ip netns exec vdha-NAME unshare --mount --uts --propagation private \
#       sh node.sh NAME WORK
# so this shell is the node: its own network namespace (the veth to the
# other node), mount namespace and host name.  Here: /run, /dev/shm,
# /etc/corosync, /var/lib/pacemaker, /var/lib/corosync and
# /var/log/pacemaker of its own (WORK/NAME/...); /usr/sbin and
# /usr/lib/ocf/resource.d with the test's fence agent and the vaultd OCF
# agent laid over them (read-only overlays: the host's directories are not
# changed).  Then corosync and pacemakerd run in the foreground; the node
# ends when both have ended (killed by the fence agent or by the test).
set -eu
name=$1 W=$2
nd=$W/$name
hostname "node-$name"
mount -t tmpfs -o mode=0755 vdha-run /run
mkdir -p /run/lock
mount -t tmpfs -o mode=1777 vdha-shm /dev/shm
mount --bind "$nd/etc-corosync" /etc/corosync
mount --bind "$nd/lib-pacemaker" /var/lib/pacemaker
mount --bind "$nd/lib-corosync" /var/lib/corosync
mount --bind "$nd/log-pacemaker" /var/log/pacemaker
mount -t overlay vdha-sbin -o "lowerdir=$W/sbin:/usr/sbin" /usr/sbin
mount -t overlay vdha-ocf -o "lowerdir=$W/ocf:/usr/lib/ocf/resource.d" \
    /usr/lib/ocf/resource.d
ip link set lo up

corosync -f >>"$nd/corosync.out" 2>&1 &
cpid=$!
echo "$cpid" >"$nd/corosync.pid"
n=0
until corosync-cfgtool -s >/dev/null 2>&1; do
	kill -0 "$cpid" 2>/dev/null || { echo "corosync exited" >&2; exit 1; }
	n=$((n + 1))
	[ $n -lt 300 ] || { echo "corosync not ready in 30s" >&2; exit 1; }
	sleep 0.1
done
PCMK_logfile=$nd/pacemaker.log pacemakerd >>"$nd/pacemakerd.out" 2>&1 &
ppid_=$!
echo "$ppid_" >"$nd/pacemakerd.pid"
echo up >"$nd/up"
wait
