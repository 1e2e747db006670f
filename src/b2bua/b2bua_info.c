/*
 * b2bua_info — the calls as data for the monitor (`dialog`, `dialog_set`)
 * and the remote API (dialog_get, dialog_set; manual §6): each call is one
 * dialog of type server (the caller's side, imsd the UAS) with its
 * associated mt dialog (the callee's side), or one echo dialog. Stopped
 * calls stay listed for the linger (30 s). Nothing here formats text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
	return b2bua_dialog_stop_reason(b, index, NULL);
}

/* RFC 3261 §25.1 token characters. */
static bool is_token(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 32)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-.!%*_+`'~", *s))
			return false;
	return true;
}

/* "Reason: ...\r\n" (RFC 3326 §2) into buf; "" when p sets nothing. */
static int reason_hdr(const struct b2bua_stop_prm *p, char *buf, size_t size)
{
	const char *proto = p && p->protocol && p->protocol[0] ? p->protocol : "SIP";
	size_t n, k = 0;
	char text[2 * 128 + 1];

	buf[0] = '\0';
	if (!p || (!p->code && !p->reason && !p->protocol))
		return 0;
	if (!is_token(proto) || p->code > 65535 || (p->reason && strlen(p->reason) > 128))
		return EINVAL;
	for (const char *r = p->reason; r && *r; r++) {
		if ((unsigned char)*r < 0x20 || *r == 0x7f)
			return EINVAL;
		if (*r == '"' || *r == '\\') /* §25.1 quoted-pair */
			text[k++] = '\\';
		text[k++] = *r;
	}
	text[k] = '\0';
	n = (size_t)snprintf(buf, size, "Reason: %s", proto);
	if (p->code && n < size)
		n += (size_t)snprintf(buf + n, size - n, ";cause=%u", p->code);
	if (p->reason && n < size)
		n += (size_t)snprintf(buf + n, size - n, ";text=\"%s\"", text);
	if (n < size)
		n += (size_t)snprintf(buf + n, size - n, "\r\n");
	return n < size ? 0 : E2BIG;
}

int b2bua_dialog_stop_reason(struct b2bua *b, uint32_t index, const struct b2bua_stop_prm *p)
{
	struct b2b_call *c = b2b_call_get(b, index);
	char hdr[512];

	if (!c)
		return ENOENT;
	if (reason_hdr(p, hdr, sizeof(hdr)))
		return EINVAL;
	if (c->state == B2BUA_STOP)
		return EALREADY;
	c->bye_hdrs = hdr[0] ? hdr : NULL; /* b2b_bye: while it ends */
	/* and the CANCELs of a call still ringing (b2b_cancel_legs) */
	(void)b2b_cancel_hdrs_set(c, pl_from_str(hdr));
	b2b_end_both(c, "dialog_set stop");
	c->bye_hdrs = NULL;
	return 0;
}
