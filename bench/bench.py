#!/usr/bin/env python3
"""bench.py - vaultd's benchmarks (issue 8), run by scripts/bench.sh.

usage: bench.py --build DIR --mdb-env FILE [--quick] [--out JSON]
                [--only rotate,reveal,scale,history] [--conc 2,4,8]

Prints figures and a table, writes JSON; never asserts a timing.  Needs a
throwaway MariaDB (scripts/bench.sh starts one) whose root logs in over the
Unix socket with an empty password.  Passwords travel only on stdin, in
0600 files, over vaultd's socket, or inside the C helpers.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

A = None          # parsed arguments
MDB = {}          # the server's env file
RESULTS = {}      # what results.json gets
ROWS = []         # (section, metric, value, target, met)
WORK = None
VAULTS = []       # every Vault, stopped on the way out


def log(msg):
    print("# " + msg, flush=True)


def row(section, metric, value, target="", met=None):
    ROWS.append((section, metric, value, target, met))
    print("  %-10s %-52s %-16s %s %s" % (section, metric, value, target,
          "" if met is None else ("MET" if met else "NOT MET")), flush=True)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def root_sql(stmts):
    p = subprocess.run(["mariadb", "--no-defaults", "--socket=" +
                        MDB["MDB_SOCKET"], "-uroot", "-N", "-B"],
                       input=stmts.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("sql: " + p.stderr.decode()[:300])
    return p.stdout.decode()


def bin_(name):
    for d in ("", "bench"):
        p = os.path.join(A.build, d, name)
        if os.path.exists(p):
            return p
    raise RuntimeError("no " + name + " in " + A.build)


# --- a vault and its daemon ----------------------------------------------

class Rpc:
    """One connection to vaultd's socket; one request at a time."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.id = 0

    def call(self, method, params=None):
        self.id += 1
        req = {"jsonrpc": "2.0", "id": self.id, "method": method}
        if params is not None:
            req["params"] = params
        self.s.sendall(json.dumps(req).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("vaultd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.s.close()


class Vault:
    def __init__(self, name, fill=None):
        self.dir = os.path.join(WORK, name)
        os.mkdir(self.dir, 0o700)
        self.sock = os.path.join(self.dir, "run", "vd.sock")
        self.conf = os.path.join(self.dir, "vaultd.conf")
        self.proc = None
        self.lines = []          # (monotonic time, line) from stderr
        VAULTS.append(self)
        if fill is None:
            p = subprocess.run([bin_("vaultctl"), "init", "--data-dir",
                                self.dir + "/data", "--key-file",
                                self.dir + "/key"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            if p.returncode != 0:
                raise RuntimeError("init: " + p.stderr.decode())
        else:
            self.fill_out = subprocess.run(
                [bin_("bench_fill"), "--data-dir", self.dir + "/data",
                 "--key-file", self.dir + "/key", "--socket",
                 MDB["MDB_SOCKET"]] + fill, stdout=subprocess.PIPE,
                check=True).stdout.decode()
            print(self.fill_out, end="", flush=True)

    def write_conf(self, concurrency=4):
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s/data\nkey_file = %s/key\n"
                    "socket = %s\nmax_clients = 1024\n\n[access]\n"
                    "admin = root\n\n[rotation]\nconcurrency = %d\n" %
                    (self.dir, self.dir, self.sock, concurrency))

    def start(self, concurrency=4, env=None, probe=("status", None)):
        """Starts vaultd; returns the seconds until probe (an RPC) is
        answered without error."""
        self.write_conf(concurrency)
        e = dict(os.environ)
        e.update(env or {})
        self.lines = []
        t0 = time.monotonic()
        self.proc = subprocess.Popen([bin_("vaultd"), "--config", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=e)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        while time.monotonic() - t0 < 120:
            if self.proc.poll() is not None:
                break
            try:
                r = Rpc(self.sock)
                ok = "result" in r.call(*probe)
                r.close()
                if ok:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("vaultd did not start: " +
                           "\n".join(l for _, l in self.lines[-20:]))

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append((time.monotonic(), raw.decode(errors="replace")
                               .rstrip("\n")))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        self.proc = None
        self.reader = None

    def rss_kb(self):
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out

    def ctl(self, args, stdin=b""):
        return subprocess.run([bin_("vaultctl"), "--socket", self.sock] +
                              args, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)


def parallel(n, fn, items):
    """Runs fn(rpc, item) over items on n threads, one connection each."""
    items = list(items)
    lock = threading.Lock()
    out = {}

    def worker():
        r = Rpc(vault_sock[0])
        while True:
            with lock:
                if not items:
                    break
                it = items.pop()
            out[it] = fn(r, it)
        r.close()
    ths = [threading.Thread(target=worker) for _ in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return out


vault_sock = [None]


# --- 1. rotation ----------------------------------------------------------

def has_rotate_all():
    p = subprocess.run([bin_("vaultctl"), "rotate", "--help"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return "--all" in p.stdout.decode()


def bench_rotate():
    n = A.n
    sec = RESULTS.setdefault("rotation", {"accounts": n})
    log("rotation: %d accounts vb000000.. and a vault" % n)
    pws = {}
    stmts = []
    for i in range(n):
        u = "vb%06d" % i
        pws[u] = "Qz7#" + secrets.token_urlsafe(15)
        stmts.append("DROP USER IF EXISTS '%s'@'localhost';"
                     "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';" %
                     (u, u, pws[u]))
    root_sql("\n".join(stmts))
    v = Vault("rot")
    v.start(8)
    vault_sock[0] = v.sock
    t0 = time.monotonic()

    def add(r, u):
        return r.call("target.add", {
            "name": u, "unix_socket": MDB["MDB_SOCKET"], "user": u,
            "password": pws[u], "account_hosts": ["localhost"]})
    res = parallel(16, add, sorted(pws))
    bad = [k for k, x in res.items() if "result" not in x]
    pws.clear()
    log("  %d targets added in %.2f s (%d failed)" %
        (n, time.monotonic() - t0, len(bad)))
    v.stop()
    names = ["vb%06d" % i for i in range(n)]
    use_all = has_rotate_all()
    sec["client"] = ("vaultctl rotate --all --wait" if use_all else
                     "one Python process, 256 socket connections, "
                     "rotate {wait:true} per target")
    log("  vaultd side timed with: " + sec["client"])

    runs = []

    def one_pass():
        """Rotates every target once through vaultd; (seconds, failed)."""
        t0 = time.monotonic()
        if use_all:
            p = v.ctl(["rotate", "--all", "--wait", "--json"])
            failed = 0 if p.returncode == 0 else n
            try:
                out = json.loads(p.stdout)
                items = out.get("results", out.get("targets", [])) \
                    if isinstance(out, dict) else out
                if isinstance(items, list) and items:
                    failed = sum(1 for x in items if isinstance(x, dict) and
                                 x.get("result", "ok") != "ok")
            except (ValueError, AttributeError):
                log("  --all output: %r" % p.stdout[:200])
        else:
            res = parallel(min(256, n), lambda r, t: r.call(
                "rotate", {"name": t, "wait": True}), names)
            failed = sum(1 for x in res.values() if "result" not in x)
        return time.monotonic() - t0, failed

    for c in A.conc:
        for pool in ([None, c] if c > 4 else [None]):
            env = {"UV_THREADPOOL_SIZE": str(pool)} if pool else {}
            v.start(c, env)
            passes = [one_pass() for _ in range(A.repeat)]
            v.stop()
            dt = statistics.median(x[0] for x in passes)
            failed = sum(x[1] for x in passes)
            label = "vaultd c=%d%s" % (c, " pool=%d" % pool if pool else "")
            runs.append({"side": "vaultd", "concurrency": c,
                         "threadpool": pool or 4, "seconds": dt,
                         "per_s": n / dt, "failed": failed,
                         "passes_s": [x[0] for x in passes]})
            log("  %s: median %.3f s of %s, %.1f rotations/s, %d failed" %
                (label, dt, ["%.2f" % x[0] for x in passes], n / dt,
                 failed))
        raws = []
        for _ in range(A.repeat):
            p = subprocess.run([bin_("bench_raw"), "--socket",
                                MDB["MDB_SOCKET"], "--accounts", str(n),
                                "--concurrency", str(c), "--json"],
                               stdout=subprocess.PIPE, check=True)
            raws.append(json.loads(p.stdout))
        dt = statistics.median(x["seconds"] for x in raws)
        runs.append({"side": "raw", "concurrency": c, "seconds": dt,
                     "per_s": n / dt, "failed": sum(x["failed"]
                                                    for x in raws),
                     "passes_s": [x["seconds"] for x in raws]})
        log("  raw c=%d: median %.3f s of %s, %.1f rotations/s" %
            (c, dt, ["%.2f" % x["seconds"] for x in raws], n / dt))
    m = A.shell_n
    p = subprocess.run(["sh", os.path.join(A.src, "bench", "bench_shell.sh"),
                        MDB["MDB_SOCKET"], str(m)], stdout=subprocess.PIPE,
                       check=True)
    out = p.stdout.decode()
    log("  " + out.strip())
    sh_s = float(re.search(r": ([0-9.]+) s", out).group(1))
    shell_rate = m / sh_s
    sec["shell"] = {"sample": m, "seconds": sh_s, "per_s": shell_rate,
                    "extrapolated_seconds": sh_s * n / m}
    sec["runs"] = runs
    vaultd_runs = [r for r in runs if r["side"] == "vaultd"]
    for r in runs:
        if r["side"] == "vaultd":
            raw = next(x for x in runs if x["side"] == "raw" and
                       x["concurrency"] == r["concurrency"])
            r["ratio_raw"] = r["per_s"] / raw["per_s"]
            r["ratio_shell"] = r["per_s"] / shell_rate
    for r in runs:
        tag = "%s c=%d%s" % (r["side"], r["concurrency"],
                             " pool=%d" % r["threadpool"]
                             if r.get("threadpool", 4) != 4 else "")
        row("rotate", "%s, %d accounts: rotations/s (median of %d)" %
            (tag, n, A.repeat),
            "%.0f/s (%.2f s)" % (r["per_s"], r["seconds"]))
    row("rotate", "shell loop (mariadb client), %d sample: rotations/s" % m,
        "%.1f/s" % shell_rate)
    row("rotate", "raw / shell", "%.1f x" % (
        max(x["per_s"] for x in runs if x["side"] == "raw") / shell_rate))
    for r in vaultd_runs:
        tag = "c=%d%s" % (r["concurrency"], " pool=%d" % r["threadpool"]
                          if r["threadpool"] != 4 else "")
        row("rotate", "vaultd/raw %s" % tag, "%.2f x" % r["ratio_raw"],
            ">= 0.5", r["ratio_raw"] >= 0.5)
        row("rotate", "vaultd/shell %s" % tag, "%.1f x" % r["ratio_shell"],
            ">= 15", r["ratio_shell"] >= 15)
    return v


# --- 2. reveal ------------------------------------------------------------

def walls(argv, runs, env=None, stdin=b""):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
        ts.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            raise RuntimeError("%s: %s" % (argv[:3], p.stderr.decode()[:200]))
    return ts


def bench_reveal(v):
    sec = RESULTS.setdefault("reveal", {})
    target = "vb000000"
    v.start(4)
    runs = A.reveal_runs
    vt = walls([bin_("vaultctl"), "--socket", v.sock, "get", target], runs)
    pw = v.ctl(["get", target]).stdout
    # pass: a throwaway GNUPGHOME with a key without passphrase.
    gh = os.path.join(WORK, "gnupg")
    ps = os.path.join(WORK, "pass")
    os.mkdir(gh, 0o700)
    env = dict(os.environ, GNUPGHOME=gh, PASSWORD_STORE_DIR=ps)
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback",
                    "--passphrase", "", "--quick-gen-key",
                    "vaultd-bench <bench@invalid>", "default", "default",
                    "never"], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.run(["pass", "init", "bench@invalid"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["pass", "insert", "-m", "db/" + target], input=pw,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    pw = None
    pt = walls(["pass", "show", "db/" + target], runs, env=env)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env)
    p = subprocess.run([bin_("bench_reveal"), "--socket", v.sock, "--target",
                        target, "--clients", "32", "--seconds",
                        str(A.reveal_secs), "--json"],
                       stdout=subprocess.PIPE, check=True)
    rv = json.loads(p.stdout)
    rss = v.rss_kb()
    v.stop()
    sec.update({"runs": runs, "vaultctl_ms": {"median": statistics.median(vt),
                "p99": pct(vt, 99)}, "pass_ms": {"median":
                statistics.median(pt), "p99": pct(pt, 99)},
                "concurrent": rv, "vaultd_rss_kb": rss})
    med = statistics.median(vt)
    ratio = statistics.median(pt) / med
    row("reveal", "vaultctl get: median / p99 (%d runs)" % runs,
        "%.2f / %.2f ms" % (med, pct(vt, 99)), "median <= 3 ms", med <= 3)
    row("reveal", "pass show: median / p99 (%d runs)" % runs,
        "%.2f / %.2f ms" % (statistics.median(pt), pct(pt, 99)))
    row("reveal", "pass / vaultctl (medians)", "%.1f x" % ratio, ">= 5",
        ratio >= 5)
    row("reveal", "audited reveals/s, 32 clients, %.0f s" % rv["seconds"],
        "%.0f/s (%d err)" % (rv["per_s"], rv["errors"]), ">= 5000/s",
        rv["per_s"] >= 5000)


# --- 3. scale -------------------------------------------------------------

def bench_scale():
    n, due, span = A.scale_n, A.scale_due, A.due_span
    sec = RESULTS.setdefault("scale", {"targets": n, "due": due,
                                       "due_span_s": span})
    log("scale: filling a vault with %d targets (%d real, due)" % (n, due))
    t0 = time.monotonic()
    v = Vault("scale", ["--targets", str(n), "--due", str(due), "--due-in",
                        str(A.due_in), "--due-span", str(span)])
    sec["fill_seconds"] = time.monotonic() - t0
    m = re.search(r"due_start=(\d+)", v.fill_out)
    due_start = int(m.group(1))
    # Ready: vaultd answers a request that needs the unsealed store, its
    # scheduler loaded (`vaultctl status` is tried separately below: its
    # answer lists every target).
    ready = v.start(4, probe=("history", {"name": "t000000", "limit": 1}))
    rss0 = v.rss_kb()
    log("  ready in %.3f s, %s" % (ready, rss0))
    # Lateness: from each target's next_due (whole seconds, wall clock) to
    # the moment its "rotated to version" line reaches us (ms resolution;
    # includes the rotation itself, so an upper bound of start lateness).
    mono_off = time.time() - time.monotonic()
    deadline = due_start + span + A.late_wait
    pat = re.compile(r"(t\d{6}): rotated to version")
    done = {}
    while time.time() < deadline:
        for ts, line in list(v.lines):
            mm = pat.search(line)
            if mm and mm.group(1) not in done:
                done[mm.group(1)] = ts + mono_off
        if len(done) >= due:
            break
        time.sleep(0.5)
    rss1 = v.rss_kb()
    t0 = time.monotonic()
    p = v.ctl(["status", "--json"])
    st_s = time.monotonic() - t0
    st_err = p.stderr.decode().strip()
    rss2 = v.rss_kb()
    hist = {}
    r = Rpc(v.sock)
    for i in range(0, due, max(1, due // 50)):
        name = "t%06d" % i
        e = r.call("history", {"name": name, "limit": 1})["result"]["entries"]
        hist[name] = e[0] if e else None
    r.close()
    v.stop()
    late = []
    for i in range(due):
        name = "t%06d" % i
        d = due_start + i * span // due
        if name in done:
            late.append((done[name] - d) * 1000)
    missing = due - len(done)
    sec.update({"ready_seconds": ready, "rss_kb_ready": rss0,
                "rss_kb_after_wave": rss1, "rotated": len(done),
                "vaultctl_status": {"rc": p.returncode, "seconds": st_s,
                                    "stderr": st_err, "rss_kb_after": rss2},
                "not_rotated_within_s": (missing, span + A.late_wait),
                "lateness_ms": {"p50": pct(late, 50), "p99": pct(late, 99),
                                "max": max(late) if late else None},
                "history_sample": hist})
    row("scale", "%d targets: start to ready (first RPC answered)" % n,
        "%.3f s" % ready, "<= 2 s", ready <= 2)
    row("scale", "  vaultctl status --json (lists every target)",
        "rc %d in %.2f s%s" % (p.returncode, st_s, (": " + st_err[:40])
                               if p.returncode else ""),
        "answers", p.returncode == 0)
    row("scale", "VmRSS at ready / peak (HWM) after the wave",
        "%.1f / %.1f MB" % (rss0["VmRSS"] / 1024, rss1["VmHWM"] / 1024),
        "<= 100 MB", max(rss0["VmRSS"], rss1["VmHWM"]) <= 100 * 1024)
    row("scale", "  of it at ready: RssAnon / RssFile (LMDB map)",
        "%.1f / %.1f MB" % (rss0.get("RssAnon", 0) / 1024,
                            rss0.get("RssFile", 0) / 1024))
    row("scale", "  VmHWM after that status call", "%.1f MB" %
        (rss2["VmHWM"] / 1024))
    p99 = pct(late, 99) if missing == 0 else float("inf")
    row("scale", "%d due over %d s: lateness p50 / p99 (log, ms res.)" %
        (due, span), "%.0f / %s ms%s" % (
            pct(late, 50), "%.0f" % p99 if missing == 0 else ">%d000" %
            (span + A.late_wait), "" if missing == 0 else
            " (%d late)" % missing), "p99 <= 100 ms", p99 <= 100)


# --- 4. history -----------------------------------------------------------

def bench_history():
    h = A.hist_n
    sec = RESULTS.setdefault("history", {"entries": h})
    log("history: a vault with %d history entries on t000000" % h)
    v = Vault("hist", ["--targets", "1", "--history", str(h)])
    v.start(4)
    argv = [bin_("vaultctl"), "--socket", v.sock, "history", "t000000",
            "--limit", "20"]
    walls(argv, 5)
    lt = walls(argv, 100)
    r = Rpc(v.sock)
    rpc = []
    for _ in range(200):
        t0 = time.perf_counter()
        r.call("history", {"name": "t000000", "limit": 20})
        rpc.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    p = v.ctl(["history", "t000000", "--limit", "10000", "--json"])
    one = time.perf_counter() - t0
    nj = 0
    if p.returncode == 0:
        j = json.loads(p.stdout)
        nj = len(j["entries"] if isinstance(j, dict) else j)
    # The whole history, page by page (10000 a call, "before").
    t0 = time.perf_counter()
    total, before = 0, 0
    while True:
        prm = {"name": "t000000", "limit": 10000}
        if before:
            prm["before"] = before
        e = r.call("history", prm)["result"]["entries"]
        if not e:
            break
        total += len(e)
        before = e[-1]["seq"]
        if before <= 1:
            break
    full = time.perf_counter() - t0
    r.close()
    v.stop()
    med = statistics.median(lt)
    sec.update({"vaultctl_limit20_ms": {"median": med, "p99": pct(lt, 99)},
                "rpc_limit20_ms": {"median": statistics.median(rpc),
                                   "p99": pct(rpc, 99)},
                "vaultctl_json_10000": {"entries": nj, "seconds": one},
                "full_walk": {"entries": total, "seconds": full}})
    row("history", "vaultctl history --limit 20: median / p99",
        "%.2f / %.2f ms" % (med, pct(lt, 99)), "<= 10 ms", med <= 10)
    row("history", "  same over the socket (no process start)",
        "%.3f / %.3f ms" % (statistics.median(rpc), pct(rpc, 99)))
    row("history", "vaultctl history --limit 10000 --json",
        "%.0f entries/s" % (nj / one if one else 0))
    row("history", "full listing, %d entries, 10000 a page" % total,
        "%.0f entries/s (%.1f s)" % (total / full, full))


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    disk = subprocess.run(["sh", "-c", "df -PT %s | tail -1 | awk '{print "
                           "$1, $2}'; lsblk -dno NAME,ROTA,MODEL "
                           "2>/dev/null | head -3" % WORK],
                          stdout=subprocess.PIPE).stdout.decode()
    mem = open("/proc/meminfo").readline().split()[1]
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_kb": int(mem),
            "disk": " ".join(disk.split()), "kernel": os.uname().release}


def main():
    global A, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), ".."))
    ap.add_argument("--mdb-env", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--only", default="rotate,reveal,scale,history")
    ap.add_argument("--conc", default="2,4,8")
    ap.add_argument("--workdir", default=None,
                    help="where the vaults live (default: $TMPDIR or /tmp)")
    ap.add_argument("--due-span", type=int, default=0,
                    help="seconds over which the due targets fall due "
                    "(default: 10 quick, 60 full)")
    A = ap.parse_args()
    A.conc = [int(x) for x in A.conc.split(",")]
    q = A.quick
    A.n = 100 if q else 1000
    A.repeat = 3
    A.shell_n = 50 if q else 100
    A.reveal_runs = 50 if q else 200
    A.reveal_secs = 2 if q else 5
    A.scale_n = 10000 if q else 100000
    A.scale_due = 100 if q else 1000
    A.due_span = A.due_span or (10 if q else 60)
    A.due_in = 8
    A.late_wait = 60 if q else 300
    A.hist_n = 100000 if q else 1000000
    with open(A.mdb_env) as f:
        for line in f:
            if "=" in line:
                k, val = line.rstrip("\n").split("=", 1)
                MDB[k] = val
    # --workdir /dev/shm: an experiment only (fsync costs nothing on tmpfs,
    # so it shows what the durable commits cost); not the benchmark.
    WORK = tempfile.mkdtemp(prefix="vdbench.", dir=A.workdir)
    os.chmod(WORK, 0o700)
    only = A.only.split(",")
    if "reveal" in only and "rotate" not in only:
        sys.exit("bench.py: the reveal part uses the rotate part's vault: "
                 "--only rotate,reveal")
    RESULTS["mode"] = "quick" if q else "full"
    RESULTS["workdir"] = WORK
    RESULTS["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS["machine"] = machine()
    log("machine: %s" % RESULTS["machine"])
    try:
        v = None
        if "rotate" in only or "reveal" in only:
            v = bench_rotate() if "rotate" in only else None
        if "reveal" in only and v is not None:
            bench_reveal(v)
        if "scale" in only:
            bench_scale()
        if "history" in only:
            bench_history()
    finally:
        for v in VAULTS:
            v.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    print("\n%-8s %-56s %-24s %-16s %s" % ("bench", "metric", "value",
                                            "target", ""))
    for s, m, val, t, met in ROWS:
        print("%-8s %-56s %-24s %-16s %s" % (s, m, val, t, "" if met is None
              else ("met" if met else "NOT MET")))
    RESULTS["table"] = [{"bench": s, "metric": m, "value": val,
                         "target": t, "met": met}
                        for s, m, val, t, met in ROWS]
    if A.out:
        os.makedirs(os.path.dirname(os.path.abspath(A.out)), exist_ok=True)
        with open(A.out, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
        print("\nJSON: " + A.out)


if __name__ == "__main__":
    main()
