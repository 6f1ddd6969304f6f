#!/usr/bin/env python3
"""test_lock.py - one vaultd per data directory (issue 13 item 13, issue 16
"One writer, enforced"): real vaultd, real mariadbd ("main" fixture, with
throwaway users of its own).

usage: test_lock.py VAULTD VAULTCTL [SCENARIO...]
Scenarios (default: all):
  second    vaultd A serves a target; B on the same data directory with
            another socket and a key file that does not exist exits 1 at
            once, its error names A's pid (the lock, not the key: B never
            got as far as the key), B binds no socket, A keeps serving and
            its password logs in; the lock file is 0600 with A's pid in it
  samesock  the same with the same socket: refused by the lock, and A's
            socket is left alone (still answering)
  takeover  A is SIGKILLed: B on the same data directory starts at once,
            holds the lock and serves the password that logs in
  symlink   a symlink planted as vaultd.lock is not followed: vaultd
            refuses to start, naming it, and the link's target is
            untouched; once removed, vaultd starts
  user      [vault] user: started as root, running as nobody, vaultd still
            holds the lock (the descriptor survives setuid): a second
            vaultd is refused naming its pid; the lock file is nobody's
  fulldisk  the data directory on a full tmpfs: vaultd starts and holds
            the lock though it cannot write its pid (a second one is
            refused, "pid unknown"); with room again the pid is written
Standard library only; passwords only ever travel on stdin or in 0600
option files.
"""
import os
import secrets
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vdtest import (Env, Vault, check, fill, finish, log,  # noqa: E402
                    run_scenarios, stop_all, tmpfs)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
E = Env(VAULTD, VAULTCTL, "vdlock.")
TAG = secrets.token_hex(3)      # the "main" server is shared: unique users


def new_pw():
    return "Lck#" + secrets.token_hex(10) + "'\\;"


def second_conf(v, name, sock=None, key=None, extra=""):
    """A config for another vaultd on v's data directory: its own socket
    (or sock), key file key (default: one that does not exist)."""
    d = os.path.join(v.dir, name)
    os.mkdir(d, 0o700)
    conf = os.path.join(d, "vaultd.conf")
    with open(conf, "w") as f:
        f.write("[vault]\ndata_dir = %s\nkey_file = %s\nsocket = %s\n%s\n"
                "[access]\nadmin = root\n" %
                (v.data, key or os.path.join(d, "no-such.key"),
                 sock or os.path.join(d, "vaultd.sock"), extra))
    os.chmod(conf, 0o600)
    return conf, sock or os.path.join(d, "vaultd.sock")


def run_second(conf, timeout=20):
    """Runs a vaultd that must refuse; returns (exit status, stderr).  The
    timeout is a bound on waiting for it, not an assertion about time."""
    try:
        p = subprocess.run([VAULTD, "--config", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b"").decode(errors="replace")
    return p.returncode, p.stderr.decode(errors="replace")


def lock_path(v):
    return os.path.join(v.data, "vaultd.lock")


def serving(v, name):
    """A started, unlocked vault with one target on a real account;
    returns (user, password)."""
    user = "vlk%s%s" % (name[:4], TAG)
    pw = new_pw()
    E.make_user(user, pw, ["localhost"])
    v.start()
    v.add(name, user, pw)
    return user, pw


def in_use(err, pid):
    return ("is in use by vaultd (pid %d); one vaultd per data directory"
            % pid) in err


def sc_second():
    v = Vault(E, "second")
    user, pw = serving(v, "t")
    conf, sock = second_conf(v, "b")
    rc, err = run_second(conf)
    log("B: exit %r: %s" % (rc, err.strip()))
    check(rc == 1, "B exits 1: %r" % rc)
    check(in_use(err, v.proc.pid), "B names A's pid %d: %s" %
          (v.proc.pid, err))
    check("key" not in err.lower(),
          "B stopped at the lock, before the key file: %s" % err)
    check(not os.path.exists(sock), "B bound no socket")
    check(v.proc.poll() is None, "A still runs")
    cur = v.get("t")
    check(cur is not None and E.login(user, cur),
          "A still serves a password that logs in")
    st = os.lstat(lock_path(v))
    check(st.st_mode & 0o7777 == 0o600, "lock file mode %o" %
          (st.st_mode & 0o7777))
    with open(lock_path(v)) as f:
        text = f.read()
    check(text.split()[:1] == [str(v.proc.pid)],
          "the lock file names A: %r" % text)
    check(pw not in text and (cur or "x") not in text,
          "no password in the lock file")
    check(v.stop() == 0, "A stops cleanly")


def sc_samesock():
    v = Vault(E, "samesock")
    user, pw = serving(v, "t")
    conf, sock = second_conf(v, "b", sock=v.sock)
    ino = os.stat(v.sock).st_ino
    rc, err = run_second(conf)
    check(rc == 1 and in_use(err, v.proc.pid),
          "B on the same socket is refused by the lock: %r %s" % (rc, err))
    check("key" not in err.lower() and "listens" not in err,
          "refused before the key file and the socket: %s" % err)
    check(os.path.exists(v.sock) and os.stat(v.sock).st_ino == ino,
          "A's socket is left alone")
    rc, out, err = v.ctl(["status"], keep=False)
    check(rc == 0, "A still answers on its socket: %d %s" % (rc, err))
    check(v.stop() == 0, "A stops cleanly")


def sc_takeover():
    v = Vault(E, "takeover")
    user, pw = serving(v, "t")
    rc, out, err = v.ctl(["rotate", "t", "--wait"])
    check(rc == 0, "a rotation by A: %d %s" % (rc, err))
    conf, sock = second_conf(v, "b", key=v.key)
    a = v.proc.pid
    v.stop(signal.SIGKILL)
    log("A (pid %d) killed" % a)
    b = subprocess.Popen([VAULTD, "--config", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    up = False
    for _ in range(400):        # a bound on waiting, not a timing claim
        if b.poll() is not None:
            break
        if os.path.exists(sock):
            rc, _, _ = v.run_ctl(["--socket", sock, "status"], keep=False)
            if rc == 0:
                up = True
                break
        time.sleep(0.05)
    check(up, "B starts once A is dead: %s" % (
        "" if up or b.poll() is None else b.communicate()[1].decode()))
    if up:
        with open(lock_path(v)) as f:
            check(f.read().split()[:1] == [str(b.pid)],
                  "the lock file now names B")
        rc, out, err = v.run_ctl(["--socket", sock, "get", "t"], keep=False)
        check(rc == 0 and E.login(user, out.rstrip("\n")),
              "B serves the password that logs in: %d %s" % (rc, err))
        # And now A, restarted, is the one refused.
        rc, err = run_second(v.conf)
        check(rc == 1 and in_use(err, b.pid), "A refused while B runs: %r %s"
              % (rc, err))
    if b.poll() is None:
        b.send_signal(signal.SIGTERM)
    b.communicate(timeout=60)
    check(b.returncode == 0, "B stops cleanly: %r" % b.returncode)


def sc_symlink():
    v = Vault(E, "symlink")
    user, pw = serving(v, "t")
    check(v.stop() == 0, "A stops cleanly")
    victim = os.path.join(v.dir, "victim")
    with open(victim, "w") as f:
        f.write("untouched\n")
    os.chmod(victim, 0o644)
    os.unlink(lock_path(v))
    os.symlink(victim, lock_path(v))
    rc, err = run_second(v.conf)
    check(rc == 1 and "symbolic link" in err and "vaultd.lock" in err,
          "a symlinked lock file is refused: %r %s" % (rc, err))
    with open(victim) as f:
        check(f.read() == "untouched\n", "the link's target is untouched")
    st = os.stat(victim)
    check(st.st_mode & 0o7777 == 0o644 and st.st_uid == 0,
          "the link's target keeps its mode and owner")
    os.unlink(lock_path(v))
    v.start()
    check(not os.path.islink(lock_path(v)) and
          os.lstat(lock_path(v)).st_mode & 0o7777 == 0o600,
          "a plain 0600 lock file once the link is gone")
    check(v.stop() == 0, "A stops cleanly")


def sc_user():
    if os.geteuid() != 0:
        log("user: not root, skipped")
        return
    os.chmod(E.work, 0o711)
    v = Vault(E, "user")
    os.chmod(v.dir, 0o711)
    with open(v.conf) as f:
        conf = f.read()
    with open(v.conf, "w") as f:
        f.write(conf.replace("[vault]\n", "[vault]\nuser = nobody\n", 1))
    subprocess.run(["chown", "-R", "nobody", v.data], check=True)
    v.start()
    with open("/proc/%d/status" % v.proc.pid) as f:
        uids = [ln.split()[1:] for ln in f if ln.startswith("Uid:")][0]
    check(uids[:2] == ["65534", "65534"], "vaultd runs as nobody: %r" % uids)
    st = os.lstat(lock_path(v))
    check(st.st_uid == 65534 and st.st_mode & 0o7777 == 0o600,
          "the lock file is nobody's, 0600: uid %d mode %o" %
          (st.st_uid, st.st_mode & 0o7777))
    conf2, sock = second_conf(v, "b")
    rc, err = run_second(conf2)
    check(rc == 1 and in_use(err, v.proc.pid),
          "the lock survives the drop to nobody: %r %s" % (rc, err))
    check(v.stop() == 0, "vaultd as nobody exits 0")
    os.chmod(E.work, 0o700)


def sc_fulldisk():
    if os.geteuid() != 0:
        log("fulldisk: not root (mount), skipped")
        return
    with tmpfs(os.path.join(E.work, "tmpfs"), "2m") as mnt:
        fulldisk(mnt)


def fulldisk(mnt):
    v = Vault(E, "fulldisk", data_dir=mnt + "/data")
    fill(mnt + "/ballast")
    check(not os.path.exists(lock_path(v)), "no lock file before the start")
    v.start()
    st = os.lstat(lock_path(v))
    log("full disk: vaultd started, lock file %d bytes" % st.st_size)
    check(st.st_size == 0, "the full disk kept our pid out: %d bytes" %
          st.st_size)
    check("cannot record our pid" in v.logtext(), "the log says why")
    conf, sock = second_conf(v, "b")
    rc, err = run_second(conf)
    check(rc == 1 and "is in use by vaultd (pid unknown); one vaultd per "
          "data directory" in err,
          "still locked, the holder unnamed: %r %s" % (rc, err))
    os.unlink(mnt + "/ballast")
    check(v.stop() == 0, "A stops cleanly")
    v.start()
    with open(lock_path(v)) as f:
        check(f.read().split()[:1] == [str(v.proc.pid)],
              "with room again the lock file names the holder")
    check(v.stop() == 0, "A stops cleanly")


SCENARIOS = [("second", sc_second), ("samesock", sc_samesock),
             ("takeover", sc_takeover), ("symlink", sc_symlink),
             ("user", sc_user), ("fulldisk", sc_fulldisk)]


def main():
    ran = run_scenarios(SCENARIOS, ONLY, after=stop_all)
    E.sql("".join("DROP USER IF EXISTS 'vlk%s%s'@'localhost';" % (n, TAG)
                  for n in ("t",)))
    E.cleanup()
    finish(ran)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
