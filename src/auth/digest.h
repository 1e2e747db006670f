/*
 * auth/digest — HTTP Digest computation for SIP (RFC 2617, RFC 3310,
 * RFC 4169) and the Digest AKA nonce format.
 *
 * Algorithms: MD5 and MD5-sess (RFC 2617 §3.2.2.2), AKAv1-MD5 (RFC 3310:
 * the password is the RES bytes), AKAv2-MD5 (RFC 4169 §3: the password is
 * base64(HMAC-MD5(RES||IK||CK, "http-digest-akav2-password"))) and the
 * SHA-256 variants AKAv1-SHA-256 / AKAv2-SHA-256 used by 3GPP (TS 33.203,
 * TS 29.228 SIP-Authentication-Scheme): the digest hash H() is SHA-256 and
 * the AKAv2 PRF is HMAC-SHA-256. qop none, auth and auth-int.
 *
 * The AKA nonce is base64(RAND || AUTN || server data) (RFC 3310 §3.2);
 * decoding is bounded by DIGEST_NONCE_MAX and checks the layout.
 * Responses are compared in constant time; callers wipe passwords with
 * OPENSSL_cleanse once done (this module wipes its own temporaries).
 * Errors: 0, EINVAL (caller error), EBADMSG (malformed input), ENOMEM/EIO
 * (OpenSSL failure).
 */
#ifndef AUTH_DIGEST_H
#define AUTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

#define DIGEST_HEX_SIZE 65   /* SHA-256 hex + NUL */
#define DIGEST_PW_MAX 64     /* AKA password bytes (RES up to 32, or base64 of 32) */
#define DIGEST_NONCE_MAX 512 /* longest nonce text we decode */
#define DIGEST_AKAV2_LABEL "http-digest-akav2-password"

enum digest_algo {
	DIGEST_ALGO_MD5 = 0,
	DIGEST_ALGO_MD5_SESS,
	DIGEST_ALGO_AKAV1_MD5,
	DIGEST_ALGO_AKAV2_MD5,
	DIGEST_ALGO_AKAV1_SHA256,
	DIGEST_ALGO_AKAV2_SHA256,
};

enum digest_qop {
	DIGEST_QOP_NONE = 0,
	DIGEST_QOP_AUTH,
	DIGEST_QOP_AUTH_INT,
};

/* All views borrowed. password is raw bytes (may contain NULs). */
struct digest_prm {
	enum digest_algo algo;
	enum digest_qop qop;
	struct pl username;
	struct pl realm;
	struct pl password;
	struct pl method; /* empty for rspauth (RFC 2617 §3.2.3) */
	struct pl uri;
	struct pl nonce;
	struct pl cnonce; /* required with qop and with MD5-sess */
	struct pl nc;     /* 8 hex digits, required with qop */
	struct pl body;   /* entity body, for auth-int */
};

/* Case-insensitive name ("AKAv1-MD5", ...); EBADMSG if unknown. */
int digest_algo_from_pl(struct pl name, enum digest_algo *algo);
const char *digest_algo_name(enum digest_algo algo);
bool digest_algo_is_aka(enum digest_algo algo);
int digest_qop_from_pl(struct pl name, enum digest_qop *qop);
const char *digest_qop_name(enum digest_qop qop);

/* request-digest as lower-case hex (32 or 64 digits) into out. */
int digest_response_calc(const struct digest_prm *prm, char out[DIGEST_HEX_SIZE]);
/* True if `response` (hex, either case) matches; constant time in the
 * response bytes. */
bool digest_response_verify(const struct digest_prm *prm, struct pl response);

/*
 * The Digest password for an AKA algorithm: RES for AKAv1, base64 of the
 * PRF output for AKAv2 (no NUL). pw must hold DIGEST_PW_MAX bytes.
 */
int digest_aka_password(enum digest_algo algo, const uint8_t *res, size_t res_len,
			const uint8_t *ik, size_t ik_len, const uint8_t *ck, size_t ck_len,
			uint8_t pw[DIGEST_PW_MAX], size_t *pw_len);

/* base64(RAND || AUTN || sd) into out (NUL-terminated); ENOSPC if small. */
int digest_aka_nonce_encode(const uint8_t rand[16], const uint8_t *autn, size_t autn_len,
			    const uint8_t *sd, size_t sd_len, char *out, size_t size);
/*
 * Split a nonce into RAND, AUTN (autn_len bytes: 16 for a 64-bit MAC) and
 * server data (up to sd_size bytes; sd may be NULL if sd_size is 0).
 * EBADMSG: not base64, too long, or shorter than RAND||AUTN; EOVERFLOW:
 * more server data than sd_size.
 */
int digest_aka_nonce_decode(struct pl nonce, size_t autn_len, uint8_t rand[16],
			    uint8_t *autn, uint8_t *sd, size_t sd_size, size_t *sd_len);

#endif
