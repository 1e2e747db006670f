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

static int notify_build(const struct registrar *reg, struct mbuf *mb, struct reg_sub *s,
			const char *substate)
{
	struct mbuf body;
	int err;

	mbuf_init(&body, 1u << 20);
	err = reg_reginfo_build(reg, &body, s->user, s->version);
	if (!err)
		err = mbuf_printf(mb, "NOTIFY %s SIP/2.0\r\n", s->target);
	if (!err && s->routes[0])
		err = mbuf_printf(mb, "Route: %s\r\n", s->routes);
	if (!err)
		err =
		    mbuf_printf(mb,
				"Max-Forwards: 70\r\n"
				"From: %s;tag=%s\r\n"
				"To: %s;tag=%s\r\n"
				"Call-ID: %s\r\n"
				"CSeq: %u NOTIFY\r\n"
				"Event: reg%s%s\r\n"
				"Subscription-State: %s\r\n"
				"Contact: <sip:%s>\r\n"
				"Content-Type: application/reginfo+xml\r\n"
				"Content-Length: %zu\r\n\r\n",
				s->local_uri, s->local_tag, s->remote_uri, s->remote_tag,
				s->callid, s->cseq, s->event_id[0] ? ";id=" : "",
				s->event_id, substate, reg->host, body.end);
	if (!err)
		err = mbuf_write(mb, body.buf, body.end);
	mbuf_reset(&body);
	return err;
}

static void notify_send(struct registrar *reg, struct reg_sub *s, const char *substate)
{
	struct sip_stack_req_prm prm;
	struct net_flow dst;
	struct mbuf mb;
	int err;

	s->cseq++;
	reg_store_mark(reg, s->user->u, REG_STORE_ALL);
	mbuf_init(&mb, 2u << 20);
	err = notify_build(reg, &mb, s, substate);
	s->version++;
	if (!err) {
		reg_flow_get(&s->flow, &dst);
		memset(&prm, 0, sizeof(prm));
		prm.req = (struct pl){(const char *)mb.buf, mb.end};
		prm.dst = &dst;
		prm.resp_h = registrar_notify_resp_h;
		prm.arg = reg;
		err = reg->ops.request(reg->stack, &prm, reg->ops.arg);
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "registrar: NOTIFY for %s not sent: %s", s->callid,
			  strerror(err));
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
	reg_store_mark(reg, ru->u, REG_STORE_ALL);
	reg_store_gone(reg, ru->u, false);
	reg_tmr_del(reg, &s->tmr);
	hash_remove(reg->subs, &s->he);
	free(s);
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

static bool sub_match(const struct hash_entry *e, const void *key)
{
	const struct reg_sub *s = HASH_OBJ(e, struct reg_sub, he);
	const struct pl *callid = key;

	return pl_eq_str(*callid, s->callid);
}

void reg_sub_link(struct registrar *reg, struct reg_user *ru, struct reg_sub *s)
{
	s->tmr.kind = REG_TMR_SUB;
	s->user = ru;
	s->next = ru->subs;
	ru->subs = s;
	ru->nsub++;
	hash_insert(reg->subs, &s->he, hash_bytes(s->callid, strlen(s->callid)));
}

void reg_sub_fields(struct reg_sub *s, const char **f[REG_SUB_NSTR])
{
	f[REG_SUB_CALLID] = &s->callid;
	f[REG_SUB_LOCAL_TAG] = &s->local_tag;
	f[REG_SUB_REMOTE_TAG] = &s->remote_tag;
	f[REG_SUB_REMOTE_URI] = &s->remote_uri;
	f[REG_SUB_LOCAL_URI] = &s->local_uri;
	f[REG_SUB_TARGET] = &s->target;
	f[REG_SUB_ROUTES] = &s->routes;
	f[REG_SUB_EVENT_ID] = &s->event_id;
}

struct reg_sub *reg_sub_alloc(const struct pl str[REG_SUB_NSTR])
{
	const char **field[REG_SUB_NSTR];
	struct reg_sub *s;
	size_t len = 0;
	char *p;

	for (int i = 0; i < REG_SUB_NSTR; i++)
		len += str[i].l + 1;
	s = calloc(1, sizeof(*s) + len);
	if (!s)
		return NULL;
	reg_sub_fields(s, field);
	p = s->data;
	for (int i = 0; i < REG_SUB_NSTR; i++) {
		if (str[i].l) /* an empty one's pointer may be NULL */
			memcpy(p, str[i].p, str[i].l);
		*field[i] = p;
		p += str[i].l + 1;
	}
	return s;
}

struct reg_sub *reg_sub_find(struct registrar *reg, struct pl callid, struct pl local_tag)
{
	struct hash_entry *e =
	    hash_lookup(reg->subs, hash_bytes(callid.p, callid.l), sub_match, &callid);

	for (; e; e = hash_lookup_next(reg->subs, e, sub_match, &callid)) {
		struct reg_sub *s = HASH_OBJ(e, struct reg_sub, he);

		if (pl_eq_str(local_tag, s->local_tag))
			return s;
	}
	return NULL;
}

void registrar_notify_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp,
			     uint16_t scode, void *arg)
{
	const struct sip_msg *m = resp ? resp : (tsx ? sip_tsx_req(tsx) : NULL);
	struct registrar *reg = arg;
	const struct sip_hdr *h;
	struct sip_addr from;
	struct pl callid;
	struct reg_sub *s;
	struct reg_user *ru;

	if (scode < 300 || !m)
		return;
	h = sip_msg_hdr(m, SIP_HDR_CALL_ID);
	if (!h || sip_callid_decode(h->val, &callid))
		return;
	h = sip_msg_hdr(m, SIP_HDR_FROM);
	if (!h || sip_addr_decode(&from, h->val))
		return;
	s = reg_sub_find(reg, callid, from.tag);
	if (!s)
		return;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "registrar: NOTIFY answered %u, subscription %s removed", scode,
		  s->callid);
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

/* RFC 3680 §6: only the user itself, from one of its registered flows. */
static bool sub_allowed(const struct registrar *reg, const struct sip_msg *req,
			const struct sub_req *r, const struct reg_user *ru,
			const struct net_flow *src)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_P_ASSERTED_IDENTITY,
					      SIP_HDR_P_PREFERRED_IDENTITY};
	struct hss_impu_match m[16];
	bool self = false, flow = false;
	size_t n = hss_users_by_impu(reg->hss, r->from.uri, m, 16);

	for (size_t i = 0; i < n && i < 16; i++)
		self |= m[i].user == ru->u;
	for (size_t k = 0; k < 2 && !self; k++) {
		const struct sip_hdr *h = sip_msg_hdr(req, ids[k]);
		struct sip_addr a;

		if (!h || sip_addr_decode(&a, h->val))
			continue;
		n = hss_users_by_impu(reg->hss, a.uri, m, 16);
		for (size_t i = 0; i < n && i < 16; i++)
			self |= m[i].user == ru->u;
	}
	for (const struct reg_binding *b = ru->bindings; b && src && !flow; b = b->next) {
		struct net_flow f;

		reg_flow_get(&b->flow, &f);
		flow = !b->terminated && net_addr_eq_ip(&f.peer, &src->peer);
	}
	return self && flow;
}

#define SUB_CANDS_MAX 16

/* sub_allowed as a reg_user_by_flow filter */
struct sub_check {
	const struct registrar *reg;
	const struct sip_msg *req;
	const struct sub_req *r;
	const struct net_flow *src;
};

static bool sub_allowed_h(const struct reg_user *ru, void *arg)
{
	const struct sub_check *ck = arg;

	return ru->bindings && sub_allowed(ck->reg, ck->req, ck->r, ru, ck->src);
}

/*
 * auth_on_register_only false (manual §5.2: otherwise only REGISTER is
 * authenticated): a new subscription is also challenged, with the user's
 * Digest credentials, as the registrar (401, RFC 3261 §22.3). A UE that
 * answered a qop=auth challenge moments ago may reuse that nonce with a
 * higher nc. True when the request may go on; else it was answered.
 */
static bool sub_authenticated(struct registrar *reg, struct sip_tsx *tsx,
			      const struct sip_msg *req, const struct sub_req *r,
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
	in.req_key = hash_bytes(r->callid.p, r->callid.l) ^ hash_mix(r->cseq) ^ 1;
	in.other_method = true;
	if (reg_auth_check(reg, tsx, req, u, impu, &in, &ru) == REG_AUTH_OK)
		return true;
	reg_store_mark(reg, u, REG_STORE_SQN); /* a new vector, a resync */
	return false;
}

static int sub_routes(const struct sip_msg *req, struct mbuf *mb)
{
	int err = 0;

	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_RECORD_ROUTE); h && !err;
	     h = sip_msg_hdr_next(req, h))
		err = mbuf_printf(mb, "%s%.*s", mb->end ? ", " : "", (int)h->val.l,
				  h->val.p);
	return err;
}

static struct reg_sub *sub_new(struct registrar *reg, const struct sip_msg *req,
			       const struct sub_req *r, struct reg_user *ru,
			       const struct net_flow *src)
{
	struct pl str[REG_SUB_NSTR];
	uint8_t rnd[8];
	char tag[AUTH_HEX_SIZE(8)];
	struct mbuf routes, uris;
	struct reg_sub *s = NULL;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	auth_hex_encode(rnd, sizeof(rnd), tag);
	mbuf_init(&routes, 16384);
	mbuf_init(&uris, 16384);
	/* "<from><to>" written with lengths, not printf (which would stop at
	 * a NUL), so the two views below are exactly what was written */
	if (sub_routes(req, &routes) || mbuf_write_str(&uris, "<") ||
	    mbuf_write_pl(&uris, r->from.uri) || mbuf_write_str(&uris, "><") ||
	    mbuf_write_pl(&uris, r->to.uri) || mbuf_write_str(&uris, ">"))
		goto out;
	str[REG_SUB_CALLID] = r->callid;
	str[REG_SUB_LOCAL_TAG] = pl_from_str(tag);
	str[REG_SUB_REMOTE_TAG] = r->from.tag;
	str[REG_SUB_REMOTE_URI] = (struct pl){(const char *)uris.buf, r->from.uri.l + 2};
	str[REG_SUB_LOCAL_URI] =
	    (struct pl){(const char *)uris.buf + r->from.uri.l + 2, r->to.uri.l + 2};
	str[REG_SUB_TARGET] = r->target;
	str[REG_SUB_ROUTES] = (struct pl){(const char *)routes.buf, routes.end};
	str[REG_SUB_EVENT_ID] = r->ev.id;
	s = reg_sub_alloc(str);
	if (!s)
		goto out;
	s->remote_cseq = r->cseq;
	reg_flow_set(&s->flow, src);
	reg_sub_link(reg, ru, s);
out:
	mbuf_reset(&routes);
	mbuf_reset(&uris);
	return s;
}

/* After a held 200 (key: local tag '\0' Call-ID): the subscription's
 * NOTIFY, which must not overtake its 200, if it is still there. */
static void sub_held_h(struct registrar *reg, struct pl key)
{
	size_t tl = strnlen(key.p ? key.p : "", key.l);
	struct reg_sub *s;

	if (tl >= key.l)
		return;
	s = reg_sub_find(reg, (struct pl){key.p + tl + 1, key.l - tl - 1},
			 (struct pl){key.p, tl});
	if (s)
		notify_active(reg, s);
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
	size_t tl = strlen(s->local_tag), cl = strlen(s->callid);
	char *key;
	bool held;

	memset(&rp, 0, sizeof(rp));
	rp.hdrs = (struct pl){hdrs, n > 0 && (size_t)n < sizeof(hdrs) ? (size_t)n : 0};
	rp.to_tag = pl_from_str(s->local_tag);
	if (!expires || !reg->rs) { /* nothing to hold, or no file */
		reg_reply(reg, tsx, 200, "OK", &rp);
		return false;
	}
	key = malloc(tl + 1 + cl);
	if (!key) { /* its NOTIFY then gets 481 and ends it */
		reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
		return false;
	}
	memcpy(key, s->local_tag, tl + 1);
	memcpy(key + tl + 1, s->callid, cl);
	held = reg_reply_held(reg, tsx, s->user->u, 200, "OK", &rp, sub_held_h,
			      (struct pl){key, tl + 1 + cl});
	free(key);
	return held;
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

void registrar_subscribe_h(struct sip_stack *stack, struct sip_tsx *tsx,
			   const struct sip_msg *req, const struct net_flow *src,
			   void *arg)
{
	struct registrar *reg = arg;
	struct hss_impu_match m[SUB_CANDS_MAX];
	struct hss_user *cands[SUB_CANDS_MAX];
	struct hss_user *u;
	struct reg_user *ru;
	struct reg_sub *s;
	struct sub_check ck;
	struct sub_req r;
	size_t nm;
	uint16_t sc;

	(void)stack;
	sc = sub_req_read(req, &r);
	if (sc) {
		reg_reply(reg, tsx, sc, sc == 489 ? "Bad Event" : "Bad Request", NULL);
		return;
	}
	if (pl_isset(r.to.tag)) {
		s = reg_sub_find(reg, r.callid, r.to.tag);
		if (!s || !pl_eq_str(r.from.tag, s->remote_tag)) {
			reg_reply(reg, tsx, 481, "Subscription Does Not Exist", NULL);
			return;
		}
		if (r.cseq <= s->remote_cseq) {
			reg_reply(reg, tsx, 500,
				  "Server Internal Error - CSeq out of order", NULL);
			return;
		}
		s->remote_cseq = r.cseq;
		sub_refresh(reg, tsx, s, sub_expires(reg, &r));
		return;
	}
	nm = hss_users_by_impu(reg->hss, r.to.uri, m, SUB_CANDS_MAX);
	if (!nm) {
		reg_reply(reg, tsx, 404, "Not Found", NULL);
		return;
	}
	if (nm > SUB_CANDS_MAX)
		nm = SUB_CANDS_MAX;
	for (size_t i = 0; i < nm; i++)
		cands[i] = m[i].user;
	/* multi_sim: the entry whose bindings this subscriber made */
	ck = (struct sub_check){reg, req, &r, src};
	u = nm == 1 ? cands[0]
		    : reg_user_by_flow(reg, cands, nm, (struct pl)PL_INIT, src,
				       sub_allowed_h, &ck);
	ru = u ? reg_user_find(reg, u) : NULL;
	if (!ru || !ru->bindings || !sub_allowed(reg, req, &r, ru, src)) {
		reg_reply(reg, tsx, 403, "Forbidden", NULL);
		return;
	}
	if (!hss_auth_on_register_only(u) &&
	    !sub_authenticated(reg, tsx, req, &r, m, nm, u))
		return;
	if (ru->nsub >= REGISTRAR_SUBS_MAX) {
		reg_reply(reg, tsx, 403, "Forbidden - too many subscriptions", NULL);
		return;
	}
	s = sub_new(reg, req, &r, ru, src);
	if (!s) {
		reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
		return;
	}
	sub_refresh(reg, tsx, s, sub_expires(reg, &r));
}
