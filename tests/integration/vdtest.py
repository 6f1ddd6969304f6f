"""vdtest.py - helpers shared by test_hygiene.py, test_faults.py,
test_ops.py and soak.py: a vault + vaultd per scenario, vaultctl, MariaDB
logins and SQL.

Passwords only ever travel on stdin or in 0600 option files; the SQL that
creates accounts carries mysql_native_password hashes computed here, never
a plaintext, so the server's logs never see one from the tests either.
Standard library only.
"""
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

FAILS = []
CHECKS = [0]            # checks made, for a test's summary line


def check(cond, what):
    """Records a failure with the caller's line; the run goes on."""
    CHECKS[0] += 1
    if not cond:
        line = traceback.extract_stack(limit=2)[0].lineno
        FAILS.append("line %d: %s" % (line, what))
        print("FAIL line %d: %s" % (line, what), file=sys.stderr, flush=True)
    return cond


def log(msg):
    print("# " + msg, flush=True)


def run_scenarios(scenarios, only, after=None):
    """Runs the (name, function) scenarios named in only (all when only is
    empty), each logged and timed; an exception in one is a failure and the
    next still runs.  after(), when given, runs after each.  Returns how
    many ran."""
    ran = 0
    for name, fn in scenarios:
        if only and name not in only:
            continue
        log("scenario " + name)
        t0 = time.time()
        try:
            fn()
        except Exception as e:     # a crash in the test is a failure
            check(False, "%s raised %s: %s" % (name, type(e).__name__, e))
            traceback.print_exc()
        if after is not None:
            after()
        log("scenario %s: %.1fs" % (name, time.time() - t0))
        ran += 1
    return ran


def finish(ran, work=None):
    """Prints the summary and exits: 1 on a failure or when nothing ran.
    work, when given, is removed after a clean run, else kept and named."""
    if work is not None:
        if not FAILS:
            subprocess.run(["rm", "-rf", work])
        else:
            print("kept " + work + " for inspection")
    print("%d scenarios, %d checks, %d failures" % (ran, CHECKS[0],
                                                    len(FAILS)))
    for f in FAILS:
        print("  " + f)
    sys.exit(1 if FAILS or ran == 0 else 0)


def main(scenarios, only, env):
    """A test's main: runs the scenarios named in only (all when empty),
    stopping every vaultd after each, removes env's work dir after a clean
    run, prints the summary and exits; no vaultd outlives it."""
    try:
        ran = run_scenarios(scenarios, only, after=stop_all)
        env.cleanup()
        finish(ran)
    finally:
        stop_all()


def mdbenv(path=None):
    env = {}
    with open(path or os.environ["VD_TEST_MDB_ENV"]) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


def native_hash(pw):
    """mysql_native_password's hash: '*' + HEX(SHA1(SHA1(pw)))."""
    return "*" + hashlib.sha1(hashlib.sha1(pw.encode()).digest()) \
        .hexdigest().upper()


O_CLOEXEC = 0o2000000


def open_fds(pid):
    """{fd: (what it points at, open flags)} of a live process, from
    /proc/PID/fd and /proc/PID/fdinfo."""
    fds = {}
    base = "/proc/%d" % pid
    for name in os.listdir(base + "/fd"):
        try:
            what = os.readlink("%s/fd/%s" % (base, name))
            with open("%s/fdinfo/%s" % (base, name)) as f:
                flags = next(int(ln.split()[1], 8) for ln in f
                             if ln.startswith("flags:"))
        except (FileNotFoundError, StopIteration):
            continue            # closed between listdir and the read
        fds[int(name)] = (what, flags)
    return fds


def fill(path):
    """Writes zeros to path until its file system is full; returns how
    many bytes it took."""
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            n += os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    return n


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of size (e.g. "3m") mounted at path (made 0700) for the
    with-block (needs root); every vaultd is stopped before it goes."""
    os.mkdir(path, 0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" %
                    size, "tmpfs", path], check=True)
    try:
        yield path
    finally:
        stop_all()
        subprocess.run(["umount", path])


def pinned(key):
    """An [escrow] party value for the key pair at key: its .pub file's
    path and the key id it holds (the pin vaultd checks)."""
    with open(key + ".pub") as f:
        return "%s.pub %s" % (key, f.read().split()[3])


def run_password(args, timeout=60):
    """Runs a command that prints a password (break-glass); returns (rc,
    the password without its newline or '', stderr)."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    out = p.stdout.decode()
    return p.returncode, out[:-1] if out.endswith("\n") else out, \
        p.stderr.decode()


def q(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Env:
    """One test run: a work dir, the fixture's server, the binaries."""

    def __init__(self, vaultd, vaultctl, prefix, envfile=None):
        self.vaultd, self.vaultctl = vaultd, vaultctl
        self.envfile = envfile or os.environ["VD_TEST_MDB_ENV"]
        self.mdb = mdbenv(self.envfile)
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o700)

    def optfile(self, pw):
        """A 0600 option file holding pw for the mariadb client."""
        fd, path = tempfile.mkstemp(dir=self.work, suffix=".cnf")
        esc = pw.replace("\\", "\\\\").replace('"', '\\"')
        os.write(fd, ('[client]\npassword="%s"\n' % esc).encode())
        os.close(fd)
        return path

    def host_args(self, host):
        if host == "localhost":
            return ["--socket=" + self.mdb["MDB_SOCKET"]]
        return ["--protocol=TCP", "-h", host, "-P", self.mdb["MDB_PORT"]]

    def client(self, user, pw, host="localhost"):
        """Logs in as user@host with pw (a 0600 option file, never argv)
        and asks for CURRENT_USER(); returns the finished process."""
        cnf = self.optfile(pw)
        try:
            return subprocess.run(["mariadb", "--defaults-file=" + cnf, "-u",
                                   user, "--connect-timeout=5", "-N",
                                   "-B"] + self.host_args(host) +
                                  ["-e", "SELECT CURRENT_USER()"],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=60)
        finally:
            os.unlink(cnf)

    def login(self, user, pw, host="localhost"):
        """True when user@host logs in with pw and the server matched
        exactly user@host."""
        p = self.client(user, pw, host)
        return p.returncode == 0 and p.stdout.decode().strip() == "%s@%s" % (
            user, host)

    def sql(self, statements, check_rc=True):
        """Runs SQL as root (empty password) over the socket; on stdin."""
        p = subprocess.run(["mariadb", "--no-defaults",
                            "--socket=" + self.mdb["MDB_SOCKET"], "-uroot",
                            "-N", "-B"], input=statements.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if check_rc and p.returncode != 0:
            raise RuntimeError("sql failed: " + p.stderr.decode())
        return p.stdout.decode()

    def make_user(self, user, pw, hosts, grant=None):
        """(Re)creates user@each host with pw, as a hash (no plaintext)."""
        st = []
        for h in hosts:
            st.append("DROP USER IF EXISTS %s@%s;" % (q(user), q(h)))
            st.append("CREATE USER %s@%s IDENTIFIED BY PASSWORD %s;" %
                      (q(user), q(h), q(native_hash(pw))))
            if grant:
                st.append("GRANT %s ON *.* TO %s@%s;" % (grant, q(user),
                                                       q(h)))
        self.sql("\n".join(st))

    def cleanup(self):
        if not FAILS:
            subprocess.run(["rm", "-rf", self.work])
        else:
            print("kept " + self.work + " for inspection")


def readme_commands(src):
    """README "Using it", as a newcomer types it: the command lines of its
    ```sh block, continuation lines joined, comments dropped.  Returns
    [] when the block is missing."""
    text = open(os.path.join(src, "README.md")).read()
    m = re.search(r"## Using it\n\n```sh\n(.*?)```", text, re.S)
    cmds, cur = [], ""
    for ln in (m.group(1).split("\n") if m else []):
        ln = re.sub(r"\s+#.*$", "", ln) if not ln.startswith("#") else ""
        cur += ln.rstrip("\\").strip() + " " if ln.strip() else ""
        if ln.strip() and not ln.rstrip().endswith("\\"):
            cmds.append(cur.strip())
            cur = ""
    return cmds


def run_readme(env, src, root, user, pw):
    """Runs README "Using it" command by command as a newcomer does, with
    the shipped example config unchanged but for where the vault lives
    (/etc/vaultd, /var/lib/vaultd and /run/vaultd under root, made here),
    env's server by its socket for 10.0.0.5, account user (password pw,
    in a 0600 file for `< current-password`) for root.  The command that
    needs a change behind the vault's back is left out.  Returns ([(the
    command as run, exit code, stderr)], seconds from the first command
    to the end of the first rotation or None)."""
    os.mkdir(root, 0o700)
    for d in ("etc/vaultd", "var/lib", "run"):
        os.makedirs(os.path.join(root, d), 0o700)
    sock = root + "/run/vaultd/vaultd.sock"
    with open(root + "/current-password", "w") as f:
        f.write(pw + "\n")
    penv = dict(os.environ, VAULTD_SOCKET=sock)

    def local(s):
        for a in ("/var/lib/vaultd", "/etc/vaultd", "/run/vaultd"):
            s = s.replace(a, root + a)
        return s

    t0, daemon, rotated, runs = time.time(), None, None, []
    for c in readme_commands(src):
        c = local(c).replace("--host 10.0.0.5", "--unix-socket " +
                             env.mdb["MDB_SOCKET"])
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
        argv[0] = {"vaultctl": env.vaultctl, "vaultd": env.vaultd}.get(
            argv[0], argv[0])
        if argv[0] == env.vaultd and "--config" in argv:
            daemon = subprocess.Popen(argv, env=penv, cwd=src,
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(root + "/vaultd.log", "w"))
            end = time.time() + 30
            while time.time() < end and not os.path.exists(sock):
                time.sleep(0.05)
            runs.append((c, 0, ""))
            continue
        p = subprocess.run(argv, env=penv, cwd=src, stdin=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if argv[0] == "install":
            # Where the vault lives is the one line a site changes.
            conf = argv[-1]
            with open(conf) as f:
                body = f.read()
            with open(conf, "w") as f:
                f.write(local(body))
        runs.append((c, p.returncode, p.stderr.decode(errors="replace")))
        if "rotate" in argv and p.returncode == 0 and rotated is None:
            rotated = time.time() - t0
    if daemon is not None:
        daemon.terminate()
        daemon.wait(timeout=60)
    return runs, rotated


MARIADB_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "mariadb.sh")


def with_server(base, name, opts, fn, *more):
    """Starts a throwaway server (mariadb.sh, extra mariadbd options opts;
    its files under base.work) and runs fn(env, *more) against it, env an
    Env of that server; always stops it and every vaultd started."""
    envfile = os.path.join(base.work, name + ".env")
    p = subprocess.run(["sh", MARIADB_SH, "start", name, envfile, opts],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(p.returncode == 0, "start server %s (%s): %s" % (
        name, opts, p.stdout.decode()))
    if p.returncode != 0:
        return
    env = Env(base.vaultd, base.vaultctl, "vd%s." % name, envfile)
    try:
        fn(env, *more)
    finally:
        stop_all()
        subprocess.run(["sh", MARIADB_SH, "stop", name, envfile])
        env.cleanup()


def stop_all():
    """Kills every vaultd a Vault of this process still runs (cleanup after
    a failure: no daemon may outlive its test)."""
    for v in Vault.every:
        if v.proc is not None and v.proc.poll() is None:
            v.proc.kill()
            v.proc.wait()


class Vault:
    """A vault (vaultctl init) and its vaultd.  rotation: extra lines of
    [rotation]; extra: further sections."""
    every = []

    def __init__(self, env, name, rotation="", extra="", data_dir=None):
        Vault.every.append(self)
        self.env = env
        self.dir = os.path.join(env.work, name)
        os.mkdir(self.dir, 0o700)
        self.data = data_dir or self.dir + "/data"
        self.key = self.dir + "/key"
        self.sock = os.path.join(self.dir, "run", "vaultd.sock")
        self.conf = os.path.join(self.dir, "vaultd.conf")
        self.log = os.path.join(self.dir, "vaultd.log")
        self.proc = None
        self.outputs = []       # (what, bytes) of every vaultctl run
        self.create(rotation, extra)

    def create(self, rotation, extra):
        """Writes vaultd.conf and makes the vault, with a key file (a test
        that wants another kind of vault overrides this)."""
        # The test's own [rotation] lines win over these defaults (vaultd
        # refuses a key written twice).
        given = {ln.split("=", 1)[0].strip() for ln in rotation.split("\n")
                 if "=" in ln}
        defaults = "".join("%s = %s\n" % (k, val) for k, val in
                           (("retry_min", "1s"), ("retry_max", "4s"))
                           if k not in given)
        with open(self.conf, "w") as f:
            f.write("[vault]\ndata_dir = %s\nkey_file = %s\n"
                    "socket = %s\n\n[access]\nadmin = root\n\n%s\n"
                    "[rotation]\n%s%s\n" %
                    (self.data, self.key, self.sock, extra, defaults,
                     rotation))
        rc, out, err = self.run_ctl(["init", "--data-dir", self.data,
                                     "--key-file", self.key])
        if rc != 0:
            raise RuntimeError("init: " + err)

    def run_ctl(self, args, stdin="", timeout=180, keep=True):
        p = subprocess.run([self.env.vaultctl] + args, input=stdin.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        if keep:
            self.outputs.append((" ".join(args[:2]) + " stdout", p.stdout))
            self.outputs.append((" ".join(args[:2]) + " stderr", p.stderr))
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")

    def ctl(self, args, stdin="", timeout=180, keep=True):
        return self.run_ctl(["--socket", self.sock] + args, stdin, timeout,
                            keep)

    def start(self, env=None, wait=True):
        e = dict(os.environ)
        e.update(env or {})
        self.err = open(self.log, "ab")
        self.proc = subprocess.Popen([self.env.vaultd, "--config", self.conf],
                                     stdout=self.err, stderr=self.err, env=e)
        if not wait:
            return True
        for _ in range(600):
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock):
                rc, _, _ = self.ctl(["status"], timeout=10, keep=False)
                if rc == 0:
                    return True
            time.sleep(0.05)
        raise RuntimeError("vaultd did not start: " + self.logtext()[-2000:])

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=120)
        self.err.close()
        self.proc = None
        return rc

    def add(self, name, user, pw, hosts="localhost", extra=None,
            admin=None):
        """admin: (user, password) of an admin account, or None."""
        args = ["target", "add", name, "--unix-socket",
                self.env.mdb["MDB_SOCKET"], "--user", user,
                "--account-hosts", hosts] + (extra or [])
        stdin = pw + "\n"
        if admin:
            args += ["--admin-user", admin[0]]
            stdin += admin[1] + "\n"
        rc, out, err = self.ctl(args, stdin)
        check(rc == 0, "target add %s: %d %s" % (name, rc, err))
        return rc

    def get(self, name, version=None, keep=False):
        """A reveal; its stdout is the password, so it is not kept among
        the outputs that must not hold one."""
        args = ["get", name] + (["--version", str(version)] if version
                                else [])
        rc, out, err = self.ctl(args, keep=False)
        if keep:
            self.outputs.append(("get stderr", err.encode()))
        return out[:-1] if rc == 0 and out.endswith("\n") else None

    def history(self, name):
        rc, out, err = self.ctl(["history", name, "--json"])
        try:
            return json.loads(out) if rc == 0 else []
        except ValueError:
            return []

    def status(self):
        rc, out, err = self.ctl(["status", "--json"])
        try:
            return json.loads(out) if rc == 0 else {}
        except ValueError:
            return {}

    def target_status(self, name):
        for t in self.status().get("targets", []):
            if t["name"] == name:
                return t
        return {}

    def wait_history(self, name, pred, timeout=60):
        """Polls history until pred(entries) holds; returns the entries.
        (A bound on waiting, not an assertion about time.)"""
        end = time.time() + timeout
        h = []
        while time.time() < end:
            h = self.history(name)
            if pred(h):
                return h
            time.sleep(0.25)
        return h

    def audit_verify(self):
        return self.run_ctl(["audit", "verify", "--data-dir", self.data,
                             "--key-file", self.key])

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""
