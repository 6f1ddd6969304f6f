#!/usr/bin/env python3
"""test_checkout.py - vendor maintenance without a site visit (issue 17):
access requests, dual-control approval, time-boxed exclusive checkouts and
rotation on check-in, against a real MariaDB server (the "co" fixture),
with throwaway Unix users acting through setpriv as vendor engineers, bank
approvers and root as the admin.

  flow    no reveal before approval (exit 3, audited); self-approval
          refused; two approvals needed when approvals = 2; reveal for
          the holder only; a second request refused naming the holder;
          the scheduled rotation waits; restart of vaultd mid-checkout
          keeps the request and the checkout; check-in rotates and the
          revealed password is refused by the server afterwards; deny;
          expiry rotates; revoke rotates; history and audit tell the
          story; the notify command receives each event and no password
  ttl     an unanswered request expires after [approval] request_ttl;
          a notify command that fails is logged and blocks nothing

usage: test_checkout.py VAULTD VAULTCTL [SCENARIO...]
Needs VD_TEST_MDB_ENV (the fixture's env file).  Standard library only;
passwords travel on stdin or in 0600 option files, never in argv.
"""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest  # noqa: E402
from vdtest import Env, Vault, check, log, q  # noqa: E402

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
os.environ.pop("NOTIFY_SOCKET", None)
E = Env(VAULTD, VAULTCTL, "vdco.")
TAG = "vco%d" % (os.getpid() % 100000)
GRP = TAG + "g"
VENDOR, VENDOR2, APPR1, APPR2 = (TAG + s for s in ("v", "w", "a", "b"))
USERS = (VENDOR, VENDOR2, APPR1, APPR2)


def new_pw():
    return "Co#" + secrets.token_hex(8) + "'\\;"


class CoVault(Vault):
    """A key-file vault whose socket the test's Unix users reach (its
    directory outside the work dir, group GRP), with the access lists of
    a maintenance job and a notify command writing events to a file."""

    def __init__(self, name, extra="", rotation="", hook_fails=False):
        self.sockdir = tempfile.mkdtemp(prefix="vdco-sock.", dir="/tmp")
        os.chmod(self.sockdir, 0o711)
        self.events = os.path.join(self.sockdir, "events.jsonl")
        self.hook = os.path.join(self.sockdir, "notify.sh")
        with open(self.hook, "w") as f:
            # Every event on its own line; its argument first.
            # One file per run: runs may overlap.
            f.write("#!/bin/sh\nf=$(mktemp %s/ev.XXXXXX) || exit 1\n"
                    "{ printf '%%s ' \"$1\"; cat; } > \"$f\"\n"
                    "env > %s.env\n%s" % (self.sockdir, self.events,
                                          "exit 3\n" if hook_fails else ""))
        os.chmod(self.hook, 0o700)
        self.extra_conf = extra
        super().__init__(E, name, rotation)

    def create(self, rotation, extra):
        self.sock = os.path.join(self.sockdir, "run", "vaultd.sock")
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s\nkey_file = %s\nsocket = %s\n"
                    "socket_group = %s\n\n[access]\nadmin = root\n"
                    "reveal = %s:co1, %s:co1, %s:co1\n"
                    "approver = %s, %s\n\n[notify]\ncommand = %s\n\n%s\n"
                    "[rotation]\nretry_min = 1s\nretry_max = 4s\n"
                    "min_every = 1s\n%s\n" %
                    (self.data, self.key, self.sock, GRP, VENDOR, VENDOR2,
                     APPR1, APPR1, APPR2, self.hook, self.extra_conf,
                     rotation))
        rc, _, err = self.run_ctl(["init", "--data-dir", self.data,
                                   "--key-file", self.key])
        if rc != 0:
            raise RuntimeError("init: " + err)

    def as_user(self, user, args, keep=True):
        """vaultctl as user (setpriv); returns (rc, stdout, stderr)."""
        p = subprocess.run(["setpriv", "--reuid=" + user, "--regid=" + GRP,
                            "--init-groups", VAULTCTL, "--socket",
                            self.sock] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        if keep:
            self.outputs.append((user + " " + " ".join(args[:1]) +
                                 " stdout", p.stdout))
        self.outputs.append((user + " " + " ".join(args[:1]) + " stderr",
                             p.stderr))
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def reveal(self, user, name="co1"):
        """get as user: (rc, password or None, stderr); stdout not kept."""
        rc, out, err = self.as_user(user, ["get", name], keep=False)
        return rc, (out[:-1] if rc == 0 and out.endswith("\n") else None), \
            err

    def events_seen(self):
        text = ""
        for n in sorted(os.listdir(self.sockdir)):
            if n.startswith("ev."):
                with open(os.path.join(self.sockdir, n)) as f:
                    text += f.read()
        return text

    def history(self, name):
        """The whole history (rotations every few seconds push the
        checkout notes past the default limit)."""
        rc, out, err = self.ctl(["history", name, "--limit", "2000",
                                 "--json"])
        try:
            return json.loads(out) if rc == 0 else []
        except ValueError:
            return []

    def cleanup(self):
        subprocess.run(["rm", "-rf", self.sockdir])


def make_users():
    subprocess.run(["groupadd", GRP], check=True)
    for u in USERS:
        subprocess.run(["useradd", "-M", "-N", "-g", GRP, "-s",
                        "/usr/sbin/nologin", u], check=True)


def drop_users():
    for u in USERS:
        subprocess.run(["userdel", u], stderr=subprocess.DEVNULL)
    subprocess.run(["groupdel", GRP], stderr=subprocess.DEVNULL)


def teardown(v, user):
    """Stops v's vaultd, removes its socket dir, the Unix users and the
    MariaDB account (after a scenario, failed or not)."""
    if v is not None:
        if v.proc is not None:
            v.stop()
        v.cleanup()
    drop_users()
    E.sql("DROP USER IF EXISTS %s@'localhost';" % q(user))


def request(v, user, reason, fors=None, name="co1"):
    """vaultctl request as user; returns (rc, request dict or None, err)."""
    args = ["request", name, "--reason", reason, "--json"]
    if fors:
        args += ["--for", fors]
    rc, out, err = v.as_user(user, args)
    try:
        return rc, (json.loads(out) if rc == 0 else None), err
    except ValueError:
        return rc, None, err


def requests(v, all_=True):
    rc, out, err = v.ctl(["requests", "--json"] + (["--all"] if all_
                                                      else []))
    try:
        return {r["id"]: r for r in json.loads(out)} if rc == 0 else {}
    except ValueError:
        return {}


def rotations(h):
    return [e for e in h if e.get("trigger") != "checkout"]


def audit(v):
    rc, out, err = v.ctl(["audit", "list", "--limit", "1000", "--json"])
    try:
        return json.loads(out) if rc == 0 else []
    except ValueError:
        return []


def approve_both(v, rid):
    rc1, _, e1 = v.as_user(APPR1, ["approve", str(rid)])
    rc2, out, e2 = v.as_user(APPR2, ["approve", str(rid), "--comment",
                                     "ok for the job", "--json"])
    check(rc1 == 0 and rc2 == 0, "request %s approved twice: %d %s / %d %s"
          % (rid, rc1, e1, rc2, e2))
    return json.loads(out) if rc2 == 0 else {}


def settled_rotation(v, trigger, rid, timeout=60):
    """Waits for the rotation with trigger naming request rid to end."""
    h = v.wait_history("co1", lambda h: any(
        e.get("trigger") == trigger and e.get("request") == rid and
        e.get("result") not in (None, "running") for e in h), timeout)
    for e in h:
        if e.get("trigger") == trigger and e.get("request") == rid:
            return e
    return None


def status_co(v, name="co1"):
    """status --json: the target's "checkout" field (None when null),
    and whether the target was listed at all."""
    rc, out, err = v.ctl(["status", "--json"])
    try:
        ts = {t["name"]: t for t in json.loads(out)["targets"]} \
            if rc == 0 else {}
    except (ValueError, KeyError):
        ts = {}
    return ts.get(name, {}).get("checkout"), name in ts


def status_shows_checkout(v, rid):
    """During a checkout of co1 by VENDOR (request rid): status in text,
    --json, --state checked-out and --prometheus name it."""
    co, listed = status_co(v)
    check(listed and isinstance(co, dict) and co.get("holder") == VENDOR
          and co.get("request") == rid and isinstance(
              co.get("until_unix"), int) and co["until_unix"] > time.time()
          and isinstance(co.get("until"), str) and
          co["until"].endswith("Z") and isinstance(co.get("uid"), int),
          "status --json: the checkout's holder, request and end: %r" % co)
    rc, out, err = v.ctl(["status"])
    check(rc == 0 and "checked out: target co1 by %s until %s (request %d)"
          % (VENDOR, co.get("until") if co else "?", rid) in out,
          "status names the holder below the table: %d %r" % (rc, out))
    rc, out, err = v.ctl(["status", "--state", "checked-out", "--json"])
    names = [t.get("name") for t in json.loads(out)["targets"]] \
        if rc == 0 else None
    check(names == ["co1"], "status --state checked-out lists co1: %d %r %r"
          % (rc, names, err))
    rc, out, err = v.ctl(["status", "--prometheus"])
    check(rc == 0 and 'vaultd_target_checked_out{target="co1"} 1' in out
          and 'vaultd_target_checkout_end_timestamp_seconds{target="co1"} '
          '%d' % (co or {}).get("until_unix", -1) in out,
          "status --prometheus: checked out, and its end: %r" % out[-600:])


def status_shows_no_checkout(v):
    co, listed = status_co(v)
    check(listed and co is None, "status --json: checkout null: %r" % co)
    rc, out, err = v.ctl(["status"])
    check(rc == 0 and "checked out" not in out and VENDOR not in out,
          "status names no holder: %r" % out)
    rc, out, err = v.ctl(["status", "--state", "checked-out", "--json"])
    check(rc == 0 and json.loads(out)["targets"] == [],
          "status --state checked-out lists nothing: %d %r" % (rc, out))
    rc, out, err = v.ctl(["status", "--prometheus"])
    check(rc == 0 and 'vaultd_target_checked_out{target="co1"} 0' in out
          and "vaultd_target_checkout_end_timestamp_seconds{" not in out,
          "status --prometheus: not checked out")


def sc_flow():
    user = TAG + "db"
    pw0 = new_pw()
    E.make_user(user, pw0, ["localhost"])
    make_users()
    v = None
    seen = [pw0]
    try:
        v = CoVault("flow")
        v.start()
        v.add("co1", user, pw0, extra=["--approvals", "2", "--checkout-max",
                                       "2h", "--every", "4s"])
        rc, out, err = v.ctl(["target", "show", "co1", "--json"])
        t = json.loads(out) if rc == 0 else {}
        check(t.get("approvals") == 2 and t.get("checkout_max") == 7200,
              "target show: approvals 2, checkout_max 2h: %r" % t)

        # No reveal before approval: exit 3, audited; root neither.
        rc, pw, err = v.reveal(VENDOR)
        check(rc == 3 and pw is None and "approved request" in err,
              "get before approval refused: %d %r" % (rc, err))
        rc, out, err = v.ctl(["get", "co1"], keep=False)
        check(rc == 3 and out == "", "root's get refused: %d %r" % (rc, err))
        check(any(a.get("event") == "get" and a.get("result") == "refused"
                  and a.get("user") == VENDOR for a in audit(v)),
              "the refused get is audited")

        # A reason is required and clean; the duration is bounded.
        rc, _, err = v.as_user(VENDOR, ["request", "co1"])
        check(rc == 2, "request without --reason: %d %r" % (rc, err))
        rc, r, err = request(v, VENDOR, "bad\x07reason")
        check(rc != 0 and r is None, "a control character in the reason "
              "refused: %d %r" % (rc, err))
        rc, r, err = request(v, VENDOR, "too long", "3h")
        check(rc != 0 and "checkout_max" in err,
              "--for beyond checkout-max refused: %d %r" % (rc, err))

        # The vendor asks.
        rc, r1, err = request(v, VENDOR, "firmware update, ticket CHG-1",
                              "1h")
        check(rc == 0 and r1 and r1["state"] == "pending" and
              r1["needed"] == 2, "request: %d %r %r" % (rc, r1, err))
        rid = r1["id"] if r1 else 0
        rc, r, err = request(v, VENDOR, "again")
        check(rc != 0 and "already" in err,
              "a second open request of the same user refused: %d %r" %
              (rc, err))

        # Self-approval: an approver who also asked cannot approve it.
        rc, r2, err = request(v, APPR1, "my own look")
        check(rc == 0 and r2, "the approver's own request: %d %r" % (rc,
                                                                     err))
        rid2 = r2["id"] if r2 else 0
        rc, out, err = v.as_user(APPR1, ["approve", str(rid2)])
        check(rc == 3 and "own request" in err,
              "self-approval refused: %d %r" % (rc, err))
        rc, out, err = v.ctl(["revoke", "--id", str(rid2)])
        check(rc == 0 and requests(v).get(rid2, {}).get("state") ==
              "revoked", "a pending request revoked: %d %r" % (rc, err))
        # The vendor is no approver.
        rc, out, err = v.as_user(VENDOR2, ["approve", str(rid)])
        check(rc == 3, "a non-approver's approve refused: %d %r" % (rc, err))

        # N = 2: one approval is not enough, nor the same one twice.
        rc, out, err = v.as_user(APPR1, ["approve", str(rid), "--comment",
                                         "looks fine"])
        check(rc == 0 and requests(v)[rid]["state"] == "pending",
              "one approval of two: still pending: %d %r" % (rc, err))
        rc, out, err = v.as_user(APPR1, ["approve", str(rid)])
        check(rc != 0 and "already" in err,
              "the same approver twice refused: %d %r" % (rc, err))
        rc, pw, err = v.reveal(VENDOR)
        check(rc == 3 and pw is None, "no reveal with one approval of two")
        status_shows_no_checkout(v)     # pending is no checkout
        rc, out, err = v.as_user(APPR2, ["approve", str(rid), "--comment",
                                         "go ahead", "--json"])
        r = json.loads(out) if rc == 0 else {}
        check(rc == 0 and r.get("state") == "approved" and r.get("until"),
              "second approval: checked out: %d %r %r" % (rc, r, err))

        status_shows_checkout(v, rid)

        # Reveal for the holder only.
        rc, pw_seen, err = v.reveal(VENDOR)
        check(rc == 0 and pw_seen and E.login(user, pw_seen),
              "the holder reveals the password in force: %d %r" % (rc, err))
        seen.append(pw_seen or "")
        for who in (VENDOR2, APPR1):
            rc, pw, err = v.reveal(who)
            check(rc == 3 and pw is None and VENDOR in err,
                  "%s refused during the checkout, holder named: %d %r" %
                  (who, rc, err))
        rc, r, err = request(v, VENDOR2, "my own job")
        check(rc != 0 and VENDOR in err and "until" in err,
              "a second request during the checkout refused with the "
              "holder and expiry: %d %r" % (rc, err))
        rc, out, err = v.as_user(VENDOR2, ["checkin", "co1"])
        check(rc == 3, "check-in by another user refused: %d %r" % (rc,
                                                                    err))

        # The scheduled rotation (every 4s) waits while checked out.
        n0 = len(rotations(v.history("co1")))
        time.sleep(9)
        h = v.history("co1")
        check(len(rotations(h)) == n0, "no rotation during the checkout: "
              "%d -> %d" % (n0, len(rotations(h))))
        rc, pw, err = v.reveal(VENDOR)
        check(rc == 0 and pw == pw_seen, "the holder's password stays")

        # Restart in the middle: the request and the checkout stay.
        check(v.stop() == 0, "vaultd stops mid-checkout")
        v.start()
        rq = requests(v)
        check(rq.get(rid, {}).get("state") == "approved" and
              len(rq[rid].get("approvals", [])) == 2,
              "after restart the checkout stands: %r" % rq.get(rid))
        rc, pw, err = v.reveal(VENDOR)
        check(rc == 0 and pw == pw_seen, "the holder reveals after restart")
        rc, pw, err = v.reveal(VENDOR2)
        check(rc == 3, "others still refused after restart: %d" % rc)
        time.sleep(5)
        check(len(rotations(v.history("co1"))) == n0,
              "no scheduled rotation after restart during the checkout")

        # Check-in rotates at once; the revealed password is dead.
        rc, out, err = v.as_user(VENDOR, ["checkin", "co1"])
        check(rc == 0 and "rotated" in out, "check-in: %d %r %r" % (rc, out,
                                                                  err))
        e = settled_rotation(v, "checkin", rid)
        check(e is not None and e["result"] == "ok",
              "a rotation with trigger checkin and request %d: %r" % (rid, e))
        check(not E.login(user, pw_seen),
              "the revealed password is refused after check-in")
        rc, out, err = v.ctl(["check", "co1"])
        check(rc == 0, "the vault's new password logs in: %d %r" % (rc, err))
        check(requests(v)[rid]["state"] == "checked-in", "checked-in")
        status_shows_no_checkout(v)
        rc, pw, err = v.reveal(VENDOR)
        check(rc == 3, "no reveal after check-in: %d" % rc)

        # Deny.
        rc, r, err = request(v, VENDOR2, "look at logs")
        rid3 = r["id"] if r else 0
        rc, out, err = v.as_user(APPR1, ["deny", str(rid3)])
        check(rc == 2, "deny without a comment: %d" % rc)
        rc, out, err = v.as_user(APPR1, ["deny", str(rid3), "--comment",
                                         "not this week"])
        check(rc == 0 and requests(v)[rid3]["state"] == "denied",
              "denied: %d %r" % (rc, err))
        rc, pw, err = v.reveal(VENDOR2)
        check(rc == 3, "no reveal after a denial")

        # Expiry rotates.
        rc, r, err = request(v, VENDOR2, "short job", "6s")
        rid4 = r["id"] if r else 0
        approve_both(v, rid4)
        rc, pw_exp, err = v.reveal(VENDOR2)
        check(rc == 0 and pw_exp and E.login(user, pw_exp),
              "the short checkout reveals: %d %r" % (rc, err))
        seen.append(pw_exp or "")
        e = settled_rotation(v, "expiry", rid4)
        check(e is not None and e["result"] == "ok",
              "the checkout's end rotates (trigger expiry): %r" % e)
        check(requests(v)[rid4]["state"] == "expired", "expired")
        check(not E.login(user, pw_exp), "the password seen is dead after "
              "expiry")

        # Revoke rotates.
        rc, r, err = request(v, VENDOR, "second visit")
        rid5 = r["id"] if r else 0
        approve_both(v, rid5)
        rc, pw_rev, err = v.reveal(VENDOR)
        check(rc == 0 and pw_rev, "revealed before the revoke")
        seen.append(pw_rev or "")
        rc, out, err = v.as_user(VENDOR, ["revoke", "co1"])
        check(rc == 3, "revoke by a non-admin refused: %d %r" % (rc, err))
        rc, out, err = v.ctl(["revoke", "co1", "--comment", "job over"])
        check(rc == 0, "revoke: %d %r" % (rc, err))
        e = settled_rotation(v, "revoke", rid5)
        check(e is not None and e["result"] == "ok",
              "the revoke rotates: %r" % e)
        check(not E.login(user, pw_rev), "the password seen is dead after "
              "the revoke")
        check(requests(v)[rid5]["state"] == "revoked", "revoked")

        # The story: history beside rotations, the audit, the requests.
        h = v.history("co1")
        evs = [(x.get("event"), x.get("request")) for x in h
               if x.get("trigger") == "checkout"]
        for want in (("request", rid), ("approve", rid), ("checkout", rid),
                     ("checkin", rid), ("deny", rid3), ("expiry", rid4),
                     ("revoke", rid5)):
            check(want in evs, "history shows %r" % (want,))
        rc, out, err = v.ctl(["history", "co1", "--limit", "500"])
        check(rc == 0 and "checkout" in out and "checkin" in out,
              "history's table shows checkouts: %r" % out[:300])
        a = audit(v)
        check(any(x.get("event") == "request" and x.get("reason") ==
                  "firmware update, ticket CHG-1" for x in a),
              "the request's reason is audited")
        check(any(x.get("event") == "approve" and x.get("reason") ==
                  "go ahead" and x.get("user") == APPR2 for x in a),
              "the approval's comment is audited")
        check(any(x.get("event") == "get" and x.get("result") == "ok" and
                  "checkout request %d" % rid in (x.get("reason") or "")
                  for x in a), "the reveal under the checkout is audited")
        check(any(x.get("event") == "approve" and x.get("result") ==
                  "refused" and "own request" in (x.get("reason") or "")
                  for x in a), "the self-approval is audited")
        rc, out, err = v.ctl(["requests", "--all"])
        check(rc == 0 and "checked-in" in out and "denied" in out,
              "requests --all lists them: %r" % out[:400])
        rc, out, err = v.ctl(["requests"])
        check(rc == 0 and "checked-in" not in out,
              "requests without --all: open ones only")

        # The notify command: each event, never a password.
        time.sleep(1)
        ev = v.events_seen()
        lines = [ln for ln in ev.splitlines() if ln.strip()]
        kinds = {}
        for ln in lines:
            arg, _, js = ln.partition(" ")
            try:
                o = json.loads(js)
            except ValueError:
                check(False, "notify input is one JSON line: %r" % ln)
                continue
            check(o.get("event") == arg, "argv names the event: %r" % ln)
            kinds.setdefault(o.get("event"), set()).add(o.get("request"))
        for kind, r in (("request", rid), ("approve", rid),
                        ("checkout", rid), ("checkin", rid),
                        ("deny", rid3), ("expiry", rid4),
                        ("revoke", rid5)):
            check(r in kinds.get(kind, set()), "notify got %s of request "
                  "%s: %r" % (kind, r, kinds))
        for p in seen:
            check(p not in ev, "no password in the notify input")
        try:
            with open(v.events + ".env") as f:
                nenv = f.read()
        except OSError:
            nenv = ""
        check("PATH=" in nenv and "VD_TEST_MDB_ENV" not in nenv and
              "HOME=" not in nenv, "the notify command's environment is "
              "scrubbed: %r" % nenv)

        check(v.stop() == 0, "vaultd stops cleanly")
        rc, out, err = v.audit_verify()
        check(rc == 0, "audit chain verifies: %d %s" % (rc, err))
        texts = [("vaultd log", v.logtext().encode())] + v.outputs
        for what, data in texts:
            for p in seen:
                check(p.encode() not in data, "a password in %s" % what)
    finally:
        teardown(v, user)


def sc_ttl():
    make_users()
    user = TAG + "tt"
    pw0 = new_pw()
    E.make_user(user, pw0, ["localhost"])
    v = None
    try:
        # A notify command that fails: logged, the flow goes on.
        v = CoVault("ttl", extra="[approval]\nrequest_ttl = 2s\n",
                    hook_fails=True)
        v.start()
        v.add("co1", user, pw0, extra=["--approvals", "1"])
        rc, r, err = request(v, VENDOR, "nobody answers")
        rid = r["id"] if r else 0
        check(rc == 0 and r["state"] == "pending",
              "request with a failing notify command: %d %r" % (rc, err))
        end = time.time() + 30
        while time.time() < end and requests(v).get(rid, {}).get(
                "state") == "pending":
            time.sleep(0.25)
        check(requests(v).get(rid, {}).get("state") == "expired",
              "an unanswered request expires: %r" % requests(v).get(rid))
        rc, out, err = v.as_user(APPR1, ["approve", str(rid)])
        check(rc != 0 and "not pending" in err,
              "an expired request cannot be approved: %d %r" % (rc, err))
        check(rotations(v.history("co1"))[-1:] and all(
            e.get("trigger") != "expiry" for e in v.history("co1")),
              "an unanswered request's expiry rotates nothing")
        check("notify command for event request failed: exit status 3" in
              v.logtext(), "the notify command's failure is logged")
    finally:
        teardown(v, user)


SCENARIOS = [("flow", sc_flow), ("ttl", sc_ttl)]

if __name__ == "__main__":
    vdtest.main(SCENARIOS, ONLY, E)
