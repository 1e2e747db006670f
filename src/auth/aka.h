/*
 * auth/aka — authentication vectors and resynchronisation for one
 * subscriber's credentials, whatever the algorithm (MILENAGE, TUAK, XOR).
 *
 * This is what the HSS and the registrar call (TS 33.102 §6.3):
 *   HSS:  aka_vector_generate()   RAND + SQN  ->  XRES, CK, IK, AK, AUTN
 *         aka_auts_verify()       RAND + AUTS ->  SQN_MS (then sqn_he_next())
 *   UE:   aka_autn_check()        RAND + AUTN ->  SQN, RES, CK, IK (MAC checked)
 *         aka_auts_build()        RAND + SQN_MS -> AUTS
 * AUTN = (SQN xor AK) || AMF || MAC-A; AUTS = (SQN_MS xor AK*) || MAC-S with
 * MAC-S = f1*(SQN_MS, RAND, AMF = 0x0000) (§6.3.3). With TUAK and a 128- or
 * 256-bit MAC, AUTN and AUTS grow accordingly (aka_autn_len()).
 * Errors: 0; EINVAL bad credentials/lengths; EACCES a MAC that does not
 * verify; EIO crypto failure.
 */
#ifndef AUTH_AKA_H
#define AUTH_AKA_H

#include <stddef.h>
#include <stdint.h>

#include "auth/tuak.h"

#define AKA_RAND_LEN 16
#define AKA_SQN_LEN 6
#define AKA_AMF_LEN 2
#define AKA_AK_LEN 6
#define AKA_KEY_MAX 32
#define AKA_MAC_MAX 32
#define AKA_AUTN_MAX (AKA_SQN_LEN + AKA_AMF_LEN + AKA_MAC_MAX)
#define AKA_AUTS_MAX (AKA_SQN_LEN + AKA_MAC_MAX)

enum aka_algo {
	AKA_ALGO_MILENAGE = 0,
	AKA_ALGO_TUAK,
	AKA_ALGO_XOR,
};

/* One subscriber's secrets. Wipe with aka_cred_wipe(). */
struct aka_cred {
	enum aka_algo algo;
	uint8_t k[AKA_KEY_MAX];
	size_t k_len;   /* 16; TUAK also 32 */
	uint8_t opc[32]; /* OPc (16 bytes, MILENAGE) or TOPc (32, TUAK) */
	uint8_t amf[AKA_AMF_LEN];
	struct tuak_prm tuak; /* TUAK output lengths and iterations */
	size_t xor_res_len;   /* XOR: RES bytes, 4..16 (default 8) */
};

/* Zeroed credentials with algorithm defaults (TUAK prm, XOR RES 8 bytes). */
void aka_cred_init(struct aka_cred *c, enum aka_algo algo);
/* Derive OPc (MILENAGE, op_len 16) or TOPc (TUAK, op_len 32) from K and OP/TOP. */
int aka_cred_set_op(struct aka_cred *c, const uint8_t *op, size_t op_len);
int aka_cred_check(const struct aka_cred *c);
void aka_cred_wipe(struct aka_cred *c);

int aka_algo_from_str(const char *s, enum aka_algo *algo);
const char *aka_algo_name(enum aka_algo algo);

size_t aka_mac_len(const struct aka_cred *c);
size_t aka_res_len(const struct aka_cred *c);
size_t aka_ck_len(const struct aka_cred *c);
size_t aka_ik_len(const struct aka_cred *c);
size_t aka_autn_len(const struct aka_cred *c);
size_t aka_auts_len(const struct aka_cred *c);

struct aka_vector {
	uint8_t rand[AKA_RAND_LEN];
	uint8_t xres[32];
	size_t xres_len;
	uint8_t ck[32];
	size_t ck_len;
	uint8_t ik[32];
	size_t ik_len;
	uint8_t ak[AKA_AK_LEN];
	uint8_t autn[AKA_AUTN_MAX];
	size_t autn_len;
	uint64_t sqn;
};

/* Raw algorithm functions, uniform over the three algorithms. */
int aka_f1(const struct aka_cred *c, const uint8_t rand[16], const uint8_t sqn[6],
	   const uint8_t amf[2], uint8_t *mac_a);
int aka_f1star(const struct aka_cred *c, const uint8_t rand[16], const uint8_t sqn[6],
	       const uint8_t amf[2], uint8_t *mac_s);
int aka_f2345(const struct aka_cred *c, const uint8_t rand[16], uint8_t *res,
	      uint8_t *ck, uint8_t *ik, uint8_t ak[6]);
int aka_f5star(const struct aka_cred *c, const uint8_t rand[16], uint8_t akstar[6]);

/* HSS side. */
int aka_vector_generate(const struct aka_cred *c, const uint8_t rand[16], uint64_t sqn,
			struct aka_vector *av);
int aka_auts_verify(const struct aka_cred *c, const uint8_t rand[16], const uint8_t *auts,
		    size_t auts_len, uint64_t *sqn_ms);

/* UE side. On EACCES (MAC failure) av holds nothing useful. */
int aka_autn_check(const struct aka_cred *c, const uint8_t rand[16], const uint8_t *autn,
		   size_t autn_len, struct aka_vector *av);
int aka_auts_build(const struct aka_cred *c, const uint8_t rand[16], uint64_t sqn_ms,
		   uint8_t *auts, size_t *auts_len);

void aka_vector_wipe(struct aka_vector *av);

#endif
