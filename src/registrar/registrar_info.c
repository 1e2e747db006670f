/*
 * registrar_info — the registrar's users as data, for whoever shows them:
 * the monitor's `users` (monitor/monitor_users.c) and the remote API's
 * `users_get` (manual §6.6); and the watchers told of each binding's change
 * (registrar_watch_add). Nothing here formats text.
 */
#include <errno.h>
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

void reg_binding_info_fill(const struct registrar *reg, const struct reg_binding *b,
			   struct registrar_binding_info *bi)
{
	struct sip_addr a;

	memset(bi, 0, sizeof(*bi));
	bi->contact = (struct pl){b->data, b->contact_len};
	bi->uri = bi->contact;
	if (!sip_addr_decode(&a, bi->contact))
		bi->uri = a.uri;
	reg_flow_get(&b->flow, &bi->flow);
	bi->src = bi->flow;
	reg_ipsec_dst_map(reg, b->user, &bi->flow); /* where requests go */
	bi->expires = reg_binding_left(reg, b);
	bi->q1000 = b->q1000;
	bi->reg_id = b->reg_id;
	bi->imei = b->imei;
	bi->id = b->id;
}

int registrar_watch_add(struct registrar *reg, registrar_watch_h *h, void *arg)
{
	if (!reg || !h)
		return EINVAL;
	for (uint32_t i = 0; i < reg->nwatch; i++) {
		if (reg->watch[i].h == h && reg->watch[i].arg == arg)
			return EALREADY;
	}
	if (reg->nwatch == REGISTRAR_WATCH_MAX)
		return ENOSPC;
	reg->watch[reg->nwatch].h = h;
	reg->watch[reg->nwatch].arg = arg;
	reg->nwatch++;
	return 0;
}

void registrar_watch_del(struct registrar *reg, registrar_watch_h *h, void *arg)
{
	for (uint32_t i = 0; reg && i < reg->nwatch; i++) {
		if (reg->watch[i].h != h || reg->watch[i].arg != arg)
			continue;
		memmove(&reg->watch[i], &reg->watch[i + 1],
			(reg->nwatch - i - 1) * sizeof(reg->watch[0]));
		reg->nwatch--;
		return;
	}
}

static const char *reg_event_reason(enum reg_event ev)
{
	switch (ev) {
	case REG_EV_REFRESHED:
		return "refreshed";
	case REG_EV_SHORTENED:
		return "shortened";
	case REG_EV_EXPIRED:
		return "expired";
	case REG_EV_DEACTIVATED:
		return "deactivated";
	case REG_EV_UNREGISTERED:
		return "unregistered";
	case REG_EV_REJECTED:
		return "rejected";
	default:
		return "registered";
	}
}

void reg_watch_emit(struct registrar *reg, const struct reg_binding *b)
{
	struct registrar_binding_info bi;
	struct registrar_change_info ci;

	if (!reg->nwatch)
		return;
	reg_binding_info_fill(reg, b, &bi);
	memset(&ci, 0, sizeof(ci));
	ci.user = b->user->u;
	ci.binding = &bi;
	ci.reason = reg_event_reason((enum reg_event)b->event);
	if (b->terminated)
		ci.change = REGISTRAR_BINDING_REMOVED;
	else if (b->event == REG_EV_REGISTERED || b->event == REG_EV_CREATED)
		ci.change = REGISTRAR_BINDING_ADDED;
	else
		ci.change = REGISTRAR_BINDING_REFRESHED;
	/* a watcher may remove itself (or another) while being told */
	for (uint32_t i = 0; i < reg->nwatch; i++) {
		registrar_watch_h *h = reg->watch[i].h;
		void *arg = reg->watch[i].arg;

		h(&ci, arg);
		if (i < reg->nwatch && (reg->watch[i].h != h || reg->watch[i].arg != arg))
			i--; /* the entry at i went: the next one moved into it */
	}
}
