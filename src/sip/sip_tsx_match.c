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

static int key_via(struct sip_tsx_key *k, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_VIA);
	struct sip_via via;

	if (!h || sip_via_decode(&via, h->val))
		return EBADMSG;
	k->via = h->val;
	k->branch = via.branch;
	k->host = via.host;
	k->port = via.port;
	k->rfc3261 = sip_via_branch_is_3261(&via);
	return 0;
}

static int key_cseq(struct sip_tsx_key *k, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CSEQ);
	struct sip_cseq cseq;

	if (!h || sip_cseq_decode(&cseq, h->val))
		return EBADMSG;
	k->cseq = cseq.num;
	k->meth = cseq.meth;
	k->method = cseq.method;
	return 0;
}

static int key_tag(struct pl *tag, const struct sip_msg *msg, enum sip_hdr_id id)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, id);
	struct sip_addr a;

	if (!h || sip_addr_decode(&a, h->val))
		return EBADMSG;
	*tag = a.tag;
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
	int err;

	memset(k, 0, sizeof(*k));
	if (!msg->req)
		return EINVAL;
	err = key_via(k, msg);
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
	err = key_via(k, msg);
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

static bool method_eq(const struct sip_tsx_key *a, const struct sip_tsx_key *b)
{
	if (a->meth != b->meth)
		return false;
	return a->meth != SIP_METHOD_OTHER || pl_eq(a->method, b->method);
}

/* §17.2.3, the RFC 2543 rules; tsx is the server transaction, k the
 * received request. */
static bool match_2543(const struct sip_tsx *tsx, const struct sip_tsx_key *k)
{
	const struct sip_tsx_key *t = &tsx->key;

	if (t->cseq != k->cseq || !pl_eq(t->callid, k->callid) ||
	    !pl_caseeq(t->ftag, k->ftag) || !pl_caseeq(t->via, k->via))
		return false;
	if (k->ack) {
		struct pl tag = {tsx->resp_tag, tsx->resp_tag_len};

		if (!tsx->resp_tag_len || !pl_caseeq(tag, k->ttag))
			return false;
	} else if (!pl_caseeq(t->ttag, k->ttag)) {
		return false;
	}
	return pl_eq(t->ruri, k->ruri) || sip_uri_cmp(t->ruri, k->ruri);
}

static bool server_match(const struct hash_entry *e, const void *arg)
{
	const struct sip_tsx *tsx = HASH_OBJ(e, struct sip_tsx, he_key);
	const struct sip_tsx_key *k = arg;
	const struct sip_tsx_key *t = &tsx->key;

	if (t->rfc3261 != k->rfc3261 || !method_eq(t, k))
		return false;
	if (!k->rfc3261)
		return match_2543(tsx, k);
	return pl_caseeq(t->branch, k->branch) && pl_caseeq(t->host, k->host) &&
	       t->port == k->port;
}

static bool client_match(const struct hash_entry *e, const void *arg)
{
	const struct sip_tsx *tsx = HASH_OBJ(e, struct sip_tsx, he_key);
	const struct sip_tsx_key *k = arg;

	return method_eq(&tsx->key, k) && pl_caseeq(tsx->key.branch, k->branch);
}

struct sip_tsx *sip_tsx_find_server(struct sip_tsx_stack *st, const struct sip_tsx_key *k)
{
	struct hash_entry *e =
	    hash_lookup(st->servers, sip_tsx_key_hash(k), server_match, k);

	return e ? HASH_OBJ(e, struct sip_tsx, he_key) : NULL;
}

struct sip_tsx *sip_tsx_find_client(struct sip_tsx_stack *st, const struct sip_tsx_key *k)
{
	struct hash_entry *e;

	if (!k->rfc3261)
		return NULL; /* we only send cookie branches */
	e = hash_lookup(st->clients, sip_tsx_key_hash(k), client_match, k);
	return e ? HASH_OBJ(e, struct sip_tsx, he_key) : NULL;
}

struct sip_tsx *sip_tsx_cancel_match(struct sip_tsx_stack *st,
				     const struct sip_msg *cancel)
{
	struct sip_tsx_key k;
	struct sip_tsx *tsx;

	if (!st || !cancel || !cancel->req || cancel->meth != SIP_METHOD_CANCEL)
		return NULL;
	if (sip_tsx_key_req(&k, cancel))
		return NULL;
	k.meth = SIP_METHOD_INVITE;
	k.method = PL("INVITE");
	tsx = sip_tsx_find_server(st, &k);
	if (!tsx || tsx->kind != SIP_TSX_IST)
		return NULL;
	return tsx;
}

struct sip_tsx *sip_tsx_cancel_target(const struct sip_tsx *cancel)
{
	if (!cancel || !cancel->st || cancel->kind != SIP_TSX_NIST ||
	    cancel->key.meth != SIP_METHOD_CANCEL)
		return NULL;
	return sip_tsx_cancel_match(cancel->st, cancel->req);
}
