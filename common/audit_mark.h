/*
 * audit_mark.h - audit heads recorded outside the data directory (issue 14
 * item 3), and the check that a vault's audit log continues them.
 *
 * vaultd writes each new audit head (entry count and the newest entry's
 * hash; nothing secret) to the journal at most every VD_AUDIT_MARK_EVERY
 * seconds and when it stops (vaultd/headlog.c): as structured fields
 * through sd_journal_send(3),
 *
 *   VAULTD_AUDIT_HEAD=COUNT:HASH   (HASH: 64 lower-case hex digits)
 *   VAULTD_VAULT_ID=ID             (vd_store_id(), 32 hex digits)
 *
 * or, where there is no journal socket, as a log line on stderr holding
 * the same two NAME=VALUE words (which journald, or whatever collects
 * vaultd's stderr, keeps).  An attacker with the data directory (and the
 * anchor file beside it) cannot rewrite the journal.
 *
 * vd_audit_marks_scan() reads such marks from text: vaultd's log, the
 * output of `journalctl -o json` (fields as "NAME":"VALUE"), `-o export`
 * or `-o verbose` (NAME=VALUE), one record per line.  Every function
 * returns 0 or a negative VD_E* code with a detail.
 */
#ifndef VD_AUDIT_MARK_H
#define VD_AUDIT_MARK_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define VD_AUDIT_MARK_EVERY	30	/* s: at most one mark per interval */
#define VD_AUDIT_MARK_HEAD	"VAULTD_AUDIT_HEAD"	/* field names */
#define VD_AUDIT_MARK_VAULT	"VAULTD_VAULT_ID"

/* One recorded audit head. */
struct vd_audit_mark {
	uint64_t	 count;				/* entries then */
	char		 hash[2 * VD_HASHBYTES + 1];	/* newest one's, hex */
};

/* What a scan found. */
struct vd_audit_marks {
	struct vd_audit_mark	 top;	/* the highest count of the vault */
	struct vd_audit_mark	*all;	/* malloc'd: every mark of the vault */
	size_t			 n;	/* entries in all */
	size_t			 seen;	/* marks of the vault (may exceed n) */
	size_t			 other;	/* marks of other vaults (skipped) */
	size_t			 bad;	/* malformed marks (skipped) */
};

/*
 * Scans text (buf, len; need not be NUL-terminated) for audit head marks,
 * one per line: a line holding VAULTD_AUDIT_HEAD followed by '=' or '":"'
 * and COUNT:HASH.  A mark counts only when the same line names vault_id
 * (VAULTD_VAULT_ID, the same two forms); marks of another vault are
 * counted in out->other, malformed ones in out->bad.  At most max marks
 * are kept (the rest are still scanned for top).  Free with
 * vd_audit_marks_clear().
 */
int vd_audit_marks_scan(const char *buf, size_t len, const char *vault_id,
    size_t max, struct vd_audit_marks *out);

/* Frees m->all; NULL-safe. */
void vd_audit_marks_clear(struct vd_audit_marks *m);

/*
 * Checks that the audit log in t continues a recorded head: at least
 * count entries, and entry count hashes to hash.  source names where the
 * head was recorded, for the message.  Returns 0, or VD_ECHAIN with a
 * detail naming the missing entries or the replaced one.  t's store must
 * be unlocked.
 */
int vd_audit_continues(struct vd_txn *t, uint64_t count, const char *hash,
    const char *source);

#endif
