/*
 * registrar_auth — Digest authentication of REGISTER (TS 24.229 §5.4.1.2,
 * TS 33.203 §6.1, RFC 3310, RFC 4169, RFC 2617).
 *
 * One challenge per user is kept (struct reg_chal, by hss_user): RAND,
 * XRES, CK, IK and the nonce, for challenge_ttl seconds. Every nonce we
 * make ends with 16 bytes ts(8) || MAC(8), MAC = SipHash-2-4(secret,
 * everything before it): for AKA these are the "server data" of RFC 3310
 * §3.2 (nonce = base64(RAND || AUTN || ts || MAC)), for MD5 the nonce is
 * base64(random(16) || ts || MAC). So a nonce we no longer hold is still
 * recognised as ours, and answered with stale=true instead of being
 * treated as forged.
 *
 * Answers: right response -> accepted (the nonce stays usable with a
 * higher nc while it lives, with qop only); wrong response (or missing qop
 * directives) -> a new challenge REGISTRAR_AUTH_RETRIES times, then 403
 * (no endless 401 loop); empty AKA response on the held nonce -> 403 (the
 * UE rejected AUTN); auts -> resynchronise the HSS (a bad MAC-S is a 403),
 * then a new challenge with the corrected SQN; a nonce of ours no longer
 * held -> 401 stale=true (MD5: only with a valid digest); nc not above the
 * last one -> a new challenge.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/auth_codec.h"
#include "core/log.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"
#include "ipsec/sec_agree.h"
#include "registrar/registrar_int.h"

#define NONCE_TRAILER 16 /* ts(8) || mac(8) */
#define NONCE_RAW_MAX (AKA_RAND_LEN + AKA_AUTN_MAX + NONCE_TRAILER)

enum nonce_state { NONCE_BAD = 0, NONCE_FRESH, NONCE_STALE };

/*
 * Several challenges (security review finding 4). One challenge per user,
 * replaced by any REGISTER naming the user, let a stranger keep the user
 * from registering (and spend its AKA vectors). Now a user holds up to
 * REG_CHALS_PER_USER, one per source address:
 *   - a request from the address of one gets that one (the same nonce
 *     within REG_CHAL_REUSE_MS of its making: no vector spent for a
 *     flood; a fresh one after);
 *   - a request from a new address takes a free place, else the place of
 *     the oldest challenge over REG_CHAL_KEEP_MS old (abandoned), else —
 *     when it comes over a flow the user holds a live binding on (its
 *     registered phone refreshing) — the oldest; else 503 Retry-After.
 * So a flood from one address replaces only its own challenge, at most one
 * vector a second, and the registered phone can always refresh.
 */

static uint64_t chal_src_key(const struct net_flow *src)
{
	uint8_t k[17] = {0};

	if (!src)
		return 0;
	k[16] = (uint8_t)net_addr_af(&src->peer);
	if (k[16] == AF_INET6)
		memcpy(k, &src->peer.u.in6.sin6_addr, 16);
	else if (k[16] == AF_INET)
		memcpy(k, &src->peer.u.in.sin_addr, 4);
	return hash_bytes(k, sizeof(k));
}

static struct reg_chal *chal_find(struct registrar *reg, const struct hss_user *u,
				  uint64_t src_key)
{
	for (struct reg_chal *c = reg_chal_first(reg, u); c; c = c->next) {
		if (c->src_key == src_key)
			return c;
	}
	return NULL;
}

/* The user's challenge whose nonce this is. */
static struct reg_chal *chal_by_nonce(struct registrar *reg, const struct hss_user *u,
				      struct pl nonce)
{
	for (struct reg_chal *c = reg_chal_first(reg, u); c; c = c->next) {
		if (pl_eq_str(nonce, c->nonce))
			return c;
	}
	return NULL;
}

/* A place for a new challenge of u from in->src: true when there is one
 * (a victim freed if needed). */
static bool chal_place(struct registrar *reg, struct hss_user *u,
		       const struct reg_auth_in *in)
{
	struct reg_chal *oldest = NULL;
	uint64_t now = reg_now(reg);
	unsigned n = 0;

	for (struct reg_chal *c = reg_chal_first(reg, u); c; c = c->next) {
		n++;
		if (!oldest || c->born < oldest->born)
			oldest = c;
	}
	if (n < REG_CHALS_PER_USER)
		return true;
	if (oldest->born + REG_CHAL_KEEP_MS <= now ||
	    registrar_user_on_flow(reg, u, in->src)) {
		reg_chal_free(reg, oldest);
		return true;
	}
	return false;
}

/*
 * The nonce MAC: SipHash-2-4 (a PRF made for short inputs, 64-bit tag)
 * keyed with the first half of the process secret. It only has to make a
 * nonce we issued recognisable later (stale=true rather than forged); the
 * challenge itself is checked against the state we hold. HMAC-SHA-256
 * cost six times as much per 401 for the same 8 bytes we keep.
 */
void reg_nonce_mac(const uint8_t key[16], const uint8_t *p, size_t len, uint8_t mac[8])
{
	uint64_t t = hash_siphash24(key, p, len);

	for (size_t i = 0; i < 8; i++) {
		mac[i] = (uint8_t)t;
		t >>= 8;
	}
}

static void nonce_mac(const struct registrar *reg, const uint8_t *p, size_t len,
		      uint8_t mac[8])
{
	_Static_assert(sizeof(reg->secret) >= 16, "SipHash takes a 16-byte key");
	reg_nonce_mac(reg->secret, p, len, mac);
}

/* Appends ts || MAC over raw[0..len) at raw+len; returns the new length. */
static size_t nonce_seal(const struct registrar *reg, uint8_t *raw, size_t len)
{
	uint64_t ts = reg_now(reg);

	for (int i = 7; i >= 0; i--) {
		raw[len + (size_t)i] = (uint8_t)ts;
		ts >>= 8;
	}
	nonce_mac(reg, raw, len + 8, raw + len + 8);
	return len + NONCE_TRAILER;
}

/* Ours and fresh, ours and too old, or not ours. */
static enum nonce_state nonce_check(const struct registrar *reg, struct pl nonce)
{
	uint8_t raw[NONCE_RAW_MAX], mac[8];
	size_t len = 0;
	uint64_t ts = 0;

	if (!nonce.l || nonce.l > DIGEST_NONCE_MAX ||
	    auth_b64_decode(nonce.p, nonce.l, raw, sizeof(raw), &len) ||
	    len < NONCE_TRAILER)
		return NONCE_BAD;
	nonce_mac(reg, raw, len - 8, mac);
	if (CRYPTO_memcmp(mac, raw + len - 8, 8))
		return NONCE_BAD;
	for (size_t i = len - NONCE_TRAILER; i < len - 8; i++)
		ts = ts << 8 | raw[i];
	if (ts + (uint64_t)reg->chal_ttl * 1000 <= reg_now(reg))
		return NONCE_STALE;
	return NONCE_FRESH;
}

/* The Digest credentials of the request for our realm, if any. RFC 2617
 * §3.2.2 makes realm a required directive and the response is computed
 * over it: credentials without one (or for another realm) are not for us,
 * whatever their username (the first such go to in->other). */
static void cred_find(const struct sip_msg *req, struct reg_auth_in *in)
{
	in->have = in->have_other = false;
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_AUTHORIZATION); h;
	     h = sip_msg_hdr_next(req, h)) {
		struct sip_auth a;

		if (sip_auth_decode(&a, h->val) || !pl_caseeq_str(a.scheme, "Digest"))
			continue;
		if (!pl_isset(a.realm) || !pl_caseeq(a.realm, in->realm)) {
			if (!in->have_other) {
				in->other = a;
				in->have_other = true;
			}
			continue;
		}
		in->cred = a;
		in->have = true;
		return;
	}
}

static struct pl reg_realm(const struct registrar *reg, const struct sip_msg *req)
{
	struct sip_uri uri;

	if (reg->realm[0])
		return pl_from_str(reg->realm);
	if (!sip_uri_decode(&uri, req->ruri) && pl_isset(uri.host))
		return uri.host;
	return PL("ims");
}

static int chal_vector(struct reg_chal *c, struct hss_user *u,
		       const struct registrar *reg)
{
	uint8_t raw[NONCE_RAW_MAX];
	char *b64;
	struct aka_vector av;
	size_t len;
	int err;

	err = hss_av_generate(u, &av);
	if (err)
		return err;
	memcpy(c->rand, av.rand, AKA_RAND_LEN);
	memcpy(c->xres, av.xres, av.xres_len);
	memcpy(c->ck, av.ck, av.ck_len);
	memcpy(c->ik, av.ik, av.ik_len);
	c->xres_len = (uint8_t)av.xres_len;
	c->ck_len = (uint8_t)av.ck_len;
	c->ik_len = (uint8_t)av.ik_len;
	memcpy(raw, av.rand, AKA_RAND_LEN);
	memcpy(raw + AKA_RAND_LEN, av.autn, av.autn_len);
	len = nonce_seal(reg, raw, AKA_RAND_LEN + av.autn_len);
	aka_vector_wipe(&av);
	b64 = c->nonce;
	if (AUTH_B64_SIZE(len) > sizeof(c->nonce))
		return ENOSPC;
	auth_b64_encode(raw, len, b64);
	return 0;
}

static int chal_md5(struct reg_chal *c, const struct registrar *reg)
{
	uint8_t raw[16 + NONCE_TRAILER];
	size_t len;

	if (RAND_bytes(raw, 16) != 1)
		return EIO;
	len = nonce_seal(reg, raw, 16);
	auth_b64_encode(raw, len, c->nonce);
	return 0;
}

/* Appends len bytes at *at if they fit before end; false (nothing written) if not. */
static bool chal_put(char **at, const char *end, const char *p, size_t len)
{
	if ((size_t)(end - *at) < len)
		return false;
	memcpy(*at, p, len);
	*at += len;
	return true;
}

/*
 * The WWW-Authenticate line of a 401, without snprintf (one per challenge):
 * its length, or -1 if it does not fit in size.
 */
static int chal_hdr_format(char *buf, size_t size, struct pl realm, const char *nonce,
			   const char *algo, bool qop_auth, bool stale)
{
	static const char qop[] = ", qop=\"auth\"", st[] = ", stale=TRUE";
	const char *end = buf + size;
	char *at = buf;
	bool ok;

	ok = chal_put(&at, end, "WWW-Authenticate: Digest realm=\"", 32) &&
	     chal_put(&at, end, realm.p, realm.l) &&
	     chal_put(&at, end, "\", nonce=\"", 10) &&
	     chal_put(&at, end, nonce, strlen(nonce)) &&
	     chal_put(&at, end, "\", algorithm=", 13) &&
	     chal_put(&at, end, algo, strlen(algo)) &&
	     (!qop_auth || chal_put(&at, end, qop, sizeof(qop) - 1)) &&
	     (!stale || chal_put(&at, end, st, sizeof(st) - 1)) &&
	     chal_put(&at, end, "\r\n", 2);
	if (!ok || at - buf > INT_MAX)
		return -1;
	return (int)(at - buf);
}

/* The 401 for challenge c, sent statelessly (RFC 3261 §8.2.7, §26.3.2.4):
 * no transaction state is kept for Timer J; a retransmitted request is
 * answered with the same challenge (reg_challenge, req_key). */
static void chal_send(struct registrar *reg, struct sip_tsx *tsx, struct pl realm,
		      const struct reg_chal *c)
{
	struct sip_tsx_reply_prm rp;
	char hdr[512 + SEC_AGREE_VALUE_MAX + 32];
	char tag[AUTH_HEX_SIZE(8)];
	uint8_t th[8];
	uint64_t h;
	int n;

	n = chal_hdr_format(hdr, sizeof(hdr), realm, c->nonce,
			    digest_algo_name((enum digest_algo)c->algo),
			    c->qop == DIGEST_QOP_AUTH, c->stale);
	if (n >= 0 && c->ipsec_set) { /* TS 33.203 §7.2: Security-Server */
		int m = reg_ipsec_server_hdr(reg, c, hdr + n, sizeof(hdr) - (size_t)n);

		n = m < 0 ? -1 : n + m;
	}
	if (n < 0) {
		reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
		return;
	}
	/* The To tag follows the challenge (a keyed hash of its nonce): the 401
	 * to a retransmitted REGISTER is the same response, tag included, as
	 * a server transaction would have resent (RFC 3261 §8.2.7). */
	h = hash_bytes(c->nonce, strlen(c->nonce));
	for (size_t i = 0; i < sizeof(th); i++)
		th[i] = (uint8_t)(h >> (8 * i));
	auth_hex_encode(th, sizeof(th), tag);
	memset(&rp, 0, sizeof(rp));
	rp.hdrs = (struct pl){hdr, (size_t)n};
	rp.to_tag = (struct pl){tag, sizeof(th) * 2};
	rp.stateless = true;
	reg_reply(reg, tsx, 401, "Unauthorized", &rp);
}

/* A fresh challenge for u (replacing any), answered as 401; the same one
 * again for a retransmission of the request it answered. */
static void reg_challenge(struct registrar *reg, struct sip_tsx *tsx,
			  const struct reg_auth_in *in, struct hss_user *u,
			  const enum digest_algo *offered, bool stale)
{
	uint64_t src_key = chal_src_key(in->src);
	struct reg_chal *c = chal_find(reg, u, src_key);
	enum digest_algo algo;
	int err;

	if (c && !c->done && c->req_key == in->req_key && c->tmr.due > reg_now(reg)) {
		chal_send(reg, tsx, in->realm, c);
		return;
	}
	if (reg_ipsec_precheck(reg, tsx, in))
		return;
	err = hss_auth_select(u, offered, &algo);
	if (err == EPERM) {
		reg_reply(reg, tsx, 403, "Forbidden - authentication algorithm too weak",
			  NULL);
		return;
	}
	if (err) {
		reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
		return;
	}
	if (!c) {
		if (reg->nchals >= reg->max_chals || !chal_place(reg, u, in)) {
			struct sip_tsx_reply_prm busy = {.hdrs =
							     PL("Retry-After: 5\r\n")};

			reg_reply(reg, tsx, 503, "Service Unavailable", &busy);
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
			return;
		}
		c->u = u;
		c->src_key = src_key;
		c->tmr.kind = REG_TMR_CHAL;
		reg_chal_link(reg, c);
	}
	c->born = reg_now(reg);
	c->algo = (uint8_t)algo;
	c->qop = (uint8_t)hss_auth_qop(u);
	c->done = false;
	c->stale = stale;
	c->req_key = in->req_key;
	c->nc_last = 0;
	err = digest_algo_is_aka(algo) ? chal_vector(c, u, reg) : chal_md5(c, reg);
	if (err) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "registrar: no challenge for %s: %s",
			  hss_user_impi(u) ? hss_user_impi(u) : hss_user_imsi(u),
			  strerror(err));
		reg_chal_free(reg, c);
		reg_reply(reg, tsx, err == ENOKEY ? 403 : 500,
			  err == ENOKEY ? "Forbidden - no credentials"
					: "Server Internal Error",
			  NULL);
		return;
	}
	if (digest_algo_is_aka(algo))
		reg_ipsec_chal_made(reg, c, in);
	else
		reg_ipsec_chal_drop(reg, c);
	reg_tmr_set(reg, &c->tmr, reg_now(reg) + (uint64_t)reg->chal_ttl * 1000);
	chal_send(reg, tsx, in->realm, c);
}

/* A request without an answer: the challenge its address holds again when
 * it was made under REG_CHAL_REUSE_MS ago (a flood spends no vectors),
 * else a new one. */
static void reg_challenge_new(struct registrar *reg, struct sip_tsx *tsx,
			      const struct reg_auth_in *in, struct hss_user *u,
			      const enum digest_algo *offered)
{
	struct reg_chal *c = chal_find(reg, u, chal_src_key(in->src));
	uint64_t now = reg_now(reg);

	if (c && !c->done && !c->stale && c->tmr.due > now &&
	    c->born + REG_CHAL_REUSE_MS > now &&
	    (!offered || *offered == (enum digest_algo)c->algo) &&
	    reg_ipsec_chal_fits(reg, c, in)) {
		chal_send(reg, tsx, in->realm, c);
		return;
	}
	reg_challenge(reg, tsx, in, u, offered, false);
}

/* RFC 3310 §3.4: the UE rejected SQN. */
static void reg_resync(struct registrar *reg, struct sip_tsx *tsx,
		       const struct reg_auth_in *in, struct reg_chal *c,
		       const struct sip_auth *cred, const enum digest_algo *alg)
{
	uint8_t auts[AKA_AUTS_MAX + 2];
	uint8_t rand[AKA_RAND_LEN];
	struct hss_user *u = c->u;
	uint64_t sqn_ms = 0;
	size_t len = 0;
	int err;

	if (auth_b64_decode(cred->auts.p, cred->auts.l, auts, sizeof(auts), &len)) {
		reg_reply(reg, tsx, 400, "Bad Request - malformed auts", NULL);
		return;
	}
	memcpy(rand, c->rand, sizeof(rand));
	err = hss_resync(u, rand, auts, len, &sqn_ms);
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "registrar: resynchronisation refused for %.*s: %s",
			  (int)cred->username.l, cred->username.p, strerror(err));
		reg_guard_fail(reg, u, in->src);
		reg_chal_free(reg, c);
		reg_reply(reg, tsx, 403, "Forbidden - resynchronisation failed", NULL);
		return;
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "registrar: SQN resynchronised for %.*s (SQN_MS %llu)",
		  (int)cred->username.l, cred->username.p, (unsigned long long)sqn_ms);
	reg_challenge(reg, tsx, in, u, alg, false);
}

static bool nc_parse(struct pl nc, uint32_t *v)
{
	uint32_t x = 0;

	if (nc.l != 8)
		return false;
	for (size_t i = 0; i < 8; i++) {
		char ch = nc.p[i];
		int d = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;

		if (d < 0)
			return false;
		x = x << 4 | (uint32_t)d;
	}
	*v = x;
	return true;
}

/* Checks cred's response under algo/qop with the given password. */
static bool reg_digest_ok(enum digest_algo algo, enum digest_qop qop, struct pl password,
			  const struct sip_msg *req, const struct sip_auth *cred)
{
	struct digest_prm p;

	memset(&p, 0, sizeof(p));
	p.algo = algo;
	p.qop = qop;
	p.username = cred->username;
	p.realm = cred->realm;
	p.method = req->method;
	p.uri = cred->uri;
	p.nonce = cred->nonce;
	p.cnonce = cred->cnonce;
	p.nc = cred->nc;
	p.body = req->body;
	p.password = password;
	return digest_response_verify(&p, cred->response);
}

static bool reg_response_ok(const struct reg_chal *c, const struct sip_msg *req,
			    const struct sip_auth *cred)
{
	enum digest_algo algo = (enum digest_algo)c->algo;
	uint8_t pw[DIGEST_PW_MAX];
	size_t pwlen = 0;
	bool ok;

	if (!digest_algo_is_aka(algo))
		return reg_digest_ok(algo, (enum digest_qop)c->qop, hss_user_pwd(c->u),
				     req, cred);
	if (digest_aka_password(algo, c->xres, c->xres_len, c->ik, c->ik_len, c->ck,
				c->ck_len, pw, &pwlen))
		return false;
	ok = reg_digest_ok(algo, (enum digest_qop)c->qop,
			   (struct pl){(const char *)pw, pwlen}, req, cred);
	explicit_bzero(pw, sizeof(pw));
	return ok;
}

/* Each failure, with the IMPI and the source (docs/security.md). */
static void reg_auth_fail_log(const struct reg_auth_in *in, const char *what, unsigned n)
{
	char peer[NET_ADDR_STRLEN] = "?";

	if (in->src)
		net_addr_print(&in->src->peer, peer, sizeof(peer));
	log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "registrar: %s from %.*s at %s:%s (%u failure(s) on this challenge)", what,
		  (int)in->cred.username.l, in->cred.username.p,
		  !in->src ? "-" : in->src->reliable ? "tcp" : "udp", peer, n);
}

/* A failed answer: 403 once the retries are spent (or the nonce had
 * already been used), else a new challenge. */
static enum reg_auth_result reg_fail(struct registrar *reg, struct sip_tsx *tsx,
				     const struct reg_auth_in *in, struct reg_chal *c,
				     const enum digest_algo *alg, const char *what)
{
	/* A retransmission of the request this challenge answered (its 401
	 * went out statelessly and was lost): the same 401, not a second
	 * failure. */
	if (!c->done && c->req_key == in->req_key) {
		reg_challenge(reg, tsx, in, c->u, alg, false);
		return REG_AUTH_REPLIED;
	}
	reg_auth_fail_log(in, what, c->fails + 1u);
	reg_guard_fail(reg, c->u, in->src);
	if (c->done || ++c->fails > REGISTRAR_AUTH_RETRIES) {
		reg_chal_free(reg, c);
		reg_reply(reg, tsx, 403, "Forbidden - authentication failed", NULL);
		return REG_AUTH_REPLIED;
	}
	reg_challenge(reg, tsx, in, c->u, alg, false);
	return REG_AUTH_REPLIED;
}

static void reg_accept(struct reg_chal *c, struct reg_user *ru, uint32_t nc, bool keys)
{
	c->done = true;
	c->nc_last = nc;
	c->fails = 0;
	if (!keys)
		return;
	ru->algo = (int8_t)c->algo;
	if (digest_algo_is_aka((enum digest_algo)c->algo)) {
		memcpy(ru->ck, c->ck, sizeof(ru->ck));
		memcpy(ru->ik, c->ik, sizeof(ru->ik));
		ru->ck_len = c->ck_len;
		ru->ik_len = c->ik_len;
	} else {
		ru->ck_len = ru->ik_len = 0;
	}
}

/* Checks an answer to challenge c. */
static enum reg_auth_result reg_verify(struct registrar *reg, struct sip_tsx *tsx,
				       const struct sip_msg *req, struct reg_chal *c,
				       const struct reg_auth_in *in,
				       const enum digest_algo *alg, struct reg_user **rup)
{
	const struct sip_auth *cred = &in->cred;
	uint32_t nc = 0;

	if (c->tmr.due <= reg_now(reg)) {
		reg_challenge(reg, tsx, in, c->u, alg, true);
		return REG_AUTH_REPLIED;
	}
	if (alg && *alg != (enum digest_algo)c->algo) {
		reg_challenge(reg, tsx, in, c->u, alg, false);
		return REG_AUTH_REPLIED;
	}
	if (pl_isset(cred->auts) && digest_algo_is_aka((enum digest_algo)c->algo) &&
	    !c->done) {
		reg_resync(reg, tsx, in, c, cred, alg);
		return REG_AUTH_REPLIED;
	}
	if (!pl_isset(cred->response)) {
		if (c->done) {
			reg_challenge(reg, tsx, in, c->u, alg, false);
			return REG_AUTH_REPLIED;
		}
		if (digest_algo_is_aka((enum digest_algo)c->algo)) {
			/* TS 24.229 §5.1.1.5.1, TS 33.203 §6.1.2: an empty
			 * response without auts on the nonce we hold is the
			 * UE's verdict that AUTN's MAC is wrong: the network
			 * failed to authenticate (keys differ). No new
			 * challenge would fare better. */
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "registrar: %.*s rejected the network's AUTN (MAC "
				  "failure: K or OP/OPc differ from the ISIM's)",
				  (int)cred->username.l, cred->username.p);
			reg_chal_free(reg, c);
			reg_reply(reg, tsx, 403,
				  "Forbidden - network authentication failed", NULL);
			return REG_AUTH_REPLIED;
		}
		return reg_fail(reg, tsx, in, c, alg, "empty Digest response");
	}
	if (c->qop == DIGEST_QOP_AUTH) {
		if (!pl_caseeq_str(cred->qop, "auth") || !pl_isset(cred->cnonce) ||
		    !nc_parse(cred->nc, &nc) || nc == 0)
			return reg_fail(reg, tsx, in, c, alg,
					"Digest answer without qop=auth, cnonce or nc");
		if (c->done && nc <= c->nc_last) {
			/* nc replay: never reuse this nonce */
			reg_challenge(reg, tsx, in, c->u, alg, false);
			return REG_AUTH_REPLIED;
		}
	} else if (c->done) {
		/* Without qop nothing tells a replay from a new request. */
		reg_challenge(reg, tsx, in, c->u, alg, false);
		return REG_AUTH_REPLIED;
	}
	if (reg_response_ok(c, req, cred)) {
		struct reg_user *ru = reg_user_get(reg, c->u);

		if (!ru) {
			reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
			return REG_AUTH_REPLIED;
		}
		switch (reg_ipsec_verify(reg, tsx, c, in, ru)) {
		case REG_IPSEC_REPLIED:
			reg_user_release(reg, ru);
			return REG_AUTH_REPLIED;
		case REG_IPSEC_RECHALLENGE:
			reg_user_release(reg, ru);
			reg_challenge(reg, tsx, in, c->u, alg, false);
			return REG_AUTH_REPLIED;
		default:
			break;
		}
		/* The first answer to a challenge made for this address: its
		 * sender read the 401 sent there (the nonce is unguessable), so
		 * the address receives (sip/sip_peer.h). A reused nonce (a
		 * higher nc) proves nothing: it may come from a forged source. */
		if (!c->done && in->src && c->src_key == chal_src_key(in->src))
			reg->ops.peer_prove(reg->stack, in->src, reg->ops.arg);
		reg_accept(c, ru, nc, !in->other_method);
		reg_guard_success(reg, c->u);
		*rup = ru;
		return REG_AUTH_OK;
	}
	return reg_fail(reg, tsx, in, c, alg, "wrong Digest response");
}

/*
 * An answer on a nonce of ours that we no longer hold (superseded, or aged
 * out). RFC 2617 §3.2.1: stale=TRUE only for a valid digest. An MD5 answer
 * can be checked against the password; a wrong one counts as a failure of
 * the challenge the user holds. An AKA answer cannot (its XRES is gone):
 * stale=TRUE.
 */
static void reg_stale(struct registrar *reg, struct sip_tsx *tsx,
		      const struct sip_msg *req, const struct reg_auth_in *in,
		      struct hss_user *u, struct reg_chal *c, const enum digest_algo *alg)
{
	const struct sip_auth *cred = &in->cred;
	enum digest_algo algo;
	enum digest_qop qop = hss_auth_qop(u);

	if (!pl_isset(cred->response) || hss_auth_select(u, alg, &algo) ||
	    digest_algo_is_aka(algo) ||
	    reg_digest_ok(algo, pl_caseeq_str(cred->qop, "auth") ? qop : DIGEST_QOP_NONE,
			  hss_user_pwd(u), req, cred)) {
		reg_challenge(reg, tsx, in, u, alg, true);
		return;
	}
	if (c) {
		(void)reg_fail(reg, tsx, in, c, alg,
			       "wrong Digest response on an old nonce");
		return;
	}
	reg_auth_fail_log(in, "wrong Digest response on an old nonce", 1);
	reg_guard_fail(reg, u, in->src);
	reg_challenge(reg, tsx, in, u, alg, false);
}

uint64_t reg_req_key(const struct reg_auth_in *in, struct pl callid, uint32_t cseq)
{
	uint64_t k = hash_bytes(callid.p, callid.l) ^ hash_mix(cseq);
	const struct sip_auth *a = in->have ? &in->cred : in->have_other ? &in->other : NULL;

	/* what tells one answer from another: a guess changes the response
	 * (which covers nc and cnonce too), a resynchronisation its auts;
	 * hashing these, not the whole Authorization, keeps it cheap */
	if (a && pl_isset(a->response))
		k = hash_mix(k ^ hash_bytes(a->response.p, a->response.l));
	else if (a && pl_isset(a->auts))
		k = hash_mix(k ^ hash_bytes(a->auts.p, a->auts.l));
	return k;
}

void reg_auth_in_read(const struct registrar *reg, const struct sip_msg *req,
		      struct reg_auth_in *in)
{
	memset(in, 0, sizeof(*in));
	in->req = req;
	in->realm = reg_realm(reg, req);
	cred_find(req, in);
}

void reg_auth_in_user(const struct registrar *reg, const struct sip_msg *req,
		      const struct hss_user *u, struct reg_auth_in *in)
{
	const struct ims_cfg_ue *ue = hss_user_cfg(u);
	const char *dom = ue && ue->opts ? ue->opts->domain : NULL;

	(void)reg;
	if (!dom || !*dom || pl_caseeq_str(in->realm, dom))
		return;
	in->realm = pl_from_str(dom);
	cred_find(req, in);
}

enum reg_auth_result reg_auth_check(struct registrar *reg, struct sip_tsx *tsx,
				    const struct sip_msg *req, struct hss_user *u,
				    uint32_t impu_idx, const struct reg_auth_in *in,
				    struct reg_user **rup)
{
	const struct sip_auth *cred = &in->cred;
	enum digest_algo algo, *alg = NULL;
	struct reg_chal *c;

	if (!hss_auth_required(u, impu_idx)) {
		*rup = reg_user_get(reg, u);
		if (!*rup) {
			reg_reply(reg, tsx, 500, "Server Internal Error", NULL);
			return REG_AUTH_REPLIED;
		}
		if (!in->other_method)
			(*rup)->algo = -1;
		return REG_AUTH_OK;
	}
	switch (reg_guard_check(reg, u, in->src)) {
	case REG_GUARD_USER_LOCKED:
		reg_reply(reg, tsx, 403,
			  "Forbidden - too many failed authentications, try later", NULL);
		return REG_AUTH_REPLIED;
	case REG_GUARD_SRC_LOCKED:
		reg_reply(reg, tsx, 403,
			  "Forbidden - too many failed authentications from this address", NULL);
		return REG_AUTH_REPLIED;
	default:
		break;
	}
	if (in->have && pl_isset(cred->algorithm)) {
		if (digest_algo_from_pl(cred->algorithm, &algo)) {
			reg_reply(reg, tsx, 403, "Forbidden - unknown algorithm", NULL);
			return REG_AUTH_REPLIED;
		}
		alg = &algo;
	}
	c = in->have_other ? chal_by_nonce(reg, u, in->other.nonce) : NULL;
	if (!in->have && in->have_other && c && !c->done) {
		/* Our open challenge answered over no realm or another one (a
		 * response hashed over an empty realm): an attempt, counted as
		 * one. A spent nonce just gets a new challenge, as below. */
		struct reg_auth_in o = *in;

		o.cred = in->other;
		return reg_fail(reg, tsx, &o, c, alg, "Digest answer without our realm");
	}
	if (!in->have || !pl_isset(cred->nonce)) {
		reg_challenge_new(reg, tsx, in, u, alg);
		return REG_AUTH_REPLIED;
	}
	c = chal_by_nonce(reg, u, cred->nonce);
	if (!c) {
		/* Not the nonce we hold: ours but superseded or old -> stale;
		 * another's, or no answer at all -> a plain challenge. */
		if (nonce_check(reg, cred->nonce) == NONCE_BAD ||
		    (!pl_isset(cred->response) && !pl_isset(cred->auts)))
			reg_challenge_new(reg, tsx, in, u, alg);
		else
			reg_stale(reg, tsx, req, in, u, chal_find(reg, u, chal_src_key(in->src)),
				  alg);
		return REG_AUTH_REPLIED;
	}
	return reg_verify(reg, tsx, req, c, in, alg, rup);
}
