#!/usr/bin/env python3
"""test_anchor.py - issue 14 items 2 and 3 against a running vaultd and a
real MariaDB: audit heads outside the data directory.

usage: test_anchor.py VAULTD VAULTCTL [SCENARIO...]
On the "main" fixture (throwaway users, dropped again); the helper
test_breakglass_vault (VD_BREAKGLASS_HELPER) plays the attacker.

  journal  vaultd marks its audit head (VAULTD_AUDIT_HEAD=COUNT:HASH and
           VAULTD_VAULT_ID, no secret) at start and at stop; with no
           journal here, on stderr (its log file).  After rotations and a
           reveal, the attacker (no key) cuts the audit tail, puts back the
           older sealed head and the older anchor file: audit verify alone
           says intact, --journal LOG (and the same marks as
           `journalctl -o json` lines on stdin) names the missing entries.
           Marks of another vault only are not taken.
  online   A bundle exported by the running vaultd (escrow export over the
           socket) carries the signed index and a checkpoint that includes
           the export's own audit entry: break-glass opens the current
           password and names its state; audit verify --checkpoint accepts
           it; a version dropped from it is refused.
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vdtest import (Env, Vault, check, finish, log,  # noqa: E402
                    pinned, run_scenarios, stop_all)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
E = Env(VAULTD, VAULTCTL, "vdanch.")
HELPER = os.environ.get("VD_BREAKGLASS_HELPER", "")
MARK = re.compile(r"VAULTD_AUDIT_HEAD=(\d+):([0-9a-f]{64}) "
                  r"VAULTD_VAULT_ID=([0-9a-f]{32})")


def new_pw():
    return "An" + secrets.token_hex(10) + "#x"


def helper(*args):
    p = subprocess.run([HELPER] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    check(p.returncode == 0, "helper %s: %s" % (args[0], p.stderr.decode()))
    return p.stdout.decode()


def stop_ok(v, what):
    rc = v.stop()
    check(rc in (0, None), "%s: vaultd exits 0, not %r: %s" %
          (what, rc, v.logtext()[-1500:] if rc else ""))


def audit_count(v):
    rc, out, err = v.audit_verify()
    check(rc == 0, "audit verify: %s" % err)
    m = re.search(r"audit log intact: (\d+) entries", out)
    return int(m.group(1)) if m else -1


def verify(v, extra, stdin=""):
    return v.run_ctl(["audit", "verify", "--data-dir", v.data, "--key-file",
                      v.key] + extra, stdin)


def keygen(name):
    path = os.path.join(E.work, name + ".key")
    p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out", path,
                        "--name", name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    check(p.returncode == 0, "keygen %s: %s" % (name, p.stderr.decode()))
    return path


def sc_journal():
    v = Vault(E, "journal")
    user, pw = "anj" + secrets.token_hex(3), new_pw()
    E.make_user(user, pw, ["localhost"])
    v.start()
    v.add("j1", user, pw, "localhost")
    stop_ok(v, "stop 1")
    n1 = audit_count(v)
    marks = MARK.findall(v.logtext())
    check(len(marks) >= 2, "start and stop marked: %r" % marks)
    vid = marks[-1][2] if marks else ""
    check(marks and int(marks[-1][0]) == n1,
          "the stop mark is the audit head: %r, %d entries" % (marks[-1:],
                                                              n1))
    check("(stop)" in v.logtext() and "(start)" in v.logtext(),
          "marks name why")
    # The attacker's material from now: the sealed head, the anchor file.
    head_old = os.path.join(E.work, "head.old")
    helper("savehead", v.data, head_old)
    anchor_old = os.path.join(E.work, "anchor.old")
    shutil.copy(v.data + ".anchor", anchor_old)
    data_old = os.path.join(E.work, "data.old")
    shutil.copy(os.path.join(v.data, "data.mdb"), data_old)

    v.start()
    for i in range(2):
        rc, out, err = v.ctl(["rotate", "j1", "--wait"])
        check(rc == 0, "rotate %d: %s" % (i, err))
    got = v.get("j1")
    check(got is not None, "get")
    stop_ok(v, "stop 2")
    n2 = audit_count(v)
    check(n2 > n1, "the head moved: %d -> %d" % (n1, n2))
    text = v.logtext()
    check(got not in text, "no password in the log")
    marks = MARK.findall(text)
    check(marks and int(marks[-1][0]) == n2, "stop mark at %d: %r" %
          (n2, marks[-1:]))
    rc, out, err = verify(v, ["--journal", v.log])
    check(rc == 0 and "continues the audit heads in" in out,
          "verify --journal before the cut: %d %s %s" % (rc, out, err))

    # The attack: the tail after n1 goes, the older head and anchor return.
    cut = int(helper("cut", v.data, str(n1 + 1), head_old).strip())
    check(cut == n2 - n1, "cut %d entries, expected %d" % (cut, n2 - n1))
    shutil.copy(anchor_old, v.data + ".anchor")
    rc, out, err = verify(v, [])
    check(rc == 1 and "modified outside vaultd" in err,
          "a cut record by record is refused by the integrity record: "
          "%d %s" % (rc, err))
    # So the attacker puts back the whole older data file, consistent in
    # itself, with its anchor.
    shutil.copy(data_old, os.path.join(v.data, "data.mdb"))
    rc, out, err = verify(v, [])
    check(rc == 0, "without the journal the rollback is not seen (the gap "
          "item 3 closes): %d %s" % (rc, err))
    want = "entries %d-%d are missing" % (n1 + 1, n2)
    rc, out, err = verify(v, ["--journal", v.log])
    check(rc == 1 and want in err, "verify --journal after the cut: %d %s" %
          (rc, err))
    check("audit log intact" not in out, "no 'intact' on a cut log")
    # The same marks as journalctl -o json prints them, on stdin.
    js = "".join(json.dumps({"MESSAGE": "audit head", "PRIORITY": "5",
                             "VAULTD_AUDIT_HEAD": "%s:%s" % (c, h),
                             "VAULTD_VAULT_ID": i},
                            separators=(",", ":")) + "\n"
                 for c, h, i in marks)
    rc, out, err = verify(v, ["--journal", "-"], stdin=js)
    check(rc == 1 and want in err, "journalctl -o json on stdin: %d %s" %
          (rc, err))
    # Marks of another vault are not this one's anchor.
    other = js.replace(vid, "0" * 32)
    rc, out, err = verify(v, ["--journal", "-"], stdin=other)
    check(rc == 1 and "no audit head of vault" in err,
          "another vault's marks: %d %s" % (rc, err))


def sc_online():
    cust = keygen("customer")
    v = Vault(E, "online", extra="[escrow]\nmode = any\ncustomer = %s\n"
              % pinned(cust))
    user, pw = "ano" + secrets.token_hex(3), new_pw()
    E.make_user(user, pw, ["localhost"])
    v.start()
    v.add("o1", user, pw, "localhost")
    rc, out, err = v.ctl(["rotate", "o1", "--wait"])
    check(rc == 0, "rotate: %s" % err)
    cur = v.get("o1")
    bundle = os.path.join(v.dir, "online.bundle")
    rc, out, err = v.ctl(["escrow", "export", "--out", bundle])
    check(rc == 0, "online export: %s" % err)
    stop_ok(v, "stop")
    with open(bundle, "rb") as f:
        check(f.read(8) == b"VDBUNDL2", "online bundle has an index")
    rc, fp, err = v.run_ctl(["escrow", "vault-key", "--data-dir", v.data,
                             "--key-file", v.key])
    fp = fp.strip()
    args = ["breakglass", "--bundle", bundle, "--escrow-key", cust,
            "--vault-key", fp, "o1"]
    rc, out, err = v.run_ctl(args, keep=False)
    check(rc == 0 and out == cur + "\n", "break-glass on the online "
          "bundle: %d %s" % (rc, err))
    check("was current then" in err, "state named: %s" % err)
    n = audit_count(v)
    rc, out, err = verify(v, ["--checkpoint", bundle])
    check(rc == 0 and "(entry %d," % n in out,
          "the checkpoint holds the export's own entry (%d): %d %s %s" %
          (n, rc, out, err))
    dropped = bundle + ".dropped"
    vs = re.search(r"escrowed versions: ([0-9, ]+)", err)
    newest = vs.group(1).split(",")[0].strip() if vs else "2"
    helper("bundle", bundle, dropped, "drop", "o1", newest)
    rc, out, err = v.run_ctl(args[:2] + [dropped] + args[3:], keep=False)
    check(rc == 1 and out == "" and "hidden after export" in err,
          "a version dropped from the online bundle: %d %s" % (rc, err))


SCENARIOS = [("journal", sc_journal), ("online", sc_online)]

if __name__ == "__main__":
    try:
        ran = run_scenarios(SCENARIOS, ONLY)
    finally:
        stop_all()
    finish(ran, E.work)
