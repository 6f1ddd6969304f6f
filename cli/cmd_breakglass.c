/*
 * cmd_breakglass.c - vaultctl breakglass: open escrowed passwords offline.
 *
 *   vaultctl breakglass (--data-dir DIR | --bundle FILE) --escrow-key FILE
 *       [--escrow-key FILE2 ...] [--version N] [--vault-key FP]
 *       [--accept-vault-key] [--allow-unindexed] [--my-cnf FILE | --hex] NAME
 *   vaultctl breakglass share (--data-dir DIR | --bundle FILE)
 *       --escrow-key FILE --to COMBINER.pub [--version N] [--vault-key FP]
 *       [--accept-vault-key] [--allow-unindexed] --out SHAREFILE NAME
 *   vaultctl breakglass combine --escrow-key COMBINER_KEY [--vault-key FP]
 *       [--accept-vault-key] [--my-cnf FILE | --hex] SHAREFILE...
 *   vaultctl breakglass report --data-dir DIR --file REPORT
 *
 * The vault is opened read-only and never unlocked: envelopes are sealed to
 * the parties, not to the vault's key.  Anyone can sign an envelope with a
 * key of their own, so only envelopes signed by the trusted vault key are
 * used: --vault-key, else the key the party's key file is pinned to
 * (vaultctl escrow pin), else — with --accept-vault-key only — the signer
 * seen now, which is then pinned (trust on first use).  A bundle is
 * checked against its index signed by that key (bundle_index.h); one
 * without an index opens only with --allow-unindexed.  A recovered
 * password must be printable ASCII.  The password and a newline are the
 * only output on stdout (or it goes to a MariaDB option file, --my-cnf);
 * everything else goes to stderr.  The data directory is only ever opened
 * read-only: after printing, the opening is reported over the socket to the
 * vaultd that holds the directory's lock (method breakglass.report: it
 * audits and rotates), else nothing is written and it is printed as a
 * one-line JSON report to import later with `report` (which also goes to
 * a running vaultd, and writes only into a vault no vaultd runs on).
 */
#define _GNU_SOURCE	/* F_OFD_GETLK */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "bundle_index.h"
#include "escrow.h"
#include "store.h"
#include "util.h"

#define FILE_MAX	(256u << 20)	/* largest bundle or share file read */

static void
bg_usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl breakglass (--data-dir DIR | --bundle FILE) "
	    "--escrow-key FILE\n"
	    "           [--escrow-key FILE2 ...] [--version N] "
	    "[--vault-key FP]\n"
	    "           [--accept-vault-key] [--allow-unindexed] "
	    "[--my-cnf FILE | --hex] NAME\n"
	    "       vaultctl breakglass share (--data-dir DIR | --bundle FILE) "
	    "--escrow-key FILE\n"
	    "           --to COMBINER.pub [--version N] [--vault-key FP] "
	    "[--accept-vault-key]\n"
	    "           [--allow-unindexed] --out SHAREFILE NAME\n"
	    "       vaultctl breakglass combine --escrow-key COMBINER_KEY "
	    "[--vault-key FP]\n"
	    "           [--accept-vault-key] [--my-cnf FILE | --hex] "
	    "SHAREFILE...\n"
	    "       vaultctl breakglass report --data-dir DIR --file REPORT\n\n"
	    "Prints target NAME's escrowed password on stdout, opened with "
	    "escrow party\n"
	    "keys, from a data directory (read-only; vaultd may be running "
	    "or gone) or an\n"
	    "exported bundle.  Needs no vault key.  --version picks a version"
	    " (default:\n"
	    "the newest escrowed).  Only envelopes signed by the trusted vault "
	    "key are\n"
	    "used: --vault-key FP, else the key the escrow key file is pinned "
	    "to\n"
	    "(vaultctl escrow pin); --accept-vault-key trusts and pins the "
	    "signer seen\n"
	    "now (first use only).  A bundle's envelopes must match its index "
	    "signed by\n"
	    "that key (no version hidden, planted or swapped); a bundle "
	    "without an index\n"
	    "opens only with --allow-unindexed.  "
	    "--my-cnf FILE writes a MariaDB option file "
	    "(0600)\n"
	    "instead of printing; --hex prints the password in hex.\n"
	    "Passphrases of protected keys are read from the terminal, or one "
	    "line each\n"
	    "from stdin.  share/combine: for parties who cannot meet; report:"
	    " import a\n"
	    "break-glass report printed where the data directory was not "
	    "writable.\n");
}

/* Reads a whole (non-secret) file into a malloc'd buffer (cmds.h). */
int
vc_read_file(const char *path, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat sb;
	size_t got = 0;
	int fd, r;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return vd_err_set(-errno, "cannot open %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
	    (uint64_t)sb.st_size > FILE_MAX) {
		r = vd_err_set(VD_EINVAL, "%s is not a regular file of at most "
		    "%u MiB", path, FILE_MAX >> 20);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = vd_err_set(n < 0 ? -errno : -EIO, "cannot read %s",
			    path);
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	close(fd);
	return r;
}

/* Loads and opens one party key file, asking for its passphrase. */
static int
load_key(const char *path, struct vd_escrow_key **out)
{
	struct vd_secret *text = NULL, *pass = NULL;
	char prompt[512];
	int r, prot;

	*out = NULL;
	if ((r = vd_escrow_key_read(path, &text)) != 0)
		goto out;
	if ((prot = vd_escrow_key_protected((const char *)text->data,
	    text->len)) < 0) {
		r = vd_err_set(prot, "%s is not an escrow private key file",
		    path);
		goto out;
	}
	if (prot) {
		snprintf(prompt, sizeof(prompt), "Passphrase of escrow key %s: ",
		    path);
		if ((r = vd_read_secret(STDIN_FILENO, prompt, 0, 0, &pass))
		    != 0)
			goto out;
	}
	if ((r = vd_escrow_key_parse((const char *)text->data, text->len,
	    pass, out)) != 0) {
		char d[512];

		snprintf(d, sizeof(d), "%s", vd_err_detail());
		r = vd_err_set(r, "escrow key %s: %s", path, d);
	}
 out:
	vd_secret_free(text);
	vd_secret_free(pass);
	return r;
}

/* Which vault signing key break-glass trusts, and where that came from. */
struct trust {
	const char	*given;		/* --vault-key, or NULL */
	int		 accept;	/* --accept-vault-key: first use */
	char		 fp[VD_ESCROW_FPLEN + 1];	/* the trusted key */
	const char	*pin;		/* fp, or NULL for a first use */
};

/*
 * Settles tr->pin: --vault-key when given (an explicit pin overrides the
 * key files', with a warning); else the key the key files are pinned to,
 * which must be one key; else NULL when --accept-vault-key asked for a
 * trust on first use.  Otherwise refuses, naming the signer found in set
 * (target's version) so the party can compare it before pinning.
 */
static int
settle_trust(struct trust *tr, struct vd_escrow_key *const *keys,
    const char *const *paths, size_t nk, const struct vd_escrow_set *set,
    const char *target, uint64_t version)
{
	char seen[64];

	tr->fp[0] = '\0';
	tr->pin = NULL;
	if (tr->given != NULL) {
		if (vd_escrow_fp_parse(tr->given, tr->fp) != 0)
			return vd_err_set(VD_EINVAL, "--vault-key takes the %d "
			    "hex digits of a vault key fingerprint",
			    VD_ESCROW_FPLEN);
		for (size_t i = 0; i < nk; i++)
			if (keys[i]->vault_fp[0] != '\0' &&
			    strcmp(keys[i]->vault_fp, tr->fp) != 0)
				fprintf(stderr, "vaultctl: warning: escrow key %s "
				    "is pinned to vault key %s; --vault-key %s "
				    "overrides it for this run\n", paths[i],
				    keys[i]->vault_fp, tr->fp);
		tr->pin = tr->fp;
		return 0;
	}
	for (size_t i = 0; i < nk; i++) {
		if (keys[i]->vault_fp[0] == '\0')
			continue;
		if (tr->fp[0] == '\0')
			memcpy(tr->fp, keys[i]->vault_fp, sizeof(tr->fp));
		else if (strcmp(tr->fp, keys[i]->vault_fp) != 0)
			return vd_err_set(VD_EPERM, "the escrow keys are "
			    "pinned to different vault keys (%s, %s): give "
			    "--vault-key", tr->fp, keys[i]->vault_fp);
	}
	if (tr->fp[0] != '\0') {
		tr->pin = tr->fp;
		return 0;
	}
	if (tr->accept) {
		fprintf(stderr, "vaultctl: WARNING: no vault key is pinned and "
		    "--accept-vault-key was given: trusting whichever vault key "
		    "signed these envelopes (trust on first use)\n");
		return 0;
	}
	if (set == NULL)
		snprintf(seen, sizeof(seen), "(see breakglass share's output)");
	else if (vd_escrow_set_signer(set, target, version, seen) != 0)
		snprintf(seen, sizeof(seen), "(none valid)");
	return vd_err_set(VD_EPERM, "no trusted vault key: the escrow key "
	    "file(s) are not pinned to a vault and --vault-key was not given."
	    "\n  The envelopes of %s are signed by vault key %s.\n  Compare "
	    "it with the fingerprint the vault's administrator printed "
	    "(vaultctl escrow vault-key), then pin it:\n    vaultctl escrow pin "
	    "--escrow-key %s --vault-key FINGERPRINT\n  or pass --vault-key "
	    "FINGERPRINT, or --accept-vault-key to trust it on first use",
	    target != NULL ? target : "the share files", seen, paths[0]);
}

/*
 * After a first use (--accept-vault-key): pins the signer that opened to
 * every key file that has no pin yet.  Best effort (a key on read-only
 * media stays unpinned), always said on stderr.
 */
static void
pin_first_use(const struct trust *tr, struct vd_escrow_key *const *keys,
    const char *const *paths, size_t nk, const char *fp)
{
	char ebuf[768];
	int r;

	if (tr->pin != NULL)
		return;
	for (size_t i = 0; i < nk; i++) {
		if (keys[i]->vault_fp[0] != '\0')
			continue;
		if ((r = vd_escrow_key_pin(paths[i], fp, 0)) == 0)
			fprintf(stderr, "vaultctl: WARNING: trusted vault key %s "
			    "on first use and pinned it in %s: from now on only "
			    "envelopes it signed are accepted with this key\n",
			    fp, paths[i]);
		else
			fprintf(stderr, "vaultctl: WARNING: trusted vault key %s "
			    "on first use but could not pin it in %s: %s\n",
			    fp, paths[i], vd_err_format(r, ebuf, sizeof(ebuf)));
	}
}

/* Where the envelopes come from. */
struct source {
	const char	*dir;		/* --data-dir, or NULL */
	const char	*bundle;	/* --bundle, or NULL */
	int		 unindexed;	/* --allow-unindexed */
	struct vd_bindex *ix;		/* the bundle's signed index, or NULL */
	char		 vid[64];	/* the data dir's vault id, "" for a bundle */
};

/*
 * Loads target's envelopes (NULL: all) from a data dir or a bundle; a data
 * dir's vault id goes to src->vid.
 */
static int
load_set(struct source *src, const char *target, struct vd_escrow_set *set)
{
	struct vd_store *st = NULL;
	struct vd_txn *t = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int r;

	if (src->bundle != NULL) {
		if ((r = vc_read_file(src->bundle, &buf, &len)) == 0)
			r = vd_bundle_parse(buf, len, set, &src->ix);
		free(buf);
		return r;
	}
	if ((r = vd_store_open(src->dir, VD_STORE_RDONLY, &st)) == 0 &&
	    (r = vd_txn_begin(st, 0, &t)) == 0)
		r = vd_escrow_set_load(t, target, set);
	if (r == 0)
		snprintf(src->vid, sizeof(src->vid), "%s", vd_store_id(st));
	vd_txn_abort(t);
	vd_store_close(st);
	return r;
}

/*
 * Checks a bundle's envelopes of target against its signed index (signed
 * by the trusted key tr->pin when one is settled) and sets *pin to the key
 * the envelopes must be signed by: the trusted one, else (a first use) the
 * index's signer.  A bundle without an index is refused unless
 * --allow-unindexed: nothing could show a version hidden from it or an
 * older envelope put back.  A data directory has no index (its envelopes
 * sit beside the sealed records of the vault itself).
 */
static int
check_source(const struct source *src, const struct vd_escrow_set *set,
    const char *target, const struct trust *tr, const char **pin)
{
	*pin = tr->pin;
	if (src->bundle == NULL)
		return 0;
	if (src->ix == NULL) {
		if (!src->unindexed)
			return vd_err_set(VD_ECORRUPT, "bundle %s has no signed "
			    "index (made by an older vaultd, by escrow export "
			    "--unindexed, or the index was stripped): a newer "
			    "version hidden from it or an older envelope put "
			    "back would go unseen; give --allow-unindexed to "
			    "open it anyway", src->bundle);
		fprintf(stderr, "vaultctl: WARNING: bundle %s has no signed "
		    "index (--allow-unindexed): the version opened may not be "
		    "the newest the vault escrowed\n", src->bundle);
		return 0;
	}
	if (*pin == NULL)
		*pin = src->ix->fp;
	return vd_bindex_check(src->ix, set, target, tr->pin);
}

/* Tells which version is opened and which others exist (stderr). */
static void
say_versions(const struct vd_escrow_set *set, const char *target,
    const struct vd_escrow_result *res, int chosen, const struct vd_bindex *ix)
{
	uint64_t vs[16], opened = res->version;
	size_t n;
	char list[256], ts[VD_TIME_STRLEN];
	size_t off = 0;

	vd_escrow_set_versions(set, target, vs, VD_NELEM(vs), &n);
	list[0] = '\0';
	for (size_t i = 0; i < n && i < VD_NELEM(vs); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%llu",
		    i ? ", " : "", (unsigned long long)vs[i]);

		if (w < 0 || (size_t)w >= sizeof(list) - off)
			break;
		off += (size_t)w;
	}
	fprintf(stderr, "vaultctl: %s: opening version %llu%s, escrowed at %s;"
	    " escrowed versions: %s%s\n", target, (unsigned long long)opened,
	    chosen ? "" : " (the newest escrowed)",
	    vd_time_rfc3339(res->created, ts, sizeof(ts)), list,
	    n > VD_NELEM(vs) ? ", ..." : "");
	if (ix != NULL) {
		unsigned state = vd_bindex_state(ix, target, opened);

		/* Signed states: no guessing whether it was in force. */
		fprintf(stderr, "vaultctl: the bundle's signed index (exported "
		    "%s) lists every version above; version %llu was %s "
		    "then\n", vd_time_rfc3339(ix->exported, ts, sizeof(ts)),
		    (unsigned long long)opened, vd_bindex_state_name(state));
		if (state == VD_BIS_PENDING && n > 1)
			fprintf(stderr, "vaultctl: a pending version may not be "
			    "in force on the server; if it does not log in, try "
			    "--version %llu\n", (unsigned long long)vs[1]);
		return;
	}
	if (!chosen && n > 1)
		fprintf(stderr, "vaultctl: the newest version may be a "
		    "\"pending\" one not yet in force on the server; if it "
		    "does not log in, try --version %llu\n",
		    (unsigned long long)vs[1]);
	else if (!chosen)
		fprintf(stderr, "vaultctl: the newest version may be a "
		    "\"pending\" one not yet in force on the server\n");
}

/* How to hand out the password: stdout, hex on stdout, an option file. */
struct output {
	const char	*mycnf;		/* --my-cnf FILE, or NULL */
	int		 hex;		/* --hex */
};

/*
 * Prints the password and a newline on stdout with write(2), so that no
 * copy stays behind in a stdio buffer.
 */
static int
print_pw(const struct vd_secret *pw)
{
	const unsigned char *p = pw->data;
	size_t n = pw->len;

	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return vd_err_set(-EIO, "cannot write the password to "
			    "stdout");
		p += w;
		n -= (size_t)w;
	}
	if (write(STDOUT_FILENO, "\n", 1) != 1)
		return vd_err_set(-EIO, "cannot write the password to stdout");
	return 0;
}

/* Builds the report of one opening (never a secret). */
static json_t *
make_report(const char *target, const struct vd_escrow_result *res,
    const char *source)
{
	char ts[VD_TIME_STRLEN], host[256], pwbuf[1024];
	struct passwd pwd, *pw = NULL;
	json_t *o, *keys;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	if (getpwuid_r(getuid(), &pwd, pwbuf, sizeof(pwbuf), &pw) != 0)
		pw = NULL;
	if ((keys = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < res->nkeyids; i++)
		json_array_append_new(keys, json_string(res->keyids[i]));
	o = json_pack("{s:s,s:s,s:I,s:s,s:I,s:s,s:o,s:s,s:s}",
	    "event", "breakglass",
	    "time", vd_time_rfc3339(vd_now(), ts, sizeof(ts)),
	    "uid", (json_int_t)getuid(),
	    "user", pw != NULL ? pw->pw_name : "?",
	    "version", (json_int_t)res->version,
	    "host", host, "keys", keys,
	    "target", target, "vault_key", res->vault_fp);
	if (o != NULL)
		json_object_set_new(o, "source", json_string(source));
	return o;
}

/* Builds the "report it later" text for line. */
static char *
later_text(const char *line, const char *target)
{
	size_t n = strlen(line) + strlen(target) + 256;
	char *s;
	int w;

	if ((s = malloc(n)) == NULL)
		return NULL;
	w = snprintf(s, n, "vaultctl: break-glass report (save the next line "
	    "to a file):\n%s\nvaultctl: import it where the vault lives, so "
	    "vaultd audits it and rotates %s:\n  vaultctl breakglass report "
	    "--data-dir DIR --file REPORT\n", line, target);
	if (w < 0 || (size_t)w >= n) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * Returns 1 when a vaultd holds dir's lock (it runs on dir, so it reads
 * the recorded opening), 0 when none does (a stopped vault, or a copy of
 * its data directory: nobody may ever read it there).  Tests the lock
 * (F_OFD_GETLK) without taking it, so a vaultd starting meanwhile is not
 * refused.
 */
static int
vaultd_runs_on(const char *dir)
{
	struct flock fl;
	char path[4096];
	int fd, held;

	if (snprintf(path, sizeof(path), "%s/%s", dir, VD_STORE_LOCKFILE) >=
	    (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;		/* the whole file */
	held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

/*
 * Hands the opening o to the vaultd on the socket (vc_socket_path()), which
 * must serve vault vid: it stores the report, audits it and rotates at
 * once (method breakglass.report).  Returns 0, or a negative error with a
 * detail (no role, another vault, no vaultd on the socket).
 */
static int
report_to_vaultd(const json_t *o, const char *vid)
{
	json_t *params, *res = NULL;
	int r;

	if ((params = json_pack("{s:O,s:s}", "report", o, "vault_id", vid))
	    == NULL)
		return VD_ENOMEM;
	r = vc_call("breakglass.report", params, 30, &res);	/* steals */
	json_decref(res);
	return r;
}

/*
 * Records an opening.  Break-glass opens a data directory read-only and
 * never writes into it (DESIGN.md, "Storage"): when a vaultd holds dir's
 * lock, the opening is reported to it over its socket (it audits and
 * rotates); otherwise nothing is written, and the report line is printed
 * with how to import it.  Never fails the command: the password is
 * already out.
 */
static void
record(const char *dir, const char *vid, const char *target,
    const struct vd_escrow_result *res, const char *source)
{
	json_t *o;
	char *line = NULL, *later = NULL, ebuf[768];
	int r;

	if ((o = make_report(target, res, source)) == NULL ||
	    (line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    (later = later_text(line, target)) == NULL) {
		fprintf(stderr, "vaultctl: out of memory building the "
		    "break-glass report: report this opening by hand\n");
		goto out;
	}
	if (dir != NULL && vid != NULL && vaultd_runs_on(dir)) {
		vd_err_clear();
		if ((r = report_to_vaultd(o, vid)) == 0) {
			fprintf(stderr, "vaultctl: this opening is reported to "
			    "the vaultd running on %s (socket %s): it audits "
			    "it and rotates %s\n", dir, vc_socket_path(),
			    target);
			goto out;
		}
		fprintf(stderr, "vaultctl: a vaultd runs on %s, but the "
		    "opening could not be reported to it over %s: %s\n", dir,
		    vc_socket_path(), vd_err_format(r, ebuf, sizeof(ebuf)));
	} else if (dir != NULL)
		fprintf(stderr, "vaultctl: no vaultd runs on %s, and break-"
		    "glass opens it read-only: nothing was written there.  If "
		    "it is the vault's own data directory, import the report "
		    "below there; if it is a copy, import it where the vault "
		    "lives.\n", dir);
	fputs(later, stderr);
 out:
	free(later);
	free(line);
	json_decref(o);
}

static int write_new(const char *path, const void *p, size_t n);

/*
 * Hands out the password as out says, or prints the "need more" message;
 * returns the exit code.  A password that is not printable ASCII (a
 * newline, a quote is fine, a control character is not) is refused unless
 * printed as hex: no policy generates one, and printed raw it could add
 * lines to an option file or talk to the terminal.
 */
static int
finish(const struct vd_escrow_result *res, const char *target,
    const struct output *out)
{
	struct vd_secret *s = NULL;
	size_t at = 0;
	int r, rc = VC_EXIT_FAIL;

	fprintf(stderr, "vaultctl: envelopes signed by vault key %s "
	    "(trusted)\n", res->vault_fp);
	if (res->pw == NULL) {
		fprintf(stderr, "vaultctl: need %u more key(s) (have %u of %u)"
		    " to open %s version %llu\n", res->m - res->have, res->have,
		    res->m, target, (unsigned long long)res->version);
		return VC_EXIT_FAIL;
	}
	if (!out->hex && vd_escrow_pw_check(res->pw, &at) != 0) {
		fprintf(stderr, "vaultctl: breakglass: the password of %s "
		    "version %llu holds a control or non-ASCII character (byte "
		    "%zu): refused, nothing printed (vault passwords are "
		    "printable ASCII; --hex prints it in hex)\n", target,
		    (unsigned long long)res->version, at + 1);
		return VC_EXIT_FAIL;
	}
	if (out->hex) {
		if ((s = vd_secret_new(2 * res->pw->len + 1)) == NULL) {
			vc_err(VD_ENOMEM, "breakglass");
			goto out;
		}
		sodium_bin2hex((char *)s->data, s->cap, res->pw->data,
		    res->pw->len);
		s->len = 2 * res->pw->len;
		r = print_pw(s);
	} else if (out->mycnf != NULL) {
		if ((r = vd_escrow_pw_mycnf(res->pw, &s)) == 0 &&
		    (r = write_new(out->mycnf, s->data, s->len)) == 0)
			fprintf(stderr, "vaultctl: wrote the password to option "
			    "file %s (0600): mariadb --defaults-file=%s -uroot "
			    "-h HOST; then shred -u %s\n", out->mycnf,
			    out->mycnf, out->mycnf);
	} else
		r = print_pw(res->pw);
	if (r != 0) {
		vc_err(r, "breakglass");
		goto out;
	}
	rc = VC_EXIT_OK;
 out:
	vd_secret_free(s);
	return rc;
}

static void
free_keys(struct vd_escrow_key **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vd_escrow_key_free(keys[i]);
}

static int
parse_version(const char *s, uint64_t *v)
{
	long long n;

	if (vd_parse_int(s, 1, INT64_MAX, &n) != 0)
		return -1;
	*v = (uint64_t)n;
	return 0;
}

static int
bg_open(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "escrow-key", required_argument, NULL, 'k' },
		{ "version", required_argument, NULL, 'v' },
		{ "vault-key", required_argument, NULL, 'f' },
		{ "accept-vault-key", no_argument, NULL, 'a' },
		{ "allow-unindexed", no_argument, NULL, 'u' },
		{ "my-cnf", required_argument, NULL, 'm' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct source src = { NULL, NULL, 0, NULL, "" };
	const char *target, *pin = NULL;
	const char *keypaths[VD_ESCROW_MAXPARTIES];
	struct vd_escrow_key *keys[VD_ESCROW_MAXPARTIES];
	struct vd_escrow_set set = { NULL, 0, 0 };
	struct vd_escrow_result res;
	struct trust tr = { NULL, 0, "", NULL };
	struct output out = { NULL, 0 };
	size_t nk = 0, nloaded = 0;
	uint64_t version = 0;
	int c, r, rc = VC_EXIT_FAIL;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			src.dir = optarg;
			break;
		case 'b':
			src.bundle = optarg;
			break;
		case 'u':
			src.unindexed = 1;
			break;
		case 'k':
			if (nk >= VD_ESCROW_MAXPARTIES) {
				fprintf(stderr, "vaultctl breakglass: at most "
				    "%d --escrow-key\n", VD_ESCROW_MAXPARTIES);
				return VC_EXIT_USAGE;
			}
			keypaths[nk++] = optarg;
			break;
		case 'v':
			if (parse_version(optarg, &version) != 0) {
				fprintf(stderr, "vaultctl breakglass: --version "
				    "takes a number >= 1\n");
				return VC_EXIT_USAGE;
			}
			break;
		case 'f':
			tr.given = optarg;
			break;
		case 'a':
			tr.accept = 1;
			break;
		case 'm':
			out.mycnf = optarg;
			break;
		case 'x':
			out.hex = 1;
			break;
		case 'h':
			bg_usage(stdout);
			return VC_EXIT_OK;
		default:
			bg_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (out.hex && out.mycnf != NULL) {
		fprintf(stderr, "vaultctl breakglass: --hex and --my-cnf exclude "
		    "each other\n");
		return VC_EXIT_USAGE;
	}
	if (optind + 1 != argc || (src.dir == NULL) == (src.bundle == NULL) ||
	    nk == 0) {
		fprintf(stderr, "vaultctl breakglass: give one of --data-dir or "
		    "--bundle, at least one --escrow-key, and the target "
		    "NAME\n");
		bg_usage(stderr);
		return VC_EXIT_USAGE;
	}
	target = argv[optind];
	if (!vd_name_valid(target)) {
		fprintf(stderr, "vaultctl breakglass: invalid target name\n");
		return VC_EXIT_USAGE;
	}
	for (; nloaded < nk; nloaded++)
		if ((r = load_key(keypaths[nloaded], &keys[nloaded])) != 0) {
			vc_err(r, "breakglass");
			goto out;
		}
	if ((r = load_set(&src, target, &set)) != 0) {
		vc_err(r, "breakglass: cannot read the escrow envelopes");
		goto out;
	}
	if ((r = settle_trust(&tr, keys, keypaths, nk, &set, target, version))
	    != 0 || (r = check_source(&src, &set, target, &tr, &pin)) != 0) {
		vc_err(r, "breakglass");
		goto out;
	}
	if ((r = vd_escrow_recover(&set, target, version, keys, nk, pin,
	    &res)) != 0) {
		vc_err(r, "breakglass");
		goto out;
	}
	say_versions(&set, target, &res, version != 0, src.ix);
	if ((rc = finish(&res, target, &out)) == VC_EXIT_OK) {
		pin_first_use(&tr, keys, keypaths, nk, res.vault_fp);
		record(src.dir, src.vid, target, &res, src.bundle ? "bundle" :
		    "data-dir");
	}
 out:
	vd_escrow_result_clear(&res);
	vd_escrow_set_clear(&set);
	vd_bindex_free(src.ix);
	free_keys(keys, nloaded);
	return rc;
}

/* Creates path (0600, never overwriting) holding n bytes of p. */
static int
write_new(const char *path, const void *p, size_t n)
{
	int fd, r = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		return vd_err_set(-errno, "cannot create %s: %s", path,
		    strerror(errno));
	if (write(fd, p, n) != (ssize_t)n || fsync(fd) != 0)
		r = vd_err_set(-EIO, "cannot write %s", path);
	if (close(fd) != 0 && r == 0)
		r = vd_err_set(-errno, "cannot write %s", path);
	if (r != 0)
		unlink(path);
	return r;
}

static int
bg_share(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "escrow-key", required_argument, NULL, 'k' },
		{ "to", required_argument, NULL, 't' },
		{ "version", required_argument, NULL, 'v' },
		{ "vault-key", required_argument, NULL, 'f' },
		{ "accept-vault-key", no_argument, NULL, 'a' },
		{ "allow-unindexed", no_argument, NULL, 'u' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct trust tr = { NULL, 0, "", NULL };
	char fp[VD_ESCROW_FPLEN + 1];
	struct source src = { NULL, NULL, 0, NULL, "" };
	const char *keypath = NULL, *pin = NULL;
	const char *to = NULL, *out = NULL, *target;
	struct vd_escrow_key *key = NULL;
	struct vd_escrow_set set = { NULL, 0, 0 };
	struct vd_escrow_pub pub;
	unsigned char *buf = NULL;
	uint64_t version = 0, v = 0;
	size_t len = 0;
	int c, r, rc = VC_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			src.dir = optarg;
			break;
		case 'b':
			src.bundle = optarg;
			break;
		case 'u':
			src.unindexed = 1;
			break;
		case 'k':
			keypath = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'v':
			if (parse_version(optarg, &version) != 0) {
				fprintf(stderr, "vaultctl breakglass share: "
				    "--version takes a number >= 1\n");
				return VC_EXIT_USAGE;
			}
			break;
		case 'f':
			tr.given = optarg;
			break;
		case 'a':
			tr.accept = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			bg_usage(stdout);
			return VC_EXIT_OK;
		default:
			bg_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (src.dir == NULL) == (src.bundle == NULL) ||
	    keypath == NULL || to == NULL || out == NULL ||
	    !vd_name_valid(argv[optind])) {
		fprintf(stderr, "vaultctl breakglass share: give one of "
		    "--data-dir or --bundle, --escrow-key, --to, --out and the "
		    "target NAME\n");
		return VC_EXIT_USAGE;
	}
	target = argv[optind];
	if ((r = vd_escrow_pub_load(to, &pub)) != 0 ||
	    (r = load_key(keypath, &key)) != 0 ||
	    (r = load_set(&src, target, &set)) != 0 ||
	    (r = settle_trust(&tr, &key, &keypath, 1, &set, target, version))
	    != 0 || (r = check_source(&src, &set, target, &tr, &pin)) != 0 ||
	    (r = vd_escrow_share_make(&set, target, version, key, &pub, pin,
	    &buf, &len, &v)) != 0 ||
	    (r = write_new(out, buf, len)) != 0) {
		vc_err(r, "breakglass share");
		goto out;
	}
	/*
	 * A first use is not pinned here: the share file carries the signed
	 * envelope, and the combiner checks the signer against its own pin.
	 */
	if (tr.pin == NULL && vd_escrow_set_signer(&set, target, v, fp) == 0)
		fprintf(stderr, "vaultctl: WARNING: trusted vault key %s on "
		    "first use for this share; %s stays unpinned (vaultctl "
		    "escrow pin)\n", fp, keypath);
	fprintf(stderr, "vaultctl: party %s's share of %s version %llu is "
	    "sealed to %s (key id %s) in %s\n", key->pub.party, target,
	    (unsigned long long)v, pub.party, pub.keyid, out);
	rc = VC_EXIT_OK;
 out:
	free(buf);
	vd_escrow_set_clear(&set);
	vd_bindex_free(src.ix);
	vd_escrow_key_free(key);
	return rc;
}

static int
bg_combine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "escrow-key", required_argument, NULL, 'k' },
		{ "vault-key", required_argument, NULL, 'f' },
		{ "accept-vault-key", no_argument, NULL, 'a' },
		{ "my-cnf", required_argument, NULL, 'm' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct trust tr = { NULL, 0, "", NULL };
	struct output oo = { NULL, 0 };
	const char *keypath = NULL;
	unsigned char *files[VD_ESCROW_MAXPARTIES];
	size_t lens[VD_ESCROW_MAXPARTIES], nf = 0;
	struct vd_escrow_key *key = NULL;
	struct vd_escrow_result res;
	char target[VD_NAME_MAX + 1], ts[VD_TIME_STRLEN];
	int c, r, rc = VC_EXIT_FAIL;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keypath = optarg;
			break;
		case 'f':
			tr.given = optarg;
			break;
		case 'a':
			tr.accept = 1;
			break;
		case 'm':
			oo.mycnf = optarg;
			break;
		case 'x':
			oo.hex = 1;
			break;
		case 'h':
			bg_usage(stdout);
			return VC_EXIT_OK;
		default:
			bg_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (oo.hex && oo.mycnf != NULL) {
		fprintf(stderr, "vaultctl breakglass combine: --hex and --my-cnf "
		    "exclude each other\n");
		return VC_EXIT_USAGE;
	}
	if (keypath == NULL || optind >= argc ||
	    argc - optind > VD_ESCROW_MAXPARTIES) {
		fprintf(stderr, "vaultctl breakglass combine: give --escrow-key "
		    "and 1..%d share files\n", VD_ESCROW_MAXPARTIES);
		return VC_EXIT_USAGE;
	}
	if ((r = load_key(keypath, &key)) != 0 ||
	    (r = settle_trust(&tr, &key, &keypath, 1, NULL, NULL, 0)) != 0) {
		vc_err(r, "breakglass combine");
		goto out;
	}
	for (; optind < argc; optind++, nf++)
		if ((r = vc_read_file(argv[optind], &files[nf], &lens[nf]))
		    != 0) {
			vc_err(r, "breakglass combine");
			goto out;
		}
	if ((r = vd_escrow_combine((const unsigned char *const *)files, lens,
	    nf, key, tr.pin, target, &res)) != 0) {
		vc_err(r, "breakglass combine");
		goto out;
	}
	fprintf(stderr, "vaultctl: %s: combining version %llu, escrowed at "
	    "%s\n", target, (unsigned long long)res.version,
	    vd_time_rfc3339(res.created, ts, sizeof(ts)));
	if ((rc = finish(&res, target, &oo)) == VC_EXIT_OK) {
		pin_first_use(&tr, &key, &keypath, 1, res.vault_fp);
		record(NULL, NULL, target, &res, "combine");
	}
 out:
	for (size_t i = 0; i < nf; i++)
		free(files[i]);
	vd_escrow_result_clear(&res);
	vd_escrow_key_free(key);
	return rc;
}

static int
bg_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *file = NULL, *target;
	struct vd_store *st = NULL;
	struct vd_txn *t = NULL;
	unsigned char *buf = NULL;
	json_t *o = NULL;
	json_error_t jerr;
	uint64_t v;
	size_t len;
	int c, r, rc = VC_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			bg_usage(stdout);
			return VC_EXIT_OK;
		default:
			bg_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc || dir == NULL || file == NULL) {
		fprintf(stderr, "vaultctl breakglass report: give --data-dir "
		    "and --file\n");
		return VC_EXIT_USAGE;
	}
	if ((r = vc_read_file(file, &buf, &len)) != 0) {
		vc_err(r, "breakglass report");
		goto out;
	}
	if (len > 65536 || (o = json_loadb((const char *)buf, len, 0, &jerr))
	    == NULL) {
		fprintf(stderr, "vaultctl breakglass report: %s is not a "
		    "break-glass report (one JSON line)\n", file);
		goto out;
	}
	if ((r = vd_escrow_report_check(o, &target, &v)) != 0) {
		vc_err(r, "breakglass report");
		goto out;
	}
	if (vaultd_runs_on(dir)) {
		/* vaultd is the only writer of a live vault: hand it over. */
		if ((r = vd_store_open(dir, VD_STORE_RDONLY, &st)) != 0) {
			vc_err(r, "breakglass report");
			goto out;
		}
		r = report_to_vaultd(o, vd_store_id(st));
		if (r != 0) {
			vc_err(r, "breakglass report: a vaultd runs on %s; "
			    "reporting to it over %s failed", dir,
			    vc_socket_path());
			rc = vc_exit_code(r);
			goto out;
		}
		printf("break-glass opening of %s version %llu reported to the "
		    "vaultd running on %s; it audits it and rotates %s\n",
		    target, (unsigned long long)v, dir, target);
		rc = VC_EXIT_OK;
		goto out;
	}
	/* No vaultd: an explicit import into the stopped vault. */
	if ((r = vd_store_open(dir, 0, &st)) != 0 ||
	    (r = vd_txn_begin(st, 1, &t)) != 0 ||
	    (r = vd_escrow_report_add(t, target, v, o)) != 0) {
		vc_err(r, "breakglass report");
		goto out;
	}
	r = vd_txn_commit(t);
	t = NULL;
	if (r != 0) {
		vc_err(r, "breakglass report");
		goto out;
	}
	printf("break-glass opening of %s version %llu recorded; vaultd will "
	    "audit it and rotate %s\n", target, (unsigned long long)v, target);
	rc = VC_EXIT_OK;
 out:
	vd_txn_abort(t);
	vd_store_close(st);
	json_decref(o);
	free(buf);
	return rc;
}

/*
 * vaultctl breakglass [share|combine|report] ...; returns an exit code:
 * 0 with the password printed, 1 refused or too few keys, 2 usage.
 */
int
cmd_breakglass(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "share") == 0)
		return bg_share(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "combine") == 0)
		return bg_combine(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "report") == 0)
		return bg_report(argc - 1, argv + 1);
	return bg_open(argc, argv);
}
