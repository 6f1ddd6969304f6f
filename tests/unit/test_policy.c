/*
 * test_policy.c - the password policy engine (common/policy.c).
 *
 * Generated passwords are checked here by rules written independently of
 * the engine (regular expressions, trigram windows, zxcvbn called
 * directly), never by the engine checking itself.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zxcvbn.h>

#include "check.h"
#include "err.h"
#include "mem.h"
#include "policy.h"

#define NGEN	100000	/* passwords generated for the rule and bias tests */
#define GLEN	20	/* their length (the default policy) */

/* The default alphabet, written out independently of the engine. */
static const char ALPHA_UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char ALPHA_LOWER[] = "abcdefghijklmnopqrstuvwxyz";
static const char ALPHA_DIGIT[] = "0123456789";
static const char ALPHA_SPECIAL[] = "!$%&()*+,-./:<=>?@[]^_{|}~";
static const char EXCLUDED[] = "\"'`\\#; \t";

static const char *const DENY[] = { "cmb", "cmbchina", NULL };

/* Fails with the detail of the last error when expr is not 0. */
#define CHECK_OK_D(expr) do {						\
	int r2_ = (expr);						\
	if (r2_ != 0) {							\
		fprintf(stderr, "%s:%d: %s returned %d (%s)\n",		\
		    __FILE__, __LINE__, #expr, r2_, vd_err_detail());	\
		exit(1);						\
	}								\
} while (0)

#define CHECK_CONTAINS(hay, needle) do {				\
	const char *h_ = (hay), *n_ = (needle);				\
	if (strstr(h_, n_) == NULL) {					\
		fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",\
		    __FILE__, __LINE__, h_, n_);			\
		exit(1);						\
	}								\
} while (0)

/* --- independent rule checks ----------------------------------------- */

/* Letters and the characters that may stand for them in a deny-word. */
static const char *
stands_for(char letter)
{
	static const char *const tab[] = {
		"aA@4", "bB8", "cC", "dD", "eE3", "fF", "gG69", "hH", "iI1!|",
		"jJ", "kK", "lL1!|", "mM", "nN", "oO0", "pP", "qQ", "rR", "sS$5",
		"tT7+", "uU", "vV", "wW", "xX", "yY", "zZ",
	};

	return tab[letter - 'a'];
}

/*
 * Compiles a POSIX ERE matching deny-word w with substitutions, and any
 * characters that are neither alphanumeric nor substitutes between its
 * letters ("C.M.B").
 */
static void
deny_regex(const char *w, regex_t *re)
{
	char pat[1024];
	size_t n = 0;

	for (const char *c = w; *c; c++) {
		int k;

		if (c != w) {
			k = snprintf(pat + n, sizeof(pat) - n,
			    "[^A-Za-z0-9@$!|+]*");
			CHECK(k > 0 && (size_t)k < sizeof(pat) - n);
			n += (size_t)k;
		}
		k = snprintf(pat + n, sizeof(pat) - n, "[%s]", stands_for(*c));
		CHECK(k > 0 && (size_t)k < sizeof(pat) - n);
		n += (size_t)k;
	}
	CHECK_INT_EQ(regcomp(re, pat, REG_EXTENDED | REG_NOSUB), 0);
}

/* 1 when the 3-character window w (lower-cased) is a sequence. */
static int
window_is_sequence(const char *w)
{
	static const char *const seqs[] = {
		"abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba",
		"0123456789", "9876543210",
	};

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		for (const char *s = seqs[i]; s[2] != '\0'; s++)
			if (strncmp(s, w, 3) == 0)
				return 1;
	return 0;
}

/* Unshifted, lower-case key for c on a US keyboard. */
static char
unshift(char c)
{
	static const char shifted[] = "~!@#$%^&*()_+{}|:\"<>?";
	static const char plain[] = "`1234567890-=[]\\;',./";
	const char *p;

	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if (c != '\0' && (p = strchr(shifted, c)) != NULL)
		return plain[p - shifted];
	return c;
}

/* 1 when the window w (unshifted) walks along a keyboard row. */
static int
window_is_walk(const char *w)
{
	static const char *const rows[] = {
		"`1234567890-=", "=-0987654321`", "qwertyuiop[]\\",
		"\\][poiuytrewq", "asdfghjkl;'", "';lkjhgfdsa", "zxcvbnm,./",
		"/.,mnbvcxz",
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (const char *s = rows[i]; s[2] != '\0'; s++)
			if (strncmp(s, w, 3) == 0)
				return 1;
	return 0;
}

/*
 * Checks one generated password against every rule of the default policy
 * plus the deny-words cmb and cmbchina; aborts on the first failure.
 */
static void
check_generated(const char *pw, regex_t *year, regex_t deny[2])
{
	int cl[4] = { 0, 0, 0, 0 }, steps = 0;
	double bits;

	CHECK_INT_EQ(strlen(pw), GLEN);
	for (const char *c = pw; *c; c++) {
		CHECK(strchr(EXCLUDED, *c) == NULL);
		if (strchr(ALPHA_UPPER, *c))
			cl[0]++;
		else if (strchr(ALPHA_LOWER, *c))
			cl[1]++;
		else if (strchr(ALPHA_DIGIT, *c))
			cl[2]++;
		else if (strchr(ALPHA_SPECIAL, *c))
			cl[3]++;
		else
			CHECK(!"character outside the alphabet");
	}
	for (int k = 0; k < 4; k++)
		CHECK(cl[k] >= 1);
	for (int i = 0; i + 3 <= GLEN; i++) {
		char low[4], key[4];

		for (int j = 0; j < 3; j++) {
			low[j] = (char)tolower((unsigned char)pw[i + j]);
			key[j] = unshift(pw[i + j]);
		}
		low[3] = key[3] = '\0';
		CHECK(!(low[0] == low[1] && low[1] == low[2]));
		CHECK(!window_is_sequence(low));
		CHECK(!window_is_walk(key));
	}
	/* cracklib's "too systematic": at most 4 neighbours one apart. */
	for (int i = 1; i < GLEN; i++) {
		int d = tolower((unsigned char)pw[i]) -
		    tolower((unsigned char)pw[i - 1]);

		steps += d == 1 || d == -1;
	}
	CHECK(steps <= 4);
	CHECK(regexec(year, pw, 0, NULL, 0) == REG_NOMATCH);
	CHECK(regexec(&deny[0], pw, 0, NULL, 0) == REG_NOMATCH);
	CHECK(regexec(&deny[1], pw, 0, NULL, 0) == REG_NOMATCH);
	bits = ZxcvbnMatch(pw, (const char **)DENY, NULL);
	CHECK(bits >= 64.0);
}

/* The independent checks above are not vacuous: they catch the bad. */
static void
test_independent_checks(void)
{
	regex_t year, deny[2];

	CHECK_INT_EQ(regcomp(&year, "(19|20)[0-9][0-9]", REG_EXTENDED |
	    REG_NOSUB), 0);
	deny_regex("cmb", &deny[0]);
	deny_regex("cmbchina", &deny[1]);
	CHECK(regexec(&year, "Cmb@2021abc", 0, NULL, 0) == 0);
	CHECK(regexec(&year, "x1999", 0, NULL, 0) == 0);
	CHECK(regexec(&year, "x2199", 0, NULL, 0) == REG_NOMATCH);
	CHECK(regexec(&deny[0], "C.M.B#Pass99", 0, NULL, 0) == 0);
	CHECK(regexec(&deny[0], "xCm8!", 0, NULL, 0) == 0);
	CHECK(regexec(&deny[0], "xCm7b", 0, NULL, 0) == REG_NOMATCH);
	CHECK(regexec(&deny[1], "cmbch1na#A1x", 0, NULL, 0) == 0);
	CHECK(window_is_sequence("abc") && window_is_sequence("321"));
	CHECK(!window_is_sequence("abd"));
	CHECK(window_is_walk("qwe") && window_is_walk("dsa"));
	CHECK(unshift('!') == '1' && unshift('@') == '2' && unshift('Q') == 'q');
	CHECK(window_is_walk((char[]){ unshift('!'), unshift('@'),
	    unshift('#'), '\0' }));
	CHECK(!window_is_walk("qwr"));
	regfree(&year);
	regfree(&deny[0]);
	regfree(&deny[1]);
}

static int
cmp_pw(const void *a, const void *b)
{
	return memcmp(a, b, GLEN + 1);
}

/* Upper chi-square quantile, Wilson-Hilferty; z = 5 is p ~ 3e-7. */
static double
chi2_bound(double dof)
{
	double z = 5.0, a = 2.0 / (9.0 * dof);

	return dof * pow(1.0 - a + z * sqrt(a), 3.0);
}

/* Class of an alphabet character: 0 upper .. 3 special. */
static int
class_of(unsigned char c)
{
	if (strchr(ALPHA_UPPER, c))
		return 0;
	if (strchr(ALPHA_LOWER, c))
		return 1;
	if (strchr(ALPHA_DIGIT, c))
		return 2;
	return 3;
}

/*
 * Chi-square of counts[] (indexed by byte) within each class of the
 * alphabet: under no bias every character of a class is equally likely,
 * whatever the class-minimum rejection does to class proportions.
 */
static double
chi2_within(const unsigned long counts[256], double *dof)
{
	static const char *const classes[] = {
		ALPHA_UPPER, ALPHA_LOWER, ALPHA_DIGIT, ALPHA_SPECIAL,
	};
	double chi = 0.0;

	*dof = 0.0;
	for (size_t k = 0; k < 4; k++) {
		const char *s = classes[k];
		size_t n = strlen(s);
		double tot = 0.0, e;

		for (size_t i = 0; i < n; i++)
			tot += (double)counts[(unsigned char)s[i]];
		e = tot / (double)n;
		CHECK(e > 50.0);
		for (size_t i = 0; i < n; i++) {
			double d = (double)counts[(unsigned char)s[i]] - e;

			chi += d * d / e;
		}
		*dof += (double)(n - 1);
	}
	return chi;
}

/* The chi-square machinery flags a modulo-biased generator. */
static void
test_chi2_detects_bias(void)
{
	unsigned long counts[256] = { 0 };
	const char *alpha = "!$%&()*+,-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRS"
	    "TUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~";
	size_t n = strlen(alpha);
	double dof, chi;

	CHECK_INT_EQ(n, 88);
	for (int i = 0; i < NGEN; i++) {
		unsigned char b;

		randombytes_buf(&b, 1);
		counts[(unsigned char)alpha[b % n]]++;	/* the classic bug */
	}
	chi = chi2_within(counts, &dof);
	CHECK(chi > chi2_bound(dof));
}

static void
test_generate_many(void)
{
	struct vd_policyset *ps;
	const struct vd_policy *p;
	struct vd_secret *s, *all, *one;
	unsigned long (*pos)[256], pooled[256] = { 0 };
	unsigned long ccount[GLEN][4];
	double dof, chi, ctot[4] = { 0 }, cont = 0.0;
	regex_t year, deny[2];
	char why[VD_POLICY_WHY_MAX];

	CHECK_INT_EQ(regcomp(&year, "(19|20)[0-9][0-9]", REG_EXTENDED |
	    REG_NOSUB), 0);
	deny_regex("cmb", &deny[0]);
	deny_regex("cmbchina", &deny[1]);
	CHECK((pos = calloc(GLEN, sizeof(*pos))) != NULL);
	memset(ccount, 0, sizeof(ccount));

	CHECK_OK_D(vd_policyset_new(&ps));
	CHECK_OK_D(vd_policyset_set(ps, "gen", "deny_words", "cmb, cmbchina"));
	CHECK_OK_D(vd_policyset_finalize(ps));
	CHECK((p = vd_policyset_get(ps, "gen")) != NULL);
	CHECK((s = vd_secret_new(GLEN)) != NULL);
	CHECK((all = vd_secret_new((size_t)NGEN * (GLEN + 1))) != NULL);

	for (size_t i = 0; i < NGEN; i++) {
		char *dst = (char *)all->data + i * (GLEN + 1);

		if (i % 1000 == 0) {
			/* The allocating form, too. */
			CHECK_OK_D(vd_policy_generate(p, &one));
			CHECK_INT_EQ(one->len, GLEN);
			memcpy(s->data, one->data, GLEN + 1);
			s->len = one->len;
			vd_secret_free(one);
			/* The engine agrees with itself, now and then. */
			CHECK_INT_EQ(vd_policy_check(p, (char *)s->data, s->len,
			    why, sizeof(why)), 0);
		} else
			CHECK_OK_D(vd_policy_generate_into(p, s));
		CHECK_INT_EQ(s->len, GLEN);
		CHECK_INT_EQ(s->data[GLEN], 0);
		check_generated((const char *)s->data, &year, deny);
		memcpy(dst, s->data, GLEN + 1);
		for (int j = 0; j < GLEN; j++) {
			pos[j][s->data[j]]++;
			pooled[s->data[j]]++;
			ccount[j][class_of(s->data[j])]++;
		}
	}

	/* Distinct. */
	qsort(all->data, NGEN, GLEN + 1, cmp_pw);
	for (size_t i = 1; i < NGEN; i++)
		CHECK(memcmp(all->data + (i - 1) * (GLEN + 1),
		    all->data + i * (GLEN + 1), GLEN + 1) != 0);

	/* Per position and pooled: uniform within each class. */
	for (int j = 0; j < GLEN; j++) {
		chi = chi2_within(pos[j], &dof);
		if (chi > chi2_bound(dof))
			fprintf(stderr, "position %d: chi2 %.1f > %.1f (dof %.0f)\n",
			    j, chi, chi2_bound(dof), dof);
		CHECK(chi <= chi2_bound(dof));
	}
	chi = chi2_within(pooled, &dof);
	fprintf(stderr, "pooled within-class chi2 %.1f (dof %.0f, bound %.1f)\n",
	    chi, dof, chi2_bound(dof));
	CHECK(chi <= chi2_bound(dof));
	/* Classes are spread evenly over positions (no fixed slots). */
	for (int j = 0; j < GLEN; j++)
		for (int k = 0; k < 4; k++)
			ctot[k] += (double)ccount[j][k];
	for (int j = 0; j < GLEN; j++)
		for (int k = 0; k < 4; k++) {
			double e = ctot[k] / GLEN, d = (double)ccount[j][k] - e;

			cont += d * d / e;
		}
	fprintf(stderr, "class x position chi2 %.1f (dof 57, bound %.1f)\n",
	    cont, chi2_bound(57));
	CHECK(cont <= chi2_bound(57));

	vd_secret_free(all);
	vd_secret_free(s);
	vd_policyset_free(ps);
	regfree(&year);
	regfree(&deny[0]);
	regfree(&deny[1]);
	free(pos);
}

/*
 * why must not quote the candidate: no 4-byte piece of it appears, except
 * pieces of plain letters ("word" is in libpwquality's own messages).
 */
static void
check_no_echo(const char *pw, const char *why)
{
	size_t n = strlen(pw);

	CHECK(strstr(why, pw) == NULL);
	for (size_t i = 0; i + 4 <= n; i++) {
		int letters = 1;

		for (size_t j = i; j < i + 4; j++)
			letters &= isalpha((unsigned char)pw[j]) != 0;
		for (const char *w = why; *w && !letters; w++)
			CHECK(strncmp(w, pw + i, 4) != 0);
	}
}

/* Checks pw against p: rejected, with each of the rules in want. */
static void
expect_bad(const struct vd_policy *p, const char *pw, const char *const *want)
{
	char why[VD_POLICY_WHY_MAX];
	int r = vd_policy_check(p, pw, strlen(pw), why, sizeof(why));

	/* Test data only: name the failing known-bad candidate. */
	if (r != VD_EPOLICY)
		fprintf(stderr, "known-bad accepted: %s\n", pw);
	CHECK_INT_EQ(r, VD_EPOLICY);
	for (; *want != NULL; want++)
		CHECK_CONTAINS(why, *want);
	check_no_echo(pw, why);
}

static void
expect_good(const struct vd_policy *p, const char *pw)
{
	char why[VD_POLICY_WHY_MAX];
	int r = vd_policy_check(p, pw, strlen(pw), why, sizeof(why));

	if (r != 0)
		fprintf(stderr, "known-good rejected: %s\n", why);
	CHECK_INT_EQ(r, 0);
	CHECK_STR_EQ(why, "");
}

static void
test_known(void)
{
	struct vd_policyset *ps;
	const struct vd_policy *bank, *hash, *pwq, *def, *look;
	char why[VD_POLICY_WHY_MAX], longpw[301];

	CHECK_OK_D(vd_policyset_new(&ps));
	/* The bank's baseline: longer than 8, four classes, no CMB. */
	CHECK_OK_D(vd_policyset_set(ps, "bank", "length", "9"));
	CHECK_OK_D(vd_policyset_set(ps, "bank", "deny_words", "cmb"));
	CHECK_OK_D(vd_policyset_set(ps, "bank", "deny_words", "cmbchina"));
	CHECK_OK_D(vd_policyset_set(ps, "bank", "min_guess_bits", "30"));
	/* The same, with '#' allowed: deny-words still caught. */
	CHECK_OK_D(vd_policyset_set(ps, "hash", "length", "9"));
	CHECK_OK_D(vd_policyset_set(ps, "hash", "deny_words", "cmb cmbchina"));
	CHECK_OK_D(vd_policyset_set(ps, "hash", "exclude", "\"'`\\\\;\\s\\t"));
	CHECK_OK_D(vd_policyset_set(ps, "hash", "min_guess_bits", "0"));
	/*
	 * Only libpwquality can refuse anything here.  (cracklib accepts
	 * Passw0rd!: it knows no substitutions; zxcvbn does, see "bank".)
	 */
	CHECK_OK_D(vd_policyset_set(ps, "pwq", "length", "9"));
	CHECK_OK_D(vd_policyset_set(ps, "pwq", "min_guess_bits", "0"));
	CHECK_OK_D(vd_policyset_set(ps, "pwq", "minlen", "9"));
	CHECK_OK_D(vd_policyset_set(ps, "pwq", "minclass", "4"));
	CHECK_OK_D(vd_policyset_set(ps, "pwq", "dictcheck", "1"));
	/* exclude_add keeps the default exclusions. */
	CHECK_OK_D(vd_policyset_set(ps, "look", "length", "9"));
	CHECK_OK_D(vd_policyset_set(ps, "look", "min_guess_bits", "30"));
	CHECK_OK_D(vd_policyset_set(ps, "look", "exclude_add", "O0Il1"));
	CHECK_OK_D(vd_policyset_finalize(ps));
	CHECK((bank = vd_policyset_get(ps, "bank")) != NULL);
	CHECK((look = vd_policyset_get(ps, "look")) != NULL);
	CHECK((hash = vd_policyset_get(ps, "hash")) != NULL);
	CHECK((pwq = vd_policyset_get(ps, "pwq")) != NULL);
	CHECK((def = vd_policyset_get(ps, "default")) != NULL);
	CHECK(vd_policyset_get(ps, "nope") == NULL);

	expect_bad(bank, "Cmb@2021abc", (const char *[]){ "deny-word", "year",
	    "sequence", NULL });
	expect_bad(bank, "Passw0rd!", (const char *[]){ "guessability", NULL });
	expect_bad(bank, "Qwer1234!x", (const char *[]){ "keyboard-walk",
	    "sequence", NULL });
	expect_bad(bank, "aaaB1!xyzQ", (const char *[]){ "repeat", "sequence",
	    NULL });
	expect_bad(bank, "C.M.B#Pass99", (const char *[]){ "deny-word",
	    "excluded-char", NULL });
	expect_bad(bank, "cmbchina#A1x", (const char *[]){ "deny-word",
	    "excluded-char", NULL });
	expect_bad(hash, "C.M.B#Pass99", (const char *[]){ "deny-word", NULL });
	expect_bad(hash, "cmbchina#A1x", (const char *[]){ "deny-word", NULL });
	expect_bad(hash, "Xc|\\/|8!q7Z", (const char *[]){ "excluded-char",
	    NULL });
	expect_bad(hash, "xCm8!q7Z%k", (const char *[]){ "deny-word", NULL });
	expect_bad(hash, "Q7!C-m-8zk", (const char *[]){ "deny-word", NULL });
	expect_bad(pwq, "Password1!", (const char *[]){ "pwquality",
	    "dictionary", NULL });
	expect_bad(bank, "Tq7!mZ4x", (const char *[]){ "length: 8 < 9", NULL });
	expect_bad(bank, "tq7!mz@4xr", (const char *[]){ "upper: 0 < 1", NULL });
	expect_bad(bank, "TQ7!MZ@4XR", (const char *[]){ "lower: 0 < 1", NULL });
	expect_bad(bank, "Tqz!mZ@uxR", (const char *[]){ "digit: 0 < 1", NULL });
	expect_bad(bank, "Tq7kmZa4xR", (const char *[]){ "special: 0 < 1",
	    NULL });
	expect_bad(bank, "Tq7!m Z@4xR", (const char *[]){ "excluded-char",
	    NULL });
	expect_bad(bank, "Tq7!mZ@4xR1999", (const char *[]){ "year", NULL });
	expect_bad(bank, "Tq7!mZ@4xRQ!@#", (const char *[]){ "keyboard-walk",
	    NULL });
	expect_bad(bank, "Tq7!mZ@4xR987", (const char *[]){ "sequence", NULL });
	expect_bad(bank, "Tq7!mZ@4xRzYx", (const char *[]){ "sequence", NULL });
	expect_bad(bank, "Tq7!mZ@4xRbBb", (const char *[]){ "repeat", NULL });
	expect_bad(bank, "Zab!dc7fe@hgTs", (const char *[]){ "steps", NULL });
	expect_bad(def, "vR7$kP2!mX9@qL4%tNasdf", (const char *[]){
	    "keyboard-walk", NULL });

	expect_good(bank, "Tq7!mZ@4xR");
	expect_good(bank, "Wb5%hX2&kG");
	expect_good(bank, "r8K)eVq3!Lm");
	expect_good(hash, "C#m7Kq!xZ2");	/* '#' allowed, no run */
	expect_bad(look, "Tq7!mZ@4xR0", (const char *[]){ "excluded-char",
	    NULL });
	expect_bad(look, "Tq7!mZ@4xR#", (const char *[]){ "excluded-char",
	    NULL });
	expect_good(look, "Tq7!mZ@4xR");
	expect_good(def, "vR7$kP2!mX9@qL4%tN8&");
	expect_good(def, "Hq4}wZ8(eK2_tB6!pV9^");
	expect_good(pwq, "Tq7!mZ@4xR");

	/* Too long, and an embedded NUL. */
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[300] = '\0';
	CHECK_INT_EQ(vd_policy_check(bank, longpw, 300, why, sizeof(why)),
	    VD_EPOLICY);
	CHECK_CONTAINS(why, "length: longer than 256");
	CHECK_INT_EQ(vd_policy_check(bank, "Tq7!m\0Z@4xR", 11, why,
	    sizeof(why)), VD_EPOLICY);
	CHECK_CONTAINS(why, "excluded-char");
	/* A tiny why buffer is truncated, never overrun. */
	CHECK_INT_EQ(vd_policy_check(bank, "Cmb@2021abc", 11, why, 8),
	    VD_EPOLICY);
	CHECK(strlen(why) < 8);
	vd_policyset_free(ps);
}

/* Finalize must refuse policy name with a detail containing want. */
static void
expect_refused(const char *const kv[], const char *want)
{
	struct vd_policyset *ps;
	struct vd_secret *s = NULL;

	CHECK_OK_D(vd_policyset_new(&ps));
	for (; kv[0] != NULL; kv += 2)
		CHECK_OK_D(vd_policyset_set(ps, "bad", kv[0], kv[1]));
	CHECK_INT_EQ(vd_policyset_finalize(ps), VD_EPOLICY);
	CHECK_CONTAINS(vd_err_detail(), "policy bad");
	CHECK_CONTAINS(vd_err_detail(), want);
	/* A refused policy cannot generate; default still can. */
	CHECK_INT_EQ(vd_policy_generate(vd_policyset_get(ps, "bad"), &s),
	    VD_EINVAL);
	CHECK(s == NULL);
	CHECK_OK_D(vd_policy_generate(vd_policyset_get(ps, "default"), &s));
	vd_secret_free(s);
	vd_policyset_free(ps);
}

static void
test_unsatisfiable(void)
{
	expect_refused((const char *[]){ "length", "6", "min_upper", "2",
	    "min_lower", "2", "min_digit", "2", "min_special", "2", NULL },
	    "need 8 characters but length is 6");
	expect_refused((const char *[]){ "exclude",
	    "!$%&()*+,-./:<=>?@[]^_{|}~\"'`\\\\#;", NULL },
	    "every special character is excluded");
	expect_refused((const char *[]){ "special", "", NULL },
	    "every special character is excluded");
	expect_refused((const char *[]){ "min_guess_bits", "500", NULL },
	    "exceeds");
	expect_refused((const char *[]){ "minlen", "30", "dictcheck", "0",
	    NULL }, "pwquality");
	/* Only 'a' and 'b': every pair is a repeat or a sequence. */
	expect_refused((const char *[]){ "length", "8", "min_upper", "0",
	    "min_digit", "0", "min_special", "0", "special", "",
	    "exclude", "cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789", "max_run", "1", "min_guess_bits", "0", NULL },
	    "no password met it");
	/* Every character excluded. */
	expect_refused((const char *[]){ "min_upper", "0", "min_lower", "0",
	    "min_digit", "0", "min_special", "0", "special", "", "exclude",
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	    NULL }, "every character is excluded");
}

static void
test_bad_keys(void)
{
	static const char *const bad[][2] = {
		{ "colour", "red" },
		{ "length", "abc" },
		{ "length", "3" },
		{ "length", "1000" },
		{ "length", "" },
		{ "min_upper", "-1" },
		{ "years", "maybe" },
		{ "deny_words", "ab" },
		{ "deny_words", "cmb, x-y" },
		{ "special", "abc" },
		{ "special", "\xc3\xa9" },
		{ "max_run", "0" },
		{ "max_steps", "-1" },
		{ "min_guess_bits", "2000" },
		{ "maxrepeat", "x" },
		{ "pwquality_conf", "relative/path" },
	};
	struct vd_policyset *ps;

	CHECK_OK_D(vd_policyset_new(&ps));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vd_err_clear();
		CHECK_INT_EQ(vd_policyset_set(ps, "p", bad[i][0], bad[i][1]),
		    VD_EINVAL);
		CHECK(vd_err_detail()[0] != '\0');
	}
	CHECK_INT_EQ(vd_policyset_set(ps, "bad name", "length", "20"),
	    VD_EINVAL);
	CHECK_INT_EQ(vd_policyset_set(ps, "", "length", "20"), VD_EINVAL);
	CHECK_CONTAINS(vd_err_detail(), "policy name");
	/* The unknown key is named. */
	CHECK_INT_EQ(vd_policyset_set(ps, "p", "colour", "red"), VD_EINVAL);
	CHECK_CONTAINS(vd_err_detail(), "colour");
	vd_policyset_free(ps);
}

static void
test_load_file(void)
{
	char path[] = "/tmp/vd-test-policy.XXXXXX";
	struct vd_policyset *ps;
	const struct vd_policy *p;
	json_t *j;
	FILE *f;
	int fd;

	CHECK((fd = mkstemp(path)) >= 0);
	CHECK((f = fdopen(fd, "w")) != NULL);
	fputs("; vaultd.conf\n"
	    "[vaultd]\n"
	    "socket = /run/vaultd.sock\n"
	    "length = not-a-policy-key\n"
	    "[policy bank]\n"
	    "length = 16\n"
	    "deny_words = cmb, cmbchina\n"
	    "deny_words = batch-server\n"
	    "min_guess_bits = 50   ; inline comment\n"
	    "[target db1]\n"
	    "policy = bank\n"
	    "[policy default]\n"
	    "length = 24\n", f);
	CHECK(fclose(f) == 0);
	CHECK_OK_D(vd_policyset_new(&ps));
	CHECK_OK_D(vd_policyset_load_file(ps, path));
	CHECK_OK_D(vd_policyset_finalize(ps));
	CHECK((p = vd_policyset_get(ps, "bank")) != NULL);
	CHECK_INT_EQ(vd_policy_length(p), 16);
	CHECK((j = vd_policy_to_json(p)) != NULL);
	CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "bank");
	CHECK_INT_EQ(json_integer_value(json_object_get(j, "length")), 16);
	CHECK_INT_EQ(json_integer_value(json_object_get(j, "min_guess_bits")),
	    50);
	CHECK_INT_EQ(json_array_size(json_object_get(j, "deny_words")), 3);
	CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(j,
	    "deny_words"), 2)), "batchserver");
	CHECK(json_is_null(json_object_get(j, "pwquality")));
	CHECK(json_real_value(json_object_get(j, "entropy_bits")) > 100.0);
	json_decref(j);
	CHECK_INT_EQ(vd_policy_length(vd_policyset_get(ps, "default")), 24);
	vd_policyset_free(ps);

	/* A bad line is named file:line. */
	CHECK((f = fopen(path, "w")) != NULL);
	fputs("[other]\nx = 1\n[policy bank]\nlength = 16\nlenght = 17\n", f);
	CHECK(fclose(f) == 0);
	CHECK_OK_D(vd_policyset_new(&ps));
	CHECK_INT_EQ(vd_policyset_load_file(ps, path), VD_EINVAL);
	{
		char want[64];
		int n = snprintf(want, sizeof(want), "%s:5:", path);

		CHECK(n > 0 && (size_t)n < sizeof(want));
		CHECK_CONTAINS(vd_err_detail(), want);
		CHECK_CONTAINS(vd_err_detail(), "lenght");
	}
	vd_policyset_free(ps);

	/* [policy] without a name. */
	CHECK((f = fopen(path, "w")) != NULL);
	fputs("[policy]\nlength = 16\n", f);
	CHECK(fclose(f) == 0);
	CHECK_OK_D(vd_policyset_new(&ps));
	CHECK_INT_EQ(vd_policyset_load_file(ps, path), VD_EINVAL);
	CHECK_CONTAINS(vd_err_detail(), ":2:");
	vd_policyset_free(ps);

	CHECK(unlink(path) == 0);
	CHECK_OK_D(vd_policyset_new(&ps));
	CHECK_INT_EQ(vd_policyset_load_file(ps, path), -ENOENT);
	vd_policyset_free(ps);
}

/*
 * Entropy with class minimums above one, checked against a direct sum of
 * multinomials over every class split of 64 characters.
 */
static void
test_entropy_minimums(void)
{
	static const int n[4] = { 26, 26, 10, 26 };
	static const int min[4] = { 5, 7, 9, 11 };
	static const char *const kv[][2] = { { "length", "64" },
	    { "min_upper", "5" }, { "min_lower", "7" }, { "min_digit", "9" },
	    { "min_special", "11" } };
	struct vd_policyset *ps;
	const struct vd_policy *p;
	long double count = 0.0L, fact[65];
	const int L = 64;

	fact[0] = 1.0L;
	for (int i = 1; i <= L; i++)
		fact[i] = fact[i - 1] * (long double)i;
	for (int u = min[0]; u <= L; u++)
		for (int l = min[1]; u + l <= L; l++)
			for (int d = min[2]; u + l + d <= L; d++) {
				int s = L - u - l - d;

				if (s < min[3])
					continue;
				count += fact[L] / (fact[u] * fact[l] * fact[d] *
				    fact[s]) * powl(n[0], u) * powl(n[1], l) *
				    powl(n[2], d) * powl(n[3], s);
			}
	CHECK_OK_D(vd_policyset_new(&ps));
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		CHECK_OK_D(vd_policyset_set(ps, "m", kv[i][0], kv[i][1]));
	CHECK_OK_D(vd_policyset_finalize(ps));
	CHECK((p = vd_policyset_get(ps, "m")) != NULL);
	CHECK(fabs(vd_policy_entropy_bits(p) - (double)log2l(count)) < 1e-6);
	vd_policyset_free(ps);
}

/* The default policy's shape and entropy, computed independently. */
static void
test_default(void)
{
	static const int n[4] = { 26, 26, 10, 26 };
	struct vd_policyset *ps;
	const struct vd_policy *p;
	long double count = 0.0L;
	double want;
	json_t *j;
	struct vd_secret *s = NULL;

	CHECK_OK_D(vd_policyset_new(&ps));
	CHECK((p = vd_policyset_get(ps, "default")) != NULL);
	CHECK_STR_EQ(vd_policy_name(p), "default");
	CHECK_INT_EQ(vd_policy_length(p), 20);
	/* Inclusion-exclusion over the classes left out. */
	for (int mask = 0; mask < 16; mask++) {
		int left = 88, bits = 0;

		for (int k = 0; k < 4; k++)
			if (mask & (1 << k)) {
				left -= n[k];
				bits++;
			}
		count += (bits % 2 ? -1.0L : 1.0L) * powl((long double)left, 20);
	}
	want = (double)log2l(count);
	CHECK(fabs(vd_policy_entropy_bits(p) - want) < 1e-6);
	CHECK(want > 128.9 && want < 129.2);
	CHECK((j = vd_policy_to_json(p)) != NULL);
	CHECK_INT_EQ(json_integer_value(json_object_get(j, "alphabet_size")),
	    88);
	CHECK_INT_EQ(json_integer_value(json_object_get(j, "max_run")), 2);
	CHECK_STR_EQ(json_string_value(json_object_get(j, "special")),
	    ALPHA_SPECIAL);
	CHECK(json_is_true(json_object_get(j, "years")));
	json_decref(j);

	/* A change un-finalizes until vd_policyset_finalize(). */
	CHECK_OK_D(vd_policyset_set(ps, "default", "length", "32"));
	CHECK_INT_EQ(vd_policy_generate(p, &s), VD_EINVAL);
	CHECK_OK_D(vd_policyset_finalize(ps));
	CHECK_OK_D(vd_policy_generate(p, &s));
	CHECK_INT_EQ(s->len, 32);
	vd_secret_free(s);
	vd_policyset_free(ps);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	test_default();
	test_entropy_minimums();
	test_bad_keys();
	test_unsatisfiable();
	test_load_file();
	test_known();
	test_independent_checks();
	test_chi2_detects_bias();
	test_generate_many();
	printf("test_policy: ok\n");
	return 0;
}
