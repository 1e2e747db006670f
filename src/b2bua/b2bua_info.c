/*
 * b2bua_info — the calls as data for the monitor (`dialog`, `dialog_set`)
 * and the remote API (dialog_get, dialog_set; manual §6): each call is one
 * dialog of type server (the caller's side, imsd the UAS) with its
 * associated mt dialog (the callee's side), or one echo dialog. Stopped
 * calls stay listed for the linger (30 s). Nothing here formats text.
 */
#include <errno.h>

#include "b2bua/b2bua_int.h"

static void fill(const struct b2b_call *c, bool mt, struct b2bua_dialog_info *o)
{
	uint64_t end = c->stop_ms ? c->stop_ms : loop_now_ms();

	o->index = c->index;
	mt = mt || c->type == B2BUA_MT; /* an mt_call: its one dialog */
	o->session_id = mt ? c->sid_b : c->sid_a;
	o->state = c->state;
	o->type = mt ? B2BUA_MT : c->type;
	o->from = c->from ? c->from : "";
	o->to = c->to ? c->to : "";
	o->assoc = c->type != B2BUA_SERVER ? "" : mt ? c->sid_a : c->sid_b;
	o->callid = mt ? c->callid_b : c->callid_a;
	if (!o->callid)
		o->callid = "";
	o->date = c->date;
	o->duration = c->start_ms ? (double)(end - c->start_ms) / 1000.0 : 0;
	o->media = c->ms;
	o->media_leg = mt ? 1 : 0;
	o->events = c->ev;
	o->nevents = c->nev;
}

bool b2bua_dialog_next(const struct b2bua *b, struct b2bua_cursor *cur,
		       struct b2bua_dialog_info *out)
{
	for (uint32_t i = cur->next ? cur->next : 1; i < b->ncalls_cap; i++) {
		const struct b2b_call *c = b->calls[i];

		if (!c)
			continue;
		if (cur->mt) {
			cur->mt = false;
			cur->next = i + 1;
			fill(c, true, out);
			return true;
		}
		fill(c, false, out);
		if (c->type == B2BUA_SERVER && c->nlegs) {
			cur->mt = true;
			cur->next = i;
		} else {
			cur->next = i + 1;
		}
		return true;
	}
	cur->next = b->ncalls_cap;
	return false;
}

static bool callee_is(const struct b2b_call *c, const struct hss_user *u)
{
	if (c->win >= 0)
		return c->leg[c->win].user == u;
	for (size_t i = 0; i < c->nlegs; i++)
		if (c->leg[i].user == u)
			return true;
	return false;
}

size_t b2bua_user_dialogs(const struct b2bua *b, const struct hss_user *u,
			  b2bua_dialog_h *h, void *arg)
{
	struct b2bua_dialog_info di;
	size_t n = 0;

	for (uint32_t i = 1; i < b->ncalls_cap; i++) {
		const struct b2b_call *c = b->calls[i];

		if (!c)
			continue;
		if (c->orig == u && c->type != B2BUA_MT) {
			fill(c, false, &di);
			h(&di, arg);
			n++;
		}
		if (c->type != B2BUA_ECHO && callee_is(c, u)) {
			fill(c, true, &di);
			h(&di, arg);
			n++;
		}
	}
	return n;
}

int b2bua_call_users(const struct b2bua *b, uint32_t index, struct b2bua_call_users *out)
{
	const struct b2b_call *c = b2b_call_get(b, index);

	if (!c)
		return ENOENT;
	out->orig = c->orig;
	out->ncallee = 0;
	for (size_t i = 0; i < c->nlegs && i < B2BUA_LEGS_MAX; i++) {
		if (c->leg[i].user && (c->win < 0 || (size_t)c->win == i))
			out->callee[out->ncallee++] = c->leg[i].user;
	}
	return 0;
}

int b2bua_dialog_stop(struct b2bua *b, uint32_t index)
{
	struct b2b_call *c = b2b_call_get(b, index);

	if (!c)
		return ENOENT;
	if (c->state == B2BUA_STOP)
		return EALREADY;
	b2b_end_both(c, "dialog_set stop");
	return 0;
}
