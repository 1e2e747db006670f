/*
 * b2bua_mt — calls the server makes (manual §7 `mt_call`, §6 mt_call):
 * imsd is the caller. The callee is named by an IMPU (any form the HSS
 * takes), an IMPI, or the contact URI of one of its bindings (then only
 * that binding rings). The call is one dialog of type "mt" (imsd the UAC):
 *
 *   imsd                                  callee bindings
 *   INVITE (offer: sdp_file, else the   ─► every binding (forked, b2bua_fsm.c)
 *     IMPU's mt_call_sdp_file, else media_sdp_default_offer)
 *   first 2xx                           ◄─ ACK from imsd, state start;
 *     the relay echoes what the phone sends (media_session_offer_local)
 *   duration elapsed / dialog_set stop  ─► BYE
 *   BYE from the phone                  ◄─ 200, the call ends
 *   re-INVITE / UPDATE / INFO           ◄─ answered by imsd (echo)
 *
 * The rest of the b2bua sees an mt call as a call whose caller's side is
 * imsd: c->a_inv is an INVITE imsd builds for itself (From the caller IMPU,
 * To the callee, the offer as its body) so that the branches' INVITEs are
 * built as for any call; c->a stays NULL and nothing goes to a caller.
 * c->orig is the caller IMPU's user when the HSS knows it (P-Asserted-
 * Identity), else NULL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "media/media.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"

#define B2B_MT_SDP_MAX 16384u

/* The offer's template: file (sdp_file, else the callee user's
 * mt_call_sdp_file, else the global one), else the default offer. */
int b2b_sdp_file_read(const char *file, struct mbuf *out)
{
	char buf[B2B_MT_SDP_MAX];
	size_t n;
	FILE *f;
	int err = 0;

	if (!file || !file[0])
		return mbuf_write_str(out, media_sdp_default_offer);
	f = fopen(file, "re");
	if (!f)
		return errno;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || n == sizeof(buf))
		err = ferror(f) ? EIO : EFBIG;
	fclose(f);
	if (!err && !n)
		err = ENODATA;
	return err ? err : mbuf_write(out, buf, n);
}

/* ---- who is called ---- */

struct contact_find {
	struct pl uri;
	bool hit;
};

static void contact_h(const struct registrar_binding_info *bi, void *arg)
{
	struct contact_find *cf = arg;

	if (bi->uri.l == cf->uri.l && !strncasecmp(bi->uri.p, cf->uri.p, cf->uri.l))
		cf->hit = true;
}

/* term[0..] the users callee names; *contact set when it is a binding's
 * URI. Returns how many (0: nobody). */
static size_t callee_find(const struct b2bua *b, const char *callee,
			  struct hss_impu_match *term, bool *contact)
{
	struct hss_user *users[B2BUA_TERM_MAX];
	struct pl p = pl_from_str(callee);
	size_t n;

	*contact = false;
	n = hss_users_by_impu(b->prm.hss, p, term, B2BUA_TERM_MAX);
	for (size_t i = 0; i < n; i++) {
		/* "sip:bob@192.0.2.7:5060" names user bob too: a binding's URI
		 * rings that binding only */
		struct contact_find cf = {.uri = p};

		registrar_bindings_foreach(b->prm.reg, term[i].user, contact_h, &cf);
		if (cf.hit) {
			term[0] = term[i];
			*contact = true;
			return 1;
		}
	}
	if (n)
		return n;
	n = hss_users_by_impi(b->prm.hss, p, users, B2BUA_TERM_MAX);
	for (size_t i = 0; i < n; i++) {
		term[i].user = users[i];
		term[i].impu = hss_user_asserted(users[i]);
	}
	if (n)
		return n;
	/* a contact URI: the registered user one of whose bindings it is */
	for (uint32_t i = 0; i < hss_user_count(b->prm.hss); i++) {
		struct hss_user *u = hss_user_at(b->prm.hss, i);
		struct contact_find cf = {.uri = p};

		if (!u || !registrar_is_registered(b->prm.reg, u))
			continue;
		registrar_bindings_foreach(b->prm.reg, u, contact_h, &cf);
		if (cf.hit) {
			term[0].user = u;
			term[0].impu = hss_user_asserted(u);
			*contact = true;
			return 1;
		}
	}
	return 0;
}

/* imsd's own INVITE, the call's c->a_inv (the branches' INVITEs copy its
 * From, To, Max-Forwards, Content-Type and body). */
static int self_invite(struct b2b_call *c, const char *callid, const struct mbuf *sdp)
{
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD};
	char tag[B2B_TAG_LEN + 1];
	struct mbuf mb;
	int err;

	b2b_rand_hex(c->b, tag, B2B_TAG_LEN);
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = mbuf_printf(&mb,
			  "INVITE %s SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n"
			  "From: <%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s\r\n"
			  "CSeq: 1 INVITE\r\nMax-Forwards: 71\r\n"
			  "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n"
			  "%.*s",
			  c->to, sip_stack_local_uri_host(c->b->prm.stack, 0), tag, c->from,
			  tag, c->to, callid, sdp->end, (int)sdp->end,
			  (const char *)sdp->buf);
	err = err ? err : sip_msg_decode_copy(&c->a_inv, mb.buf, mb.end, &dp);
	mbuf_reset(&mb);
	return err;
}

/* c->from, c->to, c->orig from the parameters. */
static int names_set(struct b2b_call *c, const struct b2bua_mt_prm *p,
		     const struct hss_impu_match *term, bool contact)
{
	const struct ims_cfg *cfg = c->b->prm.cfg;
	struct hss_impu_match caller[1];
	char uri[HSS_URI_MAX];

	if (p->caller && p->caller[0]) {
		c->from = strdup(p->caller);
		if (hss_users_by_impu(c->b->prm.hss, pl_from_str(p->caller), caller, 1)) {
			c->orig = caller[0].user;
			c->orig_impu = caller[0].impu;
		}
	} else {
		snprintf(uri, sizeof(uri), "sip:imsd@%s",
			 cfg && cfg->domain ? cfg->domain
					    : sip_stack_local_uri_host(c->b->prm.stack, 0));
		c->from = strdup(uri);
	}
	if (contact || (strncmp(p->callee, "sip:", 4) && strncmp(p->callee, "sips:", 5) &&
			strncmp(p->callee, "tel:", 4))) {
		/* an IMPI or a contact: To names the user's IMPU */
		if (hss_impu_uri(c->b->prm.hss, term[0].user, term[0].impu, uri,
				 sizeof(uri)))
			return ENAMETOOLONG;
		c->to = strdup(uri);
	} else {
		c->to = strdup(p->callee);
	}
	if (contact)
		c->mt_contact = strdup(p->callee);
	return !c->from || !c->to || (contact && !c->mt_contact) ? ENOMEM : 0;
}

static void duration_h(void *arg)
{
	b2b_end_both(arg, "mt_call duration elapsed");
}

static int mt_setup(struct b2bua *b, const struct b2bua_mt_prm *p,
		    const struct hss_impu_match *term, bool contact, struct b2b_call *c)
{
	const struct ims_cfg_ue *ue = hss_user_cfg(term[0].user);
	const char *file;
	char rnd[17];
	struct mbuf sdp;
	int err;

	c->type = B2BUA_MT;
	c->mt_duration_s = p->duration_s;
	err = names_set(c, p, term, contact);
	if (err)
		return err;
	b2b_rand_hex(b, rnd, 16);
	c->callid_b = malloc(strlen(rnd) + 48);
	if (!c->callid_b)
		return ENOMEM;
	snprintf(c->callid_b, strlen(rnd) + 48, "%s@%s", rnd,
		 sip_stack_local_uri_host(b->prm.stack, 0));
	c->callid_a = strdup(c->callid_b); /* the log's id of the call */
	if (!c->callid_a)
		return ENOMEM;
	b2b_rand_hex(b, c->icid, 16);
	c->a_offer = true;
	mbuf_init(&sdp, B2B_MT_SDP_MAX);
	file = p->sdp_file && p->sdp_file[0] ? p->sdp_file : ue->mt_call_sdp_file;
	err = b2b_sdp_file_read(file, &sdp);
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "mt_call %s: SDP file %s: %s", p->callee, file, strerror(err));
		err = EIO; /* not the callee's ENOENT */
	}
	err = err ? err : self_invite(c, c->callid_b, &sdp);
	mbuf_reset(&sdp);
	return err;
}

int b2bua_mt_call(struct b2bua *b, const struct b2bua_mt_prm *p, uint32_t *index,
		  uint16_t *scode)
{
	struct hss_impu_match term[B2BUA_TERM_MAX];
	const struct ims_cfg_cfm *inv_cfm[B2BUA_TERM_MAX];
	struct b2b_call *c = NULL;
	const char *reason = NULL;
	bool contact;
	size_t n;
	int err;

	*scode = 0;
	if (!b || !p || !p->callee || !p->callee[0] || strlen(p->callee) >= HSS_URI_MAX ||
	    (p->caller && strlen(p->caller) >= HSS_URI_MAX))
		return EINVAL;
	n = callee_find(b, p->callee, term, &contact);
	if (!n)
		return ENOENT;
	err = b2b_call_new(b, &c);
	if (err)
		return err;
	err = mt_setup(b, p, term, contact, c);
	if (err) {
		b2b_stop(c, "mt_call set-up failed");
		return err;
	}
	b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_INVITE, 0);
	b2b_notify(c);
	b2b_cfm_invite(c, term, n, inv_cfm); /* callflow_modifier */
	c->cfm_invs = inv_cfm;
	(void)b2b_fork(c, term, n, scode, &reason);
	c->cfm_invs = NULL;
	if (*scode) {
		b2b_stop(c, reason ? reason : "mt_call not sent");
		return *scode == 480 ? ENOTCONN : EIO;
	}
	b2b_ring_timer_start(c);
	*index = c->index;
	return 0;
}

/* ---- the call's side, as the rest of the b2bua hands it over ---- */

bool b2b_mt_binding_ok(const struct b2b_call *c, struct pl uri)
{
	return !c->mt_contact ||
	       (uri.l == strlen(c->mt_contact) && !strncasecmp(uri.p, c->mt_contact, uri.l));
}

int b2b_mt_offer(struct b2b_call *c, const struct b2b_leg *leg, struct b2b_sdp_err *e)
{
	struct media_session_prm sp = {0};
	struct media_local_prm lp = {0};
	int err;

	if (!c->b->prm.relay)
		return ENOENT; /* the template goes as it is */
	sp.id = c->callid_b;
	b2b_media_leg_prm(c->b, &sp.leg[MEDIA_LEG_B], leg->user, leg->impu, &leg->flow);
	/* leg A left unset: imsd itself, nothing opened there */
	err = c->ms ? 0 : media_session_alloc(&c->ms, c->b->prm.relay, &sp);
	lp.leg = MEDIA_LEG_B;
	lp.tmpl = c->a_inv->body.p;
	lp.tmpl_len = c->a_inv->body.l;
	lp.out = &c->sdp_b;
	lp.reason = e->text;
	lp.reason_size = sizeof(e->text);
	e->text[0] = '\0';
	err = err ? err : media_session_offer_local(c->ms, &lp);
	if (err) {
		e->scode = err == ENOSPC ? 503 : 488;
		e->reason = err == ENOSPC ? "Service Unavailable - no media port free"
					  : "Not Acceptable Here";
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_b,
			  "call %u: mt_call offer: %s%s%s", c->index, strerror(err),
			  e->text[0] ? ": " : "", e->text);
	}
	return err;
}

void b2b_mt_won(struct b2b_call *c, const struct sip_msg *resp)
{
	struct sip_dialog_req_prm rq = {.method = PL("ACK")};
	char reason[128] = "";
	struct media_sdp_prm mp = {0};
	int err, serr = 0;

	/* the binding's settings were taken again (b2b_media_leg_b): echo */
	if (c->ms)
		media_session_echo_set(c->ms, MEDIA_LEG_B, true);
	if (c->ms && b2b_is_sdp(resp)) {
		/* the phone's answer: where the echo goes */
		mp.from = MEDIA_LEG_B;
		mp.sdp = resp->body.p;
		mp.len = resp->body.l;
		mp.reason = reason;
		mp.reason_size = sizeof(reason);
		serr = media_session_sdp(c->ms, &mp);
	}
	mbuf_clear(&c->aw.ack);
	err = sip_dialog_req_build(c->bd, &c->aw.ack, &rq);
	err = err ? err
		  : sip_stack_ack(c->b->prm.stack,
				  (struct pl){(const char *)c->aw.ack.buf, c->aw.ack.end},
				  sip_dialog_flow(c->bd));
	c->aw.acked = !err;
	if (!err)
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_ACK, 0);
	b2b_state(c, B2BUA_START);
	if (err || serr) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_b,
			  "call %u: mt_call answer: %s%s%s", c->index,
			  strerror(err ? err : serr), reason[0] ? ": " : "", reason);
		b2b_end_both(c, "mt_call answer not usable");
		return;
	}
	if (c->mt_duration_s)
		loop_timer_start(c->t_answer, (uint64_t)c->mt_duration_s * 1000,
				 duration_h, c);
}

/* A request from the phone inside the call (BYE is taken before): a
 * re-INVITE is answered by imsd (its offer echoed through the relay; 488
 * without the relay, which has no answer to make), UPDATE, INFO... get
 * 200. */
void b2b_mt_request(struct b2b_call *c, struct sip_tsx *tsx, const struct sip_msg *req)
{
	struct sip_tsx_reply_prm rp = {0};
	char contact[NET_ADDR_STRLEN + 64];
	struct media_local_prm lp = {0};
	struct mbuf sdp, h;
	int err = 0;

	if (req->meth != SIP_METHOD_INVITE) { /* an UPDATE refreshes (RFC 4028) */
		b2b_st_taken(c, B2B_B, tsx, req);
		return;
	}
	if (c->aw.on || c->reinvite) { /* glare with imsd's own re-INVITE too */
		rp.hdrs = PL("Retry-After: 1\r\n");
		(void)sip_stack_reply(c->b->prm.stack, tsx, 491, "Request Pending", &rp);
		return;
	}
	mbuf_init(&sdp, B2B_MT_SDP_MAX);
	if (b2b_is_sdp(req) && !c->ms)
		err = ENOTSUP;
	else if (b2b_is_sdp(req)) {
		lp.leg = MEDIA_LEG_B;
		lp.sdp = req->body.p;
		lp.len = req->body.l;
		lp.out = &sdp;
		err = media_session_answer_local(c->ms, &lp);
	}
	if (err) {
		(void)sip_stack_reply(c->b->prm.stack, tsx, 488, "Not Acceptable Here",
				      NULL);
		mbuf_reset(&sdp);
		return;
	}
	mbuf_init(&h, SIP_MSG_MAX_UDP);
	if (!b2b_contact(c->b, sip_dialog_flow(c->bd), contact, sizeof(contact)))
		(void)mbuf_printf(&h, "Contact: %s\r\n", contact);
	(void)b2b_st_resp_hdrs(c, B2B_B, NULL, &h); /* RFC 4028 §9 */
	rp.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (sdp.end) {
		rp.ctype = PL("application/sdp");
		rp.body = (struct pl){(const char *)sdp.buf, sdp.end};
		b2b_ctl_sdp_keep(c, B2B_B, rp.body); /* imsd's base */
	}
	b2b_2xx_keep(c, &rp);
	if (!sip_stack_reply(c->b->prm.stack, tsx, 200, "OK", &rp)) {
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 200);
		b2b_ack_wait_start(c, B2B_B, sip_tsx_id(tsx));
		b2b_st_refreshed(c); /* RFC 4028 §10 */
	}
	mbuf_reset(&h);
	mbuf_reset(&sdp);
}
