#!/usr/bin/env python3
"""soak.py - crash soak (issue 7), run by scripts/soak.sh.

usage: soak.py VAULTD VAULTCTL SECONDS MARIADB_SH
Starts a throwaway MariaDB of its own, 50 accounts rotated by vaultd's
scheduler every 3 seconds (concurrency 4), and for SECONDS kills vaultd
(SIGKILL, restarted at once) or mariadbd (SIGKILL via mariadb.sh crash,
restarted after up to 2 s) at random moments.  At the end: a calm restart
with scheduled rotations paused, pending versions resolved, then every
target's stored password must log in, no account may be locked out (no
version the vault knows logs in), and `vaultctl audit verify` must pass.
Prints the figures; exits 1 on any failure.  VD_SOAK_SEED fixes the
random sequence.
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
from vdtest import FAILS, Env, Vault, check, log, stop_all  # noqa

N = 50


def main():
    vaultd, vaultctl, seconds, mariadb_sh = sys.argv[1:5]
    seconds = float(seconds)
    seed = int(os.environ.get("VD_SOAK_SEED", str(os.getpid())))
    rnd = random.Random(seed)
    envdir = tempfile.mkdtemp(prefix="vdsoakenv.")
    envfile = os.path.join(envdir, "mdb.env")

    def mdb(cmd):
        p = subprocess.run(["sh", mariadb_sh, cmd, "soak", envfile],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(p.returncode == 0, "mariadb.sh %s: %s" % (cmd,
                                                        p.stdout.decode()))

    mdb("start")
    try:
        E = Env(vaultd, vaultctl, "vdsoak.", envfile)
        run(E, seconds, rnd, mdb, seed)
        E.cleanup()
    finally:
        stop_all()
        mdb("stop")
        os.rmdir(envdir)
    for f in FAILS:
        print("  " + f)
    sys.exit(1 if FAILS else 0)


def run(E, seconds, rnd, mdb, seed):
    pws = {}
    for i in range(N):
        pws[i] = "Soak#" + secrets.token_hex(10) + "'\\;"
        E.make_user("vsk%02d" % i, pws[i], ["localhost"])
    rot = ("concurrency = 4\nretry_min = 1s\nretry_max = 4s\n"
           "retry_limit = 100000\nconnect_timeout = 2s\n")
    v = Vault(E, "soak", rotation=rot)
    v.start()
    for i in range(N):
        v.add("s%02d" % i, "vsk%02d" % i, pws[i], extra=["--every", "3s"])
    v.outputs = []
    vkills = mkills = 0
    mdb_down = False
    t0 = time.time()
    log("soak: %d accounts, %.0fs, seed %d" % (N, seconds, seed))
    while time.time() - t0 < seconds:
        time.sleep(rnd.uniform(0.2, 3.0))
        if mdb_down:
            mdb("restart")
            mdb_down = False
        elif rnd.random() < 0.6:
            v.stop(signal.SIGKILL)
            vkills += 1
            v.start()
        else:
            mdb("crash")
            mkills += 1
            mdb_down = True
            if rnd.random() < 0.3:      # both down at once, sometimes
                v.stop(signal.SIGKILL)
                vkills += 1
                time.sleep(rnd.uniform(0, 1.0))
                v.start()
    if mdb_down:
        mdb("restart")
    v.stop()
    # Calm end: scheduled rotations paused, pending versions resolved.
    with open(v.conf, "a") as f:
        f.write("paused = yes\n")
    v.start()
    end = time.time() + 180
    st = []
    while time.time() < end:
        st = v.status().get("targets", [])
        if len(st) == N and all(t.get("state") != "pending" for t in st):
            break
        time.sleep(0.5)
    check(len(st) == N and all(t.get("state") != "pending" for t in st),
          "no target left pending: %r" % [t for t in st
                                          if t.get("state") == "pending"])
    rotations = failed = bad = lockouts = 0
    for i in range(N):
        name, user = "s%02d" % i, "vsk%02d" % i
        rc, out, err = v.ctl(["history", name, "--json", "--limit",
                              "10000"], keep=False)

        h = json.loads(out) if rc == 0 else []
        rotations += sum(1 for e in h if e["result"] == "ok" and
                         e["trigger"] != "initial")
        failed += sum(1 for e in h if e["result"] != "ok")
        cur = v.get(name)
        if cur is not None and E.login(user, cur):
            continue
        bad += 1
        check(False, "%s: the stored password does not log in" % name)
        # Locked out: no version the vault holds logs in.
        n = v.target_status(name).get("current_version") or 0
        if not any(E.login(user, v.get(name, k) or "")
                   for k in range(max(1, n - 3), n + 3)):
            lockouts += 1
    v.stop()
    rc, out, err = v.audit_verify()
    check(rc == 0, "audit verify: %d %s %s" % (rc, out, err))
    print("soak: %.0fs, %d accounts: vaultd kills %d, mariadbd kills %d, "
          "rotations ok %d, attempts failed (retried) %d, stored passwords "
          "not logging in %d, lockouts %d, audit verify %s" %
          (time.time() - t0, N, vkills, mkills, rotations, failed, bad,
           lockouts, "ok" if rc == 0 else "FAILED"), flush=True)
    check(rotations >= N, "rotations happened: %d" % rotations)
    check(lockouts == 0, "lockouts: %d" % lockouts)


if __name__ == "__main__":
    main()
