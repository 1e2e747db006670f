/*
 * registrar_sub — the reg event package (RFC 3680, RFC 6665, TS 24.229
 * §5.4.2.1): SUBSCRIBE to a user's registration state and the NOTIFYs
 * carrying application/reginfo+xml.
 *
 * Subscription states: active (from the 200 OK) -> terminated (the
 * subscriber sends Expires: 0, the subscription expires: reason=timeout;
 * the user de-registers or all bindings expire: noresource; the network
 * de-registers it: deactivated or rejected; a NOTIFY is refused with a
 * final non-2xx, times out or cannot be sent: removed without further
 * NOTIFY). The answer handler frees the subscription: it runs from the
 * loop, never inside the notify_send that started the NOTIFY (the SIP
 * stack's promise), so the walks over a user's subscriptions are safe.
 *
 * Who may subscribe (RFC 3680 §6): the watched user itself, i.e. a From
 * (or P-Asserted/P-Preferred-Identity) that is one of the user's IMPUs,
 * coming from the address of one of its registered bindings (the P-CSCF
 * check: without IPsec the source of the request is what ties it to the
 * registration). Anyone else gets 403.
 *
 * Each subscription is a UAS dialog of the SIP dialog layer (sip_dialog.h,
 * RFC 3261 §12) in the stack's dialog table, owned by the registrar: the
 * NOTIFYs are built by it (Request-URI, Route, CSeq, tags), and an in-dialog
 * SUBSCRIBE (refresh, or Expires: 0 to end it) reaches sub_dialog_h through
 * it, its CSeq checked (lower: 500) and its Contact made the target. A
 * SUBSCRIBE whose To tag names no dialog gets 481 here.
 *
 * Every NOTIFY carries the full document (state="full"); the version
 * counter increases by one per NOTIFY of a subscription. Contacts carry the
 * event of their last change: registered, created, refreshed, shortened,
 * expired, deactivated, unregistered, rejected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "auth/auth_codec.h"
#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"
#include "registrar/registrar_int.h"

static const char *const reg_event_names[] = {
    "registered",  "created",	"refreshed",	"shortened", "expired",
    "deactivated", "probation", "unregistered", "rejected",
};

const char *reg_event_name(enum reg_event ev)
{
	if ((unsigned)ev >= sizeof(reg_event_names) / sizeof(reg_event_names[0]))
		return "registered";
	return reg_event_names[ev];
}

static int xml_escape(struct mbuf *mb, struct pl s)
{
	int err = 0;

	for (size_t i = 0; i < s.l && !err; i++) {
		switch (s.p[i]) {
		case '&':
			err = mbuf_write_str(mb, "&amp;");
			break;
		case '<':
			err = mbuf_write_str(mb, "&lt;");
			break;
		case '>':
			err = mbuf_write_str(mb, "&gt;");
			break;
		case '"':
			err = mbuf_write_str(mb, "&quot;");
			break;
		default:
			err = mbuf_write(mb, &s.p[i], 1);
			break;
		}
	}
	return err;
}

static int reginfo_contact(const struct registrar *reg, struct mbuf *mb,
			   const struct reg_binding *b)
{
	struct pl contact = {b->data, b->contact_len}, uri = contact;
	struct sip_addr a;
	int err;

	if (!sip_addr_decode(&a, contact))
		uri = a.uri;
	err = mbuf_printf(mb, "    <contact id=\"c%u\" state=\"%s\" event=\"%s\"", b->id,
			  b->terminated ? "terminated" : "active",
			  reg_event_name((enum reg_event)b->event));
	if (!err && !b->terminated)
		err = mbuf_printf(mb, " expires=\"%u\"", reg_binding_left(reg, b));
	if (!err && b->q1000 != 1000)
		err = mbuf_printf(mb, " q=\"%u.%03u\"", b->q1000 / 1000, b->q1000 % 1000);
	if (!err)
		err = mbuf_write_str(mb, ">\n      <uri>");
	if (!err)
		err = xml_escape(mb, uri);
	if (!err)
		err = mbuf_write_str(mb, "</uri>\n");
	if (!err && b->imei[0])
		err = mbuf_printf(mb,
				  "      <unknown-param name=\"+sip.instance\">"
				  "&lt;urn:gsma:imei:%.8s-%.6s-0&gt;</unknown-param>\n",
				  b->imei, b->imei + 8);
	if (!err)
		err = mbuf_write_str(mb, "    </contact>\n");
	return err;
}

int reg_reginfo_build(const struct registrar *reg, struct mbuf *mb, struct reg_user *ru,
		      uint32_t version)
{
	uint32_t idx[64];
	char uri[HSS_URI_MAX];
	size_t n = hss_user_associated(ru->u, idx, 64);
	bool active = false;
	int err;

	for (const struct reg_binding *b = ru->bindings; b; b = b->next)
		active |= !b->terminated;
	if (n > 64)
		n = 64;
	err = mbuf_printf(
	    mb,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"%u\" "
	    "state=\"full\">\n",
	    version);
	for (size_t i = 0; i < n && !err; i++) {
		if (hss_impu_uri(reg->hss, ru->u, idx[i], uri, sizeof(uri)))
			continue;
		err = mbuf_write_str(mb, "  <registration aor=\"");
		if (!err)
			err = xml_escape(mb, pl_from_str(uri));
		if (!err)
			err = mbuf_printf(mb, "\" id=\"r%u_%u\" state=\"%s\">\n",
					  hss_user_index(reg->hss, ru->u), idx[i],
					  active ? "active" : "terminated");
		for (const struct reg_binding *b = ru->bindings; b && !err; b = b->next)
			err = reginfo_contact(reg, mb, b);
		if (!err)
			err = mbuf_write_str(mb, "  </registration>\n");
	}
	if (!err)
		err = mbuf_write_str(mb, "</reginfo>\n");
	return err;
}

/* ---- NOTIFY ---- */

/* The NOTIFY, built by the subscription's dialog (RFC 3261 §12.2.1.1:
 * Request-URI, Route, CSeq + 1, From/To with tags). */
static int notify_build(const struct registrar *reg, struct mbuf *mb, struct reg_sub *s,
			const char *substate)
{
	struct sip_dialog_req_prm dp;
	char hdrs[512], contact[160];
	struct mbuf body;
	int n, err;

	n = snprintf(hdrs, sizeof(hdrs), "Event: reg%s%s\r\nSubscription-State: %s\r\n",
		     s->event_id[0] ? ";id=" : "", s->event_id, substate);
	if (n < 0 || (size_t)n >= sizeof(hdrs))
		return E2BIG;
	snprintf(contact, sizeof(contact), "<sip:%s>", reg->host);
	mbuf_init(&body, 1u << 20);
	err = reg_reginfo_build(reg, &body, s->user, s->version);
	memset(&dp, 0, sizeof(dp));
	dp.method = PL("NOTIFY");
	dp.contact = pl_from_str(contact);
	dp.hdrs = (struct pl){hdrs, (size_t)n};
	dp.ctype = PL("application/reginfo+xml");
	dp.body = (struct pl){(const char *)body.buf, body.end};
	if (!err)
		err = sip_dialog_req_build(s->dlg, mb, &dp);
	mbuf_reset(&body);
	return err;
}

static void notify_send(struct registrar *reg, struct reg_sub *s, const char *substate)
{
	struct sip_stack_req_prm prm;
	struct net_flow dst;
	struct mbuf mb;
	int err;

	reg_store_mark(reg, s->user->u, REG_STORE_ALL);
	mbuf_init(&mb, 2u << 20);
	err = notify_build(reg, &mb, s, substate);
	s->version++;
	if (!err) {
		reg_flow_get(&s->flow, &dst);
		reg_ipsec_dst_map(reg, s->user, &dst);
		memset(&prm, 0, sizeof(prm));
		prm.req = (struct pl){(const char *)mb.buf, mb.end};
		prm.dst = &dst;
		prm.resp_h = registrar_notify_resp_h;
		prm.arg = reg;
		err = reg->ops.request(reg->stack, &prm, reg->ops.arg);
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "registrar: NOTIFY for %s not sent: %s",
			  sip_dialog_callid(s->dlg), strerror(err));
	mbuf_reset(&mb);
}

static void notify_active(struct registrar *reg, struct reg_sub *s)
{
	char st[64];
	uint64_t now = reg_now(reg);
	uint32_t left =
	    s->tmr.due > now ? (uint32_t)((s->tmr.due - now + 999) / 1000) : 0;

	snprintf(st, sizeof(st), "active;expires=%u", left);
	notify_send(reg, s, st);
}

void reg_sub_free(struct registrar *reg, struct reg_sub *s)
{
	struct reg_user *ru = s->user;

	for (struct reg_sub **pp = &ru->subs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			ru->nsub--;
			break;
		}
	}
	reg->nsubs--;
	reg_store_mark(reg, ru->u, REG_STORE_ALL);
	reg_store_gone(reg, ru->u, false);
	reg_tmr_del(reg, &s->tmr);
	reg_sub_destroy(s);
}

void reg_sub_notify_all(struct registrar *reg, struct reg_user *ru)
{
	bool active = false;

	for (const struct reg_binding *b = ru->bindings; b; b = b->next)
		active |= !b->terminated;
	/* The last binding going: one final NOTIFY, sent by terminate_all. */
	if (!active)
		return;
	for (struct reg_sub *s = ru->subs; s; s = s->next)
		notify_active(reg, s);
}

void reg_sub_terminate_all(struct registrar *reg, struct reg_user *ru, const char *reason)
{
	char st[64];

	snprintf(st, sizeof(st), "terminated;reason=%s", reason);
	while (ru->subs) {
		struct reg_sub *s = ru->subs;

		notify_send(reg, s, st);
		reg_sub_free(reg, s);
	}
}

void reg_sub_expired(struct registrar *reg, struct reg_sub *s)
{
	struct reg_user *ru = s->user;

	notify_send(reg, s, "terminated;reason=timeout");
	reg_sub_free(reg, s);
	reg_user_release(reg, ru);
}

/* ---- SUBSCRIBE ---- */

static void sub_dialog_h(struct sip_dialog *dlg, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct net_flow *flow, void *arg);

int reg_sub_link(struct registrar *reg, struct reg_user *ru, struct reg_sub *s)
{
	struct sip_dialog_owner o = {.req_h = sub_dialog_h, .arg = reg, .obj = s};
	int err = sip_dialogs_add(reg->dialogs, s->dlg, &o);

	if (err)
		return err;
	s->tmr.kind = REG_TMR_SUB;
	s->user = ru;
	s->next = ru->subs;
	ru->subs = s;
	ru->nsub++;
	reg->nsubs++;
	return 0;
}

void reg_sub_fields(const struct reg_sub *s, const char *f[REG_SUB_NSTR])
{
	f[REG_SUB_CALLID] = sip_dialog_callid(s->dlg);
	f[REG_SUB_LOCAL_TAG] = sip_dialog_local_tag(s->dlg);
	f[REG_SUB_REMOTE_TAG] = sip_dialog_remote_tag(s->dlg);
	f[REG_SUB_REMOTE_URI] = sip_dialog_remote_uri(s->dlg);
	f[REG_SUB_LOCAL_URI] = sip_dialog_local_uri(s->dlg);
	f[REG_SUB_TARGET] = sip_dialog_target(s->dlg);
	f[REG_SUB_ROUTES] = sip_dialog_routes(s->dlg);
	f[REG_SUB_EVENT_ID] = s->event_id;
}

static struct reg_sub *sub_alloc(struct pl event_id)
{
	struct reg_sub *s = calloc(1, sizeof(*s) + event_id.l + 1);

	if (s && event_id.l)
		memcpy(s->event_id, event_id.p, event_id.l);
	return s;
}

int reg_sub_alloc(struct reg_sub **sp, const struct pl str[REG_SUB_NSTR], uint32_t cseq,
		  uint32_t remote_cseq)
{
	struct sip_dialog_state st = {
	    .callid = str[REG_SUB_CALLID],
	    .local_tag = str[REG_SUB_LOCAL_TAG],
	    .remote_tag = str[REG_SUB_REMOTE_TAG],
	    .local_uri = str[REG_SUB_LOCAL_URI],
	    .remote_uri = str[REG_SUB_REMOTE_URI],
	    .target = str[REG_SUB_TARGET],
	    .routes = str[REG_SUB_ROUTES],
	    .local_cseq = cseq,
	    .remote_cseq = remote_cseq,
	};
	struct reg_sub *s;
	int err;

	if (str[REG_SUB_EVENT_ID].l > SIP_DIALOG_FIELD_MAX)
		return E2BIG;
	s = sub_alloc(str[REG_SUB_EVENT_ID]);
	if (!s)
		return ENOMEM;
	err = sip_dialog_restore(&s->dlg, &st);
	if (err) {
		free(s);
		return err;
	}
	*sp = s;
	return 0;
}

void reg_sub_destroy(struct reg_sub *s)
{
	if (!s)
		return;
	sip_dialog_end(s->dlg);
	mem_deref(s->dlg);
	free(s);
}

/* A subscription of ours named by a NOTIFY (as sent: From is us) or its
 * response: Call-ID, From tag (local), To tag (remote). */
static struct reg_sub *sub_of_notify(struct registrar *reg, const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CALL_ID);
	const struct sip_addr *from = sip_msg_from(m), *to = sip_msg_to(m);
	const struct sip_dialog_owner *o;
	struct sip_dialog *d;
	struct pl callid;

	if (!h || sip_callid_decode(h->val, &callid) || !from || !to)
		return NULL;
	d = sip_dialogs_find(reg->dialogs, callid, from->tag, to->tag);
	o = d ? sip_dialog_owner(d) : NULL;
	return o && o->req_h == sub_dialog_h && o->arg == reg ? o->obj : NULL;
}

void registrar_notify_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp,
			     uint16_t scode, void *arg)
{
	const struct sip_msg *m = resp ? resp : (tsx ? sip_tsx_req(tsx) : NULL);
	struct registrar *reg = arg;
	struct reg_sub *s;
	struct reg_user *ru;

	if (scode < 300 || !m)
		return;
	s = sub_of_notify(reg, m);
	if (!s)
		return;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "registrar: NOTIFY answered %u, subscription %s removed", scode,
		  sip_dialog_callid(s->dlg));
	ru = s->user;
	reg_sub_free(reg, s);
	reg_user_release(reg, ru);
}

struct sub_req {
	struct sip_addr to, from;
	struct sip_event ev;
	struct pl callid, target;
	uint32_t cseq;
	bool have_exp;
	uint32_t expires;
};

static uint16_t sub_req_read(const struct sip_msg *req, struct sub_req *r)
{
	const struct sip_addr *to, *from;
	const struct sip_cseq *cs;
	const struct sip_hdr *h;
	struct sip_addr contact;

	memset(r, 0, sizeof(*r));
	h = sip_msg_hdr(req, SIP_HDR_EVENT);
	if (!h || sip_event_decode(&r->ev, h->val) ||
	    !pl_caseeq_str(r->ev.package, "reg"))
		return 489;
	to = sip_msg_to(req);
	from = sip_msg_from(req);
	cs = sip_msg_cseq(req);
	if (!to || !from || !pl_isset(from->tag) || !cs)
		return 400;
	r->to = *to;
	r->from = *from;
	h = sip_msg_hdr(req, SIP_HDR_CALL_ID);
	if (!h || sip_callid_decode(h->val, &r->callid))
		return 400;
	r->cseq = cs->num;
	h = sip_msg_hdr(req, SIP_HDR_CONTACT);
	if (!h || sip_addr_decode(&contact, h->val) || contact.star)
		return 400;
	r->target = contact.uri;
	h = sip_msg_hdr(req, SIP_HDR_EXPIRES);
	if (h) {
		if (sip_delta_decode(h->val, &r->expires))
			return 400;
		r->have_exp = true;
	}
	return 0;
}

static uint32_t sub_expires(const struct registrar *reg, const struct sub_req *r)
{
	uint32_t e = r->have_exp ? r->expires : REGISTRAR_SUB_EXPIRES_DEFAULT;

	if (e && reg->cfg->subscribe_expires)
		e = reg->cfg->subscribe_expires;
	if (e > 864000)
		e = 864000;
	return e;
}

#define SUB_CANDS_MAX 16

/*
 * auth_on_register_only false (manual §5.2: otherwise only REGISTER is
 * authenticated): a new subscription is also challenged, with the user's
 * Digest credentials, as the registrar (401, RFC 3261 §22.3). A UE that
 * answered a qop=auth challenge moments ago may reuse that nonce with a
 * higher nc. True when the request may go on; else it was answered.
 */
static bool sub_authenticated(struct registrar *reg, struct sip_tsx *tsx,
			      const struct sip_msg *req, const struct net_flow *src,
			      const struct sub_req *r,
			      const struct hss_impu_match *m, size_t nm,
			      struct hss_user *u)
{
	uint32_t impu = HSS_IMPU_NONE;
	struct reg_auth_in in;
	struct reg_user *ru = NULL;

	for (size_t i = 0; i < nm; i++) {
		if (m[i].user == u)
			impu = m[i].impu;
	}
	reg_auth_in_read(reg, req, &in);
	reg_auth_in_user(reg, req, u, &in);
	in.req_key = reg_req_key(&in, r->callid, r->cseq) ^ 1;
	in.src = src;
	in.other_method = true;
	if (reg_auth_check(reg, tsx, req, u, impu, &in, &ru) == REG_AUTH_OK)
		return true;
	reg_store_mark(reg, u, REG_STORE_SQN); /* a new vector, a resync */
	return false;
}

/* A new subscription: its UAS dialog from the SUBSCRIBE and the To tag of
 * our 200 (RFC 3261 §12.1.1, RFC 6665 §4.2.1). EBADMSG, E2BIG: a field the
 * dialog cannot keep (answer 400); EEXIST, ENOSPC, ENOMEM: 500. */
static int sub_new(struct registrar *reg, struct reg_sub **sp, const struct sip_msg *req,
		   const struct sub_req *r, struct reg_user *ru, const struct net_flow *src)
{
	struct sip_dialog_uas_prm up;
	uint8_t rnd[8];
	char tag[AUTH_HEX_SIZE(8)];
	struct reg_sub *s;
	int err;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return ENOMEM;
	auth_hex_encode(rnd, sizeof(rnd), tag);
	if (r->ev.id.l > SIP_DIALOG_FIELD_MAX)
		return E2BIG;
	s = sub_alloc(r->ev.id);
	if (!s)
		return ENOMEM;
	memset(&up, 0, sizeof(up));
	up.req = req;
	up.local_tag = pl_from_str(tag);
	up.flow = src;
	err = sip_dialog_uas_alloc(&s->dlg, &up);
	if (!err) {
		reg_flow_set(reg, &s->flow, src);
		err = reg_sub_link(reg, ru, s);
	}
	if (err) {
		reg_sub_destroy(s);
		return err;
	}
	*sp = s;
	return 0;
}

/* After a held 200 (key: the subscription's dialog id, 8 bytes): its
 * NOTIFY, which must not overtake its 200, if the subscription is still
 * there (async completions look the dialog up by id). */
static void sub_held_h(struct registrar *reg, struct pl key)
{
	const struct sip_dialog_owner *o;
	struct sip_dialog *d;
	uint64_t id;

	if (key.l != sizeof(id))
		return;
	memcpy(&id, key.p, sizeof(id));
	d = sip_dialogs_lookup(reg->dialogs, id);
	o = d ? sip_dialog_owner(d) : NULL;
	if (o && o->req_h == sub_dialog_h && o->arg == reg)
		notify_active(reg, o->obj);
}

/* The 200; true if it is held until the subscription is committed (then
 * sub_held_h sends the NOTIFY). An unsubscription is answered at once: a
 * subscription restored after a crash gets 481 to its next NOTIFY and
 * ends (RFC 6665 §4.1.2.4). */
static bool sub_reply_ok(struct registrar *reg, struct sip_tsx *tsx, struct reg_sub *s,
			 uint32_t expires)
{
	struct sip_tsx_reply_prm rp;
	char hdrs[512];
	int n = snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\nContact: <sip:%s>\r\n",
			 expires, reg->host);
	uint64_t id = sip_dialog_id(s->dlg);

	memset(&rp, 0, sizeof(rp));
	rp.hdrs = (struct pl){hdrs, n > 0 && (size_t)n < sizeof(hdrs) ? (size_t)n : 0};
	rp.to_tag = pl_from_str(sip_dialog_local_tag(s->dlg));
	if (!expires || !reg->rs || !id) { /* nothing to hold, or no file */
		reg_reply(reg, tsx, 200, "OK", &rp);
		return false;
	}
	return reg_reply_held(reg, tsx, s->user->u, 200, "OK", &rp, sub_held_h,
			      (struct pl){(const char *)&id, sizeof(id)});
}

/* Answers, then NOTIFYs: active (after the 200, when it was held), or
 * terminated for Expires: 0. */
static void sub_refresh(struct registrar *reg, struct sip_tsx *tsx, struct reg_sub *s,
			uint32_t e)
{
	struct reg_user *ru = s->user;
	bool held;

	s->expires = e;
	held = sub_reply_ok(reg, tsx, s, e);
	if (!e) {
		notify_send(reg, s, "terminated;reason=timeout");
		reg_sub_free(reg, s);
		reg_user_release(reg, ru);
		return;
	}
	reg_tmr_set(reg, &s->tmr, reg_now(reg) + (uint64_t)e * 1000);
	if (!held)
		notify_active(reg, s);
}

void registrar_subscribe(struct registrar *reg, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct net_flow *src,
			 struct hss_user *subscriber)
{
	struct hss_impu_match m[SUB_CANDS_MAX];
	struct hss_user *u = NULL;
	struct reg_user *ru;
	struct reg_sub *s;
	struct sub_req r;
	size_t nm;
	uint16_t sc;
	int err;

	sc = sub_req_read(req, &r);
	if (sc) {
		reg_reply(reg, tsx, sc, sc == 489 ? "Bad Event" : "Bad Request", NULL);
		return;
	}
	/* an in-dialog SUBSCRIBE reaches sub_dialog_h through its dialog; a To
	 * tag matching none names a subscription that does not exist */
	if (pl_isset(r.to.tag)) {
		reg_reply(reg, tsx, 481, "Subscription Does Not Exist", NULL);
		return;
	}
	nm = hss_users_by_impu(reg->hss, r.to.uri, m, SUB_CANDS_MAX);
	if (!nm) {
		reg_reply(reg, tsx, 404, "Not Found", NULL);
		return;
	}
	if (nm > SUB_CANDS_MAX)
		nm = SUB_CANDS_MAX;
	/* RFC 3680 §6: only the user itself, from one of its registered
	 * flows (the CSCF stage identified the subscriber by its flow; with
	 * multi_sim that also picks the entry whose bindings it made). */
	for (size_t i = 0; subscriber && i < nm; i++) {
		if (m[i].user == subscriber)
			u = subscriber;
	}
	ru = u ? reg_user_find(reg, u) : NULL;
	if (!ru || !reg_user_active(ru)) {
		reg_reply(reg, tsx, 403, "Forbidden", NULL);
		return;
	}
	if (!hss_auth_on_register_only(u) &&
	    !sub_authenticated(reg, tsx, req, src, &r, m, nm, u))
		return;
	if (ru->nsub >= REGISTRAR_SUBS_MAX) {
		reg_reply(reg, tsx, 403, "Forbidden - too many subscriptions", NULL);
		return;
	}
	err = sub_new(reg, &s, req, &r, ru, src);
	if (err == EBADMSG || err == E2BIG) {
		reg_reply(reg, tsx, 400, "Bad Request", NULL);
		return;
	}
	if (err) {
		reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
		return;
	}
	sub_refresh(reg, tsx, s, sub_expires(reg, &r));
}

/* The dialog layer's owner handler: an in-dialog request of a
 * subscription, its CSeq checked and its Contact made the target
 * (RFC 3261 §12.2.2). A SUBSCRIBE refreshes or, with Expires: 0, ends it
 * (RFC 6665 §4.2.1.2). */
static void sub_dialog_h(struct sip_dialog *dlg, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct net_flow *flow, void *arg)
{
	struct registrar *reg = arg;
	struct reg_sub *s = sip_dialog_owner(dlg)->obj;
	struct sip_tsx_reply_prm rp;
	struct sub_req r;
	uint16_t sc;

	(void)flow;
	if (req->meth != SIP_METHOD_SUBSCRIBE) {
		memset(&rp, 0, sizeof(rp));
		rp.hdrs = PL("Allow: SUBSCRIBE\r\n");
		reg_reply(reg, tsx, 405, "Method Not Allowed", &rp);
		return;
	}
	sc = sub_req_read(req, &r);
	if (sc) {
		reg_reply(reg, tsx, sc, sc == 489 ? "Bad Event" : "Bad Request", NULL);
		return;
	}
	sub_refresh(reg, tsx, s, sub_expires(reg, &r));
}
