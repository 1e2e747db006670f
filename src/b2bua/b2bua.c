/*
 * b2bua — entry points: a new INVITE (from the CSCF stage), CANCEL (from
 * the stack: hop by hop, RFC 3261 §9.2), requests in no dialog (481), the
 * registrar's binding changes (a call ends when a leg's binding goes), and
 * the b2bua's life. The callee is looked up here by any IMPU form
 * (docs/hss.md: sip user part, tel, sip:+...;user=phone):
 *
 *   an echo IMPU                       the echo service (b2bua_echo.c)
 *   no user (tel: too: no trunk yet)   404 Not Found
 *   users, none registered             480 Temporarily Unavailable
 *   the callee IMPU has ring_only      180 from imsd, nothing further
 *   otherwise                          forked to every binding (b2bua_fsm.c)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "b2bua/b2bua_prack.h"
#include "core/log.h"
#include "core/mem.h"
#include "media/media.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"

static void reply(struct b2bua *b, struct sip_tsx *tsx, uint16_t scode,
		  const char *reason)
{
	(void)sip_stack_reply(b->prm.stack, tsx, scode, reason, NULL);
}

void b2bua_no_dialog(struct b2bua *b, struct sip_tsx *tsx, const struct sip_msg *req)
{
	(void)req;
	reply(b, tsx, 481, "Call/Transaction Does Not Exist");
}

void b2b_touch(struct b2b_call *c)
{
	c->last_ms = loop_now_ms();
}

/* The callee as the log and dialog_get name it: the IMPU dialled, without
 * URI parameters (";transport=udp", ";user=phone"). */
static char *callee_name(const struct sip_msg *req)
{
	struct sip_uri u;
	char buf[HSS_URI_MAX];
	int n;

	if (sip_uri_decode(&u, req->ruri))
		return pl_strdup(req->ruri);
	if (u.scheme == SIP_URI_TEL)
		n = snprintf(buf, sizeof(buf), "tel:%.*s", (int)u.user.l, u.user.p);
	else if (u.scheme == SIP_URI_SIP || u.scheme == SIP_URI_SIPS)
		n = snprintf(buf, sizeof(buf), "%.*s:%.*s%s%.*s", (int)u.scheme_pl.l,
			     u.scheme_pl.p, (int)u.user.l, u.user.p, u.user.l ? "@" : "",
			     (int)u.host.l, u.host.p);
	else
		return pl_strdup(req->ruri);
	return n < 0 || (size_t)n >= sizeof(buf) ? pl_strdup(req->ruri) : strdup(buf);
}

static int call_setup(struct b2bua *b, const struct b2bua_invite *inv, bool echo,
		      struct b2b_call **cp)
{
	struct b2b_call *c = NULL;
	char rnd[17];
	int err;

	err = b2b_call_new(b, &c);
	if (err)
		return err;
	c->from = strdup(inv->asserted ? inv->asserted : "");
	c->to = callee_name(inv->req);
	b2b_rand_hex(b, rnd, 16);
	c->callid_b = malloc(strlen(rnd) + 48);
	if (!c->from || !c->to || !c->callid_b) {
		b->calls[c->index] = NULL;
		b->st.live--;
		mem_deref(c);
		return ENOMEM;
	}
	snprintf(c->callid_b, strlen(rnd) + 48, "%s@%s", rnd,
		 sip_stack_local_uri_host(b->prm.stack, 0));
	b2b_rand_hex(b, c->icid, 16);
	c->orig = inv->orig;
	c->orig_impu = inv->orig_impu;
	c->a_flow = *inv->flow;
	c->a_inv = mem_ref((void *)inv->req);
	c->a_tsx = sip_tsx_id(inv->tsx);
	if (sip_msg_hdr(inv->req, SIP_HDR_CALL_ID))
		c->callid_a = pl_strdup(sip_msg_hdr(inv->req, SIP_HDR_CALL_ID)->val);
	c->type = echo ? B2BUA_ECHO : B2BUA_SERVER;
	c->a_offer = b2b_is_sdp(inv->req);
	err = b2b_media_start(c);
	if (err) {
		b2b_stop(c, "no media session");
		return err;
	}
	sip_tsx_tu_data_set(inv->tsx, c);
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_INVITE, 0);
	b2b_notify(c);
	*cp = c;
	return 0;
}

static uint16_t invite_check(const struct b2bua_invite *inv, const char **reason)
{
	const struct sip_hdr *mf = sip_msg_hdr(inv->req, SIP_HDR_MAX_FORWARDS);
	uint32_t v;

	if (inv->in_dialog) {
		*reason = "Call/Transaction Does Not Exist";
		return 481;
	}
	if (!inv->orig) {
		*reason = "Forbidden - not from a registered flow";
		return 403;
	}
	if (mf && !sip_uint_decode(mf->val, 255, &v) && v == 0) {
		*reason = "Too Many Hops"; /* RFC 3261 §16.3 step 3 */
		return 483;
	}
	if (!sip_msg_hdr(inv->req, SIP_HDR_CONTACT)) {
		*reason = "Bad Request - no Contact";
		return 400;
	}
	return 0;
}

void b2bua_invite(struct b2bua *b, const struct b2bua_invite *inv)
{
	struct hss_impu_match term[B2BUA_TERM_MAX];
	const struct ims_cfg_cfm *inv_cfm[B2BUA_TERM_MAX];
	const char *reason = NULL;
	struct b2b_call *c = NULL;
	uint16_t scode;
	size_t n = 0;
	enum b2b_rel_mode rel;
	bool echo;
	int err;

	scode = invite_check(inv, &reason);
	if (scode) {
		reply(b, inv->tsx, scode, reason);
		return;
	}
	if (b2b_se_reject(b, inv)) /* RFC 4028 §8.1: 422 (b2bua_timer.c) */
		return;
	echo = hss_is_echo(b->prm.hss, inv->req->ruri);
	if (!echo)
		n = hss_users_by_impu(b->prm.hss, inv->req->ruri, term, B2BUA_TERM_MAX);
	if (!echo && !n) {
		/* a tel: number of no user would go to the trunk (not yet) */
		reply(b, inv->tsx, 404, "Not Found");
		return;
	}
	if (b2b_prack_check(b, inv, &rel) || b2b_precond_check(b, inv))
		return; /* 420: requires 100rel or precondition, which is off */
	err = call_setup(b, inv, echo, &c);
	if (!err && b2b_prack_init(c, rel)) {
		b2b_stop(c, "no memory for 100rel");
		err = ENOMEM;
	}
	if (!err && b2b_st_init(c)) { /* RFC 4028 (b2bua_st.c) */
		b2b_stop(c, "no memory for session timers");
		err = ENOMEM;
	}
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "cannot take a call: %s", strerror(err));
		reply(b, inv->tsx, 503,
		      err == ENOSPC ? "Service Unavailable - too many calls"
				    : "Service Unavailable");
		return;
	}
	b2b_cfm_trying(c, term, n); /* callflow_modifier INVITE.TRYING */
	if (echo) {
		b2b_echo_start(c);
		return;
	}
	if (hss_impu_opts(term[0].user, term[0].impu)->ring_only) {
		/* manual §5.2.1 ring_only: up to ringing and no further */
		c->callee = term[0].user; /* its callflow_modifier list */
		c->callee_impu = term[0].impu;
		if (b2b_cfm_own(c, 180)) /* a code in place of the 180 */
			return;
		b2b_answer_a(c, 180, "Ringing", NULL, NULL);
		b2b_ring_timer_start(c);
		return;
	}
	b2b_cfm_invite(c, term, n, inv_cfm); /* callflow_modifier */
	c->cfm_invs = inv_cfm;
	(void)b2b_fork(c, term, n, &scode, &reason);
	c->cfm_invs = NULL;
	if (scode) {
		b2b_answer_a(c, scode, reason, NULL, NULL);
		b2b_stop(c, scode == 480 ? "callee not registered" : reason);
		return;
	}
	b2b_ring_timer_start(c);
}

/* ---- CANCEL (RFC 3261 §9.2) ---- */

/* The caller's Reason lines (RFC 3326 §2) go on the CANCELs to the
 * branches, as a proxy forwards them; lines past B2B_CANCEL_HDRS_MAX
 * bytes are left out. */
static void cancel_reason(struct b2b_call *c, const struct sip_msg *req)
{
	char buf[B2B_CANCEL_HDRS_MAX];
	size_t n = 0;
	int last = -1;

	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_REASON); h;
	     h = sip_msg_hdr_next(req, h)) {
		if (h->line_no == last || h->line.l > sizeof(buf) - n)
			continue;
		last = h->line_no;
		memcpy(buf + n, h->line.p, h->line.l);
		n += h->line.l;
	}
	(void)b2b_cancel_hdrs_set(c, (struct pl){buf, n});
}

static void cancel_h(struct sip_stack *stack, struct sip_tsx *tsx,
		     const struct sip_msg *req, const struct net_flow *src, void *arg)
{
	struct b2bua *b = arg;
	struct sip_tsx *inv = sip_tsx_cancel_target(tsx);
	struct b2b_call *c = inv ? sip_tsx_tu_data(inv) : NULL;
	const struct ims_cfg_cfm *cm = NULL;

	(void)src;
	if (!inv) {
		reply(b, tsx, 481, "Call/Transaction Does Not Exist");
		return;
	}
	/* callflow_modifier: a code in place of the 200 (b2bua_cfm.c) */
	if (c && sip_tsx_state(inv) == SIP_TSX_PROCEEDING &&
	    b2b_cfm_dlg_request(c, B2B_A, tsx, req, &cm))
		return;
	/* the CANCEL matched: 200, whatever the INVITE's state */
	(void)sip_stack_reply(stack, tsx, 200, "OK", NULL);
	if (sip_tsx_state(inv) != SIP_TSX_PROCEEDING || (c && b2b_cfm_2xx_held(c)))
		return; /* a CANCEL after the final (or its 2xx held): no effect */
	if (!c || c->state == B2BUA_STOP) {
		(void)sip_stack_reply(stack, inv, 487, "Request Terminated", NULL);
		return;
	}
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_CANCEL, 0);
	if (b2b_prack_cancel_held(c)) /* its 2xx still waiting for a PRACK */
		return;
	cancel_reason(c, req);
	if (cm) /* callflow_modifier: its headers on the CANCELs */
		b2b_cfm_cancel_hdrs(c, cm);
	b2b_cancel_legs(c);
	b2b_answer_a(c, 487, "Request Terminated", NULL, NULL);
	b2b_stop(c, "CANCEL from the caller");
}

/* ---- a leg's binding goes ---- */

static void gone_h(void *arg)
{
	b2b_end_both(arg, "a leg's binding was removed");
}

static bool same_flow(const struct net_flow *a, const struct net_flow *b)
{
	return a->reliable == b->reliable && net_addr_eq(&a->peer, &b->peer);
}

static void watch_h(const struct registrar_change_info *ci, void *arg)
{
	struct b2bua *b = arg;

	if (ci->change != REGISTRAR_BINDING_REMOVED || !ci->binding)
		return;
	for (uint32_t i = 1; i < b->ncalls_cap; i++) {
		struct b2b_call *c = b->calls[i];
		bool hit;

		if (!c || c->state == B2BUA_STOP)
			continue;
		hit = c->orig == ci->user && same_flow(&c->a_flow, &ci->binding->flow);
		if (!hit && c->win >= 0)
			hit = c->leg[c->win].user == ci->user &&
			      same_flow(&c->leg[c->win].flow, &ci->binding->flow);
		/* not from inside the registrar's change: next loop turn */
		if (hit)
			loop_timer_start(c->t_idle, 0, gone_h, c);
	}
}

/* ---- the b2bua ---- */

static void b2bua_destroy(void *arg)
{
	struct b2bua *b = arg;

	if (b->prm.reg)
		registrar_watch_del(b->prm.reg, watch_h, b);
	if (b->prm.stack)
		(void)sip_stack_method_set(b->prm.stack, SIP_METHOD_CANCEL, NULL, NULL);
	for (uint32_t i = 0; i < b->ncalls_cap; i++) {
		struct b2b_call *c = b->calls[i];

		if (!c)
			continue;
		b->calls[i] = NULL;
		mem_deref(c);
	}
	free(b->calls);
}

int b2bua_alloc(struct b2bua **bp, const struct b2bua_prm *prm)
{
	struct b2bua *b;
	int err;

	if (!bp || !prm || !prm->stack || !prm->hss || !prm->reg)
		return EINVAL;
	b = mem_zalloc(sizeof(*b), b2bua_destroy);
	if (!b)
		return ENOMEM;
	b->prm = *prm;
	if (!b->prm.timer_c_ms)
		b->prm.timer_c_ms = B2BUA_TIMER_C_MS;
	if (!b->prm.linger_ms)
		b->prm.linger_ms = B2BUA_LINGER_MS;
	if (!b->prm.calls_max)
		b->prm.calls_max = B2BUA_CALLS_MAX;
	b->next_index = 1;
	err = registrar_watch_add(prm->reg, watch_h, b);
	if (err) {
		b->prm.reg = NULL;
		goto out;
	}
	err = sip_stack_method_set(prm->stack, SIP_METHOD_CANCEL, cancel_h, b);
out:
	if (err)
		mem_deref(b);
	else
		*bp = b;
	return err;
}

static size_t str_mem(const char *s)
{
	return s ? strlen(s) + 1 + 16 : 0;
}

static size_t msg_mem(const struct sip_msg *m)
{
	return m ? sizeof(*m) + m->raw.l + 32 : 0;
}

static size_t call_mem(const struct b2b_call *c)
{
	size_t n = sizeof(*c) + 16 + 5 * 64; /* the call and its five timers */

	n += str_mem(c->from) + str_mem(c->to) + str_mem(c->callid_a) +
	     str_mem(c->callid_b) + str_mem(c->mt_contact);
	n += c->aw.ack.size + c->aw.rh.size + c->aw.rct.size + c->aw.rbody.size +
	     c->sdp_b.size + c->sdp_b2.size + c->sdp_to[B2B_A].size + c->sdp_to[B2B_B].size;
	n += msg_mem(c->a_inv);
	n += c->a ? sip_dialog_mem(c->a) : 0;
	n += c->bd ? sip_dialog_mem(c->bd) : 0;
	n += b2b_prack_mem(c);
	n += b2b_st_mem(c);
	for (size_t i = 0; i < c->nlegs; i++)
		n += msg_mem(c->leg[i].inv) + c->leg[i].sdp_last_len;
	n += c->ms ? media_session_mem(c->ms) : 0;
	n += c->ms2 ? media_session_mem(c->ms2) : 0;
	return n;
}

void b2bua_stats_get(const struct b2bua *b, struct b2bua_stats *st)
{
	*st = b->st;
	st->mem_bytes = b->ncalls_cap * sizeof(b->calls[0]);
	for (uint32_t i = 1; i < b->ncalls_cap; i++)
		if (b->calls[i])
			st->mem_bytes += call_mem(b->calls[i]);
}
