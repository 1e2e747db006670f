/*
 * hss/hss_auth — authentication state of a user: vectors, SQN_HE and its
 * resynchronisation (TS 33.102 §6.3, Annex C), MD5 digest HA1, and the
 * authentication policy of §5.2.1 (authent_type minimum, authent_qop,
 * authentication, auth_on_register_only).
 *
 * Keys are not copied into the HSS: each call builds a struct aka_cred on
 * the stack from the user's cfg entry and wipes it before returning.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/sqn.h"
#include "hss/hss_int.h"

static size_t op_len(const struct ims_cfg_isim *s)
{
	return s->algo == IMS_CFG_SIM_TUAK ? 32 : 16;
}

static int cred_load(const struct hss_user *u, struct aka_cred *c)
{
	const struct ims_cfg_isim *s = &u->ue->isim;
	static const enum aka_algo algos[] = {
	    [IMS_CFG_SIM_XOR] = AKA_ALGO_XOR,
	    [IMS_CFG_SIM_MILENAGE] = AKA_ALGO_MILENAGE,
	    [IMS_CFG_SIM_TUAK] = AKA_ALGO_TUAK,
	};
	int err;

	if (!s->k_len)
		return ENOKEY;
	if (s->algo > IMS_CFG_SIM_TUAK || s->k_len > sizeof(c->k))
		return EINVAL;
	aka_cred_init(c, algos[s->algo]);
	memcpy(c->k, s->k, s->k_len);
	c->k_len = s->k_len;
	c->amf[0] = (uint8_t)(s->amf >> 8);
	c->amf[1] = (uint8_t)s->amf;
	if (s->algo == IMS_CFG_SIM_TUAK) {
		c->tuak.mac_len = s->mac_len;
		c->tuak.res_len = s->res_len;
		c->tuak.ck_len = s->ck_len;
		c->tuak.ik_len = s->ik_len;
		c->tuak.iterations = s->keccak_iterations;
	} else if (s->algo == IMS_CFG_SIM_XOR) {
		c->xor_res_len = s->res_len;
	}
	err = aka_cred_check(c);
	if (err || s->algo == IMS_CFG_SIM_XOR)
		goto out;
	if (s->op_kind == IMS_CFG_OP_OPC)
		memcpy(c->opc, s->op, op_len(s));
	else if (s->op_kind == IMS_CFG_OP_OP)
		err = aka_cred_set_op(c, s->op, op_len(s));
	else
		err = EINVAL; /* the cfg loader requires one */
out:
	if (err)
		aka_cred_wipe(c);
	return err;
}

/*
 * RANDs come from a per-thread pool refilled 64 at a time: one RAND_bytes
 * call through OpenSSL 3's DRBG costs about 6,600 instructions whether it
 * gives 16 bytes or 1 KiB. A RAND is public (it goes out in the challenge);
 * the pool bytes are wiped as they are taken.
 */
#define HSS_RAND_POOL (64 * AKA_RAND_LEN)
static _Thread_local uint8_t hss_rand_pool[HSS_RAND_POOL];
static _Thread_local size_t hss_rand_left;

static int hss_rand_draw(uint8_t rand[AKA_RAND_LEN])
{
	uint8_t *p;

	if (hss_rand_left < AKA_RAND_LEN) {
		if (RAND_bytes(hss_rand_pool, sizeof(hss_rand_pool)) != 1) {
			hss_rand_left = 0;
			return EIO;
		}
		hss_rand_left = sizeof(hss_rand_pool);
	}
	hss_rand_left -= AKA_RAND_LEN;
	p = hss_rand_pool + hss_rand_left;
	memcpy(rand, p, AKA_RAND_LEN);
	explicit_bzero(p, AKA_RAND_LEN);
	return 0;
}

/* RAND draws at most per vector while its RES holds a zero byte. */
#define HSS_RAND_TRIES 16

int hss_av_generate(struct hss_user *u, struct aka_vector *av)
{
	const struct ims_cfg_isim *s;
	uint8_t rand[AKA_RAND_LEN];
	struct aka_cred c;
	uint64_t sqn;
	int err;

	if (!u || !av)
		return EINVAL;
	s = &u->ue->isim;
	/* The IND of the configured sqn stays the HSS's IND (Annex C.3.2). */
	err = sqn_he_next(u->sqn_he, sqn_ind(s->sqn), &sqn);
	if (err)
		return err;
	err = cred_load(u, &c);
	if (err)
		return err;
	for (unsigned tries = 0;; tries++) {
		err = hss_rand_draw(rand);
		if (err)
			goto out;
		err = aka_vector_generate(&c, rand, sqn, av);
		if (err)
			goto out;
		/* Milenage gives 64 bits of RES; an ISIM set to fewer sends
		 * the leftmost res_len bytes (TS 35.206 §4.1 f2). */
		if (s->algo == IMS_CFG_SIM_MILENAGE && s->res_len &&
		    s->res_len < av->xres_len) {
			explicit_bzero(av->xres + s->res_len, av->xres_len - s->res_len);
			av->xres_len = s->res_len;
		}
		/* AKAv1's Digest password is RES itself (RFC 3310 §3.3), and
		 * some clients (SIPp 3.6 among them) take it as a C string,
		 * failing about 3% of registrations. A RAND whose RES has no
		 * zero byte costs 0.05 bit of RAND entropy: draw again. */
		if (!memchr(av->xres, 0, av->xres_len) || tries >= HSS_RAND_TRIES)
			break;
		aka_vector_wipe(av);
	}
	u->sqn_he = sqn;
out:
	aka_cred_wipe(&c);
	return err;
}

int hss_resync(struct hss_user *u, const uint8_t rand[AKA_RAND_LEN], const uint8_t *auts,
	       size_t auts_len, uint64_t *sqn_ms)
{
	uint64_t ms, seq_he, seq_ms;
	struct aka_cred c;
	int err;

	if (!u || !rand || !auts)
		return EINVAL;
	err = cred_load(u, &c);
	if (err)
		return err;
	/* MAC-S first, always: a forged AUTS must not move the counter. */
	err = aka_auts_verify(&c, rand, auts, auts_len, &ms);
	aka_cred_wipe(&c);
	if (err)
		return err;
	seq_he = sqn_seq(u->sqn_he);
	seq_ms = sqn_seq(ms);
	/* §6.3.5: if a SQN generated from SQN_HE would be accepted (ahead of
	 * SQN_MS, within the USIM's window) keep it: the rejected challenge
	 * was a stale vector and the counter must not go back. Else restart
	 * from SQN_MS so the next vector gets SEQ_MS + 1. */
	if (!(seq_he > seq_ms && seq_he - seq_ms < SQN_DELTA_DEFAULT))
		u->sqn_he = ms;
	if (sqn_ms)
		*sqn_ms = ms;
	return 0;
}

int hss_resync_sip_auth(struct hss_user *u, const uint8_t *sa, size_t len,
			uint64_t *sqn_ms)
{
	if (!sa || len <= AKA_RAND_LEN)
		return EINVAL;
	return hss_resync(u, sa, sa + AKA_RAND_LEN, len - AKA_RAND_LEN, sqn_ms);
}

uint64_t hss_user_sqn_he(const struct hss_user *u)
{
	return u->sqn_he;
}

int hss_user_sqn_set(struct hss_user *u, uint64_t sqn_he)
{
	if (!u || sqn_he > SQN_MAX)
		return EINVAL;
	u->sqn_he = sqn_he;
	return 0;
}

/* ---- MD5 digest ---- */

struct pl hss_user_pwd(const struct hss_user *u)
{
	if (!u->ue->pwd)
		return (struct pl)PL_INIT;
	return pl_from_str(u->ue->pwd);
}

int hss_md5_ha1(const struct hss_user *u, struct pl username, struct pl realm,
		char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int err = EIO;

	if (!u || !out || (!realm.p && realm.l) || (!username.p && username.l))
		return EINVAL;
	if (!u->ue->pwd)
		return ENOKEY;
	if (!username.l) {
		if (!u->ue->impi)
			return EINVAL;
		username = pl_from_str(u->ue->impi);
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, username.p, username.l) == 1 &&
	    EVP_DigestUpdate(ctx, ":", 1) == 1 &&
	    EVP_DigestUpdate(ctx, realm.p ? realm.p : "", realm.l) == 1 &&
	    EVP_DigestUpdate(ctx, ":", 1) == 1 &&
	    EVP_DigestUpdate(ctx, u->ue->pwd, strlen(u->ue->pwd)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16) {
		for (unsigned i = 0; i < 16; i++) {
			out[2 * i] = hex[md[i] >> 4];
			out[2 * i + 1] = hex[md[i] & 15];
		}
		out[32] = '\0';
		err = 0;
	}
	EVP_MD_CTX_free(ctx);
	explicit_bzero(md, sizeof(md));
	return err;
}

/* ---- policy ---- */

bool hss_auth_required(const struct hss_user *u, uint32_t impu)
{
	if (u->ue->authent_type == IMS_CFG_AUTH_NONE)
		return false;
	return hss_impu_opts(u, impu)->authentication;
}

enum ims_cfg_authent hss_authent_level(enum digest_algo algo)
{
	switch (algo) {
	case DIGEST_ALGO_MD5:
	case DIGEST_ALGO_MD5_SESS:
		return IMS_CFG_AUTH_MD5;
	case DIGEST_ALGO_AKAV1_MD5:
	case DIGEST_ALGO_AKAV1_SHA256:
		/* SHA-256 hashing, but still the AKAv1 password (RES):
		 * weaker than any AKAv2. */
		return IMS_CFG_AUTH_AKAV1;
	case DIGEST_ALGO_AKAV2_MD5:
		return IMS_CFG_AUTH_AKAV2;
	case DIGEST_ALGO_AKAV2_SHA256:
		return IMS_CFG_AUTH_AKAV2_SHA256;
	}
	return IMS_CFG_AUTH_NONE;
}

bool hss_authent_at_least(enum digest_algo offered, enum ims_cfg_authent min)
{
	return hss_authent_level(offered) >= min;
}

static enum digest_algo authent_algo(enum ims_cfg_authent a)
{
	switch (a) {
	case IMS_CFG_AUTH_MD5:
		return DIGEST_ALGO_MD5;
	case IMS_CFG_AUTH_AKAV2:
		return DIGEST_ALGO_AKAV2_MD5;
	case IMS_CFG_AUTH_AKAV2_SHA256:
		return DIGEST_ALGO_AKAV2_SHA256;
	default:
		return DIGEST_ALGO_AKAV1_MD5;
	}
}

int hss_auth_select(const struct hss_user *u, const enum digest_algo *offered,
		    enum digest_algo *algo)
{
	const struct ims_cfg_ue *ue;
	bool can;

	if (!u || !algo)
		return EINVAL;
	ue = u->ue;
	if (ue->authent_type == IMS_CFG_AUTH_NONE)
		return EINVAL;
	if (!offered) {
		*algo = authent_algo(ue->authent_type);
		return 0;
	}
	if (!hss_authent_at_least(*offered, ue->authent_type))
		return EPERM;
	can = digest_algo_is_aka(*offered) ? ue->isim.k_len != 0 : ue->pwd != NULL;
	*algo = can ? *offered : authent_algo(ue->authent_type);
	return 0;
}

enum digest_qop hss_auth_qop(const struct hss_user *u)
{
	return u->ue->authent_qop == IMS_CFG_QOP_AUTH ? DIGEST_QOP_AUTH : DIGEST_QOP_NONE;
}

bool hss_auth_on_register_only(const struct hss_user *u)
{
	return u->ue->auth_on_register_only;
}
