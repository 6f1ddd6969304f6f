#!/usr/bin/env python3
"""test_trust.py - issue 14's attacks on transport and escrow, each carried
out against vaultd and refused.

usage: test_trust.py VAULTD VAULTCTL [SCENARIO...]
On the "main" fixture (throwaway users, dropped again).

  cleartext  A hostile server (fakemdb.py, 127.0.0.1) greets vaultd with
             mysql_native_password and then asks it to switch to
             mysql_clear_password, dialog or sha256_password (each sends
             the password as it is, or RSA-encrypted to a key the server
             chose).  target add must fail, the client must not answer
             the switch, and the password's bytes must never reach the
             server.
  tlsdefault The same hostile server on a non-loopback address of this
             host: target add without --tls must insist on TLS (the
             server offers none: refused before any authentication
             packet); --tls disabled is the explicit way to plaintext (and
             still meets the plugin restriction).  A real loopback TCP
             target and a socket target still work without TLS, and a
             target stored as "tls disabled" for a non-loopback host is
             shown with a warning by status.
  parties    Escrow parties change by SIGHUP: removing a party (and in a
             second vault making the mode stricter) rotates every target,
             audited; an escrow bundle exported before the change, opened
             with the removed party's key, yields a password that no
             longer logs in.  Adding a party only re-seals (no rotation).
  squatter   Another uid listens on a stale socket path in a directory
             it does not own (a sticky, world-writable one, as /tmp):
             vaultctl target add and target set-password refuse it, naming
             both uids, and the squatter receives not one byte.  The same
             listener in its own directory is what the check trusts.
  sockdir    vaultd refuses a socket directory writable by others or its
             group (not sticky), one owned by another uid, and a symbolic
             link, naming directory, owner and mode; a sticky one of its
             own it accepts.
  peergroups Roles come from the caller's real groups (SO_PEERGROUPS), not
             /etc/group: a user started with setpriv --groups G gets G's
             role though /etc/group does not list it; a member of G
             started without G does not.
  replay     One older authentic record put back into data.mdb of the
             stopped vault, without the key (item 3): the target record
             from before the operator's `target set`, then version 1's
             record from while it was current.  vaultd refuses to start
             ("modified outside vaultd") and audit verify exits 1; with
             the newer bytes back, both are content again.
  authplugin Per-account plugin restriction (item 5): a real ed25519
             account, a mysql_native_password one and one with both
             ("ed25519 OR mysql_native_password") are added; each target
             record names the account's own plugins, and the ed25519 and
             two-method accounts rotate.  Then a hostile server
             (fakemdb.py) asks the native account's client to switch to
             client_ed25519 and the ed25519 account's client to switch to
             mysql_native_password: vaultd never answers either switch.
             The same for an ed25519 admin account of a native target.
  pubpin     Issue 14 item 8: a party's .pub file replaced by a key of the
             attacker's (same party name), then SIGHUP: refused by the key
             id pinned in [escrow], audited, the old configuration stays
             (a new version opens with the party's own key, not the
             attacker's); a group-writable .pub and a symbolic link are
             refused the same way; a start with the replaced file fails;
             an unpinned party is refused.
  reincarnate Issue 14 item 8: a target removed (vaultd then killed with
             SIGKILL) and added again under the same name, for another
             account, starts fresh: its first version is numbered above
             the old ones, target show and history list only the new
             incarnation, get --version of an old version and break-glass
             of an old version from the data directory find nothing, and
             break-glass of the new target opens the new password.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakemdb  # noqa: E402
from vdtest import (FAILS, Env, Vault, check, finish, log,  # noqa: E402
                    pinned, run_password, run_scenarios, stop_all)

VAULTD, VAULTCTL = sys.argv[1:3]
ONLY = sys.argv[3:]
E = Env(VAULTD, VAULTCTL, "vdtrust.")
MDB = E.mdb


def new_pw():
    return "Tr" + secrets.token_hex(10) + "#x"


def stop_ok(v, what):
    """Stops v's vaultd; it must exit 0 (a sanitizer report would not)."""
    rc = v.stop()
    check(rc in (0, None), "%s: vaultd exits 0, not %r: %s" %
          (what, rc, v.logtext()[-1500:] if rc else ""))


def non_loopback_ipv4():
    """An IPv4 address of this host that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))       # no packet is sent
        a = s.getsockname()[0]
    except OSError:
        a = None
    finally:
        s.close()
    return a if a and not a.startswith("127.") else None


def sc_cleartext():
    v = Vault(E, "clear")
    v.start()
    for plugin in ("mysql_clear_password", "dialog", "sha256_password"):
        fs = fakemdb.FakeServer("127.0.0.1", switch_to=plugin)
        pw = new_pw()
        try:
            rc, out, err = v.ctl(["target", "add", "c" + plugin[:5],
                                  "--host", "127.0.0.1", "--port",
                                  str(fs.port), "--user", "victim"],
                                 pw + "\n")
            time.sleep(0.3)     # the server thread records its events
            check(rc != 0, "%s: target add fails" % plugin)
            check("refused before the password was sent" in err,
                  "%s: the refusal says why: %s" % (plugin, err.strip()))
            check(any("switched" in ev for ev in fs.events),
                  "%s: the server did ask for the switch: %r" %
                  (plugin, fs.events))
            check(not any("answered-switch" in ev for ev in fs.events),
                  "%s: vaultd never answered the switch: %r" %
                  (plugin, fs.events))
            check(not fs.saw(pw), "%s: the password never reached the "
                  "hostile server" % plugin)
            check(pw not in v.logtext() and pw not in err,
                  "%s: no password in vaultd's log or the error" % plugin)
        finally:
            fs.close()
    stop_ok(v, "stop 1")


def sc_tlsdefault():
    addr = non_loopback_ipv4()
    v = Vault(E, "tls")
    v.start()
    if addr is None:
        log("no non-loopback IPv4 address: the remote half is skipped")
    else:
        fs = fakemdb.FakeServer(addr, switch_to="mysql_clear_password")
        pw = new_pw()
        try:
            rc, out, err = v.ctl(["target", "add", "r1", "--host", addr,
                                  "--port", str(fs.port), "--user",
                                  "victim"], pw + "\n")
            time.sleep(0.3)
            check(rc != 0 and "not loopback" in err,
                  "remote without --tls: TLS insisted on: %d %s" %
                  (rc, err.strip()))
            check(fs.events and not any("switched" in ev
                                        for ev in fs.events),
                  "remote without --tls: no authentication packet "
                  "was sent: %r" % fs.events)
            check(not fs.saw(pw), "remote without --tls: no password "
                  "bytes reached the server")
            n = len(fs.events)
            rc, out, err = v.ctl(["target", "add", "r2", "--host", addr,
                                  "--port", str(fs.port), "--user",
                                  "victim", "--tls", "disabled"], pw + "\n")
            time.sleep(0.3)
            check(rc != 0 and len(fs.events) > n and
                  any("switched" in ev for ev in fs.events[n:]),
                  "--tls disabled: plaintext allowed, so the handshake "
                  "went on: %r" % fs.events[n:])
            check(not fs.saw(pw), "--tls disabled: still no password to "
                  "a server asking for cleartext")
        finally:
            fs.close()
        # A record stored with tls disabled for a remote host: status
        # warns.  (vaultd refuses to add it unless it logs in, so plant
        # it through a forwarder to the real server.)
        fwd = Forwarder(addr, int(MDB["MDB_PORT"]))
        user, pw = "trtls" + secrets.token_hex(3), new_pw()
        E.make_user(user, pw, ["127.0.0.1"])
        try:
            rc, out, err = v.ctl(["target", "add", "plain", "--host", addr,
                                  "--port", str(fwd.port), "--user", user,
                                  "--account-hosts", "127.0.0.1", "--tls",
                                  "disabled"], pw + "\n")
            if rc == 0:
                rc, out, err = v.ctl(["status"])
                check("warning: target plain: TLS disabled" in out,
                      "status warns about the plaintext target: %s" % out)
                st = v.target_status("plain")
                check("TLS disabled" in (st.get("warning") or ""),
                      "status --json carries the warning: %r" % st)
            else:
                log("forwarded target not added (%s): status warning "
                    "not shown" % err.strip())
        finally:
            fwd.close()
            E.sql("DROP USER IF EXISTS '%s'@'127.0.0.1';" % user)
    # Loopback TCP and socket targets need no TLS (the default is safe,
    # not a break for local servers).
    user, pw = "trloc" + secrets.token_hex(3), new_pw()
    E.make_user(user, pw, ["127.0.0.1", "localhost"])
    try:
        rc, out, err = v.ctl(["target", "add", "loop", "--host",
                              "127.0.0.1", "--port", MDB["MDB_PORT"],
                              "--user", user, "--account-hosts",
                              "127.0.0.1"], pw + "\n")
        check(rc == 0, "loopback TCP target without TLS: %s" % err)
        rc, out, err = v.ctl(["rotate", "loop", "--wait"])
        check(rc == 0 and E.login(user, v.get("loop"), "127.0.0.1"),
              "loopback TCP target rotates: %s" % err)
        rc, out, err = v.ctl(["status"])
        check("warning: target loop" not in out,
              "no warning for a loopback target")
    finally:
        E.sql("DROP USER IF EXISTS '%s'@'127.0.0.1';"
              "DROP USER IF EXISTS '%s'@'localhost';" % (user, user))
    stop_ok(v, "stop 2")


class Forwarder:
    """A plain TCP forwarder from (addr, any port) to 127.0.0.1:port."""

    def __init__(self, addr, port):
        import threading
        self.to = port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.threading = threading
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.to))
            except OSError:
                c.close()
                continue
            for a, b in ((c, s), (s, c)):
                self.threading.Thread(target=self.pipe, args=(a, b),
                                      daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.sock.close()


def keygen(name, tag=""):
    path = os.path.join(E.work, name + tag + ".key")
    p = subprocess.run([VAULTCTL, "escrow", "keygen", "--out", path,
                        "--name", name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    check(p.returncode == 0, "keygen %s: %s" % (name, p.stderr.decode()))
    return path


def vault_fp(v):
    p = subprocess.run([VAULTCTL, "escrow", "vault-key", "--data-dir",
                        v.data, "--key-file", v.key],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    check(p.returncode == 0, "escrow vault-key: %s" % p.stderr.decode())
    return p.stdout.decode().strip()


def export(v, name):
    path = os.path.join(v.dir, name)
    rc, out, err = v.ctl(["escrow", "export", "--out", path])
    check(rc == 0, "escrow export %s: %s" % (name, err))
    return path


def bg_bundle(bundle, fp, keys, target):
    """Break-glass on a bundle; (rc, password or '', stderr)."""
    args = [VAULTCTL, "breakglass", "--bundle", bundle, "--vault-key", fp]
    for k in keys:
        args += ["--escrow-key", k]
    return run_password(args + [target])


def set_escrow(v, lines):
    """Replaces the [escrow] section of v's config with lines."""
    with open(v.conf) as f:
        conf = f.read()
    head, sep, tail = conf.partition("[escrow]\n")
    rest = tail.split("\n[", 1)
    tail = ("\n[" + rest[1]) if len(rest) > 1 else ""
    with open(v.conf, "w") as f:
        f.write(head + "[escrow]\n" + "".join(l + "\n" for l in lines) +
                tail)


def audit_events(v, event):
    rc, out, err = v.ctl(["audit", "list", "--json", "--limit", "10000"])
    try:
        return [e for e in json.loads(out) if e.get("event") == event] \
            if rc == 0 else []
    except ValueError:
        return []


def wait_rotated(v, names, trigger, since, timeout=90):
    """Waits until each target's newest history entry is an ok rotation
    with trigger (one of) after version since[name]; returns
    {name: entry}."""
    done = {}
    end = time.time() + timeout
    while time.time() < end and len(done) < len(names):
        for n in names:
            if n in done:
                continue
            h = v.history(n)
            if h and h[0].get("result") == "ok" and \
                    h[0].get("trigger") in trigger and \
                    h[0].get("version", 0) > since[n]:
                done[n] = h[0]
        time.sleep(0.25)
    return done


def current_versions(v, names):
    return {n: (v.target_status(n).get("current_version") or 0)
            for n in names}


def sc_parties():
    cust, vend, other = keygen("customer"), keygen("vendor"), keygen("other")
    users = {}
    names = ["p1", "p2", "p3"]
    v = Vault(E, "parties", rotation="concurrency = 2",
              extra="[escrow]\nmode = any\ncustomer = %s\n"
              "vendor = %s\n" % (pinned(cust), pinned(vend)))
    try:
        v.start()
        for n in names:
            user, pw = "trp" + n + secrets.token_hex(3), new_pw()
            E.make_user(user, pw, ["localhost"])
            users[n] = user
            v.add(n, user, pw, "localhost")
        fp = vault_fp(v)
        old = export(v, "before.bundle")
        rc, got, err = bg_bundle(old, fp, [vend], "p1")
        check(rc == 0 and E.login(users["p1"], got),
              "before: the vendor's key opens the password in force: %s" %
              err)

        # 1. Adding a party re-seals, and rotates nothing.
        since = current_versions(v, names)
        set_escrow(v, ["mode = any", "customer = %s" % pinned(cust),
                       "vendor = %s" % pinned(vend), "other = %s" % pinned(other)])
        v.proc.send_signal(signal.SIGHUP)
        end = time.time() + 30
        while time.time() < end and len(audit_events(v, "escrow-reseal")) \
                < 1:
            time.sleep(0.2)
        time.sleep(1.5)
        check(audit_events(v, "escrow-reseal") and
              not audit_events(v, "escrow-rotate"),
              "a party added: re-sealed, no rotation requested")
        check(current_versions(v, names) == since,
              "a party added: no target rotated: %r" %
              current_versions(v, names))

        # 2. Removing the vendor rotates every target.
        since = current_versions(v, names)
        set_escrow(v, ["mode = any", "customer = %s" % pinned(cust),
                       "other = %s" % pinned(other)])
        v.proc.send_signal(signal.SIGHUP)
        done = wait_rotated(v, names, ("escrow",), since)
        check(sorted(done) == names, "vendor removed: every target "
              "rotated (trigger escrow): %r" % sorted(done))
        ev = audit_events(v, "escrow-rotate")
        check(len(ev) == 1 and ev[0].get("targets") == 3 and
              ev[0].get("party") == "vendor",
              "the rotation is audited once, naming the party: %r" % ev)
        for n in names:
            now_pw = v.get(n)
            check(E.login(users[n], now_pw), "%s: the new password logs "
                  "in" % n)
            rc, got, err = bg_bundle(old, fp, [vend], n)
            check(rc == 0 and got != now_pw and
                  not E.login(users[n], got),
                  "%s: the old bundle with the removed vendor's key opens "
                  "only a password that no longer logs in: %d %s" %
                  (n, rc, err))
        new = export(v, "after.bundle")
        rc, got, err = bg_bundle(new, fp, [vend], "p1")
        check(rc != 0 and got == "", "a bundle made after the change "
              "opens nothing with the vendor's key: %d %s" % (rc, err))
        rc, got, err = bg_bundle(new, fp, [cust], "p1")
        check(rc == 0 and got == v.get("p1"), "the customer still opens "
              "the new password: %s" % err)

        # 3. Re-keying a party while vaultd is stopped: the start rotates
        # (the need is found before the re-seal drops the envelopes).
        old2 = export(v, "before-rekey.bundle")
        since = current_versions(v, names)
        stop_ok(v, "stop 3")
        cust2 = keygen("customer", "-new")
        set_escrow(v, ["mode = any", "customer = %s" % pinned(cust2),
                       "other = %s" % pinned(other)])
        v.start()
        done = wait_rotated(v, names, ("escrow", "after-reveal"), since)
        check(sorted(done) == names, "customer re-keyed while stopped: "
              "every target rotated at start: %r" % sorted(done))
        for n in names:
            rc, got, err = bg_bundle(old2, fp, [cust], n)
            check(rc == 0 and not E.login(users[n], got),
                  "%s: the customer's old key opens nothing that logs in"
                  % n)
    finally:
        stop_ok(v, "stop 4")

    # 4. A stricter mode (any -> 2-of-2) rotates too.
    v = Vault(E, "strict", extra="[escrow]\nmode = any\ncustomer = %s\n"
              "vendor = %s\n" % (pinned(cust), pinned(vend)))
    try:
        v.start()
        user, pw = "trps" + secrets.token_hex(3), new_pw()
        E.make_user(user, pw, ["localhost"])
        users["s"] = user
        v.add("s", user, pw, "localhost")
        fp = vault_fp(v)
        old = export(v, "before.bundle")
        since = current_versions(v, ["s"])
        set_escrow(v, ["mode = 2-of-2", "customer = %s" % pinned(cust),
                       "vendor = %s" % pinned(vend)])
        v.proc.send_signal(signal.SIGHUP)
        done = wait_rotated(v, ["s"], ("escrow",), since)
        check("s" in done, "any -> 2-of-2: rotated")
        rc, got, err = bg_bundle(old, fp, [cust], "s")
        check(rc == 0 and not E.login(user, got) and
              E.login(user, v.get("s")),
              "any -> 2-of-2: the customer alone, with the old bundle, "
              "opens only a password that no longer logs in: %s" % err)
    finally:
        stop_ok(v, "stop 5")
        for u in users.values():
            E.sql("DROP USER IF EXISTS '%s'@'localhost';" % u)


def reload_results(v):
    """(result, reason) of every config.reload audit entry, oldest
    first."""
    return [(e.get("result"), e.get("reason", ""))
            for e in reversed(audit_events(v, "config.reload"))]


def sighup_refused(v, n_before, what):
    """Sends SIGHUP and waits for the config.reload audit entry number
    n_before + 1; checks it says refused; returns its reason."""
    v.proc.send_signal(signal.SIGHUP)
    end = time.time() + 30
    res = reload_results(v)
    while time.time() < end and len(res) <= n_before:
        time.sleep(0.2)
        res = reload_results(v)
    check(len(res) == n_before + 1 and res[-1][0] == "refused",
          "%s: SIGHUP refused and audited: %r" % (what, res))
    return res[-1][1] if len(res) > n_before else ""


def sc_pubpin():
    cust, vend = keygen("customer", "-pin"), keygen("vendor", "-pin")
    evil = keygen("customer", "-evil")
    cust_pub = open(cust + ".pub").read()
    v = Vault(E, "pubpin", extra="[escrow]\nmode = any\ncustomer = %s\n"
              "vendor = %s\n" % (pinned(cust), pinned(vend)))
    user = "trpin" + secrets.token_hex(3)
    try:
        v.start()
        pw = new_pw()
        E.make_user(user, pw, ["localhost"])
        v.add("p", user, pw, "localhost")
        fp = vault_fp(v)

        # 1. The attack: the customer's .pub now holds the attacker's key.
        with open(cust + ".pub", "w") as f:
            f.write(open(evil + ".pub").read())
        n = len(reload_results(v))
        why = sighup_refused(v, n, "replaced .pub")
        evil_id = open(evil + ".pub").read().split()[3]
        check(evil_id in why and "pinned" in why,
              "the refusal names the key id found and the pin: %r" % why)
        check("refused" in v.logtext() and evil_id in v.logtext(),
              "the refusal is logged")
        # The old configuration stays: a new version is sealed to the
        # customer's own key, and the attacker's key opens nothing.
        since = current_versions(v, ["p"])["p"]
        rc, out, err = v.ctl(["rotate", "p"])
        check(rc == 0, "rotate p: %s" % err)
        h = v.wait_history("p", lambda h: h and h[0].get("result") == "ok"
                           and h[0].get("version", 0) > since)
        check(h and h[0].get("version", 0) > since, "p rotated: %r" %
              h[:1])
        b = export(v, "after-attack.bundle")
        rc, got, err = bg_bundle(b, fp, [evil], "p")
        check(rc != 0 and got == "", "the attacker's key opens nothing: "
              "%d %s" % (rc, err))
        rc, got, err = bg_bundle(b, fp, [cust], "p")
        check(rc == 0 and got == v.get("p") and E.login(user, got),
              "the customer's own key opens the new password: %s" % err)

        # 2. The right key, but the file writable by its group; then a
        # symbolic link to the right file.
        with open(cust + ".pub", "w") as f:
            f.write(cust_pub)
        os.chmod(cust + ".pub", 0o664)
        why = sighup_refused(v, n + 1, "group-writable .pub")
        check("writable by its group" in why, "names the mode: %r" % why)
        os.chmod(cust + ".pub", 0o644)
        link = os.path.join(E.work, "customer-link.pub")
        os.symlink(cust + ".pub", link)
        set_escrow(v, ["mode = any", "customer = %s %s" %
                       (link, cust_pub.split()[3]),
                       "vendor = %s" % pinned(vend)])
        why = sighup_refused(v, n + 2, "symbolic link")
        check("symbolic link" in why, "names the link: %r" % why)
        # 3. An unpinned party (a config from before the pin).
        set_escrow(v, ["mode = any", "customer = %s.pub" % cust,
                       "vendor = %s" % pinned(vend)])
        why = sighup_refused(v, n + 3, "unpinned party")
        check("no key id pinned" in why, "says how to pin: %r" % why)
        # The good configuration again: accepted.
        set_escrow(v, ["mode = any", "customer = %s" % pinned(cust),
                       "vendor = %s" % pinned(vend)])
        v.proc.send_signal(signal.SIGHUP)
        end = time.time() + 30
        while time.time() < end and len(reload_results(v)) < n + 5:
            time.sleep(0.2)
        check(reload_results(v)[-1:] == [("ok", "")],
              "the pinned config reloads: %r" % reload_results(v)[-1:])

        # 4. A start with the replaced file fails, naming it.
        stop_ok(v, "pubpin stop")
        with open(cust + ".pub", "w") as f:
            f.write(open(evil + ".pub").read())
        before = len(v.logtext())
        v.start(wait=False)
        rc = v.proc.wait(timeout=120)
        v.err.close()
        v.proc = None
        check(rc == 1 and evil_id in v.logtext()[before:],
              "start-up with a replaced .pub: exit 1, the key id named: %r"
              % rc)
        with open(cust + ".pub", "w") as f:
            f.write(cust_pub)
        v.start()
        check(reload_results(v)[-1:] == [("ok", "")] and
              any(e.get("result") == "refused" for e in
                  audit_events(v, "config.load")),
              "the refused start is audited (config.load refused)")
    finally:
        stop_ok(v, "pubpin end")
        E.sql("DROP USER IF EXISTS '%s'@'localhost';" % user)


def bg_dir(v, fp, key, target, version=None):
    """Break-glass on v's live data directory; (rc, password, stderr)."""
    args = [VAULTCTL, "--socket", v.sock, "breakglass", "--data-dir",
            v.data, "--escrow-key", key, "--vault-key", fp]
    if version is not None:
        args += ["--version", str(version)]
    return run_password(args + [target])


def sc_reincarnate():
    cust = keygen("customer", "-re")
    v = Vault(E, "reinc", extra="[escrow]\nmode = any\ncustomer = %s\n"
              % pinned(cust))
    old_user = "trro" + secrets.token_hex(3)
    new_user = "trrn" + secrets.token_hex(3)
    try:
        v.start()
        pw1, pw_new = new_pw(), new_pw()
        E.make_user(old_user, pw1, ["localhost"])
        E.make_user(new_user, pw_new, ["localhost"])
        v.add("re", old_user, pw1, "localhost")
        rc, out, err = v.ctl(["rotate", "re", "--wait"])
        check(rc == 0, "rotate re: %s" % err)
        pw2 = v.get("re")
        check(pw2 and pw2 != pw1 and E.login(old_user, pw2),
              "version 2 of the old incarnation is in force")
        fp = vault_fp(v)
        rc, out, err = v.ctl(["target", "remove", "re"])
        check(rc == 0, "target remove: %s" % err)
        # Killed between the removal and the new add.
        v.stop(signal.SIGKILL)
        v.start()
        v.add("re", new_user, pw_new, "localhost")
        rc, out, err = v.ctl(["target", "show", "re", "--json"])
        vers = [x.get("version") for x in json.loads(out).get("versions",
                                                             [])] \
            if rc == 0 else None
        check(vers == [3], "the new incarnation lists only its own "
              "version 3: %r" % vers)
        h = v.history("re")
        check(h and all(e.get("version", 3) >= 3 for e in h) and
              len(h) == 1, "its history holds only the new entry: %r" % h)
        check(v.get("re") == pw_new, "get answers the new password")
        for old in (1, 2):
            check(v.get("re", version=old) is None,
                  "get --version %d of the old incarnation: nothing" % old)
            rc, got, err = bg_dir(v, fp, cust, "re", old)
            check(rc != 0 and got == "" and "no escrow envelopes" in err,
                  "break-glass of old version %d from the data directory "
                  "finds nothing: %d %r" % (old, rc, err))
        rc, got, err = bg_dir(v, fp, cust, "re")
        check(rc == 0 and got == pw_new and "opening version 3" in err,
              "break-glass of the new target opens the new password: %d "
              "%r" % (rc, err))
        ev = [e for e in audit_events(v, "target.remove")]
        check(ev and ev[0].get("versions_dropped") == 2,
              "the removal is audited with what it dropped: %r" % ev[:1])
        rc, out, err = v.audit_verify()
        check(rc == 0, "audit verify after the tombstones: %s" % err)
    finally:
        stop_ok(v, "reincarnate end")
        for u in (old_user, new_user):
            E.sql("DROP USER IF EXISTS '%s'@'localhost';" % u)




# The start of a helper script run as another user: argv 1 a socket path,
# 2 the uid, 3 the gid (no supplementary groups).
AS_USER = r"""
import json, os, socket, sys, time
os.setgroups([])
os.setgid(int(sys.argv[3]))
os.setuid(int(sys.argv[2]))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
"""

REFUSE_CLIENT = AS_USER + r"""
s.connect(sys.argv[1])
f = s.makefile("rb")
n = int(sys.argv[4])
perm = 0
t0 = time.time()
for i in range(n):
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": i, "method": "status"})
               + "\n").encode())
    a = json.loads(f.readline())
    perm += "error" in a and "permission" in a["error"].get("message", "")
print(perm, "%.3f" % (time.time() - t0))
"""


def sc_refusals():
    """A socket-group member with no role sends 2,000 status calls: each
    is refused, but only the first is a durable audit write; the rest are
    one refused-summary entry (written at the interval's end or at stop).
    Before: 2,000 audit entries, 13 s of loop time, data.mdb +650 KB."""
    tag = "vdtr" + secrets.token_hex(2)
    uid, gid = throwaway_user(tag)
    n = 2000
    try:
        os.chmod(E.work, 0o711)
        v = Vault(E, "refuse")
        os.chmod(v.dir, 0o711)
        with open(v.conf) as f:
            conf = f.read()
        with open(v.conf, "w") as f:
            f.write(conf.replace("[vault]\n", "[vault]\nsocket_group = %s\n"
                                 % tag, 1))
        v.start()
        size0 = os.path.getsize(v.data + "/data.mdb")
        p = subprocess.run([sys.executable, "-c", REFUSE_CLIENT, v.sock,
                            str(uid), str(gid), str(n)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        out = p.stdout.decode().split()
        check(p.returncode == 0 and out and int(out[0]) == n,
              "%d refused status calls answered 'permission denied': %s %s"
              % (n, out, p.stderr.decode()[-300:]))
        log("%d refused calls took %s s" % (n, out[1] if len(out) > 1
                                           else "?"))
        check(len(out) > 1 and float(out[1]) < 10,
              "the refusals cost no durable write each: %s s" % out[1:])
        ev = [e for e in audit_events(v, "status")
              if e.get("result") == "refused"]
        check(len(ev) == 1 and ev[0].get("uid") == uid,
              "one refused status audited, not %d" % len(ev))
        grow = os.path.getsize(v.data + "/data.mdb") - size0
        check(grow < 100 * 1024, "data.mdb grew %d bytes" % grow)
        check(v.logtext().count("refused status") <= 2,
              "one log line for the refusals, not %d" %
              v.logtext().count("refused status"))
        stop_ok(v, "stop 6")
        v.start()
        sm = audit_events(v, "refused-summary")
        check(len(sm) == 1 and sm[0].get("count") == n - 1 and
              sm[0].get("uid") == uid and sm[0].get("methods") == ["status"],
              "the rest are one summary entry: %r" % sm)
        stop_ok(v, "stop 7")
    finally:
        os.chmod(E.work, 0o700)
        drop_user(tag)


def rpc_latency(sock, n_max, stop):
    """Plain status calls over one connection until stop is set; returns
    the slowest answer's seconds."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    f = s.makefile("rb")
    worst = 0.0
    for i in range(n_max):
        if stop.is_set():
            break
        t0 = time.time()
        s.sendall((json.dumps({"jsonrpc": "2.0", "id": i,
                               "method": "status"}) + "\n").encode())
        f.readline()
        worst = max(worst, time.time() - t0)
        time.sleep(0.01)
    s.close()
    return worst


def sc_counters():
    """status --counters reads the whole audit log; it did so on the loop,
    so every other call waited for it.  With 200,000 audit entries, plain
    status calls made while counters are counted must not wait for them."""
    import threading
    helper = os.environ.get("VD_BREAKGLASS_HELPER")
    if not helper:
        log("VD_BREAKGLASS_HELPER not set: skipped")
        return
    v = Vault(E, "counters")
    shutil_copy(v.key, v.data + ".key")
    p = subprocess.run([helper, "audit", v.data, "200000"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 0, "200,000 audit entries: %s" % p.stderr.decode())
    v.start()
    stop = threading.Event()
    worst = [0.0]
    th = threading.Thread(target=lambda: worst.__setitem__(
        0, rpc_latency(v.sock, 100000, stop)))
    t0 = time.time()
    th.start()
    took = []
    for _ in range(3):
        t1 = time.time()
        rc, out, err = v.ctl(["status", "--prometheus"])
        took.append(time.time() - t1)
        check(rc == 0 and "vaultd_reveals_total 0" in out,
              "status --prometheus answers with counters: %d %s" % (rc, err))
    stop.set()
    th.join()
    log("counters took %s s; the slowest plain status meanwhile %.3f s" %
        (["%.2f" % x for x in took], worst[0]))
    check(worst[0] < max(0.25, min(took) / 2),
          "plain status did not wait for the counters: %.3f s (counters "
          "%.2f s)" % (worst[0], min(took)))
    stop_ok(v, "stop 8")


def shutil_copy(a, b):
    with open(a, "rb") as f:
        data = f.read()
    fd = os.open(b, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    os.close(fd)


SQUATTER = AS_USER + r"""
s.bind(sys.argv[1])
s.listen(8)
print("listening", flush=True)
got = 0
s.settimeout(float(sys.argv[4]))
try:
    while True:
        c, _ = s.accept()
        c.settimeout(2)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += len(b)
                # Answer like vaultd would, so only the check stops it.
                c.sendall(b'{"jsonrpc":"2.0","id":1,"result":{}}\n')
        except OSError:
            pass
        c.close()
except OSError:
    pass
print("received", got, flush=True)
"""


def throwaway_user(tag, groups=None):
    """Creates group tag and user tag (primary group tag); returns
    (uid, gid)."""
    import grp
    import pwd
    subprocess.run(["groupadd", tag], check=True)
    subprocess.run(["useradd", "-M", "-N", "-g", tag, "-s",
                    "/usr/sbin/nologin"] +
                   (["-G", ",".join(groups)] if groups else []) + [tag],
                   check=True)
    return pwd.getpwnam(tag).pw_uid, grp.getgrnam(tag).gr_gid


def drop_user(tag):
    """Removes user tag and group tag (userdel may already have)."""
    subprocess.run(["userdel", tag])
    subprocess.run(["groupdel", tag], stderr=subprocess.DEVNULL)


def squat(path, uid, gid, secs):
    """Starts a listener as uid on path; returns the process."""
    p = subprocess.Popen([sys.executable, "-c", SQUATTER, path, str(uid),
                          str(gid), str(secs)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    check(line.startswith("listening"), "squatter listens on %s: %s %s" %
          (path, line, p.stderr.read(300) if not line else ""))
    return p


def squat_end(p):
    out, err = p.communicate(timeout=60)
    got = out.decode().split()
    return int(got[-1]) if got and got[-1].isdigit() else -1


def sc_squatter():
    """vaultctl sends a typed password only to a listener that owns the
    socket's directory (or root)."""
    tag = "vdsq" + secrets.token_hex(2)
    uid, gid = throwaway_user(tag)
    procs = []
    try:
        os.chmod(E.work, 0o711)
        shared = os.path.join(E.work, "sqshared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)           # like /tmp: root's, sticky
        path = os.path.join(shared, "vaultd.sock")
        p = squat(path, uid, gid, 5)
        procs.append(p)
        pw = new_pw()
        rc, out, err = subprocess_ctl(
            ["--socket", path, "target", "add", "sq1", "--unix-socket",
             MDB["MDB_SOCKET"], "--user", "sq1"], pw + "\n")
        check(rc != 0 and ("uid %d" % uid) in err and "uid 0" in err and
              shared in err,
              "target add refuses a squatter (uid %d) in a directory of "
              "uid 0, naming both: %d %s" % (uid, rc, err))
        check(pw not in out + err, "the password is not printed")
        rc, out, err = subprocess_ctl(
            ["--socket", path, "target", "set-password", "sq1"], pw + "\n")
        check(rc != 0 and ("uid %d" % uid) in err,
              "target set-password refuses it too: %d %s" % (rc, err))
        rc, out, err = subprocess_ctl(["--socket", path, "status"])
        check(rc != 0 and "may not be vaultd" in err,
              "status refuses it: %d %s" % (rc, err))
        got = squat_end(p)
        check(got == 0, "the squatter received %d bytes, not 0" % got)

        # Control: the same listener in a directory of its own is what
        # the check trusts (it receives the request).
        own = os.path.join(E.work, "sqown")
        os.mkdir(own, 0o755)
        os.chown(own, uid, gid)
        path = os.path.join(own, "vaultd.sock")
        p = squat(path, uid, gid, 5)
        procs.append(p)
        rc, out, err = subprocess_ctl(["--socket", path, "status"])
        got = squat_end(p)
        check(got > 0, "a listener owning its directory is talked to "
              "(%d bytes): %d %s" % (got, rc, err))
    finally:
        for p in procs:                 # userdel refuses a running user
            if p.poll() is None:
                p.kill()
                p.wait()
        os.chmod(E.work, 0o700)
        drop_user(tag)


def subprocess_ctl(args, stdin=""):
    p = subprocess.run([E.vaultctl] + args, input=stdin.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def start_fails(v, what, *words):
    """Starts v's vaultd, which must exit non-zero saying words."""
    v.start(wait=False)
    rc = None
    for _ in range(1200):               # until it exits or listens
        rc = v.proc.poll()
        if rc is not None or os.path.exists(v.sock):
            break
        time.sleep(0.05)
    text = v.logtext()
    v.stop()
    check(rc not in (0, None) and all(w in text for w in words),
          "%s: vaultd refuses to start (rc %r) naming %s: %s" %
          (what, rc, words, text[-600:]))
    check(not os.path.exists(v.sock), "%s: no socket left" % what)


def sc_sockdir():
    """vaultd refuses a socket directory someone else could use to put a
    socket of theirs in its place."""
    tag = "vdsd" + secrets.token_hex(2)
    uid, gid = throwaway_user(tag)
    v = Vault(E, "sockdir")
    run = os.path.dirname(v.sock)
    try:
        os.mkdir(run)
        for mode, who in ((0o777, "others"), (0o770, "its group"),
                          (0o733, "others")):
            os.chmod(run, mode)
            start_fails(v, "mode %04o" % mode, run, "mode %04o" % mode,
                        "writable by " + who, "not sticky")
        os.chmod(run, 0o755)
        os.chown(run, uid, gid)
        start_fails(v, "owned by uid %d" % uid, run,
                    "belongs to uid %d" % uid, "mode 0755")
        os.rmdir(run)
        other = os.path.join(v.dir, "elsewhere")
        os.mkdir(other, 0o700)
        os.symlink(other, run)
        start_fails(v, "a symbolic link", run, "not a directory")
        os.unlink(run)
        # Sticky and its own: accepted (a socket planted there by another
        # user is refused by vaultctl, sc_squatter).
        os.mkdir(run)
        os.chmod(run, 0o1777)
        v.start()
        rc, out, err = v.ctl(["status"])
        check(rc == 0, "a sticky directory of its own is accepted: %s" %
              err)
        stop_ok(v, "sockdir")
    finally:
        v.stop()
        drop_user(tag)


def sc_peergroups():
    """Roles by the caller's process groups, not by /etc/group."""
    tag = "vdpg" + secrets.token_hex(2)
    role_grp = tag + "r"
    subprocess.run(["groupadd", role_grp], check=True)
    import grp
    rgid = grp.getgrnam(role_grp).gr_gid
    uid, gid = throwaway_user(tag)                  # not in role_grp
    mem = tag + "m"
    muid, _ = (None, None)
    try:
        subprocess.run(["useradd", "-M", "-N", "-g", tag, "-G", role_grp,
                        "-s", "/usr/sbin/nologin", mem], check=True)
        import pwd
        muid = pwd.getpwnam(mem).pw_uid
        os.chmod(E.work, 0o711)
        v = Vault(E, "peergroups")
        os.chmod(v.dir, 0o711)
        with open(v.conf) as f:
            conf = f.read()
        conf = conf.replace("[vault]\n", "[vault]\nsocket_group = %s\n" %
                            tag, 1)
        conf = conf.replace("admin = root\n", "admin = root\noperator = "
                            "@%s\n" % role_grp, 1)
        with open(v.conf, "w") as f:
            f.write(conf)
        v.start()

        def as_user(user, groups):
            cmd = ["setpriv", "--reuid=" + user, "--regid=" + tag]
            cmd += ["--groups=" + groups] if groups else ["--clear-groups"]
            p = subprocess.run(cmd + [E.vaultctl, "--socket", v.sock,
                                      "status"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            return p.returncode, p.stderr.decode(errors="replace")

        rc, err = as_user(tag, role_grp)
        check(rc == 0, "a caller started with --groups %s (not in "
              "/etc/group) is an operator: %d %s" % (role_grp, rc, err))
        rc, err = as_user(tag, None)
        check(rc != 0 and "permission denied" in err,
              "the same caller without the group is not: %d %s" % (rc, err))
        rc, err = as_user(mem, None)
        check(rc != 0 and "permission denied" in err,
              "a member of %s in /etc/group started without it is not an "
              "operator: %d %s" % (role_grp, rc, err))
        rc, err = as_user(mem, role_grp)
        check(rc == 0, "... and is with it: %d %s" % (rc, err))
        # The refused callers are audited by name: looked up off the loop.
        ev = [e for e in audit_events(v, "status")
              if e.get("result") == "refused"]
        users = sorted(e.get("user") for e in ev)
        check(users == sorted([tag, mem]) and
              sorted(e.get("uid") for e in ev) == sorted([uid, muid]),
              "refusals audited with the callers' names: %r" % ev)
        stop_ok(v, "peergroups")
    finally:
        os.chmod(E.work, 0o700)
        if muid is not None:
            subprocess.run(["userdel", mem])
        drop_user(tag)
        subprocess.run(["groupdel", role_grp])
def sc_replay():
    helper = os.environ.get("VD_DAEMON_HELPER")
    if not helper:
        check(False, "VD_DAEMON_HELPER not set")
        return
    v = Vault(E, "replay")
    v.start()
    user, pw = "trrep" + secrets.token_hex(3), new_pw()
    E.make_user(user, pw, ["localhost"])
    tkey = b"t1".hex()
    vkey = (b"t1\0" + (1).to_bytes(8, "big")).hex()

    def raw(cmd, db, key, name):
        p = subprocess.run([helper, cmd, v.data, db, key,
                            os.path.join(v.dir, name)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 0, "%s %s: %s" % (cmd, name,
                                               p.stderr.decode()))

    def refused(what):
        rc, out, err = v.audit_verify()
        check(rc == 1 and "modified outside vaultd" in err and
              "intact: " not in out,
              "%s: audit verify refuses: %d %s %s" % (what, rc, out, err))
        n = len(v.logtext())
        v.start(wait=False)
        try:
            rc = v.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        log_ = v.logtext()[n:]
        check(rc not in (0, None) and "modified outside vaultd" in log_,
              "%s: vaultd refuses to start: rc %r, log %s" %
              (what, rc, log_[-600:]))
        if rc is None:
            v.stop()
        else:
            v.err.close()
            v.proc = None

    try:
        v.add("t1", user, pw)
        raw("save-record", "targets", tkey, "target.old")
        raw("save-record", "versions", vkey, "v1.old")
        rc, out, err = v.ctl(["target", "set", "t1", "--every", "30d"])
        check(rc == 0, "target set: %s" % err)
        rc, out, err = v.ctl(["rotate", "t1", "--wait"])
        check(rc == 0, "rotate: %s" % err)
        stop_ok(v, "replay: stop 1")
        rc, out, err = v.audit_verify()
        check(rc == 0 and "records intact" in out,
              "untouched vault: audit verify content: %d %s %s" %
              (rc, out, err))
        raw("save-record", "targets", tkey, "target.new")
        raw("save-record", "versions", vkey, "v1.new")
        # The attack: the target record from before `target set`.
        raw("put-record", "targets", tkey, "target.old")
        refused("older target record")
        raw("put-record", "targets", tkey, "target.new")
        # Version 1's record while it was current (it is previous now).
        raw("put-record", "versions", vkey, "v1.old")
        refused("older version record")
        raw("put-record", "versions", vkey, "v1.new")
        rc, out, err = v.audit_verify()
        check(rc == 0 and "records intact" in out,
              "newer bytes back: audit verify content: %d %s" % (rc, err))
        v.start()
        rc, out, err = v.ctl(["target", "show", "t1", "--json"])
        check(rc == 0 and json.loads(out).get("every") == 30 * 86400,
              "the operator's cadence is in force: %s" % out)
        stop_ok(v, "replay: stop 2")
    finally:
        E.sql("DROP USER IF EXISTS '%s'@'localhost';" % user)


def target_rec(v, name):
    rc, out, err = v.ctl(["target", "show", name, "--json"])
    try:
        return json.loads(out) if rc == 0 else {}
    except ValueError:
        return {}


def sc_authplugin():
    # The shared server may have the plugin already (1968): fine.
    E.sql("INSTALL SONAME 'auth_ed25519';", check_rc=False)
    v = Vault(E, "authp")
    v.start()
    tag = secrets.token_hex(3)
    users = {"ed": ("tred" + tag, "VIA ed25519 USING PASSWORD('%s')"),
             "nat": ("trnat" + tag, "BY '%s'"),
             "both": ("trbo" + tag, "VIA ed25519 USING PASSWORD('%s') OR "
                      "mysql_native_password USING PASSWORD('%s')")}
    want = {"ed": "client_ed25519", "nat": "mysql_native_password",
            "both": "mysql_native_password,client_ed25519"}
    pws = {}
    try:
        for name, (user, how) in users.items():
            pw = pws[name] = new_pw()
            E.sql("CREATE USER '%s'@'localhost' IDENTIFIED %s;" %
                  (user, how.replace("%s", pw)))
            if name == "both":
                # Two password methods change by ALTER USER (driver.h).
                E.sql("GRANT CREATE USER ON *.* TO '%s'@'localhost';" %
                      user)
            v.add(name, user, pw)
            rec = target_rec(v, name)
            check(rec.get("auth") == want[name],
                  "%s: the record names the account's plugins %r: %r" %
                  (name, want[name], rec.get("auth")))
        for name in ("ed", "both"):
            rc, out, err = v.ctl(["rotate", name, "--wait"])
            new = v.get(name)
            check(rc == 0 and new and new != pws[name] and
                  E.login(users[name][0], new),
                  "%s: rotates under its restriction: %s" % (name, err))
        # A native account rotated through an ed25519 admin account: the
        # admin's own plugins are recorded too.
        adm, apw = "trad" + tag, new_pw()
        E.sql("CREATE USER '%s'@'localhost' IDENTIFIED VIA ed25519 USING "
              "PASSWORD('%s'); GRANT ALL ON *.* TO '%s'@'localhost';" %
              (adm, apw, adm))
        users["adm"] = ("trna" + tag, "BY '%s'")
        pws["adm"] = new_pw()
        E.sql("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';" %
              (users["adm"][0], pws["adm"]))
        v.add("adm", users["adm"][0], pws["adm"], admin=(adm, apw))
        rec = target_rec(v, "adm")
        check(rec.get("auth") == "mysql_native_password" and
              rec.get("admin_auth") == "client_ed25519",
              "adm: the record names both accounts' plugins: %r" % rec)
        rc, out, err = v.ctl(["rotate", "adm", "--wait"])
        new = v.get("adm")
        check(rc == 0 and new and E.login(users["adm"][0], new),
              "adm: rotates through the restricted admin session: %s" % err)
        want["adm"] = "client_ed25519"     # the admin session is refused
        rc, out, err = v.ctl(["target", "check", "ed"])
        check(rc == 0 and "plugins: client_ed25519 (recorded" in out,
              "target check names the recorded plugins: %s" % out)
        # The hostile server: each account's client is asked to switch to
        # the other password plugin.
        for name, other in (("nat", "client_ed25519"),
                            ("ed", "mysql_native_password"),
                            ("adm", "mysql_native_password")):
            fs = fakemdb.FakeServer("127.0.0.1", switch_to=other)
            try:
                rc, out, err = v.ctl(["target", "set", name, "--host",
                                      "127.0.0.1", "--port", str(fs.port)])
                time.sleep(0.3)
                check(rc != 0 and any("switched" in ev for ev in fs.events),
                      "%s: the fake server asked for %s: %d %r" %
                      (name, other, rc, fs.events))
                check(not any("answered-switch" in ev for ev in fs.events),
                      "%s: vaultd never answers a switch to %s: %r %s" %
                      (name, other, fs.events, err.strip()))
                check("outside " + want[name] in err,
                      "%s: the refusal names the account's plugins: %s" %
                      (name, err.strip()))
            finally:
                fs.close()
            check(target_rec(v, name).get("unix_socket"),
                  "%s: the refused change is not stored" % name)
        stop_ok(v, "authplugin: stop")
    finally:
        for user, _ in list(users.values()) + [("trad" + tag, "")]:
            E.sql("DROP USER IF EXISTS '%s'@'localhost';" % user)


SCENARIOS = [("cleartext", sc_cleartext), ("tlsdefault", sc_tlsdefault),
             ("parties", sc_parties), ("refusals", sc_refusals),
             ("counters", sc_counters), ("squatter", sc_squatter),
             ("sockdir", sc_sockdir), ("peergroups", sc_peergroups),
             ("replay", sc_replay), ("authplugin", sc_authplugin),
             ("pubpin", sc_pubpin), ("reincarnate", sc_reincarnate)]

if __name__ == "__main__":
    try:
        ran = run_scenarios(SCENARIOS, ONLY)
    finally:
        stop_all()
    finish(ran, E.work)
