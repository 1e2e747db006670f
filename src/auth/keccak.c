/* auth/keccak — Keccak-f[1600] on a byte state. See keccak.h. */
#include <string.h>

#include <openssl/crypto.h>

#include "auth/keccak.h"

static const uint64_t keccak_rc[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* rho offsets, indexed [x][y] (FIPS 202 Table 2). */
static const unsigned keccak_rho[5][5] = {
	{0, 36, 3, 41, 18},
	{1, 44, 10, 45, 2},
	{62, 6, 43, 15, 61},
	{28, 55, 25, 21, 56},
	{27, 20, 39, 8, 14},
};

static uint64_t rotl64(uint64_t v, unsigned n)
{
	return n ? (v << n) | (v >> (64 - n)) : v;
}

#define LANE(x, y) ((x) + 5 * (y))

static void keccak_round(uint64_t a[25], uint64_t rc)
{
	uint64_t c[5], d[5], b[25];

	for (int x = 0; x < 5; x++)
		c[x] = a[LANE(x, 0)] ^ a[LANE(x, 1)] ^ a[LANE(x, 2)] ^ a[LANE(x, 3)] ^
		       a[LANE(x, 4)];
	for (int x = 0; x < 5; x++)
		d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
	/* theta, then rho and pi together: B[y][2x+3y] = rot(A[x][y]) */
	for (int x = 0; x < 5; x++)
		for (int y = 0; y < 5; y++)
			b[LANE(y, (2 * x + 3 * y) % 5)] =
				rotl64(a[LANE(x, y)] ^ d[x], keccak_rho[x][y]);
	/* chi */
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 5; x++)
			a[LANE(x, y)] = b[LANE(x, y)] ^
					(~b[LANE((x + 1) % 5, y)] & b[LANE((x + 2) % 5, y)]);
	/* iota */
	a[0] ^= rc;
}

void keccak_f1600(uint8_t state[KECCAK_STATE_SIZE])
{
	uint64_t a[25];

	for (int i = 0; i < 25; i++) {
		uint64_t v = 0;

		for (int j = 7; j >= 0; j--)
			v = v << 8 | state[8 * i + j];
		a[i] = v;
	}
	for (int r = 0; r < 24; r++)
		keccak_round(a, keccak_rc[r]);
	for (int i = 0; i < 25; i++)
		for (int j = 0; j < 8; j++)
			state[8 * i + j] = (uint8_t)(a[i] >> (8 * j));
	OPENSSL_cleanse(a, sizeof(a));
}
