#!/usr/bin/env python3
"""test_corrupt.py - issue 14 item 7: a damaged data.mdb is an error, never
a crash.  No database.

usage: test_corrupt.py VAULTCTL HELPER [BUDGET_SECONDS [VAULTD]]

Builds a vault with test_breakglass_vault (8 targets of 3 escrowed versions
each, 300 audit entries), pins the escrow key, then sweeps single-bit
flips over a copy of data.mdb: every page gets flips at sampled offsets
(the first round flips each page's header, the 16 bytes LMDB reads before
anything else, and for branch and meta pages also a node pointer; later
rounds alternate header and anywhere in the page), and after each flip the
offline commands run on the copy: breakglass --data-dir, audit verify,
audit verify --full, escrow export --data-dir, escrow vault-key, and
(with VAULTD) vaultd's start-up on the copy.  Each must end in

  - a correct answer: exit 0, and break-glass prints exactly the password of
    the version it says it opened; or
  - a clear error: exit 1 with a "vaultctl: ..." message (vaultd: exit 3
    with "the vault's data is damaged" logged, or exit 1 with a logged
    reason);

never a signal (before the fix: SIGBUS, SIGSEGV, or LMDB's assertion
and SIGABRT), never a hang (20 s each), never a sanitizer report.  And
`audit verify --full` must mean what it says: when it exits 0 on a copy,
break-glass on that copy opens the newest version of every target with
its right password (a backup it passes is usable).  With VAULTD, first a
run-time case: vaultd running on a copy, one byte of a sealed password
record flipped in the live file; `get` must fail with "failed
authentication" and print nothing (never a wrong password), and vaultd must
keep answering.
Bounded: flips go round the pages until the budget (default 30 s, or
VD_FLIP_BUDGET seconds) is spent, at least one full round.  VD_FLIP_SEED
picks the offsets (default 14).
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

VC, HELPER = sys.argv[1:3]
BUDGET = float(os.environ.get("VD_FLIP_BUDGET", sys.argv[3] if
                              len(sys.argv) > 3 else 30.0))
VAULTD = sys.argv[4] if len(sys.argv) > 4 else None
SEED = int(os.environ.get("VD_FLIP_SEED", "14"))
PS = 4096
TARGETS = ["db%d" % i for i in range(1, 9)]
fails = []
# Signals must reach vaultctl's parent under a sanitizer build too.
ENV = dict(os.environ)
ENV["ASAN_OPTIONS"] = ":".join(filter(None, [
    os.environ.get("ASAN_OPTIONS", ""), "handle_segv=0", "handle_sigbus=0",
    "handle_abort=0", "detect_leaks=0"]))


def fail(msg):
    fails.append(msg)
    print("FAIL: " + msg, file=sys.stderr, flush=True)


def pw_of(target, v):
    return "Pw-%s-%s-%s" % (target, v, "q7Zx")


def write_conf(work, name, c):
    """A vaultd.conf for copy c (key file c.key, root admin): its path and
    the socket's."""
    conf = os.path.join(work, name + ".conf")
    sock = os.path.join(work, name + ".sock")
    with open(conf + ".tmp", "w") as f:
        f.write("[vault]\ndata_dir = %s\nkey_file = %s.key\nsocket = %s\n"
                "\n[access]\nadmin = root\n" % (c, c, sock))
    os.chmod(conf + ".tmp", 0o600)
    os.rename(conf + ".tmp", conf)
    return conf, sock


def start_vaultd(work, c):
    """vaultd's start-up on copy c: (rc, log).  rc None: it started (it
    logged "listening") and was stopped with SIGTERM."""
    conf, sock = write_conf(work, "s", c)
    p = subprocess.Popen([VAULTD, "--config", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=ENV)
    log = []
    deadline = time.time() + 20
    started = False
    for line in p.stdout:
        log.append(line.decode(errors="replace"))
        if "listening on" in log[-1]:
            started = True
            p.terminate()
        if time.time() > deadline:
            p.kill()
            break
    rc = p.wait()
    if time.time() > deadline:
        return "timeout", "".join(log)
    if started and rc == 0:
        return None, "".join(log)
    return rc, "".join(log)


def record_offset(path, dbname, key):
    """Offset in the file of the value of key in named database dbname
    (LMDB 0.9, 64-bit: meta, main tree's root leaf, then down the tree)."""
    with open(path, "rb") as f:
        img = f.read()

    def u16(o):
        return int.from_bytes(img[o:o + 2], "little")

    def u64(o):
        return int.from_bytes(img[o:o + 8], "little")

    m = max((0, 1), key=lambda i: u64(i * PS + 16 + 128))
    meta = m * PS + 16

    def find(root, k):
        pg = root
        while True:
            p = pg * PS
            n = (u16(p + 12) - 16) // 2
            nodes = [p + u16(p + 16 + 2 * i) for i in range(n)]
            if u16(p + 10) == 2:        # leaf
                for nd in nodes:
                    ks = u16(nd + 6)
                    if img[nd + 8:nd + 8 + ks] == k:
                        return nd + 8 + ks
                return None
            child = u64(nodes[0]) & 0xffffffffffff
            for nd in nodes[1:]:
                ks = u16(nd + 6)
                if img[nd + 8:nd + 8 + ks] <= k:
                    child = u64(nd) & 0xffffffffffff
            pg = child
    rec = find(u64(meta + 72 + 40), dbname.encode())
    return find(u64(rec + 40), key)


def live_check(work, pristine, key):
    """Damage at run time (issue 14 item 7): vaultd running on a copy, a
    byte of a sealed password record flipped under it.  `get` must then
    fail with a clear error and print nothing: never a wrong password."""
    c = os.path.join(work, "L")
    shutil.rmtree(c, ignore_errors=True)
    shutil.copytree(pristine, c)
    shutil.copy(pristine + ".key", c + ".key")
    conf, sock = write_conf(work, "live", c)
    logf = open(os.path.join(work, "live.log"), "w")
    p = subprocess.Popen([VAULTD, "--config", conf], stdout=logf,
                         stderr=subprocess.STDOUT, env=ENV)
    try:
        for _ in range(200):
            if run(["--socket", sock, "status"])[0] == 0:
                break
            time.sleep(0.05)
        rc, out, err = run(["--socket", sock, "get", "db4"])
        if rc != 0 or out != pw_of("db4", 3) + "\n":
            fail("live: get before the damage: %s %r" % (rc, err))
        off = record_offset(os.path.join(c, "data.mdb"), "secrets",
                            b"db4\0" + (3).to_bytes(8, "big"))
        if off is None:
            fail("live: the secrets record of db4 version 3 not found")
            return
        with open(os.path.join(c, "data.mdb"), "r+b") as f:
            f.seek(off + 30)        # past the 24-byte nonce
            b = f.read(1)[0]
            f.seek(off + 30)
            f.write(bytes([b ^ 0x20]))
        rc, out, err = run(["--socket", sock, "get", "db4"])
        if rc == 0 or out != "" or "authentication" not in err:
            fail("live: get after damaging the record: exit %s, stdout %r, "
                 "%r" % (rc, out, err.strip()))
        if run(["--socket", sock, "status"])[0] != 0 or p.poll() is not None:
            fail("live: vaultd did not survive a damaged record")
    finally:
        p.terminate()
        if p.wait() != 0:
            fail("live: vaultd exit %s after SIGTERM" % p.returncode)
        logf.close()


def run(args, timeout=20):
    try:
        p = subprocess.run([VC] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=ENV)
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout", "", ""


def main():
    work = tempfile.mkdtemp(prefix="vdcorrupt.")
    os.chmod(work, 0o700)
    d = os.path.join(work, "D")
    key = os.path.join(work, "c.key")
    rc, out, err = run(["escrow", "keygen", "--out", key, "--name",
                        "customer"])
    if rc != 0:
        fail("keygen: " + err)
        return work
    for t in TARGETS:
        for v in (1, 2, 3):
            st = "current" if v == 3 else "previous"
            p = subprocess.run([HELPER, "seal", d, t, str(v), st, "any",
                                "customer=%s.pub" % key],
                               input=(pw_of(t, v) + "\n").encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if p.returncode != 0:
                fail("seal %s %d: %s" % (t, v, p.stderr.decode()))
                return work
    subprocess.run([HELPER, "audit", d, "300"], stdout=subprocess.DEVNULL,
                   check=True)
    rc, fp, err = run(["escrow", "vault-key", "--data-dir", d, "--key-file",
                       d + ".key"])
    fp = fp.strip()
    if rc != 0 or run(["escrow", "pin", "--escrow-key", key, "--vault-key",
                       fp])[0] != 0:
        fail("vault-key / pin: " + err)
        return work
    # The undamaged vault answers correctly.
    rc, out, err = run(["breakglass", "--data-dir", d, "--escrow-key", key,
                        "db4"])
    if rc != 0 or out != pw_of("db4", 3) + "\n":
        fail("undamaged: breakglass: %s %s" % (rc, err))
    # A pristine copy: break-glass on a data directory records its opening
    # there, so every flip starts from this one.
    pristine = os.path.join(work, "P")
    shutil.copytree(d, pristine)
    shutil.copy(d + ".key", pristine + ".key")
    if VAULTD is not None:
        live_check(work, pristine, key)
    size = os.path.getsize(os.path.join(pristine, "data.mdb"))
    npages = size // PS
    with open(os.path.join(pristine, "data.mdb"), "rb") as f:
        image = f.read()
    # Page kinds from each page's flags (LMDB: 1 branch, 2 leaf, 8 meta).
    inner = set(pg for pg in range(npages) if
                int.from_bytes(image[pg * PS + 10:pg * PS + 12], "little")
                in (1, 8))
    rnd = random.Random(SEED)
    # An escrow party's check without the vault key: the pinned key passes
    # the pristine copy, another key is refused naming both.
    rc, out, err = run(["audit", "verify", "--full", "--data-dir", pristine,
                        "--vault-key", fp])
    if rc != 0 or "signed by vault key " + fp not in out:
        fail("audit verify --full --vault-key (pristine): %s %r" % (rc, err))
    rc, out, err = run(["audit", "verify", "--full", "--data-dir", pristine,
                        "--vault-key", "0" * 32])
    if rc != 1 or "not " + "0" * 32 not in err:
        fail("audit verify --full --vault-key (another key): %s %r" % (
            rc, err))
    # Targeted: one flip inside each of the first 12 escrow envelopes (past
    # their magic, in the signed part): the pages are intact, the record is
    # not.  `audit verify --full` must name it (escrow), never pass it.
    # The envelopes are found in a compacted copy (mdb_copy -c): it has no
    # free pages, so every "VDESCRW1" in it is a live record (a free page
    # of the pristine copy may still hold an older, unreachable one, whose
    # flip rightly changes nothing).
    compact = os.path.join(work, "K")
    os.mkdir(compact, 0o700)
    subprocess.run(["mdb_copy", "-c", pristine, compact], check=True)
    with open(os.path.join(compact, "data.mdb"), "rb") as f:
        kimage = f.read()
    at = -1
    for i in range(12):
        at = kimage.find(b"VDESCRW1", at + 1)
        if at < 0:
            break
        c = os.path.join(work, "C")
        shutil.rmtree(c, ignore_errors=True)
        shutil.copytree(compact, c)
        shutil.copy(d + ".key", c + ".key")
        shutil.copy(d + ".anchor", c + ".anchor")
        with open(os.path.join(c, "data.mdb"), "r+b") as f:
            f.seek(at + 40)
            b = f.read(1)[0]
            f.seek(at + 40)
            f.write(bytes([b ^ 1]))
        rc, out, err = run(["audit", "verify", "--full", "--data-dir", c,
                            "--key-file", c + ".key"])
        if rc != 1 or "damaged (escrow): envelope of" not in err:
            fail("audit verify --full on envelope %d flipped at byte %d: "
                 "exit %s %r" % (i, at + 40, rc, err.strip()[-200:]))
        rc, out, err = run(["audit", "verify", "--full", "--data-dir", c,
                            "--vault-key", fp])
        if rc != 1 or "damaged (escrow): envelope of" not in err:
            fail("audit verify --full --vault-key on envelope %d flipped: "
                 "exit %s %r" % (i, rc, err.strip()[-200:]))
    if at < 0 and i == 0:
        fail("no escrow envelope found in data.mdb")
    t0 = time.time()
    flips = runs = errors = oks = verified = started = refused = 0
    refused3 = 0
    rounds = 0
    kinds = {}
    while rounds == 0 or time.time() - t0 < BUDGET:
        for page in range(npages):
            if rounds > 0 and time.time() - t0 >= BUDGET:
                break
            if rounds == 0:
                # Every page's header; a branch or meta page's node
                # pointers or meta fields on its second visit below.
                off = page * PS + rnd.randrange(0, 16)
            elif rounds == 1 and page in inner:
                off = page * PS + 16 + rnd.randrange(0, 136)
            else:
                off = page * PS + (rnd.randrange(0, 64) if (page + rounds)
                                   % 2 == 0 else rnd.randrange(0, PS))
            bit = 1 << rnd.randrange(8)
            c = os.path.join(work, "C")
            shutil.rmtree(c, ignore_errors=True)
            shutil.copytree(pristine, c)
            shutil.copy(d + ".key", c + ".key")
            if os.path.exists(d + ".anchor"):
                shutil.copy(d + ".anchor", c + ".anchor")
            with open(os.path.join(c, "data.mdb"), "r+b") as f:
                f.seek(off)
                b = f.read(1)[0]
                f.seek(off)
                f.write(bytes([b ^ bit]))
            flips += 1
            target = TARGETS[rnd.randrange(len(TARGETS))]
            bundle = c + ".bundle"
            if os.path.exists(bundle):
                os.unlink(bundle)
            full_ok = False
            for name, args in (
                    ("breakglass", ["breakglass", "--data-dir", c,
                                    "--escrow-key", key, target]),
                    ("audit verify", ["audit", "verify", "--data-dir", c,
                                      "--key-file", c + ".key"]),
                    ("audit verify --full", ["audit", "verify", "--full",
                                             "--data-dir", c, "--key-file",
                                             c + ".key"]),
                    ("escrow export", ["escrow", "export", "--data-dir", c,
                                       "--key-file", c + ".key",
                                       "--out", bundle]),
                    ("escrow vault-key", ["escrow", "vault-key",
                                          "--data-dir", c, "--key-file",
                                          c + ".key"])):
                rc, out, err = run(args)
                runs += 1
                where = "%s after flipping bit %#x of byte %d (page %d)" % (
                    name, bit, off, page)
                if rc == "timeout":
                    fail(where + ": hung")
                    continue
                if rc < 0:
                    fail("%s: killed by signal %d: %s" % (
                        where, -rc, err.strip()[-300:]))
                    continue
                if "Sanitizer" in err or "runtime error" in err:
                    fail(where + ": sanitizer report: " + err[-500:])
                    continue
                if rc == 0:
                    oks += 1
                    if name == "audit verify --full":
                        full_ok = True
                    if name == "breakglass":
                        m = re.search(r"opening version (\d+)", err)
                        if not m or out != pw_of(target, m.group(1)) + "\n":
                            fail(where + ": wrong password printed")
                    continue
                errors += 1
                last = err.strip().splitlines()[-1] if err.strip() else ""
                if rc != 1 or not last.startswith("vaultctl: ") or \
                        out.strip() != "" and not name.startswith("audit verify"):
                    fail("%s: exit %s without a clear error: %r" % (
                        where, rc, last))
                k = "damaged" if "damaged" in last else "other error"
                kinds[k] = kinds.get(k, 0) + 1
            where = "after flipping bit %#x of byte %d (page %d)" % (
                bit, off, page)
            if full_ok:
                # A copy --full passes is usable: every target opens.
                for t in TARGETS:
                    shutil.rmtree(c + ".bg", ignore_errors=True)
                    shutil.copytree(c, c + ".bg")
                    rc, out, err = run(["breakglass", "--data-dir",
                                        c + ".bg", "--escrow-key", key, t])
                    runs += 1
                    if rc != 0 or out != pw_of(t, 3) + "\n":
                        fail("audit verify --full passed %s, but "
                             "breakglass %s: exit %s %r" % (
                                 where, t, rc, err.strip()[-200:]))
                        break
                verified += 1
            if VAULTD is not None:
                rc, log = start_vaultd(work, c)
                runs += 1
                if rc is None:
                    started += 1
                elif rc == "timeout" or rc < 0:
                    fail("vaultd start-up %s: %s: %s" % (
                        where, "hung" if rc == "timeout" else
                        "killed by signal %d" % -rc, log[-300:]))
                elif "Sanitizer" in log or "runtime error" in log:
                    fail("vaultd start-up %s: sanitizer report: %s" % (
                        where, log[-500:]))
                elif rc == 3 and "the vault's data is damaged" in log:
                    refused += 1
                    refused3 += 1
                elif "the vault's data is damaged" in log:
                    fail("vaultd start-up %s: damage found, but exit %s, "
                         "not 3 (RestartPreventExitStatus=3)" % (where, rc))
                elif rc == 1 and "<3>vaultd: " in log:
                    refused += 1
                else:
                    fail("vaultd start-up %s: exit %s without a clear "
                         "reason: %s" % (where, rc, log[-300:]))
        rounds += 1
    print("%d pages, %d flips in %d rounds, %d runs: %d correct answers, "
          "%d clear errors %r; --full passed %d copies, each opened by "
          "break-glass for every target; vaultd started on %d, refused %d; "
          "%.1f s" % (npages, flips, rounds, runs, oks, errors, kinds,
                      verified, started, refused, time.time() - t0))
    if VAULTD is not None and refused3 == 0:
        fail("vaultd never refused a damaged copy with exit 3")
    return work


if __name__ == "__main__":
    w = main()
    if fails:
        print("%d failures; kept %s" % (len(fails), w))
        sys.exit(1)
    shutil.rmtree(w, ignore_errors=True)
    print("ok")
