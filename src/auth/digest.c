/* auth/digest — HTTP Digest (RFC 2617/3310/4169). See digest.h. */
#include <errno.h>
#include <string.h>

/* MD5_* and SHA256_* below: see hash_hex. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "auth/auth_codec.h"
#include "auth/digest.h"

static const char *const digest_algo_names[] = {
	[DIGEST_ALGO_MD5] = "MD5",
	[DIGEST_ALGO_MD5_SESS] = "MD5-sess",
	[DIGEST_ALGO_AKAV1_MD5] = "AKAv1-MD5",
	[DIGEST_ALGO_AKAV2_MD5] = "AKAv2-MD5",
	[DIGEST_ALGO_AKAV1_SHA256] = "AKAv1-SHA-256",
	[DIGEST_ALGO_AKAV2_SHA256] = "AKAv2-SHA-256",
};

static const char *const digest_qop_names[] = {
	[DIGEST_QOP_NONE] = "",
	[DIGEST_QOP_AUTH] = "auth",
	[DIGEST_QOP_AUTH_INT] = "auth-int",
};

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

int digest_algo_from_pl(struct pl name, enum digest_algo *algo)
{
	for (size_t i = 0; i < N_ELEM(digest_algo_names); i++) {
		if (pl_caseeq_str(name, digest_algo_names[i])) {
			*algo = (enum digest_algo)i;
			return 0;
		}
	}
	return EBADMSG;
}

const char *digest_algo_name(enum digest_algo algo)
{
	if ((size_t)algo >= N_ELEM(digest_algo_names))
		return "?";
	return digest_algo_names[algo];
}

bool digest_algo_is_aka(enum digest_algo algo)
{
	return algo == DIGEST_ALGO_AKAV1_MD5 || algo == DIGEST_ALGO_AKAV2_MD5 ||
	       algo == DIGEST_ALGO_AKAV1_SHA256 || algo == DIGEST_ALGO_AKAV2_SHA256;
}

int digest_qop_from_pl(struct pl name, enum digest_qop *qop)
{
	if (!pl_isset(name)) {
		*qop = DIGEST_QOP_NONE;
		return 0;
	}
	for (size_t i = 1; i < N_ELEM(digest_qop_names); i++) {
		if (pl_caseeq_str(name, digest_qop_names[i])) {
			*qop = (enum digest_qop)i;
			return 0;
		}
	}
	return EBADMSG;
}

const char *digest_qop_name(enum digest_qop qop)
{
	if ((size_t)qop >= N_ELEM(digest_qop_names))
		return "?";
	return digest_qop_names[qop];
}

/*
 * digest_aka_password's HMAC fetches its digest once per thread:
 * EVP_md5()/EVP_sha256() on every call cost more than the hash.
 */
static _Thread_local EVP_MD *digest_tl_md5, *digest_tl_sha256;

static bool digest_is_sha256(enum digest_algo algo)
{
	return algo == DIGEST_ALGO_AKAV1_SHA256 || algo == DIGEST_ALGO_AKAV2_SHA256;
}

static const EVP_MD *digest_md(enum digest_algo algo)
{
	if (digest_is_sha256(algo)) {
		if (!digest_tl_sha256)
			digest_tl_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		return digest_tl_sha256;
	}
	if (!digest_tl_md5)
		digest_tl_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	return digest_tl_md5;
}

/*
 * H(p0 ":" p1 ":" ... ) as lower-case hex. The digest's own context
 * (OpenSSL's MD5_CTX/SHA256_CTX, deprecated in 3.0 but the same assembly)
 * instead of EVP: a registration checks three of these and the EVP
 * dispatch cost twice the hashing of these short inputs.
 */
static int hash_hex(bool sha256, const struct pl *parts, size_t n,
		    char out[DIGEST_HEX_SIZE])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	size_t dlen = sha256 ? SHA256_DIGEST_LENGTH : MD5_DIGEST_LENGTH;
	union {
		MD5_CTX md5;
		SHA256_CTX sha;
	} c;
	int ok;

	ok = sha256 ? SHA256_Init(&c.sha) : MD5_Init(&c.md5);
	for (size_t i = 0; ok == 1 && i < n; i++) {
		if (i)
			ok = sha256 ? SHA256_Update(&c.sha, ":", 1)
				    : MD5_Update(&c.md5, ":", 1);
		if (ok == 1 && parts[i].l)
			ok = sha256 ? SHA256_Update(&c.sha, parts[i].p, parts[i].l)
				    : MD5_Update(&c.md5, parts[i].p, parts[i].l);
	}
	if (ok == 1)
		ok = sha256 ? SHA256_Final(d, &c.sha) : MD5_Final(d, &c.md5);
	if (ok == 1)
		auth_hex_encode(d, dlen, out);
	explicit_bzero(&c, sizeof(c));
	explicit_bzero(d, sizeof(d));
	return ok == 1 ? 0 : EIO;
}

static struct pl pl_of(const char *s)
{
	return (struct pl){s, strlen(s)};
}

static int digest_ha1(const struct digest_prm *p, bool sha256,
		      char ha1[DIGEST_HEX_SIZE])
{
	struct pl a1[3] = {p->username, p->realm, p->password};
	char base[DIGEST_HEX_SIZE];
	int err;

	err = hash_hex(sha256, a1, 3, p->algo == DIGEST_ALGO_MD5_SESS ? base : ha1);
	if (err || p->algo != DIGEST_ALGO_MD5_SESS)
		return err;
	/* MD5-sess: A1 = H(user:realm:pw) ":" nonce ":" cnonce */
	a1[0] = pl_of(base);
	a1[1] = p->nonce;
	a1[2] = p->cnonce;
	err = hash_hex(sha256, a1, 3, ha1);
	explicit_bzero(base, sizeof(base));
	return err;
}

/* H(method ":" uri) of the last call, per thread: a registrar sees the same
 * "REGISTER" and uri (sip:<domain>) in nearly every answer. Not secret. */
#define HA2_MEMO_KEY 256
static _Thread_local struct {
	bool set, sha256;
	size_t mlen, ulen;
	char key[HA2_MEMO_KEY];
	char ha2[DIGEST_HEX_SIZE];
} ha2_memo;

static int digest_ha2_plain(const struct digest_prm *p, bool sha256,
			    char ha2[DIGEST_HEX_SIZE])
{
	struct pl a2[2] = {p->method, p->uri};
	bool fits = p->method.l + p->uri.l <= HA2_MEMO_KEY;
	int err;

	if (fits && ha2_memo.set && ha2_memo.sha256 == sha256 &&
	    ha2_memo.mlen == p->method.l && ha2_memo.ulen == p->uri.l &&
	    !memcmp(ha2_memo.key, p->method.p, p->method.l) &&
	    !memcmp(ha2_memo.key + p->method.l, p->uri.p, p->uri.l)) {
		memcpy(ha2, ha2_memo.ha2, strlen(ha2_memo.ha2) + 1);
		return 0;
	}
	err = hash_hex(sha256, a2, 2, ha2);
	if (err || !fits)
		return err;
	ha2_memo.set = true;
	ha2_memo.sha256 = sha256;
	ha2_memo.mlen = p->method.l;
	ha2_memo.ulen = p->uri.l;
	if (p->method.l)
		memcpy(ha2_memo.key, p->method.p, p->method.l);
	if (p->uri.l)
		memcpy(ha2_memo.key + p->method.l, p->uri.p, p->uri.l);
	memcpy(ha2_memo.ha2, ha2, strlen(ha2) + 1);
	return 0;
}

static int digest_ha2(const struct digest_prm *p, bool sha256,
		      char ha2[DIGEST_HEX_SIZE])
{
	struct pl a2[3] = {p->method, p->uri, PL_INIT};
	char hbody[DIGEST_HEX_SIZE];
	int err;

	if (p->qop != DIGEST_QOP_AUTH_INT)
		return digest_ha2_plain(p, sha256, ha2);
	err = hash_hex(sha256, &p->body, 1, hbody);
	if (err)
		return err;
	a2[2] = pl_of(hbody);
	return hash_hex(sha256, a2, 3, ha2);
}

int digest_response_calc(const struct digest_prm *p, char out[DIGEST_HEX_SIZE])
{
	char ha1[DIGEST_HEX_SIZE], ha2[DIGEST_HEX_SIZE];
	bool sha256;
	int err;

	if (!p || !out || (size_t)p->algo >= N_ELEM(digest_algo_names) ||
	    (size_t)p->qop >= N_ELEM(digest_qop_names))
		return EINVAL;
	if ((p->qop != DIGEST_QOP_NONE || p->algo == DIGEST_ALGO_MD5_SESS) &&
	    !pl_isset(p->cnonce))
		return EINVAL;
	if (p->qop != DIGEST_QOP_NONE && !pl_isset(p->nc))
		return EINVAL;
	sha256 = digest_is_sha256(p->algo);
	err = digest_ha1(p, sha256, ha1);
	if (!err)
		err = digest_ha2(p, sha256, ha2);
	if (!err) {
		if (p->qop == DIGEST_QOP_NONE) {
			struct pl r[3] = {pl_of(ha1), p->nonce, pl_of(ha2)};

			err = hash_hex(sha256, r, 3, out);
		} else {
			struct pl r[6] = {pl_of(ha1), p->nonce, p->nc, p->cnonce,
					  pl_of(digest_qop_names[p->qop]), pl_of(ha2)};

			err = hash_hex(sha256, r, 6, out);
		}
	}
	explicit_bzero(ha1, sizeof(ha1));
	explicit_bzero(ha2, sizeof(ha2));
	return err;
}

bool digest_response_verify(const struct digest_prm *p, struct pl response)
{
	char want[DIGEST_HEX_SIZE], got[DIGEST_HEX_SIZE];
	size_t n;
	bool ok = false;

	if (digest_response_calc(p, want))
		return false;
	n = strlen(want);
	if (!response.p || response.l != n)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char c = response.p[i];

		got[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
	}
	ok = CRYPTO_memcmp(want, got, n) == 0;
out:
	explicit_bzero(want, sizeof(want));
	return ok;
}

int digest_aka_password(enum digest_algo algo, const uint8_t *res, size_t res_len,
			const uint8_t *ik, size_t ik_len, const uint8_t *ck, size_t ck_len,
			uint8_t pw[DIGEST_PW_MAX], size_t *pw_len)
{
	uint8_t key[96], mac[EVP_MAX_MD_SIZE];
	char b64[AUTH_B64_SIZE(EVP_MAX_MD_SIZE)];
	unsigned mac_len = 0;
	size_t klen;
	int err = 0;

	if (!res || !pw || !pw_len || res_len > 32 || ik_len > 32 || ck_len > 32)
		return EINVAL;
	switch (algo) {
	case DIGEST_ALGO_AKAV1_MD5:
	case DIGEST_ALGO_AKAV1_SHA256:
		memcpy(pw, res, res_len);
		*pw_len = res_len;
		return 0;
	case DIGEST_ALGO_AKAV2_MD5:
	case DIGEST_ALGO_AKAV2_SHA256:
		break;
	default:
		return EINVAL;
	}
	if (!ik || !ck)
		return EINVAL;
	memcpy(key, res, res_len);
	memcpy(key + res_len, ik, ik_len);
	memcpy(key + res_len + ik_len, ck, ck_len);
	klen = res_len + ik_len + ck_len;
	if (!HMAC(digest_md(algo), key, (int)klen, (const unsigned char *)DIGEST_AKAV2_LABEL,
		  strlen(DIGEST_AKAV2_LABEL), mac, &mac_len)) {
		err = EIO;
		goto out;
	}
	*pw_len = auth_b64_encode(mac, mac_len, b64);
	memcpy(pw, b64, *pw_len);
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(mac, sizeof(mac));
	explicit_bzero(b64, sizeof(b64));
	return err;
}

int digest_aka_nonce_encode(const uint8_t rand[16], const uint8_t *autn, size_t autn_len,
			    const uint8_t *sd, size_t sd_len, char *out, size_t size)
{
	uint8_t raw[DIGEST_NONCE_MAX];
	size_t n = 16 + autn_len + sd_len;

	if (!rand || !autn || !out || (sd_len && !sd))
		return EINVAL;
	if (n > sizeof(raw) || AUTH_B64_SIZE(n) > size)
		return ENOSPC;
	memcpy(raw, rand, 16);
	memcpy(raw + 16, autn, autn_len);
	if (sd_len)
		memcpy(raw + 16 + autn_len, sd, sd_len);
	auth_b64_encode(raw, n, out);
	return 0;
}

int digest_aka_nonce_decode(struct pl nonce, size_t autn_len, uint8_t rand[16],
			    uint8_t *autn, uint8_t *sd, size_t sd_size, size_t *sd_len)
{
	uint8_t raw[DIGEST_NONCE_MAX];
	size_t n = 0, extra;
	int err;

	if (!rand || !autn || autn_len < 8 || autn_len > 64)
		return EINVAL;
	if (!nonce.p || nonce.l > DIGEST_NONCE_MAX)
		return EBADMSG;
	err = auth_b64_decode(nonce.p, nonce.l, raw, sizeof(raw), &n);
	if (err)
		return EBADMSG;
	if (n < 16 + autn_len)
		return EBADMSG;
	extra = n - 16 - autn_len;
	if (extra > sd_size || (extra && !sd)) {
		err = EOVERFLOW;
		goto out;
	}
	memcpy(rand, raw, 16);
	memcpy(autn, raw + 16, autn_len);
	if (extra)
		memcpy(sd, raw + 16 + autn_len, extra);
	if (sd_len)
		*sd_len = extra;
out:
	explicit_bzero(raw, sizeof(raw));
	return err;
}
