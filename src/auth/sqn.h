/*
 * auth/sqn — sequence numbers for AKA (TS 33.102 §6.3.2 and Annex C).
 *
 * SQN is 48 bits: SEQ (43 bits) || IND (5 bits). The HSS keeps SQN_HE and
 * hands out SEQ_HE + 1 with the IND of its choice (Annex C.3.2). The USIM
 * keeps, per IND value, the highest SEQ it accepted (the array SEQ_MS(i),
 * Annex C.2.1) and accepts a new SQN when SEQ > SEQ_MS(IND) and SEQ is no
 * more than DELTA above the highest SEQ it ever accepted (C.2.2). On
 * rejection it answers with AUTS carrying SQN_MS, its highest accepted SQN;
 * the HSS then restarts from there (§6.3.5): the next vector gets SEQ_MS + 1.
 */
#ifndef AUTH_SQN_H
#define AUTH_SQN_H

#include <stdbool.h>
#include <stdint.h>

#define SQN_IND_BITS 5
#define SQN_IND_COUNT (1u << SQN_IND_BITS)
#define SQN_IND_MASK (SQN_IND_COUNT - 1)
#define SQN_MAX ((UINT64_C(1) << 48) - 1)
#define SQN_SEQ_MAX (SQN_MAX >> SQN_IND_BITS)
#define SQN_DELTA_DEFAULT (UINT64_C(1) << 28) /* TS 33.102 C.2.2 example value */

uint64_t sqn_seq(uint64_t sqn);
unsigned sqn_ind(uint64_t sqn);
uint64_t sqn_make(uint64_t seq, unsigned ind);
uint64_t sqn_from_bytes(const uint8_t b[6]);
void sqn_to_bytes(uint64_t sqn, uint8_t b[6]);

/* HSS: the SQN of the next vector after sqn_he (SEQ + 1, given IND).
 * ERANGE if SEQ would wrap, EINVAL if ind >= SQN_IND_COUNT. */
int sqn_he_next(uint64_t sqn_he, unsigned ind, uint64_t *next);

/* USIM state (Annex C.2). */
struct sqn_ms {
	uint64_t seq[SQN_IND_COUNT]; /* SEQ_MS(i) */
	uint64_t highest;            /* highest accepted SQN (sent in AUTS) */
	uint64_t delta;              /* 0: SQN_DELTA_DEFAULT */
};

/* Start from one known SQN_MS: every IND slot is taken as used up to its SEQ. */
void sqn_ms_init(struct sqn_ms *ms, uint64_t sqn_ms, uint64_t delta);
/* True if sqn is fresh for this USIM. */
bool sqn_ms_is_fresh(const struct sqn_ms *ms, uint64_t sqn);
/* Record sqn as accepted (call after a successful check). */
void sqn_ms_accept(struct sqn_ms *ms, uint64_t sqn);

#endif
