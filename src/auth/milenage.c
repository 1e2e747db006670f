/*
 * auth/milenage — MILENAGE (TS 35.206 §4.1) with the default constants
 * r1..r5 = 64, 0, 32, 64, 96 and c1..c5 = 0, 1, 2, 4, 8 (in the last byte).
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/milenage.h"

struct aes_blk {
	EVP_CIPHER_CTX *ctx; /* the thread's context, not owned */
};

/*
 * One AES-128-ECB context per thread, re-keyed when K changes: creating a
 * context and fetching the cipher from the provider cost about five times
 * the AES work of a whole vector (about 13,000 instructions per vector at
 * three contexts). The key schedule stays in the context until another K
 * re-keys it; K itself lives in the configuration for as long.
 */
static _Thread_local EVP_CIPHER_CTX *aes_tl_ctx;
static _Thread_local EVP_CIPHER *aes_tl_cipher;
/* The key aes_tl_ctx holds: a vector's OPc, f1 and f2..f5 use the same K,
 * one key schedule serves all three calls. */
static _Thread_local uint8_t aes_tl_key[16];
static _Thread_local int aes_tl_keyed;

static int aes_open(struct aes_blk *a, const uint8_t k[16])
{
	if (!aes_tl_cipher) {
		aes_tl_cipher = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
		if (!aes_tl_cipher)
			return EIO;
	}
	if (!aes_tl_ctx) {
		aes_tl_ctx = EVP_CIPHER_CTX_new();
		if (!aes_tl_ctx)
			return ENOMEM;
	}
	a->ctx = aes_tl_ctx;
	if (aes_tl_keyed && !CRYPTO_memcmp(aes_tl_key, k, 16))
		return 0;
	aes_tl_keyed = 0;
	if (EVP_EncryptInit_ex(a->ctx, aes_tl_cipher, NULL, k, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(a->ctx, 0) != 1) {
		/* a context in an unknown state is not used again */
		EVP_CIPHER_CTX_free(aes_tl_ctx);
		aes_tl_ctx = NULL;
		a->ctx = NULL;
		return EIO;
	}
	memcpy(aes_tl_key, k, 16);
	aes_tl_keyed = 1;
	return 0;
}

static int aes_enc(struct aes_blk *a, const uint8_t in[16], uint8_t out[16])
{
	int n = 0;

	if (EVP_EncryptUpdate(a->ctx, out, &n, in, 16) != 1 || n != 16) {
		aes_tl_keyed = 0; /* re-initialised by the next call */
		return EIO;
	}
	return 0;
}

static void aes_close(struct aes_blk *a)
{
	a->ctx = NULL;
}

static void xor16(uint8_t *dst, const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < 16; i++)
		dst[i] = a[i] ^ b[i];
}

/* Cyclic left rotation by a whole number of bytes (all r_i are multiples of 8). */
static void rot16(uint8_t *dst, const uint8_t *src, unsigned rbytes)
{
	for (unsigned i = 0; i < 16; i++)
		dst[i] = src[(i + rbytes) % 16];
}

int milenage_opc_derive(const uint8_t k[16], const uint8_t op[16], uint8_t opc[16])
{
	struct aes_blk a;
	uint8_t tmp[16];
	int err;

	err = aes_open(&a, k);
	if (err)
		return err;
	err = aes_enc(&a, op, tmp);
	if (!err)
		xor16(opc, tmp, op);
	aes_close(&a);
	explicit_bzero(tmp, sizeof(tmp));
	return err;
}

/* TEMP = E_K(RAND xor OPc), shared by every function. */
static int milenage_temp(struct aes_blk *a, const uint8_t opc[16], const uint8_t rand[16],
			 uint8_t temp[16])
{
	uint8_t in[16];

	xor16(in, rand, opc);
	return aes_enc(a, in, temp);
}

int milenage_f1(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
		const uint8_t sqn[6], const uint8_t amf[2], uint8_t mac_a[8],
		uint8_t mac_s[8])
{
	uint8_t temp[16], in1[16], x[16], out[16];
	struct aes_blk a;
	int err;

	err = aes_open(&a, k);
	if (err)
		return err;
	err = milenage_temp(&a, opc, rand, temp);
	if (err)
		goto out;
	memcpy(in1, sqn, 6);
	memcpy(in1 + 6, amf, 2);
	memcpy(in1 + 8, sqn, 6);
	memcpy(in1 + 14, amf, 2);
	xor16(x, in1, opc);
	rot16(out, x, 8); /* r1 = 64 bits, c1 = 0 */
	xor16(x, out, temp);
	err = aes_enc(&a, x, out);
	if (err)
		goto out;
	xor16(out, out, opc);
	if (mac_a)
		memcpy(mac_a, out, 8);
	if (mac_s)
		memcpy(mac_s, out + 8, 8);
out:
	aes_close(&a);
	explicit_bzero(temp, sizeof(temp));
	explicit_bzero(x, sizeof(x));
	explicit_bzero(out, sizeof(out));
	return err;
}

/* OUTn = E_K(rot(TEMP xor OPc, r) xor c) xor OPc. */
static int milenage_out(struct aes_blk *a, const uint8_t temp[16], const uint8_t opc[16],
			unsigned rbytes, uint8_t c, uint8_t out[16])
{
	uint8_t x[16], y[16];
	int err;

	xor16(x, temp, opc);
	rot16(y, x, rbytes);
	y[15] ^= c;
	err = aes_enc(a, y, out);
	if (!err)
		xor16(out, out, opc);
	explicit_bzero(x, sizeof(x));
	explicit_bzero(y, sizeof(y));
	return err;
}

int milenage_f2345(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
		   uint8_t res[8], uint8_t ck[16], uint8_t ik[16], uint8_t ak[6],
		   uint8_t akstar[6])
{
	uint8_t temp[16], out[16];
	struct aes_blk a;
	int err;

	err = aes_open(&a, k);
	if (err)
		return err;
	err = milenage_temp(&a, opc, rand, temp);
	if (err)
		goto out;
	if (res || ak) {
		err = milenage_out(&a, temp, opc, 0, 1, out);
		if (err)
			goto out;
		if (ak)
			memcpy(ak, out, 6);
		if (res)
			memcpy(res, out + 8, 8);
	}
	if (ck) {
		err = milenage_out(&a, temp, opc, 4, 2, ck);
		if (err)
			goto out;
	}
	if (ik) {
		err = milenage_out(&a, temp, opc, 8, 4, ik);
		if (err)
			goto out;
	}
	if (akstar) {
		err = milenage_out(&a, temp, opc, 12, 8, out);
		if (err)
			goto out;
		memcpy(akstar, out, 6);
	}
out:
	aes_close(&a);
	explicit_bzero(temp, sizeof(temp));
	explicit_bzero(out, sizeof(out));
	return err;
}
