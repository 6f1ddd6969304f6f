#!/usr/bin/env python3
"""test_rotate.py - the rotation engine and scheduler end to end: the real
vaultd and vaultctl binaries against a real MariaDB server of their own
(the "rot" fixture: these tests change root's password).

usage: test_rotate.py VAULTD VAULTCTL [SCENARIO...]
Scenarios (default: all): hosts admin refused partial drift restore crash
sched escrow user mdbcrash soak.  VD_SOAK_KILLS sets the number of SIGKILLs
in "soak" (default 50).  Standard library only; passwords only ever travel on stdin
or in 0600 option files.
"""
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vdtest import (check, finish, log, mdbenv, native_hash,  # noqa: E402
                    pinned, q, run_scenarios)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
SRC = os.environ.get("VD_SOURCE_DIR", os.path.dirname(__file__) + "/../..")
WORK = tempfile.mkdtemp(prefix="vdrot.")
os.chmod(WORK, 0o700)


MDB = mdbenv()
ENVFILE = os.environ["VD_TEST_MDB_ENV"]
HOSTS = ["localhost", "127.0.0.1"] + (["::1"] if MDB.get("MDB_IPV6") == "1"
                                      else [])
ADMIN = "vdadmin"
ADMIN_PW = "Adm#" + secrets.token_hex(10) + "'\\;"


def optfile(pw):
    """A 0600 option file holding pw for the mariadb client."""
    fd, path = tempfile.mkstemp(dir=WORK, suffix=".cnf")
    esc = pw.replace("\\", "\\\\").replace('"', '\\"')
    os.write(fd, ('[client]\npassword="%s"\n' % esc).encode())
    os.close(fd)
    return path


def host_args(host):
    if host == "localhost":
        return ["--socket=" + MDB["MDB_SOCKET"]]
    return ["--protocol=TCP", "-h", host, "-P", MDB["MDB_PORT"]]


def login(user, pw, host="localhost"):
    """True when user@host logs in with pw (the client reads it from a
    0600 option file) and the server matched exactly user@host."""
    cnf = optfile(pw)
    try:
        p = subprocess.run(["mariadb", "--defaults-file=" + cnf, "-u", user,
                            "--connect-timeout=5", "-N", "-B"] +
                           host_args(host) + ["-e", "SELECT CURRENT_USER()"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
    finally:
        os.unlink(cnf)
    return p.returncode == 0 and p.stdout.decode().strip() == "%s@%s" % (
        user, host)


def sql(statements, user="root", pw=None):
    """Runs SQL as the admin account (root without a password before the
    admin exists); the SQL travels on stdin.  Returns stdout."""
    args = ["mariadb", "--no-defaults", "--socket=" + MDB["MDB_SOCKET"],
            "-u", user, "-N", "-B"]
    cnf = None
    if pw is not None:
        cnf = optfile(pw)
        args[1] = "--defaults-file=" + cnf
    try:
        p = subprocess.run(args, input=statements.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
    finally:
        if cnf:
            os.unlink(cnf)
    if p.returncode != 0:
        raise RuntimeError("sql failed: " + p.stderr.decode())
    return p.stdout.decode()


def asql(statements):
    return sql(statements, ADMIN, ADMIN_PW)


def pw_hash(pw):
    """mysql_native_password's hash of pw, computed by the server."""
    return asql("SELECT PASSWORD(%s);" % q(pw)).strip()


def new_pw():
    return "Init#" + secrets.token_hex(8) + "'\\;"


# --- one vault + daemon per scenario -------------------------------------

class Vault:
    def __init__(self, name, rotation="", policies=""):
        self.dir = os.path.join(WORK, name)
        os.mkdir(self.dir, 0o700)
        self.sock = os.path.join(self.dir, "run", "vaultd.sock")
        self.conf = os.path.join(self.dir, "vaultd.conf")
        self.log = os.path.join(self.dir, "vaultd.log")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s/data\nkey_file = %s/key\n"
                    "socket = %s\n\n[access]\nadmin = root\n\n"
                    "[rotation]\nretry_min = 1s\nretry_max = 4s\n%s\n%s\n" %
                    (self.dir, self.dir, self.sock, rotation, policies))
        p = subprocess.run([VAULTCTL, "init", "--data-dir", self.dir + "/data",
                            "--key-file", self.dir + "/key"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError("init: " + p.stderr.decode())

    def start(self, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.err = open(self.log, "ab")
        self.proc = subprocess.Popen([VAULTD, "--config", self.conf],
                                     stdout=self.err, stderr=self.err, env=e)
        for _ in range(300):
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock):
                rc, _, _ = self.ctl(["status"], timeout=10)
                if rc == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("vaultd did not start: " + open(self.log).read())

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=120)
        self.err.close()
        self.proc = None
        return rc

    def pause(self):
        """[rotation] paused = yes (the last section of the file)."""
        with open(self.conf, "a") as f:
            f.write("paused = yes\n")

    def ctl(self, args, stdin="", timeout=180):
        p = subprocess.run([VAULTCTL, "--socket", self.sock] + args,
                           input=stdin.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def add(self, name, user, pw, hosts="auto", extra=None, admin=False):
        args = ["target", "add", name, "--unix-socket", MDB["MDB_SOCKET"],
                "--user", user, "--account-hosts", hosts] + (extra or [])
        stdin = pw + "\n"
        if admin:
            args += ["--admin-user", ADMIN]
            stdin += ADMIN_PW + "\n"
        rc, out, err = self.ctl(args, stdin)
        check(rc == 0, "target add %s: %d %s" % (name, rc, err))
        return rc

    def get(self, name, version=None):
        args = ["get", name] + (["--version", str(version)] if version else [])
        rc, out, err = self.ctl(args)
        return out[:-1] if rc == 0 and out.endswith("\n") else None

    def history(self, name):
        rc, out, err = self.ctl(["history", name, "--json"])
        return json.loads(out) if rc == 0 else []

    def status(self):
        rc, out, err = self.ctl(["status", "--json"])
        return json.loads(out) if rc == 0 else {}

    def target_status(self, name):
        for t in self.status().get("targets", []):
            if t["name"] == name:
                return t
        return {}

    def wait_history(self, name, pred, timeout=60):
        """Polls history until pred(entries) holds; returns the entries."""
        end = time.time() + timeout
        h = []
        while time.time() < end:
            h = self.history(name)
            if pred(h):
                return h
            time.sleep(0.25)
        return h

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def make_user(user, pw, hosts, unix_socket=False):
    stmts = []
    for h in hosts:
        stmts.append("DROP USER IF EXISTS %s@%s;" % (q(user), q(h)))
        if unix_socket and h == "localhost":
            stmts.append("CREATE USER %s@%s IDENTIFIED VIA "
                         "mysql_native_password USING PASSWORD(%s) OR "
                         "unix_socket;" % (q(user), q(h), q(pw)))
        else:
            stmts.append("CREATE USER %s@%s IDENTIFIED BY %s;" %
                         (q(user), q(h), q(pw)))
    asql("\n".join(stmts))


# --- scenarios -----------------------------------------------------------

def sc_hosts():
    """root at localhost, 127.0.0.1 and ::1 (found with auto): the new
    password logs in on each host and the old one on none; the unix_socket
    alternative of root@localhost survives; history tells it."""
    old = new_pw()
    stmts = ["ALTER USER 'root'@'localhost' IDENTIFIED VIA "
             "mysql_native_password USING PASSWORD(%s) OR unix_socket;" %
             q(old)]
    for h in HOSTS[1:]:
        stmts.append("SET PASSWORD FOR 'root'@%s = PASSWORD(%s);" %
                     (q(h), q(old)))
    asql("\n".join(stmts))
    for h in HOSTS:
        check(login("root", old, h), "root@%s logs in before" % h)
    v = Vault("hosts")
    v.start()
    v.add("root", "root", old, "auto")
    rc, out, err = v.ctl(["rotate", "root", "--wait"])
    check(rc == 0, "rotate --wait: %d %s %s" % (rc, out, err))
    new = v.get("root")
    check(new is not None and new != old, "get returns a new password")
    # root@localhost also accepts unix_socket, which lets the OS user root
    # in whatever the password: check its stored hash instead of a login.
    for h in HOSTS[1:]:
        check(login("root", new, h), "root@%s: new password logs in" % h)
        check(not login("root", old, h), "root@%s: old password refused" % h)
    cu = asql("SHOW CREATE USER 'root'@'localhost';")
    check(pw_hash(new) in cu and pw_hash(old) not in cu,
          "root@localhost holds the new password's hash: " + cu)
    check("unix_socket" in cu, "root@localhost keeps OR unix_socket: " + cu)
    # As the OS user root, unix_socket still lets us in without a password.
    p = subprocess.run(["mariadb", "--no-defaults", "-uroot",
                        "--socket=" + MDB["MDB_SOCKET"], "-e", "SELECT 1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "unix_socket login still works: " +
          p.stderr.decode())
    h = v.history("root")
    check(len(h) >= 2 and h[0]["version"] == 2 and h[0]["trigger"] ==
          "manual" and h[0]["result"] == "ok" and h[0].get("finished_at"),
          "history: %r" % h[:2])
    for host in HOSTS:
        check(host + "=ok" in h[0].get("hosts", ""),
              "history names %s verified: %r" % (host, h[0].get("hosts")))
    check(v.get("root", 1) == old, "version 1 is still readable")
    # A second rotation: version 3, version 2 becomes previous.
    rc, _, err = v.ctl(["rotate", "root", "--wait"])
    check(rc == 0, "second rotation: " + err)
    newer = v.get("root")
    check(newer not in (old, new) and login("root", newer),
          "second rotation logs in")
    check(v.stop() == 0, "vaultd exits 0 on SIGTERM")
    for pw in (old, new, newer):
        check(pw not in v.logtext(), "no password in vaultd's log")
    # Put root back to a known password for the later scenarios.
    asql("SET PASSWORD FOR 'root'@'localhost' = PASSWORD('');" +
         "".join("SET PASSWORD FOR 'root'@%s = PASSWORD('');" % q(x)
                 for x in HOSTS[1:]))


def sc_admin():
    """Self-rotation and rotation through a separate admin account."""
    make_user("vself", new_pw(), ["localhost"])
    pw_self = new_pw()
    asql("SET PASSWORD FOR 'vself'@'localhost' = PASSWORD(%s);" % q(pw_self))
    pw_adm = new_pw()
    make_user("vadm", pw_adm, ["localhost", "127.0.0.1"])
    v = Vault("admin")
    v.start()
    v.add("self", "vself", pw_self, "localhost")
    v.add("adm", "vadm", pw_adm, "auto", admin=True)
    for name, user, hosts in (("self", "vself", ["localhost"]),
                              ("adm", "vadm", ["localhost", "127.0.0.1"])):
        rc, out, err = v.ctl(["rotate", name, "--wait"])
        check(rc == 0, "rotate %s: %d %s" % (name, rc, err))
        new = v.get(name)
        for h in hosts:
            check(login(user, new, h), "%s@%s logs in after rotation" %
                  (user, h))
    # --tls required against a server without TLS: refused at add.
    pw_tls = new_pw()
    make_user("vtls", pw_tls, ["127.0.0.1"])
    rc, out, err = v.ctl(["target", "add", "tls", "--host", "127.0.0.1",
                          "--port", MDB["MDB_PORT"], "--user", "vtls",
                          "--tls", "required"], pw_tls + "\n")
    check(rc != 0 and "TLS" in err.upper(), "tls required refused without "
          "TLS on the server: %d %s" % (rc, err))
    # Registration only (vtls may not list its rows): --no-check.
    rc, out, err = v.ctl(["target", "add", "tls", "--no-check", "--host",
                          "127.0.0.1", "--port", MDB["MDB_PORT"], "--user",
                          "vtls", "--every", "30d", "--window",
                          "02:00-04:00 mon-fri"], pw_tls + "\n")
    check(rc == 0, "plain TCP target with a weekday window: %s" % err)
    check(not login("vself", pw_self), "self: old password refused")
    check(not login("vadm", pw_adm, "127.0.0.1"), "adm: old refused")
    v.stop()


def sc_refused():
    """A validation plugin refuses the new password: recorded with the
    server's reason, the current password untouched and still working."""
    pw = new_pw()
    make_user("vref", pw, ["localhost"])
    v = Vault("refused")
    v.start()
    v.add("ref", "vref", pw, "localhost")
    asql("INSTALL SONAME 'simple_password_check';"
         "SET GLOBAL simple_password_check_minimal_length = 60;")
    try:
        rc, out, err = v.ctl(["rotate", "ref", "--wait"])
        check(rc != 0, "rotate refused by the plugin exits non-zero")
        h = v.history("ref")
        check(h and h[0]["result"] == "failed" and
              "simple_password_check" in h[0].get("error", "") + err,
              "history records the plugin's reason: %r / %s" % (h[:1], err))
        check(v.get("ref") == pw and login("vref", pw),
              "the current password is unchanged and logs in")
        st = v.target_status("ref")
        check(st.get("current_version") == 1 and st.get("state") in
              ("retrying", "failed"), "status after refusal: %r" % st)
    finally:
        asql("UNINSTALL SONAME 'simple_password_check';")
    # The retry (backoff 1s, 2s …) now succeeds on its own.
    h = v.wait_history("ref", lambda h: h and h[0]["result"] == "ok", 60)
    check(h and h[0]["result"] == "ok" and h[0]["trigger"] in
          ("retry", "schedule"), "the retry succeeds: %r" % h[:2])
    check(login("vref", v.get("ref")), "retried password logs in")
    # The refused version never went into force: once a later one is
    # current, its password is gone (it must not take a kept slot).
    failed = [e["version"] for e in v.history("ref") if
              e["result"] == "failed"]
    check(failed and all(v.get("ref", f) is None for f in failed),
          "no password kept for the never-applied versions %r" % failed)
    v.stop()


def sc_partial():
    """A change that applied to some hosts only is repaired forward."""
    pw = new_pw()
    asql("DROP USER IF EXISTS 'vpart'@'10.255.255.1';")
    make_user("vpart", pw, ["localhost", "127.0.0.1"])
    v = Vault("partial")
    v.start()
    # The third account host does not exist: SET PASSWORD fails there after
    # the first two changed.  (Through the admin account: a plain account
    # can change another host's row of its user only with privileges.)
    # target add's pre-flight would refuse that row: --no-check.
    v.add("part", "vpart", pw, "localhost,127.0.0.1,10.255.255.1",
          extra=["--no-check"], admin=True)
    rc, out, err = v.ctl(["rotate", "part", "--wait"])
    check(rc != 0, "partial rotation does not report success")
    h = v.history("part")
    check(h and h[0]["result"] == "partial" and h[0]["version"] == 2,
          "history says partial: %r" % h[:1])
    pending = v.get("part", 2)
    check(pending is not None and login("vpart", pending, "localhost"),
          "the pending version logs in where it was applied")
    check(v.target_status("part").get("state") == "pending",
          "state pending: %r" % v.target_status("part"))
    # Make the missing account exist (with some other password): the
    # retry applies version 2 there too and promotes it.
    make_user("vpart", "other-" + secrets.token_hex(4), ["10.255.255.1"])
    h = v.wait_history("part", lambda h: h and h[0]["result"] == "ok", 60)
    check(h and h[0]["result"] == "ok" and h[0]["version"] == 2,
          "repaired forward to version 2: %r" % h[:2])
    check(v.get("part") == pending, "current is the once-pending version")
    for host in ("localhost", "127.0.0.1"):
        check(login("vpart", pending, host), "vpart@%s logs in" % host)
    v.stop()


def sc_drift():
    """Out-of-band ALTER USER: a self-rotated target is marked drift; a
    target with an admin account is detected by the drift check and
    reconciled through it."""
    pw1, pw2 = new_pw(), new_pw()
    make_user("vdrift", pw1, ["localhost"])
    make_user("vrec", pw2, ["localhost"])
    v = Vault("drift", rotation="check_interval = 2s")
    v.start()
    v.add("drift", "vdrift", pw1, "localhost")
    v.add("rec", "vrec", pw2, "localhost", admin=True)
    asql("ALTER USER 'vdrift'@'localhost' IDENTIFIED BY 'changed-by-hand-1';"
         "ALTER USER 'vrec'@'localhost' IDENTIFIED BY 'changed-by-hand-2';")
    rc, out, err = v.ctl(["rotate", "drift", "--wait"])
    check(rc != 0, "rotation with a drifted password fails")
    h = v.history("drift")
    check(h and h[0]["result"] == "drift", "drift recorded: %r" % h[:1])
    check(v.target_status("drift").get("state") == "drift",
          "status drift: %r" % v.target_status("drift"))
    check(v.get("drift") == pw1, "the vault keeps the last known password")
    h = v.wait_history("rec", lambda h: any(e["trigger"] == "reconcile" and
                                            e["result"] == "ok" for e in h),
                       60)
    check(any(e["trigger"] == "check" and e["result"] == "drift" for e in h),
          "drift check recorded: %r" % h[:3])
    check(any(e["trigger"] == "reconcile" and e["result"] == "ok"
              for e in h), "reconciled: %r" % h[:3])
    check(login("vrec", v.get("rec")), "reconciled password logs in")
    check("ALERT" in v.logtext() or "<1>" in v.logtext(),
          "drift raised an alert in the log")
    v.stop()


def hash_user(user, pw, hosts):
    """(Re)creates user@each host with pw, sent as its hash (no plaintext
    in the SQL)."""
    st = []
    for h in hosts:
        st.append("DROP USER IF EXISTS %s@%s;" % (q(user), q(h)))
        st.append("CREATE USER %s@%s IDENTIFIED BY PASSWORD %s;" %
                  (q(user), q(h), q(native_hash(pw))))
    asql("\n".join(st))


def restore_pw(user, pw, hosts):
    """What restoring the database from a backup does to the account: its
    password is pw again on hosts (sent as its hash)."""
    asql("".join("SET PASSWORD FOR %s@%s = %s;" % (q(user), q(h),
                                                   q(native_hash(pw)))
                 for h in hosts))


def rotate_n(v, name, n):
    for _ in range(n):
        rc, out, err = v.ctl(["rotate", name, "--wait"])
        check(rc == 0, "rotate %s: %d %s" % (name, rc, err))


def reconciled(h, result="ok"):
    return next((e for e in h if e["trigger"] == "reconcile" and
                 e["result"] == result), None)


def check_repaired(v, name, user, old, k, what):
    """A reconcile with result ok names version k as what the server held;
    the new current password logs in on every host, version k's on none;
    status says ok.  Returns the entry and the new password."""
    h = v.wait_history(name, lambda h: reconciled(h) is not None, 60)
    e = reconciled(h)
    if not check(e is not None, "%s: a reconcile ended ok: %r" %
                 (what, h[:4])):
        return None, None
    check("server held version %d " % k in e.get("note", ""),
          "%s: the entry names version %d: %r" % (what, k, e))
    new = v.get(name)
    st = v.target_status(name)
    check(st.get("state") == "ok" and st.get("current_version") ==
          e["version"], "%s: status ok at version %d: %r" %
          (what, e["version"], st))
    for host in HOSTS:
        check(new is not None and login(user, new, host),
              "%s: %s@%s logs in with the new password" % (what, user, host))
        check(not login(user, old, host), "%s: %s@%s refuses version %d's "
              "password" % (what, user, host, k))
    return e, new


def sc_restore():
    """Drift from a database restored from backup, no admin account: the
    server holds an older version's password.  The engine finds, per host,
    the kept version that still logs in, rotates through it (trigger
    reconcile) and notes which version the server held: a full restore found
    by a rotation, a partial one found by the drift check, a crash after the
    repair's pending commit, a password no version knows (stays drift, no
    loop), and a server that blocks accounts after failed logins (the probes
    stop short of blocking it)."""
    hl = ",".join(HOSTS)
    secrets_seen = []

    # A. Every host restored to version 2; a rotation finds it.
    pw = new_pw()
    hash_user("vrest", pw, HOSTS)
    v = Vault("restore")
    v.start()
    v.add("r", "vrest", pw, hl)
    rotate_n(v, "r", 3)                         # current: version 4
    secrets_seen += [v.get("r", x) for x in (1, 2, 3, 4)]
    old, cur = v.get("r", 2), v.get("r")
    restore_pw("vrest", old, HOSTS)
    check(login("vrest", old, "127.0.0.1") and not
          login("vrest", cur, "127.0.0.1"), "A: the restore took")
    rc, out, err = v.ctl(["rotate", "r", "--wait"])
    check(rc != 0, "A: the rotation finds drift: %d %s" % (rc, err))
    e, new = check_repaired(v, "r", "vrest", old, 2, "A")
    if e:
        check(all(x in e["note"] for x in HOSTS), "A: every host held "
              "version 2: %r" % e)
        check(e["version"] == 6, "A: a fresh version (5 failed with the "
              "drift): %r" % e)
        rc, out, err = v.ctl(["history", "r", "--limit", "1"])
        check(rc == 0 and e["note"] in out, "A: the table shows the note: "
              "%r" % out)
    h = v.history("r")
    check(any(x["trigger"] == "manual" and x["result"] == "drift"
              for x in h), "A: the drift is in the history: %r" % h[:3])
    check(v.logtext().count("drift repaired") == 1,
          "A: one notice line for the repair")
    secrets_seen.append(new)
    v.stop()
    for x in secrets_seen:
        check(x and x not in v.logtext(), "A: no password in vaultd's log")

    # B. Partial: 127.0.0.1 restored to version 1, the other hosts still
    # at current; the drift check finds it.
    pw = new_pw()
    hash_user("vrestp", pw, HOSTS)
    v = Vault("restore-p", rotation="check_interval = 2s")
    v.start()
    v.add("p", "vrestp", pw, hl)
    rotate_n(v, "p", 2)                         # current: version 3
    restore_pw("vrestp", pw, ["127.0.0.1"])
    e, new = check_repaired(v, "p", "vrestp", pw, 1, "B")
    if e:
        check("on 127.0.0.1 " in e["note"] and "localhost" not in e["note"],
              "B: only 127.0.0.1 held an older version: %r" % e)
    h = v.history("p")
    check(any(x["trigger"] == "check" and x["result"] == "drift"
              for x in h), "B: found by the check: %r" % h[:3])
    v.stop()

    # C. The repairing rotation is killed after its pending commit (the
    # server still holds version 2); the restart repairs with that pending
    # version, never a new one.
    pw = new_pw()
    hash_user("vrestc", pw, HOSTS)
    v = Vault("restore-c", rotation="check_interval = 2s")
    v.start()
    v.add("c", "vrestc", pw, hl)
    rotate_n(v, "c", 2)                         # current: version 3
    old = v.get("c", 2)
    v.stop()
    restore_pw("vrestc", old, HOSTS)
    v.start(env={"VAULTD_TEST_CRASH": "after-pending"})
    check(v.proc.wait(timeout=60) == 99, "C: killed after the pending "
          "commit of the reconcile")
    v.err.close()
    v.proc = None
    check(login("vrestc", old, "localhost"), "C: the server still holds "
          "version 2")
    v.start()
    e, new = check_repaired(v, "c", "vrestc", old, 2, "C")
    h = v.history("c")
    check(e is not None and e["version"] == 4 and not any(
        x["version"] > 4 for x in h), "C: the pending version 4 was "
          "finished, none generated anew: %r" % h[:3])
    v.stop()

    # D. No kept version logs in: drift stays, and nothing loops.
    pw = new_pw()
    hash_user("vrestu", pw, HOSTS)
    v = Vault("restore-u", rotation="check_interval = 1s")
    v.start()
    v.add("u", "vrestu", pw, hl)
    rotate_n(v, "u", 2)
    cur = v.get("u")
    restore_pw("vrestu", "Unknown#" + secrets.token_hex(10), HOSTS)
    h = v.wait_history("u", lambda h: reconciled(h, "drift") is not None,
                       60)
    e = reconciled(h, "drift")
    check(e is not None and "no kept older version logs in" in
          e.get("error", ""), "D: the reconcile tried and says so: %r" %
          h[:3])
    n = h[0]["seq"]
    time.sleep(5)                               # five drift checks
    h = v.history("u")
    check(h[0]["seq"] == n, "D: no further attempts: entry %d -> %d: %r" %
          (n, h[0]["seq"], h[:3]))
    check(v.target_status("u").get("state") == "drift",
          "D: state drift: %r" % v.target_status("u"))
    check(v.get("u") == cur, "D: the vault keeps its current password")
    v.stop()

    # E. max_password_errors = 4 on a plain account: the probes stop short
    # of blocking it (untried: version 1, which the server holds).  Without
    # the cap, the fourth refused login would block the account.
    asql("SET GLOBAL max_password_errors = 4;")
    try:
        pw = new_pw()
        hash_user("vrestl", pw, HOSTS)
        v = Vault("restore-l", rotation="check_interval = 1s")
        v.start()
        v.add("l", "vrestl", pw, hl)
        rotate_n(v, "l", 3)                     # current: version 4
        end = time.time() + 30
        while time.time() < end and "l: checked version 4" not in \
                v.logtext():
            time.sleep(0.2)                     # a check noted the limit
        v.stop()
        v.pause()
        v.start()
        restore_pw("vrestl", pw, HOSTS)
        rc, out, err = v.ctl(["rotate", "l", "--wait"])
        check(rc != 0, "E: drift")
        h = v.wait_history("l", lambda h: reconciled(h, "drift") is not
                           None, 60)
        e = reconciled(h, "drift")
        check(e is not None and "max_password_errors" in e.get("error", ""),
              "E: older versions left untried, and why: %r" % h[:3])
        for host in HOSTS:
            check(login("vrestl", pw, host), "E: vrestl@%s is not blocked"
                  % host)
        v.stop()
    finally:
        asql("SET GLOBAL max_password_errors = 4294967295;")


def sc_crash():
    """A crash at each step of a rotation; the restart resolves it and the
    vault's password logs in."""
    for step in ("after-pending", "after-apply", "before-promote"):
        pw = new_pw()
        user = "vcr" + step.split("-")[1][:4]
        make_user(user, pw, ["localhost", "127.0.0.1"])
        v = Vault("crash-" + step)
        v.start()
        v.add("t", user, pw, "localhost,127.0.0.1")
        v.stop()
        v.start(env={"VAULTD_TEST_CRASH": step})
        rc, out, err = v.ctl(["rotate", "t", "--wait"])
        check(rc != 0, "%s: the client sees the crash" % step)
        check(v.proc.wait(timeout=60) == 99, "%s: vaultd died at the crash "
              "point" % step)
        v.err.close()
        v.proc = None
        v.start()
        h = v.wait_history("t", lambda h: h and h[0]["result"] == "ok" and
                           h[0]["version"] == 2, 60)
        check(h and h[0]["version"] == 2 and h[0]["result"] == "ok",
              "%s: resolved forward to version 2: %r" % (step, h[:2]))
        check(h and h[0]["trigger"] == "recovery",
              "%s: trigger recovery: %r" % (step, h[:1]))
        cur = v.get("t")
        for host in ("localhost", "127.0.0.1"):
            check(login(user, cur, host), "%s: %s@%s logs in" %
                  (step, user, host))
        v.stop()


def sc_soak():
    """The real vaultd killed with SIGKILL at random moments while 20
    accounts rotate every second, restarted each time; afterwards every
    target's password logs in."""
    kills = int(os.environ.get("VD_SOAK_KILLS", "50"))
    n = 20
    v = Vault("soak", rotation="concurrency = 4\nmin_every = 1s")
    pws = {}
    for i in range(n):
        pws[i] = new_pw()
        make_user("vsoak%02d" % i, pws[i], ["localhost"])
    v.start()
    for i in range(n):
        v.add("s%02d" % i, "vsoak%02d" % i, pws[i], "localhost",
              extra=["--every", "1s"])
    rnd = random.Random(os.getpid())
    for k in range(kills):
        time.sleep(rnd.uniform(0.05, 1.0))
        v.stop(signal.SIGKILL)
        v.start()
    time.sleep(3)
    v.stop()
    # A calm restart, scheduled rotations paused: pending versions are
    # still resolved, and nothing changes under the checks below.
    v.pause()
    v.start()
    end = time.time() + 90
    while time.time() < end:
        st = v.status().get("targets", [])
        if st and all(t.get("state") not in ("pending",) for t in st):
            break
        time.sleep(0.5)
    total = 0
    for i in range(n):
        h = v.history("s%02d" % i)
        total += sum(1 for e in h if e["result"] == "ok" and
                     e["trigger"] != "initial")
        cur = v.get("s%02d" % i)
        check(cur is not None and login("vsoak%02d" % i, cur),
              "soak: s%02d's stored password logs in" % i)
    log("soak: %d kills, %d successful rotations" % (kills, total))
    check(total >= n, "soak: rotations happened (%d)" % total)
    rc, out, err = subprocess.run(
        [VAULTCTL, "audit", "verify", "--data-dir", v.dir + "/data",
         "--key-file", v.dir + "/key"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE).returncode, "", ""
    check(rc == 0, "soak: audit verify passes")
    v.stop()


def sc_mdbcrash():
    """MariaDB killed mid-rotation and restarted: nothing is lost."""
    n = 6
    v = Vault("mdbcrash", rotation="concurrency = 3\nmin_every = 1s")
    pws = {}
    for i in range(n):
        pws[i] = new_pw()
        make_user("vmc%d" % i, pws[i], ["localhost", "127.0.0.1"])
    v.start()
    for i in range(n):
        v.add("m%d" % i, "vmc%d" % i, pws[i], "localhost,127.0.0.1",
              extra=["--every", "1s"])
    time.sleep(2.5)
    subprocess.run(["sh", SRC + "/tests/integration/mariadb.sh", "crash",
                    "rot", ENVFILE], check=True, stdout=subprocess.PIPE)
    time.sleep(2)
    subprocess.run(["sh", SRC + "/tests/integration/mariadb.sh", "restart",
                    "rot", ENVFILE], check=True, stdout=subprocess.PIPE)
    time.sleep(4)
    v.stop()
    v.pause()
    v.start()
    end = time.time() + 60
    while time.time() < end:
        st = v.status().get("targets", [])
        if st and all(t.get("state") != "pending" for t in st):
            break
        time.sleep(0.5)
    failed_seen = False
    for i in range(n):
        h = v.history("m%d" % i)
        failed_seen |= any(e["result"] in ("unreachable", "failed",
                                           "partial") for e in h)
        cur = v.get("m%d" % i)
        for host in ("localhost", "127.0.0.1"):
            check(cur is not None and login("vmc%d" % i, cur, host),
                  "mdbcrash: m%d@%s logs in" % (i, host))
    check(failed_seen, "mdbcrash: the outage shows in history")
    v.stop()


def sc_sched():
    """Cadence, window, backoff, persistence across restart, concurrency."""
    v = Vault("sched", rotation="concurrency = 2\nmin_every = 1s")
    pws = {}
    for i in range(8):
        pws[i] = new_pw()
        make_user("vsc%d" % i, pws[i], ["localhost"])
    v.start()
    # Cadence: every 2s -> several scheduled rotations.
    v.add("cad", "vsc0", pws[0], "localhost", extra=["--every", "2s"])
    # Window: closed for the next hours -> nothing rotates.
    lt = time.localtime(time.time() + 3 * 3600)
    win = "%02d:00-%02d:30" % (lt.tm_hour, lt.tm_hour)
    v.add("win", "vsc1", pws[1], "localhost",
          extra=["--every", "1s", "--window", win])
    # Backoff: a socket where nothing listens.
    rc, out, err = v.ctl(["target", "add", "bad", "--unix-socket",
                          MDB["MDB_SOCKET"], "--user", "vsc2",
                          "--account-hosts", "localhost", "--every", "1s"],
                         pws[2] + "\n")
    check(rc == 0, "add bad: " + err)
    # Now every attempt fails to connect (not a drift: a locked account).
    asql("ALTER USER 'vsc2'@'localhost' ACCOUNT LOCK;")
    time.sleep(9)
    h = v.history("cad")
    sched_ok = [e for e in h if e["trigger"] == "schedule" and
                e["result"] == "ok"]
    check(len(sched_ok) >= 2, "cadence: %d scheduled rotations in 9s" %
          len(sched_ok))
    h = v.history("win")
    check(len(h) == 1, "window: nothing rotated outside it: %r" % h[:2])
    st = v.target_status("win")
    check(st.get("next_due") is not None, "window: next due shown")
    h = v.history("bad")
    fails = [e for e in reversed(h) if e["result"] != "ok" and
             e["trigger"] != "initial"]
    check(len(fails) >= 3, "backoff: %d failed attempts" % len(fails))

    def ts(e):
        return time.mktime(time.strptime(e["started_at"],
                                         "%Y-%m-%dT%H:%M:%SZ"))
    gaps = [ts(b) - ts(a) for a, b in zip(fails, fails[1:])]
    check(gaps and all(g >= 1 for g in gaps) and gaps[-1] >= gaps[0],
          "backoff: gaps grow: %r" % gaps)
    check(len(fails) <= 8, "backoff: bounded attempts in 9s: %d" % len(fails))
    # Persistence: the next due time survives a restart.
    before = v.target_status("win").get("next_due")
    v.stop()
    v.start()
    after = v.target_status("win").get("next_due")
    check(before == after and before is not None,
          "next due persisted: %r vs %r" % (before, after))
    # Concurrency: 5 targets asked at once, never more than 2 running.
    for i in range(3, 8):
        v.add("c%d" % i, "vsc%d" % i, pws[i], "localhost")
    procs = [subprocess.Popen([VAULTCTL, "--socket", v.sock, "rotate",
                               "c%d" % i, "--wait"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(3, 8)]
    peak = 0
    while any(p.poll() is None for p in procs):
        peak = max(peak, v.status().get("rotations_running", 0))
    for p in procs:
        check(p.wait() == 0, "concurrent rotate --wait succeeds")
    check(peak <= 2, "concurrency limit respected: peak %d" % peak)
    for i in range(3, 8):
        check(login("vsc%d" % i, v.get("c%d" % i)), "c%d logs in" % i)
    v.stop()


def keygen(name):
    path = os.path.join(WORK, name + ".key")
    p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out", path,
                        "--name", name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    check(p.returncode == 0, "keygen %s: %s" % (name, p.stderr.decode()))
    return path


def vault_fp(v):
    """The vault's escrow signing key fingerprint, which the parties pin
    (issue 14): break-glass trusts no other signer."""
    p = subprocess.run([VAULTCTL, "escrow", "vault-key", "--data-dir",
                        v.dir + "/data", "--key-file", v.dir + "/key"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    check(p.returncode == 0, "escrow vault-key: %s" % p.stderr.decode())
    return p.stdout.decode().strip()


def breakglass(data_dir, keys, target, version=None, fp=None, sock=None):
    """sock: the socket of the vaultd running on data_dir, which hears of
    the opening (break-glass itself writes nothing there)."""
    args = [VAULTCTL] + (["--socket", sock] if sock else []) + \
        ["breakglass", "--data-dir", data_dir]
    for k in keys:
        args += ["--escrow-key", k]
    if version:
        args += ["--version", str(version)]
    if fp:
        args += ["--vault-key", fp]
    p = subprocess.run(args + [target], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode()
    return p.returncode, out[:-1] if out.endswith("\n") else out, \
        p.stderr.decode()


def sc_escrow():
    """Every version is escrowed in the transaction that makes it pending:
    vaultd killed with SIGKILL mid-rotation (after the server changed),
    break-glass on a copy of the data directory opens the version that is
    in force, with the customer's key alone, the vendor's alone, or (2-of-2)
    both; a reported opening is audited and rotated."""
    cust, vend, other = keygen("customer"), keygen("vendor"), keygen("other")
    for mode in ("any", "2-of-2"):
        pw = new_pw()
        user = "vesc" + mode[0]
        make_user(user, pw, ["localhost"])
        v = Vault("escrow-" + mode[0], policies="[escrow]\nmode = %s\n"
                  "customer = %s\nvendor = %s\n" % (mode, pinned(cust),
                                                  pinned(vend)))
        v.start()
        v.add("e", user, pw, "localhost")
        fp = vault_fp(v)
        v.stop()
        v.start(env={"VAULTD_TEST_CRASH": "after-apply"})
        v.ctl(["rotate", "e", "--wait"])
        check(v.proc.wait(timeout=60) == 99, "%s: killed mid-rotation" % mode)
        v.err.close()
        v.proc = None
        copy = v.dir + "/copy"
        subprocess.run(["cp", "-a", v.dir + "/data", copy], check=True)
        subprocess.run(["chmod", "700", copy], check=True)
        check(not login(user, pw), "%s: the server has the new password" %
              mode)
        if mode == "any":
            for key in (cust, vend):
                rc, got, err = breakglass(copy, [key], "e", fp=fp)
                check(rc == 0 and login(user, got),
                      "any: %s alone opens the password in force: %d %s" %
                      (os.path.basename(key), rc, err))
            rc, got, err = breakglass(copy, [other], "e", fp=fp)
            check(rc != 0 and got == "", "an unrelated key opens nothing")
        else:
            rc, got, err = breakglass(copy, [cust], "e", fp=fp)
            check(rc != 0 and got == "" and "need 1 more" in err,
                  "2-of-2: one key is not enough: %d %s" % (rc, err))
            rc, got, err = breakglass(copy, [cust, vend], "e", fp=fp)
            check(rc == 0 and login(user, got),
                  "2-of-2: both keys open the password in force: %s" % err)
        if mode == "any":
            # Opened while still pending (issue 13 case 7): on the live data
            # directory, vaultd stopped.  Its promotion must not end the
            # matter: the opened password is replaced at once after it.
            rc, got, err = breakglass(v.dir + "/data", [cust], "e", 2, fp=fp)
            check(rc == 0 and login(user, got), "any: the pending version "
                  "opened on the live vault: %d %s" % (rc, err))
            # Nothing was written there (issue 14 item 8): the printed
            # report is imported, as the operator does, into the stopped
            # vault.
            rep = [x for x in err.splitlines() if x.startswith("{")]
            check(len(rep) == 1 and "nothing was written" in err,
                  "any: the opening is printed, not written: %r" % err)
            with open(v.dir + "/report", "w") as f:
                f.write(rep[0] if rep else "")
            p = subprocess.run([VAULTCTL, "breakglass", "report",
                                "--data-dir", v.dir + "/data", "--file",
                                v.dir + "/report"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            check(p.returncode == 0, "any: report imported: %s" %
                  p.stderr.decode())
        # The restart resolves the pending version; the break-glass report
        # imported into the live data directory is audited and rotated.
        v.start()
        h = v.wait_history("e", lambda h: any(
            x["result"] == "ok" and x["version"] == 2 for x in h), 60)
        check(any(x["result"] == "ok" and x["version"] == 2 for x in h),
              "%s: recovered: %r" % (mode, h[:2]))
        if mode == "any":
            h = v.wait_history("e", lambda h: any(
                x["result"] == "ok" and x["version"] == 3 for x in h), 30)
            check(any(x["result"] == "ok" and x["version"] == 3 for x in h),
                  "any: the pending version opened by break-glass is "
                  "replaced once promoted: %r" % h[:3])
        keys = [cust] if mode == "any" else [cust, vend]
        rc, got, err = breakglass(v.dir + "/data", keys, "e", 2, fp=fp,
                                  sock=v.sock)
        check(rc == 0 and got == v.get("e", 2), "%s: break-glass on the live "
              "vault: %d %s" % (mode, rc, err))
        h = v.wait_history("e", lambda h: any(x["trigger"] == "breakglass" and
                                              x["result"] == "ok" for x in h),
                           60)
        check(any(x["trigger"] == "breakglass" for x in h),
              "%s: the opened password was rotated: %r" % (mode, h[:2]))
        rc, out, err = v.ctl(["audit", "list", "--json"])
        check(rc == 0 and any(e.get("event") == "breakglass"
                              for e in json.loads(out)),
              "%s: the opening is in the audit log" % mode)
        check(login(user, v.get("e")), "%s: current password logs in" % mode)
        if mode == "any":
            # A third party joins: SIGHUP re-seals the current version to
            # it, and the re-seal is audited.
            with open(v.conf, "a") as f:
                f.write("other = %s\n" % pinned(other))
            v.proc.send_signal(signal.SIGHUP)
            end = time.time() + 30
            audit = []
            while time.time() < end:
                rc, out, err = v.ctl(["audit", "list", "--json"])
                audit = json.loads(out) if rc == 0 else []
                if any(e.get("event") == "escrow-reseal" for e in audit):
                    break
                time.sleep(0.2)
            check(any(e.get("event") == "escrow-reseal" for e in audit),
                  "any: the re-seal to a new party is audited")
            copy2 = v.dir + "/copy2"
            subprocess.run(["cp", "-a", v.dir + "/data", copy2], check=True)
            rc, got, err = breakglass(copy2, [other], "e", fp=fp)
            check(rc == 0 and got == v.get("e"),
                  "any: the new party opens the current version: %s" % err)
        # The online export (admin, over the socket) opens offline too.
        bundle = v.dir + "/bundle"
        rc, out, err = v.ctl(["escrow", "export", "--out", bundle])
        check(rc == 0 and os.stat(bundle).st_mode & 0o777 == 0o600,
              "%s: escrow export: %d %s" % (mode, rc, err))
        args = [VAULTCTL, "breakglass", "--bundle", bundle,
                "--vault-key", fp]
        for k in keys:
            args += ["--escrow-key", k]
        p = subprocess.run(args + ["e"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        check(p.returncode == 0 and p.stdout.decode() == v.get("e") + "\n",
              "%s: break-glass from the exported bundle: %s" %
              (mode, p.stderr.decode()))
        v.stop()


def sc_user():
    """[vault] user: started as root, vaultd refuses a data directory that
    is not that user's, then runs as the user and still rotates (over TCP:
    the test server's socket directory is root's)."""
    os.chmod(WORK, 0o711)
    pw = new_pw()
    make_user("vusr", pw, ["127.0.0.1"])
    v = Vault("user", rotation="concurrency = 2")
    os.chmod(v.dir, 0o711)
    with open(v.conf) as f:
        conf = f.read()
    with open(v.conf, "w") as f:
        f.write(conf.replace("[vault]\n", "[vault]\nuser = nobody\n", 1))
    try:
        v.start()
        check(False, "started with a data directory root owns")
        v.stop()
    except RuntimeError:
        check("chown -R nobody" in v.logtext(), "the refusal says the fix")
        v.err.close()
        v.proc = None
    subprocess.run(["chown", "-R", "nobody", v.dir + "/data"], check=True)
    v.start()
    with open("/proc/%d/status" % v.proc.pid) as f:
        uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
    check(uids[:2] == ["65534", "65534"], "vaultd runs as nobody: %r" % uids)
    rc, out, err = v.ctl(["target", "add", "u", "--host", "127.0.0.1",
                          "--port", MDB["MDB_PORT"], "--user", "vusr",
                          "--account-hosts", "127.0.0.1"], pw + "\n")
    check(rc == 0, "target add as nobody: %s" % err)
    rc, out, err = v.ctl(["rotate", "u", "--wait"])
    check(rc == 0 and login("vusr", v.get("u"), "127.0.0.1"),
          "rotation as nobody: %d %s" % (rc, err))
    check(v.stop() == 0, "vaultd as nobody exits 0")
    os.chmod(WORK, 0o700)


SCENARIOS = [("hosts", sc_hosts), ("admin", sc_admin),
             ("refused", sc_refused), ("partial", sc_partial),
             ("drift", sc_drift), ("restore", sc_restore),
             ("crash", sc_crash), ("sched", sc_sched),
             ("escrow", sc_escrow), ("user", sc_user),
             ("mdbcrash", sc_mdbcrash), ("soak", sc_soak)]


def main():
    # The admin account the tests use for set-up (root changes below).
    sql("CREATE OR REPLACE USER %s@'localhost' IDENTIFIED BY %s;"
        "GRANT ALL PRIVILEGES ON *.* TO %s@'localhost' WITH GRANT OPTION;" %
        (q(ADMIN), q(ADMIN_PW), q(ADMIN)))
    finish(run_scenarios(SCENARIOS, ONLY), WORK)


if __name__ == "__main__":
    main()
