/*
 * auth/keccak — the Keccak-f[1600] permutation (FIPS 202 §3, 24 rounds).
 *
 * TUAK (TS 35.231 Annex C) runs the bare permutation on a 200-byte state, so
 * we keep our own rather than going through a hash API. The state is bytes in
 * Keccak's little-endian lane order: byte 8*i+j is byte j of lane i.
 */
#ifndef AUTH_KECCAK_H
#define AUTH_KECCAK_H

#include <stdint.h>

#define KECCAK_STATE_SIZE 200

void keccak_f1600(uint8_t state[KECCAK_STATE_SIZE]);

#endif
