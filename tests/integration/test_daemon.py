#!/usr/bin/env python3
"""test_daemon.py - vaultd and vaultctl against the real socket and a real
MariaDB (the "main" fixture): targets, reveal, roles, protocol abuse,
concurrency, sealing, reload, shutdown under load, audit verification, and
that no password ever shows up where it must not.

usage: test_daemon.py VAULTD VAULTCTL TEST_DAEMON_VAULT
Needs root (it creates throwaway Unix users and groups and removes them)
and VD_TEST_MDB_ENV (the fixture's env file).  Standard library only.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

VAULTD, VAULTCTL, HELPER = sys.argv[1:4]
TAG = "vdt%d" % (os.getpid() % 100000)
FAILS = []
PASSWORDS = []          # every secret used; must never leak
IDLE = 2                # idle_timeout in seconds for the daemon


def check(cond, what):
    """Records a failure with the caller's line; never stops the run."""
    if not cond:
        line = traceback.extract_stack(limit=2)[0].lineno
        FAILS.append("line %d: %s" % (line, what))
        print("FAIL line %d: %s" % (line, what), file=sys.stderr)
    return cond


def mdbenv():
    env = {}
    with open(os.environ["VD_TEST_MDB_ENV"]) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


MDB = mdbenv()


def root_sql(sql):
    """Runs SQL as MariaDB root; the SQL (with passwords) goes on stdin."""
    subprocess.run(["mariadb", "--no-defaults", "--socket=" + MDB["MDB_SOCKET"],
                    "-uroot", "-N", "-B"], input=sql.encode(), check=True)


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def new_password():
    # Characters that break careless quoting: quote, backslash, '#', ';'.
    pw = "Pw#%s'\\;\"x" % secrets.token_hex(8)
    PASSWORDS.append(pw)
    return pw


# --- users and groups ---------------------------------------------------

SOCKGRP = TAG + "s"
AUDGRP = TAG + "a"
USERS = {r: TAG + r for r in ("none", "rev1", "revall", "aud", "op")}


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          **kw)


def setup_users():
    run(["groupadd", SOCKGRP], check=True)
    run(["groupadd", AUDGRP], check=True)
    for role, name in USERS.items():
        extra = ["-G", AUDGRP] if role == "aud" else []
        run(["useradd", "-M", "-N", "-g", SOCKGRP, "-s", "/usr/sbin/nologin"]
            + extra + [name], check=True)


def cleanup_users():
    for name in USERS.values():
        run(["userdel", name])
    run(["groupdel", AUDGRP])
    run(["groupdel", SOCKGRP])


# --- running vaultctl and talking to the socket -------------------------

def vctl(args, user=None, stdin=None, sock=None):
    """Runs vaultctl (as user when given); returns (rc, stdout, stderr)."""
    cmd = [VAULTCTL, "--socket", sock or SOCK] + args
    if user is not None:
        cmd = ["setpriv", "--reuid=" + user, "--regid=" + SOCKGRP,
               "--init-groups"] + cmd
    p = subprocess.run(cmd, input=(stdin or "").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def rpc_conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(SOCK)
    return s


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def rpc(s, method, params=None, rid=1):
    req = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        req["params"] = params
    s.sendall(json.dumps(req).encode() + b"\n")
    line = read_line(s)
    return json.loads(line) if line else None


def call(method, params=None):
    s = rpc_conn()
    try:
        return rpc(s, method, params)
    finally:
        s.close()


def closed(s):
    """True when the peer closed s (EOF, or a reset: unread input)."""
    try:
        return s.recv(10) == b""
    except ConnectionResetError:
        return True


def err_code(ans):
    return ans.get("error", {}).get("code") if ans else None


# --- leak watcher -------------------------------------------------------

class LeakWatch(threading.Thread):
    """Scans every process's argv and environment for a password."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = False
        self.found = []
        self.scans = 0

    def run(self):
        while not self.stop:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                for f in ("cmdline", "environ"):
                    try:
                        with open("/proc/%s/%s" % (pid, f), "rb") as fh:
                            data = fh.read()
                    except OSError:
                        continue
                    for pw in list(PASSWORDS):
                        if pw.encode() in data:
                            self.found.append((pid, f))
            self.scans += 1
            time.sleep(0.02)


# --- the daemon ---------------------------------------------------------

class Daemon:
    def __init__(self, conf, errlog):
        self.conf = conf
        self.errlog = errlog
        self.proc = None

    def start(self):
        self.err = open(self.errlog, "ab")
        self.proc = subprocess.Popen([VAULTD, "--config", self.conf],
                                     stdout=self.err, stderr=self.err)
        for _ in range(200):
            try:
                rpc_conn().close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("vaultd did not start: " + open(self.errlog).read())

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=60)
        self.err.close()
        return rc


def write_conf(path, data_dir, key_file=None, access=None, extra=""):
    access = access or {}
    lines = ["[vault]", "data_dir = " + data_dir, "socket = " + SOCK,
             "socket_group = " + SOCKGRP, "idle_timeout = %ds" % IDLE]
    if key_file:
        lines.append("key_file = " + key_file)
    lines.append("[access]")
    for k, v in access.items():
        lines.append("%s = %s" % (k, v))
    lines += ["[policy strong]", "length = 24", "[rotation]",
              "concurrency = 2", extra]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


ACCESS = {
    "admin": "root",
    "operator": USERS["op"],
    "reveal": "%s:t1, %s" % (USERS["rev1"], USERS["revall"]),
    "auditor": "@" + AUDGRP,
}


def add_target(name, pw, via="socket", user=None, extra=None):
    # One database account stands behind many targets here on purpose
    # (the API is under test, not the rotations): --force, which a second
    # registration of an account needs, and --no-check, as the account may
    # not list its own rows (issue 19).
    args = ["target", "add", name, "--force", "--no-check", "--user",
            user or DBUSER]
    if via == "socket":
        args += ["--unix-socket", MDB["MDB_SOCKET"]]
    else:
        args += ["--host", "127.0.0.1", "--port", MDB["MDB_PORT"]]
    return vctl(args + (extra or []), stdin=pw + "\n")


# --- the tests ------------------------------------------------------------

def test_targets():
    rc, out, err = add_target("t1", DBPW)
    check(rc == 0 and "added, version 1" in out, "add t1: %d %s" % (rc, err))
    rc, out, err = add_target("t2", DBPW, via="tcp",
                              extra=["--policy", "strong", "--every", "30d",
                                     "--after-reveal", "1h"])
    check(rc == 0, "add t2 over TCP: %d %s" % (rc, err))
    wrong = new_password()
    rc, out, err = add_target("t3", wrong)
    check(rc == 1 and "Access denied" in err,
          "wrong password refused: %d %s" % (rc, err))
    rc, _, _ = vctl(["target", "show", "t3"])
    check(rc == 4, "refused target stored nothing (show exit %d)" % rc)
    rc, _, _ = vctl(["history", "t3"])
    check(rc == 4, "refused target has no history (exit %d)" % rc)
    rc, out, _ = vctl(["target", "list", "--json"])
    names = [t["name"] for t in json.loads(out)] if rc == 0 else []
    check(names == ["t1", "t2"], "target list: %r" % names)
    rc, out, err = add_target("t1", DBPW)
    check(rc == 1 and "already exists" in err, "duplicate: %d %s" % (rc, err))
    rc, out, err = add_target("t4", DBPW, extra=["--policy", "nosuch"])
    check(rc == 1 and "policy" in err, "unknown policy: %d %s" % (rc, err))
    rc, _, _ = vctl(["target", "show", "t4"])
    check(rc == 4, "unknown-policy target not stored")
    rc, out, err = vctl(["get", "t1"])
    check(rc == 0 and out == DBPW + "\n", "get t1 prints the password")
    rc, out, _ = vctl(["get", "t1", "--version", "1", "--json"])
    check(rc == 0 and json.loads(out)["password"] == DBPW, "get --version 1")
    rc, _, _ = vctl(["get", "t1", "--version", "9"])
    check(rc == 4, "get a missing version: exit %d" % rc)
    rc, _, _ = vctl(["get", "nosuch"])
    check(rc == 4, "get a missing target: exit %d" % rc)
    rc, out, _ = vctl(["history", "t1", "--json"])
    h = json.loads(out) if rc == 0 else []
    check(len(h) == 1 and h[0]["version"] == 1 and h[0]["trigger"] ==
          "initial" and h[0]["result"] == "ok" and "started_at" in h[0] and
          "finished_at" in h[0], "history t1: %r" % h)
    rc, out, _ = vctl(["status", "--json"])
    st = json.loads(out) if rc == 0 else {}
    check(st.get("sealed") is False and
          [t["current_version"] for t in st.get("targets", [])] == [1, 1],
          "status: %r" % st)
    # rotate: t7 has an account of its own, so a real rotation does not
    # change the password the others use.
    rc, _, err = add_target("t7", ROTPW, user=ROTUSER,
                            extra=["--account-hosts", "localhost"])
    check(rc == 0, "add t7: %s" % err)
    rc, out, err = vctl(["rotate", "t7", "--wait"])
    if rc == 0:
        rc, out, _ = vctl(["get", "t7"])
        newpw = out.rstrip("\n")
        PASSWORDS.append(newpw)
        check(rc == 0 and newpw != ROTPW and len(newpw) >= 20,
              "rotate --wait stored a new password")
        rc, out, _ = vctl(["history", "t7", "--json"])
        h = json.loads(out) if rc == 0 else []
        check(len(h) >= 2 and h[0]["trigger"] == "manual" and
              h[0]["result"] == "ok", "rotation in the history: %r" % h[:1])
    else:
        check(False, "rotate --wait failed: %d %s" % (rc, err))
    # remove keeps the history; re-adding numbers the new incarnation
    # above the old version's tombstone, and its history starts fresh
    # (issue 14 item 8).
    rc, _, _ = add_target("t5", DBPW)
    check(rc == 0, "add t5")
    rc, _, _ = vctl(["target", "remove", "t5"])
    check(rc == 0, "remove t5")
    rc, _, _ = vctl(["target", "show", "t5"])
    check(rc == 4, "removed target gone")
    rc, out, _ = vctl(["history", "t5", "--json"])
    check(rc == 0 and len(json.loads(out)) == 1, "history kept after remove")
    rc, out, _ = add_target("t5", DBPW)
    check(rc == 0 and "version 2" in out, "re-add continues at version 2: " + out)
    rc, out, _ = vctl(["history", "t5", "--json"])
    h = json.loads(out) if rc == 0 else []
    check(len(h) == 1 and h[0].get("version") == 2,
          "the re-added target's history is its own: %r" % h)
    # A separate admin account: its password is checked (line 2 of stdin).
    rc, _, err = vctl(["target", "add", "t6", "--force", "--no-check",
                       "--unix-socket", MDB["MDB_SOCKET"], "--user", DBUSER,
                       "--admin-user", ADMUSER],
                      stdin="%s\n%s\n" % (DBPW, new_password()))
    check(rc == 1 and "Access denied" in err, "wrong admin password: %d %s" %
          (rc, err))
    rc, _, _ = vctl(["target", "show", "t6"])
    check(rc == 4, "wrong admin password stored nothing")
    rc, _, err = vctl(["target", "add", "t6", "--force", "--no-check",
                       "--unix-socket", MDB["MDB_SOCKET"], "--user", DBUSER,
                       "--admin-user", ADMUSER],
                      stdin="%s\n%s\n" % (DBPW, ADMPW))
    check(rc == 0, "add with an admin account: %d %s" % (rc, err))
    rc, out, _ = vctl(["target", "show", "t6", "--json"])
    check(rc == 0 and json.loads(out).get("admin_user") == ADMUSER,
          "admin_user recorded")
    rc, _, err = vctl(["target", "remove", "t6"])
    check(rc == 0, "remove t6")


def test_matrix():
    u = USERS
    # (user, command, expected exit)
    cases = []
    everything = [["status"], ["target", "list"], ["target", "show", "t1"],
                  ["get", "t1"], ["rotate", "t1"], ["history", "t1"],
                  ["audit", "list"], ["target", "remove", "t1"]]
    for c in everything:
        cases.append((u["none"], c, 3))
    cases += [
        (u["rev1"], ["get", "t1"], 0), (u["rev1"], ["get", "t2"], 3),
        (u["rev1"], ["status"], 3), (u["rev1"], ["history", "t1"], 3),
        (u["rev1"], ["audit", "list"], 3),
        (u["revall"], ["get", "t1"], 0), (u["revall"], ["get", "t2"], 0),
        (u["revall"], ["history", "t1"], 3),
        (u["aud"], ["history", "t1"], 0), (u["aud"], ["audit", "list"], 0),
        (u["aud"], ["get", "t1"], 3), (u["aud"], ["target", "remove", "t1"], 3),
        (u["aud"], ["status"], 3),
        (u["op"], ["status"], 0), (u["op"], ["history", "t1"], 0),
        (u["op"], ["rotate", "t7"], 0),     # operators may rotate
        (u["op"], ["get", "t1"], 3), (u["op"], ["audit", "list"], 3),
        (u["op"], ["target", "remove", "t1"], 3),
    ]
    for user, cmd, want in cases:
        rc, out, err = vctl(cmd, user=user)
        check(rc in (want if isinstance(want, tuple) else (want,)),
              "%s %s: exit %d, want %r (%s)" %
              (user, " ".join(cmd), rc, want, err.strip()))
        if want == 3:
            check("permission denied" in err, "%s %s says permission denied" %
                  (user, " ".join(cmd)))
    for user in (u["none"], u["op"]):
        rc, _, err = vctl(["target", "add", "x1", "--unix-socket", "/x",
                           "--user", "u"], user=user, stdin="whatever\n")
        check(rc == 3, "%s target add: exit %d" % (user, rc))
        rc, _, err = vctl(["unseal"], user=user, stdin="whatever\n")
        check(rc == 3, "%s unseal: exit %d" % (user, rc))
    rc, out, _ = vctl(["audit", "list", "--json", "--limit", "200"])
    entries = json.loads(out) if rc == 0 else []
    refused = [e for e in entries if e.get("result") == "refused"]
    check(any(e.get("user") == u["rev1"] and e.get("event") == "get" and
              e.get("target") == "t2" and "uid" in e for e in refused),
          "refused reveal audited with user, uid, method and target")
    check(any(e.get("user") == u["none"] and e.get("event") == "unseal"
              for e in refused), "refused unseal audited")
    check(any(e.get("user") == u["revall"] and e.get("event") == "get" and
              e.get("result") == "ok" for e in entries), "reveal audited")


def test_protocol():
    s = rpc_conn()
    s.sendall(b"this is not json\n")
    check(err_code(json.loads(read_line(s))) == -32700, "malformed JSON")
    check("result" in rpc(s, "status"), "connection usable after a parse error")
    check(err_code(rpc(s, "no.such.method")) == -32601, "unknown method")
    s.sendall(b'{"jsonrpc":"2.0","id":7,"method":"get","params":[1]}\n')
    check(err_code(json.loads(read_line(s))) == -32602, "params not an object")
    s.sendall(b'{"jsonrpc":"1.0","id":8,"method":"status"}\n')
    check(err_code(json.loads(read_line(s))) == -32600, "wrong jsonrpc")
    s.close()
    # Oversized: answered with -32012, then closed.
    s = rpc_conn()
    try:
        s.sendall(b'{"x":"' + b"a" * 70000 + b'"}\n')
    except OSError:
        pass
    check(err_code(json.loads(read_line(s))) == -32012, "oversized message")
    check(closed(s), "closed after an oversized message")
    s.close()
    # Half a line, then a stall: others are served meanwhile; the staller
    # gets a timeout error and is closed after idle_timeout.
    stall = rpc_conn()
    stall.sendall(b'{"jsonrpc":"2.0","id":1,"meth')
    check("result" in call("status"), "served while another client stalls")
    ans = read_line(stall)
    check(ans and err_code(json.loads(ans)) == -32013,
          "staller gets the idle timeout: %r" % ans)
    check(closed(stall), "staller closed")
    stall.close()
    # A client that never reads its answers does not hold up others.
    hog = rpc_conn()
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"})
    try:
        hog.setblocking(False)
        for _ in range(2000):
            hog.send(req.encode() + b"\n")
    except OSError:
        pass
    check("result" in call("status"), "served while a client does not read")
    hog.close()
    # 64 clients at once, each with its own kind of request.
    results = [None] * 64

    def client(i):
        try:
            s = rpc_conn()
            kind = i % 4
            if kind == 0:
                a = rpc(s, "status", rid=i)
                ok = "result" in a and a["id"] == i
            elif kind == 1:
                a = rpc(s, "get", {"name": "t1"}, rid=i)
                ok = a.get("result", {}).get("password") == DBPW
            elif kind == 2:
                a = rpc(s, "bogus", rid=i)
                ok = err_code(a) == -32601 and a["id"] == i
            else:
                s.sendall(b"{broken\n")
                ok = err_code(json.loads(read_line(s))) == -32700
            s.close()
            results[i] = ok
        except Exception as e:     # noqa: BLE001 - recorded as a failure
            results[i] = repr(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    bad = [(i, r) for i, r in enumerate(results) if r is not True]
    check(not bad, "64 concurrent clients: %r" % bad[:5])
    check("result" in call("status"), "daemon serves after the abuse")


def count_reveals():
    a = call("audit.list", {"limit": 10000})
    es = a.get("result", {}).get("entries", [])
    check(len(es) < 10000, "audit.list holds every entry of this test")
    return {t: sum(1 for e in es if e.get("event") == "get" and
                   e.get("result") == "ok" and e.get("target") == t)
            for t in ("t1", "nosuch")}


def test_reveal_burst():
    """Reveals are group-committed per loop iteration: 32 clients asking at
    once each get the right answer, and every successful reveal has exactly
    one audit entry (the chain is verified offline at the end)."""
    before = count_reveals()
    nclients, nget = 32, 25
    results = [None] * nclients

    def client(i):
        try:
            s = rpc_conn()
            ok = 0
            for k in range(nget):
                a = rpc(s, "get", {"name": "t1"}, rid=k)
                if a.get("result", {}).get("password") != DBPW or a["id"] != k:
                    raise RuntimeError("get %d: %r" % (k, a.get("error")))
                ok += 1
                if k == 7 and i % 4 == 0:    # a miss inside the batches
                    a = rpc(s, "get", {"name": "nosuch"}, rid=99)
                    if err_code(a) != -32002:
                        raise RuntimeError("nosuch: %r" % a)
            s.close()
            results[i] = ok
        except Exception as e:     # noqa: BLE001 - recorded as a failure
            results[i] = repr(e)

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    bad = [(i, r) for i, r in enumerate(results) if r != nget]
    check(not bad, "reveal burst: %r" % bad[:5])
    after = count_reveals()
    check(after["t1"] - before["t1"] == nclients * nget,
          "one audit entry per reveal: %d new for %d reveals" %
          (after["t1"] - before["t1"], nclients * nget))
    check(after["nosuch"] == before["nosuch"], "no audit 'ok' for a miss")


def wait_for(pred, limit=30.0):
    """Polls pred until it holds (True) or limit seconds pass (False)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def log_count(daemon, text):
    with open(daemon.errlog) as f:
        return f.read().count(text)


def test_reload(daemon, conf, data, key):
    rev1 = USERS["rev1"]
    # An unknown key in the file's last section ([rotation]); a second
    # [vault] section would itself be refused (issue 19) before the key.
    with open(conf, "a") as f:
        f.write("bogus_key = 1\n")
    daemon.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: log_count(daemon, "new configuration refused") ==
                   1), "bad reload logged")
    check("bogus_key" in open(daemon.errlog).read(), "bad key named in the log")
    check(daemon.proc.poll() is None, "bad config on SIGHUP: daemon lives")
    rc, _, _ = vctl(["get", "t1"], user=rev1)
    check(rc == 0, "old config kept after a bad reload (exit %d)" % rc)
    access = dict(ACCESS)
    access["reveal"] = USERS["revall"]
    write_conf(conf, data, key, access)
    daemon.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: log_count(daemon, "configuration reloaded") == 1),
          "good reload logged")
    rc, _, _ = vctl(["get", "t1"], user=rev1)
    check(rc == 3, "new config applied after a good reload (exit %d)" % rc)
    rc, out, _ = vctl(["audit", "list", "--json", "--limit", "50"])
    ev = [(e.get("event"), e.get("result")) for e in json.loads(out)]
    check(("config.reload", "ok") in ev and ("config.reload", "refused") in ev,
          "reloads audited: %r" % ev[:6])
    write_conf(conf, data, key, ACCESS)
    daemon.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: log_count(daemon, "configuration reloaded") == 2),
          "reload back")


def test_sigterm_under_load(daemon):
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def adder(k):
        n = 0
        while not stop.is_set():
            name = "load%d_%d" % (k, n)
            n += 1
            try:
                a = call("target.add", {"name": name, "unix_socket":
                                        MDB["MDB_SOCKET"], "user": DBUSER,
                                        "password": DBPW, "force": True,
                                        "check": False})
            except OSError:
                return
            if a and "result" in a:
                with lock:
                    acked.append(name)
            elif a is None or err_code(a) == -32009:
                return

    threads = [threading.Thread(target=adder, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    # SIGTERM in the middle of the load: once some adds went through.
    wait_for(lambda: len(acked) >= 20, 60)
    rc = daemon.stop(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join(60)
    check(rc == 0, "SIGTERM under load: exit %d" % rc)
    check(len(acked) > 0, "some adds were acknowledged before SIGTERM")
    daemon.start()
    rc, out, _ = vctl(["target", "list", "--json"])
    have = {t["name"] for t in json.loads(out)} if rc == 0 else set()
    lost = [n for n in acked if n not in have]
    check(not lost, "acknowledged adds survive a restart: lost %r" % lost[:5])
    print("sigterm: %d adds acknowledged, %d lost" % (len(acked), len(lost)))


def test_sealed(tmp):
    data = os.path.join(tmp, "pdata")
    passphrase = new_password()
    p = run([HELPER, "passphrase", data], input=(passphrase + "\n").encode())
    check(p.returncode == 0, "passphrase vault: " + p.stderr.decode())
    conf = os.path.join(tmp, "p.conf")
    write_conf(conf, data, None, ACCESS)
    d = Daemon(conf, os.path.join(tmp, "p.err"))
    d.start()
    rc, out, _ = vctl(["status", "--json"])
    check(rc == 0 and json.loads(out)["sealed"] is True, "starts sealed")
    rc, _, err = vctl(["target", "list"])
    check(rc == 1 and "sealed" in err, "sealed vault refuses: %d %s" % (rc, err))
    rc, _, err = vctl(["get", "t1"], user=USERS["revall"])
    check(rc == 1 and "sealed" in err, "no reveal while sealed")
    rc, _, err = vctl(["unseal"], stdin="wrong passphrase\n")
    check(rc == 1 and "wrong passphrase" in err, "wrong passphrase: %d %s" %
          (rc, err))
    rc, _, err = vctl(["unseal"], user=USERS["op"], stdin=passphrase + "\n")
    check(rc == 3, "operator cannot unseal (exit %d)" % rc)
    rc, out, err = vctl(["unseal"], stdin=passphrase + "\n")
    check(rc == 0, "unseal: %d %s" % (rc, err))
    rc, out, _ = vctl(["status", "--json"])
    check(rc == 0 and json.loads(out)["sealed"] is False, "unsealed")
    rc, out, _ = vctl(["audit", "list", "--json"])
    check(rc == 0 and any(e["event"] == "unseal" and e["result"] == "ok"
                          for e in json.loads(out)), "unseal audited")
    check(d.stop() == 0, "sealed daemon stops with 0")
    with open(d.errlog) as f:
        log = f.read()
    check(passphrase not in log, "passphrase not in the daemon's log")


def test_audit_verify(data, key):
    rc, out, err = vctl(["audit", "verify", "--data-dir", data, "--key-file",
                         key])
    check(rc == 0 and "intact" in out, "audit verify: %d %s %s" % (rc, out, err))
    p = run([HELPER, "tamper-audit", data, key, "3"])
    check(p.returncode == 0, "tamper: " + p.stderr.decode())
    rc, out, err = vctl(["audit", "verify", "--data-dir", data, "--key-file",
                         key])
    check(rc == 1 and "entry 3" in err, "tampered audit: %d %s" % (rc, err))


def test_help():
    for cmd in (["target"], ["get"], ["rotate"], ["history"], ["status"],
                ["audit"], ["unseal"], ["target", "add"], ["target", "list"],
                ["audit", "verify"], ["audit", "list"]):
        rc, out, _ = vctl(cmd + ["--help"])
        check(rc == 0 and "usage:" in out, "%s --help" % " ".join(cmd))
    rc, _, _ = vctl(["get"])
    check(rc == 2, "usage error exits 2")


def main():
    global SOCK, DBUSER, DBPW, ADMUSER, ADMPW, ROTUSER, ROTPW
    if os.geteuid() != 0:
        print("test_daemon: must run as root", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="vdd.", dir="/tmp")
    os.chmod(tmp, 0o711)        # other uids reach run/ (0750, socket group)
    SOCK = os.path.join(tmp, "run", "vaultd.sock")
    DBUSER = TAG + "db"
    DBPW = new_password()
    ADMUSER = TAG + "adm"
    ADMPW = new_password()
    ROTUSER = TAG + "rot"
    ROTPW = new_password()
    watch = LeakWatch()
    daemon = None
    setup_users()
    try:
        root_sql("CREATE USER %s@'localhost' IDENTIFIED BY %s;\n"
                 "CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s;\n"
                 "CREATE USER %s@'localhost' IDENTIFIED BY %s;\n"
                 "CREATE USER %s@'localhost' IDENTIFIED BY %s;\n" %
                 (sql_str(DBUSER), sql_str(DBPW), sql_str(DBUSER),
                  sql_str(DBPW), sql_str(ADMUSER), sql_str(ADMPW),
                  sql_str(ROTUSER), sql_str(ROTPW)))
        data, key = os.path.join(tmp, "data"), os.path.join(tmp, "key")
        p = run([HELPER, "keyfile", data, key])
        if not check(p.returncode == 0, "vault: " + p.stderr.decode()):
            return 1
        conf = os.path.join(tmp, "vaultd.conf")
        write_conf(conf, data, key, ACCESS)
        p = run([VAULTD, "--check-config", conf])
        check(p.returncode == 0, "check-config: " + p.stderr.decode())
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[vault]\ndata_dir = /x\n[access]\nadmin = root\n"
                    "frobnicate = yes\n")
        p = run([VAULTD, "--check-config", bad])
        check(p.returncode == 1 and (bad + ":5:").encode() in p.stderr,
              "unknown key refused with file:line: %r" % p.stderr)
        with open(bad, "w") as f:
            f.write("[vault]\ndata_dir = /x\nidle_timeout = soon\n")
        p = run([VAULTD, "--check-config", bad])
        check(p.returncode == 1 and (bad + ":3:").encode() in p.stderr,
              "bad value refused with file:line: %r" % p.stderr)
        with open(bad, "w") as f:
            f.write("[vault]\ndata_dir = /x\n[policy weak]\nlength = 2\n")
        p = run([VAULTD, "--check-config", bad])
        check(p.returncode == 1 and (bad + ":4:").encode() in p.stderr,
              "bad policy value refused with file:line: %r" % p.stderr)
        watch.start()
        # Positive control: the watcher must see a secret in an environment.
        canary = "canary" + secrets.token_hex(8)
        PASSWORDS.append(canary)
        cp = subprocess.Popen(["sleep", "30"], env={"VD_CANARY": canary})
        for _ in range(500):
            if any(pid == str(cp.pid) for pid, _ in watch.found):
                break
            time.sleep(0.02)
        check(any(pid == str(cp.pid) for pid, _ in watch.found),
              "leak watcher detects a secret in /proc/PID/environ")
        cp.kill()
        cp.wait()
        PASSWORDS.remove(canary)
        watch.found.clear()
        daemon = Daemon(conf, os.path.join(tmp, "vaultd.err"))
        daemon.start()
        st = os.stat(SOCK)
        check(st.st_mode & 0o777 == 0o660, "socket mode %o" % (st.st_mode & 0o777))
        check(os.stat(os.path.dirname(SOCK)).st_mode & 0o777 == 0o750,
              "socket dir mode 0750")
        test_help()
        test_targets()
        test_matrix()
        test_protocol()
        test_reveal_burst()
        test_reload(daemon, conf, data, key)
        test_sigterm_under_load(daemon)
        # Nothing secret in what the daemon wrote or what it serves.
        rc, audit_out, _ = vctl(["audit", "list", "--json", "--limit", "10000"])
        check(rc == 0, "audit list")
        rc, hist_out, _ = vctl(["history", "t1", "--json"], user=USERS["aud"])
        check(rc == 0, "history as auditor")
        rc = daemon.stop()
        daemon = None
        check(rc == 0, "vaultd exits 0 on SIGTERM (got %d)" % rc)
        test_sealed(tmp)
        watch.stop = True
        watch.join(10)
        with open(os.path.join(tmp, "vaultd.err")) as f:
            log = f.read()
        for pw in PASSWORDS:
            check(pw not in log, "a password in the daemon's stderr")
            check(pw not in audit_out, "a password in the audit output")
            check(pw not in hist_out, "a password in the history output")
        check(watch.scans > 10, "leak watcher ran (%d scans)" % watch.scans)
        check(not watch.found, "password in /proc argv/environ: %r" %
              watch.found[:3])
        test_audit_verify(data, key)
    finally:
        watch.stop = True
        if daemon is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
        root_sql("DROP USER IF EXISTS %s@'localhost', %s@'127.0.0.1', "
                 "%s@'localhost', %s@'localhost';\n" %
                 (sql_str(DBUSER), sql_str(DBUSER), sql_str(ADMUSER),
                  sql_str(ROTUSER)))
        cleanup_users()
        if not FAILS:
            subprocess.run(["rm", "-rf", tmp])
        else:
            print("test_daemon: files kept in " + tmp, file=sys.stderr)
    if FAILS:
        print("test_daemon: %d failure(s)" % len(FAILS), file=sys.stderr)
        return 1
    print("test_daemon: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
