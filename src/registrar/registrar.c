/*
 * registrar — REGISTER processing (RFC 3261 §10.3, TS 24.229 §5.4.1).
 *
 *   1. decode To, Call-ID, CSeq, Contact(s), Expires   (400 if malformed)
 *   2. find the user: Authorization username (IMPI), else the To IMPU;
 *      multi_sim users by the +sip.instance IMEI      (403 / 404)
 *   3. authenticate (registrar_auth.c)                  (401 / 403)
 *   4. check every contact before changing anything     (423, 400, 403, 500)
 *   5. apply: add, refresh, remove (expires=0, Contact: *)
 *   6. 200 OK with the bindings, P-Associated-URI, Service-Route, Path,
 *      Date (with a state file, held until the change is committed:
 *      registrar_held.c); then NOTIFY the reg subscribers (registrar_sub.c).
 *
 * Require: sec-agree is tolerated and ignored (phones send it to cores
 * without IPsec, and IPsec is not built yet); Security-Client is not
 * answered.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"
#include "registrar/registrar_int.h"

const char *const registrar_option_tags[] = {"path", "sec-agree"};
const size_t registrar_option_tag_count = 2;

#define REG_CANDS_MAX 16

/* One Contact of the request, checked. */
struct reg_contact {
	struct sip_addr addr;
	struct pl instance; /* +sip.instance, unquoted, may be empty */
	char imei[15];
	uint32_t expires; /* requested (0 = remove) */
	uint32_t reg_id;
	uint16_t q1000;
	struct reg_binding *b; /* existing binding it refreshes, or NULL */
};

struct reg_req {
	struct sip_addr to;
	struct pl callid;
	uint32_t cseq;
	bool star;
	size_t n;
	struct reg_contact c[REGISTRAR_BINDINGS_MAX];
};

static uint32_t reg_max_expires(const struct registrar *reg)
{
	return reg->cfg->binding_expires ? reg->cfg->binding_expires : 3600;
}

static int reg_contact_read(const struct registrar *reg, struct reg_contact *c,
			    const struct sip_hdr *h, bool have_hexp, uint32_t hexp)
{
	uint32_t e;
	int err;

	memset(c, 0, sizeof(*c));
	err = sip_addr_decode(&c->addr, h->val);
	if (err)
		return err;
	if (c->addr.star)
		return 0;
	err = sip_addr_expires(&c->addr, &e);
	if (err == ENOENT)
		e = have_hexp ? hexp : reg_max_expires(reg);
	else if (err)
		return err;
	c->expires = e;
	if (sip_addr_q(&c->addr, &c->q1000))
		c->q1000 = 1000;
	if (!sip_addr_instance(&c->addr, &c->instance) &&
	    hss_imei_parse(c->instance, c->imei))
		c->imei[0] = '\0';
	if (sip_addr_regid(&c->addr, &c->reg_id))
		c->reg_id = 0;
	return 0;
}

/* Step 1. Returns 0 or the status to answer. */
static uint16_t reg_req_read(const struct registrar *reg, const struct sip_msg *req,
			     struct reg_req *r)
{
	const struct sip_addr *to = sip_msg_to(req);
	const struct sip_cseq *cs = sip_msg_cseq(req);
	const struct sip_hdr *h;
	uint32_t hexp = 0;
	bool have_hexp = false;

	/* not the contacts (16 of them, most of the struct): each is
	 * cleared by reg_contact_read when it is read */
	memset(r, 0, offsetof(struct reg_req, c));
	if (!to || !cs)
		return 400;
	r->to = *to;
	h = sip_msg_hdr(req, SIP_HDR_CALL_ID);
	if (!h || sip_callid_decode(h->val, &r->callid))
		return 400;
	r->cseq = cs->num;
	h = sip_msg_hdr(req, SIP_HDR_EXPIRES);
	if (h) {
		if (sip_delta_decode(h->val, &hexp))
			return 400;
		have_hexp = true;
	}
	for (h = sip_msg_hdr(req, SIP_HDR_CONTACT); h; h = sip_msg_hdr_next(req, h)) {
		struct reg_contact *c;

		if (r->n == REGISTRAR_BINDINGS_MAX)
			return 403;
		c = &r->c[r->n++];
		if (reg_contact_read(reg, c, h, have_hexp, hexp))
			return 400;
		if (c->addr.star)
			r->star = true;
	}
	/* RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0. */
	if (r->star && (r->n != 1 || !have_hexp || hexp != 0))
		return 400;
	return 0;
}

static bool reg_binding_same(const struct reg_binding *b, const struct reg_contact *c)
{
	struct sip_addr a;

	if (c->instance.l) {
		char imei_or_inst[15];

		/* RFC 5626 §6: same instance (and reg-id) is the same binding. */
		if (c->imei[0] && b->imei[0]) {
			memcpy(imei_or_inst, c->imei, sizeof(imei_or_inst));
			if (!strcmp(imei_or_inst, b->imei) && b->reg_id == c->reg_id)
				return true;
		}
	}
	if (sip_addr_decode(&a, (struct pl){b->data, b->contact_len}))
		return false;
	return sip_uri_cmp(a.uri, c->addr.uri);
}

/* §10.3 steps 6-7: the request is in b's Call-ID with a CSeq not above b's. */
static bool reg_cseq_old(const struct reg_req *r, const struct reg_binding *b)
{
	return pl_eq_str(r->callid, b->data + b->contact_len + 1) && r->cseq <= b->cseq;
}

/* Step 4: everything that can refuse the request, before any change. */
static int reg_contacts_check(struct registrar *reg, struct sip_tsx *tsx,
			      struct reg_user *ru, struct reg_req *r)
{
	unsigned adds = 0;
	char hdr[64];

	if (r->star) {
		/* §10.3 step 6: a binding made in this Call-ID goes only with a
		 * higher CSeq; otherwise the whole update is aborted. */
		for (struct reg_binding *b = ru->bindings; b; b = b->next) {
			if (!b->terminated && reg_cseq_old(r, b)) {
				reg_reply(reg, tsx, 500,
					  "Server Internal Error - CSeq out of order",
					  NULL);
				return EINVAL;
			}
		}
		return 0;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct reg_contact *c = &r->c[i];

		for (struct reg_binding *b = ru->bindings; b; b = b->next) {
			if (!b->terminated && reg_binding_same(b, c)) {
				c->b = b;
				break;
			}
		}
		for (size_t j = 0; j < i; j++) {
			if ((c->b && r->c[j].b == c->b) ||
			    sip_uri_cmp(r->c[j].addr.uri, c->addr.uri)) {
				reg_reply(reg, tsx, 400,
					  "Bad Request - duplicate Contact", NULL);
				return EINVAL;
			}
		}
		if (c->expires && c->expires < reg->min_expires) {
			struct sip_tsx_reply_prm rp = {0};
			int n = snprintf(hdr, sizeof(hdr), "Min-Expires: %u\r\n",
					 reg->min_expires);

			rp.hdrs = (struct pl){hdr, (size_t)n};
			reg_reply(reg, tsx, 423, "Interval Too Brief", &rp);
			return EINVAL;
		}
		/* §10.3 step 7: an older CSeq in the same Call-ID is out of order. */
		if (c->b && reg_cseq_old(r, c->b)) {
			reg_reply(reg, tsx, 500,
				  "Server Internal Error - CSeq out of order", NULL);
			return EINVAL;
		}
		if (!c->b && c->expires)
			adds++;
	}
	if (ru->nbind + adds > REGISTRAR_BINDINGS_MAX) {
		reg_reply(reg, tsx, 403, "Forbidden - too many contacts", NULL);
		return EINVAL;
	}
	return 0;
}

/* The Contact value we keep: <uri> and the parameters except expires. */
static int reg_contact_text(const struct reg_contact *c, struct mbuf *mb)
{
	struct pl it = c->addr.params, name, val;
	const char *start = it.p;
	int err = mbuf_write_str(mb, "<");

	if (!err)
		err = mbuf_write_pl(mb, c->addr.uri);
	if (!err)
		err = mbuf_write_str(mb, ">");

	while (!err && sip_param_next(&it, &name, &val)) {
		if (!pl_caseeq_str(name, "expires"))
			err = mbuf_write(mb, start, (size_t)(it.p - start));
		start = it.p;
	}
	return err;
}

static struct reg_binding *reg_binding_new(struct registrar *reg, struct reg_user *ru,
					   const struct reg_contact *c,
					   const struct reg_req *r,
					   const struct net_flow *src)
{
	struct reg_binding *b = NULL;
	struct mbuf mb;

	mbuf_init(&mb, 8192);
	if (!reg_contact_text(c, &mb))
		b = reg_binding_alloc(ru, (struct pl){(const char *)mb.buf, mb.end},
				      r->callid);
	mbuf_reset(&mb);
	if (!b)
		return NULL;
	reg_flow_set(reg, &b->flow, src);
	b->q1000 = c->q1000;
	b->reg_id = c->reg_id;
	memcpy(b->imei, c->imei, sizeof(b->imei));
	b->cseq = r->cseq;
	return b;
}

/* Step 5 for one contact. A refresh replaces the binding (new flow, new
 * text) but keeps its id. */
static int reg_contact_apply(struct registrar *reg, struct reg_user *ru,
			     const struct reg_contact *c, const struct reg_req *r,
			     const struct net_flow *src)
{
	uint32_t e = c->expires, max = reg_max_expires(reg);
	struct reg_binding *nb, *old = c->b;

	if (!e) {
		if (old) {
			old->terminated = true;
			old->event = REG_EV_UNREGISTERED;
		}
		return 0;
	}
	if (e > max)
		e = max;
	nb = reg_binding_new(reg, ru, c, r, src);
	if (!nb)
		return ENOMEM;
	nb->expires = e;
	if (old) {
		nb->id = old->id;
		nb->event = e < old->expires ? REG_EV_SHORTENED : REG_EV_REFRESHED;
		reg_binding_replace(reg, old, nb);
	} else {
		nb->id = reg->next_id++;
		nb->event = REG_EV_REGISTERED;
		reg_binding_link(reg, nb);
	}
	reg_tmr_set(reg, &nb->tmr, reg_now(reg) + (uint64_t)e * 1000);
	nb->echo = true;
	reg_watch_emit(reg, nb);
	return 0;
}

static bool reg_supports(const struct sip_msg *req, const char *tag)
{
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_SUPPORTED); h;
	     h = sip_msg_hdr_next(req, h)) {
		struct pl tok;

		if (!sip_token_decode(h->val, &tok) && pl_caseeq_str(tok, tag))
			return true;
	}
	return false;
}

/* head, then len bytes of text, then tail: a header line without printf. */
static int reg_hdr_write(struct mbuf *mb, const char *head, const char *text, size_t len,
			 const char *tail)
{
	int err = mbuf_write_str(mb, head);

	if (!err)
		err = mbuf_write(mb, text, len);
	if (!err)
		err = mbuf_write_str(mb, tail);
	return err;
}

static int reg_assoc_print(const struct registrar *reg, struct mbuf *mb,
			   const struct hss_user *u)
{
	uint32_t idx[64];
	char uri[HSS_URI_MAX];
	size_t n = hss_user_associated(u, idx, 64);
	int err = 0;

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n && !err; i++) {
		if (hss_impu_uri(reg->hss, u, idx[i], uri, sizeof(uri)))
			continue;
		err = mbuf_write_str(mb, i ? ", <" : "P-Associated-URI: <");
		if (!err)
			err = mbuf_write_str(mb, uri);
		if (!err)
			err = mbuf_write_str(mb, ">");
	}
	if (!err && n)
		err = mbuf_write_str(mb, "\r\n");
	return err;
}

static int reg_path_print(const struct registrar *reg, struct mbuf *mb,
			  const struct sip_msg *req)
{
	const char *path = reg->cfg->path;
	int err = 0;

	if (!reg_supports(req, "path"))
		return 0;
	/* RFC 3327 §5.3: the Path values received, in order... */
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_PATH); h && !err;
	     h = sip_msg_hdr_next(req, h))
		err = reg_hdr_write(mb, "Path: ", h->val.p, h->val.l, "\r\n");
	/* ...and ours, the P-CSCF's, as the entry nearest the UE. */
	if (!err && path && path[0]) {
		if (path[0] == '<')
			err = reg_hdr_write(mb, "Path: ", path, strlen(path), "\r\n");
		else
			err = reg_hdr_write(mb, "Path: <", path, strlen(path),
					    strstr(path, ";lr") ? ">\r\n" : ";lr>\r\n");
	}
	return err;
}

/* "Contact: <text>;expires=<n>\r\n" without printf (every 200 has one). */
static int reg_contact_hdr_write(struct mbuf *mb, const char *text, size_t len,
				 unsigned expires)
{
	char dec[16];
	size_t i = sizeof(dec);
	int err;

	do {
		dec[--i] = (char)('0' + expires % 10);
		expires /= 10;
	} while (expires && i);
	err = mbuf_write_str(mb, "Contact: ");
	if (!err)
		err = mbuf_write(mb, text, len);
	if (!err)
		err = mbuf_write_str(mb, ";expires=");
	if (!err)
		err = mbuf_write(mb, dec + i, sizeof(dec) - i);
	if (!err)
		err = mbuf_write_str(mb, "\r\n");
	return err;
}

/*
 * "Date: ...\r\n" for the current second, formatted once per second:
 * gmtime_r and strftime on every 200 cost several thousand instructions.
 */
static const char *reg_date_hdr(void)
{
	static _Thread_local char hdr[64];
	static _Thread_local time_t at = (time_t)-1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != at || !hdr[0]) {
		gmtime_r(&now, &tm);
		if (!strftime(hdr, sizeof(hdr), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
			      &tm))
			hdr[0] = '\0';
		at = now;
	}
	return hdr;
}

/*
 * A binding the REGISTER did not name, as its 200 lists it: the URI with
 * +sip.instance and reg-id (RFC 5626 §6, what tells a UE's flows apart),
 * without the feature tags (RFC 3261 §10.3 asks for the bindings, not for
 * their parameters). So a REGISTER cannot make imsd answer with much more
 * than it sent (issue 19, finding 2: 16 long Contacts echoed to a forged
 * source), and the UE's own Contacts come back whole.
 */
static int reg_contact_short_write(struct mbuf *mb, const struct reg_binding *b,
				   unsigned expires)
{
	struct pl text = {b->data, b->contact_len}, inst;
	struct sip_addr a;
	char tail[96];
	int err;

	if (sip_addr_decode(&a, text))
		return reg_contact_hdr_write(mb, b->data, b->contact_len, expires);
	err = mbuf_write_str(mb, "Contact: <");
	err = err ? err : mbuf_write(mb, a.uri.p, a.uri.l);
	err = err ? err : mbuf_write_str(mb, ">");
	if (!err && !sip_addr_instance(&a, &inst)) {
		err = mbuf_write_str(mb, ";+sip.instance=\"<");
		err = err ? err : mbuf_write(mb, inst.p, inst.l);
		err = err ? err : mbuf_write_str(mb, ">\"");
	}
	if (b->reg_id)
		snprintf(tail, sizeof(tail), ";reg-id=%u;expires=%u\r\n", b->reg_id, expires);
	else
		snprintf(tail, sizeof(tail), ";expires=%u\r\n", expires);
	return err ? err : mbuf_write_str(mb, tail);
}

static int reg_ok_hdrs(struct registrar *reg, struct mbuf *mb, const struct reg_user *ru,
		       const struct sip_msg *req)
{
	int err = 0;

	for (struct reg_binding *b = ru->bindings; b && !err; b = b->next) {
		if (b->terminated)
			continue;
		if (b->echo)
			err = reg_contact_hdr_write(mb, b->data, b->contact_len,
						    reg_binding_left(reg, b));
		else
			err = reg_contact_short_write(mb, b, reg_binding_left(reg, b));
		b->echo = false;
	}
	if (!err && ru->bindings)
		err = reg_assoc_print(reg, mb, ru->u);
	if (!err && ru->bindings)
		err = mbuf_write_str(mb, "Service-Route: <sip:orig@");
	if (!err && ru->bindings)
		err = mbuf_write_str(mb, reg->host);
	if (!err && ru->bindings)
		err = mbuf_write_str(mb, ";lr>\r\n");
	if (!err && ru->bindings)
		err = reg_path_print(reg, mb, req);
	if (!err)
		err = mbuf_write_str(mb, reg_date_hdr());
	return err;
}

struct hss_user *reg_user_by_flow(const struct registrar *reg,
				  struct hss_user *const *cands, size_t n,
				  struct pl callid, const struct net_flow *src,
				  bool (*ok)(const struct reg_user *ru, void *arg),
				  void *arg)
{
	struct hss_user *found = NULL;
	unsigned found_score = 0;
	bool tie = false;

	for (size_t i = 0; i < n; i++) {
		const struct reg_user *ru = reg_user_find(reg, cands[i]);
		unsigned score = 0;

		if (!ru || (ok && !ok(ru, arg)))
			continue;
		for (const struct reg_binding *b = ru->bindings; b; b = b->next) {
			struct net_flow f;
			unsigned sc = 0;

			if (b->terminated)
				continue;
			reg_flow_get(&b->flow, &f);
			if (pl_isset(callid) &&
			    pl_eq_str(callid, b->data + b->contact_len + 1))
				sc = 3;
			else if (src && net_addr_eq(&f.peer, &src->peer))
				sc = 2;
			else if (src && net_addr_eq_ip(&f.peer, &src->peer))
				sc = 1;
			if (sc > score)
				score = sc;
		}
		if (!score || score < found_score)
			continue;
		tie = score == found_score;
		found = cands[i];
		found_score = score;
	}
	return tie ? NULL : found;
}

/* b was made over src's flow: the same transport, address and port (the
 * same IP alone is another host behind the same NAT, docs/cscf.md). */
static bool reg_binding_from(const struct reg_binding *b, const struct net_flow *src)
{
	struct net_flow f;

	reg_flow_get(&b->flow, &f);
	return f.reliable == src->reliable && net_addr_eq(&f.peer, &src->peer);
}

/*
 * auth_on_register_only (manual §5.2, default true): "don't try to
 * authenticate other request than register (unless expires is set to 0)":
 * a de-registration is not challenged either. Without IPsec nothing else
 * ties it to the UE, so only when every binding it removes was made over
 * the request's flow (as a reg SUBSCRIBE is authorised); otherwise it is
 * authenticated like any REGISTER. The user's reg_user, or NULL.
 */
static struct reg_user *reg_dereg_unauth(struct registrar *reg, const struct reg_req *r,
					 struct hss_user *u,
					 const struct net_flow *src)
{
	struct reg_user *ru;
	size_t hits = 0;

	if (!src || (!r->star && !r->n) || !hss_auth_on_register_only(u))
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (r->c[i].expires)
			return NULL;
	}
	ru = reg_user_find(reg, u);
	if (!ru)
		return NULL;
	for (const struct reg_binding *b = ru->bindings; b; b = b->next) {
		bool removed = r->star;

		if (b->terminated)
			continue;
		for (size_t i = 0; !removed && i < r->n; i++)
			removed = reg_binding_same(b, &r->c[i]);
		if (!removed)
			continue;
		if (!reg_binding_from(b, src))
			return NULL;
		hits++;
	}
	return hits ? ru : NULL;
}

/* Step 2: the user. Returns 0 or the status to answer. */
static uint16_t reg_user_identify(struct registrar *reg, const struct sip_msg *req,
				  const struct reg_req *r, const struct reg_auth_in *in,
				  const struct net_flow *src, struct hss_user **up,
				  uint32_t *impu, const char **why)
{
	struct hss_user *cands[REG_CANDS_MAX];
	struct hss_impu_match m[REG_CANDS_MAX];
	struct pl instance = r->n ? r->c[0].instance : (struct pl)PL_INIT;
	struct hss_user *u = NULL;
	size_t n = 0, nm;
	struct pl impi = PL_INIT;

	if (in->have && pl_isset(in->cred.username))
		impi = in->cred.username;
	/* else the first username of any scheme or realm (TS 24.229 §5.4.1.2.1) */
	for (const struct sip_hdr *h = pl_isset(impi) ? NULL
					  : sip_msg_hdr(req, SIP_HDR_AUTHORIZATION);
	     h; h = sip_msg_hdr_next(req, h)) {
		struct sip_auth a;

		if (!sip_auth_decode(&a, h->val) && pl_isset(a.username)) {
			impi = a.username;
			break;
		}
	}
	nm = hss_users_by_impu(reg->hss, r->to.uri, m, REG_CANDS_MAX);
	if (nm > REG_CANDS_MAX)
		nm = REG_CANDS_MAX;
	if (pl_isset(impi)) {
		n = hss_users_by_impi(reg->hss, impi, cands, REG_CANDS_MAX);
		*why = "Forbidden - unknown private identity";
		if (!n)
			return 403;
	} else {
		for (size_t i = 0; i < nm; i++)
			cands[n++] = m[i].user;
		*why = "Not Found";
		if (!n)
			return 404;
	}
	if (n > REG_CANDS_MAX)
		n = REG_CANDS_MAX;
	if (n == 1)
		u = cands[0];
	else if (pl_isset(instance))
		u = hss_user_pick_imei(cands, n, instance);
	else
		/* multi_sim without an instance (Contact: *, a fetch): the
		 * phone whose bindings this request's Call-ID or flow made */
		u = reg_user_by_flow(reg, cands, n, r->callid, src, NULL, NULL);
	if (!u && n > 1 && !pl_isset(instance))
		u = hss_user_pick_imei(cands, n, instance);
	*why = "Forbidden - no user for this IMEI";
	if (!u)
		return 403;
	for (size_t i = 0; i < nm; i++) {
		if (m[i].user == u) {
			*up = u;
			*impu = m[i].impu;
			return 0;
		}
	}
	*why = "Forbidden - public identity not associated with the private one";
	return 403;
}

static void reg_log(const struct hss_user *u, const struct reg_user *ru, bool changed)
{
	const char *id = hss_user_impi(u) ? hss_user_impi(u) : hss_user_imsi(u);

	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "registrar: %s %s (%u binding(s))", id ? id : "?",
		  !ru->bindings ? "unregistered"
		  : changed	? "registered"
				: "fetch",
		  (unsigned)ru->nbind);
}

/* Steps 4-6 once the user is authenticated. */
static void reg_bindings_update(struct registrar *reg, struct sip_tsx *tsx,
				const struct sip_msg *req, struct reg_req *r,
				struct reg_user *ru, const struct net_flow *src)
{
	struct sip_tsx_reply_prm rp;
	struct mbuf mb;
	bool had = ru->bindings != NULL;
	int err = 0;

	if (reg_contacts_check(reg, tsx, ru, r))
		goto out;
	if (r->star) {
		for (struct reg_binding *b = ru->bindings; b; b = b->next) {
			b->terminated = true;
			b->event = REG_EV_UNREGISTERED;
		}
	}
	for (size_t i = 0; !r->star && i < r->n && !err; i++)
		err = reg_contact_apply(reg, ru, &r->c[i], r, src);
	mbuf_init(&mb, 65536);
	if (!err)
		err = reg_ok_hdrs(reg, &mb, ru, req);
	memset(&rp, 0, sizeof(rp));
	rp.hdrs = (struct pl){(const char *)mb.buf, mb.end};
	if (err)
		reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
	else /* with a state file, once the change is committed */
		reg_reply_held(reg, tsx, ru->u, 200, "OK", &rp, NULL, (struct pl)PL_INIT);
	mbuf_reset(&mb);
	reg_log(ru->u, ru, r->n > 0);
	if (r->n)
		reg_sub_notify_all(reg, ru);
	if (had && !reg_user_active(ru))
		reg_sub_terminate_all(reg, ru, "noresource");
	reg_bindings_purge(reg, ru);
out:
	reg_user_release(reg, ru);
}

void registrar_register_h(struct sip_stack *stack, struct sip_tsx *tsx,
			  const struct sip_msg *req, const struct net_flow *src,
			  void *arg)
{
	struct registrar *reg = arg;
	struct reg_user *ru = NULL;
	struct hss_user *u = NULL;
	const char *why = "Bad Request";
	uint32_t impu = HSS_IMPU_NONE;
	struct reg_auth_in in;
	/* about 2.5 KB, on the stack: the handler never re-enters itself */
	struct reg_req r;
	uint16_t sc;

	(void)stack;
	sc = reg_req_read(reg, req, &r);
	if (sc == 403)
		why = "Forbidden - too many contacts";
	if (!sc) {
		reg_auth_in_read(reg, req, &in);
		in.src = src;
		sc = reg_user_identify(reg, req, &r, &in, src, &u, &impu, &why);
	}
	if (!sc) {
		reg_auth_in_user(reg, req, u, &in);
		in.req_key = reg_req_key(&in, r.callid, r.cseq);
	}
	if (sc) {
		reg_reply(reg, tsx, sc, why, NULL);
		return;
	}
	ru = reg_dereg_unauth(reg, &r, u, src);
	if (ru) {
		log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
			  "registrar: de-registration from a binding's address, not "
			  "challenged (auth_on_register_only)");
		reg_bindings_update(reg, tsx, req, &r, ru, src);
		reg_store_mark(reg, u, REG_STORE_ALL);
	} else if (reg_auth_check(reg, tsx, req, u, impu, &in, &ru) == REG_AUTH_OK) {
		reg_bindings_update(reg, tsx, req, &r, ru, src);
		/* keys, bindings, subscribers' NOTIFY CSeqs */
		reg_store_mark(reg, u, REG_STORE_ALL);
	} else {
		/* a challenge (a new vector, a resync) or a refusal */
		reg_store_mark(reg, u, REG_STORE_SQN);
	}
}

int registrar_unregister(struct registrar *reg, const char *id,
			 enum registrar_reason reason)
{
	struct hss_user *cands[REG_CANDS_MAX];
	struct hss_impu_match m[REG_CANDS_MAX];
	struct pl p = pl_from_str(id ? id : "");
	size_t n;
	int found = 0;

	if (!reg || !p.l)
		return EINVAL;
	n = hss_users_by_impi(reg->hss, p, cands, REG_CANDS_MAX);
	if (!n) {
		size_t nm = hss_users_by_impu(reg->hss, p, m, REG_CANDS_MAX);

		for (size_t i = 0; i < nm && i < REG_CANDS_MAX; i++)
			cands[n++] = m[i].user;
	}
	if (n > REG_CANDS_MAX)
		n = REG_CANDS_MAX;
	for (size_t i = 0; i < n; i++) {
		struct reg_user *ru = reg_user_find(reg, cands[i]);

		if (!ru || !ru->bindings)
			continue;
		for (struct reg_binding *b = ru->bindings; b; b = b->next) {
			b->terminated = true;
			b->event = reason == REGISTRAR_REJECTED ? REG_EV_REJECTED
								: REG_EV_DEACTIVATED;
		}
		reg_sub_terminate_all(
		    reg, ru, reason == REGISTRAR_REJECTED ? "rejected" : "deactivated");
		reg_bindings_purge(reg, ru);
		reg_store_mark(reg, cands[i], REG_STORE_ALL);
		reg_log(cands[i], ru, true);
		reg_user_release(reg, ru);
		found++;
	}
	return found ? 0 : ENOENT;
}
