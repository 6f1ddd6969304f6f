/*
 * cmd_audit.c - vaultctl audit list (online, auditor role),
 * vaultctl audit verify (offline: opens the data directory read-only,
 * checks the audit log's hash chain, a bundle's signed audit checkpoint
 * when given, then the data directory against its freshness anchor
 * outside it; with --full first every page of data.mdb, every record and
 * every escrow envelope, common/vverify.h) and vaultctl audit restore
 * (offline: accepts
 * an older data directory deliberately, audited, and moves the anchor).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <pwd.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "audit_mark.h"
#include "bundle_index.h"
#include "err.h"
#include "escrow.h"
#include "list.h"
#include "mem.h"
#include "store.h"
#include "util.h"
#include "vverify.h"

static void
audit_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl audit list [--limit N] [--json | --csv] "
	    "[--socket PATH]\n"
	    "       vaultctl audit verify --data-dir DIR [--key-file FILE] "
	    "[--anchor FILE] [--full]\n"
	    "                             [--checkpoint BUNDLE] [--journal FILE|-]"
	    "\n"
	    "       vaultctl audit verify --full --data-dir DIR --vault-key FP\n"
	    "       vaultctl audit restore --data-dir DIR [--key-file FILE] "
	    "[--anchor FILE]\n"
	    "\n"
	    "list shows the newest audit entries.  verify checks, offline "
	    "and read-only,\n"
	    "that no entry was edited, dropped or re-ordered, that every "
	    "record matches\n"
	    "the vault's integrity record (none put back, added or removed "
	    "outside vaultd),\n"
	    "and that the data directory is not older than its freshness "
	    "anchor (default\n"
	    "DIR.anchor); it exits 1 naming what is wrong.  --checkpoint "
	    "BUNDLE also checks\n"
	    "the log continues the audit checkpoint an exported bundle "
	    "carries (signed\n"
	    "by the vault), which a rolled-back anchor cannot hide; --journal "
	    "FILE\n"
	    "(- for stdin: journalctl -o json -u vaultd) the audit heads "
	    "vaultd marked\n"
	    "in the journal.  With --full it first walks every page\n"
	    "of data.mdb and every record (each opens in its place), every "
	    "escrow envelope\n"
	    "(signed by this vault) and exits 1 naming what is damaged: a "
	    "backup proven\n"
	    "usable.  An escrow party without the vault's key gives the pinned "
	    "vault key\n"
	    "(--vault-key FP) instead: pages, records read, envelopes signed "
	    "by FP.\n"
	    "restore accepts an older"
	    " data\n"
	    "directory (a deliberate restore from backup, vaultd stopped): it "
	    "is audited\n"
	    "and the anchor starts again from it.  A passphrase vault's "
	    "passphrase is\n"
	    "read from the terminal or stdin.\n");
}

/* Prints one audit entry: seq, time, then key=value for all but prev. */
static void
audit_row(json_t *e)
{
	const char *key;
	json_t *v;

	printf("%s %s", vc_str(json_object_get(e, "seq")),
	    vc_str(json_object_get(e, "time")));
	json_object_foreach(e, key, v) {
		if (strcmp(key, "seq") == 0 || strcmp(key, "time") == 0 ||
		    strcmp(key, "prev") == 0)
			continue;
		{
			char buf[1024];

			/* A list (break-glass openings) as JSON, not "-". */
			printf(" %s=%s", key, vc_cell(v, buf, sizeof(buf)));
		}
	}
	putchar('\n');
}

static int
audit_list(int argc, char **argv)
{
	static const char *const cols[] = { "seq", "time", "event", "result",
	    "user", "uid", "pid", "target", "version", "reason", NULL };
	struct vc_list l = { .usage = audit_usage, .row = audit_row,
	    .csv = cols };
	int rc;

	if ((rc = vc_list_options(&l, argc, argv)) >= 0)
		return rc;
	return vc_list_print(&l, "audit list", "audit.list",
	    json_pack("{s:I}", "limit", (json_int_t)l.limit));
}

/* Options shared by verify and restore. */
struct offline {
	const char	*dir;		/* --data-dir */
	const char	*keyfile;	/* --key-file */
	const char	*anchor;	/* --anchor, or NULL: DIR.anchor */
	const char	*checkpoint;	/* --checkpoint BUNDLE (verify) */
	const char	*journal;	/* --journal FILE, "-": stdin (verify) */
	int		 full;		/* verify --full */
	const char	*vault_key;	/* verify --full --vault-key FP */
};

/* Parses verify/restore options; returns -1 to go on, or an exit code. */
static int
offline_options(struct offline *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "journal", required_argument, NULL, 'j' },
		{ "full", no_argument, NULL, 'f' },
		{ "vault-key", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 'k': o->keyfile = optarg; break;
		case 'a': o->anchor = optarg; break;
		case 'c': o->checkpoint = optarg; break;
		case 'j': o->journal = optarg; break;
		case 'f': o->full = 1; break;
		case 'v': o->vault_key = optarg; break;
		case 'h':
			audit_usage(stdout);
			return VC_EXIT_OK;
		default:
			audit_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (o->dir == NULL || optind != argc) {
		audit_usage(stderr);
		return VC_EXIT_USAGE;
	}
	return -1;
}

/* Opens (flags) and unlocks the vault of o; returns an exit code. */
static int
offline_open(const struct offline *o, unsigned flags, struct vd_store **stp)
{
	struct vd_secret *key = NULL;
	struct vd_store *st = NULL;
	int r, rc = VC_EXIT_FAIL;

	*stp = NULL;
	if ((r = vd_store_open(o->dir, flags, &st)) != 0) {
		vc_err(r, "%s", o->dir);
		goto out;
	}
	if (o->anchor != NULL && (r = vd_store_set_anchor(st, o->anchor))
	    != 0) {
		vc_err(r, "--anchor");
		goto out;
	}
	if (vd_store_kdf(st) == VD_KDF_KEYFILE) {
		if (o->keyfile == NULL) {
			fprintf(stderr, "vaultctl: this vault uses a key file: "
			    "give --key-file\n");
			rc = VC_EXIT_USAGE;
			goto out;
		}
		r = vd_keyfile_load(o->keyfile, &key);
	} else
		r = vd_read_secret(STDIN_FILENO, "Vault passphrase: ", 0, 0,
		    &key);
	if (r != 0 || (r = vd_store_unlock(st, key)) != 0) {
		vc_err(r, "cannot unlock the vault");
		goto out;
	}
	*stp = st;
	st = NULL;
	rc = VC_EXIT_OK;
 out:
	vd_store_close(st);
	vd_secret_free(key);
	return rc;
}

/* Checks the hash chain; prints why not and returns an exit code. */
static int
chain_ok(struct vd_store *st, uint64_t *count)
{
	struct vd_txn *t = NULL;
	uint64_t bad = 0;
	int r;

	if ((r = vd_txn_begin(st, 0, &t)) != 0) {
		vc_err(r, "read transaction");
		return VC_EXIT_FAIL;
	}
	vd_err_clear();
	r = vd_audit_verify(t, count, &bad);
	vd_txn_abort(t);
	if (r == VD_ECHAIN || r == VD_ECORRUPT) {
		fprintf(stderr, "vaultctl: audit verify: entry %" PRIu64
		    " is bad: %s\n", bad, vd_err_detail());
		return VC_EXIT_FAIL;
	}
	if (r != 0) {
		vc_err(r, "audit verify");
		return VC_EXIT_FAIL;
	}
	return VC_EXIT_OK;
}

/*
 * --checkpoint BUNDLE: the bundle's index must be signed by this vault's
 * escrow key, and the audit log must continue its checkpoint (not
 * shorter, the same entry at its count).  Unlike the anchor file beside
 * the data directory, a checkpoint in a bundle kept elsewhere cannot be
 * rolled back together with the data.  Prints what it found; returns an
 * exit code.
 */
static int
checkpoint_ok(struct vd_store *st, const char *path)
{
	struct vd_escrow_set set = { NULL, 0, 0 };
	struct vd_bindex *ix = NULL;
	struct vd_txn *t = NULL;
	unsigned char *buf = NULL;
	char fp[VD_ESCROW_FPLEN + 1], ts[VD_TIME_STRLEN];
	size_t len = 0;
	int r, rc = VC_EXIT_FAIL;

	vd_err_clear();
	if ((r = vc_read_file(path, &buf, &len)) != 0 ||
	    (r = vd_bundle_parse(buf, len, &set, &ix)) != 0) {
		vc_err(r, "audit verify: --checkpoint %s", path);
		goto out;
	}
	if (ix == NULL) {
		fprintf(stderr, "vaultctl: audit verify: bundle %s has no signed "
		    "checkpoint (made by an older vaultd or with --unindexed)\n",
		    path);
		goto out;
	}
	if ((r = vd_escrow_vault_fp(st, fp)) != 0) {
		vc_err(r, "audit verify: vault key");
		goto out;
	}
	if (strcmp(fp, ix->fp) != 0) {
		fprintf(stderr, "vaultctl: audit verify: the checkpoint in %s is "
		    "signed by vault key %s, not this vault's %s: refused\n",
		    path, ix->fp, fp);
		goto out;
	}
	if ((r = vd_txn_begin(st, 0, &t)) != 0) {
		vc_err(r, "read transaction");
		goto out;
	}
	vd_err_clear();
	if ((r = vd_bindex_checkpoint(ix, t)) == VD_ECHAIN) {
		fprintf(stderr, "vaultctl: audit verify: %s\n", vd_err_detail());
		goto out;
	}
	if (r != 0) {
		vc_err(r, "audit verify: checkpoint");
		goto out;
	}
	printf("continues the signed checkpoint of %s (entry %" PRIu64
	    ", exported %s)\n", path, ix->audit_count,
	    vd_time_rfc3339(ix->exported, ts, sizeof(ts)));
	rc = VC_EXIT_OK;
 out:
	vd_txn_abort(t);
	vd_bindex_free(ix);
	vd_escrow_set_clear(&set);
	free(buf);
	return rc;
}

#define JOURNAL_MAX	(256u << 20)	/* journal text read, bytes */
#define MARKS_MAX	100000		/* marks checked one by one */

/* Reads all of standard input (journalctl … |) into *out, bounded. */
static int
read_stdin(unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL, *nb;
	size_t cap = 0;
	ssize_t n;

	*out = NULL;
	*len = 0;
	for (;;) {
		if (*len == cap) {
			if (cap >= JOURNAL_MAX) {
				free(buf);
				return vd_err_set(VD_ETOOBIG, "standard input "
				    "holds more than %u MiB", JOURNAL_MAX >> 20);
			}
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return VD_ENOMEM;
			}
			buf = nb;
		}
		n = read(STDIN_FILENO, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return vd_err_set(-errno, "cannot read standard input");
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	*out = buf;
	return 0;
}

/*
 * --journal FILE: the newest audit head vaultd marked in the journal (or
 * its stderr log) for this vault, and every other one kept, must be on the
 * log's chain: a cut tail is found even when the anchor file beside the
 * data directory was rolled back with it.  Returns an exit code.
 */
static int
journal_ok(struct vd_store *st, const char *path)
{
	const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
	struct vd_audit_marks m;
	struct vd_txn *t = NULL;
	unsigned char *buf = NULL;
	char src[PATH_MAX + 64];
	size_t len = 0;
	int r, rc = VC_EXIT_FAIL;

	memset(&m, 0, sizeof(m));
	vd_err_clear();
	r = strcmp(path, "-") == 0 ? read_stdin(&buf, &len) :
	    vc_read_file(path, &buf, &len);
	if (r != 0 || (r = vd_audit_marks_scan((const char *)buf, len,
	    vd_store_id(st), MARKS_MAX, &m)) != 0) {
		vc_err(r, "audit verify: --journal %s", path);
		goto out;
	}
	if (m.seen == 0) {
		fprintf(stderr, "vaultctl: audit verify: no audit head of vault "
		    "%s in %s (%zu of other vaults, %zu malformed)\n",
		    vd_store_id(st), name, m.other, m.bad);
		goto out;
	}
	if ((r = vd_txn_begin(st, 0, &t)) != 0) {
		vc_err(r, "read transaction");
		goto out;
	}
	snprintf(src, sizeof(src), "the journal (%s)", name);
	/* The newest first: its message names the whole cut. */
	vd_err_clear();
	r = vd_audit_continues(t, m.top.count, m.top.hash, src);
	for (size_t i = 0; r == 0 && i < m.n; i++)
		r = vd_audit_continues(t, m.all[i].count, m.all[i].hash, src);
	if (r == VD_ECHAIN) {
		fprintf(stderr, "vaultctl: audit verify: %s\n", vd_err_detail());
		goto out;
	}
	if (r != 0) {
		vc_err(r, "audit verify: journal");
		goto out;
	}
	printf("continues the audit heads in %s (%zu marks, the newest at "
	    "entry %" PRIu64 ")\n", name, m.seen, m.top.count);
	rc = VC_EXIT_OK;
 out:
	vd_txn_abort(t);
	vd_audit_marks_clear(&m);
	free(buf);
	return rc;
}

/* Prints what --full found damaged; returns the exit code. */
static int
full_failed(const struct offline *o, const struct vd_vverify *v, int r)
{
	char buf[768];

	if (r == VD_ECORRUPT || r == VD_ECHAIN)
		fprintf(stderr, "vaultctl: audit verify --full: damaged (%s): "
		    "%s\n", v->stage, vd_err_detail());
	else
		fprintf(stderr, "vaultctl: audit verify --full: %s: %s: %s\n",
		    o->dir, v->stage, vd_err_format(r, buf, sizeof(buf)));
	return VC_EXIT_FAIL;
}

/* --full, first half: the page walk, before anything opens the store. */
static int
full_pages(const struct offline *o, struct vd_vverify *v)
{
	int r;

	if ((r = vd_vverify_pages(o->dir, v)) != 0)
		return full_failed(o, v, r);
	printf("data.mdb: %" PRIu64 " pages in use, %" PRIu64 " free, %u "
	    "databases, %" PRIu64 " records (page size %zu, transaction %"
	    PRIu64 "): every page checks\n", v->pages.inuse, v->pages.free,
	    v->pages.ndbs, v->pages.entries, v->pages.psize, v->pages.txnid);
	return VC_EXIT_OK;
}

/* --full, second half: every record and envelope of the unlocked store. */
static int
full_records(const struct offline *o, struct vd_store *st,
    struct vd_vverify *v)
{
	int r;

	vd_err_clear();
	r = vd_vverify_store(st, NULL, v);
	/* Older than the anchor: the checks below say it, with the remedy. */
	if (r != 0 && (v->stage == NULL || strcmp(v->stage, "anchor") != 0))
		return full_failed(o, v, r);
	printf("records: %" PRIu64 " read, each opens in its place\n",
	    v->records);
	printf("escrow: %" PRIu64 " envelopes, each signed by this vault's "
	    "key%s%s\n", v->envelopes, v->envelopes ? " " : "", v->signer);
	return VC_EXIT_OK;
}

/*
 * --full --vault-key FP without the vault's key (an escrow party checking a
 * copy before break-glass): every page, every record read, every envelope
 * signed by FP; the records cannot be opened, nor the chain or the anchor
 * checked, and the output says so.
 */
static int
full_keyless(const struct offline *o, struct vd_vverify *v)
{
	char fp[VD_ESCROW_FPLEN + 1];
	struct vd_store *st = NULL;
	int r, rc;

	if (vd_escrow_fp_parse(o->vault_key, fp) != 0) {
		fprintf(stderr, "vaultctl: --vault-key: not a vault key "
		    "fingerprint (%d hex digits)\n", VD_ESCROW_FPLEN);
		return VC_EXIT_USAGE;
	}
	if ((rc = full_pages(o, v)) != VC_EXIT_OK)
		return rc;
	if ((r = vd_store_open(o->dir, VD_STORE_RDONLY, &st)) != 0) {
		vc_err(r, "%s", o->dir);
		return VC_EXIT_FAIL;
	}
	vd_err_clear();
	r = vd_vverify_store(st, fp, v);
	vd_store_close(st);
	if (r != 0)
		return full_failed(o, v, r);
	printf("records: %" PRIu64 " read (not opened: no vault key)\n",
	    v->records);
	printf("escrow: %" PRIu64 " envelopes, each signed by vault key %s\n",
	    v->envelopes, fp);
	printf("audit log and freshness anchor not checked (they need the "
	    "vault's key)\n");
	return VC_EXIT_OK;
}

static int
audit_verify(int argc, char **argv)
{
	struct offline o;
	struct vd_store *st = NULL;
	struct vd_vverify v;
	struct vd_anchor a, now;
	struct vd_integrity in;
	char ts[VD_TIME_STRLEN];
	uint64_t count = 0;
	int r, rc, found = 0;

	if ((rc = offline_options(&o, argc, argv)) >= 0)
		return rc;
	if (o.vault_key != NULL && (!o.full || o.keyfile != NULL)) {
		fprintf(stderr, "vaultctl: --vault-key goes with --full, "
		    "instead of --key-file\n");
		return VC_EXIT_USAGE;
	}
	if (o.vault_key != NULL)
		return full_keyless(&o, &v);
	/* --full: every page before LMDB opens the file. */
	if (o.full && (rc = full_pages(&o, &v)) != VC_EXIT_OK)
		return rc;
	if ((rc = offline_open(&o, VD_STORE_RDONLY, &st)) != VC_EXIT_OK)
		goto out;
	/* --full walked the chain already (its audit stage comes first). */
	if (o.full) {
		if ((rc = full_records(&o, st, &v)) != VC_EXIT_OK)
			goto out;
		count = v.audit;
	} else if ((rc = chain_ok(st, &count)) != VC_EXIT_OK)
		goto out;
	if (o.checkpoint != NULL &&
	    (rc = checkpoint_ok(st, o.checkpoint)) != VC_EXIT_OK)
		goto out;
	if (o.journal != NULL && strcmp(o.journal, "-") == 0 &&
	    vd_store_kdf(st) != VD_KDF_KEYFILE) {
		/* Its first line was the passphrase. */
		fprintf(stderr, "vaultctl: audit verify: a passphrase vault "
		    "reads its passphrase from stdin: give --journal FILE\n");
		rc = VC_EXIT_USAGE;
		goto out;
	}
	if (o.journal != NULL && (rc = journal_ok(st, o.journal)) != VC_EXIT_OK)
		goto out;
	rc = VC_EXIT_FAIL;
	vd_err_clear();
	r = vd_store_anchor_check(st, &a, &now, &found);
	if (r == VD_ECHAIN) {
		fprintf(stderr, "vaultctl: audit verify: %s\n"
		    "vaultctl: if an older copy was restored on purpose, accept "
		    "it (audited) with: vaultctl audit restore --data-dir %s\n",
		    vd_err_detail(), o.dir);
		goto out;
	}
	if (r != 0) {
		vc_err(r, "audit verify: freshness anchor");
		goto out;
	}
	/*
	 * Every record against the integrity record: a full pass.  After
	 * the anchor, whose message names a cut tail more precisely.
	 */
	vd_err_clear();
	r = vd_store_integrity_check(st, &in);
	if (r == VD_ECHAIN) {
		fprintf(stderr, "vaultctl: audit verify: %s\n",
		    vd_err_detail());
		goto out;
	}
	if (r != 0) {
		vc_err(r, "audit verify: integrity");
		goto out;
	}
	if (!found && o.anchor != NULL) {
		fprintf(stderr, "vaultctl: audit verify: no freshness anchor in "
		    "%s\n", o.anchor);
		goto out;
	}
	if (!found)
		fprintf(stderr, "vaultctl: warning: no freshness anchor at %s: "
		    "a cut audit tail or an older copy of the data directory "
		    "cannot be detected (give --anchor FILE where it is kept)\n",
		    vd_store_anchor_path(st));
	printf("audit log intact: %" PRIu64 " entries\n", count);
	if (in.present)
		printf("records intact: %" PRIu64 " records match the integrity "
		    "record (generation %" PRIu64 ")\n", in.found, in.gen);
	else
		fprintf(stderr, "vaultctl: warning: no integrity record yet "
		    "(vaultd computes it at its next start): a single record "
		    "put back cannot be detected\n");
	if (found)
		printf("not older than its freshness anchor %s (entry %" PRIu64
		    ", versions %" PRIu64 ", generation %" PRIu64 ", written "
		    "%s)\n", vd_store_anchor_path(st), a.audit_count,
		    a.versions, a.gen,
		    vd_time_rfc3339(a.written, ts, sizeof(ts)));
	rc = VC_EXIT_OK;
 out:
	vd_store_close(st);
	return rc;
}

static int
audit_restore(int argc, char **argv)
{
	struct offline o;
	struct vd_store *st = NULL;
	struct vd_anchor was;
	struct passwd pwd, *pw = NULL;
	char pwbuf[1024];
	json_t *by = NULL;
	uint64_t count = 0;
	int r, rc, found = 0;

	if ((rc = offline_options(&o, argc, argv)) >= 0)
		return rc;
	if (o.checkpoint != NULL || o.journal != NULL) {
		fprintf(stderr, "vaultctl: audit restore: --checkpoint and "
		    "--journal go with verify\n");
		return VC_EXIT_USAGE;
	}
	if (o.full || o.vault_key != NULL) {
		audit_usage(stderr);
		return VC_EXIT_USAGE;
	}
	/* Read-write, without the freshness check that would refuse it. */
	if ((rc = offline_open(&o, VD_STORE_NOFRESH, &st)) != VC_EXIT_OK ||
	    (rc = chain_ok(st, &count)) != VC_EXIT_OK)
		goto out;
	rc = VC_EXIT_FAIL;
	if (getpwuid_r(getuid(), &pwd, pwbuf, sizeof(pwbuf), &pw) != 0)
		pw = NULL;
	if ((by = json_pack("{s:I,s:s,s:s}", "uid", (json_int_t)getuid(),
	    "user", pw != NULL ? pw->pw_name : "?", "via",
	    "vaultctl audit restore")) == NULL) {
		vc_err(VD_ENOMEM, "audit restore");
		goto out;
	}
	if ((r = vd_store_anchor_restore(st, by, &was, &found)) != 0) {
		vc_err(r, "audit restore");
		goto out;
	}
	if (found)
		printf("restore accepted: the audit log had %" PRIu64 " entries,"
		    " the anchor recorded %" PRIu64 "; recorded as audit entry %"
		    PRIu64 ", and the anchor %s starts from here\n", count,
		    was.audit_count, count + 1, vd_store_anchor_path(st));
	else
		printf("restore accepted (there was no anchor); recorded as "
		    "audit entry %" PRIu64 ", anchor %s written\n", count + 1,
		    vd_store_anchor_path(st));
	rc = VC_EXIT_OK;
 out:
	json_decref(by);
	vd_store_close(st);
	return rc;
}

/* vaultctl audit SUBCOMMAND … */
int
cmd_audit(int argc, char **argv)
{
	if (argc < 2) {
		audit_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		audit_usage(stdout);
		return VC_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0)
		return audit_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "restore") == 0)
		return audit_restore(argc - 1, argv + 1);
	fprintf(stderr, "vaultctl: unknown audit command '%s'\n", argv[1]);
	audit_usage(stderr);
	return VC_EXIT_USAGE;
}
