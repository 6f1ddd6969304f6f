/*
 * config.c - read vaultd.conf with inih and validate every key.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"
#include "err.h"
#include "policy.h"
#include "util.h"

/* [policy NAME] keys go to the policy module (common/policy.h). */
#define VD_HAVE_POLICYSET	1

/* State of one parse: the config being filled and the first error. */
struct parse {
	struct vd_config	*cfg;		/* being filled */
	const char		*file;		/* for messages */
	char			 why[400];	/* first error, "" when none */
};

static const char *const role_names[VD_NROLES] = {
	"admin", "operator", "reveal", "auditor", "approver"
};

static int
perr(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first error; returns 0 so inih reports the line. */
static int
perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(p->why, sizeof(p->why), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static int
set_str(struct parse *p, char **dst, const char *key, const char *value)
{
	char *s;

	if (value[0] == '\0')
		return perr(p, "%s: empty value", key);
	if ((s = strdup(value)) == NULL)
		return perr(p, "out of memory");
	free(*dst);
	*dst = s;
	return 1;
}

static int
set_dur(struct parse *p, int64_t *dst, const char *key, const char *value,
    int64_t min)
{
	int64_t v;

	if (vd_parse_duration(value, &v) != 0)
		return perr(p, "%s: %s", key, vd_err_detail());
	if (v < min)
		return perr(p, "%s: must be at least %llds", key,
		    (long long)min);
	*dst = v;
	return 1;
}

static int
set_int(struct parse *p, long long *dst, const char *key, const char *value,
    long long min, long long max)
{
	if (vd_parse_int(value, min, max, dst) != 0)
		return perr(p, "%s: expected an integer in %lld..%lld", key, min,
		    max);
	return 1;
}

static void
acl_free(struct vd_acl_entry *e)
{
	struct vd_acl_entry *next;

	for (; e != NULL; e = next) {
		next = e->next;
		for (size_t i = 0; i < e->ntargets; i++)
			free(e->targets[i]);
		free(e->targets);
		free(e->name);
		free(e);
	}
}

/* Trims spaces and tabs at both ends of s in place; returns s. */
static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* Parses one "name" / "@group" / "name:t1 t2" entry into *out. */
static int
acl_entry(struct parse *p, const char *key, char *item, int reveal,
    struct vd_acl_entry **out)
{
	struct vd_acl_entry *e;
	char *colon, *name, *t, *save = NULL;
	int r = 0;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return perr(p, "out of memory");
	if ((colon = strchr(item, ':')) != NULL) {
		*colon = '\0';
		if (!reveal) {
			perr(p, "%s: only reveal and approver entries take "
			    "':targets'", key);
			goto out;
		}
		/* strtok_r, not strtok: no hidden state (STYLE.md). */
		for (t = strtok_r(colon + 1, " \t", &save); t != NULL;
		    t = strtok_r(NULL, " \t", &save)) {
			char **nt;

			if (!vd_name_valid(t)) {
				perr(p, "%s: bad target name '%s'", key, t);
				goto out;
			}
			nt = realloc(e->targets, (e->ntargets + 1) *
			    sizeof(*nt));
			if (nt == NULL || (nt[e->ntargets] = strdup(t)) ==
			    NULL) {
				if (nt != NULL)
					e->targets = nt;
				perr(p, "out of memory");
				goto out;
			}
			e->targets = nt;
			e->ntargets++;
		}
		if (e->ntargets == 0) {
			perr(p, "%s: no target after ':'", key);
			goto out;
		}
	}
	name = trim(item);
	if (name[0] == '@') {
		struct group *gr;

		e->group = 1;
		name++;
		errno = 0;
		if (name[0] == '\0' || (gr = getgrnam(name)) == NULL) {
			perr(p, "%s: unknown group '@%s'", key, name);
			goto out;
		}
		e->gid = gr->gr_gid;
	} else {
		errno = 0;
		if (name[0] == '\0' || getpwnam(name) == NULL) {
			perr(p, "%s: unknown user '%s'", key, name);
			goto out;
		}
	}
	if ((e->name = strdup(name)) == NULL) {
		perr(p, "out of memory");
		goto out;
	}
	*out = e;
	e = NULL;
	r = 1;
 out:
	acl_free(e);
	return r;
}

/* Parses a comma list for role index ri, appending to its list. */
static int
acl_list(struct parse *p, int ri, const char *key, const char *value)
{
	struct vd_acl_entry **tail, *e;
	char *copy, *item, *save = NULL;
	int r = 1;

	if ((copy = strdup(value)) == NULL)
		return perr(p, "out of memory");
	for (tail = &p->cfg->acl[ri]; *tail != NULL; tail = &(*tail)->next)
		;
	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		if (trim(item)[0] == '\0')
			continue;
		if (acl_entry(p, key, item, ri == 2 || ri == 4, &e) == 0) {
			r = 0;
			break;
		}
		*tail = e;
		tail = &e->next;
	}
	free(copy);
	return r;
}

static int
sec_vault(struct parse *p, const char *key, const char *value)
{
	struct vd_config *c = p->cfg;

	if (strcmp(key, "data_dir") == 0)
		return set_str(p, &c->data_dir, key, value);
	if (strcmp(key, "key_file") == 0)
		return set_str(p, &c->key_file, key, value);
	if (strcmp(key, "socket") == 0) {
		/* sun_path holds 108 bytes with the NUL. */
		if (strlen(value) >= 108)
			return perr(p, "socket: path longer than 107 bytes");
		if (value[0] != '/')
			return perr(p, "socket: must be an absolute path");
		return set_str(p, &c->socket, key, value);
	}
	if (strcmp(key, "user") == 0) {
		if (getpwnam(value) == NULL)
			return perr(p, "user: unknown user '%s'", value);
		return set_str(p, &c->user, key, value);
	}
	if (strcmp(key, "socket_group") == 0) {
		struct group *gr;

		if ((gr = getgrnam(value)) == NULL)
			return perr(p, "socket_group: unknown group '%s'",
			    value);
		c->socket_gid = gr->gr_gid;
		c->has_group = 1;
		return 1;
	}
	if (strcmp(key, "idle_timeout") == 0)
		return set_dur(p, &c->idle_timeout, key, value, 1);
	if (strcmp(key, "max_clients") == 0)
		return set_int(p, &c->max_clients, key, value, 1, 65536);
	return perr(p, "unknown key '%s' in [vault]", key);
}

static int
sec_access(struct parse *p, const char *key, const char *value)
{
	for (int i = 0; i < VD_NROLES; i++)
		if (strcmp(key, role_names[i]) == 0)
			return acl_list(p, i, key, value);
	return perr(p, "unknown key '%s' in [access] (admin, operator, "
	    "reveal, auditor, approver)", key);
}

static int
sec_approval(struct parse *p, const char *key, const char *value)
{
	if (strcmp(key, "request_ttl") == 0)
		return set_dur(p, &p->cfg->request_ttl, key, value, 1);
	return perr(p, "unknown key '%s' in [approval] (request_ttl)", key);
}

static int
sec_notify(struct parse *p, const char *key, const char *value)
{
	struct vd_config *c = p->cfg;

	if (strcmp(key, "command") == 0) {
		/* Run without a shell: an absolute path, no arguments. */
		if (value[0] != '/')
			return perr(p, "command: must be an absolute path "
			    "(run without a shell, no arguments)");
		return set_str(p, &c->notify_command, key, value);
	}
	if (strcmp(key, "timeout") == 0)
		return set_dur(p, &c->notify_timeout, key, value, 1);
	return perr(p, "unknown key '%s' in [notify] (command, timeout)", key);
}

static int
sec_rotation(struct parse *p, const char *key, const char *value)
{
	struct vd_config *c = p->cfg;

	if (strcmp(key, "concurrency") == 0)
		return set_int(p, &c->concurrency, key, value, 1, 256);
	if (strcmp(key, "retry_min") == 0)
		return set_dur(p, &c->retry_min, key, value, 1);
	if (strcmp(key, "retry_max") == 0)
		return set_dur(p, &c->retry_max, key, value, 1);
	if (strcmp(key, "retry_limit") == 0)
		return set_int(p, &c->retry_limit, key, value, 0, 1000000);
	if (strcmp(key, "connect_timeout") == 0)
		return set_dur(p, &c->connect_timeout, key, value, 1);
	if (strcmp(key, "check_interval") == 0)
		return set_dur(p, &c->check_interval, key, value, 1);
	if (strcmp(key, "min_every") == 0)
		return set_dur(p, &c->min_every, key, value, 1);
	if (strcmp(key, "paused") == 0) {
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			c->paused = 1;
		else if (strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0)
			c->paused = 0;
		else
			return perr(p, "paused: expected yes or no");
		return 1;
	}
	return perr(p, "unknown key '%s' in [rotation]", key);
}

/* Keeps an [escrow] key raw; a repeated key becomes an array. */
static int
sec_escrow(struct parse *p, const char *key, const char *value)
{
	json_t *old, *arr;

	old = json_object_get(p->cfg->escrow, key);
	if (old == NULL) {
		if (json_object_set_new(p->cfg->escrow, key,
		    json_string(value)) != 0)
			return perr(p, "%s: bad value (not UTF-8?)", key);
		return 1;
	}
	if (json_is_array(old))
		arr = old;
	else {
		if ((arr = json_array()) == NULL ||
		    json_array_append(arr, old) != 0 ||
		    json_object_set_new(p->cfg->escrow, key, arr) != 0)
			return perr(p, "out of memory");
	}
	if (json_array_append_new(arr, json_string(value)) != 0)
		return perr(p, "%s: bad value (not UTF-8?)", key);
	return 1;
}

static int
sec_policy(struct parse *p, const char *name, const char *key,
    const char *value)
{
	json_t *sec;

	if (!vd_name_valid(name))
		return perr(p, "bad policy name '%s'", name);
#if VD_HAVE_POLICYSET
	vd_err_clear();
	if (vd_policyset_set(p->cfg->policies, name, key, value) != 0)
		return perr(p, "[policy %s] %s: %s", name, key,
		    vd_err_detail()[0] ? vd_err_detail() : "bad value");
#endif
	if ((sec = json_object_get(p->cfg->policy_raw, name)) == NULL) {
		if (json_object_set_new(p->cfg->policy_raw, name,
		    sec = json_object()) != 0)
			return perr(p, "out of memory");
	}
	if (json_object_set_new(sec, key, json_string(value)) != 0)
		return perr(p, "%s: bad value (not UTF-8?)", key);
	return 1;
}

/* inih callback: returns 1 to go on, 0 to report this line. */
static int
handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;

	if (p->why[0] != '\0')
		return 1;	/* report the first error only */
	if (key == NULL)
		return 1;	/* a section header (INI_CALL_HANDLER_ON_NEW_SECTION) */
	if (strcmp(section, "vault") == 0)
		return sec_vault(p, key, value);
	if (strcmp(section, "access") == 0)
		return sec_access(p, key, value);
	if (strcmp(section, "rotation") == 0)
		return sec_rotation(p, key, value);
	if (strcmp(section, "approval") == 0)
		return sec_approval(p, key, value);
	if (strcmp(section, "notify") == 0)
		return sec_notify(p, key, value);
	if (strcmp(section, "escrow") == 0)
		return sec_escrow(p, key, value);
	if (strncmp(section, "policy ", 7) == 0)
		return sec_policy(p, trim((char *)section + 7), key, value);
	if (section[0] == '\0')
		return perr(p, "key '%s' outside any section", key);
	return perr(p, "unknown section [%s]", section);
}

/* The most a configuration file may hold (a sane one is a few KiB). */
#define CONFIG_MAX	(1024 * 1024)

/*
 * Reads file path whole into *textp (NUL-terminated, caller frees).
 * Returns 0, or -errno / VD_ECONFIG with the detail set.
 */
static int
read_text(const char *path, char **textp)
{
	FILE *f;
	char *buf = NULL;
	size_t n = 0, got;
	int r;

	*textp = NULL;
	if ((f = fopen(path, "re")) == NULL) {
		r = errno != 0 ? -errno : -ENOENT;
		return vd_err_set(r, "%s: cannot read", path);
	}
	if ((buf = malloc(CONFIG_MAX + 1)) == NULL) {
		fclose(f);
		return VD_ENOMEM;
	}
	while ((got = fread(buf + n, 1, CONFIG_MAX + 1 - n, f)) > 0)
		n += got;
	if (ferror(f)) {
		r = errno != 0 ? -errno : -EIO;
		fclose(f);
		free(buf);
		return vd_err_set(r, "%s: cannot read", path);
	}
	fclose(f);
	if (n > CONFIG_MAX) {
		free(buf);
		return vd_err_set(VD_ECONFIG, "%s: larger than %d bytes", path,
		    CONFIG_MAX);
	}
	buf[n] = '\0';
	*textp = buf;
	return 0;
}

/*
 * Finds the first section or key written twice in text, as inih reads it
 * (";"/"#" comments, "key = value" or "key: value", an indented line
 * continuing the previous key): inih hands both to the handler as if they
 * were one, so a second [access] would add admins and a second [policy p]
 * would silently replace the first.  deny_words in a [policy] section is a
 * list whose lines add up, by design.  Returns the line of the repetition
 * (why says what, and where the first one is), or 0.
 */
static int
dup_scan(const char *text, char *why, size_t whylen)
{
	json_t *secs = json_object(), *cur = NULL, *o;
	const char *p = text, *nl;
	char line[1024], name[300], *s, *e;
	int lineno = 0, found = 0, have_key = 0;

	if (secs == NULL)
		return 0;
	/* Keys before any section: the handler refuses them. */
	cur = json_object();
	json_object_set_new(secs, "", cur);
	name[0] = '\0';
	for (; *p != '\0' && !found; p = nl != NULL ? nl + 1 : p +
	    strlen(p)) {
		size_t len;

		lineno++;
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;	/* inih refuses it anyway */
		memcpy(line, p, len);
		line[len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		s = trim(line);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (s != line && have_key)
			continue;		/* a continuation line */
		if (*s == '[') {
			if ((e = strchr(s, ']')) == NULL)
				continue;	/* inih's syntax error */
			*e = '\0';
			s = trim(s + 1);
			if (strncmp(s, "policy ", 7) == 0)
				snprintf(name, sizeof(name), "policy %s",
				    trim(s + 7));
			else
				snprintf(name, sizeof(name), "%s", s);
			if ((o = json_object_get(secs, name)) != NULL) {
				snprintf(why, whylen, "section [%s] appears "
				    "twice (first at line %lld); merge them",
				    name, (long long)json_integer_value(
				    json_object_get(o, "")));
				found = lineno;
				break;
			}
			cur = json_object();
			json_object_set_new(cur, "", json_integer(lineno));
			json_object_set_new(secs, name, cur);
			have_key = 0;
			continue;
		}
		if ((e = strpbrk(s, "=:")) == NULL)
			continue;		/* inih's syntax error */
		*e = '\0';
		s = trim(s);
		have_key = 1;
		if (*s == '\0')
			continue;
		/* A list key whose lines add up (docs/policy.md). */
		if (strcmp(s, "deny_words") == 0 && strncmp(name, "policy ",
		    7) == 0)
			continue;
		if ((o = json_object_get(cur, s)) != NULL) {
			snprintf(why, whylen, "key '%s' appears twice in its "
			    "section (first at line %lld); keep one", s,
			    (long long)json_integer_value(o));
			found = lineno;
			break;
		}
		json_object_set_new(cur, s, json_integer(lineno));
	}
	json_decref(secs);
	return found;
}

/*
 * Parses and validates a configuration named path: from the file when text
 * is NULL, else from text (for fuzzing and tests).
 */
static int
config_load(const char *path, const char *text, struct vd_config **out)
{
	struct parse p;
	struct vd_config *c;
	char *owned = NULL, dwhy[400];
	int line, dline, r;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return VD_ENOMEM;
	c->idle_timeout = 60;
	c->max_clients = 256;
	c->concurrency = 4;
	c->retry_min = 60;
	c->retry_max = 3600;
	c->retry_limit = 10;
	c->connect_timeout = 10;
	c->check_interval = 86400;
	c->min_every = 60;		/* a cadence typed as 30s for 30d */
	if ((c->path = strdup(path)) == NULL ||
	    (c->policy_raw = json_object()) == NULL ||
	    (c->escrow = json_object()) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
#if VD_HAVE_POLICYSET
	if ((r = vd_policyset_new((struct vd_policyset **)&c->policies)) != 0)
		goto out;
#endif
	p.cfg = c;
	p.file = path;
	if (text == NULL) {
		if ((r = read_text(path, &owned)) != 0)
			goto out;
		text = owned;
	}
	dline = dup_scan(text, dwhy, sizeof(dwhy));
	line = ini_parse_string(text, handler, &p);
	if (line < 0) {			/* inih: out of memory */
		r = VD_ENOMEM;
		goto out;
	}
	/* The first problem in the file, whichever finds it. */
	if (dline > 0 && (line == 0 || dline < line)) {
		r = vd_err_set(VD_ECONFIG, "%s:%d: %s", path, dline, dwhy);
		goto out;
	}
	if (line > 0) {
		r = vd_err_set(VD_ECONFIG, "%s:%d: %s", path, line,
		    p.why[0] ? p.why : "syntax error");
		goto out;
	}
	if (c->data_dir == NULL) {
		r = vd_err_set(VD_ECONFIG, "%s: [vault] data_dir is required",
		    path);
		goto out;
	}
	if (c->socket == NULL && (c->socket = strdup(VD_SOCKET_DEFAULT)) ==
	    NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if (c->retry_max < c->retry_min) {
		r = vd_err_set(VD_ECONFIG, "%s: [rotation] retry_max is "
		    "below retry_min", path);
		goto out;
	}
#if VD_HAVE_POLICYSET
	vd_err_clear();
	if ((r = vd_policyset_finalize(c->policies)) != 0) {
		r = vd_err_set(VD_ECONFIG, "%s: policies: %s", path,
		    vd_err_detail());
		goto out;
	}
#endif
	*out = c;
	c = NULL;
	r = 0;
 out:
	free(owned);
	vd_config_free(c);
	return r;
}

/* Loads and validates a configuration file. */
int
vd_config_load(const char *path, struct vd_config **out)
{
	return config_load(path, NULL, out);
}

/* Parses and validates configuration text; name appears in errors. */
int
vd_config_load_string(const char *name, const char *text,
    struct vd_config **out)
{
	return config_load(name, text, out);
}

/* Frees a configuration. */
void
vd_config_free(struct vd_config *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < VD_NROLES; i++)
		acl_free(c->acl[i]);
#if VD_HAVE_POLICYSET
	vd_policyset_free(c->policies);
#endif
	json_decref(c->policy_raw);
	json_decref(c->escrow);
	free(c->path);
	free(c->data_dir);
	free(c->key_file);
	free(c->socket);
	free(c->user);
	free(c->notify_command);
	free(c);
}

static int
entry_matches(const struct vd_acl_entry *e, const char *user,
    const gid_t *groups, int ngroups)
{
	if (!e->group)
		return user != NULL && strcmp(e->name, user) == 0;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == e->gid)
			return 1;
	return 0;
}

/* Returns the caller's role mask. */
unsigned
vd_config_roles(const struct vd_config *cfg, const char *user,
    const gid_t *groups, int ngroups)
{
	unsigned roles = 0;

	for (int i = 0; i < VD_NROLES; i++)
		for (const struct vd_acl_entry *e = cfg->acl[i]; e != NULL;
		    e = e->next)
			if (entry_matches(e, user, groups, ngroups))
				roles |= 1u << i;
	return roles;
}

static int acl_allows(const struct vd_acl_entry *list, const char *user,
    const gid_t *groups, int ngroups, const char *target);

/* Returns 1 when the caller may reveal target. */
int
vd_config_can_reveal(const struct vd_config *cfg, const char *user,
    const gid_t *groups, int ngroups, const char *target)
{
	if (vd_config_roles(cfg, user, groups, ngroups) & VD_ROLE_ADMIN)
		return 1;
	return acl_allows(cfg->acl[2], user, groups, ngroups, target);
}

/*
 * Returns 1 when an entry of list matches the caller and lists target (or
 * no targets at all).
 */
static int
acl_allows(const struct vd_acl_entry *list, const char *user,
    const gid_t *groups, int ngroups, const char *target)
{
	for (const struct vd_acl_entry *e = list; e != NULL; e = e->next) {
		if (!entry_matches(e, user, groups, ngroups))
			continue;
		if (e->ntargets == 0)
			return 1;
		for (size_t i = 0; i < e->ntargets; i++)
			if (strcmp(e->targets[i], target) == 0)
				return 1;
	}
	return 0;
}

/* Returns 1 when the caller is an approver of target (admin is not enough). */
int
vd_config_can_approve(const struct vd_config *cfg, const char *user,
    const gid_t *groups, int ngroups, const char *target)
{
	return acl_allows(cfg->acl[4], user, groups, ngroups, target);
}

/* Returns 1 when policy name exists. */
int
vd_config_policy_known(const struct vd_config *cfg, const char *name)
{
#if VD_HAVE_POLICYSET
	return vd_policyset_get(cfg->policies, name) != NULL;
#else
	return strcmp(name, "default") == 0 ||
	    json_object_get(cfg->policy_raw, name) != NULL;
#endif
}
