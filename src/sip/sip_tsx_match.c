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
 * Both forms live in one keyed-SipHash table (core/hash, a random key per
 * process). Each hash covers every field its match compares except those
 * an INVITE, its ACK and its CANCEL do not share: 3261 servers hash branch,
 * sent-by host and port and method (ACK hashed as INVITE, a CANCEL looking
 * for its INVITE likewise), 2543 servers Call-ID, CSeq number, From tag,
 * top Via and method (not the To tag, which the ACK adds, nor the
 * Request-URI, compared by URI rules), clients branch and method. So a
 * peer that reuses one branch with other sent-by hosts, ports or methods
 * spreads over the buckets instead of piling into one chain that every
 * later request would walk; the keys that can still share a hash value
 * (2543 requests differing only in To tag or Request-URI) are bounded by
 * SIP_TSX_SAME_KEY_MAX (sip_tsx.c).
 */
#include <errno.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
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

/* Which table and rule a hash is for: the first word says it, so keys of
 * different forms never hash alike by construction. */
enum key_form { KEY_SERVER_3261 = 1, KEY_SERVER_2543, KEY_CLIENT };

/* The method: its enum in w (a word hashed before any data), and for an
 * extension method (compared as text, case-sensitively) its length in w
 * and its bytes after the other fields. */
static uint64_t method_word(const struct sip_tsx_key *k, enum key_form form)
{
	uint64_t w = (uint64_t)form | (uint64_t)(k->meth & 0xff) << 8;

	if (k->meth == SIP_METHOD_OTHER)
		w |= (uint64_t)(uint32_t)k->method.l << 32;
	return w;
}

static void method_data(struct hash_acc *a, const struct sip_tsx_key *k)
{
	if (k->meth == SIP_METHOD_OTHER)
		hash_acc_data(a, k->method.p, k->method.l, false);
}

/* Field lengths are bounded by the message (SIP_MSG_MAX_HARD < 2^32). */
static uint64_t len2(size_t a, size_t b)
{
	return (uint64_t)(uint32_t)a | (uint64_t)(uint32_t)b << 32;
}

uint64_t sip_tsx_key_hash_server(const struct sip_tsx_key *k)
{
	struct hash_acc a;

	hash_acc_init(&a);
	if (k->rfc3261) {
		hash_acc_word(&a,
			      method_word(k, KEY_SERVER_3261) | (uint64_t)k->port << 16);
		hash_acc_word(&a, len2(k->branch.l, k->host.l));
		hash_acc_data(&a, k->branch.p, k->branch.l, true);
		hash_acc_data(&a, k->host.p, k->host.l, true);
	} else {
		hash_acc_word(&a, method_word(k, KEY_SERVER_2543));
		hash_acc_word(&a, len2(k->callid.l, k->ftag.l));
		hash_acc_word(&a, (uint64_t)k->cseq | (uint64_t)(uint32_t)k->via.l << 32);
		hash_acc_data(&a, k->callid.p, k->callid.l, false);
		hash_acc_data(&a, k->ftag.p, k->ftag.l, true);
		hash_acc_data(&a, k->via.p, k->via.l, true);
	}
	method_data(&a, k);
	return hash_acc_end(&a);
}

uint64_t sip_tsx_key_hash_client(const struct sip_tsx_key *k)
{
	struct hash_acc a;

	hash_acc_init(&a);
	hash_acc_word(&a, method_word(k, KEY_CLIENT));
	hash_acc_word(&a, k->branch.l);
	hash_acc_data(&a, k->branch.p, k->branch.l, true);
	method_data(&a, k);
	return hash_acc_end(&a);
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
	size_t same;

	return sip_tsx_find_server_same(st, k, hv, &same);
}

struct sip_tsx *sip_tsx_find_server_same(struct sip_tsx_stack *st,
					 const struct sip_tsx_key *k, uint64_t hv,
					 size_t *same)
{
	struct hash_entry *e = hash_lookup_same(st->servers, hv, server_match, k, same);

	return e ? HASH_OBJ(e, struct sip_tsx, he_key) : NULL;
}

size_t sip_tsx_chain_len(const struct sip_tsx_stack *st, uint64_t hv)
{
	return hash_chain_len(st->servers, hv) + hash_chain_len(st->done, hv);
}

/* One line a second at most: a forger repeating one key must not turn the
 * refusals into a log flood; the count says how many it stands for. */
void sip_tsx_key_refused(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
			 size_t same)
{
	uint64_t now = st->env->timer->now(st->env->timer_ctx);

	st->key_refused++;
	st->key_refused_unlogged++;
	if (st->key_log_at && now - st->key_log_at < 1000)
		return;
	log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "tsx: %zu transactions already share the key of %.*s branch %.*s "
		  "sent-by %.*s:%u (max %u): 503, %llu refused so",
		  same, (int)(k->method.l > 32 ? 32 : k->method.l), k->method.p,
		  (int)(k->branch.l > 64 ? 64 : k->branch.l), k->branch.p,
		  (int)(k->host.l > 64 ? 64 : k->host.l), k->host.p, k->port,
		  SIP_TSX_SAME_KEY_MAX, (unsigned long long)st->key_refused_unlogged);
	st->key_refused_unlogged = 0;
	st->key_log_at = now ? now : 1;
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
	tsx = sip_tsx_find_server(st, k, sip_tsx_key_hash_server(k));
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
