/* sip/sip_check — request and response validation; see sip_check.h. */
#include "sip/sip_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "sip/sip_scan.h"

/* sip_msg_hdr() and sip_msg_hdr_next() for a known id, inline: the chain
 * of a known id holds that id only. */
static inline const struct sip_hdr *chk_first(const struct sip_msg *msg, enum sip_hdr_id id)
{
	return msg->first[id] < 0 ? NULL : &msg->hdrv[msg->first[id]];
}

static inline const struct sip_hdr *chk_next(const struct sip_msg *msg, const struct sip_hdr *h)
{
	return h->next < 0 ? NULL : &msg->hdrv[h->next];
}

static bool sip_fault(struct sip_verdict *v, uint16_t scode, const char *reason)
{
	v->scode = scode;
	v->reason = reason;
	return true;
}

/* Headers that may appear once only (RFC 3261 §7.3.1, RFC 4475 §3.3.8-9). */
static bool sip_check_single(const struct sip_msg *msg, struct sip_verdict *v)
{
	static const struct {
		enum sip_hdr_id id;
		const char *reason;
	} once[] = {
		{SIP_HDR_CALL_ID, "Multiple Call-ID values"},
		{SIP_HDR_CSEQ, "Multiple CSeq values"},
		{SIP_HDR_FROM, "Multiple From values"},
		{SIP_HDR_TO, "Multiple To values"},
		{SIP_HDR_MAX_FORWARDS, "Multiple Max-Forwards values"},
		{SIP_HDR_CONTENT_LENGTH, "Multiple Content-Length values"},
		{SIP_HDR_CONTENT_TYPE, "Multiple Content-Type values"},
		{SIP_HDR_EXPIRES, "Multiple Expires values"},
	};

	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		if (msg->count[once[i].id] > 1)
			return sip_fault(v, 400, once[i].reason);
	}
	return false;
}

static bool sip_check_addrs(const struct sip_msg *msg, enum sip_hdr_id id,
			    const char *reason, struct sip_verdict *v)
{
	const struct sip_hdr *first = chk_first(msg, id);
	const struct sip_addr *ap;
	struct sip_addr a;

	for (const struct sip_hdr *h = first; h; h = chk_next(msg, h)) {
		if (h == first && id == SIP_HDR_FROM)
			ap = sip_msg_from(msg); /* decoded once for every layer */
		else if (h == first && id == SIP_HDR_TO)
			ap = sip_msg_to(msg);
		else
			ap = sip_addr_decode(&a, h->val) ? NULL : &a;
		if (!ap)
			return sip_fault(v, 400, reason);
		if (ap->star && (id != SIP_HDR_CONTACT || msg->count[id] > 1))
			return sip_fault(v, 400, reason);
	}
	return false;
}

static bool sip_check_syntax(const struct sip_msg *msg, struct sip_verdict *v)
{
	const struct sip_hdr *h;
	const struct sip_cseq *cseq;
	struct pl callid;
	struct sip_via via;
	struct sip_ctype ct;
	uint32_t u;

	if (sip_callid_decode(chk_first(msg, SIP_HDR_CALL_ID)->val, &callid))
		return sip_fault(v, 400, "Bad Call-ID");
	cseq = sip_msg_cseq(msg);
	if (!cseq)
		return sip_fault(v, 400, "Bad CSeq");
	if (msg->req && !pl_eq(cseq->method, msg->method))
		return sip_fault(v, 400, "CSeq method mismatch");
	if (!sip_msg_via(msg)) /* the top one, kept decoded for the stack */
		return sip_fault(v, 400, "Bad Via");
	for (h = chk_next(msg, chk_first(msg, SIP_HDR_VIA)); h; h = chk_next(msg, h)) {
		if (sip_via_decode(&via, h->val))
			return sip_fault(v, 400, "Bad Via");
	}
	if (sip_check_addrs(msg, SIP_HDR_FROM, "Bad From", v) ||
	    sip_check_addrs(msg, SIP_HDR_TO, "Bad To", v) ||
	    sip_check_addrs(msg, SIP_HDR_CONTACT, "Bad Contact", v) ||
	    sip_check_addrs(msg, SIP_HDR_ROUTE, "Bad Route", v) ||
	    sip_check_addrs(msg, SIP_HDR_RECORD_ROUTE, "Bad Record-Route", v))
		return true;
	h = chk_first(msg, SIP_HDR_MAX_FORWARDS);
	if (h && sip_uint_decode(h->val, 255, &u))
		return sip_fault(v, 400, "Bad Max-Forwards");
	if (msg->clen_err)
		return sip_fault(v, 400, "Bad Content-Length");
	h = chk_first(msg, SIP_HDR_CONTENT_TYPE);
	if (h && sip_ctype_decode(&ct, h->val))
		return sip_fault(v, 400, "Bad Content-Type");
	h = chk_first(msg, SIP_HDR_EXPIRES);
	if (h && sip_delta_decode(h->val, &u))
		return sip_fault(v, 400, "Bad Expires");
	return false;
}

static bool sip_tag_supported(const struct sip_check_prm *prm, struct pl tag)
{
	for (const char *const *s = prm->supported; s && *s; s++) {
		if (sip_pl_ieq(tag, *s))
			return true;
	}
	return false;
}

/* A tag already listed for Unsupported (Require and Proxy-Require may
 * both name it). */
static bool sip_unsup_has(const struct sip_verdict *v, struct pl tag)
{
	for (size_t i = 0; i < v->n_unsup; i++) {
		if (pl_caseeq(v->unsup[i], tag))
			return true;
	}
	return false;
}

static bool sip_check_require(const struct sip_msg *msg, const struct sip_check_prm *prm,
			      struct sip_verdict *v)
{
	/* A UAS reads Require, a proxy Proxy-Require (§16.3 step 5); a UAS
	 * that is also the request's first proxy (proxy_require) reads both. */
	const bool req = !prm->proxy, preq = prm->proxy || prm->proxy_require;

	/* RFC 3261 §8.2.2.3: not for CANCEL or ACK */
	if (msg->meth == SIP_METHOD_ACK || msg->meth == SIP_METHOD_CANCEL)
		return false;
	for (int i = 0; i < 2; i++) {
		enum sip_hdr_id id = i ? SIP_HDR_PROXY_REQUIRE : SIP_HDR_REQUIRE;

		if (i ? !preq : !req)
			continue;
		for (const struct sip_hdr *h = chk_first(msg, id); h;
		     h = chk_next(msg, h)) {
			struct pl tag;

			if (sip_token_decode(h->val, &tag))
				return sip_fault(v, 400,
						 i ? "Bad Proxy-Require" : "Bad Require");
			if (sip_tag_supported(prm, tag) || sip_unsup_has(v, tag))
				continue;
			if (v->n_unsup < SIP_CHECK_MAX_UNSUP)
				v->unsup[v->n_unsup++] = tag;
		}
	}
	if (v->n_unsup)
		return sip_fault(v, 420, "Bad Extension");
	return false;
}

static bool sip_check_loop(const struct sip_msg *msg, const struct sip_check_prm *prm,
			   struct sip_verdict *v)
{
	uint16_t ours = prm->via_port ? prm->via_port : 5060;

	if (!pl_isset(prm->via_host) || !pl_isset(prm->loop_hash))
		return false;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_VIA); h;
	     h = sip_msg_hdr_next(msg, h)) {
		struct sip_via via;
		const char *dot;

		if (sip_via_decode(&via, h->val) || !pl_caseeq(via.host, prm->via_host) ||
		    (via.port ? via.port : 5060) != ours || !via.branch.l)
			continue;
		dot = memrchr(via.branch.p, '.', via.branch.l);
		if (dot && pl_eq((struct pl){dot + 1, (size_t)(via.branch.p + via.branch.l -
								dot - 1)},
				 prm->loop_hash))
			return sip_fault(v, 482, "Loop Detected");
	}
	return false;
}

static bool sip_check_ruri(const struct sip_msg *msg, struct sip_verdict *v)
{
	struct sip_uri uri;

	if (msg->bad_start)
		return sip_fault(v, 400, "Bad Request-Line");
	if (sip_uri_decode(&uri, msg->ruri))
		return sip_fault(v, 400, "Bad Request-URI");
	switch (uri.scheme) {
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		/* RFC 3261 §19.1.1: no headers in a Request-URI */
		if (uri.headers.l)
			return sip_fault(v, 400, "Bad Request-URI");
		return false;
	case SIP_URI_TEL:
	case SIP_URI_URN:
		return false;
	default:
		return sip_fault(v, 416, "Unsupported URI Scheme");
	}
}

static bool sip_check_present(const struct sip_msg *msg, struct sip_verdict *v)
{
	if (!chk_first(msg, SIP_HDR_VIA))
		return sip_fault(v, 400, "Missing Via");
	if (!chk_first(msg, SIP_HDR_CALL_ID))
		return sip_fault(v, 400, "Missing Call-ID");
	if (!chk_first(msg, SIP_HDR_CSEQ))
		return sip_fault(v, 400, "Missing CSeq");
	if (!chk_first(msg, SIP_HDR_FROM))
		return sip_fault(v, 400, "Missing From");
	if (!chk_first(msg, SIP_HDR_TO))
		return sip_fault(v, 400, "Missing To");
	return false;
}

void sip_msg_check(const struct sip_msg *msg, const struct sip_check_prm *prm,
		   struct sip_verdict *v)
{
	static const struct sip_check_prm dflt;
	const struct sip_hdr *mf;
	uint32_t hops;

	if (!v)
		return;
	memset(v, 0, sizeof(*v));
	if (!msg) {
		sip_fault(v, 400, "Bad Request");
		v->drop = true;
		return;
	}
	if (!prm)
		prm = &dflt;
	if (msg->ver_major != 2 || msg->ver_minor != 0) {
		sip_fault(v, 505, "Version Not Supported");
		goto out;
	}
	if (prm->max_size && msg->raw.l > prm->max_size) {
		sip_fault(v, 513, "Message Too Large");
		goto out;
	}
	if (sip_check_present(msg, v) || sip_check_single(msg, v) || sip_check_syntax(msg, v))
		goto out;
	if (!msg->req)
		goto out;
	if (sip_check_ruri(msg, v) || sip_check_require(msg, prm, v))
		goto out;
	mf = chk_first(msg, SIP_HDR_MAX_FORWARDS);
	if (prm->proxy && mf && sip_uint_decode(mf->val, 255, &hops) == 0 && hops == 0) {
		sip_fault(v, 483, "Too Many Hops");
		goto out;
	}
	if (prm->proxy)
		sip_check_loop(msg, prm, v);
out:
	/* responses and ACKs are never answered (RFC 3261 §17.2.3, §18.1.2) */
	if (v->scode && (!msg->req || msg->meth == SIP_METHOD_ACK))
		v->drop = true;
}

int sip_error_build(struct mbuf *mb, const struct sip_msg *req,
		    const struct sip_verdict *v, struct pl to_tag)
{
	struct sip_resp_prm rp = {0};
	char unsup[1024];
	size_t n = 0;

	if (!mb || !req || !v || !req->req || req->meth == SIP_METHOD_ACK || !v->scode)
		return EINVAL;
	rp.scode = v->scode;
	rp.reason = pl_from_str(v->reason ? v->reason : "Bad Request");
	rp.to_tag = to_tag;
	if (v->scode == 420 && v->n_unsup) {
		n = (size_t)snprintf(unsup, sizeof(unsup), "Unsupported: ");
		for (size_t i = 0; i < v->n_unsup && n < sizeof(unsup); i++) {
			int w = snprintf(unsup + n, sizeof(unsup) - n, "%s%.*s", i ? ", " : "",
					 (int)v->unsup[i].l, v->unsup[i].p);

			if (w < 0 || (size_t)w >= sizeof(unsup) - n - 2)
				return ENOSPC;
			n += (size_t)w;
		}
		/* a header block with its length (a pl), not a C string */
		memcpy(unsup + n, "\r\n", 2); // NOLINT(bugprone-not-null-terminated-result)
		rp.hdrs = (struct pl){unsup, n + 2};
	}
	return sip_resp_build(mb, req, &rp);
}

static void sip_fnv(uint64_t *h, struct pl pl)
{
	for (size_t i = 0; i < pl.l; i++) {
		*h ^= (unsigned char)pl.p[i];
		*h *= 0x100000001b3ull;
	}
	/* separator so that field boundaries count */
	*h ^= 0xff;
	*h *= 0x100000001b3ull;
}

int sip_msg_loop_hash(const struct sip_msg *msg, char *out, size_t size)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_PROXY_REQUIRE,
					      SIP_HDR_PROXY_AUTHORIZATION, SIP_HDR_ROUTE};
	uint64_t h = 0xcbf29ce484222325ull;
	const struct sip_hdr *x;
	const struct sip_addr *a;
	const struct sip_cseq *cs;

	if (!msg || !out || size < 17 || !msg->req)
		return EINVAL;
	a = sip_msg_to(msg);
	sip_fnv(&h, a ? a->tag : (struct pl)PL_INIT);
	a = sip_msg_from(msg);
	sip_fnv(&h, a ? a->tag : (struct pl)PL_INIT);
	x = sip_msg_hdr(msg, SIP_HDR_CALL_ID);
	sip_fnv(&h, x ? x->val : (struct pl)PL_INIT);
	cs = sip_msg_cseq(msg);
	if (cs)
		h ^= cs->num;
	sip_fnv(&h, msg->ruri);
	x = sip_msg_hdr(msg, SIP_HDR_VIA);
	sip_fnv(&h, x ? x->val : (struct pl)PL_INIT);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		for (x = sip_msg_hdr(msg, ids[i]); x; x = sip_msg_hdr_next(msg, x))
			sip_fnv(&h, x->val);
	}
	snprintf(out, size, "%016llx", (unsigned long long)h);
	return 0;
}
