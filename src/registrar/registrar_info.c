/*
 * registrar_info — the registrar's users as data, for whoever shows them:
 * the monitor's `users` (monitor/monitor_users.c) and the remote API's
 * `users_get` (manual §6.6). Nothing here formats text.
 */
#include <string.h>

#include "registrar/registrar_int.h"

void registrar_user_info_get(const struct registrar *reg, const struct hss_user *u,
			     struct registrar_user_info *out)
{
	const struct reg_user *ru = reg_user_find(reg, u);

	memset(out, 0, sizeof(*out));
	out->user = u;
	out->registered = ru && ru->bindings;
	out->algo = ru ? ru->algo : -1;
	out->nsub = ru ? ru->nsub : 0;
}

bool registrar_user_next(const struct registrar *reg, struct registrar_user_cursor *c,
			 struct registrar_user_info *out)
{
	const struct hss_user *u = hss_user_at(reg->hss, c->next);

	if (!u)
		return false;
	c->next++;
	registrar_user_info_get(reg, u, out);
	return true;
}
