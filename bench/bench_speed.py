#!/usr/bin/env python3
"""bench_speed.py - rotation throughput against the server's limit (issue 18).

usage: bench_speed.py --build DIR [--accounts 1000] [--fleet 10x100]
                      [--repeat 3] [--shell 50] [--conc N] [--wrap CMD]
                      [--vaultd-b OTHER_VAULTD]
                      [--only main,fleet,shell] [--out JSON]

In ONE run, on throwaway MariaDB servers it starts itself
(tests/integration/mariadb.sh), interleaved so that every vaultd figure has
its plain-loop figure from the same minute:

- vaultd (`vaultctl rotate --all --wait`) over --accounts self-rotating
  accounts on one server's Unix socket, the DEFAULT configuration (no
  [rotation] section: concurrency 4) and escrow to two parties (`customer`,
  `vendor`, keys from `vaultctl escrow keygen`);
- `bench_raw --plain` (libmariadb alone, the issue's loop) with as many
  worker processes as vaultd's default concurrency, and with 1;
- `bench_raw` in its driver mode (vaultd's vd_driver and policy generator,
  no vault: what vaultd's own MariaDB work costs) at the same concurrency;
- the `mariadb`-client shell loop (bench_shell.sh) on a --shell sample;
- the fleet shape: 10 servers x 100 accounts, vaultd against `bench_raw
  --plain` over the same 10 sockets.

Prints every pass and the ratios; asserts nothing.  --wrap CMD runs vaultd
under CMD (e.g. "valgrind --tool=callgrind"), or, when CMD holds @PID@,
attaches CMD to it (e.g. "strace -c -f -o /tmp/x -p @PID@") for profiles; --conc N writes
[rotation] concurrency = N (not the default configuration then).  Passwords
only travel on stdin, in 0600 files, over vaultd's socket, or stay inside
the C helpers.
"""
import argparse
import json
import os
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Vault, Rpc, parallel, bin_)

DEFAULT_CONC = 4    # vaultd/config.c: c->concurrency = 4
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SERVERS = []        # env files of the servers this run started
SERVER_ENVS = []    # their contents (MDB_PID: the server's CPU per pass)


def log(msg):
    print("# " + msg, flush=True)


def start_server(i):
    envf = os.path.join(bench.WORK, "mdb%d.env" % i)
    subprocess.run(["sh", os.path.join(SRC, "tests/integration/mariadb.sh"),
                    "start", "speed%d" % i, envf], check=True,
                   stdout=subprocess.DEVNULL)
    SERVERS.append(envf)
    env = {}
    with open(envf) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    SERVER_ENVS.append(env)
    return env


def stop_servers():
    for envf in SERVERS:
        subprocess.run(["sh", os.path.join(SRC, "tests/integration/"
                                           "mariadb.sh"), "stop", "x", envf],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def root_sql(sock, stmts):
    p = subprocess.run(["mariadb", "--no-defaults", "--socket=" + sock,
                        "-uroot", "-N", "-B"], input=stmts.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("sql: " + p.stderr.decode()[:300])
    return p.stdout.decode()


class SpeedVault(bench.Vault):
    """A vault with the default [rotation] and two escrow parties."""

    def __init__(self, name, keys):
        self.keys = keys
        super().__init__(name)

    def write_conf(self, concurrency=None):
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s/data\nkey_file = %s/key\n"
                    "socket = %s\nmax_clients = 1024\n\n[access]\n"
                    "admin = root\n\n[escrow]\n" %
                    (self.dir, self.dir, self.sock))
            for party, pub in ([] if A.no_escrow else self.keys):
                f.write("%s = %s\n" % (party, pub))
            if A.conc:
                f.write("\n[rotation]\nconcurrency = %d\n" % A.conc)

    vaultd = None   # another vaultd binary (--vaultd-b), else the build's

    def start(self, *args, **kw):
        if self.vaultd is None:
            return super().start(*args, **kw)
        saved = bench.bin_
        bench.bin_ = lambda n: self.vaultd if n == "vaultd" else saved(n)
        try:
            return super().start(*args, **kw)
        finally:
            bench.bin_ = saved

    def start_wrapped(self):
        """Starts vaultd, under --wrap if given."""
        if not A.wrap:
            return self.start()
        real = self.vaultd or bench.bin_("vaultd")
        wrapper = os.path.join(self.dir, "vaultd-wrapped")
        with open(wrapper, "w") as f:
            if "@PID@" in A.wrap:
                # Attach (strace -p @PID@): vaultd gets the SIGTERM itself
                # and the tracer writes its summary when vaultd is gone.
                f.write("#!/bin/sh\n%s \"$@\" &\nP=$!\n"
                        "trap 'kill -TERM $P' TERM INT\n%s &\nW=$!\n"
                        "while kill -0 $P 2>/dev/null; do wait $P; done\n"
                        "wait $W\n" % (shlex.quote(real),
                                       A.wrap.replace("@PID@", "$P")))
            else:
                f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (
                    A.wrap, shlex.quote(real)))
        os.chmod(wrapper, 0o700)
        saved = bench.bin_
        bench.bin_ = lambda n: wrapper if n == "vaultd" else saved(n)
        try:
            return self.start()
        finally:
            bench.bin_ = saved


def add_targets(v, accounts):
    """accounts: [(user, socket, password)]; adds each as a target."""
    bench.vault_sock[0] = v.sock
    pws = {u: (s, pw) for u, s, pw in accounts}

    def add(r, u):
        s, pw = pws[u]
        return r.call("target.add", {
            "name": u, "unix_socket": s, "user": u, "password": pw,
            "account_hosts": ["localhost"]})
    res = bench.parallel(16, add, sorted(pws))
    pws.clear()
    bad = [k for k, x in res.items() if "result" not in x]
    if bad:
        raise RuntimeError("target.add failed for %d, e.g. %s: %s" %
                           (len(bad), bad[0], res[bad[0]]))


def make_accounts(prefix, socks, n):
    """n accounts prefixNNNNNN dealt over socks; returns [(u, sock, pw)]."""
    out = []
    per = {s: [] for s in socks}
    for i in range(n):
        u = "%s%06d" % (prefix, i)
        s = socks[i % len(socks)]
        pw = "Qz7#" + secrets.token_urlsafe(15)
        out.append((u, s, pw))
        per[s].append("DROP USER IF EXISTS '%s'@'localhost';"
                      "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';" %
                      (u, u, pw))
    for s, stmts in per.items():
        root_sql(s, "\n".join(stmts))
    return out


def cpu_of(pid):
    """utime + stime of a process (all its threads), in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def server_cpu():
    return sum(cpu_of(int(e["MDB_PID"])) for e in SERVER_ENVS)


CPU = {}    # side -> [(own cpu s, server cpu s, rotations)]


def vaultd_pass(v, n, side="vaultd"):
    pid = v.proc.pid if v.proc is not None and not A.wrap else 0
    c0, s0 = cpu_of(pid) if pid else 0.0, server_cpu()
    t0 = time.monotonic()
    p = v.ctl(["rotate", "--all", "--wait", "--json"])
    dt = time.monotonic() - t0
    CPU.setdefault(side, []).append(
        ((cpu_of(pid) - c0) if pid else float("nan"),
         server_cpu() - s0, n))
    failed = n
    try:
        out = json.loads(p.stdout)
        items = out.get("results", []) if isinstance(out, dict) else out
        failed = sum(1 for x in items if isinstance(x, dict) and
                     x.get("result", "ok") != "ok")
        if len(items) != n:
            failed += abs(n - len(items))
    except ValueError:
        log("  rotate --all: rc %d %r" % (p.returncode, p.stderr[:200]))
    return dt, failed


def plain_pass(socks, n, conc, prefix, mode="--plain"):
    """bench_raw --plain (libmariadb alone), or with mode "" its driver
    mode (vaultd's vd_driver and policy generator, no vault)."""
    argv = [bench.bin_("bench_raw")] + ([mode] if mode else []) + [
        "--accounts", str(n), "--concurrency", str(conc), "--prefix",
        prefix, "--json"]
    for s in socks:
        argv += ["--socket", s]
    for e in SERVER_ENVS:    # the timed part's CPU, not the set-up's
        argv += ["--cpu-pid", e["MDB_PID"]]
    p = subprocess.run(argv, stdout=subprocess.PIPE, check=True)
    j = json.loads(p.stdout)
    CPU.setdefault(("plain_c%d" if mode else "driver_c%d") % conc,
                   []).append((j["workers_cpu_s"], j["pids_cpu_s"], n))
    return j["seconds"], j["failed"]


def compare(label, v, socks, n, res, vb=None):
    """Interleaves vaultd passes with plain c=default and c=1 passes (and
    with vaultd B's passes, vb, when given)."""
    conc = A.conc or DEFAULT_CONC
    rows = {"vaultd": [], "plain_c%d" % conc: [], "plain_c1": [],
            "driver_c%d" % conc: []}
    if vb is not None:
        rows["vaultd_b"] = []
    for k in range(A.repeat):
        for side, vv in (("vaultd", v), ("vaultd_b", vb)):
            if vv is None:
                continue
            vv.start_wrapped()
            dt, f = vaultd_pass(vv, n, side)
            vv.stop()
            rows[side].append((dt, f))
            log("  %s pass %d: %s %.3f s, %.0f/s, %d failed" %
                (label, k + 1, side, dt, n / dt, f))
        for c in (conc, 1):
            dt, f = plain_pass(socks, n, c, "vp")
            rows["plain_c%d" % c].append((dt, f))
            log("  %s pass %d: plain c=%d %.3f s, %.0f/s, %d failed" %
                (label, k + 1, c, dt, n / dt, f))
        dt, f = plain_pass(socks, n, conc, "vp", mode="")
        rows["driver_c%d" % conc].append((dt, f))
        log("  %s pass %d: bench_raw driver c=%d %.3f s, %.0f/s, %d failed"
            % (label, k + 1, conc, dt, n / dt, f))
    med = {k: n / statistics.median(x[0] for x in xs)
           for k, xs in rows.items()}
    res[label] = {"accounts": n, "servers": len(socks), "concurrency": conc,
                  "per_s": med, "passes": rows,
                  "ratio_c": med["vaultd"] / med["plain_c%d" % conc],
                  "ratio_c1": med["vaultd"] / med["plain_c1"]}
    return res[label]


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--fleet", default="10x100")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shell", type=int, default=50)
    ap.add_argument("--conc", type=int, default=0)
    ap.add_argument("--wrap", default="")
    ap.add_argument("--only", default="main,fleet,shell")
    ap.add_argument("--no-escrow", action="store_true",
                    help="an experiment: no [escrow] parties (what the "
                    "sealing costs); not the issue's configuration")
    ap.add_argument("--vaultd-b", default="",
                    help="main part: also time this vaultd binary (A/B), "
                    "interleaved, on accounts of its own")
    ap.add_argument("--keep", action="store_true",
                    help="leave the vault running after the main part, "
                    "print its socket and wait for Enter (profiling)")
    ap.add_argument("--out")
    A = ap.parse_args()
    bench.A = argparse.Namespace(build=os.path.abspath(A.build))
    only = A.only.split(",")
    bench.WORK = tempfile.mkdtemp(prefix="vdspeed.")
    os.chmod(bench.WORK, 0o700)
    res = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load_before": os.getloadavg()}
    try:
        keys = []
        for party in ("customer", "vendor"):
            kf = os.path.join(bench.WORK, party + ".key")
            subprocess.run([bench.bin_("vaultctl"), "escrow", "keygen",
                            "--out", kf], check=True,
                           stdout=subprocess.DEVNULL)
            with open(kf + ".pub") as pf:       # the key id pins it
                keys.append((party, "%s.pub %s" % (kf, pf.read().split()[3])))
        nsrv, per = (int(x) for x in A.fleet.split("x"))
        srv = [start_server(0)]
        log("load %.2f %.2f %.2f" % os.getloadavg())
        if "main" in only:
            n = A.accounts
            s0 = srv[0]["MDB_SOCKET"]
            v = SpeedVault("main", keys)
            v.start()
            add_targets(v, make_accounts("vb", [s0], n))
            v.stop()
            vb = None
            if A.vaultd_b:
                vb = SpeedVault("main_b", keys)
                vb.vaultd = os.path.abspath(A.vaultd_b)
                vb.start()
                add_targets(vb, make_accounts("vc", [s0], n))
                vb.stop()
            r = compare("main", v, [s0], n, res, vb)
            if A.keep:
                v.start_wrapped()
                print("vaultd socket: %s  (Enter to go on)" % v.sock,
                      flush=True)
                sys.stdin.readline()
                v.stop()
        if "shell" in only:
            p = subprocess.run(["sh", os.path.join(SRC, "bench",
                                                   "bench_shell.sh"),
                                srv[0]["MDB_SOCKET"], str(A.shell)],
                               stdout=subprocess.PIPE, check=True)
            out = p.stdout.decode().strip()
            log(out)
            sh_s = float(out.split(": ")[2].split(" s")[0])
            res["shell"] = {"sample": A.shell, "seconds": sh_s,
                            "per_s": A.shell / sh_s}
        if "fleet" in only:
            while len(srv) < nsrv:
                srv.append(start_server(len(srv)))
            socks = [s["MDB_SOCKET"] for s in srv]
            v = SpeedVault("fleet", keys)
            v.start()
            add_targets(v, make_accounts("vf", socks, nsrv * per))
            v.stop()
            compare("fleet", v, socks, nsrv * per, res)
    finally:
        for v in bench.VAULTS:
            v.stop()
        stop_servers()
        shutil.rmtree(bench.WORK, ignore_errors=True)
    res["load_after"] = os.getloadavg()
    conc = A.conc or DEFAULT_CONC
    print("\n%-46s %s" % ("metric", "value"))
    for label in ("main", "fleet"):
        if label not in res:
            continue
        r = res[label]
        m = r["per_s"]
        what = "%d accounts on %d server%s" % (
            r["accounts"], r["servers"], "s" if r["servers"] > 1 else "")
        print("%-46s %.0f /s" % ("%s: vaultd (escrow %s, c %d)" % (
            label, "off" if A.no_escrow else "2 parties", conc),
            m["vaultd"]))
        print("%-46s %.0f /s" % ("%s: plain libmariadb c %d" % (label, conc),
                                 m["plain_c%d" % conc]))
        print("%-46s %.0f /s" % ("%s: plain libmariadb c 1" % label,
                                 m["plain_c1"]))
        print("%-46s %.0f /s   (vaultd / it: %.2f x)" % (
            "%s: bench_raw driver mode c %d" % (label, conc),
            m["driver_c%d" % conc], m["vaultd"] / m["driver_c%d" % conc]))
        print("%-46s %.2f x   (goal >= 0.6)  [%s]" % (
            "%s: vaultd / plain c %d" % (label, conc), r["ratio_c"], what))
        print("%-46s %.2f x   (goal >= 0.5)" % (
            "%s: vaultd / plain c 1" % label, r["ratio_c1"]))
        if "vaultd_b" in m:
            print("%-46s %.0f /s = %.2f x plain c %d" % (
                "%s: vaultd B (%s)" % (label, A.vaultd_b), m["vaultd_b"],
                m["vaultd_b"] / m["plain_c%d" % conc], conc))
        if "shell" in res:
            r["ratio_shell"] = m["vaultd"] / res["shell"]["per_s"]
            print("%-46s %.1f x   (goal >= 20)" % (
                "%s: vaultd / shell loop" % label, r["ratio_shell"]))
    if "shell" in res:
        print("%-46s %.1f /s (%d-account sample)" % (
            "shell loop (mariadb client)", res["shell"]["per_s"], A.shell))
    for side, xs in sorted(CPU.items()):
        own = [1000 * c / k for c, _, k in xs]
        srv_ms = [1000 * s / k for _, s, k in xs]
        print("%-46s %s ms client, %.3f ms server" % (
            "CPU per rotation: " + side,
            "%.3f" % statistics.median(own) if own[0] == own[0] else "?",
            statistics.median(srv_ms)))
    res["cpu_ms"] = {k: [(1000 * c / n_, 1000 * s / n_) for c, s, n_ in xs]
                     for k, xs in CPU.items()}
    print("%-46s %.2f / %.2f" % ("load average before / after (1 min)",
                                 res["load_before"][0],
                                 res["load_after"][0]))
    if A.out:
        with open(A.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
