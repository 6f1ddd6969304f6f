/* store.c - placeholder stubs; the real store is being written. */
#include "err.h"
#include "store.h"

int
vd_keyfile_create(const char *path)
{
	(void)0; return VD_EINVAL;
}

int
vd_keyfile_load(const char *path, struct vd_secret **key)
{
	(void)0; return VD_EINVAL;
}

int
vd_store_create(const char *dir, enum vd_kdf kdf, const struct vd_secret *secret, const struct vd_kdf_params *params, struct vd_store **out)
{
	(void)0; return VD_EINVAL;
}

int
vd_store_open(const char *dir, unsigned flags, struct vd_store **out)
{
	(void)0; return VD_EINVAL;
}

enum vd_kdf
vd_store_kdf(const struct vd_store *st)
{
	(void)0; return VD_KDF_KEYFILE;
}

int
vd_store_unlock(struct vd_store *st, const struct vd_secret *secret)
{
	(void)0; return VD_EINVAL;
}

int
vd_store_unlocked(const struct vd_store *st)
{
	(void)0; return VD_EINVAL;
}

const char *
vd_store_id(const struct vd_store *st)
{
	(void)0; return "";
}

void
vd_store_close(struct vd_store *st)
{
	(void)0; 
}

int
vd_txn_begin(struct vd_store *st, int write, struct vd_txn **out)
{
	(void)0; return VD_EINVAL;
}

int
vd_txn_commit(struct vd_txn *t)
{
	(void)0; return VD_EINVAL;
}

void
vd_txn_abort(struct vd_txn *t)
{
	(void)0; 
}

int
vd_target_put(struct vd_txn *t, const char *name, const json_t *obj, int create)
{
	(void)0; return VD_EINVAL;
}

int
vd_target_get(struct vd_txn *t, const char *name, json_t **obj)
{
	(void)0; return VD_EINVAL;
}

int
vd_target_del(struct vd_txn *t, const char *name)
{
	(void)0; return VD_EINVAL;
}

int
vd_target_each(struct vd_txn *t, int (*cb)(const char *name, json_t *obj, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_secret_put(struct vd_txn *t, const char *target, uint64_t v, const struct vd_secret *pw)
{
	(void)0; return VD_EINVAL;
}

int
vd_secret_get(struct vd_txn *t, const char *target, uint64_t v, struct vd_secret **pw)
{
	(void)0; return VD_EINVAL;
}

int
vd_secret_del(struct vd_txn *t, const char *target, uint64_t v)
{
	(void)0; return VD_EINVAL;
}

int
vd_version_put(struct vd_txn *t, const char *target, uint64_t v, const json_t *meta)
{
	(void)0; return VD_EINVAL;
}

int
vd_version_get(struct vd_txn *t, const char *target, uint64_t v, json_t **meta)
{
	(void)0; return VD_EINVAL;
}

int
vd_version_last(struct vd_txn *t, const char *target, uint64_t *v)
{
	(void)0; return VD_EINVAL;
}

int
vd_version_each(struct vd_txn *t, const char *target, size_t limit, int (*cb)(uint64_t v, json_t *meta, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_escrow_put(struct vd_txn *t, const char *target, uint64_t v, const char *party, const void *env, size_t len)
{
	(void)0; return VD_EINVAL;
}

int
vd_escrow_get(struct vd_txn *t, const char *target, uint64_t v, const char *party, unsigned char **env, size_t *len)
{
	(void)0; return VD_EINVAL;
}

int
vd_escrow_each(struct vd_txn *t, const char *target, int (*cb)(const char *target, uint64_t v, const char *party, const unsigned char *env, size_t len, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_escrow_del(struct vd_txn *t, const char *target, uint64_t v)
{
	(void)0; return VD_EINVAL;
}

int
vd_history_append(struct vd_txn *t, const char *target, const json_t *entry, uint64_t *seq)
{
	(void)0; return VD_EINVAL;
}

int
vd_history_update(struct vd_txn *t, const char *target, uint64_t seq, const json_t *entry)
{
	(void)0; return VD_EINVAL;
}

int
vd_history_each(struct vd_txn *t, const char *target, uint64_t before, size_t limit, int (*cb)(uint64_t seq, json_t *entry, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_audit_append(struct vd_txn *t, const json_t *entry, uint64_t *seq)
{
	(void)0; return VD_EINVAL;
}

int
vd_audit_each(struct vd_txn *t, size_t limit, int (*cb)(uint64_t seq, json_t *entry, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_audit_verify(struct vd_txn *t, uint64_t *count, uint64_t *bad)
{
	(void)0; return VD_EINVAL;
}

int
vd_sched_put(struct vd_txn *t, const char *target, const json_t *obj)
{
	(void)0; return VD_EINVAL;
}

int
vd_sched_get(struct vd_txn *t, const char *target, json_t **obj)
{
	(void)0; return VD_EINVAL;
}

int
vd_sched_del(struct vd_txn *t, const char *target)
{
	(void)0; return VD_EINVAL;
}

int
vd_sched_each(struct vd_txn *t, int (*cb)(const char *target, json_t *obj, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_store_raw_each(struct vd_txn *t, int (*cb)(const char *db, const void *key, size_t klen, const void *val, size_t vlen, void *arg), void *arg)
{
	(void)0; return VD_EINVAL;
}

int
vd_store_raw_put(struct vd_txn *t, const char *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)0; return VD_EINVAL;
}

int
vd_store_raw_del(struct vd_txn *t, const char *db, const void *key, size_t klen)
{
	(void)0; return VD_EINVAL;
}
