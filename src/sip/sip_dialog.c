/*
 * sip/sip_dialog — dialog state, in-dialog request building and the
 * stack's dialog table. See sip_dialog.h and docs/sip-dialog.md.
 *
 * States (RFC 3261 §12, §13.2.2.4):
 *
 *   (UAC: 1xx with To tag)        (UAS: our 1xx with To tag)
 *            |                               |
 *            v         2xx (confirm)         v
 *          Early  ------------------------> Confirmed
 *            |                               |
 *            +------- sip_dialog_end --------+--> Ended (out of the table)
 *
 * Clauses: §12.1.1 (UAS creation), §12.1.2 (UAC creation, route set
 * reversed), §12.2.1.1 (in-dialog request: Request-URI, Route, loose and
 * strict routing, CSeq), §12.2.1.2 and §12.2.2 (target refresh), §12.2.2
 * (matching by Call-ID and tags, CSeq check: 500), §13.3.1.4 (the ACK of a
 * 2xx belongs to the dialog), §19.1.1 (parameters a Request-URI may carry).
 */
#include "sip/sip_dialog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"

struct sip_dialog {
	struct hash_entry he;	 /* sip_dialogs.by_key: Call-ID + local tag */
	struct hash_entry he_id; /* sip_dialogs.by_id */
	struct sip_dialogs *tab; /* borrowed; NULL when not in a table */
	uint64_t id;
	struct sip_dialog_owner owner; /* copied; its pointers borrowed */
	bool uac, early, secure, has_flow;
	uint32_t lseq, rseq; /* 0: empty */
	struct net_flow flow;
	/* owned, NUL-terminated */
	char *callid, *ltag, *rtag, *luri, *ruri, *target, *routes;
	size_t routec; /* elements of routes */
};

struct sip_dialogs {
	struct hash *by_key; /* owned; entries hold a reference */
	struct hash *by_id;  /* owned; same entries */
	size_t max;
	uint64_t next_id;
};

/* ---- fields ---- */

static int dlg_str_set(char **dst, struct pl v)
{
	char *s;

	if (v.l > SIP_DIALOG_FIELD_MAX)
		return E2BIG;
	s = malloc(v.l + 1);
	if (!s)
		return ENOMEM;
	if (v.l)
		memcpy(s, v.p, v.l);
	s[v.l] = '\0';
	free(*dst);
	*dst = s;
	return 0;
}

static void dlg_destroy(void *data)
{
	struct sip_dialog *d = data;

	free(d->callid);
	free(d->ltag);
	free(d->rtag);
	free(d->luri);
	free(d->ruri);
	free(d->target);
	free(d->routes);
}

/* The next element of a list of name-addrs (the route set as stored),
 * split on the commas outside quotes and <>, from *pp on. ENOENT at the
 * end, EBADMSG on an empty element or an unterminated quote or <. */
static int dlg_route_next(const char **pp, struct pl *out)
{
	const char *p = *pp, *start = p;
	bool quoted = false;
	int depth = 0;

	if (!*p)
		return ENOENT;
	for (;; p++) {
		if (quoted && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '<')
			depth++;
		else if (!quoted && *p == '>' && depth)
			depth--;
		if (*p && (quoted || depth || *p != ','))
			continue;
		if (quoted || depth)
			return EBADMSG;
		*out = pl_trim((struct pl){start, (size_t)(p - start)});
		*pp = *p ? p + 1 : p;
		return out->l ? 0 : EBADMSG;
	}
}

/* Checks and counts the stored route set. E2BIG over SIP_DIALOG_ROUTES_MAX. */
static int dlg_routes_split(struct sip_dialog *d)
{
	const char *p = d->routes;
	struct pl r;
	int err;

	d->routec = 0;
	while (!(err = dlg_route_next(&p, &r))) {
		if (d->routec == SIP_DIALOG_ROUTES_MAX)
			return E2BIG;
		d->routec++;
	}
	return err == ENOENT ? 0 : err;
}

/* The route set from Record-Route values, in message order (UAS) or
 * reversed (UAC), as one list. */
static int dlg_routes_from(struct sip_dialog *d, const struct sip_msg *msg, bool reverse)
{
	const struct sip_hdr *hv[SIP_DIALOG_ROUTES_MAX];
	size_t n = 0;
	struct mbuf mb;
	int err = 0;

	for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_RECORD_ROUTE); h;
	     h = sip_msg_hdr_next(msg, h)) {
		struct sip_addr a;

		if (n == SIP_DIALOG_ROUTES_MAX)
			return E2BIG;
		if (sip_addr_decode(&a, h->val) || a.star)
			return EBADMSG;
		hv[n++] = h;
	}
	mbuf_init(&mb, SIP_DIALOG_FIELD_MAX);
	for (size_t i = 0; i < n && !err; i++) {
		const struct sip_hdr *h = hv[reverse ? n - 1 - i : i];

		if (i)
			err = mbuf_write_str(&mb, ", ");
		if (!err)
			err = mbuf_write_pl(&mb, h->val);
	}
	if (!err)
		err = dlg_str_set(&d->routes, (struct pl){(const char *)mb.buf, mb.end});
	if (!err)
		err = dlg_routes_split(d);
	mbuf_reset(&mb);
	return err == ENOSPC ? E2BIG : err;
}

/* "<uri>": the From/To value of in-dialog requests (the URI alone,
 * §12.1.1, §12.1.2). */
static int dlg_uri_set(char **dst, const struct sip_addr *a)
{
	char buf[SIP_DIALOG_FIELD_MAX + 2];

	if (!a || a->uri.l > SIP_DIALOG_FIELD_MAX)
		return a ? E2BIG : EBADMSG;
	buf[0] = '<';
	memcpy(buf + 1, a->uri.p, a->uri.l);
	buf[a->uri.l + 1] = '>';
	return dlg_str_set(dst, (struct pl){buf, a->uri.l + 2});
}

int sip_dialog_target_refresh(struct sip_dialog *dlg, const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_addr a;
	struct sip_uri u;

	if (!dlg || !msg)
		return EINVAL;
	h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	if (!h)
		return ENOENT;
	if (sip_addr_decode(&a, h->val) || a.star || sip_uri_decode(&u, a.uri))
		return EBADMSG;
	return dlg_str_set(&dlg->target, a.uri);
}

static int dlg_common(struct sip_dialog *d, const struct sip_msg *m, struct pl ltag,
		      const struct net_flow *flow, bool tls)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CALL_ID);
	struct sip_uri ru;
	struct pl callid;
	int err;

	if (!h || sip_callid_decode(h->val, &callid) || !pl_isset(ltag))
		return EBADMSG;
	err = dlg_str_set(&d->callid, callid);
	err = err ? err : dlg_str_set(&d->ltag, ltag);
	if (err)
		return err;
	if (flow) {
		d->flow = *flow;
		d->has_flow = true;
	}
	/* §12.1.1, §12.1.2: over TLS with a sips Request-URI */
	d->secure = tls && !sip_uri_decode(&ru, m->ruri) && ru.scheme == SIP_URI_SIPS;
	return 0;
}

static struct sip_dialog *dlg_new(void)
{
	return mem_zalloc(sizeof(struct sip_dialog), dlg_destroy);
}

int sip_dialog_uas_alloc(struct sip_dialog **dlgp, const struct sip_dialog_uas_prm *prm)
{
	const struct sip_msg *req = prm ? prm->req : NULL;
	const struct sip_addr *from, *to;
	const struct sip_cseq *cs;
	struct sip_dialog *d;
	int err;

	if (!dlgp || !req || !req->req)
		return EINVAL;
	from = sip_msg_from(req);
	to = sip_msg_to(req);
	cs = sip_msg_cseq(req);
	if (!from || !to || !cs || pl_isset(to->tag))
		return EBADMSG;
	d = dlg_new();
	if (!d)
		return ENOMEM;
	d->early = prm->early;
	d->rseq = cs->num;
	err = dlg_common(d, req, prm->local_tag, prm->flow, prm->tls);
	err = err ? err : dlg_str_set(&d->rtag, from->tag);
	err = err ? err : dlg_uri_set(&d->ruri, from);
	err = err ? err : dlg_uri_set(&d->luri, to);
	err = err ? err : sip_dialog_target_refresh(d, req);
	err = err ? err : dlg_routes_from(d, req, false);
	if (err) {
		mem_deref(d);
		return err == ENOENT ? EBADMSG : err;
	}
	*dlgp = d;
	return 0;
}

int sip_dialog_uac_alloc(struct sip_dialog **dlgp, const struct sip_dialog_uac_prm *prm)
{
	const struct sip_msg *req = prm ? prm->req : NULL, *resp = prm ? prm->resp : NULL;
	const struct sip_addr *from, *to;
	const struct sip_cseq *cs;
	struct sip_dialog *d;
	int err;

	if (!dlgp || !req || !resp || !req->req || resp->req)
		return EINVAL;
	if (resp->scode <= 100 || resp->scode >= 300)
		return EBADMSG;
	from = sip_msg_from(req);
	to = sip_msg_to(resp);
	cs = sip_msg_cseq(req);
	if (!from || !to || !cs || !pl_isset(to->tag))
		return EBADMSG;
	d = dlg_new();
	if (!d)
		return ENOMEM;
	d->uac = true;
	d->early = resp->scode < 200;
	d->lseq = cs->num;
	err = dlg_common(d, req, from->tag, prm->flow, prm->tls);
	err = err ? err : dlg_str_set(&d->rtag, to->tag);
	err = err ? err : dlg_uri_set(&d->luri, from);
	err = err ? err : dlg_uri_set(&d->ruri, sip_msg_to(req));
	err = err ? err : sip_dialog_target_refresh(d, resp);
	err = err ? err : dlg_routes_from(d, resp, true);
	if (err) {
		mem_deref(d);
		return err == ENOENT ? EBADMSG : err;
	}
	*dlgp = d;
	return 0;
}

int sip_dialog_restore(struct sip_dialog **dlgp, const struct sip_dialog_state *st)
{
	struct sip_dialog *d;
	struct sip_addr a;
	struct sip_uri u;
	int err;

	if (!dlgp || !st)
		return EINVAL;
	if (!pl_isset(st->callid) || !pl_isset(st->local_tag) ||
	    sip_uri_decode(&u, st->target) || sip_addr_decode(&a, st->local_uri) ||
	    sip_addr_decode(&a, st->remote_uri))
		return EBADMSG;
	d = dlg_new();
	if (!d)
		return ENOMEM;
	d->uac = st->uac;
	d->secure = st->secure;
	d->lseq = st->local_cseq;
	d->rseq = st->remote_cseq;
	if (st->flow) {
		d->flow = *st->flow;
		d->has_flow = true;
	}
	err = dlg_str_set(&d->callid, st->callid);
	err = err ? err : dlg_str_set(&d->ltag, st->local_tag);
	err = err ? err : dlg_str_set(&d->rtag, st->remote_tag);
	err = err ? err : dlg_str_set(&d->luri, st->local_uri);
	err = err ? err : dlg_str_set(&d->ruri, st->remote_uri);
	err = err ? err : dlg_str_set(&d->target, st->target);
	err = err ? err : dlg_str_set(&d->routes, st->routes);
	err = err ? err : dlg_routes_split(d);
	if (err) {
		mem_deref(d);
		return err;
	}
	*dlgp = d;
	return 0;
}

int sip_dialog_confirm(struct sip_dialog *dlg, const struct sip_msg *resp)
{
	int err;

	if (!dlg || !resp || resp->req)
		return EINVAL;
	if (resp->scode < 200 || resp->scode >= 300)
		return EBADMSG;
	if (!dlg->early)
		return 0;
	/* a UAS keeps what the request gave it; resp is our own 2xx */
	if (!dlg->uac) {
		dlg->early = false;
		return 0;
	}
	err = sip_dialog_target_refresh(dlg, resp);
	err = err ? err : dlg_routes_from(dlg, resp, true);
	if (err)
		return err == ENOENT ? EBADMSG : err;
	dlg->early = false;
	return 0;
}

/* ---- accessors ---- */

uint64_t sip_dialog_id(const struct sip_dialog *dlg) { return dlg ? dlg->id : 0; }
bool sip_dialog_is_uac(const struct sip_dialog *dlg) { return dlg && dlg->uac; }
bool sip_dialog_is_early(const struct sip_dialog *dlg) { return dlg && dlg->early; }
bool sip_dialog_secure(const struct sip_dialog *dlg) { return dlg && dlg->secure; }
const char *sip_dialog_callid(const struct sip_dialog *dlg) { return dlg->callid; }
const char *sip_dialog_local_tag(const struct sip_dialog *dlg) { return dlg->ltag; }
const char *sip_dialog_remote_tag(const struct sip_dialog *dlg) { return dlg->rtag; }
const char *sip_dialog_local_uri(const struct sip_dialog *dlg) { return dlg->luri; }
const char *sip_dialog_remote_uri(const struct sip_dialog *dlg) { return dlg->ruri; }
const char *sip_dialog_target(const struct sip_dialog *dlg) { return dlg->target; }
const char *sip_dialog_routes(const struct sip_dialog *dlg) { return dlg->routes; }
size_t sip_dialog_route_count(const struct sip_dialog *dlg) { return dlg->routec; }
uint32_t sip_dialog_local_cseq(const struct sip_dialog *dlg) { return dlg->lseq; }
uint32_t sip_dialog_remote_cseq(const struct sip_dialog *dlg) { return dlg->rseq; }

struct pl sip_dialog_route(const struct sip_dialog *dlg, size_t i)
{
	const char *p = dlg->routes;
	struct pl r = PL_INIT;

	for (size_t k = 0; k <= i; k++) {
		if (dlg_route_next(&p, &r))
			return (struct pl)PL_INIT;
	}
	return r;
}

void sip_dialog_cseq_set(struct sip_dialog *dlg, uint32_t local, uint32_t remote)
{
	dlg->lseq = local;
	dlg->rseq = remote;
}

const struct net_flow *sip_dialog_flow(const struct sip_dialog *dlg)
{
	return dlg->has_flow ? &dlg->flow : NULL;
}

void sip_dialog_flow_set(struct sip_dialog *dlg, const struct net_flow *flow)
{
	dlg->has_flow = flow != NULL;
	if (flow)
		dlg->flow = *flow;
}

const struct sip_dialog_owner *sip_dialog_owner(const struct sip_dialog *dlg)
{
	return &dlg->owner;
}

size_t sip_dialog_mem(const struct sip_dialog *dlg)
{
	const char *const s[] = {dlg->callid, dlg->ltag,   dlg->rtag,  dlg->luri,
				 dlg->ruri,   dlg->target, dlg->routes};
	size_t n = sizeof(*dlg) + 16 + 16; /* the struct and its mem header */

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		n += s[i] ? strlen(s[i]) + 1 + 16 : 0;
	return n;
}

uint16_t sip_dialog_rx_check(struct sip_dialog *dlg, const struct sip_msg *req)
{
	const struct sip_cseq *cs = sip_msg_cseq(req);

	if (!cs)
		return 400;
	/* §12.2.2: an empty remote CSeq takes any; a lower one is out of
	 * order (equal is a new request reusing the number: let it pass, the
	 * transaction layer absorbed the retransmissions). */
	if (dlg->rseq && cs->num < dlg->rseq)
		return 500;
	dlg->rseq = cs->num;
	return 0;
}

/* ---- building ---- */

/* The Request-URI form of a strict route's URI (§12.2.1.1, §19.1.1): no
 * method parameter and no headers. */
static int dlg_ruri_strict(struct mbuf *mb, struct pl uri)
{
	struct sip_uri u;
	struct pl it, name, val;
	const char *end;
	int err;

	if (sip_uri_decode(&u, uri))
		return EBADMSG;
	if (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS)
		return mbuf_write_pl(mb, uri);
	end = u.params.l ? u.params.p : u.headers.l ? u.headers.p - 1 : uri.p + uri.l;
	err = mbuf_write(mb, uri.p, (size_t)(end - uri.p));
	it = u.params;
	while (!err && sip_uri_param_next(&it, ';', &name, &val)) {
		if (pl_caseeq_str(name, "method"))
			continue;
		err = mbuf_printf(mb, ";%.*s", (int)name.l, name.p);
		if (!err && val.l)
			err = mbuf_printf(mb, "=%.*s", (int)val.l, val.p);
	}
	return err;
}

/* Request line and Route (§12.2.1.1). */
static int dlg_req_line(const struct sip_dialog *d, struct mbuf *mb, struct pl method)
{
	struct sip_addr first;
	struct sip_uri u;
	struct pl lr;
	bool strict = false;
	int err;

	memset(&first, 0, sizeof(first));
	if (d->routec) {
		if (sip_addr_decode(&first, sip_dialog_route(d, 0)) ||
		    sip_uri_decode(&u, first.uri))
			return EBADMSG;
		strict = sip_uri_param_get(&u, "lr", &lr) != 0;
	}
	err = mbuf_printf(mb, "%.*s ", (int)method.l, method.p);
	if (!err && strict)
		err = dlg_ruri_strict(mb, first.uri);
	else if (!err)
		err = mbuf_write_str(mb, d->target);
	err = err ? err : mbuf_write_str(mb, " SIP/2.0\r\n");
	if (err || !d->routec)
		return err;
	if (!strict)
		return mbuf_printf(mb, "Route: %s\r\n", d->routes);
	err = mbuf_write_str(mb, "Route: ");
	for (size_t i = 1; i < d->routec && !err; i++) {
		struct pl r = sip_dialog_route(d, i);

		err = mbuf_printf(mb, "%.*s, ", (int)r.l, r.p);
	}
	return err ? err : mbuf_printf(mb, "<%s>\r\n", d->target);
}

int sip_dialog_req_build(struct sip_dialog *dlg, struct mbuf *mb,
			 const struct sip_dialog_req_prm *prm)
{
	bool ack;
	uint32_t seq;
	int err;

	if (!dlg || !mb || !prm || !pl_isset(prm->method))
		return EINVAL;
	ack = pl_eq_str(prm->method, "ACK");
	/* §12.2.1.1: one more than the last; an empty one starts at 1 (any
	 * value below 2**31 would do, §8.1.1.5) */
	seq = ack ? dlg->lseq : dlg->lseq + 1;
	if (seq == 0 || seq >= 0x80000000u)
		return ERANGE;
	err = dlg_req_line(dlg, mb, prm->method);
	err = err ? err
		  : mbuf_printf(mb,
				"Max-Forwards: 70\r\n"
				"From: %s;tag=%s\r\n"
				"To: %s%s%s\r\n"
				"Call-ID: %s\r\n"
				"CSeq: %u %.*s\r\n",
				dlg->luri, dlg->ltag, dlg->ruri, dlg->rtag[0] ? ";tag=" : "",
				dlg->rtag, dlg->callid, seq, (int)prm->method.l,
				prm->method.p);
	if (!err && pl_isset(prm->contact))
		err = mbuf_printf(mb, "Contact: %.*s\r\n", (int)prm->contact.l,
				  prm->contact.p);
	if (!err && prm->hdrs.l)
		err = mbuf_write_pl(mb, prm->hdrs);
	if (!err && prm->ctype.l)
		err = mbuf_printf(mb, "Content-Type: %.*s\r\n", (int)prm->ctype.l,
				  prm->ctype.p);
	err = err ? err : mbuf_printf(mb, "Content-Length: %zu\r\n\r\n", prm->body.l);
	if (!err && prm->body.l)
		err = mbuf_write_pl(mb, prm->body);
	if (!err)
		dlg->lseq = seq;
	return err;
}

/* ---- the table ---- */

static uint64_t dlg_key(struct pl callid, struct pl ltag)
{
	return hash_bytes(callid.p, callid.l) ^ hash_mix(hash_bytes(ltag.p, ltag.l));
}

struct dlg_key_match {
	struct pl callid, ltag, rtag;
};

static bool dlg_match_h(const struct hash_entry *e, const void *key)
{
	const struct sip_dialog *d = HASH_OBJ(e, struct sip_dialog, he);
	const struct dlg_key_match *k = key;

	return pl_eq_str(k->callid, d->callid) && pl_eq_str(k->ltag, d->ltag) &&
	       pl_eq_str(k->rtag, d->rtag);
}

static bool dlg_id_h(const struct hash_entry *e, const void *key)
{
	return HASH_OBJ(e, struct sip_dialog, he_id)->id == *(const uint64_t *)key;
}

int sip_dialogs_alloc(struct sip_dialogs **tp, size_t max)
{
	struct sip_dialogs *t;
	int err;

	if (!tp)
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->max = max ? max : SIP_DIALOGS_MAX_DEFAULT;
	t->next_id = 1;
	err = hash_alloc(&t->by_key, 64);
	err = err ? err : hash_alloc(&t->by_id, 64);
	if (err) {
		sip_dialogs_free(t);
		return err;
	}
	*tp = t;
	return 0;
}

void sip_dialog_end(struct sip_dialog *dlg)
{
	struct sip_dialogs *t = dlg ? dlg->tab : NULL;

	if (!t)
		return;
	hash_remove(t->by_key, &dlg->he);
	hash_remove(t->by_id, &dlg->he_id);
	dlg->tab = NULL;
	memset(&dlg->owner, 0, sizeof(dlg->owner));
	mem_deref(dlg); /* the table's reference */
}

void sip_dialogs_free(struct sip_dialogs *t)
{
	struct hash_iter it;
	struct hash_entry *e;

	if (!t)
		return;
	if (t->by_key) {
		/* removing the entry just returned is allowed (core/hash.h);
		 * by_id is another table */
		hash_iter_init(&it, t->by_key);
		while ((e = hash_iter_next(&it)))
			sip_dialog_end(HASH_OBJ(e, struct sip_dialog, he));
	}
	mem_deref(t->by_key);
	mem_deref(t->by_id);
	free(t);
}

size_t sip_dialogs_count(const struct sip_dialogs *t) { return t ? hash_count(t->by_key) : 0; }
size_t sip_dialogs_max(const struct sip_dialogs *t) { return t ? t->max : 0; }

int sip_dialogs_add(struct sip_dialogs *t, struct sip_dialog *dlg,
		    const struct sip_dialog_owner *owner)
{
	struct pl callid, ltag, rtag;

	if (!t || !dlg || !owner || !owner->req_h || dlg->tab)
		return EINVAL;
	if (hash_count(t->by_key) >= t->max)
		return ENOSPC;
	callid = pl_from_str(dlg->callid);
	ltag = pl_from_str(dlg->ltag);
	rtag = pl_from_str(dlg->rtag);
	if (sip_dialogs_find(t, callid, ltag, rtag))
		return EEXIST;
	dlg->owner = *owner;
	dlg->id = t->next_id++;
	dlg->tab = t;
	hash_insert(t->by_key, &dlg->he, dlg_key(callid, ltag));
	hash_insert(t->by_id, &dlg->he_id, hash_u64(dlg->id));
	mem_ref(dlg);
	return 0;
}

struct sip_dialog *sip_dialogs_find(const struct sip_dialogs *t, struct pl callid,
				    struct pl local_tag, struct pl remote_tag)
{
	struct dlg_key_match k = {callid, local_tag, remote_tag};
	struct hash_entry *e;

	if (!t || !pl_isset(callid) || !pl_isset(local_tag))
		return NULL;
	e = hash_lookup(t->by_key, dlg_key(callid, local_tag), dlg_match_h, &k);
	return e ? HASH_OBJ(e, struct sip_dialog, he) : NULL;
}

struct sip_dialog *sip_dialogs_lookup(const struct sip_dialogs *t, uint64_t id)
{
	struct hash_entry *e = t ? hash_lookup(t->by_id, hash_u64(id), dlg_id_h, &id) : NULL;

	return e ? HASH_OBJ(e, struct sip_dialog, he_id) : NULL;
}

struct sip_dialog *sip_dialogs_match(const struct sip_dialogs *t,
				     const struct sip_msg *msg)
{
	const struct sip_addr *from, *to;
	const struct sip_hdr *h;
	struct pl callid;

	if (!t || !msg || !hash_count(t->by_key))
		return NULL;
	/* the tag that is ours first: most requests (REGISTER, a new
	 * SUBSCRIBE) have none and cost no Call-ID decode */
	from = sip_msg_from(msg);
	to = sip_msg_to(msg);
	if (!from || !to || !pl_isset(msg->req ? to->tag : from->tag))
		return NULL;
	h = sip_msg_hdr(msg, SIP_HDR_CALL_ID);
	if (!h || sip_callid_decode(h->val, &callid))
		return NULL;
	return msg->req ? sip_dialogs_find(t, callid, to->tag, from->tag)
			: sip_dialogs_find(t, callid, from->tag, to->tag);
}

static bool dlg_target_refresh_method(enum sip_method m)
{
	return m == SIP_METHOD_INVITE || m == SIP_METHOD_UPDATE ||
	       m == SIP_METHOD_SUBSCRIBE || m == SIP_METHOD_NOTIFY || m == SIP_METHOD_REFER;
}

int sip_dialogs_request(struct sip_dialogs *t, struct sip_tsx *tsx,
			const struct sip_msg *req, const struct net_flow *flow,
			uint16_t *scode)
{
	struct sip_dialog *d;
	struct sip_dialog_owner o;
	uint16_t sc;

	*scode = 0;
	/* CANCEL is hop by hop (§9.2): its INVITE transaction, not the dialog */
	if (!req->req || req->meth == SIP_METHOD_ACK || req->meth == SIP_METHOD_CANCEL)
		return ENOENT;
	d = sip_dialogs_match(t, req);
	if (!d)
		return ENOENT;
	sc = sip_dialog_rx_check(d, req);
	if (sc) {
		*scode = sc;
		return 0;
	}
	/* a malformed or missing Contact keeps the target (§12.2.2 asks for
	 * one; the owner may refuse the request for it) */
	if (dlg_target_refresh_method(req->meth))
		(void)sip_dialog_target_refresh(d, req);
	o = d->owner;
	mem_ref(d); /* the handler may end it */
	o.req_h(d, tsx, req, flow, o.arg);
	mem_deref(d);
	return 0;
}

const char *sip_dialog_reason(uint16_t scode)
{
	switch (scode) {
	case 400:
		return "Bad Request";
	case 500:
		return "Server Internal Error - CSeq out of order";
	default:
		return "Server Internal Error";
	}
}

int sip_dialogs_ack(struct sip_dialogs *t, const struct sip_msg *ack,
		    const struct net_flow *flow)
{
	struct sip_dialog *d = sip_dialogs_match(t, ack);
	struct sip_dialog_owner o;

	if (!d || ack->meth != SIP_METHOD_ACK)
		return ENOENT;
	o = d->owner;
	if (o.ack_h) {
		mem_ref(d);
		o.ack_h(d, ack, flow, o.arg);
		mem_deref(d);
	}
	return 0;
}
