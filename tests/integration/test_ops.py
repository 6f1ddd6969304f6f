#!/usr/bin/env python3
"""test_ops.py - the operations side of vaultd and vaultctl (issue 9)
against a real MariaDB server of their own (the "ops" fixture):

  checkconf  vaultd --check-config: ok, and each kind of refusal
  notify     sd_notify messages on a NOTIFY_SOCKET of the test's own:
             READY/STATUS, RELOADING/READY on SIGHUP, STOPPING, a failed
             start-up's STATUS
  monitor    vaultctl status --check in scenarios that cause each exit
             code 0..3, and status --prometheus checked by a parser of
             the text exposition format
  all        vaultctl rotate --all [--wait] [--json] over several real
             accounts: in a pipe, on a terminal (progress line), with a
             failing target, the raw rotate.progress notifications, audit
  setpw      vaultctl target set-password after an out-of-band change
             (drift): refusals (busy, unknown, operator, wrong password,
             one host differing) store nothing; success makes the
             password current, audited, replaced after the grace

usage: test_ops.py VAULTD VAULTCTL [SCENARIO...]
Needs VD_TEST_MDB_ENV (the fixture's env file).  Standard library only;
passwords travel on stdin or in 0600 option files, never in argv.
"""
import json
import os
import pty
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest  # noqa: E402
from vdtest import (Env, check, finish, log, q,  # noqa: E402
                    run_scenarios)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
# A vaultd here notifies only the NOTIFY_SOCKET a scenario gives it.
os.environ.pop("NOTIFY_SOCKET", None)
E = Env(VAULTD, VAULTCTL, "vdops.")
WORK, MDB = E.work, E.mdb
root_sql = E.sql        # SQL as the fixture's root (no password), on stdin
login = E.login         # True when user@localhost logs in with pw


def new_pw():
    return "Ops#" + secrets.token_hex(8) + "'\\;"


def make_user(user, pw):
    """(Re)creates user@localhost with pw (sent as its hash)."""
    E.make_user(user, pw, ["localhost"])


# --- one vault + daemon ---------------------------------------------------

class Vault(vdtest.Vault):
    """vdtest's vault and vaultd, made this test's way: [rotation] holds
    only rotation's lines, and with passphrase it is a passphrase vault
    (sealed when vaultd starts) instead of a key-file one."""

    def __init__(self, name, rotation="", passphrase=None):
        self.passphrase = passphrase
        super().__init__(E, name, rotation)

    def create(self, rotation, extra):
        keyline = "" if self.passphrase else "key_file = %s\n" % self.key
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s\n%ssocket = %s\n\n"
                    "[access]\nadmin = root\n\n[rotation]\n%s\n" %
                    (self.data, keyline, self.sock, rotation))
        args = ["init", "--data-dir", self.data]
        if self.passphrase:
            args += ["--passphrase", "--kdf-cost", "interactive"]
        else:
            args += ["--key-file", self.key]
        rc, _, err = self.run_ctl(args, (self.passphrase or "") + "\n")
        if rc != 0:
            raise RuntimeError("init: " + err)

    def target_state(self, name):
        return self.target_status(name).get("state")


# --- a parser of the Prometheus text exposition format (0.0.4) -------------

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RE = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*,?)?\})? (\S+)(?: (-?\d+))?$"
                       % (NAME_RE, LABEL_RE, LABEL_RE))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME_RE)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|"
                     r"untyped)$" % NAME_RE)


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else
                  m.group(1), v)


def parse_prom(text):
    """Validates every line; returns ({(name, frozenset(labels)): value},
    {name: type}, [errors])."""
    samples, types, errors = {}, {}, []
    helps, done, current = set(), set(), None
    if not text.endswith("\n"):
        errors.append("output does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            errors.append("line %d: empty line" % n)
            continue
        m = HELP_RE.match(line)
        if m:
            if m.group(1) in helps:
                errors.append("line %d: second HELP for %s" % (n, m.group(1)))
            helps.add(m.group(1))
            continue
        m = TYPE_RE.match(line)
        if m:
            name = m.group(1)
            if name in types:
                errors.append("line %d: second TYPE for %s" % (n, name))
            if name in done or name == current:
                errors.append("line %d: TYPE after samples of %s" % (n, name))
            types[name] = m.group(2)
            continue
        if line.startswith("#"):
            continue        # a comment
        m = SAMPLE_RE.match(line)
        if not m:
            errors.append("line %d: not a sample: %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2), m.group(3)
        fam = name
        if name not in types:
            for suffix in ("_total", "_sum", "_count", "_bucket"):
                if name.endswith(suffix) and name[:-len(suffix)] in types:
                    fam = name[:-len(suffix)]
        if fam not in types:
            errors.append("line %d: sample of %s without a TYPE" % (n, name))
        if fam != current:
            if fam in done:
                errors.append("line %d: samples of %s not grouped" % (n, fam))
            if current is not None:
                done.add(current)
            current = fam
        try:
            val = float(value)
        except ValueError:
            errors.append("line %d: bad value %r" % (n, value))
            continue
        lab = {}
        for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                              labels or ""):
            if lm.group(1) in lab:
                errors.append("line %d: label %s twice" % (n, lm.group(1)))
            lab[lm.group(1)] = unescape(lm.group(2))
        key = (name, frozenset(lab.items()))
        if key in samples:
            errors.append("line %d: duplicate sample %s%r" % (n, name, lab))
        if types.get(fam) == "counter" and val < 0:
            errors.append("line %d: negative counter %s" % (n, name))
        samples[key] = val
    for name in types:
        if name not in helps:
            errors.append("no HELP for %s" % name)
    return samples, types, errors


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def prometheus(v):
    rc, out, err = v.ctl(["status", "--prometheus"])
    samples, types, errors = parse_prom(out)
    check(not errors, "prometheus output parses: %s\n%s" % (errors, out))
    return rc, samples, types, err


def parser_selftest():
    """The parser refuses what it must (else its approval proves nothing)."""
    good = ("# HELP a_total x\n# TYPE a_total counter\n"
            'a_total{t="q\\"\\\\\\n"} 3\n')
    s, _, e = parse_prom(good)
    check(not e and metric(s, "a_total", t='q"\\\n') == 3,
          "parser reads escaped labels: %r %r" % (s, e))
    for bad in ("a 1\n",                                    # no TYPE
                "# TYPE a gauge\na{t=\"x} 1\n",             # bad label
                "# TYPE a gauge\n# HELP a h\na 1\na 2\n",   # duplicate
                "# TYPE a gauge\n# HELP a h\na one\n",      # bad value
                "# TYPE a gauge\n# HELP a h\n# TYPE b gauge\n# HELP b h\n"
                "a 1\nb 1\na{x=\"1\"} 2\n",                  # not grouped
                "# TYPE a gauge\na 1\n"):                   # no HELP
        _, _, e = parse_prom(bad)
        check(e, "parser refuses %r" % bad)


def check_status(v, want, pattern):
    rc, out, err = v.ctl(["status", "--check"])
    check(rc == want and re.match(pattern, out) and out.count("\n") == 1
          and err == "", "status --check: want %d %r, got %d %r %r" %
          (want, pattern, rc, out, err))
    return out


# --- scenarios --------------------------------------------------------------

def sc_checkconf():
    d = os.path.join(WORK, "cc")
    os.mkdir(d, 0o700)
    key = os.path.join(d, "key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    data = os.path.join(d, "nodata")
    sock = os.path.join(d, "run", "v.sock")

    def conf(body, name="v.conf"):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(body)
        return path

    base = ("[vault]\ndata_dir = %s\nkey_file = %s\nsocket = %s\n"
            "[access]\nadmin = root\n[policy bank]\nlength = 24\n" %
            (data, key, sock))

    def run(path, args=None):
        p = subprocess.run([VAULTD] + (args or ["--check-config", path]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    good = conf(base)
    rc, out, err = run(good)
    check(rc == 0 and out == good + ": ok\n" and err == "",
          "good config: %d %r %r" % (rc, out, err))
    check(not os.path.exists(data) and not os.path.exists(sock) and
          not os.path.exists(os.path.dirname(sock)),
          "--check-config opens no vault and binds no socket")
    # An unknown key: refused with file:line.
    bad = conf(base + "[rotation]\nconcurency = 2\n", "typo.conf")
    rc, out, err = run(bad)
    check(rc == 1 and out == "" and re.search(re.escape(bad) + r":10: .*concurency", err),
          "unknown key: file:line: %d %r %r" % (rc, out, err))
    # A policy vaultd would refuse at start-up.
    bad = conf(base + "min_upper = 30\n", "policy.conf")
    rc, out, err = run(bad)
    check(rc == 1 and err.startswith("vaultd: " + bad + ": ") and
          "policy bank" in err and err.count(bad) == 1,
          "impossible policy refused, naming the file: %d %r" % (rc, err))
    # The key file: permissions, then size.
    os.chmod(key, 0o640)
    rc, out, err = run(good)
    check(rc == 1 and "key_file" in err and "0640" in err,
          "key file mode refused: %d %r" % (rc, err))
    os.chmod(key, 0o600)
    with open(key, "ab") as f:
        f.write(b"x")
    rc, out, err = run(good)
    check(rc == 1 and "33 bytes" in err, "key file size refused: %d %r" %
          (rc, err))
    os.truncate(key, 32)
    rc, out, err = run(conf(base.replace(key, key + ".missing"), "nokey.conf"))
    check(rc == 1 and "key_file" in err, "missing key file: %d %r" % (rc, err))
    # An escrow party whose public key file is missing.
    bad = conf(base + "[escrow]\nmode = any\n"
               "customer = %s/none.pub 0123456789abcdef\n" % d,
               "escrow.conf")
    rc, out, err = run(bad)
    check(rc == 1 and "none.pub" in err, "escrow key refused: %d %r" %
          (rc, err))
    rc, out, err = run(good)
    check(rc == 0, "good again: %d %r" % (rc, err))
    rc, out, err = run(None, ["--check-config"])
    check(rc == 2, "--check-config without FILE is a usage error: %d" % rc)


class NotifySock:
    """A NOTIFY_SOCKET of our own: collects what vaultd sends."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []

    def wait_for(self, pred, timeout=60):
        """Reads messages until pred(msg) holds for one; returns it."""
        end = time.time() + timeout
        for m in self.msgs:
            if pred(m):
                self.msgs.remove(m)
                return m
        while time.time() < end:
            r, _, _ = select.select([self.s], [], [], 0.5)
            if r:
                m = self.s.recv(4096).decode()
                if pred(m):
                    return m
                self.msgs.append(m)
        return None

    def close(self):
        self.s.close()
        os.unlink(self.path)


def fields(m):
    return dict(l.split("=", 1) for l in (m or "").split("\n") if "=" in l)


def sc_notify():
    v = Vault("notify")
    ns = NotifySock(os.path.join(v.dir, "notify.sock"))
    v.start({"NOTIFY_SOCKET": ns.path})
    m = ns.wait_for(lambda m: "READY=1" in m)
    check(m is not None and "unlocked" in fields(m).get("STATUS", ""),
          "READY=1 with STATUS unlocked: %r" % m)
    v.proc.send_signal(signal.SIGHUP)
    m = ns.wait_for(lambda m: "RELOADING=1" in m)
    check(m is not None and re.match(r"^\d+$", fields(m).get(
          "MONOTONIC_USEC", "")), "RELOADING=1 with MONOTONIC_USEC: %r" % m)
    check(ns.wait_for(lambda m: "READY=1" in m) is not None,
          "READY=1 after the reload")
    # A refused reload says so in STATUS.
    with open(v.conf, "a") as f:
        f.write("nosuchkey = 1\n")
    v.proc.send_signal(signal.SIGHUP)
    m = ns.wait_for(lambda m: "STATUS=" in m and "refused" in m)
    check(m is not None, "STATUS after a refused reload: %r" % m)
    check(v.stop() == 0, "vaultd stops cleanly")
    check(ns.wait_for(lambda m: "STOPPING=1" in m) is not None,
          "STOPPING=1 on SIGTERM")
    ns.close()

    # A sealed vault is ready too, and says it is sealed.
    s = Vault("notify-sealed", passphrase="correct horse " + secrets.token_hex(4))
    ns = NotifySock(os.path.join(s.dir, "notify.sock"))
    s.start({"NOTIFY_SOCKET": ns.path})
    m = ns.wait_for(lambda m: "READY=1" in m)
    check(m is not None and "sealed" in fields(m).get("STATUS", ""),
          "READY=1 with STATUS sealed: %r" % m)
    s.stop()
    # A start-up that fails (its vault is gone): STATUS says why, no READY.
    os.rename(os.path.join(s.dir, "data"), os.path.join(s.dir, "data.moved"))
    e = dict(os.environ, NOTIFY_SOCKET=ns.path)
    p = subprocess.run([VAULTD, "--config", s.conf], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    m = ns.wait_for(lambda m: "STATUS=" in m, timeout=5)
    check(p.returncode == 1 and m is not None and
          "start-up failed" in m and not any("READY=1" in x for x in ns.msgs),
          "failed start-up: rc %d, %r" % (p.returncode, m))
    ns.close()


def sc_monitor():
    v = Vault("monitor", rotation="retry_min = 1s\nretry_max = 1h\n"
              "retry_limit = 1000\nconcurrency = 2")
    pws = {u: new_pw() for u in ("vmok", "vmlock", "vmdrift")}
    for u, pw in pws.items():
        make_user(u, pw)
    v.start()
    v.add("okdb", "vmok", pws["vmok"])
    rc, out, err = v.ctl(["rotate", "okdb", "--wait"])
    check(rc == 0, "rotate okdb: %d %s" % (rc, err))
    check(v.get("okdb") is not None, "reveal okdb")
    check_status(v, 0, r"^VAULTD OK - vault unsealed, 1 targets ok$")
    rc, s, types, err = prometheus(v)
    check(rc == 0 and err == "", "status --prometheus: %d %r" % (rc, err))
    for name, want in (("vaultd_up", 1), ("vaultd_sealed", 0),
                       ("vaultd_targets", 1), ("vaultd_reveals_total", 1)):
        check(metric(s, name) == want, "%s = %r" % (name, metric(s, name)))
    check(metric(s, "vaultd_target_current_version", target="okdb") == 2,
          "current_version okdb")
    check(metric(s, "vaultd_target_rotations_total", target="okdb") == 1 and
          metric(s, "vaultd_target_rotation_failures_total",
                 target="okdb") == 0 and
          metric(s, "vaultd_target_drift_total", target="okdb") == 0 and
          metric(s, "vaultd_target_reveals_total", target="okdb") == 1,
          "okdb counters: %r" % {k: x for k, x in s.items() if
                                 ("target", "okdb") in k[1]})
    check(metric(s, "vaultd_target_state", target="okdb", state="ok") == 1
          and metric(s, "vaultd_target_state", target="okdb",
                     state="drift") == 0, "okdb state ok")
    since = metric(s, "vaultd_target_seconds_since_last_rotation",
                   target="okdb")
    check(since is not None and 0 <= since < 3600, "seconds since: %r" % since)
    check(types.get("vaultd_target_rotations_total") == "counter" and
          types.get("vaultd_target_state") == "gauge", "types: %r" % types)

    # WARNING: a target whose rotation keeps failing (its account locked:
    # the server refuses every login, the engine retries with backoff).
    v.add("lockdb", "vmlock", pws["vmlock"])
    root_sql("ALTER USER 'vmlock'@'localhost' ACCOUNT LOCK;")
    rc, out, err = v.ctl(["rotate", "lockdb", "--wait"])
    check(rc != 0, "rotation of a locked account fails: %d" % rc)
    check(v.target_state("lockdb") == "retrying",
          "lockdb retrying: %r" % v.target_state("lockdb"))
    check_status(v, 1, r"^VAULTD WARNING - 1 of 2 targets: lockdb retrying$")
    rc, s, _, _ = prometheus(v)
    check(metric(s, "vaultd_target_state", target="lockdb",
                 state="retrying") == 1, "lockdb state retrying")
    check(metric(s, "vaultd_target_rotation_failures_total",
                 target="lockdb") >= 1 and
          metric(s, "vaultd_target_retries", target="lockdb") >= 1,
          "lockdb failures and retries counted")
    check(metric(s, "vaultd_target_current_version", target="lockdb") == 1,
          "lockdb still at version 1")

    # CRITICAL: an out-of-band ALTER USER on a self-rotated target, then a
    # rotation finds the vault's password refused: drift.
    v.add("driftdb", "vmdrift", pws["vmdrift"])
    root_sql("ALTER USER 'vmdrift'@'localhost' IDENTIFIED BY %s;" %
             q(new_pw()))
    rc, out, err = v.ctl(["rotate", "driftdb", "--wait"])
    check(rc != 0 and v.target_state("driftdb") == "drift",
          "driftdb in drift: %d %r" % (rc, v.target_state("driftdb")))
    check_status(v, 2, r"^VAULTD CRITICAL - 2 of 3 targets: driftdb drift; "
                 r"lockdb retrying$")
    rc, s, _, _ = prometheus(v)
    check(metric(s, "vaultd_target_drift_total", target="driftdb") == 1 and
          metric(s, "vaultd_target_state", target="driftdb",
                 state="drift") == 1, "driftdb drift counted")

    # Repair both; back to OK.
    root_sql("ALTER USER 'vmlock'@'localhost' ACCOUNT UNLOCK;"
             "ALTER USER 'vmdrift'@'localhost' IDENTIFIED BY %s;" %
             q(pws["vmdrift"]))
    for t in ("lockdb", "driftdb"):
        rc, out, err = v.ctl(["rotate", t, "--wait"])
        check(rc == 0, "rotate %s after the repair: %d %s" % (t, rc, err))
    check_status(v, 0, r"^VAULTD OK - vault unsealed, 3 targets ok$")
    rc, s, _, _ = prometheus(v)
    check(metric(s, "vaultd_target_drift_total", target="driftdb") == 1 and
          metric(s, "vaultd_target_rotations_total", target="driftdb") == 1,
          "driftdb: one drift, one rotation")
    # Usage errors of a plugin are UNKNOWN.
    rc, out, err = v.ctl(["status", "--check", "--grace", "soon"])
    check(rc == 3, "--check with a bad --grace: %d" % rc)
    rc, out, err = v.ctl(["status", "--check", "--prometheus"])
    check(rc == 3, "--check with --prometheus: %d" % rc)

    # UNKNOWN: vaultd is not running.
    check(v.stop() == 0, "vaultd stops")
    rc, out, err = v.ctl(["status", "--check"])
    check(rc == 3 and out.startswith("VAULTD UNKNOWN - ") and
          out.count("\n") == 1, "daemon down: %d %r" % (rc, out))
    rc, s, _, err = prometheus(v)
    check(rc == 0 and metric(s, "vaultd_up") == 0 and err != "",
          "daemon down: vaultd_up 0 (%d %r)" % (rc, err))

    # CRITICAL: a passphrase vault not yet unsealed.
    pp = "ops passphrase " + secrets.token_hex(6)
    sv = Vault("monitor-sealed", passphrase=pp)
    sv.start()
    check_status(sv, 2, r"^VAULTD CRITICAL - vault \S+ is sealed")
    rc, s, _, _ = prometheus(sv)
    check(metric(s, "vaultd_up") == 1 and metric(s, "vaultd_sealed") == 1 and
          metric(s, "vaultd_targets") == 0, "sealed in the metrics")
    rc, out, err = sv.ctl(["unseal"], pp + "\n")
    check(rc == 0, "unseal: %d %s" % (rc, err))
    check_status(sv, 0, r"^VAULTD OK - vault unsealed, 0 targets ok$")
    sv.stop()


def rpc_lines(sock, method, params):
    """Sends one request; returns every line up to the answer (parsed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(300)
    s.connect(sock)
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": 7, "method": method,
                          "params": params}).encode() + b"\n")
    buf, lines = b"", []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            lines.append(json.loads(line))
            if "id" in lines[-1]:
                s.close()
                return lines
    s.close()
    return lines


def run_on_pty(args):
    """Runs args with stderr on a pseudo-terminal, stdout on a pipe;
    returns (rc, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    term = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:         # EIO: the child closed the terminal
            break
        if not chunk:
            break
        term += chunk
    out = p.stdout.read()
    rc = p.wait(timeout=300)
    os.close(master)
    return rc, out.decode(), term.decode(errors="replace")


def sc_all():
    n = 6
    users = ["vall%d" % i for i in range(n)]
    pws = {u: new_pw() for u in users}
    for u in users:
        make_user(u, pws[u])
    v = Vault("all", rotation="concurrency = 2\nretry_min = 1h")
    v.start()
    for u in users:
        v.add(u, u, pws[u])

    # In a pipe: the summary only.
    rc, out, err = v.ctl(["rotate", "--all", "--wait"])
    check(rc == 0 and out == "rotated %d of %d targets, 0 failed\n" % (n, n)
          and err == "", "rotate --all --wait in a pipe: %d %r %r" %
          (rc, out, err))
    for u in users:
        h = v.history(u)
        pw = v.get(u)
        check(h and h[0]["version"] == 2 and h[0]["trigger"] == "manual" and
              h[0]["result"] == "ok", "%s rotated: %r" % (u, h[:1]))
        check(pw is not None and pw != pws[u] and login(u, pw) and
              not login(u, pws[u]), "%s: the new password logs in, the "
              "old one not" % u)

    # --json: one result per target.
    rc, out, err = v.ctl(["rotate", "--all", "--wait", "--json"])
    res = json.loads(out) if rc == 0 else {}
    check(res.get("total") == n and res.get("ok") == n and
          res.get("failed") == 0 and
          sorted(r["name"] for r in res.get("results", [])) == users and
          all(r["result"] == "ok" and r["version"] == 3 and
              r["error"] is None for r in res.get("results", [])),
          "rotate --all --wait --json: %d %r" % (rc, res))

    # On a terminal: a progress line on stderr, the summary on stdout.
    rc, out, term = run_on_pty([VAULTCTL, "--socket", v.sock, "rotate",
                                "--all", "--wait"])
    check(rc == 0 and out == "rotated %d of %d targets, 0 failed\n" % (n, n),
          "on a terminal: %d %r" % (rc, out))
    check("rotated %d/%d, 0 failed" % (n, n) in term and "\r" in term,
          "progress line on the terminal: %r" % term)

    # The protocol: rotate.progress notifications, then the answer.
    lines = rpc_lines(v.sock, "rotate", {"all": True, "wait": True,
                                         "progress": True})
    notes, ans = lines[:-1], lines[-1] if lines else {}
    check(ans.get("id") == 7 and ans.get("result", {}).get("ok") == n,
          "final answer: %r" % ans)
    check([x.get("method") for x in notes] == ["rotate.progress"] * n and
          [x["params"]["ended"] for x in notes] == list(range(1, n + 1)) and
          all("id" not in x and x["params"]["total"] == n for x in notes),
          "one progress notification per ended rotation: %r" % notes)
    lines = rpc_lines(v.sock, "rotate", {"all": True, "wait": True})
    check(len(lines) == 1 and lines[0].get("result", {}).get("ok") == n,
          "no notifications unless asked for: %r" % lines[:2])
    lines = rpc_lines(v.sock, "rotate", {"all": True, "name": "vall0"})
    check(lines and lines[-1].get("error", {}).get("code") == -32602,
          "name and all together refused: %r" % lines)

    # One target fails: exit 1, the summary names it.
    root_sql("ALTER USER 'vall3'@'localhost' ACCOUNT LOCK;")
    rc, out, err = v.ctl(["rotate", "--all", "--wait"])
    check(rc == 1 and re.search(r"^vall3: \w+: .+$", out, re.M) and
          out.endswith("rotated %d of %d targets, 1 failed\n" % (n - 1, n)),
          "a failing target: %d %r %r" % (rc, out, err))
    root_sql("ALTER USER 'vall3'@'localhost' ACCOUNT UNLOCK;")
    check(login("vall3", v.get("vall3")), "vall3 keeps a working password")

    # Without --wait: requested, answered at once.
    rc, out, err = v.ctl(["rotate", "--all"])
    check(rc == 0 and out == "rotation of %d targets requested, 0 refused\n"
          % n, "rotate --all: %d %r %r" % (rc, out, err))
    rc, out, err = v.ctl(["rotate", "--all", "vall0"])
    check(rc == 2, "--all with a name is a usage error: %d" % rc)

    # Audit: one entry per batch, naming the count.
    rc, out, err = v.ctl(["audit", "list", "--limit", "100", "--json"])
    entries = json.loads(out) if rc == 0 else []
    batch = [e for e in entries if e.get("event") == "rotate" and
             e.get("reason") == "all targets (%d)" % n]
    check(len(batch) == 7 and all(e["result"] == "requested" and
                                  "target" not in e for e in batch),
          "audit: one entry per rotate --all: %d" % len(batch))
    check(v.stop() == 0, "vaultd stops cleanly after rotate --all")
    # Every password the vault holds logs in.
    v.start()
    for u in users:
        pw = v.get(u)
        check(pw is not None and login(u, pw), "%s logs in at the end" % u)
    v.stop()


# --- target set-password ----------------------------------------------------

class SetpwVault(Vault):
    """A key-file vault whose socket other Unix users reach: its directory
    outside WORK (0700), group sockgrp; access: extra [access] lines."""

    def __init__(self, name, sockgrp, access, rotation=""):
        self.sockdir = tempfile.mkdtemp(prefix="vdops-sock.", dir="/tmp")
        os.chmod(self.sockdir, 0o711)   # others reach run/ (0750, group)
        self.sockgrp, self.access = sockgrp, access
        super().__init__(name, rotation)

    def create(self, rotation, extra):
        self.sock = os.path.join(self.sockdir, "run", "vaultd.sock")
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s\nkey_file = %s\nsocket = %s\n"
                    "socket_group = %s\n\n[access]\nadmin = root\n%s\n\n"
                    "[rotation]\n%s\n" % (self.data, self.key, self.sock,
                                          self.sockgrp, self.access,
                                          rotation))
        rc, _, err = self.run_ctl(["init", "--data-dir", self.data,
                                   "--key-file", self.key])
        if rc != 0:
            raise RuntimeError("init: " + err)


def set_hash(user, host, pw):
    """An out-of-band password change, as a DBA would make it; the SQL
    carries the native hash, never the plaintext."""
    root_sql("ALTER USER %s@%s IDENTIFIED BY PASSWORD %s;" %
             (q(user), q(host), q(vdtest.native_hash(pw))))


def versions(v, name):
    rc, out, _ = v.ctl(["target", "show", name, "--json"])
    return json.loads(out).get("versions", []) if rc == 0 else []


def audit_entries(v, limit=200):
    rc, out, _ = v.ctl(["audit", "list", "--limit", str(limit), "--json"])
    return json.loads(out) if rc == 0 else []


def settle(v, name):
    """Waits until no rotation of name runs (drift found by a rotation
    starts a reconcile from the older versions at once); returns the
    history."""
    return v.wait_history(name, lambda h: h and h[0]["result"] != "running")


def sc_setpw():
    tag = "vsp%d" % (os.getpid() % 100000)
    grp, opuser = tag + "g", tag + "o"
    subprocess.run(["groupadd", grp], check=True)
    subprocess.run(["useradd", "-M", "-N", "-g", grp, "-s",
                    "/usr/sbin/nologin", opuser], check=True)
    v = None
    try:
        # Retries an hour apart: the engine stays out of the way of the
        # refusals below, which must store nothing.
        v = SetpwVault("setpw", grp, "operator = " + opuser,
                       rotation="retry_min = 1h\nretry_max = 1h")
        setpw_run(v, opuser, grp)
    finally:
        if v is not None and v.proc is not None:
            v.stop()
        subprocess.run(["userdel", opuser])
        subprocess.run(["groupdel", grp])
        if v is not None:
            subprocess.run(["rm", "-rf", v.sockdir])


def setpw_run(v, opuser, grp):
    user, user2 = "vspw", "vspw2"
    hosts = ["localhost", "127.0.0.1"]
    pw0, pw_new, pw_wrong, pw_other, pw2, pw2_new = (new_pw() for _ in
                                                     range(6))
    secrets_used = [pw0, pw_new, pw_wrong, pw_other, pw2, pw2_new]
    E.make_user(user, pw0, hosts)
    E.make_user(user2, pw2, ["localhost"])
    v.start()
    v.add("spdb", user, pw0, hosts=",".join(hosts),
          extra=["--after-reveal", "1h"])
    v.add("spdb2", user2, pw2)

    # Busy: a rotation blocked on the server (a global read lock holds
    # its SET PASSWORD) has a pending version; set-password refuses it.
    lock = subprocess.Popen(["mariadb", "--no-defaults", "--socket=" +
                             MDB["MDB_SOCKET"], "-uroot", "-N", "-B",
                             "--unbuffered"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock.stdin.write(b"FLUSH TABLES WITH READ LOCK; SELECT 'locked';\n")
        lock.stdin.flush()
        ready, _, _ = select.select([lock.stdout], [], [], 30)
        check(ready and lock.stdout.readline().strip() == b"locked",
              "global read lock taken")
        rc, out, err = v.ctl(["rotate", "spdb"])
        check(rc == 0, "rotate spdb requested: %d %s" % (rc, err))
        end = time.time() + 30
        while time.time() < end and not any(
                x["state"] == "pending" for x in versions(v, "spdb")):
            time.sleep(0.1)
        check(any(x["state"] == "pending" for x in versions(v, "spdb")),
              "a pending version while the server holds the lock")
        rc, out, err = v.ctl(["target", "set-password", "spdb"],
                             pw_other + "\n")
        check(rc == 1 and "is running" in err and out == "",
              "set-password during a rotation refused: %d %r %r" %
              (rc, out, err))
    finally:
        try:
            lock.stdin.write(b"UNLOCK TABLES;\n")
            lock.stdin.close()
        except OSError:
            pass
        if lock.poll() is None:
            try:
                lock.wait(timeout=30)
            except subprocess.TimeoutExpired:
                lock.kill()
                lock.wait()
    h = settle(v, "spdb")
    check(h and h[0]["version"] == 2 and h[0]["result"] == "ok",
          "the blocked rotation ends once the lock is gone: %r" % h[:1])
    check(not any(e.get("trigger") == "import" for e in h),
          "the refused set-password stored nothing: %r" % h)

    # Drift: root's usual procedure resets the password behind the vault.
    for host in hosts:
        set_hash(user, host, pw_new)
    rc, out, err = v.ctl(["rotate", "spdb", "--wait"])
    settle(v, "spdb")
    check(rc == 1 and v.target_state("spdb") == "drift",
          "spdb in drift: %d %r" % (rc, v.target_state("spdb")))
    vs = versions(v, "spdb")
    nver = len(vs)
    old_cur = [x["version"] for x in vs if x["state"] == "current"]

    rc, out, err = v.ctl(["target", "set-password", "nosuch"], pw_new + "\n")
    check(rc == 4 and out == "", "unknown target: %d %r %r" % (rc, out, err))
    # An operator may rotate, but not hand the vault a password.
    p = subprocess.run(["setpriv", "--reuid=" + opuser, "--regid=" + grp,
                        "--init-groups", VAULTCTL, "--socket", v.sock,
                        "target", "set-password", "spdb"],
                       input=(pw_new + "\n").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    v.outputs += [("op stdout", p.stdout), ("op stderr", p.stderr)]
    check(p.returncode == 3 and b"permission denied" in p.stderr,
          "set-password as an operator: %d %r" % (p.returncode, p.stderr))
    # A wrong password: refused by the first host, nothing stored.
    rc, out, err = v.ctl(["target", "set-password", "spdb"],
                         pw_wrong + "\n")
    check(rc == 1 and "vspw@localhost" in err and "refused" in err,
          "wrong password: %d %r" % (rc, err))
    # One host of the account has another password: refused, naming it.
    set_hash(user, "127.0.0.1", pw_other)
    rc, out, err = v.ctl(["target", "set-password", "spdb"], pw_new + "\n")
    check(rc == 1 and "vspw@127.0.0.1" in err and "refused" in err,
          "a host with another password: %d %r" % (rc, err))
    check(len(versions(v, "spdb")) == nver and
          v.target_state("spdb") == "drift",
          "refused set-passwords stored nothing: %r" % versions(v, "spdb"))
    set_hash(user, "127.0.0.1", pw_new)

    # The password in force, from stdin: the new current version.
    rc, out, err = v.ctl(["target", "set-password", "spdb", "--json"],
                         pw_new + "\n")
    res = json.loads(out) if rc == 0 else {}
    check(rc == 0 and res.get("version") == nver + 1 and
          res.get("hosts") == "localhost=ok 127.0.0.1=ok",
          "set-password: %d %r %r" % (rc, out, err))
    vs = versions(v, "spdb")
    check(vs and vs[0]["version"] == nver + 1 and vs[0]["state"] ==
          "current" and vs[0]["trigger"] == "import" and
          [x["state"] for x in vs].count("current") == 1 and
          [x["state"] for x in vs if x["version"] in old_cur] ==
          ["previous"], "versions after set-password: %r" % vs)
    check(v.get("spdb") == pw_new, "get returns the imported password")
    h = v.history("spdb")
    check(h and h[0]["version"] == nver + 1 and h[0]["trigger"] == "import"
          and h[0]["result"] == "ok", "history: %r" % h[:1])
    st = v.target_status("spdb")
    due = st.get("next_due_unix") or 0
    check(st.get("state") == "ok" and st.get("last_error") is None and
          st.get("current_version") == nver + 1 and
          3000 < due - time.time() <= 3600,
          "status after set-password (replaced after the 1h grace): %r" % st)
    ents = [e for e in audit_entries(v) if e.get("event") ==
            "target.set_password"]
    ok = [e for e in ents if e.get("result") == "ok"]
    check(len(ok) == 1 and ok[0].get("target") == "spdb" and
          ok[0].get("version") == nver + 1 and ok[0].get("user") == "root",
          "audit ok entry: %r" % ok)
    res_of = sorted(e.get("result") for e in ents)
    check(res_of == ["failed", "failed", "ok", "refused", "refused",
                     "refused"], "every set-password audited: %r" % ents)
    # The engine took the new version: a rotation now works from it.
    rc, out, err = v.ctl(["rotate", "spdb", "--wait"])
    newpw = v.get("spdb")
    check(rc == 0 and newpw not in (None, pw_new) and login(user, newpw) and
          login(user, newpw, "127.0.0.1") and not login(user, pw_new),
          "rotate after set-password: %d %s" % (rc, err))

    # Without an after-reveal grace, the imported password is replaced
    # at once (trigger after-reveal), in plain text output.
    set_hash(user2, "localhost", pw2_new)
    rc, out, err = v.ctl(["rotate", "spdb2", "--wait"])
    settle(v, "spdb2")
    check(rc == 1 and v.target_state("spdb2") == "drift",
          "spdb2 in drift: %d %r" % (rc, v.target_state("spdb2")))
    n2 = len(versions(v, "spdb2")) + 1
    rc, out, err = v.ctl(["target", "set-password", "spdb2"],
                         pw2_new + "\n")
    check(rc == 0 and re.match(r"^target spdb2: password set as version %d "
                               r"\(localhost=ok\); its replacement is due "
                               r"\S+Z\n$" % n2, out) and err == "",
          "set-password spdb2: %d %r %r" % (rc, out, err))
    h = v.wait_history("spdb2", lambda h: h and h[0]["version"] == n2 + 1
                       and h[0]["result"] == "ok")
    check(h and h[0]["trigger"] == "after-reveal" and h[1]["trigger"] ==
          "import", "spdb2 replaced at once: %r" % h[:2])
    pw = v.get("spdb2")
    check(pw not in (None, pw2_new) and login(user2, pw),
          "spdb2's replacement logs in")

    check(v.stop() == 0, "vaultd stops cleanly")
    rc, out, err = v.audit_verify()
    check(rc == 0, "audit chain verifies: %d %s" % (rc, err))
    # No password where it must not be: vaultd's log, vaultctl's output
    # (history, audit, status, errors; reveals are not kept).
    texts = [("vaultd log", v.logtext().encode())] + v.outputs
    for what, data in texts:
        for pw in secrets_used:
            check(pw.encode() not in data, "a password in %s" % what)
    for who in (user, user2):
        root_sql("DROP USER IF EXISTS %s@'localhost';"
                 "DROP USER IF EXISTS %s@'127.0.0.1';" % (q(who), q(who)))


SCENARIOS = [("checkconf", sc_checkconf), ("notify", sc_notify),
             ("monitor", sc_monitor), ("all", sc_all), ("setpw", sc_setpw)]


def main():
    parser_selftest()
    finish(run_scenarios(SCENARIOS, ONLY), WORK)


if __name__ == "__main__":
    main()
