#!/usr/bin/env python3
"""test_operator.py - the operator's day (issue 19) against a real MariaDB
server of its own (the "opr" fixture):

  config   duplicated sections and keys refused with file:line by
           --check-config and by SIGHUP (the old configuration kept);
           deny_words lines still add up; the shipped
           etc/vaultd.conf.example passes --check-config once `vaultctl
           init` made its vault; every config example the docs show
           (README.md, docs/*.md ```ini blocks, vaultd.conf(5) EXAMPLE)
           passes it, with the site's paths, users and groups replaced by
           the test's own
  every    --every below 1m and above ten years refused, the limit in the
           message (target add and target set)
  set      vaultctl target set: policy/cadence/window/after-reveal change
           in place (audited, shown as written, rescheduled); account hosts
           and the server proven by a login with the current password
           before they are stored (refusals store nothing); no --user;
           unknown target; nothing to change
  check    vaultctl check NAME|--all: a drift check now, recorded (state
           drift after an out-of-band change, ok once it is back);
           rotate --wait says which host rows were not verified
  glass    break-glass on a copy of the data directory does not promise
           an audit; on the live one it does, and audit list shows the
           opening's details
  readme   README "Using it" run command by command with the shipped
           example config (only where the vault lives changed)
  preflight target check / target add --check: per host ok, unverified,
           refused, and a missing privilege to list the rows, before the
           first rotation
  doccmds  every vaultctl/vaultd command line in README.md and
           docs/operations.md names a command that exists, with options
           its --help lists
  full     a connection refused for max_clients says vaultd is full
  dup      a second target for the same server, user and host rows is
           refused naming the first (add and set), allowed with --force;
           other rows of the same user are not a duplicate

usage: test_operator.py VAULTD VAULTCTL [SCENARIO...]
Needs VD_TEST_MDB_ENV (the fixture's env file) and VD_SOURCE_DIR.  Passwords
travel on stdin or in 0600 option files, never in argv.
"""
import grp
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest  # noqa: E402
from vdtest import Env, check, finish, log, run_scenarios  # noqa: E402

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
os.environ.pop("NOTIFY_SOCKET", None)
SRC = os.environ.get("VD_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
E = Env(VAULTD, VAULTCTL, "vdopr.")
WORK, MDB = E.work, E.mdb


def new_pw():
    return "Opr#" + secrets.token_hex(8) + "'\\;"


def checkconf(path):
    p = subprocess.run([VAULTD, "--check-config", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Vault(vdtest.Vault):
    """vdtest's vault, with a [policy bank] for target set --policy."""

    def __init__(self, name):
        super().__init__(E, name, extra="[policy bank]\nlength = 24\n")


# --- config -------------------------------------------------------------

def sc_config():
    d = os.path.join(WORK, "cfg")
    os.mkdir(d, 0o700)
    data, key = d + "/data", d + "/root.key"
    p = subprocess.run([VAULTCTL, "init", "--data-dir", data, "--key-file",
                        key], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "init: %s" % p.stderr.decode())
    base = ("[vault]\ndata_dir = %s\nkey_file = %s\nsocket = %s/v.sock\n"
            % (data, key, d))
    good = write(d + "/good.conf", base + "[access]\nadmin = root\n"
                 "[policy p]\nlength = 24\ndeny_words = cmb\n"
                 "deny_words = batch\n")
    rc, out, err = checkconf(good)
    check(rc == 0 and out == good + ": ok\n",
          "deny_words lines add up, accepted: %d %r %r" % (rc, out, err))
    # (text, line of the repetition, line of the first, what is named)
    cases = [
        (base + "[access]\nadmin = root\n[rotation]\nconcurrency = 2\n"
         "[access]\nadmin = nobody\n", 9, 5, r"section \[access\]"),
        (base + "[policy p]\nlength = 24\n[access]\nadmin = root\n"
         "[policy  p]\nlength = 30\n", 9, 5, r"section \[policy p\]"),
        (base + "[access]\nadmin = root\n[rotation]\nretry_min = 1m\n"
         "concurrency = 2\nretry_min = 2m\n", 10, 8, r"key 'retry_min'"),
        (base.replace("socket =", "data_dir = %s\nsocket =" % data),
         4, 2, r"key 'data_dir'"),
    ]
    for i, (text, line, first, what) in enumerate(cases):
        path = write("%s/dup%d.conf" % (d, i), text)
        rc, out, err = checkconf(path)
        check(rc == 1 and out == "" and re.search(
            re.escape(path) + ":%d: %s.*twice.*first at line %d" %
            (line, what, first), err),
            "duplicate %d refused with file:line: %d %r" % (i, rc, err))
    # SIGHUP: a second [access] is refused; the old configuration stays.
    v = Vault("hup")
    v.start()
    with open(v.conf, "a") as f:
        f.write("\n[access]\nadmin = nobody\n")
    v.proc.send_signal(signal.SIGHUP)
    end = time.time() + 30
    while time.time() < end and "twice" not in v.logtext():
        time.sleep(0.1)
    check(re.search(re.escape(v.conf) + r":\d+: section \[access\] appears "
                    r"twice", v.logtext()),
          "SIGHUP refuses a second [access] with file:line: %r" %
          v.logtext()[-600:])
    rc, out, err = v.ctl(["audit", "list", "--json"])
    ents = json.loads(out) if rc == 0 else []
    ents = ents.get("entries", ents) if isinstance(ents, dict) else ents
    check(any(e.get("event") == "config.reload" and
              e.get("result") == "refused" and "twice" in
              e.get("reason", "") for e in ents),
          "the refused reload is audited: %r" % ents[-3:])
    rc, _, err = v.ctl(["status"])
    check(rc == 0, "still serving with the old configuration: %s" % err)
    v.stop()
    # The shipped example, as shipped: only where the vault lives changes.
    ex = open(os.path.join(SRC, "etc", "vaultd.conf.example")).read()
    path = write(d + "/example.conf", ex.replace(
        "/var/lib/vaultd", data).replace("/etc/vaultd/root.key", key)
        .replace("/run/vaultd/vaultd.sock", d + "/ex.sock"))
    check(path != ex, "example paths substituted")
    rc, out, err = checkconf(path)
    check(rc == 0 and out == path + ": ok\n",
          "etc/vaultd.conf.example passes --check-config: %d %r" % (rc, err))
    docs_examples(d, data, key)


def doc_blocks():
    """(where, text) of every config example the docs show."""
    blocks = []
    files = [os.path.join(SRC, "README.md")] + sorted(
        os.path.join(SRC, "docs", f) for f in os.listdir(
            os.path.join(SRC, "docs")) if f.endswith(".md"))
    for path in files:
        lines = open(path).read().split("\n")
        i = 0
        while i < len(lines):
            if lines[i].strip() == "```ini":
                j = i + 1
                while lines[j].strip() != "```":
                    j += 1
                blocks.append(("%s:%d" % (os.path.relpath(path, SRC),
                                          i + 1),
                               "\n".join(l.strip() for l in
                                         lines[i + 1:j]) + "\n"))
                i = j
            i += 1
    man = open(os.path.join(SRC, "docs", "man", "vaultd.conf.5.scd")).read()
    m = re.search(r"# EXAMPLE\n\n```\n(.*?)```", man, re.S)
    check(m is not None, "vaultd.conf(5) has an EXAMPLE")
    if m:
        blocks.append(("docs/man/vaultd.conf.5.scd EXAMPLE", m.group(1)))
    return blocks


def docs_examples(d, data, key):
    """--check-config on each: site paths, users and groups become the
    test's own; a fragment without [vault] gets one; escrow parties get
    keys made here."""
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    pubs = {}
    for party in ("customer", "vendor"):
        out = d + "/" + party + ".key"
        p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 0, "escrow keygen %s: %s" %
              (party, p.stderr.decode()))
        pubs[party] = vdtest.pinned(out)
    blocks = doc_blocks()
    check(len(blocks) >= 6, "config examples found in the docs: %d" %
          len(blocks))
    for n, (where, text) in enumerate(blocks):
        t = re.sub(r"^(data_dir\s*=\s*)\S+", r"\g<1>" + data, text, flags=re.M)
        t = re.sub(r"^(key_file\s*=\s*)\S+", r"\g<1>" + key, t, flags=re.M)
        t = re.sub(r"^(socket\s*=\s*)\S+", r"\g<1>%s/doc.sock" % d, t,
                   flags=re.M)
        t = re.sub(r"^(socket_group\s*=\s*)\S+", r"\g<1>" + group, t,
                   flags=re.M)
        t = re.sub(r"@[a-z][a-z-]*", "@" + group, t)
        t = re.sub(r"\balice\b", me, t)
        for party, pub in pubs.items():
            t = re.sub(r"^(%s\s*=\s*).*$" % party, r"\g<1>" + pub, t,
                       flags=re.M)
        if "[vault]" not in t:
            t = "[vault]\ndata_dir = %s\nkey_file = %s\n%s" % (data, key, t)
        path = write("%s/doc%d.conf" % (d, n), t)
        rc, out, err = checkconf(path)
        check(rc == 0, "the docs' config example at %s passes "
              "--check-config: %r" % (where, err))


# --- every, set, dup ------------------------------------------------------

def show(v, name):
    rc, out, err = v.ctl(["target", "show", name, "--json"])
    return json.loads(out) if rc == 0 else {}


def audits(v, event):
    rc, out, _ = v.ctl(["audit", "list", "--limit", "200", "--json"])
    ents = json.loads(out) if rc == 0 else []
    ents = ents.get("entries", ents) if isinstance(ents, dict) else ents
    return [e for e in ents if e.get("event") == event]


def add_args(name, user, hosts="localhost"):
    return ["target", "add", name, "--unix-socket", MDB["MDB_SOCKET"],
            "--user", user, "--account-hosts", hosts]


def sc_every():
    v = Vault("every")
    v.start()
    user, pw = "opr_ev", new_pw()
    E.make_user(user, pw, ["localhost"])
    for every, want in (("30s", "at least 1m"), ("59s", "at least 1m"),
                        ("99999999999d", "10 years"),
                        ("600w", "10 years")):
        rc, out, err = v.ctl(add_args("ev", user) + ["--every", every],
                             pw + "\n")
        check(rc != 0 and want in err and "positive" not in err,
              "--every %s refused saying %r: %d %r" % (every, want, rc, err))
    check(show(v, "ev") == {}, "nothing stored")
    v.add("ev", user, pw, extra=["--every", "1m"])
    rc, out, err = v.ctl(["target", "set", "ev", "--every", "30s"])
    check(rc != 0 and "at least 1m" in err, "target set --every 30s: %d %r"
          % (rc, err))
    check(show(v, "ev").get("every") == 60, "the cadence stays 1m")
    v.stop()
    # The bound is [rotation] min_every, and the error names it.
    v = vdtest.Vault(E, "every2", rotation="min_every = 10s\n")
    v.start()
    rc, out, err = v.ctl(add_args("ev", user) + ["--every", "5s"], pw + "\n")
    check(rc != 0 and "at least 10s" in err and "min_every" in err,
          "below min_every: %d %r" % (rc, err))
    rc, out, err = v.ctl(add_args("ev", user) + ["--every", "10s"], pw + "\n")
    check(rc == 0, "at min_every: %d %r" % (rc, err))
    v.stop()
    E.sql("DROP USER IF EXISTS %s@'localhost';" % vdtest.q(user))


def sc_set():
    v = Vault("set")
    v.start()
    user, pw = "opr_set", new_pw()
    E.make_user(user, pw, ["localhost"])
    v.add("s1", user, pw, extra=["--every", "90d"])
    before = show(v, "s1")
    rc, out, err = v.ctl(["target", "show", "s1"])
    check(re.search(r"^every\s+90d$", out, re.M),
          "target show prints the cadence as written (90d): %r" % out)
    # Scheduling fields: no login needed, stored, audited, rescheduled.
    rc, out, err = v.ctl(["target", "set", "s1", "--policy", "bank",
                          "--every", "1m", "--window", "00:00-23:59",
                          "--after-reveal", "1h"])
    check(rc == 0 and "changed" in out and "policy" in out,
          "target set policy/every/window/after-reveal: %d %r %r" %
          (rc, out, err))
    t = show(v, "s1")
    check(t.get("policy") == "bank" and t.get("every") == 60 and
          t.get("window") == "00:00-23:59" and t.get("after_reveal") ==
          3600 and t.get("created_at") == before.get("created_at") and
          [x["version"] for x in t.get("versions", [])] ==
          [x["version"] for x in before.get("versions", [])],
          "edited in place, versions kept: %r" % t)
    due = v.target_status("s1").get("next_due_unix") or 0
    check(0 < due - time.time() <= 70,
          "a shorter cadence reschedules at once (due in %ds)" %
          (due - time.time()))
    a = audits(v, "target.set")
    check(len(a) == 1 and a[0].get("result") == "ok" and a[0].get(
        "reason") == "policy,every,window,after_reveal" and
        a[0].get("target") == "s1", "audited with the fields: %r" % a)
    # The engine uses it: with a 1m cadence a scheduled rotation runs.
    h = v.wait_history("s1", lambda h: any(
        e.get("trigger") == "schedule" and e.get("result") == "ok"
        for e in h), timeout=150)
    check(any(e.get("trigger") == "schedule" for e in h),
          "the new cadence takes effect: %r" % h[:2])
    v.ctl(["target", "set", "s1", "--every", "90d", "--window", "",
           "--after-reveal", "0"])
    t = show(v, "s1")
    check(t.get("every") == 7776000 and "window" not in t and
          "after_reveal" not in t, "'' and 0 clear: %r" % t)
    cur = v.get("s1")
    # A host row that does not exist: refused, nothing stored.
    rc, out, err = v.ctl(["target", "set", "s1", "--account-hosts",
                          "localhost,127.0.0.1"])
    check(rc != 0 and "127.0.0.1" in err, "an account host the password "
          "does not log in on is refused, named: %d %r" % (rc, err))
    check(show(v, "s1").get("account_hosts") == ["localhost"],
          "refused: account_hosts unchanged")
    # The row exists with another password: refused naming it.
    E.sql("CREATE USER %s@'127.0.0.1' IDENTIFIED BY PASSWORD %s;" %
          (vdtest.q(user), vdtest.q(vdtest.native_hash(new_pw()))))
    rc, out, err = v.ctl(["target", "set", "s1", "--account-hosts",
                          "localhost,127.0.0.1"])
    check(rc != 0 and "127.0.0.1" in err and cur not in err + out,
          "a row holding another password is refused: %d %r" % (rc, err))
    check(show(v, "s1").get("account_hosts") == ["localhost"],
          "still unchanged")
    E.sql("SET PASSWORD FOR %s@'127.0.0.1' = %s;" %
          (vdtest.q(user), vdtest.q(vdtest.native_hash(cur))))
    rc, out, err = v.ctl(["target", "set", "s1", "--account-hosts",
                          "localhost,127.0.0.1"])
    check(rc == 0 and "account_hosts" in out and "127.0.0.1" in out,
          "proven by login, stored: %d %r %r" % (rc, out, err))
    check(show(v, "s1").get("account_hosts") == ["localhost", "127.0.0.1"],
          "account hosts stored")
    # Another server that is not there: refused, unchanged.
    rc, out, err = v.ctl(["target", "set", "s1", "--unix-socket",
                          WORK + "/no-such.sock"])
    check(rc != 0 and show(v, "s1").get("unix_socket") == MDB["MDB_SOCKET"],
          "an unreachable server is refused: %d %r" % (rc, err))
    # Usage and refusals.
    rc, out, err = v.ctl(["target", "set", "s1", "--user", "root"])
    check(rc == 2, "target set --user is a usage error: %d %r" % (rc, err))
    rc, out, err = v.ctl(["target", "set", "nosuch", "--every", "1d"])
    check(rc == 4, "unknown target: %d %r" % (rc, err))
    rc, out, err = v.ctl(["target", "set", "s1", "--policy", "bank"])
    check(rc != 0 and "nothing to change" in err,
          "nothing to change: %d %r" % (rc, err))
    rc, out, err = v.ctl(["target", "set", "s1", "--policy", "nosuch"])
    check(rc != 0 and "policy" in err, "unknown policy: %d %r" % (rc, err))
    for what, data in [("vaultd log", v.logtext().encode())] + v.outputs:
        check(cur.encode() not in data and pw.encode() not in data,
              "a password in %s" % what)
    v.stop()
    E.sql("DROP USER IF EXISTS %s@'localhost';"
          "DROP USER IF EXISTS %s@'127.0.0.1';" % (vdtest.q(user),
                                                   vdtest.q(user)))


def sc_dup():
    v = Vault("dup")
    v.start()
    user, pw = "opr_dup", new_pw()
    E.make_user(user, pw, ["localhost", "127.0.0.1"])
    v.add("d1", user, pw, hosts="localhost")
    rc, out, err = v.ctl(add_args("d2", user, "localhost"), pw + "\n")
    check(rc != 0 and "d1" in err and "force" in err,
          "the same rows twice: refused naming d1: %d %r" % (rc, err))
    rc, out, err = v.ctl(add_args("d3", user, "auto"), pw + "\n")
    check(rc != 0 and "d1" in err, "auto overlaps: refused: %d %r" %
          (rc, err))
    rc, out, err = v.ctl(add_args("d4", user, "127.0.0.1"), pw + "\n")
    check(rc == 0, "another row of the user is not a duplicate: %d %r" %
          (rc, err))
    rc, out, err = v.ctl(["target", "set", "d4", "--account-hosts",
                          "127.0.0.1,localhost"])
    check(rc != 0 and "d1" in err, "target set onto d1's rows: refused: "
          "%d %r" % (rc, err))
    rc, out, err = v.ctl(add_args("d2", user, "localhost") + ["--force"],
                         pw + "\n")
    check(rc == 0, "--force registers it: %d %r" % (rc, err))
    rc, out, err = v.ctl(["target", "set", "d2", "--every", "30d"])
    check(rc == 0, "a forced duplicate's cadence can change: %d %r" %
          (rc, err))
    check([e.get("result") for e in audits(v, "target.add")
           if e.get("target") in ("d2", "d3")] ==
          ["ok", "refused", "refused"], "refusals audited")
    v.stop()
    E.sql("DROP USER IF EXISTS %s@'localhost';"
          "DROP USER IF EXISTS %s@'127.0.0.1';" % (vdtest.q(user),
                                                   vdtest.q(user)))


def sc_check():
    v = Vault("check")
    v.start()
    user, pw = "opr_ck", new_pw()
    E.make_user(user, pw, ["localhost", "192.0.2.1"], grant="ALL PRIVILEGES")
    v.add("c1", user, pw, hosts="localhost")
    lo = v.target_status("c1").get("last_ok_unix")
    check(lo is not None and abs(lo - time.time()) < 120,
          "last_ok_unix counts the initial version (docs/api.md): %r" % lo)
    rc, out, err = v.ctl(["check", "c1"])
    check(rc == 0 and re.match(r"c1 checked: version 1 \(localhost=ok\)\n$",
                               out), "check c1: %d %r %r" % (rc, out, err))
    check(v.target_status("c1").get("state") == "ok", "state ok")
    # Changed behind the vault's back: the check says so now.
    E.sql("SET PASSWORD FOR %s@'localhost' = %s;" %
          (vdtest.q(user), vdtest.q(vdtest.native_hash(new_pw()))))
    rc, out, err = v.ctl(["check", "c1"])
    check(rc == 1 and "drift" in err and user in err,
          "check after an out-of-band change: %d %r %r" % (rc, out, err))
    check(v.target_status("c1").get("state") == "drift",
          "the check is recorded: state drift")
    # A second target, healthy: --state shows only the one in drift.
    u2, pw2 = "opr_ck2", new_pw()
    E.make_user(u2, pw2, ["localhost"])
    v.add("c2", u2, pw2, hosts="localhost")
    rc, out, err = v.ctl(["status", "--state", "drift,failed"])
    rows = [ln.split()[0] for ln in out.splitlines()
            if re.match(r"c\d ", ln)]
    check(rc == 0 and rows == ["c1"], "status --state drift,failed: %r" %
          out)
    rc, out, err = v.ctl(["status", "--state", "ok", "--json"])
    check(rc == 0 and [t["name"] for t in json.loads(out)["targets"]] ==
          ["c2"], "status --state ok --json: %r" % out[:300])
    rc, out, err = v.ctl(["status", "--state", "bogus"])
    check(rc == 2 and "not a state" in err, "--state bogus: %d %r" %
          (rc, err))
    rc, out, err = v.ctl(["status"])
    row = [ln for ln in out.splitlines() if ln.startswith("c1 ")]
    check("LAST OK" in out and row and
          re.match(r"c1\s+drift\s+1\s+\d{4}-\d\d-\d\dT", row[0]),
          "LAST OK is the last success, not the failed check: %r" % row)
    rc, out, err = v.ctl(["check", "--all"])
    check(rc == 1 and re.search(r"^c1: drift", out, re.M) and
          "checked 2 targets, 1 failed" in out and
          re.search(r"^c2 checked: version 1 \(localhost=ok\)$", out, re.M),
          "check --all: %d %r %r" % (rc, out, err))
    E.sql("SET PASSWORD FOR %s@'localhost' = %s;" %
          (vdtest.q(user), vdtest.q(vdtest.native_hash(pw))))
    rc, out, err = v.ctl(["check", "c1", "--json"])
    res = json.loads(out) if rc == 0 else {}
    check(res.get("result") == "ok" and res.get("version") == 1,
          "check --json after the password is back: %d %r" % (rc, out))
    check(v.target_status("c1").get("state") == "ok", "state ok again")
    rc, out, err = v.ctl(["check", "nosuch"])
    check(rc == 4, "check of an unknown target: %d %r" % (rc, err))
    check(len([e for e in audits(v, "check")
               if e.get("result") == "requested"]) >= 3, "checks audited")
    # A row vaultd cannot log in on from here: "rotated" says so.
    rc, out, err = v.ctl(["target", "set", "c1", "--account-hosts",
                          "localhost,192.0.2.1"])
    check(rc == 0, "account host 192.0.2.1 added: %d %r" % (rc, err))
    rc, out, err = v.ctl(["rotate", "c1", "--wait"])
    check(rc == 0 and re.match(r"c1 rotated to version 2, but 1 of 2 host "
                               r"rows not verified by a login from here: ", out),
          "rotate --wait names the rows not verified: %d %r %r" %
          (rc, out, err))
    # history: the hosts in text, and CSV that a CSV reader takes back.
    rc, out, err = v.ctl(["history", "c1"])
    check(rc == 0 and "HOSTS" in out.splitlines()[0] and
          re.search(r"^2\s+manual\s+ok\s+\S+\s+\S+\s+localhost=ok "
                    r"192\.0\.2\.1=", out, re.M),
          "text history has the hosts: %r" % out)
    import csv
    import io
    rc, out, err = v.ctl(["history", "c1", "--csv"])
    rows = list(csv.DictReader(io.StringIO(out))) if rc == 0 else []
    check(rows and rows[0]["version"] == "2" and rows[0]["result"] == "ok"
          and rows[0]["hosts"].startswith("localhost=ok") and
          rows[-1]["trigger"] == "initial" and out.endswith("\r\n"),
          "history --csv: %d %r" % (rc, out[:300]))
    rc, out, err = v.ctl(["audit", "list", "--csv", "--limit", "500"])
    rows = list(csv.DictReader(io.StringIO(out))) if rc == 0 else []
    reasons = [r["reason"] for r in rows if r["event"] == "target.set"]
    check(rows and rows[0]["seq"].isdigit() and
          any("," in x for x in reasons) is False and
          any(r["event"] == "check" and r["target"] == "c1" for r in rows),
          "audit list --csv: %d %r" % (rc, out[:300]))
    rc, out, err = v.ctl(["audit", "list", "--csv", "--json"])
    check(rc == 2, "--csv and --json together: usage error: %d" % rc)
    v.stop()
    E.sql("DROP USER IF EXISTS %s@'localhost';"
          "DROP USER IF EXISTS %s@'192.0.2.1';"
          "DROP USER IF EXISTS %s@'localhost';" % (vdtest.q(user),
                                                   vdtest.q(user),
                                                   vdtest.q(u2)))


def sc_full():
    v = Vault("full")
    with open(v.conf) as f:
        conf = f.read()
    with open(v.conf, "w") as f:
        f.write(conf.replace("[vault]\n", "[vault]\nmax_clients = 1\n", 1))
    v.start()
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(v.sock)
    time.sleep(0.2)
    try:
        for _ in range(5):
            rc, out, err = v.ctl(["status"])
            check(rc != 0 and "vaultd is full" in err and "max_clients" in err,
                  "status while vaultd is full says so: %d %r" % (rc, err))
    finally:
        s.close()
    time.sleep(0.2)
    rc, out, err = v.ctl(["status"])
    check(rc == 0, "status once a connection is free: %d %r" % (rc, err))
    v.stop()


def sc_glass():
    """Break-glass says whether a vaultd will see the recorded opening;
    audit list shows its openings, not "-"."""
    d = os.path.join(WORK, "glasskeys")
    os.mkdir(d, 0o700)
    key = d + "/customer.key"
    p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out", key],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "keygen: %s" % p.stderr.decode())
    v = vdtest.Vault(E, "glass", extra="[escrow]\nmode = any\n"
                     "customer = %s\n" % vdtest.pinned(key))
    v.start()
    user, pw = "opr_bg", new_pw()
    E.make_user(user, pw, ["localhost"])
    v.add("g", user, pw)
    fp = subprocess.run([VAULTCTL, "escrow", "vault-key", "--data-dir",
                         v.data, "--key-file", v.key], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE).stdout.decode().strip()

    def glass(data):
        p = subprocess.run([VAULTCTL, "--socket", v.sock, "breakglass",
                            "--data-dir", data,
                            "--escrow-key", key, "--vault-key", fp, "g"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    copy = v.dir + "/copy"
    subprocess.run(["cp", "-a", v.data, copy], check=True)
    with open(copy + "/data.mdb", "rb") as f:
        before = f.read()
    rc, out, err = glass(copy)
    check(rc == 0 and out == pw + "\n", "break-glass on a copy opens it: %d "
          "%r" % (rc, err))
    check("no vaultd runs on" in err and "copy" in err and
          "nothing was written" in err and "breakglass report" in err and
          "reported to the vaultd" not in err,
          "on a copy it does not promise an audit: %r" % err)
    with open(copy + "/data.mdb", "rb") as f:
        check(f.read() == before, "break-glass wrote nothing into the copy "
              "(read-only, issue 14 item 8)")
    # The live directory: vaultctl opens it read-only and hands the
    # opening to the vaultd holding its lock, over the socket.
    rc, out, err = glass(v.data)
    check(rc == 0 and "reported to the vaultd running on" in err,
          "on the live directory: %d %r" % (rc, err))
    h = v.wait_history("g", lambda h: any(
        e.get("trigger") == "breakglass" for e in h), timeout=120)
    check(any(e.get("trigger") == "breakglass" for e in h),
          "the live opening is audited and rotated")
    rc, out, err = v.ctl(["audit", "list"])
    line = [x for x in out.splitlines() if "event=breakglass" in x]
    check(line and "openings=-" not in line[0] and "openings=[" in line[0],
          "audit list shows the openings: %r" % line)
    check(line and "reported_by" in line[0],
          "the opening names who reported it: %r" % line)
    v.stop()
    E.sql("DROP USER IF EXISTS %s@'localhost';" % vdtest.q(user))


def sc_readme():
    """README "Using it", command by command, as a newcomer runs it: the
    shipped example config unchanged but for where the vault lives (/etc,
    /var/lib and /run under the test's directory), the fixture's server
    by its socket for 10.0.0.5, a throwaway account for root.  Logs the
    time from the first command to the first rotation."""
    text = open(os.path.join(SRC, "README.md")).read()
    m = re.search(r"## Using it\n\n```sh\n(.*?)```", text, re.S)
    check(m is not None, "README has a Using it block")
    if not m:
        return
    root = os.path.join(WORK, "readme")
    os.mkdir(root, 0o700)
    for d in ("etc/vaultd", "var/lib", "run"):
        os.makedirs(os.path.join(root, d), 0o700)
    sock = root + "/run/vaultd/vaultd.sock"
    user, pw = "opr_readme", new_pw()
    # root's privileges: "auto" lists the account's rows in mysql.user.
    E.make_user(user, pw, ["localhost"], grant="ALL PRIVILEGES")
    with open(root + "/current-password", "w") as f:
        f.write(pw + "\n")
    env = dict(os.environ, VAULTD_SOCKET=sock)

    def local(s):
        for a in ("/var/lib/vaultd", "/etc/vaultd", "/run/vaultd"):
            s = s.replace(a, root + a)
        return s

    # Join continuation lines; drop comments.
    cmds, cur = [], ""
    for ln in m.group(1).split("\n"):
        ln = re.sub(r"\s+#.*$", "", ln) if not ln.startswith("#") else ""
        cur += ln.rstrip("\\").strip() + " " if ln.strip() else ""
        if ln.strip() and not ln.rstrip().endswith("\\"):
            cmds.append(cur.strip())
            cur = ""
    t0, daemon, rotated = time.time(), None, None
    for c in cmds:
        c = local(c).replace("--host 10.0.0.5", "--unix-socket " +
                             MDB["MDB_SOCKET"])
        c = c.replace("--user root", "--user " + user)
        c = c.replace("< current-password", "< " + root +
                      "/current-password")
        if "password-now-in-force" in c:
            continue            # needs a change behind the vault's back
        argv = c.split()
        stdin = None
        if "<" in argv:
            i = argv.index("<")
            stdin = open(argv[i + 1])
            argv = argv[:i] + argv[i + 2:]
        if argv[-1] == "&":
            argv = argv[:-1]
        argv[0] = {"vaultctl": VAULTCTL, "vaultd": VAULTD}.get(argv[0],
                                                              argv[0])
        if argv[0] == VAULTD and "--config" in argv:
            daemon = subprocess.Popen(argv, env=env, cwd=SRC,
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(root + "/vaultd.log", "w"))
            end = time.time() + 30
            while time.time() < end and not os.path.exists(sock):
                time.sleep(0.05)
            continue
        p = subprocess.run(argv, env=env, cwd=SRC, stdin=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if argv[0] == "install":
            # Where the vault lives is the one line a site changes.
            conf = argv[-1]
            with open(conf) as f:
                body = f.read()
            with open(conf, "w") as f:
                f.write(local(body))
        check(p.returncode == 0, "README: %s: %d %s" % (
            c, p.returncode, p.stderr.decode()[-300:]))
        if "rotate" in argv and p.returncode == 0 and rotated is None:
            rotated = time.time() - t0
    check(rotated is not None, "README reaches a rotation")
    if rotated is not None:
        log("README: first rotation %.1fs after the first command, with "
            "no edit of the example config" % rotated)
    if daemon is not None:
        daemon.terminate()
        daemon.wait(timeout=60)
    E.sql("DROP USER IF EXISTS %s@'localhost';" % vdtest.q(user))


def sc_preflight():
    v = Vault("pre")
    v.start()
    # No privilege to list its rows: add (one login) takes it, the first
    # rotation would fail; target check and add --check say so now.
    weak, wpw = "opr_weak", new_pw()
    E.make_user(weak, wpw, ["localhost"])
    rc, out, err = v.ctl(add_args("w1", weak, "auto"), wpw + "\n")
    check(rc != 0 and "cannot list the hosts" in err,
          "add (checks by default) refuses what a rotation could not do: "
          "%d %r" % (rc, err))
    check(show(v, "w1") == {}, "nothing stored")
    v.add("w1", weak, wpw, hosts="auto", extra=["--no-check"])
    rc, out, err = v.ctl(["target", "check", "w1"])
    check(rc == 1 and "NOT READY" in out and "cannot list the hosts" in out,
          "target check names the missing privilege: %d %r %r" %
          (rc, out, err))
    # Rows the vault host reaches, one it cannot, one with another password.
    user, pw = "opr_pre", new_pw()
    E.make_user(user, pw, ["localhost", "192.0.2.1"], grant="ALL PRIVILEGES")
    rc, out, err = v.ctl(add_args("p1", user, "auto") + ["--check"],
                         pw + "\n")
    check(rc == 0 and "every host checked" in out and "localhost=ok" in out,
          "add --check: %d %r %r" % (rc, out, err))
    rc, out, err = v.ctl(["target", "check", "p1"])
    check(rc == 0 and re.search(r"^  localhost\s+ok$", out, re.M) and
          re.search(r"^  192\.0\.2\.1\s+unverified \(cannot be reached",
                    out, re.M),
          "target check per host: %d %r %r" % (rc, out, err))
    E.sql("CREATE USER %s@'127.0.0.1' IDENTIFIED BY PASSWORD %s;" %
          (vdtest.q(user), vdtest.q(vdtest.native_hash(new_pw()))))
    rc, out, err = v.ctl(["target", "check", "p1", "--json"])
    res = json.loads(out) if out else {}
    check(rc == 1 and res.get("result") == "refused" and
          "127.0.0.1" in res.get("error", ""),
          "a row with another password: %d %r" % (rc, out))
    rc, out, err = v.ctl(["target", "check", "nosuch"])
    check(rc == 4, "unknown target: %d" % rc)
    for what, data in [("vaultd log", v.logtext().encode())] + v.outputs:
        check(pw.encode() not in data and wpw.encode() not in data,
              "a password in %s" % what)
    v.stop()
    E.sql("DROP USER IF EXISTS %s@'localhost';"
          "DROP USER IF EXISTS %s@'localhost';"
          "DROP USER IF EXISTS %s@'192.0.2.1';"
          "DROP USER IF EXISTS %s@'127.0.0.1';" %
          (vdtest.q(weak), vdtest.q(user), vdtest.q(user), vdtest.q(user)))


def sc_doccmds():
    """Every vaultctl and vaultd command line the README and the operations
    guide show names a command (and sub-command) that exists, with options
    its --help lists.  (README "Using it" also runs: the readme
    scenario.)"""
    helps = {}

    def helptext(args):
        key = " ".join(args)
        if key not in helps:
            prog = VAULTD if args[0] == "vaultd" else VAULTCTL
            p = subprocess.run([prog] + args[1:] + ["--help"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            helps[key] = (p.returncode, (p.stdout + p.stderr).decode())
        return helps[key]

    n = 0
    for doc in ("README.md", "docs/operations.md"):
        text = open(os.path.join(SRC, doc)).read()
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            for ln in joined.split("\n"):
                ln = re.sub(r"\s+#.*$", "", ln.strip())
                for part in re.split(r"&&|\||;", ln):
                    words = part.split()
                    if not words or words[0] not in ("vaultctl", "vaultd"):
                        continue
                    args = [words[0]]
                    rest = words[1:]
                    while rest[:1] == ["--socket"]:
                        rest = rest[2:]
                    if words[0] == "vaultctl" and rest and \
                            not rest[0].startswith("-"):
                        args.append(rest[0])
                        rc, h = helptext(args)
                        check(rc == 0, "%s: %s: no such command: %r" %
                              (doc, part.strip(), h[:200]))
                    rc, h = helptext(args)
                    for o in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", part):
                        check(o in h, "%s: %s: option %s not in %s --help"
                              % (doc, part.strip(), o, " ".join(args)))
                    n += 1
    check(n >= 30, "command lines found in the docs: %d" % n)
    log("doccmds: %d command lines checked" % n)


SCENARIOS = [("config", sc_config), ("every", sc_every), ("set", sc_set),
             ("dup", sc_dup), ("check", sc_check), ("full", sc_full),
             ("glass", sc_glass), ("readme", sc_readme),
             ("preflight", sc_preflight), ("doccmds", sc_doccmds)]


def main():
    try:
        ran = run_scenarios(SCENARIOS, ONLY)
    finally:
        vdtest.stop_all()
    finish(ran, WORK)


if __name__ == "__main__":
    main()
