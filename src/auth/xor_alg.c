/* auth/xor_alg — TS 34.108 §8.1.2 test algorithm. See xor_alg.h. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/xor_alg.h"

static void xdout_calc(const uint8_t k[16], const uint8_t rand[16], uint8_t xd[16])
{
	for (int i = 0; i < 16; i++)
		xd[i] = k[i] ^ rand[i];
}

void xor_alg_f1(const uint8_t k[16], const uint8_t rand[16], const uint8_t sqn[6],
		const uint8_t amf[2], uint8_t mac[8])
{
	uint8_t xd[16], cd[8];

	xdout_calc(k, rand, xd);
	memcpy(cd, sqn, 6);
	memcpy(cd + 6, amf, 2);
	for (int i = 0; i < 8; i++)
		mac[i] = xd[i] ^ cd[i];
	OPENSSL_cleanse(xd, sizeof(xd));
}

int xor_alg_f2345(const uint8_t k[16], const uint8_t rand[16], uint8_t *res,
		  size_t res_len, uint8_t ck[16], uint8_t ik[16], uint8_t ak[6])
{
	uint8_t xd[16];

	if (res && (res_len < XOR_ALG_RES_MIN || res_len > XOR_ALG_RES_MAX))
		return EINVAL;
	xdout_calc(k, rand, xd);
	if (res)
		memcpy(res, xd, res_len);
	for (int i = 0; i < 16; i++) {
		if (ck)
			ck[i] = xd[(i + 1) % 16];
		if (ik)
			ik[i] = xd[(i + 2) % 16];
	}
	if (ak)
		memcpy(ak, xd + 3, 6);
	OPENSSL_cleanse(xd, sizeof(xd));
	return 0;
}
