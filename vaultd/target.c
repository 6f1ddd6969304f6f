/*
 * target.c - a target record decoded once (target.h).
 */
#include <string.h>

#include "err.h"
#include "target.h"

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
vd_target_decode(const json_t *rec, const char *name, struct vd_target *t)
{
	const json_t *ah = json_object_get(rec, "account_hosts"), *v;
	const char *s;
	size_t i;

	memset(t, 0, sizeof(*t));
	t->host = str(rec, "host");
	v = json_object_get(rec, "port");
	t->port = json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < 65536 ? (unsigned)json_integer_value(v) : 0;
	t->unix_socket = str(rec, "unix_socket");
	t->admin_user = str(rec, "admin_user");
	/*
	 * "required": TLS on every TCP route; "disabled" (an explicit
	 * `--tls disabled`): none, even to a remote host; absent: TLS to
	 * any host that is not loopback (the driver decides per route).
	 * Any other value fails safe to required.
	 */
	if ((s = str(rec, "tls")) == NULL)
		t->tls = VD_TARGET_TLS_DEFAULT;
	else if (strcmp(s, "disabled") == 0)
		t->tls = VD_TARGET_TLS_DISABLED;
	else
		t->tls = VD_TARGET_TLS_REQUIRED;
	t->tls_ca = str(rec, "tls_ca");
	t->auth = str(rec, "auth");
	t->admin_auth = str(rec, "admin_auth");
	t->policy = str(rec, "policy") ? str(rec, "policy") : "default";
	v = json_object_get(rec, "every");
	t->every = json_is_integer(v) && json_integer_value(v) > 0 ?
	    (int64_t)json_integer_value(v) : VD_TARGET_EVERY_DEFAULT;
	v = json_object_get(rec, "after_reveal");
	t->after_reveal = json_is_integer(v) && json_integer_value(v) >= 0 ?
	    (int64_t)json_integer_value(v) : -1;
	if (vd_window_parse(str(rec, "window"), &t->win) != 0)
		memset(&t->win, 0, sizeof(t->win));
	t->replica_of = str(rec, "replica_of");
	if (json_is_array(ah))
		json_array_foreach(ah, i, v) {
			if (t->nhosts == VD_TARGET_MAX_HOSTS)
				break;
			if (json_is_string(v))
				t->hosts[t->nhosts++] = json_string_value(v);
		}
	if ((t->user = str(rec, "user")) == NULL)
		return vd_err_set(VD_EINVAL, "target %s has no user", name);
	return 0;
}
