#!/usr/bin/env python3
"""test_cluster.py - vaultd active/passive under Pacemaker and Corosync,
proven on one machine (issue 16).

usage: test_cluster.py VAULTD VAULTCTL AGENT MARIADB_SH

Two cluster nodes on this machine.  Each node is a network namespace plus
a mount and UTS namespace (tests/ha/node.sh) with its own /etc/corosync,
/var/lib/pacemaker, /var/lib/corosync, /var/log/pacemaker, /run and
/dev/shm; the nodes are joined by a veth pair (10.216.0.1 and 10.216.0.2,
addresses that exist only inside the two namespaces).  corosync (knet,
two_node) and pacemakerd run in the foreground in each.

The vault's data directory is a directory both nodes see (this machine's
/tmp): the stand-in for DRBD (protocol C) or a SAN.  There is no
Filesystem resource to group vaultd with here; vaultd's own lock on the
data directory is the second line of defence.  MariaDB (mariadb.sh, a
throwaway server in the root namespace) is reached through its unix socket,
also on the shared /tmp, so both nodes reach it without routing.

Fencing is real for the test: stonith-enabled=true and a fence device
(tests/ha/fence_vdtest) that "powers off" a node by SIGKILLing every
process in its network namespace.  The test "boots" a fenced node again by
starting its node.sh anew (same /var/lib/pacemaker, fresh /run).

Scenario: vaultd on node-a, 20 accounts rotating every 3 s; a reader gets
random passwords and logs in with them throughout.  Then
  (1) vaultd SIGKILLed on its node until Pacemaker moves it
      (migration-threshold=3: two local restarts, then the move);
  (2) the corosync of the node that runs vaultd is SIGKILLed (node loss:
      the other node fences it and takes vaultd over); the fenced node is
      booted again;
  (3) a clean move back (crm_resource --move, then --clear);
  (4) node loss again, with the fence device broken (fence_vdtest's
      failflag): for 8 s the survivor must not start vaultd (the lost node
      is not fenced, its vaultd may still run); once the device works
      again, the node is fenced and vaultd moves.
After each: vaultd runs on exactly one node (the one Pacemaker says), the
lock file names it, rotations continue (every target rotates again),
every target's get logs in, `vaultctl audit verify` passes, and no
target's history shows two rotations in flight at once.  A sampler checks
all along that no two vaultd of this vault ever run in two nodes at once.
Prints the failover times: fault to the first request answered by the
new vaultd.

Needs root (namespaces, mounts).  Exits 1 on any failure, also when a
piece cannot run here: it never skips.
"""
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from vdtest import (FAILS, Env, Vault, check, log,  # noqa: E402
                    native_hash)

VAULTD, VAULTCTL, AGENT, MARIADB_SH = [os.path.abspath(a)
                                       for a in sys.argv[1:5]]
N = 20                          # accounts
EVERY = "3s"
NODES = ("a", "b")
ADDR = {"a": "10.216.0.1", "b": "10.216.0.2"}
T0 = time.time()
RUN = "vh%d" % os.getpid()      # namespace/link name prefix (<= 15 chars)


def tlog(msg):
    log("%6.1fs %s" % (time.time() - T0, msg))


def sh(cmd, check_rc=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=kw.pop("timeout", 60), **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError("%s: %d %s" % (" ".join(cmd), p.returncode,
                                          p.stderr.decode()))
    return p


class Cluster:
    def __init__(self, work):
        self.w = work
        self.procs = {}         # node: Popen of node.sh
        self.failflag = work + "/fence-broken"   # fence_vdtest fails
        self.nsino = {}

    def ns(self, n):
        return "%s%s" % (RUN, n)

    def setup(self):
        w = self.w
        os.makedirs(w + "/sbin")
        os.makedirs(w + "/ocf/vaultd")
        shutil.copy(os.path.join(HERE, "fence_vdtest"), w + "/sbin/")
        shutil.copy(AGENT, w + "/ocf/vaultd/vaultd")
        for f in (w + "/sbin/fence_vdtest", w + "/ocf/vaultd/vaultd"):
            os.chmod(f, 0o755)
        for n in NODES:
            sh(["ip", "netns", "add", self.ns(n)])
        sh(["ip", "link", "add", RUN + "a0", "netns", self.ns("a"), "type",
            "veth", "peer", "name", RUN + "b0", "netns", self.ns("b")])
        for n in NODES:
            sh(["ip", "-n", self.ns(n), "addr", "add", ADDR[n] + "/24", "dev",
                RUN + n + "0"])
            sh(["ip", "-n", self.ns(n), "link", "set", RUN + n + "0", "up"])
            sh(["ip", "-n", self.ns(n), "link", "set", "lo", "up"])
            nd = os.path.join(w, n)
            for d in ("etc-corosync", "lib-corosync", "log-pacemaker"):
                os.makedirs(os.path.join(nd, d))
            os.chmod(nd, 0o755)
            sh(["cp", "-a", "/var/lib/pacemaker", nd + "/lib-pacemaker"])
            for d in ("cib", "pengine", "blackbox", "cores"):
                # A fresh node: nothing of the host's state.
                for f in os.listdir(os.path.join(nd, "lib-pacemaker", d)):
                    os.unlink(os.path.join(nd, "lib-pacemaker", d, f))
            shutil.chown(nd + "/log-pacemaker", "hacluster", "haclient")
            with open(nd + "/etc-corosync/corosync.conf", "w") as f:
                f.write(COROSYNC_CONF % (ADDR["a"], ADDR["b"]))

    def boot(self, n):
        nd = os.path.join(self.w, n)
        for f in ("up", "corosync.pid", "pacemakerd.pid"):
            if os.path.exists(os.path.join(nd, f)):
                os.unlink(os.path.join(nd, f))
        out = open(os.path.join(nd, "node.out"), "ab")
        self.procs[n] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(n), "unshare", "--mount",
             "--uts", "--propagation", "private", "sh",
             os.path.join(HERE, "node.sh"), n, self.w],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True)
        out.close()
        end = time.time() + 40
        while not os.path.exists(os.path.join(nd, "up")):
            if self.procs[n].poll() is not None or time.time() > end:
                raise RuntimeError("node-%s did not come up: %s" % (
                    n, self.tail(os.path.join(nd, "node.out")) +
                    self.tail(os.path.join(nd, "corosync.out"))))
            time.sleep(0.1)
        self.nsino[n] = os.readlink("/proc/%d/ns/net" % self.procs[n].pid)

    @staticmethod
    def tail(path, n=15):
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def up(self, n):
        p = self.procs.get(n)
        return p is not None and p.poll() is None

    def pid_of(self, n, what):
        try:
            with open(os.path.join(self.w, n, what + ".pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def run(self, n, cmd, check_rc=True, timeout=60):
        """cmd inside node n (its network, mount and UTS namespaces)."""
        return sh(["nsenter", "-t", str(self.procs[n].pid), "-n", "-m", "-u",
                   "--"] + cmd, check_rc=check_rc, timeout=timeout)

    def any_node(self):
        for n in NODES:
            if self.up(n):
                return n
        raise RuntimeError("no node is up")

    def status(self, n=None):
        """crm_mon's XML from node n (or any node up), parsed: {online:
        set, dc: name or None, vaultd: node or None, failed: [...]}."""
        n = n or self.any_node()
        p = self.run(n, ["crm_mon", "-1", "--output-as=xml"],
                     check_rc=False, timeout=20)
        st = {"online": set(), "dc": None, "vaultd": None, "xml": p.stdout}
        try:
            root = ET.fromstring(p.stdout)
        except ET.ParseError:
            return st
        for nd in root.iter("node"):
            if nd.get("online") == "true" and nd.get("name"):
                st["online"].add(nd.get("name"))
        dc = root.find("./summary/current_dc")
        if dc is not None and dc.get("present") == "true":
            st["dc"] = dc.get("name")
        for r in root.iter("resource"):
            if r.get("id") == "vaultd" and r.get("role") == "Started":
                on = r.find("node")
                st["vaultd"] = on.get("name") if on is not None else None
        return st

    def wait(self, pred, what, timeout=90):
        end = time.time() + timeout
        st = {}
        while time.time() < end:
            try:
                st = self.status()
            except (RuntimeError, subprocess.TimeoutExpired):
                st = {}
            if st and pred(st):
                return st
            time.sleep(0.5)
        raise RuntimeError("cluster: %s not reached in %ds; last: %s" % (
            what, timeout, (st.get("xml") or b"")[-3000:].decode(
                errors="replace")))

    def cib(self, n, section, xml):
        self.run(n, ["cibadmin", "-C", "-o", section, "--xml-text", xml])

    def teardown(self):
        for n in NODES:
            for pid in pids_in_ns(self.nsino.get(n)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for n in NODES:
            p = self.procs.get(n)
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        for n in NODES:
            subprocess.run(["ip", "netns", "del", self.ns(n)],
                           stderr=subprocess.DEVNULL)


COROSYNC_CONF = """totem {
	version: 2
	cluster_name: vdha
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: 1000
}
nodelist {
	node {
		ring0_addr: %s
		name: node-a
		nodeid: 1
	}
	node {
		ring0_addr: %s
		name: node-b
		nodeid: 2
	}
}
quorum {
	provider: corosync_votequorum
	two_node: 1
}
logging {
	to_stderr: yes
	to_syslog: no
	to_logfile: no
	timestamp: on
}
"""


def pids_in_ns(ino):
    out = []
    if not ino:
        return out
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/ns/net" % d) == ino:
                    out.append(int(d))
            except OSError:
                pass
    return out


def our_vaultds(conf):
    """{pid: net namespace} of every live vaultd running conf."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            if os.path.basename(argv[0]) != b"vaultd" or \
                    conf.encode() not in argv:
                continue
            out[int(d)] = os.readlink("/proc/%s/ns/net" % d)
        except OSError:
            pass
    return out


class Sampler(threading.Thread):
    """Every 0.1 s: the vaultds of the vault and their nodes.  Two nodes
    with a vaultd in two samples running is a failure (a second vaultd
    refused by the lock lives for milliseconds; one that serves, long)."""

    def __init__(self, conf, c):
        super().__init__(daemon=True)
        self.conf, self.c = conf, c
        self.halt = threading.Event()
        self.samples = self.both = self.both_twice = 0
        self.prev_both = False

    def run(self):
        while not self.halt.is_set():
            v = our_vaultds(self.conf)
            nodes = set(v.values())
            both = len(nodes) > 1
            self.samples += 1
            if both:
                self.both += 1
                if self.prev_both:
                    self.both_twice += 1
                    tlog("vaultd in two nodes at once: %r" % v)
            self.prev_both = both
            time.sleep(0.1)


class Reader(threading.Thread):
    """Gets a random target's password every ~0.3 s and logs in with it.
    A refused login is "raced" when the server's hash before the get was
    that password's and another one after (a rotation between the get and
    the login); otherwise "refused": a failure."""

    def __init__(self, E, v, users):
        super().__init__(daemon=True)
        self.E, self.v, self.users = E, v, users
        self.halt = threading.Event()
        self.ok = self.raced = self.refused = self.unavailable = 0
        self.rnd = random.Random(16)

    def run(self):
        while not self.halt.is_set():
            i = self.rnd.randrange(N)
            h0 = server_hash(self.E, self.users[i])
            pw = self.v.get("h%02d" % i)
            if pw is None:
                self.unavailable += 1       # vaultd down or moving
            else:
                r = login(self.E, self.users[i], pw)
                if r == "ok":
                    self.ok += 1
                elif r == "denied":
                    h1 = server_hash(self.E, self.users[i])
                    if h0 == native_hash(pw) and h1 != h0:
                        self.raced += 1
                    else:
                        self.refused += 1
                        tlog("READER: h%02d's password does not log in" % i)
            time.sleep(0.3)


def server_hash(E, user):
    p = subprocess.run(["mariadb", "--no-defaults", "--socket=" +
                        E.mdb["MDB_SOCKET"], "-uroot", "-N", "-B"],
                       input=("SELECT authentication_string FROM mysql.user "
                              "WHERE User='%s' AND Host='localhost';" %
                              user).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return p.stdout.decode().strip() if p.returncode == 0 else None


def login(E, user, pw):
    cnf = E.optfile(pw)
    try:
        p = subprocess.run(["mariadb", "--defaults-file=" + cnf, "-u", user,
                            "--connect-timeout=5", "-N", "-B",
                            "--socket=" + E.mdb["MDB_SOCKET"], "-e",
                            "SELECT CURRENT_USER()"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
    finally:
        os.unlink(cnf)
    if p.returncode == 0 and p.stdout.decode().strip() == user + "@localhost":
        return "ok"
    return "denied" if b"ERROR 1045" in p.stderr else "down"


def rfc3339(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) \
        if s else None


LOGTIME = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) (\S+) ")


def detected(c, since, pattern):
    """The first time at or after since (epoch seconds) when a node's
    pacemaker.log has a line matching pattern: when the cluster noticed.
    None when no line says so."""
    rx = re.compile(pattern)
    year = time.localtime().tm_year
    best = None
    for n in NODES:
        try:
            with open(os.path.join(c.w, n, "pacemaker.log"),
                      errors="replace") as f:
                lines = f.readlines()
        except OSError:
            continue
        for ln in lines:
            m = LOGTIME.match(ln)
            if not m or not rx.search(ln):
                continue
            t = time.mktime(time.strptime("%d %s" % (year, m.group(1)[:-4]),
                                          "%Y %b %d %H:%M:%S")) + \
                int(m.group(1)[-3:]) / 1000.0
            if t >= since - 0.01 and (best is None or t < best):
                best = t
    return best


class Scenario:
    def __init__(self, E, c, v, users):
        self.E, self.c, self.v, self.users = E, c, v, users
        self.times = []

    def node_of_vaultd(self):
        """The node (a/b) whose namespace runs the vault's vaultd(s)."""
        v = our_vaultds(self.v.conf)
        inv = {ino: n for n, ino in self.c.nsino.items()}
        return sorted({inv.get(ino, "?") for ino in v.values()}), v

    def wait_served_on(self, node, since, timeout=120):
        """Waits until a vaultd in node answers; returns the time of the
        first answer."""
        end = time.time() + timeout
        while time.time() < end:
            nodes, _ = self.node_of_vaultd()
            if nodes == [node]:
                rc, out, err = self.v.ctl(["status", "--json"], timeout=10,
                                          keep=False)
                if rc == 0:
                    return time.time()
            time.sleep(0.05)
        raise RuntimeError("vaultd never answered from node-%s (%s)" % (
            node, self.node_of_vaultd()))

    def history(self, i):
        """Target i's whole history (newest first)."""
        rc, out, err = self.v.ctl(["history", "h%02d" % i, "--json",
                                   "--limit", "10000"], keep=False)
        try:
            return json.loads(out) if rc == 0 else []
        except ValueError:
            return []

    def counts(self):
        """{target: rotations that ended ok}, from the whole history."""
        out = {}
        for i in range(N):
            out[i] = sum(1 for e in self.history(i)
                         if e.get("result") == "ok" and
                         e.get("trigger") != "initial")
        return out

    def check_after(self, what, node):
        """The checks after each failover."""
        st = self.c.wait(lambda s: s["vaultd"] == "node-" + node,
                         "vaultd started on node-" + node)
        nodes, procs = self.node_of_vaultd()
        check(nodes == [node] and len(procs) == 1,
              "%s: exactly one vaultd, on node-%s: %r" % (what, node, procs))
        with open(os.path.join(self.v.data, "vaultd.lock")) as f:
            holder = f.read().split()[:1]
        check(holder == [str(p) for p in procs],
              "%s: the lock file names the running vaultd: %r %r" %
              (what, holder, procs))
        # Rotations continue: every target rotates again.
        before = self.counts()
        end = time.time() + 60
        after = before
        while time.time() < end:
            after = self.counts()
            if all(after[i] > before[i] for i in range(N)):
                break
            time.sleep(1)
        slow = [i for i in range(N) if after[i] <= before[i]]
        check(not slow, "%s: every target rotated again (not: %r)" %
              (what, slow))
        # Every get logs in (a rotation between get and login: retried).
        bad = []
        for i in range(N):
            for _ in range(5):
                h0 = server_hash(self.E, self.users[i])
                pw = self.v.get("h%02d" % i)
                r = login(self.E, self.users[i], pw) if pw else "noget"
                if r == "ok":
                    break
                if r == "denied" and h0 == native_hash(pw) and \
                        server_hash(self.E, self.users[i]) != h0:
                    continue            # raced with a rotation: again
                bad.append((i, r))
                break
            else:
                bad.append((i, "raced 5 times"))
        check(not bad, "%s: every get logs in: %r" % (what, bad))
        self.check_history(what)
        rc, out, err = self.v.audit_verify()
        check(rc == 0, "%s: audit verify: %d %s %s" % (what, rc, out, err))
        tlog("%s: checks done (vaultd on node-%s; audit verify %s)" %
             (what, node, "ok" if rc == 0 else "FAILED"))

    def check_history(self, what):
        """No target has two rotations in flight at once: at most one row
        running, and rows do not overlap in time (seconds)."""
        for i in range(N):
            h = [e for e in self.history(i) if e.get("trigger") != "initial"]
            running = [e for e in h if e.get("result") == "running"]
            check(len(running) <= 1, "%s: h%02d has %d rotations running" %
                  (what, i, len(running)))
            rows = sorted(h, key=lambda e: e.get("seq", 0))
            for a, b in zip(rows, rows[1:]):
                fa = rfc3339(a.get("finished_at")) or float("inf")
                sb = rfc3339(b.get("started_at")) or 0
                if not check(sb >= fa, "%s: h%02d: rotation seq %s started "
                             "at %s before seq %s ended at %s" %
                             (what, i, b.get("seq"), b.get("started_at"),
                              a.get("seq"), a.get("finished_at"))):
                    break


def main():
    if os.geteuid() != 0:
        print("FAIL: needs root (namespaces, mounts)")
        sys.exit(1)
    for tool in ("corosync", "pacemakerd", "crm_mon", "cibadmin",
                 "crm_resource", "crm_attribute", "nsenter", "unshare", "ip",
                 "mariadb"):
        if shutil.which(tool) is None:
            print("FAIL: %s missing (scripts/deps.sh)" % tool)
            sys.exit(1)
    reap_stale()
    envf = "/tmp/vdha-mdb.%d.env" % os.getpid()
    sh(["sh", MARIADB_SH, "start", "ha", envf], timeout=180)
    E = Env(VAULTD, VAULTCTL, "vdha.", envf)
    os.chmod(E.work, 0o755)
    c = Cluster(E.work)
    reader = sampler = None
    try:
        reader, sampler = run(E, c)
    except Exception as e:      # a piece that cannot run here is a failure
        check(False, "%s: %s" % (type(e).__name__, e))
        __import__("traceback").print_exc()
    finally:
        if reader:
            reader.halt.set()
        if sampler:
            sampler.halt.set()
        tlog("teardown")
        try:
            c.teardown()
        finally:
            sh(["sh", MARIADB_SH, "stop", "ha", envf], check_rc=False,
               timeout=120)
    if FAILS or os.environ.get("VD_HA_KEEP"):
        print("kept " + E.work + " for inspection")
    else:
        subprocess.run(["rm", "-rf", E.work])
    print("%d checks, %d failures, %.0fs" % (__import__("vdtest").CHECKS[0],
                                              len(FAILS), time.time() - T0))
    for f in FAILS:
        print("  " + f)
    sys.exit(1 if FAILS else 0)


def run(E, c):
    c.setup()
    tlog("booting node-a and node-b")
    for n in NODES:
        c.boot(n)
    c.wait(lambda s: s["online"] == {"node-a", "node-b"} and s["dc"],
           "both nodes online with a DC")
    tlog("cluster up: %s" % sorted(c.status()["online"]))

    # The vault: data directory on the "shared storage" (both nodes see
    # E.work/shared), key-file vault, socket there too (one path for the
    # test's clients whichever node serves).
    rot = ("concurrency = 4\nretry_min = 1s\nretry_max = 4s\n"
           "retry_limit = 100000\nconnect_timeout = 2s\nmin_every = 1s\n")
    v = Vault(E, "shared", rotation=rot)
    os.chmod(v.conf, 0o600)

    a = "a"
    c.run(a, ["crm_attribute", "-t", "crm_config", "-n", "stonith-enabled",
              "-v", "true"])
    c.run(a, ["crm_attribute", "-t", "crm_config", "-n", "stonith-timeout",
              "-v", "30s"])
    # (4) keeps the fence device broken for a while: Pacemaker must keep
    # trying (its default gives up on a node after 10 failed attempts).
    c.run(a, ["crm_attribute", "-t", "crm_config", "-n",
              "stonith-max-attempts", "-v", "1000"])
    c.run(a, ["crm_attribute", "-t", "rsc_defaults", "-n",
              "resource-stickiness", "-v", "100"])
    nsmap = ",".join("node-%s:%s" % (n, re.sub(r"\D", "", c.nsino[n]))
                     for n in NODES)
    c.cib(a, "resources",
          '<primitive id="fence-ns" class="stonith" type="fence_vdtest">'
          '<instance_attributes id="fence-ns-ia">'
          '<nvpair id="fence-ns-nsmap" name="nsmap" value="%s"/>'
          '<nvpair id="fence-ns-hl" name="pcmk_host_list" '
          'value="node-a node-b"/>'
          '<nvpair id="fence-ns-ra" name="pcmk_reboot_action" value="off"/>'
          '<nvpair id="fence-ns-ff" name="failflag" value="%s"/>'
          '</instance_attributes><operations>'
          '<op id="fence-ns-mon" name="monitor" interval="30s"/>'
          '</operations></primitive>' % (nsmap, c.failflag))
    c.cib(a, "resources",
          '<primitive id="vaultd" class="ocf" provider="vaultd" '
          'type="vaultd"><instance_attributes id="vaultd-ia">'
          '<nvpair id="vaultd-config" name="config" value="%s"/>'
          '<nvpair id="vaultd-bin" name="vaultd" value="%s"/>'
          '<nvpair id="vaultd-ctl" name="vaultctl" value="%s"/>'
          '<nvpair id="vaultd-log" name="log" value="%s"/>'
          '</instance_attributes>'
          '<meta_attributes id="vaultd-meta">'
          '<nvpair id="vaultd-mt" name="migration-threshold" value="3"/>'
          '</meta_attributes><operations>'
          '<op id="vaultd-start" name="start" interval="0" timeout="60s"/>'
          '<op id="vaultd-stop" name="stop" interval="0" timeout="60s"/>'
          '<op id="vaultd-mon" name="monitor" interval="1s" timeout="20s"/>'
          '<op id="vaultd-mon10" name="monitor" interval="30s" '
          'timeout="30s"><instance_attributes id="vaultd-mon10-ia">'
          '<nvpair id="vaultd-mon10-lvl" name="OCF_CHECK_LEVEL" '
          'value="10"/></instance_attributes></op>'
          '</operations></primitive>' %
          (v.conf, VAULTD, VAULTCTL, os.path.join(v.dir, "vaultd.log")))
    c.cib(a, "constraints",
          '<rsc_location id="vaultd-prefers-a" rsc="vaultd" node="node-a" '
          'score="50"/>')
    sc = Scenario(E, c, v, {})
    t = sc.wait_served_on("a", time.time(), timeout=90)
    tlog("vaultd started by Pacemaker on node-a")

    users = {}
    for i in range(N):
        users[i] = "vha%02d%s" % (i, secrets.token_hex(2))
        pw = "Ha#" + secrets.token_hex(10) + "'\\;"
        E.make_user(users[i], pw, ["localhost"])
        v.add("h%02d" % i, users[i], pw, extra=["--every", EVERY])
    sc.users = users
    tlog("%d targets added, rotating every %s" % (N, EVERY))
    sampler = Sampler(v.conf, c)
    sampler.start()
    reader = Reader(E, v, users)
    reader.start()
    time.sleep(8)
    sc.check_after("steady state", "a")

    # (1) vaultd SIGKILLed until Pacemaker moves it.
    src = "a"
    dst = "b"
    kills = 0
    t_move = None
    while kills < 6:
        nodes, procs = sc.node_of_vaultd()
        if nodes != [src]:
            break
        pid = list(procs)[0]
        os.kill(pid, signal.SIGKILL)
        kills += 1
        tk = time.time()
        tlog("(1) SIGKILL %d: vaultd pid %d on node-%s" % (kills, pid, src))
        # Back where it was (a local restart) or on the other node.
        end = time.time() + 90
        where = None
        while time.time() < end and where is None:
            nodes, p2 = sc.node_of_vaultd()
            if len(nodes) == 1 and pid not in p2:
                rc, _, _ = v.ctl(["status", "--json"], timeout=10,
                                 keep=False)
                if rc == 0:
                    where = nodes[0]
                    break
            time.sleep(0.05)
        if where is None:
            raise RuntimeError("(1) vaultd not back after kill %d" % kills)
        ta = time.time()
        dt = ta - tk
        td = detected(c, tk, r"Result of monitor operation for vaultd on "
                      r"node-%s: not running" % src)
        if where == src:
            tlog("(1) restarted in place on node-%s: %.2fs" % (src, dt))
            sc.times.append(("(1) restart in place after SIGKILL %d" % kills,
                             dt, td and ta - td))
            time.sleep(2)       # let the monitor see it healthy
        else:
            t_move = dt
            tlog("(1) moved to node-%s: %.2fs after kill %d" % (where, dt,
                                                               kills))
            sc.times.append(("(1) SIGKILL %d -> serving on node-%s" %
                             (kills, where), dt, td and ta - td))
            break
    check(t_move is not None, "(1) Pacemaker moved vaultd after %d kills" %
          kills)
    sc.check_after("(1) after the move by SIGKILLs", dst)
    # The operator's cleanup after looking into the failures: node-a may
    # run vaultd again.
    c.run(dst, ["crm_resource", "--cleanup", "-r", "vaultd"])
    time.sleep(3)

    # (2) node loss: the active node's corosync SIGKILLed.
    src, dst = dst, src
    cpid = c.pid_of(src, "corosync")
    os.kill(cpid, signal.SIGKILL)
    tk = time.time()
    tlog("(2) SIGKILL corosync pid %d on node-%s" % (cpid, src))
    t = sc.wait_served_on(dst, tk, timeout=120)
    td = detected(c, tk, r"Node node-%s state is now lost" % src)
    sc.times.append(("(2) node-%s's corosync killed -> serving on node-%s" %
                     (src, dst), t - tk, td and t - td))
    tlog("(2) serving on node-%s: %.2fs" % (dst, t - tk))
    check(not c.up(src), "(2) node-%s was fenced (its node shell is gone)"
          % src)
    nodes, procs = sc.node_of_vaultd()
    check(nodes == [dst], "(2) no vaultd left on the fenced node: %r" %
          procs)
    fenced = c.run(dst, ["stonith_admin", "--history", "node-" + src],
                   check_rc=False).stdout.decode()
    tlog("(2) fence history: %s" % fenced.strip().replace("\n", " | "))
    check("successful" in fenced or "fenced" in fenced,
          "(2) Pacemaker fenced node-%s: %s" % (src, fenced))
    sc.check_after("(2) after node loss", dst)
    tlog("(2) booting node-%s again" % src)
    c.procs[src].wait(30)
    c.boot(src)
    c.wait(lambda s: s["online"] == {"node-a", "node-b"},
           "node-%s back online" % src)
    tlog("(2) node-%s back online" % src)

    # (3) a clean move back.
    src, dst = dst, src
    tk = time.time()
    c.run(src, ["crm_resource", "--move", "-r", "vaultd", "-N",
                "node-" + dst])
    t = sc.wait_served_on(dst, tk, timeout=120)
    sc.times.append(("(3) crm_resource --move -> serving on node-%s" % dst,
                     t - tk, None))
    tlog("(3) serving on node-%s: %.2fs" % (dst, t - tk))
    c.run(src, ["crm_resource", "--clear", "-r", "vaultd"])
    sc.check_after("(3) after the clean move", dst)
    check("SIGTERM" in v.logtext(), "the clean move stopped vaultd with "
          "SIGTERM (its log says so)")

    # (4) node loss while the fence device is broken: the survivor must not
    # start vaultd before the lost node is fenced; once fencing works again
    # it takes over.
    src, dst = dst, src
    with open(c.failflag, "w"):
        pass
    cpid = c.pid_of(src, "corosync")
    os.kill(cpid, signal.SIGKILL)
    tk = time.time()
    tlog("(4) fence device broken; SIGKILL corosync pid %d on node-%s" %
         (cpid, src))
    lost = None
    while time.time() < tk + 30:
        if detected(c, tk, r"Node node-%s state is now lost" % src):
            lost = time.time()
            break
        time.sleep(0.2)
    check(lost is not None, "(4) node-%s seen lost" % src)
    end = time.time() + 8
    seen = set()
    while time.time() < end:
        nodes, procs = sc.node_of_vaultd()
        seen |= set(nodes)
        time.sleep(0.1)
    failed = detected(c, tk, r"fence_vdtest.*(broken|returned: 1)|"
                      r"[Ff]encing of node-%s.*(failed|error)|"
                      r"operation .*node-%s.* (failed|error)" % (src, src))
    check(failed is not None, "(4) Pacemaker's log shows the fencing of "
          "node-%s failing" % src)
    check(seen == {src}, "(4) while node-%s cannot be fenced, no vaultd "
          "starts on node-%s (vaultd seen on %r)" % (src, dst, sorted(seen)))
    tlog("(4) 8 s of failed fencing: vaultd only on node-%s (%r)" %
         (src, sorted(seen)))
    os.unlink(c.failflag)
    tr = time.time()
    t = sc.wait_served_on(dst, tr, timeout=120)
    sc.times.append(("(4) fence device repaired -> serving on node-%s" %
                     dst, t - tr, None))
    tlog("(4) fence device repaired: serving on node-%s after %.2fs" %
         (dst, t - tr))
    check(not c.up(src), "(4) node-%s was fenced once the device worked" %
          src)
    sc.check_after("(4) after fencing was repaired", dst)

    reader.halt.set()
    sampler.halt.set()
    reader.join(30)
    sampler.join(5)
    check(reader.refused == 0, "reader: %d gets did not log in" %
          reader.refused)
    check(sampler.both_twice == 0, "vaultd ran in two nodes at once in %d "
          "consecutive samples" % sampler.both_twice)
    print("ha: reader gets: logged in %d, raced with a rotation %d, refused "
          "%d, vaultd unavailable %d" % (reader.ok, reader.raced,
                                         reader.refused, reader.unavailable))
    print("ha: sampler: %d samples, vaultd seen in two nodes %d (in two "
          "consecutive samples %d)" % (sampler.samples, sampler.both,
                                       sampler.both_twice))
    rot = sum(sc.counts().values())
    print("ha: rotations ok in total: %d" % rot)
    # Fault to the first answer; detection (Pacemaker's log: the monitor's
    # "not running", or the peer's "state is now lost") to the first answer.
    for what, dt, dd in sc.times:
        print("ha: failover time: %-55s fault->answer %5.2fs, "
              "detection->answer %s" % (what, dt, "%5.2fs" % dd
                                        if dd is not None else "-"))
    return reader, sampler


def reap_stale():
    """The namespaces of an earlier run that was killed before its
    teardown (named vh<its pid>a/b; that pid no longer runs this test):
    their processes killed, the namespaces deleted."""
    p = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    for line in p.stdout.decode().splitlines():
        m = re.match(r"(vh(\d+)[ab])\b", line)
        if not m:
            continue
        try:
            with open("/proc/%s/cmdline" % m.group(2), "rb") as f:
                if b"test_cluster.py" in f.read():
                    continue            # another run, alive
        except OSError:
            pass
        try:
            ino = os.stat("/run/netns/" + m.group(1)).st_ino
        except OSError:
            continue
        tlog("reaping the stale namespace %s" % m.group(1))
        for pid in pids_in_ns("net:[%d]" % ino):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        subprocess.run(["ip", "netns", "del", m.group(1)])


def on_term(signum, frame):
    raise SystemExit("signal %d" % signum)    # the finally tears down


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    main()
