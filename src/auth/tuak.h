/*
 * auth/tuak — the TUAK algorithm set (3GPP TS 35.231) on Keccak-f[1600].
 *
 * K is 128 or 256 bits; MAC-A/MAC-S 64, 128 or 256 bits; RES 32, 64, 128 or
 * 256; CK and IK 128 or 256; AK always 48. The operator may iterate the
 * permutation more than once (TS 35.231 §6, "Keccak iterations", default 1).
 * All lengths here are in BYTES. Verified against TS 35.233 test sets 1-6.
 * Errors: 0, or EINVAL for a length outside the ones above.
 */
#ifndef AUTH_TUAK_H
#define AUTH_TUAK_H

#include <stddef.h>
#include <stdint.h>

#define TUAK_TOP_LEN 32
#define TUAK_ITER_MAX                                                                    \
	255 /* the operator's iteration count fits a byte (ue_db keccak_iterations) */

struct tuak_prm {
	size_t mac_len;      /* 8, 16 or 32 */
	size_t res_len;      /* 4, 8, 16 or 32 */
	size_t ck_len;       /* 16 or 32 */
	size_t ik_len;       /* 16 or 32 */
	unsigned iterations; /* 1..TUAK_ITER_MAX */
};

/* The defaults of imsctl: MAC 64, RES 32, CK 128, IK 128 bits, 1 iteration. */
void tuak_prm_default(struct tuak_prm *prm);
int tuak_prm_check(const struct tuak_prm *prm);

/* TOPc from TOP (TS 35.231 §6.1). k_len is 16 or 32. */
int tuak_topc_derive(const uint8_t *k, size_t k_len, const uint8_t top[32],
		     unsigned iterations, uint8_t topc[32]);

/* f1 (star = 0) or f1* (star = 1): prm->mac_len bytes into mac. */
int tuak_f1(const uint8_t *k, size_t k_len, const uint8_t topc[32],
	    const struct tuak_prm *prm, const uint8_t rand[16], const uint8_t sqn[6],
	    const uint8_t amf[2], int star, uint8_t *mac);

/* f2..f5 in one permutation; res/ck/ik sized by prm, ak 6 bytes; any may
 * be NULL. */
int tuak_f2345(const uint8_t *k, size_t k_len, const uint8_t topc[32],
	       const struct tuak_prm *prm, const uint8_t rand[16], uint8_t *res,
	       uint8_t *ck, uint8_t *ik, uint8_t ak[6]);

int tuak_f5star(const uint8_t *k, size_t k_len, const uint8_t topc[32],
		const struct tuak_prm *prm, const uint8_t rand[16], uint8_t akstar[6]);

#endif
