/*
 * vverify.h - verification of a whole data directory (issue 14 item 7):
 * every page LMDB could follow and every record a break-glass could need,
 * so a damaged data.mdb is found and named before anything relies on it.
 *
 * Used by `vaultctl audit verify --full` (offline, on a data directory or
 * a backup of one) and by vaultd at start-up, before it opens the store.
 * Both run it in a child process: the page walk reads the file without
 * LMDB, but the record walk goes through LMDB, and a damage the page walk
 * missed must end the child, not the caller.
 *
 * Stages, in order; the first failure stops the walk:
 *   pages     data.mdb's page structure (storage/pagewalk.h)
 *   open      the environment and the meta record (read-only)
 *   unlock    the data key, when a key is given
 *   records   every record read through LMDB (every leaf and overflow
 *             page); with the key, every sealed record opens in its place
 *   escrow    every envelope parses, its signature verifies, it sits
 *             where it says, and all are signed by one vault key (the
 *             vault's own with the key, else the pin when one is given)
 *   audit     the audit log's hash chain up to its head (with the key)
 *   anchor    not older than the freshness anchor (with the key; a
 *             missing anchor file is reported, not an error)
 */
#ifndef VD_VVERIFY_H
#define VD_VVERIFY_H

#include <stdint.h>

#include "escrow.h"
#include "mem.h"
#include "pagewalk.h"
#include "store.h"

/* What the walk found (filled as far as it got). */
struct vd_vverify {
	struct vd_pagewalk pages;	/* the page walk's summary */
	int		 unlocked;	/* records opened with the key */
	uint64_t	 records;	/* records read */
	uint64_t	 envelopes;	/* escrow envelopes checked */
	char		 signer[VD_ESCROW_FPLEN + 1];	/* their vault key */
	uint64_t	 audit;		/* audit entries in the chain */
	int		 anchor;	/* 1: checked against the anchor file;
					 * 0: there is none; -1: not checked */
	const char	*stage;		/* stage that failed, or NULL */
};

/*
 * Verifies the vault in dir.  key: the root key (key-file vault) or
 * passphrase, or NULL to check only what needs no key (pages, records
 * read, envelopes against pin).  pin: a vault key fingerprint the
 * envelopes must carry, or NULL.  anchor: the anchor file, NULL for the
 * default (dir + ".anchor").  Returns 0 when all is well; otherwise the
 * error of the first failing stage (out->stage), with a detail naming what
 * is damaged: VD_ECORRUPT (damaged), VD_ECHAIN (audit chain or anchor),
 * VD_EBADKEY (the key does not open the vault), or another code when the
 * directory cannot be read at all.
 */
int vd_vverify(const char *dir, const struct vd_secret *key, const char *pin,
    const char *anchor, struct vd_vverify *out);

/*
 * The parts of vd_vverify(), for a caller that opens the store itself
 * between them: the page walk of dir/data.mdb (stage "pages"; resets
 * *out), then the stages from "records" on over st, an open store
 * (unlocked: everything; sealed: what needs no key).  Same returns.
 */
int vd_vverify_pages(const char *dir, struct vd_vverify *out);
int vd_vverify_store(struct vd_store *st, const char *pin,
    struct vd_vverify *out);

/*
 * Runs vd_vverify() in a child process and returns what it found.  A child
 * killed by a signal (LMDB sent outside the map, or into an assertion, by
 * damage the page walk did not see) gives VD_ECORRUPT with a detail naming
 * DIR/data.mdb; out->stage is then the stage it was in, as far as known.
 * The child inherits vd_mem_init()'s settings (no core file).
 */
int vd_vverify_child(const char *dir, const struct vd_secret *key,
    const char *pin, const char *anchor, struct vd_vverify *out);

#endif
