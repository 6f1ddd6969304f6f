#!/usr/bin/env python3
"""bench_newcomer.py - a newcomer's time to the first rotation (issue 19):
README "Using it" followed command by command with the shipped
etc/vaultd.conf.example, against a throwaway MariaDB of its own.  Prints
figures; asserts nothing (a timing is not a test).

usage: bench_newcomer.py --build DIR [--runs N]

What it counts: the commands a newcomer types up to and including the
first `vaultctl rotate` (and in the whole block), their characters, and the
edits the example config needs (none: the one change made here is where
the vault lives, /etc/vaultd, /var/lib/vaultd and /run/vaultd moved under a
scratch directory, which a root install keeps as they are).  What it times:
the wall time from the first command to the end of the first rotation, the
machine's part of the newcomer's time (typing and reading are not
measured), median and range over N fresh runs (new vault, new account).
10.0.0.5 becomes the throwaway server's socket; root a throwaway account
with root's privileges.  Needs to run as root (mariadbd --user=root).
"""
import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import vdtest  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="build dir (vaultd, "
                    "vaultctl)")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    vaultd = os.path.join(os.path.abspath(a.build), "vaultd")
    vaultctl = os.path.join(os.path.abspath(a.build), "vaultctl")
    work = tempfile.mkdtemp(prefix="vdnew.")
    envfile = os.path.join(work, "mdb.env")
    p = subprocess.run(["sh", vdtest.MARIADB_SH, "start", "newcomer",
                        envfile], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.exit("cannot start MariaDB: " + p.stdout.decode())
    times, failed = [], []
    try:
        env = vdtest.Env(vaultd, vaultctl, "vdnewenv.", envfile)
        cmds = vdtest.readme_commands(SRC)
        upto = next((i + 1 for i, c in enumerate(cmds)
                     if c.startswith("vaultctl rotate")), len(cmds))
        for n in range(a.runs):
            user = "newcomer%d" % n
            pw = "New#" + secrets.token_hex(10) + "'\\;"
            env.make_user(user, pw, ["localhost"], grant="ALL PRIVILEGES")
            runs, rotated = vdtest.run_readme(
                env, SRC, os.path.join(work, "run%d" % n), user, pw)
            failed += [(c, rc, err.strip()[-200:]) for c, rc, err in runs
                       if rc != 0]
            if rotated is not None:
                times.append(rotated)
            env.sql("DROP USER IF EXISTS %s@'localhost';" % vdtest.q(user))
        env.cleanup()
    finally:
        subprocess.run(["sh", vdtest.MARIADB_SH, "stop", "newcomer",
                        envfile], stdout=subprocess.DEVNULL)
    typed = cmds[:upto]
    print("README \"Using it\": %d commands in the block; %d typed up to "
          "and including the first rotation (%d characters)" % (
              len(cmds), len(typed), sum(len(c) for c in typed)))
    cc = [c for c, rc, err in failed if "--check-config" in c]
    print("edits to etc/vaultd.conf.example before it passes "
          "--check-config: %s" % ("0 (its paths moved under a scratch "
                                  "directory only)" if not cc else
                                  "FAILED as shipped"))
    for c, rc, err in failed:
        print("FAILED (exit %d): %s: %s" % (rc, c, err))
    if times:
        print("machine time, first command to the first rotation's end: "
              "median %.2f s (min %.2f, max %.2f) over %d runs" % (
                  statistics.median(times), min(times), max(times),
                  len(times)))
    else:
        print("no run reached a rotation")
    subprocess.run(["rm", "-rf", work])
    return 0 if times and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
