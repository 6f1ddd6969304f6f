/*
 * policy.c - password policies: parsing, validation, generation, checks.
 *
 * The only code that includes <zxcvbn.h>, <pwquality.h> and <ini.h>.
 *
 * Rules are checked cheapest first (classes, runs, years, deny-words, then
 * libpwquality, then zxcvbn), so a rejected draw costs little; zxcvbn runs
 * once per accepted password and dominates the cost (bench/bench_policy.c).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <pwquality.h>
#include <sodium.h>
#include <zxcvbn.h>

#include "err.h"
#include "mem.h"
#include "policy.h"
#include "util.h"

enum { CL_UPPER, CL_LOWER, CL_DIGIT, CL_SPECIAL, CL_N };
#define CL_NONE		0xff	/* byte outside the policy's alphabet */

#define DENY_MAX	256	/* deny-words per policy */
#define DENY_LEN_MAX	64	/* longest deny-word */
#define GUESS_MAX	1000	/* largest min_guess_bits */
#define DEFAULT_GUESS	64	/* default min_guess_bits */
#define DEFAULT_LENGTH	20	/* default length */
#define DEFAULT_MAX_RUN	2	/* default max_run: no run of 3 */
#define DEFAULT_MAX_STEPS 4	/* default max_steps: cracklib's MAXSTEP */

static const char *const class_names[CL_N] = {
	"upper", "lower", "digit", "special"
};

/* Which rule a candidate broke: bits of struct report.fail. */
enum {
	R_LENGTH, R_UPPER, R_LOWER, R_DIGIT, R_SPECIAL, R_EXCLUDED, R_DENY,
	R_YEAR, R_SEQUENCE, R_REPEAT, R_WALK, R_STEPS, R_PWQUALITY, R_GUESS,
	R_N
};

static const char *const rule_names[R_N] = {
	"length", "upper", "lower", "digit", "special", "excluded-char",
	"deny-word", "year", "sequence", "repeat", "keyboard-walk", "steps",
	"pwquality", "guessability"
};

/* The outcome of checking one candidate; holds no part of it. */
struct report {
	unsigned	 fail;		/* bit (1 << R_*) per broken rule */
	size_t		 len;		/* candidate length */
	size_t		 count[CL_N];	/* characters per class */
	double		 guess_bits;	/* zxcvbn estimate, when computed */
	int		 pwq_err;	/* libpwquality error code */
	char		 pwq_msg[PWQ_MAX_ERROR_MESSAGE_LEN]; /* its message */
};

/* libpwquality settings that a policy may set; -1 is "not set". */
struct pwq_opts {
	int		 enabled;	/* any pwquality key given */
	int		 minlen;	/* pwquality minlen */
	int		 minclass;	/* pwquality minclass */
	int		 maxrepeat;	/* pwquality maxrepeat */
	int		 maxsequence;	/* pwquality maxsequence */
	int		 maxclassrepeat; /* pwquality maxclassrepeat */
	int		 dictcheck;	/* pwquality dictcheck */
	char		*badwords;	/* pwquality badwords, or NULL */
	char		*conf;		/* pwquality.conf path read first */
};

struct vd_policy {
	char		 name[VD_NAME_MAX + 1];	/* policy name */
	size_t		 length;	/* generated length, minimum checked */
	unsigned	 min[CL_N];	/* per-class minimum counts */
	unsigned char	 special[128];	/* 1: byte is a special character */
	unsigned char	 exclude[128];	/* 1: byte is excluded */
	char		*deny[DENY_MAX + 1];	/* normalised deny-words, NULL-ended */
	size_t		 ndeny;		/* entries in deny */
	int		 years;		/* refuse 19xx / 20xx */
	unsigned	 max_run;	/* longest sequence/repeat/walk allowed */
	unsigned	 max_steps;	/* most adjacent pairs one apart */
	unsigned	 min_guess_bits; /* zxcvbn minimum, bits */
	struct pwq_opts	 pwq;		/* pwquality.conf vocabulary */

	/* Computed by finalize. */
	int		 finalized;	/* usable for generate/check */
	pwquality_settings_t *pwqs;	/* built from pwq, or NULL */
	char		 alpha[96];	/* the alphabet, in byte order */
	size_t		 nalpha;	/* characters in alpha */
	size_t		 ncls[CL_N];	/* alphabet characters per class */
	unsigned char	 cls[256];	/* class of each byte, or CL_NONE */
	unsigned	 per_draw;	/* characters per randombytes_uniform */
	uint32_t	 draw_bound;	/* nalpha ^ per_draw */
	double		 entropy;	/* bits, see vd_policy_entropy_bits */
};

struct vd_policyset {
	struct vd_policy **pol;	/* policies, "default" first */
	size_t		 n;		/* entries in pol */
};

/* libpwquality (cracklib) keeps static state: one caller at a time. */
static pthread_mutex_t pwq_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- character tables ------------------------------------------------ */

/* Class of an ASCII byte by kind, whatever the policy: CL_NONE if none. */
static int
byte_kind(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return CL_UPPER;
	if (c >= 'a' && c <= 'z')
		return CL_LOWER;
	if (c >= '0' && c <= '9')
		return CL_DIGIT;
	if (c >= 0x21 && c <= 0x7e)
		return CL_SPECIAL;
	return CL_NONE;
}

/*
 * Letters a byte may stand for in a deny-word (bit n: 'a' + n): itself,
 * case-insensitively, and the common substitutions.
 */
static uint32_t
leet_mask(unsigned char c)
{
#define L(x)	((uint32_t)1 << ((x) - 'a'))
	if (c >= 'a' && c <= 'z')
		return L(c);
	if (c >= 'A' && c <= 'Z')
		return L(c - 'A' + 'a');
	switch (c) {
	case '0':
		return L('o');
	case '1':
	case '!':
	case '|':
		return L('i') | L('l');
	case '@':
	case '4':
		return L('a');
	case '$':
	case '5':
		return L('s');
	case '3':
		return L('e');
	case '7':
	case '+':
		return L('t');
	case '8':
		return L('b');
	case '6':
	case '9':
		return L('g');
	default:
		return 0;
	}
#undef L
}

/* A byte skipped between the letters of a deny-word ("C.M.B"). */
static int
is_separator(unsigned char c)
{
	return !isalnum(c) && leet_mask(c) == 0;
}

/* Does byte c stand for deny-word character w (lower-case letter/digit)? */
static int
deny_char_match(unsigned char c, char w)
{
	if (w >= 'a' && w <= 'z')
		return (leet_mask(c) & ((uint32_t)1 << (w - 'a'))) != 0;
	return c == (unsigned char)w;
}

/* Keyboard positions by byte, built once (key_pos). */
static int keytab[256];
static pthread_once_t keytab_once = PTHREAD_ONCE_INIT;

static void
keytab_init(void)
{
	static const char *const rows[] = {
		"`1234567890-=", "~!@#$%^&*()_+",
		"qwertyuiop[]\\", "QWERTYUIOP{}|",
		"asdfghjkl;'", "ASDFGHJKL:\"",
		"zxcvbnm,./", "ZXCVBNM<>?",
	};

	for (size_t c = 0; c < 256; c++)
		keytab[c] = -1;
	for (size_t i = 0; i < VD_NELEM(rows); i++)
		for (const char *p = rows[i]; *p; p++)
			keytab[(unsigned char)*p] = (int)(i / 2) * 16 +
			    (int)(p - rows[i]);
}

/*
 * Keyboard position of a byte on a US layout: row * 16 + column, shifted
 * and unshifted alike; -1 when not on the four main rows.
 */
static int
key_pos(unsigned char c)
{
	return keytab[c];
}

/* Position in a sequence domain: letters 0..25, digits 100..109, else -1. */
static int
seq_pos(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '0' && c <= '9')
		return 100 + c - '0';
	return -1;
}

/* --- checking -------------------------------------------------------- */

/*
 * Returns the length of the longest run in pw where each step moves by +1
 * or by -1 (the same way throughout) under pos(); a run of one character
 * is 1.
 */
static size_t
longest_step_run(const unsigned char *pw, size_t len, int (*pos)(unsigned char))
{
	size_t best = len > 0 ? 1 : 0, run = 1;
	int dir = 0;

	for (size_t i = 1; i < len; i++) {
		int a = pos(pw[i - 1]), b = pos(pw[i]);
		int d = (a >= 0 && b >= 0) ? b - a : 0;

		if (d != 1 && d != -1) {
			run = 1;
			dir = 0;
			continue;
		}
		if (d == dir)
			run++;
		else {
			run = 2;
			dir = d;
		}
		if (run > best)
			best = run;
	}
	return best;
}

/* Longest run of one character, letters compared case-insensitively. */
static size_t
longest_repeat(const unsigned char *pw, size_t len)
{
	size_t best = len > 0 ? 1 : 0, run = 1;

	for (size_t i = 1; i < len; i++) {
		if (tolower(pw[i]) == tolower(pw[i - 1])) {
			if (++run > best)
				best = run;
		} else
			run = 1;
	}
	return best;
}

/*
 * Counts adjacent pairs whose lower-cased bytes are one apart in ASCII, as
 * cracklib's "it is too simplistic/systematic" test does (FascistLook,
 * MAXSTEP 4), which MariaDB's cracklib_password_check and pam_pwquality
 * apply: about 2 in 10,000 uniform 20-character draws have more than 4.
 */
static size_t
count_steps(const unsigned char *pw, size_t len)
{
	size_t n = 0;

	for (size_t i = 1; i < len; i++) {
		int a = tolower(pw[i - 1]), b = tolower(pw[i]);

		if (b == a + 1 || b == a - 1)
			n++;
	}
	return n;
}

/* 1 when pw holds a four-digit 19xx or 20xx. */
static int
has_year(const unsigned char *pw, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i++) {
		if (!isdigit(pw[i + 2]) || !isdigit(pw[i + 3]))
			continue;
		if ((pw[i] == '1' && pw[i + 1] == '9') ||
		    (pw[i] == '2' && pw[i + 1] == '0'))
			return 1;
	}
	return 0;
}

/* 1 when deny-word w occurs in pw (substitutions, separators skipped). */
static int
has_word(const unsigned char *pw, size_t len, const char *w)
{
	for (size_t s = 0; s < len; s++) {
		size_t i = s, j = 0;

		if (!deny_char_match(pw[s], w[0]))
			continue;
		for (j = 1, i = s + 1; w[j] != '\0' && i < len; i++) {
			if (deny_char_match(pw[i], w[j]))
				j++;
			else if (!is_separator(pw[i]))
				break;
		}
		if (w[j] == '\0')
			return 1;
	}
	return 0;
}

/*
 * Checks pw (NUL-terminated at pw[len] when len <= VD_POLICY_LEN_MAX)
 * against p into rep.  With all == 0, stops at the first broken rule (the
 * generator's redraw path).  Returns 0 when every rule passes.
 */
static int
check_rules(const struct vd_policy *p, const unsigned char *pw, size_t len,
    struct report *rep, int all)
{
	pthread_once(&keytab_once, keytab_init);
	memset(rep, 0, sizeof(*rep));
	rep->len = len;
	if (len < p->length || len > VD_POLICY_LEN_MAX) {
		rep->fail |= 1u << R_LENGTH;
		if (!all)
			return -1;
	}
	for (size_t i = 0; i < len; i++) {
		int k = byte_kind(pw[i]);

		if (k != CL_NONE)
			rep->count[k]++;
		if (p->cls[pw[i]] == CL_NONE)
			rep->fail |= 1u << R_EXCLUDED;
	}
	for (int k = 0; k < CL_N; k++)
		if (rep->count[k] < p->min[k])
			rep->fail |= 1u << (R_UPPER + k);
	if (rep->fail && !all)
		return -1;
	if (longest_repeat(pw, len) > p->max_run)
		rep->fail |= 1u << R_REPEAT;
	if (longest_step_run(pw, len, seq_pos) > p->max_run)
		rep->fail |= 1u << R_SEQUENCE;
	if (longest_step_run(pw, len, key_pos) > p->max_run)
		rep->fail |= 1u << R_WALK;
	if (count_steps(pw, len) > p->max_steps)
		rep->fail |= 1u << R_STEPS;
	if (p->years && has_year(pw, len))
		rep->fail |= 1u << R_YEAR;
	if (rep->fail && !all)
		return -1;
	for (size_t i = 0; i < p->ndeny; i++)
		if (has_word(pw, len, p->deny[i])) {
			rep->fail |= 1u << R_DENY;
			break;
		}
	if (rep->fail && !all)
		return -1;
	/* The libraries need a NUL-terminated, bounded string. */
	if (len > VD_POLICY_LEN_MAX)
		return -1;
	if (p->pwqs != NULL) {
		void *aux = NULL;
		int r;

		pthread_mutex_lock(&pwq_lock);
		r = pwquality_check(p->pwqs, (const char *)pw, NULL, NULL, &aux);
		if (r < 0) {
			rep->fail |= 1u << R_PWQUALITY;
			rep->pwq_err = r;
			/* Fixed texts with numbers; never the candidate. */
			pwquality_strerror(rep->pwq_msg, sizeof(rep->pwq_msg), r,
			    aux);
		}
		pthread_mutex_unlock(&pwq_lock);
		if (rep->fail && !all)
			return -1;
	}
	rep->guess_bits = ZxcvbnMatch((const char *)pw,
	    (const char **)p->deny, NULL);
	if (rep->guess_bits < (double)p->min_guess_bits)
		rep->fail |= 1u << R_GUESS;
	return rep->fail ? -1 : 0;
}

/* Appends "; " (unless first) and a formatted item to why; truncates. */
static void __attribute__((format(printf, 3, 4)))
why_add(char *why, size_t whylen, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;
	int n;

	if (used + 1 >= whylen)
		return;
	if (used > 0) {
		n = snprintf(why + used, whylen - used, "; ");
		if (n < 0 || (size_t)n >= whylen - used)
			return;
		used += (size_t)n;
	}
	va_start(ap, fmt);
	n = vsnprintf(why + used, whylen - used, fmt, ap);
	va_end(ap);
	if ((n < 0 || (size_t)n >= whylen - used) && whylen >= 4)
		memcpy(why + whylen - 4, "...", 4);
}

/* Writes the broken rules of rep into why (nothing from the candidate). */
static void
report_format(const struct vd_policy *p, const struct report *rep,
    char *why, size_t whylen)
{
	if (whylen == 0)
		return;
	why[0] = '\0';
	if (rep->fail & (1u << R_LENGTH)) {
		if (rep->len > VD_POLICY_LEN_MAX)
			why_add(why, whylen, "length: longer than %d characters",
			    VD_POLICY_LEN_MAX);
		else
			why_add(why, whylen, "length: %zu < %zu characters",
			    rep->len, p->length);
	}
	for (int k = 0; k < CL_N; k++)
		if (rep->fail & (1u << (R_UPPER + k)))
			why_add(why, whylen, "%s: %zu < %u", class_names[k],
			    rep->count[k], p->min[k]);
	if (rep->fail & (1u << R_EXCLUDED))
		why_add(why, whylen, "excluded-char: a character outside "
		    "the policy's alphabet");
	if (rep->fail & (1u << R_DENY))
		why_add(why, whylen, "deny-word: contains a deny-word");
	if (rep->fail & (1u << R_YEAR))
		why_add(why, whylen, "year: contains a year (19xx/20xx)");
	if (rep->fail & (1u << R_SEQUENCE))
		why_add(why, whylen, "sequence: a run longer than %u "
		    "(abc, 321)", p->max_run);
	if (rep->fail & (1u << R_REPEAT))
		why_add(why, whylen, "repeat: a character repeated more than "
		    "%u times", p->max_run);
	if (rep->fail & (1u << R_WALK))
		why_add(why, whylen, "keyboard-walk: a walk longer than %u "
		    "(qwe, asd)", p->max_run);
	if (rep->fail & (1u << R_STEPS))
		why_add(why, whylen, "steps: more than %u neighbours one apart "
		    "(cracklib: too systematic)", p->max_steps);
	if (rep->fail & (1u << R_PWQUALITY))
		why_add(why, whylen, "pwquality: %s", rep->pwq_msg);
	if (rep->fail & (1u << R_GUESS))
		why_add(why, whylen, "guessability: %.0f < %u bits (zxcvbn)",
		    floor(rep->guess_bits), p->min_guess_bits);
}

/* Checks a candidate against every rule; see policy.h. */
int
vd_policy_check(const struct vd_policy *p, const char *pw, size_t len,
    char *why, size_t whylen)
{
	unsigned char buf[VD_POLICY_LEN_MAX + 1];
	struct report rep;
	int r;

	if (whylen > 0)
		why[0] = '\0';
	if (p == NULL || !p->finalized)
		return vd_err_set(VD_EINVAL, "policy not finalized");
	if (len <= VD_POLICY_LEN_MAX) {
		/* An embedded NUL breaks excluded-char (libraries see less). */
		memcpy(buf, pw, len);
		buf[len] = '\0';
		r = check_rules(p, buf, len, &rep, 1);
		sodium_memzero(buf, sizeof(buf));
	} else
		r = check_rules(p, (const unsigned char *)pw, len, &rep, 1);
	if (r == 0)
		return 0;
	report_format(p, &rep, why, whylen);
	return VD_EPOLICY;
}

/* --- generation ------------------------------------------------------ */

/* Draws one candidate of p->length characters into out (no checks). */
static void
draw(const struct vd_policy *p, unsigned char *out)
{
	uint32_t v = 0;
	size_t i = 0;

	/*
	 * randombytes_uniform(n^k) is uniform on [0, n^k), so its k base-n
	 * digits are k independent uniform draws from the alphabet: one
	 * call (one getrandom(2)) yields up to k characters.
	 */
	while (i < p->length) {
		v = randombytes_uniform(p->draw_bound);
		for (unsigned j = 0; j < p->per_draw && i < p->length; j++) {
			out[i++] = (unsigned char)p->alpha[v % p->nalpha];
			v /= (uint32_t)p->nalpha;
		}
	}
	sodium_memzero(&v, sizeof(v));
}

/*
 * Draws until a candidate passes or maxdraws is reached, in s (capacity
 * >= length).  When counts is not NULL, the rules that stopped each failed
 * draw (the first failing stage of check_rules) are counted there
 * (finalize's trial).  Returns 0 or -1.
 */
static int
generate(const struct vd_policy *p, struct vd_secret *s, unsigned maxdraws,
    unsigned counts[R_N])
{
	struct report rep;

	for (unsigned n = 0; n < maxdraws; n++) {
		draw(p, s->data);
		s->data[p->length] = '\0';
		if (check_rules(p, s->data, p->length, &rep, 0) == 0) {
			s->len = p->length;
			return 0;
		}
		for (int i = 0; counts != NULL && i < R_N; i++)
			if (rep.fail & (1u << i))
				counts[i]++;
	}
	sodium_memzero(s->data, s->cap);
	s->len = 0;
	return -1;
}

/* Generates into the caller's secret s; see policy.h. */
int
vd_policy_generate_into(const struct vd_policy *p, struct vd_secret *s)
{
	if (s == NULL)
		return vd_err_set(VD_EINVAL, "no buffer");
	s->len = 0;
	if (p == NULL || !p->finalized)
		return vd_err_set(VD_EINVAL, "policy not finalized");
	if (s->cap < p->length)
		return vd_err_set(VD_EINVAL, "buffer too small for policy %s",
		    p->name);
	if (generate(p, s, VD_POLICY_MAX_DRAWS, NULL) != 0)
		return vd_err_set(VD_EPOLICY, "no password met policy %s in %d "
		    "draws", p->name, VD_POLICY_MAX_DRAWS);
	return 0;
}

/* Generates a new secret; see policy.h.  *out owns it on success. */
int
vd_policy_generate(const struct vd_policy *p, struct vd_secret **out)
{
	struct vd_secret *s = NULL;
	int r;

	*out = NULL;
	if (p == NULL || !p->finalized) {
		r = vd_err_set(VD_EINVAL, "policy not finalized");
		goto out;
	}
	if ((s = vd_secret_new(p->length)) == NULL) {
		r = vd_err_set(VD_ENOMEM, "no secure memory for a password");
		goto out;
	}
	if ((r = vd_policy_generate_into(p, s)) != 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
 out:
	vd_secret_free(s);
	return r;
}

/* Returns the entropy computed by finalize; see policy.h. */
double
vd_policy_entropy_bits(const struct vd_policy *p)
{
	return p->entropy;
}

/* Returns p's name (borrowed). */
const char *
vd_policy_name(const struct vd_policy *p)
{
	return p->name;
}

/* Returns p's generated length. */
size_t
vd_policy_length(const struct vd_policy *p)
{
	return p->length;
}

/* --- policies and sets ----------------------------------------------- */

/* Frees p and what it owns; NULL-safe. */
static void
policy_free(struct vd_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->ndeny; i++)
		free(p->deny[i]);
	free(p->pwq.badwords);
	free(p->pwq.conf);
	if (p->pwqs != NULL)
		pwquality_free_settings(p->pwqs);
	free(p);
}

/* Returns a new policy name with the built-in defaults, or NULL. */
static struct vd_policy *
policy_new(const char *name)
{
	static const char excl[] = " \t\"'`\\#;";
	struct vd_policy *p;
	int n;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	n = snprintf(p->name, sizeof(p->name), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(p->name)) {
		free(p);
		return NULL;
	}
	p->length = DEFAULT_LENGTH;
	for (int k = 0; k < CL_N; k++)
		p->min[k] = 1;
	for (int c = 0x21; c <= 0x7e; c++)
		p->special[c] = !isalnum(c);
	for (const char *e = excl; *e; e++)
		p->exclude[(unsigned char)*e] = 1;
	p->years = 1;
	p->max_run = DEFAULT_MAX_RUN;
	p->max_steps = DEFAULT_MAX_STEPS;
	p->min_guess_bits = DEFAULT_GUESS;
	p->pwq.minlen = p->pwq.minclass = p->pwq.maxrepeat = -1;
	p->pwq.maxsequence = p->pwq.maxclassrepeat = p->pwq.dictcheck = -1;
	return p;
}

/* Returns the policy called name in ps, or NULL. */
static struct vd_policy *
set_find(const struct vd_policyset *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->pol[i]->name, name) == 0)
			return ps->pol[i];
	return NULL;
}

/* Appends a new default policy called name to ps; *out borrows it. */
static int
set_add(struct vd_policyset *ps, const char *name, struct vd_policy **out)
{
	struct vd_policy **np, *p;

	if ((p = policy_new(name)) == NULL)
		return vd_err_set(VD_ENOMEM, "out of memory");
	if ((np = realloc(ps->pol, (ps->n + 1) * sizeof(*np))) == NULL) {
		policy_free(p);
		return vd_err_set(VD_ENOMEM, "out of memory");
	}
	ps->pol = np;
	ps->pol[ps->n++] = p;
	*out = p;
	return 0;
}

/* Bits of entropy of uniform strings meeting the class minimums (exact). */
static double
class_entropy(const struct vd_policy *p)
{
	long double a[VD_POLICY_LEN_MAX + 1], b[VD_POLICY_LEN_MAX + 1];
	long double e[VD_POLICY_LEN_MAX + 1];
	size_t L = p->length;

	/*
	 * Exponential generating functions: with a[j] = g[j] / j!, where
	 * g[j] counts strings of length j over the classes seen so far that
	 * meet their minimums, adding class c is the plain convolution
	 * b[j] = sum_{k >= min_c} e[k] a[j-k], e[k] = n_c^k / k!, and
	 * g[L] = a[L] L!.  No binomials, no divisions in the inner loop;
	 * long double keeps 1/256! (about 2^-1684) and 95^256 in range.
	 */
	for (int c = 0; c < CL_N; c++) {
		e[0] = 1.0L;
		for (size_t k = 1; k <= L; k++)
			e[k] = e[k - 1] * (long double)p->ncls[c] / (long double)k;
		if (c == 0) {		/* convolution with the unit series */
			for (size_t j = 0; j <= L; j++)
				a[j] = j >= p->min[c] ? e[j] : 0.0L;
			continue;
		}
		/* The last class is needed at L only. */
		for (size_t j = c == CL_N - 1 ? L : 0; j <= L; j++) {
			long double sum = 0.0L;

			for (size_t k = p->min[c]; k <= j; k++)
				sum += e[k] * a[j - k];
			b[j] = sum;
		}
		memcpy(a, b, sizeof(a));
	}
	if (a[L] <= 0.0L)
		return 0.0;
	return (double)((log2l(a[L]) + lgammal((long double)L + 1.0L) /
	    logl(2.0L)));
}

/* Builds the alphabet, class tables and draw parameters of p. */
static void
build_alphabet(struct vd_policy *p)
{
	memset(p->cls, CL_NONE, sizeof(p->cls));
	memset(p->ncls, 0, sizeof(p->ncls));
	p->nalpha = 0;
	for (int c = 0x21; c <= 0x7e; c++) {
		int k = byte_kind((unsigned char)c);

		if (p->exclude[c] || (k == CL_SPECIAL && !p->special[c]))
			continue;
		p->cls[c] = (unsigned char)k;
		p->ncls[k]++;
		p->alpha[p->nalpha++] = (char)c;
	}
	/* Largest k with nalpha^k <= 2^32: k characters per draw. */
	p->per_draw = 1;
	p->draw_bound = (uint32_t)(p->nalpha > 0 ? p->nalpha : 1);
	if (p->nalpha >= 2) {
		uint64_t b = p->nalpha;

		while (b * p->nalpha <= UINT32_MAX) {
			b *= p->nalpha;
			p->per_draw++;
		}
		p->draw_bound = (uint32_t)b;
	}
}

/* Builds libpwquality settings for p; 0 or VD_EPOLICY with a detail. */
static int
build_pwq(struct vd_policy *p)
{
	static const struct {
		int	 setting;
		size_t	 off;
	} ints[] = {
		{ PWQ_SETTING_MIN_LENGTH, offsetof(struct pwq_opts, minlen) },
		{ PWQ_SETTING_MIN_CLASS, offsetof(struct pwq_opts, minclass) },
		{ PWQ_SETTING_MAX_REPEAT, offsetof(struct pwq_opts, maxrepeat) },
		{ PWQ_SETTING_MAX_SEQUENCE,
		    offsetof(struct pwq_opts, maxsequence) },
		{ PWQ_SETTING_MAX_CLASS_REPEAT,
		    offsetof(struct pwq_opts, maxclassrepeat) },
		{ PWQ_SETTING_DICT_CHECK, offsetof(struct pwq_opts, dictcheck) },
	};
	char msg[PWQ_MAX_ERROR_MESSAGE_LEN];
	void *aux = NULL;
	int r;

	if (p->pwqs != NULL) {
		pwquality_free_settings(p->pwqs);
		p->pwqs = NULL;
	}
	if (!p->pwq.enabled)
		return 0;
	if ((p->pwqs = pwquality_default_settings()) == NULL)
		return vd_err_set(VD_ENOMEM, "out of memory");
	if (p->pwq.conf != NULL &&
	    (r = pwquality_read_config(p->pwqs, p->pwq.conf, &aux)) != 0) {
		pwquality_strerror(msg, sizeof(msg), r, aux);
		return vd_err_set(VD_EPOLICY, "policy %s: pwquality_conf %s: %s",
		    p->name, p->pwq.conf, msg);
	}
	for (size_t i = 0; i < VD_NELEM(ints); i++) {
		int v = *(const int *)(const void *)((const char *)&p->pwq +
		    ints[i].off);

		if (v >= 0 &&
		    pwquality_set_int_value(p->pwqs, ints[i].setting, v) != 0)
			return vd_err_set(VD_EPOLICY, "policy %s: pwquality "
			    "refused a setting", p->name);
	}
	if (p->pwq.badwords != NULL &&
	    pwquality_set_str_value(p->pwqs, PWQ_SETTING_BAD_WORDS,
	    p->pwq.badwords) != 0)
		return vd_err_set(VD_EPOLICY, "policy %s: pwquality refused "
		    "badwords", p->name);
	return 0;
}

/* Validates and prepares one policy; 0 or VD_EPOLICY with a detail. */
static int
policy_finalize(struct vd_policy *p)
{
	unsigned counts[R_N] = { 0 };
	struct vd_secret *s = NULL;
	size_t need = 0;
	int r, worst = 0;

	p->finalized = 0;
	build_alphabet(p);
	for (int k = 0; k < CL_N; k++) {
		need += p->min[k];
		if (p->min[k] > 0 && p->ncls[k] == 0) {
			r = vd_err_set(VD_EPOLICY, "policy %s: min_%s is %u but "
			    "every %s character is excluded", p->name,
			    class_names[k], p->min[k], class_names[k]);
			goto out;
		}
	}
	if (p->nalpha == 0) {
		r = vd_err_set(VD_EPOLICY, "policy %s: every character is "
		    "excluded", p->name);
		goto out;
	}
	if (need > p->length) {
		r = vd_err_set(VD_EPOLICY, "policy %s: the class minimums need "
		    "%zu characters but length is %zu", p->name, need,
		    p->length);
		goto out;
	}
	p->entropy = class_entropy(p);
	/* zxcvbn never rates a string above brute force over 95 symbols. */
	if ((double)p->min_guess_bits > (double)p->length * log2(95.0)) {
		r = vd_err_set(VD_EPOLICY, "policy %s: min_guess_bits %u exceeds "
		    "what %zu characters can reach (%.0f bits)", p->name,
		    p->min_guess_bits, p->length,
		    (double)p->length * log2(95.0));
		goto out;
	}
	if ((r = build_pwq(p)) != 0)
		goto out;
	/*
	 * A trial: the cheapest proof that the rules together can be met,
	 * and a warning for policies that would make generation redraw
	 * nearly without end.
	 */
	if ((s = vd_secret_new(p->length)) == NULL) {
		r = vd_err_set(VD_ENOMEM, "no secure memory");
		goto out;
	}
	if (generate(p, s, VD_POLICY_TRIAL_DRAWS, counts) != 0) {
		for (int i = 1; i < R_N; i++)
			if (counts[i] > counts[worst])
				worst = i;
		r = vd_err_set(VD_EPOLICY, "policy %s: no password met it in %d "
		    "draws (%u of them broke rule %s): unsatisfiable or too "
		    "strict", p->name, VD_POLICY_TRIAL_DRAWS, counts[worst],
		    rule_names[worst]);
		goto out;
	}
	p->finalized = 1;
	r = 0;
 out:
	vd_secret_free(s);
	return r;
}

/* Creates a set holding the finalized "default"; see policy.h. */
int
vd_policyset_new(struct vd_policyset **out)
{
	struct vd_policyset *ps;
	struct vd_policy *p;
	int r;

	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return vd_err_set(VD_ENOMEM, "out of memory");
	if ((r = set_add(ps, "default", &p)) != 0 ||
	    (r = policy_finalize(p)) != 0) {
		vd_policyset_free(ps);
		return r;
	}
	*out = ps;
	return 0;
}

/* Frees ps and its policies; NULL-safe. */
void
vd_policyset_free(struct vd_policyset *ps)
{
	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->n; i++)
		policy_free(ps->pol[i]);
	free(ps->pol);
	free(ps);
}

/* Returns policy name of ps (borrowed) or NULL. */
const struct vd_policy *
vd_policyset_get(const struct vd_policyset *ps, const char *name)
{
	if (ps == NULL || name == NULL)
		return NULL;
	return set_find(ps, name);
}

/* Calls cb per policy, "default" first; stops on non-zero. */
int
vd_policyset_each(const struct vd_policyset *ps,
    int (*cb)(const struct vd_policy *p, void *arg), void *arg)
{
	int r;

	for (size_t i = 0; i < ps->n; i++)
		if ((r = cb(ps->pol[i], arg)) != 0)
			return r;
	return 0;
}

/* Validates every changed policy; VD_EPOLICY names the first refused. */
int
vd_policyset_finalize(struct vd_policyset *ps)
{
	int r;

	for (size_t i = 0; i < ps->n; i++)
		if (!ps->pol[i]->finalized &&
		    (r = policy_finalize(ps->pol[i])) != 0)
			return r;
	return 0;
}

/* --- vd_policyset_set: keys and values ------------------------------- */

/* Parses yes/no, true/false, on/off, 1/0; 0 or -1. */
static int
parse_bool(const char *v, int *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/*
 * Parses a character-set value into set[128]: literal characters, with
 * "\s" for space, "\t" for tab and "\\" for a backslash (a backslash
 * before anything else is itself).  special: only printable ASCII
 * punctuation is allowed.  Returns 0 or VD_EINVAL with a detail.
 */
static int
parse_charset(const char *key, const char *v, int special,
    unsigned char set[128])
{
	unsigned char tmp[128] = { 0 };

	for (const char *s = v; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' && s[1] == 's') {
			c = ' ';
			s++;
		} else if (c == '\\' && s[1] == 't') {
			c = '\t';
			s++;
		} else if (c == '\\' && s[1] == '\\')
			s++;
		if (c >= 128 || (c < 0x20 && c != '\t') || c == 0x7f)
			return vd_err_set(VD_EINVAL, "%s: only ASCII characters "
			    "are allowed", key);
		if (special && byte_kind(c) != CL_SPECIAL)
			return vd_err_set(VD_EINVAL, "%s: '%c' is not a printable "
			    "ASCII punctuation character", key,
			    c == '\t' ? ' ' : c);
		tmp[c] = 1;
	}
	memcpy(set, tmp, sizeof(tmp));
	return 0;
}

/* Adds the comma/space separated deny-words of v to p. */
static int
add_deny_words(struct vd_policy *p, const char *v)
{
	char word[DENY_LEN_MAX + 1];
	const char *s = v;

	if (*v == '\0') {
		/* An empty value clears the list. */
		for (size_t i = 0; i < p->ndeny; i++) {
			free(p->deny[i]);
			p->deny[i] = NULL;
		}
		p->ndeny = 0;
		return 0;
	}
	while (*s) {
		size_t n = 0, raw = 0;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		for (; *s && *s != ',' && !isspace((unsigned char)*s); s++) {
			unsigned char c = (unsigned char)*s;

			raw++;
			if (!isalnum(c))
				continue;	/* "cmb-china": cmbchina */
			if (n >= DENY_LEN_MAX)
				return vd_err_set(VD_EINVAL, "deny_words: a word "
				    "longer than %d characters", DENY_LEN_MAX);
			word[n++] = (char)tolower(c);
		}
		word[n] = '\0';
		if (n < VD_POLICY_DENY_MIN)
			return vd_err_set(VD_EINVAL, "deny_words: a word needs at "
			    "least %d letters or digits (word %zu characters "
			    "long)", VD_POLICY_DENY_MIN, raw);
		if (p->ndeny >= DENY_MAX)
			return vd_err_set(VD_EINVAL, "deny_words: more than %d "
			    "words", DENY_MAX);
		if ((p->deny[p->ndeny] = strdup(word)) == NULL)
			return vd_err_set(VD_ENOMEM, "out of memory");
		p->deny[++p->ndeny] = NULL;
	}
	return 0;
}

/* Replaces *dst with a copy of v. */
static int
set_str(char **dst, const char *v)
{
	char *s;

	if ((s = strdup(v)) == NULL)
		return vd_err_set(VD_ENOMEM, "out of memory");
	free(*dst);
	*dst = s;
	return 0;
}

/* Sets one key of policy policy_name; see policy.h for the keys. */
int
vd_policyset_set(struct vd_policyset *ps, const char *policy_name,
    const char *key, const char *value)
{
	static const struct {
		const char	*key;
		size_t		 off;
	} pwq_ints[] = {
		{ "minlen", offsetof(struct pwq_opts, minlen) },
		{ "minclass", offsetof(struct pwq_opts, minclass) },
		{ "maxrepeat", offsetof(struct pwq_opts, maxrepeat) },
		{ "maxsequence", offsetof(struct pwq_opts, maxsequence) },
		{ "maxclassrepeat", offsetof(struct pwq_opts, maxclassrepeat) },
		{ "dictcheck", offsetof(struct pwq_opts, dictcheck) },
	};
	struct vd_policy *p;
	long long v;
	int r, b;

	if (!vd_name_valid(policy_name))
		return vd_err_set(VD_EINVAL, "bad policy name (use 1-%d of "
		    "A-Z a-z 0-9 . _ -)", VD_NAME_MAX);
	if (key == NULL || value == NULL)
		return vd_err_set(VD_EINVAL, "policy %s: missing key or value",
		    policy_name);
	if ((p = set_find(ps, policy_name)) == NULL &&
	    (r = set_add(ps, policy_name, &p)) != 0)
		return r;
	p->finalized = 0;

	if (strcmp(key, "length") == 0) {
		if (vd_parse_int(value, VD_POLICY_LEN_MIN, VD_POLICY_LEN_MAX,
		    &v) != 0)
			return vd_err_set(VD_EINVAL, "length: expected %d..%d",
			    VD_POLICY_LEN_MIN, VD_POLICY_LEN_MAX);
		p->length = (size_t)v;
		return 0;
	}
	for (int k = 0; k < CL_N; k++) {
		char name[16];
		int n = snprintf(name, sizeof(name), "min_%s", class_names[k]);

		if (n < 0 || (size_t)n >= sizeof(name) || strcmp(key, name) != 0)
			continue;
		if (vd_parse_int(value, 0, VD_POLICY_LEN_MAX, &v) != 0)
			return vd_err_set(VD_EINVAL, "%s: expected 0..%d", key,
			    VD_POLICY_LEN_MAX);
		p->min[k] = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "special") == 0)
		return parse_charset(key, value, 1, p->special);
	if (strcmp(key, "exclude") == 0)
		return parse_charset(key, value, 0, p->exclude);
	if (strcmp(key, "exclude_add") == 0) {
		unsigned char add[128];

		if ((r = parse_charset(key, value, 0, add)) != 0)
			return r;
		for (size_t c = 0; c < sizeof(add); c++)
			p->exclude[c] |= add[c];
		return 0;
	}
	if (strcmp(key, "deny_words") == 0)
		return add_deny_words(p, value);
	if (strcmp(key, "years") == 0) {
		if (parse_bool(value, &b) != 0)
			return vd_err_set(VD_EINVAL, "years: expected yes or no");
		p->years = b;
		return 0;
	}
	if (strcmp(key, "max_run") == 0) {
		if (vd_parse_int(value, 1, VD_POLICY_LEN_MAX, &v) != 0)
			return vd_err_set(VD_EINVAL, "max_run: expected 1..%d",
			    VD_POLICY_LEN_MAX);
		p->max_run = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "max_steps") == 0) {
		if (vd_parse_int(value, 0, VD_POLICY_LEN_MAX, &v) != 0)
			return vd_err_set(VD_EINVAL, "max_steps: expected 0..%d",
			    VD_POLICY_LEN_MAX);
		p->max_steps = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "min_guess_bits") == 0) {
		if (vd_parse_int(value, 0, GUESS_MAX, &v) != 0)
			return vd_err_set(VD_EINVAL, "min_guess_bits: expected "
			    "0..%d", GUESS_MAX);
		p->min_guess_bits = (unsigned)v;
		return 0;
	}
	for (size_t i = 0; i < VD_NELEM(pwq_ints); i++) {
		if (strcmp(key, pwq_ints[i].key) != 0)
			continue;
		if (vd_parse_int(value, 0, VD_POLICY_LEN_MAX, &v) != 0)
			return vd_err_set(VD_EINVAL, "%s: expected 0..%d", key,
			    VD_POLICY_LEN_MAX);
		*(int *)(void *)((char *)&p->pwq + pwq_ints[i].off) = (int)v;
		p->pwq.enabled = 1;
		return 0;
	}
	if (strcmp(key, "badwords") == 0) {
		p->pwq.enabled = 1;
		return set_str(&p->pwq.badwords, value);
	}
	if (strcmp(key, "pwquality_conf") == 0) {
		if (value[0] != '/')
			return vd_err_set(VD_EINVAL, "pwquality_conf: expected an "
			    "absolute path");
		p->pwq.enabled = 1;
		return set_str(&p->pwq.conf, value);
	}
	return vd_err_set(VD_EINVAL, "unknown policy key '%s'", key);
}

/* --- INI file -------------------------------------------------------- */

struct load_ctx {
	struct vd_policyset *ps;	/* where keys go */
	int		 err;		/* first error code */
	char		 detail[384];	/* its detail */
};

/* inih handler: returns 1 to go on, 0 to mark the line as bad. */
static int
ini_cb(void *arg, const char *section, const char *key, const char *value)
{
	struct load_ctx *ctx = arg;
	const char *name;
	int r, n;

	if (strncmp(section, "policy", 6) != 0 ||
	    (section[6] != '\0' && !isspace((unsigned char)section[6])))
		return 1;	/* another module's section */
	for (name = section + 6; isspace((unsigned char)*name); name++)
		;
	if (*name == '\0')
		r = vd_err_set(VD_EINVAL, "section [policy] needs a name: "
		    "[policy NAME]");
	else
		r = vd_policyset_set(ctx->ps, name, key, value);
	if (r == 0)
		return 1;
	if (ctx->err == 0) {
		ctx->err = r;
		n = snprintf(ctx->detail, sizeof(ctx->detail), "%s",
		    vd_err_detail());
		if (n < 0 || (size_t)n >= sizeof(ctx->detail))
			ctx->detail[sizeof(ctx->detail) - 1] = '\0';
	}
	return 0;
}

/* Loads the [policy NAME] sections of INI file path; see policy.h. */
int
vd_policyset_load_file(struct vd_policyset *ps, const char *path)
{
	struct load_ctx ctx = { ps, 0, "" };
	FILE *f;
	int line;

	if ((f = fopen(path, "re")) == NULL)
		return vd_err_set(-errno, "%s: %s", path, strerror(errno));
	line = ini_parse_file(f, ini_cb, &ctx);
	fclose(f);
	if (line == 0)
		return 0;
	if (line < 0)
		return vd_err_set(VD_ENOMEM, "%s: cannot parse", path);
	if (ctx.err != 0)
		return vd_err_set(ctx.err == VD_ENOMEM ? VD_ENOMEM : VD_EINVAL,
		    "%s:%d: %s", path, line, ctx.detail);
	return vd_err_set(VD_EINVAL, "%s:%d: syntax error", path, line);
}

/* --- JSON ------------------------------------------------------------ */

/* Returns the characters of set[] in byte order as a string (static n). */
static void
set_string(const unsigned char set[128], char *buf, size_t len)
{
	size_t n = 0;

	for (int c = 0; c < 128 && n + 1 < len; c++)
		if (set[c])
			buf[n++] = (char)c;
	buf[n] = '\0';
}

/* Returns p as a new JSON object (caller decrefs), or NULL. */
json_t *
vd_policy_to_json(const struct vd_policy *p)
{
	char special[129], exclude[129], alpha[97];
	json_t *o = NULL, *deny = NULL, *pwq = NULL;
	unsigned char eff[128] = { 0 };

	for (int c = 0x21; c <= 0x7e; c++)
		eff[c] = p->special[c] && !p->exclude[c];
	set_string(eff, special, sizeof(special));
	set_string(p->exclude, exclude, sizeof(exclude));
	memcpy(alpha, p->alpha, p->nalpha);
	alpha[p->nalpha] = '\0';
	if ((deny = json_array()) == NULL)
		goto fail;
	for (size_t i = 0; i < p->ndeny; i++)
		if (json_array_append_new(deny, json_string(p->deny[i])) != 0)
			goto fail;
	if (p->pwq.enabled) {
		pwq = json_object();
		if (pwq == NULL)
			goto fail;
#define PWQ_INT(k) do {							\
	if (p->pwq.k >= 0 &&						\
	    json_object_set_new(pwq, #k, json_integer(p->pwq.k)) != 0)	\
		goto fail;						\
} while (0)
		PWQ_INT(minlen);
		PWQ_INT(minclass);
		PWQ_INT(maxrepeat);
		PWQ_INT(maxsequence);
		PWQ_INT(maxclassrepeat);
		PWQ_INT(dictcheck);
#undef PWQ_INT
		if (p->pwq.badwords != NULL && json_object_set_new(pwq,
		    "badwords", json_string(p->pwq.badwords)) != 0)
			goto fail;
		if (p->pwq.conf != NULL && json_object_set_new(pwq,
		    "pwquality_conf", json_string(p->pwq.conf)) != 0)
			goto fail;
	} else
		pwq = json_null();
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I, "
	    "s:o, s:b, s:I, s:I, s:I, s:o, s:f, s:b}",
	    "name", p->name,
	    "length", (json_int_t)p->length,
	    "min_upper", (json_int_t)p->min[CL_UPPER],
	    "min_lower", (json_int_t)p->min[CL_LOWER],
	    "min_digit", (json_int_t)p->min[CL_DIGIT],
	    "min_special", (json_int_t)p->min[CL_SPECIAL],
	    "special", special,
	    "exclude", exclude,
	    "alphabet", alpha,
	    "alphabet_size", (json_int_t)p->nalpha,
	    "deny_words", deny,
	    "years", p->years,
	    "max_run", (json_int_t)p->max_run,
	    "max_steps", (json_int_t)p->max_steps,
	    "min_guess_bits", (json_int_t)p->min_guess_bits,
	    "pwquality", pwq,
	    "entropy_bits", p->entropy,
	    "finalized", p->finalized);
	/* json_pack's "o" stole deny and pwq, even on failure. */
	return o;
 fail:
	json_decref(deny);
	json_decref(pwq);
	return NULL;
}
