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
  rows     target check on a server of its own (127.0.0.1 only): every row
           reported (ok, refused, unreachable ::1 with its route and row,
           no-privilege to change it), an admin with CREATE USER alone,
           the privilege through a default role
  opsdoc   docs/operations.md run: its ```sh blocks in order as one shell
           script against the fixture's server and a vault under the
           test's directory (systemd, the editor, the vaultd user and the
           DBA's hand in section 8 stood in for; the blocks that cannot
           run here listed with why), each command exiting as the guide
           says
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
    # The same server by another route (TCP instead of the socket): the
    # server's identity, learned by add's login, matches d1's.
    tcp = ["target", "add", "d5", "--host", "127.0.0.1", "--port",
           MDB["MDB_PORT"], "--user", user, "--account-hosts", "localhost",
           "--no-check"]
    rc, out, err = v.ctl(tcp, pw + "\n")
    check(rc != 0 and "d1" in err and "force" in err,
          "the same server by TCP: refused naming d1: %d %r" % (rc, err))
    check(show(v, "d5") == {}, "nothing stored")
    rc, out, err = v.ctl(tcp + ["--force"], pw + "\n")
    sid = show(v, "d1").get("server_id", "")
    check(rc == 0 and sid.endswith(":%s:%s/data/" % (MDB["MDB_PORT"],
                                                      MDB["MDB_DIR"])) and
          show(v, "d5").get("server_id") == sid,
          "--force registers it; both know the server as %r: %d %r" %
          (sid, rc, err))
    check([e.get("result") for e in audits(v, "target.add")
           if e.get("target") in ("d2", "d3")] ==
          ["ok", "refused", "refused"], "refusals audited")
    check([e.get("result") for e in audits(v, "target.add")
           if e.get("target") == "d5"] == ["ok", "refused"],
          "the refusal by server identity audited")
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
    """README "Using it", command by command, as a newcomer runs it
    (vdtest.run_readme(): the shipped example config unchanged but for
    where the vault lives, the fixture's server by its socket for
    10.0.0.5, a throwaway account for root).  Logs the time from the
    first command to the first rotation."""
    root = os.path.join(WORK, "readme")
    user, pw = "opr_readme", new_pw()
    # root's privileges: "auto" lists the account's rows in mysql.user.
    E.make_user(user, pw, ["localhost"], grant="ALL PRIVILEGES")
    runs, rotated = vdtest.run_readme(E, SRC, root, user, pw)
    check(len(runs) > 5, "README has a Using it block: %d" % len(runs))
    for c, rc, err in runs:
        check(rc == 0, "README: %s: %d %s" % (c, rc, err[-300:]))
    check(rotated is not None, "README reaches a rotation")
    if rotated is not None:
        log("README: first rotation %.1fs after the first command, with "
            "no edit of the example config" % rotated)
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
          re.search(r"^  192\.0\.2\.1\s+unreachable: account host "
                    r"'192\.0\.2\.1' cannot be reached from here$",
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


def sc_rows():
    vdtest.with_server(E, "oprrows", "--bind-address=127.0.0.1", rows)


def rows(env):
    """target check reports every account row, on a server that listens
    on 127.0.0.1 only: ok, refused, unreachable (::1: connection refused,
    the route and the row named), lacking the privilege to be changed
    (self-rotation falls back to the socket session for a row it cannot
    reach; an admin with CREATE USER alone cannot SET PASSWORD), and the
    privilege held through a default role."""
    v = vdtest.Vault(env, "rows")
    v.start()
    sock, port = env.mdb["MDB_SOCKET"], env.mdb["MDB_PORT"]
    user, pw = "opr_rows", new_pw()
    env.make_user(user, pw, ["localhost", "127.0.0.1", "::1"])
    env.sql("ALTER USER %s@'127.0.0.1' IDENTIFIED BY PASSWORD %s;" %
            (vdtest.q(user), vdtest.q(vdtest.native_hash(new_pw()))))
    v.add("r1", user, pw, hosts="localhost,127.0.0.1,::1",
          extra=["--no-check"])

    def rows_of(name):
        rc, out, err = v.ctl(["target", "check", name, "--json"])
        res = json.loads(out) if out.startswith("{") else {}
        return rc, res, {r["host"]: r for r in res.get("rows", [])}

    rc, res, by = rows_of("r1")
    check(rc == 1 and res.get("result") == "refused" and
          sorted(by) == ["127.0.0.1", "::1", "localhost"],
          "every row is reported, not only up to the refused one: %d %r" %
          (rc, res))
    check(by.get("localhost", {}).get("result") == "ok",
          "localhost ok: %r" % by.get("localhost"))
    check(by.get("127.0.0.1", {}).get("result") == "refused",
          "127.0.0.1 refused: %r" % by.get("127.0.0.1"))
    six = by.get("::1", {})
    check(six.get("result") == "no-privilege" and
          "connection refused" in six.get("why", "") and
          "by TCP [::1]:%s" % port in six.get("why", "") and
          "'%s'@'::1'" % user in six.get("why", "") and
          "UPDATE on the mysql database" in six.get("why", ""),
          "::1: unreachable (route and row named), and the socket session "
          "may not change it: %r" % six)
    rc, out, err = v.ctl(["target", "check", "r1"])
    check(rc == 1 and "NOT READY" in out and
          re.search(r"^  127\.0\.0\.1\s+refused: ", out, re.M) and
          re.search(r"^  ::1\s+no-privilege: ", out, re.M) and
          re.search(r"^  localhost\s+ok$", out, re.M),
          "text: one line per row: %d %r" % (rc, out))
    # The privilege to change the other rows, and the right password: the
    # unreachable row is only that, and the target is ready.
    env.sql("GRANT UPDATE ON mysql.* TO %s@'localhost';"
            "ALTER USER %s@'127.0.0.1' IDENTIFIED BY PASSWORD %s;" %
            (vdtest.q(user), vdtest.q(user),
             vdtest.q(vdtest.native_hash(pw))))
    rc, res, by = rows_of("r1")
    check(rc == 0 and res.get("result") == "ok" and
          by.get("::1", {}).get("result") == "unreachable" and
          by.get("127.0.0.1", {}).get("result") == "ok",
          "with UPDATE on mysql.*: ready, ::1 unreachable: %d %r" %
          (rc, res))
    # Its own row, but its password method is not its first: the change
    # takes ALTER USER, which needs CREATE USER even for oneself.  The
    # check says so, and the rotation fails as it said.
    alt, altpw = "opr_alt", new_pw()
    env.sql("DROP USER IF EXISTS %s@'localhost';"
            "CREATE USER %s@'localhost' IDENTIFIED VIA unix_socket OR "
            "mysql_native_password USING %s;" % (
                vdtest.q(alt), vdtest.q(alt),
                vdtest.q(vdtest.native_hash(altpw))))
    v.add("alt", alt, altpw, extra=["--no-check"])
    rc, res, by = rows_of("alt")
    check(rc == 1 and by.get("localhost", {}).get("result") ==
          "no-privilege" and "ALTER USER" in by["localhost"].get("why", ""),
          "own row by ALTER USER without CREATE USER: %d %r" % (rc, res))
    rc, out, err = v.ctl(["rotate", "alt", "--wait"])
    check(rc != 0 and "CREATE USER" in err,
          "and the rotation fails as the check said: %d %r" % (rc, err))
    env.sql("GRANT CREATE USER ON *.* TO %s@'localhost';" % vdtest.q(alt))
    rc, res, by = rows_of("alt")
    check(rc == 0, "with CREATE USER: ready: %d %r" % (rc, res))
    # An admin account with CREATE USER alone: SET PASSWORD FOR another
    # account answers 1044 on MariaDB 10.11, so every row lacks it.
    adm, apw = "opr_adm", new_pw()
    env.make_user(adm, apw, ["localhost"], grant="CREATE USER")
    env.sql("GRANT SELECT ON mysql.* TO %s@'localhost';" % vdtest.q(adm))
    args = ["target", "add", "a1", "--unix-socket", sock, "--user", user,
            "--account-hosts", "localhost,127.0.0.1", "--admin-user", adm,
            "--force"]
    rc, out, err = v.ctl(args, pw + "\n" + apw + "\n")
    check(rc != 0 and "no-privilege" in err and "CREATE USER alone" in err,
          "add --check refuses an admin that cannot change the rows: %d %r"
          % (rc, err))
    check(show(v, "a1") == {}, "nothing stored")
    v.ctl(args + ["--no-check"], pw + "\n" + apw + "\n")
    rc, res, by = rows_of("a1")
    check(rc == 1 and res.get("result") == "no-privilege" and
          [r["result"] for r in res.get("rows", [])] ==
          ["no-privilege", "no-privilege"],
          "target check: each row no-privilege: %d %r" % (rc, res))
    # The privilege through a default role counts (SHOW GRANTS lists it).
    env.sql("CREATE ROLE opr_pwadmin; GRANT UPDATE ON mysql.* TO "
            "opr_pwadmin; GRANT opr_pwadmin TO %s@'localhost';"
            "SET DEFAULT ROLE opr_pwadmin FOR %s@'localhost';" %
            (vdtest.q(adm), vdtest.q(adm)))
    rc, res, by = rows_of("a1")
    check(rc == 0 and res.get("result") == "ok",
          "UPDATE on mysql.* by a default role: ready: %d %r" % (rc, res))
    # And a rotation through it works, as the check said.
    rc, out, err = v.ctl(["rotate", "a1", "--wait"])
    check(rc == 0, "rotate through the role's privilege: %d %r" % (rc, err))
    # The same user and row on another server (the fixture's) is not a
    # duplicate of r1: another server identity, another socket.
    E.make_user(user, pw, ["localhost"], grant="UPDATE")
    rc, out, err = v.ctl(add_args("other", user, "localhost"), pw + "\n")
    check(rc == 0, "the same account on another server: %d %r" % (rc, err))
    check(show(v, "other").get("server_id") not in (
        None, show(v, "r1").get("server_id")), "another server_id")
    E.sql("DROP USER IF EXISTS %s@'localhost';" % vdtest.q(user))
    for what, data in [("vaultd log", v.logtext().encode())] + v.outputs:
        check(pw.encode() not in data and apw.encode() not in data and
              altpw.encode() not in data, "a password in %s" % what)
    v.stop()


# docs/operations.md's ```sh blocks that cannot run here, by the words of
# their first line, and why.  Everything else runs (sc_opsdoc).
OPS_SKIP = {
    "apt-get install -y git": "installs packages and builds the tree",
    "systemd-sysusers": "creates system users and units",
    "vaultctl init --data-dir /var/lib/vaultd --passphrase":
        "the passphrase alternative to the key-file vault that runs",
    "vaultctl unseal": "only for the passphrase vault",
    "vaultctl escrow keygen": "the ceremony's passphrases are typed by "
        "two parties at their own machines",
    "install -m 0644 customer.key.pub": "needs the ceremony's keys",
    "vaultd --check-config /etc/vaultd/vaultd.conf && systemctl reload":
        "enables the ceremony's [escrow] section",
    "runuser -u vaultd -- vaultctl escrow export": "needs the ceremony",
    "cd /usr/local/src/vaultd && git pull": "an upgrade rebuilds the tree",
    "* * * * * runuser": "a crontab line, not a command",
    # Section 11 is played by three people on their own logins (vendor
    # engineer, two approvers): test_checkout.py runs that story with
    # throwaway users and real request ids.
    "systemctl reload vaultd": "section 11: needs the [access] of section "
        "11 and its users (test_checkout.py)",
    "vaultctl request batch1 --reason": "section 11 (test_checkout.py)",
    "vaultctl requests  ": "section 11: the approvers' logins",
    "vaultctl get batch1  ": "section 11: the holder's login",
    "vaultctl revoke batch1": "section 11 (test_checkout.py)",
    "vaultctl requests --all": "section 11 (test_checkout.py)",
    "exec /usr/bin/mail": "a notify hook, not a command",
}

# What a test cannot do as root on a shared machine, as shell functions
# the commands call instead: systemd (vaultd started, stopped, reloaded
# by the test's own process), the editor (where the vault lives, under
# the test's directory, and the section 4 [policy bank] the guide asks
# for), and the vaultd system user (none here: root).
OPS_PRELUDE = """
R=%(root)s
start_vaultd() {
    vaultd --config "$R/etc/vaultd/vaultd.conf" 2>>"$R/vaultd.log" &
    echo $! >"$R/vaultd.pid"
    i=0
    while [ $i -lt 600 ] && ! vaultctl status >/dev/null 2>&1; do
        sleep 0.05; i=$((i + 1))
    done
}
stop_vaultd() {
    [ -s "$R/vaultd.pid" ] || return 0
    kill -TERM "$(cat "$R/vaultd.pid")"
    while kill -0 "$(cat "$R/vaultd.pid")" 2>/dev/null; do sleep 0.05; done
    rm -f "$R/vaultd.pid"
}
systemctl() {
    case "$1" in
    enable) start_vaultd ;;
    start) start_vaultd ;;
    stop) stop_vaultd ;;
    restart) stop_vaultd; start_vaultd ;;
    reload) kill -HUP "$(cat "$R/vaultd.pid")" ;;
    esac
}
journalctl() { tail -n 20 "$R/vaultd.log"; }
editor() {
    sed -i -e "s| /var/lib/vaultd| $R/var/lib/vaultd|" \\
        -e "s| /etc/vaultd/| $R/etc/vaultd/|" \\
        -e "s| /run/vaultd/| $R/run/vaultd/|" "$1"
    cat "$R/policy-bank.ini" >>"$1"
}
chown() { :; }
runuser() { shift 3; "$@"; }
install() {
    a=""
    while [ $# -gt 0 ]; do
        case "$1" in -o|-g) shift 2 ;; *) a="$a '$1'"; shift ;; esac
    done
    eval "command install $a"
}
"""


OPS_DBA = """
import os, subprocess, sys
sys.path.insert(0, %(src)r)
import vdtest
E = vdtest.Env("vaultd", "vaultctl", "vdoprdba.", %(env)r)
if sys.argv[1] == "restore":
    E.sql("ALTER USER %(user)s@'localhost' IDENTIFIED BY PASSWORD "
          "'%(hash)s';")
else:
    old = open("old.pw").read().rstrip("\\n")
    cur = open("cur.pw").read().rstrip("\\n")
    cnf = E.optfile(old)
    esc = cur.replace("\\\\", "\\\\\\\\").replace("'", "\\\\'")
    p = subprocess.run(["mariadb", "--defaults-file=" + cnf, "-u",
                        %(user)r] + E.host_args("localhost"),
                       input=("SET PASSWORD FOR %(user)s@'localhost' = "
                              "PASSWORD('%%s');" %% esc).encode())
    os.unlink(cnf)
    E.cleanup()
    sys.exit(p.returncode)
E.cleanup()
"""


def ops_commands(text):
    """The command lines of docs/operations.md's ```sh blocks, joined and
    in order, with their expected exit code ("# exit N" in the comment,
    else 0); blocks in OPS_SKIP left out.  Returns (commands, skipped)."""
    cmds, skipped = [], []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines = [ln.strip() for ln in block.split("\n")]
        first = next((ln for ln in lines if ln and not ln.startswith("#")),
                     "")
        why = next((w for k, w in OPS_SKIP.items() if first.startswith(k)),
                   None)
        if why:
            skipped.append((first, why))
            continue
        cur, comments = "", ""
        for ln in lines:
            if not ln or ln.startswith("#"):
                continue
            m = re.search(r"\s+#\s*(.*)$", ln)
            if m:
                comments += " " + m.group(1)
                ln = ln[:m.start()]
            cur += ln.rstrip("\\").strip() + " "
            if ln.rstrip().endswith("\\"):
                continue
            m = re.search(r"\bexit (\d+)", comments)
            cmds.append((cur.strip(), int(m.group(1)) if m else 0))
            cur, comments = "", ""
    return cmds, skipped


def sc_opsdoc():
    """docs/operations.md, run: every ```sh block that can run on a test
    machine runs in order as one shell script (variables and umask carry
    over, as in a terminal), against the fixture's server for 10.0.0.5
    and 10.0.0.6 and a vault under the test's directory for /etc/vaultd,
    /var/lib/vaultd, /run/vaultd; systemd, the editor and the vaultd user
    are stood in for (OPS_PRELUDE).  Each command must exit as the guide
    says (0, or "exit N" in its comment)."""
    root = os.path.join(WORK, "ops")
    for d in ("etc/vaultd", "var/lib", "var/backups", "run/vaultd", "root",
              "tmp", "work"):
        os.makedirs(os.path.join(root, d), 0o700)
    sock = root + "/run/vaultd/vaultd.sock"
    u1, u2, adm = "opr_batch1", "opr_batch2", "opr_vaultd"
    p1, p2, pa = new_pw(), new_pw(), new_pw()
    # Section 3: self-rotation for batch1, the rotation account (its
    # grants as the guide gives them) for batch2.
    E.make_user(u1, p1, ["localhost"], grant="ALL PRIVILEGES")
    E.make_user(u2, p2, ["localhost"])
    E.make_user(adm, pa, ["localhost"])
    E.sql("GRANT SELECT ON mysql.user TO %s@'localhost';"
          "GRANT UPDATE ON mysql.* TO %s@'localhost';" % (vdtest.q(adm),
                                                          vdtest.q(adm)))
    with open(root + "/root/batch2.pw", "w") as f:
        f.write(p2 + "\n" + pa + "\n")
    with open(root + "/typed.pw", "w") as f:
        f.write(p1 + "\n")
    text = open(os.path.join(SRC, "docs/operations.md")).read()
    m = re.search(r"```ini\n(\[policy bank\].*?)```", text, re.S)
    check(m is not None, "section 4 has the [policy bank] block")
    with open(root + "/policy-bank.ini", "w") as f:
        f.write("\n" + (m.group(1) if m else ""))
    cmds, skipped = ops_commands(text)
    # The DBA's hand in section 8 (no password in argv: option files and
    # the client's stdin).
    with open(root + "/dba.py", "w") as f:
        f.write(OPS_DBA % {"src": os.path.dirname(os.path.abspath(
            __file__)), "env": E.envfile, "user": u1,
            "hash": vdtest.native_hash(p1)})

    def local(c):
        # Once, and only where a path starts (root is under /tmp too).
        c = re.sub(r"(?<![\w/.~-])(/var/lib/vaultd|/etc/vaultd|/run/vaultd|"
                   r"/var/backups|/root/|/tmp/)", lambda m: root + m.group(1),
                   c)
        c = c.replace("/usr/local/share/doc/vaultd/vaultd.conf.example",
                      SRC + "/etc/vaultd.conf.example")
        c = c.replace("--host 10.0.0.5 --port 3306 --user root",
                      "--unix-socket %s --user %s" % (MDB["MDB_SOCKET"], u1))
        c = c.replace("--host 10.0.0.6 --user root --admin-user vaultd",
                      "--unix-socket %s --user %s --admin-user %s" % (
                          MDB["MDB_SOCKET"], u2, adm))
        # The guide's placeholder version: batch1's first one here.
        return c.replace("--version 6", "--version 1")

    script = [OPS_PRELUDE % {"root": root}, "cd %s/work" % root]
    for i, (c, code) in enumerate(cmds):
        c = local(c)
        if c == "systemctl stop vaultd":
            # Between the backup and the restore the vault went on: the
            # restored copy lacks audit entries ("exit 1" below).  batch2
            # (rotated by its admin account) survives that.
            script.append("vaultctl rotate batch2 --wait >/dev/null")
        if c.startswith("vaultctl get batch1 --version"):
            # Section 8's situation: the database was restored, and holds
            # batch1's version 1 again.
            script.append("python3 %s/dba.py restore" % root)
        if c == "vaultctl get batch1 >cur.pw":
            # The guide's comment, done as a DBA would: log in with old.pw
            # (an option file), SET PASSWORD to cur.pw's on every host.
            c += " && python3 %s/dba.py fix" % root
        script.append("%s\nrc=$?\nif [ $rc -ne %d ]; then echo \"command "
                      "%d exited $rc, not %d: %s\" >&2; stop_vaultd; "
                      "exit 1; fi" % (c, code, i, code,
                                      c.replace('"', '\\"').replace(
                                          "$", "\\$")))
    script.append("stop_vaultd")
    with open(root + "/ops.sh", "w") as f:
        f.write("\n".join(script) + "\n")
    env = dict(os.environ, VAULTD_SOCKET=sock, PATH=os.path.dirname(
        os.path.abspath(VAULTCTL)) + ":" + os.path.dirname(
        os.path.abspath(VAULTD)) + ":" + os.environ["PATH"], HOME=root)
    p = subprocess.run(["sh", root + "/ops.sh"], env=env,
                       stdin=open(root + "/typed.pw"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    out, err = p.stdout.decode(), p.stderr.decode()
    check(p.returncode == 0, "docs/operations.md runs: %d %s" % (
        p.returncode, err[-1500:]))
    check(len(cmds) >= 35, "operations.md commands run: %d" % len(cmds))
    check(len(skipped) == len(OPS_SKIP), "every skip matches a block: %r" %
          skipped)
    v = subprocess.run([VAULTCTL, "audit", "verify", "--data-dir",
                        root + "/var/lib/vaultd", "--key-file",
                        root + "/etc/vaultd/root.key"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode != 0 or v.returncode == 0,
          "the restored vault's audit chain verifies: %s" % v.stderr)
    for what, data in (("stdout", out), ("stderr", err)):
        for pw in (p1, p2, pa):
            check(pw not in data, "a handed-in password in the %s" % what)
    log("opsdoc: %d commands of docs/operations.md run, %d blocks skipped"
        % (len(cmds), len(skipped)))
    for u in (u1, u2, adm):
        E.sql("DROP USER IF EXISTS %s@'localhost';" % vdtest.q(u))


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
             ("preflight", sc_preflight), ("rows", sc_rows),
             ("opsdoc", sc_opsdoc), ("doccmds", sc_doccmds)]


def main():
    try:
        ran = run_scenarios(SCENARIOS, ONLY)
    finally:
        vdtest.stop_all()
    finish(ran, WORK)


if __name__ == "__main__":
    main()
