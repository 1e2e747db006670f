/*
 * sip/sip_tsx_match — matching messages to transactions.
 *
 * RFC 3261 §17.1.3: a response matches a client transaction when its top
 * Via branch equals the request's and its CSeq method equals the request's
 * method (a CANCEL shares the INVITE's branch, the method tells them apart).
 *
 * RFC 3261 §17.2.3: a request whose top Via branch starts with "z9hG4bK"
 * matches a server transaction by branch, sent-by and method, where ACK
 * counts as INVITE. Without the cookie (RFC 2543 peers) it matches by
 * Request-URI, To tag, From tag, Call-ID, CSeq and top Via; an ACK matches
 * the INVITE by the same fields except that its To tag must equal the tag of
 * the response the server transaction sent. CANCEL (§9.2) matches its INVITE
 * by the same rules with the method taken as INVITE (3261) or ignored
 * (2543).
 *
 * Both forms live in one keyed-SipHash table (core/hash): the 3261 key
 * hashes the branch, the 2543 key the Call-ID and CSeq number, which an
 * INVITE, its ACK and its CANCEL share.
 */
#include <errno.h>
#include <string.h>

#include "core/hash.h"
#include "sip/sip_hdr.h"
#include "sip/sip_tsx_int.h"
#include "sip/sip_uri.h"

/* via: the top Via already decoded by the caller, or NULL */
static int key_via(struct sip_tsx_key *k, const struct sip_msg *msg,
		   const struct sip_via *via)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_VIA);

	if (!h)
		return EBADMSG;
	if (!via)
		via = sip_msg_via(msg);
	if (!via)
		return EBADMSG;
	k->via = h->val;
	k->branch = via->branch;
	k->host = via->host;
	k->port = via->port;
	k->rfc3261 = sip_via_branch_is_3261(via);
	return 0;
}

static int key_cseq(struct sip_tsx_key *k, const struct sip_msg *msg)
{
	const struct sip_cseq *cseq = sip_msg_cseq(msg);

	if (!cseq)
		return EBADMSG;
	k->cseq = cseq->num;
	k->meth = cseq->meth;
	k->method = cseq->method;
	return 0;
}

static int key_tag(struct pl *tag, const struct sip_msg *msg, enum sip_hdr_id id)
{
	const struct sip_addr *a = id == SIP_HDR_FROM ? sip_msg_from(msg) : sip_msg_to(msg);

	if (!a)
		return EBADMSG;
	*tag = a->tag;
	return 0;
}

/* The fields of the RFC 2543 fallback. Also filled for 3261 requests: the
 * tags and Call-ID are cheap and the ACK builder of a client uses them. */
static int key_2543(struct sip_tsx_key *k, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CALL_ID);

	if (!h || sip_callid_decode(h->val, &k->callid))
		return EBADMSG;
	if (key_tag(&k->ftag, msg, SIP_HDR_FROM) || key_tag(&k->ttag, msg, SIP_HDR_TO))
		return EBADMSG;
	return 0;
}

int sip_tsx_key_req(struct sip_tsx_key *k, const struct sip_msg *msg)
{
	return sip_tsx_key_req_via(k, msg, NULL);
}

int sip_tsx_key_req_via(struct sip_tsx_key *k, const struct sip_msg *msg,
			const struct sip_via *via)
{
	int err;

	memset(k, 0, sizeof(*k));
	if (!msg->req)
		return EINVAL;
	err = key_via(k, msg, via);
	if (!err)
		err = key_cseq(k, msg);
	if (!err && !k->rfc3261)
		err = key_2543(k, msg);
	if (err)
		return err;
	k->ruri = msg->ruri;
	/* The request's own method, not CSeq's (sip_msg_check compares them). */
	k->meth = msg->meth;
	k->method = msg->method;
	if (k->meth == SIP_METHOD_ACK) {
		k->ack = true;
		k->meth = SIP_METHOD_INVITE;
		k->method = PL("INVITE");
	}
	return 0;
}

int sip_tsx_key_resp(struct sip_tsx_key *k, const struct sip_msg *msg)
{
	int err;

	memset(k, 0, sizeof(*k));
	if (msg->req)
		return EINVAL;
	err = key_via(k, msg, NULL);
	if (!err)
		err = key_cseq(k, msg);
	return err;
}

uint64_t sip_tsx_key_hash(const struct sip_tsx_key *k)
{
	if (k->rfc3261)
		return hash_bytes_ci(k->branch.p, k->branch.l);
	return hash_bytes(k->callid.p, k->callid.l) ^ hash_u64(k->cseq);
}

/* tsx's own method against a received key's */
static bool method_eq(const struct sip_tsx *tsx, const struct sip_tsx_key *k)
{
	if (tsx->meth != k->meth)
		return false;
	return k->meth != SIP_METHOD_OTHER ||
	       pl_eq(sip_tsx_kf(tsx, SIP_TSX_KF_METHOD), k->method);
}

/* §17.2.3, the RFC 2543 rules; tsx is the server transaction, k the
 * received request. */
static bool match_2543(const struct sip_tsx *tsx, const struct sip_tsx_key *k)
{
	struct pl ruri;

	if (tsx->cseq != k->cseq ||
	    !pl_eq(sip_tsx_kf(tsx, SIP_TSX_KF_CALLID), k->callid) ||
	    !pl_caseeq(sip_tsx_kf(tsx, SIP_TSX_KF_FTAG), k->ftag) ||
	    !pl_caseeq(sip_tsx_kf(tsx, SIP_TSX_KF_VIA), k->via))
		return false;
	if (k->ack) {
		/* the To tag of the final we sent, kept after its bytes */
		struct pl tag = {(const char *)tsx->out + tsx->out_len,
				 tsx->resp_tag_len};

		if (!tsx->resp_tag_len || !pl_caseeq(tag, k->ttag))
			return false;
	} else if (!pl_caseeq(sip_tsx_kf(tsx, SIP_TSX_KF_TTAG), k->ttag)) {
		return false;
	}
	ruri = sip_tsx_kf(tsx, SIP_TSX_KF_RURI);
	return pl_eq(ruri, k->ruri) || sip_uri_cmp(ruri, k->ruri);
}

static bool server_match(const struct hash_entry *e, const void *arg)
{
	const struct sip_tsx *tsx = HASH_OBJ(e, struct sip_tsx, he_key);
	const struct sip_tsx_key *k = arg;

	if (tsx->rfc3261 != k->rfc3261 || !method_eq(tsx, k))
		return false;
	if (!k->rfc3261)
		return match_2543(tsx, k);
	return tsx->port == k->port &&
	       pl_caseeq(sip_tsx_kf(tsx, SIP_TSX_KF_BRANCH), k->branch) &&
	       pl_caseeq(sip_tsx_kf(tsx, SIP_TSX_KF_HOST), k->host);
}

static bool client_match(const struct hash_entry *e, const void *arg)
{
	const struct sip_tsx *tsx = HASH_OBJ(e, struct sip_tsx, he_key);
	const struct sip_tsx_key *k = arg;

	return method_eq(tsx, k) &&
	       pl_caseeq(sip_tsx_kf(tsx, SIP_TSX_KF_BRANCH), k->branch);
}

struct sip_tsx *sip_tsx_find_server(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
				    uint64_t hv)
{
	struct hash_entry *e = hash_lookup(st->servers, hv, server_match, k);

	return e ? HASH_OBJ(e, struct sip_tsx, he_key) : NULL;
}

struct sip_tsx *sip_tsx_find_client(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
				    uint64_t hv)
{
	struct hash_entry *e;

	if (!k->rfc3261)
		return NULL; /* we only send cookie branches */
	e = hash_lookup(st->clients, hv, client_match, k);
	return e ? HASH_OBJ(e, struct sip_tsx, he_key) : NULL;
}

/* The INVITE server transaction matching key k taken as INVITE's. */
static struct sip_tsx *cancel_find(struct sip_tsx_stack *st, struct sip_tsx_key *k)
{
	struct sip_tsx *tsx;

	k->meth = SIP_METHOD_INVITE;
	k->method = PL("INVITE");
	tsx = sip_tsx_find_server(st, k, sip_tsx_key_hash(k));
	if (!tsx || tsx->kind != SIP_TSX_IST)
		return NULL;
	return tsx;
}

struct sip_tsx *sip_tsx_cancel_match(struct sip_tsx_stack *st,
				     const struct sip_msg *cancel)
{
	struct sip_tsx_key k;

	if (!st || !cancel || !cancel->req || cancel->meth != SIP_METHOD_CANCEL)
		return NULL;
	if (sip_tsx_key_req(&k, cancel))
		return NULL;
	return cancel_find(st, &k);
}

struct sip_tsx *sip_tsx_cancel_target(const struct sip_tsx *cancel)
{
	struct sip_tsx_key k = {0};

	if (!cancel || !cancel->st || cancel->kind != SIP_TSX_NIST ||
	    cancel->meth != SIP_METHOD_CANCEL)
		return NULL;
	/* from the CANCEL's own key copy: its request may be released */
	k.rfc3261 = cancel->rfc3261;
	k.branch = sip_tsx_kf(cancel, SIP_TSX_KF_BRANCH);
	k.host = sip_tsx_kf(cancel, SIP_TSX_KF_HOST);
	k.port = cancel->port;
	k.ruri = sip_tsx_kf(cancel, SIP_TSX_KF_RURI);
	k.ftag = sip_tsx_kf(cancel, SIP_TSX_KF_FTAG);
	k.ttag = sip_tsx_kf(cancel, SIP_TSX_KF_TTAG);
	k.callid = sip_tsx_kf(cancel, SIP_TSX_KF_CALLID);
	k.via = sip_tsx_kf(cancel, SIP_TSX_KF_VIA);
	k.cseq = cancel->cseq;
	return cancel_find(cancel->st, &k);
}

/* ---- destinations that answered (sip_peer.h) ---- */

bool sip_tsx_peer_proven(const struct sip_tsx *tsx)
{
	const struct sip_tsx_stack *st = tsx->st;

	return st && sip_peers_proven(st->peers, &tsx->addr.sa,
				      st->env->timer->now(st->env->timer_ctx));
}

void sip_tsx_peer_answered(struct sip_tsx *tsx)
{
	const struct sip_tsx_stack *st = tsx->st;

	if (st && !tsx->reliable)
		sip_peers_prove(st->peers, &tsx->addr.sa,
				st->env->timer->now(st->env->timer_ctx));
}

bool sip_tsx_peer_budget(struct sip_tsx *tsx, size_t len)
{
	const struct sip_tsx_stack *st = tsx->st;
	uint64_t now;

	if (!st || tsx->kind >= SIP_TSX_IST)
		return true;
	now = st->env->timer->now(st->env->timer_ctx);
	if (sip_peers_proven(st->peers, &tsx->addr.sa, now))
		return true;
	return sip_peers_budget_take(st->peers, &tsx->addr.sa, len, now);
}

void sip_tsx_peer_prove(struct sip_tsx_stack *st, const struct sip_tsx_dst *dst)
{
	if (st && dst && !dst->reliable)
		sip_peers_prove(st->peers, (const struct sockaddr *)&dst->addr,
				st->env->timer->now(st->env->timer_ctx));
}

void sip_tsx_peer_stats(const struct sip_tsx_stack *st, struct sip_peers_stats *out)
{
	sip_peers_stats_get(st ? st->peers : NULL, out);
}
