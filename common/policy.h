/*
 * policy.h - password policies: named rule sets, a uniform generator and a
 * checker (issue 3; docs/policy.md describes every key).
 *
 * A policy set holds the built-in policy "default" (20 characters, all four
 * classes at least once, quotes, backslash, backtick, whitespace, '#' and ';'
 * excluded, no run of 3, years refused, zxcvbn guessability >= 64 bits) plus
 * the policies named in `[policy NAME]` sections of the configuration.
 *
 * Config interface (the daemon parses vaultd.conf itself and delegates):
 *
 *	vd_policyset_new(&ps);
 *	for each key = value in a [policy NAME] section:
 *		r = vd_policyset_set(ps, NAME, key, value);
 *		(on error: report file:line and vd_err_detail())
 *	r = vd_policyset_finalize(ps);	(refuses unsatisfiable policies)
 *	p = vd_policyset_get(ps, "default");
 *	vd_policy_generate(p, &pw);	(pw: struct vd_secret, wipe with
 *					 vd_secret_free)
 *	vd_policyset_free(ps);
 *
 * The first vd_policyset_set() for a NAME creates the policy from the
 * built-in defaults; `[policy default]` adjusts the built-in one.  A policy
 * changed after vd_policyset_finalize() must be finalized again before it
 * generates or checks (VD_EINVAL otherwise).  A finalized set is read-only
 * and may be shared between threads.
 *
 * Every function returning int returns 0 or a negative VD_E* code, with a
 * detail in vd_err_detail().  No detail and no "why" text ever contains a
 * candidate password or any part of it.
 */
#ifndef VD_POLICY_H
#define VD_POLICY_H

#include <stddef.h>

#include <jansson.h>

#include "mem.h"

#define VD_POLICY_LEN_MAX	256	/* longest generated or checked password */
#define VD_POLICY_LEN_MIN	4	/* shortest "length" a policy may set */
/* Fuzz builds lower both (CMakeLists.txt), or a near-impossible policy
 * costs each input 11,000 draws; the logic is the same. */
#ifndef VD_POLICY_MAX_DRAWS
#define VD_POLICY_MAX_DRAWS	10000	/* redraw bound of vd_policy_generate */
#endif
#ifndef VD_POLICY_TRIAL_DRAWS
#define VD_POLICY_TRIAL_DRAWS	1000	/* draws tried by finalize */
#endif
#define VD_POLICY_DENY_MIN	3	/* shortest deny-word (letters+digits) */
#define VD_POLICY_WHY_MAX	512	/* a buffer that holds any "why" text */

struct vd_policy;
struct vd_policyset;

/*
 * Creates a policy set holding the finalized built-in "default".  On
 * success *out owns it (free with vd_policyset_free()).  Returns 0 or
 * VD_ENOMEM.
 */
int vd_policyset_new(struct vd_policyset **out);

/* Frees ps and every policy in it; NULL-safe. */
void vd_policyset_free(struct vd_policyset *ps);

/*
 * Sets key = value in policy policy_name of ps, creating the policy from the
 * built-in defaults on first use.  Keys (docs/policy.md): length, min_upper,
 * min_lower, min_digit, min_special, special, exclude, exclude_add,
 * deny_words, years, max_run, max_steps, min_guess_bits, and the
 * pwquality.conf keys
 * minlen, minclass, maxrepeat, maxsequence, maxclassrepeat, badwords,
 * dictcheck, pwquality_conf.  Returns 0, or VD_EINVAL with a detail for a bad policy
 * name, an unknown key or a bad value (the caller adds file:line), or
 * VD_ENOMEM.
 */
int vd_policyset_set(struct vd_policyset *ps, const char *policy_name,
    const char *key, const char *value);

/*
 * Validates every policy of ps that changed since it was last finalized:
 * static contradictions (length below the sum of class minimums, a required
 * class with no character left, guessability beyond the policy's entropy …)
 * and a trial of up to VD_POLICY_TRIAL_DRAWS draws, which must produce a
 * password meeting every rule.  Returns 0, or VD_EPOLICY with a detail
 * naming the first refused policy and why (that policy stays unusable).
 */
int vd_policyset_finalize(struct vd_policyset *ps);

/*
 * Reads the INI file at path (inih) and hands every key of each
 * `[policy NAME]` section to vd_policyset_set(); other sections are
 * ignored.  Does not finalize.  Returns 0, -errno when the file cannot be
 * opened, or VD_EINVAL with a detail "path:line: ..." for the first bad
 * line.
 */
int vd_policyset_load_file(struct vd_policyset *ps, const char *path);

/* Returns policy name of ps (borrowed), or NULL when there is none. */
const struct vd_policy *vd_policyset_get(const struct vd_policyset *ps,
    const char *name);

/*
 * Calls cb for each policy of ps in creation order ("default" first); a
 * non-zero return from cb stops the walk and is returned.
 */
int vd_policyset_each(const struct vd_policyset *ps,
    int (*cb)(const struct vd_policy *p, void *arg), void *arg);

/* Returns the policy's name (borrowed). */
const char *vd_policy_name(const struct vd_policy *p);

/* Returns the policy's generated length. */
size_t vd_policy_length(const struct vd_policy *p);

/*
 * Generates a password meeting every rule of p: each character drawn
 * uniformly (randombytes_uniform, no modulo bias) from the policy's
 * alphabet, the whole candidate redrawn when it breaks any rule, at most
 * VD_POLICY_MAX_DRAWS times.  On success *out owns a NUL-terminated
 * secret of vd_policy_length(p) bytes.  Returns 0, VD_EINVAL (policy not
 * finalized), VD_ENOMEM, or VD_EPOLICY when no draw passed.
 */
int vd_policy_generate(const struct vd_policy *p, struct vd_secret **out);

/*
 * Like vd_policy_generate() but fills the caller's secret s (capacity at
 * least vd_policy_length(p)), so a loop need not pay for a secure
 * allocation per password.  s->len is the length on success, 0 on failure
 * (and the buffer wiped).
 */
int vd_policy_generate_into(const struct vd_policy *p, struct vd_secret *s);

/*
 * Checks the candidate pw (len bytes, need not be NUL-terminated) against
 * every rule of p.  Returns 0 when it passes; VD_EPOLICY when it breaks
 * rules, with why (when whylen > 0) holding "; "-separated items, each
 * starting with the rule's name: length, upper, lower, digit, special,
 * excluded-char, deny-word, year, sequence, repeat, keyboard-walk, steps,
 * guessability, pwquality.  why never contains the candidate or any part
 * of it.  VD_EINVAL when p is not finalized.
 */
int vd_policy_check(const struct vd_policy *p, const char *pw, size_t len,
    char *why, size_t whylen);

/*
 * Returns the entropy in bits of a password generated by p: log2 of the
 * number of strings of its length over its alphabet that meet the class
 * minimums (exact).  The remaining rules remove a further few percent of
 * those strings, so this is an upper bound, tight to about 0.2 bit for the
 * default policy.
 */
double vd_policy_entropy_bits(const struct vd_policy *p);

/*
 * Returns the effective policy as a new JSON object (caller decrefs), or
 * NULL on allocation failure: name, length, the class minimums, special,
 * exclude, alphabet, alphabet_size, deny_words, years, max_run,
 * max_steps, min_guess_bits, pwquality (object or null), entropy_bits.
 */
json_t *vd_policy_to_json(const struct vd_policy *p);

#endif
