#!/usr/bin/env python3
"""test_engine.py - the rotation engine on the hostile side of the world
(issue 13, "Rotation engine, proven"), against a real MariaDB of its own
(the "eng" fixture) and, where a layout needs it, a second server started
here.  Each scenario is a case the issue reproduced on main before:

  window     a crash after the pending commit, restarted with the rotation
             window closed: the pending version is resolved at once (a
             resolution finishes a change, it does not start one) and get
             hands out the password in force (case 3)
  lockout    an out-of-band change (drift) on a server with
             max_password_errors=4 and a drift check every second: vaultd
             never tries the refused password again, the DBA's login with
             the right password is not blocked (4150), and the drift is
             one history row plus alerts (case 4)
  setpw      drift while a version is pending: target set-password is
             accepted, supersedes the pending version (kept as previous),
             and get returns the imported password (case 5)
  abandon    a pending version no row holds (a crash before the server
             was touched, then a DBA's change: the resolution ends in
             drift and stops at its login budget) is abandoned by an
             admin: proven by the rows' hashes, failed, the current version
             stands; one the server holds is refused (case 5)
  stopget    SIGTERM while a get waits for a rotation: answered, exit 0
  inflight   a rotation held on the server (FLUSH TABLES WITH READ LOCK):
             target remove is refused while it runs, get waits for its
             outcome and returns the password in force, a reveal of the
             pending version keeps the after-reveal rotation once promoted,
             and remove --wait removes after the outcome is recorded
             (cases 6, 7, 9)
  diskfull   the data directory fills up while a rotation is on the
             server: the outcome that cannot be written is reported
             ("cannot record"), status --check is CRITICAL, and once space
             is freed, without a restart, the engine records it: no
             history row stays "running", get's password logs in (case 12)
  bind       a server listening on 127.0.0.1 only while the account also
             exists at ::1: the rotation applies ::1's row through a
             session that works and reports it "held" (its stored hash
             checked through the server, since no login reaches it); the
             target is never stranded and get's password logs in (case 1)
  reuse      the same layout with password_reuse_check: a crash after the
             server took the pending version; the resolution proves ::1
             holds it (no second SET PASSWORD, which the plugin refuses
             as a reuse) and promotes it (case 2)
  twomethods an account IDENTIFIED VIA ed25519 OR mysql_native_password:
             after a rotation the old password is refused through either
             method, and the history has no "old password still
             accepted" note (case 8)
  socket     vaultd as OS root and root@localhost "… OR unix_socket"
             (Debian's shape): target add with a wrong password is refused
             and a DBA's change is found as drift, though the socket login
             itself needs no password (case 11)
  replica    a real primary/replica pair: rotating the replica directly is
             refused and names the primary; registered --replica-of the
             primary's target it is never rotated itself, is checked with
             the primary's password after the primary's rotation (ok, not
             drift), get answers with the password in force, rotate --all
             leaves it out (case 14)

  trips      round trips learned once per target (issue 18): an account
             without SUPER is asked for the replica status and tries
             sql_log_off in its first rotation only; one with SUPER turns
             sql_log_off on every time; no @@port for localhost-only;
             the steady state is 3 statements: SHOW CREATE USER and SET
             PASSWORD on the main session, SHOW CREATE USER on the probe

  trips3     the same cut for an account with two password methods (ALTER
             USER keeps both); the "old password still accepted" note when
             init_connect sets the old password back at every login

  learned    what a target's rotations learned of its account (no replica
             status, no sql_log_off) is kept across a restart of vaultd and
             forgotten when the target record changes (target set), also
             by a restart right after it

  concurrency  [rotation] concurrency = 3 with the server's writes held
             (FLUSH TABLES WITH READ LOCK): exactly 3 rotations wait in SET
             PASSWORD at once, never 1 (the limit ignored) nor more

  ahead      jobs prepared ahead (issue 18): with concurrency = 2 and the
             server's writes held, 2 rotations wait in SET PASSWORD and 2
             more are prepared (pending, committed) and held; SIGKILL, then
             a restart resolves every one (each password logs in, no
             history row left running); SIGTERM lets the held ones run and
             finish before vaultd exits

  sealahead  escrow sealed on the thread pool (issue 18): rotations queued
             behind the concurrency limit take envelopes sealed ahead, and
             every envelope opens to the password in force; a party removed
             by SIGHUP while rotations wait opens none of them afterwards,
             one added opens all of them

usage: test_engine.py VAULTD VAULTCTL [SCENARIO...]
Needs VD_TEST_MDB_ENV (the fixture's env file) and root (tmpfs, mariadbd).
Standard library only; passwords travel on stdin or in 0600 option files.
"""
import json
import re
import os
import secrets
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest  # noqa: E402
from vdtest import (Env, Vault, check, fill, log,  # noqa: E402
                    native_hash, q, stop_all, tmpfs)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
E = Env(VAULTD, VAULTCTL, "vdeng.")
SRC = os.environ.get("VD_SOURCE_DIR",
                     os.path.dirname(os.path.abspath(__file__)) + "/../..")


def new_pw():
    return "Eng#" + secrets.token_hex(10) + "'\\;"


def settle(v, name, timeout=60):
    """Waits until no job runs for name and it has no pending version."""
    end = time.time() + timeout
    while time.time() < end:
        st = v.target_status(name)
        if st and not st.get("busy") and st.get("state") not in (
                "pending", "unrecorded"):
            return st
        time.sleep(0.2)
    return v.target_status(name)


def quiesce(v, names, timeout=120):
    """Waits until no job runs or waits (rotations_running and
    rotations_prepared 0) and none of names is due within a minute."""
    end = time.time() + timeout
    while time.time() < end:
        st = v.status()
        ts = {t["name"]: t for t in st.get("targets", [])}
        if st.get("rotations_running") == 0 and \
                st.get("rotations_prepared") == 0 and \
                all(not ts.get(n, {}).get("busy") and
                    (ts.get(n, {}).get("next_due_unix") or 0) >
                    st.get("time", 0) + 60 for n in names):
            return
        time.sleep(0.2)


def versions(v, name):
    rc, out, err = v.ctl(["target", "show", name, "--json"])
    try:
        return json.loads(out).get("versions", []) if rc == 0 else []
    except ValueError:
        return []


def dba_set(user, host, pw):
    """A DBA's change outside the vault (SET PASSWORD keeps other methods);
    the hash travels, never the plaintext."""
    E.sql("SET PASSWORD FOR %s@%s = '%s';" % (q(user), q(host),
                                              native_hash(pw)))


def dba_login_error(user, pw, host="localhost"):
    """The mariadb client's stderr for user@host with pw ('' on success)."""
    p = E.client(user, pw, host)
    return "" if p.returncode == 0 else p.stderr.decode(errors="replace")


# --- case 3: the window does not hold back a resolution -----------------

def sc_window():
    user, pw = "engwin", new_pw()
    E.make_user(user, pw, ["localhost"])
    v = Vault(E, "window")
    v.start()
    # A window closed for the next hours: nothing scheduled may start.
    lt = time.localtime(time.time() + 3 * 3600)
    win = "%02d:00-%02d:30" % (lt.tm_hour, lt.tm_hour)
    v.add("w", user, pw, "localhost", extra=["--window", win])
    v.stop()
    # A manual rotation (a person may rotate outside the window) dies
    # right after its pending version is durable ...
    v.start(env={"VAULTD_TEST_CRASH": "after-apply"})
    rc, out, err = v.ctl(["rotate", "w", "--wait"])
    check(v.proc.wait(timeout=60) == 99, "vaultd died at the crash point")
    v.stop()
    # ... after the server took it: version 1 is now refused.
    check(not E.login(user, pw), "the server took the pending password")
    v.start()
    h = v.wait_history("w", lambda h: h and h[0].get("version") == 2 and
                       h[0].get("result") == "ok", timeout=30)
    check(h and h[0].get("version") == 2 and h[0].get("result") == "ok",
          "the pending version is resolved with the window closed: %r" %
          h[:2])
    check(not [e for e in h if e.get("result") == "running"],
          "no history row left running: %r" % h)
    got = v.get("w")
    check(got is not None and got != pw and E.login(user, got),
          "get hands out the password in force")
    v.stop()


# --- case 4: drift never locks the account ------------------------------

def sc_lockout():
    user, pw, dba_pw = "englock", new_pw(), new_pw()
    E.make_user(user, pw, ["localhost"])
    E.sql("SET GLOBAL max_password_errors = 4;")
    try:
        v = Vault(E, "lockout", rotation="check_interval = 1s\n")
        v.start()
        # A grace after a reveal: set-password below hands vaultd a password
        # a person knows, which is replaced at once without one (and get
        # could then race the replacement).
        v.add("l", user, pw, "localhost", extra=["--after-reveal", "1h"])
        # The DBA changes the password behind the vault's back.
        dba_set(user, "localhost", dba_pw)
        # Drift checks every second for 10 s: at most one failed login.
        time.sleep(10)
        err = dba_login_error(user, dba_pw)
        check(err == "", "the DBA's login with the right password works "
              "(not blocked by the vault's checks): %r" % err)
        st = v.target_status("l")
        check(st.get("state") == "drift", "target in drift: %r" % st)
        h = v.history("l")
        drift = [e for e in h if e.get("result") == "drift"]
        check(len(drift) == 1, "one drift row, not one a check: %r" % h)
        text = v.logtext()
        check("still in drift" in text, "vaultd keeps alerting: %s" %
              text[-600:])
        # A person acts: set-password with the DBA's password heals it.
        rc, out, err = v.ctl(["target", "set-password", "l"], dba_pw + "\n")
        check(rc == 0, "set-password after drift: %d %s" % (rc, err))
        check(v.get("l") == dba_pw, "get returns the imported password")
        v.stop()
    finally:
        E.sql("SET GLOBAL max_password_errors = DEFAULT; FLUSH PRIVILEGES;")


# --- case 5: set-password over a pending version -------------------------

def sc_setpw():
    user, pw, dba_pw = "engsp", new_pw(), new_pw()
    E.make_user(user, pw, ["localhost"])
    v = Vault(E, "setpw")
    v.start()
    v.add("s", user, pw, "localhost")
    v.stop()
    # A crash after the pending version is durable, before the server was
    # touched; then a DBA changes the password: pending and drift at once.
    v.start(env={"VAULTD_TEST_CRASH": "after-pending"})
    v.ctl(["rotate", "s", "--wait"])
    check(v.proc.wait(timeout=60) == 99, "vaultd died at the crash point")
    v.stop()
    dba_set(user, "localhost", dba_pw)
    v.start()
    st = settle(v, "s", timeout=20)
    vs = versions(v, "s")
    check(any(x.get("state") == "pending" for x in vs),
          "a pending version no host holds: %r %r" % (st, vs))
    rc, out, err = v.ctl(["target", "set-password", "s"], dba_pw + "\n")
    check(rc == 0, "set-password is accepted over a pending version: %d %s"
          % (rc, err))
    vs = versions(v, "s")
    states = {x["version"]: x["state"] for x in vs}
    check(states.get(3) == "current" and states.get(2) == "previous" and
          states.get(1) == "previous" and "pending" not in states.values(),
          "the pending version is superseded (kept): %r" % states)
    check(v.get("s") == dba_pw, "get returns the imported password")
    v.stop()


def crashed_pending(v, name, step):
    """A rotation of name killed at step (vaultd exits 99)."""
    v.start(env={"VAULTD_TEST_CRASH": step})
    v.ctl(["rotate", name, "--wait"])
    check(v.proc.wait(timeout=60) == 99, "vaultd died at %s" % step)
    v.stop()


def stuck_pending(v, name, user, hosts):
    """Restarts vaultd after a crash with a DBA's password on every row:
    the resolution finds drift (current and pending refused) and, its
    refused logins at the budget, stops trying.  Returns the target's
    version states."""
    for h in hosts:
        dba_set(user, h, new_pw())
    v.start()
    end = time.time() + 30
    while time.time() < end and v.target_status(name).get("state") != \
            "drift":
        time.sleep(0.2)
    return {x["version"]: x["state"] for x in versions(v, name)}


def sc_abandon():
    user, pw = "engab", new_pw()
    hosts = ["localhost", "127.0.0.1"]
    E.make_user(user, pw, hosts)
    v = Vault(E, "abandon")
    v.start()
    v.add("a", user, pw, ",".join(hosts))
    v.stop()
    # Killed after the pending commit: version 2 never reached the server;
    # then the DBA changes the password, and later restores version 1.
    crashed_pending(v, "a", "after-pending")
    vs = stuck_pending(v, "a", user, hosts)
    check(vs.get(2) == "pending", "a pending version, in drift: %r" % vs)
    for h in hosts:
        dba_set(user, h, pw)
    rc, out, err = v.ctl(["target", "abandon", "a"])
    check(rc == 0 and "abandoned" in out and "not-held" in out,
          "abandon: %d %r %r" % (rc, out, err))
    vs = {x["version"]: x["state"] for x in versions(v, "a")}
    check(vs.get(2) == "failed" and vs.get(1) == "current",
          "version 2 failed, version 1 current: %r" % vs)
    check(v.get("a") == pw and E.login(user, pw), "get: version 1, which "
          "logs in")
    # The version in force is not an "old password" to an abandon.
    check("old password" not in out + json.dumps(v.history("a")[:2]),
          "no 'old password still accepted' note on the abandon: %r %r" %
          (out, v.history("a")[:2]))
    check(v.target_status("a").get("state") == "ok", "target ok")
    rc, out, err = v.ctl(["target", "abandon", "a"])
    check(rc == 4, "nothing pending any more: %d %s" % (rc, err))
    v.stop()
    # One the server holds is refused.
    crashed_pending(v, "a", "after-apply")
    vs = stuck_pending(v, "a", user, hosts)
    pend = [k for k, x in vs.items() if x == "pending"]
    check(len(pend) == 1, "a pending version, in drift: %r" % vs)
    held = v.get("a", pend[0]) if pend else None
    for h in hosts:
        dba_set(user, h, held or new_pw())
    rc, out, err = v.ctl(["target", "abandon", "a"])
    check(rc == 1 and "holds the pending version" in err,
          "abandon of a version the server holds is refused: %d %r" %
          (rc, err))
    check({x["version"]: x["state"] for x in versions(v, "a")} == vs,
          "nothing changed")
    ents = [e for e in audit(v) if e.get("event") == "target.abandon"]
    check(sorted(e.get("result") for e in ents) == [
        "failed", "failed", "ok", "requested", "requested", "requested"],
          "every abandon audited: %r" % [e.get("result") for e in ents])
    v.stop()


def audit(v):
    rc, out, err = v.ctl(["audit", "list", "--json", "--limit", "1000"])
    try:
        return json.loads(out) if rc == 0 else []
    except ValueError:
        return []


# --- cases 6, 7, 9: a rotation in flight ---------------------------------

class Hold:
    """Holds every write on the server (FLUSH TABLES WITH READ LOCK) for
    secs seconds in a session of its own: a SET PASSWORD waits behind it."""

    def __init__(self, secs):
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "--socket=" + E.mdb["MDB_SOCKET"],
             "-uroot", "-N", "-B", "-e",
             "FLUSH TABLES WITH READ LOCK; SELECT SLEEP(%d);" % secs],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)

    def wait(self):
        self.p.wait(timeout=120)


def ctl_bg(v, args):
    return subprocess.Popen([VAULTCTL, "--socket", v.sock] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sc_inflight():
    user, pw = "engif", new_pw()
    E.make_user(user, pw, ["localhost"])
    v = Vault(E, "inflight")
    v.start()
    v.add("f", user, pw, "localhost", extra=["--after-reveal", "3s"])
    # 1. get during a rotation returns the password in force after it.
    hold = Hold(4)
    rot = ctl_bg(v, ["rotate", "f", "--wait"])
    time.sleep(1)
    check(v.target_status("f").get("busy"), "the rotation is in flight")
    g = ctl_bg(v, ["get", "f"])
    # 2. remove while it runs is refused, and names why.
    rc, out, err = v.ctl(["target", "remove", "f"])
    check(rc != 0 and "running" in err, "remove during a rotation is "
          "refused: %d %r" % (rc, err))
    # 3. a reveal of the pending version (version 2) while it runs.
    rc, out, err = v.ctl(["get", "f", "--version", "2"], keep=False)
    check(rc == 0, "the pending version can be revealed: %d %s" % (rc, err))
    hold.wait()
    gout, gerr = g.communicate(timeout=120)
    rot.communicate(timeout=120)
    got = gout.decode().rstrip("\n")
    check(g.returncode == 0 and got != pw and E.login(user, got),
          "get during the rotation waited and returned the password in "
          "force: %d %r" % (g.returncode, gerr))
    # The disclosed version 2 was promoted: its after-reveal rotation
    # (3 s) still comes.
    h = v.wait_history("f", lambda h: h and h[0].get("version") == 3 and
                       h[0].get("result") == "ok", timeout=30)
    check(h and h[0].get("version") == 3 and h[0].get("trigger") ==
          "after-reveal", "the revealed pending version is replaced after "
          "its promotion: %r" % h[:3])
    # 4. remove --wait: waits for the running rotation, then removes.
    hold = Hold(3)
    rot = ctl_bg(v, ["rotate", "f", "--wait"])
    time.sleep(1)
    rm = ctl_bg(v, ["target", "remove", "f", "--wait"])
    hold.wait()
    rm.communicate(timeout=120)
    rot.communicate(timeout=120)
    check(rm.returncode == 0, "remove --wait succeeds after the rotation")
    h = v.history("f")
    check(h and h[0].get("version") == 4 and h[0].get("result") == "ok",
          "the rotation's outcome was recorded before the removal: %r" %
          h[:2])
    rc, out, err = v.ctl(["get", "f"], keep=False)
    check(rc != 0, "the target is gone")
    v.stop()


def sc_stopget():
    """SIGTERM while a get waits for a rotation held on the server: vaultd
    finishes the rotation, answers the get with the password in force (or
    an error), and exits 0 (a waiting reveal after the batch handle closed
    must not touch it)."""
    user, pw = "engsg", new_pw()
    E.make_user(user, pw, ["localhost"])
    v = Vault(E, "stopget")
    v.start()
    v.add("g", user, pw, "localhost")
    hold = Hold(3)
    rot = ctl_bg(v, ["rotate", "g", "--wait"])
    time.sleep(0.8)
    g = ctl_bg(v, ["get", "g"])
    time.sleep(0.5)
    v.proc.send_signal(signal.SIGTERM)
    hold.wait()
    gout, gerr = g.communicate(timeout=120)
    rot.communicate(timeout=120)
    rc = v.proc.wait(timeout=120)       # no second SIGTERM: it is stopping
    v.err.close()
    v.proc = None
    got = gout.decode().rstrip("\n")
    check(rc == 0, "vaultd exits 0 after answering: %r" % rc)
    check(g.returncode != 0 or E.login(user, got), "the waiting get "
          "answers with the password in force or an error: %d %r" %
          (g.returncode, gerr))


# --- case 12: a full disk after the server changed ------------------------

def sc_diskfull():
    with tmpfs(os.path.join(E.work, "tmpfs"), "3m") as mnt:
        diskfull(mnt)


def diskfull(mnt):
    user, pw = "engdf", new_pw()
    E.make_user(user, pw, ["localhost"])
    v = Vault(E, "diskfull", data_dir=mnt + "/data")
    v.start()
    v.add("d", user, pw, "localhost")
    # Rotations held on the server while the disk fills up: the pending
    # commit went through, the record of the outcome may not.  LMDB reuses
    # free pages first, so try until one rotation cannot be recorded.
    seen = None
    for i in range(60):
        hold = Hold(2)
        rot = ctl_bg(v, ["rotate", "d", "--wait"])
        time.sleep(0.8)
        fill(mnt + "/fill")
        hold.wait()
        out, err = rot.communicate(timeout=120)
        err = err.decode(errors="replace")
        if "cannot record" in err:
            seen = err
            break
        os.unlink(mnt + "/fill")
        settle(v, "d", timeout=30)
    check(seen is not None, "a rotation's outcome could not be recorded "
          "(the case under test happened)")
    log("unrecorded: %s" % (seen or "").strip())
    if seen is not None:
        check("stays pending" in seen, "the error says what happened: %r" %
              seen)
        st = v.target_status("d")
        check(st.get("state") == "unrecorded", "status says unrecorded: %r"
              % st)
        rc, out, err = v.ctl(["status", "--check"])
        check(rc == 2 and "CRITICAL" in out, "status --check is CRITICAL: "
              "%d %r" % (rc, out))
        # get needs room for its audit entry: refused, or the password in
        # force; never the one the server refuses.
        got = v.get("d")
        check(got is None or E.login(user, got), "get never hands out a "
              "refused password on a full disk")
        os.unlink(mnt + "/fill")
        # No restart: the engine records it once the disk allows.
        st = settle(v, "d", timeout=30)
        check(st.get("state") == "ok", "recorded once there is room: %r" %
              st)
    h = v.history("d")
    check(not [e for e in h if e.get("result") == "running"],
          "no history row stays running: %r" % h[:4])
    got = v.get("d")
    check(got is not None and E.login(user, got), "get's password logs in")
    v.stop()
    rc, out, err = v.audit_verify()
    check(rc == 0, "audit verify: %d %s" % (rc, err))


# --- servers of a scenario's own ----------------------------------------

def with_server(name, opts, fn, *more):
    """vdtest.with_server() beside this test's work directory."""
    vdtest.with_server(E, name, opts, fn, *more)


# --- case 1: a host the server does not listen on ------------------------

def sc_bind():
    with_server("engbind", "--bind-address=127.0.0.1", bind)


def bind(env):
    user, pw = "engroot", new_pw()
    hosts = ["localhost", "127.0.0.1", "::1"]
    env.make_user(user, pw, hosts, grant="ALL PRIVILEGES")
    v = Vault(env, "bind")
    v.start()
    v.add("b", user, pw, ",".join(hosts))
    rc, out, err = v.ctl(["rotate", "b", "--wait", "--json"])
    check(rc == 0, "the rotation succeeds: %d %s %s" % (rc, out, err))
    h = v.history("b")
    check(h and h[0].get("result") == "ok" and "::1=held" in
          h[0].get("hosts", ""), "::1 applied, its hash checked: %r" %
          h[:1])
    check(v.target_status("b").get("state") == "ok", "target ok")
    got = v.get("b")
    check(got is not None and got != pw and env.login(user, got) and
          env.login(user, got, "127.0.0.1"), "get's password logs in on "
          "every reachable host")
    # ::1's row got the same password (read through a session as root).
    rows = env.sql("SELECT COUNT(DISTINCT authentication_string) FROM "
                   "mysql.user WHERE user = %s;" % q(user)).strip()
    check(rows == "1", "every row of the account holds one password: %r" %
          rows)
    v.stop()


# --- case 2: resolution never re-applies a password in force --------------

def sc_reuse():
    with_server("engreuse", "--bind-address=127.0.0.1 "
                "--plugin-load-add=password_reuse_check "
                "--password-reuse-check-interval=0", reuse)


def reuse(env):
    user, pw = "engre", new_pw()
    hosts = ["localhost", "127.0.0.1", "::1"]
    # A validation plugin is loaded: strict_password_validation refuses a
    # hash, so this throwaway server (no logs) gets the plaintext.
    env.sql("".join("CREATE USER %s@%s IDENTIFIED BY %s; GRANT ALL "
                    "PRIVILEGES ON *.* TO %s@%s;" % (q(user), q(h), q(pw),
                                                     q(user), q(h))
                    for h in hosts))
    v = Vault(env, "reuse")
    v.start()
    v.add("r", user, pw, ",".join(hosts))
    v.stop()
    # The server takes version 2 on every row, then vaultd dies before
    # recording it.
    v.start(env={"VAULTD_TEST_CRASH": "after-apply"})
    v.ctl(["rotate", "r", "--wait"])
    check(v.proc.wait(timeout=60) == 99, "vaultd died at the crash point")
    v.stop()
    check(not env.login(user, pw), "the server took version 2")
    v.start()
    h = v.wait_history("r", lambda h: h and h[0].get("version") == 2 and
                       h[0].get("result") != "running", timeout=30)
    check(h and h[0].get("version") == 2 and h[0].get("result") == "ok" and
          h[0].get("trigger") == "recovery", "resolved, not refused as a "
          "reuse: %r" % h[:2])
    got = v.get("r")
    check(got is not None and got != pw and env.login(user, got) and
          env.login(user, got, "127.0.0.1"), "get hands out version 2")
    check("1819" not in v.logtext() and "reused" not in v.logtext(),
          "no reuse refusal in the log")
    v.stop()


# --- case 8: an account with two password methods -----------------------

def sc_twomethods():
    with_server("eng2m", "--plugin-load-add=auth_ed25519", twomethods)


def twomethods(env):
    user, pw = "eng2m", new_pw()
    env.sql("CREATE USER %s@'localhost' IDENTIFIED VIA ed25519 USING "
            "PASSWORD(%s) OR mysql_native_password USING %s;"
            "GRANT ALL PRIVILEGES ON *.* TO %s@'localhost';" % (
                q(user), q(pw), q(native_hash(pw)), q(user)))
    v = Vault(env, "twomethods")
    v.start()
    v.add("m", user, pw, "localhost")
    rc, out, err = v.ctl(["rotate", "m", "--wait"])
    check(rc == 0, "rotation: %d %s" % (rc, err))
    got = v.get("m")
    check(got is not None and env.login(user, got), "the new password "
          "logs in")
    check(not env.login(user, pw), "the old password is refused")
    show = env.sql("SHOW CREATE USER %s@'localhost';" % q(user))
    check(native_hash(pw) not in show and native_hash(got) in show and
          "ed25519" in show, "both methods changed, both kept: %r" % show)
    h = v.history("m")
    check(h and "still accepted" not in h[0].get("note", ""),
          "no old password left: %r" % h[:1])
    v.stop()


# --- case 11: a login that proves nothing ---------------------------------

def sc_socket():
    with_server("engsock", "", socketauth)


def socketauth(env):
    pw, dba = new_pw(), new_pw()
    # Debian's root: a password OR unix_socket.  As OS root, the socket
    # login works whatever the password.
    env.sql("ALTER USER 'root'@'localhost' IDENTIFIED VIA "
            "mysql_native_password USING %s OR unix_socket;" %
            q(native_hash(pw)))
    v = Vault(env, "socket", rotation="check_interval = 1s\n")
    v.start()
    rc, out, err = v.ctl(["target", "add", "s", "--unix-socket",
                          env.mdb["MDB_SOCKET"], "--user", "root",
                          "--account-hosts", "localhost"], "bogus\n")
    check(rc != 0, "target add with a wrong password is refused: %d %s" %
          (rc, out))
    v.add("s", "root", pw, "localhost")
    env.sql("SET PASSWORD FOR 'root'@'localhost' = %s;" %
            q(native_hash(dba)))
    end = time.time() + 15
    while time.time() < end and v.target_status("s").get("state") != \
            "drift":
        time.sleep(0.3)
    st = v.target_status("s")
    check(st.get("state") == "drift", "the DBA's change is drift, not "
          "'localhost=ok': %r" % st)
    v.stop()


# --- case 14: replicas ---------------------------------------------------

def sc_replica():
    with_server("engprim", "--server-id=1 --log-bin=@DIR@/binlog",
                replica_pair)


def replica_pair(prim):
    with_server("engrepl", "--server-id=2", replica, prim)


def replica(repl, prim):
    prim.sql("CREATE USER 'vdrepl'@'127.0.0.1' IDENTIFIED BY 'Repl-pw-1';"
             "GRANT REPLICATION SLAVE ON *.* TO 'vdrepl'@'127.0.0.1';")
    repl.sql("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %s,"
             " MASTER_USER = 'vdrepl', MASTER_PASSWORD = 'Repl-pw-1', "
             "MASTER_CONNECT_RETRY = 1; START SLAVE;" %
             prim.mdb["MDB_PORT"])
    user, pw = "engrp", new_pw()
    prim.make_user(user, pw, ["localhost"], grant="ALL PRIVILEGES")
    end = time.time() + 30
    while time.time() < end and not repl.login(user, pw):
        time.sleep(0.2)
    check(repl.login(user, pw), "the account replicated")
    key = os.path.join(prim.work, "customer.key")
    p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out", key],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "keygen: %s" % p.stderr.decode())
    v = Vault(prim, "replica", rotation="check_interval = 1s\n",
              extra="[escrow]\nmode = any\ncustomer = %s\n" %
              vdtest.pinned(key))
    v.start()
    v.add("p", user, pw, "localhost")
    rc, out, err = v.ctl(["target", "add", "rp", "--unix-socket",
                          repl.mdb["MDB_SOCKET"], "--user", user,
                          "--account-hosts", "localhost"], pw + "\n")
    check(rc == 0, "the replica registered: %s" % err)
    rc, out, err = v.ctl(["rotate", "rp", "--wait"])
    check(rc != 0 and "replica of 127.0.0.1:%s" % prim.mdb["MDB_PORT"] in
          err, "rotating the replica directly is refused, naming its "
          "primary: %d %r" % (rc, err))
    check(repl.login(user, pw) and prim.login(user, pw), "nothing changed")
    rc, out, err = v.ctl(["target", "remove", "rp"])
    check(rc == 0, "the undeclared replica removed: %s" % err)
    rc, out, err = v.ctl(["target", "add", "rq", "--unix-socket",
                          repl.mdb["MDB_SOCKET"], "--user", user,
                          "--account-hosts", "localhost", "--replica-of",
                          "p"], pw + "\n")
    check(rc == 0, "registered as a replica of p: %s" % err)
    rc, out, err = v.ctl(["rotate", "rq", "--wait"])
    check(rc != 0 and "replica of target p" in err, "rotating a declared "
          "replica is refused, naming its primary's target: %d %r" %
          (rc, err))
    # Break-glass of the replica's own version 1 (issue 14 item 8): the
    # opening, reported to vaultd, rotates the primary p (a rotation of
    # rq itself is refused, as above).
    fp = subprocess.run([VAULTCTL, "escrow", "vault-key", "--data-dir",
                         v.data, "--key-file", v.key], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE).stdout.decode().strip()
    p = subprocess.run([VAULTCTL, "--socket", v.sock, "breakglass",
                        "--data-dir", v.data, "--escrow-key", key,
                        "--vault-key", fp, "rq"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode()
    check(p.returncode == 0 and p.stdout.decode() == pw + "\n" and
          "reported to the vaultd running on" in err,
          "break-glass of the replica rq: %d %r" % (p.returncode, err))

    def bg_rotated(h):
        return any(e.get("trigger") == "breakglass" and
                   e.get("result") == "ok" for e in h)
    h = v.wait_history("p", bg_rotated, timeout=60)
    check(bg_rotated(h), "break-glass of the replica rotated its primary "
          "p: %r" % h[:2])
    rc, out, _ = v.ctl(["audit", "list", "--json", "--limit", "200"])
    ev = [e for e in json.loads(out) if e.get("event") == "breakglass"] \
        if rc == 0 else []
    check(ev and ev[0].get("target") == "rq" and ev[0].get("rotate") == "p",
          "the opening is audited for rq, rotating p: %r" % ev[:1])
    check("not started now" not in v.logtext(), "no refused rotation of "
          "the replica in the log")
    rc, out, err = v.ctl(["rotate", "p", "--wait"])
    got = v.get("p")
    check(rc == 0 and got and prim.login(user, got), "the primary rotates")
    end = time.time() + 30
    while time.time() < end and not repl.login(user, got):
        time.sleep(0.2)
    check(repl.login(user, got), "the primary's change reaches the replica")
    time.sleep(8)       # the replica's check after its primary's rotation
    st = v.target_status("rq")
    check(st.get("state") == "ok", "the declared replica is checked with "
          "its primary's password: no drift: %r" % st)
    check(v.history("rq") and all(e.get("result") != "drift" for e in
                                  v.history("rq")), "no drift row")
    got_rq = v.get("rq")
    check(got_rq == got and repl.login(user, got_rq), "get of the replica "
          "answers with the password in force")
    rc, out, err = v.ctl(["rotate", "--all", "--wait", "--json"])
    names = [x.get("name") for x in json.loads(out).get("results", [])] \
        if rc in (0, 1) and out else []
    check("rq" not in names and "p" in names, "rotate --all leaves the "
          "replica out: %r" % names)
    v.stop()


# --- issue 18: round trips learned once per target ----------------------

def sc_trips():
    with_server("engtrip", "--general-log=1 "
                "--general-log-file=@DIR@/general.log", trips)


def sessions(path):
    """The general log's statements per connection: {id: [user, [stmt]]}."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            # "[time]\t   ID Command\tArgument": the id and command share
            # the field before the argument.
            for i, fld in enumerate(parts):
                w = fld.split()
                # Not the time stamp that starts a new second's first line
                # ("201130 18:22:10": two words, the first all digits).
                if len(w) == 2 and w[0].isdigit() and w[1].isalpha():
                    cid, cmd = int(w[0]), w[1]
                    arg = "\t".join(parts[i + 1:])
                    if cmd == "Connect":
                        out[cid] = [arg.split("@")[0], []]
                    elif cmd == "Query" and cid in out:
                        out[cid][1].append(arg)
                    break
    return out


def trips(env):
    """A self-rotated account without SUPER: its first rotation asks for
    the replica status and tries sql_log_off, both refused; the next one
    asks neither (learned for the target), and no rotation asks for @@port
    (its only host is localhost, reached by the socket).  An account with
    SUPER still turns sql_log_off on in every rotation, so its SET PASSWORD
    never reaches the general log."""
    plain, sup = "engtrp", "engtrs"
    pws = {plain: new_pw(), sup: new_pw()}
    env.sql("CREATE USER %s@'localhost' IDENTIFIED BY %s;"
            "CREATE USER %s@'localhost' IDENTIFIED BY %s;"
            "GRANT SUPER ON *.* TO %s@'localhost';" % (
                q(plain), q(pws[plain]), q(sup), q(pws[sup]), q(sup)))
    v = Vault(env, "trips")
    v.start()
    v.add("p", plain, pws[plain], "localhost")
    v.add("s", sup, pws[sup], "localhost")
    for _ in range(2):
        for name in ("p", "s"):
            rc, out, err = v.ctl(["rotate", name, "--wait"])
            check(rc == 0, "rotation of %s: %d %s" % (name, rc, err))
    for name, user in (("p", plain), ("s", sup)):
        got = v.get(name)
        check(got is not None and env.login(user, got),
              "%s: the new password logs in" % name)
    v.stop()
    log_ = sessions(os.path.join(env.mdb["MDB_DIR"], "general.log"))
    mains = [st for cid, (u, st) in sorted(log_.items())
             if u == plain and any("SET PASSWORD" in x for x in st)]
    check(len(mains) == 2, "two rotation sessions of %s: %r" %
          (plain, mains))
    if len(mains) == 2:
        first, second = mains
        check(any("SHOW ALL SLAVES STATUS" in x for x in first) and
              any("sql_log_off" in x for x in first),
              "the first rotation asks: %r" % first)
        check(not any("SHOW ALL SLAVES STATUS" in x or "sql_log_off" in x
                      for x in second),
              "the second does not ask again: %r" % second)
    # Issue 18: a steady-state self-rotation sends three statements in
    # all.  The main session: SHOW CREATE USER (no name: the row it
    # matched and its methods at once), then the change.  The verify
    # probe: SHOW CREATE USER (which row, and its proof; the old password
    # is checked on what it read, not on the main session afterwards).
    steady = steady_trips(log_, plain)
    check(len(steady) == 2, "two rotations with their probes: %r" %
          steady)
    for main, probe in steady[1:]:
        check(len(main) == 2 and main[0] == "SHOW CREATE USER" and
              main[1].startswith("SET PASSWORD FOR "),
              "the main session sends SHOW CREATE USER and SET PASSWORD "
              "only: %r" % main)
        check(probe == ["SHOW CREATE USER"], "the probe sends SHOW CREATE "
              "USER only: %r" % probe)
    for main, probe in steady[:1]:
        rest = [x for x in main if "SLAVES" not in x and "sql_log_off"
                not in x]
        check(len(rest) == 2 and rest[0] == "SHOW CREATE USER" and
              rest[1].startswith("SET PASSWORD FOR ") and
              probe == ["SHOW CREATE USER"], "the first rotation adds "
              "only the replica status and sql_log_off: %r %r" %
              (main, probe))
    everything = [x for _, (u, st) in log_.items() for x in st]
    # target add learns the server's identity once (@@hostname, @@port,
    # @@datadir: duplicate registration); rotations ask for neither.
    check(not any(("@@port" in x or "@@read_only" in x) and
                  "@@hostname" not in x for x in everything),
          "no @@port or @@read_only for localhost-only targets")
    sup_offs = [st for _, (u, st) in log_.items() if u == sup and
                any("sql_log_off" in x for x in st)]
    check(len(sup_offs) == 2, "sql_log_off in both rotations of the SUPER "
          "account: %d" % len(sup_offs))
    check(not any("SET PASSWORD" in x and sup in x for x in everything),
          "no SET PASSWORD of the SUPER account in the general log")


# --- issue 18: learned once per target, kept across restarts -----------

def sc_learned():
    with_server("englrn", "--general-log=1 "
                "--general-log-file=@DIR@/general.log", learned)


def learned(env):
    """Rotation 1 asks for the replica status and sql_log_off (both
    refused: no SUPER); after a restart of vaultd rotation 2 asks neither
    (kept in the schedule record); after `target set` (the record changed,
    the account may have) rotation 3 asks again."""
    user, pw = "englrn", new_pw()
    env.sql("CREATE USER %s@'localhost' IDENTIFIED BY %s;" % (q(user), q(pw)))
    v = Vault(env, "learned")
    v.start()
    v.add("l", user, pw, "localhost")
    logf = os.path.join(env.mdb["MDB_DIR"], "general.log")

    def rotate_and_ask():
        rc, out, err = v.ctl(["rotate", "l", "--wait"])
        check(rc == 0, "rotation of l: %d %s" % (rc, err))
        mains = [st for cid, (u, st) in sorted(sessions(logf).items())
                 if u == user and any("SET PASSWORD" in x for x in st)]
        last = mains[-1] if mains else []
        return (any("SHOW ALL SLAVES STATUS" in x for x in last),
                any("sql_log_off" in x for x in last))

    check(rotate_and_ask() == (True, True), "rotation 1 asks both")
    v.stop()
    v.start()
    check(rotate_and_ask() == (False, False), "after a restart, rotation 2 "
          "asks neither (learned, kept)")
    rc, out, err = v.ctl(["target", "set", "l", "--every", "45d"])
    check(rc == 0, "target set: %d %s" % (rc, err))
    check(rotate_and_ask() == (True, True), "after target set, rotation 3 "
          "asks again")
    check(rotate_and_ask() == (False, False), "rotation 4 has learned")
    # Forgotten in the store too: a restart right after target set asks.
    rc, out, err = v.ctl(["target", "set", "l", "--every", "40d"])
    check(rc == 0, "target set: %d %s" % (rc, err))
    v.stop()
    v.start()
    check(rotate_and_ask() == (True, True), "target set, restart: "
          "rotation 5 asks again")
    got = v.get("l")
    check(got is not None and env.login(user, got), "the password logs in")
    v.stop()


# --- issue 18: [rotation] concurrency is the number of rotations at once --

def self_targets(env, prefix, n, name, conc):
    """n self-rotating accounts prefixN@localhost, each a target of a new
    started vault with [rotation] concurrency = conc: (vault, users,
    passwords)."""
    users = ["%s%d" % (prefix, i) for i in range(n)]
    pws = {u: new_pw() for u in users}
    env.sql("".join("CREATE USER %s@'localhost' IDENTIFIED BY %s;" %
                    (q(u), q(pws[u])) for u in users))
    v = Vault(env, name, rotation="concurrency = %d\n" % conc)
    v.start()
    for u in users:
        v.add(u, u, pws[u], "localhost")
    return v, users, pws


def hold_writes(env):
    """A root session holding FLUSH TABLES WITH READ LOCK (every SET
    PASSWORD waits) until "UNLOCK TABLES;" is written to its stdin."""
    lock = subprocess.Popen(["mariadb", "--no-defaults", "--socket=" +
                             env.mdb["MDB_SOCKET"], "-uroot"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    lock.stdin.write(b"FLUSH TABLES WITH READ LOCK;\n")
    lock.stdin.flush()
    time.sleep(0.5)
    return lock


def in_set_password(env, prefix):
    """How many sessions of prefix* accounts wait in SET PASSWORD."""
    return int(env.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                       "WHERE USER LIKE '%s%%' AND INFO LIKE "
                       "'SET PASSWORD%%';" % prefix).strip() or 0)


def sc_concurrency():
    with_server("engconc", "", concurrency)


def concurrency(env):
    """Seven targets, [rotation] concurrency = 3, the server's writes held
    by FLUSH TABLES WITH READ LOCK: `rotate --all` has exactly 3 sessions
    waiting in SET PASSWORD (not 1: the limit was once ignored and every
    job ran alone; not more: the limit holds); released, all 7 rotate."""
    n, conc = 7, 3
    v, users, pws = self_targets(env, "engcc", n, "conc", conc)
    lock = hold_writes(env)
    allp = subprocess.Popen([VAULTCTL, "--socket", v.sock, "rotate",
                             "--all", "--wait", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    try:
        end = time.time() + 20
        while time.time() < end:
            seen.append(in_set_password(env, "engcc"))
            if seen[-1] >= conc:
                break
            time.sleep(0.1)
        time.sleep(1.5)     # more than the limit would have come by now
        seen.append(in_set_password(env, "engcc"))
    finally:
        lock.stdin.write(b"UNLOCK TABLES;\n")
        lock.stdin.close()
        lock.wait(timeout=60)
    out, err = allp.communicate(timeout=120)
    check(max(seen) == conc and seen[-1] == conc,
          "exactly %d rotations wait at once: most %d, last %d, first "
          "%r" % (conc, max(seen), seen[-1], seen[:5]))
    check(allp.returncode == 0, "rotate --all: %d %s" % (
        allp.returncode, err.decode()[:300]))
    for u in users:
        got = v.get(u)
        check(got is not None and got != pws[u] and env.login(u, got),
              "%s: the new password logs in" % u)
    # A SIGHUP past the thread pool sized at start says what holds.
    with open(v.conf) as f:
        conf = f.read()
    with open(v.conf, "w") as f:
        f.write(conf.replace("concurrency = %d" % conc, "concurrency = 9"))
    v.proc.send_signal(signal.SIGHUP)
    end = time.time() + 20
    while time.time() < end and "concurrency = 9: " not in v.logtext():
        time.sleep(0.1)
    check("concurrency = 9: %d at once until vaultd restarts" % conc in
          v.logtext(), "a SIGHUP past the pool names the limit in force")
    v.stop()


# --- issue 18: jobs prepared ahead and held for a slot --------------------

def sc_ahead():
    with_server("engahd", "", ahead)


def ahead(env):
    """concurrency = 2, six targets, the server's writes held (FLUSH TABLES
    WITH READ LOCK): 2 sessions wait in SET PASSWORD, and 4 targets are
    pending (2 running, 2 prepared ahead and held: their pending versions
    committed before any touches the server).  Round 1 kills vaultd
    (SIGKILL) there; round 2 stops it (SIGTERM) there, and the held jobs
    run and finish before it exits.  Either way every target ends with a
    password that logs in and no history row left running."""
    n, conc = 6, 2
    v, users, pws = self_targets(env, "engah", n, "ahead", conc)
    for rnd, sig in ((1, signal.SIGKILL), (2, signal.SIGTERM)):
        lock = hold_writes(env)
        rc, out, err = v.ctl(["rotate", "--all"])
        check(rc == 0, "round %d: rotate --all: %d %s" % (rnd, rc, err))
        pend, sessions_ = [], 0
        end = time.time() + 20
        while time.time() < end:
            sessions_ = in_set_password(env, "engah")
            pend = [u for u in users if any(
                x.get("state") == "pending" for x in versions(v, u))]
            if sessions_ >= conc and len(pend) >= 2 * conc:
                break
            time.sleep(0.1)
        check(sessions_ == conc, "round %d: %d sessions wait in SET "
              "PASSWORD (the limit)" % (rnd, sessions_))
        check(len(pend) == 2 * conc, "round %d: %d targets pending (%d "
              "running, as many prepared ahead and held): %r" % (
                  rnd, len(pend), conc, pend))
        st = v.status()
        check((st.get("rotations_running"), st.get("rotations_prepared")) ==
              (conc, conc), "round %d: status counts %d running and %d "
              "prepared: %r" % (rnd, conc, conc, (
                  st.get("rotations_running"),
                  st.get("rotations_prepared"))))
        if sig == signal.SIGKILL:
            v.stop(signal.SIGKILL)
            lock.stdin.write(b"UNLOCK TABLES;\n")
        else:
            before = len(v.logtext())
            v.proc.send_signal(signal.SIGTERM)
            time.sleep(1)
            lock.stdin.write(b"UNLOCK TABLES;\n")
            lock.stdin.flush()
            # Not v.stop(): a second SIGTERM after the handlers closed
            # would kill it.
            v.proc.wait(timeout=120)
            v.err.close()
            v.proc = None
            done = re.findall(r"(engah\d): rotated to version",
                              v.logtext()[before:])
            check(sorted(done) == sorted(pend), "round 2: after SIGTERM "
                  "the running and the held jobs finished before vaultd "
                  "exited: %r, pending were %r" % (done, pend))
        lock.stdin.close()
        lock.wait(timeout=60)
        if sig == signal.SIGTERM:
            # Stopped with the held jobs run to their end: nothing pending
            # was left for the next start.
            v.start()
            left = [u for u in users if any(
                x.get("state") == "pending" for x in versions(v, u))]
            check(left == [], "round 2: the held jobs ran and finished "
                  "at stop, before vaultd exited: still pending %r" % left)
        else:
            v.start()
        for u in users:
            st = settle(v, u)
            check(st.get("state") == "ok", "round %d: %s ends ok: %r" % (
                rnd, u, st))
            got = v.get(u)
            check(got is not None and env.login(u, got),
                  "round %d: %s's password in the vault logs in" % (rnd, u))
            h = v.history(u)
            check(not any(x.get("result") == "running" for x in h),
                  "round %d: no history row of %s left running" % (rnd, u))
    v.stop()
def steady_trips(log_, user, change="SET PASSWORD"):
    """Each rotation of user in the general log: (its main session's
    statements, the statements of the next session of user: the verify
    probe)."""
    ids = sorted(cid for cid, (u, _) in log_.items() if u == user)
    out = []
    for k, cid in enumerate(ids):
        st = log_[cid][1]
        if any(x.startswith(change) for x in st) and k + 1 < len(ids):
            out.append((st, log_[ids[k + 1]][1]))
    return out


def sc_trips3():
    with_server("engtrip3", "--general-log=1 --plugin-load-add=auth_ed25519 "
                "--general-log-file=@DIR@/general.log", trips3)


def trips3(env):
    """Issue 18, the round trips cut: an account with two password
    methods (ed25519 OR mysql_native_password) still rotates by ALTER USER
    with both methods kept, through the cached SHOW CREATE USER (main:
    SHOW CREATE USER, ALTER USER; probe: SHOW CREATE USER).  The note "old
    password still accepted" still comes when the old password stays valid:
    here init_connect sets it back at every login of the account, so the
    verify probe's session reads the old hash."""
    two, back = "engtr2", "engtr3"
    pws = {two: new_pw(), back: new_pw()}
    env.sql("CREATE USER %s@'localhost' IDENTIFIED VIA ed25519 USING "
            "PASSWORD(%s) OR mysql_native_password USING %s;"
            "GRANT CREATE USER ON *.* TO %s@'localhost';"
            "CREATE USER %s@'localhost' IDENTIFIED BY %s;" % (
                q(two), q(pws[two]), q(native_hash(pws[two])), q(two),
                q(back), q(pws[back])))
    v = Vault(env, "trips3")
    v.start()
    v.add("m", two, pws[two], "localhost")
    v.add("b", back, pws[back], "localhost")
    olds = [pws[two]]
    for _ in range(2):
        rc, out, err = v.ctl(["rotate", "m", "--wait"])
        check(rc == 0, "rotation of the two-method account: %d %s" %
              (rc, err))
        olds.append(v.get("m"))
    got = olds[-1]
    check(got is not None and env.login(two, got), "the new password logs "
          "in")
    check(not any(env.login(two, p) for p in olds[:-1]), "no old password "
          "logs in")
    show = env.sql("SHOW CREATE USER %s@'localhost';" % q(two))
    check("ed25519" in show and native_hash(got) in show and
          not any(native_hash(p) in show for p in olds[:-1]),
          "both methods kept, both changed: %r" % show)
    h = v.history("m")
    check(h and "still accepted" not in h[0].get("note", ""),
          "no old password left: %r" % h[:1])

    # The old password comes back at every login of the account.
    env.sql("SET GLOBAL init_connect = %s;" % q(
        "SET PASSWORD = '%s'" % native_hash(pws[back])))
    try:
        rc, out, err = v.ctl(["rotate", "b", "--wait"])
    finally:
        env.sql("SET GLOBAL init_connect = '';")
    check(rc == 0, "rotation of the account set back: %d %s" % (rc, err))
    h = v.history("b")
    check(h and "old password still accepted on localhost" in
          h[0].get("note", ""), "the note names the row that keeps the "
          "old password: %r" % h[:1])
    v.stop()

    log_ = sessions(os.path.join(env.mdb["MDB_DIR"], "general.log"))
    steady = steady_trips(log_, two, "ALTER USER")
    check(len(steady) == 2, "two rotations with their probes: %r" %
          steady)
    for main, probe in steady[1:]:
        check(len(main) == 2 and main[0] == "SHOW CREATE USER" and
              main[1].startswith("ALTER USER "), "the main session sends "
              "SHOW CREATE USER and ALTER USER only: %r" % main)
        check(probe == ["SHOW CREATE USER"], "the probe sends SHOW CREATE "
              "USER only: %r" % probe)


# --- issue 18: escrow sealed ahead, on the thread pool ------------------

def breakglass(v, key, fp, name):
    """The password vaultctl breakglass opens offline for name's current
    version with key (None when it cannot)."""
    p = subprocess.run([VAULTCTL, "breakglass", "--data-dir", v.data,
                        "--escrow-key", key, "--vault-key", fp, name],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.stdout.decode().rstrip("\n") if p.returncode == 0 else None


def sc_sealahead():
    """Rotations queued behind the concurrency limit have their password
    sealed on the thread pool before their pending commit: every envelope
    opens to the password in force, and a SIGHUP that removes a party
    while rotations wait leaves no version it can open."""
    keys = {}
    kdir = os.path.join(E.work, "sealahead-keys")
    os.mkdir(kdir, 0o700)
    for party in ("customer", "vendor"):
        keys[party] = os.path.join(kdir, "%s.key" % party)
        p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out",
                            keys[party]], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        check(p.returncode == 0, "keygen: %s" % p.stderr.decode())
    both = "[escrow]\nmode = any\ncustomer = %s\nvendor = %s\n" % (
        vdtest.pinned(keys["customer"]), vdtest.pinned(keys["vendor"]))
    v = Vault(E, "sealahead", rotation="concurrency = 2\n", extra=both)
    v.start()
    names = ["sa%02d" % i for i in range(24)]
    for n in names:
        pw = new_pw()
        E.make_user("eng" + n, pw, ["localhost"])
        v.add(n, "eng" + n, pw, "localhost")
    fp = subprocess.run([VAULTCTL, "escrow", "vault-key", "--data-dir",
                         v.data, "--key-file", v.key], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE).stdout.decode().strip()
    rc, out, err = v.ctl(["rotate", "--all", "--wait"])
    check(rc == 0, "rotate --all: %d %s" % (rc, err))
    cur = {n: v.get(n) for n in names}
    v.stop()
    m = re.search(r"(\d+) versions were sealed to escrow ahead",
                  v.logtext())
    check(m is not None and int(m.group(1)) > 0, "queued rotations took "
          "envelopes sealed on the thread pool: %r" %
          (m.group(0) if m else None))
    for n in names:
        for party in ("customer", "vendor"):
            got = breakglass(v, keys[party], fp, n)
            check(got is not None and got == cur[n] and
                  E.login("eng" + n, got), "%s's envelope of %s opens to "
                  "the password in force" % (party, n))
    # The vendor removed, then added back, by SIGHUP while rotations wait
    # in the queue with passwords sealed ahead to the parties before (the
    # server's writes held: the first ones hang in SET PASSWORD).
    with open(v.conf) as f:
        conf = f.read()
    vendor = "vendor = %s\n" % vdtest.pinned(keys["vendor"])
    for step, text in (("removed", conf.replace(vendor, "")),
                       ("added", conf)):
        v.start()
        hold = Hold(4)
        p = ctl_bg(v, ["rotate", "--all", "--wait"])
        time.sleep(1)   # queued, sealed ahead (a test of order, not speed)
        with open(v.conf, "w") as f:
            f.write(text)
        v.proc.send_signal(signal.SIGHUP)
        hold.wait()
        p.communicate(timeout=300)
        # The party change made every target due (escrow-rotate): wait
        # until those ran too, so nothing rotates between get and stop.
        quiesce(v, names)
        cur = {n: v.get(n) for n in names}
        v.stop()
        for n in names:
            got = breakglass(v, keys["vendor"], fp, n)
            if step == "removed":
                check(got is None, "the removed vendor cannot open %s's "
                      "password in force" % n)
            else:
                check(got == cur[n], "the vendor added back opens %s's "
                      "password in force" % n)
            got = breakglass(v, keys["customer"], fp, n)
            check(got is not None and got == cur[n], "the customer opens "
                  "%s's password in force (vendor %s)" % (n, step))

SCENARIOS = [("window", sc_window), ("lockout", sc_lockout),
             ("setpw", sc_setpw), ("abandon", sc_abandon),
             ("inflight", sc_inflight), ("stopget", sc_stopget),
             ("diskfull", sc_diskfull), ("bind", sc_bind),
             ("reuse", sc_reuse), ("twomethods", sc_twomethods),
             ("socket", sc_socket), ("replica", sc_replica),
             ("trips", sc_trips), ("trips3", sc_trips3),
             ("learned", sc_learned), ("concurrency", sc_concurrency),
             ("ahead", sc_ahead),
             ("sealahead", sc_sealahead)]


if __name__ == "__main__":
    vdtest.main(SCENARIOS, ONLY, E)
