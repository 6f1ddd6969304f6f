/*
 * bundle_index.h - the signed index and audit checkpoint of an escrow
 * bundle (issue 14 items 1 and 2).
 *
 * A bundle's envelopes are each signed by the vault, but a bundle is a
 * list anyone holding it can edit: drop the newest version (break-glass
 * then opens an older password), put back a genuine envelope of an older
 * sealing, or add envelopes from another bundle.  The index, signed by the
 * vault's escrow signing key (the key parties pin), names every envelope
 * the bundle held when it was exported — target, version, the version's
 * state, party and the BLAKE2b-256 hash of the envelope's bytes — with the
 * export time and an audit checkpoint (the audit log's entry count and
 * head hash then).  Break-glass compares the bundle with its index;
 * `vaultctl audit verify --checkpoint` compares a data directory's audit
 * log with the checkpoint, which an attacker holding only the data
 * directory (and the anchor file beside it) cannot move.
 *
 * Formats (docs/escrow.md, "Formats"); integers big-endian:
 *
 *   bundle v2: "VDBUNDL2" | u32 len | index[len] | bundle v1
 *   index:     "VDINDEX1" | vault signing pk[32] | i64 exported |
 *              u64 audit count | audit head[32] | u32 n |
 *              n x (u8 len, target | u64 version | u8 state |
 *                   u8 len, party | envelope hash[32]) |
 *              Ed25519 signature[64] over "vaultd-index-sig-v1\0" ||
 *              every byte before it
 *
 * Entries are strictly ascending by (target, version, party) in byte
 * order, so an index has no duplicates and is searched in O(log n).
 *
 * Every function returns 0 or a negative VD_E* code with a detail through
 * vd_err_set() (no secret is involved anywhere here).
 */
#ifndef VD_BUNDLE_INDEX_H
#define VD_BUNDLE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "escrow.h"
#include "store.h"

#define VD_BINDEX_HASHBYTES	32	/* envelope hash, audit head */
#define VD_BINDEX_MAXENTRIES	1000000u	/* as a bundle's envelopes */

/* A version's state as the index records it (vaultd/state.h's names). */
enum vd_bindex_state {
	VD_BIS_UNKNOWN = 0,	/* no version record (or an unknown state) */
	VD_BIS_PENDING = 1,
	VD_BIS_CURRENT = 2,
	VD_BIS_PREVIOUS = 3,
	VD_BIS_RETIRED = 4,
	VD_BIS_FAILED = 5,
};

/* One indexed envelope. */
struct vd_bindex_entry {
	char		 target[VD_NAME_MAX + 1];	/* target name */
	uint64_t	 version;			/* version number */
	unsigned	 state;				/* enum vd_bindex_state */
	char		 party[VD_NAME_MAX + 1];	/* party slot */
	unsigned char	 hash[VD_BINDEX_HASHBYTES];	/* of the envelope */
};

/* A parsed index whose signature verified (against its own key). */
struct vd_bindex {
	unsigned char	 pk[VD_ESCROW_PKBYTES];	/* vault signing key */
	char		 fp[VD_ESCROW_FPLEN + 1];	/* its fingerprint */
	int64_t		 exported;		/* export time, epoch s */
	uint64_t	 audit_count;		/* checkpoint: entries */
	char		 audit_hash[2 * VD_BINDEX_HASHBYTES + 1];
						/* checkpoint: head, hex */
	struct vd_bindex_entry *e;		/* malloc'd, sorted */
	size_t		 n;			/* entries in e */
};

/* Returns the state's name ("pending" …, "unknown"). */
const char *vd_bindex_state_name(unsigned state);

/*
 * Builds a version 2 bundle of every envelope in t (reports excluded),
 * with its index signed by st's vault key and the audit head in t as the
 * checkpoint, exported at time now.  st must be unlocked.  *buf
 * (malloc'd, caller frees) gets *len bytes.
 */
int vd_bundle_build(struct vd_store *st, struct vd_txn *t, int64_t now,
    unsigned char **buf, size_t *len);

/*
 * Parses an index (bytes p of len) into *out and checks its signature
 * against the key it carries (which key to trust is the caller's
 * question: compare out->fp with the pin).  Returns VD_EINVAL for a
 * malformed index or entries out of order, VD_ECORRUPT when the
 * signature fails.  Free with vd_bindex_free().
 */
int vd_bindex_parse(const unsigned char *p, size_t len,
    struct vd_bindex **out);

/* Frees ix; NULL-safe. */
void vd_bindex_free(struct vd_bindex *ix);

/*
 * Parses a bundle file's bytes (version 1 or 2) into set; *ix gets the
 * index of a version 2 bundle, NULL for a version 1 bundle (which has
 * none).  VD_EINVAL / VD_ECORRUPT as the parsers say.
 */
int vd_bundle_parse(const unsigned char *buf, size_t len,
    struct vd_escrow_set *set, struct vd_bindex **ix);

/*
 * Checks target's envelopes in set (the bundle ix came with) against ix:
 * ix signed by the trusted vault key pin (NULL: not checked here), every
 * envelope of target in set indexed once with the same hash, and every
 * indexed envelope of target present.  Returns 0, or VD_ECORRUPT with a
 * detail naming what differs: an index signed by another key, a version
 * not in the index (planted), an envelope whose hash differs (swapped or
 * altered), an envelope given twice, an indexed version missing (hidden).
 */
int vd_bindex_check(const struct vd_bindex *ix,
    const struct vd_escrow_set *set, const char *target, const char *pin);

/*
 * Finds the indexed state of target's version; VD_BIS_UNKNOWN when the
 * version is not in ix.
 */
unsigned vd_bindex_state(const struct vd_bindex *ix, const char *target,
    uint64_t version);

/*
 * Checks that the audit log in t continues the checkpoint of ix: it has
 * at least ix->audit_count entries and entry ix->audit_count hashes to
 * ix->audit_hash.  Returns 0, or VD_ECHAIN with a detail naming the
 * missing entries or the replaced one.  The caller has checked who
 * signed ix; t's store must be unlocked.
 */
int vd_bindex_checkpoint(const struct vd_bindex *ix, struct vd_txn *t);

#endif
