#!/usr/bin/env python3
"""test_faults.py - faults (issue 7): real vaultd, real mariadbd.

usage: test_faults.py VAULTD VAULTCTL [SCENARIO...]
On the "flt" fixture (its own server: "unreachable" kills and restarts it).
Scenarios (default: all):
  unreachable  the server is down for longer than the retry budget
               (retry_limit 2, retry_min 1s, retry_max 2s): each attempt is
               recorded as unreachable, the target ends "failed" with a
               warning per attempt in the log, the stored password is
               untouched; after the server is back a rotation succeeds
  blackhole    a server that accepts the TCP connection and never answers
               (a proxy here, switched from forwarding to black hole): the
               rotation ends with a recorded error within the timeouts,
               while the other target keeps being served (reveal, status,
               a rotation of its own)
  stall        the server stops answering after the login: the read timeout
               ends the rotation with a recorded error
  cut          the connection dies right after SET PASSWORD was applied: the
               version is resolved as applied, never recorded as failed
  diskfull     the data directory on a 3 MB tmpfs, filled up: the rotation
               fails with an error (reply, and a log line even when the
               history cannot be written), vaultd keeps running; after
               freeing space and a restart `vaultctl audit verify` passes
               and every target's password logs in
Needs root (mount -t tmpfs).  Standard library only.
"""
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest  # noqa: E402
from vdtest import (O_CLOEXEC, Env, Vault, check, fill, log,  # noqa
                    open_fds, tmpfs)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
E = Env(VAULTD, VAULTCTL, "vdflt.")
MDB = E.mdb
SRC = os.environ.get("VD_SOURCE_DIR",
                     os.path.dirname(os.path.abspath(__file__)) + "/../..")
MARIADB_SH = SRC + "/tests/integration/mariadb.sh"
ROT = "retry_limit = 2\nretry_min = 1s\nretry_max = 2s\nconnect_timeout = 2s\n"


def new_pw():
    return "Flt#" + secrets.token_hex(10) + "'\\;"


def mdb(cmd):
    p = subprocess.run(["sh", MARIADB_SH, cmd, MDB["MDB_NAME"], E.envfile],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(p.returncode == 0, "mariadb.sh %s: %s" % (cmd, p.stdout.decode()))


def final_checks(v, targets):
    """After a restart: audit verify (offline, vaultd stopped) passes, and
    every target's stored password logs in."""
    v.stop()
    rc, out, err = v.audit_verify()
    check(rc == 0, "audit verify: %d %s %s" % (rc, out, err))
    # Paused ([rotation] is the file's last section): no scheduled rotation
    # or retry changes a password under the checks; recoveries still run.
    with open(v.conf, "a") as f:
        f.write("paused = yes\n")
    v.start()
    end = time.time() + 60
    while time.time() < end and any(
            t.get("state") == "pending" or t.get("busy")
            for t in v.status().get("targets", [])):
        time.sleep(0.25)
    for name, user, host in targets:
        pw = v.get(name)
        check(pw is not None and E.login(user, pw, host),
              "%s: the stored password logs in as %s@%s" % (name, user,
                                                            host))
    v.stop()


def sc_unreachable():
    pw = new_pw()
    E.make_user("fltu", pw, ["localhost"])
    v = Vault(E, "unreach", rotation=ROT)
    v.start()
    v.add("u", "fltu", pw)
    mdb("crash")
    try:
        rc, out, err = v.ctl(["rotate", "u", "--wait"])
        check(rc != 0, "rotate with the server down fails: %d" % rc)
        # The budget: the first attempt and retry_limit retries.
        h = v.wait_history("u", lambda h: sum(
            1 for x in h if x["result"] == "unreachable") >= 3, 120)
        check(sum(1 for x in h if x["result"] == "unreachable") >= 3,
              "three unreachable attempts recorded: %r" % h[:4])
        check(all(x.get("error") for x in h if x["result"] != "ok"),
              "every failed attempt records its error: %r" % h[:4])
        end = time.time() + 60
        st = {}
        while time.time() < end:
            st = v.target_status("u")
            if st.get("state") == "failed":
                break
            time.sleep(0.25)
        check(st.get("state") == "failed" and st.get("current_version") == 1,
              "after the budget: state failed, version 1: %r" % st)
        n = len(v.history("u"))
        check(v.get("u") == pw, "the stored password is untouched")
        lines = [x for x in v.logtext().splitlines()
                 if "u: rotation unreachable" in x]
        check(len(lines) >= 3 and all(x.startswith(("<1>", "<2>", "<3>",
                                                     "<4>"))
                                      for x in lines),
              "a warning (or worse) per attempt in the log: %r" % lines[:4])
        check(v.status() != {}, "vaultd still serves status")
    finally:
        mdb("restart")
    check(len(v.history("u")) == n, "no more attempts once the budget is "
          "spent (until the next cadence)")
    check(E.login("fltu", pw), "the old password still logs in")
    rc, out, err = v.ctl(["rotate", "u", "--wait"])
    check(rc == 0, "with the server back, rotation succeeds: %s" % err)
    v.stop()
    final_checks(v, [("u", "fltu", "localhost")])


class Proxy(threading.Thread):
    """A TCP forwarder on 127.0.0.1 to the fixture's port.  blackhole():
    new connections are accepted and never answered, and open ones stop
    forwarding."""

    def __init__(self, port):
        super().__init__(daemon=True)
        # stall > 0: each new connection forwards this many chunks from
        # the client (the login), then holds the rest: a server that
        # stops answering in the middle of a session.
        self.stall = 0
        # cut: the next SET PASSWORD reaches the server, then both sides
        # of that connection are closed before the reply gets back.
        self.cut = False
        self.cuts = 0
        self.dst = ("127.0.0.1", port)
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.hole = threading.Event()
        self.held = []          # sockets of the black hole
        self.accepted = 0

    def pump(self, a, b, stall=0):
        n = 0
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                n += 1
                if self.cut and b"SET PASSWORD" in d:
                    self.cut = False
                    self.hole.set()     # hold the server's reply
                    b.sendall(d)
                    time.sleep(0.5)     # applied and committed by now
                    for x in (a, b):
                        x.shutdown(socket.SHUT_RDWR)
                    self.cuts += 1
                    self.hole.clear()
                    break
                while self.hole.is_set() or (stall and n > stall and
                                             self.stall):
                    time.sleep(0.1)     # stalled: hold the bytes
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.accepted += 1
            if self.hole.is_set():
                self.held.append(c)     # accept, then silence
                continue
            s = socket.create_connection(self.dst)
            threading.Thread(target=self.pump, args=(c, s, self.stall),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c),
                             daemon=True).start()


def sc_blackhole():
    pw_bh, pw_ok = new_pw(), new_pw()
    E.make_user("fltbh", pw_bh, ["127.0.0.1"])
    E.make_user("fltok", pw_ok, ["localhost"])
    px = Proxy(int(MDB["MDB_PORT"]))
    px.start()
    v = Vault(E, "blackhole", rotation=ROT)
    v.start()
    rc, out, err = v.ctl(["target", "add", "bh", "--host", "127.0.0.1",
                          "--port", str(px.port), "--user", "fltbh",
                          "--account-hosts", "127.0.0.1"], pw_bh + "\n")
    check(rc == 0, "add bh through the proxy: %s" % err)
    v.add("ok", "fltok", pw_ok)
    px.hole.set()
    before = px.accepted
    p = subprocess.Popen([VAULTCTL, "--socket", v.sock, "rotate", "bh",
                          "--wait"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    # Wait until vaultd's connection sits in the black hole.
    end = time.time() + 60
    while px.accepted == before and time.time() < end:
        time.sleep(0.05)
    check(px.accepted > before, "vaultd connected to the black hole")
    check(p.poll() is None, "the rotation is still waiting")
    # Close-on-exec everywhere: every descriptor vaultd holds now (vault,
    # lock file, socket, event loop, and the MariaDB connection opened
    # after start-up) would be closed in any child; only 0-2 pass on.
    fds = open_fds(v.proc.pid)
    inherit = sorted("%d -> %s" % (fd, w) for fd, (w, fl) in fds.items()
                     if fd > 2 and not fl & O_CLOEXEC)
    check(not inherit, "vaultd fds without close-on-exec: %s" % inherit)
    socks = [w for fd, (w, fl) in fds.items() if w.startswith("socket:")]
    mdbs = [w for fd, (w, fl) in fds.items() if w.endswith("data.mdb")]
    check(len(socks) >= 2 and mdbs, "fd listing sees the listening socket,"
          " the connection and data.mdb: %r" % sorted(fds.values()))
    log("vaultd holds %d fds during the hang, %d sockets, all close-on-exec"
        " above 2: %s" % (len(fds), len(socks), not inherit))
    # Meanwhile the other target is served.
    check(v.get("ok") == pw_ok, "reveal of ok while bh hangs")
    rc, out, err = v.ctl(["rotate", "ok", "--wait"])
    check(rc == 0, "rotate ok while bh hangs: %d %s" % (rc, err))
    check(E.login("fltok", v.get("ok")), "ok's new password logs in")
    check(v.target_status("bh") != {}, "status answers while bh hangs")
    # The hanging rotation ends on its own, with an error (bounded wait).
    try:
        out, err = p.communicate(timeout=300)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    check(rc is not None and rc != 0, "rotate bh ends in failure: %r %s" %
          (rc, err.decode()))
    h = v.history("bh")
    check(h and h[0]["result"] in ("unreachable", "failed") and
          h[0].get("error"), "bh's error is recorded: %r" % h[:1])
    log("bh: %s" % (h[0].get("error") if h else None))
    check(v.get("bh") == pw_bh, "bh keeps its password")
    check(v.proc.poll() is None, "vaultd is still running")
    px.hole.clear()
    for c in px.held:
        c.close()
    # The retries may now go through the proxy again; either way every
    # stored password logs in (bh checked directly, not through the proxy).
    final_checks(v, [("ok", "fltok", "localhost"),
                     ("bh", "fltbh", "127.0.0.1")])
    px.ls.close()


def sc_stall():
    """The server stops answering after the login, mid-session: the read
    timeout (the driver's 30 s default) ends the rotation with a recorded
    error; nothing is lost."""
    pw = new_pw()
    E.make_user("fltst", pw, ["127.0.0.1"])
    px = Proxy(int(MDB["MDB_PORT"]))
    px.start()
    v = Vault(E, "stall", rotation=ROT)
    v.start()
    rc, out, err = v.ctl(["target", "add", "st", "--host", "127.0.0.1",
                          "--port", str(px.port), "--user", "fltst",
                          "--account-hosts", "127.0.0.1"], pw + "\n")
    check(rc == 0, "add st through the proxy: %s" % err)
    px.stall = 1
    rc, out, err = v.ctl(["rotate", "st", "--wait"], timeout=300)
    px.stall = 0
    check(rc != 0, "the stalled rotation fails: %d %s" % (rc, err))
    # The failed attempt is the manual one; a retry (retry_min 1 s) may
    # already have gone through the proxy and be newer in the history.
    h = [e for e in v.history("st") if e.get("trigger") == "manual"]
    check(h and h[0]["result"] != "ok" and h[0].get("error"),
          "its error is recorded: %r" % h[:1])
    log("st: %s: %s" % (h[0].get("result"), h[0].get("error")) if h else
        "st: no history")
    check(v.proc.poll() is None, "vaultd is still running")
    final_checks(v, [("st", "fltst", "127.0.0.1")])
    px.ls.close()


def sc_cut():
    """The connection dies right after SET PASSWORD reached the server (it
    applied it): the outcome is unknown, so the new version must be kept
    pending and resolved, not recorded as failed.  Found by the crash
    soak (a version marked failed, then the old password refused)."""
    pw = new_pw()
    E.make_user("fltcut", pw, ["127.0.0.1"])
    px = Proxy(int(MDB["MDB_PORT"]))
    px.start()
    v = Vault(E, "cut", rotation=ROT)
    v.start()
    rc, out, err = v.ctl(["target", "add", "cut", "--host", "127.0.0.1",
                          "--port", str(px.port), "--user", "fltcut",
                          "--account-hosts", "127.0.0.1"], pw + "\n")
    check(rc == 0, "add cut through the proxy: %s" % err)
    px.cut = True
    rc, out, err = v.ctl(["rotate", "cut", "--wait"])
    check(px.cuts == 1, "the connection was cut after SET PASSWORD")
    check(not E.login("fltcut", pw, "127.0.0.1"),
          "the server applied the new password")
    h = v.history("cut")
    log("cut: rotate %d; %s" % (rc, h[:1]))
    check(h and h[0]["result"] != "failed",
          "not recorded as a failure (it was applied): %r" % h[:1])
    h = v.wait_history("cut", lambda h: any(
        x["result"] == "ok" and x["version"] == 2 for x in h), 60)
    check(any(x["result"] == "ok" and x["version"] == 2 for x in h),
          "version 2 is resolved as applied: %r" % h[:3])
    final_checks(v, [("cut", "fltcut", "127.0.0.1")])
    px.ls.close()


def sc_diskfull():
    with tmpfs(os.path.join(E.work, "tmpfs"), "3m") as mnt:
        diskfull(mnt)


def diskfull(mnt):
    pws = [new_pw() for _ in range(3)]
    for i, pw in enumerate(pws):
        E.make_user("fltd%d" % i, pw, ["localhost"])
    v = Vault(E, "diskfull", rotation=ROT, data_dir=mnt + "/data")
    v.start()
    for i, pw in enumerate(pws):
        v.add("d%d" % i, "fltd%d" % i, pw)
    rc, out, err = v.ctl(["rotate", "d0", "--wait"])
    check(rc == 0, "a rotation while there is room: %s" % err)
    log("before filling: %s" % subprocess.run(
        ["sh", "-c", "ls -la %s/data; df -k %s | tail -1" % (mnt, mnt)],
        stdout=subprocess.PIPE).stdout.decode().replace("\n", " | "))
    n = fill(mnt + "/fill")
    log("filled %d bytes" % n)
    # Rotations with a full disk: LMDB first reuses its free pages, so
    # rotate until a commit needs a new page and fails (bounded); then a
    # few more.  Never a hang or a crash.
    fails = ok = 0
    for i in range(400):
        t = "d%d" % (i % 3)
        rc, out, err = v.ctl(["rotate", t, "--wait"])
        check(v.proc.poll() is None, "vaultd survives the full disk")
        if v.proc.poll() is not None:
            break
        if rc != 0:
            fails += 1
            log("rotation %d (%s) failed: %s" % (i, t, (out + err).strip()))
            # Issue 19: "No space left on device: ok" said nothing true.
            check(not re.search(r": ok\s*$", err) and
                  ("No space left" in err or "record" in err),
                  "a failed rotation says what happened: %r" % err)
        else:
            ok += 1
        if fails >= 3:
            break
    log("full disk: %d rotations ok, then %d failed" % (ok, fails))
    check(fails >= 3, "rotations fail once the disk is full: %d ok %d failed"
          % (ok, fails))
    text = v.logtext()
    errs = [x for x in text.splitlines() if x.startswith(("<2>", "<3>", "<4>")) and
            ("No space left" in x or "cannot" in x or "MDB_" in x)]
    log("log: %s" % errs[:3])
    check(errs, "a log line names the failure: %s" % text[-800:])
    check(v.status() != {}, "status answers on a full disk")
    # A reveal must be audited: with no room for the audit entry it is
    # refused, cleanly.
    rc, out, err = v.ctl(["get", "d0"], keep=False)
    check(rc != 0 and out == "" and "No space left" in err,
          "get on a full disk is refused (no unaudited reveal): %d %s" %
          (rc, err))
    os.unlink(mnt + "/fill")
    v.stop()
    v.start()
    # A pending version (applied before a commit failed) is resolved by the
    # restart; wait until no target is pending.
    end = time.time() + 60
    while time.time() < end:
        if all(t.get("state") != "pending"
               for t in v.status().get("targets", [])):
            break
        time.sleep(0.25)
    rc, out, err = v.ctl(["rotate", "d1", "--wait"])
    check(rc == 0, "with space again, rotation succeeds: %s" % err)
    v.stop()
    final_checks(v, [("d%d" % i, "fltd%d" % i, "localhost")
                     for i in range(3)])


SCENARIOS = [("unreachable", sc_unreachable), ("blackhole", sc_blackhole),
             ("stall", sc_stall), ("cut", sc_cut), ("diskfull", sc_diskfull)]


if __name__ == "__main__":
    vdtest.main(SCENARIOS, ONLY, E)
